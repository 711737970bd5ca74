"""The socket runner: protocols on kernel sockets (DNS, HTTP, TLS, RTMP, KRPC, FTP).

It runs a *session core* (`netlab.core.base.SessionCore`): the core says what to
open and send (`Open`, `Write`, `Datagram`, `Close`), the runner does it on
non-blocking kernel sockets in the one loop of `net/loop.py`, and hands back what
comes: `on_connected` (a stream is up; with TLS, after the handshake),
`on_data` (stream bytes; b"" at the peer's end), `on_datagram` (with the
sender's address), `on_error` (`SocketError`: refused, unreachable, reset,
a TLS failure), `on_timer` at the core's deadline. Many sockets at once: UDP to
dozens of peers, several TCP streams (FTP's control and data connections).

TLS stays sans-I/O: an `ssl.SSLObject` over two `ssl.MemoryBIO`s, fed with the
bytes this runner reads and drained into the socket it writes, so a handshake
never blocks the loop, and the key log (`TlsParams.keylog`, NSS format) lets
`netlab dissect` and Wireshark decrypt what the tap saved.

`-v`/`-w`: the command's tap watches the route's interface (`Tap.watch`); its
capture is one more descriptor in the same `select`, read whenever it is
readable and once more at the end, so packets are shown in wire order. Times
are `time.monotonic_ns` (durations, never dates).
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import ssl
import time
from typing import Any

from netlab.core.base import (
    Close,
    Connected,
    Datagram,
    Listen,
    Open,
    SessionCore,
    SocketError,
    TlsParams,
    Write,
)
from netlab.net.loop import LoopRunner, drain

RECV_SIZE = 65536


def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _error(op: str, err: OSError) -> SocketError:
    code = err.errno or 0
    return SocketError(op, code, os.strerror(code) if code else str(err))


class _Conn:
    """One socket and what is queued on it."""

    def __init__(self, conn: Any, kind: str, sock: socket.socket) -> None:
        self.id = conn
        self.kind = kind
        self.sock = sock
        self.connecting = kind != "udp"
        self.out = bytearray()  # bytes for the socket (ciphertext under TLS)
        self.plain = bytearray()  # TLS: plaintext written before the handshake ended
        self.closing = False
        self.tls: ssl.SSLObject | None = None
        self.tls_in: ssl.MemoryBIO | None = None
        self.tls_out: ssl.MemoryBIO | None = None
        self.handshaking = False
        self.peered = False  # a UDP socket connected to its one peer
        self.accepted = 0  # a listening socket: connections taken so far
        self.connect_at: int | None = None  # when connect() was called (phase timings)
        self.tcp_at: int | None = None  # when the TCP connect completed

    def fileno(self) -> int:
        return self.sock.fileno()


class SocketRunner(LoopRunner):
    """Runs one session core on kernel sockets until it is done, or Ctrl-C."""

    clock = staticmethod(time.monotonic_ns)
    timers_while_fed = True

    def __init__(self, *, tap: Any = None, linger: float = 0.05) -> None:
        self.tap = tap
        # After a stream closes, how long the tap keeps reading for the FIN/ACK
        # segments of the close before the command moves on.
        self.linger = linger
        self.conns: dict[Any, _Conn] = {}
        self.used_streams = False

    def run(self, core: SessionCore, on_event: Any) -> bool:
        """Drive CORE; call ON_EVENT for each of its events. True if interrupted."""
        try:
            return self.drive(core, on_event)
        finally:
            self._close_all()

    # --- the loop's hooks --------------------------------------------------------------------
    def _readables(self) -> list[Any]:
        conns = [c for c in self.conns.values() if not c.connecting]
        if self.tap is not None and self.tap.watching:
            return [*conns, self.tap]
        return conns

    def _writables(self) -> list[Any]:
        return [c for c in self.conns.values() if c.connecting or c.out]

    def _on_readable(self, core: SessionCore, source: Any, on_event) -> bool:
        if source is self.tap:
            self.tap.pump()
            return False
        conn: _Conn = source
        if conn.id not in self.conns:
            return False  # closed by an earlier step of this round
        if conn.kind == "listen":
            self._accept(core, conn, on_event)
        elif conn.kind == "udp":
            self._read_datagram(core, conn, on_event)
        else:
            self._read_stream(core, conn, on_event)
        return True

    def _on_writable(self, core: SessionCore, sink: Any, on_event) -> bool:
        conn: _Conn = sink
        if conn.id not in self.conns:
            return False
        if conn.connecting:
            code = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                self._fail(core, conn, SocketError("connect", code, os.strerror(code)), on_event)
                return True
            conn.connecting = False
            conn.tcp_at = self.clock()
            if conn.tls is not None:
                self._handshake(core, conn, on_event)
            else:
                self._connected(core, conn, on_event)
            return True
        self._flush(core, conn, on_event)
        return False

    def _after(self, core: SessionCore) -> None:
        self._flush_pending()
        self._close_all()
        if self.tap is not None:
            self.tap.pump(self.linger if self.used_streams else 0.0)

    # --- carrying out what the core asks -------------------------------------------------------
    def _dispatch(self, core: SessionCore, actions: list, on_event) -> None:
        pending = list(actions)
        while pending:
            action = pending.pop(0)
            more = self._do(core, action)
            if more:
                pending.extend(more)
        drain(core, on_event)

    def _do(self, core: SessionCore, action: Any) -> list:
        now = self.clock
        if isinstance(action, Open):
            return self._open(core, action)
        if isinstance(action, Listen):
            return self._listen(core, action)
        conn = self.conns.get(action.conn)
        if conn is None:
            return []  # already closed (an error got there first): nothing to do
        if isinstance(action, Datagram):
            try:
                if conn.peered:
                    conn.sock.send(action.data)
                else:
                    conn.sock.sendto(action.data, action.addr)
            except OSError as err:
                return core.on_error(conn.id, _error("send", err), now())
            return []
        if isinstance(action, Write):
            if conn.tls is not None:
                if conn.handshaking or conn.connecting:
                    conn.plain += action.data
                else:
                    conn.tls.write(action.data)
                    self._take_tls_output(conn)
            else:
                conn.out += action.data
            return []
        if isinstance(action, Close):
            conn.closing = True
            if not conn.out or conn.connecting:
                self._drop(conn)
            return []
        raise TypeError(f"not a socket action: {action!r}")

    def _open(self, core: SessionCore, action: Open) -> list:
        host = action.host or (action.local[0] if action.local else "0.0.0.0")
        stream = action.kind in ("tcp", "tls")
        sock = socket.socket(_family(host), socket.SOCK_STREAM if stream else socket.SOCK_DGRAM)
        sock.setblocking(False)
        conn = _Conn(action.conn, "udp" if not stream else action.kind, sock)
        self.conns[action.conn] = conn
        try:
            if action.local is not None:
                sock.bind(action.local)
            if stream:
                self.used_streams = True
                if action.kind == "tls":
                    self._wrap(conn, action.tls or TlsParams(), action.host)
                # Stamped after the TLS set-up: loading a CA store takes milliseconds,
                # which are not the network's (phase timings count from here).
                conn.connect_at = self.clock()
                code = sock.connect_ex((action.host, action.port))
                if code not in (0, errno.EINPROGRESS):
                    raise OSError(code, os.strerror(code))
            elif action.host:
                sock.connect((action.host, action.port))  # only this peer's datagrams
                conn.peered = True
        except OSError as err:
            self._drop(conn)
            return core.on_error(conn.id, _error("connect", err), self.clock())
        return []

    def _listen(self, core: SessionCore, action: Listen) -> list:
        sock = socket.socket(_family(action.host), socket.SOCK_STREAM)
        sock.setblocking(False)
        conn = _Conn(action.conn, "listen", sock)
        conn.connecting = False
        self.conns[action.conn] = conn
        self.used_streams = True
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((action.host, action.port))
            sock.listen(action.backlog)
        except OSError as err:
            self._drop(conn)
            return core.on_error(conn.id, _error("listen", err), self.clock())
        local = sock.getsockname()[:2]
        return core.on_connected(conn.id, Connected(local, ("", 0)), self.clock())

    def _accept(self, core: SessionCore, listener: _Conn, on_event) -> None:
        try:
            sock, _addr = listener.sock.accept()
        except BlockingIOError:
            return
        except OSError as err:
            self._dispatch(core, core.on_error(listener.id, _error("accept", err), self.clock()),
                           on_event)  # fmt: skip
            return
        sock.setblocking(False)
        listener.accepted += 1
        conn = _Conn((listener.id, listener.accepted), "tcp", sock)
        conn.connecting = False
        self.conns[conn.id] = conn
        self._connected(core, conn, on_event)

    # --- streams ----------------------------------------------------------------------------
    def _read_stream(self, core: SessionCore, conn: _Conn, on_event) -> None:
        try:
            data = conn.sock.recv(RECV_SIZE)
        except BlockingIOError:
            return
        except OSError as err:
            self._fail(core, conn, _error("recv", err), on_event)
            return
        if conn.tls is None:
            if not data:
                self._drop(conn)
            self._dispatch(core, core.on_data(conn.id, data, self.clock()), on_event)
            return
        if data:
            conn.tls_in.write(data)
        else:
            conn.tls_in.write_eof()
        if conn.handshaking:
            self._handshake(core, conn, on_event)
            if conn.handshaking or conn.id not in self.conns:
                return
        self._read_tls(core, conn, on_event, eof=not data)

    def _read_tls(self, core: SessionCore, conn: _Conn, on_event, eof: bool) -> None:
        chunks = []
        while True:
            try:
                chunk = conn.tls.read(RECV_SIZE)
            except ssl.SSLWantReadError:
                break
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                eof = True  # close_notify, or the peer closed without one
                break
            except ssl.SSLError as err:
                self._fail(core, conn, SocketError("tls", 0, _tls_reason(err)), on_event)
                return
            if not chunk:
                eof = True
                break
            chunks.append(chunk)
        self._take_tls_output(conn)
        if chunks:
            self._dispatch(core, core.on_data(conn.id, b"".join(chunks), self.clock()), on_event)
        if eof and conn.id in self.conns:
            self._drop(conn)
            self._dispatch(core, core.on_data(conn.id, b"", self.clock()), on_event)

    def _flush(self, core: SessionCore, conn: _Conn, on_event) -> None:
        try:
            sent = conn.sock.send(conn.out)
        except BlockingIOError:
            return
        except OSError as err:
            self._fail(core, conn, _error("send", err), on_event)
            return
        del conn.out[:sent]
        if conn.closing and not conn.out:
            self._drop(conn)

    def _connected(self, core: SessionCore, conn: _Conn, on_event, **tls: Any) -> None:
        local = conn.sock.getsockname()[:2]
        try:
            peer = conn.sock.getpeername()[:2]
        except OSError as err:  # the connection failed after all (ENOTCONN)
            self._fail(core, conn, _error("connect", err), on_event)
            return
        info = Connected(local, peer, connect_at=conn.connect_at, tcp_at=conn.tcp_at, **tls)
        self._dispatch(core, core.on_connected(conn.id, info, self.clock()), on_event)

    # --- TLS (sans-I/O, over memory BIOs) ---------------------------------------------------------
    def _wrap(self, conn: _Conn, params: TlsParams, host: str) -> None:
        ctx = ssl.create_default_context(cafile=params.cafile)
        if not params.verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if params.alpn:
            ctx.set_alpn_protocols(list(params.alpn))
        if params.keylog:
            ctx.keylog_filename = params.keylog
        conn.tls_in, conn.tls_out = ssl.MemoryBIO(), ssl.MemoryBIO()
        name = params.server_name if params.server_name is not None else host
        conn.tls = ctx.wrap_bio(conn.tls_in, conn.tls_out, server_hostname=name or None)
        conn.handshaking = True

    def _handshake(self, core: SessionCore, conn: _Conn, on_event) -> None:
        try:
            conn.tls.do_handshake()
        except ssl.SSLWantReadError:
            self._take_tls_output(conn)
            return
        except (ssl.SSLError, ssl.CertificateError) as err:
            self._take_tls_output(conn)  # our alert goes out, as a client's would
            self._flush_quietly(conn)
            self._fail(core, conn, SocketError("tls", 0, _tls_reason(err)), on_event)
            return
        conn.handshaking = False
        tls = conn.tls
        cipher = tls.cipher()
        self._connected(core, conn, on_event, tls_version=tls.version(),
                        alpn=tls.selected_alpn_protocol(), cipher=cipher[0] if cipher else None,
                        peer_cert=tls.getpeercert(binary_form=True))  # fmt: skip
        if conn.id in self.conns and conn.plain:
            tls.write(bytes(conn.plain))
            conn.plain.clear()
        self._take_tls_output(conn)

    @staticmethod
    def _take_tls_output(conn: _Conn) -> None:
        if conn.tls_out is not None and conn.tls_out.pending:
            conn.out += conn.tls_out.read()

    @staticmethod
    def _flush_quietly(conn: _Conn) -> None:
        with contextlib.suppress(OSError):
            conn.sock.send(conn.out)

    # --- datagrams ----------------------------------------------------------------------------
    def _read_datagram(self, core: SessionCore, conn: _Conn, on_event) -> None:
        try:
            data, addr = conn.sock.recvfrom(RECV_SIZE)
        except BlockingIOError:
            return
        except OSError as err:  # ECONNREFUSED: an ICMP port unreachable for our datagram
            self._dispatch(core, core.on_error(conn.id, _error("recv", err), self.clock()),
                           on_event)  # fmt: skip
            return
        self._dispatch(core, core.on_datagram(conn.id, data, addr[:2], self.clock()), on_event)

    # --- ending -------------------------------------------------------------------------------
    def _fail(self, core: SessionCore, conn: _Conn, err: SocketError, on_event) -> None:
        self._drop(conn)
        self._dispatch(core, core.on_error(conn.id, err, self.clock()), on_event)

    def _drop(self, conn: _Conn) -> None:
        self.conns.pop(conn.id, None)
        conn.sock.close()

    def _flush_pending(self, budget: float = 1.0) -> None:
        """The core is done, but its last words may still be queued (a TLS Finished and
        close_notify, an HTTP/2 GOAWAY): send them, within BUDGET seconds in all."""
        end = time.monotonic() + budget
        for conn in list(self.conns.values()):
            if not conn.out or conn.connecting or conn.kind == "listen":
                continue
            left = end - time.monotonic()
            if left <= 0:
                break
            with contextlib.suppress(OSError):
                conn.sock.settimeout(left)
                conn.sock.sendall(conn.out)
            conn.out.clear()

    def _close_all(self) -> None:
        for conn in list(self.conns.values()):
            self._drop(conn)


# OpenSSL's verify codes, in the words a user acts on (curl says much the same).
VERIFY_KINDS = {
    2: "unknown CA",  # unable to get issuer certificate
    9: "not yet valid",
    10: "expired",
    18: "unknown CA",  # self-signed leaf
    19: "unknown CA",  # self-signed certificate in the chain
    20: "unknown CA",  # unable to get local issuer certificate
    21: "unknown CA",  # unable to verify the first certificate
    62: "name mismatch",  # hostname mismatch
    64: "name mismatch",  # IP address mismatch
}


def _tls_reason(err: Exception) -> str:
    verify = getattr(err, "verify_message", None)
    if verify:
        kind = VERIFY_KINDS.get(getattr(err, "verify_code", 0) or 0)
        prefix = f"{kind} (" if kind else ""
        return f"TLS: certificate verify failed: {prefix}{verify}{')' if kind else ''}"
    reason = getattr(err, "reason", None)
    return f"TLS: {reason}" if reason else f"TLS: {err}"
