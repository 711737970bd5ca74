"""`dht-swarm`: N libtorrent DHT nodes (BEP 5) in one process, one of them announcing
an info-hash: a Kademlia network small enough to know completely.

    [nodes.swarm]
    services = [{ type = "dht-swarm" }]                    # 64 nodes from port 6881
    services = [{ type = "dht-swarm", nodes = 128, port = 6881, announce = "<40 hex>" }]

Options:

- ``nodes`` (64): libtorrent sessions, 2–256, each one DHT node with its own UDP
  port (and TCP listener): session i binds the node's IPv4 address i mod A (A: the
  node's IPv4 addresses, in the order of its links; list several on its link to
  spread the swarm) on port ``port`` + i div A. Session 0 is on the node's first
  address and ``port``: the bootstrap node, ``swarm:6881`` by name;
- ``port`` (6881): the first port on each address;
- ``announce``: the info-hash (40 hex digits) the last session announces (default
  ANNOUNCE, the SHA-1 of "netlab p2p lab");
- ``seed`` (1): seeds the node ids and the bootstrap choices.

Node ids. libtorrent gives a node on a public-looking address a BEP 42 id: 21 bits
come from a CRC-32C of the address and a random r (0–7), the last byte is r, so the
nodes of one address share one of eight prefixes. The swarm makes the ids itself,
BEP 42-valid, from a generator seeded with ``seed`` (default 1): the same ids on
every run of the same topology (libtorrent keeps a valid id it is given). With
several addresses they spread over the id space as on the internet; the lab gives
its swarm sixteen.

The program is `dht_swarm_node.py`, run by Debian's /usr/bin/python3 (the one
python3-libtorrent is built for). Every session has LSD, UPnP, NAT-PMP off, no
router node (``dht_bootstrap_nodes`` empty from construction: libtorrent's default
one is on the internet), no trackers; the internet safeguards are off
(``dht_restrict_routing_ips``, ``dht_restrict_search_ips``, ``dht_enforce_node_id``,
``dht_prefer_verified_node_ids``, ``dht_ignore_dark_internet``, the per-IP rate
block ``dht_block_ratelimit``), and routing tables are BEP 5's plain k-buckets of 8
(``dht_extended_routing_table`` off: libtorrent's larger first buckets would hold
a small swarm whole). Session i > 0 bootstraps from session 0 and three random
earlier ones (given as saved DHT state, not as routers: a router never enters a
routing table). Once all run, each session pings its 8 nearest nodes by XOR, as
in a long-lived network; without that a late starter sits in replacement caches
while being among the closest to some target.

The announce. Once every routing table holds k nodes, the announcer (the last
session) joins the info-hash's torrent (no metadata, no tracker), so libtorrent
announces it from its listen port (get_peers, then announce_peer to the k closest
that answered), again every 300 s, and every 2 s until the k nodes truly closest
to the info-hash (by the ids the swarm knows; the announcer left out) all received
it. Session 0 looks it up with get_peers until the peer comes back (with two nodes
the announcer does: a node never asks itself). libtorrent answers BEP 51
``sample_infohashes`` from what it stores: those k nodes return the info-hash.
(``session.dht_announce`` cannot be called from Python in 2.0.8: its flags type has
no converter, libtorrent#7443.)

The state file, ``state.json`` in the service folder (``lab status --json`` gives its
path as ``state``), rewritten atomically every 0.5 s until the swarm converged, then
every 5 s:

    {"format": 1, "pid": 1234, "started": 1700000000.1, "updated": …, "count": 64,
     "k": 8, "bootstrap": "198.18.17.10:6881",
     "info_hash": "6879a902601b973f4f5e55f986651c773b4e2347",
     "announce": {"info_hash": "6879a902…", "peer": "198.18.17.25:6884",
                  "ip": "198.18.17.25", "port": 6884, "by": 63, "by_node_id": "2bc15b2d…",
                  "announced_s": 2.1, "verified_s": 3.3, "verified_by": 0,
                  "incoming_announces": 8, "announces": 1,
                  "closest": [57, 48, 38, 45, 53, 9, 58, 36],
                  "stored_by": [9, 36, 38, 45, 48, 53, 57, 58], "placed_s": 2.3},
     "converged": true, "converged_s": 3.3,
     "routing_table_min": 8, "routing_table_max": 30, "errors": [],
     "nodes": [{"index": 0, "node_id": "ad4ab791df6af1d8303e61cdc4bb86c3d1c42744",
                "addr": "198.18.17.10:6881", "ip": "198.18.17.10", "port": 6881,
                "routing_table": 30, "replacements": 4, "buckets": 3,
                "announces_received": 0}, …]}

Times ``*_s`` count from the process's start. ``node_id`` is what libtorrent reports
(``session.save_state``), ``routing_table`` the live nodes of its table
(``dht_stats_alert``: ``replacements`` are the buckets' caches). ``closest`` and
``stored_by`` are session indexes: the k nodes closest to the info-hash (the
announcer left out) and those that received an announce_peer for it
(``announces_received`` per node); ``incoming_announces`` counts them all,
``announces`` the announcer's rounds.

Ready: the state file says converged (every routing table holds at least
min(k, nodes - 1) nodes; the k closest nodes hold the peer; session 0 found it with
get_peers), every node id is known, and the bootstrap node answers a KRPC ping
(sent read-only, BEP 43, so the probe never enters a routing table). 64 nodes take
about 3–4 s, 256 about 8 s.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from netlab.lab import netns
from netlab.lab.services import Service, port_problem, unknown_options
from netlab.lab.services.probe import TIMEOUT
from netlab.lab.services.seeder import PYTHON, require_libtorrent
from netlab.lab.topology import Node, ServiceSpec, Topology

SCRIPT = Path(__file__).with_name("dht_swarm_node.py")
OPTIONS = {"nodes", "port", "announce", "seed"}
ANNOUNCE = "6879a902601b973f4f5e55f986651c773b4e2347"  # SHA-1 of b"netlab p2p lab"
DEFAULTS: dict[str, Any] = {"nodes": 64, "port": 6881, "announce": ANNOUNCE, "seed": 1}
NODES_RANGE = (2, 256)
K = 8  # BEP 5's bucket size: "converged" means k nodes in every routing table
STATE = "state.json"


def swarm_options(spec: ServiceSpec) -> dict[str, Any]:
    o = {**DEFAULTS, **spec.options}
    if isinstance(o["announce"], str):
        o["announce"] = o["announce"].lower()
    return o


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def endpoints(addresses: list[str], nodes: int, port: int) -> list[tuple[str, int]]:
    """Session i: address i mod A, port + i div A."""
    a = len(addresses)
    return [(addresses[i % a], port + i // a) for i in range(nodes)]


def krpc_ping(ns: str, addr: str, port: int) -> bool:
    """A BEP 5 ping with BEP 43's read-only flag: the node answers with its id and
    keeps the asker out of its routing table. True when a KRPC response comes back."""
    query = b"d1:ad2:id20:" + b"netlab-probe-0000000" + b"e1:q4:ping2:roi1e1:t2:nl1:y1:qe"
    sock = netns.socket_in(ns, socket.AF_INET, socket.SOCK_DGRAM)
    with sock:
        sock.settimeout(TIMEOUT)
        try:
            sock.sendto(query, (addr, port))
            reply = sock.recv(2048)
        except OSError:
            return False
    return reply.startswith(b"d") and b"1:t2:nl" in reply and b"1:y1:r" in reply


class DhtSwarmService(Service):
    type = "dht-swarm"
    ready_timeout = 40.0  # 64 nodes converge in about 4 s, 256 in about 8 s (2 cores)

    @classmethod
    def check(cls, topo: Topology, node: Node, spec: ServiceSpec) -> str | None:
        problem = unknown_options(spec, OPTIONS)
        if problem:
            return problem
        o = swarm_options(spec)
        if not _int(o["nodes"]) or not NODES_RANGE[0] <= o["nodes"] <= NODES_RANGE[1]:
            low, high = NODES_RANGE
            return f"nodes must be an integer within {low}–{high}, not {o['nodes']!r}"
        if problem := port_problem(o["port"]):
            return problem
        announce = o["announce"]
        if (
            not isinstance(announce, str)
            or len(announce) != 40
            or not set(announce) <= set("0123456789abcdef")
        ):
            return f"announce must be an info-hash of 40 hex digits, not {announce!r}"
        if not _int(o["seed"]):
            return f"seed must be an integer, not {o['seed']!r}"
        count = len([i for i in topo.addresses_of(node.name) if i.version == 4])
        if not count:
            return "the node needs an IPv4 address (the swarm is IPv4)"
        last = o["port"] + (o["nodes"] - 1) // count
        if last > 65535:
            return f"{o['nodes']} nodes on {count} address(es) from port {o['port']} pass 65535"
        return None

    @classmethod
    def listens(cls, spec: ServiceSpec) -> list[tuple[str, int]]:
        # At most port … port + nodes - 1 (all on one address); fewer with more addresses.
        o = swarm_options(spec)
        if not (_int(o["port"]) and _int(o["nodes"])):
            return []
        ports = range(o["port"], min(o["port"] + o["nodes"], 65536))
        return [(t, p) for p in ports for t in ("udp", "tcp")]

    # -- derived values --

    @property
    def opts(self) -> dict[str, Any]:
        return swarm_options(self.ctx.spec)

    @property
    def addresses(self) -> list[str]:
        ifaces = self.ctx.topo.addresses_of(self.ctx.node.name)
        return [str(i.ip) for i in ifaces if i.version == 4]

    @property
    def endpoints(self) -> list[tuple[str, int]]:
        return endpoints(self.addresses, self.opts["nodes"], self.opts["port"])

    @property
    def state_path(self) -> Path:
        return self.ctx.dir / STATE

    def config(self) -> dict[str, Any]:
        eps = self.endpoints
        return {
            "endpoints": [list(e) for e in eps],
            "announce": self.opts["announce"],
            "announcer": len(eps) - 1,
            # A node never asks itself in a lookup: with two nodes, session 0 holds the
            # peer alone, so the announcer checks its own announce through it.
            "verifier": 0 if len(eps) > 2 else len(eps) - 1,
            "k": min(K, len(eps) - 1),
            "seed": self.opts["seed"],
            "state": str(self.state_path),
            "downloads": str(self.ctx.dir / "downloads"),
        }

    def state(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return None

    # -- the service's jobs --

    def prepare(self) -> list[str]:
        require_libtorrent("dht-swarm service")
        (self.ctx.dir / "downloads").mkdir(exist_ok=True)
        self.state_path.unlink(missing_ok=True)  # ready() reads only what this run writes
        path = self.ctx.dir / "swarm.json"
        path.write_text(json.dumps(self.config(), indent=1) + "\n")
        return [PYTHON, "-W", "ignore::DeprecationWarning", str(SCRIPT), str(path)]

    def ready(self) -> bool:
        state = self.state()
        if not state or not state.get("converged"):
            return False
        if not all(n.get("node_id") for n in state.get("nodes", [])):
            return False
        ip, port = self.endpoints[0]
        return krpc_ping(self.ctx.netns, ip, port)

    def describe(self) -> dict[str, Any]:
        o, eps = self.opts, self.endpoints
        ip, port = eps[0]
        return {
            "program": "libtorrent",
            "nodes": o["nodes"],
            "ports": sorted({p for _, p in eps}),
            "addresses": self.addresses,
            "bootstrap": f"{ip}:{port}",
            "bootstrap_name": f"{self.ctx.node.name}:{port}",
            "info_hash": o["announce"],
            "announced_peer": f"{eps[-1][0]}:{eps[-1][1]}",
            "k": min(K, len(eps) - 1),
            "seed": o["seed"],
            "state": str(self.state_path),
        }
