"""Classic pcap reader (draft-ietf-opsawg-pcap).

File header (24 bytes): magic, version_major, version_minor, thiszone (ignored,
as by libpcap and Wireshark), sigfigs, snaplen, linktype (LinkType + FCS bits).
Each record: ts_sec, ts_frac (µs, or ns with the 0xa1b23c4d magic), caplen,
wirelen, then caplen bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Generator

from netlab.capture.linktypes import LINKTYPE_MASK, pcap_fcs_len
from netlab.capture.records import MAX_CAPLEN, Capture, CaptureFormatError, Frame, Interface, Source

MAGIC_US_LE = b"\xd4\xc3\xb2\xa1"  # 0xa1b2c3d4 written little-endian
MAGIC_US_BE = b"\xa1\xb2\xc3\xd4"
MAGIC_NS_LE = b"\x4d\x3c\xb2\xa1"  # 0xa1b23c4d: fractions are nanoseconds
MAGIC_NS_BE = b"\xa1\xb2\x3c\x4d"
MAGICS: dict[bytes, tuple[str, int]] = {
    # magic bytes -> (struct byte order, nanoseconds per ts_frac unit)
    MAGIC_US_LE: ("<", 1000),
    MAGIC_US_BE: (">", 1000),
    MAGIC_NS_LE: ("<", 1),
    MAGIC_NS_BE: (">", 1),
}

FILE_HEADER_LEN = 24
RECORD_HEADER_LEN = 16


def open_pcap(name: str, src: Source, head: bytes) -> Capture:
    """Parse the file header and attach the record generator."""
    byteorder, frac_ns = MAGICS[head[:4]]
    cap = Capture(name, "pcap")
    buf = src.refill(head, 0, FILE_HEADER_LEN)
    if len(buf) < FILE_HEADER_LEN:
        # The magic says pcap, so this is a capture cut short, not a wrong file.
        cap.warnings.append(
            f"truncated file header at byte 0: needed {FILE_HEADER_LEN} bytes, have {len(buf)}"
            + src.skip_note()
        )
        return cap
    major, minor, _thiszone, _sigfigs, snaplen, linktype_field = struct.unpack_from(
        byteorder + "HHiIII", buf, 4
    )
    if major < 2:
        # libpcap calls this "archaic"; nothing writes it since 1998.
        raise CaptureFormatError(
            f"{name!r} is pcap version {major}.{minor}, which is not supported"
        )
    linktype = linktype_field & LINKTYPE_MASK
    per_second = 1_000_000_000 // frac_ns
    fcslen = pcap_fcs_len(linktype_field)
    cap.interfaces.append(Interface(linktype, None, per_second, snaplen, 0, fcslen))
    # Before 2.3, writers disagreed on the order of caplen and wirelen; libpcap and
    # Wireshark swap them when caplen > wirelen, and so do we.
    maybe_swapped = major == 2 and minor < 3
    cap._frames = _records(cap, src, buf, byteorder, frac_ns, linktype, maybe_swapped)
    return cap


def _records(
    cap: Capture,
    src: Source,
    buf: bytes,
    byteorder: str,
    frac_ns: int,
    linktype: int,
    maybe_swapped: bool,
) -> Generator[Frame, None, None]:
    """Yield every complete record, then stop with at most one warning."""
    unpack_header = struct.Struct(byteorder + "IIII").unpack_from
    new = tuple.__new__  # skips NamedTuple.__new__'s Python frame (~80 ns a packet)
    refill = src.refill
    pos = FILE_HEADER_LEN
    buflen = len(buf)
    base = 0  # file offset of buf[0], for messages
    count = 0
    problem = ""
    while True:
        if pos + RECORD_HEADER_LEN > buflen:
            base += pos
            buf = refill(buf, pos, RECORD_HEADER_LEN)
            pos = 0
            buflen = len(buf)
            if buflen < RECORD_HEADER_LEN:
                if buflen:
                    problem = f"truncated record: needed {RECORD_HEADER_LEN} bytes, have {buflen}"
                break
        ts_sec, ts_frac, caplen, wirelen = unpack_header(buf, pos)
        if caplen > wirelen and maybe_swapped:
            caplen, wirelen = wirelen, caplen
        if caplen > MAX_CAPLEN:
            problem = f"corrupt record: caplen {caplen} exceeds the {MAX_CAPLEN}-byte limit"
            break
        end = pos + RECORD_HEADER_LEN + caplen
        if end > buflen:
            need = RECORD_HEADER_LEN + caplen
            base += pos
            buf = refill(buf, pos, need)
            pos = 0
            buflen = len(buf)
            end = need
            if end > buflen:
                problem = f"truncated record: needed {need} bytes, have {buflen}"
                break
        yield new(
            Frame,
            (
                ts_sec * 1_000_000_000 + ts_frac * frac_ns,
                caplen,
                wirelen,
                linktype,
                buf[pos + RECORD_HEADER_LEN : end],
                0,
                None,
            ),
        )
        pos = end
        count += 1
    if problem:
        what, _, detail = problem.partition(": ")
        cap.warnings.append(
            f"{what} at byte {base + pos} after {count} packets: {detail}" + src.skip_note()
        )
    elif src.error:
        cap.warnings.append(
            f"reading stopped at byte {base + pos} after {count} packets: {src.error}"
        )
