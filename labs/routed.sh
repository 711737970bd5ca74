#!/usr/bin/env bash
# routed: client — r1 — r2 — r3 — server. Ping crosses three routers (TTL 64 → 61),
# traceroute names each hop, a host on the office LAN reaches its neighbour
# directly and everything else through its default gateway, and the 1400-byte
# core link sends "fragmentation needed" for a bigger packet with DF set.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lab="${LAB_NAME:-routed}"
trap 'netlab lab down "$lab" >/dev/null 2>&1 || true' EXIT
netlab lab up "$here/routed.toml" --name "$lab" >/dev/null
run() { netlab lab exec --lab "$lab" "$@"; }

run client -- ping -4 -c 1 -W 2 server | grep -q "ttl=61"
hops="$(run client -- traceroute -4 -n -q 1 -w 1 server | awk 'NR > 1 { print $2 }' | paste -sd ' ')"
[[ "$hops" == "198.18.1.1 198.18.2.2 198.18.3.2 198.18.4.2" ]] || { echo "hops: $hops" >&2; exit 1; }
run pc1 -- ping -4 -c 1 -W 2 pc2 | grep -q "ttl=64"        # same subnet: direct
run pc1 -- ping -4 -c 1 -W 2 server | grep -q "ttl=61"     # other subnet: via the gateway
run pc1 -- ip route get 198.18.4.2 | grep -q "via 198.18.10.1"
run client -- ping -6 -c 1 -W 2 server >/dev/null
# 1372 bytes of payload + 28 of headers = 1400: fits; one more does not (DF set).
run client -- ping -4 -c 1 -W 2 -M do -s 1372 server >/dev/null
if run client -- ping -4 -c 1 -W 2 -M do -s 1373 server >/dev/null 2>&1; then
    echo "a 1401-byte packet crossed the 1400-byte link" >&2; exit 1
fi
run client -- curl -s --max-time 3 http://server/ | grep -q "netlab lab routed: server"
netlab lab status "$lab" --json | python3 -c 'import json,sys; json.load(sys.stdin)'
echo "routed: ok"
