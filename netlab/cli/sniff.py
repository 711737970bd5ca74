"""`netlab sniff`: live capture with a tcpdump-syntax filter, shown like `netlab dissect`."""

from __future__ import annotations

import click

from netlab.cli.options import Common, common_options
from netlab.errors import ExitStatus

SHORT_HELP = "Capture live packets on an interface (tcpdump filter syntax); views as in dissect."


@click.command(short_help=SHORT_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-f",
    "--filter",
    "expression",
    metavar="BPF",
    default="",
    help="Capture filter in tcpdump syntax, run in the kernel (e.g. 'icmp or port 53').",
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
@click.option("-x", "--hex", "hexdump", is_flag=True, help="Add a hex + ASCII dump of each packet.")
@click.option("--keylog", type=click.Path(dir_okay=False), metavar="FILE",
              help="Decrypt TLS with the secrets in FILE, an NSS key log (SSLKEYLOGFILE), "
                   "read again as it grows: start the browser or curl with "
                   "SSLKEYLOGFILE=FILE and its HTTPS shows decrypted.")  # fmt: skip
@common_options("iface", "timeout", "count", "write", "json", "no_color")
def sniff(
    common: Common, expression: str, snaplen: int, no_promisc: bool, tree: bool, hexdump: bool,
    keylog: str | None,
) -> ExitStatus:  # fmt: skip
    """Capture packets on IFACE (default: the default route's interface) and show
    them as `netlab dissect` does, until -c N packets, --timeout SECONDS, or Ctrl-C.

    The filter is compiled by libpcap and runs in the kernel, so it takes exactly
    what tcpdump takes. Both directions are captured, with the kernel's time
    stamps. At the end, "N packets captured, M dropped by kernel" goes to stderr;
    with --json the packets are NDJSON lines on stdout, ending with a
    {"type": "summary", "captured": N, "dropped": M, …} line. Ctrl-C exits 130.

    \b
    Examples:
      netlab sniff -i eth0 -f 'icmp' -c 4
      netlab sniff -i eth0 -f 'udp port 53' -V
      netlab sniff -i eth0 -f 'tcp port 80' -w http.pcapng --json | jq .summary
      netlab sniff -i lo --keylog /tmp/keys -f 'tcp port 443'   # SSLKEYLOGFILE=/tmp/keys curl …
    """
    from netlab.capture.live import LiveCapture, SignalStop, default_interface
    from netlab.net.privilege import require_raw_socket

    require_raw_socket("sniff")
    iface = common.iface or default_interface()
    capture = LiveCapture(iface, expression, snaplen=snaplen, promiscuous=not no_promisc)
    with capture, SignalStop() as stop:
        writer = None
        if common.write:
            from netlab.capture.tap import PcapngSink

            writer = PcapngSink(common.write, snaplen=capture.snaplen)
            writer.add_interface(capture.linktype, capture.iface)
        try:
            _run(capture, common, tree, hexdump, writer, stop, keylog)
        finally:
            if writer is not None:
                writer.close()
        _report(capture, common, stop.fired)
    if stop.fired:
        return ExitStatus.INTERRUPTED
    # Nothing matched before --timeout: "no answer", as for the probing commands.
    return ExitStatus.SUCCESS if capture.captured else ExitStatus.NO_ANSWER


def _run(capture, common: Common, tree: bool, hexdump: bool, writer, stop, keylog=None) -> None:
    import sys

    from netlab.dissect import Dissector
    from netlab.render.packets import PacketView

    view = PacketView(
        sys.stdout, tree=tree, hexdump=hexdump, json=common.json, count=common.count, live=True
    )
    dissector = Dissector(keylog=keylog)
    _announce(capture)  # only now: a script waiting for this line may signal us at once
    for no, frame in enumerate(capture.frames(common.timeout, stop), 1):
        if writer is not None:
            writer.write(no, frame)
        pkt = dissector.dissect(no, frame.ts_ns, frame.data, frame.wirelen, frame.linktype)
        if not view.feed(pkt):  # live=True: each packet is written and flushed at once
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
