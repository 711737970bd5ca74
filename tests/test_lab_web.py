"""The `web` lab: nginx with HTTP/1.1, HTTPS + HTTP/2 (a lab CA chain) and h2c.

The peers are the real clients the course compares `netlab http` with: curl,
nghttp and openssl s_client, run in the lab's client node. What each request did
on the server side (which TCP connection, its number on that connection, h2 or
h2c) is read from nginx's access log, whose format `netlab.lab.services.http`
defines (ACCESS_LOG_RE).
"""

from __future__ import annotations

import re
import struct
import subprocess
import time
from pathlib import Path

import pytest

from netlab.errors import NetlabError
from netlab.lab import engine
from netlab.lab.services import site
from netlab.lab.services.http import ACCESS_LOG_RE
from netlab.lab.topology import parse_topology
from tests.conftest import ROOT

LOG_RE = re.compile(ACCESS_LOG_RE)
LOOPBACK = ("127.0.0.1", "::1")  # the readiness probes' requests


def http_service(web) -> dict:
    (svc,) = [s for s in web.status()["services"] if s["service"] == "http"]
    return svc


class AccessLog:
    """nginx's access log from a point on: the client's requests, parsed."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.offset = self.path.stat().st_size

    def next(self, count: int, timeout: float = 3.0) -> list[dict[str, str]]:
        """The next `count` requests from the lab's client (nginx writes each line when
        the request ends, which may be a moment after curl has the last byte)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                text = f.read().decode()
            lines = [m.groupdict() for m in map(LOG_RE.match, text.splitlines()) if m]
            mine = [e for e in lines if e["addr"] not in LOOPBACK]
            if len(mine) >= count or time.monotonic() > deadline:
                assert len(mine) == count, f"expected {count} requests in the log, got {text!r}"
                self.offset += len(text.encode())
                return mine
            time.sleep(0.05)


def assert_one_connection(entries: list[dict[str, str]], paths: list[str]) -> None:
    assert [e["request"].split()[1] for e in entries] == paths, entries
    assert len({e["connection"] for e in entries}) == 1, entries  # one TCP connection
    assert len({(e["addr"], e["port"]) for e in entries}) == 1, entries
    assert [int(e["requests"]) for e in entries] == list(range(1, len(paths) + 1)), entries


def curl(web, *args: str, timeout: float = 20.0):
    return web.exec("client", "curl", "-sS", "--max-time", "10", *args, timeout=timeout)


def headers(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines()[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            out[key.strip().lower()] = value.strip()
    return out


# ---------------------------------------------------------------------------
# HTTPS and HTTP/2 with the lab's CA


def test_https_h2_verifies_with_the_lab_ca(lab):
    web = lab("web", tools=("curl",))
    svc = http_service(web)
    assert (svc["ports"], svc["https_port"], svc["h2c_port"]) == ([80], 443, 8080)
    root = Path(svc["cacert"])
    assert root == web.book.run_dir / "ca" / "root.pem" and root.is_file()
    assert "server" in svc["san"] and web.addr("server") in svc["san"]
    for key in (root.parent / "root.key", root.parent / "intermediate.key",
                web.book.run_dir / "services" / "server-http" / "tls" / "leaf.key"):  # fmt: skip
        assert key.stat().st_mode & 0o777 == 0o600, key
    log = AccessLog(svc["access_log"])

    urls = ["https://server/", "https://server/style.css", "https://server/app.js"]
    out = curl(web, "--cacert", str(root), "-w", "%{http_version} %{ssl_verify_result}\\n",
               *[x for u in urls for x in ("-o", "/dev/null", u)])  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:3] == ["2 0"] * 3, out.stdout  # HTTP/2, chain verified
    entries = log.next(3)
    assert_one_connection(entries, ["/", "/style.css", "/app.js"])  # three streams
    for e in entries:
        assert (e["http2"], e["protocol"], e["server_port"]) == ("h2", "HTTP/2.0", "443"), e
        assert e["ssl_protocol"].startswith("TLSv1."), e

    # ALPN also offers http/1.1; by the IP addresses too (IP entries in the SAN).
    for url in ("https://198.18.80.80/", "https://[2001:db8:80::80]/"):
        out = curl(web, "--cacert", str(root), "-o", "/dev/null", "-w", "%{http_version}", url)
        assert (out.returncode, out.stdout) == (0, "2"), (url, out.stderr)
    out = curl(web, "--http1.1", "--cacert", str(root), "-o", "/dev/null", "-w", "%{http_version}",
               "https://server/")  # fmt: skip
    assert (out.returncode, out.stdout) == (0, "1.1"), out.stderr
    log.next(3)

    # Without the lab's root the chain does not verify: curl's error 60.
    out = curl(web, "-o", "/dev/null", "https://server/")
    assert out.returncode == 60, (out.returncode, out.stderr)


def test_tls_chain_is_leaf_and_intermediate_under_the_root(lab):
    from cryptography import x509

    web = lab("web", tools=("openssl",))
    root_path = Path(http_service(web)["cacert"])
    argv = engine.exec_argv(web.book, "client", [
        "openssl", "s_client", "-connect", "server:443", "-servername", "server",
        "-showcerts", "-CAfile", str(root_path), "-alpn", "h2,http/1.1"])  # fmt: skip
    # Bytes, not text: with h2 agreed, nginx's SETTINGS frame follows the handshake and
    # s_client prints it raw among its report.
    proc = subprocess.run(argv, input=b"", capture_output=True, timeout=20)
    out = proc.stdout.decode("utf-8", "replace")
    assert "Verify return code: 0 (ok)" in out, out + proc.stderr.decode("utf-8", "replace")
    assert "ALPN protocol: h2" in out
    pems = re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", out, re.DOTALL)
    assert len(pems) == 2, out  # leaf + intermediate; the root is never sent
    leaf, inter = (x509.load_pem_x509_certificate(p.encode()) for p in pems)
    root = x509.load_pem_x509_certificate(root_path.read_bytes())
    assert leaf.issuer == inter.subject and inter.issuer == root.subject
    assert root.issuer == root.subject  # self-signed
    leaf.verify_directly_issued_by(inter)
    inter.verify_directly_issued_by(root)
    root.verify_directly_issued_by(root)
    assert inter.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["server"]
    assert {str(a) for a in san.get_values_for_type(x509.IPAddress)} == {
        web.addr("server"),
        web.addr("server", 6),
    }
    assert leaf.signature_hash_algorithm.name == "sha256"


# ---------------------------------------------------------------------------
# HTTP/1.1: keep-alive, redirect, 404, gzip, the example site


def test_http11_keepalive_redirect_404_gzip_and_site(lab, tmp_path):
    web = lab("web", tools=("curl",))
    log = AccessLog(http_service(web)["access_log"])

    paths = ["/", "/style.css", "/app.js"]
    out = curl(
        web, "--http1.1", *[x for p in paths for x in ("-o", "/dev/null", f"http://server{p}")]
    )
    assert out.returncode == 0, out.stderr
    entries = log.next(3)
    assert_one_connection(entries, paths)  # three requests on one TCP connection
    for e in entries:
        assert (e["http2"], e["protocol"], e["server_port"], e["status"]) == (
            "-", "HTTP/1.1", "80", "200"
        ), e  # fmt: skip
        assert (e["ssl_protocol"], e["ssl_cipher"]) == ("-", "-"), e

    out = curl(web, "-I", "http://server/old")
    assert out.stdout.startswith("HTTP/1.1 301"), out.stdout
    assert headers(out.stdout)["location"] == "http://server/"
    out = curl(web, "-o", "/dev/null", "-w", "%{http_code}", "http://server/missing")
    assert out.stdout == "404"

    # gzip on the fly: no length known up front, so HTTP/1.1 sends it chunked.
    body = tmp_path / "big.txt"
    out = curl(web, "--http1.1", "--compressed", "-D", "-", "-o", str(body),
               f"http://server/{site.BIG_TXT}")  # fmt: skip
    h = headers(out.stdout)
    assert h["content-encoding"] == "gzip" and h["transfer-encoding"] == "chunked", h
    assert "content-length" not in h
    assert body.read_text() == site.big_text()  # curl inflated it
    out = curl(web, "--http1.1", "-D", "-", "-o", "/dev/null", f"http://server/{site.BIG_TXT}")
    h = headers(out.stdout)
    assert "content-encoding" not in h and int(h["content-length"]) == len(site.big_text())
    entries = log.next(4)
    assert [(e["request"].split()[1], e["status"]) for e in entries] == [
        ("/old", "301"), ("/missing", "404"), ("/big.txt", "200"), ("/big.txt", "200")
    ]  # fmt: skip
    gz, plain = int(entries[2]["bytes"]), int(entries[3]["bytes"])
    assert gz < plain // 10, (gz, plain)  # repetitive text: gzip wins big

    logo = tmp_path / "logo.jpg"
    out = curl(web, "-D", "-", "-o", str(logo), "http://server/logo.jpg")
    assert headers(out.stdout)["content-type"] == "image/jpeg"
    assert_valid_jpeg(logo.read_bytes())

    page = tmp_path / "index.html"
    out = curl(web, "-o", str(page), "-w", "%{content_type}", "http://server/")
    text = page.read_text()
    assert out.stdout.startswith("text/html")
    assert f"netlab lab {web.name}: server" in text  # the running lab's name
    for link in ('href="style.css"', 'src="app.js"', 'src="logo.jpg"'):
        assert link in text


def assert_valid_jpeg(data: bytes) -> None:
    """A baseline JFIF: SOI, APP0 "JFIF", DQT, SOF0 64×64×3, DHT, SOS … EOI."""
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    i, seen, size = 2, [], None
    while i < len(data):
        assert data[i] == 0xFF, f"marker expected at {i}"
        marker = data[i + 1]
        (length,) = struct.unpack("!H", data[i + 2 : i + 4])
        seen.append(marker)
        if marker == 0xE0:
            assert data[i + 4 : i + 9] == b"JFIF\0"
        if marker == 0xC0:
            _, height, width, comps = struct.unpack("!BHHB", data[i + 4 : i + 10])
            size = (width, height, comps)
        if marker == 0xDA:  # entropy-coded data up to EOI
            break
        i += 2 + length
    assert seen[0] == 0xE0 and {0xDB, 0xC0, 0xC4, 0xDA} <= set(seen), seen
    assert size == (64, 64, 3)


# ---------------------------------------------------------------------------
# Cleartext HTTP/2 (h2c) with prior knowledge


def test_h2c_prior_knowledge(lab):
    web = lab("web", tools=("curl", "nghttp"))
    log = AccessLog(http_service(web)["access_log"])

    out = curl(web, "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_version}",
               "http://server:8080/style.css")  # fmt: skip
    assert (out.returncode, out.stdout) == (0, "2"), out.stderr
    (entry,) = log.next(1)
    assert (entry["http2"], entry["protocol"], entry["server_port"]) == ("h2c", "HTTP/2.0", "8080")

    # Three streams on one h2c connection. nghttp, not curl: curl 7.88 fails to reuse a
    # prior-knowledge connection for a second URL (curl issue #10634, fixed in 8.0).
    urls = [f"http://server:8080{p}" for p in ("/", "/style.css", "/app.js")]
    out = web.exec("client", "nghttp", "-n", "-t", "10", *urls, timeout=20)
    assert out.returncode == 0, out.stdout + out.stderr
    entries = sorted(log.next(3), key=lambda e: int(e["requests"]))
    assert_one_connection(entries, ["/", "/style.css", "/app.js"])
    assert {e["http2"] for e in entries} == {"h2c"}


# ---------------------------------------------------------------------------
# Topology checks (no root)

WEB = (ROOT / "labs" / "web.toml").read_text()
SERVICE = 'services = [{ type = "http", port = 80, https_port = 443, h2c_port = 8080 }]'


def refused(options: str) -> str:
    text = WEB.replace(SERVICE, f'services = [{{ type = "http", {options} }}]')
    assert text != WEB
    with pytest.raises(NetlabError) as err:
        parse_topology(text, source="web.toml")
    return err.value.message


@pytest.mark.parametrize("value", ['"443"', "0", "65536", "-1", "true", "443.0", "[443]"])
def test_bad_https_port_is_refused_at_load_time(value):
    message = refused(f"port = 80, https_port = {value}")
    assert message.startswith("web.toml:18: node 'server': service 'http': "), message
    assert "https_port must be a port number within 1–65535" in message


def test_listener_clashes_are_refused():
    assert "https_port 80 is already an HTTP port" in refused("port = 80, https_port = 80")
    assert "h2c_port 443 is already https_port" in refused("https_port = 443, h2c_port = 443")
    assert 'https_port needs server = "nginx"' in refused('server = "python", https_port = 443')
    assert "unknown option 'http_port'" in refused("http_port = 81")
    # listens() names every listener, so another service on 8080 clashes too.
    text = WEB.replace(SERVICE, f'services = [{{ type = "tcp", port = 8080 }}, {SERVICE[12:]}')
    with pytest.raises(NetlabError, match="listens on tcp/8080, as service 'tcp'"):
        parse_topology(text, source="web.toml")


def test_bundled_web_lab_loads():
    topo = parse_topology(WEB, source="web.toml")
    (spec,) = topo.nodes["server"].services
    from netlab.lab.services.http import HttpService

    assert sorted(HttpService.listens(spec)) == [("tcp", 80), ("tcp", 443), ("tcp", 8080)]
