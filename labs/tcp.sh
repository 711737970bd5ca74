#!/usr/bin/env bash
# tcp: the sequence-number arithmetic of a TCP connection, read off the wire.
# The SYN consumes one sequence number, so the SYN-ACK acknowledges our ISN + 1 and
# our ACK the server's ISN + 1; each FIN consumes one as well, so the ACK of our FIN
# is its sequence number + 1. The client walks SYN_SENT → ESTABLISHED → FIN_WAIT_1
# → … → TIME_WAIT (it closed first), and data sent to the echo port comes back.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lab="${LAB_NAME:-tcp}"
trap 'netlab lab down "$lab" >/dev/null 2>&1 || true' EXIT
netlab lab up "$here/tcp.toml" --name "$lab" >/dev/null
run() { netlab lab exec --lab "$lab" "$@"; }

run client -- netlab tcp-handshake --json server 7 | python3 -c '
import json, sys
doc = json.load(sys.stdin)
M = 2**32
assert doc["result"] == "open", doc
seg = doc["segments"]
syn, synack, ack = seg[0], seg[1], seg[2]
assert (syn["dir"], syn["flags"], syn["seq"]) == ("out", "S", doc["client_isn"]), syn
assert (synack["dir"], synack["flags"], synack["seq"]) == ("in", "SA", doc["server_isn"])
assert synack["ack"] == (doc["client_isn"] + 1) % M, "SYN-ACK ack != our ISN + 1"
assert (ack["flags"], ack["ack"]) == ("A", (doc["server_isn"] + 1) % M), "ACK != server ISN + 1"
ours = [i for i, s in enumerate(seg) if s["dir"] == "out" and "F" in s["flags"]]
theirs = [i for i, s in enumerate(seg) if s["dir"] == "in" and "F" in s["flags"]]
assert ours and theirs, "both sides send a FIN"
fin = seg[ours[0]]
acks = [s["ack"] for s in seg[ours[0] + 1 :] if s["dir"] == "in"]
assert acks and acks[0] == (fin["seq"] + 1) % M, "the peer ACK after our FIN != FIN seq + 1"
their_fin = seg[theirs[0]]
last = seg[-1]
assert (last["dir"], last["flags"]) == ("out", "A") and last["ack"] == (their_fin["seq"] + 1) % M
states = doc["states"]
for state in ("SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "TIME_WAIT"):
    assert state in states, states
assert states[0] == "SYN_SENT" and states[-1] == "TIME_WAIT", states
'
# Data counts too: 12 bytes advance our sequence number by 12, and the echo returns them.
run client -- netlab tcp-handshake --json --send "hello netlab" server 7 | python3 -c '
import json, sys
doc = json.load(sys.stdin)
M = 2**32
seg = doc["segments"]
data = [s for s in seg if s["dir"] == "out" and s["len"]]
assert [bytes.fromhex(s["data"]) for s in data] == [b"hello netlab"], data
fin = next(s for s in seg if s["dir"] == "out" and "F" in s["flags"])
assert fin["seq"] == (doc["client_isn"] + 1 + 12) % M, "FIN seq != ISN + 1 + data length"
echo = b"".join(bytes.fromhex(s["data"]) for s in seg if s["dir"] == "in")
assert echo == b"hello netlab", echo
'
# A closed port answers the SYN with a RST.
if run client -- netlab tcp-handshake server 9 >/dev/null; then
    echo "port 9 should be closed" >&2; exit 1
fi
# The course's pictures, drawn from captures of the exchanges: the handshake and close
# as a ladder (12 bytes echoed), 30 kB echoed as a Stevens sequence graph. Written to
# the lab's run folder while the lab is up, then kept in $LAB_OUT (lab down removes
# the run folder). The .svg files need matplotlib (netlab-toolkit[plot]).
run_dir="${NETLAB_RUN_DIR:-/run/netlab}/$lab"
out="${LAB_OUT:-${TMPDIR:-/tmp}/netlab-$lab}"
run client -- netlab tcp-handshake -w "$run_dir/handshake.pcapng" --send "hello netlab" server 7 >/dev/null
head -c 30000 /dev/zero | tr '\0' 'x' > "$run_dir/data.txt"
run client -- netlab tcp-handshake -w "$run_dir/transfer.pcapng" --send-file "$run_dir/data.txt" server 7 >/dev/null
picture() {  # picture NAME KIND CAPTURE: NAME.txt as the terminal shows it, NAME.svg
    COLUMNS=80 LINES=24 netlab dissect --plot "$2" "$run_dir/$3" > "$run_dir/$1.txt"
    netlab dissect --plot "$2" --plot-out "$run_dir/$1.svg" "$run_dir/$3" >/dev/null 2>&1 ||
        echo "tcp: note: no $1.svg (matplotlib missing?)" >&2
}
picture handshake-ladder flow,0 handshake.pcapng
picture sequence tcp-seq,0 transfer.pcapng
grep -q "SYN, ACK Seq=0 Ack=1" "$run_dir/handshake-ladder.txt"
[[ "$(grep -c "FIN" "$run_dir/handshake-ladder.txt")" -eq 2 ]]
grep -q "data segments (0 retransmitted)" "$run_dir/sequence.txt"
mkdir -p "$out"
cp "$run_dir"/handshake-ladder.* "$run_dir"/sequence.* "$out"/
echo "tcp: ok (pictures in $out)"
