"""The `p2p` lab: a libtorrent DHT swarm, opentracker and a libtorrent seeder.

The peers are the ones the course compares `netlab dht-lookup` and `netlab torrent`
with: libtorrent (Debian's python3-libtorrent, run by /usr/bin/python3 through
`tests/lt_client.py`), curl against the tracker, aria2c downloading from the seeder.
The swarm's state file gives every node's true id, so a test knows the k closest
nodes to any target.

Every wait is bounded: lt_client's --timeout, aria2c's --bt-stop-timeout under
`timeout`, curl's -m, socket timeouts.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import struct
import subprocess
from pathlib import Path

import pytest

from netlab.errors import NetlabError
from netlab.lab.services import dht_swarm_node, torrent
from netlab.lab.services.dht import ANNOUNCE, DhtSwarmService, endpoints, krpc_ping
from netlab.lab.services.seeder import PYTHON, SeederService
from netlab.lab.services.tracker import TrackerService
from netlab.lab.topology import parse_topology
from tests.conftest import ROOT

P2P = (ROOT / "labs" / "p2p.toml").read_text()
LT_CLIENT = ROOT / "tests" / "lt_client.py"
CLIENT = "198.18.17.100"  # labs/p2p.toml


def require_libtorrent() -> None:
    """Debian's python3-libtorrent, importable by /usr/bin/python3 (a skip, which
    CI=true turns into a failure)."""
    if not Path(PYTHON).exists():
        pytest.skip(f"needs {PYTHON} with python3-libtorrent (`make test`)")
    out = subprocess.run([PYTHON, "-c", "import libtorrent"], capture_output=True, timeout=30)
    if out.returncode:
        pytest.skip("needs Debian's python3-libtorrent for /usr/bin/python3 (`make test`)")


def p2p_lab(lab, *tools: str):
    require_libtorrent()
    return lab("p2p", tools=tools)


def services(handle) -> dict[str, dict]:
    return {f"{s['node']}-{s['service']}": s for s in handle.status()["services"]}


def lt_client(handle, *args: str, timeout: float = 20.0) -> dict:
    """tests/lt_client.py in the client node; its JSON answer."""
    out = handle.exec("client", PYTHON, "-W", "ignore::DeprecationWarning", str(LT_CLIENT),
                      *args, "--timeout", str(timeout), timeout=timeout + 15)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def xor(a: str, b: str) -> int:
    return int(a, 16) ^ int(b, 16)


# ---------------------------------------------------------------------------
# The DHT swarm


def test_swarm_state_and_libtorrent_lookup_from_the_client(lab):
    p2p = p2p_lab(lab)
    svc = services(p2p)
    swarm = svc["swarm-dht-swarm"]
    assert all(s["health"] == "healthy" for s in svc.values()), svc
    assert swarm["nodes"] == 64 and swarm["info_hash"] == ANNOUNCE
    assert swarm["bootstrap"] == "198.18.17.10:6881" and swarm["bootstrap_name"] == "swarm:6881"
    assert swarm["ports"] == [6881, 6882, 6883, 6884]

    # The state file: every node, its true id (BEP 42-valid for its address: libtorrent
    # kept the id the swarm gave it), the announce made and checked.
    state = json.loads(Path(swarm["state"]).read_text())
    assert state["converged"] and state["count"] == 64 and state["k"] == 8
    nodes = state["nodes"]
    assert [n["addr"] for n in nodes] == [f"{h}:{p}" for h, p in
                                          endpoints(swarm["addresses"], 64, 6881)]  # fmt: skip
    ids = [n["node_id"] for n in nodes]
    assert len(set(ids)) == 64 and all(len(i) == 40 for i in ids)
    for n in nodes:
        assert dht_swarm_node.bep42_valid(bytes.fromhex(n["node_id"]), n["ip"]), n
        assert n["routing_table"] >= state["k"], n
    announce = state["announce"]
    assert announce["peer"] == swarm["announced_peer"] == "198.18.17.25:6884"
    assert announce["verified_s"] is not None and announce["incoming_announces"] >= 1
    # Where Kademlia puts the peer: the k nodes closest to the info-hash by XOR (the
    # announcer never announces to itself), computed here from the true ids.
    closest = sorted((n["index"] for n in nodes if n["index"] != announce["by"]),
                     key=lambda i: xor(ids[i], ANNOUNCE))[:8]  # fmt: skip
    assert announce["closest"] == closest
    assert set(closest) <= set(announce["stored_by"]), announce
    assert state["bootstrap"] == swarm["bootstrap"]

    # A KRPC ping (read-only) from the client gets the bootstrap node's answer.
    assert krpc_ping(p2p.netns("client"), "198.18.17.10", 6881)

    # libtorrent in the client node, bootstrapped from the swarm's node 0, finds the
    # announced peer with get_peers.
    found = lt_client(p2p, "get-peers", "--bind", f"{CLIENT}:6881",
                      "--bootstrap", swarm["bootstrap"], "--info-hash", ANNOUNCE)  # fmt: skip
    assert announce["peer"] in found["peers"], found
    assert found["routing_table"] >= 1


def test_swarm_answers_sample_infohashes(lab):
    p2p = p2p_lab(lab)
    swarm = services(p2p)["swarm-dht-swarm"]
    state = json.loads(Path(swarm["state"]).read_text())
    # The announce went to the nodes closest to the info-hash: the closest of them
    # gives it among its samples (BEP 51); one far from it knows no info-hash.
    closest = state["nodes"][state["announce"]["closest"][0]]
    far = max(state["nodes"], key=lambda n: xor(n["node_id"], ANNOUNCE))
    assert far["index"] not in state["announce"]["stored_by"]
    for node, expected in ((closest, [ANNOUNCE]), (far, [])):
        answer = lt_client(p2p, "sample", "--bind", f"{CLIENT}:6882", "--bootstrap",
                           swarm["bootstrap"], "--node", node["addr"], "--target", ANNOUNCE,
                           timeout=10)  # fmt: skip
        assert answer["endpoint"] == node["addr"], answer
        assert answer["samples"] == expected and answer["num_infohashes"] == len(expected)
        assert answer["interval"] > 0 and answer["nodes"] >= 1, answer


# ---------------------------------------------------------------------------
# The tracker


def udp_tracker_announce(sock: socket.socket, addr: tuple[str, int], info_hash: str) -> list[str]:
    """BEP 15: connect, then announce (a leecher on port 6999); the compact peers."""
    sock.settimeout(2.0)
    tid = int.from_bytes(os.urandom(4), "big")
    sock.sendto(struct.pack("!QII", 0x41727101980, 0, tid), addr)
    reply = sock.recv(2048)
    action, got_tid, connection_id = struct.unpack("!IIQ", reply[:16])
    assert (action, got_tid) == (0, tid), reply
    tid += 1
    request = struct.pack("!QII20s20sQQQIIIiH", connection_id, 1, tid,
                          bytes.fromhex(info_hash), b"-NL0001-udpudpudpudp",
                          0, 1 << 20, 0, 2, 0, 1234, -1, 6999)  # fmt: skip
    sock.sendto(request, addr)
    reply = sock.recv(2048)
    action, got_tid, _interval, _leechers, seeders = struct.unpack("!IIIII", reply[:20])
    assert (action, got_tid) == (1, tid) and seeders >= 1, reply
    return torrent.compact_peers(reply[20:])


def test_tracker_lists_the_seeder_over_http_and_udp(lab, tmp_path: Path):
    p2p = p2p_lab(lab, "curl")
    svc = services(p2p)
    tracker, seeder = svc["tracker-tracker"], svc["seeder-seeder"]
    assert tracker["announce_url"] == "http://tracker:6969/announce"
    assert seeder["announce"] == tracker["announce_url"]
    assert seeder["peer"] == "198.18.17.3:6881"
    assert seeder["info_hash"] in tracker["info_hashes"] and ANNOUNCE in tracker["info_hashes"]

    def get(url: str) -> bytes:
        out_file = tmp_path / "answer"
        out = p2p.exec("client", "curl", "-sS", "-m", "5", "-o", str(out_file), url)
        assert out.returncode == 0, out.stderr
        return out_file.read_bytes()

    query = (f"info_hash={torrent.quote_hash(seeder['info_hash'])}&peer_id=-NL0001-000000000000"
             "&port=6999&uploaded=0&downloaded=0&left=1048576&compact=1&numwant=50")  # fmt: skip
    answer = torrent.bdecode(get(f"{tracker['announce_url']}?{query}"))
    assert answer[b"complete"] >= 1 and answer[b"interval"] > 0, answer
    assert seeder["peer"] in torrent.compact_peers(answer[b"peers"]), answer

    scrape = get(f"{tracker['scrape_url']}?info_hash={torrent.quote_hash(seeder['info_hash'])}")
    assert torrent.scrape_counts(scrape, seeder["info_hash"])["complete"] >= 1

    # Debian's opentracker answers only for its whitelist.
    other = torrent.quote_hash("00" * 20)
    refused = torrent.bdecode(
        get(f"{tracker['announce_url']}?info_hash={other}&port=6999&left=1&compact=1")
    )
    assert b"not authorized" in refused[b"failure reason"]

    # The UDP tracker on the same port (BEP 15).
    with p2p.socket("client", socket.AF_INET, socket.SOCK_DGRAM) as sock:
        peers = udp_tracker_announce(sock, (p2p.addr("tracker"), 6969), seeder["info_hash"])
    assert seeder["peer"] in peers, peers


# ---------------------------------------------------------------------------
# The seeder


def test_aria2c_downloads_the_seeded_file(lab, tmp_path: Path):
    p2p = p2p_lab(lab, "aria2c", "timeout")
    seeder = services(p2p)["seeder-seeder"]
    data = Path(seeder["file"]).read_bytes()
    assert len(data) == seeder["size"] == 1 << 20
    assert hashlib.sha256(data).hexdigest() == seeder["sha256"]
    out = p2p.exec("client", "timeout", "60", "aria2c", f"--dir={tmp_path}",
                   "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
                   "--enable-peer-exchange=false", "--seed-time=0", "--bt-stop-timeout=30",
                   "--summary-interval=0", "--console-log-level=warn",
                   "--file-allocation=none", seeder["torrent"], timeout=90)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    got = (tmp_path / seeder["name"]).read_bytes()
    assert hashlib.sha256(got).hexdigest() == seeder["sha256"]
    seeder_state = json.loads(Path(seeder["state"]).read_text())
    assert seeder_state["seeding"] and seeder_state["tracker"]["ok"]


# ---------------------------------------------------------------------------
# No root: the topology, the options, the torrent the seeder makes


def test_bundled_p2p_lab_loads_and_orders_its_services():
    from netlab.lab.engine import _services

    topo = parse_topology(P2P, source="p2p.toml")
    order = [(s.ctx.label, s.order()) for s in _services(topo, "p2p", Path("/run/x"))]
    assert order == [("tracker-tracker", 40), ("swarm-dht-swarm", 50), ("seeder-seeder", 50)]
    by_label = {s.ctx.label: s for s in _services(topo, "p2p", Path("/run/x"))}
    swarm = by_label["swarm-dht-swarm"]
    config = swarm.config()
    assert len(config["endpoints"]) == 64 and config["announcer"] == 63
    assert config["endpoints"][0] == ["198.18.17.10", 6881]
    assert config["endpoints"][63] == ["198.18.17.25", 6884]
    assert config["k"] == 8 and config["verifier"] == 0
    (spec,) = topo.nodes["swarm"].services
    assert ("udp", 6881) in DhtSwarmService.listens(spec)
    (tspec,) = topo.nodes["tracker"].services
    assert sorted(TrackerService.listens(tspec)) == [("tcp", 6969), ("udp", 6969)]
    tracker = by_label["tracker-tracker"]
    (sspec,) = topo.nodes["seeder"].services
    assert tracker.info_hashes() == [ANNOUNCE, SeederService.torrent_of(sspec)[1]]
    assert "access.whitelist whitelist.txt" in tracker.config()
    assert "access.stats 198.18.17.100" in tracker.config()


def test_endpoints_spread_sessions_over_addresses():
    assert endpoints(["a", "b"], 5, 6881) == [("a", 6881), ("b", 6881), ("a", 6882),
                                               ("b", 6882), ("a", 6883)]  # fmt: skip
    assert endpoints(["a"], 3, 7000) == [("a", 7000), ("a", 7001), ("a", 7002)]


def refused(old: str, new: str) -> str:
    assert old in P2P
    with pytest.raises(NetlabError) as err:
        parse_topology(P2P.replace(old, new), source="p2p.toml")
    return err.value.message


SWARM = 'services = [{ type = "dht-swarm", nodes = 64, port = 6881 }]'
TRACKER = 'services = [{ type = "tracker", port = 6969 }]'
SEEDER = 'services = [{ type = "seeder", tracker = "tracker", port = 6881, size = 1048576 }]'


@pytest.mark.parametrize(
    ("old", "options", "message"),
    [
        (SWARM, 'type = "dht-swarm", nodes = 1', "nodes must be an integer within 2–256"),
        (SWARM, 'type = "dht-swarm", nodes = 257', "nodes must be an integer within 2–256"),
        (SWARM, 'type = "dht-swarm", announce = "xyz"', "announce must be an info-hash"),
        (SWARM, 'type = "dht-swarm", port = 65535', "pass 65535"),
        (SWARM, 'type = "dht-swarm", seed = "a"', "seed must be an integer"),
        (SWARM, 'type = "dht-swarm", peers = 3', "unknown option 'peers'"),
        (TRACKER, 'type = "tracker", port = 0', "port must be an integer within 1–65535"),
        (TRACKER, 'type = "tracker", info_hashes = ["ab"]', "info_hashes must be a list"),
        (SEEDER, 'type = "seeder", tracker = "client"', "node 'client' has no tracker service"),
        (SEEDER, 'type = "seeder", tracker = "nowhere"', "'nowhere' is not a node of this lab"),
        (SEEDER, 'type = "seeder", size = 10', "size must be a number of bytes"),
        (SEEDER, 'type = "seeder", piece_length = 20000', "piece_length must be a power of two"),
        (SEEDER, 'type = "seeder", name = "../x"', "name must be a file name"),
        (TRACKER, 'type = "tcp"', "tracker: node 'tracker' has no tracker service"),
    ],
)
def test_bad_p2p_options_are_refused(old, options, message):
    got = refused(old, f"services = [{{ {options} }}]")
    assert got.startswith("p2p.toml:") and message in got, got


def test_a_large_swarm_claims_its_ports():
    clash = SWARM.replace("nodes = 64", "nodes = 256")
    text = P2P.replace(SWARM, clash.replace("}]", '}, { type = "tracker", port = 7000 }]'))
    with pytest.raises(NetlabError, match="listens on tcp/7000"):
        parse_topology(text, source="p2p.toml")


def test_bencode_round_trip_and_strictness():
    value = {"b": [1, -2, b"x"], "a": {"n": 0}, "s": "é"}
    data = torrent.bencode(value)
    assert data == b"d1:ad1:ni0ee1:bli1ei-2e1:xe1:s2:\xc3\xa9e"
    assert torrent.bdecode(data) == {b"a": {b"n": 0}, b"b": [1, -2, b"x"], b"s": "é".encode()}
    for bad in (b"i-0e", b"i03e", b"ie", b"5:ab", b"li1e", b"d1:ae", b"i1ei2e", b"x"):
        with pytest.raises(ValueError, match="bencode"):
            torrent.bdecode(bad)
    with pytest.raises(ValueError, match="nested deeper"):
        torrent.bdecode(b"l" * 100 + b"e" * 100)
    assert torrent.compact_peers(bytes([198, 18, 17, 3, 0x1A, 0xE1])) == ["198.18.17.3:6881"]


def test_krpc_ping_and_bep42_ids():
    # The readiness probe's query is canonical bencode: keys sorted, ro = 1 (BEP 43).
    query = b"d1:ad2:id20:netlab-probe-0000000e1:q4:ping2:roi1e1:t2:nl1:y1:qe"
    doc = torrent.bdecode(query)
    assert torrent.bencode(doc) == query and doc[b"ro"] == 1
    # CRC-32C's check value, and an id libtorrent 2.0.8 chose itself for 198.18.17.25.
    assert dht_swarm_node.crc32c(b"123456789") == 0xE3069283
    libtorrent_id = bytes.fromhex("ae4486b687bf6dd6bcc2cafc58543b87d5436ccc")
    assert dht_swarm_node.bep42_valid(libtorrent_id, "198.18.17.25")
    assert not dht_swarm_node.bep42_valid(libtorrent_id, "198.18.17.24")
    import random

    rng = random.Random(5)
    for ip in ("198.18.17.10", "198.51.100.7", "203.0.113.200"):
        assert dht_swarm_node.bep42_valid(dht_swarm_node.bep42_id(ip, rng), ip)


def test_the_seeders_torrent_is_what_libtorrent_reads(tmp_path: Path):
    require_libtorrent()
    topo = parse_topology(P2P, source="p2p.toml")
    (spec,) = topo.nodes["seeder"].services
    meta, info_hash, sha256 = SeederService.torrent_of(spec, topo)
    data = torrent.payload("netlab-p2p.bin", 1 << 20)
    assert hashlib.sha256(data).hexdigest() == sha256
    assert data == torrent.payload("netlab-p2p.bin", 1 << 20)  # fixed bytes
    path = tmp_path / "x.torrent"
    path.write_bytes(meta)
    script = ("import json, sys, libtorrent as lt; ti = lt.torrent_info(sys.argv[1]); "
              "print(json.dumps([str(ti.info_hash()), ti.total_size(), ti.piece_length(), "
              "ti.num_pieces(), ti.name(), [t.url for t in ti.trackers()]]))")  # fmt: skip
    out = subprocess.run([PYTHON, "-W", "ignore", "-c", script, str(path)],
                         capture_output=True, text=True, timeout=30)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [info_hash, 1 << 20, 16384, 64, "netlab-p2p.bin",
                                      ["http://tracker:6969/announce"]]  # fmt: skip
