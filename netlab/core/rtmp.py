"""`rtmp-handshake`: an RTMP client, from C0 to the first H.264 frames, kept to show.

    C0 C1  →                 (version 3; time, zero, 1528 random bytes)
           ←  S0 S1 S2       (S2 echoes C1)
    C2     →                 (echoes S1)
    connect (AMF0 command)   →  Window Ack Size, Set Peer Bandwidth, Set Chunk Size,
                             ←  _result NetConnection.Connect.Success
    createStream             →  ←  _result (the message stream id)
    play NAME                →  ←  onStatus NetStream.Play.Start, onMetaData,
                                   the AVC sequence header (SPS, PPS), frames …
    (or publish NAME → NetStream.Publish.Start, then our FLV tags as messages)

A session core on the socket runner: bytes and `now` in, `Write`s out. Every chunk
both ways is kept (`wire.rtmp.ChunkInfo`) when asked, so the chunking itself is on
screen; every command and its status code, the stream's video parameters (from the
SPS) and each frame's NAL unit types are kept for the renderer and --json. The order
of the steps above is one table per mode (`RTMP_PLAY`, `RTMP_PUBLISH`,
`RTMP_HANDSHAKE_ONLY`), run by `core.base.StateTable`; `machine.history` is the path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from netlab.core import base
from netlab.core.base import NS, Close, Connected, CoreBase, Open, SocketError, Write
from netlab.wire import amf0, flv, rtmp

DEFAULT_PORT = 1935
MAX_CHUNKS_KEPT = 20_000
# A live stream never ends by itself, and a hostile server can send tiny messages as
# fast as loopback carries them: what is kept for the renderer is bounded (the frames
# the frames, or as many as --frames asks for; commands and control messages), the rest
# only counted.
MAX_FRAMES_KEPT = 20_000
MAX_EVENTS_KEPT = 10_000


class RtmpUrlError(ValueError):
    pass


@dataclass(frozen=True)
class RtmpUrl:
    host: str
    port: int
    app: str
    stream: str

    @property
    def tc_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if self.port == DEFAULT_PORT else f":{self.port}"
        return f"rtmp://{host}{port}/{self.app}"

    def __str__(self) -> str:
        return f"{self.tc_url}/{self.stream}" if self.stream else self.tc_url


def parse_rtmp_url(text: str) -> RtmpUrl:
    text, parts, port = base.split_url(text, "rtmp", RtmpUrlError)
    path = [p for p in parts.path.split("/") if p]
    if not path:
        raise RtmpUrlError(f"{text!r}: no application (rtmp://HOST/APP/STREAM)")
    if any(c.isspace() or ord(c) < 0x20 for c in parts.path):
        raise RtmpUrlError(f"malformed URL {text!r}: spaces or control characters")
    return RtmpUrl(parts.hostname, port or DEFAULT_PORT, path[0], "/".join(path[1:]))


@dataclass(frozen=True)
class RtmpOptions:
    handshake_only: bool = False
    publish: list[flv.FlvTag] | None = None  # tags to publish (else: play)
    frames: int | None = None  # stop after this many video frames …
    seconds: float | None = None  # … or this long after play/publish started
    chunk_size: int | None = None  # our outgoing chunk size (Set Chunk Size)
    timeout: float = 5.0  # for each step that waits for the server
    keep_chunks: bool = False


@dataclass
class Command:
    direction: str  # "out" or "in"
    name: str
    transaction: float | None
    time: int
    code: str | None = None  # an info object's code (NetConnection.Connect.Success …)
    level: str | None = None
    values: list = field(default_factory=list)


@dataclass
class Frame:
    timestamp: int
    keyframe: bool
    bytes: int
    nal_types: list[int]
    time: int
    kind: str = "video"


@dataclass
class RtmpResult:
    c1: rtmp.HandshakePacket | None = None
    s0: int | None = None
    s1: rtmp.HandshakePacket | None = None
    s2: rtmp.HandshakePacket | None = None
    c2: rtmp.HandshakePacket | None = None
    s2_echoes_c1: bool | None = None
    c2_echoes_s1: bool | None = None
    commands: list[Command] = field(default_factory=list)
    controls: list[tuple[str, str, int]] = field(default_factory=list)  # (dir, text, time)
    chunk_size_in: int = rtmp.DEFAULT_CHUNK_SIZE
    chunk_size_out: int = rtmp.DEFAULT_CHUNK_SIZE
    window_ack_size: int | None = None
    peer_bandwidth: int | None = None
    stream_id: int | None = None
    metadata: dict | None = None
    video: flv.AvcConfig | None = None
    video_codec: str | None = None
    audio: flv.AudioTag | None = None
    frames: list[Frame] = field(default_factory=list)
    pictures: int = 0  # video frames holding a slice (NAL 1 or 5), kept or not
    frames_dropped: int = 0  # past frames_kept
    frames_kept: int = MAX_FRAMES_KEPT
    events_dropped: int = 0  # commands and control messages past MAX_EVENTS_KEPT
    audio_messages: int = 0
    chunks: list[tuple[str, rtmp.ChunkInfo]] = field(default_factory=list)
    chunks_dropped: int = 0
    published: int = 0  # messages we published
    error: str | None = None
    completed: bool = False
    # times (runner clock, ns)
    connect_at: int | None = None
    tcp_at: int | None = None
    c1_sent: int | None = None
    s1_at: int | None = None
    s2_at: int | None = None
    connected_at: int | None = None  # NetConnection.Connect.Success
    started_at: int | None = None  # Play.Start / Publish.Start
    first_frame_at: int | None = None
    done_at: int | None = None

    def add_frame(self, frame: Frame) -> None:
        if any(n in (1, 5) for n in frame.nal_types):
            self.pictures += 1
        if len(self.frames) < self.frames_kept:
            self.frames.append(frame)
        else:
            self.frames_dropped += 1

    def add_command(self, command: Command) -> None:
        if len(self.commands) < MAX_EVENTS_KEPT:
            self.commands.append(command)
        else:
            self.events_dropped += 1

    def add_control(self, direction: str, text: str, now: int) -> None:
        if len(self.controls) < MAX_EVENTS_KEPT:
            self.controls.append((direction, text, now))
        else:
            self.events_dropped += 1

    def ms(self, later: int | None, earlier: int | None = None) -> float | None:
        base = earlier if earlier is not None else self.c1_sent
        if later is None or base is None:
            return None
        return round((later - base) / 1e6, 3)


# --- the client as a state table ------------------------------------------------------------
# {(state, event): (action, next_state)}, run by `StateTable.fire`. The handshake's states
# are the spec's (RTMP 1.0 §5.2.1: uninitialized, version sent, … handshake done; C2 goes
# once S2 is in), then one state per command waiting for its answer. An event that the
# table does not list in the current state (a _result for createStream before connect
# was answered, a second connect _result, Publish.Start before createStream's stream id)
# ends the run with one line: "unexpected RTMP from the server: … in state …". Control
# messages, media, metadata and other commands are no steps: they may come at any time.
_HANDSHAKE = {
    ("uninitialized", "TCP connected"): ("send C0+C1", "version_sent"),
    ("version_sent", "S0"): (None, "version_received"),
    ("version_received", "S1"): (None, "s1_received"),
}
RTMP_HANDSHAKE_ONLY = {**_HANDSHAKE, ("s1_received", "S2"): ("send C2, close", "closed")}
_NET_CONNECTION = {
    **_HANDSHAKE,
    ("s1_received", "S2"): ("send C2, connect", "connect_sent"),
    ("connect_sent", "_result (connect)"): ("send createStream", "create_stream_sent"),
}
RTMP_PLAY = {
    **_NET_CONNECTION,
    ("create_stream_sent", "_result (createStream)"): ("send play", "play_sent"),
    ("play_sent", "onStatus NetStream.Play.Start"): ("wait for video", "playing"),
    # Said again when a publisher starts anew (nginx-rtmp's play_restart): no new start,
    # so neither --seconds nor the wait for video begins again.
    ("playing", "onStatus NetStream.Play.Start"): (None, "playing"),
    ("playing", "stop"): ("send deleteStream, close", "closed"),
}
RTMP_PUBLISH = {
    **_NET_CONNECTION,
    ("create_stream_sent", "_result (createStream)"): ("send publish", "publish_sent"),
    ("publish_sent", "onStatus NetStream.Publish.Start"): ("send the FLV tags", "publishing"),
    ("publishing", "stop"): ("send deleteStream, close", "closed"),
}
# The table's action names → the methods that do them.
_ACTIONS = {
    "send C0+C1": "_send_c0_c1",
    "send C2, close": "_send_c2_close",
    "send C2, connect": "_send_c2_connect",
    "send createStream": "_send_create_stream",
    "send play": "_send_play",
    "send publish": "_send_publish",
    "wait for video": "_wait_for_video",
    "send the FLV tags": "_send_flv_tags",
    "send deleteStream, close": "_send_delete_stream",
}
_RESULT_OF = {1.0: "connect", 2.0: "createStream"}  # our transaction ids
_STARTS = ("NetStream.Play.Start", "NetStream.Publish.Start")
_HANDSHAKE_STATES = {state for state, _event in _HANDSHAKE} | {"s1_received"}
_WAITING_FOR = {
    **dict.fromkeys(_HANDSHAKE_STATES, "S0/S1/S2"),
    "connect_sent": "the answer to connect",
    "create_stream_sent": "the answer to createStream",
    "play_sent": "NetStream.Play.Start",
    "publish_sent": "NetStream.Publish.Start",
    "playing": "video",
}


def rtmp_table(options: RtmpOptions) -> dict:
    if options.handshake_only:
        return RTMP_HANDSHAKE_ONLY
    return RTMP_PLAY if options.publish is None else RTMP_PUBLISH


class RtmpClient(CoreBase):
    CONN = "rtmp"

    def __init__(
        self, url: RtmpUrl, address: str, options: RtmpOptions, random: Any = os.urandom
    ) -> None:
        super().__init__()
        self.url, self.address, self.options = url, address, options
        self.random = random
        self.result = RtmpResult(frames_kept=max(MAX_FRAMES_KEPT, options.frames or 0))
        self.reader = rtmp.ChunkReader()
        self.writer = rtmp.ChunkWriter()
        self.hs_buf = bytearray()
        self.machine = base.StateTable(rtmp_table(options), "uninitialized")
        self._deadline: int | None = None
        self._stop_at: int | None = None
        self._acked = 0
        self._now = 0

    @property
    def state(self) -> str:
        return self.machine.state

    # --- the session-core interface -------------------------------------------------------
    def start(self, now: int) -> list:
        self._now = now
        self.result.c1 = rtmp.HandshakePacket(0, 0, self.random(rtmp.HANDSHAKE_SIZE - 8))
        self._deadline = now + int(self.options.timeout * NS)
        return [Open(self.CONN, "tcp", self.address, self.url.port)]

    def on_connected(self, conn: Any, info: Connected, now: int) -> list:
        self._now = now
        r = self.result
        r.connect_at, r.tcp_at, r.c1_sent = info.connect_at, info.tcp_at or now, now
        return self._step("TCP connected", now)

    def on_data(self, conn: Any, data: bytes, now: int) -> list:
        self._now = now
        if self._finished:
            return []
        if not data:
            return self._fail(now, self._closed_reason())
        try:
            if self.state in _HANDSHAKE_STATES:
                return self._handshake(data, now)
            return self._chunks(data, now)
        except (rtmp.RtmpError, amf0.AmfError, flv.FlvError) as err:
            return self._fail(now, f"malformed RTMP from the server: {err}")
        except base.ProtocolViolation as err:
            return self._fail(now, f"unexpected RTMP from the server: {err}")

    def on_datagram(self, conn: Any, data: bytes, addr: tuple, now: int) -> list:
        return []

    def on_error(self, conn: Any, err: SocketError, now: int) -> list:
        where = f"{self.address} port {self.url.port}"
        return self._fail(now, f"{err.op} to {where} failed: {err.reason}", close=False)

    def on_timer(self, now: int) -> list:
        self._now = now
        if self._stop_at is not None and now >= self._stop_at:
            return self._complete(now)
        if self._deadline is not None and now >= self._deadline:
            return self._fail(now, base.timeout_reason(self._waiting_for(), self.options.timeout))
        return []

    def deadline(self) -> int | None:
        when = self._earliest(self._deadline, self._stop_at)
        if when is None and not self._finished:
            return self._now + NS  # playing up to --frames: nothing due, but not done
        return when

    def interrupt(self, now: int) -> None:
        if not self._finished:
            if self.state in ("playing", "publishing"):
                self.result.completed = True
            else:
                self.result.error = "interrupted"
            self.result.done_at = now
            self._finish(now)

    # --- the table ------------------------------------------------------------------------------
    def _step(self, event: str, now: int, *args: Any) -> list:
        """One step of the table, and the action it names done (ProtocolViolation if
        the table has no such step in the current state)."""
        action = self.machine.fire(event, now)
        return getattr(self, _ACTIONS[action])(now, *args) if action else []

    def _wait(self, now: int) -> None:
        """A request is out: its answer is due within --timeout."""
        self._deadline = now + int(self.options.timeout * NS)

    # --- ending -------------------------------------------------------------------------------
    def _fail(self, now: int, reason: str, close: bool = True) -> list:
        self.result.error = self.result.error or reason
        self.result.done_at = self.result.done_at or now
        self._finish(now)
        return [Close(self.CONN)] if close else []

    def _complete(self, now: int) -> list:
        """--frames or --seconds reached: playing or publishing ends well."""
        r = self.result
        r.completed = True
        r.done_at = now
        self._finish(now)
        return self._step("stop", now)

    def _send_delete_stream(self, now: int) -> list:
        out = self._command(now, "deleteStream", 0.0, None, float(self.result.stream_id))
        return [*out, Close(self.CONN)]

    def _waiting_for(self) -> str:
        return _WAITING_FOR.get(self.state, self.state)

    def _closed_reason(self) -> str:
        return f"the server closed the connection while waiting for {self._waiting_for()}"

    # --- handshake ----------------------------------------------------------------------------
    def _send_c0_c1(self, now: int) -> list:
        return [Write(self.CONN, bytes([rtmp.VERSION]) + self.result.c1.pack())]

    def _handshake(self, data: bytes, now: int) -> list:
        """S0, S1 and S2, each a step of the table once its bytes are in."""
        r, size = self.result, rtmp.HANDSHAKE_SIZE
        self.hs_buf += data
        out: list = []
        if r.s0 is None and self.hs_buf:
            r.s0 = self.hs_buf[0]
            if r.s0 != rtmp.VERSION:
                return self._fail(now, f"S0 says version {r.s0}, not 3")
            out += self._step("S0", now)
        if r.s1 is None and len(self.hs_buf) >= 1 + size:
            r.s1 = rtmp.HandshakePacket.unpack(bytes(self.hs_buf[1 : 1 + size]))
            r.s1_at = now
            out += self._step("S1", now)
        if len(self.hs_buf) >= 1 + 2 * size:
            r.s2 = rtmp.HandshakePacket.unpack(bytes(self.hs_buf[1 + size : 1 + 2 * size]))
            r.s2_at = now
            rest = bytes(self.hs_buf[1 + 2 * size :])
            self.hs_buf.clear()
            r.s2_echoes_c1 = r.s2.random == r.c1.random and r.s2.time == r.c1.time
            out += self._step("S2", now, rest)
        return out

    def _c2(self, now: int) -> Write:
        """C2 echoes S1 (its time and random bytes; time2: when we read it)."""
        r = self.result
        elapsed = (now - r.c1_sent) // 1_000_000
        r.c2 = rtmp.HandshakePacket(r.s1.time, elapsed & 0xFFFFFFFF, r.s1.random)
        r.c2_echoes_s1 = True
        return Write(self.CONN, r.c2.pack())

    def _send_c2_close(self, now: int, rest: bytes) -> list:
        r = self.result
        out = [self._c2(now), Close(self.CONN)]
        r.completed = True
        r.done_at = now
        self._finish(now)
        return out

    def _send_c2_connect(self, now: int, rest: bytes) -> list:
        r = self.result
        out: list = [self._c2(now)]
        self._wait(now)
        if self.options.chunk_size:
            out += self._control(now, rtmp.SET_CHUNK_SIZE, rtmp.u32(self.options.chunk_size))
            self.writer.chunk_size = self.options.chunk_size
            r.chunk_size_out = self.options.chunk_size
        connect = {
            "app": self.url.app,
            "type": "nonprivate",
            "flashVer": "FMLE/3.0 (compatible; netlab)",
            "tcUrl": self.url.tc_url,
        }
        if self.options.publish is None:
            connect.update(
                {
                    "fpad": False,
                    "capabilities": 15.0,
                    "audioCodecs": 3191.0,
                    "videoCodecs": 252.0,
                    "videoFunction": 1.0,
                }
            )
        out += self._command(now, "connect", 1.0, connect)
        if rest:
            out += self._chunks(rest, now)
        return out

    # --- sending ------------------------------------------------------------------------------
    def _send(
        self, now: int, csid: int, type_id: int, stream_id: int, payload: bytes, timestamp: int = 0
    ) -> list:
        data, infos = self.writer.write(csid, timestamp, type_id, stream_id, payload)
        self._keep_chunks("out", infos)
        return [Write(self.CONN, data)]

    def _control(self, now: int, type_id: int, payload: bytes) -> list:
        self.result.add_control("out", _control_text(type_id, payload), now)
        return self._send(now, 2, type_id, 0, payload)

    def _command(
        self, now: int, name: str, transaction: float, *args, stream_id: int = 0, csid: int = 3
    ) -> list:
        self.result.add_command(Command("out", name, transaction, now, values=list(args)))
        payload = amf0.encode_values(name, transaction, *args)
        return self._send(now, csid, rtmp.COMMAND_AMF0, stream_id, payload)

    def _keep_chunks(self, direction: str, infos) -> None:
        if not self.options.keep_chunks:
            return
        for info in infos:
            if len(self.result.chunks) < MAX_CHUNKS_KEPT:
                self.result.chunks.append((direction, info))
            else:
                self.result.chunks_dropped += 1

    # --- receiving ----------------------------------------------------------------------------
    def _chunks(self, data: bytes, now: int) -> list:
        out: list = []
        for message in self.reader.feed(data):
            self._keep_chunks("in", message.chunks)
            out += self._message(message, now)
            if self._finished:
                return out
            if self._stop_at is not None and now >= self._stop_at:
                return out + self._complete(now)  # a flood must not carry us past the stop
        r = self.result
        if r.window_ack_size and self.reader.bytes_in - self._acked >= r.window_ack_size // 2:
            self._acked = self.reader.bytes_in
            out += self._control(now, rtmp.ACKNOWLEDGEMENT, rtmp.u32(self._acked & 0xFFFFFFFF))
        return out

    def _message(self, m: rtmp.Message, now: int) -> list:
        r = self.result
        t = m.type_id
        if t == rtmp.SET_CHUNK_SIZE:
            r.chunk_size_in = self.reader.chunk_size
        elif t == rtmp.WINDOW_ACK_SIZE:
            r.window_ack_size = rtmp.parse_u32(m.payload, "Window Acknowledgement Size")
        elif t == rtmp.SET_PEER_BANDWIDTH:
            r.peer_bandwidth = rtmp.parse_u32(m.payload, "Set Peer Bandwidth")
        if t in (
            rtmp.SET_CHUNK_SIZE,
            rtmp.WINDOW_ACK_SIZE,
            rtmp.SET_PEER_BANDWIDTH,
            rtmp.ACKNOWLEDGEMENT,
            rtmp.USER_CONTROL,
            rtmp.ABORT,
        ):
            r.add_control("in", _control_text(t, m.payload), now)
        if t == rtmp.SET_PEER_BANDWIDTH:
            return self._control(now, rtmp.WINDOW_ACK_SIZE, rtmp.u32(r.peer_bandwidth))
        if t == rtmp.USER_CONTROL:
            event, values = rtmp.parse_user_control(m.payload)
            if event == "Ping Request" and values:
                return self._control(now, rtmp.USER_CONTROL, rtmp.user_control(7, values[0]))
            return []
        if t == rtmp.COMMAND_AMF0:
            return self._on_command(amf0.decode_values(m.payload), now)
        if t == rtmp.DATA_AMF0:
            values = amf0.decode_values(m.payload)
            if values and values[0] == "onMetaData" and len(values) > 1:
                r.metadata = amf0.to_json(values[1])
            elif values and values[0] == "@setDataFrame" and len(values) > 2:
                r.metadata = amf0.to_json(values[2])
            return []
        if t in (rtmp.VIDEO, rtmp.AUDIO) and not m.payload:
            return []  # an empty media message (nginx-rtmp sends one as a stream starts)
        if t == rtmp.VIDEO:
            return self._video(m, now)
        if t == rtmp.AUDIO:
            tag = flv.parse_audio(m.payload)
            if tag.packet_type == 0 or r.audio is None:
                r.audio = tag
            r.audio_messages += 1
        return []

    def _on_command(self, values: list, now: int) -> list:
        r = self.result
        if not values or not isinstance(values[0], str):
            raise amf0.AmfError("a command message without a name")
        name = values[0]
        tid = values[1] if len(values) > 1 and isinstance(values[1], float) else None
        info = next((v for v in values[2:] if isinstance(v, dict) and "code" in v), None)
        cmd = Command(
            "in",
            name,
            tid,
            now,
            info.get("code") if info else None,
            info.get("level") if info else None,
            values[2:],
        )
        r.add_command(cmd)
        if name == "_error" or (cmd.level == "error"):
            what = cmd.code or "an error"
            description = info.get("description") if info else None
            return self._fail(
                now, f"the server answered {what}" + (f": {description}" if description else "")
            )
        if name == "_result" and tid in _RESULT_OF:
            return self._step(f"_result ({_RESULT_OF[tid]})", now, values)
        if name == "onStatus" and cmd.code in _STARTS:
            return self._step(f"onStatus {cmd.code}", now)
        return []

    def _send_create_stream(self, now: int, values: list) -> list:
        self.result.connected_at = now
        self._wait(now)
        return self._command(now, "createStream", 2.0, None)

    def _stream_id(self, values: list, now: int) -> int:
        """createStream's _result: the message stream id play or publish goes on."""
        sid = next((v for v in values[3:] if isinstance(v, float)), None)
        if sid is None:
            raise amf0.AmfError("createStream's _result has no stream id")
        self.result.stream_id = int(sid)
        self._wait(now)
        return self.result.stream_id

    def _send_play(self, now: int, values: list) -> list:
        sid = self._stream_id(values, now)
        out = self._command(now, "play", 3.0, None, self.url.stream, -2.0, stream_id=sid, csid=8)
        return out + self._control(now, rtmp.USER_CONTROL, rtmp.user_control(3, sid, 1000))

    def _send_publish(self, now: int, values: list) -> list:
        sid = self._stream_id(values, now)
        return self._command(
            now, "publish", 3.0, None, self.url.stream, "live", stream_id=sid, csid=8
        )

    def _wait_for_video(self, now: int) -> list:
        self.result.started_at = now
        self._wait(now)  # for the first video frame
        if self.options.seconds is not None:
            self._stop_at = now + int(self.options.seconds * NS)
        return []

    def _send_flv_tags(self, now: int) -> list:
        self.result.started_at = now
        out = self._publish(now)
        self._stop_at = now + int((self.options.seconds or 0.5) * NS)  # the last chunks go out
        self._deadline = None
        return out

    def _video(self, m: rtmp.Message, now: int) -> list:
        r = self.result
        length = r.video.length_size if r.video else 4
        tag = flv.parse_video(m.payload, length)
        r.video_codec = tag.codec
        if tag.config is not None:
            r.video = tag.config
        if self.state != "playing":
            return []
        r.add_frame(Frame(m.timestamp, tag.keyframe, len(m.payload), tag.nal_types, now))
        if r.first_frame_at is None:
            r.first_frame_at = now
        self._deadline = None
        if self.options.frames is not None and r.pictures >= self.options.frames:
            return self._complete(now)
        return []

    def _publish(self, now: int) -> list:
        """Our FLV tags as messages on the created stream: script data (metadata via
        @setDataFrame), audio on chunk stream 4, video on 6 — as ffmpeg lays them out."""
        r = self.result
        out: list = []
        for tag in self.options.publish:
            if tag.type_id == 18:
                values = amf0.decode_values(tag.body)
                payload = amf0.encode_values("@setDataFrame", *values)
                out += self._send(now, 5, rtmp.DATA_AMF0, r.stream_id, payload, tag.timestamp)
            elif tag.type_id in (rtmp.AUDIO, rtmp.VIDEO):
                csid = 4 if tag.type_id == rtmp.AUDIO else 6
                out += self._send(now, csid, tag.type_id, r.stream_id, tag.body, tag.timestamp)
                if tag.type_id == rtmp.VIDEO:
                    vt = flv.parse_video(tag.body, r.video.length_size if r.video else 4)
                    if vt.config is not None:
                        r.video = vt.config
                    elif vt.packet_type == 1:
                        r.add_frame(
                            Frame(tag.timestamp, vt.keyframe, len(tag.body), vt.nal_types, now)
                        )
            else:
                continue
            r.published += 1
        return out


def _control_text(type_id: int, payload: bytes) -> str:
    name = rtmp.message_type_name(type_id)
    try:
        if type_id == rtmp.USER_CONTROL:
            event, values = rtmp.parse_user_control(payload)
            return f"{name}: {event} {' '.join(map(str, values))}".rstrip()
        if type_id == rtmp.SET_PEER_BANDWIDTH:
            limit = {0: "hard", 1: "soft", 2: "dynamic"}.get(payload[4] if len(payload) > 4 else -1)
            return f"{name}: {rtmp.parse_u32(payload, name)} ({limit})"
        if type_id in (rtmp.SET_CHUNK_SIZE, rtmp.WINDOW_ACK_SIZE, rtmp.ACKNOWLEDGEMENT):
            return f"{name}: {rtmp.parse_u32(payload, name)}"
    except rtmp.RtmpError:
        pass
    return name
