"""Keep the kernel from resetting a connection it does not know: a scoped nftables guard.

`tcp-handshake` speaks TCP from raw packets; the kernel has no socket for the
connection and would answer the server's SYN-ACK (and FIN) with a RST. The
guard drops exactly those RSTs, in the namespace the command runs in:

    table inet netlab_guard {
        set guard4 { type ipv4_addr . inet_service . ipv4_addr . inet_service; flags timeout; }
        set guard6 { type ipv6_addr . inet_service . ipv6_addr . inet_service; flags timeout; }
        chain output {
            type filter hook output priority filter; policy accept;
            meta mark != MARK tcp flags rst ip saddr . tcp sport . ip daddr . tcp dport @guard4 drop
            meta mark != MARK tcp flags rst ip6 saddr . … @guard6 drop
        }
    }

Only RSTs of our 4-tuple match. The table is created with `flags owner` by a
small `nft -i` process that the guard keeps running for the whole run: the
kernel deletes an owner table the moment its owner's netlink socket closes, so
when the run ends, fails, is interrupted, or netlab is SIGKILLed (the owner is
started with a parent-death signal and dies with it), table, sets and rule are
gone at once. Each element also carries a timeout (refreshed while the run
lasts) as a second line of defence. Our own RST (`--rst`) leaves through a socket
marked with MARK, which the rule lets through. An owner table can only be changed
by its owner, so each run has its own table, `netlab_guard_<pid>`.

nft is run with argument lists and its commands on stdin, never through a shell.
"""

from __future__ import annotations

import shutil
import subprocess
import threading

from netlab.errors import NetlabError, PrivilegeError

TABLE_PREFIX = "netlab_guard"
MARK = 0x4E4C4754  # "NLGT": packets we send ourselves, let through


def table_name() -> str:
    import os

    return f"{TABLE_PREFIX}_{os.getpid()}"


def _rule(table: str, family: int) -> str:
    ip = "ip" if family == 4 else "ip6"
    return (f"add rule inet {table} output meta mark != {MARK:#x} tcp flags & rst == rst "
            f"{ip} saddr . tcp sport . {ip} daddr . tcp dport @guard{family} drop")  # fmt: skip


def setup_script(table: str) -> str:
    return "\n".join([
        f"add table inet {table} {{ flags owner; }}",
        f"add set inet {table} guard4 {{ type ipv4_addr . inet_service . ipv4_addr . "
        "inet_service; flags timeout; }",
        f"add set inet {table} guard6 {{ type ipv6_addr . inet_service . ipv6_addr . "
        "inet_service; flags timeout; }",
        f"add chain inet {table} output {{ type filter hook output priority filter; "
        "policy accept; }",
        _rule(table, 4),
        _rule(table, 6),
    ])  # fmt: skip


class GuardError(NetlabError):
    pass


def nft_path() -> str | None:
    return shutil.which("nft") or next(
        (p for p in ("/usr/sbin/nft", "/sbin/nft") if shutil.which(p)), None
    )


def _nft(nft: str, script: str | None = None, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [nft, *args] if script is None else [nft, "-f", "-"]
    return subprocess.run(argv, input=script, capture_output=True, text=True, timeout=10)


class RstGuard:
    """The guard for one 4-tuple (or one per destination port: a SYN scan), as a
    context manager."""

    def __init__(self, family: int, src: str, sport: int, dst: str, dport: int | list[int],
                 timeout: float = 30.0, nft: str | None = None) -> None:  # fmt: skip
        self.family = family
        dports = [dport] if isinstance(dport, int) else list(dport)
        self.elements = [f"{src} . {sport} . {dst} . {port}" for port in dports]
        self.timeout_s = max(1, round(timeout))
        self.nft = nft or nft_path() or "nft"
        self.table = table_name()
        self._owner: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def set_name(self) -> str:
        return f"guard{self.family}"

    def _element_script(self, verb: str) -> str:
        timeout = f" timeout {self.timeout_s}s" if verb == "add" else ""
        elements = ", ".join(element + timeout for element in self.elements)
        return f"{verb} element inet {self.table} {self.set_name} {{ {elements} }}\n"

    def _send(self, script: str) -> None:
        """Commands to the owner process (only it may change an owner table)."""
        with self._lock:
            owner = self._owner
            if owner is None or owner.stdin is None or owner.poll() is not None:
                return
            try:
                owner.stdin.write(script)
                owner.stdin.flush()
            except (BrokenPipeError, OSError):
                pass

    def install(self) -> None:
        # setpriv --pdeathsig: the owner dies with us, even on SIGKILL, and with it the table.
        argv = [self.nft, "-i"]
        if shutil.which("setpriv"):
            argv = ["setpriv", "--pdeathsig", "KILL", *argv]
        self._owner = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        self._send(setup_script(self.table) + "\n" + self._element_script("add"))
        self._wait_installed()
        if self.timeout_s >= 2:
            self._thread = threading.Thread(target=self._refresh_loop, daemon=True)
            self._thread.start()

    def _wait_installed(self, limit: float = 3.0) -> None:
        """Our elements visible in the table (nft -i reports errors only as text)."""
        import json
        import time

        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            proc = _nft(self.nft, None, "-j", "list", "set", "inet", self.table, self.set_name)
            if proc.returncode == 0 and '"elem"' in proc.stdout:
                json.loads(proc.stdout)  # a sanity check of what nft printed
                return
            if self._owner is not None and self._owner.poll() is not None:
                break
            time.sleep(0.02)
        owner = self._owner
        self.remove()
        why = ""
        if owner is not None and owner.stderr is not None:
            why = " ".join(owner.stderr.read().split())
        raise GuardError(f"cannot install the nftables RST guard: {why or 'nft refused it'}")

    def refresh(self) -> None:
        """A fresh timeout: add (no-op if present), delete, add, in one transaction."""
        self._send(self._element_script("add") + self._element_script("delete")
                   + self._element_script("add"))  # fmt: skip

    def _refresh_loop(self) -> None:
        while not self._stop.wait(self.timeout_s / 3):
            self.refresh()

    def remove(self) -> None:
        """Close the owner: the kernel deletes the table, its sets and its rule."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            owner, self._owner = self._owner, None
        if owner is None:
            return
        try:
            if owner.stdin is not None:
                owner.stdin.close()
            owner.wait(timeout=3)
        except (subprocess.TimeoutExpired, OSError):
            owner.kill()
            owner.wait(timeout=3)

    def __enter__(self) -> RstGuard:
        self.install()
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def check_available(what: str = "tcp-handshake") -> str:
    """The nft binary, or a one-line error naming the problem and the fallback."""
    from netlab.net.privilege import CAP_NET_ADMIN, has_capability

    nft = nft_path()
    if nft is None:
        raise GuardError(
            f"{what} needs nft (nftables) to keep the kernel from resetting the raw "
            "connection; install nftables, or use --connect (a kernel connect() timing)"
        )
    if not has_capability(CAP_NET_ADMIN):
        raise PrivilegeError(
            f"{what} needs CAP_NET_ADMIN for an nftables rule that keeps the kernel from "
            "resetting the raw connection; run as root, or use --connect (a kernel "
            "connect() timing)"
        )
    return nft
