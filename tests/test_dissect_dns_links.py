"""DNS queries linked to their responses, as tshark links them (dns.response_to, dns.time,
dns.response_in with -2, retransmissions, unsolicited responses), on the same files.

The rules were found by running tshark 4.0 on crafted conversations; each case below
is one of them: a transaction is the latest query of a conversation (addresses, ports,
transport) with an ID, names and types are not compared, a query repeated within 5 s
while unanswered is a retransmission, a second response is a retransmitted one, a
response to nothing is unsolicited, a message cut short still counts once its ID and
flags are there (but shows no link), a query quoted in an ICMP error does not count.
Compared: -T fields (one pass and -2), -z expert, the one-line view's shortcut (-2's
first pass takes it), --packet N (the frames before N only tracked), and --jobs (the
light pass) against one process; on the bind9 recording in pcaps/ and the tcpdump corpus
(tests/test_corpus_tshark.py compares these fields on every file), real traffic.
"""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from tests.conftest import ROOT, netlab_bin, require_tool

LINK_FIELDS = ["frame.number", "dns.id", "dns.response_to", "dns.time", "dns.response_in",
               "dns.retransmission", "dns.retransmit_request_in", "dns.retransmit_response_in",
               "dns.unsolicited"]  # fmt: skip
CLIENT, SERVER, OTHER = "198.18.0.10", "198.18.0.53", "198.18.0.54"


def _frame(t: float, ip, l4, payload) -> Ether:
    pkt = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / ip / l4 / payload
    pkt.time = t
    return pkt


def query(t: float, ident: int, name: str = "a.lab", sport: int = 40000, qtype: str = "A",
          server: str = SERVER) -> Ether:  # fmt: skip
    dns = DNS(id=ident, rd=1, qd=DNSQR(qname=name, qtype=qtype))
    return _frame(t, IP(src=CLIENT, dst=server), UDP(sport=sport, dport=53), dns)


def answer(t: float, ident: int, name: str = "a.lab", sport: int = 40000, qtype: str = "A",
           server: str = SERVER) -> Ether:  # fmt: skip
    dns = DNS(id=ident, qr=1, rd=1, ra=1, qd=DNSQR(qname=name, qtype=qtype),
              an=DNSRR(rrname=name, rdata="198.18.0.80"))  # fmt: skip
    return _frame(t, IP(src=server, dst=CLIENT), UDP(sport=53, dport=sport), dns)


def _cut(pkt: Ether, keep: int) -> Ether:
    """The frame with only KEEP bytes of its DNS message (UDP's length to match)."""
    ip, udp = IP(src=pkt[IP].src, dst=pkt[IP].dst), UDP(sport=pkt[UDP].sport, dport=53)
    return _frame(float(pkt.time), ip, udp, bytes(pkt[DNS])[:keep])


def _tcp_conversation(t: float) -> list[Ether]:
    """DNS over TCP: a handshake, two queries in one segment, their answers with the
    second one split over two segments, then the second query repeated."""
    q1 = bytes(DNS(id=7, rd=1, qd=DNSQR(qname="t1.lab")))
    q2 = bytes(DNS(id=8, rd=1, qd=DNSQR(qname="t2.lab")))
    r1 = bytes(
        DNS(id=7, qr=1, qd=DNSQR(qname="t1.lab"), an=DNSRR(rrname="t1.lab", rdata="198.18.0.1"))
    )
    r2 = bytes(
        DNS(id=8, qr=1, qd=DNSQR(qname="t2.lab"), an=DNSRR(rrname="t2.lab", rdata="198.18.0.2"))
    )
    framed = [len(m).to_bytes(2, "big") + m for m in (q1, q2, r1, r2)]
    c, s = (CLIENT, 41000), (SERVER, 53)

    def seg(dt, frm, to, flags, seq, ack, data=b""):
        tcp = TCP(sport=frm[1], dport=to[1], flags=flags, seq=seq, ack=ack)
        return _frame(t + dt, IP(src=frm[0], dst=to[0]), tcp, data)

    cq = framed[0] + framed[1]
    half = len(framed[3]) // 2
    return [
        seg(0.0, c, s, "S", 100, 0),
        seg(0.001, s, c, "SA", 500, 101),
        seg(0.002, c, s, "A", 101, 501),
        seg(0.003, c, s, "PA", 101, 501, cq),
        seg(0.010, s, c, "PA", 501, 101 + len(cq), framed[2] + framed[3][:half]),
        seg(0.011, s, c, "PA", 501 + len(framed[2]) + half, 101 + len(cq), framed[3][half:]),
        seg(0.020, c, s, "PA", 101 + len(cq), 501 + len(framed[2]) + len(framed[3]), framed[1]),
    ]


def scenario(t0: float = 0.0) -> list[Ether]:
    t = t0
    frames = [
        query(t + 1, 1),
        answer(t + 1.01, 1),  # a plain pair
        query(t + 2, 2),
        query(t + 3, 2),
        answer(t + 3.5, 2),  # the query sent again
        answer(t + 4, 3, "c.lab"),  # nothing asked for it
        query(t + 5, 4),
        answer(t + 5.1, 4),
        answer(t + 5.2, 4),  # the answer twice
        # one ID, two names: tshark links by ID alone
        query(t + 6, 5, "e.lab"),
        query(t + 6.1, 5, "f.lab"),
        answer(t + 6.2, 5, "e.lab"),
        answer(t + 6.3, 5, "f.lab"),
        query(t + 7, 6),
        query(t + 20, 6),
        answer(t + 20.1, 6),  # 13 s apart: a new query
        query(t + 21, 9),
        query(t + 26, 9),
        answer(t + 26.5, 9),  # exactly 5 s: new too
        query(t + 30, 10),
        query(t + 34.999999, 10),
        answer(t + 35, 10),  # just under
        query(t + 40, 7, sport=40001),
        answer(t + 40.1, 7, sport=40002),  # other port
        query(t + 41, 8),
        answer(t + 41.1, 8, server=OTHER),  # other server
        query(t + 42, 11, qtype="A"),
        answer(t + 42.1, 11, qtype="AAAA"),  # other type
        answer(t + 43, 12),
        query(t + 43.5, 12),
        answer(t + 43.6, 12),  # answer first
    ]
    # a query quoted in an ICMP error is not a query sent
    quoted = query(t + 50, 13)
    frames += [
        quoted,
        _frame(t + 50.05, IP(src=SERVER, dst=CLIENT), ICMP(type=3, code=3), bytes(quoted[IP])),
        answer(t + 50.1, 13),
    ]
    # responses cut short: 3 bytes (no flags: not counted), 4, 6, and mid-answer
    for i, keep in enumerate((3, 4, 6, 40)):
        ident = 20 + i
        frames += [query(t + 60 + i, ident), _cut(answer(t + 60.1 + i, ident), keep),
                   answer(t + 60.2 + i, ident)]  # fmt: skip
    # IPv6
    q6 = _frame(t + 70, IPv6(src="2001:db8::10", dst="2001:db8::53"), UDP(sport=40000, dport=53),
                DNS(id=30, rd=1, qd=DNSQR(qname="six.lab", qtype="AAAA")))  # fmt: skip
    r6 = _frame(t + 70.2, IPv6(src="2001:db8::53", dst="2001:db8::10"), UDP(sport=53, dport=40000),
                DNS(id=30, qr=1, qd=DNSQR(qname="six.lab", qtype="AAAA"),
                    an=DNSRR(rrname="six.lab", type="AAAA", rdata="2001:db8::80")))  # fmt: skip
    frames += [q6, r6]
    return frames + _tcp_conversation(t + 80)


@pytest.fixture(scope="module")
def links(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("dnslinks") / "links.pcap"
    wrpcap(str(path), scenario())
    return path


def tshark(path: Path, *args: str) -> str:
    cmd = [require_tool("tshark"), "-n", *args, "-r", str(path)]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def netlab(path: Path, *args: str) -> str:
    cmd = [netlab_bin(), "dissect", *args, "-r", str(path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def fields(*extra: str) -> list[str]:
    return [*extra, "-T", "fields", *[a for name in LINK_FIELDS for a in ("-e", name)]]


@pytest.mark.parametrize("passes", [(), ("-2",)], ids=["one-pass", "two-pass"])
def test_links_are_tsharks(links, passes):
    theirs = tshark(links, *fields(*passes))
    # The cases are all there (so the comparison below means something).
    rows = [line.split("\t") for line in theirs.splitlines()]
    for column, name in enumerate(LINK_FIELDS[2:], 2):
        if name != "dns.response_in" or passes:  # (a later frame's: -2 only)
            assert any(r[column] for r in rows), name
    # dns.id is left out: tshark shows the DNS message an ICMP error quotes, which netlab
    # leaves undecoded on purpose (dissect/udp.py: its state is the delivered datagram's).
    ours = netlab(links, *fields(*passes))
    assert _without_ids(ours) == _without_ids(theirs)


def _without_ids(text: str) -> list[list[str]]:
    return [line.split("\t")[:1] + line.split("\t")[2:] for line in text.splitlines()]


def test_retransmissions_are_expert_warnings(links):
    assert netlab(links, "-q", "-z", "expert") == tshark(links, "-q", "-z", "expert")


def test_tree_and_json_show_the_links(links):
    tree = netlab(links, "-V", "-2", "-Y", "frame.number <= 6")
    assert "    [Response In: 2]" in tree
    assert "    [Request In: 1]\n    [Time: 0.010000000 seconds]" in tree
    assert "    [Retransmitted request. Original request in: 3]\n    [Retransmission: True]" in tree
    assert "    [Unsolicited: True]" in tree
    # the JSON view's fast writer and the rows agree (a filter makes every row)
    fast = netlab(links, "--json", "-c", "6")
    rows = netlab(links, "--json", "-c", "6", "-Y", "frame")
    assert fast == rows
    assert '"dns.response_to":1,"dns.time":0.01' in fast
    assert '"dns.unsolicited":true' in fast


def test_filters_select_what_tshark_selects(links):
    for flt in ("dns.response_to", "dns.time > 1", "dns.retransmission", "dns.unsolicited",
                "dns.retransmit_response_in == 8",
                "!dns.response_to && dns.flags.response == 1"):  # fmt: skip
        theirs = tshark(links, "-Y", flt, "-T", "fields", "-e", "frame.number")
        assert netlab(links, "-Y", flt, "-T", "fields", "-e", "frame.number") == theirs, flt
    # -2 -Y sees the second pass's links (tshark's -R, in its first pass, never does)
    for two in (("-2", "-Y"), ("-2", "-R")):
        theirs = tshark(links, *two, "dns.response_in", "-T", "fields", "-e", "frame.number")
        assert bool(theirs) == (two[1] == "-Y")
        assert (
            netlab(links, *two, "dns.response_in", "-T", "fields", "-e", "frame.number") == theirs
        )


def test_packet_n_tracks_the_frames_before_it(links):
    theirs = tshark(links, *fields("-Y", "frame.number == 19"))
    assert theirs.split("\t")[2] == "18"  # (frame 17's ID again 5 s later: a new query)
    assert _without_ids(netlab(links, "--packet", "19", *fields())) == _without_ids(theirs)


def test_jobs_light_pass_keeps_the_transactions(tmp_path):
    """--jobs: each process tracks the frames of the others' chunks (the light pass), so
    its links are those of one process: the scenario over many chunks of jobs.CHUNK."""
    one = [(float(f.time), bytes(f)) for f in scenario()]
    path = tmp_path / "many.pcap"
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for k in range(40):  # 40 × 1000 s apart: ~2,600 frames
            for t, data in one:
                sec, usec = divmod(round((k * 1000 + t) * 1e6), 1_000_000)
                out.write(struct.pack("<IIII", sec, usec, len(data), len(data)) + data)
    single = netlab(path, "--jobs", "1", *fields())
    assert netlab(path, "--jobs", "2", *fields()) == single
    assert netlab(path, "--jobs", "2", "-V") == netlab(path, "--jobs", "1", "-V")
    assert _without_ids(single) == _without_ids(tshark(path, *fields()))


def test_bind9_recording():
    """pcaps/dns.pcapng: dig against the bind9 lab (pcaps/record.sh)."""
    path = ROOT / "pcaps" / "dns.pcapng"
    for passes in ((), ("-2",)):
        theirs = tshark(path, *fields(*passes))
        assert "\t1\t" in theirs
        assert netlab(path, *fields(*passes)) == theirs


def test_dns_tree_statistics_count_the_same_transactions(links):
    """-z dns,tree reads the dissector's transactions: unsolicited responses,
    retransmissions and response times as tshark counts them on every case above."""
    assert netlab(links, "-q", "-z", "dns,tree") == tshark(links, "-q", "-z", "dns,tree")
