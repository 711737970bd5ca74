"""`netlab cidr`: the course's CIDR section, without touching the network."""

from __future__ import annotations

import click

from netlab.cli.options import Common, common_options
from netlab.errors import ExitStatus


@click.command(
    short_help="Explain IPv4/IPv6 prefixes: network, mask, broadcast, hosts, scope, class.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.argument("prefixes", nargs=-1, required=True, metavar="PREFIX...")
@common_options("json", "no_color")
def cidr(common: Common, prefixes: tuple[str, ...]) -> ExitStatus:
    """Explain each PREFIX: network and netmask, wildcard, broadcast, first and
    last host, how many hosts, where the address sits, its scope (private RFC 1918,
    shared, loopback, link-local, documentation, benchmarking, multicast, public …)
    and its classful class.

    A PREFIX is ADDRESS/LENGTH (10.100.122.2/24, 2001:db8::1/64), ADDRESS/NETMASK
    (10.0.0.1/255.255.0.0) or a bare ADDRESS (a /32 or /128).

    \b
    Examples:
      netlab cidr 10.100.122.2/24
      netlab cidr 192.168.1.77/255.255.255.192 2001:db8:a::1/48
      netlab cidr --json 100.64.3.9/10 | jq .scope
    """
    from netlab.core.cidr import parse_prefix

    # Parse everything first: one bad argument is an error before any output.
    parsed = [parse_prefix(text) for text in prefixes]
    if common.json:
        from netlab.render.jsonout import JsonDocument

        with JsonDocument() as doc:
            docs = [p.to_dict() for p in parsed]
            doc.data = docs[0] if len(docs) == 1 else docs
        return ExitStatus.SUCCESS

    from netlab.render.cidr import render_prefixes
    from netlab.render.console import make_console

    render_prefixes(make_console(color=common.color), parsed)
    return ExitStatus.SUCCESS
