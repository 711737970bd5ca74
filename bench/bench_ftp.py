#!/usr/bin/env python3
"""FTP benchmark (issue 18): a 10 MB transfer from vsftpd in a lab, netlab against curl.

    python bench/bench_ftp.py [--runs N] [--mb N]

Brings up the bundled `ftp` lab (client — server with vsftpd), puts an --mb MB file of
pseudo-random bytes in the anonymous area and fetches it from the client node with

- `netlab ftp [--active] ftp://server/pub/big.bin -o FILE`
- `curl -sS --ftp-pasv|--ftp-port - ftp://server/pub/big.bin -o FILE`

in the same run, one process each, alternating, best of --runs, in passive and active
mode, IPv4. Each fetched file is checked byte for byte. Goal: netlab's wall time at
most curl's + 0.25 s. Needs root (namespaces); traffic stays inside the lab.

Not a test: machines are noisy; the numbers go in the closing note.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NETLAB = str(ROOT / ".venv" / "bin" / "netlab")


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    took = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return took


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mb", type=int, default=10)
    args = ap.parse_args()

    from netlab.lab import engine
    from netlab.lab.topology import load_topology

    # Byte-compiled first: with PYTHONDONTWRITEBYTECODE set, every run would compile
    # whatever changed since the last .pyc, which is not the command's cost.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "netlab")], check=False)
    path = engine.resolve_file("ftp")
    name = f"bftp{time.time_ns() % 100000}"
    book = engine.up(load_topology(path), name=name, hold=True, source_text=path.read_text())
    try:
        return run(book, args)
    finally:
        engine.teardown(book)


def run(book, args) -> int:
    from netlab.lab import engine

    status = engine.status(book)
    ftp = next(s for s in status["services"] if s.get("program") == "vsftpd")
    big = Path(ftp["anon_root"]) / "pub" / "big.bin"
    data = random.Random(10).randbytes(args.mb * 1_000_000)
    big.write_bytes(data)
    big.chmod(0o644)
    url = "ftp://server/pub/big.bin"
    exe = engine.exec_argv
    print(f"FTP: {len(data):,} bytes from vsftpd in a lab, best of {args.runs}, same run")
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "got.bin"
        for mode, ours, theirs in (
            ("passive", [], ["--ftp-pasv"]),
            ("active", ["--active"], ["--ftp-port", "-"]),
        ):
            nl, cu = [], []
            for _ in range(max(1, args.runs)):
                nl.append(timed(exe(book, "client", [NETLAB, "ftp", "-4", *ours, url, "-o",
                                                     str(out)])))  # fmt: skip
                assert out.read_bytes() == data, "netlab's file differs"
                out.unlink()
                cu.append(timed(exe(book, "client", ["curl", "-4", "-sS", *theirs, url, "-o",
                                                     str(out)])))  # fmt: skip
                assert out.read_bytes() == data, "curl's file differs"
                out.unlink()
            a, b = min(nl), min(cu)
            worst = max(worst, a - b)
            verdict = "OK" if a <= b + 0.25 else "over target"
            print(f"  {mode:8} netlab {a:6.3f} s | curl {b:6.3f} s | netlab - curl "
                  f"{a - b:+.3f} s (target <= +0.25 s) {verdict} | netlab "
                  f"{len(data) / a / 1e6:,.0f} MB/s wall")  # fmt: skip
    return 0 if worst <= 0.25 else 1


if __name__ == "__main__":
    sys.exit(main())
