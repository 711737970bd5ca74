"""`netlab http --compressed` with Content-Encoding: br (Brotli, RFC 7932).

- A real peer: a loopback server sends bodies encoded with the brotli module; netlab's
  decoded bytes are compared with curl --compressed on the same URL (Debian's curl is
  built with brotli) and with the original bytes.
- A hostile peer: br bombs (1 GiB of zeros in about 200 KB; 512 MiB in under 1 KB) are
  stopped at the gzip path's 256 MiB cap, with one line and bounded memory.
- The core, with a fake clock: what one read inflates to goes out BR_BUDGET at a time,
  and the next request waits for it.
- The dissector decodes a br body as tshark does (http.file_data), bounded as gzip's.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import sys
import time

import brotli
import pytest

from netlab.core.base import Write
from netlab.core.http import (
    BR_BUDGET,
    BodyChunk,
    BrotliDecoder,
    BrotliError,
    Options,
    default_headers,
    parse_url,
)
from netlab.core.http import Request as HttpRequest
from netlab.dissect.http import MAX_INFLATE
from tests import procs
from tests.test_dissect_http import (
    assert_agree,
    conversation,
    dissect_all,
    netlab_rows,
    request,
    response,
    write_pcap,
)
from tests.test_http import PairH1, _ok

NETLAB = [sys.executable, "-m", "netlab", "http"]


def _text(size: int, seed: int) -> bytes:
    """SIZE bytes of word salad: compresses like real text (a few to one), not like zeros."""
    rng = random.Random(seed)
    words = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
        for _ in range(2000)
    ]
    out = bytearray()
    while len(out) < size:
        out += " ".join(rng.choices(words, k=12)).encode() + b".\n"
    return bytes(out[:size])


PAGE = _text(3 << 20, 14)  # past BrotliDecoder's 1 MiB pieces, over many socket reads
# 40 MiB from a few hundred bytes (one read): decoded over several timer ticks (BR_BUDGET).
SPARSE = bytes(40 << 20) + b"the end\n"
ORIGINAL = {"/page": PAGE, "/chunked": PAGE, "/sparse": SPARSE}


def _head(conn: socket.socket) -> bytes:
    data = b""
    end = time.monotonic() + 5
    while b"\r\n\r\n" not in data and time.monotonic() < end and len(data) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


class BrServer(procs.LoopbackServer):
    """Answers GET PATH with ROUTES[PATH] (the encoded body), `Content-Encoding: br`;
    /chunked sends /page's body in chunks. Keeps connections alive (a few requests
    each) and each request head it got."""

    concurrent = True

    def __init__(self, routes: dict[bytes, bytes]) -> None:
        self.routes = routes
        self.heads: list[bytes] = []
        super().__init__()

    def handle(self, conn: socket.socket) -> None:
        for _ in range(8):
            head = _head(conn)
            if not head.endswith(b"\r\n\r\n"):
                return
            self.heads.append(head)
            self.answer(conn, head)

    def answer(self, conn: socket.socket, head: bytes) -> None:
        path = head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b"/"
        chunked = path == b"/chunked"
        body = self.routes[b"/page" if chunked else path]
        framing = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % len(body)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: br\r\n"
            + framing
            + b"\r\n\r\n"
        )
        if not chunked:
            conn.sendall(body)
            return
        for at in range(0, len(body), 7000):
            piece = body[at : at + 7000]
            conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        conn.sendall(b"0\r\n\r\n")


@pytest.fixture(scope="module")
def server():
    routes = {
        b"/page": brotli.compress(PAGE, quality=5),
        b"/sparse": brotli.compress(SPARSE, quality=5),
        # 1 GiB of zeros: about 200 KB on the wire, over several reads (quality 1 is
        # the quickest to make); 512 MiB in under 1 KB, in the same read as the head.
        b"/bomb": brotli.compress(bytes(1 << 30), quality=1),
        b"/small-bomb": brotli.compress(bytes(512 << 20), quality=5),
        b"/garbage": b"this is not brotli at all" * 10,
    }
    with BrServer(routes) as srv:
        yield srv


def _accept_encoding(head: bytes) -> str:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"accept-encoding":
            return value.strip().decode()
    return ""


def test_curl_is_built_with_brotli():
    """The oracle below must decode br itself, or the comparison proves nothing."""
    curl = shutil.which("curl")
    assert curl, "curl is not installed (make deps)"
    features = subprocess.run([curl, "-V"], capture_output=True, text=True, check=True).stdout
    assert "brotli" in features.lower()


@pytest.mark.parametrize("path", ["/page", "/chunked", "/sparse"])
def test_br_body_decodes_as_curl_decodes_it(server, path):
    url = f"http://127.0.0.1:{server.port}{path}"
    before = len(server.heads)
    ours = subprocess.run([*NETLAB, "--compressed", url], capture_output=True, timeout=30)
    theirs = subprocess.run(["curl", "-s", "--compressed", url], capture_output=True, timeout=30)
    assert ours.returncode == 0, ours.stderr
    assert theirs.returncode == 0, theirs.stderr
    assert len(ours.stdout) == len(ORIGINAL[path])
    assert ours.stdout == theirs.stdout == ORIGINAL[path]
    # netlab offers what curl offers, in curl's order (curl adds zstd where it has it).
    ours_ae, curl_ae = (_accept_encoding(h) for h in server.heads[before : before + 2])
    assert ours_ae == "deflate, gzip, br"
    assert curl_ae.split(", ")[:3] == ours_ae.split(", ")


def test_bodies_of_several_urls_keep_their_order(server):
    """The 40 MiB body is still being decoded when the next URL could go on the kept-alive
    connection: it waits, or its body would come out in the middle of the first."""
    urls = [f"http://127.0.0.1:{server.port}{p}" for p in ("/sparse", "/page", "/sparse")]
    ours = subprocess.run([*NETLAB, "--compressed", *urls], capture_output=True, timeout=60)
    theirs = subprocess.run(["curl", "-s", "--compressed", *urls], capture_output=True, timeout=60)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout == SPARSE + PAGE + SPARSE


def test_br_body_counts_wire_and_decoded_bytes(server):
    import json

    url = f"http://127.0.0.1:{server.port}/page"
    proc = subprocess.run([*NETLAB, "--json", "--compressed", url], capture_output=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    req = json.loads(proc.stdout)["requests"][0]
    assert req["body_bytes"] == len(PAGE)
    assert ("Content-Encoding", "br") in [tuple(h) for h in req["headers"]]


def test_without_compressed_the_br_body_is_left_alone(server):
    url = f"http://127.0.0.1:{server.port}/page"
    proc = subprocess.run([*NETLAB, url], capture_output=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == server.routes[b"/page"]
    assert _accept_encoding(server.heads[-1]) == ""


@pytest.mark.parametrize("path", ["/bomb", "/small-bomb"])
def test_br_bomb_is_stopped_with_one_line_and_bounded_memory(server, path):
    assert len(server.routes[path.encode()]) < 250_000
    url = f"http://127.0.0.1:{server.port}{path}"
    start = time.monotonic()
    proc = subprocess.run(
        ["/usr/bin/time", "-q", "-f", "%M", *NETLAB, "--compressed", "-p", "h", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    took = time.monotonic() - start
    lines = proc.stderr.strip().splitlines()
    max_rss_kb = int(lines[-1])
    assert proc.returncode == 1, proc
    assert len(lines) == 2, lines
    assert lines[0].startswith("netlab: error: ") and "inflates past 256 MiB" in lines[0]
    assert took < 20
    # The cap is 256 MiB of decoded body, the gzip path's; what one read or timer tick
    # inflates to is at most 16 MiB (BR_BUDGET), so the peak stays far below the cap
    # (the gzip bomb's peak, for scale: about 160 MB, deflate giving 64 MiB a read).
    assert max_rss_kb < 150_000, f"{max_rss_kb} KiB: the decoded body piled up in memory"


def test_malformed_br_body_is_one_line(server):
    url = f"http://127.0.0.1:{server.port}/garbage"
    proc = subprocess.run([*NETLAB, "--compressed", url], capture_output=True, text=True)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1, proc
    assert len(lines) == 1 and lines[0].startswith("netlab: error: malformed compressed body: ")


def test_offline_request_offers_br():
    req = HttpRequest("GET", parse_url("http://server/"))
    fields = dict(default_headers(req, Options(compressed=True)))
    assert fields["Accept-Encoding"] == "deflate, gzip, br"
    assert "Accept-Encoding" not in dict(default_headers(req, Options()))


def test_decoder_hands_out_bounded_pieces():
    """The core's decoder: pieces of about 1 MiB, at most BUDGET bytes a call, the rest
    kept (input that comes meanwhile is queued) and given by the next calls; all of
    them make the original."""
    original = bytes(8 << 20) + PAGE[:1000]
    encoded = brotli.compress(original, quality=9)
    decoder = BrotliDecoder(budget=3 << 20)
    calls = [list(decoder.pieces(encoded[:50]))]
    calls.append(list(decoder.pieces(encoded[50:])))  # queued: output is still inside
    assert decoder.busy
    while decoder.busy and len(calls) < 20:
        calls.append(list(decoder.pieces(b"")))
    assert not decoder.busy and list(decoder.pieces(b"")) == []
    sizes = [sum(len(p) for p in call) for call in calls]
    assert max(len(p) for call in calls for p in call) <= 2 << 20
    assert max(sizes) < (3 << 20) + (2 << 20) and len(calls) >= 3, sizes
    assert b"".join(p for call in calls for p in call) == original
    with pytest.raises(BrotliError):
        list(BrotliDecoder().pieces(b"\xff" * 64))


def test_a_decoded_body_goes_out_in_budgets_before_the_next_request():
    """The core with a fake clock: a body that inflates past BR_BUDGET from one read is
    handed out a budget per timer tick (the deadline is "now" meanwhile), and the next
    request on the kept-alive connection goes only once it is all out."""
    encoded = brotli.compress(SPARSE, quality=5)

    def respond(srv, req):
        if req.target == b"/sparse":
            return _ok(srv, req, encoded, ("Content-Encoding", "br"))
        return _ok(srv, req, b"next")

    pair = PairH1(["server/sparse", "server/next"], respond, compressed=True)
    client = pair.client
    todo, log, ticks = list(client.start(pair.tick())), [], 0
    for _ in range(200):
        if not todo:
            if client.done():
                break
            assert client.deadline() <= pair.now  # more of the body is due at once
            ticks += 1
            todo = list(client.on_timer(pair.tick()))
        else:
            action = todo.pop(0)
            if isinstance(action, Write) and action.data.startswith(b"GET /next"):
                log.append("sent /next")
            todo += pair.apply(action)
        chunks = [e for e in client.pop_events() if isinstance(e, BodyChunk)]
        assert sum(len(e.data) for e in chunks) <= BR_BUDGET + (2 << 20)
        log += [(e.exchange.index, e.data) for e in chunks]
    assert client.done() and ticks >= 2
    first = [entry for entry in log if entry != "sent /next" and entry[0] == 0]
    assert b"".join(data for _, data in first) == SPARSE
    assert log.index("sent /next") == len(first)  # after the whole first body, not before
    assert [bytes(client.fetches[i][0].body[:4]) for i in (0, 1)] == [bytes(4), b"next"]


# --- the dissector, against tshark ---------------------------------------------------------
def test_dissector_decodes_br_bodies_as_tshark_does(tmp_path):
    text = PAGE[:6000]
    body = brotli.compress(text)
    steps = [
        ("c", request(extra=b"Accept-Encoding: br\r\n")),
        ("s", response(body, b"text/plain", b"Content-Encoding: br\r\n")),
    ]
    path = write_pcap(tmp_path / "br.pcap", conversation(steps))
    assert_agree(path)
    shown = [r["http.file_data"] for r in netlab_rows(path) if "http.file_data" in r]
    assert shown == [[text.decode().replace("\n", "\\n")]]


def test_dissector_bounds_a_br_bomb():
    """64 MiB of zeros in about 100 bytes: the body shown stops at 1 MiB, as gzip's does."""
    bomb = brotli.compress(bytes(64 << 20), quality=5)
    steps = [("c", request()), ("s", response(bomb, b"text/plain", b"Content-Encoding: br\r\n"))]
    _, packets = dissect_all(conversation(steps))
    data = [p.field_dict().get("http.file_data") for p in packets]
    shown = [d for d in data if d is not None]
    assert len(shown) == 1 and len(shown[0]) == MAX_INFLATE
    assert not any(p.malformed for p in packets)
