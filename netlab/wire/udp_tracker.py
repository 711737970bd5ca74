"""The UDP tracker protocol (BEP 15): four actions in fixed big-endian layouts.

    connect   request   protocol_id (8, 0x41727101980) | action 0 | transaction_id
              response  action 0 | transaction_id | connection_id (8)
    announce  request   connection_id | action 1 | transaction_id | info_hash (20)
                        | peer_id (20) | downloaded (8) | left (8) | uploaded (8)
                        | event (4) | ip (4) | key (4) | num_want (4, -1 = default)
                        | port (2)                                        = 98 bytes
              response  action 1 | transaction_id | interval | leechers | seeders
                        | peers: 6 bytes each over IPv4, 18 over IPv6 (by the family
                          the request was sent over, BEP 15)
    scrape    request   connection_id | action 2 | transaction_id | info_hash × n
              response  action 2 | transaction_id | (seeders, completed, leechers) × n
    error     response  action 3 | transaction_id | message

Requests put the action at byte 8, responses at byte 0. Every length is checked
before unpacking; peer and scrape lists are cut at MAX_PEERS / MAX_SCRAPE.
Field names follow Wireshark's `udp_tracker` / `bt-tracker` dissector.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field

PROTOCOL_ID = 0x41727101980
CONNECT, ANNOUNCE, SCRAPE, ERROR = 0, 1, 2, 3
ACTIONS = {CONNECT: "connect", ANNOUNCE: "announce", SCRAPE: "scrape", ERROR: "error"}
NONE, COMPLETED, STARTED, STOPPED = 0, 1, 2, 3
EVENTS = {NONE: "none", COMPLETED: "completed", STARTED: "started", STOPPED: "stopped"}
EVENT_BY_NAME = {name: code for code, name in EVENTS.items()}
MAX_SCRAPE = 74  # info-hashes per scrape (BEP 15: what fits a 1500-byte datagram)
MAX_PEERS = 10_000  # a 64 KiB datagram holds at most 10,919 IPv4 peers

_CONNECT_REQ = struct.Struct(">QII")
_CONNECT_RESP = struct.Struct(">IIQ")
_ANNOUNCE_REQ = struct.Struct(">QII20s20sQQQIIIiH")
_ANNOUNCE_RESP = struct.Struct(">IIIII")
_HEAD_REQ = struct.Struct(">QII")
_HEAD_RESP = struct.Struct(">II")
_SCRAPE_ENTRY = struct.Struct(">III")


class UdpTrackerError(ValueError):
    """A datagram that is not a BEP 15 message (one line)."""


@dataclass(frozen=True)
class ConnectRequest:
    transaction_id: int
    protocol_id: int = PROTOCOL_ID
    action: int = CONNECT


@dataclass(frozen=True)
class ConnectResponse:
    transaction_id: int
    connection_id: int
    action: int = CONNECT


@dataclass(frozen=True)
class AnnounceRequest:
    connection_id: int
    transaction_id: int
    info_hash: bytes
    peer_id: bytes
    downloaded: int = 0
    left: int = 0
    uploaded: int = 0
    event: int = NONE
    ip: int = 0  # 0: the sender's address
    key: int = 0
    num_want: int = -1
    port: int = 0
    options: bytes = b""  # BEP 41 options after the fixed part, kept raw
    action: int = ANNOUNCE

    @property
    def event_name(self) -> str:
        return EVENTS.get(self.event, f"unknown ({self.event})")


@dataclass
class AnnounceResponse:
    transaction_id: int
    interval: int
    leechers: int
    seeders: int
    peers: list[tuple[str, int]] = field(default_factory=list)
    ignored: int = 0  # peers past MAX_PEERS or a trailing partial entry
    action: int = ANNOUNCE


@dataclass(frozen=True)
class ScrapeRequest:
    connection_id: int
    transaction_id: int
    info_hashes: tuple[bytes, ...]
    action: int = SCRAPE


@dataclass(frozen=True)
class ScrapeEntry:
    seeders: int
    completed: int
    leechers: int


@dataclass
class ScrapeResponse:
    transaction_id: int
    files: list[ScrapeEntry] = field(default_factory=list)
    ignored: int = 0
    action: int = SCRAPE


@dataclass(frozen=True)
class ErrorResponse:
    transaction_id: int
    message: str
    action: int = ERROR


Request = ConnectRequest | AnnounceRequest | ScrapeRequest
Response = ConnectResponse | AnnounceResponse | ScrapeResponse | ErrorResponse


# --- build ----------------------------------------------------------------------------


def build_connect_request(transaction_id: int) -> bytes:
    return _CONNECT_REQ.pack(PROTOCOL_ID, CONNECT, transaction_id)


def build_connect_response(transaction_id: int, connection_id: int) -> bytes:
    return _CONNECT_RESP.pack(CONNECT, transaction_id, connection_id)


def build_announce_request(req: AnnounceRequest) -> bytes:
    if len(req.info_hash) != 20 or len(req.peer_id) != 20:
        raise UdpTrackerError("announce: info_hash and peer_id must be 20 bytes each")
    return (
        _ANNOUNCE_REQ.pack(
            req.connection_id,
            ANNOUNCE,
            req.transaction_id,
            req.info_hash,
            req.peer_id,
            req.downloaded,
            req.left,
            req.uploaded,
            req.event,
            req.ip,
            req.key,
            req.num_want,
            req.port,
        )
        + req.options
    )


def pack_peers(peers: list[tuple[str, int]]) -> bytes:
    return b"".join(
        ipaddress.ip_address(host).packed + struct.pack(">H", port) for host, port in peers
    )


def build_announce_response(
    transaction_id: int, interval: int, leechers: int, seeders: int, peers: list[tuple[str, int]]
) -> bytes:
    head = _ANNOUNCE_RESP.pack(ANNOUNCE, transaction_id, interval, leechers, seeders)
    return head + pack_peers(peers)


def build_scrape_request(connection_id: int, transaction_id: int, info_hashes) -> bytes:
    hashes = list(info_hashes)
    if not 1 <= len(hashes) <= MAX_SCRAPE or any(len(h) != 20 for h in hashes):
        raise UdpTrackerError(f"scrape: 1 to {MAX_SCRAPE} info-hashes of 20 bytes")
    return _HEAD_REQ.pack(connection_id, SCRAPE, transaction_id) + b"".join(hashes)


def build_scrape_response(transaction_id: int, files: list[ScrapeEntry]) -> bytes:
    body = b"".join(_SCRAPE_ENTRY.pack(f.seeders, f.completed, f.leechers) for f in files)
    return _HEAD_RESP.pack(SCRAPE, transaction_id) + body


def build_error(transaction_id: int, message: str) -> bytes:
    return _HEAD_RESP.pack(ERROR, transaction_id) + message.encode()


# --- parse ----------------------------------------------------------------------------


def parse_request(data: bytes) -> Request:
    """A datagram sent to a tracker."""
    if len(data) < 16:
        raise UdpTrackerError(f"request of {len(data)} bytes, under 16")
    first, action, tid = _HEAD_REQ.unpack_from(data)
    if action == CONNECT:
        if first != PROTOCOL_ID:
            raise UdpTrackerError(f"connect: protocol id 0x{first:x}, not 0x{PROTOCOL_ID:x}")
        return ConnectRequest(tid, first)
    if action == ANNOUNCE:
        if len(data) < _ANNOUNCE_REQ.size:
            raise UdpTrackerError(f"announce request of {len(data)} bytes, under 98")
        f = _ANNOUNCE_REQ.unpack_from(data)
        return AnnounceRequest(
            f[0], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11], f[12],
            bytes(data[_ANNOUNCE_REQ.size :]),
        )  # fmt: skip
    if action == SCRAPE:
        n, rest = divmod(len(data) - 16, 20)
        if rest or not 1 <= n <= MAX_SCRAPE:
            raise UdpTrackerError(f"scrape request: {len(data) - 16} bytes of info-hashes")
        hashes = tuple(bytes(data[16 + 20 * i : 36 + 20 * i]) for i in range(n))
        return ScrapeRequest(first, tid, hashes)
    raise UdpTrackerError(f"request action {action} unknown")


def parse_response(data: bytes, family: int = 4) -> Response:
    """A datagram from a tracker; FAMILY (4 or 6) says how long each compact peer is."""
    if len(data) < 8:
        raise UdpTrackerError(f"response of {len(data)} bytes, under 8")
    action, tid = _HEAD_RESP.unpack_from(data)
    if action == CONNECT:
        if len(data) < 16:
            raise UdpTrackerError(f"connect response of {len(data)} bytes, under 16")
        return ConnectResponse(tid, _CONNECT_RESP.unpack_from(data)[2])
    if action == ANNOUNCE:
        return _announce_response(data, tid, family)
    if action == SCRAPE:
        n, rest = divmod(len(data) - 8, 12)
        kept = min(n, MAX_SCRAPE)
        files = [ScrapeEntry(*_SCRAPE_ENTRY.unpack_from(data, 8 + 12 * i)) for i in range(kept)]
        return ScrapeResponse(tid, files, (n - kept) + (1 if rest else 0))
    if action == ERROR:
        return ErrorResponse(tid, bytes(data[8:1032]).decode("utf-8", "replace"))
    raise UdpTrackerError(f"response action {action} unknown")


def _announce_response(data: bytes, tid: int, family: int) -> AnnounceResponse:
    if len(data) < _ANNOUNCE_RESP.size:
        raise UdpTrackerError(f"announce response of {len(data)} bytes, under 20")
    _, _, interval, leechers, seeders = _ANNOUNCE_RESP.unpack_from(data)
    unit = 6 if family == 4 else 18
    n, rest = divmod(len(data) - 20, unit)
    kept = min(n, MAX_PEERS)
    peers = []
    for i in range(kept):
        chunk = data[20 + unit * i : 20 + unit * (i + 1)]
        peers.append((str(ipaddress.ip_address(bytes(chunk[:-2]))), int.from_bytes(chunk[-2:])))
    return AnnounceResponse(
        tid, interval, leechers, seeders, peers, (n - kept) + (1 if rest else 0)
    )


def is_request(data: bytes) -> bool:
    """Direction for a dissector that cannot tell by port: a connect request starts with
    the protocol id; announce and scrape requests carry their action at byte 8."""
    at0 = int.from_bytes(data[:4]) if len(data) >= 4 else -1
    at8 = int.from_bytes(data[8:12]) if len(data) >= 12 else -1
    if len(data) >= 16 and int.from_bytes(data[:8]) == PROTOCOL_ID:
        return True
    if len(data) >= _ANNOUNCE_REQ.size and at8 == ANNOUNCE and at0 != ANNOUNCE:
        return True
    return len(data) >= 36 and (len(data) - 16) % 20 == 0 and at8 == SCRAPE and at0 != SCRAPE
