"""HTTP/2 framing (RFC 9113 §4, §6): the frame header, the names of types, flags,
settings and error codes, and a splitter that cuts a byte stream into frames.

Every frame starts with the same nine bytes:

    length (24 bits) | type (8) | flags (8) | R (1) + stream identifier (31)

A client's stream begins with the 24-byte connection preface. `FrameSplitter`
keeps what a direction has sent so far and returns each whole frame as a
`FrameRecord`, with what a reader of `nghttp -nv` expects to see: SETTINGS
values, WINDOW_UPDATE increments, RST_STREAM and GOAWAY error codes, and the
header block fragment of HEADERS / CONTINUATION (padding and priority taken off)
for HPACK (`netlab.wire.hpack`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
HEADER = struct.Struct("!BHBBI")  # length as 8 + 16 bits, type, flags, stream id
MAX_FRAME = 1 << 24  # a 24-bit length: a splitter never holds more than one such frame

FRAME_TYPES = {
    0x0: "DATA",
    0x1: "HEADERS",
    0x2: "PRIORITY",
    0x3: "RST_STREAM",
    0x4: "SETTINGS",
    0x5: "PUSH_PROMISE",
    0x6: "PING",
    0x7: "GOAWAY",
    0x8: "WINDOW_UPDATE",
    0x9: "CONTINUATION",
    0xA: "ALTSVC",
    0xB: "BLOCKED",
    0xC: "ORIGIN",
    0x10: "PRIORITY_UPDATE",
}
# Flag bits by frame type (the same bit means different things on different types).
FLAGS = {
    "DATA": {0x1: "END_STREAM", 0x8: "PADDED"},
    "HEADERS": {0x1: "END_STREAM", 0x4: "END_HEADERS", 0x8: "PADDED", 0x20: "PRIORITY"},
    "SETTINGS": {0x1: "ACK"},
    "PUSH_PROMISE": {0x4: "END_HEADERS", 0x8: "PADDED"},
    "PING": {0x1: "ACK"},
    "CONTINUATION": {0x4: "END_HEADERS"},
}
SETTINGS = {
    0x1: "HEADER_TABLE_SIZE",
    0x2: "ENABLE_PUSH",
    0x3: "MAX_CONCURRENT_STREAMS",
    0x4: "INITIAL_WINDOW_SIZE",
    0x5: "MAX_FRAME_SIZE",
    0x6: "MAX_HEADER_LIST_SIZE",
    0x8: "ENABLE_CONNECT_PROTOCOL",
    0x9: "NO_RFC7540_PRIORITIES",
}
ERRORS = {
    0x0: "NO_ERROR",
    0x1: "PROTOCOL_ERROR",
    0x2: "INTERNAL_ERROR",
    0x3: "FLOW_CONTROL_ERROR",
    0x4: "SETTINGS_TIMEOUT",
    0x5: "STREAM_CLOSED",
    0x6: "FRAME_SIZE_ERROR",
    0x7: "REFUSED_STREAM",
    0x8: "CANCEL",
    0x9: "COMPRESSION_ERROR",
    0xA: "CONNECT_ERROR",
    0xB: "ENHANCE_YOUR_CALM",
    0xC: "INADEQUATE_SECURITY",
    0xD: "HTTP_1_1_REQUIRED",
}


def type_name(frame_type: int) -> str:
    return FRAME_TYPES.get(frame_type, f"UNKNOWN(0x{frame_type:02x})")


def flag_names(name: str, flags: int) -> list[str]:
    return [label for bit, label in FLAGS.get(name, {}).items() if flags & bit]


def error_name(code: int) -> str:
    return ERRORS.get(code, f"0x{code:x}")


@dataclass(frozen=True)
class FrameRecord:
    """One frame as it went by: who sent it, when, its header and what it says."""

    direction: str  # "sent" or "received"
    time: int  # ns, the runner's clock
    type: int
    flags: int
    stream: int
    length: int
    details: dict = field(default_factory=dict)  # settings, increments, error codes …
    block: bytes | None = None  # HEADERS / PUSH_PROMISE / CONTINUATION: the HPACK fragment
    malformed: str | None = None

    @property
    def type_name(self) -> str:
        return type_name(self.type)

    @property
    def flag_names(self) -> list[str]:
        return flag_names(self.type_name, self.flags)


class FrameSplitter:
    """Cut one direction's bytes into frames (after the preface, for a client's side)."""

    def __init__(self, *, preface: bool = False) -> None:
        self.buf = bytearray()
        self.want_preface = preface
        self.broken: str | None = None

    def feed(self, data: bytes, now: int, direction: str) -> list[FrameRecord]:
        if self.broken:
            return []
        self.buf += data
        frames: list[FrameRecord] = []
        if self.want_preface:
            if len(self.buf) < len(PREFACE):
                return frames
            if bytes(self.buf[: len(PREFACE)]) != PREFACE:
                self.broken = "no connection preface"
                return frames
            del self.buf[: len(PREFACE)]
            self.want_preface = False
        while len(self.buf) >= HEADER.size:
            hi, lo, ftype, flags, stream = HEADER.unpack_from(self.buf)
            length = hi << 16 | lo
            if len(self.buf) < HEADER.size + length:
                break
            payload = bytes(self.buf[HEADER.size : HEADER.size + length])
            del self.buf[: HEADER.size + length]
            frames.append(parse_frame(direction, now, ftype, flags, stream & 0x7FFFFFFF, payload))
        return frames


def parse_frame(
    direction: str, now: int, ftype: int, flags: int, stream: int, payload: bytes
) -> FrameRecord:
    """The record of one frame: its payload read by type (RFC 9113 §6)."""
    details: dict = {}
    block = None
    malformed = None
    name = type_name(ftype)
    try:
        if name == "SETTINGS":
            if len(payload) % 6:
                raise ValueError("SETTINGS length not a multiple of 6")
            details["settings"] = [
                (SETTINGS.get(ident, f"0x{ident:x}"), value)
                for ident, value in struct.iter_unpack("!HI", payload)
            ]
        elif name == "WINDOW_UPDATE":
            (increment,) = struct.unpack("!I", payload[:4])
            details["increment"] = increment & 0x7FFFFFFF
        elif name == "RST_STREAM":
            details["error"] = error_name(struct.unpack("!I", payload[:4])[0])
        elif name == "GOAWAY":
            last, code = struct.unpack("!II", payload[:8])
            details["last_stream"] = last & 0x7FFFFFFF
            details["error"] = error_name(code)
        elif name == "PING":
            details["opaque"] = payload[:8].hex()
        elif name in ("HEADERS", "PUSH_PROMISE", "CONTINUATION", "DATA"):
            body = _unpad(payload, flags) if name != "CONTINUATION" else payload
            if name == "HEADERS" and flags & 0x20:
                dep, weight = struct.unpack("!IB", body[:5])
                details["depends_on"] = dep & 0x7FFFFFFF
                details["weight"] = weight + 1
                body = body[5:]
            elif name == "PUSH_PROMISE":
                details["promised_stream"] = struct.unpack("!I", body[:4])[0] & 0x7FFFFFFF
                body = body[4:]
            if name == "DATA":
                details["data_length"] = len(body)
            else:
                block = body
    except (struct.error, ValueError) as err:
        malformed = str(err) or "truncated frame payload"
    return FrameRecord(
        direction, now, ftype, flags, stream, len(payload), details, block, malformed
    )


def _unpad(payload: bytes, flags: int) -> bytes:
    if not flags & 0x8:
        return payload
    if not payload or payload[0] >= len(payload):
        raise ValueError("padding longer than the frame")
    return payload[1 : len(payload) - payload[0]]
