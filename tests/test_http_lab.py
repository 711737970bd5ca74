"""`netlab http` in the `web` lab, side by side with the peers: nginx (its access log),
curl (status, body bytes, phase timings, --fail), nghttp -nv (HTTP/2 frames) and
tshark (the capture and key log netlab writes)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.labfixtures import lab  # noqa: F401  (the fixture)

pytestmark = pytest.mark.lab


def _ca(web) -> str:
    return str(web.book.run_dir / "ca" / "root.pem")


def _netlab_json(web, *args: str) -> dict:
    proc = web.exec("client", "netlab", "http", "--json", *args)
    assert proc.returncode in (0, 22), proc.stderr
    return json.loads(proc.stdout)


def _sha(web, path: str) -> str:
    proc = web.exec("client", "sha256sum", path, check=True)
    return proc.stdout.split()[0]


MODES = {
    "http/1.1": ("http://server", ["--http1.1"], ["--http1.1"]),
    "h2 over TLS": ("https://server", ["--http2"], ["--http2"]),
    "h2c": ("http://server:8080", ["--h2c"], ["--http2-prior-knowledge"]),
}
PATHS = ["/", "/style.css", "/logo.jpg", "/big.txt", "/old", "/missing"]


@pytest.mark.parametrize("mode", list(MODES))
def test_same_status_and_body_as_curl(lab, tmp_path, mode):  # noqa: F811
    web = lab("web", tools=("curl",))
    base, ours, theirs = MODES[mode]
    tls = ["--cacert", _ca(web)] if base.startswith("https") else []
    for compressed in ([], ["--compressed"]):
        for path in PATHS:
            mine, peer = f"{tmp_path}/nl.body", f"{tmp_path}/curl.body"
            doc = _netlab_json(web, *ours, *tls, *compressed, "-o", mine, base + path)
            (req,) = doc["requests"]
            # curl 7.88 cannot send several URLs over h2c at once (curl#10634): one each.
            code = web.exec(
                "client",
                "curl",
                "-s",
                *theirs,
                *tls,
                *compressed,
                "-o",
                peer,
                "-w",
                "%{http_code} %{http_version}",
                base + path,
                check=True,
            )
            status, version = code.stdout.split()
            label = f"{mode} {path} {compressed}"
            assert req["status"] == int(status), label
            assert req["http_version"] == {"1.1": "1.1", "2": "2"}[version], label
            assert _sha(web, mine) == _sha(web, peer), label
            assert req["body_bytes"] == int(web.exec("client", "stat", "-c", "%s", peer).stdout)
            if compressed and path == "/big.txt":
                encoding = dict((n.lower(), v) for n, v in req["headers"])["content-encoding"]
                assert encoding == "gzip" and req["wire_bytes"] < req["body_bytes"]
                if mode == "http/1.1":
                    assert len(req["chunks"]) >= 1 and sum(req["chunks"]) == req["wire_bytes"]


def test_keep_alive_and_streams_as_nginx_counts_them(lab):  # noqa: F811
    web = lab("web")
    log = str(web.book.run_dir / "logs" / "server-http.access.log")
    urls = ["/style.css", "/app.js", "/logo.jpg"]
    doc = _netlab_json(web, *(f"http://server{u}" for u in urls))
    assert len(doc["connections"]) == 1 and doc["connections"][0]["requests"] == 3
    doc2 = _netlab_json(web, "--cacert", _ca(web), *(f"https://server{u}" for u in urls))
    assert [r["stream"] for r in doc2["requests"]] == [1, 3, 5]
    lines = [
        line.split()
        for line in Path(log).read_text().splitlines()
        if not line.startswith(("127.0.0.1", "::1"))
    ]
    h1, h2 = lines[:3], lines[3:]
    # Fields: addr port connection connection_requests "method target proto" status bytes http2 …
    assert len({line[2] for line in h1}) == 1 and [line[3] for line in h1] == ["1", "2", "3"]
    assert [line[9] for line in h1] == ["-"] * 3
    assert len({line[2] for line in h2}) == 1 and [line[9] for line in h2] == ["h2"] * 3
    assert [line[5] for line in h2] == [u for u in urls]


def _curl_phases(web, url: str, *args: str) -> dict:
    proc = web.exec(
        "client", "curl", "-s", "-o", "/dev/null", "-w", "%{json}", *args, url, check=True
    )
    t = json.loads(proc.stdout)
    return {
        k: t[f"time_{k}"] * 1000
        for k in ("namelookup", "connect", "appconnect", "starttransfer", "total")
    }


def _our_phases(web, url: str, *args: str) -> dict:
    t = _netlab_json(web, *args, url)["requests"][0]["timings_ms"]
    connect = t["dns"] + t["connect"]
    appconnect = connect + (t["tls"] or 0)
    start = appconnect + t["request_sent"] + t["server"]
    return {
        "namelookup": t["dns"],
        "connect": connect,
        "appconnect": appconnect,
        "starttransfer": start,
        "total": t["total"],
    }


def test_phase_timings_close_to_curls(lab):  # noqa: F811
    """curl's cumulative times against netlab's phases summed the same way: the best
    of 7 runs each, taken in turns so that the machine's load weighs on both alike
    (a busy CPU only ever adds time), within 3 ms + 50 % (two processes timing the
    same lab link)."""
    web = lab("web", tools=("curl",))
    url, tls = "https://server/", ["--cacert", _ca(web)]
    curl, ours = [], []
    for _ in range(7):
        curl.append(_curl_phases(web, url, *tls))
        ours.append(_our_phases(web, url, *tls))
    for key in ("connect", "appconnect", "starttransfer", "total"):
        a = min(r[key] for r in ours)
        b = min(r[key] for r in curl)
        assert abs(a - b) < 3 + 0.5 * b, f"{key}: netlab {a:.3f} ms, curl {b:.3f} ms"


FRAME_RE = re.compile(r"(send|recv) (\w+) frame <length=\d+, flags=0x([0-9a-f]+), stream_id=(\d+)>")


def test_frames_in_the_order_nghttp_shows_them(lab):  # noqa: F811
    """The server's frames for one request, type and flags in order, as `nghttp -nv`
    sees them (stream ids differ: nghttp opens idle streams 3-11 for priorities)."""
    web = lab("web", tools=("nghttp",))
    url = "http://server:8080/style.css"
    peer = web.exec("client", "nghttp", "-nv", url, check=True).stdout
    theirs = [(t, int(f, 16)) for d, t, f, _s in FRAME_RE.findall(peer) if d == "recv"]
    proc = web.exec(
        "client", "netlab", "http", "--h2c", "--compressed", "--frames", "-p", "h", url, check=True
    )
    mine = [(t, int(f, 16)) for d, t, f, _s in FRAME_RE.findall(proc.stdout) if d == "recv"]
    assert mine == theirs, (mine, theirs)
    assert [t for t, _ in theirs][:3] == ["SETTINGS", "WINDOW_UPDATE", "SETTINGS"]


def test_tls_failures_are_named(lab):  # noqa: F811
    web = lab("web")
    no_ca = web.exec("client", "netlab", "http", "https://server/")
    assert no_ca.returncode == 1 and "unknown CA" in no_ca.stderr, no_ca.stderr
    other = web.exec(
        "client",
        "netlab",
        "http",
        "--cacert",
        _ca(web),
        "--resolve",
        f"other.lab:443:{web.addr('server')}",
        "https://other.lab/",
    )
    assert other.returncode == 1 and "name mismatch" in other.stderr, other.stderr
    insecure = web.exec(
        "client",
        "netlab",
        "http",
        "-k",
        "-p",
        "h",
        "https://other.lab/",
        "--resolve",
        f"other.lab:443:{web.addr('server')}",
    )
    assert insecure.returncode == 0 and ":status: 200" in insecure.stdout


def test_fail_exits_22_like_curl(lab):  # noqa: F811
    web = lab("web", tools=("curl",))
    shown = web.exec("client", "netlab", "http", "-p", "h", "http://server/missing")
    assert shown.returncode == 0 and "404 Not Found" in shown.stdout
    assert "4xx client error: not found" in shown.stdout
    ours = web.exec("client", "netlab", "http", "--fail", "http://server/missing")
    theirs = web.exec("client", "curl", "-s", "--fail", "http://server/missing")
    assert ours.returncode == theirs.returncode == 22
    assert ours.stderr.strip() == "netlab: error: the server answered 404 for http://server/missing"


def test_head_piped_prints_the_head_as_curl_i_does(lab):  # noqa: F811
    """`-I` with stdout piped prints the response head (`curl -I | grep` works): the
    same status line and header names as curl's, in the same order."""
    web = lab("web", tools=("curl",))
    ours = web.exec("client", "netlab", "http", "-I", "--http1.1", "http://server/", check=True)
    theirs = web.exec("client", "curl", "-sI", "--http1.1", "http://server/", check=True)
    mine = [line.removeprefix("<").strip() for line in ours.stdout.splitlines()]
    peer = theirs.stdout.replace("\r\n", "\n").splitlines()
    assert mine[0].split("  — ")[0] == peer[0] == "HTTP/1.1 200 OK"
    names = [line.split(":")[0] for line in mine[1:] if line]
    assert names == [line.split(":")[0] for line in peer[1:] if line]


def test_redirect_hops_are_timed_each(lab):  # noqa: F811
    web = lab("web", tools=("curl",))
    doc = _netlab_json(web, "-L", "http://server/old")
    (req,) = doc["requests"]
    assert req["status"] == 200 and req["url"] == "http://server/"
    (hop,) = req["redirects"]
    assert hop["status"] == 301 and hop["url"] == "http://server/old"
    assert hop["timings_ms"]["total"] > 0 and req["timings_ms"]["total"] > 0
    assert req["reused"] and req["connection"] == hop["connection"]
    curl = web.exec(
        "client",
        "curl",
        "-s",
        "-L",
        "-o",
        "/dev/null",
        "-w",
        "%{num_redirects}",
        "http://server/old",
        check=True,
    )
    assert curl.stdout == "1"


def test_capture_and_key_log_let_tshark_decrypt(lab, tmp_path):  # noqa: F811
    """-w saves the connection as pcapng and --keylog the TLS secrets: tshark decrypts
    the capture and finds the HTTP/2 request netlab sent."""
    web = lab("web", tools=("tshark",))
    pcap, keys = f"{tmp_path}/h2.pcapng", f"{tmp_path}/keys.txt"
    web.exec(
        "client",
        "netlab",
        "http",
        "--cacert",
        _ca(web),
        "-w",
        pcap,
        "--keylog",
        keys,
        "-p",
        "h",
        "https://server/style.css",
        check=True,
    )
    assert "CLIENT_HANDSHAKE_TRAFFIC_SECRET" in Path(keys).read_text()
    out = web.exec(
        "client",
        "tshark",
        "-n",
        "-r",
        pcap,
        "-o",
        f"tls.keylog_file:{keys}",
        "-Y",
        "http2.type == 1",
        "-T",
        "fields",
        "-e",
        "http2.header.value",
        check=True,
    ).stdout
    assert "/style.css" in out and "200" in out


def test_ipv4_and_ipv6_addresses(lab):  # noqa: F811
    web = lab("web")
    for host in (web.addr("server"), f"[{web.addr('server', 6)}]"):
        doc = _netlab_json(web, "--cacert", _ca(web), f"https://{host}/")
        assert doc["requests"][0]["status"] == 200, doc
