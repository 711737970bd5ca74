#!/usr/bin/env python3
"""RTMP benchmarks, by section (issue: `netlab rtmp-handshake` and RTMP in the dissector).

    python bench/bench_rtmp.py [SECTION …] [--runs N] [--repeat N] [--seconds S]

Sections (`handshake` when none is named):

- handshake: rtmp-handshake against rtmpdump and ffprobe on one stream (nginx-rtmp fed
  by ffmpeg on loopback), measured in the same run, one process each, best of --runs:
  - netlab: `netlab rtmp-handshake --frames 1 --json URL`: wall time of the process,
    and its own times from C1 to S2, to NetConnection.Connect.Success and to the first
    video frame.
  - rtmpdump: `rtmpdump -r URL -o -`, timed from its start until its output holds the
    first video frame (an FLV video tag with NAL units), then stopped: its `--stop` is
    only a play length, which nginx-rtmp's live streams ignore.
  - ffprobe: `ffprobe -v error -show_streams URL` (it reads until it knows the streams).
  Goal: netlab's wall time at most theirs + 0.25 s. Each tool plays from a second port
  of the same nginx (the publisher is on the first), recorded with tcpdump on lo, so the
  same three times are read for all three from the wire (tshark): from the packet
  carrying C1 to the one completing S2, to the `_result` with
  NetConnection.Connect.Success, and to the first video message (medians).

- dissect: `netlab dissect -j 1 FILE > /dev/null` against `tshark -n -r FILE > /dev/null`
  on RTMP captures (goal: ratio <= 1.0), best of --repeat runs each, alternating, one
  process each. Two captures, each made once and kept as bench/out/rtmp-KIND-<seconds>.pcap:
  nginx-rtmp on a free loopback port, three rtmpdump players waiting on a live stream,
  then ffmpeg publishing --seconds of its test pattern (320x240 H.264, 25 frames a
  second, one IDR a second, as fast as it can encode) to it, recorded with tcpdump on lo:
  `video` is the course's stream (the `stream` lab's: video alone); `av` adds AAC audio
  (a sine), which doubles the messages, most of them small. The server's port is then
  renamed 1935 in the file, so tshark decodes RTMP without being told. Needs root
  (tcpdump) only to build the captures; loopback traffic only.

Not a test: machines are noisy; the numbers go in the closing note.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchlib import count_packets, dissect_vs_tshark  # noqa: E402

from tests import procs  # noqa: E402
from tests.rtmp_servers import NginxRtmp  # noqa: E402

NETLAB = str(ROOT / ".venv" / "bin" / "netlab")
OUT = ROOT / "bench" / "out"
RTMP_PORT = 1935


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


WIRE_PHASES = ("s2", "connect_success", "first_video_frame")


def wire_phases(pcap: Path, port: int) -> dict[str, float | None]:
    """Milliseconds from the packet carrying C1 to the one completing S2, to the
    `_result` holding NetConnection.Connect.Success and to the first video message, as
    tshark reads the capture of one player's connection."""
    fields = ("frame.time_epoch", "rtmpt.handshake.c1", "rtmpt.handshake.s2", "amf.string",
              "rtmpt.video.type")  # fmt: skip
    out = subprocess.run(
        ["tshark", "-n", "-r", str(pcap), "-d", f"tcp.port=={port},rtmpt", "-T", "fields",
         *(a for f in fields for a in ("-e", f))],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    c1 = None
    times: dict[str, float | None] = dict.fromkeys(WIRE_PHASES)
    for line in out.splitlines():
        when, hs_c1, hs_s2, strings, video = (line.split("\t") + [""] * 5)[:5]
        t = float(when) * 1000
        if hs_c1 and c1 is None:
            c1 = t
        if c1 is None:
            continue
        found = {
            "s2": bool(hs_s2),
            "first_video_frame": bool(video),
            "connect_success": "NetConnection.Connect.Success" in strings.split(","),
        }
        for key, yes in found.items():  # fmt: skip
            if yes and times[key] is None:
                times[key] = t - c1
    return times


def captured(tmp: Path, port: int, run) -> tuple[object, dict[str, float | None]]:
    """RUN() with the player's port recorded; its result and the wire's phase times."""
    pcap = tmp / "player.pcap"
    dump = procs.start_tcpdump(pcap, f"tcp port {port}")
    try:
        result = run()
    finally:
        procs.stop_tcpdump(dump)
    return result, wire_phases(pcap, port)


def section_handshake(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp, NginxRtmp(Path(tmp), second_port=True) as srv:
        srv.publish_testsrc(gop=25)
        url, port = srv.url("test", srv.play_port), srv.play_port
        argv = [NETLAB, "rtmp-handshake", "--frames", "1", "--json", url]
        walls: dict[str, list[float]] = {"netlab": [], "rtmpdump": [], "ffprobe": []}
        wire: dict[str, list[dict]] = {name: [] for name in walls}
        phases = []
        for _ in range(args.runs):
            (wall, proc), times = captured(Path(tmp), port, lambda: timed(argv))
            doc = json.loads(proc.stdout)
            if doc["error"]:
                raise SystemExit(f"netlab failed: {doc['error']}")
            walls["netlab"].append(wall)
            wire["netlab"].append(times)
            phases.append(doc["times_ms"])
            wall, times = captured(Path(tmp), port, lambda: rtmpdump_first_frame(url))
            walls["rtmpdump"].append(wall)
            wire["rtmpdump"].append(times)
            probe = ["ffprobe", "-v", "error", "-show_streams", url]
            (wall, _proc), times = captured(Path(tmp), port, lambda: timed(probe))  # noqa: B023
            walls["ffprobe"].append(wall)
            wire["ffprobe"].append(times)
    best = min(walls["netlab"])
    print(f"== rtmp: one stream on loopback, best of {args.runs} runs, one process each")
    for key in WIRE_PHASES:
        values = [p[key] for p in phases if p[key] is not None]
        print(f"  netlab C1 → {key:18} median {statistics.median(values):9.3f} ms (its own clock)")
    print("  on the wire, C1 →       " + "".join(f"{k:>20}" for k in WIRE_PHASES) + " (medians)")
    for name, runs in wire.items():
        cells = []
        for key in WIRE_PHASES:
            values = [r[key] for r in runs if r[key] is not None]
            cells.append(f"{statistics.median(values):17.3f} ms" if values else f"{'-':>20}")
        print(f"    {name:21}" + "".join(cells))
    print(f"  netlab rtmp-handshake --frames 1  {best:7.3f} s")
    for name, label in (("rtmpdump", "rtmpdump (to first frame)"),
                        ("ffprobe", "ffprobe -show_streams")):  # fmt: skip
        theirs = min(walls[name])
        print(
            f"  {label:32} {theirs:7.3f} s   netlab - {name} = {best - theirs:+.3f} s"
            " (goal: at most +0.250 s)"
        )


# --- dissect: the capture -------------------------------------------------------------------------
def _stop(proc: subprocess.Popen, seconds: float = 10) -> None:
    """End a process this script started, by its pid (bounded wait)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(seconds)


def build_capture(kind: str, seconds: int) -> Path:
    """bench/out/rtmp-KIND-<seconds>.pcap, made once (see the module's doc); recorded
    again when the kernel dropped packets for tcpdump (ffmpeg keeps both CPUs busy)."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"rtmp-{kind}-{seconds}.pcap"
    if path.exists():
        return path
    raw = path.with_suffix(".tmp")
    for _ in range(3):
        port, whole = _record(raw, seconds, audio=kind == "av")
        if whole:
            rename_port(raw, path, port, RTMP_PORT)
            raw.unlink()
            return path
    raise SystemExit("bench_rtmp: tcpdump lost packets three times; try on a quieter machine")


def _record(raw: Path, seconds: int, audio: bool) -> tuple[int, bool]:
    """Record the traffic into `raw`: (the server's port, whether tcpdump kept it all)."""
    sine = ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "aac"]
    with tempfile.TemporaryDirectory(prefix="bench-rtmp-") as tmp, NginxRtmp(Path(tmp)) as srv:
        url = srv.url("bench")
        dump = subprocess.Popen(
            ["tcpdump", "-i", "lo", "--immediate-mode", "-B", "65536", "-U", "-w", str(raw),
             f"tcp port {srv.port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        players: list[subprocess.Popen] = []
        try:
            ready, _, _ = select.select([dump.stderr], [], [], 10)
            if not ready or b"listening" not in dump.stderr.readline():
                raise SystemExit("bench_rtmp: tcpdump did not start listening on lo")
            player = ["rtmpdump", "-q", "-r", url, "--live", "-o", os.devnull]
            for _ in range(3):  # players first: nginx holds them until the stream starts
                players.append(subprocess.Popen(player, stdout=subprocess.DEVNULL))
            time.sleep(1)
            subprocess.run(
                ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi",
                 "-i", f"testsrc=size=320x240:rate=25:duration={seconds}",
                 *(sine if audio else []),
                 "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "baseline",
                 "-pix_fmt", "yuv420p", "-g", "25", "-f", "flv", url],
                check=True, timeout=600,
            )  # fmt: skip
            time.sleep(1)  # the players drain what nginx still holds
        finally:
            for proc in players:
                _stop(proc)
            time.sleep(0.5)  # let the last packets reach the file
            _stop(dump)
        err = dump.stderr.read() if dump.stderr else b""
        return srv.port, b"\n0 packets dropped by kernel" in b"\n" + err


def rename_port(src: Path, dst: Path, old: int, new: int) -> None:
    """Copy a pcap of Ethernet/IPv4 frames, TCP port `old` renamed `new` (checksums are not
    recomputed: a loopback capture's are not meaningful anyway)."""
    data = src.read_bytes()
    out = bytearray(data[:24])
    swap = data[:4] == b"\xd4\xc3\xb2\xa1"
    record = struct.Struct("<IIII" if swap else ">IIII")
    pos = 24
    while pos + 16 <= len(data):
        _s, _us, caplen, _wire = record.unpack_from(data, pos)
        frame = bytearray(data[pos + 16 : pos + 16 + caplen])
        if len(frame) >= 34 and frame[12:14] == b"\x08\x00" and frame[23] == 6:
            tcp = 14 + (frame[14] & 0x0F) * 4
            for at in (tcp, tcp + 2):
                if len(frame) >= at + 2 and int.from_bytes(frame[at : at + 2], "big") == old:
                    frame[at : at + 2] = new.to_bytes(2, "big")
        out += data[pos : pos + 16] + frame
        pos += 16 + caplen
    dst.write_bytes(bytes(out))


def section_dissect(args: argparse.Namespace) -> None:
    # netlab as installed: its modules byte-compiled (as pip does), so no run pays for
    # compiling them (PYTHONDONTWRITEBYTECODE would make every run pay)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "netlab")],
                   stdout=subprocess.DEVNULL, check=False)  # fmt: skip
    for kind, what in (("video", "video"), ("av", "video and AAC audio")):
        path = build_capture(kind, args.seconds)
        ours_cmd = [NETLAB, "dissect", "-j", "1", str(path)]
        theirs_cmd = ["tshark", "-n", "-r", str(path)]
        print(
            f"capture: {path} ({path.stat().st_size / 1e6:.1f} MB, {count_packets(path):,} "
            f"packets: ffmpeg publishing {args.seconds} s of {what}, 3 rtmpdump players; "
            f"port {RTMP_PORT})"
        )
        print(dissect_vs_tshark(ours_cmd, theirs_cmd, path, args.repeat))


SECTIONS = {"handshake": section_handshake, "dissect": section_dissect}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "sections", nargs="*", metavar="SECTION",
        help=f"what to measure: {', '.join(SECTIONS)} (default: handshake)",
    )  # fmt: skip
    parser.add_argument("--runs", type=int, default=5, help="handshake: runs of each tool")
    parser.add_argument("--repeat", type=int, default=3, help="dissect: runs of each tool (best)")
    parser.add_argument(
        "--seconds", type=int, default=120, help="dissect: seconds of video in the capture"
    )
    args = parser.parse_args(argv)
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section {unknown[0]!r} (choose from {', '.join(SECTIONS)})")
    for name in args.sections or ["handshake"]:
        SECTIONS[name](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
