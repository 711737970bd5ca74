"""The dissector against tshark (field by field), on every tcpdump test capture, and fuzzed."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netlab.capture.reader import open_capture
from netlab.dissect import Dissector
from netlab.render.packets import json_record, tree_lines
from tests.conftest import CORPUS, ROOT, netlab_bin, require_tool

PCAPS = sorted((ROOT / "pcaps").glob("*.pcap*"))

# Fields compared with tshark, value by value (the list).
FIELDS = [
    "eth.src", "eth.dst", "ip.src", "ip.dst", "ip.ttl", "ip.proto", "ipv6.src", "ipv6.dst",
    "tcp.srcport", "tcp.dstport", "tcp.seq", "tcp.ack", "tcp.flags", "tcp.stream",
    "udp.srcport", "udp.dstport", "icmp.type", "icmp.code", "icmpv6.type", "icmpv6.code",
    "arp.opcode", "arp.src.hw_mac", "arp.src.proto_ipv4", "arp.dst.hw_mac", "arp.dst.proto_ipv4",
    "dns.id", "dns.flags", "dns.qry.name", "dns.qry.type", "dns.a", "dns.aaaa", "dns.cname",
    "dns.ns", "dns.count.answers", "dns.count.auth_rr", "dns.resp.ttl", "dns.mx.mail_exchange",
    "dns.soa.mname", "dns.length",
]  # fmt: skip


def tshark_fields(path: Path) -> list[dict[str, list[str]]]:
    tshark = require_tool("tshark")
    cmd = [tshark, "-n", "-r", str(path), "-T", "fields", "-E", "separator=\t",
           "-E", "occurrence=a", "-E", "aggregator=,"]  # fmt: skip
    for name in FIELDS:
        cmd += ["-e", name]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        values = line.split("\t")
        rows.append(
            {
                n: [_unhex(x) for x in v.split(",")]
                for n, v in zip(FIELDS, values, strict=False)
                if v
            }
        )
    return rows


def _unhex(text: str) -> str:
    # tshark prints some integers in hex (tcp.flags 0x0002, dns.id 0x1a2b): compare numbers.
    return str(int(text, 16)) if text.startswith("0x") else text


def norm(name: str, value) -> str:
    if isinstance(value, bool):
        return str(int(value))
    return str(value)


def netlab_fields(path: Path) -> list[dict[str, list[str]]]:
    out = subprocess.run([netlab_bin(), "dissect", "--json", str(path)], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    rows = []
    for line in out.splitlines():
        fields = json.loads(line)["fields"]
        row = {}
        for name in FIELDS:
            if name in fields:
                values = fields[name] if isinstance(fields[name], list) else [fields[name]]
                row[name] = [norm(name, v) for v in values]
        rows.append(row)
    return rows


def recorded_captures() -> list[Path]:
    return PCAPS


@pytest.mark.parametrize("path", recorded_captures(), ids=lambda p: p.name)
def test_fields_agree_with_tshark(path):
    theirs = tshark_fields(path)
    ours = netlab_fields(path)
    assert len(ours) == len(theirs), "frame count differs"
    for no, (a, b) in enumerate(zip(ours, theirs, strict=True), 1):
        assert a == b, f"packet {no}: netlab {a} != tshark {b}"


def tshark_summary(path: Path) -> list[str]:
    tshark = require_tool("tshark")
    out = subprocess.run([tshark, "-n", "-r", str(path)], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    # tshark's request/response cross-references need a second pass netlab does not make yet.
    out = re.sub(r" \((request|reply) in \d+\)", "", out)
    return [" ".join(line.split()[2:]) for line in out.splitlines()]


@pytest.mark.parametrize("path", recorded_captures(), ids=lambda p: p.name)
def test_summary_lines_agree_with_tshark(path):
    ours = subprocess.run([netlab_bin(), "dissect", str(path)], capture_output=True, text=True,
                          check=True).stdout.splitlines()  # fmt: skip
    ours = [" ".join(line.split()[2:]) for line in ours]  # drop No. and time (formats differ)
    assert ours == tshark_summary(path)


def test_recorded_tcp_capture_has_a_handshake_and_a_close():
    # Guards the samples themselves: the demo and README rely on what they show.
    capture = ROOT / "pcaps" / "tcp-udp.pcap"
    flags = [int(r["tcp.flags"][0]) for r in netlab_fields(capture) if "tcp.flags" in r]
    assert flags[:3] == [0x02, 0x12, 0x10]
    assert 0x11 in flags


# --- never raise ------------------------------------------------------------------------


# Malformed marks that mean a bug in netlab (caught by the never-raise guard), not bad input.
BUG_MARKS = ("decoder error", "cannot build fields")


def dissect_file(path: Path) -> tuple[int, list[str]]:
    d = Dissector()
    count = 0
    bugs = []
    with open_capture(path) as cap:
        for no, frame in enumerate(cap, 1):
            pkt = d.dissect(no, frame.ts_ns, frame.data, frame.wirelen, frame.linktype)
            json_record(pkt)  # builds every field: the full path must not raise either
            tree_lines(pkt)
            count += 1
            marks = [pkt.malformed or ""] + [layer.malformed or "" for layer in pkt.layers]
            bugs += [f"{path.name}#{no}: {m}" for m in marks if any(b in m for b in BUG_MARKS)]
    return count, bugs


CORPUS_FILES = sorted(p for p in CORPUS.glob("*") if p.suffix in (".pcap", ".pcapng"))


@pytest.mark.slow
def test_every_corpus_capture_decodes_without_exception_or_hang():
    if not CORPUS_FILES:
        pytest.skip(f"corpus not found at {CORPUS}")
    from netlab.capture.reader import CaptureFormatError

    slow = []
    bugs: list[str] = []
    total = 0
    for path in CORPUS_FILES:
        start = time.perf_counter()
        try:
            count, file_bugs = dissect_file(path)
            bugs += file_bugs
        except CaptureFormatError:
            continue  # not a capture at all: a clean one-line error, tested elsewhere
        total += count
        elapsed = time.perf_counter() - start
        if elapsed > 2.0:
            slow.append((path.name, round(elapsed, 2)))
    assert not slow, f"files over 2 s: {slow}"
    assert not bugs, f"{len(bugs)} decoder bugs hidden as malformed, e.g. {sorted(set(bugs))[:5]}"
    assert total > 5_000  # the corpus really was read


LINKTYPES = [0, 1, 101, 108, 113, 228, 229, 276, 147]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(linktype=st.sampled_from(LINKTYPES), data=st.binary(max_size=300))
def test_random_bytes_never_raise(linktype, data):
    pkt = Dissector().dissect(1, 0, data, len(data), linktype)
    json.dumps(json_record(pkt), default=str)
    tree_lines(pkt)
    assert_no_bug_marks(pkt)


def assert_no_bug_marks(pkt) -> None:
    marks = [pkt.malformed or ""] + [layer.malformed or "" for layer in pkt.layers]
    assert not [m for m in marks if any(b in m for b in BUG_MARKS)]


def _sample_frames() -> list[tuple[int, bytes]]:
    frames = []
    for path in PCAPS:
        with open_capture(path) as cap:
            frames += [(f.linktype, f.data) for f in cap]
    return frames


SAMPLES = _sample_frames()


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    index=st.integers(0, max(len(SAMPLES) - 1, 0)),
    flips=st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), max_size=8),
    cut=st.integers(0, 2000),
)
def test_mutated_real_packets_never_raise(index, flips, cut):
    linktype, data = SAMPLES[index]
    buf = bytearray(data)
    for pos, value in flips:
        if buf:
            buf[pos % len(buf)] = value
    buf = bytes(buf[: cut % (len(buf) + 1)])
    pkt = Dissector().dissect(1, 0, buf, len(data), linktype)
    json.dumps(json_record(pkt), default=str)
    tree_lines(pkt)
    assert_no_bug_marks(pkt)


def test_wrong_format_is_one_line_exit_2(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a capture\n")
    proc = subprocess.run([netlab_bin(), "dissect", str(text)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "not a pcap or pcapng" in proc.stderr


def test_truncated_file_decodes_what_is_there_then_warns(tmp_path):
    src = (ROOT / "pcaps" / "tcp-udp.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(src[: len(src) - 30])
    proc = subprocess.run([netlab_bin(), "dissect", str(cut)], capture_output=True, text=True)
    assert proc.returncode == 0
    full = subprocess.run([netlab_bin(), "dissect", str(ROOT / "pcaps" / "tcp-udp.pcap")],
                          capture_output=True, text=True).stdout.splitlines()  # fmt: skip
    assert proc.stdout.splitlines() == full[:-1]
    assert proc.stderr.count("\n") == 1 and "warning" in proc.stderr


def test_packet_option_shows_one_tree():
    capture = str(ROOT / "pcaps" / "tcp-udp.pcap")
    proc = subprocess.run([netlab_bin(), "dissect", "--packet", "10", capture],
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert proc.stdout.startswith("Frame 10:")
    assert "Code: 3 (Port unreachable)" in proc.stdout
    assert proc.stdout.count("Internet Protocol Version 4") == 2  # outer + quoted datagram


# --- TCP reassembly ----------------------------------------------------------------------


def split_tcp_segment(src: Path, dst: Path, frame_no: int, pieces: int) -> None:
    """Rewrite capture src into dst with frame `frame_no` (Ethernet/IPv4/TCP) cut into
    `pieces` segments with consecutive sequence numbers: a PDU spanning segments."""
    from netlab.capture.writer import PcapngWriter

    with open_capture(src) as cap, PcapngWriter(dst) as out:
        iface = out.add_interface(cap.interfaces[0].linktype)
        for no, f in enumerate(cap, 1):
            if no != frame_no:
                out.write_packet(f.data, f.ts_ns, interface=iface)
                continue
            data = f.data
            ihl = (data[14] & 0x0F) * 4
            tcp_off = 14 + ihl
            thl = (data[tcp_off + 12] >> 4) * 4
            head, payload = data[: tcp_off + thl], data[tcp_off + thl :]
            seq = int.from_bytes(head[tcp_off + 4 : tcp_off + 8], "big")
            step = -(-len(payload) // pieces)
            for i in range(pieces):
                chunk = payload[i * step : (i + 1) * step]
                seg = bytearray(head + chunk)
                seg[16:18] = (ihl + thl + len(chunk)).to_bytes(2, "big")  # IP total length
                seg[tcp_off + 4 : tcp_off + 8] = ((seq + i * step) & 0xFFFFFFFF).to_bytes(4, "big")
                out.write_packet(bytes(seg), f.ts_ns + i * 1000, interface=iface)


def test_dns_over_tcp_spanning_segments_is_reassembled_like_tshark(tmp_path):
    src = ROOT / "pcaps" / "dns.pcapng"
    lines = subprocess.run([netlab_bin(), "dissect", str(src)], capture_output=True, text=True,
                           check=True).stdout.splitlines()  # fmt: skip
    big = next(
        i
        for i, line in enumerate(lines, 1)
        if "TXT big.example.lab TXT" in line and "TCP" not in line.split()[5]
    )
    split = tmp_path / "split.pcapng"
    split_tcp_segment(src, split, big, 3)
    assert tshark_summary(split) == [" ".join(x.split()[2:]) for x in subprocess.run(
        [netlab_bin(), "dissect", str(split)], capture_output=True, text=True, check=True
    ).stdout.splitlines()]  # fmt: skip
    ours = netlab_fields(split)
    theirs = tshark_fields(split)
    assert ours == theirs
    # The answer is on the last of the three segments, whole.
    texts = [r for r in ours if "dns.count.answers" in r and r.get("dns.count.answers") == ["1"]]
    assert texts, "no reassembled DNS answer"
