"""Hostile TLS servers on loopback: each reads the ClientHello and answers with one
kind of bad flight (bounded in time; one thread per connection)."""

from __future__ import annotations

import os
import socket
import struct
import time

from tests import procs

LIFETIME = 15.0


def _record(ctype: int, payload: bytes, length: int | None = None) -> bytes:
    n = len(payload) if length is None else length
    return struct.pack("!BHH", ctype, 0x0303, n) + payload


def _handshake(mtype: int, body: bytes, length: int | None = None) -> bytes:
    n = len(body) if length is None else length
    return bytes([mtype]) + n.to_bytes(3, "big") + body


def _server_hello() -> bytes:
    """A TLS 1.2 ServerHello choosing ECDHE-RSA-AES128-GCM-SHA256, no extensions."""
    body = struct.pack("!H", 0x0303) + os.urandom(32) + b"\x00" + struct.pack("!HB", 0xC02F, 0)
    return _handshake(2, body)


def _certificate(certs: list[bytes]) -> bytes:
    entries = b"".join(len(c).to_bytes(3, "big") + c for c in certs)
    return _handshake(11, len(entries).to_bytes(3, "big") + entries)


SCRIPTS = {
    # A record length past 2^14 + 2048, and bytes that never end.
    "huge-record": lambda: _record(22, b"\x02" * 64, length=0xFFFF),
    # A handshake message claiming 16 MB.
    "huge-handshake": lambda: _record(
        22, _handshake(11, b"\x00" * 100, length=16 * 1024 * 1024 - 1)
    ),
    # A certificate list of 1,000 (tiny) entries.
    "thousand-certs": lambda: b"".join(
        _record(22, piece)
        for piece in _chunks(_server_hello() + _certificate([b"\x30\x03\x02\x01\x01"] * 1000))
    ),
    # A certificate that is not ASN.1.
    "bad-asn1": lambda: _record(
        22, _server_hello() + _certificate([b"this is no certificate"]) + _handshake(14, b"")
    ),
    # An alert in the middle of the handshake.
    "alert": lambda: _record(22, _server_hello()) + _record(21, b"\x02\x28"),
    # Not TLS at all.
    "http": lambda: b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
}


def _chunks(data: bytes, size: int = 1 << 14) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


class HostileTlsServer(procs.LoopbackServer):
    lifetime = LIFETIME

    def __init__(self, name: str) -> None:
        self.reply = SCRIPTS[name]
        super().__init__()

    def handle(self, conn: socket.socket) -> None:
        conn.recv(65536)  # the ClientHello
        conn.sendall(self.reply())
        time.sleep(0.3)
