#!/usr/bin/env bash
# lossy: the course's stories of a long, lossy path, over a 20 ms ± 2 ms link that
# loses 20 % one way and 10 % the other (netem, or the lab's link emulator on a
# kernel without netem: `lab status` says which, and nothing may be left unapplied).
# 1. ping: round trips of about 40 ms (2 × 20 ms), and about 28 % of them lost;
# 2. tcp-handshake: a lost SYN (or SYN-ACK) is sent again after the 1 s initial RTO;
# 3. dns-query: a lost query is asked again after its timeout;
# 4. a web transfer: the page arrives whole, and its capture shows why — retransmitted
#    segments, the receiver's duplicate ACKs and out-of-order segments in `netlab
#    dissect`, and a sequence graph of it ($LAB_OUT/sequence.svg).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lab="${LAB_NAME:-lossy}"
tmp="$(mktemp -d)"
trap 'netlab lab down "$lab" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
netlab lab up "$here/lossy.toml" --name "$lab" >/dev/null
run() { netlab lab exec --lab "$lab" "$@"; }

# 0. Every impairment the topology names is applied, by netem or by the emulator.
mechanism="$(netlab lab status "$lab" --json | python3 -c '
import json, sys
lab = json.load(sys.stdin)["labs"][0]
imps = lab["impairments"]
assert {i["from"] for i in imps} == {"client", "server"}, imps
assert all(not i["not_applied"] for i in imps), imps
assert all(e["running"] for e in lab["emulators"]), lab["emulators"]
print(",".join(sorted({i["applied"] for i in imps})))')"

# 1. ping. The link loses ARP too: resolve the neighbour first, or a lost exchange
# adds a burst of loss that is not the link's rate.
for _ in $(seq 20); do run client -- ping -4 -c 1 -W 1 server >/dev/null && break; done
out="$(run client -- ping -4 -q -c 150 -i 0.01 -W 1 server)"
loss="$(sed -nE 's/.* ([0-9.]+)% packet loss.*/\1/p' <<<"$out")"
avg="$(sed -nE 's|.* = [0-9.]+/([0-9.]+)/.*|\1|p' <<<"$out")"
# 20 % out and 10 % back: about 28 % expected; a random process, so wide bounds.
awk -v l="$loss" 'BEGIN { exit !(l >= 10 && l <= 50) }' || { echo "loss $loss%" >&2; exit 1; }
# 20 ms each way (5 % of the client's packets skip the delay: the average is a bit less).
awk -v a="$avg" 'BEGIN { exit !(a >= 35 && a <= 46) }' || { echo "rtt avg $avg ms" >&2; exit 1; }

# 2. tcp-handshake until one SYN goes out twice (a SYN or its SYN-ACK was lost:
# 28 % of the tries; 25 tries miss it about once in 4,000 runs). --rst ends each
# try at once, without the FIN exchange and its own losses. A try whose every SYN
# (or SYN-ACK) was lost ends "filtered" (about 2 % of them): it shows nothing, next.
syn_retx=""
for _ in $(seq 25); do
    doc="$(run client -- netlab tcp-handshake server 80 --rst --json || true)"  # (exit 1: filtered)
    syn_retx="$(python3 -c '
import json, sys
doc = json.load(sys.stdin)
syns = [s.get("time_ms", s.get("t_ms", 0.0)) for s in doc["segments"]
        if s["dir"] == "out" and s["flags"] == "S"]
assert doc["result"] in ("open", "filtered"), doc["result"]
print(f"{syns[1]:.0f}" if doc["result"] == "open" and len(syns) > 1 else "")' <<<"$doc")"
    [[ -n "$syn_retx" ]] && break
done
[[ -n "$syn_retx" ]] || { echo "tcp-handshake: no SYN retransmission in 25 tries" >&2; exit 1; }

# 3. dns-query: 20 lookups, each answered at last; some only at a second try (a
# 0.2 s timeout: five round trips of this link).
attempts="$(run client -- netlab dns-query example.lab MX TXT NS SOA MX TXT NS SOA MX TXT \
    NS SOA MX TXT NS SOA MX TXT NS SOA @server --tries 10 --timeout 0.2 --json | python3 -c '
import json, sys
docs = json.load(sys.stdin)
assert len(docs) == 20 and all(d["rcode"] == "NOERROR" for d in docs), docs
tries = [d["attempts"] for d in docs]
assert max(tries) > 1, tries
print(sum(tries))')"

# 4. A 100 kB page over the same link, captured at the client: whole, thanks to TCP.
# Its capture shows how: retransmissions, the receiver's duplicate ACKs, and segments
# that arrive out of order (a retransmission filling a hole just after newer data);
# tries again (at most 5 pages) until a transfer shows all three.
count_marks() {  # retransmissions, duplicate ACKs, out-of-order segments in CAPTURE
    local marks='tcp.analysis.retransmission || tcp.analysis.duplicate_ack_num'
    netlab dissect --json -Y "$marks || tcp.analysis.out_of_order" "$1" | python3 -c '
import json, sys
fields = [r["fields"] for r in map(json.loads, sys.stdin) if r["type"] == "packet"]
print(*(sum(f"tcp.analysis.{k}" in f for f in fields)
        for k in ("retransmission", "duplicate_ack_num", "out_of_order")))'
}
for try in 1 2 3 4 5; do
    size="$(run client -- netlab http --json -w "$tmp/big.pcapng" http://server/big.txt |
        python3 -c '
import json, sys
req = json.load(sys.stdin)["requests"][0]
assert req["status"] == 200, req
print(req["body_bytes"])')"
    [[ "$size" -gt 100000 ]]
    read -r retx dupacks ooo < <(count_marks "$tmp/big.pcapng")
    [[ "$retx" -gt 0 && "$dupacks" -gt 0 && "$ooo" -gt 0 ]] && break
done
[[ "$retx" -gt 0 && "$dupacks" -gt 0 && "$ooo" -gt 0 ]] ||
    { echo "retx $retx, dup ACKs $dupacks, out-of-order $ooo" >&2; exit 1; }
# The transfer as a Stevens sequence graph (retransmissions and dup ACKs marked), kept
# in $LAB_OUT as labs/tcp.sh keeps its pictures; the .svg needs matplotlib.
out="${LAB_OUT:-${TMPDIR:-/tmp}/netlab-$lab}"
mkdir -p "$out"
COLUMNS=80 LINES=24 netlab dissect --plot tcp-seq,0 "$tmp/big.pcapng" > "$out/sequence.txt"
netlab dissect --plot tcp-seq,0 --plot-out "$out/sequence.svg" "$tmp/big.pcapng" >/dev/null 2>&1 ||
    echo "lossy: note: no sequence.svg (matplotlib missing?)" >&2
grep -q "retransmitted" "$out/sequence.txt"
echo "lossy: ok via $mechanism (ping loss $loss%, rtt avg $avg ms; SYN again at" \
     "$syn_retx ms; $attempts DNS tries for 20 lookups; $size bytes with $retx" \
     "retransmissions, $dupacks duplicate ACKs, $ooo out of order; picture in $out)"
