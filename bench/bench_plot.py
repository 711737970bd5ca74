"""netlab dissect --plot io against the one-line view on the same capture (issue 23).

    python bench/bench_plot.py [--packets 1000000] [--repeat 3]

Uses bench_dissect.py's mixed capture (bench/out/mixed-<N>.pcapng, built once). Goal:
`--plot io` takes at most the one-line view's time + 10 %, and its memory stays flat
(peak RSS the same at a tenth of the packets). Without a display filter the I/O graph
needs only each frame's time and length, so the frames are not dissected; with filters
(`--plot io,1,tcp,udp`) every packet is dissected and matched, which is also shown.
Medians of alternating runs; not a test: machines are noisy.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_dissect import build, run


def measure(argvs: dict[str, list[str]], repeat: int) -> dict[str, tuple[float, float]]:
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in argvs}
    for _ in range(max(1, repeat)):
        for name, argv in argvs.items():  # alternating: a drifting machine slows all alike
            samples[name].append(run(argv))
    return {
        name: (statistics.median(s[0] for s in runs), max(s[1] for s in runs))
        for name, runs in samples.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    netlab = str(Path(sys.executable).parent / "netlab")
    big, small = build(args.packets), build(max(args.packets // 10, 1000))
    argvs = {
        "one-line -j 1": [netlab, "dissect", "-j", "1", str(big)],
        "one-line (auto -j)": [netlab, "dissect", str(big)],
        "--plot io": [netlab, "dissect", "--plot", "io", str(big)],
        "--plot io,1,tcp,udp": [netlab, "dissect", "--plot", "io,1,tcp,udp", str(big)],
        "--plot io (1/10)": [netlab, "dissect", "--plot", "io", str(small)],
    }
    got = measure(argvs, args.repeat)
    base = got["one-line -j 1"][0]
    print(f"capture: {big.name} ({args.packets:,} packets); median of {args.repeat}")
    for name, (secs, rss) in got.items():
        print(f"{name:22} {secs:7.2f} s {rss:6.0f} MB  ratio to one-line -j 1 {secs / base:.2f}")
    plot, one_line = got["--plot io"][0], min(base, got["one-line (auto -j)"][0])
    verdict = "OK" if plot <= one_line * 1.1 else "over target"
    flat = got["--plot io"][1] <= got["--plot io (1/10)"][1] * 1.1
    print(f"--plot io / fastest one-line view: {plot / one_line:.2f} (target <= 1.10) {verdict};"
          f" memory {'flat' if flat else 'grows'} ({got['--plot io (1/10)'][1]:.0f} MB at a "
          f"tenth, {got['--plot io'][1]:.0f} MB)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
