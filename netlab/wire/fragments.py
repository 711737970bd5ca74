"""IP fragment reassembly (RFC 791 for IPv4, RFC 8200 section 4.5 for IPv6), bounded.

Fed IP packets (from the IP header on) with their capture timestamps, it hands
back whole datagrams: a packet that is not a fragment comes back as it is; the
fragments of one datagram come back as one packet once every byte of it has
arrived, with the time of its first and of its last fragment (a round trip
runs from the first fragment of a request leaving to the last of the reply
arriving, as the kernel's reassembly makes it for iputils).

Hostile input stays bounded: at most MAX_DATAGRAMS incomplete datagrams are
kept (the oldest is dropped first), none past the 65,535 bytes an IP length can
say, and fragments that disagree (a second "last fragment" at another end, data
beyond the end) drop their datagram. Overlaps keep the first copy of a byte.
Only a fragment header right after the IPv6 header is reassembled (what Linux
and Scapy send); other IPv6 packets come back as they are.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from netlab.wire.checksum import internet_checksum

MAX_DATAGRAMS = 64
MAX_LEN = 65535
FRAGMENT_HEADER = 44  # IPv6 next header value


@dataclass
class _Datagram:
    head: bytes  # the header of the fragment at offset 0 (IPv4) or the IPv6 header
    next_header: int  # IPv6: the protocol after the fragment header
    first_ns: int
    parts: dict[int, bytes] = field(default_factory=dict)  # offset -> data
    end: int | None = None  # known once the last fragment (MF = 0) arrives


class Reassembler:
    def __init__(self, max_datagrams: int = MAX_DATAGRAMS) -> None:
        self.max_datagrams = max_datagrams
        self._pending: dict[tuple, _Datagram] = {}

    def feed(self, family: int, packet: bytes, ts_ns: int) -> tuple[bytes, int, int] | None:
        """(whole packet, first ts, last ts), or None while fragments are missing.

        Raises nothing on malformed input: what cannot be read is handed back as is."""
        try:
            if family == 4:
                return self._feed_v4(packet, ts_ns)
            return self._feed_v6(packet, ts_ns)
        except (IndexError, struct.error):
            return packet, ts_ns, ts_ns

    # --- IPv4 ------------------------------------------------------------------------
    def _feed_v4(self, packet: bytes, ts_ns: int):
        ihl = (packet[0] & 0x0F) * 4
        ident, flags_offset = struct.unpack_from("!HH", packet, 4)
        more, offset = flags_offset & 0x2000, (flags_offset & 0x1FFF) * 8
        if not more and not offset:
            return packet, ts_ns, ts_ns
        total = struct.unpack_from("!H", packet, 2)[0]
        data = packet[ihl : max(ihl, min(total, len(packet)))]
        key = (4, packet[12:20], packet[9], ident)
        done = self._add(key, packet[:ihl] if offset == 0 else None, 0, offset, data, more,
                         ts_ns)  # fmt: skip
        if done is None:
            return None
        dgram, payload = done
        head = bytearray(dgram.head)
        struct.pack_into("!HHH", head, 2, len(head) + len(payload), ident, 0)  # len, id, flags
        struct.pack_into("!H", head, 10, 0)
        struct.pack_into("!H", head, 10, internet_checksum(bytes(head)))
        return bytes(head) + payload, dgram.first_ns, ts_ns

    # --- IPv6 ------------------------------------------------------------------------
    def _feed_v6(self, packet: bytes, ts_ns: int):
        if packet[6] != FRAGMENT_HEADER:
            return packet, ts_ns, ts_ns
        plen = struct.unpack_from("!H", packet, 4)[0]
        next_header, _res, offset_flags, ident = struct.unpack_from("!BBHI", packet, 40)
        more, offset = offset_flags & 1, offset_flags & 0xFFF8
        data = packet[48 : max(48, min(40 + plen, len(packet)))]
        if not more and not offset:  # an atomic fragment (RFC 6946): the payload as it is
            return self._v6_whole(packet[:40], next_header, data), ts_ns, ts_ns
        key = (6, packet[8:40], ident)
        done = self._add(key, packet[:40] if offset == 0 else None, next_header, offset, data,
                         more, ts_ns)  # fmt: skip
        if done is None:
            return None
        dgram, payload = done
        return self._v6_whole(dgram.head, dgram.next_header, payload), dgram.first_ns, ts_ns

    @staticmethod
    def _v6_whole(header: bytes, next_header: int, payload: bytes) -> bytes:
        head = bytearray(header)
        struct.pack_into("!H", head, 4, len(payload))
        head[6] = next_header
        return bytes(head) + payload

    # --- shared ----------------------------------------------------------------------
    def _add(self, key, head, next_header, offset, data, more, ts_ns):
        dgram = self._pending.get(key)
        if dgram is None:
            if len(self._pending) >= self.max_datagrams:
                del self._pending[next(iter(self._pending))]  # the oldest
            dgram = self._pending[key] = _Datagram(b"", 0, ts_ns)
        if head is not None and not dgram.head:
            dgram.head, dgram.next_header = head, next_header
        end = offset + len(data)
        bad = end > MAX_LEN or (not more and dgram.end is not None and dgram.end != end)
        if bad or (dgram.end is not None and end > dgram.end):
            del self._pending[key]  # fragments that disagree: nothing trustworthy to build
            return None
        if not more:
            dgram.end = end
        dgram.parts.setdefault(offset, data)
        payload = _joined(dgram)
        if payload is None:
            return None
        del self._pending[key]
        return dgram, payload


def _joined(dgram: _Datagram) -> bytes | None:
    """The payload when every byte from 0 to the end is there (and the head), else None."""
    if dgram.end is None or not dgram.head:
        return None
    out = bytearray()
    for offset in sorted(dgram.parts):
        if offset > len(out):
            return None  # a hole
        part = dgram.parts[offset]
        out += part[len(out) - offset :]  # overlaps: the bytes already there stay
    return bytes(out[: dgram.end]) if len(out) >= dgram.end else None


def fragment(data: bytes, family: int, mtu: int, ident: int | None = None) -> list[bytes]:
    """The IP packet DATA cut into fragments of at most MTU bytes (Scapy's fragment and
    fragment6), as the kernel cuts what a socket sends: a packet handed whole to a raw
    socket is not cut. IDENT: the fragments' identification (IPv4: else the packet's)."""
    if family == 4:
        from scapy.layers.inet import IP
        from scapy.layers.inet import fragment as fragment4

        ip = IP(data)
        if ident is not None:
            ip.id = ident
        return [bytes(f) for f in fragment4(ip, fragsize=mtu - ip.ihl * 4)]
    from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, fragment6

    ip6 = IPv6(data)
    upper = ip6.payload
    nh = ip6.nh
    ip6.remove_payload()
    del ip6.nh, ip6.plen
    frag = IPv6ExtHdrFragment(nh=nh, id=ident if ident is not None else 0)
    return [bytes(f) for f in fragment6(ip6 / frag / upper, mtu)]
