"""Files a command reads whole (certificates, keys, .torrent files): bounded, and any
failure one line (exit 2). Shared by cert, tls-hello and torrent."""

from __future__ import annotations

import os

from netlab.errors import InputError

MAX_FILE_BYTES = 10 * 1024 * 1024  # the same bound as core/x509.MAX_FILE_BYTES


def read_bounded(
    path: str,
    what: str = "file",
    *,
    limit: int = MAX_FILE_BYTES,
    files: str = "certificate files",
    sized: bool = True,
) -> bytes:
    """The bytes of PATH, at most LIMIT (a whole number of MiB), or a one-line error: WHAT
    a directory is not, the limit for FILES, with the size (SIZED) when the file says it."""
    over = f"over the {limit >> 20} MiB limit for {files}"
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size if sized else 0
            if size > limit:
                raise InputError(f"{path}: {size:,} bytes is {over}")
            data = f.read(limit + 1)
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a {what}") from None
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror}") from None
    if len(data) > limit:
        raise InputError(f"{path}: {over}")
    return data
