"""dissect/dns.py quick_info: the DNS info column read straight off the bytes.

Two claims, checked on real messages (samples, corpus), generated ones and mutated
ones: when quick_info answers, (1) the full parse succeeds, and (2) its info column
is the very same text. When it does not answer, the full parse is used, so
declining is always safe; the samples show it does answer for ordinary traffic.
"""

from __future__ import annotations

import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netlab.capture.reader import CaptureFormatError, open_capture
from netlab.dissect import Dissector
from netlab.dissect.dns import _info, quick_info
from netlab.wire import dns as wire
from tests.conftest import CORPUS, ROOT


def check(buf: bytes, off: int, end: int) -> bool:
    """Both claims for one message; True when quick_info answered."""
    quick = quick_info(buf, off, end)
    if quick is None:
        return False
    msg = wire.parse_message_partial(buf, off, end)
    assert msg.malformed is None, (buf[off:end].hex(), msg.malformed)
    assert quick == _info(msg), buf[off:end].hex()
    return True


def dns_messages(paths) -> list[tuple[bytes, int, int]]:
    """(frame, start, end) of every DNS message the dissector finds in these files."""
    found = []
    for path in paths:
        try:
            with open_capture(path) as cap:
                frames = list(cap)
        except CaptureFormatError:
            continue
        d = Dissector()
        for no, f in enumerate(frames, 1):
            pkt = d.dissect(no, f.ts_ns, f.data, f.wirelen, f.linktype)
            for layer in pkt.layers:
                if layer.proto == "dns" and layer.data is None:
                    msg = layer.hdr.message
                    if msg is None:
                        found.append((f.data, *layer.extra[:2]))
                    else:
                        found.append((f.data, msg.offset, msg.offset + msg.size))
    return found


SAMPLES = dns_messages(sorted((ROOT / "pcaps").glob("*.pcap*")))


def test_samples_take_the_quick_path():
    answered = sum(check(buf, off, end) for buf, off, end in SAMPLES)
    assert len(SAMPLES) >= 20 and answered >= len(SAMPLES) * 0.8


def test_corpus():
    messages = dns_messages(sorted(CORPUS.iterdir()))
    assert len(messages) > 20
    for buf, off, end in messages:
        check(buf, off, end)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    index=st.integers(0, max(len(SAMPLES) - 1, 0)),
    flips=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=4),
    cut=st.integers(0, 400),
)
def test_mutated_samples(index, flips, cut):
    buf, off, end = SAMPLES[index]
    data = bytearray(buf)
    for pos, value in flips:
        data[off + pos % max(end - off, 1)] = value
    end = off + cut % (end - off + 1)
    check(bytes(data), off, end)


def _name(labels: list[bytes]) -> bytes:
    return b"".join(bytes([len(label)]) + label for label in labels) + b"\0"


label = st.binary(min_size=1, max_size=12)
owner = st.sampled_from([b"\xc0\x0c", b"\0", b"\xc0\x0d", b"\x03www\0"])
rdata = st.one_of(
    st.binary(max_size=20),
    st.lists(label, max_size=3).map(_name),
    st.lists(label, max_size=2).map(lambda labels: _name(labels)[:-1] + b"\xc0\x0c"),
)
record = st.tuples(owner, st.sampled_from([1, 28, 2, 5, 12, 41, 15, 16, 6]),
                   st.sampled_from([1, 3, 0x8001, 512]), st.integers(0, 2**32 - 1), rdata,
                   st.integers(-2, 2))  # fmt: skip


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    flags=st.sampled_from([0x0100, 0x8180, 0x8183, 0x8580, 0x2800, 0x818F]),
    qname=st.lists(label, max_size=3),
    qtype=st.integers(0, 300),
    records=st.lists(record, max_size=5),
    counts_off=st.integers(-1, 1),
)
def test_generated_messages(flags, qname, qtype, records, counts_off):
    body = _name(qname) + struct.pack("!HH", qtype, 1)
    for own, rtype, rclass, ttl, data, skew in records:
        body += own + struct.pack("!HHIH", rtype, rclass, ttl, max(0, len(data) + skew)) + data
    an = max(0, len(records) + counts_off)
    msg = struct.pack("!HHHHHH", 0x1234, flags, 1, an, 0, 0) + body
    frame = bytes(42) + msg
    check(frame, 42, len(frame))


def test_a_message_left_for_later_shows_the_same_fields():
    """With quick_info the message is parsed only when its fields are asked for (-V,
    --json, a filter on a live capture): the same tree and JSON as parsing at once."""
    from netlab.render.packets import json_line, tree_lines

    quick, eager = Dissector(quick=True), Dissector(quick=False)
    lazy = 0
    with open_capture(ROOT / "pcaps" / "dns.pcapng") as cap:
        for no, f in enumerate(cap, 1):
            a = quick.dissect(no, f.ts_ns, f.data, f.wirelen, f.linktype)
            b = eager.dissect(no, f.ts_ns, f.data, f.wirelen, f.linktype)
            lazy += any(layer.proto == "dns" and layer.hdr[0] is None for layer in a.layers)
            assert a.info == b.info
            assert json_line(a) == json_line(b)
            assert tree_lines(a) == tree_lines(b)
            assert a.field_dict() == b.field_dict()
    assert lazy >= 20
