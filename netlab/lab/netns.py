"""Network-namespace primitives: run `ip`/`tc` batches, enter a namespace, find its pids.

Speed comes from batching: one `ip -batch` process creates every namespace and
veth pair of a lab, then one `ip -n NS -batch` per namespace (run in parallel)
configures it. Sysctls and probe sockets need no process at all: a short-lived
thread joins the namespace with setns(2) (network namespaces are per thread),
writes /proc/sys or opens the socket, and ends; the socket stays in the lab's
namespace whichever thread uses it later.

Everything is an argument list: no shell strings.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import subprocess
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from netlab.errors import NetlabError

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
T = TypeVar("T")


class CommandFailed(NetlabError):
    """An `ip`/`tc`/`nft` call failed; the message carries its stderr."""


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def netns_path(name: str) -> Path:
    return NETNS_DIR / name


def exists(name: str) -> bool:
    return netns_path(name).exists()


def run(argv: list[str], stdin: str | None = None, check: bool = True) -> str:
    """Run a tool, return stdout; on failure raise CommandFailed with its first error line."""
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        raise CommandFailed(f"{' '.join(argv[:4])}: {lines[0] if lines else 'failed'}")
    return proc.stdout


def batch(
    lines: Iterable[str], netns: str | None = None, tool: str = "ip", force: bool = False
) -> None:
    """Feed commands to one `ip -batch -` (or `tc -batch -`) process."""
    text = "\n".join(lines)
    if not text:
        return
    argv = [tool]
    if netns:
        argv += ["-n", netns]
    if force:
        argv.append("-force")  # keep going after an error (used to tear down)
    run([*argv, "-batch", "-"], stdin=text + "\n", check=not force)


def batches_parallel(jobs: dict[str, list[str]], tool: str = "ip") -> None:
    """Run one batch per namespace, all at once; raise the first failure."""
    procs = []
    for netns, lines in jobs.items():
        if not lines:
            continue
        argv = [tool, "-n", netns, "-batch", "-"]
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append((netns, proc, "\n".join(lines) + "\n"))
    errors = []
    for netns, proc, text in procs:
        _, err = proc.communicate(text)
        if proc.returncode != 0:
            first = next((ln for ln in err.splitlines() if ln.strip()), "failed")
            errors.append(f"{tool} in {netns}: {first}")
    if errors:
        raise CommandFailed(errors[0])


def in_netns(name: str, func: Callable[[], T]) -> T:
    """Call `func` on a thread that has joined namespace `name`; return its result."""
    result: list[T] = []
    failure: list[BaseException] = []

    def worker() -> None:
        try:
            fd = os.open(netns_path(name), os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc().setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns({name}): {os.strerror(err)}")
            finally:
                os.close(fd)
            result.append(func())
        except BaseException as err:
            failure.append(err)

    thread = threading.Thread(target=worker, name=f"netns-{name}", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


def write_sysctls(name: str, values: dict[str, str]) -> None:
    """Set sysctls inside a namespace by writing /proc/sys from a thread inside it."""

    def apply() -> None:
        for key, value in values.items():
            Path("/proc/sys", *key.split(".")).write_text(value)

    if values:
        in_netns(name, apply)


def socket_in(name: str, family: int, type_: int) -> socket.socket:
    """A socket that lives in namespace `name` (for readiness probes and tests)."""
    return in_netns(name, lambda: socket.socket(family, type_))


def netns_inode(name: str) -> int | None:
    try:
        return os.stat(netns_path(name)).st_ino
    except OSError:
        return None


def pids_in(inodes: set[int]) -> list[int]:
    """Pids of processes whose network namespace is one of `inodes` (like `ip netns pids`)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if os.stat(f"/proc/{entry.name}/ns/net").st_ino in inodes:
                found.append(int(entry.name))
    return found


def list_netns(prefix: str = "") -> list[str]:
    try:
        return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix))
    except OSError:
        return []


_netem_ok: bool | None = None


def netem_available() -> bool:
    """Whether the kernel has sch_netem (some CI kernels are built without it).

    Asked in a throwaway namespace (`unshare -n`): the qdisc goes with it."""
    global _netem_ok
    if _netem_ok is None:
        probe = ["unshare", "-n", "tc", "qdisc", "add", "dev", "lo", "root", "netem"]
        probe += ["delay", "0ms"]
        try:
            proc = subprocess.run(probe, capture_output=True, text=True, check=False, timeout=10)
            _netem_ok = proc.returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            _netem_ok = False
    return _netem_ok


SIOCETHTOOL = 0x8946
ETHTOOL_STXCSUM = 0x17


def set_tx_checksum(name: str, dev: str, on: bool) -> None:
    """`ethtool -K DEV tx on|off` inside namespace `name`, by the ioctl (no ethtool needed).

    Off, the kernel computes checksums before the frame leaves DEV and drops TSO with
    it, so a frame read from the other end (AF_PACKET) is complete and at most one MTU."""
    import fcntl
    import struct

    def apply() -> None:
        value = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_STXCSUM, int(on)), 8)
        ifreq = struct.pack("16sP", dev.encode(), ctypes.addressof(value)).ljust(40, b"\0")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifreq)

    in_netns(name, apply)
