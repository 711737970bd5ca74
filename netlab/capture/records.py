"""The records a capture is read into (`Frame`, `Interface`, `Capture`) and the
chunked byte `Source` the format readers (`pcap.py`, `pcapng.py`) work on.

Kept apart from `reader.open_capture`, which picks a format reader: the format
readers import these types, and the opener imports the format readers.
"""

from __future__ import annotations

import zlib
from collections.abc import Generator
from typing import IO, NamedTuple

from netlab.errors import InputError

CHUNK_SIZE = 1 << 20
"""Bytes read from the file per refill: large enough that refills cost nothing."""

MAX_CAPLEN = 262144
"""Largest captured length believed (libpcap's MAXIMUM_SNAPLEN, Wireshark's
WTAP_MAX_PACKET_SIZE_STANDARD). A larger value means a corrupt header, and
trusting it would allocate whatever a damaged file asks for."""

GZIP_MAGIC = b"\x1f\x8b"


class CaptureFormatError(InputError):
    """The file is not a capture netlab can read (raised by `open_capture` only)."""


class Frame(NamedTuple):
    """One packet record of a capture file."""

    ts_ns: int
    """Absolute time stamp in integer nanoseconds since the epoch (exact)."""
    caplen: int
    """Captured length: the bytes the file holds for this packet."""
    wirelen: int
    """Original length on the wire."""
    linktype: int
    """LINKTYPE_* value of the packet's interface (low 16 bits)."""
    data: bytes
    """The captured bytes (len == caplen)."""
    interface: int
    """Index into `Capture.interfaces` (0 for pcap)."""
    comment: str | None
    """pcapng opt_comment of the packet (several are joined by newlines), else None."""


class Interface(NamedTuple):
    """One capture interface: the pcap file header, or a pcapng IDB.

    The first four fields are the contract (linktype, name, resolution,
    snaplen); later fields may be added with defaults.
    """

    linktype: int
    """LINKTYPE_* value, low 16 bits."""
    name: str | None
    """pcapng if_name; None for pcap or when absent."""
    ts_per_second: int
    """Time-stamp units per second: 10**6 (µs, the default), 10**9, 2**n (if_tsresol)."""
    snaplen: int
    """Snapshot length from the file (0 = unlimited in pcapng)."""
    tsoffset: int = 0
    """if_tsoffset: seconds added to every time stamp of this interface."""
    fcslen: int | None = None
    """FCS bytes at the end of each packet (if_fcslen, or the pcap F bit), None if unknown."""
    description: str | None = None
    """pcapng if_description."""
    section: int = 0
    """Number of the pcapng section that declared the interface (0-based)."""


class Capture:
    """An open capture file; iterate it for `Frame` tuples (once, streaming)."""

    def __init__(self, name: str, fmt: str) -> None:
        self.name = name
        self.format = fmt
        self.interfaces: list[Interface] = []
        self.section_comments: list[str] = []
        self.warnings: list[str] = []
        self._frames: Generator[Frame, None, None] | None = None
        self.source: Source | None = None  # set by open_capture
        self._closers: list[IO[bytes]] = []

    def __iter__(self) -> Generator[Frame, None, None]:
        # The generator itself is returned, so that `for` calls its C-level
        # __next__ directly: no Python frame of ours per packet.
        if self._frames is None:
            return iter(())
        return self._frames

    def __next__(self) -> Frame:
        if self._frames is None:
            raise StopIteration
        return next(self._frames)

    def stop_reading(self) -> None:
        """End the data here (Ctrl-C): what is already read is still handed out, then
        iteration ends. Safe from a signal handler: it only sets a flag."""
        if self.source is not None:
            self.source.eof = True

    def close(self) -> None:
        if self._frames is not None:
            self._frames.close()
            self._frames = None
        for f in self._closers:
            f.close()
        self._closers.clear()

    def __enter__(self) -> Capture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Capture {self.name!r} {self.format} interfaces={len(self.interfaces)}>"


class Source:
    """Refills a byte buffer from a (possibly gzip-compressed) stream.

    Read errors and a damaged gzip stream end the data like EOF and are kept
    in `error`, so the format reader can fold them into its one warning.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw  # (its file offset: how far `dissect`'s progress bar has come)
        read1 = getattr(raw, "read1", None)
        # read1 returns what one read(2) gives: a pipe fed by a live capture
        # (`tcpdump -w - | netlab dissect -`) streams instead of waiting for a full MiB.
        self._raw_read = read1 if read1 is not None else raw.read
        self._read = self._raw_read
        self._inflater: zlib._Decompress | None = None
        self._pending = b""
        self.eof = False
        self.error: str | None = None

    def start_gunzip(self, head: bytes) -> None:
        """Decompress from here on; `head` is raw data already read."""
        self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._pending = head
        self._read = self._read_gzip

    def _read_gzip(self, size: int) -> bytes:
        while True:
            inflater = self._inflater
            assert inflater is not None
            if inflater.eof:
                rest = inflater.unused_data + self._pending
                self._pending = b""
                if not rest:
                    rest = self._raw_read(CHUNK_SIZE)
                if not rest or rest.strip(b"\0") == b"":
                    return b""  # zero padding after the last member is common
                if rest[:2] != GZIP_MAGIC:
                    self.error = "data after the end of the gzip stream ignored"
                    return b""
                # `cat a.gz b.gz` is a valid gzip file: one member after another.
                inflater = self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self._pending = rest
            data = self._pending or self._raw_read(CHUNK_SIZE)
            if not data:
                self.error = "gzip stream cut short"
                return b""
            # max_length bounds what one call inflates (a deflate bomb expands 1000x).
            out = inflater.decompress(data, size)
            self._pending = inflater.unconsumed_tail
            if out:
                return out

    def read(self, size: int) -> bytes:
        """Up to `size` bytes; b"" at the end of data or after an error."""
        if self.eof:
            return b""
        try:
            data = self._read(size)
        except (OSError, zlib.error, EOFError, ValueError) as exc:
            self.error = _describe(exc)
            data = b""
        if not data:
            self.eof = True
        return data

    def refill(self, buf: bytes, pos: int, need: int) -> bytes:
        """buf[pos:] plus new data, holding at least `need` bytes unless the data ends."""
        parts = [buf[pos:]]
        have = len(parts[0])
        while have < need and not self.eof:
            chunk = self.read(max(CHUNK_SIZE, need - have))
            parts.append(chunk)
            have += len(chunk)
        return b"".join(parts)

    def skip_note(self) -> str:
        """Text to append to a warning when a read error caused it."""
        return f" ({self.error})" if self.error else ""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"read error: {exc.strerror}"
    text = " ".join(str(exc).split())
    if isinstance(exc, zlib.error):
        return f"corrupt gzip data: {text}"
    return f"read error: {text or type(exc).__name__}"
