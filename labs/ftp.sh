#!/usr/bin/env bash
# ftp: the two ways FTP opens its data connection, read off the control dialogue.
# Passive: the server answers PASV with 227 (h1,h2,h3,h4,p1,p2) and the client connects
# to h1.h2.h3.h4 port p1×256+p2 (EPSV on IPv6: 229 (|||port|)). Active: the client
# listens and says PORT h1,h2,h3,h4,p1,p2 (EPRT |2|addr|port| on IPv6), and the server
# connects to that port from its own port 20 — the connection a NAT in front of the
# client would never let in. The file comes through byte for byte either way.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lab="${LAB_NAME:-ftp}"
tmp="$(mktemp -d)"
trap 'netlab lab down "$lab" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
netlab lab up "$here/ftp.toml" --name "$lab" >/dev/null
run() { netlab lab exec --lab "$lab" "$@"; }
pub="$(netlab lab status "$lab" --json | python3 -c '
import json, sys
doc = json.load(sys.stdin)
print(next(s["anon_root"] for s in doc["labs"][0]["services"] if s.get("program") == "vsftpd"))
')/pub"

check() { # check MODE CLIENT-ADDRESS SERVER-ADDRESS < netlab ftp --json
python3 -c '
import ipaddress, json, re, sys
mode, client, server = sys.argv[1:]
doc = json.load(sys.stdin)
assert doc["mode"] == mode and doc["result"]["completed"], doc["result"]
(data,) = doc["data_connections"]
def split(text):
    host, port = text.rsplit(":", 1)
    return ipaddress.ip_address(host.strip("[]")), int(port)
src, dst = split(data["from"]), split(data["to"])
lines = [c["line"] for c in doc["control"]]
if mode == "passive":
    reply = next(l for l in lines if l[:4] in ("227 ", "229 "))
    m = re.search(r"(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)", reply)
    port = int(m[5]) * 256 + int(m[6]) if reply.startswith("227") else int(re.search(r"\|\|\|(\d+)\|", reply)[1])
    assert src[0] == ipaddress.ip_address(client), f"passive: the client opens it, not {src}"
    assert dst == (ipaddress.ip_address(server), port), f"passive: to the announced port {port}, not {dst}"
else:
    command = next(l for l in lines if l.startswith(("PORT ", "EPRT ")))
    if command.startswith("PORT"):
        n = [int(x) for x in command[5:].split(",")]
        port = n[4] * 256 + n[5]
    else:
        port = int(command[5:].split(command[5])[3])
    assert src == (ipaddress.ip_address(server), 20), f"active: from the server port 20, not {src}"
    assert dst == (ipaddress.ip_address(client), port), f"active: to our port {port}, not {dst}"
' "$@"
}
c4=198.18.0.1 s4=198.18.0.2 c6=2001:db8:0:2::1 s6=2001:db8:0:2::2
run client -- netlab ftp --json -4 ftp://server/pub/data.bin -o "$tmp/p4" | check passive $c4 $s4
run client -- netlab ftp --json -4 --active ftp://server/pub/data.bin -o "$tmp/a4" | check active $c4 $s4
run client -- netlab ftp --json -6 ftp://server/pub/data.bin -o "$tmp/p6" | check passive $c6 $s6
run client -- netlab ftp --json -6 --active ftp://server/pub/data.bin -o "$tmp/a6" | check active $c6 $s6
for f in p4 a4 p6 a6; do cmp "$tmp/$f" "$pub/data.bin"; done
echo "ftp: ok"
