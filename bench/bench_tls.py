#!/usr/bin/env python3
"""tls-hello against its peers, measured in the same run on one loopback server.

    python bench/bench_tls.py [scan] [handshake] [--runs N]

- scan: `netlab tls-hello --scan` against sslscan and nmap's ssl-enum-ciphers on
  one `openssl s_server` (TLS 1.2 + 1.3, a few suites): wall time and the number
  of handshakes each made (counted by the server's accept log). netlab runs up to 4
  probes at once (one process); sslscan one at a time (one process); nmap runs its
  script engine (one process, its own parallelism).
- handshake: one `netlab tls-hello` (a process start included, as a user runs it)
  against one `openssl s_client` to the same server, N runs each, taking turns: best
  and median wall time and median CPU time (scan too; on a machine other work keeps
  busy the CPU time is the fair one).
  Goal: at most s_client's + 0.25 s (Python's start-up and Scapy's TLS layers are
  the floor).
- dissect: `netlab dissect --keylog F -j 1 FILE > /dev/null` against
  `tshark -n -o tls.keylog_file:F -r FILE > /dev/null` on a TLS-heavy capture, best of
  N runs each, one process each, alternating. The capture is made once and kept as
  bench/out/tls-<requests>.pcap with its key log (.keys): nginx with TLS 1.2 and 1.3 on
  a free loopback port, curl fetching many URLs per connection (HTTP/1.1 keep-alive and
  HTTP/2, TLS 1.3 and TLS 1.2 AES-GCM, ChaCha20 and AES-CBC), SSLKEYLOGFILE for the
  secrets, recorded with tcpdump on lo (root). Goal: ratio <= 1.0.
"""

from __future__ import annotations

import argparse
import os
import resource
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchlib import count_packets, dissect_vs_tshark  # noqa: E402

from tests import procs  # noqa: E402
from tests.tls_servers import OpensslServer  # noqa: E402

NETLAB = [str(ROOT / ".venv" / "bin" / "netlab")]
CIPHERS = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:AES128-GCM-SHA256:AES256-SHA"


def timed(argv: list[str], **kw) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, **kw)
    return time.perf_counter() - start, proc


def interleaved(tools: dict[str, list[str]], runs: int, **kw) -> dict[str, dict[str, float]]:
    """Each tool RUNS times, taking turns (a machine that other work slows down slows
    them alike): best and median wall time, and median CPU time (user + system, which
    the other work does not add to) of each."""
    walls: dict[str, list[float]] = {name: [] for name in tools}
    cpus: dict[str, list[float]] = {name: [] for name in tools}
    for _ in range(max(1, runs)):
        for name, argv in tools.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            walls[name].append(timed(argv, **kw)[0])
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus[name].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return {
        name: {
            "best": min(walls[name]),
            "median": statistics.median(walls[name]),
            "cpu": statistics.median(cpus[name]),
        }
        for name in tools
    }


def _times(t: dict[str, float]) -> str:
    return f"best {t['best']:6.3f} s, median {t['median']:6.3f} s, CPU {t['cpu']:6.3f} s"


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
        times = interleaved(tools, runs)
        ours = times["netlab --scan"]
        import json

        doc = json.loads(timed(tools["netlab --scan"][:])[1].stdout)
        print(
            f"  netlab --scan          {_times(ours)}  {doc['handshakes']} handshakes "
            "(4 probes at a time, 1 process)"
        )
        for name in ("sslscan", "nmap ssl-enum-ciphers"):
            print(
                f"  {name:22} {_times(times[name])}  ratio netlab/{name.split()[0]} = "
                f"{ours['best'] / times[name]['best']:.2f} (best), "
                f"{ours['median'] / times[name]['median']:.2f} (median)"
            )


def bench_handshake(tmp: Path, runs: int) -> None:
    print("== handshake: one TLS 1.3 handshake with chain verification, a process each")
    with OpensslServer(tmp) as srv:
        tools = {
            "netlab tls-hello": [
                *NETLAB, "tls-hello", "--cacert", str(srv.cert), f"localhost:{srv.port}"
            ],
            "openssl s_client": [
                "openssl", "s_client", "-connect", f"127.0.0.1:{srv.port}",
                "-CAfile", str(srv.cert), "-verify_return_error",
            ],
        }  # fmt: skip
        times = interleaved(tools, runs, input="")
    ours, theirs = times["netlab tls-hello"], times["openssl s_client"]
    print(f"  netlab tls-hello  {_times(ours)}")
    print(f"  openssl s_client  {_times(theirs)}")
    print(
        f"  netlab - s_client = {ours['best'] - theirs['best']:+.3f} s best, "
        f"{ours['median'] - theirs['median']:+.3f} s median, "
        f"{ours['cpu'] - theirs['cpu']:+.3f} s CPU (goal: at most +0.250 s)"
    )


# --- dissect: a TLS-heavy capture with its key log --------------------------------------------
OUT = ROOT / "bench" / "out"
REQUESTS = 3000


def _site(www: Path) -> list[str]:
    www.mkdir(parents=True, exist_ok=True)
    (www / "index.html").write_text(
        "<html><body>" + "<p>hello from the TLS benchmark</p>\n" * 20 + "</body></html>\n"
    )
    (www / "style.css").write_text("body { color: #333; margin: 0 auto; }\n" * 40)
    (www / "data.json").write_text('{"items": [' + ", ".join(map(str, range(300))) + "]}\n")
    (www / "big.txt").write_text("".join(f"line {i} of a 40 kB text\n" for i in range(1800)))
    return ["/", "/style.css", "/data.json", "/missing", "/big.txt"]


def _nginx_conf(tmp: Path, port: int, cert: Path, key: Path) -> Path:
    conf = tmp / "nginx.conf"
    conf.write_text(f"""daemon off; master_process off; worker_processes 1;
pid {tmp}/nginx.pid; error_log {tmp}/error.log;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
  types {{ text/html html; text/css css; application/json json; text/plain txt; }}
  keepalive_requests 100000; http2_max_requests 100000;
  server {{ listen 127.0.0.1:{port} ssl http2; root {tmp}/www;
    ssl_certificate {cert}; ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305:AES128-SHA256; }}
}}
""")
    return conf


def _stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """End a process this script started, by its pid (bounded wait)."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def build_capture(requests: int) -> tuple[Path, Path]:
    """bench/out/tls-<requests>.pcap and its key log (made once)."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"tls-{requests}.pcap"
    keys = path.with_suffix(".keys")
    if path.exists() and keys.exists():
        return path, keys
    for tool in ("nginx", "tcpdump", "curl"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench_tls: needs {tool} to build the capture")
    raw = path.with_suffix(".tmp")
    for _attempt in range(3):  # a busy machine can make the kernel drop packets: again
        with tempfile.TemporaryDirectory(prefix="bench-tls-") as name:
            tmp = Path(name)
            if _record(tmp, requests, raw):
                keys.write_text((tmp / "keys.txt").read_text())
                raw.rename(path)
                return path, keys
    raise SystemExit("bench_tls: the kernel dropped packets for tcpdump three times")


def _record(tmp: Path, requests: int, raw: Path) -> bool:
    """Record the traffic into RAW; True when tcpdump kept every packet."""
    from tests.tls_servers import make_cert

    urls = _site(tmp / "www")
    cert, key = make_cert(tmp)
    port = procs.free_port()
    nginx = subprocess.Popen(["nginx", "-c", str(_nginx_conf(tmp, port, cert, key)),
                              "-p", str(tmp)], stderr=subprocess.DEVNULL)  # fmt: skip
    dump = None
    err = b""
    try:
        procs.wait_port(port)
        dump = subprocess.Popen(["tcpdump", "-i", "lo", "-B", "65536", "--immediate-mode", "-U",
                                 "-w", str(raw), f"tcp port {port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
        ready, _, _ = select.select([dump.stderr], [], [], 10)
        if not ready or b"listening" not in dump.stderr.readline():
            raise RuntimeError("tcpdump did not start listening on lo")
        _traffic(requests, urls, port, tmp / "keys.txt")
        time.sleep(0.5)  # the last packets reach the file
    finally:
        if dump is not None:
            _stop(dump, signal.SIGINT)
            err = dump.stderr.read() if dump.stderr else b""
        _stop(nginx)
    return b"\n0 packets dropped by kernel" in b"\n" + err


# (curl options, requests per connection): TLS 1.3 and TLS 1.2's AEAD and CBC suites,
# HTTP/1.1 keep-alive and HTTP/2
_MIXES = [
    (["--http1.1"], 100),
    (["--http2"], 100),
    (["--http1.1", "--tls-max", "1.2", "--ciphers", "ECDHE-RSA-AES128-GCM-SHA256"], 100),
    (["--http2", "--tls-max", "1.2", "--ciphers", "ECDHE-RSA-CHACHA20-POLY1305"], 100),
    (["--http1.1", "--tls-max", "1.2", "--ciphers", "AES128-SHA256"], 100),
]


def _traffic(requests: int, urls: list[str], port: int, keylog: Path) -> None:
    env = {**os.environ, "SSLKEYLOGFILE": str(keylog)}
    done = n = 0
    while done < requests:
        options, per = _MIXES[n % len(_MIXES)]
        count = min(per, requests - done)
        argv = ["curl", "-sk", "--max-time", "60", *options]
        for i in range(count):
            argv += ["-o", "/dev/null", f"https://localhost:{port}{urls[(done + i) % len(urls)]}"]
        subprocess.run(argv, check=False, timeout=120, env=env)
        done += count
        n += 1


def bench_dissect(tmp: Path, runs: int) -> None:
    print("== dissect: a TLS capture with its key log, netlab against tshark (one process each)")
    path, keys = build_capture(REQUESTS)
    ours_cmd = [*NETLAB, "dissect", "--keylog", str(keys), "-j", "1", str(path)]
    theirs_cmd = ["tshark", "-n", "-o", f"tls.keylog_file:{keys}", "-r", str(path)]
    mb = path.stat().st_size / 1e6
    packets = count_packets(path)
    print(f"  capture: {path} ({mb:.1f} MB, {packets:,} packets, {REQUESTS:,} HTTPS requests)")
    print("  " + dissect_vs_tshark(ours_cmd, theirs_cmd, path, runs))


SECTIONS = {"scan": bench_scan, "handshake": bench_handshake, "dissect": bench_dissect}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sections", nargs="*", help="scan, handshake, dissect (default: all)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("NO_COLOR", "1")
    sections = args.sections or list(SECTIONS)
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    with tempfile.TemporaryDirectory() as tmp:
        for section in sections:
            SECTIONS[section](Path(tmp), args.runs)


if __name__ == "__main__":
    main()
