"""IPv6 neighbour discovery, sans-I/O: one address's MAC, as ARP gives it for IPv4.

RFC 4861 section 7.2: a Neighbor Solicitation goes to the target's solicited-node
multicast group (ff02::1:ff + its last 24 bits, Ethernet 33:33:ff + the same 24
bits) with our MAC in a Source Link-Layer Address option and hop limit 255; the
target answers with a Neighbor Advertisement that names itself as the target and
carries its MAC in a Target Link-Layer Address option. `ping --explain` runs this
exchange itself to show it, as it runs ARP for IPv4.

The solicitation is built by Scapy; what comes back is parsed with struct and
never raises. Our own solicitation, seen leaving the interface, gives the
kernel's send time, so the round trip is kernel to kernel, as in arp.py.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from netlab.core.base import CoreBase, Send
from netlab.wire.link import ETHERTYPE_IPV6, LINKTYPE_ETHERNET, LinkFrame, ethertype

NS = 1_000_000_000
ND_NS, ND_NA = 135, 136
OPT_TARGET_LLADDR = 2


def solicited_node(target: str) -> tuple[str, str]:
    """(the target's solicited-node multicast address, its Ethernet group address)."""
    low = ipaddress.IPv6Address(target).packed[-3:]
    group = ipaddress.IPv6Address(b"\xff\x02" + b"\0" * 9 + b"\x01\xff" + low)
    return str(group), "33:33:ff:" + low.hex(":")


@dataclass
class NeighborAdvert:
    target: str
    mac: str
    rtt_ms: float | None
    router: bool  # the R flag: the neighbour is a router
    type: str = "reply"


@dataclass
class NoAnswer:
    target: str
    type: str = "timeout"


class NdiscCore(CoreBase):
    """Solicit TARGET's MAC once; done at its advertisement or after TIMEOUT seconds."""

    def __init__(self, *, mac: str, src: str, target: str, timeout: float = 1.0) -> None:
        self.mac, self.src = mac, src
        self.target = str(ipaddress.IPv6Address(target))
        self._target_packed = ipaddress.IPv6Address(target).packed
        self.group, self.group_mac = solicited_node(target)
        self.timeout_ns = int(timeout * NS)
        self.capture_filter = "icmp6 and (ip6[40] == 135 or ip6[40] == 136)"
        self._sent_ns = 0
        self._tx_ns: int | None = None
        super().__init__()

    # --- runner interface -----------------------------------------------------------------
    def start(self, now: int) -> list[Send]:
        self._sent_ns = now
        return [Send(build_solicitation(self.mac, self.src, self.target), l2=True)]

    def on_packet(self, frame: LinkFrame, now: int) -> list[Send]:
        found = _parse(frame) if not self._finished else None
        if found is None:
            return []
        icmp_type, target, flags, mac = found
        if target != self._target_packed:
            return []
        if icmp_type == ND_NS:
            if self._tx_ns is None and mac == self.mac.lower():
                self._tx_ns = frame.ts_ns  # ours, seen leaving: the kernel's send time
            return []
        sent = self._tx_ns if self._tx_ns is not None else self._sent_ns
        rtt = (frame.ts_ns - sent) / 1e6 if frame.ts_ns >= sent else None
        self._events.append(NeighborAdvert(self.target, mac, rtt, bool(flags & 0x80)))
        self._finished = True
        return []

    def on_timer(self, now: int) -> list[Send]:
        if not self._finished and now >= self._sent_ns + self.timeout_ns:
            self._events.append(NoAnswer(self.target))
            self._finished = True
        return []

    def on_send_error(self, send: Send, err: OSError, now: int) -> list[Send]:
        self._events.append(NoAnswer(self.target))
        self._finished = True
        return []

    def deadline(self) -> int | None:
        return None if self._finished else self._sent_ns + self.timeout_ns


def build_solicitation(mac: str, src: str, target: str) -> bytes:
    from scapy.layers.inet6 import ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, IPv6
    from scapy.layers.l2 import Ether

    group, group_mac = solicited_node(target)
    return bytes(Ether(src=mac, dst=group_mac) / IPv6(src=src, dst=group, hlim=255)
                 / ICMPv6ND_NS(tgt=target) / ICMPv6NDOptSrcLLAddr(lladdr=mac))  # fmt: skip


def _parse(frame: LinkFrame) -> tuple[int, bytes, int, str] | None:
    """(type, target address, flags byte, MAC) of a solicitation or advertisement."""
    data = frame.data
    if frame.linktype != LINKTYPE_ETHERNET or len(data) < 14 + 40 + 24:
        return None
    etype, off = ethertype(data, frame.linktype)
    if etype != ETHERTYPE_IPV6:
        return None
    ip = data[off:]
    if ip[6] != 58 or ip[7] != 255 or ip[40] not in (ND_NS, ND_NA):  # RFC 4861: hop limit 255
        return None
    icmp_type, flags, target = ip[40], ip[44], ip[48:64]
    mac = data[6:12].hex(":")  # the Ethernet source, unless an option names another
    p = 64
    while icmp_type == ND_NA and p + 8 <= len(ip):
        kind, units = struct.unpack_from("!BB", ip, p)
        if units == 0:
            break  # RFC 4861 4.6: a zero length is invalid; stop reading options
        if kind == OPT_TARGET_LLADDR and units == 1:
            mac = ip[p + 2 : p + 8].hex(":")
        p += units * 8
    return icmp_type, target, flags, mac
