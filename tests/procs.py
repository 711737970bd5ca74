"""Processes and ports for the tests and benchmarks that start real peers on loopback.

One copy of the small things every such test needs: a free port, waiting until a
server listens, tcpdump started so that no packet is missed, and ending a process
this test started, by its pid, with bounded waits.
"""

from __future__ import annotations

import contextlib
import select
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the kernel's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, seconds: float = 10, host: str = "127.0.0.1") -> None:
    """Return once something accepts TCP connections on HOST:PORT; RuntimeError after
    SECONDS (a pytest failure inside a test)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {host}:{port}")


def end(proc: subprocess.Popen | None, sig: int = signal.SIGTERM) -> bytes:
    """Stop a process this test started, by its pid (SIGKILL if SIG is not enough
    within 10 s); its stderr when it was piped."""
    if proc is None:
        return b""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        _out, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        _out, err = proc.communicate(timeout=10)
    return err if isinstance(err, bytes) else b""


def start_tcpdump(path: Path, bpf: str, iface: str = "lo") -> subprocess.Popen:
    """tcpdump writing IFACE's packets that match BPF to PATH; returns once it says
    "listening" (the filter is attached: no packet is missed after that)."""
    argv = ["tcpdump", "-i", iface, "-B", "16384", "--immediate-mode", "-U", "-Z", "root"]
    dump = subprocess.Popen(
        [*argv, "-w", str(path), bpf],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    ready, _, _ = select.select([dump.stderr], [], [], 10)
    if not ready or b"listening" not in dump.stderr.readline():
        end(dump)
        raise RuntimeError(f"tcpdump did not start listening on {iface}")
    return dump


def stop_tcpdump(dump: subprocess.Popen) -> bool:
    """Stop a tcpdump started by `start_tcpdump`; True if it kept every packet (its
    closing report says none were "dropped by kernel")."""
    time.sleep(0.3)  # the last packets reach the file
    err = end(dump)
    return any(line.strip() == b"0 packets dropped by kernel" for line in err.splitlines())


class LoopbackServer:
    """A server for one test on 127.0.0.1 (or ::1): one socket and a thread that accepts
    TCP connections, or receives UDP datagrams, until the test leaves the `with` block
    or LIFETIME seconds pass (every loop bounded). Subclasses say what to do with each
    connection (`handle`) or datagram (`datagram`, whose return value is sent back)."""

    kind = socket.SOCK_STREAM
    lifetime = 15.0
    conn_timeout = 5.0
    concurrent = False  # a thread per connection (for servers that never stop talking)

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, self.kind)
        if self.kind == socket.SOCK_STREAM:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        if self.kind == socket.SOCK_STREAM:
            self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._serve, daemon=True)]
        self.accepted = 0

    def __enter__(self):
        self.threads[0].start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in list(self.threads):
            thread.join(self.lifetime)
        self.sock.close()

    def _serve(self) -> None:
        end = time.monotonic() + self.lifetime
        while not self.stop.is_set() and time.monotonic() < end:
            if self.kind == socket.SOCK_DGRAM:
                self._one_datagram()
                continue
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            if self.concurrent:
                thread = threading.Thread(target=self._connection, args=(conn,), daemon=True)
                thread.start()
                self.threads.append(thread)
            else:
                self._connection(conn)

    def _connection(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            conn.settimeout(self.conn_timeout)
            self.handle(conn)

    def _one_datagram(self) -> None:
        try:
            data, addr = self.sock.recvfrom(65535)
        except (TimeoutError, OSError):
            return
        reply = self.datagram(data, addr)
        if reply is not None:
            with contextlib.suppress(OSError):
                self.sock.sendto(reply, addr)

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def datagram(self, data: bytes, addr: tuple) -> bytes | None:
        raise NotImplementedError
