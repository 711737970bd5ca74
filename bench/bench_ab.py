"""A/B start-up: this checkout against an earlier commit, on the same machine, interleaved.

    python bench/bench_ab.py [BASE_REV] [--rounds N]

Checks BASE_REV (default: the first parent of HEAD) out into a temporary git worktree,
byte-compiles both trees, and then times, alternating A and B each round so drift on
a noisy machine hits both alike:

  - `python -m netlab --help` (the light path: no command module, no scapy, no rich);
  - `python -m netlab ping -c 1 -W 1 127.0.0.1` (as root: the whole path of a packet
    command — imports, route lookup, raw sockets, capture, one echo, summary);
  - `python -m netlab dns-query -p PORT x.lab @127.0.0.1` against a local UDP
    responder (the socket runner's path), when both trees have dns-query.

Prints the median wall time of each and the ratio this/base (1 process each side;
each run is one process). Loopback only. Not a test: machines are noisy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def run_once(tree: Path, args: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    start = time.perf_counter()
    # cwd=TREE: `python -m` puts the working directory first on sys.path, before
    # PYTHONPATH, so run from elsewhere both sides would import the same checkout.
    proc = subprocess.run([sys.executable, "-m", "netlab", *args], env=env, cwd=tree,
                          capture_output=True, check=False)  # fmt: skip
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{tree}: netlab {' '.join(args)} failed: {proc.stderr.decode()}")
    return elapsed


def dns_responder() -> tuple[int, threading.Event]:
    """A UDP socket on 127.0.0.1 that answers every query with NXDOMAIN (bounded: it
    stops when the event is set)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, addr = sock.recvfrom(4096)
            except TimeoutError:
                continue
            if len(data) < 12:
                continue
            qid, flags = struct.unpack("!HH", data[:4])
            end = data.index(b"\0", 12) + 5  # the question: name, type, class
            reply = struct.pack("!HHHHHH", qid, 0x8183 | (flags & 0x0100), 1, 0, 0, 0)
            sock.sendto(reply + data[12:end], addr)
        sock.close()

    threading.Thread(target=serve, daemon=True).start()
    return sock.getsockname()[1], stop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", nargs="?", default="HEAD^")
    parser.add_argument("--rounds", type=int, default=15)
    opts = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="netlab-ab-"))
    base = tmp / "base"
    subprocess.run(["git", "-C", str(HERE), "worktree", "add", "--detach", "-q", str(base),
                    opts.base], check=True)  # fmt: skip
    port, stop = dns_responder()
    try:
        for tree in (HERE, base):
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "netlab")],
                           check=True)  # fmt: skip
        cases = {"--help": ["--help"]}
        if os.geteuid() == 0:
            cases["ping -c1"] = ["ping", "-c", "1", "-W", "1", "127.0.0.1"]
        cases["dns-query"] = ["dns-query", "--tries", "1", "-p", str(port), "x.lab", "@127.0.0.1"]
        print(f"A = this checkout ({HERE}), B = {opts.base}; {opts.rounds} rounds, "
              "alternating; 1 process per run on each side")  # fmt: skip
        for name, args in cases.items():
            times: dict[str, list[float]] = {"A": [], "B": []}
            for tree in (HERE, base):  # warm the page cache
                run_once(tree, args)
            for i in range(opts.rounds):
                order = [("A", HERE), ("B", base)] if i % 2 == 0 else [("B", base), ("A", HERE)]
                for label, tree in order:
                    times[label].append(run_once(tree, args))
            a, b = statistics.median(times["A"]), statistics.median(times["B"])
            print(f"{name:<12} A {a * 1000:7.1f} ms   B {b * 1000:7.1f} ms   A/B {a / b:5.3f}")
    finally:
        stop.set()
        subprocess.run(["git", "-C", str(HERE), "worktree", "remove", "--force", str(base)],
                       check=False)  # fmt: skip
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
