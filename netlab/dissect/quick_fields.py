"""`-T fields` of plain frames read straight off the bytes, without a Packet.

`Dissector.columns` accepts a frame only when it is plain: Ethernet, then IPv4 without
options or fragments (the header is 20 bytes: layer 4 at offset 34) or IPv6 without
extension headers (layer 4 at 54) carrying TCP, UDP or an ICMP echo, or ARP; and it
keeps the cross-packet state as dissect() would. In such a frame the address and port
fields occur once, at fixed offsets, so `-e ip.src -e tcp.srcport` — the everyday
scripting case — needs neither layers nor rows. Any other frame, or any other field
asked for, takes the full path. tests/test_fast_views.py holds every getter to the rows
dissect() builds, on pcaps/ and the corpus.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from netlab.dissect.fields import ALIASES
from netlab.dissect.ipv6 import ntop6
from netlab.dissect.link import mac

_ntoa = socket.inet_ntoa


def _is4(d: bytes) -> bool:
    return d[12] == 0x08 and d[13] == 0x00


def _is6(d: bytes) -> bool:
    return d[12] == 0x86 and d[13] == 0xDD


def _l4(proto: int) -> Callable[[bytes], int | None]:
    """The layer-4 offset of a plain frame carrying PROTO, or None."""

    def offset(d: bytes) -> int | None:
        if _is4(d):
            return 34 if d[23] == proto else None
        if _is6(d):
            return 54 if d[20] == proto else None
        return None

    return offset


def _port(proto: int, at: int) -> Callable[[bytes], list[Any]]:
    where = _l4(proto)

    def get(d: bytes) -> list[Any]:
        off = where(d)
        return [] if off is None else [d[off + at] << 8 | d[off + at + 1]]

    return get


GETTERS: dict[str, Callable[[bytes], list[Any]]] = {
    "eth.dst": lambda d: [mac(d[0:6])],
    "eth.src": lambda d: [mac(d[6:12])],
    "ip.src": lambda d: [_ntoa(d[26:30])] if _is4(d) else [],
    "ip.dst": lambda d: [_ntoa(d[30:34])] if _is4(d) else [],
    "ip.proto": lambda d: [d[23]] if _is4(d) else [],
    "ip.ttl": lambda d: [d[22]] if _is4(d) else [],
    "ipv6.src": lambda d: [ntop6(d[22:38])] if _is6(d) else [],
    "ipv6.dst": lambda d: [ntop6(d[38:54])] if _is6(d) else [],
    "ipv6.nxt": lambda d: [d[20]] if _is6(d) else [],
    "ipv6.hlim": lambda d: [d[21]] if _is6(d) else [],
    "tcp.srcport": _port(6, 0),
    "tcp.dstport": _port(6, 2),
    "udp.srcport": _port(17, 0),
    "udp.dstport": _port(17, 2),
}


class QuickFields:
    """`PacketFields.get` for one plain frame at a time (`on(data)`), from GETTERS."""

    __slots__ = ("data",)

    def __init__(self) -> None:
        self.data = b""

    def on(self, data: bytes) -> QuickFields:
        self.data = data
        return self

    def get(self, name: str) -> list[Any]:
        parts = ALIASES.get(name)
        if parts is None:
            return GETTERS[name](self.data)
        return [v for part in parts for v in GETTERS[part](self.data)]


def quick_fields(names: list[str]) -> QuickFields | None:
    """A QuickFields when GETTERS (or aliases of them) answer every name, else None."""
    for name in names:
        if not all(part in GETTERS for part in ALIASES.get(name, (name,))):
            return None
    return QuickFields()
