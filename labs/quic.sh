#!/usr/bin/env bash
# quic: what a capture of a real QUIC client shows, and what names a QUIC connection.
# The client's first Initial is protected with keys derived from its Destination
# Connection ID (RFC 9001 §5.2), which the packet carries: anyone on the path reads the
# ClientHello inside — its SNI and ALPN. With the client's key log (SSLKEYLOGFILE) the
# Handshake packets open too (EncryptedExtensions with the server's ALPN, Certificate,
# Finished). gtlsclient then moves to another local port mid-connection (connection
# migration): the 4-tuple changes, the connection IDs do not, and `netlab dissect`
# follows the connection by them — one `quic.connection.number` before and after.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lab="${LAB_NAME:-quic}"
tmp="$(mktemp -d)"
sniffer=""
cleanup() {
    [[ -n "$sniffer" ]] && kill -INT "$sniffer" 2>/dev/null && wait "$sniffer" 2>/dev/null
    netlab lab down "$lab" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
netlab lab up "$here/quic.toml" --name "$lab" >/dev/null
run() { netlab lab exec --lab "$lab" "$@"; }
sni=server  # the name the client asks for (the server's certificate has it)

# (a) and (b): capture gtlsclient fetching a page, moving to another port 100 ms after
# the handshake (the request waits 300 ms, so it goes from the new port).
netlab lab exec --lab "$lab" client -- netlab sniff -i eth0 -w "$tmp/quic.pcapng" udp port 443 >/dev/null 2>"$tmp/sniff.err" &
sniffer=$!
for _ in $(seq 50); do grep -q "^listening on" "$tmp/sniff.err" && break; sleep 0.1; done
grep -q "^listening on" "$tmp/sniff.err" || { cat "$tmp/sniff.err" >&2; exit 1; }
run client -- env SSLKEYLOGFILE="$tmp/keys.log" timeout 10 gtlsclient -q \
    --exit-on-all-streams-close --change-local-addr=100ms --delay-stream=300ms \
    --sni "$sni" server 443 https://server/index.html >/dev/null
# The sniffer may trail the client on a busy machine, and what the kernel still holds
# for it when Ctrl-C comes is not written: the last packets (from the new port) first.
sleep 1
kill -INT "$sniffer"; wait "$sniffer" || true; sniffer=""

fields=(-T fields -e udp.srcport -e quic.connection.number -e quic.long.packet_type
        -e tls.handshake.type -e tls.handshake.extensions_server_name
        -e tls.handshake.extensions_alpn_str)
netlab dissect "$tmp/quic.pcapng" "${fields[@]}" >"$tmp/plain.tsv"
netlab dissect "$tmp/quic.pcapng" --keylog "$tmp/keys.log" "${fields[@]}" >"$tmp/keyed.tsv"
python3 - "$tmp/plain.tsv" "$tmp/keyed.tsv" "$sni" <<'PY'
import sys
plain, keyed = ([l.split("\t") for l in open(p).read().splitlines()] for p in sys.argv[1:3])
sni = sys.argv[3]
# (a) the first datagram: the client's Initial, a ClientHello (1) with our SNI and ALPN,
# read without any key
port, number, ptype, hs, name, alpn = plain[0]
assert port != "443" and ptype.split(",")[0] == "0", plain[0]
assert hs.split(",")[0] == "1" and name == sni and alpn == "h3", plain[0]
# the server's ALPN is in EncryptedExtensions (8), in a Handshake packet: only with the key log
server = [r for r in keyed if r[0] == "443"]
assert not any("8" in r[3].split(",") for r in plain), "EncryptedExtensions read without keys?"
assert any("8" in r[3].split(",") and r[5] == "h3" for r in server), server[:3]
assert any("20" in r[3].split(",") for r in keyed if r[0] != "443"), "no client Finished"
# (b) the client's packets come from two ports, and every packet has one connection number
ports = list(dict.fromkeys(r[0] for r in keyed if r[0] != "443"))
assert len(ports) == 2, f"the client did not move: ports {ports}"
numbers = {p: {r[1] for r in keyed if r[0] == p} for p in ports}
assert numbers[ports[0]] == numbers[ports[1]] and len(numbers[ports[0]]) == 1, numbers
assert {r[1] for r in keyed} == numbers[ports[0]], "the server's packets on another number"
print(f"quic: SNI {sni!r} and ALPN h3 read from the Initial; port {ports[0]} → {ports[1]},"
      f" connection number {numbers[ports[0]].pop()} throughout")
PY

# (c) netlab's own Initial, over IPv6 (the name) and IPv4: the server's Initial and
# Handshake come back, and its ALPN (EncryptedExtensions, opened with the handshake keys)
for target in server:443 198.18.90.90:443; do
    run client -- netlab quic-hello "$target" --sni "$sni" --json | python3 -c '
import json, sys
doc = json.load(sys.stdin)
types = [p["type"] for p in doc["server_packets"]]
assert "Initial" in types and "Handshake" in types, types
assert doc["alpn"] == "h3" and doc["rtt_ms"] > 0, doc
'
done
echo "quic: ok"
