"""Wall time of `lab up` and `lab down` for a 10-node topology (goal: ≤ 1.5 s up, ≤ 1 s down).

Usage (root): .venv/bin/python bench/bench_lab.py [--runs N]

The topology: two LANs of three hosts each, joined by a chain of four routers,
with a TCP echo server and an nginx on the far LAN (10 nodes, 2 switches, 5 links):

    h1 h2 h3 ─ lanA ─ r1 ─ r2 ─ r3 ─ r4 ─ lanB ─ h4 h5 h6

Printed, as medians over the runs:
- netlab's engine in-process (what the pytest fixture pays) and the CLI end to
  end (`netlab lab up` / `down`, Python start-up included);
- the peer, measured in the same run: the same network built the way Mininet
  builds it, one `ip` process per command, and the ratio between the two.
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
name = "bench10"
description = "10 nodes: two LANs of three hosts joined by four routers"

[nodes.h1]
gateway = "198.18.1.1"
[nodes.h2]
gateway = "198.18.1.1"
[nodes.h3]
gateway = "198.18.1.1"
[nodes.r1]
kind = "router"
gateway = "198.18.2.2"
[nodes.r2]
kind = "router"
routes = [
  { to = "198.18.1.0/24", via = "198.18.2.1" },
  { to = "198.18.0.0/15", via = "198.18.3.2" },
]
[nodes.r3]
kind = "router"
routes = [
  { to = "198.18.5.0/24", via = "198.18.4.2" },
  { to = "198.18.0.0/15", via = "198.18.3.1" },
]
[nodes.r4]
kind = "router"
gateway = "198.18.4.1"
[nodes.h4]
gateway = "198.18.5.1"
services = [{ type = "tcp", ports = [7] }]
[nodes.h5]
gateway = "198.18.5.1"
[nodes.h6]
gateway = "198.18.5.1"
services = [{ type = "http", port = 80 }]

[[links]]
nodes = ["r1", "h1", "h2", "h3"]
subnet = "198.18.1.0/24"
[[links]]
nodes = ["r1", "r2"]
subnet = "198.18.2.0/24"
[[links]]
nodes = ["r2", "r3"]
subnet = "198.18.3.0/24"
[[links]]
nodes = ["r3", "r4"]
subnet = "198.18.4.0/24"
[[links]]
nodes = ["r4", "h4", "h5", "h6"]
subnet = "198.18.5.0/24"
"""


def engine_run(path: Path, services: bool = True) -> tuple[float, float]:
    from netlab.lab import engine
    from netlab.lab.topology import load_topology

    topo = load_topology(path)
    if not services:
        for node in topo.nodes.values():
            node.services.clear()
    t0 = time.perf_counter()
    book = engine.up(topo)
    t1 = time.perf_counter()
    check = subprocess.run(
        engine.exec_argv(book, "h1", ["ping", "-c1", "-W2", "h6"]), capture_output=True, check=False
    )
    t2 = time.perf_counter()
    engine.teardown(book)
    t3 = time.perf_counter()
    if check.returncode != 0:
        raise SystemExit("bench lab is broken: h1 cannot ping h6")
    return t1 - t0, t3 - t2


def cli_run(path: Path) -> tuple[float, float]:
    netlab = str(Path(sys.executable).parent / "netlab")
    t0 = time.perf_counter()
    subprocess.run([netlab, "lab", "up", str(path)], check=True, stdout=subprocess.DEVNULL)
    t1 = time.perf_counter()
    subprocess.run([netlab, "lab", "down", "bench10"], check=True, stdout=subprocess.DEVNULL)
    return t1 - t0, time.perf_counter() - t1


def naive_run(path: Path) -> tuple[float, float]:
    """The peer: the same namespaces, links, addresses and routes, one `ip` per command."""
    from netlab.lab import plan
    from netlab.lab.topology import load_topology

    the_plan = plan.build_plan(load_topology(path), "bench10")
    t0 = time.perf_counter()
    for line in the_plan.root_batch:
        subprocess.run(["ip", *line.split()], check=True)
    for ns, lines in the_plan.ns_batches.items():
        for line in lines:
            subprocess.run(["ip", "-n", ns, *line.split()], check=True)
    for ns, values in the_plan.sysctls.items():
        subprocess.run(
            ["ip", "netns", "exec", ns, "sysctl", "-qw", *(f"{k}={v}" for k, v in values.items())],
            check=True,
        )
    t1 = time.perf_counter()
    for ns in the_plan.namespaces:
        subprocess.run(["ip", "netns", "del", ns], check=True)
    return t1 - t0, time.perf_counter() - t1


def median(samples: list[tuple[float, float]], i: int) -> float:
    return statistics.median(s[i] for s in samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_lab: needs root (namespaces)", file=sys.stderr)
        return 3
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench10.toml"
        path.write_text(TOPOLOGY)
        results = {
            "engine (in-process, with 2 services)": [engine_run(path) for _ in range(args.runs)],
            "engine (in-process, no services)": [
                engine_run(path, services=False) for _ in range(args.runs)
            ],
            "netlab lab up/down (CLI, with 2 services)": [cli_run(path) for _ in range(args.runs)],
            "one `ip` per command (Mininet style, no services)": [
                naive_run(path) for _ in range(args.runs)
            ],
        }
    print(f"10-node lab, median of {args.runs} runs (goal: up ≤ 1.5 s, down ≤ 1.0 s)")
    for name, samples in results.items():
        print(f"  {name:<52} up {median(samples, 0):6.3f} s   down {median(samples, 1):6.3f} s")
    peer = results["one `ip` per command (Mininet style, no services)"]
    ours = results["engine (in-process, no services)"]
    up_ratio = median(peer, 0) / median(ours, 0)
    down_ratio = median(peer, 1) / median(ours, 1)
    print(
        f"  ratio Mininet-style/engine, both without services: up ×{up_ratio:.1f}, "
        f"down ×{down_ratio:.1f}"
    )
    cli = results["netlab lab up/down (CLI, with 2 services)"]
    ok = median(cli, 0) <= 1.5 and median(cli, 1) <= 1.0
    print("  goal met (CLI)" if ok else "  goal NOT met (CLI)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
