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
@click.argument("port", type=click.IntRange(1, 65535))
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
    common: Common, host: str, port: int, tries: int, hold: float, reset: bool,
    guard_timeout: int, family: int | None,
) -> ExitStatus:  # fmt: skip
    """Connect to HOST:PORT from raw packets as a client (RFC 9293): SYN with
    Linux's options, SYN-ACK, ACK, then an orderly close (FIN, ACK, FIN, ACK) or
    a reset (--rst). Every segment is shown with its flags, sequence numbers
    (absolute and relative), window, options and time, and the client state
    after it; then the handshake RTT (kernel timestamps).

    The kernel has no socket for this connection and would reset it: a narrow
    nftables rule (table inet netlab_guard) drops only the kernel's RSTs of our
    4-tuple, with a timeout, and is removed at the end.

    Exit 0 if the port is open, 1 if closed (RST) or filtered (no answer, ICMP
    unreachable), 2 on bad input, 3 without CAP_NET_RAW/CAP_NET_ADMIN, 130 on Ctrl-C.

    \b
    Examples:
      netlab tcp-handshake server 7
      netlab tcp-handshake --hold 2 --rst 198.18.4.2 80
      netlab tcp-handshake --json server 9 | jq .result
    """
    import random
    import socket
    import sys
    import time

    from netlab.core.tcp_handshake import Conn, TcpHandshakeCore
    from netlab.net.privilege import require_raw_socket
    from netlab.net.route import resolve_target, route_to
    from netlab.net.rstguard import MARK, RstGuard, check_available
    from netlab.render import tcp_handshake as view

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
                                tries=tries, hold=hold, reset=reset)  # fmt: skip
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
