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
    out.flush()  # what the stream holds goes first
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
