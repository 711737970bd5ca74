"""netlab dissect vs tshark on the same large mixed capture (issue 3's performance targets).

    python bench/bench_dissect.py [--packets 1000000] [--views summary,tree,fields,json]
                                  [--conversations] [--corpus] [--jobs N] [--repeat N]

Builds bench/out/mixed-<N>.pcapng by replicating the real captures in pcaps/
with fresh timestamps and TCP sequence numbers per replica (the issue's recipe),
then runs each view with netlab and with tshark, printing wall time, peak RSS and
the ratio netlab/tshark. Targets (issues 3 and 20), with one netlab process (--jobs 1,
the default here) against tshark's one: summary <= 1.0x of tshark -n -r, -V <= 1.0x,
-T fields -e ip.src -e tcp.srcport <= 1.0x, --json <= 0.2x of tshark -T json; peak RSS
<= 150 MB for the summary view, flat between 100k and 1M. CPU time (user + system) is
printed beside the wall time: on a busy machine it is the steadier of the two.

--conversations also gives each replica fresh client ports (mixed-<N>-conv.pcapng):
tens of thousands of distinct TCP/UDP conversations, whose tcp.stream/udp.stream
state both tools must keep, so memory then grows with the conversations (not the
packets) for netlab as for tshark.
--corpus replicates pcaps/ together with every readable tcpdump corpus capture
(tests/corpus/tcpdump: many link types, odd and malformed packets) instead.
Not a test: machines are noisy, and the numbers go in the closing note.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from netlab.capture.reader import open_capture  # noqa: E402
from netlab.capture.writer import PcapngWriter  # noqa: E402

OUT = ROOT / "bench" / "out"


CORPUS = ROOT / "tests" / "corpus" / "tcpdump"


def sample_paths(corpus: bool) -> list[Path]:
    """pcaps/, and with CORPUS the tcpdump test captures too (issue 20's second capture)."""
    paths = sorted((ROOT / "pcaps").glob("*.pcap*"))
    if corpus:
        paths += sorted(p for p in CORPUS.iterdir() if p.suffix in (".pcap", ".pcapng"))
    return paths


def sample_frames(corpus: bool = False) -> list[tuple[int, bytes]]:
    frames = []
    for path in sample_paths(corpus):
        try:
            with open_capture(path) as cap:
                frames += [(f.linktype, f.data) for f in cap if len(f.data) <= 262144]
        except Exception:  # (the corpus holds unreadable files on purpose: left out)
            continue
    return frames


def _l4_offset(linktype: int, data: bytes) -> tuple[int, int] | None:
    """(offset of the TCP/UDP header, IP protocol) for plain Ethernet + IPv4 frames."""
    if linktype != 1 or len(data) < 34 or data[12:14] != b"\x08\x00":
        return None
    ihl = (data[14] & 0x0F) * 4
    return 14 + ihl, data[23]


def variant(linktype: int, data: bytes, k: int, new_ports: bool) -> bytes:
    """The k-th replica: TCP seq/ack shifted; with new_ports, client ports shifted too."""
    where = _l4_offset(linktype, data)
    if where is None:
        return data
    off, proto = where
    if proto not in (6, 17) or len(data) < off + 8:
        return data
    buf = bytearray(data)
    sport, dport = struct.unpack_from("!HH", buf, off)
    if new_ports:
        shift = (k * 7) % 20000
        # Shift the ephemeral side only, so server ports (and their decoders) stay put.
        if sport > dport:
            sport = 1024 + (sport + shift) % 60000
        else:
            dport = 1024 + (dport + shift) % 60000
        struct.pack_into("!HH", buf, off, sport, dport)
    if proto == 6 and len(buf) >= off + 12:
        seq, ack = struct.unpack_from("!II", buf, off + 4)
        delta = k * 104729
        struct.pack_into(
            "!II", buf, off + 4, (seq + delta) & 0xFFFFFFFF, (ack + delta) & 0xFFFFFFFF
        )
    return bytes(buf)


def samples_tag(corpus: bool = False) -> str:
    """A short digest of the samples (names and bytes), so a changed set builds a new capture."""
    digest = hashlib.sha256()
    for path in sample_paths(corpus):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:8]


def build(n: int, new_ports: bool = False, corpus: bool = False) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    name = f"{'corpus' if corpus else 'mixed'}-{n}{'-conv' if new_ports else ''}"
    path = OUT / f"{name}-{samples_tag(corpus)}.pcapng"
    if path.exists():
        return path
    frames = sample_frames(corpus)
    linktypes = sorted({lt for lt, _ in frames})
    ts = 1_700_000_000_000_000_000
    tmp = path.with_suffix(".tmp")
    with PcapngWriter(tmp) as writer:
        iface = {lt: writer.add_interface(lt) for lt in linktypes}
        written = k = 0
        while written < n:
            for lt, data in frames:
                if written >= n:
                    break
                ts += 137_000  # 137 µs apart
                writer.write_packet(variant(lt, data, k, new_ports), ts, interface=iface[lt])
                written += 1
            k += 1
    tmp.rename(path)
    return path


def run(argv: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MB) of a command whose
    stdout goes to /dev/null. CPU time is the fairer figure on a busy machine."""
    start = time.perf_counter()
    with open(os.devnull, "w") as sink:
        proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if status != 0:
        print(f"  ! {' '.join(argv)} exited with status {status >> 8}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


VIEWS = {
    # view: (netlab args, tshark args, target ratio)
    "summary": (["dissect"], ["-n", "-r"], 1.0),
    "tree": (["dissect", "-V"], ["-n", "-V", "-r"], 1.0),
    "json": (["dissect", "--json"], ["-n", "-T", "json", "-r"], 0.2),
    "fields": (
        ["dissect", "-T", "fields", "-e", "ip.src", "-e", "tcp.srcport"],
        ["-n", "-T", "fields", "-e", "ip.src", "-e", "tcp.srcport", "-r"],
        1.0,
    ),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--views", default="summary,tree,fields,json")
    parser.add_argument(
        "--conversations", action="store_true", help="fresh client ports per replica"
    )
    parser.add_argument("--jobs", type=int, default=1,
                        help="netlab --jobs (1: one process, as tshark; 0: auto)")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each tool, alternating; medians are compared")  # fmt: skip
    parser.add_argument("--corpus", action="store_true",
                        help="replicate pcaps/ and the tcpdump corpus too")  # fmt: skip
    args = parser.parse_args()
    netlab = str(Path(sys.executable).parent / "netlab")
    start = time.perf_counter()
    path = build(args.packets, args.conversations, args.corpus)
    print(f"netlab --jobs {args.jobs or 'auto'}; machine: {os.cpu_count()} CPUs; "
          f"median of {max(1, args.repeat)} alternating run(s); each tool one process")  # fmt: skip
    print(f"capture: {path} ({path.stat().st_size / 1e6:.1f} MB, {args.packets:,} packets, "
          f"built/reused in {time.perf_counter() - start:.1f} s)")  # fmt: skip
    for view in args.views.split(","):
        ours_args, theirs_args, target = VIEWS[view]
        # Alternating runs: a machine whose speed drifts then slows both tools alike.
        samples = [
            (run([netlab, *ours_args, "--jobs", str(args.jobs), str(path)]),
             run(["tshark", *theirs_args, str(path)]))
            for _ in range(max(1, args.repeat))
        ]  # fmt: skip
        ours, ours_cpu = (statistics.median(o[i] for o, _ in samples) for i in (0, 1))
        theirs, theirs_cpu = (statistics.median(t[i] for _, t in samples) for i in (0, 1))
        ours_rss = max(o[2] for o, _ in samples)
        theirs_rss = max(t[2] for _, t in samples)
        ratio = ours / theirs
        verdict = "OK" if ratio <= target else "over target"
        # The fastest run of each is the one least disturbed by the machine's neighbours.
        fastest = min(o[0] for o, _ in samples) / min(t[0] for _, t in samples)
        print(f"{view:8} netlab {ours:7.1f} s (cpu {ours_cpu:.1f}) {ours_rss:6.0f} MB | "
              f"tshark {theirs:7.1f} s (cpu {theirs_cpu:.1f}) {theirs_rss:6.0f} MB | "
              f"wall ratio {ratio:.2f} (target <= {target}) {verdict}, "
              f"cpu ratio {ours_cpu / theirs_cpu:.2f}, fastest runs' ratio {fastest:.2f} | "
              f"netlab {args.packets / ours:,.0f} pkt/s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
