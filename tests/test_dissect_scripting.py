"""`netlab dissect` with tshark's scripting options, held to tshark on the same files:
-T fields with -e/-E byte for byte, -T json/ek with -e, -w read back by tshark, -t
time columns, -2 -R, and the refusals (exit 2, one line)."""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import ROOT, netlab_bin, require_tool, tshark_samples

PCAPS = sorted((ROOT / "pcaps").glob("*.pcap*"))
WORKERS = min(3, (os.cpu_count() or 2) + 1)

_FRAME = ["frame.number", "frame.time_relative", "frame.time_delta", "frame.time_epoch",
          "frame.len", "frame.cap_len"]  # fmt: skip
_LINK_IP = ["eth.src", "eth.dst", "eth.type", "ip.src", "ip.dst", "ip.ttl", "ip.flags", "ip.id",
            "ip.checksum", "ip.addr", "ipv6.src", "ipv6.dst", "ipv6.hlim"]  # fmt: skip
_TCP = ["tcp.srcport", "tcp.dstport", "tcp.port", "tcp.flags", "tcp.flags.syn", "tcp.seq",
        "tcp.ack", "tcp.len", "tcp.stream", "tcp.payload", "tcp.option_kind", "tcp.hdr_len",
        "tcp.window_size"]  # fmt: skip
_UDP = ["udp.srcport", "udp.dstport", "udp.length", "udp.payload"]
_DNS = ["dns.qry.name", "dns.a", "dns.aaaa", "dns.flags", "dns.id", "dns.resp.ttl",
        "dns.resp.name", "dns.qry.type", "dns.count.answers"]  # fmt: skip
_OTHERS = ["icmp.type", "icmp.code", "icmp.seq", "icmp.ident", "icmpv6.type", "arp.opcode",
           "arp.src.proto_ipv4", "arp.src.hw_mac"]  # fmt: skip
_HTTP = ["http.request.method", "http.host", "http.response.code", "http.request.line",
         "http.request.uri", "http.user_agent", "http.content_type"]  # fmt: skip


def _e(names: list[str]) -> list[str]:
    return [arg for name in names for arg in ("-e", name)]


# (files, -e fields, -E options, -Y filter or None)
ALL = ("arp-ping.pcapng", "dns.pcapng", "http.pcapng", "ping.pcap", "rtmp.pcapng",
       "tcp-udp.pcap")  # fmt: skip
CASES = [
    (ALL, _FRAME, [], None),
    (ALL, _LINK_IP, ["header=y"], None),
    (("tcp-udp.pcap", "http.pcapng", "rtmp.pcapng"), _TCP, ["separator=,", "quote=d"], None),
    (("tcp-udp.pcap", "dns.pcapng"), _UDP, ["separator=/s", "quote=s", "header=y"], "udp"),
    (("dns.pcapng",), _DNS, ["occurrence=f"], None),
    (("dns.pcapng",), _DNS, ["occurrence=l", "aggregator=/s"], None),
    (("dns.pcapng", "tcp-udp.pcap"), _DNS + _TCP,
     ["aggregator=;", "occurrence=a", "header=y", "separator=|"], "dns || tcp"),
    (("arp-ping.pcapng", "ping.pcap", "tcp-udp.pcap"), _OTHERS, ["occurrence=l", "quote=s"],
     None),
    (("http.pcapng",), _HTTP, ["quote=d", "header=y"], "http"),
    (("tcp-udp.pcap", "http.pcapng"), ["frame.number", "frame.time_delta_displayed",
                                       "tcp.flags"], [], "tcp.len > 0"),
]  # fmt: skip


def _tshark(*args: str) -> str:
    return subprocess.run([require_tool("tshark"), "-n", *args], capture_output=True,
                          check=True, text=True, timeout=60).stdout  # fmt: skip


def _netlab(*args: str) -> str:
    return subprocess.run([netlab_bin(), "dissect", *args], capture_output=True, check=True,
                          text=True, timeout=60).stdout  # fmt: skip


def _pair(args: list[str]) -> tuple[str, str]:
    return _netlab(*args), _tshark(*args)


def _field_args(path, names, options, display_filter) -> list[str]:
    args = ["-r", str(path), "-T", "fields", *_e(names)]
    for option in options:
        args += ["-E", option]
    if display_filter is not None:
        args += ["-Y", display_filter]
    return args


def test_fields_are_byte_equal_to_tshark():
    jobs = [_field_args(ROOT / "pcaps" / name, *case) for files, *case in CASES
            for name in files]  # fmt: skip
    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(_pair, jobs))
    checked = 0
    for args, (ours, theirs) in zip(jobs, results, strict=True):
        assert ours == theirs, " ".join(args)
        checked += bool(theirs.strip())
    assert checked == len(jobs)  # every case prints values


@pytest.mark.parametrize("fmt", ["json", "ek"])
def test_json_and_ek_with_fields_are_tshark_s(fmt):
    names = ["frame.number", "ip.src", "tcp.flags", "dns.qry.name", "dns.a", "udp.port"]
    for path in PCAPS[:3]:
        args = ["-r", str(path), "-T", fmt, *_e(names)]
        ours, theirs = _pair(args)
        assert ours == theirs, path.name
    ours, theirs = _pair(["-r", str(PCAPS[0]), "-T", "json", "-e", "ip.src", "-Y", "ip.ttl == 1"])
    assert ours == theirs  # no packet at all


def test_write_keeps_the_filtered_packets(tmp_path):
    for name in ("arp-ping.pcapng", "tcp-udp.pcap", "http.pcapng"):
        path = ROOT / "pcaps" / name
        out = tmp_path / f"{path.stem}.pcapng"
        display_filter = "tcp.len > 0 || udp || arp || icmpv6.type == 128"
        assert _netlab("-r", str(path), "-Y", display_filter, "-w", str(out)) == ""
        fields = ["-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len", "-e",
                  "frame.cap_len", "-e", "frame.comment", "-e", "frame.protocols"]  # fmt: skip
        kept = _tshark("-r", str(path), "-Y", display_filter, *fields)
        assert _tshark("-r", str(out), *fields) == kept, path.name
        # the same bytes, too
        hexes = _tshark("-r", str(path), "-Y", display_filter, "-x")
        assert _tshark("-r", str(out), "-x") == hexes


TOKENS = {"a": 1, "ad": 2, "adoy": 2, "d": 1, "dd": 1, "e": 1, "r": 1, "u": 1, "ud": 2}


def test_time_formats_are_tshark_s():
    def times(fmt: str, text: str) -> list[str]:
        return [" ".join(line.split()[1 : 1 + TOKENS[fmt]]) for line in text.splitlines()]

    # microseconds in both files (pcap, pcapng); the first columns are tshark's
    jobs = [(fmt, ["-r", str(ROOT / "pcaps" / name), "-t", fmt, "-c", "4"])
            for fmt in TOKENS for name in ("ping.pcap", "dns.pcapng")]  # fmt: skip
    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(_pair, [args for _fmt, args in jobs]))
    for (fmt, args), (ours, theirs) in zip(jobs, results, strict=True):
        assert times(fmt, ours) == times(fmt, theirs), " ".join(args)
        assert len(times(fmt, ours)) == 4


COLUMNS = ["_ws.col.No.", "_ws.col.Time", "_ws.col.Source", "_ws.col.Destination",
           "_ws.col.Protocol", "_ws.col.Length", "_ws.col.Info"]  # fmt: skip


@pytest.mark.parametrize("path", tshark_samples(), ids=lambda p: p.name)
def test_column_fields_are_tsharks(path):
    # `-e _ws.col.Info` and the rest: the one-line view's columns as -T fields values,
    # with -t's time format, on every sample (ICMP padding and echo links included).
    fields = [arg for name in COLUMNS for arg in ("-e", name)]
    other_times = [["-t", "ad"], ["-t", "dd"]] if path.name in ("ping.pcap", "dns.pcapng") else []
    for times in ([], *other_times):  # (every -t format: test_time_formats_are_tshark_s)
        args = ["-r", str(path), *times, "-T", "fields", "-E", "header=y", *fields]
        ours, theirs = _pair(args)
        assert ours == theirs and ours.count("\n") > 1, " ".join(times)


def pings(path) -> None:
    """Echoes as tshark pairs them: an ICMPv6 ping answered, a timestamp request (never
    paired), a request sent twice (the reply answers the second), a reply answered
    twice and one from another host (neither paired), and a ping never answered."""
    from scapy.all import ICMP, IP, Ether, ICMPv6EchoReply, ICMPv6EchoRequest, IPv6, wrpcap

    a, b, c = "198.18.0.1", "198.18.0.2", "198.18.0.3"
    frames = [
        Ether() / IPv6(src="2001:db8::1", dst="2001:db8::2") / ICMPv6EchoRequest(id=7, seq=1),
        Ether() / IPv6(src="2001:db8::2", dst="2001:db8::1") / ICMPv6EchoReply(id=7, seq=1),
        Ether() / IP(src=a, dst=b) / ICMP(type=13, id=5, seq=1),
        Ether() / IP(src=b, dst=a) / ICMP(type=14, id=5, seq=1),
        Ether() / IP(src=a, dst=b) / ICMP(type=8, id=6, seq=1),
        Ether() / IP(src=a, dst=b) / ICMP(type=8, id=6, seq=1),
        Ether() / IP(src=b, dst=a) / ICMP(type=0, id=6, seq=1),
        Ether() / IP(src=b, dst=a) / ICMP(type=0, id=6, seq=1),
        Ether() / IP(src=c, dst=a) / ICMP(type=0, id=6, seq=1),
        Ether() / IP(src=a, dst=b) / ICMP(type=8, id=6, seq=2),
        Ether() / IPv6(src="2001:db8::1", dst="2001:db8::2") / ICMPv6EchoRequest(id=7, seq=2),
    ]
    for n, frame in enumerate(frames):
        frame.time = 1000 + n / 1000
    wrpcap(str(path), frames)


@pytest.mark.parametrize("passes", [[], ["-2"]], ids=["one-pass", "two-pass"])
def test_pings_are_paired_as_tshark_pairs_them(tmp_path, passes):
    # One pass: a reply names its request; -2: a request names its reply, or says none
    # came (and -z expert counts it), as tshark -2 does.
    made = tmp_path / "pings.pcap"
    pings(made)
    names = ["frame.number", "icmp.resp_in", "icmp.no_resp", "icmp.resp_to", "icmp.resptime",
             "icmpv6.resp_in", "icmpv6.no_resp", "icmpv6.resp_to", "_ws.col.Info"]  # fmt: skip
    experts = []
    for path in (made, ROOT / "pcaps" / "ping.pcap"):
        ours, theirs = _pair([*passes, "-r", str(path), "-T", "fields", *_e(names)])
        assert ours == theirs
        ours, theirs = _pair([*passes, "-q", "-r", str(path), "-z", "expert"])
        assert ours == theirs
        experts.append(ours)
    assert ("No response seen to ICMP request" in experts[0]) == bool(passes)


def test_column_fields_are_for_output_only():
    # tshark 4.0 refuses them in a display filter; netlab does too, naming the field.
    proc = subprocess.run([netlab_bin(), "dissect", "-Y", '_ws.col.Protocol == "DNS"',
                           str(ROOT / "pcaps" / "dns.pcapng")], capture_output=True,
                          text=True)  # fmt: skip
    assert proc.returncode == 2 and "_ws.col.Protocol" in proc.stderr


def test_two_pass_read_filter_drops_and_renumbers():
    path = ROOT / "pcaps" / "tcp-udp.pcap"
    names = ["frame.number", "frame.time_relative", "ip.src", "udp.srcport", "tcp.len"]
    for read_filter in ("udp || tcp.len > 0", "icmp", "tcp.flags.syn == 1"):
        ours, theirs = _pair(["-r", str(path), "-2", "-R", read_filter, "-T", "fields",
                              *_e(names)])  # fmt: skip
        assert ours == theirs and ours, read_filter
    # tshark's one quirk: its frame.time_delta of the second frame counts from the file's
    # first frame, not the first frame kept; netlab counts from the frame before.


def test_tree_of_some_protocols_only():
    path = str(ROOT / "pcaps" / "tcp-udp.pcap")
    full = _netlab("-V", "-c", "1", path).splitlines()
    some = _netlab("-O", "ip", "-c", "1", path).splitlines()
    headings = [line for line in full if line and not line.startswith(" ")]
    assert [line for line in some if not line.startswith(" ")] == [*headings, ""]
    assert any(line.strip().startswith("Time to Live") for line in some)
    assert not any("Source Port" in line for line in some if line.startswith(" "))


def test_quiet_and_line_buffered():
    path = str(ROOT / "pcaps" / "tcp-udp.pcap")
    assert _netlab("-q", path) == ""
    assert _netlab("-l", path) == _netlab(path)
    assert _netlab("-n", path) == _netlab(path)
    assert "Protocol Hierarchy" in _netlab("-q", "-z", "phs", path)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["-e", "ip.src"], "-e needs -T fields"),
        (["-T", "fields"], "no fields"),
        (["-T", "fields", "-e", "tcp.prt"], "'tcp.prt' is neither a field nor a protocol name"),
        (["-R", "udp"], "-R needs -2"),
        (["-2", "-R", "udp.prt == 1"], "'udp.prt' is neither a field"),
        (["-T", "fields", "-e", "ip.src", "-E", "quote=x"], "bad value for quote"),
        (["-E", "header=y"], "-E needs -T fields"),
        (["-N", "n"], "does not resolve names"),
        (["-O", "nosuch"], "'nosuch' is not a protocol name"),
        (["-T", "ek"], "needs -e"),  # (-T json without -e: the tree, tests/test_pdml.py)
        (["-r", "other.pcap"], "two captures"),
    ],
)
def test_refusals_are_one_line_exit_2(args, words):
    proc = subprocess.run([netlab_bin(), "dissect", *args, str(PCAPS[0])], capture_output=True,
                          text=True, timeout=30)  # fmt: skip
    assert proc.returncode == 2 and words in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stdout == ""


@pytest.mark.parametrize("path", tshark_samples(), ids=lambda p: p.name)
def test_tabs_equal_tsharks(path):
    ours = _netlab("-T", "tabs", str(path))
    assert "\t→\t" in ours
    assert ours == _tshark("-r", str(path), "-T", "tabs")


def test_only_the_tree_alone_goes_without_the_info_column():
    # Dissector.info off skips TCP's Info text: only for the -V tree with nothing that
    # reads _ws.col.Info (fields, JSON, a filter, statistics, a time column).
    import io

    from netlab.dissect.fields import FrameClock
    from netlab.render.packets import PacketView
    from netlab.render.tshark_fields import FieldsFormat

    out = io.StringIO()
    assert PacketView(out, tree=True).shows_info is False
    assert PacketView(out).shows_info and PacketView(out, hexdump=True).shows_info
    assert PacketView(out, tree=True, json=True).shows_info
    assert PacketView(out, tree=True, display_filter=object()).shows_info
    assert PacketView(out, tree=True, taps=[object()]).shows_info
    assert PacketView(out, tree=True, time_format="ad").shows_info
    fields = FieldsFormat(["_ws.col.Info"], {})
    assert PacketView(out, tree=True, fields_format=fields).shows_info
    assert isinstance(PacketView(out, tree=True, time_format="r").clock, FrameClock)
