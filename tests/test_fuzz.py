"""One fuzzing target per input surface (issue 22), run in-process with hypothesis.

Surfaces: CLI option values (numbers, interface names, addresses and prefixes, ports,
capture filters), display filters, capture files (HTTP/1.1 and h2c among the seeds),
topology files, the bytes a DNS or TCP peer sends, and an HTTP stream as the dissector
reassembles it (HTTP/1.x on port 80, HTTP/2 behind its preface on any port). Each
target states what may come out of hostile input — a clean
`InputError`/usage error, a "malformed" mark, or a result — and anything else (a crash,
a hang past the per-case deadline) is a finding.

`make test` runs a small budget of each (FUZZ_EXAMPLES, default 150 per surface);
`make fuzz` runs the long campaign (FUZZ_EXAMPLES=100000) and prints the cases run.
Nothing here sends a packet: the DNS and TCP peers are fed to the sans-I/O cores.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import itertools
import os
import struct
from datetime import timedelta
from pathlib import Path

import click
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netlab.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=5),  # a case that takes longer is a hang: a finding
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=EXAMPLES <= 1000,  # CI: the same cases every run; the campaign explores
    database=None,
)


# --- CLI option values ------------------------------------------------------------------------
def _parse_only(command: str, args: list[str]) -> None:
    """Parse ARGS for COMMAND as the CLI would, without running it: only a usage error
    (click's) or success may come out."""
    from netlab.cli.main import cli

    group_ctx = cli.make_context("netlab", [command], resilient_parsing=True)
    cmd = cli.get_command(group_ctx, command)
    with contextlib.suppress(click.UsageError, click.BadParameter, InputError,
                             click.exceptions.Exit):  # fmt: skip
        cmd.make_context(command, list(args), parent=group_ctx)


NUMBER_TEXT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.text(alphabet="0123456789.eE+-xXinfaINF_ ", max_size=12),
)
OPTIONS = [
    ("ping", "-i"), ("ping", "-W"), ("ping", "-w"), ("ping", "-s"), ("ping", "-t"),
    ("ping", "-c"), ("traceroute", "--interval"), ("traceroute", "-w"), ("traceroute", "-q"),
    ("traceroute", "-m"), ("traceroute", "-p"), ("tcp-handshake", "--hold"),
    ("tcp-handshake", "--rate"), ("tcp-handshake", "--tries"), ("dns-query", "--timeout"),
    ("dns-query", "--bufsize"), ("dns-query", "-p"), ("sniff", "--timeout"), ("sniff", "-s"),
    ("arp", "-i"), ("arp", "-W"), ("arp", "-w"), ("arp", "--rate"), ("arp", "--backoff"),
    ("dissect", "-j"), ("dissect", "-c"), ("dissect", "--packet"),
]  # fmt: skip


@FUZZ
@given(option=st.sampled_from(OPTIONS), value=NUMBER_TEXT)
def test_fuzz_cli_numbers(option, value):
    command, flag = option
    _parse_only(command, [flag, value, "127.0.0.1"])


@FUZZ
@given(name=st.text(max_size=24))
def test_fuzz_cli_interface_names(name):
    for command, flag in (("ping", "-I"), ("sniff", "-i"), ("arp", "-I"), ("traceroute", "-i")):
        _parse_only(command, [flag, name, "127.0.0.1"])


@FUZZ
@given(text=st.one_of(
    st.text(alphabet="0123456789abcdef.:/%x ", max_size=48),
    st.builds(lambda a, n: f"{a}/{n}", st.ip_addresses().map(str), st.integers(-5, 200)),
    st.text(max_size=40),
))  # fmt: skip
def test_fuzz_addresses_and_prefixes(text):
    """`cidr` (and the address check of ping/traceroute) against ipaddress as the oracle."""
    from netlab.core.cidr import parse_prefix

    try:
        prefix = parse_prefix(text)
    except InputError:  # one clean line: cli/main's fail() folds and escapes the text
        return
    net = ipaddress.ip_network(text, strict=False)  # what we accept, ipaddress accepts
    assert prefix.prefixlen == net.prefixlen and prefix.version == net.version


@FUZZ
@given(spec=st.text(alphabet="0123456789,- ", max_size=30))
def test_fuzz_port_lists(spec):
    from netlab.core.tcp_scan import parse_ports

    try:
        ports = parse_ports(spec)
    except InputError:
        return
    assert ports and all(1 <= p <= 65535 for p in ports) and len(ports) == len(set(ports))


CAPTURE_WORDS = ["tcp", "udp", "icmp", "port", "host", "and", "or", "not", "(", ")", "80",
                 "198.18.0.1", "net", "198.18.0.0/15", "ip6", "arp", "src", "dst", "[", "]",
                 "&", "0x10", "==", "len", ">", "ether", "proto"]  # fmt: skip


@FUZZ
@given(words=st.lists(st.sampled_from(CAPTURE_WORDS), max_size=12))
def test_fuzz_capture_filters(words):
    """libpcap's compiler through ours: a program or one clean error line."""
    from netlab.capture import bpf

    try:
        program = bpf.compile_filter(" ".join(words), 1)
    except InputError:
        return
    assert 1 <= len(program) <= 4096


# --- display filters ------------------------------------------------------------------------------
FILTER_WORDS = ["tcp", "udp", "ip.src", "ip.ttl", "tcp.port", "dns.qry.name", "eth.dst",
                "frame", "==", "!=", ">", "<=", "&&", "||", "!", "(", ")", "in", "{", "}",
                "..", ",", "contains", "80", "198.18.0.1", "ff:ff:ff:ff:ff:ff", '"a"',
                "1e9", "-1", "tcp.flags.syn", "and", "or", "not", "ip.addr", "0x10"]  # fmt: skip


@pytest.fixture(scope="module")
def sample_packets():
    from netlab.capture.reader import open_capture
    from netlab.dissect import Dissector

    dissector = Dissector()
    packets = []
    with open_capture(ROOT / "pcaps" / "tcp-udp.pcap") as cap:
        for no, f in enumerate(cap, 1):
            packets.append(dissector.dissect(no, f.ts_ns, f.data, f.wirelen, f.linktype))
    return packets


@FUZZ
@given(words=st.lists(st.sampled_from(FILTER_WORDS), min_size=1, max_size=14),
       noise=st.text(max_size=6))  # fmt: skip
def test_fuzz_display_filters(sample_packets, words, noise):
    from netlab.dissect.filter import compile_filter

    text = " ".join(words) + noise
    try:
        compiled = compile_filter(text)
    except InputError:
        return
    for pkt in sample_packets:
        assert compiled.matches(pkt) in (True, False)


# --- capture files --------------------------------------------------------------------------------
SEEDS = [(ROOT / "pcaps" / name).read_bytes()
         for name in ("tcp-udp.pcap", "arp-ping.pcapng", "http.pcapng")]  # fmt: skip


@FUZZ
@given(seed=st.sampled_from(SEEDS), flips=st.lists(st.tuples(st.integers(0, 10**6),
       st.integers(0, 255)), max_size=12), cut=st.integers(0, 10**6))  # fmt: skip
def test_fuzz_capture_files(seed, flips, cut):
    """Mutated real captures: open cleanly or refuse in one line; every frame decodes to
    layers or a malformed mark; the reader's memory is bounded by MAX_CAPLEN."""
    from netlab.capture.reader import MAX_CAPLEN, open_capture
    from netlab.dissect import Dissector

    data = bytearray(seed[: max(0, len(seed) - cut % (len(seed) + 1))])
    for pos, value in flips:
        if data:
            data[pos % len(data)] = value
    try:
        cap = open_capture(io.BytesIO(bytes(data)))
    except InputError:
        return
    dissector = Dissector()
    with cap:
        for no, f in enumerate(cap, 1):
            assert f.caplen <= MAX_CAPLEN
            pkt = dissector.dissect(no, f.ts_ns, f.data, f.wirelen, f.linktype)
            assert pkt.layers
            assert no < 10_000


# --- an HTTP stream, cut into segments -----------------------------------------------------------
def _http_seeds() -> list[bytes]:
    import hpack

    def frame(ftype: int, flags: int, sid: int, payload: bytes) -> bytes:
        return (
            struct.pack("!I", len(payload))[1:]
            + bytes([ftype, flags])
            + struct.pack("!I", sid)
            + payload
        )

    block = hpack.Encoder().encode([(":method", "GET"), (":path", "/"), (":scheme", "http"),
                                    (":authority", "a"), ("user-agent", "fuzz")])  # fmt: skip
    h1 = (
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    )
    h2 = (
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        + frame(4, 0, 0, struct.pack("!HI", 1, 100))
        + frame(1, 0x05, 1, block[:6])
        + frame(9, 0x04, 1, block[6:])
        + frame(0, 0x09, 1, b"\x02data\0\0")
        + frame(7, 0, 0, bytes(8))
    )
    return [h1, h2]


HTTP_SEEDS = _http_seeds()


@FUZZ
@given(seed=st.sampled_from(HTTP_SEEDS), flips=st.lists(st.tuples(st.integers(0, 500),
       st.integers(0, 255)), max_size=8), cuts=st.lists(st.integers(1, 500), max_size=8),
       port=st.sampled_from([80, 8080, 5000]), close=st.booleans())  # fmt: skip
def test_fuzz_http_streams(seed, flips, cuts, port, close):
    """HTTP/1.x and HTTP/2 bytes, damaged and cut anywhere into segments of one TCP
    stream: every segment decodes to layers or a malformed mark (never a decoder bug),
    and nothing pending outgrows its bound."""
    from netlab.dissect import Dissector
    from netlab.render.packets import json_record, tree_lines

    data = bytearray(seed)
    for pos, value in flips:
        data[pos % len(data)] = value
    bounds = sorted({c % len(data) for c in cuts} | {0, len(data)})
    pieces = [bytes(data[a:b]) for a, b in itertools.pairwise(bounds) if b > a]
    d = Dissector()
    seq = 1000
    for no, piece in enumerate(pieces + ([b""] if close else []), 1):
        flags = 0x11 if not piece else 0x18
        tcp = struct.pack("!HHIIHHHH", 40000, port, seq, 1, 5 << 12 | flags, 65535, 0, 0) + piece
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0,
                         bytes([127, 0, 0, 1]), bytes([127, 0, 0, 2]))  # fmt: skip
        frame = bytes(12) + b"\x08\x00" + ip + tcp
        seq += len(piece)
        pkt = d.dissect(no, no, frame, len(frame), 1)
        json_record(pkt)
        tree_lines(pkt)
        marks = [pkt.malformed or ""] + [layer.malformed or "" for layer in pkt.layers]
        assert not [m for m in marks if "decoder error" in m or "cannot build fields" in m]
    for stream in d.tcp.streams.values():
        assert all(len(x.pending or b"") <= 1 << 20 for x in stream.dirs)


# --- topology files -------------------------------------------------------------------------------
TOPO_SEED = (ROOT / "labs" / "routed.toml").read_text(encoding="utf-8")
TOPO_LINES = TOPO_SEED.splitlines()


@FUZZ
@given(drops=st.lists(st.integers(0, len(TOPO_LINES) - 1), max_size=6),
       inserts=st.lists(st.tuples(st.integers(0, len(TOPO_LINES)), st.text(max_size=30)),
                        max_size=4))  # fmt: skip
def test_fuzz_topology_files(drops, inserts):
    """A topology with lines dropped or garbage put in: a topology or one `file:line:`
    error, never anything else."""
    from netlab.lab.topology import parse_topology

    lines = [line for i, line in enumerate(TOPO_LINES) if i not in set(drops)]
    for at, text in inserts:
        lines.insert(min(at, len(lines)), text)
    try:
        topo = parse_topology("\n".join(lines), source="fuzz.toml")
    except InputError as err:
        assert str(err).startswith("fuzz.toml:")
        return
    assert topo.nodes


# --- what a DNS peer sends ------------------------------------------------------------------------
def _dns_query():
    from netlab.core.dns import Query

    return Query("www.example.lab.", 1, "198.18.0.53", 53, 0x1234, rd=True, edns=True,
                 bufsize=1232, dnssec=False)  # fmt: skip


def _dns_reply_seed() -> bytes:
    head = struct.pack("!6H", 0x1234, 0x8180, 1, 1, 0, 0)
    qname = b"\x03www\x07example\x03lab\x00"
    answer = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04" + bytes([198, 18, 0, 80])
    return head + qname + b"\x00\x01\x00\x01" + answer


DNS_SEED = _dns_reply_seed()


@FUZZ
@given(data=st.one_of(st.binary(max_size=600), st.builds(
    lambda flips: bytes(DNS_SEED[i] ^ flips.get(i, 0) for i in range(len(DNS_SEED))),
    st.dictionaries(st.integers(0, len(DNS_SEED) - 1), st.integers(1, 255), max_size=6))),
    over_tcp=st.booleans())  # fmt: skip
def test_fuzz_dns_peer_bytes(data, over_tcp):
    """A hostile server's datagram or stream: the exchange ends with a Response or a
    Failure (malformed named), or keeps waiting; never raises."""
    from netlab.core.dns import UDP, Exchange, Failure, Response

    ex = Exchange(_dns_query(), timeout=1.0, tries=1, tcp=over_tcp)
    actions = ex.start(0)
    conn = actions[0].conn
    if over_tcp:
        ex.on_connected(conn, None, 1)
        ex.on_data(conn, len(data).to_bytes(2, "big") + data, 2)
        ex.on_data(conn, b"", 3)
    else:
        assert conn == UDP
        ex.on_datagram(UDP, data, ("198.18.0.53", 53), 2)
    ex.on_timer(10**10)
    assert isinstance(ex.result, Response | Failure)


# --- what a TCP peer sends ------------------------------------------------------------------------
@FUZZ
@given(segments=st.lists(st.tuples(st.integers(0, 0xFF), st.integers(0, 2**32 - 1),
       st.integers(0, 2**32 - 1), st.binary(max_size=40), st.binary(max_size=60)),
       min_size=1, max_size=8))  # fmt: skip
def test_fuzz_tcp_peer_segments(segments):
    """Segments with any flags, numbers, options and payload, fed to the handshake core:
    it keeps to its states and its timers, and never raises."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    from netlab.core.tcp_handshake import Conn, TcpHandshakeCore
    from netlab.wire.link import LinkFrame

    conn = Conn(4, "198.18.0.1", 40000, "198.18.0.2", 7, 1460)
    core = TcpHandshakeCore(conn, isn=1000, ts_base=5, tries=2, hold=0.1)
    core.start(0)
    now = 1000
    for flags, seq, ack, options, payload in segments:
        raw_tcp = bytes(TCP(sport=7, dport=40000, flags=flags, seq=seq, ack=ack) / payload)
        opts = options[: 40 // 4 * 4]
        offset = (20 + len(opts)) // 4
        raw_tcp = raw_tcp[:12] + bytes([offset << 4]) + raw_tcp[13:20] + opts + raw_tcp[20:]
        frame = bytes(Ether() / IP(src="198.18.0.2", dst="198.18.0.1", proto=6)) + raw_tcp
        now += 10_000_000
        core.on_packet(LinkFrame(frame, now), now)
        if core.deadline() is not None and core.deadline() <= now:
            core.on_timer(now)
        core.pop_events()
    core.interrupt(now)
    assert core.done()
