"""Reverse DNS for addresses that answered (traceroute --resolve, ping's "name (addr)"),
never holding up the output long.

Lookups start when an address first answers (in the background, through the
system resolver) and are waited for, bounded, only when the hop is shown.
"""

from __future__ import annotations

RESOLVE_TIMEOUT = 1.0  # seconds a reverse lookup may hold up the output of a hop


class ReverseNames:
    """Reverse lookups started when an address first answers, waited for (bounded) when shown.

    Daemon threads, not an executor: a resolver that hangs must not hold up exit.
    """

    def __init__(self) -> None:
        self._found: dict[str, str | None] = {}
        self._threads: dict = {}
        self._started: dict[str, float] = {}

    def start(self, addr: str) -> None:
        import threading
        import time

        if addr in self._threads:
            return

        def lookup() -> None:
            import socket

            try:
                self._found[addr] = socket.gethostbyaddr(addr)[0]
            except (OSError, UnicodeError):
                self._found[addr] = None

        thread = threading.Thread(target=lookup, name=f"rdns-{addr}", daemon=True)
        self._threads[addr] = thread
        self._started[addr] = time.monotonic()
        thread.start()

    def name(self, addr: str) -> str | None:
        """The name of ADDR (None: none, or not found within RESOLVE_TIMEOUT of the start
        of its lookup, which this starts if need be)."""
        import time

        self.start(addr)
        left = self._started[addr] + RESOLVE_TIMEOUT - time.monotonic()
        self._threads[addr].join(max(0.0, left))
        return self._found.get(addr)

    def wait_for(self, hop) -> dict[str, str | None]:
        """{address: name or None} for the probes of HOP, each waited for at most
        RESOLVE_TIMEOUT from its start."""
        return {p.addr: self.name(p.addr) for p in hop.probes if p is not None}
