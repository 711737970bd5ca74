"""ICMPv6 (RFC 4443) and Neighbor Discovery (RFC 4861): echo, errors, RS/RA/NS/NA/Redirect."""

from __future__ import annotations

import struct

from netlab.dissect import registry
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
                  (icmp_type, code, csum, word), _rows)  # fmt: skip
    pkt.layers.append(layer)
    if pkt.quoted:
        return None
    pkt.protocol = "ICMPv6"
    name = type_name(icmp_type)
    cname = ICMPV6_TYPES.get(icmp_type, ("", {}))[1].get(code)
    info = f"{name} ({cname})" if cname else name
    if icmp_type in (128, 129) and end - off >= 8:
        hlim = pkt.layers[0].hdr[3] if pkt.layers and pkt.layers[0].proto == "ipv6" else None
        for lay in pkt.layers:
            if lay.proto == "ipv6":
                hlim = lay.hdr[3]
        info = f"{name} id=0x{word >> 16:04x}, seq={word & 0xFFFF}, hop limit={hlim}"
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


registry.IP_PROTOCOLS[58] = decode_icmpv6
