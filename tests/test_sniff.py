"""`netlab sniff` against tcpdump, on a veth pair between two namespaces the test makes.

Network safety: every packet here stays on a veth pair whose both ends live in
namespaces created (and deleted) by this module; the machine's own interfaces
are never opened. The filter compiler is also checked without root, against
`tcpdump -dd` on a capture file.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from netlab.capture import bpf
from netlab.errors import InputError
from tests.conftest import ROOT, netlab_bin, require_root, require_tool

STATS_LINE = re.compile(r"^(\d+) packets? captured, (\d+) dropped by kernel$")
_serial = itertools.count()


# --- the filter compiler (no root) ----------------------------------------------------


def tcpdump_dd(capture: Path, expression: str) -> list[bpf.Insn]:
    """`tcpdump -dd` compiles for the capture file's link type: the reference program."""
    out = subprocess.run(
        [require_tool("tcpdump"), "-r", str(capture), "-dd", expression],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = re.findall(r"\{\s*(\w+),\s*(\d+),\s*(\d+),\s*(\w+)\s*\}", out)
    return [(int(c, 0), int(jt), int(jf), int(k, 0)) for c, jt, jf, k in rows]


FILTERS = [
    "",
    "icmp",
    "udp and not port 53",
    "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn",
    "net 198.18.0.0/15 and (icmp or arp)",
    "ip6 and icmp6",
]


@pytest.mark.parametrize("expression", FILTERS)
def test_compiled_program_is_tcpdumps_on_ethernet(expression):
    capture = ROOT / "pcaps" / "ping.pcap"  # LINKTYPE_ETHERNET, snaplen 262144
    assert bpf.compile_filter(expression, 1, 262144) == tcpdump_dd(capture, expression)


@pytest.mark.parametrize("expression", ["icmp", "host 198.18.5.2", ""])
def test_compiled_program_is_tcpdumps_on_raw_ip(tmp_path, expression):
    # LINKTYPE_RAW (101) is DLT_RAW (12) for libpcap: the mapping must hold.
    from netlab.capture.writer import PcapngWriter

    capture = tmp_path / "raw.pcapng"
    with PcapngWriter(capture) as writer:
        writer.add_interface(101, name="tun0", snaplen=262144)
    assert bpf.compile_filter(expression, 101, 262144) == tcpdump_dd(capture, expression)


def test_bad_filter_names_libpcaps_reason_on_one_line():
    with pytest.raises(InputError) as err:
        bpf.compile_filter("tcp prt 80", 1)
    assert err.value.message.startswith("bad capture filter 'tcp prt 80': ")
    assert "syntax error" in err.value.message
    assert "\n" not in err.value.message


def test_snaplen_is_the_accept_value():
    assert bpf.compile_filter("", 1, 96) == [(bpf.BPF_RET_K, 0, 0, 96)]


# --- live, in namespaces (root) --------------------------------------------------------


@dataclass
class VethPair:
    """vethA (198.18.5.1/24) in namespace `a`, vethB (198.18.5.2/24) in namespace `b`."""

    a: str
    b: str
    addr_a: str = "198.18.5.1"
    addr_b: str = "198.18.5.2"

    def run(self, ns: str, *argv: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, timeout=timeout
        )

    def popen(self, ns: str, argv: list[str], out: Path, err: Path, **kw: Any) -> subprocess.Popen:
        with out.open("w") as stdout, err.open("w") as stderr:
            return subprocess.Popen(
                ["ip", "netns", "exec", ns, *argv], stdout=stdout, stderr=stderr, **kw
            )

    def sniff(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
        return self.run(self.a, netlab_bin(), "sniff", *args, timeout=timeout)

    def ping(self, count: int, dst: str | None = None) -> None:
        argv = ["ping", "-n", "-q", "-c", str(count), "-i", "0.2", "-W", "2", dst or self.addr_b]
        proc = self.run(self.a, *argv)
        assert proc.returncode == 0, proc.stdout + proc.stderr

    def udp_noise(self, n: int, port: int = 9) -> None:
        """Datagrams from A to B that an icmp filter must keep out (B drops them silently)."""
        code = (
            "import socket, sys\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "for i in range(int(sys.argv[1])):\n"
            "    s.sendto(b'noise %d' % i, (sys.argv[2], int(sys.argv[3])))\n"
        )
        proc = self.run(self.a, sys.executable, "-c", code, str(n), self.addr_b, str(port))
        assert proc.returncode == 0, proc.stderr


def _ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True, text=True, timeout=30)


def _make_pair(pair: VethPair) -> None:
    for ns in (pair.a, pair.b):
        _ip("netns", "add", ns)
        # No IPv6: no router solicitations or MLD reports wandering into the captures.
        for key in ("all", "default"):
            _ip("netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6=1")
        _ip("-n", ns, "link", "set", "lo", "up")
    # Both ends are created inside the namespaces: nothing appears in the host's namespace.
    _ip("-n", pair.a, "link", "add", "vethA", "type", "veth", "peer", "name", "vethB",
        "netns", pair.b)  # fmt: skip
    _ip("-n", pair.a, "addr", "add", f"{pair.addr_a}/24", "dev", "vethA")
    _ip("-n", pair.b, "addr", "add", f"{pair.addr_b}/24", "dev", "vethB")
    _ip("-n", pair.a, "link", "set", "vethA", "up")
    _ip("-n", pair.b, "link", "set", "vethB", "up")
    # B drops the UDP noise silently: a port-unreachable answer would be ICMP, and would
    # rightly pass an icmp filter.
    rules = (
        "add table inet nlsnf; "
        "add chain inet nlsnf in { type filter hook input priority 0; }; "
        "add rule inet nlsnf in udp dport 9 drop"
    )
    _ip("netns", "exec", pair.b, "nft", rules)


@pytest.fixture
def veth() -> Iterator[VethPair]:
    require_root()
    for tool in ("ip", "tcpdump", "tshark", "ping", "nft"):
        require_tool(tool)
    n = f"{os.getpid()}-{next(_serial)}"
    pair = VethPair(a=f"nl-snf-{n}-a", b=f"nl-snf-{n}-b")
    try:
        _make_pair(pair)
        yield pair
    finally:
        # Deleting a namespace deletes the veth end in it; also after a failed set-up.
        for ns in (pair.a, pair.b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


def wait_for(path: Path, pattern: str, proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Wait until `path` holds `pattern` (a "listening on" banner); fail if the process dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if re.search(pattern, path.read_text(), re.M):
            return
        if proc.poll() is not None:
            pytest.fail(f"exited {proc.returncode} before {pattern!r}: {path.read_text()}")
        time.sleep(0.02)
    pytest.fail(f"no {pattern!r} within {timeout}s: {path.read_text()}")


def finish(proc: subprocess.Popen, timeout: float = 20.0) -> int | str:
    """The exit code; a process still running after `timeout` is killed (and says so)."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return f"killed: did not stop within {timeout}s"


def stats(stderr: str) -> tuple[int, int]:
    match = STATS_LINE.match(stderr.splitlines()[-1])
    assert match, stderr
    return int(match[1]), int(match[2])


def tshark_rows(capture: Path) -> list[tuple[int, str, str, int, int]]:
    """(time ns, ip.src, ip.dst, icmp.type, icmp.seq) per packet, decoded by tshark."""
    fields = ["frame.time_epoch", "ip.src", "ip.dst", "icmp.type", "icmp.seq"]
    argv = ["tshark", "-r", str(capture), "-T", "fields"]
    for field in fields:
        argv += ["-e", field]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        epoch, src, dst, icmp_type, seq = line.split("\t")
        rows.append((int(Decimal(epoch) * 10**9), src, dst, int(icmp_type), int(seq)))
    return rows


def ndjson(path_or_text: Path | str) -> list[dict]:
    """The packet records of sniff --json, after checking the stream ends with its
    summary line (design.md §4) and that the summary counts those records."""
    text = path_or_text.read_text() if isinstance(path_or_text, Path) else path_or_text
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines and lines[-1].get("type") == "summary", "NDJSON must end with a summary"
    *packets, summary = lines
    assert summary["captured"] == len(packets), summary
    return packets


@pytest.mark.lab
def test_sniff_agrees_with_tcpdump_on_the_same_traffic(veth, tmp_path):
    pings = 4
    count = 2 * pings  # each echo request and its reply, seen on vethA in both directions
    sniff_out, sniff_err = tmp_path / "sniff.ndjson", tmp_path / "sniff.err"
    dump, dump_err = tmp_path / "tcpdump.pcap", tmp_path / "tcpdump.err"
    sniff = veth.popen(
        veth.a,
        [netlab_bin(), "sniff", "-i", "vethA", "-f", "icmp", "-c", str(count), "--json",
         "--timeout", "20"],
        sniff_out, sniff_err,
    )  # fmt: skip
    tcpdump = veth.popen(
        veth.a,
        ["tcpdump", "-i", "vethA", "-n", "-w", str(dump), "-c", str(count), "--immediate-mode",
         "--time-stamp-precision=nano", "icmp"],
        tmp_path / "tcpdump.out", dump_err,
    )  # fmt: skip
    try:
        wait_for(sniff_err, r"^listening on vethA", sniff)
        wait_for(dump_err, r"listening on vethA", tcpdump)
        veth.udp_noise(20)
        veth.ping(pings)
        veth.udp_noise(20)
    finally:
        codes = finish(sniff), finish(tcpdump)
    assert codes == (0, 0), sniff_err.read_text() + dump_err.read_text()

    records = ndjson(sniff_out)
    ours = [
        (r["fields"]["ip.src"], r["fields"]["ip.dst"], r["fields"]["icmp.type"],
         r["fields"]["icmp.seq"])
        for r in records
    ]  # fmt: skip
    theirs = tshark_rows(dump)
    assert len(records) == len(theirs) == count
    assert ours == [row[1:] for row in theirs]
    assert [r["no"] for r in records] == list(range(1, count + 1))
    assert {r["fields"]["icmp.type"] for r in records} == {0, 8}  # both directions
    # Both read the kernel's receive time stamp of the same skb.
    for record, row in zip(records, theirs, strict=True):
        assert abs(record["time"] - row[0] / 1e9) < 1e-3
    assert stats(sniff_err.read_text()) == (count, 0)


@pytest.mark.lab
def test_write_file_is_read_back_by_tshark(veth, tmp_path):
    out = tmp_path / "live.pcapng"
    sniff_err = tmp_path / "sniff.err"
    sniff = veth.popen(
        veth.a,
        [netlab_bin(), "sniff", "-i", "vethA", "-f", "icmp", "-c", "6", "-w", str(out),
         "--timeout", "20"],
        tmp_path / "sniff.out", sniff_err,
    )  # fmt: skip
    try:
        wait_for(sniff_err, r"^listening on vethA", sniff)
        veth.ping(3)
    finally:
        code = finish(sniff)
    assert code == 0, sniff_err.read_text()
    rows = tshark_rows(out)
    assert len(rows) == 6
    assert [row[4] for row in rows] == [1, 1, 2, 2, 3, 3]
    lines = (tmp_path / "sniff.out").read_text().splitlines()
    assert len(lines) == 6 and all("ICMP" in line for line in lines)
    # The interface is named in the file, as tcpdump's pcapng would have it.
    names = subprocess.run(
        ["tshark", "-r", str(out), "-T", "fields", "-e", "frame.interface_name", "-c", "1"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert names == ["vethA"]


@pytest.mark.lab
def test_timeout_stops_by_itself(veth):
    started = time.monotonic()
    proc = veth.sniff("-i", "vethA", "-f", "icmp", "--timeout", "1", "--json", timeout=20)
    elapsed = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr  # nothing before --timeout: "no answer"
    assert 1.0 <= elapsed < 10
    assert ndjson(proc.stdout) == []  # no packets: only the summary line
    assert stats(proc.stderr) == (0, 0)


@pytest.mark.lab
def test_sigint_exits_130_with_stats_and_valid_ndjson(veth, tmp_path):
    sniff_out, sniff_err = tmp_path / "sniff.ndjson", tmp_path / "sniff.err"
    sniff = veth.popen(veth.a, [netlab_bin(), "sniff", "-i", "vethA", "-f", "icmp", "--json"],
                       sniff_out, sniff_err)  # fmt: skip
    try:
        wait_for(sniff_err, r"^listening on vethA", sniff)
        veth.ping(3)
        wait_for(sniff_out, r"(.*\n){6}", sniff)  # all six packets printed
    finally:
        sniff.send_signal(signal.SIGINT)
        code = finish(sniff)
    assert code == 130, sniff_err.read_text()
    assert stats(sniff_err.read_text()) == (6, 0)
    records = ndjson(sniff_out)  # every line is whole, valid JSON
    assert [r["fields"]["icmp.seq"] for r in records] == [1, 1, 2, 2, 3, 3]


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.lab
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_background_job_stops_cleanly_on_kill(veth, tmp_path, signum):
    # `netlab sniff … &` in a script starts with SIGINT ignored; `kill -INT $!` (and plain
    # `kill`) must still end it with the stats line and a whole pcapng file, as with tcpdump.
    out, err, capture = tmp_path / "out", tmp_path / "err", tmp_path / "bg.pcapng"
    sniff = veth.popen(veth.a, [netlab_bin(), "sniff", "-i", "vethA", "-f", "icmp", "-w",
                                str(capture)], out, err, preexec_fn=_ignore_sigint)  # fmt: skip
    try:
        wait_for(err, r"^listening on vethA", sniff)
        veth.ping(2)
        wait_for(out, r"(.*\n){4}", sniff)
    finally:
        sniff.send_signal(signum)
        code = finish(sniff)
    assert code == 130, err.read_text()
    assert stats(err.read_text()) == (4, 0)
    assert len(tshark_rows(capture)) == 4


@pytest.mark.lab
def test_drops_are_counted_when_the_reader_falls_behind(veth, tmp_path):
    # A stopped reader cannot keep up with a burst: the kernel drops and says how many.
    sniff_out, sniff_err = tmp_path / "sniff.out", tmp_path / "sniff.err"
    sniff = veth.popen(veth.a, [netlab_bin(), "sniff", "-i", "vethA", "-f", "udp", "--json"],
                       sniff_out, sniff_err)  # fmt: skip
    sent = 30000
    try:
        wait_for(sniff_err, r"^listening on vethA", sniff)
        sniff.send_signal(signal.SIGSTOP)
        veth.udp_noise(sent)
    finally:
        sniff.send_signal(signal.SIGCONT)
        sniff.send_signal(signal.SIGINT)
        code = finish(sniff)
    assert code == 130, sniff_err.read_text()
    captured, dropped = stats(sniff_err.read_text())
    assert dropped > 0
    assert captured + dropped <= sent
    assert len(ndjson(sniff_out)) == captured


INJECT_TAGGED = """
import socket, sys
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import Dot1Q, Ether
with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
    s.bind(("vethB", 0))
    for seq in (1, 2):
        frame = (Ether(dst="ff:ff:ff:ff:ff:ff") / Dot1Q(vlan=100)
                 / IP(src="198.18.6.2", dst="198.18.6.1") / ICMP(seq=seq) / b"tagged")
        s.send(bytes(frame))
"""


@pytest.mark.lab
def test_vlan_tag_moved_out_by_the_kernel_is_put_back(veth, tmp_path):
    # The receive path moves 802.1Q tags into skb metadata before packet sockets see the
    # frame (no vlan device needed); both tcpdump and sniff must put the tag back.
    sniff_out, sniff_err = tmp_path / "sniff.ndjson", tmp_path / "sniff.err"
    dump, dump_err = tmp_path / "tcpdump.pcap", tmp_path / "tcpdump.err"
    sniff = veth.popen(
        veth.a, [netlab_bin(), "sniff", "-i", "vethA", "-f", "icmp", "-c", "2", "--json",
                 "--timeout", "20"], sniff_out, sniff_err,
    )  # fmt: skip
    tcpdump = veth.popen(
        veth.a, ["tcpdump", "-i", "vethA", "-w", str(dump), "-c", "2", "--immediate-mode",
                 "icmp"], tmp_path / "tcpdump.out", dump_err,
    )  # fmt: skip
    try:
        wait_for(sniff_err, r"^listening on vethA", sniff)
        wait_for(dump_err, r"listening on vethA", tcpdump)
        sent = veth.run(veth.b, sys.executable, "-c", INJECT_TAGGED)
        assert sent.returncode == 0, sent.stderr
    finally:
        codes = finish(sniff), finish(tcpdump)
    assert codes == (0, 0), sniff_err.read_text() + dump_err.read_text()
    records = ndjson(sniff_out)
    ours = [(r["len"], r["fields"]["vlan.id"], r["fields"]["icmp.seq"]) for r in records]
    out = subprocess.run(
        ["tshark", "-r", str(dump), "-T", "fields", "-e", "frame.len", "-e", "vlan.id",
         "-e", "icmp.seq"], capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    theirs = [tuple(map(int, line.split("\t"))) for line in out.splitlines()]
    assert ours == theirs == [(52, 100, 1), (52, 100, 2)]
    assert [r["fields"]["ip.src"] for r in records] == ["198.18.6.2"] * 2


TUN_HOLDER = """
import fcntl, os, struct, sys
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, 0x400454CA, struct.pack("16sH", b"tun0", 0x0001 | 0x1000))  # TUNSETIFF: TUN|NO_PI
print("ready", flush=True)
while os.read(fd, 65536):  # swallow what the kernel routes into the tunnel
    pass
"""


@pytest.mark.lab
def test_raw_ip_interface_agrees_with_tcpdump(veth, tmp_path):
    # A tun device has no link header (ARPHRD_NONE): LINKTYPE_RAW, filter compiled for DLT_RAW.
    if not Path("/dev/net/tun").exists():
        pytest.skip("needs /dev/net/tun")
    holder = veth.popen(veth.a, [sys.executable, "-c", TUN_HOLDER], tmp_path / "tun.out",
                        tmp_path / "tun.err")  # fmt: skip
    sniff_out, sniff_err = tmp_path / "sniff.ndjson", tmp_path / "sniff.err"
    dump, dump_err = tmp_path / "tcpdump.pcap", tmp_path / "tcpdump.err"
    try:
        wait_for(tmp_path / "tun.out", "^ready", holder)
        _ip("-n", veth.a, "addr", "add", "198.18.7.1/24", "dev", "tun0")
        _ip("-n", veth.a, "link", "set", "tun0", "up")
        sniff = veth.popen(
            veth.a, [netlab_bin(), "sniff", "-i", "tun0", "-f", "icmp", "-c", "3", "-s", "60",
                     "--json", "--timeout", "20"], sniff_out, sniff_err,
        )  # fmt: skip
        # Not --immediate-mode here: libpcap 1.10's TPACKET_V2 ring (immediate mode) cuts
        # packets of header-less links 16 bytes short of -s (it reserves room for a link
        # header that tun does not have); its default TPACKET_V3 path gets -s right.
        tcpdump = veth.popen(
            veth.a, ["tcpdump", "-i", "tun0", "-w", str(dump), "-c", "3", "-s", "60", "icmp"],
            tmp_path / "tcpdump.out", dump_err,
        )  # fmt: skip
        try:
            wait_for(sniff_err, r"^listening on tun0, link-type RAW", sniff)
            wait_for(dump_err, r"listening on tun0", tcpdump)
            veth.udp_noise(5, port=7)
            # Nobody answers inside the tunnel: three requests, no replies.
            veth.run(veth.a, "ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "0.2", "198.18.7.2")
        finally:
            codes = finish(sniff), finish(tcpdump)
    finally:
        holder.kill()
        holder.wait()
    assert codes == (0, 0), sniff_err.read_text() + dump_err.read_text()
    ours = [(r["caplen"], r["len"], r["fields"]["ip.dst"]) for r in ndjson(sniff_out)]
    out = subprocess.run(
        ["tshark", "-r", str(dump), "-T", "fields", "-e", "frame.cap_len", "-e", "frame.len",
         "-e", "ip.dst"], capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    theirs = [(int(a), int(b), c) for a, b, c in (line.split("\t") for line in out.splitlines())]
    assert ours == theirs == [(60, 84, "198.18.7.2")] * 3


@pytest.mark.lab
def test_bad_filter_is_one_line_exit_2(veth):
    proc = veth.sniff("-i", "vethA", "-f", "tcp prt 80")
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("netlab: error: bad capture filter 'tcp prt 80': ")
    assert "syntax error" in lines[0]


@pytest.mark.lab
def test_unknown_interface_is_one_line_exit_2(veth):
    proc = veth.sniff("-i", "eth9", "--timeout", "1")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == ["netlab: error: no such interface 'eth9'"]


@pytest.mark.lab
def test_default_interface_is_the_default_routes(veth):
    proc = veth.sniff("--timeout", "0.2")
    assert proc.returncode == 2
    assert "-i IFACE" in proc.stderr and proc.stderr.count("\n") == 1
    _ip("-n", veth.a, "route", "add", "default", "via", veth.addr_b)
    proc = veth.sniff("--timeout", "0.2")
    assert proc.returncode == 1, proc.stderr  # listened, but nothing came: "no answer"
    assert proc.stderr.startswith("listening on vethA, link-type ETHERNET")


# --- tcpdump's habits (issue 21): the filter as trailing words, -v, -A, -X -------------------

# tcpdump's line before each packet's dump, and ours: everything else is the dump itself.
TCPDUMP_HEAD = re.compile(r"^\d\d:\d\d:\d\d\.\d{6} ")
SNIFF_HEAD = re.compile(r"^ +\d+ +\d+\.\d{6} ")


def dumps(text: str, head: re.Pattern) -> list[str]:
    """The text after each packet's line (its -A/-X view), one string per packet."""
    blocks: list[list[str]] = []
    for line in text.splitlines():
        if head.match(line):
            blocks.append([])
        else:
            assert blocks, f"text before the first packet: {line!r}"
            blocks[-1].append(line)
    return ["\n".join(b) for b in blocks]


def run_both(veth, tmp_path, ours: list[str], theirs: list[str], traffic) -> tuple[str, str]:
    """`netlab sniff OURS` and `tcpdump THEIRS` on vethA while TRAFFIC runs: their stdout."""
    files = {n: (tmp_path / f"{n}.out", tmp_path / f"{n}.err") for n in ("sniff", "tcpdump")}
    sniff = veth.popen(veth.a, [netlab_bin(), "sniff", "-i", "vethA", "--timeout", "20", *ours],
                       *files["sniff"])  # fmt: skip
    tcpdump = veth.popen(veth.a, ["tcpdump", "-i", "vethA", "-n", "--immediate-mode", *theirs],
                         *files["tcpdump"])  # fmt: skip
    try:
        wait_for(files["sniff"][1], r"^listening on vethA", sniff)
        wait_for(files["tcpdump"][1], r"listening on vethA", tcpdump)
        traffic()
    finally:
        codes = finish(sniff), finish(tcpdump)
    assert codes == (0, 0), files["sniff"][1].read_text() + files["tcpdump"][1].read_text()
    return files["sniff"][0].read_text(), files["tcpdump"][0].read_text()


@pytest.mark.lab
def test_filter_words_select_what_tcpdump_selects_and_x_is_its_dump(veth, tmp_path):
    """`sniff -i IF icmp and host X` takes tcpdump's trailing filter words: the same
    packets (ICMP with another host and UDP with this one stay out), each with
    tcpdump -X's hex and ASCII lines, byte for byte."""
    _ip("-n", veth.b, "addr", "add", "198.18.5.3/24", "dev", "vethB")

    def traffic() -> None:
        veth.udp_noise(5)
        veth.ping(1, "198.18.5.3")  # ICMP, but not with host .2
        veth.ping(2)
        veth.udp_noise(5)

    words = ["icmp", "and", "host", veth.addr_b]
    ours, theirs = run_both(veth, tmp_path, ["-X", "-c", "4", *words], ["-X", "-c", "4", *words],
                            traffic)  # fmt: skip
    ours_dumps, their_dumps = dumps(ours, SNIFF_HEAD), dumps(theirs, TCPDUMP_HEAD)
    assert len(ours_dumps) == 4 and ours_dumps == their_dumps, ours + theirs
    assert all(re.match(r"^\t0x0000:  4500 0054 ", d) for d in ours_dumps)
    assert all(f"{veth.addr_b} " in line for line in ours.splitlines() if SNIFF_HEAD.match(line))


UDP_TEXT = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for body in (b"GET / HTTP/1.1\\r\\nHost: lab\\tx\\r\\n\\r\\n", b"bin\\x00\\x7f\\xff\\rend\\n"):
    s.sendto(body, (sys.argv[1], 9))
"""


@pytest.mark.lab
def test_a_is_tcpdumps_ascii_view_and_v_is_the_tree(veth, tmp_path):
    def traffic() -> None:
        proc = veth.run(veth.a, sys.executable, "-c", UDP_TEXT, veth.addr_b)
        assert proc.returncode == 0, proc.stderr

    ours, theirs = run_both(veth, tmp_path, ["-A", "-c", "2", "udp"], ["-A", "-c", "2", "udp"],
                            traffic)  # fmt: skip
    ours_dumps, their_dumps = dumps(ours, SNIFF_HEAD), dumps(theirs, TCPDUMP_HEAD)
    assert len(ours_dumps) == 2 and ours_dumps == their_dumps, ours + theirs
    assert "GET / HTTP/1.1\nHost: lab\tx\n" in ours_dumps[0]  # the CRs of CRLF dropped
    assert ours_dumps[1].endswith("bin....end\n")  # NUL, DEL, 0xff and a lone CR as dots
    # -v: the dissector's layers, as every command's -v (-V for tshark's users).
    tree = veth.popen(veth.a, [netlab_bin(), "sniff", "-i", "vethA", "-v", "-c", "1",
                               "--timeout", "20", "udp"], tmp_path / "v.out",
                      tmp_path / "v.err")  # fmt: skip
    try:
        wait_for(tmp_path / "v.err", r"^listening on vethA", tree)
        traffic()
    finally:
        assert finish(tree) == 0, (tmp_path / "v.err").read_text()
    text = (tmp_path / "v.out").read_text()
    assert "Internet Protocol Version 4, Src: 198.18.5.1, Dst: 198.18.5.2" in text
    assert "User Datagram Protocol, Src Port: " in text


@pytest.mark.parametrize(
    ("args", "message"),
    [(["-f", "icmp", "udp"], "give the filter once: as trailing words or with -f, not both"),
     (["-A", "-X", "icmp"], "choose one of -A and -X"),
     (["-A", "--json", "icmp"], "-A is a text view: not with --json")],
)  # fmt: skip
def test_conflicting_options_are_one_line_exit_2(args, message):
    proc = subprocess.run([netlab_bin(), "sniff", "-i", "lo", *args], capture_output=True,
                          text=True, timeout=30)  # fmt: skip
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"netlab: error: {message}\n"


def test_help_speaks_of_capture_not_of_a_target():
    out = subprocess.run([netlab_bin(), "sniff", "--help"], capture_output=True, text=True,
                         timeout=30).stdout  # fmt: skip
    out = " ".join(out.split())
    assert "target" not in out and "[EXPRESSION]..." in out
    assert "as tcpdump -A" in out and "as tcpdump -X" in out and "as tcpdump -w" in out


@pytest.mark.parametrize("capture", sorted(p.name for p in (ROOT / "pcaps").glob("*.pcap*")))
@pytest.mark.parametrize("mode", ["A", "X"])
def test_a_and_x_views_are_tcpdumps_on_every_bundled_packet(capture, mode):
    """The views without root, packet by packet against `tcpdump -r FILE -A/-X` (IPv4,
    IPv6, ARP, DNS, HTTP, RTMP: odd lengths, CRLF, a CR among the last two bytes)."""
    from netlab.capture.reader import open_capture
    from netlab.dissect import Dissector
    from netlab.render.sniff import payload_view

    path = ROOT / "pcaps" / capture
    out = subprocess.run([require_tool("tcpdump"), "-r", str(path), "-n", f"-{mode}"],
                         capture_output=True, timeout=30).stdout.decode("latin-1")  # fmt: skip
    theirs = dumps(out.removesuffix("\n"), TCPDUMP_HEAD)
    dissector = Dissector()
    with open_capture(str(path)) as frames:
        ours = [payload_view(dissector.dissect(no, f.ts_ns, f.data, f.wirelen, f.linktype),
                             mode).removesuffix("\n")
                for no, f in enumerate(frames, 1)]  # fmt: skip
    assert len(ours) == len(theirs) > 0
    assert [i for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b] == []
