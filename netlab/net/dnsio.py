"""Kernel sockets for `netlab dns-query`: runs a sans-I/O `netlab.core.dns.Exchange`.

UDP: one socket per exchange, connected to the server, so the kernel picks the
source port (random, ephemeral) and drops datagrams from any other address or
port; the core still checks the ID and the question. An ICMP port unreachable
surfaces as ECONNREFUSED on the connected socket. TCP: a new connection per try,
the query with its 2-byte length prefix (RFC 1035 4.2.2), bytes read until the
core has a whole message. Times are `time.monotonic_ns`.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import struct
import time

from netlab.core.dns import Exchange, Failure, Outgoing, Response


def _family(addr: str) -> int:
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def run_exchange(exchange: Exchange, clock=time.monotonic_ns) -> Response | Failure:
    """Carry out EXCHANGE until it has a result; never longer than its deadlines."""
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
            socks = [s for s in (udp if exchange.transport == "udp" else tcp,) if s is not None]
            ready, _, _ = select.select(socks, [], [], wait)
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
        for sock in (udp, tcp):
            if sock is not None:
                sock.close()
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


def run_walk(walk, *, timeout: float, tries: int, tcp: bool = False, clock=time.monotonic_ns):
    """Carry out an iterative `netlab.core.dns.Walk`: one exchange per query it yields."""
    query = walk.first()
    while query is not None:
        outcome = run_exchange(Exchange(query, timeout=timeout, tries=tries, tcp=tcp), clock)
        query = walk.feed(outcome)
    return walk.result
