"""Dissector.columns: the one-line view of plain frames without a Packet, same lines.

The shortcut reads TCP, UDP, DNS and ICMP echo columns straight off the bytes and
updates the stream state itself; everything else goes through dissect(). Each
capture is shown twice, through the shortcut and through dissect() alone, and the
text must be identical, line for line: the samples, the whole tcpdump corpus in one
file (hundreds of link types and damaged packets) and a long replica capture where
TCP state (relative numbers, analysis, stream reuse) carries across thousands of
packets.
"""

from __future__ import annotations

import io

import pytest

from netlab.capture.reader import open_capture
from netlab.capture.writer import PcapngWriter
from netlab.dissect import Dissector
from netlab.render.packets import PacketView
from tests.conftest import ROOT
from tests.test_dissect_jobs import _corpus_in_one, _replicas

PCAPS = sorted((ROOT / "pcaps").glob("*.pcap*"))


def both_ways(path) -> tuple[str, str, int]:
    """(text through the shortcut, text through dissect(), frames the shortcut took).
    The shortcut's dissector is set up as `netlab dissect` sets it up for this view."""
    fast_out, slow_out = io.StringIO(), io.StringIO()
    fast, slow = PacketView(fast_out), PacketView(slow_out)
    fast_d, slow_d = _Counting(True, udp_streams=False), Dissector()
    with open_capture(path) as cap:
        for no, frame in enumerate(cap, 1):
            fast.feed_frames(fast_d, [(no, frame)])
            slow.feed(slow_d.dissect(no, frame.ts_ns, frame.data, frame.wirelen, frame.linktype,
                                     frame.interface, frame.comment))  # fmt: skip
    fast.finish()
    slow.finish()
    return fast_out.getvalue(), slow_out.getvalue(), fast_d.taken


def frames_both_ways(path, wire: list[bytes]) -> tuple[str, int]:
    """Write the Ethernet frames WIRE to PATH, check that both ways print the same lines;
    -> (the text, frames the shortcut took)."""
    with PcapngWriter(path) as writer:
        iface = writer.add_interface(1)
        for i, data in enumerate(wire):
            writer.write_packet(data, 1_700_000_000_000_000_000 + i * 1000, interface=iface)
    fast, slow, taken = both_ways(path)
    assert fast.splitlines() == slow.splitlines()
    return fast, taken


class _Counting(Dissector):
    """Counts the frames whose columns the shortcut gave."""

    taken = 0

    def columns(self, no, data, linktype, ts_ns=None):
        found = super().columns(no, data, linktype, ts_ns)
        self.taken += found is not None
        return found


@pytest.mark.parametrize("path", PCAPS, ids=lambda p: p.name)
def test_samples(path):
    fast, slow, _ = both_ways(path)
    assert fast.splitlines() == slow.splitlines()


def test_corpus(tmp_path):
    fast, slow, taken = both_ways(_corpus_in_one(tmp_path / "corpus.pcapng"))
    assert fast.splitlines() == slow.splitlines()
    assert taken > 500


def test_long_capture(tmp_path):
    path = _replicas(tmp_path / "replicas.pcapng", 6000)
    fast, slow, taken = both_ways(path)
    assert fast.splitlines() == slow.splitlines()
    assert taken > 6000 * 0.9  # the shortcut really carries the common traffic


def test_filters_and_full_views_do_not_take_it():
    view = PacketView(io.StringIO(), tree=True)
    assert not view._plain


def test_dns_over_tcp_segments(tmp_path):
    """DNS over TCP takes the shortcut only for segments of whole PDUs with nothing
    pending: the real query and response of pcaps/dns.pcapng cut and joined in new
    segments (a PDU split over two, two PDUs in one, a PDU and a half, a
    retransmission) must read the same both ways."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    with open_capture(ROOT / "pcaps" / "dns.pcapng") as cap:
        frames = list(cap)
    payloads = [_tcp_payload(f.data) for f in frames]
    query, response = [p for p in payloads if len(p) > 2][:2]  # length-prefixed PDUs
    client, server = ("198.18.0.10", 40100), ("198.18.0.53", 53)
    seq = {client: 1000, server: 5000}

    def segment(frm, to, data=b"", flags="PA"):
        tcp = TCP(sport=frm[1], dport=to[1], flags=flags, seq=seq[frm], ack=seq[to])
        pkt = Ether() / IP(src=frm[0], dst=to[0]) / tcp / data
        seq[frm] += len(data) + (1 if "S" in flags or "F" in flags else 0)
        return bytes(pkt)

    wire = [segment(client, server, flags="S"), segment(server, client, flags="SA"),
            segment(client, server, flags="A")]  # fmt: skip
    wire.append(segment(client, server, query))  # 1: whole
    wire.append(segment(server, client, response))
    wire.append(segment(client, server, query[:1]))  # 2: split in the length prefix
    wire.append(segment(client, server, query[1:]))
    wire.append(segment(client, server, query + query))  # 3: two PDUs in one segment
    wire.append(segment(client, server, query + query[:7]))  # 4: one and a half
    wire.append(segment(client, server, query[7:]))
    seq[server] -= len(response)
    wire.append(segment(server, client, response))  # 5: the response again
    wire.append(segment(server, client, response))  # 6: a new one, whole
    fast, taken = frames_both_ways(tmp_path / "dns-tcp.pcapng", wire)
    lines = fast.splitlines()
    assert [line.split()[5] for line in lines[3:]] == [
        "DNS", "DNS", "TCP", "DNS", "DNS", "DNS", "DNS", "TCP", "DNS",
    ]  # fmt: skip
    # (the client has acknowledged it: Wireshark calls that a spurious retransmission)
    assert "[TCP Spurious Retransmission]" in lines[10]
    # The handshake and the segments of whole PDUs (the retransmission too); not the
    # split PDU's two segments, nor the one and a half and the half after it.
    assert taken == 3 + 5


def _tcp_payload(data: bytes) -> bytes:
    if data[12:14] != b"\x08\x00" or data[23] != 6:
        return b""
    off = 14 + (data[14] & 0x0F) * 4
    return data[off + (data[off + 12] >> 4) * 4 :]


def test_udp_tracker_datagrams(tmp_path):
    """The UDP tracker's shortcut (udp_tracker._flow_columns) against dissect(): the real
    exchange of pcaps/bt-tracker.pcapng, then over IPv6 (an announce response counts
    18-byte peers), a tracker-like datagram in a conversation that never connected
    (handed on, not the tracker's), and messages too short for their type (malformed)."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether

    with open_capture(ROOT / "pcaps" / "bt-tracker.pcapng") as cap:
        frames = list(cap)
    payloads = [bytes(Ether(f.data)[UDP].payload) for f in frames]

    def datagram(payload, request, client=40000, v6=False):
        """PAYLOAD from the client to the tracker's port (REQUEST), else back."""
        a, b = ("2001:db8::1", "2001:db8::2") if v6 else ("198.18.0.1", "198.18.0.2")
        ip, ports = (IPv6 if v6 else IP), (client, 6969)
        if not request:
            a, b, ports = b, a, ports[::-1]
        return bytes(Ether() / ip(src=a, dst=b) / UDP(sport=ports[0], dport=ports[1]) / payload)

    wire = [f.data for f in frames]
    wire += [datagram(p, i % 2 == 0, v6=True) for i, p in enumerate(payloads)]
    stray = bytes(
        Ether()
        / IP(src="198.18.0.1", dst="198.18.0.2")
        / UDP(sport=50000, dport=50001)
        / payloads[1]
    )  # never connected
    wire += [stray, datagram(payloads[1][:12], False, client=40002),  # short: malformed
             datagram(payloads[2][:40], True, client=40002)]  # fmt: skip
    fast, taken = frames_both_ways(tmp_path / "tracker.pcapng", wire)
    assert taken >= len(frames)  # (the real exchange took the shortcut)
    assert sum("BT-Tracker" in line for line in fast.splitlines()) >= len(frames)
