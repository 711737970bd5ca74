"""pcapng reader (draft-ietf-opsawg-pcapng).

Every block is Block Type, Block Total Length, body, Block Total Length again;
lengths are multiples of 4. A Section Header Block (SHB) starts a section, sets
its byte order and resets its interfaces; Interface Description Blocks (IDB)
declare interfaces; packets come in Enhanced (EPB), Simple (SPB) and obsolete
Packet Blocks (OPB, type 2). Other blocks (NRB, ISB, DSB, custom, …) are
checked for framing and skipped.

Interface ids in packet blocks are per section; `Frame.interface` is the index
into `Capture.interfaces`, which collects the interfaces of all sections in file
order, so `cap.interfaces[frame.interface]` is always the packet's interface.
(Wireshark 4.0 prints the section-local id as frame.interface_id and the first
section's interface name for packets of later sections; single-section files,
nearly all of them, number the same either way.)

The EPB is decoded inline in the generator (one unpack of the 28-byte block
head, one slice); anything else — other blocks, an EPB that straddles the
buffer end, any failed check — takes `_Reader.next_block`, the one careful path
that frames, validates and explains.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Generator

from netlab.capture.records import MAX_CAPLEN, Capture, CaptureFormatError, Frame, Interface, Source

SHB_MAGIC = b"\x0a\x0d\x0d\x0a"

BT_SHB = 0x0A0D0D0A  # palindromic: recognisable before the byte order is known
BT_IDB = 0x00000001
BT_OPB = 0x00000002  # obsolete Packet Block
BT_SPB = 0x00000003
BT_NRB = 0x00000004
BT_ISB = 0x00000005
BT_EPB = 0x00000006
BT_DSB = 0x0000000A
PACKET_BLOCKS = frozenset((BT_EPB, BT_SPB, BT_OPB))

BYTE_ORDER_MAGIC = 0x1A2B3C4D
_BOM_TO_ORDER = {b"\x1a\x2b\x3c\x4d": ">", b"\x4d\x3c\x2b\x1a": "<"}

OPT_ENDOFOPT = 0
OPT_COMMENT = 1
SHB_HARDWARE = 2
SHB_OS = 3
SHB_USERAPPL = 4
IF_NAME = 2
IF_DESCRIPTION = 3
IF_TSRESOL = 9
IF_FCSLEN = 13
IF_TSOFFSET = 14

MIN_BLOCK = 12  # type, length, trailing length
MIN_SHB = 28  # + byte-order magic, major, minor, section length
MIN_IDB = 20  # + linktype, reserved, snaplen
MIN_EPB = 32  # + interface id, ts high, ts low, caplen, wirelen
MIN_OPB = 32  # + interface id (16), drops count (16), ts high, ts low, caplen, wirelen
MIN_SPB = 16  # + wirelen
EPB_HEAD = 28  # bytes before the packet data
MAX_BLOCK = 16 << 20
"""Largest block buffered: a maximal packet plus generous options. Larger means damage."""

_NS = 1_000_000_000


def _byte_order(bom: bytes) -> str | None:
    return _BOM_TO_ORDER.get(bom)


def open_pcapng(name: str, src: Source, head: bytes) -> Capture:
    """Check the first SHB, read up to the first packet, attach the generator."""
    cap = Capture(name, "pcapng")
    buf = src.refill(head, 0, MIN_BLOCK)
    if len(buf) >= MIN_BLOCK:
        order = _byte_order(buf[8:12])
        if order is None:
            raise CaptureFormatError(
                f"{name!r} starts like pcapng but its byte-order magic is 0x{buf[8:12].hex()}"
            )
        if len(buf) >= 16:
            major, minor = struct.unpack_from(order + "HH", buf, 12)
            if major != 1:
                raise CaptureFormatError(
                    f"{name!r} is pcapng version {major}.{minor}, which is not supported"
                )
    else:
        order = "<"  # too short to say; the reader reports the truncation
    rd = _Reader(cap, src, buf, order)
    # Read the SHB and IDBs now, so that `interfaces` and `section_comments`
    # are filled in before the first frame is asked for.
    while not rd.done and not rd.at_packet():
        rd.next_block()
    cap._frames = _frames(rd)
    return cap


class _Reader:
    """Framing, validation and the rare block types; state of the current section."""

    def __init__(self, cap: Capture, src: Source, buf: bytes, order: str) -> None:
        self.cap = cap
        self.src = src
        self.buf = buf
        self.pos = 0
        self.base = 0  # file offset of buf[0]
        self.count = 0  # frames produced so far (fast path included)
        self.done = False
        self.section = -1
        # Section-local interfaces: (index in cap.interfaces, linktype, mul, div,
        # tsoffset in ns, snaplen); ts_ns = units * mul // div + offset.
        self.ifaces: list[tuple[int, int, int, int, int, int]] = []
        # The same for the generator's fast path: (index, linktype, mul) when the
        # conversion is a plain multiplication (µs, ns: the usual), else None.
        self.fast_ifaces: list[tuple[int, int, int] | None] = []
        self._options_warned = False
        self._set_order(order)

    def _set_order(self, order: str) -> None:
        self.order = order
        self.unpack_head = struct.Struct(order + "II").unpack_from
        self.unpack_epb = struct.Struct(order + "IIIIIII").unpack_from
        self.unpack_u32 = struct.Struct(order + "I").unpack_from
        self.unpack_u16x2 = struct.Struct(order + "HH").unpack_from

    # -- ending -------------------------------------------------------------

    def _stop(self, what: str, detail: str) -> None:
        self.done = True
        self.cap.warnings.append(
            f"{what} at byte {self.base + self.pos} after {self.count} packets: {detail}"
            + self.src.skip_note()
        )

    def _end(self) -> None:
        self.done = True
        if self.src.error:
            self.cap.warnings.append(
                f"reading stopped at byte {self.base + self.pos} after {self.count} packets: "
                f"{self.src.error}"
            )

    def _fill(self, need: int) -> bool:
        """Make `need` bytes from pos available in buf; False if the data ends first."""
        if self.pos + need <= len(self.buf):
            return True
        self.base += self.pos
        self.buf = self.src.refill(self.buf, self.pos, need)
        self.pos = 0
        return need <= len(self.buf)

    # -- framing --------------------------------------------------------------

    def at_packet(self) -> bool:
        """Is the next block a packet block? (Stops the open-time read-ahead.)"""
        if not self._fill(8):
            return False  # next_block will report the end
        return self.unpack_head(self.buf, self.pos)[0] in PACKET_BLOCKS

    def next_block(self) -> Frame | None:
        """Consume one block; return its Frame if it is a packet block.

        Sets `done` (with at most one warning) at the end of data or on damage.
        """
        if not self._fill(8):
            have = len(self.buf) - self.pos
            if have:
                self._stop("truncated block", f"needed {MIN_BLOCK} bytes, have {have}")
            else:
                self._end()
            return None
        buf, pos = self.buf, self.pos
        btype, blen = self.unpack_head(buf, pos)
        if btype == BT_SHB:
            # The SHB carries its own byte order, which the length is written in.
            if not self._fill(MIN_BLOCK):
                self._stop("truncated block", f"needed {MIN_BLOCK} bytes, have {len(self.buf)}")
                return None
            buf, pos = self.buf, self.pos
            order = _byte_order(buf[pos + 8 : pos + 12])
            if order is None:
                bom = buf[pos + 8 : pos + 12].hex()
                self._stop("corrupt block", f"section header byte-order magic is 0x{bom}")
                return None
            self._set_order(order)
            blen = self.unpack_u32(buf, pos + 4)[0]
        if blen & 3 or blen < MIN_BLOCK:
            self._stop(
                "corrupt block",
                f"block type 0x{btype:08x} has total length {blen} (must be a multiple of 4, "
                f">= {MIN_BLOCK})",
            )
            return None
        if blen > MAX_BLOCK:
            self._stop("corrupt block", f"block type 0x{btype:08x} has total length {blen}")
            return None
        if not self._fill(blen):
            need, have = blen, len(self.buf) - self.pos
            self._stop("truncated block", f"needed {need} bytes, have {have}")
            return None
        buf, pos = self.buf, self.pos
        trailer = self.unpack_u32(buf, pos + blen - 4)[0]
        if trailer != blen:
            self._stop(
                "corrupt block",
                f"block type 0x{btype:08x}: trailing total length {trailer} != leading {blen}",
            )
            return None
        frame = None
        if btype in (BT_EPB, BT_OPB):
            frame = self._packet(btype, buf, pos, blen)
        elif btype == BT_SPB:
            frame = self._simple_packet(buf, pos, blen)
        elif btype == BT_IDB:
            self._interface(buf, pos, blen)
        elif btype == BT_SHB:
            self._section(buf, pos, blen)
        # NRB, ISB, DSB, custom and unknown blocks: framing checked, content skipped.
        if self.done:
            return None
        self.pos = pos + blen
        if frame is not None:
            self.count += 1
        return frame

    # -- block bodies ---------------------------------------------------------

    def _options(self, buf: bytes, start: int, end: int) -> list[tuple[int, bytes]]:
        """(code, value) pairs from start up to opt_endofopt or end."""
        out: list[tuple[int, bytes]] = []
        unpack = self.unpack_u16x2
        while start + 4 <= end:
            code, length = unpack(buf, start)
            if code == OPT_ENDOFOPT:
                break
            value_end = start + 4 + length
            if value_end > end:
                # Damaged options do not make the packet unusable: keep it, say so once.
                if not self._options_warned:
                    self._options_warned = True
                    self.cap.warnings.append(
                        f"malformed options ignored in the block at byte {self.base + self.pos}: "
                        f"option {code} has length {length}, the block has {end - start - 4} left"
                    )
                break
            out.append((code, buf[start + 4 : value_end]))
            start += 4 + ((length + 3) & ~3)
        return out

    def packet_comment(self, buf: bytes, start: int, end: int) -> str | None:
        comments = [
            value.decode("utf-8", "replace")
            for code, value in self._options(buf, start, end)
            if code == OPT_COMMENT
        ]
        return "\n".join(comments) if comments else None

    def _section(self, buf: bytes, pos: int, blen: int) -> None:
        if blen < MIN_SHB:
            self._stop("corrupt block", f"section header total length {blen} < {MIN_SHB}")
            return
        major, minor = self.unpack_u16x2(buf, pos + 12)
        if major != 1:
            # The spec lets a reader skip a section it cannot read, but a later
            # section's interfaces would be numbered differently from Wireshark's.
            self._stop("unsupported section", f"pcapng version {major}.{minor}")
            return
        self.section += 1
        self.ifaces = []
        self.fast_ifaces = []
        for code, value in self._options(buf, pos + 24, pos + blen - 4):
            if code == OPT_COMMENT:
                self.cap.section_comments.append(value.decode("utf-8", "replace"))

    def _interface(self, buf: bytes, pos: int, blen: int) -> None:
        if blen < MIN_IDB:
            self._stop("corrupt block", f"interface description total length {blen} < {MIN_IDB}")
            return
        linktype = self.unpack_u16x2(buf, pos + 8)[0]
        snaplen = self.unpack_u32(buf, pos + 12)[0]
        name = description = fcslen = None
        per_second = 1_000_000  # if_tsresol absent: microseconds
        tsoffset = 0
        for code, value in self._options(buf, pos + 16, pos + blen - 4):
            if code == IF_NAME:
                name = value.decode("utf-8", "replace")
            elif code == IF_DESCRIPTION:
                description = value.decode("utf-8", "replace")
            elif code == IF_TSRESOL and value:
                # MSB clear: 10**-n seconds; MSB set: 2**-n seconds.
                exp = value[0] & 0x7F
                per_second = 2**exp if value[0] & 0x80 else 10**exp
            elif code == IF_FCSLEN and value:
                fcslen = value[0]
            elif code == IF_TSOFFSET and len(value) == 8:
                tsoffset = struct.unpack(self.order + "q", value)[0]
        gcd = math.gcd(_NS, per_second)
        index, mul, div = len(self.cap.interfaces), _NS // gcd, per_second // gcd
        self.ifaces.append((index, linktype, mul, div, tsoffset * _NS, snaplen))
        self.fast_ifaces.append((index, linktype, mul) if div == 1 and tsoffset == 0 else None)
        self.cap.interfaces.append(
            Interface(
                linktype, name, per_second, snaplen, tsoffset, fcslen, description, self.section
            )
        )

    def _iface(self, iface: int, kind: str) -> tuple[int, int, int, int, int, int] | None:
        if iface < len(self.ifaces):
            return self.ifaces[iface]
        self._stop(
            "corrupt block",
            f"{kind} refers to interface {iface}, the section declares {len(self.ifaces)}",
        )
        return None

    def _packet(self, btype: int, buf: bytes, pos: int, blen: int) -> Frame | None:
        kind = "enhanced packet block" if btype == BT_EPB else "packet block"
        if blen < MIN_EPB:
            self._stop("corrupt block", f"{kind} total length {blen} < {MIN_EPB}")
            return None
        _, _, iface, ts_hi, ts_lo, caplen, wirelen = self.unpack_epb(buf, pos)
        if btype == BT_OPB:
            iface = self.unpack_u16x2(buf, pos + 8)[0]  # interface id, drops count
        info = self._iface(iface, kind)
        if info is None:
            return None
        if caplen > blen - MIN_EPB:
            self._stop("corrupt block", f"{kind} captured length {caplen} exceeds its block")
            return None
        if caplen > MAX_CAPLEN:
            self._stop("corrupt block", f"{kind} captured length {caplen} exceeds {MAX_CAPLEN}")
            return None
        index, linktype, mul, div, offset, _ = info
        data = buf[pos + EPB_HEAD : pos + EPB_HEAD + caplen]
        comment = self.packet_comment(buf, pos + EPB_HEAD + ((caplen + 3) & ~3), pos + blen - 4)
        ts_ns = ((ts_hi << 32) | ts_lo) * mul // div + offset
        return Frame(ts_ns, caplen, wirelen, linktype, data, index, comment)

    def _simple_packet(self, buf: bytes, pos: int, blen: int) -> Frame | None:
        if blen < MIN_SPB:
            self._stop("corrupt block", f"simple packet block total length {blen} < {MIN_SPB}")
            return None
        # An SPB belongs to the section's first interface and has no time stamp;
        # its captured length is min(original length, that interface's snaplen).
        info = self._iface(0, "simple packet block")
        if info is None:
            return None
        index, linktype, _, _, _, snaplen = info
        wirelen = self.unpack_u32(buf, pos + 8)[0]
        caplen = min(wirelen, snaplen) if snaplen else wirelen
        if caplen > blen - MIN_SPB:
            self._stop(
                "corrupt block", f"simple packet block captured length {caplen} exceeds its block"
            )
            return None
        if caplen > MAX_CAPLEN:
            self._stop("corrupt block", f"simple packet captured length {caplen} > {MAX_CAPLEN}")
            return None
        data = buf[pos + 12 : pos + 12 + caplen]
        return Frame(0, caplen, wirelen, linktype, data, index, None)


def _frames(rd: _Reader) -> Generator[Frame, None, None]:
    """The per-packet loop: runs of well-formed EPBs through the fast path (_epbs), in
    batches; anything else one block at a time through the careful one."""
    next_block = rd.next_block
    batch: list[Frame] = []
    while not rd.done:
        _epbs(rd, batch)
        if batch:
            yield from batch
            batch.clear()
            continue
        frame = next_block()
        if frame is not None:
            yield frame


BATCH = 256
"""Frames the fast path reads ahead of the consumer (bounded: memory, a live pipe)."""


def _epbs(rd: _Reader, out: list) -> None:
    """Append to OUT (up to BATCH) the Frames of the whole, sane EPBs from rd.pos on in
    the buffer, and move past them; stop at anything else (another block type, options
    other than comments, a block cut by the buffer's end, an interface whose times need
    more than a multiplication), which the careful path reads. pcapng.pxd gives this
    loop C types: it runs for nearly every packet of a file."""
    new = tuple.__new__  # skips NamedTuple.__new__'s Python frame
    head, least, most = EPB_HEAD, MIN_EPB, MAX_CAPLEN  # (local: C integers when compiled)
    buf, pos = rd.buf, rd.pos
    buflen = len(buf)
    unpack_epb = rd.unpack_epb
    fast = rd.fast_ifaces
    nfast = len(fast)
    while pos + head <= buflen and len(out) < BATCH:
        btype, blen, iface, ts_hi, ts_lo, caplen, wirelen = unpack_epb(buf, pos)
        end = pos + blen
        spare = blen - caplen  # 32..35 without options (fixed part + padding)
        if (
            btype != BT_EPB
            or end > buflen
            or blen & 3
            or spare < least
            or caplen > most
            or iface >= nfast
            or not _same_u32(buf, end - 4, pos + 4)  # the trailing length
        ):
            break
        info = fast[iface]
        if info is None:
            break  # fractional units or an offset: the careful path converts
        index, linktype, mul = info
        comment = None
        if spare > least + 3:
            rd.pos = pos  # for the position in a malformed-options warning
            comment = rd.packet_comment(buf, pos + head + ((caplen + 3) & ~3), end - 4)
        out.append(
            new(
                Frame,
                (
                    ((ts_hi << 32) | ts_lo) * mul,
                    caplen,
                    wirelen,
                    linktype,
                    buf[pos + head : pos + head + caplen],
                    index,
                    comment,
                ),
            )
        )
        pos = end
    rd.pos = pos
    rd.count += len(out)


def _same_u32(buf: bytes, a: int, b: int) -> bool:
    """Whether buf holds the same 4 bytes at A and B (a block's two length fields, in
    whatever byte order: byte by byte, no objects made, once compiled)."""
    return (
        buf[a] == buf[b]
        and buf[a + 1] == buf[b + 1]
        and buf[a + 2] == buf[b + 2]
        and buf[a + 3] == buf[b + 3]
    )
