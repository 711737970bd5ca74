"""--plot (issue 23): the series equal tshark's, the pictures are drawn and fit.

tshark is the oracle for the numbers: `-z io,stat,INTERVAL,FILTER…` for the I/O graph;
`-T fields` with tcp.seq, tcp.ack, tcp.window_size, tcp.analysis.ack_rtt,
tcp.analysis.acks_frame, tcp.analysis.retransmission, tcp.analysis.duplicate_ack and
tcp.options.sack_le/_re for the TCP graphs, on the bundled captures and on a capture
with real retransmissions (the kernel's TCP in a lab, every 7th big segment dropped by
an nftables rule).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import ROOT, netlab_bin, require_tool

PCAPS = ROOT / "pcaps"


def _tshark() -> str:
    return require_tool("tshark")


def graph_of(spec: str, path: Path):
    """The graph for SPEC fed every packet of PATH, as `dissect --plot` feeds it."""
    from netlab.capture.reader import open_capture
    from netlab.dissect import Dissector
    from netlab.dissect.graphs import parse_plot_spec

    graph = parse_plot_spec(spec)
    d = Dissector(False)
    with open_capture(str(path)) as cap:
        for no, f in enumerate(cap, 1):
            graph.add(d.dissect(no, f.ts_ns, f.data, f.wirelen, f.linktype, f.interface))
    return graph


def tshark_fields(path: Path, *fields: str, flt: str = "tcp") -> list[list[str]]:
    argv = [_tshark(), "-n", "-r", str(path), "-Y", flt, "-T", "fields", "-E", "occurrence=a",
            "-E", "aggregator=,"]  # fmt: skip
    for name in ("frame.number", *fields):
        argv += ["-e", name]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


# --- the I/O graph against tshark -z io,stat ------------------------------------------------


def tshark_io(path: Path, interval: str, filters: list[str]) -> list[list[tuple[int, int]]]:
    """Per row of tshark's IO Statistics table: (frames, bytes) per column."""
    spec = ",".join(["io", "stat", interval, *filters])
    out = subprocess.run([_tshark(), "-n", "-q", "-r", str(path), "-z", spec],
                         capture_output=True, text=True, timeout=60, check=True).stdout  # fmt: skip
    rows = []
    for line in out.splitlines():
        if "<>" not in line:
            continue
        numbers = [int(n) for n in re.findall(r"\|\s*(\d+)\s*(?=\|)", line.split("<>", 1)[1])]
        rows.append(list(zip(numbers[0::2], numbers[1::2], strict=True)))
    return rows


IO_CASES = [
    ("tcp-udp.pcap", "0.0007", ["tcp", "udp"]),
    ("dns.pcapng", "0.3", ["dns.flags.response == 1", "udp.port == 53"]),
    ("ping.pcap", "0.25", ["icmp.type == 8"]),
    ("http.pcapng", "0.004", ["http", "tcp.len > 0"]),
]


@pytest.mark.parametrize(("name", "interval", "filters"), IO_CASES)
def test_io_series_equal_tshark_io_stat(name: str, interval: str, filters: list[str]) -> None:
    series = graph_of(",".join(["io", interval, *filters]), PCAPS / name).series()
    ours = list(zip(*[list(zip(c["frames"], c["bytes"], strict=True)) for c in series["series"]],
                    strict=True))  # fmt: skip
    theirs = tshark_io(PCAPS / name, interval, filters)
    # tshark's table has the filters' columns only when it is given filters: ours has the
    # all-frames column first.
    assert [list(r[1:]) for r in ours] == theirs
    assert sum(series["series"][0]["frames"]) == len(tshark_fields(PCAPS / name, flt="frame"))


def test_io_without_filters_counts_every_frame_like_tshark() -> None:
    theirs = tshark_io(PCAPS / "dns.pcapng", "0.3", ["frame"])
    series = graph_of("io,0.3", PCAPS / "dns.pcapng").series()["series"][0]
    assert list(zip(series["frames"], series["bytes"], strict=True)) == [r[0] for r in theirs]


# --- the TCP graphs against tshark's fields ---------------------------------------------------


def check_tcp_against_tshark(path: Path) -> dict[str, int]:
    """Every stream's per-frame values against tshark's; returns what was compared.
    tshark's retransmission marks are taken together (retransmission, fast, spurious,
    out-of-order): netlab's dissector has the one, for any segment that repeats data."""
    rows = tshark_fields(path, "tcp.stream", "tcp.seq", "tcp.ack", "tcp.window_size",
                         "tcp.analysis.ack_rtt", "tcp.analysis.acks_frame",
                         "tcp.analysis.retransmission", "tcp.analysis.duplicate_ack",
                         "tcp.options.sack_le", "tcp.options.sack_re", "tcp.flags.ack",
                         "tcp.analysis.fast_retransmission", "tcp.analysis.out_of_order",
                         "tcp.analysis.spurious_retransmission", flt="tcp && !icmp")  # fmt: skip
    streams = sorted({int(r[1]) for r in rows})
    counted = {"frames": 0, "rtt": 0, "retransmissions": 0, "dup_acks": 0, "sack": 0}
    for stream in streams:
        graph = graph_of(f"tcp-rtt,{stream}", path)
        ours = {s.no: s for s in graph.segments}
        rtts = graph.all_rtts()
        mine = [r for r in rows if int(r[1]) == stream]
        assert sorted(ours) == [int(r[0]) for r in mine], f"stream {stream}: frames differ"
        for no, _st, seq, ack, win, rtt, acked, retr, dup, sle, sre, ackflag, *kinds in mine:
            # netlab's dissector has one mark for a segment that does not advance the
            # sequence (tcp.analysis.retransmission); tshark splits it further.
            retr = retr or any(kinds)
            seg = ours[int(no)]
            assert seg.rel_seq == int(seq), f"frame {no} tcp.seq"
            if ackflag == "1":
                assert seg.rel_ack == int(ack), f"frame {no} tcp.ack"
            assert seg.win == int(win), f"frame {no} tcp.window_size"
            if rtt:
                assert int(no) in rtts, f"frame {no}: tshark has ack_rtt {rtt}"
                got, frame = rtts[int(no)]
                assert abs(got - float(rtt)) < 1e-6 and frame == int(acked), f"frame {no}"
                counted["rtt"] += 1
            else:
                assert int(no) not in rtts, f"frame {no}: tshark has no ack_rtt"
            assert ("retransmission" in seg.analysis) == bool(retr), f"frame {no} retrans"
            assert ("duplicate_ack" in seg.analysis) == bool(dup), f"frame {no} dup ack"
            theirs = list(zip(map(int, filter(None, sle.split(","))),
                              map(int, filter(None, sre.split(","))), strict=True))  # fmt: skip
            assert seg.sack == theirs, f"frame {no} SACK blocks"
            counted["frames"] += 1
            counted["retransmissions"] += bool(retr)
            counted["dup_acks"] += bool(dup)
            counted["sack"] += len(theirs)
    return counted


@pytest.mark.parametrize("name", ["tcp-udp.pcap", "http.pcapng", "rtmp.pcapng"])
def test_tcp_values_equal_tshark_on_bundled_captures(name: str) -> None:
    counted = check_tcp_against_tshark(PCAPS / name)
    assert counted["frames"] >= 10 and counted["rtt"] >= 3


def test_tcp_seq_series_is_the_senders_data_and_the_receivers_acks() -> None:
    s = graph_of("tcp-seq,0", PCAPS / "http.pcapng").series()
    rows = tshark_fields(PCAPS / "http.pcapng", "tcp.srcport", "tcp.seq", "tcp.len", "tcp.ack",
                         "tcp.window_size", "tcp.flags.syn", "tcp.flags.fin", "tcp.flags.ack",
                         flt="tcp.stream == 0")  # fmt: skip
    sender_port = int(s["sender"].rsplit(":", 1)[1])
    data = [(int(n), int(q), int(ln)) for n, p, q, ln, _a, _w, syn, fin, _k in rows
            if int(p) == sender_port and (int(ln) or syn == "1" or fin == "1")]  # fmt: skip
    assert [(p["no"], p["seq"], p["len"]) for p in s["segments"]] == data
    acks = [(int(n), int(a), int(a) + int(w)) for n, p, _q, _l, a, w, _s, _f, k in rows
            if int(p) != sender_port and k == "1"]  # fmt: skip
    assert [(a["no"], a["ack"], a["window_edge"]) for a in s["acks"]] == acks
    assert len(data) >= 3 and len(acks) >= 3


# --- a capture with retransmissions, made by the kernel in a lab -----------------------------


DROP_RULES = """table inet plotdrop {
  chain in {
    type filter hook input priority 0; policy accept;
    tcp dport 7 meta length > 1000 numgen inc mod 7 == 3 drop
  }
}
"""


def _serve_echo_transfer(lab, size: int) -> None:
    """Client → server's echo port: SIZE bytes sent while the echo is read back."""
    sock = lab.socket("client")
    sock.settimeout(20)
    sock.connect((lab.addr("server"), 7))
    got = bytearray()

    def reader() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                return
            got.extend(chunk)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    payload = bytes(range(256)) * (size // 256)
    sock.sendall(payload)
    sock.shutdown(socket.SHUT_WR)
    t.join(35)
    sock.close()
    assert bytes(got) == payload, f"echo returned {len(got)} of {len(payload)} bytes"


@pytest.fixture
def lossy_capture(lab, tmp_path: Path) -> Path:
    require_tool("tcpdump")
    handle = lab("tcp", tools=("tcpdump", "nft"))
    handle.exec("server", "nft", "-f", "-", input=DROP_RULES, check=True)
    iface = handle.info["nodes"]["client"]["interfaces"][0]["name"]
    pcap = tmp_path / "retrans.pcap"
    from netlab.lab import engine, netns

    # TSO off on the sender (with its checksum offload): the capture then holds segments
    # of one MTU, so a drop leaves later segments arriving and the server's duplicate
    # ACKs (with SACK) follow; with 64 KB GSO bursts a run could see none.
    netns.set_tx_checksum(handle.info["nodes"]["client"]["netns"], iface, False)

    argv = engine.exec_argv(
        handle.book, "client", ["tcpdump", "-n", "-U", "-i", iface, "-w", str(pcap), "tcp port 7"]
    )
    dump = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(100):  # tcpdump says "listening on" once its socket is bound
            if pcap.exists():
                break
            time.sleep(0.05)
        time.sleep(0.2)
        _serve_echo_transfer(handle, 400_000)
        time.sleep(0.3)
    finally:
        dump.terminate()
        try:
            dump.wait(5)
        except subprocess.TimeoutExpired:
            dump.kill()
            dump.wait(5)
    return pcap


def test_retransmissions_sack_and_dup_acks_equal_tshark(lossy_capture: Path, tmp_path) -> None:
    counted = check_tcp_against_tshark(lossy_capture)
    assert counted["retransmissions"] > 0 and counted["dup_acks"] > 0 and counted["sack"] > 0
    s = graph_of("tcp-seq,0", lossy_capture).series()
    assert any(p["retransmission"] for p in s["segments"])
    assert any(a["duplicate_ack"] for a in s["acks"]) and any(a["sack"] for a in s["acks"])
    # The picture says so too, in the terminal and in a file.
    from netlab.render.charts import chart_for
    from netlab.render.plot import draw, plain

    lines = plain(draw(chart_for(s), 80, 23))
    assert "R retransmission" in lines[-2] + lines[-3] and "D duplicate ACK" in "".join(lines)
    out = tmp_path / "seq.png"
    run = _netlab("dissect", "--plot", "tcp-seq,0", "--plot-out", str(out), str(lossy_capture))
    assert run.returncode == 0, run.stderr
    assert _colored_pixels(out) > 200


# --- pictures: files and the terminal ------------------------------------------------------


def _netlab(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "COLUMNS": "80", "LINES": "24", **(env or {})}
    return subprocess.run([netlab_bin(), *args], capture_output=True, text=True, timeout=60,
                          env=full)  # fmt: skip


def _colored_pixels(path: Path) -> int:
    """Pixels of the data's colours (not white, grey or black) inside the plot's middle."""
    pytest.importorskip("matplotlib")
    import matplotlib.image as mpimg

    img = mpimg.imread(str(path))
    h, w = img.shape[:2]
    area = img[int(h * 0.12) : int(h * 0.88), int(w * 0.1) : int(w * 0.95), :3]
    spread = area.max(axis=2) - area.min(axis=2)  # grey and black have none
    return int((spread > 0.25).sum())


PLOTS = ["io,0.0005,tcp,udp", "tcp-seq,0", "tcp-rtt,0", "tcp-window,0", "flow,0"]


@pytest.mark.parametrize("kind", PLOTS)
def test_png_svg_and_html_files_show_axes_and_data(kind: str, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from netlab.render.charts import chart_for
    from netlab.render.plotfile import write

    series = graph_of(kind, PCAPS / "tcp-udp.pcap").series()
    for ext in ("png", "svg", "html"):  # in this process: matplotlib is imported once
        out = tmp_path / f"plot.{ext}"
        write(chart_for(series), str(out), series)
        assert out.stat().st_size > 5000
    from PIL import Image

    with Image.open(tmp_path / "plot.png") as img:
        assert img.size == (1000, 550) or img.size[0] == 1000
    assert _colored_pixels(tmp_path / "plot.png") > 25
    root = ET.parse(tmp_path / "plot.svg").getroot()
    paths = [e for e in root.iter() if e.tag.endswith("}path") or e.tag == "path"]
    assert len(paths) > 20
    page = (tmp_path / "plot.html").read_text()
    assert "<svg" in page and "numbers (netlab --json)" in page


def test_plot_out_from_the_command_line(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "io.svg"
    run = _netlab("dissect", "--plot-out", str(out), str(PCAPS / "dns.pcapng"))
    assert run.returncode == 0 and not run.stdout, run.stderr  # --plot-out alone: no picture
    assert "I/O graph" in out.read_text()


def test_terminal_plots_fit_80x24_in_ascii_and_braille() -> None:
    from netlab.render.charts import chart_for
    from netlab.render.plot import draw, plain

    pcap = PCAPS / "tcp-udp.pcap"
    for kind in [*PLOTS[:-1], "tcp-throughput,0"]:
        chart = chart_for(graph_of(kind, pcap).series())
        for unicode in (False, True):
            lines = plain(draw(chart, 80, 23, unicode=unicode))
            assert len(lines) <= 23 and all(len(line) <= 80 for line in lines), kind
            text = "".join(lines)
            assert any("\u2800" < ch <= "\u28ff" for ch in text) == unicode, kind
    # Piped, as a user would see it in an 80×24 window: ASCII, within the window.
    for kind in PLOTS:
        run = _netlab("dissect", "--plot", kind, str(pcap))
        lines = run.stdout.splitlines()
        assert run.returncode == 0 and len(lines) <= 24, (kind, run.stderr)
        assert all(len(line) <= 80 and line.isascii() for line in lines), kind


def test_flow_is_the_handshake_ladder() -> None:
    run = _netlab("dissect", "--plot", "flow,0", str(PCAPS / "tcp-udp.pcap"))
    lines = run.stdout.splitlines()
    assert "127.0.0.1:40692" in lines[1] and "127.0.0.1:53911" in lines[1]
    assert "-SYN Seq=0-" in lines[2] and lines[2].rstrip().endswith(">|")
    assert "SYN, ACK Seq=0 Ack=1" in lines[3] and "|<-" in lines[3]
    assert "ACK Seq=1 Ack=1" in lines[4]
    assert sum("FIN" in line for line in lines) == 2


def test_json_carries_the_series() -> None:
    pcap = PCAPS / "http.pcapng"
    for kind in ("io,0.004,http", "tcp-seq,1", "tcp-rtt,1", "flow"):
        run = _netlab("dissect", "--json", "--plot", kind, str(pcap))
        assert run.returncode == 0, run.stderr
        records = [json.loads(line) for line in run.stdout.splitlines()]
        assert len(records) == 1 and records[0]["type"] == "plot"
        want = graph_of(kind, pcap).series()
        assert {k: v for k, v in records[0].items() if k != "type"} == json.loads(json.dumps(want))


def test_io_plot_without_a_filter_reads_frames_only() -> None:
    """The fast path (no dissection) gives the same numbers as the dissecting one."""
    pcap = str(PCAPS / "dns.pcapng")
    fast = json.loads(_netlab("dissect", "--json", "--plot", "io,0.1", pcap).stdout)
    slow = json.loads(_netlab("dissect", "--json", "--plot", "io,0.1,frame", pcap).stdout)
    assert fast["series"][0] == slow["series"][0]
    assert fast["series"][0]["frames"] == slow["series"][1]["frames"]


@pytest.mark.parametrize(
    ("args", "status", "says"),
    [
        (["--plot", "pie"], 2, "expected io"),
        (["--plot", "tcp-seq,x"], 2, "STREAM is a tcp.stream number"),
        (["--plot", "io,abc"], 2, "interval must be a number"),
        (["--plot", "io,1,tcp.nonsense == 1"], 2, "tcp.nonsense"),
        (["--plot", "io", "--plot-out", "x.txt"], 2, ".png, .svg or .html"),
        (["--plot", "io", "--plot-out", "/nonexistent/x.png"], 2, "no folder"),
        (["--plot", "tcp-seq,42"], 1, "tcp.stream 42 is not in the capture"),
    ],
)
def test_bad_plot_options_are_one_line_errors(args: list[str], status: int, says: str) -> None:
    run = _netlab("dissect", *args, str(PCAPS / "tcp-udp.pcap"))
    assert run.returncode == status, run.stderr
    assert says in run.stderr and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_plot_out_without_matplotlib_says_how_to_get_it(tmp_path: Path) -> None:
    """matplotlib is an extra: without it --plot-out is a clear error, not a traceback."""
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "matplotlib.py").write_text("raise ImportError('blocked for the test')\n")
    env = {"PYTHONPATH": str(blocker)}
    run = _netlab("dissect", "--plot", "io", "--plot-out", str(tmp_path / "a.png"),
                  str(PCAPS / "ping.pcap"), env=env)  # fmt: skip
    assert run.returncode == 2 and "pip install" in run.stderr, run.stderr
    assert not (tmp_path / "a.png").exists()


# --- the commands' plots -------------------------------------------------------------------

PING_DROP = """table inet plotping {
  chain in {
    type filter hook input priority 0; policy accept;
    icmp type echo-request numgen inc mod 3 == 1 drop
  }
}
"""


def test_ping_traceroute_and_http_plots_in_a_lab(lab, tmp_path: Path) -> None:
    """ping --plot marks the echoes an nftables rule dropped; traceroute --report --plot
    draws the hop; http --plot the request's phases; --plot-out writes each as a file."""
    handle = lab("tcp", tools=("nft",))
    handle.exec("server", "nft", "-f", "-", input=PING_DROP, check=True)
    nl = netlab_bin()
    env = ["env", "COLUMNS=80", "LINES=24"]
    run = handle.exec("client", *env, nl, "ping", "-4", "-c", "6", "-i", "0.05", "-W", "0.3",
                      "--plot", "--plot-out", str(tmp_path / "ping.svg"), "server")  # fmt: skip
    assert run.returncode == 0, run.stderr
    plot = run.stdout[run.stdout.index(": RTT per icmp_seq") :].splitlines()
    assert len(plot) <= 23 and all(len(line) <= 80 for line in plot)
    assert "4 replies, 2 lost" in run.stdout and "X lost" in run.stdout
    assert sum(line.count("X") for line in plot[1:-4]) >= 1  # the losses on the x axis
    assert (tmp_path / "ping.svg").stat().st_size > 5000

    js = handle.exec("client", nl, "ping", "-4", "-c", "3", "-i", "0.05", "-W", "0.3", "--json",
                     "--plot", "server")  # fmt: skip
    records = [json.loads(line) for line in js.stdout.splitlines()]  # NDJSON only: no picture
    assert records[-1]["type"] == "summary" and records[-1]["received"] == 2

    tr = handle.exec("client", *env, nl, "traceroute", "--report", "-c", "3", "--plot",
                     "--plot-out", str(tmp_path / "trace.png"), "server")  # fmt: skip
    assert tr.returncode == 0, tr.stderr
    assert "RTT per hop" in tr.stdout and " 1 198.18.0.2" in tr.stdout
    assert _colored_pixels(tmp_path / "trace.png") > 50

    web = handle.exec("client", *env, nl, "http", "--plot", "--plot-out",
                      str(tmp_path / "http.html"), "http://server/", "http://server/")  # fmt: skip
    assert web.returncode == 0, web.stderr
    lines = web.stdout[web.stdout.index("phases per request") :].splitlines()
    assert [line.split()[:2] for line in lines[1:3]] == [["GET", "/"], ["GET", "/"]]
    assert "connect" in lines[-1] and "server" in lines[-1]
    assert "<svg" in (tmp_path / "http.html").read_text()


def test_dht_plot_is_the_best_distance_per_round() -> None:
    from netlab.render.charts import chart_for, dht_series
    from netlab.render.plot import draw, plain

    doc = {"target": "ab" * 20, "round_best": [
        {"round": 1, "distance": f"{1 << 150:040x}"},
        {"round": 2, "distance": f"{1 << 120:040x}"},
        {"round": 3, "distance": f"{(1 << 90) + 5:040x}"},
    ]}  # fmt: skip
    s = dht_series(doc)
    assert [r["distance_bits"] for r in s["rounds"]] == [151, 121, 91]
    lines = plain(draw(chart_for(s), 80, 23))
    assert "best distance per round" in lines[0] and len(lines) <= 23
    top = next(i for i, line in enumerate(lines[1:], 1) if "*" in line)
    bottom = max(i for i, line in enumerate(lines[1:-4], 1) if "*" in line)
    assert top < bottom  # it falls from the top left to the bottom right
    assert lines[top].index("*") < lines[bottom].rindex("*")


def test_sniff_plot_draws_the_flow_after_the_capture() -> None:
    """sniff --plot on loopback: the packets as they come, then the handshake ladder."""
    from tests.conftest import require_root

    require_root()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    argv = [netlab_bin(), "sniff", "-i", "lo", "-c", "6", "--timeout", "10", "--plot",
            "flow", f"tcp port {port}"]  # fmt: skip
    env = {**os.environ, "COLUMNS": "80", "LINES": "24"}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        line = ""
        while "listening on" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
        client = socket.create_connection(("127.0.0.1", port), timeout=5)
        conn, _ = server.accept()
        client.sendall(b"hello")
        conn.recv(16)
        client.close()
        conn.close()
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        server.close()
    assert proc.returncode == 0, err
    ladder = out[out.index("Flow graph") :].splitlines()
    assert "-SYN Seq=0-" in ladder[2] and "SYN, ACK Seq=0 Ack=1" in ladder[3]
    assert any("Len=5" in line for line in ladder)


def test_io_plot_refuses_more_intervals_than_it_keeps() -> None:
    """Memory stays bounded: a µs interval over a second of capture is one clear line."""
    for spec in ("io,0.000001", "io,0.000001,dns"):
        run = _netlab("dissect", "--plot", spec, str(PCAPS / "dns.pcapng"))
        assert run.returncode == 1 and "give a longer interval" in run.stderr, run.stderr
        assert len(run.stderr.strip().splitlines()) == 1 and not run.stdout


def test_dht_lookup_plot_in_the_p2p_lab(lab) -> None:
    """dht-lookup --plot against the libtorrent swarm: one point per round, falling."""
    p2p = lab("p2p")
    state = json.loads(
        (p2p.book.run_dir / "services" / "swarm-dht-swarm" / "state.json").read_text()
    )
    target = state["announce"]["info_hash"]
    run = p2p.exec("client", "env", "COLUMNS=80", "LINES=24", netlab_bin(), "dht-lookup",
                   "--plot", target, "-b", state["bootstrap"], timeout=60)  # fmt: skip
    assert run.returncode == 0, run.stderr
    plot = run.stdout[run.stdout.index("best distance per round") :].splitlines()
    assert len(plot) <= 23 and all(len(line) <= 80 for line in plot)
    doc = json.loads(p2p.exec("client", netlab_bin(), "dht-lookup", "--json", "--plot", target,
                              "-b", state["bootstrap"], timeout=60).stdout)  # fmt: skip
    from netlab.render.charts import dht_series

    bits = [r["distance_bits"] for r in dht_series(doc)["rounds"]]
    assert bits and bits == sorted(bits, reverse=True) and bits[-1] < 160
