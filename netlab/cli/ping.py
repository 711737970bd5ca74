"""`netlab ping`: ICMP/ICMPv6 echo from raw packets, iputils-compatible output."""

from __future__ import annotations

import click

from netlab.cli.options import (
    DAY,
    DEADLINE,
    SECONDS,
    Common,
    Number,
    common_options,
    interface_name,
)
from netlab.errors import ExitStatus


@click.command(
    short_help="Send ICMP echo requests (raw packets, kernel timestamps), like iputils ping.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.argument("targets", nargs=-1, required=True, metavar="TARGET...")
@click.option(
    "-I", "--iface", metavar="IFACE", callback=interface_name, help="Leave by this interface."
)
@click.option("-i", "--interval", type=Number(0.001, DAY), default=1.0, show_default=True,
              metavar="SECONDS", help="Time between echo requests.")  # fmt: skip
@click.option("-s", "--size", type=click.IntRange(0, 65000), default=56, show_default=True,
              metavar="BYTES", help="ICMP payload size.")  # fmt: skip
@click.option("-t", "--ttl", type=click.IntRange(1, 255), default=64, show_default=True,
              help="IP time to live (IPv6 hop limit).")  # fmt: skip
@click.option(
    "-W",
    "--timeout",
    "reply_timeout",
    type=SECONDS,
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    # iputils' default: a router answers "host unreachable" only once its ARP has
    # given up (~3 s on Linux), and a shorter wait would drop that error unseen.
    help="How long to wait for each reply (or an ICMP error about it), as iputils.",
)
@click.option("-w", "--deadline", type=DEADLINE, metavar="SECONDS",
              help="Stop after this long, whatever has been sent or received.")  # fmt: skip
@click.option("--df", is_flag=True, help="Set Don't Fragment; a too-big reply names the MTU.")
@click.option("-4", "family", flag_value=4, help="IPv4 only.")
@click.option("-6", "family", flag_value=6, help="IPv6 only.")
@click.option(
    "--explain",
    is_flag=True,
    help="First show the route decision: on-link or via which gateway, and the next hop's MAC.",
)
@click.option("--write", metavar="FILE", type=click.Path(dir_okay=False),
              help="Save every packet sent and received to FILE (pcapng).")  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help="Only the first line and the statistics.")
@click.option("-D", "timestamps", is_flag=True, help="Start each line with the UNIX time.")
@click.option("-n", "numeric", is_flag=True, help="Addresses only (always so; as iputils' -n).")
@common_options("count", "verbose", "json", "no_color", count=4)
def ping(
    common: Common, targets: tuple[str, ...], iface: str | None, interval: float, size: int,
    ttl: int, reply_timeout: float, deadline: float | None, df: bool, family: int | None,
    explain: bool, write: str | None, quiet: bool, timestamps: bool, numeric: bool,
) -> ExitStatus:  # fmt: skip
    """Send COUNT echo requests to each TARGET (several are probed in parallel) and
    report replies, ICMP errors by name with the router that sent them, and
    iputils' statistics. The round-trip time is taken from kernel timestamps of
    the request leaving and the reply arriving.

    Exit 0 if any reply came back, 1 if none, 2 on bad input, 3 without
    CAP_NET_RAW, 130 on Ctrl-C (after the statistics).

    \b
    Examples:
      netlab ping -c 3 198.18.4.2
      netlab ping --explain server
      netlab ping --df -s 1472 server        # does 1500 bytes fit the path?
      netlab ping --json -c 5 198.18.0.1 198.18.0.2 | jq 'select(.type=="summary")'
    """
    import os
    import time

    from netlab.cli.run import Session
    from netlab.core.echo import EchoCore, Target
    from netlab.net.route import interface_mtu, resolve_target, route_to, scope_iface
    from netlab.net.runner import import_scapy_ip
    from netlab.render import ping as view

    resolved = []
    for name in targets:
        addr, fam = resolve_target(name, family)
        route = route_to(addr, iface or scope_iface(name))
        resolved.append((Target(name, addr, fam, route.src), route))
    devs = sorted({route.dev for _t, route in resolved})
    if len(devs) > 1:
        from netlab.errors import InputError

        raise InputError(
            f"the targets leave by different interfaces ({', '.join(devs)}): ping them separately"
        )
    unprivileged = _unprivileged_mode(verbose=common.verbose, write=write)
    with Session(common, stream=True, write=write) as s:
        if explain:
            from netlab.render.explain import explain_route

            for target, route in resolved:
                s.side.write("\n".join([*explain_route(target.addr, route),
                                        *_resolve_next_hop(route)]) + "\n")  # fmt: skip
        s.text(*(view.header(target, size) for target, _route in resolved))

        if not unprivileged:  # raw sockets: netlab cuts big requests into fragments itself
            for target, route in resolved:
                target.mtu = route.path_mtu or interface_mtu(route.dev)
        import_scapy_ip({t.family for t, _r in resolved}, all(t.src for t, _r in resolved))
        core = EchoCore(
            [t for t, _r in resolved], ident=os.getpid() ^ int(time.time()),
            count=common.count, interval=interval, size=size, ttl=ttl, df=df,
            timeout=reply_timeout, deadline=deadline,
        )  # fmt: skip
        core.path_mtu = lambda addr: route_to(addr).path_mtu or interface_mtu(devs[0])
        shown = view.PingPresenter(s, json=common.json, quiet=quiet, timestamps=timestamps)

        if unprivileged:
            from netlab.net.pingsock import DatagramRunner

            runner = DatagramRunner({t.family for t, _r in resolved}, ttl=ttl, df=df)
            core.ident = runner.ident()  # the kernel owns the identifier of a ping socket
            s.interrupted = runner.run(core, shown)  # it has shown the partial summaries
        else:
            # Without --df, fragments we cut to the path MTU must not be refused because the
            # kernel learnt a smaller one meanwhile (from the first fragment's "packet too
            # big"): the router's answer is the one to show, as iputils does.
            s.run_packets(core, devs[0], shown, pmtu_probe=not df)
    return s.status(shown.replies > 0)


def _unprivileged_mode(verbose: int, write: str | None) -> bool:
    """False with raw sockets; True (and a note) on the kernel's unprivileged ICMP
    sockets when net.ipv4.ping_group_range allows them; otherwise exit 3."""
    from netlab.net.pingsock import unprivileged_ping_allowed
    from netlab.net.privilege import can_open_raw_socket, require_raw_socket

    if can_open_raw_socket():
        return False
    if not unprivileged_ping_allowed():
        require_raw_socket("ping")  # raises the exit-3 error naming CAP_NET_RAW and the fix
    if verbose or write:
        from netlab.errors import PrivilegeError

        raise PrivilegeError(
            "-v and --write need a packet capture, which needs CAP_NET_RAW; run as root or "
            "grant it (sudo setcap cap_net_raw,cap_net_admin+ep <python>)"
        )
    click.echo(
        "netlab: note: no CAP_NET_RAW: using the kernel's unprivileged ICMP socket "
        "(net.ipv4.ping_group_range); send times come from user space",
        err=True,
    )
    return True


def _resolve_next_hop(route) -> list[str]:
    """--explain, next hop not in the neighbour table: ask for it ourselves (ARP for
    IPv4, neighbour discovery for IPv6: the exchange the kernel is about to make)."""

    from netlab.net.route import interface_mac, neighbour

    if route.dev == "lo" or neighbour(route.next_hop, route.dev)[0]:
        return []
    from netlab.net.runner import Runner

    mac = interface_mac(route.dev)
    if not mac or not route.src:
        return []
    hop = route.next_hop
    if route.family == 4:
        from netlab.core.arp import ArpingCore

        core = ArpingCore(mac=mac, src=route.src, target=hop, count=1, timeout=1.0)
        label = "ARP"
        lines = [f"  ARP: who-has {hop}? tell {route.src} (broadcast from {mac})"]
    else:
        from netlab.core.ndisc import NdiscCore

        core = NdiscCore(mac=mac, src=route.src, target=hop, timeout=1.0)
        label = "NDP"
        lines = [f"  NDP: Neighbor Solicitation for {hop} from {mac} (to {core.group}, "
                 f"{core.group_mac})"]  # fmt: skip
    replies = []
    Runner(route.dev).run(core, lambda e: replies.append(e) if e.type == "reply" else None)
    if not replies:
        return [*lines, f"  {label}: no answer from {hop} within 1 s"]
    r = replies[0]
    rtt = f"  ({r.rtt_ms:.3f} ms)" if r.rtt_ms is not None else ""
    if route.family == 4:
        return [*lines, f"  ARP: {r.ip} is-at {r.mac}{rtt}"]
    router = ", a router" if r.router else ""
    return [*lines, f"  NDP: Neighbor Advertisement {r.target} is at {r.mac}{router}{rtt}"]
