#!/usr/bin/env bash
# web: what the course says about HTTP, checked against nginx's own access log.
# - HTTP/1.1 keep-alive: three requests, one TCP connection (one SYN on the wire),
#   nginx counts them 1, 2, 3 on that connection;
# - a conditional GET (If-Modified-Since = the page's Last-Modified) gets 304, no body;
# - HTTP/2 over TLS (the lab's CA): the three resources of the page travel as three
#   streams (1, 3, 5) of one connection;
# - HPACK: the second request's header block is smaller than the first, because the
#   fields the two share are sent as indexes into the table both ends keep.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lab="${LAB_NAME:-web}"
trap 'netlab lab down "$lab" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
tmp="$(mktemp -d)"
netlab lab up "$here/web.toml" --name "$lab" >/dev/null
run() { netlab lab exec --lab "$lab" "$@"; }
status="$(netlab lab status "$lab" --json)"
field() { python3 -c 'import json,sys; lab=json.loads(sys.argv[1])["labs"][0]
print(next(s[sys.argv[2]] for s in lab["services"] if sys.argv[2] in s))' "$status" "$1"; }
ca="$(field cacert)"
log="$(field access_log)"
# The log lines of the client (the readiness probe's HEADs come from 127.0.0.1).
client_log() { grep -v '^127\.0\.0\.1 ' "$log" || true; }

# 1. HTTP/1.1 keep-alive: one connection, one SYN, requests 1, 2, 3 on it.
run client -- netlab http --json -w "$tmp/h1.pcapng" \
    http://server/ http://server/style.css http://server/app.js > "$tmp/h1.json"
python3 - "$tmp/h1.json" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
reqs = doc["requests"]
assert [r["status"] for r in reqs] == [200, 200, 200], reqs
assert {r["connection"] for r in reqs} == {1} and len(doc["connections"]) == 1, doc["connections"]
assert [r["reused"] for r in reqs] == [False, True, True]
assert all(r["http_version"] == "1.1" for r in reqs)
EOF
syns="$(netlab dissect --json -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' "$tmp/h1.pcapng" |
    { grep -c '^{"type":"packet"' || true; })"
[[ "$syns" == 1 ]] || { echo "keep-alive: $syns SYNs for three requests" >&2; exit 1; }
counts="$(client_log | awk '{ print $3 ":" $4 }' | paste -sd ' ')"
conn="${counts%%:*}"
[[ "$counts" == "$conn:1 $conn:2 $conn:3" ]] || { echo "access log: $counts" >&2; exit 1; }

# 2. A conditional GET: If-Modified-Since the page's own Last-Modified -> 304, no body.
modified="$(run client -- netlab http --json -I http://server/ | python3 -c '
import json, sys
print(dict(json.load(sys.stdin)["requests"][0]["headers"])["Last-Modified"])')"
run client -- netlab http --json -H "If-Modified-Since: $modified" http://server/ | python3 -c '
import json, sys
req = json.load(sys.stdin)["requests"][0]
assert req["status"] == 304 and req["body_bytes"] == 0, req
assert req["meaning"] == "not modified: the cached copy is still valid", req'

# 3. HTTP/2 over TLS: the page's three resources as three streams of one connection.
before="$(client_log | wc -l)"
run client -- netlab http --json --cacert "$ca" \
    https://server/style.css https://server/app.js https://server/logo.jpg > "$tmp/h2.json"
python3 - "$tmp/h2.json" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
reqs = doc["requests"]
assert [r["status"] for r in reqs] == [200, 200, 200], reqs
assert [r["http_version"] for r in reqs] == ["2", "2", "2"]
assert [r["stream"] for r in reqs] == [1, 3, 5], [r["stream"] for r in reqs]
(conn,) = doc["connections"]
assert conn["tls"]["alpn"] == "h2" and conn["requests"] == 3, conn
# 4. HPACK: the second request's header block is smaller than the first.
sent = [b for b in doc["hpack"] if b["direction"] == "sent"]
assert [b["stream"] for b in sent] == [1, 3, 5]
assert sent[1]["bytes"] < sent[0]["bytes"], (sent[0]["bytes"], sent[1]["bytes"])
assert any(f["representation"] == "indexed" and f["index"] >= 62 for f in sent[1]["fields"])
EOF
h2lines="$(client_log | tail -n +"$((before + 1))" | awk '{ print $3, $10 }' | sort -u)"
[[ "$(wc -l <<< "$h2lines")" == 1 && "$h2lines" == *" h2" ]] \
    || { echo "HTTP/2 requests not on one h2 connection: $h2lines" >&2; exit 1; }
echo "web: keep-alive (1 SYN, requests 1-3 on connection $conn), 304, h2 streams 1/3/5, HPACK ok"
