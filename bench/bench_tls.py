#!/usr/bin/env python3
"""tls-hello against its peers, measured in the same run on one loopback server.

    python bench/bench_tls.py [scan] [handshake] [--runs N]

- scan: `netlab tls-hello --scan` against sslscan and nmap's ssl-enum-ciphers on
  one `openssl s_server` (TLS 1.2 + 1.3, a few suites): wall time and the number
  of handshakes each made (counted by the server's accept log). netlab runs up to 4
  probes at once (one process); sslscan one at a time (one process); nmap runs its
  script engine (one process, its own parallelism).
- handshake: one `netlab tls-hello` (a process start included, as a user runs it)
  against one `openssl s_client` to the same server, best of N runs each.
  Goal: at most s_client's + 0.25 s (Python's start-up and Scapy's TLS layers are
  the floor).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.tls_servers import OpensslServer  # noqa: E402

NETLAB = [str(ROOT / ".venv" / "bin" / "netlab")]
CIPHERS = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:AES128-GCM-SHA256:AES256-SHA"


def timed(argv: list[str], **kw) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, **kw)
    return time.perf_counter() - start, proc


def bench_scan(tmp: Path, runs: int) -> None:
    print("== scan: versions and cipher suites of one server (loopback s_server)")
    with OpensslServer(tmp, ciphers=CIPHERS, groups="X25519:P-256", extra=("-serverpref",)) as srv:
        target = f"127.0.0.1:{srv.port}"
        tools = {
            "netlab --scan": [*NETLAB, "tls-hello", "--scan", "--json", f"localhost:{srv.port}"],
            "sslscan": ["sslscan", "--no-colour", target],
            "nmap ssl-enum-ciphers": [
                "nmap",
                "-Pn",
                "-p",
                str(srv.port),
                "--script",
                "ssl-enum-ciphers",
                "127.0.0.1",
            ],
        }
        walls: dict[str, float] = {}
        for name, argv in tools.items():
            best = min(timed(argv)[0] for _ in range(runs))
            walls[name] = best
        ours = walls["netlab --scan"]
        import json

        doc = json.loads(timed(tools["netlab --scan"][:])[1].stdout)
        print(
            f"  netlab --scan          {ours:7.3f} s  {doc['handshakes']} handshakes "
            "(4 probes at a time, 1 process)"
        )
        for name in ("sslscan", "nmap ssl-enum-ciphers"):
            print(
                f"  {name:22} {walls[name]:7.3f} s  ratio netlab/{name.split()[0]} = "
                f"{ours / walls[name]:.2f}"
            )


def bench_handshake(tmp: Path, runs: int) -> None:
    print("== handshake: one TLS 1.3 handshake with chain verification, a process each")
    with OpensslServer(tmp) as srv:
        ours = min(
            timed([*NETLAB, "tls-hello", "--cacert", str(srv.cert), f"localhost:{srv.port}"])[0]
            for _ in range(runs)
        )
        theirs = min(
            timed(
                [
                    "openssl",
                    "s_client",
                    "-connect",
                    f"127.0.0.1:{srv.port}",
                    "-CAfile",
                    str(srv.cert),
                    "-verify_return_error",
                ],
                input="",
            )[0]
            for _ in range(runs)
        )
    print(f"  netlab tls-hello  {ours:7.3f} s")
    print(f"  openssl s_client  {theirs:7.3f} s")
    print(f"  netlab - s_client = {ours - theirs:+.3f} s (goal: at most +0.250 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sections", nargs="*", help="scan, handshake (default: both)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("NO_COLOR", "1")
    sections = args.sections or ["scan", "handshake"]
    unknown = set(sections) - {"scan", "handshake"}
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    with tempfile.TemporaryDirectory() as tmp:
        for section in sections:
            {"scan": bench_scan, "handshake": bench_handshake}[section](Path(tmp), args.runs)


if __name__ == "__main__":
    main()
