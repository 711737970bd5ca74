#!/usr/bin/env bash
# stream: the course's live-streaming claims, checked on the wire.
# - the RTMP handshake: S0 = C0 = 3 and S2 echoes C1;
# - connect → NetConnection.Connect.Success, then play → NetStream.Play.Start;
# - SPS and PPS (one sequence header) arrive before the first IDR; one IDR per GOP;
# - a 307-byte video message published at chunk size 128 goes out as chunks of 128,
#   128 and 51 bytes with fmt 0, 3, 3 — in netlab's --chunks and, read by tshark,
#   in the capture's rtmpt.header.format;
# - the edge (pulling from the centre) serves the same stream.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lab="${LAB_NAME:-stream}"
tmp="$(mktemp -d)"
trap 'netlab lab down "$lab" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
netlab lab up "$here/stream.toml" --name "$lab" >/dev/null
run() { netlab lab exec --lab "$lab" "$@"; }

# 1-3. Play from the centre: handshake, commands, parameter sets before the first IDR.
run client -- netlab rtmp-handshake --json --frames 60 rtmp://centre/live/test > "$tmp/play.json"
python3 - "$tmp/play.json" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
hs = doc["handshake"]
assert hs["c0"] == 3 and hs["s0"] == 3, hs
assert hs["s2_echoes_c1"] is True and hs["c2_echoes_s1"] is True, hs
codes = [c["code"] for c in doc["commands"] if c["dir"] == "in" and c["code"]]
assert codes.index("NetConnection.Connect.Success") < codes.index("NetStream.Play.Start"), codes
frames = doc["frames"]
first_idr = next(i for i, f in enumerate(frames) if 5 in f["nal_types"])
before = {n for f in frames[:first_idr] for n in f["nal_types"]}
assert {7, 8} <= before, f"SPS/PPS before the first IDR: {before}"
pictures = [f for f in frames if {1, 5} & set(f["nal_types"])]
keys = [i for i, f in enumerate(pictures) if 5 in f["nal_types"]]
gaps = {b - a for a, b in zip(keys, keys[1:])}
assert len(keys) >= 2 and gaps == {25}, f"IDR every {gaps} frames, want one per GOP of 25"
assert doc["video"]["width"] == 320 and doc["video"]["height"] == 240, doc["video"]
EOF

# 4. The course's chunking example: one 307-byte video message at chunk size 128.
python3 - "$tmp/course.flv" <<'EOF'
import struct, sys
def tag(kind, ts, body):
    head = bytes([kind]) + len(body).to_bytes(3, "big") + (ts & 0xFFFFFF).to_bytes(3, "big")
    return head + bytes([ts >> 24]) + b"\0\0\0" + body + struct.pack(">I", 11 + len(body))
nal = bytes([0x06]) + bytes(296)               # an SEI NAL unit of 297 bytes
body = bytes([0x17, 0x01, 0, 0, 0]) + struct.pack(">I", len(nal) + 1) + nal + b"\x80"
assert len(body) == 307, len(body)
with open(sys.argv[1], "wb") as f:
    f.write(b"FLV\x01\x01\x00\x00\x00\x09\x00\x00\x00\x00" + tag(9, 1000, body))
EOF
cp "$tmp/course.flv" "/run/netlab/$lab/course.flv"
run client -- netlab rtmp-handshake --json --publish "/run/netlab/$lab/course.flv" \
    --chunk-size 128 --chunks -w "/run/netlab/$lab/publish.pcapng" rtmp://centre/live/course \
    > "$tmp/publish.json"
python3 - "$tmp/publish.json" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
assert "NetStream.Publish.Start" in [c["code"] for c in doc["commands"]], doc["commands"]
out = [c for c in doc["chunks"] if c["dir"] == "out"]
i = next(i for i, c in enumerate(out) if c["fmt"] == 0 and c["type"] == 9)
got = [(c["fmt"], c["bytes"]) for c in out[i : i + 3]]
assert out[i]["length"] == 307 and got == [(0, 128), (3, 128), (3, 51)], got
EOF
formats="$(tshark -n -r "/run/netlab/$lab/publish.pcapng" -Y 'rtmpt.header.typeid == 9' \
    -T fields -e rtmpt.header.format -e rtmpt.header.bodysize 2>/dev/null | awk 'NR == 1')"
[[ "$formats" == 0*307* ]] || { echo "tshark: video message header '$formats'" >&2; exit 1; }

# 5. The edge serves the same stream, pulled from the centre.
run client -- netlab rtmp-handshake --json --frames 30 rtmp://edge/live/test | python3 -c '
import json, sys
doc = json.load(sys.stdin)
assert "NetStream.Play.Start" in [c["code"] for c in doc["commands"]], doc["commands"]
assert doc["video"]["width"] == 320, doc["video"]
assert any(5 in f["nal_types"] for f in doc["frames"]), "no IDR from the edge"'
echo "stream: handshake, Connect.Success → Play.Start, SPS/PPS before IDR, IDR every 25 frames, 307 → 128+128+51, edge ok"
