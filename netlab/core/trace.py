"""Traceroute, sans-I/O: the logic of `netlab traceroute` with time passed in.

Probes (UDP, ICMP echo or TCP SYN) go out with rising TTL, several at once (a
window of `simultaneous` probes, like Linux traceroute's -N 16), so a trace
takes about one round trip in all rather than one per probe. Each answer is
matched to its probe by the datagram the router quotes, and the hops come out
as events, in TTL order, as soon as each is complete.

Paris style: every probe of a trace has the same flow identifiers, so a router
that balances load per flow sends them all the same way and the trace does not
invent links between routers of different paths:

- UDP: constant addresses and ports, and a constant UDP checksum: the probe id
  travels in the IPv4 ID and in the first payload word, and the second payload
  word is its ones' complement, so the checksum never changes (paris-traceroute
  keeps the checksum constant for the same reason);
- ICMP: constant type, code, identifier *and checksum*: the sequence number is
  the probe id and the first payload word its ones' complement;
- TCP: constant addresses and ports; the probe id is in the sequence number
  (and the IPv4 ID), so a SYN-ACK or RST acknowledges it (ack - 1).

The destination is reached when it answers: ICMP port unreachable (UDP), echo
reply (ICMP), SYN-ACK or RST (TCP). Other "destination unreachable" codes end the
trace with Linux traceroute's marks (!H !N !P !F-mtu !X !S …).

Waiting follows Linux traceroute's -w MAX,HERE,NEAR: a probe is given up after
HERE times the round trip of an answered probe of the same hop, or if there is
none NEAR times that of a later hop, and never later than MAX seconds.

RTT is kernel to kernel: the send time is the capture timestamp of our own probe
leaving the interface, the receive time the answer's capture timestamp.

Scapy builds the first probe of each size; the others are copies with TTL and
probe id patched in (`ProbeBuilder`, checked byte for byte against Scapy by the
tests), so the window leaves in microseconds rather than 0.3 ms per probe.

With `path_mtu` (tracepath's job, Linux traceroute --mtu) probes start at the
interface MTU with DF set; a "fragmentation needed" / "packet too big" quoting
one of them lowers the size and the probe is sent again, so each hop reports
the path MTU up to it.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass

from netlab.core.base import CoreBase, Send
from netlab.wire.checksum import internet_checksum
from netlab.wire.fragments import fragment
from netlab.wire.link import IpHeader, LinkFrame, frame_ip, ip_header

NS = 1_000_000_000
METHODS = ("udp", "icmp", "tcp")
DEFAULT_PORT = {"udp": 33434, "icmp": 0, "tcp": 80}
EMSGSIZE = 90
MAX_RETRIES = 8  # --mtu: resends of one probe at smaller sizes
# RFC 1191 plateaus: the next size to try when a router does not name its MTU.
PLATEAUS = (65535, 32000, 17914, 8166, 4352, 2002, 1492, 1280, 1006, 508, 296, 68)
TCP_OPTIONS_LEN = 20  # MSS, SACK permitted, timestamps, NOP, window scale: as Linux sends

# ICMP "destination unreachable" codes → Linux traceroute's marks ("" = destination reached).
UNREACH_V4 = {0: "!N", 1: "!H", 2: "!P", 3: "", 5: "!S", 6: "!N", 7: "!H", 8: "!N", 9: "!X",
              10: "!X", 11: "!N", 12: "!H", 13: "!X", 14: "!V", 15: "!C"}  # fmt: skip
UNREACH_V6 = {0: "!N", 1: "!X", 2: "!S", 3: "!H", 4: "", 5: "!X", 6: "!X"}


@dataclass(frozen=True)
class Flow:
    """What is constant across every probe of a trace (the Paris flow)."""

    method: str  # udp | icmp | tcp
    family: int  # 4 | 6
    src: str
    dst: str
    sport: int  # UDP/TCP source port; the echo identifier for ICMP
    dport: int  # UDP/TCP destination port; unused for ICMP
    flow_label: int = 0  # IPv6


@dataclass(frozen=True)
class Wait:
    """Linux traceroute's -w MAX,HERE,NEAR."""

    max_s: float = 5.0
    here: float = 3.0
    near: float = 10.0

    @classmethod
    def parse(cls, text: str) -> Wait:
        parts = [p.strip() for p in text.split(",")]
        if not 1 <= len(parts) <= 3 or any(not p for p in parts):
            raise ValueError("expected MAX[,HERE[,NEAR]]")
        values = [float(p) for p in parts]
        if any(v < 0 or v != v or v == float("inf") for v in values):
            raise ValueError("values must be finite and not negative")
        if values[0] <= 0:
            raise ValueError("MAX must be more than 0 seconds")
        if values[0] > 3600:
            raise ValueError("MAX must be at most 3600 seconds")
        defaults = cls()
        here = values[1] if len(values) > 1 else defaults.here
        near = values[2] if len(values) > 2 else defaults.near
        return cls(values[0], here, near)


# --- events -----------------------------------------------------------------------------
@dataclass
class ProbeResult:
    addr: str  # who answered: a router, or the destination
    rtt_ms: float
    mark: str | None = None  # "!H", "!F-1400" …
    reached: bool = False  # the destination itself answered
    size: int = 0  # IP length of the probe that was answered


@dataclass
class Hop:
    ttl: int
    probes: list[ProbeResult | None]  # None: no answer in time ("*"), or never sent
    pmtu: int | None = None  # --mtu: the largest probe that got through to here
    type: str = "hop"
    sent: int | None = None  # probes sent (fewer than len(probes) after Ctrl-C)


@dataclass
class Heard:
    """A new address answered (lets the command start its name lookup early)."""

    addr: str
    type: str = "heard"


@dataclass
class LocalError:
    ttl: int
    reason: str
    type: str = "local_error"


@dataclass
class TraceEnd:
    reached: bool
    last_ttl: int | None  # the last hop shown
    pmtu: int | None = None
    interrupted: bool = False
    type: str = "end"


# --- state ------------------------------------------------------------------------------
PENDING, SENT, ANSWERED, EXPIRED, FAILED = range(5)


@dataclass
class _Slot:
    """One place in the output: probe `index` of hop `ttl` (resent in place by --mtu)."""

    ttl: int
    index: int
    not_before: int = 0
    state: int = PENDING
    pid: int = 0  # probe id of the latest send
    size: int = 0
    sent_ns: int = 0  # our clock when the send was asked for
    tx_ns: int | None = None  # kernel timestamp of the probe leaving
    retries: int = 0
    cut_to: int = 0  # sent in fragments of at most this size (0: whole)
    result: ProbeResult | None = None
    final: bool = False

    def base_ns(self) -> int:
        return self.tx_ns if self.tx_ns is not None else self.sent_ns


@dataclass
class _Answer:
    pid: int
    src: str  # who sent the answer
    ts_ns: int
    kind: str  # "hop" (time exceeded) | "reached" | "unreach" | "toobig"
    mark: str = ""
    mtu: int | None = None


class TraceCore(CoreBase):
    def __init__(
        self,
        flow: Flow,
        *,
        first_ttl: int = 1,
        max_ttl: int = 30,
        queries: int = 3,
        simultaneous: int = 16,
        wait: Wait | None = None,
        size: int | None = None,
        df: bool = False,
        path_mtu: int | None = None,
        link_mtu: int | None = None,
        interval: float = 0.0,
        pid_base: int | None = None,
        tcp_isn: int | None = None,
    ) -> None:
        if flow.method not in METHODS:
            raise ValueError(f"unknown method {flow.method!r}")
        if not 1 <= first_ttl <= max_ttl <= 255:
            raise ValueError("need 1 <= first_ttl <= max_ttl <= 255")
        self.flow = flow
        self.first_ttl = first_ttl
        self.max_ttl = max_ttl
        self.queries = max(1, queries)
        self.simultaneous = max(1, simultaneous)
        self.wait = wait or Wait()
        self.path_mtu = path_mtu  # --mtu: start at this size, DF set
        self.link_mtu = link_mtu  # bigger probes are sent as fragments (without DF)
        # Set by the command: the path MTU the kernel knows for the target (a callable
        # keeps the I/O out of the core).
        self.known_path_mtu = None
        self.df = df or path_mtu is not None
        self.size = max(path_mtu or size or default_size(flow), min_size(flow))
        self.interval_ns = int(interval * NS)
        rng = random.Random()
        self._next_pid = pid_base if pid_base is not None else rng.randrange(1, 0xFFFF)
        self.tcp_isn = tcp_isn if tcp_isn is not None else rng.randrange(0, 1 << 32)
        self.capture_filter = capture_filter(flow)
        self._builder = ProbeBuilder(flow, self.df, self.tcp_isn)
        self._slots: dict[tuple[int, int], _Slot] = {}
        self._by_pid: dict[int, _Slot] = {}
        self._queue: list[tuple[int, int]] = self._order()  # slots not yet sent, in order
        self._qpos = 0
        self._flying: dict[tuple[int, int], _Slot] = {}  # sent, not yet resolved
        self._first_rtt: dict[int, int] = {}  # ttl -> ns of its first answer (for HERE/NEAR)
        self._heard: set[str] = set()
        self._dest_ttl: int | None = None  # lowest TTL with a final answer
        self._next_emit = first_ttl
        self._start_ns = 0
        super().__init__()
        self._reached = False
        self.sent = 0

    def _order(self) -> list[tuple[int, int]]:
        ttls = range(self.first_ttl, self.max_ttl + 1)
        if self.interval_ns:  # rounds (mtr): one probe per hop, then the next round
            return [(ttl, i) for i in range(self.queries) for ttl in ttls]
        return [(ttl, i) for ttl in ttls for i in range(self.queries)]

    # --- runner interface -------------------------------------------------------------
    def start(self, now: int) -> list[Send]:
        self._start_ns = now
        return self._fill(now)

    def on_packet(self, frame: LinkFrame, now: int) -> list[Send]:
        if self._finished:
            return []
        sends: list[Send] = []
        for item in parse_frame(frame, self.flow, self.tcp_isn):
            if isinstance(item, int):  # our own probe seen leaving: the kernel send time
                slot = self._by_pid.get(item)
                if slot is not None and slot.pid == item and slot.tx_ns is None:
                    slot.tx_ns = frame.ts_ns
            else:
                sends += self._on_answer(item, now)
        # Freed places in the window are filled by on_timer, not here: deadline() is
        # already due, and the runner calls on_timer only once no frame is left to
        # read. So a burst of answers is read whole before more probes leave, and
        # when the destination's answer is in it, no probe goes out beyond it (as
        # Linux traceroute, which reads all that poll() returns before sending).
        self._advance(now, fill=False)
        return sends  # only resends of the same probe (--mtu), which cannot wait

    def on_timer(self, now: int) -> list[Send]:
        if self._finished:
            return []
        for slot in list(self._flying.values()):
            if now >= slot.base_ns() + self._wait_ns(slot):
                self._resolve(slot, EXPIRED)
        return self._advance(now)

    def on_send_error(self, send: Send, err: OSError, now: int) -> list[Send]:
        slot = self._by_pid.get(send.tag)
        if slot is None or slot.pid != send.tag or slot.state != SENT:
            return []
        if err.errno == EMSGSIZE and self.path_mtu is not None and slot.retries < MAX_RETRIES:
            # Bigger than our own interface allows: the next plateau down, and again.
            self.size = min(self.size, next_plateau(slot.size))
            return self._resend(slot, now)
        if err.errno == EMSGSIZE and self.link_mtu and slot.retries < MAX_RETRIES:
            # Fragments over the path MTU the kernel learnt (an IPv6 "packet too big"
            # seen by another program, or by us): cut smaller, as the kernel does.
            known = self.known_path_mtu() if self.known_path_mtu else None
            if known and known < self.link_mtu:
                self.link_mtu = known
                return self._resend(slot, now)
        self._resolve(slot, FAILED)
        reason = err.strerror or str(err)
        if err.errno == EMSGSIZE:
            reason = f"message too long ({slot.size} bytes with DF set is over the interface MTU)"
        self._events.append(LocalError(slot.ttl, reason))
        return self._advance(now)

    def deadline(self) -> int | None:
        if self._finished:
            return None
        times = [s.base_ns() + self._wait_ns(s) for s in self._flying.values()]
        nxt = self._next_slot_key()
        if nxt is not None and len(self._flying) < self.simultaneous:
            times.append(self._not_before(nxt))
        return min(times) if times else None

    def interrupt(self, now: int) -> None:
        """Ctrl-C: show what was found: the hop being waited for (unanswered probes as
        '*') and every later hop that has an answer, up to the destination."""
        if self._finished:
            return
        answered = [s.ttl for s in self._slots.values() if s.state == ANSWERED]
        last = max(answered, default=0)
        if any((self._next_emit, i) in self._slots for i in range(self.queries)):
            last = max(last, self._next_emit)
        if self._dest_ttl is not None:
            last = min(last, self._dest_ttl)
        while self._next_emit <= last:
            self._emit_hop(self._next_emit)
        self._finish(interrupted=True)

    # --- sending ----------------------------------------------------------------------
    def _not_before(self, key: tuple[int, int]) -> int:
        return self._start_ns + key[1] * self.interval_ns

    def _next_slot_key(self) -> tuple[int, int] | None:
        while self._qpos < len(self._queue):
            key = self._queue[self._qpos]
            if self._dest_ttl is not None and key[0] > self._dest_ttl:
                self._qpos += 1  # beyond the destination: never sent
                continue
            return key
        return None

    def _fill(self, now: int) -> list[Send]:
        sends = []
        while len(self._flying) < self.simultaneous:
            key = self._next_slot_key()
            if key is None or self._not_before(key) > now:
                break
            self._qpos += 1
            slot = _Slot(key[0], key[1], self._not_before(key))
            self._slots[key] = slot
            sends += self._send(slot, now)
        return sends

    def _alloc_pid(self) -> int:
        for _ in range(0x10000):
            pid = self._next_pid
            self._next_pid = self._next_pid % 0xFFFF + 1  # 1 … 0xFFFF, never 0
            old = self._by_pid.get(pid)
            if old is None or old.pid != pid or old.state != SENT:
                return pid
        raise RuntimeError("no free probe id")  # > 65535 probes in flight: cannot happen

    def _send(self, slot: _Slot, now: int) -> list[Send]:
        pid = self._alloc_pid()
        slot.pid, slot.size, slot.sent_ns, slot.tx_ns = pid, self.size, now, None
        slot.state = SENT
        self._by_pid[pid] = slot
        self._flying[(slot.ttl, slot.index)] = slot
        self.sent += 1
        data = self._builder.build(pid, slot.ttl, slot.size)
        pieces = [data]
        slot.cut_to = 0
        if self.link_mtu and len(data) > self.link_mtu and not self.df and self.path_mtu is None:
            slot.cut_to = self.link_mtu
            # Bigger than the link and DF not asked: cut it, as the kernel cuts Linux
            # traceroute's (a raw socket's packet is sent whole or not at all).
            pieces = fragment(data, self.flow.family, self.link_mtu, pid if self.flow.family == 6
                              else None)  # fmt: skip
        return [Send(p, dest=self.flow.dst, family=self.flow.family, tag=pid) for p in pieces]

    def _resend(self, slot: _Slot, now: int) -> list[Send]:
        slot.retries += 1
        return self._send(slot, now)

    # --- receiving --------------------------------------------------------------------
    def _on_answer(self, a: _Answer, now: int) -> list[Send]:
        slot = self._by_pid.get(a.pid)
        if slot is None or slot.pid != a.pid or slot.state != SENT:
            return []  # not ours, a duplicate, or too late
        if a.kind == "toobig" and slot.cut_to and a.mtu and a.mtu < slot.cut_to \
                and slot.retries < MAX_RETRIES:  # fmt: skip
            # Sent in fragments (no DF), and an IPv6 router, which cannot cut, says how
            # big a packet may be: cut this probe and the later ones to that and send it
            # again (the kernel does the same for Linux traceroute's sockets).
            self.link_mtu = min(
                self.link_mtu or a.mtu, max(a.mtu, 1280 if self.flow.family == 6 else 68)
            )
            return self._resend(slot, now)
        if a.kind == "toobig" and self.path_mtu is not None and slot.retries < MAX_RETRIES:
            mtu = a.mtu if a.mtu and a.mtu < slot.size else next_plateau(slot.size)
            self.size = min(self.size, max(mtu, min_size(self.flow)))
            if self.size < slot.size:
                return self._resend(slot, now)
        self._resolve(slot, ANSWERED)
        rtt_ns = max(0, a.ts_ns - slot.base_ns())
        mark = a.mark or None
        if a.kind == "toobig":
            mark = f"!F-{a.mtu or 0}"
        slot.result = ProbeResult(a.src, rtt_ns / 1e6, mark, a.kind == "reached", slot.size)
        slot.final = a.kind in ("reached", "unreach", "toobig")
        self._first_rtt.setdefault(slot.ttl, rtt_ns)
        if a.src not in self._heard:
            self._heard.add(a.src)
            self._events.append(Heard(a.src))
        if slot.final and (self._dest_ttl is None or slot.ttl < self._dest_ttl):
            self._dest_ttl = slot.ttl
            self._cancel_beyond(slot.ttl)
        return []

    def _cancel_beyond(self, ttl: int) -> None:
        for slot in list(self._flying.values()):
            if slot.ttl > ttl:
                self._resolve(slot, EXPIRED)  # past the destination: its answer is not needed

    def _resolve(self, slot: _Slot, state: int) -> None:
        slot.state = state
        del self._flying[(slot.ttl, slot.index)]

    def _wait_ns(self, slot: _Slot) -> int:
        """Linux traceroute's -w MAX,HERE,NEAR for one probe in flight."""
        limit = int(self.wait.max_s * NS)
        here = self._first_rtt.get(slot.ttl)
        if self.wait.here and here is not None:
            return min(limit, int(here * self.wait.here))
        if self.wait.near:
            for ttl in range(slot.ttl + 1, self.max_ttl + 1):
                near = self._first_rtt.get(ttl)
                if near is not None:
                    return min(limit, int(near * self.wait.near))
        return limit

    # --- hops, in order, and the end ----------------------------------------------------
    def _advance(self, now: int, fill: bool = True) -> list[Send]:
        while not self._finished and self._hop_complete(self._next_emit):
            ttl = self._next_emit
            self._emit_hop(ttl)
            if ttl == self._dest_ttl or ttl == self.max_ttl:
                self._finish()
        if self._finished or not fill:
            return []
        return self._fill(now)

    def _hop_complete(self, ttl: int) -> bool:
        if ttl > self.max_ttl:
            return False
        for i in range(self.queries):
            slot = self._slots.get((ttl, i))
            if slot is None or slot.state in (PENDING, SENT):
                return False
        return True

    def _emit_hop(self, ttl: int) -> None:
        probes = []
        pmtu = None
        sent = 0
        for i in range(self.queries):
            slot = self._slots.get((ttl, i))
            sent += slot is not None
            result = slot.result if slot is not None and slot.state == ANSWERED else None
            probes.append(result)
            if result is not None and result.mark is None and self.path_mtu is not None:
                pmtu = result.size if pmtu is None else min(pmtu, result.size)
        self._events.append(Hop(ttl, probes, pmtu, sent=sent))
        self._next_emit = ttl + 1
        if self._dest_ttl == ttl and any(p is not None and p.reached for p in probes):
            self._reached = True

    def _finish(self, interrupted: bool = False) -> None:
        self._finished = True
        last = self._next_emit - 1 if self._next_emit > self.first_ttl else None
        pmtu = self.size if self.path_mtu is not None else None
        self._events.append(TraceEnd(self._reached, last, pmtu, interrupted))


# --- sizes ------------------------------------------------------------------------------
def header_len(flow: Flow) -> int:
    ip = 20 if flow.family == 4 else 40
    return ip + (20 + TCP_OPTIONS_LEN if flow.method == "tcp" else 8)


def min_size(flow: Flow) -> int:
    """Headers plus the two payload words that carry the probe id (none needed for TCP)."""
    return header_len(flow) + (0 if flow.method == "tcp" else 4)


def default_size(flow: Flow) -> int:
    """Linux traceroute's: 60 bytes over IPv4, 80 over IPv6."""
    return 60 if flow.family == 4 else 80


def next_plateau(size: int) -> int:
    return next((p for p in PLATEAUS if p < size), 68)


# --- building probes (Scapy) ------------------------------------------------------------
class ProbeBuilder:
    """Probes from one Scapy-built template per size, with TTL and probe id patched in.

    Scapy takes ~0.3 ms to build a packet; a window of 16 probes and its refills would
    then spread a trace over several milliseconds on the wire. Scapy builds the first
    probe of each size (`build_probe`); the others differ from it only in TTL and probe
    id, patched in place. The Paris payload keeps the UDP and ICMP checksums as they
    are; the IPv4 header checksum and (TCP: the sequence number changes) the TCP
    checksum are recomputed. The tests check every byte against `build_probe`.
    """

    def __init__(self, flow: Flow, df: bool, tcp_isn: int = 0) -> None:
        self.flow = flow
        self.df = df
        self.tcp_isn = tcp_isn
        self._templates: dict[int, bytes] = {}
        self._ip_len = 20 if flow.family == 4 else 40

    def build(self, pid: int, ttl: int, size: int) -> bytes:
        template = self._templates.get(size)
        if template is None:
            template = build_probe(self.flow, 1, 1, size, self.df, self.tcp_isn)
            self._templates[size] = template
        buf = bytearray(template)
        p = self._ip_len  # the transport header
        method = self.flow.method
        if method == "udp":
            struct.pack_into("!HH", buf, p + 8, pid, 0xFFFF - pid)
        elif method == "icmp":
            struct.pack_into("!H", buf, p + 6, pid)  # sequence number
            struct.pack_into("!H", buf, p + 8, 0xFFFF - pid)
        else:
            struct.pack_into("!I", buf, p + 4, (self.tcp_isn + pid) & 0xFFFFFFFF)
            struct.pack_into("!H", buf, p + 16, 0)
            struct.pack_into("!H", buf, p + 16, _transport_checksum(buf, self.flow.family, 6))
        if self.flow.family == 4:
            buf[8] = ttl
            struct.pack_into("!H", buf, 4, pid)  # IP ID
            struct.pack_into("!H", buf, 10, 0)
            struct.pack_into("!H", buf, 10, internet_checksum(bytes(buf[:20])))
        else:
            buf[7] = ttl
        return bytes(buf)


def _transport_checksum(packet: bytearray, family: int, proto: int) -> int:
    """TCP/UDP checksum over the pseudo-header and the segment (checksum field zeroed)."""
    if family == 4:
        segment = bytes(packet[20:])
        pseudo = bytes(packet[12:20]) + struct.pack("!xBH", proto, len(segment))
    else:
        segment = bytes(packet[40:])
        pseudo = bytes(packet[8:40]) + struct.pack("!I3xB", len(segment), proto)
    return internet_checksum(pseudo + segment) or 0xFFFF


def paris_payload(pid: int, length: int, in_header: bool = False) -> bytes:
    """A payload that keeps the checksum constant whatever the probe id PID.

    UDP: the id, then its ones' complement (pid + ~pid adds nothing to the sum).
    ICMP (IN_HEADER: the id is already the sequence number): its complement only.
    """
    head = struct.pack("!H", 0xFFFF - pid) if in_header else struct.pack("!HH", pid, 0xFFFF - pid)
    return head + bytes(i & 0xFF for i in range(len(head), length))


def build_probe(flow: Flow, pid: int, ttl: int, size: int, df: bool, tcp_isn: int = 0) -> bytes:
    """One probe of SIZE bytes (IP header included) with TTL (hop limit) and probe id PID."""
    payload_len = max(0, size - header_len(flow))
    if flow.family == 4:
        from scapy.layers.inet import ICMP, IP, TCP, UDP

        ip = IP(src=flow.src or None, dst=flow.dst, ttl=ttl, id=pid, flags="DF" if df else 0)
    else:
        from scapy.layers.inet import TCP, UDP
        from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6

        ip = IPv6(src=flow.src or None, dst=flow.dst, hlim=ttl, fl=flow.flow_label)
    if flow.method == "udp":
        return bytes(ip / UDP(sport=flow.sport, dport=flow.dport)
                     / paris_payload(pid, payload_len))  # fmt: skip
    if flow.method == "icmp":
        # seq = pid and the payload's second word = ~pid: type, code, id and checksum constant.
        payload = paris_payload(pid, payload_len, in_header=True)
        if flow.family == 4:
            return bytes(ip / ICMP(type=8, id=flow.sport, seq=pid) / payload)
        return bytes(ip / ICMPv6EchoRequest(id=flow.sport, seq=pid, data=payload))
    options = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (0, 0)), ("NOP", None),
               ("WScale", 7)]  # fmt: skip
    tcp = TCP(sport=flow.sport, dport=flow.dport, flags="S", seq=(tcp_isn + pid) & 0xFFFFFFFF,
              window=64240, options=options)  # fmt: skip
    return bytes(ip / tcp / (b"\0" * payload_len))


def capture_filter(flow: Flow) -> str:
    """ICMP errors and replies, our own probes leaving, and (TCP) the destination's answer."""
    icmp = "icmp" if flow.family == 4 else "icmp6"
    ip = "ip" if flow.family == 4 else "ip6"
    if flow.method == "icmp":
        return icmp
    proto = flow.method
    return (f"{icmp} or ({ip} and {proto} and host {flow.dst} and port {flow.dport} "
            f"and port {flow.sport})")  # fmt: skip


# --- parsing what comes back (struct, no Scapy: fast and never raising) ---------------------
def parse_frame(frame: LinkFrame, flow: Flow, tcp_isn: int) -> list[int | _Answer]:
    """Our probes leaving (their id, an int) and answers to them (_Answer) in one frame."""
    found = frame_ip(frame, flow.family)
    if found is None:
        return []
    try:
        item = _parse_ip(*found, flow, tcp_isn, frame.ts_ns)
    except (IndexError, struct.error, ValueError):
        return []
    return [] if item is None else [item]


PROTO = {"udp": 17, "tcp": 6}


def _probe_id(data: bytes, proto: int, p: int, ip_id: int, flow: Flow, tcp_isn: int,
              outgoing: bool) -> int | None:  # fmt: skip
    """The probe id of one of our probes (at P its transport header), or None if not ours.

    OUTGOING: the probe itself, seen leaving; otherwise a router's quote of it, of which
    only the first 8 bytes of the transport header are sure to be there.
    """
    if flow.method == "icmp":
        icmp_proto = 1 if flow.family == 4 else 58
        echo = 8 if flow.family == 4 else 128
        if proto != icmp_proto or data[p] != echo:
            return None
        ident, seq = struct.unpack_from("!HH", data, p + 4)
        return seq if ident == flow.sport else None
    if proto != PROTO[flow.method]:
        return None
    sport, dport = struct.unpack_from("!HH", data, p)
    if (sport, dport) != (flow.sport, flow.dport):
        return None
    if flow.method == "tcp":
        if outgoing and data[p + 13] & 0x3F != 0x02:
            return None  # our kernel's RST to a SYN-ACK, not a probe
        seq = struct.unpack_from("!I", data, p + 4)[0]
        pid = (seq - tcp_isn) & 0xFFFFFFFF
        return pid if 0 < pid <= 0xFFFF else None
    if flow.family == 4:
        return ip_id  # always quoted, whatever the router's quote length
    return struct.unpack_from("!H", data, p + 8)[0]  # IPv6: the payload's first word


def _parse_ip(data: bytes, ip: IpHeader, flow: Flow, tcp_isn: int,
              ts: int) -> int | _Answer | None:  # fmt: skip
    proto, src, dst, p, ip_id = ip.proto, ip.src, ip.dst, ip.payload, ip.ident
    if src == flow.src and dst == flow.dst:
        pid = _probe_id(data, proto, p, ip_id, flow, tcp_isn, True)  # ours, leaving
        if pid is not None or src != dst:
            return pid
        # A trace to this host itself (127.0.0.1, ::1, an own address): its answers
        # carry the probes' addresses too, so they are told apart by what they are.
    if dst != flow.src:
        return None
    icmp_proto = 1 if flow.family == 4 else 58
    if proto == icmp_proto:
        return _parse_icmp(data, p, src, flow, tcp_isn, ts)
    if proto == 6 and flow.method == "tcp" and src == flow.dst:
        sport, dport, _seq, ack = struct.unpack_from("!HHII", data, p)
        flags = data[p + 13]
        if (sport, dport) != (flow.dport, flow.sport):
            return None
        syn_ack = flags & 0x12 == 0x12
        rst = flags & 0x04
        if not (syn_ack or rst):
            return None
        pid = (ack - 1 - tcp_isn) & 0xFFFFFFFF
        if not 0 < pid <= 0xFFFF:
            return None
        return _Answer(pid, src, ts, "reached")
    return None


def _parse_icmp(data: bytes, p: int, src: str, flow: Flow, tcp_isn: int,
                ts: int) -> _Answer | None:  # fmt: skip
    icmp_type, code = data[p], data[p + 1]
    v4 = flow.family == 4
    if flow.method == "icmp" and icmp_type == (0 if v4 else 129):  # echo reply
        ident, seq = struct.unpack_from("!HH", data, p + 4)
        if ident != flow.sport or src != flow.dst:
            return None
        return _Answer(seq, src, ts, "reached")
    time_exceeded, unreach, too_big = (11, 3, None) if v4 else (3, 1, 2)
    param_problem = None if v4 else 4
    if icmp_type not in (time_exceeded, unreach, too_big, param_problem):
        return None
    q = p + 8  # the quoted datagram
    quoted = ip_header(data, q, flow.family)
    if quoted.src != flow.src or quoted.dst != flow.dst:
        return None
    pid = _probe_id(data, quoted.proto, quoted.payload, quoted.ident, flow, tcp_isn, False)
    if pid is None:
        return None
    if icmp_type == time_exceeded:
        return _Answer(pid, src, ts, "hop")
    if icmp_type == too_big or (v4 and code == 4):
        mtu = struct.unpack_from("!I" if not v4 else "!2xH", data, p + 4)[0]
        return _Answer(pid, src, ts, "toobig", mtu=mtu or None)
    if icmp_type == param_problem:
        if code != 1:  # unrecognized next header: IPv6's "protocol unreachable"
            return None
        return _Answer(pid, src, ts, "unreach", "!P")
    mark = (UNREACH_V4 if v4 else UNREACH_V6).get(code, f"!<{code}>")
    if mark == "" and src == flow.dst:  # port unreachable: the destination answered
        return _Answer(pid, src, ts, "reached")
    return _Answer(pid, src, ts, "unreach", mark)  # ends the trace, as in Linux traceroute
