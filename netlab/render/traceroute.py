"""Text and JSON for `netlab traceroute`: Linux traceroute's lines, mtr's report table.

Plain strings (scripts parse them with awk, as they parse Linux traceroute's).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from netlab.core.trace import Hop, ProbeResult


def header(name: str, addr: str, max_ttl: int, size: int) -> str:
    return f"traceroute to {name} ({addr}), {max_ttl} hops max, {size} byte packets"


def _addr_text(addr: str, names: dict[str, str | None] | None) -> str:
    if names is None:
        return addr
    return f"{names.get(addr) or addr} ({addr})"  # Linux: "name (addr)", or "addr (addr)"


def hop_line(hop: Hop, names: dict[str, str | None] | None = None,
             last_pmtu: int | None = None) -> str:  # fmt: skip
    """Linux traceroute's line: the address again only when it differs from the one before."""
    parts = [f"{hop.ttl:2d} "]
    prev: str | None = None
    pmtu_shown = last_pmtu
    for probe in hop.probes:
        if probe is None:
            parts.append(" *")
            continue
        if probe.addr != prev:
            parts.append(" " + _addr_text(probe.addr, names))
            prev = probe.addr
        parts.append(f"  {probe.rtt_ms:.3f} ms")
        if hop.pmtu is not None and probe.mark is None and probe.size != pmtu_shown:
            parts.append(f" F={probe.size}")  # the size that got here, when it changed
            pmtu_shown = probe.size
        if probe.mark:
            parts.append(" " + probe.mark)
    return "".join(parts)


def probe_record(probe: ProbeResult | None, names: dict[str, str | None] | None) -> dict | None:
    if probe is None:
        return None
    record: dict = {"addr": probe.addr, "rtt_ms": probe.rtt_ms, "mark": probe.mark}
    if names is not None:
        record["name"] = names.get(probe.addr)
    return record


def hop_record(hop: Hop, names: dict[str, str | None] | None = None) -> dict:
    record: dict = {"ttl": hop.ttl, "probes": [probe_record(p, names) for p in hop.probes]}
    if hop.pmtu is not None:
        record["pmtu"] = hop.pmtu
    return record


# --- mtr --report ---------------------------------------------------------------------------
@dataclass
class HopStats:
    ttl: int
    hosts: list[str] = field(default_factory=list)  # most frequent first
    sent: int = 0
    received: int = 0
    last: float | None = None
    avg: float | None = None
    best: float | None = None
    worst: float | None = None
    stdev: float | None = None

    @property
    def loss_pct(self) -> float:
        return 100.0 * (self.sent - self.received) / self.sent if self.sent else 0.0


def hop_stats(hop: Hop) -> HopStats:
    answered = [p for p in hop.probes if p is not None]
    rtts = [p.rtt_ms for p in answered]
    # Only what was sent counts: after Ctrl-C in round 3 of 50, Snt is 3, not 50.
    sent = len(hop.probes) if hop.sent is None else hop.sent
    stats = HopStats(hop.ttl, [a for a, _n in Counter(p.addr for p in answered).most_common()],
                     sent, len(answered))  # fmt: skip
    if rtts:
        last = next(p for p in reversed(hop.probes) if p is not None)
        stats.last = last.rtt_ms
        stats.avg = sum(rtts) / len(rtts)
        stats.best, stats.worst = min(rtts), max(rtts)
        # mtr's StDev: the sample standard deviation (n - 1), 0 for a single answer.
        n = len(rtts)
        stats.stdev = math.sqrt(sum((r - stats.avg) ** 2 for r in rtts) / (n - 1)) if n > 1 else 0.0
    return stats


REPORT_COLUMNS = " ".join(
    f"{name:>{width}}" for name, width in
    (("Loss%", 6), ("Snt", 5), ("Last", 8), ("Avg", 8), ("Best", 8), ("Wrst", 8), ("StDev", 8))
)  # fmt: skip
HOST_WIDTH = 30  # "  1.|-- 198.18.1.1" and "HOST: client", padded to the same column


def report_header(local: str, start: str) -> list[str]:
    return [f"Start: {start}", f"{'HOST: ' + local:<{HOST_WIDTH}} {REPORT_COLUMNS}"]


def report_line(s: HopStats, names: dict[str, str | None] | None = None) -> list[str]:
    """mtr --report's row (times with three decimals: lab round trips are microseconds)."""
    host = _addr_text(s.hosts[0], names) if s.hosts else "???"

    def ms(value: float | None) -> str:
        return f"{value if value is not None else 0.0:8.3f}"

    lines = [f"{f'{s.ttl:3d}.|-- {host}':<{HOST_WIDTH}} {s.loss_pct:5.1f}% {s.sent:5d} "
             f"{ms(s.last)} {ms(s.avg)} {ms(s.best)} {ms(s.worst)} {ms(s.stdev)}"]  # fmt: skip
    for other in s.hosts[1:]:  # load balancing: mtr lists the other addresses under the hop
        lines.append(f"    |   {_addr_text(other, names)}")
    return lines


def report_record(hop: Hop, names: dict[str, str | None] | None = None) -> dict:
    s = hop_stats(hop)  # mtr's Last/Avg/Best/Wrst/StDev, named as ping's rtt_*_ms
    return {**hop_record(hop, names), "addr": s.hosts[0] if s.hosts else None,
            "addrs": s.hosts, "loss_pct": round(s.loss_pct, 3), "sent": s.sent,
            "received": s.received, "lost": s.sent - s.received, "rtt_last_ms": s.last,
            "rtt_avg_ms": s.avg, "rtt_min_ms": s.best, "rtt_max_ms": s.worst,
            "rtt_stdev_ms": s.stdev}  # fmt: skip


class TracePresenter:
    """Shows a trace's events as they come: Linux traceroute's lines, mtr's report rows,
    or the hops of the JSON document (DOC). OUT has `text(*lines)` and `note(message,
    kind)` (the command's `cli.run.Session`); NAMES, if given, resolves router names
    (`net.rdns.ReverseNames`: started when an address first answers, waited for,
    bounded, when its hop is shown)."""

    def __init__(self, out: Any, doc: dict, *, json: bool, report: bool, path_mtu: bool,
                 names: Any = None) -> None:  # fmt: skip
        self.out, self.doc, self.json, self.report = out, doc, json, report
        self.path_mtu, self.names = path_mtu, names
        self.reached = False
        self.last_pmtu: int | None = None

    def __call__(self, event: Any) -> None:
        if event.type == "heard":
            if self.names is not None:
                self.names.start(event.addr)
        elif event.type == "local_error":
            self.out.note(f"hop {event.ttl}: {event.reason}", "traceroute")
        elif event.type == "end":
            self.reached = self.doc["reached"] = event.reached
            if self.path_mtu:
                self.doc["pmtu"] = event.pmtu
        else:
            self._hop(event)

    def _hop(self, hop: Hop) -> None:
        shown = self.names.wait_for(hop) if self.names is not None else None
        if self.json:
            record = report_record if self.report else hop_record
            self.doc["hops"].append(record(hop, shown))
        elif self.report:
            self.out.text(*report_line(hop_stats(hop), shown))
        else:
            self.out.text(hop_line(hop, shown, self.last_pmtu))
            for probe in hop.probes:
                if probe is not None and probe.mark is None and hop.pmtu is not None:
                    self.last_pmtu = probe.size
