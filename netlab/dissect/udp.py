"""UDP (RFC 768)."""

from __future__ import annotations

import struct

from netlab.dissect import registry
from netlab.dissect.model import Layer, Packet, row

_HDR = struct.Struct("!HHHH")


def decode_udp(d, pkt: Packet, buf: bytes, off: int, end: int):
    if end - off < 8:
        layer = Layer("udp", "User Datagram Protocol (truncated)", off, end, None, None)
        pkt.layers.append(layer)
        pkt.mark_malformed(layer, f"udp: header needs 8 bytes at offset {off}, have {end - off}")
        return None
    hdr = _HDR.unpack_from(buf, off)
    sport, dport, length, _csum = hdr
    stream = -1 if pkt.quoted else d.udp_stream(pkt.src_raw, sport, pkt.dst_raw, dport)
    layer = Layer("udp", _title, off, off + 8, (*hdr, stream), _rows)
    pkt.layers.append(layer)
    if length < 8:
        if not pkt.quoted:
            pkt.protocol = "UDP"
            pkt.info = f"{sport} → {dport} [Bogus UDP length {length} < 8]"
        pkt.mark_malformed(layer, f"udp: bogus length {length} at offset {off}")
        return None
    payload_end = min(end, off + length)
    if not pkt.quoted:
        pkt.protocol = "UDP"
        pkt.info = f"{sport} → {dport} Len={length - 8}"
        if off + length > end and pkt.caplen >= pkt.wirelen:
            pkt.mark_malformed(layer, f"udp: length {length} runs past the IP payload")
    if payload_end <= off + 8 or pkt.quoted:
        return None
    decoder = registry.app_decoder("udp", sport, dport, buf, off + 8, payload_end)
    if decoder is None:
        from netlab.dissect.engine import decode_data

        decoder = decode_data
    return decoder(d, pkt, buf, off + 8, payload_end)


def _title(layer: Layer) -> str:
    return f"User Datagram Protocol, Src Port: {layer.hdr[0]}, Dst Port: {layer.hdr[1]}"


def _rows(layer: Layer, buf: bytes):
    sport, dport, length, csum, stream = layer.hdr
    o = layer.off
    rows = [
        row("udp.srcport", sport, f"Source Port: {sport}", o, 2),
        row("udp.dstport", dport, f"Destination Port: {dport}", o + 2, 2),
        row("udp.length", length, f"Length: {length}", o + 4, 2),
        row("udp.checksum", csum, f"Checksum: 0x{csum:04x}", o + 6, 2),
    ]
    if stream >= 0:
        rows.append(row("udp.stream", stream, f"[Stream index: {stream}]"))
    return rows


registry.IP_PROTOCOLS[17] = decode_udp
