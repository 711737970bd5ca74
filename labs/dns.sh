#!/usr/bin/env bash
# dns: the client asks its local resolver, which walks the tree from the lab's
# root: root refers to lab., lab. refers to example.lab., whose server answers
# with authority. The long TXT record needs TCP when EDNS is off.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lab="${LAB_NAME:-dns}"
trap 'netlab lab down "$lab" >/dev/null 2>&1 || true' EXIT
netlab lab up "$here/dns.toml" --name "$lab" >/dev/null
run() { netlab lab exec --lab "$lab" "$@"; }

[[ "$(run client -- dig +short www.example.lab)" == "198.18.0.80" ]]
[[ "$(run client -- dig +short AAAA www.example.lab)" == "2001:db8::80" ]]
run client -- dig +short web.example.lab | grep -qx "www.example.lab."
run client -- dig +short MX example.lab | grep -qx "10 mail.example.lab."
# Iteratively, one level at a time (+norec): two referrals, then the answer.
run client -- dig +norec @198.18.0.1 www.example.lab | grep -Eq "^lab\.\s+[0-9]+\s+IN\s+NS\s+ns1\.lab\."
run client -- dig +norec @198.18.0.2 www.example.lab | grep -Eq "^example\.lab\.\s+[0-9]+\s+IN\s+NS\s+ns1\.example\.lab\."
run client -- dig +norec @198.18.0.3 www.example.lab | grep -q "flags: qr aa;"
# Over 512 bytes: truncated over UDP without EDNS, then fetched over TCP.
run client -- dig +noedns +ignore TXT big.example.lab | grep -Eq "flags: qr (aa )?tc"
run client -- dig +noedns TXT big.example.lab | grep -q "(TCP)"
# The name files: the client resolves lab names through the resolver.
run client -- getent hosts www.example.lab | grep -Eq "198\.18\.0\.80|2001:db8::80"
run client -- curl -s --max-time 3 http://www.example.lab/ | grep -q "netlab lab dns: www"
# netlab dns-query: the same answers, the walk from the lab's root, TCP after truncation.
[[ "$(run client -- netlab dns-query --short www.example.lab)" == "198.18.0.80" ]]
run client -- netlab dns-query --trace --root 198.18.0.1 www.example.lab | grep -q "└─ example.lab. .*answer"
# dig's syntax and lines: +short, -x, AXFR; --trace from the resolver's root NS set, as dig +trace.
[[ "$(run client -- netlab dns-query +short -x 198.18.0.80)" == "$(run client -- dig +short -x 198.18.0.80)" ]]
[[ "$(run client -- netlab dns-query +short @198.18.0.3 example.lab AXFR)" == "$(run client -- dig +short @198.18.0.3 example.lab AXFR)" ]]
run client -- netlab dns-query --trace www.example.lab | grep -q "└─ example.lab. .*answer"
# The referral chain, from the JSON: root, then lab., then example.lab.'s answer.
run client -- netlab dns-query --trace --root 198.18.0.1 www.example.lab --json | python3 -c '
import json, sys
doc = json.load(sys.stdin)
assert [s["zone"] for s in doc["trace"]] == [".", "lab.", "example.lab."], doc["trace"]
assert [s["kind"] for s in doc["trace"]] == ["referral", "referral", "answer"], doc["trace"]
assert [s["referral_zone"] for s in doc["trace"][:2]] == ["lab.", "example.lab."], doc["trace"]
assert [a["data"] for a in doc["answers"]] == ["198.18.0.80"], doc'
run client -- netlab dns-query --no-edns --json TXT big.example.lab @198.18.0.3 | grep -q '"transport": "tcp"'
echo "dns: ok"
