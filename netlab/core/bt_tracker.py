"""Asking BitTorrent trackers for peers: HTTP (BEP 3, 23, 48) and UDP (BEP 15).

HTTP    GET /announce?info_hash=…&peer_id=…&port=…&uploaded=0&downloaded=0&left=…
            &compact=1&event=started[&numwant=N]
        → a bencoded dictionary: failure reason | warning message, interval,
          min interval, complete, incomplete, peers (compact: 6 bytes each, or a
          list of {ip, port, peer id}), peers6 (18 bytes each)
        scrape: the same URL with its last "announce" replaced by "scrape" (BEP 48)
        → {files: {info_hash: {complete, downloaded, incomplete}}}
UDP     connect (protocol id, action 0) → connection id; announce (action 1) with it
        → interval, leechers, seeders, compact peers; scrape (action 2); error (3).

One session core for all the trackers asked, at the same time: the HTTP ones go
through `core.http.HttpClient` (h11, one connection per origin, the announce and the
scrape on one kept-alive connection), the UDP ones each through a connected UDP
socket, step by step, every datagram kept with its transaction id. BEP 15's
retransmission (wait 15·2ⁿ s) is kept in shape but scaled to our --timeout: the first
wait is a quarter of it (at most 15 s) and doubles. The connection id is reused for
the scrape after the announce. A datagram with another transaction id, or one that is
not BEP 15, is counted and ignored (the timeout then says so).
"""

from __future__ import annotations

import ipaddress
import os
import struct
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_from_bytes

from netlab.core import base
from netlab.core import http as httpcore
from netlab.core.base import NS, Close, CoreBase, Datagram, Open, SocketError, TlsParams
from netlab.wire import bencode, udp_tracker

MAX_ANSWER = 1 << 20  # bytes of an HTTP tracker answer kept (and decoded)
MAX_PEERS = 10_000
MAX_DATAGRAMS = 1000  # from one UDP tracker in one run: more is a flood, the rest ignored
SCHEMES = {"http": 80, "https": 443, "udp": None}


class TrackerUrlError(ValueError):
    pass


@dataclass(frozen=True)
class Tracker:
    url: str
    scheme: str  # http, https or udp
    host: str
    port: int
    target: str  # HTTP: path and query of the announce URL

    @property
    def kind(self) -> str:
        return "udp" if self.scheme == "udp" else "http"


def parse_tracker_url(text: str) -> Tracker:
    if any(c.isspace() or ord(c) < 0x20 for c in text):
        raise TrackerUrlError(f"tracker {text!r}: spaces or control characters")
    parts, port, scheme = base.url_parts(text, TrackerUrlError, f"tracker {text!r}")
    if scheme not in SCHEMES:
        raise TrackerUrlError(f"tracker {text!r}: netlab speaks http://, https:// and udp://")
    if not parts.hostname:
        raise TrackerUrlError(f"tracker {text!r}: no host")
    port = port or SCHEMES[scheme]
    if not port:
        raise TrackerUrlError(f"tracker {text!r}: a UDP tracker needs a port (udp://HOST:PORT)")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Tracker(text, scheme, parts.hostname, port, target)


@dataclass(frozen=True)
class AnnounceParams:
    info_hash: bytes
    peer_id: bytes
    port: int = 6881
    event: str = "started"  # started, completed, stopped or none
    left: int = 0
    uploaded: int = 0
    downloaded: int = 0
    numwant: int | None = None
    key: int = 0
    scrape: bool = False
    timeout: float = 10.0


@dataclass
class UdpStep:
    """One BEP 15 datagram, sent or received."""

    direction: str  # "sent" or "received"
    action: str  # connect, announce, scrape, error
    transaction_id: int
    at: int  # ns, runner clock
    attempt: int = 1  # retransmissions of one request count up
    connection_id: int | None = None
    bytes: int = 0
    rtt_ms: float | None = None


@dataclass
class Scrape:
    complete: int | None = None  # seeders
    downloaded: int | None = None  # completed downloads
    incomplete: int | None = None  # leechers


@dataclass
class TrackerResult:
    tracker: Tracker
    address: str | None
    request: str | None = None  # HTTP: the announce request's target
    http_status: int | None = None
    failure_reason: str | None = None
    warning_message: str | None = None
    interval: int | None = None
    min_interval: int | None = None
    complete: int | None = None  # seeders
    incomplete: int | None = None  # leechers
    peers: list[tuple[str, int]] = field(default_factory=list)
    peers_ignored: int = 0
    peer_ids: dict[str, str] = field(default_factory=dict)  # non-compact: "ip:port" → id hex
    compact: bool | None = None
    scrape: Scrape | None = None
    scrape_error: str | None = None
    steps: list[UdpStep] = field(default_factory=list)  # UDP
    ignored: int = 0  # UDP: datagrams with another transaction id or not BEP 15
    ignored_reasons: list[str] = field(default_factory=list)
    rtt_ms: float | None = None  # the announce's round trip (HTTP: request to answer)
    error: str | None = None
    done: bool = False

    @property
    def answered(self) -> bool:
        return self.interval is not None and self.failure_reason is None and not self.error


# --- the HTTP tracker answer (pure) -----------------------------------------------------------
def announce_query(params: AnnounceParams) -> str:
    q = [
        ("info_hash", quote_from_bytes(params.info_hash, safe="")),
        ("peer_id", quote_from_bytes(params.peer_id, safe="")),
        ("port", str(params.port)),
        ("uploaded", str(params.uploaded)),
        ("downloaded", str(params.downloaded)),
        ("left", str(params.left)),
        ("compact", "1"),
    ]
    if params.event != "none":
        q.append(("event", params.event))
    if params.numwant is not None:
        q.append(("numwant", str(params.numwant)))
    if params.key:
        q.append(("key", f"{params.key:08x}"))
    return "&".join(f"{k}={v}" for k, v in q)


def http_target(tracker: Tracker, query: str) -> str:
    return tracker.target + ("&" if "?" in tracker.target else "?") + query


def scrape_target(tracker: Tracker, info_hash: bytes) -> str | None:
    """BEP 48: the announce URL's last path part, if it starts with "announce", with
    "scrape" in its place; None when the tracker has no scrape URL by that convention."""
    path, _, query = tracker.target.partition("?")
    head, _, last = path.rpartition("/")
    if not last.startswith("announce"):
        return None
    path = f"{head}/scrape{last[len('announce') :]}"
    ih = "info_hash=" + quote_from_bytes(info_hash, safe="")
    return f"{path}?{query}&{ih}" if query else f"{path}?{ih}"


def _text(value) -> str | None:
    return value.decode("utf-8", "replace")[:500] if isinstance(value, bytes) else None


def _num(value) -> int | None:
    return value if isinstance(value, int) and value >= 0 else None


def parse_announce_answer(body: bytes, r: TrackerResult) -> None:
    """Fill R from an HTTP tracker's bencoded answer; ValueError (one line) if not one."""
    try:
        d = bencode.decode(body, strict=False)
    except bencode.BencodeError as err:
        raise ValueError(f"not a bencoded answer ({err})") from None
    if not isinstance(d, dict):
        raise ValueError("the answer is not a bencoded dictionary")
    r.failure_reason = _text(d.get(b"failure reason"))
    if r.failure_reason is not None:
        return
    r.warning_message = _text(d.get(b"warning message"))
    r.interval = _num(d.get(b"interval"))
    if r.interval is None:
        raise ValueError("the answer has no interval (nor a failure reason)")
    r.min_interval = _num(d.get(b"min interval"))
    r.complete, r.incomplete = _num(d.get(b"complete")), _num(d.get(b"incomplete"))
    peers = d.get(b"peers")
    if isinstance(peers, bytes):
        r.compact = True
        _compact(peers, 6, r)
    elif isinstance(peers, list):
        r.compact = False
        _dict_peers(peers, r)
    if isinstance(d.get(b"peers6"), bytes):
        _compact(d[b"peers6"], 18, r)


def _compact(raw: bytes, unit: int, r: TrackerResult) -> None:
    n, rest = divmod(len(raw), unit)
    room = max(0, MAX_PEERS - len(r.peers))
    for i in range(min(n, room)):
        chunk = raw[i * unit : (i + 1) * unit]
        r.peers.append((str(ipaddress.ip_address(chunk[:-2])), struct.unpack(">H", chunk[-2:])[0]))
    r.peers_ignored += max(0, n - room) + (1 if rest else 0)


def _dict_peers(items: list, r: TrackerResult) -> None:
    for item in items:
        if len(r.peers) >= MAX_PEERS or not isinstance(item, dict):
            r.peers_ignored += 1
            continue
        ip, port = item.get(b"ip"), item.get(b"port")
        try:
            host = str(ipaddress.ip_address(ip.decode("ascii")))
        except (AttributeError, UnicodeDecodeError, ValueError):
            host = None
        if host is None or not isinstance(port, int) or not 0 < port < 65536:
            r.peers_ignored += 1
            continue
        r.peers.append((host, port))
        pid = item.get(b"peer id")
        if isinstance(pid, bytes):
            r.peer_ids[f"{host}:{port}"] = pid.hex()


def parse_scrape_answer(body: bytes, info_hash: bytes) -> Scrape:
    try:
        d = bencode.decode(body, strict=False)
    except bencode.BencodeError as err:
        raise ValueError(f"not a bencoded scrape answer ({err})") from None
    if isinstance(d, dict) and b"failure reason" in d:
        raise ValueError(f"failure reason: {_text(d[b'failure reason'])}")
    files = d.get(b"files") if isinstance(d, dict) else None
    entry = files.get(info_hash) if isinstance(files, dict) else None
    if not isinstance(entry, dict):
        raise ValueError("the scrape answer does not list this info-hash")
    return Scrape(
        _num(entry.get(b"complete")), _num(entry.get(b"downloaded")), _num(entry.get(b"incomplete"))
    )


# --- the UDP exchange state --------------------------------------------------------------------
@dataclass
class _UdpState:
    result: TrackerResult
    conn: Any
    step: str = "connect"  # connect, announce, scrape, done
    tid: int = 0
    packet: bytes = b""
    attempt: int = 0
    sent_at: int = 0
    first_sent: int = 0
    retry_at: int | None = None
    connection_id: int | None = None
    datagrams: int = 0


class TrackerAnnounce(CoreBase):
    """Announce (and with params.scrape, scrape) to every tracker at once."""

    def __init__(
        self,
        trackers: list[Tracker],
        addresses: dict[str, str | None],
        params: AnnounceParams,
        random: Any = os.urandom,
        tls_verify: bool = True,
    ) -> None:
        super().__init__()
        self.params, self.random = params, random
        self.results = [TrackerResult(t, addresses.get(t.host)) for t in trackers]
        self.udp: dict[Any, _UdpState] = {}
        # fetch index -> ("announce" or "scrape", its tracker): one HttpClient asks them all
        # in order, so a tracker's scrape follows its announce (on a new connection if the
        # tracker closed the first, as opentracker does: core/http sends it again).
        self.http_results: dict[int, tuple[str, TrackerResult]] = {}
        self._now = 0
        self._end: int | None = None
        requests: list = []
        for r in self.results:
            if r.address is None:
                r.error = r.error or f"{r.tracker.url}: cannot resolve {r.tracker.host!r}"
                r.done = True
            elif r.tracker.kind == "http":
                self._http_requests(r, requests)
        opts = httpcore.Options(
            max_time=params.timeout,
            connect_timeout=params.timeout,
            keep_body=MAX_ANSWER,
            tls=TlsParams(verify=tls_verify),
            user_agent="netlab",
        )
        hosts = {r.tracker.host: r.address for r in self.results if r.address}
        self.http = httpcore.HttpClient(requests, hosts, opts) if requests else None

    def _http_requests(self, r: TrackerResult, requests: list) -> None:
        t = r.tracker
        url = httpcore.Url(t.scheme, t.host, t.port, http_target(t, announce_query(self.params)))
        r.request = url.target
        self.http_results[len(requests)] = ("announce", r)
        requests.append(httpcore.Request("GET", url))
        if self.params.scrape:
            target = scrape_target(t, self.params.info_hash)
            if target is None:
                r.scrape_error = "no scrape URL (the announce URL does not end in /announce)"
            else:
                self.http_results[len(requests)] = ("scrape", r)
                url = httpcore.Url(t.scheme, t.host, t.port, target)
                requests.append(httpcore.Request("GET", url))

    # --- the session-core interface -------------------------------------------------------
    def start(self, now: int) -> list:
        self._now = now
        self._end = now + int(self.params.timeout * NS)
        out: list = []
        for i, r in enumerate(self.results):
            if r.tracker.kind == "udp" and not r.done:
                conn = ("udp", i)
                st = self.udp[conn] = _UdpState(r, conn)
                out.append(Open(conn, "udp", r.address, r.tracker.port))
                out += self._send(st, "connect", now)
        if self.http is not None:
            out += self.http.start(now)
            self._http_events(now)
        return out + self._check_done(now)

    def on_connected(self, conn: Any, info: Any, now: int) -> list:
        self._now = now
        if conn in self.udp or self.http is None:
            return []
        out = self.http.on_connected(conn, info, now)
        self._http_events(now)
        return out + self._check_done(now)

    def on_data(self, conn: Any, data: bytes, now: int) -> list:
        self._now = now
        if self.http is None:
            return []
        out = self.http.on_data(conn, data, now)
        self._http_events(now)
        return out + self._check_done(now)

    def on_datagram(self, conn: Any, data: bytes, addr: tuple, now: int) -> list:
        self._now = now
        st = self.udp.get(conn)
        if st is None or st.step == "done":
            return []
        st.datagrams += 1
        if st.datagrams > MAX_DATAGRAMS:
            return []
        return self._udp_answer(st, data, now) + self._check_done(now)

    def on_error(self, conn: Any, err: SocketError, now: int) -> list:
        self._now = now
        st = self.udp.get(conn)
        if st is not None:
            if st.step != "done":
                why = "refused (ICMP port unreachable)" if err.refused else err.reason
                self._udp_fail(st, f"{err.op} to {st.result.address} port "
                               f"{st.result.tracker.port}: {why}")  # fmt: skip
            return [Close(conn), *self._check_done(now)]
        if self.http is None:
            return []
        out = self.http.on_error(conn, err, now)
        self._http_events(now)
        return out + self._check_done(now)

    def on_timer(self, now: int) -> list:
        self._now = now
        out: list = []
        if self._end is not None and now >= self._end:
            return self._timeout(now)
        for st in self.udp.values():
            if st.step != "done" and st.retry_at is not None and now >= st.retry_at:
                out += self._resend(st, now)
        if self.http is not None:
            out += self.http.on_timer(now)
            self._http_events(now)
        return out + self._check_done(now)

    def deadline(self) -> int | None:
        if self._finished:
            return None
        times = [st.retry_at for st in self.udp.values() if st.step != "done" and st.retry_at]
        if self._end is not None:
            times.append(self._end)
        if self.http is not None and self.http.deadline() is not None:
            times.append(self.http.deadline())
        return min(times) if times else None

    def interrupt(self, now: int) -> None:
        for r in self.results:
            if not r.done:
                r.error, r.done = "interrupted", True
        if self.http is not None:
            self.http.interrupt(now)
        self._finish(now)

    # --- ending -------------------------------------------------------------------------------
    def _timeout(self, now: int) -> list:
        out: list = []
        limit = f"{self.params.timeout:g} s"
        for conn, st in self.udp.items():
            if st.step != "done":
                extra = ""
                if st.result.ignored:
                    extra = (
                        f" ({st.result.ignored} datagram(s) ignored: "
                        + "; ".join(sorted(set(st.result.ignored_reasons)))
                        + ")"
                    )
                self._udp_fail(st, f"timeout: no answer to {st.step} in {limit}{extra}")
                out.append(Close(conn))
        if self.http is not None and not self.http.done():
            self.http.interrupt(now)
            for _kind, r in self.http_results.values():
                if not r.done:
                    r.error, r.done = f"timeout: no answer in {limit}", True
        for r in self.results:
            r.done = True
        self._finish(now)
        return out

    def _check_done(self, now: int) -> list:
        if not self._finished and all(r.done for r in self.results):
            self._finish(now)
        return []

    # --- HTTP -------------------------------------------------------------------------------
    def _http_events(self, now: int) -> None:
        for event in self.http.pop_events():
            if isinstance(event, httpcore.ExchangeDone):
                self._http_done(event.exchange)
        if self.http.done():
            for _kind, r in self.http_results.values():
                r.done = True

    def _http_done(self, ex: Any) -> None:
        kind, r = self.http_results.get(ex.index, (None, None))
        if r is None:
            return
        error = self._http_error(ex)
        if kind == "scrape":
            if error:
                r.scrape_error = error
            else:
                try:
                    r.scrape = parse_scrape_answer(bytes(ex.body), self.params.info_hash)
                except ValueError as err:
                    r.scrape_error = str(err)
            return
        r.http_status = ex.status
        if ex.sent is not None and ex.done_at is not None:
            r.rtt_ms = round((ex.done_at - ex.sent) / 1e6, 3)
        if error and ex.status is None:
            r.error = f"{r.tracker.url}: {error}"
            return
        try:
            parse_announce_answer(bytes(ex.body), r)
        except ValueError as err:
            r.error = f"{r.tracker.url}: {error or err}"
        if not self.params.scrape or r.scrape_error:
            r.done = True

    @staticmethod
    def _http_error(ex: Any) -> str | None:
        if ex.error:
            return ex.error
        if ex.body_bytes > MAX_ANSWER:
            return f"the answer is over {MAX_ANSWER} bytes"
        if ex.status != 200:
            return f"HTTP {ex.status} {ex.reason}".rstrip()
        return None

    # --- UDP --------------------------------------------------------------------------------
    def _tid(self) -> int:
        return int.from_bytes(self.random(4), "big")

    def _send(self, st: _UdpState, step: str, now: int) -> list:
        st.step, st.tid, st.attempt, st.first_sent = step, self._tid(), 0, now
        p = self.params
        if step == "connect":
            st.packet = udp_tracker.build_connect_request(st.tid)
        elif step == "announce":
            st.packet = udp_tracker.build_announce_request(
                udp_tracker.AnnounceRequest(
                    st.connection_id, st.tid, p.info_hash, p.peer_id, p.downloaded, p.left,
                    p.uploaded, udp_tracker.EVENT_BY_NAME[p.event], 0, p.key,
                    -1 if p.numwant is None else p.numwant, p.port,
                )
            )  # fmt: skip
        else:
            st.packet = udp_tracker.build_scrape_request(st.connection_id, st.tid, [p.info_hash])
        return self._resend(st, now)

    def _resend(self, st: _UdpState, now: int) -> list:
        st.attempt += 1
        st.sent_at = now
        base = min(15.0, self.params.timeout / 4)
        st.retry_at = now + int(base * (2 ** (st.attempt - 1)) * NS)
        st.result.steps.append(
            UdpStep("sent", st.step, st.tid, now, st.attempt, st.connection_id, len(st.packet))
        )
        return [Datagram(st.conn, st.packet, (st.result.address, st.result.tracker.port))]

    def _ignore(self, st: _UdpState, reason: str) -> list:
        st.result.ignored += 1
        if len(st.result.ignored_reasons) < 20:
            st.result.ignored_reasons.append(reason)
        return []

    def _udp_answer(self, st: _UdpState, data: bytes, now: int) -> list:
        r = st.result
        family = 6 if ":" in (r.address or "") else 4
        try:
            msg = udp_tracker.parse_response(data, family)
        except udp_tracker.UdpTrackerError as err:
            return self._ignore(st, f"not BEP 15: {err}")
        if msg.transaction_id != st.tid:
            return self._ignore(
                st, f"transaction id {msg.transaction_id:#010x}, we sent {st.tid:#010x}"
            )
        action = udp_tracker.ACTIONS[msg.action]
        rtt = round((now - st.sent_at) / 1e6, 3)
        r.steps.append(UdpStep("received", action, msg.transaction_id, now, st.attempt,
                               getattr(msg, "connection_id", None), len(data), rtt))  # fmt: skip
        if isinstance(msg, udp_tracker.ErrorResponse):
            if st.step == "scrape":
                r.scrape_error = f"error: {msg.message}"
                return self._udp_done(st)
            r.failure_reason = msg.message or "(empty error message)"
            return self._udp_done(st)
        expected = {"connect": udp_tracker.CONNECT, "announce": udp_tracker.ANNOUNCE,
                    "scrape": udp_tracker.SCRAPE}[st.step]  # fmt: skip
        if msg.action != expected:
            return self._ignore(st, f"a {action} answer to our {st.step}")
        if isinstance(msg, udp_tracker.ConnectResponse):
            st.connection_id = msg.connection_id
            return self._send(st, "announce", now)
        if isinstance(msg, udp_tracker.AnnounceResponse):
            r.interval, r.incomplete, r.complete = msg.interval, msg.leechers, msg.seeders
            r.peers, r.peers_ignored, r.compact = msg.peers, msg.ignored, True
            r.rtt_ms = rtt
            if self.params.scrape:
                return self._send(st, "scrape", now)  # the same connection id
            return self._udp_done(st)
        if msg.files:
            f = msg.files[0]
            r.scrape = Scrape(f.seeders, f.completed, f.leechers)
        else:
            r.scrape_error = "the scrape answer lists no torrent"
        return self._udp_done(st)

    def _udp_done(self, st: _UdpState) -> list:
        st.step, st.retry_at = "done", None
        st.result.done = True
        return [Close(st.conn)]

    def _udp_fail(self, st: _UdpState, reason: str) -> None:
        r = st.result
        if st.step == "scrape":
            r.scrape_error = reason
        else:
            r.error = r.error or f"{r.tracker.url}: {reason}"
        st.step, st.retry_at, r.done = "done", None, True
