"""`publish`: ffmpeg publishing a test source into an rtmp service, until the lab goes down.

    [nodes.studio]
    services = [{ type = "publish", to = "centre" }]      # rtmp://centre/live/test
    services = [{ type = "publish", to = "rtmp://centre/live", stream = "cam2", gop = 50,
                  size = "160x120", rate = 10, audio = false }]

Options:

- ``to`` (required): a node of the lab with an `rtmp` service, by name (its port and
  application) or as ``rtmp://NODE[:PORT]/APP``; the publisher may run on that node
  itself or on another (a studio feeding the centre over a link);
- ``stream`` ("test"): the stream name: the URL is ``rtmp://NODE/APP/STREAM``;
- ``gop`` (25): frames from one IDR frame to the next (``-g``, ``-keyint_min``,
  ``-sc_threshold 0``: exactly every `gop` frames, never on scene cuts): 25 frames at
  25 fps is one key frame a second;
- ``size`` ("320x240"), ``rate`` (25): the test pattern's size and frame rate
  (``lavfi testsrc``: a counter, a colour pattern, a moving gradient);
- ``audio`` (true): an AAC track (a 440 Hz sine, mono, 44.1 kHz) beside the video.

Video is H.264 Constrained Baseline (libx264 ``-preset veryfast -tune zerolatency``:
no B-frames, so decode order is presentation order), ``yuv420p``, in FLV over RTMP.
ffmpeg runs with ``-re`` (real time: lavfi sources are endless and would otherwise
encode as fast as the CPU allows), ``-nostdin`` and ``-nostats``; its log is the
service log.

Ready: the server's stat page (read inside the server's node) shows the stream
published, with its video codec known. The publisher starts after its server
(`rtmp.order_of` + 10) and before any edge that pulls from that server.
"""

from __future__ import annotations

import re
import shutil
from typing import Any

from netlab.errors import NetlabError
from netlab.lab import plan
from netlab.lab.services import Service, unknown_options
from netlab.lab.services.rtmp import (
    NAME_RE,
    fetch_stat,
    options,
    order_of,
    resolve_target,
    stream_live,
)
from netlab.lab.topology import Node, ServiceSpec, Topology

OPTIONS = {"to", "stream", "gop", "size", "rate", "audio"}
DEFAULTS: dict[str, Any] = {
    "stream": "test",
    "gop": 25,
    "size": "320x240",
    "rate": 25,
    "audio": True,
}
SIZE_RE = re.compile(r"^(\d{2,4})x(\d{2,4})$")
MAX_SIZE = (1280, 720)  # a test source, on a CI machine: keep the encoder's CPU modest
RATE_RANGE = (1, 60)
GOP_RANGE = (1, 600)
SINE_HZ = 440
AUDIO_RATE = 44100


def publish_options(spec: ServiceSpec) -> dict[str, Any]:
    return {**DEFAULTS, **spec.options}


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class PublishService(Service):
    type = "publish"
    ready_timeout = 15.0  # ffmpeg's start, libx264's set-up, the first GOP's header

    @classmethod
    def check(cls, topo: Topology, node: Node, spec: ServiceSpec) -> str | None:
        problem = unknown_options(spec, OPTIONS)
        if problem:
            return problem
        if "to" not in spec.options:
            return 'needs to = "NODE" (a node with an rtmp service) or "rtmp://NODE/APP"'
        target = resolve_target(topo, spec.options["to"], "to")
        if isinstance(target, str):
            return target
        if "pull" in target[1].options:
            return (
                f"to: node '{target[0]}' is an edge (it pulls from "
                f"{target[1].options['pull']!r}): publish into the server it pulls from"
            )
        o = publish_options(spec)
        if not isinstance(o["stream"], str) or not NAME_RE.match(o["stream"]):
            return f"stream must be a name ({NAME_RE.pattern}), not {o['stream']!r}"
        if not _int(o["gop"]) or not GOP_RANGE[0] <= o["gop"] <= GOP_RANGE[1]:
            low, high = GOP_RANGE
            return f"gop must be a number of frames within {low}–{high}, not {o['gop']!r}"
        if not _int(o["rate"]) or not RATE_RANGE[0] <= o["rate"] <= RATE_RANGE[1]:
            low, high = RATE_RANGE
            return f"rate must be frames per second within {low}–{high}, not {o['rate']!r}"
        m = SIZE_RE.match(o["size"]) if isinstance(o["size"], str) else None
        if m is None:
            return f'size must be "WIDTHxHEIGHT", not {o["size"]!r}'
        width, height = int(m[1]), int(m[2])
        if (
            width % 2
            or height % 2
            or not (16 <= width <= MAX_SIZE[0] and 16 <= height <= MAX_SIZE[1])
        ):
            return (
                f"size {o['size']}: width and height must be even, from 16x16 to "
                f"{MAX_SIZE[0]}x{MAX_SIZE[1]}"
            )
        if not isinstance(o["audio"], bool):
            return f"audio must be true or false, not {o['audio']!r}"
        return None

    @classmethod
    def listens(cls, spec: ServiceSpec) -> list[tuple[str, int]]:
        return []

    # -- derived values --

    @property
    def opts(self) -> dict[str, Any]:
        return publish_options(self.ctx.spec)

    @property
    def target(self) -> tuple[str, ServiceSpec]:
        target = resolve_target(self.ctx.topo, self.ctx.spec.options["to"], "to")
        assert not isinstance(target, str)  # checked at load time
        return target

    @property
    def server(self) -> dict[str, Any]:
        return options(self.target[1])

    def url(self) -> str:
        node, server = self.target[0], self.server
        where = node if server["port"] == 1935 else f"{node}:{server['port']}"
        return f"rtmp://{where}/{server['application']}/{self.opts['stream']}"

    def order(self) -> int:
        return order_of(self.ctx.topo, self.target[0]) + 10

    def argv(self) -> list[str]:
        o = self.opts
        video = f"testsrc=size={o['size']}:rate={o['rate']}"
        inputs = ["-re", "-f", "lavfi", "-i", video]
        if o["audio"]:
            inputs += [
                "-re",
                "-f",
                "lavfi",
                "-i",
                f"sine=frequency={SINE_HZ}:sample_rate={AUDIO_RATE}",
            ]
        gop = str(o["gop"])
        encode = [
            "-map", "0:v",
            "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
            "-profile:v", "baseline", "-pix_fmt", "yuv420p",
            "-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
            "-threads", "1",
        ]  # fmt: skip
        if o["audio"]:
            encode += ["-map", "1:a", "-c:a", "aac", "-b:a", "64k", "-ac", "1"]
        return [
            "ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-loglevel", "info",
            *inputs, *encode,
            "-f", "flv", "-flvflags", "no_duration_filesize", self.url(),
        ]  # fmt: skip

    # -- the service's jobs --

    def prepare(self) -> list[str]:
        if shutil.which("ffmpeg") is None:
            raise NetlabError("publish service: ffmpeg is not installed (apt-get install ffmpeg)")
        return self.argv()

    def ready(self) -> bool:
        node, server = self.target[0], self.server
        lab = self.ctx.run_dir.name
        stat = fetch_stat(plan.netns_name(lab, node), server["stat_port"])
        return stat is not None and stream_live(stat, server["application"], self.opts["stream"])

    def describe(self) -> dict[str, Any]:
        o = self.opts
        node, server = self.target[0], self.server
        return {
            "program": "ffmpeg",
            "url": self.url(),
            "to": node,
            "stream": o["stream"],
            "stat_url": f"http://{node}:{server['stat_port']}/stat",
            "video": f"h264 baseline {o['size']} {o['rate']} fps",
            "gop": o["gop"],
            "size": o["size"],
            "rate": o["rate"],
            "audio": "aac 44100 Hz mono" if o["audio"] else None,
        }
