"""The one runner: sockets, kernel timestamps and the event loop every command uses.

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
clock around a syscall. The same frames feed `-v` (the shared dissector) and
`-w` (pcapng), so what is shown and saved is exactly what went over the wire.

Times are integer nanoseconds on CLOCK_REALTIME, the clock of the kernel's
packet timestamps.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from netlab.capture.reader import Frame
from netlab.errors import InputError

ETH_P_ALL = 0x0003
QUEUED_AFTER_DONE = 4096  # frames still queued when the core is done, recorded for -w/-v


@dataclass(frozen=True)
class Send:
    """A packet a core wants sent: an IP packet (layer 3) or an Ethernet frame (l2=True)."""

    data: bytes
    dest: str = ""  # layer 3: the destination address (for the raw socket's sendto)
    family: int = 4
    l2: bool = False
    tag: Any = None  # the core's own reference, handed back on a send error


class Core(Protocol):
    capture_filter: str

    def start(self, now: int) -> list[Send]: ...
    def on_packet(self, frame: Frame, now: int) -> list[Send]: ...
    def on_timer(self, now: int) -> list[Send]: ...
    def on_send_error(self, send: Send, err: OSError, now: int) -> list[Send]: ...
    def deadline(self) -> int | None: ...
    def done(self) -> bool: ...
    def pop_events(self) -> list[Any]: ...
    def interrupt(self, now: int) -> None: ...


def finish_interrupted(core: Core, on_event: Callable[[Any], None]) -> None:
    """After Ctrl-C: let the core wrap up and show what it says (the partial summary).

    Shared by every runner, so no command repeats it."""
    core.interrupt(time.time_ns())
    for event in core.pop_events():
        on_event(event)


class Runner:
    """Runs one core on one interface until it is done, its deadline passes, or Ctrl-C."""

    def __init__(
        self,
        iface: str,
        *,
        verbose: int = 0,
        write: str | None = None,
        verbose_out: Any = None,
        pmtu_probe: bool = False,
        mark: int | None = None,
    ) -> None:
        self.iface = iface
        # SO_MARK on our raw sockets: lets a firewall rule tell our packets from the
        # kernel's (tcp-handshake's RST guard drops the kernel's RSTs, not ours).
        self.mark = mark
        # Send at the interface MTU whatever path MTU the kernel has cached for the target
        # (IP_PMTUDISC_PROBE), so a big DF probe reaches the router that must answer
        # "fragmentation needed" instead of failing locally with EMSGSIZE (traceroute --mtu).
        self.pmtu_probe = pmtu_probe
        self.verbose = verbose
        self.write_path = write
        self.verbose_out = verbose_out
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
    def run(self, core: Core, on_event: Callable[[Any], None]) -> bool:
        """Drive CORE; call ON_EVENT for each of its events. True if interrupted (Ctrl-C)."""
        from netlab.capture.live import LiveCapture, SignalStop

        writer = self._open_writer()
        view, dissector = self._open_view()
        try:
            with LiveCapture(self.iface, core.capture_filter, promiscuous=False) as cap:
                if writer is not None:
                    writer.add_interface(cap.linktype, name=self.iface)
                with SignalStop() as stop:
                    self._loop(core, cap, stop, on_event, writer, view, dissector)
                    self.interrupted = stop.fired
            if self.interrupted:
                finish_interrupted(core, on_event)
        finally:
            if writer is not None:
                writer.close()
            for sock in [*self._l3.values(), self._l2]:
                if sock is not None:
                    sock.close()
            if view is not None:
                view.finish()
        return self.interrupted

    def _loop(self, core, cap, stop, on_event, writer, view, dissector) -> None:
        frames = 0
        self._dispatch(core, core.start(time.time_ns()), on_event)
        while not core.done() and not stop.fired:
            deadline = core.deadline()
            if deadline is None:
                break  # a core that waits for nothing is finished: never hang
            wait = max(0.0, (deadline - time.time_ns()) / 1e9)
            ready, _, _ = select.select([cap.sock, stop], [], [], wait)
            if stop.fired:
                break
            if cap.sock in ready:
                frame = cap.read()
                if frame is None:
                    continue
                frames += 1
                self._record(frame, frames, writer, view, dissector)
                self._dispatch(core, core.on_packet(frame, time.time_ns()), on_event)
            elif time.time_ns() >= deadline:
                self._dispatch(core, core.on_timer(time.time_ns()), on_event)
        self._drain(core, on_event)
        if writer is not None or view is not None:
            # The core is done, but probes it no longer needs (traceroute's beyond the
            # destination) and their answers may already be queued: -w and -v show
            # every packet sent and received, so they take what is there now.
            for _ in range(QUEUED_AFTER_DONE):
                if not select.select([cap.sock], [], [], 0)[0]:
                    break
                frame = cap.read()
                if frame is not None:
                    frames += 1
                    self._record(frame, frames, writer, view, dissector)

    @staticmethod
    def _record(frame: Frame, number: int, writer, view, dissector) -> None:
        if writer is not None:
            writer.write_packet(frame.data, frame.ts_ns, 0, frame.wirelen)
        if view is not None:
            view.feed(dissector.dissect(number, frame.ts_ns, frame.data, frame.wirelen,
                                        frame.linktype))  # fmt: skip

    def _dispatch(self, core: Core, sends: list[Send], on_event) -> None:
        pending = list(sends)
        while pending:
            send = pending.pop(0)
            try:
                self._send(send)
            except OSError as err:  # EMSGSIZE over the MTU with DF, EPERM from a firewall …
                pending.extend(core.on_send_error(send, err, time.time_ns()))
        self._drain(core, on_event)

    @staticmethod
    def _drain(core: Core, on_event) -> None:
        for event in core.pop_events():
            on_event(event)

    # --- -v and -w ---------------------------------------------------------------
    def _open_writer(self):
        if not self.write_path:
            return None
        from netlab.capture.writer import PcapngWriter

        try:
            return PcapngWriter(self.write_path, autoflush=True)
        except OSError as err:
            raise InputError(f"cannot write {self.write_path}: {err.strerror}") from None

    def _open_view(self):
        if not self.verbose:
            return None, None
        import sys

        from netlab.dissect import Dissector
        from netlab.render.packets import PacketView

        out = self.verbose_out or sys.stdout
        view = PacketView(out, tree=True, hexdump=self.verbose > 1, live=True)
        return view, Dissector()


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
