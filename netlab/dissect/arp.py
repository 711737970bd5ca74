"""ARP (RFC 826): who-has / is-at, and gratuitous announcements."""

from __future__ import annotations

import socket
import struct

from netlab.dissect import registry
from netlab.dissect.link import ethertype_text, mac
from netlab.dissect.model import Layer, Packet, row

_FIXED = struct.Struct("!HHBBH")
OPCODES = {1: "request", 2: "reply", 3: "reverse request", 4: "reverse reply"}


def decode_arp(d, pkt: Packet, buf: bytes, off: int, end: int):
    if end - off < 8:
        layer = Layer("arp", "Address Resolution Protocol (truncated)", off, end, None, None)
        pkt.layers.append(layer)
        pkt.mark_malformed(layer, f"arp: needs 8 bytes at offset {off}")
        return None
    htype, ptype, hlen, plen, opcode = _FIXED.unpack_from(buf, off)
    need = 8 + 2 * (hlen + plen)
    layer = Layer("arp", _title, off, min(end, off + need), None, _rows)
    pkt.layers.append(layer)
    pkt.protocol = "ARP"
    if end - off < need:
        # Show the fixed part that is there; the addresses are cut off.
        layer.hdr = (htype, ptype, hlen, plen, opcode, None, None, None, None, False)
        pkt.mark_malformed(layer, f"arp: needs {need} bytes at offset {off}, have {end - off}")
        pkt.info = "[Malformed ARP: truncated]"
        return None
    p = off + 8
    sha = buf[p : p + hlen]
    spa = buf[p + hlen : p + hlen + plen]
    tha = buf[p + hlen + plen : p + 2 * hlen + plen]
    tpa = buf[p + 2 * hlen + plen : p + 2 * hlen + 2 * plen]
    gratuitous = spa == tpa and opcode in (1, 2)
    layer.hdr = (htype, ptype, hlen, plen, opcode, sha, spa, tha, tpa, gratuitous)
    if hlen == 6 and plen == 4 and ptype == 0x0800:
        s_ip, t_ip = socket.inet_ntoa(spa), socket.inet_ntoa(tpa)
        if gratuitous:
            pkt.info = f"Gratuitous ARP for {s_ip} ({OPCODES[opcode].capitalize()})"
        elif opcode == 1:
            pkt.info = f"Who has {t_ip}? Tell {s_ip}"
        elif opcode == 2:
            pkt.info = f"{s_ip} is at {mac(sha)}"
        else:
            pkt.info = OPCODES.get(opcode, f"Unknown ARP opcode {opcode}")
    else:
        pkt.info = f"ARP opcode {opcode} (hardware {htype}, protocol 0x{ptype:04x})"
    return None


def _addr(proto_bytes: bytes) -> str:
    return socket.inet_ntoa(proto_bytes) if len(proto_bytes) == 4 else proto_bytes.hex(":")


def _title(layer: Layer) -> str:
    opcode = layer.hdr[4] if layer.hdr else 0
    suffix = " (gratuitous)" if layer.hdr and layer.hdr[9] else ""
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
    if hlen != 6 or plen != 4:
        # Not Ethernet/IPv4: Wireshark's generic address fields instead of hw_mac/proto_ipv4.
        return [*rows,
            row("arp.src.hw", bytes(sha), f"Sender hardware address: {sha.hex(':')}", p, hlen),
            row("arp.src.proto", bytes(spa), f"Sender protocol address: {spa.hex(':')}", p + hlen, plen),
            row("arp.dst.hw", bytes(tha), f"Target hardware address: {tha.hex(':')}", p + hlen + plen, hlen),
            row("arp.dst.proto", bytes(tpa), f"Target protocol address: {tpa.hex(':')}", p + 2 * hlen + plen, plen),
        ]  # fmt: skip
    rows += [
        row("arp.src.hw_mac", mac(sha), f"Sender MAC address: {mac(sha)}", p, hlen),
        row("arp.src.proto_ipv4", _addr(spa), f"Sender IP address: {_addr(spa)}", p + hlen, plen),
        row("arp.dst.hw_mac", mac(tha), f"Target MAC address: {mac(tha)}", p + hlen + plen, hlen),
        row("arp.dst.proto_ipv4", _addr(tpa), f"Target IP address: {_addr(tpa)}",
            p + 2 * hlen + plen, plen),
    ]  # fmt: skip
    return rows


registry.ETHERTYPES[0x0806] = decode_arp
