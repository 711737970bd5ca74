"""Processes and ports for the tests and benchmarks that start real peers on loopback.

One copy of the small things every such test needs: a free port, waiting until a
server listens, tcpdump started so that no packet is missed, and ending a process
this test started, by its pid, with bounded waits.
"""

from __future__ import annotations

import select
import signal
import socket
import subprocess
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
