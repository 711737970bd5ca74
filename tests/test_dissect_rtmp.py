"""RTMP in the dissector against tshark's rtmpt, on captures made here and crafted ones.

- Captures recorded in the test (tcpdump on lo, started and stopped by pid, recorded
  again when the kernel drops packets) of nginx-rtmp (tests/rtmp_servers.py) on free
  ports: ffmpeg publishing its test pattern, from its first byte; ffprobe and rtmpdump
  playing the stream; `netlab rtmp-handshake` playing, then publishing ffmpeg's test
  pattern at chunk size 128. netlab finds RTMP there by its heuristic (the handshake at
  the start of a stream); tshark is told (`-d tcp.port==PORT,rtmpt`) and allowed
  messages of any size (`-o rtmpt.max_packet_size:16777216`: its default, 32768, makes
  it give up a segment holding a larger message, which netlab does not do).
- Compared on every frame: the summary lines, the fields (headers, control messages,
  AMF strings and numbers, audio and video, call/response links, frame.protocols), the
  -V tree of every RTMP message (but netlab's own AVC lines) and the -x data sources.
- netlab's own AVC decoding against ffprobe and the frame types; crafted chunk streams
  (interleaved chunk streams cut across segments, Set Chunk Size taking effect from the
  next chunk, extended timestamps) against tshark; hostile ones (chunk sizes of 0 and
  2^31 - 1, a 16 MB message, AMF nested 10,000 deep, thousands of chunk streams, noise)
  marked malformed with bounded work and memory, never an exception.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import random
import re
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import netlab.dissect.rtmp as dissect_rtmp
from netlab.capture.reader import open_capture
from netlab.dissect import Dissector
from netlab.dissect.model import merge_rows
from netlab.render.packets import json_line, packet_hex_lines, tree_lines
from netlab.wire import amf0, rtmp
from tests import procs
from tests.conftest import ROOT, netlab_bin, require_tool
from tests.rtmp_servers import NginxRtmp
from tests.test_columns import both_ways
from tests.test_stats_follow import tcp_frame, write_pcap

TSHARK_PREFS = ("-o", "rtmpt.max_packet_size:16777216")
# Fields compared with tshark, value by value, frame by frame.
FIELDS = [
    "rtmpt.handshake.c0", "rtmpt.handshake.s0", "rtmpt.handshake.c1", "rtmpt.handshake.s1",
    "rtmpt.handshake.c2", "rtmpt.handshake.s2", "rtmpt.header.format", "rtmpt.header.csid",
    "rtmpt.header.timestamp", "rtmpt.header.timestampdelta", "rtmpt.header.bodysize",
    "rtmpt.header.typeid", "rtmpt.header.streamid", "rtmpt.header.ets", "rtmpt.scm.chunksize",
    "rtmpt.scm.csid", "rtmpt.scm.seq", "rtmpt.scm.was", "rtmpt.scm.limittype",
    "rtmpt.ucm.eventtype", "rtmpt.function.call", "rtmpt.function.response",
    "rtmpt.audio.control", "rtmpt.audio.format", "rtmpt.audio.rate", "rtmpt.audio.size",
    "rtmpt.audio.type", "rtmpt.audio.data", "rtmpt.video.control", "rtmpt.video.type",
    "rtmpt.video.format", "rtmpt.video.data", "amf.amf0_type", "amf.number", "amf.boolean",
    "amf.stringlength", "amf.string", "amf.arraylength", "amf.object_reference",
    "frame.protocols",
]  # fmt: skip
SEP = "\x1f"  # aggregator of -T fields (AMF strings hold commas)
NETLAB = [sys.executable, "-m", "netlab", "rtmp-handshake"]


# --- captures of real peers ----------------------------------------------------------------------
def _bounded(argv: list[str], seconds: float) -> None:
    """Run a peer for at most `seconds` (a live player never ends by itself): stopped by pid."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc.wait(seconds)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture(scope="module")
def captures(tmp_path_factory) -> dict[str, tuple[Path, int]]:
    """{"publish"|"play"|"netlab": (capture, server port)} and ffprobe's view of the stream."""
    for tool in ("nginx", "ffmpeg", "ffprobe", "rtmpdump", "tcpdump", "tshark"):
        require_tool(tool)
    tmp = tmp_path_factory.mktemp("rtmp")
    for attempt in range(3):  # a busy machine can make the kernel drop packets: record again
        found: dict = {}
        whole = True
        with NginxRtmp(tmp / f"run{attempt}", second_port=True) as srv:
            play = srv.url("test", srv.play_port)
            path = tmp / f"publish{attempt}.pcap"  # ffmpeg publishing, from its first byte
            dump = procs.start_tcpdump(path, f"tcp port {srv.port}")
            try:
                srv.publish_testsrc(gop=25)
                time.sleep(1.5)
            finally:
                whole &= procs.stop_tcpdump(dump)
            found["publish"] = (path, srv.port)
            path = tmp / f"play{attempt}.pcap"  # players on the second port
            dump = procs.start_tcpdump(path, f"tcp port {srv.play_port}")
            try:
                probe = subprocess.run(
                    ["ffprobe", "-v", "error", "-show_streams", "-of", "json", play],
                    capture_output=True, text=True, timeout=60, check=True,
                ).stdout  # fmt: skip
                _bounded(["rtmpdump", "-q", "-r", play, "--live", "-o", os.devnull], 2)
            finally:
                whole &= procs.stop_tcpdump(dump)
            found["play"] = (path, srv.play_port)
            found["ffprobe"] = json.loads(probe)["streams"][0]
            path = tmp / f"netlab{attempt}.pcap"
            dump = procs.start_tcpdump(path, f"tcp port {srv.play_port}")
            try:
                for args in (["--frames", "10", play],
                             ["--publish-testsrc", "--chunk-size", "128",
                              srv.url("mine", srv.play_port)]):  # fmt: skip
                    proc = subprocess.run([*NETLAB, *args], capture_output=True, text=True,
                                          timeout=90)  # fmt: skip
                    assert proc.returncode == 0, proc.stderr
            finally:
                whole &= procs.stop_tcpdump(dump)
            found["netlab"] = (path, srv.play_port)
        if whole:
            return found
    pytest.fail("could not record RTMP captures without the kernel dropping packets")


CAPTURES = ["publish", "play", "netlab"]


def tshark(path: Path, port: int | None, *args: str) -> str:
    decode = ("-d", f"tcp.port=={port},rtmpt") if port else ()
    return subprocess.run(
        [require_tool("tshark"), "-n", "-r", str(path), *decode, *TSHARK_PREFS, *args],
        capture_output=True, text=True, check=True, timeout=300,
    ).stdout  # fmt: skip


def netlab(path: Path, *args: str) -> str:
    return subprocess.run([netlab_bin(), "dissect", *args, str(path)], capture_output=True,
                          text=True, check=True, timeout=300).stdout  # fmt: skip


def summary(text: str) -> list[str]:
    return [" ".join(line.split()[2:]) for line in text.splitlines()]  # no number and time


def tshark_fields(path: Path, port: int | None) -> list[dict[str, list[str]]]:
    args = ["-T", "fields", "-E", "separator=\t", "-E", "occurrence=a", "-E", f"aggregator={SEP}"]
    for name in FIELDS:
        args += ["-e", name]
    rows = []
    for line in tshark(path, port, *args).split("\n")[:-1]:
        rows.append({n: [_theirs(n, x) for x in v.split(SEP)]
                     for n, v in zip(FIELDS, line.split("\t"), strict=True) if v})  # fmt: skip
    return rows


def _theirs(name: str, text: str) -> str:
    if text.startswith("0x"):
        return str(int(text, 16))  # rtmpt.header.typeid, amf.amf0_type (BASE_HEX)
    return {"True": "1", "False": "0"}.get(text, text) if name == "amf.boolean" else text


def _ours(value) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return format(value, ".15g") if math.isfinite(value) else str(value)
    # tshark prints a string with NUL bytes (nginx's 32 in onMetaData) up to the first one
    return str(value).split("\x00")[0]


def netlab_fields(path: Path) -> list[dict[str, list[str]]]:
    rows = []
    for line in netlab(path, "--json").splitlines():
        record = json.loads(line)
        if record["type"] != "packet":
            continue  # the closing summary line
        fields = record["fields"]
        row = {}
        for name in FIELDS:
            if name in fields:
                values = fields[name] if isinstance(fields[name], list) else [fields[name]]
                row[name] = [_ours(v) for v in values]
        rows.append(row)
    return rows


@pytest.mark.parametrize("name", CAPTURES)
def test_summary_lines_equal_tsharks(captures, name):
    path, port = captures[name]
    ours, theirs = summary(netlab(path)), summary(tshark(path, port))
    assert len(ours) == len(theirs) > 50
    assert sum("RTMP" in line for line in ours) > 10
    for no, (a, b) in enumerate(zip(ours, theirs, strict=True), 1):
        assert a == b, f"frame {no}:\n  netlab {a}\n  tshark {b}"


@pytest.mark.parametrize("name", CAPTURES)
def test_fields_equal_tsharks(captures, name):
    path, port = captures[name]
    ours, theirs = netlab_fields(path), tshark_fields(path, port)
    assert len(ours) == len(theirs)
    for no, (a, b) in enumerate(zip(ours, theirs, strict=True), 1):
        assert a == b, f"frame {no}: " + "; ".join(
            f"{k}: netlab {a.get(k)} tshark {b.get(k)}" for k in FIELDS if a.get(k) != b.get(k)
        )
    seen = {k for row in ours for k in row}
    assert {"rtmpt.handshake.c1", "rtmpt.handshake.s2", "rtmpt.header.csid", "amf.string",
            "amf.number", "rtmpt.video.type", "rtmpt.scm.chunksize"} <= seen  # fmt: skip


def _rtmp_sections(lines: list[str]) -> list[str]:
    """The RTMP parts of a -V view, each under its frame's number."""
    out, keep, frame = [], False, ""
    for line in lines:
        if line.startswith("Frame "):
            frame, keep = line.split(":")[0], False
        elif line.startswith("Real Time Messaging Protocol"):
            keep = True
            out += [frame, line]
        elif line and not line.startswith(" "):
            keep = False
        elif keep:
            out.append(line)
    return out


NETLAB_OWN = re.compile(
    r" +(AVC packet type|Composition time offset|AVC profile|AVC level|NAL unit|Width|Height"
    r"|AAC packet type|Audio object type|Sampling frequency|Channels: \d)"
)


def test_fields_as_text_equal_tsharks_text(captures):
    """-T fields prints every value as tshark does: AMF numbers (FT_DOUBLE) as "%.15g"
    (1, 31, 5000000, not 1.0), strings, hex type ids, booleans."""
    path, port = captures["netlab"]
    names = ["amf.number", "amf.string", "amf.boolean", "rtmpt.header.typeid",
             "rtmpt.header.bodysize", "rtmpt.scm.chunksize"]  # fmt: skip
    args = [a for n in names for a in ("-e", n)]
    ours = netlab(path, "-Y", "amf.number || amf.string", "-T", "fields", *args)
    theirs = tshark(path, port, "-Y", "amf.number || amf.string", "-T", "fields", *args)
    assert ours == theirs and "\n1,31,0\t_result," in ours


@pytest.mark.parametrize("name", CAPTURES)
def test_one_line_shortcut_gives_dissects_lines(captures, name):
    """The one-line view's shortcut (tcp._session_columns: the session's decoders on a
    stand-in for the Packet) and dissect() give the same lines."""
    fast, slow, _taken = both_ways(captures[name][0])
    assert fast.splitlines() == slow.splitlines()


@pytest.mark.parametrize("name", ["publish", "netlab"])
def test_tree_equals_tsharks_but_netlabs_own_avc_lines(captures, name):
    path, port = captures[name]
    ours = [x for x in _rtmp_sections(netlab(path, "-V").splitlines()) if not NETLAB_OWN.match(x)]
    theirs = _rtmp_sections(tshark(path, port, "-V").splitlines())
    diff = list(difflib.unified_diff(theirs, ours, "tshark", "netlab", lineterm="", n=1))
    assert not diff, "\n".join(diff[:60])


def test_hex_view_adds_the_unchunked_messages_as_tshark_does(captures):
    path, port = captures["netlab"]
    titles = re.compile(r"^(Frame|Unchunked RTMP) \((\d+) bytes\):$", re.MULTILINE)
    ours = titles.findall(netlab(path, "-x"))
    theirs = titles.findall(tshark(path, port, "-x"))
    assert ours == theirs
    assert sum(t == "Unchunked RTMP" for t, _n in ours) > 10


def rtmp_layers(path: Path):
    """(packet, RTMP layer, that layer's fields {name: value or [values]}) in order."""
    d = Dissector(quick=False)
    with open_capture(path) as cap:
        for no, f in enumerate(cap, 1):
            pkt = d.dissect(no, f.ts_ns, f.data, f.wirelen, f.linktype)
            for layer in pkt.layers:
                if layer.proto == "rtmpt":
                    yield pkt, layer, merge_rows(layer.rows(pkt.buf), {})


def test_avc_sequence_header_matches_ffprobe(captures):
    """netlab's own decoding of the AVC sequence header: profile, level and picture
    size as ffprobe reads them from the same stream."""
    path, _port = captures["publish"]
    (fields,) = [f for _p, _l, f in rtmp_layers(path) if f.get("rtmpt.video.avc.packet_type") == 0]
    probe = captures["ffprobe"]
    assert fields["rtmpt.video.avc.width"] == probe["width"] == 320
    assert fields["rtmpt.video.avc.height"] == probe["height"] == 240
    assert fields["rtmpt.video.avc.level"] == probe["level"]
    assert fields["rtmpt.video.avc.profile"] == 66 and "Baseline" in probe["profile"]
    assert fields["rtmpt.video.avc.nal_type"] == [7, 8]  # SPS, PPS


@pytest.mark.parametrize("name", CAPTURES)
def test_key_frames_hold_idr_slices_and_inter_frames_do_not(captures, name):
    path, _port = captures[name]
    messages = 0
    for _pkt, _layer, fields in rtmp_layers(path):
        if fields.get("rtmpt.video.avc.packet_type") != 1:
            continue
        nal = fields["rtmpt.video.avc.nal_type"]
        nal = nal if isinstance(nal, list) else [nal]
        assert (5 in nal) == (fields["rtmpt.video.type"] == 1), fields
        assert (1 in nal) == (fields["rtmpt.video.type"] == 2), fields
        messages += 1
    assert messages >= 10


def test_publishing_at_chunk_size_128_is_put_back_together(captures):
    """netlab's --publish-testsrc --chunk-size 128: every video message longer than 128
    bytes came as several chunks, and is shown whole from its Unchunked RTMP bytes, its
    NAL unit sizes adding up to its body (4 bytes of length before each)."""
    path, port = captures["netlab"]
    d = Dissector(quick=False)
    found = 0
    with open_capture(path) as cap:
        for no, frame in enumerate(cap, 1):
            pkt = d.dissect(no, frame.ts_ns, frame.data, frame.wirelen, frame.linktype)
            tcp = pkt.layer("tcp")
            if tcp is None or tcp.hdr.dport != port:
                continue
            for layer in pkt.layers:
                msg = layer.hdr if layer.proto == "rtmpt" else None
                if msg is None or msg.handshake or msg.raw.type_id != 9 or msg.raw.length <= 128:
                    continue
                if msg.raw.body[1] != 1:
                    continue  # the sequence header
                assert layer.data is not None and msg.raw.chunks > 1
                fields = dict((r[1], r[2]) for r in layer.rows(pkt.buf) if r[1])
                sizes = [r[2] for r in layer.rows(pkt.buf) if r[1] == "rtmpt.video.avc.nal_size"]
                assert sum(sizes) + 4 * len(sizes) + 5 == msg.raw.length, fields
                found += 1
    assert found > 5


# --- crafted chunk streams -----------------------------------------------------------------------
CLIENT, SERVER = (10, 0, 0, 1), (10, 0, 0, 2)


class Conversation:
    """A TCP connection as Ethernet frames: SYN, SYN-ACK, ACK, then data either way."""

    def __init__(self, sport: int = 50000, dport: int = 1935) -> None:
        self.ports = (sport, dport)
        self.next = [1000, 9000]  # the client's and the server's next sequence numbers
        self.frames = [
            tcp_frame(CLIENT, SERVER, sport, dport, 999, 0, 0x02),
            tcp_frame(SERVER, CLIENT, dport, sport, 8999, 1000, 0x12),
            tcp_frame(CLIENT, SERVER, sport, dport, 1000, 9000, 0x10),
        ]

    def send(self, side: int, data: bytes, segment: int = 1400) -> None:
        for i in range(0, len(data), segment):
            piece = data[i : i + segment]
            src, dst = (CLIENT, SERVER) if side == 0 else (SERVER, CLIENT)
            sport, dport = self.ports if side == 0 else self.ports[::-1]
            self.frames.append(tcp_frame(src, dst, sport, dport, self.next[side],
                                         self.next[1 - side], 0x18, piece))  # fmt: skip
            self.next[side] += len(piece)

    def handshake(self) -> Conversation:
        c1 = bytes(8) + bytes(random.Random(1).getrandbits(8) for _ in range(1528))
        s1 = bytes(8) + bytes(random.Random(2).getrandbits(8) for _ in range(1528))
        self.send(0, b"\x03" + c1, 1537)
        self.send(1, b"\x03" + s1 + c1, 3073)
        self.send(0, s1, 1536)
        return self

    def write(self, path: Path) -> Path:
        return write_pcap(path, self.frames)


def chunks_of(csid: int, ts: int, type_id: int, stream: int, payload: bytes, size: int = 128):
    """A message cut into chunks (fmt 0 then fmt 3), as separate byte strings."""
    writer = rtmp.ChunkWriter()
    writer.chunk_size = size
    data, infos = writer.write(csid, ts, type_id, stream, payload)
    out, pos = [], 0
    for info in infos:
        out.append(data[pos : pos + info.header_bytes + info.payload_bytes])
        pos += info.header_bytes + info.payload_bytes
    return out


def chunk(fmt: int, csid: int, fields: bytes, payload: bytes) -> bytes:
    return bytes([fmt << 6 | csid]) + fields + payload


def msg0(csid: int, type_id: int, payload: bytes, ts: int = 0, stream: int = 0) -> bytes:
    """A message in one fmt 0 chunk (an extended timestamp when ts needs one)."""
    ets = ts >= 0xFFFFFF
    fields = (0xFFFFFF if ets else ts).to_bytes(3, "big") + len(payload).to_bytes(3, "big")
    fields += bytes([type_id]) + stream.to_bytes(4, "little")
    return chunk(0, csid, fields + (ts.to_bytes(4, "big") if ets else b""), payload)


def set_chunk_size(size: int) -> bytes:
    return msg0(2, 1, size.to_bytes(4, "big"))


def command(*values) -> bytes:
    return amf0.encode_values(*values)


def dissect_all(path: Path) -> list:
    d = Dissector(quick=False)
    with open_capture(path) as cap:
        return [
            d.dissect(no, f.ts_ns, f.data, f.wirelen, f.linktype) for no, f in enumerate(cap, 1)
        ]


def test_interleaved_chunk_streams_cut_across_segments(tmp_path):
    """Audio (csid 4) and video (csid 6) messages interleaved chunk by chunk at chunk
    size 128, the byte stream cut every 97 bytes (headers split between segments): every
    message comes back whole, in the frame holding its last byte, as tshark puts it."""
    rng = random.Random(7)
    conv = Conversation().handshake()
    sent = {}
    stream = b""
    for i in range(6):
        video = bytes([0x27, 1, 0, 0, 0]) + bytes(rng.getrandbits(8) for _ in range(300 + 90 * i))
        audio = bytes([0xAF, 1]) + bytes(rng.getrandbits(8) for _ in range(150 + 10 * i))
        sent[("video", i)], sent[("audio", i)] = video, audio
        v, a = chunks_of(6, 40 * i, 9, 1, video), chunks_of(4, 40 * i, 8, 1, audio)
        for k in range(max(len(v), len(a))):
            stream += (v[k] if k < len(v) else b"") + (a[k] if k < len(a) else b"")
    conv.send(0, stream, 97)
    path = conv.write(tmp_path / "interleaved.pcap")
    bodies = []
    for pkt in dissect_all(path):
        for layer in pkt.layers:
            if layer.proto == "rtmpt" and not layer.hdr.handshake:
                assert pkt.malformed is None
                bodies.append(layer.hdr.raw.body)
    assert sorted(bodies) == sorted(sent.values())
    assert summary(netlab(path)) == summary(tshark(path, None))
    assert netlab_fields(path) == tshark_fields(path, None)


def test_set_chunk_size_applies_from_the_next_chunk(tmp_path):
    conv = Conversation().handshake()
    body = bytes(range(256)) + bytes(44)
    # the Set Chunk Size and a 300-byte message in one chunk, in one segment
    conv.send(0, set_chunk_size(300) + msg0(6, 9, bytes([0x27]) + body[1:], stream=1))
    path = conv.write(tmp_path / "chunksize.pcap")
    lines = summary(netlab(path))
    assert lines[-1].endswith("RTMP 382 Set Chunk Size 300|Video Data")
    assert lines == summary(tshark(path, None))
    assert netlab_fields(path) == tshark_fields(path, None)


def test_fmt_1_2_3_headers_and_an_extended_timestamp(tmp_path):
    conv = Conversation().handshake()
    data = msg0(8, 8, b"\xaf\x01a", ts=0x1234567, stream=1)  # an extended timestamp
    data += msg0(7, 9, b"\x27\x02a", ts=1000, stream=1)
    data += chunk(1, 7, (40).to_bytes(3, "big") + (2).to_bytes(3, "big") + b"\x09", b"\x27\x02")
    data += chunk(2, 7, (40).to_bytes(3, "big"), b"\x27\x02")
    data += chunk(3, 7, b"", b"\x27\x02")
    conv.send(0, data, 9)
    path = conv.write(tmp_path / "fmt.pcap")
    assert summary(netlab(path)) == summary(tshark(path, None))
    ours, theirs = netlab_fields(path), tshark_fields(path, None)
    assert ours == theirs
    timestamps = [v for row in ours for v in row.get("rtmpt.header.timestamp", [])]
    assert timestamps[-4:] == ["1000", "1040", "1080", "1120"]
    assert any("rtmpt.header.ets" in row for row in ours)


def test_tree_writer_of_audio_and_video_says_what_the_rows_and_tshark_say(tmp_path):
    """The -V fast writer (audio and video messages) against the rows it stands for and
    against tshark: AAC config and raw frames, MP3, AVC NAL units, fmt 0-3 headers, a
    message over several chunks, messages cut across segments."""
    conv = Conversation().handshake()
    aac_raw = b"\xaf\x01" + bytes(range(60))
    nalus = (5).to_bytes(4, "big") + b"\x65abcd" + (3).to_bytes(4, "big") + b"\x41xy"
    avc = b"\x27\x01\x00\x00\x21" + nalus
    data = msg0(4, 8, b"\xaf\x00\x12\x10", stream=1) + msg0(4, 8, aac_raw, ts=23, stream=1)
    data += chunk(1, 4, (23).to_bytes(3, "big") + len(aac_raw).to_bytes(3, "big") + b"\x08",
                  aac_raw)  # fmt: skip
    data += chunk(2, 4, (23).to_bytes(3, "big"), aac_raw) + chunk(3, 4, b"", aac_raw)
    data += msg0(5, 8, b"\x2f" + bytes(50), ts=40, stream=1) + msg0(6, 9, avc, ts=40, stream=1)
    data += msg0(6, 9, b"\x17" + avc[1:], ts=80, stream=1)  # a key frame
    data += b"".join(chunks_of(7, 120, 9, 1, b"\x27\x01\x00\x00\x00" + (300).to_bytes(4, "big")
                               + b"\x41" + bytes(299)))  # fmt: skip
    conv.send(0, data, 97)
    path = conv.write(tmp_path / "av.pcap")
    written = 0
    for pkt in dissect_all(path):
        assert "\n".join(tree_lines(pkt)) == "\n".join(tree_lines(pkt, fast=False)), pkt.no
        written += sum(dissect_rtmp._tree(layer, pkt.buf if layer.data is None else layer.data)
                       is not None for layer in pkt.layers if layer.proto == "rtmpt")  # fmt: skip
    assert written >= 6  # the writer wrote most of them (sequence headers take the rows)
    ours = [x for x in _rtmp_sections(netlab(path, "-V").splitlines()) if not NETLAB_OWN.match(x)]
    theirs = _rtmp_sections(tshark(path, None, "-V").splitlines())
    assert ours == theirs


def test_calls_and_responses_are_linked(tmp_path):
    conv = Conversation().handshake()
    conv.send(0, msg0(3, 20, command("connect", 1.0, {"app": "live"})))
    conv.send(
        1, msg0(3, 20, command("_result", 1.0, None, {"code": "NetConnection.Connect.Success"}))
    )
    path = conv.write(tmp_path / "calls.pcap")
    lines = summary(netlab(path))
    assert lines[-2].endswith("connect('live')")
    assert lines[-1].endswith("_result('NetConnection.Connect.Success')")
    assert lines == summary(tshark(path, None))
    ours = netlab_fields(path)
    assert ours[-1]["rtmpt.function.response"] == [str(len(conv.frames) - 1)]
    assert ours == tshark_fields(path, None)


def test_the_heuristic_wants_the_handshake_at_the_start_of_a_stream(tmp_path):
    on_any_port = Conversation(50001, 40000).handshake()
    on_any_port.send(0, set_chunk_size(4096))
    later = Conversation(50002, 40001)
    later.send(0, b"hello\n")
    later.send(0, b"\x03" + bytes(1536), 1537)  # 0x03 and 1536 bytes, not at the start
    path = write_pcap(tmp_path / "heuristic.pcap", on_any_port.frames + later.frames)
    lines = summary(netlab(path))
    assert [line.split()[5] for line in lines[3:7]] == ["Handshake"] * 3 + ["Set"]
    assert all("RTMP" not in line for line in lines[7:])


# --- hostile chunk streams -----------------------------------------------------------------------
def _marks(pkts: list) -> list[str]:
    return [p.malformed for p in pkts if p.malformed]


def _no_bugs(pkts: list) -> None:
    for pkt in pkts:
        assert "decoder error" not in (pkt.malformed or ""), pkt.malformed
        tree_lines(pkt)
        json.loads(json_line(pkt))
        packet_hex_lines(pkt)
        for layer in pkt.layers:
            assert layer.malformed is None or "cannot build fields" not in layer.malformed


def test_chunk_sizes_of_zero_and_two_to_the_31_minus_one(tmp_path):
    conv = Conversation().handshake()
    conv.send(0, set_chunk_size(0))  # ignored, marked
    conv.send(0, set_chunk_size(0x7FFFFFFF))
    conv.send(0, msg0(6, 9, bytes([0x27, 1, 0, 0, 0]) + bytes(20000)))  # in one chunk
    conv.send(0, set_chunk_size(0x80000000))  # the reserved bit: marked
    path = conv.write(tmp_path / "chunksizes.pcap")
    pkts = dissect_all(path)
    _no_bugs(pkts)
    marks = _marks(pkts)
    assert len(marks) == 2 and "Set Chunk Size 0" in marks[0] and "2147483648" in marks[1]
    assert pkts[-2].info == "Video Data" and pkts[-2].malformed is None


def test_a_16_mb_message_is_followed_not_kept(tmp_path):
    conv = Conversation().handshake()
    length = (1 << 24) - 1
    conv.send(0, set_chunk_size(0x7FFFFFFF))
    head = chunk(0, 6, bytes(3) + length.to_bytes(3, "big") + b"\x09" + bytes(4), b"\x17\x01")
    conv.send(0, head + bytes(length - 2), 65000)
    conv.send(0, chunk(1, 6, bytes(3) + (3).to_bytes(3, "big") + b"\x09", b"\x27\x01\x00"))
    path = conv.write(tmp_path / "huge.pcap")
    tracemalloc.start()
    try:
        pkts = []
        d = Dissector()
        with open_capture(path) as cap:
            for no, f in enumerate(cap, 1):
                pkt = d.dissect(no, f.ts_ns, f.data, f.wirelen, f.linktype)
                pkts.append((pkt.info, pkt.malformed))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 6 << 20  # the frames are 64 KB; nothing holds the 16 MB
    assert [info for info, _m in pkts[-2:]] == ["Video Data", "Video Data"]
    assert all(m is None for _i, m in pkts)
    (last_big,) = [p for p in dissect_all(path)[-2:-1]]
    rows = [
        r for layer in last_big.layers if layer.proto == "rtmpt" for r in layer.rows(last_big.buf)
    ]
    assert any("not kept" in str(r[3]) for r in rows)
    assert ("rtmpt.header.bodysize", length) in [(r[1], r[2]) for r in rows]


def test_amf_nested_ten_thousand_deep_is_marked_malformed(tmp_path):
    body = command("_result", 1.0)
    inner = b"\x05"
    for _ in range(10_000):
        inner = b"\x03\x00\x01a" + inner + b"\x00\x00\x09"
    body += inner
    conv = Conversation().handshake()
    conv.send(1, set_chunk_size(65536))
    conv.send(1, b"".join(chunks_of(3, 0, 20, 0, body, 65536)), 4000)
    path = conv.write(tmp_path / "deep.pcap")
    pkts = dissect_all(path)
    _no_bugs(pkts)
    (mark,) = _marks(pkts)
    assert "nested deeper than 64" in mark and pkts[-1].info == "_result()"
    line = summary(netlab(path))[-1]
    assert line.endswith("_result() [Malformed Packet]")


def test_thousands_of_chunk_streams_and_headers_without_a_fmt_0(tmp_path):
    conv = Conversation().handshake()
    conv.send(0, chunk(3, 9, b"", bytes(128)))  # fmt 3 on a chunk stream never started
    header = bytes(3) + (1).to_bytes(3, "big") + b"\x08" + bytes(4)  # fmt 0: 1 byte of audio
    data = b"".join(  # chunk stream ids of 3 bytes
        bytes([1, (n - 64) & 0xFF, (n - 64) >> 8]) + header + b"x" for n in range(64, 5064)
    )
    conv.send(0, data, 60000)
    path = conv.write(tmp_path / "streams.pcap")
    pkts = dissect_all(path)
    _no_bugs(pkts)
    first, *more = _marks(pkts)
    assert "starts with a fmt 3 chunk" in first and pkts[6].info == "Unknown (0x0)"
    assert more and all("more than 4096 chunk streams" in mark for mark in more)
    theirs = summary(tshark(path, None))[6]
    assert summary(netlab(path))[6] == theirs + " [Malformed Packet]"


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(noise=st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=8))
def test_noise_after_the_handshake_never_breaks_the_dissector(tmp_path, noise):
    conv = Conversation().handshake()
    for i, piece in enumerate(noise):
        conv.send(i % 2, piece, 1 + len(piece) // 2)
    pkts = dissect_all(conv.write(tmp_path / "noise.pcap"))
    _no_bugs(pkts)
    fast, slow, _taken = both_ways(tmp_path / "noise.pcap")
    assert fast.splitlines() == slow.splitlines()


def test_lenient_reader_keeps_its_memory_within_the_budget():
    reader = rtmp.ChunkReader(strict=False, keep=1 << 20, budget=2 << 20, keep_chunks=False)
    for csid in range(2, 60):  # 58 unfinished messages of 1 MB each: most are not kept
        head = bytes(3) + (1 << 20).to_bytes(3, "big") + b"\x09" + bytes(4)
        reader.parse(chunk(0, csid, head, bytes(128)))
    assert reader.reserved <= 2 << 20
    kept = [s.msg for s in reader.streams.values() if s.msg is not None and s.msg.kept]
    assert len(kept) == 2


# --- the bundled capture -------------------------------------------------------------------------
def test_the_bundled_capture_shows_a_whole_play_session():
    """pcaps/rtmp.pcapng (make demo): on port 1935, so tshark decodes it without being
    told; test_dissect.py compares every line with tshark's."""
    lines = summary(netlab(ROOT / "pcaps" / "rtmp.pcapng"))
    text = "\n".join(lines)
    for wanted in ("Handshake C0+C1", "Handshake S0+S1+S2", "Handshake C2", "connect('live')",
                   "Set Chunk Size 4096", "_result('NetConnection.Connect.Success')",
                   "createStream()", "play('test')", "onStatus('NetStream.Play.Start')",
                   "onMetaData()", "Video Data"):  # fmt: skip
        assert wanted in text, wanted
    assert len(lines) < 100
