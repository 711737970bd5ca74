"""HTTP/1.x and HTTP/2 in the dissector, against tshark field by field and line by line.

- Real peers: nginx on two free loopback ports (HTTP/1.1 with gzip and chunked
  responses, a 301, a 404; cleartext HTTP/2), driven by curl (keep-alive, HEAD,
  --compressed, a POST, h2c with prior knowledge) and nghttp, recorded with tcpdump.
  tshark is told the ports (`-d tcp.port==P,http`, `-d tcp.port==P2,http2`: it has no
  heuristic for h2c); netlab finds them itself.
- The bundled pcaps/http.pcapng (ports 80 and 8080: tshark's defaults, no options).
- Crafted conversations for the corner cases tshark's columns depend on (a head or a
  body over several segments, messages ending and starting in one segment, a body
  until the connection's end, chunks, 100-continue, bytes that are not HTTP, h2c by
  upgrade, HEADERS + CONTINUATION decoded fragment by fragment, every frame type).
- Hostile input: each kind of damage gives a malformed mark, never an exception, and
  no buffer grows past its bound.

Deliberate differences from tshark 4.0, each pinned by a test here: pipelined responses
paired in order; a lying Content-Length, a bogus chunk size, a head over 64 KiB, a bad
HPACK block and a frame cut by the connection's end are marked malformed; a split
connection preface is read (tshark loses the stream); HTTP/2 DATA frames show their own
bytes (tshark shows a body reassembled over frames in the last one).
"""

from __future__ import annotations

import json
import struct
import subprocess
import time
from pathlib import Path

import hpack
import pytest

from netlab.capture.reader import open_capture
from netlab.dissect import Dissector
from netlab.dissect.http2 import MAGIC
from netlab.render.packets import json_record, tree_lines
from tests import procs
from tests.conftest import ROOT, netlab_bin, require_root, require_tool
from tests.test_columns import both_ways
from tests.test_dissect import BUG_MARKS

# Fields compared with tshark, value by value.
FIELDS = [
    "frame.protocols",
    "http.request", "http.response", "http.request.method", "http.request.uri",
    "http.request.version", "http.response.version", "http.response.code",
    "http.response.code.desc", "http.response.phrase", "http.host", "http.user_agent",
    "http.accept", "http.content_type", "http.content_length", "http.content_length_header",
    "http.transfer_encoding", "http.content_encoding", "http.connection", "http.location",
    "http.server", "http.date", "http.last_modified", "http.chunk_size", "http.request_in",
    "http.time", "http.request_number", "http.response_number", "http.prev_request_in",
    "http.prev_response_in", "http.request.full_uri", "http.response_for.uri",
    "http.request.line", "http.response.line", "http.file_data",
    "http2.magic", "http2.type", "http2.flags", "http2.streamid", "http2.length", "http2.r",
    "http2.flags.end_stream", "http2.flags.eh", "http2.flags.padded", "http2.flags.priority",
    "http2.flags.ack.settings", "http2.settings.id", "http2.settings.header_table_size",
    "http2.settings.max_concurrent_streams", "http2.settings.initial_window_size",
    "http2.settings.max_frame_size", "http2.settings.enable_push",
    "http2.window_update.window_size_increment", "http2.header.name", "http2.header.value",
    "http2.header.repr", "http2.header.index", "http2.header.length", "http2.header.count",
    "http2.header.name.length", "http2.header.value.length", "http2.header.unescaped",
    "http2.headers.status", "http2.headers.method", "http2.headers.path",
    "http2.headers.authority", "http2.headers.content_type", "http2.headers.content_length",
    "http2.headers.user_agent", "http2.request.full_uri", "http2.pad_length",
    "http2.stream_dependency", "http2.exclusive", "http2.headers.weight",
    "http2.headers.weight_real", "http2.push_promise.promised_stream_id",
    "http2.rst_stream.error", "http2.goaway.error", "http2.goaway.last_stream_id",
    "http2.altsvc.origin", "http2.altsvc.field_value",
]  # fmt: skip
_ESCAPED = {"http.request.line", "http.response.line", "http.file_data", "http2.magic"}


# --- comparing with tshark ------------------------------------------------------------------
def tshark_rows(path: Path, options: tuple[str, ...] = ()) -> list[dict[str, list[str]]]:
    tshark = require_tool("tshark")
    cmd = [tshark, "-n", *options, "-r", str(path), "-T", "fields", "-E", "separator=\t",
           "-E", "occurrence=a", "-E", "aggregator=\x1f"]  # fmt: skip
    for name in FIELDS:
        cmd += ["-e", name]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.split("\n")[:-1]:
        pairs = zip(FIELDS, line.split("\t"), strict=False)
        rows.append({n: [_unhex(n, v) for v in vals.split("\x1f")] for n, vals in pairs if vals})
    return rows


def _unhex(name: str, text: str) -> str:
    return str(int(text, 16)) if text.startswith("0x") and name not in _ESCAPED else text


def _text(name: str, value) -> str | None:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.9f}"
    if isinstance(value, str) and name in _ESCAPED:  # as tshark -T fields escapes them
        if name == "http.file_data":  # tshark's string field ends at a NUL; netlab's does not
            value = value.split("\0", 1)[0]
            if not value:
                return None
        return (value.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")
                .replace("\t", "\\t"))  # fmt: skip
    return str(value)


def netlab_rows(path: Path) -> list[dict[str, list[str]]]:
    """netlab's FIELDS per packet, in this process; also checks the tree and JSON views
    build and that no layer hides a decoder bug."""
    d = Dissector()
    rows = []
    with open_capture(path) as cap:
        for no, f in enumerate(cap, 1):
            pkt = d.dissect(no, f.ts_ns, f.data, f.wirelen, f.linktype)
            json.dumps(json_record(pkt), default=str)
            tree_lines(pkt)
            assert not [m for m in [pkt.malformed or ""] if any(b in m for b in BUG_MARKS)]
            fields = pkt.field_dict()
            fields["frame.protocols"] = pkt.protocols
            row = {}
            for name in FIELDS:
                if name in fields:
                    values = fields[name] if isinstance(fields[name], list) else [fields[name]]
                    texts = [t for t in (_text(name, v) for v in values) if t is not None]
                    if texts:
                        row[name] = texts
            rows.append(row)
    return rows


def differences(path: Path, options: tuple[str, ...] = (), ignore=frozenset()) -> dict[int, dict]:
    """{packet: {field: (netlab, tshark)}} where the two disagree (`ignore`: fields a
    case differs on deliberately)."""
    ours, theirs = netlab_rows(path), tshark_rows(path, options)
    assert len(ours) == len(theirs), "frame count differs"
    found = {}
    for no, (a, b) in enumerate(zip(ours, theirs, strict=True), 1):
        diff = {k: (a.get(k), b.get(k)) for k in sorted(a.keys() | b.keys())
                if a.get(k) != b.get(k) and k not in ignore}  # fmt: skip
        if diff:
            found[no] = diff
    return found


def summary(path: Path, options: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    """(netlab's one-line view, tshark's), without number and time, spaces squeezed."""
    tshark = require_tool("tshark")
    ours = subprocess.run([netlab_bin(), "dissect", str(path)], capture_output=True, text=True,
                          check=True).stdout.splitlines()  # fmt: skip
    theirs = subprocess.run([tshark, "-n", *options, "-r", str(path)], capture_output=True,
                            text=True, check=True).stdout.splitlines()  # fmt: skip
    return ([" ".join(line.split()[2:]) for line in ours],
            [" ".join(line.split()[2:]) for line in theirs])  # fmt: skip


def assert_agree(path: Path, options: tuple[str, ...] = (), ignore=frozenset()) -> None:
    ours, theirs = summary(path, options)
    assert ours == theirs
    assert differences(path, options, ignore) == {}
    fast, slow, _ = both_ways(path)  # the one-line shortcut says what dissect() says
    assert fast.splitlines() == slow.splitlines()


# --- nginx on loopback, recorded -------------------------------------------------------------


@pytest.fixture(scope="module")
def nginx(tmp_path_factory):
    """(HTTP/1.1 port, h2c port): nginx with a few files of different types, gzip for
    text, a 301 and a 404, POST answered; in the foreground, ended by pid."""
    nginx_bin = require_tool("nginx")
    tmp = tmp_path_factory.mktemp("nginx")
    www = tmp / "www"
    www.mkdir()
    (www / "index.html").write_text("<html><head><title>netlab</title></head><body>"
                                    + "<p>hello</p>\n" * 30 + "</body></html>\n")  # fmt: skip
    (www / "style.css").write_text("body { color: #333; }\n" * 40)
    (www / "app.js").write_text("".join(f'console.log("line {i}");\n' for i in range(60)))
    (www / "data.json").write_text(json.dumps({"items": list(range(20))}) + "\n")
    (www / "notes.txt").write_text("".join(f"note {i}\n" for i in range(3000)))  # over segments
    http_port, h2_port = procs.free_port(), procs.free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(f"""daemon off; master_process off; worker_processes 1;
pid {tmp}/nginx.pid; error_log {tmp}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log {tmp}/access.log;
  client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
  types {{ text/html html; text/css css; application/javascript js; application/json json;
           text/plain txt; }}
  gzip on; gzip_min_length 20; gzip_types text/css application/javascript application/json;
  server {{
    listen 127.0.0.1:{http_port}; root {www};
    location = /old {{ return 301 /index.html; }}
    location = /echo {{ return 200 "ok\\n"; }}
  }}
  server {{ listen 127.0.0.1:{h2_port} http2; root {www}; }}
}}
""")
    proc = subprocess.Popen([nginx_bin, "-c", str(conf), "-p", str(tmp)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        procs.wait_port(http_port)
        procs.wait_port(h2_port)
        yield http_port, h2_port
    finally:
        procs.end(proc)


def _curl(*args: str) -> None:
    subprocess.run([require_tool("curl"), "-s", "--max-time", "20", *args], check=True,
                   stdout=subprocess.DEVNULL, timeout=30)  # fmt: skip


@pytest.fixture(scope="module")
def recorded(nginx, tmp_path_factory) -> tuple[Path, tuple[str, ...]]:
    """(capture, tshark's options for its ports) of curl and nghttp against nginx."""
    require_root()
    http_port, h2_port = nginx
    folder = tmp_path_factory.mktemp("rec")
    for attempt in range(3):  # a busy machine can make the kernel drop packets: again
        path = folder / f"http-{attempt}.pcap"
        if _record(path, http_port, h2_port):
            options = ("-d", f"tcp.port=={http_port},http", "-d", f"tcp.port=={h2_port},http2")
            return path, options
    pytest.fail("the kernel dropped packets for tcpdump three times")


def _record(path: Path, http_port: int, h2_port: int) -> bool:
    """Record the traffic; True when tcpdump kept every packet."""
    require_tool("tcpdump")
    dump = procs.start_tcpdump(path, f"tcp port {http_port} or tcp port {h2_port}")
    try:
        base = f"http://127.0.0.1:{http_port}"
        null = ["-o", "/dev/null"]
        _curl("--http1.1", *null, *null, *null, *null, f"{base}/", f"{base}/style.css",
              f"{base}/old", f"{base}/nope")  # keep-alive: one connection  # fmt: skip
        _curl("--http1.1", "-I", f"{base}/app.js")  # HEAD
        _curl("--http1.1", "--compressed", *null, *null, f"{base}/app.js", f"{base}/data.json")
        _curl("--http1.1", "-d", "a=1&b=2", *null, f"{base}/echo")  # POST
        _curl("--http1.1", *null, f"{base}/notes.txt")  # a body over several segments
        _curl("--http2-prior-knowledge", *null, f"http://127.0.0.1:{h2_port}/")
        nghttp = require_tool("nghttp")
        subprocess.run([nghttp, "-n", "-t", "20", *(f"http://127.0.0.1:{h2_port}{p}" for p in
                        ("/", "/style.css", "/app.js", "/nope"))], check=True, timeout=30,
                       stdout=subprocess.DEVNULL)  # fmt: skip
    finally:
        kept = procs.stop_tcpdump(dump)
    return kept


def test_recorded_traffic_agrees_with_tshark(recorded):
    path, options = recorded
    assert_agree(path, options)
    ours = netlab_rows(path)
    methods = {m for r in ours for m in r.get("http.request.method", [])}
    assert {"GET", "HEAD", "POST"} <= methods
    codes = {c for r in ours for c in r.get("http.response.code", [])}
    assert {"200", "301", "404"} <= codes
    assert any("http.chunk_size" in r for r in ours)  # gzip-compressed, chunked
    assert any(r.get("http.content_encoding") == ["gzip"] for r in ours)
    assert any("4" in r.get("http2.type", []) for r in ours)  # SETTINGS …
    assert any("http2.header.repr" in r for r in ours)  # … and HPACK-coded HEADERS


def test_recorded_traffic_found_without_being_told_the_ports(recorded):
    """netlab needs no -d: its heuristic finds HTTP/1.1, the preface finds h2c."""
    path, _options = recorded
    lines = subprocess.run([netlab_bin(), "dissect", str(path)], capture_output=True,
                           text=True, check=True).stdout  # fmt: skip
    assert " HTTP " in lines and " HTTP2 " in lines and "Magic, SETTINGS[0]" in lines


def test_jobs_give_the_same_fields(recorded, tmp_path):
    """--jobs keeps the sessions' state in step (the light pass splits and pairs too):
    the capture repeated over many chunks gives the same JSON with 2 processes."""
    from netlab.capture.writer import PcapngWriter
    from netlab.dissect.jobs import CHUNK

    path, _ = recorded
    with open_capture(path) as cap:
        frames = list(cap)
    big = tmp_path / "many.pcapng"
    with PcapngWriter(big) as out:
        iface = out.add_interface(frames[0].linktype)
        shift = 0
        written = 0
        while written < CHUNK * 3:
            for f in frames:  # a fresh TCP stream each round: new client ports
                out.write_packet(_with_client_port(f.data, shift), f.ts_ns + shift * 10**9,
                                 interface=iface)  # fmt: skip
                written += 1
            shift += 1
    one = subprocess.run([netlab_bin(), "dissect", "-j", "1", "--json", str(big)],
                         capture_output=True, check=True).stdout  # fmt: skip
    two = subprocess.run([netlab_bin(), "dissect", "-j", "2", "--json", str(big)],
                         capture_output=True, check=True).stdout  # fmt: skip
    assert one == two and b'"http.time"' in one and b'"http2.header.name"' in one


def _with_client_port(frame: bytes, shift: int) -> bytes:
    ihl = (frame[14] & 0x0F) * 4
    off = 14 + ihl
    sport, dport = struct.unpack_from("!HH", frame, off)
    buf = bytearray(frame)
    if sport > dport:
        struct.pack_into("!H", buf, off, 1024 + (sport + shift * 7) % 60000)
    else:
        struct.pack_into("!H", buf, off + 2, 1024 + (dport + shift * 7) % 60000)
    return bytes(buf)


def test_bundled_capture_agrees_with_tshark_without_options():
    """pcaps/http.pcapng is on tshark's own HTTP ports (80, 8080): no -d needed, and
    frame.protocols shows "http" before "http2" as tshark's does."""
    path = ROOT / "pcaps" / "http.pcapng"
    assert_agree(path)
    protocols = {r["frame.protocols"][0] for r in netlab_rows(path)}
    assert "eth:ethertype:ip:tcp:http:http2" in protocols
    assert "eth:ethertype:ip:tcp:http:data-text-lines" in protocols


# --- crafted conversations ---------------------------------------------------------------------
CLIENT, SERVER = bytes([127, 0, 0, 1]), bytes([127, 0, 0, 2])


def _frame(src, dst, sport, dport, seq, ack, flags, payload=b"") -> bytes:
    tcp = struct.pack("!HHIIHHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      (5 << 12) | flags, 65535, 0, 0) + payload  # fmt: skip
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, src, dst)
    return b"\x00" * 11 + b"\x01\x08\x00" + ip + tcp


def conversation(steps, port: int = 80, handshake: bool = True) -> list[bytes]:
    """Frames of one TCP connection: steps are (side "c"|"s", payload[, flags])."""
    seq = {"c": 1000, "s": 5000}
    out = []

    def send(side, payload, flags):
        other = "s" if side == "c" else "c"
        src, dst = (CLIENT, SERVER) if side == "c" else (SERVER, CLIENT)
        sp, dp = (40000, port) if side == "c" else (port, 40000)
        out.append(_frame(src, dst, sp, dp, seq[side], seq[other], flags, payload))
        seq[side] += len(payload) + (1 if flags & 0x03 else 0)

    if handshake:
        seq["c"] -= 1
        seq["s"] -= 1
        send("c", b"", 0x02)
        send("s", b"", 0x12)
        send("c", b"", 0x10)
    for side, payload, *flags in steps:
        send(side, payload, flags[0] if flags else 0x18)
    return out


def write_pcap(path: Path, frames: list[bytes]) -> Path:
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for i, frame in enumerate(frames):
            f.write(struct.pack("<IIII", 1_700_000_000, i * 1000, len(frame), len(frame)) + frame)
    return path


def request(path: bytes = b"/", extra: bytes = b"") -> bytes:
    return b"GET " + path + b" HTTP/1.1\r\nHost: a\r\n" + extra + b"\r\n"


def response(body: bytes, ctype: bytes = b"text/html", extra: bytes = b"") -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Type: " + ctype + b"\r\nContent-Length: %d\r\n"
            % len(body) + extra + b"\r\n" + body)  # fmt: skip


R100 = response(b"a" * 100)
# Pipelined requests: netlab pairs each response with its own request, in order (RFC 9112
# §9.3.2); tshark 4.0 pairs them all with the last request it saw (and numbers them so).
PAIRING = frozenset(("http.request_in", "http.prev_request_in", "http.response_for.uri",
                     "http.response_number", "http.time"))  # fmt: skip
CHUNKED = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
           b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n")  # fmt: skip
H1_CASES = {
    "request head over two segments": [("c", request()[:18]), ("c", request()[18:]),
                                       ("s", response(b"hi"))],
    "first line cut": [("c", b"GET / HT"), ("c", request()[8:]), ("s", response(b"hi"))],
    "body over three segments": [("c", request()), ("s", response(b"x" * 3000)[:1000]),
                                 ("s", response(b"x" * 3000)[1000:2000]),
                                 ("s", response(b"x" * 3000)[2000:])],
    "pipelined: the end of one, the whole next": ([("c", request(b"/1") + request(b"/2")),
                                                   ("s", R100[:50]),
                                                   ("s", R100[50:] + response(b"b" * 10))],
                                                  PAIRING),
    "pipelined: the end of one, the start of the next": ([
        ("c", request(b"/1") + request(b"/2")), ("s", R100[:50]),
        ("s", R100[50:] + response(b"b" * 10)[:30]), ("s", response(b"b" * 10)[30:])], PAIRING),
    "body until the end of the connection": [
        ("c", request()), ("s", b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\nhello "),
        ("s", b"world"), ("s", b"", 0x11), ("c", b"", 0x11)],
    "chunks, whole and over segments": [("c", request()), ("s", CHUNKED), ("c", request()),
                                        ("s", CHUNKED[:80]), ("s", CHUNKED[80:95]),
                                        ("s", CHUNKED[95:])],
    # tshark also counts the head it first saw alone as a request (request 2 then)
    "100 continue": ([("c", b"POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                            b"Expect: 100-continue\r\n\r\n"),
                      ("s", b"HTTP/1.1 100 Continue\r\n\r\n"), ("c", b"abc"),
                      ("s", response(b"done"))], {"http.request_number"}),
    "not HTTP before, Continuation after": [
        ("c", b"\x00\x01binary"), ("s", b"more junk\r\n\r\n"), ("c", request()),
        ("s", response(b"ok")), ("c", b"junk again\r\n"), ("s", b"\x00\x02")],
    "LF-only lines": [("c", b"GET / HTTP/1.1\nHost: a\n\n"),
                      ("s", b"HTTP/1.1 200 OK\nContent-Length: 2\nContent-Type: text/html\n\nok")],
    "media types": ([("c", request() * 5), ("s", response(b"{}", b"application/json")
                                                + response(b"a", b"text/plain; charset=utf-8")
                                                + response(b"<a/>", b"application/xml")
                                                + response(b"a", b"application/javascript")
                                                + response(b"a", b"application/octet-stream"))],
                    PAIRING),
    "no body: 204, 304, HEAD": ([("c", request(b"/a")), ("s", b"HTTP/1.1 204 No Content\r\n\r\n"),
                                 ("c", request(b"/b")),
                                 ("s", b"HTTP/1.1 304 Not Modified\r\nContent-Length: 20\r\n\r\n"),
                                 ("c", b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"),
                                 ("s", b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n")]),
    "request target with a query": [("c", request(b"/search?q=netlab&page=2")),
                                    ("s", response(b"x"))],
}  # fmt: skip


@pytest.mark.parametrize("case", H1_CASES.values(), ids=H1_CASES.keys())
def test_crafted_http1_agrees_with_tshark(tmp_path, case):
    steps, ignore = case if isinstance(case, tuple) else (case, frozenset())
    assert_agree(write_pcap(tmp_path / "c.pcap", conversation(steps)), ignore=ignore)


def test_pipelined_responses_pair_with_their_requests():
    steps = [("c", request(b"/a") + b"HEAD /b HTTP/1.1\r\nHost: a\r\n\r\n" + request(b"/c")),
             ("s", response(b"one") + b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n"
                   + response(b"three"))]  # fmt: skip
    _d, packets = dissect_all(conversation(steps))
    responses = [(layer.hdr.request[3], layer.hdr.number) for layer in packets[-1].layers
                 if layer.proto == "http"]  # fmt: skip
    # tshark takes all three for answers to /c, and the HEAD's 50 bytes swallow the third
    assert responses == [("http://a/a", 1), ("http://a/b", 2), ("http://a/c", 3)]


def test_heuristic_finds_http_on_other_ports(tmp_path):
    steps = [("c", request()), ("s", response(b"x" * 3000)[:1000]),
             ("s", response(b"x" * 3000)[1000:])]  # fmt: skip
    assert_agree(write_pcap(tmp_path / "c.pcap", conversation(steps, port=8000)))
    # tshark's heuristic claims a stream whose first line ends "HTTP/1.x", even when the
    # method is unknown: the request stays TCP, the response is HTTP
    steps = [("c", b"FOO /x HTTP/1.1\r\nHost: a\r\n\r\n"), ("s", response(b"ok"))]
    assert_agree(write_pcap(tmp_path / "d.pcap", conversation(steps, port=5000)))


def frame(ftype: int, flags: int, sid: int, payload: bytes) -> bytes:
    return (
        struct.pack("!I", len(payload))[1:]
        + bytes([ftype, flags])
        + struct.pack("!I", sid)
        + payload
    )


def _h2_steps() -> list:
    client, server = hpack.Encoder(), hpack.Encoder()
    settings = frame(4, 0, 0, struct.pack("!HIHI", 1, 4096, 3, 100))
    req = client.encode([(":method", "GET"), (":path", "/index.html"), (":scheme", "http"),
                         (":authority", "a"), ("user-agent", "x"),
                         hpack.NeverIndexedHeaderTuple("cookie", "s")])  # fmt: skip
    resp = server.encode([(":status", "200"), ("content-type", "text/html"), ("server", "t")])
    push = server.encode([(":method", "GET"), (":path", "/push.css"), (":scheme", "http"),
                          (":authority", "a")])  # fmt: skip
    json_resp = server.encode([(":status", "404"), ("content-type", "application/json")])
    trailer = server.encode([("grpc-status", "0")])
    post = client.encode([(":method", "POST"), (":path", "/api"), (":scheme", "http"),
                          (":authority", "a")])  # fmt: skip
    return [
        # a HEADERS block split into HEADERS + CONTINUATION: fields shown as they end
        ("c", MAGIC + settings + frame(8, 0, 0, struct.pack("!I", 1000))
              + frame(1, 0x01, 1, req[:5]) + frame(9, 0x04, 1, req[5:])),
        ("s", settings + frame(4, 1, 0, b"")
              + frame(5, 0x04, 1, struct.pack("!I", 2) + push)
              + frame(1, 0x0C, 1, bytes([3]) + resp + b"\0\0\0")  # padded
              + frame(0, 0x08, 1, bytes([2]) + b"<html>" + b"\0\0")
              + frame(0, 0x01, 1, b"</html>")),
        ("s", frame(6, 0, 0, b"12345678") + frame(3, 0, 3, struct.pack("!I", 8))
              + frame(2, 0, 5, struct.pack("!IB", 0x80000001, 15))
              + frame(10, 0, 0, b"\x00\x03abcdef") + frame(0x21, 0xFF, 7, b"zz")
              + frame(7, 0, 0, struct.pack("!II", 3, 2) + b"debug")),
        ("c", frame(6, 1, 0, b"12345678") + frame(1, 0x25, 3, struct.pack("!IB", 1, 15) + post)),
        ("s", frame(1, 0x04, 3, json_resp) + frame(0, 0, 3, b'{"a":')
              + frame(0, 0, 3, b"1}") + frame(1, 0x05, 3, trailer)),
        # a frame over two segments
        ("s", frame(8, 0, 0, struct.pack("!I", 5))[:4]),
        ("s", frame(8, 0, 0, struct.pack("!I", 5))[4:]),
    ]  # fmt: skip


def test_crafted_http2_agrees_with_tshark(tmp_path):
    """Every frame type, flags, padding, priority, HPACK indexing and never-indexed
    literals, a header block over HEADERS + CONTINUATION, trailers ending a JSON body."""
    path = write_pcap(tmp_path / "h2.pcap", conversation(_h2_steps(), port=8080))
    assert_agree(path)
    rows = netlab_rows(path)
    reprs = {r for row in rows for r in row.get("http2.header.repr", [])}
    assert "Literal Header Field never Indexed - Indexed Name" in reprs
    types = {t for row in rows for t in row.get("http2.type", [])}
    assert {str(t) for t in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 33)} <= types


def test_http2_frame_over_segments_agrees_with_tshark(tmp_path):
    """While a frame's length is unknown tshark's HTTP/2 sees each segment (info:
    "[TCP segment of a reassembled PDU]" alone); once known, TCP keeps the rest (TCP's
    own info before it)."""
    big = frame(0, 0x01, 1, b"x" * 3000)
    steps = [("c", MAGIC + frame(4, 0, 0, b"")), ("s", big[:4]), ("s", big[4:1000]),
             ("s", big[1000:2000]), ("s", big[2000:])]  # fmt: skip
    assert_agree(write_pcap(tmp_path / "mid.pcap", conversation(steps, port=8080)))


def test_h2c_by_upgrade_agrees_with_tshark(tmp_path):
    steps = [
        ("c", b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n"
              b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"),
        ("s", b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
              + frame(4, 0, 0, b"")),
        ("c", MAGIC + frame(4, 0, 0, b"")),
        ("s", frame(4, 1, 0, b"")),
    ]  # fmt: skip
    assert_agree(write_pcap(tmp_path / "up.pcap", conversation(steps)))


def test_h2c_by_its_preface_on_any_port(tmp_path):
    """netlab finds the preface on any port; tshark only when told (-d … ,http2)."""
    path = write_pcap(tmp_path / "h2.pcap", conversation(_h2_steps(), port=5001))
    assert_agree(path, ("-d", "tcp.port==5001,http2"))


def test_split_preface_is_read(tmp_path):
    """A preface over two segments (tshark 4.0 reads a 5 MB frame length out of "PRI"
    and loses the stream): netlab keeps the frames in step."""
    magic = MAGIC + frame(4, 0, 0, b"")
    steps = [("c", magic[:10]), ("c", magic[10:] + frame(8, 0, 0, struct.pack("!I", 9)))]
    lines, _ = summary(write_pcap(tmp_path / "s.pcap", conversation(steps, port=8080)))
    assert lines[-2].endswith("[TCP segment of a reassembled PDU]")
    assert lines[-1].endswith(" Magic, SETTINGS[0], WINDOW_UPDATE[0]")


# --- hostile input -----------------------------------------------------------------------------
def dissect_all(frames: list[bytes]):
    """Every frame dissected and every view built; no decoder bug behind any mark."""
    d = Dissector()
    packets = []
    for no, data in enumerate(frames, 1):
        pkt = d.dissect(no, no * 1000, data, len(data), 1)
        json.dumps(json_record(pkt), default=str)
        tree_lines(pkt)
        marks = [pkt.malformed or ""] + [layer.malformed or "" for layer in pkt.layers]
        assert not [m for m in marks if any(b in m for b in BUG_MARKS)], marks
        packets.append(pkt)
    return d, packets


def malformed(packets) -> list[str]:
    return [p.malformed for p in packets if p.malformed]


def test_head_without_end_is_malformed_and_bounded():
    line = b"X-Pad: " + b"a" * 1400 + b"\r\n"
    steps = [("c", b"GET / HTTP/1.1\r\n")] + [("c", line)] * 60
    d, packets = dissect_all(conversation(steps))
    assert any("head over 64 KiB" in m for m in malformed(packets))
    stream = next(iter(d.tcp.streams.values()))
    assert max(len(x.pending or b"") for x in stream.dirs) < 70_000  # never all 84 kB


def test_lying_content_length_is_malformed_at_the_close():
    steps = [("c", request()), ("s", R100[:-60]), ("s", b"", 0x11), ("c", b"", 0x11)]
    _d, packets = dissect_all(conversation(steps))
    assert malformed(packets) == ["http: body cut short by the end of the stream: 40 of 100 bytes"]
    assert packets[-2].info.startswith("HTTP/1.1 200 OK")  # shown at the FIN, as far as it goes


@pytest.mark.parametrize("chunk", [b"zz\r\nhello\r\n0\r\n\r\n", b"5\r\nhelloXX0\r\n\r\n",
                                   b"-1\r\n", b"f" * 2000])  # fmt: skip
def test_bogus_chunk_size_is_malformed(chunk):
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    _d, packets = dissect_all(conversation([("c", request()), ("s", head + chunk)]))
    assert any("chunk" in m for m in malformed(packets))


def test_bad_content_length_is_malformed():
    steps = [
        ("c", request()),
        ("s", b"HTTP/1.1 200 OK\r\nContent-Length: 12, 13\r\n\r\nx"),
        ("s", b"", 0x11),
    ]  # (a body whose end is unknown runs until the close)
    _d, packets = dissect_all(conversation(steps))
    assert any("bad Content-Length" in m for m in malformed(packets))


def test_truncated_http2_frame_is_malformed():
    data = frame(0, 0, 1, b"x" * 100)
    steps = [("c", MAGIC + frame(4, 0, 0, b"")), ("c", data[:50]), ("c", b"", 0x11)]
    _d, packets = dissect_all(conversation(steps, port=8080))
    assert malformed(packets) == [
        "http2: frame cut short: 50 of 109 bytes before the end of the stream"
    ]


@pytest.mark.parametrize(
    ("payload", "words"),
    [(frame(1, 0x05, 1, b"\xbf\x80"), "HPACK: index 63"),  # past the (empty) table
     (frame(1, 0x05, 1, b"\x82\x41\x85abc"), "HPACK: string of 5 bytes"),  # cut short
     (frame(1, 0x05, 1, b"\x3f\xe2\x1f\x82"), "exceeds the limit 4096"),  # size update
     (frame(6, 0, 0, b"1234567"), "FRAME_SIZE_ERROR: PING frame of length 7"),
     (frame(4, 0, 1, b""), "PROTOCOL_ERROR: SETTINGS frame on stream 1"),
     (frame(9, 0x04, 1, b"\x82"), "CONTINUATION on stream 1 without a header block"),
     (frame(0, 0x08, 1, b"\x09abc"), "padding of 9 bytes")],
)  # fmt: skip
def test_bad_http2_frames_are_malformed(payload, words):
    _d, packets = dissect_all(conversation([("c", MAGIC + payload)], port=8080))
    marks = malformed(packets)
    assert marks and words in marks[0]


def test_settings_header_table_size_is_honoured():
    """A side's SETTINGS_HEADER_TABLE_SIZE limits the table its peer encodes into: the
    client allows 100 bytes, so the server's size update to 4096 is an error, and its
    update to 64 followed by an indexed literal decodes."""
    client_settings = frame(4, 0, 0, struct.pack("!HI", 1, 100))
    ok = b"\x3f\x21" + b"\x88"  # size update to 64, :status 200
    steps = [("c", MAGIC + client_settings), ("s", frame(4, 0, 0, b"") + frame(1, 0x04, 1, ok))]
    _d, packets = dissect_all(conversation(steps, port=8080))
    assert not malformed(packets) and packets[-1].info.endswith("HEADERS[1]: 200 OK")
    bad = b"\x3f\xe1\x1f" + b"\x88"  # size update to 4096
    steps = [("c", MAGIC + client_settings), ("s", frame(4, 0, 0, b"") + frame(1, 0x04, 1, bad))]
    _d, packets = dissect_all(conversation(steps, port=8080))
    assert "exceeds the limit 100" in malformed(packets)[0]


def test_hpack_state_lost_after_an_error():
    """A block that does not decode leaves the table unknown: later blocks in that
    direction are marked, not decoded against a wrong table."""
    good = hpack.Encoder().encode([(":method", "GET"), (":path", "/")])
    steps = [("c", MAGIC + frame(1, 0x05, 1, b"\xbf")), ("c", frame(1, 0x05, 3, good))]
    _d, packets = dissect_all(conversation(steps, port=8080))
    assert "HPACK state was lost" in packets[-1].malformed


def test_body_over_a_mebibyte_is_passed_over_in_step():
    """Not kept (TCP would give up at 1 MiB): the head is shown at once, the body's
    segments pass, and the next response is found where it starts."""
    size = 3 << 20
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % size
    body = [("s", b"x" * 60000)] * (size // 60000) + [("s", b"x" * (size % 60000))]
    steps = [("c", request() * 2), ("s", head), *body, ("s", response(b"next"))]
    d, packets = dissect_all(conversation(steps))
    assert packets[4].info.startswith("HTTP/1.1 200 OK")
    assert packets[-1].info == "HTTP/1.1 200 OK  (text/html)"
    stream = next(iter(d.tcp.streams.values()))
    assert max(len(x.pending or b"") for x in stream.dirs) < 100


def test_chunked_body_over_a_mebibyte_is_walked_in_step():
    chunk = b"%x\r\n" % 50000 + b"y" * 50000 + b"\r\n"
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    steps = [("c", request() * 2), ("s", head)] + [("s", chunk)] * 30
    steps += [("s", b"0\r\n\r\n"), ("s", response(b"next"))]
    d, packets = dissect_all(conversation(steps))
    assert packets[-1].info == "HTTP/1.1 200 OK  (text/html)"
    assert not malformed(packets)
    stream = next(iter(d.tcp.streams.values()))
    assert max(len(x.pending or b"") for x in stream.dirs) < 100


def test_many_tiny_chunks_are_linear():
    """A hostile chunked body of 1-byte chunks in 10-byte segments: every segment scans
    only its new bytes (work is counted as PDUs found, not timed)."""
    chunks = b"1\r\nx\r\n" * 20_000
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    data = head + chunks + b"0\r\n\r\n"
    steps = [("c", request())] + [("s", data[i : i + 10]) for i in range(0, len(data), 10)]
    start = time.process_time()
    _d, packets = dissect_all(conversation(steps))
    assert packets[-1].info == "HTTP/1.1 200 OK  (text/plain)" or packets[-1].protocol == "HTTP"
    assert time.process_time() - start < 60  # (a hang guard, not a speed test)


def test_random_segments_never_raise():
    """Seeds for the fuzz target's shapes: HTTP-looking bytes cut anywhere."""
    from random import Random

    rng = Random(7)
    sources = [request() + R100 + CHUNKED, MAGIC + b"".join(s[1] for s in _h2_steps())]
    for _ in range(200):
        data = bytearray(rng.choice(sources))
        for _ in range(rng.randint(0, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        cuts = sorted(rng.sample(range(1, len(data)), min(6, len(data) - 1)))
        pieces = [bytes(data[a:b]) for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        port = rng.choice([80, 8080, 5000])
        dissect_all(conversation([("c", p) for p in pieces] + [("c", b"", 0x11)], port=port))


def test_first_fragment_decodes_a_segment_alone():
    """A segment in the first fragment of an IP datagram that is not reassembled: no
    stream state, its messages as far as it holds them."""
    payload = request() + R100
    tcp = struct.pack("!HHIIHHHH", 40000, 80, 1, 1, (5 << 12) | 0x18, 65535, 0, 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 400, 1, 0x2000, 64, 6, 0, CLIENT, SERVER)
    _d, packets = dissect_all([b"\x00" * 11 + b"\x01\x08\x00" + ip + tcp])
    assert packets[0].protocol == "HTTP"


def test_display_filters_know_the_names(recorded):
    path, _ = recorded
    for flt in ('http.request.method == "HEAD"', "http2.type == 1", "http.response.code == 404"):
        out = subprocess.run([netlab_bin(), "dissect", "-Y", flt, str(path)],
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
        assert out.strip(), flt
