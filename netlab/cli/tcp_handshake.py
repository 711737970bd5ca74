"""`netlab tcp-handshake`: a TCP connection from raw packets, segment by segment."""

from __future__ import annotations

import click

from netlab.cli.options import Common, common_options
from netlab.errors import ExitStatus


@click.command(
    "tcp-handshake",
    short_help="Open (and close) a TCP connection from raw packets, showing every segment.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.argument("host")
@click.argument("port", type=click.IntRange(1, 65535), required=False)
@click.option(
    "--tries",
    type=click.IntRange(1, 10),
    default=3,
    show_default=True,
    help="SYNs to send before calling the port filtered (timeouts 1 s, 2 s, 4 s …).",
)
@click.option(
    "--hold",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    metavar="SECONDS",
    help="Stay in ESTABLISHED this long before closing.",
)
@click.option("--rst", "reset", is_flag=True, help="Close with a reset instead of FIN.")
@click.option(
    "--send",
    "send_text",
    metavar="DATA",
    help="After the handshake send DATA (UTF-8), wait for the ACKs, then close.",
)
@click.option(
    "--send-file",
    type=click.Path(exists=True, dir_okay=False, allow_dash=True),
    metavar="PATH",
    help="Like --send, with the bytes of a file (- for standard input).",
)
@click.option(
    "--ports",
    "port_spec",
    metavar="LIST",
    help="SYN scan instead: ports and ranges like 22,80,8000-8100 (open/closed/filtered).",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0.1, max=10000),
    default=100.0,
    show_default=True,
    metavar="PER_SECOND",
    help="With --ports: SYN probes per second.",
)
@click.option(
    "--guard-timeout",
    type=click.IntRange(1, 3600),
    default=30,
    show_default=True,
    metavar="SECONDS",
    help="Lifetime of the nftables element that holds off the kernel's RSTs (refreshed).",
)
@click.option("-4", "family", flag_value=4, help="IPv4 only.")
@click.option("-6", "family", flag_value=6, help="IPv6 only.")
@common_options("iface", "verbose", "write", "json", "no_color")
def tcp_handshake(
    common: Common, host: str, port: int | None, tries: int, hold: float, reset: bool,
    send_text: str | None, send_file: str | None, port_spec: str | None, rate: float,
    guard_timeout: int, family: int | None,
) -> ExitStatus:  # fmt: skip
    """Connect to HOST:PORT from raw packets as a client (RFC 9293): SYN with
    Linux's options, SYN-ACK, ACK, then an orderly close (FIN, ACK, FIN, ACK) or
    a reset (--rst). Every segment is shown with its flags, sequence numbers
    (absolute and relative), window, options and time, and the client state
    after it; then the handshake RTT (kernel timestamps).

    With --send/--send-file the data goes out after the handshake in segments
    no larger than the server's MSS (less our options) and within its window;
    every data segment and ACK, both ways, is on the timeline (-v shows the
    contents), and the close (after --hold) waits until all of it is acknowledged.

    The kernel has no socket for this connection and would reset it: a narrow
    nftables rule (table inet netlab_guard) drops only the kernel's RSTs of our
    4-tuple, with a timeout, and is removed at the end.

    With --ports (and no PORT) it is a SYN scan instead, like nmap -sS: one SYN
    per port from one source port at --rate per second; a SYN-ACK makes the port
    open (answered with our RST, so nothing stays half-open), a RST closed, an
    ICMP unreachable or silence after --tries SYNs (default 2 here, 1 s each)
    filtered. A table port/state/reason, or --json rows.

    Exit 0 if the port is open (a scan: any port open), 1 if closed (RST) or
    filtered (no answer, ICMP unreachable), 2 on bad input, 3 without
    CAP_NET_RAW/CAP_NET_ADMIN, 130 on Ctrl-C.

    \b
    Examples:
      netlab tcp-handshake server 7
      netlab tcp-handshake --hold 2 --rst 198.18.4.2 80
      netlab tcp-handshake --json server 9 | jq .result
      netlab tcp-handshake --send "hello netlab" server 7
      netlab tcp-handshake --ports 22,80,8000-8100 server
    """
    import random
    import socket
    import sys
    import time

    from netlab.core.tcp_handshake import Conn, TcpHandshakeCore
    from netlab.errors import InputError
    from netlab.net.privilege import require_raw_socket
    from netlab.net.route import resolve_target, route_to
    from netlab.net.rstguard import MARK, RstGuard, check_available
    from netlab.render import tcp_handshake as view

    if port_spec is not None:
        if port is not None or send_text is not None or send_file is not None or hold or reset:
            raise InputError("--ports scans: give no PORT, --send, --hold or --rst with it")
        return _scan(common, host, port_spec, rate, tries, guard_timeout, family)
    if port is None:
        raise InputError("missing PORT (or --ports LIST for a scan)")
    if send_text is not None and send_file is not None:
        raise InputError("--send and --send-file cannot be used together")
    data = send_text.encode() if send_text is not None else b""
    if send_file is not None:
        try:
            with click.open_file(send_file, "rb") as f:
                data = f.read()
        except OSError as err:
            raise InputError(f"cannot read {send_file}: {err.strerror}") from None
    addr, fam = resolve_target(host, family)
    route = route_to(addr, common.iface)
    require_raw_socket("tcp-handshake", socket.AF_INET if fam == 4 else socket.AF_INET6)
    nft = check_available()
    mtu = _interface_mtu(route.dev) or 1500
    mss = mtu - (40 if fam == 4 else 60)

    # The kernel picks our source port: a bound (never listening) socket holds it for
    # the whole run, so no real socket of this host can take the same 4-tuple.
    holder = socket.socket(socket.AF_INET if fam == 4 else socket.AF_INET6, socket.SOCK_STREAM)
    try:
        holder.bind((route.src, 0))
        sport = holder.getsockname()[1]
        conn = Conn(fam, route.src, sport, addr, port, mss)
        import scapy.layers.inet  # now, not inside the first send

        if fam == 6:
            import scapy.layers.inet6  # noqa: F401
        rng = random.SystemRandom()
        core = TcpHandshakeCore(conn, isn=rng.getrandbits(32), ts_base=rng.getrandbits(32),
                                tries=tries, hold=hold, reset=reset, data=data)  # fmt: skip
        out = sys.stdout
        if not common.json:
            out.write(view.header(core, host) + "\n")
            out.flush()
        from netlab.net.runner import Runner

        runner = Runner(route.dev, mark=MARK, verbose=common.verbose, write=common.write,
                                verbose_out=sys.stderr if common.json else out)  # fmt: skip
        with RstGuard(fam, route.src, sport, addr, port, timeout=guard_timeout, nft=nft):
            interrupted = runner.run(core, lambda _event: None)
    finally:
        holder.close()
    if interrupted:
        core.interrupt(time.time_ns())
    if common.json:
        from netlab.render.jsonout import JsonDocument

        with JsonDocument(out) as doc:
            doc.data = view.json_document(core, host)
            if interrupted:
                doc.data["interrupted"] = True
    else:
        out.write("\n".join(view.timeline_lines(core)) + "\n")
        out.write(view.result_line(core) + "\n")
        out.flush()
    if interrupted:
        return ExitStatus.INTERRUPTED
    ok = core.outcome is not None and core.outcome.result == "open"
    return ExitStatus.SUCCESS if ok else ExitStatus.NO_ANSWER


def _interface_mtu(dev: str) -> int | None:
    try:
        with open(f"/sys/class/net/{dev}/mtu", encoding="ascii") as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def _scan(common: Common, host: str, spec: str, rate: float, tries: int, guard_timeout: int,
          family: int | None) -> ExitStatus:  # fmt: skip
    import random
    import socket
    import sys
    import time

    from netlab.core.tcp_scan import TcpScanCore, parse_ports
    from netlab.net.privilege import require_raw_socket
    from netlab.net.route import resolve_target, route_to
    from netlab.net.rstguard import MARK, RstGuard, check_available
    from netlab.net.runner import Runner
    from netlab.render import tcp_handshake as view

    ports = parse_ports(spec)
    addr, fam = resolve_target(host, family)
    route = route_to(addr, common.iface)
    require_raw_socket("tcp-handshake", socket.AF_INET if fam == 4 else socket.AF_INET6)
    nft = check_available()
    mtu = _interface_mtu(route.dev) or 1500
    # tries: the command's default is 3 (a handshake); a scan, like nmap, retries once.
    scan_tries = tries if tries != 3 else 2
    holder = socket.socket(socket.AF_INET if fam == 4 else socket.AF_INET6, socket.SOCK_STREAM)
    try:
        holder.bind((route.src, 0))  # one kernel-reserved source port for every probe
        sport = holder.getsockname()[1]
        import scapy.layers.inet  # now, not inside the first send

        if fam == 6:
            import scapy.layers.inet6  # noqa: F401
        core = TcpScanCore(fam, route.src, sport, addr, ports,
                           isn=random.SystemRandom().getrandbits(32), rate=rate,
                           tries=scan_tries, mss=mtu - (40 if fam == 4 else 60))  # fmt: skip
        out = sys.stdout
        if not common.json:
            out.write(view.scan_header(core, host) + "\n")
            out.flush()
        runner = Runner(route.dev, mark=MARK, verbose=common.verbose, write=common.write,
                        verbose_out=sys.stderr if common.json else out)  # fmt: skip
        with RstGuard(fam, route.src, sport, addr, ports, timeout=guard_timeout, nft=nft):
            interrupted = runner.run(core, lambda _event: None)
    finally:
        holder.close()
    if interrupted:
        core.interrupt(time.time_ns())
    if common.json:
        from netlab.render.jsonout import JsonDocument

        with JsonDocument(out) as doc:
            doc.data = view.scan_json(core, host)
            if interrupted:
                doc.data["interrupted"] = True
    else:
        out.write("\n".join(view.scan_lines(core)) + "\n")
        out.flush()
    if interrupted:
        return ExitStatus.INTERRUPTED
    any_open = any(r.state == "open" for r in core.results.values())
    return ExitStatus.SUCCESS if any_open else ExitStatus.NO_ANSWER
