"""`netlab ping`: ICMP/ICMPv6 echo from raw packets, iputils-compatible output."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import click

from netlab.cli import complete
from netlab.cli.options import (
    DAY,
    DEADLINE,
    SECONDS,
    Common,
    Number,
    common_options,
    family_options,
    interface_name,
    write_option,
)
from netlab.cli.plotopts import draw, plot_flag_options
from netlab.errors import ExitStatus


class _Interval(Number):
    """-i: 0 (root: as fast as answers come) or 0.001 s up to a day; iputils counts in
    milliseconds, so what is in between would silently mean 0."""

    def convert(self, value, param, ctx) -> float:
        number = super().convert(value, param, ctx)
        if 0 < number < 0.001:
            self.fail(f"{value} is out of range (0, or 0.001 to {self.high:g})", param, ctx)
        return number


@click.command(
    short_help="Send ICMP echo requests (raw packets, kernel timestamps), like iputils ping.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.argument("targets", nargs=-1, required=True, metavar="TARGET...")
@click.option(
    "-I",
    "--iface",
    metavar="IFACE",
    callback=interface_name,
    help="Leave by this interface.",
    shell_complete=complete.interfaces,
)
@click.option("-i", "--interval", type=_Interval(0, DAY), metavar="SECONDS",
              help="Time between echo requests [default: 1; 0 with -f]. Below 0.002 s "
                   "only as root (iputils).")  # fmt: skip
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
              help="Stop after this long; with -c, stop once COUNT answers are in (requests "
                   "go on until then), or at the first error (iputils).")  # fmt: skip
@click.option("-f", "--flood", is_flag=True,
              help="Flood: a request as soon as the last is answered (at least 100 a second); "
                   "a dot per request, a backspace per reply. Root only.")  # fmt: skip
@click.option("-A", "--adaptive", is_flag=True,
              help="Adaptive: the interval follows the round-trip time.")  # fmt: skip
@click.option("-a", "--audible", is_flag=True, help="Ring the bell (\\a) on each reply.")
@click.option("-O", "--outstanding", is_flag=True,
              help='Say "no answer yet for icmp_seq=N" before sending the next '
                   "request.")  # fmt: skip
@click.option(
    "-p",
    "--pattern",
    metavar="HEX",
    help="Fill the payload with this pattern (up to 16 bytes in hex, e.g. ff).",
)
@click.option(
    "-Q",
    "--tos",
    metavar="TOS",
    callback=lambda c, p, v: _tos(v),
    help="IPv4 type of service / IPv6 traffic class (decimal or 0x hex).",
)
@click.option("-M", "pmtudisc", type=click.Choice(["do", "want", "dont", "probe"]),
              help="Path MTU discovery: do (DF, refuse what exceeds the path MTU), want "
                   "(DF when it fits; the default), dont (no DF), probe (DF, ignore the "
                   "learnt MTU).")  # fmt: skip
@click.option("--df", is_flag=True, help="Set Don't Fragment (as -M do).")
@click.option("-l", "--preload", type=click.IntRange(1, 65536), default=1, metavar="N",
              help="Send N requests at once first (more than 3 only as root).")  # fmt: skip
@click.option("-b", "--broadcast", is_flag=True, help="Allow pinging a broadcast address.")
@click.option("-e", "--ident", type=click.IntRange(0, 0xFFFF), metavar="ID",
              help="The ICMP echo identifier (default: random).")  # fmt: skip
@click.option(
    "-r",
    "--dontroute",
    is_flag=True,
    help="Bypass the routing table (SO_DONTROUTE): on-link hosts only.",
)
@family_options()
@click.option(
    "--explain",
    is_flag=True,
    help="First show the route decision: on-link or via which gateway, and the next hop's MAC.",
)
@write_option
@click.option("-q", "--quiet", is_flag=True, help="Only the first line and the statistics.")
@click.option("-D", "timestamps", is_flag=True, help="Start each line with the UNIX time.")
@click.option("-n", "numeric", is_flag=True,
              help="Addresses only: no reverse lookup of who answered.")  # fmt: skip
@plot_flag_options("the RTT of each icmp_seq (losses marked X)")
@common_options("count", "verbose", "json", "no_color")
def ping(common: Common, targets: tuple[str, ...], **options: Any) -> ExitStatus:
    """Send echo requests to each TARGET (several are probed in parallel) until
    stopped, or COUNT of them, and report replies, ICMP errors in iputils' words
    with the router that sent them, and iputils' statistics. Takes iputils'
    options with their meanings. The round-trip time is taken from kernel
    timestamps of the request leaving and the reply arriving.

    Exit 0 if any reply came back (with -w and -c: COUNT of them), 1 if not, 2 on
    bad input, 3 without CAP_NET_RAW, 130 on Ctrl-C (after the statistics).

    \b
    Examples:
      netlab ping -c 3 198.18.4.2
      netlab ping --explain server
      netlab ping -M do -s 1472 server       # does 1500 bytes fit the path?
      netlab ping -c 100 -f server           # flood (root): dots for lost replies
      netlab ping --json -c 5 198.18.0.1 198.18.0.2 | jq 'select(.type=="summary")'
    """
    import os

    o = PingOptions(**options)
    fill = _pattern(o.pattern) if o.pattern is not None else None
    root = os.geteuid() == 0
    if o.interval is None:
        o = replace(o, interval=0.0 if o.flood else 1.0)
    _check_user_limits(root, o.interval, o.preload)
    return _run(common, targets, o, fill, root)


@dataclass(frozen=True)
class PingOptions:
    """ping's own options (the shared ones are in `Common`), as click passes them."""

    iface: str | None
    interval: float | None  # None: 1 s, 0 with -f
    size: int
    ttl: int
    reply_timeout: float
    deadline: float | None
    flood: bool
    adaptive: bool
    audible: bool
    outstanding: bool
    pattern: str | None
    tos: int
    pmtudisc: str | None
    df: bool
    preload: int
    broadcast: bool
    ident: int | None
    dontroute: bool
    family: int | None
    explain: bool
    write: str | None
    quiet: bool
    timestamps: bool
    numeric: bool
    plot: bool = False
    plot_out: str | None = None


def _run(common: Common, targets: tuple[str, ...], o: PingOptions, fill: bytes | None,
         root: bool) -> ExitStatus:  # fmt: skip
    """Resolve the targets, then send, show and count in one Session."""
    from netlab.cli.run import Session
    from netlab.render import ping as view

    resolved = _resolve(targets, o)
    unprivileged = _unprivileged_mode(capture=bool(common.verbose or o.write))
    # iputils: no reverse lookups for an address typed as such, nor with -n or -f.
    names = not (o.numeric or o.flood or all(_is_address(t.name) for t, _r in resolved))
    namer = _Namer() if names else str
    with Session(common, stream=True, write=o.write) as s:
        if o.explain:
            for target, route in resolved:
                s.side.write("\n".join(_explain(target, route)) + "\n")
        if fill is not None and not o.quiet:
            s.text(view.pattern_line(fill))
        s.text(*(view.header(target, o.size, shown=namer(target.addr),
                             source=route.src if o.iface else None, iface=o.iface)
                 for target, route in resolved))  # fmt: skip
        core = _core(common, resolved, o, fill, root, unprivileged)
        shown = view.PingPresenter(s, json=common.json, quiet=o.quiet,
                                   timestamps=o.timestamps, audible=o.audible, flood=o.flood,
                                   broadcast=o.broadcast, namer=namer,
                                   several=len(resolved) > 1)  # fmt: skip
        if o.plot or o.plot_out:
            from netlab.render.charts import PingRecorder

            shown = PingRecorder(shown)
        s.run(_runner(s, core, resolved, o, unprivileged), core, shown)
    # iputils: success is a reply; with -w and -c, COUNT replies.
    enough = not (o.deadline and common.count) or shown.replies >= common.count
    if o.plot or o.plot_out:  # after the statistics, as mtr draws after its rounds
        draw(shown.series(), plot=o.plot, plot_out=o.plot_out, color=common.color,
             json=common.json)  # fmt: skip
    return s.status(shown.replies > 0 and enough)


def _resolve(targets: tuple[str, ...], o: PingOptions) -> list:
    """(Target, Route) for each name; they must all leave by one interface, and a
    broadcast address needs -b (iputils' question)."""
    from netlab.core.echo import Target
    from netlab.errors import InputError
    from netlab.net.route import is_broadcast, target_route

    resolved = []
    for name in targets:
        addr, fam, route = target_route(name, o.family, o.iface)
        resolved.append((Target(name, addr, fam, route.src), route))
    devs = sorted({route.dev for _t, route in resolved})
    if len(devs) > 1:
        raise InputError(
            f"the targets leave by different interfaces ({', '.join(devs)}): ping them separately"
        )
    if any(t.family == 4 and is_broadcast(t.addr) for t, _r in resolved):
        if not o.broadcast:
            raise InputError("Do you want to ping broadcast? Then -b. If not, check your "
                             "local firewall rules")  # fmt: skip
        click.echo("WARNING: pinging broadcast address", err=True)
    return resolved


def _core(common: Common, resolved: list, o: PingOptions, fill: bytes | None, root: bool,
          unprivileged: bool):  # fmt: skip
    """The echo core for the targets, paced as iputils' pinger."""
    import os
    import time

    from netlab.core.echo import EchoCore
    from netlab.net.route import interface_mtu, route_to
    from netlab.net.runner import import_scapy_ip

    if not unprivileged:  # raw sockets: netlab cuts big requests into fragments itself
        for target, route in resolved:
            target.link_mtu = interface_mtu(route.dev)
            target.mtu = route.path_mtu or target.link_mtu
    import_scapy_ip({t.family for t, _r in resolved}, all(t.src for t, _r in resolved))
    core = EchoCore(
        [t for t, _r in resolved],
        ident=o.ident if o.ident is not None else os.getpid() ^ int(time.time()),
        count=common.count, interval=o.interval, size=o.size, ttl=o.ttl, df=o.df,
        timeout=o.reply_timeout, deadline=o.deadline, pmtudisc=o.pmtudisc, tos=o.tos,
        pattern=fill, preload=o.preload, flood=o.flood, adaptive=o.adaptive,
        outstanding=o.outstanding, broadcast=o.broadcast,
        min_interval=0.0 if root else USER_MIN_INTERVAL,
    )  # fmt: skip
    dev = resolved[0][1].dev  # the one interface (_resolve)
    core.path_mtu = lambda addr: route_to(addr).path_mtu or interface_mtu(dev)
    return core


def _runner(s, core, resolved: list, o: PingOptions, unprivileged: bool):
    """The kernel's ICMP datagram sockets without CAP_NET_RAW, else raw packets."""
    if unprivileged:
        from netlab.net.pingsock import DatagramRunner

        runner = DatagramRunner({t.family for t, _r in resolved}, ttl=o.ttl, df=o.df, tos=o.tos,
                                pmtudisc=core.pmtudisc, dontroute=o.dontroute,
                                broadcast=o.broadcast, ident=o.ident)  # fmt: skip
        core.ident = runner.ident()  # the kernel owns the identifier of a ping socket
        return runner
    from netlab.net.pingsock import RawPingRunner

    # Without -M do, fragments we cut to the path MTU must not be refused because
    # the kernel learnt a smaller one meanwhile (from the first fragment's "packet
    # too big"): the router's answer is the one to show, as iputils does.
    return RawPingRunner(resolved[0][1].dev, tap=s.tap, pmtu_probe=core.pmtudisc != "do",
                         dontroute=o.dontroute, broadcast=o.broadcast)  # fmt: skip


USER_MIN_INTERVAL = 0.002  # iputils' MINUSERINTERVAL (2 ms) for users other than root


def _check_user_limits(root: bool, interval: float, preload: int) -> None:
    """iputils' limits for users other than root: no flood, a preload of at most 3."""
    from netlab.errors import InputError

    if not root and interval < USER_MIN_INTERVAL:
        raise InputError("cannot flood; minimal interval allowed for user is 2ms")
    if not root and preload > 3:
        raise InputError(f"cannot set preload to value greater than 3: {preload}")


def _tos(value: str | None) -> int:
    """-Q: decimal or 0x hex, 0-255 (iputils' parsetos and its messages)."""
    if value is None:
        return 0
    try:
        tos = int(value[2:], 16) if value[:2].lower() == "0x" else int(value, 10)
    except ValueError:
        raise click.BadParameter(f"bad TOS value: {value}") from None
    if not 0 <= tos <= 255:
        raise click.BadParameter(f"the decimal value of TOS bits must be in range 0-255: {tos}")
    return tos


def _pattern(text: str) -> bytes:
    """-p: up to 16 bytes of hex, two digits each (iputils' fill())."""
    bad = next((i for i, c in enumerate(text) if c not in "0123456789abcdefABCDEF"), None)
    if bad is not None:
        from netlab.errors import InputError

        raise InputError(f"patterns must be specified as hex digits: {text[bad:]}")
    return bytes(int(text[i : i + 2], 16) for i in range(0, min(len(text), 32), 2))


def _is_address(name: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(name.partition("%")[0])
    except ValueError:
        return False
    return True


class _Namer:
    """iputils' pr_addr: "name (addr)" when the address has a reverse name, else the
    address; each looked up once (net/rdns.py: a thread, waited for at most a second,
    so a resolver that hangs holds up one line, not the run)."""

    def __init__(self) -> None:
        from netlab.net.rdns import ReverseNames

        self.names = ReverseNames()
        self.shown: dict[str, str] = {}

    def __call__(self, addr: str) -> str:
        if addr not in self.shown:
            name = self.names.name(addr)
            self.shown[addr] = f"{name} ({addr})" if name else addr
        return self.shown[addr]


def _unprivileged_mode(capture: bool) -> bool:
    """False with raw sockets; True (and a note) on the kernel's unprivileged ICMP
    sockets when net.ipv4.ping_group_range allows them; otherwise exit 3."""
    from netlab.cli.run import kernel_socket_fallback
    from netlab.net.pingsock import unprivileged_ping_allowed

    return kernel_socket_fallback(
        "ping", 4, fallback=unprivileged_ping_allowed, capture=capture,
        capture_error="-v and --write need a packet capture, which needs CAP_NET_RAW; ",
        note="no CAP_NET_RAW: using the kernel's unprivileged ICMP socket "
        "(net.ipv4.ping_group_range); send times come from user space",
    )  # fmt: skip


def _explain(target, route) -> list[str]:
    """--explain: the route decision, and the next hop's MAC (asked for when the kernel
    has none yet, as it is about to: net/nexthop.py)."""
    from netlab.net.nexthop import solicit_next_hop
    from netlab.render.explain import explain_route

    lines = explain_route(target.addr, route)
    asked = solicit_next_hop(route, timeout=1.0)
    if asked is None:
        return lines
    hop, mac, r = route.next_hop, asked.mac, asked.reply
    if route.family == 4:
        label = "ARP"
        lines.append(f"  ARP: who-has {hop}? tell {route.src} (broadcast from {mac})")
    else:
        label = "NDP"
        lines.append(f"  NDP: Neighbor Solicitation for {hop} from {mac} (to "
                     f"{asked.core.group}, {asked.core.group_mac})")  # fmt: skip
    if r is None:
        return [*lines, f"  {label}: no answer from {hop} within 1 s"]
    rtt = f"  ({r.rtt_ms:.3f} ms)" if r.rtt_ms is not None else ""
    if route.family == 4:
        return [*lines, f"  ARP: {r.ip} is-at {r.mac}{rtt}"]
    router = ", a router" if r.router else ""
    return [*lines, f"  NDP: Neighbor Advertisement {r.target} is at {r.mac}{router}{rtt}"]
