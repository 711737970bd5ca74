#!/usr/bin/env python3
"""QUIC in the dissector against tshark, on a QUIC-heavy capture of real peers.

    python bench/bench_quic.py [--connections N] [--size KB] [--repeat N] [--fresh]

The capture, made once on loopback (root: tcpdump) and kept as
bench/out/quic-<N>x<KB>k.pcap with its key log: N connections of ngtcp2's `gtlsclient`
to `gtlsserver` (Debian's ngtcp2 examples), each fetching a SIZE KB file over HTTP/3:
QUIC v1 handshakes (Initial, Handshake, 1-RTT, coalesced packets, the ClientHello and
ServerHello inside), ACKs, STREAM frames, NEW_CONNECTION_ID, connection closes.

Then `netlab dissect -j 1 FILE > /dev/null` against `tshark -n -r FILE > /dev/null`
(the one-line view), without and with the key log (tshark: -o tls.keylog_file), best of
--repeat runs each, alternating, one process each; printed as ratios (goal <= 1.0), in
wall time (benchlib's line) and in CPU time (user + system of each process: on a
loaded machine the wall time is mostly waiting for a CPU, for both tools alike).
Not a test: machines are noisy; the numbers go in the closing note.
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

from benchlib import count_packets, dissect_vs_tshark  # noqa: E402

from tests import procs  # noqa: E402
from tests.tls_servers import make_cert  # noqa: E402

NETLAB = str(ROOT / ".venv" / "bin" / "netlab")
OUT = ROOT / "bench" / "out"


def record(connections: int, size_kb: int, pcap: Path, keys: Path) -> None:
    if os.geteuid() != 0:
        raise SystemExit("recording the capture needs root (tcpdump on lo); run once as root")
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cert, key = make_cert(tmp, "quic.bench")
        (tmp / "file.bin").write_bytes(os.urandom(size_kb << 10))
        port = procs.free_port()
        server = subprocess.Popen(["gtlsserver", "-q", "-d", str(tmp), "127.0.0.1", str(port),
                                   str(key), str(cert)], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            time.sleep(0.3)
            dump = procs.start_tcpdump(pcap, f"udp port {port}")
            env = {**os.environ, "SSLKEYLOGFILE": str(keys)}
            for _ in range(connections):
                subprocess.run(["gtlsclient", "-q", "--exit-on-all-streams-close", "127.0.0.1",
                                str(port), "https://quic.bench/file.bin"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               timeout=120)  # fmt: skip
            procs.stop_tcpdump(dump)
        finally:
            procs.end(server)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connections", type=int, default=300)
    ap.add_argument("--size", type=int, default=32, help="KB fetched per connection")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--fresh", action="store_true", help="record the capture again")
    args = ap.parse_args(argv)
    pcap = OUT / f"quic-{args.connections}x{args.size}k.pcap"
    keys = OUT / f"quic-{args.connections}x{args.size}k.keys"
    if args.fresh:
        pcap.unlink(missing_ok=True)
        keys.unlink(missing_ok=True)
    if not pcap.exists():
        record(args.connections, args.size, pcap, keys)
    print(f"== quic: {pcap.name} ({count_packets(pcap):,} packets, "
          f"{pcap.stat().st_size / 1e6:.1f} MB)")  # fmt: skip
    runs = {
        "no key log (Initial packets opened, the rest shown protected)": (
            [NETLAB, "dissect", "-j", "1", str(pcap)], ["tshark", "-n", "-r", str(pcap)]),
        "with the key log (every packet opened, frames decoded)": (
            [NETLAB, "dissect", "-j", "1", "--keylog", str(keys), str(pcap)],
            ["tshark", "-n", "-o", f"tls.keylog_file:{keys}", "-r", str(pcap)]),
    }  # fmt: skip
    for label, (ours, theirs) in runs.items():
        print(f"{label}:")
        print(dissect_vs_tshark(ours, theirs, pcap, args.repeat))
        cpu_ours = min(cpu(ours) for _ in range(args.repeat))
        cpu_theirs = min(cpu(theirs) for _ in range(args.repeat))
        ratio = cpu_ours / cpu_theirs
        print(f"cpu      netlab -j 1 {cpu_ours:6.2f} s | tshark {cpu_theirs:6.2f} s | "
              f"ratio {ratio:.2f} (user + system, best of {args.repeat})")  # fmt: skip
    return 0


def cpu(argv: list[str]) -> float:
    """User + system seconds of one run (its output to /dev/null)."""
    with open(os.devnull, "w") as sink:
        proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.DEVNULL)
        _pid, _status, usage = os.wait4(proc.pid, 0)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    sys.exit(main())
