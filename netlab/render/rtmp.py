"""Text and JSON for `netlab rtmp-handshake`: the handshake's fields, the commands
with their status codes, control messages, the video parameters, frames with their
NAL unit types, and (--chunks) every chunk."""

from __future__ import annotations

from typing import Any

from netlab.core.rtmp import RtmpResult
from netlab.wire import amf0, flv


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} ms"


def lines(url: Any, address: str, r: RtmpResult, show_chunks: bool) -> list[str]:
    host = url.host if url.host == address else f"{url.host} ({address})"
    out = [f"RTMP to {host} port {url.port}, app {url.app!r}, stream {url.stream!r}"]
    if r.c1 is not None and r.c1_sent is not None:
        out.append(
            f"  C0 version 3, C1 time {r.c1.time} zero {r.c1.time2} + "
            f"{len(r.c1.random)} random bytes  →"
        )
    if r.s0 is not None:
        out.append(f"  ← S0 version {r.s0}")
    if r.s1 is not None:
        out.append(
            f"  ← S1 time {r.s1.time} zero/version {r.s1.time2:#010x} + "
            f"{len(r.s1.random)} random bytes  ({_ms(r.ms(r.s1_at))})"
        )
    if r.s2 is not None:
        echo = "echoes C1" if r.s2_echoes_c1 else "does NOT echo C1"
        out.append(f"  ← S2 time {r.s2.time} time2 {r.s2.time2}: {echo}  ({_ms(r.ms(r.s2_at))})")
    if r.c2 is not None:
        out.append(f"  C2 echoes S1 (time {r.c2.time}, time2 {r.c2.time2})  →")
    if r.commands or r.controls:
        out += ["", "messages:"]
        events = [
            (c.time, "→" if c.direction == "out" else "←", _command_text(c), _command_tree(c))
            for c in r.commands
        ]
        events += [(t, "→" if d == "out" else "←", text, []) for d, text, t in r.controls]
        for when, arrow, text, tree in sorted(events, key=lambda e: e[0]):
            out.append(f"  {_ms(r.ms(when)):>13}  {arrow} {text}")
            out += [" " * 19 + line for line in tree]
        if r.events_dropped:
            out.append(f"  … {r.events_dropped} more messages not kept")
    if r.s0 is None:
        return out  # no answer (refused, timed out): the error line says why
    out.append(f"chunk size: in {r.chunk_size_in}, out {r.chunk_size_out}")
    if r.video is not None:
        out += ["", video_text(r)]
    if r.audio is not None:
        a = r.audio
        rate = f", {a.sample_rate} Hz, {a.channels} channel(s)" if a.sample_rate else ""
        out.append(f"audio: {a.codec}{rate}; {r.audio_messages} audio message(s)")
    if r.metadata:
        keys = ("width", "height", "framerate", "videocodecid", "audiocodecid", "encoder")
        meta = ", ".join(f"{k} {r.metadata[k]}" for k in keys if k in r.metadata)
        out.append(f"onMetaData: {meta}")
    if r.frames:
        out += ["", "   timestamp  type   bytes  NAL units"]
        for f in r.frames:
            kind = "key" if f.keyframe else "inter"
            nals = ", ".join(f"{flv.NAL_TYPES.get(n, n)} ({n})" for n in f.nal_types)
            out.append(f"  {f.timestamp:>9} ms  {kind:5} {f.bytes:>6}  {nals}")
        if r.frames_dropped:
            out.append(f"  … {r.frames_dropped} more video messages not kept")
    if show_chunks and r.chunks:
        out += ["", "chunks (dir fmt csid header payload  fields present):"]
        for direction, c in r.chunks:
            fields = []
            if c.timestamp is not None:
                fields.append(f"{'timestamp' if c.fmt == 0 else 'delta'} {c.timestamp}")
            if c.length is not None:
                fields.append(f"length {c.length}")
            if c.type_id is not None:
                fields.append(f"type {c.type_id}")
            if c.stream_id is not None:
                fields.append(f"stream {c.stream_id}")
            arrow = "→" if direction == "out" else "←"
            out.append(
                f"  {arrow} fmt {c.fmt} csid {c.csid:<3} {c.header_bytes:>3} "
                f"{c.payload_bytes:>6}  {', '.join(fields)}"
            )
        if r.chunks_dropped:
            out.append(f"  … {r.chunks_dropped} more chunks not kept")
    times = [f"S2 {_ms(r.ms(r.s2_at))}", f"Connect.Success {_ms(r.ms(r.connected_at))}"]
    if r.first_frame_at:
        times.append(f"first video frame {_ms(r.ms(r.first_frame_at))}")
    out += ["", "times from C1: " + ", ".join(times)]
    if r.published:
        out.append(f"published {r.published} message(s)")
    return out


def _command_text(c: Any) -> str:
    text = c.name + (f" (transaction {c.transaction:g})" if c.transaction else "")
    if c.code:
        text += f": {c.code}"
    if c.name in ("play", "publish"):
        args = [amf0.to_json(v) for v in c.values if isinstance(v, str | float)]
        text += "  " + " ".join(map(str, args))
    return text


TREE_DEPTH = 4  # a command's objects as a tree: this deep, this many properties each
TREE_PROPERTIES = 32


def _command_tree(c: Any) -> list[str]:
    """The AMF0 objects of a command (connect's command object, the properties and
    information objects of _result and onStatus), a property a line, nested ones
    indented: what rtmpdump -V dumps, readable."""
    lines: list[str] = []
    for value in c.values:
        if isinstance(value, dict) and value:
            if lines:
                lines.append("·")
            lines += _tree(value, 0)
    return lines


def _tree(obj: dict, depth: int) -> list[str]:
    lines: list[str] = []
    pad = "  " * depth
    for i, (key, value) in enumerate(obj.items()):
        if i == TREE_PROPERTIES:
            lines.append(f"{pad}… {len(obj) - i} more properties")
            break
        if isinstance(value, dict) and value and depth + 1 < TREE_DEPTH:
            lines.append(f"{pad}{key}:")
            lines += _tree(value, depth + 1)
            continue
        text = repr(amf0.to_json(value))
        lines.append(f"{pad}{key}: {text if len(text) <= 80 else text[:79] + '…'}")
    return lines


def video_text(r: RtmpResult) -> str:
    v = r.video
    sps = v.parsed
    size = f", {sps.width}x{sps.height}" if sps else ""
    profile = flv.PROFILES.get(v.profile_idc, str(v.profile_idc))
    return (
        f"video: {r.video_codec or 'AVC'} (H.264) {profile} profile, level "
        f"{v.level_idc // 10}.{v.level_idc % 10}{size}; SPS {len(v.sps)}, PPS {len(v.pps)}, "
        f"NAL length {v.length_size} bytes"
    )


def document(url: Any, address: str, r: RtmpResult, show_chunks: bool) -> dict:
    v = r.video
    return {
        "url": str(url),
        "addr": address,
        "handshake": {
            "c0": 3,
            "s0": r.s0,
            "s2_echoes_c1": r.s2_echoes_c1,
            "c2_echoes_s1": r.c2_echoes_s1,
            "server_time": r.s1.time if r.s1 else None,
            "server_version": r.s1.time2 if r.s1 else None,
            "rtt_ms": r.ms(r.s1_at),
            "s2_ms": r.ms(r.s2_at),
            "tcp_ms": r.ms(r.tcp_at, r.connect_at),
        },
        "commands": [
            {
                "dir": c.direction,
                "name": c.name,
                "transaction": c.transaction,
                "code": c.code,
                "level": c.level,
                "time_ms": r.ms(c.time),
                "values": [amf0.to_json(x) for x in c.values],
            }
            for c in r.commands
        ],
        "controls": [{"dir": d, "message": text, "time_ms": r.ms(t)} for d, text, t in r.controls],
        "chunk_size": {"in": r.chunk_size_in, "out": r.chunk_size_out},
        "window_ack_size": r.window_ack_size,
        "peer_bandwidth": r.peer_bandwidth,
        "stream_id": r.stream_id,
        "metadata": r.metadata,
        "video": None
        if v is None
        else {
            "codec": "avc",
            "profile": v.profile_idc,
            "level": v.level_idc,
            "width": v.parsed.width if v.parsed else None,
            "height": v.parsed.height if v.parsed else None,
            "sps": len(v.sps),
            "pps": len(v.pps),
        },
        "audio": None
        if r.audio is None
        else {
            "codec": r.audio.codec,
            "sample_rate": r.audio.sample_rate,
            "channels": r.audio.channels,
            "messages": r.audio_messages,
        },
        "frames": [
            {
                "timestamp": f.timestamp,
                "keyframe": f.keyframe,
                "bytes": f.bytes,
                "nal_types": f.nal_types,
                "time_ms": r.ms(f.time),
            }
            for f in r.frames
        ],
        "pictures": r.pictures,
        "frames_dropped": r.frames_dropped,
        "events_dropped": r.events_dropped,
        "chunks": [
            {
                "dir": d,
                "fmt": c.fmt,
                "csid": c.csid,
                "header_bytes": c.header_bytes,
                "bytes": c.payload_bytes,
                "length": c.length,
                "type": c.type_id,
            }
            for d, c in r.chunks
        ]
        if show_chunks
        else None,
        "published": r.published,
        "times_ms": {
            "s2": r.ms(r.s2_at),
            "connect_success": r.ms(r.connected_at),
            "start": r.ms(r.started_at),
            "first_video_frame": r.ms(r.first_frame_at),
        },
        "completed": r.completed,
        "error": r.error,
    }
