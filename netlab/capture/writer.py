"""pcapng writer: one SHB, IDBs on demand, one EPB per packet.

Each block is assembled in memory and handed to a single `write()`, so an
interrupted command (Ctrl-C during `-w`) leaves a file that ends on a block
boundary, or at worst with one incomplete block that readers report as
truncated. Interfaces use if_tsresol=9 by default so nanosecond time stamps
survive exactly.
"""

from __future__ import annotations

import os
import struct
from typing import IO

import netlab
from netlab.capture.pcapng import (
    BT_EPB,
    BT_IDB,
    BT_SHB,
    BYTE_ORDER_MAGIC,
    IF_NAME,
    IF_TSRESOL,
    OPT_COMMENT,
    OPT_ENDOFOPT,
    SHB_USERAPPL,
)

_EPB_FIXED = struct.Struct("<IIIIIII")  # type, length, interface, ts high, ts low, caplen, wirelen
_U32 = struct.Struct("<I")
_PAD = (b"", b"\0\0\0", b"\0\0", b"\0")  # indexed by len % 4


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + _PAD[len(value) & 3]


def _options(opts: list[bytes]) -> bytes:
    # opt_endofopt is only written when there are options (it may be omitted otherwise).
    return (b"".join(opts) + struct.pack("<HH", OPT_ENDOFOPT, 0)) if opts else b""


def _block(btype: int, body: bytes) -> bytes:
    total = 12 + len(body)
    return struct.pack("<II", btype, total) + body + _U32.pack(total)


class PcapngWriter:
    """Write a pcapng file (little-endian, one section).

    `dest` is a path or a binary file object; a path is opened (and closed) by
    the writer, a file object is left open. With `autoflush=True` each block is
    flushed to the OS as it is written (for files watched while they grow).
    """

    def __init__(
        self,
        dest: str | os.PathLike[str] | IO[bytes],
        *,
        comment: str | None = None,
        autoflush: bool = False,
    ) -> None:
        if isinstance(dest, (str, os.PathLike)):
            self._file: IO[bytes] = open(dest, "wb")  # noqa: SIM115 - closed by close()
            self._owned = True
        else:
            self._file = dest
            self._owned = False
        self._autoflush = autoflush
        self._ns: list[bool] = []  # per interface: time stamps in ns (else µs)
        self._snaplen: list[int] = []
        self.packets = 0
        opts = [_option(SHB_USERAPPL, f"netlab {netlab.__version__}".encode())]
        if comment is not None:
            opts.insert(0, _option(OPT_COMMENT, comment.encode()))
        # major 1, minor 0, section length -1 (not computed: we stream).
        body = struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1) + _options(opts)
        self._write(_block(BT_SHB, body))

    def _write(self, block: bytes) -> None:
        self._file.write(block)
        if self._autoflush:
            self._file.flush()

    def add_interface(
        self,
        linktype: int,
        name: str | None = None,
        snaplen: int = 262144,
        tsresol_ns: bool = True,
    ) -> int:
        """Write an IDB; return the interface id to pass to `write_packet`."""
        opts = []
        if name is not None:
            opts.append(_option(IF_NAME, name.encode()))
        if tsresol_ns:
            opts.append(_option(IF_TSRESOL, b"\x09"))  # 10**-9 s
        body = struct.pack("<HHI", linktype & 0xFFFF, 0, snaplen) + _options(opts)
        self._write(_block(BT_IDB, body))
        self._ns.append(tsresol_ns)
        self._snaplen.append(snaplen)
        return len(self._ns) - 1

    def write_packet(
        self,
        data: bytes,
        ts_ns: int,
        interface: int = 0,
        wirelen: int | None = None,
        comment: str | None = None,
    ) -> None:
        """Write one EPB. Data longer than the interface's snaplen is cut to it."""
        if not 0 <= interface < len(self._ns):
            raise ValueError(f"interface {interface} was not added (have {len(self._ns)})")
        if ts_ns < 0:
            raise ValueError("pcapng time stamps cannot be before 1970")
        if wirelen is None:
            wirelen = len(data)
        snaplen = self._snaplen[interface]
        if snaplen and len(data) > snaplen:
            data = data[:snaplen]
        units = ts_ns if self._ns[interface] else ts_ns // 1000
        caplen = len(data)
        pad = _PAD[caplen & 3]
        opts = b"" if comment is None else _options([_option(OPT_COMMENT, comment.encode())])
        total = 32 + caplen + len(pad) + len(opts)
        head = _EPB_FIXED.pack(
            BT_EPB, total, interface, units >> 32, units & 0xFFFFFFFF, caplen, wirelen
        )
        self._write(b"".join((head, data, pad, opts, _U32.pack(total))))
        self.packets += 1

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if self._file.closed:
            return
        if self._owned:
            self._file.close()
        else:
            self._file.flush()

    def __enter__(self) -> PcapngWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
