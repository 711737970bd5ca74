"""One command path: output, tap, runner, Ctrl-C and exit status, wired once.

A command module declares its options, resolves what it needs (a route, a core)
and hands the rest to a `Session`:

    with Session(common, stream=True) as s:             # NDJSON, JSON document or text
        s.text(header)                                    # shown unless --json
        interrupted = s.run_packets(core, route.dev, on_event)   # or run_sockets(core, …)
    return s.status(ok)                                   # 130 after Ctrl-C

The session builds the tap for `-v` (the dissector's tree, on stderr under
--json so stdout stays JSON) and `-w` (pcapng), hands it to the runner, closes
it at the end, and writes the JSON document when the block ends, also after an
error or Ctrl-C (with "interrupted": true), so the output is always valid JSON.
A client of one server on kernel sockets goes through `run_client` (its -v/-w capture
from `port_watch`); a one-shot command without a core prints with `print_result`.
Everything heavy is imported inside the methods: `netlab --help` stays light.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from netlab.cli.options import Common
from netlab.errors import ExitStatus


class ViewSink:
    """`-v`: each packet through the shared dissector, drawn as `netlab dissect -V` does
    (TLS decrypted with the command's key log, when it writes one)."""

    def __init__(self, out: Any, verbose: int, keylog: Any = None) -> None:
        from netlab.dissect import Dissector
        from netlab.render.packets import PacketView

        self.view = PacketView(out, tree=True, hexdump=verbose > 1, live=True)
        self.dissector = Dissector(keylog=keylog)

    def add_interface(self, linktype: int, name: str) -> None:
        pass

    def write(self, number: int, frame: Any) -> None:
        self.view.feed(self.dissector.dissect(number, frame.ts_ns, frame.data, frame.wirelen,
                                              frame.linktype))  # fmt: skip

    def close(self) -> None:
        self.view.finish()


def make_tap(verbose: int, write: str | None, out: Any, keylog: Any = None) -> Any:
    """The tap for -v (drawn on OUT) and -w FILE, or None when neither is asked for.
    KEYLOG: the NSS key log the command writes (its TLS shown decrypted)."""
    if not verbose and not write:
        return None
    from netlab.capture.tap import PcapngSink, Tap

    sinks: list = []
    if write:
        sinks.append(PcapngSink(write))
    if verbose:
        sinks.append(ViewSink(out, verbose, keylog))
    return Tap(sinks)


def watch_host(common: Common, address: str, expression: str) -> tuple[str, str] | None:
    """(interface, capture filter) for -v / --write on a socket command: the interface of
    the route to ADDRESS, and EXPRESSION; None when neither option was given."""
    if not common.verbose and not common.write:
        return None
    from netlab.net.privilege import require_raw_socket
    from netlab.net.route import route_to

    require_raw_socket("-v and --write (a packet capture)")
    return route_to(address).dev, expression


def port_watch(common: Common, address: str, port: int, transport: str = "tcp"):
    """-v / --write of a client of one server: its packets to and from ADDRESS:PORT."""
    return watch_host(common, address, f"host {address} and {transport} port {port}")


def kernel_socket_fallback(what: str, family: int, *, fallback: Callable[[], bool],
                           capture: bool, capture_error: str, note: str) -> bool:  # fmt: skip
    """Whether a command that prefers raw sockets (CAP_NET_RAW) runs on a kernel socket
    instead (ping's ICMP datagram sockets, traceroute's IP_RECVERR). False when raw sockets
    are allowed. Without them: exit 3 naming WHAT when FALLBACK says there is no kernel
    socket to fall back on, exit 3 with CAPTURE_ERROR and the fix when -v/--write (CAPTURE)
    ask for a packet capture, which needs raw sockets too; else True, after NOTE on stderr."""
    import socket

    from netlab.errors import PrivilegeError
    from netlab.net.privilege import can_open_raw_socket, grant_hint, require_raw_socket

    af = socket.AF_INET if family == 4 else socket.AF_INET6
    if can_open_raw_socket(af):
        return False
    if not fallback():
        require_raw_socket(what, af)  # raises the exit-3 error naming CAP_NET_RAW and the fix
    if capture:
        raise PrivilegeError(capture_error + grant_hint())
    click.echo(f"netlab: note: {note}", err=True)
    return True


class Session:
    """One run of a command: where its output goes, its tap, its runner, its status."""

    def __init__(self, common: Common, *, stream: bool = False, write: str | None = None,
                 data: dict | None = None, keylog: Any = None) -> None:  # fmt: skip
        self.common = common
        self.keylog = keylog  # the TLS key log the command writes: -v decrypts with it
        self.out = sys.stdout
        self.err = sys.stderr
        self.interrupted = False
        self.write_path = write if write is not None else common.write
        self.ndjson: Any = None
        self.doc: Any = None  # the JSON document of a one-shot command under --json
        if common.json and stream:
            from netlab.render.jsonout import NdjsonWriter

            self.ndjson = NdjsonWriter(self.out)
        elif common.json:
            from netlab.render.jsonout import JsonDocument

            # Written once when the session ends: valid JSON on Ctrl-C and errors too.
            self.doc = JsonDocument(self.out)
            self.doc.data = data if data is not None else {}
        self._tap: Any = None
        self._tap_made = False

    # --- output ---------------------------------------------------------------------------
    def set_result(self, value: Any) -> None:
        """The JSON document to write when the session ends (ignored without --json)."""
        if self.doc is not None:
            self.doc.data = value

    @property
    def side(self) -> Any:
        """Where lines that are not the command's result go: stderr under --json."""
        return self.err if self.common.json else self.out

    def text(self, *lines: str) -> None:
        """Lines of the human output (nothing under --json), flushed at once."""
        if self.common.json or not lines:
            return
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()

    def emit(self, record: dict) -> None:
        """One NDJSON line (--json on a streaming command)."""
        self.ndjson.write(record)

    def note(self, message: str, kind: str = "note") -> None:
        self.err.write(f"netlab: {kind}: {message}\n")

    # --- tap and runners ---------------------------------------------------------------------
    @property
    def tap(self) -> Any:
        if not self._tap_made:
            self._tap_made = True
            self._tap = make_tap(self.common.verbose, self.write_path, self.side, self.keylog)
        return self._tap

    def run_packets(self, core: Any, iface: str, on_event: Any, **runner_options: Any) -> bool:
        """Run a packet core (raw sockets + capture on IFACE). True if interrupted."""
        from netlab.net.runner import Runner

        return self.run(Runner(iface, tap=self.tap, **runner_options), core, on_event)

    def run(self, runner: Any, core: Any, on_event: Any) -> bool:
        """Run CORE on a RUNNER the command made (ping's and traceroute's runners on the
        kernel's sockets, which show the partial summaries themselves). True if interrupted."""
        self.interrupted = runner.run(core, on_event) or self.interrupted
        return self.interrupted

    def run_sockets(self, core: Any, on_event: Any, *, watch: tuple[str, str] | None = None,
                    linger: float = 0.05) -> bool:  # fmt: skip
        """Run a session core on kernel sockets. WATCH: (iface, capture filter) for the
        tap, when -v or -w asks for one. True if interrupted."""
        from netlab.net.sockets import SocketRunner

        tap = self.tap
        if tap is not None and watch is not None:
            tap.watch(*watch)
        return self.run(SocketRunner(tap=tap, linger=linger), core, on_event)

    def status(self, ok: bool) -> ExitStatus:
        if self.interrupted:
            return ExitStatus.INTERRUPTED
        return ExitStatus.SUCCESS if ok else ExitStatus.NO_ANSWER

    # --- the end ---------------------------------------------------------------------------
    def __enter__(self) -> Session:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            if self._tap is not None:
                self._tap.close()
        finally:
            if self.doc is not None:
                if self.interrupted and isinstance(self.doc.data, dict):
                    self.doc.data["interrupted"] = True
                self.doc.__exit__(exc_type, exc, tb)
        return False


# --- the one-shot paths several commands share ---------------------------------------------------
def run_client(common: Common, core: Any, watch: Any, report: Any, **session: Any) -> Session:
    """Run CORE, a client on kernel sockets, in one `Session` (SESSION: its keyword
    options) with the capture WATCH() names, then REPORT() gives (JSON document, text lines,
    error): set, printed, and the error noted unless Ctrl-C ended the run. Both are called
    inside the session, so that their errors too end a --json document. The Session is
    returned for its status."""
    with Session(common, **session) as s:
        s.run_sockets(core, lambda _e: None, watch=watch())
        document, lines, error = report()
        s.set_result(document)
        s.text(*lines)
        if error and not s.interrupted:
            s.note(error, "error")
    return s


def print_result(common: Common, data: Any, render: Any) -> None:
    """The output of a one-shot command: DATA as one JSON document under --json, else
    what RENDER(console) draws on a rich console."""
    if common.json:
        from netlab.render.jsonout import JsonDocument

        with JsonDocument() as doc:
            doc.data = data
        return
    from netlab.render.console import make_console

    render(make_console(color=common.color))
