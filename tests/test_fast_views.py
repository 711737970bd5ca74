"""The fast writers of -V and --json say exactly what the generic rows say.

Each protocol's fields are defined once, as rows; for speed, the heavy views write
common layers straight as text (model.JSON_WRITERS / TREE_WRITERS). These tests hold
every writer to the generic output: the same JSON (parsed, and byte for byte, so key
order too) and the same tree lines, on every sample capture, every tcpdump corpus
file (565, many malformed) and on mutated packets.
"""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netlab.capture.reader import CaptureFormatError, open_capture
from netlab.dissect import Dissector
from netlab.dissect.fields import FrameClock, PacketFields
from netlab.dissect.model import JSON_WRITERS, TREE_WRITERS
from netlab.dissect.quick_fields import GETTERS, quick_fields
from netlab.render.jsonout import dumps
from netlab.render.packets import json_line, json_record, tree_lines
from tests.conftest import CORPUS, ROOT
from tests.test_dissect import SAMPLES, mutated_sample

PCAPS = sorted((ROOT / "pcaps").glob("*.pcap*"))


def assert_same_views(pkt, where: str) -> None:
    generic = dumps(json_record(pkt), compact=True)
    fast = json_line(pkt)
    assert json.loads(fast) == json.loads(generic), where
    assert fast == generic, f"{where}: same content, different key order or spacing"
    assert "\n".join(tree_lines(pkt)) == "\n".join(tree_lines(pkt, fast=False)), where
    assert_fields_owned(pkt, where)


def assert_fields_owned(pkt, where: str) -> None:
    """`-e NAME` and `-Y` read only the layers `field_owners` names for NAME's protocol:
    each of them must find there every value that all the packet's rows hold."""
    every = PacketFields(pkt, FrameClock()).rows()
    lazy = PacketFields(pkt, FrameClock())
    for name, values in every.items():
        if not name.startswith("_"):
            assert lazy.get(name) == values, f"{where}: {name} outside its owners' layers"


def packets(path):
    dissector = Dissector()
    with open_capture(path) as cap:
        for no, frame in enumerate(cap, 1):
            yield dissector.dissect(
                no, frame.ts_ns, frame.data, frame.wirelen, frame.linktype, frame.interface,
                frame.comment,
            )  # fmt: skip


def test_writers_are_registered():
    Dissector()  # loads every protocol module
    assert len(JSON_WRITERS) >= 1 and len(TREE_WRITERS) >= 1


@pytest.mark.parametrize("path", PCAPS, ids=lambda p: p.name)
def test_samples(path):
    used = 0
    for pkt in packets(path):
        assert_same_views(pkt, f"{path.name} #{pkt.no}")
        used += any(layer.fields_fn in JSON_WRITERS for layer in pkt.layers)
    assert used  # the fast writers really ran on these files


def test_corpus():
    checked = 0
    for path in sorted(CORPUS.iterdir()):
        try:
            for pkt in packets(path):
                assert_same_views(pkt, f"{path.name} #{pkt.no}")
                checked += 1
        except CaptureFormatError:
            continue
    assert checked > 5_000


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    index=st.integers(0, max(len(SAMPLES) - 1, 0)),
    flips=st.lists(st.tuples(st.integers(0, 120), st.integers(0, 255)), max_size=6),
    cut=st.integers(0, 2000),
)
def test_mutated_packets(index, flips, cut):
    pkt = Dissector().dissect(1, 0, *mutated_sample(index, flips, cut))
    assert_same_views(pkt, f"mutated sample {index}")


# --- -T fields of plain frames off the bytes (dissect/quick_fields.py) --------------------------
def assert_quick_fields_agree(path) -> int:
    """Every frame Dissector.columns takes as plain: each GETTERS field equals the
    values of dissect()'s rows. Returns how many frames were compared."""
    quick, full = Dissector(), Dissector(False)
    getters = quick_fields(list(GETTERS))
    compared = 0
    with open_capture(path) as cap:
        for no, frame in enumerate(cap, 1):
            pkt = full.dissect(no, frame.ts_ns, frame.data, frame.wirelen, frame.linktype)
            if quick.columns(no, frame.data, frame.linktype, frame.ts_ns) is None:
                continue
            rows = PacketFields(pkt, FrameClock())
            getters.on(frame.data)
            for name in [*GETTERS, "ip.addr", "tcp.port", "udp.port", "ipv6.addr"]:
                assert getters.get(name) == rows.get(name), f"{path.name} #{no}: {name}"
            compared += 1
    return compared


def test_quick_fields_equal_the_rows():
    compared = sum(assert_quick_fields_agree(p) for p in PCAPS)
    corpus = 0
    for path in sorted(CORPUS.iterdir()):
        with contextlib.suppress(CaptureFormatError):
            corpus += assert_quick_fields_agree(path)
    assert compared > 300 and corpus > 3_000, (compared, corpus)


def test_quick_fields_only_for_names_they_know():
    assert quick_fields(["ip.src", "tcp.port"]) is not None
    assert quick_fields(["ip.src", "tcp.stream"]) is None
    assert quick_fields(["frame.number"]) is None
