"""Traceroute without CAP_NET_RAW: UDP probes on a kernel socket, answers from IP_RECVERR.

What Linux traceroute's default method and tracepath do: an ordinary UDP socket,
connected to the target's port, with IP_RECVERR (IPV6_RECVERR) set, so the ICMP
errors the probes cause are queued on the socket (read with MSG_ERRQUEUE): a
`sock_extended_err` names the router (its sockaddr follows the struct), the ICMP
type and code, the MTU of a "fragmentation needed"; the message's data is the
probe's UDP payload as the router quoted it. TTL is set per probe with IP_TTL
(IPV6_UNICAST_HOPS). No privilege is needed.

`RecvErrRunner` runs the same sans-I/O `TraceCore` as the raw runner: it takes the
probes the core builds, sends their UDP payload with their TTL, and turns each
queued error back into the ICMP message it stands for (outer IP header, ICMP
header, the quoted IP + UDP headers rebuilt around the quoted payload), so hops,
marks, waits and path MTU are computed by exactly the same code.

What is lost without raw sockets (as for ping's datagram sockets): the kernel
picks the source port (constant for the trace: the Paris flow holds) and the
IPv4 ID, so a probe is known by the first word of its payload, which a router
must quote (Linux routers quote up to 576 bytes; an RFC 792 router that quotes
only 8 bytes of UDP leaves its hop as stars); `-v` and `--write` have no
capture; the send time is our clock right before `send()` (the answer's time is
still the kernel's receive stamp).
"""

from __future__ import annotations

import errno
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

from netlab.core.base import Send
from netlab.net.loop import LoopRunner, drain
from netlab.net.pingsock import (
    _EXTENDED_ERR,
    IP_RECVERR,
    IPV6_RECVERR,
    LINKTYPE_RAW,
    MSG_ERRQUEUE,
    SO_EE_ORIGIN_ICMP,
    SO_EE_ORIGIN_ICMP6,
    SO_TIMESTAMPNS,
    _sockaddr_address,
    _ttl_and_time,
)
from netlab.wire.link import LinkFrame

IP_MTU_DISCOVER = 10
IP_PMTUDISC_DONT = 0
IP_PMTUDISC_PROBE = 3  # DF set, the kernel's cached path MTU ignored (as a raw socket)
IPV6_MTU_DISCOVER = 23
IPV6_PMTUDISC_PROBE = 3
IPV6_DONTFRAG = 62
# A send can fail with the error a just-arrived ICMP message left on the socket
# (sk_err: the kernel reports it once, and the probe was not sent): send again.
STALE_ERRORS = {errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EPROTO,
                errno.EACCES, errno.EPERM, errno.EMSGSIZE, errno.ENOPROTOOPT}  # fmt: skip
SEND_TRIES = 8
MAX_READS = 512  # per wake-up: bounded, the next select() comes back for the rest


def udp_allowed(family: int) -> bool:
    """Can this process open a UDP socket of FAMILY (no IPv6 in a kernel: no)?"""
    try:
        socket.socket(socket.AF_INET if family == 4 else socket.AF_INET6, socket.SOCK_DGRAM).close()
    except OSError:
        return False
    return True


class RecvErrRunner(LoopRunner):
    """Runs a UDP TraceCore over one connected UDP socket with IP_RECVERR."""

    def __init__(self, family: int, src: str, dst: str, dport: int, df: bool = False) -> None:
        self.family = family
        af = socket.AF_INET if family == 4 else socket.AF_INET6
        sock = socket.socket(af, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            if family == 4:
                sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
                mode = IP_PMTUDISC_PROBE if df else IP_PMTUDISC_DONT
                sock.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, mode)
            else:
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
                if df:
                    sock.setsockopt(socket.IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_PROBE)
                    sock.setsockopt(socket.IPPROTO_IPV6, IPV6_DONTFRAG, 1)
            sock.bind((src or ("0.0.0.0" if family == 4 else "::"), 0))
            sock.connect((dst, dport))
        except OSError:
            sock.close()
            raise
        self.sock = sock
        name = sock.getsockname()
        self.src, self.sport = name[0], name[1]  # the Paris flow's source, fixed by the kernel
        self.dst, self.dport = dst, dport
        self._ttl = -1
        self.interrupted = False

    def run(self, core: Any, on_event: Callable[[Any], None]) -> bool:
        try:
            return self.drive(core, on_event)
        finally:
            self.sock.close()

    def _readables(self) -> list[Any]:
        return [self.sock]

    # --- sending ------------------------------------------------------------------------
    def _dispatch(self, core: Any, sends: list[Send], on_event) -> None:
        pending = list(sends)
        while pending:
            send = pending.pop(0)
            try:
                ttl, payload = _ttl_and_payload(send.data, self.family)
                self._set_ttl(ttl)
                sent_ns = self._send(payload)
                # Our probe as it left: the send time the core measures round trips from.
                core.on_packet(LinkFrame(send.data, sent_ns, LINKTYPE_RAW), time.time_ns())
            except OSError as err:
                pending.extend(core.on_send_error(send, err, time.time_ns()))
        drain(core, on_event)

    def _set_ttl(self, ttl: int) -> None:
        if ttl != self._ttl:
            if self.family == 4:
                self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
            else:
                self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
            self._ttl = ttl

    def _send(self, payload: bytes) -> int:
        for attempt in range(SEND_TRIES):
            # Our clock just *before* the syscall: the answer's kernel stamp can come
            # before any reading taken after send() returns (loopback).
            sent_ns = time.time_ns()
            try:
                self.sock.send(payload)
                return sent_ns
            except OSError as err:
                # A real error (EMSGSIZE over our own MTU, no route) comes back every
                # time: it is raised after the last try.
                if err.errno not in STALE_ERRORS or attempt == SEND_TRIES - 1:
                    raise
        raise AssertionError("unreachable")

    # --- receiving ----------------------------------------------------------------------
    def _on_readable(self, core: Any, source: Any, on_event) -> bool:
        for frame in self._read():
            self._dispatch(core, core.on_packet(frame, time.time_ns()), on_event)
        return True

    def _read(self) -> list[LinkFrame]:
        frames = []
        try:  # the errors: what traceroute is about
            for _ in range(MAX_READS):
                data, anc, _flags, _addr = self.sock.recvmsg(
                    65535, 512, MSG_ERRQUEUE | socket.MSG_DONTWAIT
                )
                frame = self._error_frame(data, anc)
                if frame is not None:
                    frames.append(frame)
        except (BlockingIOError, InterruptedError):
            pass
        try:  # a datagram back from a service on the port: read and drop it
            for _ in range(MAX_READS):
                self.sock.recv(65535, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            pass  # the socket's pending error, reported once: its message is on the queue
        return frames

    def _error_frame(self, data: bytes, anc) -> LinkFrame | None:
        ts = None
        found = None
        for level, kind, cdata in anc:
            if (level, kind) in ((socket.IPPROTO_IP, IP_RECVERR),
                                 (socket.IPPROTO_IPV6, IPV6_RECVERR)):  # fmt: skip
                found = cdata
            elif level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                ts = _ttl_and_time([(level, kind, cdata)])[1]
        if found is None or len(found) < _EXTENDED_ERR.size:
            return None
        _err, origin, icmp_type, code, _pad, info, _data = _EXTENDED_ERR.unpack_from(found)
        if origin not in (SO_EE_ORIGIN_ICMP, SO_EE_ORIGIN_ICMP6) or len(data) < 2:
            return None  # a local error (the send reported it), or no payload to match by
        offender = _sockaddr_address(self.family, found[_EXTENDED_ERR.size :])
        return LinkFrame(self.icmp_error(offender, icmp_type, code, info, data),
                         ts or time.time_ns(), LINKTYPE_RAW)  # fmt: skip

    def icmp_error(self, offender: str, icmp_type: int, code: int, info: int,
                   quoted_payload: bytes) -> bytes:  # fmt: skip
        """The ICMP message a queued error stands for, as a raw IP packet to us."""
        pid = struct.unpack_from("!H", quoted_payload)[0]  # the core's probe id
        udp = struct.pack("!HHHH", self.sport, self.dport, 8 + len(quoted_payload), 0)
        quoted = _ip_packet(self.family, self.src, self.dst, 17, 1, udp + quoted_payload, pid)
        too_big = (self.family, icmp_type) in ((4, 3), (6, 2))  # the MTU rides in `info`
        rest = struct.pack("!I", info if too_big else 0)
        icmp = bytes([icmp_type, code, 0, 0]) + rest + quoted
        return _ip_packet(self.family, offender, self.src, 1 if self.family == 4 else 58, 64,
                          icmp)  # fmt: skip


def _ttl_and_payload(packet: bytes, family: int) -> tuple[int, bytes]:
    """A probe the core built: its TTL and its UDP payload (the kernel adds the headers)."""
    if family == 4:
        return packet[8], packet[(packet[0] & 0x0F) * 4 + 8 :]
    return packet[7], packet[48:]


def _ip_packet(family: int, src: str, dst: str, proto: int, ttl: int, payload: bytes,
               ident: int = 0) -> bytes:  # fmt: skip
    """An IP header around PAYLOAD (no checksum: the core does not need one)."""
    if family == 4:
        return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0, ttl, proto, 0,
                           socket.inet_aton(src), socket.inet_aton(dst)) + payload  # fmt: skip
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), proto, ttl,
                       socket.inet_pton(socket.AF_INET6, src),
                       socket.inet_pton(socket.AF_INET6, dst)) + payload  # fmt: skip
