"""What several benchmarks share: timing a command, counting a capture's packets, and
the dissector-against-tshark comparison printed as one ratio line.

Imported by the bench scripts as `benchlib` (their own folder is first on sys.path
when run as `python bench/bench_x.py`).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path


def wall(argv: list[str]) -> float:
    """Wall seconds of a command whose output goes to /dev/null (a failed run is said)."""
    start = time.perf_counter()
    with open(os.devnull, "w") as sink:
        status = subprocess.run(argv, stdout=sink, stderr=subprocess.DEVNULL).returncode
    if status:
        print(f"  ! {' '.join(argv)} exited with status {status}")
    return time.perf_counter() - start


def count_packets(path: Path) -> int:
    from netlab.capture.reader import open_capture

    with open_capture(path) as cap:
        return sum(1 for _ in cap)


def dissect_vs_tshark(ours_cmd: list[str], theirs_cmd: list[str], path: Path, repeat: int) -> str:
    """Run both one-line-per-packet dissections REPEAT times, alternating (a drifting
    machine slows both alike); the line with the best of each and their ratio."""
    ours, theirs = [], []
    for _ in range(max(1, repeat)):
        ours.append(wall(ours_cmd))
        theirs.append(wall(theirs_cmd))
    best_ours, best_theirs = min(ours), min(theirs)
    ratio = best_ours / best_theirs
    verdict = "OK" if ratio <= 1.0 else "over target"
    return (
        f"dissect  netlab -j 1 {best_ours:6.2f} s | tshark {best_theirs:6.2f} s | "
        f"ratio {ratio:.2f} (target <= 1.0) {verdict} | best of {len(ours)}, one process "
        f"each; netlab {count_packets(path) / best_ours:,.0f} pkt/s"
    )
