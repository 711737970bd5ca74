"""RTMP on the wire (Adobe's RTMP specification, 2012): the handshake, chunks and
messages, protocol control and user control messages. Used to build and to decode.

A message (type, timestamp, stream id, payload) travels as chunks of at most the
sender's chunk size (128 bytes until a Set Chunk Size says otherwise). Each chunk
starts with a basic header (fmt, chunk stream id in 1, 2 or 3 bytes) and a message
header whose size depends on fmt:

    fmt 0: 11 bytes  timestamp, length, type id, message stream id (a new stream)
    fmt 1:  7 bytes  timestamp delta, length, type id (same stream id)
    fmt 2:  3 bytes  timestamp delta (same length, type and stream)
    fmt 3:  none     everything as the chunk stream's previous chunk (a message's
                     continuation chunks, or a repeat of the same kind of message)

A timestamp field of 0xFFFFFF means a 4-byte extended timestamp follows. The
receiver keeps state per chunk stream id to fill in what fmt 1-3 leave out, and
reassembles messages from chunks; `ChunkReader` does that for one direction,
`ChunkWriter` cuts messages into chunks. Every chunk is kept as a `ChunkInfo` for
display: the course's 307-byte video message at chunk size 128 is three chunks,
fmt 0 with 128 bytes, then fmt 3 with 128 and 51.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

HANDSHAKE_SIZE = 1536
VERSION = 3
DEFAULT_CHUNK_SIZE = 128
MAX_CHUNK_SIZE = 0xFFFFFF  # a chunk never needs to be larger than the largest message
MAX_MESSAGE = 8 * 1024 * 1024  # a video frame of a lesson's stream is far below this
MAX_CHUNK_STREAMS = 4096
EXTENDED = 0xFFFFFF

SET_CHUNK_SIZE, ABORT, ACKNOWLEDGEMENT, USER_CONTROL = 1, 2, 3, 4
WINDOW_ACK_SIZE, SET_PEER_BANDWIDTH = 5, 6
AUDIO, VIDEO = 8, 9
DATA_AMF3, SHARED_OBJECT_AMF3, COMMAND_AMF3 = 15, 16, 17
DATA_AMF0, SHARED_OBJECT_AMF0, COMMAND_AMF0, AGGREGATE = 18, 19, 20, 22
MESSAGE_TYPES = {
    1: "Set Chunk Size",
    2: "Abort Message",
    3: "Acknowledgement",
    4: "User Control Message",
    5: "Window Acknowledgement Size",
    6: "Set Peer Bandwidth",
    8: "Audio Data",
    9: "Video Data",
    15: "AMF3 Data",
    16: "AMF3 Shared Object",
    17: "AMF3 Command",
    18: "AMF0 Data",
    19: "AMF0 Shared Object",
    20: "AMF0 Command",
    22: "Aggregate",
}
USER_CONTROL_EVENTS = {
    0: "Stream Begin",
    1: "Stream EOF",
    2: "Stream Dry",
    3: "Set Buffer Length",
    4: "Stream Is Recorded",
    6: "Ping Request",
    7: "Ping Response",
}
HEADER_SIZES = {0: 11, 1: 7, 2: 3, 3: 0}


class RtmpError(ValueError):
    """Bytes that are not the RTMP they claim to be (one line)."""


def message_type_name(type_id: int) -> str:
    return MESSAGE_TYPES.get(type_id, f"type {type_id}")


# --- handshake ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HandshakePacket:
    """C1/S1/C2/S2: time (4 bytes), time2 or zero (4 bytes), 1528 random bytes."""

    time: int
    time2: int
    random: bytes

    def pack(self) -> bytes:
        return struct.pack(">II", self.time, self.time2) + self.random

    @classmethod
    def unpack(cls, data: bytes) -> HandshakePacket:
        if len(data) != HANDSHAKE_SIZE:
            raise RtmpError(f"handshake packet of {len(data)} bytes, not {HANDSHAKE_SIZE}")
        time, time2 = struct.unpack(">II", data[:8])
        return cls(time, time2, data[8:])


# --- chunks ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChunkInfo:
    """One chunk as it went by (for --chunks and the dissector)."""

    fmt: int
    csid: int
    header_bytes: int  # basic + message header (+ extended timestamp)
    payload_bytes: int
    timestamp: int | None  # the field as sent (fmt 0: absolute; 1, 2: delta; 3: None)
    length: int | None
    type_id: int | None
    stream_id: int | None
    extended: bool = False


@dataclass(frozen=True)
class Message:
    csid: int
    timestamp: int  # absolute, ms
    type_id: int
    stream_id: int
    payload: bytes
    chunks: tuple[ChunkInfo, ...] = ()

    @property
    def type_name(self) -> str:
        return message_type_name(self.type_id)


@dataclass
class _StreamState:
    timestamp: int = 0
    delta: int = 0
    length: int = 0
    type_id: int = 0
    stream_id: int = 0
    extended: bool = False
    buf: bytearray = field(default_factory=bytearray)
    chunks: list = field(default_factory=list)


def basic_header(fmt: int, csid: int) -> bytes:
    if 2 <= csid <= 63:
        return bytes([fmt << 6 | csid])
    if 64 <= csid <= 319:
        return bytes([fmt << 6, csid - 64])
    if 64 <= csid <= 65599:
        return bytes([fmt << 6 | 1]) + struct.pack("<H", csid - 64)
    raise RtmpError(f"chunk stream id {csid} out of range 2-65599")


class ChunkReader:
    """One direction's chunk stream → messages. Feed bytes; get whole messages."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.chunk_size = DEFAULT_CHUNK_SIZE
        self.streams: dict[int, _StreamState] = {}
        self.bytes_in = 0

    def feed(self, data: bytes) -> list[Message]:
        self.buf += data
        self.bytes_in += len(data)
        out = []
        while True:
            message, used = self._one_chunk()
            if used == 0:
                break
            del self.buf[:used]
            if message is not None:
                out.append(message)
                if message.type_id == SET_CHUNK_SIZE and message.stream_id == 0:
                    self.chunk_size = parse_set_chunk_size(message.payload)
        return out

    def _one_chunk(self) -> tuple[Message | None, int]:
        b = self.buf
        if not b:
            return None, 0
        fmt, csid, pos = b[0] >> 6, b[0] & 0x3F, 1
        if csid == 0:
            if len(b) < 2:
                return None, 0
            csid, pos = b[1] + 64, 2
        elif csid == 1:
            if len(b) < 3:
                return None, 0
            csid, pos = b[1] + b[2] * 256 + 64, 3
        size = HEADER_SIZES[fmt]
        if len(b) < pos + size:
            return None, 0
        state = self.streams.get(csid)
        if state is None:
            if fmt != 0:
                raise RtmpError(f"chunk stream {csid} starts with a fmt {fmt} chunk, not fmt 0")
            if len(self.streams) >= MAX_CHUNK_STREAMS:
                raise RtmpError(f"more than {MAX_CHUNK_STREAMS} chunk streams")
            state = _StreamState()
        h = bytes(b[pos : pos + size])
        pos += size
        ts_field = int.from_bytes(h[:3], "big") if fmt < 3 else None
        extended = ts_field == EXTENDED if fmt < 3 else state.extended
        if extended:
            if len(b) < pos + 4:
                return None, 0
            ts_value = struct.unpack(">I", b[pos : pos + 4])[0]
            pos += 4
        else:
            ts_value = ts_field
        length, type_id, stream_id = state.length, state.type_id, state.stream_id
        if fmt <= 1:
            length, type_id = int.from_bytes(h[3:6], "big"), h[6]
            if length > MAX_MESSAGE:
                raise RtmpError(f"message of {length} bytes, over the {MAX_MESSAGE} allowed")
        if fmt == 0:
            stream_id = struct.unpack("<I", h[7:11])[0]
        starting = not state.buf
        want = min(self.chunk_size, length - len(state.buf))
        if len(b) < pos + want:
            return None, 0
        # Commit the chunk: the header fields update the chunk stream's state.
        if starting:
            if fmt == 0:
                state.timestamp, state.delta = ts_value, 0
            elif fmt in (1, 2):
                state.delta = ts_value
                state.timestamp = (state.timestamp + ts_value) & 0xFFFFFFFF
            else:  # fmt 3 starting a new message: the same delta again
                state.timestamp = (state.timestamp + state.delta) & 0xFFFFFFFF
        state.length, state.type_id, state.stream_id, state.extended = (
            length,
            type_id,
            stream_id,
            extended,
        )
        self.streams[csid] = state
        info = ChunkInfo(
            fmt,
            csid,
            pos,
            want,
            ts_field,
            length if fmt <= 1 else None,
            type_id if fmt <= 1 else None,
            stream_id if fmt == 0 else None,
            extended,
        )
        state.buf += b[pos : pos + want]
        state.chunks.append(info)
        pos += want
        if len(state.buf) < length:
            return None, pos
        message = Message(
            csid, state.timestamp, type_id, stream_id, bytes(state.buf), tuple(state.chunks)
        )
        state.buf.clear()
        state.chunks.clear()
        return message, pos


class ChunkWriter:
    """Messages → chunks at our chunk size: fmt 0 for a message's first chunk, fmt 3
    for its continuations (the layout of the course's example)."""

    def __init__(self) -> None:
        self.chunk_size = DEFAULT_CHUNK_SIZE

    def write(
        self, csid: int, timestamp: int, type_id: int, stream_id: int, payload: bytes
    ) -> tuple[bytes, list[ChunkInfo]]:
        out = bytearray()
        infos = []
        extended = timestamp >= EXTENDED
        ts_field = EXTENDED if extended else timestamp
        ext = struct.pack(">I", timestamp) if extended else b""
        pos = 0
        first = True
        while first or pos < len(payload):
            piece = payload[pos : pos + self.chunk_size]
            if first:
                head = (
                    basic_header(0, csid)
                    + ts_field.to_bytes(3, "big")
                    + len(payload).to_bytes(3, "big")
                    + bytes([type_id])
                    + struct.pack("<I", stream_id)
                    + ext
                )
                infos.append(
                    ChunkInfo(
                        0,
                        csid,
                        len(head),
                        len(piece),
                        ts_field,
                        len(payload),
                        type_id,
                        stream_id,
                        extended,
                    )
                )
            else:
                head = basic_header(3, csid) + ext
                infos.append(
                    ChunkInfo(3, csid, len(head), len(piece), None, None, None, None, extended)
                )
            out += head + piece
            pos += len(piece)
            first = False
        return bytes(out), infos


# --- protocol control and user control messages ---------------------------------------------------
def parse_set_chunk_size(payload: bytes) -> int:
    if len(payload) < 4:
        raise RtmpError("Set Chunk Size shorter than 4 bytes")
    size = struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF
    if not 1 <= size <= MAX_CHUNK_SIZE:
        raise RtmpError(f"Set Chunk Size {size}: out of range 1-{MAX_CHUNK_SIZE}")
    return size


def u32(value: int) -> bytes:
    return struct.pack(">I", value)


def parse_u32(payload: bytes, what: str) -> int:
    if len(payload) < 4:
        raise RtmpError(f"{what} shorter than 4 bytes")
    return struct.unpack(">I", payload[:4])[0]


def user_control(event: int, *values: int) -> bytes:
    return struct.pack(">H", event) + b"".join(struct.pack(">I", v) for v in values)


def parse_user_control(payload: bytes) -> tuple[str, list[int]]:
    if len(payload) < 2:
        raise RtmpError("User Control Message shorter than 2 bytes")
    event = struct.unpack(">H", payload[:2])[0]
    values = [struct.unpack(">I", payload[i : i + 4])[0] for i in range(2, len(payload) - 3, 4)]
    return USER_CONTROL_EVENTS.get(event, f"event {event}"), values
