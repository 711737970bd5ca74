"""`netlab tcp-handshake --ports 1-1000` against `nmap -sS -p1-1000` in the routed lab
(issue 21: a SYN scan at or below nmap's wall time).

Usage (root): .venv/bin/python bench/bench_scan.py [--runs N]

Both scanners run in the lab's client namespace (`ip netns exec`, paid alike by both),
alternating, RUNS times per scenario, against the server (echo on 7, nginx on 80):

- `plain`: the lab as shipped: 998 closed ports, 2 open; against `nmap -sS -n
  -p1-1000` (host discovery, then the scan) and `nmap -sS -n -Pn -p1-1000` (the scan
  alone);
- `filtered`: an nft rule in the server's namespace drops port 443's SYNs, so both
  scanners retry it and wait their probe timeout (nmap's and ours: 100 ms at least
  once RTTs are measured) before calling it filtered.

Printed per scenario: the median and best wall time of each, the ratio of the medians
(target <= 1.0), that both found the same open/filtered ports, and how many processes
each side ran (from `strace -f`: every execve, once per tool outside the timing).
The modules are byte-compiled first (with PYTHONDONTWRITEBYTECODE a changed module
would be compiled again on every run). The lab is taken down at the end, also on error.
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
NETLAB = str(Path(sys.executable).parent / "netlab")
LAB = "benchscan"
DROPPED = 443


def netlab_lab(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([NETLAB, "lab", *args], capture_output=True, text=True, check=check)


def in_client(argv: list[str]) -> list[str]:
    from netlab.lab import plan

    return ["ip", "netns", "exec", plan.netns_name(LAB, "client"), *argv]


def timed(argv: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    took = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return took, proc.stdout


def states(text: str) -> dict[int, str]:
    """PORT STATE rows (open and filtered; both tools fold the 998 closed ones)."""
    return {int(m[1]): m[2] for m in re.finditer(r"^(\d+)/tcp\s+(\w+)", text, re.M)}


def processes(argv: list[str]) -> list[str]:
    """The programs a command ran (execve), itself included, via strace -f."""
    fd, path = tempfile.mkstemp(prefix="bench-scan-", suffix=".strace")
    os.close(fd)
    try:
        subprocess.run(["strace", "-f", "-qq", "-e", "trace=execve", "-o", path, *argv],
                       capture_output=True, timeout=120)  # fmt: skip
        text = Path(path).read_text()
    finally:
        os.unlink(path)
    programs = re.findall(r'execve\("([^"]+)".* = 0$', text, re.M)
    # `ip netns exec` itself execs the tool: count what ran inside the namespace
    return [Path(p).name for p in programs[1:]]


def scenario(name: str, ours: list[str], theirs: list[str], runs: int) -> None:
    peer = " ".join(theirs[theirs.index("nmap") :][:-1])
    t_ours, t_theirs = [], []
    out_ours = out_theirs = ""
    for _ in range(runs):
        took, out_ours = timed(ours)
        t_ours.append(took)
        took, out_theirs = timed(theirs)
        t_theirs.append(took)
    med_ours, med_theirs = statistics.median(t_ours), statistics.median(t_theirs)
    ratio = med_ours / med_theirs
    same = states(out_ours) == states(out_theirs)
    procs_ours, procs_theirs = processes(ours), processes(theirs)
    print(f"{name:<9} netlab {med_ours:.3f} s (best {min(t_ours):.3f}) | {peer} "
          f"{med_theirs:.3f} s (best {min(t_theirs):.3f}) | ratio {ratio:.2f} (target <= 1.0) "
          f"{'OK' if ratio <= 1.0 else 'over target'} | median of {runs}, alternating | "
          f"same ports: {'yes' if same else 'NO'} {sorted(states(out_ours).items())} | "
          f"processes: netlab {len(procs_ours)} ({', '.join(procs_ours)}), "
          f"nmap {len(procs_theirs)} ({', '.join(procs_theirs)})")  # fmt: skip
    if not same:
        print(f"  netlab: {states(out_ours)}\n  nmap:   {states(out_theirs)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root (namespaces, raw sockets)")
    compileall.compile_dir(str(ROOT / "netlab"), quiet=1)
    netlab_lab("up", str(ROOT / "labs" / "routed.toml"), "--name", LAB)
    try:
        from netlab.lab import plan

        server = "198.18.4.2"
        ours = in_client([NETLAB, "tcp-handshake", "--ports", "1-1000", server])
        # nmap as the issue names it (its host discovery first), and with -Pn (the scan
        # alone); -n: no reverse lookups, netlab makes none.
        theirs = in_client(["nmap", "-sS", "-n", "-p1-1000", server])
        scan_only = in_client(["nmap", "-sS", "-n", "-Pn", "-p1-1000", server])
        for argv in (ours, theirs, scan_only):  # warm: page cache, neighbour entries
            timed(argv)
        scenario("plain", ours, theirs, args.runs)
        scenario("plain", ours, scan_only, args.runs)
        rule = ("add table inet bench\nadd chain inet bench in { type filter hook input "
                f"priority 0; }}\nadd rule inet bench in tcp dport {DROPPED} drop\n")  # fmt: skip
        subprocess.run(["ip", "netns", "exec", plan.netns_name(LAB, "server"), "nft", "-f", "-"],
                       input=rule, text=True, check=True)  # fmt: skip
        scenario("filtered", ours, theirs, args.runs)
        scenario("filtered", ours, scan_only, args.runs)
    finally:
        netlab_lab("down", LAB, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
