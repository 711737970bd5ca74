"""Readiness probes, run from a socket inside the service's namespace.

Each probe makes one short attempt and returns True or False; the engine
retries until the service's `ready_timeout`. A probe checks that the service
*answers* (a DNS response, an HTTP status line, a completed TCP handshake),
not merely that its process exists.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import struct

from netlab.lab import netns

TIMEOUT = 0.2


def _family(addr: str) -> int:
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def tcp_connect(ns: str, addr: str, port: int) -> bool:
    sock = netns.socket_in(ns, _family(addr), socket.SOCK_STREAM)
    with sock:
        sock.settimeout(TIMEOUT)
        try:
            sock.connect((addr, port))
        except OSError:
            return False
    return True


def http_status(ns: str, addr: str, port: int) -> bool:
    sock = netns.socket_in(ns, _family(addr), socket.SOCK_STREAM)
    with sock:
        sock.settimeout(TIMEOUT)
        try:
            sock.connect((addr, port))
            sock.sendall(b"HEAD / HTTP/1.0\r\nHost: probe\r\n\r\n")
            return sock.recv(16).startswith(b"HTTP/")
        except OSError:
            return False


def tls_alpn(
    ns: str, addr: str, port: int, protocols: tuple[str, ...] = ("h2", "http/1.1")
) -> str | None:
    """A TLS handshake offering ALPN `protocols`: the protocol the server chose, "" when
    it chose none, None when there was no handshake. The certificate is not verified
    (this asks whether the server answers, not whether a client should trust it)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(list(protocols))
    sock = netns.socket_in(ns, _family(addr), socket.SOCK_STREAM)
    with sock:
        sock.settimeout(TIMEOUT)
        try:
            sock.connect((addr, port))
            with context.wrap_socket(sock, server_hostname="probe") as tls:
                return tls.selected_alpn_protocol() or ""
        except (OSError, ssl.SSLError):
            return None


def tls_handshake(
    ns: str, addr: str, port: int, cert: os.PathLike | None = None, key: os.PathLike | None = None
) -> bool:
    """A TLS handshake completes (presenting the client certificate `cert` with its
    `key` when given). The server's certificate is not verified: a fixture server may
    be broken on purpose, and this asks only whether it answers."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    sock = netns.socket_in(ns, _family(addr), socket.SOCK_STREAM)
    with sock:
        sock.settimeout(TIMEOUT)
        try:
            if cert is not None:
                context.load_cert_chain(cert, key)
            sock.connect((addr, port))
            with context.wrap_socket(sock, server_hostname="probe"):
                return True
        except (OSError, ssl.SSLError):
            return False


H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
H2_SETTINGS = 0x4


def h2c_settings(ns: str, addr: str, port: int) -> bool:
    """HTTP/2 with prior knowledge (h2c, RFC 9113 §3.3): send the connection preface
    and an empty SETTINGS frame; the server's first frame must be its SETTINGS."""
    sock = netns.socket_in(ns, _family(addr), socket.SOCK_STREAM)
    with sock:
        sock.settimeout(TIMEOUT)
        try:
            sock.connect((addr, port))
            # An empty SETTINGS frame: length 0 (3 bytes), type, flags 0, stream 0.
            sock.sendall(H2_PREFACE + bytes(3) + bytes([H2_SETTINGS]) + bytes(5))
            head = b""
            while len(head) < 9:  # at most 9 reads, each bounded by TIMEOUT
                chunk = sock.recv(9 - len(head))
                if not chunk:
                    return False
                head += chunk
        except OSError:
            return False
    stream = struct.unpack("!I", head[5:9])[0] & 0x7FFFFFFF
    return head[3] == H2_SETTINGS and stream == 0


def dns_query(qname: str, qtype: int = 6, qclass: int = 1, rd: bool = False) -> tuple[int, bytes]:
    """A minimal DNS query (RFC 1035 §4.1): header + one question. Returns (id, bytes)."""
    ident = int.from_bytes(os.urandom(2), "big")
    flags = 0x0100 if rd else 0
    labels = b"".join(
        bytes([len(part)]) + part.encode("ascii") for part in qname.strip(".").split(".") if part
    )
    return ident, struct.pack("!HHHHHH", ident, flags, 1, 0, 0, 0) + labels + b"\0" + struct.pack(
        "!HH", qtype, qclass
    )


def dns_answers(
    ns: str, addr: str, qname: str, authoritative: bool, qtype: int = 6, qclass: int = 1
) -> bool:
    """True when the server answers; with `authoritative`, NOERROR with the AA bit set."""
    ident, query = dns_query(qname, qtype, qclass)
    sock = netns.socket_in(ns, _family(addr), socket.SOCK_DGRAM)
    with sock:
        sock.settimeout(TIMEOUT)
        with contextlib.suppress(OSError):
            sock.sendto(query, (addr, 53))
            reply = sock.recv(4096)
            if len(reply) < 12 or struct.unpack("!H", reply[:2])[0] != ident:
                return False
            flags = struct.unpack("!H", reply[2:4])[0]
            if not authoritative:
                return True
            return bool(flags & 0x0400) and flags & 0x000F == 0
    return False
