#!/usr/bin/env bash
# lan: host A pings host B on the same subnet. A learns B's MAC address by ARP,
# then the echo goes straight across the switch: no router, so the TTL arrives
# untouched (64).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lab="${LAB_NAME:-lan}"
trap 'netlab lab down "$lab" >/dev/null 2>&1 || true' EXIT
netlab lab up "$here/lan.toml" --name "$lab" >/dev/null
run() { netlab lab exec --lab "$lab" "$@"; }

out="$(run a -- ping -4 -c 2 -W 2 b)"
grep -q "ttl=64" <<<"$out"                              # same subnet: no hop
run a -- ip neigh show 198.18.0.20 | grep -Eq "lladdr ([0-9a-f]{2}:){5}[0-9a-f]{2}"  # ARP entry
run a -- ping -6 -c 1 -W 2 b >/dev/null                  # and over IPv6 (neighbour discovery)
# The same story told by netlab: the route decision (B is on A's subnet: AND with the
# netmask), B's MAC from the neighbour table, then the echo with TTL 64.
explain="$(run a -- netlab ping -4 -c 1 --explain b)"
grep -q "delivered directly (on-link)" <<<"$explain"
grep -Eq "next hop 198.18.0.20 is at ([0-9a-f]{2}:){5}[0-9a-f]{2}" <<<"$explain"
run a -- netlab ping -4 -c 2 -i 0.2 --json b | python3 -c '
import json, sys
lines = [json.loads(line) for line in sys.stdin]
assert {r["ttl"] for r in lines if r["type"] == "reply"} == {64}, lines
assert lines[-1]["type"] == "summary" and lines[-1]["received"] == 2, lines[-1]'
netlab lab status "$lab" --json | python3 -c 'import json,sys; json.load(sys.stdin)'
echo "lan: ok"
