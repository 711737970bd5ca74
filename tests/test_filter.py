"""Display filters (-Y): the packets netlab selects are the packets tshark -Y selects."""

from __future__ import annotations

import functools
import subprocess

import pytest

from netlab.dissect.filter import compile_filter
from netlab.errors import InputError
from tests.conftest import ROOT, netlab_bin, require_tool

PCAPS = sorted((ROOT / "pcaps").glob("*.pcap*"))

FILTERS = [
    "tcp",
    "frame && !udp",
    "udp || arp",
    "!tcp",
    "ip.ttl < 64",
    "ip.ttl >= 64 && ip.proto == 6",
    "tcp.port in {80, 443, 1000..65535}",
    "tcp.srcport in {1..1023}",
    "!arp && (icmp || udp)",
    'data.data contains "hello"',
    'data.data contains "HELLO"',
    "ip.addr == 198.18.0.0/15",
    "ip.dst == 198.18.0.2",
    "ip.src != 127.0.0.1",
    "eth.dst == ff:ff:ff:ff:ff:ff",
    "tcp.flags.syn == 1 && tcp.flags.ack == 0",
    "tcp.flags.fin == 1 or tcp.flags.reset == 1",
    "tcp.len > 0",
    "tcp.stream == 0 and tcp.seq == 1",
    "icmp.type == 3 && icmp.code == 3",
    "icmp.type in {0, 8}",
    "icmpv6.type == 128",
    "ipv6",
    "ipv6.src == ::1",
    "arp.opcode == 2",
    "arp.src.proto_ipv4 == 198.18.0.1",
    "frame.len > 70",
    "udp.port == 33434",
    "ip.flags.df == 1",
    "not icmp and not tcp",
    "eth.src == 00:00:00:00:00:00 && frame.number <= 3",
]


@functools.cache
def tshark_frames(path, display_filter: str) -> list[int]:
    tshark = require_tool("tshark")
    out = subprocess.run(
        [tshark, "-n", "-r", str(path), "-Y", display_filter, "-T", "fields", "-e",
         "frame.number"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [int(line) for line in out.split()]


def netlab_frames(path, display_filter: str) -> list[int]:
    out = subprocess.run(
        [netlab_bin(), "dissect", "-Y", display_filter, str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [int(line.split()[0]) for line in out.splitlines()]


@pytest.mark.parametrize("display_filter", FILTERS)
def test_same_packets_as_tshark(display_filter):
    for path in PCAPS:
        assert netlab_frames(path, display_filter) == tshark_frames(path, display_filter), (
            f"{path.name}: {display_filter}"
        )


def test_the_filters_are_not_trivial():
    # Each sample filter selects something somewhere, and not everything everywhere.
    total = {p: len(tshark_frames(p, "frame")) for p in PCAPS}
    for display_filter in FILTERS:
        counts = {p: len(tshark_frames(p, display_filter)) for p in PCAPS}
        selected = sum(counts.values())
        assert 0 < selected < sum(total.values()) or display_filter in (
            "ip.ttl < 64", 'data.data contains "HELLO"', "tcp.srcport in {1..1023}",
        ), display_filter  # fmt: skip


@pytest.mark.parametrize(
    ("text", "column", "needle"),
    [
        ("ip.ttl ==", 10, "expected a value"),
        ("tpc.port == 80", 1, "neither a field nor a protocol"),
        ("ip.src == 1.2.3.4 &&", 21, "expected a field"),
        ("(tcp", 5, "missing ')'"),
        ("tcp.port in {80 443", 20, "missing '}'"),
        ("tcp )", 5, "unexpected token"),
        ("", 1, "empty filter"),
        ("ip.src == 1.2.3.4 $", 19, "unexpected character"),
    ],
)
def test_bad_filters_point_at_the_token(text, column, needle):
    with pytest.raises(InputError) as err:
        compile_filter(text)
    assert needle in err.value.message and f"column {column}" in err.value.message


def test_bad_filter_is_one_line_exit_2():
    proc = subprocess.run([netlab_bin(), "dissect", "-Y", "tcp.port ==", str(PCAPS[0])],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "bad display filter" in proc.stderr


def test_sets_without_commas_mean_the_same():
    # Wireshark before 4.0 separated set members with spaces; both spellings work here.
    for path in PCAPS:
        assert netlab_frames(path, "tcp.port in {80 443 1000..65535}") == netlab_frames(
            path, "tcp.port in {80, 443, 1000..65535}"
        )
