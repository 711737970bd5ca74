#!/usr/bin/env python3
"""BitTorrent in the dissector against tshark: the DHT (bt-dht) and the peer protocol.

    python bench/bench_bt_dissect.py [--lookups N] [--downloads N] [--repeat N] [--fresh]

Two captures, made once in the `p2p` lab (root; labs/p2p.toml) and kept as
bench/out/bt-dht-<N>.pcap and bench/out/bt-peer-<N>.pcap, recorded with tcpdump in the
client node:
- dht: N `netlab dht-lookup` runs against the 64 libtorrent nodes (random targets, so
  each walks the swarm anew: get_peers queries and replies with compact nodes);
- peer: N aria2c downloads of the seeder's 1 MiB file (handshakes, the extension
  handshake, bitfields, requests, 16 KiB pieces reassembled across segments).

Then, for each: `netlab dissect -j 1 FILE > /dev/null` against `tshark -n -r FILE >
/dev/null` (the one-line view), and the same with -V (the full tree), best of
--repeat runs each, alternating, one process each; printed as ratios (goal <= 1.0).
Not a test: machines are noisy; the numbers go in the closing note.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchlib import count_packets, dissect_vs_tshark, wall  # noqa: E402

NETLAB = str(ROOT / ".venv" / "bin" / "netlab")
OUT = ROOT / "bench" / "out"


def _tcpdump(book, path: Path, bpf: str) -> subprocess.Popen:
    from netlab.lab import engine

    argv = engine.exec_argv(book, "client", ["tcpdump", "-i", "any", "-U", "-w", str(path), bpf])
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if "listening on" in proc.stderr.readline():
            break
    time.sleep(1.0)  # (on "any", the first packets after the message can still be missed)
    return proc


def _stop(proc: subprocess.Popen) -> None:
    time.sleep(0.5)
    proc.terminate()  # by pid: the tcpdump started here
    proc.communicate(timeout=10)


def record(lookups: int, downloads: int, dht: Path, peer: Path) -> None:
    from netlab.lab import engine
    from netlab.lab.topology import load_topology

    if os.geteuid() != 0:
        raise SystemExit("recording the captures needs root (a lab); run once as root")
    path = engine.resolve_file("p2p")
    name = f"bench-bt-{os.getpid() % 10000}"
    book = engine.up(load_topology(path), name=name, hold=True, source_text=path.read_text())
    try:
        run = book.run_dir
        state = json.loads((run / "services" / "swarm-dht-swarm" / "state.json").read_text())
        services = {f"{s['node']}-{s['service']}": s for s in engine.status(book)["services"]}
        OUT.mkdir(parents=True, exist_ok=True)
        os.chmod(OUT, 0o777)  # (tcpdump writes as its own user)
        if not dht.exists():
            dump = _tcpdump(book, dht, "udp")
            for _ in range(lookups):
                lookup = [NETLAB, "dht-lookup", os.urandom(20).hex(), "-b", state["bootstrap"]]
                argv = engine.exec_argv(book, "client", [*lookup, "--json"])
                subprocess.run(argv, capture_output=True, timeout=120)
            _stop(dump)
        if not peer.exists():
            dump = _tcpdump(book, peer, "tcp port 6881")
            for i in range(downloads):
                argv = engine.exec_argv(book, "client", [
                    "timeout", "60", "aria2c", f"--dir={run}/bench-dl{i}", "--enable-dht=false",
                    "--enable-dht6=false", "--bt-enable-lpd=false",
                    "--enable-peer-exchange=false", "--seed-time=0", "--bt-stop-timeout=30",
                    "--summary-interval=0", "--console-log-level=warn",
                    "--file-allocation=none", services["seeder-seeder"]["torrent"]])  # fmt: skip
                subprocess.run(argv, capture_output=True, timeout=90)
            _stop(dump)
    finally:
        engine.teardown(book)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lookups", type=int, default=100)
    ap.add_argument("--downloads", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--fresh", action="store_true", help="record the captures again")
    args = ap.parse_args(argv)
    dht = OUT / f"bt-dht-{args.lookups}.pcap"
    peer = OUT / f"bt-peer-{args.downloads}.pcap"
    if args.fresh:
        for path in (dht, peer):
            path.unlink(missing_ok=True)
    if not (dht.exists() and peer.exists()):
        record(args.lookups, args.downloads, dht, peer)
    for label, path in (("bt-dht", dht), ("bittorrent", peer)):
        print(f"== {label}: {path.name} ({count_packets(path):,} packets, "
              f"{path.stat().st_size / 1e6:.1f} MB)")  # fmt: skip
        print(dissect_vs_tshark([NETLAB, "dissect", "-j", "1", str(path)],
                                ["tshark", "-n", "-r", str(path)], path, args.repeat))  # fmt: skip
        ours = min(
            wall([NETLAB, "dissect", "-j", "1", "-V", str(path)]) for _ in range(args.repeat)
        )
        theirs = min(wall(["tshark", "-n", "-V", "-r", str(path)]) for _ in range(args.repeat))
        print(f"-V       netlab -j 1 {ours:6.2f} s | tshark {theirs:6.2f} s | "
              f"ratio {ours / theirs:.2f} (target <= 1.0) | best of {args.repeat}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
