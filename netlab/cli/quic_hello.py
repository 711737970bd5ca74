"""`netlab quic-hello`: one QUIC Initial built by hand, and the server's first flight."""

from __future__ import annotations

from typing import Any

import click

from netlab.cli.options import Common, client_options, command
from netlab.cli.tls_hello import sni_option
from netlab.errors import ExitStatus, InputError

VERSIONS = {"1": 0x00000001, "v1": 0x00000001, "2": 0x6B3343CF, "v2": 0x6B3343CF}


@command("quic-hello", "A QUIC Initial built by hand: the server's Initial/Handshake, Retry or VN.")
@click.argument("target", metavar="HOST:PORT")
@sni_option
@click.option("--alpn", default="h3", show_default=True, metavar="P1,P2",
              help="ALPN protocols to offer.")  # fmt: skip
@click.option(
    "--version",
    "version",
    default="1",
    show_default=True,
    metavar="1|2|0xHEX",
    help="QUIC version of our Initial: 1, 2, or any in hex (Version Negotiation).",
)
@client_options(timeout=3.0)
def quic_hello(common: Common, target: str, sni: str | None, alpn: str, version: str) -> ExitStatus:
    """Send a QUIC Initial carrying a TLS 1.3 ClientHello (padded to 1200 bytes, protected
    with the keys anyone can derive from its Destination Connection ID, RFC 9001 §5.2)
    to HOST:PORT over UDP, and show what comes back: Initial and Handshake packets
    (opened: the ServerHello, and with the handshake keys from its key share the
    EncryptedExtensions and ALPN), a Version Negotiation (then once more with a
    version the server speaks) or a Retry (then once more with its token). The
    handshake is not completed.

    Exit 0 when the server answered with its Initial, 1 when it did not (silence,
    Version Negotiation only, an error), 2 on bad input.

    \b
    Examples:
      netlab quic-hello 127.0.0.1:4433 --sni localhost
      netlab quic-hello [::1]:443 --alpn h3,hq-interop --json
      netlab quic-hello server:443 --version 0x1a2a3a4a   # ask for Version Negotiation
    """
    from netlab.core.quic_hello import QuicHelloOptions
    from netlab.net.resolver import is_address

    host, port = _target(target)
    names = tuple(p.strip() for p in alpn.split(",") if p.strip())
    if not names or any(len(p.encode()) > 255 for p in names):
        raise InputError(f"--alpn {alpn!r}: one or more names of 1-255 bytes")
    server_name = sni if sni is not None else (None if is_address(host) else host)
    options = QuicHelloOptions(server_name=server_name, alpn=names, version=_version(version),
                               timeout=common.timeout or 3.0)  # fmt: skip
    return _run(common, host, port, options)


def _target(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"{text!r}: expected HOST:PORT (IPv6: [ADDR]:PORT)")
    return host, int(port)


def _version(text: str) -> int:
    found = VERSIONS.get(text.lower())
    if found is not None:
        return found
    try:
        value = int(text, 16)
    except ValueError:
        value = -1
    if not 0 < value < 1 << 32:
        raise InputError(f"--version {text!r}: 1, 2, or a 32-bit version in hex (0x…)")
    return value


def _run(common: Common, host: str, port: int, options: Any) -> ExitStatus:
    from netlab.cli.run import port_watch, run_client
    from netlab.core.quic_hello import QuicHello
    from netlab.net.resolver import host_address
    from netlab.render import quic as view
    from netlab.wire.tls_crypto import KeyLog

    address = host_address(host, port, udp=True)
    core = QuicHello(address, port, options)
    keys = KeyLog(lines=lambda: core.result.keylog) if common.verbose else None
    s = run_client(
        common,
        core,
        lambda: port_watch(common, address, port, "udp"),
        lambda: (view.document(core), view.lines(core, common.verbose), core.result.error),
        keylog=keys,
    )
    r = core.result
    answered = any(p.type == "Initial" for p in r.server_packets)
    return s.status(answered and not (r.error and r.error != "interrupted"))
