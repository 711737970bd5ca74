"""A TCP SYN scan (half-open, like `nmap -sS`), sans-I/O: `netlab tcp-handshake --ports`.

One SYN per port from a single source port; the answer decides the port's state:

    SYN-ACK acknowledging our ISN + 1   open      the kernel answers it with a RST (it has
                                                  no socket for it), so nothing stays half-open
    RST with ACK = our ISN + 1          closed
    ICMP destination unreachable        filtered  (quoting our probe)
    nothing after TRIES SYNs            filtered  (no-response)

Timing follows nmap's scan engine (ultra_scan) in its simplest form:

- probes leave as fast as a token bucket of RATE per second allows (bursts of at
  most a millisecond's worth), with at most `cwnd` unanswered at once; the window
  starts at 64, grows by one per answer (up to MAX_WINDOW) and halves when a probe
  times out, as nmap's congestion control does;
- every answer to a first SYN is an RTT sample (Karn: never a retransmitted one);
  the probe timeout is SRTT + 4·RTTVAR (RFC 6298), between 100 ms and 10 s, 1 s
  before the first sample: nmap's min/initial/max_rtt_timeout;
- only unanswered ports are retried, ahead of ports not yet probed;
- the scan ends when every port has a state: the only wait at the end is the timeout
  of the probes still unanswered.

Each port gets its own ISN (a random base plus a per-port step), so an answer is
matched to its probe by the acknowledgment number as well as the port. Probes are
built with `struct` (no Scapy: a scan's start-up and per-probe cost are what make it
as fast as nmap's). The runner feeds frames and the time (integer ns); nothing here
opens a socket or reads a clock.
"""

from __future__ import annotations

import math
import re
import socket
import struct
from collections import deque
from typing import NamedTuple

from netlab.core.base import CoreBase, Send
from netlab.errors import InputError
from netlab.wire.link import LinkFrame, ip_header, ip_start

NS = 1_000_000_000
MOD = 1 << 32
FIN, SYN, RST, PSH, ACK, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20

OPEN, CLOSED, FILTERED = "open", "closed", "filtered"
_TCP_PORTS_ACK_FLAGS = struct.Struct("!HH4xIxB")
_ONE = 1 - 1e-9  # a whole token, give or take the float sums of the refills
MAX_PORTS_TEXT = 4096  # a --ports list longer than this is refused before it is parsed

INITIAL_TIMEOUT_NS = 1 * NS  # nmap's initial_rtt_timeout
MIN_TIMEOUT_NS = NS // 10  # min_rtt_timeout
MAX_TIMEOUT_NS = 10 * NS  # max_rtt_timeout
INITIAL_WINDOW = 64
MIN_WINDOW = 8
MAX_WINDOW = 4096


# --- port lists ------------------------------------------------------------------------------
def parse_services(text: str) -> dict[str, int]:
    """/etc/services (services(5)) → {name or alias: TCP port}; bad lines are skipped."""
    names: dict[str, int] = {}
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) < 2:
            continue
        number, _slash, proto = words[1].partition("/")
        if proto != "tcp" or not number.isdigit() or not 1 <= int(number) <= 65535:
            continue
        for name in [words[0], *words[2:]]:
            names.setdefault(name.lower(), int(number))
    return names


def service_names(text: str) -> dict[int, str]:
    """{port: its service name}: the first name services(5) lists for port/tcp (nmap's
    nmap-services gives each port its one top name the same way)."""
    first: dict[int, str] = {}
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[1].endswith("/tcp") and words[1][:-4].isdigit():
            port = int(words[1][:-4])
            if 1 <= port <= 65535:
                first.setdefault(port, words[0])
    return first


_RANGE = re.compile(r"(\d*)(-?)(\d*)")


def parse_ports(spec: str, services: dict[str, int] | None = None) -> list[int]:
    """nmap's -p syntax → sorted distinct ports; InputError on anything else.

    `22,80,8000-8100`, `-` (1-65535), `-1024` (1-1024), `60000-` (60000-65535), and
    service names from SERVICES (`http,ssh`; `*` and `?` as wildcards: `http*`)."""
    if len(spec) > MAX_PORTS_TEXT:
        raise InputError(f"bad port list: longer than {MAX_PORTS_TEXT} characters")
    ports: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        if part[:1].isalpha() or part[:1] in ("*", "?"):
            ports.update(_named(spec, part, services or {}))
            continue
        m = _RANGE.fullmatch(part)
        if not part or m is None or (not m[2] and not m[1]):
            raise InputError(f"bad port list {spec!r}: {part!r} is not a port, a range or a "
                             "service name")  # fmt: skip
        lo = int(m[1]) if m[1] else 1
        hi = (int(m[3]) if m[3] else 65535) if m[2] else lo
        if not 1 <= lo <= hi <= 65535:
            raise InputError(f"bad port list {spec!r}: {part!r} is outside 1-65535 or reversed")
        ports.update(range(lo, hi + 1))
    return sorted(ports)


def _named(spec: str, name: str, services: dict[str, int]) -> set[int]:
    import fnmatch

    key = name.lower()
    if "*" in key or "?" in key:
        found = {port for n, port in services.items() if fnmatch.fnmatchcase(n, key)}
    else:
        found = {services[key]} if key in services else set()
    if not found:
        raise InputError(f"bad port list {spec!r}: {name!r} is not a TCP service name in "
                         "/etc/services")  # fmt: skip
    return found


# --- probes (struct, no Scapy) ---------------------------------------------------------------
def _fold(total: int) -> int:
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def _sum16(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    return sum(struct.unpack(f"!{len(data) // 2}H", data))


def build_tcp(family: int, src: str, dst: str, sport: int, dport: int, flags: int, seq: int,
              ack: int = 0, win: int = 1024, options: bytes = b"", payload: bytes = b"",
              ttl: int = 64, ident: int = 0, df: bool = False) -> bytes:  # fmt: skip
    """An IPv4 or IPv6 packet with one TCP segment, checksummed (RFC 9293 §3.1's pseudo
    header). OPTIONS: the option bytes, padded here to a multiple of 4."""
    options += b"\0" * (-len(options) % 4)
    af = socket.AF_INET if family == 4 else socket.AF_INET6
    s, d = socket.inet_pton(af, src), socket.inet_pton(af, dst)
    doff = (20 + len(options)) // 4
    head = struct.pack("!HHIIBBHHH", sport, dport, seq % MOD, ack % MOD, doff << 4, flags,
                       win, 0, 0)  # fmt: skip
    segment = head + options + payload
    tcp_len = len(segment)
    pseudo = s + d + (struct.pack("!BBH", 0, 6, tcp_len) if family == 4
                      else struct.pack("!I3xB", tcp_len, 6))  # fmt: skip
    check = ~_fold(_sum16(pseudo) + _sum16(segment)) & 0xFFFF
    segment = segment[:16] + struct.pack("!H", check) + segment[18:]
    if family == 4:
        # IP_HDRINCL: the kernel fills in the total length and the header checksum.
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + tcp_len, ident,
                         0x4000 if df else 0, ttl, 6, 0, s, d)  # fmt: skip
    else:
        ip = struct.pack("!IHBB16s16s", 6 << 28, tcp_len, 6, ttl, s, d)
    return ip + segment


def mss_option(mss: int) -> bytes:
    return struct.pack("!BBH", 2, 4, mss)


class SynTemplate:
    """SYNs to one host from one port, all alike but for the destination port and ISN:
    the pseudo-header sum and the IP header are computed once (1000s of probes)."""

    def __init__(self, family: int, src: str, dst: str, sport: int, mss: int) -> None:
        self.family = family
        packet = build_tcp(family, src, dst, sport, 0, SYN, 0, 0, 1024, mss_option(mss))
        self.ip_len = 20 if family == 4 else 40
        self.packet = bytearray(packet)
        seg = bytes(packet[self.ip_len :])
        # The checksum of the template with dport = seq = 0, as a plain sum: add the new
        # words, fold, invert.
        self.base = _fold(~struct.unpack_from("!H", seg, 16)[0] & 0xFFFF)

    def build(self, dport: int, seq: int) -> bytes:
        total = _fold(self.base + dport + (seq >> 16) + (seq & 0xFFFF))
        p = self.packet
        struct.pack_into("!HI", p, self.ip_len + 2, dport, seq)
        struct.pack_into("!H", p, self.ip_len + 16, ~total & 0xFFFF)
        return bytes(p)


# --- answers (struct, never raising) ---------------------------------------------------------
class Answer(NamedTuple):
    """What a captured frame says: a TCP segment, or an ICMP error quoting one."""

    src: str
    dst: str
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    win: int
    ttl: int
    ident: int
    df: bool
    ip_len: int  # bytes from the IP header on, as captured (hping3's len=)
    icmp: tuple[int, int, str, str, int, int] | None = None  # type, code, quoted 4-tuple


def parse_answer(frame: LinkFrame, family: int) -> Answer | None:
    try:
        found = ip_start(frame)
        if found is None or found[0] != family:
            return None
        data, off = frame.data, found[1]
        ip = ip_header(data, off, family)
        df = family == 4 and bool(data[off + 6] & 0x40)
        p = ip.payload
        if ip.proto == 6:
            sport, dport, seq, ack, flags, win = struct.unpack_from("!HHIIxBH", data, p)
            return Answer(ip.src, ip.dst, sport, dport, seq, ack, flags, win, ip.ttl,
                          max(ip.ident, 0), df, len(data) - off)  # fmt: skip
        if ip.proto != (1 if family == 4 else 58):
            return None
        icmp_type, code = data[p], data[p + 1]
        # destination unreachable, time exceeded (a probe's small TTL: hping3's -t)
        if icmp_type not in ((3, 11) if family == 4 else (1, 3)):
            return None
        quoted = ip_header(data, p + 8, family)
        if quoted.proto != 6:
            return None
        q_sport, q_dport = struct.unpack_from("!HH", data, quoted.payload)
        return Answer(ip.src, ip.dst, 0, 0, 0, 0, 0, 0, ip.ttl, max(ip.ident, 0), df,
                      len(data) - off, (icmp_type, code, quoted.src, quoted.dst, q_sport,
                      q_dport))  # fmt: skip
    except (IndexError, ValueError, struct.error):
        return None


# nmap's reason words for ICMP destination unreachable (portreasons.cc)
_ICMP4_REASON = {0: "net-unreach", 1: "host-unreach", 2: "proto-unreach", 3: "port-unreach",
                 9: "net-prohibited", 10: "host-prohibited", 13: "admin-prohibited"}  # fmt: skip
_ICMP6_REASON = {0: "net-unreach", 1: "admin-prohibited", 3: "host-unreach", 4: "port-unreach"}


def icmp_reason(family: int, code: int) -> str:
    table = _ICMP4_REASON if family == 4 else _ICMP6_REASON
    return table.get(code, "unreach")


# --- the scan --------------------------------------------------------------------------------
class PortResult:
    """One port's state as the scan goes (a plain class: 65,535 of them at most, and no
    dataclass to build at start-up)."""

    __slots__ = ("detail", "port", "reason", "rtt_ms", "sent_ns", "state", "tries")

    def __init__(self, port: int) -> None:
        self.port = port
        self.state = ""  # open | closed | filtered ("" while waiting)
        self.reason = ""  # nmap's word: syn-ack, reset, no-response, admin-prohibited …
        self.detail = ""  # an ICMP error in words, with its sender
        self.rtt_ms: float | None = None
        self.tries = 0
        self.sent_ns: int | None = None  # the last SYN (kernel time once seen leaving)

    def __repr__(self) -> str:
        return f"PortResult({self.port}, {self.state!r}, {self.reason!r}, tries={self.tries})"


class ScanEvent(NamedTuple):
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
        rate: float = 100_000.0,
        tries: int = 2,
        timeout: float | None = None,
        mss: int = 1460,
        see_outgoing: bool = False,
    ) -> None:
        self.family = family
        self.src, self.sport, self.dst = src, sport, dst
        self.ports = list(ports)
        self.isn_base = isn % MOD
        self.rate = rate
        self.burst = max(1.0, rate / 1000)  # at most 1 ms worth of probes at once
        self.tries = max(1, tries)
        # A fixed timeout (timeout=…) or nmap's adaptive one (None).
        self.fixed_timeout_ns = int(timeout * NS) if timeout is not None else None
        self.srtt_ns: float | None = None
        self.rttvar_ns = 0.0
        self.cwnd = float(INITIAL_WINDOW)
        self.results = {port: PortResult(port) for port in self.ports}
        self._queue: deque[int] = deque(self.ports)  # ports whose next SYN is due
        self._outstanding: deque[tuple[int, int, int]] = deque()  # (sent, port, try) in order
        self._inflight = 0
        self._tokens = self.burst
        self._refilled = 0
        self._template = SynTemplate(family, src, dst, sport, mss)
        # IPv4 source and destination of an answer, as bytes (on_packet's fast path)
        self._answer4 = (socket.inet_aton(dst) + socket.inet_aton(src)) if family == 4 else None
        super().__init__()
        self._finished = not self.ports
        self.sent = 0
        self.received = 0
        self.start_ns = self.end_ns = 0
        ip = "ip" if family == 4 else "ip6"
        icmp = "icmp[0] == 3" if family == 4 else "icmp6 and ip6[40] == 1"
        # Only answers by default: our own SYNs (and the kernel's RSTs) stay in the kernel.
        # With -v/-w the SYNs are captured too: shown, saved, and their kernel time stamps
        # make the RTTs kernel to kernel.
        answers = f"({ip} and tcp and src host {dst} and dst port {sport})"
        self.see_outgoing = see_outgoing
        if see_outgoing:
            answers = f"({ip} and tcp and host {dst} and port {sport})"
        self.capture_filter = f"{answers} or ({icmp} and dst host {src})"

    def isn(self, port: int) -> int:
        return (self.isn_base + port * 0x9E3779B1) % MOD

    @property
    def timeout_ns(self) -> int:
        if self.fixed_timeout_ns is not None:
            return self.fixed_timeout_ns
        if self.srtt_ns is None:
            return INITIAL_TIMEOUT_NS
        rto = int(self.srtt_ns + 4 * self.rttvar_ns)
        return min(MAX_TIMEOUT_NS, max(MIN_TIMEOUT_NS, rto))

    def unresolved(self) -> int:
        return sum(1 for r in self.results.values() if not r.state)

    # --- runner interface -----------------------------------------------------------
    def start(self, now: int) -> list[Send]:
        self.start_ns = self._refilled = now
        return self._send_due(now)

    def on_timer(self, now: int) -> list[Send]:
        if self._finished:
            return []
        self._expire(now)
        sends = self._send_due(now)
        self._check_done(now)
        return sends

    def on_packet(self, frame: LinkFrame, now: int) -> list[Send]:
        if self._finished:
            return []
        data = frame.data
        # The common answer read at fixed offsets: Ethernet, IPv4 without options or
        # fragments, TCP, from the target to us (a thousand of them per scan).
        if (self._answer4 is not None and frame.linktype == 1 and len(data) >= 54
                and data[12:15] == b"\x08\x00\x45" and data[23] == 6
                and data[26:34] == self._answer4
                and not data[20] & 0x3F and not data[21]):  # fmt: skip
            sport, dport, ack, flags = _TCP_PORTS_ACK_FLAGS.unpack_from(data, 34)
            if dport != self.sport:
                return []
            return self._on_answer(sport, ack, flags, frame.ts_ns, now)
        # The same from a raw IP socket (net/ipcapture.py): the IP header at offset 0.
        if (self._answer4 is not None and frame.linktype == 101 and len(data) >= 40
                and data[0] == 0x45 and data[9] == 6 and data[12:20] == self._answer4
                and not data[6] & 0x3F and not data[7]):  # fmt: skip
            sport, dport, ack, flags = _TCP_PORTS_ACK_FLAGS.unpack_from(data, 20)
            if dport != self.sport:
                return []
            return self._on_answer(sport, ack, flags, frame.ts_ns, now)
        a = parse_answer(frame, self.family)
        if a is None:
            return []
        if a.icmp is not None:
            self._on_icmp(a, now)
            return self._send_due(now)
        if a.src == self.src and a.sport == self.sport and a.dport != self.sport:
            # ours, leaving (captured with -v/-w; by the ports, as on lo src == dst)
            result = self.results.get(a.dport)
            if result is not None and a.flags == SYN and a.dst == self.dst:
                result.sent_ns = frame.ts_ns
            return []
        if a.src != self.dst or a.dport != self.sport:
            return []
        return self._on_answer(a.sport, a.ack, a.flags, frame.ts_ns, now)

    def _on_answer(self, port: int, ack: int, flags: int, ts_ns: int, now: int) -> list[Send]:
        result = self.results.get(port)
        if result is None or result.state or not flags & ACK:
            return []
        if ack != (self.isn(port) + 1) % MOD:
            return []  # not an answer to our SYN
        if flags & RST:
            state, reason = CLOSED, "reset"
        elif flags & SYN:
            state, reason = OPEN, "syn-ack"
        else:
            return []
        self.received += 1
        rtt_ns = ts_ns - result.sent_ns if result.sent_ns is not None else None
        if rtt_ns is not None and rtt_ns >= 0 and result.tries == 1:
            self._rtt_sample(rtt_ns)
        self._answered()
        self._set(result, state, reason, rtt_ns / 1e6 if rtt_ns is not None else None)
        sends = self._send_due(now)
        self._check_done(now)
        return sends

    def on_send_error(self, send: Send, err: OSError, now: int) -> list[Send]:
        port = send.tag
        if isinstance(port, int) and port in self.results and not self.results[port].state:
            self._inflight -= 1
            result = self.results[port]
            self._set(result, FILTERED, "local-error", detail=err.strerror or str(err))
            self._check_done(now)
        return []

    def deadline(self) -> int | None:
        if self._finished:
            return None
        times = []
        oldest = self._oldest()
        if oldest is not None:
            times.append(oldest + self.timeout_ns)
        if self._queue and self._inflight < int(self.cwnd):
            times.append(self._next_send())
        return min(times) if times else None

    def interrupt(self, now: int) -> list[Send] | None:
        self.end_ns = now
        self._finished = True
        return []

    # --- internals ------------------------------------------------------------------
    def _next_send(self) -> int:
        if self._tokens >= _ONE:
            return self._refilled
        return self._refilled + math.ceil((1 - self._tokens) * NS / self.rate)

    def _send_due(self, now: int) -> list[Send]:
        if not self._queue:
            return []
        elapsed = now - self._refilled
        if elapsed > 0:
            self._tokens = min(self.burst, self._tokens + elapsed * self.rate / NS)
            self._refilled = now
        sends = []
        results, build, isn, queue = self.results, self._template.build, self.isn, self._queue
        window = int(self.cwnd)
        while queue and self._tokens >= _ONE and self._inflight < window:
            port = queue.popleft()
            result = results[port]
            if result.state:
                continue
            result.tries += 1
            result.sent_ns = now
            sends.append(Send(build(port, isn(port)), dest=self.dst, family=self.family,
                              tag=port))  # fmt: skip
            self._outstanding.append((now, port, result.tries))
            self._inflight += 1
            self._tokens -= 1
        self.sent += len(sends)
        return sends

    def _oldest(self) -> int | None:
        """When the oldest probe still unanswered left (answered ones are dropped here)."""
        out, results = self._outstanding, self.results
        while out:
            sent, port, tryno = out[0]
            result = results[port]
            if result.state or result.tries != tryno:
                out.popleft()
                continue
            return sent
        return None

    def _expire(self, now: int) -> None:
        timeout = self.timeout_ns
        out, results = self._outstanding, self.results
        retries = []
        while self._oldest() is not None and out[0][0] + timeout <= now:
            _sent, port, _tryno = out.popleft()
            self._inflight -= 1
            result = results[port]
            if result.tries < self.tries:
                retries.append(port)
            else:
                self._set(result, FILTERED, "no-response")
            # nmap's congestion control: a lost probe halves the window.
            self.cwnd = max(float(MIN_WINDOW), self.cwnd / 2)
        self._queue.extendleft(reversed(retries))  # retried first, in their order

    def _rtt_sample(self, rtt_ns: int) -> None:
        # RFC 6298 §2 (what nmap's adjust_timeouts2 does with its own constants).
        if self.srtt_ns is None:
            self.srtt_ns, self.rttvar_ns = float(rtt_ns), rtt_ns / 2
        else:
            self.rttvar_ns = 0.75 * self.rttvar_ns + 0.25 * abs(self.srtt_ns - rtt_ns)
            self.srtt_ns = 0.875 * self.srtt_ns + 0.125 * rtt_ns

    def _answered(self) -> None:
        self._inflight -= 1
        self.cwnd = min(float(MAX_WINDOW), self.cwnd + 1)

    def _on_icmp(self, a: Answer, now: int) -> None:
        assert a.icmp is not None
        icmp_type, code, q_src, q_dst, q_sport, q_dport = a.icmp
        if (q_src, q_dst, q_sport) != (self.src, self.dst, self.sport):
            return
        result = self.results.get(q_dport)
        if result is None or result.state or result.tries == 0:
            return
        if icmp_type != (3 if self.family == 4 else 1) or (self.family == 4 and code == 4):
            return  # time exceeded, fragmentation needed: not an answer about the port
        from netlab.core.echo import error_reason

        self.received += 1
        self._answered()
        detail = f"{error_reason(self.family, icmp_type, code)} from {a.src}"
        self._set(result, FILTERED, icmp_reason(self.family, code), None, detail)
        self._check_done(now)

    def _set(self, result: PortResult, state: str, reason: str, rtt: float | None = None,
             detail: str = "") -> None:  # fmt: skip
        result.state, result.reason, result.rtt_ms, result.detail = state, reason, rtt, detail
        self._events.append(ScanEvent(result.port, state, reason))

    def _check_done(self, now: int) -> None:
        if not self._queue and self._oldest() is None:
            self._finished = True
            self.end_ns = now
