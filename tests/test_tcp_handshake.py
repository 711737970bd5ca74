"""netlab tcp-handshake: the RFC 9293 client core with fake time, and real handshakes in labs."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import time

import pytest

from netlab.core import tcp_handshake as th
from netlab.core.tcp_handshake import Conn, Note, TcpHandshakeCore, parse_frame
from netlab.wire.link import LinkFrame
from tests.conftest import netlab_bin

NS = 1_000_000_000
ACK, FIN, RST, SYN = th.ACK, th.FIN, th.RST, th.SYN
SYN_SENT, ESTABLISHED, CLOSED, CLOSING = th.SYN_SENT, th.ESTABLISHED, th.CLOSED, th.CLOSING
FIN_WAIT_1, FIN_WAIT_2, TIME_WAIT = th.FIN_WAIT_1, th.FIN_WAIT_2, th.TIME_WAIT
CLOSE_WAIT, LAST_ACK = th.CLOSE_WAIT, th.LAST_ACK
CONN = Conn(4, "198.18.1.2", 40000, "198.18.4.2", 7, 1460)
ISN = 1000
IRS = 5000


# --- the core with fake time ----------------------------------------------------------------


def _frame(flags: int, seq: int, ack: int = 0, ts: int = 0, *, out: bool = False,
           options=None, payload: bytes = b"", win: int = 65160) -> LinkFrame:  # fmt: skip
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    c = CONN
    ip = IP(src=c.src, dst=c.dst) if out else IP(src=c.dst, dst=c.src)
    sport, dport = (c.sport, c.dport) if out else (c.dport, c.sport)
    tcp = TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack, window=win,
              options=options or [])  # fmt: skip
    data = bytes(Ether() / ip / tcp / payload)
    return LinkFrame(data, ts, 1)


def _sent(sends):
    return [parse_frame(LinkFrame(s.data, 0, 101), 4)
            for s in sends]  # fmt: skip


def _core(**kw) -> TcpHandshakeCore:
    return TcpHandshakeCore(CONN, isn=ISN, ts_base=100, **kw)


def _established(**kw) -> tuple[TcpHandshakeCore, list]:
    core = _core(**kw)
    syn = core.start(0)
    synack = _frame(SYN | ACK, IRS, ISN + 1, NS // 1000,
                    options=[("MSS", 1400), ("Timestamp", (77, 100)), ("WScale", 10)])  # fmt: skip
    return core, _sent(syn) + _sent(core.on_packet(synack, NS // 1000))


def test_syn_has_linux_options_and_is_retransmitted_with_backoff():
    core = _core(tries=3)
    [syn] = _sent(core.start(0))
    assert syn.flags == SYN and syn.seq == ISN
    names = [name for name, _v in syn.options]
    assert names == ["MSS", "SAckOK", "Timestamp", "NOP", "WScale"]
    assert dict(syn.options)["MSS"] == 1460 and dict(syn.options)["WScale"] == 7
    assert core.deadline() == NS  # 1 s
    assert core.on_timer(NS - 1) == []
    assert [s.flags for s in _sent(core.on_timer(NS))] == [SYN]
    assert core.deadline() == 3 * NS  # then 2 s
    assert [s.seq for s in _sent(core.on_timer(3 * NS))] == [ISN]
    assert core.deadline() == 7 * NS  # then 4 s
    assert core.on_timer(7 * NS) == [] and core.done()
    assert core.outcome.result == "filtered" and "3 SYN" in core.outcome.reason
    assert [r.note for r in core.segments()] == ["", "retransmission 2/3", "retransmission 3/3"]


def test_synack_to_a_retransmitted_syn_gives_the_rtt_of_that_syn():
    core = _core()
    core.start(0)
    core.on_timer(NS)  # second SYN at 1 s, TSval base + 1000 ms + 1
    second = core.segments()[1].tsval
    synack = _frame(SYN | ACK, IRS, ISN + 1, NS + 5_000_000, options=[("Timestamp", (9, second))])
    core.on_packet(synack, NS + 5_000_000)
    assert core.outcome.result == "open" and abs(core.outcome.rtt_ms - 5.0) < 1e-9


def test_open_port_handshake_then_orderly_close():
    core, sent = _established()
    assert [s.flags for s in sent] == [SYN, ACK, FIN | ACK]
    ack = sent[1]
    assert (ack.seq, ack.ack) == (ISN + 1, IRS + 1)
    assert ack.win == 64240 >> 7  # window scaling agreed: scaled by our factor
    assert dict(ack.options)["Timestamp"][1] == 77  # echoes the server's TSval
    assert core.state == FIN_WAIT_1 and core.outcome.result == "open"
    core.on_packet(_frame(ACK, IRS + 1, ISN + 2, 2), 2)
    assert core.state == FIN_WAIT_2
    [last] = _sent(core.on_packet(_frame(FIN | ACK, IRS + 1, ISN + 2, 3), 3))
    assert (last.flags, last.seq, last.ack) == (ACK, ISN + 2, IRS + 2)
    assert core.state == TIME_WAIT and not core.done()
    core.on_timer(core.deadline())
    assert core.done()
    assert core.states == [SYN_SENT, ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, TIME_WAIT]
    assert core.irs == IRS and core.server_window == 65160


def test_synack_with_an_unexpected_ack_is_answered_with_a_reset():
    core = _core()
    core.start(0)
    [rst] = _sent(core.on_packet(_frame(SYN | ACK, IRS, ISN + 99, 1), 1))
    # RFC 9293 §3.10.7.3: <SEQ=SEG.ACK><CTL=RST>, and the SYN stays outstanding.
    assert (rst.flags, rst.seq) == (RST, ISN + 99)
    assert core.state == SYN_SENT and not core.done() and core.outcome is None
    sends = _sent(core.on_packet(_frame(SYN | ACK, IRS, ISN + 1, 2), 2))
    assert sends[0].flags == ACK and core.outcome.result == "open"


def test_reset_in_syn_sent_means_closed_only_when_it_acks_our_syn():
    core = _core()
    core.start(0)
    assert core.on_packet(_frame(RST, 0, 0, 1), 1) == []  # no ACK bit: dropped
    assert core.on_packet(_frame(RST | ACK, 0, ISN + 7, 1), 1) == []  # wrong ACK: dropped
    assert core.state == SYN_SENT and not core.done()
    core.on_packet(_frame(RST | ACK, 0, ISN + 1, 2), 2)
    assert core.done() and core.state == CLOSED and core.outcome.result == "closed"


def _to_state(state: str) -> TcpHandshakeCore:
    if state == SYN_SENT:
        core = _core()
        core.start(0)
        return core
    core, _ = _established(hold=5.0)
    if state == ESTABLISHED:
        return core
    if state in (CLOSE_WAIT, LAST_ACK):
        core.on_packet(_frame(FIN | ACK, IRS + 1, ISN + 1, 2), 2)  # we answer FIN at once
        assert core.state == LAST_ACK
        return core
    core.on_timer(core.deadline())  # the hold ends: FIN
    assert core.state == FIN_WAIT_1
    if state == FIN_WAIT_2:
        core.on_packet(_frame(ACK, IRS + 1, ISN + 2, 3), 3)
    elif state == CLOSING:
        core.on_packet(_frame(FIN | ACK, IRS + 1, ISN + 1, 3), 3)
    elif state == TIME_WAIT:
        core.on_packet(_frame(FIN | ACK, IRS + 1, ISN + 2, 3), 3)
    assert core.state == state
    return core


@pytest.mark.parametrize("state", [SYN_SENT, ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSING,
                                   TIME_WAIT, LAST_ACK])  # fmt: skip
def test_reset_in_every_state(state):
    core = _to_state(state)
    if state == SYN_SENT:
        core.on_packet(_frame(RST | ACK, 0, ISN + 1, 9), 9)
        assert core.outcome.result == "closed"
    else:
        rcv_nxt = core.rcv_nxt
        # Out of window: ignored. In window but not exact: a challenge ACK (RFC 5961).
        assert core.on_packet(_frame(RST, rcv_nxt + 10_000_000, 0, 7), 7) == []
        if state != TIME_WAIT:
            [challenge] = _sent(core.on_packet(_frame(RST, rcv_nxt + 100, 0, 8), 8))
            assert challenge.flags == ACK and challenge.ack == rcv_nxt
            assert core.state == state and not core.done()
        core.on_packet(_frame(RST, rcv_nxt, 0, 9), 9)
        assert core.outcome.result == "open"  # the handshake had completed
    assert core.state == CLOSED and core.done() and core.deadline() is None


def test_simultaneous_close_goes_through_closing():
    core = _to_state(FIN_WAIT_1)
    # The server's FIN crosses ours: it does not acknowledge our FIN yet.
    [ack] = _sent(core.on_packet(_frame(FIN | ACK, IRS + 1, ISN + 1, 3), 3))
    assert (ack.flags, ack.ack) == (ACK, IRS + 2) and core.state == CLOSING
    assert core.on_packet(_frame(ACK, IRS + 2, ISN + 2, 4), 4) == []
    assert core.state == TIME_WAIT
    core.on_timer(core.deadline())
    assert core.done()
    assert core.states[-4:] == [ESTABLISHED, FIN_WAIT_1, CLOSING, TIME_WAIT]


def test_server_closes_first_close_wait_last_ack():
    core = _to_state(LAST_ACK)
    assert core.states[-3:] == [ESTABLISHED, CLOSE_WAIT, LAST_ACK]
    core.on_packet(_frame(ACK, IRS + 2, ISN + 2, 5), 5)
    assert core.state == CLOSED and core.done()


def test_lost_fin_is_retransmitted_and_a_retransmitted_fin_is_acked_again():
    core = _to_state(FIN_WAIT_1)
    [again] = _sent(core.on_timer(core.deadline()))
    assert again.flags == FIN | ACK and again.seq == ISN + 1
    core.on_packet(_frame(FIN | ACK, IRS + 1, ISN + 2, 3), 3)
    assert core.state == TIME_WAIT
    [dup] = _sent(core.on_packet(_frame(FIN | ACK, IRS + 1, ISN + 2, 4), 4))  # our ACK was lost
    assert (dup.flags, dup.ack) == (ACK, IRS + 2) and core.state == TIME_WAIT


def test_time_wait_is_waited_out_then_closed_and_a_retransmitted_fin_restarts_it():
    core, _ = _established(time_wait=60.0)
    core.on_packet(_frame(ACK, IRS + 1, ISN + 2, 2), 2)
    core.on_packet(_frame(FIN | ACK, IRS + 1, ISN + 2, 3), 3)
    assert core.state == TIME_WAIT and core.deadline() == 3 + 60 * NS
    assert core.on_timer(3 + NS) == [] and not core.done()  # not the 0.5 s linger
    [dup] = _sent(core.on_packet(_frame(FIN | ACK, IRS + 1, ISN + 2, 10 * NS), 10 * NS))
    assert (dup.flags, dup.ack) == (ACK, IRS + 2) and core.state == TIME_WAIT
    assert core.deadline() == 70 * NS  # RFC 9293: the 2×MSL timeout restarts
    assert core.on_timer(60 * NS + 3) == [] and not core.done()
    core.on_timer(70 * NS)
    assert core.done() and core.state == CLOSED
    assert core.states[-2:] == [TIME_WAIT, CLOSED]
    last = core.timeline[-1]
    assert isinstance(last, Note) and last.state == CLOSED and "2×MSL" in last.text


def test_without_time_wait_the_run_ends_in_time_wait_after_the_linger():
    core, _ = _established()
    core.on_packet(_frame(ACK, IRS + 1, ISN + 2, 2), 2)
    core.on_packet(_frame(FIN | ACK, IRS + 1, ISN + 2, 3), 3)
    assert core.deadline() == 3 + NS // 2
    core.on_timer(core.deadline())
    assert core.done() and core.state == TIME_WAIT


def test_time_wait_takes_an_optional_number_of_seconds():
    from netlab.cli.tcp_handshake import tcp_handshake

    def parsed(*args: str) -> float | None:
        ctx = tcp_handshake.make_context("tcp-handshake", list(args))
        return ctx.params["time_wait"]

    assert parsed("server", "7") is None
    assert parsed("--time-wait", "server", "7") == 60.0  # the default, not SECONDS=server
    assert parsed("server", "7", "--time-wait") == 60.0
    assert parsed("--time-wait", "--json", "server", "7") == 60.0
    assert parsed("--time-wait", "2.5", "server", "7") == 2.5
    assert parsed("--time-wait=1", "server", "7") == 1.0
    ctx = tcp_handshake.make_context("tcp-handshake", ["--send", "--time-wait", "server", "7"])
    assert ctx.params["send_text"] == "--time-wait" and ctx.params["time_wait"] is None


def test_rst_option_closes_with_a_reset():
    core, sent = _established(reset=True)
    assert [s.flags for s in sent] == [SYN, ACK, RST | ACK]
    assert sent[2].seq == ISN + 1 and core.state == CLOSED and core.done()


def test_icmp_unreachable_is_filtered_by_name():
    from scapy.layers.inet import ICMP, IP, TCP
    from scapy.layers.l2 import Ether

    core = _core()
    core.start(0)
    quoted = IP(src=CONN.src, dst=CONN.dst) / TCP(sport=CONN.sport, dport=CONN.dport, flags="S")
    data = bytes(Ether() / IP(src="198.18.3.2", dst=CONN.src) / ICMP(type=3, code=13)
                 / bytes(quoted)[:28])  # fmt: skip
    core.on_packet(LinkFrame(data, 5, 1), 5)
    assert core.done() and core.outcome.result == "filtered"
    assert "Communication administratively filtered" in core.outcome.reason
    assert "198.18.3.2" in core.outcome.reason
    assert any(isinstance(r, Note) for r in core.timeline)


def test_our_segments_get_the_kernel_time_when_seen_leaving():
    core = _core()
    core.start(10)
    core.on_packet(_frame(SYN, ISN, 0, 50, out=True), 60)
    assert core.segments()[0].ts_ns == 50 and core.segments()[0].seen and core.t0 == 50


def _with_data(data: bytes, synack_win: int = 65160) -> tuple[TcpHandshakeCore, list]:
    core = _core(data=data)
    core.start(0)
    synack = _frame(SYN | ACK, IRS, ISN + 1, 1, win=synack_win,
                    options=[("MSS", 1400), ("Timestamp", (77, 100)), ("WScale", 2)])  # fmt: skip
    return core, _sent(core.on_packet(synack, 1))


def test_data_goes_in_mss_segments_within_the_window_then_the_close():
    core, sent = _with_data(bytes(range(256)) * 20, synack_win=3000)  # 5120 bytes
    # ACK, then 3000 bytes of window: the MSS 1400 less 12 bytes of timestamps = 1388.
    assert [(s.flags, s.seq - ISN, s.length) for s in sent] == [
        (ACK, 1, 0), (ACK, 1, 1388), (ACK, 1389, 1388), (ACK, 2777, 224)]  # fmt: skip
    assert b"".join(s.payload for s in sent) == core.data[:3000]
    assert core.state == ESTABLISHED and core.deadline() == 1 + NS  # the retransmission timer
    # The first segment is acknowledged and the window (750 << 2) opens: 1388 more bytes.
    more = _sent(core.on_packet(_frame(ACK, IRS + 1, ISN + 1389, 2, win=750), 2))
    assert [(s.seq - ISN, s.length) for s in more] == [(3001, 1388)]
    # The server's data (an echo) is acknowledged at once; the rest of ours follows.
    echo = _frame(ACK | th.PSH, IRS + 1, ISN + 4389, 3, payload=b"hi", win=2000)
    sent = _sent(core.on_packet(echo, 3))
    assert (sent[0].flags, sent[0].length, sent[0].ack) == (ACK, 0, IRS + 3)
    assert [(s.flags, s.seq - ISN, s.length) for s in sent[1:]] == [(th.PSH | ACK, 4389, 732)]
    assert bytes(core.received) == b"hi" and core.state == ESTABLISHED
    # Everything acknowledged: the orderly close as without data.
    [fin] = _sent(core.on_packet(_frame(ACK, IRS + 3, ISN + 5121, 4), 4))
    assert (fin.flags, fin.seq) == (FIN | ACK, ISN + 5121) and core.state == FIN_WAIT_1
    rows = core.segments()
    assert sum(r.length for r in rows if r.dir == "out") == 5120
    assert [r.data for r in rows if r.dir == "in" and r.length] == [b"hi"]


def test_lost_data_is_resent_from_snd_una_and_icmp_too_big_shrinks_the_segments():
    from scapy.layers.inet import ICMP, IP

    core, sent = _with_data(b"a" * 3000)
    assert [s.length for s in sent] == [0, 1388, 1388, 224]
    core.on_packet(_frame(ACK, IRS + 1, ISN + 1389, 2), 2)
    [again, *_rest] = _sent(core.on_timer(core.deadline()))
    assert (again.seq, again.length) == (ISN + 1389, 1388)  # go-back-N from SND.UNA
    assert core.segments()[-1].note == "retransmission"
    quoted = build_quoted(again)
    data = bytes(IP(src="198.18.3.1", dst=CONN.src) / ICMP(type=3, code=4, nexthopmtu=1400)
                 / quoted)  # fmt: skip
    smaller = _sent(core.on_packet(LinkFrame(data, 5, 101), 5))
    assert [(s.seq - ISN, s.length) for s in smaller] == [(1389, 1348), (2737, 264)]
    assert core.smss == 1400 - 40 - 12
    [fin] = _sent(core.on_packet(_frame(ACK, IRS + 1, ISN + 3001, 6), 6))
    assert fin.flags == FIN | ACK


def build_quoted(seg) -> bytes:
    from scapy.layers.inet import IP, TCP

    c = CONN
    return bytes(IP(src=c.src, dst=c.dst, len=1500) / TCP(sport=c.sport, dport=c.dport,
                 seq=seg.seq, flags="A"))[:28]  # fmt: skip


# --- against the kernel in the routed lab ---------------------------------------------------


def handshake(lab, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return lab.exec("client", netlab_bin(), "tcp-handshake", *args, timeout=timeout)


def guard_elements(lab, node: str = "client") -> list[str] | None:
    """Elements of netlab's guard sets in NODE, or None when no guard table exists.

    Each run owns its own table `netlab_guard_<pid>` (nft's owner flag).
    """
    tables = lab.exec(node, "nft", "-j", "list", "tables")
    names = [
        item["table"]["name"]
        for item in json.loads(tables.stdout or '{"nftables": []}')["nftables"]
        if "table" in item and item["table"]["name"].startswith("netlab_guard")
    ]
    if not names:
        return None
    elems = []
    for name in names:
        proc = lab.exec(node, "nft", "-j", "list", "table", "inet", name)
        for item in json.loads(proc.stdout or '{"nftables": []}')["nftables"]:
            if "set" in item:
                elems += [json.dumps(e) for e in item["set"].get("elem", [])]
    return elems


class RstWatch:
    """tcpdump in the client namespace, printing every TCP segment with RST set.

    libpcap's tcp[…] reaches into IPv4 only: for IPv6 the flags are read at a fixed
    offset behind the 40-byte header (no extension headers in the lab)."""

    def __init__(self, lab, family: int = 4, iface: str = "any") -> None:
        from netlab.lab import engine

        expr = ("tcp[tcpflags] & tcp-rst != 0" if family == 4
                else "ip6 and tcp and ip6[53] & 0x04 != 0")  # fmt: skip
        argv = engine.exec_argv(lab.book, "client", ["tcpdump", "-i", iface, "-nn", "-l",
                                expr])  # fmt: skip
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)  # fmt: skip
        for _ in range(5):  # "listening on any, …": the capture is ready
            line = self.proc.stderr.readline()
            if "listening" in line:
                break
        assert "listening" in line, line

    def stop(self) -> list[str]:
        time.sleep(0.3)
        self.proc.send_signal(signal.SIGINT)
        out, _err = self.proc.communicate(timeout=10)
        return [line for line in out.splitlines() if line.strip()]


@pytest.fixture
def routed(lab):
    return lab("routed", tools=("nft", "tcpdump", "ss"))


@pytest.mark.lab
def test_handshake_to_the_echo_port_establishes_and_closes_cleanly(routed):
    watch = RstWatch(routed)
    seen: list[str] = []
    ended = threading.Event()

    def look() -> None:
        # The server's established connections, every 0.1 s until the command ends
        # (start-up on a busy machine can take longer than any fixed wait).
        while not ended.wait(0.1):
            seen.append(routed.exec("server", "ss", "-tn", "state", "established").stdout)

    thread = threading.Thread(target=look)
    thread.start()
    try:
        out = handshake(routed, "--json", "--hold", "1.5", "server", "7")
    finally:
        ended.set()
        thread.join()
    rsts = watch.stop()
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    client, sport = routed.addr("client"), doc["sport"]
    assert doc["result"] == "open" and doc["port"] == 7 and doc["src"] == client
    assert 0 < doc["rtt_ms"] < 50
    flags = [(s["dir"], s["flags"]) for s in doc["segments"]]
    assert flags[:3] == [("out", "S"), ("in", "SA"), ("out", "A")]
    assert ("out", "FA") in flags and flags[-1] == ("out", "A")
    assert doc["states"][:3] == ["SYN_SENT", "ESTABLISHED", "FIN_WAIT_1"]
    assert doc["states"][-1] == "TIME_WAIT"
    assert doc["segments"][1]["ack"] == (doc["client_isn"] + 1) % 2**32
    assert doc["segments"][2]["ack"] == (doc["server_isn"] + 1) % 2**32
    # The server saw a real connection from our 4-tuple during the hold …
    ours = re.compile(rf"{re.escape(client)}\]?:{sport}\b")  # [::ffff:a.b.c.d]:port too
    assert any(ours.search(snapshot) for snapshot in seen), seen[-3:]
    # … and after our close it holds nothing of ours (it closed second: LAST_ACK → CLOSED).
    after = routed.exec("server", "ss", "-tan").stdout
    assert not ours.search(after), after
    assert rsts == [], rsts  # the kernel's resets were held off
    assert guard_elements(routed) is None  # element and table removed


@pytest.mark.lab
def test_text_timeline_and_rst_close(routed):
    watch = RstWatch(routed)
    out = handshake(routed, "--rst", "server", "80")
    rsts = watch.stop()
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith(f"TCP handshake to server ({routed.addr('server')}) port 80")
    assert any(" → " in line and " S " in line and "mss 1460,sackOK,TS val" in line
               for line in lines)  # fmt: skip
    assert any(" ← " in line and " SA " in line and "ESTABLISHED" in line for line in lines)
    assert any(" RA " in line and "CLOSED" in line for line in lines)
    assert lines[-1].startswith("port 80 open: handshake RTT ")
    assert len(rsts) == 1 and "Flags [R.]" in rsts[0], rsts  # ours, and only ours
    sport = out.stdout.split(" port ")[2].split()[0]
    assert f":{sport}" not in routed.exec("server", "ss", "-tan").stdout


@pytest.mark.lab
def test_closed_port_is_reported_with_exit_1(routed):
    out = handshake(routed, "--json", "server", "9")
    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    assert doc["result"] == "closed" and doc["server_isn"] is None
    assert [(s["dir"], s["flags"]) for s in doc["segments"]] == [("out", "S"), ("in", "RA")]
    assert doc["states"] == ["SYN_SENT", "CLOSED"]
    assert guard_elements(routed) is None


def _drop_at_server(routed, port: int) -> None:
    script = ("add table inet t\nadd chain inet t in { type filter hook input priority 0; }\n"
              f"add rule inet t in tcp dport {port} drop\n")  # fmt: skip
    routed.exec("server", "nft", "-f", "-", input=script, check=True)


@pytest.mark.lab
def test_ipv6_handshake_closes_cleanly_and_a_closed_port_exits_1(routed):
    watch = RstWatch(routed, family=6, iface="eth0")
    out = handshake(routed, "-6", "--json", "server", "7")
    rsts = watch.stop()
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    client, server = routed.addr("client", 6), routed.addr("server", 6)
    assert (doc["addr"], doc["src"]) == (server, client)
    assert doc["result"] == "open" and 0 < doc["rtt_ms"] < 50
    # The server may ACK our FIN on its own before its FIN (FIN_WAIT_2) or in one segment.
    assert [x for x in doc["states"] if x != "FIN_WAIT_2"] == [
        "SYN_SENT",
        "ESTABLISHED",
        "FIN_WAIT_1",
        "TIME_WAIT",
    ]
    assert "mss 1440" in doc["segments"][0]["options"]  # MTU 1500 less 60 (IPv6 + TCP)
    assert rsts == [], rsts  # the kernel's resets were held off (guard6)
    ours = re.compile(rf"{re.escape(client)}\]?:{doc['sport']}\b")
    assert not ours.search(routed.exec("server", "ss", "-tan").stdout)
    assert guard_elements(routed) is None
    closed = handshake(routed, "-6", "--json", "server", "9")
    assert closed.returncode == 1, closed.stderr
    doc = json.loads(closed.stdout)
    assert doc["result"] == "closed" and doc["states"] == ["SYN_SENT", "CLOSED"]
    assert [(s["dir"], s["flags"]) for s in doc["segments"]] == [("out", "S"), ("in", "RA")]
    assert guard_elements(routed) is None


@pytest.mark.lab
def test_time_wait_is_waited_out_and_ends_in_closed(routed):
    started = time.monotonic()
    out = handshake(routed, "--json", "--time-wait", "1", "server", "7")
    elapsed = time.monotonic() - started
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["result"] == "open" and doc["time_wait_ms"] == 1000.0
    assert [x for x in doc["states"] if x != "FIN_WAIT_2"] == [
        "SYN_SENT",
        "ESTABLISHED",
        "FIN_WAIT_1",
        "TIME_WAIT",
        "CLOSED",
    ]
    assert elapsed >= 1.0
    assert guard_elements(routed) is None
    text = handshake(routed, "--time-wait", "1", "server", "7")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    last = lines[-2]  # then the result line
    assert last.endswith("[CLOSED]") and "TIME_WAIT over" in last, text.stdout
    assert float(last.split()[0]) >= 1000.0  # ms after the first SYN
    assert lines[-1].startswith("port 7 open")


@pytest.mark.lab
def test_dropped_port_is_filtered_after_the_retries(routed):
    _drop_at_server(routed, 80)
    started = time.monotonic()
    out = handshake(routed, "--json", "--tries", "2", "server", "80")
    elapsed = time.monotonic() - started
    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    assert doc["result"] == "filtered" and doc["rtt_ms"] is None
    syns = [s for s in doc["segments"] if s["flags"] == "S"]
    assert len(syns) == 2 and 900 < syns[1]["time_ms"] < 1200  # retransmitted after 1 s
    assert 3.0 <= elapsed < 6.0  # 1 s + 2 s
    assert guard_elements(routed) is None


@pytest.mark.lab
def test_sigint_mid_handshake_leaves_nothing(routed):
    from netlab.lab import engine

    _drop_at_server(routed, 7)
    argv = engine.exec_argv(routed.book, "client", [netlab_bin(), "tcp-handshake", "--json",
                            "--tries", "5", "server", "7"])  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2.0)
    assert guard_elements(routed), "the guard should be in place mid-handshake"
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 130, stderr
    doc = json.loads(stdout)
    assert doc["interrupted"] is True and doc["states"] == ["SYN_SENT"]
    assert guard_elements(routed) is None


@pytest.mark.lab
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_interrupt_during_hold_resets_the_servers_connection(routed, signum):
    """Ctrl-C (or SIGTERM) in ESTABLISHED: we reset the connection, so the server does not
    keep it open (issue 22 item 15), and exit 130 with the timeline."""
    from netlab.lab import engine

    argv = engine.exec_argv(routed.book, "client", [netlab_bin(), "tcp-handshake", "--json",
                            "--hold", "30", "server", "7"])  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def established() -> str:
        return subprocess.run(engine.exec_argv(routed.book, "server", ["ss", "-Htn", "state",
                              "established", "( sport = :7 )"]), capture_output=True,
                              text=True, timeout=10).stdout.strip()  # fmt: skip

    deadline = time.monotonic() + 10
    while not established() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert established(), "the handshake should have completed"
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 130, stderr
    doc = json.loads(stdout)
    assert doc["interrupted"] is True and doc["result"] == "open"
    assert doc["states"][-1] == "CLOSED" and doc["segments"][-1]["flags"] == "RA"
    time.sleep(0.2)
    assert established() == "", "the server still holds the connection"


@pytest.mark.lab
def test_graceful_interrupt_closes_with_fin_and_waits_for_it(routed):
    """--graceful: Ctrl-C closes with FIN, the server's FIN is acknowledged, exit 130; the
    server keeps nothing open (issue 22 item 15's "or FIN with --graceful")."""
    from netlab.lab import engine

    argv = engine.exec_argv(routed.book, "client", [netlab_bin(), "tcp-handshake", "--json",
                            "--graceful", "--hold", "30", "server", "7"])  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        out = subprocess.run(engine.exec_argv(routed.book, "server", ["ss", "-Htn", "state",
                             "established", "( sport = :7 )"]), capture_output=True, text=True,
                             timeout=10).stdout.strip()  # fmt: skip
        if out:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 130, stderr
    doc = json.loads(stdout)
    flags = [s["flags"] for s in doc["segments"]]
    assert "FA" in flags and "R" not in "".join(flags)  # a FIN, no reset
    states = doc["states"]
    assert "FIN_WAIT_1" in states and states[-1] in ("TIME_WAIT", "CLOSED"), states


@pytest.mark.lab
def test_sigkill_leaves_no_rule_set_or_table(routed):
    from netlab.lab import engine

    _drop_at_server(routed, 7)
    argv = engine.exec_argv(routed.book, "client", [netlab_bin(), "tcp-handshake",
                            "--guard-timeout", "3", "--tries", "5", "server", "7"])  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2.0)
    assert guard_elements(routed)
    proc.kill()  # SIGKILL: no cleanup code of ours runs
    proc.wait(timeout=5)
    # The table's owner (nft -i, with a parent-death signal) dies with netlab, and the
    # kernel deletes an owner table with its owner: nothing is left, not even inert.
    deadline = time.monotonic() + 3
    while guard_elements(routed) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert guard_elements(routed) is None


def test_help_names_the_command():
    proc = subprocess.run([netlab_bin(), "tcp-handshake", "--help"], capture_output=True,
                          text=True, timeout=30)  # fmt: skip
    assert proc.returncode == 0 and "--guard-timeout" in proc.stdout


def _echoed(doc) -> bytes:
    """The server's data in sequence order: a segment the client dropped as out of order
    comes again as a retransmission, so arrival order is not the stream's order."""
    chunks: dict[int, bytes] = {}
    for seg in doc["segments"]:
        if seg["dir"] == "in" and seg.get("data"):
            chunks.setdefault(seg["seq"], bytes.fromhex(seg["data"]))
    if not chunks:
        return b""
    seq, out = min(chunks), b""
    while seq in chunks:
        out += chunks[seq]
        seq = (seq + len(chunks[seq])) & 0xFFFFFFFF
    return out


@pytest.mark.lab
def test_send_to_the_echo_port_comes_back_intact(routed):
    out = handshake(routed, "--json", "--send", "hello netlab", "server", "7")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    sent = [s for s in doc["segments"] if s["dir"] == "out" and s["len"]]
    assert [bytes.fromhex(s["data"]) for s in sent] == [b"hello netlab"]
    assert _echoed(doc) == b"hello netlab"
    assert doc["acked_bytes"] == doc["received_bytes"] == 12
    # every incoming data segment is acknowledged by us
    rows = doc["segments"]
    for i, s in enumerate(rows):
        if s["dir"] == "in" and s["len"]:
            assert any(r["dir"] == "out" and r["ack"] == (s["seq"] + s["len"]) % 2**32
                       for r in rows[i + 1 :])  # fmt: skip
    assert doc["states"][-1] == "TIME_WAIT"
    sport = doc["sport"]
    ours = re.compile(rf"{re.escape(routed.addr('client'))}\]?:{sport}\b")
    after = routed.exec("server", "ss", "-tan").stdout
    assert not ours.search(after), after
    assert guard_elements(routed) is None


@pytest.mark.lab
def test_send_file_of_10_kb_arrives_whole(routed, tmp_path):
    payload = bytes((i * 7 + i // 256) & 0xFF for i in range(10_000))
    path = tmp_path / "ten.bin"
    path.write_bytes(payload)
    out = handshake(routed, "--json", "--send-file", str(path), "server", "7")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    mss = int(re.search(r"mss (\d+)", doc["segments"][1]["options"]).group(1))
    sent = [s for s in doc["segments"] if s["dir"] == "out" and s["len"]]
    assert all(s["len"] <= mss for s in sent)
    assert doc["acked_bytes"] == 10_000 and doc["received_bytes"] == 10_000
    assert _echoed(doc) == payload
    assert doc["states"][-1] == "TIME_WAIT"


# --- --connect: a kernel connect() ---------------------------------------------------------


def test_tcp_info_is_read_at_linux_offsets():
    import struct
    import sys

    from netlab.core.tcp_handshake import parse_tcp_info

    scales = (7 << 4 | 10) if sys.byteorder == "little" else (10 << 4 | 7)
    raw = bytearray(104)
    struct.pack_into("=8B", raw, 0, 1, 0, 0, 0, 0, 0x07, scales, 0)
    struct.pack_into("=I", raw, 16, 1448)
    struct.pack_into("=II", raw, 64, 64088, 0)  # tcpi_rcv_ssthresh, tcpi_rtt: not the RTT
    struct.pack_into("=II", raw, 68, 1234, 617)
    info = parse_tcp_info(bytes(raw))
    assert info.rtt_ms == 1.234 and info.rttvar_us == 617
    assert info.options_dict() == {"sack": True, "timestamps": True, "wscale": True,
                                   "snd_wscale": 10, "rcv_wscale": 7, "snd_mss": 1448,
                                   "ecn": False}  # fmt: skip
    struct.pack_into("=8B", raw, 0, 1, 0, 0, 0, 0, 0x02, 0, 0)  # SACK only, no RTT sample
    struct.pack_into("=I", raw, 68, 0)
    info = parse_tcp_info(bytes(raw))
    assert info.rtt_ms is None and info.options_dict()["snd_wscale"] is None


def test_connect_refuses_the_raw_packet_options():
    for args in (["--rst", "server", "7"], ["--send", "x", "server", "7"],
                 ["--time-wait", "1", "server", "7"], ["--ports", "7", "server"]):  # fmt: skip
        proc = subprocess.run([netlab_bin(), "tcp-handshake", "--connect", *args],
                              capture_output=True, text=True, timeout=30)  # fmt: skip
        assert proc.returncode == 2 and "need raw packets" in proc.stderr, proc.stderr


@pytest.mark.lab
def test_connect_open_closed_and_filtered(routed):
    out = handshake(routed, "--connect", "--json", "server", "7")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["mode"] == "connect" and doc["result"] == "open" and doc["errno"] is None
    assert (doc["addr"], doc["src"]) == (routed.addr("server"), routed.addr("client"))
    assert 0 < doc["rtt_ms"] < 50 and doc["connect_ms"] > 0
    opts = doc["options"]
    assert opts["sack"] and opts["timestamps"] and opts["wscale"]
    assert opts["snd_mss"] == 1448  # MSS 1460 less the 12 bytes of timestamps
    assert opts["snd_wscale"] is not None and opts["rcv_wscale"] is not None
    assert guard_elements(routed) is None  # no nftables at all
    closed = handshake(routed, "--connect", "--json", "-6", "server", "9")
    assert closed.returncode == 1, closed.stderr
    doc = json.loads(closed.stdout)
    assert (doc["result"], doc["errno"], doc["rtt_ms"]) == ("closed", "ECONNREFUSED", None)
    assert doc["addr"] == routed.addr("server", 6)
    _drop_at_server(routed, 80)
    started = time.monotonic()
    text = handshake(routed, "--connect", "--tries", "2", "server", "80")
    assert text.returncode == 1, text.stderr
    assert 2.5 < time.monotonic() - started < 6.0  # SYNs at 0 s and 1 s, 3 s in all
    assert text.stdout.splitlines()[-1].startswith("port 80 filtered: ")


@pytest.mark.lab
def test_connect_needs_no_privileges(routed):
    unprivileged = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                    "--inh-caps=-all", "--bounding-set=-all",
                    netlab_bin(), "tcp-handshake")  # fmt: skip
    out = routed.exec("client", *unprivileged, "--connect", "server", "7")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith(f"TCP connect() to server ({routed.addr('server')}) port 7")
    assert re.match(r"port 7 open: handshake RTT \d+\.\d{3} ms \(TCP_INFO\)", lines[-1])
    # Without --connect the same user is refused, and told about --connect.
    raw = routed.exec("client", *unprivileged, "server", "7")
    assert raw.returncode == 3 and "--connect" in raw.stderr, raw.stderr


# --- the SYN scan (--ports) -----------------------------------------------------------------


def test_parse_ports():
    from netlab.core.tcp_scan import parse_ports
    from netlab.errors import InputError

    assert parse_ports("80,22,8000-8002,22") == [22, 80, 8000, 8001, 8002]
    assert parse_ports("http,ssh", {"http": 80, "ssh": 22}) == [22, 80]  # tests/test_tcp_scan.py
    for bad in ("0", "70000", "9-3", "nosuchservice", "1,,2"):
        with pytest.raises(InputError):
            parse_ports(bad)


def test_scan_core_paces_probes_and_tells_open_closed_filtered():
    from scapy.layers.inet import ICMP, IP, TCP

    from netlab.core.tcp_scan import TcpScanCore

    core = TcpScanCore(4, CONN.src, 40000, CONN.dst, [7, 9, 22, 80], isn=ISN, rate=100)
    assert len(core.start(0)) == 1 and core.deadline() == NS // 100  # 100/s: 10 ms apart
    assert len(core.on_timer(NS // 100)) == 1
    core.on_timer(2 * NS // 100)
    core.on_timer(3 * NS // 100)
    assert core.sent == 4

    def answer(port: int, flags: int, ack: int) -> list:
        data = bytes(IP(src=CONN.dst, dst=CONN.src)
                     / TCP(sport=port, dport=40000, flags=flags, seq=IRS, ack=ack))  # fmt: skip
        return _sent(core.on_packet(LinkFrame(data, NS // 10, 101),
                                    NS // 10))  # fmt: skip

    assert answer(7, SYN | ACK, 12345) == []  # not an answer to our SYN: ignored
    # open: the kernel resets it (no socket of ours), so we send nothing more
    assert answer(7, SYN | ACK, core.isn(7) + 1) == []
    assert core.results[7].state == "open"
    assert answer(9, RST | ACK, core.isn(9) + 1) == []
    quoted = bytes(IP(src=CONN.src, dst=CONN.dst) / TCP(sport=40000, dport=22, flags="S"))[:28]
    icmp = bytes(IP(src="198.18.3.1", dst=CONN.src) / ICMP(type=3, code=13) / quoted)
    core.on_packet(LinkFrame(icmp, 5, 101), NS // 10)
    states = {p: r.state for p, r in core.results.items()}
    assert states == {7: "open", 9: "closed", 22: "filtered", 80: ""}
    assert "administratively filtered" in core.results[22].detail
    assert core.results[22].reason == "admin-prohibited"  # nmap's word
    # port 80 never answers: one retry after the timeout (from the RTTs: 3×RTT after
    # the first answer, RFC 6298, here 300 ms), then filtered.
    assert core.deadline() == 3 * NS // 100 + core.timeout_ns
    assert len(core.on_timer(core.deadline())) == 1 and core.results[80].tries == 2
    core.on_timer(core.deadline())
    assert core.results[80].state == "filtered" and core.done()


@pytest.mark.lab
def test_syn_scan_agrees_with_nmap_and_leaves_nothing_half_open(lab):
    routed = lab("routed", tools=("nft", "tcpdump", "ss", "nmap"))
    _drop_at_server(routed, 8080)
    spec = "7,9,22,80,8000-8002,8080"
    watch = RstWatch(routed)
    out = handshake(routed, "--json", "--ports", spec, "server")
    rsts = watch.stop()
    assert out.returncode == 0, out.stderr
    ours = {row["port"]: row["state"] for row in json.loads(out.stdout)["ports"]}
    assert ours == {7: "open", 9: "closed", 22: "closed", 80: "open", 8000: "closed",
                    8001: "closed", 8002: "closed", 8080: "filtered"}  # fmt: skip
    # only our own RSTs (one per open port, without ACK): the kernel's were held off
    sent = [r for r in rsts if " Out " in r]
    assert len(sent) == 2 and all("Flags [R]," in r for r in sent), rsts
    assert "SYN-RECV" not in routed.exec("server", "ss", "-tan").stdout
    assert guard_elements(routed) is None
    scan = routed.exec("client", "nmap", "-sS", "-n", "-p", spec, routed.addr("server"),
                       timeout=120).stdout  # fmt: skip
    theirs = {int(m[1]): m[2] for m in re.finditer(r"^(\d+)/tcp\s+(\w+)", scan, re.M)}
    assert theirs == ours, scan


@pytest.mark.lab
def test_verbose_and_write_show_and_save_every_segment(routed, tmp_path):
    path = f"/tmp/netlab-th-{tmp_path.name}.pcapng"
    out = handshake(routed, "-v", "-w", path, "server", "7")
    assert out.returncode == 0, out.stderr
    # -v: each segment through the shared dissector.
    assert "Transmission Control Protocol" in out.stdout
    assert "Syn: Set" in out.stdout and "Fin: Set" in out.stdout
    # -w: the same segments in a pcapng that tshark reads back.
    flags = subprocess.run(["tshark", "-r", path, "-Y", "tcp.port == 7", "-T", "fields",
                            "-e", "tcp.flags"], capture_output=True, text=True,
                           check=True).stdout.split()  # fmt: skip
    subprocess.run(["rm", "-f", path], check=False)
    values = [int(f, 16) for f in flags]
    assert values[:3] == [0x002, 0x012, 0x010]  # SYN, SYN-ACK, ACK
    assert any(v & 0x001 for v in values)  # and the FINs of the close
