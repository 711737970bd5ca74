"""Plots inside the terminal: braille dots on a terminal, plain ASCII when piped or NO_COLOR.

Three kinds of picture, each built from plain data (the `--json` numbers) by a command's
adapter, drawn here, and written to a PNG/SVG/HTML file by `render/plotfile.py`:
- `XYChart`: lines, steps, points and vertical bars over two numeric axes (I/O graph,
  TCP stream graphs, ping RTT, DHT distance per round);
- `BarChart`: one row per item, horizontal spans on a shared axis (HTTP waterfall,
  traceroute per-hop RTT range);
- `Ladder`: a flow graph, one arrow per packet between columns (TCP handshake, close).

A braille cell holds 2×4 dots (U+2800 + bits), so a 70×18 area is 140×72 dots; one
colour per cell (the last series drawn wins, as in plotext). The ASCII canvas has one
dot per cell with a marker character per series. Everything fits the width and height
asked for (the window's, at most 80×24 when the window is that size).
"""

from __future__ import annotations

import math
import os
import shutil
import sys
from dataclasses import dataclass, field
from typing import IO, Any

PALETTE = ("cyan", "yellow", "magenta", "green", "red", "blue", "white")
MARKERS = ("*", "+", "o", "x", "#", "@", "%")
_BRAILLE_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))  # [row][col]
Y_LABEL_W = 9  # "  12.5k ┤"


@dataclass
class Series:
    label: str
    kind: str  # "line" | "step" | "points" | "vbars"
    data: list  # (x, y) pairs; (x, y0, y1) triples for vbars
    marker: str | None = None  # ASCII marker (default: by position)
    color: str | None = None


@dataclass
class XYChart:
    title: str
    x_label: str
    y_label: str
    series: list[Series] = field(default_factory=list)
    y_min: float | None = None  # e.g. 0 for counts
    notes: list[str] = field(default_factory=list)


@dataclass
class BarRow:
    label: str
    spans: list[tuple[float, float, str]]  # (start, end, part name)
    marks: list[tuple[float, str]] = field(default_factory=list)  # (x, char): an average
    text: str = ""  # after the bar: "12.3 ms"


@dataclass
class BarChart:
    title: str
    x_label: str
    rows: list[BarRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Arrow:
    time: float
    src: int  # node index
    dst: int
    label: str
    mark: bool = False  # retransmission, duplicate ACK …: drawn in red / with "!"


@dataclass
class Ladder:
    title: str
    nodes: list[str]
    arrows: list[Arrow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --- where it draws ---------------------------------------------------------------------


def window_size(out: IO[str] | None = None) -> tuple[int, int]:
    """The terminal's columns and lines (COLUMNS/LINES, else 80×24 when piped)."""
    size = shutil.get_terminal_size((80, 24))
    return max(size.columns, 40), max(size.lines, 12)


def fancy(out: IO[str], color: bool = True) -> bool:
    """Braille and colour only on a terminal that wants them: ASCII when piped,
    with --no-color or NO_COLOR."""
    is_tty = hasattr(out, "isatty") and out.isatty()
    return is_tty and color and not os.environ.get("NO_COLOR")


def show(chart: Any, out: IO[str] | None = None, *, color: bool = True) -> None:
    """Draw CHART to OUT (stdout) sized to the window, braille or ASCII as suits it."""
    out = out or sys.stdout
    cols, lines = window_size(out)
    unicode = fancy(out, color)
    text = draw(chart, cols, lines - 1, unicode=unicode)  # a line left for the prompt
    if unicode:
        from netlab.render.console import make_console

        console = make_console(color, file=out)
        for line in text:
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    else:
        out.write("".join(f"{line}\n" for line in text))
        out.flush()


def draw(chart: Any, width: int, height: int, *, unicode: bool = False) -> list:
    """CHART as at most HEIGHT lines of at most WIDTH columns (rich Text when unicode)."""
    if isinstance(chart, XYChart):
        lines = _draw_xy(chart, width, height, unicode)
    elif isinstance(chart, BarChart):
        lines = _draw_bars(chart, width, height, unicode)
    else:
        lines = _draw_ladder(chart, width, height, unicode)
    if unicode:
        return lines
    return [_fit(_to_ascii(line), width) for line in lines]


_ASCII = {"→": "->", "…": "~", "–": "-", "—": "-", "●": "o", "×": "x", "µ": "u"}


def _to_ascii(text: str) -> str:
    """Plain output stays ASCII: the few symbols titles and labels use, spelt out."""
    if text.isascii():
        return text
    for sym, plain_text in _ASCII.items():
        text = text.replace(sym, plain_text)
    return text.encode("ascii", "replace").decode()


# --- numbers on axes --------------------------------------------------------------------


def fmt_num(v: float) -> str:
    """A short axis label: 0.25, 12, 1.5k, 3.2M."""
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:.3g}G"
    if a >= 1e6:
        return f"{v / 1e6:.3g}M"
    if a >= 1e4:
        return f"{v / 1e3:.3g}k"
    if a == 0:
        return "0"
    if a >= 100:
        return f"{v:.0f}"
    return f"{v:.3g}"


def _bounds(values: list[float], floor: float | None) -> tuple[float, float]:
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if floor is not None:
        lo = min(lo, floor)
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    return lo, hi


# --- XY charts --------------------------------------------------------------------------


class _Canvas:
    """Dots on a grid of cells: 2×4 per cell in braille, 1 in ASCII."""

    def __init__(self, cols: int, rows: int, unicode: bool) -> None:
        self.cols, self.rows, self.unicode = cols, rows, unicode
        self.sx, self.sy = (2, 4) if unicode else (1, 1)
        self.bits = [[0] * cols for _ in range(rows)]
        self.chars = [[" "] * cols for _ in range(rows)]
        self.owner: list[list[int]] = [[-1] * cols for _ in range(rows)]

    @property
    def width(self) -> int:
        return self.cols * self.sx

    @property
    def height(self) -> int:
        return self.rows * self.sy

    def dot(self, x: int, y: int, owner: int, marker: str) -> None:
        """Dot (x, y), y = 0 at the bottom; outside the area: nothing."""
        if not (0 <= x < self.width and 0 <= y < self.height):
            return
        row = self.rows - 1 - y // self.sy
        col = x // self.sx
        if self.unicode:
            self.bits[row][col] |= _BRAILLE_BITS[self.sy - 1 - y % self.sy][x % self.sx]
        else:
            self.chars[row][col] = marker
        self.owner[row][col] = owner

    def line(self, x0: int, y0: int, x1: int, y1: int, owner: int, marker: str) -> None:
        steps = max(abs(x1 - x0), abs(y1 - y0), 1)
        if steps > 4 * (self.width + self.height):  # far outside: clip the walk
            steps = 4 * (self.width + self.height)
        for i in range(steps + 1):
            self.dot(round(x0 + (x1 - x0) * i / steps), round(y0 + (y1 - y0) * i / steps),
                     owner, marker)  # fmt: skip

    def cell(self, row: int, col: int) -> str:
        if self.unicode:
            bits = self.bits[row][col]
            return chr(0x2800 + bits) if bits else " "
        return self.chars[row][col]


def _draw_xy(chart: XYChart, width: int, height: int, unicode: bool) -> list:
    legend = _legend_lines(chart, width)
    notes = chart.notes[: max(0, height - 8 - len(legend))]
    plot_rows = max(3, height - 4 - len(legend) - len(notes))  # title, axis, ticks, label
    plot_cols = max(10, width - Y_LABEL_W - 1)
    xs = [p[0] for s in chart.series for p in s.data]
    ys = [v for s in chart.series for p in s.data for v in p[1:] if v is not None]
    x_lo, x_hi = _bounds(xs, None)
    y_lo, y_hi = _bounds(ys, chart.y_min)
    canvas = _Canvas(plot_cols, plot_rows, unicode)

    def px(x: float) -> int:
        return round((x - x_lo) / (x_hi - x_lo) * (canvas.width - 1))

    def py(y: float) -> int:
        return round((y - y_lo) / (y_hi - y_lo) * (canvas.height - 1))

    for i, s in enumerate(chart.series):
        _plot_series(canvas, s, i, px, py)
    out = [_text(_fit(chart.title, width), "bold", unicode)]
    out += _xy_rows(canvas, chart, y_lo, y_hi, unicode)
    out.append(_text(" " * (Y_LABEL_W - 1) + ("└" if unicode else "+")
                     + ("─" if unicode else "-") * plot_cols, None, unicode))  # fmt: skip
    out.append(_text(_x_ticks(x_lo, x_hi, plot_cols), None, unicode))
    out.append(_text(_fit(f"{' ' * Y_LABEL_W}x: {chart.x_label}   y: {chart.y_label}", width),
                     "dim", unicode))  # fmt: skip
    out += [_legend_text(chart, line, unicode) for line in legend]
    out += [_text(_fit(n, width), "dim", unicode) for n in notes]
    return out[:height]


def _plot_series(canvas: _Canvas, s: Series, i: int, px, py) -> None:
    marker = s.marker or MARKERS[i % len(MARKERS)]
    prev = None
    for p in s.data:
        if s.kind == "vbars":
            x = px(p[0])
            canvas.line(x, py(p[1]), x, py(p[2]), i, marker)
            continue
        if p[1] is None:
            prev = None
            continue
        x, y = px(p[0]), py(p[1])
        if s.kind == "points" or prev is None:
            canvas.dot(x, y, i, marker)
        elif s.kind == "step":
            canvas.line(prev[0], prev[1], x, prev[1], i, marker)
            canvas.line(x, prev[1], x, y, i, marker)
        else:
            canvas.line(prev[0], prev[1], x, y, i, marker)
        prev = (x, y)


def _xy_rows(canvas: _Canvas, chart: XYChart, y_lo: float, y_hi: float, unicode: bool) -> list:
    rows = []
    label_every = max(1, canvas.rows // 5)
    for r in range(canvas.rows):
        from_bottom = canvas.rows - 1 - r
        tick = from_bottom % label_every == 0 or r == 0
        value = y_lo + (y_hi - y_lo) * (from_bottom * canvas.sy + canvas.sy / 2 - 0.5) / max(
            canvas.height - 1, 1
        )
        if r == 0:
            value = y_hi
        elif from_bottom == 0:
            value = y_lo
        text = tick_text(value, y_hi - y_lo)[: Y_LABEL_W - 2]
        label = f"{text:>{Y_LABEL_W - 2}} " if tick else " " * (Y_LABEL_W - 1)
        axis = ("┤" if tick else "│") if unicode else ("+" if tick else "|")
        cells = [(canvas.cell(r, c), canvas.owner[r][c]) for c in range(canvas.cols)]
        if not unicode:
            rows.append(label + axis + "".join(ch for ch, _o in cells).rstrip())
            continue
        from rich.text import Text

        line = Text(label + axis)
        for ch, owner in cells:
            color = None
            if owner >= 0:
                s = chart.series[owner]
                color = s.color or PALETTE[owner % len(PALETTE)]
            line.append(ch, style=color)
        line.rstrip()
        rows.append(line)
    return rows


def tick_text(value: float, span: float) -> str:
    """An axis label with as many decimals as the axis's span needs (0.0005, not 5e-04)."""
    if span >= 10 or abs(value) >= 1e4:
        return fmt_num(value)
    decimals = max(0, min(9, 1 - math.floor(math.log10(span)) + 1)) if span > 0 else 0
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _x_ticks(lo: float, hi: float, cols: int) -> str:
    """Tick labels under the axis, spread so that none overlaps another."""
    line = [" "] * (Y_LABEL_W + cols + 8)
    n = max(2, min(6, cols // 12))
    for k in range(n + 1):
        value = lo + (hi - lo) * k / n
        text = tick_text(value, hi - lo)
        pos = Y_LABEL_W + round(k / n * (cols - 1)) - len(text) // 2
        pos = max(0, min(pos, Y_LABEL_W + cols - len(text)))
        if any(c != " " for c in line[max(0, pos - 1) : pos + len(text) + 1]):
            continue
        line[pos : pos + len(text)] = text
    return "".join(line).rstrip()


def _legend_lines(chart: XYChart, width: int) -> list[list[int]]:
    """Series indexes, packed into lines of the legend that fit WIDTH."""
    lines: list[list[int]] = []
    used = width
    for i, s in enumerate(chart.series):
        item = len(s.label) + 5
        if used + item > width:
            lines.append([])
            used = Y_LABEL_W
        lines[-1].append(i)
        used += item
    return lines


def _legend_text(chart: XYChart, indexes: list[int], unicode: bool):
    parts = []
    for i in indexes:
        s = chart.series[i]
        mark = "⣿" if unicode else (s.marker or MARKERS[i % len(MARKERS)])
        parts.append((mark, s.color or PALETTE[i % len(PALETTE)], f" {s.label}   "))
    if not unicode:
        return (" " * Y_LABEL_W + "".join(m + t for m, _c, t in parts)).rstrip()
    from rich.text import Text

    line = Text(" " * Y_LABEL_W)
    for mark, color, label in parts:
        line.append(mark, style=color)
        line.append(label)
    line.rstrip()
    return line


# --- bar charts -------------------------------------------------------------------------


def _draw_bars(chart: BarChart, width: int, height: int, unicode: bool) -> list:
    parts: list[str] = []
    for row in chart.rows:
        for _s, _e, name in row.spans:
            if name not in parts:
                parts.append(name)
    label_w = min(max((len(r.label) for r in chart.rows), default=4), width // 3)
    text_w = min(max((len(r.text) for r in chart.rows), default=0), 16)
    bar_w = max(10, width - label_w - text_w - 3)
    ends = [e for r in chart.rows for _s, e, _n in r.spans] + [
        x for r in chart.rows for x, _c in r.marks
    ]
    lo = min((s for r in chart.rows for s, _e, _n in r.spans), default=0.0)
    lo = min(lo, 0.0)
    hi = max(ends, default=1.0)
    hi = hi if hi > lo else lo + 1.0
    scale = (bar_w - 1) / (hi - lo)
    room = max(1, height - 4 - (1 if parts else 0) - len(chart.notes[:2]))
    shown = chart.rows[:room]
    out = [_text(_fit(chart.title, width), "bold", unicode)]
    for row in shown:
        out.append(_bar_line(row, label_w, bar_w, text_w, lo, scale, parts, unicode))
    if len(chart.rows) > len(shown):
        out.append(_text(f"… {len(chart.rows) - len(shown)} more (see --json)", "dim", unicode))
    axis = " " * (label_w + 1) + fmt_num(lo)
    right = fmt_num(hi) + f" {chart.x_label}"
    axis += " " * max(1, label_w + 1 + bar_w - len(axis) - len(right) + len(right)) + right
    out.append(_text(_fit(axis, width), "dim", unicode))
    if parts:
        out.append(_bar_legend(parts, width, unicode))
    out += [_text(_fit(n, width), "dim", unicode) for n in chart.notes[:2]]
    return out[:height]


def _bar_line(row: BarRow, label_w, bar_w, text_w, lo, scale, parts, unicode):
    cells = [" "] * bar_w
    owners = [-1] * bar_w
    for start, end, name in row.spans:
        a = round((start - lo) * scale)
        b = max(a, round((end - lo) * scale))
        k = parts.index(name)
        ch = "█" if unicode else MARKERS[k % len(MARKERS)]
        for c in range(max(0, a), min(bar_w, b + 1)):
            cells[c], owners[c] = ch, k
    for x, ch in row.marks:
        c = round((x - lo) * scale)
        if 0 <= c < bar_w:
            cells[c], owners[c] = ch, -1
    label = _fit(row.label, label_w)
    head = f"{label:<{label_w}} "
    tail = f" {row.text:>{text_w}}" if text_w else ""
    if not unicode:
        return (head + "".join(cells) + tail).rstrip()
    from rich.text import Text

    line = Text(head)
    for ch, k in zip(cells, owners, strict=True):
        line.append(ch, style=PALETTE[k % len(PALETTE)] if k >= 0 else None)
    line.append(tail)
    line.rstrip()
    return line


def _bar_legend(parts: list[str], width: int, unicode: bool):
    if not unicode:
        return _fit("   ".join(f"{MARKERS[k % len(MARKERS)]} {p}" for k, p in enumerate(parts)),
                    width)  # fmt: skip
    from rich.text import Text

    line = Text()
    for k, p in enumerate(parts):
        if line.cell_len + len(p) + 5 > width:
            break
        line.append("█", style=PALETTE[k % len(PALETTE)])
        line.append(f" {p}   ")
    line.rstrip()
    return line


# --- ladder (flow graph) ----------------------------------------------------------------


def _draw_ladder(chart: Ladder, width: int, height: int, unicode: bool) -> list:
    """Columns for the nodes, one arrow per line; every arrow is drawn (a flow is read
    top to bottom like a listing), HEIGHT bounds only the head."""
    time_w = 10
    n = max(len(chart.nodes), 1)
    span = max(12, (width - time_w - 2) // n)
    cols = [time_w + span // 2 + k * span for k in range(n)]
    total = min(width, cols[-1] + span // 2 + 1)
    head = [" "] * total
    for k, name in enumerate(chart.nodes):
        name = _fit(name, span - 1)
        pos = max(time_w, min(cols[k] - len(name) // 2, total - len(name)))
        head[pos : pos + len(name)] = name
    out = [_text(_fit(chart.title, width), "bold", unicode), _text("".join(head).rstrip(),
                                                                   "bold", unicode)]  # fmt: skip
    bar = "│" if unicode else "|"
    for a in chart.arrows:
        out.append(_arrow_line(a, cols, total, time_w, bar, unicode))
    out += [_text(_fit(t, width), "dim", unicode) for t in chart.notes]
    return out


def _arrow_line(a: Arrow, cols: list[int], total: int, time_w: int, bar: str, unicode: bool):
    line = [" "] * total
    stamp = f"{a.time:.6f}"[: time_w - 1]
    line[: len(stamp)] = stamp
    for c in cols:
        if c < total:
            line[c] = bar
    left, right = sorted((cols[a.src], cols[a.dst]))
    dash = "─" if unicode else "-"
    for c in range(left + 1, right):
        line[c] = dash
    if a.src == a.dst:  # to itself: a short stub
        right = min(left + 3, total - 1)
    if a.dst >= a.src:
        line[right - 1] = "▶" if unicode else ">"
    else:
        line[left + 1] = "◀" if unicode else "<"
    label = a.label
    room = right - left - 4
    if len(label) > room:
        label = label[: max(room - 1, 0)] + ("…" if room > 1 else "")
    if label:
        start = left + 2 + (room - len(label)) // 2
        line[start : start + len(label)] = f"{label}"
    text = "".join(line).rstrip()
    return _text(text, "red" if a.mark else None, unicode)


# --- small helpers ----------------------------------------------------------------------


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _text(text: str, style: str | None, unicode: bool):
    if not unicode:
        return text
    from rich.text import Text

    return Text(text, style=style or "")


def plain(lines: list) -> list[str]:
    """The lines as plain strings (rich Text's .plain): for tests and width checks."""
    return [getattr(line, "plain", line) for line in lines]


def log2_or_none(v: float | None) -> float | None:
    return None if v is None or v <= 0 else math.log2(v)
