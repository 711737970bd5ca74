"""wire/hpack.py: RFC 7541 Appendix C to the byte, faults as one-line errors, and a round
trip against python-hyper's `hpack.Encoder` (with `hpack.Decoder` as a second opinion)."""

from __future__ import annotations

import hpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netlab.wire.hpack import (
    INDEXED,
    LITERAL_INCREMENTAL,
    LITERAL_NEVER_INDEXED,
    LITERAL_WITHOUT_INDEXING,
    DynamicTable,
    HpackError,
    HpackField,
    SizeUpdate,
    decode_block,
)

INC, WITHOUT, NEVER = LITERAL_INCREMENTAL, LITERAL_WITHOUT_INDEXING, LITERAL_NEVER_INDEXED


def block(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


def check(data: bytes, table: DynamicTable, fields, entries, size: int) -> None:
    """Decode one block; compare (name, value, representation, index, name_huffman,
    value_huffman) per field, then the table's entries (newest first, with each entry's
    RFC size) and its size. hpack.Decoder must agree on the header list."""
    got = decode_block(data, table)
    assert [(f.name, f.value, f.representation, f.index, f.name_huffman, f.value_huffman)
            for f in got.fields] == fields  # fmt: skip
    assert [(n, v, len(n) + len(v) + 32) for n, v in table.entries] == entries
    assert table.size == size
    assert got.length == len(data)
    # the representations tile the block
    pos = 0
    for item in got.items:
        assert item.offset == pos
        pos += item.length
    assert pos == len(data)


# --- RFC 7541 Appendix C ------------------------------------------------------------------
def test_c2_1_literal_with_indexing():
    t = DynamicTable()
    data = block("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572")
    check(data, t, [("custom-key", "custom-header", INC, None, False, False)],
          [("custom-key", "custom-header", 55)], 55)  # fmt: skip


def test_c2_2_literal_without_indexing():
    t = DynamicTable()
    check(block("040c 2f73 616d 706c 652f 7061 7468"), t,
          [(":path", "/sample/path", WITHOUT, 4, None, False)], [], 0)  # fmt: skip


def test_c2_3_literal_never_indexed():
    t = DynamicTable()
    check(block("1008 7061 7373 776f 7264 0673 6563 7265 74"), t,
          [("password", "secret", NEVER, None, False, False)], [], 0)  # fmt: skip


def test_c2_4_indexed():
    t = DynamicTable()
    check(block("82"), t, [(":method", "GET", INDEXED, 2, None, None)], [], 0)


def _requests(huffman: bool) -> list[bytes]:
    if huffman:  # C.4
        return [
            block("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"),
            block("8286 84be 5886 a8eb 1064 9cbf"),
            block("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"),
        ]
    return [  # C.3
        block("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"),
        block("8286 84be 5808 6e6f 2d63 6163 6865"),
        block("8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65"),
    ]


@pytest.mark.parametrize("huffman", [False, True], ids=["C.3", "C.4"])
def test_c3_c4_requests(huffman):
    t = DynamicTable()
    h = huffman
    first, second, third = _requests(huffman)
    common = [(":method", "GET", INDEXED, 2, None, None),
              (":scheme", "http", INDEXED, 6, None, None),
              (":path", "/", INDEXED, 4, None, None)]  # fmt: skip
    authority = (":authority", "www.example.com", 57)
    check(first, t, [*common, (":authority", "www.example.com", INC, 1, None, h)],
          [authority], 57)  # fmt: skip
    cache = ("cache-control", "no-cache", 53)
    check(second, t, [*common, (":authority", "www.example.com", INDEXED, 62, None, None),
                      ("cache-control", "no-cache", INC, 24, None, h)],
          [cache, authority], 110)  # fmt: skip
    check(third, t, [(":method", "GET", INDEXED, 2, None, None),
                     (":scheme", "https", INDEXED, 7, None, None),
                     (":path", "/index.html", INDEXED, 5, None, None),
                     (":authority", "www.example.com", INDEXED, 63, None, None),
                     ("custom-key", "custom-value", INC, None, h, h)],
          [("custom-key", "custom-value", 54), cache, authority], 164)  # fmt: skip


def _responses(huffman: bool) -> list[bytes]:
    if huffman:  # C.6
        return [
            block("""4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0
                     82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3"""),
            block("4883 640e ffc1 c0bf"),
            block("""88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b
                     d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27
                     0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07"""),
        ]
    return [  # C.5
        block("""4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230
                 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65
                 7861 6d70 6c65 2e63 6f6d"""),
        block("4803 3330 37c1 c0bf"),
        block("""88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220
                 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157
                 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076
                 6572 7369 6f6e 3d31"""),
    ]


@pytest.mark.parametrize("huffman", [False, True], ids=["C.5", "C.6"])
def test_c5_c6_responses_evict(huffman):
    t = DynamicTable(256)
    h = huffman
    first, second, third = _responses(huffman)
    date1 = "Mon, 21 Oct 2013 20:13:21 GMT"
    loc = "https://www.example.com"
    check(first, t, [(":status", "302", INC, 8, None, h),
                     ("cache-control", "private", INC, 24, None, h),
                     ("date", date1, INC, 33, None, h), ("location", loc, INC, 46, None, h)],
          [("location", loc, 63), ("date", date1, 65), ("cache-control", "private", 52),
           (":status", "302", 42)], 222)  # fmt: skip
    check(second, t, [(":status", "307", INC, 8, None, h),
                      ("cache-control", "private", INDEXED, 65, None, None),
                      ("date", date1, INDEXED, 64, None, None),
                      ("location", loc, INDEXED, 63, None, None)],
          [(":status", "307", 42), ("location", loc, 63), ("date", date1, 65),
           ("cache-control", "private", 52)], 222)  # fmt: skip
    date2 = "Mon, 21 Oct 2013 20:13:22 GMT"
    cookie = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"
    check(third, t, [(":status", "200", INDEXED, 8, None, None),
                     ("cache-control", "private", INDEXED, 65, None, None),
                     ("date", date2, INC, 33, None, h),
                     ("location", loc, INDEXED, 64, None, None),
                     ("content-encoding", "gzip", INC, 26, None, h),
                     ("set-cookie", cookie, INC, 55, None, h)],
          [("set-cookie", cookie, 98), ("content-encoding", "gzip", 52), ("date", date2, 65)],
          215)  # fmt: skip


@pytest.mark.parametrize("huffman", [False, True])
def test_appendix_c_agrees_with_hpack_decoder(huffman):
    for blocks, size in ((_requests(huffman), 4096), (_responses(huffman), 256)):
        ours, theirs = DynamicTable(size), hpack.Decoder()
        theirs.header_table_size = size
        for data in blocks:
            mine = [(f.name, f.value) for f in decode_block(data, ours).fields]
            assert mine == [(n, v) for n, v in theirs.decode(data)]


# --- faults -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\xff" + b"\xff" * 6 + b"\x01", "continuation bytes"),  # integer overflow
        (b"\xff\xff", "cut short"),  # integer cut short
        (b"\x40\x0acustom", "runs past the block"),  # truncated string
        (b"\x40", "string expected"),  # no name at all
        (b"\x40\x81\x18", "Huffman"),  # padding not all ones ('a' + 000)
        (b"\x40\x82\x1f\xff", "Huffman"),  # padding longer than 7 bits
        (b"\x40\x84\xff\xff\xff\xff", "Huffman"),  # EOS
        (b"\x80", "index 0"),
        (b"\xbe", "not in the table"),  # 62 with an empty dynamic table
        (b"\x7f\x00\x01a\x01b", "not in the table"),  # literal name index 63
        (b"\x3f\xe2\x1f", "exceeds the limit"),  # size update to 4097 > 4096
        (b"\x82\x20", "after a header field"),  # size update not at the start
    ],
)
def test_faults_are_one_line_errors(data, words):
    with pytest.raises(HpackError) as err:
        decode_block(data, DynamicTable())
    assert words in str(err.value) and "\n" not in str(err.value)


def test_limits():
    with pytest.raises(HpackError, match="more than 4 header fields"):
        decode_block(b"\x82" * 5, DynamicTable(), max_fields=4)
    literal = b"\x40\x0acustom-key\x0dcustom-header"
    with pytest.raises(HpackError, match="limit 5"):
        decode_block(literal, DynamicTable(), max_string=5)
    assert decode_block(b"\x82" * 4, DynamicTable(), max_fields=4).length == 4


def test_size_updates_at_the_start_evict_and_are_kept():
    t = DynamicTable()
    decode_block(block("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"), t)
    assert t.size == 55
    got = decode_block(b"\x20\x3f\x11\x82", t)  # to 0 (evicts all), to 48, then a field
    assert got.items[:2] == [SizeUpdate(0, 0, 1), SizeUpdate(48, 1, 2)]
    assert t.entries == [] and t.max_size == 48
    assert got.fields == [HpackField(":method", "GET", INDEXED, 2, None, None, 3, 1)]
    t.set_limit(32)  # SETTINGS_HEADER_TABLE_SIZE lowered: a larger update is refused
    assert t.max_size == 32
    with pytest.raises(HpackError, match="exceeds the limit 32"):
        decode_block(b"\x3f\x02", t)


def test_entry_larger_than_the_table_empties_it():
    t = DynamicTable(64)
    t.add("a", "b")
    t.add("x" * 40, "y")
    assert t.entries == [] and t.size == 0


def test_http1_size_rule():
    got = decode_block(block("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"), DynamicTable())
    # "GET / HTTP/1.1\r\n" + "Host: www.example.com\r\n" + "\r\n"
    assert got.http1_size() == 16 + 23 + 2
    status = decode_block(b"\x88\x0f\x10\x03abc", DynamicTable())  # :status 200, content-type
    assert status.http1_size() == len("HTTP/1.1 200 OK\r\ncontent-type: abc\r\n\r\n")


# --- round trip against hpack.Encoder --------------------------------------------------------
HEADER_NAMES = st.sampled_from([":method", ":path", ":authority", ":status", "user-agent",
                                "accept", "content-type", "x-custom", "set-cookie",
                                "date"])  # fmt: skip
NAMES = HEADER_NAMES | st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12)
HEADER_LISTS = st.lists(
    st.lists(st.tuples(NAMES, st.text(max_size=40), st.booleans()), max_size=12),
    min_size=1, max_size=6,
)  # fmt: skip
SIZES = st.lists(st.sampled_from([None, 0, 100, 256, 4096]), min_size=6, max_size=6)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks=HEADER_LISTS, huffman=st.booleans(), sizes=SIZES)
def test_round_trip_against_hpack_encoder(blocks, huffman, sizes):
    enc = hpack.Encoder()
    ours = DynamicTable()
    for headers, size in zip(blocks, sizes, strict=False):
        if size is not None:
            enc.header_table_size = size  # the next block opens with a size update
        data = enc.encode([hpack.NeverIndexedHeaderTuple(n, v) if never else (n, v)
                           for n, v, never in headers], huffman=huffman)  # fmt: skip
        got = decode_block(data, ours)
        assert [(f.name, f.value) for f in got.fields] == [(n, v) for n, v, _ in headers]
        for f, (_n, _v, never) in zip(got.fields, headers, strict=True):
            if never and f.representation != INDEXED:  # (hpack indexes a full match)
                assert f.representation == LITERAL_NEVER_INDEXED
        theirs = [(n.decode(), v.decode()) for n, v in enc.header_table.dynamic_entries]
        assert ours.entries == theirs
        assert ours.max_size == enc.header_table.maxsize
        assert ours.size == enc.header_table._current_size


def test_fragment_by_fragment_as_frames_arrive():
    """HEADERS + CONTINUATION: each fragment decodes what ends in it; the tail of a
    representation cut by the frame boundary waits for the next fragment."""
    data = _requests(True)[0]  # C.4.1: 82 86 84 41 8c …
    whole = [(f.name, f.value) for f in decode_block(data, DynamicTable()).fields]
    for cut in range(len(data) + 1):
        t = DynamicTable()
        first = decode_block(data[:cut], t, final=False)
        rest = data[first.length :]
        second = decode_block(rest, t, continued=bool(first.fields))
        assert [(f.name, f.value) for f in first.fields + second.fields] == whole
        assert first.length <= cut and t.size == 57
    with pytest.raises(HpackError, match="after a header field"):
        decode_block(b"\x20", DynamicTable(), continued=True)
    with pytest.raises(HpackError, match="index 0"):  # other faults still raise at once
        decode_block(b"\x80", DynamicTable(), final=False)
