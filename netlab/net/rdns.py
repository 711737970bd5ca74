"""Reverse DNS for router addresses (traceroute --resolve), never holding up the output long.

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

    def wait_for(self, hop) -> dict[str, str | None]:
        """{address: name or None} for the probes of HOP, each waited for at most
        RESOLVE_TIMEOUT from its start."""
        import time

        shown: dict[str, str | None] = {}
        for probe in hop.probes:
            if probe is None:
                continue
            self.start(probe.addr)
            left = self._started[probe.addr] + RESOLVE_TIMEOUT - time.monotonic()
            self._threads[probe.addr].join(max(0.0, left))
            shown[probe.addr] = self._found.get(probe.addr)
        return shown
