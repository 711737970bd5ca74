"""`netlab rtmp-handshake`: RTMP from C0 to the first H.264 frames, chunk by chunk."""

from __future__ import annotations

from typing import Any

import click

from netlab.cli.options import Common, client_options, command, file_option, seconds_option
from netlab.errors import ExitStatus, InputError, NetlabError

DEFAULT_SECONDS = 10.0  # play without --frames/--seconds: a stream never ends by itself
MAX_FLV = 256 * 1024 * 1024


@command(
    "rtmp-handshake", "RTMP from C0/C1 to the first H.264 frames: commands, chunks, NAL units."
)
@click.argument("url", metavar="rtmp://HOST[:PORT]/APP/STREAM")
@click.option("--handshake-only", is_flag=True, help="Stop after C0-C2/S0-S2.")
@file_option(
    "--publish",
    "publish_file",
    exists=True,
    metavar="FILE.flv",
    help="Publish FILE.flv's tags instead of playing.",
)
@click.option(
    "--publish-testsrc",
    is_flag=True,
    help="Publish a few seconds of ffmpeg's test pattern (H.264) instead of playing.",
)
@click.option(
    "--frames",
    type=click.IntRange(1, 100_000),
    metavar="N",
    help="Stop after N video frames (pictures).",
)
@seconds_option(
    "--seconds",
    metavar="S",
    help=f"Stop S seconds after play started (default {DEFAULT_SECONDS:g} without --frames).",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(1, 0xFFFFFF),
    metavar="N",
    help="Our outgoing chunk size (a Set Chunk Size first).",
)
@click.option("--chunks", is_flag=True, help="Show every chunk sent and received.")
@client_options(timeout=5.0)
def rtmp_handshake(
    common: Common,
    url: str,
    handshake_only: bool,
    publish_file: str | None,
    publish_testsrc: bool,
    frames: int | None,
    seconds: float | None,
    chunk_size: int | None,
    chunks: bool,
) -> ExitStatus:
    """Connect like an RTMP player (or publisher) and show every step: the handshake
    with every field (C0/S0 version, C1/S1 time and random bytes, S2 echoing C1, C2
    echoing S1) and its timing; the connect command and its AMF0 object; Window
    Acknowledgement Size, Set Peer Bandwidth, Set Chunk Size; createStream; play (or
    publish) and the onStatus codes; onMetaData; the AVC sequence header decoded (SPS
    and PPS: profile, level, width and height); then each video message: timestamp,
    key frame or not, size and its NAL unit types (SPS 7, PPS 8, IDR 5, non-IDR 1,
    SEI 6, AUD 9). --chunks shows the chunking: fmt, chunk stream id, header bytes and
    payload bytes of every chunk both ways.

    Exit 0 when the handshake and the commands succeeded, 1 when the server refused,
    rejected or closed (the onStatus code is shown) or nothing came in time, 2 on a
    bad URL.

    \b
    Examples:
      netlab rtmp-handshake rtmp://centre/live/test --frames 30
      netlab rtmp-handshake --handshake-only rtmp://centre/live/test
      netlab rtmp-handshake --publish-testsrc --chunk-size 128 --chunks rtmp://centre/live/mine
      netlab rtmp-handshake --json rtmp://edge/live/test --seconds 3 | jq .video
    """
    from netlab.core.rtmp import RtmpOptions, RtmpUrlError, parse_rtmp_url

    try:
        parsed = parse_rtmp_url(url)
    except RtmpUrlError as err:
        raise InputError(str(err)) from None
    if publish_file and publish_testsrc:
        raise InputError("choose one of --publish FILE and --publish-testsrc")
    if not parsed.stream and not handshake_only:
        raise InputError(f"{url!r}: no stream name (rtmp://HOST/APP/STREAM)")
    tags = None
    if publish_file:
        tags = _read_flv(publish_file)
    elif publish_testsrc:
        tags = _testsrc()
    if tags is None and frames is None and seconds is None:
        seconds = DEFAULT_SECONDS
    options = RtmpOptions(
        handshake_only=handshake_only,
        publish=tags,
        frames=frames,
        seconds=seconds,
        chunk_size=chunk_size,
        timeout=common.timeout or 5.0,
        keep_chunks=True,
    )
    return _run(common, parsed, options, chunks)


def _read_flv(path: str) -> list:
    from netlab.wire import flv

    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FLV + 1)
    except OSError as err:
        raise InputError(f"cannot read {path!r}: {err.strerror}") from None
    if len(data) > MAX_FLV:
        raise InputError(f"{path!r} is larger than {MAX_FLV // (1024 * 1024)} MiB")
    try:
        return flv.read_flv(data)
    except flv.FlvError as err:
        raise InputError(f"{path!r}: {err}") from None


def _testsrc(seconds: float = 2.0) -> list:
    """A couple of seconds of ffmpeg's test pattern as H.264 in FLV (one IDR a second)."""
    import shutil
    import subprocess

    from netlab.wire import flv

    if shutil.which("ffmpeg") is None:
        raise InputError("--publish-testsrc needs ffmpeg (apt-get install ffmpeg)")
    argv = [
        "ffmpeg",
        "-nostdin",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        f"testsrc=size=320x240:rate=25:duration={seconds:g}",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-profile:v",
        "baseline",
        "-pix_fmt",
        "yuv420p",
        "-g",
        "25",
        "-keyint_min",
        "25",
        "-sc_threshold",
        "0",
        "-f",
        "flv",
        "-",
    ]
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=60, check=True)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
        raise NetlabError(f"ffmpeg could not make the test source: {err}") from None
    return flv.read_flv(proc.stdout)


def _run(common: Common, url: Any, options: Any, show_chunks: bool) -> ExitStatus:
    from netlab.cli.run import port_watch, run_client
    from netlab.core.rtmp import RtmpClient
    from netlab.net.resolver import host_address
    from netlab.render import rtmp as view

    address = host_address(url.host, url.port)
    core = RtmpClient(url, address, options)
    r = core.result  # filled in as the run goes
    s = run_client(
        common,
        core,
        lambda: port_watch(common, address, url.port),
        lambda: (
            view.document(url, address, r, show_chunks),
            view.lines(url, address, r, show_chunks),
            r.error,
        ),
    )
    return s.status(r.completed and r.error is None)
