#!/usr/bin/env bash
# tls: what the course says about TLS, from `netlab tls-hello --json`, checked against
# the servers' own key logs and against openssl s_client.
# - the chain of trust: root → intermediate → leaf verifies, for nginx and for s_server;
# - the session key follows from the three randoms: with TLS 1.2's RSA key exchange the
#   client encrypts a pre-master secret under the certificate's key, and both ends derive
#   master secret = PRF(pre-master, "master secret", client random + server random): the
#   line netlab's key log holds equals the one s_server wrote, and the script derives it
#   again from the JSON (and decrypts the pre-master with the server's key, as it does);
# - each broken fixture fails (exit 1) with its reason; a server that requires a client
#   certificate ends the handshake with an alert, and completes it with the client
#   certificate the lab made (tls-hello --cert, s_client -cert);
# - openssl s_client -verify_return_error gives the same verdict on every server.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lab="${LAB_NAME:-tls}"
tmp="$(mktemp -d)"
trap 'netlab lab down "$lab" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
netlab lab up "$here/tls.toml" --name "$lab" >/dev/null
run() { netlab lab exec --lab "$lab" "$@"; }
netlab lab status "$lab" --json > "$tmp/status.json"
# Each s_server fixture: fixture, port, keylog, its key, openssl's verify code (0: ok).
python3 - "$tmp/status.json" > "$tmp/fixtures" <<'EOF'
import json, sys
services = json.load(open(sys.argv[1]))["labs"][0]["services"]
for s in services:
    if s["service"].startswith("tls:"):
        print(s["fixture"], s["port"], s["keylog"], s["key"], s["openssl_error"] or 0)
EOF
field() {  # field KEY: KEY of the first service that has it, from `lab status --json`
    python3 -c 'import json,sys
print(next(s[sys.argv[2]] for s in json.load(open(sys.argv[1]))["labs"][0]["services"] if sys.argv[2] in s))' \
        "$tmp/status.json" "$1"
}
ca="$(field cacert)"
port_of() { awk -v f="$1" '$1 == f { print $2 }' "$tmp/fixtures"; }
code_of() { awk -v f="$1" '$1 == f { print $5 }' "$tmp/fixtures"; }
hello() {  # hello NAME ARGS…: tls-hello's JSON in $tmp/NAME.json, its exit status in $tmp/NAME.rc
    local name="$1"; shift
    local rc=0
    run client -- netlab tls-hello --json --cacert "$ca" "$@" > "$tmp/$name.json" 2> "$tmp/$name.err" \
        || rc=$?
    echo "$rc" > "$tmp/$name.rc"
}
subject() { openssl x509 -in "$1" -noout -subject -nameopt RFC2253 | sed 's/^subject=//'; }
root_subject="$(subject "$ca")"
inter_subject="$(subject "$(dirname "$ca")/intermediate.pem")"

# 1. The chain of trust: leaf → intermediate → root, for nginx (443) and s_server (good).
hello nginx server:443
hello good "server:$(port_of good)"
for name in nginx good; do
    python3 - "$tmp/$name.json" "$(cat "$tmp/$name.rc")" "$inter_subject" "$root_subject" <<'EOF'
import json, sys
doc, rc, inter, root = json.load(open(sys.argv[1])), int(sys.argv[2]), sys.argv[3], sys.argv[4]
v = doc["verified"]
assert rc == 0 and doc["completed"] and v["ok"] and v["error"] is None, (rc, doc["error"], v)
assert v["path"] == [doc["chain"][0]["subject"], inter, root], v["path"]
assert v["path"][0] == "CN=server,O=netlab", v["path"]
assert [c["subject"] for c in doc["chain"]] == v["path"][:2]  # the root is never sent
EOF
done

# 2. The session key from the three randoms (TLS 1.2, RSA key exchange), both ends.
good="$(port_of good)"
read -r _ _ server_keylog server_key _ < <(awk '$1 == "good"' "$tmp/fixtures")
hello rsa --tls1.2 --ciphers AES128-GCM-SHA256 --keylog "$tmp/client.keylog" "server:$good"
[[ "$(cat "$tmp/rsa.rc")" == 0 ]] || { echo "TLS 1.2 RSA handshake failed" >&2; exit 1; }
pms_encrypted="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secrets"]["encrypted_pre_master_secret"])' "$tmp/rsa.json")"
xxd -r -p <<< "$pms_encrypted" > "$tmp/pms.enc"
# The server's side of the key exchange: its private key opens the pre-master secret.
openssl pkeyutl -decrypt -inkey "$server_key" -in "$tmp/pms.enc" | xxd -p | tr -d '\n' > "$tmp/pms.hex"
python3 - "$tmp/rsa.json" "$tmp/client.keylog" "$server_keylog" "$tmp/pms.hex" <<'EOF'
import hashlib, hmac, json, sys
doc = json.load(open(sys.argv[1]))
assert (doc["version"], doc["cipher"]) == ("TLSv1.2", "TLS_RSA_WITH_AES_128_GCM_SHA256"), doc
names = [m["name"] for m in doc["messages"]]
assert "ClientKeyExchange" in names and "ServerKeyExchange" not in names, names
ours = [l for l in open(sys.argv[2]).read().splitlines() if l.startswith("CLIENT_RANDOM ")]
assert len(ours) == 1, ours
_, client_random, master = ours[0].split()
assert client_random == doc["client_random"], (client_random, doc["client_random"])
theirs = [l for l in open(sys.argv[3]).read().splitlines() if l.startswith(f"CLIENT_RANDOM {client_random} ")]
assert theirs == ours, (theirs, ours)  # s_server derived the same master secret
pms = bytes.fromhex(doc["secrets"]["pre_master_secret"])
assert open(sys.argv[4]).read() == pms.hex(), "the server's key does not open the pre-master we sent"
assert len(pms) == 48 and pms[:2] == b"\x03\x03", pms.hex()  # client_version + 46 random bytes

def prf(secret, label, seed, size):  # TLS 1.2's PRF (RFC 5246 §5), P_SHA256
    seed, a, out = label + seed, label + seed, b""
    while len(out) < size:
        a = hmac.new(secret, a, hashlib.sha256).digest()
        out += hmac.new(secret, a + seed, hashlib.sha256).digest()
    return out[:size]

randoms = bytes.fromhex(doc["client_random"]) + bytes.fromhex(doc["server_random"])
assert prf(pms, b"master secret", randoms, 48).hex() == master == doc["secrets"]["master_secret"]
EOF

# 3. Each broken fixture fails with its reason (exit 1), and openssl s_client agrees.
declare -A reason=(
    [missing-intermediate]="missing intermediate" [expired]="expired"
    [wrong-name]="name mismatch" [self-signed]="self-signed"
    [path-length]="path length exceeded"
)
for fixture in "${!reason[@]}"; do
    hello "$fixture" "server:$(port_of "$fixture")"
    python3 - "$tmp/$fixture.json" "$(cat "$tmp/$fixture.rc")" "${reason[$fixture]}" "$tmp/$fixture.err" <<'EOF'
import json, sys
doc, rc, want = json.load(open(sys.argv[1])), int(sys.argv[2]), sys.argv[3]
assert rc == 1 and doc["completed"], (rc, doc["error"])  # the handshake is fine; the chain is not
assert doc["verified"]["ok"] is False and doc["verified"]["error"] == want, (want, doc["verified"]["error"])
assert open(sys.argv[4]).read() == f"netlab: error: certificate chain not trusted: {want}\n"
EOF
done
# client-cert without a certificate: the server's alert ends the handshake.
hello client-cert "server:$(port_of client-cert)"
python3 - "$tmp/client-cert.json" "$(cat "$tmp/client-cert.rc")" <<'EOF'
import json, sys
doc, rc = json.load(open(sys.argv[1])), int(sys.argv[2])
assert rc == 1 and doc["completed"] is False and doc["client_certificate_requested"], (rc, doc)
assert doc["verified"]["ok"], doc["verified"]  # the server's chain itself is good
assert doc["alert"] == ["fatal", "certificate_required"], doc["alert"]
assert "certificate_required" in doc["error"], doc["error"]
EOF

# openssl s_client -verify_return_error: the same verdict (exit 0 or not) on every server,
# and its verify code is the one the fixture stands for (status: openssl_error).
s_client() {  # s_client PORT ARGS…: exit status; -ign_eof reads until the server closes
    run client -- timeout 10 openssl s_client -connect "server:$1" -servername server \
        -verify_hostname server -verify_return_error -CAfile "$ca" "${@:2}"
}
for name in nginx good "${!reason[@]}" client-cert; do
    port="$(port_of "$name")"; port="${port:-443}"
    extra=(); [[ "$name" == client-cert ]] && extra=(-ign_eof)  # wait for the server's alert
    rc=0; s_client "$port" "${extra[@]}" < /dev/null > "$tmp/$name.s_client" 2>&1 || rc=$?
    ours="$(cat "$tmp/$name.rc")"
    if (( (rc == 0) != (ours == 0) )); then
        echo "$name: openssl s_client exit $rc, netlab tls-hello exit $ours" >&2
        tail -5 "$tmp/$name.s_client" >&2; exit 1
    fi
    code="$(code_of "$name")"
    grep -q "Verify return code: ${code:-0} (" "$tmp/$name.s_client" \
        || { echo "$name: s_client's verify code is not ${code:-0}" >&2; exit 1; }
done
grep -q "alert certificate required" "$tmp/client-cert.s_client" \
    || { echo "client-cert: s_client saw no certificate_required alert" >&2; exit 1; }

# With the client certificate the lab made, the same server completes the handshake.
client_cert="$(field client_cert)"
client_key="$(field client_key)"
# (-quiet: only the server's answer on stdout, -www's status page.)
printf 'GET / HTTP/1.0\r\n\r\n' | s_client "$(port_of client-cert)" -quiet \
    -cert "$client_cert" -key "$client_key" > "$tmp/mtls.page" 2> "$tmp/mtls.err" \
    || { echo "client-cert: s_client with the client certificate failed" >&2; tail -5 "$tmp/mtls.err" >&2; exit 1; }
grep -q "^HTTP/1.0 200 ok" "$tmp/mtls.page" || { echo "client-cert: no page" >&2; exit 1; }
hello mtls --cert "$client_cert" --key "$client_key" "server:$(port_of client-cert)"
python3 - "$tmp/mtls.json" "$(cat "$tmp/mtls.rc")" <<'EOF'
import json, sys
doc, rc = json.load(open(sys.argv[1])), int(sys.argv[2])
assert rc == 0 and doc["completed"] and doc["verified"]["ok"], (rc, doc["error"])
ours = [m["name"] for m in doc["messages"] if m["dir"] == "client"]
assert "Certificate" in ours and "CertificateVerify" in ours, ours  # we proved our key
EOF
echo "tls: chain verified (nginx, s_server), RSA key exchange master secret = s_server's," \
     "5 broken fixtures named, client certificate required, then accepted (tls-hello --cert, s_client -cert), s_client agrees"
