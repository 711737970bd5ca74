"""netlab.capture: pcap/pcapng reading and pcapng writing.

Oracles: tshark/capinfos (Wireshark's wiretap) and tcpdump (libpcap) on the
same files. Real traffic is recorded on loopback only (127.0.0.7, see OWN).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netlab.capture import (
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV4,
    CaptureFormatError,
    Frame,
    PcapngWriter,
    open_capture,
)
from netlab.errors import ExitStatus, InputError


def require_tool(name: str) -> str:
    # Same rule as conftest.require_tool: a skip, which CI=true turns into a failure.
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"needs {name!r} (installed by `make test`)")
    return path


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (capturing on loopback)")


from tests.conftest import CORPUS  # noqa: E402

# -- crafting files by hand (either byte order), as the specs lay them out ------------


def _opt(o: str, code: int, value: bytes) -> bytes:
    return struct.pack(o + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def _opts(o: str, options) -> bytes:
    options = list(options)
    if not options:
        return b""
    return b"".join(_opt(o, c, v) for c, v in options) + struct.pack(o + "HH", 0, 0)


def ng_block(o: str, btype: int, body: bytes) -> bytes:
    total = 12 + len(body)
    return struct.pack(o + "II", btype, total) + body + struct.pack(o + "I", total)


def ng_shb(o: str, options=(), major: int = 1) -> bytes:
    body = struct.pack(o + "IHHq", 0x1A2B3C4D, major, 0, -1) + _opts(o, options)
    return ng_block(o, 0x0A0D0D0A, body)


def ng_idb(o: str, linktype: int, snaplen: int = 0, options=()) -> bytes:
    return ng_block(o, 1, struct.pack(o + "HHI", linktype, 0, snaplen) + _opts(o, options))


def _padded(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def ng_epb(o: str, iface: int, units: int, data: bytes, wirelen=None, options=()) -> bytes:
    head = struct.pack(
        o + "IIIII", iface, units >> 32, units & 0xFFFFFFFF, len(data), wirelen or len(data)
    )
    return ng_block(o, 6, head + _padded(data) + _opts(o, options))


def ng_opb(o: str, iface: int, units: int, data: bytes, options=()) -> bytes:
    head = struct.pack(
        o + "HHIIII", iface, 0, units >> 32, units & 0xFFFFFFFF, len(data), len(data)
    )
    return ng_block(o, 2, head + _padded(data) + _opts(o, options))


def ng_spb(o: str, wirelen: int, data: bytes) -> bytes:
    return ng_block(o, 3, struct.pack(o + "I", wirelen) + _padded(data))


def pcap_file(frames, o: str = "<", nano: bool = False, linktype: int = 1, snaplen=65535):
    """A classic pcap file from (ts_ns, data[, wirelen]) tuples."""
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack(o + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    for ts_ns, data, *rest in frames:
        wirelen = rest[0] if rest else len(data)
        sec, frac = divmod(ts_ns, 1_000_000_000)
        frac = frac if nano else frac // 1000
        out.append(struct.pack(o + "IIII", sec, frac, len(data), wirelen) + data)
    return b"".join(out)


def pcap_to_big_endian(data: bytes) -> bytes:
    """Rewrite a little-endian pcap file in big-endian byte order."""
    assert data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1")
    out = [struct.pack(">IHHiIII", *struct.unpack_from("<IHHiIII", data, 0))]
    pos = 24
    while pos + 16 <= len(data):
        sec, frac, caplen, wirelen = struct.unpack_from("<IIII", data, pos)
        out.append(struct.pack(">IIII", sec, frac, caplen, wirelen))
        out.append(data[pos + 16 : pos + 16 + caplen])
        pos += 16 + caplen
    return b"".join(out)


def read_all(path):
    with open_capture(path) as cap:
        frames = list(cap)
        return cap, frames


def ether(payload: bytes = b"", ethertype: int = 0x0800) -> bytes:
    return b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02" + struct.pack("!H", ethertype) + payload


def ipv4(payload_len: int, proto: int = 17) -> bytes:
    total = 20 + payload_len
    hdr = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, total, 1, 0, 64, proto, 0, b"\x7f\0\0\1", b"\x7f\0\0\1"
    )
    return hdr + bytes(range(256))[:payload_len].ljust(payload_len, b"\xaa")


# -- tshark as the oracle ---------------------------------------------------------------


def _pairs(pairs):
    """json object hook that keeps repeated keys (tshark repeats frame.comment)."""
    out: dict = {}
    for key, value in pairs:
        if key in out:
            if not isinstance(out[key], list) or key == "frame_raw":
                out[key] = [out[key]]
            out[key].append(value)
        else:
            out[key] = value
    return out


def tshark_frames(path) -> list[dict]:
    """Per frame: time_epoch (string), len, cap_len, interface_id, comments, raw bytes."""
    tshark = require_tool("tshark")
    proc = subprocess.run(
        [tshark, "-n", "-r", str(path), "-T", "json", "-x", "-j", "frame pkt_comment"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    out = []
    for pkt in json.loads(proc.stdout or "[]", object_pairs_hook=_pairs):
        layers = pkt["_source"]["layers"]
        frame = layers["frame"]
        comments = layers.get("pkt_comment", {}).get("frame.comment", [])
        if isinstance(comments, str):
            comments = [comments]
        raw = layers.get("frame_raw", [""])
        out.append(
            {
                "time": frame.get("frame.time_epoch"),
                "len": int(frame["frame.len"]),
                "cap_len": int(frame["frame.cap_len"]),
                "interface_id": int(frame.get("frame.interface_id", 0)),
                "comments": comments,
                "data": bytes.fromhex(raw[0] if isinstance(raw, list) else raw),
            }
        )
    return out


def epoch_text(ts_ns: int) -> str:
    """tshark prints frame.time_epoch with nine decimals."""
    sec, ns = divmod(ts_ns, 1_000_000_000)
    return f"{sec}.{ns:09d}"


def assert_same_as_tshark(path, frames: list[Frame]) -> None:
    expected = tshark_frames(path)
    assert len(frames) == len(expected)
    for i, (ours, theirs) in enumerate(zip(frames, expected, strict=True), 1):
        assert epoch_text(ours.ts_ns) == theirs["time"], f"frame {i}"
        assert ours.wirelen == theirs["len"], f"frame {i}"
        assert ours.caplen == theirs["cap_len"] == len(ours.data), f"frame {i}"
        assert ours.data == theirs["data"], f"frame {i}"
        assert ours.interface == theirs["interface_id"], f"frame {i}"
        assert (ours.comment or None) == ("\n".join(theirs["comments"]) or None), f"frame {i}"


def capinfos_count(path) -> int:
    capinfos = require_tool("capinfos")
    proc = subprocess.run(
        [capinfos, "-c", "-M", "-T", "-r", str(path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.split("\t")[-1])


# -- writer + reader round trip -----------------------------------------------------------

ROUND_TRIP = [
    # (interface, ts_ns, data, wirelen, comment)
    (0, 1_700_000_000_123_456_789, ether(ipv4(8)), None, "first packet"),
    (1, 1_700_000_000_123_456_790, ipv4(0), None, None),
    (0, 1_700_000_001_000_000_001, ether(ipv4(1)), 1514, "cut: caplen < len"),
    (1, 1_700_000_002_999_999_999, ipv4(3), None, "café ✓ unicode"),
    (2, 1_700_000_003_000_000_000, ether(ipv4(100)), None, None),
    (0, 1_700_000_004_000_000_007, b"", 60, None),
    (1, 0, ipv4(2), None, "epoch zero"),
    (0, (1 << 63) + 5, ether(ipv4(5)), None, None),  # far future: both ts words in use
]


def write_round_trip(path) -> None:
    with PcapngWriter(path, comment="written by the test") as w:
        assert w.add_interface(LINKTYPE_ETHERNET, "eth-test") == 0
        assert w.add_interface(LINKTYPE_IPV4, "raw4") == 1
        assert w.add_interface(LINKTYPE_ETHERNET, None, snaplen=0) == 2
        for iface, ts_ns, data, wirelen, comment in ROUND_TRIP:
            w.write_packet(data, ts_ns, iface, wirelen=wirelen, comment=comment)


def test_round_trip_with_netlab(tmp_path):
    path = tmp_path / "rt.pcapng"
    write_round_trip(path)
    cap, frames = read_all(path)
    assert cap.format == "pcapng"
    assert cap.warnings == []
    assert cap.section_comments == ["written by the test"]
    assert [(i.linktype, i.name, i.ts_per_second) for i in cap.interfaces] == [
        (LINKTYPE_ETHERNET, "eth-test", 10**9),
        (LINKTYPE_IPV4, "raw4", 10**9),
        (LINKTYPE_ETHERNET, None, 10**9),
    ]
    linktypes = [LINKTYPE_ETHERNET, LINKTYPE_IPV4, LINKTYPE_ETHERNET]
    assert frames == [
        Frame(ts, len(data), wl or len(data), linktypes[iface], data, iface, comment)
        for iface, ts, data, wl, comment in ROUND_TRIP
    ]


def test_round_trip_with_tshark(tmp_path):
    path = tmp_path / "rt.pcapng"
    write_round_trip(path)
    _, frames = read_all(path)
    assert_same_as_tshark(path, frames)
    proc = subprocess.run(
        [require_tool("capinfos"), str(path)], capture_output=True, text=True, timeout=60
    )
    assert "Capture application: netlab " in proc.stdout  # shb_userappl
    assert "eth-test" in proc.stdout and "raw4" in proc.stdout


def test_round_trip_through_tshark_rewrite(tmp_path):
    """tshark re-encodes our file as pcap (ns) and pcapng; the bytes survive."""
    path = tmp_path / "rt.pcapng"
    with PcapngWriter(path) as w:
        w.add_interface(LINKTYPE_ETHERNET, "eth0")
        for i in range(50):
            w.write_packet(ether(ipv4(i * 7)), 1_700_000_000_000_000_000 + i * 1_000_003, 0)
    _, frames = read_all(path)
    tshark = require_tool("tshark")
    for fmt in ("nsecpcap", "pcap", "pcapng"):
        out = tmp_path / f"out.{fmt}"
        subprocess.run([tshark, "-r", str(path), "-F", fmt, "-w", str(out)], check=True, timeout=60)
        _, again = read_all(out)
        assert [f.data for f in again] == [f.data for f in frames]
        divisor = 1000 if fmt == "pcap" else 1
        assert [f.ts_ns // divisor for f in again] == [f.ts_ns // divisor for f in frames]


def test_writer_µs_interface_and_snaplen(tmp_path):
    path = tmp_path / "us.pcapng"
    with PcapngWriter(path) as w:
        w.add_interface(LINKTYPE_ETHERNET, snaplen=20, tsresol_ns=False)
        w.write_packet(bytes(range(60)), 1_700_000_000_123_456_789)
    cap, frames = read_all(path)
    assert cap.interfaces[0].ts_per_second == 10**6
    (frame,) = frames
    assert frame.ts_ns == 1_700_000_000_123_456_000  # µs resolution floors
    assert (frame.caplen, frame.wirelen, frame.data) == (20, 60, bytes(range(20)))


def test_writer_writes_whole_blocks_and_flushes(tmp_path):
    class Recorder(io.BytesIO):
        def __init__(self):
            super().__init__()
            self.writes: list[bytes] = []
            self.flushes = 0

        def write(self, b):
            self.writes.append(bytes(b))
            return super().write(b)

        def flush(self):
            self.flushes += 1

    rec = Recorder()
    w = PcapngWriter(rec, autoflush=True)
    w.add_interface(LINKTYPE_ETHERNET)
    w.write_packet(b"abc", 1, comment="x")
    w.close()
    assert not rec.closed  # a stream given by the caller stays open
    for block in rec.writes:  # every write() is exactly one block
        total = struct.unpack_from("<I", block, 4)[0]
        assert total == len(block) == struct.unpack_from("<I", block, len(block) - 4)[0]
    assert len(rec.writes) == 3 and rec.flushes >= 3
    # An interrupted write: the file ends after some whole blocks; nothing is lost before.
    rec.seek(0)
    with open_capture(rec) as cap:
        assert [f.data for f in cap] == [b"abc"]


def test_writer_rejects_unknown_interface(tmp_path):
    with PcapngWriter(tmp_path / "x.pcapng") as w, pytest.raises(ValueError):
        w.write_packet(b"x", 0, interface=0)


# -- hand-made pcapng: sections, byte orders, block types ---------------------------------

PKT = ether(ipv4(26))


def multi_section_file() -> bytes:
    o, le = ">", "<"
    return b"".join(
        [
            ng_shb(o, [(1, b"section one")]),
            ng_idb(o, 1, 0, [(2, b"a"), (9, b"\x09")]),
            ng_idb(o, 228, 0, [(2, b"b"), (14, struct.pack(">q", 100))]),  # if_tsoffset
            ng_epb(o, 1, 1_000_000, ipv4(0)),
            ng_epb(o, 0, 5 * 10**9, PKT),
            ng_shb(le, [(1, b"section two"), (4, b"test")]),
            ng_idb(le, 1, 0, [(2, b"c")]),
            ng_idb(le, 1, 30, [(2, b"d"), (9, b"\x83")]),  # 2**-3 s units
            ng_epb(le, 0, 7 * 10**6, PKT, options=[(1, b"pc"), (2, b"\0\0\0\0")]),
            ng_block(le, 4, b"\0" * 4),  # NRB (just opt end)
            ng_block(le, 5, struct.pack("<IIIII", 0, 0, 0, 0, 0)),  # ISB
            ng_block(le, 0x0BAD, b"\0" * 8),  # custom block
            ng_block(le, 0x0000000A, b"\0" * 8),  # DSB
            ng_opb(le, 0, 8 * 10**6, PKT, [(1, b"opb comment")]),
            ng_epb(le, 1, 13, PKT[:30], wirelen=len(PKT)),  # 13/8 s
        ]
    )


def test_multi_section_big_and_little_endian(tmp_path):
    path = tmp_path / "multi.pcapng"
    path.write_bytes(multi_section_file())
    cap, frames = read_all(path)
    assert cap.warnings == []
    assert cap.section_comments == ["section one", "section two"]
    names = [(i.name, i.section, i.linktype) for i in cap.interfaces]
    assert names == [("a", 0, 1), ("b", 0, 228), ("c", 1, 1), ("d", 1, 1)]
    assert cap.interfaces[1].tsoffset == 100
    assert cap.interfaces[3].ts_per_second == 8
    got = [(f.interface, f.ts_ns, f.caplen, f.wirelen, f.linktype, f.comment) for f in frames]
    assert got == [
        (1, 101 * 10**9, 20, 20, 228, None),  # µs default + if_tsoffset 100 s
        (0, 5 * 10**9, len(PKT), len(PKT), 1, None),  # ns
        (2, 7 * 10**9, len(PKT), len(PKT), 1, "pc"),  # interface ids restart per section
        (2, 8 * 10**9, len(PKT), len(PKT), 1, "opb comment"),
        (3, 1_625_000_000, 30, len(PKT), 1, None),
    ]
    # tshark agrees on times, lengths, comments and bytes. (It counts the custom
    # block as a frame, and Wireshark 4.0 numbers interfaces per section.)
    expected = [f for f in tshark_frames(path) if f["len"] != 4]
    assert [(f["time"], f["len"], f["cap_len"], f["data"]) for f in expected] == [
        (epoch_text(f.ts_ns), f.wirelen, f.caplen, f.data) for f in frames
    ]
    assert [f["comments"] for f in expected] == [[], [], ["pc"], ["opb comment"], []]


def test_simple_packet_block_uses_interface_0_snaplen(tmp_path):
    path = tmp_path / "spb.pcapng"
    o = "<"
    path.write_bytes(
        ng_shb(o)
        + ng_idb(o, 1, 20)
        + ng_spb(o, len(PKT), PKT[:20])
        + ng_idb(o, 1, 0)
        + ng_spb(o, 10, PKT[:10])
    )
    cap, frames = read_all(path)
    assert cap.warnings == []
    assert [(f.caplen, f.wirelen, f.interface, f.ts_ns, f.data) for f in frames] == [
        (20, len(PKT), 0, 0, PKT[:20]),
        (10, 10, 0, 0, PKT[:10]),
    ]
    assert [(f["cap_len"], f["len"]) for f in tshark_frames(path)] == [(20, len(PKT)), (10, 10)]


@pytest.mark.parametrize(
    ("blocks", "message"),
    [
        ([ng_idb("<", 1), b"\x06\0\0\0\x0d\0\0\0" + b"\0" * 20], "multiple of 4"),
        ([ng_idb("<", 1), ng_epb("<", 0, 1, PKT)[:-4] + b"\xff\0\0\0"], "trailing total length"),
        ([ng_epb("<", 5, 1, PKT)], "refers to interface 5"),
        ([ng_idb("<", 1), ng_spb("<", 200, PKT)], "exceeds its block"),
        ([ng_idb("<", 1), b"\x06\0\0\0\x08\0\0\0"], "multiple of 4, >= 12"),
        ([ng_idb("<", 1), b"\x06\0\0\0\0\0\0\x7f" + b"\0" * 32], "total length"),
        ([ng_shb("<", major=2)], "unsupported section"),
    ],
)
def test_corrupt_block_stops_with_one_warning(tmp_path, blocks, message):
    good = ng_shb("<") + ng_idb("<", 1) + ng_epb("<", 0, 5, PKT)
    path = tmp_path / "bad.pcapng"
    path.write_bytes(good + b"".join(blocks) + ng_epb("<", 0, 6, PKT))
    cap, frames = read_all(path)
    assert len(frames) == 1 and frames[0].data == PKT  # what came before is kept
    assert len(cap.warnings) == 1
    assert message in cap.warnings[0]
    assert f"at byte {len(good) + len(b''.join(blocks[:-1]))}" in cap.warnings[0]
    assert "after 1 packets" in cap.warnings[0]


def test_malformed_options_keep_the_packet(tmp_path):
    o = "<"
    epb = bytearray(ng_epb(o, 0, 1, PKT, options=[(1, b"hello")]))
    struct.pack_into("<H", epb, 28 + len(_padded(PKT)) + 2, 200)  # option length overruns
    path = tmp_path / "opt.pcapng"
    path.write_bytes(ng_shb(o) + ng_idb(o, 1) + bytes(epb) + ng_epb(o, 0, 2, PKT))
    cap, frames = read_all(path)
    assert [(f.ts_ns, f.comment) for f in frames] == [(1000, None), (2000, None)]
    assert len(cap.warnings) == 1 and "option 1 has length 200" in cap.warnings[0]


def test_big_endian_pcapng_against_tshark(tmp_path):
    o = ">"
    path = tmp_path / "be.pcapng"
    path.write_bytes(
        ng_shb(o, [(1, b"be")])
        + ng_idb(o, 1, 0, [(9, b"\x09")])
        + b"".join(ng_epb(o, 0, 1_700_000_000_000_000_000 + i, ether(ipv4(i))) for i in range(9))
    )
    cap, frames = read_all(path)
    assert len(frames) == 9 and cap.warnings == [] and cap.section_comments == ["be"]
    assert_same_as_tshark(path, frames)


# -- classic pcap -------------------------------------------------------------------------

SAMPLE = [(1_700_000_000_000_001_000 + i * 999_000, ether(ipv4(i * 3))) for i in range(20)]


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("nano", [False, True])
def test_pcap_both_orders_and_resolutions(tmp_path, order, nano):
    path = tmp_path / "x.pcap"
    path.write_bytes(pcap_file(SAMPLE, order, nano, snaplen=262144))
    cap, frames = read_all(path)
    assert cap.format == "pcap" and cap.warnings == []
    assert cap.interfaces[0].ts_per_second == (10**9 if nano else 10**6)
    assert [(f.ts_ns, f.data, f.interface, f.comment) for f in frames] == [
        (ts, data, 0, None) for ts, data in SAMPLE
    ]
    assert_same_as_tshark(path, frames)


def test_pcap_linktype_upper_bits_are_masked(tmp_path):
    path = tmp_path / "junk.pcap"
    path.write_bytes(pcap_file(SAMPLE[:2], linktype=0x30000001))
    cap, frames = read_all(path)
    assert cap.interfaces[0].linktype == 1 and cap.interfaces[0].fcslen is None
    assert {f.linktype for f in frames} == {1}
    path.write_bytes(pcap_file(SAMPLE[:2], linktype=0x24000001))  # F bit, 2 x 16-bit words
    cap, _ = read_all(path)
    assert (cap.interfaces[0].linktype, cap.interfaces[0].fcslen) == (1, 4)


def test_pcap_absurd_caplen_stops_without_allocating(tmp_path):
    data = bytearray(pcap_file(SAMPLE[:3]))
    second = 24 + 16 + len(SAMPLE[0][1])
    struct.pack_into("<I", data, second + 8, 0xFFFFFFF0)
    path = tmp_path / "absurd.pcap"
    path.write_bytes(bytes(data))
    tracemalloc.start()
    try:
        cap, frames = read_all(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(frames) == 1 and peak < 8 << 20
    assert cap.warnings == [
        f"corrupt record at byte {second} after 1 packets: caplen 4294967280 exceeds "
        "the 262144-byte limit"
    ]


def test_pcap_old_version_swapped_lengths(tmp_path):
    data = bytearray(pcap_file([(0, b"x" * 10, 60)]))
    struct.pack_into("<HH", data, 4, 2, 2)  # version 2.2: caplen/len may be swapped
    struct.pack_into("<II", data, 24 + 8, 60, 10)
    path = tmp_path / "old.pcap"
    path.write_bytes(bytes(data))
    _, frames = read_all(path)
    assert [(f.caplen, f.wirelen) for f in frames] == [(10, 60)]


# -- truncation ---------------------------------------------------------------------------


def _boundaries_pcap(data: bytes) -> set[int]:
    pos, out = 24, {24}
    while pos + 16 <= len(data):
        pos += 16 + struct.unpack_from("<I", data, pos + 8)[0]
        out.add(pos)
    return out


def _boundaries_pcapng(data: bytes) -> set[int]:
    pos, out, o = 0, {0}, "<"
    while pos + 8 <= len(data):
        if data[pos : pos + 4] == b"\x0a\x0d\x0d\x0a":  # an SHB sets the byte order
            o = "<" if data[pos + 8 : pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
        pos += struct.unpack_from(o + "I", data, pos + 4)[0]
        out.add(pos)
    return out


@pytest.mark.parametrize("kind", ["pcap", "pcapng"])
def test_truncated_at_every_offset(tmp_path, kind):
    if kind == "pcap":
        data = pcap_file(SAMPLE[:8])
        boundaries = _boundaries_pcap(data)
    else:
        data = multi_section_file()
        boundaries = _boundaries_pcapng(data)
    full = read_all(io.BytesIO(data))[1]
    path = tmp_path / "cut"
    for n in range(len(data) + 1):
        path.write_bytes(data[:n])
        if n < 4:  # too short to recognise: a format error, raised at open
            with pytest.raises(CaptureFormatError):
                open_capture(path)
            continue
        cap, frames = read_all(path)
        assert frames == full[: len(frames)], n
        # A cut on a record boundary looks like a complete file; any other cut is
        # reported once, and every record before it is delivered.
        if n in boundaries:
            assert cap.warnings == [], n
        else:
            assert len(cap.warnings) == 1, (n, cap.warnings)
            assert cap.warnings[0].startswith("truncated"), cap.warnings
            if not cap.warnings[0].startswith("truncated file header"):
                assert f"after {len(frames)} packets" in cap.warnings[0]
        expected = sum(1 for b in boundaries if b <= n) - (1 if kind == "pcap" else 0)
        if kind == "pcap":
            assert len(frames) == max(expected, 0), n


def test_truncation_message_format(tmp_path):
    data = pcap_file(SAMPLE[:3])
    cut = len(data) - 5
    path = tmp_path / "t.pcap"
    path.write_bytes(data[:cut])
    cap, frames = read_all(path)
    start = 24 + 2 * 16 + len(SAMPLE[0][1]) + len(SAMPLE[1][1])
    need = 16 + len(SAMPLE[2][1])
    assert len(frames) == 2
    assert cap.warnings == [
        f"truncated record at byte {start} after 2 packets: needed {need} bytes, have {need - 5}"
    ]


# -- wrong files, gzip, stdin -------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"HTTP/1.1 200 OK\r\n\r\nhello\n", "starts with 0x48545450"),
        (b"", "is empty"),
        (b"\xd4\xc3", "only 2 bytes"),
        (b"\x0a\x0d\x0d\x0a\x1c\0\0\0\x11\x22\x33\x44" + b"\0" * 16, "byte-order magic"),
        (gzip.compress(b"plain text, gzipped", mtime=0), "starts with 0x706c6169"),
    ],
)
def test_wrong_format_is_a_one_line_input_error(tmp_path, content, fragment):
    path = tmp_path / "foo.txt"
    path.write_bytes(content)
    with pytest.raises(CaptureFormatError) as info:
        open_capture(path)
    assert isinstance(info.value, InputError) and info.value.status == ExitStatus.ERROR
    assert fragment in info.value.message and "\n" not in info.value.message
    assert repr(str(path)) in info.value.message


def test_missing_file_and_directory_are_input_errors(tmp_path):
    for path in (tmp_path / "nope.pcap", tmp_path):
        with pytest.raises(InputError) as info:
            open_capture(path)
        assert not isinstance(info.value, CaptureFormatError)
        assert "cannot open" in info.value.message and "\n" not in info.value.message


def test_gzip_and_stdin(tmp_path):
    raw = pcap_file(SAMPLE)
    expected = read_all(io.BytesIO(raw))[1]
    gz = tmp_path / "x.pcap.gz"
    gz.write_bytes(gzip.compress(raw))
    cap, frames = read_all(gz)
    assert frames == expected and cap.warnings == []
    # Two gzip members one after the other (`cat a.gz b.gz`) are one stream.
    split = 24 + 16 + len(SAMPLE[0][1])
    gz.write_bytes(gzip.compress(raw[:split]) + gzip.compress(raw[split:]))
    assert read_all(gz)[1] == expected
    # A cut gzip stream: the complete records, one warning that says why.
    gz.write_bytes(gzip.compress(raw)[:-40])
    cap, frames = read_all(gz)
    assert frames == expected[: len(frames)] and len(cap.warnings) == 1
    assert "gzip" in cap.warnings[0]
    # '-' is stdin, compressed or not.
    script = (
        "import sys\nfrom netlab.capture import open_capture\n"
        "with open_capture('-') as c:\n    print(sum(1 for _ in c), c.format, c.warnings)\n"
    )
    for payload in (raw, gzip.compress(raw)):
        proc = subprocess.run(
            [sys.executable, "-c", script], input=payload, capture_output=True, timeout=60
        )
        assert proc.stdout.decode().split() == [str(len(SAMPLE)), "pcap", "[]"], proc.stderr


def test_stdin_pipe_streams_before_eof():
    """`tcpdump -w - | netlab dissect -`: frames arrive while the writer is still writing."""
    raw = pcap_file(SAMPLE[:2])
    read_fd, write_fd = os.pipe()
    os.write(write_fd, raw)
    with os.fdopen(read_fd, "rb") as stream, open_capture(stream) as cap:
        got = [next(cap), next(cap)]  # would block forever if the reader waited for a full chunk
        os.close(write_fd)
        assert [f.data for f in got] == [d for _, d in SAMPLE[:2]]
        assert list(cap) == []


# -- real captures recorded on loopback ----------------------------------------------------


# The recordings' own loopback address: the other tests' traffic on lo (127.0.0.1,
# run beside these in the suite) stays out of them through the capture filter.
OWN = "127.0.0.7"


def _loopback_traffic(stop: threading.Event) -> None:
    """ping, UDP datagrams of assorted sizes and a TCP transfer, all on OWN."""
    ping = shutil.which("ping")
    if ping:
        subprocess.run([ping, "-n", "-c", "3", "-i", "0.2", OWN], capture_output=True)
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind((OWN, 0))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx, rx:
        for size in (0, 1, 2, 3, 100, 1000, 1473, 9000, 20000, 60000):
            tx.sendto(b"u" * size, rx.getsockname())
    with socket.create_server((OWN, 0)) as srv:
        client = socket.create_connection(srv.getsockname())
        conn, _ = srv.accept()
        client.sendall(b"t" * 100_000)
        client.close()
        while conn.recv(65536):
            pass
        conn.close()
    while not stop.wait(0.2):  # keep tcpdump -c fed until it has enough
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            tx.sendto(b"keepalive", (OWN, 9))


def _record_loopback(path: Path, extra: list[str], count: int = 40) -> None:
    tcpdump = require_tool("tcpdump")
    cmd = [tcpdump, "-i", "lo", "-n", "-U", "-Z", "root", "-c", str(count), "-w", str(path)]
    proc = subprocess.Popen(
        [*cmd, *extra, "host", OWN], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    stop = threading.Event()
    traffic = threading.Thread(target=_loopback_traffic, args=(stop,))
    try:
        # Traffic starts once tcpdump says it is listening, or nothing is captured.
        deadline = time.monotonic() + 10
        line = b""
        while b"listening on" not in line and time.monotonic() < deadline:
            if select.select([proc.stderr], [], [], 0.5)[0]:
                line = proc.stderr.readline()
                if not line:
                    break
        assert b"listening on" in line, line
        traffic.start()
        proc.wait(timeout=30)
    finally:
        stop.set()
        if proc.poll() is None:
            proc.terminate()  # our own child, by its pid
            proc.wait(timeout=10)
        proc.stderr.close()
        if traffic.ident is not None:
            traffic.join(timeout=30)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> dict[str, Path]:
    """Real loopback captures in every format variant netlab is expected to read."""
    require_root()
    editcap = require_tool("editcap")
    require_tool("tshark")
    d = tmp_path_factory.mktemp("recorded")
    files = {"us.pcap": d / "us.pcap", "ns.pcap": d / "ns.pcap", "snap.pcap": d / "snap.pcap"}
    _record_loopback(files["us.pcap"], [])
    _record_loopback(files["ns.pcap"], ["--time-stamp-precision", "nano"])
    _record_loopback(files["snap.pcap"], ["-s", "96"])

    def convert(name: str, src: str, *args: str) -> None:
        files[name] = d / name
        subprocess.run([editcap, *args, str(files[src]), str(files[name])], check=True)

    convert("us.pcapng", "us.pcap", "-F", "pcapng")
    convert("ns.pcapng", "ns.pcap", "-F", "pcapng")
    convert("snap.pcapng", "snap.pcap", "-F", "pcapng")
    convert("back.pcap", "ns.pcapng", "-F", "pcap")  # ns -> µs
    convert("nsec.pcap", "us.pcapng", "-F", "nsecpcap")  # µs -> ns
    convert("comments.pcapng", "ns.pcapng", "-a", "1:first", "-a", "3:third ✓")
    for name in ("us.pcap", "ns.pcap"):
        big = d / f"be-{name}"
        big.write_bytes(pcap_to_big_endian(files[name].read_bytes()))
        files[f"be-{name}"] = big
    for name in ("us.pcap", "ns.pcapng"):
        gz = d / f"{name}.gz"
        subprocess.run(["gzip", "-k", str(files[name])], check=True)
        files[f"{name}.gz"] = gz
    return files


RECORDED = [
    "us.pcap",
    "ns.pcap",
    "snap.pcap",
    "us.pcapng",
    "ns.pcapng",
    "snap.pcapng",
    "back.pcap",
    "nsec.pcap",
    "comments.pcapng",
    "be-us.pcap",
    "be-ns.pcap",
    "us.pcap.gz",
    "ns.pcapng.gz",
]


@pytest.mark.parametrize("name", RECORDED)
def test_recorded_loopback_matches_tshark(recorded, name):
    path = recorded[name]
    cap, frames = read_all(path)
    assert cap.warnings == []
    assert len(frames) == 40 == capinfos_count(path)
    assert_same_as_tshark(path, frames)
    assert {f.linktype for f in frames} == {LINKTYPE_ETHERNET}
    if "snap" in name:
        assert max(f.caplen for f in frames) == 96 < max(f.wirelen for f in frames)
    if name.startswith("ns") or name == "nsec.pcap":
        assert cap.interfaces[0].ts_per_second == 10**9
    if name == "comments.pcapng":
        assert [f.comment for f in frames[:3]] == ["first", None, "third ✓"]


def test_recorded_formats_agree_with_each_other(recorded):
    """The same packets in pcap, pcapng, big-endian and gzip: the same frames."""
    base = [(f.ts_ns, f.caplen, f.wirelen, f.data) for f in read_all(recorded["ns.pcap"])[1]]
    for name in ("ns.pcapng", "be-ns.pcap", "ns.pcapng.gz"):
        got = [(f.ts_ns, f.caplen, f.wirelen, f.data) for f in read_all(recorded[name])[1]]
        assert got == base, name
    as_us = [(ts // 1000 * 1000, *rest) for ts, *rest in base]
    got = [(f.ts_ns, f.caplen, f.wirelen, f.data) for f in read_all(recorded["back.pcap"])[1]]
    assert got == as_us


def test_dumpcap_pcapng(tmp_path):
    """A pcapng written by Wireshark's own capture engine (SHB/IDB options, ISBs at the end)."""
    require_root()
    dumpcap = require_tool("dumpcap")
    path = tmp_path / "dumpcap.pcapng"
    proc = subprocess.Popen(
        [dumpcap, "-q", "-i", "lo", "-c", "20", "-f", f"host {OWN}", "-w", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stop = threading.Event()
    traffic = threading.Thread(target=_loopback_traffic, args=(stop,))
    try:
        time.sleep(1.0)  # dumpcap has no "listening" line with -q; traffic keeps coming anyway
        traffic.start()
        proc.wait(timeout=30)
    finally:
        stop.set()
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)
        if traffic.ident is not None:
            traffic.join(timeout=30)
    cap, frames = read_all(path)
    assert cap.warnings == [] and len(frames) == 20 == capinfos_count(path)
    assert cap.interfaces[0].name == "lo"
    assert_same_as_tshark(path, frames)


# -- the tcpdump test corpus -----------------------------------------------------------------


def _corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.glob("*") if p.suffix in (".pcap", ".pcapng"))


@pytest.mark.slow
def test_tcpdump_corpus_counts_match_wireshark_and_libpcap():
    files = _corpus_files()
    if not files:
        pytest.skip(f"no corpus at {CORPUS}")
    capinfos = require_tool("capinfos")
    tcpdump = require_tool("tcpdump")
    # One capinfos run for all files; it leaves out those it cannot read.
    proc = subprocess.run(
        [capinfos, "-c", "-M", "-T", "-r", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    counts = {}
    for line in proc.stdout.splitlines():
        name, _, count = line.rpartition("\t")
        counts[Path(name).name] = int(count)
    agree_ws = agree_libpcap = 0
    mismatches = []
    for path in files:
        start = time.perf_counter()
        try:
            cap, frames = read_all(path)
        except CaptureFormatError:
            mismatches.append((path.name, "CaptureFormatError"))
            continue
        elapsed = time.perf_counter() - start
        assert elapsed < 2, (path.name, elapsed)
        if path.name in counts:
            oracle = counts[path.name]
            agree_ws += len(frames) == oracle
        else:
            # Wireshark refuses some link types (DSA tags, MFR); libpcap reads them.
            out = subprocess.run(
                [tcpdump, "--count", "-r", str(path)], capture_output=True, text=True, timeout=60
            )
            oracle = int(out.stdout.split()[0]) if out.returncode == 0 else None
            agree_libpcap += len(frames) == oracle
        if len(frames) != oracle or cap.warnings:
            mismatches.append((path.name, len(frames), oracle, cap.warnings))
    print(
        f"corpus: {len(files)} files, {agree_ws} agree with capinfos, "
        f"{agree_libpcap} with tcpdump --count, {len(mismatches)} differ"
    )
    assert mismatches == []


@pytest.mark.slow
def test_tcpdump_corpus_mutations_never_raise():
    """Every corpus file cut and bit-flipped at a few places: never an exception."""
    files = _corpus_files()
    if not files:
        pytest.skip(f"no corpus at {CORPUS}")
    for path in files:
        data = path.read_bytes()
        for cut in {len(data) // 3, len(data) // 2, len(data) - 1, 30}:
            variants = [data[:cut], bytearray(data)]
            if cut < len(data):
                variants[1][cut] ^= 0xFF
            for variant in variants:
                try:
                    with open_capture(io.BytesIO(bytes(variant))) as cap:
                        for _ in cap:
                            pass
                        assert len(cap.warnings) <= 2
                except CaptureFormatError:
                    assert cut < 24 or variant is variants[1]


# -- fuzzing ---------------------------------------------------------------------------------

_SEEDS = [
    pcap_file(SAMPLE[:4]),
    pcap_file(SAMPLE[:4], ">", True),
    multi_section_file(),
]


def _must_not_raise(data: bytes) -> None:
    tracemalloc.start()
    try:
        try:
            cap = open_capture(io.BytesIO(data))
        except CaptureFormatError as exc:
            assert "\n" not in exc.message
            return
        with cap:
            for frame in cap:
                assert len(frame.data) == frame.caplen <= 262144
            assert len(cap.warnings) <= 2
        assert tracemalloc.get_traced_memory()[1] < 4 << 20
    finally:
        tracemalloc.stop()


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_fuzz_random_bytes(data):
    _must_not_raise(data)


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000), st.sampled_from(["<", ">"]), st.booleans())
def test_fuzz_random_bytes_after_a_valid_header(tail, order, ng):
    head = ng_shb(order) + ng_idb(order, 1) if ng else pcap_file([], order)
    _must_not_raise(head + tail)


@settings(max_examples=400, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(_SEEDS),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8),
    st.integers(0, 10_000),
)
def test_fuzz_mutated_valid_files(seed, flips, cut):
    data = bytearray(seed)
    for offset, value in flips:
        data[offset % len(data)] = value
    _must_not_raise(bytes(data[: max(cut, 4)]))
