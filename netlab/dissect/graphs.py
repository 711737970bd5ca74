"""The series behind `--plot`: Wireshark's I/O graph, TCP stream graphs and flow graph.

Each graph is a tap (`add(pkt)` for every packet the view shows, as `stats.py`'s are)
that keeps only what its picture needs, and `series()` returns the numbers as plain
data: the JSON of `--plot … --json`, and what `render/plot.py` draws. Packets are read
through the dissector's named headers (`Layer.hdr`: TcpHeader; `Layer.extra`: TcpState
with tcp.stream, the relative numbers, the scaled window and tcp.analysis.*), never
re-parsed, so the values are the dissector's (which tests hold to tshark's).

| --plot KIND              | Wireshark                   | series                                  |
|--------------------------|-----------------------------|-----------------------------------------|
| io[,SECONDS[,FILTER…]]   | I/O graph, -z io,stat       | frames and bytes per interval, per filter |
| tcp-seq,STREAM           | Stevens (tcptrace) graph    | tcp.seq of data segments, ACK line, window line, SACK, retransmissions, dup ACKs |
| tcp-rtt,STREAM           | Round Trip Time graph       | tcp.analysis.ack_rtt per ACK            |
| tcp-throughput,STREAM    | Throughput graph            | segment bytes, moving average in bit/s  |
| tcp-window,STREAM        | Window Scaling graph        | receive window, bytes outstanding       |
| flow[,STREAM]            | Flow graph (TCP flows)      | one arrow per segment: flags, seq/ack   |

A TCP graph shows the stream's busier sender (more payload bytes), as Wireshark's
stream graphs start from the direction that carries the data.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from netlab.dissect.model import Packet, address_text
from netlab.dissect.stats import IoStat, parse_interval

KINDS = ("io", "tcp-seq", "tcp-rtt", "tcp-throughput", "tcp-window", "flow")
MASK = 0xFFFFFFFF
# Points kept per graph: a plot of more is a blur, and memory stays bounded on any
# capture. Past it, points are dropped (the series says how many) and totals go on.
MAX_POINTS = 200_000
MAX_FLOW_ARROWS = 5_000
MAX_INTERVALS = 1_000_000  # I/O graph rows (each a few numbers in every series)
THROUGHPUT_WINDOW_NS = 1_000_000_000  # Wireshark's throughput graph: 1 s moving average
Origin = Callable[[], "int | None"]


def parse_plot_spec(spec: str, origin: Origin | None = None):
    """The graph for one --plot SPEC; ValueError (a usage error) when it is wrong."""
    name, _, rest = spec.strip().partition(",")
    name = name.strip().lower()
    if name == "io":
        return _io_graph(rest, origin)
    if name in _TCP_GRAPHS:
        return _TCP_GRAPHS[name](_stream_arg(name, rest), origin)
    if name == "flow":
        return FlowGraph(_stream_arg(name, rest) if rest.strip() else None, origin)
    raise ValueError(
        f"{spec!r}: expected io[,SECONDS[,FILTER…]], tcp-seq,STREAM, tcp-rtt,STREAM, "
        "tcp-throughput,STREAM, tcp-window,STREAM or flow[,STREAM]"
    )


def _stream_arg(name: str, text: str) -> int:
    text = text.strip()
    if not text.isdigit():
        raise ValueError(f"{name},{text}: STREAM is a tcp.stream number (0, 1, …)")
    return int(text)


def _io_graph(rest: str, origin: Origin | None) -> IoGraph:
    parts = [p.strip() for p in rest.split(",")] if rest.strip() else []
    interval = parts[0] if parts else "1"
    parse_interval(interval)  # raises ValueError with the reason
    filters = [p for p in parts[1:] if p]
    return IoGraph(interval, filters, origin)


def _rel(clock_origin: int | None, ts_ns: int) -> float:
    """Seconds since the capture's first frame, to the microsecond."""
    return round((ts_ns - (clock_origin if clock_origin is not None else ts_ns)) / 1e9, 6)


class _Origin:
    """The capture's first frame time: from the view when it tells, else the first seen."""

    def __init__(self, origin: Origin | None) -> None:
        self.origin = origin
        self.first_ns: int | None = None

    def see(self, ts_ns: int) -> int:
        if self.first_ns is None:
            start = self.origin() if self.origin is not None else None
            self.first_ns = start if start is not None else ts_ns
        return self.first_ns


# --- I/O graph --------------------------------------------------------------------------


class IoGraph:
    """Frames and bytes per interval, for all packets and for each display filter: the
    numbers of `tshark -q -z io,stat,SECONDS,FILTER…` (stats.IoStat's intervals, one
    clock for every column, so all series share the capture's duration)."""

    kind = "io"

    def __init__(self, interval: str = "1", filters: list[str] | tuple[str, ...] = (),
                 origin: Origin | None = None) -> None:  # fmt: skip
        from netlab.dissect.filter import compile_filter  # a bad filter: InputError, exit 2

        self.interval = interval
        self.total = IoStat(interval, origin=origin)
        self.columns = []
        for text in filters:
            stat = IoStat(interval)
            stat.clock = self.total.clock  # the capture's duration, not the column's
            self.columns.append((text, compile_filter(text), stat))
        # Without filters only frame times and lengths count: frames need no dissection.
        self.needs_packets = bool(self.columns)

    def add(self, pkt: Any) -> None:
        """A Packet, or (without filters) any frame with ts_ns and wirelen."""
        self.total.add(pkt)
        for _text, flt, stat in self.columns:
            if flt.matches(pkt):
                stat.add(pkt)

    def check(self) -> str | None:
        """Too many intervals to draw or keep (a µs interval over an hour): say so."""
        first, last = self.total.clock.first_ns, self.total.clock.last_ns
        if first is None or last is None or not self.total.interval_us:
            return None
        count = (last - first) // 1000 // self.total.interval_us + 1
        if count > MAX_INTERVALS:
            return (f"{count:,} intervals of {self.interval} s: at most {MAX_INTERVALS:,}; "
                    "give a longer interval")  # fmt: skip
        return None

    def series(self) -> dict[str, Any]:
        if self.check() is not None:
            return {"plot": "io", "interval": self.total.interval_us / 1e6, "duration": None,
                    "x": "time", "series": []}  # fmt: skip
        duration, interval, _dec, rows = self.total.table()
        out = [_io_series("all frames", None, rows)]
        for text, _flt, stat in self.columns:
            _d, _i, _dec, frows = stat.table()
            out.append(_io_series(text, text, _align(frows, rows)))
        return {"plot": "io", "interval": interval / 1e6, "duration": duration / 1e6,
                "x": "time", "series": out}  # fmt: skip


def _align(rows: list, full: list) -> list:
    """A filter column's rows on the capture's intervals (zeros where it saw nothing)."""
    if not full:
        return []
    counts = {start: (frames, size) for start, _end, frames, size in rows}
    return [(s, e, *counts.get(s, (0, 0))) for s, e, _f, _b in full]


def _io_series(label: str, flt: str | None, rows: list) -> dict[str, Any]:
    return {
        "label": label,
        "filter": flt,
        "start": [s / 1e6 for s, _e, _f, _b in rows],
        "end": [e / 1e6 for _s, e, _f, _b in rows],
        "frames": [f for _s, _e, f, _b in rows],
        "bytes": [b for _s, _e, _f, b in rows],
    }


# --- TCP stream graphs -------------------------------------------------------------------


def tcp_layer(pkt: Packet):
    """The packet's TCP layer that belongs to a stream (not one quoted in an ICMP error)."""
    for layer in pkt.layers:
        if layer.proto == "tcp" and layer.extra is not None:
            return layer
    return None


class _Segment:
    """One segment of the graphed stream, as the TCP graphs need it."""

    __slots__ = ("ack", "analysis", "flags", "len", "no", "rel_ack", "rel_seq", "rtt", "sack",
                 "seq", "side", "t", "ts_ns", "win")  # fmt: skip


# Every kind of segment that repeats (or seems to repeat) data is a retransmission on
# the graph (Wireshark's fast and spurious ones carry tcp.analysis.retransmission too).
_REPEATS = ("retransmission", "fast_retransmission", "spurious_retransmission", "out_of_order")


def _marks(analysis: list) -> list[str]:
    """tcp.analysis mark names; "retransmission" added for the other repeating kinds."""
    marks = [a[0] for a in analysis]
    if "retransmission" not in marks and any(m in _REPEATS for m in marks):
        marks.append("retransmission")
    return marks


class TcpGraph:
    """The segments of one tcp.stream, both directions, with what tshark computes for
    each: tcp.seq/tcp.ack (relative), tcp.len, tcp.window_size (scaled),
    tcp.analysis.* from the dissector, tcp.analysis.ack_rtt / acks_frame among them
    (dissect/tcp.py follows Wireshark's tcp_analyze_sequence_number)."""

    kind = "tcp"
    needs_packets = True

    def __init__(self, stream: int, origin: Origin | None = None) -> None:
        self.stream = stream
        self.clock = _Origin(origin)
        self.segments: list[_Segment] = []
        self.dropped = 0
        self.ends: list[str] = []  # "addr:port" of side 0 (the first sender) and side 1
        self.payload = [0, 0]
        self._first_src: tuple[bytes, int] | None = None

    def add(self, pkt: Packet) -> None:
        first = self.clock.see(pkt.ts_ns)
        layer = tcp_layer(pkt)
        if layer is None or layer.extra.stream != self.stream:
            return
        hdr, st = layer.hdr, layer.extra
        src = (pkt.src_raw, hdr.sport)
        if self._first_src is None:
            self._first_src = src
            self.ends = [_endpoint(*src), _endpoint(pkt.dst_raw, hdr.dport)]
        side = 0 if src == self._first_src else 1
        seg_len = st.seg_len or 0
        self.payload[side] += seg_len
        found = st.seq_ack  # the dissector's tcp.analysis values (acks_frame, ack_rtt …)
        rtt = (found[1] / 1e9, found[0]) if found is not None and found[1] else None
        if len(self.segments) >= MAX_POINTS:
            self.dropped += 1
            return
        seg = _Segment()
        seg.no, seg.ts_ns, seg.t, seg.side = pkt.no, pkt.ts_ns, _rel(first, pkt.ts_ns), side
        seg.seq, seg.ack, seg.flags = hdr.seq, hdr.ack, hdr.flags
        seg.rel_seq, seg.rel_ack, seg.len, seg.win = st.rel_seq, st.rel_ack, seg_len, st.window
        seg.analysis = _marks(st.analysis)
        seg.rtt = rtt  # (tcp.analysis.ack_rtt in s, tcp.analysis.acks_frame) or None
        sack = st.options.get("sack")
        # SACK edges are the other side's sequence numbers: relative to the base its ACK
        # numbers are relative to (tshark shows them relative too).
        seg.sack = [((le - hdr.ack + st.rel_ack) & MASK, (re_ - hdr.ack + st.rel_ack) & MASK)
                    for le, re_ in sack] if sack and hdr.flags & 0x10 else []  # fmt: skip
        self.segments.append(seg)

    def sender(self) -> int:
        """The side that sent more payload (side 0 on a tie)."""
        return 1 if self.payload[1] > self.payload[0] else 0

    def _head(self, plot: str) -> dict[str, Any]:
        s = self.sender()
        return {"plot": plot, "stream": self.stream,
                "sender": self.ends[s] if self.ends else None,
                "receiver": self.ends[1 - s] if self.ends else None,
                "dropped_points": self.dropped}  # fmt: skip

    def check(self) -> str | None:
        """Why there is nothing to draw, or None."""
        if not self.segments:
            return f"tcp.stream {self.stream} is not in the capture"
        return None


class TcpSeqGraph(TcpGraph):
    """Stevens / tcptrace graph: the sender's data segments (tcp.seq … tcp.seq + tcp.len
    over time), the receiver's ACK line (tcp.ack), its window line (ack + window), its
    SACK blocks; retransmissions and duplicate ACKs marked."""

    def series(self) -> dict[str, Any]:
        s = self.sender()
        data, acks = [], []
        for seg in self.segments:
            if seg.side == s and (seg.len or seg.flags & 0x03):
                data.append({"no": seg.no, "time": seg.t, "seq": seg.rel_seq, "len": seg.len,
                             "flags": _flag_text(seg.flags),
                             "retransmission": "retransmission" in seg.analysis})  # fmt: skip
            elif seg.side != s and seg.flags & 0x10:
                acks.append({"no": seg.no, "time": seg.t, "ack": seg.rel_ack, "window": seg.win,
                             "window_edge": seg.rel_ack + seg.win,
                             "duplicate_ack": "duplicate_ack" in seg.analysis,
                             "sack": [list(b) for b in seg.sack]})  # fmt: skip
        return {**self._head("tcp-seq"), "x": "time", "y": "tcp.seq",
                "segments": data, "acks": acks}  # fmt: skip


class TcpRttGraph(TcpGraph):
    """tcp.analysis.ack_rtt of each of the receiver's ACKs that acknowledges the end of
    a segment of the sender, against time and the acknowledged sequence number."""

    def series(self) -> dict[str, Any]:
        s = self.sender()
        points = []
        for seg in self.segments:
            found = seg.rtt
            if seg.side != s and found is not None:
                points.append({"no": seg.no, "time": seg.t, "ack": seg.rel_ack,
                               "ack_rtt": round(found[0], 9), "acks_frame": found[1]})  # fmt: skip
        return {**self._head("tcp-rtt"), "x": "time", "y": "tcp.analysis.ack_rtt",
                "points": points}  # fmt: skip

    def all_rtts(self) -> dict[int, tuple[float, int]]:
        """Every frame of the stream (both directions) with an ack_rtt: for tests."""
        return {seg.no: seg.rtt for seg in self.segments if seg.rtt is not None}


class TcpThroughputGraph(TcpGraph):
    """The sender's segment sizes and their moving average over the last second in bit/s
    (Wireshark's throughput graph, 1 s window): bytes of the segments in (t - 1 s, t]
    over the time they span (at least 1 ms apart, else the segment's own bytes)."""

    def series(self) -> dict[str, Any]:
        s = self.sender()
        window: deque = deque()
        total = 0
        points = []
        for seg in self.segments:
            if seg.side != s or not seg.len:
                continue
            window.append((seg.ts_ns, seg.len))
            total += seg.len
            while window[0][0] <= seg.ts_ns - THROUGHPUT_WINDOW_NS:
                total -= window.popleft()[1]
            span = (seg.ts_ns - window[0][0]) / 1e9
            bits = total * 8 / span if span >= 0.001 and len(window) > 1 else None
            points.append({"no": seg.no, "time": seg.t, "len": seg.len,
                           "throughput_bps": None if bits is None else round(bits, 3)})  # fmt: skip
        return {**self._head("tcp-throughput"), "x": "time", "y": "bits/s",
                "window_s": THROUGHPUT_WINDOW_NS / 1e9, "points": points}  # fmt: skip


class TcpWindowGraph(TcpGraph):
    """Window scaling graph: the receiver's advertised window (tcp.window_size) at each
    of its segments, and the sender's outstanding bytes (highest seq + len sent minus the
    last ACK heard: the seq-based count, not tshark's default bytes_in_flight, which sums
    the unacknowledged segments) at each of its data segments."""

    def series(self) -> dict[str, Any]:
        s = self.sender()
        rwin, flight = [], []
        highest: int | None = None
        last_ack: int | None = None
        for seg in self.segments:
            if seg.side != s:
                rwin.append({"no": seg.no, "time": seg.t, "window": seg.win})
                if seg.flags & 0x10:
                    last_ack = seg.rel_ack
                continue
            end = seg.rel_seq + seg.len
            if highest is None or end > highest:
                highest = end
            if seg.len and last_ack is not None:
                flight.append({"no": seg.no, "time": seg.t, "bytes": max(0, highest - last_ack)})
        return {**self._head("tcp-window"), "x": "time", "y": "bytes",
                "window": rwin, "in_flight": flight}  # fmt: skip


_TCP_GRAPHS: dict[str, type[TcpGraph]] = {
    "tcp-seq": TcpSeqGraph,
    "tcp-rtt": TcpRttGraph,
    "tcp-throughput": TcpThroughputGraph,
    "tcp-window": TcpWindowGraph,
}


# --- flow graph -------------------------------------------------------------------------


class FlowGraph:
    """A ladder diagram of TCP segments (Wireshark's flow graph, "TCP flows"): one arrow
    per segment from its source to its destination, with flags, relative seq/ack and
    length; nodes are the addresses with their ports, in the order first seen."""

    kind = "flow"
    needs_packets = True

    def __init__(self, stream: int | None = None, origin: Origin | None = None) -> None:
        self.stream = stream
        self.clock = _Origin(origin)
        self.nodes: dict[str, int] = {}
        self.arrows: list[dict[str, Any]] = []
        self.dropped = 0

    def add(self, pkt: Packet) -> None:
        first = self.clock.see(pkt.ts_ns)
        layer = tcp_layer(pkt)
        if layer is None or (self.stream is not None and layer.extra.stream != self.stream):
            return
        if len(self.arrows) >= MAX_FLOW_ARROWS:
            self.dropped += 1
            return
        hdr, st = layer.hdr, layer.extra
        src = _endpoint(pkt.src_raw, hdr.sport)
        dst = _endpoint(pkt.dst_raw, hdr.dport)
        for node in (src, dst):
            self.nodes.setdefault(node, len(self.nodes))
        self.arrows.append({
            "no": pkt.no, "time": _rel(first, pkt.ts_ns), "stream": st.stream,
            "from": src, "to": dst, "flags": _flag_text(hdr.flags),
            "seq": st.rel_seq, "ack": st.rel_ack if hdr.flags & 0x10 else None,
            "len": st.seg_len or 0, "win": st.window,
            "analysis": _marks(st.analysis),
        })  # fmt: skip

    def series(self) -> dict[str, Any]:
        return {"plot": "flow", "stream": self.stream, "nodes": list(self.nodes),
                "arrows": self.arrows, "dropped_points": self.dropped}  # fmt: skip

    def check(self) -> str | None:
        if not self.arrows:
            where = "" if self.stream is None else f" in tcp.stream {self.stream}"
            return f"no TCP segment{where} in the capture"
        return None


_INFO_FLAGS = ((0x02, "SYN"), (0x01, "FIN"), (0x04, "RST"), (0x08, "PSH"), (0x10, "ACK"),
               (0x20, "URG"), (0x40, "ECE"), (0x80, "CWR"))  # fmt: skip


def _flag_text(flags: int) -> str:
    """ "SYN, ACK" in the order the course writes a handshake (SYN first)."""
    return ", ".join(name for bit, name in _INFO_FLAGS if flags & bit)


def _endpoint(raw: bytes, port: int) -> str:
    addr = address_text(raw)
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"
