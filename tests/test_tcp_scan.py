"""netlab tcp-handshake --ports (the SYN scan) and hping3's probes (-S -c …): the cores with
fake time, and both against nmap and hping3 in one routed lab."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from netlab.core.tcp_scan import (
    MIN_TIMEOUT_NS,
    SynTemplate,
    TcpScanCore,
    build_tcp,
    parse_ports,
    parse_services,
    service_names,
)
from netlab.errors import InputError
from netlab.wire.link import LinkFrame
from tests.conftest import netlab_bin, require_tool

NS = 1_000_000_000
SRC, DST, SPORT = "198.18.1.2", "198.18.4.2", 40000
ACK, RST, SYN = 0x10, 0x04, 0x02
SERVICES = """\
# comment
tcpmux		1/tcp				# TCP port service multiplexer
echo		7/tcp
echo		7/udp
ssh		22/tcp				# SSH Remote Login Protocol
http		80/tcp		www		# WorldWideWeb HTTP
http-alt	8080/tcp	webcache	# WWW caching service
broken line
bad		99999/tcp
"""


# --- port lists and services ------------------------------------------------------------------


def test_ports_take_nmaps_forms():
    names = parse_services(SERVICES)
    assert parse_ports("-") == list(range(1, 65536))
    assert parse_ports("-3") == [1, 2, 3]
    assert parse_ports("65533-") == [65533, 65534, 65535]
    assert parse_ports("http,ssh,8000-8002", names) == [22, 80, 8000, 8001, 8002]
    assert parse_ports("www,HTTP,7", names) == [7, 80]  # aliases, any case
    assert parse_ports("http*", names) == [80, 8080]  # nmap's wildcards
    for bad in ("", "0", "70000", "9-3", "1,,2", "--", "1-2-3", "nosuch", "http?x", "1 2",
                "8" * 5000):  # fmt: skip
        with pytest.raises(InputError):
            parse_ports(bad, names)


def test_services_database_as_nmap_names_ports():
    names = parse_services(SERVICES)
    assert names == {"tcpmux": 1, "echo": 7, "ssh": 22, "http": 80, "www": 80,
                     "http-alt": 8080, "webcache": 8080}  # fmt: skip
    assert service_names(SERVICES) == {1: "tcpmux", 7: "echo", 22: "ssh", 80: "http",
                                       8080: "http-alt"}  # fmt: skip


def test_system_services_agree_with_libc():
    """The names we read from /etc/services are the ones libc's getservbyport gives."""
    try:
        with open("/etc/services", encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        pytest.skip("no /etc/services")
    names = service_names(text)
    assert names, "no TCP service in /etc/services"
    for port, name in list(names.items())[:200]:
        assert socket.getservbyport(port, "tcp") == name
    by_name = parse_services(text)
    for name in ("http", "ssh", "domain"):
        if name in by_name:
            assert by_name[name] == socket.getservbyname(name, "tcp")


# --- probes built by hand ----------------------------------------------------------------------


@pytest.mark.parametrize("family,src,dst", [(4, SRC, DST), (6, "2001:db8:1::2", "2001:db8:4::2")])
def test_probes_checksum_as_scapy_computes_them(family, src, dst):
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6

    template = SynTemplate(family, src, dst, SPORT, 1460)
    for dport, seq in ((1, 0), (80, 0xFFFFFFFF), (65535, 0x12345678), (8080, 7)):
        raw = template.build(dport, seq)
        assert raw == build_tcp(family, src, dst, SPORT, dport, SYN, seq, 0, 1024,
                                b"\x02\x04\x05\xb4")  # fmt: skip
        pkt = IP(raw) if family == 4 else IPv6(raw)
        tcp = pkt[TCP]
        assert (tcp.dport, tcp.seq, tcp.flags, tcp.options) == (dport, seq, "S", [("MSS", 1460)])
        given = tcp.chksum
        del tcp.chksum
        assert TCP(bytes(tcp)).chksum == given  # Scapy's sum over the same pseudo-header
    data = build_tcp(4, SRC, DST, 1234, 80, 0x18, 1, 2, 64, payload=b"XYZ", ttl=3, df=True)
    pkt = IP(data)
    assert (pkt.ttl, pkt.flags, bytes(pkt[TCP].payload), pkt[TCP].flags) == (3, "DF", b"XYZ",
                                                                             "PA")  # fmt: skip


# --- the scan core with fake time --------------------------------------------------------------


def _answer(core: TcpScanCore, port: int, flags: int, ts: int, ack: int | None = None) -> list:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    ack = core.isn(port) + 1 if ack is None else ack
    data = bytes(Ether() / IP(src=DST, dst=SRC) / TCP(sport=port, dport=SPORT, flags=flags,
                                                      seq=5000, ack=ack))  # fmt: skip
    return core.on_packet(LinkFrame(data, ts, 1), ts)


def test_many_probes_in_flight_then_only_the_unanswered_are_retried():
    ports = list(range(1, 201))
    core = TcpScanCore(4, SRC, SPORT, DST, ports, isn=99, rate=1e6)
    first = core.start(0)
    assert len(first) == 64  # the initial window: many at once, not one per RTT
    assert core.timeout_ns == NS  # nmap's initial_rtt_timeout before any sample
    t = NS // 1000  # every answer 1 ms later
    sent = list(first)
    for port in range(1, 201):
        if port % 50 == 0:
            continue  # four ports never answer
        assert core.results[port].tries == 1  # sent as answers opened the window
        sent += _answer(core, port, RST | ACK if port != 80 else SYN | ACK, t)
    assert core.sent == 200 and len(sent) == 200
    assert core.results[80].state == "open" and core.results[81].state == "closed"
    assert core.results[1].rtt_ms == pytest.approx(1.0)  # sent at 0, answered at 1 ms
    # 1 ms RTTs: the timeout falls to nmap's min_rtt_timeout (100 ms), not 1 s
    assert core.timeout_ns == MIN_TIMEOUT_NS
    assert core.deadline() == MIN_TIMEOUT_NS  # port 50 left at 0, the others at 1 ms
    retries = core.on_timer(MIN_TIMEOUT_NS + NS // 1000)
    retried = sorted(int.from_bytes(s.data[22:24], "big") for s in retries)
    assert retried == [50, 100, 150, 200]  # only the unanswered, once each
    assert not core.done()
    core.on_timer(core.deadline())
    assert core.done() and core.sent == 204
    states = {p: r.state for p, r in core.results.items()}
    assert {p for p, s in states.items() if s == "filtered"} == {50, 100, 150, 200}
    assert core.results[50].reason == "no-response" and core.results[50].tries == 2


def test_rate_limits_the_probes_per_second():
    core = TcpScanCore(4, SRC, SPORT, DST, list(range(1, 1001)), isn=1, rate=10_000)
    assert len(core.start(0)) == 10  # a burst of 1 ms worth
    assert core.deadline() == NS // 10_000  # the next token
    assert len(core.on_timer(NS // 1000)) == 10  # 1 ms later: 10 more
    assert core.sent == 20


def test_a_timeout_halves_the_window_and_answers_grow_it():
    core = TcpScanCore(4, SRC, SPORT, DST, list(range(1, 1001)), isn=1, rate=1e6, tries=1)
    assert len(core.start(0)) == 64
    _answer(core, 1, RST | ACK, NS // 1000)
    assert core.cwnd == 65
    core.on_timer(NS)  # the other 63 time out at 1 s: the window halves (never below 8)
    assert core.cwnd == 8
    assert core.results[2].state == "filtered"


def test_interrupt_keeps_what_was_found_and_counts_the_rest():
    from netlab.render.tcp_handshake import scan_json, scan_tail

    core = TcpScanCore(4, SRC, SPORT, DST, [7, 9, 22, 80], isn=1, rate=1e6)
    core.start(0)
    _answer(core, 7, SYN | ACK, 1000)
    _answer(core, 9, RST | ACK, 2000)
    core.interrupt(5000)
    assert core.done()
    tail = scan_tail(core, {7: "echo"}, interrupted=True)
    assert tail[0].split()[:4] == ["9/tcp", "closed", "unknown", "reset"]
    assert "unknown" not in "".join(tail[1:]) and "not scanned" in tail[-1]
    assert "2 of 4 ports scanned" in tail[-1]
    doc = scan_json(core, "server", {7: "echo"})
    assert [r["port"] for r in doc["ports"]] == [7, 9] and doc["not_scanned"] == 2


def test_folding_follows_nmap():
    from netlab.render.tcp_handshake import scan_tail

    core = TcpScanCore(4, SRC, SPORT, DST, list(range(1, 41)), isn=1, rate=1e6, tries=1)
    core.start(0)
    for port in range(1, 31):
        _answer(core, port, (SYN if port == 22 else RST) | ACK, 1000)
    core.on_timer(NS)  # 31-40: 10 filtered, shown; 29 closed, folded
    tail = scan_tail(core, {})
    assert tail[-2] == "Not shown: 29 closed tcp ports (reset)"
    assert [line.split()[0] for line in tail[:-2]] == [f"{p}/tcp" for p in range(31, 41)]
    assert all(" filtered " in line for line in tail[:-2])
    assert tail[-1].startswith("40 ports scanned in ") and tail[-1].endswith(
        "(40 SYNs sent): 1 open, 29 closed, 10 filtered"
    )


def test_on_loopback_answers_are_told_from_our_probes_by_the_ports():
    """On lo the source is the destination: our SYN and the SYN-ACK differ by ports only."""
    from scapy.layers.inet import TCP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether

    core = TcpScanCore(6, "::1", SPORT, "::1", [7], isn=1, rate=1e6, see_outgoing=True)
    [syn] = core.start(0)
    assert core.on_packet(LinkFrame(bytes(Ether() / IPv6(syn.data)), 500, 1), 500) == []
    assert core.results[7].sent_ns == 500 and not core.results[7].state  # the kernel's time
    synack = IPv6(src="::1", dst="::1") / TCP(sport=7, dport=SPORT, flags="SA",
                                              ack=core.isn(7) + 1)  # fmt: skip
    core.on_packet(LinkFrame(bytes(Ether() / synack), 1500, 1), 1500)
    assert core.results[7].state == "open" and core.results[7].rtt_ms == 0.001
    assert core.done()


# --- hping3's probes, with fake time ------------------------------------------------------------


def test_probe_core_sends_the_flags_asked_and_names_each_answer():
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    from netlab.core.tcp_probe import ProbeReply, TcpProbeCore
    from netlab.render.tcp_handshake import hping_line

    core = TcpProbeCore(4, SRC, DST, 80, flags=0x02 | 0x08, base_sport=2000, isn=5, count=3,
                        interval=1.0, ttl=9, data_size=4)  # fmt: skip
    [first] = core.start(0)
    pkt = IP(first.data)
    assert (pkt.ttl, pkt[TCP].sport, pkt[TCP].dport, pkt[TCP].flags) == (9, 2000, 80, "SP")
    assert bytes(pkt[TCP].payload) == b"XXXX"
    assert core.deadline() == NS and core.on_timer(NS // 2) == []
    assert IP(core.on_timer(NS)[0].data)[TCP].sport == 2001  # one higher per probe
    reply = (
        Ether()
        / IP(src=DST, dst=SRC, flags="DF", ttl=61)
        / TCP(sport=80, dport=2001, flags="SA", window=64240)
    )
    core.on_packet(LinkFrame(bytes(reply), NS + 900_000, 1), NS)
    [event] = core.pop_events()
    assert isinstance(event, ProbeReply) and event.seq == 1 and event.rtt_ms == 0.9
    assert hping_line(event) == ("len=40 ip=198.18.4.2 ttl=61 DF id=1 sport=80 flags=SA "
                                 "seq=1 win=64240 rtt=0.9 ms")  # fmt: skip
    core.on_packet(LinkFrame(bytes(reply), NS + 1_000_000, 1), NS)
    assert core.pop_events()[0].dup  # hping3's DUP!
    core.on_timer(2 * NS)
    assert not core.done()  # probes 0 and 2 unanswered: wait a second after the last
    core.on_timer(3 * NS)
    assert core.done() and (core.sent, core.replies, len(core.answered)) == (3, 2, 1)


# --- against nmap and hping3 in the routed lab ---------------------------------------------------

SCAN_CLOSED = 8081  # a closed port in the small scans' lists
DROPPED = 8080  # made filtered by an nft drop rule in the server's namespace


@pytest.fixture(scope="module")
def routed():
    """The routed lab, up once for the module's tests, with one port dropped at the server."""
    from tests.labfixtures import module_lab

    with module_lab("routed", "tscan", ("nft", "nmap", "hping3", "tcpdump")) as handle:
        script = ("add table inet t\nadd chain inet t in { type filter hook input priority 0; }"
                  f"\nadd rule inet t in tcp dport {DROPPED} drop\n")  # fmt: skip
        handle.exec("server", "nft", "-f", "-", input=script, check=True)
        yield handle


def _nmap_states(routed, ports: str) -> tuple[dict[int, str], dict[int, str], str]:
    """nmap's states and SERVICE names; folded ports from its "Not shown" line."""
    out = routed.exec("client", "nmap", "-sS", "-n", "-Pn", "-p", ports, routed.addr("server"),
                      timeout=120).stdout  # fmt: skip
    rows = {int(m[1]): (m[2], m[3]) for m in re.finditer(r"^(\d+)/tcp\s+(\S+)\s+(\S+)", out, re.M)}
    return {p: s for p, (s, _n) in rows.items()}, {p: n for p, (_s, n) in rows.items()}, out


def _netlab_scan(routed, *args: str) -> subprocess.CompletedProcess:
    return routed.exec("client", netlab_bin(), "tcp-handshake", *args, timeout=120)


@pytest.mark.lab
def test_scan_of_1000_ports_has_nmaps_open_closed_and_filtered_sets(routed):
    nmap_rows, nmap_names, nmap_out = _nmap_states(routed, f"1-1000,{DROPPED}")
    folded = re.search(r"Not shown: (\d+) closed tcp ports \(reset\)", nmap_out)
    assert folded, nmap_out
    out = _netlab_scan(routed, "--json", "--ports", f"1-1000,{DROPPED}", "server")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    ours = {row["port"]: row["state"] for row in doc["ports"]}
    assert len(ours) == 1001 and doc["not_scanned"] == 0
    theirs = {p: nmap_rows.get(p, "closed") for p in [*range(1, 1001), DROPPED]}
    assert ours == theirs
    assert {p for p, s in ours.items() if s == "open"} == {7, 80}
    assert ours[DROPPED] == "filtered"
    assert sum(1 for s in ours.values() if s == "closed") == int(folded[1])
    # retries only for the unanswered: one more SYN for the dropped port (a few more only
    # if an answer came later than the 100 ms timeout: a loaded machine)
    tries = {row["port"]: row["tries"] for row in doc["ports"]}
    assert tries[DROPPED] == 2 and doc["received"] == 1000
    assert 1002 <= doc["sent"] <= 1006 and doc["sent"] == sum(tries.values())
    # the text: nmap's rows and "Not shown" line, SERVICE as nmap names them
    text = _netlab_scan(routed, "--ports", f"1-1000,{DROPPED}", "server")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert f"Not shown: {folded[1]} closed tcp ports (reset)" in lines
    rows = {int(m[1]): (m[2], m[3]) for m in re.finditer(r"^(\d+)/tcp\s+(\S+)\s+(\S+)",
                                                         text.stdout, re.M)}  # fmt: skip
    assert {p: s for p, (s, _n) in rows.items()} == nmap_rows
    for port in (7, 80):  # echo, http: the same in nmap-services and /etc/services
        assert rows[port][1] == nmap_names[port] == socket.getservbyport(port, "tcp")
    assert (
        lines[-1].startswith("1001 ports scanned in ")
        and "2 open, 998 closed, 1 filtered" in (lines[-1])
    )


@pytest.mark.lab
def test_small_scan_lists_every_port_like_nmap(routed):
    spec = f"7,9,22,80,{SCAN_CLOSED},{DROPPED}"
    nmap_rows, _names, _out = _nmap_states(routed, spec)
    out = _netlab_scan(routed, "--ports", spec, "server")
    assert out.returncode == 0, out.stderr
    ours = {int(m[1]): m[2] for m in re.finditer(r"^(\d+)/tcp\s+(\S+)", out.stdout, re.M)}
    assert ours == nmap_rows and "Not shown" not in out.stdout
    # names from /etc/services, `-` for every port, and names the database lacks refused
    named = _netlab_scan(routed, "--json", "--ports", "echo,http,ssh", "server")
    assert named.returncode == 0, named.stderr
    assert [r["port"] for r in json.loads(named.stdout)["ports"]] == [7, 22, 80]
    bad = _netlab_scan(routed, "--ports", "http,nosuchservice", "server")
    assert bad.returncode == 2 and "nosuchservice" in bad.stderr and bad.stderr.count("\n") == 1


@pytest.mark.lab
def test_open_ports_stream_before_the_scan_ends(routed):
    """The first open line is on stdout while the scan still runs: read incrementally."""
    from netlab.lab import engine

    # 8080 dropped and tries 3 keep the scan going ≥ 2 × 100 ms after port 7 is found.
    argv = engine.exec_argv(routed.book, "client", [netlab_bin(), "tcp-handshake", "--ports",
                            f"7,{DROPPED}", "--tries", "4", "server"])  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        while True:
            line = proc.stdout.readline()
            assert line, f"no open line: {seen} {proc.stderr.read()}"
            seen.append(line)
            if line.startswith("7/tcp"):
                break
        assert proc.poll() is None, "the open port should be printed before the end"
        assert "open" in line and "echo" in line
        rest = proc.stdout.read()
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == 0
    assert re.search(rf"^{DROPPED}/tcp\s+filtered", rest, re.M), rest


@pytest.mark.lab
def test_ctrl_c_prints_the_partial_table_and_exits_130(routed):
    from netlab.lab import engine

    # A slow scan (100 SYNs/s of 1-65535 would take 11 minutes): interrupted after 1 s.
    for json_out in (False, True):
        argv = engine.exec_argv(routed.book, "client", [netlab_bin(), "tcp-handshake",
                                "--ports", "-", "--rate", "100", "server",
                                *(["--json"] if json_out else [])])  # fmt: skip
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 130, err
        if json_out:
            doc = json.loads(out)
            assert doc["interrupted"] is True and 0 < len(doc["ports"]) < 1000
            assert doc["not_scanned"] == 65535 - len(doc["ports"])
            assert {r["state"] for r in doc["ports"]} <= {"open", "closed", "filtered"}
            continue
        lines = out.splitlines()
        rows = [line.split() for line in lines if re.match(r"\d+/tcp ", line)]
        assert rows and all(row[1] in ("open", "closed", "filtered") for row in rows), out
        assert re.match(r"^7/tcp\s+open\s+echo\s", lines[2]), out
        assert re.match(r"Not shown: \d+ closed tcp ports \(reset\)", lines[-2]), out
        assert lines[-1].startswith("interrupted after ") and "not scanned" in lines[-1]
        assert len(lines) < 10, out


@pytest.mark.lab
def test_scan_needs_no_nftables_and_leaves_nothing_half_open(routed):
    out = _netlab_scan(routed, "--ports", "7,80", "server")
    assert out.returncode == 0, out.stderr
    assert "SYN-RECV" not in routed.exec("server", "ss", "-tan").stdout
    tables = routed.exec("client", "nft", "list", "tables").stdout
    assert "netlab_guard" not in tables
    # CAP_NET_RAW alone is enough (nmap's need), no CAP_NET_ADMIN for a firewall rule
    raw_only = routed.exec("client", "setpriv", "--reuid=65534", "--regid=65534",
                           "--clear-groups", "--inh-caps=-all,+net_raw",
                           "--ambient-caps=+net_raw", "--bounding-set=-all,+net_raw",
                           netlab_bin(), "tcp-handshake", "--ports", "7,9", "server")  # fmt: skip
    assert raw_only.returncode == 0, raw_only.stderr
    assert re.search(r"^7/tcp\s+open\s+echo", raw_only.stdout, re.M), raw_only.stdout


# --- hping3 against netlab ---------------------------------------------------------------------

HPING_LINE = re.compile(r"^len=(\d+) ip=(\S+) ttl=(\d+) (DF )?id=(\d+) sport=(\d+) flags=(\w+) "
                        r"seq=(\d+) win=(\d+) rtt=(\d+\.\d) ms$")  # fmt: skip


def _hping_lines(text: str) -> list[re.Match]:
    return [m for line in text.splitlines() if (m := HPING_LINE.match(line))]


@pytest.mark.lab
@pytest.mark.parametrize("port,flags", [(7, "SA"), (9, "RA")], ids=["open", "closed"])
def test_syn_probes_get_what_hping3_gets(routed, port, flags):
    require_tool("hping3")
    server = routed.addr("server")
    theirs = routed.exec("client", "hping3", "-S", "-c", "3", "-p", str(port), "-i", "u100000",
                         server, timeout=30)  # fmt: skip
    ours = routed.exec("client", netlab_bin(), "tcp-handshake", "-S", "-c", "3", "-p", str(port),
                       "--interval", "0.1", server, timeout=30)  # fmt: skip
    assert ours.returncode == 0, ours.stderr
    first = ours.stdout.splitlines()[0]
    assert (
        first
        == theirs.stdout.splitlines()[0]
        == (f"HPING {server} (eth0 {server}): S set, 40 headers + 0 data bytes")
    )
    got, expected = _hping_lines(ours.stdout), _hping_lines(theirs.stdout)
    assert len(got) == len(expected) == 3, (ours.stdout, theirs.stdout)
    for a, b in zip(got, expected, strict=True):
        # len, ip, ttl, DF, id, sport, flags, seq, win: all but the RTT
        assert a.groups()[:9] == b.groups()[:9]
    assert {m[7] for m in got} == {flags} and [m[8] for m in got] == ["0", "1", "2"]
    stats = ours.stderr.strip().splitlines()
    assert stats[-3:-1] == theirs.stderr.strip().splitlines()[-3:-1]  # the statistics
    assert re.match(r"round-trip min/avg/max = \d+\.\d/\d+\.\d/\d+\.\d ms$", stats[-1])


@pytest.mark.lab
def test_probes_with_a_small_ttl_and_json(routed):
    out = routed.exec("client", netlab_bin(), "tcp-handshake", "-S", "-c", "2", "-t", "1",
                      "--interval", "0.1", "server", "7", timeout=30)  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    r1 = routed.addr("r1")
    assert lines[1:] == [f"TTL 0 during transit from ip={r1} name=UNKNOWN"] * 2
    js = routed.exec("client", netlab_bin(), "tcp-handshake", "-A", "-c", "2", "-d", "5",
                     "--interval", "0.1", "--json", "server", "7", timeout=30)  # fmt: skip
    assert js.returncode == 0, js.stderr
    records = [json.loads(line) for line in js.stdout.splitlines()]
    assert [r["type"] for r in records] == ["reply", "reply", "summary"]
    assert all(r["flags"] == "R" for r in records[:2])  # an ACK out of the blue gets a RST
    assert records[-1]["sent"] == 2 and records[-1]["received"] == 2 and records[-1]["lost"] == 0


def test_hping_options_are_refused_with_a_scan_or_connect():
    for args in (["-S", "--ports", "80", "server"], ["-c", "2", "--connect", "server", "7"],
                 ["-S", "--hold", "1", "server", "7"], ["-p", "80", "server", "81"]):  # fmt: skip
        proc = subprocess.run([netlab_bin(), "tcp-handshake", *args], capture_output=True,
                              text=True, timeout=30,
                              env={**os.environ, "NO_COLOR": "1"})  # fmt: skip
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr


@pytest.mark.lab
def test_route_over_rtnetlink_is_what_ip_route_get_says(routed):
    """The scan asks rtnetlink itself (no `ip` process); `ip -j route get` is the oracle."""
    import sys

    targets = [routed.addr("server"), routed.addr("server", 6), routed.addr("r1"),
               routed.addr("client"), "127.0.0.1", "::1"]  # fmt: skip
    code = """if True:
        import sys
        from netlab.net.route import route_to
        from netlab.net.rtnetlink import route_get
        for t in sys.argv[1:]:
            same = route_get(t) == route_to(t)
            if not t.startswith(("127.", "::1", "198.18.1.")):  # forced out of eth0 too
                same = same and route_get(t, "eth0") == route_to(t, "eth0")
            print(same, route_get(t))
    """
    out = routed.exec("client", sys.executable, "-c", code, *targets)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == len(targets) and all(line.startswith("True ") for line in lines), lines
    assert "dev='eth0'" in lines[0] and f"gateway='{routed.addr('r1')}'" in lines[0]
    bad = routed.exec("client", sys.executable, "-c", "from netlab.net.rtnetlink import route_get"
                      "\nroute_get('198.18.4.2', 'nosuch0')")  # fmt: skip
    assert "no interface named 'nosuch0'" in bad.stderr
