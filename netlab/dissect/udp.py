"""UDP (RFC 768)."""

from __future__ import annotations

import struct
from typing import NamedTuple

import netlab.dissect.registry as registry
from netlab.dissect.base import decode_data
from netlab.dissect.model import Layer, Packet, port_rows, row


class UdpHeader(NamedTuple):
    sport: int
    dport: int
    length: int  # as presumed for a jumbogram's 0
    checksum: int
    stream: int  # udp.stream, -1 when not numbered (quoted in an ICMP error, or off)


_HDR = struct.Struct("!HHHH")
# (bound once: compiled, a module name is a cached lookup, an attribute a search)
_unpack_hdr = _HDR.unpack_from
_new = tuple.__new__


def decode_udp(d, pkt: Packet, buf: bytes, off: int, end: int):
    if end - off < 8:
        layer = Layer("udp", "User Datagram Protocol (truncated)", off, end, None, _port_rows)
        pkt.layers.append(layer)
        pkt.mark_malformed(layer, f"udp: header needs 8 bytes at offset {off}, have {end - off}")
        return None
    sport, dport, length, csum = _unpack_hdr(buf, off)
    stream = -1 if pkt.quoted else d.udp_stream(pkt.src_raw, sport, pkt.dst_raw, dport)
    layer = Layer("udp", _title, off, off + 8, _new(UdpHeader, (sport, dport, length, csum, stream)),
                  _rows)  # fmt: skip
    pkt.layers.append(layer)
    if length < 8:
        length = _short_length(pkt, layer, off, end)
        if length is None:
            return None
    payload_end = min(end, off + length)
    if not pkt.quoted:
        pkt.protocol = "UDP"
        pkt.info = f"{sport} → {dport} Len={length - 8}"
        if off + length > end and pkt.caplen >= pkt.wirelen:
            pkt.mark_malformed(layer, f"udp: length {length} runs past the IP payload")
    if payload_end <= off + 8:
        return None
    decoder = registry.app_decoder("udp", sport, dport, buf, off + 8, payload_end)
    if pkt.quoted:
        # Quoted in an ICMP error: Wireshark shows the payload too (often a traceroute
        # probe's) as data. A protocol's decoder is left out: its state belongs to the
        # datagrams that were delivered.
        return None if decoder is not None or d.light else decode_data(d, pkt, buf, off + 8,
                                                                       payload_end)  # fmt: skip
    decoder = decoder or decode_data
    if d.light and not getattr(decoder, "light", False):
        return None  # (a decoder marked `light` keeps cross-datagram state: it runs here too)
    return decoder(d, pkt, buf, off + 8, payload_end)


def columns(d, no: int, buf: bytes, off: int, end: int, src: bytes, dst: bytes, ts_ns: int | None):
    """The one-line view's (protocol, info) of a plain datagram, without a Packet; None
    (decided before the stream table changes) when decode_udp must run. A payload
    decoder takes part if it offers `columns(buf, off, end)` (BitTorrent's DHT does), or
    `flow_columns(d, decoder, buf, off, end, src, sport, dst, dport, no, ts_ns)`, which
    follows state across datagrams: it declines only before changing any (DNS), or
    never (QUIC)."""
    if end - off < 8:
        return None
    sport, dport, length, _csum = _unpack_hdr(buf, off)
    if length < 8 or off + length > end:  # bogus, or past the IP payload: marked there
        return None
    protocol, info = "UDP", None
    if length > 8:
        decoder = registry.app_decoder("udp", sport, dport, buf, off + 8, off + length)
        if decoder is not None:
            quick = getattr(decoder, "columns", None)
            if quick is not None:
                found = quick(buf, off + 8, off + length)
            else:
                flow = getattr(decoder, "flow_columns", None)
                found = None if flow is None else flow(d, decoder, buf, off + 8, off + length,
                                                       src, sport, dst, dport, no, ts_ns or 0)  # fmt: skip
            if found is None:
                return None
            protocol, info = found
    if d.number_udp:
        d.udp_stream(src, sport, dst, dport)
    return protocol, info or f"{sport} → {dport} Len={length - 8}"


def _short_length(pkt: Packet, layer: Layer, off: int, end: int) -> int | None:
    """A length under 8 is bogus (None), except 0 over IPv6: a jumbogram (RFC 2675 section 4),
    whose length is the rest of the IPv6 payload; Linux "BIG TCP" tunnels send these too."""
    sport, dport, length = layer.hdr[:3]
    if length == 0 and pkt.layers[-2].proto.startswith("ipv6"):
        layer.hdr = layer.hdr._replace(length=end - off)
        return end - off
    if not pkt.quoted:
        pkt.protocol = "UDP"
        pkt.info = f"{sport} → {dport} [Bogus UDP length {length} < 8]"
    pkt.mark_malformed(layer, f"udp: bogus length {length} at offset {off}")
    return None


def _title(layer: Layer) -> str:
    return f"User Datagram Protocol, Src Port: {layer.hdr.sport}, Dst Port: {layer.hdr.dport}"


def _port_rows(layer: Layer, buf: bytes):
    return port_rows("udp", layer, buf)


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


# --- fast writers (model.JSON_WRITERS): the whole header as text -------------------------
# Every header `_rows` sees is complete (cut ones use `_port_rows`), so there is no
# case to leave to the generic path; the stream index is absent (-1) in quoted headers.
def _json(layer: Layer, buf: bytes) -> str:
    sport, dport, length, csum, stream = layer.hdr
    text = (
        f'"udp.srcport":{sport},"udp.dstport":{dport},"udp.length":{length},"udp.checksum":{csum}'
    )
    return text if stream < 0 else f'{text},"udp.stream":{stream}'


def _tree(layer: Layer, buf: bytes) -> str:
    sport, dport, length, csum, stream = layer.hdr
    text = (
        f"User Datagram Protocol, Src Port: {sport}, Dst Port: {dport}\n"
        f"    Source Port: {sport}\n"
        f"    Destination Port: {dport}\n"
        f"    Length: {length}\n"
        f"    Checksum: 0x{csum:04x}"
    )
    return text if stream < 0 else f"{text}\n    [Stream index: {stream}]"


registry.register("udp", writers={_rows: (_json, _tree)}, ip_protocols={17: decode_udp})
