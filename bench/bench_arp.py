"""Wall time of `netlab arp --scan` of a /24 against arp-scan, in the same lab and run.

Usage (root): .venv/bin/python bench/bench_arp.py [--runs N]

The lab is `lan` with a few more live hosts: a scans 198.18.0.0/24, where b, c
and d answer and the other 250 addresses do not. Both tools run with their
defaults inside a's namespace (`ip netns exec`, as `netlab lab exec` does), so
each wall time includes its program's start-up, the sweep and the wait for the
last retry. arp-scan's defaults: 2 tries per host, 500 ms timeout, backoff 1.5,
256 kbit/s (~500 packets/s); netlab's: the same tries and timeouts, 1000
packets/s. The two alternate within a run, and the medians are compared; both
must find exactly b, c and d (with the same MACs), or the run fails.

netlab runs as installed, with its bytecode cached (in a temporary
PYTHONPYCACHEPREFIX, so nothing is written into the checkout), even where the
environment sets PYTHONDONTWRITEBYTECODE: compiling netlab's modules on every
start would add ~25 ms that no installed copy pays.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOPOLOGY = """
name = "arpbench"
description = "lan plus two hosts: a sweeps the /24, b c d answer"

[nodes.a]
[nodes.b]
[nodes.c]
[nodes.d]

[[links]]
name = "lan"
kind = "lan"
nodes = ["a", "b", "c", "d"]
subnet = "198.18.0.0/24"
addresses = { a = ["198.18.0.10"], b = ["198.18.0.20"], c = ["198.18.0.30"], d = ["198.18.0.200"] }
"""


def hosts_found(stdout: str) -> dict[str, str]:
    """IP → MAC from either tool's lines ("IP<TAB>MAC<TAB>vendor")."""
    found = {}
    for line in stdout.splitlines():
        fields = line.split("\t")
        if len(fields) >= 2 and fields[0].startswith("198.18."):
            found[fields[0]] = fields[1]
    return found


def wait_links_up(book, timeout: float = 5.0) -> None:
    """Until every veth end of the lab is operationally up.

    Right after `lab up` a bridge port can stay down for up to a second (the kernel's
    link watch handles carrier changes at most once a second), and a sweep started
    then loses the hosts behind it.
    """
    import json

    ends = [end.split(":") for item in book.of_kind("link") for end in (item["a"], item["b"])]
    deadline = time.monotonic() + timeout
    while True:
        down = []
        for ns, dev in ends:
            proc = subprocess.run(["ip", "-n", ns, "-j", "link", "show", "dev", dev],
                                  capture_output=True, text=True, check=True)  # fmt: skip
            if json.loads(proc.stdout)[0].get("operstate") != "UP":
                down.append(f"{ns}:{dev}")
        if not down:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"bench_arp: links still down: {', '.join(down)}")
        time.sleep(0.05)


def timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, dict[str, str]]:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"bench_arp: {' '.join(argv)} failed: {proc.stderr.strip()}")
    return wall, hosts_found(proc.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_arp: needs root (namespaces, raw sockets)", file=sys.stderr)
        return 3
    from netlab.lab import engine
    from netlab.lab.topology import load_topology

    netlab = str(Path(sys.executable).parent / "netlab")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "arpbench.toml"
        path.write_text(TOPOLOGY)
        book = engine.up(load_topology(path), name=f"arpb{os.getpid() % 10000}", hold=True)
        try:
            wait_links_up(book)
            ns = ["ip", "netns", "exec", book.info["nodes"]["a"]["netns"]]
            ours_argv = [*ns, netlab, "arp", "--scan", "198.18.0.0/24", "-I", "eth0"]
            peer_argv = [*ns, "arp-scan", "-I", "eth0", "198.18.0.0/24"]
            env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
            env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
            timed(ours_argv, env)  # warm-up: page cache, .pyc files, the peers' ARP tables
            timed(peer_argv)
            ours, peer = [], []
            for run in range(args.runs):
                pair = [(ours, ours_argv, env), (peer, peer_argv, None)]
                for samples, argv, run_env in pair if run % 2 == 0 else reversed(pair):
                    samples.append(timed(argv, run_env))
        finally:
            engine.teardown(book)
    expected = {"198.18.0.20", "198.18.0.30", "198.18.0.200"}
    for name, samples in (("netlab", ours), ("arp-scan", peer)):
        for _wall, found in samples:
            if set(found) != expected:
                raise SystemExit(f"bench_arp: {name} found {sorted(found)}, not {sorted(expected)}")
    if any(o[1] != p[1] for o, p in zip(ours, peer, strict=True)):
        raise SystemExit("bench_arp: the two tools disagree on a MAC address")
    ours_wall = statistics.median(w for w, _f in ours)
    peer_wall = statistics.median(w for w, _f in peer)
    print(f"arp sweep of 198.18.0.0/24 (3 live hosts), median of {args.runs} runs")
    print(f"  netlab arp --scan  {ours_wall:6.3f} s   (runs: "
          f"{', '.join(f'{w:.3f}' for w, _f in ours)})")  # fmt: skip
    print(f"  arp-scan           {peer_wall:6.3f} s   (runs: "
          f"{', '.join(f'{w:.3f}' for w, _f in peer)})")  # fmt: skip
    ratio = ours_wall / peer_wall
    print(f"  ratio netlab/arp-scan: {ratio:.2f}  ({'goal met' if ratio <= 1 else 'goal NOT met'}:"
          " wall ≤ arp-scan's)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
