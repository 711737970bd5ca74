"""`openssl s_server` on loopback as a test peer, with certificates made by the test.

    with OpensslServer(tmp_path, groups="X25519", ciphers="AES128-GCM-SHA256") as srv:
        ... connect to 127.0.0.1:srv.port ...
        srv.keylog()   # the server's own NSS key log lines

The server runs in its own process (stopped by pid), listens on a free port, and
writes its secrets with -keylogfile so a test can check that both ends derived the
same keys.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import subprocess
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from tests import procs


def make_cert(
    tmp: Path, name: str = "localhost", *, rsa_key: bool = True, days_ago: int = 1, days: int = 30
) -> tuple[Path, Path]:
    """A self-signed certificate for NAME and 127.0.0.1 (an RSA key by default: the RSA
    key exchange needs one)."""
    key = (
        rsa.generate_private_key(65537, 2048)
        if rsa_key
        else ec.generate_private_key(ec.SECP256R1())
    )
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / f"{name}.pem", tmp / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class OpensslServer:
    def __init__(
        self,
        tmp: Path,
        *,
        cert: Path | None = None,
        key: Path | None = None,
        groups: str | None = None,
        ciphers: str | None = None,
        extra: tuple[str, ...] = (),
    ) -> None:
        if cert is None:
            cert, key = make_cert(tmp)
        self.cert, self.key = cert, key
        self.port = procs.free_port()
        self.keylog_path = tmp / f"server-keylog-{self.port}.txt"
        self.argv = [
            "openssl",
            "s_server",
            "-accept",
            f"127.0.0.1:{self.port}",
            "-cert",
            str(cert),
            "-key",
            str(key),
            "-keylogfile",
            str(self.keylog_path),
            "-www",
            "-quiet",
        ]
        if groups:
            self.argv += ["-groups", groups]
        if ciphers:
            self.argv += ["-cipher", ciphers]
        self.argv += list(extra)
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> OpensslServer:
        self.proc = subprocess.Popen(
            self.argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.__exit__()
        raise RuntimeError("openssl s_server did not start listening")

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def keylog(self) -> list[str]:
        if not self.keylog_path.exists():
            return []
        return [
            line for line in self.keylog_path.read_text().splitlines() if line and line[0] != "#"
        ]
