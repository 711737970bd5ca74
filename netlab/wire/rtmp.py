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
reassembles messages from chunks; `ChunkReader` does that for one direction (the
client's `feed`, strict; the dissector's `parse`, lenient, with each message's place
in the byte stream and its first chunk's header), `ChunkWriter` cuts messages into
chunks. Every chunk is kept as a `ChunkInfo` for display: the course's 307-byte video
message at chunk size 128 is three chunks, fmt 0 with 128 bytes, then fmt 3 with 128
and 51. A fmt 3 chunk that starts a message repeats the chunk stream's last delta; after
a fmt 0 header that delta is the timestamp's step from the message before (the spec's
"the timestamp of the type 0 chunk" for a chunk stream's first message; Wireshark's
reading after that).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import NamedTuple

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


class Chunked(NamedTuple):
    """A message as `ChunkReader.parse` found it: where it lay in the byte stream
    (positions count the bytes given to the reader), its first chunk's header as sent
    (`header` bytes, `fmt`, the 24-bit timestamp field `ts_field`, the extended timestamp
    `ets`), the values that chunk stream's state gave it, and the body. `body` is None
    when the message was not kept (longer than the reader's `keep`): `head` then holds
    its first bytes. `chunks` is the ChunkInfo of every chunk (their count when the
    reader does not keep them); `problem` says what was wrong (lenient reader only)."""

    csid: int
    fmt: int
    header: bytes
    start: int
    end: int
    ts_field: int | None
    ets: int | None
    timestamp: int
    length: int
    type_id: int
    stream_id: int
    body: bytes | None
    head: bytes
    chunks: list[ChunkInfo] | int
    problem: str | None

    @property
    def kept(self) -> bool:
        return self.body is not None

    @property
    def single(self) -> bool:
        """One chunk, so the header and the body lie together in the stream."""
        return self.end - self.start == len(self.header) + self.length


class _Partial:
    """A message under way on a chunk stream (more than one chunk)."""

    __slots__ = ("body", "chunks", "fields", "have", "head", "kept", "length", "problem")

    def __init__(self, fields: list, length: int, kept: bool, chunks, problem) -> None:
        self.fields = fields  # Chunked's fields up to stream_id (end filled in at the end)
        self.length = length
        self.kept = kept
        self.have = 0
        self.body = bytearray() if kept else None
        self.head = b""
        self.chunks = chunks
        self.problem = problem


class _StreamState:
    """One chunk stream's header state (what fmt 1-3 leave out) and the message being
    reassembled on it."""

    __slots__ = ("delta", "extended", "length", "msg", "stream_id", "timestamp", "type_id")

    def __init__(self, length: int = 0) -> None:
        self.timestamp = 0
        self.delta = 0
        self.length = length
        self.type_id = 0
        self.stream_id = 0
        self.extended = False
        self.msg: _Partial | None = None


HEAD_KEPT = 64  # first body bytes kept of a message too long to keep whole
MAX_HEADER = 18  # basic header (3) + message header (11) + extended timestamp (4)
_new = tuple.__new__


def basic_header(fmt: int, csid: int) -> bytes:
    if 2 <= csid <= 63:
        return bytes([fmt << 6 | csid])
    if 64 <= csid <= 319:
        return bytes([fmt << 6, csid - 64])
    if 64 <= csid <= 65599:
        return bytes([fmt << 6 | 1]) + struct.pack("<H", csid - 64)
    raise RtmpError(f"chunk stream id {csid} out of range 2-65599")


class ChunkReader:
    """One direction's chunk stream → messages, with per-chunk-stream state.

    `feed(data)` (the client) returns whole `Message`s and raises RtmpError on a
    protocol violation. `parse(data, start, end)` is the same reader seen from below
    (the dissector): it takes every byte it is given (a chunk cut by the end of the
    data is continued by the next call) and returns the messages completed, as
    `Chunked` with their positions and first headers. A Set Chunk Size applies from the
    next chunk. With strict=False the reader goes on through violations as Wireshark
    does and notes them (`Chunked.problem`): a chunk stream that starts without a fmt 0
    header takes defaults (type 0, stream 0, the chunk size as length), a message cut
    by a new fmt 0-2 header on its chunk stream is dropped, a Set Chunk Size of 0 or
    over 2^31 - 1 is ignored, a message longer than `keep` bytes (or beyond `budget`
    bytes of unfinished messages on the direction) is followed but not kept.
    """

    def __init__(
        self, strict: bool = True, keep: int = MAX_MESSAGE, budget: int | None = None,
        keep_chunks: bool = True, kind: type[Chunked] | None = None,
    ) -> None:  # fmt: skip
        self.kind = kind or Chunked  # what parse() makes: Chunked, or a subclass of it
        self.strict = strict
        self.keep = keep
        self.budget = budget
        self.keep_chunks = keep_chunks
        self.chunk_size = DEFAULT_CHUNK_SIZE
        self.streams: dict[int, _StreamState] = {}
        self.bytes_in = 0
        self.pos = 0  # stream position of the next byte given
        self.reserved = 0  # declared lengths of the unfinished messages kept
        self._head = b""  # a chunk header cut by the end of the data
        self._state: _StreamState | None = None  # the chunk whose payload is being read
        self._left = 0  # and how many of its payload bytes are still to come

    def feed(self, data: bytes) -> list[Message]:
        return [
            Message(m.csid, m.timestamp, m.type_id, m.stream_id, m.body, tuple(m.chunks))
            for m in self.parse(data)
        ]

    def resync(self) -> None:
        """Bytes were lost: drop what was under way; the next byte starts a chunk."""
        self._head = b""
        self._state = None
        self._left = 0
        for state in self.streams.values():
            state.msg = None
        self.reserved = 0

    def parse(self, data: bytes, start: int = 0, end: int | None = None) -> list[Chunked]:
        if end is None:
            end = len(data)
        if data.__class__ is not bytes:
            data = bytes(data)
        out: list[Chunked] = []
        p = start
        self.bytes_in += end - start
        # The common chunk, read here without a call: a whole message in one chunk, or the
        # first chunk of a longer one (or one whose payload comes with the next data),
        # with a 1-byte basic header and no extended timestamp, on a chunk stream already
        # known and idle (audio and video at the usual chunk sizes). _chunk reads any chunk.
        fast = not self.keep_chunks
        streams, kind, chunk_size = self.streams, self.kind, self.chunk_size
        while p < end:
            state = self._state
            if fast and state is None and not self._head:
                b0 = data[p]
                csid = b0 & 0x3F
                state = streams.get(csid)
                fmt = b0 >> 6
                if csid > 1 and state is not None and state.msg is None and p + _HLEN[fmt] <= end:
                    if fmt == 1:
                        ts_field, lt = _unpack_two(data, p)
                        ts_field &= 0xFFFFFF
                        length, type_id, h = lt >> 8, lt & 0xFF, p + 8
                        stream_id = state.stream_id
                    elif fmt == 3:
                        ts_field, length, type_id, h = None, state.length, state.type_id, p + 1
                        stream_id = state.stream_id
                    elif fmt == 2:
                        ts_field = _unpack_one(data, p)[0] & 0xFFFFFF
                        length, type_id, h = state.length, state.type_id, p + 4
                        stream_id = state.stream_id
                    else:
                        ts_field, lt = _unpack_two(data, p)
                        ts_field &= 0xFFFFFF
                        length, type_id, h = lt >> 8, lt & 0xFF, p + 12
                        stream_id = _unpack_le32(data, p + 8)[0]
                    if (
                        ts_field != EXTENDED
                        and length
                        and not (fmt == 3 and state.extended)
                        and type_id != SET_CHUNK_SIZE
                        and length <= self.keep
                    ):
                        if fmt == 0:
                            delta = (ts_field - state.timestamp) & 0xFFFFFFFF
                            timestamp = ts_field
                        else:
                            delta = state.delta if fmt == 3 else ts_field
                            timestamp = (state.timestamp + delta) & 0xFFFFFFFF
                        state.timestamp = timestamp
                        state.delta = delta
                        state.length = length
                        state.type_id = type_id
                        state.stream_id = stream_id
                        if fmt < 3:
                            state.extended = False
                        at = self.pos
                        stop = h + length
                        if stop <= end and length <= chunk_size:  # the whole message here
                            out.append(
                                _new(kind, (csid, fmt, data[p:h], at, at + stop - p, ts_field,
                                            None, timestamp, length, type_id, stream_id,
                                            data[h:stop], b"", 1, None))
                            )  # fmt: skip
                            self.pos = at + stop - p
                            p = stop
                            continue
                        # its first chunk's payload follows (here or in the next data): as
                        # _chunk starts a message of several chunks, or one cut by the end
                        kept = self.budget is None or self.reserved + length <= self.budget
                        if kept:
                            self.reserved += length
                        state.msg = _Partial([csid, fmt, data[p:h], at, at, ts_field, None,
                                              timestamp, length, type_id, stream_id], length,
                                             kept, 1, None)  # fmt: skip
                        self._state = state
                        self._left = length if length < chunk_size else chunk_size
                        self.pos = at + h - p
                        p = h
                        continue
                elif fmt == 3 and csid > 1 and state is not None and not state.extended:
                    msg = state.msg  # the next chunk of a message under way: its payload next
                    if msg is not None:
                        want = msg.length - msg.have
                        self._state, self._left = state, want if want < chunk_size else chunk_size
                        msg.chunks += 1
                        p += 1
                        self.pos += 1
                        continue
                state = None
            if state is not None:  # the payload of a chunk under way
                left = self._left
                n = left if left <= end - p else end - p
                msg = state.msg
                if msg.kept:
                    if n == msg.length and not msg.have:  # the whole body at once: no copies
                        msg.body = data[p : p + n]  # (bytes, which _complete keeps as it is)
                    else:
                        msg.body += data[p : p + n]
                elif len(msg.head) < HEAD_KEPT:
                    msg.head += bytes(data[p : p + min(n, HEAD_KEPT - len(msg.head))])
                msg.have += n
                p += n
                self.pos += n
                if n < left:
                    self._left = left - n
                    break
                self._state = None
                if msg.have >= msg.length:
                    self._complete(state, msg, out)
                    chunk_size = self.chunk_size  # (a Set Chunk Size applies from here)
                continue
            head = self._head
            if head:  # a header cut by the end of the last data
                joined = head + bytes(data[p : p + MAX_HEADER])
                used = self._chunk(joined, 0, len(joined), self.pos - len(head), out, True)
                if not used:
                    self._head = joined
                    self.pos += end - p
                    break
                self._head = b""
                used -= len(head)
            else:
                used = self._chunk(data, p, end, self.pos, out, False)
                if not used:
                    self._head = bytes(data[p:end])
                    self.pos += end - p
                    break
            p += used
            self.pos += used
            chunk_size = self.chunk_size
        return out

    def _chunk(self, buf, q: int, end: int, at: int, out: list, joined: bool) -> int:
        """Read the chunk at buf[q:end] (stream position `at`): its header, and its whole
        payload when the chunk is a whole message lying there (the common case), else
        start reading its payload. -> the bytes taken, or 0 when the header is cut
        short (nothing changed then)."""
        b0 = buf[q]
        fmt = b0 >> 6
        csid = b0 & 0x3F
        p = q + 1
        if csid < 2:
            if csid == 0:
                if p >= end:
                    return 0
                csid = buf[p] + 64
                p += 1
            else:
                if p + 1 >= end:
                    return 0
                csid = buf[p] + (buf[p + 1] << 8) + 64
                p += 2
        h = p + _SIZES[fmt]
        if h > end:
            return 0
        state = self.streams.get(csid)
        if fmt < 2:  # the timestamp, body size and type id (read with the byte before each)
            ts_field, lt = _unpack_two(buf, p - 1)
            ts_field &= 0xFFFFFF
            extended = ts_field == EXTENDED
        elif fmt == 2:
            ts_field = _unpack_one(buf, p - 1)[0] & 0xFFFFFF
            extended = ts_field == EXTENDED
        else:
            ts_field = None
            extended = state is not None and state.extended
        ets = None
        if extended:
            if h + 4 > end:
                return 0
            ets = buf[h] << 24 | buf[h + 1] << 16 | buf[h + 2] << 8 | buf[h + 3]
            h += 4
        # The header is whole: from here on it changes the state.
        problem = None
        if state is None:
            state, problem = self._new_stream(csid, fmt)
        msg = state.msg
        chunk_size = self.chunk_size
        if msg is None or fmt < 3:  # a new message
            if msg is not None:
                problem = self._cut(csid, fmt, msg, problem)
            if fmt <= 1:
                length, type_id = lt >> 8, lt & 0xFF
            else:
                length, type_id = state.length, state.type_id
            if fmt == 0:
                stream_id = _unpack_le32(buf, p + 7)[0]
                timestamp = ts_field if ets is None else ets
                # Wireshark's delta for a fmt 3 message after this one (the spec's for the
                # first message on a chunk stream: its timestamp)
                delta = (timestamp - state.timestamp) & 0xFFFFFFFF
            else:
                stream_id = state.stream_id
                delta = (ts_field if ets is None else ets) if fmt < 3 else state.delta
                timestamp = (state.timestamp + delta) & 0xFFFFFFFF
            state.timestamp, state.delta = timestamp, delta
            state.length, state.type_id, state.stream_id = length, type_id, stream_id
            if fmt < 3:
                state.extended = extended
            keep = self.keep
            kept = length <= keep
            if not kept and self.strict:
                raise RtmpError(f"message of {length} bytes, over the {keep} allowed")
            chunks: list | int = 1
            if self.keep_chunks:
                first = min(length, chunk_size)
                chunks = [
                    self._info(fmt, csid, h - q, first, ts_field, length, type_id, stream_id,
                               extended)
                ]  # fmt: skip
            header = buf[q:h]  # (bytes: the data given, or the joined header)
            stop = h + length
            if length <= chunk_size and stop <= end and not joined:  # whole here: done
                body = buf[h:stop] if kept else None
                head = b"" if kept else buf[h : h + HEAD_KEPT]
                done = _new(self.kind, (csid, fmt, header, at, at + stop - q, ts_field, ets,
                                      timestamp, length, type_id, stream_id, body, head,
                                      chunks, problem))  # fmt: skip
                out.append(done)
                if type_id == SET_CHUNK_SIZE:
                    out[-1] = self._set_chunk_size(done)
                return stop - q
            if kept and self.budget is not None and self.reserved + length > self.budget:
                kept = False
            if kept:
                self.reserved += length
            msg = state.msg = _Partial([csid, fmt, header, at, at, ts_field, ets, timestamp,
                                        length, type_id, stream_id], length, kept, chunks,
                                       problem)  # fmt: skip
            want = length if length < chunk_size else chunk_size
        else:  # the next chunk of the message under way
            if problem is not None and msg.problem is None:
                msg.problem = problem
            want = msg.length - msg.have
            if want > chunk_size:
                want = chunk_size
            if self.keep_chunks:
                info = self._info(3, csid, h - q, want, None, None, None, None, extended)
                msg.chunks.append(info)
            else:
                msg.chunks += 1
        if want:
            self._state, self._left = state, want
        else:  # a message of no bytes
            msg.fields[4] = at + h - q
            self._complete(state, msg, out, at + h - q)
        return h - q

    @staticmethod
    def _info(fmt, csid, size, want, ts_field, length, type_id, stream_id, extended) -> ChunkInfo:
        return ChunkInfo(fmt, csid, size, want, ts_field, length if fmt <= 1 else None,
                         type_id if fmt <= 1 else None, stream_id if fmt == 0 else None,
                         extended)  # fmt: skip

    def _new_stream(self, csid: int, fmt: int) -> tuple[_StreamState, str | None]:
        problem = None
        if fmt != 0:
            if self.strict:
                raise RtmpError(f"chunk stream {csid} starts with a fmt {fmt} chunk, not fmt 0")
            problem = f"chunk stream {csid} starts with a fmt {fmt} chunk, not fmt 0"
        state = _StreamState(self.chunk_size if fmt >= 2 else 0)
        if len(self.streams) < MAX_CHUNK_STREAMS:
            self.streams[csid] = state
        elif self.strict:
            raise RtmpError(f"more than {MAX_CHUNK_STREAMS} chunk streams")
        else:
            problem = f"more than {MAX_CHUNK_STREAMS} chunk streams: {csid} not followed"
        return state, problem

    def _cut(self, csid: int, fmt: int, msg: _Partial, problem: str | None) -> str | None:
        """A fmt 0-2 header inside a message: the strict reader refuses, the lenient one
        drops the message."""
        if self.strict:
            raise RtmpError(f"chunk stream {csid}: a fmt {fmt} chunk inside a message")
        if msg.kept:
            self.reserved -= msg.length
        return problem or (
            f"chunk stream {csid}: a new message began {msg.length - msg.have} bytes "
            "before the end of the last one"
        )

    def _complete(self, state: _StreamState, msg: _Partial, out: list, end: int = -1) -> None:
        state.msg = None
        fields = msg.fields
        fields[4] = self.pos if end < 0 else end
        if msg.kept:
            self.reserved -= msg.length
            body, head = bytes(msg.body), b""
        else:
            body, head = None, msg.head
        done = _new(self.kind, (*fields, body, head, msg.chunks, msg.problem))
        if done.type_id == SET_CHUNK_SIZE:
            done = self._set_chunk_size(done)
        out.append(done)

    def _set_chunk_size(self, msg: Chunked) -> Chunked:
        """Apply a Set Chunk Size message; returns it (with its problem, if any)."""
        if self.strict:
            if msg.stream_id == 0:
                self.chunk_size = parse_set_chunk_size(msg.body or b"")
            return msg
        body = msg.body if msg.body is not None else msg.head
        if len(body) < 4:
            problem = "Set Chunk Size shorter than 4 bytes"
        else:
            size = int.from_bytes(body[:4], "big")
            if 1 <= size <= 0x7FFFFFFF:
                self.chunk_size = size
                return msg
            problem = f"Set Chunk Size {size}: out of range 1-2147483647"
        return msg if msg.problem is not None else msg._replace(problem=problem)


_SIZES = (11, 7, 3, 0)
_ONE, _TWO, _LE32 = struct.Struct(">I"), struct.Struct(">II"), struct.Struct("<I")
# (bound once: compiled, a module name is a cached lookup, an attribute a search)
_unpack_one, _unpack_two, _unpack_le32 = _ONE.unpack_from, _TWO.unpack_from, _LE32.unpack_from
_HLEN = (12, 8, 4, 1)  # a chunk header with a 1-byte basic header, by fmt


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
