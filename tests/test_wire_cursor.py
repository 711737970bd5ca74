"""wire/cursor.py: the bounded reader that TLS's and AMF0's parsers share.

Each parser keeps its own error and its own words for a short read (they reach the
dissector's "[Malformed: …]" text), and the reads agree on byte order and position.
"""

from __future__ import annotations

import pytest

from netlab.wire import amf0, tls


def test_reads_are_big_endian_and_advance():
    r = tls.Reader(bytes(range(1, 11)), "test")
    assert (r.u8(), r.u16(), r.u24()) == (0x01, 0x0203, 0x040506)
    assert r.pos == 6 and r.left == 4
    assert r.take(2) == b"\x07\x08" and r.left == 2
    a = amf0._Reader(bytes(range(1, 11)), 2, 8)  # a slice: bytes 2..8
    assert (a.u16(), a.u32()) == (0x0304, 0x05060708)
    assert a.left == 0


def test_a_short_read_raises_the_parsers_own_error():
    with pytest.raises(tls.TlsError, match=r"^alpn: truncated \(5 bytes needed at 2, 2 left\)$"):
        tls.Reader(b"\x00\x05ab", "alpn").vec(2)
    with pytest.raises(tls.TlsError, match="needed at 0"):
        tls.Reader(b"", "x").take(-1)  # a negative length is refused, not read backwards
    with pytest.raises(amf0.AmfError, match=r"^AMF0 truncated at byte 1 \(4 bytes needed\)$"):
        r = amf0._Reader(b"\x00\x01\x02\x03\x04\x05", 0, 4)
        r.u8()
        r.u32()  # the slice ends at 4, not at the data's end
