"""`netlab traceroute`: Paris-style traceroute (UDP, ICMP, TCP), Linux traceroute's output."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import click

from netlab.cli.options import (
    SECONDS_OR_ZERO,
    Common,
    common_options,
    family_options,
    write_option,
)
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
@click.option("-p", "--port", type=click.IntRange(1, 65535), metavar="PORT",
              help="Destination port: 33434 for UDP, 80 for TCP; the same for every "
                   "probe.")  # fmt: skip
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
@family_options()
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
@write_option
@plot_flag_options("each hop's RTTs, min to max with the average marked (--report -c N: N per hop)")
@common_options("iface", "verbose", "json", "no_color")
def traceroute(common: Common, target: str, **options: Any) -> ExitStatus:
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
    from netlab.core.trace import Wait
    from netlab.errors import InputError

    o = TraceOptions(**options)
    methods = [m for m, on in (("udp", o.use_udp), ("icmp", o.use_icmp), ("tcp", o.use_tcp)) if on]
    if len(methods) > 1:  # not "the last one wins": say so
        raise InputError(f"choose one probe method, not {' and '.join(methods)}")
    method = methods[0] if methods else "udp"
    if o.first_ttl > o.max_ttl:
        raise InputError(f"first hop {o.first_ttl} is beyond the last one ({o.max_ttl})")
    if o.count is not None and not o.report:
        raise InputError("-c/--count sets the rounds of --report; use -q for probes per hop")
    if o.port is not None and method == "icmp":
        raise InputError("-p/--port does not apply to ICMP probes")
    if o.report:  # mtr: a fixed timeout, rounds 1 s apart
        o = replace(o, queries=o.count or 10, wait=o.wait or Wait(2.0, 0.0, 0.0),
                    interval=1.0 if o.interval is None else o.interval)  # fmt: skip
    o = replace(o, wait=o.wait or Wait())
    if (o.max_ttl - o.first_ttl + 1) * o.queries > 60000:
        raise InputError("too many probes: (hops × probes per hop) must stay under 60000")
    return _run(common, target, method, o)


@dataclass(frozen=True)
class TraceOptions:
    """traceroute's own options (the shared ones are in `Common`), as click passes them."""

    packetlen: int | None
    use_udp: bool
    use_icmp: bool
    use_tcp: bool
    port: int | None
    queries: int
    max_ttl: int
    first_ttl: int
    wait: Any  # core.trace.Wait, or None: the default
    simultaneous: int
    numeric: bool
    resolve: bool
    df: bool
    path_mtu: bool
    family: int | None
    report: bool
    count: int | None
    interval: float | None
    write: str | None
    plot: bool = False
    plot_out: str | None = None


def _run(common: Common, target: str, method: str, o: TraceOptions) -> ExitStatus:
    """Resolve TARGET, build the probes' flow and the core, and trace in one Session."""
    import socket
    import time

    from netlab.cli.run import Session
    from netlab.net.rdns import ReverseNames
    from netlab.net.route import target_route
    from netlab.render import traceroute as view

    addr, fam, route = target_route(target, o.family, common.iface)
    flow, runner = _flow(method, fam, route, addr, o, capture=bool(common.verbose or o.write))
    core = _core(flow, route, o, kernel_socket=runner is not None)
    doc = {"target": target, "addr": addr, "method": method, "hops": [], "reached": False}
    if o.path_mtu:
        doc["pmtu"] = None
    with Session(common, write=o.write, data=doc) as s:
        if o.report:
            s.text(*view.report_header(socket.gethostname(), time.strftime("%Y-%m-%dT%H:%M:%S%z")))
        else:
            s.text(view.header(target, addr, o.max_ttl, core.size))
        shown = view.TracePresenter(s, doc, json=common.json, report=o.report,
                                    path_mtu=o.path_mtu,
                                    names=ReverseNames() if o.resolve else None)  # fmt: skip
        if o.plot or o.plot_out:
            from netlab.render.charts import TraceRecorder

            shown = TraceRecorder(shown, target)
        if runner is not None:
            s.run(runner, core, shown)
        else:
            s.run_packets(core, route.dev, shown, pmtu_probe=o.df or o.path_mtu)
    if o.plot or o.plot_out:
        draw(shown.series(), plot=o.plot, plot_out=o.plot_out, color=common.color,
             json=common.json)  # fmt: skip
    return s.status(shown.reached)


def _flow(method: str, fam: int, route, addr: str, o: TraceOptions, capture: bool):
    """The probes' flow identifiers, constant across TTLs (Paris-style), and the kernel
    socket runner when raw sockets are not allowed (None: raw packets)."""
    import os
    import random
    import time

    from netlab.core.trace import DEFAULT_PORT, Flow

    ident = (os.getpid() ^ int(time.time())) & 0xFFFF or 1
    sport = ident if method == "icmp" else random.randrange(33000, 60000)
    flow = Flow(method, fam, route.src, addr, sport, o.port or DEFAULT_PORT[method],
                flow_label=0)  # fmt: skip
    if not _unprivileged(method, fam, capture):
        return flow, None
    from netlab.net.tracesock import RecvErrRunner

    runner = RecvErrRunner(fam, route.src, addr, flow.dport, df=o.df or o.path_mtu)
    # The kernel owns the socket's source address and port: they are the flow's.
    return Flow(method, fam, runner.src, addr, runner.sport, flow.dport, flow_label=0), runner


def _core(flow, route, o: TraceOptions, kernel_socket: bool):
    """The trace core, its probe size checked against the flow and the interface."""
    from netlab.core.trace import TraceCore, default_size, min_size
    from netlab.errors import InputError
    from netlab.net.route import interface_mtu, route_to
    from netlab.net.runner import import_scapy_ip

    mtu_start = interface_mtu(route.dev) if o.path_mtu else None
    size = o.packetlen or default_size(flow)
    if size < min_size(flow):
        raise InputError(f"packet length {size} is too small: {flow.method} probes over "
                         f"IPv{flow.family} need {min_size(flow)} bytes")  # fmt: skip
    if o.df and not o.path_mtu:
        dev_mtu = interface_mtu(route.dev)
        if dev_mtu and size > dev_mtu:
            raise InputError(f"packet length {size} with --df is over the MTU of {route.dev} "
                             f"({dev_mtu})")  # fmt: skip
    import_scapy_ip({flow.family}, bool(flow.src))
    # On a kernel socket the kernel cuts probes bigger than the link into fragments.
    link_mtu = (None if o.df or o.path_mtu or kernel_socket
                else (route.path_mtu or interface_mtu(route.dev)))  # fmt: skip
    core = TraceCore(
        flow, first_ttl=o.first_ttl, max_ttl=o.max_ttl, queries=o.queries,
        simultaneous=o.simultaneous, wait=o.wait, size=size, df=o.df, path_mtu=mtu_start,
        link_mtu=link_mtu, interval=o.interval or 0.0,
    )  # fmt: skip
    addr = flow.dst
    core.known_path_mtu = lambda: route_to(addr).path_mtu
    return core


def _unprivileged(method: str, fam: int, capture: bool) -> bool:
    """False with raw sockets; True (and a note) for UDP probes on a kernel socket with
    IP_RECVERR (Linux traceroute's default method, tracepath) without them; exit 3 for
    --icmp/--tcp, -v and --write, which need raw sockets."""
    from netlab.cli.run import kernel_socket_fallback

    return kernel_socket_fallback(
        f"traceroute --{method}", fam, fallback=lambda: method == "udp", capture=capture,
        capture_error="-v and --write need a packet capture, which needs raw sockets "
        "(CAP_NET_RAW), which this process lacks; ",
        note="no CAP_NET_RAW: UDP probes on a kernel socket, answers from IP_RECVERR (as "
        "tracepath); send times come from user space",
    )  # fmt: skip
