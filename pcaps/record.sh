#!/usr/bin/env bash
# Re-record the sample captures in pcaps/ from real programs (run as root).
# Loopback traffic, plus two network namespaces this script creates and removes
# (addresses from 198.18.0.0/15, the benchmarking block; nothing leaves the machine).
set -euo pipefail
cd "$(dirname "$0")"
here=$(pwd)
tmp=$(mktemp -d)
ns_a=nl-rec-a ns_b=nl-rec-b
cleanup() {
  [[ -n "${td:-}" ]] && kill "$td" 2>/dev/null || true
  [[ -n "${srv:-}" ]] && kill "$srv" 2>/dev/null || true
  [[ -n "${pub:-}" ]] && kill "$pub" 2>/dev/null || true
  ip netns del "$ns_a" 2>/dev/null || true
  ip netns del "$ns_b" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

capture() { # capture FILE IFACE NS FILTER -- starts tcpdump, sets $td
  local file=$1 iface=$2 ns=$3 filter=$4
  if [[ -n "$ns" ]]; then
    ip netns exec "$ns" tcpdump --immediate-mode -i "$iface" -U -w "$file" "$filter" 2>/dev/null & td=$!
  else
    tcpdump --immediate-mode -i "$iface" -U -w "$file" "$filter" 2>/dev/null & td=$!
  fi
  sleep 0.7
}
stop() { sleep 0.5; kill "$td"; wait "$td" 2>/dev/null || true; td=; }

# 1. iputils ping over loopback, IPv4 and IPv6.
capture "$here/ping.pcap" lo "" "icmp or icmp6"
ping -c 3 -i 0.2 127.0.0.1 >/dev/null
ping -6 -c 2 -i 0.2 ::1 >/dev/null
stop

# 2. A TCP connection to a local server: handshake, data both ways, four-way close;
#    then a UDP datagram to a closed port and the kernel's ICMP port unreachable.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -c 'import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen()
c,_=s.accept(); c.sendall(c.recv(100).upper()); c.close()' "$port" & srv=$!
sleep 0.3
capture "$here/tcp-udp.pcap" lo "" "tcp port $port or udp port 33434 or icmp"
python3 -c 'import socket,sys
c=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); c.sendall(b"hello netlab\n"); c.recv(100); c.close()
socket.socket(socket.AF_INET,socket.SOCK_DGRAM).sendto(b"probe",("127.0.0.1",33434))' "$port"
stop
wait "$srv" || true; srv=

# 3. Two namespaces on a veth (real Ethernet): ARP who-has/is-at, then ICMP echo; as pcapng.
ip netns add "$ns_a"; ip netns add "$ns_b"
ip link add veth-a netns "$ns_a" type veth peer name veth-b netns "$ns_b"
ip -n "$ns_a" addr add 198.18.0.1/24 dev veth-a; ip -n "$ns_a" link set veth-a up
ip -n "$ns_b" addr add 198.18.0.2/24 dev veth-b; ip -n "$ns_b" link set veth-b up
ip -n "$ns_a" link set lo up; ip -n "$ns_b" link set lo up
sleep 0.5
capture "$tmp/arp.pcap" veth-a "$ns_a" "arp or icmp"
ip netns exec "$ns_a" ping -c 2 -i 0.2 198.18.0.2 >/dev/null
stop
tshark -r "$tmp/arp.pcap" -F pcapng -w "$here/arp-ping.pcapng" 2>/dev/null
ip netns del "$ns_a"; ip netns del "$ns_b"

# 4. DNS in the bundled `dns` lab (real bind9 root, TLD, authoritative, resolver):
#    through the resolver (A, AAAA, CNAME, MX, TXT, NXDOMAIN), the iterative
#    referrals (+norec at root, TLD, authoritative), and the >512-byte TXT answer
#    truncated over UDP without EDNS, then fetched over TCP by dig's retry.
netlab lab up ../labs/dns.toml --name pcapdns >/dev/null
trap 'netlab lab down pcapdns >/dev/null 2>&1 || true; cleanup' EXIT
capture "$tmp/dns.pcap" eth0 nl-pcapdns-client "port 53"
q() { netlab lab exec --lab pcapdns client -- dig +tries=1 "$@" >/dev/null || true; }
q www.example.lab; q AAAA www.example.lab; q web.example.lab; q MX example.lab
q TXT info.example.lab; q nosuch.example.lab
q +norec @198.18.0.1 www.example.lab; q +norec @198.18.0.2 www.example.lab
q +norec @198.18.0.3 www.example.lab
q +noedns TXT big.example.lab
stop
netlab lab down pcapdns >/dev/null
tshark -r "$tmp/dns.pcap" -F pcapng -w "$here/dns.pcapng" 2>/dev/null

# 5. HTTP from nginx on loopback, on tshark's HTTP ports: HTTP/1.1 on 80 (curl, one
#    keep-alive connection: a page, a gzip-compressed chunked script, a 404) and
#    cleartext HTTP/2 with prior knowledge on 8080 (curl: one page).
mkdir -p "$tmp/www"
printf '<html><head><title>netlab</title></head><body><p>hello from nginx</p></body></html>\n' > "$tmp/www/index.html"
for i in $(seq 40); do echo "console.log(\"line $i\");"; done > "$tmp/www/app.js"
cat > "$tmp/nginx.conf" <<EOF
daemon off; master_process off; worker_processes 1; pid $tmp/nginx.pid; error_log $tmp/error.log;
events { worker_connections 64; }
http {
  access_log $tmp/access.log;
  client_body_temp_path $tmp; proxy_temp_path $tmp; fastcgi_temp_path $tmp; uwsgi_temp_path $tmp; scgi_temp_path $tmp;
  types { text/html html; application/javascript js; }
  gzip on; gzip_min_length 20; gzip_types application/javascript;
  server { listen 127.0.0.1:80; root $tmp/www; }
  server { listen 127.0.0.1:8080 http2; root $tmp/www; }
}
EOF
nginx -c "$tmp/nginx.conf" -p "$tmp" & srv=$!
for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1/ && break; sleep 0.1; done
capture "$tmp/http.pcap" lo "" "tcp port 80 or tcp port 8080"
curl -s --http1.1 --compressed -o /dev/null -o /dev/null -o /dev/null \
  http://127.0.0.1/ http://127.0.0.1/app.js http://127.0.0.1/missing
curl -s --http2-prior-knowledge -o /dev/null http://127.0.0.1:8080/
stop
kill "$srv"; wait "$srv" 2>/dev/null || true; srv=
tshark -r "$tmp/http.pcap" -F pcapng -w "$here/http.pcapng" 2>/dev/null

# 6. RTMP: nginx with Debian's RTMP module on loopback port 1935 (tshark's RTMP port), fed
#    by ffmpeg's test pattern (H.264, one IDR a second) on a second listener (1936, not
#    captured); rtmpdump plays the stream for a little over a second: handshake, connect,
#    createStream, play, onStatus/onMetaData, the AVC sequence header and the first frames.
mkdir -p "$tmp/rtmp/logs"
cat > "$tmp/rtmp/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
daemon off; master_process off; pid $tmp/rtmp/nginx.pid; error_log $tmp/rtmp/logs/error.log;
events { worker_connections 64; }
rtmp { server { listen 127.0.0.1:1935; listen 127.0.0.1:1936; chunk_size 4096;
  application live { live on; record off; } } }
EOF
nginx -p "$tmp/rtmp" -c "$tmp/rtmp/nginx.conf" & srv=$!
sleep 0.5
ffmpeg -nostdin -loglevel error -re -f lavfi -i testsrc=size=320x240:rate=25 -c:v libx264 \
  -preset veryfast -tune zerolatency -profile:v baseline -pix_fmt yuv420p -g 25 -keyint_min 25 \
  -sc_threshold 0 -t 20 -f flv rtmp://127.0.0.1:1936/live/test & pub=$!
sleep 2
capture "$tmp/rtmp.pcap" lo "" "tcp port 1935"
timeout 1.2 rtmpdump -q -r rtmp://127.0.0.1:1935/live/test --live -o /dev/null || true
stop
kill "$pub"; wait "$pub" 2>/dev/null || true; pub=
kill "$srv"; wait "$srv" 2>/dev/null || true; srv=
tshark -r "$tmp/rtmp.pcap" -F pcapng -w "$here/rtmp.pcapng" 2>/dev/null
# 7. BitTorrent in the bundled `p2p` lab (64 libtorrent DHT nodes, opentracker, a
#    libtorrent seeder): netlab's own get_peers lookup of the swarm's announced
#    info-hash, written by `dht-lookup -w` (KRPC queries and replies: compact nodes,
#    peers, tokens, BEP 42's ip); then the first 14 packets of aria2c downloading the
#    seeder's file (its encrypted MSE handshake, shown as continuation data on port
#    6881, the plain handshake, BEP 10 extension handshakes, Have All, Allowed Fast,
#    Interested and the first Requests).
netlab lab up ../labs/p2p.toml --name pcapp2p >/dev/null
trap 'netlab lab down pcapp2p >/dev/null 2>&1 || true; cleanup' EXIT
run=$(netlab lab status pcapp2p --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["labs"][0]["run_dir"])')
boot=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bootstrap"])' \
  "$run/services/swarm-dht-swarm/state.json")
netlab lab exec --lab pcapp2p client -- netlab dht-lookup 6879a902601b973f4f5e55f986651c773b4e2347 \
  -b "$boot" -w "$tmp/bt-dht.pcapng" >/dev/null || true
ip netns exec nl-pcapp2p-client tcpdump --immediate-mode -i eth0 -U -c 14 -w "$tmp/bittorrent.pcap" \
  "tcp port 6881" 2>/dev/null & td=$!
sleep 0.7
netlab lab exec --lab pcapp2p client -- timeout 60 aria2c --dir="$tmp/dl" --enable-dht=false \
  --bt-enable-lpd=false --enable-peer-exchange=false --seed-time=0 --console-log-level=warn \
  --file-allocation=none "$run/services/seeder-seeder/netlab-p2p.bin.torrent" >/dev/null || true
wait "$td" 2>/dev/null || true; td=
netlab lab down pcapp2p >/dev/null
cp "$tmp/bt-dht.pcapng" "$here/bt-dht.pcapng"
tshark -r "$tmp/bittorrent.pcap" -F pcapng -w "$here/bittorrent.pcapng" 2>/dev/null
# 8. FTP in the bundled `ftp` lab (vsftpd), from curl: the listing of pub/ in passive
#    mode (PASV and its 227: --disable-epsv), hello.txt in active mode (PORT, not EPRT:
#    --disable-eprt; vsftpd connects from port 20) and hello.txt over IPv6 in extended
#    passive mode (EPSV and its 229); the data connections show as FTP-DATA.
netlab lab up ../labs/ftp.toml --name pcapftp >/dev/null
trap 'netlab lab down pcapftp >/dev/null 2>&1 || true; cleanup' EXIT
ip netns exec nl-pcapftp-client tcpdump --immediate-mode -i eth0 -U -w "$tmp/ftp.pcap" tcp \
  2>/dev/null & td=$!
sleep 0.7
netlab lab exec --lab pcapftp client -- curl -4 -sS --ftp-pasv --disable-epsv ftp://server/pub/ >/dev/null
netlab lab exec --lab pcapftp client -- curl -4 -sS --ftp-port - --disable-eprt ftp://server/pub/hello.txt >/dev/null
netlab lab exec --lab pcapftp client -- curl -6 -sS --ftp-pasv ftp://server/pub/hello.txt >/dev/null
stop
netlab lab down pcapftp >/dev/null
tshark -r "$tmp/ftp.pcap" -F pcapng -w "$here/ftp.pcapng" 2>/dev/null
# 9. TLS from curl to openssl s_server on loopback port 48443, its self-signed ECDSA
#    certificate (CN localhost, a UTF8String, SANs): TLS 1.3 (the certificate encrypted),
#    then TLS 1.2 (ECDHE; the certificate in clear). The key log goes to tls.keys in the
#    temporary folder only: `netlab dissect --keylog` with one recorded again decrypts it.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/k.pem" \
  -out "$tmp/c.pem" -days 3650 -subj "/C=NL/O=netlab sample/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
openssl s_server -accept 127.0.0.1:48443 -cert "$tmp/c.pem" -key "$tmp/k.pem" -www -quiet \
  >/dev/null 2>&1 & srv=$!
sleep 0.5
capture "$tmp/tls.pcapng" lo "" "tcp port 48443"
SSLKEYLOGFILE="$tmp/tls.keys" curl -sk --tlsv1.3 https://127.0.0.1:48443/ -o /dev/null
SSLKEYLOGFILE="$tmp/tls.keys" curl -sk --tls-max 1.2 https://127.0.0.1:48443/ -o /dev/null
stop
kill "$srv"; wait "$srv" 2>/dev/null || true; srv=
cp "$tmp/tls.pcapng" "$here/tls.pcapng"
# 10. The BitTorrent UDP tracker (BEP 15): opentracker on loopback port 6969 (its
#    whitelist holds one info-hash), `netlab torrent announce` from two clients (the
#    second also scrapes).
ih=6879a902601b973f4f5e55f986651c773b4e2347
mkdir -p "$tmp/ot" && chmod 755 "$tmp/ot"
echo "$ih" > "$tmp/ot/whitelist.txt"
echo "access.whitelist whitelist.txt" > "$tmp/ot/opentracker.conf"
opentracker -f "$tmp/ot/opentracker.conf" -i 127.0.0.1 -p 6969 -P 6969 -d "$tmp/ot" -u nobody \
  >/dev/null 2>&1 & srv=$!
sleep 0.5
capture "$tmp/bt-tracker.pcap" lo "" "udp port 6969"
netlab torrent announce "$ih" -t udp://127.0.0.1:6969 --port 6881 --timeout 3 >/dev/null
netlab torrent announce "$ih" -t udp://127.0.0.1:6969 --port 6882 --scrape --timeout 3 >/dev/null
stop
kill "$srv"; wait "$srv" 2>/dev/null || true; srv=
tshark -r "$tmp/bt-tracker.pcap" -F pcapng -w "$here/bt-tracker.pcapng" 2>/dev/null
echo "recorded: $(ls "$here"/*.pcap*)"
