"""The kernel's route to an address over rtnetlink (RTM_GETROUTE), without running `ip`.

`net/route.route_to` asks `ip -j route get`: one process, a few milliseconds, which
is nothing for most commands and a few percent of a 1,000-port SYN scan's wall time
(and one process more than nmap runs). This is the same question asked over a
NETLINK_ROUTE socket (rtnetlink(7)), answered with the same `Route`; the scan falls
back on `route_to` if the socket itself fails.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct

from netlab.errors import InputError
from netlab.net.route import Route

NETLINK_ROUTE = 0
RTM_NEWROUTE, RTM_GETROUTE = 24, 26
NLMSG_ERROR = 2
NLM_F_REQUEST = 1
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PREFSRC, RTA_METRICS = 1, 4, 5, 7, 8
RTAX_MTU = 2
RTN_NAMES = {6: "blackhole", 7: "unreachable", 8: "prohibit"}
_NLMSGHDR = struct.Struct("=IHHII")
_RTMSG = struct.Struct("=BBBBBBBBI")
_RTATTR = struct.Struct("=HH")


def _attr(kind: int, data: bytes) -> bytes:
    raw = _RTATTR.pack(_RTATTR.size + len(data), kind) + data
    return raw + b"\0" * (-len(raw) % 4)


def _attrs(data: bytes, off: int) -> dict[int, bytes]:
    found: dict[int, bytes] = {}
    while off + _RTATTR.size <= len(data):
        length, kind = _RTATTR.unpack_from(data, off)
        if length < _RTATTR.size:
            break
        found.setdefault(kind & 0x3FFF, data[off + _RTATTR.size : off + length])
        off += (length + 3) & ~3
    return found


def request(target: str, oif: int = 0) -> bytes:
    addr = ipaddress.ip_address(target)
    family = socket.AF_INET if addr.version == 4 else socket.AF_INET6
    body = _RTMSG.pack(family, addr.max_prefixlen, 0, 0, 0, 0, 0, 0, 0) + _attr(
        RTA_DST, addr.packed
    )
    if oif:
        body += _attr(RTA_OIF, struct.pack("=i", oif))
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), RTM_GETROUTE, NLM_F_REQUEST, 1, 0) + body


def parse(target: str, reply: bytes) -> Route:
    """The Route in a reply to `request`; InputError for no route (as route_to says it)."""
    length, kind, _flags, _seq, _pid = _NLMSGHDR.unpack_from(reply)
    if kind == NLMSG_ERROR:
        (error,) = struct.unpack_from("=i", reply, _NLMSGHDR.size)
        raise InputError(f"no route to {target}: {os.strerror(-error) if error else '?'}")
    if kind != RTM_NEWROUTE:
        raise OSError(f"rtnetlink answered message type {kind}")
    family, _dst_len, _src_len, _tos, _table, _proto, _scope, rtype, _f = _RTMSG.unpack_from(
        reply, _NLMSGHDR.size
    )
    if rtype in RTN_NAMES:
        raise InputError(f"no route to {target}: the route is {RTN_NAMES[rtype]}")
    attrs = _attrs(reply[:length], _NLMSGHDR.size + _RTMSG.size)
    af = socket.AF_INET if family == socket.AF_INET else socket.AF_INET6
    dev = "lo"
    if RTA_OIF in attrs:
        dev = socket.if_indextoname(struct.unpack("=i", attrs[RTA_OIF][:4])[0])
    src = socket.inet_ntop(af, attrs[RTA_PREFSRC]) if RTA_PREFSRC in attrs else ""
    gateway = socket.inet_ntop(af, attrs[RTA_GATEWAY]) if RTA_GATEWAY in attrs else None
    mtu = None
    if RTA_METRICS in attrs:
        metrics = _attrs(attrs[RTA_METRICS], 0)
        if RTAX_MTU in metrics:
            mtu = struct.unpack("=I", metrics[RTAX_MTU][:4])[0]
    version = 4 if af == socket.AF_INET else 6
    return Route(target=target, dev=dev, src=src, gateway=gateway, family=version, path_mtu=mtu)


def route_get(target: str, iface: str | None = None) -> Route:
    """`ip route get TARGET [oif IFACE]` over rtnetlink. OSError if the socket fails."""
    oif = 0
    if iface:
        try:
            oif = socket.if_nametoindex(iface)
        except OSError:
            raise InputError(f"no interface named '{iface}'") from None
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE) as sock:
        sock.settimeout(2.0)
        sock.send(request(target, oif))
        reply = sock.recv(65536)
    try:
        return parse(target, reply)
    except (struct.error, IndexError, ValueError) as err:
        raise OSError(f"rtnetlink reply not understood: {err}") from None
