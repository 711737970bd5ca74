"""hping3's TCP mode, sans-I/O: `netlab tcp-handshake -S -c 3 -p 80 HOST`.

One probe every INTERVAL seconds carrying exactly the flags asked for (-S/-F/-A/-R/-P/-U,
none if none, as hping3 sends), from a base source port that goes up by one per probe
(hping3's default), so each answer names its probe: hping3's "seq" is the probe's
number, read back from the answer's destination port. Whatever comes back is reported
as it is (a SYN-ACK, a RST-ACK, an ICMP error quoting the probe, a time exceeded for a
small -t); nothing is answered, as with hping3 the kernel resets a SYN-ACK it has no
socket for. After the last probe the run waits for answers up to WAIT seconds (hping3
waits one second), and ends at once when every probe has been answered.
"""

from __future__ import annotations

from dataclasses import dataclass

from netlab.core.base import CoreBase, Send
from netlab.core.tcp_scan import build_tcp, parse_answer
from netlab.wire.link import LinkFrame

NS = 1_000_000_000
MOD = 1 << 32

# hping3's letters: X and Y are its names for ECE and CWR (the Xmas/Ymas bits).
_LETTERS = ((0x01, "F"), (0x02, "S"), (0x04, "R"), (0x08, "P"), (0x10, "A"), (0x20, "U"),
            (0x40, "X"), (0x80, "Y"))  # fmt: skip


def hping_flags(flags: int) -> str:
    return "".join(letter for bit, letter in _LETTERS if flags & bit)


@dataclass
class ProbeReply:
    """A TCP segment that answers probe SEQ."""

    seq: int
    ip_len: int  # hping3's len=: the packet from its IP header on
    src: str
    ttl: int
    df: bool
    ident: int
    sport: int
    flags: int
    win: int
    rtt_ms: float | None
    ts_ns: int
    dup: bool = False


@dataclass
class ProbeIcmp:
    """An ICMP error quoting probe SEQ (unreachable, or time exceeded for a small -t)."""

    seq: int
    src: str
    family: int
    icmp_type: int
    code: int
    ttl: int
    rtt_ms: float | None
    ts_ns: int


class TcpProbeCore(CoreBase):
    """COUNT probes (None: until Ctrl-C) to DST:DPORT, hping3's way."""

    def __init__(
        self,
        family: int,
        src: str,
        dst: str,
        dport: int,
        *,
        flags: int,
        base_sport: int,
        isn: int,
        count: int | None = None,
        interval: float = 1.0,
        ttl: int = 64,
        data_size: int = 0,
        window: int = 64,
        wait: float = 1.0,
    ) -> None:
        self.family, self.src, self.dst, self.dport = family, src, dst, dport
        self.flags = flags
        self.base_sport = base_sport
        self.isn = isn % MOD
        self.count = count
        self.interval_ns = max(1, int(interval * NS))
        self.ttl, self.window = ttl, window
        self.payload = b"X" * data_size  # hping3 pads its data with X
        self.wait_ns = int(wait * NS)
        self.sent = 0
        self.sent_ns: list[int] = []  # per probe (kernel time once seen leaving)
        self.answered: set[int] = set()
        self.rtts: list[float] = []
        self.replies = 0  # answers, duplicates included (hping3's "packets received")
        self._next_ns = 0
        self.error = ""
        super().__init__()
        ip = "ip" if family == 4 else "ip6"
        icmp = "icmp" if family == 4 else "icmp6"
        self.capture_filter = (f"({ip} and tcp and host {dst} and port {dport}) or "
                               f"({icmp} and dst host {src})")  # fmt: skip

    def sport(self, seq: int) -> int:
        """Probe SEQ's source port: the base plus SEQ, kept within 1024-65535."""
        return 1024 + (self.base_sport - 1024 + seq) % (65536 - 1024)

    def _seq_of(self, sport: int) -> int | None:
        seq = (sport - self.base_sport) % (65536 - 1024)
        return seq if seq < self.sent and self.sport(seq) == sport else None

    @property
    def header_bytes(self) -> int:
        return (20 if self.family == 4 else 40) + 20

    # --- runner interface -----------------------------------------------------------
    def start(self, now: int) -> list[Send]:
        self._next_ns = now
        return self._send_due(now)

    def on_timer(self, now: int) -> list[Send]:
        if self._finished:
            return []
        sends = self._send_due(now)
        if self._all_sent() and (now >= self._last_ns() + self.wait_ns or self._all_answered()):
            self._finished = True
        return sends

    def on_packet(self, frame: LinkFrame, now: int) -> list[Send]:
        if self._finished:
            return []
        a = parse_answer(frame, self.family)
        if a is None:
            return []
        if a.icmp is not None:
            icmp_type, code, q_src, q_dst, q_sport, q_dport = a.icmp
            seq = self._seq_of(q_sport)
            if (q_src, q_dst, q_dport) != (self.src, self.dst, self.dport) or seq is None:
                return []
            self._count(seq)
            self._events.append(ProbeIcmp(seq, a.src, self.family, icmp_type, code, a.ttl,
                                          self._rtt(seq, frame.ts_ns), frame.ts_ns))  # fmt: skip
        elif (
            a.src == self.src
            and a.dport == self.dport
            and a.dst == self.dst
            and (self._seq_of(a.sport) is not None)
        ):  # a probe of ours, leaving (by the ports too: on lo src == dst)
            seq = self._seq_of(a.sport)
            if seq is not None and a.seq == self._probe_seq(seq) and a.flags == self.flags:
                self.sent_ns[seq] = frame.ts_ns
            return []
        elif (a.src, a.sport, a.dst) == (self.dst, self.dport, self.src):
            seq = self._seq_of(a.dport)
            if seq is None:
                return []
            dup = seq in self.answered
            self._count(seq)
            rtt = self._rtt(seq, frame.ts_ns)
            if rtt is not None and not dup:
                self.rtts.append(rtt)
            self._events.append(ProbeReply(seq, a.ip_len, a.src, a.ttl, a.df, a.ident, a.sport,
                                           a.flags, a.win, rtt, frame.ts_ns, dup))  # fmt: skip
        else:
            return []
        if self._all_sent() and self._all_answered():
            self._finished = True
        return []

    def on_send_error(self, send: Send, err: OSError, now: int) -> list[Send]:
        self.fail(f"sendto: {err.strerror or err}")
        return []

    def fail(self, reason: str) -> None:
        self.error = reason
        self._finished = True

    def deadline(self) -> int | None:
        if self._finished:
            return None
        if not self._all_sent():
            return self._next_ns
        return self._last_ns() + self.wait_ns

    # --- internals ------------------------------------------------------------------
    def _all_sent(self) -> bool:
        return self.count is not None and self.sent >= self.count

    def _all_answered(self) -> bool:
        return len(self.answered) >= self.sent

    def _last_ns(self) -> int:
        return self.sent_ns[-1] if self.sent_ns else 0

    def _probe_seq(self, seq: int) -> int:
        return (self.isn + seq * 0x01000193) % MOD

    def _send_due(self, now: int) -> list[Send]:
        if self._all_sent() or now < self._next_ns:
            return []
        seq = self.sent
        ack = self._probe_seq(seq) ^ 0x5A5A5A5A if self.flags & 0x10 else 0
        data = build_tcp(self.family, self.src, self.dst, self.sport(seq), self.dport,
                         self.flags, self._probe_seq(seq), ack, self.window,
                         payload=self.payload, ttl=self.ttl)  # fmt: skip
        self.sent += 1
        self.sent_ns.append(now)
        self._next_ns = max(self._next_ns + self.interval_ns, now)
        return [Send(data, dest=self.dst, family=self.family, tag=seq)]

    def _count(self, seq: int) -> None:
        self.replies += 1
        self.answered.add(seq)

    def _rtt(self, seq: int, ts_ns: int) -> float | None:
        sent = self.sent_ns[seq]
        return (ts_ns - sent) / 1e6 if ts_ns >= sent else None
