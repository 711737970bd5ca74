"""A progress bar on stderr for long reads of a capture (`netlab dissect`).

It appears only on a terminal (stderr is a TTY), only after AFTER seconds in which
nothing was printed (so a short run never flashes a bar), and goes away before the
next output on the same terminal and when the reading ends. A thread draws it: the
reading loop does nothing per packet, so the one-line view keeps its speed; the
bytes come from the file's offset (the reader's file descriptor), the packets from
a counter the caller hands in. NO_COLOR / --no-color keep the bar, without colour.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

AFTER_ENV = "NETLAB_PROGRESS_AFTER"  # seconds of silence before the bar (tests use 0)
DEFAULT_AFTER = 1.0
TICK = 0.2  # how often the thread looks at the clock and redraws


def progress_after() -> float:
    """The silence before the bar: NETLAB_PROGRESS_AFTER seconds, else 1 s."""
    try:
        return max(0.0, float(os.environ.get(AFTER_ENV, DEFAULT_AFTER)))
    except ValueError:
        return DEFAULT_AFTER


def file_offset(stream: Any) -> Callable[[], int | None]:
    """How far STREAM's file descriptor has read, asked without its lock (None: a pipe)."""
    try:
        fd = stream.fileno()
        os.lseek(fd, 0, os.SEEK_CUR)
    except (AttributeError, OSError, ValueError):
        return lambda: None

    def offset() -> int | None:
        try:
            return os.lseek(fd, 0, os.SEEK_CUR)
        except OSError:  # closed meanwhile
            return None

    return offset


def file_size(stream: Any) -> int | None:
    """The size of a regular file behind STREAM, else None (a pipe: no ETA)."""
    try:
        st = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return None
    return st.st_size if st.st_size > 0 and (st.st_mode & 0o170000) == 0o100000 else None


def read_progress(stream: Any, quiet: bool, color: bool) -> ReadProgress | None:
    """A bar for reading STREAM, or None where there must be none (stderr not a
    terminal, or -q)."""
    if quiet or not _isatty(sys.stderr):
        return None
    return ReadProgress(file_offset(stream), file_size(stream), color, progress_after())


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class ReadProgress:
    """Bytes read of the file's size, packets/s and ETA, on stderr, drawn by a thread.

    Use as a context manager around the reading; `watch(out)` returns the stream to
    print to, which takes the bar down before each write when OUT is the terminal too.
    """

    def __init__(
        self, offset: Callable[[], int | None], total: int | None, color: bool, after: float
    ) -> None:
        self.offset = offset
        self.total = total
        self.color = color
        self.after = after
        self.packets: Callable[[], int] = lambda: 0
        self.started = time.monotonic()
        self._last_output = self.started
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._bar: Any = None  # a rich Progress while the bar is up
        self._task: Any = None
        self.shown = 0  # times the bar came up (tests)
        self._thread = threading.Thread(target=self._run, name="netlab-progress", daemon=True)

    def __enter__(self) -> ReadProgress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Take the bar down for good (before the statistics are printed)."""
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()
        with self._lock:
            self._hide()

    def watch(self, out: IO[str]) -> IO[str]:
        """OUT, or OUT behind a guard that hides the bar first when OUT is a terminal
        (another stream, a file or a pipe, keeps the bar up while it is written)."""
        return _Guard(out, self) if _isatty(out) else out

    def output(self) -> None:
        """Output is about to go to the terminal: hide the bar; it comes back after
        AFTER seconds of silence."""
        with self._lock:
            self._last_output = time.monotonic()
            self._hide()

    def _run(self) -> None:
        if self.after <= 0:  # (NETLAB_PROGRESS_AFTER=0: at once, not a TICK later)
            with self._lock:
                if not self._done.is_set():
                    self._draw()
        while not self._done.wait(TICK):
            with self._lock:
                if self._done.is_set():
                    return
                if time.monotonic() - self._last_output >= self.after:
                    self._draw()

    def _draw(self) -> None:
        done = self.offset()
        if done is not None and self.total is not None:
            done = min(done, self.total)
        text = self.text(done)
        if self._bar is None:
            self._show(done or 0, text)
        else:
            self._bar.update(self._task, completed=done or 0, text=text)
            self._bar.refresh()

    def text(self, done: int | None) -> str:
        """'12.6 MB of 50.3 MB · 410,233 packets/s · ETA 0:03'"""
        from rich.filesize import decimal

        elapsed = max(time.monotonic() - self.started, 1e-6)
        parts = []
        if done is not None:
            parts.append(decimal(done) + (f" of {decimal(self.total)}" if self.total else ""))
        parts.append(f"{self.packets() / elapsed:,.0f} packets/s")
        if done and self.total:
            left = max(self.total - done, 0) * elapsed / done
            parts.append(f"ETA {int(left) // 60}:{int(left) % 60:02d}")
        return " · ".join(parts)

    def _show(self, done: int, text: str) -> None:
        from rich.progress import BarColumn, Progress, TextColumn

        from netlab.render.console import make_console

        self._bar = Progress(
            TextColumn("reading"),
            BarColumn(),
            TextColumn("{task.fields[text]}"),
            console=make_console(self.color, stderr=True),
            auto_refresh=False,  # this thread draws, TICK apart
            transient=True,  # stop() erases it: the terminal is left as it was
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._task = self._bar.add_task("reading", total=self.total, completed=done, text=text)
        self._bar.start()
        self.shown += 1

    def _hide(self) -> None:
        if self._bar is not None:
            bar, self._bar = self._bar, None
            bar.stop()


class _Guard:
    """The terminal's stdout, with the bar taken down before anything is written."""

    def __init__(self, out: IO[str], progress: ReadProgress) -> None:
        self._out = out
        self._progress = progress

    def write(self, text: str) -> int:
        self._progress.output()
        return self._out.write(text)

    def fileno(self) -> int:  # outio.write_all writes big texts to the descriptor
        self._progress.output()
        return self._out.fileno()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._out, name)
