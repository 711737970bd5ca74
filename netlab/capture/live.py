"""Live capture on an AF_PACKET socket: kernel BPF filter, kernel time stamps, drop counts.

What tcpdump gets from libpcap, done with the socket module:

- one SOCK_RAW socket per interface, both directions (PACKET_OUTGOING too);
- the filter compiled by libpcap (`bpf.py`) and attached before the socket is
  bound, so no unfiltered packet is ever queued;
- the kernel's receive time stamp of each packet (SO_TIMESTAMPNS), the same one
  tcpdump reads, in integer nanoseconds;
- the original length and stripped VLAN tag from PACKET_AUXDATA;
- PACKET_STATISTICS for packets dropped because we read too slowly.

Frames come out as `netlab.capture.reader.Frame`, exactly what reading a file
gives, so `sniff` and `dissect` share one loop body.
"""

from __future__ import annotations

import fcntl
import select
import signal
import socket
import struct
import threading
import time
from collections.abc import Iterator

from netlab.capture import bpf
from netlab.capture.linktypes import LINKTYPE_ETHERNET, LINKTYPE_RAW
from netlab.capture.reader import Frame
from netlab.errors import InputError

# <linux/if_ether.h>, <linux/if_packet.h>, <asm-generic/socket.h>, <linux/sockios.h>
ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_STATISTICS = 6
PACKET_AUXDATA = 8
PACKET_OUTGOING = 4
SO_TIMESTAMPNS = 35  # SO_TIMESTAMPNS_OLD: struct timespec with 64-bit longs on 64-bit hosts
SCM_TIMESTAMPNS = SO_TIMESTAMPNS
SO_RCVBUFFORCE = 33
SIOCGIFHWADDR = 0x8927
SIOCGIFNETMASK = 0x891B
TP_STATUS_VLAN_VALID = 1 << 4
TP_STATUS_VLAN_TPID_VALID = 1 << 6
ETH_P_8021Q = 0x8100

# <linux/if_arp.h>: the hardware types we know how to frame.
ARPHRD_ETHER = 1
ARPHRD_LOOPBACK = 772  # Linux loopback carries Ethernet headers (zero MACs)
ARPHRD_NONE = 0xFFFE  # tun, wireguard: the packet starts at the IP header
LINKTYPE_OF_ARPHRD = {
    ARPHRD_ETHER: LINKTYPE_ETHERNET,
    ARPHRD_LOOPBACK: LINKTYPE_ETHERNET,
    ARPHRD_NONE: LINKTYPE_RAW,
}

DEFAULT_SNAPLEN = 262144  # libpcap's MAXIMUM_SNAPLEN
RCVBUF_BYTES = 4 << 20  # tcpdump's default -B is 2 MiB; a little more headroom for bursts

_TIMESPEC = struct.Struct("@qq")  # tv_sec, tv_nsec
_AUXDATA = struct.Struct("@IIIHHHH")  # struct tpacket_auxdata
_STATS = struct.Struct("@II")  # struct tpacket_stats: tp_packets, tp_drops
_ANCBUF = socket.CMSG_SPACE(_TIMESPEC.size) + socket.CMSG_SPACE(_AUXDATA.size)


def _ifreq(iface: str, request: int) -> bytes:
    """An SIOCGIF* ioctl on a throwaway socket (no privilege needed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        return fcntl.ioctl(s, request, struct.pack("16s16x", iface.encode()))


def interface_index(iface: str) -> int:
    try:
        return socket.if_nametoindex(iface)
    except OSError:
        raise InputError(f"no such interface '{iface}'") from None


def arphrd(iface: str) -> int:
    """The interface's hardware type (sa_family of SIOCGIFHWADDR)."""
    return struct.unpack_from("@H", _ifreq(iface, SIOCGIFHWADDR), 16)[0]


def ipv4_netmask(iface: str) -> int:
    """The interface's IPv4 netmask in host order, as pcap_lookupnet gives tcpdump."""
    try:
        raw = _ifreq(iface, SIOCGIFNETMASK)
    except OSError:  # no IPv4 address on the interface
        return bpf.PCAP_NETMASK_UNKNOWN
    return struct.unpack_from("!I", raw, 20)[0]


def _routes_v4() -> Iterator[tuple[int, str]]:
    with open("/proc/net/route", encoding="ascii") as table:
        next(table)  # header
        for line in table:
            iface, dest, _gw, flags, _rc, _use, metric, mask, *_ = line.split()
            if dest == "00000000" and mask == "00000000" and int(flags, 16) & 1:  # RTF_UP
                yield int(metric), iface


def _routes_v6() -> Iterator[tuple[int, str]]:
    with open("/proc/net/ipv6_route", encoding="ascii") as table:
        for line in table:
            dest, plen, *_, metric, _ref, _use, flags, iface = line.split()
            # The kernel keeps an "unreachable" ::/0 on lo (RTF_REJECT): not a real route.
            if int(dest, 16) == 0 and plen == "00" and not int(flags, 16) & 0x0200:
                yield int(metric, 16), iface


def default_interface() -> str:
    """The interface of the default route (IPv4 first), like tcpdump's first usable one."""
    for routes in (_routes_v4, _routes_v6):
        try:
            found = sorted(routes())
        except OSError:
            continue
        if found:
            return found[0][1]
    raise InputError("no default route to pick an interface from; choose one with -i IFACE")


def _timestamp_ns(ancdata: list[tuple[int, int, bytes]]) -> tuple[int | None, bytes | None]:
    ts_ns = aux = None
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS:
            sec, nsec = _TIMESPEC.unpack_from(data)
            ts_ns = sec * 1_000_000_000 + nsec
        elif level == SOL_PACKET and kind == PACKET_AUXDATA:
            aux = data
    return ts_ns, aux


class LiveCapture:
    """An open capture on one interface; iterate `frames()` to read it."""

    def __init__(
        self,
        iface: str,
        expression: str = "",
        *,
        snaplen: int = DEFAULT_SNAPLEN,
        promiscuous: bool = True,
    ) -> None:
        self.ifindex = interface_index(iface)  # a clear error before anything else
        hwtype = arphrd(iface)
        linktype = LINKTYPE_OF_ARPHRD.get(hwtype)
        if linktype is None:
            raise InputError(
                f"cannot capture on '{iface}': hardware type {hwtype} is neither "
                "Ethernet nor raw IP"
            )
        self.iface = iface
        self.linktype = linktype
        self.snaplen = snaplen
        self.loopback = hwtype == ARPHRD_LOOPBACK
        self.last_outgoing: bool | None = None
        program = bpf.compile_filter(expression, linktype, snaplen, ipv4_netmask(iface))
        self.captured = 0
        self._packets = self._drops = 0
        self._buf = bytearray(snaplen)
        self.sock = self._open(program, promiscuous)

    def _open(self, program: list[bpf.Insn], promiscuous: bool) -> socket.socket:
        # Protocol 0: the kernel hooks the socket into receive only at bind(), so the
        # filter attached before bind() sees the very first packet (no unfiltered gap).
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        try:
            set_filter(sock, program)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
            _grow_rcvbuf(sock)
            sock.bind((self.iface, ETH_P_ALL))
            if promiscuous:
                # Per-socket membership: the kernel undoes it when the socket closes.
                mreq = struct.pack("@iHH8s", self.ifindex, PACKET_MR_PROMISC, 0, b"")
                sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
        except BaseException:
            sock.close()
            raise
        return sock

    def frames(
        self, timeout: float | None = None, stop: SignalStop | None = None
    ) -> Iterator[Frame]:
        """Captured frames until `timeout` seconds pass (never if None) or `stop` fires.

        `stop` is checked only between packets, so a packet that was read is always
        handed over: what is counted, shown and written stay the same.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        waitables: list = [self.sock] if stop is None else [self.sock, stop]
        while stop is None or not stop.fired:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                return
            ready, _, _ = select.select(waitables, [], [], wait)
            if self.sock in ready and (stop is None or not stop.fired):
                frame = self.read()
                if frame is not None:
                    self.captured += 1
                    yield frame

    def read(self) -> Frame | None:
        """One packet from the socket (None for a loopback echo that tcpdump drops too)."""
        n, ancdata, _flags, addr = self._recv()
        # On lo every packet is seen leaving and arriving: keep one copy, as libpcap does.
        if self.loopback and addr[2] == PACKET_OUTGOING:
            return None
        # Which way it went, for cores (None on lo: the copy kept is the arriving one).
        self.last_outgoing = None if self.loopback else addr[2] == PACKET_OUTGOING
        ts_ns, aux = _timestamp_ns(ancdata)
        if ts_ns is None:  # only if the kernel refused SO_TIMESTAMPNS
            ts_ns = time.time_ns()
        data = bytes(self._buf[:n])
        wirelen = n
        if aux is not None:
            status, tp_len, _snap, _mac, _net, tci, tpid = _AUXDATA.unpack_from(aux)
            wirelen = tp_len
            if status & TP_STATUS_VLAN_VALID and self.linktype == LINKTYPE_ETHERNET:
                data, wirelen = _insert_vlan_tag(data, wirelen, status, tci, tpid)
        return Frame(ts_ns, len(data), max(wirelen, len(data)), self.linktype, data, 0, None)

    def _recv(self):
        try:
            return self.sock.recvmsg_into([self._buf], _ANCBUF)
        except OSError as err:
            # e.g. ENETDOWN: the interface went away under us (its namespace was deleted).
            raise InputError(f"capture on '{self.iface}' failed: {err.strerror}") from None

    def stats(self) -> tuple[int, int]:
        """(packets the filter accepted, how many of those the kernel dropped) so far.

        The kernel counts a dropped packet in both numbers (tp_packets includes tp_drops).
        """
        if self.sock.fileno() != -1:
            # Reading PACKET_STATISTICS resets the kernel's counters: accumulate.
            raw = self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, _STATS.size)
            packets, drops = _STATS.unpack(raw)
            self._packets += packets
            self._drops += drops
        return self._packets, self._drops

    def close(self) -> None:
        self.stats()  # keep the final counts readable after close
        self.sock.close()

    def __enter__(self) -> LiveCapture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SignalStop:
    """SIGINT and SIGTERM end a capture loop between two packets, never inside one.

    The handlers only note the signal; `signal.set_wakeup_fd` writes a byte to a
    socket pair that `select` watches next to the capture socket, so the loop
    wakes at once. Installing handlers also undoes the SIG_IGN that shells give
    background jobs (`netlab sniff … &` then `kill -INT $pid`), as tcpdump does.
    Outside the main thread (where Python allows no handlers) it never fires.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self._saved: dict[int, object] = {}
        self._old_wakeup = -1
        self._pair: tuple[socket.socket, socket.socket] | None = None

    @property
    def fired(self) -> bool:
        return self.signum is not None

    def fileno(self) -> int:
        assert self._pair is not None
        return self._pair[0].fileno()

    def _note(self, signum: int, _frame: object) -> None:
        self.signum = signum

    def __enter__(self) -> SignalStop:
        self._pair = socket.socketpair()
        for end in self._pair:
            end.setblocking(False)
        if threading.current_thread() is threading.main_thread():
            self._old_wakeup = signal.set_wakeup_fd(
                self._pair[1].fileno(), warn_on_full_buffer=False
            )
            self._saved = {sig: signal.signal(sig, self._note) for sig in self.SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        if self._saved:
            signal.set_wakeup_fd(self._old_wakeup)
        if self._pair is not None:
            for end in self._pair:
                end.close()


def set_filter(sock: socket.socket, program: list[bpf.Insn]) -> None:
    """Replace the filter of a socket that may already be receiving.

    Packets queued under the old filter would otherwise be read as if they matched
    the new one (the race libpcap closes the same way): reject everything, drain
    what is queued, then attach the real program.
    """
    bpf.attach_filter(sock, bpf.REJECT_ALL)
    _drain(sock)
    bpf.attach_filter(sock, program)


def _drain(sock: socket.socket) -> None:
    while True:
        try:
            sock.recv(1, socket.MSG_DONTWAIT | socket.MSG_TRUNC)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # an unbound socket has nothing to drain
            return


def _grow_rcvbuf(sock: socket.socket) -> None:
    # SO_RCVBUFFORCE passes net.core.rmem_max (root); SO_RCVBUF is capped by it.
    for option in (SO_RCVBUFFORCE, socket.SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, RCVBUF_BYTES)
            return
        except OSError:
            continue


def _insert_vlan_tag(data: bytes, wirelen: int, status: int, tci: int, tpid: int):
    """Put back the 802.1Q tag that VLAN offload stripped (the kernel gives it aside)."""
    if not status & TP_STATUS_VLAN_TPID_VALID:
        tpid = ETH_P_8021Q
    tag = struct.pack("!HH", tpid, tci)
    return data[:12] + tag + data[12:], wirelen + len(tag)
