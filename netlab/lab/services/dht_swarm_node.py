"""A swarm of libtorrent DHT nodes in one process: the `dht-swarm` lab service's program.

Run by Debian's /usr/bin/python3 (python3-libtorrent is bound to it, not to netlab's
venv), inside the lab node, as ``/usr/bin/python3 dht_swarm_node.py CONFIG.json``.
It imports nothing from netlab (lt_program.py beside it is standard library only).
The config (written by `netlab.lab.services.dht`):

    {"endpoints": [["198.18.17.10", 6881], …],   one libtorrent session each
     "announce": "<40 hex>", "announcer": 63, "verifier": 0, "k": 8, "seed": 1,
     "state": ".../state.json", "downloads": ".../downloads"}

Every session is a full libtorrent session with only the DHT doing anything: no
LSD, UPnP, NAT-PMP, no router node (``dht_bootstrap_nodes`` is empty from the
session's construction, so libtorrent's default one on the internet never applies),
no trackers, no torrents but the announcer's. The restrictions meant for the
internet are off (one node per IP in a routing table or a lookup, the per-IP rate
block, dark-internet filtering): here many nodes share an address.

Node ids are made here, BEP 42-valid for each session's address, from a generator
seeded with "seed": the same ids on every run. Session 0 starts alone; each later
one gets session 0 and BOOTSTRAP_PEERS random earlier ones as saved DHT state
("nodes"), bootstraps from them (a lookup of its own id) and keeps those that
answer; a session still short of k nodes after REJOIN_AFTER_S pings a few more.

Once every routing table holds k nodes, the announcer joins the info-hash's torrent,
so libtorrent announces it (``get_peers``, then ``announce_peer`` from its listen
port to the k closest nodes that answered), and again every ANNOUNCE_INTERVAL_S;
the verifier then looks the info-hash up (``get_peers``) every VERIFY_EVERY_S until
the announced peer comes back. The state file (rewritten atomically, every
FAST_UPDATE_S until converged, then every UPDATE_S) is what the service's readiness
probe and the tests read: see `netlab.lab.services.dht` for its format.
"""

from __future__ import annotations

import os
import random
import socket
import sys
import time

try:  # run as a program: Python put this file's folder first on sys.path
    import lt_program
except ModuleNotFoundError:  # imported as a module of netlab (the tests read its helpers)
    from netlab.lab.services import lt_program

UPDATE_S = 5.0  # state file period once converged
FAST_UPDATE_S = 0.5  # … and before
ANNOUNCE_INTERVAL_S = 300  # libtorrent keeps an announced peer 30 min
REANNOUNCE_S = 2.0  # until the k closest nodes hold the peer
VERIFY_EVERY_S = 1.0  # get_peers from the verifier until the announced peer comes back
BOOTSTRAP_PEERS = 3  # random earlier sessions a new one bootstraps from, besides 0
LISTEN_WAIT_S = 1.0  # at most, for a new session's socket before the next one starts
INTRODUCE_AGAIN_S = 1.0  # after the first introduction of nearest nodes
REJOIN_AFTER_S = 2.0  # a session short of k nodes by then asks some others itself
POLL_S = 0.1


def settings(lt, endpoint: tuple[str, int]) -> dict:
    ip, port = endpoint
    mask = (
        lt.alert.category_t.dht_notification
        | lt.alert.category_t.dht_operation_notification
        | lt.alert.category_t.error_notification
        | lt.alert.category_t.status_notification
    )
    return {
        "listen_interfaces": f"{ip}:{port}",
        "outgoing_interfaces": ip,
        "max_retry_port_bind": 0,  # the port asked for, or fail: the state file names it
        "enable_dht": False,  # turned on once listening: see Swarm.start
        # No router nodes: a router never enters a routing table, and libtorrent's
        # default one is on the internet. The bootstrap nodes come as saved DHT
        # state instead (Swarm.start): ordinary nodes, kept when they answer.
        "dht_bootstrap_nodes": "",
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_ip_notifier": False,
        # Internet safeguards that would cripple a swarm living on a few addresses.
        "dht_restrict_routing_ips": False,
        "dht_restrict_search_ips": False,
        "dht_enforce_node_id": False,
        "dht_prefer_verified_node_ids": False,
        "dht_ignore_dark_internet": False,
        "dht_block_ratelimit": 100000,
        "dht_upload_rate_limit": 1 << 20,
        "dht_announce_interval": ANNOUNCE_INTERVAL_S,
        # Plain k-buckets of 8 (BEP 5), not libtorrent's larger first buckets (128, 64,
        # 32, 16), which would hold a whole small swarm in one bucket of every table:
        # a lookup then takes the rounds Kademlia predicts.
        "dht_extended_routing_table": False,
        # One process, many sessions: keep each one's threads and sockets few.
        "aio_threads": 1,
        "hashing_threads": 1,
        "file_pool_size": 1,
        "connections_limit": 20,
        "alert_mask": int(mask),
        "alert_queue_size": 2000,
    }


SAFE = {
    "enable_lsd": False,
    "enable_upnp": False,
    "enable_natpmp": False,
    "dht_bootstrap_nodes": "",
}


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), as BEP 42 uses it."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def _bep42_prefix(ip: str, r: int) -> int:
    masked = bytearray(socket.inet_aton(ip))
    for i, mask in enumerate((0x03, 0x0F, 0x3F, 0xFF)):
        masked[i] &= mask
    masked[0] |= (r & 7) << 5
    return crc32c(bytes(masked))


def bep42_valid(nid: bytes, ip: str) -> bool:
    """libtorrent's verify_id for an IPv4 address: the id's first 21 bits match."""
    c = _bep42_prefix(ip, nid[19])
    return (
        nid[0] == (c >> 24) & 0xFF
        and nid[1] == (c >> 16) & 0xFF
        and (nid[2] & 0xF8) == ((c >> 8) & 0xF8)
    )


def bep42_id(ip: str, rng: random.Random) -> bytes:
    """A node id valid for `ip` under BEP 42 (what libtorrent would pick for a node on
    a public address): the first 21 bits from CRC-32C of the masked address and a
    random r of 3 bits, the last byte r, the rest random."""
    r = rng.randrange(256)
    c = _bep42_prefix(ip, r)
    nid = bytearray(rng.randbytes(20))
    nid[0], nid[1] = (c >> 24) & 0xFF, (c >> 16) & 0xFF
    nid[2] = ((c >> 8) & 0xF8) | (nid[2] & 7)
    nid[19] = r
    return bytes(nid)


class Swarm:
    def __init__(self, config: dict) -> None:
        import libtorrent as lt

        self.lt = lt
        self.config = config
        self.k = int(config.get("k", 8))
        self.endpoints = [(str(ip), int(port)) for ip, port in config["endpoints"]]
        self.info_hash = config["announce"]
        self.announcer = int(config.get("announcer", len(self.endpoints) - 1))
        self.verifier = int(config.get("verifier", 0))
        self.downloads = config.get("downloads", ".")
        self.state_path = config["state"]
        self.rng = random.Random(config.get("seed", 1))
        self.sessions: list = []
        self.tables: list[dict] = [{"nodes": 0, "replacements": 0, "buckets": 0}] * len(
            self.endpoints
        )
        self.ids: list[str | None] = [None] * len(self.endpoints)
        self.given_ids: list[str] = []
        self.t0 = time.time()
        self.announced_at: float | None = None
        self.verified_at: float | None = None
        self.placed_at: float | None = None
        self.announce_sent = 0.0
        self.announces = 0
        self.torrent = None
        self.converged_at: float | None = None
        self.verify_sent = 0.0
        self.incoming_announces = 0
        self.stored: list[int] = [0] * len(self.endpoints)  # announces received, per node
        self.errors: list[str] = []

    # -- start --

    def start(self) -> None:
        """Sessions one by one, each with a node id made here (BEP 42-valid for its
        address, from the seeded generator: the same ids on every run). libtorrent
        keeps a given id only if it knows its external address when the DHT starts,
        which it learns from the bound address once listening: so the DHT is turned
        on after that, else the node would start with a random id and change it a
        few seconds later, when other nodes tell it its address."""
        lt = self.lt
        for i, endpoint in enumerate(self.endpoints):
            earlier = self.endpoints[1:i]
            bootstrap = [self.endpoints[0]] if i else []
            bootstrap += self.rng.sample(earlier, min(BOOTSTRAP_PEERS, len(earlier)))
            pack = {k: int(v) if isinstance(v, bool) else v
                    for k, v in settings(lt, endpoint).items()}  # fmt: skip
            nid = bep42_id(endpoint[0], self.rng)
            self.given_ids.append(nid.hex())
            state = {
                "node-id": [nid + socket.inet_aton(endpoint[0])],
                "nodes": [socket.inet_aton(h) + p.to_bytes(2, "big") for h, p in bootstrap],
            }
            params = lt.read_session_params(lt.bencode({"settings": pack, "dht state": state}))
            session = lt.session(params)
            applied = session.get_settings()
            if any(applied[k] != v for k, v in SAFE.items()):
                raise SystemExit(f"session {i}: libtorrent did not take the settings")
            self.sessions.append(session)
            deadline = time.monotonic() + LISTEN_WAIT_S  # bounded
            while not session.is_listening() and time.monotonic() < deadline:
                time.sleep(0.002)
            session.apply_settings({"enable_dht": True})  # bootstraps from state["nodes"]

    def introduce(self) -> None:
        """Each session pings its k nearest nodes by XOR (the ids are ours, so known):
        what a long-lived Kademlia network has and a swarm started a second ago lacks.
        A session that started late would otherwise sit in the replacement caches of
        the full buckets it falls in, unknown to lookups, while being among the
        closest to some target. An answer puts each in the other's table."""
        ids = [int(h, 16) for h in self.given_ids]
        for i, session in enumerate(self.sessions):
            near = sorted((j for j in range(len(ids)) if j != i), key=lambda j: ids[j] ^ ids[i])
            for j in near[: self.k]:
                session.add_dht_node(self.endpoints[j])

    def rejoin(self) -> None:
        """A session whose table is still short of k (its bootstrap queries were lost,
        or it is session 0, which bootstraps from no one) pings session 0 and a few
        random others: each answer enters its table. libtorrent alone would retry
        only at its next self-refresh, ten minutes on."""
        for i, session in enumerate(self.sessions):
            if self.tables[i]["nodes"] >= self.k:
                continue
            others = [e for j, e in enumerate(self.endpoints) if j != i]
            picks = self.rng.sample(others, min(BOOTSTRAP_PEERS, len(others)))
            if i:
                picks.append(self.endpoints[0])
            for node in picks:
                session.add_dht_node(node)

    # -- the loop --

    def poll(self) -> None:
        for i, session in enumerate(self.sessions):
            for alert in session.pop_alerts():
                self.on_alert(i, alert)

    def on_alert(self, i: int, alert) -> None:
        lt = self.lt
        if isinstance(alert, lt.dht_stats_alert):
            buckets = alert.routing_table
            self.tables[i] = {
                "nodes": sum(b["num_nodes"] for b in buckets),
                "replacements": sum(b["num_replacements"] for b in buckets),
                "buckets": len(buckets),
            }
        elif isinstance(alert, lt.dht_get_peers_reply_alert):
            if str(alert.info_hash) == self.info_hash and i == self.verifier:
                peers = {(str(ip), int(port)) for ip, port in alert.peers()}
                if self.announced_peer() in peers and self.verified_at is None:
                    self.verified_at = time.time()
        elif isinstance(alert, lt.dht_announce_alert):
            if str(alert.info_hash) == self.info_hash:
                self.incoming_announces += 1
                self.stored[i] += 1
        elif isinstance(alert, lt.listen_failed_alert):
            self.errors.append(f"session {i}: {alert.message()}")
            print(f"dht swarm: session {i}: {alert.message()}", flush=True)

    def announced_peer(self) -> tuple[str, int]:
        return self.endpoints[self.announcer]

    def add_torrent(self) -> None:
        """The announcer joins the torrent of the info-hash (a magnet link's worth: no
        metadata, no tracker), so libtorrent announces it in the DHT, from its listen
        port, and again every ANNOUNCE_INTERVAL_S. (Session.dht_announce cannot be
        called from Python 2.0.8: its flags type has no converter, libtorrent#7443.)"""
        lt = self.lt
        params = lt.add_torrent_params()
        params.info_hashes = lt.info_hash_t(lt.sha1_hash(bytes.fromhex(self.info_hash)))
        params.name = "announced"
        params.save_path = self.downloads
        params.flags &= ~lt.torrent_flags.auto_managed
        params.flags &= ~lt.torrent_flags.paused
        self.torrent = self.sessions[self.announcer].add_torrent(params)
        self.announces += 1

    def step(self, now: float) -> None:
        lt = self.lt
        # Announce once every table holds k nodes: the announcer's lookup then finds
        # the nodes truly closest to the info-hash, not only those that were up first.
        # Again, every REANNOUNCE_S, until those k nodes all hold the peer.
        if self.announced_at is None and self.filled():
            self.add_torrent()
            self.announced_at = self.announce_sent = now
        elif (
            self.torrent is not None
            and self.placed_at is None
            and now - self.announce_sent > REANNOUNCE_S
        ):
            self.torrent.force_dht_announce()
            self.announces += 1
            self.announce_sent = now
        if self.placed_at is None and self.announced_at is not None and self.placed():
            self.placed_at = now
        if (
            self.announced_at is not None
            and self.verified_at is None
            and now - self.verify_sent > VERIFY_EVERY_S
        ):
            self.sessions[self.verifier].dht_get_peers(lt.sha1_hash(bytes.fromhex(self.info_hash)))
            self.verify_sent = now
        if self.converged_at is None and self.converged():
            self.converged_at = now
            sizes = [t["nodes"] for t in self.tables]
            print(
                f"dht swarm: converged after {now - self.t0:.1f} s: routing tables hold "
                f"{min(sizes)}–{max(sizes)} nodes; the {self.k} nodes closest to the info-hash "
                f"hold the peer ({self.announces} announces); session {self.verifier} "
                "found it with get_peers",
                flush=True,
            )

    def filled(self) -> bool:
        return all(t["nodes"] >= self.k for t in self.tables)

    def closest(self) -> list[int] | None:
        """The k nodes closest to the info-hash by XOR, the announcer left out (it does
        not announce to itself): where Kademlia puts the peer. None until every id is
        known."""
        ids = self.ids
        if any(i is None for i in ids):
            return None
        target = int(self.info_hash, 16)
        others = (i for i in range(len(ids)) if i != self.announcer)
        return sorted(others, key=lambda i: int(ids[i], 16) ^ target)[: self.k]

    def placed(self) -> bool:
        closest = self.closest()
        return closest is not None and all(self.stored[i] for i in closest)

    def converged(self) -> bool:
        return self.verified_at is not None and self.placed_at is not None and self.filled()

    def refresh(self) -> None:
        """Node ids (they may change when libtorrent learns its external address) and
        routing-table sizes (dht_stats_alert, handled on the next poll)."""
        flags = self.lt.save_state_flags_t.save_dht_state
        for i, session in enumerate(self.sessions):
            session.post_dht_stats()
            state = session.save_state(flags).get(b"dht state", {})
            for entry in state.get(b"node-id", []):
                self.ids[i] = entry[:20].hex()

    # -- the state file --

    def state(self, now: float) -> dict:
        ip, port = self.announced_peer()
        nodes = [
            {
                "index": i,
                "node_id": self.ids[i],
                "addr": f"{h}:{p}",
                "ip": h,
                "port": p,
                "routing_table": self.tables[i]["nodes"],
                "replacements": self.tables[i]["replacements"],
                "buckets": self.tables[i]["buckets"],
                "announces_received": self.stored[i],
            }
            for i, (h, p) in enumerate(self.endpoints)
        ]
        sizes = [t["nodes"] for t in self.tables]

        def rel(t: float | None) -> float | None:
            return None if t is None else round(t - self.t0, 3)

        return {
            "format": 1,
            "pid": os.getpid(),
            "started": round(self.t0, 3),
            "updated": round(now, 3),
            "count": len(nodes),
            "k": self.k,
            "bootstrap": nodes[0]["addr"],
            "info_hash": self.info_hash,
            "announce": {
                "info_hash": self.info_hash,
                "peer": f"{ip}:{port}",
                "ip": ip,
                "port": port,
                "by": self.announcer,
                "by_node_id": self.ids[self.announcer],
                "announced_s": rel(self.announced_at),
                "verified_s": rel(self.verified_at),
                "verified_by": self.verifier,
                "incoming_announces": self.incoming_announces,
                "announces": self.announces,
                "closest": self.closest(),
                "stored_by": [i for i, n in enumerate(self.stored) if n],
                "placed_s": rel(self.placed_at),
            },
            "converged": self.converged_at is not None,
            "converged_s": rel(self.converged_at),
            "routing_table_min": min(sizes),
            "routing_table_max": max(sizes),
            "errors": self.errors[-10:],
            "nodes": nodes,
        }

    def write_state(self, now: float) -> None:
        lt_program.write_state(self.state_path, self.state(now))

    def run(self) -> None:
        self.start()
        self.introduce()
        again = time.time() + INTRODUCE_AGAIN_S  # once more: a first ping may be lost
        next_write = 0.0
        while True:  # until SIGTERM (the lab going down)
            now = time.time()
            if again and now >= again:
                self.introduce()
                again = 0.0
            self.poll()
            self.step(now)
            if now >= next_write:
                if self.converged_at is None and now - self.t0 > REJOIN_AFTER_S:
                    self.rejoin()
                self.refresh()
                time.sleep(0.05)  # the stats alerts: read on this round
                self.poll()
                self.step(now)
                self.write_state(now)
                period = UPDATE_S if self.converged_at is not None else FAST_UPDATE_S
                next_write = now + period
            time.sleep(POLL_S)


def main(argv: list[str]) -> int:
    config = lt_program.start(argv, "dht_swarm_node.py")
    if config is None:
        return 2
    swarm = Swarm(config)
    print(
        f"dht swarm: {len(swarm.endpoints)} sessions on "
        f"{sorted({ip for ip, _ in swarm.endpoints})}, announcing {swarm.info_hash}",
        flush=True,
    )
    swarm.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
