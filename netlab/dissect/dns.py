"""DNS in the dissector: UDP and TCP port 53, fields named as Wireshark names them.

The wire format is decoded by `netlab.wire.dns` (shared with `netlab dns-query`),
which never raises on hostile input: a bad message comes back partly decoded with
`.malformed` set, and the layer is marked malformed where it broke.

Over TCP a message has a two-byte length prefix (RFC 1035 4.2.2, RFC 7766) and
may span several segments: DNS registers a `StreamProtocol` and the TCP code
reassembles, without knowing anything about DNS.
"""

from __future__ import annotations

import re
import socket
import struct
from collections import defaultdict
from json.encoder import encode_basestring as _jstr  # json.dumps(str) without ASCII escapes
from typing import Any, NamedTuple

import netlab.dissect.registry as registry
from netlab.dissect.model import (
    ONE_PER_SEGMENT,
    Layer,
    Packet,
    cut_rows,
    flag_rows,
    remember,
    row,
    show_text,
)  # fmt: skip
from netlab.wire import dns as wire
from netlab.wire.dns_rdata import Unknown

OPCODE_INFO = {
    0: "Standard query",
    1: "Inverse query",
    2: "Server status request",
    4: "Zone change notification",
    5: "Dynamic update",
}
RCODE_INFO = {  # Wireshark's words for the info column
    1: "Format error", 2: "Server failure", 3: "No such name", 4: "Not implemented",
    5: "Refused", 6: "Name exists", 7: "RRset exists", 8: "RRset does not exist",
    9: "Not authoritative", 10: "Name out of zone", 16: "Bad OPT version or TSIG error",
}  # fmt: skip
FLAG_BITS = [
    ("response", 0x8000, "Response"), ("authoritative", 0x0400, "Authoritative"),
    ("truncated", 0x0200, "Truncated"), ("recdesired", 0x0100, "Recursion desired"),
    ("recavail", 0x0080, "Recursion available"), ("z", 0x0040, "Z"),
    ("authenticated", 0x0020, "Answer authenticated"), ("checkdisable", 0x0010, "Non-authenticated data"),
]  # fmt: skip
_U16 = struct.Struct("!H")


class DnsHeader(NamedTuple):
    """A DNS layer's `Layer.hdr`: the message, and the TCP length prefix."""

    message: wire.DnsMessage | None  # None: left for later (quick_info gave the info)
    tcp_length: tuple[int, int | None] | None  # (offset, value) over TCP; None over UDP
    link: tuple[int, int, int] | None = None  # its query or response (Transactions.note)


def ws_name(name: str) -> str:
    """Wireshark's spelling of a domain name: no trailing dot, "<Root>" for the root."""
    if name in (".", ""):
        return "<Root>"
    return name[:-1] if name.endswith(".") else name


# --- which query a response answers (Wireshark's DNS transactions) --------------------
# What a message says of its partner, DnsHeader.link: (kind, frame, response time in
# ns: REQUEST_IN's only).
RESPONSE_IN, REQUEST_IN, RETRANSMITTED_QUERY, RETRANSMITTED_RESPONSE, UNSOLICITED = range(5)
# dns.retransmission_timer's default: a query repeated within 5 s, its ID unanswered,
# is a retransmission; later, a new transaction.
RETRANSMISSION_NS = 5_000_000_000


class Transactions:
    """Wireshark's DNS request/response tracking (packet-dns.c; its rules checked on
    tshark 4.0 in tests/test_dissect_dns_links.py): per conversation (addresses, ports
    and transport) and transaction ID, the latest query. A response names that query
    (dns.response_to, dns.time) if nothing answered it yet, else it is a retransmitted
    response; with none, unsolicited. A query with an unanswered ID of the last 5 s is
    a retransmission of that one. Names and types are not compared (tshark does not).
    Bounded: past MAX open transactions the oldest is forgotten."""

    MAX = 65536

    def __init__(self) -> None:
        # (conversation, ID) -> [query frame, its time in ns, response frame or 0]
        self.latest: dict[tuple, list[int]] = {}

    def note(self, d, conv: tuple, buf: bytes, off: int, end: int, no: int, ts_ns: int):
        """The link of the message at buf[off:end] (frame NO); None: nothing to show.
        Wireshark reads the ID and flags first, so 4 bytes are enough to count."""
        if end - off < 4:
            return None
        ident = buf[off] << 8 | buf[off + 1]
        key = (conv, ident)
        found = self.latest.get(key)
        if buf[off + 2] & 0x80:  # QR: a response
            if found is None:
                return (UNSOLICITED, 0, 0)
            if found[2]:
                return (RETRANSMITTED_RESPONSE, found[2], 0)
            found[2] = no
            if d.answers_found is not None:  # (a frame may hold several queries: keyed by ID too)
                d.answers_found[found[0], ident] = no
            return (REQUEST_IN, found[0], ts_ns - found[1])
        if found is not None and not found[2] and ts_ns - found[1] < RETRANSMISSION_NS:
            return (RETRANSMITTED_QUERY, found[0], 0)
        self.latest.pop(key, None)  # (a new transaction goes to the end of the order)
        self.latest[key] = [no, ts_ns, 0]
        if len(self.latest) > self.MAX:
            del self.latest[next(iter(self.latest))]
        answer = d.answers.get((no, ident)) if d.answers is not None else None  # -2: known
        return None if answer is None else (RESPONSE_IN, answer, 0)


def _conversation(pkt: Packet) -> tuple:
    """The conversation a DNS layer about to be added belongs to: its transport's."""
    for layer in reversed(pkt.layers):
        if layer.proto in ("udp", "tcp"):
            h = layer.hdr
            return (layer.proto, *_ends(pkt.src_raw, h.sport, pkt.dst_raw, h.dport))
    return ("", pkt.src_raw, pkt.dst_raw)


def _ends(src: bytes, sport: int, dst: bytes, dport: int) -> tuple:
    """Both ends of a conversation in one order, whichever of them sent."""
    return (src, sport, dst, dport) if (src, sport) <= (dst, dport) else (dst, dport, src, sport)


def _note_udp(d, no: int, ts_ns: int, src, sport, dst, dport, buf: bytes, off: int, end: int):
    return d.dns.note(d, ("udp", *_ends(src, sport, dst, dport)), buf, off, end, no, ts_ns)


def _note_tcp(d, no: int, ts_ns: int, src, sport, dst, dport, buf: bytes, off: int, end: int):
    return d.dns.note(d, ("tcp", *_ends(src, sport, dst, dport)), buf, off + 2, end, no, ts_ns)


# --- decoders -------------------------------------------------------------------------
def decode_dns_udp(d, pkt: Packet, buf: bytes, off: int, end: int):
    _decode(d, pkt, buf, off, end, tcp_length=None)
    return None


def _udp_columns(d, decoder, buf: bytes, off: int, end: int, src: bytes, sport: int,
                 dst: bytes, dport: int, no: int, ts_ns: int) -> tuple[str, str] | None:  # fmt: skip
    """udp.columns's shortcut: the info read off the bytes, the transaction noted."""
    info = quick_info(buf, off, end)
    if info is None:
        return None  # (nothing noted: decode_dns_udp runs instead)
    _note_udp(d, no, ts_ns, src, sport, dst, dport, buf, off, end)
    return "DNS", info


decode_dns_udp.flow_columns = _udp_columns  # type: ignore[attr-defined]  (see udp.columns)
# The paths that decode no Packet (the light pass of --jobs, a TCP segment's columns)
# still keep the transactions: note(d, no, ts_ns, src, sport, dst, dport, buf, off, end).
decode_dns_udp.note = _note_udp  # type: ignore[attr-defined]


def decode_dns_tcp(d, pkt: Packet, buf: bytes, off: int, end: int):
    """One DNS-over-TCP PDU: the length prefix, then the message."""
    length = _U16.unpack_from(buf, off)[0] if end - off >= 2 else None
    _decode(d, pkt, buf, off + 2, end, tcp_length=(off, length))
    return None


def _tcp_columns(buf: bytes, off: int, end: int) -> tuple[str, str] | None:
    """One whole DNS-over-TCP PDU's columns (see tcp._pdu_columns)."""
    info = quick_info(buf, off + 2, end)
    return None if info is None else ("DNS", info)


decode_dns_tcp.columns = _tcp_columns  # type: ignore[attr-defined]
decode_dns_tcp.note = _note_tcp  # type: ignore[attr-defined]
# The light dissect of --jobs runs DNS too (udp.decode_udp), for its transactions.
decode_dns_udp.light = True  # type: ignore[attr-defined]


def dns_tcp_pdu_length(data: bytes) -> int | None:
    return 2 + _U16.unpack_from(data, 0)[0] if len(data) >= 2 else None


# --- heuristic: DNS on a port no decoder claims ---------------------------------------
_HEADER = struct.Struct("!HHHHHH")
_NETBIOS_LABEL = re.compile(rb"\x20[A-P]{32}")  # NBNS names: 32 letters A-P (RFC 1001 14.1)


def dns_udp_heuristic(buf: bytes, off: int, end: int):
    """DNS over UDP on any port, found as Wireshark's UDP heuristic for DNS finds it (listed
    by `tshark -G heuristic-decodes`; its limits in tshark 4.0 found by experiment): a
    standard query with one question and no answers or authority records, or a response
    with at most 1 question, 100 answers and 10 authority records; in both at most 10
    additional records, and some question or answer.

    netlab is stricter, because a false positive is worse than a miss: the message must
    also decode cleanly to its last byte, and a NetBIOS name (NBNS on port 137 shares the
    format) does not count. So the SOME/IP-SD packets tshark takes for DNS in tcpdump's
    someip1.pcap stay undecoded here.
    """
    if end - off <= 12 or buf[off + 2] & 0x78:  # an opcode other than a standard query
        return None  # (the common exit, so it comes before any unpacking)
    _id, flags, qd, an, ns, ar = _HEADER.unpack_from(buf, off)
    if ar > 10 or qd + an == 0:
        return None
    if flags & 0x8000:
        if qd > 1 or an > 100 or ns > 10:
            return None
    elif qd != 1 or an or ns:
        return None
    if _NETBIOS_LABEL.match(buf, off + 12, end):
        return None
    msg = wire.parse_message_partial(buf, off, end)
    if msg.malformed or msg.trailing:
        return None
    return decode_dns_udp


def _decode(d, pkt: Packet, buf: bytes, off: int, end: int, tcp_length) -> None:
    start = off if tcp_length is None else tcp_length[0]
    if pkt.quoted:  # quoted in an ICMP error: no transaction, no columns
        msg = wire.parse_message_partial(buf, off, end)
        pkt.layers.append(Layer("dns", _title, start, end, DnsHeader(msg, tcp_length), _rows))
        return
    link = d.dns.note(d, _conversation(pkt), buf, off, end, pkt.no, pkt.ts_ns)
    if d.light:  # (--jobs: another process shows it; the transaction was all that mattered)
        return
    pkt.protocol = "DNS"
    if d.quick:
        info = quick_info(buf, off, end)
        if info is not None:  # a clean message: parsed in full only if its fields are asked for
            layer = Layer("dns", _title, start, end, DnsHeader(None, tcp_length, link), _rows)
            layer.extra = (off, end, bool(buf[off + 2] & 0x80))
            pkt.layers.append(layer)
            pkt.info = info
            return
    msg = wire.parse_message_partial(buf, off, end)
    layer = Layer("dns", _title, start, end, DnsHeader(msg, tcp_length, link), _rows)
    pkt.layers.append(layer)
    # quick_info is the same text (tests/test_dns_info.py), cheaper to make; it
    # answers only for clean messages, and _info covers the rest.
    pkt.info = (msg.malformed is None and quick_info(buf, off, end)) or _info(msg)
    if msg.malformed:
        pkt.mark_malformed(layer, f"dns: {msg.malformed}")


def _message(layer: Layer, buf: bytes) -> wire.DnsMessage:
    """The layer's parsed message, parsed now if the fast path left it for later."""
    msg = layer.hdr.message
    if msg is None:
        off, end, _qr = layer.extra
        msg = wire.parse_message_partial(buf, off, end)
        layer.hdr = layer.hdr._replace(message=msg)
    return msg


# --- the info column without the full parse -------------------------------------------
# The one-line view needs a message's info column, not its objects. For the common
# clean message (a standard query or response, one question; A, AAAA, CNAME, NS, PTR,
# MX, SOA, TXT and OPT records) it is read straight off the bytes; anything else
# returns None and takes the full parse. quick_info only answers when the full
# parse would succeed with this very text (tests/test_dns_info.py checks both claims).
_COUNTS = struct.Struct("!HHHHHH")
_RR_HEAD = struct.Struct("!HHIH")
_NAME_TYPES = (2, 5, 12)  # NS, CNAME, PTR: one name as rdata
_inet_ntoa = socket.inet_ntoa


_QUESTIONS: dict[bytes, str] = {}  # question on the wire (name, type) -> "A www.example.lab"


def _question_text(buf: bytes, off: int, end: int) -> tuple[str, int] | None:
    """The question's info text and the offset after it. A question name is labels
    only (nothing before it to point at), so its bytes key a cache of texts: traffic
    asks the same few names over and over."""
    p = off + 12
    n = buf[p]
    while 0 < n < 0x40:
        p += n + 1
        if p >= end:
            return None
        n = buf[p]
    if n or p + 5 > end:  # a pointer, a bad label type, or no room for type and class
        return None
    key = buf[off + 12 : p + 3]  # the name and the type
    text = _QUESTIONS.get(key)
    if text is None:
        qname = _quick_name(buf, off + 12, end, end, off)
        if qname is None:  # a name over 255 bytes: the full parse says so
            return None
        text = f"{wire.type_to_text(buf[p + 1] << 8 | buf[p + 2])} {qname[0]}"
        remember(_QUESTIONS, key, text)
    return text, p + 5


_LABEL_TEXTS: dict[bytes, str] = {}  # a name's labels on the wire -> "www.example.lab"


def _quick_name(buf: bytes, pos: int, limit: int, end: int, base: int) -> tuple[str, int] | None:
    """A name's text for the info column and the offset after it, or None for anything
    the full parse (wire.read_name) would reject or that needs care (then quick_info
    gives up and the full parse says what). Same rules: labels read in place up to
    `limit`, then through pointers (each before the run of labels it leaves; at most
    MAX_POINTERS) up to `end`; at most 255 octets. The labels' wire bytes key a cache
    of texts, so a name costs a walk over its bytes and one lookup."""
    pieces = []
    octets = 1
    jumps = 0
    seg = pos
    after = 0
    while True:
        if pos >= limit:
            return None
        n = buf[pos]
        if n == 0:
            break
        if n < 0x40:
            stop = pos + 1 + n
            if stop > limit:
                return None
            pieces.append(buf[pos:stop])
            octets += 1 + n
            pos = stop
        elif n >= 0xC0 and pos + 2 <= limit:
            target = base + (((n & 0x3F) << 8) | buf[pos + 1])
            jumps += 1
            if target >= seg or jumps > wire.MAX_POINTERS:
                return None
            if not after:
                after = pos + 2
                limit = end
            seg = pos = target
        else:
            return None
    if octets > wire.MAX_NAME_OCTETS:
        return None
    key = b"".join(pieces)
    text = _LABEL_TEXTS.get(key)
    if text is None:
        labels = [piece[1:] for piece in pieces]
        text = ws_name(wire.labels_text(labels)) if labels else "<Root>"
        remember(_LABEL_TEXTS, key, text)
    return text, after or pos + 1


def quick_info(buf: bytes, off: int, end: int) -> str | None:
    if end - off < 17 or type(buf) is not bytes:
        return None
    ident, flags, qdcount, ancount, nscount, arcount = _COUNTS.unpack_from(buf, off)
    if flags & 0x7800 or qdcount != 1:  # not a standard query, or not one question
        return None
    question = _question_text(buf, off, end)
    if question is None:
        return None
    text, pos = question
    if flags & 0x8000:
        head = f"Standard query response 0x{ident:04x}"
        if flags & 0xF:
            rcode = flags & 0xF
            head += " " + RCODE_INFO.get(rcode, f"Unknown error ({rcode})")
    else:
        head = f"Standard query 0x{ident:04x}"
    parts = [head, text]
    for _ in range(ancount + nscount + arcount):
        if pos + 11 > end:
            return None
        first = buf[pos]
        if first == 0:  # the root (OPT's owner)
            pos += 1
        elif first == 0xC0 and buf[pos + 1] == 12:  # a pointer to the question's name
            pos += 2
        else:  # the owner is not in the info column, but it must be a sound name
            owner = _quick_name(buf, pos, end, end, off)
            if owner is None:
                return None
            pos = owner[1]
        if pos + 10 > end:
            return None
        rtype, rclass, _ttl, rdlength = _RR_HEAD.unpack_from(buf, pos)
        pos += 10
        stop = pos + rdlength
        if stop > end:
            return None
        if rtype == 1 and rdlength == 4 and rclass & 0x7FFF == 1:
            parts.append("A " + _inet_ntoa(buf[pos:stop]))
        elif rtype == 28 and rdlength == 16 and rclass & 0x7FFF == 1:
            parts.append("AAAA " + socket.inet_ntop(socket.AF_INET6, buf[pos:stop]))
        elif rtype in _NAME_TYPES:
            target = _quick_name(buf, pos, stop, end, off)
            if target is None or target[1] != stop:
                return None
            parts.append(f"{wire.type_to_text(rtype)} {target[0]}")
        elif rtype == 15 and rdlength >= 3:  # MX
            exchange = _quick_name(buf, pos + 2, stop, end, off)
            if exchange is None or exchange[1] != stop:
                return None
            parts.append(f"MX {buf[pos] << 8 | buf[pos + 1]} {exchange[0]}")
        elif rtype == 6:  # SOA: two names and five 32-bit numbers
            mname = _quick_name(buf, pos, stop, end, off)
            rname = mname and _quick_name(buf, mname[1], stop, end, off)
            if rname is None or rname[1] + 20 != stop:
                return None
            parts.append(f"SOA {mname[0]}")
        elif rtype == 16:  # TXT: character-strings, each a length byte and its bytes
            after = pos
            while after < stop:
                after += 1 + buf[after]
            if after != stop:
                return None
            parts.append("TXT")
        elif rtype == 41:
            while pos < stop:  # EDNS options: only their framing can be wrong
                if pos + 4 > stop:
                    return None
                pos += 4 + (buf[pos + 2] << 8 | buf[pos + 3])
            if pos != stop:
                return None
            parts.append("OPT")
        else:
            return None
        pos = stop
    return " ".join(parts)


def _info(msg: wire.DnsMessage) -> str:
    if not msg.header_complete:
        return "DNS (truncated header)"
    parts = [OPCODE_INFO.get(msg.opcode, f"Unknown operation ({msg.opcode})")]
    if msg.qr:
        parts[0] += " response"
    parts.append(f"0x{msg.id:04x}")
    if msg.qr and msg.rcode:
        parts.append(RCODE_INFO.get(msg.rcode, f"Unknown error ({msg.rcode})"))
    for q in msg.questions:
        parts.append(f"{q.type_name} {ws_name(q.name)}")
    for _section, rr in msg.records():
        parts.append(_rr_info(rr))
    return " ".join(parts)


def _rr_info(rr: wire.ResourceRecord) -> str:
    try:
        return _rr_info_typed(rr)
    except AttributeError:  # rdata too damaged for its type: the parser kept it generic
        return rr.type_name


def _rr_info_typed(rr: wire.ResourceRecord) -> str:
    data = rr.data
    t = rr.rtype
    if t in (1, 28):
        return f"{rr.type_name} {data.address}"
    if t in (2, 5, 12, 39):  # NS, CNAME, PTR, DNAME
        return f"{rr.type_name} {ws_name(data.target)}"
    if t == 15:
        return f"MX {data.preference} {ws_name(data.exchange)}"
    if t == 6:
        return f"SOA {ws_name(data.mname)}"
    if t == 33:
        return f"SRV {data.priority} {data.weight} {data.port} {ws_name(data.target)}"
    return rr.type_name


def _title(layer: Layer) -> str:
    msg = layer.hdr.message
    if msg is None:  # not parsed yet (quick_info): the QR bit was kept
        kind = "response" if layer.extra[2] else "query"
    else:
        kind = "response" if msg.header_complete and msg.qr else "query"
    return f"Domain Name System ({kind})"


# --- fields ---------------------------------------------------------------------------
# fmt: off  (field tables: one Wireshark field per line reads best)
def _rows(layer: Layer, buf: bytes):
    msg, tcp_length = _message(layer, buf), layer.hdr.tcp_length
    rows = []
    if tcp_length is not None:
        at, length = tcp_length
        rows.append(row("dns.length", length, f"Length: {length}", at, 2))
    if not msg.header_complete:
        # Wireshark adds the header fields that are there (rtp-seg-fault-1.pcapng).
        return rows + cut_rows(_header_rows(_short_header(buf, msg.offset)), end=layer.end)
    rows += _header_rows(msg)
    rows += _question_rows(msg)
    for section, rr in msg.records():
        rows += _rr_rows(section, rr)
    if msg.malformed is None:  # (Wireshark adds them last: a message cut short never gets there)
        rows += _link_rows(layer.hdr.link)
    return rows


def _link_rows(link: tuple[int, int, int] | None) -> list:
    """The query a response answers, or the response of a query (Transactions.note)."""
    if link is None:
        return []
    kind, no, ns = link
    if kind == REQUEST_IN:
        seconds = round(ns / 1e9, 9)
        return [
            row("dns.response_to", no, f"[Request In: {no}]"),
            row("dns.time", seconds, f"[Time: {seconds:.9f} seconds]"),
        ]
    if kind == RESPONSE_IN:
        return [row("dns.response_in", no, f"[Response In: {no}]")]
    if kind == UNSOLICITED:
        return [row("dns.unsolicited", True, "[Unsolicited: True]")]
    if kind == RETRANSMITTED_QUERY:
        first = row(
            "dns.retransmit_request_in", no, f"[Retransmitted request. Original request in: {no}]"
        )
    else:
        first = row(
            "dns.retransmit_response_in",
            no,
            f"[Retransmitted response. Original response in: {no}]",
        )
    return [first, row("dns.retransmission", True, "[Retransmission: True]")]


def _link_text(link: tuple[int, int, int] | None, tree: bool) -> str:
    """_link_rows as the fast writers write them: tree lines, or JSON members."""
    if link is None:
        return ""
    if tree:
        return "".join(f"\n    {r[3]}" for r in _link_rows(link))
    return "".join(f',"{r[1]}":{"true" if r[2] is True else repr(r[2])}' for r in _link_rows(link))


def _header_rows(msg: wire.DnsMessage) -> list:
    o = msg.offset
    flags = msg.flags
    rows = [
        row("dns.id", msg.id, f"Transaction ID: 0x{msg.id:04x}", o, 2),
        row("dns.flags", flags, f"Flags: 0x{flags:04x} {_flags_summary(msg)}", o + 2, 2),
    ]
    bits = (
        FLAG_BITS if msg.qr else [b for b in FLAG_BITS if b[0] not in ("authoritative", "recavail")]
    )
    rows += flag_rows("dns.flags", flags, bits, o + 2, 2, 16)
    rows.append(
        row(
            "dns.flags.opcode", msg.opcode, f"Opcode: {msg.opcode_name} ({msg.opcode})", o + 2, 2, 1
        )
    )
    if msg.qr:
        rows.append(
            row(
                "dns.flags.rcode",
                msg.rcode,
                f"Reply code: {msg.rcode_name} ({msg.rcode})",
                o + 2,
                2,
                1,
            )
        )
    rows += [
        row("dns.count.queries", msg.qdcount, f"Questions: {msg.qdcount}", o + 4, 2),
        row("dns.count.answers", msg.ancount, f"Answer RRs: {msg.ancount}", o + 6, 2),
        row("dns.count.auth_rr", msg.nscount, f"Authority RRs: {msg.nscount}", o + 8, 2),
        row("dns.count.add_rr", msg.arcount, f"Additional RRs: {msg.arcount}", o + 10, 2),
    ]
    return rows


def _short_header(buf: bytes, o: int) -> wire.DnsMessage:
    """A header cut short, zero-padded to 12 bytes (cut_rows drops what was not there)."""
    msg = wire.DnsMessage(o, 12)
    fields = _HEADER.unpack(bytes(buf[o : o + 12]).ljust(12, b"\0"))
    msg.id, msg.flags, msg.qdcount, msg.ancount, msg.nscount, msg.arcount = fields
    msg.end = o + 12
    return msg


def _question_rows(msg: wire.DnsMessage) -> list:
    rows = []
    for q in msg.questions:
        name = ws_name(q.name)
        rows.append(
            row(
                "dns.qry.name",
                name,
                f"Query: {name}: type {q.type_name}, class {q.class_name}",
                q.offset,
                0,
            )
        )
        rows.append(
            row(
                "dns.qry.name.len",
                len(name) if name != "<Root>" else 0,
                f"[Name Length: {len(name)}]",
                depth=1,
            )
        )
        rows.append(
            row(
                "dns.count.labels",
                0 if name == "<Root>" else name.count(".") + 1,
                "[Label Count]",
                depth=1,
            )
        )
        rows.append(row("dns.qry.type", q.qtype, f"Type: {q.type_name} ({q.qtype})", depth=1))
        rows.append(
            row("dns.qry.class", q.qclass, f"Class: {q.class_name} (0x{q.qclass:04x})", depth=1)
        )
    return rows


def _flags_summary(msg: wire.DnsMessage) -> str:
    kind = "response" if msg.qr else "query"
    text = f"{OPCODE_INFO.get(msg.opcode, 'Unknown operation')} {kind}"
    if msg.qr and msg.rcode:
        text += f", {RCODE_INFO.get(msg.rcode, 'Unknown error')}"
    elif msg.qr:
        text += ", No error"
    return text


def _rr_rows(section: str, rr: wire.ResourceRecord) -> list:
    name = ws_name(rr.name)
    heading = {
        "answers": "Answer",
        "authority": "Authoritative nameserver",
        "additional": "Additional record",
    }
    rows = [
        row(
            "dns.resp.name",
            name,
            f"{heading.get(section, section)}: {name}: type {rr.type_name}",
            rr.offset,
            0,
        )
    ]
    rows.append(row("dns.resp.type", rr.rtype, f"Type: {rr.type_name} ({rr.rtype})", depth=1))
    if rr.rtype == 41:  # OPT: the class and TTL fields carry EDNS parameters
        return rows + _opt_rows(rr)
    rows.append(
        row("dns.resp.class", rr.rclass, f"Class: {rr.class_name} (0x{rr.rclass:04x})", depth=1)
    )
    rows.append(
        row(
            "dns.resp.ttl",
            rr.ttl,
            f"Time to live: {rr.ttl} ({wire.duration_text(rr.ttl)})",
            depth=1,
        )
    )
    rows.append(row("dns.resp.len", rr.rdlength, f"Data length: {rr.rdlength}", depth=1))
    try:
        return rows + _rdata_rows(rr.rtype, rr.data)
    except AttributeError:  # rdata too damaged for its type: show it generically
        text = rr.data.to_text() if hasattr(rr.data, "to_text") else ""
        return [*rows, row("dns.resp.data", text, f"Data: {text}", depth=1)]


def _opt_rows(rr: wire.ResourceRecord) -> list:
    rows = [
        row("dns.rr.udp_payload_size", rr.rclass, f"UDP payload size: {rr.rclass}", depth=1),
        row("dns.resp.ext_rcode", rr.ttl >> 24, f"Higher bits in extended RCODE: 0x{rr.ttl >> 24:02x}", depth=1),
        row("dns.resp.edns0_version", rr.ttl >> 16 & 0xFF, f"EDNS0 version: {rr.ttl >> 16 & 0xFF}", depth=1),
        row("dns.resp.z", rr.ttl & 0xFFFF, f"Z: 0x{rr.ttl & 0xFFFF:04x}", depth=1),
        row("dns.resp.z.do", bool(rr.ttl & 0x8000), f"DO bit: {'Accepts DNSSEC security RRs' if rr.ttl & 0x8000 else 'Cannot handle DNSSEC security RRs'}", depth=2),
        row("dns.resp.len", rr.rdlength, f"Data length: {rr.rdlength}", depth=1),
    ]  # fmt: skip
    edns = rr.data
    for opt in getattr(edns, "options", ()):
        rows.append(row("dns.opt.code", opt.code, f"Option: {opt.name}", depth=1))
        rows.append(row("dns.opt.len", len(opt.data), f"Option Length: {len(opt.data)}", depth=2))
        rows.append(
            row("dns.opt.data", bytes(opt.data), f"Option Data: {bytes(opt.data).hex()}", depth=2)
        )
    return rows


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace")


def _ascii(value: bytes) -> str:
    return value.decode("ascii", "replace")


# Each record type's rows: (field, the parsed rdata's attribute, Wireshark's label, how
# the value is shown: None as it is). TXT (a list of strings) is written by hand.
_RDATA_FIELDS: dict[int, list[tuple[str, str, str, Any]]] = {
    1: [("dns.a", "address", "Address", None)],
    28: [("dns.aaaa", "address", "AAAA Address", None)],
    2: [("dns.ns", "target", "Name Server", ws_name)],
    5: [("dns.cname", "target", "CNAME", ws_name)],
    12: [("dns.ptr.domain_name", "target", "Domain Name", ws_name)],
    15: [("dns.mx.preference", "preference", "Preference", None),
         ("dns.mx.mail_exchange", "exchange", "Mail Exchange", ws_name)],
    6: [("dns.soa.mname", "mname", "Primary name server", ws_name),
        ("dns.soa.rname", "rname", "Responsible authority's mailbox", ws_name),
        ("dns.soa.serial_number", "serial", "Serial Number", None),
        ("dns.soa.refresh_interval", "refresh", "Refresh Interval", None),
        ("dns.soa.retry_interval", "retry", "Retry Interval", None),
        ("dns.soa.expire_limit", "expire", "Expire limit", None),
        ("dns.soa.minimum_ttl", "minimum", "Minimum TTL", None)],
    33: [("dns.srv.priority", "priority", "Priority", None),
         ("dns.srv.weight", "weight", "Weight", None),
         ("dns.srv.port", "port", "Port", None),
         ("dns.srv.target", "target", "Target", ws_name)],
    257: [("dns.caa.flags", "flags", "CAA Flags", None),
          ("dns.caa.tag", "tag", "Tag", _ascii),
          ("dns.caa.value", "value", "Value", _text)],
    43: [("dns.ds.key_id", "key_tag", "Key id", None),
         ("dns.ds.algorithm", "algorithm", "Algorithm", None),
         ("dns.ds.digest_type", "digest_type", "Digest Type", None),
         ("dns.ds.digest", "digest", "Digest", bytes)],
    48: [("dns.dnskey.flags", "flags", "Flags", None),
         ("dns.dnskey.protocol", "protocol", "Protocol", None),
         ("dns.dnskey.algorithm", "algorithm", "Algorithm", None),
         ("dns.dnskey.public_key", "key", "Public Key", bytes)],
    46: [("dns.rrsig.type_covered", "type_covered", "Type Covered", None),
         ("dns.rrsig.algorithm", "algorithm", "Algorithm", None),
         ("dns.rrsig.labels", "labels", "Labels", None),
         ("dns.rrsig.original_ttl", "original_ttl", "Original TTL", None),
         ("dns.rrsig.signature_expiration", "expiration", "Signature Expiration", None),
         ("dns.rrsig.signature_inception", "inception", "Signature Inception", None),
         ("dns.rrsig.key_tag", "key_tag", "Key Tag", None),
         ("dns.rrsig.signers_name", "signer", "Signer's name", ws_name),
         ("dns.rrsig.signature", "signature", "Signature", bytes)],
    47: [("dns.nsec.next_domain_name", "next_name", "Next Domain Name", ws_name)],
}  # fmt: skip


def _rdata_rows(t: int, data: Any) -> list:
    r = []

    def add(name: str, value: Any, label: str) -> None:
        r.append(
            row(
                name,
                value,
                f"{label}: {value if not isinstance(value, bytes) else value.hex()}",
                depth=1,
            )
        )

    spec = _RDATA_FIELDS.get(t)
    if spec is not None:
        for name, attr, label, shown in spec:
            value = getattr(data, attr)
            add(name, value if shown is None else shown(value), label)
    elif t in (16, 99):
        for s in data.strings:
            add("dns.txt.length", len(s), "TXT Length")
            add("dns.txt", s.decode("utf-8", "replace"), "TXT")
    elif data is not None and hasattr(data, "to_text"):
        add("dns.resp.data", data.to_text(), "Data")
    return r


# fmt: on


# --- fast writers (model.JSON_WRITERS): the rows of _rows, written as text ------------
# DNS is a third of common traffic and a response makes ~40 rows, so a message that
# decoded cleanly, with records of the types `_rdata_texts` knows and OPT, is written
# straight as text; anything else (DNSSEC and rare types, rdata the parser kept
# generic, damage) returns None and takes the rows path. Names repeat across records
# (dns.resp.name …): the JSON writer gathers each name's values in one pass, then
# writes the members in first-occurrence order, a list where there are several, as
# `model.merge_rows` merges the rows.
# The record headings as `_rr_rows` writes them (its table says "answers", so an
# answer keeps its section's own name).
_SECTIONS = (
    ("answer", "answers"), ("Authoritative nameserver", "authority"),
    ("Additional record", "additional"),
)  # fmt: skip
# The caches below are bounded (model.remember): a capture of many names or TTLs stays flat.
_NAMES: dict[str, tuple[str, str, int, int]] = {}  # wire name -> texts, see _name_texts
_FLAGS_JSON: dict[int, str] = {}  # flags -> members from dns.flags to dns.flags.rcode
_FLAGS_TREE: dict[int, str] = {}  # flags | ext_rcode << 16 -> the same as tree lines
_QTYPES: dict[int, tuple[str, str]] = {}  # qtype << 16 | qclass -> question texts
_RTYPES: dict[int, tuple[str, str]] = {}  # rtype -> (name, "Type: …" line)
_RCLASSES: dict[int, str] = {}  # rclass -> "Class: …" line
_TTLS: dict[int, str] = {}  # ttl -> "Time to live: …" line
_EDNS: dict[int, tuple[str, str]] = {}  # OPT's size | ttl << 16 -> see _edns_texts
_RDATA: dict[tuple, tuple] = {}  # (rtype, rdata) -> see _rdata_texts


def _name_texts(name: str) -> tuple[str, str, int, int]:
    """Wireshark's spelling of a wire name, as JSON, and its question length and label
    count (the values of dns.qry.name.len and dns.count.labels)."""
    ws = ws_name(name)
    root = ws == "<Root>"
    texts = (ws, _jstr(ws), 0 if root else len(ws), 0 if root else ws.count(".") + 1)
    return remember(_NAMES, name, texts)


def _flags_json(msg: wire.DnsMessage) -> str:
    """Made from `_header_rows` itself, so the bits and their order cannot drift."""
    members = []
    for r in _header_rows(msg)[1:-4]:
        value = r[2]
        members.append(
            f'"{r[1]}":{"true" if value is True else "false" if value is False else value}'
        )
    return remember(_FLAGS_JSON, msg.flags, ",".join(members))


def _flags_tree(msg: wire.DnsMessage, key: int) -> str:
    lines = ["    " * (r[0] + 1) + show_text(r[3]) for r in _header_rows(msg)[1:-4]]
    return remember(_FLAGS_TREE, key, "\n".join(lines))


def _qtype_texts(qtype: int, qclass: int) -> tuple[str, str]:
    tn, cn = wire.type_to_text(qtype), wire.class_to_text(qclass)
    texts = (
        f": type {tn}, class {cn}",
        f"\n        Type: {tn} ({qtype})\n        Class: {cn} (0x{qclass:04x})",
    )
    return remember(_QTYPES, qtype << 16 | qclass, texts)


def _rtype_texts(rtype: int) -> tuple[str, str]:
    tn = wire.type_to_text(rtype)
    return remember(_RTYPES, rtype, (tn, f"\n        Type: {tn} ({rtype})"))


def _rclass_text(rclass: int) -> str:
    return remember(
        _RCLASSES, rclass, f"\n        Class: {wire.class_to_text(rclass)} (0x{rclass:04x})"
    )


def _ttl_text(ttl: int) -> str:
    return remember(_TTLS, ttl, f"\n        Time to live: {ttl} ({wire.duration_text(ttl)})")


def _edns_texts(size: int, ttl: int) -> tuple[str, str]:
    """OPT's EDNS parameters (its class and TTL fields) as members and as tree lines."""
    do = "Accepts DNSSEC security RRs" if ttl & 0x8000 else "Cannot handle DNSSEC security RRs"
    texts = (
        f',"dns.rr.udp_payload_size":{size},"dns.resp.ext_rcode":{ttl >> 24},'
        f'"dns.resp.edns0_version":{ttl >> 16 & 0xFF},"dns.resp.z":{ttl & 0xFFFF},'
        f'"dns.resp.z.do":{"true" if ttl & 0x8000 else "false"}',
        f"\n        UDP payload size: {size}\n"
        f"        Higher bits in extended RCODE: 0x{ttl >> 24:02x}\n"
        f"        EDNS0 version: {ttl >> 16 & 0xFF}\n        Z: 0x{ttl & 0xFFFF:04x}\n"
        f"            DO bit: {do}",
    )
    return remember(_EDNS, size | ttl << 16, texts)


# The record types whose rdata the fast writers know: their rows have no bytes value.
_RDATA_TYPES = frozenset((1, 28, 2, 5, 12, 15, 6, 16, 99, 33))


def _rdata_texts(t: int, data: Any) -> tuple[list, str, str] | None:
    """One record's rdata, made from its rows (`_rdata_rows`): ([(name, JSON value: an
    int or JSON text)], JSON members each after a comma (a list where a name repeats, as
    `model.merge_rows` merges them), tree lines each after a newline); None for a type
    the fast writers leave to the rows path. Cached, as records repeat (names do)."""
    if t not in _RDATA_TYPES:
        return None
    rows = _rdata_rows(t, data)
    values = [(r[1], r[2] if type(r[2]) is int else _jstr(r[2])) for r in rows]
    acc: defaultdict = defaultdict(list)
    for name, value in values:
        acc[name].append(value)
    tree = "".join(["\n        " + r[3] for r in rows])
    return remember(_RDATA, (t, data), (values, _members(acc), tree))


def _json(layer: Layer, buf: bytes) -> str | None:
    msg, tcp_length = _message(layer, buf), layer.hdr.tcp_length
    if msg.malformed is not None or (tcp_length is not None and tcp_length[1] is None):
        return None
    flags = msg.flags
    head = (
        f'"dns.id":{msg.id},{_FLAGS_JSON.get(flags) or _flags_json(msg)},'
        f'"dns.count.queries":{msg.qdcount},"dns.count.answers":{msg.ancount},'
        f'"dns.count.auth_rr":{msg.nscount},"dns.count.add_rr":{msg.arcount}'
    )
    if tcp_length is not None:
        head = f'"dns.length":{tcp_length[1]},{head}'
    questions = msg.questions
    if len(questions) == 1:  # the common case: no name repeats, one f-string
        qname, qtype, qclass, _ = questions[0]
        _ws, jname, qlen, labels = _NAMES.get(qname) or _name_texts(qname)
        head += (
            f',"dns.qry.name":{jname},"dns.qry.name.len":{qlen},"dns.count.labels":{labels},'
            f'"dns.qry.type":{qtype},"dns.qry.class":{qclass}'
        )
    elif questions:  # (no question field is also a record field: the two merge apart)
        head += _questions_json(questions)
    records = msg.answers + msg.authority + msg.additional
    n = len(records)
    # Most messages are a query with OPT, or one answer with or without OPT: written
    # directly, with the three names the two records share as lists. The rest gather.
    if n == 1:
        body = (
            _opt_json(records[0], True) if records[0][1] == 41 else _one_rr_json(records[0], None)
        )
    elif n == 2 and records[1][1] == 41 and records[0][1] != 41:
        body = _one_rr_json(records[0], records[1])
    elif n:
        body = _records_json(records)
    else:
        body = ""
    return None if body is None else head + body + _link_text(layer.hdr.link, False)


def _questions_json(questions: list) -> str:
    acc: defaultdict = defaultdict(list)
    for qname, qtype, qclass, _ in questions:
        _ws, jname, qlen, labels = _NAMES.get(qname) or _name_texts(qname)
        acc["dns.qry.name"].append(jname)
        acc["dns.qry.name.len"].append(qlen)
        acc["dns.count.labels"].append(labels)
        acc["dns.qry.type"].append(qtype)
        acc["dns.qry.class"].append(qclass)
    return _members(acc)


def _members(acc: defaultdict) -> str:
    """Gathered values as members, each after a comma; a list where there are several."""
    return "".join([
        f',"{key}":{values[0]}' if len(values) == 1 else f',"{key}":[{",".join(map(str, values))}]'
        for key, values in acc.items()
    ])  # fmt: skip


def _one_rr_json(rr: wire.ResourceRecord, opt: wire.ResourceRecord | None) -> str | None:
    """One record that is not OPT, then maybe an OPT record (they share three names)."""
    name, rtype, rclass, ttl, rdlength, _, data, _ = rr
    if type(data) is Unknown:  # e.g. A outside class IN: the rows go generic
        return None
    texts = _RDATA.get((rtype, data)) or _rdata_texts(rtype, data)
    if texts is None:
        return None
    rdata = texts[1]
    jname = (_NAMES.get(name) or _name_texts(name))[1]
    if opt is None:
        return (
            f',"dns.resp.name":{jname},"dns.resp.type":{rtype},"dns.resp.class":{rclass},'
            f'"dns.resp.ttl":{ttl},"dns.resp.len":{rdlength}{rdata}'
        )
    jopt = (_NAMES.get(opt[0]) or _name_texts(opt[0]))[1]
    return (
        f',"dns.resp.name":[{jname},{jopt}],"dns.resp.type":[{rtype},41],'
        f'"dns.resp.class":{rclass},"dns.resp.ttl":{ttl},"dns.resp.len":[{rdlength},{opt[4]}]'
        f"{rdata}{_opt_json(opt, False)}"
    )


def _opt_json(rr: wire.ResourceRecord, alone: bool) -> str:
    """An OPT record's members, each after a comma; dns.resp.name, .type and .len only
    when it is `alone` (else the caller merges them with the other record's)."""
    name, _, size, ttl, rdlength, _, edns, _ = rr
    params = (_EDNS.get(size | ttl << 16) or _edns_texts(size, ttl))[0]
    options = edns.options
    if not options:
        opts = ""
    elif len(options) == 1:
        code, value, _ = options[0]
        opts = f',"dns.opt.code":{code},"dns.opt.len":{len(value)},"dns.opt.data":"{value.hex()}"'
    else:
        codes = ",".join([str(o[0]) for o in options])
        sizes = ",".join([str(len(o[1])) for o in options])
        datas = ",".join(['"' + o[1].hex() + '"' for o in options])
        opts = f',"dns.opt.code":[{codes}],"dns.opt.len":[{sizes}],"dns.opt.data":[{datas}]'
    if not alone:
        return params + opts
    jname = (_NAMES.get(name) or _name_texts(name))[1]
    return f',"dns.resp.name":{jname},"dns.resp.type":41{params},"dns.resp.len":{rdlength}{opts}'


def _records_json(records: list) -> str | None:
    """Any mix of records: each name's values gathered in one pass, in row order."""
    acc: defaultdict = defaultdict(list)  # name -> values (ints, or JSON text)
    for name, rtype, rclass, ttl, rdlength, _, data, _ in records:
        acc["dns.resp.name"].append((_NAMES.get(name) or _name_texts(name))[1])
        acc["dns.resp.type"].append(rtype)
        if rtype == 41:  # OPT: the class and TTL fields carry EDNS parameters
            acc["dns.rr.udp_payload_size"].append(rclass)
            acc["dns.resp.ext_rcode"].append(ttl >> 24)
            acc["dns.resp.edns0_version"].append(ttl >> 16 & 0xFF)
            acc["dns.resp.z"].append(ttl & 0xFFFF)
            acc["dns.resp.z.do"].append("true" if ttl & 0x8000 else "false")
            acc["dns.resp.len"].append(rdlength)
            for code, value, _ in data.options:
                acc["dns.opt.code"].append(code)
                acc["dns.opt.len"].append(len(value))
                acc["dns.opt.data"].append(f'"{value.hex()}"')
            continue
        if type(data) is Unknown:
            return None
        acc["dns.resp.class"].append(rclass)
        acc["dns.resp.ttl"].append(ttl)
        acc["dns.resp.len"].append(rdlength)
        texts = _RDATA.get((rtype, data)) or _rdata_texts(rtype, data)
        if texts is None:
            return None
        for name, value in texts[0]:
            acc[name].append(value)
    return _members(acc)


def _tree(layer: Layer, buf: bytes) -> str | None:
    msg, tcp_length = _message(layer, buf), layer.hdr.tcp_length
    if msg.malformed is not None or (tcp_length is not None and tcp_length[1] is None):
        return None
    flags = msg.flags
    edns = msg.edns
    key = flags if edns is None else flags | edns.ext_rcode << 16  # the rcode's name uses both
    parts = ["Domain Name System (response)" if flags & 0x8000 else "Domain Name System (query)"]
    if tcp_length is not None:
        parts.append(f"    Length: {tcp_length[1]}")
    parts.append(
        f"    Transaction ID: 0x{msg.id:04x}\n{_FLAGS_TREE.get(key) or _flags_tree(msg, key)}\n"
        f"    Questions: {msg.qdcount}\n    Answer RRs: {msg.ancount}\n"
        f"    Authority RRs: {msg.nscount}\n    Additional RRs: {msg.arcount}"
    )
    for qname, qtype, qclass, _ in msg.questions:
        ws = (_NAMES.get(qname) or _name_texts(qname))[0]
        kind, lines = _QTYPES.get(qtype << 16 | qclass) or _qtype_texts(qtype, qclass)
        parts.append(
            f"    Query: {ws}{kind}\n        [Name Length: {len(ws)}]\n        [Label Count]{lines}"
        )
    for heading, section in _SECTIONS:
        for name, rtype, rclass, ttl, rdlength, _, data, _ in getattr(msg, section):
            ws = (_NAMES.get(name) or _name_texts(name))[0]
            tn, type_line = _RTYPES.get(rtype) or _rtype_texts(rtype)
            if rtype == 41:
                parts.append(
                    _opt_tree(
                        f"    {heading}: {ws}: type {tn}{type_line}", rclass, ttl, rdlength, data
                    )
                )
                continue
            if type(data) is Unknown:
                return None
            texts = _RDATA.get((rtype, data)) or _rdata_texts(rtype, data)
            if texts is None:
                return None
            rdata = texts[2]
            parts.append(
                f"    {heading}: {ws}: type {tn}{type_line}"
                f"{_RCLASSES.get(rclass) or _rclass_text(rclass)}{_TTLS.get(ttl) or _ttl_text(ttl)}"
                f"\n        Data length: {rdlength}{rdata}"
            )
    return "\n".join(parts) + _link_text(layer.hdr.link, True)


def _opt_tree(head: str, size: int, ttl: int, rdlength: int, edns: wire.Edns) -> str:
    params = (_EDNS.get(size | ttl << 16) or _edns_texts(size, ttl))[1]
    text = f"{head}{params}\n        Data length: {rdlength}"
    for opt in edns.options:
        text += (
            f"\n        Option: {opt.name}\n            Option Length: {len(opt.data)}"
            f"\n            Option Data: {opt.data.hex()}"
        )
    return text


ONE_PER_SEGMENT.add("dns")  # several messages in one TCP segment: "tcp:dns", as tshark
registry.register(
    "dns",
    writers={_rows: (_json, _tree)},
    udp_ports={53: decode_dns_udp},
    tcp_ports={53: registry.StreamProtocol(decode_dns_tcp, dns_tcp_pdu_length)},
    udp_heuristics=(dns_udp_heuristic,),
)
