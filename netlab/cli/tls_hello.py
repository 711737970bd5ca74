"""`netlab tls-hello`: one TLS handshake by hand, explained like openssl s_client -msg."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import click

from netlab.cli.options import Common, client_options, command, file_option
from netlab.errors import ExitStatus, InputError

SYSTEM_CAS = "/etc/ssl/certs/ca-certificates.crt"

# Shared with quic-hello.
sni_option = click.option(
    "--sni", metavar="NAME", help="Server name to send (default: HOST when a name)."
)


@command("tls-hello", "A TLS handshake built by hand: hellos, keys, the chain verified, JA3/JA4.")
@click.argument("target", metavar="HOST[:PORT]")
@sni_option
@click.option("--no-sni", is_flag=True, help="Send no server_name extension.")
@click.option("--alpn", metavar="P1,P2", help="ALPN protocols to offer (e.g. h2,http/1.1).")
@click.option("--tls1.2", "tls12", is_flag=True, help="Offer TLS 1.2 only.")
@click.option("--tls1.3", "tls13", is_flag=True, help="Offer TLS 1.3 only.")
@click.option("--tls-max", type=click.Choice(["1.2", "1.3"]), help="Highest version to offer.")
@click.option(
    "--ciphers",
    metavar="LIST",
    help="Cipher suites to offer, comma- or colon-separated (IANA or OpenSSL names, 0xNNNN).",
)
@click.option(
    "--groups",
    metavar="LIST",
    help="Groups to offer (x25519, secp256r1 …); the first gets a key share.",
)
@click.option(
    "--sigalgs", metavar="LIST", help="Signature schemes to offer (rsa_pss_rsae_sha256 …)."
)
@click.option("--grease", is_flag=True, help="Add GREASE values (RFC 8701), as browsers do.")
@file_option(
    "--cacert", exists=True, help="Trust the CA certificates in FILE (default: the system's)."
)
@file_option(
    "--cert",
    "client_cert",
    exists=True,
    help="Our certificate (PEM/DER, chain allowed) for mutual TLS.",
)
@file_option("--key", "client_key", exists=True, help="The private key of --cert.")
@click.option("-p", "--port", type=click.IntRange(1, 65535), help="Port (default 443).")
@click.option(
    "--scan",
    is_flag=True,
    help="Versions (SSL 3.0 … TLS 1.3), suites, groups and preference order the server accepts.",
)
@file_option(
    "--keylog", help="Append the handshake's secrets to FILE (NSS key log; SSLKEYLOGFILE too)."
)
@client_options(timeout=5.0)
def tls_hello(common: Common, target: str, **options: Any) -> ExitStatus:
    """Send a ClientHello built with Scapy's TLS layers over a kernel TCP socket and
    complete the handshake by hand: the ServerHello (chosen version, suite, group,
    the server's random) against what we offered, TLS 1.3's encrypted flight
    decrypted and each message checked (CertificateVerify, Finished), or TLS 1.2's
    key exchange (ECDHE shares, or the pre-master secret encrypted with the
    certificate's RSA key) and the master secret from the pre-master and the two
    randoms. The certificate chain is verified up to a trust anchor with each
    check's reason; JA3/JA4 of our hello, JA3S/JA4S of the server's.

    Exit 0 when the handshake completed and the chain verified, 1 when it failed or
    the chain is not trusted (the reason is shown), 2 on bad input.

    \b
    Examples:
      netlab tls-hello server --cacert ca.pem
      netlab tls-hello --tls1.2 --ciphers AES128-GCM-SHA256 server:4433   # RSA key exchange
      netlab tls-hello --groups secp256r1,x25519 server      # key share for P-256 first
      netlab tls-hello --json server:443 | jq .ja3_hash
    """
    o = TlsHelloOptions(**options)
    host, port = _target(target, o.port)
    if o.scan:
        return _scan(common, host, port, None if o.no_sni else (o.sni or host))
    hello = _hello_options(common, host, o)
    keylog = o.keylog or os.environ.get("SSLKEYLOGFILE") or None
    return _run(common, host, port, hello, o.cacert, keylog)


@dataclass(frozen=True)
class TlsHelloOptions:
    """tls-hello's own options (the shared ones are in `Common`), as click passes them."""

    sni: str | None
    no_sni: bool
    alpn: str | None
    tls12: bool
    tls13: bool
    tls_max: str | None
    ciphers: str | None
    groups: str | None
    sigalgs: str | None
    grease: bool
    cacert: str | None
    client_cert: str | None
    client_key: str | None
    port: int | None
    scan: bool
    keylog: str | None


# --- input -------------------------------------------------------------------------------------
def _hello_options(common: Common, host: str, o: TlsHelloOptions) -> Any:
    """What our ClientHello offers (core/tls_hello.HelloOptions): the names in --ciphers,
    --groups and --sigalgs looked up (exit 2 on one unknown), --cert with its --key."""
    from netlab.core.tls_hello import HelloOptions
    from netlab.net.resolver import is_address

    suites = _codes(o.ciphers, "cipher suite", _suite) if o.ciphers else None
    group_list = _codes(o.groups, "group", _group) if o.groups else None
    sig_list = _codes(o.sigalgs, "signature scheme", _sigalg) if o.sigalgs else None
    kw: dict[str, Any] = {}
    if group_list:
        kw["groups"] = tuple(group_list)
        kw["key_share_groups"] = (group_list[0],)
    if sig_list:
        kw["signature_algorithms"] = tuple(sig_list)
    if bool(o.client_cert) != bool(o.client_key):
        raise InputError("--cert and --key go together (mutual TLS)")
    if o.client_cert:
        kw["client_certs"], kw["client_key"] = _client_identity(o.client_cert, o.client_key)
    return HelloOptions(
        server_name=None if o.no_sni else (o.sni or (host if not is_address(host) else None)),
        alpn=tuple(p for p in (o.alpn or "").split(",") if p),
        versions=_versions(o.tls12, o.tls13, o.tls_max),
        suites=tuple(suites) if suites else None,
        grease=o.grease,
        timeout=common.timeout or 5.0,
        **kw,
    )


def _target(text: str, port: int | None) -> tuple[str, int]:
    host, given = text, None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        given = rest[1:] if rest.startswith(":") else None
    elif text.count(":") == 1:
        host, given = text.split(":")
    if given is not None:
        if not given.isdigit() or not 0 < int(given) < 65536:
            raise InputError(f"{text!r}: the port must be 1-65535")
        if port is not None and port != int(given):
            raise InputError(f"{text!r} and -p {port} name two ports")
        port = int(given)
    if not host:
        raise InputError(f"{text!r}: no host")
    return host, port or 443


def _client_identity(cert_path: str, key_path: str) -> tuple[tuple[bytes, ...], Any]:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from netlab.cli.files import read_bounded
    from netlab.core import x509 as x509core

    certs = x509core.parse_certificates(read_bounded(cert_path), cert_path)
    key = x509core.parse_private_key(read_bounded(key_path), key_path)
    spki = (Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    if certs[0].public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
        raise InputError(f"{key_path!r} is not the key of {cert_path!r}")
    return tuple(c.public_bytes(Encoding.DER) for c in certs), key


def _versions(tls12: bool, tls13: bool, tls_max: str | None) -> tuple[int, ...]:
    if tls12 and tls13:
        return (0x0304, 0x0303)
    if tls12 or tls_max == "1.2":
        return (0x0303,)
    if tls13:
        return (0x0304,)
    return (0x0304, 0x0303)


def _codes(text: str, what: str, lookup) -> list[int]:
    out = []
    for word in text.replace(":", ",").split(","):
        if not word.strip():
            continue
        code = lookup(word)
        if code is None:
            raise InputError(f"unknown {what} {word.strip()!r}")
        out.append(code)
    if not out:
        raise InputError(f"no {what} in {text!r}")
    return out


def _suite(word: str) -> int | None:
    from netlab.wire.tls import suite_code

    return suite_code(word)


def _group(word: str) -> int | None:
    from netlab.wire.tls import group_code

    return group_code(word)


def _sigalg(word: str) -> int | None:
    from netlab.wire.tls_names import SIGNATURE_SCHEMES

    w = word.strip().lower()
    return next((c for c, n in SIGNATURE_SCHEMES.items() if n == w), None)


# --- the run -----------------------------------------------------------------------------------
def _run(
    common: Common, host: str, port: int, options: Any, cacert: str | None, keylog: str | None
) -> ExitStatus:
    from netlab.cli.run import port_watch, run_client
    from netlab.core.tls_hello import TlsHello
    from netlab.net.resolver import host_address
    from netlab.render import tls_hello as view

    address = host_address(host, port)
    core = TlsHello(address, port, options)
    verdict = None

    def report() -> tuple[Any, list[str], str | None]:
        nonlocal verdict
        result = core.result
        if keylog and result.keylog:
            _append_keylog(keylog, result.keylog)
        verdict = _verify(result, options.server_name or host, cacert)
        error = result.error
        if not error and verdict is not None and not verdict.ok:
            error = f"certificate chain not trusted: {verdict.reason or verdict.error}"
        document = view.document(host, address, port, result, verdict)
        lines = view.lines(host, address, port, result, verdict, common.verbose, common.color)
        return document, lines, error

    # -v decrypts with the secrets as the handshake derives them (the key log file is
    # only written at the end)
    keys = _live_keys(core) if common.verbose else None
    s = run_client(common, core, lambda: port_watch(common, address, port), report, keylog=keys)
    return s.status(core.result.completed and (verdict is None or verdict.ok))


def _scan(common: Common, host: str, port: int, server_name: str | None) -> ExitStatus:
    import time

    from netlab.cli.run import port_watch, run_client
    from netlab.core.tls_scan import TlsScan
    from netlab.net.resolver import host_address, is_address
    from netlab.render import tls_hello as view

    address = host_address(host, port)
    if server_name and is_address(server_name):
        server_name = None
    core = TlsScan(address, port, server_name, timeout=common.timeout or 5.0)

    def report() -> tuple[Any, list[str], str | None]:
        took = time.monotonic() - start
        document = view.scan_document(host, address, port, core, took)
        return document, view.scan_lines(host, address, port, core, took), core.error

    start = time.monotonic()
    s = run_client(common, core, lambda: port_watch(common, address, port), report)
    return s.status(core.error is None and any(r.accepted for r in core.results.values()))


def _verify(result: Any, name: str, cacert: str | None):
    """The chain the server sent, verified up to a trust anchor (core/x509)."""
    if not result.certificates:
        return None
    import datetime as dt

    from cryptography import x509

    from netlab.core import x509 as x509core

    certs = [x509.load_der_x509_certificate(der) for der in result.certificates]
    path = cacert or SYSTEM_CAS
    try:
        with open(path, "rb") as f:
            roots = x509core.parse_certificates(f.read(), path)
    except OSError as err:
        raise InputError(f"cannot read trust anchors from {path!r}: {err.strerror}") from None
    except ValueError as err:
        raise InputError(str(err)) from None
    return x509core.verify_chain(certs[0], certs[1:], roots, name=name, now=dt.datetime.now(dt.UTC))


def _live_keys(core: Any) -> Any:
    from netlab.wire.tls_crypto import KeyLog

    return KeyLog(lines=lambda: core.result.keylog)


def _append_keylog(path: str, lines: list[str]) -> None:
    try:
        with open(path, "a") as f:
            f.write("".join(line + "\n" for line in lines))
    except OSError as err:
        raise InputError(f"cannot write the key log {path!r}: {err.strerror}") from None
