"""`netlab traceroute` against Linux traceroute through the routed lab (goal: wall <= Linux's).

Usage (root): .venv/bin/python bench/bench_traceroute.py [--runs N]
                 [--scenarios plain,silent,unreach,delay]

Both tools run in the lab's client namespace through `netlab lab exec` (as a user
would), alternating, RUNS times per method (UDP default, -I, -T); medians are printed.

- wall: the whole command as the user waits for it, `lab exec` included;
- wire: first probe leaving to last answer arriving, from a tcpdump capture on the
  client's interface during the same run: the trace itself, without process start-up;
- floors measured in the same run: `lab exec -- true` (paid by both tools) and, for
  netlab, Python + click alone (`traceroute --help`) and Python + the Scapy import.

Scenarios: `plain` is the routed lab as shipped (4 hops, microsecond round trips);
`silent` adds an nft rule in r2's namespace that drops its "time exceeded" (hop 2 is
'* * *'); `unreach` traces 198.18.4.99, which nobody has: r3 answers !H once its ARP
gives up (~3 s), so waiting, not start-up, dominates; `delay` is the routed lab with
20 ms of netem delay each way on r1–r2 (skipped when the kernel has no netem). The
labs are taken down at the end, also on error.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
NETLAB = str(Path(sys.executable).parent / "netlab")
METHODS = {"udp": [], "icmp": ["-I"], "tcp": ["-T"]}
SCAPY_IMPORT = "from netlab.net.runner import import_scapy_ip; import_scapy_ip({4}, True)"
LAB = "benchtr"


def lab_exec(node: str, argv: list[str]) -> list[str]:
    return [NETLAB, "lab", "exec", "--lab", LAB, node, "--", *argv]


def hops_of(text: str) -> list[str]:
    """Each hop's addresses, as one string, from traceroute's text output."""
    lines = text.splitlines()[1:]
    return [" ".join(sorted(set(re.findall(r"\d+\.\d+\.\d+\.\d+|\*", line)))) for line in lines]


class Capture:
    """tcpdump in the client's namespace for the duration of one run: the wire span."""

    def __init__(self, netns: str, iface: str) -> None:
        fd, self.path = tempfile.mkstemp(suffix=".pcap", prefix="bench-trace-")
        os.close(fd)
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, "tcpdump", "-i", iface, "-n", "-U", "-w", self.path,
             "--immediate-mode", "ip and (icmp or udp or tcp)"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stderr is not None
        self.proc.stderr.readline()  # "listening on eth0 …": the filter is in place

    def span_ms(self) -> float | None:
        time.sleep(0.05)  # late answers still on their way
        self.proc.send_signal(signal.SIGINT)  # our own child, by its pid
        self.proc.wait(timeout=10)
        from netlab.capture.reader import open_capture

        with open_capture(self.path) as cap:
            stamps = [frame.ts_ns for frame in cap]
        os.unlink(self.path)
        return (stamps[-1] - stamps[0]) / 1e6 if len(stamps) > 1 else None


def timed(argv: list[str], netns: str, iface: str) -> tuple[float, float | None, str]:
    cap = Capture(netns, iface)
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    wall = time.perf_counter() - start
    return wall, cap.span_ms(), proc.stdout


def median_wall(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def up(delay_ms: float = 0.0):
    from netlab.lab import engine
    from netlab.lab.topology import Impairment, load_topology

    topo = load_topology(ROOT / "labs" / "routed.toml")
    if delay_ms:
        link = next(link for link in topo.links if link.name == "r1-r2")
        link.impair = [Impairment("r1", delay_ms=delay_ms), Impairment("r2", delay_ms=delay_ms)]
    return engine.up(topo, name=LAB, hold=True)


def run_scenario(name: str, runs: int, rows: list) -> None:
    from netlab.lab import engine

    book = up(delay_ms=20.0 if name == "delay" else 0.0)
    try:
        skipped = [n for n in book.info.get("impairments", []) if n.get("not_applied")]
        if skipped:
            print(f"scenario {name}: skipped, this kernel has no netem to delay packets "
                  f"(the lab applied {skipped[0]['applied']} only)", file=sys.stderr)  # fmt: skip
            return
        client = book.info["nodes"]["client"]
        netns, iface = client["netns"], client["interfaces"][0]["name"]
        if name == "silent":
            r2 = book.info["nodes"]["r2"]["netns"]
            for rule in ("add table inet nlbench",
                         "add chain inet nlbench out { type filter hook output priority 0 ; }",
                         "add rule inet nlbench out icmp type time-exceeded drop"):  # fmt: skip
                subprocess.run(["ip", "netns", "exec", r2, "nft", *rule.split()], check=True)
        for method, flags in METHODS.items():
            target = "198.18.4.99" if name == "unreach" else "server"
            tools = {
                "linux": lab_exec("client", ["traceroute", "-n", *flags, target]),
                "netlab": lab_exec("client", [NETLAB, "traceroute", *flags, target]),
            }
            for argv in tools.values():  # warm-up: page cache, neighbour tables
                subprocess.run(argv, capture_output=True, check=False, timeout=120)
            walls: dict[str, list[float]] = {t: [] for t in tools}
            wires: dict[str, list[float]] = {t: [] for t in tools}
            hops: dict[str, str] = {}
            for _ in range(runs):
                for tool, argv in tools.items():
                    wall, wire, out = timed(argv, netns, iface)
                    walls[tool].append(wall)
                    if wire is not None:
                        wires[tool].append(wire)
                    hops[tool] = " | ".join(hops_of(out))
            same = hops["linux"] == hops["netlab"]
            rows.append((name, method, *(statistics.median(walls[t]) * 1e3 for t in tools),
                         *(statistics.median(wires[t]) if wires[t] else float("nan")
                           for t in tools), same, hops))  # fmt: skip
    finally:
        engine.teardown(book)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scenarios", default="plain,silent,unreach,delay")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_traceroute: needs root (lab namespaces, raw sockets)", file=sys.stderr)
        return 2
    rows: list = []
    for name in args.scenarios.split(","):
        run_scenario(name.strip(), args.runs, rows)

    # Where the wall goes: the floors, interleaved with the two tools in one loop.
    book = up()
    try:
        cases = {
            "Linux traceroute -n server": lab_exec("client", ["traceroute", "-n", "server"]),
            "netlab traceroute server": lab_exec("client", [NETLAB, "traceroute", "server"]),
            "lab exec -- true (paid by both)": lab_exec("client", ["true"]),
            "lab exec -- python -c pass (the interpreter alone)": lab_exec(
                "client", [sys.executable, "-c", "pass"]
            ),
            "lab exec -- netlab traceroute --help (Python + click)": lab_exec(
                "client", [NETLAB, "traceroute", "--help"]
            ),
            # The Scapy import exactly as traceroute makes it (routing tables skipped).
            "lab exec -- python: import_scapy_ip (Scapy's IP layers)": lab_exec(
                "client", [sys.executable, "-c", SCAPY_IMPORT]
            ),
        }
        samples: dict[str, list[float]] = {what: [] for what in cases}
        for _ in range(args.runs):
            for what, argv in cases.items():
                samples[what].append(median_wall(argv, 1))
        floors = {what: statistics.median(times) for what, times in samples.items()}
    finally:
        from netlab.lab import engine

        engine.teardown(book)

    print(f"traceroute through the routed lab: medians of {args.runs} runs, same run, "
          "both via `netlab lab exec`")  # fmt: skip
    print(f"{'scenario':<8} {'method':<6} {'Linux wall':>11} {'netlab wall':>12} {'ratio':>6}   "
          f"{'Linux wire':>11} {'netlab wire':>12} {'ratio':>6}  same hops")  # fmt: skip
    for name, method, lw, nw, lwire, nwire, same, hops in rows:
        print(
            f"{name:<8} {method:<6} {lw:9.1f} ms {nw:10.1f} ms {nw / lw:6.2f}   "
            f"{lwire:9.3f} ms {nwire:10.3f} ms {nwire / lwire:6.2f}  {'yes' if same else 'NO'}"
        )
        if not same:
            print(f"    Linux:  {hops['linux']}\n    netlab: {hops['netlab']}")
    print("where the wall goes (plain lab, UDP, interleaved):")
    for what, wall in floors.items():
        print(f"  {what:<58} {wall * 1e3:7.1f} ms")
    worst = max(nw / lw for _n, _m, lw, nw, *_rest in rows)
    verdict = "met" if worst <= 1.0 else "NOT met"
    print(f"goal wall(netlab) <= wall(Linux traceroute): {verdict} (worst ratio {worst:.2f})")
    wire = max(nwire / lwire for *_head, lwire, nwire, _same, _hops in rows)
    print(f"the trace itself, wire(netlab) <= wire(Linux traceroute): "
          f"{'met' if wire <= 1.0 else 'NOT met'} (worst ratio {wire:.2f})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
