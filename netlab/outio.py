"""Writing big texts to stdout so that a signal can never drop part of them.

CPython's buffered writer (3.11) loses data when a signal whose handler only takes
note (Ctrl-C under `SignalStop`, or in `dissect --jobs`) interrupts a write of more
than its buffer into a full pipe: the system call returns part way (4 KiB of 8 KiB,
say) and the rest is dropped without an error. So a big write goes to the file
descriptor itself, in a loop that carries on from wherever the kernel stopped.
Imports nothing of netlab.
"""

from __future__ import annotations

import io
import os
from typing import IO, Any

SMALL = 4096  # writes up to this size go through the stream's buffer as usual
_IOV_MAX = 1024  # pieces one writev(2) takes (Linux's UIO_MAXIOV)


def write_all(out: IO[Any], data: Any) -> None:
    """Write DATA (str or bytes) to OUT whole, even if a signal arrives meanwhile."""
    if len(data) <= SMALL:
        out.write(data)
        return
    try:
        fd = out.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):  # StringIO and the like
        out.write(data)
        return
    if isinstance(data, str):
        data = data.encode(getattr(out, "encoding", None) or "utf-8",
                           getattr(out, "errors", None) or "strict")  # fmt: skip
    _write_fd(out, fd, data)


def write_texts(out: IO[Any], texts: list[str], end: str) -> None:
    """Write each of TEXTS followed by END, whole, as write_all writes. Each text is
    encoded apart and the pieces go out in one writev(2): joined as text first, one
    non-ASCII character (a "…" in a tree) would widen the whole batch to two bytes a
    character, and encoding that back to UTF-8 costs three times the copy; joined as
    bytes, a batch of -V trees is megabytes of fresh memory (page faults) each time."""
    try:
        fd = out.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):  # StringIO and the like
        fd = None
    if fd is None or sum(map(len, texts)) <= SMALL:
        out.write(end.join(texts) + end)
        return
    encoding = getattr(out, "encoding", None) or "utf-8"
    errors = getattr(out, "errors", None) or "strict"
    sep = end.encode(encoding)
    pieces = [piece for text in texts for piece in (text.encode(encoding, errors), sep)]
    out.flush()  # what the stream holds goes first
    while pieces:
        written = os.writev(fd, pieces[:_IOV_MAX])
        # Drop what went out; a piece cut part way goes on from where the kernel stopped.
        done = 0
        while done < len(pieces) and written >= len(pieces[done]):
            written -= len(pieces[done])
            done += 1
        del pieces[:done]
        if written:
            pieces[0] = memoryview(pieces[0])[written:]


def _write_fd(out: IO[Any], fd: int, data: bytes) -> None:
    out.flush()  # what the stream holds goes first
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
