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
    from netlab.render import packets as view

    out = sys.stdout
    show_tree = tree or (only is not None and not common.json)
    limit = common.count
    dissector = Dissector()
    shown = 0
    first_ns: int | None = None
    with open_capture(file) as cap:
        for no, frame in enumerate(cap, 1):
            if first_ns is None:
                first_ns = frame.ts_ns
            pkt = dissector.dissect(
                no, frame.ts_ns, frame.data, frame.wirelen, frame.linktype,
                frame.interface, frame.comment,
            )  # fmt: skip
            if only is not None and no != only:
                continue
            if common.json:
                view.write_json(out, pkt)
            else:
                if show_tree:
                    out.write("\n".join(view.tree_lines(pkt)) + "\n")
                else:
                    out.write(view.summary_line(pkt, first_ns) + "\n")
                if hexdump:
                    out.write("\n".join(view.hex_lines(pkt.buf)) + "\n")
                if show_tree or hexdump:
                    out.write("\n")
            shown += 1
            if (limit is not None and shown >= limit) or (only is not None and no >= only):
                break
        warnings = list(cap.warnings)
    out.flush()
    for warning in warnings:
        click.echo(f"netlab: warning: {file}: {warning}", err=True)
    if only is not None and shown == 0:
        click.echo(f"netlab: error: {file} has no packet {only}", err=True)
        return ExitStatus.NO_ANSWER
    return ExitStatus.SUCCESS
