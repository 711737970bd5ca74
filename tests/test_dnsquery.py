"""netlab dns-query: the sans-I/O core with fake time, hostile servers on 127.0.0.1, and
the `dns` lab compared with dig."""

from __future__ import annotations

import json
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.dns import DNS, DNSQR, DNSRR

from netlab.core.base import Close
from netlab.core.dns import (
    NS,
    UDP,
    Exchange,
    Failure,
    Query,
    QueryInputError,
    Response,
    Transfer,
    Walk,
    ZoneTransfer,
    normalize_name,
    parse_type,
    reverse_name,
)
from netlab.wire.dns import parse_message
from tests.conftest import netlab_bin, require_tool

# --- helpers -------------------------------------------------------------------------------


def reply(qid, name, qtype=1, *, an=(), ns=(), ar=(), aa=True, rcode=0, tc=False) -> bytes:
    return bytes(
        DNS(id=qid, qr=1, aa=int(aa), tc=int(tc), rcode=rcode,
            qd=DNSQR(qname=name, qtype=qtype), an=list(an), ns=list(ns), ar=list(ar))
    )  # fmt: skip


def rr(name, rtype, data, ttl=300):
    return DNSRR(rrname=name, type=rtype, ttl=ttl, rdata=data)


def query(**kw) -> Query:
    return Query(**{"name": "www.example.lab.", "qtype": 1, "server": "192.0.2.53",
                    "qid": 4242, **kw})  # fmt: skip


SRC = ("192.0.2.53", 53)


# --- names and types -----------------------------------------------------------------------


def test_names_and_types():
    assert normalize_name("WWW.Example.LAB") == "www.example.lab."
    assert normalize_name(".") == "."
    assert parse_type("mx") == 15 and parse_type("TYPE65") == 65 and parse_type("CAA") == 257
    assert reverse_name("198.18.0.80") == "80.0.18.198.in-addr.arpa."
    assert reverse_name("2001:db8::80").endswith(".8.b.d.0.1.0.0.2.ip6.arpa.")
    for bad in ("a..b", "a" * 64 + ".lab", "with space.lab", ".".join(["abcdefghi"] * 26)):
        with pytest.raises(QueryInputError):
            normalize_name(bad)
    assert parse_type("AXFR") == 252 and parse_type("ixfr") == 251  # transfers, over TCP
    for bad in ("FOO", "TYPE70000", "OPT"):
        with pytest.raises(QueryInputError):
            parse_type(bad)


def test_query_is_built_by_scapy_and_parses():
    msg = parse_message(query(dnssec=True, bufsize=1400, rd=False).to_bytes())
    assert msg.id == 4242 and not msg.rd and not msg.qr
    assert msg.questions[0].to_text() == "www.example.lab. IN A"
    assert msg.edns.udp_payload_size == 1400 and msg.edns.do
    assert parse_message(query(edns=False).to_bytes()).edns is None


# --- one exchange, fake time ---------------------------------------------------------------


def test_exchange_ignores_wrong_id_question_and_source():
    ex = Exchange(query(), timeout=1.0, tries=1)
    assert [type(a).__name__ for a in ex.start(0)] == ["Open", "Datagram"]
    answer = rr("www.example.lab.", "A", "198.18.0.80")
    assert ex.on_datagram(UDP, reply(1, "www.example.lab.", an=[answer]), SRC, 1) == []
    assert ex.on_datagram(UDP, reply(4242, "evil.example.lab.", an=[answer]), SRC, 2) == []
    assert ex.on_datagram(UDP, reply(4242, "www.example.lab.", 28), SRC, 3) == []
    assert (
        ex.on_datagram(UDP, reply(4242, "www.example.lab.", an=[answer]), ("192.0.2.9", 53), 4)
        == []
    )
    assert ex.on_datagram(UDP, b"\x10\x92", SRC, 5) == []
    assert not ex.done() and ex.ignored == 5
    ex.on_datagram(UDP, reply(4242, "WWW.example.lab.", an=[answer]), SRC, 7 * NS // 1000)
    res = ex.result
    assert isinstance(res, Response) and res.ignored == 5 and res.transport == "udp"
    assert res.time_ms == pytest.approx(7.0)
    assert [r.data.to_text() for r in res.message.answers] == ["198.18.0.80"]


def test_exchange_retries_then_times_out():
    ex = Exchange(query(), timeout=0.5, tries=3)
    ex.start(0)
    assert ex.deadline() == NS // 2
    assert ex.on_timer(NS // 4) == []  # not yet
    assert len(ex.on_timer(NS // 2)) == 1 and ex.deadline() == NS
    assert len(ex.on_timer(NS)) == 1
    assert ex.on_timer(3 * NS // 2) == [] and ex.done()
    assert isinstance(ex.result, Failure) and ex.result.rcode == "TIMEOUT"
    assert "3 tries" in ex.result.reason


def test_truncated_reply_switches_to_tcp_and_stream_is_framed():
    ex = Exchange(query(qtype=16), timeout=1.0, tries=2)
    ex.start(0)
    sends = ex.on_datagram(UDP, reply(4242, "www.example.lab.", 16, tc=True), SRC, 10)
    assert [(type(s).__name__, s.conn) for s in sends] == [
        ("Open", ("tcp", 2)),
        ("Write", ("tcp", 2)),
    ]
    assert sends[0].kind == "tcp" and ex.transport == "tcp"
    full = reply(4242, "www.example.lab.", 16, an=[rr("www.example.lab.", "TXT", ["x" * 200] * 4)])
    stream = struct.pack("!H", len(full)) + full
    assert sends[1].data[2:] == ex.data  # the query behind its 2-byte length (RFC 1035 4.2.2)
    assert ex.on_data(("tcp", 2), stream[:300], 20) == [] and not ex.done()
    assert ex.on_data(("tcp", 1), stream[300:], 25) == [] and not ex.done()  # not this try's
    assert ex.on_data(("tcp", 2), stream[300:], 30) == [Close(("tcp", 2))]
    res = ex.result
    assert res.transport == "tcp" and res.tc_retry and res.size == len(full)


def test_ignore_tc_keeps_the_truncated_reply():
    ex = Exchange(query(), ignore_tc=True)
    ex.start(0)
    ex.on_datagram(UDP, reply(4242, "www.example.lab.", tc=True), SRC, 1)
    assert ex.result.transport == "udp" and ex.result.message.tc


def test_malformed_matching_reply_is_an_error():
    ex = Exchange(query())
    ex.start(0)
    ex.on_datagram(UDP, loop_reply(4242), SRC, 1)
    assert isinstance(ex.result, Failure) and "compression pointer" in ex.result.reason


def loop_reply(qid: int, name: str = "www.example.lab.") -> bytes:
    """A reply whose one answer's owner name is a compression pointer to itself."""
    head = struct.pack("!6H", qid, 0x8180, 1, 1, 0, 0)
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.strip(".").split(".")) + b"\0"
    at = 12 + len(qname) + 4
    return head + qname + b"\x00\x01\x00\x01" + struct.pack("!H", 0xC000 | at) + bytes(10)


# --- the iterative walk, with scripted servers ---------------------------------------------


def drive(walk: Walk, servers: dict):
    """Answer each query the walk yields from SERVERS[(addr, name, type)] (bytes or None)."""
    q = walk.first()
    while q is not None:
        data = servers.get((q.server, q.name, q.qtype))
        if data is None:
            out = Failure("timed out (1 try of 1 s, UDP)", q.server, 53, 1000.0)
        else:
            ex = Exchange(q)
            ex.start(0)
            ex.on_datagram(UDP, _with_id(data, q.qid), (q.server, 53), NS // 1000)
            out = ex.result
        q = walk.feed(out)
    return walk.result


def _with_id(data: bytes, qid: int) -> bytes:
    return struct.pack("!H", qid) + data[2:]


ROOT, TLD, AUTH = "198.18.0.1", "198.18.0.2", "198.18.0.3"


def lab_servers(name="www.example.lab.", qtype=1):
    return {
        (ROOT, name, qtype): reply(0, name, qtype, aa=False,
                                   ns=[rr("lab.", "NS", "ns1.lab.")],
                                   ar=[rr("ns1.lab.", "A", TLD)]),
        (TLD, name, qtype): reply(0, name, qtype, aa=False,
                                  ns=[rr("example.lab.", "NS", "ns1.example.lab.")],
                                  ar=[rr("ns1.example.lab.", "A", AUTH)]),
        (AUTH, name, qtype): reply(0, name, qtype, an=[rr(name, "A", "198.18.0.80")]),
    }  # fmt: skip


def test_walk_follows_referrals_with_glue():
    walk = Walk("www.example.lab.", 1, [("a.root-servers.lab.", ROOT)])
    result = drive(walk, lab_servers())
    assert result.ok and [r.data.to_text() for r in result.records] == ["198.18.0.80"]
    steps = [(s.zone, s.server, s.kind) for s in walk.steps]
    assert steps == [(".", ROOT, "referral"), ("lab.", TLD, "referral"),
                     ("example.lab.", AUTH, "answer")]  # fmt: skip
    assert walk.steps[0].referral == [{"name": "ns1.lab.", "addresses": [TLD]}]


def test_walk_resolves_glueless_ns_and_skips_a_dead_server():
    servers = lab_servers()
    # lab. delegates example.lab to a server named in another zone, without glue;
    # the root also lists a second root server that never answers.
    servers[(TLD, "www.example.lab.", 1)] = reply(
        0, "www.example.lab.", aa=False, ns=[rr("example.lab.", "NS", "ns.other.lab.")]
    )
    servers[(ROOT, "ns.other.lab.", 1)] = reply(
        0,
        "ns.other.lab.",
        aa=False,
        ns=[rr("lab.", "NS", "ns1.lab.")],
        ar=[rr("ns1.lab.", "A", TLD)],
    )
    servers[(TLD, "ns.other.lab.", 1)] = reply(
        0, "ns.other.lab.", an=[rr("ns.other.lab.", "A", AUTH)])  # fmt: skip
    walk = Walk("www.example.lab.", 1, [("dead.", "192.0.2.1"), ("a.", ROOT)])
    result = drive(walk, servers)
    assert result.ok and result.records[-1].data.to_text() == "198.18.0.80"
    kinds = [(s.depth, s.server, s.kind) for s in walk.steps]
    assert kinds[0] == (0, "192.0.2.1", "failed")
    assert (1, TLD, "answer") in kinds and kinds[-1] == (0, AUTH, "answer")


def test_walk_detects_referral_loop_and_cname_loop():
    name = "www.example.lab."
    servers = lab_servers()
    # example.lab's server refers back up to lab.: an upward referral, lame.
    servers[(AUTH, name, 1)] = reply(
        0, name, aa=False, ns=[rr("lab.", "NS", "ns1.lab.")], ar=[rr("ns1.lab.", "A", TLD)]
    )
    walk = Walk(name, 1, [("a.", ROOT)])
    result = drive(walk, servers)
    assert not result.ok and walk.steps[-1].kind == "lame"
    servers = lab_servers()
    servers[(AUTH, name, 1)] = reply(0, name, an=[rr(name, "CNAME", "x.example.lab.")])
    servers.update(lab_servers("x.example.lab."))
    servers[(AUTH, "x.example.lab.", 1)] = reply(
        0, "x.example.lab.", an=[rr("x.example.lab.", "CNAME", name)]
    )
    walk = Walk(name, 1, [("a.", ROOT)])
    result = drive(walk, servers)
    assert not result.ok and "CNAME loop" in result.error


# --- zone transfers (AXFR / IXFR) with fake time ---------------------------------------------


def soa(serial: int, zone: str = "example.lab."):
    from scapy.layers.dns import DNSRRSOA

    return DNSRRSOA(rrname=zone, ttl=3600, mname="ns1." + zone, rname="hostmaster." + zone,
                    serial=serial)  # fmt: skip


def framed(*messages: bytes) -> bytes:
    return b"".join(len(m).to_bytes(2, "big") + m for m in messages)


def xfr(qtype=252, serial=None, timeout=2.0) -> ZoneTransfer:
    q = Query("example.lab.", qtype, "192.0.2.53", qid=77, serial=serial)
    return ZoneTransfer(q, timeout=timeout)


def test_axfr_across_messages_ends_at_the_second_soa():
    zt = xfr()
    conn = zt.start(0)[0].conn
    parsed = parse_message(zt.data)
    assert parsed.questions[0].qtype == 252 and not parsed.authority
    www = rr("www.example.lab.", "A", "198.18.0.80")
    first = reply(77, "example.lab.", 252, an=[soa(5), www])
    # A second message may leave out the question (RFC 5936 2.2.1).
    second = bytes(DNS(id=77, qr=1, aa=1, an=[rr("mail.example.lab.", "A", "198.18.0.25"),
                                              soa(5)]))  # fmt: skip
    stream = framed(first, second)
    assert zt.on_data(conn, stream[:7], 1) == [] and not zt.done()  # cut anywhere
    assert zt.on_data(conn, stream[7:40], 2) == [] and not zt.done()
    assert zt.on_data(conn, stream[40:], 3) == [Close(conn)]
    result = zt.result
    assert isinstance(result, Transfer) and result.messages == 2
    assert [r.rtype for r in result.records] == [6, 1, 1, 6]
    assert result.size == len(first) + len(second)


def test_ixfr_query_carries_our_serial_and_each_answer_form_ends_it():
    assert parse_message(xfr(251, 7).data).authority[0].data.serial == 7
    # Up to date: one SOA no newer than ours.
    zt = xfr(251, 7)
    conn = zt.start(0)[0].conn
    zt.on_data(conn, framed(reply(77, "example.lab.", 251, an=[soa(7)])), 1)
    assert isinstance(zt.result, Transfer) and len(zt.result.records) == 1
    # Incremental: new SOA, old SOA, deletions, new SOA, additions, new SOA.
    zt = xfr(251, 7)
    conn = zt.start(0)[0].conn
    www_old, www_new = rr("www.example.lab.", "A", "1.1.1.1"), rr("www.example.lab.", "A",
                                                                  "2.2.2.2")  # fmt: skip
    parts = [soa(9), soa(7), www_old, soa(9), www_new]
    zt.on_data(conn, framed(reply(77, "example.lab.", 251, an=parts)), 1)
    assert not zt.done()  # the last SOA is still to come
    zt.on_data(conn, framed(bytes(DNS(id=77, qr=1, an=[soa(9)]))), 2)
    assert isinstance(zt.result, Transfer) and len(zt.result.records) == 6
    # AXFR-style answer to an IXFR: the second SOA ends it.
    zt = xfr(251, 1)
    conn = zt.start(0)[0].conn
    zt.on_data(conn, framed(reply(77, "example.lab.", 251, an=[soa(9), www_new, soa(9)])), 1)
    assert isinstance(zt.result, Transfer) and len(zt.result.records) == 3


def test_transfer_failures_are_one_line():
    cases = []
    zt = xfr()
    conn = zt.start(0)[0].conn
    zt.on_data(conn, framed(reply(77, "example.lab.", 252, rcode=5)), 1)  # REFUSED
    assert zt.result.rcode == "REFUSED" and zt.result.records == []
    zt = xfr()
    conn = zt.start(0)[0].conn
    zt.on_data(conn, framed(reply(77, "example.lab.", 252, an=[rr("a.lab.", "A", "1.2.3.4")])), 1)
    cases.append(zt.result)
    zt = xfr()
    conn = zt.start(0)[0].conn
    zt.on_data(conn, framed(reply(77, "other.lab.", 252, an=[soa(1, "other.lab.")])), 1)
    cases.append(zt.result)
    zt = xfr()
    conn = zt.start(0)[0].conn
    zt.on_data(conn, framed(reply(77, "example.lab.", 252, an=[soa(1)])), 1)
    zt.on_data(conn, b"", 2)  # closed before the closing SOA
    cases.append(zt.result)
    zt = xfr(timeout=1.0)
    zt.start(0)
    zt.on_timer(NS // 2)
    assert not zt.done()
    zt.on_timer(NS)
    cases.append(zt.result)
    reasons = [c.reason for c in cases]
    assert all(isinstance(c, Failure) for c in cases), reasons
    assert "does not start with the zone's SOA" in reasons[0]
    assert "not ours" in reasons[1] and "closed before" in reasons[2]
    assert "timed out" in reasons[3]
    # Wrong IDs and garbage are ignored, counted, and cost nothing more.
    zt = xfr()
    conn = zt.start(0)[0].conn
    zt.on_data(conn, framed(reply(78, "example.lab.", 252, an=[soa(1)]), b"\x00" * 5), 1)
    assert not zt.done() and zt.ignored == 2


# --- the command against hostile servers on 127.0.0.1 (no root needed) -------------------


def run(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run([netlab_bin(), "dns-query", *args], capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


class Hostile:
    """A UDP server on 127.0.0.1 that answers each query with the given replies in turn."""

    def __init__(self, make_replies) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]
        self.make_replies = make_replies
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            data, peer = self.sock.recvfrom(2048)
        except OSError:
            return
        q = parse_message(data)
        for sock, payload in self.make_replies(q, self.sock):
            sock.sendto(payload, peer)
            time.sleep(0.02)

    def close(self) -> None:
        self.sock.close()


def test_wrong_id_and_question_are_ignored():
    good = rr("www.example.lab.", "A", "192.0.2.80")
    evil = rr("www.example.lab.", "A", "203.0.113.66")
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind(("127.0.0.1", 0))

    def replies(q, sock):
        return [
            (other, reply(q.id, q.questions[0].name, an=[evil])),  # right ID, wrong source port
            (sock, reply(q.id ^ 1, q.questions[0].name, an=[evil])),  # wrong ID
            (sock, reply(q.id, "evil.example.lab.", an=[evil])),  # mismatched question
            (sock, reply(q.id, q.questions[0].name, an=[good])),
        ]

    server = Hostile(replies)
    try:
        out = run("www.example.lab", "@127.0.0.1", "-p", str(server.port), "--json",
                  "--timeout", "3", "--tries", "1")  # fmt: skip
    finally:
        server.close()
        other.close()
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert [a["data"] for a in doc["answers"]] == ["192.0.2.80"]
    assert doc["ignored"] == 2  # the wrong-port datagram never reached us: the kernel dropped it
    assert doc["transport"] == "udp" and doc["rcode"] == "NOERROR"


def test_compression_loop_is_one_line_error_exit_1():
    # Decision: a reply that matches our ID and question but does not decode is a
    # failed lookup (exit 1), reported at once; bad *input* is exit 2.
    server = Hostile(lambda q, sock: [(sock, loop_reply(q.id))])
    start = time.monotonic()
    try:
        out = run("www.example.lab", "@127.0.0.1", "-p", str(server.port), "--timeout", "3")
    finally:
        server.close()
    assert out.returncode == 1
    assert time.monotonic() - start < 3
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("netlab: error: malformed reply")
    assert "compression pointer" in lines[0]


def test_timeout_exit_1():
    server = Hostile(lambda q, sock: [])
    try:
        out = run("www.example.lab", "@127.0.0.1", "-p", str(server.port), "--timeout", "0.2",
                  "--tries", "2", "--json")  # fmt: skip
    finally:
        server.close()
    assert out.returncode == 1
    assert json.loads(out.stdout)["rcode"] == "TIMEOUT"


@pytest.mark.parametrize(
    "args",
    [
        ("a..b",),
        ("a" * 64 + ".lab",),
        ("-t", "FOO", "www.example.lab"),
        ("-x", "nope"),
        ("-c", "XX", "a.lab"),
        ("+bufsize=70000", "a.lab"),
        ("+tries=0", "a.lab"),
        ("+identify", "+multiline", "www.example.lab"),
        ("IXFR", "example.lab"),
        ("-4", "-6", "a"),
    ],
)
def test_bad_input_exit_2_one_line(args):
    out = run(*args, "@127.0.0.1", "-p", "9")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("netlab: error:"), out.stderr


# --- in the dns lab, compared with dig -------------------------------------------------------


@pytest.fixture
def dns_lab(lab):
    return lab("dns", tools=("dig",))


def nq(handle, *args: str) -> subprocess.CompletedProcess:
    return handle.exec("client", netlab_bin(), "dns-query", *args)


def dig_answers(handle, *args: str) -> set[tuple]:
    out = handle.exec("client", "dig", "+noall", "+answer", "+nosplit", *args, check=True)
    rows = set()
    for line in out.stdout.splitlines():
        name, ttl, _cls, rtype, data = line.split(None, 4)
        rows.add((name, rtype, int(ttl), " ".join(data.split())))
    return rows


def test_answers_equal_digs(dns_lab):
    auth = dns_lab.addr("auth")
    cases = [("www.example.lab", "A"), ("www.example.lab", "AAAA"), ("example.lab", "MX"),
             ("example.lab", "TXT"), ("web.example.lab", "CNAME"), ("example.lab", "NS"),
             ("example.lab", "SOA"), ("big.example.lab", "TXT")]  # fmt: skip
    for name, rtype in cases:
        out = nq(dns_lab, name, rtype, f"@{auth}", "--json")
        assert out.returncode == 0, out.stderr
        doc = json.loads(out.stdout)
        ours = {(a["name"], a["type"], a["ttl"], " ".join(a["data"].split()))
                for a in doc["answers"]}  # fmt: skip
        assert ours and ours == dig_answers(dns_lab, f"@{auth}", name, rtype), (name, rtype)
        assert "aa" in doc["flags"] and doc["server"] == auth
    text = nq(dns_lab, "www.example.lab", f"@{auth}")
    assert ";; ANSWER SECTION:" in text.stdout and "flags: qr aa rd;" in text.stdout
    assert nq(dns_lab, "--short", "www.example.lab", "AAAA", f"@{auth}").stdout == "2001:db8::80\n"
    neg = nq(dns_lab, "nope.example.lab", f"@{auth}", "--json")
    assert neg.returncode == 1 and json.loads(neg.stdout)["rcode"] == "NXDOMAIN"


def test_trace_walks_root_tld_auth(dns_lab):
    out = nq(dns_lab, "--trace", "--root", dns_lab.addr("root"), "www.example.lab", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    steps = [(s["zone"], s["server"], s["kind"]) for s in doc["trace"]]
    assert steps == [(".", dns_lab.addr("root"), "referral"),
                     ("lab.", dns_lab.addr("tld"), "referral"),
                     ("example.lab.", dns_lab.addr("auth"), "answer")]  # fmt: skip
    assert doc["trace"][0]["referral_zone"] == "lab."
    assert [a["data"] for a in doc["answers"]] == [dns_lab.addr("www")]
    text = nq(dns_lab, "--trace", "--root", dns_lab.addr("root"), "web.example.lab")
    assert text.returncode == 0
    assert "→ example.lab. NS ns1.example.lab." in text.stdout
    assert "web.example.lab." in text.stdout and dns_lab.addr("www") in text.stdout


def test_truncated_over_udp_then_tcp(dns_lab):
    auth = f"@{dns_lab.addr('auth')}"
    cut = json.loads(nq(dns_lab, "big.example.lab", "TXT", auth, "--no-edns", "--ignore-tc",
                        "--json").stdout)  # fmt: skip
    assert "tc" in cut["flags"] and cut["transport"] == "udp" and cut["size"] <= 512
    full = nq(dns_lab, "big.example.lab", "TXT", auth, "--no-edns", "--json")
    assert full.returncode == 0, full.stderr
    doc = json.loads(full.stdout)
    assert doc["transport"] == "tcp" and doc["tc_retry"] and "tc" not in doc["flags"]
    assert doc["size"] > 1000 and len(doc["answers"]) == 1
    edns = json.loads(nq(dns_lab, "big.example.lab", "TXT", auth, "--json").stdout)
    assert edns["transport"] == "udp" and edns["answers"] == doc["answers"]


def test_resolver_cache_ttl_decreases(dns_lab):
    first = json.loads(nq(dns_lab, "info.example.lab", "TXT", "--json").stdout)
    assert first["server"] == dns_lab.addr("resolver")  # the lab's resolv.conf
    time.sleep(2.1)
    second = json.loads(nq(dns_lab, "info.example.lab", "TXT", "--json").stdout)
    assert "ra" in second["flags"]
    assert second["answers"][0]["ttl"] < first["answers"][0]["ttl"]


def test_verbose_shows_udp_then_tcp_and_write_saves_them(dns_lab, tmp_path):
    require_tool("tshark")
    auth = dns_lab.addr("auth")
    out = nq(dns_lab, "--no-edns", "TXT", "big.example.lab", f"@{auth}", "-v")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    frames = text.split("\nFrame ")
    udp = [f for f in frames if "User Datagram Protocol" in f]
    tcp = [f for f in frames if "Transmission Control Protocol" in f]
    # The truncated exchange over UDP: the query, then the response with TC set.
    assert any("Domain Name System (query)" in f for f in udp)
    assert any("Domain Name System (response)" in f and "Truncated" in f for f in udp)
    # Then TCP: the handshake, and the whole answer decoded as DNS (length prefix and all).
    assert any("Flags: 0x002 (SYN)" in f for f in tcp) and any("(SYN, ACK)" in f for f in tcp)
    answer = [f for f in tcp if "Domain Name System (response)" in f]
    assert answer and "Length:" in answer[-1] and "big.example.lab: type TXT" in answer[-1]
    # The lookup's own output follows the packets, on the same stream.
    assert text.index("Frame 1:") < text.index(";; ANSWER SECTION:")
    assert ";; Truncated, retrying in TCP mode." in text
    # The connection's close is read too (we linger a moment after closing it).
    assert any("(FIN, ACK)" in f for f in tcp)
    # --json keeps stdout one document: the packets go to stderr.
    both = nq(dns_lab, "--no-edns", "TXT", "big.example.lab", f"@{auth}", "-v", "--json")
    assert json.loads(both.stdout)["transport"] == "tcp"
    assert "Domain Name System (response)" in both.stderr

    pcap = tmp_path / "big.pcapng"
    out = nq(dns_lab, "--no-edns", "TXT", "big.example.lab", f"@{auth}", "--write", str(pcap),
             "--short")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "Frame" not in out.stdout  # --write alone shows nothing more
    fields = ["frame.protocols", "dns.flags.truncated", "dns.flags.response", "tcp.flags.syn"]
    shark = subprocess.run(
        ["tshark", "-r", str(pcap), "-T", "fields", *(a for f in fields for a in ("-e", f)),
         "-Y", "dns or tcp"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert shark.returncode == 0, shark.stderr
    rows = [line.split("\t") for line in shark.stdout.splitlines()]
    dns_rows = [r for r in rows if ":dns" in r[0]]
    assert len(dns_rows) >= 4, shark.stdout
    udp_dns = [r for r in dns_rows if ":udp:" in r[0]]
    tcp_dns = [r for r in dns_rows if ":tcp:" in r[0]]
    assert [r[2] for r in udp_dns] == ["False", "True"] or [r[2] for r in udp_dns] == ["0", "1"]
    assert udp_dns[1][1] in ("True", "1")  # the UDP reply was truncated
    assert any(r[2] in ("True", "1") for r in tcp_dns) and len(tcp_dns) >= 2
    assert any(r[3] in ("True", "1") for r in rows if ":tcp" in r[0])  # the handshake's SYN


def test_write_survives_ctrl_c(dns_lab, tmp_path):
    require_tool("tshark")
    # Over TCP to a listener in www's namespace that never reads: the kernel completes
    # the handshake, the query is queued, and the lookup waits until Ctrl-C.
    silent = dns_lab.socket("www")
    silent.bind(("0.0.0.0", 5300))
    silent.listen(1)
    pcap = tmp_path / "cut.pcapng"
    argv = dns_lab_argv(dns_lab, "www.example.lab", f"@{dns_lab.addr('www')}", "-p", "5300",
                        "--tcp", "--timeout", "20", "-v", "--write", str(pcap))  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        silent.close()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Flags: 0x002 (SYN)" in out and "Traceback" not in err
    shark = subprocess.run(["tshark", "-r", str(pcap), "-Y", "tcp"], capture_output=True,
                           text=True, timeout=30)  # fmt: skip
    assert shark.returncode == 0, shark.stderr
    assert len(shark.stdout.splitlines()) >= 4  # handshake and the query, all on file


def dns_lab_argv(handle, *args: str) -> list[str]:
    from netlab.lab import engine

    return engine.exec_argv(handle.book, "client", [netlab_bin(), "dns-query", *args])


# --- retries over a lossy link, glueless delegation -----------------------------------------


def test_retries_over_a_lossy_link(lab):
    lossy = lab("tests/labs/dnslossy.toml")
    auth = lossy.addr("auth")
    qtypes = ["MX", "TXT", "NS", "SOA"] * 5  # 20 lookups, each with an answer
    out = lossy.exec("client", netlab_bin(), "dns-query", "example.lab", *qtypes, f"@{auth}",
                     "--tries", "10", "--timeout", "0.5", "--json", timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    docs = json.loads(out.stdout)
    assert len(docs) == 20
    assert all(d["rcode"] == "NOERROR" and d["transport"] == "udp" for d in docs)
    assert all(d["answers"] for d in docs)
    attempts = [d["attempts"] for d in docs]
    # 30 % of the queries are lost: with 20 lookups, some needed another try (P(none) ≈ 0.08 %).
    assert all(1 <= n <= 10 for n in attempts) and max(attempts) > 1, attempts
    assert sum(attempts) > 20


def test_trace_resolves_a_glueless_ns_by_its_own_walk(lab):
    tree = lab("tests/labs/dnsglueless.toml")
    root, tld, auth, auth2 = (tree.addr(n) for n in ("root", "tld", "auth", "auth2"))
    out = tree.exec("client", netlab_bin(), "dns-query", "--trace", "--root", root,
                    "www.other.lab", "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    steps = [(s["depth"], s["zone"], s["server"], s["qname"], s["kind"]) for s in doc["trace"]]
    assert steps == [
        (0, ".", root, "www.other.lab.", "referral"),
        (0, "lab.", tld, "www.other.lab.", "referral"),
        # lab. names ns.example.lab without an address: find it from the root first.
        (1, ".", root, "ns.example.lab.", "referral"),
        (1, "lab.", tld, "ns.example.lab.", "referral"),
        (1, "example.lab.", auth, "ns.example.lab.", "answer"),
        (0, "other.lab.", auth2, "www.other.lab.", "answer"),
    ]
    assert doc["trace"][1]["referral"] == [{"name": "ns.example.lab.", "addresses": []}]
    assert doc["trace"][5]["server_name"] == "ns.example.lab."
    assert [a["data"] for a in doc["answers"]] == ["198.18.0.81"]
    text = tree.exec("client", netlab_bin(), "dns-query", "--trace", "--root", root,
                     "www.other.lab")  # fmt: skip
    assert "→ other.lab. NS ns.example.lab. [no glue]" in text.stdout
    assert "│  ├─ " in text.stdout and "ns.example.lab. A" in text.stdout


# --- hostile bytes and words: never an exception ------------------------------------------

_FUZZ = settings(max_examples=300, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])  # fmt: skip


@_FUZZ
@given(chunks=st.lists(st.binary(max_size=300), max_size=6), framed_first=st.booleans())
def test_zone_transfer_takes_any_stream(chunks, framed_first):
    """Whatever a hostile server streams, the transfer ends with a Transfer or a Failure
    (or keeps waiting, until its timer), and never raises."""
    zt = xfr(timeout=1.0)
    conn = zt.start(0)[0].conn
    good = framed(reply(77, "example.lab.", 252, an=[soa(3)])) if framed_first else b""
    for i, chunk in enumerate([good, *chunks]):
        zt.on_data(conn, chunk, i + 1)
    zt.on_timer(10 * NS)
    assert isinstance(zt.result, Transfer | Failure)


_WORDS = st.sampled_from(["@", "@x", "+short", "+noall", "+answer", "+tries=", "+tries=x",
                          "+bufsize=99999", "-t", "-q", "-x", "-c", "-b", "MX", "IXFR=",
                          "IXFR=5", "ANY", "IN", "CH", "a.lab", "..", "+", "-", "+no", "--x",
                          "+edns=1", "+noedns", "+time=0", "1.2.3.4", "::1", "é.lab"])  # fmt: skip


@_FUZZ
@given(words=st.lists(st.one_of(_WORDS, st.text(max_size=12)), max_size=8))
def test_dig_words_parse_or_say_why(words):
    from netlab.cli import digargs

    try:
        line = digargs.parse(words, digargs.Settings())
    except QueryInputError as err:
        assert str(err) and "\n" not in str(err)
        return
    for lookup in line.lookups:
        assert lookup.name.endswith(".") and lookup.questions()
