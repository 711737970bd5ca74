"""The dissector against tshark (field by field), on every tcpdump test capture, and fuzzed."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netlab.capture.reader import open_capture
from netlab.dissect import Dissector
from netlab.render.packets import json_record, tree_lines
from tests.conftest import CORPUS, ROOT, netlab_bin, require_tool, tshark_samples

PCAPS = sorted((ROOT / "pcaps").glob("*.pcap*"))

# Fields compared with tshark, value by value (the list).
FIELDS = [
    "eth.src", "eth.dst", "ip.src", "ip.dst", "ip.ttl", "ip.proto", "ipv6.src", "ipv6.dst",
    "tcp.srcport", "tcp.dstport", "tcp.seq", "tcp.ack", "tcp.flags", "tcp.stream",
    "udp.srcport", "udp.dstport", "icmp.type", "icmp.code", "icmpv6.type", "icmpv6.code",
    "arp.opcode", "arp.src.hw_mac", "arp.src.proto_ipv4", "arp.dst.hw_mac", "arp.dst.proto_ipv4",
    "dns.id", "dns.flags", "dns.qry.name", "dns.qry.type", "dns.a", "dns.aaaa", "dns.cname",
    "dns.ns", "dns.count.answers", "dns.count.auth_rr", "dns.resp.ttl", "dns.mx.mail_exchange",
    "dns.soa.mname", "dns.length", "dns.response_to", "dns.time", "dns.retransmit_request_in",
    "dns.retransmit_response_in", "dns.unsolicited",
]  # fmt: skip


def tshark_fields(
    path: Path, options: tuple[str, ...] = (), check: bool = True
) -> list[dict[str, list[str]]]:
    """tshark's FIELDS per packet; `options` go before -r (e.g. "-o", "pref:value")."""
    return [field_row(FIELDS, values) for values in tshark_texts(path, FIELDS, options, check)]


def tshark_texts(path: Path, names: list[str], options: tuple[str, ...] = (),
                 check: bool = True) -> list[list[str]]:  # fmt: skip
    """Per packet, tshark's -T fields text of each of NAMES (occurrences joined by ",")."""
    tshark = require_tool("tshark")
    cmd = [tshark, *options, "-n", "-r", str(path), "-T", "fields", "-E", "separator=\t",
           "-E", "occurrence=a", "-E", "aggregator=,"]  # fmt: skip
    for name in names:
        cmd += ["-e", name]
    out = subprocess.run(cmd, capture_output=True, text=True, check=check).stdout
    return [line.split("\t") for line in out.splitlines()]


def field_row(names: list[str], values: list[str]) -> dict[str, list[str]]:
    """One packet of tshark_fields from its texts (the first len(NAMES) of VALUES)."""
    return {n: [_unhex(x) for x in v.split(",")] for n, v in zip(names, values, strict=False) if v}


def _unhex(text: str) -> str:
    # tshark prints some integers in hex (tcp.flags 0x0002, dns.id 0x1a2b): compare numbers.
    return str(int(text, 16)) if text.startswith("0x") else text


def norm(name: str, value) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):  # FT_RELATIVE_TIME (dns.time): tshark prints nanoseconds
        return f"{value:.9f}"
    return str(value)


def netlab_fields(path: Path) -> list[dict[str, list[str]]]:
    out = subprocess.run([netlab_bin(), "dissect", "--json", str(path)], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    rows = []
    for line in out.splitlines():
        record = json.loads(line)
        if record["type"] != "packet":
            continue  # the closing summary line
        fields = record["fields"]
        row = {}
        for name in FIELDS:
            if name in fields:
                values = fields[name] if isinstance(fields[name], list) else [fields[name]]
                row[name] = [norm(name, v) for v in values]
        rows.append(row)
    return rows


def recorded_captures() -> list[Path]:
    return tshark_samples()  # (bt-tracker.pcapng: tshark 4.0 has no such dissector)


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


def mutated_sample(index: int, flips: list[tuple[int, int]], cut: int) -> tuple[bytes, int, int]:
    """(bytes, wirelen, linktype) of sample frame `index` with bytes overwritten at
    (position, value) pairs, then cut short: a damaged copy of a real packet."""
    linktype, data = SAMPLES[index]
    buf = bytearray(data)
    for pos, value in flips:
        if buf:
            buf[pos % len(buf)] = value
    return bytes(buf[: cut % (len(buf) + 1)]), len(data), linktype


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    index=st.integers(0, max(len(SAMPLES) - 1, 0)),
    flips=st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), max_size=8),
    cut=st.integers(0, 2000),
)
def test_mutated_real_packets_never_raise(index, flips, cut):
    pkt = Dissector().dissect(1, 0, *mutated_sample(index, flips, cut))
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
    assert proc.returncode == 2  # a damaged file, as tshark says ("cut short"): exit 2
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


# --- edge cases from the tcpdump corpus, each checked against tshark ----------------------


def eth(payload: bytes, etype: int = 0x0800) -> bytes:
    return b"\x02" * 6 + b"\x04" * 6 + struct.pack("!H", etype) + payload


def ipv4(payload: bytes, proto: int = 6, total: int | None = None, frag: int = 0, ver: int = 4):
    total = 20 + len(payload) if total is None else total
    return struct.pack("!BBHHHBBH4s4s", ver << 4 | 5, 0, total, 1, frag, 64, proto, 0,
                       bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])) + payload  # fmt: skip


def ipv6(payload: bytes, nxt: int = 6, plen: int | None = None) -> bytes:
    plen = len(payload) if plen is None else plen
    return struct.pack("!IHBB16s16s", 6 << 28, plen, nxt, 64, bytes(15) + b"\x01",
                       bytes(15) + b"\x02") + payload  # fmt: skip


def tcp(sport=1000, dport=2000, seq=100, ack=0, flags=0x10, payload=b"") -> bytes:
    return struct.pack("!HHIIHHHH", sport, dport, seq, ack, 5 << 12 | flags, 1000, 0, 0) + payload


def udp(payload: bytes, sport=40000, dport=40001, length: int | None = None) -> bytes:
    length = 8 + len(payload) if length is None else length
    return struct.pack("!HHHH", sport, dport, length, 0) + payload


def agree_with_tshark(tmp_path: Path, frames, linktype: int = 1, options=()) -> list[dict]:
    """Write frames (bytes, or (bytes, wire length)) to a capture; assert that netlab and
    tshark agree on FIELDS for every packet; return netlab's rows."""
    from netlab.capture.writer import PcapngWriter

    path = tmp_path / "case.pcapng"
    with PcapngWriter(path) as out:
        iface = out.add_interface(linktype)
        for i, frame in enumerate(frames):
            data, wirelen = frame if isinstance(frame, tuple) else (frame, None)
            out.write_packet(data, i * 1000, interface=iface, wirelen=wirelen)
    ours, theirs = netlab_fields(path), tshark_fields(path, options)
    for no, (a, b) in enumerate(zip(ours, theirs, strict=True), 1):
        assert a == b, f"packet {no}: netlab {a} != tshark {b}"
    return ours


def test_ipv4_total_length_zero_is_presumed_tso(tmp_path):
    # bigtcp-ipv4.pcap, ipv4_tcp_http_xml_tso.pcap, icmp-length-zero.pcapng
    echo = b"\x08\x00\x00\x00\x00\x01\x00\x01"
    frames = [eth(ipv4(tcp(payload=b"x" * 100), total=0)), eth(ipv4(echo, 1, total=0))]
    rows = agree_with_tshark(tmp_path, frames)
    assert rows[0]["tcp.srcport"] == ["1000"] and rows[1]["icmp.type"] == ["8"]
    pkt = Dissector().dissect(1, 0, eth(ipv4(tcp(), total=0)), 1054, 1)
    assert pkt.field_dict()["ip.len"] == 1040  # the reported length, as Wireshark shows it


def test_ipv6_payload_length_zero_is_presumed_tso(tmp_path):
    # bigtcp-ipv6.pcap, icmpv6-length-zero.pcapng: tshark agrees with ipv6.tso_support on
    frames = [eth(ipv6(tcp(payload=b"x" * 50), plen=0), 0x86DD)]
    rows = agree_with_tshark(tmp_path, frames, options=("-o", "ipv6.tso_support:TRUE"))
    assert rows[0]["tcp.srcport"] == ["1000"]


def test_udp_length_zero_over_ipv6_is_a_jumbogram():
    # RFC 2675 section 4, as Linux "BIG TCP" tunnels send it (bigtcp-ipv6-vxlan-ipv6.pcap)
    pkt = Dissector().dissect(1, 0, eth(ipv6(udp(b"x" * 20, length=0), nxt=17), 0x86DD), 82, 1)
    assert pkt.field_dict()["udp.length"] == 28 and pkt.malformed is None


def test_tcp_in_a_first_fragment_keeps_raw_numbers(tmp_path):
    # bgp_pmsi_tunnel-oobr.pcap, rpki-rtr-oobr.pcap: IP more-fragments set, datagram cut
    # short, so Wireshark cannot reassemble it and skips TCP sequence analysis.
    first = eth(ipv4(tcp(seq=5001, ack=9001, flags=0x18, payload=b"abc"), total=400, frag=0x2000))
    frames = [eth(ipv4(tcp(seq=5000, flags=0x02))),
              eth(ipv4(tcp(2000, 1000, seq=9000, ack=5001, flags=0x12))),
              (first, 414), eth(ipv4(tcp(seq=5001, ack=9001, payload=b"abc")))]  # fmt: skip
    rows = agree_with_tshark(tmp_path, frames)
    assert rows[2]["tcp.seq"] == ["5001"] and rows[3]["tcp.seq"] == ["1"]


def test_tcp_flags_include_the_reserved_bits(tmp_path):
    # babel_update_oobr.pcap, beep-oobr.pcap: tcp.flags is 12 bits wide
    rows = agree_with_tshark(tmp_path, [eth(ipv4(tcp(flags=0xF6A)))])
    assert rows[0]["tcp.flags"] == [str(0xF6A)]


def test_headers_cut_short_show_the_fields_that_are_there(tmp_path):
    # ipv4_invalid_length.pcap, ipv6_39_byte_header.pcap, tcp_header_heapoverflow.pcap,
    # udp-length-heapoverflow.pcap, rtp-seg-fault-1.pcapng (DNS header)
    dns = struct.pack("!6H", 0x309F, 0x122C, 2, 1, 0, 0)
    frames = [eth(ipv4(b"")[:18]), eth(ipv6(b"")[:39], 0x86DD), eth(ipv4(tcp()[:12], total=40)),
              eth(ipv4(udp(b"")[:6], 17, total=28)),
              eth(ipv4(udp(dns[:9], 40000, 53, length=100), 17))]  # fmt: skip
    rows = agree_with_tshark(tmp_path, frames)
    assert rows[0]["ip.ttl"] == ["64"] and "ip.dst" not in rows[0]
    assert "ipv6.src" in rows[1] and "ipv6.dst" not in rows[1]
    assert rows[2]["tcp.dstport"] == ["2000"] and rows[3]["udp.dstport"] == ["40001"]
    assert rows[4]["dns.count.answers"] == ["1"] and "dns.count.auth_rr" not in rows[4]


def test_bogus_ip_headers_stop_where_wireshark_stops(tmp_path):
    # kday1.pcap (IPv6 behind ethertype 0x0800), bad-ipv4-version-pgm-heapoverflow.pcap,
    # ipv4_invalid_total_length_2.pcap, ipv6-bad-version.pcap
    v6 = ipv6(tcp(), 6)
    frames = [eth(v6), eth(ipv4(tcp(), ver=5)), eth(ipv4(tcp(), total=19)),
              eth(b"\x00" + v6[1:], 0x86DD)]  # fmt: skip
    rows = agree_with_tshark(tmp_path, frames)
    assert rows[0]["ipv6.src"] == ["::1"] and rows[0]["tcp.srcport"] == ["1000"]
    assert not {"ip.src", "ipv6.src"} & (rows[1].keys() | rows[2].keys() | rows[3].keys())


def test_linktype_ipv6_holding_ipv4_is_a_bogus_ipv6_version(tmp_path):
    # LINKTYPE_IPV6_invalid.pcap; LINKTYPE_IPV4 with IPv6 still decodes the IPv6
    assert agree_with_tshark(tmp_path, [ipv4(udp(b"abc"), 17)], linktype=229) == [{}]
    rows = agree_with_tshark(tmp_path, [ipv6(udp(b"abc"), 17)], linktype=228)
    assert rows[0]["udp.srcport"] == ["40000"]


def dns_query(qname: bytes = b"\x03www\x07tcpdump\x03org\x00", flags: int = 0x0100) -> bytes:
    return struct.pack("!6H", 0x0143, flags, 1, 0, 0, 0) + qname + b"\x00\x01\x00\x01"


def test_dns_on_other_ports_is_found_by_the_heuristic(tmp_path):
    # dns_udp_8053.pcap: Wireshark's DNS heuristic, with the same header limits
    answer = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x8b\x2e\x42"
    response = bytearray(dns_query(flags=0x8180) + answer)
    response[7] = 1  # one answer
    frames = [eth(ipv4(udp(dns_query(), 43757, 8053), 17)),
              eth(ipv4(udp(bytes(response), 8053, 43757), 17))]  # fmt: skip
    rows = agree_with_tshark(tmp_path, frames)
    assert rows[0]["dns.qry.name"] == ["www.tcpdump.org"] and rows[1]["dns.a"] == ["192.139.46.66"]


def test_dns_heuristic_is_stricter_than_wireshark():
    from netlab.dissect.dns import dns_udp_heuristic

    def found(payload: bytes) -> bool:
        return dns_udp_heuristic(payload, 0, len(payload)) is not None

    assert found(dns_query())
    assert not found(dns_query(flags=0x1100))  # an opcode other than a standard query
    assert not found(dns_query()[:14])  # Wireshark takes this; it does not parse
    assert not found(dns_query() + b"junk")  # trailing bytes
    nbns = dns_query(b"\x20" + b"EOGFGLGPCACACACACACACACACACACAAA" + b"\x00", flags=0x0110)
    assert not found(nbns)  # NetBIOS name service (port 137) shares the format
    someip_sd = bytes.fromhex("ffff81000000004000000000") + bytes(64)
    assert not found(someip_sd)  # tcpdump's someip1.pcap, which tshark takes for DNS


def arp(htype: int = 1, ptype: int = 0x0800, hlen: int = 6) -> bytes:
    """An ARP request with a 4-byte protocol address of each side."""
    head = struct.pack("!HHBBH", htype, ptype, hlen, 4, 1)
    sender, target = bytes([192, 168, 1, 104]), bytes([192, 168, 1, 1])
    return head + bytes(range(1, hlen + 1)) + sender + bytes(hlen) + target


def test_arp_address_fields_follow_types_and_sizes(tmp_path):
    # arp-oobr.pcap, arp-too-long-tha.pcap: MAC and IPv4 fields only for the right type
    # and size; hardware type 19 is ATMARP, another layout
    frames = [eth(arp(**kw), 0x0806) for kw in (
        {}, {"htype": 6}, {"htype": 37}, {"htype": 513}, {"ptype": 0x9200}, {"hlen": 14},
        {"htype": 19},
    )]  # fmt: skip
    rows = agree_with_tshark(tmp_path, frames)
    assert rows[1]["arp.src.hw_mac"] == ["01:02:03:04:05:06"]
    assert "arp.src.hw_mac" not in rows[2] and rows[3]["arp.src.proto_ipv4"] == ["192.168.1.104"]
    assert "arp.src.proto_ipv4" not in rows[4] and rows[5]["arp.dst.proto_ipv4"] == ["192.168.1.1"]
    assert "arp.opcode" not in rows[6]


def _hex_rows(text: str) -> list[tuple[str, str, str]]:
    """(offset, hex bytes, ASCII) of each hex-dump row, spacing normalised."""
    rows = []
    for line in text.splitlines():
        m = re.match(r"^([0-9a-f]{4})  ((?:[0-9a-f]{2} {1,2})+)\s*(.*)$", line)
        if m:
            rows.append((m.group(1), " ".join(m.group(2).split()), m.group(3).rstrip()))
    return rows


@pytest.mark.parametrize("path", recorded_captures(), ids=lambda p: p.name)
def test_hex_view_has_tsharks_bytes_and_ascii(path):
    tshark = require_tool("tshark")
    theirs = subprocess.run([tshark, "-n", "-r", str(path), "-x"], capture_output=True,
                            text=True, check=True).stdout  # fmt: skip
    ours = subprocess.run([netlab_bin(), "dissect", "-x", str(path)], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip
    assert _hex_rows(theirs) and _hex_rows(ours) == _hex_rows(theirs)


@pytest.mark.parametrize("quoted", [8, 4], ids=["ports+seq", "ports"])
def test_short_tcp_header_quoted_in_icmp_error_matches_tshark(tmp_path, quoted):
    """An ICMP error quotes as little as 8 bytes of the TCP header (RFC 792): the ports and
    the sequence number as it is (tcp.seq: no conversation), as Wireshark shows them;
    with 4, the ports alone."""
    inner = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 1, 0, 64, 6, 0,
                        bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2]))  # fmt: skip
    tcp = struct.pack("!HHI", 40000, 80, 123456789)[:quoted]
    icmp = bytes([3, 3, 0, 0, 0, 0, 0, 0]) + inner + tcp
    outer = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 2, 0, 64, 1, 0,
                        bytes([198, 18, 0, 2]), bytes([198, 18, 0, 1]))  # fmt: skip
    frame = bytes(6) + bytes(5) + b"\x01" + b"\x08\x00" + outer + icmp
    path = tmp_path / "quoted.pcap"
    path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
                     + struct.pack("<IIII", 1, 0, len(frame), len(frame)) + frame)  # fmt: skip
    pkt = Dissector().dissect(1, 0, frame, len(frame), 1)
    fields = pkt.field_dict()
    assert not any(layer.malformed for layer in pkt.layers)
    tshark = require_tool("tshark")
    out = subprocess.run([tshark, "-n", "-r", str(path), "-T", "fields", "-E", "occurrence=a",
                          "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tcp.seq"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    theirs = out.strip().split("\t")
    ours = [str(fields.get(n, "")) for n in ("tcp.srcport", "tcp.dstport", "tcp.seq")]
    assert ours == theirs + [""] * (3 - len(theirs))
