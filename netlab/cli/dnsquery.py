"""`netlab dns-query`: ask a DNS server like dig, or walk the tree from the root (--trace)."""

from __future__ import annotations

import click

from netlab.cli.options import Common, common_options
from netlab.errors import ExitStatus


@click.command(
    "dns-query",
    short_help="Ask DNS servers like dig (UDP, TCP retry, EDNS); --trace walks down from the root.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.argument("args", nargs=-1, metavar="NAME [TYPE...] [@SERVER]")
@click.option("-p", "--port", type=click.IntRange(1, 65535), default=53, show_default=True,
              help="Server port.")  # fmt: skip
@click.option(
    "-x",
    "reverse",
    metavar="ADDR",
    help="Reverse lookup: PTR of ADDR's in-addr.arpa / ip6.arpa name.",
)
@click.option("--tries", type=click.IntRange(1, 10), default=3, show_default=True,
              help="UDP tries (the first one included) before giving up.")  # fmt: skip
@click.option("--tcp", is_flag=True, help="Use TCP from the start.")
@click.option("--ignore-tc", is_flag=True,
              help="Keep a truncated UDP reply (TC set) instead of retrying over TCP.")  # fmt: skip
@click.option("--bufsize", type=click.IntRange(512, 65535), default=1232, show_default=True,
              help="EDNS UDP payload size to advertise.")  # fmt: skip
@click.option("--no-edns", is_flag=True, help="Send no OPT record (plain RFC 1035, 512-byte UDP).")
@click.option("--dnssec", is_flag=True, help="Set the DO bit (ask for DNSSEC records).")
@click.option("--norec", is_flag=True, help="Clear RD (recursion desired): ask one server only.")
@click.option("--short", is_flag=True, help="Print only the answer data, one record a line.")
@click.option("--trace", is_flag=True,
              help="Resolve iteratively from the root: referrals, then the answer.")  # fmt: skip
@click.option("--root", "roots", metavar="ADDR", multiple=True,
              help="Root server for --trace (repeatable; default: system root hints).")  # fmt: skip
@common_options("timeout", "verbose", "write", "json", "no_color", timeout=2.0)
def dns_query(
    common: Common, args: tuple[str, ...], port: int, reverse: str | None, tries: int, tcp: bool,
    ignore_tc: bool, bufsize: int, no_edns: bool, dnssec: bool, norec: bool, short: bool,
    trace: bool, roots: tuple[str, ...],
) -> ExitStatus:  # fmt: skip
    """Ask SERVER (default: the first nameserver of /etc/resolv.conf) for NAME's
    records of each TYPE (default A; PTR with -x) over UDP from a kernel-chosen
    port with a random ID. Replies whose ID, question or source do not match are
    ignored and counted; a truncated reply is asked again over TCP. Output is
    dig's sections; --json prints one document (a list of them for several types).

    Exit 0 on an answer (also NOERROR without data), 1 on NXDOMAIN, SERVFAIL,
    REFUSED, timeout or a malformed reply, 2 on bad input.

    -v shows every packet of the lookups (UDP, TCP handshake and all), decoded
    (on stderr with --json); --write FILE saves them as pcapng. Both capture on
    the interface of the route to the server (to the first root with --trace)
    and need CAP_NET_RAW.

    \b
    Examples:
      netlab dns-query www.example.lab
      netlab dns-query example.lab MX TXT @198.18.0.3
      netlab dns-query -x 198.18.0.80 --short
      netlab dns-query --trace --root 198.18.0.1 www.example.lab
      netlab dns-query --no-edns TXT big.example.lab -v --write big.pcapng
    """
    import secrets

    from netlab.cli.run import Session
    from netlab.core.dns import (
        Exchange,
        Query,
        QueryInputError,
        is_type,
        normalize_name,
        parse_type,
        reverse_name,
    )
    from netlab.errors import InputError
    from netlab.net import resolver
    from netlab.render import dnsquery as view

    server_arg = None
    words = []
    for arg in args:
        if arg.startswith("@"):
            server_arg = arg[1:]
            if not server_arg:
                raise InputError("'@' needs a server after it (as dig: @198.18.0.1)")
        else:
            words.append(arg)
    try:
        if reverse is not None:
            name, type_words = reverse_name(reverse), words
            default_type = "PTR"
        elif not words:
            raise InputError("a NAME to look up is needed (or -x ADDR)")
        else:
            # As dig: the NAME is the first word that is not a type ("TXT big.example.lab").
            at = next((i for i, w in enumerate(words) if not is_type(w)), 0)
            name, default_type = normalize_name(words[at]), "A"
            type_words = words[:at] + words[at + 1 :]
        qtypes = [parse_type(t) for t in type_words] or [parse_type(default_type)]
    except QueryInputError as err:
        raise InputError(str(err)) from None
    if roots and not trace:
        raise InputError("--root is the first server of --trace: add --trace, or ask @SERVER")
    timeout = common.timeout or 2.0
    edns = not no_edns
    command = " ".join([*(["-x", reverse] if reverse else []), *args])

    if trace:
        given = [("", resolver.server_address(r, InputError)) for r in roots]
        root_servers = given or resolver.root_hints()
        return _trace(common, name, qtypes, root_servers, port=port, edns=edns,
                      bufsize=bufsize, dnssec=dnssec, timeout=timeout, tries=tries,
                      tcp=tcp, short=short)  # fmt: skip

    if server_arg:
        server = resolver.server_address(server_arg, InputError)
    else:
        server = resolver.default_server()
    watch = _watch(common, server, port)
    docs: list = []
    status = ExitStatus.SUCCESS
    with Session(common) as s:
        for i, qtype in enumerate(qtypes):
            query = Query(name, qtype, server, port, secrets.randbelow(65536), rd=not norec,
                          edns=edns, bufsize=bufsize, dnssec=dnssec)  # fmt: skip
            exchange = Exchange(query, timeout=timeout, tries=tries, tcp=tcp,
                                ignore_tc=ignore_tc)  # fmt: skip
            s.run_sockets(exchange, _no_events, watch=watch)
            outcome = exchange.result
            if common.json:
                docs.append(view.response_json(name, qtype, outcome, exchange.attempts))
                s.set_result(docs[0] if len(docs) == 1 else docs)
            if not hasattr(outcome, "message"):  # a Failure: timeout, refused, interrupted …
                status = ExitStatus.NO_ANSWER
                if not s.interrupted:
                    s.note(outcome.reason, "error")
                if not short:
                    s.text(view.failure_line(outcome))
            else:
                if outcome.message.extended_rcode != 0:
                    status = ExitStatus.NO_ANSWER
                if short:
                    s.text(*view.short_lines(outcome.message.answers))
                else:
                    s.text(*([""] if i else []), *view.response_lines(outcome, command))
            if s.interrupted:
                break
    return s.status(status == ExitStatus.SUCCESS)


def _no_events(_event) -> None:
    pass


def _trace(common: Common, name: str, qtypes: list[int], root_servers, *, port: int,
           edns: bool, bufsize: int, dnssec: bool, timeout: float, tries: int, tcp: bool,
           short: bool) -> ExitStatus:  # fmt: skip
    from netlab.cli.run import Session
    from netlab.core.dns import Exchange, Walk, WalkCore
    from netlab.render import dnsquery as view

    docs: list = []
    ok = True
    watch = _watch(common, root_servers[0][1], port, any_host=True)
    with Session(common) as s:
        for qtype in qtypes:
            walk = Walk(name, qtype, root_servers, port=port, edns=edns, bufsize=bufsize,
                        dnssec=dnssec, ids=_random_ids())  # fmt: skip
            core = WalkCore(walk, lambda q: Exchange(q, timeout=timeout, tries=tries, tcp=tcp))
            s.run_sockets(core, _no_events, watch=watch)
            result = walk.result
            if not result.ok:
                ok = False
                if result.error and not s.interrupted:
                    s.note(result.error, "error")
            if common.json:
                docs.append(view.trace_json(name, qtype, walk.steps, result))
                s.set_result(docs[0] if len(docs) == 1 else docs)
            elif short:
                s.text(*view.short_lines(result.records))
            else:
                s.text(*view.trace_lines(name, qtype, walk.steps, result))
            if s.interrupted:
                break
    return s.status(ok)


def _watch(common: Common, server: str, port: int, *, any_host: bool = False):
    """(interface, capture filter) for -v / --write: the route to SERVER; None without them."""
    if not common.verbose and not common.write:
        return None
    from netlab.net.privilege import require_raw_socket
    from netlab.net.route import route_to

    require_raw_socket("-v and --write (a packet capture)")
    dev = route_to(server).dev
    # ICMP too: a port unreachable or a "fragmentation needed" explains a failed query.
    expression = f"port {port}" if any_host else f"host {server} and (port {port} or icmp or icmp6)"
    return dev, expression


def _random_ids():
    import secrets

    while True:
        yield secrets.randbelow(65536)
