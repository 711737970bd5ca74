"""`netlab torrent announce` and `netlab torrent peer`: against opentracker (HTTP and
UDP, BEP 3/15) and a libtorrent seeder in the `p2p` lab (one lab for the module), and
against hostile trackers and peers on loopback (tests/hostile_torrent.py): bounded,
one clear line, no traceback."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from netlab.wire import bencode, metainfo
from tests.conftest import ROOT, netlab_bin
from tests.hostile_torrent import PEERS, HttpTracker, Peer, UdpTracker

IH = bytes(range(20)).hex()


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([netlab_bin(), "torrent", *args], capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert "Traceback" not in proc.stderr and len(lines) == 1, proc.stderr
    assert lines[0].startswith("netlab: error: "), proc.stderr
    return lines[0]


# ---------------------------------------------------------------------------
# The p2p lab: opentracker and a libtorrent seeder


@pytest.fixture(scope="module")
def p2p():
    """The `p2p` lab, up once for the module's tests (the lab fixture's way, module-wide)."""
    from tests.labfixtures import module_lab
    from tests.test_lab_p2p import require_libtorrent

    require_libtorrent()
    with module_lab("p2p", "tnet", ("curl", "tshark")) as handle:
        yield handle


def seeder_of(p2p) -> dict:
    return {f"{s['node']}-{s['service']}": s for s in p2p.status()["services"]}["seeder-seeder"]


def lab_netlab(p2p, *args: str, timeout: float = 40) -> subprocess.CompletedProcess:
    return p2p.exec("client", netlab_bin(), "torrent", *args, timeout=timeout)


@pytest.mark.lab
def test_http_and_udp_announce_list_the_seeder(p2p):
    seeder = seeder_of(p2p)
    proc = lab_netlab(p2p, "announce", "--json", seeder["torrent"], "-t",
                      "http://tracker:6969/announce", "-t", "udp://tracker:6969",
                      "--port", "6999", "--timeout", "8")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["info_hash"] == seeder["info_hash"]
    http, udp = doc["trackers"]
    for t in (http, udp):
        assert t["error"] is None and t["failure_reason"] is None, t
        assert seeder["peer"] in t["peers"], t
        assert t["interval"] > 0 and t["complete"] >= 1, t
    assert http["kind"] == "http" and http["http_status"] == 200 and http["compact"]
    assert "compact=1" in http["request"] and "event=started" in http["request"]
    # BEP 15, step by step: connect, then announce with the connection id it gave.
    steps = [(s["direction"], s["action"]) for s in udp["steps"]]
    assert steps == [("sent", "connect"), ("received", "connect"),
                     ("sent", "announce"), ("received", "announce")]  # fmt: skip
    sent_c, got_c, sent_a, got_a = udp["steps"]
    assert sent_c["transaction_id"] == got_c["transaction_id"]
    assert sent_a["transaction_id"] == got_a["transaction_id"]
    assert sent_a["connection_id"] == got_c["connection_id"] is not None
    assert sent_c["bytes"] == 16 and sent_a["bytes"] == 98


@pytest.mark.lab
def test_our_announce_is_what_curl_gets(p2p, tmp_path: Path):
    """The same announce by curl (raw, as the lab's own test does) and by netlab: the
    tracker gives both the seeder, with the same counts."""
    seeder = seeder_of(p2p)
    ih = bytes.fromhex(seeder["info_hash"])
    from urllib.parse import quote_from_bytes

    url = (
        f"http://tracker:6969/announce?info_hash={quote_from_bytes(ih, safe='')}"
        "&peer_id=-CU0001-000000000000&port=7001&uploaded=0&downloaded=0&left=1&compact=1"
    )
    out = tmp_path / "curl.answer"
    proc = p2p.exec("client", "curl", "-sS", "-m", "5", "-o", str(out), url)
    assert proc.returncode == 0, proc.stderr
    raw = bencode.decode(out.read_bytes(), strict=False)
    proc = lab_netlab(p2p, "announce", "--json", seeder["info_hash"], "-t",
                      "http://tracker:6969/announce", "--event", "none", "--left", "1")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (ours,) = json.loads(proc.stdout)["trackers"]
    # opentracker spreads its intervals a little (so clients do not come back at once)
    assert ours["complete"] == raw[b"complete"] >= 1 and ours["interval"] > 0 < raw[b"interval"]
    assert seeder["peer"] in ours["peers"]


@pytest.mark.lab
def test_scrape_counts_the_seeder_over_http_and_udp(p2p):
    seeder = seeder_of(p2p)
    proc = lab_netlab(p2p, "announce", "--json", "--scrape", seeder["info_hash"], "-t",
                      "http://tracker:6969/announce", "-t", "udp://tracker:6969")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    http, udp = json.loads(proc.stdout)["trackers"]
    for t in (http, udp):
        assert t["scrape"] is not None and t["scrape"]["complete"] >= 1, t
    # UDP: the scrape reuses the connection id of the connect.
    connect = udp["steps"][1]["connection_id"]
    assert [s["action"] for s in udp["steps"]][-2:] == ["scrape", "scrape"]
    assert udp["steps"][-2]["connection_id"] == connect


@pytest.mark.lab
def test_opentracker_failure_reason_is_exit_1(p2p):
    proc = lab_netlab(p2p, "announce", "00" * 20, "-t", "http://tracker:6969/announce")
    assert proc.returncode == 1
    assert "failure reason:" in one_error_line(proc)
    assert "not authorized" in proc.stdout


@pytest.mark.lab
def test_peer_greets_the_libtorrent_seeder(p2p, tmp_path: Path):
    seeder = seeder_of(p2p)
    meta = metainfo.parse_torrent(Path(seeder["torrent"]).read_bytes())
    pcap = tmp_path / "peer.pcapng"
    proc = lab_netlab(p2p, "peer", "--json", "seeder:6881", "--torrent", seeder["torrent"],
                      "--interested", "--timeout", "10", "-w", str(pcap))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["completed"] and doc["error"] is None
    assert doc["theirs"]["info_hash"] == seeder["info_hash"] == doc["info_hash"]
    assert "extension_protocol" in doc["theirs"]["reserved_bits"]
    # libtorrent names itself in its peer id (-LT2080-) and in v ("libtorrent 2.0.8")
    client = doc["client"]["peer_id"]
    assert client.startswith("libtorrent ") and client.split()[1][0].isdigit(), doc["client"]
    assert doc["client"]["v"].startswith("libtorrent"), doc["client"]
    assert client.split()[1] in doc["client"]["v"], doc["client"]
    ext = doc["extension_handshake"]
    assert "ut_metadata" in ext["m"] and ext["yourip"] == p2p.addr("client")
    assert ext["metadata_size"] == meta.info_span[1] - meta.info_span[0]
    # a seeder: every piece (64 of 64 for the lab's 1 MiB file in 16 KiB pieces)
    assert doc["pieces"]["of"] == meta.pieces == 64
    assert doc["pieces"]["have"] == 64, doc["pieces"]
    assert doc["unchoked"] is True
    # tshark's BitTorrent dissector reads the same handshake, messages and bitfield
    # from the capture (-w).
    tshark = subprocess.run(
        ["tshark", "-r", str(pcap), "-d", "tcp.port==6881,bittorrent", "-Y",
         f"bittorrent and ip.src=={p2p.addr('seeder')}", "-T", "fields", "-e",
         "bittorrent.info_hash", "-e", "bittorrent.peer_id", "-e", "bittorrent.reserved",
         "-e", "bittorrent.msg.type", "-e", "bittorrent.msg.bitfield"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert tshark.returncode == 0, tshark.stderr
    rows = [line.split("\t") for line in tshark.stdout.splitlines()]
    hs = next(r for r in rows if r[0])
    theirs = doc["theirs"]
    assert [hs[0], hs[1], hs[2]] == [theirs["info_hash"], theirs["peer_id"], theirs["reserved"]]
    types = [int(t) for r in rows for t in r[3].split(",") if t]
    ids = {"extended handshake": 20, "bitfield": 5, "unchoke": 1, "choke": 0, "have": 4,
           "port": 9, "have all": 14, "allowed fast": 17}  # fmt: skip
    got = [m["name"] for m in doc["messages"] if m["direction"] == "received"]
    assert got[0] == "handshake"
    ours = [ids[name] for name in got[1:]]
    assert ours and types[: len(ours)] == ours, (types, ours)
    assert doc["pieces"]["bitfield"] in [r[4] for r in rows]


@pytest.mark.lab
def test_peer_with_a_wrong_info_hash_is_refused(p2p):
    proc = lab_netlab(p2p, "peer", "seeder:6881", "--info-hash", "ab" * 20)
    assert proc.returncode == 1
    line = one_error_line(proc)
    assert "closed the connection" in line and "handshake" in line, line


# ---------------------------------------------------------------------------
# Loopback: hostile and well-behaved stand-ins


def test_loopback_http_and_udp_trackers_and_scrape():
    with HttpTracker("peers") as h, UdpTracker("ok") as u:
        proc = run("announce", "--json", IH, "-t", f"http://127.0.0.1:{h.port}/announce",
                   "-t", f"udp://127.0.0.1:{u.port}", "--scrape", "--numwant", "5")  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)
        want = [f"{a}:{p}" for a, p in PEERS]
        assert doc["peers"] == want
        http, udp = doc["trackers"]
        assert http["peers"] == udp["peers"] == want
        assert http["scrape"] == udp["scrape"] == {"complete": 2, "downloaded": 7,
                                                   "incomplete": 0}  # fmt: skip
        head = h.seen[0].decode()
        assert head.startswith("GET /announce?info_hash=%00%01%02") and "numwant=5" in head
        assert b"GET /scrape?info_hash=%00%01" in h.seen[1]
        assert len(u.seen) == 3  # connect, announce, scrape: one connection id


def test_loopback_dictionary_peers():
    with HttpTracker("dict-peers") as h:
        proc = run("announce", "--json", IH, "-t", f"http://127.0.0.1:{h.port}/announce")
    assert proc.returncode == 0, proc.stderr
    (t,) = json.loads(proc.stdout)["trackers"]
    assert t["compact"] is False and t["peers_ignored"] == 1
    assert t["peer_ids"]["127.0.0.5:6881"] == b"-LT2080-hostile00001".hex()


@pytest.mark.parametrize(
    "mode, words",
    [
        ("failure", "failure reason: torrent not registered"),
        ("garbage", "not a bencoded answer"),
        ("html-404", "HTTP 404 Not Found"),
    ],
)
def test_hostile_http_tracker_is_one_line_exit_1(mode, words):
    with HttpTracker(mode) as h:
        proc = run("announce", IH, "-t", f"http://127.0.0.1:{h.port}/announce", "--timeout", "3")
    assert proc.returncode == 1
    assert words in one_error_line(proc)


@pytest.mark.parametrize(
    "mode, words",
    [
        ("wrong-tid", "datagram(s) ignored: transaction id"),
        ("garbage", "datagram(s) ignored: not BEP 15"),
        ("error", "failure reason: unregistered torrent"),
        ("silent", "timeout: no answer to connect in 1.2 s"),
    ],
)
def test_hostile_udp_tracker_is_bounded(mode, words):
    with UdpTracker(mode) as u:
        proc = run("announce", IH, "-t", f"udp://127.0.0.1:{u.port}", "--timeout", "1.2")
    assert proc.returncode == 1
    assert words in one_error_line(proc)
    if mode in ("wrong-tid", "silent"):
        # BEP 15's doubling retransmission, scaled to --timeout: at 0, 0.3 and 0.9 s
        assert len(u.seen) == 3, u.seen


def test_udp_tracker_that_is_not_there_is_refused():
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = run("announce", IH, "-t", f"udp://127.0.0.1:{port}", "--timeout", "3")
    assert proc.returncode == 1
    assert "refused" in one_error_line(proc)


def test_loopback_peer_greeting_and_have_all():
    with Peer("have-all") as p:
        proc = run("peer", "--json", f"127.0.0.1:{p.port}", "--info-hash", IH, "--fast")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["theirs"]["reserved_bits"] == ["extension_protocol", "dht", "fast"]
    assert doc["ours"]["reserved_bits"] == ["extension_protocol", "fast"]
    assert doc["pieces"]["how"] == "have all" and doc["dht_port"] == 6881
    assert doc["extension_handshake"]["m"] == {"ut_metadata": 2, "ut_pex": 1}
    # our extension handshake went out (the peer had set the bit): m empty, v netlab
    ours = bencode.decode(p.seen[1][6:], strict=False)
    assert ours[b"m"] == {} and ours[b"v"].startswith(b"netlab")


@pytest.mark.parametrize(
    "mode, words",
    [
        ("huge-length", "message length 4294967295 over the limit of 1048576 bytes"),
        ("bad-pstr", "protocol string"),
        ("wrong-hash", "answered for info-hash 0000000000000000000000000000000000000000"),
        ("close", "closed the connection without a handshake"),
        ("silent", "timeout: the peer's handshake did not come in 1 s"),
    ],
)
def test_hostile_peer_is_bounded(mode, words):
    with Peer(mode) as p:
        proc = run("peer", f"127.0.0.1:{p.port}", "--info-hash", IH, "--timeout", "1")
    assert proc.returncode == 1, proc.stdout
    assert words in one_error_line(proc)


@pytest.mark.parametrize(
    "args, words",
    [
        (("announce", "xyz"), "cannot read xyz"),
        (("announce", IH), "no tracker in it"),
        (("announce", IH, "-t", "ftp://x/announce"), "netlab speaks http://, https:// and udp://"),
        (("announce", IH, "-t", "udp://host/announce"), "needs a port"),
        (("announce", IH, "-t", "http://a/announce", "--peer-id", "x" * 21), "at most 20"),
        (("peer", "127.0.0.1:1"), "one of --info-hash"),
        (("peer", "127.0.0.1", "--info-hash", IH), "expected HOST:PORT"),
        (("peer", "127.0.0.1:1", "--info-hash", "abc"), "info-hash is 40 hex digits"),
    ],
)
def test_bad_input_is_exit_2(args, words):
    proc = run(*args)
    assert proc.returncode == 2
    assert words in one_error_line(proc)


def test_help_lists_announce_and_peer():
    out = subprocess.run([netlab_bin(), "torrent", "--help"], capture_output=True, text=True,
                         timeout=30, cwd=ROOT)  # fmt: skip
    assert "announce" in out.stdout and "peer" in out.stdout


# ---------------------------------------------------------------------------
# The cores alone (sans-I/O): fake time, bytes in, actions out


def _udp_core(timeout: float = 4.0, scrape: bool = False):
    from itertools import count

    from netlab.core import bt_tracker

    tids = count(0x100)
    params = bt_tracker.AnnounceParams(bytes(20), b"-NL0100-000000000000", timeout=timeout,
                                       scrape=scrape)  # fmt: skip
    tracker = bt_tracker.parse_tracker_url("udp://t:6969")
    core = bt_tracker.TrackerAnnounce([tracker], {"t": "127.0.0.1"}, params,
                                      random=lambda n: next(tids).to_bytes(n, "big"))  # fmt: skip
    return core


def test_udp_core_retransmits_on_a_doubling_schedule_within_the_timeout():
    from netlab.core.base import NS, Datagram, Open

    core = _udp_core(timeout=4.0)
    first = core.start(0)
    assert isinstance(first[0], Open) and isinstance(first[1], Datagram)
    sent = [0]
    now = 0
    for _ in range(20):
        now = core.deadline()
        acts = core.on_timer(now)
        if core.done():
            break
        assert [a.data for a in acts] == [first[1].data]  # the same request, the same tid
        sent.append(now)
    # a quarter of --timeout, then doubling: 0, 1 s, 3 s; the run ends at 4 s
    assert sent == [0, 1 * NS, 3 * NS] and now == 4 * NS
    (r,) = core.results
    assert r.error.endswith("timeout: no answer to connect in 4 s")
    assert [s.attempt for s in r.steps] == [1, 2, 3]


def test_udp_core_ignores_a_wrong_tid_and_reuses_the_connection_id():
    from netlab.wire import udp_tracker as ut

    core = _udp_core(scrape=True)
    core.start(0)
    conn = ("udp", 0)
    assert core.on_datagram(conn, ut.build_connect_response(0x999, 7), ("127.0.0.1", 6969), 1) == []
    (announce,) = core.on_datagram(
        conn, ut.build_connect_response(0x100, 7), ("127.0.0.1", 6969), 2
    )
    req = ut.parse_request(announce.data)
    assert req.connection_id == 7 and req.transaction_id == 0x101 and req.event == ut.STARTED
    reply = ut.build_announce_response(0x101, 60, 1, 2, [("10.0.0.1", 1)])
    (scrape,) = core.on_datagram(conn, reply, ("127.0.0.1", 6969), 3)
    assert ut.parse_request(scrape.data).connection_id == 7
    core.on_datagram(conn, ut.build_scrape_response(0x102, [ut.ScrapeEntry(2, 3, 1)]), (), 4)
    (r,) = core.results
    assert core.done() and r.peers == [("10.0.0.1", 1)] and r.scrape.downloaded == 3
    assert r.ignored == 1 and "transaction id 0x00000999" in r.ignored_reasons[0]


def test_peer_core_cuts_the_stream_anywhere():
    from netlab.core.base import Connected
    from netlab.core.bt_peer import PeerGreeting, PeerOptions
    from netlab.wire import peerwire as pw

    ih = bytes(range(20))
    stream = (
        pw.build_handshake(ih, b"-qB4650-abcdefghijkl")
        + pw.build_extension_handshake({"ut_pex": 1}, v="qBittorrent/4.6.5", p=8999)
        + pw.build_bitfield([True] * 12 + [False] * 4)
    )
    for size in (1, 3, 7, 68, 500):
        core = PeerGreeting("127.0.0.1", 1, PeerOptions(ih, b"-NL0100-000000000000",
                                                        num_pieces=16))  # fmt: skip
        core.start(0)
        core.on_connected("peer", Connected(("127.0.0.1", 2), ("127.0.0.1", 1)), 1)
        for i in range(0, len(stream), size):
            core.on_data("peer", stream[i : i + size], 2 + i)
        r = core.result
        assert core.done() and r.completed and r.error is None, (size, r.error)
        assert r.extension.p == 8999 and r.pieces(16) == 12
        assert pw.client_from_peer_id(r.theirs.peer_id) == "qBittorrent 4.6.5"


def test_peer_core_flags_a_bitfield_with_spare_bits_set():
    from netlab.core.base import Connected
    from netlab.core.bt_peer import PeerGreeting, PeerOptions
    from netlab.wire import peerwire as pw

    ih = bytes(20)
    core = PeerGreeting("127.0.0.1", 1, PeerOptions(ih, b"-NL0100-000000000000", num_pieces=12))
    core.start(0)
    core.on_connected("peer", Connected(("127.0.0.1", 2), ("127.0.0.1", 1)), 1)
    core.on_data("peer", pw.build_handshake(ih, bytes(20), bytes(8)), 2)
    core.on_data("peer", pw.build_bitfield([True] * 16), 3)  # 4 bits past piece 11
    r = core.result
    assert core.done() and r.completed and r.pieces(12) == 12
    assert "spare bits" in r.bitfield_note
