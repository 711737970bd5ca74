"""Hostile DHT nodes on loopback: one UDP socket answering every query with one kind of
bad answer (bounded in time; a thread)."""

from __future__ import annotations

import os
import socket
import struct

from netlab.wire import bencode
from tests import procs

NODE_ID = bytes.fromhex("ff" * 20)


def _reply(tid: bytes, body: dict) -> bytes:
    return bencode.encode({"t": tid, "y": "r", "r": {"id": NODE_ID, **body}})


def _tid(data: bytes) -> bytes:
    try:
        return bencode.decode(data, strict=False)[b"t"]
    except (bencode.BencodeError, KeyError, TypeError):
        return b"xx"


def _many_nodes(tid: bytes, port: int) -> bytes:
    """2,000 nodes (all of one unreachable address): more than any answer may hold."""
    nodes = b"".join(
        os.urandom(20) + bytes([127, 0, 0, 1]) + struct.pack(">H", 9) for _ in range(2000)
    )
    return _reply(tid, {"nodes": nodes, "token": b"tk"})


SCRIPTS = {
    "deep": lambda tid, port: b"l" * 30_000 + b"e" * 30_000,  # one datagram: 60 KB
    "huge-string": lambda tid, port: b"d1:t2:aa1:y1:r1:rd2:id2147483648:" + b"x" * 100 + b"ee",
    "many-nodes": _many_nodes,
    "lying-compact": lambda tid, port: _reply(tid, {"nodes": b"\x01" * 27, "token": b"tk"}),
    "only-itself": lambda tid, port: _reply(
        tid, {"nodes": NODE_ID + bytes([127, 0, 0, 1]) + struct.pack(">H", port), "token": b"t"}
    ),
    "error": lambda tid, port: bencode.encode({"t": tid, "y": "e", "e": [203, "Bad token"]}),
}


class HostileDhtNode(procs.LoopbackServer):
    kind = socket.SOCK_DGRAM

    def __init__(self, name: str) -> None:
        self.reply = SCRIPTS[name]
        self.queries = 0
        super().__init__()

    def datagram(self, data: bytes, addr: tuple) -> bytes:
        self.queries += 1
        return self.reply(_tid(data), self.port)
