"""netlab arp: the cores with fake time, the OUI registry, and lab runs against arping/arp-scan."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest

from netlab.core.arp import (
    ArpingCore,
    ArpReply,
    ArpScanCore,
    ArpTimeout,
    ProbeSummary,
    ScanSummary,
    parse_arp,
)
from netlab.net.oui import LOCALLY_ADMINISTERED, UNKNOWN, OuiDatabase
from netlab.wire.link import LinkFrame
from tests.conftest import netlab_bin

NS = 1_000_000_000
MS = 1_000_000
ME = "02:00:00:00:00:0a"
PEER = "02:00:00:00:00:14"
OTHER = "02:00:00:00:00:1e"
DUP_LAB = str(Path(__file__).parent / "labs" / "dup.toml")


# --- frames for the cores --------------------------------------------------------------------
def arp_frame(op: int, sha: str, spa: str, tha: str, tpa: str, ts: int, dst: str | None = None,
              vlan: bool = False) -> LinkFrame:  # fmt: skip
    eth_dst = bytes.fromhex((dst or ("ff:ff:ff:ff:ff:ff" if op == 1 else tha)).replace(":", ""))
    header = eth_dst + bytes.fromhex(sha.replace(":", ""))
    if vlan:
        header += b"\x81\x00\x00\x05"
    body = (b"\x08\x06" + b"\x00\x01\x08\x00\x06\x04" + op.to_bytes(2, "big")
            + bytes.fromhex(sha.replace(":", "")) + socket.inet_aton(spa)
            + bytes.fromhex(tha.replace(":", "")) + socket.inet_aton(tpa))  # fmt: skip
    data = header + body
    return LinkFrame(data, ts, 1)


def sent_frame(send, ts: int) -> LinkFrame:
    """What the capture shows when our own Send leaves the interface."""
    return LinkFrame(send.data, ts, 1)


def reply(sha: str, spa: str, tpa: str, ts: int, tha: str = ME) -> LinkFrame:
    return arp_frame(2, sha, spa, tha, tpa, ts)


def events_of(core, kind) -> list:
    return [e for e in core.pop_events() if isinstance(e, kind)]


# --- parsing -----------------------------------------------------------------------------------
def test_parse_reads_requests_replies_and_vlan_tagged_frames():
    p = parse_arp(arp_frame(1, ME, "198.18.0.10", "00:00:00:00:00:00", "198.18.0.20", 1))
    assert p is not None and p.op == 1 and p.eth_dst == b"\xff" * 6
    assert socket.inet_ntoa(p.tpa) == "198.18.0.20" and p.sha.hex(":") == ME
    q = parse_arp(arp_frame(2, PEER, "198.18.0.20", ME, "198.18.0.10", 1, vlan=True))
    assert q is not None and q.op == 2 and socket.inet_ntoa(q.spa) == "198.18.0.20"


def test_parse_never_raises_and_rejects_what_is_not_ethernet_ipv4_arp():
    good = arp_frame(1, ME, "198.18.0.10", "00:00:00:00:00:00", "198.18.0.20", 1).data
    import random

    rng = random.Random(5227)
    for _ in range(2000):
        data = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 64)))
        parse_arp(LinkFrame(data, 0, 1))
    for cut in range(len(good)):
        assert parse_arp(LinkFrame(good[:cut], 0, 1)) is None
    ipv4 = good[:12] + b"\x08\x00" + good[14:]
    assert parse_arp(LinkFrame(ipv4, 0, 1)) is None
    token_ring = good[:14] + b"\x00\x06" + good[16:]  # another hardware type
    assert parse_arp(LinkFrame(token_ring, 0, 1)) is None
    raw_ip = LinkFrame(good, 0, 101)  # LINKTYPE_RAW: no ARP there
    assert parse_arp(raw_ip) is None


# --- arping: resolve ---------------------------------------------------------------------------
def test_resolve_broadcasts_then_unicasts_and_measures_kernel_to_kernel():
    core = ArpingCore(mac=ME, src="198.18.0.10", target="198.18.0.20", count=3, interval=1.0)
    t0 = 1000 * NS
    [first] = core.start(t0)
    p = parse_arp(sent_frame(first, 0))
    assert first.l2 and p is not None and p.op == 1
    assert p.eth_dst == b"\xff" * 6 and p.tha == b"\x00" * 6  # broadcast, target MAC unknown
    core.on_packet(sent_frame(first, t0 + 50_000), t0 + 60_000)  # seen leaving: kernel time
    core.on_packet(reply(PEER, "198.18.0.20", "198.18.0.10", t0 + 90_000), t0 + 95_000)
    [r] = events_of(core, ArpReply)
    assert (r.ip, r.mac, r.seq, r.dup) == ("198.18.0.20", PEER, 1, 0)
    assert r.rtt_ms == pytest.approx(0.040)  # 90 µs - 50 µs: from the kernel's time stamps
    assert core.deadline() == t0 + NS
    [second] = core.on_timer(t0 + NS)
    p2 = parse_arp(sent_frame(second, 0))
    assert p2.eth_dst.hex(":") == PEER and p2.tha.hex(":") == PEER  # unicast to the learnt MAC
    # Nobody answers the unicast probe: the next one goes back to broadcast.
    [third] = core.on_timer(t0 + 2 * NS)
    assert parse_arp(sent_frame(third, 0)).eth_dst == b"\xff" * 6
    assert [e.seq for e in events_of(core, ArpTimeout)] == [2]
    core.on_packet(reply(PEER, "198.18.0.20", "198.18.0.10", t0 + 2 * NS + MS), t0 + 2 * NS + MS)
    # The last probe is answered: 20 ms more for a duplicate, not the whole timeout.
    assert core.deadline() == t0 + 2 * NS + 21 * MS
    core.on_timer(t0 + 2 * NS + 21 * MS)
    assert core.done()
    events = core.pop_events()
    summary = events[-1]
    assert isinstance(summary, ProbeSummary)
    assert (summary.sent, summary.broadcasts, summary.received, summary.answered) == (3, 2, 2, 2)
    assert core.deadline() is None


def test_resolve_ignores_replies_that_are_not_for_us_and_marks_a_second_answer_dup():
    core = ArpingCore(mac=ME, src="198.18.0.10", target="198.18.0.20", count=1, timeout=1.0)
    t0 = 5 * NS
    core.start(t0)
    core.on_packet(reply(PEER, "198.18.0.21", "198.18.0.10", t0 + MS), t0 + MS)  # other address
    core.on_packet(reply(PEER, "198.18.0.20", "198.18.0.11", t0 + MS, OTHER), t0 + MS)  # not us
    assert not core.pop_events()
    core.on_packet(reply(PEER, "198.18.0.20", "198.18.0.10", t0 + 2 * MS), t0 + 2 * MS)
    core.on_packet(reply(OTHER, "198.18.0.20", "198.18.0.10", t0 + 3 * MS), t0 + 3 * MS)
    assert not core.done()  # still listening for more owners
    core.on_timer(t0 + 22 * MS)
    first, second, summary = core.pop_events()
    assert (first.mac, first.dup, second.mac, second.dup) == (PEER, 0, OTHER, 2)
    assert (summary.received, summary.duplicates, summary.answered) == (2, 1, 1)
    assert core.learnt == bytes.fromhex(PEER.replace(":", ""))  # the first answer is kept


def test_resolve_without_answers_waits_the_timeout_after_the_last_probe():
    core = ArpingCore(mac=ME, src="198.18.0.10", target="198.18.0.99", count=2, interval=0.5,
                      timeout=2.0)  # fmt: skip
    core.start(0)
    assert len(core.on_timer(NS // 2)) == 1
    assert core.deadline() == NS // 2 + 2 * NS
    assert core.on_timer(2 * NS) == [] and not core.done()
    core.on_timer(NS // 2 + 2 * NS)
    events = core.pop_events()
    assert [e.seq for e in events if isinstance(e, ArpTimeout)] == [1, 2]
    assert events[-1].received == 0 and core.done()


def test_deadline_with_count_probes_until_count_answers_like_arping_w():
    core = ArpingCore(mac=ME, src="198.18.0.10", target="198.18.0.20", count=2, interval=1.0,
                      deadline=10.0)  # fmt: skip
    core.start(0)
    for i in range(1, 4):  # three unanswered probes: still going (arping -w keeps sending)
        assert len(core.on_timer(i * NS)) == 1
    core.on_packet(reply(PEER, "198.18.0.20", "198.18.0.10", 3 * NS + MS), 3 * NS + MS)
    assert not core.done()
    core.on_timer(4 * NS)
    core.on_packet(reply(PEER, "198.18.0.20", "198.18.0.10", 4 * NS + MS), 4 * NS + MS)
    assert core.done() and core.pop_events()[-1].answered == 2
    forever = ArpingCore(mac=ME, src="198.18.0.10", target="198.18.0.20", count=None,
                         interval=1.0, deadline=2.5)  # fmt: skip
    forever.start(0)
    sends = sum(len(forever.on_timer(t)) for t in (NS, 2 * NS, int(2.5 * NS)))
    assert sends == 2 and forever.done()  # probes at 0, 1 and 2 s; the deadline ends it


# --- arping: DAD and announcements -------------------------------------------------------------
def test_dad_probes_from_0_0_0_0_and_finds_no_conflict():
    core = ArpingCore(mac=ME, src="198.18.0.10", target="198.18.0.40", mode="dad", count=2,
                      interval=1.0, timeout=1.0)  # fmt: skip
    [probe] = core.start(0)
    p = parse_arp(sent_frame(probe, 0))
    assert socket.inet_ntoa(p.spa) == "0.0.0.0" and socket.inet_ntoa(p.tpa) == "198.18.0.40"
    assert p.tha == b"\x00" * 6 and p.eth_dst == b"\xff" * 6  # RFC 5227 2.1.1
    core.on_packet(sent_frame(probe, 10), 20)  # our own probe is no conflict
    core.on_packet(arp_frame(1, PEER, "198.18.0.20", "00:00:00:00:00:00", "198.18.0.10", 30), 30)
    core.on_timer(NS)
    core.on_timer(2 * NS)
    summary = core.pop_events()[-1]
    assert core.done() and summary.conflict_mac is None and summary.sent == 2


@pytest.mark.parametrize("kind", ["reply", "announcement", "probe"])
def test_dad_stops_at_the_first_sign_of_another_owner(kind):
    core = ArpingCore(mac=ME, src="198.18.0.10", target="198.18.0.40", mode="dad", count=3)
    core.start(0)
    frame = {
        "reply": arp_frame(2, OTHER, "198.18.0.40", ME, "0.0.0.0", MS),
        "announcement": arp_frame(1, OTHER, "198.18.0.40", "00:00:00:00:00:00", "198.18.0.40", MS),
        "probe": arp_frame(1, OTHER, "0.0.0.0", "00:00:00:00:00:00", "198.18.0.40", MS),
    }[kind]
    core.on_packet(frame, MS)
    assert core.done()
    events = core.pop_events()
    assert events[0].mac == OTHER and events[-1].conflict_mac == OTHER
    assert events[0].op == ("reply" if kind == "reply" else "request")


def test_announce_sends_gratuitous_requests_and_replies_and_ends_when_they_left():
    core = ArpingCore(mac=ME, src="198.18.0.10", target="198.18.0.10", mode="announce", count=1,
                      announce=("request", "reply"))  # fmt: skip
    sends = core.start(0)
    request, answer = (parse_arp(sent_frame(s, 0)) for s in sends)
    assert (request.op, answer.op) == (1, 2)
    for p in (request, answer):
        assert p.spa == p.tpa == socket.inet_aton("198.18.0.10") and p.eth_dst == b"\xff" * 6
    assert request.tha == b"\x00" * 6 and answer.tha.hex(":") == ME  # as arping -U / -A
    core.on_packet(sent_frame(sends[0], 5), 5)
    assert not core.done()
    core.on_packet(sent_frame(sends[1], 6), 6)
    assert core.done() and core.pop_events()[-1].sent == 2


# --- arp-scan -----------------------------------------------------------------------------------
def scan_core(targets, **kw) -> ArpScanCore:
    return ArpScanCore(mac=ME, src="198.18.0.10", targets=targets, **kw)


def target_of(send) -> str:
    return socket.inet_ntoa(parse_arp(sent_frame(send, 0)).tpa)


def test_scan_paces_retries_with_backoff_and_gives_up_after_the_last_try():
    core = scan_core(["198.18.0.1", "198.18.0.2"], interval=0.01, tries=3, timeout=0.5,
                     backoff=2.0)  # fmt: skip
    sent: list[tuple[float, str]] = []

    def run_until(t_ns):
        while not core.done() and core.deadline() <= t_ns:
            now = core.deadline()
            for s in core.on_timer(now):
                sent.append((now / NS, target_of(s)))

    for s in core.start(0):
        sent.append((0.0, target_of(s)))
    run_until(10 * NS)
    # Each host: tries at t, t+0.5, t+0.5+1.0; given up 2.0 s after the third.
    assert sent == [(0.0, "198.18.0.1"), (0.01, "198.18.0.2"), (0.5, "198.18.0.1"),
                    (0.51, "198.18.0.2"), (1.5, "198.18.0.1"), (1.51, "198.18.0.2")]  # fmt: skip
    summary = events_of(core, ScanSummary)[0]
    assert summary.time_ms == pytest.approx(3510.0)  # the last try + 0.5 s × 2²
    assert (summary.hosts, summary.responded, summary.sent) == (2, 0, 6)


def test_scan_stops_asking_a_host_that_answered_and_counts_duplicates():
    targets = [f"198.18.0.{i}" for i in range(1, 6)]
    core = scan_core(targets, interval=0.001, tries=2, timeout=0.5)
    sends = core.start(0)
    for i in range(1, 5):
        sends += core.on_timer(i * MS)
    assert [target_of(s) for s in sends] == targets
    core.on_packet(sent_frame(sends[1], 1 * MS + 5_000), 1 * MS + 6_000)  # .2 seen leaving
    core.on_packet(reply(PEER, "198.18.0.2", "198.18.0.10", 1 * MS + 45_000), 2 * MS)
    core.on_packet(reply(OTHER, "198.18.0.2", "198.18.0.10", 1 * MS + 60_000), 2 * MS)
    core.on_packet(reply(PEER, "198.18.0.9", "198.18.0.10", 3 * MS), 3 * MS)  # not a target
    core.on_packet(reply(PEER, "198.18.0.3", "198.18.0.11", 3 * MS, OTHER), 3 * MS)  # not us
    first, dup = events_of(core, ArpReply)
    assert (first.ip, first.mac, first.dup, dup.mac, dup.dup) == (
        "198.18.0.2", PEER, 0, OTHER, 2)  # fmt: skip
    assert first.rtt_ms == pytest.approx(0.040)
    retries = []
    t = 5 * MS
    while not core.done():
        t = core.deadline()
        retries += [target_of(s) for s in core.on_timer(t)]
    assert sorted(retries) == ["198.18.0.1", "198.18.0.3", "198.18.0.4", "198.18.0.5"]
    summary = core.pop_events()[-1]
    assert (summary.responded, summary.replies, summary.duplicates) == (1, 2, 1)


def test_scan_ends_as_soon_as_every_host_answered():
    core = scan_core(["198.18.0.20", "198.18.0.30"], interval=0.001)
    core.start(0)
    core.on_timer(MS)
    core.on_packet(reply(PEER, "198.18.0.20", "198.18.0.10", 2 * MS), 2 * MS)
    assert not core.done()
    core.on_packet(reply(OTHER, "198.18.0.30", "198.18.0.10", 3 * MS), 3 * MS)
    assert core.done() and core.deadline() is None
    assert core.pop_events()[-1].time_ms == pytest.approx(3.0)


def test_scan_catches_up_a_late_loop_in_bounded_bursts_and_obeys_the_deadline():
    core = scan_core([f"198.18.{i // 250}.{i % 250 + 1}" for i in range(500)], interval=0.001,
                     deadline=0.3)  # fmt: skip
    assert len(core.start(0)) == 1
    late = core.on_timer(50 * MS)  # the loop stalled 50 ms: it catches up in bursts of 16
    assert len(late) == 16 and core.deadline() < 50 * MS  # due now: more to send
    while core.deadline() <= 50 * MS:
        late += core.on_timer(50 * MS)
    assert len(late) == 50  # packets 2 to 51: back on schedule, none lost
    assert core.deadline() == 51 * MS
    assert len(core.on_timer(250 * MS)) == 16  # a long stall: it owes 100 ms at most
    while core.deadline() <= 250 * MS:
        late += core.on_timer(250 * MS)
    assert core.sent == 51 + 100 + 1  # the 100 it owes, and the one due now
    core.on_timer(300 * MS)
    assert core.done() and isinstance(core.pop_events()[-1], ScanSummary)


def test_scan_send_errors_are_reported_once_per_kind():
    core = scan_core(["198.18.0.1", "198.18.0.2"], interval=0.001)
    [s] = core.start(0)
    err = OSError(105, "No buffer space available")
    core.on_send_error(s, err, 0)
    core.on_send_error(s, err, 0)
    errors = [e for e in core.pop_events() if e.type == "local_error"]
    assert len(errors) == 1 and errors[0].ip == "198.18.0.1" and core.errors == 2


# --- vendors ----------------------------------------------------------------------------------
def write_registries(tmp_path: Path) -> Path:
    head = "Registry,Assignment,Organization Name,Organization Address\n"
    (tmp_path / "oui.csv").write_text(head + 'MA-L,005056,"VMware, Inc.",Palo Alto\n'
                                      "MA-L,70B3D5,IEEE Registration Authority,\n"
                                      "MA-L,AA0003,DIGITAL EQUIPMENT CORPORATION,\n")  # fmt: skip
    (tmp_path / "mam.csv").write_text(head + "MA-M,70B3D51,Seven Bits Inc,\n")
    (tmp_path / "oui36.csv").write_text(head + "MA-S,70B3D5F2F,TELEPLATFORMS,\n")
    return tmp_path


def test_vendor_is_the_longest_registered_prefix(tmp_path):
    db = OuiDatabase(write_registries(tmp_path))
    assert db.lookup("00:50:56:12:34:56") == "VMware, Inc."  # quoted name with a comma
    assert db.lookup("70:b3:d5:f2:f1:00") == "TELEPLATFORMS"  # 36 bits
    assert db.lookup("70:b3:d5:12:34:56") == "Seven Bits Inc"  # 28 bits
    assert db.lookup("70:b3:d5:aa:00:00") == "IEEE Registration Authority"  # only 24 match
    assert db.lookup("aa:00:03:00:00:01") == "DIGITAL EQUIPMENT CORPORATION"  # old, L bit set
    assert db.lookup("02:42:ac:11:00:02") == LOCALLY_ADMINISTERED  # as arp-scan says it
    assert db.lookup("00:00:01:00:00:00") == UNKNOWN
    assert db.warning is None


def test_missing_registry_gives_unknown_and_one_warning(tmp_path):
    db = OuiDatabase(tmp_path / "nowhere")
    assert db.lookup("00:50:56:12:34:56") == UNKNOWN
    assert "ieee-data" in db.warning and "\n" not in db.warning


def test_debian_registry_loads_lazily():
    db = OuiDatabase()
    if not (db.directory / "oui.csv").exists():
        pytest.skip("needs the Debian package ieee-data")
    assert db._names is None  # nothing read until a lookup
    assert db.lookup("00:50:56:00:00:01") == "VMware, Inc."
    assert db.lookup("00:50:c2:7d:50:01") == "DEUTA-WERKE GmbH"  # an IAB (36-bit) block
    assert len(db) > 40_000


# --- the command without a network --------------------------------------------------------------
def netlab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([netlab_bin(), *args], capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["arp"], "missing IP"),
        (["arp", "--scan", "198.18.0.0/24", "198.18.0.1"], "no IP argument"),
        (["arp", "--scan", "10.0.0.0/8", "-I", "lo"], "--force"),
        (["arp", "--scan", "2001:db8::/64", "-I", "lo"], "IPv4 only"),
        (["arp", "--scan", "nonsense", "-I", "lo"], "not an IPv4 address"),
        (["arp", "--rate", "10", "198.18.0.1"], "--rate applies to --scan"),
        (["arp", "--dad", "-U", "198.18.0.1"], "choose one"),
        (["arp", "--dad", "-s", "198.18.0.1", "198.18.0.2"], "0.0.0.0"),
        (["arp", "--scan", "198.18.0.0/24", "-c", "2"], "--retry"),
        (["arp", "--scan", "198.18.0.0/24", "--rate", "5", "-i", "0.1"], "give one"),
        (["arp", "-c", "1", "-I", "lo", "127.0.0.2"], "Ethernet"),
        (["arp", "-c", "1", "-I", "nosuch0", "198.18.0.1"], "no such interface"),
        (["arp", "-I", "lo", "198.18.0.9-198.18.0.1"], "the range ends before it starts"),
        (["arp", "-I", "lo", "198.18.0.0/33"], "not an IPv4 address or prefix"),
        (["arp", "-I", "lo", "2001:db8::/64"], "IPv4 only"),
        (["arp", "-f", "198.18.0.0/29"], "-f (stop at the first reply) applies"),
        (["arp", "-q", "--json", "198.18.0.1"], "give one"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, words):
    proc = netlab(*args)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("netlab: error: ")
    assert words in proc.stderr and proc.stdout == ""


# --- in labs, against arping and arp-scan --------------------------------------------------
def wait_links_up(handle, timeout: float = 5.0) -> None:
    """Right after `lab up` a bridge port can stay down for up to a second (the kernel's
    link watch handles carrier changes at most once a second): wait for every veth end."""
    ends = [
        end.split(":") for item in handle.book.of_kind("link") for end in (item["a"], item["b"])
    ]
    deadline = time.monotonic() + timeout
    while True:
        down = []
        for ns, dev in ends:
            out = subprocess.run(["ip", "-n", ns, "-j", "link", "show", "dev", dev],
                                 capture_output=True, text=True, check=True).stdout  # fmt: skip
            if json.loads(out)[0].get("operstate") != "UP":
                down.append(f"{ns}:{dev}")
        if not down:
            return
        assert time.monotonic() < deadline, f"links still down: {down}"
        time.sleep(0.05)


def arp(handle, *args: str, node: str = "a") -> subprocess.CompletedProcess:
    return handle.exec(node, netlab_bin(), "arp", *args, timeout=30)


def ndjson(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def mac_of(handle, node: str) -> str:
    return handle.exec(node, "cat", "/sys/class/net/eth0/address", check=True).stdout.strip()


def sweep_lines(stdout: str) -> list[tuple[str, ...]]:
    """IP, MAC, vendor (with any DUP mark) of each host line, in either tool's output."""
    return [tuple(line.split("\t")) for line in stdout.splitlines()
            if re.match(r"\d+\.\d+\.\d+\.\d+\t", line)]  # fmt: skip


@pytest.fixture
def lan(lab):
    handle = lab("lan", tools=("arping", "arp-scan", "tshark", "setpriv"))
    wait_links_up(handle)
    return handle


@pytest.fixture
def dup(lab):
    """The dup lab, with b's address given to c as well, and MACs of known vendors."""
    handle = lab(DUP_LAB, tools=("arping", "arp-scan"))
    wait_links_up(handle)
    for node, mac in (("b", "00:50:c2:7d:50:01"), ("c", "00:50:56:00:00:30")):
        subprocess.run(["ip", "-n", handle.netns(node), "link", "set", "eth0", "address", mac],
                       check=True)  # fmt: skip
    subprocess.run(["ip", "-n", handle.netns("c"), "addr", "add", "198.18.0.20/24", "dev", "eth0"],
                   check=True)  # fmt: skip
    return handle


def test_resolve_sees_the_mac_arping_sees(lan):
    ours = arp(lan, "-c", "2", "-i", "0.2", "-I", "eth0", "198.18.0.20")
    assert ours.returncode == 0, ours.stderr
    theirs = lan.exec("a", "arping", "-c", "1", "-I", "eth0", "198.18.0.20")
    assert theirs.returncode == 0, theirs.stdout
    their_mac = re.search(r"\[([0-9A-F:]{17})\]", theirs.stdout).group(1)
    assert their_mac.lower() == mac_of(lan, "b")
    lines = ours.stdout.splitlines()
    assert lines[0] == "ARPING 198.18.0.20 from 198.18.0.10 eth0"  # arping's header, word for word
    for line in lines[1:3]:
        assert re.fullmatch(rf"Unicast reply from 198\.18\.0\.20 \[{their_mac}\]  \d+\.\d{{3}}ms",
                            line)  # fmt: skip
    assert lines[3:] == ["Sent 2 probes (1 broadcast(s))", "Received 2 response(s)"]
    records = ndjson(arp(lan, "-c", "1", "--json", "198.18.0.20").stdout)
    assert records[0]["mac"] == their_mac.lower() and 0 < records[0]["rtt_ms"] < 50
    assert records[-1]["type"] == "summary" and records[-1]["received"] == 1


def test_nothing_answers_exit_1(lan):
    silent = arp(lan, "-c", "1", "-W", "0.3", "198.18.0.99")
    assert silent.returncode == 1
    assert silent.stdout.splitlines()[-1] == "Received 0 response(s)"
    empty = arp(lan, "--scan", "198.18.0.100/30", "--timeout", "0.1", "--retry", "1", "--json")
    assert empty.returncode == 1
    summary = ndjson(empty.stdout)[-1]
    assert summary["type"] == "summary" and (summary["hosts"], summary["responded"]) == (2, 0)


def test_localnet_finds_exactly_the_lab_hosts_and_matches_arp_scan(lan):
    ours = arp(lan, "--localnet", "-I", "eth0")
    assert ours.returncode == 0, ours.stderr
    theirs = lan.exec("a", "arp-scan", "--localnet", "-I", "eth0")
    assert theirs.returncode == 0, theirs.stderr
    assert sweep_lines(ours.stdout) == sweep_lines(theirs.stdout)
    assert sweep_lines(ours.stdout) == [
        ("198.18.0.20", mac_of(lan, "b"), "(Unknown: locally administered)")]  # fmt: skip
    assert re.search(r"^254 hosts scanned in \d+\.\d{3} s; 1 responded$", ours.stdout, re.M)
    records = ndjson(arp(lan, "--scan", "198.18.0.0/24", "--json").stdout)
    assert records[0] == {**records[0], "type": "reply", "addr": "198.18.0.20", "dup": 0,
                          "vendor": "(Unknown: locally administered)"}  # fmt: skip
    assert records[-1] == {**records[-1], "type": "summary", "hosts": 254, "responded": 1,
                           "interface": "eth0", "src": "198.18.0.10"}  # fmt: skip


def test_duplicate_address_is_reported_like_arp_scan_does(dup):
    ours = arp(dup, "--scan", "198.18.0.0/24", "-I", "eth0")
    theirs = dup.exec("a", "arp-scan", "-I", "eth0", "198.18.0.0/24")
    assert ours.returncode == 0 and theirs.returncode == 0, ours.stderr + theirs.stderr
    mine, peers = sweep_lines(ours.stdout), sweep_lines(theirs.stdout)
    # Which of the two owners answers first is up to the kernel: compare as sets.
    assert sorted(row[:2] for row in mine) == sorted(row[:2] for row in peers) == [
        ("198.18.0.20", "00:50:56:00:00:30"), ("198.18.0.20", "00:50:c2:7d:50:01"),
        ("198.18.0.30", "00:50:56:00:00:30")]  # fmt: skip
    assert [row[2] for row in mine if row[0] == "198.18.0.20"][1].endswith(" (DUP: 2)")
    vendors = {row[1]: row[2].removesuffix(" (DUP: 2)") for row in mine}
    assert vendors == {row[1]: row[2].removesuffix(" (DUP: 2)") for row in peers} == {
        "00:50:56:00:00:30": "VMware, Inc.", "00:50:c2:7d:50:01": "DEUTA-WERKE GmbH"}  # fmt: skip
    assert "2 responded" in ours.stdout
    # One probe, two answers: the second is the duplicate.
    records = ndjson(arp(dup, "-c", "1", "--json", "198.18.0.20").stdout)
    answers = [r for r in records if r["type"] == "reply"]
    assert sorted(r["dup"] for r in answers) == [0, 2]
    assert {r["mac"] for r in answers} == {"00:50:56:00:00:30", "00:50:c2:7d:50:01"}


def test_dad_exit_status_says_whether_the_address_is_taken(dup):
    taken = arp(dup, "--dad", "-c", "1", "--json", "198.18.0.20")
    assert taken.returncode == 1, taken.stderr
    summary = ndjson(taken.stdout)[-1]
    assert summary["in_use"] and summary["mac"] in ("00:50:56:00:00:30", "00:50:c2:7d:50:01")
    free = arp(dup, "--dad", "-c", "1", "--timeout", "0.3", "198.18.0.99")
    assert free.returncode == 0, free.stderr
    assert free.stdout.splitlines()[0] == "ARPING 198.18.0.99 from 0.0.0.0 eth0"
    assert "no duplicate" in free.stdout
    theirs = dup.exec("a", "arping", "-D", "-c", "1", "-I", "eth0", "198.18.0.20")
    assert theirs.returncode == 1  # arping -D agrees: the address is in use


def test_gratuitous_arp_updates_the_neighbours_cache(lan, tmp_path):
    b_ns, bogus = lan.netns("b"), "02:00:00:00:00:01"
    subprocess.run(["ip", "-n", b_ns, "neigh", "replace", "198.18.0.10", "lladdr", bogus,
                    "dev", "eth0", "nud", "stale"], check=True)  # fmt: skip
    path = f"/tmp/netlab-arp-{tmp_path.name}.pcapng"
    out = arp(lan, "-U", "-A", "-c", "1", "-I", "eth0", "--write", path)
    assert out.returncode == 0, out.stderr
    neigh = subprocess.run(["ip", "-n", b_ns, "neigh", "show", "198.18.0.10"],
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert mac_of(lan, "a") in neigh and bogus not in neigh
    fields = subprocess.run(["tshark", "-r", path, "-T", "fields", "-e", "arp.opcode",
                             "-e", "arp.isgratuitous", "-e", "eth.dst"],
                            capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    assert fields == ["1", "1", "ff:ff:ff:ff:ff:ff", "2", "1", "ff:ff:ff:ff:ff:ff"]
    Path(path).unlink()


def test_verbose_shows_the_packets_and_write_saves_them(lan, tmp_path):
    path = f"/tmp/netlab-arp-{tmp_path.name}.pcapng"
    out = arp(lan, "-c", "1", "-v", "--write", path, "198.18.0.20")
    assert out.returncode == 0, out.stderr
    assert "Address Resolution Protocol (request)" in out.stdout
    assert "Address Resolution Protocol (reply)" in out.stdout
    fields = subprocess.run(["tshark", "-r", path, "-T", "fields", "-e", "arp.opcode",
                             "-e", "arp.dst.proto_ipv4"],
                            capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    assert fields == ["1", "198.18.0.20", "2", "198.18.0.10"]
    Path(path).unlink()


def test_without_cap_net_raw_exit_3(lan):
    nobody = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all")
    out = lan.exec("a", *nobody, netlab_bin(), "arp", "-c", "1", "-I", "eth0", "198.18.0.20")
    assert out.returncode == 3, out.stderr
    assert "CAP_NET_RAW" in out.stderr and out.stderr.count("\n") == 1


# --- arp-scan's and arping's habits (issue 21) ----------------------------------------------


def test_prefix_range_and_mask_targets_sweep_the_hosts_arp_scan_finds(lan):
    """`netlab arp 198.18.0.0/29` scans the prefix as `arp-scan 198.18.0.0/29` does;
    FIRST-LAST and NETWORK:MASK too. b answers for two extra addresses in the /29."""
    for extra in ("198.18.0.3", "198.18.0.6"):
        subprocess.run(["ip", "-n", lan.netns("b"), "addr", "add", f"{extra}/24", "dev", "eth0"],
                       check=True)  # fmt: skip
    b = mac_of(lan, "b")
    for target in ("198.18.0.0/29", "198.18.0.1-198.18.0.9", "198.18.0.0:255.255.255.248"):
        ours = arp(lan, "-I", "eth0", target)
        theirs = lan.exec("a", "arp-scan", "-I", "eth0", target)
        assert ours.returncode == 0 and theirs.returncode == 0, ours.stderr + theirs.stderr
        assert sorted(sweep_lines(ours.stdout)) == sorted(sweep_lines(theirs.stdout)) == [
            ("198.18.0.3", b, "(Unknown: locally administered)"),
            ("198.18.0.6", b, "(Unknown: locally administered)")]  # fmt: skip
    # -q: arp-scan -q's lines, address and MAC only; several addresses sweep them.
    ours = arp(lan, "-q", "-I", "eth0", "198.18.0.20", "198.18.0.3", "198.18.0.99")
    theirs = lan.exec("a", "arp-scan", "-q", "-I", "eth0", "198.18.0.20", "198.18.0.3",
                      "198.18.0.99")  # fmt: skip
    assert sorted(sweep_lines(ours.stdout)) == sorted(sweep_lines(theirs.stdout)) == [
        ("198.18.0.20", b), ("198.18.0.3", b)]  # fmt: skip
    assert "3 hosts scanned" in ours.stdout


def _sent_received(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith(("Sent ", "Received "))]


def test_first_reply_and_quiet_as_arping(lan):
    """arping -f stops at the first reply (one probe, not -c's three); when nothing
    answers it sends them all and exits 1. -q prints nothing: the status says it."""
    for args, code in ((["-c", "3", "198.18.0.20"], 0), (["-c", "2", "198.18.0.99"], 1)):
        theirs = lan.exec("a", "arping", "-f", "-I", "eth0", *args)
        ours = arp(lan, "-f", "-I", "eth0", "-W", "1", *args)
        assert ours.returncode == theirs.returncode == code, ours.stderr + theirs.stderr
        assert _sent_received(ours.stdout) == _sent_received(theirs.stdout)
    assert _sent_received(ours.stdout)[0] == "Sent 2 probes (2 broadcast(s))"
    records = ndjson(arp(lan, "-f", "-c", "3", "--json", "198.18.0.20").stdout)
    assert [r["type"] for r in records] == ["reply", "summary"] and records[-1]["sent"] == 1
    for target, code in (("198.18.0.20", 0), ("198.18.0.99", 1)):
        theirs = lan.exec("a", "arping", "-q", "-f", "-c", "1", "-I", "eth0", target)
        ours = arp(lan, "-q", "-f", "-c", "1", "-W", "0.3", "-I", "eth0", target)
        assert ours.returncode == theirs.returncode == code
        assert ours.stdout == theirs.stdout == "" and ours.stderr == ""
