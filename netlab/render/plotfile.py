"""`--plot-out FILE.png|.svg|.html`: the same charts as the terminal's, drawn by matplotlib
with axes, labels and a legend.

matplotlib is an optional extra (`pip install netlab-toolkit[plot]`), imported here only,
when a file is asked for: it costs ~0.3 s to import, which `netlab --help` and the
commands that draw nothing must never pay. The HTML file is the SVG inline with the
numbers behind it (the --json series) in a table-free <pre>, so it opens anywhere.
"""

from __future__ import annotations

import html
import io
import json
import os
from typing import Any

from netlab.errors import InputError
from netlab.render.plot import BarChart, Ladder, XYChart

FORMATS = (".png", ".svg", ".html")
COLORS = {
    "cyan": "tab:cyan",
    "yellow": "tab:orange",
    "magenta": "tab:purple",
    "green": "tab:green",
    "red": "tab:red",
    "blue": "tab:blue",
    "white": "tab:gray",
}
CYCLE = ("tab:blue", "tab:orange", "tab:purple", "tab:green", "tab:red", "tab:brown")


def check_path(path: str) -> None:
    """A usage error (exit 2) before any work: the suffix, and a folder that exists."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise InputError(f"--plot-out {path}: the file must end in .png, .svg or .html")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(f"--plot-out {path}: no folder {folder}")


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise InputError(
            "--plot-out needs matplotlib: pip install 'netlab-toolkit[plot]' "
            "(or matplotlib) in netlab's environment"
        ) from None
    matplotlib.use("Agg")  # files only: no display, no GUI toolkit
    import matplotlib.pyplot as plt

    return plt


def write(chart: Any, path: str, numbers: dict[str, Any] | None = None) -> None:
    """Draw CHART into PATH (its suffix picks the format)."""
    check_path(path)
    plt = _pyplot()
    fig = _figure(plt, chart)
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext == ".html":
            buf = io.StringIO()
            fig.savefig(buf, format="svg")
            _write_html(path, chart, buf.getvalue(), numbers)
        else:
            fig.savefig(path, dpi=100)
    except OSError as err:
        raise InputError(f"--plot-out {path}: {err.strerror}") from None
    finally:
        plt.close(fig)


def _figure(plt, chart: Any):
    if isinstance(chart, Ladder):
        rows = len(chart.arrows)
        fig, ax = plt.subplots(figsize=(10, min(max(3.0, 0.35 * rows + 1.5), 60)))
        _ladder(ax, chart)
    elif isinstance(chart, BarChart):
        fig, ax = plt.subplots(figsize=(10, min(max(3.0, 0.4 * len(chart.rows) + 1.5), 40)))
        _bars(ax, chart)
    else:
        fig, ax = plt.subplots(figsize=(10, 5.5))
        _xy(ax, chart)
    ax.set_title(chart.title, fontsize=10, pad=22 if isinstance(chart, Ladder) else 6)
    fig.tight_layout()
    return fig


def _color(series: Any, i: int) -> str:
    return COLORS.get(series.color or "", CYCLE[i % len(CYCLE)])


def _xy(ax, chart: XYChart) -> None:
    for i, s in enumerate(chart.series):
        color = _color(s, i)
        if s.kind == "vbars":
            if s.data:
                xs, y0, y1 = zip(*s.data, strict=True)
                ax.vlines(xs, y0, y1, colors=color, label=s.label, linewidth=1.5)
            continue
        pts = [(x, y) for x, y in s.data if y is not None]
        xs = [x for x, _y in pts]
        ys = [y for _x, y in pts]
        if s.kind == "points":
            marker = "x" if (s.marker or "") in "XDR" else "o"
            ax.scatter(xs, ys, s=28, color=color, label=s.label, marker=marker, zorder=3)
        elif s.kind == "step":
            ax.step(xs, ys, where="post", color=color, label=s.label, linewidth=1.2)
        else:
            ax.plot(xs, ys, color=color, label=s.label, linewidth=1.2, marker=".")
    ax.set_xlabel(chart.x_label)
    ax.set_ylabel(chart.y_label)
    if chart.y_min is not None:
        ax.set_ylim(bottom=chart.y_min)
    ax.grid(True, alpha=0.3)
    if chart.series:
        ax.legend(loc="best", fontsize=8)


def _bars(ax, chart: BarChart) -> None:
    parts: list[str] = []
    for row in chart.rows:
        for _s, _e, name in row.spans:
            if name not in parts:
                parts.append(name)
    n = len(chart.rows)
    for k, row in enumerate(chart.rows):
        y = n - 1 - k
        for start, end, name in row.spans:
            ax.broken_barh([(start, max(end - start, 1e-9))], (y - 0.35, 0.7),
                           color=CYCLE[parts.index(name) % len(CYCLE)])  # fmt: skip
        for x, _ch in row.marks:
            ax.plot([x], [y], "ko", markersize=4)
    ax.set_yticks(range(n), [r.label for r in reversed(chart.rows)], fontsize=8)
    ax.set_xlabel(chart.x_label)
    ax.grid(True, axis="x", alpha=0.3)
    from matplotlib.patches import Patch

    handles = [Patch(color=CYCLE[k % len(CYCLE)], label=p) for k, p in enumerate(parts)]
    if handles:
        ax.legend(handles=handles, loc="best", fontsize=8)


def _ladder(ax, chart: Ladder) -> None:
    n = len(chart.arrows)
    xs = range(len(chart.nodes))
    for x in xs:
        ax.axvline(x, color="0.5", linewidth=1)
    for k, a in enumerate(chart.arrows):
        y = n - k
        color = "tab:red" if a.mark else "tab:blue"
        ax.annotate("", xy=(a.dst, y), xytext=(a.src, y),
                    arrowprops={"arrowstyle": "->", "color": color})  # fmt: skip
        ax.text((a.src + a.dst) / 2, y + 0.12, a.label, ha="center", fontsize=7, color=color)
        ax.text(-0.45, y, f"{a.time:.6f}", fontsize=7, va="center", ha="left")
    ax.set_xticks(list(xs), chart.nodes, fontsize=8)
    ax.xaxis.tick_top()
    ax.set_xlim(-0.5, max(len(chart.nodes) - 0.5, 0.5))
    ax.set_ylim(0.3, n + 0.8)
    ax.set_yticks([])
    ax.set_xlabel("time (s) on the left; one arrow per segment, first at the top")


def _write_html(path: str, chart: Any, svg: str, numbers: dict[str, Any] | None) -> None:
    data = html.escape(json.dumps(numbers, indent=1)) if numbers is not None else ""
    page = (
        "<!doctype html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(chart.title)}</title></head><body>\n"
        f"{svg[svg.find('<svg') :]}\n"
        f"<details><summary>numbers (netlab --json)</summary><pre>{data}</pre></details>\n"
        "</body></html>\n"
    )
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
