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

Only RSTs of our 4-tuple match, and each element carries a timeout (refreshed
while the run lasts), so even after SIGKILL nothing is dropped beyond it: the
table may stay, inert. Our own RST (`--rst`) leaves through a socket marked
with MARK, which the rule lets through. The element is removed at the end, on
errors and on Ctrl-C, and the table too when its sets are empty and we made it.

nft is run with argument lists and its script on stdin (`nft -f -`), never
through a shell.
"""

from __future__ import annotations

import shutil
import subprocess
import threading

from netlab.errors import NetlabError, PrivilegeError

TABLE = "netlab_guard"
MARK = 0x4E4C4754  # "NLGT": packets we send ourselves, let through


def _rule(family: int) -> str:
    ip = "ip" if family == 4 else "ip6"
    return (f"add rule inet {TABLE} output meta mark != {MARK:#x} tcp flags & rst == rst "
            f"{ip} saddr . tcp sport . {ip} daddr . tcp dport @guard{family} drop")  # fmt: skip


SETUP = "\n".join([
    f"add table inet {TABLE}",
    f"add set inet {TABLE} guard4 {{ type ipv4_addr . inet_service . ipv4_addr . "
    "inet_service; flags timeout; }",
    f"add set inet {TABLE} guard6 {{ type ipv6_addr . inet_service . ipv6_addr . "
    "inet_service; flags timeout; }",
    f"add chain inet {TABLE} output {{ type filter hook output priority filter; "
    "policy accept; }",
    # flush + add in one transaction: idempotent, atomic, never two copies of a rule.
    f"flush chain inet {TABLE} output",
    _rule(4),
    _rule(6),
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
        self.created_table = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def set_name(self) -> str:
        return f"guard{self.family}"

    def _element_script(self, verb: str) -> str:
        timeout = f" timeout {self.timeout_s}s" if verb == "add" else ""
        elements = ", ".join(element + timeout for element in self.elements)
        return f"{verb} element inet {TABLE} {self.set_name} {{ {elements} }}\n"

    def install(self) -> None:
        existed = _nft(self.nft, None, "list", "table", "inet", TABLE).returncode == 0
        proc = _nft(self.nft, SETUP + "\n" + self._element_script("add"))
        if proc.returncode != 0:
            why = " ".join(proc.stderr.split()) or f"nft exited with {proc.returncode}"
            raise GuardError(f"cannot install the nftables RST guard: {why}")
        self.created_table = not existed
        if self.timeout_s >= 2:
            self._thread = threading.Thread(target=self._refresh_loop, daemon=True)
            self._thread.start()

    def refresh(self) -> None:
        """A fresh timeout: add (no-op if present), delete, add, in one transaction."""
        script = (self._element_script("add") + self._element_script("delete")
                  + self._element_script("add"))  # fmt: skip
        _nft(self.nft, script)

    def _refresh_loop(self) -> None:
        while not self._stop.wait(self.timeout_s / 3):
            self.refresh()

    def remove(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        _nft(self.nft, self._element_script("delete"))
        if self.created_table and self._sets_empty():
            _nft(self.nft, None, "delete", "table", "inet", TABLE)

    def _sets_empty(self) -> bool:
        proc = _nft(self.nft, None, "-j", "list", "table", "inet", TABLE)
        if proc.returncode != 0:
            return False
        import json

        try:
            doc = json.loads(proc.stdout)
        except ValueError:
            return False
        for item in doc.get("nftables", []):
            if "set" in item and item["set"].get("elem"):
                return False
        return True

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
