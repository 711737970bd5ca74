"""iputils-style text for `netlab ping` (plain lines: scripts grep them)."""

from __future__ import annotations

import time

from netlab.core.echo import IcmpError, LocalError, Reply, Summary, Target, Timeout


def header(target: Target, size: int) -> str:
    ip_len = size + 8 + (20 if target.family == 4 else 40)
    return f"PING {target.name} ({target.addr}) {size}({ip_len}) bytes of data."


def event_line(event) -> str | None:
    if isinstance(event, Reply):
        mark = " (DUP!)" if event.duplicate else " (late)" if event.late else ""
        field = "ttl" if ":" not in event.src else "hlim"
        return (f"{event.size} bytes from {event.src}: icmp_seq={event.seq} {field}={event.ttl} "
                f"time={event.rtt_ms:.3f} ms{mark}")  # fmt: skip
    if isinstance(event, Timeout):
        return f"no answer yet for icmp_seq={event.seq} from {event.target}"
    if isinstance(event, IcmpError):
        extra = f", next-hop MTU {event.mtu}" if event.mtu is not None else ""
        return f"From {event.src} icmp_seq={event.seq} {event.reason}{extra}"
    if isinstance(event, LocalError):
        return f"ping {event.target}: local error: {event.reason}"
    return None


def summary_lines(s: Summary) -> list[str]:
    parts = [f"{s.transmitted} packets transmitted", f"{s.received} received"]
    if s.duplicates:
        parts.append(f"+{s.duplicates} duplicates")
    if s.errors:
        parts.append(f"+{s.errors} errors")
    parts.append(f"{s.loss_pct:g}% packet loss")
    parts.append(f"time {s.time_ms:.0f}ms")
    lines = [f"--- {s.target} ping statistics ---", ", ".join(parts)]
    if s.rtt_min_ms is not None:
        lines.append(
            f"rtt min/avg/max/mdev = {s.rtt_min_ms:.3f}/{s.rtt_avg_ms:.3f}/"
            f"{s.rtt_max_ms:.3f}/{s.rtt_mdev_ms:.3f} ms"
        )
    return lines


def json_record(event) -> dict:
    """The NDJSON shape of issue 5: reply / timeout / error / summary lines."""
    if isinstance(event, Reply):
        return {"type": "reply", "target": event.target, "seq": event.seq, "from": event.src,
                "ttl": event.ttl, "bytes": event.size, "rtt_ms": round(event.rtt_ms, 6),
                "duplicate": event.duplicate, "late": event.late}  # fmt: skip
    if isinstance(event, Timeout):
        return {"type": "timeout", "target": event.target, "seq": event.seq}
    if isinstance(event, IcmpError):
        return {"type": "error", "target": event.target, "seq": event.seq, "from": event.src,
                "icmp_type": event.icmp_type, "icmp_code": event.icmp_code,
                "reason": event.reason, "mtu": event.mtu}  # fmt: skip
    if isinstance(event, LocalError):
        return {"type": "error", "target": event.target, "seq": event.seq, "from": None,
                "icmp_type": None, "icmp_code": None, "reason": event.reason}  # fmt: skip
    assert isinstance(event, Summary)
    return {"type": "summary", "target": event.target, "address": event.addr,
            "transmitted": event.transmitted, "received": event.received,
            "duplicates": event.duplicates, "errors": event.errors,
            "loss_pct": round(event.loss_pct, 3), "time_ms": round(event.time_ms, 3),
            "rtt_min_ms": event.rtt_min_ms, "rtt_avg_ms": event.rtt_avg_ms,
            "rtt_max_ms": event.rtt_max_ms, "rtt_mdev_ms": event.rtt_mdev_ms}  # fmt: skip


class PingPresenter:
    """Shows ping's events as they come: iputils' lines, or NDJSON records. OUT has
    `text(*lines)` and `emit(record)` (the command's `cli.run.Session`)."""

    def __init__(self, out, *, json: bool, quiet: bool = False, timestamps: bool = False):
        self.out, self.json, self.quiet, self.timestamps = out, json, quiet, timestamps
        self.replies = 0  # first replies (not duplicates, not late): what the exit status counts

    def __call__(self, event) -> None:
        if event.type == "reply" and not event.duplicate and not event.late:
            self.replies += 1
        if self.json:
            self.out.emit(json_record(event))
        elif event.type == "summary":
            self.out.text("", *summary_lines(event))
        elif not self.quiet:
            line = event_line(event)
            if line:
                self.out.text(f"[{time.time():.6f}] {line}" if self.timestamps else line)
