#!/usr/bin/env bash
# lossy: a link that drops about one round trip in four. Ping's loss figure
# shows it; TCP still delivers every byte (retransmissions do the work).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lab="${LAB_NAME:-lossy}"
trap 'netlab lab down "$lab" >/dev/null 2>&1 || true' EXIT
netlab lab up "$here/lossy.toml" --name "$lab" >/dev/null
run() { netlab lab exec --lab "$lab" "$@"; }

loss="$(run client -- ping -4 -q -c 300 -i 0.005 -W 1 server | sed -nE 's/.* ([0-9.]+)% packet loss.*/\1/p')"
# 20 % out and 10 % back: about 28 % expected; a random process, so wide bounds.
awk -v l="$loss" 'BEGIN { exit !(l >= 10 && l <= 50) }' || { echo "loss $loss%" >&2; exit 1; }
# TCP over the same link: the page arrives anyway (retransmissions, not luck).
size="$(run client -- curl -s --max-time 60 -o /dev/null -w '%{size_download}' http://server/)"
[[ "$size" -gt 0 ]]
netlab lab status "$lab" --json | python3 -c '
import json, sys
lab = json.load(sys.stdin)["labs"][0]
assert {i["from"] for i in lab["impairments"]} == {"client", "server"}, lab["impairments"]'
echo "lossy: ok (loss $loss%)"
