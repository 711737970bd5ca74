"""The `stream` lab: nginx-rtmp fed by ffmpeg, and an edge pulling from the centre.

The peers are the clients the course compares `netlab rtmp-handshake` with:
ffprobe and rtmpdump, run in the lab's client node, at the far end of the CDN
picture (studio → centre → edge → client). What the servers carry is read from
nginx-rtmp's stat page (`netlab.lab.services.rtmp.parse_stat`).

Each test reads a bounded window of the live stream (ffprobe's `-read_intervals`,
rtmpdump ended by SIGINT after a time: its `--stop` is only sent to the server as
the play's length, which nginx-rtmp's live module ignores).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from netlab.errors import NetlabError
from netlab.lab.services import rtmp
from netlab.lab.services.publish import PublishService
from netlab.lab.services.rtmp import RtmpService, fetch_stat, parse_stat, stream_live
from netlab.lab.topology import parse_topology
from tests.conftest import ROOT

STREAM = (ROOT / "labs" / "stream.toml").read_text()
GOP, RATE = 25, 25  # labs/stream.toml: one IDR frame a second


def stream_lab(lab, *tools: str):
    if not rtmp.MODULE.exists():
        pytest.skip(f"needs nginx's RTMP module {rtmp.MODULE} (libnginx-mod-rtmp, `make test`)")
    return lab("stream", tools=("ffprobe", *tools))


def services(handle) -> dict[str, dict]:
    return {f"{s['node']}-{s['service']}": s for s in handle.status()["services"]}


def ffprobe(handle, *args: str, timeout: float = 20.0) -> dict:
    out = handle.exec("client", "ffprobe", "-v", "error", "-of", "json", *args, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def probe(handle, url: str, seconds: float) -> tuple[dict[str, dict], list[dict]]:
    """One ffprobe of the first `seconds` of the stream as a player gets it: its streams
    by type ("video", "audio") and its video packets."""
    doc = ffprobe(handle, "-show_streams", "-read_intervals", f"%+{seconds}", "-show_entries",
                  "packet=stream_index,pts_time,dts_time,flags", url)  # fmt: skip
    streams = {s["codec_type"]: s for s in doc["streams"]}
    video = streams["video"]["index"]
    return streams, [p for p in doc["packets"] if p["stream_index"] == video]


def key_frames(packets: list[dict]) -> list[int]:
    return [i for i, p in enumerate(packets) if p["flags"].startswith("K")]


def stat_of(handle, node: str) -> dict:
    """The node's stat page, fetched from the client across the lab (as a script would)."""
    svc = services(handle)[f"{node}-rtmp"]
    stat = fetch_stat(handle.netns("client"), svc["stat_port"], addr=handle.addr(node))
    assert stat is not None, f"no stat page at {svc['stat_url']}"
    return stat


# ---------------------------------------------------------------------------
# The centre: what the studio publishes, as a player sees it


def test_centre_serves_h264_baseline_and_aac_with_one_idr_per_gop(lab):
    stream = stream_lab(lab)
    svc = services(stream)
    assert svc["centre-rtmp"]["health"] == svc["studio-publish"]["health"] == "healthy"
    assert svc["centre-rtmp"]["stat_url"] == "http://centre:8081/stat"
    assert svc["centre-rtmp"]["url"] == "rtmp://centre/live"
    url = svc["studio-publish"]["url"]
    assert url == "rtmp://centre/live/test"

    streams, packets = probe(stream, url, 2.5)
    video, audio = streams["video"], streams["audio"]
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 320, 240)
    assert video["profile"] == "Constrained Baseline"
    assert video["r_frame_rate"] == f"{RATE}/1"
    assert (audio["codec_name"], audio["sample_rate"], audio["channels"]) == ("aac", "44100", 1)

    # A key frame every GOP frames, and only there: 25 frames at 25 fps, 1 s apart. The
    # live application waits for a key frame before it sends a player video (wait_key).
    keys = key_frames(packets)
    assert keys and keys[0] == 0, [p["flags"] for p in packets[:5]]
    assert len(keys) >= 3, keys
    assert all(b - a == GOP for a, b in itertools.pairwise(keys)), keys
    times = [float(packets[i]["pts_time"]) for i in keys]
    assert all(abs(b - a - GOP / RATE) < 0.002 for a, b in itertools.pairwise(times))
    # Constrained Baseline has no B-frames: decode order is presentation order.
    assert all(p["pts_time"] == p["dts_time"] for p in packets)

    # The centre's stat page: the studio publishing, codecs known.
    info = stat_of(stream, "centre")["applications"]["live"]["test"]
    assert info["publishing"] and info["video"]["codec"] == "H264"
    assert (info["video"]["width"], info["video"]["height"]) == (320, 240)
    assert info["audio"]["codec"] == "AAC"
    (publisher,) = [c for c in info["clients"] if c["publishing"]]
    assert publisher["address"] in stream.addresses("studio")  # ffmpeg may pick IPv6


# ---------------------------------------------------------------------------
# The edge: the same stream, pulled from the centre


def test_edge_pulls_the_stream_from_the_centre(lab):
    stream = stream_lab(lab)
    svc = services(stream)["edge-rtmp"]
    assert svc["pull"] == "rtmp://centre:1935/live" and svc["pull_streams"] == ["test"]

    # The edge's stat page: "test" is published into it by nginx's relay, which plays
    # it from the centre (a static pull: there before any viewer came).
    info = stat_of(stream, "edge")["applications"]["live"]["test"]
    (relay,) = [c for c in info["clients"] if c["publishing"]]
    assert relay["flashver"] == "ngx-local-relay" and relay["address"] == "centre:1935/live"
    assert info["video"]["codec"] == "H264" and info["audio"]["codec"] == "AAC"
    # And the centre sees the edge as a player, from the edge's backbone address.
    centre = stat_of(stream, "centre")["applications"]["live"]["test"]
    players = [c["address"] for c in centre["clients"] if not c["publishing"]]
    assert set(players) & set(stream.addresses("edge")), centre["clients"]

    edge_url = "rtmp://edge/live/test"
    streams, packets = probe(stream, edge_url, 1.5)
    assert (streams["video"]["codec_name"], streams["video"]["width"]) == ("h264", 320)
    assert streams["audio"]["codec_name"] == "aac"
    assert key_frames(packets)[:2] == [0, GOP], key_frames(packets)

    # The same stream: the edge relays the centre's timestamps, not a new timeline.
    _, centre_packets = probe(stream, "rtmp://centre/live/test", 0.5)
    edge_time = float(packets[-1]["pts_time"])
    centre_time = float(centre_packets[0]["pts_time"])
    assert -0.5 < centre_time - edge_time < 3, (edge_time, centre_time)


def test_rtmpdump_writes_an_flv_that_ffprobe_reads(lab, tmp_path: Path):
    stream = stream_lab(lab, "rtmpdump", "timeout")
    flv = tmp_path / "x.flv"
    # --stop would not end it (nginx-rtmp's live module ignores play's length): SIGINT
    # after 2 s makes rtmpdump close the connection and the file cleanly.
    out = stream.exec("client", "timeout", "-s", "INT", "2", "rtmpdump", "-q", "-v",
                      "-r", "rtmp://centre/live/test", "--stop", "2", "-o", str(flv))  # fmt: skip
    assert out.returncode in (0, 2, 124), (out.returncode, out.stderr)
    data = flv.read_bytes()
    assert data[:4] == b"FLV\x01" and len(data) > 1000, data[:16]
    out = stream.exec("client", "ffprobe", "-v", "error", "-of", "json", "-count_packets",
                      "-show_entries", "stream=codec_name,width,height,nb_read_packets",
                      str(flv))  # fmt: skip
    assert out.returncode == 0, out.stderr
    streams = {s["codec_name"]: s for s in json.loads(out.stdout)["streams"]}
    assert set(streams) == {"h264", "aac"}
    assert (streams["h264"]["width"], streams["h264"]["height"]) == (320, 240)
    assert int(streams["h264"]["nb_read_packets"]) > 0


# ---------------------------------------------------------------------------
# Topology checks and the stat parser (no root)

PUBLISH = (
    'services = [{ type = "publish", to = "centre", stream = "test", gop = 25, '
    'size = "320x240", rate = 25 }]'
)
CENTRE = 'services = [{ type = "rtmp", port = 1935, stat_port = 8081, chunk_size = 4096 }]'
EDGE = 'services = [{ type = "rtmp", pull = "rtmp://centre/live", pull_streams = ["test"] }]'


def refused(old: str, new: str, *more: tuple[str, str]) -> str:
    text = STREAM
    for a, b in ((old, new), *more):
        assert a in text
        text = text.replace(a, b)
    with pytest.raises(NetlabError) as err:
        parse_topology(text, source="stream.toml")
    return err.value.message


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ('to = "client"', "to: node 'client' has no rtmp service"),
        ('to = "nowhere"', "to: 'nowhere' is not a node of this lab"),
        ('to = "rtmp://centre:1936/live"', "serves RTMP on port 1935, not 1936"),
        ('to = "rtmp://centre/vod"', "serves application 'live', not 'vod'"),
        ('to = "http://centre/live"', "must look like rtmp://NODE[:PORT]/APP"),
        ('to = "edge"', "node 'edge' is an edge"),
        ("stream = 'test'", 'needs to = "NODE"'),
        ('to = "centre", size = "321x240"', "width and height must be even"),
        ('to = "centre", size = "4k"', 'size must be "WIDTHxHEIGHT"'),
        ('to = "centre", rate = 0', "rate must be frames per second"),
        ('to = "centre", gop = true', "gop must be a number of frames"),
        ('to = "centre", audio = "yes"', "audio must be true or false"),
        ('to = "centre", stream = "a/b"', "stream must be a name"),
        ('to = "centre", bitrate = 1', "unknown option 'bitrate'"),
    ],
)
def test_bad_publish_options_are_refused(options, message):
    got = refused(PUBLISH, f'services = [{{ type = "publish", {options} }}]')
    assert got.startswith("stream.toml:"), got
    assert "node 'studio': service 'publish': " in got and message in got, got


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("port = 8081", "port and stat_port are both 8081"),
        ("chunk_size = 64", "chunk_size must be an integer within 128–65536"),
        ('application = "a b"', "application must be a name"),
        ('pull_streams = ["x"]', "pull_streams needs pull"),
        ('pull = "edge"', "pull loop: centre → edge → centre"),
        ('pull = "centre"', "a server cannot pull from itself"),
        ("listen = 1", "unknown option 'listen'"),
    ],
)
def test_bad_rtmp_options_are_refused(options, message):
    # Without the studio, whose publisher would first find the centre is not a centre.
    got = refused(CENTRE, f'services = [{{ type = "rtmp", {options} }}]', (PUBLISH, ""))
    assert "node 'centre': service 'rtmp': " in got and message in got, got


def test_edge_options_are_checked():
    assert "pull_streams must be a list of stream names" in refused(
        EDGE, 'services = [{ type = "rtmp", pull = "centre", pull_streams = "test" }]'
    )
    assert "serves application 'live', this server 'tv'" in refused(
        EDGE, 'services = [{ type = "rtmp", pull = "centre", application = "tv" }]'
    )
    # Two listeners of one node on one port clash, the stat port too.
    clash = 'services = [{ type = "rtmp", pull = "centre" }, { type = "tcp", port = 8081 }]'
    assert "listens on tcp/8081" in refused(EDGE, clash)


def test_bundled_stream_lab_loads_and_orders_its_services():
    from netlab.lab.engine import _services

    topo = parse_topology(STREAM, source="stream.toml")
    order = [(s.ctx.label, s.order()) for s in _services(topo, "stream", Path("/run/x"))]
    # The centre answers before the studio publishes into it; the edge pulls after that.
    assert order == [("centre-rtmp", 40), ("studio-publish", 50), ("edge-rtmp", 60)]
    (edge,) = topo.nodes["edge"].services
    assert sorted(RtmpService.listens(edge)) == [("tcp", 1935), ("tcp", 8081)]
    (pub,) = topo.nodes["studio"].services
    assert PublishService.listens(pub) == []


def test_generated_configs(tmp_path: Path):
    from netlab.lab.engine import _services

    topo = parse_topology(STREAM, source="stream.toml")
    by_label = {s.ctx.label: s for s in _services(topo, "stream", tmp_path)}
    edge = by_label["edge-rtmp"].config()
    assert f"load_module {rtmp.MODULE};" in edge
    assert "pull rtmp://centre:1935/live;" in edge  # on demand, any stream
    assert "pull rtmp://centre:1935/live name=test static;" in edge
    assert "rtmp_stat all;" in edge and "listen 8081;" in edge
    centre = by_label["centre-rtmp"].config()
    assert "chunk_size 4096;" in centre and "pull " not in centre
    assert "live on;" in centre and "record off;" in centre
    argv = by_label["studio-publish"].argv()
    assert argv[:2] == ["ffmpeg", "-nostdin"] and argv[-1] == "rtmp://centre/live/test"
    for flag, value in (("-g", "25"), ("-keyint_min", "25"), ("-sc_threshold", "0"),
                        ("-profile:v", "baseline"), ("-c:a", "aac")):  # fmt: skip
        assert argv[argv.index(flag) + 1] == value
    assert "testsrc=size=320x240:rate=25" in argv


STAT_XML = b"""<?xml version="1.0" encoding="utf-8" ?>
<rtmp><nginx_version>1.22.1</nginx_version><uptime>3</uptime><naccepted>8</naccepted>
<server><application><name>live</name><live>
<stream><name>test</name><time>2890</time><bw_in>0</bw_in><bytes_in>45151</bytes_in>
<bw_out>0</bw_out><bytes_out>0</bytes_out><bw_audio>0</bw_audio><bw_video>0</bw_video>
<client><id>1</id><address>centre:1935/live</address><time>2992</time>
<flashver>ngx-local-relay</flashver><dropped>0</dropped><publishing/><active/></client>
<meta><video><width>320</width><height>240</height><frame_rate>25</frame_rate>
<codec>H264</codec><profile>Baseline</profile><level>1.3</level></video>
<audio><codec>AAC</codec><profile>LC</profile><channels>1</channels>
<sample_rate>44100</sample_rate></audio></meta>
<nclients>1</nclients><publishing/><active/></stream>
<stream><name>idle</name><time>10</time><nclients>1</nclients></stream>
<nclients>2</nclients></live></application></server></rtmp>"""


def test_parse_stat():
    stat = parse_stat(STAT_XML)
    assert (stat["uptime"], stat["naccepted"]) == (3, 8)
    test = stat["applications"]["live"]["test"]
    assert test["publishing"] and test["active"] and test["nclients"] == 1
    assert test["video"] == {"width": 320, "height": 240, "frame_rate": 25, "codec": "H264",
                             "profile": "Baseline", "level": 1.3}  # fmt: skip
    assert test["audio"]["sample_rate"] == 44100
    assert test["clients"][0]["flashver"] == "ngx-local-relay"
    assert stream_live(stat, "live", "test")
    idle = stat["applications"]["live"]["idle"]
    assert idle["video"] is None and not idle["publishing"]
    assert not stream_live(stat, "live", "idle") and not stream_live(stat, "vod", "test")
    for bad in (b"", b"<html/>", b"<rtmp><unclosed>"):
        with pytest.raises(ValueError, match="not nginx-rtmp stat XML"):
            parse_stat(bad)
