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
from collections.abc import Callable
from json.encoder import encode_basestring as _jstr  # json.dumps(str) without ASCII escapes
from typing import Any, NamedTuple

import netlab.dissect.registry as registry
from netlab.dissect.model import (
    ONE_PER_SEGMENT,
    Layer,
    Packet,
    bit_diagram,
    cut_rows,
    expert_rows,
    remember,
    row,
    show_text,
)  # fmt: skip
from netlab.dissect.tcp import conversation_key
from netlab.wire import dns as wire
from netlab.wire.dns_rdata import Unknown

OPCODE_INFO = {
    0: "Standard query",
    1: "Inverse query",
    2: "Server status request",
    4: "Zone change notification",
    5: "Dynamic update",
    6: "DNS Stateful operations (DSO)",
}
CLASSES = {1: "IN", 2: "CS", 3: "CH", 4: "HS", 254: "NONE", 255: "ANY"}
# packet-dns.c dns_types_description_vals (Wireshark 4.0)
TYPE_DESCRIPTIONS = {
    0: "Unused", 1: "A (Host Address)", 2: "NS (authoritative Name Server)",
    3: "MD (Mail Destination)", 4: "MF (Mail Forwarder)",
    5: "CNAME (Canonical NAME for an alias)", 6: "SOA (Start Of a zone of Authority)",
    7: "MB (MailBox domain name)", 8: "MG (Mail Group member)", 9: "MR (Mail Rename domain)",
    10: "NULL RR", 11: "WKS (Well Known Service)", 12: "PTR (domain name PoinTeR)",
    13: "HINFO (host information)", 14: "MINFO (Mailbox or mail list information)",
    15: "MX (Mail eXchange)", 16: "TXT (Text strings)", 17: "RP (Responsible Person)",
    18: "AFSDB (AFS Data Base location)", 19: "X25 (XX.25 PSDN address)",
    20: "ISDN (ISDN address)", 21: "RT (Route Through)", 22: "NSAP (NSAP address)",
    23: "NSAP-PTR (NSAP domain name pointer)", 24: "SIG (security signature)",
    25: "KEY (security key)", 26: "PX (X.400 mail mapping information)",
    27: "GPOS (Geographical Position)", 28: "AAAA (IPv6 Address)",
    29: "LOC (Location Information)", 30: "NXT (Next Domain)", 31: "EID (Endpoint Identifier)",
    32: "NIMLOC (Nimrod Locator)", 33: "SRV (Server Selection)", 34: "ATMA (ATM Address)",
    35: "NAPTR (Naming Authority Pointer)", 36: "KX (Key Exchanger)", 37: "CERT",
    38: "A6 (OBSOLETE - use AAAA)", 39: "DNAME", 40: "SINK", 41: "OPT", 42: "APL",
    43: "DS (Delegation Signer)", 44: "SSHFP (SSH Key Fingerprint)", 45: "IPSECKEY",
    46: "RRSIG (Resource Record Signature)", 47: "NSEC (Next Secure)",
    48: "DNSKEY (DNS Public Key)", 49: "DHCID", 50: "NSEC3", 51: "NSEC3PARAM", 52: "TLSA",
    55: "HIP (Host Identity Protocol)", 57: "RKEY", 58: "TALINK (Trust Anchor LINK)",
    59: "CDS (Child DS)", 60: "CDNSKEY (DNSKEY(s) the Child wants reflected in DS)",
    61: "OPENPGPKEY (OpenPGP Key)", 62: "CSYNC (Child-to-Parent Synchronization)",
    63: "ZONEMD", 64: "SVCB (General Purpose Service Endpoints)",
    65: "HTTPS (HTTPS Specific Service Endpoints)", 99: "SPF", 100: "UINFO", 101: "UID",
    102: "GID", 103: "UNSPEC", 104: "NID (NodeID)", 105: "L32 (Locator32)",
    106: "L64 (Locator64)", 107: "LP (Locator FQDN)", 108: "EUI48", 109: "EUI64",
    249: "TKEY (Transaction Key)", 250: "TSIG (Transaction Signature)",
    251: "IXFR (incremental transfer)", 252: "AXFR (transfer of an entire zone)",
    253: "MAILB (mailbox-related RRs)", 254: "MAILA (mail agent RRs)",
    255: "* (A request for all records the server/cache has available)", 256: "URI",
    257: "CAA (Certification Authority Restriction)", 32768: "TA (DNSSEC Trust Authorities)",
    32769: "DLV (DNSSEC Lookaside Validation)", 65281: "WINS", 65282: "WINS-R", 65422: "XPF",
}  # fmt: skip
# packet-dns.c edns0_opt_code_vals (Wireshark 4.0)
OPTION_TEXTS = {
    0: "Reserved", 1: "LLQ - Long-lived query", 2: "UL - Update lease",
    3: "NSID - Name Server Identifier", 4: "Owner (reserved)",
    5: "DAU - DNSSEC Algorithm Understood (RFC6975)", 6: "DHU - DS Hash Understood (RFC6975)",
    7: "N3U - NSEC3 Hash Understood (RFC6975)", 8: "CSUBNET - Client subnet",
    9: "EDNS EXPIRE (RFC7314)", 10: "COOKIE", 11: "EDNS TCP Keepalive", 12: "PADDING",
    13: "CHAIN", 15: "Extended DNS Error", 20730: "Experimental - CSUBNET - Client subnet",
}  # fmt: skip
# Wireshark's words for the header's 4-bit RCODE (info column and tree; tshark 4.0
# leaves OPT's upper bits out of both)
RCODE_INFO = {
    0: "No error", 1: "Format error", 2: "Server failure", 3: "No such name",
    4: "Not implemented", 5: "Refused", 6: "Name exists", 7: "RRset exists",
    8: "RRset does not exist", 9: "Not authoritative", 10: "Name out of zone",
    11: "DSO-Type not implemented",
}  # fmt: skip
_U16 = struct.Struct("!H")
# (bound once: compiled, a module name is a cached lookup, an attribute a search)
_unpack_u16 = _U16.unpack_from


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
            return (layer.proto, conversation_key(pkt.src_raw, h.sport, pkt.dst_raw, h.dport)[0])
    return ("", pkt.src_raw, pkt.dst_raw)


def _note_udp(d, no: int, ts_ns: int, src, sport, dst, dport, buf: bytes, off: int, end: int):
    conv = ("udp", conversation_key(src, sport, dst, dport)[0])
    return d.dns.note(d, conv, buf, off, end, no, ts_ns)


def _note_tcp(d, no: int, ts_ns: int, src, sport, dst, dport, buf: bytes, off: int, end: int):
    conv = ("tcp", conversation_key(src, sport, dst, dport)[0])
    return d.dns.note(d, conv, buf, off + 2, end, no, ts_ns)


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
    length = _unpack_u16(buf, off)[0] if end - off >= 2 else None
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
    return 2 + _unpack_u16(data, 0)[0] if len(data) >= 2 else None


# --- heuristic: DNS on a port no decoder claims ---------------------------------------
_HEADER = struct.Struct("!HHHHHH")
_unpack_header = _HEADER.unpack_from
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
    _id, flags, qd, an, ns, ar = _unpack_header(buf, off)
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
    if not msg.header_complete:
        pkt.info = _short_info(buf, off, end)
    else:
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
_unpack_counts = _COUNTS.unpack_from
_RR_HEAD = struct.Struct("!HHIH")
_unpack_rr_head = _RR_HEAD.unpack_from
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
    ident, flags, qdcount, ancount, nscount, arcount = _unpack_counts(buf, off)
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
        rtype, rclass, _ttl, rdlength = _unpack_rr_head(buf, pos)
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


def _short_info(buf: bytes, off: int, end: int) -> str:
    """The info of a header cut short, as tshark writes it: its ID and what the flags
    say, once 4 bytes are there; nothing before (the malformed mark is all)."""
    if end - off < 4:
        return ""
    msg = _short_header(buf, off)
    kind = OPCODE_INFO.get(msg.opcode, f"Unknown operation ({msg.opcode})")
    return f"{kind}{' response' if msg.qr else ''} 0x{msg.id:04x}"


def _info(msg: wire.DnsMessage) -> str:
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
    """A record's words in the info column: "A 198.18.0.80", "MX 10 mail.lab"."""
    words = _rdata_words(rr.rtype, rr.data)
    return f"{rr.type_name} {words[0]}" if words else rr.type_name


def _rdata_words(t: int, data: Any) -> tuple[str, str] | None:
    """What the info column and the tree's summary line say of a record's rdata; None
    for a type they leave out or rdata too damaged for its type (kept generic)."""
    words = _RDATA_WORDS.get(t)
    try:
        return None if words is None else words(data)
    except AttributeError:
        return None


def _target(prefix: str) -> Callable[[Any], tuple[str, str]]:
    """The words of a type whose rdata is one name (NS, CNAME, PTR, DNAME)."""
    return lambda d: (ws_name(d.target), f"{prefix}{ws_name(d.target)}")


# type -> rdata -> (info column's words, tree summary's words)
_RDATA_WORDS: dict[int, Callable[[Any], tuple[str, str]]] = {
    1: lambda d: (d.address, f"addr {d.address}"),
    28: lambda d: (d.address, f"addr {d.address}"),
    2: _target("ns "),
    5: _target("cname "),
    12: _target(""),
    39: _target("dname "),
    15: lambda d: (f"{d.preference} {ws_name(d.exchange)}",
                   f"preference {d.preference}, mx {ws_name(d.exchange)}"),
    6: lambda d: (ws_name(d.mname), f"mname {ws_name(d.mname)}"),
    33: lambda d: (f"{d.priority} {d.weight} {d.port} {ws_name(d.target)}",
                   f"priority {d.priority}, weight {d.weight}, port {d.port}, "
                   f"target {ws_name(d.target)}"),
}  # fmt: skip


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
        # Wireshark adds the header fields that are there (rtp-seg-fault-1.pcapng), once
        # it has read the ID and flags together: none from fewer than 4 bytes.
        if layer.end - msg.offset < 4:
            return rows
        return rows + cut_rows(_header_rows(_short_header(buf, msg.offset)), end=layer.end)
    rows += _header_rows(msg)
    link = layer.hdr.link
    if link is not None and link[0] in _RETRANSMISSIONS:  # (its expert item sits on the ID)
        at = len(rows) - len(_header_rows(msg)) + 1
        rows[at:at] = expert_rows(1, "Warning", "Protocol", retransmission_text(link))
    rows += _question_rows(msg)
    titles = _UPDATE_TITLES if msg.opcode == 5 else _SECTION_TITLES
    last = None
    for section, rr in msg.records():
        if section != last:  # each section's subtree: "Answers", "Authoritative nameservers" …
            rows.append((0, "", "", titles[section], rr.offset, 0))
            last = section
        rows += _rr_rows(section, rr, buf)
    if msg.malformed is None:  # (Wireshark adds them last: a message cut short never gets there)
        rows += _link_rows(layer.hdr.link)
    return rows


_RETRANSMISSIONS = (RETRANSMITTED_QUERY, RETRANSMITTED_RESPONSE)


def retransmission_text(link: tuple[int, int, int]) -> str:
    """The expert item's words for a retransmitted query or response."""
    if link[0] == RETRANSMITTED_QUERY:
        return f"DNS query retransmission. Original request in frame {link[1]}"
    return f"DNS response retransmission. Original response in frame {link[1]}"


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
    """Transaction ID, flags (Wireshark's bit lines, which differ for queries and
    responses) and the four counts (a dynamic update's are zones, prerequisites,
    updates: RFC 2136 2.3)."""
    o, flags, qr = msg.offset, msg.flags, msg.qr
    rows = [
        row("dns.id", msg.id, f"Transaction ID: 0x{msg.id:04x}", o, 2),
        row("dns.flags", flags, f"Flags: 0x{flags:04x} {_flags_summary(msg)}", o + 2, 2),
    ]
    for name, mask, label, texts in _FLAG_LINES:
        if name == "authenticated" and not qr:  # a query's AD bit (RFC 6840 5.7): if set
            if flags & mask:
                rows.append(
                    (
                        1,
                        "dns.flags.authenticated",
                        True,
                        f"{bit_diagram(flags, mask, 16)} = AD bit: Set",
                        o + 2,
                        2,
                    )
                )
            continue
        if texts is None:  # a response's only
            if not qr:
                continue
            texts = _FLAG_RESPONSE_TEXTS[name]
        value = bool(flags & mask)
        rows.append(
            (
                1,
                f"dns.flags.{name}",
                value,
                f"{bit_diagram(flags, mask, 16)} = {label}: {texts[value]}",
                o + 2,
                2,
            )
        )
        if name == "response":
            opcode = msg.opcode
            rows.append(
                (
                    1,
                    "dns.flags.opcode",
                    opcode,
                    f"{bit_diagram(flags, 0x7800, 16)} = Opcode: "
                    f"{OPCODE_INFO.get(opcode, 'Unknown')} ({opcode})",
                    o + 2,
                    2,
                )
            )
    if qr:
        rcode = msg.rcode
        rows.append(
            (
                1,
                "dns.flags.rcode",
                rcode,
                f"{bit_diagram(flags, 0x000F, 16)} = Reply code: "
                f"{RCODE_INFO.get(rcode, 'Unknown')} ({rcode})",
                o + 2,
                2,
            )
        )
    counts = _UPDATE_COUNTS if msg.opcode == 5 else _COUNT_NAMES
    values = (msg.qdcount, msg.ancount, msg.nscount, msg.arcount)
    for i, ((name, label), value) in enumerate(zip(counts, values, strict=True)):
        rows.append(row(name, value, f"{label}: {value}", o + 4 + 2 * i, 2))
    return rows


# (name, mask, label, (texts when clear, when set)); None: a response's only, whose
# texts are in _FLAG_RESPONSE_TEXTS. Opcode follows Response, Reply code comes last.
_FLAG_LINES = [
    ("response", 0x8000, "Response", ("Message is a query", "Message is a response")),
    ("authoritative", 0x0400, "Authoritative", None),
    ("truncated", 0x0200, "Truncated", ("Message is not truncated", "Message is truncated")),
    (
        "recdesired",
        0x0100,
        "Recursion desired",
        ("Don't do query recursively", "Do query recursively"),
    ),
    ("recavail", 0x0080, "Recursion available", None),
    ("z", 0x0040, "Z", ("reserved (0)", "reserved - incorrect!")),
    ("authenticated", 0x0020, "Answer authenticated", None),
    ("checkdisable", 0x0010, "Non-authenticated data", ("Unacceptable", "Acceptable")),
]
_FLAG_RESPONSE_TEXTS = {
    "authoritative": ("Server is not an authority for domain", "Server is an authority for domain"),
    "recavail": ("Server can't do recursive queries", "Server can do recursive queries"),
    "authenticated": (
        "Answer/authority portion was not authenticated by the server",
        "Answer/authority portion was authenticated by the server",
    ),
}
_COUNT_NAMES = (
    ("dns.count.queries", "Questions"),
    ("dns.count.answers", "Answer RRs"),
    ("dns.count.auth_rr", "Authority RRs"),
    ("dns.count.add_rr", "Additional RRs"),
)
_UPDATE_COUNTS = (
    ("dns.count.zones", "Zones"),
    ("dns.count.prerequisites", "Prerequisites"),
    ("dns.count.updates", "Updates"),
    ("dns.count.add_rr", "Additional RRs"),
)
# The sections' subtree headings, as counted above
_SECTION_TITLES = {
    "questions": "Queries",
    "answer": "Answers",
    "authority": "Authoritative nameservers",
    "additional": "Additional records",
}
_UPDATE_TITLES = {
    "questions": "Zone",
    "answer": "Prerequisites",
    "authority": "Updates",
    "additional": "Additional records",
}


def _short_header(buf: bytes, o: int) -> wire.DnsMessage:
    """A header cut short, zero-padded to 12 bytes (cut_rows drops what was not there)."""
    msg = wire.DnsMessage(o, 12)
    fields = _HEADER.unpack(bytes(buf[o : o + 12]).ljust(12, b"\0"))
    msg.id, msg.flags, msg.qdcount, msg.ancount, msg.nscount, msg.arcount = fields
    msg.end = o + 12
    return msg


def _question_rows(msg: wire.DnsMessage) -> list:
    if not msg.questions:
        return []
    titles = _UPDATE_TITLES if msg.opcode == 5 else _SECTION_TITLES
    rows = [(0, "", "", titles["questions"], msg.questions[0].offset, 0)]
    for q in msg.questions:
        rows += _one_question_rows(q)
    return rows


def _one_question_rows(q: wire.Question) -> list:
    name = ws_name(q.name)
    labels = name.count(".") + 1  # (the root: "<Root>", 6 characters and 1 label)
    return [
        (1, "", "", f"{name}: type {type_short(q.qtype)}, class {class_text(q.qclass)}",
         q.offset, 0),
        row("dns.qry.name", name, f"Name: {name}", q.offset, 0, 2),
        row("dns.qry.name.len", len(name), f"[Name Length: {len(name)}]", depth=2),
        row("dns.count.labels", labels, f"[Label Count: {labels}]", depth=2),
        row("dns.qry.type", q.qtype, f"Type: {type_text(q.qtype)}", depth=2),
        row("dns.qry.class", q.qclass, f"Class: {class_text(q.qclass)} (0x{q.qclass:04x})",
            depth=2),
    ]  # fmt: skip


def _flags_summary(msg: wire.DnsMessage) -> str:
    """The Flags line's words: "Standard query", "Standard query response, No error"."""
    text = OPCODE_INFO.get(msg.opcode, "Unknown operation")
    if msg.qr:
        text += f" response, {RCODE_INFO.get(msg.rcode, 'Unknown error')}"
    return text


def type_short(rtype: int) -> str:
    """A type's mnemonic as Wireshark's summaries write it ("A", "Unknown (65280)")."""
    name = wire.TYPE_NAMES.get(rtype)
    return name if name is not None else f"Unknown ({rtype})"


def type_text(rtype: int) -> str:
    """The Type line's value: "A (Host Address) (1)", "Unknown (65280)"."""
    text = TYPE_DESCRIPTIONS.get(rtype)
    return f"{text} ({rtype})" if text is not None else f"Unknown ({rtype})"


def class_text(rclass: int) -> str:
    text = CLASSES.get(rclass)
    return text if text is not None else f"Unknown (0x{rclass:04x})"


def duration(seconds: int) -> str:
    """Wireshark's time_secs_to_str: "1 day, 2 hours, 3 minutes, 4 seconds"."""
    if seconds == 0:
        return "0 seconds"
    parts = []
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    for count, unit in ((days, "day"), (hours, "hour"), (minutes, "minute"), (secs, "second")):
        if count:
            parts.append(f"{count} {unit}{'s' if count != 1 else ''}")
    return ", ".join(parts)


# Types tshark 4.0 shows as undecoded data, with an expert note, though it names them
_UNDECODED = frozenset((256,))


def _rr_rows(section: str, rr: wire.ResourceRecord, buf: bytes) -> list:
    """One record: its summary line and, below it, its fields (Wireshark's order)."""
    name = ws_name(rr.name)
    t = rr.rtype
    if t == 41:
        head = f"{name}: type OPT"
    else:
        head = f"{name}: type {type_short(t)}, class {class_text(rr.rclass)}"
        words = _rdata_words(t, rr.data)
        if words is not None and words[1]:
            head += ", " + words[1]
    rows = [(1, "", "", head, rr.offset, 0)]
    if t == 33 and name.count(".") >= 2 and name.startswith("_"):  # _service._proto.name
        service, proto, rest = name.split(".", 2)
        rows += [
            row("dns.srv.service", service, f"Service: {service}", rr.offset, 0, 2),
            row("dns.srv.proto", proto, f"Protocol: {proto}", depth=2),
            row("dns.srv.name", rest, f"Name: {rest}", depth=2),
        ]
    else:
        rows.append(row("dns.resp.name", name, f"Name: {name}", rr.offset, 0, 2))
    rows.append(row("dns.resp.type", t, f"Type: {type_text(t)}", depth=2))
    if t == 41:  # OPT: the class and TTL fields carry EDNS parameters
        return rows + _opt_rows(rr)
    rows += [
        row(
            "dns.resp.class",
            rr.rclass,
            f"Class: {class_text(rr.rclass)} (0x{rr.rclass:04x})",
            depth=2,
        ),
        row("dns.resp.ttl", rr.ttl, f"Time to live: {rr.ttl} ({duration(rr.ttl)})", depth=2),
        row("dns.resp.len", rr.rdlength, f"Data length: {rr.rdlength}", depth=2),
    ]
    if t in _UNDECODED or t not in TYPE_DESCRIPTIONS:
        raw = bytes(buf[rr.rdata_offset : rr.rdata_offset + rr.rdlength])
        text = f"Dissector for DNS Type ({t}) code not implemented, Contact Wireshark developers if you want this supported"
        return [
            *rows,
            *expert_rows(2, "Note", "Undecoded", text),
            row("dns.data", raw, f"Data: {raw.hex()}", rr.rdata_offset, rr.rdlength, 2),
        ]
    try:
        return rows + _rdata_rows(t, rr.data)
    except AttributeError:  # rdata too damaged for its type: show it generically
        text = rr.data.to_text() if hasattr(rr.data, "to_text") else ""
        return [*rows, row("dns.resp.data", text, f"Data: {text}", depth=2)]


def _opt_rows(rr: wire.ResourceRecord) -> list:
    z = rr.ttl & 0xFFFF
    do = bool(z & 0x8000)
    rows = [
        row("dns.rr.udp_payload_size", rr.rclass, f"UDP payload size: {rr.rclass}", depth=2),
        row("dns.resp.ext_rcode", rr.ttl >> 24, f"Higher bits in extended RCODE: 0x{rr.ttl >> 24:02x}", depth=2),
        row("dns.resp.edns0_version", rr.ttl >> 16 & 0xFF, f"EDNS0 version: {rr.ttl >> 16 & 0xFF}", depth=2),
        row("dns.resp.z", z, f"Z: 0x{z:04x}", depth=2),
        row("dns.resp.z.do", do, f"{bit_diagram(z, 0x8000, 16)} = DO bit: {'Accepts DNSSEC security RRs' if do else 'Cannot handle DNSSEC security RRs'}", depth=3),
        row("dns.resp.z.reserved", z & 0x7FFF, f"{bit_diagram(z, 0x7FFF, 16)} = Reserved: 0x{z & 0x7FFF:04x}", depth=3),
        row("dns.resp.len", rr.rdlength, f"Data length: {rr.rdlength}", depth=2),
    ]  # fmt: skip
    for opt in getattr(rr.data, "options", ()):
        rows += _option_rows(opt)
    return rows


def _option_rows(opt: wire.EdnsOption) -> list:
    """An EDNS option: code, length, data, and what the data means for the options
    Wireshark decodes here (cookie, client subnet, padding)."""
    data = bytes(opt.data)
    name = OPTION_TEXTS.get(opt.code, "Unknown")
    shown = data.hex() if data else "<MISSING>"
    rows = [
        (2, "", "", f"Option: {name}", opt.offset, 4 + len(data)),
        row("dns.opt.code", opt.code, f"Option Code: {name} ({opt.code})", opt.offset, 2, 3),
        row("dns.opt.len", len(data), f"Option Length: {len(data)}", opt.offset + 2, 2, 3),
        row("dns.opt.data", data, f"Option Data: {shown}", opt.offset + 4, len(data), 3),
    ]
    if opt.code == 10:  # COOKIE (RFC 7873): 8 bytes of client cookie, then the server's
        server = data[8:]
        rows += [
            row("dns.opt.cookie.client", data[:8], f"Client Cookie: {data[:8].hex()}", depth=3),
            row(
                "dns.opt.cookie.server",
                server,
                f"Server Cookie: {server.hex() if server else '<MISSING>'}",
                depth=3,
            ),
        ]
    elif opt.code == 12:  # PADDING (RFC 7830)
        rows.append(row("dns.opt.padding", data, f"Padding: {shown}", depth=3))
    elif opt.code == 8:  # CSUBNET (RFC 7871)
        ecs = opt.client_subnet()
        if ecs is not None:
            family, source, scope, address = ecs
            fname = {1: "IPv4", 2: "IPv6"}.get(family, "Unknown")
            rows += [
                row("dns.opt.client.family", family, f"Family: {fname} ({family})", depth=3),
                row("dns.opt.client.netmask", source, f"Source Netmask: {source}", depth=3),
                row("dns.opt.client.scope", scope, f"Scope Netmask: {scope}", depth=3),
                row(
                    "dns.opt.client.addr4" if family == 1 else "dns.opt.client.addr6",
                    address,
                    f"Client Subnet: {address}",
                    depth=3,
                ),
            ]
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
    39: [("dns.dname", "target", "Dname", ws_name)],
    12: [("dns.ptr.domain_name", "target", "Domain Name", ws_name)],
    15: [("dns.mx.preference", "preference", "Preference", None),
         ("dns.mx.mail_exchange", "exchange", "Mail Exchange", ws_name)],
    6: [("dns.soa.mname", "mname", "Primary name server", ws_name),
        ("dns.soa.rname", "rname", "Responsible authority's mailbox", ws_name),
        ("dns.soa.serial_number", "serial", "Serial Number", None),
        ("dns.soa.refresh_interval", "refresh", "Refresh Interval", duration),
        ("dns.soa.retry_interval", "retry", "Retry Interval", duration),
        ("dns.soa.expire_limit", "expire", "Expire limit", duration),
        ("dns.soa.minimum_ttl", "minimum", "Minimum TTL", duration)],
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
LABEL_MAX = 239  # tshark's ITEM_LABEL_LENGTH (240 with the NUL): a longer label is cut


def _rdata_rows(t: int, data: Any) -> list:
    r = []

    def add(name: str, value: Any, label: str, shown: Any = None) -> None:
        if shown is None:
            shown = value.hex() if isinstance(value, bytes) else value
        text = f"{label}: {shown}"
        if len(text.encode()) > LABEL_MAX:  # (marked, and cut one byte shorter: tshark's)
            text = f"{label} [truncated]: {shown}".encode()[: LABEL_MAX - 1].decode(
                "utf-8", "ignore"
            )
        r.append(row(name, value, text, depth=2))

    spec = _RDATA_FIELDS.get(t)
    if spec is not None:
        for name, attr, label, shown in spec:
            value = getattr(data, attr)
            if shown is duration:
                add(name, value, label, f"{value} ({duration(value)})")
            else:
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
# straight as JSON; anything else (DNSSEC and rare types, rdata the parser kept
# generic, damage) returns None and takes the rows path. The tree writer keeps the
# lines of each question and record it has made (from their rows). Names repeat across records
# (dns.resp.name …): the JSON writer gathers each name's values in one pass, then
# writes the members in first-occurrence order, a list where there are several, as
# `model.merge_rows` merges the rows.
# The caches below are bounded (model.remember): a capture of many names or TTLs stays flat.
_NAMES: dict[str, tuple[str, str, int, int]] = {}  # wire name -> texts, see _name_texts
_FLAGS_JSON: dict[int, str] = {}  # flags -> members from dns.flags to dns.flags.rcode
_TREE: dict[tuple, str] = {}  # the flags, a question or a record -> its tree lines (_tree_text)
_EDNS: dict[int, str] = {}  # OPT's size | ttl << 16 -> see _edns_texts
_RDATA: dict[tuple, tuple] = {}  # (rtype, rdata) -> see _rdata_texts


def _name_texts(name: str) -> tuple[str, str, int, int]:
    """Wireshark's spelling of a wire name, as JSON, and its question length and label
    count (the values of dns.qry.name.len and dns.count.labels)."""
    ws = ws_name(name)  # (the root is "<Root>": 6 characters, 1 label, as tshark counts)
    texts = (ws, _jstr(ws), len(ws), ws.count(".") + 1)
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


def _edns_texts(size: int, ttl: int) -> str:
    """OPT's EDNS parameters (its class and TTL fields) as members."""
    text = (
        f',"dns.rr.udp_payload_size":{size},"dns.resp.ext_rcode":{ttl >> 24},'
        f'"dns.resp.edns0_version":{ttl >> 16 & 0xFF},"dns.resp.z":{ttl & 0xFFFF},'
        f'"dns.resp.z.do":{"true" if ttl & 0x8000 else "false"},'
        f'"dns.resp.z.reserved":{ttl & 0x7FFF}'
    )
    return remember(_EDNS, size | ttl << 16, text)


# The record types whose rdata the fast writers know: their rows have no bytes value.
# (SRV is not: its owner name is split into service, protocol and name.)
_RDATA_TYPES = frozenset((1, 28, 2, 5, 12, 15, 6, 16, 99, 39))


def _rdata_texts(t: int, data: Any) -> tuple[list, str] | None:
    """One record's rdata, made from its rows (`_rdata_rows`): ([(name, JSON value: an
    int or JSON text)], JSON members each after a comma (a list where a name repeats, as
    `model.merge_rows` merges them)); None for a type the fast writer leaves to the rows
    path. Cached, as records repeat (names do)."""
    if t not in _RDATA_TYPES:
        return None
    rows = _rdata_rows(t, data)
    values = [(r[1], r[2] if type(r[2]) is int else _jstr(r[2])) for r in rows]
    acc: defaultdict = defaultdict(list)
    for name, value in values:
        acc[name].append(value)
    return remember(_RDATA, (t, data), (values, _members(acc)))


def _json(layer: Layer, buf: bytes) -> str | None:
    msg, tcp_length = _message(layer, buf), layer.hdr.tcp_length
    if msg.malformed is not None or (tcp_length is not None and tcp_length[1] is None):
        return None
    if msg.opcode == 5 or (layer.hdr.link and layer.hdr.link[0] in _RETRANSMISSIONS):
        return None  # (an update's counts have other names; an expert item: the rows)
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


def _json_value(value: Any) -> str:
    """A row's value as the JSON view writes it."""
    if value is True or value is False:
        return "true" if value else "false"
    if type(value) is int:
        return str(value)
    if type(value) is bytes:
        return f'"{value.hex()}"'
    return _jstr(str(value))


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
    params = _EDNS.get(size | ttl << 16) or _edns_texts(size, ttl)
    opts = ""
    if edns.options:  # (few messages have options: made from their rows)
        acc: defaultdict = defaultdict(list)
        for opt in edns.options:
            for r in _option_rows(opt):
                if r[1]:
                    acc[r[1]].append(_json_value(r[2]))
        opts = _members(acc)
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
            acc["dns.resp.z.reserved"].append(ttl & 0x7FFF)
            acc["dns.resp.len"].append(rdlength)
            for opt in data.options:
                for r in _option_rows(opt):
                    if r[1]:
                        acc[r[1]].append(_json_value(r[2]))
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
    """The -V lines of a clean message: its header words, each question and each record
    made once from their rows (`_tree_text`) and kept, as traffic repeats them."""
    msg, tcp_length = _message(layer, buf), layer.hdr.tcp_length
    if msg.malformed is not None or (tcp_length is not None and tcp_length[1] is None):
        return None
    link, flags = layer.hdr.link, msg.flags
    if msg.opcode == 5 or (link is not None and link[0] in _RETRANSMISSIONS):
        return None  # (an update's other names, an expert item on the ID: the rows)
    parts = ["Domain Name System (response)" if flags & 0x8000 else "Domain Name System (query)"]
    if tcp_length is not None:
        parts.append(f"    Length: {tcp_length[1]}")
    parts.append(f"    Transaction ID: 0x{msg.id:04x}")
    key: tuple = ("flags", flags)
    parts.append(_TREE.get(key) or _tree_text(key, _header_rows(msg)[1:-4]))
    parts.append(
        f"    Questions: {msg.qdcount}\n    Answer RRs: {msg.ancount}\n"
        f"    Authority RRs: {msg.nscount}\n    Additional RRs: {msg.arcount}"
    )
    if msg.questions:
        parts.append("    Queries")
        for q in msg.questions:
            key = q[:3]
            parts.append(_TREE.get(key) or _tree_text(key, _one_question_rows(q)))
    last = None
    for section, rr in msg.records():
        if section != last:
            parts.append("    " + _SECTION_TITLES[section])
            last = section
        name, t, rclass, ttl, rdlength, _, data, _ = rr
        if t in _UNDECODED or t not in TYPE_DESCRIPTIONS:
            return None  # (its rows quote the rdata's bytes)
        key = (name, t, rclass, ttl, rdlength, data)
        try:
            text = _TREE.get(key) or _tree_text(key, _rr_rows(section, rr, buf))
        except TypeError:  # rdata holding a list: not a key, made each time
            text = _tree_text(None, _rr_rows(section, rr, buf))
        parts.append(text)
    return "\n".join(parts) + _link_text(link, True)


def _tree_text(key: tuple | None, rows: list) -> str:
    """Rows as tree lines (as render.packets draws them), kept under KEY."""
    text = "\n".join(["    " * (r[0] + 1) + show_text(r[3]) for r in rows if r[3] is not None])
    return text if key is None else remember(_TREE, key, text)


ONE_PER_SEGMENT.add("dns")  # several messages in one TCP segment: "tcp:dns", as tshark
registry.register(
    "dns",
    writers={_rows: (_json, _tree)},
    udp_ports={53: decode_dns_udp},
    tcp_ports={53: registry.StreamProtocol(decode_dns_tcp, dns_tcp_pdu_length)},
    udp_heuristics=(dns_udp_heuristic,),
)
