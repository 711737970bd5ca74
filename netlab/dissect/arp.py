"""ARP (RFC 826): who-has / is-at, and gratuitous announcements."""

from __future__ import annotations

import socket
import struct
from typing import NamedTuple

import netlab.dissect.registry as registry
from netlab.dissect.link import ethertype_text, mac
from netlab.dissect.model import Layer, Packet, row


class ArpHeader(NamedTuple):
    htype: int
    ptype: int
    hlen: int
    plen: int
    opcode: int
    sha: bytes | None  # the addresses: None when the message is cut before them
    spa: bytes | None
    tha: bytes | None
    tpa: bytes | None
    gratuitous: bool


_FIXED = struct.Struct("!HHBBH")
# (bound once: compiled, a module name is a cached lookup, an attribute a search)
_unpack_fixed = _FIXED.unpack_from
ARPHRD_ATM2225 = 19
OPCODES = {1: "request", 2: "reply", 3: "reverse request", 4: "reverse reply"}


def decode_arp(d, pkt: Packet, buf: bytes, off: int, end: int):
    if end - off < 8:
        layer = Layer("arp", "Address Resolution Protocol (truncated)", off, end, None, None)
        pkt.layers.append(layer)
        pkt.mark_malformed(layer, f"arp: needs 8 bytes at offset {off}")
        return None
    htype, ptype, hlen, plen, opcode = _unpack_fixed(buf, off)
    if htype == ARPHRD_ATM2225:
        return _atmarp(pkt, off, end)
    need = 8 + 2 * (hlen + plen)
    layer = Layer("arp", _title, off, min(end, off + need), None, _rows)
    pkt.layers.append(layer)
    pkt.protocol = "ARP"
    if end - off < need:
        # Show the fixed part that is there; the addresses are cut off.
        layer.hdr = ArpHeader(htype, ptype, hlen, plen, opcode, None, None, None, None, False)
        pkt.mark_malformed(layer, f"arp: needs {need} bytes at offset {off}, have {end - off}")
        pkt.info = "[Malformed ARP: truncated]"
        return None
    p = off + 8
    sha = buf[p : p + hlen]
    spa = buf[p + hlen : p + hlen + plen]
    tha = buf[p + hlen + plen : p + 2 * hlen + plen]
    tpa = buf[p + 2 * hlen + plen : p + 2 * hlen + 2 * plen]
    gratuitous = spa == tpa and opcode in (1, 2)
    layer.hdr = ArpHeader(htype, ptype, hlen, plen, opcode, sha, spa, tha, tpa, gratuitous)
    pkt.info = _info(htype, ptype, plen, opcode, sha, spa, tpa)
    return None


def columns(buf: bytes, off: int, end: int) -> tuple[str, str] | None:
    """The one-line view's (protocol, info) without a Packet; None when decode_arp must
    run (a truncated message, ATMARP)."""
    if end - off < 8:
        return None
    htype, ptype, hlen, plen, opcode = _unpack_fixed(buf, off)
    if htype == ARPHRD_ATM2225 or end - off < 8 + 2 * (hlen + plen):
        return None
    p = off + 8
    sha = buf[p : p + hlen]
    spa = buf[p + hlen : p + hlen + plen]
    tpa = buf[p + 2 * hlen + plen : p + 2 * hlen + 2 * plen]
    return "ARP", _info(htype, ptype, plen, opcode, sha, spa, tpa)


def _info(htype: int, ptype: int, plen: int, opcode: int, sha: bytes, spa: bytes, tpa: bytes):
    if not is_ipv4(ptype, plen):
        return f"ARP opcode {opcode} (hardware {htype}, protocol 0x{ptype:04x})"
    s_ip, t_ip = socket.inet_ntoa(spa), socket.inet_ntoa(tpa)
    if spa == tpa and opcode in (1, 2):
        return f"Gratuitous ARP for {s_ip} ({OPCODES[opcode].capitalize()})"
    if opcode == 1:
        return f"Who has {t_ip}? Tell {s_ip}"
    if opcode == 2:
        return f"{s_ip} is at {_hw_text(htype, sha)}"
    return OPCODES.get(opcode, f"Unknown ARP opcode {opcode}")


def _atmarp(pkt: Packet, off: int, end: int) -> None:
    """ATMARP (RFC 2225) lays its addresses out differently, so Wireshark hands it to
    another dissector; netlab does not decode it yet rather than misread it as ARP."""
    title = "ATM Address Resolution Protocol (not decoded)"
    pkt.layers.append(Layer("arp", title, off, end, None, None))
    pkt.protocol, pkt.info = "ATMARP", "ATMARP (not decoded)"
    return None


# Wireshark decides each address's kind on its own (packet-arp.c ARP_HW_IS_ETHER,
# ARP_PRO_IS_IPv4): a MAC needs hardware type Ethernet or IEEE 802 and size 6, an IPv4
# address needs protocol type IPv4 (or AX.25's 0xCC) and size 4; anything else is bytes.
def is_mac(htype: int, hlen: int) -> bool:
    return htype in (1, 6) and hlen == 6


def is_ipv4(ptype: int, plen: int) -> bool:
    return ptype in (0x0800, 0xCC) and plen == 4


def _hw_text(htype: int, sha: bytes) -> str:
    return mac(sha) if is_mac(htype, len(sha)) else sha.hex()


def _title(layer: Layer) -> str:
    hdr = layer.hdr
    opcode = hdr.opcode if hdr else 0
    suffix = " (gratuitous)" if hdr and hdr.gratuitous else ""
    return f"Address Resolution Protocol ({OPCODES.get(opcode, 'unknown')}){suffix}"


def _rows(layer: Layer, buf: bytes):
    htype, ptype, hlen, plen, opcode, sha, spa, tha, tpa, gratuitous = layer.hdr
    o = layer.off
    p = o + 8
    hw = "Ethernet" if htype == 1 else "Unknown"
    rows = [
        row("arp.hw.type", htype, f"Hardware type: {hw} ({htype})", o, 2),
        row("arp.proto.type", ptype, f"Protocol type: {ethertype_text(ptype)}", o + 2, 2),
        row("arp.hw.size", hlen, f"Hardware size: {hlen}", o + 4, 1),
        row("arp.proto.size", plen, f"Protocol size: {plen}", o + 5, 1),
        row("arp.opcode", opcode, f"Opcode: {OPCODES.get(opcode, 'unknown')} ({opcode})", o + 6, 2),
    ]
    if sha is None:  # truncated before the addresses
        return rows
    rows.append(row("arp.isgratuitous", gratuitous, f"[Is gratuitous: {gratuitous}]"))
    hw, ip = is_mac(htype, hlen), is_ipv4(ptype, plen)
    rows += [
        _hw_row("src", "Sender", hw, sha, p),
        _proto_row("src", "Sender", ip, spa, p + hlen),
        _hw_row("dst", "Target", hw, tha, p + hlen + plen),
        _proto_row("dst", "Target", ip, tpa, p + 2 * hlen + plen),
    ]
    return rows


def _hw_row(side: str, who: str, as_mac: bool, addr: bytes, at: int):
    if as_mac:
        return row(f"arp.{side}.hw_mac", mac(addr), f"{who} MAC address: {mac(addr)}", at, 6)
    return row(
        f"arp.{side}.hw", bytes(addr), f"{who} hardware address: {addr.hex()}", at, len(addr)
    )


def _proto_row(side: str, who: str, as_ipv4: bool, addr: bytes, at: int):
    if as_ipv4:
        text = socket.inet_ntoa(addr)
        return row(f"arp.{side}.proto_ipv4", text, f"{who} IP address: {text}", at, 4)
    return row(
        f"arp.{side}.proto", bytes(addr), f"{who} protocol address: {addr.hex()}", at, len(addr)
    )


# --- fast writers (model.JSON_WRITERS): MAC-over-IPv4 ARP as text ----------------------
def _plain(layer: Layer) -> tuple | None:
    """The header tuple when it is the case the writers handle: complete, with MAC
    hardware and IPv4 protocol addresses (other kinds show as bytes: generic path)."""
    hdr = layer.hdr
    if (
        hdr is None
        or hdr.sha is None
        or not (is_mac(hdr.htype, hdr.hlen) and is_ipv4(hdr.ptype, hdr.plen))
    ):
        return None
    return hdr


def _json(layer: Layer, buf: bytes) -> str | None:
    hdr = _plain(layer)
    if hdr is None:
        return None
    htype, ptype, _hlen, _plen, opcode, sha, spa, tha, tpa, gratuitous = hdr
    return (
        f'"arp.hw.type":{htype},"arp.proto.type":{ptype},"arp.hw.size":6,"arp.proto.size":4,'
        f'"arp.opcode":{opcode},"arp.isgratuitous":{"true" if gratuitous else "false"},'
        f'"arp.src.hw_mac":"{mac(sha)}","arp.src.proto_ipv4":"{socket.inet_ntoa(spa)}",'
        f'"arp.dst.hw_mac":"{mac(tha)}","arp.dst.proto_ipv4":"{socket.inet_ntoa(tpa)}"'
    )


def _tree(layer: Layer, buf: bytes) -> str | None:
    hdr = _plain(layer)
    if hdr is None:
        return None
    htype, ptype, _hlen, _plen, opcode, sha, spa, tha, tpa, gratuitous = hdr
    name = OPCODES.get(opcode, "unknown")
    return (
        f"Address Resolution Protocol ({name}){' (gratuitous)' if gratuitous else ''}\n"
        f"    Hardware type: {'Ethernet' if htype == 1 else 'Unknown'} ({htype})\n"
        f"    Protocol type: {ethertype_text(ptype)}\n"
        "    Hardware size: 6\n"
        "    Protocol size: 4\n"
        f"    Opcode: {name} ({opcode})\n"
        f"    [Is gratuitous: {gratuitous}]\n"
        f"    Sender MAC address: {mac(sha)}\n"
        f"    Sender IP address: {socket.inet_ntoa(spa)}\n"
        f"    Target MAC address: {mac(tha)}\n"
        f"    Target IP address: {socket.inet_ntoa(tpa)}"
    )


registry.register("arp", writers={_rows: (_json, _tree)}, ethertypes={0x0806: decode_arp})
