"""netlab ping against the real kernel stack in labs, compared with iputils ping."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from netlab.core.echo import EchoCore, IcmpError, Reply, Summary, Target, Timeout
from netlab.wire.link import LinkFrame
from tests.conftest import netlab_bin
from tests.labfixtures import warm_neighbours

NS = 1_000_000_000


def ping(routed, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return routed.exec("client", netlab_bin(), "ping", *args, timeout=timeout)


def ndjson(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


# --- against the kernel in the routed lab ---------------------------------------------------


@pytest.fixture
def routed_lab(lab):
    # A fresh routed lab per test: it comes up in a fraction of a second.
    return lab("routed", tools=("ping",))


@pytest.mark.lab
def test_replies_match_iputils(routed_lab):
    ours = ping(routed_lab, "-c", "3", "-i", "0.2", "--json", "server")
    assert ours.returncode == 0, ours.stderr
    lines = ndjson(ours.stdout)
    replies = [r for r in lines if r["type"] == "reply"]
    summary = lines[-1]
    theirs = routed_lab.exec("client", "ping", "-4", "-n", "-c", "3", "-i", "0.2", "server")
    assert theirs.returncode == 0
    their_ttls = {int(t) for t in re.findall(r"ttl=(\d+)", theirs.stdout)}
    server = routed_lab.addr("server")
    assert [r["seq"] for r in replies] == [1, 2, 3]
    assert {r["addr"] for r in replies} == {server}
    assert {r["ttl"] for r in replies} == their_ttls == {61}  # 64 minus three routers
    assert {r["bytes"] for r in replies} == {64}
    assert all(0 < r["rtt_ms"] < 50 for r in replies)
    assert summary == {**summary, "type": "summary", "sent": 3, "received": 3,
                       "lost": 0, "loss_pct": 0.0}  # fmt: skip
    assert summary["rtt_min_ms"] <= summary["rtt_avg_ms"] <= summary["rtt_max_ms"]


@pytest.mark.lab
def test_text_output_is_iputils_shaped(routed_lab):
    out = ping(routed_lab, "-c", "2", "-i", "0.2", "server")
    assert out.returncode == 0, out.stderr
    server = routed_lab.addr("server")
    assert out.stdout.startswith(f"PING server ({server}) 56(84) bytes of data.")
    # A name was given: the reply names the host too, as iputils (its reverse lookup).
    assert re.search(rf"^64 bytes from server \({server}\): icmp_seq=1 ttl=61 time=[\d.]+ ms$",
                     out.stdout, re.M)  # fmt: skip
    assert "2 packets transmitted, 2 received, 0% packet loss" in out.stdout
    assert re.search(r"^rtt min/avg/max/mdev = [\d.]+/[\d.]+/[\d.]+/[\d.]+ ms$", out.stdout, re.M)


@pytest.mark.lab
def test_ttl_exceeded_names_the_router(routed_lab):
    out = ping(routed_lab, "-c", "1", "-t", "2", "--json", "server")
    assert out.returncode == 1
    errors = [r for r in ndjson(out.stdout) if r["type"] == "error"]
    assert errors and errors[0]["addr"] == routed_lab.addr("r2")  # TTL runs out at r2
    assert (errors[0]["icmp_type"], errors[0]["icmp_code"]) == (11, 0)
    assert errors[0]["reason"] == "Time-to-live exceeded (Time to live exceeded in transit)"


@pytest.mark.lab
def test_unreachable_host_is_reported_by_the_last_router(routed_lab):
    # 198.18.4.99 is on the server's subnet but nobody has it: r3's ARP fails, and
    # r3 says so after ~3 s; the default wait (-W 10, as iputils) must not miss it.
    out = ping(routed_lab, "-c", "1", "--json", "198.18.4.99", timeout=30)
    assert out.returncode == 1
    errors = [r for r in ndjson(out.stdout) if r["type"] == "error"]
    assert errors, out.stdout
    assert errors[0]["addr"] == routed_lab.addr("r3")
    assert (errors[0]["icmp_type"], errors[0]["icmp_code"]) == (3, 1)
    assert "Host unreachable" in errors[0]["reason"]


@pytest.mark.lab
def test_df_over_the_narrow_link_reports_its_mtu(routed_lab):
    # 1472 + 28 = 1500 bytes, but r2-r3 has MTU 1400: r2 answers "fragmentation needed".
    out = ping(routed_lab, "-c", "1", "--df", "-s", "1472", "--json", "server")
    assert out.returncode == 1
    errors = [r for r in ndjson(out.stdout) if r["type"] == "error"]
    assert errors, out.stdout
    assert (errors[0]["icmp_type"], errors[0]["icmp_code"]) == (3, 4)
    assert errors[0]["mtu"] == 1400
    assert errors[0]["addr"] == routed_lab.addr("r2")
    fits = ping(routed_lab, "-c", "1", "--df", "-s", "1372", "server")
    assert fits.returncode == 0, fits.stdout  # 1372 + 28 = 1400 fits


@pytest.mark.lab
@pytest.mark.parametrize("family", [4, 6])
def test_big_pings_are_fragmented_and_answered_like_iputils(routed_lab, family):
    """-s 3000 over 1500-byte links and r2–r3's 1400: netlab cuts the request itself
    (the kernel does not fragment a packet handed to a raw socket whole) and puts the
    fragmented reply back together. IPv6 routers do not fragment: with no path MTU
    learnt yet, r2 answers the first request "packet too big" (and r3 the server's
    first big reply, so that one is lost to both tools); the next ones fit."""

    def flush() -> None:  # forget the path MTUs both ends learnt (the reply's path too)
        for node in ("client", "server"):
            subprocess.run(["ip", "netns", "exec", routed_lab.netns(node), "ip", f"-{family}",
                            "route", "flush", "cache"], check=True)  # fmt: skip

    # Neighbours resolved first, along the whole path: in a fresh lab the first big
    # reply can be lost while a router resolves the next hop (to either tool).
    routed_lab.exec("client", "ping", f"-{family}", "-c", "1", "-W", "2", "server")
    flush()
    args = (f"-{family}", "-c", "3", "-i", "0.2", "-W", "1", "-s", "3000")
    theirs = routed_lab.exec("client", "ping", "-n", *args, "server")
    flush()
    ours = ping(routed_lab, *args, "--json", "server")
    lines = ndjson(ours.stdout)
    replies = [r for r in lines if r["type"] == "reply"]
    errors = [r for r in lines if r["type"] == "error"]
    assert ours.returncode == 0, ours.stdout + ours.stderr
    their_bytes = re.findall(r"^(\d+) bytes from", theirs.stdout, re.M)
    assert {r["bytes"] for r in replies} == {int(b) for b in their_bytes} == {3008}
    assert len(replies) == len(their_bytes), theirs.stdout
    if family == 6:
        assert [(e["seq"], e["addr"], e["mtu"]) for e in errors] == [
            (1, routed_lab.addr("r2", 6), 1400)
        ]
        assert "Packet too big: mtu=1400" in theirs.stdout
    else:
        assert errors == [] and len(replies) == 3
    assert lines[-1]["sent"] == 3


@pytest.mark.lab
def test_quiet_and_timestamps_as_iputils(routed_lab):
    args = ("-4", "-c", "2", "-i", "0.2", "server")
    theirs = routed_lab.exec("client", "ping", "-q", *args).stdout.splitlines()
    ours = ping(routed_lab, "-q", *args).stdout.splitlines()
    assert len(ours) == len(theirs) == 5  # PING line, blank, three of statistics… (iputils)
    assert ours[1] == theirs[1] == "" and ours[2] == "--- server ping statistics ---"
    assert theirs[2].endswith(" ping statistics ---")  # iputils -q leaves the name out here
    stamped = ping(routed_lab, "-D", "-n", *args).stdout.splitlines()
    their_stamped = routed_lab.exec("client", "ping", "-D", "-n", *args).stdout.splitlines()
    pattern = r"^\[\d{10}\.\d{6}\] 64 bytes from [\d.]+: icmp_seq=\d ttl=61 time="
    assert all(re.match(pattern, line) for line in stamped[1:3] + their_stamped[1:3])


@pytest.mark.lab
def test_several_targets_in_parallel(routed_lab):
    out = ping(routed_lab, "-c", "2", "-i", "0.2", "--json", "server", "r1", "198.18.4.99",
               "-W", "1")  # fmt: skip
    summaries = {r["target"]: r for r in ndjson(out.stdout) if r["type"] == "summary"}
    assert set(summaries) == {"server", "r1", "198.18.4.99"}
    assert summaries["server"]["received"] == 2 and summaries["r1"]["received"] == 2
    assert summaries["198.18.4.99"]["received"] == 0
    assert out.returncode == 0  # some target answered


@pytest.mark.lab
def test_explain_names_the_gateway_or_the_target(routed_lab):
    remote = ping(routed_lab, "-c", "1", "--explain", "server")
    assert f"sent to the gateway {routed_lab.addr('r1')}" in remote.stdout
    # A fresh lab: r1 is not in the client's neighbour table, so netlab asks with ARP.
    assert (
        f"ARP: who-has {routed_lab.addr('r1')}? tell {routed_lab.addr('client')}" in remote.stdout
    )
    assert re.search(rf"ARP: {routed_lab.addr('r1')} is-at ([0-9a-f]{{2}}:){{5}}[0-9a-f]{{2}}",
                     remote.stdout)  # fmt: skip
    local = ping(routed_lab, "-c", "1", "--explain", routed_lab.addr("r1"))
    assert "delivered directly (on-link)" in local.stdout
    assert re.search(rf"next hop {routed_lab.addr('r1')} is at ([0-9a-f]{{2}}:){{5}}[0-9a-f]{{2}}",
                     local.stdout)  # fmt: skip


@pytest.mark.lab
def test_explain_runs_neighbour_discovery_for_ipv6_like_ndisc6(lab):
    lan = lab("lan", tools=("ndisc6",))
    b = lan.addr("b", 6)
    theirs = lan.exec("a", "ndisc6", "-1", b, "eth0")
    assert theirs.returncode == 0, theirs.stdout + theirs.stderr
    their_mac = re.search(r"Target link-layer address: (\S+)", theirs.stdout)[1].lower()
    subprocess.run(["ip", "netns", "exec", lan.netns("a"), "ip", "-6", "neigh", "flush", "dev",
                    "eth0"], check=True)  # fmt: skip
    out = lan.exec("a", netlab_bin(), "ping", "-6", "-c", "1", "--explain", "b")
    assert out.returncode == 0, out.stderr
    assert f"NDP: Neighbor Solicitation for {b} from " in out.stdout
    assert "(to ff02::1:ff00:20, 33:33:ff:00:00:20)" in out.stdout
    ours = re.search(rf"NDP: Neighbor Advertisement {re.escape(b)} is at (\S+)  \(", out.stdout)
    assert ours, out.stdout
    assert ours[1] == their_mac  # and not a router: b is a host
    kernel = lan.exec("a", "ip", "-6", "neigh", "show", b).stdout
    assert their_mac in kernel.lower()


@pytest.mark.lab
def test_link_local_target_names_its_interface_like_iputils(lab):
    lan = lab("lan", tools=("ping",))
    shown = lan.exec("b", "ip", "-j", "-6", "addr", "show", "dev", "eth0", "scope", "link")
    (link_local,) = [a["local"] for a in json.loads(shown.stdout)[0]["addr_info"] if "local" in a]
    theirs = lan.exec("a", "ping", "-c", "1", "-W", "2", f"{link_local}%eth0")
    assert theirs.returncode == 0, theirs.stdout
    out = lan.exec("a", netlab_bin(), "ping", "-c", "1", "--json", f"{link_local}%eth0")
    assert out.returncode == 0, out.stderr
    (reply,) = [r for r in ndjson(out.stdout) if r["type"] == "reply"]
    assert reply["addr"] == link_local
    wrong = lan.exec("a", netlab_bin(), "ping", "-c", "1", f"{link_local}%nosuch0")
    assert wrong.returncode == 2 and wrong.stderr.count("\n") == 1


@pytest.mark.lab
def test_write_saves_what_went_over_the_wire(routed_lab, tmp_path):
    path = f"/tmp/netlab-ping-{tmp_path.name}.pcapng"
    out = ping(routed_lab, "-c", "2", "-i", "0.2", "--write", path, "server")
    assert out.returncode == 0
    fields = subprocess.run(["tshark", "-r", path, "-Y", "icmp", "-T", "fields", "-e",
                             "icmp.type", "-e", "icmp.seq"], capture_output=True, text=True,
                            check=True).stdout.split("\n")  # fmt: skip
    assert [f for f in fields if f] == ["8\t1", "0\t1", "8\t2", "0\t2"]
    subprocess.run(["rm", "-f", path], check=False)


@pytest.mark.lab
def test_verbose_shows_each_packet_through_the_dissector(routed_lab):
    out = ping(routed_lab, "-c", "1", "-v", "server")
    assert "Internet Control Message Protocol" in out.stdout
    assert "Type: 8 (Echo (ping) request)" in out.stdout
    assert "Type: 0 (Echo (ping) reply)" in out.stdout


def test_bad_target_is_one_line_exit_2():
    proc = subprocess.run([netlab_bin(), "ping", "-c", "1", "no.such.host.invalid"],
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("netlab: error: cannot resolve")


# --- the core with fake time ----------------------------------------------------------


def _reply_frame(src: str, dst: str, ident: int, seq: int, ts: int, ttl: int = 60) -> LinkFrame:
    from scapy.layers.inet import ICMP, IP
    from scapy.layers.l2 import Ether

    data = bytes(
        Ether() / IP(src=src, dst=dst, ttl=ttl) / ICMP(type=0, id=ident, seq=seq) / (b"x" * 56)
    )
    return LinkFrame(data, ts, 1)


def test_core_timeouts_duplicates_and_summary_with_fake_time():
    target = Target("t", "198.18.9.9", 4, "198.18.9.1")
    core = EchoCore([target], ident=0x1234, count=3, interval=1.0, timeout=2.0)
    t0 = 1_000 * NS
    sends = core.start(t0)
    assert len(sends) == 1 and sends[0].dest == "198.18.9.9"
    core.on_packet(
        _reply_frame("198.18.9.9", "198.18.9.1", 0x1234, 1, t0 + NS // 100), t0 + NS // 100
    )
    core.on_packet(
        _reply_frame("198.18.9.9", "198.18.9.1", 0x1234, 1, t0 + NS // 50), t0 + NS // 50
    )
    core.on_packet(_reply_frame("198.18.9.66", "198.18.9.1", 0x1234, 1, t0), t0)  # not our target
    assert len(core.on_timer(t0 + NS)) == 1  # seq 2
    assert len(core.on_timer(t0 + 2 * NS)) == 1  # seq 3
    core.on_timer(t0 + 5 * NS)  # seq 2 and 3 time out
    events = core.pop_events()
    replies = [e for e in events if isinstance(e, Reply)]
    assert [r.duplicate for r in replies] == [False, True]
    assert abs(replies[0].rtt_ms - 10.0) < 1e-6  # sent at t0 (no capture of the request)
    assert [e.seq for e in events if isinstance(e, Timeout)] == [2, 3]
    summary = next(e for e in events if isinstance(e, Summary))
    assert (summary.transmitted, summary.received, summary.duplicates) == (3, 1, 1)
    assert round(summary.loss_pct, 4) == round(200 / 3, 4)
    assert core.done() and core.deadline() is None


def test_core_matches_icmp_errors_by_the_quoted_request():
    from scapy.layers.inet import ICMP, IP
    from scapy.layers.l2 import Ether

    target = Target("t", "198.18.9.9", 4, "198.18.9.1")
    core = EchoCore([target], ident=7, count=1, timeout=2.0)
    core.start(0)
    quoted = IP(src="198.18.9.1", dst="198.18.9.9", ttl=1) / ICMP(type=8, id=7, seq=1)
    other = IP(src="198.18.9.1", dst="198.18.9.9", ttl=1) / ICMP(type=8, id=8, seq=1)
    for inner in (other, quoted):  # another program's echo: ignored
        data = bytes(
            Ether() / IP(src="198.18.2.2", dst="198.18.9.1") / ICMP(type=11, code=0) / bytes(inner)
        )
        core.on_packet(LinkFrame(data, 5, 1), 5)
    errors = [e for e in core.pop_events() if isinstance(e, IcmpError)]
    assert len(errors) == 1 and errors[0].src == "198.18.2.2" and errors[0].seq == 1
    assert core.done()


def _eth(packet: bytes, ts: int) -> LinkFrame:
    from scapy.layers.l2 import Ether

    data = bytes(Ether(type=0x0800 if packet[0] >> 4 == 4 else 0x86DD)) + packet
    return LinkFrame(data, ts, 1)


def test_core_fragments_a_big_request_and_reassembles_the_reply():
    from scapy.layers.inet import ICMP, IP, fragment

    target = Target("t", "198.18.9.9", 4, "198.18.9.1", mtu=1500)
    core = EchoCore([target], ident=7, count=1, size=3000, timeout=2.0)
    sends = core.start(0)
    assert [len(s.data) for s in sends] == [1500, 1500, 68]  # 3008 ICMP bytes: 1480 + 1480 + 48
    for i, send in enumerate(sends):  # our fragments seen leaving: the first is the send time
        core.on_packet(_eth(send.data, 1_000 + i), 1_000 + i)
    reply = (
        IP(src="198.18.9.9", dst="198.18.9.1", id=99) / ICMP(type=0, id=7, seq=1) / (b"x" * 3000)
    )
    pieces = [bytes(f) for f in fragment(reply, fragsize=1376)]
    for i, piece in enumerate(pieces):
        core.on_packet(_eth(piece, 50_000 + i), 50_000 + i)
    events = core.pop_events()
    (got,) = [e for e in events if isinstance(e, Reply)]
    assert got.size == 3008 and got.seq == 1
    assert got.rtt_ms == pytest.approx((50_000 + len(pieces) - 1 - 1_000) / 1e6)
    assert core.done()


def test_core_df_sends_whole_and_a_packet_too_big_lowers_the_next_fragments():
    from scapy.layers.inet6 import ICMPv6PacketTooBig, IPv6

    target = Target("t", "2001:db8:9::9", 6, "2001:db8:9::1", mtu=1500)
    df = EchoCore([target], ident=7, count=1, size=3000, df=True)
    assert len(df.start(0)) == 1  # --df: never cut (the kernel refuses it: "message too long")
    core = EchoCore([target], ident=7, count=2, size=3000, interval=1.0)
    first = core.start(0)
    assert max(len(s.data) for s in first) == 1496  # a fragment header, 8-byte multiples
    too_big = IPv6(src="2001:db8:2::2", dst="2001:db8:9::1") / ICMPv6PacketTooBig(mtu=1400)
    core.on_packet(_eth(bytes(too_big / first[0].data[:1232]), 10), 10)
    (error,) = [e for e in core.pop_events() if isinstance(e, IcmpError)]
    assert (error.seq, error.mtu, error.src) == (1, 1400, "2001:db8:2::2")
    second = core.on_timer(NS)
    assert len(second) == 3 and max(len(s.data) for s in second) <= 1400


def test_core_a_last_probe_refused_by_the_kernel_still_ends_with_a_summary():
    target = Target("t", "198.18.9.9", 4, "198.18.9.1")
    core = EchoCore([target], ident=7, count=1, size=3000, df=True)
    (send,) = core.start(0)
    core.on_send_error(send, OSError(90, "Message too long"), 0)
    events = core.pop_events()
    assert [e.type for e in events] == ["local_error", "summary"]
    assert (events[-1].transmitted, events[-1].errors) == (1, 1) and core.done()


# --- loss on a lossy link, against iputils on the same link ---------------------------------


@pytest.mark.lab
def test_loss_figure_agrees_with_the_link_and_with_iputils(lab):
    lossy = lab("lossy", tools=("ping",))
    # 20 % lost one way and 10 % the other: 1 - 0.8 * 0.9 = 28 % of round trips fail.
    # 2000 probes: σ ≈ 1.0 point per run, so the issue's ±5 points is a 5σ bound, and
    # two runs differ by more than 5 points about once in 2,000. Both tools run back
    # to back on the same link, each right after resolving the neighbours (the link
    # loses ARP too: a lost exchange would add a burst that is not the link's rate),
    # 10 s each, well within the kernel's 15–45 s of neighbour reachability.
    expected = 28.0
    warm_neighbours(lossy)
    theirs = lossy.exec("client", "ping", "-4", "-q", "-c", "2000", "-i", "0.005", "-W", "1",
                        "server", timeout=120)  # fmt: skip
    their_loss = float(re.search(r"([\d.]+)% packet loss", theirs.stdout).group(1))
    warm_neighbours(lossy)
    ours = lossy.exec("client", netlab_bin(), "ping", "--json", "-c", "2000", "-i", "0.005",
                      "-W", "1", "server", timeout=120)  # fmt: skip
    summary = ndjson(ours.stdout)[-1]
    assert summary["type"] == "summary" and summary["sent"] == 2000
    assert abs(summary["loss_pct"] - expected) <= 5.0, (summary, their_loss)
    assert abs(their_loss - expected) <= 5.0, theirs.stdout
    assert abs(summary["loss_pct"] - their_loss) <= 5.0, (summary, their_loss)


# --- without CAP_NET_RAW: the kernel's unprivileged ICMP socket --------------------------


def _as_nobody(routed, ping_range: str, *args: str) -> subprocess.CompletedProcess:
    ns = routed.netns("client")
    subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw",
                    f"net.ipv4.ping_group_range={ping_range}"], check=True)  # fmt: skip
    return routed.exec("client", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                       "--inh-caps=-all", "--bounding-set=-all", netlab_bin(), "ping", *args,
                       timeout=60)  # fmt: skip


@pytest.mark.lab
def test_unprivileged_user_pings_through_the_icmp_datagram_socket(routed_lab):
    out = _as_nobody(routed_lab, "0 2147483647", "-c", "2", "-i", "0.2", "--json", "server")
    assert out.returncode == 0, out.stderr
    assert "unprivileged ICMP socket" in out.stderr
    lines = ndjson(out.stdout)
    replies = [r for r in lines if r["type"] == "reply"]
    assert [r["seq"] for r in replies] == [1, 2] and {r["ttl"] for r in replies} == {61}
    assert all(r["rtt_ms"] > 0 for r in replies), replies  # send time taken before sendto()
    assert lines[-1]["received"] == 2
    # ICMP errors arrive through IP_RECVERR, still by name with the router.
    ttl = _as_nobody(routed_lab, "0 2147483647", "-c", "1", "-t", "2", "--json", "server")
    errors = [r for r in ndjson(ttl.stdout) if r["type"] == "error"]
    assert errors and errors[0]["addr"] == routed_lab.addr("r2") and errors[0]["icmp_type"] == 11


@pytest.mark.lab
def test_unprivileged_user_without_ping_group_range_gets_exit_3(routed_lab):
    out = _as_nobody(routed_lab, "1 0", "-c", "1", "server")
    assert out.returncode == 3, out.stderr
    assert out.stderr.count("\n") == 1 and "CAP_NET_RAW" in out.stderr


@pytest.mark.lab
def test_ipv6_echo_and_hop_limit_exceeded(routed_lab):
    out = ping(routed_lab, "-6", "-c", "2", "-i", "0.2", "--json", "server")
    assert out.returncode == 0, out.stderr
    lines = ndjson(out.stdout)
    server6 = routed_lab.addr("server", 6)
    assert {r["addr"] for r in lines if r["type"] == "reply"} == {server6}
    assert {r["ttl"] for r in lines if r["type"] == "reply"} == {61}
    hop = ping(routed_lab, "-6", "-c", "1", "-t", "2", "--json", "server")
    errors = [r for r in ndjson(hop.stdout) if r["type"] == "error"]
    assert errors and errors[0]["addr"] == routed_lab.addr("r2", 6)
    assert (errors[0]["icmp_type"], errors[0]["icmp_code"]) == (3, 0)  # ICMPv6 Time Exceeded
