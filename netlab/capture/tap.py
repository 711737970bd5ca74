"""The tap: where `-v` and `-w` get every packet a command sends or receives.

One `Tap` object per command run, made by the command path (`netlab/cli/run.py`)
from the common options and handed to whichever runner runs:

- the packet runner (`net/runner.py`) already captures on the route's interface
  for its core, and gives the tap each frame of that capture (`record`);
- the socket runner (`net/sockets.py`) has no capture of its own, so the tap
  opens one (`watch`) on the interface of the route to the peer, and the runner
  puts it in its `select` and calls `pump` when it is readable: packets are
  shown and saved in the order they crossed the wire, with nothing running in
  the background.

What a frame becomes is up to the tap's *sinks*: `PcapngSink` (here) writes the
pcapng file; the dissector view (`cli/run.py` builds it, since drawing belongs to
`render/`) prints each packet's layers. A sink has `add_interface(linktype,
name)`, `write(number, frame)` and `close()`. This module knows nothing of how a
packet is decoded or drawn, so `net/` can use it without importing `render/`.
"""

from __future__ import annotations

import select
from typing import Any, Protocol

from netlab.capture.reader import Frame
from netlab.errors import InputError


class Sink(Protocol):
    def add_interface(self, linktype: int, name: str) -> None: ...
    def write(self, number: int, frame: Frame) -> None: ...
    def close(self) -> None: ...


class PcapngSink:
    """`-w FILE`: every frame into a pcapng file, flushed as it goes (so a killed
    command still leaves a readable file)."""

    def __init__(self, path: str, snaplen: int = 262144) -> None:
        from netlab.capture.writer import PcapngWriter

        try:
            self.writer = PcapngWriter(path, autoflush=True)
        except OSError as err:
            raise InputError(f"cannot write {path}: {err.strerror}") from None
        self._interfaces: dict[tuple[int, str], int] = {}
        self._current = 0
        self.snaplen = snaplen  # written into each interface block (the writer's default)

    def add_interface(self, linktype: int, name: str) -> None:
        key = (linktype, name)
        if key not in self._interfaces:
            self._interfaces[key] = self.writer.add_interface(linktype, name=name,
                                                              snaplen=self.snaplen)  # fmt: skip
        self._current = self._interfaces[key]

    def write(self, number: int, frame: Frame) -> None:
        self.writer.write_packet(frame.data, frame.ts_ns, self._current, frame.wirelen)

    def close(self) -> None:
        self.writer.close()


class Tap:
    """Hands each captured frame, numbered, to every sink."""

    def __init__(self, sinks: list[Sink]) -> None:
        self.sinks = sinks
        self.frames = 0
        self.capture: Any = None  # the tap's own capture (socket runner), if watching

    def add_interface(self, linktype: int, name: str) -> None:
        for sink in self.sinks:
            sink.add_interface(linktype, name)

    def record(self, frame: Frame) -> None:
        self.frames += 1
        for sink in self.sinks:
            sink.write(self.frames, frame)

    # --- a capture of its own, for runners that use kernel sockets ----------------------------
    def watch(self, iface: str, expression: str) -> None:
        """Capture on IFACE (tcpdump EXPRESSION) from now on; once per tap."""
        from netlab.capture.live import LiveCapture

        if self.capture is not None:
            return
        self.capture = LiveCapture(iface, expression, promiscuous=False)
        self.add_interface(self.capture.linktype, iface)

    def fileno(self) -> int:
        return self.capture.sock.fileno()

    @property
    def watching(self) -> bool:
        return self.capture is not None and self.capture.sock.fileno() != -1

    def pump(self, wait: float = 0.0) -> None:
        """Record every packet queued now, or arriving within WAIT seconds of quiet."""
        if not self.watching:
            return
        sock = self.capture.sock
        while select.select([sock], [], [], wait)[0]:
            frame = self.capture.read()
            if frame is not None:
                self.record(frame)

    def close(self) -> None:
        """Take what is still queued, then finish every sink (also after errors and
        Ctrl-C: the view ends cleanly and the pcapng file is complete)."""
        try:
            self.pump()
        finally:
            if self.capture is not None:
                self.capture.close()
            for sink in self.sinks:
                sink.close()

    def __enter__(self) -> Tap:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
