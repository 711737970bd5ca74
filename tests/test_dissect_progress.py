"""`netlab dissect`: the progress bar on stderr, and --packet N without decoding the
frames before N (issue 20, item 3).

The bar is looked for on a real pseudo-terminal (stderr only, so stdout stays a pipe
whose bytes can be compared); NETLAB_PROGRESS_AFTER=0 lets it come up at once, so a
run of a second is slow enough. --packet N is held to the full decode: the packet's
block of `-V -j 1` over the whole file, and its line of `--json -j 1`.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

import pytest

from netlab.capture.reader import open_capture
from tests.conftest import ROOT, netlab_bin
from tests.test_dissect_jobs import _corpus_in_one, _replicas

PCAPS = sorted((ROOT / "pcaps").glob("*.pcap*"))
BAR = b"packets/s"  # in every frame of the bar (render/progress.py ReadProgress.text)


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    """Big enough that --stats takes a few of the bar's 0.2 s ticks here (half a second)."""
    return _replicas(tmp_path_factory.mktemp("progress") / "replicas.pcapng", 25_000)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return _corpus_in_one(tmp_path_factory.mktemp("progress") / "corpus.pcapng")


def run(*args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([netlab_bin(), "dissect", *args], capture_output=True, check=check,
                          env=env, timeout=60)  # fmt: skip


def on_terminal(*args: str, after: str = "0", no_color: bool = False) -> tuple[int, bytes, bytes]:
    """Run with stderr on a pseudo-terminal and stdout on a pipe: (status, stdout,
    what the terminal got)."""
    env = dict(os.environ, NETLAB_PROGRESS_AFTER=after, COLUMNS="100")
    env.pop("NO_COLOR", None)
    if no_color:
        env["NO_COLOR"] = "1"
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([netlab_bin(), "dissect", *args], stdout=subprocess.PIPE,
                                stderr=slave, stdin=subprocess.DEVNULL, env=env)  # fmt: skip
    finally:
        os.close(slave)
    terminal = bytearray()
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    out = bytearray()
    streams = [master, proc.stdout.fileno()]
    while streams and time.monotonic() < deadline:
        ready, _, _ = select.select(streams, [], [], 1.0)
        for fd in ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the terminal's other side closed
                chunk = b""
            if not chunk:
                streams.remove(fd)
            elif fd == master:
                terminal += chunk
            else:
                out += chunk
    os.close(master)
    status = proc.wait(timeout=10)
    proc.stdout.close()
    return status, bytes(out), bytes(terminal)


def frames_in(path: Path) -> int:
    with open_capture(path) as cap:
        return sum(1 for _ in cap)


def test_bar_on_a_terminal_for_a_slow_run_and_stdout_unchanged(big):
    status, out, terminal = on_terminal("-j", "1", "--stats", "phs", str(big))
    assert status == 0
    assert BAR in terminal and b"reading" in terminal and b"of " in terminal
    frames = terminal.split(b"\r")
    assert all(BAR in f for f in frames if b"reading" in f)  # never a bar without numbers
    assert re.search(rb"ETA \d+:\d\d", terminal)
    piped = run("-j", "1", "--stats", "phs", str(big))
    assert out == piped.stdout and b"Protocol Hierarchy" in out
    assert piped.stderr == b""  # stderr a pipe: no bar


def test_bar_for_packet_far_into_the_file(big):
    n = frames_in(big) - 1
    status, out, terminal = on_terminal("--packet", str(n), "--json", str(big))
    assert status == 0 and json.loads(out.splitlines()[0])["no"] == n
    assert BAR in terminal


def test_no_color_keeps_the_bar_without_colour(big):
    status, _, terminal = on_terminal("-j", "1", "--stats", "phs", str(big), no_color=True)
    assert status == 0 and BAR in terminal
    assert not re.search(rb"\x1b\[[0-9;]*m", terminal)  # no SGR escape: no colour, no bold
    status, _, terminal = on_terminal("-j", "1", "--stats", "phs", str(big))
    assert re.search(rb"\x1b\[[0-9;]*m", terminal)  # (the same run in colour has them)


def test_no_bar_on_a_pipe_even_when_told_to_hurry(big):
    env = dict(os.environ, NETLAB_PROGRESS_AFTER="0")
    piped = run("-j", "1", "--stats", "phs", str(big), env=env)
    assert piped.stderr == b""


def test_no_bar_with_q(big):
    status, out, terminal = on_terminal("-q", "-z", "phs", str(big))
    assert status == 0 and b"Protocol Hierarchy" in out
    assert BAR not in terminal and terminal.strip() == b""


def test_short_run_never_flashes_a_bar():
    status, _, terminal = on_terminal("--stats", "phs", str(PCAPS[0]), after="1")
    assert status == 0 and BAR not in terminal


def test_truncated_file_is_a_clean_error_with_the_bar(big, tmp_path):
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(big.read_bytes()[:-50])
    status, out, terminal = on_terminal("-j", "1", "--stats", "phs", str(cut))
    assert status == 2 and b"Protocol Hierarchy" in out
    assert terminal.count(b"warning:") == 1 and b"Traceback" not in terminal
    last = frames_in(cut)  # the last whole one: shown, the damage after it never read
    far = run("--packet", str(last), str(cut))
    assert far.stdout.startswith(f"Frame {last}:".encode()) and far.stderr == b""
    beyond = run("--packet", str(last + 1), str(cut), check=False)
    assert beyond.returncode == 2 and beyond.stdout == b""
    assert beyond.stderr.count(b"\n") == 1 and b"warning:" in beyond.stderr


def tree_blocks(path: Path) -> dict[int, bytes]:
    """Each packet's -V block, from one full decode (one process)."""
    text = run("-j", "1", "-V", str(path)).stdout
    starts = [(int(m.group(1)), m.start()) for m in re.finditer(rb"(?m)^Frame (\d+): ", text)]
    ends = [start for _, start in starts[1:]] + [len(text)]
    return {no: text[start:end] for (no, start), end in zip(starts, ends, strict=True)}


def picks(total: int) -> list[int]:
    """Several packets spread over the file, the last one among them."""
    wanted = {1, 2, total // 3, total // 2, total - 7, total - 1, total}
    return sorted(n for n in wanted if 1 <= n <= total)


@pytest.mark.parametrize("pcap", PCAPS, ids=[p.name for p in PCAPS])
def test_packet_equals_the_full_decode_on_the_samples(pcap):
    blocks = tree_blocks(pcap)
    for n in picks(len(blocks)):
        assert run("--packet", str(n), str(pcap)).stdout == blocks[n], n


def test_packet_equals_the_full_decode_on_the_corpus(corpus):
    blocks = tree_blocks(corpus)
    lines = run("-j", "1", "--json", str(corpus)).stdout.splitlines()
    by_no = {json.loads(line)["no"]: line for line in lines if b'"type":"packet"' in line}
    total = len(blocks)
    assert total == len(by_no) > 1000
    for n in [*picks(total), total // 5, 2 * total // 3]:
        assert run("--packet", str(n), str(corpus)).stdout == blocks[n], n
        got = run("--packet", str(n), "--json", str(corpus)).stdout.splitlines()[0]
        assert got == by_no[n], n


def test_packet_with_hex_equals_the_full_decode(corpus):
    big = corpus
    text = run("-j", "1", "-V", "-x", str(big)).stdout
    total = frames_in(big)
    for n in (total // 2 + 3, total):
        start = text.index(f"\nFrame {n}: ".encode()) + 1
        end = text.find(f"\nFrame {n + 1}: ".encode())
        whole = text[start : end + 1] if end > 0 else text[start:]
        assert run("--packet", str(n), "-x", str(big)).stdout == whole, n


# --- the bar under --jobs (several processes) ---------------------------------------------------


def test_bar_under_jobs_when_stdout_is_not_the_terminal(big):
    # Process 0 reads every frame: its file offset and frame count drive the bar.
    status, out, terminal = on_terminal("-j", "2", str(big))
    assert status == 0
    assert BAR in terminal and b"reading" in terminal
    assert out == run("-j", "1", str(big)).stdout  # the output is unchanged


def test_no_bar_under_jobs_on_a_pipe(big):
    env = dict(os.environ, NETLAB_PROGRESS_AFTER="0")
    piped = run("-j", "2", str(big), env=env)
    assert piped.stderr == b"" and piped.stdout


def test_no_bar_under_jobs_when_stdout_is_the_terminal(big):
    # The other processes write to the terminal straight: a bar would tear their lines.
    env = dict(os.environ, NETLAB_PROGRESS_AFTER="0", COLUMNS="100")
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([netlab_bin(), "dissect", "-j", "2", str(big)], stdout=slave,
                                stderr=slave, stdin=subprocess.DEVNULL, env=env)  # fmt: skip
    finally:
        os.close(slave)
    terminal = bytearray()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            break
        terminal += chunk
    os.close(master)
    assert proc.wait(timeout=10) == 0
    assert terminal.count(b"\n") >= frames_in(big) and BAR not in terminal
