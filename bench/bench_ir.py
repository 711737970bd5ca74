"""Instructions per packet, netlab against tshark: the CPU work, free of the machine's noise.

    python bench/bench_ir.py [--packets 20000] [--views summary,tree] [--corpus]

Runs each tool under valgrind's callgrind (both one process) on bench_dissect.py's
replicated capture, once on the whole file and once with -c 1, and prints the
instructions per packet (the difference over the packets after the first) and their
ratio. The count is the same from run to run (to 0.1 %), where wall time on this
2-vCPU machine drifts by tens of percent between minutes, so it is the measure for
deciding whether a change to the dissector's hot path pays. Instructions are not
time: CPython's interpreter retires more of them per cycle than tshark's dissectors
do, so the time ratio (bench_dissect.py) is lower than this one. Slow: valgrind runs
the code 50-100 times slower (20k packets: about a minute a view).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_dissect import VIEWS, build


def instructions(argv: list[str]) -> int:
    """Instructions callgrind counted for ARGV (its output to /dev/null)."""
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False,
    )  # fmt: skip
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"no count from valgrind for {' '.join(argv)}: {done.stderr[-300:]}")
    return int(found.group(1))


def per_packet(make_argv, packets: int) -> float:
    """Instructions per packet past the first: the whole file less a run of -c 1."""
    whole, first = instructions(make_argv([])), instructions(make_argv(["-c", "1"]))
    return (whole - first) / (packets - 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=20_000)
    parser.add_argument("--views", default="summary,tree")
    parser.add_argument("--corpus", action="store_true", help="pcaps/ and the tcpdump corpus")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is needed (apt-get install valgrind)")
    path = str(build(args.packets, corpus=args.corpus))
    netlab = [sys.executable, "-m", "netlab"]
    print(f"capture: {path} ({args.packets:,} packets); callgrind, one process each")
    for view in args.views.split(","):
        ours_args, theirs_args, _target = VIEWS[view]
        ours = per_packet(lambda c, a=ours_args: [*netlab, *a, "--jobs", "1", *c, path],
                          args.packets)  # fmt: skip
        theirs = per_packet(lambda c, a=theirs_args: ["tshark", *c, *a, path], args.packets)
        print(f"{view:8} netlab {ours:9,.0f} instructions/packet | tshark {theirs:9,.0f} | "
              f"ratio {ours / theirs:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
