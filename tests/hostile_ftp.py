"""Hostile FTP servers on loopback, for tests/test_ftp.py: each logs the client in and
then misbehaves in one way. Bounded: a `procs.LoopbackServer` (one thread, at most 15 s,
stopped when the test leaves its `with` block).

- "foreign-227": answers PASV with a 227 naming 127.0.0.2 (not the 127.0.0.1 the client
  talks to), where it does listen and serves a listing: refused unless
  --allow-foreign-pasv;
- "endless": answers USER with a multiline 230 that never ends;
- "long-line": answers USER with one line that never ends;
- "garbage": greets with binary bytes;
- "silent": accepts and says nothing.
"""

from __future__ import annotations

import socket
import time

from tests import procs

LISTING = b"-rw-r--r--    1 0        0              42 Jan 01 00:00 elsewhere.txt\r\n"


class HostileFtpServer(procs.LoopbackServer):
    def __init__(self, name: str) -> None:
        self.name = name
        self.sent = 0  # bytes of the endless reply sent
        super().__init__()

    def url(self, path: str = "") -> str:
        return f"ftp://127.0.0.1:{self.port}/{path}"

    def handle(self, conn: socket.socket) -> None:
        self._one(conn, time.monotonic() + self.lifetime)

    def _one(self, conn: socket.socket, end: float) -> None:
        if self.name == "garbage":
            conn.sendall(bytes(range(0x80, 0xC0)) + b"\x00\x16\x03\x01\r\n")  # (not 3 digits)
            time.sleep(0.3)
            return
        if self.name == "silent":
            while not self.stop.is_set() and time.monotonic() < end:
                time.sleep(0.05)
            return
        conn.sendall(b"220 hostile\r\n")
        lines = _Lines(conn)
        lines.next()  # USER
        if self.name == "endless":
            conn.sendall(b"230-welcome\r\n")
            while not self.stop.is_set() and time.monotonic() < end:
                self.sent += len(chunk := b"230-and more\r\n" * 512)
                conn.sendall(chunk)
            return
        if self.name == "long-line":
            conn.sendall(b"230 " + b"x" * 100_000)
            time.sleep(0.5)
            return
        conn.sendall(b"230 in\r\n")
        lines.next()  # TYPE I
        conn.sendall(b"200 ok\r\n")
        lines.next()  # PASV
        data = socket.create_server(("127.0.0.2", 0))
        with data:
            data.settimeout(3)
            port = data.getsockname()[1]
            conn.sendall(f"227 Entering Passive Mode (127,0,0,2,{port >> 8},{port & 255})\r\n"
                         .encode())  # fmt: skip
            try:
                peer, _ = data.accept()
            except (TimeoutError, OSError):
                return  # (refused: the client never came)
            lines.next()  # LIST
            conn.sendall(b"150 here\r\n")
            with peer:
                peer.sendall(LISTING)
            conn.sendall(b"226 done\r\n")
            lines.next()  # QUIT
            conn.sendall(b"221 bye\r\n")


class _Lines:
    def __init__(self, conn: socket.socket) -> None:
        self.conn, self.buf = conn, b""

    def next(self) -> bytes:
        while b"\n" not in self.buf:
            piece = self.conn.recv(4096)
            if not piece:
                raise OSError("closed")
            self.buf += piece
        line, _, self.buf = self.buf.partition(b"\n")
        return line
