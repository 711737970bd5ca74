"""`netlab dissect FILE`: decode a pcap/pcapng capture like tshark, faster, never crashing."""

from __future__ import annotations

import click

from netlab.cli.options import Common, common_options
from netlab.errors import ExitStatus


@click.command(
    short_help="Decode a pcap/pcapng capture: one line per packet, full tree, hex, or NDJSON.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.argument("file", metavar="FILE")
@click.option("-V", "--tree", is_flag=True, help="Show every layer and field (like tshark -V).")
@click.option("-x", "--hex", "hexdump", is_flag=True, help="Add a hex + ASCII dump of each packet.")
@click.option("--packet", "only", type=click.IntRange(min=1), metavar="N",
              help="Show only packet number N (implies -V unless --json).")  # fmt: skip
@common_options("count", "json", "no_color")
def dissect(common: Common, file: str, tree: bool, hexdump: bool, only: int | None) -> ExitStatus:
    """Decode FILE (pcap or pcapng, optionally gzip-compressed; '-' reads stdin).

    Field names are Wireshark's (ip.ttl, tcp.flags.syn, …), in the tree and in
    --json, which prints one object per packet (NDJSON). A damaged packet is
    marked malformed and decoding goes on; a truncated file is decoded up to the
    damage, then one warning is printed.

    \b
    Examples:
      netlab dissect pcaps/ping.pcapng
      netlab dissect -V --packet 3 pcaps/tcp-handshake.pcapng
      netlab dissect --json pcaps/dns.pcapng | jq '.fields["dns.qry.name"]'
    """
    import sys

    from netlab.capture.reader import open_capture
    from netlab.dissect import Dissector
    from netlab.render.packets import PacketView

    view = PacketView(
        sys.stdout, tree=tree, hexdump=hexdump, json=common.json, count=common.count, only=only
    )
    dissector = Dissector()
    with open_capture(file) as cap:
        for no, frame in enumerate(cap, 1):
            pkt = dissector.dissect(
                no, frame.ts_ns, frame.data, frame.wirelen, frame.linktype,
                frame.interface, frame.comment,
            )  # fmt: skip
            if not view.feed(pkt):
                break
        warnings = list(cap.warnings)
    view.finish()
    for warning in warnings:
        click.echo(f"netlab: warning: {file}: {warning}", err=True)
    if only is not None and view.shown == 0:
        click.echo(f"netlab: error: {file} has no packet {only}", err=True)
        return ExitStatus.NO_ANSWER
    return ExitStatus.SUCCESS
