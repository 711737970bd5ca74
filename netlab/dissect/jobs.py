"""Dissect one capture file with several processes (`netlab dissect --jobs N`).

Decoding is per-packet work except for a little cross-packet state (TCP and UDP
stream numbers, relative sequence numbers, analysis flags, reassembly). So every
process reads the whole file and keeps that state itself, but fully decodes and shows
only the packets of its own chunks (chunk c of CHUNK packets belongs to process
c % N); the other packets get the light pass (`Dissector.track`: TCP and UDP stream
state read at fixed offsets for plain frames, else the light dissect, which decodes
headers and stream state but no application payloads; nothing is shown). The chunks' text goes out in order
by passing a token around a ring of pipes: a process writes a chunk once the
previous chunk is out, then hands the token on. The output is byte for byte what one
process prints (tests/test_dissect_jobs.py), only sooner on a machine with cores to
spare: tshark, like most dissectors, decodes a file on one core.

Only the streaming views run this way (one line, -V, -x, --json, all packets, a
seekable file): a display filter, -c, --packet, --stats and --follow need one
process that sees every shown packet.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import select
import signal
import stat
import sys
from collections.abc import Callable
from typing import IO, Any

from netlab.capture.reader import open_capture
from netlab.errors import NetlabError
from netlab.outio import write_all

CHUNK = 1024  # packets per turn: big enough that the token costs nothing per packet
MIN_BYTES = 4 << 20  # smaller files are done before a second process has started
MAX_JOBS = 4  # each process also reads the whole file: more stop paying off


def most_jobs() -> int:
    """The most processes -j may run: 4 per CPU this process may use."""
    try:
        return 4 * len(os.sched_getaffinity(0))
    except (OSError, AttributeError):
        return 4


def auto_jobs(path: str) -> int:
    """How many processes are worth it for this file on this machine (1: no fork)."""
    if not readable_twice(path):
        return 1
    try:
        size = os.stat(path).st_size
        cpus = len(os.sched_getaffinity(0))
    except (OSError, AttributeError):
        return 1
    if size < MIN_BYTES:
        return 1
    return max(1, min(cpus, MAX_JOBS))


def readable_twice(path: str) -> bool:
    """Every process reads the whole file itself: only a regular file allows that
    (stdin, a pipe or a FIFO would hand each process a different part)."""
    try:
        return path != "-" and stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def run(path: str, jobs: int, make_view: Callable[[IO[str]], Any], quick: bool = True,
        keylog: str | None = None, progress: Callable[..., Any] | None = None) -> list[str]:  # fmt: skip
    """Dissect and show `path` with `jobs` processes; return the capture's warnings.

    `make_view(out)` builds the PacketView each process writes its chunks into;
    `quick` and `keylog` are the Dissector's (quick is off for views that build every
    field; keylog: TLS secrets). `progress(cap, frames)`, if given, is a context
    manager that process 0 holds while it reads CAP (the progress bar: process 0 reads
    every frame, so its file offset and frame count are the whole run's).
    Raises KeyboardInterrupt / BrokenPipeError as a single process would.
    """
    global _keylog
    _keylog = keylog  # (the forked processes inherit it)
    with open_capture(path):  # a wrong format: the one-line error, before any fork
        pass
    sys.stdout.flush()  # nothing buffered may be written twice by the children
    saved = _hold_signals()
    try:
        return _run(path, jobs, make_view, quick, progress)
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


_keylog: str | None = None  # the key log every process's Dissector reads (run's)
# Ctrl-C (SIGINT, SIGTERM) only sets this, in every process (the children inherit the
# handler), and each process stops after writing the chunk it is on: the output ends on
# a whole line, never half of one, and the command exits 130.
_stopped = False
# Frames in the file, counted by process 0 (which reads them all) at no cost per frame:
# the closing summary line of `dissect --json` (every frame is shown on this path).
frames_read = 0


def _note_signal(_signum: int, _frame: object) -> None:
    global _stopped
    _stopped = True


def _hold_signals() -> dict:
    global _stopped
    _stopped = False
    try:
        return {sig: signal.signal(sig, _note_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread
        return {}


def _check_stop() -> None:
    if _stopped:
        raise KeyboardInterrupt


def _run(path: str, jobs: int, make_view: Callable[[IO[str]], Any], quick: bool,
         progress: Callable[..., Any] | None = None) -> list[str]:  # fmt: skip
    rings = [os.pipe() for _ in range(jobs)]  # rings[i]: the token's way into process i
    os.write(rings[0][1], b"t")  # process 0 writes the first chunk
    children = []
    try:
        for me in range(1, jobs):
            pid = os.fork()
            if pid == 0:  # pragma: no cover (measured in the child, reported by status)
                os._exit(_child(path, me, jobs, rings, make_view, quick))
            children.append(pid)
        ring_in, ring_out = _keep_own_ends(rings, 0, jobs)
        try:
            warnings = _work(path, 0, jobs, ring_in, ring_out, make_view, quick, progress)
        except _TurnLost:
            warnings = None  # the last process stopped early: its status says why
        finally:
            os.close(ring_in)
            os.close(ring_out)
    finally:
        failed = _reap(children)
    _check_stop()  # a Ctrl-C: every process has stopped after a whole chunk
    if failed:
        raise NetlabError(f"a dissecting process failed (exit status {failed})")
    if warnings is None:  # it stopped quietly: its reader went away, as ours did
        raise BrokenPipeError
    return warnings


def _child(path: str, me: int, jobs: int, rings: list, make_view, quick: bool) -> int:
    try:
        ring_in, ring_out = _keep_own_ends(rings, me, jobs)
        _work(path, me, jobs, ring_in, ring_out, make_view, quick)
        return 0
    except BrokenPipeError:  # the reader went away (| head): as quiet as process 0
        return 0
    except KeyboardInterrupt:
        return 130
    except _TurnLost:  # the process before this one stopped: it says why
        return 0
    except BaseException as err:
        print(f"netlab: error: dissecting process {me}: {err}", file=sys.stderr)
        return 1


def _keep_own_ends(rings: list, me: int, jobs: int) -> tuple[int, int]:
    """Close every pipe end but the two this process uses: so when a process exits,
    the one after it reads EOF instead of waiting for a token that will never come."""
    ring_in = rings[me][0]
    ring_out = rings[(me + 1) % jobs][1]
    for read_end, write_end in rings:
        if read_end != ring_in:
            os.close(read_end)
        if write_end != ring_out:
            os.close(write_end)
    return ring_in, ring_out


class _TurnLost(Exception):
    """The process before this one ended before passing the token on."""


def _work(
    path: str, me: int, jobs: int, ring_in: int, ring_out: int, make_view, quick: bool,
    progress: Callable[..., Any] | None = None,
) -> list[str]:  # fmt: skip
    from netlab.dissect.engine import Dissector

    global frames_read
    buffer = io.StringIO()
    view = make_view(buffer)
    frames_read = 0
    # The views run here show udp.stream exactly when they build fields (-V, --json).
    dissector = Dissector(quick, udp_streams=not quick, keylog=_keylog)
    turns = _Turns(ring_in, ring_out)
    with open_capture(path) as cap, _progress(progress, cap):
        numbered = enumerate(cap, 1)
        for chunk in itertools.count():
            _check_stop()
            head = next(numbered, None)
            if head is None:
                break
            if view.first_ns is None:
                view.first_ns = head[1].ts_ns  # relative times count from the first frame
            frames = itertools.chain((head,), itertools.islice(numbered, CHUNK - 1))
            if chunk % jobs == me:
                before = view.shown
                view.feed_frames(dissector, frames)
                turns.add(_chunk_text(view, buffer))
                frames_read += view.shown - before
            else:
                track = dissector.track
                no = head[0]
                for no, frame in frames:
                    track(no, frame.data, frame.wirelen, frame.linktype, frame.ts_ns)
                frames_read += no - head[0] + 1
        warnings = list(cap.warnings)
    turns.finish()
    return warnings


def _progress(progress: Callable[..., Any] | None, cap: Any) -> Any:
    """The caller's progress context for CAP (process 0 only; its thread starts after
    the fork), or nothing."""
    if progress is None:
        return contextlib.nullcontext()
    return progress(cap, lambda: frames_read)


def _chunk_text(view, buffer: io.StringIO) -> bytes:
    """The chunk's text, encoded as stdout would encode it: queued chunks then take a
    byte a character instead of StringIO's two or four (the arrow is not Latin-1)."""
    view.flush()
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text.encode(sys.stdout.encoding or "utf-8", sys.stdout.errors or "strict")


class _Turns:
    """This process's finished chunks, written in turn: a chunk goes out once the token
    says the chunk before it (another process's) is out, then the token moves on.

    A process may run ahead of the others by up to AHEAD chunks (or AHEAD_BYTES of
    text) before it waits: with one chunk of slack, every hiccup of one process (a
    page fault, a busy neighbour on a shared host) stalls all of them. The bounds keep
    the memory flat (tshark-sized files: a few MB of one-line text, two or three -V
    chunks). 8 chunks ahead: the one-line view at 1M packets stays within 10 % of
    its memory at 100k."""

    AHEAD = 8
    AHEAD_BYTES = 4 << 20

    def __init__(self, ring_in: int, ring_out: int) -> None:
        self.ring_in, self.ring_out = ring_in, ring_out
        self.queue: list[bytes] = []
        self.size = 0
        sys.stdout.flush()  # chunks go to the binary layer below it
        self.out = sys.stdout.buffer

    def add(self, text: bytes) -> None:
        self.queue.append(text)
        self.size += len(text)
        self._write(wait=False)  # whatever the token allows now
        while len(self.queue) >= self.AHEAD or self.size >= self.AHEAD_BYTES:
            self._write(wait=True)

    def finish(self) -> None:
        while self.queue:
            self._write(wait=True)

    def _write(self, wait: bool) -> None:
        """Write queued chunks while the token is here (waiting for it once if `wait`)."""
        while self.queue:
            if not wait and not select.select([self.ring_in], [], [], 0)[0]:
                return
            wait = False
            if os.read(self.ring_in, 1) != b"t":
                raise _TurnLost
            text = self.queue.pop(0)
            self.size -= len(text)
            write_all(self.out, text)  # whole, though a signal is noted meanwhile
            self.out.flush()
            _check_stop()
            # BrokenPipeError: the next process had nothing more to write and has gone.
            with contextlib.suppress(BrokenPipeError):
                os.write(self.ring_out, b"t")


def _reap(children: list[int]) -> int:
    """Wait for every child; the first non-zero exit status, else 0."""
    failed = 0
    for pid in children:
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
            except KeyboardInterrupt:  # a second Ctrl-C: the children got it too
                continue
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, 130) and not failed:
            failed = code
    return failed
