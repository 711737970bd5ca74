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
netlab lab status "$lab" --json | python3 -c 'import json,sys; json.load(sys.stdin)'
echo "lan: ok"
