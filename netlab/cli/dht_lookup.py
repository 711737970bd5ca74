"""`netlab dht-lookup`: a Kademlia lookup in the BitTorrent DHT, hop by hop."""

from __future__ import annotations

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
def dht_lookup(
    common: Common,
    target: str | None,
    bootstraps: tuple[str, ...],
    node_id: str | None,
    announce_port: int | None,
    sample: bool,
    ping: bool,
    table: bool,
    alpha: int,
    k: int,
    query_timeout: float,
    plot: bool = False,
    plot_out: str | None = None,
) -> ExitStatus:
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
    from netlab.core.kademlia import LookupOptions

    modes = sum(bool(x) for x in (node_id, sample, ping))
    if modes > 1:
        raise InputError("choose one of --find-node, --sample and --ping")
    if node_id:
        if target:
            raise InputError("--find-node takes the id itself: no TARGET with it")
        wanted, mode = _hex_id(node_id, "--find-node"), "find_node"
    elif target is None:
        if not (sample or ping):
            raise InputError("a TARGET (info-hash or magnet link) is needed")
        import os

        wanted = os.urandom(20)
        mode = "sample_infohashes" if sample else "ping"
    else:
        wanted = parse_target(target)
        mode = "sample_infohashes" if sample else "ping" if ping else "get_peers"
    if announce_port is not None and mode != "get_peers":
        raise InputError("--announce goes with an info-hash lookup (get_peers)")
    nodes = [_bootstrap(b) for b in bootstraps]
    options = LookupOptions(
        mode=mode,
        alpha=alpha,
        k=k,
        query_timeout=query_timeout,
        announce_port=announce_port,
        deadline=common.timeout or 30.0,
    )
    return _run(common, wanted, nodes, options, table, (plot, plot_out))


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


def _run(common: Common, target: bytes, nodes: list, options: Any, table: bool,
         plot: tuple[bool, str | None] = (False, None)) -> ExitStatus:  # fmt: skip
    from netlab.cli.options import run_client
    from netlab.cli.run import watch_host
    from netlab.core.kademlia import DhtLookup
    from netlab.render import dht as view

    core = DhtLookup(target, nodes, options)
    doc: dict = {}

    def report() -> tuple[Any, list[str], str | None]:
        nonlocal doc
        doc = view.document(core, table)  # also read by --plot
        return doc, view.lines(core, table), core.result.error

    s = run_client(common, core, lambda: watch_host(common, nodes[0][0], "udp"), report)
    r = core.result
    if (plot[0] or plot[1]) and doc["round_best"]:
        from netlab.render.charts import dht_series

        draw(dht_series(doc), plot=plot[0], plot_out=plot[1], color=common.color,
             json=common.json)  # fmt: skip
    ok = bool(r.peers) if options.mode == "get_peers" else bool(r.hops)
    return s.status(ok and not (r.error and r.error != "interrupted"))
