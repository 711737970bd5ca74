"""ARP, sans-I/O: the logic of `netlab arp` with time passed in.

Two engines, both fed frames and the time (integer ns) by the runner:

- `ArpingCore` probes one address, like iputils arping. Mode `resolve` asks
  who-has, broadcast first and then unicast to the MAC that answered (arping's
  default; `broadcast_only` keeps broadcasting, and an unanswered unicast probe
  falls back to broadcast, as the kernel's neighbour code does). Mode `dad` is
  RFC 5227's probe (sender IP 0.0.0.0) and stops at the first sign that another
  host has the address: its reply, its own use of it, or its own probe for it.
  Mode `announce` sends gratuitous ARP requests and/or replies (arping -U / -A).
- `ArpScanCore` sweeps many addresses like arp-scan: one packet per pacing
  interval, a per-host timeout that grows by `backoff` with each try, retries
  until the host answers or its tries are used up, and every further answer for
  an address counted as a duplicate ("(DUP: n)").

Requests are built by Scapy (`Ether()/ARP()`); what comes back is parsed with
struct and never raises. Our own requests, seen leaving the interface, give the
kernel's send time stamp, so round trips are kernel to kernel, as in echo.py.
ARP has no sequence number: a reply belongs to the latest request for its address.
"""

from __future__ import annotations

import bisect
import heapq
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from netlab.core.base import CoreBase, Send
from netlab.wire.link import LINKTYPE_ETHERNET, LinkFrame, ethertype

NS = 1_000_000_000
ETH_P_ARP = 0x0806
OP_REQUEST, OP_REPLY = 1, 2
BROADCAST = b"\xff" * 6
ZERO_MAC = b"\x00" * 6
ZERO_IP = b"\x00" * 4
# Pacing is a token bucket: a loop that ran late (the vendor registry loading at the
# first answer, a slow terminal) catches up, at most SCAN_BURST packets back to back
# and at most SCAN_CREDIT_NS of the schedule (and SCAN_CREDIT packets) in all, so the
# average rate holds and a long stall (a suspended laptop) does not turn into a flood.
SCAN_BURST = 16
SCAN_CREDIT = 128
SCAN_CREDIT_NS = 100_000_000
DUP_WAIT_NS = 20_000_000  # after the last probe's answer, listen this long (or 2 RTTs) for DUPs
_ARP = struct.Struct("!HHBBH6s4s6s4s")


# --- addresses ---------------------------------------------------------------------------
def mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", "").replace("-", ""))


def mac_str(mac: bytes) -> str:
    return mac.hex(":")


def ip_str(addr: bytes) -> str:
    return socket.inet_ntoa(addr)


# --- events -------------------------------------------------------------------------------
@dataclass
class ArpReply:
    """An answer: an ARP reply (or, for DAD, any sign that someone has the address)."""

    ip: str  # the sender's protocol address: who answered for which address
    mac: str  # the sender's hardware address, "aa:bb:cc:dd:ee:ff"
    rtt_ms: float | None  # None when no request of ours preceded it
    dup: int = 0  # 0 for the first answer, else its rank (2, 3 …): arp-scan's "(DUP: n)"
    seq: int | None = None  # arping modes: the probe it answers
    broadcast: bool = False  # sent to ff:ff:ff:ff:ff:ff rather than to us
    op: str = "reply"  # "request" when a DAD conflict is someone's request or probe
    target_ip: str = ""  # the packet's target protocol address
    type: str = "reply"


@dataclass
class ArpTimeout:
    ip: str
    seq: int
    type: str = "timeout"


@dataclass
class LocalError:
    ip: str | None
    reason: str
    type: str = "local_error"


@dataclass
class ProbeSummary:
    mode: str  # resolve, dad, announce
    ip: str
    src: str
    sent: int
    broadcasts: int
    received: int  # every answer, duplicates included (arping's "Received")
    answered: int  # probes with at least one answer
    duplicates: int
    errors: int
    time_ms: float
    conflict_mac: str | None = None  # dad: who has the address
    type: str = "summary"


@dataclass
class ScanSummary:
    hosts: int
    responded: int
    replies: int
    duplicates: int
    sent: int
    errors: int
    time_ms: float
    mode: str = "scan"
    type: str = "summary"


# --- parsing (struct: fast, never raises) -----------------------------------------------------
@dataclass(frozen=True, slots=True)
class ArpPacket:
    eth_dst: bytes
    eth_src: bytes
    op: int
    sha: bytes
    spa: bytes
    tha: bytes
    tpa: bytes


def parse_arp(frame: LinkFrame) -> ArpPacket | None:
    """The Ethernet/IPv4 ARP packet in FRAME, or None for anything else or a short frame."""
    data = frame.data
    if frame.linktype != LINKTYPE_ETHERNET or len(data) < 42:
        return None
    etype, off = ethertype(data, frame.linktype)
    if etype != ETH_P_ARP or len(data) < off + _ARP.size:
        return None
    htype, ptype, hlen, plen, op, sha, spa, tha, tpa = _ARP.unpack_from(data, off)
    if htype != 1 or ptype != 0x0800 or hlen != 6 or plen != 4:
        return None
    return ArpPacket(data[0:6], data[6:12], op, sha, spa, tha, tpa)


# --- building (Scapy) ------------------------------------------------------------------------
def build_arp(op: int, eth_dst: bytes, sha: bytes, spa: bytes, tha: bytes, tpa: bytes) -> bytes:
    from scapy.layers.l2 import ARP, Ether

    return bytes(
        Ether(dst=mac_str(eth_dst), src=mac_str(sha))
        / ARP(op=op, hwsrc=mac_str(sha), psrc=ip_str(spa), hwdst=mac_str(tha), pdst=ip_str(tpa))
    )


# --- arping: one address ---------------------------------------------------------------------
@dataclass
class _Probe:
    seq: int
    op: int
    sent_ns: int  # our clock when we asked for the send
    unicast: bool
    tx_ns: int | None = None  # kernel time stamp of the probe leaving
    answers: int = 0


class ArpingCore(CoreBase):
    """arping: resolve one address, check it is free (DAD), or announce it."""

    MODES = ("resolve", "dad", "announce")

    def __init__(
        self,
        *,
        mac: str,
        src: str,
        target: str,
        mode: str = "resolve",
        count: int | None = 3,
        interval: float = 1.0,
        timeout: float = 1.0,
        deadline: float | None = None,
        broadcast_only: bool = False,
        announce: Sequence[str] = ("request",),
        first_reply: bool = False,
    ) -> None:
        if mode not in self.MODES:
            raise ValueError(f"unknown mode {mode!r}")
        if count is None and deadline is None:
            raise ValueError("without a count, a deadline is needed")
        self.mode = mode
        self.me = mac_bytes(mac)
        self.target = target
        self.src = "0.0.0.0" if mode == "dad" else target if mode == "announce" else src
        self._spa = socket.inet_aton(self.src)
        self._tpa = socket.inet_aton(target)
        self.count = count
        self.interval_ns = int(interval * NS)
        self.timeout_ns = int(timeout * NS)
        self.deadline_s = deadline
        self.broadcast_only = broadcast_only or mode != "resolve"
        self.announce_ops = tuple(OP_REPLY if a == "reply" else OP_REQUEST for a in announce)
        self.first_reply = first_reply and mode == "resolve"  # arping -f
        self.capture_filter = "arp"
        self.probes: list[_Probe] = []
        self.learnt: bytes | None = None  # resolve: the MAC later probes are unicast to
        self.sent = self.broadcasts = self.received = self.duplicates = self.errors = 0
        self.conflict: ArpReply | None = None
        super().__init__()
        self._rounds = 0
        self._start_ns = 0
        self._last_send_ns = 0
        self._next_send_ns: int | None = None
        self._end_ns: int | None = None
        self._quiet_ns: int | None = None  # resolve: when the latest probe's DUP window ends

    # --- runner interface -----------------------------------------------------------------
    def start(self, now: int) -> list[Send]:
        self._start_clock(now, self.deadline_s)
        return self._send_round(now)

    def on_packet(self, frame: LinkFrame, now: int) -> list[Send]:
        p = parse_arp(frame)
        if p is not None and not self._finished:
            self._handle(p, frame.ts_ns)
        return self._step(now)

    def on_timer(self, now: int) -> list[Send]:
        return self._step(now)

    def on_send_error(self, send: Send, err: OSError, now: int) -> list[Send]:
        self.errors += 1
        self._events.append(LocalError(self.target, err.strerror or str(err)))
        return []

    def deadline(self) -> int | None:
        if self._finished:
            return None
        times = [t for t in (self._next_send_ns, self._end_ns) if t is not None]
        if self._next_send_ns is None:
            times.append(self._last_send_ns + self.timeout_ns)
            if self._quiet_ns is not None and self.mode == "resolve" and self.probes[-1].answers:
                times.append(self._quiet_ns)
        return min(times)

    # --- the state machine -------------------------------------------------------------------
    def _more_rounds(self) -> bool:
        if self.count is None:
            return True  # until the deadline
        if self._end_ns is not None and self.mode == "resolve":
            # arping -w with -c: keep asking until COUNT answers, or the deadline.
            return self._answered() < self.count
        return self._rounds < self.count

    def _step(self, now: int) -> list[Send]:
        if self._over(now):
            return []
        if self.mode == "dad" and self.conflict is not None:
            self._finish(now)  # RFC 5227: one conflicting packet is enough
            return []
        if self.first_reply and self._answered():
            self._finish(now)  # arping -f: the first reply says IP is alive; no more waiting
            return []
        if (
            self.mode == "resolve"
            and self._end_ns is not None
            and self.count is not None
            and self._answered() >= self.count
        ):
            self._finish(now)  # arping -w with -c: COUNT answers came before the deadline
            return []
        if self._next_send_ns is not None:
            return self._send_round(now) if now >= self._next_send_ns else []
        # Everything is sent: finish when nothing more can come, or the wait is over.
        if self.mode == "resolve" and self.probes[-1].answers:
            # Earlier probes were answered or timed out when the next one went; the last
            # one was answered: listen a moment longer for a second owner, then stop.
            quiet = self._quiet_ns if self._quiet_ns is not None else now
            if now >= min(quiet, self._last_send_ns + self.timeout_ns):
                self._finish(now)
        elif self.mode == "announce" and all(p.tx_ns is not None for p in self.probes):
            self._finish(now)  # every announcement seen leaving: nothing to wait for
        elif now >= self._last_send_ns + self.timeout_ns:
            self._finish(now)
        return []

    def _send_round(self, now: int) -> list[Send]:
        last = self.probes[-1] if self.probes else None
        if last is not None and not last.answers and self.mode == "resolve":
            self._events.append(ArpTimeout(self.target, last.seq))
            self.learnt = None  # an unanswered unicast probe: back to broadcast
        self._rounds += 1
        sends = []
        ops = self.announce_ops if self.mode == "announce" else (OP_REQUEST,)
        for op in ops:
            sends.append(self._probe(op, now))
        self._last_send_ns = now
        self._next_send_ns = now + self.interval_ns if self._more_rounds() else None
        return sends

    def _probe(self, op: int, now: int) -> Send:
        learnt = None if self.broadcast_only else self.learnt
        unicast = learnt is not None
        eth_dst = learnt if learnt is not None else BROADCAST
        if self.mode == "announce" and op == OP_REPLY:
            tha = self.me  # arping -A: a reply to everybody, about ourselves
        else:
            tha = eth_dst if unicast else ZERO_MAC
        data = build_arp(op, eth_dst, self.me, self._spa, tha, self._tpa)
        seq = len(self.probes) + 1
        self.probes.append(_Probe(seq, op, now, unicast))
        self.sent += 1
        self.broadcasts += not unicast
        return Send(data, l2=True, tag=seq)

    def _handle(self, p: ArpPacket, ts_ns: int) -> None:
        if p.sha == self.me:
            if p.eth_src == self.me and p.spa == self._spa and p.tpa == self._tpa:
                for probe in self.probes:  # our own probe, seen leaving: the kernel send time
                    # (not the kernel's own who-has for the same address, sent before ours)
                    if probe.tx_ns is None and probe.op == p.op and ts_ns >= probe.sent_ns:
                        probe.tx_ns = ts_ns
                        break
            return
        if self.mode == "resolve":
            if p.op == OP_REPLY and p.spa == self._tpa and p.tpa == self._spa:
                self._answer(p, ts_ns)
        elif p.spa == self._tpa or (p.op == OP_REQUEST and p.spa == ZERO_IP and p.tpa == self._tpa):
            # Someone else uses the address (a reply, a request, an announcement), or
            # probes for it too (RFC 5227 2.1.1): a conflict for DAD, shown when announcing.
            self._answer(p, ts_ns)

    def _answer(self, p: ArpPacket, ts_ns: int) -> None:
        probe = self.probes[-1] if self.probes else None
        rtt = None
        dup = 0
        if probe is not None:
            sent = probe.tx_ns if probe.tx_ns is not None else probe.sent_ns
            rtt = max(0.0, (ts_ns - sent) / 1e6)
            probe.answers += 1
            if probe.answers > 1:
                dup = probe.answers
                self.duplicates += 1
            else:
                self._quiet_ns = ts_ns + max(DUP_WAIT_NS, int(2 * rtt * 1e6))
        self.received += 1
        reply = ArpReply(ip_str(p.spa), mac_str(p.sha), rtt, dup, probe.seq if probe else None,
                         p.eth_dst == BROADCAST, "reply" if p.op == OP_REPLY else "request",
                         ip_str(p.tpa))  # fmt: skip
        if self.mode == "resolve" and not dup and not self.broadcast_only:
            self.learnt = p.sha
        if self.mode == "dad" and self.conflict is None:
            self.conflict = reply
        self._events.append(reply)

    def _answered(self) -> int:
        return sum(1 for p in self.probes if p.answers)

    def _finish(self, now: int) -> None:
        self._finished = True
        self._next_send_ns = None
        last = self.probes[-1] if self.probes else None
        if self.mode == "resolve" and last is not None and not last.answers:
            self._events.append(ArpTimeout(self.target, last.seq))
        summary = ProbeSummary(
            self.mode, self.target, self.src, self.sent, self.broadcasts, self.received,
            self._answered(), self.duplicates, self.errors, (now - self._start_ns) / 1e6,
            self.conflict.mac if self.conflict else None,
        )  # fmt: skip
        self._events.append(summary)


# --- arp-scan: many addresses --------------------------------------------------------------
class TargetSpace:
    """The addresses of a sweep, in order and without repeats, as ranges of integers:
    memory in the number of prefixes given, not in the number of addresses (a /8 is
    16,777,214 hosts). Position i ↔ address both ways in O(log ranges)."""

    def __init__(self, ranges: Sequence[tuple[int, int]]) -> None:
        self.ranges: list[tuple[int, int]] = []  # (first, last), disjoint, in sweep order
        for first, last in ranges:
            self._add(first, last)
        self.starts: list[int] = []  # position of each range's first address
        n = 0
        for first, last in self.ranges:
            self.starts.append(n)
            n += last - first + 1
        self.n = n
        order = sorted(range(len(self.ranges)), key=lambda k: self.ranges[k][0])
        self._by_addr = [(self.ranges[k][0], self.ranges[k][1], self.starts[k]) for k in order]
        self._firsts = [first for first, _last, _start in self._by_addr]

    def _add(self, first: int, last: int) -> None:
        """Append [first, last] minus what earlier ranges already hold."""
        pieces = [(first, last)]
        for f, la in self.ranges:
            pieces = [part for a, b in pieces for part in _minus(a, b, f, la)]
        self.ranges.extend(pieces)

    @classmethod
    def from_addresses(cls, addrs: Sequence[str]) -> TargetSpace:
        return cls([(n, n) for n in (int.from_bytes(socket.inet_aton(a), "big") for a in addrs)])

    def __len__(self) -> int:
        return self.n

    def addr(self, i: int) -> bytes:
        k = bisect.bisect_right(self.starts, i) - 1
        return (self.ranges[k][0] + i - self.starts[k]).to_bytes(4, "big")

    def index(self, addr: bytes) -> int | None:
        value = int.from_bytes(addr, "big")
        k = bisect.bisect_right(self._firsts, value) - 1
        if k < 0:
            return None
        first, last, start = self._by_addr[k]
        return start + value - first if value <= last else None


def _minus(a: int, b: int, f: int, last: int) -> list[tuple[int, int]]:
    """[a, b] without [f, last]: zero, one or two ranges."""
    if last < a or f > b:
        return [(a, b)]
    return [r for r in ((a, f - 1), (last + 1, b)) if r[0] <= r[1]]


class ArpScanCore(CoreBase):
    """Sweep TARGETS with paced who-has requests, retries with backoff, DUPs counted."""

    def __init__(
        self,
        *,
        mac: str,
        src: str,
        targets: Sequence[str] | TargetSpace,
        interval: float = 0.001,
        tries: int = 2,
        timeout: float = 0.5,
        backoff: float = 1.5,
        deadline: float | None = None,
    ) -> None:
        if tries < 1:
            raise ValueError("tries must be at least 1")
        self.me = mac_bytes(mac)
        self.src = src
        self._spa = socket.inet_aton(src)
        space = targets if isinstance(targets, TargetSpace) else TargetSpace.from_addresses(targets)
        self.targets = space
        self.n = space.n
        self.interval_ns = max(1, int(interval * NS))
        self._credit_ns = min(SCAN_CREDIT * self.interval_ns, SCAN_CREDIT_NS)
        self.tries = tries
        # The wait after try k (1-based) before the next one, or before giving up.
        self.waits_ns = [int(timeout * NS * backoff**k) for k in range(tries)]
        self.deadline_s = deadline
        self.capture_filter = "arp"
        # Per host, only while it is asked and for those that answered: memory follows
        # the rate and the answers, never the size of the sweep.
        self.tries_sent: dict[int, int] = {}
        self.answers: dict[int, int] = {}
        self.sent_ns: dict[int, int] = {}
        self.tx_ns: dict[int, int] = {}  # absent: not seen leaving (yet)
        self.sent = self.replies = self.responded = self.errors = 0
        self._heap: list[tuple[int, int, int]] = []  # (due ns, host, tries sent)
        self._fresh = 0  # next host never asked
        self._slot = 0  # the earliest time the next packet may go
        super().__init__()
        self._error_kinds: set[int | None] = set()
        self._start_ns = 0
        self._end_ns: int | None = None
        # One request built by Scapy; each target's is that frame with its address as
        # the last four bytes (0.3 µs instead of Scapy's 300 µs per packet).
        self._prefix = build_arp(OP_REQUEST, BROADCAST, self.me, self._spa, ZERO_MAC, ZERO_IP)[:-4]

    # --- runner interface -----------------------------------------------------------------
    def start(self, now: int) -> list[Send]:
        self._start_clock(now, self.deadline_s)
        self._slot = now
        return self._step(now)

    def on_packet(self, frame: LinkFrame, now: int) -> list[Send]:
        p = parse_arp(frame)
        if p is not None and not self._finished:
            if p.op == OP_REPLY and p.tpa == self._spa and p.sha != self.me:
                i = self.targets.index(p.spa)
                if i is not None:
                    self._answer(i, p, frame.ts_ns)
            elif p.op == OP_REQUEST and p.sha == self.me and p.spa == self._spa:
                i = self.targets.index(p.tpa)
                if (
                    i is not None
                    and i not in self.tx_ns
                    and 0 < self.sent_ns.get(i, 0) <= frame.ts_ns
                ):
                    self.tx_ns[i] = frame.ts_ns  # our request leaving: the kernel send time
        return self._step(now)

    def on_timer(self, now: int) -> list[Send]:
        return self._step(now)

    def on_send_error(self, send: Send, err: OSError, now: int) -> list[Send]:
        # The try counts as made; the host's timeout brings the next one.
        self.errors += 1
        if err.errno not in self._error_kinds:  # once per kind: a scan may hit it 1000 times
            self._error_kinds.add(err.errno)
            ip = ip_str(self.targets.addr(send.tag)) if isinstance(send.tag, int) else None
            self._events.append(LocalError(ip, err.strerror or str(err)))
        return []

    def deadline(self) -> int | None:
        if self._finished:
            return None
        times = [self._end_ns] if self._end_ns is not None else []
        if self._heap:
            due, _i, tries = self._heap[0]
            times.append(max(due, self._slot) if tries < self.tries else due)
        if self._fresh < self.n:
            times.append(self._slot)
        return min(times) if times else self._start_ns  # nothing left: finish at once

    # --- sending ------------------------------------------------------------------------------
    def _step(self, now: int) -> list[Send]:
        if self._over(now):
            return []
        sends = []
        heap = self._heap
        self._slot = max(self._slot, now - self._credit_ns)
        while True:
            self._retire(now)
            if self._slot > now or len(sends) >= SCAN_BURST:
                break
            if heap and heap[0][0] <= now:  # a retry that is due goes first
                i = heapq.heappop(heap)[1]
            elif self._fresh < self.n:
                i = self._fresh
                self._fresh += 1
            else:
                break
            sends.append(self._send(i, now))
            self._slot += self.interval_ns
        if self._fresh >= self.n and not heap:
            self._finish(now)  # every host answered or used up its tries
        return sends

    def _retire(self, now: int) -> None:
        """Drop entries of hosts that answered, and of hosts whose last try timed out."""
        heap = self._heap
        while heap:
            due, i, tries = heap[0]
            if i in self.answers:
                heapq.heappop(heap)
            elif tries >= self.tries and due <= now:
                heapq.heappop(heap)
                self._forget(i)  # silent after every try: nothing more to keep
            else:
                break

    def _forget(self, i: int) -> None:
        for table in (self.tries_sent, self.sent_ns, self.tx_ns):
            table.pop(i, None)

    def _send(self, i: int, now: int) -> Send:
        tries = self.tries_sent[i] = self.tries_sent.get(i, 0) + 1
        self.sent_ns[i] = now
        self.tx_ns.pop(i, None)
        heapq.heappush(self._heap, (now + self.waits_ns[tries - 1], i, tries))
        self.sent += 1
        return Send(self._prefix + self.targets.addr(i), l2=True, tag=i)

    # --- answers ----------------------------------------------------------------------------
    def _answer(self, i: int, p: ArpPacket, ts_ns: int) -> None:
        n = self.answers[i] = self.answers.get(i, 0) + 1
        self.replies += 1
        if n == 1:
            self.responded += 1
        sent = self.tx_ns.get(i) or self.sent_ns.get(i, 0)
        rtt = max(0.0, (ts_ns - sent) / 1e6) if sent else None
        reply = ArpReply(ip_str(p.spa), mac_str(p.sha), rtt, n if n > 1 else 0, None,
                         p.eth_dst == BROADCAST, "reply", ip_str(p.tpa))  # fmt: skip
        self._events.append(reply)

    def _finish(self, now: int) -> None:
        self._finished = True
        # Hosts scanned: those probed, which is all of them unless -w or Ctrl-C ended
        # the scan early (the header said how many there were to scan).
        summary = ScanSummary(self._fresh, self.responded, self.replies,
                              self.replies - self.responded, self.sent, self.errors,
                              (now - self._start_ns) / 1e6)  # fmt: skip
        self._events.append(summary)
