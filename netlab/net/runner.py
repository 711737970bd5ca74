"""The packet runner: raw sockets out, one capture in, kernel timestamps.

A command's protocol logic is a sans-I/O *core* (netlab/core/): it never opens a
socket or reads the clock. The runner feeds it time and packets and carries out
what it asks:

    core.start(now)            -> [Send, …]     first probes
    core.on_packet(frame, now) -> [Send, …]     a captured frame (both directions)
    core.on_timer(now)         -> [Send, …]     its deadline passed
    core.on_send_error(send, err, now)          the kernel refused a send
    core.deadline()            -> ns | None     when to call on_timer next
    core.done()                -> bool
    core.pop_events()          -> [event, …]    what the command shows the user
    core.interrupt(now)                         Ctrl-C: wrap up (summaries of what was sent)

Receiving is one AF_PACKET socket on the outgoing interface, with the core's BPF
filter (tcpdump syntax, compiled by libpcap) and kernel timestamps; it sees our
own packets leave as well, so a round trip is measured kernel-to-kernel (send
timestamp at the device, receive timestamp at the device), not with Python's
clock around a syscall. The same frames go to the command's tap (`-v`, the
shared dissector, and `-w`, pcapng: `netlab.capture.tap`), so what is shown and
saved is exactly what went over the wire. The loop itself is `net/loop.py`'s,
shared with the other runners (`pingsock.py`, `sockets.py`).

Times are integer nanoseconds on CLOCK_REALTIME, the clock of the kernel's
packet timestamps.
"""

from __future__ import annotations

import select
import socket
from collections.abc import Callable
from typing import Any

from netlab.core.base import PacketCore, Send
from netlab.net.loop import LoopRunner, drain
from netlab.wire.link import LinkFrame

ETH_P_ALL = 0x0003
QUEUED_AFTER_DONE = 4096  # frames still queued when the core is done, recorded for -w/-v
BATCH = 64  # frames read in one go from a capture that never blocks


class Runner(LoopRunner):
    """Runs one core on one interface until it is done, its deadline passes, or Ctrl-C."""

    def __init__(
        self,
        iface: str,
        *,
        tap: Any = None,
        pmtu_probe: bool = False,
        mark: int | None = None,
        capture: Callable[[str, str], Any] | None = None,
    ) -> None:
        self.iface = iface
        # How answers come in: (interface, capture filter) → a capture with `sock`,
        # `read()`, `linktype`, `last_outgoing` (LiveCapture's interface). Default: an
        # AF_PACKET capture of the interface; `net/ipcapture.py` for a SYN scan.
        self.capture = capture
        # SO_MARK on our raw sockets: lets a firewall rule tell our packets from the
        # kernel's (tcp-handshake's RST guard drops the kernel's RSTs, not ours).
        self.mark = mark
        # Send at the interface MTU whatever path MTU the kernel has cached for the target
        # (IP_PMTUDISC_PROBE), so a big DF probe reaches the router that must answer
        # "fragmentation needed" instead of failing locally with EMSGSIZE (traceroute --mtu).
        self.pmtu_probe = pmtu_probe
        self.tap = tap  # -v / -w (netlab.capture.tap.Tap): given every captured frame
        self._l3: dict[int, socket.socket] = {}
        self._l2: socket.socket | None = None
        self.interrupted = False

    # --- sending -----------------------------------------------------------------
    def _l3_socket(self, family: int) -> socket.socket:
        sock = self._l3.get(family)
        if sock is None:
            af = socket.AF_INET if family == 4 else socket.AF_INET6
            # IPPROTO_RAW: we hand the kernel whole IP packets built by Scapy (IP_HDRINCL).
            sock = socket.socket(af, socket.SOCK_RAW, socket.IPPROTO_RAW)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, self.iface.encode())
            if self.mark is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, self.mark)
            if self.pmtu_probe:  # IP(V6)_MTU_DISCOVER = IP(V6)_PMTUDISC_PROBE
                level = socket.IPPROTO_IP if family == 4 else socket.IPPROTO_IPV6
                sock.setsockopt(level, 10 if family == 4 else 23, 3)
            self._l3[family] = sock
        return sock

    def _send(self, send: Send) -> None:
        if send.l2:
            if self._l2 is None:
                self._l2 = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
                self._l2.bind((self.iface, 0))
            self._l2.send(send.data)
        else:
            self._l3_socket(send.family).sendto(send.data, (send.dest, 0))

    # --- the loop ------------------------------------------------------------------
    def run(self, core: PacketCore, on_event: Callable[[Any], None]) -> bool:
        """Drive CORE; call ON_EVENT for each of its events. True if interrupted (Ctrl-C)."""
        try:
            with self._open_capture(core.capture_filter) as cap:
                self._cap = cap
                if self.tap is not None:
                    self.tap.add_interface(cap.linktype, self.iface)
                return self.drive(core, on_event)
        finally:
            for sock in [*self._l3.values(), self._l2]:
                if sock is not None:
                    sock.close()

    def _open_capture(self, expression: str) -> Any:
        if self.capture is not None:
            return self.capture(self.iface, expression)
        from netlab.capture.live import LiveCapture

        return LiveCapture(self.iface, expression, promiscuous=False)

    def _readables(self) -> list[Any]:
        return [self._cap.sock]

    def _on_readable(self, core: PacketCore, source: Any, on_event) -> bool:
        # A capture whose read() never blocks (`batch`, net/ipcapture.py) is read until
        # empty, at most BATCH frames: a scan's answers come a thousand at a time.
        for _ in range(BATCH if getattr(self._cap, "batch", False) else 1):
            frame = self._read(self._cap)
            if frame is None:
                break
            self._dispatch(core, core.on_packet(frame, self.clock()), on_event)
            if core.done():
                break
        return True

    def _after(self, core: PacketCore) -> None:
        if self.tap is not None:
            # The core is done, but probes it no longer needs (traceroute's beyond the
            # destination) and their answers may already be queued: -w and -v show
            # every packet sent and received, so they take what is there now.
            for _ in range(QUEUED_AFTER_DONE):
                if not select.select([self._cap.sock], [], [], 0)[0]:
                    break
                self._read(self._cap)

    def _read(self, cap) -> LinkFrame | None:
        """One frame off the capture, recorded by the tap, as the core sees it."""
        frame = cap.read()
        if frame is None:
            return None
        if self.tap is not None:
            self.tap.record(frame)
        return LinkFrame(frame.data, frame.ts_ns, frame.linktype, cap.last_outgoing)

    def _dispatch(self, core: PacketCore, sends: list[Send], on_event) -> None:
        pending = list(sends)
        while pending:
            send = pending.pop(0)
            try:
                self._send(send)
            except OSError as err:  # EMSGSIZE over the MTU with DF, EPERM from a firewall …
                pending.extend(core.on_send_error(send, err, self.clock()))
        drain(core, on_event)


def import_scapy_ip(families: set[int], sources_known: bool) -> None:
    """Import Scapy's IP layers now, before the clock starts: not inside the first send.

    At import Scapy reads the kernel's IPv4 and IPv6 routing tables over netlink into
    its own copies (tens of ms, more on a router with many routes), which it needs
    only to pick a source address. When every packet a command builds names its source
    (taken from the kernel's own route lookup, netlab.net.route), that reading is
    skipped: it is a third of `ping -c1`'s start-up."""
    from scapy.config import conf

    if sources_known:
        conf.route_autoload = False
        conf.route6_autoload = False
    import scapy.layers.inet

    if 6 in families:
        import scapy.layers.inet6  # noqa: F401
