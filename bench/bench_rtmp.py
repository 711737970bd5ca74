#!/usr/bin/env python3
"""rtmp-handshake against rtmpdump and ffprobe on one stream (nginx-rtmp fed by
ffmpeg on loopback), measured in the same run, one process each.

    python bench/bench_rtmp.py [--runs N]

- netlab: `netlab rtmp-handshake --frames 1 --json URL`: wall time of the process,
  and its own times from C1 to S2, to NetConnection.Connect.Success and to the
  first video frame.
- rtmpdump: `rtmpdump -r URL -o -`, timed from its start until its output holds the
  first video frame (an FLV video tag with NAL units), then stopped: its `--stop`
  is only a play length, which nginx-rtmp's live streams ignore.
- ffprobe: `ffprobe -v error -show_streams URL` (it reads until it knows the streams).
Goal: netlab's wall time at most theirs + 0.25 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.rtmp_servers import NginxRtmp  # noqa: E402

NETLAB = str(ROOT / ".venv" / "bin" / "netlab")


def timed(argv: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    return time.perf_counter() - start, proc


def rtmpdump_first_frame(url: str, limit: float = 30.0) -> float:
    """Seconds from starting rtmpdump until its FLV output holds a video frame."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        ["rtmpdump", "-q", "-r", url, "-o", "-"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    buf = b""
    try:
        while time.perf_counter() - start < limit:
            chunk = proc.stdout.read1(65536)
            if not chunk:
                break
            buf += chunk
            if _has_video_frame(buf):
                return time.perf_counter() - start
        raise SystemExit("rtmpdump gave no video frame")
    finally:
        proc.kill()
        proc.wait(5)


def _has_video_frame(data: bytes) -> bool:
    if len(data) < 13 or data[:3] != b"FLV":
        return False
    pos = int.from_bytes(data[5:9], "big") + 4
    while pos + 11 <= len(data):
        size = int.from_bytes(data[pos + 1 : pos + 4], "big")
        if pos + 11 + size > len(data):
            return False
        body = data[pos + 11 : pos + 11 + size]
        if data[pos] & 0x1F == 9 and len(body) > 1 and body[1] == 1:
            return True
        pos += 11 + size + 4
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, NginxRtmp(Path(tmp)) as srv:
        srv.publish_testsrc(gop=25)
        url = srv.url("test")
        ours, phases = [], []
        for _ in range(args.runs):
            wall, proc = timed([NETLAB, "rtmp-handshake", "--frames", "1", "--json", url])
            doc = json.loads(proc.stdout)
            if doc["error"]:
                raise SystemExit(f"netlab failed: {doc['error']}")
            ours.append(wall)
            phases.append(doc["times_ms"])
        rtmpdump = [rtmpdump_first_frame(url) for _ in range(args.runs)]
        ffprobe = [
            timed(["ffprobe", "-v", "error", "-show_streams", url])[0] for _ in range(args.runs)
        ]
    best = min(ours)
    print(f"== rtmp: one stream on loopback, best of {args.runs} runs, one process each")
    for key in ("s2", "connect_success", "first_video_frame"):
        values = [p[key] for p in phases if p[key] is not None]
        print(f"  netlab C1 → {key:18} median {statistics.median(values):9.3f} ms")
    print(f"  netlab rtmp-handshake --frames 1  {best:7.3f} s")
    for name, walls in (
        ("rtmpdump (to first frame)", rtmpdump),
        ("ffprobe -show_streams", ffprobe),
    ):
        theirs = min(walls)
        print(
            f"  {name:32} {theirs:7.3f} s   netlab - {name.split()[0]} = {best - theirs:+.3f} s"
            " (goal: at most +0.250 s)"
        )


if __name__ == "__main__":
    main()
