"""BT-DHT's one-line info read straight off the bencode equals the tree decoder's.

dissect/bt_dht.py's `_quick_info` walks a KRPC message without building a Node per
value; where it is unsure it leaves the message to `bencode.decode_tree`. These
tests hold it to the tree's answer (the info, or None for damage) on KRPC-shaped
messages with every key the info reads, nested, repeated, cut and mutated.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from netlab.dissect import bt_dht
from netlab.wire import bencode

# Strings of the lengths the info counts (6/18: peers; 26/38: a node's size) and others.
_strings = st.one_of(
    st.sampled_from([6, 18, 26, 38, 52, 0, 1, 5, 7]).map(lambda n: b"\xab" * n),
    st.binary(max_size=40),
)
_keys = st.sampled_from([b"a", b"r", b"e", b"t", b"y", b"id", b"nodes", b"nodes6", b"values",
                         b"ip", b"q", b"token"])  # fmt: skip
_values = st.recursive(
    st.one_of(_strings, st.integers(-(10**12), 10**12)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.lists(st.tuples(_keys, inner), max_size=6),  # (pairs: unsorted, maybe repeated)
    ),
    max_leaves=25,
)


def _encode(value) -> bytes:
    """Bencode that keeps the pairs' order and repeats (decode_tree is lenient there)."""
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if value and isinstance(value[0], tuple):
        return b"d" + b"".join(_encode(k) + _encode(v) for k, v in value) + b"e"
    return b"l" + b"".join(_encode(v) for v in value) + b"e"


def _tree_columns(data: bytes):
    try:
        tree = bencode.decode_tree(data, strict=False)
    except bencode.BencodeError:
        return None
    parts: list[str] = []
    bt_dht._info(tree, parts)
    return "BT-DHT", bt_dht.TITLE + "".join(parts)


def _same(data: bytes) -> None:
    expected = _tree_columns(data)
    assert bt_dht._columns(data, 0, len(data)) == expected, data
    if expected is not None:  # what the tree reads, the walker reads too (no fallback)
        assert bt_dht._quick_info(data, 0, 0, []) == _tree_end(data), data


def _tree_end(data: bytes) -> int:
    return bencode.decode_tree(data, strict=False).end


@settings(max_examples=600, deadline=None)
@given(st.lists(st.tuples(_keys, _values), min_size=1, max_size=5))
def test_whole_messages(pairs):
    _same(_encode(pairs))


@settings(max_examples=600, deadline=None)
@given(st.lists(st.tuples(_keys, _values), min_size=1, max_size=5), st.data())
def test_cut_and_mutated_messages(pairs, data):
    raw = bytearray(_encode(pairs))
    for _ in range(data.draw(st.integers(0, 3))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.sampled_from(b"0123456789:ilde-x\x00"))
    cut = data.draw(st.integers(1, len(raw)))
    _same(bytes(raw[:cut]))


def test_krpc_shapes_tshark_counts():
    nodes = b"d1:rd2:id20:" + b"\x11" * 20 + b"5:nodes52:" + b"\x22" * 52 + b"e1:t2:aa1:y1:re"
    assert bt_dht._columns(nodes, 0, len(nodes)) == ("BT-DHT", bt_dht.TITLE + " reply=2 nodes")
    peers = b"d1:rd6:valuesl6:abcdef18:" + b"x" * 18 + b"5:abcdeee1:y1:re"
    assert bt_dht._columns(peers, 0, len(peers))[1].endswith(" reply=2 peers")
    error = b"d1:eli201e11:A Bad Errore1:t2:aa1:y1:ee"
    assert bt_dht._columns(error, 0, len(error))[1].endswith(" error_no=201 error_msg=A Bad Error")
    deep = b"d1:a" + b"l" * 70 + b"e" * 70 + b"e"  # past bencode's depth: damage, as the tree
    assert bt_dht._columns(deep, 0, len(deep)) is None
    for data in (nodes, peers, error, deep):
        _same(data)
