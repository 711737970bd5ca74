"""`netlab http`: fetch URLs like curl, shown like HTTPie, with HTTP/2 frames like nghttp."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import click

from netlab.cli import complete
from netlab.cli.options import Common, command, common_options, file_option, seconds_option
from netlab.cli.plotopts import draw, plot_flag_options
from netlab.errors import ExitStatus, InputError

MAX_BODY_FILE = 1 << 30  # -d @FILE / --data-file: at most 1 GiB read into memory


@command(
    "http", "Fetch URLs over HTTP/1.1, HTTP/2 or HTTPS like curl, every phase and frame shown."
)
@click.argument("urls", nargs=-1, required=True, metavar="URL...")
@click.option(
    "-X",
    "--request",
    "method",
    metavar="METHOD",
    help="Request method (default GET; POST with -d; HEAD with -I).",
)
@click.option(
    "-H",
    "--header",
    "headers",
    metavar="'NAME: VALUE'",
    multiple=True,
    help="Add a header, or replace a default one ('Name:' removes it). Repeatable.",
)
@click.option(
    "-d",
    "--data",
    "data",
    metavar="DATA",
    multiple=True,
    help="Send DATA as the body (POST); @FILE reads a file. Repeated: joined with &.",
)
@file_option("--data-file", exists=True, help="Send the bytes of FILE as the body (POST).")
@click.option("-I", "--head", is_flag=True, help="HEAD: the response head only.")
@click.option(
    "-o",
    "--output",
    "outputs",
    metavar="FILE",
    multiple=True,
    shell_complete=complete.files,
    help="Write the body to FILE (once per URL, in order, as curl).",
)
@click.option("-L", "--location", is_flag=True, help="Follow redirects (each hop shown and timed).")
@click.option(
    "--max-redirs",
    type=click.IntRange(0, 100),
    default=20,
    show_default=True,
    help="With -L: how many redirects to follow at most.",
)
@click.option("--http1.1", "http11", is_flag=True, help="Use HTTP/1.1 (ALPN http/1.1 over TLS).")
@click.option("--http2", is_flag=True, help="Use HTTP/2 over TLS (ALPN h2; the default for https).")
@click.option(
    "--h2c",
    "--http2-prior-knowledge",
    "h2c",
    is_flag=True,
    help="Cleartext HTTP/2 with prior knowledge: the preface, no upgrade.",
)
@click.option("-k", "--insecure", is_flag=True, help="Do not verify the server's certificate.")
@file_option(
    "--cacert", exists=True, help="Trust the CA certificates in FILE (PEM) instead of the system's."
)
@click.option(
    "--resolve",
    "resolves",
    metavar="HOST:PORT:ADDR",
    multiple=True,
    help="Connect to ADDR for HOST:PORT, without DNS (as curl). Repeatable.",
)
@seconds_option(
    "--connect-timeout",
    default=10.0,
    help="Give up on a connection (TCP and TLS) after this long.",
)
@seconds_option("-m", "--max-time", help="Give up on the whole run after this long.")
@file_option(
    "--keylog", help="Append TLS secrets to FILE (NSS format; SSLKEYLOGFILE is honoured too)."
)
@click.option(
    "--repeat",
    type=click.IntRange(1, 1000),
    default=1,
    show_default=True,
    help="Fetch the URLs N times (over the same connection where possible).",
)
@click.option("--compressed", is_flag=True, help="Ask for gzip/deflate/br and decode the body.")
@click.option("-f", "--fail", is_flag=True, help="Exit 22 on an HTTP status of 400 or more.")
@click.option(
    "--frames",
    is_flag=True,
    help="HTTP/2: every frame both ways and each header block's HPACK encoding.",
)
@click.option("--offline", is_flag=True, help="Build and print the request(s); send nothing.")
@click.option(
    "-p",
    "--print",
    "what",
    metavar="WHAT",
    help="What to print (HTTPie's letters): H request head, B request body, "
    "h response head, b response body, t phases. Default: hbt on a terminal, b piped "
    "(h with -I); HBhbt with -v.",
)
@click.option(
    "-A",
    "--user-agent",
    default="netlab",
    show_default=True,
    metavar="NAME",
    help="User-Agent header.",
)
@plot_flag_options(
    "a waterfall of each request's phases (DNS, connect, TLS, sent, server, transfer)"
)
@common_options("verbose", "write", "json", "no_color")
def http(common: Common, urls: tuple[str, ...], **options: Any) -> ExitStatus:
    """Fetch each URL and show the request, the response (status with its class and
    meaning, headers, body) and every phase in curl's terms: DNS, TCP connect, TLS,
    request sent, server think time (first byte minus request sent), transfer, total.

    URLs on one origin share one connection: one after another on a kept-alive
    HTTP/1.1 connection, or as concurrent streams of one HTTP/2 connection. https://
    offers h2 and http/1.1 by ALPN (the server picks); --http1.1 / --http2 insist;
    --h2c speaks HTTP/2 in clear. --frames (and -v) shows HTTP/2's frames and, for
    each header block, how HPACK encoded every field and the dynamic table after it.

    Exit 0 when every response came (whatever its status; 22 with --fail for 400 and
    up), 1 on a refused, unreachable or timed-out connection, a TLS failure (unknown
    CA, expired, name mismatch — unless -k) or a malformed response, 2 on bad input.

    -v also shows every packet of the connections, decoded (needs CAP_NET_RAW, as
    --write FILE, which saves them as pcapng); with --keylog FILE (or SSLKEYLOGFILE)
    -v shows HTTPS decrypted, and `netlab dissect --keylog FILE` and Wireshark
    decrypt a saved capture.

    \b
    Examples:
      netlab http server/
      netlab http server/ server/style.css server/app.js       # one kept-alive connection
      netlab http --cacert ca.pem --frames https://server/     # HTTP/2, frames and HPACK
      netlab http --h2c server:8080/style.css server:8080/app.js server:8080/logo.jpg
      netlab http -L -I server/old                             # the 301, then the page
      netlab http -H 'If-Modified-Since: Sat, 01 Jan 2050 00:00:00 GMT' server/   # 304
      netlab http --json https://server/ | jq .requests[0].timings_ms
    """
    o = HttpOptions(**options)
    requests = _requests(urls, o)
    client = _client_options(o)
    show = _what(o.what, common, o.head)
    if o.offline:
        return _offline(common, requests, client)
    return _fetch(common, requests, client, _pinned(o.resolves), show, o)


@dataclass(frozen=True)
class HttpOptions:
    """http's own options (the shared ones are in `Common`), as click passes them."""

    method: str | None
    headers: tuple[str, ...]
    data: tuple[str, ...]
    data_file: str | None
    head: bool
    outputs: tuple[str, ...]
    location: bool
    max_redirs: int
    http11: bool
    http2: bool
    h2c: bool
    insecure: bool
    cacert: str | None
    resolves: tuple[str, ...]
    connect_timeout: float
    max_time: float | None
    keylog: str | None
    repeat: int
    compressed: bool
    fail: bool
    frames: bool
    offline: bool
    what: str | None
    user_agent: str
    plot: bool = False
    plot_out: str | None = None


# --- input --------------------------------------------------------------------------------------
def _requests(urls: tuple[str, ...], o: HttpOptions) -> list:
    """The requests to send, --repeat times: one HTTP version asked for at most, the
    method, body, headers and URLs checked (exit 2)."""
    from netlab.core.http import Request, UrlError, parse_url

    if sum((o.http11, o.http2, o.h2c)) > 1:
        raise InputError("choose one of --http1.1, --http2 and --h2c")
    body = _body(o.data, o.data_file)
    method = (o.method or ("HEAD" if o.head else "POST" if body else "GET")).upper()
    if not method.isascii() or not method.isalpha() or len(method) > 32:
        raise InputError(f"-X {method!r}: a method is a word of letters (GET, POST, PUT …)")
    if o.head and body:
        raise InputError("-I (HEAD) sends no body: drop -d/--data-file")
    fields = tuple(_header(h) for h in o.headers)
    try:
        parsed = [parse_url(u) for u in urls]
    except UrlError as err:
        raise InputError(str(err)) from None
    if o.h2c and any(u.scheme == "https" for u in parsed):
        raise InputError("--h2c is HTTP/2 in clear: use --http2 for https:// URLs")
    return [Request(method, u, fields, body) for u in parsed] * o.repeat


def _client_options(o: HttpOptions) -> Any:
    """The client's options (core/http.Options): version, TLS (its key log from --keylog
    or SSLKEYLOGFILE), redirects, timeouts."""
    from netlab.core.base import TlsParams
    from netlab.core.http import Options

    keylog = o.keylog or os.environ.get("SSLKEYLOGFILE") or None
    return Options(
        version="1.1" if o.http11 else "2" if (o.http2 or o.h2c) else None,
        h2c=o.h2c,
        tls=TlsParams(verify=not o.insecure, cafile=o.cacert, keylog=keylog),
        max_redirects=o.max_redirs if o.location else 0,
        connect_timeout=o.connect_timeout,
        max_time=o.max_time,
        compressed=o.compressed,
        user_agent=o.user_agent,
    )


def _body(data: tuple[str, ...], data_file: str | None) -> bytes:
    parts = []
    for item in data:
        parts.append(_read(item[1:]) if item.startswith("@") else item.encode())
    body = b"&".join(parts)
    if data_file:
        body += _read(data_file)
    return body


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            content = f.read(MAX_BODY_FILE + 1)
    except OSError as err:
        raise InputError(f"cannot read {path!r}: {err.strerror}") from None
    if len(content) > MAX_BODY_FILE:
        raise InputError(f"{path!r} is larger than 1 GiB")
    return content


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    name = name.strip()
    token = "!#$%&'*+-.^_`|~"
    if not sep or not name or not all((c.isalnum() and c.isascii()) or c in token for c in name):
        raise InputError(f"-H {text!r}: a header is 'Name: value'")
    if any(c in value for c in "\r\n\0"):
        raise InputError(f"-H {text!r}: line breaks and NUL are not allowed in a value")
    return name, value.strip()


def _pinned(resolves: tuple[str, ...]) -> dict[tuple[str, int], str]:
    import ipaddress

    pinned = {}
    for item in resolves:
        host, sep1, rest = item.partition(":")
        port, sep2, addr = rest.partition(":")
        addr = addr.strip("[]")
        try:
            ipaddress.ip_address(addr)
            number = int(port)
        except ValueError:
            number, addr = 0, ""
        if not (sep1 and sep2 and host and addr and 0 < number < 65536):
            raise InputError(f"--resolve {item!r}: expected HOST:PORT:ADDR (ADDR an IP address)")
        pinned[(host.lower(), number)] = addr
    return pinned


def _what(what: str | None, common: Common, head: bool = False) -> str:
    if what is not None:
        bad = set(what) - set("HBhbt")
        if bad or not what:
            raise InputError(f"--print {what!r}: use the letters H, B, h, b and t")
        return what
    if common.verbose:
        return "HBhbt"
    if not sys.stdout.isatty():
        return "h" if head else "b"  # -I piped: the head is what there is (curl -I | grep)
    return "hbt"


# --- fetching -----------------------------------------------------------------------------------
def _resolve(requests: list, pinned: dict, addresses: dict, dns_ns: dict) -> None:
    """Addresses for every host not known yet (the system resolver, timed: curl's
    namelookup). A pinned --resolve entry is used for its host and port."""
    from netlab.net.resolver import host_address

    for req in requests:
        url = req.url
        pin = pinned.get((url.host.lower(), url.port))
        if pin is not None:
            addresses.setdefault(url.host, pin)
            dns_ns.setdefault(url.host, 0)
        if url.host in addresses:
            continue
        start = time.monotonic_ns()
        address = host_address(url.host, url.port)
        dns_ns[url.host] = time.monotonic_ns() - start
        addresses[url.host] = address


def _fetch(
    common: Common, requests: list, options: Any, pinned: dict, show: str, o: HttpOptions
) -> ExitStatus:
    from netlab.cli.run import Session
    from netlab.core.http import BodyChunk, HttpClient
    from netlab.render import http as view

    addresses: dict[str, str] = {}
    dns_ns: dict[str, int] = {}
    _resolve(requests, pinned, addresses, dns_ns)
    paint = view.Paint(common.color and sys.stdout.isatty() and not common.json)
    files = _Outputs(o.outputs)
    # Body only, piped: the bytes as they come (curl's and HTTPie's habit: `| jq`, `> f`).
    raw_body = show == "b" and not sys.stdout.isatty() and not common.json
    clients: list[HttpClient] = []
    shown_conns: set = set()
    frames = o.frames or common.verbose > 0  # HTTP/2 frames: --frames, and -v
    printer = _Printer(common, options, show, frames, paint, dns_ns, files, raw_body, shown_conns)

    def on_event(event: Any) -> None:
        # Only cheap work here, inside the loop: anything slow (printing, parsing the
        # certificate) would delay reading the next response and inflate its timings.
        if isinstance(event, BodyChunk):
            files.write(event.exchange, event.data, raw_body)

    core = HttpClient(list(requests), addresses, options, dns_ns)
    with Session(common, data={"requests": [], "connections": [], "hpack": []},
                 keylog=options.tls.keylog) as s:  # fmt: skip
        printer.session = s
        while core is not None:
            clients.append(core)
            s.run_sockets(core, on_event, watch=_watch(common, addresses, requests))
            for index in sorted(core.fetches):
                for ex in core.fetches[index]:
                    printer.done(ex)
            printer.connections(core)
            s.set_result(view.document(clients, dns_ns))
            core = (
                None
                if s.interrupted
                else _continue(clients[-1], pinned, addresses, dns_ns, options)
            )
        files.close()
        hops = [ex for c in clients for hs in c.fetches.values() for ex in hs]
        errors = [ex.error for ex in hops if ex.error]
        for error in dict.fromkeys(errors):
            if not s.interrupted:
                s.note(error, "error")
        ok = not errors and all(ex.status is not None for ex in hops)
        if ok and o.fail and any((ex.status or 0) >= 400 for ex in hops):
            finals = [c.fetches[i][-1] for c in clients for i in c.fetches if c.fetches[i]]
            bad = next(ex for ex in finals if (ex.status or 0) >= 400)
            s.note(f"the server answered {bad.status} for {bad.request.url}", "error")
            if not s.interrupted:
                return _plotted(o, clients, dns_ns, common, ExitStatus.HTTP_ERROR)
    return _plotted(o, clients, dns_ns, common, s.status(ok))


def _plotted(o: HttpOptions, clients: list, dns_ns: dict, common: Common,
             status: ExitStatus) -> ExitStatus:  # fmt: skip
    """--plot: the waterfall after everything else (the JSON document is written)."""
    if (o.plot or o.plot_out) and any(c.fetches for c in clients):
        from netlab.render.charts import http_series

        draw(http_series(clients, dns_ns), plot=o.plot, plot_out=o.plot_out, color=common.color,
             json=common.json)  # fmt: skip
    return status


def _continue(core: Any, pinned: dict, addresses: dict, dns_ns: dict, options: Any):
    """A redirect to a host that was not resolved yet: resolve it and go on."""
    if not core.unresolved:
        return None
    from netlab.core.http import HttpClient

    hops = list(core.unresolved.values())
    _resolve([ex.request for ex in hops], pinned, addresses, dns_ns)
    nxt = HttpClient([], addresses, options, dns_ns)
    for ex in hops:
        nxt.add_hop(ex.index, ex.hop, ex.request)
    return nxt


def _watch(common: Common, addresses: dict, requests: list):
    """(interface, capture filter) for -v / --write: the route to the first server."""
    if not common.verbose and not common.write:
        return None
    from netlab.net.privilege import require_raw_socket
    from netlab.net.route import route_to

    require_raw_socket("-v and --write (a packet capture)")
    hosts = sorted(set(addresses.values()))
    dev = route_to(addresses[requests[0].url.host]).dev
    return dev, "tcp and (" + " or ".join(f"host {h}" for h in hosts) + ")"


class _Outputs:
    """-o FILE per URL, in order (as curl); bodies of URLs without one go to stdout when
    it is not a terminal (raw bytes, as curl and HTTPie do when piped)."""

    def __init__(self, paths: tuple[str, ...]) -> None:
        self.paths = list(paths)
        self.files: dict[int, Any] = {}

    def path(self, index: int) -> str | None:
        return self.paths[index] if index < len(self.paths) else None

    def write(self, ex: Any, data: bytes, to_stdout: bool) -> None:
        path = self.path(ex.index)
        if path is None:
            if to_stdout:
                sys.stdout.flush()
                sys.stdout.buffer.write(data)
            return
        f = self.files.get(ex.index)
        if f is None:
            try:
                f = self.files[ex.index] = open(path, "wb")  # noqa: SIM115 (kept open across events)
            except OSError as err:
                raise InputError(f"cannot write {path!r}: {err.strerror}") from None
        elif ex.hop and f.tell() and getattr(f, "hop", 0) != ex.hop:
            f.seek(0)
            f.truncate()  # a redirect's page replaces the 3xx body, as curl -L -o does
        f.hop = ex.hop
        f.write(data)

    def close(self) -> None:
        for f in self.files.values():
            f.close()


class _Printer:
    """Prints each hop as it ends: heads, body, phases (text mode)."""

    def __init__(
        self, common, options, show, frames, paint, dns_ns, files, raw_body, shown_conns
    ) -> None:
        self.common, self.options, self.show, self.frames = common, options, show, frames
        self.paint, self.dns_ns, self.files, self.raw_body = paint, dns_ns, files, raw_body
        self.shown_conns = shown_conns
        self.session: Any = None
        self.count = 0

    def done(self, ex: Any) -> None:
        from netlab.render import http as view

        s = self.session
        if self.common.json or self.show == "b":
            return
        lines: list[str] = []
        if self.count:
            lines.append("")
        self.count += 1
        conn = ex.conn
        if (
            conn is not None
            and conn.id not in self.shown_conns
            and ("t" in self.show or "H" in self.show)
        ):
            self.shown_conns.add(conn.id)
            # An error is said once, on stderr (the session's note): not in these lines too.
            lines += [
                line
                for line in view.connection_lines(conn, self.paint)
                if not (ex.error and f"* {ex.error}" in line)
            ]
        if ex.hop:
            lines.append(self.paint(f"* redirect {ex.hop}: {ex.request.url}", "muted"))
        if "H" in self.show:
            lines += view.request_lines(ex, self.options, self.paint)
        if "h" in self.show:
            lines += view.response_lines(ex, self.paint)
        if "b" in self.show and not self.raw_body:
            lines += view.body_lines(
                ex, self.options.keep_body, self.files.path(ex.index), self.paint
            )
        lines += [self.paint(f"* warning: {w}", "warn") for w in ex.warnings]
        if "t" in self.show:
            lines.append(view.timing_line(ex, self.dns_ns.get(ex.request.url.host, 0), self.paint))
        s.text(*lines)

    def connections(self, core: Any) -> None:
        """HTTP/2 frames, after the connection's requests (text mode, -v or --frames)."""
        from netlab.render import http as view

        if self.common.json or not self.frames:
            return
        for conn in core.connections:
            if conn.frames:
                self.session.text(
                    "",
                    self.paint(f"* HTTP/2 frames of connection {conn.id}:", "bold"),
                    *view.frame_lines(conn, conn.opened, self.paint),
                )
            elif conn.error and conn.id not in self.shown_conns:
                self.session.text(*view.connection_lines(conn, self.paint))


# --- --offline ----------------------------------------------------------------------------------
def _offline(common: Common, requests: list, options: Any) -> ExitStatus:
    from netlab.cli.run import Session
    from netlab.core.http import offline
    from netlab.render import http as view

    client = offline(requests, options)
    paint = view.Paint(common.color and sys.stdout.isatty() and not common.json)
    with Session(common) as s:
        if common.json:
            doc = view.document([client], {})
            doc["offline"] = True
            for item, ex in zip(
                doc["requests"], (h[0] for h in client.fetches.values()), strict=True
            ):
                item["request_head"] = ex.request_head.decode("latin-1") or None
            s.set_result(doc)
            return s.status(True)
        for i, hops in client.fetches.items():
            ex = hops[0]
            if i:
                s.text("")
            if ex.http_version == "1.1":
                s.text(
                    *(
                        paint(line, "req")
                        for line in ex.request_head.decode("latin-1").rstrip("\r\n").split("\r\n")
                    )
                )
                if ex.request.body:
                    s.text("", ex.request.body.decode("utf-8", "replace"))
            else:
                s.text(*view.request_lines(ex, options, paint))
        for conn in client.connections:
            if conn.frames:
                s.text(
                    "",
                    paint(f"* HTTP/2 frames connection {conn.id} would send:", "bold"),
                    *view.frame_lines(conn, 0, paint),
                )
    return s.status(True)
