"""IPv4 answers received on raw IP sockets instead of a packet capture (the SYN scan's way).

The packet runner's default capture is an AF_PACKET socket: it sees frames both ways,
which `-v`/`-w` need. Closing one costs an RCU grace period in the kernel
(`synchronize_net()` in packet_release: 10-20 ms on this machine), a tenth of a
1,000-port scan's wall time. A raw IPv4 socket per protocol (TCP, ICMP) gets a copy of
every packet of that protocol the host receives, filtered by the same BPF program
(compiled for raw IP: the kernel runs it with the IP header at offset 0), with the
kernel's receive time stamps (SO_TIMESTAMPNS); closing it is cheap. It sees nothing
we send, and an IPv6 raw socket gets no IPv6 header, so the scan uses it for IPv4
without -v/-w only; everything else keeps the AF_PACKET capture.

One epoll descriptor stands for both sockets in the runner's select; `read()` takes a
packet from whichever has one. Same interface as `capture.live.LiveCapture`.
"""

from __future__ import annotations

import select
import socket
import struct

from netlab.capture import bpf
from netlab.capture.linktypes import LINKTYPE_RAW
from netlab.capture.reader import Frame

SO_TIMESTAMPNS = 35
SO_RCVBUFFORCE = 33
RCVBUF_BYTES = 4 << 20  # a scan's answers arrive faster than a burst is read
SNAPLEN = 65535
_TIMESPEC = struct.Struct("@qq")
_ANCBUF = socket.CMSG_SPACE(_TIMESPEC.size)


class IpCapture:
    """Raw IPv4 TCP and ICMP sockets with one capture filter (tcpdump syntax)."""

    linktype = LINKTYPE_RAW
    last_outgoing = False  # only what the host receives
    batch = True  # read() never blocks: the runner reads until it returns None

    def __init__(self, expression: str) -> None:
        program = bpf.compile_filter(expression, LINKTYPE_RAW, SNAPLEN)
        self._socks: list[socket.socket] = []
        self.sock = select.epoll()
        try:
            for proto in (socket.IPPROTO_TCP, socket.IPPROTO_ICMP):
                sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)
                self._socks.append(sock)
                # A raw socket receives from its creation: what it queued before the
                # filter was attached is drained (dropped) below.
                bpf.attach_filter(sock, program)
                sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
                for option in (SO_RCVBUFFORCE, socket.SO_RCVBUF):
                    try:
                        sock.setsockopt(socket.SOL_SOCKET, option, RCVBUF_BYTES)
                        break
                    except OSError:
                        continue
                sock.setblocking(False)
                self.sock.register(sock.fileno(), select.EPOLLIN)
        except BaseException:
            self.close()
            raise
        self._drain()
        self._buf = bytearray(SNAPLEN)

    def _drain(self) -> None:
        """What came between socket() and the filter: unfiltered, so dropped."""
        for sock in self._socks:
            for _ in range(10_000):
                try:
                    sock.recv(1, socket.MSG_TRUNC)
                except (BlockingIOError, InterruptedError):
                    break

    def read(self) -> Frame | None:
        """One packet (its IP header on), or None when neither socket has one."""
        for sock in self._socks:
            try:
                n, ancdata, _flags, _addr = sock.recvmsg_into([self._buf], _ANCBUF)
            except (BlockingIOError, InterruptedError):
                continue
            ts_ns = None
            for level, kind, data in ancdata:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = _TIMESPEC.unpack_from(data)
                    ts_ns = sec * 1_000_000_000 + nsec
            if ts_ns is None:
                import time

                ts_ns = time.time_ns()
            return Frame(ts_ns, n, n, LINKTYPE_RAW, bytes(self._buf[:n]), 0, None)
        return None

    def close(self) -> None:
        for sock in self._socks:
            sock.close()
        self.sock.close()

    def __enter__(self) -> IpCapture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_ip_capture(_iface: str, expression: str) -> IpCapture:
    """The runner's `capture` hook: (interface, filter) → capture."""
    return IpCapture(expression)
