"""`tls`: `openssl s_server` with a certificate fixture, good or broken on purpose.

    [nodes.server]
    services = [
      { type = "tls", port = 4433, fixture = "good" },
      { type = "tls", port = 4434, fixture = "missing-intermediate" },
      { type = "tls", port = 4439, fixture = "client-cert", client = "client" },
    ]

One s_server per service, in the foreground with ``-www`` (an HTTP GET gets a status
page), listening on IPv4 and IPv6, TLS 1.2 and 1.3. Its TLS 1.2 cipher list allows
the RSA key exchange (``AES128-GCM-SHA256``: the pre-master secret encrypted with
the certificate's key) besides ECDHE, so every leaf has an RSA 2048 key (with
keyEncipherment). ``-keylogfile`` writes the server's own secrets to
``<service dir>/keylog.txt`` (NSS key log): a script compares them with a client's.

The certificates are made at `lab up` under the lab's CA (`netlab.lab.services.ca`:
root → intermediate, the root at ``<run>/ca/root.pem``), one fixture per failure a
client must name (``verify_error`` is netlab's reason, `netlab.core.x509.REASONS`;
``openssl_error`` the code ``openssl verify`` / ``s_client`` report):

================== =========================================== ================= ====
fixture            what the server sends                       verify_error      code
================== =========================================== ================= ====
good               leaf + intermediate                         (verifies)
missing-interm…    the leaf alone                              missing intermed. 20
expired            leaf (validity ended 10 days ago) + interm. expired           10
wrong-name         leaf for other.example + intermediate       name mismatch     62
self-signed        a self-signed leaf                          self-signed       18
path-length        leaf + sub CA + intermediate (pathLen 0)    path length exc.  25
client-cert        leaf + intermediate; asks for a client      (verifies)
                   certificate and ends the handshake without
================== =========================================== ================= ====

``client-cert`` runs s_server with ``-Verify 1``: a client must present a
certificate issued under the lab root (``-CAfile root.pem``: the root is the one CA
name the CertificateRequest lists; the server also knows the lab intermediate, so
a client may send its certificate alone or followed by the intermediate). For that
client, `lab up` makes ``client.pem`` (the certificate), ``client-chain.pem`` (+ the
intermediate) and ``client.key`` for the node named by ``client`` (default
"client"), signed by the lab intermediate; `lab status --json` shows their paths
(``client_cert``, ``client_chain``, ``client_key``).

Files, in ``<run>/services/<node>-tls-<fixture>/``: ``tls/leaf.pem``, ``tls/leaf.key``
(0600), ``tls/intermediates.pem`` (s_server's ``-cert_chain``), ``tls/chain.pem``
(everything the server sends, leaf first), ``keylog.txt`` (0600). `lab status
--json` shows them as ``cert_chain``, ``key`` and ``keylog``, with ``fixture``,
``port``, ``cacert``, ``verify_error`` and ``openssl_error``.

Readiness: a TLS handshake from the node itself (with the client certificate on
``client-cert``), the server's certificate unchecked.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

from netlab.lab.services import Service, unknown_options
from netlab.lab.topology import Node, ServiceSpec, Topology

# fixture → (netlab's verification reason, openssl's verify error code); None: verifies.
FIXTURES: dict[str, tuple[str | None, int | None]] = {
    "good": (None, None),
    "missing-intermediate": ("missing intermediate", 20),
    "expired": ("expired", 10),
    "wrong-name": ("name mismatch", 62),
    "self-signed": ("self-signed", 18),
    "path-length": ("path length exceeded", 25),
    "client-cert": (None, None),
}
DEFAULT_FIXTURE = "good"
DEFAULT_PORT = 4433
WRONG_NAME = "other.example"  # a name no lab node has
EXPIRED_AGO = dt.timedelta(days=10)
BACKDATE = dt.timedelta(hours=1)  # as the lab CA: a client's clock may be a little behind
VALID_DAYS = 30
RSA_BITS = 2048  # RSA: TLS 1.2's RSA key exchange encrypts the pre-master with it
# TLS 1.2: ECDHE with AES-GCM or ChaCha20, and the RSA key exchange (AES128-GCM-SHA256 is
# the course's suite); TLS 1.3: OpenSSL's default suites.
CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:AES128-GCM-SHA256:AES256-GCM-SHA384"


def _fixture(spec: ServiceSpec) -> str:
    return spec.options.get("fixture", DEFAULT_FIXTURE)


class TlsService(Service):
    type = "tls"
    default_ports: ClassVar[list[int]] = [DEFAULT_PORT]

    @classmethod
    def check(cls, topo: Topology, node: Node, spec: ServiceSpec) -> str | None:
        problem = unknown_options(spec, {"port", "fixture", "client"})
        if problem:
            return problem
        fixture = spec.options.get("fixture", DEFAULT_FIXTURE)
        if not isinstance(fixture, str) or fixture not in FIXTURES:
            return f"fixture must be one of {', '.join(FIXTURES)}, not {fixture!r}"
        port = spec.options.get("port", DEFAULT_PORT)
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            return f"port must be a port number within 1–65535, not {port!r}"
        if "client" in spec.options:
            client = spec.options["client"]
            if fixture != "client-cert":
                return 'client (the client certificate\'s node) is for fixture = "client-cert" only'
            if not isinstance(client, str) or client not in topo.nodes:
                return f"client must name a node of the lab, not {client!r}"
        return None

    # --- paths ---------------------------------------------------------------------------

    @property
    def fixture(self) -> str:
        return _fixture(self.ctx.spec)

    @property
    def port(self) -> int:
        return self.ports[0]

    @property
    def tls_dir(self) -> Path:
        return self.ctx.dir / "tls"

    @property
    def keylog(self) -> Path:
        return self.ctx.dir / "keylog.txt"

    @property
    def cacert(self) -> Path:
        from netlab.lab.services.ca import root_path

        return root_path(self.ctx.run_dir)

    @property
    def client_name(self) -> str:
        return self.ctx.spec.options.get("client", "client")

    def _path(self, name: str) -> Path:
        return self.tls_dir / name

    # --- making the fixture --------------------------------------------------------------

    def _make_certificates(self) -> None:
        from netlab.core import x509 as x509core
        from netlab.lab.services.ca import lab_ca, leaf_names, write_file

        fixture = self.fixture
        self.tls_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        now = dt.datetime.now(dt.UTC)
        start = now - BACKDATE
        names, addrs = leaf_names(self.ctx.topo, self.ctx.node.name)
        sans = _sans(names, addrs)
        key = _rsa_key(self.ctx)
        subject = x509core.subject_name(names[0], "netlab")
        if fixture == "self-signed":
            leaf = _self_signed_leaf(key, subject, sans, start)
            extra: list[Any] = []
        else:
            inter, inter_key = lab_ca(self.ctx.run_dir, self.ctx.run_dir.name)
            issuer, issuer_key, extra = inter, inter_key, [inter]
            if fixture == "path-length":
                # The lab intermediate has pathLen 0: it may sign leaves only. A CA under
                # it makes the chain one CA too long for that constraint.
                sub_key = x509core.generate_key("ec")
                sub = x509core.issue(
                    sub_key.public_key(),
                    x509core.subject_name(f"netlab lab {self.ctx.run_dir.name} Sub CA", "netlab"),
                    ca_cert=inter,
                    ca_key=inter_key,
                    now=start,
                    days=VALID_DAYS,
                    intermediate=True,
                )
                issuer, issuer_key, extra = sub, sub_key, [sub, inter]
            when = start
            if fixture == "expired":  # valid for VALID_DAYS, ended EXPIRED_AGO
                when = now - EXPIRED_AGO - dt.timedelta(days=VALID_DAYS)
            if fixture == "wrong-name":
                subject = x509core.subject_name(WRONG_NAME, "netlab")
                sans = _sans([WRONG_NAME], [])
            leaf = x509core.issue(
                key.public_key(),
                subject,
                ca_cert=issuer,
                ca_key=issuer_key,
                now=when,
                days=VALID_DAYS,
                sans=sans,
            )
            if fixture == "missing-intermediate":
                extra = []
        write_file(self._path("leaf.key"), x509core.key_pem(key), private=True)
        write_file(self._path("leaf.pem"), x509core.pem(leaf))
        write_file(self._path("intermediates.pem"), b"".join(x509core.pem(c) for c in extra))
        write_file(self._path("chain.pem"), b"".join(x509core.pem(c) for c in [leaf, *extra]))
        if fixture == "client-cert":
            self._make_client_certificate(now)

    def _make_client_certificate(self, now: dt.datetime) -> None:
        from netlab.core import x509 as x509core
        from netlab.lab.services.ca import lab_ca, write_file

        inter, inter_key = lab_ca(self.ctx.run_dir, self.ctx.run_dir.name)
        name = self.client_name
        addrs = []
        if name in self.ctx.topo.nodes:
            addrs = [str(i.ip) for i in self.ctx.topo.addresses_of(name)]
        key = _rsa_key(self.ctx)
        cert = x509core.issue(
            key.public_key(),
            x509core.subject_name(name, "netlab"),
            ca_cert=inter,
            ca_key=inter_key,
            now=now - BACKDATE,
            days=VALID_DAYS,
            sans=_sans([name], addrs),
        )  # extendedKeyUsage serverAuth + clientAuth
        write_file(self._path("client.key"), x509core.key_pem(key), private=True)
        write_file(self._path("client.pem"), x509core.pem(cert))
        write_file(self._path("client-chain.pem"), x509core.pem(cert) + x509core.pem(inter))
        # What s_server verifies client certificates against: the root (the trust
        # anchor) and the intermediate (so a client may send its certificate alone).
        write_file(self._path("client-verify.pem"), self.cacert.read_bytes() + x509core.pem(inter))

    # --- the service ---------------------------------------------------------------------

    def prepare(self) -> list[str]:
        from netlab.lab.services.ca import write_file

        self._make_certificates()
        write_file(self.keylog, b"", private=True)  # s_server appends: the mode stays 0600
        argv = [
            "openssl",
            "s_server",
            # No host: s_server listens on [::] with IPV6_V6ONLY off, IPv4 and IPv6.
            "-accept",
            str(self.port),
            "-cert",
            str(self._path("leaf.pem")),
            "-key",
            str(self._path("leaf.key")),
            "-keylogfile",
            str(self.keylog),
            "-www",
            "-min_protocol",
            "TLSv1.2",
            "-cipher",
            CIPHERS,
            # No chain built from a store: the server sends exactly what -cert_chain holds.
            "-no-CApath",
            "-no-CAstore",
        ]
        if self._path("intermediates.pem").stat().st_size:
            argv += ["-cert_chain", str(self._path("intermediates.pem"))]
        if self.fixture == "client-cert":
            argv += [
                "-Verify",
                "1",
                "-CAfile",
                str(self.cacert),
                "-verifyCAfile",
                str(self._path("client-verify.pem")),
                "-verify_return_error",
            ]
        else:
            argv += ["-no-CAfile"]
        return argv

    def ready(self) -> bool:
        from netlab.lab.services.probe import tls_handshake

        if self.fixture == "client-cert":
            return tls_handshake(
                self.ctx.netns,
                "127.0.0.1",
                self.port,
                cert=self._path("client-chain.pem"),
                key=self._path("client.key"),
            )
        return tls_handshake(self.ctx.netns, "127.0.0.1", self.port)

    def describe(self) -> dict[str, Any]:
        reason, code = FIXTURES[self.fixture]
        out: dict[str, Any] = {
            "program": "openssl s_server",
            "fixture": self.fixture,
            "port": self.port,
            "cacert": str(self.cacert),
            "keylog": str(self.keylog),
            "cert_chain": str(self._path("chain.pem")),
            "key": str(self._path("leaf.key")),
            "verify_error": reason,
            "openssl_error": code,
        }
        if self.fixture == "client-cert":
            out["client"] = self.client_name
            out["client_cert"] = str(self._path("client.pem"))
            out["client_chain"] = str(self._path("client-chain.pem"))
            out["client_key"] = str(self._path("client.key"))
        return out


# RSA keys for the lab being brought up, made in parallel (`cryptography` releases the
# GIL while it searches for primes: ~30-100 ms a key, one per leaf and client): run
# folder → (the topology they are for, keys being made). Services are prepared one by
# one; the first tls service starts every key its lab's tls services will take.
_KEYS: dict[Path, tuple[int, list[Future]]] = {}
_KEYS_LOCK = threading.Lock()


def _rsa_keys_needed(topo: Topology) -> int:
    return sum(
        1 + (_fixture(spec) == "client-cert")
        for node in topo.nodes.values()
        for spec in node.services
        if spec.type == "tls"
    )


def _rsa_key(ctx: Any) -> Any:
    """A new RSA key (RSA_BITS) for this lab: one of those started together."""
    from netlab.core import x509 as x509core

    with _KEYS_LOCK:
        owner, queue = _KEYS.get(ctx.run_dir, (None, []))
        if owner != id(ctx.topo):  # first tls service of this `up`
            count = max(_rsa_keys_needed(ctx.topo), 1)
            pool = ThreadPoolExecutor(max_workers=min(count, os.cpu_count() or 1))
            queue = [pool.submit(x509core.generate_key, "rsa", RSA_BITS) for _ in range(count)]
            pool.shutdown(wait=False)  # its threads end with the last key
            _KEYS[ctx.run_dir] = (id(ctx.topo), queue)
        future = queue.pop(0) if queue else None
        if not queue:
            _KEYS.pop(ctx.run_dir, None)
    return future.result() if future else x509core.generate_key("rsa", RSA_BITS)


def _sans(names: list[str], addrs: list[str]) -> list[Any]:
    from cryptography import x509

    return [x509.DNSName(n) for n in names] + [
        x509.IPAddress(ipaddress.ip_address(a)) for a in addrs
    ]


def _self_signed_leaf(key: Any, subject: Any, sans: list[Any], start: dt.datetime) -> Any:
    """A server certificate that is its own issuer: not a CA, signed with its own key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from netlab.core.x509 import leaf_key_usage

    pub = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(pub)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(leaf_key_usage(pub), critical=True)  # RSA: keyEncipherment too
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(pub), critical=False)
        .sign(key, hashes.SHA256())
    )
