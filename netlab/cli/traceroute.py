"""`netlab traceroute`: Paris-style traceroute (UDP, ICMP, TCP), Linux traceroute's output."""

from __future__ import annotations

import click

from netlab.cli.options import SECONDS_OR_ZERO, Common, common_options
from netlab.cli.plotopts import draw, plot_flag_options
from netlab.errors import ExitStatus


def _parse_wait(ctx: click.Context, param: click.Parameter, value: str | None):
    if value is None:
        return None
    from netlab.core.trace import Wait

    try:
        return Wait.parse(value)
    except ValueError as err:
        raise click.BadParameter(f"'{value}': {err}") from None


@click.command(
    short_help="Trace the route to a host with UDP, ICMP or TCP probes (Paris-style, parallel).",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.argument("target")
@click.argument("packetlen", required=False, type=click.IntRange(28, 65000))
@click.option("-U", "--udp", "use_udp", is_flag=True, help="UDP probes to one port (default).")
@click.option("-I", "--icmp", "use_icmp", is_flag=True, help="ICMP echo probes.")
@click.option("-T", "--tcp", "use_tcp", is_flag=True, help="TCP SYN probes (port 80 unless -p).")
@click.option(
    "-p",
    "--port",
    type=click.IntRange(1, 65535),
    metavar="PORT",
    help="Destination port: 33434 for UDP, 80 for TCP; the same for every probe.",
)
@click.option("-q", "--queries", type=click.IntRange(1, 10), default=3, show_default=True,
              metavar="N", help="Probes per hop.")  # fmt: skip
@click.option("-m", "--max-hops", "max_ttl", type=click.IntRange(1, 255), default=30,
              show_default=True, metavar="MAXTTL", help="Stop after this many hops.")  # fmt: skip
@click.option("-f", "--first", "first_ttl", type=click.IntRange(1, 255), default=1,
              show_default=True, metavar="FIRSTTTL", help="Start from this hop.")  # fmt: skip
@click.option(
    "-w",
    "--wait",
    callback=_parse_wait,
    metavar="MAX[,HERE,NEAR]",
    help="As Linux traceroute: give a probe up after MAX seconds, or HERE times the round "
    "trip of an answer from the same hop, or NEAR times one from a later hop "
    "[default: 5,3,10; with --report: 2,0,0].",
)
@click.option("-N", "--sim-queries", "simultaneous", type=click.IntRange(1, 256), default=16,
              show_default=True, metavar="N", help="Probes in flight at once.")  # fmt: skip
@click.option("-n", "numeric", is_flag=True, help="Addresses only, no names (the default).")
@click.option("--resolve", is_flag=True, help="Show router names (reverse DNS, 1 s at most each).")
@click.option("-F", "--df", is_flag=True, help="Set Don't Fragment; a too-small link shows !F-MTU.")
@click.option(
    "--mtu",
    "path_mtu",
    is_flag=True,
    help="Discover the path MTU along the way (DF, from the interface MTU down; shows F=SIZE).",
)
@click.option("-4", "family", flag_value=4, help="IPv4 only.")
@click.option("-6", "family", flag_value=6, help="IPv6 only.")
@click.option("--report", is_flag=True, help="mtr-style table per hop after COUNT rounds.")
@click.option("-c", "--count", type=click.IntRange(1, 1000), metavar="N",
              help="With --report: rounds, i.e. probes per hop [default: 10].")  # fmt: skip
@click.option(
    "--interval",
    type=SECONDS_OR_ZERO,
    metavar="SECONDS",
    help="Time between rounds of probes [default: 0; with --report: 1, as mtr]. Routers "
    "limit the ICMP they send (Linux: 1000/s), so very short intervals show loss.",
)
@click.option("--write", metavar="FILE", type=click.Path(dir_okay=False),
              help="Save every packet sent and received to FILE (pcapng).")  # fmt: skip
@plot_flag_options("each hop's RTTs, min to max with the average marked (--report -c N: N per hop)")
@common_options("iface", "verbose", "json", "no_color")
def traceroute(
    common: Common, target: str, packetlen: int | None, use_udp: bool, use_icmp: bool,
    use_tcp: bool, port: int | None,
    queries: int, max_ttl: int, first_ttl: int, wait, simultaneous: int, numeric: bool,
    resolve: bool, df: bool, path_mtu: bool, family: int | None, report: bool,
    count: int | None, interval: float | None, write: str | None,
    plot: bool = False, plot_out: str | None = None,
) -> ExitStatus:  # fmt: skip
    """Show the routers on the way to TARGET: for each hop (TTL) the router that
    answered and up to -q round-trip times, '*' for silence, and Linux
    traceroute's marks (!H !N !P !F-MTU !X …) when a router says "unreachable".

    Probes keep their flow identifiers (addresses, ports, ICMP checksum) constant
    across TTLs, as paris-traceroute does, so load-balanced paths do not invent
    links; up to -N probes are in flight at once, so a trace takes about one
    round trip. RTTs come from kernel timestamps of the probe leaving and the
    answer arriving. An optional PACKETLEN sets the probe size (IP header included).

    Exit 0 if the destination answered, 1 if not, 2 on bad input, 3 without
    CAP_NET_RAW, 130 on Ctrl-C (after what was found so far).

    \b
    Examples:
      netlab traceroute server
      netlab traceroute -T -p 443 --resolve example.org
      netlab traceroute --mtu server              # path MTU per hop
      netlab traceroute --report -c 20 server     # mtr-style loss and jitter
      netlab traceroute --json -I server | jq '.hops[].probes[0].addr'
    """
    import os
    import random
    import socket
    import time

    from netlab.cli.run import Session
    from netlab.core.trace import DEFAULT_PORT, Flow, TraceCore, Wait, default_size, min_size
    from netlab.errors import InputError
    from netlab.net.rdns import ReverseNames
    from netlab.net.route import interface_mtu, resolve_target, route_to, scope_iface
    from netlab.net.runner import import_scapy_ip
    from netlab.render import traceroute as view

    methods = [m for m, on in (("udp", use_udp), ("icmp", use_icmp), ("tcp", use_tcp)) if on]
    if len(methods) > 1:  # not "the last one wins": say so
        raise InputError(f"choose one probe method, not {' and '.join(methods)}")
    method = methods[0] if methods else "udp"
    if first_ttl > max_ttl:
        raise InputError(f"first hop {first_ttl} is beyond the last one ({max_ttl})")
    if count is not None and not report:
        raise InputError("-c/--count sets the rounds of --report; use -q for probes per hop")
    if port is not None and method == "icmp":
        raise InputError("-p/--port does not apply to ICMP probes")
    if report:
        queries = count or 10
        wait = wait or Wait(2.0, 0.0, 0.0)  # mtr: a fixed timeout, rounds 1 s apart
        interval = 1.0 if interval is None else interval
    wait = wait or Wait()
    if (max_ttl - first_ttl + 1) * queries > 60000:
        raise InputError("too many probes: (hops × probes per hop) must stay under 60000")

    addr, fam = resolve_target(target, family)
    route = route_to(addr, common.iface or scope_iface(target))
    ident = (os.getpid() ^ int(time.time())) & 0xFFFF or 1
    sport = ident if method == "icmp" else random.randrange(33000, 60000)
    flow = Flow(method, fam, route.src, addr, sport, port or DEFAULT_PORT[method],
                flow_label=0)  # fmt: skip
    runner = None
    if _unprivileged(method, fam, verbose=common.verbose, write=write):
        from netlab.net.tracesock import RecvErrRunner

        runner = RecvErrRunner(fam, route.src, addr, flow.dport, df=df or path_mtu)
        # The kernel owns the socket's source address and port: they are the flow's.
        flow = Flow(method, fam, runner.src, addr, runner.sport, flow.dport, flow_label=0)
    mtu_start = interface_mtu(route.dev) if path_mtu else None
    size = packetlen or default_size(flow)
    if size < min_size(flow):
        raise InputError(f"packet length {size} is too small: {method} probes over "
                         f"IPv{fam} need {min_size(flow)} bytes")  # fmt: skip
    if df and not path_mtu:
        dev_mtu = interface_mtu(route.dev)
        if dev_mtu and size > dev_mtu:
            raise InputError(f"packet length {size} with --df is over the MTU of {route.dev} "
                             f"({dev_mtu})")  # fmt: skip
    import_scapy_ip({fam}, bool(flow.src))

    # On a kernel socket the kernel cuts probes bigger than the link into fragments.
    link_mtu = None if df or path_mtu or runner else (route.path_mtu or interface_mtu(route.dev))
    core = TraceCore(
        flow, first_ttl=first_ttl, max_ttl=max_ttl, queries=queries,
        simultaneous=simultaneous, wait=wait, size=size, df=df, path_mtu=mtu_start,
        link_mtu=link_mtu, interval=interval or 0.0,
    )  # fmt: skip
    core.known_path_mtu = lambda: route_to(addr).path_mtu
    doc = {"target": target, "addr": addr, "method": method, "hops": [], "reached": False}
    if path_mtu:
        doc["pmtu"] = None
    with Session(common, write=write, data=doc) as s:
        if report:
            s.text(*view.report_header(socket.gethostname(), time.strftime("%Y-%m-%dT%H:%M:%S%z")))
        else:
            s.text(view.header(target, addr, max_ttl, core.size))
        shown = view.TracePresenter(s, doc, json=common.json, report=report, path_mtu=path_mtu,
                                    names=ReverseNames() if resolve else None)  # fmt: skip
        if plot or plot_out:
            from netlab.render.charts import TraceRecorder

            shown = TraceRecorder(shown, target)
        if runner is not None:
            s.interrupted = runner.run(core, shown)
        else:
            s.run_packets(core, route.dev, shown, pmtu_probe=df or path_mtu)
    if plot or plot_out:
        draw(shown.series(), plot=plot, plot_out=plot_out, color=common.color, json=common.json)
    return s.status(shown.reached)


def _unprivileged(method: str, fam: int, verbose: int, write: str | None) -> bool:
    """False with raw sockets; True (and a note) for UDP probes on a kernel socket with
    IP_RECVERR (Linux traceroute's default method, tracepath) without them; exit 3 for
    --icmp/--tcp, -v and --write, which need raw sockets."""
    import socket

    from netlab.errors import PrivilegeError
    from netlab.net.privilege import can_open_raw_socket, require_raw_socket

    if can_open_raw_socket(socket.AF_INET if fam == 4 else socket.AF_INET6):
        return False
    if method != "udp":
        require_raw_socket(f"traceroute --{method}", socket.AF_INET if fam == 4
                           else socket.AF_INET6)  # fmt: skip
    if verbose or write:
        from netlab.net.privilege import grant_hint

        raise PrivilegeError("-v and --write need a packet capture, which needs raw "
                             "sockets (CAP_NET_RAW), which this process lacks; "
                             + grant_hint())  # fmt: skip
    click.echo("netlab: note: no CAP_NET_RAW: UDP probes on a kernel socket, answers from "
               "IP_RECVERR (as tracepath); send times come from user space", err=True)  # fmt: skip
    return True
