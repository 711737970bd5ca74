"""`netlab ftp`: list, fetch and store files over FTP, passive (PASV/EPSV) or active
(PORT/EPRT), with the control dialogue and the data connection shown."""

from __future__ import annotations

import os
from typing import Any

import click

from netlab.cli import complete
from netlab.cli.options import Common, common_options, family_options
from netlab.errors import ExitStatus, InputError

MAX_UPLOAD = 1024 * 1024 * 1024  # put reads the file into memory: bounded


@click.command(
    "ftp",
    short_help="List, get and put files over FTP, passive (PASV) or active (PORT), explained.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.argument("url", metavar="ftp://[USER[:PASS]@]HOST[:PORT]/REMOTE")
@click.argument("action", required=False, type=click.Choice(["ls", "get", "put"]))
@click.argument("file", required=False, metavar="[FILE]", shell_complete=complete.files)
@click.option(
    "--passive",
    "mode",
    flag_value="passive",
    default=True,
    help="The server listens, we connect (PASV; EPSV on IPv6). The default.",
)
@click.option(
    "--active",
    "mode",
    flag_value="active",
    help="We listen, the server connects to us from its port 20 (PORT; EPRT on IPv6).",
)
@family_options("the name's IPv{} address")
@click.option("--extended", is_flag=True, help="EPSV/EPRT on IPv4 too (RFC 2428).")
@click.option("--mlsd", is_flag=True, help="ls with MLSD (RFC 3659 facts) instead of LIST.")
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    shell_complete=complete.files,
    help="get: write here (default: the file's name; - for stdout).",
)
@click.option(
    "--allow-foreign-pasv",
    is_flag=True,
    help="Follow a 227 reply that names a host other than the server (refused by default).",
)
@click.option(
    "--explain",
    is_flag=True,
    help="Every command and reply code explained, the data connection, the transfer.",
)
@common_options("timeout", "verbose", "write", "json", "no_color", timeout=10.0)  # fmt: skip
def ftp(
    common: Common,
    url: str,
    action: str | None,
    file: str | None,
    mode: str,
    family: int | None,
    extended: bool,
    mlsd: bool,
    output: str | None,
    allow_foreign_pasv: bool,
    explain: bool,
) -> ExitStatus:
    """Log in (anonymous unless the URL names a user), switch to binary (TYPE I), set
    up a data connection and list (ls), fetch (get) or store (put FILE) over it.

    Passive mode (the default): the server answers PASV with 227 (h1,h2,h3,h4,p1,p2)
    and we connect to port p1×256+p2 — what works behind NAT. Active mode: we listen
    and send PORT (our address and port); the server connects back to us from its port
    20 — what a NAT or firewall in front of the client breaks. On IPv6, EPSV and EPRT
    replace them (RFC 2428). A 227 that names another host than the server is refused
    unless --allow-foreign-pasv (as curl does).

    Without an action: ls when the path is empty or ends in /, else get.

    Exit 0 when the transfer completed, 1 when the server refused (its reply is shown)
    or a connection failed, 2 on bad input.

    \b
    Examples:
      netlab ftp ftp://server/
      netlab ftp --active --explain ftp://server/pub/hello.txt get -o /tmp/hello.txt
      netlab ftp ftp://alice:secret@server/upload/ put notes.txt
      netlab ftp --json ftp://[2001:db8:0:2::2]/pub/ ls | jq .data_connections
    """
    from netlab.core.ftp import FtpOptions, FtpUrlError, parse_ftp_url

    try:
        parsed = parse_ftp_url(url)
    except FtpUrlError as err:
        raise InputError(str(err)) from None
    command = action or ("ls" if not parsed.path or parsed.path.endswith("/") else "get")
    parsed, upload = _upload(parsed, command, file)
    output = _output(url, parsed, command, output, common.json)
    options = FtpOptions(
        command=command,
        active=mode == "active",
        extended=extended,
        mlsd=mlsd,
        allow_foreign_pasv=allow_foreign_pasv,
        upload=upload,
        timeout=common.timeout or 10.0,
    )
    return _run(common, parsed, options, output, explain, family)


def _upload(parsed: Any, command: str, file: str | None) -> tuple[Any, bytes]:
    """put: FILE's bytes, and the URL with FILE's name when it names a folder; FILE is
    for put only."""
    if command != "put":
        if file:
            raise InputError(f"unexpected argument {file!r} (only put takes a FILE)")
        return parsed, b""
    if not file:
        raise InputError("put needs a FILE: netlab ftp URL put FILE")
    upload = _read(file)
    if not parsed.path or parsed.path.endswith("/"):
        parsed = parsed.with_path(parsed.path + os.path.basename(file))
    return parsed, upload


def _output(url: str, parsed: Any, command: str, output: str | None, json: bool) -> str | None:
    """get: where the file goes (-o, default its own name; - for stdout); -o is for get."""
    if command == "get":
        if not parsed.path or parsed.path.endswith("/"):
            raise InputError(f"{url!r}: get needs a file path (ftp://HOST/PATH/FILE)")
        output = output or os.path.basename(parsed.path)
    elif output:
        raise InputError("-o is for get")
    if output == "-" and json:
        raise InputError("-o - writes the file to stdout, where --json goes: choose one")
    if output and output != "-":
        _check_writable(output)
    return output


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_UPLOAD + 1)
    except OSError as err:
        raise InputError(f"cannot read {path!r}: {err.strerror}") from None
    if len(data) > MAX_UPLOAD:
        raise InputError(f"{path!r} is larger than {MAX_UPLOAD // (1024 * 1024)} MiB")
    return data


class _Sink:
    """get: the bytes go to the output file as they come (not kept in memory)."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.file: Any = None
        self.error: str | None = None

    def __call__(self, event: Any) -> None:
        data = getattr(event, "data", None)
        if data is None or self.path is None or self.error:
            return
        try:
            if self.file is None:
                import sys

                self.file = sys.stdout.buffer if self.path == "-" else open(self.path, "wb")  # noqa: SIM115
            self.file.write(data)
        except OSError as err:
            self.error = f"cannot write {self.path!r}: {err.strerror}"

    def close(self) -> None:
        if self.file is not None and self.path != "-":
            self.file.close()
        elif self.file is not None:
            self.file.flush()


def _run(common: Common, url: Any, options: Any, output: str | None, explain: bool,
         family: int | None) -> ExitStatus:  # fmt: skip
    from netlab.cli.run import Session, watch_host
    from netlab.core.ftp import FtpClient
    from netlab.net.resolver import host_address
    from netlab.render import ftp as view

    address = host_address(url.host, url.port, family=family)
    core = FtpClient(url, address, options)
    sink = _Sink(output if options.command == "get" else None)
    with Session(common) as s:
        try:
            s.run_sockets(core, sink, watch=watch_host(common, address, f"host {address} and tcp"))
        finally:
            sink.close()
        r = core.result
        if sink.error and r.error is None:
            r.error = sink.error
            r.completed = False
        s.set_result(view.document(url, address, options, r, output))
        if output != "-":  # (the file itself is on stdout)
            s.text(*view.lines(url, address, options, r, output, explain))
        if r.error and not s.interrupted:
            s.note(r.error, "error")
    return s.status(r.completed and r.error is None)


def _check_writable(path: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(f"-o {path!r}: no folder {folder!r}")
    if os.path.isdir(path):
        raise InputError(f"-o {path!r} is a folder")
