"""Text and JSON for `netlab dht-lookup`: the hops round by round, the k closest, the
peers, the rounds against log2 of the network size, and (--table) our buckets."""

from __future__ import annotations

import math
from typing import Any


def _addr(addr: tuple[str, int]) -> str:
    host, port = addr
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def lines(core: Any, table: bool) -> list[str]:
    r = core.result
    mode = core.options.mode
    out = [
        f"{mode} {core.target.hex()} (our id {core.my_id.hex()}), α={core.options.alpha}, "
        f"k={core.options.k}"
    ]
    out.append(
        " round  node id                                   address               "
        "bucket  distance (hex)                             rtt ms  nodes  closer"
    )
    for h in r.hops:
        mark = "yes" if h.closer else "-"
        peers = f"  +{h.peers} peer(s)" if h.peers else ""
        out.append(
            f" {h.round:5}  {h.node_id.hex()}  {_addr(h.addr):21} {h.bucket:6}  "
            f"{h.distance:040x}  {h.rtt_ms:7.3f}  {h.returned:5}  {mark:6}{peers}"
        )
    closest = core.closest()
    if closest:
        out += ["", f"the {len(closest)} closest nodes:"]
        for n in closest:
            d = core._distance(n)
            out.append(f"  {n.id.hex()}  {_addr(n.addr):21}  bucket {160 - d.bit_length()}")
    if mode == "get_peers":
        out += ["", f"peers ({len(r.peers)}): " + (", ".join(_addr(p) for p in r.peers) or "none")]
    if r.samples:
        out += ["", "sample_infohashes:"]
        for addr, samples, num in r.samples:
            out.append(
                f"  {_addr(addr)}: {len(samples)} sample(s) of {num if num is not None else '?'}"
            )
            out += [f"    {s.hex()}" for s in samples[:20]]
    for addr, outcome in r.announced:
        out.append(f"announce_peer to {_addr(addr)}: {outcome}")
    n = core.estimated_nodes()
    bound = math.ceil(math.log2(n)) if n and n > 1 else 0
    out += [
        "",
        f"{core.rounds()} round(s), {r.queries} queries, {r.timeouts} timeout(s); "
        f"network of about {n or '?'} nodes: ⌈log2 N⌉ = {bound}",
    ]
    if r.ignored or r.malformed or r.errors:
        out.append(
            f"ignored {r.ignored} node(s)/peer(s) past limits or malformed, "
            f"{r.malformed} datagram(s) not answers to us, {len(r.errors)} error(s)"
        )
    for addr, code, message in r.errors:
        out.append(f"  error from {_addr(addr)}: {code} {message}")
    if table:
        out += ["", "routing table (answered nodes by k-bucket = shared prefix with our id):"]
        out += [f"  bucket {b:3}: {'#' * c} {c}" for b, c in core.table().items()]
    return out


def round_best(core: Any) -> list[dict]:
    """After each round, the smallest distance reached so far (over the nodes that
    answered in that round or before): the lookup converging on the target. A round's
    own nodes may be farther than an earlier round's luckiest answer; what shrinks is
    the best distance known, by about a bit per round or more."""
    per_round: dict[int, int] = {}
    for h in core.result.hops:
        per_round[h.round] = min(per_round.get(h.round, h.distance), h.distance)
    out, best = [], None
    for r, d in sorted(per_round.items()):
        best = d if best is None else min(best, d)
        out.append(
            {
                "round": r,
                "distance": f"{best:040x}",
                "bucket": 160 - best.bit_length(),
                "round_distance": f"{d:040x}",
            }
        )
    return out


def document(core: Any, table: bool) -> dict:
    r = core.result
    n = core.estimated_nodes()
    return {
        "target": core.target.hex(),
        "mode": core.options.mode,
        "our_id": core.my_id.hex(),
        "rounds": core.rounds(),
        "queries": r.queries,
        "timeouts": r.timeouts,
        "hops": [
            {
                "round": h.round,
                "node_id": h.node_id.hex(),
                "addr": _addr(h.addr),
                "distance": f"{h.distance:040x}",
                "bucket": h.bucket,
                "rtt_ms": h.rtt_ms,
                "returned": h.returned,
                "closer": h.closer,
                "peers": h.peers,
                "ignored": h.ignored,
                "client": h.client.hex() if h.client else None,
            }
            for h in r.hops
        ],
        "closest": [{"node_id": c.id.hex(), "addr": _addr(c.addr)} for c in core.closest()],
        "peers": [_addr(p) for p in r.peers],
        "announced": [{"addr": _addr(a), "outcome": o} for a, o in r.announced],
        "samples": [
            {"addr": _addr(a), "samples": [s.hex() for s in ss], "num": num}
            for a, ss, num in r.samples
        ],
        "round_best": round_best(core),
        "estimated_nodes": n,
        "log2_bound": math.ceil(math.log2(n)) if n and n > 1 else 0,
        "first_peer_ms": round((r.first_peer_at - r.started_at) / 1e6, 3)
        if r.first_peer_at
        else None,
        "errors": [{"addr": _addr(a), "code": c, "message": m} for a, c, m in r.errors],
        "ignored": r.ignored,
        "malformed": r.malformed,
        "table": {str(b): c for b, c in core.table().items()} if table else None,
        "error": r.error,
    }
