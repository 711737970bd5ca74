"""ICMPv6 (RFC 4443) and Neighbor Discovery (RFC 4861): echo, errors, RS/RA/NS/NA/Redirect."""

from __future__ import annotations

import struct
from typing import NamedTuple

import netlab.dissect.registry as registry
from netlab.dissect.icmp import link_info, link_rows, link_text, track_echo
from netlab.dissect.ipv6 import ntop6
from netlab.dissect.link import mac
from netlab.dissect.model import Layer, Packet, row

ICMPV6_TYPES: dict[int, tuple[str, dict[int, str]]] = {
    1: ("Destination Unreachable", {
        0: "no route to destination", 1: "communication with destination administratively prohibited",
        2: "beyond scope of source address", 3: "address unreachable", 4: "port unreachable",
        5: "source address failed ingress/egress policy", 6: "reject route to destination",
    }),
    2: ("Packet Too Big", {}),
    3: ("Time Exceeded", {0: "hop limit exceeded in transit", 1: "fragment reassembly time exceeded"}),
    4: ("Parameter Problem", {0: "erroneous header field encountered",
                              1: "unrecognized Next Header type encountered",
                              2: "unrecognized IPv6 option encountered"}),
    128: ("Echo (ping) request", {}),
    129: ("Echo (ping) reply", {}),
    130: ("Multicast Listener Query", {}),
    131: ("Multicast Listener Report", {}),
    132: ("Multicast Listener Done", {}),
    133: ("Router Solicitation", {}),
    134: ("Router Advertisement", {}),
    135: ("Neighbor Solicitation", {}),
    136: ("Neighbor Advertisement", {}),
    137: ("Redirect", {}),
    143: ("Multicast Listener Report Message v2", {}),
}  # fmt: skip
ERROR_TYPES = (1, 2, 3, 4)
ND_OPTIONS = {
    1: "Source link-layer address", 2: "Target link-layer address", 3: "Prefix information",
    4: "Redirected header", 5: "MTU", 25: "Recursive DNS Server", 31: "DNS Search List",
}  # fmt: skip
MAX_ND_OPTIONS = 64


class Icmpv6Header(NamedTuple):
    type: int
    code: int
    checksum: int
    word: int  # the second word (echo identifier and sequence, MTU …): 0 when cut short


def type_name(t: int) -> str:
    return ICMPV6_TYPES.get(t, (f"Unknown ({t})", {}))[0]


def decode_icmpv6(d, pkt: Packet, buf: bytes, off: int, end: int):
    if end - off < 4:
        layer = Layer(
            "icmpv6", "Internet Control Message Protocol v6 (truncated)", off, end, None, None
        )
        pkt.layers.append(layer)
        pkt.mark_malformed(layer, f"icmpv6: needs 4 bytes at offset {off}")
        return None
    icmp_type, code, csum = struct.unpack_from("!BBH", buf, off)
    word = struct.unpack_from("!I", buf, off + 4)[0] if end - off >= 8 else 0
    layer = Layer("icmpv6", "Internet Control Message Protocol v6", off, end,
                  Icmpv6Header(icmp_type, code, csum, word), _rows)  # fmt: skip
    pkt.layers.append(layer)
    if pkt.quoted:
        return None
    pkt.protocol = "ICMPv6"
    name = type_name(icmp_type)
    cname = ICMPV6_TYPES.get(icmp_type, ("", {}))[1].get(code)
    info = f"{name} ({cname})" if cname else name
    if icmp_type in (128, 129) and end - off >= 8:
        hlim = pkt.layers[0].hdr.hlim if pkt.layers and pkt.layers[0].proto == "ipv6" else None
        for lay in pkt.layers:
            if lay.proto == "ipv6":
                hlim = lay.hdr.hlim
        info = _echo_info(name, word, hlim)
        link = track_echo(d, icmp_type, pkt.src_raw, pkt.dst_raw, word, pkt.no, pkt.ts_ns, 128,
                          129)  # fmt: skip
        if link is not None:
            layer.extra = link
            info += link_info(link)
    elif icmp_type == 2:
        info = f"{name} (MTU {word})"
    elif icmp_type in (135, 136) and end - off >= 24:
        target = ntop6(buf[off + 8 : off + 24])
        info = f"{name} for {target}" if icmp_type == 135 else f"{name} {target}"
        lladdr = _first_lladdr(buf, off + 24, end)
        if lladdr:
            info += f" from {lladdr}" if icmp_type == 135 else f" (is at {lladdr})"
    elif icmp_type == 137 and end - off >= 40:
        info = f"{name} to {ntop6(buf[off + 8 : off + 24])}"
    pkt.info = info
    if icmp_type in ERROR_TYPES and end - off > 8:
        pkt.quoted += 1
        return registry.ETHERTYPES[0x86DD](d, pkt, buf, off + 8, end)
    return None


def columns(d, no: int, buf: bytes, off: int, end: int, hop_limit: int, src: bytes, dst: bytes,
            ts_ns: int | None) -> tuple[str, str] | None:  # fmt: skip
    """The one-line view's (protocol, info) of an echo without a Packet; None for the
    rest (errors quote a datagram, NDP has options: decode_icmpv6 shows them)."""
    if end - off < 8 or buf[off] not in (128, 129):
        return None
    word = _WORD.unpack_from(buf, off + 4)[0]
    info = _echo_info(type_name(buf[off]), word, hop_limit)
    link = track_echo(d, buf[off], src, dst, word, no, ts_ns or 0, 128, 129)
    return "ICMPv6", info if link is None else info + link_info(link)


def _echo_info(name: str, word: int, hop_limit: int | None) -> str:
    return f"{name} id=0x{word >> 16:04x}, seq={word & 0xFFFF}, hop limit={hop_limit}"


_WORD = struct.Struct("!I")


def _first_lladdr(buf: bytes, p: int, end: int) -> str | None:
    for _ in range(MAX_ND_OPTIONS):
        if p + 2 > end or buf[p + 1] == 0:
            return None
        kind, length = buf[p], buf[p + 1] * 8
        if kind in (1, 2) and length >= 8 and p + 8 <= end:
            return mac(buf[p + 2 : p + 8])
        p += length
    return None


def _nd_option_rows(buf: bytes, p: int, end: int):
    rows = []
    for _ in range(MAX_ND_OPTIONS):
        if p + 2 > end:
            break
        kind, units = buf[p], buf[p + 1]
        if units == 0 or p + units * 8 > end:
            rows.append(row("_ws.malformed", "icmpv6 option", "[Malformed ND option]", p, end - p))
            break
        length = units * 8
        name = ND_OPTIONS.get(kind, "Unknown")
        rows.append(row("icmpv6.opt.type", kind, f"ICMPv6 Option ({name})", p, length))
        if kind in (1, 2) and length >= 8:
            rows.append(
                row(
                    "icmpv6.opt.linkaddr",
                    mac(buf[p + 2 : p + 8]),
                    f"Link-layer address: {mac(buf[p + 2 : p + 8])}",
                    p + 2,
                    6,
                    1,
                )
            )
        elif kind == 3 and length >= 32:
            plen = buf[p + 2]
            prefix = ntop6(buf[p + 16 : p + 32])
            rows.append(row("icmpv6.opt.prefix", prefix, f"Prefix: {prefix}/{plen}", p + 16, 16, 1))
        elif kind == 5 and length >= 8:
            mtu = struct.unpack_from("!I", buf, p + 4)[0]
            rows.append(row("icmpv6.opt.mtu", mtu, f"MTU: {mtu}", p + 4, 4, 1))
        p += length
    return rows


def _rows(layer: Layer, buf: bytes):
    icmp_type, code, csum, word = layer.hdr
    o, end = layer.off, layer.end
    cname = ICMPV6_TYPES.get(icmp_type, ("", {}))[1].get(code)
    rows = [
        row("icmpv6.type", icmp_type, f"Type: {type_name(icmp_type)} ({icmp_type})", o, 1),
        row("icmpv6.code", code, f"Code: {code}" + (f" ({cname})" if cname else ""), o + 1, 1),
        row("icmpv6.checksum", csum, f"Checksum: 0x{csum:04x}", o + 2, 2),
    ]
    if icmp_type in (128, 129):
        rows.append(
            row("icmpv6.echo.identifier", word >> 16, f"Identifier: 0x{word >> 16:04x}", o + 4, 2)
        )
        rows.append(
            row(
                "icmpv6.echo.sequence_number", word & 0xFFFF, f"Sequence: {word & 0xFFFF}", o + 6, 2
            )
        )
        rows += link_rows("icmpv6", layer.extra)
    elif icmp_type == 2:
        rows.append(row("icmpv6.mtu", word, f"MTU: {word}", o + 4, 4))
    elif icmp_type == 134 and end - o >= 16:
        hop, flags, lifetime = struct.unpack_from("!BBH", buf, o + 4)
        rows += [
            row("icmpv6.nd.ra.cur_hop_limit", hop, f"Cur hop limit: {hop}", o + 4, 1),
            row("icmpv6.nd.ra.flag", flags, f"Flags: 0x{flags:02x}", o + 5, 1),
            row("icmpv6.nd.ra.router_lifetime", lifetime, f"Router lifetime (s): {lifetime}", o + 6, 2),
        ]  # fmt: skip
        rows += _nd_option_rows(buf, o + 16, end)
    elif icmp_type == 133:
        rows += _nd_option_rows(buf, o + 8, end)
    elif icmp_type in (135, 136) and end - o >= 24:
        target = ntop6(buf[o + 8 : o + 24])
        if icmp_type == 136:
            rows += [
                row("icmpv6.nd.na.flag.r", bool(word >> 31 & 1), f"Router: {bool(word >> 31 & 1)}", o + 4, 4, 1),
                row("icmpv6.nd.na.flag.s", bool(word >> 30 & 1), f"Solicited: {bool(word >> 30 & 1)}", o + 4, 4, 1),
                row("icmpv6.nd.na.flag.o", bool(word >> 29 & 1), f"Override: {bool(word >> 29 & 1)}", o + 4, 4, 1),
            ]  # fmt: skip
        field = "icmpv6.nd.ns.target_address" if icmp_type == 135 else "icmpv6.nd.na.target_address"
        rows.append(row(field, target, f"Target Address: {target}", o + 8, 16))
        rows += _nd_option_rows(buf, o + 24, end)
    return rows


# --- fast writers (model.JSON_WRITERS): the fields of _rows, written as text -----------
# Echo is the common case and one f-string; Neighbor Discovery goes through _nd_texts,
# which also merges repeated option names into JSON lists as the generic path does. A
# malformed ND option returns None (the generic path shows its _ws.malformed row).
_HEAD_TREE: dict[int, str] = {}
_NA_FLAGS: dict[int, tuple[str, str]] = {}


def _head_tree(icmp_type: int, code: int) -> str:
    """Heading, Type and Code lines: few (type, code) pairs occur, so cached."""
    key = icmp_type << 8 | code
    text = _HEAD_TREE.get(key)
    if text is None:
        cname = ICMPV6_TYPES.get(icmp_type, ("", {}))[1].get(code)
        text = _HEAD_TREE[key] = (
            "Internet Control Message Protocol v6\n"
            f"    Type: {type_name(icmp_type)} ({icmp_type})\n"
            f"    Code: {code}" + (f" ({cname})" if cname else "")
        )
    return text


def _na_flags(bits: int) -> tuple[str, str]:
    """JSON members and tree lines of the R, S, O bits (8 combinations, cached)."""
    texts = _NA_FLAGS.get(bits)
    if texts is None:
        flags = [("r", "Router", bool(bits & 4)), ("s", "Solicited", bool(bits & 2)),
                 ("o", "Override", bool(bits & 1))]  # fmt: skip
        texts = _NA_FLAGS[bits] = (
            "".join(f',"icmpv6.nd.na.flag.{k}":{"true" if v else "false"}' for k, _, v in flags),
            "".join(f"\n        {label}: {v}" for _, label, v in flags),
        )
    return texts


def _nd_texts(layer: Layer, buf: bytes) -> tuple[str, str] | None:
    """JSON members and tree lines after the checksum for RS/RA/NS/NA (each starting with
    a separator), or None when an option is malformed. ("", "") for other types."""
    icmp_type, _code, _csum, word = layer.hdr
    o, end = layer.off, layer.end
    if icmp_type == 134 and end - o >= 16:
        hop, flags, lifetime = buf[o + 4], buf[o + 5], buf[o + 6] << 8 | buf[o + 7]
        json = (
            f',"icmpv6.nd.ra.cur_hop_limit":{hop},"icmpv6.nd.ra.flag":{flags},'
            f'"icmpv6.nd.ra.router_lifetime":{lifetime}'
        )
        tree = (
            f"\n    Cur hop limit: {hop}\n    Flags: 0x{flags:02x}\n"
            f"    Router lifetime (s): {lifetime}"
        )
        p = o + 16
    elif icmp_type == 133:
        json = tree = ""
        p = o + 8
    elif icmp_type in (135, 136) and end - o >= 24:
        target = ntop6(buf[o + 8 : o + 24])
        json, tree = _na_flags(word >> 29 & 7) if icmp_type == 136 else ("", "")
        kind = "ns" if icmp_type == 135 else "na"
        json += f',"icmpv6.nd.{kind}.target_address":"{target}"'
        tree += f"\n    Target Address: {target}"
        p = o + 24
    else:
        return "", ""
    values: dict[str, list[str]] = {}  # option field name -> JSON values, first seen first
    for _ in range(MAX_ND_OPTIONS):
        if p + 2 > end:
            break
        kind, units = buf[p], buf[p + 1]
        if units == 0 or p + units * 8 > end:
            return None
        values.setdefault("icmpv6.opt.type", []).append(str(kind))
        tree += f"\n    ICMPv6 Option ({ND_OPTIONS.get(kind, 'Unknown')})"
        if kind in (1, 2):  # units >= 1: the 6 address bytes are there
            addr = mac(buf[p + 2 : p + 8])
            values.setdefault("icmpv6.opt.linkaddr", []).append(f'"{addr}"')
            tree += f"\n        Link-layer address: {addr}"
        elif kind == 3 and units >= 4:
            prefix = ntop6(buf[p + 16 : p + 32])
            values.setdefault("icmpv6.opt.prefix", []).append(f'"{prefix}"')
            tree += f"\n        Prefix: {prefix}/{buf[p + 2]}"
        elif kind == 5:
            mtu = int.from_bytes(buf[p + 4 : p + 8])
            values.setdefault("icmpv6.opt.mtu", []).append(str(mtu))
            tree += f"\n        MTU: {mtu}"
        p += units * 8
    for name, vals in values.items():
        json += f',"{name}":{vals[0]}' if len(vals) == 1 else f',"{name}":[{",".join(vals)}]'
    return json, tree


def _fast(layer: Layer, buf: bytes, tree: bool) -> str | None:
    """The fast writers' text: tree lines (TREE) or JSON members."""
    icmp_type, code, csum, word = layer.hdr
    if tree:
        head = f"{_head_tree(icmp_type, code)}\n    Checksum: 0x{csum:04x}"
    else:
        head = f'"icmpv6.type":{icmp_type},"icmpv6.code":{code},"icmpv6.checksum":{csum}'
    if icmp_type == 128 or icmp_type == 129:
        link = link_text("icmpv6", layer.extra, tree)
        if link is None:
            return None  # (a ping no reply answered: the rows, with its expert line)
        ident, seq = word >> 16, word & 0xFFFF
        if tree:
            return f"{head}\n    Identifier: 0x{ident:04x}\n    Sequence: {seq}{link}"
        return f'{head},"icmpv6.echo.identifier":{ident},"icmpv6.echo.sequence_number":{seq}{link}'
    if icmp_type == 2:
        return head + (f"\n    MTU: {word}" if tree else f',"icmpv6.mtu":{word}')
    nd = _nd_texts(layer, buf)
    return None if nd is None else head + nd[1 if tree else 0]


def _json(layer: Layer, buf: bytes) -> str | None:
    return _fast(layer, buf, False)


def _tree(layer: Layer, buf: bytes) -> str | None:
    return _fast(layer, buf, True)


registry.register("icmpv6", writers={_rows: (_json, _tree)}, ip_protocols={58: decode_icmpv6})
