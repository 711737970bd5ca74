"""Opening a capture file: format sniffing, gunzip, chunked buffering.

`open_capture` recognises the format from the first bytes (never from the file
name), reads the file header at open time so that a wrong file fails at once
with `CaptureFormatError`, and returns a `Capture` whose iteration streams
`Frame` tuples. Iteration never raises: damage ends it with one entry in
`Capture.warnings`.

The format readers (`pcap.py`, `pcapng.py`) work on a bytes buffer that this
module refills in large chunks; one `struct.unpack_from` per record header and
one slice per packet is all the per-packet work, which is what lets a
million-packet file stream at a few hundred nanoseconds per record.
"""

from __future__ import annotations

import os
import sys
from typing import IO

from netlab.capture import pcap, pcapng
from netlab.capture.records import (
    CHUNK_SIZE,
    GZIP_MAGIC,
    MAX_CAPLEN,
    Capture,
    CaptureFormatError,
    Frame,
    Interface,
    Source,
)
from netlab.errors import InputError

__all__ = ["CHUNK_SIZE", "MAX_CAPLEN", "Capture", "CaptureFormatError", "Frame", "Interface",
           "Source", "open_capture"]  # fmt: skip


def _open_raw(path: str | os.PathLike[str] | IO[bytes]) -> tuple[str, IO[bytes], bool]:
    """(display name, binary stream, whether we own it)."""
    if hasattr(path, "read"):
        stream = path  # an already open binary stream: the caller closes it
        return str(getattr(stream, "name", "<stream>")), stream, False  # type: ignore[return-value]
    if str(path) == "-":
        return "-", sys.stdin.buffer, False
    name = str(path)
    try:
        f = open(path, "rb")  # noqa: SIM115 - the Capture closes it
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(f"cannot open {name!r}: {reason}") from None
    return name, f, True


def _sniff_error(name: str, head: bytes) -> CaptureFormatError:
    if not head:
        return CaptureFormatError(f"{name!r} is empty, not a pcap or pcapng capture")
    shown = head[:4].hex()
    if len(head) < 4:
        return CaptureFormatError(
            f"{name!r} is not a pcap or pcapng capture (only {len(head)} bytes: 0x{shown})"
        )
    return CaptureFormatError(f"{name!r} is not a pcap or pcapng capture (starts with 0x{shown})")


def open_capture(path: str | os.PathLike[str] | IO[bytes]) -> Capture:
    """Open a pcap or pcapng file (optionally gzip-compressed); '-' reads stdin.

    `path` may also be an open binary stream, which is then left open.

    Raises InputError when the file cannot be opened and CaptureFormatError when
    it is not a capture; after that nothing raises.
    """
    name, raw, owned = _open_raw(path)
    try:
        src = Source(raw)
        head = src.refill(b"", 0, 4)
        if src.error and not head:
            raise InputError(f"cannot read {name!r}: {src.error}")
        if head[:2] == GZIP_MAGIC:
            src.eof = False
            src.start_gunzip(head)
            head = src.refill(b"", 0, 4)
            if len(head) < 4 and src.error:
                raise CaptureFormatError(f"{name!r} is gzip-compressed but unreadable: {src.error}")
        magic = head[:4]
        if magic in pcap.MAGICS:
            cap = pcap.open_pcap(name, src, head)
        elif magic == pcapng.SHB_MAGIC:
            cap = pcapng.open_pcapng(name, src, head)
        else:
            raise _sniff_error(name, head)
    except BaseException:
        if owned:
            raw.close()
        raise
    if owned:
        cap._closers.append(raw)
    cap.source = src
    return cap
