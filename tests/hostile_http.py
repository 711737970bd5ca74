"""Hostile HTTP servers on loopback, one behaviour each, for `netlab http` tests.

    with HostileServer("endless-chunked") as srv:
        run netlab http http://127.0.0.1:{srv.port}/

Each accepted connection is served by a thread that writes its script until the
client goes away or `LIFETIME` seconds pass (every loop is bounded), then closes.
"""

from __future__ import annotations

import socket
import struct
import time

from tests import procs

LIFETIME = 20.0
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def _frame(ftype: int, flags: int, stream: int, payload: bytes) -> bytes:
    n = len(payload)
    return struct.pack("!BHBBI", n >> 16, n & 0xFFFF, ftype, flags, stream) + payload


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    end = time.monotonic() + 5
    while b"\r\n\r\n" not in data and time.monotonic() < end:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def _read_preface(conn: socket.socket) -> None:
    data = b""
    end = time.monotonic() + 5
    while len(data) < len(PREFACE) and time.monotonic() < end:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk


def _forever(conn: socket.socket, piece: bytes, deadline: float) -> None:
    while time.monotonic() < deadline:
        conn.sendall(piece)


SCRIPTS = {}


def script(name):
    def register(fn):
        SCRIPTS[name] = fn
        return fn

    return register


@script("headers-without-end")
def _headers_without_end(conn, deadline):
    _read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    _forever(conn, b"X-More: and more and more\r\n", deadline)


@script("huge-header-line")
def _huge_header_line(conn, deadline):
    _read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Huge: ")
    sent = 0
    piece = b"a" * 65536
    while sent < 100 * 1024 * 1024 and time.monotonic() < deadline:  # the 100 MB line
        conn.sendall(piece)
        sent += len(piece)


@script("endless-chunked")
def _endless_chunked(conn, deadline):
    _read_request(conn)
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    _forever(conn, b"1000\r\n" + b"x" * 4096 + b"\r\n", deadline)


@script("short-body")
def _short_body(conn, deadline):
    _read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly ten b")


@script("long-body")
def _long_body(conn, deadline):
    _read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n" + b"z" * 1000)
    time.sleep(0.5)


@script("one-then-close")
def _one_then_close(conn, deadline):
    """Answers one request as if keeping the connection alive (HTTP/1.1, no
    Connection: close), then takes the next request and closes without a word, as
    opentracker does."""
    _read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    _read_request(conn)


@script("garbage")
def _garbage(conn, deadline):
    _read_request(conn)
    conn.sendall(b"\x16\x03\x01\x00\x05hello, not HTTP at all\r\n\r\n")


@script("settings-flood")
def _settings_flood(conn, deadline):
    _read_preface(conn)
    _forever(conn, _frame(0x4, 0, 0, struct.pack("!HI", 0x3, 100)) * 64, deadline)


@script("huge-headers")
def _huge_headers(conn, deadline):
    """HEADERS for stream 1 whose header list is far past any sane limit (1 MiB of
    literal fields without indexing, cut into CONTINUATION frames)."""
    _read_preface(conn)
    conn.sendall(_frame(0x4, 0, 0, b""))
    field = b"\x00\x05x-big\x7f\x81\x7f" + b"v" * (127 + 16255)  # a 16 KiB literal value
    block = b"\x88" + field * 64  # :status 200, then 1 MiB of fields
    first, rest = block[:16384], block[16384:]
    frames = [_frame(0x1, 0, 1, first)]
    while rest:
        piece, rest = rest[:16384], rest[16384:]
        frames.append(_frame(0x9, 0 if rest else 0x4, 1, piece))
    for f in frames:
        if time.monotonic() > deadline:
            break
        conn.sendall(f)
    time.sleep(0.5)


class HostileServer(procs.LoopbackServer):
    lifetime = LIFETIME
    concurrent = True  # some scripts never stop talking; the client may connect again

    def __init__(self, name: str, host: str = "127.0.0.1") -> None:
        self.run = SCRIPTS[name]
        super().__init__(host)

    def handle(self, conn: socket.socket) -> None:
        self.run(conn, time.monotonic() + LIFETIME)
