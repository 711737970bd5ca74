"""`netlab dissect FILE`: decode a pcap/pcapng capture like tshark, faster, never crashing."""

from __future__ import annotations

import contextlib

import click

from netlab.cli.options import Common, common_options
from netlab.errors import ExitStatus

JOBS_LIMIT = 64  # -j: refused above this (exit 2); more than 4 per CPU are cut to that


def _check_stats(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]):
    """A bad --stats SPEC is a one-line usage error before the capture is read."""
    if value:
        from netlab.dissect.stats import parse_stats_spec

        for spec in value:
            try:
                parse_stats_spec(spec)
            except ValueError as err:
                raise click.BadParameter(str(err)) from None
    return value


def _check_follow(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]):
    if value:
        from netlab.dissect.follow import parse_follow_spec

        for spec in value:
            try:
                parse_follow_spec(spec)
            except ValueError as err:
                raise click.BadParameter(str(err)) from None
    return value


@click.command(
    short_help="Decode a pcap/pcapng capture: one line per packet, full tree, hex, or NDJSON.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.argument("file", metavar="FILE")
@click.option("-V", "--tree", is_flag=True, help="Show every layer and field (like tshark -V).")
@click.option("-x", "--hex", "hexdump", is_flag=True, help="Add a hex + ASCII dump of each packet.")
@click.option(
    "-Y",
    "--display-filter",
    "display_filter",
    metavar="FILTER",
    help='Show only packets matching a Wireshark display filter, e.g. "tcp.port == 80".',
)
@click.option("--packet", "only", type=click.IntRange(min=1), metavar="N",
              help="Show only packet number N (implies -V unless --json).")  # fmt: skip
@click.option("--stats", "stats", metavar="SPEC", multiple=True, callback=_check_stats,
              help="Print a statistic at the end, like tshark -q -z (repeatable): phs, "
                   "conv,KIND, endpoints,KIND (KIND: eth|ip|ipv6|tcp|udp; default ip), "
                   "io,SECONDS (0: one interval). Packet lines are then left out "
                   "unless --show-packets; with --json each statistic is one NDJSON "
                   "object after the packets. With -Y only matching packets count.")  # fmt: skip
@click.option("--follow", "follow", metavar="tcp,N[,MODE]", multiple=True,
              callback=_check_follow,
              help="Print TCP stream N (tcp.stream) reassembled, as tshark -z follow: "
                   "MODE ascii (default), hex or raw; the second node's data is "
                   "indented with a tab. Packet lines are left out as with --stats.")  # fmt: skip
@click.option("--keylog", type=click.Path(dir_okay=False), metavar="FILE",
              help="Decrypt TLS with the secrets in FILE, an NSS key log (SSLKEYLOGFILE, "
                   "curl/browsers, openssl -keylogfile, netlab http/tls-hello --keylog), as "
                   "tshark -o tls.keylog_file:FILE: TLS 1.3, and TLS 1.2 with AES-GCM, "
                   "ChaCha20-Poly1305 or AES-CBC; HTTP inside is decoded.")  # fmt: skip
@click.option("--show-packets", is_flag=True,
              help="With --stats or --follow, print the packets as well.")  # fmt: skip
@click.option("-j", "--jobs", type=click.IntRange(0, JOBS_LIMIT), default=0,
              show_default="0 = auto",
              help="Processes that decode a big file together, output unchanged (auto: "
                   "one per CPU, up to 4, for files over 4 MB; 1 = one process; at most "
                   f"{JOBS_LIMIT}, and 4 per CPU). Used by the one-line, -V, -x and --json "
                   "views of whole files.")  # fmt: skip
@common_options("count", "json", "no_color")
def dissect(
    common: Common,
    file: str,
    tree: bool,
    hexdump: bool,
    only: int | None,
    display_filter: str | None,
    stats: tuple[str, ...],
    follow: tuple[str, ...],
    show_packets: bool,
    jobs: int,
    keylog: str | None,
) -> ExitStatus:
    """Decode FILE (pcap or pcapng, optionally gzip-compressed; '-' reads stdin).

    Field names are Wireshark's (ip.ttl, tcp.flags.syn, …), in the tree and in
    --json, which prints one object per packet (NDJSON). A damaged packet is
    marked malformed and decoding goes on; a truncated file is decoded up to the
    damage, then one warning is printed.

    \b
    Examples:
      netlab dissect pcaps/ping.pcap
      netlab dissect -V --packet 3 pcaps/tcp-udp.pcap
      netlab dissect --json pcaps/arp-ping.pcapng | jq '.fields["arp.opcode"]'
      netlab dissect -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' pcaps/tcp-udp.pcap
      netlab dissect --stats phs --stats conv,tcp pcaps/tcp-udp.pcap
      netlab dissect --stats io,0.5 --stats endpoints,ip pcaps/ping.pcap
      netlab dissect --follow tcp,0 pcaps/tcp-udp.pcap
      netlab dissect --follow tcp,0,hex pcaps/tcp-udp.pcap
      netlab dissect --keylog keys.txt -Y http2 https.pcapng
    """
    import sys

    from netlab.capture.reader import open_capture
    from netlab.dissect import Dissector
    from netlab.render.packets import PacketView

    if only is not None and common.count is not None:
        from netlab.errors import InputError

        raise InputError("--packet N shows that one packet: -c does not go with it")
    if keylog is not None:
        _check_keylog(keylog)
    compiled = None
    if display_filter is not None:
        from netlab.dissect.filter import compile_filter

        compiled = compile_filter(display_filter)  # a bad filter: one-line error before reading
    from netlab.dissect.follow import parse_follow_spec
    from netlab.dissect.stats import parse_stats_spec

    # Relative times in the statistics count from the capture's first frame, as tshark's do.
    def origin() -> int | None:
        return view.first_ns

    taps = [
        parse_stats_spec(spec, json=common.json, origin=origin, display_filter=display_filter)
        for spec in stats
    ]
    taps += [parse_follow_spec(spec, json=common.json) for spec in follow]
    view = PacketView(
        sys.stdout,
        tree=tree,
        hexdump=hexdump,
        json=common.json,
        count=common.count,
        only=only,
        display_filter=compiled,
        taps=taps,
        quiet=bool(taps) and not show_packets,  # tshark -q: statistics only
    )
    # Views that build every packet's fields gain nothing from the columns' shortcuts.
    quick = not (tree or common.json or compiled or taps)
    # Only a view of fields can show udp.stream: the one-line and hex views skip its table.
    fields_shown = not quick or only is not None
    whole = not (taps or compiled or only is not None or common.count is not None)
    if whole:
        from netlab.dissect import jobs as parallel

        if jobs > parallel.most_jobs():
            click.echo(f"netlab: note: -j {jobs}: more than 4 processes per CPU only wait "
                       f"on each other; using {parallel.most_jobs()}", err=True)  # fmt: skip
        jobs = min(jobs, parallel.most_jobs()) or parallel.auto_jobs(file)
        if jobs > 1 and parallel.readable_twice(file):
            warnings = parallel.run(file, jobs, lambda out: PacketView(
                out, tree=tree, hexdump=hexdump, json=common.json), quick=quick,
                keylog=keylog)  # fmt: skip
            return _warn(file, warnings)
    dissector = Dissector(quick, udp_streams=fields_shown, keylog=keylog)
    # Ctrl-C ends the reading (the frames already read still go through): the lines so
    # far are whole, and the statistics and streams asked for are reported for what was
    # read, as tshark -z does. Nothing is checked per packet.
    with open_capture(file) as cap, _stop_on_signal(cap) as stopped:
        view.feed_frames(dissector, enumerate(cap, 1))
        warnings = list(cap.warnings)
    view.finish()
    if stopped:
        return ExitStatus.INTERRUPTED
    status = _warn(file, warnings)
    if only is not None and view.shown == 0 and status == ExitStatus.SUCCESS:
        click.echo(f"netlab: error: {file} has no packet {only}", err=True)
        return ExitStatus.NO_ANSWER
    return status


def _check_keylog(path: str) -> None:
    """A key log that cannot be read is a usage error (exit 2), before any output."""
    from netlab.errors import InputError

    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as err:
        raise InputError(f"cannot read the key log {path!r}: {err.strerror}") from None


@contextlib.contextmanager
def _stop_on_signal(cap):
    """While reading CAP, SIGINT/SIGTERM end its data instead of raising; yields a list
    that holds the signal once one came."""
    import signal

    stopped: list[int] = []

    def note(signum: int, _frame: object) -> None:
        if stopped:  # a second Ctrl-C: a read blocked on a quiet pipe (dissect -) ends too
            raise KeyboardInterrupt
        stopped.append(signum)
        cap.stop_reading()

    saved = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stopped
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _warn(file: str, warnings: list[str]) -> ExitStatus:
    """Say what was wrong with the file; a damaged one (cut short, a corrupt block, a read
    error: decoding stopped early) exits 2 after everything before the damage is shown,
    as tshark does. Options it had to ignore inside a whole block are only a warning."""
    for warning in warnings:
        click.echo(f"netlab: warning: {file}: {warning}", err=True)
    damaged = any(not w.startswith("malformed options ignored") for w in warnings)
    return ExitStatus.ERROR if damaged else ExitStatus.SUCCESS
