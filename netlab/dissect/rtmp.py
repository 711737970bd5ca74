"""RTMP in the dissector (tshark's "rtmpt"): the handshake, chunks, messages.

Found on TCP port 1935 and, on any port, by a heuristic on the handshake: a segment
that starts its direction's byte stream with C0 = 3 and (the start of) C1's 1536 bytes.
The stream then belongs to one `RtmpSession` (a registry.StreamProtocol session), which
TCP hands every segment of it, in order, also in the light pass of `--jobs`. Per
direction it reads, as tshark does:

- the handshake: C0+C1 (1537 bytes) from the side that speaks first, then its C2 (1536);
  S0+S1+S2 (3073) from the other, each shown as one message once its last byte is in;
- then chunks, through `wire.rtmp.ChunkReader` (the client's reader, lenient here): the
  per-chunk-stream state fills in what fmt 1-3 headers leave out, messages are put back
  together across chunks and TCP segments, a Set Chunk Size applies from the next
  chunk. A chunk header cut by the segment's end waits for the next segment.

Each message whose last byte is in a segment is an "rtmpt" layer of that frame: over
the frame's bytes when it lies there whole in one chunk, else over its "Unchunked RTMP"
bytes (its first chunk's header and the whole body, shown by -x as tshark shows them).
Fields are Wireshark's (`rtmpt.header.*`, `rtmpt.scm.*`, `rtmpt.ucm.eventtype`,
`rtmpt.audio.*`, `rtmpt.video.*`, `rtmpt.tag.*`, `rtmpt.function.*`, the AMF values'
`amf.*`), and the info column tshark's: each message's description joined by "|"
("Set Chunk Size 4096|_result('NetConnection.Connect.Success')"); a segment that
completes no message keeps TCP's own info, as tshark's does.

netlab's own fields, which tshark 4.0 does not have (it stops at rtmpt.video.data):
`rtmpt.video.avc.*` (AVC packet type, composition time, the sequence header's profile,
level, NAL unit length size and picture size from the SPS, every NAL unit's type and
size) and `rtmpt.audio.aac.*` (AAC packet type; object type, sampling frequency and
channels of the AudioSpecificConfig).

Bounds: a message over 1 MiB, or beyond 2 MiB of unfinished messages on a direction,
is followed but not kept (its header and first bytes are shown); AMF values nest at
most 64 deep (wire/amf0.py). Damage (an AMF body cut short, a control message too
short, a Set Chunk Size of 0, a chunk stream that starts without a fmt 0 header …)
marks the message malformed, never the capture.

Deliberate differences from tshark 4.0 (tests/test_dissect_rtmp.py): messages are
reassembled up to 1 MiB (tshark's rtmpt.max_packet_size is 32768: past it, it stops
decoding the segment and loses the stream's framing), and Set Chunk Sizes up to 2^31 - 1
apply (tshark ignores those from 32768 up); a chunk stream id over 63 is shown whole
(tshark masks the 2-byte field with 0x3F); after an extended timestamp, a fmt 3 chunk
that starts a new message carries it too (the spec's reading; tshark's only for a
message's continuation chunks); AMF3 values after the AVM+ switch are not decoded.
"""

from __future__ import annotations

import math
from typing import Any

import netlab.dissect.registry as registry
from netlab.dissect.model import ONE_PER_SEGMENT, OWN_BUFFERS, Layer, Packet, row
from netlab.wire import amf0, flv
from netlab.wire import rtmp as wire

RTMP_PORT = 1935
KEEP = 1 << 20  # a message longer than this is followed, not kept
BUDGET = 2 << 20  # unfinished messages kept per direction
MAX_TXIDS = 4096  # transaction ids remembered per direction (call/response links)
HANDSHAKE_1, HANDSHAKE_2, HANDSHAKE_3 = 1, 2, 3  # C0+C1, S0+S1+S2, C2
HANDSHAKE_NAMES = {1: "Handshake C0+C1", 2: "Handshake S0+S1+S2", 3: "Handshake C2"}
START, HS, CHUNKS = 0, 1, 2  # where a direction is

# tshark's value strings (packet-rtmpt.c)
LIMIT_TYPES = {0: "Hard", 1: "Soft", 2: "Dynamic"}
AUDIO_CODECS = {
    0: "Uncompressed", 1: "ADPCM", 2: "MP3", 3: "Uncompressed, little-endian",
    4: "Nellymoser 16kHz", 5: "Nellymoser 8kHz", 6: "Nellymoser", 7: "G711A", 8: "G711U",
    9: "Nellymoser 16kHz", 10: "HE-AAC", 11: "SPEEX",
}  # fmt: skip
AUDIO_RATES = {0: "5.5 kHz", 1: "11 kHz", 2: "22 kHz", 3: "44 kHz"}
AUDIO_SIZES = {0: "8 bit", 1: "16 bit"}
AUDIO_TYPES = {0: "mono", 1: "stereo"}
VIDEO_TYPES = {
    1: "keyframe", 2: "inter-frame", 3: "disposable inter-frame", 4: "generated key frame",
    5: "video info/command frame",
}  # fmt: skip
VIDEO_CODECS = {
    2: "Sorensen H.263", 3: "Screen video", 4: "On2 VP6", 5: "On2 VP6+alpha",
    6: "Screen video version 2", 7: "H.264",
}  # fmt: skip
TAG_TYPES = {8: "Audio Tag", 9: "Video Tag", 18: "Script Tag"}
AMF0_TYPES = {
    0: "Number", 1: "Boolean", 2: "String", 3: "Object", 4: "Movie clip", 5: "Null",
    6: "Undefined", 7: "Reference", 8: "ECMA array", 9: "End of object", 10: "Strict array",
    11: "Date", 12: "Long string", 13: "Unsupported", 14: "Record set", 15: "XML",
    16: "Typed object", 17: "Switch to AMF3", 34: "Int64",
}  # fmt: skip
AVC_PACKET_TYPES = {0: "Sequence header", 1: "NAL units", 2: "End of sequence"}
AAC_PACKET_TYPES = {0: "Sequence header", 1: "Raw"}
AAC_OBJECTS = {1: "AAC Main", 2: "AAC LC", 3: "AAC SSR", 4: "AAC LTP", 5: "SBR", 29: "PS"}
# What tshark's rtmpt_get_amf_length can measure (skipping a value to reach a later one).
_MEASURABLE = frozenset((0, 1, 2, 5, 6, 11, 12, 13, 15, 34))
_AMF_COMMANDS = (20, 17, 18, 15)  # AMF0/AMF3 command, AMF0/AMF3 data


def _opcode(cmd: int) -> str:
    name = wire.MESSAGE_TYPES.get(cmd)
    return name if name is not None else f"Unknown (0x{cmd:x})"


_OPCODES = tuple(_opcode(cmd) for cmd in range(128))  # by type id & 0x7F
_CHUNK_TITLES = tuple(f"Real Time Messaging Protocol ({name})" for name in _OPCODES)


def _s32(data: bytes, at: int) -> int:
    """A 32-bit field printed as tshark's "%d" prints a guint32."""
    value = int.from_bytes(data[at : at + 4], "big")
    return value - (1 << 32) if value & 0x80000000 else value


class _Rare:
    """What few messages have (class-level defaults: a message sets them only when it
    has them)."""

    handshake = 0  # HANDSHAKE_1-3 for a handshake part
    opcode = False  # desc names the message type itself ("Set Chunk Size 4096")
    link = 0  # rtmpt.function.call / .response: the other frame
    response = False
    nal_size = 4  # AVC NAL unit length size in force (the sequence header's)
    data: bytes | None = None  # the handshake's bytes when not the frame's
    values: tuple | None = None  # AMF items and error, decoded once


class RtmpMessage(_Rare):
    """A message (or handshake part) that needs the session's word: its description
    (tshark's, from its body), a call/response link, a problem. The decoder TCP calls
    for it, and the layer's `Layer.hdr`; `raw` is the reader's message (None for the
    handshake)."""

    __slots__ = ("desc", "problem", "raw")

    def __init__(self, raw: RtmpChunk | None, desc: str, problem: str | None) -> None:
        self.raw = raw
        self.desc = desc  # the info column's text
        self.problem = problem

    def __call__(self, d, pkt: Packet, buf: bytes, off: int, end: int) -> None:
        """The decoder: present the message (the one-line view's stand-in for a Packet,
        tcp._Columns, gets the columns alone). off < 0: the message does not lie whole
        in the frame, the layer is over its Unchunked RTMP bytes."""
        if pkt.protocol == "RTMP":
            pkt.info += "|" + self.desc
        else:
            pkt.protocol, pkt.info = "RTMP", self.desc
        if pkt.__class__ is not Packet:
            if self.problem is not None:
                pkt.mark_malformed(None, f"rtmpt: {self.problem}")
            return
        layer = _layer(self, pkt, off, end)
        if self.problem is not None:
            pkt.mark_malformed(layer, f"rtmpt: {self.problem}")


class RtmpChunk(wire.Chunked, _Rare):
    """A message as the reader made it (`wire.rtmp.Chunked`), which is its own decoder
    when it needs nothing from the session: audio and video, most of a stream's
    messages (no second object for them). Reads as an RtmpMessage does."""

    __slots__ = ()

    @property
    def raw(self) -> RtmpChunk:
        return self

    @property
    def desc(self) -> str:
        return _OPCODES[self[9] & 0x7F]

    def __call__(self, d, pkt: Packet, buf: bytes, off: int, end: int) -> None:
        desc = _OPCODES[self[9] & 0x7F]  # Chunked.type_id
        if pkt.protocol == "RTMP":
            pkt.info += "|" + desc
        else:
            pkt.protocol, pkt.info = "RTMP", desc
        if pkt.__class__ is Packet:
            _layer(self, pkt, off, end)


class _Batch(list):
    """The messages one segment completes, as one decoder: [(message, start, stop)]."""

    __slots__ = ()

    def __call__(self, d, pkt: Packet, buf: bytes, off: int, end: int) -> None:
        for msg, start, stop in self:
            msg(d, pkt, buf, start, stop)


def _layer(msg, pkt: Packet, off: int, end: int) -> Layer:
    if off >= 0:
        layer = Layer("rtmpt", _title, off, end, msg, _rows)
    else:
        data = msg.data
        if data is None:
            raw = msg.raw
            data = raw.header + (raw.head if raw.body is None else raw.body)
        layer = Layer("rtmpt", _title, 0, len(data), msg, _rows)
        layer.data = data
    pkt.layers.append(layer)
    return layer


class _Side:
    __slots__ = ("hs", "hs_buf", "nal_size", "phase", "pos", "reader", "txids")

    def __init__(self) -> None:
        self.phase = START
        self.pos = 0  # stream position of the next byte (bytes seen in this direction)
        self.hs = 0  # the handshake part being read
        self.hs_buf = bytearray()
        self.reader = wire.ChunkReader(
            strict=False, keep=KEEP, budget=BUDGET, keep_chunks=False, kind=RtmpChunk
        )
        self.txids: dict[int, int] = {}  # transaction id -> frame that carried it
        self.nal_size: dict[int, int] = {}  # message stream id -> AVC NAL length size


class RtmpSession:
    """One TCP stream's RTMP (registry.StreamProtocol session; see the module's doc)."""

    __slots__ = ("proto", "sides")

    def __init__(self, proto: registry.StreamProtocol) -> None:
        self.proto = proto
        self.sides = (_Side(), _Side())

    def reset(self, side: int) -> None:
        """The direction lost bytes: what was under way is dropped; the next segment
        is taken to start a chunk."""
        s = self.sides[side]
        s.reader.resync()
        s.hs_buf = bytearray()
        s.phase = CHUNKS
        s.reader.pos = s.pos

    def split(self, side: int, data, pos: int, end: int, fin: bool, no: int, ts_ns: int,
              carried: int = 0):  # fmt: skip
        """registry.StreamProtocol's session split: -> (pdus, used, info). Every byte is
        taken (a cut chunk header waits in the reader); a segment that completes no
        message gets a PDU that changes nothing, so TCP's info stays as tshark leaves it."""
        s = self.sides[side]
        out: list[tuple[Any, int, int]] = []
        seg = s.pos - pos  # stream position of data[0]
        if s.phase == CHUNKS:  # (almost always)
            reader = s.reader
            found = reader.parse(data, pos, end)
            s.pos = reader.pos
            nal_size = s.nal_size
            for raw in found:
                start, stop = raw[3] - seg, raw[4] - seg  # Chunked.start, .end
                if start < pos or stop - start != len(raw[2]) + raw[8]:
                    start = -1  # not whole in this frame: the layer is its Unchunked RTMP
                cmd = raw[9] & 0x7F  # Chunked.type_id
                if raw[14] is None:  # (no problem)
                    if cmd == 8:  # audio: its own decoder
                        out.append((raw, start, stop))
                        continue
                    if cmd == 9:  # video: its own decoder, unless _video says otherwise
                        body = raw[11]
                        if (
                            body is None
                            or len(body) < 2
                            or body[0] & 0x0F != 7
                            or (body[1] and nal_size.get(raw[10], 4) == 4)
                        ):
                            out.append((raw, start, stop))
                            continue
                out.append((self._message(s, side, raw, cmd, no), start, stop))
            if len(out) == 1:
                return out, end, None
            if out:  # several messages: one PDU for TCP, which calls each in turn
                return [(_Batch(out), pos, end)], end, None
            return [(decode_nothing, end, end)], end, None
        p = pos
        while p < end:
            if s.phase == CHUNKS:
                for raw in s.reader.parse(data, p, end):
                    start, stop = raw[3] - seg, raw[4] - seg
                    if start < pos or stop - start != len(raw[2]) + raw[8]:
                        start = -1
                    out.append((self._message(s, side, raw, raw[9] & 0x7F, no), start, stop))
                s.pos = s.reader.pos
                break
            if s.phase == START:
                if s.pos == 0 and data[p] == wire.VERSION:
                    other = self.sides[1 - side]
                    s.hs = HANDSHAKE_2 if other.pos else HANDSHAKE_1
                    s.phase = HS
                else:
                    s.phase, s.reader.pos = CHUNKS, s.pos
                continue
            # the handshake: C0+C1 then C2, or S0+S1+S2
            want = (1 + wire.HANDSHAKE_SIZE, 1 + 2 * wire.HANDSHAKE_SIZE, wire.HANDSHAKE_SIZE)[
                s.hs - 1
            ]
            have = len(s.hs_buf)
            n = min(want - have, end - p)
            if have + n == want:
                msg = RtmpMessage(None, HANDSHAKE_NAMES[s.hs], None)
                msg.handshake = s.hs
                if not have:  # whole in this segment
                    out.append((msg, p, p + n))
                else:
                    msg.data = bytes(s.hs_buf + data[p : p + n])
                    s.hs_buf = bytearray()
                    out.append((msg, -1, p + n))
                if s.hs == HANDSHAKE_1:
                    s.hs = HANDSHAKE_3
                else:
                    s.phase, s.reader.pos = CHUNKS, s.pos + n
            else:
                s.hs_buf += data[p : p + n]
            p += n
            s.pos += n
        if not out:
            out.append((decode_nothing, end, end))
        return out, end, None

    @staticmethod
    def _video(s: _Side, raw: wire.Chunked) -> int:
        """A video message's NAL unit length size (an AVC sequence header sets it for
        its message stream)."""
        body = raw.body
        if body is None or len(body) < 2 or body[0] & 0x0F != 7:
            return 4
        if body[1] == 0:
            try:
                _profile, _level, size, _sps, _pps = flv.avc_parameter_sets(body[5:])
            except (flv.FlvError, IndexError):
                size = 4
            if len(s.nal_size) < 64:
                s.nal_size[raw.stream_id] = size
            return 4  # (the sequence header itself has no NAL unit lengths)
        return s.nal_size.get(raw.stream_id, 4) if s.nal_size else 4

    def _message(self, s: _Side, side: int, raw: RtmpChunk, cmd: int, no: int) -> RtmpMessage:
        """What a message shows that depends on the stream so far: its description
        (tshark's rtmpt_get_packet_desc), the call/response link, the NAL length size."""
        msg = RtmpMessage(raw, "", raw.problem)
        body = raw.body
        if body is None:
            body = raw.head
        length = raw.length
        desc = None
        if cmd in _AMF_COMMANDS:
            desc = self._command(s, side, msg, cmd, body, length, no)
        elif cmd == 9:
            size = self._video(s, raw)
            if size != 4:
                msg.nal_size = size
        elif cmd in (1, 2, 3, 5):
            if length >= 4 and len(body) >= 4:
                desc, msg.opcode = f"{_opcode(cmd)} {_s32(body, 0)}", True
            elif msg.problem is None:
                msg.problem = f"{_opcode(cmd)} of {length} bytes, shorter than 4"
        elif cmd == 6:
            if length >= 5 and len(body) >= 5:
                limit = LIMIT_TYPES.get(body[4], f"Unknown ({body[4]})")
                desc, msg.opcode = f"Set Peer Bandwidth {_s32(body, 0)},{limit}", True
            elif msg.problem is None:
                msg.problem = f"Set Peer Bandwidth of {length} bytes, shorter than 5"
        elif cmd == 4:
            if length >= 2 and len(body) >= 2:
                event = body[0] << 8 | body[1]
                name = wire.USER_CONTROL_EVENTS.get(event)
                if name is None:
                    name, msg.opcode = f"User Control Message 0x{event:x}", True
                param = ""
                if event in (0, 1, 2, 4) and length >= 6 and len(body) >= 6:
                    param = f" {_s32(body, 2)}"
                elif event == 3 and length >= 10 and len(body) >= 10:
                    param = f" {_s32(body, 2)},{_s32(body, 6)}ms"
                desc = name + param
            elif msg.problem is None:
                msg.problem = f"User Control Message of {length} bytes, shorter than 2"
        elif cmd == 22 and raw.kept and msg.problem is None:
            msg.problem = _aggregate_problem(body)
        msg.desc = desc if desc is not None else _OPCODES[cmd]
        return msg

    def _command(self, s: _Side, side: int, msg: RtmpMessage, cmd: int, body: bytes,
                 length: int, no: int) -> str | None:  # fmt: skip
        """An AMF command or data message: its name and tshark's chosen parameter, and
        the transaction ids that link a _result/_error to its call."""
        soff = 1 if cmd in (17, 15) else 0
        items, error = amf0.decode_items(body, soff) if msg.raw.kept else ([], None)
        msg.values = (items, error)
        if error is not None and msg.problem is None:
            msg.problem = f"AMF0: {error}"
        # tshark's rtmpt_get_amf_txid: the number after a first value it can measure
        txid = 0
        if len(items) > 1 and _measured(items[0]) and items[1].marker == amf0.NUMBER:
            value = items[1].value
            txid = int(value) & 0xFFFFFFFF if math.isfinite(value) else 0
        if txid:
            txids = s.txids
            if len(txids) >= MAX_TXIDS:
                txids.clear()
            txids[txid] = no
        if length < 3 + soff or len(body) < 3 + soff:
            return None
        slen = body[1 + soff] << 8 | body[2 + soff]
        if not slen:
            return None
        name = bytes(body[3 + soff : 3 + soff + slen]).decode("ascii", "replace")
        if 3 + soff + slen > len(body) and msg.problem is None:
            msg.problem = f"command name of {slen} bytes past the message's end"
        param = None
        if name == "connect":
            param = _amf_param(items, 2, "app")
        elif name in ("play", "releaseStream", "FCPublish", "publish"):
            param = _amf_param(items, 3, None)
        elif name == "play2":
            param = _amf_param(items, 3, "streamName")
        elif name == "onStatus":
            param = _amf_param(items, 3 if cmd in (20, 17) else 1, "code")
        elif name == "onPlayStatus":
            param = _amf_param(items, 1, "code")
        elif name in ("_result", "_error"):
            param = _amf_param(items, 3, "code")
            msg.response = True
        if txid:
            msg.link = self.sides[1 - side].txids.get(txid, 0)
        return f"{name}('{param}')" if param is not None else f"{name}()"


def _measured(item: amf0.Item) -> bool:
    """Whether tshark's rtmpt_get_amf_length can measure the value (to skip past it)."""
    if item.marker in _MEASURABLE:
        return True
    if item.marker in (amf0.OBJECT, amf0.ECMA_ARRAY):
        return all(_measured(child) for _name, _at, child in item.members)
    return False


def _amf_param(items: list, index: int, prop: str | None) -> str | None:
    """tshark's rtmpt_get_amf_param: the string at `index` (prop None), or the string
    property `prop` (its name's first letters) of the object at `index`."""
    if len(items) <= index or not all(_measured(item) for item in items[:index]):
        return None
    item = items[index]
    if prop is None:
        return item.value if item.marker == amf0.STRING else None
    if item.marker != amf0.OBJECT:
        return None
    for name, _at, child in item.members:
        if name.startswith(prop):
            return child.value if child.marker == amf0.STRING else None
        if not _measured(child):
            return None
    return None


def _aggregate_problem(body: bytes) -> str | None:
    pos = 0
    while pos < len(body):
        if pos + 11 > len(body):
            return f"aggregate tag header cut short at byte {pos}"
        size = int.from_bytes(body[pos + 1 : pos + 4], "big")
        if pos + 11 + size + 4 > len(body):
            return f"aggregate tag of {size} bytes at byte {pos} past the message's end"
        pos += 11 + size + 4
    return None


# --- decoders ------------------------------------------------------------------------------------
def decode_nothing(d, pkt: Packet, buf: bytes, off: int, end: int) -> None:
    """A segment that completes no message: TCP's info stays (tshark's rtmpt does not
    say "[TCP segment of a reassembled PDU]")."""
    return None


def decode_rtmp(d, pkt: Packet, buf: bytes, off: int, end: int) -> None:
    """One segment on its own (the first fragment of an IP datagram that cannot be
    reassembled): its messages as far as the segment holds them, in a session of its own."""
    session = RtmpSession(PROTOCOL)
    out, _used, _info = session.split(0, buf, off, end, False, pkt.no, pkt.ts_ns, 0)
    for fn, start, stop in out:
        fn(d, pkt, buf, start, stop)


def rtmp_pdu_length(data: bytes) -> None:
    """StreamProtocol.pdu_length: unused, the session splits the bytes."""
    return None


def rtmp_heuristic(buf: bytes, off: int, end: int):
    """RTMP on any port: a direction's first segment holds C0 = 3 and C1's first bytes
    (all 1536 of them, or as many as a segment of at least 536 bytes holds)."""
    if buf[off] == wire.VERSION and 536 <= end - off <= 1 + wire.HANDSHAKE_SIZE:
        return PROTOCOL
    return None


PROTOCOL = registry.StreamProtocol(decode_rtmp, rtmp_pdu_length, RtmpSession)


# --- fields --------------------------------------------------------------------------------------
def _title(layer: Layer) -> str:
    msg: RtmpMessage = layer.hdr
    if msg.__class__ is RtmpChunk:  # (audio, video: desc is the type's name)
        return _CHUNK_TITLES[msg[9] & 0x7F]
    if msg.handshake:
        return f"Real Time Messaging Protocol ({msg.desc})"
    name = _opcode(msg.raw.type_id & 0x7F)
    if msg.opcode or msg.desc == name:
        return f"Real Time Messaging Protocol ({msg.desc})"
    return f"Real Time Messaging Protocol ({name} {msg.desc})"


def _hexshow(label: str, data: bytes) -> str:
    return f"{label}: {data[:36].hex()}{'…' if len(data) > 36 else ''}"


def _bits8(value: int, mask: int) -> str:
    """tshark's bit diagram of an 8-bit field, "..00 0011"."""
    out = []
    for bit in range(7, -1, -1):
        out.append(("1" if value >> bit & 1 else "0") if mask >> bit & 1 else ".")
        if bit == 4:
            out.append(" ")
    return "".join(out)


def _header_texts(b0: int) -> tuple[str, str]:
    fmt, csid = b0 >> 6, b0 & 0x3F
    return (f"{_bits8(b0, 0xC0)} = Format: {fmt}", f"{_bits8(b0, 0x3F)} = Chunk Stream ID: {csid}")


def _audio_texts(ctl: int) -> tuple[str, ...]:
    fmt, rate, size, kind = ctl >> 4, (ctl >> 2) & 3, (ctl >> 1) & 1, ctl & 1
    text = (
        f"{AUDIO_CODECS.get(fmt, 'Unknown codec')} {AUDIO_RATES[rate]} "
        f"{AUDIO_SIZES[size]} {AUDIO_TYPES[kind]}"
    )
    return (
        f"Control: 0x{ctl:02x} ({text})",
        f"{_bits8(ctl, 0xF0)} = Format: {AUDIO_CODECS.get(fmt, 'Unknown')} ({fmt})",
        f"{_bits8(ctl, 0x0C)} = Sample rate: {AUDIO_RATES[rate]} ({rate})",
        f"{_bits8(ctl, 0x02)} = Sample size: {AUDIO_SIZES[size]} ({size})",
        f"{_bits8(ctl, 0x01)} = Channels: {AUDIO_TYPES[kind]} ({kind})",
    )


def _video_texts(ctl: int) -> tuple[str, ...]:
    kind, codec = ctl >> 4, ctl & 0x0F
    return (
        f"Control: 0x{ctl:02x} ({VIDEO_TYPES.get(kind, 'Unknown frame type')} "
        f"{VIDEO_CODECS.get(codec, 'Unknown codec')})",
        f"{_bits8(ctl, 0xF0)} = Type: {VIDEO_TYPES.get(kind, 'Unknown')} ({kind})",
        f"{_bits8(ctl, 0x0F)} = Format: {VIDEO_CODECS.get(codec, 'Unknown')} ({codec})",
    )


class _ByByte(dict):
    """The tree's texts that depend on one byte alone (a chunk's first byte, an audio or
    video message's control byte), made the first time that byte is seen (at most 256)."""

    __slots__ = ("make",)

    def __init__(self, make) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, byte: int):
        text = self[byte] = self.make(byte)
        return text


_HEADER_TEXTS = _ByByte(_header_texts)
_AUDIO_TEXTS = _ByByte(_audio_texts)
_VIDEO_TEXTS = _ByByte(_video_texts)
_TYPE_TEXTS = _ByByte(lambda type_id: f"Type ID: {_opcode(type_id)} (0x{type_id:02x})")


# fmt: off  (field tables: one Wireshark field per line reads best)
def _rows(layer: Layer, buf: bytes) -> list:
    msg: RtmpMessage = layer.hdr
    o = layer.off
    if msg.handshake:
        return _handshake_rows(msg, buf, o)
    raw = msg.raw
    rows = []
    hlen = len(raw.header)
    if msg.link:
        if msg.response:
            rows.append(
                row(
                    "rtmpt.function.response",
                    msg.link,
                    f"Call for this response in frame: {msg.link}",
                    o,
                    hlen + raw.length,
                )
            )
        else:
            rows.append(
                row(
                    "rtmpt.function.call",
                    msg.link,
                    f"Response to this call in frame: {msg.link}",
                    o,
                    hlen + raw.length,
                )
            )
    fmt, csid, b0 = raw.fmt, raw.csid, buf[o]
    bh = 1 if b0 & 0x3F > 1 else (2 if b0 & 0x3F == 0 else 3)
    rows.append(row("", "", "RTMP Header", o, hlen))
    fmt_show, csid_show = _HEADER_TEXTS[b0]
    rows.append(row("rtmpt.header.format", fmt, fmt_show, o, 1, 1))
    rows.append(row("rtmpt.header.csid", csid, csid_show if bh == 1 else f"Chunk Stream ID: {csid}",
                    o, bh, 1))  # fmt: skip
    m = o + bh
    if fmt == 0:
        rows.append(
            row("rtmpt.header.timestamp", raw.ts_field, f"Timestamp: {raw.ts_field}", m, 3, 1)
        )
    elif fmt < 3:
        rows.append(
            row(
                "rtmpt.header.timestampdelta",
                raw.ts_field,
                f"Timestamp delta: {raw.ts_field}",
                m,
                3,
                1,
            )
        )
    if fmt < 3 and raw.ets is not None:
        rows.append(
            row("rtmpt.header.ets", raw.ets, f"Extended timestamp: {raw.ets}", o + hlen - 4, 4, 1)
        )
    if (fmt > 0 and raw.ets is None) or fmt == 3:
        rows.append(
            row(
                "rtmpt.header.timestamp",
                raw.timestamp,
                f"Timestamp: {raw.timestamp} (calculated)",
                m,
                0,
                1,
            )
        )
    if fmt <= 1:
        rows.append(
            row("rtmpt.header.bodysize", raw.length, f"Body size: {raw.length}", m + 3, 3, 1)
        )
        rows.append(
            row(
                "rtmpt.header.typeid",
                raw.type_id,
                _TYPE_TEXTS[raw.type_id],
                m + 6,
                1,
                1,
            )
        )
    if fmt == 0:
        rows.append(
            row("rtmpt.header.streamid", raw.stream_id, f"Stream ID: {raw.stream_id}", m + 7, 4, 1)
        )
    if not raw.length:
        return rows
    b = o + hlen  # the body
    body = bytes(buf[b : layer.end])
    rows.append(row("", "", "RTMP Body", b, len(body)))
    if not raw.kept:
        rows.append(
            row(
                "",
                "",
                f"[Body of {raw.length} bytes not kept (over "
                f"{KEEP >> 20} MiB, or too many unfinished): its first "
                f"{len(body)} bytes follow]",
                b,
                len(body),
                1,
            )
        )
    cmd = raw.type_id & 0x7F
    if cmd in (1, 2, 3, 4, 5, 6):
        rows += _control_rows(cmd, body, b)
    elif cmd in _AMF_COMMANDS and raw.kept:
        soff = 1 if cmd in (17, 15) else 0
        items, error = msg.values if msg.values is not None else amf0.decode_items(body, soff)
        for item in items:
            rows += _amf_rows(item, body, b, 1)
        if error is not None:
            rows.append(row("", "", f"[AMF0: {error}]", b, len(body), 1))
    elif cmd == 8:
        rows += _audio_rows(body, b, 1)
    elif cmd == 9:
        rows += _video_rows(body, b, 1, msg.nal_size)
    elif cmd == 22 and raw.kept:
        rows += _aggregate_rows(body, b)
    return rows


# Each handshake part's pieces: (field, size); a 1-byte piece is the version (C0, S0).
_HANDSHAKE_PIECES = {
    HANDSHAKE_1: (("rtmpt.handshake.c0", 1), ("rtmpt.handshake.c1", 1536)),
    HANDSHAKE_2: (("rtmpt.handshake.s0", 1), ("rtmpt.handshake.s1", 1536),
                  ("rtmpt.handshake.s2", 1536)),
    HANDSHAKE_3: (("rtmpt.handshake.c2", 1536),),
}  # fmt: skip


def _handshake_rows(msg: RtmpMessage, buf: bytes, o: int) -> list:
    rows = [row("", "", msg.desc, o, 0)]
    at = o
    for name, size in _HANDSHAKE_PIECES[msg.handshake]:
        data = bytes(buf[at : at + size])
        if size == 1:
            rows.append(row(name, data, f"Protocol version: {buf[at]:02x}", at, 1, 1))
        else:
            rows.append(row(name, data, _hexshow("Handshake data", data), at, size, 1))
        at += size
    return rows


def _control_rows(cmd: int, body: bytes, b: int) -> list:
    rows = []
    if cmd == 4:
        if len(body) >= 2:
            event = body[0] << 8 | body[1]
            name = wire.USER_CONTROL_EVENTS.get(event, "Unknown")
            rows.append(row("rtmpt.ucm.eventtype", event, f"Event type: {name} ({event})", b, 2, 1))
        return rows
    if len(body) < 4:
        return rows
    value = int.from_bytes(body[:4], "big")
    name, label = {
        1: ("rtmpt.scm.chunksize", "Chunk size"),
        2: ("rtmpt.scm.csid", "Chunk stream ID"),
        3: ("rtmpt.scm.seq", "Sequence number"),
        5: ("rtmpt.scm.was", "Window acknowledgement size"),
        6: ("rtmpt.scm.was", "Window acknowledgement size"),
    }[cmd]
    rows.append(row(name, value, f"{label}: {value}", b, 4, 1))
    if cmd == 6 and len(body) >= 5:
        limit = body[4]
        rows.append(
            row(
                "rtmpt.scm.limittype",
                limit,
                f"Limit type: {LIMIT_TYPES.get(limit, 'Unknown')} ({limit})",
                b + 4,
                1,
                1,
            )
        )
    return rows


def _number(value: float) -> str:
    return format(value, ".15g")


def _text(value: str) -> str:
    """A string as tshark's tree and fields show it: up to its first NUL."""
    return value.split("\x00", 1)[0] if "\x00" in value else value


def _amf_heading(item: amf0.Item) -> str:
    """tshark's text for a value: "String 'live'", "Number 1", "Object (4 items)" …"""
    marker, value = item.marker, item.value
    name = AMF0_TYPES.get(marker, "Unknown")
    if marker == amf0.NUMBER:
        return f"{name} {_number(value)}"
    if marker == amf0.BOOLEAN:
        return f"{name} {'true' if value else 'false'}"
    if marker in (amf0.STRING, amf0.LONG_STRING, amf0.XML_DOCUMENT):
        return f"{name} '{_text(value)}'"
    if marker in (amf0.OBJECT, amf0.ECMA_ARRAY):
        return f"{name} ({len(item.members)} items)"
    if marker == amf0.STRICT_ARRAY:
        return f"{name} ({item.count} items)"
    if marker == amf0.REFERENCE:
        return f"{name} {value.index}"
    return name


def _amf_rows(item: amf0.Item, data: bytes, base: int, depth: int) -> list:
    """One AMF value's rows as tshark's tree has them (data is the body; base its offset)."""
    marker, at = item.marker, item.start
    o, length = base + at, item.end - at
    if marker == amf0.OBJECT:
        rows = [row("amf.object", "", _amf_heading(item), o, length, depth)]
    elif marker == amf0.ECMA_ARRAY:
        rows = [row("amf.ecmaarray", "", _amf_heading(item), o, length, depth)]
    elif marker == amf0.STRICT_ARRAY:
        rows = [row("amf.strictarray", "", _amf_heading(item), o, length, depth)]
    else:
        rows = [row("", "", _amf_heading(item), o, length, depth)]
    d = depth + 1
    type_name = AMF0_TYPES.get(marker, "Unknown")
    rows.append(row("amf.amf0_type", marker, f"AMF0 type: {type_name} (0x{marker:02x})", o, 1, d))
    p = o + 1
    value = item.value
    if marker == amf0.NUMBER:
        rows.append(row("amf.number", value, f"Number: {_number(value)}", p, 8, d))
    elif marker == amf0.BOOLEAN:
        rows.append(row("amf.boolean", value, f"Boolean: {'True' if value else 'False'}", p, 1, d))
    elif marker == amf0.STRING:
        n = item.end - at - 3
        rows.append(row("amf.stringlength", n, f"String length: {n}", p, 2, d))
        if n:
            # The value as tshark has it too (-T fields, filters): up to its first NUL.
            rows.append(row("amf.string", _text(value), f"String: {_text(value)}", p + 2, n, d))
    elif marker in (amf0.LONG_STRING, amf0.XML_DOCUMENT):
        n = item.end - at - 5
        rows.append(row("amf.stringlength", n, f"String length: {n}", p, 4, d))
        if n:
            name = "amf.xml_doc" if marker == amf0.XML_DOCUMENT else "amf.longstring"
            label = "XML document" if marker == amf0.XML_DOCUMENT else "Long string"
            rows.append(row(name, _text(value), f"{label}: {_text(value)}", p + 4, n, d))
    elif marker in (amf0.OBJECT, amf0.ECMA_ARRAY, amf0.TYPED_OBJECT):
        if marker == amf0.ECMA_ARRAY:
            rows.append(row("amf.arraylength", item.count, f"Array length: {item.count}", p, 4, d))
        elif marker == amf0.TYPED_OBJECT:
            n = len(item.name.encode())
            rows.append(row("amf.stringlength", n, f"String length: {n}", p, 2, d))
            rows.append(row("amf.string", item.name, f"String: {item.name}", p + 2, n, d))
        for name, name_at, child in item.members:
            rows += _property_rows(name, base + name_at, child, data, base, d)
        rows.append(
            row("amf.end_of_object_marker", "", "End Of Object Marker", base + item.end - 3, 3, d)
        )
    elif marker == amf0.STRICT_ARRAY:
        rows.append(row("amf.arraylength", item.count, f"Array length: {item.count}", p, 4, d))
        for child in item.members:
            rows += _amf_rows(child, data, base, d)
    elif marker == amf0.REFERENCE:
        rows.append(
            row("amf.object_reference", value.index, f"Object reference: {value.index}", p, 2, d)
        )
    elif marker == amf0.DATE:
        seconds = value.millis / 1000 if math.isfinite(value.millis) else 0.0
        rows.append(row("amf.date", seconds, f"Date: {_date_text(value.millis)}", p, 8, d))
    elif marker == amf0.AVMPLUS:
        rows.append(row("", "", "[AMF3 values follow: not decoded]", p, base + len(data) - p, d))
    return rows


def _property_rows(name: str, o: int, child: amf0.Item, data: bytes, base: int, depth: int) -> list:
    n = child.start + base - o - 2
    rows = [
        row(
            "",
            "",
            f"Property '{_text(name)}' {_amf_heading(child)}",
            o,
            child.end + base - o,
            depth,
        ),
        row("", "", f"Name: {_text(name)}", o, 2 + n, depth + 1),
        row("amf.stringlength", n, f"String length: {n}", o, 2, depth + 2),
        row("amf.string", name, f"String: {_text(name)}", o + 2, n, depth + 2),
    ]
    return rows + _amf_rows(child, data, base, depth + 1)


def _date_text(millis: float) -> str:
    import datetime

    try:
        when = datetime.datetime.fromtimestamp(millis / 1000, datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return f"{millis} ms"
    return when.strftime("%b %d, %Y %H:%M:%S.%f UTC")


# An audio or video message's control byte: the byte's field, then (field, mask, shift)
# of the bits it is made of, in _AUDIO_TEXTS's and _VIDEO_TEXTS's order; the data's field.
_AUDIO_FIELDS = (
    "rtmpt.audio.control",
    (("rtmpt.audio.format", 0xF0, 4), ("rtmpt.audio.rate", 0x0C, 2),
     ("rtmpt.audio.size", 0x02, 1), ("rtmpt.audio.type", 0x01, 0)),
    "rtmpt.audio.data",
)  # fmt: skip
_VIDEO_FIELDS = (
    "rtmpt.video.control",
    (("rtmpt.video.type", 0xF0, 4), ("rtmpt.video.format", 0x0F, 0)),
    "rtmpt.video.data",
)


def _media_rows(body: bytes, b: int, depth: int, fields: tuple, texts: dict, label: str) -> list:
    """The control byte's row, its bit fields' rows, then the data's row."""
    ctl = body[0]
    shown = texts[ctl]
    control, bits, data_field = fields
    rows = [row(control, ctl, shown[0], b, 1, depth)]
    for (name, mask, shift), text in zip(bits, shown[1:], strict=True):
        rows.append(row(name, (ctl & mask) >> shift, text, b, 1, depth + 1))
    data = body[1:]
    rows.append(row(data_field, data, _hexshow(label, data), b + 1, len(body) - 1, depth))
    return rows


def _audio_rows(body: bytes, b: int, depth: int) -> list:
    if not body:
        return []
    rows = _media_rows(body, b, depth, _AUDIO_FIELDS, _AUDIO_TEXTS, "Audio data")
    d = depth + 1
    if body[0] >> 4 == 10 and len(body) >= 2:  # AAC (netlab's own fields)
        kind = body[1]
        rows.append(
            row(
                "rtmpt.audio.aac.packet_type",
                kind,
                f"AAC packet type: {AAC_PACKET_TYPES.get(kind, 'Unknown')} ({kind})",
                b + 1,
                1,
                depth,
            )
        )
        tag = flv.parse_audio(body) if kind == 0 else None  # (the config's fields)
        if tag is not None and tag.object_type is not None:
            obj = tag.object_type
            rows += [
                row(
                    "rtmpt.audio.aac.object_type",
                    obj,
                    f"Audio object type: {AAC_OBJECTS.get(obj, 'Unknown')} ({obj})",
                    b + 2,
                    2,
                    d,
                ),
                row(
                    "rtmpt.audio.aac.sample_rate",
                    tag.sample_rate or 0,
                    f"Sampling frequency: {tag.sample_rate or 'escape/reserved'}",
                    b + 2,
                    2,
                    d,
                ),
                row(
                    "rtmpt.audio.aac.channels",
                    tag.channels,
                    f"Channels: {tag.channels}",
                    b + 2,
                    2,
                    d,
                ),
            ]
    return rows


def _video_rows(body: bytes, b: int, depth: int, nal_size: int) -> list:
    if not body:
        return []
    rows = _media_rows(body, b, depth, _VIDEO_FIELDS, _VIDEO_TEXTS, "Video data")
    if body[0] & 0x0F == 7 and len(body) >= 5:  # AVC (netlab's own fields)
        rows += _avc_rows(body, b, depth, nal_size)
    return rows


def _avc_rows(body: bytes, b: int, depth: int, nal_size: int) -> list:
    kind = body[1]
    cts = int.from_bytes(body[2:5], "big", signed=True)
    d = depth + 1
    rows = [
        row(
            "rtmpt.video.avc.packet_type",
            kind,
            f"AVC packet type: {AVC_PACKET_TYPES.get(kind, 'Unknown')} ({kind})",
            b + 1,
            1,
            depth,
        ),
        row("rtmpt.video.avc.cts", cts, f"Composition time offset: {cts}", b + 2, 3, depth),
    ]
    try:
        if kind == 0:
            config = flv.parse_avc_config(body[5:])
            level = config.level_idc
            rows += [
                row(
                    "rtmpt.video.avc.profile",
                    config.profile_idc,
                    f"AVC profile: {flv.PROFILES.get(config.profile_idc, 'Unknown')} "
                    f"({config.profile_idc})",
                    b + 6,
                    1,
                    depth,
                ),
                row(
                    "rtmpt.video.avc.level",
                    level,
                    f"AVC level: {level // 10}.{level % 10} ({level})",
                    b + 8,
                    1,
                    depth,
                ),
                row(
                    "rtmpt.video.avc.length_size",
                    config.length_size,
                    f"NAL unit length size: {config.length_size}",
                    b + 9,
                    1,
                    depth,
                ),
            ]
            if config.parsed is not None:
                sps = config.parsed
                rows += [
                    row(
                        "rtmpt.video.avc.width",
                        sps.width,
                        f"Width: {sps.width} (from the SPS)",
                        depth=depth,
                    ),
                    row(
                        "rtmpt.video.avc.height",
                        sps.height,
                        f"Height: {sps.height} (from the SPS)",
                        depth=depth,
                    ),
                ]
            units = [(7, len(s)) for s in config.sps] + [(8, len(p)) for p in config.pps]
        elif kind == 1:
            units = flv.nalu_types(body, 5, nal_size)
        else:
            units = []
    except (flv.FlvError, IndexError) as err:
        return [*rows, row("", "", f"[AVC: {err}]", b + 5, len(body) - 5, depth)]
    for nal_type, size in units:
        name = flv.NAL_TYPES.get(nal_type, "Unknown")
        rows.append(
            row(
                "rtmpt.video.avc.nal_type",
                nal_type,
                f"NAL unit: {name} ({nal_type}), {size} bytes",
                depth=depth,
            )
        )
        rows.append(row("rtmpt.video.avc.nal_size", size, f"NAL unit size: {size}", depth=d))
    return rows


def _aggregate_rows(body: bytes, b: int) -> list:
    rows = []
    pos = 0
    while pos + 11 <= len(body):
        kind = body[pos]
        size = int.from_bytes(body[pos + 1 : pos + 4], "big")
        ts = int.from_bytes(body[pos + 4 : pos + 7], "big")
        ets, stream = body[pos + 7], int.from_bytes(body[pos + 8 : pos + 11], "big")
        o = b + pos
        data = body[pos + 11 : pos + 11 + size]
        rows += [
            row("", "", TAG_TYPES.get(kind, "Unknown Tag"), o, 11 + size + 4, 1),
            row(
                "rtmpt.tag.type", kind, f"Type: {TAG_TYPES.get(kind, 'Unknown')} ({kind})", o, 1, 2
            ),
            row("rtmpt.tag.datasize", size, f"Data size: {size}", o + 1, 3, 2),
            row("rtmpt.tag.timestamp", ts, f"Timestamp: {ts}", o + 4, 3, 2),
            row("rtmpt.tag.ets", ets, f"Timestamp Extended: {ets}", o + 7, 1, 2),
            row("rtmpt.tag.streamid", stream, f"Stream ID: {stream}", o + 8, 3, 2),
            row("", "", "Data", o + 11, len(data), 2),
        ]
        if kind == 8:
            rows += _audio_rows(data, o + 11, 3)
        elif kind == 9:
            rows += _video_rows(data, o + 11, 3, 4)
        elif kind == 18:
            items, _error = amf0.decode_items(data)
            for item in items:
                rows += _amf_rows(item, data, o + 11, 3)
        if pos + 11 + size + 4 > len(body):
            break
        tagsize = int.from_bytes(body[pos + 11 + size : pos + 15 + size], "big")
        rows.append(
            row("rtmpt.tag.tagsize", tagsize, f"Previous tag size: {tagsize}", o + 11 + size, 4, 2)
        )
        pos += 11 + size + 4
    return rows


# fmt: on


def _sources(layer: Layer, buf: bytes) -> list[tuple[str, bytes]]:
    """The hex view's extra bytes: a message put back together from chunks or segments."""
    if layer.data is None:
        return []
    return [("Unchunked RTMP", layer.data)]


# --- the fast tree writer (model.TREE_WRITERS): _rows' lines written straight as text --------
# for the messages of a stream (audio and video, their own decoders: RtmpChunk) with a
# 1-byte basic header and no extended timestamp: AAC raw frames and AVC NAL units. The
# rest (sequence headers, commands, control, anything damaged) takes the generic path.
def _tree(layer: Layer, buf: bytes) -> str | None:
    msg = layer.hdr
    if msg.__class__ is not RtmpChunk or layer.malformed is not None:
        return None
    o = layer.off
    b0 = buf[o]
    fmt, length, body = msg[1], msg[8], msg[11]
    cmd = msg[9] & 0x7F
    if b0 & 0x3F < 2 or msg[6] is not None or not length or body is None or cmd not in (8, 9):
        return None
    b = o + len(msg[2])  # the body
    body = buf[b : layer.end]
    if not body:
        return None
    fmt_show, csid_show = _HEADER_TEXTS[b0]
    lines = [_CHUNK_TITLES[cmd], "    RTMP Header", "        " + fmt_show, "        " + csid_show]
    if fmt == 0:
        lines.append(f"        Timestamp: {msg[5]}")
    else:
        if fmt < 3:
            lines.append(f"        Timestamp delta: {msg[5]}")
        lines.append(f"        Timestamp: {msg[7]} (calculated)")
    if fmt <= 1:
        lines.append(f"        Body size: {length}")
        lines.append("        " + _TYPE_TEXTS[msg[9]])
        if fmt == 0:
            lines.append(f"        Stream ID: {msg[10]}")
    lines.append("    RTMP Body")
    ctl = body[0]
    more = "…" if len(body) > 37 else ""
    if cmd == 8:
        texts = _AUDIO_TEXTS[ctl]
        lines += (
            "        " + texts[0],
            "            " + texts[1],
            "            " + texts[2],
            "            " + texts[3],
            "            " + texts[4],
            f"        Audio data: {body[1:37].hex()}{more}",
        )
        if ctl >> 4 == 10 and len(body) >= 2:  # AAC
            if body[1] != 1:
                return None  # (a sequence header, or no AAC packet type tshark knows)
            lines.append("        AAC packet type: Raw (1)")
        return "\n".join(lines)
    texts = _VIDEO_TEXTS[ctl]
    lines += (
        "        " + texts[0],
        "            " + texts[1],
        "            " + texts[2],
        f"        Video data: {body[1:37].hex()}{more}",
    )
    if ctl & 0x0F == 7 and len(body) >= 5:  # AVC
        if body[1] != 1:
            return None  # (a sequence header, an end of sequence)
        lines.append("        AVC packet type: NAL units (1)")
        cts = int.from_bytes(body[2:5], "big", signed=True)
        lines.append(f"        Composition time offset: {cts}")
        try:
            units = flv.nalu_types(body, 5, msg.nal_size)
        except (flv.FlvError, IndexError):
            return None
        for nal_type, size in units:
            name = flv.NAL_TYPES.get(nal_type, "Unknown")
            lines.append(f"        NAL unit: {name} ({nal_type}), {size} bytes")
            lines.append(f"            NAL unit size: {size}")
    return "\n".join(lines)


ONE_PER_SEGMENT.add("rtmpt")
OWN_BUFFERS.add("rtmpt")  # (Unchunked RTMP: no "[Reassembled TCP Segments]" in phs)
registry.register(
    "rtmpt",
    "amf",
    tcp_ports={RTMP_PORT: PROTOCOL},
    tcp_start_heuristics=(rtmp_heuristic,),
    data_sources={_rows: _sources},
    writers={_rows: (None, _tree)},
)
