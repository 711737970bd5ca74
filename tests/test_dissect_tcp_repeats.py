"""Segments TCP sends again: what the layers above them get, as tshark decides it.

Wireshark hands a segment flagged as a retransmission, a spurious retransmission or an
out-of-order segment to no dissector at all, not even "data"
(tcp.no_subdissector_on_error, on by default): frame.protocols ends at tcp and a plain
retransmission's bytes are "Retransmitted TCP segment data" (tcp.segment_data). A fast
retransmission and a keep-alive still go to the dissectors. netlab showed all of them as
data (a live TLS recording with one kernel retransmission then differed from tshark).

The captures: the recorded samples with every data segment sent twice, and one made
conversation with each kind of repeat.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import ROOT, netlab_bin, require_tool

FIELDS = (
    "frame.number", "frame.protocols", "tcp.segment_data", "data.data",
    "tcp.analysis.retransmission", "tcp.analysis.spurious_retransmission",
    "tcp.analysis.out_of_order", "tcp.analysis.fast_retransmission",
    "tcp.analysis.keep_alive",
)  # fmt: skip
RECORDED = ["tls.pcapng", "http.pcapng", "rtmp.pcapng", "ftp.pcapng", "tcp-udp.pcap"]


def fields(tool: list[str], path) -> list[str]:
    args = [arg for name in FIELDS for arg in ("-e", name)]
    out = subprocess.run([*tool, "-r", str(path), "-T", "fields", *args], capture_output=True,
                         text=True, check=True, timeout=60).stdout  # fmt: skip
    return out.splitlines()


def agree_with_tshark(path) -> list[str]:
    theirs = fields([require_tool("tshark"), "-n"], path)
    ours = fields([netlab_bin(), "dissect"], path)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert a == b, f"netlab {a!r} != tshark {b!r}"
    return theirs


def sent_twice(src, dst) -> None:
    """SRC with every TCP segment that carries data followed by a copy 0.1 ms later."""
    from scapy.all import TCP, rdpcap, wrpcap

    out = []
    for pkt in rdpcap(str(src)):
        out.append(pkt)
        if TCP in pkt and len(pkt[TCP].payload):
            copy = pkt.copy()
            copy.time = pkt.time + 0.0001
            out.append(copy)
    wrpcap(str(dst), out)


@pytest.mark.parametrize("name", RECORDED)
def test_segments_sent_twice_reach_no_dissector(name, tmp_path):
    path = tmp_path / f"{name}-twice.pcap"
    sent_twice(ROOT / "pcaps" / name, path)
    rows = [line.split("\t") for line in agree_with_tshark(path)]
    repeats = [r for r in rows if r[4] == "1"]
    assert repeats, "no retransmission in the capture: the test would prove nothing"
    assert all(r[1].endswith(":tcp") and r[2] and not r[3] for r in repeats)


def every_kind_of_repeat(path) -> None:
    """One conversation: a retransmission (RTO), a spurious one (already acked), an
    out-of-order segment, a fast retransmission after three duplicate ACKs, a keep-alive."""
    from scapy.all import IP, TCP, Ether, Raw, wrpcap

    client, server = ("198.18.0.1", 40000), ("198.18.0.2", 5555)
    data = b"hello world\r\n"
    n = len(data)
    frames, clock = [], [1000.0]

    def seg(src, dst, flags, seq, ack, payload=b"", after=0.01):
        clock[0] += after
        pkt = Ether() / IP(src=src[0], dst=dst[0]) / TCP(sport=src[1], dport=dst[1],
                                                         flags=flags, seq=seq, ack=ack,
                                                         window=5000)  # fmt: skip
        pkt = pkt / Raw(payload) if payload else pkt
        pkt.time = clock[0]
        frames.append(pkt)

    c, s = 1001, 5001
    seg(client, server, "S", c - 1, 0)
    seg(server, client, "SA", s - 1, c)
    seg(client, server, "A", c, s)
    seg(client, server, "PA", c, s, data)  # 4
    seg(client, server, "PA", c, s, data, after=0.3)  # 5 retransmission
    seg(server, client, "A", s, c + n)
    seg(client, server, "PA", c, s, data, after=0.3)  # 7 spurious retransmission
    c += n
    seg(client, server, "PA", c + n, s, data)  # 8 (the segment before it not seen yet)
    seg(client, server, "PA", c, s, data, after=0.001)  # 9 out of order
    c += 2 * n
    seg(server, client, "A", s, c)
    seg(client, server, "PA", c, s, data)
    seg(client, server, "PA", c + n, s, data, after=0.001)
    for _ in range(3):
        seg(server, client, "A", s, c, after=0.001)  # duplicate ACKs
    seg(client, server, "PA", c, s, data, after=0.001)  # 16 fast retransmission
    c += 2 * n
    seg(server, client, "A", s, c)
    seg(client, server, "A", c - 1, s, b"\0", after=1)  # 18 keep-alive
    seg(server, client, "A", s, c)
    wrpcap(str(path), frames)


def test_each_kind_of_repeat_as_tshark_shows_it(tmp_path):
    path = tmp_path / "repeats.pcap"
    every_kind_of_repeat(path)
    rows = {int(r[0]): r for r in (line.split("\t") for line in agree_with_tshark(path))}
    # what the made capture holds, as tshark flags it: each kind once
    kinds = {4: 5, 5: 7, 6: 9, 7: 16, 8: 18}  # FIELDS index -> frame
    for column, frame in kinds.items():
        assert rows[frame][column] == "1" or (column == 5 and rows[frame][4] == "1"), frame
    assert [rows[f][1].rsplit(":", 1)[1] for f in (5, 7, 9, 16, 18)] == [
        "tcp", "tcp", "tcp", "data", "data"]  # fmt: skip


def test_tree_names_the_retransmitted_bytes(tmp_path):
    path = tmp_path / "repeats.pcap"
    every_kind_of_repeat(path)
    tree = subprocess.run([netlab_bin(), "dissect", "-V", "--packet", "5", str(path)],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    theirs = subprocess.run([require_tool("tshark"), "-n", "-V", "-r", str(path), "-Y",
                             "frame.number == 5"], capture_output=True, text=True,
                            check=True).stdout  # fmt: skip
    line = "    Retransmitted TCP segment data (13 bytes)"
    assert line in tree.splitlines() and line in theirs.splitlines()
    assert "\nData (" not in tree


def marks_before_an_application(path, port: int, lines: tuple[bytes, bytes, bytes]) -> None:
    """A conversation on PORT whose capture lost one of the server's segments: the
    client's next segment ACKs it unseen, the server's next one follows a gap."""
    from scapy.all import IP, TCP, Ether, Raw, wrpcap

    client, server = ("198.18.0.1", 40000), ("198.18.0.2", port)
    frames = []

    def seg(t, src, dst, seq, ack, payload=b""):
        pkt = Ether() / IP(src=src[0], dst=dst[0]) / TCP(sport=src[1], dport=dst[1],
                                                         flags="PA" if payload else "A",
                                                         seq=seq, ack=ack)  # fmt: skip
        pkt = pkt / Raw(payload) if payload else pkt
        pkt.time = t
        frames.append(pkt)

    hello, lost, reply = lines
    c, s = 1001, 5001
    syn = TCP(sport=client[1], dport=server[1], flags="S", seq=c - 1)
    synack = TCP(sport=server[1], dport=client[1], flags="SA", seq=s - 1, ack=c)
    frames.append(Ether() / IP(src=client[0], dst=server[0]) / syn)
    frames.append(Ether() / IP(src=server[0], dst=client[0]) / synack)
    seg(1.0, client, server, c, s)
    seg(1.1, server, client, s, c, hello)
    s += len(hello) + len(lost)  # (the lost segment: never in the capture)
    seg(1.2, client, server, c, s, b"QUIT\r\n")  # ACKs the unseen segment
    seg(1.3, server, client, s, c + 6, reply)  # after the gap
    for i, pkt in enumerate(frames):
        pkt.time = pkt.time if i > 1 else 0.5 + i / 10
    wrpcap(str(path), frames)


def test_analysis_marks_stay_before_the_application_info(tmp_path):
    """tshark puts TCP's marks in front of the Info column whoever writes it after
    (col_prepend_fence): "[TCP ACKed unseen segment] Request: QUIT"; netlab did only for
    TCP's own info (found by a capture tcpdump had dropped a segment from)."""
    path = tmp_path / "gap-ftp.pcap"
    marks_before_an_application(path, 21, (b"220 ready\r\n", b"230 Logged in.\r\n",
                                           b"221 Goodbye.\r\n"))  # fmt: skip
    theirs = subprocess.run([require_tool("tshark"), "-n", "-r", str(path), "-T", "fields", "-e",
                             "_ws.col.Info"], capture_output=True, text=True,
                            check=True).stdout  # fmt: skip
    assert "[TCP ACKed unseen segment] Request: QUIT" in theirs
    assert "[TCP Previous segment not captured] Response: 221 Goodbye." in theirs
    for view in ((), ("-Y", "frame"), ("-j", "1")):  # the shortcut, the full decode
        ours = subprocess.run([netlab_bin(), "dissect", *view, "-r", str(path), "-T", "fields",
                               "-e", "_ws.col.Info"], capture_output=True, text=True,
                              check=True).stdout  # fmt: skip
        assert ours == theirs, view
    lines_ours = subprocess.run([netlab_bin(), "dissect", str(path)], capture_output=True,
                                text=True, check=True).stdout  # fmt: skip
    assert "[TCP ACKed unseen segment] " in lines_ours
