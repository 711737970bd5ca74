"""RTMP peers on loopback for tests: nginx with Debian's RTMP module, ffmpeg publishing
a test pattern into it, and hostile servers (one bad behaviour each).

Every process is started by the test, stopped by pid, and bounded in time."""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import time
from pathlib import Path

from tests import procs

RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"


class NginxRtmp:
    """nginx-rtmp on 127.0.0.1:PORT, application `live` (recording to DIR/rec when asked).
    With second_port, it also listens on `play_port` (the same server), so a capture of
    that port holds only the connections made to it (players), not the publisher's."""

    def __init__(
        self, tmp: Path, *, record: bool = False, chunk_size: int = 4096, second_port: bool = False
    ) -> None:
        self.dir = tmp / "nginx-rtmp"
        (self.dir / "logs").mkdir(parents=True, exist_ok=True)
        (self.dir / "rec").mkdir(exist_ok=True)
        self.port = procs.free_port()
        self.play_port = procs.free_port() if second_port else self.port
        second = f" listen 127.0.0.1:{self.play_port};" if second_port else ""
        rec = (
            f"record all; record_path {self.dir / 'rec'}; record_unique off;"
            if record
            else "record off;"
        )
        (self.dir / "nginx.conf").write_text(f"""
load_module {RTMP_MODULE};
daemon off;
master_process off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/logs/error.log notice;
events {{ worker_connections 64; }}
rtmp {{ server {{ listen 127.0.0.1:{self.port};{second} chunk_size {chunk_size};
  application live {{ live on; {rec} }} }} }}
""")
        self.proc: subprocess.Popen | None = None
        self.publisher: subprocess.Popen | None = None

    def url(self, stream: str, port: int | None = None) -> str:
        return f"rtmp://127.0.0.1:{port or self.port}/live/{stream}"

    def __enter__(self) -> NginxRtmp:
        self.proc = subprocess.Popen(
            ["nginx", "-e", "stderr", "-p", str(self.dir), "-c", str(self.dir / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.wait_port(self.port)
        return self

    def publish_testsrc(self, stream: str = "test", gop: int = 25) -> None:
        """ffmpeg publishing a 320x240 test pattern, one IDR every GOP frames, until stopped."""
        argv = [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-re",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=25",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-tune",
            "zerolatency",
            "-profile:v",
            "baseline",
            "-pix_fmt",
            "yuv420p",
            "-g",
            str(gop),
            "-keyint_min",
            str(gop),
            "-sc_threshold",
            "0",
            "-t",
            "60",
            "-f",
            "flv",
            self.url(stream),
        ]
        self.publisher = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(1.5)  # the stream is live once ffmpeg has sent its first GOP

    def __exit__(self, *exc) -> None:
        procs.end(self.publisher)
        procs.end(self.proc)


# --- hostile servers ------------------------------------------------------------------------------
def _chunk0(csid: int, type_id: int, payload: bytes, length: int | None = None) -> bytes:
    n = len(payload) if length is None else length
    head = bytes([csid]) + b"\0\0\0" + n.to_bytes(3, "big") + bytes([type_id]) + b"\0\0\0\0"
    return head + payload


def _nested_amf(depth: int) -> bytes:
    body = b"\x02\x00\x07_result" + b"\x00" + struct.pack(">d", 1.0)
    inner = b"\x05"
    for _ in range(depth):
        inner = b"\x03\x00\x01a" + inner + b"\x00\x00\x09"
    return body + inner


HOSTILE = {
    "huge-chunk-size": lambda: _chunk0(2, 1, struct.pack(">I", 0x7FFFFFFF)),
    "huge-message": lambda: _chunk0(3, 20, b"\x02" * 100, length=16 * 1024 * 1024 - 1),
    "deep-amf": lambda: _big_chunks(3, 20, _nested_amf(10_000)),
    "not-rtmp": None,
}


def _big_chunks(csid: int, type_id: int, payload: bytes) -> bytes:
    """A message cut at the default chunk size of 128 (fmt 0, then fmt 3 chunks)."""
    out = _chunk0(csid, type_id, payload[:128], length=len(payload))
    for i in range(128, len(payload), 128):
        out += bytes([0xC0 | csid]) + payload[i : i + 128]
    return out


class HostileRtmpServer(procs.LoopbackServer):
    """Does the handshake properly, then sends one bad message."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__()

    def url(self) -> str:
        return f"rtmp://127.0.0.1:{self.port}/live/x"

    def handle(self, conn: socket.socket) -> None:
        self._one(conn)

    def _one(self, conn: socket.socket) -> None:
        if self.name == "not-rtmp":
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" + b"x" * 4000)
            time.sleep(0.3)
            return
        data = b""
        while len(data) < 1537:
            piece = conn.recv(4096)
            if not piece:
                return
            data += piece
        c1 = data[1:1537]
        conn.sendall(b"\x03" + b"\0" * 8 + os.urandom(1528) + c1)
        conn.recv(65536)  # C2 and connect
        conn.sendall(HOSTILE[self.name]())
        time.sleep(0.3)


class EndlessRtmpServer(procs.LoopbackServer):
    """A live stream that never ends, as fast as loopback carries it: the handshake, the
    answers to connect, createStream and play at once, then tiny video messages (one
    non-IDR slice each) until the client leaves or SECONDS pass."""

    lifetime = 25.0

    def __init__(self, seconds: float = 20.0) -> None:
        self.seconds = seconds
        super().__init__()

    def url(self) -> str:
        return f"rtmp://127.0.0.1:{self.port}/live/x"

    def handle(self, conn: socket.socket) -> None:
        from netlab.wire import amf0

        data = b""
        while len(data) < 1537:
            piece = conn.recv(4096)
            if not piece:
                return
            data += piece
        conn.sendall(b"\x03" + b"\0" * 8 + os.urandom(1528) + data[1:1537])
        conn.recv(65536)  # C2 and connect

        def status(code: str) -> dict:
            return {"level": "status", "code": code}

        answers = [
            ("_result", 1.0, None, status("NetConnection.Connect.Success")),
            ("_result", 2.0, None, 1.0),
            ("onStatus", 0.0, None, status("NetStream.Play.Start")),
        ]
        conn.sendall(b"".join(_chunk0(3, 20, amf0.encode_values(*a)) for a in answers))
        body = bytes([0x27, 1, 0, 0, 0]) + struct.pack(">I", 2) + b"\x41\x9a"
        burst = _chunk0(6, 9, body) * 2000
        end = time.monotonic() + self.seconds
        while time.monotonic() < end and not self.stop.is_set():
            conn.sendall(burst)  # an OSError (the client left) ends the connection
