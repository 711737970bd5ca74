"""IPv6 (RFC 8200) and its extension headers: hop-by-hop, routing, fragment, destination options."""

from __future__ import annotations

import socket
import struct
from typing import NamedTuple

import netlab.dissect.registry as registry
from netlab.dissect.base import MAX_LAYERS, decode_data, too_deep
from netlab.dissect.ip import IP_PROTO_NAMES, TSO_NOTE
from netlab.dissect.model import (
    Layer,
    Packet,
    checked_rows,
    remember,
    row,
)  # fmt: skip


class IPv6Header(NamedTuple):
    vtcfl: int  # version (4 bits), traffic class (8), flow label (20)
    plen: int  # payload length (as presumed when the capture holds 0: TSO)
    nxt: int
    hlim: int
    src: bytes
    dst: bytes

    @property
    def version(self) -> int:
        return self.vtcfl >> 28

    @property
    def datagram_len(self) -> int:
        """The header and its payload, as the header says (where the payload ends)."""
        return 40 + self.plen


class ExtHeader(NamedTuple):
    """An extension header (hop-by-hop, routing, fragment, destination options)."""

    kind: int  # its own protocol number (EXT_HEADERS)
    nxt: int  # the next header's


_HDR = struct.Struct("!IHBB16s16s")
_new = tuple.__new__  # a header type over an unpacked tuple, without a copy
_FRAG = struct.Struct("!BBHI")
MAX_EXT_HEADERS = 16  # bounded work on a chain of extension headers

EXT_HEADERS = {0: "ipv6.hopopts", 43: "ipv6.routing", 44: "ipv6.fragment", 60: "ipv6.dstopts"}
EXT_TITLES = {
    0: "IPv6 Hop-by-Hop Option",
    43: "Routing Header",
    44: "Fragment Header",
    60: "Destination Options",
}


def ntop6(b: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6, b)


def decode_ipv6(d, pkt: Packet, buf: bytes, off: int, end: int):
    if len(pkt.layers) >= MAX_LAYERS and too_deep(pkt):  # tunnels in tunnels: bounded
        return None
    if end - off < 40:
        return _short_header(pkt, buf, off, end)
    hdr = _new(IPv6Header, _HDR.unpack_from(buf, off))
    vtcfl, plen, nxt, _hlim, src, dst = hdr
    layer = Layer("ipv6", _title, off, off + 40, hdr, _rows)
    pkt.layers.append(layer)
    if not pkt.quoted:
        pkt.src_raw, pkt.dst_raw = src, dst
        pkt.protocol = "IPv6"
    if vtcfl >> 28 != 6:
        layer.extra = ("ipv6.version", None)  # Wireshark shows the version, then stops
        pkt.mark_malformed(layer, f"ipv6: bogus version {vtcfl >> 28} at offset {off}")
        return None
    if plen or pkt.quoted:
        payload_end = min(end, off + 40 + plen)
    else:
        payload_end = _zero_length(pkt, buf, layer, off, end)
    p = off + 40
    for _ in range(MAX_EXT_HEADERS):
        if nxt not in EXT_HEADERS:
            break
        if p + 8 > payload_end:
            ext = Layer(EXT_HEADERS[nxt], EXT_TITLES[nxt], p, payload_end, None, None)
            pkt.layers.append(ext)
            pkt.mark_malformed(ext, f"ipv6: extension header {nxt} truncated at offset {p}")
            return None
        length = 8 if nxt == 44 else (buf[p + 1] + 1) * 8
        ext_end = min(p + length, payload_end)  # a lying length must not reach past the data
        ext = Layer(
            EXT_HEADERS[nxt], EXT_TITLES[nxt], p, ext_end, ExtHeader(nxt, buf[p]), _ext_rows
        )
        pkt.layers.append(ext)
        if p + length > payload_end:
            pkt.mark_malformed(ext, f"ipv6: extension header runs past the payload at offset {p}")
            return None
        if nxt == 44:
            _nh, _res, fragoff, ident = _FRAG.unpack_from(buf, p)
            if fragoff & 0xFFF8 and not pkt.quoted:  # not the first fragment: payload is a piece
                pkt.info = f"IPv6 fragment (off={fragoff & 0xFFF8}, ID=0x{ident:08x})"
                return decode_data(d, pkt, buf, p + 8, payload_end)
            if fragoff & 1:  # the first piece: its transport header is there, its length is not
                pkt.fragmented = True
        nxt = buf[p]
        p += length
    decoder = registry.IP_PROTOCOLS.get(nxt)
    if decoder is None:
        return decode_data(d, pkt, buf, p, payload_end)
    return decoder(d, pkt, buf, p, payload_end)


def _zero_length(pkt: Packet, buf: bytes, layer: Layer, off: int, end: int) -> int:
    """Payload length 0: a jumbogram (RFC 2675, the length is in a hop-by-hop option), or
    TCP segmentation offload / Linux "BIG TCP" without that option, whose length the NIC
    fills in later. Either way the payload runs to the end of the packet. Wireshark
    presumes TSO only with ipv6.tso_support (off by default; the corpus test turns it on)."""
    if layer.hdr.nxt != 0:  # not hop-by-hop, so no jumbo option: show the presumed length
        reported = end - off - 40
        if buf is pkt.buf and end == pkt.caplen:  # snapped: the wire had more
            reported += max(pkt.wirelen - pkt.caplen, 0)
        layer.hdr = layer.hdr._replace(plen=reported)
    return end


def _short_header(pkt: Packet, buf: bytes, off: int, end: int) -> None:
    """Under 40 bytes captured: Wireshark adds the fields that are there, then stops."""
    hdr = _new(IPv6Header, _HDR.unpack(bytes(buf[off:end]).ljust(40, b"\0")))
    layer = Layer("ipv6", "Internet Protocol Version 6 (truncated)", off, end, None, _rows)
    last = "ipv6.version" if end > off and hdr.version != 6 else None
    layer.extra = (last, end, hdr)
    pkt.layers.append(layer)
    pkt.mark_malformed(layer, f"ipv6: header needs 40 bytes at offset {off}, have {end - off}")
    pkt.protocol, pkt.info = "IPv6", "[Malformed IPv6: truncated header]"
    return None


def _title(layer: Layer) -> str:
    if layer.extra is not None:  # a bogus version: the addresses mean nothing
        return "Internet Protocol Version 6"
    return f"Internet Protocol Version 6, Src: {ntop6(layer.hdr.src)}, Dst: {ntop6(layer.hdr.dst)}"


def _rows(layer: Layer, buf: bytes):
    return checked_rows(layer, buf, _header_rows)


def _header_rows(hdr: IPv6Header, o: int, buf: bytes):
    vtcfl, plen, nxt, hlim, src, dst = hdr
    tclass = vtcfl >> 20 & 0xFF
    return [
        row("ipv6.version", vtcfl >> 28, f"Version: {vtcfl >> 28}", o, 1),
        row("ipv6.tclass", tclass, f"Traffic Class: 0x{tclass:02x}", o, 2),
        row("ipv6.tclass.dscp", tclass >> 2, f"Differentiated Services Codepoint: {tclass >> 2}",
            o, 2, 1),
        row("ipv6.tclass.ecn", tclass & 3, f"Explicit Congestion Notification: {tclass & 3}",
            o, 2, 1),
        row("ipv6.flow", vtcfl & 0xFFFFF, f"Flow Label: 0x{vtcfl & 0xFFFFF:05x}", o + 1, 3),
        _plen_row(plen, o, buf),
        row("ipv6.nxt", nxt, f"Next Header: {IP_PROTO_NAMES.get(nxt, 'Unknown')} ({nxt})", o + 6, 1),
        row("ipv6.hlim", hlim, f"Hop Limit: {hlim}", o + 7, 1),
        row("ipv6.src", ntop6(src), f"Source Address: {ntop6(src)}", o + 8, 16),
        row("ipv6.dst", ntop6(dst), f"Destination Address: {ntop6(dst)}", o + 24, 16),
    ]  # fmt: skip


def _plen_row(plen: int, o: int, buf: bytes):
    show = f"Payload Length: {plen}"
    if plen and buf[o + 4 : o + 6] == b"\0\0":  # presumed by _zero_length
        show = f"[Payload Length: {plen} bytes ({TSO_NOTE})]"
    return row("ipv6.plen", plen, show, o + 4, 2)


def _ext_rows(layer: Layer, buf: bytes):
    kind, nxt = layer.hdr
    o = layer.off
    prefix = EXT_HEADERS[kind]
    name = IP_PROTO_NAMES.get(nxt, "Unknown")
    rows = [row(f"{prefix}.nxt", nxt, f"Next Header: {name} ({nxt})", o, 1)]
    if kind == 44:
        _nh, _res, fragoff, ident = _FRAG.unpack_from(buf, o)
        rows += [
            row("ipv6.fragment.offset", fragoff >> 3, f"Offset: {fragoff >> 3}", o + 2, 2),
            row("ipv6.fragment.more", bool(fragoff & 1), f"More Fragments: {bool(fragoff & 1)}",
                o + 2, 2),
            row("ipv6.fragment.id", ident, f"Identification: 0x{ident:08x}", o + 4, 4),
        ]  # fmt: skip
        return rows
    length = layer.end - layer.off
    rows.append(
        row(f"{prefix}.len", buf[o + 1], f"Length: {buf[o + 1]} ({length} bytes)", o + 1, 1)
    )
    if kind == 43:
        rows.append(row("ipv6.routing.type", buf[o + 2], f"Type: {buf[o + 2]}", o + 2, 1))
        rows.append(
            row("ipv6.routing.segleft", buf[o + 3], f"Segments Left: {buf[o + 3]}", o + 3, 1)
        )
        return rows
    rows += _tlv_options(buf, o + 2, min(layer.end, len(buf)), "ipv6.opt")
    return rows


def _tlv_options(buf: bytes, p: int, end: int, prefix: str):
    names = {
        0: "Pad1",
        1: "PadN",
        5: "Router Alert",
        0xC2: "Jumbo Payload",
        4: "Tunnel Encap Limit",
    }
    rows = []
    while p < end:
        kind = buf[p]
        if kind == 0:
            rows.append(row(f"{prefix}.type", 0, "Pad1", p, 1, 1))
            p += 1
            continue
        if p + 2 > end or p + 2 + buf[p + 1] > end:
            rows.append(row("_ws.malformed", "ipv6 option", "[Malformed IPv6 option]", p, end - p))
            break
        length = buf[p + 1]
        rows.append(row(f"{prefix}.type", kind, f"{names.get(kind, 'Unknown')} ({kind})", p,
                        2 + length, 1))  # fmt: skip
        p += 2 + length
    return rows


# --- fast writers (model.JSON_WRITERS): the fixed header of _rows, written as text -----
# A bogus version (layer.extra set) returns None: its rows stop after the version.
# Extension headers keep the generic path (_ext_rows): they are rare.
_ADDR_TEXT: dict[bytes, str] = {}
_ADDR_CACHE_LIMIT = 1 << 14


def _addr(raw: bytes) -> str:
    """inet_ntop costs ~10x a dict hit, and a capture repeats a few addresses."""
    return _ADDR_TEXT.get(raw) or remember(_ADDR_TEXT, raw, ntop6(raw), _ADDR_CACHE_LIMIT)


def _json(layer: Layer, buf: bytes) -> str | None:
    if layer.extra is not None:
        return None
    vtcfl, plen, nxt, hlim, src, dst = layer.hdr
    tclass = vtcfl >> 20 & 0xFF
    return (
        f'"ipv6.version":{vtcfl >> 28},"ipv6.tclass":{tclass},"ipv6.tclass.dscp":{tclass >> 2},'
        f'"ipv6.tclass.ecn":{tclass & 3},"ipv6.flow":{vtcfl & 0xFFFFF},"ipv6.plen":{plen},'
        f'"ipv6.nxt":{nxt},"ipv6.hlim":{hlim},"ipv6.src":"{_addr(src)}","ipv6.dst":"{_addr(dst)}"'
    )


def _tree(layer: Layer, buf: bytes) -> str | None:
    if layer.extra is not None:
        return None
    vtcfl, plen, nxt, hlim, src, dst = layer.hdr
    tclass = vtcfl >> 20 & 0xFF
    o = layer.off
    if plen and buf[o + 4 : o + 6] == b"\0\0":  # presumed by _zero_length
        plen_text = f"[Payload Length: {plen} bytes ({TSO_NOTE})]"
    else:
        plen_text = f"Payload Length: {plen}"
    src, dst = _addr(src), _addr(dst)
    return (
        f"Internet Protocol Version 6, Src: {src}, Dst: {dst}\n"
        f"    Version: {vtcfl >> 28}\n"
        f"    Traffic Class: 0x{tclass:02x}\n"
        f"        Differentiated Services Codepoint: {tclass >> 2}\n"
        f"        Explicit Congestion Notification: {tclass & 3}\n"
        f"    Flow Label: 0x{vtcfl & 0xFFFFF:05x}\n"
        f"    {plen_text}\n"
        f"    Next Header: {IP_PROTO_NAMES.get(nxt, 'Unknown')} ({nxt})\n"
        f"    Hop Limit: {hlim}\n"
        f"    Source Address: {src}\n"
        f"    Destination Address: {dst}"
    )


registry.register(
    "ipv6",
    writers={_rows: (_json, _tree)},
    ethertypes={0x86DD: decode_ipv6},
    ip_protocols={41: decode_ipv6},  # 41: 6in4
)
