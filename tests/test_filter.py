"""Display filters (-Y): the packets netlab selects are the packets tshark -Y selects."""

from __future__ import annotations

import subprocess

import pytest

from netlab.dissect.filter import compile_filter
from netlab.errors import InputError
from tests.conftest import ROOT, netlab_bin, require_tool
from tests.test_filter_corpus import netlab_answers, tshark_answers

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


def netlab_frames(path, display_filter: str) -> list[int]:
    out = subprocess.run(
        [netlab_bin(), "dissect", "-Y", display_filter, str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [int(line.split()[0]) for line in out.splitlines()]


JOINED = "all.pcapng"  # every sample capture end to end, in one file


@pytest.fixture(scope="module")
def answers(tmp_path_factory) -> dict[str, tuple[list, list]]:
    """{file name: (netlab's answers, tshark's)} for FILTERS and then "frame", on each
    sample capture and on JOINED (kept under the "path" key). tshark answers a file's
    filters in one run (test_filter_corpus's tap listeners, held to -Y there); netlab's
    in-process answers are held to the command's -Y by test_dash_y_selects_the_same."""
    joined = tmp_path_factory.mktemp("filters") / JOINED
    subprocess.run([require_tool("mergecap"), "-a", "-w", str(joined), *map(str, PCAPS)],
                   check=True, capture_output=True)  # fmt: skip
    asked = [*FILTERS, "frame"]
    found = {p.name: (netlab_answers(p, asked), tshark_answers(p, asked))
             for p in [*PCAPS, joined]}  # fmt: skip
    found["path"] = joined
    return found


@pytest.mark.parametrize("display_filter", FILTERS)
def test_same_packets_as_tshark(answers, display_filter):
    i = FILTERS.index(display_filter)
    for path in [*PCAPS, answers["path"]]:
        ours, theirs = answers[path.name]
        assert ours[i] == theirs[i], f"{path.name}: {display_filter}"


def test_dash_y_selects_the_same(answers):
    # The command itself, with every filter, on every sample capture at once.
    theirs = answers[JOINED][1]
    for display_filter, frames in zip(FILTERS, theirs, strict=False):
        assert netlab_frames(answers["path"], display_filter) == frames, display_filter


def test_the_filters_are_not_trivial(answers):
    # Each sample filter selects something somewhere, and not everything everywhere.
    theirs = [answers[p.name][1] for p in PCAPS]
    total = sum(len(t[-1]) for t in theirs)
    for i, display_filter in enumerate(FILTERS):
        selected = sum(len(t[i]) for t in theirs)
        assert 0 < selected < total or display_filter in (
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
        spaced, commas = netlab_answers(path, ["tcp.port in {80 443 1000..65535}",
                                               "tcp.port in {80, 443, 1000..65535}"])  # fmt: skip
        assert spaced == commas and isinstance(spaced, list)
