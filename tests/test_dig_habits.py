"""dig's habits in `netlab dns-query`: the same invocation through dig and through netlab in
the `dns` lab, outputs compared (issue 21). One lab for the module.

What is compared: +short (equal), +noall +answer (equal modulo the resolver's TTL
countdown, tabs and all: dig's columns), the questions each command line asks
(+noall +question: dig's rules for names, types, -t, -q, -x), whole answers (equal
but for ID, times, cookie and the greeting), @NAME trying every address, -4/-6, AXFR
and IXFR (the same records), +trace with and without @SERVER (the same answer).
"""

from __future__ import annotations

import json
import re
import socket
import threading

import pytest

from netlab.cli import digargs
from tests.conftest import netlab_bin
from tests.labfixtures import module_lab

# --- dig's command-line rules, without the network ----------------------------------------


def asked(words: str) -> list[tuple[str, str]]:
    line = digargs.parse(words.split(), digargs.Settings())
    from netlab.wire.dns import type_to_text

    return [(lk.name, type_to_text(t)) for lk in line.lookups for t in lk.questions()]


def test_words_apply_as_in_dig():
    # A type before the first name is the default of every name; after a name, its own.
    assert asked("MX a.lab b.lab") == [("a.lab.", "MX"), ("b.lab.", "MX")]
    assert asked("a.lab MX b.lab") == [("a.lab.", "MX"), ("b.lab.", "A")]
    # After -t, a bare word is a name (dig's open_type_class).
    assert asked("a.lab -t MX b.lab TXT") == [("a.lab.", "MX"), ("b.lab.", "A"), ("TXT.", "A")]
    assert asked("-x 198.18.0.80 -q Mail.lab") == [
        ("80.0.18.198.in-addr.arpa.", "PTR"),
        ("Mail.lab.", "A"),
    ]
    # netlab's extension: several types for one name ask each (dig keeps the last).
    assert asked("example.lab MX TXT") == [("example.lab.", "MX"), ("example.lab.", "TXT")]
    words = ["@s1", "+short", "a.lab", "@s2", "@s3", "+notcp", "+tries=2", "b.lab", "IXFR=7"]
    line = digargs.parse(words, digargs.Settings())
    a, b = line.lookups
    # @SERVER before the names is everyone's; after a name, that lookup's own list.
    assert a.settings.servers == ["s2", "s3"] and b.settings.servers == ["s1"]
    assert line.short and line.tries == 2 and not line.unsupported
    assert b.settings.serial == 7 and b.settings.tcp
    words = ["+qr", "+ednsopt=3", "+split=4", "-b", "1.2.3.4", "+noall", "a.lab"]
    bad = digargs.parse(words, digargs.Settings())
    assert bad.unsupported == ["+qr", "+ednsopt=3", "+split=4", "-b"]


# --- in the lab, against dig --------------------------------------------------------------


@pytest.fixture(scope="module")
def dns():
    with module_lab("dns", "dig", ("dig",)) as handle:
        yield handle


def dig(lab, *args: str):
    return lab.exec("client", "dig", *args)


def nq(lab, *args: str):
    return lab.exec("client", netlab_bin(), "dns-query", *args)


_TTL = re.compile(r"^([^;\s]\S*\s+)\d+(\s)")


def no_ttl(text: str) -> list[str]:
    """Record lines with the TTL masked (the resolver counts it down between two runs)."""
    return [_TTL.sub(r"\1TTL\2", line) for line in text.splitlines()]


@pytest.mark.lab
def test_short_equals_digs(dns):
    auth = dns.addr("auth")
    cases = [
        ["+short", "www.example.lab"],
        ["+short", "web.example.lab"],
        ["+short", "MX", "example.lab"],
        ["+short", "TXT", "big.example.lab"],
        ["+short", "-x", "198.18.0.80"],
        ["+short", f"@{auth}", "www.example.lab", "AAAA", "mail.example.lab"],
        ["+short", "-t", "MX", "example.lab", "www.example.lab"],
        ["@resolver", "+short", "SOA", "example.lab"],
        ["+short", "@resolver", "-c", "CH", "-t", "TXT", "version.bind"],
        ["+short", "@198.18.0.1"],  # no name: the root's NS set, as dig asks
    ]
    for args in cases:
        ours, theirs = nq(dns, *args), dig(dns, *args)
        assert ours.returncode == 0 == theirs.returncode, (args, ours.stderr)
        assert theirs.stdout.strip(), args  # the case asks something that has an answer
        assert ours.stdout == theirs.stdout, args


@pytest.mark.lab
def test_noall_answer_tab_fields_equal_digs(dns):
    auth = dns.addr("auth")
    cases = [
        ["+noall", "+answer", "www.example.lab"],
        ["+noall", "+answer", "-t", "MX", "example.lab"],
        ["+noall", "+answer", "-x", "198.18.0.80", "-x", "198.18.0.3"],
        ["+noall", "+answer", f"@{auth}", "web.example.lab", "example.lab", "SOA",
         "big.example.lab", "TXT", "example.lab", "NS"],
        ["+noall", "+answer", "+authority", f"@{auth}", "nope.example.lab"],
        ["+noall", "+answer", "+additional", f"@{auth}", "MX", "example.lab"],
        ["+noall", "+answer", "+nottlid", "+noclass", "WWW.Example.lab", "AAAA"],
        ["+noall", "+answer", "+nottlid", "-x", "198.18.0.25", "web.example.lab"],
        ["+noall", "+answer", "+noclass", "MX", "example.lab"],
    ]  # fmt: skip
    for args in cases:
        ours, theirs = nq(dns, *args), dig(dns, *args)
        assert theirs.stdout.strip(), args
        assert no_ttl(ours.stdout) == no_ttl(theirs.stdout), args
    # dig's columns: `cut -f5` is the data where the name is shorter than 24 characters.
    line = nq(dns, "+noall", "+answer", "-t", "MX", "example.lab").stdout.splitlines()[0]
    assert line.split("\t")[4:] == ["MX", "10 mail.example.lab."]


@pytest.mark.lab
def test_several_names_ask_what_dig_asks(dns):
    cases = [
        "www.example.lab MX example.lab",
        "MX www.example.lab example.lab",
        "www.example.lab -t MX example.lab TXT",
        "-q www.example.lab -q mail.example.lab -t MX",
        "www.example.lab -x 198.18.0.25 WWW.example.lab AAAA",
    ]
    for case in cases:
        args = ["+noall", "+question", *case.split()]
        theirs = dig(dns, *args).stdout
        assert theirs.count("\n") >= 2, case
        assert nq(dns, *args).stdout == theirs, case


_MASKS = [
    (re.compile(r"^; <<>> .*$", re.M), "; <<>> GREETING"),
    (re.compile(r"id: \d+"), "id: ID"),
    (re.compile(r"COOKIE: [0-9a-f]+"), "COOKIE: HEX"),
    (re.compile(r"Query time: \d+"), "Query time: N"),
    (re.compile(r"^;; WHEN: .*$", re.M), ";; WHEN: DATE"),
]


def masked(text: str) -> list[str]:
    for pattern, repl in _MASKS:
        text = pattern.sub(repl, text)
    return no_ttl(text)


@pytest.mark.lab
def test_whole_answers_equal_digs(dns):
    auth = dns.addr("auth")
    cases = [
        ["www.example.lab"],
        [f"@{auth}", "+nocmd", "www.example.lab", "MX", "example.lab"],
        ["+nocomments", "+nostats", "web.example.lab"],
        ["+nostats", "+noquestion", f"@{auth}", "nope.example.lab"],
        ["+norec", "@root", "www.example.lab"],
        ["+nocookie", "+noedns", "@resolver", "TXT", "info.example.lab"],
        ["+dnssec", "+noadflag", "www.example.lab"],
        ["+tcp", "+bufsize=512", "MX", "example.lab"],
        ["+noedns", "+nocmd", "TXT", "big.example.lab"],  # truncated, then over TCP
        ["+ignore", "+noedns", "TXT", "big.example.lab", f"@{auth}"],  # truncated, kept
        ["+nsid", "+retry=1", "+time=2", "-p", "53", f"@{auth}", "www.example.lab"],
        ["+edns=0", "+noall", "+answer", "+comments", "www.example.lab"],
        ["ANY", "example.lab", f"@{auth}"],  # over TCP, as dig asks ANY
        ["+notcp", "ANY", "example.lab", f"@{auth}"],
    ]
    for args in cases:
        ours, theirs = nq(dns, *args), dig(dns, *args)
        assert masked(ours.stdout) == masked(theirs.stdout), args
        assert ours.stderr == ""


@pytest.mark.lab
def test_server_families_like_digs(dns):
    for family in ("-4", "-6"):
        args = [family, "@resolver", "www.example.lab"]
        ours, theirs = nq(dns, *args).stdout, dig(dns, *args).stdout
        server = [ln for ln in theirs.splitlines() if ln.startswith(";; SERVER:")]
        assert server and server == [ln for ln in ours.splitlines() if ln.startswith(";; SERVER")]


@pytest.mark.lab
def test_at_name_tries_each_address(dns):
    # www has no DNS server: dig and netlab both try its IPv6 and its IPv4 address.
    ours, theirs = nq(dns, "@www", "+short", "www.example.lab"), dig(dns, "@www", "+short",
                                                                     "www.example.lab")  # fmt: skip
    assert theirs.returncode == 9 and ours.returncode == 1
    for addr in (dns.addr("www", 6), dns.addr("www")):
        assert f"{addr}#53" in theirs.stdout and f"{addr}#53" in ours.stderr
    assert ours.stdout == "" and len(ours.stderr.splitlines()) == 1  # the error, once
    doc = json.loads(nq(dns, "@www", "www.example.lab", "--json").stdout)
    assert doc["server"] == dns.addr("www") and "refused" in doc["error"]
    assert [f["server"] for f in doc["failed"]] == [dns.addr("www", 6)]
    # Now a server on www's IPv4 address only: the IPv6 one refuses, the IPv4 one answers.
    sock = dns.socket("www", socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((dns.addr("www"), 53))
    server = threading.Thread(target=_answer_a, args=(sock, "192.0.2.53"), daemon=True)
    server.start()
    try:
        ours, theirs = (run(dns, "@www", "+short", "www.example.lab") for run in (nq, dig))
    finally:
        sock.close()
        server.join(5)
    answers = [ln for ln in theirs.stdout.splitlines() if not ln.startswith(";;")]
    assert answers == ["192.0.2.53"] and ours.returncode == 0
    assert ours.stdout.splitlines() == [
        f";; communications error to {dns.addr('www', 6)}#53: connection refused "
        "(ICMP port unreachable)",
        "192.0.2.53",
    ]


def _answer_a(sock: socket.socket, addr: str) -> None:
    """Answer each A query with ADDR, until the socket is closed (bounded: 20 queries)."""
    from scapy.layers.dns import DNS, DNSRR

    sock.settimeout(10)
    for _ in range(20):
        try:
            data, peer = sock.recvfrom(2048)
        except OSError:
            return
        query = DNS(data)
        reply = DNS(id=query.id, qr=1, aa=1, rd=query.rd, qd=query.qd,
                    an=DNSRR(rrname=query.qd[0].qname, type="A", ttl=60, rdata=addr))  # fmt: skip
        sock.sendto(bytes(reply), peer)


@pytest.mark.lab
def test_axfr_and_ixfr_like_digs(dns):
    auth = f"@{dns.addr('auth')}"
    for args in ([auth, "example.lab", "AXFR"], [auth, "-t", "AXFR", "0.18.198.in-addr.arpa"],
                 [auth, "example.lab", "IXFR=0"], [auth, "example.lab", "IXFR=1"]):  # fmt: skip
        if "0.18.198.in-addr.arpa" in args:
            args = [f"@{dns.addr('rev')}", *args[1:]]
        ours, theirs = nq(dns, *args), dig(dns, *args)
        assert ours.returncode == 0 == theirs.returncode, (args, ours.stderr)
        records = [ln for ln in theirs.stdout.splitlines() if ln and not ln.startswith(";")]
        assert records, args
        assert [ln for ln in ours.stdout.splitlines() if ln and not ln.startswith(";")] == records
        assert masked(ours.stdout) == masked(theirs.stdout), args  # XFR size line and all
    short = [auth, "+short", "example.lab", "AXFR"]
    assert nq(dns, *short).stdout == dig(dns, *short).stdout
    doc = json.loads(nq(dns, auth, "example.lab", "AXFR", "--json").stdout)
    assert doc["transport"] == "tcp" and doc["answers"][0]["type"] == "SOA"
    assert len(doc["answers"]) == 13 and doc["answers"][-1] == doc["answers"][0]


@pytest.mark.lab
def test_trace_from_the_resolvers_root_ns_set(dns):
    for server in ([], ["@198.18.0.1"]):  # resolv.conf's resolver; the lab's root itself
        theirs = dig(dns, "+trace", *server, "www.example.lab")
        # dig +trace walks the private root: the answer comes from example.lab's server.
        final = theirs.stdout.strip().split("\n\n")[-1]
        assert re.search(r"^www\.example\.lab\.\s+\d+\s+IN\s+A\s+198\.18\.0\.80$", final, re.M)
        assert "(ns1.example.lab)" in final
        out = nq(dns, "--trace", *server, "www.example.lab", "--json")
        assert out.returncode == 0, out.stderr
        doc = json.loads(out.stdout)
        assert doc["roots_from"] == (server[0][1:] if server else dns.addr("resolver"))
        assert [s["zone"] for s in doc["trace"]] == [".", "lab.", "example.lab."]
        assert [a["data"] for a in doc["answers"]] == ["198.18.0.80"]
        # +trace +short: dig's "TYPE data from server ADDR in N ms." lines.
        args = ["+trace", "+short", *server, "web.example.lab"]
        ours, theirs = nq(dns, *args), dig(dns, *args)
        assert ours.stderr == "" and theirs.stdout.count(" from server ") == 3
        assert in_ms(dns, ours.stdout) == in_ms(dns, theirs.stdout), args


def in_ms(lab, text: str) -> str:
    """Times masked, and a node's IPv6 address read as its IPv4 one: dig +trace picks one
    address of each server at random, netlab the IPv4 glue first."""
    for node in ("root", "tld", "auth", "resolver"):
        text = text.replace(f"server {lab.addr(node, 6)} ", f"server {lab.addr(node)} ")
    return re.sub(r" in \d+ ms\.", " in N ms.", text)


@pytest.mark.lab
def test_errors_are_printed_once(dns):
    dead = "198.18.0.99"  # on the LAN, nobody there
    cases = [
        ["--trace", "--root", dead, "--timeout", "0.3", "--tries", "1", "www.example.lab"],
        [f"@{dead}", "+tries=1", "+time=0.3", "www.example.lab"],
        [f"@{dead}", "+tries=1", "+time=0.3", "example.lab", "AXFR"],
    ]
    for args in cases:
        out = nq(dns, *args)
        assert out.returncode == 1, args
        lines = out.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("netlab: error:"), (args, out.stderr)
        reason = lines[0].split("error: ", 1)[1][:20]
        assert reason not in out.stdout, args  # not again on stdout
