"""Kernel sockets for `netlab dns-query`: runs a sans-I/O `netlab.core.dns.Exchange`.

UDP: one socket per exchange, connected to the server, so the kernel picks the
source port (random, ephemeral) and drops datagrams from any other address or
port; the core still checks the ID and the question. An ICMP port unreachable
surfaces as ECONNREFUSED on the connected socket. TCP: a new connection per try,
the query with its 2-byte length prefix (RFC 1035 4.2.2), bytes read until the
core has a whole message. Times are `time.monotonic_ns`.

`-v` / `--write`: a `CaptureTap` (one AF_PACKET capture on the interface of the
route to the server) is opened before the first query and read between socket
operations: it is one more descriptor in the same `select`, so packets are shown
and saved in the order they crossed the wire, with nothing running in the
background.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import struct
import time
from typing import Any

from netlab.core.dns import Exchange, Failure, Outgoing, Response
from netlab.errors import InputError


def _family(addr: str) -> int:
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


class CaptureTap:
    """A live capture for `dns-query -v / --write`: shows each packet, writes it to pcapng.

    Call `pump()` whenever `select` finds it readable (it has a `fileno()`), and
    `close()` at the end, also on errors and Ctrl-C: it reads what is still
    queued, finishes the view and leaves a complete pcapng file.
    """

    def __init__(
        self, iface: str, expression: str, *, verbose: int = 0, write: str | None = None,
        out: Any = None,
    ) -> None:  # fmt: skip
        from netlab.capture.live import LiveCapture

        self.cap: Any = None
        self.writer: Any = None
        self.view: Any = None
        self.dissector: Any = None
        self.frames = 0
        try:
            if write:
                from netlab.capture.writer import PcapngWriter

                try:
                    self.writer = PcapngWriter(write, autoflush=True)
                except OSError as err:
                    raise InputError(f"cannot write {write}: {err.strerror}") from None
            self.cap = LiveCapture(iface, expression, promiscuous=False)
            if self.writer is not None:
                self.writer.add_interface(self.cap.linktype, name=iface)
            if verbose:
                import sys

                from netlab.dissect import Dissector
                from netlab.render.packets import PacketView

                self.view = PacketView(out or sys.stdout, tree=True, hexdump=verbose > 1,
                                       live=True)  # fmt: skip
                self.dissector = Dissector()
        except BaseException:
            self.close()
            raise

    def fileno(self) -> int:
        return self.cap.sock.fileno()

    def pump(self, wait: float = 0.0) -> None:
        """Handle every packet queued now, or arriving within WAIT seconds of quiet."""
        if self.cap is None or self.cap.sock.fileno() == -1:
            return
        while True:
            ready, _, _ = select.select([self.cap.sock], [], [], wait)
            if not ready:
                return
            frame = self.cap.read()
            if frame is None:
                continue
            self.frames += 1
            if self.writer is not None:
                self.writer.write_packet(frame.data, frame.ts_ns, 0, frame.wirelen)
            if self.view is not None:
                self.view.feed(self.dissector.dissect(self.frames, frame.ts_ns, frame.data,
                                                      frame.wirelen, frame.linktype))  # fmt: skip

    def close(self) -> None:
        try:
            if self.cap is not None and self.cap.sock.fileno() != -1:
                self.pump()
        finally:
            if self.view is not None:
                self.view.finish()
                self.view = None
            if self.writer is not None:
                self.writer.close()
            if self.cap is not None:
                self.cap.close()

    def __enter__(self) -> CaptureTap:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# After a TCP exchange, how long to keep reading the capture for the connection's
# FIN / ACK segments (sent when we close it) before moving on.
TCP_LINGER = 0.05


def run_exchange(
    exchange: Exchange, clock=time.monotonic_ns, tap: CaptureTap | None = None
) -> Response | Failure:
    """Carry out EXCHANGE until it has a result; never longer than its deadlines.

    With TAP, its capture is read whenever it has packets, and once more at the end.
    """
    server, port = exchange.query.server, exchange.query.port
    udp: socket.socket | None = None
    tcp: socket.socket | None = None
    buf = b""
    pending = exchange.start(clock())
    try:
        while not exchange.done():
            for out in pending:
                if out.transport == "udp":
                    if udp is None:
                        udp = socket.socket(_family(server), socket.SOCK_DGRAM)
                        udp.setblocking(False)
                        udp.connect((server, port))
                    _send_udp(udp, out, exchange, clock)
                else:
                    if tcp is not None:
                        tcp.close()
                    tcp, buf = None, b""
                    tcp = _open_tcp(server, port, out, exchange, clock)
            pending = []
            if exchange.done():
                break
            deadline = exchange.deadline()
            if deadline is None:
                break
            wait = max(0.0, (deadline - clock()) / 1e9)
            socks: list = [s for s in (udp if exchange.transport == "udp" else tcp,) if s]
            if tap is not None:
                socks.append(tap)
            ready, _, _ = select.select(socks, [], [], wait)
            if tap is not None and tap in ready:
                tap.pump()
                ready = [s for s in ready if s is not tap]
                if not ready and clock() < deadline:
                    continue
            if not ready:
                pending = exchange.on_timer(clock())
                continue
            sock = ready[0]
            if sock is udp:
                try:
                    data, src = udp.recvfrom(65535)
                except BlockingIOError:
                    continue
                except OSError as err:
                    if err.errno == errno.ECONNREFUSED:
                        pending = exchange.on_error(
                            f"connection refused by {server}#{port} (ICMP port unreachable)",
                            clock(),
                        )
                    else:
                        pending = exchange.on_error(f"UDP: {os.strerror(err.errno)}", clock())
                    continue
                pending = exchange.on_datagram(data, src[:2], clock())
            else:
                try:
                    chunk = tcp.recv(65537)
                except OSError as err:
                    pending = exchange.on_error(f"TCP: {os.strerror(err.errno)}", clock())
                    continue
                if not chunk:
                    pending = exchange.on_error(
                        f"TCP connection closed by {server}#{port} before a whole reply", clock()
                    )
                    continue
                buf += chunk
                pending = exchange.on_stream(buf, clock())
    finally:
        used_tcp = tcp is not None
        for sock in (udp, tcp):
            if sock is not None:
                sock.close()
        if tap is not None:
            tap.pump(TCP_LINGER if used_tcp else 0.0)
    assert exchange.result is not None
    return exchange.result


def _send_udp(sock: socket.socket, out: Outgoing, exchange: Exchange, clock) -> None:
    try:
        sock.send(out.data)
    except OSError as err:
        exchange.on_error(f"UDP send: {os.strerror(err.errno)}", clock())


def _open_tcp(server: str, port: int, out: Outgoing, exchange: Exchange, clock):
    sock = socket.socket(_family(server), socket.SOCK_STREAM)
    deadline = exchange.deadline() or clock()
    sock.settimeout(max(0.001, (deadline - clock()) / 1e9))
    try:
        sock.connect((server, port))
        sock.sendall(struct.pack("!H", len(out.data)) + out.data)
    except TimeoutError:
        sock.close()
        return None  # the loop waits out the deadline, then the core retries or gives up
    except OSError as err:
        sock.close()
        reason = os.strerror(err.errno) if err.errno else str(err)
        exchange.on_error(f"TCP connection to {server}#{port}: {reason}", clock())
        return None
    sock.setblocking(False)
    return sock


def run_walk(
    walk, *, timeout: float, tries: int, tcp: bool = False, clock=time.monotonic_ns,
    tap: CaptureTap | None = None,
):  # fmt: skip
    """Carry out an iterative `netlab.core.dns.Walk`: one exchange per query it yields."""
    query = walk.first()
    while query is not None:
        exchange = Exchange(query, timeout=timeout, tries=tries, tcp=tcp)
        outcome = run_exchange(exchange, clock, tap)
        query = walk.feed(outcome)
    return walk.result
