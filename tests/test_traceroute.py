"""netlab traceroute: the sans-I/O core on fake time, and the command in the routed lab
against Linux traceroute."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time

import pytest

from netlab.core.trace import (
    Flow,
    Heard,
    Hop,
    ProbeResult,
    TraceCore,
    TraceEnd,
    Wait,
    build_probe,
    next_plateau,
)
from netlab.render import traceroute as view
from netlab.wire.link import LinkFrame
from tests.conftest import netlab_bin, require_root, require_tool

NS = 1_000_000_000
MS = 1_000_000
SRC, DST = "198.18.1.2", "198.18.4.2"
ROUTERS = {1: "198.18.1.1", 2: "198.18.2.2", 3: "198.18.3.2"}  # hop 4 is DST


# --- helpers: frames a router or the destination would send back ------------------------------


def _frame(pkt, ts: int) -> LinkFrame:
    from scapy.layers.l2 import Ether

    # Explicit MACs: otherwise Scapy would resolve them (ARP / neighbour solicitation).
    data = bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / pkt)
    return LinkFrame(data, ts, 1)


def _answer(flow: Flow, probe: bytes, frm: str, ts: int, *, icmp_type: int = 11, code: int = 0,
            mtu: int = 0, quote: int = 28) -> LinkFrame:  # fmt: skip
    """An ICMP error from FRM quoting QUOTE bytes of PROBE (RFC 792's header + 8 by default)."""
    if flow.family == 6:
        from scapy.layers.inet6 import (
            ICMPv6DestUnreach,
            ICMPv6PacketTooBig,
            ICMPv6TimeExceeded,
            IPv6,
        )

        icmp_type = 3 if icmp_type == 11 else icmp_type  # the default: time exceeded
        kind = {3: ICMPv6TimeExceeded(code=code), 1: ICMPv6DestUnreach(code=code),
                2: ICMPv6PacketTooBig(mtu=mtu)}[icmp_type]  # fmt: skip
        return _frame(IPv6(src=frm, dst=flow.src) / kind / probe, ts)
    from scapy.layers.inet import ICMP, IP

    icmp = ICMP(type=icmp_type, code=code, nexthopmtu=mtu) if icmp_type == 3 else ICMP(type=11)
    return _frame(IP(src=frm, dst=flow.src) / icmp / probe[:quote], ts)


def _probe_ttl(data: bytes, family: int = 4) -> int:
    return data[8] if family == 4 else data[7]  # IPv4 TTL, IPv6 hop limit


def _udp_flow(family: int = 4) -> Flow:
    if family == 6:
        return Flow("udp", 6, "2001:db8:1::2", "2001:db8:4::2", 40000, 33434)
    return Flow("udp", 4, SRC, DST, 40000, 33434)


def _answer_route(core: TraceCore, flow: Flow, sends, now: int, dest_hop: int = 4,
                  silent: tuple[int, ...] = ()) -> list:  # fmt: skip
    """Answer each probe as the routed lab would: routers, then the destination."""
    more = []
    for send in sends:
        ttl = _probe_ttl(send.data, flow.family)
        if ttl in silent:
            continue
        if ttl < dest_hop:
            frame = _answer(flow, send.data, ROUTERS[ttl], now + ttl * MS)
        else:  # port unreachable from the destination itself
            frame = _answer(flow, send.data, flow.dst, now + ttl * MS, icmp_type=3, code=3)
        more += core.on_packet(frame, now + ttl * MS)
    return more


def _run(core: TraceCore, flow: Flow, *, silent: tuple[int, ...] = (), dest_hop: int = 4,
         step: int = 10 * MS) -> tuple[list, int]:  # fmt: skip
    """Drive CORE like the runner does (answers, then timers) until done; bounded."""
    now = 1_000 * NS
    pending = core.start(now)
    events: list = []
    for _ in range(10_000):
        while pending:
            pending = _answer_route(core, flow, pending, now, dest_hop, silent)
        events += core.pop_events()
        if core.done():
            return events, now
        deadline = core.deadline()
        assert deadline is not None, "a core that is not done must have a deadline"
        now = max(now + step, deadline)
        pending = core.on_timer(now)
    raise AssertionError("the trace did not end")


def hops_of(events) -> list[Hop]:
    return [e for e in events if isinstance(e, Hop)]


# --- the core with fake time ---------------------------------------------------------------------


def test_window_keeps_at_most_n_probes_in_flight():
    flow = _udp_flow()
    core = TraceCore(flow, max_ttl=10, queries=3, simultaneous=4)
    t0 = 1_000 * NS
    sends = core.start(t0)
    assert [_probe_ttl(s.data) for s in sends] == [1, 1, 1, 2]  # hop by hop, 4 at once
    # One answer frees one place: exactly one more probe goes out, the next in order,
    # when the runner has nothing more to read (on_timer; the deadline is already due).
    assert core.on_packet(_answer(flow, sends[0].data, ROUTERS[1], t0 + MS), t0 + MS) == []
    assert core.deadline() <= t0 + MS
    more = core.on_timer(t0 + MS)
    assert [_probe_ttl(s.data) for s in more] == [2]
    assert core.on_timer(t0 + MS) == []  # the window is full again


def test_a_burst_of_answers_is_read_whole_before_the_window_refills():
    """All 16 answers of the routed lab arrive before netlab reads the first: the
    destination's among them stops the trace; nothing leaves beyond it (Linux
    traceroute sends 16 probes for this trace, and so must we)."""
    flow = _udp_flow()
    core = TraceCore(flow, queries=3, simultaneous=16)
    t0 = 1_000 * NS
    sends = core.start(t0)
    assert _answer_route(core, flow, sends, t0, dest_hop=4) == []
    assert core.on_timer(t0 + 5 * MS) == []
    assert core.done() and core.sent == 16
    hops = hops_of(core.pop_events())
    assert [h.ttl for h in hops] == [1, 2, 3, 4] and all(p.reached for p in hops[-1].probes)


def test_whole_trace_is_one_round_of_the_window():
    flow = _udp_flow()
    core = TraceCore(flow, queries=3, simultaneous=16)
    sends = core.start(0)
    assert len(sends) == 16  # hops 1-5 and the first probe of 6 leave together
    assert sorted({_probe_ttl(s.data) for s in sends}) == [1, 2, 3, 4, 5, 6]


def test_stops_at_the_destination_and_ignores_probes_beyond_it():
    flow = _udp_flow()
    core = TraceCore(flow, queries=3)
    events, _ = _run(core, flow)
    hops = hops_of(events)
    assert [h.ttl for h in hops] == [1, 2, 3, 4]
    assert [{p.addr for p in h.probes} for h in hops] == [{ROUTERS[1]}, {ROUTERS[2]},
                                                          {ROUTERS[3]}, {DST}]  # fmt: skip
    assert all(p.reached for p in hops[-1].probes)
    end = events[-1]
    assert isinstance(end, TraceEnd) and end.reached and end.last_ttl == 4
    assert [e.addr for e in events if isinstance(e, Heard)] == [*ROUTERS.values(), DST]
    assert core.deadline() is None and core.done()


def test_rtt_is_from_the_kernel_timestamp_of_the_probe_leaving():
    flow = _udp_flow()
    core = TraceCore(flow, queries=1, max_ttl=1)
    t0 = 1_000 * NS
    (send,) = core.start(t0)
    tx = t0 + 3 * MS  # the capture of our own probe: the real send time
    core.on_packet(_frame_raw(send.data, tx), tx)
    core.on_packet(_answer(flow, send.data, ROUTERS[1], tx + 2 * MS), tx + 2 * MS)
    hop = hops_of(core.pop_events())[0]
    assert hop.probes[0].rtt_ms == pytest.approx(2.0)


def _frame_raw(ip_packet: bytes, ts: int) -> LinkFrame:
    from scapy.layers.inet import IP

    return _frame(IP(ip_packet), ts)


def test_silent_hop_gives_stars_and_the_trace_goes_on():
    flow = _udp_flow()
    core = TraceCore(flow, queries=3, wait=Wait(5.0, 3.0, 10.0))
    events, _ = _run(core, flow, silent=(2,))
    hops = hops_of(events)
    assert [h.ttl for h in hops] == [1, 2, 3, 4]
    assert hops[1].probes == [None, None, None]
    assert view.hop_line(hops[1]) == " 2  * * *"
    assert events[-1].reached


def test_wait_near_gives_up_on_a_silent_hop_after_ten_later_round_trips():
    # Linux traceroute's -w MAX,HERE,NEAR: hop 3 answered in 3 ms, so hop 2 waits 30 ms.
    flow = _udp_flow()
    core = TraceCore(flow, queries=1, wait=Wait(5.0, 3.0, 10.0))
    t0 = 1_000 * NS
    sends = core.start(t0)
    by_ttl = {_probe_ttl(s.data): s for s in sends}
    assert core.deadline() == t0 + 5 * NS  # nothing heard yet: MAX
    core.on_packet(_answer(flow, by_ttl[3].data, ROUTERS[3], t0 + 3 * MS), t0 + 3 * MS)
    core.on_timer(t0 + 3 * MS)  # the freed place is filled (hop 17)
    assert core.deadline() == t0 + 30 * MS  # hop 1 and 2: NEAR × 3 ms
    core.on_timer(t0 + 30 * MS)
    hops = hops_of(core.pop_events())
    assert [h.ttl for h in hops] == [1, 2, 3] and hops[0].probes == [None]


def test_wait_max_only_when_factors_are_zero():
    flow = _udp_flow()
    core = TraceCore(flow, queries=1, wait=Wait(2.0, 0, 0))
    t0 = 1_000 * NS
    sends = core.start(t0)
    core.on_packet(_answer(flow, sends[2].data, ROUTERS[3], t0 + MS), t0 + MS)
    core.on_timer(t0 + MS)
    assert core.deadline() == t0 + 2 * NS


def test_nothing_answers_every_hop_is_stars_and_time_is_bounded():
    flow = _udp_flow()
    core = TraceCore(flow, queries=3, max_ttl=30, simultaneous=16, wait=Wait(2.0, 3, 10))
    events, now = _run(core, flow, silent=tuple(range(1, 31)))
    hops = hops_of(events)
    assert [h.ttl for h in hops] == list(range(1, 31))
    assert all(h.probes == [None, None, None] for h in hops)
    assert not events[-1].reached and events[-1].last_ttl == 30
    assert core.sent == 90
    assert now - 1_000 * NS <= 6 * 2 * NS + 100 * MS  # 90 probes / 16 at a time × 2 s
    doc = {"hops": [view.hop_record(h) for h in hops], "reached": events[-1].reached}
    assert json.loads(json.dumps(doc))["hops"][0] == {"ttl": 1, "probes": [None, None, None]}


@pytest.mark.parametrize(
    ("code", "mark"),
    [(1, "!H"), (0, "!N"), (2, "!P"), (13, "!X"), (9, "!X"), (10, "!X"), (5, "!S"), (99, "!<99>")],
)
def test_unreachable_marks_end_the_trace(code, mark):
    flow = _udp_flow()
    core = TraceCore(flow, queries=3)
    t0 = 1_000 * NS
    sends = core.start(t0)
    for send in sends:
        ttl = _probe_ttl(send.data)
        if ttl < 3:
            frame = _answer(flow, send.data, ROUTERS[ttl], t0 + MS)
        else:  # r3 cannot deliver: "destination unreachable" with CODE for every later probe
            frame = _answer(flow, send.data, ROUTERS[3], t0 + MS, icmp_type=3, code=code)
        core.on_packet(frame, t0 + MS)
    events = core.pop_events()
    hops = hops_of(events)
    assert [h.ttl for h in hops] == [1, 2, 3]
    assert [p.mark for p in hops[-1].probes] == [mark] * 3
    assert view.hop_line(hops[-1]).endswith(f" ms {mark}")
    assert isinstance(events[-1], TraceEnd) and not events[-1].reached


@pytest.mark.parametrize(("code", "mark"), [(3, "!H"), (0, "!N"), (1, "!X")])
def test_unreachable_marks_ipv6(code, mark):
    flow = _udp_flow(6)
    core = TraceCore(flow, queries=1, max_ttl=1)
    (send,) = core.start(0)
    core.on_packet(_answer(flow, send.data, "2001:db8:1::1", MS, icmp_type=1, code=code), MS)
    hop = hops_of(core.pop_events())[0]
    assert hop.probes[0].mark == mark and hop.probes[0].addr == "2001:db8:1::1"


def test_port_unreachable_from_the_destination_is_reached_without_a_mark():
    flow = _udp_flow()
    core = TraceCore(flow, queries=1, first_ttl=4, max_ttl=4)
    (send,) = core.start(0)
    core.on_packet(_answer(flow, send.data, DST, MS, icmp_type=3, code=3), MS)
    events = core.pop_events()
    hop = hops_of(events)[0]
    assert hop.probes[0].reached and hop.probes[0].mark is None
    assert events[-1].reached


@pytest.mark.parametrize("method", ["udp", "icmp", "tcp"])
@pytest.mark.parametrize("family", [4, 6])
def test_paris_every_probe_has_the_same_flow(method, family):
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6

    src, dst = (SRC, DST) if family == 4 else ("2001:db8:1::2", "2001:db8:4::2")
    sport = 41000 if method != "icmp" else 0x4242
    dport = 33434 if method == "udp" else 80
    flow = Flow(method, family, src, dst, sport, dport, flow_label=0x12345 if family == 6 else 0)
    core = TraceCore(flow, queries=3, max_ttl=30, simultaneous=90)
    sends = core.start(0)
    assert len(sends) == 90
    keys, ids, ttls = set(), set(), []
    for send in sends:
        pkt = IP(send.data) if family == 4 else IPv6(send.data)
        ttls.append(pkt.ttl if family == 4 else pkt.hlim)
        key = [pkt.src, pkt.dst, pkt.proto if family == 4 else pkt.nh]
        if family == 6:
            key.append(pkt.fl)
        if method == "udp":
            key += [pkt[UDP].sport, pkt[UDP].dport, pkt[UDP].chksum]  # checksum too: Paris
            ids.add(pkt.id if family == 4 else bytes(pkt[UDP].payload)[:2])
        elif method == "icmp":
            icmp = pkt[ICMP] if family == 4 else pkt[ICMPv6EchoRequest]
            key += [icmp.type, icmp.code, icmp.id, icmp.chksum if family == 4 else icmp.cksum]
            ids.add(icmp.seq)
        else:
            key += [pkt[TCP].sport, pkt[TCP].dport, str(pkt[TCP].flags)]
            ids.add(pkt[TCP].seq)
        keys.add(tuple(key))
    assert len(keys) == 1, keys  # one flow for the whole trace
    assert len(ids) == 90  # yet every probe can be told apart
    assert ttls == [t for t in range(1, 31) for _ in range(3)]


@pytest.mark.parametrize("method", ["udp", "icmp", "tcp"])
@pytest.mark.parametrize("family", [4, 6])
def test_patched_probes_are_byte_for_byte_what_scapy_builds(method, family):
    # The core builds one probe per size with Scapy and patches TTL and probe id into
    # copies of it (fast); each must equal the probe Scapy would build from scratch.
    import random

    from netlab.core.trace import ProbeBuilder

    src, dst = (SRC, DST) if family == 4 else ("2001:db8:1::2", "2001:db8:4::2")
    flow = Flow(method, family, src, dst, 41000, 33434, flow_label=7 if family == 6 else 0)
    rng = random.Random(family * 10 + len(method))
    for df in (False, True):
        builder = ProbeBuilder(flow, df, tcp_isn=0xFFFFFFF0)  # the sequence number wraps too
        for _ in range(40):
            pid, ttl = rng.randrange(1, 0x10000), rng.randrange(1, 256)
            size = rng.choice([80, 81, 200, 1400, 1500])
            expected = build_probe(flow, pid, ttl, size, df, 0xFFFFFFF0)
            assert builder.build(pid, ttl, size) == expected, (pid, ttl, size, df)


def test_probe_sizes_match_linux_traceroute():
    for family, size in ((4, 60), (6, 80)):
        for method in ("udp", "icmp", "tcp"):
            flow = _udp_flow(family)
            flow = Flow(method, family, flow.src, flow.dst, flow.sport, flow.dport)
            core = TraceCore(flow, queries=1, max_ttl=1)
            assert len(core.start(0)[0].data) == size


def test_answers_are_matched_by_the_quoted_datagram_only():
    flow = _udp_flow()
    other = Flow("udp", 4, SRC, DST, 40001, 33434)  # another program's trace: other port
    core = TraceCore(flow, queries=1, max_ttl=1)
    (send,) = core.start(0)
    stranger = build_probe(other, int.from_bytes(send.data[4:6], "big"), 1, 60, False)
    core.on_packet(_answer(flow, stranger, ROUTERS[1], MS), MS)
    assert not hops_of(core.pop_events())
    core.on_packet(_answer(flow, send.data, ROUTERS[1], MS, quote=28), MS)  # header + 8 bytes
    assert hops_of(core.pop_events())[0].probes[0].addr == ROUTERS[1]


def test_icmp_method_echo_reply_reaches_and_errors_match_by_sequence():
    from scapy.layers.inet import ICMP, IP

    flow = Flow("icmp", 4, SRC, DST, 0x4242, 0)
    core = TraceCore(flow, queries=1, max_ttl=5)
    sends = core.start(0)
    for send in sends:
        probe = IP(send.data)
        if probe.ttl < 3:
            core.on_packet(_answer(flow, send.data, ROUTERS[probe.ttl], MS), MS)
        else:
            reply = IP(src=DST, dst=SRC) / ICMP(type=0, id=0x4242, seq=probe[ICMP].seq)
            core.on_packet(_frame(reply, 2 * MS), 2 * MS)
    events = core.pop_events()
    assert [h.probes[0].addr for h in hops_of(events)] == [ROUTERS[1], ROUTERS[2], DST]
    assert events[-1].reached


@pytest.mark.parametrize("flags", ["SA", "RA"])
def test_tcp_syn_ack_or_rst_reaches_and_our_kernels_rst_is_not_a_probe(flags):
    from scapy.layers.inet import IP, TCP

    flow = Flow("tcp", 4, SRC, DST, 41000, 80)
    core = TraceCore(flow, queries=1, first_ttl=4, max_ttl=4, tcp_isn=1000)
    (send,) = core.start(0)
    seq = IP(send.data)[TCP].seq
    answer = IP(src=DST, dst=SRC) / TCP(sport=80, dport=41000, flags=flags, seq=7, ack=seq + 1)
    core.on_packet(_frame(answer, 2 * MS), 2 * MS)
    # Our kernel resets the half-open connection: seq = ack of the SYN-ACK. Not a probe.
    rst = IP(src=SRC, dst=DST) / TCP(sport=41000, dport=80, flags="R", seq=seq + 1)
    core.on_packet(_frame(rst, 3 * MS), 3 * MS)
    events = core.pop_events()
    assert hops_of(events)[0].probes[0].reached
    assert hops_of(events)[0].probes[0].rtt_ms == pytest.approx(2.0)
    assert events[-1].reached


def test_df_fragmentation_needed_is_a_final_mark():
    flow = _udp_flow()
    core = TraceCore(flow, queries=1, df=True, size=1500)
    sends = core.start(0)
    for send in sends:
        ttl = _probe_ttl(send.data)
        if ttl < 3:
            core.on_packet(_answer(flow, send.data, ROUTERS[ttl], MS), MS)
        else:
            core.on_packet(_answer(flow, send.data, ROUTERS[2], MS, icmp_type=3, code=4,
                                   mtu=1400), MS)  # fmt: skip
    hops = hops_of(core.pop_events())
    assert hops[-1].ttl == 3 and hops[-1].probes[0].mark == "!F-1400"
    assert view.hop_line(hops[-1]) == " 3  198.18.2.2  1.000 ms !F-1400"


@pytest.mark.parametrize("family", [4, 6])
def test_path_mtu_resends_smaller_and_reports_it_per_hop(family):
    flow = _udp_flow(family)
    routers = ROUTERS if family == 4 else {1: "2001:db8:1::1", 2: "2001:db8:2::2",
                                           3: "2001:db8:3::2"}  # fmt: skip
    core = TraceCore(flow, queries=1, path_mtu=1500)
    pending = core.start(0)
    assert all(len(s.data) == 1500 for s in pending)
    assert (pending[0].data[6] & 0x40) if family == 4 else True  # DF
    events: list = []
    for _ in range(50):
        if not pending:
            break
        more = []
        for send in pending:
            ttl = _probe_ttl(send.data, family)
            if ttl >= 3 and len(send.data) > 1400:  # r2 cannot forward it onto the 1400 link
                frame = _answer(flow, send.data, routers[2], MS,
                                icmp_type=3 if family == 4 else 2, code=4, mtu=1400,
                                quote=len(send.data))  # fmt: skip
            elif ttl < 4:
                frame = _answer(flow, send.data, routers[ttl], MS)
            else:
                unreach, port = (3, 3) if family == 4 else (1, 4)
                frame = _answer(flow, send.data, flow.dst, MS, icmp_type=unreach, code=port)
            more += core.on_packet(frame, MS)
        pending = more
    events = core.pop_events()
    hops = hops_of(events)
    assert [h.pmtu for h in hops] == [1500, 1500, 1400, 1400]
    assert events[-1].reached and events[-1].pmtu == 1400
    lines = [
        view.hop_line(h, None, prev) for h, prev in zip(hops, [None, 1500, 1500, 1400], strict=True)
    ]
    assert "F=1500" in lines[0] and "F=" not in lines[1] and "F=1400" in lines[2]


def test_path_mtu_local_emsgsize_steps_down_the_plateaus():
    flow = _udp_flow()
    core = TraceCore(flow, queries=1, max_ttl=1, path_mtu=1500)
    (send,) = core.start(0)
    retry = core.on_send_error(send, OSError(90, "Message too long"), 0)
    assert len(retry) == 1 and len(retry[0].data) == next_plateau(1500) == 1492


def test_send_error_is_reported_and_the_probe_is_a_star():
    flow = _udp_flow()
    core = TraceCore(flow, queries=1, max_ttl=1)
    (send,) = core.start(0)
    core.on_send_error(send, OSError(1, "Operation not permitted"), 0)
    events = core.pop_events()
    assert events[0].type == "local_error" and "not permitted" in events[0].reason
    assert hops_of(events)[0].probes == [None]


def test_report_rounds_are_spaced_by_the_interval():
    flow = _udp_flow()
    core = TraceCore(flow, queries=3, max_ttl=4, simultaneous=16, interval=1.0,
                     wait=Wait(2.0, 0, 0))  # fmt: skip
    t0 = 1_000 * NS
    first = core.start(t0)
    assert [_probe_ttl(s.data) for s in first] == [1, 2, 3, 4]  # round 1: one per hop
    assert core.deadline() == t0 + NS
    _answer_route(core, flow, first, t0)
    assert core.on_timer(t0 + NS // 2) == []
    second = core.on_timer(t0 + NS)
    assert [_probe_ttl(s.data) for s in second] == [1, 2, 3, 4]


def test_interrupt_shows_what_was_found():
    flow = _udp_flow()
    core = TraceCore(flow, queries=2)
    t0 = 1_000 * NS
    sends = core.start(t0)
    for send in sends:
        ttl = _probe_ttl(send.data)
        if ttl in (1, 3):  # hop 2 silent so far
            core.on_packet(_answer(flow, send.data, ROUTERS[ttl], t0 + MS), t0 + MS)
    assert [h.ttl for h in hops_of(core.pop_events())] == [1]
    core.interrupt(t0 + 2 * MS)
    events = core.pop_events()
    assert [h.ttl for h in hops_of(events)] == [2, 3]
    assert hops_of(events)[0].probes == [None, None]
    assert events[-1].interrupted and not events[-1].reached
    assert core.done() and core.deadline() is None


def test_wait_parsing_follows_linux():
    assert Wait.parse("2") == Wait(2.0, 3.0, 10.0)
    assert Wait.parse("1.5,0,0") == Wait(1.5, 0.0, 0.0)
    for bad in ("", "0", "-1", "1,2,3,4", "x", "nan", "1,,2"):
        with pytest.raises(ValueError):
            Wait.parse(bad)


# --- the views -------------------------------------------------------------------------------


def test_line_shows_a_new_address_only_when_it_changes_like_linux():
    hop = Hop(2, [ProbeResult("10.0.0.1", 5.542), ProbeResult("10.0.0.2", 4.869),
                  ProbeResult("10.0.0.2", 4.892), None])  # fmt: skip
    assert view.hop_line(hop) == " 2  10.0.0.1  5.542 ms 10.0.0.2  4.869 ms  4.892 ms *"
    hop = Hop(12, [None, ProbeResult("10.0.0.1", 1.0), None, ProbeResult("10.0.0.1", 2.0)])
    assert view.hop_line(hop) == "12  * 10.0.0.1  1.000 ms *  2.000 ms"
    names = {"10.0.0.1": "r1", "10.0.0.2": None}
    hop = Hop(1, [ProbeResult("10.0.0.1", 1.0), ProbeResult("10.0.0.2", 1.0)])
    assert view.hop_line(hop, names) == " 1  r1 (10.0.0.1)  1.000 ms 10.0.0.2 (10.0.0.2)  1.000 ms"


def test_report_stats_are_mtrs():
    hop = Hop(3, [ProbeResult("10.0.0.1", 1.0), None, ProbeResult("10.0.0.1", 3.0),
                  ProbeResult("10.0.0.9", 2.0)])  # fmt: skip
    s = view.hop_stats(hop)
    assert (s.sent, s.received, s.loss_pct) == (4, 3, 25.0)
    assert (s.last, s.avg, s.best, s.worst) == (2.0, 2.0, 1.0, 3.0)
    assert s.stdev == pytest.approx(1.0)  # sample standard deviation, as mtr
    lines = view.report_line(s)
    assert re.match(r"  3\.\|-- 10\.0\.0\.1 +25\.0% +4 +2\.000 +2\.000 +1\.000 +3\.000 +1\.000$",
                    lines[0])  # fmt: skip
    assert lines[1].strip() == "|   10.0.0.9"
    header = view.report_header("client", "now")[1]
    assert header.index("Loss%") + len("Loss%") == lines[0].index("%") + 1
    assert view.hop_stats(Hop(1, [None, None])).loss_pct == 100.0


# --- the command in the routed lab ---------------------------------------------------------


@pytest.fixture
def routed_lab(lab):
    return lab("routed", tools=("traceroute", "nft"))


def trace(routed, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return routed.exec("client", netlab_bin(), "traceroute", *args, timeout=timeout)


def linux_hops(routed, *args: str) -> list[list[str]]:
    out = routed.exec("client", "traceroute", "-n", *args, timeout=60)
    assert out.returncode == 0, out.stderr
    return [re.findall(r"\d+\.\d+\.\d+\.\d+|[0-9a-f:]+:[0-9a-f:]+", line.split(None, 1)[1])
            for line in out.stdout.splitlines()[1:]]  # fmt: skip


def json_hops(doc: dict) -> list[list[str]]:
    return [sorted({p["addr"] for p in h["probes"] if p}) for h in doc["hops"]]


@pytest.mark.parametrize("family", ["-4", "-6"])
@pytest.mark.parametrize(("flag", "method"), [("-U", "udp"), ("-I", "icmp")])
def test_probes_bigger_than_the_mtu_are_fragmented_as_linux_traceroute(routed_lab, flag,
                                                                      method, family):  # fmt: skip
    """A PACKETLEN over the link's 1500 without -F: cut into fragments, every hop answers
    (issue 22 item 13: it was 'message too long … with DF set' though DF was never asked)."""
    linux_flag = [] if flag == "-U" else [flag]
    theirs = [sorted(set(h)) for h in linux_hops(routed_lab, family, *linux_flag, "server",
                                                  "1600")]  # fmt: skip
    out = trace(routed_lab, family, flag, "--json", "server", "1600")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    ours = json_hops(doc)
    version = 4 if family == "-4" else 6
    routers = [[routed_lab.addr(n, version)] for n in ("r1", "r2", "r3", "server")]
    assert doc["reached"] is True and ours == routers, ours
    # Linux traceroute names the same first two routers. Over IPv6 its probes into the
    # 1400-byte link get "packet too big" (!F-1400) from r2, which ends its trace at hop
    # 3 (some of hop 3's probes, or all when its sixteen probes fly at once under load,
    # show r2); ours are sent again in smaller fragments and go on to the server.
    assert theirs[:2] == routers[:2], theirs
    if family == "-4":
        assert theirs == routers, theirs
    else:
        assert len(theirs) == 3 and set(theirs[2]) <= {routers[1][0], routers[2][0]}, theirs
    assert all(p is not None and p["mark"] is None for h in doc["hops"] for p in h["probes"])


@pytest.mark.parametrize(("flag", "method"), [("-U", "udp"), ("-I", "icmp"), ("-T", "tcp")])
def test_same_routers_as_linux_traceroute(routed_lab, flag, method):
    linux_flag = [] if flag == "-U" else [flag]  # Linux's -U is UDP to port 53: use its default
    theirs = [sorted(set(h)) for h in linux_hops(routed_lab, *linux_flag, "server")]
    out = trace(routed_lab, flag, "--json", "server")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["method"] == method and doc["reached"] is True and doc["target"] == "server"
    routers = [routed_lab.addr(n) for n in ("r1", "r2", "r3", "server")]
    assert json_hops(doc) == theirs == [[a] for a in routers]
    assert [h["ttl"] for h in doc["hops"]] == [1, 2, 3, 4]
    assert all(len(h["probes"]) == 3 for h in doc["hops"])
    assert all(0 < p["rtt_ms"] < 50 for h in doc["hops"] for p in h["probes"])
    text = trace(routed_lab, flag, "-q", "1", "server")
    assert text.stdout.splitlines()[0] == (
        f"traceroute to server ({routers[-1]}), 30 hops max, 60 byte packets"
    )
    assert re.match(rf"^ 4  {re.escape(routers[-1])}  [\d.]+ ms$", text.stdout.splitlines()[-1])


def test_same_routers_as_linux_over_ipv6(routed_lab):
    theirs = [sorted(set(h)) for h in linux_hops(routed_lab, "-6", "server")]
    doc = json.loads(trace(routed_lab, "-6", "--json", "server").stdout)
    assert json_hops(doc) == theirs and doc["reached"]
    assert doc["hops"][-1]["probes"][0]["addr"] == routed_lab.addr("server", 6)


def test_a_router_that_drops_icmp_is_a_star_and_the_trace_goes_on(routed_lab):
    ns = routed_lab.netns("r2")
    for cmd in (
        "add table inet nltest",
        "add chain inet nltest out { type filter hook output priority 0 ; }",
        "add rule inet nltest out icmp type time-exceeded drop",
    ):
        subprocess.run(["ip", "netns", "exec", ns, "nft", *cmd.split()], check=True)
    out = trace(routed_lab, "server")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[2] == " 2  * * *"
    assert lines[3].startswith(f" 3  {routed_lab.addr('r3')}  ")
    assert lines[4].startswith(f" 4  {routed_lab.addr('server')}  ")
    # Only the silent hop asked: the JSON stays valid when no hop answers at all.
    silent = trace(routed_lab, "--json", "-f", "2", "-m", "2", "-w", "0.3", "server")
    assert silent.returncode == 1
    assert json.loads(silent.stdout) == {
        "target": "server", "addr": routed_lab.addr("server"), "method": "udp",
        "hops": [{"ttl": 2, "probes": [None, None, None]}], "reached": False,
    }  # fmt: skip


def test_unreachable_host_is_marked_h(routed_lab):
    # Nobody has 198.18.4.99: r3's ARP gives up after ~3 s and answers "host unreachable".
    out = trace(routed_lab, "-q", "1", "198.18.4.99")
    assert out.returncode == 1
    last = out.stdout.splitlines()[-1]
    assert re.match(rf"^ 4  {re.escape(routed_lab.addr('r3'))}  [\d.]+ ms !H$", last), out.stdout


def test_mtu_of_the_narrow_link_is_reported(routed_lab):
    r2, r3 = routed_lab.addr("r2"), routed_lab.addr("r3")
    out = trace(routed_lab, "--mtu", "server")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "F=1500" in lines[1] and lines[3].startswith(f" 3  {r3}  ") and "F=1400" in lines[3]
    doc = json.loads(trace(routed_lab, "--mtu", "-I", "--json", "server").stdout)
    assert [h["pmtu"] for h in doc["hops"]] == [1500, 1500, 1400, 1400] and doc["pmtu"] == 1400
    df = trace(routed_lab, "--df", "-q", "1", "server", "1500")
    assert df.returncode == 1
    assert df.stdout.splitlines()[-1].startswith(f" 3  {r2}  ")  # r2 cannot forward it
    assert df.stdout.splitlines()[-1].endswith("ms !F-1400")


def test_report_is_an_mtr_table(routed_lab):
    out = trace(routed_lab, "--report", "-c", "3", "--interval", "0.05", "-I", "server")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[1].split()[-7:] == ["Loss%", "Snt", "Last", "Avg", "Best", "Wrst", "StDev"]
    rows = [line.split() for line in lines[2:]]
    assert [r[1] for r in rows] == [routed_lab.addr(n) for n in ("r1", "r2", "r3", "server")]
    assert all(r[2] == "0.0%" and r[3] == "3" for r in rows)
    doc = json.loads(trace(routed_lab, "--report", "-c", "2", "--interval", "0", "--json",
                           "server").stdout)  # fmt: skip
    assert [h["sent"] for h in doc["hops"]] == [2, 2, 2, 2] and doc["reached"]
    routers = [routed_lab.addr(n) for n in ("r1", "r2", "r3", "server")]
    assert [h["addr"] for h in doc["hops"]] == routers
    assert all(
        h["lost"] == 0 and h["rtt_min_ms"] <= h["rtt_avg_ms"] <= h["rtt_max_ms"]
        for h in doc["hops"]
    )


def test_resolve_names_the_routers(routed_lab):
    out = trace(routed_lab, "--resolve", "-q", "1", "server")
    names = [line.split()[1] for line in out.stdout.splitlines()[1:]]
    assert names == ["r1", "r2", "r3", "server"]


def test_probes_on_the_wire_share_one_flow(routed_lab, tmp_path):
    path = f"/tmp/netlab-trace-{tmp_path.name}.pcapng"
    try:
        out = trace(routed_lab, "--write", path, "server")
        assert out.returncode == 0
        rows = subprocess.run(
            ["tshark", "-r", path, "-Y", f"ip.src=={routed_lab.addr('client')} && udp && !icmp",
             "-o", "udp.check_checksum:FALSE", "-T", "fields", "-e", "ip.ttl", "-e",
             "udp.srcport", "-e", "udp.dstport", "-e", "udp.checksum"],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
    finally:
        subprocess.run(["rm", "-f", path], check=False)
    probes = [rows[i : i + 4] for i in range(0, len(rows), 4)]
    # One window of 16, as Linux traceroute (-N 16) sends for this 4-hop trace: the
    # answers are read whole before the window refills, so nothing leaves beyond the
    # destination; and --write keeps the probes past hop 4 that were already out.
    assert len(probes) == 16
    assert len({tuple(p[1:]) for p in probes}) == 1  # ports and checksum never change
    assert sorted(int(p[0]) for p in probes) == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6]


def test_ctrl_c_prints_what_it_has_and_exits_130(routed_lab):
    from netlab.lab import engine

    argv = engine.exec_argv(routed_lab.book, "client",
                            [netlab_bin(), "traceroute", "--json", "198.18.4.99"])  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)  # hops 1-3 answered; hop 4 waits for r3's ARP
    proc.send_signal(signal.SIGINT)
    stdout, _ = proc.communicate(timeout=10)
    assert proc.returncode == 130
    doc = json.loads(stdout)
    assert doc["interrupted"] is True and doc["reached"] is False
    assert [h["ttl"] for h in doc["hops"]][:3] == [1, 2, 3]


@pytest.mark.parametrize("target", ["127.0.0.1", "::1"])
@pytest.mark.parametrize("flag", ["-U", "-I", "-T"])
def test_trace_to_this_host_is_one_hop_like_linux(flag, target):
    """To the host itself the answers carry the probes' own addresses (src == dst):
    the kernel's port unreachable, echo reply or RST must still reach the trace."""
    require_root()
    linux = subprocess.run([require_tool("traceroute"), "-n", *([] if flag == "-U" else [flag]),
                            target], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert linux.returncode == 0 and len(linux.stdout.splitlines()) == 2, linux.stdout
    out = subprocess.run([netlab_bin(), "traceroute", flag, "--json", target],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["reached"] is True and json_hops(doc) == [[target]]
    assert linux.stdout.splitlines()[1].split()[1] == target


def test_bad_target_is_one_line_exit_2():
    proc = subprocess.run([netlab_bin(), "traceroute", "no.such.host.invalid"],
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("netlab: error: cannot resolve")


@pytest.mark.parametrize(
    "args",
    [["-w", "0", "x"], ["-w", "1,2,3,4", "x"], ["-c", "3", "x"], ["-I", "-p", "80", "x"],
     ["-f", "5", "-m", "4", "x"], ["-q", "11", "x"]],
)  # fmt: skip
def test_bad_options_exit_2(args):
    proc = subprocess.run([netlab_bin(), "traceroute", *args], capture_output=True, text=True,
                          timeout=30)  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("netlab: error: ")


# --- without CAP_NET_RAW: UDP probes on a kernel socket with IP_RECVERR --------------------

NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
          "--bounding-set=-all")  # fmt: skip


def test_queued_error_becomes_the_icmp_message_the_core_matches():
    """What IP_RECVERR hands over (router, type, code, MTU, the quoted UDP payload) is
    rebuilt into the ICMP message a raw capture would have shown, and matched by the
    same core: no root needed."""
    from netlab.net.tracesock import RecvErrRunner

    runner = RecvErrRunner(4, "127.0.0.1", "127.0.0.1", 33434)
    try:
        flow = Flow("udp", 4, runner.src, runner.dst, runner.sport, runner.dport)
        core = TraceCore(flow, max_ttl=2, queries=1, simultaneous=2, pid_base=700)
        probes = core.start(1000 * NS)
        assert [_probe_ttl(p.data) for p in probes] == [1, 2]
        payload = [p.data[28:] for p in probes]  # what the kernel quotes back
        hop1 = runner.icmp_error("198.18.1.1", 11, 0, 0, payload[0])
        core.on_packet(LinkFrame(hop1, 1000 * NS + MS, 101), 1000 * NS + MS)
        # A "fragmentation needed" carries the MTU in ee_info: !F-1400 from r2.
        hop2 = runner.icmp_error("198.18.2.2", 3, 4, 1400, payload[1])
        core.on_packet(LinkFrame(hop2, 1000 * NS + 2 * MS, 101), 1000 * NS + 2 * MS)
        core.on_timer(1000 * NS + 2 * MS)
    finally:
        runner.sock.close()
    hops = hops_of(core.pop_events())
    assert [(h.ttl, h.probes[0].addr, h.probes[0].mark) for h in hops] == [
        (1, "198.18.1.1", None), (2, "198.18.2.2", "!F-1400")]  # fmt: skip
    assert hops[0].probes[0].rtt_ms == pytest.approx(1.0)


def _nobody_hops(out: subprocess.CompletedProcess) -> list[list[str]]:
    assert out.returncode == 0, out.stderr
    return [re.findall(r"\d+\.\d+\.\d+\.\d+|[0-9a-f:]+:[0-9a-f:]+", line.split(None, 1)[1])
            for line in out.stdout.splitlines()[1:]]  # fmt: skip


@pytest.mark.parametrize("family", ["-4", "-6"])
def test_unprivileged_trace_has_the_hops_of_unprivileged_linux_traceroute(routed_lab, family):
    """issue 21: as nobody (no capability at all) Linux traceroute works; so does ours,
    with the same lines."""
    theirs = routed_lab.exec("client", *NOBODY, "traceroute", "-n", family, "server")
    ours = routed_lab.exec("client", *NOBODY, netlab_bin(), "traceroute", family, "server")
    assert "IP_RECVERR" in ours.stderr and ours.stderr.count("\n") == 1, ours.stderr
    assert ours.stdout.splitlines()[0] == theirs.stdout.splitlines()[0]  # the header line
    routers = [routed_lab.addr(n, int(family[1])) for n in ("r1", "r2", "r3", "server")]
    assert _nobody_hops(ours) == _nobody_hops(theirs) == [[a] for a in routers]
    line = r"^ \d  [0-9a-f.:]+  [\d.]+ ms  [\d.]+ ms  [\d.]+ ms$"
    assert all(re.match(line, x) for x in ours.stdout.splitlines()[1:]), ours.stdout
    doc = json.loads(routed_lab.exec("client", *NOBODY, netlab_bin(), "traceroute", family,
                                     "--json", "-q", "1", "server").stdout)  # fmt: skip
    assert doc["reached"] and json_hops(doc) == [[a] for a in routers]


def test_unprivileged_marks_and_path_mtu_as_with_raw_sockets(routed_lab):
    def run(*args: str) -> subprocess.CompletedProcess:
        return routed_lab.exec("client", *NOBODY, netlab_bin(), "traceroute", *args)

    r2, r3 = routed_lab.addr("r2"), routed_lab.addr("r3")
    # The kernel's path-MTU probe sockets: F=1400 at the narrow link, as the raw runner.
    mtu = run("--mtu", "-q", "1", "server")
    assert mtu.returncode == 0, mtu.stderr
    assert "F=1500" in mtu.stdout.splitlines()[1] and "F=1400" in mtu.stdout.splitlines()[3]
    df = run("--df", "-q", "1", "server", "1500")
    assert df.returncode == 1 and df.stdout.splitlines()[-1].startswith(f" 3  {r2}  ")
    assert df.stdout.splitlines()[-1].endswith("ms !F-1400"), df.stdout
    # Bigger than the link without -F: the kernel cuts the probes; every hop answers.
    big = run("--json", "-q", "1", "server", "1600")
    assert json.loads(big.stdout)["reached"], big.stderr
    # Nobody has 198.18.4.99: r3 says host unreachable, as to Linux traceroute.
    theirs = routed_lab.exec("client", *NOBODY, "traceroute", "-n", "-q", "1", "198.18.4.99")
    ours = run("-q", "1", "198.18.4.99")
    assert ours.returncode == 1
    for out in (ours, theirs):
        assert re.match(rf"^ 4  {re.escape(r3)}  [\d.]+ ms !H$", out.stdout.splitlines()[-1])


@pytest.mark.parametrize("args", [["-I"], ["-T"], ["-v"], ["--write", "/tmp/never.pcapng"]])
def test_unprivileged_icmp_tcp_and_capture_exit_3_with_the_venv_hint(args):
    require_root()
    require_tool("setpriv")
    out = subprocess.run([*NOBODY, netlab_bin(), "traceroute", *args, "127.0.0.1"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 3 and out.stdout == "", out.stderr
    assert out.stderr.count("\n") == 1 and "CAP_NET_RAW" in out.stderr
    assert "caps" in out.stderr and "setcap" not in out.stderr  # never the system's python3


@pytest.mark.parametrize("target", ["127.0.0.1", "::1"])
def test_unprivileged_trace_to_this_host(target):
    require_root()
    require_tool("setpriv")
    out = subprocess.run([*NOBODY, netlab_bin(), "traceroute", "--json", target],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json_hops(json.loads(out.stdout)) == [[target]]
