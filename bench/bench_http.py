"""HTTP benchmarks, by section (issue: HTTP/1.1 and HTTP/2 in the dissector).

    python bench/bench_http.py [SECTION …] [--repeat N] [--requests N]

Sections (all of them by default):

- dissect: `netlab dissect -j 1 FILE > /dev/null` against `tshark -n -r FILE > /dev/null`
  on an HTTP-heavy capture (target ratio <= 1.0). The capture is made once and kept as
  bench/out/http-<requests>.pcap: nginx on two free loopback ports (HTTP/1.1 with gzip
  and chunked responses; cleartext HTTP/2), curl fetching many URLs per keep-alive
  connection (pages, gzip-compressed chunked scripts, JSON, 404s, a 20 kB file), and
  nghttp fetching many streams per h2c connection, recorded with tcpdump on lo.
  tshark is told the two ports (`-d tcp.port==P,http -d tcp.port==P2,http2`: it has no
  heuristic for h2c); netlab finds them itself (its HTTP heuristic, the h2 preface).
  Both tools run in one process, best of N runs each, alternating.

- curl: in the `web` lab (labs/web.toml, nginx; root), one GET of https://server/
  (HTTP/2, the lab CA) by `netlab http` and by `curl`, one process each, best of N:
  wall time of the whole process (target: netlab at most curl's + 0.25 s: Python's
  start-up is the floor), and the phases side by side, summed as curl reports them
  (namelookup, connect, appconnect, starttransfer, total; medians).

Not a test: machines are noisy; the numbers go in the closing note. Needs root (tcpdump
on lo) only to build the capture; loopback traffic only.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
NETLAB = str(Path(sys.executable).parent / "netlab")
sys.path.insert(0, str(ROOT))

from benchlib import count_packets, dissect_vs_tshark  # noqa: E402

from tests import procs  # noqa: E402

# --- the capture ------------------------------------------------------------------------


def _site(root: Path) -> list[str]:
    """The files nginx serves; returns the URL paths a client asks for, in a cycle."""
    (root / "index.html").write_text(
        "<html><head><title>netlab</title></head><body>"
        + "<p>hello from the HTTP benchmark</p>\n" * 20
        + "</body></html>\n"
    )
    (root / "style.css").write_text("body { color: #333; margin: 0 auto; }\n" * 40)
    (root / "app.js").write_text("".join(f'console.log("line {i}");\n' for i in range(120)))
    (root / "data.json").write_text(json.dumps({"items": list(range(50)), "ok": True}) + "\n")
    (root / "big.txt").write_text("".join(f"line {i} of a 20 kB text\n" for i in range(900)))
    return ["/", "/style.css", "/app.js", "/data.json", "/missing", "/big.txt"]


def _nginx_conf(tmp: Path, http_port: int, h2_port: int) -> Path:
    conf = tmp / "nginx.conf"
    conf.write_text(f"""daemon off; master_process off; worker_processes 1;
pid {tmp}/nginx.pid; error_log {tmp}/error.log;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
  types {{ text/html html; text/css css; application/javascript js;
           application/json json; text/plain txt; }}
  keepalive_requests 100000; http2_max_requests 100000;
  gzip on; gzip_min_length 20; gzip_types text/css application/javascript application/json;
  server {{ listen 127.0.0.1:{http_port}; root {tmp}/www; }}
  server {{ listen 127.0.0.1:{h2_port} http2; root {tmp}/www; }}
}}
""")
    return conf


def build_capture(requests: int) -> tuple[Path, int, int]:
    """bench/out/http-<requests>.pcap (made once) and its two ports."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"http-{requests}.pcap"
    ports = path.with_suffix(".ports")
    if path.exists() and ports.exists():
        http_port, h2_port = map(int, ports.read_text().split())
        return path, http_port, h2_port
    for tool in ("nginx", "tcpdump", "curl", "nghttp"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench_http: needs {tool} to build the capture")
    with tempfile.TemporaryDirectory(prefix="bench-http-") as name:
        tmp = Path(name)
        (tmp / "www").mkdir()
        urls = _site(tmp / "www")
        http_port, h2_port = procs.free_port(), procs.free_port()
        nginx = subprocess.Popen(
            ["nginx", "-c", str(_nginx_conf(tmp, http_port, h2_port)), "-p", str(tmp)],
            stderr=subprocess.DEVNULL,
        )
        dump = None
        try:
            procs.wait_port(http_port)
            procs.wait_port(h2_port)
            raw = path.with_suffix(".tmp")
            dump = subprocess.Popen(
                [
                    "tcpdump",
                    "-i",
                    "lo",
                    "--immediate-mode",
                    "-U",
                    "-w",
                    str(raw),
                    f"tcp port {http_port} or tcp port {h2_port}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            ready, _, _ = select.select([dump.stderr], [], [], 10)
            if not ready or b"listening" not in dump.stderr.readline():
                raise RuntimeError("tcpdump did not start listening on lo")
            _traffic(requests, urls, http_port, h2_port)
            time.sleep(0.5)  # let the last packets reach the file
        finally:
            if dump is not None:
                procs.end(dump, signal.SIGINT)
            procs.end(nginx)
    raw.rename(path)
    ports.write_text(f"{http_port} {h2_port}\n")
    return path, http_port, h2_port


def _traffic(requests: int, urls: list[str], http_port: int, h2_port: int) -> None:
    """Half the requests over HTTP/1.1 keep-alive (curl, 200 a connection; every other
    connection asks for gzip), half as HTTP/2 streams (nghttp, 100 a connection)."""
    per_curl, per_h2 = 200, 100
    done, n = 0, 0
    while done < requests // 2:
        count = min(per_curl, requests // 2 - done)
        args = ["curl", "-s", "--http1.1", "--max-time", "60"]
        if n % 2:
            args.append("--compressed")
        for i in range(count):
            args += [
                "-o",
                "/dev/null",
                f"http://127.0.0.1:{http_port}{urls[(done + i) % len(urls)]}",
            ]
        subprocess.run(args, check=False, timeout=120)
        done += count
        n += 1
    while done < requests:
        count = min(per_h2, requests - done)
        paths = [f"http://127.0.0.1:{h2_port}{urls[(done + i) % len(urls)]}" for i in range(count)]
        subprocess.run(
            ["nghttp", "-n", "-t", "60", *paths],
            check=False,
            timeout=120,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        done += count


def section_dissect(args: argparse.Namespace) -> None:
    path, http_port, h2_port = build_capture(args.requests)
    ours_cmd = [NETLAB, "dissect", "-j", "1", str(path)]
    theirs_cmd = ["tshark", "-n", "-d", f"tcp.port=={http_port},http"]
    theirs_cmd += ["-d", f"tcp.port=={h2_port},http2", "-r", str(path)]
    print(
        f"capture: {path} ({path.stat().st_size / 1e6:.1f} MB, {count_packets(path):,} packets, "
        f"{args.requests:,} requests; HTTP/1.1 on {http_port}, h2c on {h2_port})"
    )
    print(dissect_vs_tshark(ours_cmd, theirs_cmd, path, args.repeat))


def section_curl(args: argparse.Namespace) -> None:
    import statistics

    from netlab.lab import engine
    from netlab.lab.topology import load_topology

    topo = load_topology(ROOT / "labs" / "web.toml")
    book = engine.up(
        topo,
        name=f"bench-web-{os.getpid() % 10000}",
        hold=True,
        source_text=(ROOT / "labs" / "web.toml").read_text(),
    )
    try:
        ca = str(book.run_dir / "ca" / "root.pem")
        url = "https://server/"

        def inside(argv: list[str]) -> list[str]:
            return engine.exec_argv(book, "client", argv)

        ours_cmd = inside([NETLAB, "http", "--json", "--cacert", ca, url])
        curl_cmd = inside(["curl", "-s", "-o", "/dev/null", "--cacert", ca, "-w", "%{json}", url])
        ours_wall, curl_wall, ours_ph, curl_ph = [], [], [], []
        for _ in range(max(3, args.repeat)):
            start = time.perf_counter()
            out = subprocess.run(ours_cmd, capture_output=True, text=True, timeout=60).stdout
            ours_wall.append(time.perf_counter() - start)
            t = json.loads(out)["requests"][0]["timings_ms"]
            connect = t["dns"] + t["connect"]
            app = connect + (t["tls"] or 0)
            ours_ph.append(
                (t["dns"], connect, app, app + t["request_sent"] + t["server"], t["total"])
            )
            start = time.perf_counter()
            out = subprocess.run(curl_cmd, capture_output=True, text=True, timeout=60).stdout
            curl_wall.append(time.perf_counter() - start)
            c = json.loads(out)
            curl_ph.append(
                tuple(
                    c[f"time_{k}"] * 1000
                    for k in ("namelookup", "connect", "appconnect", "starttransfer", "total")
                )
            )
    finally:
        engine.teardown(book)
    a, b = min(ours_wall), min(curl_wall)
    verdict = "OK" if a - b <= 0.25 else "over target"
    print(
        f"curl     netlab http {a:6.3f} s | curl {b:6.3f} s | netlab - curl {a - b:+.3f} s "
        f"(target <= +0.25 s) {verdict} | best of {len(ours_wall)}, one process each"
    )
    names = ("namelookup", "connect", "appconnect", "starttransfer", "total")
    for i, name in enumerate(names):
        mine = statistics.median(p[i] for p in ours_ph)
        theirs = statistics.median(p[i] for p in curl_ph)
        print(f"  {name:14} netlab {mine:8.3f} ms | curl {theirs:8.3f} ms (medians, cumulative)")


SECTIONS = {
    "dissect": section_dissect,
    "curl": section_curl,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "sections",
        nargs="*",
        metavar="SECTION",
        help=f"what to measure: {', '.join(SECTIONS)} (default: all)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each tool (best taken)")
    parser.add_argument(
        "--requests", type=int, default=30_000, help="requests in the dissect section's capture"
    )
    args = parser.parse_args(argv)
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section {unknown[0]!r} (choose from {', '.join(SECTIONS)})")
    print(f"machine: {os.cpu_count()} CPUs")
    for name in args.sections or list(SECTIONS):
        SECTIONS[name](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
