"""netlab ping vs iputils ping in the `lan` lab (issue 5's ping benchmarks).

- RTT accuracy: 300 echoes each over a bare veth (no impairment); the median RTT
  of netlab minus the median of iputils must be <= 20 µs (netlab measures kernel
  to kernel: request leaving the device, reply arriving; iputils takes the send
  time from user space).
- Start-up: wall time of `netlab ping -c 1` (median of 5), target <= 0.5 s, next
  to `ping -c 1` measured the same way.
Run as root: `python bench/bench_ping.py`. Prints the numbers and the ratios.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NETLAB = str(Path(sys.executable).parent / "netlab")
LAB = "benchping"


def lab(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([NETLAB, "lab", *args], capture_output=True, text=True, check=check)


def exec_in(node: str, *cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run([NETLAB, "lab", "exec", "--lab", LAB, node, "--", *cmd],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def wall(node: str, *cmd: str, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        exec_in(node, *cmd)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    lab("up", str(ROOT / "labs" / "lan.toml"), "--name", LAB)
    try:
        target = "198.18.0.20"  # host b, from host a across the bridge
        ours = exec_in("a", NETLAB, "ping", "--json", "-c", "300", "-i", "0.01", target)
        rtts = [r["rtt_ms"] for r in map(json.loads, ours.stdout.splitlines())
                if r["type"] == "reply"]  # fmt: skip
        theirs = exec_in("a", "ping", "-4", "-n", "-c", "300", "-i", "0.01", target)
        their_rtts = [float(x) for x in re.findall(r"time=([\d.]+) ms", theirs.stdout)]
        ours_med, theirs_med = statistics.median(rtts), statistics.median(their_rtts)
        diff_us = (ours_med - theirs_med) * 1000
        print(f"RTT median  netlab {ours_med * 1000:7.1f} µs ({len(rtts)} replies) | "
              f"iputils {theirs_med * 1000:7.1f} µs ({len(their_rtts)} replies) | "
              f"difference {diff_us:+.1f} µs (target <= 20 µs) "
              f"{'OK' if diff_us <= 20 else 'over target'}")  # fmt: skip
        # Subtract the cost of `lab exec` itself so both numbers are the tools' own.
        base = wall("a", "true")
        ours_wall = wall("a", NETLAB, "ping", "-c", "1", target) - base
        their_wall = wall("a", "ping", "-4", "-c", "1", target) - base
        print(f"start-up    netlab ping -c1 {ours_wall:.3f} s | iputils {their_wall:.3f} s | "
              f"ratio {ours_wall / their_wall:.1f} (target netlab <= 0.5 s) "
              f"{'OK' if ours_wall <= 0.5 else 'over target'}")  # fmt: skip
    finally:
        lab("down", LAB, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
