"""Small BitTorrent servers on loopback for `netlab torrent announce`/`peer` tests: HTTP
and UDP trackers and peers that answer with one kind of (often bad) answer. Each is
a thread with one socket, bounded in time (15 s), stopped on exit."""

from __future__ import annotations

import contextlib
import socket
import struct
import time

from netlab.wire import bencode, peerwire, udp_tracker
from tests import procs

PEERS = [("127.0.0.5", 6881), ("127.0.0.6", 51413)]
PEER_ID = b"-LT2080-hostile00001"


class _Server(procs.LoopbackServer):
    conn_timeout = 2.0

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.seen: list[bytes] = []
        super().__init__()


def _read_head(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


class HttpTracker(_Server):
    """modes: peers (compact), dict-peers, failure, garbage, html-404."""

    def handle(self, conn: socket.socket) -> None:
        head = _read_head(conn)
        self.seen.append(head)
        status, body = "200 OK", b""
        if self.mode == "peers":
            compact = udp_tracker.pack_peers(PEERS)
            body = bencode.encode(
                {"interval": 1800, "min interval": 900, "complete": 2, "incomplete": 0,
                 "peers": compact}
            )  # fmt: skip
            if b"/scrape" in head:
                body = bencode.encode({"files": {bytes(range(20)): {
                    "complete": 2, "downloaded": 7, "incomplete": 0}}})  # fmt: skip
        elif self.mode == "dict-peers":
            peers = [{"ip": h, "port": p, "peer id": PEER_ID} for h, p in PEERS]
            body = bencode.encode({"interval": 60, "peers": [*peers, {"ip": "x"}]})
        elif self.mode == "failure":
            body = bencode.encode({"failure reason": "torrent not registered"})
        elif self.mode == "garbage":
            body = b"<html>this is not bencode</html>"
        elif self.mode == "html-404":
            status, body = "404 Not Found", b"<html>no</html>"
        conn.sendall(
            f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n"
            "Content-Type: text/plain\r\n\r\n".encode()
            + body
        )
        # keep-alive: answer a second request (the scrape) on the same connection
        head = _read_head(conn)
        if head:
            self.seen.append(head)
            if self.mode == "peers":
                body = bencode.encode({"files": {bytes(range(20)): {
                    "complete": 2, "downloaded": 7, "incomplete": 0}}})  # fmt: skip
            conn.sendall(
                f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
            )


class UdpTracker(_Server):
    """modes: ok, wrong-tid, garbage, error, silent."""

    kind = socket.SOCK_DGRAM

    def datagram(self, data: bytes, addr: tuple) -> bytes | None:
        self.seen.append(data)
        return self.reply(data)

    def reply(self, data: bytes) -> bytes | None:
        try:
            req = udp_tracker.parse_request(data)
        except udp_tracker.UdpTrackerError:
            return None
        tid = req.transaction_id
        if self.mode == "silent":
            return None
        if self.mode == "wrong-tid":
            tid ^= 0xFFFFFFFF
        if self.mode == "garbage":
            return b"\x00\x00\x00\x07garbage"
        if self.mode == "error":
            return udp_tracker.build_error(tid, "unregistered torrent")
        if isinstance(req, udp_tracker.ConnectRequest):
            return udp_tracker.build_connect_response(tid, 0x1122334455667788)
        if req.connection_id != 0x1122334455667788:
            return udp_tracker.build_error(tid, "bad connection id")
        if isinstance(req, udp_tracker.AnnounceRequest):
            return udp_tracker.build_announce_response(tid, 1800, 0, 2, PEERS)
        return udp_tracker.build_scrape_response(tid, [udp_tracker.ScrapeEntry(2, 7, 0)])


class Peer(_Server):
    """modes: ok (handshake, extension handshake, bitfield), have-all, huge-length,
    bad-pstr, wrong-hash, close, silent."""

    def handle(self, conn: socket.socket) -> None:
        data = b""
        while len(data) < 68:
            chunk = conn.recv(68 - len(data))
            if not chunk:
                return
            data += chunk
        self.seen.append(data)
        theirs, _ = peerwire.parse_handshake(data)
        if self.mode == "close":
            return
        if self.mode == "silent":
            time.sleep(1.5)
            return
        info_hash = bytes(20) if self.mode == "wrong-hash" else theirs.info_hash
        reserved = peerwire.reserved_bytes(dht=True, fast=self.mode == "have-all")
        hs = peerwire.build_handshake(info_hash, PEER_ID, reserved)
        if self.mode == "bad-pstr":
            hs = bytes([19]) + b"BitTorrent protocoX" + hs[20:]
        out = hs
        if self.mode == "huge-length":
            out += b"\xff\xff\xff\xff\x05" + b"x" * 100
        elif self.mode in ("ok", "have-all"):
            out += peerwire.build_extension_handshake(
                {"ut_metadata": 2, "ut_pex": 1}, v="libtorrent 2.0.8", p=6881, reqq=500,
                yourip="127.0.0.1", metadata_size=1234,
            )  # fmt: skip
            out += (
                peerwire.build_message(peerwire.HAVE_ALL)
                if self.mode == "have-all"
                else peerwire.build_bitfield([True] * 10)
            )
            out += peerwire.build_port(6881)
        conn.sendall(out)
        # read what comes next (our extension handshake, interested) then unchoke
        with contextlib.suppress(OSError):
            got = conn.recv(65536)
            self.seen.append(got)
            if struct.pack(">IB", 1, peerwire.INTERESTED) in got or self._more(conn):
                conn.sendall(peerwire.build_message(peerwire.UNCHOKE))
            time.sleep(0.3)

    def _more(self, conn: socket.socket) -> bool:
        with contextlib.suppress(OSError):
            conn.settimeout(1.0)
            got = conn.recv(65536)
            self.seen.append(got)
            return struct.pack(">IB", 1, peerwire.INTERESTED) in got
        return False
