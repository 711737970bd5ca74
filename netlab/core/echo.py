"""ICMP/ICMPv6 echo, sans-I/O: the logic of `netlab ping` with time passed in.

Fed frames and the time (integer ns) by the runner, it decides when to send the
next echo request, matches replies by (identifier, sequence, source), and turns
everything into events: Reply (with duplicates and late replies marked),
Timeout, IcmpError (any error quoting one of our requests, by name, with the
router that sent it, in iputils' words), LocalError (the kernel refused a send,
e.g. over the MTU with DF) and a Summary per target. Nothing here opens a socket
or reads a clock, so tests drive it with fake time and hand-made frames.

Pacing and ending follow iputils' ping_common.c: a token bucket of `interval`
with `preload` requests in advance (-l), flood (-f: a request as soon as the
last is answered, at least 100 a second), adaptive (-A: the interval follows the
smoothed round trip), "no answer yet" before each request (-O), no count: run
until stopped; with a count, the end is count answers (replies + errors), or
the linger after the last request; with -w, requests go on until count answers,
and the first error ends the run.

RTT is kernel to kernel: the send time is the capture timestamp of our own
request leaving the interface, the receive time the reply's capture timestamp.
The time written into the payload (as iputils does) is only a fallback.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

from netlab.core.base import NS, CoreBase, Send
from netlab.dissect.icmp import code_name as icmp_code_name
from netlab.dissect.icmp import type_name as icmp_type_name
from netlab.dissect.icmpv6 import ICMPV6_TYPES
from netlab.wire.fragments import Reassembler, fragment
from netlab.wire.link import LinkFrame, ip_header, ip_start

ECHO_REQUEST = {4: 8, 6: 128}
ECHO_REPLY = {4: 0, 6: 129}
ERRORS = {4: (3, 4, 5, 11, 12), 6: (1, 2, 3, 4)}
ICMP_PROTO = {4: 1, 6: 58}
_TIMEVAL = struct.Struct("<qq")  # struct timeval on 64-bit Linux, as iputils writes it


@dataclass
class Target:
    name: str  # as the user typed it
    addr: str
    family: int
    src: str  # our source address towards it (from the route)
    # Raw sockets only: requests bigger than this are sent as fragments (the kernel
    # does not fragment a packet we hand it whole). None: never fragment.
    mtu: int | None = None
    # The interface's MTU: above it the kernel itself refuses a DF request (EMSGSIZE);
    # below it, a smaller path MTU is ours to enforce with -M do, as the kernel does for
    # iputils' sockets (a raw socket that writes its own header is not checked).
    link_mtu: int | None = None


# --- events -----------------------------------------------------------------------------
@dataclass
class Reply:
    target: str
    seq: int
    src: str
    ttl: int
    size: int  # ICMP bytes (header + payload), as iputils' "64 bytes from"
    rtt_ms: float
    duplicate: bool = False
    late: bool = False
    type: str = "reply"


@dataclass
class Timeout:
    target: str
    seq: int
    type: str = "timeout"


@dataclass
class IcmpError:
    target: str
    seq: int
    src: str  # the router (or host) that sent the error
    icmp_type: int
    icmp_code: int
    reason: str  # the dissector's names ("Destination unreachable (Host unreachable)")
    mtu: int | None = None
    message: str = ""  # iputils' words ("Destination Host Unreachable")
    type: str = "error"


@dataclass
class Outstanding:
    """-O: the last request is still unanswered as the next one goes (iputils' "no
    answer yet for icmp_seq=N")."""

    target: str
    seq: int
    type: str = "outstanding"


@dataclass
class Sent:
    """Flood only (-f): a request went out (iputils prints a dot)."""

    target: str
    seq: int
    type: str = "sent"


@dataclass
class LocalError:
    target: str
    seq: int
    reason: str
    type: str = "local_error"


@dataclass
class Summary:
    target: str
    addr: str
    transmitted: int
    received: int
    duplicates: int
    errors: int
    loss_pct: float
    time_ms: float
    rtt_min_ms: float | None
    rtt_avg_ms: float | None
    rtt_max_ms: float | None
    rtt_mdev_ms: float | None
    pipe: int = 1  # most requests in flight at once (iputils' "pipe N" when above 1)
    ipg_ms: float | None = None  # flood / adaptive: mean gap between requests
    ewma_ms: float | None = None  # and the smoothed round trip (iputils' "ipg/ewma")
    type: str = "summary"


# --- state per target ------------------------------------------------------------------
@dataclass
class _Probe:
    seq: int
    sent_ns: int  # our clock when we asked for the send
    tx_ns: int | None = None  # kernel timestamp of the request leaving
    replied: bool = False
    timed_out: bool = False
    failed: bool = False


@dataclass
class _State:
    target: Target
    # The probes still awaited, and the latest KEEP_RESOLVED answered or given up (to
    # tell a duplicate or a late reply from a stray one): memory stays flat over a long
    # run, as iputils' (a reply table, not a list that grows).
    probes: dict[int, _Probe] = field(default_factory=dict)
    sent: int = 0
    received: int = 0
    rtt_n: int = 0
    rtt_sum: float = 0.0
    rtt_sum2: float = 0.0
    rtt_min: float | None = None
    rtt_max: float | None = None
    duplicates: int = 0
    errors: int = 0
    first_ns: int | None = None
    last_ns: int | None = None
    acked: int = 0  # the newest sequence answered (reply or error): what is in flight
    pipe: int = 1


MIN_INTERVAL_NS = 10_000_000  # iputils' MININTERVAL: an unanswered flood slows to 100/s
SEND_BURST = 1024  # requests one call may send at most (a preload burst), as a bound
PMTUDISC = ("do", "want", "dont", "probe")


class EchoCore(CoreBase):
    def __init__(
        self,
        targets: list[Target],
        *,
        ident: int,
        count: int | None,
        interval: float = 1.0,
        size: int = 56,
        ttl: int = 64,
        df: bool = False,
        timeout: float = 10.0,
        deadline: float | None = None,
        pmtudisc: str | None = None,
        tos: int = 0,
        pattern: bytes | None = None,
        preload: int = 1,
        flood: bool = False,
        adaptive: bool = False,
        outstanding: bool = False,
        broadcast: bool = False,
        min_interval: float = 0.0,
    ) -> None:
        self.targets = targets
        self.ident = ident & 0xFFFF
        self.count = count  # None: until stopped
        self.interval_ns = int(interval * NS)
        self.size = size
        self.ttl = ttl
        # -M: "want" is Linux's default for iputils' sockets (DF when the path MTU allows).
        self.pmtudisc = pmtudisc or ("do" if df or broadcast else "want")
        if self.pmtudisc not in PMTUDISC:
            raise ValueError(f"pmtudisc {self.pmtudisc!r}")
        self.df = self.pmtudisc != "dont"
        self.tos = tos
        self.pattern = pattern
        self.preload = max(1, preload)
        self.flood = flood
        self.adaptive = adaptive
        self.outstanding = outstanding
        self.broadcast = broadcast  # replies come from hosts other than the target
        self.min_interval_ns = int(min_interval * NS)  # -A's floor without root (iputils)
        self.timeout_ns = int(timeout * NS)
        self.deadline_s = deadline
        self.states = {t.addr: _State(t) for t in targets}
        self._mtu = {t.addr: t.mtu for t in targets}  # lowered by "packet too big"
        self._reassembler = Reassembler()
        # Set by the command: asks the kernel which path MTU it learnt for a target (as
        # iputils' "local error: message too long, mtu=1400"). A callable keeps I/O out.
        self.path_mtu = None
        super().__init__()
        self._start_ns = 0
        self._end_ns: int | None = None  # -w: the whole run ends here
        self._sent_rounds = 0  # iputils' ntransmitted (one round: one request per target)
        self._next_send_ns: int | None = None
        self._bucket_ns: int | None = None  # iputils' cur_time: last time tokens were taken
        self._tokens_ns = 0
        self._rtt8_us = 0  # iputils' rtt: 8 x the smoothed round trip, in µs
        self._linger_end_ns: int | None = None  # after the last request: when to give up
        # Every ICMP message: our own requests leaving (their kernel send time), the
        # replies, and errors that quote a request. The core sorts them out.
        # IPv6 fragments carry next header 44, not ICMPv6: asked for by number.
        families = {t.family for t in targets}
        self.capture_filter = " or ".join(
            name for fam, name in ((4, "icmp"), (6, "icmp6 or (ip6 and ip6[6] == 44)"))
            if fam in families
        )  # fmt: skip

    # --- runner interface -------------------------------------------------------------
    def start(self, now: int) -> list[Send]:
        self._start_clock(now, self.deadline_s)
        return self._pinger(now)

    def on_packet(self, frame: LinkFrame, now: int) -> list[Send]:
        found = _ip_packet(frame)
        if found is not None:
            family, packet = found
            whole = self._reassembler.feed(family, packet, frame.ts_ns)
            if whole is not None:  # a whole datagram (not a fragment still waiting)
                packet, first_ns, last_ns = whole
                parsed = _parse_ip(family, packet)
                if parsed is not None:
                    # A request leaves with its first fragment; a reply is in at its last.
                    ours = parsed.icmp_type == ECHO_REQUEST[family]
                    self._handle(parsed, first_ns if ours else last_ns)
        done = self._check_done(now)
        # A flood sends as soon as an answer comes in; an adaptive run's interval has
        # just changed with it (iputils' pinger runs again after every reply).
        if (
            not self._finished
            and self._next_send_ns is not None
            and (self._fast() or self.adaptive)
        ):
            return self._pinger(now)
        return done

    def on_timer(self, now: int) -> list[Send]:
        sends = []
        if self._end_ns is not None and now >= self._end_ns:
            self._expire_all(now, final=True)
            self._finish(now)
            return []
        if self._linger_end_ns is not None and now >= self._linger_end_ns:
            self._expire_all(now, final=True)  # iputils' exit timer after the last request
            self._finish(now)
            return []
        self._expire(now)
        if self._next_send_ns is not None and now >= self._next_send_ns:
            sends = self._pinger(now)
        return sends + self._check_done(now)

    def on_send_error(self, send: Send, err: OSError, now: int) -> list[Send]:
        addr, seq = send.tag
        state = self.states[addr]
        probe = state.probes.get(seq)
        if probe is not None:
            if probe.failed:
                return []  # one error per request, not one per fragment
            probe.failed = True
        reason = f"sendmsg: {err.strerror or err}"
        if err.errno == 90:  # EMSGSIZE: over the interface or the learnt path MTU, DF set
            # iputils counts this one (the kernel queues it as a local error), not others.
            state.errors += 1
            mtu = self.path_mtu(state.target.addr) if self.path_mtu else None
            reason = _too_long(state.target.family, mtu)
        self._events.append(LocalError(state.target.name, seq, reason))
        return self._check_done(now)  # the last probe may have failed: the summary is due

    def deadline(self) -> int | None:
        if self._finished:
            return None
        times = [t for t in (self._next_send_ns, self._end_ns, self._linger_end_ns)
                 if t is not None]  # fmt: skip
        for state in self.states.values():
            for probe in state.probes.values():
                if not (probe.replied or probe.timed_out or probe.failed):
                    times.append((probe.tx_ns or probe.sent_ns) + self.timeout_ns)
        return min(times) if times else None

    # --- sending (iputils' pinger) ------------------------------------------------------
    def _more_to_send(self) -> bool:
        # With -w, requests go on past the count until count answers are in (iputils).
        return self.count is None or self._sent_rounds < self.count or self.deadline_s is not None

    def _interval_now(self) -> int:
        if not self.adaptive or not self._rtt8_us:
            return self.interval_ns
        # iputils' update_interval: the smoothed round trip, rounded to the millisecond.
        ms = (self._rtt8_us // 8 + 500) // 1000
        return max(ms * 1_000_000, self.min_interval_ns)

    def _fast(self) -> bool:
        return self._interval_now() == 0

    def _in_flight(self) -> int:
        return max(((self._sent_rounds - s.acked) & 0xFFFF) for s in self.states.values())

    def _wait_ns(self, now: int) -> int:
        """0 when a request may go now, else how long until it may (iputils' tokens)."""
        interval = self._interval_now()
        if self._bucket_ns is None:
            self._bucket_ns = now
            self._tokens_ns = interval * (self.preload - 1)
            return 0
        elapsed = now - self._bucket_ns
        if interval == 0 and elapsed < MIN_INTERVAL_NS and self._in_flight() >= self.preload:
            return MIN_INTERVAL_NS - elapsed  # an unanswered flood: 100 a second
        tokens = min(elapsed + self._tokens_ns, interval * self.preload)
        if tokens < interval:
            return interval - tokens
        self._bucket_ns = now
        self._tokens_ns = tokens - interval
        return 0

    def _pinger(self, now: int) -> list[Send]:
        sends: list[Send] = []
        self._next_send_ns = None
        for _ in range(SEND_BURST):
            if self._finished or not self._more_to_send():
                break
            wait = self._wait_ns(now)
            if wait > 0:
                self._next_send_ns = now + wait
                break
            sends += self._send_round(now)
            self._check_done(now)  # a local error may have been the count's last answer
        if not self._finished and not self._more_to_send() and self._linger_end_ns is None:
            self._linger_end_ns = now + self._linger_ns()
        if self._next_send_ns is None and self._more_to_send() and not self._finished:
            self._next_send_ns = now  # the burst bound: go on at the next turn
        return sends

    def _linger_ns(self) -> int:
        """iputils' schedule_exit: after the last request, wait twice the longest round
        trip (at least one interval) if anything answered, else the -W time."""
        if any(s.received for s in self.states.values()):
            longest = max((s.rtt_max or 0.0) for s in self.states.values())
            return max(int(2 * longest * 1e6), self.interval_ns)
        return self.timeout_ns

    def _send_round(self, now: int) -> list[Send]:
        self._sent_rounds += 1
        seq = self._sent_rounds & 0xFFFF
        sends = []
        for state in self.states.values():
            t = state.target
            if self.outstanding and self._sent_rounds > 1:
                last = state.probes.get((seq - 1) & 0xFFFF)
                if last is not None and not last.replied:
                    self._events.append(Outstanding(t.name, last.seq))
            state.probes[seq] = _Probe(seq, now)
            state.sent += 1
            _prune(state)
            if state.first_ns is None:
                state.first_ns = now
            state.last_ns = now
            sends += self._request(state, seq, now)
        return sends

    def _request(self, state: _State, seq: int, now: int) -> list[Send]:
        t = state.target
        mtu = self._mtu[t.addr]
        payload = echo_payload(self.size, now, self.pattern)
        length = self.size + 8 + (20 if t.family == 4 else 40)
        if self.pmtudisc == "do" and mtu and length > mtu and mtu < (t.link_mtu or mtu):
            # What the kernel says to iputils once it knows the path MTU: not sent.
            state.errors += 1
            state.probes[seq].failed = True
            self._events.append(LocalError(t.name, seq, _too_long(t.family, mtu)))
            return []
        df = self.df and not (self.pmtudisc in ("want", "dont") and mtu and length > mtu)
        data = build_echo_request(t, self.ident, seq, self.size, self.ttl, df, now,
                                  tos=self.tos, payload=payload)  # fmt: skip
        if self.flood:
            self._events.append(Sent(t.name, seq))
        pieces = [data]
        if mtu and len(data) > mtu and not df:
            pieces = fragment(data, t.family, mtu, (self.ident + seq) & 0xFFFF)
        return [Send(p, dest=t.addr, family=t.family, tag=(t.addr, seq)) for p in pieces]

    # --- receiving --------------------------------------------------------------------
    def _handle(self, p: _Parsed, ts_ns: int) -> None:
        family = p.family
        if p.icmp_type == ECHO_REQUEST[family] and p.ident == self.ident:
            state = self.states.get(p.dst)
            probe = state.probes.get(p.seq) if state else None
            if probe is not None and probe.tx_ns is None:
                probe.tx_ns = ts_ns  # our own request, seen leaving: the kernel send time
                if self._bucket_ns is not None and self._interval_now() == 0:
                    # A flood's 10 ms wait for an answer counts from the request leaving,
                    # not from building it (Scapy's first packet is slow).
                    self._bucket_ns = max(self._bucket_ns, ts_ns)
            return
        if p.icmp_type == ECHO_REPLY[family] and p.ident == self.ident:
            self._on_reply(p, ts_ns)
            return
        if p.icmp_type in ERRORS[family] and p.quoted is not None:
            self._on_error(p)

    def _acknowledge(self, state: _State, seq: int) -> None:
        """iputils' acknowledge(): the pipe (requests in flight) and the newest answered."""
        diff = (self._sent_rounds - seq) & 0xFFFF
        if diff <= 0x7FFF:
            state.pipe = max(state.pipe, diff + 1)
            if ((seq - state.acked) & 0xFFFF) - 1 < 0x7FFF:
                state.acked = seq

    def _on_reply(self, p: _Parsed, ts_ns: int) -> None:
        state = self.states.get(p.src)
        if state is None and self.broadcast and len(self.states) == 1:
            state = next(iter(self.states.values()))  # any host on the segment answers
        if state is None:
            return  # a reply from someone we did not ping (or a spoof): not ours
        probe = state.probes.get(p.seq)
        if probe is None:
            return
        sent = probe.tx_ns if probe.tx_ns is not None else probe.sent_ns
        rtt_ms = (ts_ns - sent) / 1e6
        reply = Reply(state.target.name, p.seq, p.src, p.ttl, p.icmp_len, rtt_ms)
        self._acknowledge(state, p.seq)
        if probe.replied:
            reply.duplicate = True
            state.duplicates += 1
        elif probe.timed_out:
            reply.late = True  # already reported as a timeout: shown, not counted
        else:
            probe.replied = True
            state.received += 1
            _add_rtt(state, rtt_ms)
            self._smooth(rtt_ms)
        self._events.append(reply)

    def _smooth(self, rtt_ms: float) -> None:
        """iputils' rtt: an exponentially weighted mean (1/8) of the round trip, in µs."""
        us = int(rtt_ms * 1000)
        self._rtt8_us = us * 8 if not self._rtt8_us else self._rtt8_us + us - self._rtt8_us // 8

    def _on_error(self, p: _Parsed) -> None:
        q_dst, q_type, q_ident, q_seq = p.quoted
        if q_type != ECHO_REQUEST[p.family] or q_ident != self.ident:
            return
        state = self.states.get(q_dst)
        if state is None or q_seq not in state.probes:
            return
        if p.family == 4 and p.icmp_type in (4, 5):
            return  # source quench and redirect are advice, not errors (iputils)
        state.errors += 1
        state.probes[q_seq].failed = True
        self._acknowledge(state, q_seq)
        reason = error_reason(p.family, p.icmp_type, p.icmp_code)
        mtu = p.mtu if (p.family, p.icmp_type, p.icmp_code) in ((4, 3, 4), (6, 2, 0)) else None
        if mtu and self._mtu[q_dst] and mtu < self._mtu[q_dst]:
            self._mtu[q_dst] = max(mtu, 1280 if p.family == 6 else 68)  # the next ones fit
        message = iputils_error(p.family, p.icmp_type, p.icmp_code, p.mtu or 0)
        self._events.append(IcmpError(state.target.name, q_seq, p.src, p.icmp_type,
                                      p.icmp_code, reason, mtu, message))  # fmt: skip

    # --- timeouts and the end ---------------------------------------------------------
    def _expire(self, now: int) -> None:
        for state in self.states.values():
            for probe in state.probes.values():
                if probe.replied or probe.timed_out or probe.failed:
                    continue
                if now >= (probe.tx_ns or probe.sent_ns) + self.timeout_ns:
                    probe.timed_out = True
                    self._events.append(Timeout(state.target.name, probe.seq))

    def _expire_all(self, now: int, final: bool) -> None:
        for state in self.states.values():
            for probe in state.probes.values():
                if not (probe.replied or probe.timed_out or probe.failed):
                    probe.timed_out = True
                    self._events.append(Timeout(state.target.name, probe.seq))

    def _check_done(self, now: int) -> list[Send]:
        if self._finished:
            return []
        states = self.states.values()
        if self.count is not None and all(s.received + s.errors >= self.count for s in states):
            self._expire_all(now, final=True)
            self._finish(now)  # iputils: count answers (replies and errors) end the run
            return []
        if self.deadline_s is not None and any(s.errors for s in states):
            self._expire_all(now, final=True)
            self._finish(now)  # iputils: with -w, the first error ends the run
            return []
        if self._more_to_send():
            return []
        for state in states:
            for probe in state.probes.values():
                if not (probe.replied or probe.timed_out or probe.failed):
                    return []
        self._finish(now)
        return []

    def _finish(self, now: int) -> None:
        self._finished = True
        self._next_send_ns = None
        adaptive_like = self.flood or self.adaptive or self.interval_ns == 0
        for state in self.states.values():
            summary = summarise(state, now)
            summary.pipe = state.pipe
            if adaptive_like and state.received and state.sent > 1:
                summary.ipg_ms = summary.time_ms / (state.sent - 1)
                summary.ewma_ms = self._rtt8_us / 8000
            self._events.append(summary)


def _too_long(family: int, mtu: int | None) -> str:
    """iputils' local error for a request over the MTU with DF (its words per family)."""
    if not mtu:
        return "message too long (DF is set)"
    return f"message too long, mtu={mtu}" if family == 4 else f"message too long, mtu: {mtu}"


KEEP_RESOLVED = 256


def _prune(state: _State) -> None:
    """Forget the oldest answered or given-up probes beyond KEEP_RESOLVED."""
    excess = len(state.probes) - KEEP_RESOLVED
    if excess <= 0:
        return
    for seq in list(state.probes)[: excess + 8]:
        probe = state.probes[seq]
        if probe.replied or probe.timed_out or probe.failed:
            del state.probes[seq]
            excess -= 1
            if excess <= 0:
                return


def _add_rtt(state: _State, rtt_ms: float) -> None:
    """Running sums: min/avg/max/mdev without keeping every round trip."""
    state.rtt_n += 1
    state.rtt_sum += rtt_ms
    state.rtt_sum2 += rtt_ms * rtt_ms
    state.rtt_min = rtt_ms if state.rtt_min is None else min(state.rtt_min, rtt_ms)
    state.rtt_max = rtt_ms if state.rtt_max is None else max(state.rtt_max, rtt_ms)


def summarise(state: _State, now: int) -> Summary:
    sent, got = state.sent, state.received
    loss = 100.0 * (sent - got) / sent if sent else 0.0
    # iputils reports time from the first send to the last one.
    span = ((state.last_ns or 0) - (state.first_ns or 0)) / 1e6 if sent else 0.0
    if state.rtt_n:
        avg = state.rtt_sum / state.rtt_n
        mdev = math.sqrt(max(0.0, state.rtt_sum2 / state.rtt_n - avg * avg))
        stats = (state.rtt_min, avg, state.rtt_max, mdev)
    else:
        stats = (None, None, None, None)
    t = state.target
    return Summary(t.name, t.addr, sent, got, state.duplicates, state.errors, loss, span, *stats)


def error_reason(family: int, icmp_type: int, code: int) -> str:
    if family == 4:
        name = icmp_type_name(icmp_type)
        cname = icmp_code_name(icmp_type, code)
    else:
        name, codes = ICMPV6_TYPES.get(icmp_type, (f"ICMPv6 type {icmp_type}", {}))
        cname = codes.get(code)
    return f"{name} ({cname})" if cname else name


# iputils' words for ICMP errors (ping.c pr_icmph, ping6_common.c print_icmp).
_UNREACH4 = {
    0: "Destination Net Unreachable", 1: "Destination Host Unreachable",
    2: "Destination Protocol Unreachable", 3: "Destination Port Unreachable",
    4: "Frag needed and DF set (mtu = {info})", 5: "Source Route Failed",
    6: "Destination Net Unknown", 7: "Destination Host Unknown", 8: "Source Host Isolated",
    9: "Destination Net Prohibited", 10: "Destination Host Prohibited",
    11: "Destination Net Unreachable for Type of Service",
    12: "Destination Host Unreachable for Type of Service", 13: "Packet filtered",
    14: "Precedence Violation", 15: "Precedence Cutoff",
}  # fmt: skip
_UNREACH6 = {
    0: "No route", 1: "Administratively prohibited", 2: "Beyond scope of source address",
    3: "Address unreachable", 4: "Port unreachable",
    5: "Source address failed ingress/egress policy", 6: "Reject route to destination",
}  # fmt: skip


def iputils_error(family: int, icmp_type: int, code: int, info: int = 0) -> str:
    """The text iputils ping prints after "From X icmp_seq=N " for this ICMP error.
    INFO: the 32 bits after the checksum (next-hop MTU, pointer)."""
    if family == 4:
        if icmp_type == 3:
            return _UNREACH4.get(code, "Dest Unreachable, Bad Code: {code}").format(
                info=info & 0xFFFF, code=code
            )
        if icmp_type == 11:
            return {0: "Time to live exceeded", 1: "Frag reassembly time exceeded"}.get(
                code, f"Time exceeded, Bad Code: {code}"
            )
        if icmp_type == 12:
            return f"Parameter problem: pointer = {info >> 24}"
        return {4: "Source Quench", 5: "Redirect"}.get(icmp_type, f"Bad ICMP type: {icmp_type}")
    if icmp_type == 1:
        return "Destination unreachable: " + _UNREACH6.get(code, f"Unknown code {code}")
    if icmp_type == 2:
        return f"Packet too big: mtu={info}" + (f", code={code}" if code else "")
    if icmp_type == 3:
        return "Time exceeded: " + {0: "Hop limit", 1: "Defragmentation failure"}.get(
            code, f"code {code}"
        )
    if icmp_type == 4:
        what = {0: "Wrong header field ", 1: "Unknown header ", 2: "Unknown option "}
        return f"Parameter problem: {what.get(code, f'code {code} ')}at {info}"
    return f"unknown icmp type: {icmp_type}"


# --- building requests (Scapy) ----------------------------------------------------------
def echo_payload(size: int, now_ns: int, pattern: bytes | None = None) -> bytes:
    """iputils' layout: a struct timeval of the send time, then bytes counting up, or
    PATTERN (-p) repeated from the payload's first byte (the timeval written over it)."""
    stamp = _TIMEVAL.pack(now_ns // NS, now_ns % NS // 1000) if size >= 16 else b""
    if pattern:
        fill = (pattern * (size // len(pattern) + 1))[:size]
        return (stamp + fill[len(stamp) :])[:size]
    return (stamp + bytes(i & 0xFF for i in range(len(stamp), size)))[:size]


def build_echo_request(
    t: Target, ident: int, seq: int, size: int, ttl: int, df: bool, now_ns: int,
    *, tos: int = 0, payload: bytes | None = None,
) -> bytes:  # fmt: skip
    """TOS: -Q, the IPv4 type of service or the IPv6 traffic class."""
    if payload is None:
        payload = echo_payload(size, now_ns)
    if t.family == 4:
        from scapy.layers.inet import ICMP, IP

        ip = IP(src=t.src or None, dst=t.addr, ttl=ttl, tos=tos, flags="DF" if df else 0)
        return bytes(ip / ICMP(type=8, id=ident, seq=seq) / payload)
    from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6

    return bytes(IPv6(src=t.src or None, dst=t.addr, hlim=ttl, tc=tos)
                 / ICMPv6EchoRequest(id=ident, seq=seq, data=payload))  # fmt: skip


# --- parsing what comes back (struct, no Scapy: fast and never raising) ---------------------
@dataclass
class _Parsed:
    family: int
    src: str
    dst: str
    ttl: int
    icmp_type: int
    icmp_code: int
    ident: int
    seq: int
    icmp_len: int
    mtu: int | None
    quoted: tuple[str, int, int, int] | None  # (dst, type, ident, seq) of the quoted request


def _ip_packet(frame: LinkFrame) -> tuple[int, bytes] | None:
    """(IP version, the packet from its IP header on) of an Ethernet or raw IP frame."""
    found = ip_start(frame)
    if found is None or len(frame.data) < found[1] + 20:
        return None
    return found[0], frame.data[found[1] :]


def _parse_ip(family: int, packet: bytes) -> _Parsed | None:
    try:
        return _parse(family, packet)
    except (IndexError, struct.error, ValueError):
        return None


def _parse(family: int, data: bytes) -> _Parsed | None:
    ip = ip_header(data, 0, family)
    if ip.proto != ICMP_PROTO[family]:  # IPv6: extension headers first: not one of ours
        return None
    p = ip.payload
    icmp_type, code = data[p], data[p + 1]
    ident, seq = struct.unpack_from("!HH", data, p + 4)
    mtu = None  # the 32 bits after the checksum of an error: next-hop MTU, pointer
    if family == 4 and icmp_type == 3:
        mtu = seq  # "fragmentation needed" carries the next-hop MTU in the low word
    elif icmp_type in ERRORS[family]:
        mtu = struct.unpack_from("!I", data, p + 4)[0]
    quoted = _quoted_echo(data, p + 8, family) if icmp_type in ERRORS[family] else None
    return _Parsed(family, ip.src, ip.dst, ip.ttl, icmp_type, code, ident, seq, ip.length, mtu,
                   quoted)  # fmt: skip


def _quoted_echo(data: bytes, q: int, family: int) -> tuple[str, int, int, int] | None:
    """(dst, ICMP type, identifier, sequence) of the request an ICMP error quotes at Q."""
    quoted = ip_header(data, q)
    qi, q_next = quoted.payload, quoted.proto
    if family == 4 and quoted.frag_offset:
        return None  # a later fragment has no ICMP header
    if family == 6 and q_next == 44:  # a fragmented request: the router quotes its first fragment
        frag_offset = struct.unpack_from("!H", data, qi + 2)[0] & 0xFFF8
        q_next = data[qi] if frag_offset == 0 else None
        qi += 8
    if q_next != ICMP_PROTO[family]:
        return None
    return (quoted.dst, data[qi], *struct.unpack_from("!HH", data, qi + 4))
