"""The link emulator: netem's impairments in user space, for kernels without sch_netem.

    python -m netlab.lab.linkemu CONFIG.json      (run by the lab engine, as root,
                                                   inside the lab's wire namespace)

An impaired link is cut in the lab's hidden wire namespace (`plan.Splice`): the
node's veth ends there as ``w<k>a``, its peer's (or its LAN switch port's) as
``w<k>b``. This process reads every frame arriving on one end over an AF_PACKET
socket and sends it out of the other, per direction applying netem's
impairments in netem's order (`Direction.fate`): duplicate, loss (random, or
correlated: ``loss_corr_pct``, bursts that keep the loss share), corrupt (one bit
flipped), the queue limit, then the time the frame leaves — rate (a serialising queue), delay and
jitter, or at once for the share `reorder` picks (netem's "sent without the
delay"). Unlike a bare per-packet delay, jitter never reorders: a frame never
leaves before the one ahead of it (the brief's netem semantics; only `reorder`
lets frames overtake).

One process per link, one thread: a `select` loop over the link's sockets and a
heap of (send time, frame) timers; `select` takes a timeout in microseconds and
the process asks for real-time scheduling (`_fine_timers`), so frames leave within
tens to hundreds of microseconds of their time even on a busy machine. Each direction holds at
most `limit` frames (netem's default 1000), so memory is bounded. It runs until
the lab stops it by pid (SIGTERM; its ledger records it), and on its own when
its interfaces go away or its lab's run folder is removed.

Seeds: every random choice of a direction comes from a generator seeded with
(seed, link, splice, direction, EtherType): IPv6 background chatter (router
solicitations, MLD) never shifts the pattern the IPv4 frames meet, so with a
seed the n-th IPv4 frame of a direction meets the same fate on every run.

Standard library only, and none of netlab: this starts fast and cannot be broken
by an import elsewhere.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import heapq
import json
import os
import random
import select
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_IGNORE_OUTGOING = 23  # Linux ≥ 4.20: our own sends are not read back
PACKET_OUTGOING = 4
PR_SET_TIMERSLACK = 29
ETH_HLEN = 14
BATCH = 64  # frames read from one socket before looking at the timers again
CHECK_EVERY = 0.5  # seconds between checks that the lab still exists
STATS_EVERY = 1.0
EARLY = 20e-6  # a frame due within 20 µs is sent now rather than after one more select
MAX_STREAMS = 16  # random streams per direction, one per EtherType seen first
GONE = {errno.ENETDOWN, errno.ENXIO, errno.ENODEV, errno.EBADF}


class Stop(Exception):
    """SIGTERM/SIGINT/SIGHUP: leave the loop."""


class LinkGone(Exception):
    """An interface of the link disappeared (its namespace was deleted)."""


class Direction:
    """What one direction of a splice does to each frame: netem's decisions, in its order.

    `imp` holds the topology's impairment (`Impairment.to_dict()`); None passes frames on
    untouched. Times are seconds of `time.monotonic()`.
    """

    def __init__(self, imp: dict[str, Any] | None, key: str, seed: int | None) -> None:
        imp = imp or {}
        self.key = key
        self.seed = seed if seed is not None else random.SystemRandom().getrandbits(63)
        self.delay = float(imp.get("delay_ms") or 0) / 1000
        self.jitter = float(imp.get("jitter_ms") or 0) / 1000
        self.normal = imp.get("distribution") == "normal"
        self.loss = float(imp.get("loss_pct") or 0) / 100
        self.loss_corr = float(imp.get("loss_corr_pct") or 0) / 100
        self.duplicate = float(imp.get("duplicate_pct") or 0) / 100
        self.reorder = float(imp.get("reorder_pct") or 0) / 100
        self.corrupt = float(imp.get("corrupt_pct") or 0) / 100
        rate = imp.get("rate_kbit")
        self.byte_time = 8 / (rate * 1000) if rate else 0.0  # seconds per byte on the wire
        self.limit = int(imp.get("limit") or 1000)
        # Frames leave at once (no timer) when nothing delays them.
        self.immediate = not (self.delay or self.jitter or self.byte_time or self.reorder)
        self.rngs: dict[int, random.Random] = {}
        self.last_lost = False  # correlated loss: the previous frame's fate
        self.last_send = 0.0  # jitter never sends a frame before the previous one
        self.line_free = 0.0  # rate: when the serialising queue is empty again
        self.held = 0  # frames waiting in the heap
        self.stats = dict.fromkeys(
            ("frames", "bytes", "lost", "duplicated", "corrupted", "reordered", "overlimit",
             "sent", "send_errors"), 0)  # fmt: skip

    def rng(self, ethertype: int) -> random.Random:
        gen = self.rngs.get(ethertype)
        if gen is None and len(self.rngs) >= MAX_STREAMS:
            ethertype = -1  # frames of yet more EtherTypes share one stream: bounded memory
            gen = self.rngs.get(ethertype)
        if gen is None:
            # A str seed is hashed with SHA-512: the same on every run and Python.
            gen = self.rngs[ethertype] = random.Random(f"{self.seed}:{self.key}:{ethertype}")
        return gen

    def _lost(self, gen: random.Random) -> bool:
        if not self.loss:
            return False
        p, c = self.loss, self.loss_corr
        if c:
            # Correlated: a two-state chain, P(lost | last lost) = p + c(1 − p) and
            # P(lost | last kept) = p(1 − c). The long-run share stays p and losses come
            # in runs of 1 / (1 − p − c(1 − p)) on average. (netem's own `loss P% CORR%`
            # averages successive random numbers, which shrinks the share instead.)
            p = p + c * (1 - p) if self.last_lost else p * (1 - c)
        self.last_lost = gen.random() < p
        return self.last_lost

    def fate(self, frame: bytes, now: float) -> list[tuple[float, bytes]]:
        """The copies of `frame` to send, each with its send time: [] if it is lost."""
        st = self.stats
        st["frames"] += 1
        st["bytes"] += len(frame)
        ethertype = int.from_bytes(frame[12:14], "big") if len(frame) >= ETH_HLEN else 0
        gen = self.rng(ethertype)
        copies = 1
        if self.duplicate and gen.random() < self.duplicate:
            copies = 2
            st["duplicated"] += 1
        out: list[tuple[float, bytes]] = []
        for _ in range(copies):
            # netem re-enqueues a duplicate through itself: it may be lost in turn.
            if self._lost(gen):
                st["lost"] += 1
                continue
            data = frame
            if self.corrupt and gen.random() < self.corrupt and len(frame) > ETH_HLEN:
                data = _flip_bit(frame, gen)
                st["corrupted"] += 1
            if self.held + len(out) >= self.limit:
                st["overlimit"] += 1
                continue
            out.append((self._when(len(data), now, gen), data))
        return out

    def _when(self, size: int, now: float, gen: random.Random) -> float:
        if self.immediate:
            return now
        if self.reorder and gen.random() < self.reorder:
            self.stats["reordered"] += 1
            return now  # netem: put at the head of the queue, without the delay
        start = now
        if self.byte_time:
            # A serialising line: the frame leaves the queue once those ahead are out.
            start = max(now, self.line_free) + size * self.byte_time
            self.line_free = start
        delay = self.delay
        if self.jitter:
            if self.normal:
                spread = max(-4.0, min(4.0, gen.gauss(0.0, 1.0)))
                delay += spread * self.jitter
            else:  # netem's default: uniform over [delay - jitter, delay + jitter)
                delay += (2 * gen.random() - 1) * self.jitter
            delay = max(0.0, delay)
        when = start + delay
        if self.jitter and when < self.last_send:
            when = self.last_send  # jitter alone never reorders
        self.last_send = max(self.last_send, when)
        return when


def _flip_bit(frame: bytes, gen: random.Random) -> bytes:
    """One bit flipped after the Ethernet header: the damage reaches IP and its checksums
    (netem may hit the MAC header too, where the frame would just go astray)."""
    data = bytearray(frame)
    i = gen.randrange(ETH_HLEN, len(data))
    data[i] ^= 1 << gen.randrange(8)
    return bytes(data)


class Port:
    """One wire-side interface: its socket, and the direction frames read here go."""

    def __init__(self, ifname: str) -> None:
        self.ifname = ifname
        # Protocol 0 until bound: an ETH_P_ALL socket would see every interface's frames
        # in the moment before bind() narrows it to this one.
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        self.check_outgoing = False
        try:
            self.sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        except OSError:
            self.check_outgoing = True
        for opt, fallback in ((33, socket.SO_RCVBUF), (32, socket.SO_SNDBUF)):  # *BUFFORCE
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, opt, 4 << 20)
            except OSError:
                self.sock.setsockopt(socket.SOL_SOCKET, fallback, 4 << 20)
        self.sock.bind((ifname, ETH_P_ALL))
        self.sock.setblocking(False)
        self.peer: Port | None = None
        self.direction: Direction | None = None  # frames read here, towards `peer`


class Emulator:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.link = config.get("link", "?")
        self.ports: list[Port] = []
        self.directions: dict[str, Direction] = {}
        for index, splice in enumerate(config["splices"]):
            a, b = Port(splice["a"]), Port(splice["b"])
            a.peer, b.peer = b, a
            for port, key in ((a, "ab"), (b, "ba")):
                imp = splice.get(key)
                if imp is not None:
                    port.direction = Direction(imp, f"{self.link}:{index}:{key}", imp.get("seed"))
                    self.directions[f"{port.ifname}>{b.ifname if port is a else a.ifname}"] = (
                        port.direction
                    )
            self.ports += [a, b]
        self.by_fd = {p.sock.fileno(): p for p in self.ports}
        self.heap: list[tuple[float, int, bytes, Port, Direction]] = []
        self.seq = 0
        self.buf = bytearray(65536)
        self.view = memoryview(self.buf)
        self.stats_path = config.get("stats")
        self.watch = [Path(p) for p in config.get("watch", [])]

    def run(self) -> None:
        next_check = next_stats = time.monotonic()
        fds = list(self.by_fd)
        while True:
            now = time.monotonic()
            timeout = CHECK_EVERY
            if self.heap:
                timeout = min(timeout, max(0.0, self.heap[0][0] - now - EARLY))
            ready, _, _ = select.select(fds, [], [], timeout)
            for fd in ready:
                self._drain(self.by_fd[fd])
            if self.heap:
                self._flush(time.monotonic())
            if now >= next_check:
                next_check = now + CHECK_EVERY
                if any(not path.exists() for path in self.watch):
                    return  # the lab's run folder is gone: so is the lab
            if now >= next_stats and self.stats_path:
                next_stats = now + STATS_EVERY
                self.write_stats()

    def _drain(self, port: Port) -> None:
        out = port.peer
        assert out is not None
        direction = port.direction
        for _ in range(BATCH):
            try:
                if port.check_outgoing:
                    n, addr = port.sock.recvfrom_into(self.buf)
                    if addr[2] == PACKET_OUTGOING:
                        continue
                else:
                    n = port.sock.recv_into(self.buf)
            except BlockingIOError:
                return
            except OSError as err:
                if err.errno in GONE:
                    raise LinkGone(f"{port.ifname}: {err.strerror}") from err
                return
            if direction is None:
                self._send(out, self.view[:n], None)
                continue
            now = time.monotonic()
            for when, data in direction.fate(bytes(self.view[:n]), now):
                if when <= now:
                    self._send(out, data, direction)
                else:
                    self.seq += 1
                    direction.held += 1
                    heapq.heappush(self.heap, (when, self.seq, data, out, direction))

    def _flush(self, now: float) -> None:
        heap = self.heap
        while heap and heap[0][0] <= now + EARLY:
            _, _, data, out, direction = heapq.heappop(heap)
            direction.held -= 1
            self._send(out, data, direction)

    def _send(self, out: Port, data: Any, direction: Direction | None) -> None:
        try:
            out.sock.send(data)
        except (BlockingIOError, InterruptedError):
            if direction is not None:
                direction.stats["send_errors"] += 1
            return
        except OSError as err:
            if err.errno in GONE:
                raise LinkGone(f"{out.ifname}: {err.strerror}") from err
            if direction is not None:
                direction.stats["send_errors"] += 1
            return
        if direction is not None:
            direction.stats["sent"] += 1

    def write_stats(self) -> None:
        doc = {
            "link": self.link,
            "pid": os.getpid(),
            "directions": {
                name: {"seed": d.seed, "held": d.held, **d.stats}
                for name, d in self.directions.items()
            },
        }
        tmp = f"{self.stats_path}.tmp"
        try:
            Path(tmp).write_text(json.dumps(doc))
            os.replace(tmp, self.stats_path)
        except OSError:
            pass  # the run folder is going away


def _stop(signum: int, frame: Any) -> None:
    raise Stop(signal.Signals(signum).name)


def _fine_timers() -> None:
    # select() sleeps on an hrtimer with the thread's slack (50 µs by default): ask for 1 µs.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_TIMERSLACK, 1000, 0, 0, 0)
    # A frame's time is only as good as the wake-up. On a busy machine (load 10 on 2
    # cores) a time-shared process wakes late: median RTT of a 2 × 200 ms link +0.9 ms,
    # p90 +4.6 ms with nice −10; with SCHED_FIFO (lowest real-time priority) +0.2 and
    # +0.3 ms, as netem's timers, which run in softirq, are. The kernel still keeps 5 %
    # of each CPU for the rest (sched_rt_runtime_us), and this is one thread: at most
    # one core. NETLAB_LINKEMU_RT=0 keeps it time-shared (nice −10).
    if os.environ.get("NETLAB_LINKEMU_RT", "1") != "0":
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
            return
        except (OSError, AttributeError):
            pass  # no CAP_SYS_NICE (a container): time-shared, with a better weight
    with contextlib.suppress(OSError):
        os.nice(-10)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m netlab.lab.linkemu CONFIG.json", file=sys.stderr)
        return 2
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _stop)
    try:
        config = json.loads(Path(argv[0]).read_text())
        emu = Emulator(config)
    except (OSError, ValueError, KeyError, TypeError) as err:
        print(f"linkemu: cannot start: {err}", file=sys.stderr)
        return 1
    except Stop:
        return 0
    _fine_timers()
    ready = config.get("ready")
    if ready:
        Path(ready).write_text(f"{os.getpid()}\n")
    try:
        emu.run()
    except Stop:
        pass
    except LinkGone as err:
        print(f"linkemu: {err}: the lab is gone", file=sys.stderr)
    finally:
        if emu.stats_path:
            emu.write_stats()
    return 0


if __name__ == "__main__":
    sys.exit(main())
