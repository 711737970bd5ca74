"""`netlab ping` takes iputils ping's options and prints its lines (issue 21).

Each option runs through iputils' /usr/bin/ping and through netlab in the same lab,
and the lines are compared by regex (round-trip times and iputils' empty name in
its `-4` PING line left out). The core's pacing (preload, flood, adaptive) and
ending rules are also checked with fake time."""

from __future__ import annotations

import re
import signal
import subprocess
import time

import pytest

from netlab.core.echo import (
    EchoCore,
    IcmpError,
    Outstanding,
    Reply,
    Sent,
    Summary,
    Target,
    echo_payload,
    iputils_error,
)
from netlab.wire.link import LinkFrame
from tests.conftest import netlab_bin, require_root, require_tool
from tests.labfixtures import start_lab, unique_name

NS = 1_000_000_000
TIME = re.compile(r"time=[\d.]+ ms")


def _up(spec: str, base: str):
    require_root()
    return start_lab(spec, name=unique_name(base), tools=("ping", "tshark", "setpriv"))


@pytest.fixture(scope="module")
def routed():
    handle = _up("routed", "pinghab")
    try:
        # Routes that answer with errors, inside r1's namespace (lab addresses only).
        handle.exec("r1", "ip", "route", "add", "unreachable", "198.18.70.0/24", check=True)
        handle.exec("r1", "ip", "route", "add", "prohibit", "198.18.71.0/24", check=True)
        for router in ("r1", "r2", "r3"):  # each tool gets its error, however soon after
            handle.exec(router, "sysctl", "-qw", "net.ipv4.icmp_ratelimit=0",
                        "net.ipv6.icmp.ratelimit=0", check=True)  # fmt: skip
        handle.exec("client", "ping", "-c", "1", "-W", "2", "server")  # neighbours resolved
        yield handle
    finally:
        handle.down()


@pytest.fixture(scope="module")
def lan():
    handle = _up("lan", "pinglan")
    try:
        handle.exec("a", "ping", "-c", "1", "-W", "2", "b")
        yield handle
    finally:
        handle.down()


def both(lab, *args: str, node: str = "client", timeout: float = 30, pause: float = 0.0):
    """(iputils, netlab) for the same arguments, one after the other, each PAUSE seconds
    after what ran before."""
    time.sleep(pause)
    theirs = lab.exec(node, "ping", *args, timeout=timeout)
    time.sleep(pause)
    ours = lab.exec(node, netlab_bin(), "ping", *args, timeout=timeout)
    return theirs, ours


def shape(text: str) -> list[str]:
    """The lines without what differs run to run: times, and iputils 20221126's empty
    name in `ping -4 NAME`'s PING and statistics lines."""
    out = []
    for line in text.splitlines():
        line = TIME.sub("time=T ms", line)
        line = re.sub(r"time \d+ms", "time Nms", line)
        line = re.sub(r"rtt min/avg/max/mdev = [\d./]+ ms", "rtt = R ms", line)
        line = re.sub(r"ipg/ewma [\d./]+ ms", "ipg/ewma I ms", line)
        line = re.sub(r"^PING \S* \(", "PING (", line)
        line = re.sub(r"^--- \S* ping statistics ---", "--- ping statistics ---", line)
        out.append(line)
    return out


def flush_pmtu(lab) -> None:
    lab.exec("client", "ip", "route", "flush", "cache", check=True)


# --- line formats ------------------------------------------------------------------------------


@pytest.mark.lab
def test_reply_lines_name_the_host_and_the_statistics_are_iputils(routed):
    theirs, ours = both(routed, "-4", "-c", "2", "-i", "0.2", "server")
    assert ours.returncode == theirs.returncode == 0, ours.stderr
    assert shape(ours.stdout) == shape(theirs.stdout)
    reply = r"^64 bytes from server \(198\.18\.4\.2\): icmp_seq=1 ttl=61 time=\d+\.\d{3} ms$"
    assert re.search(reply, ours.stdout, re.M) and re.search(reply, theirs.stdout, re.M)
    stats = r"^2 packets transmitted, 2 received, 0% packet loss, time \d+ms$"
    assert re.search(stats, ours.stdout, re.M) and re.search(stats, theirs.stdout, re.M)
    # -n: no names; an address typed as such: no names either (iputils).
    for args in (("-n", "server"), (routed.addr("server"),)):
        theirs, ours = both(routed, "-4", "-c", "1", *args)
        assert shape(ours.stdout) == shape(theirs.stdout)
        assert "64 bytes from 198.18.4.2: icmp_seq=1" in ours.stdout


@pytest.mark.lab
@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("-4", "-t", "2", "server"), "From r2 (198.18.2.2) icmp_seq=1 Time to live exceeded"),
        (("198.18.70.1",), "From 198.18.1.1 icmp_seq=1 Destination Host Unreachable"),
        (("198.18.71.1",), "From 198.18.1.1 icmp_seq=1 Packet filtered"),
        (("198.18.99.1",), "From 198.18.2.2 icmp_seq=1 Destination Net Unreachable"),
        (("2001:db8:99::1",), "From 2001:db8:2::2 icmp_seq=1 Destination unreachable: No route"),
        (
            ("-6", "-t", "2", "server"),
            "From r2 (2001:db8:2::2) icmp_seq=1 Time exceeded: Hop limit",
        ),
    ],
)
def test_icmp_errors_in_iputils_words(routed, args, line):
    # A router's "no route" answers share a token bucket per source with its other ICMP
    # errors (the kernel's ip_error: one a second once the burst of 5 is spent), and
    # r2's "time exceeded" empties it: each tool gets r2's answer a second apart.
    pause = 1.05 if "198.18.99.1" in args else 0.0
    theirs, ours = both(routed, "-c", "1", "-W", "2", *args, pause=pause)
    assert ours.returncode == theirs.returncode == 1
    assert line in theirs.stdout.splitlines(), theirs.stdout  # the peer says so
    assert line in ours.stdout.splitlines(), ours.stdout
    stats = r"^1 packets transmitted, 0 received, \+1 errors, 100% packet loss, time \d+ms$"
    assert re.search(stats, ours.stdout, re.M) and re.search(stats, theirs.stdout, re.M)
    assert ours.stdout.endswith("\n\n") and theirs.stdout.endswith("\n\n")  # no rtt line


# --- options -----------------------------------------------------------------------------------


@pytest.mark.lab
def test_pattern_and_tos_are_in_the_packet(routed, tmp_path):
    args = ("-4", "-n", "-c", "2", "-i", "0.2", "-p", "ff", "-Q", "0x10", "server")
    theirs, ours = both(routed, *args)
    assert ours.stdout.splitlines()[0] == theirs.stdout.splitlines()[0] == "PATTERN: 0xff"
    assert shape(ours.stdout) == shape(theirs.stdout)
    path = f"/tmp/netlab-pinghab-{tmp_path.name}.pcapng"
    try:
        out = routed.exec("client", netlab_bin(), "ping", *args, "--write", path)
        assert out.returncode == 0, out.stderr
        fields = subprocess.run(["tshark", "-r", path, "-Y", "icmp.type == 8", "-T", "fields",
                                 "-e", "ip.dsfield", "-e", "data.data"], capture_output=True,
                                text=True, check=True).stdout.split()  # fmt: skip
    finally:
        subprocess.run(["rm", "-f", path], check=False)
    assert fields[0::2] == ["0x10", "0x10"]  # -Q 0x10 in the type-of-service byte
    for data in fields[1::2]:  # after the timeval (tshark shows its first 8 bytes apart)
        assert data.endswith("ff" * 40) and not data.endswith("ff" * 41)


@pytest.mark.lab
def test_ident_is_the_one_asked_for(routed, tmp_path):
    theirs, ours = both(routed, "-4", "-n", "-c", "2", "-i", "0.2", "-e", "4660", "server")
    assert shape(ours.stdout) == shape(theirs.stdout) and ours.returncode == 0
    path = f"/tmp/netlab-pinghab-e-{tmp_path.name}.pcapng"
    try:
        routed.exec("client", netlab_bin(), "ping", "-c", "2", "-i", "0.2", "-e", "4660",
                    "--write", path, "server", check=True)  # fmt: skip
        idents = subprocess.run(["tshark", "-r", path, "-Y", "icmp", "-T", "fields", "-e",
                                 "icmp.ident"], capture_output=True, text=True,
                                check=True).stdout.split()  # fmt: skip
    finally:
        subprocess.run(["rm", "-f", path], check=False)
    assert len(idents) == 4 and set(idents) == {"4660"}  # requests and replies


@pytest.mark.lab
def test_flood_prints_dots_and_backspaces(routed):
    theirs, ours = both(routed, "-4", "-c", "20", "-f", "server")
    assert ours.returncode == theirs.returncode == 0
    for out in (theirs.stdout, ours.stdout):
        body = out.split("\n", 1)[1]  # after the PING line
        dots = body.split("\n", 1)[0]  # one line of dots, each rubbed out by its reply
        assert dots == ".\b \b" * 20, repr(dots)
        assert re.search(r"^20 packets transmitted, 20 received, 0% packet loss", body, re.M)
        assert re.search(r"^rtt min/avg/max/mdev = \S+ ms, ipg/ewma [\d.]+/[\d.]+ ms$", body,
                         re.M)  # fmt: skip
    assert shape(ours.stdout) == shape(theirs.stdout)


@pytest.mark.lab
def test_flood_and_a_big_preload_need_root_as_in_iputils(routed):
    ns = routed.netns("client")
    subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw",
                    "net.ipv4.ping_group_range=0 2147483647"], check=True)  # fmt: skip
    nobody = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
              "--bounding-set=-all")  # fmt: skip
    cases = ((("-f",), "cannot flood; minimal interval allowed for user is 2ms"),
             (("-l", "4"), "cannot set preload to value greater than 3: 4"))  # fmt: skip
    for args, message in cases:
        # iputils keeps its file capability (so the bounding set stays), not uid 0.
        theirs = routed.exec("client", *nobody[:-1], "/usr/bin/ping", "-c", "1", *args, "server")
        ours = routed.exec("client", *nobody, netlab_bin(), "ping", "-c", "1", *args, "server")
        assert theirs.returncode == ours.returncode == 2
        assert message in theirs.stderr and message in ours.stderr, ours.stderr


@pytest.mark.lab
def test_adaptive_and_preload_statistics(routed):
    theirs, ours = both(routed, "-4", "-n", "-c", "5", "-A", "server")
    assert shape(ours.stdout) == shape(theirs.stdout)
    assert "ipg/ewma" in ours.stdout and "ipg/ewma" in theirs.stdout
    # Adaptive: the next request goes as the reply comes, not a second later.
    assert float(re.search(r"time (\d+)ms", ours.stdout)[1]) < 500
    theirs, ours = both(routed, "-4", "-n", "-c", "5", "-i", "0.2", "-l", "3", "server")
    assert shape(ours.stdout) == shape(theirs.stdout)
    assert re.search(r"rtt min/avg/max/mdev = \S+ ms, pipe 3$", ours.stdout, re.M)


@pytest.mark.lab
def test_outstanding_and_audible(routed):
    args = ("-n", "-c", "3", "-i", "0.2", "-W", "1", "-O", "198.18.4.99")
    theirs, ours = both(routed, *args)
    lines = ["no answer yet for icmp_seq=1", "no answer yet for icmp_seq=2"]
    assert [x for x in theirs.stdout.splitlines() if x.startswith("no answer")] == lines
    assert [x for x in ours.stdout.splitlines() if x.startswith("no answer")] == lines
    assert ours.returncode == theirs.returncode == 1
    theirs, ours = both(routed, "-4", "-n", "-c", "2", "-i", "0.2", "-a", "server")
    for out in (theirs.stdout, ours.stdout):
        replies = [x for x in out.splitlines() if " bytes from " in x]
        assert len(replies) == 2 and all(x.endswith(" ms\a") for x in replies), out


@pytest.mark.lab
def test_pmtu_discovery_options_as_iputils(routed):
    # Over the client's 1500-byte link: refused locally, each time.
    flush_pmtu(routed)
    theirs, ours = both(routed, "-4", "-n", "-c", "2", "-i", "0.2", "-M", "do", "-s", "2000",
                        "server")  # fmt: skip
    assert ours.returncode == theirs.returncode == 1
    for out in (theirs, ours):
        assert out.stderr.count("local error: message too long, mtu=1500") == 2, out.stderr
        assert "2 packets transmitted, 0 received, +2 errors, 100% packet loss" in out.stdout
    # Fits the first link, not r2–r3's 1400: r2 says so once, then the kernel knows.
    results = []
    for tool in ("ping", netlab_bin()):
        flush_pmtu(routed)
        cmd = [tool] if tool == "ping" else [tool, "ping"]
        results.append(routed.exec("client", *cmd, "-4", "-n", "-c", "3", "-i", "0.2", "-M",
                                   "do", "-s", "1450", "server"))  # fmt: skip
    for out in results:
        assert "From 198.18.2.2 icmp_seq=1 Frag needed and DF set (mtu = 1400)" in out.stdout
        assert out.stderr.count("local error: message too long, mtu=1400") == 2, out.stderr
        assert "3 packets transmitted, 0 received, +3 errors" in out.stdout
    # dont: fragmented from the start; want: DF until r2's answer, then fragmented.
    for mode, received in (("dont", 3), ("want", 2)):
        got = []
        for tool in ("ping", netlab_bin()):
            flush_pmtu(routed)
            cmd = [tool] if tool == "ping" else [tool, "ping"]
            out = routed.exec("client", *cmd, "-4", "-n", "-c", "3", "-i", "0.2", "-M", mode,
                              "-s", "1450", "server")  # fmt: skip
            got.append(shape(out.stdout))
            assert f"3 packets transmitted, {received} received" in out.stdout, out.stdout
        assert got[0] == got[1]
    flush_pmtu(routed)


@pytest.mark.lab
def test_dontroute_reaches_only_on_link_hosts(routed):
    theirs, ours = both(routed, "-4", "-n", "-c", "2", "-i", "0.2", "-r", "r1")
    assert ours.returncode == theirs.returncode == 0
    assert shape(ours.stdout) == shape(theirs.stdout)
    theirs, ours = both(routed, "-4", "-n", "-c", "1", "-W", "1", "-r", "server")
    assert ours.returncode == theirs.returncode == 1  # asked for on the link: nobody there
    assert shape(ours.stdout) == shape(theirs.stdout)


@pytest.mark.lab
def test_broadcast_needs_b(lan):
    theirs, ours = both(lan, "-c", "1", "198.18.0.255", node="a")
    assert theirs.returncode == ours.returncode == 2
    said = "Do you want to ping broadcast? Then -b. If not, check your local firewall rules"
    assert said in theirs.stderr and said in ours.stderr
    lan.exec("b", "sysctl", "-qw", "net.ipv4.icmp_echo_ignore_broadcasts=0", check=True)
    theirs, ours = both(lan, "-b", "-c", "2", "-i", "0.2", "198.18.0.255", node="a")
    assert theirs.returncode == ours.returncode == 0, ours.stderr
    assert "WARNING: pinging broadcast address" in theirs.stderr
    assert "WARNING: pinging broadcast address" in ours.stderr
    assert shape(ours.stdout) == shape(theirs.stdout)
    assert "64 bytes from 198.18.0.20: icmp_seq=2 ttl=64" in ours.stdout


# --- how a run ends --------------------------------------------------------------------------


@pytest.mark.lab
def test_deadline_with_and_without_count(routed):
    # -w and -c: requests go on until COUNT replies or the deadline: too few → exit 1.
    theirs, ours = both(routed, "-4", "-n", "-c", "10", "-i", "0.2", "-w", "1", "server")
    assert theirs.returncode == ours.returncode == 1
    for out in (theirs.stdout, ours.stdout):
        sent = int(re.search(r"(\d+) packets transmitted", out)[1])
        assert 4 <= sent <= 6, out
    # -w alone (no count): runs until the deadline, exit 0.
    theirs, ours = both(routed, "-4", "-n", "-i", "0.2", "-w", "1", "server")
    assert theirs.returncode == ours.returncode == 0
    assert re.search(r"^[4-6] packets transmitted, [4-6] received", ours.stdout, re.M)


def _interrupted(lab, argv: list[str], after: float) -> subprocess.CompletedProcess:
    from netlab.lab import engine

    proc = subprocess.Popen(engine.exec_argv(lab.book, "client", argv), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        time.sleep(after)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


@pytest.mark.lab
def test_without_count_it_runs_until_ctrl_c(routed):
    theirs = _interrupted(routed, ["ping", "-4", "-n", "-i", "0.2", "server"], 1.0)
    ours = _interrupted(routed, [netlab_bin(), "ping", "-4", "-n", "-i", "0.2", "server"], 1.5)
    for out in (theirs, ours):
        replies = [x for x in out.stdout.splitlines() if " bytes from " in x]
        assert len(replies) >= 4, out.stdout  # beyond netlab's old default of 4 requests
        assert re.search(r"^\d+ packets transmitted, \d+ received, 0% packet loss", out.stdout,
                         re.M)  # fmt: skip
        assert out.stdout.rstrip("\n").splitlines()[-1].startswith("rtt min/avg/max/mdev")
    assert theirs.returncode == 0  # iputils: Ctrl-C is its normal end
    assert ours.returncode == 130  # netlab's contract (design.md §4): interrupted


def test_bad_option_values_are_refused_as_iputils():
    require_tool("ping")
    cases = [(("-Q", "300"), "the decimal value of TOS bits must be in range 0-255: 300"),
             (("-Q", "zz"), "bad TOS value: zz"),
             (("-p", "zz"), "patterns must be specified as hex digits: zz")]  # fmt: skip
    for args, message in cases:
        theirs = subprocess.run(["ping", "-c", "1", *args, "127.0.0.1"], capture_output=True,
                                text=True, timeout=10)  # fmt: skip
        ours = subprocess.run([netlab_bin(), "ping", "-c", "1", *args, "127.0.0.1"],
                              capture_output=True, text=True, timeout=30)  # fmt: skip
        assert theirs.returncode == ours.returncode == 2
        assert message in theirs.stderr and message in ours.stderr, ours.stderr
        assert ours.stderr.count("\n") == 1


# --- the core with fake time -------------------------------------------------------------------

T = Target("t", "198.18.9.9", 4, "198.18.9.1")


def _reply(seq: int, ts: int, ident: int = 7) -> LinkFrame:
    from scapy.layers.inet import ICMP, IP

    data = bytes(IP(src=T.addr, dst=T.src) / ICMP(type=0, id=ident, seq=seq) / (b"x" * 56))
    return LinkFrame(data, ts, 101)


def test_core_preload_sends_a_burst_then_one_per_interval():
    core = EchoCore([T], ident=7, count=10, interval=1.0, preload=3)
    assert len(core.start(0)) == 3
    assert core.on_timer(NS // 2) == [] and len(core.on_timer(NS)) == 1


def test_core_flood_sends_on_each_reply_and_at_100_per_second_without():
    core = EchoCore([T], ident=7, count=5, interval=0.0, flood=True)
    assert len(core.start(0)) == 1
    assert core.deadline() == 10_000_000  # nothing answered: the next in 10 ms
    assert len(core.on_packet(_reply(1, 50_000), 50_000)) == 1  # answered: the next at once
    assert [type(e) for e in core.pop_events()] == [Sent, Reply, Sent]


def test_core_adaptive_interval_follows_the_round_trip():
    core = EchoCore([T], ident=7, count=3, interval=1.0, adaptive=True)
    core.start(0)
    # A 3 ms round trip: the interval is now 3 ms, so the next request goes at once.
    assert len(core.on_packet(_reply(1, 3_000_000), 3_000_000)) == 1
    assert core.deadline() == 6_000_000


def test_core_without_count_goes_on_and_with_deadline_ends_at_count_answers():
    core = EchoCore([T], ident=7, count=None, interval=1.0, timeout=2.0)
    core.start(0)
    for i in range(1, 50):
        core.on_timer(i * NS)
    assert not core.done() and core.states[T.addr].sent == 50
    core = EchoCore([T], ident=7, count=2, interval=1.0, deadline=10.0)
    core.start(0)
    core.on_timer(NS)
    core.on_timer(2 * NS)  # no answers yet: with -w, a third request goes
    assert core.states[T.addr].sent == 3
    core.on_packet(_reply(2, 2 * NS + 1), 2 * NS + 1)
    core.on_packet(_reply(3, 2 * NS + 2), 2 * NS + 2)
    assert core.done()  # two answers: COUNT


def test_core_outstanding_and_pattern():
    core = EchoCore([T], ident=7, count=3, interval=1.0, outstanding=True, pattern=b"\xab")
    (first,) = core.start(0)
    assert first.data[-40:] == b"\xab" * 40  # after the 16-byte timeval
    core.on_timer(NS)
    assert [(type(e), e.seq) for e in core.pop_events()] == [(Outstanding, 1)]
    assert echo_payload(20, 0, b"\x01\x02")[16:] == b"\x01\x02\x01\x02"


def test_core_summary_has_pipe_and_local_error_after_learnt_mtu():
    from scapy.layers.inet import ICMP, IP

    target = Target("t", "198.18.9.9", 4, "198.18.9.1", mtu=1500, link_mtu=1500)
    core = EchoCore([target], ident=7, count=2, interval=1.0, size=1450, pmtudisc="do")
    (send,) = core.start(0)
    quoted = send.data[:28]
    err = IP(src="198.18.2.2", dst=target.src) / ICMP(type=3, code=4, nexthopmtu=1400)
    core.on_packet(LinkFrame(bytes(err) + quoted, 5, 101), 5)
    assert core.on_timer(NS) == []  # over the learnt 1400 with DF: not sent
    events = core.pop_events()
    assert [e.type for e in events] == ["error", "local_error", "summary"]
    assert events[0].message == "Frag needed and DF set (mtu = 1400)"
    assert events[1].reason == "message too long, mtu=1400"
    summary = events[-1]
    assert isinstance(summary, Summary) and (summary.transmitted, summary.errors) == (2, 2)
    assert isinstance(events[0], IcmpError)


def test_iputils_words_for_every_unreachable_code():
    assert iputils_error(4, 3, 13) == "Packet filtered"
    assert iputils_error(4, 3, 4, 1400) == "Frag needed and DF set (mtu = 1400)"
    assert iputils_error(4, 3, 99) == "Dest Unreachable, Bad Code: 99"
    assert iputils_error(4, 12, 0, 20 << 24) == "Parameter problem: pointer = 20"
    assert iputils_error(6, 1, 4) == "Destination unreachable: Port unreachable"
    assert iputils_error(6, 2, 0, 1280) == "Packet too big: mtu=1280"
    assert iputils_error(6, 4, 1, 40) == "Parameter problem: Unknown header at 40"


@pytest.mark.lab
def test_requests_carry_df_by_default_as_iputils(routed):
    """Linux's default for iputils' socket is IP_PMTUDISC_WANT: DF on what fits."""
    from netlab.lab import engine

    argv = ["tshark", "-l", "-i", "eth0", "-f", "icmp[0] == 8", "-c", "2", "-T", "fields",
            "-e", "ip.flags.df"]  # fmt: skip
    cap = subprocess.Popen(engine.exec_argv(routed.book, "client", argv),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        time.sleep(2.0)  # tshark's start
        both(routed, "-4", "-n", "-c", "1", "server")
        out, _err = cap.communicate(timeout=20)
    finally:
        if cap.poll() is None:
            cap.kill()
            cap.wait()
    assert out.split() == ["1", "1"]  # iputils' request, then netlab's
