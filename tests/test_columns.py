"""Dissector.columns: the one-line view of plain frames without a Packet, same lines.

The shortcut reads TCP, UDP, DNS and ICMP echo columns straight off the bytes and
updates the stream state itself; everything else goes through dissect(). Each
capture is shown twice, through the shortcut and through dissect() alone, and the
text must be identical, line for line: the samples, the whole tcpdump corpus in one
file (hundreds of link types and damaged packets) and a long replica capture where
TCP state (relative numbers, analysis, stream reuse) carries across thousands of
packets.
"""

from __future__ import annotations

import io

import pytest

from netlab.capture.reader import open_capture
from netlab.dissect import Dissector
from netlab.render.packets import PacketView
from tests.conftest import ROOT
from tests.test_dissect_jobs import _corpus_in_one, _replicas

PCAPS = sorted((ROOT / "pcaps").glob("*.pcap*"))


def both_ways(path) -> tuple[str, str, int]:
    """(text through the shortcut, text through dissect(), frames the shortcut took)."""
    fast_out, slow_out = io.StringIO(), io.StringIO()
    fast, slow = PacketView(fast_out), PacketView(slow_out)
    fast_d, slow_d, probe = Dissector(), Dissector(), Dissector()
    taken = 0
    with open_capture(path) as cap:
        for no, frame in enumerate(cap, 1):
            fast.feed_frame(fast_d, no, frame)
            slow.feed(slow_d.dissect(no, frame.ts_ns, frame.data, frame.wirelen, frame.linktype,
                                     frame.interface, frame.comment))  # fmt: skip
            taken += probe.columns(no, frame.data, frame.linktype) is not None
    fast.finish()
    slow.finish()
    return fast_out.getvalue(), slow_out.getvalue(), taken


@pytest.mark.parametrize("path", PCAPS, ids=lambda p: p.name)
def test_samples(path):
    fast, slow, _ = both_ways(path)
    assert fast.splitlines() == slow.splitlines()


def test_corpus(tmp_path):
    fast, slow, taken = both_ways(_corpus_in_one(tmp_path / "corpus.pcapng"))
    assert fast.splitlines() == slow.splitlines()
    assert taken > 500


def test_long_capture(tmp_path):
    path = _replicas(tmp_path / "replicas.pcapng", 6000)
    fast, slow, taken = both_ways(path)
    assert fast.splitlines() == slow.splitlines()
    assert taken > 6000 * 0.6  # the shortcut really carries the common traffic


def test_filters_and_full_views_do_not_take_it():
    view = PacketView(io.StringIO(), tree=True)
    assert not view._plain
