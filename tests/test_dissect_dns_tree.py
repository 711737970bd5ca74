"""DNS in the -V tree line for line as tshark 4.0 draws it, and its fields as tshark names them.

tshark's tree: the flags as bit lines with its words (a query's AD bit only when set,
the response-only bits only in responses), a dynamic update's counts and sections
under their RFC 2136 names, "Queries" / "Answers" / "Authoritative nameservers" /
"Additional records" subtrees with a summary line per entry ("a.lab: type A, class IN,
addr 198.18.0.1") and the fields below it, durations in its words ("1 day, 2 hours"),
SRV owner names split into service, protocol and name, OPT's Z bits and options
(cookie, client subnet, NSID, padding), labels past 240 bytes marked [truncated], types
tshark does not decode (URI, unknown numbers) as an expert note and data, and the
expert item a retransmission puts on the transaction ID. Compared block by block with
tshark on crafted messages of every kind, on the bind9 recording in pcaps/ and on the
tcpdump corpus's DNS captures; the fields tshark adds are compared value by value, and
the fast writers are held to the rows on the crafted file.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from scapy.layers.dns import DNS, DNSQR, DNSRR, DNSRRMX, DNSRROPT, DNSRRSOA, DNSRRSRV, EDNS0TLV
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from tests.conftest import CORPUS, ROOT, netlab_bin, require_tool
from tests.test_fast_views import assert_same_views, packets

LONG_TEXT = "x" * 200 + " and then some more text to go past the label limit " * 2


def _frame(t: float, dns: DNS, response: bool) -> Ether:
    ends = ("198.18.0.53", "198.18.0.10") if response else ("198.18.0.10", "198.18.0.53")
    ports = (53, 40000) if response else (40000, 53)
    pkt = (Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src=ends[0], dst=ends[1])
           / UDP(sport=ports[0], dport=ports[1]) / dns)  # fmt: skip
    pkt.time = t
    return pkt


def crafted() -> list[Ether]:
    frames = []
    t = 0.0
    # flags: (qr, opcode, aa, tc, rd, ra, z, ad, cd, rcode), every opcode and rcode word
    flag_cases = [(0, 0, 0, 0, 1, 0, 0, 1, 0, 0), (0, 0, 0, 0, 0, 0, 0, 0, 1, 0),
                  (0, 1, 0, 0, 1, 0, 0, 0, 0, 0), (0, 2, 0, 0, 0, 0, 0, 0, 0, 0),
                  (0, 3, 0, 0, 0, 0, 1, 0, 0, 0), (0, 4, 1, 0, 0, 0, 0, 0, 0, 0),
                  (0, 5, 0, 0, 0, 0, 0, 0, 0, 0), (0, 6, 0, 0, 0, 0, 0, 0, 0, 0),
                  (1, 0, 1, 1, 1, 1, 0, 1, 1, 0), (1, 5, 0, 0, 0, 0, 0, 0, 0, 0)]  # fmt: skip
    flag_cases += [(1, 0, 0, 0, 1, 1, 0, 0, 0, rcode) for rcode in range(1, 16)]
    for i, (qr, opcode, aa, tc, rd, ra, z, ad, cd, rcode) in enumerate(flag_cases):
        dns = DNS(id=100 + i, qr=qr, opcode=opcode, aa=aa, tc=tc, rd=rd, ra=ra, z=z, ad=ad,
                  cd=cd, rcode=rcode, qd=DNSQR(qname="f.lab"))  # fmt: skip
        t += 1
        frames.append(_frame(t, dns, bool(qr)))
    records = [
        DNSRR(rrname="a.lab", type="A", rdata="198.18.0.1", ttl=90061),
        DNSRR(rrname="a.lab", type="AAAA", rdata="2001:db8::1", ttl=86400),
        DNSRR(rrname="lab", type="NS", rdata="ns1.lab", ttl=172800),
        DNSRR(rrname="w.lab", type="CNAME", rdata="a.lab", ttl=0),
        DNSRR(rrname="d.lab", type="DNAME", rdata="b.lab", ttl=1),
        DNSRR(rrname="1.0.18.198.in-addr.arpa", type="PTR", rdata="a.lab", ttl=59),
        DNSRRMX(rrname="lab", preference=10, exchange="mx.lab", ttl=3661),
        DNSRRSOA(rrname="lab", mname="ns1.lab", rname="hostmaster.lab", serial=2024010101,
                 refresh=7200, retry=3600, expire=1209600, minimum=300),
        DNSRR(rrname="t.lab", type="TXT", rdata=["hello world", "second", LONG_TEXT]),
        DNSRRSRV(rrname="_sip._tcp.lab", priority=1, weight=5, port=5060, target="sip.lab"),
        DNSRR(rrname="u.lab", type=65280, rdata=b"\x01\x02\x03"),
    ]  # fmt: skip
    for i, rr in enumerate(records):
        dns = DNS(id=200 + i, qr=1, rd=1, ra=1, qd=DNSQR(qname=rr.rrname, qtype=rr.type), an=rr)
        t += 1
        frames.append(_frame(t, dns, True))
    options = [
        DNSRROPT(rclass=4096, z=0x8000, rdata=[EDNS0TLV(optcode=10, optdata=b"\x01" * 8)]),
        DNSRROPT(rclass=1232, z=0),
        DNSRROPT(rclass=1232, rdata=[EDNS0TLV(optcode=8, optdata=b"\x00\x01\x18\x00\xc6\x12\x00"),
                                     EDNS0TLV(optcode=3, optdata=b""),
                                     EDNS0TLV(optcode=12, optdata=b"\x00" * 5)]),
        DNSRROPT(rclass=1232, z=0, rdata=[EDNS0TLV(optcode=10, optdata=b"\x02" * 24)]),
    ]  # fmt: skip
    for i, opt in enumerate(options):
        t += 1
        frames.append(_frame(t, DNS(id=300 + i, rd=1, qd=DNSQR(qname="o.lab"), ar=opt), False))
    soa = DNSRRSOA(rrname="lab", mname="ns1.lab", rname="h.lab", serial=1, refresh=2, retry=3,
                   expire=4, minimum=5)  # fmt: skip
    glue = DNSRR(rrname="ns1.lab", type="A", rdata="198.18.0.53")
    frames += [
        _frame(t + 1, DNS(id=400, rd=0, qd=DNSQR(qname=".", qtype="NS")), False),
        _frame(t + 2, DNS(id=401, qr=1, aa=1, qd=DNSQR(qname="x.lab"), ns=soa, ar=glue), True),
        _frame(
            t + 3, DNS(id=402, qr=1, rcode=3, qd=DNSQR(qname="nx.lab", qtype=255, qclass=255)), True
        ),
        _frame(t + 4, DNS(id=403, opcode=5, qd=DNSQR(qname="lab", qtype="SOA"), ns=glue), False),
        # a query sent again: the expert item on the transaction ID
        _frame(t + 5, DNS(id=404, rd=1, qd=DNSQR(qname="r.lab")), False),
        _frame(t + 6, DNS(id=404, rd=1, qd=DNSQR(qname="r.lab")), False),
    ]
    return frames


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("dnstree") / "dns-kinds.pcap"
    wrpcap(str(path), crafted())
    return path


def dns_blocks(text: str) -> list[list[str]]:
    """Each DNS layer's lines of a -V text (its heading to the next top-level line)."""
    blocks: list[list[str]] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if line and not line.startswith(" "):
            current = [line] if line.startswith("Domain Name System") else None
            if current is not None:
                blocks.append(current)
        elif current is not None and line:
            current.append(line)
    return blocks


def run(cmd: list[str]) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120).stdout


def compare_trees(path: Path) -> int:
    theirs = dns_blocks(run([require_tool("tshark"), "-n", "-V", "-r", str(path)]))
    ours = dns_blocks(run([netlab_bin(), "dissect", "-V", str(path)]))
    assert len(ours) == len(theirs), path.name
    compared = 0
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        if any(line.startswith("    [Malformed") for line in a):
            continue  # (a cut message: netlab marks it in its own words, see test_dissect)
        assert a == b, f"{path.name}: DNS layer {i + 1} differs"
        compared += 1
    return compared


def test_crafted_kinds_draw_as_tshark(capture):
    assert compare_trees(capture) == len(crafted())


@pytest.mark.parametrize("path", [ROOT / "pcaps" / "dns.pcapng", CORPUS / "dns_udp.pcap",
                                  CORPUS / "dns_udp_8053.pcap", CORPUS / "dns-uri.pcap"],
                         ids=lambda p: p.name)  # fmt: skip
def test_real_captures_draw_as_tshark(path):
    assert compare_trees(path) > 0


NEW_FIELDS = ["dns.flags.authenticated", "dns.count.zones", "dns.count.prerequisites",
              "dns.count.updates", "dns.qry.name.len", "dns.count.labels", "dns.srv.service",
              "dns.srv.proto", "dns.srv.name", "dns.resp.name", "dns.resp.z.reserved",
              "dns.opt.cookie.client", "dns.opt.cookie.server", "dns.opt.client.family",
              "dns.opt.client.netmask", "dns.opt.client.addr4", "dns.opt.padding", "dns.data",
              "dns.soa.refresh_interval", "dns.txt", "dns.dname"]  # fmt: skip


def test_fields_are_tsharks(capture):
    args = ["-T", "fields", "-E", "occurrence=a", *[a for f in NEW_FIELDS for a in ("-e", f)]]
    theirs = run([require_tool("tshark"), "-n", "-r", str(capture), *args])
    assert run([netlab_bin(), "dissect", "-r", str(capture), *args]) == theirs


def test_fast_writers_say_what_the_rows_say(capture):
    for pkt in packets(capture):
        assert_same_views(pkt, f"dns-kinds #{pkt.no}")


def test_cut_headers_say_what_tsharks_say(tmp_path):
    """A header cut short: no field from fewer than 4 bytes (tshark reads the ID and flags
    together), then the ones that are there, and the info its ID and flags give."""
    whole = bytes(DNS(id=7, qr=1, rd=1, ra=1, qd=DNSQR(qname="a.lab")))
    frames = [_frame(i, whole[:keep], True)
              for i, keep in enumerate((1, 3, 4, 6, 11))]  # fmt: skip
    path = tmp_path / "cut.pcap"
    wrpcap(str(path), frames)
    args = ["-T", "fields", *[a for f in ("_ws.col.Info", "dns.id", "dns.flags",
                                          "dns.count.queries", "dns.count.answers")
                              for a in ("-e", f)]]  # fmt: skip
    theirs = run([require_tool("tshark"), "-n", "-r", str(path), *args])
    ours = run([netlab_bin(), "dissect", "-r", str(path), *args])
    # (netlab writes its malformed mark after a space, everywhere: see tests/test_dissect_tls)
    assert ours.replace(" [Malformed Packet]", "[Malformed Packet]") == theirs
