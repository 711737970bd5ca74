"""JSON output that stays valid JSON whatever happens.

- `JsonDocument`: one-shot commands fill a dict; it is written exactly once when
  the `with` block ends, also when it ends by Ctrl-C or an error (then with
  ``"interrupted": true`` or ``"error": "…"``), so a consumer never reads half a
  document.
- `NdjsonWriter`: streaming commands write one object per line, flushed at once;
  a line is only ever written whole.

Values that JSON cannot hold are converted: addresses and paths to strings,
bytes to hex, NaN/inf to null (Python's json would write `NaN`, which is not JSON).
Both writers round every duration (a float under a key ending in `_ms`, or inside
one: `timings_ms: {…}`) to the microsecond, as docs/json.md says, so no command
prints `0.055629200000000004` and none has to remember to round.
"""

from __future__ import annotations

import enum
import ipaddress
import json
import math
import sys
from pathlib import PurePath
from typing import IO, Any


def _default(value: Any) -> Any:
    if isinstance(value, ipaddress._BaseAddress | ipaddress._BaseNetwork | PurePath):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, enum.Enum):
        return value.name.lower()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _clean(value: Any) -> Any:
    """Replace non-finite floats (not valid JSON) with None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _ms_key(key: Any) -> bool:
    return isinstance(key, str) and (key.endswith("_ms") or key == "ms")


def round_ms(value: Any, inside: bool = False) -> Any:
    """VALUE with the floats of its `*_ms` keys rounded to 3 decimals (microseconds)."""
    if isinstance(value, float):
        return round(value, 3) if inside and math.isfinite(value) else value
    if isinstance(value, dict):
        return {k: round_ms(v, inside or _ms_key(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [round_ms(v, inside) for v in value]
    return value


def dumps(value: Any, indent: int | None = None, compact: bool = False) -> str:
    """JSON text; `compact` leaves out the spaces after , and : (NDJSON of packets)."""
    seps = (",", ":") if compact else None
    try:
        # Fast path: most documents hold no NaN/inf, and walking them first cost more
        # than the encoding itself (half of `dissect --json`'s time on big captures).
        return json.dumps(
            value, default=_default, allow_nan=False, indent=indent, ensure_ascii=False,
            separators=seps,
        )  # fmt: skip
    except ValueError:
        return json.dumps(
            _clean(value), default=_default, allow_nan=False, indent=indent, ensure_ascii=False,
            separators=seps,
        )  # fmt: skip


# What has gone to stdout so far (read by cli/main.py after Ctrl-C, so that a command
# interrupted before it wrote anything still leaves valid JSON).
written = False
summary_written = False


class JsonDocument:
    """Collect one JSON document and write it once, on any exit from the block."""

    def __init__(self, file: IO[str] | None = None, indent: int | None = 2) -> None:
        self.file = file
        self.indent = indent
        self.data: Any = {}

    def __enter__(self) -> JsonDocument:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        data = self.data
        if exc_type is not None and isinstance(data, dict):
            if issubclass(exc_type, KeyboardInterrupt):
                data["interrupted"] = True
            elif issubclass(exc_type, Exception):
                data["error"] = " ".join(str(exc).split())
        out = self.file or sys.stdout
        out.write(dumps(round_ms(data), self.indent) + "\n")
        out.flush()
        global written
        written = True
        return False  # the exception still propagates to the error path


class NdjsonWriter:
    """Newline-delimited JSON: one complete object per line, flushed immediately."""

    def __init__(self, file: IO[str] | None = None) -> None:
        self.file = file

    def write(self, obj: dict[str, Any]) -> None:
        global written, summary_written
        line = dumps(round_ms(obj)) + "\n"  # serialise first: a failure must not leave half a line
        out = self.file or sys.stdout
        out.write(line)
        out.flush()
        written = True
        summary_written = summary_written or obj.get("type") == "summary"
