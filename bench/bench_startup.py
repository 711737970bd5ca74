"""Start-up time of `netlab --help` (issue 2: median of 5 must be <= 0.15 s).

Measured in the same run against two references:
  - the bare interpreter (`python -c pass`): the floor no Python CLI can beat;
  - a non-lazy spine (`python -c "import click, scapy.all, rich"`): what --help
    would cost if the root group imported its commands.
Prints the medians and the ratios. Not a test: machines are noisy.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 5
TARGET_S = 0.15
BIN = Path(sys.executable).parent


def median_wall(argv: list[str], runs: int = RUNS) -> float:
    subprocess.run(argv, capture_output=True, check=False)  # warm the page cache once
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    netlab = str(BIN / "netlab")
    cases = {
        "netlab --help": [netlab, "--help"],
        "netlab --version": [netlab, "--version"],
        "netlab cidr --help": [netlab, "cidr", "--help"],
        "python -c pass": [sys.executable, "-c", "pass"],
        "eager import (click+scapy+rich)": [sys.executable, "-c", "import click, scapy.all, rich"],
    }
    results = {name: median_wall(argv) for name, argv in cases.items()}
    width = max(map(len, results))
    for name, seconds in results.items():
        print(f"{name:<{width}}  {seconds * 1000:8.1f} ms (median of {RUNS})")
    helps = results["netlab --help"]
    print()
    print(f"netlab --help / target {TARGET_S * 1000:.0f} ms   = {helps / TARGET_S:.2f}")
    print(f"netlab --help / python -c pass          = {helps / results['python -c pass']:.2f}")
    eager = results["eager import (click+scapy+rich)"]
    print(f"netlab --help / eager-import spine      = {helps / eager:.2f}")
    verdict = "OK" if helps <= TARGET_S else "OVER TARGET"
    print(f"verdict: {verdict}")
    return 0 if helps <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
