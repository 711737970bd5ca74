#!/usr/bin/env python3
"""How fast does netlab.capture stream a large capture, next to Wireshark's tools?

    .venv/bin/python bench/bench_capture_read.py [--packets 1000000] [--seed FILE] [--gzip]

A small real capture (the seed) is replicated with PcapngWriter into a
temporary pcapng file of --packets packets (time stamps shifted so they keep
increasing), and the same packets are written as a classic pcap. Each file is
then read in a fresh child process, which reports packets/s and its peak RSS;
`tshark -r FILE -T fields -e frame.number` and `capinfos -c -M FILE` read the
same files in the same run, and the ratios are printed. Nothing is asserted:
machines are noisy, the numbers are for reading.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from netlab.capture import LINKTYPE_ETHERNET, PcapngWriter, open_capture  # noqa: E402

DEFAULT_SEED = ROOT.parent / "shared" / "corpus" / "tcpdump" / "of10_s4810.pcap"


def seed_frames(path: Path | None) -> list[tuple[int, bytes, int]]:
    """(ts_ns, data, wirelen) of the seed capture, or a synthetic Ethernet mix."""
    if path is not None and path.exists():
        with open_capture(path) as cap:
            frames = [(f.ts_ns, f.data, f.wirelen) for f in cap if f.linktype == LINKTYPE_ETHERNET]
        if frames:
            return frames
    # Fallback: Ethernet/IPv4/UDP frames of the sizes a LAN trace mixes.
    sizes = [60, 66, 74, 590, 1514, 60, 98, 1514, 342, 60]
    filler = bytes(range(256)) * 6
    return [(i * 1_000_000, filler[:n], n) for i, n in enumerate(sizes)]


def make_files(seed: list[tuple[int, bytes, int]], count: int, tmp: Path) -> tuple[Path, Path]:
    """A pcapng (netlab's writer) and a classic pcap (ns) holding `count` packets."""
    ng_path, pcap_path = tmp / "big.pcapng", tmp / "big.pcap"
    first = seed[0][0]
    span = seed[-1][0] - first + 1_000
    with PcapngWriter(ng_path) as w, open(pcap_path, "wb") as pcap:
        w.add_interface(LINKTYPE_ETHERNET, "bench0")
        pcap.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, LINKTYPE_ETHERNET))
        record = struct.Struct("<IIII").pack
        written, rnd = 0, 0
        while written < count:
            shift = 1_700_000_000_000_000_000 + rnd * span - first
            for ts_ns, data, wirelen in seed[: count - written]:
                ts = ts_ns + shift
                w.write_packet(data, ts, 0, wirelen)
                sec, ns = divmod(ts, 1_000_000_000)
                pcap.write(record(sec, ns, len(data), wirelen) + data)
            written += min(len(seed), count - written)
            rnd += 1
    return ng_path, pcap_path


def child(path: str) -> None:
    """Runs in a fresh interpreter: read everything, report rate and peak RSS."""
    start = time.perf_counter()
    packets = 0
    nbytes = 0
    with open_capture(path) as cap:
        for frame in cap:
            packets += 1
            nbytes += frame.caplen
        warnings = cap.warnings
    elapsed = time.perf_counter() - start
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "packets": packets,
                "bytes": nbytes,
                "seconds": elapsed,
                "maxrss_kib": rss_kib,
                "warnings": warnings,
            }
        )
    )


def run_child(path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def baseline_rss_kib() -> int:
    """Peak RSS of a child that only imports netlab.capture (the interpreter's share)."""
    code = (
        f"import resource, sys; sys.path.insert(0, {str(ROOT)!r}); import netlab.capture; "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    return int(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
    )


def time_tool(cmd: list[str]) -> float | None:
    if shutil.which(cmd[0]) is None:
        return None
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def report(label: str, path: Path, repeat: int, base_kib: int) -> None:
    runs = [run_child(path) for _ in range(repeat)]
    best = min(runs, key=lambda r: r["seconds"])
    n, secs = best["packets"], best["seconds"]
    rss = max(r["maxrss_kib"] for r in runs)
    mib = path.stat().st_size / 2**20
    print(f"\n{label}: {path.name}, {n:,} packets, {mib:,.0f} MiB")
    print(
        f"  netlab open_capture   {secs:7.2f} s  {n / secs:12,.0f} packets/s  "
        f"({mib / secs:,.0f} MiB/s, best of {repeat})"
    )
    print(
        f"  peak RSS              {rss / 1024:7.1f} MiB  (interpreter + import alone: "
        f"{base_kib / 1024:.1f} MiB; reader share {(rss - base_kib) / 1024:.1f} MiB)"
    )
    if best["warnings"]:
        print(f"  warnings: {best['warnings']}")
    tshark = time_tool(["tshark", "-n", "-r", str(path), "-T", "fields", "-e", "frame.number"])
    if tshark is not None:
        print(
            f"  tshark -T fields      {tshark:7.2f} s  {n / tshark:12,.0f} packets/s  "
            f"-> netlab is {tshark / secs:.1f}x faster"
        )
    capinfos = time_tool(["capinfos", "-c", "-M", str(path)])
    if capinfos is not None:
        print(
            f"  capinfos -c -M        {capinfos:7.2f} s  {n / capinfos:12,.0f} packets/s  "
            f"-> ratio netlab/capinfos time {secs / capinfos:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument(
        "--seed",
        type=Path,
        default=DEFAULT_SEED,
        help="capture whose Ethernet packets are replicated",
    )
    parser.add_argument("--repeat", type=int, default=3, help="netlab runs per file (best kept)")
    parser.add_argument("--gzip", action="store_true", help="also time a .pcapng.gz copy")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return

    seed = seed_frames(args.seed)
    print(
        f"seed: {args.seed if args.seed.exists() else 'synthetic'} ({len(seed)} packets, "
        f"mean {sum(len(d) for _, d, _ in seed) / len(seed):.0f} bytes)"
    )
    with tempfile.TemporaryDirectory(prefix="netlab-bench-") as tmp:
        start = time.perf_counter()
        ng_path, pcap_path = make_files(seed, args.packets, Path(tmp))
        print(f"wrote both files in {time.perf_counter() - start:.1f} s")
        base = baseline_rss_kib()
        report("pcapng", ng_path, args.repeat, base)
        report("pcap (ns)", pcap_path, args.repeat, base)
        if args.gzip:
            gz = ng_path.with_suffix(".pcapng.gz")
            with open(ng_path, "rb") as src, gzip.open(gz, "wb", compresslevel=1) as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            report("pcapng.gz", gz, 1, base)


if __name__ == "__main__":
    main()
