"""`dht-lookup`: a Kademlia lookup (BEP 5) that keeps the path it took.

Every node and every torrent has a 160-bit id; the distance between two ids is
their XOR, read as a number. A lookup for TARGET asks the closest nodes it knows
for closer ones (`get_peers` for an info-hash, `find_node` for a node id), α = 3
queries in flight, and stops when the k = 8 closest nodes it has seen have all
answered (or failed): each round roughly halves the distance, so about log2 N
rounds find the target in a network of N nodes. Every answer is one `Hop` —
round, node, distance (hex, and as leading zero bits: the k-bucket it falls in),
RTT, how many nodes it returned and whether it got us closer.

One UDP socket on the socket runner; the core holds no socket. Bounded against
hostile nodes: answers with too many nodes or lying compact lengths are cut and
counted, a node that only names itself brings nothing, total queries and the time
per query are capped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from netlab.core.base import NS, CoreBase, Datagram, Open, SocketError
from netlab.wire import krpc

ALPHA, K = 3, 8
MAX_QUERIES = 400
MAX_CANDIDATES = 4096


@dataclass(frozen=True)
class LookupOptions:
    mode: str = "get_peers"  # "get_peers", "find_node", "sample_infohashes" or "ping"
    alpha: int = ALPHA
    k: int = K
    query_timeout: float = 1.0
    retries: int = 1
    announce_port: int | None = None  # announce_peer to the k closest, with their tokens
    deadline: float = 30.0  # the whole lookup


@dataclass
class Candidate:
    addr: tuple[str, int]
    id: bytes | None  # unknown for a bootstrap node until it answers
    round: int
    state: str = "new"  # new, querying, answered, failed
    tries: int = 0
    sent_at: int | None = None
    token: bytes | None = None


@dataclass
class Hop:
    round: int
    node_id: bytes
    addr: tuple[str, int]
    distance: int
    bucket: int
    rtt_ms: float
    returned: int
    closer: bool
    peers: int
    ignored: int = 0
    client: bytes | None = None


@dataclass
class LookupResult:
    hops: list[Hop] = field(default_factory=list)
    peers: list[tuple[str, int]] = field(default_factory=list)
    queries: int = 0
    timeouts: int = 0
    errors: list[tuple[tuple[str, int], int, str]] = field(default_factory=list)
    ignored: int = 0  # nodes/peers dropped from answers (limits, malformed compact data)
    malformed: int = 0  # datagrams that were not KRPC, or answers we did not ask for
    announced: list[tuple[tuple[str, int], str]] = field(default_factory=list)  # (addr, outcome)
    samples: list[tuple[tuple[str, int], list[bytes], int | None]] = field(default_factory=list)
    first_peer_at: int | None = None
    started_at: int = 0
    done_at: int | None = None
    error: str | None = None


class DhtLookup(CoreBase):
    CONN = "dht"

    def __init__(
        self,
        target: bytes,
        bootstrap: list[tuple[str, int]],
        options: LookupOptions,
        random: Any = os.urandom,
    ) -> None:
        super().__init__()
        self.target, self.options = target, options
        self.my_id = random(20)
        self.result = LookupResult()
        self.nodes: dict[tuple[str, int], Candidate] = {}
        for addr in bootstrap:
            self.nodes[addr] = Candidate(addr, None, 1)
        self.pending: dict[bytes, tuple[str, tuple[str, int]]] = {}  # tid → (method, addr)
        self._tid = 0
        self._best: int | None = None  # the smallest distance seen so far
        self._now = 0
        self._announcing = False
        self._end: int | None = None

    # --- the session-core interface -------------------------------------------------------
    def start(self, now: int) -> list:
        self._now = self.result.started_at = now
        self._end = now + int(self.options.deadline * NS)
        # One socket, one family: the bootstrap nodes' (IPv4 unless all are IPv6).
        self.ipv6 = bool(self.nodes) and all(":" in a[0] for a in self.nodes)
        return [
            Open(self.CONN, "udp", local=("::" if self.ipv6 else "0.0.0.0", 0)),
            *self._pump(now),
        ]

    def on_connected(self, conn: Any, info: Any, now: int) -> list:
        return []

    def on_data(self, conn: Any, data: bytes, now: int) -> list:
        return []

    def on_datagram(self, conn: Any, data: bytes, addr: tuple, now: int) -> list:
        self._now = now
        addr = (addr[0], addr[1])
        try:
            msg = krpc.parse(data)
        except krpc.KrpcError:
            self.result.malformed += 1
            return []
        expected = self.pending.get(msg.tid)
        if msg.kind == "q" or expected is None or expected[1] != addr:
            self.result.malformed += 1  # not an answer to us (a query, or forged)
            return []
        del self.pending[msg.tid]
        method = expected[0]
        if method == "announce_peer":
            outcome = "ok" if msg.kind == "r" else f"error {msg.error[0]} {msg.error[1]}"
            self.result.announced.append((addr, outcome))
            return self._finish_if_done(now)
        node = self.nodes.get(addr)
        if node is None:
            return []
        if msg.kind == "e":
            node.state = "failed"
            self.result.errors.append((addr, *msg.error))
            return self._pump(now)
        return self._answer(node, msg, now)

    def on_error(self, conn: Any, err: SocketError, now: int) -> list:
        # ICMP port unreachable from one node: that node failed; the lookup goes on.
        for tid, (_method, addr) in list(self.pending.items()):
            node = self.nodes.get(addr)
            if node and node.state == "querying" and err.refused:
                node.state = "failed"
                del self.pending[tid]
                break
        if err.op == "connect":
            self.result.error = f"cannot open a UDP socket: {err.reason}"
            self._finish(now)
            return []
        return self._pump(now)

    def on_timer(self, now: int) -> list:
        self._now = now
        if self._end is not None and now >= self._end:
            self.result.error = (
                self.result.error or f"the lookup took longer than {self.options.deadline:g} s"
            )
            return self._stop(now)
        limit = int(self.options.query_timeout * NS)
        out: list = []
        for tid, (method, addr) in list(self.pending.items()):
            node = self.nodes.get(addr)
            sent = node.sent_at if node else None
            if method == "announce_peer":
                continue
            if sent is not None and now - sent >= limit:
                del self.pending[tid]
                self.result.timeouts += 1
                if node.tries <= self.options.retries:
                    out += self._send(node, now)
                else:
                    node.state = "failed"
        return out + self._pump(now)

    def deadline(self) -> int | None:
        if self._finished:
            return None
        times = [
            n.sent_at + int(self.options.query_timeout * NS)
            for n in self.nodes.values()
            if n.state == "querying" and n.sent_at is not None
        ]
        if self._end is not None:
            times.append(self._end)
        return min(times) if times else self._now + NS

    def interrupt(self, now: int) -> None:
        if not self._finished:
            self.result.error = "interrupted"
            self.result.done_at = now
            self._finish(now)

    # --- the lookup --------------------------------------------------------------------------
    def _distance(self, node: Candidate) -> int:
        return krpc.distance(node.id, self.target) if node.id else 1 << 160

    def _closest(self) -> list[Candidate]:
        alive = [n for n in self.nodes.values() if n.state != "failed"]
        return sorted(alive, key=self._distance)[: self.options.k]

    def _pump(self, now: int) -> list:
        if self._finished or self._announcing:
            return []
        out: list = []
        in_flight = sum(1 for n in self.nodes.values() if n.state == "querying")
        for node in self._closest():
            if in_flight >= self.options.alpha or self.result.queries >= MAX_QUERIES:
                break
            if node.state == "new":
                out += self._send(node, now)
                in_flight += 1
        if in_flight == 0:
            return out + self._lookup_done(now)
        return out

    def _send(self, node: Candidate, now: int) -> list:
        self._tid = (self._tid + 1) & 0xFFFF
        tid = self._tid.to_bytes(2, "big")
        method = self.options.mode
        args: dict = {"id": self.my_id}
        if method == "get_peers":
            args["info_hash"] = self.target
        elif method in ("find_node", "sample_infohashes"):
            args["target"] = self.target
        node.state, node.sent_at = "querying", now
        node.tries += 1
        self.pending[tid] = (method, node.addr)
        self.result.queries += 1
        return [Datagram(self.CONN, krpc.query(tid, method, args), node.addr)]

    def _answer(self, node: Candidate, msg: krpc.Message, now: int) -> list:
        r = self.result
        node_id = msg.node_id
        if node_id is None:
            node.state = "failed"
            r.malformed += 1
            return self._pump(now)
        node.id, node.state, node.token = node_id, "answered", msg.token
        d = krpc.distance(node_id, self.target)
        before = self._best
        added = 0
        for info in msg.nodes:
            if info.addr in self.nodes or len(self.nodes) >= MAX_CANDIDATES:
                continue
            if info.id == self.my_id or (":" in info.host) != self.ipv6:
                continue  # ourselves, or a node our socket's family cannot reach
            self.nodes[info.addr] = Candidate(info.addr, info.id, node.round + 1)
            added += 1
        best_new = min((krpc.distance(i.id, self.target) for i in msg.nodes), default=None)
        candidates = [x for x in (d, best_new) if x is not None]
        self._best = min([*candidates, *([before] if before is not None else [])])
        closer = before is None or self._best < before
        for peer in msg.peers:
            if peer not in r.peers:
                r.peers.append(peer)
                r.first_peer_at = r.first_peer_at or now
        if self.options.mode == "sample_infohashes":
            raw = msg.args.get("samples")
            samples = (
                [raw[i : i + 20] for i in range(0, len(raw) - 19, 20)]
                if isinstance(raw, bytes)
                else []
            )
            num = msg.args.get("num") if isinstance(msg.args.get("num"), int) else None
            r.samples.append((node.addr, samples, num))
        r.ignored += msg.ignored
        r.hops.append(
            Hop(
                node.round,
                node_id,
                node.addr,
                d,
                krpc.bucket(node_id, self.target),
                round((now - node.sent_at) / 1e6, 3),
                len(msg.nodes),
                closer,
                len(msg.peers),
                msg.ignored,
                msg.client,
            )
        )
        if self.options.mode == "ping":
            return self._lookup_done(now)
        return self._pump(now)

    def _lookup_done(self, now: int) -> list:
        """The k closest have all answered (or failed): announce if asked, then end."""
        port = self.options.announce_port
        if port is not None and not self._announcing and self.options.mode == "get_peers":
            self._announcing = True
            out: list = []
            for node in self._closest():
                if node.state == "answered" and node.token:
                    self._tid = (self._tid + 1) & 0xFFFF
                    tid = self._tid.to_bytes(2, "big")
                    args = {
                        "id": self.my_id,
                        "info_hash": self.target,
                        "port": port,
                        "token": node.token,
                        "implied_port": 0,
                    }
                    self.pending[tid] = ("announce_peer", node.addr)
                    self.result.queries += 1
                    out.append(
                        Datagram(self.CONN, krpc.query(tid, "announce_peer", args), node.addr)
                    )
            self._announce_end = now + int(self.options.query_timeout * NS)
            self._end = min(self._end or self._announce_end, self._announce_end)
            return out or self._stop(now)
        if self._announcing:
            return self._finish_if_done(now)
        return self._stop(now)

    def _finish_if_done(self, now: int) -> list:
        if not any(m == "announce_peer" for m, _ in self.pending.values()):
            return self._stop(now)
        return []

    def _stop(self, now: int) -> list:
        if self._announcing and self.result.error and "longer than" in self.result.error:
            self.result.error = None  # the announce window ended, not the lookup
        self.result.done_at = now
        self._finish(now)
        return []

    # --- what the renderer reads --------------------------------------------------------------
    def closest(self) -> list[Candidate]:
        answered = [n for n in self.nodes.values() if n.state == "answered" and n.id]
        return sorted(answered, key=self._distance)[: self.options.k]

    def rounds(self) -> int:
        return max((h.round for h in self.result.hops), default=0)

    def estimated_nodes(self) -> int | None:
        """N ≈ k · 2^160 / d_k: the k closest ids spread over d_k of the id space."""
        closest = self.closest()
        if len(closest) < self.options.k:
            return len([n for n in self.nodes.values() if n.id]) or None
        dk = self._distance(closest[-1])
        return max(1, round(self.options.k * (1 << 160) / max(dk, 1)))

    def table(self) -> dict[int, int]:
        """Our routing table after the lookup: answered nodes per k-bucket (by our id)."""
        buckets: dict[int, int] = {}
        for n in self.nodes.values():
            if n.state == "answered" and n.id:
                b = krpc.bucket(n.id, self.my_id)
                buckets[b] = min(buckets.get(b, 0) + 1, self.options.k)
        return dict(sorted(buckets.items()))
