"""IPv4 (RFC 791): every header field, flags, fragment offset, options, checksum status."""

from __future__ import annotations

import socket
import struct
from typing import NamedTuple

import netlab.dissect.registry as registry
from netlab.dissect.base import MAX_LAYERS, decode_data, too_deep
from netlab.dissect.model import (
    Layer,
    Packet,
    checked_rows,
    flag_rows,
    remember,
    row,
    show_text,
)  # fmt: skip
from netlab.wire.checksum import internet_checksum
from netlab.wire.tcp_options import walk as walk_options


class IPv4Header(NamedTuple):
    vihl: int  # version (4 bits) and header length in 32-bit words (4 bits)
    tos: int  # DSCP (6 bits) and ECN (2 bits)
    total: int  # total length (as presumed when the capture holds 0: TSO)
    ident: int
    frag: int  # flags (3 bits) and fragment offset in 8-byte units (13 bits)
    ttl: int
    proto: int
    checksum: int
    src: bytes
    dst: bytes

    @property
    def version(self) -> int:
        return self.vihl >> 4

    @property
    def datagram_len(self) -> int:
        """The header and its payload, as the header says (where the payload ends)."""
        return self.total


_HDR = struct.Struct("!BBHHHBBH4s4s")
_new = tuple.__new__  # a header type over an unpacked tuple, without a copy
_WORDS = struct.Struct("!10H")  # the option-less header as 16-bit words, for its checksum

IP_PROTO_NAMES = {
    0: "HOPOPT", 1: "ICMP", 2: "IGMP", 4: "IPIP", 6: "TCP", 17: "UDP", 41: "IPv6",
    43: "IPv6-Route", 44: "IPv6-Frag", 47: "GRE", 50: "ESP", 51: "AH", 58: "ICMPv6",
    59: "IPv6-NoNxt", 60: "IPv6-Opts", 89: "OSPF", 103: "PIM", 112: "VRRP", 132: "SCTP",
}  # fmt: skip
TSO_NOTE = 'reported as 0, presumed to be because of "TCP segmentation offload" (TSO)'
ECN_NAMES = {0: "Not-ECT", 1: "ECT(1)", 2: "ECT(0)", 3: "CE"}
OPTION_NAMES = {
    0: "End of Options List (EOL)", 1: "No-Operation (NOP)", 7: "Record Route",
    68: "Time Stamp", 130: "Security", 131: "Loose Source Route", 137: "Strict Source Route",
    136: "Stream ID", 148: "Router Alert",
}  # fmt: skip


def decode_ip(d, pkt: Packet, buf: bytes, off: int, end: int):
    if len(pkt.layers) >= MAX_LAYERS and too_deep(pkt):  # IP in IP in IP …: bounded
        return None
    if end - off < 20:
        return _short_header(d, pkt, buf, off, end)
    hdr = _new(IPv4Header, _HDR.unpack_from(buf, off))
    vihl, _tos, total, ident, frag, _ttl, proto, _csum, src, dst = hdr
    ihl = (vihl & 0x0F) * 4
    layer = Layer("ip", _title, off, min(off + ihl, end), hdr, _rows)
    pkt.layers.append(layer)
    if not pkt.quoted:
        pkt.src_raw, pkt.dst_raw = src, dst
        pkt.protocol = "IPv4"
    if vihl >> 4 != 4 or ihl < 20:
        return _bogus_header(d, pkt, buf, layer, off, end)
    if total < ihl:
        total = _short_total(pkt, buf, layer, off, end)
        if total is None:
            return None
    # Payload ends at the total length (Ethernet pads short frames), or at the capture.
    payload_end = min(end, off + total)
    if off + ihl > end:
        pkt.mark_malformed(layer, f"ip: options run past the captured data at offset {off}")
        return None
    if frag & 0x3FFF:  # more fragments, or a non-zero offset: not reassembled (yet)
        offset8 = (frag & 0x1FFF) * 8
        name = IP_PROTO_NAMES.get(proto, str(proto))
        if not pkt.quoted:
            pkt.info = (
                f"Fragmented IP protocol (proto={name} {proto}, off={offset8}, ID={ident:04x})"
            )
        if frag & 0x1FFF:
            return decode_data(d, pkt, buf, off + ihl, payload_end)
        pkt.fragmented = True  # the first piece: its transport header is there, its length is not
    decoder = registry.IP_PROTOCOLS.get(proto)
    if decoder is None:
        if not pkt.quoted:
            pkt.protocol = IP_PROTO_NAMES.get(proto, "IPv4")
        return decode_data(d, pkt, buf, off + ihl, payload_end)
    return decoder(d, pkt, buf, off + ihl, payload_end)


def _bogus_field(hdr: IPv4Header, quoted: int) -> str | None:
    """The field at which Wireshark stops decoding a bogus header, or None if it is sound."""
    vihl, total = hdr.vihl, hdr.total
    ihl = (vihl & 0x0F) * 4
    if vihl >> 4 != 4:
        return "ip.version"
    if ihl < 20:
        return "ip.hdr_len"
    if 0 < total < ihl and not quoted:  # 0 is TSO, not bogus (see _short_total)
        return "ip.len"
    return None


def _bogus_header(d, pkt: Packet, buf: bytes, layer: Layer, off: int, end: int):
    """Version not 4, or header length under 20: Wireshark shows the fields up to the bad one."""
    vihl = layer.hdr.vihl
    layer.extra = (_bogus_field(layer.hdr, pkt.quoted), None)
    if vihl >> 4 == 6:
        # Wireshark's IPv4 dissector hands a version-6 header to IPv6 (ethertype 0x0800
        # or LINKTYPE_IPV4 carrying IPv6, as in tcpdump's kday captures).
        return registry.ETHERTYPES[0x86DD](d, pkt, buf, off, end)
    ihl = (vihl & 0x0F) * 4
    why = f"version {vihl >> 4}" if vihl >> 4 != 4 else f"header length {ihl} < 20"
    pkt.mark_malformed(layer, f"ip: bogus {why} at offset {off}")
    pkt.info = pkt.info or f"Bogus IPv4 {why}"
    return None


def _short_total(pkt: Packet, buf: bytes, layer: Layer, off: int, end: int) -> int | None:
    """A total length below the header length: 0 is TCP segmentation offload, else bogus.

    With TSO (and Linux "BIG TCP") the NIC fills the length in after the capture point,
    so the capture holds 0; Wireshark (ip.tso_support, on by default) then takes the
    packet's reported length, and so does netlab. Returns the length to use, or None.
    """
    hdr = layer.hdr
    ihl = (hdr.vihl & 0x0F) * 4
    total = hdr.total
    if total == 0:
        total = end - off
        if buf is pkt.buf and end == pkt.caplen:  # snapped: the wire had more
            total += max(pkt.wirelen - pkt.caplen, 0)
        layer.hdr = hdr._replace(total=total)  # what stats and follow read as the length
        if total >= ihl:
            return total
    if pkt.quoted:  # the datagram quoted in an ICMP error is cut short on purpose
        return end - off
    layer.extra = ("ip.len", None)
    pkt.mark_malformed(layer, f"ip: total length {total} < header length {ihl}")
    pkt.info = pkt.info or f"Bogus IP length ({total}, less than header length {ihl})"
    return None


def _short_header(d, pkt: Packet, buf: bytes, off: int, end: int):
    """Under 20 bytes captured: Wireshark adds the fields that are there, then stops."""
    hdr = _new(IPv4Header, _HDR.unpack(bytes(buf[off:end]).ljust(20, b"\0")))
    layer = Layer("ip", "Internet Protocol Version 4 (truncated)", off, end, None, _rows)
    layer.extra = (_bogus_field(hdr, pkt.quoted), end, hdr)
    pkt.layers.append(layer)
    if end > off and hdr.version == 6:
        return registry.ETHERTYPES[0x86DD](d, pkt, buf, off, end)
    pkt.mark_malformed(layer, f"ip: header needs 20 bytes at offset {off}, have {end - off}")
    pkt.protocol, pkt.info = "IPv4", "[Malformed IPv4: truncated header]"
    return None


def _title(layer: Layer) -> str:
    if layer.extra is not None:  # a bogus header: its addresses mean nothing
        return "Internet Protocol Version 4"
    src, dst = layer.hdr.src, layer.hdr.dst
    return (
        f"Internet Protocol Version 4, Src: {socket.inet_ntoa(src)}, Dst: {socket.inet_ntoa(dst)}"
    )


def _rows(layer: Layer, buf: bytes):
    return checked_rows(layer, buf, _header_rows)


def _header_rows(hdr: IPv4Header, o: int, buf: bytes):
    vihl, tos, total, ident, frag, ttl, proto, csum, src, dst = hdr
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
        _len_row(total, o, buf),
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


def _len_row(total: int, o: int, buf: bytes):
    show = f"Total Length: {total}"
    if total and buf[o + 2 : o + 4] == b"\0\0":  # presumed by _short_total
        show = f"[Total Length: {total} bytes ({TSO_NOTE})]"
    return row("ip.len", total, show, o + 2, 2)


def _option_rows(buf: bytes, p: int, end: int):
    rows = []
    found, bad = walk_options(buf, p, end)  # IPv4 options are laid out as TCP's
    for kind, p, length in found:
        name = OPTION_NAMES.get(kind, f"Unknown ({kind})")
        if kind < 2:  # EOL, NOP: the type byte alone
            rows.append(row("ip.opt.type", kind, f"IP Option - {name}", p, 1))
            continue
        rows.append(row("ip.opt.type", kind, f"IP Option - {name} ({length} bytes)", p, length))
        rows.append(row("ip.opt.len", length, f"Length: {length}", p + 1, 1, 1))
    if bad >= 0:
        rows.append(row("_ws.malformed", "ip option", f"[Malformed IP option {buf[bad]}]", bad,
                        end - bad))  # fmt: skip
    return rows


# --- fast writers (model.JSON_WRITERS): the common option-less header as text ---------
_FLAG_JSON: dict[int, str] = {}
_FLAG_TREE: dict[int, str] = {}


def _plain(layer: Layer, buf: bytes) -> tuple | None:
    """The header tuple when it is the plain case the writers handle: sound, no
    options, all 20 bytes captured, a real total length (not TSO's 0)."""
    hdr = layer.hdr
    o = layer.off
    if layer.extra is not None or hdr.vihl != 0x45 or len(buf) < o + 20 or not hdr.total:
        return None
    if buf[o + 2] == 0 == buf[o + 3]:
        return None
    return hdr


def _checksum_good(buf: bytes, o: int) -> bool:
    """RFC 1071 over the 20-byte header, as one integer: 2**16 is 1 modulo 0xFFFF, so
    the header's value modulo 0xFFFF is its one's-complement sum of 16-bit words modulo
    0xFFFF, which is 0 exactly when the folded sum is 0xFFFF (the header is not all zero)."""
    return int.from_bytes(buf[o : o + 20], "big") % 0xFFFF == 0


def _flag_texts(flags: int) -> tuple[str, str]:
    """JSON members and tree lines of the three flag bits (8 combinations, cached)."""
    if flags not in _FLAG_JSON:
        bits = flag_rows("ip.flags", flags << 5, [
            ("rb", 0x80, "Reserved bit"), ("df", 0x40, "Don't fragment"),
            ("mf", 0x20, "More fragments"),
        ], 0, 1, 8)  # fmt: skip
        _FLAG_JSON[flags] = ",".join(f'"{r[1]}":{"true" if r[2] else "false"}' for r in bits)
        _FLAG_TREE[flags] = "\n".join("        " + show_text(r[3]) for r in bits)
    return _FLAG_JSON[flags], _FLAG_TREE[flags]


def _json(layer: Layer, buf: bytes) -> str | None:
    hdr = _plain(layer, buf)
    if hdr is None:
        return None
    _vihl, tos, total, ident, frag, ttl, proto, csum, src, dst = hdr
    # The fields come in runs with few distinct values; each run's text is made once.
    head = _JSON_TOS.get(tos) or _json_tos(tos)
    middle = _JSON_FRAG_TTL.get((frag, ttl, proto)) or _json_frag_ttl(frag, ttl, proto)
    addrs = _JSON_ADDRS.get(src + dst) or _json_addrs(src, dst)
    good = 1 if _checksum_good(buf, layer.off) else 0
    return (
        f'{head}"ip.len":{total},"ip.id":{ident},{middle},"ip.checksum":{csum},'
        f'"ip.checksum.status":{good},{addrs}'
    )


_JSON_TOS: dict[int, str] = {}
_JSON_FRAG_TTL: dict[tuple, str] = {}
_JSON_ADDRS: dict[bytes, str] = {}


def _json_tos(tos: int) -> str:
    text = _JSON_TOS[tos] = (
        f'"ip.version":4,"ip.hdr_len":20,"ip.dsfield":{tos},"ip.dsfield.dscp":{tos >> 2},'
        f'"ip.dsfield.ecn":{tos & 3},'
    )
    return text


def _json_frag_ttl(frag: int, ttl: int, proto: int) -> str:
    flags = _flag_texts(frag >> 13)[0]
    return remember(_JSON_FRAG_TTL, (frag, ttl, proto), (
        f'"ip.flags":{frag >> 13},{flags},"ip.frag_offset":{(frag & 0x1FFF) * 8},'
        f'"ip.ttl":{ttl},"ip.proto":{proto}'
    ))  # fmt: skip


def _json_addrs(src: bytes, dst: bytes) -> str:
    text = f'"ip.src":"{socket.inet_ntoa(src)}","ip.dst":"{socket.inet_ntoa(dst)}"'
    return remember(_JSON_ADDRS, src + dst, text)


def _tree(layer: Layer, buf: bytes) -> str | None:
    hdr = _plain(layer, buf)
    if hdr is None:
        return None
    _vihl, tos, total, ident, frag, ttl, proto, csum, src, dst = hdr
    # As _json: the runs of few distinct values made once each (title and addresses,
    # the DS field, flags to protocol); per packet, only the numbers that always change.
    addrs = _TREE_ADDRS.get(src + dst) or _tree_addrs(src, dst)
    middle = _TREE_FRAG_TTL.get((frag, ttl, proto)) or _tree_frag_ttl(frag, ttl, proto)
    good = "Good" if _checksum_good(buf, layer.off) else "Bad"
    return (
        f"{addrs[0]}{_TREE_TOS.get(tos) or _tree_tos(tos)}"
        f"    Total Length: {total}\n"
        f"    Identification: 0x{ident:04x} ({ident})\n{middle}"
        f"    Header Checksum: 0x{csum:04x}\n"
        f"        [Header checksum status: {good}]\n{addrs[1]}"
    )


_TREE_TOS: dict[int, str] = {}
_TREE_FRAG_TTL: dict[tuple, str] = {}
_TREE_ADDRS: dict[bytes, tuple[str, str]] = {}


def _tree_tos(tos: int) -> str:
    """The tree's lines from the version to the DS field."""
    return remember(_TREE_TOS, tos, (
        "    0100 .... = Version: 4\n"
        "    .... 0101 = Header Length: 20 bytes (5)\n"
        f"    Differentiated Services Field: 0x{tos:02x}\n"
        f"        Differentiated Services Codepoint: {tos >> 2}\n"
        f"        Explicit Congestion Notification: {ECN_NAMES[tos & 3]}\n"
    ))  # fmt: skip


def _tree_frag_ttl(frag: int, ttl: int, proto: int) -> str:
    """The tree's lines from the flags to the protocol."""
    return remember(_TREE_FRAG_TTL, (frag, ttl, proto), (
        f"    Flags: 0x{frag >> 13:x}\n{_flag_texts(frag >> 13)[1]}\n"
        f"    Fragment Offset: {(frag & 0x1FFF) * 8}\n"
        f"    Time to Live: {ttl}\n"
        f"    Protocol: {IP_PROTO_NAMES.get(proto, 'Unknown')} ({proto})\n"
    ))  # fmt: skip


def _tree_addrs(src: bytes, dst: bytes) -> tuple[str, str]:
    """The tree's title line and its last two lines (the addresses)."""
    src_text, dst_text = socket.inet_ntoa(src), socket.inet_ntoa(dst)
    return remember(_TREE_ADDRS, src + dst, (
        f"Internet Protocol Version 4, Src: {src_text}, Dst: {dst_text}\n",
        f"    Source Address: {src_text}\n    Destination Address: {dst_text}",
    ))  # fmt: skip


registry.register(
    "ip",
    writers={_rows: (_json, _tree)},
    ethertypes={0x0800: decode_ip},
    ip_protocols={4: decode_ip},
)  # 4: IP in IP
