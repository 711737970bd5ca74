#!/usr/bin/env python3
"""dht-lookup against libtorrent, and netlab's bencode against bencode.py.

    python bench/bench_dht.py [lookup] [bencode] [--runs N]

- lookup (root; brings up labs/p2p.toml, N = 64 libtorrent nodes): for the swarm's
  announced info-hash, from the client node, queries sent and time to the first peer
  by `netlab dht-lookup` (one process, its own count and clock) against libtorrent's
  own get_peers (tests/lt_client.py, Debian's python3 + libtorrent, one process;
  queries counted from its DHT stats where the binding reports them, its time to
  the first peer otherwise). Goal: no more queries than libtorrent.
- bencode: decoding KRPC answers and a .torrent-sized dictionary, netlab's strict
  decoder against the PyPI `bencode.py` package (both pure Python, one process).
  Goal: at least as fast (ratio >= 1.0).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def bench_bencode(runs: int) -> None:
    import bencode as peer

    from netlab.wire import bencode, krpc

    nodes = b"".join(os.urandom(26) for _ in range(8))
    answer = krpc.query(b"aa", "get_peers", {"id": os.urandom(20), "info_hash": os.urandom(20)})
    reply = bencode.encode(
        {"t": b"aa", "y": "r", "r": {"id": os.urandom(20), "nodes": nodes, "token": os.urandom(8)}}
    )
    torrent = bencode.encode(
        {
            "announce": "http://tracker:6969/announce",
            "info": {
                "name": "x",
                "piece length": 16384,
                "pieces": os.urandom(20 * 2000),
                "files": [
                    {"length": i * 1000, "path": [f"dir{i % 7}", f"file{i}"]} for i in range(300)
                ],
            },
        }
    )
    print("== bencode: decode, one process, best of runs")
    for name, data, count in (
        ("KRPC query", answer, 50_000),
        ("KRPC reply", reply, 50_000),
        (".torrent (300 files)", torrent, 500),
    ):
        ours = theirs = float("inf")
        for _ in range(runs):
            t = time.perf_counter()
            for _ in range(count):
                bencode.decode(data)
            ours = min(ours, time.perf_counter() - t)
            t = time.perf_counter()
            for _ in range(count):
                peer.bdecode(data)
            theirs = min(theirs, time.perf_counter() - t)
        print(
            f"  {name:22} netlab {count / ours:10,.0f}/s | bencode.py {count / theirs:10,.0f}/s"
            f" | ratio {theirs / ours:.2f} (goal >= 1.0)"
        )


def bench_lookup(runs: int) -> None:
    from netlab.lab import engine
    from netlab.lab.topology import load_topology

    toml = ROOT / "labs" / "p2p.toml"
    book = engine.up(
        load_topology(toml),
        name=f"bench-p2p-{os.getpid() % 10000}",
        hold=True,
        source_text=toml.read_text(),
    )
    try:
        services = engine.status(book)["services"]
        swarm = next(s for s in services if "announced_peer" in s)
        client = next(a for a in _addresses(book, "client") if ":" not in a)
        import subprocess

        def inside(argv: list[str]) -> list[str]:
            return engine.exec_argv(book, "client", argv)

        ours, theirs = [], []
        for i in range(runs):
            out = subprocess.run(
                inside(
                    [
                        str(ROOT / ".venv" / "bin" / "netlab"),
                        "dht-lookup",
                        "--json",
                        swarm["info_hash"],
                        "-b",
                        swarm["bootstrap"],
                    ]
                ),
                capture_output=True,
                text=True,
                timeout=120,
            ).stdout
            doc = json.loads(out)
            ours.append((doc["queries"], doc["first_peer_ms"]))
            out = subprocess.run(
                inside(
                    [
                        "/usr/bin/python3",
                        str(ROOT / "tests" / "lt_client.py"),
                        "get-peers",
                        "--bind",
                        f"{client}:{7100 + i}",
                        "--bootstrap",
                        swarm["bootstrap"],
                        "--info-hash",
                        swarm["info_hash"],
                        "--timeout",
                        "20",
                    ]
                ),
                capture_output=True,
                text=True,
                timeout=120,
            ).stdout
            lt = json.loads(out)
            theirs.append((lt.get("queries"), lt.get("lookup_s")))
    finally:
        engine.teardown(book)
    q_ours = statistics.median(q for q, _ in ours)
    t_ours = statistics.median(t for _, t in ours if t is not None)
    print(f"== lookup: the announced info-hash in a 64-node libtorrent swarm, {runs} runs")
    print(f"  netlab dht-lookup   median {q_ours:5.0f} queries, first peer after {t_ours:8.3f} ms")
    q_lt = [q for q, _ in theirs if q is not None]
    t_lt = [t for _, t in theirs if t is not None]
    queries = f"median {statistics.median(q_lt):5.0f} queries" if q_lt else "queries not reported"
    first = f"{statistics.median(t_lt) * 1000:8.3f} ms" if t_lt else "-"
    print(f"  libtorrent get_peers {queries}, first peer after {first} (its own clock)")
    if q_lt:
        print(
            f"  queries netlab / libtorrent = {q_ours / statistics.median(q_lt):.2f} (goal <= 1.0)"
        )


def _addresses(book, node: str) -> list[str]:
    info = book.info["nodes"][node]
    return [a.split("/")[0] for iface in info["interfaces"] for a in iface["addresses"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sections", nargs="*", help="lookup, bencode (default: both)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sections = args.sections or ["bencode", "lookup"]
    for name in sections:
        {"bencode": bench_bencode, "lookup": bench_lookup}[name](args.runs)


if __name__ == "__main__":
    main()
