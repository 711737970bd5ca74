"""`netlab http` without a lab: URLs and options, the request as built (--offline),
the core against h11/h2 servers in the same process (client ↔ server pair tests, as
h11 and h2 test themselves), and hostile servers on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import h2.config
import h2.connection
import h2.events
import h11
import pytest

from netlab.core.base import Close, Connected, Open, Write
from netlab.core.http import (
    HttpClient,
    Options,
    Request,
    UrlError,
    offline,
    parse_url,
)
from tests.hostile_http import HostileServer
from tests.tls_servers import make_cert

NETLAB = [sys.executable, "-m", "netlab", "http"]


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([*NETLAB, *args], capture_output=True, text=True, timeout=timeout)


# --- URLs and options --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "scheme", "host", "port", "target"),
    [
        ("server", "http", "server", 80, "/"),
        ("server:8080/a/b?c=d#frag", "http", "server", 8080, "/a/b?c=d"),
        ("https://Server.Example.lab./x", "https", "server.example.lab", 443, "/x"),
        ("http://[2001:db8::1]:81/", "http", "2001:db8::1", 81, "/"),
        ("https://198.18.80.80", "https", "198.18.80.80", 443, "/"),
    ],
)
def test_parse_url(text, scheme, host, port, target):
    url = parse_url(text)
    assert (url.scheme, url.host, url.port, url.target) == (scheme, host, port, target)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ftp://x/",
        "http://",
        "http://a b/",
        "http://x:99999/",
        "http://x:0/",
        "http://-_/",
        "http://u:p@x/",
        "http://x\x00/",
        "http://a..b/",
    ],
)
def test_parse_url_refuses(text):
    with pytest.raises(UrlError):
        parse_url(text)


def test_authority_keeps_only_non_default_ports():
    assert parse_url("http://h:80/").authority == "h"
    assert parse_url("https://h:8443/").authority == "h:8443"
    assert parse_url("http://[::1]:8080/").authority == "[::1]:8080"


@pytest.mark.parametrize(
    "args",
    [
        ["not a url"],
        ["--http1.1", "--http2", "x/"],
        ["-H", "no colon", "x/"],
        ["-H", "Bad Name: v", "x/"],
        ["--resolve", "x:80", "x/"],
        ["--resolve", "x:80:notanip", "x/"],
        ["-X", "GET /", "x/"],
        ["-I", "-d", "a=b", "x/"],
        ["--h2c", "https://x/"],
        ["--max-time", "nan", "x/"],
        ["--print", "Z", "x/"],
        ["--repeat", "0", "x/"],
    ],
)
def test_bad_input_is_exit_2_with_one_line(args):
    proc = run(*args)
    assert proc.returncode == 2, proc
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr


def test_unresolvable_host_is_exit_1():
    proc = run("--max-time", "5", "http://no-such-host.invalid/")
    assert proc.returncode == 1, proc
    assert "cannot resolve host" in proc.stderr


def test_refused_is_exit_1_with_the_reason():
    with HostileServer("garbage") as srv:
        port = srv.port
    proc = run(f"http://127.0.0.1:{port}/")  # the server is gone: nothing listens there
    assert proc.returncode == 1, proc
    assert "Connection refused" in proc.stderr


# --- --offline: the request as it would go out ---------------------------------------------------
def test_offline_http11_request_bytes():
    proc = run("--offline", "-H", "X-Course: http", "-d", "a=1", "-d", "b=2", "server:8080/form")
    assert proc.returncode == 0, proc
    assert proc.stdout.splitlines()[:7] == [
        "POST /form HTTP/1.1",
        "Host: server:8080",
        "User-Agent: netlab",
        "Accept: */*",
        "Content-Length: 7",
        "Content-Type: application/x-www-form-urlencoded",
        "X-Course: http",
    ]
    assert proc.stdout.rstrip().endswith("a=1&b=2")


def test_offline_http2_hpack_makes_the_second_block_smaller():
    proc = run("--offline", "--json", "--h2c", "server/style.css", "server/app.js")
    assert proc.returncode == 0, proc
    doc = json.loads(proc.stdout)
    blocks = doc["hpack"]
    assert [b["stream"] for b in blocks] == [1, 3]
    first, second = blocks
    assert second["bytes"] < first["bytes"] < first["http1_bytes"]
    reps = {f["name"]: f for f in second["fields"]}
    # :method GET is in the static table; user-agent was added to the dynamic table by
    # the first block, so the second names it by a dynamic index (62 and up).
    assert reps[":method"]["representation"] == "indexed" and reps[":method"]["index"] == 2
    assert reps["user-agent"]["representation"] == "indexed" and reps["user-agent"]["index"] >= 62
    assert reps[":path"]["representation"] == "literal-incremental"
    assert ["accept", "*/*"] in first["table"]
    frames = doc["connections"][0]["frames"]
    assert [f["type"] for f in frames] == ["SETTINGS", "HEADERS", "HEADERS"]
    assert frames[1]["flags"] == ["END_STREAM", "END_HEADERS"]


def test_offline_header_override_and_removal():
    client = offline(
        [Request("GET", parse_url("h/"), (("User-Agent", "x/1"), ("Accept", "")))], Options()
    )
    head = client.fetches[0][0].request_head.decode()
    assert "User-Agent: x/1\r\n" in head and "Accept:" not in head


# --- the core against h11 / h2 servers in this process --------------------------------------------
class PairH1:
    """Drive HttpClient against an h11 server, byte for byte, with a fake clock."""

    def __init__(self, urls: list[str], respond, **options) -> None:
        reqs = [Request("GET", parse_url(u)) for u in urls]
        self.client = HttpClient(reqs, {"server": "198.18.80.80"}, Options(**options))
        self.respond = respond
        self.servers: dict = {}
        self.opens: list[Open] = []
        self.now = 1_000_000

    def tick(self, ms: float = 1.0) -> int:
        self.now += int(ms * 1e6)
        return self.now

    def run(self) -> HttpClient:
        todo = list(self.client.start(self.tick()))
        for _ in range(200):
            if not todo:
                break
            action = todo.pop(0)
            todo += self.apply(action)
        assert self.client.done()
        return self.client

    def apply(self, action) -> list:
        c = self.client
        if isinstance(action, Open):
            self.opens.append(action)
            self.servers[action.conn] = h11.Connection(h11.SERVER)
            info = Connected(("198.18.80.10", 40000), (action.host, action.port))
            return c.on_connected(action.conn, info, self.tick())
        if isinstance(action, Write):
            srv = self.servers[action.conn]
            srv.receive_data(action.data)
            out = b""
            while True:
                event = srv.next_event()
                if event is h11.NEED_DATA or event is h11.PAUSED:
                    break
                if isinstance(event, h11.Request):
                    out += self.respond(srv, event)
            if srv.our_state is h11.MUST_CLOSE:
                return c.on_data(action.conn, out, self.tick()) + c.on_data(
                    action.conn, b"", self.tick()
                )
            if srv.our_state is h11.DONE and srv.their_state is h11.DONE:
                srv.start_next_cycle()
            return c.on_data(action.conn, out, self.tick()) if out else []
        if isinstance(action, Close):
            return []
        raise AssertionError(action)


def _ok(srv: h11.Connection, req: h11.Request, body: bytes = b"hello", *extra) -> bytes:
    headers = [("Content-Length", str(len(body))), *extra]
    return (
        srv.send(h11.Response(status_code=200, headers=headers))
        + srv.send(h11.Data(data=body))
        + srv.send(h11.EndOfMessage())
    )


def test_keep_alive_reuses_one_connection():
    pair = PairH1(["server/", "server/style.css", "server/app.js"], _ok)
    client = pair.run()
    hops = [client.fetches[i][0] for i in range(3)]
    assert len(pair.opens) == 1
    assert [h.conn.id for h in hops] == [1, 1, 1]
    assert [h.reused for h in hops] == [False, True, True]
    assert [h.status for h in hops] == [200, 200, 200]
    assert bytes(hops[2].body) == b"hello" and hops[2].body_bytes == 5
    assert hops[0].timings_ms(0)["connect"] == 1.0  # opened at tick 1, connected at tick 2


def test_connection_close_opens_a_new_connection():
    def close(srv, req):
        return _ok(srv, req, b"bye", ("Connection", "close"))

    pair = PairH1(["server/", "server/a"], close)
    client = pair.run()
    assert len(pair.opens) == 2
    assert [client.fetches[i][0].conn.id for i in range(2)] == [1, 2]


def test_chunked_body_keeps_chunk_sizes():
    def chunked(srv, req):
        out = srv.send(h11.Response(status_code=200, headers=[("Transfer-Encoding", "chunked")]))
        for piece in (b"a" * 10, b"b" * 300, b"c"):
            out += srv.send(h11.Data(data=piece))
        return out + srv.send(h11.EndOfMessage())

    client = PairH1(["server/"], chunked).run()
    ex = client.fetches[0][0]
    assert ex.chunks == [10, 300, 1] and ex.body_bytes == 311


def test_redirect_is_a_hop_of_its_own():
    def moved(srv, req):
        if req.target == b"/old":
            return srv.send(
                h11.Response(status_code=301, headers=[("Location", "/"), ("Content-Length", "0")])
            ) + srv.send(h11.EndOfMessage())
        return _ok(srv, req)

    client = PairH1(["server/old"], moved, max_redirects=5).run()
    hops = client.fetches[0]
    assert [(h.status, h.request.url.target, h.hop) for h in hops] == [
        (301, "/old", 0),
        (200, "/", 1),
    ]
    assert hops[1].reused and hops[1].conn is hops[0].conn


def test_redirect_loop_is_bounded():
    def loop(srv, req):
        return srv.send(
            h11.Response(status_code=302, headers=[("Location", "/again"), ("Content-Length", "0")])
        ) + srv.send(h11.EndOfMessage())

    client = PairH1(["server/"], loop, max_redirects=3).run()
    hops = client.fetches[0]
    assert len(hops) == 4 and "maximum (3) redirects" in hops[-1].error


def test_redirect_to_an_unknown_host_waits_for_resolution():
    def away(srv, req):
        return srv.send(
            h11.Response(
                status_code=301, headers=[("Location", "http://other/"), ("Content-Length", "0")]
            )
        ) + srv.send(h11.EndOfMessage())

    client = PairH1(["server/"], away, max_redirects=3).run()
    assert client.unresolved[0].request.url.host == "other"


def test_http2_streams_share_one_connection():
    """Three URLs over HTTP/2 (h2c): one connection, streams 1, 3, 5, each answered,
    and the server's header blocks decoded with its own dynamic table."""
    reqs = [Request("GET", parse_url(f"server:8080/{n}")) for n in ("a.css", "b.js", "c.jpg")]
    dns_ns = {"server": 5_000_000}  # resolved before the run, as cli/http does
    client = HttpClient(reqs, {"server": "198.18.80.80"}, Options(h2c=True), dns_ns)
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    server.initiate_connection()
    now = [0]

    def tick():
        now[0] += 1_000_000
        return now[0]

    todo = list(client.start(tick()))
    assert [type(a) for a in todo] == [Open]
    # connect() called 2 ms after the run started (the runner's set-up), done 1 ms later
    info = Connected(("a", 1), ("b", 2), connect_at=now[0] + 2_000_000, tcp_at=now[0] + 3_000_000)
    now[0] += 3_000_000
    todo = client.on_connected(todo[0].conn, info, now[0])
    for _ in range(50):
        data = b"".join(a.data for a in todo if isinstance(a, Write))
        todo = []
        if not data:
            break
        for event in server.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                path = dict(event.headers)[b":path"]
                server.send_headers(
                    event.stream_id,
                    [(":status", "200"), ("server", "pair"), ("content-length", str(len(path)))],
                )
                server.send_data(event.stream_id, path, end_stream=True)
        reply = server.data_to_send()
        if reply:
            todo = client.on_data(1, reply, tick())
    assert client.done()
    hops = [client.fetches[i][0] for i in range(3)]
    assert [h.stream for h in hops] == [1, 3, 5]
    assert [bytes(h.body) for h in hops] == [b"/a.css", b"/b.js", b"/c.jpg"]
    assert {h.conn.id for h in hops} == {1} and len(client.connections) == 1
    received = [b for b in client.connections[0].blocks if b.direction == "received"]
    assert len(received) == 3
    # "server: pair" is indexed by the server's encoder after its first response.
    assert received[2].block.length < received[0].block.length
    # The streams went out together and their answers came in one read: the same
    # total for each; the later streams waited for what the first paid (DNS + connect).
    timings = [h.timings_ms(dns_ns["server"]) for h in hops]
    assert len({t["total"] for t in timings}) == 1, timings
    assert (timings[0]["dns"], timings[0]["connect"], timings[0]["wait"]) == (5.0, 1.0, 0.0)
    assert [t["wait"] for t in timings[1:]] == [6.0, 6.0], timings


# --- hostile servers ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("script", "h2c", "message"),
    [
        ("headers-without-end", False, "response head larger than 64 KiB"),
        ("huge-header-line", False, "response head larger than 64 KiB"),
        ("endless-chunked", False, "timeout: --max-time 2 s reached"),
        ("short-body", False, "expected 1000"),
        ("garbage", False, "malformed HTTP response"),
        ("settings-flood", True, "SETTINGS flood"),
        ("huge-headers", True, "malformed HTTP/2"),
    ],
)
def test_hostile_server_gives_one_line_and_exit_1(script, h2c, message):
    with HostileServer(script) as srv:
        start = time.monotonic()
        args = ["--max-time", "2", *(["--h2c"] if h2c else []), f"http://127.0.0.1:{srv.port}/"]
        proc = subprocess.run(
            ["/usr/bin/time", "-q", "-f", "%M", *NETLAB, "-p", "h", *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
        took = time.monotonic() - start
    lines = proc.stderr.strip().splitlines()
    max_rss_kb = int(lines[-1])
    assert proc.returncode == 1, proc
    assert len(lines) == 2 and lines[0].startswith("netlab: error: ") and message in lines[0]
    assert took < 6
    assert max_rss_kb < 150_000, f"{max_rss_kb} KiB: the body or head was kept in memory"


def test_lying_content_length_shorter_than_the_body_is_a_warning():
    with HostileServer("long-body") as srv:
        proc = run("-p", "h", f"http://127.0.0.1:{srv.port}/")
    assert proc.returncode == 0, proc
    assert "990 bytes after the end of the response" in proc.stdout + proc.stderr


def test_a_kept_alive_connection_closed_unanswered_is_retried_on_a_new_one():
    """curl's "Connection died, retrying a fresh connect": a server that closes a kept-alive
    connection instead of answering the next request costs a new connection, not an error."""
    with HostileServer("one-then-close") as srv:
        base = f"http://127.0.0.1:{srv.port}"
        proc = run("--json", f"{base}/a", f"{base}/b")
    assert proc.returncode == 0, proc
    doc = json.loads(proc.stdout)
    assert [r["status"] for r in doc["requests"]] == [200, 200], doc["requests"]
    assert len(doc["connections"]) == 2
    assert "sent again on a new one" in json.dumps(doc["requests"][1])


def test_ctrl_c_prints_valid_json():
    with HostileServer("endless-chunked") as srv:
        p = subprocess.Popen(
            [*NETLAB, "--json", f"http://127.0.0.1:{srv.port}/"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        time.sleep(1.5)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=10)
    assert p.returncode == 130, err
    doc = json.loads(out)
    assert doc["interrupted"] is True
    (req,) = doc["requests"]
    assert req["status"] == 200 and req["error"] == "interrupted" and req["body_bytes"] > 0


def _tls_server(cert_path, key_path):
    """A one-shot HTTPS server on loopback (thread), answering one request."""
    import socket
    import ssl
    import threading

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_path, key_path)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def serve():
        try:
            conn, _ = listener.accept()
            with ctx.wrap_socket(conn, server_side=True) as tls:
                tls.settimeout(5)
                tls.recv(4096)
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except (OSError, ssl.SSLError):
            pass  # the client refused the certificate: that is the test
        finally:
            listener.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread


@pytest.mark.parametrize(
    ("days_ago", "valid_days", "expect"), [(40, 30, "expired"), (-5, 30, "not yet valid")]
)
def test_certificate_out_of_its_validity_is_named(tmp_path, days_ago, valid_days, expect):
    cert, key = make_cert(tmp_path, rsa_key=False, days_ago=days_ago, days=valid_days)
    port, thread = _tls_server(cert, key)
    proc = run("--cacert", str(cert), f"https://127.0.0.1:{port}/")
    thread.join(10)
    assert proc.returncode == 1, proc
    assert f"certificate verify failed: {expect}" in proc.stderr, proc.stderr


def test_valid_self_signed_certificate_with_cacert(tmp_path):
    cert, key = make_cert(tmp_path, rsa_key=False)
    port, thread = _tls_server(cert, key)
    proc = run(
        "--cacert", str(cert), "-o", str(tmp_path / "body"), "--json", f"https://127.0.0.1:{port}/"
    )
    thread.join(10)
    assert proc.returncode == 0, proc
    doc = json.loads(proc.stdout)
    assert doc["connections"][0]["tls"]["certificate"]["subject"] == "CN=localhost"
    assert (tmp_path / "body").read_bytes() == b"ok"
