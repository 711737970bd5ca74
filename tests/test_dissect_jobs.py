"""`netlab dissect --jobs N`: several processes, the same bytes out as one process.

The files here span many chunks (dissect/jobs.py CHUNK), so every process owns
several and the token goes round the ring many times; the cross-packet state (TCP
streams, relative sequence numbers, analysis, reassembly of DNS over TCP) crosses
chunk boundaries, which is what the light pass must keep right.
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

from netlab.capture.reader import CaptureFormatError, open_capture
from netlab.capture.writer import PcapngWriter
from netlab.dissect.jobs import CHUNK
from tests.conftest import CORPUS, ROOT, netlab_bin

PCAPS = sorted((ROOT / "pcaps").glob("*.pcap*"))


def _replicas(path: Path, packets: int) -> Path:
    """The sample captures over and over, TCP sequence numbers moved on each time (new
    connections on the same ports, as a long capture of a busy host holds)."""
    frames = []
    for pcap in PCAPS:
        with open_capture(pcap) as cap:
            frames += [(f.linktype, f.data) for f in cap]
    with PcapngWriter(path) as writer:
        iface = {lt: writer.add_interface(lt) for lt in sorted({lt for lt, _ in frames})}
        ts, written, k = 1_700_000_000_000_000_000, 0, 0
        while written < packets:
            for linktype, data in frames[: packets - written]:
                ts += 137_000
                writer.write_packet(_shift_seq(linktype, data, k), ts, interface=iface[linktype])
                written += 1
            k += 1
    return path


def _shift_seq(linktype: int, data: bytes, k: int) -> bytes:
    if linktype != 1 or len(data) < 54 or data[12:14] != b"\x08\x00" or data[23] != 6:
        return data
    off = 14 + (data[14] & 0x0F) * 4
    buf = bytearray(data)
    seq, ack = struct.unpack_from("!II", buf, off + 4)
    struct.pack_into("!II", buf, off + 4, (seq + k * 104729) % 2**32, (ack + k * 104729) % 2**32)
    return bytes(buf)


def _corpus_in_one(path: Path) -> Path:
    """Every tcpdump corpus capture in one pcapng, one interface per file."""
    with PcapngWriter(path) as writer:
        for src in sorted(CORPUS.iterdir()):
            try:
                with open_capture(src) as cap:
                    frames = list(cap)
            except CaptureFormatError:
                continue
            ifaces: dict[int, int] = {}
            for f in frames:
                if f.linktype not in ifaces:
                    ifaces[f.linktype] = writer.add_interface(f.linktype)
                writer.write_packet(f.data, f.ts_ns, interface=ifaces[f.linktype],
                                    wirelen=f.wirelen)  # fmt: skip
    return path


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    return _replicas(tmp_path_factory.mktemp("jobs") / "replicas.pcapng", CHUNK * 7 + 123)


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([netlab_bin(), "dissect", *args], capture_output=True, check=check)


@pytest.mark.parametrize("view", [[], ["-V"], ["--json"], ["-x"]], ids=["line", "V", "json", "x"])
@pytest.mark.parametrize("jobs", ["2", "3"])
def test_same_output_as_one_process(big, view, jobs):
    one = run("-j", "1", *view, str(big))
    many = run("-j", jobs, *view, str(big))
    assert many.stdout == one.stdout and many.stderr == one.stderr == b""
    assert one.stdout.count(b"\n") >= CHUNK * 7  # really many chunks


def test_same_output_on_the_whole_corpus(tmp_path):
    merged = _corpus_in_one(tmp_path / "corpus.pcapng")
    for view in ([], ["--json"]):
        one = run("-j", "1", *view, str(merged))
        two = run("-j", "2", *view, str(merged))
        assert two.stdout == one.stdout, view
    assert one.stdout.count(b"\n") > 5 * CHUNK


def test_auto_uses_one_process_for_small_files():
    from netlab.dissect.jobs import auto_jobs

    assert auto_jobs(str(PCAPS[0])) == 1
    assert auto_jobs("-") == 1


def test_truncated_file_warns_once(big, tmp_path):
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(big.read_bytes()[:-50])
    one = run("-j", "1", str(cut), check=False)
    two = run("-j", "2", str(cut), check=False)
    assert two.returncode == one.returncode == 2  # damaged: everything shown, then exit 2
    assert two.stdout == one.stdout
    assert two.stderr == one.stderr and two.stderr.count(b"warning") == 1


def _session_pids(sid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[3]) == sid:  # field 6 of stat: the session id
                pids.append(int(entry))
    return pids


def test_closed_pipe_ends_quietly_and_leaves_no_process(big):
    proc = subprocess.Popen(
        f"{netlab_bin()} dissect -j 2 -V {big} | head -3",
        shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    out, err = proc.communicate(timeout=60)
    assert out.count(b"\n") == 3 and err == b""
    deadline = time.monotonic() + 10
    while _session_pids(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _session_pids(proc.pid) == []


def test_ctrl_c_exits_130_and_leaves_no_process(big, tmp_path):
    # A slow reader keeps the run going until the signal arrives.
    proc = subprocess.Popen(
        [netlab_bin(), "dissect", "-j", "2", "-V", str(big)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None
    proc.stdout.read(4096)  # it is running and writing
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
    proc.stdout.read()
    assert proc.wait(timeout=30) == 130
    deadline = time.monotonic() + 10
    while _session_pids(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _session_pids(proc.pid) == []


def test_a_fifo_is_read_by_one_process(big, tmp_path):
    """A pipe cannot be read twice: --jobs then falls back to one process, same output."""
    fifo = tmp_path / "capture.fifo"
    os.mkfifo(fifo)
    proc = subprocess.Popen([netlab_bin(), "dissect", "-j", "2", str(fifo)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip

    def feed() -> None:  # while communicate() reads the output, or both would block
        with open(fifo, "wb") as writer:
            writer.write(big.read_bytes())

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    out, err = proc.communicate(timeout=60)
    feeder.join(timeout=10)
    assert proc.returncode == 0 and err == b""
    assert out == run("-j", "1", str(big)).stdout


def test_gzip_file(big, tmp_path):
    import gzip

    packed = tmp_path / "replicas.pcapng.gz"
    packed.write_bytes(gzip.compress(big.read_bytes(), 1))
    assert run("-j", "2", str(packed)).stdout == run("-j", "1", str(big)).stdout
