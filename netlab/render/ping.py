"""iputils-style text for `netlab ping` (plain lines: scripts grep them).

The lines are iputils ping's (ping_common.c, ping.c, ping6_common.c): the PING
and PATTERN lines, "64 bytes from name (addr): icmp_seq=N ttl=T time=X ms" with
iputils' precision, "From router icmp_seq=N <error in iputils' words>", -O's "no
answer yet", -f's dots and backspaces, -a's bell, and the statistics with
"+N duplicates", "+N errors", "pipe N" and "ipg/ewma". Timeouts print nothing
(as iputils), but are NDJSON records under --json.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from netlab.core.echo import (
    IcmpError,
    LocalError,
    Outstanding,
    Reply,
    Sent,
    Summary,
    Target,
    Timeout,
)

Namer = Callable[[str], str]  # an address as shown: "name (addr)" or "addr"


def header(target: Target, size: int, *, shown: str | None = None,
           source: str | None = None, iface: str | None = None) -> str:  # fmt: skip
    """iputils' first line. SHOWN: the address as pr_addr shows it (IPv6 only);
    SOURCE/IFACE: with -I, "from SRC IFACE:"."""
    frm = f"from {source} {iface or ''}: " if source else ""
    if target.family == 6:
        return f"PING {target.name}({shown or target.addr}) {frm}{size} data bytes"
    ip_len = size + 8 + 20
    return f"PING {target.name} ({target.addr}) {frm}{size}({ip_len}) bytes of data."


def pattern_line(pattern: bytes) -> str:
    return "PATTERN: 0x" + pattern[:16].hex()


def rtt_text(ms: float) -> str:
    """iputils' precision: 3 decimals below 1 ms, 2 below 10, 1 below 100, then none."""
    us = round(ms * 1000)
    if us >= 100_000 - 50:
        return f"{(us + 500) // 1000}"
    if us >= 10_000 - 5:
        return f"{(us + 50) // 1000}.{((us + 50) % 1000) // 100:01d}"
    if us >= 1000:
        return f"{(us + 5) // 1000}.{((us + 5) % 1000) // 10:02d}"
    return f"{us // 1000}.{us % 1000:03d}"


def event_line(event, namer: Namer = str, *, several: bool = False,
               broadcast: bool = False) -> str | None:  # fmt: skip
    """BROADCAST: many hosts answer each request; iputils marks no (DUP!) then."""
    if isinstance(event, Reply):
        dup = event.duplicate and not broadcast
        mark = " (DUP!)" if dup else " (late)" if event.late else ""
        return (f"{event.size} bytes from {namer(event.src)}: icmp_seq={event.seq} "
                f"ttl={event.ttl} time={rtt_text(event.rtt_ms)} ms{mark}")  # fmt: skip
    if isinstance(event, Outstanding):
        whose = f" ({event.target})" if several else ""
        return f"no answer yet for icmp_seq={event.seq}{whose}"
    if isinstance(event, IcmpError):
        text = event.message or event.reason
        return f"From {namer(event.src)} icmp_seq={event.seq} {text}"
    return None


def local_error_line(event: LocalError, *, several: bool = False) -> str:
    whose = f"{event.target}: " if several else ""
    return f"netlab: {whose}local error: {event.reason}"


def summary_lines(s: Summary) -> list[str]:
    parts = [f"{s.transmitted} packets transmitted", f"{s.received} received"]
    if s.duplicates:
        parts.append(f"+{s.duplicates} duplicates")
    if s.errors:
        parts.append(f"+{s.errors} errors")
    if s.transmitted:
        parts.append(f"{s.loss_pct:g}% packet loss")
        parts.append(f"time {s.time_ms:.0f}ms")
    lines = [f"--- {s.target} ping statistics ---", ", ".join(parts)]
    extra = []
    if s.rtt_min_ms is not None:
        extra.append(
            f"rtt min/avg/max/mdev = {s.rtt_min_ms:.3f}/{s.rtt_avg_ms:.3f}/"
            f"{s.rtt_max_ms:.3f}/{s.rtt_mdev_ms:.3f} ms"
        )
    if s.pipe > 1:
        extra.append(f"pipe {s.pipe}")
    if s.ipg_ms is not None and s.ewma_ms is not None:
        extra.append(f"ipg/ewma {s.ipg_ms:.3f}/{s.ewma_ms:.3f} ms")
    lines.append(", ".join(extra))  # iputils ends with a newline: an empty line if no rtt
    return lines


def json_record(event) -> dict:
    """The NDJSON shape of issue 5 in docs/json.md's words: reply / timeout / error /
    summary lines."""
    if isinstance(event, Reply):
        return {"type": "reply", "target": event.target, "seq": event.seq, "addr": event.src,
                "ttl": event.ttl, "bytes": event.size, "rtt_ms": event.rtt_ms,
                "duplicate": event.duplicate, "late": event.late}  # fmt: skip
    if isinstance(event, Timeout):
        return {"type": "timeout", "target": event.target, "seq": event.seq}
    if isinstance(event, Outstanding):
        return {"type": "outstanding", "target": event.target, "seq": event.seq}
    if isinstance(event, IcmpError):
        return {"type": "error", "target": event.target, "seq": event.seq, "addr": event.src,
                "icmp_type": event.icmp_type, "icmp_code": event.icmp_code,
                "reason": event.reason, "mtu": event.mtu,
                "message": event.message}  # fmt: skip
    if isinstance(event, LocalError):
        return {"type": "error", "target": event.target, "seq": event.seq, "addr": None,
                "icmp_type": None, "icmp_code": None, "reason": event.reason,
                "message": f"local error: {event.reason}"}  # fmt: skip
    assert isinstance(event, Summary)
    # docs/json.md's counters: iputils' "transmitted" is `sent`; `lost` is what its
    # "packet loss" counts (duplicates are not answers)
    return {"type": "summary", "target": event.target, "addr": event.addr,
            "sent": event.transmitted, "received": event.received,
            "lost": max(event.transmitted - event.received, 0),
            "duplicates": event.duplicates, "errors": event.errors,
            "loss_pct": round(event.loss_pct, 3), "time_ms": round(event.time_ms, 3),
            "rtt_min_ms": event.rtt_min_ms, "rtt_avg_ms": event.rtt_avg_ms,
            "rtt_max_ms": event.rtt_max_ms, "rtt_mdev_ms": event.rtt_mdev_ms,
            "pipe": event.pipe, "ipg_ms": _ms(event.ipg_ms),
            "ewma_ms": _ms(event.ewma_ms)}  # fmt: skip


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


class PingPresenter:
    """Shows ping's events as they come: iputils' lines, or NDJSON records. OUT has
    `text(*lines)` and `emit(record)` (the command's `cli.run.Session`); local errors
    go to ERR (stderr), as iputils prints them."""

    def __init__(self, out, *, json: bool, quiet: bool = False, timestamps: bool = False,
                 audible: bool = False, flood: bool = False, broadcast: bool = False,
                 namer: Namer = str, several: bool = False, raw=None,
                 err=None) -> None:  # fmt: skip
        self.out, self.json, self.quiet, self.timestamps = out, json, quiet, timestamps
        self.audible, self.flood, self.broadcast = audible, flood, broadcast
        self.namer, self.several = namer, several
        self.raw = raw or sys.stdout  # flood's dots: no newline, flushed at once
        self.err = err or sys.stderr
        self.replies = 0  # first replies (not duplicates, not late): what the exit status counts

    def __call__(self, event) -> None:
        if event.type == "reply" and not event.duplicate and not event.late:
            self.replies += 1
        if self.json:
            if event.type != "sent":
                self.out.emit(json_record(event))
        elif event.type == "summary":
            self.out.text("", *summary_lines(event))
        elif self.quiet:
            return
        elif self.flood:
            self._flood(event)
        elif isinstance(event, LocalError):
            self.err.write(local_error_line(event, several=self.several) + "\n")
            self.err.flush()
        else:
            line = event_line(event, self.namer, several=self.several,
                              broadcast=self.broadcast)  # fmt: skip
            if line:
                if self.audible and isinstance(event, Reply):
                    line += "\a"
                self.out.text(f"[{time.time():.6f}] {line}" if self.timestamps else line)

    def _flood(self, event) -> None:
        """iputils -f: a dot per request, a backspace per answer, E for an error."""
        mark = {Sent: ".", Reply: "\b \b", IcmpError: "\bE", LocalError: "E"}.get(type(event))
        if mark:
            if isinstance(event, Reply) and self.audible:
                mark += "\a"
            self.raw.write(mark)
            self.raw.flush()
