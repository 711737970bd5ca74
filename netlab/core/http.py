"""HTTP/1.1 and HTTP/2 clients as one session core, on python-hyper's engines.

`HttpClient` fetches a list of URLs the way curl does with several URLs on one
command line: one connection per origin (scheme, host, port), reused while
requests for that origin remain — one request after another on a kept-alive
HTTP/1.1 connection, or all at once as concurrent streams of one HTTP/2
connection. h11 and h2 are sans-I/O themselves: they are fed the bytes the
socket runner reads and return the bytes to write, so this core stays free of
sockets and clocks like every other (`netlab.core.base`).

What a learner needs to see is kept on the way: every phase of every request in
curl's terms (DNS, TCP connect, TLS, request sent, the server's think time —
first byte minus request sent —, transfer, total), each redirect hop as a request
of its own, chunk sizes of a chunked body, and under HTTP/2 every frame both ways
with each header block's HPACK representations and the dynamic table after it
(`netlab.wire.hpack`).

Limits keep a hostile server harmless: a response head over 64 KiB, a header list
over 64 KiB (HTTP/2), a SETTINGS flood, a body kept in memory beyond
`keep_body` bytes (the rest is counted and handed to the caller as events, for
`-o FILE`), a --compressed body inflating past MAX_DECODED (br handed on BR_BUDGET
at a time), and `max_time` for the whole run.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import h11

from netlab.core import base
from netlab.core.base import NS, Close, Connected, CoreBase, Open, SocketError, TlsParams, Write
from netlab.wire import hpack
from netlab.wire.http2 import FrameRecord, FrameSplitter

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_HEAD = 64 * 1024  # a response head (HTTP/1.1) or header list (HTTP/2) larger than this fails
MAX_SETTINGS_FRAMES = 256  # more SETTINGS than this on one connection is a flood
MAX_FRAMES_KEPT = 20_000  # frames recorded for display; later ones are counted only
MAX_DECODED = 256 * 1024 * 1024  # --compressed: a body inflating past this is a bomb
# br output is taken in pieces of about BR_PIECE bytes, at most BR_BUDGET of them per read
# or timer tick (the rest waits in the decompressor, drained at the next): Brotli, unlike
# deflate (at most ~1032:1), turns 1.6 KB into 1 GiB (zeros, quality 5), so what one read
# inflates to must be handed on in steps for memory to stay bounded.
BR_PIECE = 1 << 20
BR_BUDGET = 16 << 20
REDIRECTS = (301, 302, 303, 307, 308)
# Headers that name a property of one HTTP/1.1 connection: never sent on HTTP/2 (RFC 9113 §8.2.2).
CONNECTION_HEADERS = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "host",
}


class UrlError(ValueError):
    """A URL netlab cannot fetch: the message says why, on one line."""


# --- URLs and requests ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Url:
    scheme: str  # "http" or "https"
    host: str  # a name or an address (IPv6 without brackets)
    port: int
    target: str  # path and query: what the request line carries

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)

    @property
    def authority(self) -> str:
        """Host header / :authority: the port only when it is not the scheme's default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if DEFAULT_PORTS[self.scheme] == self.port else f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.scheme}://{self.authority}{self.target}"


def parse_url(text: str) -> Url:
    """A URL as curl takes it: the scheme may be left out (http:// is assumed)."""
    if not text or any(c.isspace() or ord(c) < 0x20 or c == "\x7f" for c in text):
        raise UrlError(f"malformed URL {text!r}: empty, or spaces or control characters in it")
    if "://" not in text:
        text = "http://" + text
    parts, port, scheme = base.url_parts(text, UrlError, f"malformed URL {text!r}")
    if scheme not in DEFAULT_PORTS:
        raise UrlError(f"unsupported scheme in {text!r}: netlab http speaks http:// and https://")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UrlError(f"malformed URL {text!r}: no host")
    if parts.username is not None:
        raise UrlError(f"{text!r}: credentials in the URL are not supported; use -H Authorization")
    _check_host(host, text)
    if port == 0:
        raise UrlError(f"malformed URL {text!r}: port 0")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return Url(scheme, host, port or DEFAULT_PORTS[scheme], target)


def _check_host(host: str, text: str) -> None:
    try:
        ipaddress.ip_address(host)
        return
    except ValueError:
        pass
    labels = host.split(".")
    for label in labels:
        if (
            not label
            or len(label) > 63
            or label[0] == "-"
            or label[-1] == "-"
            or not all(c.isascii() and (c.isalnum() or c in "-_") for c in label)
        ):
            raise UrlError(f"malformed URL {text!r}: {host!r} is not a host name")


@dataclass(frozen=True)
class Request:
    """One request to make: what the user asked for (or what a redirect asks for)."""

    method: str
    url: Url
    headers: tuple[tuple[str, str], ...] = ()  # the user's -H, in order (override defaults)
    body: bytes = b""


@dataclass(frozen=True)
class Options:
    version: str | None = (
        None  # "1.1", "2", or None: ALPN decides (h2 first) over TLS, 1.1 in clear
    )
    h2c: bool = False  # cleartext HTTP/2 with prior knowledge (the preface straight away)
    tls: TlsParams = field(default_factory=TlsParams)
    max_redirects: int = 0  # -L: how many hops to follow (0: show the 3xx and stop)
    connect_timeout: float = 10.0
    max_time: float | None = None
    compressed: bool = False  # ask for gzip/deflate/br and decode the body
    keep_body: int = 1 << 20  # bytes of each body kept in memory (for display)
    user_agent: str = "netlab"


def default_headers(req: Request, options: Options) -> list[tuple[str, str]]:
    """The request's header fields as HTTP/1.1 sends them: curl's defaults, then -H.

    A -H field replaces the default of the same name; `Name:` with no value removes it."""
    fields = [("Host", req.url.authority), ("User-Agent", options.user_agent), ("Accept", "*/*")]
    if options.compressed:
        fields.append(("Accept-Encoding", "deflate, gzip, br"))  # curl's, with brotli
    if req.body or req.method in ("POST", "PUT", "PATCH"):
        fields.append(("Content-Length", str(len(req.body))))
        if req.body and not any(n.lower() == "content-type" for n, _ in req.headers):
            fields.append(("Content-Type", "application/x-www-form-urlencoded"))
    given = {n.lower() for n, _ in req.headers}
    fields = [(n, v) for n, v in fields if n.lower() not in given]
    fields += [(n, v) for n, v in req.headers if v != ""]
    return fields


def h2_headers(req: Request, options: Options) -> list[tuple[str, str]]:
    """The same request as an HTTP/2 header list: pseudo-headers first, names lowercase."""
    fields = [
        (":method", req.method),
        (":scheme", req.url.scheme),
        (":authority", req.url.authority),
        (":path", req.url.target),
    ]
    for name, value in default_headers(req, options):
        name = name.lower()
        if name in CONNECTION_HEADERS:
            if name == "host":  # -H Host: becomes :authority, as curl does
                fields[2] = (":authority", value)
            continue
        fields.append((name, value))
    return fields


# --- what comes back -----------------------------------------------------------------------------
@dataclass
class Exchange:
    """One request and its response: a hop. A redirect makes the next hop."""

    request: Request
    index: int  # which of the user's URLs (0-based) this hop belongs to
    hop: int = 0
    conn: Connection | None = None
    stream: int | None = None
    http_version: str | None = None
    status: int | None = None
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    interim: list[int] = field(default_factory=list)  # 1xx status codes seen first
    trailers: list[tuple[str, str]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)  # the first keep_body bytes (decoded)
    body_bytes: int = 0  # all of it, decoded
    wire_bytes: int = 0  # as it came (compressed)
    chunks: list[int] = field(default_factory=list)  # chunk sizes of a chunked body
    error: str | None = None
    warnings: list[str] = field(default_factory=list)  # the response came, but not cleanly
    # Times (ns, the runner's monotonic clock): each phase is the difference of two.
    queued: int = 0  # when this hop was ready to go (the run start, or the redirect)
    sent: int | None = None
    first_byte: int | None = None
    done_at: int | None = None
    reused: bool = False  # sent on a connection an earlier request opened
    resent: bool = False  # sent again after its reused connection died unanswered
    request_head: bytes = b""  # HTTP/1.1: the bytes of the request head as sent
    decoder: Any = None  # zlib decompressor or BrotliDecoder for --compressed

    @property
    def finished(self) -> bool:
        return self.done_at is not None

    def start_ns(self, dns_ns: int) -> int:
        """Where this hop's clock starts: its connection's DNS lookup if it opened it, else
        when it was queued. Queued before the connection another request opened (the
        HTTP/2 streams of one run), it starts where that request does: its `wait` is then
        the same DNS, connect and TLS, and streams that end together have one total."""
        c = self.conn
        if c is not None and (not self.reused or self.queued <= c.opened):
            return c.opened - dns_ns
        return self.queued

    def timings_ms(self, dns_ns: int) -> dict[str, float | None]:
        """Phases in curl's terms, as durations: DNS, TCP connect and TLS for the request
        that opened the connection (0 on a reused one), then request sent, server think
        time (first byte minus sent), transfer (last byte minus first) and total.

        `wait` is the time a request spent waiting for a connection another request
        opened (HTTP/2 streams sent once the connection is up); total counts it. A
        kept-alive HTTP/1.1 request's clock starts when the one before it has ended."""
        c = self.conn
        opened = not self.reused and c is not None
        dns = dns_ns if opened else 0
        connect = (c.tcp_at - c.opened) if opened and c.tcp_at else 0
        tls = (c.ready_at - c.tcp_at) if opened and c.ready_at and c.tls else None
        start = self.start_ns(dns_ns)
        if opened:
            ready = c.ready_at or self.queued
            wait = 0
        else:
            ready = max(start, c.ready_at or 0) if c is not None else self.queued
            wait = ready - start

        def ms(ns: int | None) -> float | None:
            return None if ns is None else round(ns / 1e6, 3)

        end = self.done_at
        return {
            "dns": ms(dns),
            "connect": ms(connect),
            "tls": ms(tls) if c is not None and c.tls else None,
            "wait": ms(wait),
            "request_sent": ms(self.sent - ready) if self.sent and ready else None,
            "server": ms(self.first_byte - self.sent) if self.first_byte and self.sent else None,
            "transfer": ms(end - self.first_byte) if end and self.first_byte else None,
            "total": ms(end - start) if end else None,
        }


@dataclass
class HeaderBlockRecord:
    """One HTTP/2 header block with HPACK's view of it (for --frames and --json)."""

    direction: str  # "sent" or "received"
    stream: int
    block: hpack.HeaderBlock
    table: list[tuple[str, str]]  # the dynamic table after the block
    table_size: int
    table_max: int = 4096  # the table's size limit after the block (0: the encoder never indexes)


@dataclass
class Connection:
    id: int
    origin: tuple[str, str, int]
    address: str
    opened: int
    tls: bool
    version: str | None = None  # "1.1" or "2" once known
    tcp_at: int | None = None
    ready_at: int | None = None
    info: Connected | None = None
    h11: h11.Connection | None = None
    h2: h2.connection.H2Connection | None = None
    active: list[Exchange] = field(default_factory=list)
    streams: dict[int, Exchange] = field(default_factory=dict)
    requests: int = 0
    reusable: bool = True
    closed: bool = False
    error: str | None = None
    settings_frames: int = 0
    frames: list[FrameRecord] = field(default_factory=list)
    frames_dropped: int = 0
    blocks: list[HeaderBlockRecord] = field(default_factory=list)
    splitters: dict[str, FrameSplitter] = field(default_factory=dict)
    tables: dict[str, hpack.DynamicTable] = field(default_factory=dict)
    pending_block: dict[str, tuple[int, bytearray]] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.ready_at is not None and not self.closed


@dataclass(frozen=True)
class BodyChunk:
    """Event: decoded body bytes of EXCHANGE (the CLI writes them to -o FILE)."""

    exchange: Exchange
    data: bytes


@dataclass(frozen=True)
class ExchangeDone:
    """Event: a hop ended (response complete, or failed)."""

    exchange: Exchange


# --- the core -------------------------------------------------------------------------------------
class HttpClient(CoreBase):
    """Fetch REQUESTS in order over as few connections as the protocol allows.

    ADDRESSES maps each host to the address to connect to (the CLI resolved them, or
    --resolve gave them); DNS_NS the time that took. A redirect to a host missing there
    ends its fetch with `Fetch.unresolved` set, for the caller to resolve and go on."""

    def __init__(
        self,
        requests: list,
        addresses: dict[str, str],
        options: Options,
        dns_ns: dict[str, int] | None = None,
    ) -> None:
        super().__init__()
        self.options = options
        self.addresses = addresses
        self.dns_ns = dns_ns or {}
        # Per fetch (the user's URL number, from 0): its hops in order. A redirect adds one.
        self.fetches: dict[int, list[Exchange]] = {}
        # Fetch → the hop to make once its host is resolved (a redirect to a new host).
        self.unresolved: dict[int, Exchange] = {}
        self.connections: list[Connection] = []
        self.pending: deque[Exchange] = deque()
        self._next_conn = 1
        self._requests = requests
        self._now = 0
        self._draining: list[Exchange] = []  # br output still inside a decoder (BR_BUDGET)
        self.connect_ns = int(options.connect_timeout * NS)

    def add_hop(self, index: int, hop: int, request: Request) -> None:
        """Before `start`: go on with fetch INDEX at hop HOP (after resolving its host)."""
        self._requests.append((index, hop, request))

    # --- the session-core interface -------------------------------------------------------
    def start(self, now: int) -> list:
        self._now = now
        self._start_clock(now, self.options.max_time)
        for item in self._requests:
            index, hop, req = item if isinstance(item, tuple) else (len(self.fetches), 0, item)
            ex = Exchange(req, index, hop=hop, queued=now)
            self.fetches.setdefault(index, []).append(ex)
            self.pending.append(ex)
        return self._pump(now)

    def on_connected(self, conn_id: Any, info: Connected, now: int) -> list:
        self._now = now
        conn = self._conn(conn_id)
        if conn is None:
            return []
        conn.info = info
        conn.opened = info.connect_at or conn.opened
        conn.tcp_at = info.tcp_at or now
        conn.ready_at = now
        if conn.version is None:
            conn.version = "2" if info.alpn == "h2" else "1.1"
        out: list = []
        if conn.version == "2":
            out += self._start_h2(conn, now)
        else:
            conn.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
        return out + self._pump(now)

    def on_data(self, conn_id: Any, data: bytes, now: int) -> list:
        self._now = now
        conn = self._conn(conn_id)
        if conn is None or conn.closed:
            return []
        if not data:
            conn.closed = True
        if conn.version == "2":
            out = self._h2_data(conn, data, now)
        else:
            out = self._h1_data(conn, data, now)
        return out + self._pump(now)

    def on_datagram(self, conn_id: Any, data: bytes, addr: tuple, now: int) -> list:
        return []

    def on_error(self, conn_id: Any, err: SocketError, now: int) -> list:
        conn = self._conn(conn_id)
        if conn is None:
            return []
        op = {"connect": "connect to", "tls": "TLS with"}.get(err.op, f"{err.op} on connection to")
        where = f"{conn.address} port {conn.origin[2]}"
        reason = err.reason if err.op == "tls" else f"{op} {where} failed: {err.reason}"
        self._fail_conn(conn, reason, now)
        return self._pump(now)

    def on_timer(self, now: int) -> list:
        self._now = now
        if self._end_ns is not None and now >= self._end_ns:
            limit = self.options.max_time
            for conn in self.connections:
                if not conn.closed:
                    self._fail_conn(conn, f"timeout: --max-time {limit:g} s reached", now)
            for ex in list(self.pending):
                self._end(ex, now, f"timeout: --max-time {limit:g} s reached")
            self.pending.clear()
            for ex in self._draining:  # ended, but its body not yet all decoded
                ex.error = ex.error or f"timeout: --max-time {limit:g} s reached"
            self._draining.clear()
            return self._close_all(now) + self._finish_if_idle(now)
        for ex in list(self._draining):
            self._drain(ex, now)
        out: list = []
        for conn in self.connections:
            waited = now - conn.opened
            if conn.ready_at is None and not conn.closed and waited >= self.connect_ns:
                limit = self.options.connect_timeout
                self._fail_conn(
                    conn,
                    f"timeout: no connection to {conn.address} port "
                    f"{conn.origin[2]} in {limit:g} s",
                    now,
                )
                out.append(Close(conn.id))
        return out + self._pump(now)

    def deadline(self) -> int | None:
        times = [
            c.opened + self.connect_ns
            for c in self.connections
            if c.ready_at is None and not c.closed
        ]
        if self._end_ns is not None:
            times.append(self._end_ns)
        if self._draining:
            times.append(self._now)  # at once: the next BR_BUDGET of a decoded body
        if not times and not self._finished:
            # Waiting for a response with no time limit (curl sets none either): the
            # runner still needs a time to wake up at; on_timer then finds nothing due.
            times.append(self._now + 60 * NS)
        return min(times) if times else None

    def interrupt(self, now: int) -> None:
        for conn in self.connections:
            for ex in conn.active:
                self._end(ex, now, "interrupted")
        for ex in self.pending:
            self._end(ex, now, "interrupted")
        self.pending.clear()
        self._draining.clear()
        self._finish(now)

    # --- scheduling ------------------------------------------------------------------------
    def _pump(self, now: int) -> list:
        """Send what can be sent now; open a connection for the next request if needed."""
        out: list = []
        # A body still being decoded (BR_BUDGET) goes out whole before the next request
        # is sent, so that bodies piped to stdout keep the URLs' order, as curl's do.
        while self.pending and not self._draining:
            ex = self.pending[0]
            conn = self._usable(ex.request.url.origin)
            if conn is None:
                out += self._open(ex.request.url, now)
                if not self.pending or self.pending[0] is not ex:
                    continue  # the open failed at once: that request has ended
                break
            if not conn.ready:
                break
            if conn.version == "2":
                origin = ex.request.url.origin
                for other in [e for e in self.pending if e.request.url.origin == origin]:
                    self.pending.remove(other)
                    out += self._h2_send(conn, other, now)
                continue
            if conn.active:
                break  # HTTP/1.1: one request at a time on a connection
            self.pending.popleft()
            out += self._h1_send(conn, ex, now)
        out += self._close_idle(now)
        return out + self._finish_if_idle(now)

    def _usable(self, origin: tuple) -> Connection | None:
        for conn in self.connections:
            if conn.origin == origin and not conn.closed and conn.reusable:
                return conn
        return None

    def _open(self, url: Url, now: int) -> list:
        ex = self.pending[0]
        address = self.addresses.get(url.host)
        if address is None:
            self.pending.popleft()
            self.unresolved[ex.index] = ex
            self.fetches[ex.index].remove(ex)  # the caller makes it again, once resolved
            return []
        tls = url.scheme == "https"
        conn = Connection(self._next_conn, url.origin, address, now, tls)
        self._next_conn += 1
        self.connections.append(conn)
        version = self.options.version
        if not tls:
            conn.version = "2" if self.options.h2c or version == "2" else "1.1"
            return [Open(conn.id, "tcp", address, url.port)]
        alpn = {"1.1": ("http/1.1",), "2": ("h2",)}.get(version or "", ("h2", "http/1.1"))
        base = self.options.tls
        name = base.server_name if base.server_name is not None else url.host
        params = TlsParams(
            server_name=name, alpn=alpn, verify=base.verify, cafile=base.cafile, keylog=base.keylog
        )
        return [Open(conn.id, "tls", address, url.port, tls=params)]

    def _close_idle(self, now: int) -> list:
        """Close connections that no waiting request will use again."""
        wanted = {ex.request.url.origin for ex in self.pending}
        out: list = []
        for conn in self.connections:
            if conn.closed or conn.active or conn.ready_at is None:
                continue
            if conn.origin in wanted and conn.reusable:
                continue
            out += self._close(conn)
        return out

    def _close(self, conn: Connection) -> list:
        conn.closed = True
        out: list = []
        if conn.h2 is not None:
            with contextlib.suppress(h2.exceptions.ProtocolError):
                conn.h2.close_connection()  # GOAWAY, as a polite client says goodbye
            out += self._h2_flush(conn, 0)
        return [*out, Close(conn.id)]

    def _close_all(self, now: int) -> list:
        out: list = []
        for conn in self.connections:
            if not conn.closed:
                conn.closed = True
                out.append(Close(conn.id))
        return out

    def _finish_if_idle(self, now: int) -> list:
        if (
            not self._finished
            and not self.pending
            and not self._draining
            and not any(c.active for c in self.connections if not c.closed)
        ):
            self._finish(now)
        return []

    # --- ending a hop ----------------------------------------------------------------------
    def _end(self, ex: Exchange, now: int, error: str | None = None) -> None:
        if ex.finished:
            return
        ex.done_at = now
        if error and ex.error is None:
            ex.error = error
        if ex.decoder is not None and error is None and ex not in self._draining:
            self._inflate(ex, b"", now)  # (a draining body ends at its timer ticks)
        conn = ex.conn
        if conn is not None and ex in conn.active:
            conn.active.remove(ex)
        self._events.append(ExchangeDone(ex))
        if error is None:
            self._follow(ex, now)

    def _follow(self, ex: Exchange, now: int) -> None:
        """-L: a 3xx with Location becomes the next hop of the same fetch."""
        location = dict((n.lower(), v) for n, v in ex.headers).get("location")
        if ex.status not in REDIRECTS or not location or self.options.max_redirects <= 0:
            return
        if ex.hop >= self.options.max_redirects:
            ex.error = f"maximum ({self.options.max_redirects}) redirects followed"
            return
        try:
            url = parse_url(urljoin(str(ex.request.url), location))
        except UrlError as err:
            ex.error = f"bad Location {location!r}: {err}"
            return
        req = ex.request
        method, body = req.method, req.body
        # curl's -L: a POST answered by 301, 302 or 303 goes on as a GET without body.
        if (ex.status == 303 and method != "HEAD") or (
            ex.status in (301, 302) and method == "POST"
        ):
            method, body = "GET", b""
        headers = req.headers
        if url.host != req.url.host:  # credentials never follow to another host (curl does so too)
            headers = tuple(
                (n, v) for n, v in headers if n.lower() not in ("authorization", "cookie")
            )
        nxt = Exchange(Request(method, url, headers, body), ex.index, hop=ex.hop + 1, queued=now)
        self.fetches[ex.index].append(nxt)
        self.pending.appendleft(nxt)

    def _fail_conn(self, conn: Connection, reason: str, now: int) -> None:
        conn.error = conn.error or reason
        conn.closed = True
        for ex in list(conn.active):
            if not self._resend(conn, ex):
                self._end(ex, now, reason)
        # Requests that were waiting for this connection fail with it (curl would too).
        for ex in [e for e in self.pending if e.request.url.origin == conn.origin]:
            if conn.ready_at is None:
                self.pending.remove(ex)
                ex.conn = conn
                self._end(ex, now, reason)

    def _conn(self, conn_id: Any) -> Connection | None:
        for conn in self.connections:
            if conn.id == conn_id:
                return conn
        return None

    # --- bodies ----------------------------------------------------------------------------
    def _body(self, ex: Exchange, data: bytes, now: int, decoded: bool = False) -> None:
        if not data:
            return
        if not decoded:
            ex.wire_bytes += len(data)
            if ex.decoder is None and self.options.compressed:
                if ex.error is not None:
                    return  # decoding stopped (a bomb, a malformed body): drop the rest
                ex.decoder = _decoder_for(ex.headers)
            if ex.decoder is not None:
                self._inflate(ex, data, now)
                return
        ex.body_bytes += len(data)
        if ex.body_bytes > MAX_DECODED and ex.decoder is not None:
            ex.error = "compressed body inflates past 256 MiB: stopped (a decompression bomb?)"
            ex.decoder = None
            return
        room = self.options.keep_body - len(ex.body)
        if room > 0:
            ex.body += data[:room]
        self._events.append(BodyChunk(ex, data))

    def _inflate(self, ex: Exchange, data: bytes, now: int) -> None:
        """Decode DATA (b"": the end of the body) piece by piece, each through the bomb
        guard of `_body`, which drops the decoder once the body grows past MAX_DECODED.
        A br decoder that still holds output after BR_BUDGET goes on at the next timer."""
        try:
            for piece in _pieces(ex.decoder, data):
                self._body(ex, piece, now, decoded=True)
                if ex.decoder is None:
                    return
        except (zlib.error, BrotliError) as err:
            ex.decoder = None
            ex.error = f"malformed compressed body: {err}"
            return
        if getattr(ex.decoder, "busy", False) and ex not in self._draining:
            self._draining.append(ex)

    def _drain(self, ex: Exchange, now: int) -> None:
        if ex.error is None and ex.decoder is not None:
            self._inflate(ex, b"", now)
        if ex.error is not None or not getattr(ex.decoder, "busy", False):
            self._draining.remove(ex)

    # --- HTTP/1.1 (h11) --------------------------------------------------------------------
    def _h1_send(self, conn: Connection, ex: Exchange, now: int) -> list:
        req = ex.request
        ex.conn, ex.http_version = conn, "1.1"
        ex.reused = conn.requests > 0
        conn.requests += 1
        conn.active.append(ex)
        if ex.reused:
            ex.queued = max(ex.queued, now)
        try:
            head = conn.h11.send(
                h11.Request(
                    method=req.method,
                    target=req.url.target,
                    headers=default_headers(req, self.options),
                )
            )
            data = head
            if req.body:
                data += conn.h11.send(h11.Data(data=req.body))
            data += conn.h11.send(h11.EndOfMessage())
        except h11.LocalProtocolError as err:
            self._end(ex, now, f"cannot send this request: {err}")
            return []
        ex.request_head = head
        ex.sent = now
        return [Write(conn.id, data)]

    def _h1_data(self, conn: Connection, data: bytes, now: int) -> list:
        ex = conn.active[0] if conn.active else None
        if ex is None:
            conn.reusable = False  # bytes (or the close) while idle: do not reuse
            return [Close(conn.id)] if not conn.closed else []
        if ex.first_byte is None and data:
            ex.first_byte = now
        try:
            conn.h11.receive_data(data)
            return self._h1_events(conn, ex, now)
        except h11.RemoteProtocolError as err:
            return self._h1_broken(conn, ex, f"malformed HTTP response: {_h11_reason(err)}", now)

    def _h1_events(self, conn: Connection, ex: Exchange, now: int) -> list:
        chunked = False
        while True:
            event = conn.h11.next_event()
            if event is h11.NEED_DATA:
                if conn.closed:
                    return self._h1_broken(
                        conn,
                        ex,
                        "the server closed the connection before the response was complete",
                        now,
                    )
                return []
            if event is h11.PAUSED:
                return []
            if isinstance(event, h11.InformationalResponse):
                ex.interim.append(event.status_code)
            elif isinstance(event, h11.Response):
                ex.status, ex.reason = event.status_code, event.reason.decode("latin-1")
                ex.headers = _text_headers(event.headers.raw_items())  # as the server wrote them
                chunked = any(
                    n == "transfer-encoding" and "chunked" in v.lower()
                    for n, v in _lower(ex.headers)
                )
            elif isinstance(event, h11.Data):
                if event.chunk_start or (chunked and not ex.chunks):
                    ex.chunks.append(0)
                if ex.chunks and (event.chunk_start or event.chunk_end or chunked):
                    ex.chunks[-1] += len(event.data)
                self._body(ex, bytes(event.data), now)
            elif isinstance(event, h11.EndOfMessage):
                ex.trailers = _text_headers(event.headers)
                reuse = conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE
                excess = len(conn.h11.trailing_data[0])
                if excess:  # a Content-Length shorter than the body (curl: "Excess found")
                    ex.warnings.append(
                        f"{excess} bytes after the end of the response: "
                        "its length was wrong; connection not reused"
                    )
                    reuse = False
                self._end(ex, now)
                if reuse and not conn.closed:
                    conn.h11.start_next_cycle()
                    return []
                conn.reusable = False
                return self._close(conn) if not conn.closed else []
            elif isinstance(event, h11.ConnectionClosed):
                return self._h1_broken(conn, ex, "the server closed the connection", now)

    def _h1_broken(self, conn: Connection, ex: Exchange, reason: str, now: int) -> list:
        conn.reusable = False
        if not self._resend(conn, ex):
            self._end(ex, now, reason)
        return self._close(conn) if not conn.closed else []

    def _resend(self, conn: Connection, ex: Exchange) -> bool:
        """A kept-alive connection the server had already closed (it may, RFC 9112
        §9.3.1, and some trackers do without saying so) ends before any byte of the
        answer: send the request again once, on a new connection, as curl does
        ("Connection died, retrying a fresh connect")."""
        if not ex.reused or ex.first_byte is not None or ex.resent:
            return False
        if ex in conn.active:
            conn.active.remove(ex)
        ex.conn, ex.sent, ex.reused, ex.resent = None, None, False, True
        ex.warnings.append("the kept-alive connection was closed: sent again on a new one")
        self.pending.appendleft(ex)
        return True

    # --- HTTP/2 (h2) -----------------------------------------------------------------------
    def _start_h2(self, conn: Connection, now: int) -> list:
        config = h2.config.H2Configuration(client_side=True, header_encoding=None)
        conn.h2 = h2.connection.H2Connection(config)
        # Our SETTINGS: no server push (a client that shows frames wants only its own
        # streams), and the header-list limit that bounds a hostile server's HEADERS.
        conn.h2.local_settings = h2.settings.Settings(
            client=True,
            initial_values={
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 100,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: MAX_HEAD,
            },
        )
        conn.h2.initiate_connection()
        for direction in ("sent", "received"):
            conn.splitters[direction] = FrameSplitter(preface=direction == "sent")
            conn.tables[direction] = hpack.DynamicTable()
        return self._h2_flush(conn, now)

    def _h2_send(self, conn: Connection, ex: Exchange, now: int) -> list:
        req = ex.request
        ex.conn, ex.http_version = conn, "2"
        ex.reused = conn.requests > 0
        conn.requests += 1
        try:
            stream = conn.h2.get_next_available_stream_id()
            conn.h2.send_headers(stream, h2_headers(req, self.options), end_stream=not req.body)
            if req.body:
                # Small bodies (a form, -d): within the peer's initial 64 KiB window.
                conn.h2.send_data(stream, req.body, end_stream=True)
        except (h2.exceptions.ProtocolError, ValueError) as err:
            self._end(ex, now, f"cannot send this request over HTTP/2: {err}")
            return []
        ex.stream = stream
        ex.sent = now
        conn.active.append(ex)
        conn.streams[stream] = ex
        return self._h2_flush(conn, now)

    def _h2_flush(self, conn: Connection, now: int) -> list:
        data = conn.h2.data_to_send()
        if not data:
            return []
        self._record(conn, "sent", data, now)
        return [Write(conn.id, data)]

    def _h2_data(self, conn: Connection, data: bytes, now: int) -> list:
        if not data:
            for ex in list(conn.active):
                self._end(ex, now, "the server closed the connection before the response ended")
            return []
        self._record(conn, "received", data, now)
        try:
            events = conn.h2.receive_data(data)
        except h2.exceptions.ProtocolError as err:
            reason = f"malformed HTTP/2 from the server: {_h2_reason(err)}"
            self._fail_conn(conn, reason, now)
            return [*self._h2_flush(conn, now), Close(conn.id)]
        out: list = []
        for event in events:
            out += self._h2_event(conn, event, now)
            if conn.closed:
                break
        if conn.settings_frames > MAX_SETTINGS_FRAMES and not conn.closed:
            conn.h2.close_connection(h2.errors.ErrorCodes.ENHANCE_YOUR_CALM)
            self._fail_conn(
                conn,
                f"SETTINGS flood: over {MAX_SETTINGS_FRAMES} SETTINGS frames from the server",
                now,
            )
            return [*out, *self._h2_flush(conn, now), Close(conn.id)]
        return out + (self._h2_flush(conn, now) if not conn.closed or out else [])

    def _h2_event(self, conn: Connection, event: Any, now: int) -> list:
        ex = conn.streams.get(getattr(event, "stream_id", None) or -1)
        if isinstance(event, h2.events.RemoteSettingsChanged):
            conn.settings_frames += 1
        elif isinstance(event, h2.events.InformationalResponseReceived) and ex:
            ex.interim.append(int(dict(event.headers).get(b":status", b"0")))
        elif isinstance(event, h2.events.ResponseReceived) and ex:
            ex.first_byte = ex.first_byte or now
            fields = _text_headers(event.headers)
            status = next((v for n, v in fields if n == ":status"), "0")
            ex.status = int(status) if status.isdigit() else 0
            ex.headers = [(n, v) for n, v in fields if not n.startswith(":")]
        elif isinstance(event, h2.events.TrailersReceived) and ex:
            ex.trailers = _text_headers(event.headers)
        elif isinstance(event, h2.events.DataReceived):
            if event.flow_controlled_length:
                conn.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            if ex:
                ex.first_byte = ex.first_byte or now
                self._body(ex, event.data, now)
        elif isinstance(event, h2.events.StreamEnded) and ex:
            self._end(ex, now)
        elif isinstance(event, h2.events.StreamReset) and ex:
            self._end(
                ex,
                now,
                f"stream {event.stream_id} reset by the server: {_error_name(event.error_code)}",
            )
        elif isinstance(event, h2.events.ConnectionTerminated):
            code = _error_name(event.error_code)
            for other in list(conn.active):
                if event.last_stream_id is None or (other.stream or 0) > event.last_stream_id:
                    self._end(other, now, f"GOAWAY from the server ({code}) before this stream")
            conn.reusable = False
            if not conn.active:
                conn.closed = True
                return [Close(conn.id)]
        return []

    # --- frames and HPACK, for display -------------------------------------------------------
    def _record(self, conn: Connection, direction: str, data: bytes, now: int) -> None:
        splitter = conn.splitters.get(direction)
        if splitter is None:
            return
        for frame in splitter.feed(data, now, direction):
            if len(conn.frames) < MAX_FRAMES_KEPT:
                conn.frames.append(frame)
            else:
                conn.frames_dropped += 1
            if frame.block is not None:
                self._header_block(conn, direction, frame)

    def _header_block(self, conn: Connection, direction: str, frame: FrameRecord) -> None:
        """HEADERS (+ CONTINUATION): decode the block with this direction's table."""
        if frame.type_name == "HEADERS" or frame.type_name == "PUSH_PROMISE":
            conn.pending_block[direction] = (frame.stream, bytearray(frame.block))
        elif direction in conn.pending_block:
            conn.pending_block[direction][1].extend(frame.block)
        else:
            return
        if not frame.flags & 0x4:  # END_HEADERS not yet
            if len(conn.pending_block[direction][1]) > MAX_HEAD:
                del conn.pending_block[direction]
            return
        stream, block = conn.pending_block.pop(direction)
        table = conn.tables[direction]
        try:
            decoded = hpack.decode_block(bytes(block), table)
        except hpack.HpackError:
            return  # h2 itself reports the error; the display just has no block
        if len(conn.blocks) < MAX_FRAMES_KEPT:
            conn.blocks.append(
                HeaderBlockRecord(
                    direction, stream, decoded, list(table.entries), table.size, table.max_size
                )
            )


# --- helpers --------------------------------------------------------------------------------------
def _decoder_for(headers: list[tuple[str, str]]) -> Any:
    encoding = next((v.strip().lower() for n, v in _lower(headers) if n == "content-encoding"), "")
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj()
    if encoding == "br":
        return BrotliDecoder()
    return None


class BrotliError(ValueError):
    """A br body that does not decode (brotli says only "decoder failed")."""


class BrotliDecoder:
    """Content-Encoding: br (RFC 7932) with brotli's streaming Decompressor, its output
    handed out in pieces of about BR_PIECE bytes (`output_buffer_limit`), at most
    BUDGET bytes a call: the input that would make more waits (inside the decompressor,
    or queued here while it still holds output) until the next call takes it."""

    def __init__(self, budget: int = BR_BUDGET) -> None:
        import brotli  # only a --compressed br response pays for it

        self._engine = brotli.Decompressor()
        self._error = brotli.error
        self._budget = budget
        self._queued = bytearray()  # input that came while output was still inside
        self._inside = False  # the last call may have left output inside the engine

    @property
    def busy(self) -> bool:
        """Output or input left over: call `pieces(b"")` again."""
        return self._inside or bool(self._queued)

    def pieces(self, data: bytes):
        # Output is taken until a call gives nothing: the engine then wants input. (Its
        # can_accept_more_data() turns true while output is still inside: not the test.)
        engine = self._engine
        self._queued += data
        made = 0
        try:
            while made < self._budget:
                if self._inside:
                    piece = engine.process(b"", output_buffer_limit=BR_PIECE)
                elif self._queued:
                    given = bytes(self._queued)
                    self._queued.clear()
                    piece = engine.process(given, output_buffer_limit=BR_PIECE)
                else:
                    return
                self._inside = bool(piece) and not engine.is_finished()
                made += len(piece)
                if piece:
                    yield piece
        except self._error as err:
            self._inside = False
            self._queued.clear()
            raise BrotliError(str(err)) from None


def _pieces(decoder: Any, data: bytes):
    """The decoded bytes of DATA (b"": what the decoder still holds at the end)."""
    if isinstance(decoder, BrotliDecoder):
        yield from decoder.pieces(data)
    else:
        yield decoder.decompress(data) if data else decoder.flush()


def _lower(headers: list[tuple[str, str]]):
    return ((n.lower(), v) for n, v in headers)


def _text_headers(headers: Any) -> list[tuple[str, str]]:
    out = []
    for name, value in headers:
        n = name.decode("latin-1") if isinstance(name, bytes) else name
        v = value.decode("latin-1") if isinstance(value, bytes) else value
        out.append((n, v))
    return out


def _h11_reason(err: Exception) -> str:
    text = str(err) or type(err).__name__
    if "buffer too long" in text.lower():
        return f"response head larger than {MAX_HEAD // 1024} KiB, or without an end"
    return re.sub(r"bytearray\((b'.*?')\)", r"\1", text)[:200]


def _h2_reason(err: Exception) -> str:
    text = " ".join(str(err).split())
    return text[:200] or type(err).__name__


def _error_name(code: Any) -> str:
    try:
        return h2.errors.ErrorCodes(int(code)).name
    except (ValueError, TypeError):
        return f"error {code}"


def status_class(status: int) -> str:
    """The course's table: what a status code's first digit says."""
    return {
        1: "informational",
        2: "success",
        3: "redirection",
        4: "client error",
        5: "server error",
    }.get(status // 100, "unknown class")


# A one-line meaning for the codes a learner meets (RFC 9110 §15).
STATUS_MEANINGS = {
    100: "go on and send the body",
    101: "switching protocols, as the Upgrade header asked",
    200: "the request worked; the body is the resource",
    201: "created: the Location header names the new resource",
    204: "the request worked and there is no body",
    206: "partial content: the byte range asked for",
    301: "moved permanently: use the Location from now on",
    302: "found elsewhere for now: follow Location, keep the old URL",
    303: "see other: GET the Location (the answer to a POST)",
    304: "not modified: the cached copy is still valid",
    307: "temporary redirect: repeat the same request at Location",
    308: "permanent redirect: repeat the same request at Location from now on",
    400: "bad request: the server could not parse it",
    401: "authentication needed (see WWW-Authenticate)",
    403: "forbidden: the server will not serve it to you",
    404: "not found: no resource at this URL",
    405: "method not allowed for this resource (see Allow)",
    408: "the server timed out waiting for the request",
    413: "request body too large",
    414: "URI too long",
    429: "too many requests: slow down (see Retry-After)",
    500: "internal server error",
    501: "the server does not implement this method",
    502: "bad gateway: the upstream server answered badly",
    503: "service unavailable: overloaded or down for maintenance",
    504: "gateway timeout: the upstream server did not answer in time",
    505: "HTTP version not supported",
}


def status_meaning(status: int) -> str:
    return STATUS_MEANINGS.get(status, status_class(status))


def offline(requests: list[Request], options: Options) -> HttpClient:
    """--offline: build each request as it would go out (the HTTP/1.1 head and body, or
    the HTTP/2 frames with their HPACK blocks) without opening any socket."""
    client = HttpClient([], {}, options)
    version = "2" if options.h2c or options.version == "2" else "1.1"
    by_origin: dict[tuple, Connection] = {}
    for i, req in enumerate(requests):
        conn = by_origin.get(req.url.origin) if version == "2" else None
        if conn is None:
            conn = Connection(
                len(client.connections) + 1,
                req.url.origin,
                req.url.host,
                0,
                req.url.scheme == "https",
                version=version,
                ready_at=0,
            )
            client.connections.append(conn)
            by_origin[req.url.origin] = conn
            if version == "2":
                client._start_h2(conn, 0)
            else:
                conn.h11 = h11.Connection(h11.CLIENT)
        ex = Exchange(req, i)
        client.fetches[i] = [ex]
        if version == "2":
            client._h2_send(conn, ex, 0)
        else:
            client._h1_send(conn, ex, 0)
        conn.active.clear()
    return client
