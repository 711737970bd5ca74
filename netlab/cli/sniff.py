"""`netlab sniff`: live capture with a tcpdump-syntax filter, shown like `netlab dissect`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from netlab.cli import complete
from netlab.cli.options import Common, common_options, interface_name
from netlab.cli.plotopts import plot_kind_options
from netlab.errors import ExitStatus

SHORT_HELP = "Capture live packets on an interface (tcpdump filter syntax); views as in dissect."


@click.command(short_help=SHORT_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("words", nargs=-1, metavar="[EXPRESSION]...")
@click.option(
    "-i",
    "--iface",
    "iface",
    metavar="IFACE",
    callback=interface_name,
    shell_complete=complete.interfaces,
    help="Interface to capture on (default: the default route's), as tcpdump -i.",
)
@click.option(
    "-f",
    "--filter",
    "expression",
    metavar="BPF",
    default=None,
    help="Capture filter in tcpdump syntax, run in the kernel (e.g. 'icmp or port 53'); "
    "the same as giving it as trailing words.",
)
@click.option(
    "-s",
    "--snaplen",
    type=click.IntRange(min=1, max=262144),
    default=262144,
    show_default=True,
    metavar="BYTES",
    help="Keep at most BYTES of each packet.",
)
@click.option("-p", "--no-promiscuous-mode", "no_promisc", is_flag=True,
              help="Do not put the interface into promiscuous mode (like tcpdump -p).")  # fmt: skip
@click.option("-V", "--tree", is_flag=True, help="Show every layer and field (like tshark -V).")
@click.option("-x", "--hex", "hexdump", is_flag=True,
              help="Add a hex + ASCII dump of each packet, as tshark -x.")  # fmt: skip
@click.option(
    "-A",
    "ascii_view",
    is_flag=True,
    help="Print each packet (minus its link header) in ASCII, as tcpdump -A.",
)
@click.option(
    "-X",
    "hex_ascii_view",
    is_flag=True,
    help="Print each packet (minus its link header) in hex and ASCII, as tcpdump -X.",
)
@click.option("-w", "--write", metavar="FILE", type=click.Path(dir_okay=False),
              help="Write the packets captured to FILE (pcapng), as tcpdump -w.")  # fmt: skip
@click.option("--keylog", type=click.Path(dir_okay=False), metavar="FILE",
              help="Decrypt TLS with the secrets in FILE, an NSS key log (SSLKEYLOGFILE), "
                   "read again as it grows: start the browser or curl with "
                   "SSLKEYLOGFILE=FILE and its HTTPS shows decrypted.")  # fmt: skip
@plot_kind_options
@common_options("timeout", "count", "verbose", "json", "no_color")
def sniff(common: Common, words: tuple[str, ...], **options: Any) -> ExitStatus:
    """Capture packets on IFACE (default: the default route's interface) and show
    them as `netlab dissect` does, until -c N packets, --timeout SECONDS, or Ctrl-C.

    The filter (EXPRESSION: trailing words, joined as tcpdump joins them, or -f) is
    compiled by libpcap and runs in the kernel, so it takes exactly what tcpdump
    takes. Both directions are captured, with the kernel's time stamps. -v shows
    each packet's layers (-vv adds hex), as every command's -v; -A and -X add
    tcpdump's ASCII and hex views. At the end, "N packets captured, M dropped by
    kernel" goes to stderr; with --json the packets are NDJSON lines on stdout,
    ending with a {"type": "summary", "captured": N, "dropped": M, …} line.
    Ctrl-C exits 130.

    \b
    Examples:
      netlab sniff -i eth0 icmp -c 4
      netlab sniff -i eth0 -v udp port 53
      netlab sniff -i eth0 -A tcp port 80                     # HTTP as text
      netlab sniff -i eth0 -w http.pcapng --json tcp port 80 | jq .summary
      netlab sniff -i lo --keylog /tmp/keys tcp port 443   # SSLKEYLOGFILE=/tmp/keys curl …
      netlab sniff -i lo -c 200 --plot tcp-seq,0 tcp port 8080   # a picture at the end
    """
    o = SniffOptions(**options)
    expression, payload = _checked(common, words, o)
    return _capture(common, o, expression, payload)


@dataclass(frozen=True)
class SniffOptions:
    """sniff's own options (the shared ones are in `Common`), as click passes them."""

    iface: str | None
    expression: str | None
    snaplen: int
    no_promisc: bool
    tree: bool
    hexdump: bool
    ascii_view: bool
    hex_ascii_view: bool
    write: str | None
    keylog: str | None
    plot: str | None = None
    plot_out: str | None = None


def _checked(common: Common, words: tuple[str, ...], o: SniffOptions) -> tuple[str, str | None]:
    """The capture filter (trailing WORDS or -f, not both) and tcpdump's payload view
    (-A: "A", -X: "X", or None; one of them, and not with --json)."""
    from netlab.errors import InputError

    if words and o.expression is not None:
        raise InputError("give the filter once: as trailing words or with -f, not both")
    expression = " ".join(words) if words else (o.expression or "")
    views = [v for v, on in (("-A", o.ascii_view), ("-X", o.hex_ascii_view)) if on]
    if len(views) > 1:
        raise InputError("choose one of -A and -X")
    if views and common.json:
        raise InputError(f"{views[0]} is a text view: not with --json")
    return expression, views[0][1] if views else None


def _capture(common: Common, o: SniffOptions, expression: str, payload: str | None) -> ExitStatus:
    """Capture until -c, --timeout or Ctrl-C; the packets shown (and written with -w),
    then the counts on stderr."""
    from netlab.capture.live import LiveCapture, SignalStop, default_interface
    from netlab.net.privilege import require_raw_socket

    require_raw_socket("sniff")
    iface = o.iface or default_interface()
    capture = LiveCapture(iface, expression, snaplen=o.snaplen, promiscuous=not o.no_promisc)
    with capture, SignalStop() as stop:
        writer = None
        if o.write:
            from netlab.capture.tap import PcapngSink

            writer = PcapngSink(o.write, snaplen=capture.snaplen)
            writer.add_interface(capture.linktype, capture.iface)
        try:
            _run(capture, common, o, writer, stop, payload)
        finally:
            if writer is not None:
                writer.close()
        _report(capture, common, stop.fired)
    if stop.fired:
        return ExitStatus.INTERRUPTED
    # Nothing matched before --timeout: "no answer", as for the probing commands.
    return ExitStatus.SUCCESS if capture.captured else ExitStatus.NO_ANSWER


def _run(capture, common: Common, o: SniffOptions, writer, stop, payload: str | None) -> None:
    import sys

    from netlab.dissect import Dissector
    from netlab.outio import write_all
    from netlab.render.packets import PacketView
    from netlab.render.sniff import payload_view

    taps = []
    if o.plot or o.plot_out:  # --plot: drawn once the capture ends (after the packets)
        from netlab.dissect.graphs import parse_plot_spec
        from netlab.render.charts import PlotTap

        graph = parse_plot_spec(o.plot or "io", origin=lambda: view.first_ns)
        taps.append(PlotTap(graph, json=common.json, plot_out=o.plot_out, color=common.color,
                            terminal=o.plot is not None))  # fmt: skip
    # -v shows each packet's layers, -vv adds hex: as -V and -x
    view = PacketView(sys.stdout, tree=o.tree or common.verbose > 0,
                      hexdump=o.hexdump or common.verbose > 1, json=common.json,
                      count=common.count, live=True, taps=taps)  # fmt: skip
    dissector = Dissector(keylog=o.keylog)
    _announce(capture)  # only now: a script waiting for this line may signal us at once
    for no, frame in enumerate(capture.frames(common.timeout, stop), 1):
        if writer is not None:
            writer.write(no, frame)
        pkt = dissector.dissect(no, frame.ts_ns, frame.data, frame.wirelen, frame.linktype)
        more = view.feed(pkt)  # live=True: each packet is written and flushed at once
        if payload is not None:  # tcpdump -A / -X: below the packet's line (or tree)
            write_all(sys.stdout, payload_view(pkt, payload))
            sys.stdout.flush()
        if not more:
            break
    view.finish()


def _announce(capture) -> None:
    from netlab.capture.linktypes import LINKTYPE_NAMES

    name = LINKTYPE_NAMES.get(capture.linktype, str(capture.linktype))
    click.echo(
        f"listening on {capture.iface}, link-type {name}, snapshot length {capture.snaplen} bytes",
        err=True,
    )


def _report(capture, common: Common, interrupted: bool) -> None:
    _packets, drops = capture.stats()
    n = capture.captured
    click.echo(f"{n} packet{'s' * (n != 1)} captured, {drops} dropped by kernel", err=True)
    if common.json:
        # design.md §4: a stream ends with its summary line, also after Ctrl-C.
        from netlab.render.jsonout import NdjsonWriter

        NdjsonWriter().write({"type": "summary", "interface": capture.iface, "captured": n,
                              "dropped": drops, "interrupted": interrupted})  # fmt: skip
