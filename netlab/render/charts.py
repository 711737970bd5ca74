"""Pictures from the numbers: each `--plot` series (the plain data `--json` prints) made
into a chart of `render/plot.py` (`XYChart`, `BarChart`, `Ladder`), which the terminal
view and the file writer (`render/plotfile.py`) both draw."""

from __future__ import annotations

from typing import Any

from netlab.render.plot import Arrow, BarChart, BarRow, Ladder, Series, XYChart


def chart_for(series: dict[str, Any]):
    """The chart of one series dict (its "plot" names the kind)."""
    return _CHARTS[series["plot"]](series)


def _io(s: dict[str, Any]) -> XYChart:
    interval, duration = s["interval"], s["duration"] or 0.0
    what = f"frames per {interval:g} s interval" if interval else "frames"
    chart = XYChart(f"I/O graph: {what} ({duration:g} s captured)", "time (s)", "frames",
                    y_min=0)  # fmt: skip
    for col in s["series"]:
        # Steps over each whole interval: the last one drawn to its end too.
        pts = list(zip(col["start"], col["frames"], strict=True))
        if pts:
            pts.append((col["end"][-1], col["frames"][-1]))
        chart.series.append(Series(col["label"], "step", pts))
    total = s["series"][0]
    chart.notes.append(
        f"{sum(total['frames'])} frames, {sum(total['bytes'])} bytes in "
        f"{len(total['start'])} interval(s); bytes per interval in --json"
    )
    return chart


def _stream_title(s: dict[str, Any], what: str) -> str:
    return f"{what}: tcp.stream {s['stream']}, {s['sender']} → {s['receiver']}"


def _tcp_seq(s: dict[str, Any]) -> XYChart:
    chart = XYChart(_stream_title(s, "TCP sequence (Stevens)"), "time (s)", "relative seq")
    new = [(p["time"], p["seq"], p["seq"] + max(p["len"], 1)) for p in s["segments"]
           if not p["retransmission"]]  # fmt: skip
    again = [(p["time"], p["seq"], p["seq"] + max(p["len"], 1)) for p in s["segments"]
             if p["retransmission"]]  # fmt: skip
    acks = [(a["time"], a["ack"]) for a in s["acks"]]
    edge = [(a["time"], a["window_edge"]) for a in s["acks"]]
    sack = [(a["time"], le, re_) for a in s["acks"] for le, re_ in a["sack"]]
    dup = [(a["time"], a["ack"]) for a in s["acks"] if a["duplicate_ack"]]
    chart.series += [
        Series("window (ack + win)", "step", edge, marker=".", color="green"),
        Series("ACK", "step", acks, marker="-", color="yellow"),
        Series("data", "vbars", new, marker="|", color="cyan"),
    ]
    if sack:
        chart.series.append(Series("SACK", "vbars", sack, marker="s", color="magenta"))
    if again:
        chart.series.append(Series("retransmission", "vbars", again, marker="R", color="red"))
    if dup:
        chart.series.append(Series("duplicate ACK", "points", dup, marker="D", color="red"))
    chart.notes.append(
        f"{len(s['segments'])} data segments ({len(again)} retransmitted), "
        f"{len(s['acks'])} ACKs ({len(dup)} duplicate), {len(sack)} SACK blocks"
    )
    return chart


def _tcp_rtt(s: dict[str, Any]) -> XYChart:
    chart = XYChart(_stream_title(s, "TCP round-trip time"), "time (s)", "ack_rtt (ms)", y_min=0)
    pts = [(p["time"], p["ack_rtt"] * 1000) for p in s["points"]]
    chart.series.append(Series("tcp.analysis.ack_rtt", "points", pts, marker="*"))
    if pts:
        ms = [v for _t, v in pts]
        chart.notes.append(f"{len(pts)} RTT samples: min {min(ms):.3f} ms, "
                           f"avg {sum(ms) / len(ms):.3f} ms, max {max(ms):.3f} ms")  # fmt: skip
    return chart


def _tcp_throughput(s: dict[str, Any]) -> XYChart:
    chart = XYChart(_stream_title(s, "TCP throughput"), "time (s)", "bit/s", y_min=0)
    avg = [(p["time"], p["throughput_bps"]) for p in s["points"]]
    chart.series.append(Series(f"{s['window_s']:g} s moving average", "line", avg, marker="*"))
    seg = [(p["time"], p["len"] * 8) for p in s["points"]]
    chart.series.append(Series("segment bits", "points", seg, marker="."))
    return chart


def _tcp_window(s: dict[str, Any]) -> XYChart:
    chart = XYChart(_stream_title(s, "TCP window"), "time (s)", "bytes", y_min=0)
    chart.series.append(
        Series(
            "receive window", "step", [(p["time"], p["window"]) for p in s["window"]], marker="-"
        )
    )
    chart.series.append(
        Series(
            "outstanding (highest seq - last ack)",
            "points",
            [(p["time"], p["bytes"]) for p in s["in_flight"]],
            marker="*",
        )
    )
    return chart


def _flow(s: dict[str, Any]) -> Ladder:
    nodes = s["nodes"]
    index = {n: i for i, n in enumerate(nodes)}
    where = "" if s["stream"] is None else f" of tcp.stream {s['stream']}"
    chart = Ladder(f"Flow graph{where}: {len(s['arrows'])} segment(s)", nodes)
    for a in s["arrows"]:
        label = f"{a['flags'] or '-'} Seq={a['seq']}"
        if a["ack"] is not None:
            label += f" Ack={a['ack']}"
        if a["len"]:
            label += f" Len={a['len']}"
        marks = [m.replace("_", " ") for m in a["analysis"]]
        if marks:
            label = f"[{', '.join(marks)}] {label}"
        chart.arrows.append(Arrow(a["time"], index[a["from"]], index[a["to"]], label,
                                  mark=bool(marks)))  # fmt: skip
    if s["dropped_points"]:
        chart.notes.append(f"… {s['dropped_points']} more segment(s) not drawn")
    return chart


# --- the commands' plots ----------------------------------------------------------------


def _ping(s: dict[str, Any]) -> XYChart:
    targets = list(dict.fromkeys(p["target"] for p in s["points"]))
    chart = XYChart(f"ping {', '.join(targets)}: RTT per icmp_seq", "icmp_seq", "rtt (ms)",
                    y_min=0)  # fmt: skip
    for target in targets:
        ok = [(p["seq"], p["rtt_ms"]) for p in s["points"]
              if p["target"] == target and p["rtt_ms"] is not None]  # fmt: skip
        chart.series.append(Series(target if len(targets) > 1 else "reply", "line", ok))
    lost = [(p["seq"], 0.0) for p in s["points"] if p["rtt_ms"] is None]
    if lost:
        chart.series.append(Series("lost", "points", lost, marker="X", color="red"))
    got = sum(p["rtt_ms"] is not None for p in s["points"])
    chart.notes.append(f"{got} replies, {len(lost)} lost (marked X on the x axis)")
    return chart


class PingRecorder:
    """Wraps ping's presenter: every event still goes to it; replies and losses are
    kept (seq, RTT) for `ping --plot`. Duplicates and late replies are not points."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.points: list[dict[str, Any]] = []
        self._at: dict[tuple[str, int], int] = {}

    def __getattr__(self, name: str) -> Any:  # the presenter's counters (replies …)
        return getattr(self.inner, name)

    def __call__(self, event: Any) -> None:
        self.inner(event)
        kind = getattr(event, "type", "")
        if kind == "reply" and not (event.duplicate or event.late):
            self._put(event.target, event.seq, round(event.rtt_ms, 6))
        elif kind in ("timeout", "error", "local_error"):
            self._put(event.target, event.seq, None)

    def _put(self, target: Any, seq: Any, rtt: float | None) -> None:
        if seq is None or len(self.points) >= 1_000_000:
            return
        key = (str(target), seq)
        if key in self._at:  # an error, then the reply: the reply counts
            if rtt is not None:
                self.points[self._at[key]]["rtt_ms"] = rtt
            return
        self._at[key] = len(self.points)
        self.points.append({"target": str(target), "seq": seq, "rtt_ms": rtt})

    def series(self) -> dict[str, Any]:
        return {"plot": "ping", "points": self.points}


class TraceRecorder:
    """Wraps traceroute's presenter: every event still goes to it; each hop's RTTs are
    kept for `traceroute --report --plot` (per-hop distribution, as mtr's columns)."""

    def __init__(self, inner: Any, target: str) -> None:
        self.inner, self.target = inner, target
        self.hops: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:  # the presenter's state (reached …)
        return getattr(self.inner, name)

    def __call__(self, event: Any) -> None:
        self.inner(event)
        if getattr(event, "type", "") == "hop":
            answered = [p for p in event.probes if p is not None]
            hosts = [p.addr for p in answered]
            self.hops.append({
                "hop": event.ttl, "host": max(set(hosts), key=hosts.count) if hosts else None,
                "rtts_ms": [None if p is None else round(p.rtt_ms, 6) for p in event.probes],
                "lost": sum(p is None for p in event.probes),
            })  # fmt: skip

    def series(self) -> dict[str, Any]:
        return {"plot": "traceroute", "target": self.target, "hops": self.hops}


def _traceroute(s: dict[str, Any]) -> BarChart:
    chart = BarChart(f"traceroute {s['target']}: RTT per hop (min–max, ● average)", "ms")
    for hop in s["hops"]:
        rtts = [r for r in hop["rtts_ms"] if r is not None]
        label = f"{hop['hop']:>2} {hop['host'] or '???'}"
        if not rtts:
            chart.rows.append(BarRow(label, [], text=f"{hop['lost']} lost"))
            continue
        avg = sum(rtts) / len(rtts)
        chart.rows.append(BarRow(label, [(min(rtts), max(rtts), "min–max")],
                                 marks=[(avg, "●")], text=f"{avg:.2f} ms"))  # fmt: skip
    return chart


def dht_series(doc: dict[str, Any]) -> dict[str, Any]:
    """dht-lookup's JSON round_best as a plot: the best XOR distance after each round,
    as its bit length (log2: 160 is as far as can be, each bit gained halves it)."""
    rounds = [{"round": r["round"], "distance_bits": int(r["distance"], 16).bit_length(),
               "distance": r["distance"]} for r in doc.get("round_best", [])]  # fmt: skip
    return {"plot": "dht", "target": doc.get("target"), "rounds": rounds}


def _dht(s: dict[str, Any]) -> XYChart:
    chart = XYChart(f"dht-lookup {s['target']}: best distance per round", "round",
                    "log2 XOR distance (bits)", y_min=0)  # fmt: skip
    pts = [(r["round"], r["distance_bits"]) for r in s["rounds"]]
    chart.series.append(Series("closest node so far", "line", pts, marker="*"))
    return chart


PHASES = ("dns", "connect", "tls", "wait", "request_sent", "server", "transfer")


def http_series(clients: list[Any], dns_ns: dict[str, int]) -> dict[str, Any]:
    """The waterfall of `http --plot`: each request (redirect hops too) from where its
    clock starts (its connection's DNS lookup, or its queueing on a reused connection:
    HttpExchange.timings_ms's start) with curl's phases laid end to end."""
    rows = []
    for client in clients:
        for index in sorted(client.fetches):
            for ex in client.fetches[index]:
                dns = dns_ns.get(ex.request.url.host, 0)
                start = ex.start_ns(dns)
                t = ex.timings_ms(dns)
                rows.append((start, ex, t))
    origin = min((start for start, _ex, _t in rows), default=0)
    requests = [{
        "label": _request_label(ex), "url": str(ex.request.url),
        "status": ex.status, "start_ms": round((start - origin) / 1e6, 3),
        "phases": [[name, t.get(name)] for name in PHASES], "total_ms": t.get("total"),
    } for start, ex, t in rows]  # fmt: skip
    first = requests[0]["url"] if requests else ""
    return {"plot": "http", "url": first, "requests": requests}


def _request_label(ex: Any) -> str:
    """ "GET /index.html": the host is in the title (another host's request keeps it)."""
    from urllib.parse import urlsplit

    parts = urlsplit(str(ex.request.url))
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return f"{ex.request.method} {path}"[:60]


def _http(s: dict[str, Any]) -> BarChart:
    chart = BarChart(f"http {s['url']}: phases per request", "ms")
    for r in s["requests"]:
        spans, at = [], 0.0
        for name, ms in r["phases"]:
            if not ms:  # not there (no TLS), or nothing to draw (a reused connection)
                continue
            spans.append((r["start_ms"] + at, r["start_ms"] + at + ms, name))
            at += ms
        chart.rows.append(BarRow(r["label"], spans, text=f"{at:.1f} ms"))
    return chart


_CHARTS = {
    "io": _io, "tcp-seq": _tcp_seq, "tcp-rtt": _tcp_rtt, "tcp-throughput": _tcp_throughput,
    "tcp-window": _tcp_window, "flow": _flow, "ping": _ping, "traceroute": _traceroute,
    "dht": _dht, "http": _http,
}  # fmt: skip


class PlotTap:
    """`--plot KIND` as a tap of the packet view (`dissect`, `sniff`): packets go to the
    graph (dissect/graphs.py); at the end its series are drawn in the terminal, or
    printed as one NDJSON object {"type": "plot", "plot": KIND, …} with --json, and
    written to --plot-out's file when one is named."""

    def __init__(self, graph: Any, *, json: bool = False, plot_out: str | None = None,
                 color: bool = True, terminal: bool = True) -> None:  # fmt: skip
        self.graph, self.json, self.plot_out, self.color = graph, json, plot_out, color
        self.terminal = terminal
        self.problem: str | None = None  # why nothing was drawn (exit 1)

    def add(self, pkt: Any) -> None:
        self.graph.add(pkt)

    def report(self, out) -> None:
        check = getattr(self.graph, "check", None)
        self.problem = check() if check is not None else None
        series = self.graph.series()
        if self.json:
            from netlab.render.jsonout import dumps

            out.write(dumps({"type": "plot", **series}) + "\n")
        elif self.problem is None and self.terminal:
            from netlab.render.plot import show

            out.flush()
            show(chart_for(series), out, color=self.color)
        if self.plot_out and self.problem is None:
            from netlab.render.plotfile import write

            write(chart_for(series), self.plot_out, series)
