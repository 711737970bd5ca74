"""`netlab dht-lookup` in the `p2p` lab: a swarm of 64 libtorrent DHT nodes whose ids the
test knows (the swarm's state file), one of them announcing an info-hash; libtorrent
itself (tests/lt_client.py, run by Debian's python3) is the peer netlab is compared with."""

from __future__ import annotations

import itertools
import json
import math
import os
import socket
from pathlib import Path

import pytest

from netlab.wire import bencode, krpc
from tests.labfixtures import lab  # noqa: F401  (the fixture)

pytestmark = pytest.mark.lab
LT_CLIENT = str(Path(__file__).with_name("lt_client.py"))


def _state(p2p) -> dict:
    return json.loads(
        (p2p.book.run_dir / "services" / "swarm-dht-swarm" / "state.json").read_text()
    )


def _lookup(p2p, *args: str) -> dict:
    proc = p2p.exec("client", "netlab", "dht-lookup", "--json", *args, timeout=60)
    assert proc.stdout, proc.stderr
    return json.loads(proc.stdout)


def test_lookup_finds_the_announced_peer_and_the_true_closest_nodes(lab):  # noqa: F811
    p2p = lab("p2p")
    state = _state(p2p)
    target = state["announce"]["info_hash"]
    doc = _lookup(p2p, target, "-b", state["bootstrap"])
    assert state["announce"]["peer"] in doc["peers"], doc["peers"]
    # The k closest nodes netlab reports are the swarm's true k closest to the target.
    ids = {n["addr"]: bytes.fromhex(n["node_id"]) for n in state["nodes"]}
    t = bytes.fromhex(target)
    true_closest = sorted(ids, key=lambda a: krpc.distance(ids[a], t))[:8]
    assert [c["addr"] for c in doc["closest"]] == true_closest
    # About log2 N rounds, and the distance shrinks round by round.
    assert doc["rounds"] <= math.ceil(math.log2(state["count"])) + 2
    best = [int(r["distance"], 16) for r in doc["round_best"]]
    assert all(b <= a for a, b in itertools.pairwise(best)), doc["round_best"]
    assert len(best) == 1 or best[-1] < best[0], "the lookup got closer than its first answer"
    assert min(best) == krpc.distance(ids[true_closest[0]], t)


def test_our_announce_is_seen_by_libtorrent(lab):  # noqa: F811
    p2p = lab("p2p", tools=("/usr/bin/python3",))
    state = _state(p2p)
    target = os.urandom(20).hex()
    doc = _lookup(p2p, target, "-b", state["bootstrap"], "--announce", "7777")
    assert any(a["outcome"] == "ok" for a in doc["announced"]), doc["announced"]
    client = p2p.addr("client")
    proc = p2p.exec(
        "client",
        "/usr/bin/python3",
        LT_CLIENT,
        "get-peers",
        "--bind",
        f"{client}:7001",
        "--bootstrap",
        state["bootstrap"],
        "--info-hash",
        target,
        "--timeout",
        "20",
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"{client}:7777" in json.loads(proc.stdout)["peers"]


def test_a_bad_token_gets_krpc_error_203(lab):  # noqa: F811
    p2p = lab("p2p")
    host, port = _state(p2p)["bootstrap"].rsplit(":", 1)
    sock = p2p.socket("client", socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(3)
    try:
        sock.sendto(
            krpc.query(
                b"zz",
                "announce_peer",
                {
                    "id": os.urandom(20),
                    "info_hash": os.urandom(20),
                    "port": 1234,
                    "token": b"not a token",
                },
            ),
            (host, int(port)),
        )
        reply = bencode.decode(sock.recvfrom(65535)[0], strict=False)
    finally:
        sock.close()
    assert reply[b"y"] == b"e" and reply[b"e"][0] == 203, reply


def test_sample_infohashes_is_answered_by_libtorrent(lab):  # noqa: F811
    p2p = lab("p2p")
    state = _state(p2p)
    target = state["announce"]["info_hash"]
    doc = _lookup(p2p, "--sample", target, "-b", state["bootstrap"])
    assert doc["samples"], doc
    found = {s for entry in doc["samples"] for s in entry["samples"]}
    assert target in found, "the nodes that store the announced hash sample it"
