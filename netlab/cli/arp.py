"""`netlab arp`: who-has / is-at like arping, subnet sweeps like arp-scan, DAD, gratuitous ARP."""

from __future__ import annotations

import click

from netlab.cli import complete
from netlab.cli.options import (
    DAY,
    DEADLINE,
    RATE,
    SECONDS,
    Common,
    Number,
    common_options,
    interface_name,
)
from netlab.errors import ExitStatus

SHORT_HELP = "Ask who-has with ARP like arping; --scan subnets like arp-scan; DAD, gratuitous ARP."
MAX_SCAN = 65536  # a /16; more needs --force
DEFAULT_RATE = 1000.0  # packets/s for --scan
DEFAULT_COUNT = {"resolve": 3, "dad": 3, "announce": 2}  # DAD/announce: RFC 5227's numbers


@click.command(short_help=SHORT_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("targets", nargs=-1, metavar="[IP | PREFIX | FIRST-LAST]...")
@click.option(
    "-I",
    "--iface",
    metavar="IFACE",
    callback=interface_name,
    shell_complete=complete.interfaces,
    help="Use this interface (default: the route's).",
)
@click.option("-s", "--source", metavar="IP", help="Sender IP address (default: the route's).")
@click.option("-i", "--interval", type=Number(1e-6, DAY), metavar="SECONDS",
              help="Time between probes [1]; with --scan, between packets [1/--rate].")  # fmt: skip
@click.option("--rate", type=RATE, metavar="PPS",
              help=f"--scan: packets per second [{DEFAULT_RATE:.0f}].")  # fmt: skip
@click.option(
    "-W",
    "--timeout",
    "reply_timeout",
    type=SECONDS,
    metavar="SECONDS",
    help="Wait for answers after the last probe [1]; with --scan, after a host's first try "
    "[0.5], times --backoff for each retry.",
)
@click.option(
    "-w",
    "--deadline",
    type=DEADLINE,
    metavar="SECONDS",
    help="Stop after this long; with -c, probe until COUNT answers (as arping -w).",
)
@click.option(
    "-b",
    "--broadcast",
    "broadcast_only",
    is_flag=True,
    help="Broadcast every probe (default: unicast to the MAC that answered, as arping).",
)
@click.option(
    "--scan",
    "scan",
    multiple=True,
    metavar="CIDR",
    help="Sweep these addresses (network and broadcast skipped); repeatable.",
)
@click.option("--localnet", is_flag=True, help="Sweep the interface's own IPv4 subnets.")
@click.option("--retry", type=click.IntRange(min=1), metavar="N",
              help="--scan: tries per host in all, as arp-scan's --retry [2].")  # fmt: skip
@click.option("--backoff", type=Number(1, 100), metavar="FACTOR",
              help="--scan: each retry waits this much longer than the last [1.5].")  # fmt: skip
@click.option("--force", is_flag=True, help="--scan: allow more than 65,536 addresses.")
@click.option(
    "-D",
    "--dad",
    is_flag=True,
    help="Duplicate address detection (RFC 5227 probe from 0.0.0.0): exit 0 if IP is free.",
)
@click.option(
    "-U",
    "--gratuitous",
    is_flag=True,
    help="Announce IP (default: the interface's) with gratuitous ARP requests (arping -U).",
)
@click.option("-A", "--gratuitous-reply", is_flag=True,
              help="Announce with gratuitous ARP replies (arping -A); with -U, both.")  # fmt: skip
@click.option("-f", "--first", "first_reply", is_flag=True,
              help="Stop at the first reply that shows IP is alive (arping -f).")  # fmt: skip
@click.option("-q", "--quiet", is_flag=True,
              help="Print nothing, the exit status says it (arping -q); a sweep shows "
                   "addresses and MACs without vendors (arp-scan -q).")  # fmt: skip
@click.option("--write", metavar="FILE", type=click.Path(dir_okay=False),
              help="Save every ARP packet sent and received to FILE (pcapng).")  # fmt: skip
@common_options("count", "verbose", "json", "no_color")
def arp(
    common: Common, targets: tuple[str, ...], iface: str | None, source: str | None,
    interval: float | None, rate: float | None, reply_timeout: float | None,
    deadline: float | None, broadcast_only: bool, scan: tuple[str, ...], localnet: bool,
    retry: int | None, backoff: float | None, force: bool, dad: bool, gratuitous: bool,
    gratuitous_reply: bool, first_reply: bool, quiet: bool, write: str | None,
) -> ExitStatus:  # fmt: skip
    """Resolve IP to its MAC address with ARP requests and show who answers and
    how fast, like iputils arping; or sweep whole subnets like arp-scan and list
    every host with its vendor (from the IEEE registry of Debian's ieee-data),
    marking addresses that more than one host answers for as (DUP: n).

    \b
    Modes:
      netlab arp IP             who-has IP: probes (-c, default 3) every -i seconds,
                                broadcast first, then unicast to the MAC that answered
                                (-f: stop at the first reply; -q: print nothing)
      netlab arp PREFIX | FIRST-LAST | IP IP …
                                sweep them, as arp-scan (198.18.0.0/29,
                                198.18.0.0:255.255.255.248, 198.18.0.1-198.18.0.9)
      netlab arp --scan CIDR    sweep at --rate packets/s (default 1000); a host gets
                                --retry tries (2), waiting --timeout (0.5 s) after the
                                first and --backoff (1.5) times longer after each next;
                                a prefix's network and broadcast addresses are skipped
      netlab arp --localnet     sweep the subnets of the interface (-I)
      netlab arp --dad IP       is IP free? RFC 5227 probes from 0.0.0.0 (default 3)
      netlab arp -U [IP]        gratuitous ARP: announce IP (yours) to the segment

    Exit 0 if an answer came (--dad: if nobody else has IP; -U/-A: once sent),
    1 if none (--dad: IP is in use), 2 on bad input, 3 without CAP_NET_RAW, 130 on
    Ctrl-C (after the summary). --json prints NDJSON: one {"type": "reply", "addr",
    "mac", "vendor", "rtt_ms", "dup"} line per answer and a final {"type": "summary"}.

    \b
    Examples:
      netlab arp -c 1 -I eth0 198.18.0.20
      netlab arp -I eth0 198.18.0.0/24            # arp-scan -I eth0 198.18.0.0/24
      netlab arp -f -q 198.18.0.20 && echo up     # arping -f -q
      netlab arp --localnet --json | jq -r 'select(.type=="reply") | .mac'
      netlab arp --dad -c 2 198.18.0.30 && ip addr add 198.18.0.30/24 dev eth0
      netlab arp -U -I eth0                  # tell the segment our MAC changed
    """
    if targets and (scan or localnet):
        raise click.UsageError(f"--scan/--localnet take no IP argument (got '{targets[0]}'): "
                               "give the prefixes either way")  # fmt: skip
    # arp-scan's habit: a prefix, a range or several addresses as targets sweep them.
    sweep = len(targets) > 1 or any(_is_sweep(t) for t in targets)
    target = None if sweep or not targets else targets[0]
    scanning = bool(scan) or localnet or sweep
    announce = gratuitous or gratuitous_reply
    _check_combination(
        target, scanning, dad, announce, rate, interval, retry, backoff, force, common.count,
        broadcast_only, source,
    )  # fmt: skip
    if quiet and common.json:
        raise click.UsageError("-q prints nothing and --json prints NDJSON: give one")
    if first_reply and (scanning or dad or announce):
        raise click.UsageError("-f (stop at the first reply) applies to arping's who-has only")
    if scanning:
        return _scan(common, scan + targets, localnet, iface, source, interval, rate,
                     reply_timeout, deadline, retry or 2, backoff or 1.5, force, write,
                     quiet)  # fmt: skip
    mode = "dad" if dad else "announce" if announce else "resolve"
    ops = [op for op, on in (("request", gratuitous), ("reply", gratuitous_reply)) if on]
    return _probe(common, mode, target, iface, source, interval, reply_timeout, deadline,
                  broadcast_only, ops, write, first_reply, quiet)  # fmt: skip


def _is_sweep(text: str) -> bool:
    """A prefix (198.18.0.0/29), arp-scan's network:mask, or a range FIRST-LAST."""
    return "/" in text or _ipv4_range(text) is not None or _netmask_form(text) is not None


def _ipv4_range(text: str) -> tuple[int, int] | None:
    """arp-scan's FIRST-LAST (inclusive), both IPv4 addresses; None if TEXT is not one
    (a host name may have a '-' in it)."""
    import ipaddress

    first, sep, last = text.partition("-")
    if not sep:
        return None
    try:
        a, b = ipaddress.IPv4Address(first.strip()), ipaddress.IPv4Address(last.strip())
    except ValueError:
        return None
    return int(a), int(b)


def _netmask_form(text: str) -> str | None:
    """arp-scan's NETWORK:MASK (198.18.0.0:255.255.255.0) as NETWORK/MASK, or None."""
    import ipaddress

    net, sep, mask = text.partition(":")
    if not sep or "." not in net:
        return None
    try:
        ipaddress.IPv4Address(net)
        ipaddress.IPv4Address(mask)
    except ValueError:
        return None
    return f"{net}/{mask}"


def _check_combination(
    target, scanning, dad, announce, rate, interval, retry, backoff, force, count, broadcast_only,
    source,
) -> None:  # fmt: skip
    if scanning + dad + announce > 1:
        raise click.UsageError("choose one of --scan/--localnet, --dad and -U/-A")
    if source and dad:
        raise click.UsageError("--dad always asks from 0.0.0.0 (RFC 5227): -s does not apply")
    if source and announce:
        raise click.UsageError("-U/-A announce IP as its own sender: -s does not apply")
    if scanning:
        if target:
            raise click.UsageError(f"--scan/--localnet take no IP argument (got '{target}')")
        if count is not None:
            raise click.UsageError("-c does not apply to --scan (--retry sets tries per host)")
        if broadcast_only:
            raise click.UsageError("--scan always broadcasts: -b does not apply")
    else:
        for name, value in (("--rate", rate), ("--retry", retry), ("--backoff", backoff)):
            if value is not None:
                raise click.UsageError(f"{name} applies to --scan/--localnet only")
        if force:
            raise click.UsageError("--force applies to --scan/--localnet only")
        if not target and not announce:
            raise click.UsageError("missing IP (or --scan CIDR, or --localnet)")
    if rate is not None and interval is not None:
        raise click.UsageError("--rate and --interval both set the pace: give one")


# --- interfaces and addresses ------------------------------------------------------------------
def _ipv4(text: str, what: str) -> str:
    import ipaddress

    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        from netlab.net.route import resolve_target

        addr = ipaddress.ip_address(resolve_target(text, 4)[0])
    if addr.version != 4:
        from netlab.errors import InputError

        raise InputError(f"{what} '{text}' is IPv6: ARP is IPv4 only (IPv6 uses NDP)")
    return str(addr)


# --- arping modes ----------------------------------------------------------------------------
def _probe(common: Common, mode: str, target: str | None, iface: str | None,
           source: str | None, interval: float | None, reply_timeout: float | None,
           deadline: float | None, broadcast_only: bool, ops: list[str],
           write: str | None, first_reply: bool = False, quiet: bool = False,
           ) -> ExitStatus:  # fmt: skip
    from netlab.cli.run import Session
    from netlab.core.arp import ArpingCore
    from netlab.net import ifaces
    from netlab.net.privilege import require_raw_socket
    from netlab.render import arp as view

    notes = []
    if target is not None:
        target = _ipv4(target, "IP")
    if mode == "announce" and target is None:
        link = ifaces.link_named(iface) if iface else ifaces.default_ether()
        iface = link["ifname"]
        addrs = ifaces.ipv4_addresses(link)
        if not addrs:
            from netlab.errors import InputError

            raise InputError(f"'{iface}' has no IPv4 address to announce: give the IP")
        target = str(addrs[0].ip)
    assert target is not None
    dev = ifaces.iface_for(target, iface)
    mac = ifaces.ether_mac(dev)
    src = source and _ipv4(source, "--source")
    if mode == "resolve" and not src:
        src, gateway = ifaces.source_for(target, dev)
        if gateway:
            notes.append(f"{target} is not on-link (its route goes via {gateway}): only hosts "
                         f"on {dev}'s segment answer ARP")  # fmt: skip
    if mode == "announce" and not any(
        str(a.ip) == target for a in ifaces.ipv4_addresses(ifaces.link_named(dev))
    ):
        notes.append(f"{target} is not an address of {dev}: announcing it claims it for {mac}")
    count = common.count
    if count is None and deadline is None:
        count = DEFAULT_COUNT[mode]
    require_raw_socket("arp")

    with Session(common, stream=True, write=write) as s:
        for note in notes:
            s.note(note)
        import scapy.layers.l2  # noqa: F401  (now, not inside the first send)

        core = ArpingCore(mac=mac, src=src or "0.0.0.0", target=target, mode=mode,
                          count=count, interval=interval or 1.0, timeout=reply_timeout or 1.0,
                          deadline=deadline, broadcast_only=broadcast_only,
                          announce=ops or ("request",), first_reply=first_reply)  # fmt: skip
        if not quiet:
            s.text(view.probe_header(target, core.src, dev))
        shown = view.ProbePresenter(s, json=common.json, interface=dev, quiet=quiet)
        if s.run_packets(core, dev, shown):
            return ExitStatus.INTERRUPTED
    summary = shown.summary
    assert summary is not None
    if mode == "announce":
        return s.status(summary.sent > 0)
    if mode == "dad":
        return s.status(not summary.conflict_mac)
    wanted = 1 if first_reply else common.count if deadline is not None and common.count \
        is not None else 1  # fmt: skip
    return s.status(summary.answered >= wanted)


# --- scans -------------------------------------------------------------------------------------
def _scan_targets(cidrs: list[str], force: bool):
    """The addresses to sweep (a `TargetSpace`: in order, without repeats, never listed
    one by one) and how to name them."""

    from netlab.core.arp import TargetSpace
    from netlab.errors import InputError

    ranges, names = [], []
    for text in cidrs:
        first_last = _ipv4_range(text)
        if first_last is not None:  # arp-scan's FIRST-LAST, inclusive
            if first_last[0] > first_last[1]:
                raise InputError(f"'{text}': the range ends before it starts")
            ranges.append(first_last)
            names.append(text.replace(" ", ""))
            continue
        net = _sweep_network(text)
        first, last = int(net.network_address), int(net.broadcast_address)
        if net.prefixlen < 31:  # network and broadcast address: nobody to ask
            first, last = first + 1, last - 1
        ranges.append((first, last))
        names.append(str(net))
    total = sum(last - first + 1 for first, last in ranges)
    if total > MAX_SCAN and not force:
        raise InputError(f"--scan: {total:,} addresses is more than a /16 ({MAX_SCAN:,}); "
                         "add --force if you mean it")  # fmt: skip
    return TargetSpace(ranges), ", ".join(names)


def _sweep_network(text: str):
    """A prefix, NETWORK:MASK, an address (a /32) or a host name's IPv4 address."""
    import ipaddress

    from netlab.errors import InputError

    spec = _netmask_form(text.strip()) or text.strip()
    try:
        net = ipaddress.ip_network(spec, strict=False)
    except ValueError:
        if "/" in spec or not spec:
            raise InputError(f"--scan: '{text}' is not an IPv4 address or prefix "
                             "(e.g. 198.18.0.0/24)") from None  # fmt: skip
        try:
            net = ipaddress.ip_network(_ipv4(spec, "target"))
        except InputError:
            raise InputError(f"--scan: '{text}' is not an IPv4 address or prefix "
                             "(e.g. 198.18.0.0/24)") from None  # fmt: skip
    if net.version != 4:
        raise InputError(f"--scan: {net} is IPv6, and ARP is IPv4 only (IPv6 uses NDP)")
    return net


def _scan(common: Common, cidrs: tuple[str, ...], localnet: bool, iface: str | None,
          source: str | None, interval: float | None, rate: float | None,
          reply_timeout: float | None, deadline: float | None, tries: int, backoff: float,
          force: bool, write: str | None, quiet: bool = False) -> ExitStatus:  # fmt: skip
    from netlab.cli.run import Session
    from netlab.errors import InputError
    from netlab.net import ifaces
    from netlab.net.privilege import require_raw_socket
    from netlab.render import arp as view

    nets = list(cidrs)
    link = None
    if localnet:
        link = ifaces.link_named(iface) if iface else ifaces.default_ether()
        iface = link["ifname"]
        subnets = [str(a.network) for a in ifaces.ipv4_addresses(link) if a.network.prefixlen < 32]
        if not subnets:
            raise InputError(f"--localnet: '{iface}' has no IPv4 subnet to sweep")
        nets += subnets
    targets, what = _scan_targets(nets, force)
    if not targets.n:
        raise InputError("--scan: no addresses to sweep")
    from netlab.core.arp import ip_str

    first_target = ip_str(targets.addr(0))
    dev = iface or ifaces.iface_for(first_target, None)
    mac = ifaces.ether_mac(dev)
    src = source and _ipv4(source, "--source")
    if not src:
        import ipaddress

        first = ipaddress.ip_address(first_target)
        mine = ifaces.ipv4_addresses(link or ifaces.link_named(dev))
        inside = [a for a in mine if first in a.network]
        src = str((inside or mine)[0].ip) if mine else ifaces.source_for(first_target, dev)[0]
    pace = interval if interval is not None else 1.0 / (rate or DEFAULT_RATE)
    timeout = reply_timeout or 0.5
    require_raw_socket("arp")

    import scapy.layers.l2  # noqa: F401  (before the clock starts)

    from netlab.core.arp import ArpScanCore
    from netlab.net.oui import default_database

    core = ArpScanCore(mac=mac, src=src, targets=targets, interval=pace, tries=tries,
                       timeout=timeout, backoff=backoff, deadline=deadline)  # fmt: skip
    vendors = default_database()  # read at the first answer (~50 ms; pacing catches up)
    with Session(common, stream=True, write=write) as s:
        s.text(*view.scan_header(dev, mac, src, targets.n, what, 1.0 / pace, tries, timeout))
        shown = view.ScanPresenter(s, vendors, json=common.json, interface=dev, source=src,
                                   vendor_column=not quiet)  # fmt: skip
        s.run_packets(core, dev, shown)
    return s.status(shown.summary is not None and shown.summary.responded > 0)
