"""The `--plot` options shared by the commands that draw (issue 23).

`dissect`/`sniff` take `--plot KIND` (dissect/graphs.py's kinds); ping, traceroute
--report, dht-lookup and http take a `--plot` flag. All take `--plot-out FILE` (.png,
.svg, .html; matplotlib, imported only then). Checked while parsing, so a wrong KIND or
file suffix is a one-line usage error (exit 2) before anything is sent or read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

PLOT_KINDS_HELP = (
    "Draw a graph at the end, in the terminal (braille; ASCII when piped or NO_COLOR): "
    "io[,SECONDS[,FILTER…]] (frames per interval, one line per display filter, as tshark "
    "-z io,stat), tcp-seq,STREAM (Stevens graph: data, ACK and window lines, SACK, "
    "retransmissions, duplicate ACKs), tcp-rtt,STREAM (tcp.analysis.ack_rtt), "
    "tcp-throughput,STREAM, tcp-window,STREAM, flow[,STREAM] (a ladder of TCP segments). "
    'With --json the numbers are one NDJSON object {"type": "plot", …}.'
)


def _check_kind(ctx: click.Context, param: click.Parameter, value: str | None):
    if value is not None:
        from netlab.dissect.graphs import parse_plot_spec

        try:
            parse_plot_spec(value)
        except ValueError as err:
            raise click.BadParameter(str(err)) from None
    return value


def _check_out(ctx: click.Context, param: click.Parameter, value: str | None):
    if value is not None:
        from netlab.errors import InputError
        from netlab.render.plotfile import check_path

        try:
            check_path(value)
        except InputError as err:
            raise click.BadParameter(str(err).removeprefix(f"--plot-out {value}: ")) from None
    return value


def _out_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--plot-out", "plot_out", metavar="FILE", callback=_check_out,
        type=click.Path(dir_okay=False),
        help="Also write the graph to FILE (.png, .svg or .html) with axes, labels and a "
             "legend (needs matplotlib: pip install 'netlab-toolkit[plot]').",
    )(f)  # fmt: skip


def plot_kind_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--plot KIND and --plot-out FILE (dissect, sniff)."""
    f = _out_option(f)
    return click.option("--plot", "plot", metavar="KIND", callback=_check_kind,
                        help=PLOT_KINDS_HELP)(f)  # fmt: skip


def plot_flag_options(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--plot (a flag) and --plot-out FILE; WHAT says what is drawn."""

    def deco(f: Callable[..., Any]) -> Callable[..., Any]:
        f = _out_option(f)
        return click.option("--plot", "plot", is_flag=True,
                            help=f"Draw {what} at the end, in the terminal (braille; ASCII "
                                 "when piped or NO_COLOR).")(f)  # fmt: skip

    return deco


def draw(series: dict[str, Any], *, plot: bool, plot_out: str | None, color: bool,
         json: bool = False) -> None:  # fmt: skip
    """A command's series drawn on stdout (unless --json) and/or written to --plot-out."""
    if not (plot or plot_out):
        return
    from netlab.render.charts import chart_for

    chart = chart_for(series)
    if plot and not json:
        from netlab.render.plot import show

        show(chart, color=color)
    if plot_out:
        from netlab.render.plotfile import write

        write(chart, plot_out, series)
