"""The one event loop, shared by every runner.

A runner owns some descriptors (a capture socket, ping sockets, TCP and UDP
sockets, a tap's capture) and a core. The loop is the same for all of them:

    start the core → while it is not done: wait (select) until a descriptor is
    readable or the core's deadline passes → hand what arrived to the core, or
    call its timer → carry out what it asks → show its events

and Ctrl-C (SIGINT/SIGTERM, noted by `SignalStop` and woken through its socket
pair) ends the loop between two steps, after which the core wraps up and its
partial summary is shown. Subclasses say what to wait on (`_readables`), what to
do with a readable descriptor (`_on_readable`; `_writables`/`_on_writable` for
connects and queued bytes) and how to carry out the core's actions
(`_dispatch`). Times are integer nanoseconds from `clock` (CLOCK_REALTIME by
default: the clock of the kernel's packet timestamps).
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable
from typing import Any

OnEvent = Callable[[Any], None]


def drain(core: Any, on_event: OnEvent) -> None:
    """Hand every event the core has to ON_EVENT."""
    for event in core.pop_events():
        on_event(event)


def finish_interrupted(core: Any, on_event: OnEvent, now: int | None = None) -> list:
    """After Ctrl-C: let the core wrap up and show what it says (the partial summary);
    return what it still wants sent (tcp-handshake's reset of an open connection)."""
    last = core.interrupt(time.time_ns() if now is None else now)
    drain(core, on_event)
    return list(last or [])


class LoopRunner:
    """Runs one core until it is done, has nothing to wait for, or Ctrl-C."""

    clock: Callable[[], int] = staticmethod(time.time_ns)
    interrupted = False

    # Packet cores are fed often and take a timer only in a quiet moment; session cores
    # (a byte stream that never pauses) must see theirs even while data keeps coming.
    timers_while_fed = False

    def _readables(self) -> list[Any]:
        raise NotImplementedError

    def _on_readable(self, core: Any, source: Any, on_event: OnEvent) -> bool:
        """Handle SOURCE, readable now; True if it was one of the core's own inputs
        (False for a side channel such as a tap: the core's timer may still be due)."""
        raise NotImplementedError

    def _writables(self) -> list[Any]:
        """Descriptors waiting to be writable (a connect in progress, bytes queued)."""
        return []

    def _on_writable(self, core: Any, sink: Any, on_event: OnEvent) -> bool:
        return False

    def _dispatch(self, core: Any, actions: list, on_event: OnEvent) -> None:
        raise NotImplementedError

    def _after(self, core: Any) -> None:
        """When the loop ends (before an interrupted core wraps up)."""

    def drive(self, core: Any, on_event: OnEvent) -> bool:
        """The loop. True if it was interrupted (Ctrl-C)."""
        from netlab.capture.live import SignalStop

        clock = self.clock
        with SignalStop() as stop:
            self._dispatch(core, core.start(clock()), on_event)
            self._loop(core, on_event, stop)
            self.interrupted = stop.fired
        drain(core, on_event)
        if self.interrupted:
            self._interrupt(core, on_event)
            if not core.done():
                # The core closes before it ends (tcp-handshake --graceful sends a FIN):
                # the loop goes on for that, bounded by the core's own timers; a second
                # Ctrl-C cuts it short.
                with SignalStop() as again:
                    self._loop(core, on_event, again)
                if again.fired:
                    self._interrupt(core, on_event)
                drain(core, on_event)
        self._after(core)
        return self.interrupted

    def _interrupt(self, core: Any, on_event: OnEvent) -> None:
        """Ctrl-C: the core wraps up; what it still wants sent goes out."""
        last = finish_interrupted(core, on_event, self.clock())
        if last:
            self._dispatch(core, last, on_event)

    def _loop(self, core: Any, on_event: OnEvent, stop: Any) -> None:
        clock = self.clock
        while not core.done() and not stop.fired:
            deadline = core.deadline()
            if deadline is None:
                break  # a core that waits for nothing is finished: never hang
            wait = max(0.0, (deadline - clock()) / 1e9)
            ready, writable, _ = select.select([*self._readables(), stop],
                                               self._writables(), [], wait)  # fmt: skip
            if stop.fired:
                break
            fed = False
            for sink in writable:
                fed = self._on_writable(core, sink, on_event) or fed
            for source in ready:
                if source is not stop:
                    fed = self._on_readable(core, source, on_event) or fed
            if fed and self.timers_while_fed and not core.done():
                # What was fed may have moved the deadline; a due one fires even while
                # data keeps coming (a server streaming without end meets --max-time).
                deadline = core.deadline()
                fed = False
            if not fed and deadline is not None and clock() >= deadline:
                self._dispatch(core, core.on_timer(clock()), on_event)
