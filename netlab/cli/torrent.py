"""`netlab torrent`: BitTorrent's files, trackers and peers.

Subcommands (each a short function; the work is in wire/ and core/):
  show      the anatomy of a .torrent or a magnet link (info-hashes v1/v2)
  make      write a .torrent for a file or directory
  announce  ask an HTTP (BEP 3/23) or UDP (BEP 15) tracker for peers
  peer      the peer-wire handshake (BEP 3) and extension handshake (BEP 10)
"""

from __future__ import annotations

from typing import Any

import click

from netlab.cli import complete
from netlab.cli.options import (
    HELP_OPTIONS,
    Common,
    client_options,
    command,
    common_options,
    file_option,
)
from netlab.errors import ExitStatus, InputError


@click.group(
    "torrent",
    short_help="BitTorrent: show and make .torrent files, ask trackers, greet peers.",
    context_settings=HELP_OPTIONS,
)
def torrent() -> None:
    """BitTorrent's files, trackers and peers: `show` a .torrent or magnet link,
    `make` one, `announce` to a tracker, greet a `peer`."""


# --- show / make ----------------------------------------------------------------------

MAX_TORRENT_FILE = 64 * 1024 * 1024  # wire/metainfo.MAX_TORRENT_BYTES


def read_target(text: str) -> Any:
    """(Metainfo, the file's bytes) for a .torrent FILE, or (Magnet, None) for a MAGNET;
    bad input → InputError (exit 2). Shared by the subcommands."""
    from netlab.wire.metainfo import MetainfoError, parse_magnet, parse_torrent

    try:
        if text.startswith("magnet:"):
            return parse_magnet(text), None
        data = _read_file(text)
        return parse_torrent(data), data
    except MetainfoError as err:
        raise InputError(f"{_short(text)}: {err}") from None


def _short(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "…"


def _read_file(path: str) -> bytes:
    from netlab.cli.files import read_bounded

    return read_bounded(
        path, ".torrent file", limit=MAX_TORRENT_FILE, files=".torrent files", sized=False
    )


def _show(common: Common, meta: Any, data: bytes | None, source: str, **extra: Any) -> None:
    from netlab.render import torrent as view
    from netlab.wire.metainfo import Magnet

    if common.json:
        from netlab.render.jsonout import JsonDocument

        with JsonDocument() as out:
            if isinstance(meta, Magnet):
                out.data = view.magnet_document(meta)
            else:
                out.data = {**view.document(meta, source), **extra}
        return
    from netlab.render.console import make_console

    if isinstance(meta, Magnet):
        lines = view.magnet_lines(meta)
    else:
        lines = view.torrent_lines(meta, source, data, common.verbose)
    view.print_lines(make_console(color=common.color), lines)


@command(
    "show", "The anatomy of a .torrent or magnet link: trackers, files, info-hashes.", group=torrent
)
@click.argument("target", metavar="FILE|MAGNET", shell_complete=complete.files)
@common_options("verbose", "json", "no_color")
def show_cmd(common: Common, target: str) -> ExitStatus:
    """Show what a .torrent file holds: announce and announce-list tiers, web seeds,
    the info dictionary (name, piece length, number of pieces, files and sizes, private
    flag), the info-hashes (v1: SHA-1, v2: SHA-256 of the info dictionary's exact
    bytes, BEP 52), the magnet link. -v adds the bencode tree with byte offsets. A
    magnet link shows what it holds.

    Exit 0 when the file was read, 2 when it is not a valid .torrent (one line says
    what and where).

    \b
    Examples:
      netlab torrent show ubuntu.torrent
      netlab torrent show -v file.torrent | less
      netlab torrent show --json file.torrent | jq -r .info_hash_v1
      netlab torrent show 'magnet:?xt=urn:btih:…&dn=…'
    """
    meta, data = read_target(target)
    _show(common, meta, data, target)
    return ExitStatus.SUCCESS


def _piece_length(ctx: Any, param: Any, value: str | None) -> int | None:
    """--piece-length: bytes (262144, 256K, 256KiB, 1M) or mktorrent's exponent (18)."""
    if value is None:
        return None
    text = value.strip().lower().removesuffix("ib").removesuffix("b")
    scale = {"k": 1 << 10, "m": 1 << 20}.get(text[-1:], 1)
    digits = text[:-1] if scale > 1 else text
    if not digits.isdigit() or len(digits) > 12:
        raise click.BadParameter(f"{value!r} is not a size (e.g. 256K, 1M, 262144, or 18)")
    number = int(digits) * scale
    if scale == 1 and 14 <= number <= 26:
        number = 1 << number  # mktorrent's -l: the exponent
    if number & (number - 1) or not 16 * 1024 <= number <= 64 * 1024 * 1024:
        raise click.BadParameter(f"{value}: a power of two from 16 KiB to 64 MiB")
    return number


def _tiers(values: tuple[str, ...], option: str) -> list[list[str]]:
    """mktorrent's -a: each use a tier, commas between the URLs of one tier."""
    import re

    tiers = []
    for value in values:
        urls = [u.strip() for u in value.split(",") if u.strip()]
        for url in urls:
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\x00-\x1f\x7f]+", url):
                raise InputError(f"{option} {url!r}: not a URL (scheme://host…)")
        if urls:
            tiers.append(urls)
    return tiers


def _creation_date(no_date: bool) -> int | None:
    if no_date:
        return None
    import os
    import time

    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")  # reproducible builds' convention
    return int(epoch) if epoch.isdigit() else int(time.time())


def _write_new(path: str, data: bytes, force: bool) -> None:
    import os

    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | (0 if force else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o644)
    except FileExistsError:
        raise InputError(f"{path} exists: refusing to overwrite it (--force)") from None
    except OSError as err:
        raise InputError(f"cannot write {path}: {err.strerror}") from None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except OSError as err:
        raise InputError(f"cannot write {path}: {err.strerror}") from None
    finally:
        os.close(fd)


@command("make", "Write a .torrent (v1, v2 or hybrid) for a file or directory.", group=torrent)
@click.argument("path", type=click.Path(exists=True, readable=True))
@click.option(
    "--tracker",
    "-a",
    "trackers",
    multiple=True,
    metavar="URL[,URL…]",
    help="An announce URL; each use is a tier, commas join URLs of one tier (mktorrent's -a).",
)
@click.option("-o", "--output", metavar="FILE", shell_complete=complete.files,
              help="Where to write (default: NAME.torrent).")  # fmt: skip
@click.option(
    "--piece-length",
    "-l",
    callback=_piece_length,
    metavar="SIZE",
    help="A power of two, 16K to 64M (or mktorrent's exponent, 14-26). "
    "Default: from the total size, as libtorrent chooses.",
)
@click.option("--private", "-p", is_flag=True, help="BEP 27: peers from trackers only.")
@click.option("--comment", "-c", metavar="TEXT", help="A comment.")
@click.option(
    "--web-seed", "-w", "web_seeds", multiple=True, metavar="URL", help="A web seed (BEP 19)."
)
@click.option("--name", "-n", metavar="NAME", help="The torrent's name (default: PATH's).")
@click.option("--source", "-s", metavar="TEXT", help="A 'source' key in the info dictionary.")
@click.option("--v2", "version", flag_value="v2", help="BEP 52 only (SHA-256 merkle trees).")
@click.option("--hybrid", "version", flag_value="hybrid", help="v1 and v2 in one (BEP 52).")
@click.option("--no-date", "-d", is_flag=True, help="No creation date (same input, same bytes).")
@click.option("--force", "-f", is_flag=True, help="Overwrite the output file.")
@common_options("verbose", "json", "no_color")
def make_cmd(
    common: Common,
    path: str,
    trackers: tuple[str, ...],
    output: str | None,
    piece_length: int | None,
    private: bool,
    comment: str | None,
    web_seeds: tuple[str, ...],
    name: str | None,
    source: str | None,
    version: str | None,
    no_date: bool,
    force: bool,
) -> ExitStatus:
    """Hash the file or directory PATH and write a .torrent: v1 by default (SHA-1
    pieces, as mktorrent writes and every client reads), --v2 (a SHA-256 merkle tree
    of 16 KiB blocks per file, `pieces root` and `piece layers`, BEP 52) or --hybrid
    (both, with BEP 47 pad files so each file starts a piece, as libtorrent makes them).
    Files are sorted by path; the same input and options give the same bytes (with
    --no-date, or SOURCE_DATE_EPOCH). Then shows the result as `torrent show` does
    (-v: with its bencode tree). The short options are mktorrent's.

    \b
    Examples:
      netlab torrent make ./album --tracker http://198.18.0.1:6969/announce
      netlab torrent make big.iso -a udp://t1:6969,udp://t2:6969 -a http://t3/announce
      netlab torrent make ./dir --hybrid --piece-length 1M --private -o dir.torrent
    """
    import os

    from netlab import __version__
    from netlab.wire.metainfo import MakeOptions, MetainfoError, make_torrent, parse_torrent

    tiers = _tiers(trackers, "--tracker")
    seeds = [u for tier in _tiers(web_seeds, "--web-seed") for u in tier]
    options = MakeOptions(
        trackers=tiers,
        piece_length=piece_length,
        private=private,
        comment=comment,
        web_seeds=seeds,
        name=name,
        version=version or "v1",
        creation_date=_creation_date(no_date),
        created_by=f"netlab {__version__}",
        source=source,
    )
    default_name = name or os.path.basename(os.path.abspath(path))
    output = output or f"{default_name}.torrent"
    try:
        data = make_torrent(path, options, skip=output)
        meta = parse_torrent(data)  # what we show is what a reader of the file sees
    except MetainfoError as err:
        raise InputError(str(err)) from None
    _write_new(output, data, force)
    _show(common, meta, data, output, written=output)
    return ExitStatus.SUCCESS


# --- announce / peer ------------------------------------------------------------------

DEFAULT_PORT = 6881
EVENTS = ("started", "completed", "stopped", "none")


def _swarm_target(text: str) -> tuple[bytes, list[str], Any]:
    """(info-hash, the trackers it names, Metainfo or None) for FILE, MAGNET or INFOHASH.
    A v2-only torrent is asked for by its SHA-256 cut to 20 bytes (BEP 52)."""
    import os

    from netlab.wire.metainfo import Magnet, MetainfoError, btih

    if not text.startswith("magnet:") and not os.path.exists(text) and len(text) in (32, 40):
        try:
            return btih(text), [], None
        except MetainfoError as err:
            raise InputError(str(err)) from None
    meta, _data = read_target(text)
    if isinstance(meta, Magnet):
        return meta.dht_target, list(meta.trackers), None
    return meta.info_hash_v1 or (meta.info_hash_v2 or b"")[:20], meta.trackers, meta


def _peer_id(text: str | None) -> bytes:
    """--peer-id: 20 bytes as given, or a prefix filled with random digits; default
    netlab's Azureus-style id (-NL0100-, so clients and trackers can name us)."""
    import os

    from netlab import __version__

    if text is None:
        digits = "".join(__version__.split(".")[:3]).ljust(4, "0")[:4]
        text = f"-NL{digits}-"
    raw = text.encode("latin-1", "replace")
    if len(raw) > 20:
        raise InputError(f"--peer-id {text!r}: at most 20 bytes")
    return raw + "".join(str(b % 10) for b in os.urandom(20 - len(raw))).encode()


def _address(host: str, port: int, udp: bool = False, prefer_ipv4: bool = False) -> str:
    from netlab.net.resolver import host_address

    return host_address(host, port, udp=udp, prefer_ipv4=prefer_ipv4)


@command(
    "announce",
    "Ask trackers for peers: HTTP (BEP 3) and UDP (BEP 15), step by step.",
    group=torrent,
)
@click.argument("target", metavar="FILE|MAGNET|INFOHASH", shell_complete=complete.files)
@click.option(
    "--tracker",
    "-t",
    "trackers",
    multiple=True,
    metavar="URL",
    help="A tracker (http://, https://, udp://; repeatable). Default: the torrent's own.",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="The port we say we listen on.",
)
@click.option(
    "--event",
    type=click.Choice(EVENTS),
    default="started",
    show_default=True,
    help="The announce event (none: a regular re-announce).",
)
@click.option("--numwant", type=click.IntRange(0, 10_000), metavar="N", help="Peers wanted.")
@click.option(
    "--left",
    type=click.IntRange(0),
    metavar="BYTES",
    help="Bytes we still need (default: the torrent's size; 1 if unknown).",
)
@click.option("--peer-id", metavar="ID", help="Our peer id (or its prefix); default -NL0100-….")
@click.option("--scrape", is_flag=True, help="Also scrape: seeders, downloads, leechers.")
@click.option("--insecure", "-k", is_flag=True, help="https://: do not verify the certificate.")
@client_options(timeout=10.0)
def announce_cmd(
    common: Common,
    target: str,
    trackers: tuple[str, ...],
    port: int,
    event: str,
    numwant: int | None,
    left: int | None,
    peer_id: str | None,
    scrape: bool,
    insecure: bool,
) -> ExitStatus:
    """Announce TARGET (a .torrent FILE, a MAGNET link or an INFOHASH in hex) to its
    trackers, or to each --tracker, all at once, and show each answer: the interval,
    complete (seeders) and incomplete (leechers), the peers as ip:port, a failure
    reason or warning message. HTTP trackers get BEP 3's GET /announce with
    compact=1; UDP trackers BEP 15's connect then announce, each datagram shown with
    its transaction id and connection id (retransmitted on BEP 15's doubling schedule,
    scaled to --timeout). --scrape adds the scrape (BEP 48 / BEP 15 action 2).

    Exit 0 when a tracker answered with peers (or, with --scrape, with its counts), 1
    when none did (a failure reason, no answer, no peers), 2 on bad input.

    \b
    Examples:
      netlab torrent announce file.torrent
      netlab torrent announce d0e6a90f8a524b6b639a5324a416916ebd3c56af -t udp://tracker:6969
      netlab torrent announce 'magnet:?xt=urn:btih:…&tr=http://tracker:6969/announce' --scrape
      netlab torrent announce --json file.torrent | jq '.peers'
    """
    import os

    from netlab.core.bt_tracker import AnnounceParams, TrackerUrlError, parse_tracker_url

    info_hash, named, meta = _swarm_target(target)
    urls = list(dict.fromkeys(trackers)) or named
    if not urls:
        raise InputError(f"{_short(target)}: no tracker in it; give one with --tracker URL")
    try:
        parsed = [parse_tracker_url(u) for u in urls]
    except TrackerUrlError as err:
        raise InputError(str(err)) from None
    if left is None:
        left = meta.total_length if meta is not None else 1
    params = AnnounceParams(
        info_hash=info_hash,
        peer_id=_peer_id(peer_id),
        port=port,
        event=event,
        left=left,
        numwant=numwant,
        key=int.from_bytes(os.urandom(4), "big"),
        scrape=scrape,
        timeout=common.timeout or 10.0,
    )
    return _announce(common, parsed, params, not insecure)


def _announce(common: Common, trackers: list, params: Any, verify: bool) -> ExitStatus:
    from netlab.cli.run import Session, watch_host
    from netlab.core.bt_tracker import TrackerAnnounce
    from netlab.errors import NetlabError
    from netlab.render import torrent_net as view

    addresses: dict[str, str | None] = {}
    for t in trackers:
        if t.host not in addresses:
            try:
                # IPv4 first: compact peers are IPv4 and many trackers (Debian's
                # opentracker among them) listen on IPv4 only.
                addresses[t.host] = _address(t.host, t.port, t.kind == "udp", prefer_ipv4=True)
            except NetlabError:
                addresses[t.host] = None
    core = TrackerAnnounce(trackers, addresses, params, tls_verify=verify)
    known = [(addresses[t.host], t.port) for t in trackers if addresses[t.host]]
    watch = None
    if known:
        expression = " or ".join(f"(host {a} and port {p})" for a, p in dict.fromkeys(known))
        watch = watch_host(common, known[0][0], expression)
    with Session(common) as s:
        s.run_sockets(core, lambda _e: None, watch=watch)
        s.set_result(view.announce_document(params, core.results))
        s.text(*view.announce_lines(params, core.results))
        if not s.interrupted:
            for r in core.results:
                if r.failure_reason is not None:
                    s.note(f"{r.tracker.url}: failure reason: {r.failure_reason}", "error")
                elif r.error:
                    s.note(r.error, "error")
    ok = any(r.peers for r in core.results) or (
        params.scrape and any(r.scrape is not None for r in core.results)
    )
    return s.status(ok)


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"{text!r}: expected HOST:PORT (IPv6 as [ADDR]:PORT)")
    return host, int(port)


@command(
    "peer", "Greet a peer: handshake, extension handshake, its client and pieces.", group=torrent
)
@click.argument("peer", metavar="HOST:PORT")
@click.option("--info-hash", "info_hash", metavar="HEX|MAGNET", help="The torrent to ask for.")
@file_option(
    "--torrent",
    "torrent_file",
    shell_complete=complete.files,
    help="The torrent to ask for, from its .torrent (gives the piece count too).",
)
@click.option("--interested", is_flag=True, help="Then say interested and wait for unchoke.")
@click.option("--peer-id", metavar="ID", help="Our peer id (or its prefix); default -NL0100-….")
@click.option("--fast", is_flag=True, help="Set the BEP 6 fast-extension bit (have all/none).")
@click.option("--dht", is_flag=True, help="Set the BEP 5 DHT bit.")
@click.option(
    "--max-message",
    type=click.IntRange(1024, 64 << 20),
    default=1 << 20,
    show_default=True,
    metavar="BYTES",
    help="The largest peer-wire message accepted.",
)
@client_options(timeout=5.0)
def peer_cmd(
    common: Common,
    peer: str,
    info_hash: str | None,
    torrent_file: str | None,
    interested: bool,
    peer_id: str | None,
    fast: bool,
    dht: bool,
    max_message: int,
) -> ExitStatus:
    """Connect to the BitTorrent peer at HOST:PORT and greet it: our handshake (with
    the BEP 10 extension bit) for the torrent given by --info-hash or --torrent; the
    peer's handshake (its info_hash must match, its peer id names its client, its
    reserved bits say what it speaks: BEP 10 extensions, BEP 5 DHT, BEP 6 fast);
    then its extension handshake (client v, listen port p, yourip, reqq,
    metadata_size, the extensions in m) and what pieces it has (bitfield, or have
    all / have none). --interested then says interested and waits for unchoke.

    Exit 0 when the peer answered the handshake for this torrent, 1 when it refused,
    closed, sent something malformed or did not answer in --timeout, 2 on bad input.

    \b
    Examples:
      netlab torrent peer seeder:6881 --torrent netlab-p2p.bin.torrent
      netlab torrent peer 198.18.17.3:6881 --info-hash d0e6a90f8a524b6b639a5324a416916ebd3c56af
      netlab torrent peer --json seeder:6881 --info-hash 'magnet:?xt=urn:btih:…' | jq .client
    """
    from netlab.core.bt_peer import PeerOptions

    if (info_hash is None) == (torrent_file is None):
        raise InputError("give the torrent with one of --info-hash HEX|MAGNET and --torrent FILE")
    if info_hash is not None:
        from netlab.wire.metainfo import MetainfoError, parse_info_hash

        try:
            wanted, meta = parse_info_hash(info_hash), None
        except MetainfoError as err:
            raise InputError(f"--info-hash: {err}") from None
    else:
        wanted, _trackers, meta = _swarm_target(torrent_file)
    host, port = _host_port(peer)
    options = PeerOptions(
        info_hash=wanted,
        peer_id=_peer_id(peer_id),
        num_pieces=meta.pieces if meta is not None and meta.pieces else None,
        interested=interested,
        dht=dht,
        fast=fast,
        timeout=common.timeout or 5.0,
        max_message=max_message,
        client=_client_name(),
    )
    return _greet(common, host, port, options)


def _client_name() -> str:
    from netlab import __version__

    return f"netlab {__version__}"


def _greet(common: Common, host: str, port: int, options: Any) -> ExitStatus:
    from netlab.cli.run import port_watch, run_client
    from netlab.core.bt_peer import PeerGreeting
    from netlab.render import torrent_net as view

    address = _address(host, port, prefer_ipv4=True)  # as the trackers list peers
    core = PeerGreeting(address, port, options)
    watch = port_watch(common, address, port)  # before the session opens, as in _announce
    s = run_client(
        common,
        core,
        lambda: watch,
        lambda: (view.peer_document(core), view.peer_lines(core), core.result.error),
    )
    return s.status(core.result.completed and core.result.error is None)
