"""KRPC (BEP 5): the BitTorrent DHT's messages, bencoded dictionaries over UDP.

    query     {"t": tid, "y": "q", "q": method, "a": {"id": our id, …}}
    response  {"t": tid, "y": "r", "r": {"id": their id, …}}
    error     {"t": tid, "y": "e", "e": [code, message]}   201 generic, 202 server,
                                                          203 protocol, 204 method unknown

Methods: ping, find_node (target), get_peers (info_hash: answered with `values`,
compact peers, and/or `nodes`, plus a `token`), announce_peer (info_hash, port,
token), sample_infohashes (BEP 51). Nodes travel as compact node info: 26 bytes
per IPv4 node (id, address, port), 38 per IPv6 node (`nodes6`); peers as 6 or 18
bytes. Parsing is bounded: a message's lists are cut at MAX_NODES and a compact
string whose length is not a multiple of its unit is reported, not trusted.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field

from netlab.wire import bencode

MAX_NODES = 256  # nodes taken from one answer (the rest counted as ignored)
MAX_PEERS = 1024
ERRORS = {201: "Generic Error", 202: "Server Error", 203: "Protocol Error", 204: "Method Unknown"}


class KrpcError(ValueError):
    """A datagram that is not a KRPC message (one line)."""


@dataclass(frozen=True)
class NodeInfo:
    id: bytes
    host: str
    port: int

    @property
    def addr(self) -> tuple[str, int]:
        return (self.host, self.port)


@dataclass
class Message:
    tid: bytes
    kind: str  # "q", "r" or "e"
    method: str | None = None  # queries
    args: dict = field(default_factory=dict)  # "a" or "r", keys as str
    error: tuple[int, str] | None = None
    nodes: list[NodeInfo] = field(default_factory=list)
    peers: list[tuple[str, int]] = field(default_factory=list)
    ignored: int = 0  # nodes or peers past the limits, or a compact string cut short
    client: bytes | None = None  # "v": the client's version tag

    @property
    def node_id(self) -> bytes | None:
        value = self.args.get("id")
        return value if isinstance(value, bytes) and len(value) == 20 else None

    @property
    def token(self) -> bytes | None:
        value = self.args.get("token")
        return value if isinstance(value, bytes) else None


def query(tid: bytes, method: str, args: dict) -> bytes:
    return bencode.encode({"t": tid, "y": "q", "q": method, "a": args})


def parse(data: bytes) -> Message:
    try:
        msg = bencode.decode(data, strict=False, allow_trailing=False)
    except bencode.BencodeError as err:
        raise KrpcError(str(err)) from None
    if not isinstance(msg, dict) or b"y" not in msg or b"t" not in msg:
        raise KrpcError("not a KRPC message (no 'y' or 't')")
    kind = msg[b"y"]
    tid = msg[b"t"]
    if kind not in (b"q", b"r", b"e") or not isinstance(tid, bytes):
        raise KrpcError(f"KRPC message type {kind!r}")
    m = Message(tid, kind.decode())
    m.client = msg.get(b"v") if isinstance(msg.get(b"v"), bytes) else None
    if kind == b"e":
        e = msg.get(b"e")
        if isinstance(e, list) and len(e) >= 2 and isinstance(e[0], int):
            m.error = (e[0], e[1].decode("utf-8", "replace") if isinstance(e[1], bytes) else "")
        else:
            m.error = (0, "malformed error")
        return m
    body = msg.get(b"a" if kind == b"q" else b"r")
    if not isinstance(body, dict):
        raise KrpcError(f"KRPC {kind.decode()} without its '{'a' if kind == b'q' else 'r'}'")
    m.args = {k.decode("latin-1"): v for k, v in body.items()}
    if kind == b"q":
        method = msg.get(b"q")
        m.method = method.decode("latin-1") if isinstance(method, bytes) else None
    m.nodes, ignored4 = compact_nodes(m.args.get("nodes"), 4)
    nodes6, ignored6 = compact_nodes(m.args.get("nodes6"), 6)
    m.nodes += nodes6
    m.peers, ignored_peers = compact_peers(m.args.get("values"))
    m.ignored = ignored4 + ignored6 + ignored_peers
    return m


def compact_nodes(raw, family: int) -> tuple[list[NodeInfo], int]:
    if not isinstance(raw, bytes):
        return [], 0
    unit = 26 if family == 4 else 38
    count, rest = divmod(len(raw), unit)
    ignored = (1 if rest else 0) + max(0, count - MAX_NODES)
    out = []
    for i in range(min(count, MAX_NODES)):
        chunk = raw[i * unit : (i + 1) * unit]
        host = str(ipaddress.ip_address(chunk[20:-2]))
        port = struct.unpack(">H", chunk[-2:])[0]
        if port:
            out.append(NodeInfo(chunk[:20], host, port))
        else:
            ignored += 1
    return out, ignored


def compact_peers(raw) -> tuple[list[tuple[str, int]], int]:
    if not isinstance(raw, list):
        return [], 0
    out, ignored = [], 0
    for item in raw:
        if len(out) >= MAX_PEERS or not isinstance(item, bytes) or len(item) not in (6, 18):
            ignored += 1
            continue
        out.append((str(ipaddress.ip_address(item[:-2])), struct.unpack(">H", item[-2:])[0]))
    return out, ignored


def pack_node(node: NodeInfo) -> bytes:
    return node.id + ipaddress.ip_address(node.host).packed + struct.pack(">H", node.port)


def pack_peer(host: str, port: int) -> bytes:
    return ipaddress.ip_address(host).packed + struct.pack(">H", port)


def distance(a: bytes, b: bytes) -> int:
    return int.from_bytes(a, "big") ^ int.from_bytes(b, "big")


def bucket(a: bytes, b: bytes) -> int:
    """Leading zero bits of the XOR distance: the k-bucket index (160 for a == b)."""
    return 160 - distance(a, b).bit_length()
