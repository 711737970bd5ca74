"""ICMP (RFC 792, RFC 1812, RFC 1191): every type and code by name; errors quote a datagram.

The datagram quoted inside an error (the original IP header + at least 8 bytes)
is decoded as its own layers, as Wireshark does, so a traceroute reply shows
the UDP or TCP probe that triggered it.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

import netlab.dissect.registry as registry
from netlab.dissect.base import decode_data
from netlab.dissect.model import Layer, Packet, row


class IcmpHeader(NamedTuple):
    type: int
    code: int
    checksum: int
    ident: int  # the second word's halves (echo identifier and sequence number; for
    seq: int  # other types the MTU, gateway or pointer): 0 when cut before byte 8


_HDR = struct.Struct("!BBHHH")
# (bound once: compiled, a module name is a cached lookup, an attribute a search)
_unpack_hdr = _HDR.unpack_from
_new = tuple.__new__

# type: (name, {code: name})
ICMP_TYPES: dict[int, tuple[str, dict[int, str]]] = {
    0: ("Echo (ping) reply", {}),
    3: ("Destination unreachable", {
        0: "Network unreachable", 1: "Host unreachable", 2: "Protocol unreachable",
        3: "Port unreachable", 4: "Fragmentation needed", 5: "Source route failed",
        6: "Destination network unknown", 7: "Destination host unknown",
        8: "Source host isolated", 9: "Network administratively prohibited",
        10: "Host administratively prohibited", 11: "Network unreachable for TOS",
        12: "Host unreachable for TOS", 13: "Communication administratively filtered",
        14: "Host precedence violation", 15: "Precedence cutoff in effect",
    }),
    4: ("Source quench (flow control)", {}),
    5: ("Redirect", {
        0: "Redirect for network", 1: "Redirect for host",
        2: "Redirect for TOS and network", 3: "Redirect for TOS and host",
    }),
    8: ("Echo (ping) request", {}),
    9: ("Router advertisement", {0: "Normal router advertisement", 16: "Does not route common traffic"}),
    10: ("Router solicitation", {}),
    11: ("Time-to-live exceeded", {
        0: "Time to live exceeded in transit", 1: "Fragment reassembly time exceeded",
    }),
    12: ("Parameter problem", {0: "Pointer indicates the error", 1: "Required option missing",
                               2: "Bad length"}),
    13: ("Timestamp request", {}),
    14: ("Timestamp reply", {}),
    15: ("Information request", {}),
    16: ("Information reply", {}),
    17: ("Address mask request", {}),
    18: ("Address mask reply", {}),
    30: ("Traceroute", {}),
}  # fmt: skip
ERROR_TYPES = (3, 4, 5, 11, 12)
ECHO_TYPES = (0, 8, 13, 14, 15, 16, 17, 18)


def type_name(icmp_type: int) -> str:
    return ICMP_TYPES.get(icmp_type, (f"Unknown ICMP (obsolete or malformed?) ({icmp_type})", {}))[
        0
    ]


def code_name(icmp_type: int, code: int) -> str | None:
    codes = ICMP_TYPES.get(icmp_type, ("", {}))[1]
    return codes.get(code)


def _echo_info(name: str, ident: int, seq: int, ttl: int) -> str:
    le_seq = (seq >> 8) | ((seq & 0xFF) << 8)
    return f"{name:<20} id=0x{ident:04x}, seq={seq}/{le_seq}, ttl={ttl}"  # (Wireshark's %-20s)


class EchoRequests:
    """Wireshark's request/response tracking of pings, in one pass: an echo reply names
    the request it answers (" (request in N)", icmp.resp_to, icmp.resptime): the last
    request with the same addresses (swapped), identifier and sequence number that no
    reply has answered yet. ICMPv6 echoes use it too. Bounded: past MAX unanswered
    requests the oldest is forgotten."""

    MAX = 65536

    def __init__(self) -> None:
        self.waiting: dict[tuple, tuple[int, int]] = {}

    def request(self, key: tuple, no: int, ts_ns: int) -> None:
        self.waiting.pop(key, None)  # a request sent again: the reply answers the last one
        self.waiting[key] = (no, ts_ns)
        if len(self.waiting) > self.MAX:
            del self.waiting[next(iter(self.waiting))]

    def reply(self, key: tuple, no: int, ts_ns: int) -> tuple[int, float] | None:
        """(request frame, response time in ms) for the reply with the request's KEY."""
        found = self.waiting.get(key)
        if found is None or found[0] >= no:
            return None
        del self.waiting[key]
        return found[0], (ts_ns - found[1]) / 1e6


# What an echo says of its partner: ("request in", frame, ms) on a reply; with -2's
# answers known, ("reply in", frame, 0.0) or (NO_RESPONSE, its own frame, 0.0) on a
# request.
NO_RESPONSE = "no response found!"


def track_echo(d, icmp_type: int, src: bytes, dst: bytes, word: int, no: int, ts_ns: int,
               request: int = 8, reply: int = 0) -> tuple[str, int, float] | None:  # fmt: skip
    """Note an echo request, or find what an echo reply answers (see EchoRequests)."""
    if icmp_type == request:
        d.echoes.request((src, dst, word), no, ts_ns)
        if d.answers is None:
            return None
        answer = d.answers.get(no)
        return ("reply in", answer, 0.0) if answer else (NO_RESPONSE, no, 0.0)
    if icmp_type == reply:
        found = d.echoes.reply((dst, src, word), no, ts_ns)
        if found is None:
            return None
        if d.answers_found is not None:  # -2's first pass
            d.answers_found[found[0]] = no
        return ("request in", *found)
    return None


def link_info(link: tuple[str, int, float]) -> str:
    """The Info column's end: " (request in 3)", " (reply in 4)", " (no response found!)"."""
    return f" ({NO_RESPONSE})" if link[0] == NO_RESPONSE else f" ({link[0]} {link[1]})"


def columns(d, no: int, buf: bytes, off: int, end: int, ttl: int, src: bytes, dst: bytes,
            ts_ns: int | None):  # fmt: skip
    """The one-line view's (protocol, info) of an echo-style message without a Packet;
    None for the rest (errors quote a datagram, decoded by decode_icmp)."""
    if end - off < 8:
        return None
    icmp_type, _code, _csum, ident, seq = _unpack_hdr(buf, off)
    if icmp_type not in ECHO_TYPES:
        return None
    info = _echo_info(type_name(icmp_type), ident, seq, ttl)
    link = track_echo(d, icmp_type, src, dst, ident << 16 | seq, no, ts_ns or 0)
    return "ICMP", info if link is None else info + link_info(link)


def decode_icmp(d, pkt: Packet, buf: bytes, off: int, end: int):
    if end - off < 4:
        layer = Layer("icmp", "Internet Control Message Protocol (truncated)", off, end, None, None)
        pkt.layers.append(layer)
        pkt.mark_malformed(layer, f"icmp: needs 4 bytes at offset {off}")
        return None
    have_rest = end - off >= 8
    hdr = _new(IcmpHeader, _unpack_hdr(buf, off) if have_rest
               else (*struct.unpack_from("!BBH", buf, off), 0, 0))  # fmt: skip
    icmp_type, code, _csum, ident, seq = hdr
    layer = Layer("icmp", "Internet Control Message Protocol", off, min(end, off + 8), hdr, _rows)
    pkt.layers.append(layer)
    if pkt.quoted:
        return None  # an ICMP message quoted inside an error: its header is enough
    pkt.protocol = "ICMP"
    name = type_name(icmp_type)
    cname = code_name(icmp_type, code)
    if icmp_type in ECHO_TYPES and have_rest:
        ttl = pkt.layers[-2].hdr.ttl if len(pkt.layers) >= 2 and pkt.layers[-2].proto == "ip" else 0
        pkt.info = _echo_info(name, ident, seq, ttl)
        link = track_echo(d, icmp_type, pkt.src_raw, pkt.dst_raw, ident << 16 | seq, pkt.no,
                          pkt.ts_ns)  # fmt: skip
        if link is not None:
            layer.extra = link
            pkt.info += link_info(link)
    else:
        pkt.info = f"{name} ({cname})" if cname else name
        if icmp_type == 3 and code == 4 and have_rest:
            pkt.info += f" [next-hop MTU {seq}]"
    if not have_rest:
        pkt.mark_malformed(layer, f"icmp: header needs 8 bytes at offset {off}, have {end - off}")
        return None
    if icmp_type in ERROR_TYPES and end - off > 8:
        pkt.quoted += 1
        return registry.ETHERTYPES[0x0800](d, pkt, buf, off + 8, end)
    return decode_data(d, pkt, buf, off + 8, end)


def _rows(layer: Layer, buf: bytes):
    icmp_type, code, csum, ident, seq = layer.hdr
    o = layer.off
    cname = code_name(icmp_type, code)
    rows = [
        row("icmp.type", icmp_type, f"Type: {icmp_type} ({type_name(icmp_type)})", o, 1),
        row("icmp.code", code, f"Code: {code}" + (f" ({cname})" if cname else ""), o + 1, 1),
        row("icmp.checksum", csum, f"Checksum: 0x{csum:04x}", o + 2, 2),
    ]
    if icmp_type in ECHO_TYPES:
        le = lambda v: (v >> 8) | ((v & 0xFF) << 8)  # noqa: E731 — Wireshark shows both orders
        rows += [
            row("icmp.ident", ident, f"Identifier (BE): {ident} (0x{ident:04x})", o + 4, 2),
            row("icmp.ident_le", le(ident), f"Identifier (LE): {le(ident)} (0x{le(ident):04x})",
                o + 4, 2),
            row("icmp.seq", seq, f"Sequence Number (BE): {seq} (0x{seq:04x})", o + 6, 2),
            row("icmp.seq_le", le(seq), f"Sequence Number (LE): {le(seq)} (0x{le(seq):04x})",
                o + 6, 2),
        ]  # fmt: skip
        rows += link_rows("icmp", layer.extra)
    elif icmp_type == 3 and code == 4:
        rows.append(row("icmp.mtu", seq, f"MTU of next hop: {seq}", o + 6, 2))
    elif icmp_type == 5:
        gw = ".".join(str(b) for b in struct.pack("!HH", ident, seq))
        rows.append(row("icmp.redir_gw", gw, f"Gateway Address: {gw}", o + 4, 4))
    elif icmp_type == 12:
        rows.append(row("icmp.pointer", ident >> 8, f"Pointer: {ident >> 8}", o + 4, 1))
    return rows


# Wireshark's words and names for the links: (request frame, response time, response frame)
_LINK_WORDS = {"icmp": ("Request frame", "Response time", "Response frame"),
               "icmpv6": ("Response To", "Response Time", "Response In")}  # fmt: skip
_LINK_NAMES = {
    "icmp": ("icmp.resp_to", "icmp.resptime", "icmp.resp_in", "icmp.no_resp"),
    "icmpv6": ("icmpv6.resp_to", "icmpv6.resptime", "icmpv6.resp_in", "icmpv6.no_resp"),
}


def link_rows(proto: str, link: tuple[str, int, float] | None) -> list:
    """An echo's partner (track_echo), as Wireshark names it."""
    if link is None:
        return []
    kind, no, ms = link
    words, names = _LINK_WORDS[proto], _LINK_NAMES[proto]
    if kind == "request in":
        return [row(names[0], no, f"[{words[0]}: {no}]"),
                row(names[1], ms, f"[{words[1]}: {ms:.3f} ms]")]  # fmt: skip
    if kind == "reply in":
        return [row(names[2], no, f"[{words[2]}: {no}]")]
    return [row(names[3], True, "[No response seen]"),
            (1, "", "", f"[Expert Info (Warning/Sequence): {no_response_text(proto, no)}]", 0,
             0)]  # fmt: skip


def no_response_text(proto: str, no: int) -> str:
    """Wireshark's expert text for a ping no reply answered (-2), request in frame NO."""
    return "No response seen to " + (
        "ICMP request" if proto == "icmp" else f"ICMPv6 request in frame {no}"
    )


def link_text(proto: str, link: tuple[str, int, float] | None, tree: bool) -> str | None:
    """link_rows as the fast writers write them ("" for none; None: take the rows)."""
    if link is None:
        return ""
    kind, no, ms = link
    words = _LINK_WORDS[proto]
    if kind == "request in":
        if tree:
            return f"\n    [{words[0]}: {no}]\n    [{words[1]}: {ms:.3f} ms]"
        return f',"{proto}.resp_to":{no},"{proto}.resptime":{ms!r}'
    if kind == "reply in":
        return f"\n    [{words[2]}: {no}]" if tree else f',"{proto}.resp_in":{no}'
    return None


# --- fast writers (model.JSON_WRITERS): the fields of _rows, written as text -----------
# Every type's rows are a few plain numbers, so the writers cover them all; a packet
# cut before byte 8 is malformed (tree: generic path) and its rows hold zeros, as here.
_HEAD_TREE: dict[int, str] = {}


def _head_tree(icmp_type: int, code: int) -> str:
    """Heading, Type and Code lines: few (type, code) pairs occur, so cached."""
    key = icmp_type << 8 | code
    text = _HEAD_TREE.get(key)
    if text is None:
        cname = code_name(icmp_type, code)
        text = _HEAD_TREE[key] = (
            "Internet Control Message Protocol\n"
            f"    Type: {icmp_type} ({type_name(icmp_type)})\n"
            f"    Code: {code}" + (f" ({cname})" if cname else "")
        )
    return text


def _rest(icmp_type: int, code: int, ident: int, seq: int, tree: bool) -> str:
    """The fields in the rest of the header (after the checksum) as tree lines or as
    JSON members, each after a newline or a comma; the types without any: ""."""
    if icmp_type in ECHO_TYPES:
        ident_le = ident >> 8 | (ident & 0xFF) << 8
        seq_le = seq >> 8 | (seq & 0xFF) << 8
        if tree:
            return (
                f"\n    Identifier (BE): {ident} (0x{ident:04x})\n"
                f"    Identifier (LE): {ident_le} (0x{ident_le:04x})\n"
                f"    Sequence Number (BE): {seq} (0x{seq:04x})\n"
                f"    Sequence Number (LE): {seq_le} (0x{seq_le:04x})"
            )
        return (
            f',"icmp.ident":{ident},"icmp.ident_le":{ident_le},'
            f'"icmp.seq":{seq},"icmp.seq_le":{seq_le}'
        )
    if icmp_type == 3 and code == 4:
        return f"\n    MTU of next hop: {seq}" if tree else f',"icmp.mtu":{seq}'
    if icmp_type == 5:
        gw = f"{ident >> 8}.{ident & 0xFF}.{seq >> 8}.{seq & 0xFF}"
        return f"\n    Gateway Address: {gw}" if tree else f',"icmp.redir_gw":"{gw}"'
    if icmp_type == 12:
        return f"\n    Pointer: {ident >> 8}" if tree else f',"icmp.pointer":{ident >> 8}'
    return ""


def _fast(layer: Layer, tree: bool) -> str | None:
    """The fast writers' text: tree lines (TREE) or JSON members."""
    icmp_type, code, csum, ident, seq = layer.hdr
    link = link_text("icmp", layer.extra, tree)
    if link is None:
        return None  # (a ping no reply answered: the rows, with its expert line)
    rest = _rest(icmp_type, code, ident, seq, tree)
    if tree:
        return f"{_head_tree(icmp_type, code)}\n    Checksum: 0x{csum:04x}{rest}{link}"
    return f'"icmp.type":{icmp_type},"icmp.code":{code},"icmp.checksum":{csum}{rest}{link}'


def _json(layer: Layer, buf: bytes) -> str | None:
    return _fast(layer, False)


def _tree(layer: Layer, buf: bytes) -> str | None:
    return _fast(layer, True)


registry.register("icmp", writers={_rows: (_json, _tree)}, ip_protocols={1: decode_icmp})
