"""IP fragment reassembly (netlab/wire/fragments.py) on fragments Scapy cuts."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netlab.wire.fragments import MAX_DATAGRAMS, Reassembler


def _v4(size: int = 3000, ident: int = 77) -> bytes:
    from scapy.layers.inet import ICMP, IP

    return bytes(IP(src="198.18.1.2", dst="198.18.4.2", id=ident) / ICMP(id=1, seq=1)
                 / bytes(i & 0xFF for i in range(size)))  # fmt: skip


def _v4_fragments(packet: bytes, fragsize: int = 1480) -> list[bytes]:
    from scapy.layers.inet import IP, fragment

    return [bytes(f) for f in fragment(IP(packet), fragsize=fragsize)]


def _v6(size: int = 3000) -> bytes:
    from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6

    data = bytes(i & 0xFF for i in range(size))
    return bytes(IPv6(src="2001:db8:1::2", dst="2001:db8:4::2") / ICMPv6EchoRequest(data=data))


def _v6_fragments(packet: bytes, mtu: int = 1400, ident: int = 9) -> list[bytes]:
    from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, fragment6

    ip6 = IPv6(packet)
    upper = ip6.payload
    ip6.remove_payload()
    del ip6.nh, ip6.plen
    return [bytes(f) for f in fragment6(ip6 / IPv6ExtHdrFragment(nh=58, id=ident) / upper, mtu)]


def _feed_all(r: Reassembler, family: int, pieces: list[bytes]):
    results = [r.feed(family, p, 100 + i) for i, p in enumerate(pieces)]
    assert all(x is None for x in results[:-1])
    return results[-1]


def test_not_a_fragment_comes_back_as_it_is():
    r = Reassembler()
    packet = _v4(100)
    assert r.feed(4, packet, 5) == (packet, 5, 5)
    six = _v6(100)
    assert r.feed(6, six, 6) == (six, 6, 6)


@pytest.mark.parametrize("fragsize", [1480, 1376, 8, 512])
def test_ipv4_in_order_and_shuffled_gives_the_original_datagram(fragsize):
    packet = _v4()
    pieces = _v4_fragments(packet, fragsize)
    assert len(pieces) > 1
    whole, first, last = _feed_all(Reassembler(), 4, pieces)
    assert whole == packet  # header restored: length, flags, checksum as Scapy built it
    assert (first, last) == (100, 100 + len(pieces) - 1)
    shuffled = pieces[:]
    random.Random(fragsize).shuffle(shuffled)
    assert _feed_all(Reassembler(), 4, shuffled)[0] == packet


def test_ipv4_fragments_of_fragments_as_a_router_cuts_them_again():
    packet = _v4()
    pieces = [small for big in _v4_fragments(packet, 1480) for small in _v4_fragments(big, 1376)]
    assert _feed_all(Reassembler(), 4, pieces)[0] == packet


def test_ipv6_gives_the_original_packet():
    packet = _v6()
    pieces = _v6_fragments(packet)
    assert len(pieces) == 3 and all(len(p) <= 1400 for p in pieces)
    whole, _first, _last = _feed_all(Reassembler(), 6, list(reversed(pieces)))
    assert whole == packet


def test_a_missing_fragment_gives_nothing_and_a_duplicate_changes_nothing():
    packet = _v4()
    pieces = _v4_fragments(packet)
    r = Reassembler()
    assert r.feed(4, pieces[0], 1) is None
    assert r.feed(4, pieces[0], 2) is None
    assert r.feed(4, pieces[2], 3) is None  # the middle one is missing
    assert r.feed(4, pieces[1], 4)[0] == packet


def test_two_datagrams_with_different_ids_do_not_mix():
    a, b = _v4(ident=1), _v4(ident=2)
    pa, pb = _v4_fragments(a), _v4_fragments(b)
    r = Reassembler()
    out = [r.feed(4, p, 0) for pair in zip(pa, pb, strict=True) for p in pair]
    assert [x[0] for x in out if x is not None] == [a, b]


def test_fragments_that_disagree_about_the_end_drop_the_datagram():
    pieces = _v4_fragments(_v4())
    last = bytearray(pieces[-1])
    last[3] -= 8  # a second "last fragment", 8 bytes shorter
    r = Reassembler()
    assert r.feed(4, pieces[-1], 1) is None
    assert r.feed(4, bytes(last), 2) is None  # dropped: nothing can complete it now
    assert r.feed(4, pieces[0], 3) is None and r.feed(4, pieces[1], 4) is None


def test_pending_datagrams_are_bounded():
    r = Reassembler()
    for ident in range(MAX_DATAGRAMS * 3):
        r.feed(4, _v4_fragments(_v4(100, ident), 64)[0], ident)
    assert len(r._pending) == MAX_DATAGRAMS


def test_a_fragment_beyond_65535_bytes_is_refused():
    piece = bytearray(_v4_fragments(_v4())[1])
    piece[6:8] = (0x2000 | 0x1FFF).to_bytes(2, "big")  # MF, offset 65528
    assert Reassembler().feed(4, bytes(piece), 1) is None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120), st.sampled_from([4, 6]))
def test_hostile_bytes_never_raise(data, family):
    r = Reassembler()
    for cut in (data, data[:20], data[:41]):
        out = r.feed(family, cut, 1)
        assert out is None or isinstance(out[0], bytes)
