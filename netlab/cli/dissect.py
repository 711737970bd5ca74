"""`netlab dissect FILE`: decode a pcap/pcapng capture like tshark, faster, never crashing."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import click

from netlab.cli import complete
from netlab.cli.options import Common, common_options
from netlab.cli.plotopts import plot_kind_options
from netlab.cli.tshark_opts import Script, tshark_options
from netlab.errors import ExitStatus

JOBS_LIMIT = 64  # -j: refused above this (exit 2); more than 4 per CPU are cut to that


def _check_stats(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]):
    """A bad --stats SPEC is a one-line usage error before the capture is read."""
    if value:
        from netlab.dissect.stats import parse_stats_spec
        from netlab.errors import InputError

        for spec in value:
            try:
                parse_stats_spec(spec)
            except (ValueError, InputError) as err:
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
@click.argument("file", metavar="FILE", required=False, shell_complete=complete.files)
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
@click.option("-z", "--stats", "stats", metavar="SPEC", multiple=True, callback=_check_stats,
              shell_complete=complete.stats_specs,
              help="Print a statistic at the end, like tshark -q -z (repeatable): phs, "
                   "conv,KIND, endpoints,KIND (KIND: eth|ip|ipv6|tcp|udp; default ip), "
                   "io,SECONDS (0: one interval), io,stat,SECONDS,FILTER,… (a column per "
                   "filter; also COUNT|SUM|MIN|MAX|AVG(FIELD)FILTER), expert[,LEVEL], "
                   "dns,tree, http,tree, follow,PROTO,MODE,N (as --follow). Packet "
                   "lines are then left out unless --show-packets; with --json each "
                   "statistic is one NDJSON object after the packets. With -Y only "
                   "matching packets count.")  # fmt: skip
@click.option("--follow", "follow", metavar="PROTO,N[,MODE]", multiple=True,
              callback=_check_follow,
              help="Print a stream's data in order, as tshark -z follow: tcp,N (tcp.stream, "
                   "reassembled), udp,N (udp.stream), tls,N (decrypted, with --keylog), "
                   "http2,N,SID (stream SID of tcp.stream N); tcp and udp also take "
                   "ADDR:PORT,ADDR:PORT. MODE ascii (default), hex or raw; the second "
                   "node's data is indented with a tab. Packet lines are left out as "
                   "with --stats.")  # fmt: skip
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
@plot_kind_options
@tshark_options
@common_options("count", "json", "no_color")
def dissect(common: Common, file: str | None, **options: Any) -> ExitStatus:
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
      netlab dissect -r pcaps/dns.pcapng -T fields -E header=y -e ip.src -e dns.qry.name
      netlab dissect -Y 'frame contains "hello"' -w hello.pcapng pcaps/tcp-udp.pcap
      netlab dissect --stats phs --stats conv,tcp pcaps/tcp-udp.pcap
      netlab dissect --stats io,0.5 --stats endpoints,ip pcaps/ping.pcap
      netlab dissect --follow tcp,0 pcaps/tcp-udp.pcap
      netlab dissect --follow tcp,0,hex pcaps/tcp-udp.pcap
      netlab dissect -z expert -z dns,tree pcaps/dns.pcapng
      netlab dissect -z io,stat,0.5,udp,tcp,"COUNT(dns.qry.name)dns" pcaps/dns.pcapng
      netlab dissect -z follow,udp,hex,0 -z follow,http2,ascii,1,1 pcaps/http.pcapng
      netlab dissect --keylog keys.txt -Y http2 https.pcapng
      netlab dissect --plot io,0.001,tcp,udp pcaps/tcp-udp.pcap
      netlab dissect --plot flow,0 --plot-out handshake.svg pcaps/tcp-udp.pcap
    """
    o = DissectOptions(file=file, **options)
    o.script = o.script or Script()
    o.file = o.script.capture(file)
    o.script.check()  # tshark's options (-T, -e, -E, -2 -R, -w …): refused as tshark does
    if o.only is not None and common.count is not None:
        from netlab.errors import InputError

        raise InputError("--packet N shows that one packet: -c does not go with it")
    o.keylog = _keylog_option(o.keylog, o.script.preference("tls.keylog_file"))
    if o.keylog is not None:
        _check_keylog(o.keylog)
    return _Reading(common, o).run()


@dataclass
class DissectOptions:
    """dissect's own options (the shared ones are in `Common`), as click passes them."""

    file: Any  # the capture (str; '-' for stdin), once Script.capture has looked at -r
    tree: bool
    hexdump: bool
    only: int | None
    display_filter: str | None
    stats: tuple[str, ...]
    follow: tuple[str, ...]
    show_packets: bool
    jobs: int
    keylog: str | None
    plot: str | None = None
    plot_out: str | None = None
    script: Script | None = None


class _Reading:
    """One run of `dissect`: the filters, statistics and view the options ask for, then
    the capture read through them (by several processes for a whole big file)."""

    def __init__(self, common: Common, o: DissectOptions) -> None:
        self.common, self.o = common, o
        self.script: Script = o.script
        self.view: Any = None
        self.stream = False  # --json as an NDJSON stream closed by a summary line

    def origin(self) -> int | None:
        """Relative times in the statistics count from the capture's first frame, as
        tshark's do."""
        return self.view.first_ns

    def run(self) -> ExitStatus:
        o, script = self.o, self.script
        compiled = _compile(o.display_filter)  # a bad filter: one-line error before reading
        read_filter = _compile(script.read_filter)
        taps = self.taps()
        plot_tap = _plot_tap(o.plot, o.plot_out, self.common, self.origin)
        if plot_tap is not None:
            if not (taps or compiled or o.show_packets or o.only is not None or script.active
                    or read_filter is not None or plot_tap.graph.needs_packets):  # fmt: skip
                return _plot_frames(o.file, plot_tap, o.plot or "io", self.common.count)
            taps.append(plot_tap)
        self.view = self.packet_view(compiled, taps)
        # --json is an NDJSON stream (packets and/or statistics) closed by a summary line
        # (docs/json.md); --plot's numbers and tshark's -T formats are documents of their own.
        self.stream = self.common.json and plot_tap is None and script.fields_format() is None
        # Views that build every packet's fields gain nothing from the columns' shortcuts.
        quick = not (o.tree or self.common.json or compiled or taps or read_filter
                     or (script.fields and self.view.quick_fields is None)
                     or script.tree_protocols is not None
                     or script.output in ("pdml", "json"))  # fmt: skip
        whole = not (taps or compiled or o.only is not None or self.common.count is not None
                     or script.active)  # fmt: skip
        status = self.in_parallel(quick) if whole else None
        if status is None:
            status = self.read(quick, read_filter, seek=not (taps or compiled or read_filter))
        return self.checked(status, plot_tap)

    def taps(self) -> list:
        """--stats and --follow: each a tap of the view."""
        from netlab.dissect.follow import parse_follow_spec
        from netlab.dissect.stats import parse_stats_spec

        json, o = self.common.json, self.o
        taps = [
            parse_stats_spec(spec, json=json, origin=self.origin, display_filter=o.display_filter)
            for spec in o.stats
        ]
        return taps + [parse_follow_spec(spec, json=json) for spec in o.follow]

    def packet_view(self, compiled: Any, taps: list) -> Any:
        """The view every packet goes to: the lines, tree, hex, JSON or tshark's -T form
        asked for, and the taps (statistics, streams, plot, -w)."""
        import sys

        from netlab.render.packets import PacketView

        o, script = self.o, self.script
        # tshark -q: statistics only; -w: the packets go to the file, none to the terminal
        quiet = (bool(taps) and not o.show_packets) or script.quiet or script.write is not None
        if script.write is not None:
            from netlab.cli.tshark_opts import PcapngSaver

            taps.append(PcapngSaver(script.write))
        return PacketView(
            sys.stdout, tree=o.tree, hexdump=o.hexdump, json=self.common.json,
            count=self.common.count, only=o.only, display_filter=compiled, taps=taps,
            quiet=quiet, live=script.line_buffered, fields_format=script.fields_format(),
            time_format=script.time_format, tabs=script.output == "tabs",
            tree_protocols=script.tree_protocols,
        )  # fmt: skip

    def in_parallel(self, quick: bool) -> ExitStatus | None:
        """A whole file in several processes (dissect/jobs.py): its exit status, or None
        when one process reads it (-j 1, a small file, a pipe)."""
        from netlab.dissect import jobs as parallel
        from netlab.render.packets import PacketView

        o, common = self.o, self.common
        if o.jobs > parallel.most_jobs():
            click.echo(f"netlab: note: -j {o.jobs}: more than 4 processes per CPU only wait "
                       f"on each other; using {parallel.most_jobs()}", err=True)  # fmt: skip
        jobs = min(o.jobs, parallel.most_jobs()) or parallel.auto_jobs(o.file)
        if jobs <= 1 or not parallel.readable_twice(o.file):
            return None
        try:
            warnings = parallel.run(o.file, jobs, lambda out: PacketView(
                out, tree=o.tree, hexdump=o.hexdump, json=common.json), quick=quick,
                keylog=o.keylog, progress=_jobs_progress(common.color))  # fmt: skip
        except KeyboardInterrupt:  # every process stopped after a whole chunk
            _summary(self.stream, None, interrupted=True)  # (how many went out: unknown)
            raise
        _summary(self.stream, parallel.frames_read)
        return _warn(o.file, warnings)

    def read(self, quick: bool, read_filter: Any, seek: bool) -> ExitStatus:
        """The capture read in this process, each frame decoded and handed to the view.
        SEEK: --packet N may skip to N (no tap or filter needs the frames before it)."""
        from netlab.capture.reader import open_capture
        from netlab.dissect import Dissector

        o, view, script = self.o, self.view, self.script
        # Only a view of fields can show udp.stream: the one-line and hex views skip its table.
        dissector = Dissector(quick, udp_streams=not quick or o.only is not None,
                              keylog=o.keylog)  # fmt: skip
        dissector.absolute_seq = script.absolute_seq  # -o tcp.relative_sequence_numbers:FALSE
        dissector.info = view.shows_info
        # Ctrl-C ends the reading (the frames already read still go through): the lines so
        # far are whole, and the statistics and streams asked for are reported for what was
        # read, as tshark -z does. Nothing is checked per packet.
        with (
            open_capture(o.file) as cap,
            _stop_on_signal(cap) as stopped,
            _progress(cap, script.quiet, self.common.color) as bar,
        ):
            view.time_digits = _time_digits(cap)
            numbered, read = _numbered(cap)
            if bar is not None:  # (the bar goes before the statistics are printed)
                view.out = bar.watch(view.out)
                bar.packets = read
            if script.two_pass:
                kept, view.first_ns, answers = _first_pass(o.file, read_filter, o.keylog,
                                                           script.absolute_seq)  # fmt: skip
                if kept is None:  # -2: the second pass knows which reply answers a request
                    dissector.answers = answers
                else:  # -2 -R: the frames the first pass kept, renumbered
                    numbered = enumerate((f for no, f in numbered
                                          if no <= len(kept) and kept[no - 1]), 1)  # fmt: skip
            # --packet N: the frames before N only keep the cross-packet state up to date
            # (the light pass of --jobs), unless the view needs every packet decoded.
            if o.only is not None and seek and not (view.clock or o.keylog):
                numbered = _skip_to(o.only, numbered, dissector, view)
            view.feed_frames(dissector, numbered)
            warnings = list(cap.warnings)
        view.finish()
        _summary(self.stream, view.shown, interrupted=bool(stopped))
        if stopped:
            return ExitStatus.INTERRUPTED
        return _warn(o.file, warnings)

    def checked(self, status: ExitStatus, plot_tap: Any) -> ExitStatus:
        """After a clean read: exit 1 when the plot asked for had nothing to draw, or the
        --packet asked for is not in the file."""
        o = self.o
        if status != ExitStatus.SUCCESS:
            return status
        if plot_tap is not None and plot_tap.problem:
            click.echo(f"netlab: error: --plot {o.plot}: {plot_tap.problem}", err=True)
            return ExitStatus.NO_ANSWER
        if o.only is not None and self.view.shown == 0:
            click.echo(f"netlab: error: {o.file} has no packet {o.only}", err=True)
            return ExitStatus.NO_ANSWER
        return status


def _compile(display_filter: str | None) -> Any:
    """A display filter (-Y, or -2 -R's read filter) compiled, or None: a bad one is a
    one-line error before anything is read."""
    if display_filter is None:
        return None
    from netlab.dissect.filter import compile_filter

    return compile_filter(display_filter)


def _plot_tap(plot: str | None, plot_out: str | None, common: Common, origin):
    """The --plot graph as a tap of the view (--plot-out alone draws the I/O graph)."""
    if plot is None and plot_out is None:
        return None
    from netlab.dissect.graphs import parse_plot_spec
    from netlab.render.charts import PlotTap

    graph = parse_plot_spec(plot or "io", origin=origin)
    # --plot-out alone writes the file; the terminal gets the picture only with --plot.
    return PlotTap(graph, json=common.json, plot_out=plot_out, color=common.color,
                   terminal=plot is not None)  # fmt: skip


def _plot_frames(file: str, plot_tap, spec: str, count: int | None) -> ExitStatus:
    """An I/O graph without filters needs only each frame's time and length: the frames
    go to it undecoded (memory flat: one counter pair per interval)."""
    import sys

    from netlab.capture.reader import open_capture
    from netlab.dissect.graphs import parse_plot_spec

    plot_tap.graph = parse_plot_spec(spec)  # no view: times count from the first frame
    add = plot_tap.graph.add
    with (
        open_capture(file) as cap,
        _stop_on_signal(cap) as stopped,
        _progress(cap, False, plot_tap.color) as bar,
    ):
        numbered, read = _numbered(cap)
        if bar is not None:
            bar.packets = read
        for n, frame in numbered:
            add(frame)
            if count is not None and n >= count:
                break
        warnings = list(cap.warnings)
    plot_tap.report(sys.stdout)
    sys.stdout.flush()
    if stopped:
        return ExitStatus.INTERRUPTED
    status = _warn(file, warnings)
    if plot_tap.problem and status == ExitStatus.SUCCESS:
        click.echo(f"netlab: error: --plot {spec}: {plot_tap.problem}", err=True)
        return ExitStatus.NO_ANSWER
    return status


def _numbered(cap) -> tuple:
    """(number, frame) pairs as enumerate(cap, 1) gives them, and how many frames were
    read so far, which another thread can ask at no cost to the loop: itertools.count's
    repr is its next value ("count(42)")."""
    import itertools

    counter = itertools.count(1)
    return zip(counter, cap, strict=False), lambda: int(repr(counter)[6:-1]) - 1


@contextlib.contextmanager
def _progress(cap, quiet: bool, color: bool):
    """The progress bar on stderr while CAP is read (render/progress.py), or None: not
    a terminal, or -q. It is down again when the block ends."""
    from netlab.render.progress import read_progress

    source = cap.source
    bar = read_progress(source.raw if source is not None else None, quiet, color)
    if bar is None:
        yield None
        return
    with bar:
        yield bar


def _jobs_progress(color: bool):
    """--jobs: the bar for process 0's reading (it reads every frame), or None. Only
    when stdout is not the terminal: the other processes write their chunks to stdout
    straight, and a bar drawn meanwhile on the same terminal would tear their lines
    (on a terminal the output itself shows the progress)."""
    import sys

    try:
        if sys.stdout.isatty():
            return None
    except (AttributeError, ValueError):  # closed or replaced: no terminal there
        pass

    @contextlib.contextmanager
    def bar_while(cap, frames):
        with _progress(cap, False, color) as bar:
            if bar is not None:
                bar.packets = frames
            yield bar

    return bar_while


def _skip_to(only: int, numbered, dissector, view):
    """--packet N without decoding the frames before N: each gets Dissector.track,
    the light pass of --jobs that keeps TCP/UDP streams, sequence numbers and
    reassembly as a full decode would (tests/test_dissect_progress.py holds the output
    to it); then frame N and what follows are handed on as they come."""
    import itertools

    track = dissector.track
    for no, frame in numbered:
        if view.first_ns is None:
            view.first_ns = frame.ts_ns
        if no >= only:
            return itertools.chain(((no, frame),), numbered)
        track(no, frame.data, frame.wirelen, frame.linktype, frame.ts_ns)
    return numbered


def _first_pass(file: str, read_filter, keylog: str | None, absolute_seq: bool = False
                ) -> tuple[bytearray | None, int | None, dict[int, int]]:  # fmt: skip
    """tshark -2: decode every frame once. With -R, keep those READ_FILTER passes (a
    byte per frame; else None). Also the first frame's time, which the second pass's
    times count from, and which frame answered each ping or DNS query ({request:
    response}: the second pass's "(reply in N)" and dns.response_in; with -R the frames
    are renumbered and it is not used)."""
    from netlab.capture.reader import open_capture
    from netlab.dissect import Dissector
    from netlab.errors import InputError

    if file == "-":
        raise InputError("-2 reads the capture twice: give a file, not '-'")
    kept = bytearray() if read_filter is not None else None
    first = None
    dissector = Dissector(kept is None, keylog=keylog)  # (without -R: only the columns)
    dissector.absolute_seq = absolute_seq
    dissector.answers_found = {}
    with open_capture(file) as cap:
        for no, frame in enumerate(cap, 1):
            if first is None:
                first = frame.ts_ns
            if kept is None and dissector.columns(no, frame.data, frame.linktype, frame.ts_ns):
                continue  # (a plain frame: its state kept, no Packet needed)
            pkt = dissector.dissect(no, frame.ts_ns, frame.data, frame.wirelen, frame.linktype,
                                    frame.interface, frame.comment)  # fmt: skip
            if kept is not None:
                kept.append(read_filter.matches(pkt))
    return kept, first, dissector.answers_found


def _time_digits(cap) -> int:
    """Decimals of the time column for -t: the file's resolution (tshark's precision)."""
    per_second = max((i.ts_per_second for i in cap.interfaces), default=1_000_000)
    return 9 if per_second > 1_000_000 else 6


def _keylog_option(keylog: str | None, preference: str | None) -> str | None:
    """--keylog FILE, or -o tls.keylog_file:FILE (tshark's name for it); both: the same."""
    from netlab.errors import InputError

    if preference is None:
        return keylog
    if keylog is not None and keylog != preference:
        raise InputError(f"two key logs: --keylog {keylog!r} and -o tls.keylog_file:"
                         f"{preference!r}; give one")  # fmt: skip
    return preference


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


def _summary(stream: bool, packets: int | None, interrupted: bool = False) -> None:
    """The closing line of the NDJSON stream: how many packets passed -Y/-c (shown, or
    counted by the statistics asked for)."""
    if stream:
        from netlab.render.jsonout import NdjsonWriter

        NdjsonWriter().write({"type": "summary", "packets": packets, "interrupted": interrupted})


def _warn(file: str, warnings: list[str]) -> ExitStatus:
    """Say what was wrong with the file; a damaged one (cut short, a corrupt block, a read
    error: decoding stopped early) exits 2 after everything before the damage is shown,
    as tshark does. Options it had to ignore inside a whole block are only a warning."""
    for warning in warnings:
        click.echo(f"netlab: warning: {file}: {warning}", err=True)
    damaged = any(not w.startswith("malformed options ignored") for w in warnings)
    return ExitStatus.ERROR if damaged else ExitStatus.SUCCESS
