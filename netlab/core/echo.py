"""ICMP/ICMPv6 echo, sans-I/O: the logic of `netlab ping` with time passed in.

Fed frames and the time (integer ns) by the runner, it decides when to send the
next echo request, matches replies by (identifier, sequence, source), and turns
everything into events: Reply (with duplicates and late replies marked),
Timeout, IcmpError (any error quoting one of our requests, by name, with the
router that sent it), LocalError (the kernel refused a send, e.g. over the MTU
with DF) and a Summary per target. Nothing here opens a socket or reads a clock,
so tests drive it with fake time and hand-made frames.

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
    reason: str
    mtu: int | None = None
    type: str = "error"


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


class EchoCore(CoreBase):
    def __init__(
        self,
        targets: list[Target],
        *,
        ident: int,
        count: int,
        interval: float = 1.0,
        size: int = 56,
        ttl: int = 64,
        df: bool = False,
        timeout: float = 10.0,
        deadline: float | None = None,
    ) -> None:
        self.targets = targets
        self.ident = ident & 0xFFFF
        self.count = count
        self.interval_ns = int(interval * NS)
        self.size = size
        self.ttl = ttl
        self.df = df
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
        self._next_seq = 1
        self._next_send_ns: int | None = None
        self._end_ns: int | None = None  # -w: the whole run ends here
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
        return self._send_round(now)

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
        return self._check_done(now)

    def on_timer(self, now: int) -> list[Send]:
        sends = []
        if self._end_ns is not None and now >= self._end_ns:
            self._expire_all(now, final=True)
            self._finish(now)
            return []
        self._expire(now)
        if self._next_send_ns is not None and now >= self._next_send_ns:
            sends = self._send_round(now)
        return sends + self._check_done(now)

    def on_send_error(self, send: Send, err: OSError, now: int) -> list[Send]:
        addr, seq = send.tag
        state = self.states[addr]
        state.errors += 1
        probe = state.probes.get(seq)
        if probe is not None:
            probe.failed = True
        reason = err.strerror or str(err)
        if err.errno == 90:  # EMSGSIZE: over the interface or the learnt path MTU, DF set
            mtu = self.path_mtu(state.target.addr) if self.path_mtu else None
            reason = f"message too long, mtu={mtu}" if mtu else "message too long (DF is set)"
        self._events.append(LocalError(state.target.name, seq, reason))
        return self._check_done(now)  # the last probe may have failed: the summary is due

    def deadline(self) -> int | None:
        if self._finished:
            return None
        times = [t for t in (self._next_send_ns, self._end_ns) if t is not None]
        for state in self.states.values():
            for probe in state.probes.values():
                if not (probe.replied or probe.timed_out or probe.failed):
                    times.append((probe.tx_ns or probe.sent_ns) + self.timeout_ns)
        return min(times) if times else None

    # --- sending ----------------------------------------------------------------------
    def _send_round(self, now: int) -> list[Send]:
        seq = self._next_seq
        if seq > self.count:
            self._next_send_ns = None
            return []
        sends = []
        for state in self.states.values():
            t = state.target
            state.probes[seq] = _Probe(seq, now)
            state.sent += 1
            _prune(state)
            if state.first_ns is None:
                state.first_ns = now
            state.last_ns = now
            data = build_echo_request(t, self.ident, seq, self.size, self.ttl, self.df, now)
            mtu = self._mtu[t.addr]
            pieces = [data]
            if mtu and len(data) > mtu and not self.df:
                pieces = fragment(data, t.family, mtu, (self.ident + seq) & 0xFFFF)
            sends += [Send(p, dest=t.addr, family=t.family, tag=(t.addr, seq)) for p in pieces]
        self._next_seq += 1
        self._next_send_ns = now + self.interval_ns if self._next_seq <= self.count else None
        return sends

    # --- receiving --------------------------------------------------------------------
    def _handle(self, p: _Parsed, ts_ns: int) -> None:
        family = p.family
        if p.icmp_type == ECHO_REQUEST[family] and p.ident == self.ident:
            state = self.states.get(p.dst)
            probe = state.probes.get(p.seq) if state else None
            if probe is not None and probe.tx_ns is None:
                probe.tx_ns = ts_ns  # our own request, seen leaving: the kernel send time
            return
        if p.icmp_type == ECHO_REPLY[family] and p.ident == self.ident:
            self._on_reply(p, ts_ns)
            return
        if p.icmp_type in ERRORS[family] and p.quoted is not None:
            self._on_error(p)

    def _on_reply(self, p: _Parsed, ts_ns: int) -> None:
        state = self.states.get(p.src)
        if state is None:
            return  # a reply from someone we did not ping (or a spoof): not ours
        probe = state.probes.get(p.seq)
        if probe is None:
            return
        sent = probe.tx_ns if probe.tx_ns is not None else probe.sent_ns
        rtt_ms = (ts_ns - sent) / 1e6
        reply = Reply(state.target.name, p.seq, p.src, p.ttl, p.icmp_len, rtt_ms)
        if probe.replied:
            reply.duplicate = True
            state.duplicates += 1
        elif probe.timed_out:
            reply.late = True  # already reported as a timeout: shown, not counted
        else:
            probe.replied = True
            state.received += 1
            _add_rtt(state, rtt_ms)
        self._events.append(reply)

    def _on_error(self, p: _Parsed) -> None:
        q_dst, q_type, q_ident, q_seq = p.quoted
        if q_type != ECHO_REQUEST[p.family] or q_ident != self.ident:
            return
        state = self.states.get(q_dst)
        if state is None or q_seq not in state.probes:
            return
        state.errors += 1
        state.probes[q_seq].failed = True
        reason = error_reason(p.family, p.icmp_type, p.icmp_code)
        mtu = p.mtu if (p.family, p.icmp_type, p.icmp_code) in ((4, 3, 4), (6, 2, 0)) else None
        if mtu and self._mtu[q_dst] and mtu < self._mtu[q_dst]:
            self._mtu[q_dst] = max(mtu, 1280 if p.family == 6 else 68)  # the next ones fit
        self._events.append(
            IcmpError(state.target.name, q_seq, p.src, p.icmp_type, p.icmp_code, reason, mtu)
        )

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
        if self._finished or self._next_send_ns is not None:
            return []
        for state in self.states.values():
            if state.sent < self.count and self._end_ns is None:
                return []
            for probe in state.probes.values():
                if not (probe.replied or probe.timed_out or probe.failed):
                    return []
        self._finish(now)
        return []

    def _finish(self, now: int) -> None:
        self._finished = True
        for state in self.states.values():
            self._events.append(summarise(state, now))


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


# --- building requests (Scapy) ----------------------------------------------------------
def echo_payload(size: int, now_ns: int) -> bytes:
    """iputils' layout: a struct timeval of the send time, then bytes counting up."""
    stamp = _TIMEVAL.pack(now_ns // NS, now_ns % NS // 1000) if size >= 16 else b""
    return (stamp + bytes(i & 0xFF for i in range(len(stamp), size)))[:size]


def build_echo_request(
    t: Target, ident: int, seq: int, size: int, ttl: int, df: bool, now_ns: int
) -> bytes:
    payload = echo_payload(size, now_ns)
    if t.family == 4:
        from scapy.layers.inet import ICMP, IP

        ip = IP(src=t.src or None, dst=t.addr, ttl=ttl, flags="DF" if df else 0)
        return bytes(ip / ICMP(type=8, id=ident, seq=seq) / payload)
    from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6

    return bytes(IPv6(src=t.src or None, dst=t.addr, hlim=ttl)
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
    mtu = None
    if family == 4 and icmp_type == 3:
        mtu = seq  # "fragmentation needed" carries the next-hop MTU in the low word
    elif family == 6 and icmp_type == 2:
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
