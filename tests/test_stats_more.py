"""`dissect -z expert`, `dns,tree`, `http,tree`, `io,stat,…` columns and `follow,udp|tls|http2`
against tshark 4.0 run on the same files: the text must be tshark's, byte for byte.

The captures: every sample in pcaps/ (tshark_samples), and captures written here: DNS
transactions with retransmitted queries and responses, an unsolicited response, odd
names, types and classes, DNS over TCP and a query quoted in an ICMP error; HTTP/1
messages of every status class and several methods; a TLS conversation with its key
log (tests/tls_craft.py) for follow,tls.

Differences from tshark 4.0, each pinned by a test here (code: dissect/expert.py,
stats_tree.py, stats.py io,stat columns, follow.py):
- io,stat: a whole-second duration is printed "1.062038" where tshark prints
  "1. 62038" (the bug tests/test_stats_follow.py also fixes up). COUNT/SUM/MIN/MAX/AVG
  of a field are computed whether or not the column's filter names the field; tshark
  4.0 leaves the field out of its tree unless some filter names it, and prints 0
  (test_field_columns_are_computed_where_tshark_prints_zero). A filter in double
  quotes may hold commas (tshark refuses the quotes).
- expert: netlab's decoders keep no expert items of their own; the tap makes
  Wireshark's for IPv4 TTLs, TCP (connection flags, closing, sequence analysis), HTTP/1
  first lines, frame comments and malformed packets. Protocols netlab does not decode,
  or whose expert items it does not make (checksums, DNS retransmissions …), differ:
  EXPERT_CORPUS lists tcpdump corpus captures that agree in full.
"""

from __future__ import annotations

import json
import re
import struct
import subprocess
from pathlib import Path

import pytest

from tests.conftest import CORPUS, netlab_bin, require_tool, tshark_samples
from tests.test_dissect_http import conversation, request, write_pcap
from tests.tls_craft import Craft

http_request = request  # (the fixtures' own `request` is pytest's)

SAMPLES = tshark_samples()


def run_netlab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([netlab_bin(), "dissect", *args], capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def tshark(path: Path, spec: str, *extra: str) -> str:
    tool = require_tool("tshark")
    done = subprocess.run([tool, "-n", "-q", *extra, "-r", str(path), "-z", spec],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def netlab(path: Path, spec: str, *extra: str) -> str:
    done = run_netlab(*extra, "-z", spec, str(path))
    assert done.returncode == 0, done.stderr
    return done.stdout


def fix_duration(text: str) -> str:
    # tshark 4.0 pads a whole-second duration's microseconds with blanks ("1. 62038")
    return re.sub(r"(Duration: +\d+\.)([ \d]{6})", lambda m: m[1] + m[2].replace(" ", "0"), text)


def ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


# --- captures written here ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def dns_capture(tmp_path_factory) -> Path:
    """DNS transactions tshark's stats tree tells apart (see the module's doc)."""
    from scapy.all import DNS, DNSQR, DNSRR, ICMP, IP, TCP, UDP, Ether, wrpcap

    c, s = "198.18.0.10", "198.18.0.53"

    def query(t, ident, name, qtype=1, qclass=1, port=40000, opcode=0):
        q = DNS(id=ident, rd=1, opcode=opcode, qd=DNSQR(qname=name, qtype=qtype, qclass=qclass))
        return t, Ether() / IP(src=c, dst=s) / UDP(sport=port, dport=53) / q

    def answer(t, ident, name, rcode=0, port=40000, answers=1):
        an = [DNSRR(rrname=name, type=1, rdata="198.18.0.80")] if answers else []
        r = DNS(id=ident, qr=1, rd=1, ra=1, rcode=rcode, qd=DNSQR(qname=name), an=an)
        return t, Ether() / IP(src=s, dst=c) / UDP(sport=53, dport=port) / r

    def over_tcp(t, ident, qr, sport, dport, seq):
        msg = bytes(DNS(id=ident, qr=qr, qd=DNSQR(qname="tcp.a.lab", qtype=16)))
        payload = struct.pack("!H", len(msg)) + msg
        src, dst = (c, s) if dport == 53 else (s, c)
        return t, Ether() / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, seq=seq,
                                                      ack=1, flags="PA") / payload  # fmt: skip

    quoted = IP(src=c, dst=s) / UDP(sport=40001, dport=53) / DNS(id=7, qd=DNSQR(qname="q.lab"))
    steps = [
        query(0.000, 1, "www.a.lab"),
        answer(0.002, 1, "www.a.lab"),
        query(0.010, 2, "a.lab", qtype=15),
        query(1.010, 2, "a.lab", qtype=15),  # retransmitted within 5 s
        answer(1.012, 2, "a.lab", rcode=3, answers=0),
        answer(1.013, 2, "a.lab", rcode=3, answers=0),  # the response again
        answer(1.020, 99, "u.lab", port=40009),  # nobody asked
        query(1.030, 3, ".", qtype=255),
        query(1.031, 4, "x.y.z.w.lab", qtype=28),
        query(1.032, 5, "version.bind", qtype=999, qclass=3),
        query(1.033, 6, "a.lab", qtype=6, opcode=4),
        over_tcp(1.5, 8, 0, 41000, 53, 1),
        over_tcp(1.6, 8, 1, 53, 41000, 1),
        (2.0, Ether() / IP(src=s, dst=c) / ICMP(type=3, code=3) / quoted),
        query(8.000, 2, "a.lab", qtype=15),  # the ID again, long after: a new transaction
        answer(8.001, 2, "a.lab"),
    ]
    frames = []
    for t, pkt in steps:
        pkt.time = 1_700_000_000 + t
        frames.append(pkt)
    path = tmp_path_factory.mktemp("dns") / "dns-cases.pcap"
    wrpcap(str(path), frames)
    return path


def _response(code: int, phrase: bytes, body: bytes = b"") -> bytes:
    return b"HTTP/1.1 %d %s\r\nContent-Length: %d\r\n\r\n%s" % (code, phrase, len(body), body)


@pytest.fixture(scope="module")
def http_capture(tmp_path_factory) -> Path:
    """HTTP/1 requests by several methods, responses of every class and a broken one."""
    post = b"POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi"
    steps = [
        ("c", request()), ("s", _response(301, b"Moved Permanently")),
        ("c", post), ("s", _response(201, b"Created", b"ok")),
        ("c", b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"), ("s", _response(200, b"OK")),
        ("c", request(b"/teapot")), ("s", _response(418, b"I'm a teapot")),
        ("c", request(b"/boom")), ("s", _response(503, b"Service Unavailable")),
        ("c", b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), ("s", _response(799, b"Odd")),
    ]  # fmt: skip
    return write_pcap(tmp_path_factory.mktemp("http") / "http-cases.pcap", conversation(steps))


@pytest.fixture(scope="module", params=[False, True], ids=["tls12", "tls13"])
def tls_capture(request, tmp_path_factory) -> tuple[Path, Path]:
    """A TLS conversation carrying an HTTP/1 exchange over several records, and its
    key log."""
    c = Craft(tls13=request.param)
    body = b"HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n" + b"x" * 300
    steps = [*c.handshake_steps(), ("c", c.app("c", http_request())),
             ("s", c.apps("s", body, 90))]  # fmt: skip
    where = tmp_path_factory.mktemp("tls")
    path = write_pcap(where / "tls-app.pcap", conversation(steps, port=4433))
    keys = where / "keys.txt"
    keys.write_text(c.keylog())
    return path, keys


# --- expert --------------------------------------------------------------------------------------

# tcpdump corpus captures whose -z expert agrees with tshark's in full (and says
# something): TCP connections (SYN, FIN, closing, RST), HTTP first lines, IPv4 TTL
# notes, malformed DNS and Ethernet. Most of the others hold protocols netlab does not
# decode, or items it does not make (the module's doc).
EXPERT_CORPUS = [
    "accecn_handshake.pcap", "bgp-bfd-cease.pcap", "ipv4_tcp_http_xml_tso.pcap",
    "mptcp-aa-v1.pcap", "mptcp-tcprst.pcap", "print-flags.pcap", "resp_2_inline.pcap",
    "whois.pcap", "zmtp1.pcap", "EIGRP_adjacency.pcap", "OLSRv1_HNA_sgw_1.pcap",
    "dns_fwdptr.pcap", "icmp6_mobileprefix_asan.pcap",
]  # fmt: skip


def _segment(src, dst, sport, dport, seq, ack, flags, payload=b"", win=65535, urgent=0):
    tcp = struct.pack("!HHIIHHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      (5 << 12) | flags, win, 0, urgent) + payload  # fmt: skip
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0,
                     bytes(src), bytes(dst))  # fmt: skip
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + tcp


@pytest.fixture(scope="module")
def analysis_capture(tmp_path_factory) -> Path:
    """TCP segments that make Wireshark's sequence-analysis items: a segment never
    captured, duplicate ACKs, a fast retransmission, a zero window, its probe and the
    probe's ACK, a window update, a keep-alive and its ACK; an urgent pointer without
    URG, an ACK number without ACK, a reset. Port 33333: no dissector above TCP."""
    c_addr, s_addr, port = (10, 0, 0, 1), (10, 0, 0, 2), 33333

    def c(seq, data=b"", flags=0x18):
        return _segment(c_addr, s_addr, 40000, port, 1000 + seq, 5001, flags, data)

    def s(ack, win=65535):
        return _segment(s_addr, c_addr, port, 40000, 5001, 1000 + ack, 0x10, b"", win)

    data = b"x" * 100
    frames = [
        _segment(c_addr, s_addr, 40000, port, 1000, 0, 0x02),
        _segment(s_addr, c_addr, port, 40000, 5000, 1001, 0x12), c(1, flags=0x10),
        c(1, data), s(101), c(201, data), s(101), c(301, data), s(101), s(101), s(101),
        c(101, data), s(401, win=0), c(401, b"y"), s(401, win=0), s(401, win=8192),
        c(400, b"z"), s(401, win=8192),
        _segment(c_addr, s_addr, 40000, port, 1401, 5001, 0x08, b"u", urgent=7),
        _segment(s_addr, c_addr, port, 40000, 5001, 1402, 0x04),
    ]  # fmt: skip
    return write_pcap(tmp_path_factory.mktemp("tcp") / "analysis.pcap", frames)


@pytest.mark.parametrize("path", SAMPLES, ids=ids(SAMPLES))
def test_expert_is_tsharks_byte_for_byte(path):
    assert netlab(path, "expert") == tshark(path, "expert")


@pytest.mark.parametrize("name", EXPERT_CORPUS)
def test_expert_agrees_on_corpus_captures(name):
    path = CORPUS / name
    ours = netlab(path, "expert")
    assert ours == tshark(path, "expert")
    assert ours.strip(), "a capture with nothing to report proves nothing"


@pytest.mark.parametrize("level", ["error", "warn", "note", "chat"])
def test_expert_level_and_filter_limit_the_items(level):
    path = Path(__file__).parent.parent / "pcaps" / "rtmp.pcapng"
    assert netlab(path, f"expert,{level}") == tshark(path, f"expert,{level}")
    spec = f"expert,{level},tcp.srcport == 1935"
    assert netlab(path, spec) == tshark(path, spec)


def test_expert_counts_tcp_sequence_analysis(analysis_capture):
    ours = netlab(analysis_capture, "expert")
    assert ours == tshark(analysis_capture, "expert")
    for item in ("Previous segment(s) not captured", "Duplicate ACK (#3)",
                 "(suspected) fast retransmission", "(suspected) retransmission",
                 "TCP Zero Window Probe", "ACK to a TCP Zero Window Probe", "TCP window update",
                 "TCP keep-alive segment", "urgent pointer field is nonzero",
                 "acknowledgment number field is nonzero", "Connection reset (RST)"):  # fmt: skip
        assert item in ours


def test_expert_counts_http_lines_and_tcp_flags_of_a_crafted_conversation(http_capture):
    ours = netlab(http_capture, "expert")
    assert ours == tshark(http_capture, "expert")
    assert "OPTIONS * HTTP/1.1\\r\\n" in ours and "HTTP/1.1 799 Odd\\r\\n" in ours


def test_expert_frame_comments(tmp_path):
    editcap = require_tool("editcap")
    src = Path(__file__).parent.parent / "pcaps" / "tcp-udp.pcap"
    path = tmp_path / "commented.pcapng"
    subprocess.run([editcap, "-a", "1:first comment", "-a", "3:another", "-F", "pcapng",
                    str(src), str(path)], check=True, capture_output=True)  # fmt: skip
    ours = netlab(path, "expert")
    assert ours == tshark(path, "expert")
    assert "Comments (2)" in ours


# --- stats trees -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SAMPLES, ids=ids(SAMPLES))
@pytest.mark.parametrize("tree", ["dns,tree", "http,tree"])
def test_stats_trees_are_tsharks_byte_for_byte(path, tree):
    assert netlab(path, tree) == tshark(path, tree)


# corpus captures with DNS messages (and two whose malformed messages tshark does not count)
DNS_CORPUS = ["dns-uri.pcap", "dns_udp.pcap", "dns_udp_2.pcap", "dns_udp_8053.pcap",
              "dns-zlip-1.pcap", "dns_fwdptr.pcap"]  # fmt: skip


@pytest.mark.parametrize("name", DNS_CORPUS)
def test_dns_tree_agrees_on_corpus_captures(name):
    path = CORPUS / name
    assert netlab(path, "dns,tree") == tshark(path, "dns,tree")


def test_http_tree_agrees_on_a_corpus_capture():
    path = CORPUS / "ipv4_tcp_http_xml_tso.pcap"
    ours = netlab(path, "http,tree")
    assert ours == tshark(path, "http,tree")
    assert re.search(r"^  POST +1 ", ours, re.M)


def test_dns_tree_follows_transactions_as_tshark(dns_capture):
    ours = netlab(dns_capture, "dns,tree")
    assert ours == tshark(dns_capture, "dns,tree")
    counts = dict(re.findall(r"^ *(\S.*?\S)  +(\d+) ", ours, re.M))
    # the quoted query is not counted; a response sent again is a retransmission (a
    # query sent again is not counted as one: tshark counts responses only)
    assert counts["Total Packets"] == "15"
    assert counts["no. of retransmissions"] == "1"
    assert counts["no. of unsolicited responses"] == "1"
    assert counts["Unknown packet type (999)"] == counts["CH"] == "1"
    assert counts["No such name"] == "2"


def test_http_tree_counts_methods_and_classes(http_capture):
    ours = netlab(http_capture, "http,tree")
    assert ours == tshark(http_capture, "http,tree")
    for item in ("POST", "HEAD", "OPTIONS", "3xx: Redirection", "418 I'm a teapot",
                 "503 Service Unavailable", "???: broken"):  # fmt: skip
        assert item in ours


def test_stats_tree_json_holds_the_same_numbers(dns_capture):
    text = netlab(dns_capture, "dns,tree")
    record = json.loads(
        run_netlab("--json", "-z", "dns,tree", str(dns_capture)).stdout.splitlines()[0]
    )
    assert record["stat"] == "dns,tree"
    by_item = {(r["depth"], r["item"]): r for r in record["rows"]}
    total = by_item[(0, "Total Packets")]
    assert re.search(rf"^Total Packets +{total['count']} ", text, re.M)
    rrt = by_item[(1, "request-response time (msec)")]
    assert re.search(rf"^ request-response time \(msec\) +{rrt['count']} +{rrt['average']} ",
                     text, re.M)  # fmt: skip


def test_trees_stop_growing_at_their_bound(monkeypatch):
    from netlab.dissect import stats_tree

    monkeypatch.setattr(stats_tree, "MAX_NODES", 20)
    tree = stats_tree.HttpTree()  # 10 nodes of its own
    for i in range(50):  # request methods a hostile client makes up
        tree.tick("Total HTTP Packets")
        tree.pivot(tree.requests, f"M{i:03d}")
    assert tree.nodes == 20 and tree.dropped == 50 - 10
    assert tree.packets.counter == tree.requests.counter == 50  # the totals count them all
    assert len(tree.requests.children) == 10


# --- io,stat with columns ----------------------------------------------------------------------

IO_CASES = [
    ("tcp-udp.pcap", "io,stat,0.001,tcp,udp,icmp"),
    ("dns.pcapng", "io,stat,0.5,udp,dns"),
    ("dns.pcapng", "io,stat,0,COUNT(frame.len)frame.len>100,SUM(frame.len)udp"),
    ("dns.pcapng", "io,stat,1,udp,tcp"),
    ("http.pcapng", "io,stat,0.005,tcp,http,tcp.port==8080"),
    ("http.pcapng", "io,stat,0.005,,tcp"),
    ("ftp.pcapng", "io,stat,1,ftp,ftp-data,ip.addr==198.18.0.1 && tcp.flags.syn==1"),
    ("ftp.pcapng", "io,stat,10,AVG(tcp.len)tcp.len,MIN(tcp.srcport)tcp.srcport"),
    ("ftp.pcapng", "io,stat,0.05,MIN(tcp.srcport)tcp.srcport,AVG(tcp.srcport)tcp.srcport,"
                   "MAX(tcp.srcport)tcp.srcport"),
    ("dns.pcapng", "io,stat,0.2,FRAMES()udp,BYTES()tcp,udp"),
    ("dns.pcapng", "io,stat,0.2,COUNT(dns.qry.name)dns.qry.name,SUM(udp.length)udp.length"),
    ("http.pcapng", "io,stat,0.001,MIN(tcp.len)tcp.len,AVG(tcp.len)tcp.len,SUM(tcp.len)tcp.len"),
    ("tcp-udp.pcap", "io,stat,0.001,tcp.port == 40692 || tcp.port == 53911 || "
                     "udp.port == 33434 || icmp.type == 3 || frame.len > 1000000"),  # wraps
    ("ping.pcap", "io,stat,0,icmp,icmpv6"),
]  # fmt: skip


@pytest.mark.parametrize("name,spec", IO_CASES, ids=[f"{n}:{s}" for n, s in IO_CASES])
def test_io_stat_columns_are_tsharks(name, spec):
    path = Path(__file__).parent.parent / "pcaps" / name
    assert netlab(path, spec) == fix_duration(tshark(path, spec))


def test_field_columns_are_computed_where_tshark_prints_zero():
    path = Path(__file__).parent.parent / "pcaps" / "dns.pcapng"
    theirs = tshark(path, "io,stat,0,MAX(udp.length)udp")
    ours = netlab(path, "io,stat,0,MAX(udp.length)udp")
    primed = netlab(path, "io,stat,0,MAX(udp.length)udp.length")
    value = re.compile(r"<>.*?\|\s+(\d+) \|", re.M)
    assert value.findall(theirs) == ["0"]  # tshark 4.0: the field is not in its tree
    assert value.findall(ours) == value.findall(primed) != ["0"]


def test_quoted_filters_may_hold_commas():
    path = Path(__file__).parent.parent / "pcaps" / "dns.pcapng"
    ours = netlab(path, 'io,stat,0,"dns.qry.type in {1,28}"')
    assert "| Col 1: dns.qry.type in {1,28}" in ours
    same = netlab(path, "io,stat,0,dns.qry.type == 1 || dns.qry.type == 28")
    numbers = re.compile(r"<>.*?\|\s+(\d+) \|\s+(\d+) \|")
    assert numbers.findall(ours) == numbers.findall(same) != [("0", "0")]


# --- follow ------------------------------------------------------------------------------------

FOLLOWS = [
    ("dns.pcapng", "follow,udp,ascii,0"), ("dns.pcapng", "follow,udp,hex,1"),
    ("dns.pcapng", "follow,udp,raw,3"), ("tcp-udp.pcap", "follow,udp,ascii,0"),
    ("tcp-udp.pcap", "follow,udp,ascii,5"), ("bt-dht.pcapng", "follow,udp,hex,2"),
    ("tcp-udp.pcap", "follow,udp,hex,127.0.0.1:58067,127.0.0.1:33434"),
    ("tcp-udp.pcap", "follow,tcp,ascii,127.0.0.1:40692,127.0.0.1:53911"),
    ("tcp-udp.pcap", "follow,tcp,hex,0"),
    ("http.pcapng", "follow,http2,ascii,1,1"), ("http.pcapng", "follow,http2,hex,1,1"),
    ("http.pcapng", "follow,http2,raw,1,0"), ("http.pcapng", "follow,http2,ascii,1,3"),
    ("tls.pcapng", "follow,tls,ascii,0"),
]  # fmt: skip


@pytest.mark.parametrize("name,spec", FOLLOWS, ids=[f"{n}:{s}" for n, s in FOLLOWS])
def test_follow_is_tsharks_byte_for_byte(name, spec):
    path = Path(__file__).parent.parent / "pcaps" / name
    assert netlab(path, spec) == tshark(path, spec)


@pytest.mark.parametrize("mode", ["ascii", "hex", "raw"])
def test_follow_tls_shows_the_decrypted_records(tls_capture, mode):
    path, keys = tls_capture
    spec = f"follow,tls,{mode},0"
    ours = netlab(path, spec, "--keylog", str(keys))
    assert ours == tshark(path, spec, "-o", f"tls.keylog_file:{keys}")
    if mode == "ascii":
        assert "GET / HTTP/1.1" in ours and "x" * 90 in ours
    assert netlab(path, spec) == tshark(path, spec)  # without the keys: nothing


def test_follow_option_takes_the_same_specs():
    path = Path(__file__).parent.parent / "pcaps" / "dns.pcapng"
    assert run_netlab("--follow", "udp,0,hex", str(path)).stdout == netlab(path, "follow,udp,hex,0")
    record = json.loads(run_netlab("--json", "--follow", "udp,0", str(path)).stdout.splitlines()[0])
    assert record["type"] == "follow" and record["stat"] == "follow,udp,ascii,0"
    assert [c["node"] for c in record["chunks"]] == [0, 1]


def test_json_records_of_the_new_reports():
    path = Path(__file__).parent.parent / "pcaps" / "http.pcapng"
    done = run_netlab("--json", "-z", "expert", "-z", "io,stat,0.005,tcp,COUNT(tcp.len)tcp.len",
                      "-z", "follow,http2,ascii,1,1", str(path))  # fmt: skip
    records = [json.loads(line) for line in done.stdout.splitlines()]
    expert, io, follow, summary = records
    assert {"severity": "chat", "group": "Sequence", "protocol": "HTTP",
            "summary": "GET / HTTP/1.1\\r\\n", "count": 1} in expert["rows"]  # fmt: skip
    text = netlab(path, "io,stat,0.005,tcp,COUNT(tcp.len)tcp.len")
    shown = re.findall(r"<>.*?\|\s+(\d+) \|\s+(\d+) \|\s+(\d+) \|", text)
    assert [(str(r["columns"][0]["frames"]), str(r["columns"][0]["bytes"]),
             str(r["columns"][1]["count"])) for r in io["rows"]] == shown  # fmt: skip
    assert follow["stat"] == "follow,http2,ascii,1,1" and len(follow["chunks"]) == 3
    assert summary["type"] == "summary"


# --- bad specs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", [
    "expert,loud,tcp ==", "dns,tre", "http,tree,x", "io,stat,1,COUNT(no.such.field)",
    "io,stat,1,SUM()udp", "io,stat,1,LOAD(frame.len)", "io,stat,1,SUM(ip.src)", 'io,stat,1,"tcp',
    "io,stat,x,tcp", "io,stat,1,tcp ==", "follow,sctp,ascii,0", "follow,udp,ascii",
    "follow,http2,ascii,1", "follow,udp,ascii,1.2.3.4:5,nowhere", "follow,tcp,yaml,0",
])  # fmt: skip
def test_bad_spec_is_a_one_line_usage_error(spec):
    path = Path(__file__).parent.parent / "pcaps" / "dns.pcapng"
    done = run_netlab("-z", spec, str(path))
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
