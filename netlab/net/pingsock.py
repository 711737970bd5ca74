"""Ping without CAP_NET_RAW: the kernel's unprivileged ICMP datagram socket.

Linux lets a process open `socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)` when its
group is inside `net.ipv4.ping_group_range` (per network namespace). The kernel
then owns the echo identifier (the socket's "port") and hands back only the ICMP
message, the TTL as a control message, and ICMP errors on the error queue
(IP_RECVERR). `DatagramRunner` turns each of these into the raw-IP frame it
stands for and feeds the same sans-I/O `EchoCore` that the raw runner drives,
so replies, errors and statistics are computed by exactly the same code.

What is lost without raw sockets: the identifier is the kernel's (or -e's, bound
as the socket's port), `-v` and `--write` have no capture to show, and the send
time comes from our clock right after `sendto()` (the receive time is still the
kernel's SO_TIMESTAMPNS). The IP header options of iputils (-Q, -M, -r, -b)
become socket options here; with raw sockets `RawPingRunner` sets the two that
are not header fields (SO_DONTROUTE, SO_BROADCAST).
"""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

from netlab.core.base import Send
from netlab.net.loop import LoopRunner, drain
from netlab.net.runner import Runner
from netlab.wire.link import LinkFrame

SO_TIMESTAMPNS = 35
IP_RECVERR = 11
IP_RECVTTL = 12
IP_TTL = 2
IPV6_RECVERR = 25
IPV6_RECVHOPLIMIT = 51
IPV6_HOPLIMIT = 52
MSG_ERRQUEUE = 0x2000
IP_MTU_DISCOVER = 10
IP_PMTUDISC_DO = 2
IPV6_MTU_DISCOVER = 23
IPV6_TCLASS = 67
# -M's words as IP(V6)_PMTUDISC_* values (the same numbers for both families).
PMTUDISC = {"dont": 0, "want": 1, "do": 2, "probe": 3}
SO_EE_ORIGIN_ICMP = 2
SO_EE_ORIGIN_ICMP6 = 3
LINKTYPE_RAW = 101
_EXTENDED_ERR = struct.Struct("=IBBBBII")  # struct sock_extended_err
_TIMESPEC = struct.Struct("=qq")


def unprivileged_ping_allowed() -> bool:
    """Is one of our groups inside net.ipv4.ping_group_range (this namespace)?"""
    try:
        with open("/proc/sys/net/ipv4/ping_group_range", encoding="ascii") as f:
            low, high = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        return False
    return any(low <= gid <= high for gid in {os.getgid(), *os.getgroups()})


class RawPingRunner(Runner):
    """The packet runner, with the two socket options of iputils that are not fields of
    the header netlab writes: -r (SO_DONTROUTE: on-link only) and -b (SO_BROADCAST)."""

    def __init__(self, iface: str, *, dontroute: bool = False, broadcast: bool = False,
                 **options: Any) -> None:  # fmt: skip
        super().__init__(iface, **options)
        self.dontroute, self.broadcast = dontroute, broadcast

    def _l3_socket(self, family: int) -> socket.socket:
        fresh = family not in self._l3
        sock = super()._l3_socket(family)
        if fresh:
            if self.dontroute:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_DONTROUTE, 1)
            if self.broadcast:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        return sock


class DatagramRunner(LoopRunner):
    """Runs an EchoCore over ICMP datagram sockets (one per address family)."""

    def __init__(self, families: set[int], ttl: int = 64, df: bool = False, *,
                 tos: int = 0, pmtudisc: str | None = None, dontroute: bool = False,
                 broadcast: bool = False, ident: int | None = None) -> None:  # fmt: skip
        self.socks: dict[int, socket.socket] = {}
        options = {"tos": tos, "pmtudisc": "do" if df else pmtudisc, "dontroute": dontroute,
                   "broadcast": broadcast, "ident": ident}  # fmt: skip
        for family in sorted(families):
            self.socks[family] = self._open(family, ttl, **options)
        self.interrupted = False

    @staticmethod
    def _open(family: int, ttl: int, *, tos: int, pmtudisc: str | None, dontroute: bool,
              broadcast: bool, ident: int | None) -> socket.socket:  # fmt: skip
        """The kernel writes the IP header of a ping socket: TTL, TOS and DF are options;
        the echo identifier is the port the socket is bound to (-e)."""
        if family == 4:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
            sock.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
            sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
            if tos:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, tos)
            if pmtudisc:
                sock.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, PMTUDISC[pmtudisc])
        else:
            sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM, socket.IPPROTO_ICMPV6)
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
            if tos:
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_TCLASS, tos)
            if pmtudisc:
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_MTU_DISCOVER, PMTUDISC[pmtudisc])
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        if dontroute:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_DONTROUTE, 1)
        if broadcast:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.bind(("0.0.0.0", ident or 0) if family == 4 else ("::", ident or 0))
        return sock

    def ident(self) -> int:
        """The echo identifier the kernel uses: the socket's local "port"."""
        sock = next(iter(self.socks.values()))
        return sock.getsockname()[1]

    def run(self, core: Any, on_event: Callable[[Any], None]) -> bool:
        try:
            return self.drive(core, on_event)
        finally:
            for sock in self.socks.values():
                sock.close()

    def _readables(self) -> list[Any]:
        return list(self.socks.values())

    def _on_readable(self, core: Any, source: Any, on_event) -> bool:
        family = next(f for f, s in self.socks.items() if s is source)
        for frame in self._read(family, source):
            self._dispatch(core, core.on_packet(frame, time.time_ns()), on_event)
        return True

    def _dispatch(self, core, sends: list[Send], on_event) -> None:
        pending = list(sends)
        while pending:
            send = pending.pop(0)
            try:
                icmp = _strip_ip_header(send.data, send.family)
                # Our clock just *before* the syscall: the reply's kernel receive stamp
                # can come before any reading taken after sendto() returns.
                sent_ns = time.time_ns()
                self.socks[send.family].sendto(icmp, (send.dest, 0))
                # Our request as it left (with the kernel's id): the send time the core
                # measures round trips from.
                core.on_packet(_raw_frame(send.data, sent_ns), time.time_ns())
            except OSError as err:
                pending.extend(core.on_send_error(send, err, time.time_ns()))
        drain(core, on_event)

    # --- receiving ----------------------------------------------------------------------
    def _read(self, family: int, sock: socket.socket) -> list[LinkFrame]:
        frames = []
        try:  # errors first: an ICMP error also wakes the socket
            while True:
                data, anc, _flags, addr = sock.recvmsg(
                    65535, 512, MSG_ERRQUEUE | socket.MSG_DONTWAIT
                )
                # On the error queue, the message's address is where our echo was going.
                frame = self._error_frame(family, sock, data, anc, addr[0])
                if frame is not None:
                    frames.append(frame)
        except (BlockingIOError, InterruptedError):
            pass
        try:
            while True:
                data, anc, _flags, addr = sock.recvmsg(65535, 512, socket.MSG_DONTWAIT)
                ttl, ts = _ttl_and_time(anc)
                local = _local_address(sock, family, addr[0])
                frames.append(_raw_frame(_ip_packet(family, addr[0], local, ttl, data), ts))
        except (BlockingIOError, InterruptedError):
            pass
        return frames

    @staticmethod
    def _error_frame(family: int, sock, data: bytes, anc, target: str) -> LinkFrame | None:
        for _level, kind, cdata in anc:
            if (family, kind) not in ((4, IP_RECVERR), (6, IPV6_RECVERR)):
                continue
            _errno, origin, icmp_type, code, _pad, info, _ee_data = _EXTENDED_ERR.unpack_from(cdata)
            if origin not in (SO_EE_ORIGIN_ICMP, SO_EE_ORIGIN_ICMP6):
                return None
            offender = _sockaddr_address(family, cdata[_EXTENDED_ERR.size :])
            local = _local_address(sock, family, offender)
            # data is our own ICMP message, as the router quoted it.
            quoted = _ip_packet(family, local, target, 64, data)
            rest = struct.pack("!I", info if (family, icmp_type) in ((4, 3), (6, 2)) else 0)
            error = bytes([icmp_type, code, 0, 0]) + rest + quoted
            return _raw_frame(_ip_packet(family, offender, local, 64, error), time.time_ns())
        return None


def _strip_ip_header(packet: bytes, family: int) -> bytes:
    return packet[(packet[0] & 0x0F) * 4 :] if family == 4 else packet[40:]


def _raw_frame(packet: bytes, ts_ns: int) -> LinkFrame:
    return LinkFrame(packet, ts_ns, LINKTYPE_RAW)


def _ip_packet(family: int, src: str, dst: str, ttl: int, payload: bytes) -> bytes:
    """The IP header the kernel took off (the checksum is not needed by the core)."""
    if family == 4:
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0, ttl, 1, 0,
                             socket.inet_aton(src), socket.inet_aton(dst))  # fmt: skip
        return header + payload
    header = struct.pack("!IHBB16s16s", 6 << 28, len(payload), 58, ttl,
                         socket.inet_pton(socket.AF_INET6, src),
                         socket.inet_pton(socket.AF_INET6, dst))  # fmt: skip
    return header + payload


def _ttl_and_time(anc) -> tuple[int, int]:
    ttl, ts = 0, time.time_ns()
    for level, kind, cdata in anc:
        if kind in (IP_TTL, IPV6_HOPLIMIT) and len(cdata) >= 4:
            ttl = struct.unpack("=i", cdata[:4])[0]
        elif level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            sec, nsec = _TIMESPEC.unpack_from(cdata)
            ts = sec * 1_000_000_000 + nsec
    return ttl, ts


def _sockaddr_address(family: int, raw: bytes) -> str:
    if family == 4 and len(raw) >= 8:
        return socket.inet_ntoa(raw[4:8])
    if family == 6 and len(raw) >= 24:
        return socket.inet_ntop(socket.AF_INET6, raw[8:24])
    return "0.0.0.0" if family == 4 else "::"


def _local_address(sock: socket.socket, family: int, peer: str) -> str:
    """Our address towards PEER (the IP header's other end)."""
    probe = socket.socket(sock.family, socket.SOCK_DGRAM)
    try:
        probe.connect((peer, 9))
        return probe.getsockname()[0]
    except OSError:
        return "0.0.0.0" if family == 4 else "::"
    finally:
        probe.close()
