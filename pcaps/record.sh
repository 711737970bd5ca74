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
echo "recorded: $(ls "$here"/*.pcap*)"
