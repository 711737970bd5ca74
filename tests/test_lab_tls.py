"""The `tls` lab: `openssl s_server` fixtures with a good or deliberately broken chain.

The oracles run in the lab's client node against the same servers: `openssl s_client
-verify_return_error` (its exit status and verify code) and `openssl verify` on the
very certificates the server sent (read back with `s_client -showcerts`). netlab
tls-hello's verdict and reason must agree with both on every fixture.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pytest

from netlab.errors import NetlabError
from netlab.lab.topology import parse_topology
from tests.conftest import ROOT

TLS_TOML = (ROOT / "labs" / "tls.toml").read_text()
# fixture → (port in labs/tls.toml, netlab's reason, openssl's verify code)
EXPECTED = {
    "good": (4433, None, 0),
    "missing-intermediate": (4434, "missing intermediate", 20),
    "expired": (4435, "expired", 10),
    "wrong-name": (4436, "name mismatch", 62),
    "self-signed": (4437, "self-signed", 18),
    "path-length": (4438, "path length exceeded", 25),
    "client-cert": (4439, None, 0),
}
PEM_RE = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n", re.DOTALL)


def tls_services(handle) -> dict[str, dict]:
    return {s["fixture"]: s for s in handle.status()["services"] if s["service"].startswith("tls:")}


def tls_hello(handle, root: str, target: str, *args: str) -> tuple[int, dict]:
    out = handle.exec("client", "netlab", "tls-hello", "--json", "--cacert", root, *args, target)
    return out.returncode, json.loads(out.stdout)


def s_client(handle, root: str, port: int, *args: str, stdin: str = ""):
    return handle.exec(
        "client", "timeout", "10", "openssl", "s_client", "-connect", f"server:{port}",
        "-servername", "server", "-verify_hostname", "server", "-verify_return_error",
        "-CAfile", root, *args, input=stdin,
    )  # fmt: skip


def openssl_verify(handle, root: str, pems: list[str], folder: Path):
    """`openssl verify` of the leaf with the rest as untrusted: (exit, code, depth)."""
    leaf, rest = folder / "leaf.pem", folder / "untrusted.pem"
    leaf.write_text(pems[0])
    rest.write_text("".join(pems[1:]))
    argv = ["openssl", "verify", "-CAfile", root, "-verify_hostname", "server"]
    if pems[1:]:
        argv += ["-untrusted", str(rest)]
    out = handle.exec("client", *argv, str(leaf))
    found = re.search(r"error (\d+) at (\d+) depth lookup", out.stdout + out.stderr)
    code, depth = (int(found[1]), int(found[2])) if found else (0, None)
    return out.returncode, code, depth, out.stdout + out.stderr


def test_status_shows_each_fixture_with_its_files(lab):
    tls = lab("tls")
    services = tls_services(tls)
    assert set(services) == set(EXPECTED)
    root = tls.book.run_dir / "ca" / "root.pem"
    for fixture, (port, reason, code) in EXPECTED.items():
        svc = services[fixture]
        assert svc["health"] == "healthy" and svc["running"], svc
        assert (svc["port"], svc["verify_error"], svc["openssl_error"] or 0) == (port, reason, code)
        assert svc["program"] == "openssl s_server" and svc["cacert"] == str(root)
        folder = tls.book.run_dir / "services" / f"server-tls-{fixture}"
        assert svc["keylog"] == str(folder / "keylog.txt")
        assert Path(svc["cert_chain"]).is_file()
        for secret in (Path(svc["key"]), Path(svc["keylog"])):
            assert secret.stat().st_mode & 0o777 == 0o600, secret
    cc = services["client-cert"]
    assert cc["client"] == "client"
    assert Path(cc["client_key"]).stat().st_mode & 0o777 == 0o600
    assert Path(cc["client_cert"]).read_text().count("BEGIN CERTIFICATE") == 1
    assert Path(cc["client_chain"]).read_text().count("BEGIN CERTIFICATE") == 2
    assert "client_cert" not in services["good"]


def test_verdicts_equal_openssl_s_client_and_verify(lab):
    """On every server: netlab tls-hello's verdict and reason, s_client's exit status
    and verify code, and `openssl verify` on the chain the server sent all agree."""
    from netlab.core.x509 import reason_for_openssl

    tls = lab("tls")
    root = str(tls.book.run_dir / "ca" / "root.pem")
    servers = {"nginx": (443, None, 0), **EXPECTED}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (port, reason, code) in servers.items():
            rc, doc = tls_hello(tls, root, f"server:{port}")
            verified = doc["verified"]
            assert (verified["ok"], verified["error"]) == (reason is None, reason), (name, doc)

            # client-cert: -ign_eof reads until the server closes, so that its alert (sent
            # after TLS 1.3's client Finished) is seen; the others close at once.
            wait = ("-ign_eof",) if name == "client-cert" else ()
            sc = s_client(tls, root, port, "-showcerts", *wait)
            pems = PEM_RE.findall(sc.stdout)
            assert pems, (name, sc.stdout, sc.stderr)
            sc_code = int(re.search(r"Verify return code: (\d+)", sc.stdout)[1])
            vrc, vcode, vdepth, vout = openssl_verify(tls, root, pems, Path(tmp))

            # The chain netlab saw is the chain openssl saw.
            sent = [c["sha256"] for c in doc["chain"]]
            assert sent == [_sha256(p) for p in pems], name
            # The chain's verdict: netlab == s_client == openssl verify, same reason.
            assert (sc_code, vcode) == (code, code), (name, sc.stdout[-400:], vout)
            assert (vrc == 0) == verified["ok"], (name, vout)
            if vcode:
                assert reason_for_openssl(vcode, vdepth) == verified["error"], (name, vout)
            # The handshake's verdict: the exit statuses agree.
            assert (rc == 0) == (sc.returncode == 0), (name, rc, sc.returncode, sc.stderr)
            if name == "client-cert":
                assert rc == 1 and doc["completed"] is False, doc
                assert doc["alert"] == ["fatal", "certificate_required"], doc
                assert "alert certificate required" in sc.stderr, sc.stderr
            else:
                assert doc["completed"] and rc == (0 if reason is None else 1), (name, doc)


def test_client_certificate_alone_or_with_its_chain_is_accepted(lab):
    tls = lab("tls")
    root = str(tls.book.run_dir / "ca" / "root.pem")
    cc = tls_services(tls)["client-cert"]
    for cert in (cc["client_cert"], cc["client_chain"]):  # the server knows the intermediate
        out = s_client(tls, root, 4439, "-quiet", "-cert", cert, "-key", cc["client_key"],
                       stdin="GET / HTTP/1.0\r\n\r\n")  # fmt: skip
        assert out.stdout.startswith("HTTP/1.0 200 ok"), (cert, out.stdout, out.stderr)
        for version in ("--tls1.2", "--tls1.3"):
            rc, doc = tls_hello(tls, root, "server:4439", version, "--cert", cert,
                                "--key", cc["client_key"])  # fmt: skip
            assert rc == 0 and doc["completed"] and doc["client_certificate_requested"], (
                cert, version, doc["error"])  # fmt: skip


def test_rsa_key_exchange_on_both_families_and_the_servers_key_log(lab):
    """Every s_server fixture speaks TLS 1.2 with the RSA key exchange (RSA leaves), on
    IPv4 and IPv6; the master secret netlab derived is the line s_server logged."""
    tls = lab("tls")
    root = str(tls.book.run_dir / "ca" / "root.pem")
    services = tls_services(tls)
    for fixture in ("good", "expired", "path-length"):
        rc, doc = tls_hello(tls, root, f"server:{services[fixture]['port']}",
                            "--tls1.2", "--ciphers", "AES128-GCM-SHA256")  # fmt: skip
        assert doc["cipher"] == "TLS_RSA_WITH_AES_128_GCM_SHA256" and doc["completed"], doc
        assert doc["chain"][0]["public_key"]["bits"] == 2048
    good = services["good"]
    for address in (tls.addr("server"), f"[{tls.addr('server', 6)}]"):
        rc, doc = tls_hello(tls, root, f"{address}:4433", "--tls1.2", "--ciphers",
                            "AES128-GCM-SHA256", "--sni", "server")  # fmt: skip
        assert rc == 0 and doc["verified"]["ok"], (address, doc["error"], doc["verified"])
        line = f"CLIENT_RANDOM {doc['client_random']} {doc['secrets']['master_secret']}"
        assert line in Path(good["keylog"]).read_text().splitlines(), address
        rc, doc = tls_hello(tls, root, f"{address}:4433", "--tls1.3")
        assert rc == 0 and doc["version"] == "TLSv1.3", (address, doc["error"])


def _sha256(pem: str) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    from netlab.core.x509 import hex_colon

    return hex_colon(x509.load_pem_x509_certificate(pem.encode()).fingerprint(hashes.SHA256()))


# ---------------------------------------------------------------------------
# Topology checks (no root)

SERVICE = '{ type = "tls", port = 4433, fixture = "good" },'


def refused(replacement: str) -> str:
    text = TLS_TOML.replace(SERVICE, replacement)
    assert text != TLS_TOML
    with pytest.raises(NetlabError) as err:
        parse_topology(text, source="tls.toml")
    return err.value.message


def test_bundled_tls_lab_loads():
    from netlab.lab.services.tls import TlsService

    topo = parse_topology(TLS_TOML, source="tls.toml")
    specs = [s for s in topo.nodes["server"].services if s.type == "tls"]
    assert [s.label for s in specs] == [f"tls:{f}" for f in EXPECTED]
    assert [TlsService.listens(s) for s in specs] == [[("tcp", p)] for p, _, _ in EXPECTED.values()]


@pytest.mark.parametrize(
    ("replacement", "message"),
    [
        ('{ type = "tls", port = 4433, fixture = "bad" },', "fixture must be one of good, "),
        ('{ type = "tls", port = 4433, fixture = ["good"] },', "not ['good']"),
        ('{ type = "tls", port = 0, fixture = "good" },', "port must be a port number within"),
        ('{ type = "tls", port = "4433" },', "1–65535, not '4433'"),
        ('{ type = "tls", port = [4433, 4440] },', "1–65535, not [4433, 4440]"),
        ('{ type = "tls", ports = [4433] },', "unknown option 'ports'"),
        ('{ type = "tls", port = 4433, client = "client" },', 'fixture = "client-cert" only'),
        ('{ type = "tls", port = 4433, fixture = "client-cert", client = "nobody" },',
         "client must name a node of the lab, not 'nobody'"),
        ('{ type = "tls", port = 443 },', "listens on tcp/443, as service 'http'"),
        ('{ type = "tls", port = 4440, fixture = "expired" },', "service 'tls:expired' twice"),
    ],
)  # fmt: skip
def test_bad_tls_options_are_refused_at_load_time(replacement, message):
    text = refused(replacement)
    assert text.startswith("tls.toml:"), text
    assert message in text, text
