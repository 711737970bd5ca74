"""RTMP: the wire formats (chunking, AMF0, FLV/AVC) and `netlab rtmp-handshake`
against nginx-rtmp fed by ffmpeg on loopback, with ffprobe as the reference for
key frames, NAL unit types and the SPS, and hostile servers."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import time

import pytest

from netlab.wire import amf0, flv, rtmp
from tests.conftest import require_tool
from tests.rtmp_servers import EndlessRtmpServer, HostileRtmpServer, NginxRtmp

NETLAB = [sys.executable, "-m", "netlab", "rtmp-handshake"]


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*NETLAB, *args], capture_output=True, text=True, timeout=timeout)


# --- chunking -------------------------------------------------------------------------------------
def test_the_courses_307_byte_message_at_chunk_size_128():
    """307 bytes at chunk size 128: fmt 0 with 128 bytes, then fmt 3 with 128 and 51."""
    w = rtmp.ChunkWriter()
    data, infos = w.write(4, 1000, rtmp.VIDEO, 12346, bytes(307))
    assert [(c.fmt, c.payload_bytes) for c in infos] == [(0, 128), (3, 128), (3, 51)]
    first = infos[0]
    assert (first.timestamp, first.length, first.type_id, first.stream_id) == (1000, 307, 9, 12346)
    assert len(data) == 12 + 128 + 1 + 128 + 1 + 51
    (message,) = rtmp.ChunkReader().feed(data)
    assert (message.timestamp, message.type_id, message.stream_id) == (1000, 9, 12346)
    assert message.payload == bytes(307) and len(message.chunks) == 3


@pytest.mark.parametrize("csid", [2, 63, 64, 319, 320, 65599])
def test_chunk_stream_ids_of_one_two_and_three_bytes(csid):
    data, infos = rtmp.ChunkWriter().write(csid, 5, rtmp.AUDIO, 1, b"abc")
    assert infos[0].header_bytes == {2: 12, 63: 12, 64: 13, 319: 13, 320: 14, 65599: 14}[csid]
    (message,) = rtmp.ChunkReader().feed(data)
    assert message.csid == csid and message.payload == b"abc"


def test_extended_timestamp_and_byte_by_byte_feeding():
    w = rtmp.ChunkWriter()
    w.chunk_size = 10
    data, infos = w.write(6, 0x1234567, rtmp.VIDEO, 1, bytes(range(25)))
    assert all(c.extended for c in infos) and [c.payload_bytes for c in infos] == [10, 10, 5]
    reader = rtmp.ChunkReader()
    reader.chunk_size = 10
    got = [m for i in range(len(data)) for m in reader.feed(data[i : i + 1])]
    assert [(m.timestamp, m.payload) for m in got] == [(0x1234567, bytes(range(25)))]


def test_fmt_1_2_3_headers_take_the_rest_from_the_chunk_stream():
    """fmt 1 (delta, length, type), fmt 2 (delta), fmt 3 (nothing) after a fmt 0."""

    def chunk(fmt: int, fields: bytes, payload: bytes) -> bytes:
        return bytes([fmt << 6 | 7]) + fields + payload

    stream = (
        chunk(
            0,
            (1000).to_bytes(3, "big")
            + (3).to_bytes(3, "big")
            + b"\x09"
            + (1).to_bytes(4, "little"),
            b"aaa",
        )
        + chunk(1, (40).to_bytes(3, "big") + (2).to_bytes(3, "big") + b"\x09", b"bb")
        + chunk(2, (40).to_bytes(3, "big"), b"cc")
        + chunk(3, b"", b"dd")
    )
    messages = rtmp.ChunkReader().feed(stream)
    assert [(m.timestamp, m.payload, m.stream_id) for m in messages] == [
        (1000, b"aaa", 1),
        (1040, b"bb", 1),
        (1080, b"cc", 1),
        (1120, b"dd", 1),
    ]


@pytest.mark.parametrize("size", [0, 0x1000000, 0x7FFFFFFF])
def test_set_chunk_size_out_of_range_is_refused(size):
    with pytest.raises(rtmp.RtmpError):
        rtmp.parse_set_chunk_size(size.to_bytes(4, "big"))


# --- AMF0 -----------------------------------------------------------------------------------------
def test_amf0_round_trip():
    values = [
        "connect",
        1.0,
        {"app": "live", "fpad": False, "n": 15.0, "o": {"x": None}},
        None,
        [1.0, "two"],
        amf0.EcmaArray(width=320.0),
        amf0.Date(1.5e12, 0),
        "é" * 70000,
        amf0.UNDEFINED_VALUE,
        amf0.Reference(1),
        True,
    ]
    data = amf0.encode_values(*values)
    decoded = amf0.decode_values(data)
    assert decoded == values
    assert isinstance(decoded[5], amf0.EcmaArray)
    # Every type's marker, in order (the long string past 65535 bytes of UTF-8).
    items, error = amf0.decode_items(data)
    assert error is None
    markers = [item.marker for item in items]
    assert markers == [2, 0, 3, 5, 10, 8, 11, 12, 6, 7, 1]


def test_command_objects_are_shown_as_trees():
    """connect's command object and _result's two objects, a property a line, nested
    objects indented; deep or wide objects cut with a mark (a hostile server's)."""
    from netlab.core.rtmp import Command, RtmpResult, parse_rtmp_url
    from netlab.render import rtmp as view

    deep: dict = {"x": 1.0}
    for _ in range(10):
        deep = {"in": deep}
    wide = {f"p{i}": float(i) for i in range(40)}
    r = RtmpResult(c1_sent=0)
    r.commands = [
        Command("out", "connect", 1.0, 1_000_000, values=[{"app": "live", "fpad": False}]),
        Command(
            "in", "_result", 1.0, 2_000_000, "NetConnection.Connect.Success", "status",
            [{"fmsVer": "FMS/3,0,1,123"}, {"code": "NetConnection.Connect.Success"}],
        ),
        Command("in", "onStatus", 0.0, 3_000_000, values=[None, deep, wide]),
    ]  # fmt: skip
    text = view.lines(parse_rtmp_url("rtmp://h/live/s"), "h", r, False)
    i = next(n for n, line in enumerate(text) if "→ connect" in line)
    assert [line.strip() for line in text[i + 1 : i + 3]] == ["app: 'live'", "fpad: False"]
    j = next(n for n, line in enumerate(text) if "← _result" in line)
    assert [line.strip() for line in text[j + 1 : j + 4]] == [
        "fmsVer: 'FMS/3,0,1,123'", "·", "code: 'NetConnection.Connect.Success'"
    ]  # fmt: skip
    k = next(n for n, line in enumerate(text) if "← onStatus" in line)
    tree = text[k + 1 :]
    assert tree[0].strip() == "in:" and tree[3].strip().startswith("in: {'in':")
    assert any(line.strip() == "… 8 more properties" for line in tree)


def test_amf3_switch_is_recognised_and_ends_amf0():
    head = amf0.encode_values("onStatus", 0.0)
    values = amf0.decode_values(head + b"\x11\x0a\x0b\x01")  # AVM+ switch, then AMF3
    assert values == ["onStatus", 0.0, amf0.Amf3(offset=len(head))]


@pytest.mark.parametrize(
    "data",
    [
        b"\x03" * 10_000 + b"\x05",
        b"\x0a\xff\xff\xff\xff",
        b"\x02\x00\x10abc",
        b"\x42",
        b"\x03\x00\x01a\x03\x00\x01b",
    ],
)
def test_amf0_hostile_input_is_one_error(data):
    with pytest.raises(amf0.AmfError):
        amf0.decode_values(data)


# --- FLV / AVC against ffprobe --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("size", "profile"), [("320x240", "baseline"), ("1920x1080", "high"), ("642x362", "main")]
)
def test_sps_size_profile_and_level_equal_ffprobes(tmp_path, size, profile):
    require_tool("ffmpeg")
    out = tmp_path / "v.flv"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"testsrc=size={size}:rate=25:duration=0.2",
            "-c:v",
            "libx264",
            "-profile:v",
            profile,
            "-pix_fmt",
            "yuv420p",
            "-f",
            "flv",
            str(out),
        ],
        check=True,
        timeout=60,
    )
    probe = json.loads(
        subprocess.run(
            ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(out)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    )["streams"][0]
    tags = flv.read_flv(out.read_bytes())
    config = next(flv.parse_video(t.body).config for t in tags if t.type_id == 9)
    sps = config.parsed
    assert (sps.width, sps.height) == (probe["width"], probe["height"])
    assert sps.profile.lower() == probe["profile"].lower().replace("constrained ", "")
    assert sps.level_idc == probe["level"]


@pytest.mark.parametrize(("rate", "channels"), [(44100, 1), (48000, 2), (22050, 1), (8000, 2)])
def test_aac_audio_specific_config_equals_ffprobes(tmp_path, rate, channels):
    """The AAC sequence header's AudioSpecificConfig (object type, sample rate, channel
    configuration) as ffprobe reads the same FLV made by ffmpeg."""
    require_tool("ffmpeg")
    require_tool("ffprobe")
    out = tmp_path / "a.flv"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
         f"sine=frequency=440:sample_rate={rate}:duration=0.3", "-ac", str(channels),
         "-c:a", "aac", "-f", "flv", str(out)],
        check=True, timeout=60,
    )  # fmt: skip
    probe = json.loads(
        subprocess.run(
            ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(out)],
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout
    )["streams"][0]  # fmt: skip
    tags = [flv.parse_audio(t.body) for t in flv.read_flv(out.read_bytes()) if t.type_id == 8]
    config = tags[0]
    assert config.codec == "AAC" and config.packet_type == 0, config
    assert (config.sample_rate, config.channels) == (int(probe["sample_rate"]), probe["channels"])
    assert config.object_type == 2 and probe["profile"] == "LC"  # AAC LC
    assert all(t.packet_type == 1 for t in tags[1:]) and len(tags) > 2


# --- the command against nginx-rtmp and ffmpeg ----------------------------------------------------
def _probe_keyframes(url: str) -> list[bool]:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v",
            "-show_packets",
            "-read_intervals",
            "%+#50",
            "-of",
            "json",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return ["K" in p.get("flags", "") for p in json.loads(out)["packets"]]


def test_play_handshake_commands_and_frames(tmp_path):
    require_tool("nginx")
    require_tool("ffmpeg")
    with NginxRtmp(tmp_path) as srv:
        srv.publish_testsrc(gop=25)
        proc = run("--json", "--frames", "60", srv.url("test"))
        theirs = _probe_keyframes(srv.url("test"))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    hs = doc["handshake"]
    assert hs["c0"] == hs["s0"] == 3 and hs["s2_echoes_c1"] and hs["c2_echoes_s1"]
    codes = [c["code"] for c in doc["commands"] if c["code"]]
    assert codes[:2] == ["NetConnection.Connect.Success", "NetStream.Play.Start"]
    assert doc["video"]["width"] == 320 and doc["video"]["height"] == 240
    frames = doc["frames"]
    first_idr = next(i for i, f in enumerate(frames) if 5 in f["nal_types"])
    seen = {n for f in frames[:first_idr] for n in f["nal_types"]}
    assert {7, 8} <= seen, "SPS and PPS come before the first IDR"
    pictures = [f for f in frames if {1, 5} & set(f["nal_types"])]
    assert len(pictures) == 60
    # One IDR per GOP (25 frames), the key flag set exactly on the IDR frames …
    assert all(f["keyframe"] == (5 in f["nal_types"]) for f in pictures)
    keys = [i for i, f in enumerate(pictures) if f["keyframe"]]
    assert all(b - a == 25 for a, b in itertools.pairwise(keys))
    # … and ffprobe sees the same spacing on the same stream.
    their_keys = [i for i, k in enumerate(theirs) if k]
    assert all(b - a == 25 for a, b in itertools.pairwise(their_keys))


def _trace_headers(path) -> tuple[list[int], dict[int, tuple[int, bool, list[int]]]]:
    """ffmpeg's trace_headers over an FLV: the NAL unit types of the extradata (SPS, PPS),
    and per packet (by pts, the FLV timestamp) its size, key flag and NAL unit types,
    one per NAL unit header it parsed."""
    log = subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "debug", "-i", str(path), "-c", "copy",
         "-bsf:v", "trace_headers", "-f", "null", "-"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stderr  # fmt: skip
    extradata: list[int] = []
    packets: dict[int, tuple[int, bool, list[int]]] = {}
    nals = extradata
    for line in log.splitlines():
        if "trace_headers" not in line:
            continue
        m = re.search(r"Packet: (\d+) bytes, (key frame, )?pts (\d+)", line)
        if m:
            nals = []
            packets[int(m.group(3))] = (int(m.group(1)), bool(m.group(2)), nals)
        elif m := re.search(r"\d+\s+nal_unit_type\s+[01]+ = (\d+)$", line):
            nals.append(int(m.group(1)))
    return extradata, packets


def test_nal_unit_types_and_key_frames_equal_ffmpegs_trace_headers(tmp_path):
    """The frames netlab plays from nginx-rtmp, message by message, against what ffmpeg's
    trace_headers reads from nginx's recording of the same stream: size, key flag and
    every NAL unit (x264's sliced threads give two slices a picture), SPS/PPS first."""
    require_tool("nginx")
    require_tool("ffmpeg")
    with NginxRtmp(tmp_path, record=True) as srv:
        srv.publish_testsrc(gop=25)
        proc = run("--json", "--frames", "60", srv.url("test"))
        extradata, packets = _trace_headers(srv.dir / "rec" / "test.flv")
    assert proc.returncode == 0, proc.stderr
    frames = json.loads(proc.stdout)["frames"]
    assert frames[0]["nal_types"] == extradata == [7, 8]  # the AVC sequence header
    pictures = [f for f in frames if {1, 5} & set(f["nal_types"])]
    assert len(pictures) == 60 and pictures[0]["keyframe"]
    for f in pictures:
        theirs = packets.get(f["timestamp"])
        # An FLV video tag's body is 5 bytes (frame type, codec, packet type, time
        # offset) before the AVC data that ffmpeg counts as the packet.
        assert (f["bytes"] - 5, f["keyframe"], f["nal_types"]) == theirs, f
    assert sum(f["keyframe"] for f in pictures) >= 2


def test_publish_at_chunk_size_128_plays_back_with_the_same_frames(tmp_path):
    """--publish-testsrc at chunk size 128: every message cut into 128-byte chunks
    (fmt 0, then fmt 3); nginx records what arrived and ffprobe counts the frames."""
    require_tool("nginx")
    require_tool("ffmpeg")
    with NginxRtmp(tmp_path, record=True) as srv:
        proc = run(
            "--json", "--publish-testsrc", "--chunk-size", "128", "--chunks", srv.url("mine")
        )
        time.sleep(0.5)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert "NetStream.Publish.Start" in [c["code"] for c in doc["commands"]]
    out_chunks = [c for c in doc["chunks"] if c["dir"] == "out"]
    assert all(c["bytes"] <= 128 for c in out_chunks)
    video = [c for c in out_chunks if c["fmt"] == 0 and c["type"] == 9 and c["length"] > 256]
    assert video, "a video message longer than two chunks"
    i = out_chunks.index(video[0])
    n = video[0]["length"]
    sizes = [c["bytes"] for c in out_chunks[i : i + -(-n // 128)]]
    assert sizes == [128] * (n // 128) + ([n % 128] if n % 128 else [])
    assert [c["fmt"] for c in out_chunks[i + 1 : i + len(sizes)]] == [3] * (len(sizes) - 1)
    recorded = tmp_path / "nginx-rtmp" / "rec" / "mine.flv"
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_packets",
            "-select_streams",
            "v",
            "-show_entries",
            "stream=nb_read_packets",
            "-of",
            "csv=p=0",
            str(recorded),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    published = [f for f in doc["frames"] if {1, 5} & set(f["nal_types"])]
    assert int(probe.strip()) == len(published) == 50


def test_handshake_only(tmp_path):
    require_tool("nginx")
    with NginxRtmp(tmp_path) as srv:
        proc = run("--json", "--handshake-only", srv.url("test"))
    doc = json.loads(proc.stdout)
    assert proc.returncode == 0 and doc["completed"] and doc["commands"] == []
    assert doc["handshake"]["s2_echoes_c1"] is True


def test_missing_application_is_rejected_with_the_code(tmp_path):
    require_tool("nginx")
    with NginxRtmp(tmp_path) as srv:
        proc = run(f"rtmp://127.0.0.1:{srv.port}/nosuchapp/x", "--seconds", "2")
    assert proc.returncode == 1, proc
    assert len(proc.stderr.strip().splitlines()) == 1 and "netlab: error:" in proc.stderr


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("huge-chunk-size", "Set Chunk Size 2147483647"),
        ("huge-message", "over the"),
        ("deep-amf", "nested deeper than 64"),
        ("not-rtmp", "S0 says version 72"),
    ],
)
def test_hostile_server_gives_one_line_and_exit_1(name, message):
    with HostileRtmpServer(name) as srv:
        start = time.monotonic()
        proc = run("--timeout", "3", srv.url())
        took = time.monotonic() - start
    assert proc.returncode == 1, proc
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert took < 8


def test_endless_stream_stops_at_the_default_bound_in_bounded_memory():
    """No --frames, no --seconds, and a server that floods tiny video messages: the play
    stops after the default 10 s, on time, having kept a bounded number of them."""
    with EndlessRtmpServer(seconds=20) as srv:
        start = time.monotonic()
        proc = subprocess.run(
            ["/usr/bin/time", "-q", "-f", "%M", *NETLAB, "--json", srv.url()],
            capture_output=True,
            text=True,
            timeout=40,
        )
        took = time.monotonic() - start
    max_rss_kb = int(proc.stderr.strip().splitlines()[-1])
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["completed"] and doc["error"] is None
    assert 10 <= doc["times_ms"]["start"] / 1000 + 10 <= took < 14, took
    assert doc["pictures"] > 10_000, doc["pictures"]  # kept up with the flood
    assert len(doc["frames"]) + doc["frames_dropped"] == doc["pictures"]
    assert len(doc["frames"]) <= 20_000
    assert max_rss_kb < 200_000, f"{max_rss_kb} KiB kept for one endless stream"


def test_refused_is_exit_1_with_one_line_and_nothing_made_up():
    from tests.procs import free_port

    port = free_port()
    proc = run(f"rtmp://127.0.0.1:{port}/live/x")
    assert proc.returncode == 1
    assert proc.stderr == f"netlab: error: connect to 127.0.0.1 port {port} failed: " \
        "Connection refused\n"  # fmt: skip
    # The text says where it went, and no handshake, chunk size or times it never had.
    assert proc.stdout.splitlines() == [f"RTMP to 127.0.0.1 port {port}, app 'live', stream 'x'"]


@pytest.mark.parametrize("url", ["http://x/live/s", "rtmp://", "rtmp://host", "rtmp://h/app"])
def test_bad_url_is_exit_2(url):
    proc = run(url)
    assert proc.returncode == 2, proc
