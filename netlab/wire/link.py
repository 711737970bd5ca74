"""A captured frame as cores see it, and the one Ethernet → IP → transport parse they share.

The packet cores (echo, trace, tcp_handshake, ndisc, arp) all need the same first
steps from a frame: skip Ethernet (and an 802.1Q tag), find the IPv4 or IPv6
header, read addresses and the transport header's offset. That is written once
here, with struct on bytes: fast, and raising only IndexError / ValueError /
struct.error on a short or odd packet, which a core catches as "not ours".
(The dissector decodes every field with Wireshark's names; this is the lean
subset a core matches its probes with.)
"""

from __future__ import annotations

import socket
import struct
from typing import NamedTuple

LINKTYPE_ETHERNET = 1
ETHERTYPE_IPV4, ETHERTYPE_ARP, ETHERTYPE_VLAN, ETHERTYPE_IPV6 = 0x0800, 0x0806, 0x8100, 0x86DD
_VERSION_OF = {ETHERTYPE_IPV4: 4, ETHERTYPE_IPV6: 6}
IPPROTO_FRAGMENT = 44


class LinkFrame(NamedTuple):
    """One frame from the runner's capture: bytes, kernel time stamp, link type, direction."""

    data: bytes
    ts_ns: int
    linktype: int = LINKTYPE_ETHERNET
    outgoing: bool | None = None  # True: seen leaving; None: not known (loopback)


def ethertype(data: bytes, linktype: int) -> tuple[int, int]:
    """(EtherType, offset of the payload) of an Ethernet frame, past one 802.1Q tag.
    Other link types carry a bare IP packet: its EtherType by the version nibble."""
    if linktype != LINKTYPE_ETHERNET:
        return (ETHERTYPE_IPV4 if data[0] >> 4 == 4 else ETHERTYPE_IPV6), 0
    etype = int.from_bytes(data[12:14], "big")
    if etype == ETHERTYPE_VLAN:
        return int.from_bytes(data[16:18], "big"), 18
    return etype, 14


def ip_start(frame: LinkFrame) -> tuple[int, int] | None:
    """(IP version, offset of the IP header) in FRAME, or None if it carries no IP."""
    try:
        etype, off = ethertype(frame.data, frame.linktype)
    except IndexError:
        return None
    version = _VERSION_OF.get(etype)
    return (version, off) if version else None


class IpHeader(NamedTuple):
    """The fields of an IPv4 or IPv6 header that cores match on."""

    version: int
    proto: int  # IPv4 protocol; IPv6 next header (past a first fragment's header)
    src: str
    dst: str
    ttl: int  # hop limit for IPv6
    ident: int  # IPv4 identification; -1 for IPv6
    frag_offset: int  # fragment offset in 8-byte units (0: not a fragment, or the first)
    payload: int  # offset of what follows the header
    length: int  # payload length the header declares
    end: int  # end of the packet: the declared length, cut to what was captured


def ntoa(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def ip_header(data: bytes, off: int, version: int | None = None) -> IpHeader:
    """The IP header at OFF (of VERSION if given: anything else raises ValueError)."""
    got = data[off] >> 4
    if version is not None and got != version:
        raise ValueError(f"not IPv{version}")
    if got == 4:
        ihl = (data[off] & 0x0F) * 4
        total, ident, frag = struct.unpack_from("!2xHHH", data, off)
        payload = off + ihl
        return IpHeader(4, data[off + 9], ntoa(data[off + 12 : off + 16]),
                        ntoa(data[off + 16 : off + 20]), data[off + 8], ident, frag & 0x1FFF,
                        payload, max(0, total - ihl), min(len(data), off + total))  # fmt: skip
    if got == 6:
        plen = int.from_bytes(data[off + 4 : off + 6], "big")
        payload, proto, frag = off + 40, data[off + 6], 0
        end = min(len(data), payload + plen)
        if proto == IPPROTO_FRAGMENT:  # RFC 8200 4.5: a first fragment shows what it carries
            frag = int.from_bytes(data[payload + 2 : payload + 4], "big") >> 3
            if frag == 0:
                proto, payload = data[payload], payload + 8
        return IpHeader(6, proto, ntoa(data[off + 8 : off + 24]), ntoa(data[off + 24 : off + 40]),
                        data[off + 7], -1, frag, payload, plen, end)  # fmt: skip
    raise ValueError(f"IP version {got}")


def frame_ip(frame: LinkFrame, version: int | None = None) -> tuple[bytes, IpHeader] | None:
    """FRAME's IP header (of VERSION if given) and the bytes it indexes into; None
    for a frame without IP, of the other version, or too short for its header."""
    found = ip_start(frame)
    if found is None or (version is not None and found[0] != version):
        return None
    try:
        return frame.data, ip_header(frame.data, found[1], found[0])
    except (IndexError, ValueError, struct.error):
        return None
