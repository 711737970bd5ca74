"""The lab's certificate authority: root CA → intermediate CA → one leaf per TLS server.

Made at `lab up` (only when a service asks for TLS) with the `cryptography`
package, the way a real Web PKI is laid out:

- ``<run>/ca/root.pem``: the lab's trust anchor, self-signed. Clients pass it to
  ``curl --cacert``, ``openssl s_client -CAfile``, ``netlab http --cacert``.
  ``lab status --json`` shows it as ``cacert`` on every TLS service.
- ``<run>/ca/intermediate.pem``: signed by the root; it signs the leaves. A
  server sends it after its leaf (the chain), never the root.
- ``<service dir>/tls/leaf.pem``, ``chain.pem`` (leaf + intermediate),
  ``leaf.key``: the server's certificate, its subjectAltName listing the names
  and addresses a client of the lab may use for that node (`leaf_names`).

One CA per lab: a second TLS server in the same lab gets its own leaf from the
same intermediate, so one ``--cacert`` file verifies every server of the lab.
Keys are EC P-256 (milliseconds to make; lab up time matters), signatures
SHA-256, key files mode 0600. Validity: one hour back (clock skew between
namespaces is nil, but a client's clock may be behind) to 30 days ahead.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from netlab.lab.topology import Topology

CA_DIR = "ca"
ROOT_PEM = "root.pem"
VALID_BEFORE = datetime.timedelta(hours=1)
VALID_FOR = datetime.timedelta(days=30)


@dataclass
class LeafFiles:
    cert: Path  # the leaf alone
    chain: Path  # leaf + intermediate: what the server sends (nginx `ssl_certificate`)
    key: Path
    root: Path  # the trust anchor a client needs


def root_path(run_dir: Path) -> Path:
    """Where the lab's root CA certificate is (whether made yet or not)."""
    return run_dir / CA_DIR / ROOT_PEM


def leaf_names(topo: Topology, node: str) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) for a node's certificate.

    The names a client in the lab reaches the node by: its node name (every node's
    hosts file maps it to the node's addresses) and the names the lab's DNS zones
    give its addresses (A/AAAA records in ``[zones]``, and CNAMEs to those names);
    the addresses: every address of the node, IPv4 and IPv6, for ``https://198.18.…/``.
    """
    addrs = [str(iface.ip) for iface in topo.addresses_of(node)]
    names = [node]
    owned: set[str] = set()
    aliases: list[tuple[str, str]] = []  # (owner, target) of CNAME records
    for zone in topo.zones.values():
        for record in zone.records:
            parsed = _parse_record(record, zone.name)
            if parsed is None:
                continue
            owner, rtype, data = parsed
            if rtype in ("A", "AAAA") and _same_address(data, addrs):
                owned.add(owner)
            elif rtype == "CNAME":
                aliases.append((owner, _absolute(data, zone.name)))
    for _ in range(8):  # CNAME chains, bounded
        more = {owner for owner, target in aliases if target in owned} - owned
        if not more:
            break
        owned |= more
    names += sorted(owned - {node})
    return names, addrs


def _parse_record(record: str, zone: str) -> tuple[str, str, str] | None:
    """(owner, TYPE, first data word) of a zone-file line ``NAME [TTL] [IN] TYPE DATA``."""
    words = record.split()
    if len(words) < 3:
        return None
    i = 1
    while i < len(words) - 1 and (words[i].isdigit() or words[i].upper() == "IN"):
        i += 1
    return _absolute(words[0], zone), words[i].upper(), words[i + 1] if i + 1 < len(words) else ""


def _absolute(name: str, zone: str) -> str:
    """A zone-file name made absolute, without the trailing dot, lower case."""
    zone = zone.strip(".")
    if name == "@":
        return zone.lower()
    if name.endswith("."):
        return name.rstrip(".").lower()
    return (f"{name}.{zone}" if zone else name).lower()


def _same_address(text: str, addrs: list[str]) -> bool:
    try:
        return str(ipaddress.ip_address(text)) in addrs
    except ValueError:
        return False


# ---------------------------------------------------------------------------
# Making the files (imports `cryptography` only here: labs without TLS never load it)


def write_file(path: Path, data: bytes, private: bool = False) -> None:
    """Write DATA to PATH, mode 0644, or 0600 for a key (whatever the umask)."""
    mode = 0o600 if private else 0o644
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, mode)  # O_CREAT's mode is masked by the umask; a key must be 0600


def _key_pem(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(cert) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "netlab"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _new_key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _sign(subject, subject_key, issuer, issuer_key, extensions, now):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(subject_key.public_key())
        .serial_number(int.from_bytes(secrets.token_bytes(16), "big") >> 1 or 1)
        .not_valid_before(now - VALID_BEFORE)
        .not_valid_after(now + VALID_FOR)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(subject_key.public_key()), critical=False
        )
    )
    if issuer_key is not subject_key:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256())


def _ensure_ca(run_dir: Path, lab: str):
    """The lab's intermediate (certificate, key), making root and intermediate if needed."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    folder = run_dir / CA_DIR
    cert_path, key_path = folder / "intermediate.pem", folder / "intermediate.key"
    if cert_path.exists() and key_path.exists():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        return cert, key
    from netlab.core.x509 import ca_key_usage

    folder.mkdir(mode=0o755, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    root_key, inter_key = _new_key(), _new_key()
    root_name = _name(f"netlab lab {lab} Root CA")
    root = _sign(
        root_name,
        root_key,
        root_name,
        root_key,
        [(x509.BasicConstraints(ca=True, path_length=1), True), (ca_key_usage(), True)],
        now,
    )
    inter = _sign(
        _name(f"netlab lab {lab} Intermediate CA"),
        inter_key,
        root_name,
        root_key,
        [(x509.BasicConstraints(ca=True, path_length=0), True), (ca_key_usage(), True)],
        now,
    )
    write_file(folder / "root.key", _key_pem(root_key), private=True)
    write_file(key_path, _key_pem(inter_key), private=True)
    write_file(cert_path, _cert_pem(inter))
    write_file(folder / ROOT_PEM, _cert_pem(root))  # last: its presence means "CA complete"
    return inter, inter_key


def lab_ca(run_dir: Path, lab: str):
    """The lab's intermediate CA as (certificate, private key), the root and the
    intermediate being made first if this lab has none yet (`cryptography` objects)."""
    return _ensure_ca(run_dir, lab)


def issue_leaf(
    run_dir: Path, lab: str, folder: Path, names: list[str], addrs: list[str]
) -> LeafFiles:
    """Make (or reuse) the lab CA and a server certificate for `names` and `addrs` in `folder`."""
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from netlab.core.x509 import leaf_key_usage

    inter, inter_key = _ensure_ca(run_dir, lab)
    folder.mkdir(mode=0o755, parents=True, exist_ok=True)
    key = _new_key()
    san = [x509.DNSName(n) for n in names] + [
        x509.IPAddress(ipaddress.ip_address(a)) for a in addrs
    ]
    now = datetime.datetime.now(datetime.UTC)
    leaf = _sign(
        _name(names[0]),
        key,
        inter.subject,
        inter_key,
        [
            (x509.SubjectAlternativeName(san), False),
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (leaf_key_usage(key.public_key()), True),  # EC: digitalSignature only
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
        ],
        now,
    )
    files = LeafFiles(
        cert=folder / "leaf.pem",
        chain=folder / "chain.pem",
        key=folder / "leaf.key",
        root=root_path(run_dir),
    )
    write_file(files.key, _key_pem(key), private=True)
    write_file(files.cert, _cert_pem(leaf))
    write_file(files.chain, _cert_pem(leaf) + _cert_pem(inter))
    return files
