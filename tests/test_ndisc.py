"""IPv6 neighbour discovery core (netlab/core/ndisc.py): frames built by Scapy."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from netlab.core.ndisc import NdiscCore, NeighborAdvert, NoAnswer, _parse, solicited_node
from netlab.wire.link import LinkFrame

NS = 1_000_000_000
ME, THEM = "02:00:00:00:00:0a", "02:00:00:00:00:14"


def _frame(data: bytes, ts: int) -> LinkFrame:
    return LinkFrame(data, ts, 1)


def _advert(target: str, lladdr: str | None = THEM, router: bool = False, hlim: int = 255):
    from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6NDOptDstLLAddr, IPv6
    from scapy.layers.l2 import Ether

    na = ICMPv6ND_NA(tgt=target, R=int(router), S=1, O=1)
    if lladdr:
        na = na / ICMPv6NDOptDstLLAddr(lladdr=lladdr)
    return bytes(Ether(src="02:00:00:00:00:99", dst=ME)
                 / IPv6(src=target, dst="2001:db8::a", hlim=hlim) / na)  # fmt: skip


def test_solicited_node_group_is_rfc_4291s():
    assert solicited_node("2001:db8:0:1::20") == ("ff02::1:ff00:20", "33:33:ff:00:00:20")
    assert solicited_node("fe80::c815:e2ff:fea0:7ea2") == ("ff02::1:ffa0:7ea2",
                                                           "33:33:ff:a0:7e:a2")  # fmt: skip


def test_solicitation_is_what_rfc_4861_asks():
    from scapy.layers.inet6 import ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, IPv6
    from scapy.layers.l2 import Ether

    core = NdiscCore(mac=ME, src="2001:db8::a", target="2001:db8::14")
    (send,) = core.start(0)
    pkt = Ether(send.data)
    assert send.l2 and pkt.dst == "33:33:ff:00:00:14" and pkt.src == ME
    assert pkt[IPv6].dst == "ff02::1:ff00:14" and pkt[IPv6].hlim == 255
    assert pkt[ICMPv6ND_NS].tgt == "2001:db8::14"
    assert pkt[ICMPv6NDOptSrcLLAddr].lladdr == ME


def test_advertisement_gives_the_mac_and_the_round_trip_from_our_solicitation():
    core = NdiscCore(mac=ME, src="2001:db8::a", target="2001:db8::14")
    (send,) = core.start(1_000)
    core.on_packet(_frame(send.data, 2_000), 2_000)  # ours, leaving: the kernel's send time
    core.on_packet(_frame(_advert("2001:db8::15"), 3_000), 3_000)  # another target: not ours
    core.on_packet(_frame(_advert("2001:db8::14", router=True), 52_000), 52_000)
    (event,) = core.pop_events()
    assert event == NeighborAdvert("2001:db8::14", THEM, 0.05, True)
    assert core.done() and core.deadline() is None


def test_without_the_option_the_ethernet_source_is_the_mac_and_hop_limit_must_be_255():
    assert _parse(_frame(_advert("2001:db8::14", lladdr=None), 1))[3] == "02:00:00:00:00:99"
    assert _parse(_frame(_advert("2001:db8::14", hlim=64), 1)) is None  # off-link: forged


def test_silence_ends_after_the_timeout():
    core = NdiscCore(mac=ME, src="2001:db8::a", target="2001:db8::14", timeout=1.0)
    core.start(0)
    assert core.deadline() == NS
    core.on_timer(NS)
    assert core.pop_events() == [NoAnswer("2001:db8::14")] and core.done()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40))
def test_hostile_options_never_raise(tail):
    head = _advert("2001:db8::14", lladdr=None)
    core = NdiscCore(mac=ME, src="2001:db8::a", target="2001:db8::14")
    core.start(0)
    core.on_packet(_frame(head + tail, 5), 5)
    core.on_packet(_frame((head + tail)[: len(tail)], 6), 6)
