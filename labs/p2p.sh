#!/usr/bin/env bash
# p2p: the course's BitTorrent claims on a real swarm.
# - a Kademlia lookup (netlab dht-lookup, get_peers) finds the peer that announced the
#   info-hash, asking 64 libtorrent nodes it does not know beforehand;
# - the XOR distance to the target shrinks round by round;
# - it takes about log2 N rounds: at most ⌈log2 N⌉ + 2 for N = 64;
# - the tracker (opentracker) lists the seeder for the seeder's torrent.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lab="${LAB_NAME:-p2p}"
trap 'netlab lab down "$lab" >/dev/null 2>&1 || true' EXIT
netlab lab up "$here/p2p.toml" --name "$lab" >/dev/null
run() { netlab lab exec --lab "$lab" "$@"; }
status="$(netlab lab status "$lab" --json)"
field() { python3 -c 'import json,sys; lab=json.loads(sys.argv[1])["labs"][0]
print(next(s[sys.argv[2]] for s in lab["services"] if sys.argv[2] in s))' "$status" "$1"; }
bootstrap="$(field bootstrap)"
nodes="$(field nodes)"
target="$(python3 -c 'import json,sys; lab=json.loads(sys.argv[1])["labs"][0]
print(next(s["info_hash"] for s in lab["services"] if "announced_peer" in s))' "$status")"
announced="$(field announced_peer)"

run client -- netlab dht-lookup --json "$target" -b "$bootstrap" | python3 -c '
import json, math, sys
doc = json.load(sys.stdin)
announced, n = sys.argv[1], int(sys.argv[2])
peers, rounds, queries = doc["peers"], doc["rounds"], doc["queries"]
assert announced in peers, f"{announced} not in {peers}"
best = [int(r["distance"], 16) for r in doc["round_best"]]
assert all(b <= a for a, b in zip(best, best[1:])), doc["round_best"]
assert len(best) == 1 or best[-1] < best[0], doc["round_best"]
bound = math.ceil(math.log2(n)) + 2
assert rounds <= bound, f"{rounds} rounds for {n} nodes (at most {bound})"
print(f"lookup: {rounds} rounds, {queries} queries, peer {announced}")
' "$announced" "$nodes"

# The tracker: an HTTP announce for the seeder's info-hash lists the seeder (compact peers).
seed_hash="$(python3 -c 'import json,sys; lab=json.loads(sys.argv[1])["labs"][0]
print(next(s["info_hash"] for s in lab["services"] if "torrent" in s))' "$status")"
peer="$(python3 -c 'import json,sys; lab=json.loads(sys.argv[1])["labs"][0]
print(next(s["peer"] for s in lab["services"] if "torrent" in s))' "$status")"
announce_url="$(field announce_url)"
escaped="$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(bytes.fromhex(sys.argv[1])))' "$seed_hash")"
run client -- curl -s --max-time 5 \
    "$announce_url?info_hash=$escaped&peer_id=-NL0001-000000000000&port=6999&uploaded=0&downloaded=0&left=1&compact=1" \
    > "/run/netlab/$lab/announce.out"
python3 - "/run/netlab/$lab/announce.out" "$peer" <<'EOF'
import ipaddress, sys
data, peer = open(sys.argv[1], "rb").read(), sys.argv[2]
start = data.index(b"5:peers") + len(b"5:peers")
length, _, rest = data[start:].partition(b":")
compact = rest[: int(length)]
peers = [f"{ipaddress.ip_address(compact[i:i + 4])}:{int.from_bytes(compact[i + 4:i + 6], 'big')}"
         for i in range(0, len(compact) - 5, 6)]
assert peer in peers, f"seeder {peer} not in the tracker's peers {peers}"
print(f"tracker: lists the seeder {peer}")
EOF
echo "p2p: lookup found the announced peer, distance shrank each round, tracker lists the seeder"
