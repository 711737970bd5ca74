"""DNS lookups, sans-I/O: the logic of `netlab dns-query` with time passed in.

Three engines, none of which opens a socket or reads a clock:

- `Exchange`: one question to one server. It hands out what to send (`Outgoing`:
  the query over UDP or over TCP) and is fed what came back, with the time.
  Replies are validated as a spoof-resistant resolver does: the ID, QR, the
  question section (name, type, class) and the source address and port must all
  match, otherwise the datagram is ignored and counted. It retries after each
  timeout up to `tries`, switches to TCP when a reply has TC set (unless told to
  keep it), and a reply that matches but does not decode ends it with an error.
- `ZoneTransfer`: AXFR (RFC 5936) or IXFR (RFC 1995) over one TCP connection, the
  messages read until the closing SOA, bounded in messages, records, bytes and time.
- `Walk`: iterative resolution (``--trace``) from root servers, a generator that
  yields `Query` objects and is sent an `Exchange` result for each: it follows
  referrals using glue, resolves glueless NS names by their own walk (bounded
  depth), follows CNAME chains, and detects referral loops and lame servers.
  Each server asked becomes a `TraceStep`.

Messages are built with Scapy's DNS layer and decoded with `netlab.wire.dns`
(the hostile-safe parser shared with the dissector).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from netlab.core.base import NS, Action, Close, Connected, Datagram, Open, SocketError, Write
from netlab.wire.dns import (
    TYPE_VALUES,
    DnsMessage,
    ResourceRecord,
    parse_message_partial,
    rcode_to_text,
    tcp_message_lengths,
    type_to_text,
)

CNAME, NS_TYPE, A, AAAA = 5, 2, 1, 28
MAX_CNAMES = 8  # CNAME links followed in one lookup
MAX_STEPS = 40  # servers asked in one walk, sub-walks included
MAX_GLUELESS_DEPTH = 3  # nested walks to find the address of a glueless NS name
_TYPE_NN = re.compile(r"TYPE(\d{1,5})", re.I)
_REFUSED_TYPES = {"OPT": "OPT is a pseudo-type"}
AXFR, IXFR, SOA = 252, 251, 6
MAX_XFR_MESSAGES = 100_000  # messages of one zone transfer
MAX_XFR_BYTES = 64 * 1024 * 1024  # bytes of one zone transfer
MAX_XFR_RECORDS = 500_000  # records kept of one zone transfer (memory: ~300 bytes each)
MAX_XFR_SECONDS = 600  # a whole transfer, however steadily the bytes trickle in


class QueryInputError(ValueError):
    """A name or type the user gave cannot be asked (one line)."""


# --- names and types ---------------------------------------------------------------------


def parse_type(text: str) -> int:
    """A record type by mnemonic (``MX``) or RFC 3597 number (``TYPE65``)."""
    upper = text.upper()
    if upper in _REFUSED_TYPES:
        raise QueryInputError(f"type {upper}: {_REFUSED_TYPES[upper]}")
    value = TYPE_VALUES.get(upper)
    if value is not None:
        return value
    match = _TYPE_NN.fullmatch(text)
    if match and int(match.group(1)) <= 0xFFFF:
        return int(match.group(1))
    raise QueryInputError(f"unknown record type {text!r}")


def is_type(text: str) -> bool:
    try:
        parse_type(text)
    except QueryInputError:
        return False
    return True


def normalize_name(name: str) -> str:
    """The absolute, lower-cased form of `name` (trailing dot); raise on what DNS cannot carry.

    Labels are 1-63 bytes, the whole name at most 255 bytes on the wire (RFC 1035
    2.3.4); non-ASCII labels are converted with IDNA.
    """
    if name in (".", ""):
        if name == "":
            raise QueryInputError("empty name")
        return "."
    text = name[:-1] if name.endswith(".") else name
    wire = 1
    labels = []
    for label in text.split("."):
        if not label:
            raise QueryInputError(f"invalid name {name!r}: empty label")
        if not label.isascii():
            try:
                label = label.encode("idna").decode("ascii")
            except UnicodeError:
                raise QueryInputError(
                    f"invalid name {name!r}: label {label!r} is not IDNA"
                ) from None
        if any(c <= " " or c == "\x7f" or c == "\\" for c in label):
            raise QueryInputError(f"invalid name {name!r}: space, control or escape character")
        if len(label) > 63:
            raise QueryInputError(
                f"invalid name {name!r}: label {label[:20]!r}… is {len(label)} bytes (max 63)"
            )
        wire += 1 + len(label)
        labels.append(label.lower())
    if wire > 255:
        raise QueryInputError(f"invalid name {name!r}: {wire} bytes on the wire (max 255)")
    return ".".join(labels) + "."


def reverse_name(addr: str) -> str:
    """The in-addr.arpa / ip6.arpa name of an address (``-x``)."""
    try:
        return ipaddress.ip_address(addr.split("%")[0]).reverse_pointer + "."
    except ValueError:
        raise QueryInputError(f"-x needs an IPv4 or IPv6 address, not {addr!r}") from None


def is_subdomain(name: str, zone: str) -> bool:
    """Whether absolute `name` is `zone` or below it (names lower-cased)."""
    return zone == "." or name == zone or name.endswith("." + zone)


# --- the query ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    name: str  # absolute; the user's case is kept (replies are matched without case)
    qtype: int
    server: str
    port: int = 53
    qid: int = 0
    rd: bool = True
    edns: bool = True
    bufsize: int = 1232
    dnssec: bool = False
    qclass: int = 1
    options: tuple[tuple[int, bytes], ...] = ()  # EDNS options: (code, data), e.g. NSID
    ad: bool = True  # as dig: AD set in queries, "I understand AD" (RFC 6840 5.7)
    serial: int | None = None  # IXFR: the client's SOA serial (RFC 1995 3)

    def to_bytes(self) -> bytes:
        """The query message, built with Scapy's DNS layer."""
        from scapy.layers.dns import DNS, DNSQR, DNSRROPT, DNSRRSOA, EDNS0TLV

        qname = self.name.encode("ascii")
        question = DNSQR(qname=qname, qtype=self.qtype, qclass=self.qclass)
        extra: dict = {}
        if self.edns:
            tlvs = [EDNS0TLV(optcode=code, optdata=data) for code, data in self.options]
            extra["ar"] = DNSRROPT(rclass=self.bufsize, z=0x8000 if self.dnssec else 0,
                                   rdata=tlvs)  # fmt: skip
        if self.serial is not None:
            # IXFR carries the client's SOA in the authority section; only the serial counts.
            extra["ns"] = DNSRRSOA(rrname=qname, ttl=0, mname=b".", rname=b".",
                                   serial=self.serial)  # fmt: skip
        return bytes(DNS(id=self.qid, rd=int(self.rd), ad=int(self.ad), qd=question, **extra))


# --- one exchange ------------------------------------------------------------------------


@dataclass
class Response:
    message: DnsMessage
    raw: bytes
    server: str
    port: int
    transport: str
    time_ms: float  # from sending the try that was answered to the answer
    tc_retry: bool  # a truncated UDP reply came first and TCP was used
    ignored: int  # datagrams that failed validation (wrong ID, question, source)

    @property
    def rcode(self) -> str:
        return self.message.rcode_name

    @property
    def size(self) -> int:
        return len(self.raw)


@dataclass
class Failure:
    """No usable answer: every try timed out, the server refused the connection, or
    the reply that matched our query did not decode."""

    reason: str
    server: str
    port: int
    time_ms: float
    ignored: int = 0
    transport: str = "udp"

    @property
    def rcode(self) -> str:
        if self.reason == INTERRUPTED:
            return "INTERRUPTED"
        return "TIMEOUT" if "timed out" in self.reason else "ERROR"


INTERRUPTED = "interrupted"
UDP = "udp"  # the one UDP socket of an exchange; TCP tries are ("tcp", n)


class Exchange:
    """One query to one server: tries, timeouts, validation and the TC → TCP switch.

    A session core (`netlab.core.base.SessionCore`): one UDP socket connected to
    the server (so the kernel picks a random source port and drops datagrams from
    anyone else; an ICMP port unreachable comes back as a refused error), or a new
    TCP connection per try, the query with its 2-byte length prefix (RFC 1035
    4.2.2), bytes read until a whole message is there."""

    def __init__(
        self,
        query: Query,
        *,
        timeout: float = 2.0,
        tries: int = 3,
        tcp: bool = False,
        ignore_tc: bool = False,
    ) -> None:
        self.query = query
        self.data = query.to_bytes()
        self.timeout_ns = int(timeout * NS)
        self.tries = max(1, tries)
        self.transport = "tcp" if tcp else "udp"
        self.ignore_tc = ignore_tc
        self.tc_retry = False
        self.ignored = 0
        self.sent = 0  # tries sent on the current transport
        self.attempts = 0  # queries sent in all, UDP and TCP
        self.sent_ns = 0
        self.started_ns = 0
        self._deadline: int | None = None
        self.result: Response | Failure | None = None
        self.ignore_reasons: list[str] = []
        self._udp_open = False
        self._stream: tuple[str, int] | None = None  # the TCP connection of the current try
        self._buf = b""

    # --- driving -------------------------------------------------------------------
    def start(self, now: int) -> list[Action]:
        self.started_ns = now
        return self._send(now)

    def _send(self, now: int) -> list[Action]:
        self.sent += 1
        self.attempts += 1
        self.sent_ns = now
        self._deadline = now + self.timeout_ns
        server, port = self.query.server, self.query.port
        if self.transport == "udp":
            opening = [] if self._udp_open else [Open(UDP, "udp", server, port)]
            self._udp_open = True
            return [*opening, Datagram(UDP, self.data, (server, port))]
        actions: list[Action] = [Close(self._stream)] if self._stream is not None else []
        self._stream = ("tcp", self.attempts)
        self._buf = b""
        framed = len(self.data).to_bytes(2, "big") + self.data
        return [*actions, Open(self._stream, "tcp", server, port), Write(self._stream, framed)]

    def deadline(self) -> int | None:
        return None if self.result is not None else self._deadline

    def done(self) -> bool:
        return self.result is not None

    def pop_events(self) -> list:
        return []  # the command reads `result` when the exchange is done

    def interrupt(self, now: int) -> None:
        if self.result is None:
            self._fail(INTERRUPTED, now)

    def on_timer(self, now: int) -> list[Action]:
        if self.result is not None or self._deadline is None or now < self._deadline:
            return []
        if self.sent < self.tries:
            return self._send(now)
        secs = self.timeout_ns / NS
        what = f"{self.sent} tr{'y' if self.sent == 1 else 'ies'} of {secs:g} s"
        self._fail(f"timed out ({what}, {self.transport.upper()})", now)
        return []

    def on_connected(self, conn: Any, info: Connected, now: int) -> list[Action]:
        return []

    def on_error(self, conn: Any, err: SocketError, now: int) -> list[Action]:
        """The kernel reported an error for the current try (refused, unreachable, reset)."""
        if self.result is not None or conn not in (UDP, self._stream):
            return []
        where = f"{self.query.server}#{self.query.port}"
        if conn == UDP:
            if err.op == "recv" and err.refused:
                reason = f"connection refused by {where} (ICMP port unreachable)"
            elif err.op == "recv":
                reason = f"UDP: {err.reason}"
            else:
                reason = f"UDP to {where}: {err.reason}"
        elif err.op == "connect":
            reason = f"TCP connection to {where}: {err.reason}"
        else:
            reason = f"TCP: {err.reason}"
        self._fail(reason, now)
        return []

    def on_datagram(self, conn: Any, data: bytes, src: tuple, now: int) -> list[Action]:
        """A UDP datagram arrived on our socket from `src`."""
        if self.result is not None or self.transport != "udp":
            return []
        if not _same_addr(src[0], self.query.server) or src[1] != self.query.port:
            return self._ignore(f"from {src[0]}#{src[1]}, not the server")
        return self._on_message(data, now)

    def on_data(self, conn: Any, data: bytes, now: int) -> list[Action]:
        """Bytes from the TCP connection of the current try (b"": it was closed)."""
        if self.result is not None or conn != self._stream:
            return []
        if not data:
            where = f"{self.query.server}#{self.query.port}"
            self._fail(f"TCP connection closed by {where} before a whole reply", now)
            return []
        self._buf += data
        return self._on_stream(self._buf, now)

    def _on_stream(self, data: bytes, now: int) -> list[Action]:
        """All bytes read so far from the TCP connection; [] and not done: read more."""
        for frame in tcp_message_lengths(data):
            if not frame.complete:
                return []
            msg_bytes = data[frame.offset : frame.offset + frame.available]
            sends = self._on_message(msg_bytes, now)
            if self.result is not None:
                return sends
        return []  # only mismatched messages so far: keep reading until the deadline

    def _on_message(self, data: bytes, now: int) -> list[Action]:
        msg = parse_message_partial(data)
        if not msg.header_complete:
            return self._ignore(f"{len(data)} bytes, shorter than a header")
        if msg.id != self.query.qid:
            return self._ignore(f"ID {msg.id}, expected {self.query.qid}")
        if not msg.qr:
            return self._ignore("not a response (QR=0)")
        if msg.qdcount != 1 or len(msg.questions) != 1:
            if msg.tc and msg.qdcount == 0 and msg.rcode == 0:  # some servers cut all
                pass
            else:
                return self._ignore(f"{msg.qdcount} questions, expected ours")
        else:
            q = msg.questions[0]
            ours = (self.query.name.lower(), self.query.qtype, self.query.qclass)
            if (q.name.lower(), q.qtype, q.qclass) != ours:
                return self._ignore(f"question {q.to_text()}, not ours")
        if msg.tc and self.transport == "udp" and not self.ignore_tc:
            self.tc_retry = True
            self.transport = "tcp"
            self.sent = 0
            return self._send(now)
        if msg.malformed is not None and not (msg.tc and self.ignore_tc):
            self._fail(f"malformed reply from {self.query.server}: {msg.malformed}", now)
            return self._close()
        self.result = Response(
            msg, data, self.query.server, self.query.port, self.transport,
            (now - self.sent_ns) / 1e6, self.tc_retry, self.ignored,
        )  # fmt: skip
        return self._close()

    def _close(self) -> list[Action]:
        """Done: close the TCP connection (a FIN from us, as dig does)."""
        return [Close(self._stream)] if self._stream is not None else []

    def _ignore(self, reason: str) -> list[Action]:
        self.ignored += 1
        self.ignore_reasons.append(reason)
        return []

    def _fail(self, reason: str, now: int) -> None:
        self.result = Failure(
            reason, self.query.server, self.query.port, (now - self.started_ns) / 1e6,
            self.ignored, self.transport,
        )  # fmt: skip


def _same_addr(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a.split("%")[0]) == ipaddress.ip_address(b.split("%")[0])
    except ValueError:
        return a == b


# --- zone transfer ------------------------------------------------------------------------


@dataclass
class Transfer:
    """A finished AXFR/IXFR: every record in order, as the server sent them."""

    records: list[ResourceRecord]
    messages: int
    size: int  # bytes of all messages (without the TCP length prefixes)
    server: str
    port: int
    time_ms: float
    rcode: str = "NOERROR"
    transport: str = "tcp"
    ignored: int = 0
    first: DnsMessage | None = None  # the first message (header, question, EDNS)


class ZoneTransfer:
    """AXFR (RFC 5936) or IXFR (RFC 1995) over one TCP connection: the query, then
    messages until the closing SOA. Bounded in messages, bytes and idle time; every
    message must carry our ID and QR, the first one our question."""

    def __init__(self, query: Query, *, timeout: float = 2.0) -> None:
        self.query = query
        self.data = query.to_bytes()
        self.timeout_ns = int(timeout * NS)
        self.attempts = 0
        self.result: Transfer | Failure | None = None
        self._conn = ("tcp", 1)
        self._buf = b""
        self._records: list[ResourceRecord] = []
        self._soa_serials: list[int] = []
        self._messages = 0
        self._size = 0
        self._first: DnsMessage | None = None
        self._started = 0
        self._deadline: int | None = None
        self.ignored = 0

    def start(self, now: int) -> list[Action]:
        self._started = now
        self._deadline = now + self.timeout_ns
        self.attempts = 1
        framed = len(self.data).to_bytes(2, "big") + self.data
        q = self.query
        return [Open(self._conn, "tcp", q.server, q.port), Write(self._conn, framed)]

    def deadline(self) -> int | None:
        if self.result is not None or self._deadline is None:
            return None
        return min(self._deadline, self._started + MAX_XFR_SECONDS * NS)

    def done(self) -> bool:
        return self.result is not None

    def pop_events(self) -> list:
        return []

    def interrupt(self, now: int) -> None:
        if self.result is None:
            self._fail(INTERRUPTED, now)

    def on_connected(self, conn: Any, info: Connected, now: int) -> list[Action]:
        return []

    def on_datagram(self, conn: Any, data: bytes, src: tuple, now: int) -> list[Action]:
        return []

    def on_timer(self, now: int) -> list[Action]:
        deadline = self.deadline()
        if deadline is None or now < deadline:
            return []
        if now >= self._started + MAX_XFR_SECONDS * NS:
            self._fail(f"the transfer took longer than {MAX_XFR_SECONDS} s", now)
        else:
            self._fail(f"timed out ({self.timeout_ns / NS:g} s without data, TCP)", now)
        return self._close()

    def on_error(self, conn: Any, err: SocketError, now: int) -> list[Action]:
        if self.result is None and conn == self._conn:
            where = f"{self.query.server}#{self.query.port}"
            what = "TCP connection to" if err.op == "connect" else "TCP from"
            self._fail(f"{what} {where}: {err.reason}", now)
        return []

    def on_data(self, conn: Any, data: bytes, now: int) -> list[Action]:
        if self.result is not None or conn != self._conn:
            return []
        if not data:
            self._fail("connection closed before the end of the transfer", now)
            return []
        self._deadline = now + self.timeout_ns
        self._buf += data
        used = 0
        for frame in tcp_message_lengths(self._buf):
            if not frame.complete:
                break
            used = frame.offset + frame.available
            self._on_message(self._buf[frame.offset : used], now)
            if self.result is not None:
                return self._close()
        self._buf = self._buf[used:]
        return []

    def _on_message(self, data: bytes, now: int) -> None:
        msg = parse_message_partial(data)
        if not msg.header_complete or msg.id != self.query.qid or not msg.qr:
            self.ignored += 1
            return
        self._messages += 1
        self._size += len(data)
        too_big = len(self._records) + len(msg.answers) > MAX_XFR_RECORDS
        if self._messages > MAX_XFR_MESSAGES or self._size > MAX_XFR_BYTES or too_big:
            self._fail(f"transfer larger than {MAX_XFR_MESSAGES} messages, {MAX_XFR_RECORDS} "
                       f"records or {MAX_XFR_BYTES >> 20} MiB", now)  # fmt: skip
            return
        if self._first is None:
            self._first = msg
            ours = (self.query.name.lower(), self.query.qtype)
            if msg.questions and (msg.questions[0].name.lower(), msg.questions[0].qtype) != ours:
                self._fail(f"question {msg.questions[0].to_text()}, not ours", now)
                return
        if msg.malformed is not None:
            self._fail(f"malformed message from {self.query.server}: {msg.malformed}", now)
            return
        if msg.extended_rcode != 0:
            self._finish(now, msg.rcode_name)
            return
        if not self._records and (not msg.answers or msg.answers[0].rtype != SOA):
            self._fail(f"the transfer from {self.query.server} does not start with the "
                       "zone's SOA record", now)  # fmt: skip
            return
        for rr in msg.answers:
            self._records.append(rr)
            if self._complete(rr):
                self._finish(now)
                return

    def _complete(self, rr: ResourceRecord) -> bool:
        """Whether RR ends the transfer (RFC 5936 2.2, RFC 1995 4)."""
        if rr.rtype != SOA:
            return False
        serial = rr.data.serial
        self._soa_serials.append(serial)
        count = len(self._soa_serials)
        if count == 1:
            # IXFR answered with one SOA no newer than ours: the client is up to date.
            return (
                self.query.serial is not None
                and _serial_le(serial, self.query.serial)
                and (len(self._records) == 1 and self._is_last_record())
            )
        incremental = self.query.qtype == IXFR and self._records[1].rtype == SOA
        if not incremental:
            return True  # AXFR style: the second SOA closes the zone
        return self._soa_serials.count(self._soa_serials[0]) >= 3

    def _is_last_record(self) -> bool:
        last = self._first
        return last is not None and len(last.answers) == 1 and self._messages == 1

    def _finish(self, now: int, rcode: str = "NOERROR") -> None:
        self.result = Transfer(self._records, self._messages, self._size, self.query.server,
                               self.query.port, (now - self._started) / 1e6, rcode,
                               ignored=self.ignored, first=self._first)  # fmt: skip

    def _close(self) -> list[Action]:
        return [Close(self._conn)]

    def _fail(self, reason: str, now: int) -> None:
        self.result = Failure(reason, self.query.server, self.query.port,
                              (now - self._started) / 1e6, self.ignored, "tcp")  # fmt: skip


def _serial_le(a: int, b: int) -> bool:
    """RFC 1982 serial number arithmetic: a <= b."""
    return a == b or (a < b and b - a < 2**31) or (a > b and a - b > 2**31)


# --- iterative resolution ----------------------------------------------------------------


@dataclass
class TraceStep:
    server: str
    server_name: str  # the NS name we asked it as ("" for a root hint without a name)
    zone: str  # the zone we asked it as a server of
    qname: str
    qtype: int
    rcode: str  # NOERROR, NXDOMAIN, … or TIMEOUT / ERROR
    time_ms: float
    depth: int  # 0 for the main walk, 1+ inside a walk for a glueless NS name
    kind: str  # "referral", "answer", "cname", "nodata", "nxdomain", "lame", "failed"
    referral_zone: str = ""
    referral: list[dict] = field(default_factory=list)  # [{"name": ns, "addresses": [...]}]
    note: str = ""
    transport: str = "udp"


@dataclass
class WalkResult:
    ok: bool
    answer: Response | None  # the last authoritative reply (the answer or the negative one)
    records: list[ResourceRecord]  # the CNAME chain and the final RRset, in order
    rcode: str
    error: str = ""


class WalkError(Exception):
    pass


class Walk:
    """Iterative resolution from the root, as a generator of queries.

    Drive it with::

        walk = Walk(name, qtype, roots)
        query = walk.first()
        while query is not None:
            query = walk.feed(<Response or Failure for query>)
        walk.result, walk.steps
    """

    def __init__(
        self,
        name: str,
        qtype: int,
        roots: list[tuple[str, str]],  # (server name, address)
        *,
        port: int = 53,
        edns: bool = True,
        bufsize: int = 1232,
        dnssec: bool = False,
        ids: Generator[int, None, None] | None = None,
        family: int = 0,
    ) -> None:
        self.name = name
        self.family = family  # 4 or 6: follow glue of that family only (dig -4 / -6)
        self.qtype = qtype
        self.roots = roots
        self.port = port
        self.edns = edns
        self.bufsize = bufsize
        self.dnssec = dnssec
        self._ids = ids
        self.steps: list[TraceStep] = []
        self.result: WalkResult | None = None
        self._gen = self._main()
        self._current: Query | None = None

    def _next_id(self) -> int:
        return next(self._ids) if self._ids is not None else 0

    def first(self) -> Query | None:
        return self._advance(None)

    def feed(self, outcome: Response | Failure) -> Query | None:
        return self._advance(outcome)

    def interrupt(self, outcome: Failure) -> None:
        """Ctrl-C: the step under way is recorded (failed: interrupted) and the walk ends."""
        if self.result is None:
            self.feed(outcome)
        self._gen.close()
        self.result = WalkResult(False, None, [], "INTERRUPTED", INTERRUPTED)

    def _advance(self, outcome) -> Query | None:
        try:
            self._current = self._gen.send(outcome) if outcome is not None else next(self._gen)
            return self._current
        except StopIteration as stop:
            self.result = stop.value
            return None

    # --- the walk ------------------------------------------------------------------
    def _query(self, name: str, qtype: int, server: str) -> Query:
        return Query(name, qtype, server, self.port, self._next_id(), rd=False,
                     edns=self.edns, bufsize=self.bufsize, dnssec=self.dnssec)  # fmt: skip

    def _main(self) -> Generator[Query, Response | Failure, WalkResult]:
        try:
            return (yield from self._resolve(self.name, self.qtype, 0))
        except WalkError as err:
            return WalkResult(False, None, [], "SERVFAIL", str(err))

    def _resolve(self, qname: str, qtype: int, depth: int):
        records: list[ResourceRecord] = []
        seen_names = {qname}
        while True:
            outcome = yield from self._walk_once(qname, qtype, depth)
            if isinstance(outcome, WalkResult):  # failed or negative
                outcome.records = records + outcome.records
                return outcome
            response = outcome
            chain, final, target = _follow_answer(response.message, qname, qtype)
            records.extend(chain)
            if final:
                records.extend(final)
                return WalkResult(True, response, records, response.rcode)
            if target is None:  # NODATA
                return WalkResult(True, response, records, response.rcode)
            if target in seen_names or len(seen_names) > MAX_CNAMES:
                raise WalkError(f"CNAME loop or chain longer than {MAX_CNAMES} at {target}")
            seen_names.add(target)
            qname = target  # restart from the root for the CNAME's target

    def _walk_once(self, qname: str, qtype: int, depth: int):
        """Ask down from the root until one server answers with authority.

        Returns the `Response` holding the answer (or CNAME / NODATA), or a
        `WalkResult` for NXDOMAIN and for failures.
        """
        zone = "."
        servers = [(n, a) for n, a in self.roots]
        visited: set[tuple[str, str]] = set()
        zones_seen = ["."]
        while True:
            if not servers:
                raise WalkError(f"no server for {zone} answered usefully (lame or unreachable)")
            ns_name, addr = servers.pop(0)
            if (zone, addr) in visited:
                continue
            visited.add((zone, addr))
            if len(self.steps) >= MAX_STEPS:
                raise WalkError(f"gave up after asking {MAX_STEPS} servers")
            outcome = yield self._query(qname, qtype, addr)
            step = TraceStep(addr, ns_name, zone, qname, qtype, outcome.rcode, outcome.time_ms,
                             depth, "failed", transport=outcome.transport)  # fmt: skip
            self.steps.append(step)
            if isinstance(outcome, Failure):
                step.note = outcome.reason
                continue
            msg = outcome.message
            rcode = msg.extended_rcode
            if rcode == 3 and msg.aa:
                step.kind = "nxdomain"
                return WalkResult(False, outcome, [], "NXDOMAIN")
            if rcode != 0:
                step.kind, step.note = "lame", f"{rcode_to_text(rcode)} from a server of {zone}"
                continue
            if msg.answers and any(rr.name.lower() == qname for rr in msg.answers):
                _chain, _final, target = _follow_answer(msg, qname, qtype)
                step.kind = "cname" if target is not None else "answer"
                return outcome
            referral = _referral(msg, qname, zone, self.family)
            if referral is None:
                if msg.aa:
                    step.kind = "nodata"
                    return outcome
                step.kind = "lame"
                step.note = f"not authoritative for {zone} and no referral"
                continue
            child, ns_names, glue = referral
            step.kind = "referral"
            step.referral_zone = child
            step.referral = [{"name": n, "addresses": glue.get(n, [])} for n in ns_names]
            if not is_subdomain(child, zone) or child == zone:
                step.kind, step.note = "lame", f"referral to {child} is not below {zone}"
                continue
            if child in zones_seen:
                raise WalkError(f"referral loop: {child} again")
            zones_seen.append(child)
            new_servers = [(n, a) for n in ns_names for a in glue.get(n, [])]
            if not new_servers:
                # Glueless delegation: find the NS names' addresses with walks of their own.
                if depth >= MAX_GLUELESS_DEPTH:
                    raise WalkError(f"glueless NS names nested deeper than {MAX_GLUELESS_DEPTH}")
                for n in ns_names:
                    if is_subdomain(n, child):
                        continue  # in-bailiwick without glue: unresolvable from here
                    kind = AAAA if self.family == 6 else A
                    sub = yield from self._resolve(n, kind, depth + 1)
                    addrs = [rr.data.to_text() for rr in sub.records if rr.rtype == kind]
                    new_servers.extend((n, a) for a in addrs)
                    if new_servers:
                        break
                if not new_servers:
                    raise WalkError(f"no address for any server of {child} ({', '.join(ns_names)})")
            zone, servers = child, new_servers


def _follow_answer(msg: DnsMessage, qname: str, qtype: int):
    """(CNAME records followed, final RRset, unresolved CNAME target or None)."""
    chain: list[ResourceRecord] = []
    name = qname
    seen = {name}
    while True:
        owned = [rr for rr in msg.answers if rr.name.lower() == name]
        final = [rr for rr in owned if rr.rtype == qtype or (qtype == 255 and rr.rtype != CNAME)]
        if final or qtype == CNAME:
            return chain, final, None
        cnames = [rr for rr in owned if rr.rtype == CNAME]
        if not cnames:
            return chain, [], (name if name != qname else None)
        chain.append(cnames[0])
        name = cnames[0].data.to_text().lower()
        if name in seen:
            raise WalkError(f"CNAME loop at {name}")
        seen.add(name)


def _referral(msg: DnsMessage, qname: str, zone: str, family: int = 0):
    """(child zone, NS names, {NS name: [IPv4 addresses, else IPv6]}) or None; FAMILY 4 or 6
    keeps that family's glue only."""
    ns = [rr for rr in msg.authority if rr.rtype == NS_TYPE]
    if not ns:
        return None
    child = ns[0].name.lower()
    if not is_subdomain(qname, child):
        return None
    names = [rr.data.to_text().lower() for rr in ns if rr.name.lower() == child]
    glue: dict[str, list[str]] = {}
    kinds = {4: (A,), 6: (AAAA,)}.get(family, (A, AAAA))
    for kind in kinds:
        for rr in msg.additional:
            owner = rr.name.lower()
            if rr.rtype == kind and owner in names and (kind == kinds[0] or not glue.get(owner)):
                glue.setdefault(owner, []).append(rr.data.to_text())
    return child, names, glue


def type_name(value: int) -> str:
    return type_to_text(value)


class WalkCore:
    """A whole `Walk` as one session core: its exchanges one after another on the
    socket runner, so a trace is one run (one Ctrl-C, one tap). Each exchange's
    sockets are named (index, its own name), so a late packet of an earlier
    exchange never reaches the current one."""

    def __init__(self, walk: Walk, exchange: Callable[[Query], Exchange]) -> None:
        self.walk = walk
        self._make = exchange
        self._index = 0
        self._query = walk.first()
        # The first exchange is made now, before the runner's clock starts: making it
        # builds the query (Scapy's first import), which must not count as query time.
        self.current: Exchange | None = exchange(self._query) if self._query else None

    def start(self, now: int) -> list[Action]:
        if self.current is None:
            return []
        self._index = 1
        return self._own(self.current.start(now))

    def _next(self, now: int) -> list[Action]:
        if self._query is None:
            self.current = None
            return []
        self._index += 1
        self.current = self._make(self._query)
        return self._own(self.current.start(now))

    def _own(self, actions: list[Action]) -> list[Action]:
        """The current exchange's actions, their socket names made unique to it."""
        out: list[Action] = []
        for action in actions:
            out.append(type(action)(**{**vars(action), "conn": (self._index, action.conn)}))
        return out

    def _step(self, actions: list[Action], now: int) -> list[Action]:
        out = self._own(actions)
        if self.current is not None and self.current.done():
            self._query = self.walk.feed(self.current.result)
            out += self._next(now)
        return out

    def _mine(self, conn: Any) -> Any:
        if self.current is None or not isinstance(conn, tuple) or conn[0] != self._index:
            return None
        return conn[1]

    def on_connected(self, conn: Any, info: Connected, now: int) -> list[Action]:
        return []

    def on_data(self, conn: Any, data: bytes, now: int) -> list[Action]:
        inner = self._mine(conn)
        if inner is None:
            return []
        return self._step(self.current.on_data(inner, data, now), now)

    def on_datagram(self, conn: Any, data: bytes, src: tuple, now: int) -> list[Action]:
        inner = self._mine(conn)
        if inner is None:
            return []
        return self._step(self.current.on_datagram(inner, data, src, now), now)

    def on_error(self, conn: Any, err: SocketError, now: int) -> list[Action]:
        inner = self._mine(conn)
        if inner is None:
            return []
        return self._step(self.current.on_error(inner, err, now), now)

    def on_timer(self, now: int) -> list[Action]:
        if self.current is None:
            return []
        return self._step(self.current.on_timer(now), now)

    def deadline(self) -> int | None:
        return None if self.current is None else self.current.deadline()

    def done(self) -> bool:
        return self.walk.result is not None

    def pop_events(self) -> list:
        return []

    def interrupt(self, now: int) -> None:
        """Ctrl-C: the walk ends with what it found, the step under way marked interrupted."""
        if self.current is not None and not self.current.done():
            self.current.interrupt(now)
            self.walk.interrupt(self.current.result)
