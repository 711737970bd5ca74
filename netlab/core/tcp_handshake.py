"""The client side of a TCP connection (RFC 9293), sans-I/O: `netlab tcp-handshake`.

A state table, fed frames and the time (integer ns) by the runner:

    CLOSED → SYN_SENT → ESTABLISHED → FIN_WAIT_1 → FIN_WAIT_2 → TIME_WAIT (→ CLOSED)
                                    ↘ CLOSING (simultaneous close) ↗
                        ESTABLISHED → CLOSE_WAIT → LAST_ACK → CLOSED (the server closes first)

We send a SYN with the options Linux sends (MSS from the interface MTU, SACK
permitted, timestamps, window scale) and retransmit it on loss with a doubling
timeout (1 s, 2 s, … at most TRIES SYNs). A SYN-ACK that acknowledges our SYN
makes the port *open*: we ACK it and, after an optional hold, close in order
(FIN → ACK → FIN → ACK) or, with reset=True, with a RST. With data to send, the
close waits until all of it is acknowledged: segments no larger than the
effective MSS (the smaller of the server's MSS and ours, less the TCP options we
carry, RFC 6691; lowered by an ICMP "fragmentation needed"/"packet too big"),
never more in flight than the server's advertised window (scaled by its
WScale), go-back-N retransmission from SND.UNA on timeout; incoming data is
acknowledged segment by segment (in order only). TIME_WAIT is left after a
short linger, or with time_wait waited out (2×MSL) and ended in CLOSED; either
way a retransmitted FIN is ACKed again and restarts it. An acceptable RST in
SYN_SENT makes it *closed*; silence after the last SYN or an ICMP unreachable
quoting our SYN makes it *filtered*. RSTs are checked in every state (RFC 9293
§3.10.7.4 with RFC 5961: an in-window RST that is not exactly the next expected
sequence number gets a challenge ACK), and a SYN-ACK with an unexpected
acknowledgment number gets <SEQ=SEG.ACK><CTL=RST> as the RFC says.

Every segment (both directions) goes onto a timeline with the client state
after it. Outgoing segments get their time from the capture of the segment
leaving the interface (kernel timestamp); the handshake RTT is kernel to
kernel, from the SYN the SYN-ACK answers (found by its echoed timestamp) to
the SYN-ACK. Nothing here opens a socket or reads a clock.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from netlab.core.base import CoreBase, Send, StateTable
from netlab.wire.link import IpHeader, LinkFrame, frame_ip, ip_header
from netlab.wire.tcp_options import option_list

NS = 1_000_000_000
MOD = 1 << 32

FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80
# Letter order of the JSON "flags" field: "S", "SA", "A", "FA", "R", "RA".
_FLAG_LETTERS = ((FIN, "F"), (SYN, "S"), (RST, "R"), (PSH, "P"), (ACK, "A"), (URG, "U"),
                 (ECE, "E"), (CWR, "C"))  # fmt: skip

CLOSED = "CLOSED"
SYN_SENT = "SYN_SENT"
ESTABLISHED = "ESTABLISHED"
FIN_WAIT_1 = "FIN_WAIT_1"
FIN_WAIT_2 = "FIN_WAIT_2"
CLOSING = "CLOSING"
TIME_WAIT = "TIME_WAIT"
CLOSE_WAIT = "CLOSE_WAIT"
LAST_ACK = "LAST_ACK"


def flag_string(flags: int) -> str:
    return "".join(letter for bit, letter in _FLAG_LETTERS if flags & bit)


def seq_lt(a: int, b: int) -> bool:
    """a < b in sequence-number space (RFC 9293 §3.4, modulo 2**32)."""
    return 0 < (b - a) % MOD < MOD // 2


@dataclass(frozen=True)
class Conn:
    family: int  # 4 or 6
    src: str
    sport: int
    dst: str
    dport: int
    mss: int = 1460  # from the interface MTU: MTU - 40 (IPv4) or - 60 (IPv6)


@dataclass
class Segment:
    """One row of the timeline: a TCP segment and the client state after it."""

    dir: str  # "out" or "in"
    flags: int
    seq: int
    ack: int
    win: int
    length: int  # payload bytes
    options: list[tuple[str, Any]]
    ts_ns: int  # kernel timestamp (out: when seen leaving; our clock until then)
    state: str  # client state after the segment
    rel_seq: int | None
    rel_ack: int | None
    note: str = ""
    seen: bool = False  # out: the capture saw it leave (ts_ns is the kernel's)
    tsval: int | None = None
    data: bytes = b""  # the payload

    @property
    def flag_str(self) -> str:
        return flag_string(self.flags)


@dataclass
class Note:
    """Something that is not a segment: a timeout, an ICMP error, a local error."""

    ts_ns: int
    text: str
    state: str


@dataclass
class Outcome:
    result: str  # open | closed | filtered
    reason: str = ""
    rtt_ms: float | None = None


@dataclass
class _Parsed:
    src: str
    dst: str
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    win: int
    options: list[tuple[str, Any]]
    length: int
    payload: bytes = b""
    mtu: int = 0  # ICMP "fragmentation needed" / "packet too big": the next-hop MTU
    # ICMP error quoting a TCP segment: (type, code, quoted src, dst, sport, dport)
    icmp: tuple[int, int, str, str, int, int] | None = None


class TcpHandshakeCore(CoreBase):
    """One client connection to CONN: handshake, optional hold, close."""

    def __init__(
        self,
        conn: Conn,
        *,
        isn: int,
        ts_base: int = 0,
        tries: int = 3,
        rto: float = 1.0,
        hold: float = 0.0,
        reset: bool = False,
        graceful: bool = False,
        linger: float = 0.5,
        time_wait: float | None = None,
        window: int = 64240,
        wscale: int = 7,
        data: bytes = b"",
    ) -> None:
        self.conn = conn
        self.isn = isn % MOD
        self.ts_base = ts_base % MOD
        self.tries = max(1, tries)
        self.rto_ns = int(rto * NS)
        self.hold_ns = int(hold * NS)
        self.reset = reset
        self.graceful = graceful  # Ctrl-C closes with FIN (and waits) instead of a reset
        self._interrupts = 0
        self.linger_ns = int(linger * NS)
        # None: TIME_WAIT is left after a short linger (a retransmitted FIN is still
        # answered); else it is waited out (2×MSL, RFC 9293 §3.6) and ends in CLOSED.
        self.time_wait_ns = int(time_wait * NS) if time_wait is not None else None
        self.window = window
        self.wscale = wscale
        self.state = CLOSED
        self.states: list[str] = []
        self.machine = StateTable({}, CLOSED)  # RFC 9293's order decides; this records
        self._now = 0
        self.timeline: list[Segment | Note] = []
        self.outcome: Outcome | None = None
        self.irs: int | None = None  # the server's initial sequence number
        self.server_options: list[tuple[str, Any]] = []
        self.server_window: int | None = None  # the SYN-ACK's (unscaled) window
        self.snd_nxt = self.isn
        self.snd_una = self.isn
        self.rcv_nxt = 0
        self.ts_recent: int | None = None  # the server's last TSval (None: no timestamps)
        self.peer_wscale: int | None = None  # None: window scaling off
        self.syn_sent = 0
        self.fin_sent = 0
        self.fin_seq: int | None = None
        self.data = bytes(data)
        self.data_seq = (self.isn + 1) % MOD  # sequence number of the first data byte
        self.snd_max = self.isn  # highest sequence number sent + 1 (after go-back-N)
        self.snd_wnd = 0  # the server's window, in bytes (scaled)
        self.smss = 0  # payload bytes per segment, set at the SYN-ACK
        self.data_tries = 0  # retransmissions of the oldest unacknowledged data
        self.received = bytearray()  # the server's data, in order
        self.data_done = not self.data
        self._start_ns = 0
        self._timer_ns: int | None = None
        self._timer_kind = ""
        super().__init__()
        ip = "ip" if conn.family == 4 else "ip6"
        icmp = "icmp" if conn.family == 4 else "icmp6"
        self.capture_filter = (f"({ip} and tcp and host {conn.dst} and port {conn.sport} and "
                               f"port {conn.dport}) or {icmp}")  # fmt: skip

    # --- runner interface -------------------------------------------------------------
    def start(self, now: int) -> list[Send]:
        self._start_ns = self._now = now
        return self._send_syn(now)

    def on_packet(self, frame: LinkFrame, now: int) -> list[Send]:
        self._now = frame.ts_ns
        if self._finished:
            return []
        p = parse_frame(frame, self.conn.family)
        if p is None:
            return []
        c = self.conn
        if p.icmp is not None:
            return self._on_icmp(p, frame.ts_ns)
        if (p.src, p.sport, p.dst, p.dport) == (c.src, c.sport, c.dst, c.dport):
            self._seen_leaving(p, frame.ts_ns)
            return []
        if (p.src, p.sport, p.dst, p.dport) == (c.dst, c.dport, c.src, c.sport):
            return self._on_segment(p, frame.ts_ns, now)
        return []

    def on_timer(self, now: int) -> list[Send]:
        self._now = now
        if self._finished or self._timer_ns is None or now < self._timer_ns:
            return []
        kind, self._timer_ns = self._timer_kind, None
        if kind == "syn":
            if self.syn_sent < self.tries:
                return self._send_syn(now)
            self._note(now, f"no answer to {self.syn_sent} SYN(s)")
            self._finish("filtered", f"no answer after {self.syn_sent} SYN(s)")
        elif kind == "hold":
            return self._close(now)
        elif kind == "data":
            if self.data_tries < self.tries:
                self.data_tries += 1
                self._note(now, f"no ACK for our data: retransmitting from SND.UNA "
                                f"({self.data_tries}/{self.tries})")  # fmt: skip
                return self._send_data(now, rewind=True)
            self._note(now, f"no ACK for our data after {self.tries} retransmissions: giving up")
            return self._send_reset(now)
        elif kind == "fin":
            if self.fin_sent < self.tries:
                return self._send_fin(now, retransmit=True)
            self._note(now, f"no answer to our FIN after {self.fin_sent} tries: giving up")
            self._finished = True
        elif kind == "timewait":
            if self.state == TIME_WAIT and self.time_wait_ns is not None:
                self._set_state(CLOSED, "2MSL timeout")
                self._note(now, f"TIME_WAIT over after {self.time_wait_ns / NS:g} s (2×MSL)")
            self._finished = True
        return []

    def on_send_error(self, send: Send, err: OSError, now: int) -> list[Send]:
        reason = err.strerror or str(err)
        self._note(now, f"local error: {reason}")
        if self.state == SYN_SENT:
            self._finish("filtered", f"local error: {reason}")
        else:
            self._finished = True
        return []

    def deadline(self) -> int | None:
        return None if self._finished else self._timer_ns

    def interrupt(self, now: int) -> list[Send]:
        """Ctrl-C: the timeline so far, and the result if the handshake did not end. A
        connection the server holds (ESTABLISHED, or on its way to close) is reset, as
        `--rst` would, so nothing stays open on the server after we are gone."""
        sends: list[Send] = []
        self._interrupts += 1
        if (self.graceful and self._interrupts == 1 and self.state in (ESTABLISHED, CLOSE_WAIT)
                and self.fin_seq is None and not self._finished):  # fmt: skip
            # --graceful: the orderly close, FIN first; the runner goes on until it is
            # over (bounded by the close's own timers), and a second Ctrl-C resets.
            self._note(now, f"interrupted in {self.state}: closing with FIN (--graceful)")
            return self._send_fin(now)
        if self.state in (ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT,
                          CLOSING, LAST_ACK) and not self._finished:  # fmt: skip
            self._note(now, f"interrupted in {self.state}: reset the connection")
            sends = self._send_reset(now)
        elif self.outcome is None:
            self._note(now, f"interrupted in {self.state}")
        if self.outcome is None:
            self.outcome = Outcome("filtered", "interrupted")
        self._finished = True
        return sends

    # --- results --------------------------------------------------------------------
    @property
    def t0(self) -> int:
        """Time zero of the timeline: the first SYN leaving (kernel time when seen)."""
        for row in self.timeline:
            if isinstance(row, Segment) and row.dir == "out":
                return row.ts_ns
        return self._start_ns

    def segments(self) -> list[Segment]:
        return [row for row in self.timeline if isinstance(row, Segment)]

    # --- sending --------------------------------------------------------------------
    def _tsval(self, now: int) -> int:
        # A millisecond clock from the start, offset at random (as Linux does per flow).
        return (self.ts_base + max(0, now - self._start_ns) // 1_000_000) % MOD

    def _send_syn(self, now: int) -> list[Send]:
        self.syn_sent += 1
        tsval = self._tsval(now) + self.syn_sent - 1  # distinct per SYN: the echo says which
        options = [("MSS", self.conn.mss), ("SAckOK", b""), ("Timestamp", (tsval, 0)),
                   ("NOP", None), ("WScale", self.wscale)]  # fmt: skip
        self._set_state(SYN_SENT, "active OPEN: SYN sent")
        self.snd_nxt = (self.isn + 1) % MOD
        note = f"retransmission {self.syn_sent}/{self.tries}" if self.syn_sent > 1 else ""
        send = self._segment(now, SYN, self.isn, 0, self.window, options, note, tsval)
        self._arm(now + self.rto_ns * (1 << (self.syn_sent - 1)), "syn")
        return [send]

    def _our_options(self, now: int) -> tuple[list[tuple[str, Any]], int | None]:
        if self.ts_recent is None:
            return [], None
        tsval = self._tsval(now)
        return [("NOP", None), ("NOP", None), ("Timestamp", (tsval, self.ts_recent))], tsval

    def _our_window(self) -> int:
        return self.window >> self.wscale if self.peer_wscale is not None else self.window

    def _send_ack(self, now: int, note: str = "") -> Send:
        options, tsval = self._our_options(now)
        return self._segment(now, ACK, self.snd_nxt, self.rcv_nxt, self._our_window(), options,
                             note, tsval)  # fmt: skip

    def _send_fin(self, now: int, retransmit: bool = False) -> list[Send]:
        self.fin_sent += 1
        if self.fin_seq is None:
            self.fin_seq = self.snd_nxt
            self.snd_nxt = (self.snd_nxt + 1) % MOD
        if not retransmit:
            self._set_state(LAST_ACK if self.state == CLOSE_WAIT else FIN_WAIT_1, "CLOSE: FIN sent")
        options, tsval = self._our_options(now)
        note = f"retransmission {self.fin_sent}/{self.tries}" if retransmit else ""
        send = self._segment(now, FIN | ACK, self.fin_seq, self.rcv_nxt, self._our_window(),
                             options, note, tsval)  # fmt: skip
        self._arm(now + self.rto_ns * (1 << (self.fin_sent - 1)), "fin")
        return [send]

    def _send_reset(self, now: int) -> list[Send]:
        # RST with ACK, as Linux's active reset: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>.
        self._set_state(CLOSED, "ABORT: RST sent")
        send = self._segment(now, RST | ACK, self.snd_nxt, self.rcv_nxt, 0, [], "our reset")
        self._finished = True
        return [send]

    def _send_data(self, now: int, rewind: bool = False, restart: bool = False) -> list[Send]:
        """Segments of our data from SND.NXT (SND.UNA on rewind), within the window."""
        if rewind:
            self.snd_nxt = self.snd_una
        end = (self.data_seq + len(self.data)) % MOD
        sends: list[Send] = []
        while seq_lt(self.snd_nxt, end):
            offset = (self.snd_nxt - self.data_seq) % MOD
            room = self.snd_wnd - (self.snd_nxt - self.snd_una) % MOD
            size = min(self.smss, len(self.data) - offset, room)
            if size <= 0:
                break  # the window is full: wait for an ACK
            chunk = self.data[offset : offset + size]
            last = offset + size == len(self.data)
            options, tsval = self._our_options(now)
            note = "retransmission" if seq_lt(self.snd_nxt, self.snd_max) else ""
            sends.append(self._segment(now, (PSH | ACK) if last else ACK, self.snd_nxt,
                                       self.rcv_nxt, self._our_window(), options, note, tsval,
                                       chunk))  # fmt: skip
            self.snd_nxt = (self.snd_nxt + size) % MOD
        if self.snd_una != end and (rewind or restart or self._timer_ns is None):
            self._arm(now + self.rto_ns * (1 << self.data_tries), "data")
        return sends

    def _data_acked(self, now: int) -> list[Send]:
        """All our data is acknowledged: hold, then close (or close now)."""
        self.data_done = True
        self._timer_ns = None
        if self.hold_ns:
            self._arm(now + self.hold_ns, "hold")
            return []
        return self._close(now)

    def _close(self, now: int) -> list[Send]:
        if self.reset:
            return self._send_reset(now)
        return self._send_fin(now)

    def _segment(self, now: int, flags: int, seq: int, ack: int, win: int,
                 options: list[tuple[str, Any]], note: str = "",
                 tsval: int | None = None, payload: bytes = b"") -> Send:  # fmt: skip
        c = self.conn
        rel_ack = (ack - self.irs) % MOD if (flags & ACK and self.irs is not None) else None
        row = Segment("out", flags, seq, ack if flags & ACK else 0, win, len(payload), options,
                      now, self.state, (seq - self.isn) % MOD, rel_ack, note, tsval=tsval,
                      data=payload)  # fmt: skip
        self.timeline.append(row)
        self._events.append(row)
        end = (seq + len(payload) + (1 if flags & (SYN | FIN) else 0)) % MOD
        if seq_lt(self.snd_max, end):
            self.snd_max = end
        data = build_segment(c, flags, seq, ack if flags & ACK else 0, win, options, payload)
        return Send(data, dest=c.dst, family=c.family, tag=row)

    # --- receiving ------------------------------------------------------------------
    def _seen_leaving(self, p: _Parsed, ts: int) -> None:
        for row in self.timeline:
            if (isinstance(row, Segment) and row.dir == "out" and not row.seen
                    and (row.flags, row.seq, row.ack) == (p.flags, p.seq, p.ack)):  # fmt: skip
                row.ts_ns, row.seen = ts, True
                return

    def _record_in(self, p: _Parsed, ts: int, note: str = "") -> Segment:
        rel_seq = (p.seq - self.irs) % MOD if self.irs is not None else None
        rel_ack = (p.ack - self.isn) % MOD if p.flags & ACK else None
        row = Segment("in", p.flags, p.seq, p.ack if p.flags & ACK else 0, p.win, p.length,
                      p.options, ts, self.state, rel_seq, rel_ack, note,
                      data=p.payload)  # fmt: skip
        self.timeline.append(row)
        self._events.append(row)
        return row

    def _on_segment(self, p: _Parsed, ts: int, now: int) -> list[Send]:
        if self.state == SYN_SENT:
            return self._on_segment_syn_sent(p, ts, now)
        if self.state == CLOSED:
            self._record_in(p, ts, "after close: ignored")
            return []
        return self._on_segment_synchronized(p, ts, now)

    def _on_segment_syn_sent(self, p: _Parsed, ts: int, now: int) -> list[Send]:
        # RFC 9293 §3.10.7.3, SYN-SENT STATE.
        acceptable = None
        if p.flags & ACK:
            acceptable = p.ack == self.snd_nxt  # SND.UNA < SEG.ACK <= SND.NXT with nothing else
            if not acceptable:
                if p.flags & RST:
                    self._record_in(p, ts, "reset with an unexpected ACK: ignored")
                    return []
                self._record_in(p, ts, f"unexpected ACK {p.ack} (expected {self.snd_nxt})")
                # <SEQ=SEG.ACK><CTL=RST>, and stay in SYN_SENT (our SYN may still be answered).
                return [self._segment(now, RST, p.ack, 0, 0, [], "reset for the bad ACK")]
        if p.flags & RST:
            if acceptable:
                self._set_state(CLOSED, "RST received")
                self._record_in(p, ts, "connection refused")
                self._finish("closed", "reset by the server (port closed)")
            else:
                self._record_in(p, ts, "reset without ACK: ignored")
            return []
        if not p.flags & SYN:
            self._record_in(p, ts, "ignored")
            return []
        if not acceptable:  # a bare SYN: simultaneous open, which we do not play
            self._record_in(p, ts, "SYN without ACK (simultaneous open): ignored")
            return []
        # SYN-ACK for our SYN: the port is open.
        self.irs = p.seq
        self.rcv_nxt = (p.seq + 1) % MOD
        self.snd_una = p.ack
        self.server_options = p.options
        self.server_window = p.win
        opts = dict(p.options)
        if "Timestamp" in opts and any(n == "Timestamp" for n, _ in self._syn_options()):
            self.ts_recent = opts["Timestamp"][0]
        if "WScale" in opts:
            self.peer_wscale = opts["WScale"]
        self.snd_wnd = p.win  # never scaled in a SYN
        opt_len = 12 if self.ts_recent is not None else 0  # NOP, NOP, Timestamp
        self.smss = max(1, min(opts.get("MSS", 536), self.conn.mss) - opt_len)
        self._set_state(ESTABLISHED, "SYN-ACK received")
        synack = self._record_in(p, ts)
        rtt = self._rtt(synack, opts.get("Timestamp"))
        self._finish("open", "", rtt)
        sends = [self._send_ack(now)]
        self._timer_ns = None
        if self.data:
            sends += self._send_data(now)
        elif self.hold_ns:
            self._arm(now + self.hold_ns, "hold")
        else:
            sends += self._close(now)
        return sends

    def _syn_options(self) -> list[tuple[str, Any]]:
        for row in self.timeline:
            if isinstance(row, Segment) and row.dir == "out" and row.flags == SYN:
                return row.options
        return []

    def _rtt(self, synack: Segment, ts_opt: tuple[int, int] | None) -> float | None:
        syns = [r for r in self.timeline
                if isinstance(r, Segment) and r.dir == "out" and r.flags == SYN]  # fmt: skip
        if not syns:
            return None
        syn = syns[-1]
        if ts_opt is not None:  # the echoed TSval names the SYN this SYN-ACK answers
            for candidate in syns:
                if candidate.tsval == ts_opt[1]:
                    syn = candidate
        return (synack.ts_ns - syn.ts_ns) / 1e6

    def _on_segment_synchronized(self, p: _Parsed, ts: int, now: int) -> list[Send]:
        # RFC 9293 §3.10.7.4, "Otherwise": sequence check, RST, SYN, ACK, data, FIN.
        rcv_wnd = self.window
        in_window = not seq_lt(p.seq, self.rcv_nxt) and seq_lt(p.seq, self.rcv_nxt + rcv_wnd)
        if p.flags & RST:
            if p.seq == self.rcv_nxt or (self.state == TIME_WAIT and in_window):
                self._set_state(CLOSED, "RST received")
                self._record_in(p, ts, "connection reset by the server")
                self._timer_ns = None
                self._finished = True
                return []
            if in_window:  # RFC 5961 §3.2: challenge ACK, the sender must prove it
                self._record_in(p, ts, "in-window reset, not exact: challenge ACK")
                return [self._send_ack(now, "challenge ACK")]
            self._record_in(p, ts, "reset outside the window: ignored")
            return []
        if p.flags & SYN:  # a retransmitted SYN-ACK (our ACK was lost) or a bad SYN
            self._record_in(p, ts, "SYN in a synchronized state")
            return [self._send_ack(now, "ACK again")]
        if not p.flags & ACK:
            self._record_in(p, ts, "no ACK bit: ignored")
            return []
        if p.seq != self.rcv_nxt:  # old duplicate (a retransmitted FIN) or out of order
            if self.state == TIME_WAIT and p.flags & FIN:
                # RFC 9293: acknowledge it and restart the 2×MSL timeout.
                self._record_in(p, ts, "retransmitted FIN: TIME_WAIT restarted")
                self._arm(now + self._time_wait_ns(), "timewait")
                return [self._send_ack(now, "ACK again")]
            self._record_in(p, ts, "not the next sequence number")
            return [self._send_ack(now, "duplicate ACK")]
        if "Timestamp" in dict(p.options) and self.ts_recent is not None:
            self.ts_recent = dict(p.options)["Timestamp"][0]
        fin_acked = self.fin_seq is not None and not seq_lt(p.ack, (self.fin_seq + 1) % MOD)
        advanced = seq_lt(self.snd_una, p.ack) and not seq_lt(self.snd_max, p.ack)
        if advanced:
            self.snd_una = p.ack
            self.data_tries = 0
            if seq_lt(self.snd_nxt, p.ack):  # acknowledged beyond a go-back-N rewind
                self.snd_nxt = p.ack
        if advanced or p.ack == self.snd_una:  # RFC 9293: SND.WND from acceptable ACKs
            self.snd_wnd = p.win << (self.peer_wscale or 0)
        need_ack = False
        if p.length:
            self.rcv_nxt = (self.rcv_nxt + p.length) % MOD
            self.received += p.payload
            need_ack = True
        fin = bool(p.flags & FIN)
        if fin:
            self.rcv_nxt = (self.rcv_nxt + 1) % MOD
            need_ack = True
        before = self.state
        after = before
        if before == ESTABLISHED and fin:
            after = CLOSE_WAIT
        elif before == FIN_WAIT_1:
            if fin_acked and fin:
                after = TIME_WAIT
            elif fin_acked:
                after = FIN_WAIT_2
            elif fin:
                after = CLOSING  # simultaneous close: both FINs crossed
        elif (before == FIN_WAIT_2 and fin) or (before == CLOSING and fin_acked):
            after = TIME_WAIT
        elif before == LAST_ACK and fin_acked:
            after = CLOSED
        self._set_state(after, "segment")
        self._record_in(p, ts)
        sends = [self._send_ack(now)] if need_ack else []
        if after != before and after in (FIN_WAIT_2, TIME_WAIT, CLOSED, CLOSING):
            self._timer_ns = None
        if after == TIME_WAIT:
            self._arm(now + self._time_wait_ns(), "timewait")  # re-ACK a retransmitted FIN
        elif after == CLOSED:
            self._finished = True
        elif after == FIN_WAIT_2:
            self._arm(now + self.rto_ns * (1 << self.tries), "timewait")  # FIN_WAIT_2 timeout
        elif after == CLOSE_WAIT and self.data_done:
            self._timer_ns = None
            sends += self._close(now)
        elif before == TIME_WAIT and fin:
            self._arm(now + self._time_wait_ns(), "timewait")
        if not self.data_done and after in (ESTABLISHED, CLOSE_WAIT):
            if self.snd_una == (self.data_seq + len(self.data)) % MOD:
                sends += self._data_acked(now)
            else:
                sends += self._send_data(now, restart=advanced)
        return sends

    def _on_icmp(self, p: _Parsed, ts: int) -> list[Send]:
        assert p.icmp is not None
        icmp_type, code, q_src, q_dst, q_sport, q_dport = p.icmp
        c = self.conn
        if (q_src, q_dst, q_sport, q_dport) != (c.src, c.dst, c.sport, c.dport):
            return []
        from netlab.core.echo import error_reason

        reason = f"{error_reason(c.family, icmp_type, code)} from {p.src}"
        too_big = (icmp_type, code) == (3, 4) if c.family == 4 else icmp_type == 2
        if too_big:
            return self._on_too_big(p, ts, reason)
        self._note(ts, reason)
        if self.state == SYN_SENT:
            self._set_state(CLOSED, "ICMP error")
            self._finish("filtered", reason)
            self._finished = True
        return []

    def _on_too_big(self, p: _Parsed, ts: int, reason: str) -> list[Send]:
        # Path MTU discovery (RFC 1191 / 8201): smaller segments, resent from SND.UNA.
        opt_len = 12 if self.ts_recent is not None else 0
        header = 40 if self.conn.family == 4 else 60
        smss = p.mtu - header - opt_len
        if p.mtu <= header + opt_len or self.smss == 0 or smss >= self.smss:
            self._note(ts, reason)
            return []
        self.smss = smss
        self._note(ts, f"{reason}, MTU {p.mtu}: segments of {smss} bytes from now on")
        if not self.data_done and self.state in (ESTABLISHED, CLOSE_WAIT):
            return self._send_data(ts, rewind=True)
        return []

    # --- helpers --------------------------------------------------------------------
    def _time_wait_ns(self) -> int:
        return self.time_wait_ns if self.time_wait_ns is not None else self.linger_ns

    def _set_state(self, state: str, event: str) -> None:
        """Every state change goes through here: `states` (the path) and `machine.history`
        (each step with its time and cause) are what the timeline and the tests read."""
        if state != self.state or not self.states:
            self.states.append(state)
        self.machine.move(state, event, self._now)
        self.state = state

    def _arm(self, when: int, kind: str) -> None:
        self._timer_ns, self._timer_kind = when, kind

    def _note(self, now: int, text: str) -> None:
        note = Note(now, text, self.state)
        self.timeline.append(note)
        self._events.append(note)

    def _finish(self, result: str, reason: str = "", rtt: float | None = None) -> None:
        if self.outcome is None:
            self.outcome = Outcome(result, reason, rtt)
        if result != "open":
            self._timer_ns = None
            self._finished = True


# --- building segments (Scapy) -----------------------------------------------------------
def build_segment(conn: Conn, flags: int, seq: int, ack: int, win: int,
                  options: list[tuple[str, Any]], payload: bytes = b"") -> bytes:  # fmt: skip
    from scapy.layers.inet import TCP

    tcp = TCP(sport=conn.sport, dport=conn.dport, flags=flags, seq=seq, ack=ack, window=win,
              options=options)  # fmt: skip
    if conn.family == 4:
        from scapy.layers.inet import IP

        return bytes(IP(src=conn.src, dst=conn.dst, ttl=64, flags="DF", id=0) / tcp / payload)
    from scapy.layers.inet6 import IPv6

    return bytes(IPv6(src=conn.src, dst=conn.dst, hlim=64) / tcp / payload)


# --- parsing (struct, no Scapy: fast and never raising) ------------------------------------
parse_options = option_list  # the one TCP-options walker, shared with the dissector


def parse_frame(frame: LinkFrame, family: int) -> _Parsed | None:
    found = frame_ip(frame, family)
    if found is None:
        return None
    try:
        return _parse_ip(*found)
    except (IndexError, struct.error, ValueError):
        return None


def _parse_ip(data: bytes, ip: IpHeader) -> _Parsed | None:
    proto, src, dst, p, end = ip.proto, ip.src, ip.dst, ip.payload, ip.end
    if proto == 6:
        sport, dport, seq, ack, doff_flags, win = struct.unpack_from("!HHIIHH", data, p)
        hlen = (doff_flags >> 12) * 4
        options = parse_options(data[p + 20 : p + hlen])
        payload = data[p + hlen : end]
        return _Parsed(src, dst, sport, dport, seq, ack, doff_flags & 0xFF, win, options,
                       len(payload), payload)  # fmt: skip
    if proto == (1 if ip.version == 4 else 58):
        icmp_type, code = data[p], data[p + 1]
        # destination unreachable (with "fragmentation needed"), or ICMPv6 packet too big
        if icmp_type not in ((3,) if ip.version == 4 else (1, 2)):
            return None
        if ip.version == 4:
            mtu = int.from_bytes(data[p + 6 : p + 8], "big") if code == 4 else 0
        else:
            mtu = int.from_bytes(data[p + 4 : p + 8], "big") if icmp_type == 2 else 0
        quoted = ip_header(data, p + 8, ip.version)
        if quoted.proto != 6:
            return None
        q_sport, q_dport = struct.unpack_from("!HH", data, quoted.payload)
        return _Parsed(src, dst, 0, 0, 0, 0, 0, 0, [], 0, b"", mtu,
                       (icmp_type, code, quoted.src, quoted.dst, q_sport, q_dport))  # fmt: skip
    return None


# --- --connect: the kernel's handshake, read back from TCP_INFO ------------------------------
TCPI_OPT_TIMESTAMPS, TCPI_OPT_SACK, TCPI_OPT_WSCALE, TCPI_OPT_ECN = 0x01, 0x02, 0x04, 0x08


@dataclass(frozen=True)
class TcpInfo:
    """The part of Linux's struct tcp_info (linux/tcp.h) that describes the handshake."""

    state: int
    options: int  # tcpi_options: TCPI_OPT_* bits
    snd_wscale: int  # the server's window scale (applied to its windows)
    rcv_wscale: int  # ours
    snd_mss: int
    rtt_us: int  # smoothed RTT; right after connect() the SYN → SYN-ACK sample
    rttvar_us: int

    @property
    def rtt_ms(self) -> float | None:
        return self.rtt_us / 1000 if self.rtt_us else None  # 0: no sample (Karn)

    def options_dict(self) -> dict[str, Any]:
        wscale = bool(self.options & TCPI_OPT_WSCALE)
        return {
            "sack": bool(self.options & TCPI_OPT_SACK),
            "timestamps": bool(self.options & TCPI_OPT_TIMESTAMPS),
            "wscale": wscale,
            "snd_wscale": self.snd_wscale if wscale else None,
            "rcv_wscale": self.rcv_wscale if wscale else None,
            "snd_mss": self.snd_mss,
            "ecn": bool(self.options & TCPI_OPT_ECN),
        }


def parse_tcp_info(raw: bytes) -> TcpInfo:
    """struct tcp_info in host byte order: eight u8, then u32 (snd_mss at offset 16, rtt
    and rttvar at 68 and 72, in µs)."""
    state, _ca, _retr, _probes, _backoff, options, scales = struct.unpack_from("=7B", raw)
    # __u8 tcpi_snd_wscale : 4, tcpi_rcv_wscale : 4: the first bit-field is in the low
    # bits on little-endian ABIs, the high bits on big-endian ones.
    import sys

    low, high = scales & 0x0F, scales >> 4
    snd, rcv = (low, high) if sys.byteorder == "little" else (high, low)
    (snd_mss,) = struct.unpack_from("=I", raw, 16)
    rtt, rttvar = struct.unpack_from("=II", raw, 68)
    return TcpInfo(state, options, snd, rcv, snd_mss, rtt, rttvar)
