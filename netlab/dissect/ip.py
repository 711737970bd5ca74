"""IPv4 (RFC 791): every header field, flags, fragment offset, options, checksum status."""

from __future__ import annotations

import socket
import struct

from netlab.dissect import registry
from netlab.dissect.model import Layer, Packet, flag_rows, row

_HDR = struct.Struct("!BBHHHBBH4s4s")

IP_PROTO_NAMES = {
    0: "HOPOPT", 1: "ICMP", 2: "IGMP", 4: "IPIP", 6: "TCP", 17: "UDP", 41: "IPv6",
    43: "IPv6-Route", 44: "IPv6-Frag", 47: "GRE", 50: "ESP", 51: "AH", 58: "ICMPv6",
    59: "IPv6-NoNxt", 60: "IPv6-Opts", 89: "OSPF", 103: "PIM", 112: "VRRP", 132: "SCTP",
}  # fmt: skip
ECN_NAMES = {0: "Not-ECT", 1: "ECT(1)", 2: "ECT(0)", 3: "CE"}
OPTION_NAMES = {
    0: "End of Options List (EOL)", 1: "No-Operation (NOP)", 7: "Record Route",
    68: "Time Stamp", 130: "Security", 131: "Loose Source Route", 137: "Strict Source Route",
    136: "Stream ID", 148: "Router Alert",
}  # fmt: skip


def internet_checksum(data: bytes) -> int:
    """RFC 1071 one's-complement sum; 0 over a header that includes its checksum = good."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def decode_ip(d, pkt: Packet, buf: bytes, off: int, end: int):
    if len(pkt.layers) >= 32:  # IP in IP in IP …: bounded (engine.MAX_LAYERS)
        from netlab.dissect.engine import too_deep

        too_deep(pkt)
        return None
    if end - off < 20:
        layer = Layer("ip", "Internet Protocol Version 4 (truncated)", off, end, None, None)
        pkt.layers.append(layer)
        pkt.mark_malformed(layer, f"ip: header needs 20 bytes at offset {off}, have {end - off}")
        pkt.protocol, pkt.info = "IPv4", "[Malformed IPv4: truncated header]"
        return None
    hdr = _HDR.unpack_from(buf, off)
    vihl, _tos, total, _ident, frag, _ttl, proto, _csum, src, dst = hdr
    ihl = (vihl & 0x0F) * 4
    layer = Layer("ip", _title, off, min(off + ihl, end), hdr, _rows)
    pkt.layers.append(layer)
    if not pkt.quoted:
        pkt.src_raw, pkt.dst_raw = src, dst
        pkt.protocol = "IPv4"
    if vihl >> 4 != 4 or ihl < 20:
        why = f"version {vihl >> 4}" if vihl >> 4 != 4 else f"header length {ihl} < 20"
        pkt.mark_malformed(layer, f"ip: bogus {why} at offset {off}")
        pkt.info = pkt.info or f"Bogus IPv4 {why}"
        return None
    if total < ihl and not pkt.quoted:
        pkt.mark_malformed(layer, f"ip: total length {total} < header length {ihl}")
        pkt.info = pkt.info or f"Bogus IP length ({total}, less than header length {ihl})"
        return None
    # Payload ends at the total length (Ethernet pads short frames), or at the capture.
    # Inside ICMP errors the quoted datagram is cut short on purpose: use what is there.
    payload_end = min(end, off + total) if total >= ihl else end
    if off + ihl > end:
        pkt.mark_malformed(layer, f"ip: options run past the captured data at offset {off}")
        return None
    if frag & 0x3FFF:  # more fragments, or a non-zero offset: not reassembled (yet)
        offset8 = (frag & 0x1FFF) * 8
        name = IP_PROTO_NAMES.get(proto, str(proto))
        if not pkt.quoted:
            pkt.info = (
                f"Fragmented IP protocol (proto={name} {proto}, off={offset8}, ID={hdr[3]:04x})"
            )
        if frag & 0x1FFF:
            from netlab.dissect.engine import decode_data

            return decode_data(d, pkt, buf, off + ihl, payload_end)
    decoder = registry.IP_PROTOCOLS.get(proto)
    if decoder is None:
        from netlab.dissect.engine import decode_data

        if not pkt.quoted:
            pkt.protocol = IP_PROTO_NAMES.get(proto, "IPv4")
        if payload_end > off + ihl:
            decode_data(d, pkt, buf, off + ihl, payload_end)
        return None
    return decoder(d, pkt, buf, off + ihl, payload_end)


def _title(layer: Layer) -> str:
    src, dst = layer.hdr[8], layer.hdr[9]
    return (
        f"Internet Protocol Version 4, Src: {socket.inet_ntoa(src)}, Dst: {socket.inet_ntoa(dst)}"
    )


def _rows(layer: Layer, buf: bytes):
    vihl, tos, total, ident, frag, ttl, proto, csum, src, dst = layer.hdr
    o = layer.off
    ihl = (vihl & 0x0F) * 4
    rows = [
        row("ip.version", vihl >> 4, f"{vihl >> 4:04b} .... = Version: {vihl >> 4}", o, 1),
        row("ip.hdr_len", ihl, f".... {vihl & 0xF:04b} = Header Length: {ihl} bytes ({vihl & 0xF})",
            o, 1),
        row("ip.dsfield", tos, f"Differentiated Services Field: 0x{tos:02x}", o + 1, 1),
        row("ip.dsfield.dscp", tos >> 2, f"Differentiated Services Codepoint: {tos >> 2}",
            o + 1, 1, 1),
        row("ip.dsfield.ecn", tos & 3, f"Explicit Congestion Notification: {ECN_NAMES[tos & 3]}",
            o + 1, 1, 1),
        row("ip.len", total, f"Total Length: {total}", o + 2, 2),
        row("ip.id", ident, f"Identification: 0x{ident:04x} ({ident})", o + 4, 2),
        row("ip.flags", frag >> 13, f"Flags: 0x{frag >> 13:x}", o + 6, 1),
    ]  # fmt: skip
    rows += flag_rows("ip.flags", frag >> 8, [
        ("rb", 0x80, "Reserved bit"), ("df", 0x40, "Don't fragment"), ("mf", 0x20, "More fragments"),
    ], o + 6, 1, 8)  # fmt: skip
    rows += [
        row("ip.frag_offset", (frag & 0x1FFF) * 8, f"Fragment Offset: {(frag & 0x1FFF) * 8}",
            o + 6, 2),
        row("ip.ttl", ttl, f"Time to Live: {ttl}", o + 8, 1),
        row("ip.proto", proto, f"Protocol: {IP_PROTO_NAMES.get(proto, 'Unknown')} ({proto})",
            o + 9, 1),
        row("ip.checksum", csum, f"Header Checksum: 0x{csum:04x}", o + 10, 2),
    ]  # fmt: skip
    header = bytes(buf[o : o + ihl])
    if len(header) == ihl:
        good = internet_checksum(header) == 0
        rows.append(
            row(
                "ip.checksum.status",
                1 if good else 0,
                f"[Header checksum status: {'Good' if good else 'Bad'}]",
                depth=1,
            )
        )
    rows += [
        row("ip.src", socket.inet_ntoa(src), f"Source Address: {socket.inet_ntoa(src)}", o + 12, 4),
        row("ip.dst", socket.inet_ntoa(dst), f"Destination Address: {socket.inet_ntoa(dst)}",
            o + 16, 4),
    ]  # fmt: skip
    rows += _option_rows(buf, o + 20, min(o + ihl, len(buf)))  # never past the capture
    return rows


def _option_rows(buf: bytes, p: int, end: int):
    rows = []
    while p < end:
        kind = buf[p]
        name = OPTION_NAMES.get(kind, f"Unknown ({kind})")
        if kind in (0, 1):
            rows.append(row("ip.opt.type", kind, f"IP Option - {name}", p, 1))
            p += 1
            if kind == 0:
                break
            continue
        if p + 1 >= end or buf[p + 1] < 2 or p + buf[p + 1] > end:
            rows.append(
                row("_ws.malformed", "ip option", f"[Malformed IP option {kind}]", p, end - p)
            )
            break
        length = buf[p + 1]
        rows.append(row("ip.opt.type", kind, f"IP Option - {name} ({length} bytes)", p, length))
        rows.append(row("ip.opt.len", length, f"Length: {length}", p + 1, 1, 1))
        p += length
    return rows


registry.ETHERTYPES[0x0800] = decode_ip
registry.IP_PROTOCOLS[4] = decode_ip  # IP in IP
