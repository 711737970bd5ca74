"""What the statistic taps of `dissect -z` share: the one NDJSON object of a report.

With --json each tap (stats.py's, expert.py's, stats_tree.py's) prints its report as
{"type": "stats", "stat": …, "filter": …, "rows": […]}, written here alone so the
record keeps one shape.
"""

from __future__ import annotations

from typing import IO, Any


def write_json(out: IO[str], tap: Any, rows: list[dict], **extra: Any) -> None:
    """The report of `tap` (its .stat and .filter_text) as one NDJSON object: its rows,
    after the members in `extra`."""
    from netlab.render.jsonout import dumps  # (only --json reports need it)

    record = {"type": "stats", "stat": tap.stat, "filter": tap.filter_text, **extra, "rows": rows}
    out.write(dumps(record) + "\n")
