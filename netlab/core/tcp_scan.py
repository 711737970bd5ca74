"""A TCP SYN scan (half-open, like `nmap -sS`), sans-I/O: `netlab tcp-handshake --ports`.

For each port one SYN from a single source port, paced at RATE probes per
second. The answer decides the port's state:

    SYN-ACK acknowledging our ISN + 1   open      we answer with a RST (nothing half-open)
    RST with ACK = our ISN + 1          closed
    ICMP destination unreachable        filtered  (quoting our probe)
    nothing after TRIES SYNs            filtered  (each waits TIMEOUT seconds)

Each port gets its own ISN (a random base plus a per-port step), so an answer
is matched to its probe by the acknowledgment number as well as the port. The
runner feeds frames and the time (integer ns); nothing here opens a socket or
reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from netlab.core.base import CoreBase, Send
from netlab.core.tcp_handshake import ACK, MOD, NS, RST, SYN, Conn, build_segment, parse_frame
from netlab.errors import InputError
from netlab.wire.link import LinkFrame

OPEN, CLOSED, FILTERED = "open", "closed", "filtered"


def parse_ports(spec: str) -> list[int]:
    """'22,80,8000-8100' → sorted distinct ports; InputError on anything else."""
    ports: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        lo_s, dash, hi_s = part.partition("-")
        try:
            lo = int(lo_s)
            hi = int(hi_s) if dash else lo
        except ValueError:
            raise InputError(f"bad port list {spec!r}: {part!r} is not a port or a range") from None
        if not 1 <= lo <= hi <= 65535:
            raise InputError(f"bad port list {spec!r}: {part!r} is outside 1-65535 or reversed")
        ports.update(range(lo, hi + 1))
    return sorted(ports)


@dataclass
class PortResult:
    port: int
    state: str = ""  # open | closed | filtered ("" while waiting)
    reason: str = ""
    rtt_ms: float | None = None
    tries: int = 0
    sent_ns: int = 0  # the last SYN (kernel time once seen leaving)


@dataclass
class ScanEvent:
    port: int
    state: str
    reason: str


class TcpScanCore(CoreBase):
    """SYN probes to every port of PORTS on one host, from one source port."""

    def __init__(
        self,
        family: int,
        src: str,
        sport: int,
        dst: str,
        ports: list[int],
        *,
        isn: int,
        rate: float = 100.0,
        tries: int = 2,
        timeout: float = 1.0,
        mss: int = 1460,
    ) -> None:
        self.family = family
        self.src, self.sport, self.dst = src, sport, dst
        self.ports = list(ports)
        self.isn_base = isn % MOD
        self.interval_ns = max(1, int(NS / rate))
        self.tries = max(1, tries)
        self.timeout_ns = int(timeout * NS)
        self.mss = mss
        self.results = {port: PortResult(port) for port in self.ports}
        self._queue: list[int] = list(self.ports)  # ports whose next SYN is due
        self._next_send = 0
        self._waiting: dict[int, int] = {}  # port → when its probe times out
        super().__init__()
        self._finished = not self.ports
        self.sent = 0
        ip = "ip" if family == 4 else "ip6"
        icmp = "icmp" if family == 4 else "icmp6"
        self.capture_filter = (f"({ip} and tcp and host {dst} and port {sport}) or "
                               f"({icmp} and dst host {src})")  # fmt: skip

    def isn(self, port: int) -> int:
        return (self.isn_base + port * 0x9E3779B1) % MOD

    def _conn(self, port: int) -> Conn:
        return Conn(self.family, self.src, self.sport, self.dst, port, self.mss)

    # --- runner interface -----------------------------------------------------------
    def start(self, now: int) -> list[Send]:
        self._next_send = now
        return self._send_due(now)

    def on_timer(self, now: int) -> list[Send]:
        if self._finished:
            return []
        for port, until in list(self._waiting.items()):
            if now >= until:
                del self._waiting[port]
                result = self.results[port]
                if result.tries < self.tries:
                    self._queue.append(port)  # retried at the paced rate, after new ports
                else:
                    self._set(port, FILTERED, f"no response to {result.tries} SYN(s)")
        sends = self._send_due(now)
        self._check_done()
        return sends

    def on_packet(self, frame: LinkFrame, now: int) -> list[Send]:
        if self._finished:
            return []
        p = parse_frame(frame, self.family)
        if p is None:
            return []
        if p.icmp is not None:
            return self._on_icmp(p)
        if (p.src, p.dst, p.sport) == (self.src, self.dst, self.sport):  # ours, leaving
            result = self.results.get(p.dport)
            if result is not None and p.flags == SYN and p.seq == self.isn(p.dport):
                result.sent_ns = frame.ts_ns
            return []
        if (p.src, p.dst, p.dport) != (self.dst, self.src, self.sport):
            return []
        result = self.results.get(p.sport)
        if result is None or result.state or not p.flags & ACK:
            return []
        if p.ack != (self.isn(p.sport) + 1) % MOD:
            return []  # not an answer to our SYN
        port = p.sport
        rtt = (frame.ts_ns - result.sent_ns) / 1e6 if result.sent_ns else None
        sends: list[Send] = []
        if p.flags & RST:
            self._set(port, CLOSED, "reset", rtt)
        elif p.flags & SYN:
            self._set(port, OPEN, "syn-ack", rtt)
            # <SEQ=SEG.ACK><CTL=RST>: the server drops its half-open connection at once.
            data = build_segment(self._conn(port), RST, p.ack, 0, 0, [])
            sends.append(Send(data, dest=self.dst, family=self.family, tag=port))
        else:
            return []
        self._waiting.pop(port, None)
        self._check_done()
        return sends

    def on_send_error(self, send: Send, err: OSError, now: int) -> list[Send]:
        port = send.tag
        if isinstance(port, int) and not self.results[port].state:
            self._waiting.pop(port, None)
            self._set(port, FILTERED, f"local error: {err.strerror or err}")
            self._check_done()
        return []

    def deadline(self) -> int | None:
        if self._finished:
            return None
        times = list(self._waiting.values())
        if self._queue:
            times.append(self._next_send)
        return min(times) if times else None

    # --- internals ------------------------------------------------------------------
    def _send_due(self, now: int) -> list[Send]:
        sends = []
        while self._queue and now >= self._next_send:
            port = self._queue.pop(0)
            result = self.results[port]
            if result.state:
                continue
            result.tries += 1
            result.sent_ns = now
            options = [("MSS", self.mss)]  # like nmap: a bare SYN with an MSS option
            data = build_segment(self._conn(port), SYN, self.isn(port), 0, 1024, options)
            sends.append(Send(data, dest=self.dst, family=self.family, tag=port))
            self.sent += 1
            self._waiting[port] = now + self.timeout_ns
            self._next_send = max(self._next_send, now - self.interval_ns) + self.interval_ns
        return sends

    def _on_icmp(self, p) -> list[Send]:
        icmp_type, code, q_src, q_dst, q_sport, q_dport = p.icmp
        if (q_src, q_dst, q_sport) != (self.src, self.dst, self.sport):
            return []
        result = self.results.get(q_dport)
        if result is None or result.state:
            return []
        if (self.family == 6 and icmp_type != 1) or (self.family == 4 and code == 4):
            return []  # packet too big / fragmentation needed: not an answer about the port
        from netlab.core.echo import error_reason

        self._waiting.pop(q_dport, None)
        self._set(q_dport, FILTERED, f"{error_reason(self.family, icmp_type, code)} from {p.src}")
        self._check_done()
        return []

    def _set(self, port: int, state: str, reason: str, rtt: float | None = None) -> None:
        result = self.results[port]
        result.state, result.reason, result.rtt_ms = state, reason, rtt
        self._events.append(ScanEvent(port, state, reason))

    def _check_done(self) -> None:
        if all(r.state for r in self.results.values()):
            self._finished = True
