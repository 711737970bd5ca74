"""`netlab cert`: the course's openssl walk-through (genrsa → req → x509 -req -CA →
x509 -text → verify) with netlab alone.

Thin on purpose: the cryptography package, the core (`netlab/core/x509.py`) and rich
are imported inside the subcommands, so `netlab cert --help` stays light. Files are
read here (bounded: cli/files.py) and parsed by the core; keys are written with mode 0600.
"""

from __future__ import annotations

import os
from typing import Any

import click

from netlab.cli import complete
from netlab.cli.files import read_bounded
from netlab.cli.options import HELP_OPTIONS, Common, command, common_options
from netlab.cli.run import print_result
from netlab.errors import ExitStatus, InputError

SHORT_HELP = "Make and check X.509 certificates like openssl: CA, issue, CSR, sign, show, verify."


@click.group(short_help=SHORT_HELP, context_settings=HELP_OPTIONS)
def cert() -> None:
    """Make a CA, issue certificates from it, request and sign, show and verify
    certificates: the openssl walk-through of the HTTPS chapter, with netlab alone.
    PEM and DER are read; files written are PEM, read by openssl (and openssl's by
    netlab).

    \b
    openssl                                     netlab
    genrsa + req -x509 (a root CA)              cert ca --cn "Lab Root CA" -o root
    genrsa + req -new (a request)               cert csr --cn www.lab.test -o www
    x509 -req -CA root.pem -CAkey root.key      cert sign www.csr --ca root
    x509 -noout -text -in www.pem               cert show www.pem
    verify -CAfile root.pem www.pem             cert verify www.pem --ca root.pem

    \b
    Examples:
      netlab cert ca --cn "Lab Root CA" -o root
      netlab cert issue --ca root --cn "Lab Intermediate" --intermediate --path-len 0 -o inter
      netlab cert issue --ca inter --cn www.lab.test --san www.lab.test --san 198.18.0.2 -o www
      netlab cert verify www.pem --ca root.pem --untrusted inter.pem --name www.lab.test
    """


# --- shared options -----------------------------------------------------------------------------


def _key_options(func):
    func = click.option(
        "--bits",
        type=click.IntRange(256, 8192),
        metavar="N",
        help="RSA: 2048 (default), 3072, 4096, 8192 bits. EC: 256 (P-256, default), 384, 521.",
    )(func)
    return click.option(
        "--key",
        "key_type",
        type=click.Choice(["rsa", "ec"]),
        default="rsa",
        show_default=True,
        help="Key type of the new key pair.",
    )(func)


def _days_option(default: int):
    return click.option(
        "--days",
        type=click.IntRange(1, 36500),
        default=default,
        show_default=True,
        metavar="N",
        help="Validity in days, from now.",
    )


def _cn_option(whose: str):
    return click.option(
        "--cn", required=True, metavar="NAME", help=f"Common name (CN=) of {whose}."
    )


def _ca_prefix_option(help: str):
    return click.option(
        "--ca",
        "ca_prefix",
        required=True,
        metavar="PREFIX",
        shell_complete=complete.files,
        help=help,
    )


def _certs_option(*decls: str, metavar: str, help: str):
    """Certificate files, the option repeated for each."""
    return click.option(
        *decls, multiple=True, metavar=metavar, shell_complete=complete.files, help=help
    )


def _path_len_option(help: str):
    return click.option("--path-len", type=click.IntRange(0, 255), metavar="N", help=help)


_force_option = click.option("--force", is_flag=True, help="Overwrite files that exist.")
_org_option = click.option("--org", metavar="NAME", help="Organization (O=) of the subject.")
_prefix_option = click.option(
    "-o",
    "--out",
    "prefix",
    metavar="PREFIX",
    shell_complete=complete.files,
    help="Output prefix (default: from the CN).",
)
_san_option = click.option(
    "--san",
    "sans",
    multiple=True,
    metavar="NAME|IP",
    help="A subjectAltName: a DNS name (*.x for a wildcard) or an IP address; also "
    "DNS:…, IP:…, email:…, URI:…. Repeatable. Default: the CN, if it is a host name.",
)


def _now():
    import datetime as dt

    return dt.datetime.now(dt.UTC)


# --- files --------------------------------------------------------------------------------------


def load_certificates(path: str) -> list[Any]:
    """Every certificate in the file PATH (PEM or DER), bounded; for any command."""
    from netlab.core.x509 import parse_certificates

    return parse_certificates(read_bounded(path, "certificate file"), path)


def _ca_paths(prefix: str) -> tuple[str, str]:
    for ext in (".pem", ".crt", ".cer", ".der"):
        if prefix.endswith(ext):
            prefix = prefix[: -len(ext)]
            break
    return f"{prefix}.pem", f"{prefix}.key"


def _load_ca(prefix: str):
    from netlab.core.x509 import parse_private_key

    cert_path, key_path = _ca_paths(prefix)
    if not os.path.exists(cert_path):
        raise InputError(f"--ca {prefix}: no {cert_path} (make one with: netlab cert ca)")
    if not os.path.exists(key_path):
        raise InputError(f"--ca {prefix}: no {key_path}: signing needs the CA's private key")
    ca_cert = load_certificates(cert_path)[0]
    ca_key = parse_private_key(read_bounded(key_path, "key file"), key_path)
    _require_ca(ca_cert, cert_path)
    return ca_cert, ca_key, cert_path


def _require_ca(ca_cert, path: str) -> None:
    from netlab.core.x509 import describe

    bc = describe(ca_cert)["basic_constraints"]
    if bc is None or not bc["ca"]:
        raise InputError(f"{path} is not a CA certificate (basicConstraints CA:TRUE is missing)")


def _chain_after(ca_cert, ca_pem_path: str) -> list[Any]:
    """What follows a newly issued certificate in its PREFIX.chain.pem: the CA's own
    chain file if it has one, else the CA when it is not a self-signed root."""
    from netlab.core.x509 import describe

    chain_file = ca_pem_path[: -len(".pem")] + ".chain.pem"
    if os.path.exists(chain_file):
        return load_certificates(chain_file)
    return [] if describe(ca_cert)["self_signed"] else [ca_cert]


def _write_files(files: list[tuple[str, bytes, bool]], force: bool) -> None:
    """Write (path, bytes, secret) files: all or none refused when one exists; secret
    files (private keys) get mode 0600 from the start."""
    if not force:
        existing = [p for p, _, _ in files if os.path.lexists(p)]
        if existing:
            raise InputError(f"{', '.join(existing)} exist(s): refusing to overwrite (--force)")
    for path, data, secret in files:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | (0 if force else os.O_EXCL)
        try:
            fd = os.open(path, flags, 0o600 if secret else 0o644)
            try:
                if secret:
                    os.fchmod(fd, 0o600)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
        except OSError as err:
            raise InputError(f"cannot write {path}: {err.strerror}") from None


def _check_path_len(path_len: int | None, intermediate: bool) -> None:
    if path_len is not None and not intermediate:
        raise InputError("--path-len goes with --intermediate (a leaf is not a CA)")


def _issue(
    public_key, subject, ca: tuple, sans: list, days: int, intermediate: bool, path_len: int | None
):
    """The certificate `issue` and `sign` make: for PUBLIC_KEY and SUBJECT, signed by CA
    (its certificate and key), valid for DAYS from now."""
    from netlab.core.x509 import issue

    ca_cert, ca_key = ca
    return issue(
        public_key,
        subject,
        ca_cert=ca_cert,
        ca_key=ca_key,
        now=_now(),
        days=days,
        sans=sans,
        intermediate=intermediate,
        path_length=path_len,
    )


def _default_prefix(cn: str) -> str:
    import re

    slug = re.sub(r"[^A-Za-z0-9.]+", "-", cn.replace("*", "wildcard")).strip("-.").lower()
    return slug or "cert"


def _sans(values: tuple[str, ...], cn: str):
    from netlab.core.x509 import default_sans, parse_san

    return [parse_san(v) for v in values] if values else default_sans(cn)


def _view():
    from netlab.render import cert as view  # rich: only when text is drawn

    return view


def _report_written(common: Common, written: list[tuple[str, str]], doc: dict[str, Any]) -> None:
    data = {"written": {kind: path for path, kind in written}, **doc}
    print_result(
        common, data, lambda console: _view().render_written(console, written, doc, _now())
    )


# --- cert ca ------------------------------------------------------------------------------------


@command("ca", "Make a self-signed root CA: PREFIX.pem and PREFIX.key.", group=cert)
@_cn_option("the CA")
@_org_option
@_prefix_option
@_key_options
@_days_option(3650)
@_path_len_option("pathLenConstraint of the root.")
@_force_option
@common_options("json", "no_color")
def ca_cmd(
    common: Common,
    cn: str,
    org: str | None,
    prefix: str | None,
    key_type: str,
    bits: int | None,
    days: int,
    path_len: int | None,
    force: bool,
) -> ExitStatus:
    """A self-signed root CA (openssl genrsa + req -x509): basicConstraints
    CA:TRUE (critical), keyUsage keyCertSign and cRLSign (critical), subject and
    authority key identifiers. Writes PREFIX.pem (the certificate) and PREFIX.key (its
    private key, PKCS#8, mode 0600); refuses to overwrite unless --force.
    """
    from netlab.core import x509 as cx

    prefix = prefix or _default_prefix(cn)
    cert_path, key_path = f"{prefix}.pem", f"{prefix}.key"
    key = cx.generate_key(key_type, bits)
    ca = cx.build_ca(key, cn, now=_now(), days=days, path_length=path_len, org=org)
    _write_files([(key_path, cx.key_pem(key), True), (cert_path, cx.pem(ca), False)], force)
    written = [(cert_path, "certificate"), (key_path, "key")]
    _report_written(common, written, {"certificate": cx.describe(ca)})
    return ExitStatus.SUCCESS


# --- cert issue ---------------------------------------------------------------------------------


@command("issue", "Issue a leaf or intermediate certificate from a CA.", group=cert)
@_ca_prefix_option("The issuing CA: PREFIX.pem and PREFIX.key (from cert ca or cert issue).")
@_cn_option("the subject")
@_org_option
@_san_option
@click.option("--intermediate", is_flag=True, help="Issue an intermediate CA, not a leaf.")
@_path_len_option("With --intermediate: its pathLenConstraint.")
@_prefix_option
@_key_options
@_days_option(365)
@_force_option
@common_options("json", "no_color")
def issue_cmd(
    common: Common,
    ca_prefix: str,
    cn: str,
    org: str | None,
    sans: tuple[str, ...],
    intermediate: bool,
    path_len: int | None,
    prefix: str | None,
    key_type: str,
    bits: int | None,
    days: int,
    force: bool,
) -> ExitStatus:
    """A new key pair and a certificate for it signed by the CA (openssl genrsa +
    req + x509 -req -CA … -extfile). A leaf gets basicConstraints CA:FALSE, keyUsage
    digitalSignature (+ keyEncipherment for RSA, TLS 1.2's RSA key exchange),
    extendedKeyUsage serverAuth + clientAuth and the subjectAltNames; --intermediate
    makes a CA instead (CA:TRUE, --path-len, keyCertSign + cRLSign).

    Writes PREFIX.pem, PREFIX.key (mode 0600) and PREFIX.chain.pem (the certificate
    followed by the intermediates above it: what a server sends).
    """
    from netlab.core import x509 as cx

    _check_path_len(path_len, intermediate)
    ca_cert, ca_key, ca_pem = _load_ca(ca_prefix)
    san_list = _sans(sans, cn) if not intermediate or sans else []
    prefix = prefix or _default_prefix(cn)
    key = cx.generate_key(key_type, bits)
    subject = cx.subject_name(cn, org)
    new = _issue(
        key.public_key(), subject, (ca_cert, ca_key), san_list, days, intermediate, path_len
    )
    chain = [new, *_chain_after(ca_cert, ca_pem)]
    paths = (f"{prefix}.pem", f"{prefix}.key", f"{prefix}.chain.pem")
    _write_files(
        [
            (paths[1], cx.key_pem(key), True),
            (paths[0], cx.pem(new), False),
            (paths[2], b"".join(cx.pem(c) for c in chain), False),
        ],
        force,
    )
    written = [(paths[0], "certificate"), (paths[1], "key"), (paths[2], "chain")]
    _report_written(common, written, {"certificate": cx.describe(new)})
    return ExitStatus.SUCCESS


# --- cert csr / cert sign -----------------------------------------------------------------------


@command("csr", "Make a key pair and a certificate signing request.", group=cert)
@_cn_option("the subject")
@_org_option
@_san_option
@_prefix_option
@_key_options
@_force_option
@common_options("json", "no_color")
def csr_cmd(
    common: Common,
    cn: str,
    org: str | None,
    sans: tuple[str, ...],
    prefix: str | None,
    key_type: str,
    bits: int | None,
    force: bool,
) -> ExitStatus:
    """A new key pair and a PKCS#10 request for it (openssl genrsa + req -new), the
    subjectAltNames asked for in its extensionRequest. Writes PREFIX.csr and
    PREFIX.key (mode 0600). A CA signs it with `netlab cert sign PREFIX.csr --ca CA`
    (or `openssl x509 -req -copy_extensions copy`).
    """
    from netlab.core import x509 as cx

    prefix = prefix or _default_prefix(cn)
    key = cx.generate_key(key_type, bits)
    csr = cx.build_csr(key, cn, _sans(sans, cn), org)
    paths = (f"{prefix}.csr", f"{prefix}.key")
    _write_files([(paths[1], cx.key_pem(key), True), (paths[0], cx.csr_pem(csr), False)], force)
    written = [(paths[0], "request"), (paths[1], "key")]
    _report_written(common, written, {"request": cx.describe_csr(csr)})
    return ExitStatus.SUCCESS


@command("sign", "Sign a certificate request with a CA.", group=cert)
@click.argument("csr_path", metavar="CSR", shell_complete=complete.files)
@_ca_prefix_option("The signing CA: PREFIX.pem and PREFIX.key.")
@click.option(
    "-o",
    "--out",
    "out",
    metavar="FILE",
    shell_complete=complete.files,
    help="The certificate file (default: CSR's name with .pem).",
)
@click.option("--intermediate", is_flag=True, help="Make it an intermediate CA, not a leaf.")
@_path_len_option("With --intermediate: its pathLenConstraint.")
@_days_option(365)
@_force_option
@common_options("json", "no_color")
def sign_cmd(
    common: Common,
    csr_path: str,
    ca_prefix: str,
    out: str | None,
    intermediate: bool,
    path_len: int | None,
    days: int,
    force: bool,
) -> ExitStatus:
    """Check the request's signature (proof that its author holds the key), then
    issue a certificate for its subject and key, signed by the CA (openssl x509 -req
    -CA … -CAkey …). The subjectAltNames of the request are copied (openssl's
    -copy_extensions copy); the rest is set as `cert issue` sets it. Writes FILE.
    """
    from netlab.core import x509 as cx

    _check_path_len(path_len, intermediate)
    csr = cx.parse_csr(read_bounded(csr_path, "request"), csr_path)
    public_key = cx.csr_public_key(csr, csr_path)
    ca_cert, ca_key, _ = _load_ca(ca_prefix)
    sans = cx.csr_sans(csr)
    if not sans and not intermediate:
        cns = [a.value for a in csr.subject if a.oid.dotted_string == "2.5.4.3"]
        sans = cx.default_sans(str(cns[0])) if cns else []
    new = _issue(public_key, csr.subject, (ca_cert, ca_key), sans, days, intermediate, path_len)
    if out is None:
        base, ext = os.path.splitext(csr_path)
        out = base + (".pem" if ext != ".pem" else ".crt")
    _write_files([(out, cx.pem(new), False)], force)
    _report_written(common, [(out, "certificate")], {"certificate": cx.describe(new)})
    return ExitStatus.SUCCESS


# --- cert show ----------------------------------------------------------------------------------


@command("show", "Show certificates like openssl x509 -text; a chain as a tree.", group=cert)
@click.argument("path", metavar="FILE|HOST:PORT", shell_complete=complete.files)
@click.option(
    "--index",
    type=click.IntRange(1, 1000),
    metavar="N",
    help="Only the Nth certificate of the file.",
)
@click.option(
    "--out",
    "out",
    metavar="FILE",
    shell_complete=complete.files,
    help="Also write the certificate(s) to FILE.",
)
@click.option(
    "--outform",
    type=click.Choice(["pem", "der"]),
    default="pem",
    show_default=True,
    help="Format of --out (DER holds one certificate: use --index).",
)
@click.option("--force", is_flag=True, help="Let --out overwrite a file.")
@common_options("json", "no_color")
def show_cmd(
    common: Common, path: str, index: int | None, out: str | None, outform: str, force: bool
) -> ExitStatus:
    """Every field of each certificate in FILE (PEM or DER, one or many), as
    `openssl x509 -noout -text` shows them and more: subject, issuer, serial,
    validity, public key, signature algorithm, subjectAltName, basic constraints, key
    usage, extended key usage, key identifiers, SHA-256 and SHA-1 fingerprints,
    self-signed or not. Several certificates are drawn as a tree of who issued whom.

    FILE may also be HOST:PORT: the chain that server sends in its handshake (made
    by hand, as `netlab tls-hello` makes it; nothing is verified here).
    """
    certs = _show_source(common, path)
    if index is not None:
        if index > len(certs):
            raise InputError(f"--index {index}: {path} holds {len(certs)} certificate(s)")
        certs = [certs[index - 1]]
    if out is not None:
        _write_certs(certs, path, out, outform, force)
    _show(common, path, certs, out, outform)
    return ExitStatus.SUCCESS


def _show_source(common: Common, path: str) -> list:
    """The certificates of FILE, or those HOST:PORT sends (a name with a colon that is
    not a file here)."""
    if not os.path.exists(path) and ":" in path and "/" not in path:
        return _server_chain(common, path)
    return load_certificates(path)


def _write_certs(certs: list, path: str, out: str, outform: str, force: bool) -> None:
    """--out FILE: the certificates as PEM, or the one certificate as DER."""
    from netlab.core import x509 as cx

    if outform == "der" and len(certs) > 1:
        raise InputError(
            f"DER holds one certificate and {path} has {len(certs)}: pick one with --index N"
        )
    data = cx.der(certs[0]) if outform == "der" else b"".join(cx.pem(c) for c in certs)
    _write_files([(out, data, False)], force)


def _show(common: Common, path: str, certs: list, out: str | None, outform: str) -> None:
    """Each certificate described, numbered, with the number of the one that issued it."""
    from netlab.core import x509 as cx

    infos = [cx.describe(c) for c in certs]
    parents = dict(cx.issuance_tree(certs))
    for i, info in enumerate(infos):
        info["index"] = i + 1
        parent = parents.get(i)
        info["issued_by"] = None if parent is None else parent + 1
    data = {"file": path, "certificates": infos}
    if out is not None:
        data["written"] = {"file": out, "format": outform}
    written = (out, outform) if out else None
    print_result(
        common, data, lambda c: _view().render_show(c, path, infos, _now(), written=written)
    )


def _server_chain(common: Common, target: str) -> list:
    """The certificates HOST:PORT sends, from a TLS handshake (tls-hello's core)."""
    import dataclasses

    from cryptography import x509

    from netlab.cli.run import Session
    from netlab.cli.tls_hello import _target
    from netlab.core.tls_hello import HelloOptions, TlsHello
    from netlab.errors import ExitStatus, NetlabError
    from netlab.net.resolver import host_address, is_address

    host, port = _target(target, None)
    address = host_address(host, port)
    core = TlsHello(address, port, HelloOptions(server_name=None if is_address(host) else host))
    # The handshake's own output stays quiet: what is shown is the certificates, below.
    with Session(dataclasses.replace(common, json=False)) as s:
        s.run_sockets(core, lambda _e: None)
    if s.interrupted:
        raise NetlabError("interrupted", ExitStatus.INTERRUPTED)
    if not core.result.certificates:
        reason = core.result.error or "the server sent no certificate"
        raise NetlabError(f"{target}: {reason}", ExitStatus.NO_ANSWER)
    return [x509.load_der_x509_certificate(der) for der in core.result.certificates]


# --- cert verify --------------------------------------------------------------------------------


def _parse_time(text: str):
    import datetime as dt

    try:
        if text.lstrip("-").isdigit():
            return dt.datetime.fromtimestamp(int(text), dt.UTC)
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise InputError(
            f"--at {text!r}: a date (2030-01-31, 2030-01-31T12:00:00Z) or seconds since 1970"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _system_roots() -> tuple[str, list[Any]]:
    import ssl

    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and os.path.isfile(candidate):
            return candidate, load_certificates(candidate)
    raise InputError("no system trust store found: give the trust anchor with --ca ROOT")


@command("verify", "Verify a certificate chain like openssl verify, with reasons.", group=cert)
@click.argument("leaf_path", metavar="LEAF", shell_complete=complete.files)
@_certs_option(
    "--ca",
    "ca_files",
    metavar="ROOT",
    help="Trusted certificates (openssl's -CAfile); repeatable. Default: the system's trust store.",
)
@_certs_option(
    "--untrusted",
    "untrusted_files",
    metavar="FILE",
    help="Intermediate certificates to build the chain with; repeatable.",
)
@click.option(
    "--name",
    metavar="HOST",
    help="Check the leaf is for HOST: a DNS name (openssl's -verify_hostname) or "
    "an IP address (-verify_ip).",
)
@click.option(
    "--at",
    "at",
    metavar="TIME",
    help="Verify as of TIME (ISO 8601 or seconds since 1970; openssl's -attime).",
)
@common_options("json", "no_color")
def verify_cmd(
    common: Common,
    leaf_path: str,
    ca_files: tuple[str, ...],
    untrusted_files: tuple[str, ...],
    name: str | None,
    at: str | None,
) -> ExitStatus:
    """Build the chain from LEAF up to a trust anchor and check it as `openssl
    verify` does: issuers found by name and key identifier, each signature verified
    with the issuer's key, each validity window containing now, CA:TRUE and
    keyCertSign on issuers, pathLenConstraint respected, the name against the
    subjectAltName. Prints "LEAF: OK" as openssl does, or the failure with its
    reason (unknown CA, missing intermediate, expired, not yet valid, name mismatch,
    path length exceeded, not a CA, bad signature, self-signed) and OpenSSL's error.
    Every step is listed. More certificates in LEAF's file count as --untrusted.

    Exit 0 verified, 1 not verified, 2 bad input.
    """
    from netlab.core import x509 as cx

    now = _parse_time(at) if at else _now()
    if name is not None and (not name or len(name) > 253 or any(c.isspace() for c in name)):
        raise InputError(f"--name {name!r}: a host name or an IP address")
    leaf_certs = load_certificates(leaf_path)
    untrusted = leaf_certs[1:]
    for path in untrusted_files:
        untrusted += load_certificates(path)
    roots: list[Any] = []
    sources = list(ca_files)
    if ca_files:
        for path in ca_files:
            roots += load_certificates(path)
    else:
        store, roots = _system_roots()
        sources = [store]
    if len(untrusted) > cx.MAX_CERTS or len(roots) > cx.MAX_CERTS:
        raise InputError(f"more than {cx.MAX_CERTS} untrusted or trusted certificates")
    verdict = cx.verify_chain(leaf_certs[0], untrusted, roots, name=name, now=now)
    status = ExitStatus.SUCCESS if verdict.ok else ExitStatus.NO_ANSWER
    doc = {"file": leaf_path, "name": name, "time": now.timestamp(), **verdict.to_dict()}
    extra = (leaf_path,) if len(leaf_certs) > 1 else ()
    listed = {"ca_sources": sources, "untrusted_sources": extra + untrusted_files}
    print_result(common, doc, lambda console: _view().render_verify(console, doc, **listed))
    return status
