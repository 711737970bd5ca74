"""DNS messages: one decoder for the dissector and for ``netlab dns-query``.

RFC 1035 (header, questions, records, name compression), RFC 6891 (EDNS: the OPT
pseudo-record and its options), RFC 4034 (DNSSEC records), RFC 8659 (CAA),
RFC 2782 (SRV), RFC 9460 (SVCB/HTTPS), RFC 3597 (unknown types). Record data is
decoded by the per-type table in `netlab.wire.dns_rdata`; text is dig's
presentation format (BIND 9.18, ``+nosplit``), which the tests check against
dig and named themselves.

Contract (design.md §5):

- `parse_message` raises nothing but `DnsFormatError`, whose one-line message
  says what is wrong and at which byte offset of `buf`.
- `parse_message_partial` never raises on content: it returns what decoded
  before the error and the error text in ``.malformed``.
- Work is bounded: compression pointers must point strictly backwards (before the
  start of the run of labels they end, RFC 1035 4.1.4 "a prior occurrence"), at
  most `MAX_POINTERS` per name, at most 255 octets per name; counts are only
  trusted until the bytes run out, so a header claiming 65535 records in a
  12-byte message costs one step.

Offsets (`Question.offset`, `ResourceRecord.rdata_offset`, error messages) are
positions in `buf`; the message itself is ``buf[offset:end]`` and compression
pointers are relative to `offset`.
"""

from __future__ import annotations

import re
import socket
import struct
from collections.abc import Iterator
from typing import NamedTuple

from netlab.wire.dns_rdata import (
    DECODERS,
    IN_DECODERS,
    TYPE_NAMES,
    TYPE_VALUES,
    Rdata,
    RdataError,
    RdataTruncated,
    Unknown,
    type_to_text,
)

__all__ = [
    "CLASS_NAMES",
    "MAX_POINTERS",
    "OPCODE_NAMES",
    "OPTION_NAMES",
    "RCODE_NAMES",
    "TYPE_NAMES",
    "TYPE_VALUES",
    "DnsFormatError",
    "DnsMessage",
    "Edns",
    "EdnsOption",
    "Question",
    "Rdata",
    "ResourceRecord",
    "TcpFrame",
    "class_to_text",
    "opcode_to_text",
    "parse_message",
    "parse_message_partial",
    "parse_tcp_stream",
    "rcode_to_text",
    "tcp_message_lengths",
    "type_to_text",
]


class DnsFormatError(ValueError):
    """The bytes are not a well-formed DNS message. One line: what, and at which offset.

    `offset` is where the item that failed (header, question, record) starts in
    the buffer, so a dissector can mark the bytes from there on as malformed.
    """

    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.offset = offset


MAX_POINTERS = 128
"""Compression pointers followed in one name; a longer chain is an attack, not a name."""
MAX_NAME_OCTETS = 255  # RFC 1035 2.3.4, wire length including the root octet

# --- names for numbers ----------------------------------------------------------------------

CLASS_NAMES = {1: "IN", 3: "CH", 4: "HS", 254: "NONE", 255: "ANY"}
# IANA "DNS RCODEs"; 16 is BADVERS in a message header (BADSIG only inside TSIG).
RCODE_NAMES = {
    0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED",
    6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE", 11: "DSOTYPENI",
    16: "BADVERS", 17: "BADKEY", 18: "BADTIME", 19: "BADMODE", 20: "BADNAME", 21: "BADALG",
    22: "BADTRUNC", 23: "BADCOOKIE",
}  # fmt: skip
OPCODE_NAMES = {0: "QUERY", 1: "IQUERY", 2: "STATUS", 4: "NOTIFY", 5: "UPDATE", 6: "DSO"}
# IANA "DNS EDNS0 Option Codes (OPT)", short forms.
OPTION_NAMES = {
    1: "LLQ", 2: "UL", 3: "NSID", 5: "DAU", 6: "DHU", 7: "N3U", 8: "CLIENT-SUBNET",
    9: "EXPIRE", 10: "COOKIE", 11: "TCP-KEEPALIVE", 12: "PADDING", 13: "CHAIN", 14: "KEY-TAG",
    15: "EDE", 16: "CLIENT-TAG", 17: "SERVER-TAG", 18: "REPORT-CHANNEL", 19: "ZONEVERSION",
}  # fmt: skip
# RFC 8914 Extended DNS Error info codes.
EDE_NAMES = (
    "Other", "Unsupported DNSKEY Algorithm", "Unsupported DS Digest Type", "Stale Answer",
    "Forged Answer", "DNSSEC Indeterminate", "DNSSEC Bogus", "Signature Expired",
    "Signature Not Yet Valid", "DNSKEY Missing", "RRSIGs Missing", "No Zone Key Bit Set",
    "NSEC Missing", "Cached Error", "Not Ready", "Blocked", "Censored", "Filtered",
    "Prohibited", "Stale NXDOMAIN Answer", "Not Authoritative", "Not Supported",
    "No Reachable Authority", "Network Error", "Invalid Data",
)  # fmt: skip


def class_to_text(rclass: int) -> str:
    name = CLASS_NAMES.get(rclass)
    return name if name is not None else f"CLASS{rclass}"


def rcode_to_text(rcode: int) -> str:
    name = RCODE_NAMES.get(rcode)
    return name if name is not None else f"RCODE{rcode}"


def opcode_to_text(opcode: int) -> str:
    name = OPCODE_NAMES.get(opcode)
    return name if name is not None else f"OPCODE{opcode}"


# --- domain names ---------------------------------------------------------------------------


def _label_chars() -> tuple[str, ...]:
    # dig escapes the zone-file specials " ( ) . ; \ @ $ with a backslash and any byte
    # outside 0x21-0x7e as \DDD (so a space is \032).
    out = []
    for b in range(256):
        if b <= 0x20 or b >= 0x7F:
            out.append(f"\\{b:03d}")
        elif b in b'"().;\\@$':
            out.append("\\" + chr(b))
        else:
            out.append(chr(b))
    return tuple(out)


_LABEL_CHARS = _label_chars()
# Labels joined with "." that need no escaping (the dot count is checked separately).
_NAME_PLAIN = re.compile(rb"[!#%&'*+,\-./0-:<-?A-\[\]-~]*")


def label_to_text(label: bytes) -> str:
    """One label as dig prints it (``\\.`` for a dot inside it, ``\\DDD`` for other bytes)."""
    return "".join([_LABEL_CHARS[b] for b in label])


def _labels_text(labels: list[bytes]) -> str:
    """Labels as text with the trailing dot; the fast path is one regex and one decode."""
    raw = b".".join(labels)
    if _NAME_PLAIN.fullmatch(raw) and raw.count(46) == len(labels) - 1:
        return raw.decode("ascii") + "."
    return ".".join([label_to_text(label) for label in labels]) + "."


def _compose(labels: list[bytes], suffix: str) -> str:
    """Text of `labels` followed by an already decoded `suffix` ("" or "." for the root)."""
    if not labels:
        return suffix or "."
    if suffix == "." or not suffix:
        return _labels_text(labels)
    return _labels_text(labels) + suffix


def _read_name(
    buf: bytes, pos: int, limit: int, end: int, base: int, cache: dict[int, tuple[str, int, int]]
) -> tuple[str, int]:
    """Decode the name at `pos`; return its text and the offset just after it in place.

    `limit` bounds the bytes read in place (the rdata end for names inside rdata);
    after the first pointer only `end` (the message end) applies. `cache` maps an
    offset where a name or a pointed-to run of labels starts to (text, octets,
    pointers), so a name that is pointed at again costs one dict lookup.
    """
    n = buf[pos] if pos < limit else -1
    if n >= 0xC0 and pos + 2 <= limit:
        # Fast path: most names in a response are one pointer to a name seen before.
        target = base + (((n & 0x3F) << 8) | buf[pos + 1])
        hit = cache.get(target) if target < pos else None
        if hit is not None and hit[2] < MAX_POINTERS:
            return hit[0], pos + 2
    elif n == 0:
        return ".", pos + 1
    start = pos
    labels: list[bytes] = []
    octets = 1  # the root label
    jumps = 0
    seg = pos  # start of the run of labels being read: pointers must go before it
    after = 0
    suffix = ""
    # Positions reached through a pointer, with (label index, octets, pointers) there. Each
    # becomes a cache entry, and the walk stops at any cached position: so every offset is
    # walked at most once per message however the pointers are arranged (linear work).
    marks: list[tuple[int, int, int, int]] = []
    while True:
        if jumps:
            hit = cache.get(pos)
            if hit is not None:
                suffix, more_octets, more_jumps = hit
                octets += more_octets - 1
                jumps += more_jumps
                if octets > MAX_NAME_OCTETS:
                    raise DnsFormatError(f"name longer than 255 bytes at offset {start}")
                if jumps > MAX_POINTERS:
                    raise DnsFormatError(
                        f"more than {MAX_POINTERS} compression pointers in the name at "
                        f"offset {start}"
                    )
                break
            marks.append((pos, len(labels), octets, jumps))
        if pos >= limit:
            raise RdataTruncated(1, pos, limit)
        n = buf[pos]
        if n == 0:
            if not after:
                after = pos + 1
            break
        if n < 0x40:
            stop = pos + 1 + n
            if stop > limit:
                raise RdataTruncated(1 + n, pos, limit)
            octets += 1 + n
            if octets > MAX_NAME_OCTETS:
                raise DnsFormatError(f"name longer than 255 bytes at offset {start}")
            labels.append(buf[pos + 1 : stop])
            pos = stop
            continue
        if n < 0xC0:
            if n < 0x80:  # the 0x40 prefix was RFC 2673 bit-string labels, now obsolete
                raise DnsFormatError(f"label of {n} bytes exceeds 63 at offset {pos}")
            raise DnsFormatError(f"unknown label type 0x{n:02x} at offset {pos}")
        if pos + 2 > limit:
            raise RdataTruncated(2, pos, limit)
        target = base + (((n & 0x3F) << 8) | buf[pos + 1])
        if target >= seg:
            if target > pos:
                raise DnsFormatError(f"forward compression pointer at offset {pos} (to {target})")
            raise DnsFormatError(f"compression pointer loop at offset {pos} (to {target})")
        if not after:
            after = pos + 2
            limit = end
        jumps += 1
        if jumps > MAX_POINTERS:
            raise DnsFormatError(
                f"more than {MAX_POINTERS} compression pointers in the name at offset {start}"
            )
        seg = pos = target
    if suffix == "." or not suffix:
        if not labels:
            text = "."
        else:
            raw = b".".join(labels)
            if _NAME_PLAIN.fullmatch(raw) and raw.count(46) == len(labels) - 1:
                text = raw.decode("ascii") + "."
            else:
                text = ".".join([label_to_text(label) for label in labels]) + "."
    else:
        text = _labels_text(labels) + suffix if labels else suffix
    cache[start] = (text, octets, jumps)
    for at, first, octets_before, jumps_before in marks:
        tail = _compose(labels[first:], suffix)
        cache[at] = (tail, octets - octets_before + 1, jumps - jumps_before)
    return text, after


# --- message model --------------------------------------------------------------------------


class Question(NamedTuple):
    name: str
    qtype: int
    qclass: int
    offset: int  # where the question (its name) starts in the buffer

    @property
    def type_name(self) -> str:
        return type_to_text(self.qtype)

    @property
    def class_name(self) -> str:
        return class_to_text(self.qclass)

    def to_text(self) -> str:
        """dig's question line without the leading ';': ``example.lab. IN A``."""
        return f"{self.name} {class_to_text(self.qclass)} {type_to_text(self.qtype)}"


class ResourceRecord(NamedTuple):
    name: str
    rtype: int
    rclass: int  # for OPT: the requestor's UDP payload size
    ttl: int  # for OPT: extended rcode, version and flags
    rdlength: int
    rdata_offset: int
    data: Rdata  # a typed dns_rdata object, or `Edns` for OPT
    offset: int  # where the record (its owner name) starts in the buffer

    @property
    def type_name(self) -> str:
        return type_to_text(self.rtype)

    @property
    def class_name(self) -> str:
        return class_to_text(self.rclass)

    def rdata_text(self) -> str:
        return self.data.to_text()

    def to_text(self) -> str:
        """dig's record line with single spaces: ``www.example.lab. 300 IN A 192.0.2.1``."""
        rdata = self.data.to_text()
        head = f"{self.name} {self.ttl} {class_to_text(self.rclass)} {type_to_text(self.rtype)}"
        return f"{head} {rdata}" if rdata else head


class EdnsOption(NamedTuple):
    code: int
    data: bytes
    offset: int  # of the option's code field in the buffer

    @property
    def name(self) -> str:
        name = OPTION_NAMES.get(self.code)
        return name if name is not None else f"OPT{self.code}"

    def client_subnet(self) -> tuple[int, int, int, str] | None:
        """ECS (RFC 7871) as (family, source prefix, scope prefix, address), or None."""
        if self.code != 8:
            return None
        return _ecs(self.data)

    def to_text(self) -> str:
        """The option as dig prints it in the OPT pseudo-section, without the leading '; '."""
        label, value = _option_text(self.code, self.data)
        return f"{label}: {value}" if value else f"{label}:"


class Edns(NamedTuple):
    """The OPT pseudo-record (RFC 6891 6.1.2): what its CLASS and TTL fields mean."""

    udp_payload_size: int
    ext_rcode: int  # upper 8 bits of the 12-bit rcode
    version: int
    do: bool  # DNSSEC OK
    z: int  # the other 15 flag bits, must be zero
    options: tuple[EdnsOption, ...]

    def to_text(self) -> str:
        """dig's EDNS line without '; EDNS: ': ``version: 0, flags: do; udp: 1232``."""
        flags = " do" if self.do else ""
        mbz = f" MBZ: 0x{self.z:04x}," if self.z else ""
        return f"version: {self.version}, flags:{flags};{mbz} udp: {self.udp_payload_size}"


class DnsMessage:
    """A decoded message. Header bits are computed from `flags` on access (cheap to build).

    `end` is where decoding stopped: the end of the last record, or, after an error,
    the start of the item that failed (so ``buf[end:offset + size]`` is the bad part).
    """

    __slots__ = (
        "additional",
        "ancount",
        "answers",
        "arcount",
        "authority",
        "edns",
        "end",
        "flags",
        "id",
        "malformed",
        "nscount",
        "offset",
        "qdcount",
        "questions",
        "size",
    )

    def __init__(self, offset: int = 0, size: int = 0) -> None:
        self.id = 0
        self.flags = 0
        self.qdcount = self.ancount = self.nscount = self.arcount = 0
        self.questions: list[Question] = []
        self.answers: list[ResourceRecord] = []
        self.authority: list[ResourceRecord] = []
        self.additional: list[ResourceRecord] = []
        self.edns: Edns | None = None
        self.malformed: str | None = None
        self.offset = offset
        self.size = size
        self.end = offset

    # Header fields, Wireshark's dns.flags.* in RFC 1035 / RFC 2535 / RFC 4035 order.
    @property
    def qr(self) -> bool:
        return bool(self.flags & 0x8000)

    @property
    def opcode(self) -> int:
        return (self.flags >> 11) & 0xF

    @property
    def aa(self) -> bool:
        return bool(self.flags & 0x0400)

    @property
    def tc(self) -> bool:
        return bool(self.flags & 0x0200)

    @property
    def rd(self) -> bool:
        return bool(self.flags & 0x0100)

    @property
    def ra(self) -> bool:
        return bool(self.flags & 0x0080)

    @property
    def z(self) -> bool:
        return bool(self.flags & 0x0040)

    @property
    def ad(self) -> bool:
        return bool(self.flags & 0x0020)

    @property
    def cd(self) -> bool:
        return bool(self.flags & 0x0010)

    @property
    def rcode(self) -> int:
        """The header's 4-bit RCODE (Wireshark dns.flags.rcode)."""
        return self.flags & 0xF

    @property
    def extended_rcode(self) -> int:
        """The full 12-bit RCODE: OPT's upper 8 bits joined to the header's 4 (RFC 6891 6.1.3)."""
        if self.edns is None:
            return self.flags & 0xF
        return (self.edns.ext_rcode << 4) | (self.flags & 0xF)

    @property
    def rcode_name(self) -> str:
        return rcode_to_text(self.extended_rcode)

    @property
    def opcode_name(self) -> str:
        return opcode_to_text(self.opcode)

    @property
    def header_complete(self) -> bool:
        return self.end - self.offset >= 12

    @property
    def trailing(self) -> int:
        """Bytes after the last record (0 for a well-formed message)."""
        return self.offset + self.size - self.end if self.malformed is None else 0

    def flags_text(self) -> str:
        """The set flags as dig lists them: ``qr aa rd ra ad``."""
        return " ".join([name for bit, name in _FLAG_BITS if self.flags & bit])

    def records(self) -> Iterator[tuple[str, ResourceRecord]]:
        """(section, record) for answer, authority and additional records, in order."""
        for section, rrs in (
            ("answer", self.answers),
            ("authority", self.authority),
            ("additional", self.additional),
        ):
            for rr in rrs:
                yield section, rr

    def __repr__(self) -> str:
        return (
            f"<DnsMessage id={self.id} {self.opcode_name} {self.rcode_name} "
            f"flags=[{self.flags_text()}] qd={len(self.questions)} an={len(self.answers)} "
            f"ns={len(self.authority)} ar={len(self.additional)}"
            + (f" malformed={self.malformed!r}" if self.malformed else "")
            + ">"
        )


_FLAG_BITS = (
    (0x8000, "qr"),
    (0x0400, "aa"),
    (0x0200, "tc"),
    (0x0100, "rd"),
    (0x0080, "ra"),
    (0x0020, "ad"),
    (0x0010, "cd"),
)

# --- parsing --------------------------------------------------------------------------------

_HEADER = struct.Struct("!6H")
_QUESTION_TAIL = struct.Struct("!HH")
_RR_TAIL = struct.Struct("!HHIH")
_OPTION_HEAD = struct.Struct("!HH")


def parse_message(
    buf: bytes | bytearray | memoryview, offset: int = 0, end: int | None = None
) -> DnsMessage:
    """Decode the DNS message in ``buf[offset:end]``; raise `DnsFormatError` if malformed."""
    data, base, stop = _bounds(buf, offset, end)
    msg = DnsMessage(base, max(0, stop - base))
    _parse(msg, data, base, stop)
    return msg


def parse_message_partial(
    buf: bytes | bytearray | memoryview, offset: int = 0, end: int | None = None
) -> DnsMessage:
    """Like `parse_message`, but return what decoded before an error, with ``.malformed`` set."""
    data, base, stop = _bounds(buf, offset, end)
    msg = DnsMessage(base, max(0, stop - base))
    try:
        _parse(msg, data, base, stop)
    except DnsFormatError as exc:
        msg.malformed = str(exc)
        if exc.offset is not None:
            msg.end = exc.offset
    return msg


def _bounds(buf: bytes | bytearray | memoryview, offset: int, end: int | None):
    # Indexing bytes is faster than a memoryview, and rdata slices should be bytes anyway.
    data = buf if type(buf) is bytes else bytes(buf)
    stop = len(data) if end is None else max(0, min(end, len(data)))
    return data, max(0, offset), stop


def _parse(msg: DnsMessage, buf: bytes, base: int, end: int) -> None:
    if base + 12 > end:
        raise DnsFormatError(
            f"header runs past the end of the message (needs 12 bytes at offset {base}, "
            f"message is {max(0, end - base)})",
            base,
        )
    msg.id, msg.flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(buf, base)
    msg.qdcount, msg.ancount, msg.nscount, msg.arcount = qdcount, ancount, nscount, arcount
    msg.end = pos = base + 12
    cache: dict[int, tuple[str, int, int]] = {}
    read_name = _read_name

    questions = msg.questions
    for i in range(qdcount):
        start = pos
        try:
            qname, pos = read_name(buf, pos, end, end, base, cache)
            if pos + 4 > end:
                raise RdataTruncated(4, pos, end)
        except (RdataError, DnsFormatError) as exc:
            raise _item_error(exc, "question", i, 0, start, base, end) from None
        qtype, qclass = _QUESTION_TAIL.unpack_from(buf, pos)
        pos += 4
        questions.append(_tuple_new(Question, (qname, qtype, qclass, start)))
    msg.end = pos
    if not (ancount or nscount or arcount):
        return

    def name(at: int, limit: int) -> tuple[str, int]:
        return read_name(buf, at, limit, end, base, cache)

    unpack_rr = _RR_TAIL.unpack_from
    for section, count, out in (
        ("answer RR", ancount, msg.answers),
        ("authority RR", nscount, msg.authority),
        ("additional RR", arcount, msg.additional),
    ):
        for i in range(count):
            start = pos
            rtype = 0
            stop = -1  # the rdata end, once known
            try:
                owner, pos = read_name(buf, pos, end, end, base, cache)
                if pos + 10 > end:
                    raise RdataTruncated(10, pos, end)
                rtype, rclass, ttl, rdlength = unpack_rr(buf, pos)
                pos += 10
                stop = pos + rdlength
                if stop > end:
                    raise RdataTruncated(rdlength, pos, end)
                if rtype == 41:
                    data = _decode_opt(buf, pos, stop, rclass, ttl)
                    if msg.edns is None:
                        msg.edns = data
                else:
                    # Class-specific types (A, AAAA, SRV, ...) only in IN; 0x8001 is mDNS's
                    # cache-flush bit on IN (RFC 6762 10.2).
                    decode = (IN_DECODERS if rclass & 0x7FFF == 1 else DECODERS).get(rtype)
                    data = decode(buf, pos, stop, name) if decode else Unknown(buf[pos:stop])
            except (RdataError, DnsFormatError) as exc:
                raise _item_error(exc, section, i, rtype, start, base, end, stop) from None
            out.append(
                _tuple_new(ResourceRecord, (owner, rtype, rclass, ttl, rdlength, pos, data, start))
            )
            msg.end = pos = stop


# For scanners that read a name without parsing the whole message (dissect/dns.py).
read_name = _read_name
labels_text = _labels_text

# NamedTuple's generated __new__ is a Python function; tuple.__new__ builds the same
# object without that frame, which is most of the cost of a record.
_tuple_new = tuple.__new__


def _item_error(
    exc: Exception,
    what: str,
    index: int,
    rtype: int,
    start: int,
    base: int,
    end: int,
    rdata_end: int = -1,
) -> DnsFormatError:
    item = f"{what} {index + 1}"
    if isinstance(exc, RdataTruncated):
        if exc.limit != rdata_end:
            text = (
                f"{item} runs past the end of the message (needs {_nbytes(exc.needed)} at "
                f"offset {exc.at}, message is {end - base})"
            )
        else:
            text = (
                f"{item} {type_to_text(rtype)} rdata runs past its rdlength (needs "
                f"{_nbytes(exc.needed)} at offset {exc.at}, rdata ends at offset {exc.limit})"
            )
    elif isinstance(exc, RdataError):
        text = f"{item}: {type_to_text(rtype)} rdata {exc}"
    else:
        text = f"{item}: {exc}"
    return DnsFormatError(text, start)


def _nbytes(n: int) -> str:
    return "1 byte" if n == 1 else f"{n} bytes"


# --- EDNS -----------------------------------------------------------------------------------


def _decode_opt(buf: bytes, pos: int, end: int, rclass: int, ttl: int) -> Edns:
    options = []
    while pos < end:
        if pos + 4 > end:
            raise RdataTruncated(4, pos, end)
        code, size = _OPTION_HEAD.unpack_from(buf, pos)
        if pos + 4 + size > end:
            raise RdataTruncated(size, pos + 4, end)
        options.append(EdnsOption(code, buf[pos + 4 : pos + 4 + size], pos))
        pos += 4 + size
    version, flags = (ttl >> 16) & 0xFF, ttl & 0xFFFF
    return Edns(rclass, ttl >> 24, version, bool(flags & 0x8000), flags & 0x7FFF, tuple(options))


def _ecs(data: bytes) -> tuple[int, int, int, str] | None:
    # RFC 7871 6: FAMILY, SOURCE PREFIX-LENGTH, SCOPE PREFIX-LENGTH, then only the
    # ceil(source/8) address octets that the prefix covers.
    if len(data) < 4:
        return None
    family, source, scope = (data[0] << 8) | data[1], data[2], data[3]
    address = data[4:]
    size = {1: 4, 2: 16}.get(family)
    if size is None or source > size * 8 or len(address) != (source + 7) // 8:
        return None
    padded = address + bytes(size - len(address))
    af = socket.AF_INET if family == 1 else socket.AF_INET6
    return family, source, scope, socket.inet_ntop(af, padded)


def _hex_ascii(data: bytes) -> str:
    """dig's generic option value: hex octets, then the printable characters in quotes."""
    if not data:
        return ""
    text = "".join([chr(b) if 0x20 <= b < 0x7F else "." for b in data])
    return f'{data.hex(" ")} ("{text}")'


def duration_text(seconds: int) -> str:
    """BIND's verbose TTL text: ``1 week 2 days 1 hour 1 minute 1 second``."""
    parts = []
    for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}{'s' if count != 1 else ''}")
    if seconds or not parts:
        parts.append(f"{seconds} second{'s' if seconds != 1 else ''}")
    return " ".join(parts)


# dig's labels for the options it decodes; any other code is "OPT=<code>" with hex.
_DIG_OPTION_LABELS = {
    3: "NSID", 8: "CLIENT-SUBNET", 9: "EXPIRE", 10: "COOKIE", 11: "TCP KEEPALIVE", 12: "PAD",
    14: "KEY-TAG", 15: "EDE", 16: "CLIENT-TAG", 17: "SERVER-TAG",
}  # fmt: skip


def _option_text(code: int, data: bytes) -> tuple[str, str]:
    label = _DIG_OPTION_LABELS.get(code)
    if label is None:
        return f"OPT={code}", _hex_ascii(data)
    n = len(data)
    if n == 0 or code == 3:
        return label, _hex_ascii(data)
    if code == 8:
        ecs = _ecs(data)
        if ecs is not None:
            return label, f"{ecs[3]}/{ecs[1]}/{ecs[2]}"
    elif code == 9 and n == 4:
        seconds = int.from_bytes(data, "big")
        return label, f"{seconds} ({duration_text(seconds)})"
    elif code == 10:
        return label, data.hex()
    elif code == 11 and n == 2:
        return label, f"{int.from_bytes(data, 'big') / 10:.1f} secs"
    elif code == 12:
        return label, f"({n} bytes)"
    elif code == 14 and n % 2 == 0:
        return label, ", ".join([str(t) for t in struct.unpack(f"!{n // 2}H", data)])
    elif code == 15 and n >= 2:
        info = int.from_bytes(data[:2], "big")
        text = f"{info} ({EDE_NAMES[info]})" if info < len(EDE_NAMES) else str(info)
        if n > 2:
            extra = "".join([chr(b) if 0x20 <= b < 0x7F else "." for b in data[2:]])
            text += f": ({extra})"
        return label, text
    elif code in (16, 17) and n == 2:
        return label, str(int.from_bytes(data, "big"))
    return label, _hex_ascii(data)


# --- DNS over TCP (RFC 1035 4.2.2, RFC 7766) ------------------------------------------------


class TcpFrame(NamedTuple):
    """One length-prefixed message in a TCP byte stream."""

    offset: int  # first byte of the DNS message (after the 2-byte length)
    length: int | None  # what the prefix declares; None when the prefix itself is cut
    available: int  # message bytes present in the buffer
    truncated: str | None  # None, or what is missing

    @property
    def complete(self) -> bool:
        return self.truncated is None


def tcp_message_lengths(buf: bytes | bytearray | memoryview, offset: int = 0) -> Iterator[TcpFrame]:
    """Split a DNS-over-TCP byte stream into its length-prefixed messages.

    A cut prefix or message is reported in the last frame's `truncated`, never raised,
    so a dissector doing TCP reassembly knows how many more bytes it needs.
    """
    pos, end = offset, len(buf)
    while pos < end:
        if pos + 2 > end:
            yield TcpFrame(pos + 2, None, 0, f"length prefix cut at offset {pos} (1 of 2 bytes)")
            return
        length = (buf[pos] << 8) | buf[pos + 1]
        start = pos + 2
        available = min(length, end - start)
        if available < length:
            yield TcpFrame(
                start,
                length,
                available,
                f"message of {length} bytes at offset {start} is cut after {available} bytes",
            )
            return
        yield TcpFrame(start, length, length, None)
        pos = start + length


def parse_tcp_stream(buf: bytes | bytearray | memoryview, offset: int = 0) -> list[DnsMessage]:
    """Every message in a DNS-over-TCP stream, each decoded as far as it goes."""
    data = buf if type(buf) is bytes else bytes(buf)
    messages = []
    for frame in tcp_message_lengths(data, offset):
        msg = parse_message_partial(data, frame.offset, frame.offset + frame.available)
        if frame.truncated is not None:
            msg.malformed = frame.truncated
        messages.append(msg)
    return messages
