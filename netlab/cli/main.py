"""The root `netlab` command: a lazy click group and the one error path.

Start-up speed matters (people run `netlab --help` and tab-complete all day), so
this module imports nothing but click and the standard library. Commands live
in their own modules and are imported only when they run. `--help` and shell
completion list commands from the static table below instead of importing each
module, which a plain lazy group would still do to read the short help
(see click's docs, "Lazily Loading Subcommands").

Adding a command = one module in `netlab/cli/` + one row in `COMMANDS`.
`tests/test_cli_spine.py` checks that each row's help equals the command's own.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import NamedTuple, NoReturn

import click

from netlab import __version__
from netlab.cli import state
from netlab.errors import ExitStatus, NetlabError


class CommandEntry(NamedTuple):
    target: str  # "module:attribute" of the click command
    short_help: str  # shown by `netlab --help` and completion; must match the command's


# Only commands that really work are listed: no placeholders.
COMMANDS: dict[str, CommandEntry] = {
    "arp": CommandEntry(
        "netlab.cli.arp:arp",
        "Ask who-has with ARP like arping; --scan subnets like arp-scan; DAD, gratuitous ARP.",
    ),
    "cert": CommandEntry(
        "netlab.cli.cert:cert",
        "Make and check X.509 certificates like openssl: CA, issue, CSR, sign, show, verify.",
    ),
    "cidr": CommandEntry(
        "netlab.cli.cidr:cidr",
        "Explain IPv4/IPv6 prefixes: network, mask, broadcast, hosts, scope, class.",
    ),
    "dht-lookup": CommandEntry(
        "netlab.cli.dht_lookup:dht_lookup",
        "Look up an info-hash or node id in the BitTorrent DHT, hop by hop (BEP 5).",
    ),
    "dissect": CommandEntry(
        "netlab.cli.dissect:dissect",
        "Decode a pcap/pcapng capture: one line per packet, full tree, hex, or NDJSON.",
    ),
    "dns-query": CommandEntry(
        "netlab.cli.dnsquery:dns_query",
        "Ask DNS servers like dig (UDP, TCP retry, EDNS); --trace walks down from the root.",
    ),
    "ftp": CommandEntry(
        "netlab.cli.ftp:ftp",
        "List, get and put files over FTP, passive (PASV) or active (PORT), explained.",
    ),
    "http": CommandEntry(
        "netlab.cli.http:http",
        "Fetch URLs over HTTP/1.1, HTTP/2 or HTTPS like curl, every phase and frame shown.",
    ),
    "lab": CommandEntry(
        "netlab.cli.lab:lab",
        "Run small real networks in namespaces: up, down, status, exec, list.",
    ),
    "ping": CommandEntry(
        "netlab.cli.ping:ping",
        "Send ICMP echo requests (raw packets, kernel timestamps), like iputils ping.",
    ),
    "quic-hello": CommandEntry(
        "netlab.cli.quic_hello:quic_hello",
        "A QUIC Initial built by hand: the server's Initial/Handshake, Retry or VN.",
    ),
    "rtmp-handshake": CommandEntry(
        "netlab.cli.rtmp_handshake:rtmp_handshake",
        "RTMP from C0/C1 to the first H.264 frames: commands, chunks, NAL units.",
    ),
    "sniff": CommandEntry(
        "netlab.cli.sniff:sniff",
        "Capture live packets on an interface (tcpdump filter syntax); views as in dissect.",
    ),
    "tcp-handshake": CommandEntry(
        "netlab.cli.tcp_handshake:tcp_handshake",
        "Open (and close) a TCP connection from raw packets, showing every segment.",
    ),
    "tls-hello": CommandEntry(
        "netlab.cli.tls_hello:tls_hello",
        "A TLS handshake built by hand: hellos, keys, the chain verified, JA3/JA4.",
    ),
    "torrent": CommandEntry(
        "netlab.cli.torrent:torrent",
        "BitTorrent: show and make .torrent files, ask trackers, greet peers.",
    ),
    "traceroute": CommandEntry(
        "netlab.cli.traceroute:traceroute",
        "Trace the route to a host with UDP, ICMP or TCP probes (Paris-style, parallel).",
    ),
}


# What `--json` prints when Ctrl-C comes before the command wrote its result (in its
# start-up: imports, name and route lookups): an empty run's, so that the output is
# valid JSON from the first instant. Streams (True) end with a summary line;
# one-shot commands print one document.
INTERRUPTED_JSON: dict[str, tuple[bool, dict]] = {
    "ping": (True, {"type": "summary", "sent": 0, "received": 0, "lost": 0, "duplicates": 0,
                    "errors": 0, "loss_pct": 0.0, "time_ms": 0.0, "interrupted": True}),
    "arp": (True, {"type": "summary", "sent": 0, "received": 0, "interrupted": True}),
    "sniff": (True, {"type": "summary", "captured": 0, "dropped": 0, "interrupted": True}),
    "dissect": (True, {"type": "summary", "packets": 0, "interrupted": True}),
    "traceroute": (False, {"hops": [], "reached": False, "interrupted": True}),
    "tcp-handshake": (False, {"result": None, "segments": [], "interrupted": True}),
    "dns-query": (False, {"rcode": "INTERRUPTED", "answers": [], "interrupted": True}),
    "http": (False, {"requests": [], "connections": [], "hpack": [], "interrupted": True}),
    "rtmp-handshake": (False, {"handshake": None, "commands": [], "frames": [],
                               "completed": False, "interrupted": True}),
    "dht-lookup": (False, {"hops": [], "peers": [], "closest": [], "interrupted": True}),
    "tls-hello": (False, {"completed": False, "error": "interrupted", "interrupted": True}),
    "quic-hello": (False, {"version": None, "dcid": None, "scid": None, "server_packets": [],
                           "alpn": None, "rtt_ms": None, "interrupted": True}),
    "ftp": (False, {"mode": None, "control": [], "data_connections": [], "result": None,
                    "interrupted": True}),
    "torrent announce": (False, {"info_hash": None, "trackers": [], "interrupted": True}),
    "torrent peer": (False, {"peer": None, "completed": False, "interrupted": True}),
    "lab up": (False, {"name": None, "state": "down", "interrupted": True}),
}  # fmt: skip


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use only."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attr = entry.target.split(":")
        import importlib

        module = importlib.import_module(module_name)
        return getattr(module, attr)

    def resolve_command(self, ctx, args):  # type: ignore[override]
        name = args[0] if args else ""
        if name in COMMANDS or name.startswith("-") or ctx.resilient_parsing:
            return super().resolve_command(ctx, args)
        import difflib

        close = difflib.get_close_matches(name, COMMANDS, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise click.UsageError(f"no such command '{name}'{hint}", ctx=ctx)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # `netlab … | head` or `| grep -q`: the reader has what it wanted. Caught here,
            # before click's own EPIPE handling, which would exit 1 and fail pipefail scripts.
            _silence_stdout()
            raise click.exceptions.Exit(ExitStatus.SUCCESS) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # From the static table: listing commands must not import them.
        rows = [(name, COMMANDS[name].short_help) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def shell_complete(self, ctx: click.Context, incomplete: str):  # type: ignore[override]
        from click.shell_completion import CompletionItem

        items = [
            CompletionItem(name, help=COMMANDS[name].short_help)
            for name in self.list_commands(ctx)
            if name.startswith(incomplete)
        ]
        # Options of the root group itself (--help, --version).
        items.extend(click.Command.shell_complete(self, ctx, incomplete))
        return items


CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS, invoke_without_command=True)
@click.version_option(
    __version__, "-V", "--version", prog_name="netlab", message="%(prog)s %(version)s"
)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """\b
    Examples:
      netlab cidr 198.18.0.0/15                  explain a prefix
      netlab dissect pcaps/dns.pcapng -V         decode a capture, every field
      netlab lab exec routed client -- netlab traceroute server

    Start with `netlab lab up labs/routed.toml` (as root): a small routed network
    with real servers, where every command can be tried with `netlab lab exec`.

    netlab: build real packets, watch them on the wire, decode captures,
    and run small networks in namespaces to try it all on.

    Every command takes --help. Exit codes: 0 success, 1 no answer or negative
    result, 2 usage or input error, 3 missing privilege, 130 interrupted.
    """
    if ctx.invoked_subcommand is None:
        # `netlab` alone: show the help, like `git`, and succeed.
        click.echo(ctx.get_help())


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _usage_message(err: click.UsageError) -> str:
    message = _one_line(err.format_message()).rstrip(".")
    message = message[:1].lower() + message[1:]
    ctx = err.ctx
    if ctx is not None and ctx.parent is not None:
        # A subcommand's mistake: name the subcommand and where its help is.
        path = ctx.command_path.removeprefix(ctx.find_root().info_name or "netlab").strip()
        return f"{path}: {message} (see 'netlab {path} --help')"
    return f"{message} (see 'netlab --help')"


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _printable(text: str) -> str:
    """Control characters of user input (an escape sequence in an argument) shown as
    \\xNN, never sent raw to the terminal."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def fail(message: str, status: int = ExitStatus.ERROR) -> NoReturn:
    """Print the one-line error and exit. The only place that formats errors."""
    click.echo(f"netlab: error: {_printable(_one_line(message))}", err=True)
    _exit(int(status))


def _lab_hint(message: str, args: list[str]) -> str:
    """A name that does not resolve here but is a node of a running lab: say where it
    does (lab names resolve inside `lab exec` only, through the lab's hosts file)."""
    import re
    import shlex

    found = re.search(r"cannot resolve (?:host |server )?'([^'/]+)'", message)
    if found is None or os.environ.get("NETLAB_LAB"):
        return ""
    from netlab.lab.ledger import all_ledgers

    name = found.group(1)
    books = [b for b in all_ledgers() if name in b.info.get("nodes", {})]
    if not books:
        return ""
    book = books[0]
    others = [n for n in book.info["nodes"] if n != name]
    source = "client" if "client" in others else (others[0] if others else name)
    labs = ", ".join(f"'{b.lab}'" for b in books)
    run = shlex.join(["netlab", *args])
    return (
        f": a node of lab{'s' if len(books) > 1 else ''} {labs}; run it inside: "
        f"netlab lab exec {book.lab} {source} -- {run}"
    )


def _record_internal_error(err: Exception) -> None:
    """NETLAB_INTERNAL_ERROR_LOG (set by the test suite): append the bug there, so an
    "internal error" in any command a test runs fails the suite, seen or not."""
    path = os.environ.get("NETLAB_INTERNAL_ERROR_LOG")
    if not path:
        return
    import traceback

    try:
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"$ netlab {' '.join(sys.argv[1:])}\n{traceback.format_exc()}\n")
    except OSError:
        pass


def _json_after_interrupt(args: list[str]) -> None:
    """Ctrl-C before a --json command wrote its result: write an empty run's."""
    two = " ".join(args[:2])  # a group's subcommand: "torrent peer", "lab up"
    key = two if two in INTERRUPTED_JSON else (args[0] if args else "")
    if key not in INTERRUPTED_JSON or "--json" not in args:
        return
    stream, empty = INTERRUPTED_JSON[key]
    jsonout = sys.modules.get("netlab.render.jsonout")
    if jsonout is not None and (jsonout.summary_written if stream else jsonout.written):
        return
    import json

    try:
        text = json.dumps(empty) if stream else json.dumps(empty, indent=2)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, KeyboardInterrupt):
        pass


def _interrupted(args: list[str]) -> NoReturn:
    """Ctrl-C before the command could answer it itself (while starting, or a command
    without a partial result): an empty run's JSON under --json, one line saying so
    (as `lab up`'s rollback says it), exit 130."""
    _json_after_interrupt(args)
    with contextlib.suppress(OSError, ValueError, KeyboardInterrupt):
        sys.stderr.write("netlab: interrupted\n")
        sys.stderr.flush()
    _exit(ExitStatus.INTERRUPTED)


def main(argv: list[str] | None = None, prog_name: str = "netlab") -> NoReturn:
    """Console-script entry point: run the CLI and map every outcome to an exit code."""
    if os.environ.get("NETLAB_DEBUG"):
        state.debug = True
    import netlab

    if netlab.early_interrupts is not None:
        import signal

        with contextlib.suppress(ValueError):  # from here on Ctrl-C raises, as usual
            signal.signal(signal.SIGINT, signal.default_int_handler)
        if netlab.early_interrupts:  # it came while the CLI was being imported
            _interrupted(sys.argv[1:] if argv is None else argv)
    if os.environ.get("_NETLAB_COMPLETE"):  # a shell asks for its script or a completion
        from netlab.cli.complete import register_shells

        register_shells()
    try:
        rv = cli.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except click.UsageError as err:
        if state.debug:
            raise
        fail(_usage_message(err))
    except click.ClickException as err:  # e.g. a FileError from a click.File parameter
        if state.debug:
            raise
        fail(_one_line(err.format_message()))
    except (click.Abort, KeyboardInterrupt):
        # click turns KeyboardInterrupt into Abort; commands that stream print their own
        # partial summary before this point, unless it came before they could.
        _interrupted(sys.argv[1:] if argv is None else argv)
    except NetlabError as err:
        if state.debug:
            raise
        if err.status == ExitStatus.INTERRUPTED:  # `lab up` rolled back after a Ctrl-C
            _json_after_interrupt(sys.argv[1:] if argv is None else argv)
        fail(err.message + _lab_hint(err.message, sys.argv[1:] if argv is None else argv),
             err.status)  # fmt: skip
    except BrokenPipeError:
        # `netlab … | head`: the reader went away. Silence the final flush and stop.
        _silence_stdout()
        sys.exit(ExitStatus.SUCCESS)
    except Exception as err:  # a bug: still one line, unless --debug asks for the traceback
        if state.debug:
            raise
        _record_internal_error(err)
        fail(
            f"internal error: {type(err).__name__}: {err} "
            "(rerun with --debug for the traceback, and please report it)"
        )
    _exit(int(rv) if isinstance(rv, int) else ExitStatus.SUCCESS)


def _exit(status: int) -> NoReturn:
    """Exit with STATUS once the command has said everything: a Ctrl-C from here on is
    held off (blocked, then dropped with the process), so a finished run is never turned
    into "killed by SIGINT" while the interpreter shuts down."""
    import signal

    with contextlib.suppress(AttributeError, OSError, ValueError):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    sys.exit(status)
