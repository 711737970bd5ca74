"""The DHT's wire formats (bencode, KRPC) and `netlab dht-lookup` against hostile nodes
on loopback (the libtorrent swarm is in tests/test_lab_p2p_lookup.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from netlab.wire import bencode, krpc
from tests.hostile_dht import HostileDhtNode

NETLAB = [sys.executable, "-m", "netlab", "dht-lookup"]
HASH = "0123456789abcdef0123456789abcdef01234567"


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*NETLAB, *args], capture_output=True, text=True, timeout=timeout)


# --- bencode ------------------------------------------------------------------------------------
def test_bencode_round_trip_and_canonical_form():
    value = {
        b"announce": b"http://t/",
        b"info": {b"length": 5, b"name": b"x", b"n": -3},
        b"list": [1, b"two", [b""]],
    }
    data = bencode.encode(value)
    assert data == (
        b"d8:announce9:http://t/4:infod6:lengthi5e1:ni-3e4:name1:xe4:listli1e3:twol0:eee"
    )
    assert bencode.decode(data) == value


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"i03e", "non-canonical integer"),
        (b"i-0e", "non-canonical integer"),
        (b"ie", "bad integer"),
        (b"02:ab", "non-canonical string length"),
        (b"5:ab", "only 2 left"),
        (b"d1:b1:x1:a1:ye", "keys not sorted"),
        (b"d1:a1:x1:a1:ye", "duplicate key"),
        (b"l" * 100_000, "nested deeper than 64"),
        (b"2147483648:x", "only 1 left"),
        (b"i1ei2e", "bytes after the value"),
        (b"x", "unexpected byte"),
    ],
)
def test_bencode_refuses_with_a_reason(data, message):
    with pytest.raises(bencode.BencodeError, match=message):
        bencode.decode(data)


def test_bencode_tree_keeps_offsets():
    tree = bencode.decode_tree(b"d3:keyli7eee")
    key, value = tree.items[0]
    assert (tree.start, tree.end) == (0, 12)
    assert (key.value, key.start, key.end) == (b"key", 1, 6)
    assert (value.kind, value.start, value.end, value.items[0].value) == ("list", 6, 11, 7)


# --- KRPC ---------------------------------------------------------------------------------------
def test_krpc_response_with_nodes_and_peers():
    nodes = [krpc.NodeInfo(bytes([i]) * 20, f"198.18.60.{i}", 6881 + i) for i in range(1, 4)]
    raw = bencode.encode(
        {
            "t": b"aa",
            "y": "r",
            "r": {
                "id": b"\x07" * 20,
                "token": b"tok",
                "nodes": b"".join(map(krpc.pack_node, nodes)),
                "values": [krpc.pack_peer("198.18.60.9", 51413)],
            },
        }
    )
    m = krpc.parse(raw)
    assert m.kind == "r" and m.node_id == b"\x07" * 20 and m.token == b"tok"
    assert m.nodes == nodes and m.peers == [("198.18.60.9", 51413)] and m.ignored == 0


def test_krpc_lying_compact_length_is_counted_not_trusted():
    m = krpc.parse(
        bencode.encode({"t": b"a", "y": "r", "r": {"id": b"\1" * 20, "nodes": b"\1" * 27}})
    )
    assert len(m.nodes) == 1 and m.ignored == 1


def test_xor_distance_and_bucket():
    a = bytes(20)
    assert krpc.bucket(a, bytes.fromhex("80" + "00" * 19)) == 0
    assert krpc.bucket(a, bytes.fromhex("00" * 19 + "01")) == 159
    assert krpc.bucket(a, a) == 160


# --- hostile nodes --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "script", ["deep", "huge-string", "many-nodes", "lying-compact", "only-itself", "error"]
)
def test_hostile_node_is_bounded_counted_and_exit_1(script):
    with HostileDhtNode(script) as node:
        start = time.monotonic()
        proc = run("--json", "--query-timeout", "0.3", HASH, "-b", f"127.0.0.1:{node.port}")
        took = time.monotonic() - start
    assert proc.returncode == 1, proc  # no peers found
    doc = json.loads(proc.stdout)
    assert took < 10
    assert doc["queries"] <= 420
    if script in ("deep", "huge-string"):
        assert doc["malformed"] >= 1 and doc["hops"] == []
    elif script == "many-nodes":
        assert doc["ignored"] >= 2000 - 256 and doc["hops"][0]["returned"] == 256
    elif script == "lying-compact":
        assert doc["ignored"] >= 1
    elif script == "only-itself":
        # It names only itself: one hop, nothing new to ask, the lookup ends at once.
        assert len(doc["hops"]) == 1 and doc["queries"] == 1
    else:
        assert doc["errors"][0]["code"] == 203


@pytest.mark.parametrize(
    "args",
    [
        ["nothex", "-b", "127.0.0.1:1"],
        [HASH],
        [HASH, "-b", "nocolon"],
        ["--find-node", "12", "-b", "127.0.0.1:1"],
        ["magnet:?dn=x", "-b", "127.0.0.1:1"],
        [HASH, "--sample", "--ping", "-b", "127.0.0.1:1"],
    ],
)
def test_bad_input_is_exit_2(args):
    proc = run(*args)
    assert proc.returncode == 2, proc
    assert len(proc.stderr.strip().splitlines()) == 1
