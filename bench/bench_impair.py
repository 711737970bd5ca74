"""Link impairments measured through a real lab, printed against the configured values.

Usage (root): .venv/bin/python bench/bench_impair.py [--quick]

Each case brings up a two-node lab (client — server, a veth pair) whose link carries
the impairment, measures it from inside the namespaces, and takes the lab down:

- delay 10/50/200 ms each way → median ping RTT against 2 × delay (+ the link's own
  RTT, measured first on the same link with an empty impairment);
- jitter 20 ± 5 ms (uniform, netem's default, σ = 5/√3 ms; and normal, σ = 5 ms) one
  way → standard deviation of the RTTs against σ (plain, and from the quartiles,
  which a few late wake-ups on a busy machine do not move);
- loss 1/10/30 % one way over 2,000 probes → the share lost;
- duplicate 10 % and reorder 25 % (with a 10 ms delay) one way → the shares seen
  (a reordered probe is one that came back without the 10 ms);
- rate 10 Mbit/s one way → a TCP transfer's goodput (payload bytes: 1448 of each
  1514-byte frame, so about 96 % of the line rate is the ceiling);
- no impairment → TCP bulk goodput through the emulator, and 1,500-byte UDP frames
  paced at 100 Mbit/s for 2 s: how many arrive (goal: all, at ≥ 100 Mbit/s);
  the emulator's CPU time over that run says how much of a core it needs.

The mechanism is the lab's (`netem` where the kernel has it, else the link emulator);
NETLAB_IMPAIR=emulator forces the emulator.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from netlab.lab import engine, netns  # noqa: E402
from netlab.lab.topology import parse_topology  # noqa: E402
from tests.test_linkemu import echo_probe  # noqa: E402

SERVER = "198.18.0.2"


def topology(name: str, client: str | None, server: str | None) -> str:
    imps = [f'{{ from = "client"{", " + client if client else ""} }}'] if client is not None else []
    if server is not None:
        imps.append(f'{{ from = "server"{", " + server if server else ""} }}')
    return (
        f'name = "{name}"\n[nodes.client]\n[nodes.server]\n[[links]]\nname = "wan"\n'
        f'nodes = ["client", "server"]\nsubnet = "198.18.0.0/30"\n'
        f"impair = [{', '.join(imps)}]\n"
    )


class Lab:
    def __init__(self, client: str | None, server: str | None = None) -> None:
        name = f"bi{os.getpid() % 100000}"
        topo = parse_topology(topology(name, client, server), source="<bench>")
        self.book = engine.up(topo, name=name, hold=True)
        self.mechanism = {i["applied"] for i in self.book.info.get("impairments", [])}

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        engine.teardown(self.book)

    def ns(self, node: str) -> str:
        return self.book.info["nodes"][node]["netns"]

    def emulator_pid(self) -> int | None:
        items = self.book.of_kind("emulator")
        return items[0]["pid"] if items else None

    def ping(self, count: int, interval: float, wait: float = 1.0) -> dict[str, Any]:
        """ICMP echo from the client to the server, timed here to the microsecond (the
        kernel answers, so no user-space echo adds its own delay)."""
        return icmp_probe(self.ns("client"), SERVER, count, interval, wait)

    def warm(self) -> None:
        for _ in range(20):
            if self.ping(1, 0.2)["received"]:
                return

    def tcp_goodput(self, nbytes: int) -> float:
        """Bits of payload per second of one TCP transfer client → server."""
        listener = netns.socket_in(self.ns("server"), socket.AF_INET, socket.SOCK_STREAM)
        listener.bind((SERVER, 5001))
        listener.listen(1)
        got: list[float] = []

        def sink() -> None:
            conn, _ = listener.accept()
            total = 0
            while total < nbytes:
                chunk = conn.recv(1 << 20)
                if not chunk:
                    break
                total += len(chunk)
            got.append(time.perf_counter())
            conn.close()

        thread = threading.Thread(target=sink, daemon=True)
        thread.start()
        sender = netns.socket_in(self.ns("client"), socket.AF_INET, socket.SOCK_STREAM)
        sender.connect((SERVER, 5001))
        start = time.perf_counter()
        block = b"x" * (1 << 16)
        sent = 0
        while sent < nbytes:
            sent += sender.send(block[: min(len(block), nbytes - sent)])
        sender.shutdown(socket.SHUT_WR)
        thread.join(120)
        sender.close()
        listener.close()
        return nbytes * 8 / (got[0] - start) if got else 0.0

    def udp_paced(self, mbit: float, seconds: float, size: int = 1472) -> tuple[int, int, float]:
        """(sent, received, achieved Mbit/s of 1514-byte frames) for paced UDP datagrams."""
        rx = netns.socket_in(self.ns("server"), socket.AF_INET, socket.SOCK_DGRAM)
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        rx.bind((SERVER, 5002))
        rx.settimeout(0.5)
        received = [0]

        def sink() -> None:
            while True:
                try:
                    data = rx.recv(2048)
                except OSError:
                    return
                if data == b"end":
                    return
                received[0] += 1

        thread = threading.Thread(target=sink, daemon=True)
        thread.start()
        tx = netns.socket_in(self.ns("client"), socket.AF_INET, socket.SOCK_DGRAM)
        tx.connect((SERVER, 5002))
        frame_bits = (size + 42) * 8
        per_second = mbit * 1e6 / frame_bits
        payload = b"\0" * size
        start = time.perf_counter()
        sent = 0
        while (now := time.perf_counter() - start) < seconds:
            due = int(now * per_second) + 1
            while sent < due:
                with contextlib.suppress(OSError):
                    tx.send(payload)
                sent += 1
            time.sleep(0.0005)
        elapsed = time.perf_counter() - start
        time.sleep(0.3)
        for _ in range(3):
            tx.send(b"end")
        thread.join(5)
        tx.close()
        rx.close()
        return sent, received[0], sent * frame_bits / elapsed / 1e6


def icmp_probe(ns: str, dst: str, count: int, interval: float, wait: float) -> dict[str, Any]:
    """Send COUNT echo requests INTERVAL apart; RTTs (ms) of first replies, duplicates
    (the probe is the emulator tests' own, tests/test_linkemu.py)."""
    replies = echo_probe(ns, dst, count, interval, wait)["replies"]
    rtts = [replies[seq][0] for seq in sorted(replies)]
    dups = sum(len(r) - 1 for r in replies.values())
    return {"rtts": rtts, "received": len(rtts), "sent": count, "dups": dups}


def cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def verdict(ok: bool) -> str:
    return "OK" if ok else "OFF"


def run(quick: bool) -> None:
    n_loss = 500 if quick else 2000
    with Lab("") as lab:
        lab.warm()
        own = statistics.median(lab.ping(200, 0.005)["rtts"])
        print(f"mechanism {', '.join(sorted(lab.mechanism))}; emulator: 1 process, 1 thread "
              f"per link; link's own RTT (empty impairment) {own:.3f} ms")  # fmt: skip
    for delay in (10, 50, 200):
        with Lab(f"delay_ms = {delay}", f"delay_ms = {delay}") as lab:
            lab.warm()
            probe = lab.ping(100 if delay < 200 else 60, 0.01)
            med = statistics.median(probe["rtts"])
            want = 2 * delay + own
            print(f"delay {delay:>3} ms each way   median RTT {med:8.3f} ms vs {want:8.3f} "
                  f"(2×{delay} + {own:.3f})  diff {med - want:+.3f} ms  "
                  f"{verdict(abs(med - want) <= 0.5)} (±0.5)")  # fmt: skip
    # σ from the interquartile range as well: a few wake-ups made late by a busy machine
    # (tens of ms) swell the plain standard deviation, not the quartiles. Uniform over
    # ±J: IQR = J, σ = J/√3; normal: IQR = 1.349 σ.
    for dist, sigma, iqr_per_sigma in (("uniform", 5 / 3**0.5, 3**0.5), ("normal", 5.0, 1.349)):
        with Lab(f'delay_ms = 20, jitter_ms = 5, distribution = "{dist}"') as lab:
            lab.warm()
            rtts = lab.ping(150 if quick else 300, 0.02)["rtts"]
            sd = statistics.stdev(rtts)
            q1, _, q3 = statistics.quantiles(rtts, n=4)
            robust = (q3 - q1) / iqr_per_sigma
            print(f"jitter 20±5 ms {dist:<8} σ(RTT) {sd:6.3f} ms, from IQR {robust:6.3f} ms "
                  f"vs {sigma:6.3f}  {(robust / sigma - 1) * 100:+5.1f} %  "
                  f"{verdict(abs(robust / sigma - 1) <= 0.2)} (±20 %); "
                  f"median {statistics.median(rtts):.2f} ms")  # fmt: skip
    for pct in (1, 10, 30):
        with Lab(f"loss_pct = {pct}") as lab:
            lab.warm()
            probe = lab.ping(n_loss, 0.002)
            lost = 100 * (1 - probe["received"] / probe["sent"])
            sigma = 100 * (pct / 100 * (1 - pct / 100) / n_loss) ** 0.5
            print(f"loss {pct:>2} %  over {n_loss} probes   measured {lost:5.2f} %  "
                  f"{verdict(abs(lost - pct) <= 2)} (±2 points; a random share's σ here is "
                  f"{sigma:.2f} points)")  # fmt: skip
    with Lab("duplicate_pct = 10") as lab:
        lab.warm()
        probe = lab.ping(n_loss, 0.002)
        share = 100 * probe["dups"] / probe["sent"]
        print(f"duplicate 10 %  over {n_loss} probes   measured {share:5.2f} %  "
              f"{verdict(abs(share - 10) <= 2)} (±2 points)")  # fmt: skip
    with Lab("delay_ms = 10, reorder_pct = 25") as lab:
        lab.warm()
        probe = lab.ping(n_loss, 0.002)
        share = 100 * sum(r < 5 for r in probe["rtts"]) / len(probe["rtts"])
        print(f"reorder 25 % (delay 10 ms) over {n_loss} probes  sent undelayed {share:5.2f} %  "
              f"{verdict(abs(share - 25) <= 2)} (±2 points)")  # fmt: skip
    with Lab("rate_kbit = 10000") as lab:
        lab.warm()
        goodput = lab.tcp_goodput(3_000_000 if quick else 6_000_000) / 1e6
        line = goodput * 1514 / 1448
        print(f"rate 10 Mbit/s   TCP goodput {goodput:5.2f} Mbit/s (line {line:5.2f} with "
              f"headers)  {verdict(abs(line - 10) <= 1)} (±10 %)")  # fmt: skip
    with Lab("") as lab:
        lab.warm()
        pid = lab.emulator_pid()
        goodput = lab.tcp_goodput(100_000_000 if not quick else 40_000_000) / 1e6
        print(f"no impairment   TCP bulk goodput {goodput:7.1f} Mbit/s through the link")
        cpu0, t0 = cpu_seconds(pid), time.perf_counter()
        sent, got, mbit = lab.udp_paced(110, 2.0)
        cpu = (cpu_seconds(pid) - cpu0) / (time.perf_counter() - t0)
        print(f"no impairment   UDP 1514-byte frames paced at {mbit:6.1f} Mbit/s: {got}/{sent} "
              f"arrived ({sent - got} lost)  {verdict(got == sent and mbit >= 100)}; "
              f"emulator CPU {cpu * 100:.0f} % of one core")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer probes (a smoke run)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_impair: needs root (labs)", file=sys.stderr)
        return 3
    print(f"bench_impair: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
          f"NETLAB_IMPAIR={os.environ.get('NETLAB_IMPAIR', 'auto')}")  # fmt: skip
    run(args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
