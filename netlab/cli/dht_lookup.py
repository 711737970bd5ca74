"""`netlab dht-lookup`: a Kademlia lookup in the BitTorrent DHT, hop by hop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from netlab.cli.options import Common, client_options, command, seconds_option
from netlab.cli.plotopts import draw, plot_flag_options
from netlab.errors import ExitStatus, InputError


@command("dht-lookup", "Look up an info-hash or node id in the BitTorrent DHT, hop by hop (BEP 5).")
@click.argument("target", required=False, metavar="INFOHASH|MAGNET")
@click.option(
    "--bootstrap",
    "-b",
    "bootstraps",
    multiple=True,
    required=True,
    metavar="HOST:PORT",
    help="A DHT node to start from (repeatable).",
)
@click.option("--find-node", "node_id", metavar="ID", help="Look up a node id (find_node).")
@click.option(
    "--announce",
    "announce_port",
    type=click.IntRange(1, 65535),
    metavar="PORT",
    help="Then announce_peer to the k closest nodes, with their tokens.",
)
@click.option("--sample", is_flag=True, help="BEP 51: sample_infohashes near the target.")
@click.option("--ping", is_flag=True, help="Only ping the bootstrap node(s).")
@click.option("--table", is_flag=True, help="Show our routing table's buckets after the lookup.")
@click.option(
    "-a",
    "--alpha",
    type=click.IntRange(1, 16),
    default=3,
    show_default=True,
    help="Queries in flight.",
)
@click.option(
    "-k",
    type=click.IntRange(1, 32),
    default=8,
    show_default=True,
    help="Bucket size: the lookup ends when the k closest have answered.",
)
@seconds_option("--query-timeout", default=1.0, help="How long to wait for each node.")
@plot_flag_options("the best XOR distance to the target after each round")
@client_options(timeout=30.0)
def dht_lookup(common: Common, target: str | None, **options: Any) -> ExitStatus:
    """Find the nodes closest to TARGET (an info-hash in hex, or a magnet link) by asking
    the closest nodes known for closer ones, ALPHA at a time, until the K closest seen
    have all answered; get_peers on the way collects the peers of the torrent. Each
    answer is a hop: round, node id, address, XOR distance to the target (hex, and
    its leading zero bits: the k-bucket it falls in), RTT, nodes returned, closer or
    not. Then the k closest nodes, the peers, the rounds used against log2 of the
    network size estimated from the ids.

    Exit 0 when peers were found (or, for --find-node/--sample/--ping, the nodes
    answered), 1 when nothing was found, 2 on bad input.

    \b
    Examples:
      netlab dht-lookup 0123456789abcdef0123456789abcdef01234567 -b 198.18.60.1:6881
      netlab dht-lookup 'magnet:?xt=urn:btih:…' -b node1:6881 --announce 6881
      netlab dht-lookup --find-node 8000000000000000000000000000000000000000 -b node1:6881
      netlab dht-lookup --json HASH -b node1:6881 | jq '.hops[] | .bucket'
    """
    o = DhtOptions(**options)
    wanted, mode = _wanted(target, o)
    if o.announce_port is not None and mode != "get_peers":
        raise InputError("--announce goes with an info-hash lookup (get_peers)")
    nodes = [_bootstrap(b) for b in o.bootstraps]
    return _run(common, wanted, nodes, _lookup_options(common, o, mode), o)


@dataclass(frozen=True)
class DhtOptions:
    """dht-lookup's own options (the shared ones are in `Common`), as click passes them."""

    bootstraps: tuple[str, ...]
    node_id: str | None
    announce_port: int | None
    sample: bool
    ping: bool
    table: bool
    alpha: int
    k: int
    query_timeout: float
    plot: bool = False
    plot_out: str | None = None


def _wanted(target: str | None, o: DhtOptions) -> tuple[bytes, str]:
    """The id to look up and the lookup's mode (BEP 5's query, or BEP 51's), from TARGET
    and the mode options: one mode at most, and a TARGET only where it is looked up."""
    if sum(bool(x) for x in (o.node_id, o.sample, o.ping)) > 1:
        raise InputError("choose one of --find-node, --sample and --ping")
    if o.node_id:
        if target:
            raise InputError("--find-node takes the id itself: no TARGET with it")
        return _hex_id(o.node_id, "--find-node"), "find_node"
    mode = "sample_infohashes" if o.sample else "ping" if o.ping else "get_peers"
    if target is not None:
        return parse_target(target), mode
    if mode == "get_peers":
        raise InputError("a TARGET (info-hash or magnet link) is needed")
    import os

    return os.urandom(20), mode  # --sample, --ping: anywhere will do


def _lookup_options(common: Common, o: DhtOptions, mode: str) -> Any:
    from netlab.core.kademlia import LookupOptions

    return LookupOptions(
        mode=mode,
        alpha=o.alpha,
        k=o.k,
        query_timeout=o.query_timeout,
        announce_port=o.announce_port,
        deadline=common.timeout or 30.0,
    )


def parse_target(text: str) -> bytes:
    """An info-hash: 40 hex digits, 32 base32 characters, or a magnet link's (btih, or a
    v2 btmh cut to 20 bytes as BEP 52 looks it up); parsed by `wire/metainfo`."""
    from netlab.wire.metainfo import MetainfoError, parse_info_hash

    try:
        return parse_info_hash(text)
    except MetainfoError as err:
        raise InputError(str(err)) from None


def _hex_id(text: str, what: str) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != 20:
        raise InputError(f"{what} {text!r}: a node id is 40 hex digits")
    return value


def _bootstrap(text: str) -> tuple[str, int]:
    from netlab.net.resolver import host_address

    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"--bootstrap {text!r}: expected HOST:PORT")
    # IPv4 first: BEP 5's DHT is IPv4 (BEP 32's IPv6 DHT is a separate network).
    address = host_address(host, int(port), udp=True, prefer_ipv4=True)
    return address, int(port)


def _run(common: Common, target: bytes, nodes: list, options: Any, o: DhtOptions) -> ExitStatus:
    from netlab.cli.run import run_client, watch_host
    from netlab.core.kademlia import DhtLookup
    from netlab.render import dht as view

    core = DhtLookup(target, nodes, options)
    doc: dict = {}

    def report() -> tuple[Any, list[str], str | None]:
        nonlocal doc
        doc = view.document(core, o.table)  # also read by --plot
        return doc, view.lines(core, o.table), core.result.error

    s = run_client(common, core, lambda: watch_host(common, nodes[0][0], "udp"), report)
    r = core.result
    if (o.plot or o.plot_out) and doc["round_best"]:
        from netlab.render.charts import dht_series

        draw(dht_series(doc), plot=o.plot, plot_out=o.plot_out, color=common.color,
             json=common.json)  # fmt: skip
    ok = bool(r.peers) if options.mode == "get_peers" else bool(r.hops)
    return s.status(ok and not (r.error and r.error != "interrupted"))
