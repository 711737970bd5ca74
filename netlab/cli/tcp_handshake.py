"""`netlab tcp-handshake`: a TCP connection from raw packets, segment by segment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from netlab.cli import complete
from netlab.cli.options import SECONDS_OR_ZERO, Common, Number, common_options, family_options
from netlab.errors import ExitStatus

MAX_SEND = 1 << 20  # bytes --send/--send-file may carry (the segments are all kept for -v)
SERVICES = "/etc/services"
MAX_SERVICES = 4 << 20  # bytes of it read at most

# hping3's flag options, in --help's order: (names, parameter, TCP flag bit, help's words)
_FLAGS = (
    (("-S", "--syn"), "f_syn", 0x02, "SYN set."),
    (("-F", "--fin"), "f_fin", 0x01, "FIN set."),
    (("-A", "--ack"), "f_ack", 0x10, "ACK set."),
    (("-R",), "f_rst", 0x04, "RST set (--rst is the handshake's reset close)."),
    (("-P", "--push"), "f_push", 0x08, "PSH set."),
    (("-U", "--urg"), "f_urg", 0x20, "URG set."),
    (("-X", "--xmas"), "f_xmas", 0x40, "ECE set."),
    (("-Y", "--ymas"), "f_ymas", 0x80, "CWR set."),
)

# 2×MSL when --time-wait has no value: Linux's TCP_TIMEWAIT_LEN (60 s).
TIME_WAIT_DEFAULT = 60.0


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class _Command(click.Command):
    """--time-wait takes an optional value: `--time-wait server 7` means the default,
    not SECONDS=server (click would take the next word, whatever it is)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        takes_value = {opt for p in self.params if isinstance(p, click.Option) and not p.is_flag
                       for opt in p.opts}  # fmt: skip
        args = list(args)
        i = 0
        while i < len(args) and args[i] != "--":
            if args[i] == "--time-wait" and (i + 1 == len(args) or not _is_number(args[i + 1])):
                args[i] = f"--time-wait={TIME_WAIT_DEFAULT:g}"
            elif args[i] in takes_value:
                i += 1  # its value, whatever it looks like
            i += 1
        return super().parse_args(ctx, args)


def _flag_options(func):
    """hping3's flag options (-S -F -A -R -P -U -X -Y), one flag each, from _FLAGS."""
    for names, param, _bit, what in reversed(_FLAGS):  # the last applied is listed first
        func = click.option(*names, param, is_flag=True, help=f"hping3: probes with {what}")(func)
    return func


@click.command(
    "tcp-handshake",
    cls=_Command,
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
@click.option("--hold", type=SECONDS_OR_ZERO, default=0.0, show_default=True,
              metavar="SECONDS", help="Stay in ESTABLISHED this long before closing.")  # fmt: skip
@click.option("--rst", "reset", is_flag=True, help="Close with a reset instead of FIN.")
@click.option("--graceful", is_flag=True,
              help="On Ctrl-C, close with FIN and wait for the close (a second Ctrl-C "
                   "resets) instead of resetting at once.")  # fmt: skip
@click.option(
    "--time-wait",
    type=SECONDS_OR_ZERO,
    metavar="[SECONDS]",
    help="Wait out TIME_WAIT (2×MSL; without SECONDS 60 s, Linux's TCP_TIMEWAIT_LEN) "
    "and end in CLOSED. Default: leave it after 0.5 s.",
)
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
    shell_complete=complete.service_ports,
    help="SYN scan instead, like nmap -sS -p: ports, ranges and service names "
    "(22,80,8000-8100, http,ssh, - for 1-65535).",
)
@click.option("--rate", type=Number(0.1, 1_000_000), metavar="PER_SECOND",
              help="With --ports: at most this many SYNs per second (default 100000; "
                   "fewer in flight when probes go unanswered).")  # fmt: skip
@click.option("-p", "--dport", type=click.IntRange(0, 65535), metavar="PORT",
              help="The destination port (hping3's -p; the same as PORT).")  # fmt: skip
@click.option("-s", "--sport", type=click.IntRange(1, 65535), metavar="PORT",
              help="Our source port (with hping3's flags: the base, one more per "
                   "probe).")  # fmt: skip
@_flag_options
@click.option("-t", "--ttl", type=click.IntRange(1, 255), metavar="TTL",
              help="hping3: the probes' TTL (hop limit); default 64.")  # fmt: skip
@click.option("-d", "--data", "data_size", type=click.IntRange(0, 65000), metavar="SIZE",
              help="hping3: SIZE bytes of data in each probe.")  # fmt: skip
@click.option(
    "--interval",
    type=Number(0.001, 3600),
    metavar="SECONDS",
    help="hping3 (its -i uX): seconds between probes; default 1.",
)
@common_options("count", "iface", "verbose", "write", "json", "no_color")
@click.option(
    "--guard-timeout",
    type=click.IntRange(1, 3600),
    default=30,
    show_default=True,
    metavar="SECONDS",
    help="Lifetime of the nftables element that holds off the kernel's RSTs (refreshed).",
)
@click.option(
    "--connect",
    is_flag=True,
    help="A kernel connect() instead of raw packets (no privileges): result, handshake RTT "
    "and options from TCP_INFO.",
)
@family_options()
def tcp_handshake(common: Common, host: str, port: int | None, **options: Any) -> ExitStatus:
    """Connect to HOST:PORT from raw packets as a client (RFC 9293): SYN with
    Linux's options, SYN-ACK, ACK, then an orderly close (FIN, ACK, FIN, ACK) or
    a reset (--rst). Every segment is shown with its flags, sequence numbers
    (absolute and relative), window, options and time, and the client state
    after it; then the handshake RTT (kernel timestamps).

    With --send/--send-file the data goes out after the handshake in segments
    no larger than the server's MSS (less our options) and within its window;
    every data segment and ACK, both ways, is on the timeline (-v shows the
    contents), and the close (after --hold) waits until all of it is acknowledged.

    TIME_WAIT (we close first) is not waited out by default: the run ends 0.5 s
    after the last ACK. With --time-wait it lasts 2×MSL (60 s, or SECONDS) with
    the guard kept in place, a retransmitted FIN is ACKed again (and restarts
    it), and the timeline ends with the change to CLOSED.

    The kernel has no socket for this connection and would reset it: a narrow
    nftables rule (table inet netlab_guard) drops only the kernel's RSTs of our
    4-tuple, with a timeout, and is removed at the end.

    With --ports (and no PORT) it is a SYN scan instead, like nmap -sS: SYNs from
    one source port, as fast as --rate allows with many in flight (fewer when probes
    go unanswered), a timeout from the measured RTT (nmap's: 100 ms to 10 s), a retry
    only for unanswered ports (--tries, default 2 here). A SYN-ACK makes the port open
    (the kernel resets it: nothing stays half-open), a RST closed, an ICMP unreachable
    or silence filtered. Open ports are printed as they are found, then the rest
    with nmap's folding ("Not shown: 998 closed tcp ports (reset)") and a SERVICE
    column from /etc/services. LIST takes nmap's -p forms: 22,80,8000-8100, service
    names (http,ssh), - for 1-65535, -1024, 60000-.

    With hping3's options (-S -F -A -R -P -U -X -Y, -c COUNT, -t TTL, -d SIZE,
    --interval) it sends hping3's probes instead: one per second (--interval) with
    exactly those flags, the source port one higher per probe from -s (random by
    default), to PORT or -p (0 by default), until -c probes or Ctrl-C; each answer
    is printed as hping3 prints it ("len=44 ip=198.18.4.2 ttl=61 DF id=0 sport=80
    flags=SA seq=0 win=64240 rtt=0.9 ms"), its statistics at the end on stderr;
    --json gives NDJSON (a "reply" or "icmp" line per answer, then a "summary").

    With --connect the kernel makes the connection instead (connect() with a
    timeout of 1 s, 2 s, 4 s … for --tries SYNs, then close()): no raw sockets,
    no nftables, no privileges. The result is open, closed (ECONNREFUSED) or
    filtered (a timeout, or the error by name: EHOSTUNREACH, ENETUNREACH …); an
    open port adds the handshake RTT and the negotiated options (SACK,
    timestamps, window scales, MSS) from TCP_INFO. There is no segment timeline.

    Exit 0 if the port is open (a scan: any port open; hping3's probes: any
    answer), 1 if closed (RST) or filtered (no answer, ICMP unreachable), 2 on bad
    input, 3 without
    CAP_NET_RAW/CAP_NET_ADMIN, 130 on Ctrl-C.

    \b
    Examples:
      netlab tcp-handshake server 7
      netlab tcp-handshake --hold 2 --rst 198.18.4.2 80
      netlab tcp-handshake --json server 9 | jq .result
      netlab tcp-handshake --send "hello netlab" server 7
      netlab tcp-handshake --time-wait 5 server 7
      netlab tcp-handshake --ports 22,80,8000-8100 server
      netlab tcp-handshake --ports - server
      netlab tcp-handshake -S -c 3 -p 80 server
      netlab tcp-handshake --connect --json server 7
    """
    from netlab.errors import InputError

    flags = sum(bit for _names, param, bit, _what in _FLAGS if options.pop(param))
    o = HandshakeOptions(flags=flags, **options)
    if o.dport is not None:
        if port is not None and port != o.dport:
            raise InputError(f"two destination ports: PORT {port} and -p {o.dport}")
        port = o.dport
    if _hping_asked(common, o):
        return _probe(common, host, 0 if port is None else port, o)  # hping3's default: 0
    if port == 0:
        raise InputError("port 0: only hping3's probes (-S, -c …) may go to port 0")
    if o.connect:
        return _connect(common, host, _connect_port(common, o, port), o)
    if o.port_spec is not None:
        if (port is not None or o.send_text is not None or o.send_file is not None or o.hold
                or o.reset or o.graceful or o.time_wait is not None):  # fmt: skip
            raise InputError("--ports scans: give no PORT, --send, --hold, --rst, --graceful or "
                             "--time-wait with it")  # fmt: skip
        return _scan(common, host, o)
    if port is None:
        raise InputError("missing PORT (or --ports LIST for a scan)")
    return _handshake(common, host, port, _send_data(o), o)


@dataclass(frozen=True)
class HandshakeOptions:
    """tcp-handshake's own options (the shared ones are in `Common`), as click passes them."""

    tries: int
    hold: float
    reset: bool
    graceful: bool
    time_wait: float | None
    send_text: str | None
    send_file: str | None
    port_spec: str | None
    rate: float | None
    guard_timeout: int
    connect: bool
    family: int | None
    dport: int | None
    sport: int | None
    ttl: int | None
    data_size: int | None
    interval: float | None
    flags: int = 0  # the TCP flags hping3's options (-S -F …) set in the probes


def _hping_asked(common: Common, o: HandshakeOptions) -> bool:
    """Do the options ask for hping3's probes? Refuses them beside another mode's."""
    from netlab.errors import InputError

    hping = [name for name, used in {
        "-S/-F/-A/-R/-P/-U/-X/-Y": bool(o.flags), "-c": common.count is not None,
        "-t": o.ttl is not None, "-d": o.data_size is not None,
        "--interval": o.interval is not None}.items() if used]  # fmt: skip
    if not hping:
        return False
    if o.connect or o.port_spec is not None:
        raise InputError(f"{', '.join(hping)} send hping3's probes: not with "
                         f"{'--connect' if o.connect else '--ports'}")  # fmt: skip
    other = {"--send": o.send_text is not None, "--send-file": o.send_file is not None,
             "--hold": bool(o.hold), "--rst": o.reset, "--graceful": o.graceful,
             "--time-wait": o.time_wait is not None}  # fmt: skip
    given = [name for name, used in other.items() if used]
    if given:
        raise InputError(f"{', '.join(given)}: for a handshake, not hping3's probes")
    return True


def _connect_port(common: Common, o: HandshakeOptions, port: int | None) -> int:
    """--connect's PORT, refusing what only raw packets can do."""
    from netlab.errors import InputError

    raw_only = {"--ports": o.port_spec is not None, "--send": o.send_text is not None,
                "--send-file": o.send_file is not None, "--rst": o.reset,
                "--graceful": o.graceful, "--time-wait": o.time_wait is not None,
                "-w": common.write is not None}  # fmt: skip
    given = [name for name, used in raw_only.items() if used]
    if given:
        raise InputError(f"--connect leaves the segments to the kernel: {', '.join(given)} "
                         "need raw packets")  # fmt: skip
    if port is None:
        raise InputError("missing PORT")
    return port


def _send_data(o: HandshakeOptions) -> bytes:
    """What --send or --send-file gives to send after the handshake (bounded)."""
    from netlab.errors import InputError

    if o.send_text is not None and o.send_file is not None:
        raise InputError("--send and --send-file cannot be used together")
    data = o.send_text.encode() if o.send_text is not None else b""
    if o.send_file is not None:
        try:
            with click.open_file(o.send_file, "rb") as f:
                data = f.read(MAX_SEND + 1)  # bounded: /dev/zero or an endless pipe too
        except OSError as err:
            raise InputError(f"cannot read {o.send_file}: {err.strerror}") from None
        if len(data) > MAX_SEND:
            raise InputError(f"--send-file: {o.send_file} holds more than {MAX_SEND // 1024} "
                             "KiB, the most one handshake run sends")  # fmt: skip
    if len(data) > MAX_SEND:
        raise InputError(f"--send: more than {MAX_SEND // 1024} KiB")
    return data


def _raw_route(common: Common, host: str, family: int | None, *, netlink: bool = False):
    """HOST's address and family and the kernel's route to it (out of -i; NETLINK: asked
    over rtnetlink, no `ip` process: net/rtnetlink.py), raw sockets checked (exit 3)."""
    import socket

    from netlab.net.privilege import require_raw_socket
    from netlab.net.route import resolve_target, route_to

    addr, fam = resolve_target(host, family)
    if netlink:
        from netlab.net.rtnetlink import route_get

        try:
            route = route_get(addr, common.iface)
        except OSError:
            route = route_to(addr, common.iface)
    else:
        route = route_to(addr, common.iface)
    require_raw_socket("tcp-handshake", socket.AF_INET if fam == 4 else socket.AF_INET6)
    return addr, fam, route


def _handshake(common: Common, host: str, port: int, data: bytes,
               o: HandshakeOptions) -> ExitStatus:  # fmt: skip
    """The handshake from raw packets (core/tcp_handshake.py), the kernel's RSTs held off."""
    import random

    from netlab.cli.run import Session
    from netlab.core.tcp_handshake import Conn, TcpHandshakeCore
    from netlab.errors import PrivilegeError
    from netlab.net.route import hold_source_port, interface_mtu
    from netlab.net.rstguard import MARK, RstGuard, check_available
    from netlab.render import tcp_handshake as view

    try:
        addr, fam, route = _raw_route(common, host, o.family)
    except PrivilegeError as err:
        raise PrivilegeError(
            f"{err}; or use --connect (a kernel connect(), no privileges)"
        ) from None
    nft = check_available()
    mtu = interface_mtu(route.dev) or 1500
    mss = mtu - (40 if fam == 4 else 60)

    # The kernel picks our source port: a bound (never listening) socket holds it for
    # the whole run, so no real socket of this host can take the same 4-tuple.
    holder = hold_source_port(fam, route.src, o.sport)
    try:
        sport = holder.getsockname()[1]
        conn = Conn(fam, route.src, sport, addr, port, mss)
        import scapy.layers.inet  # now, not inside the first send

        if fam == 6:
            import scapy.layers.inet6  # noqa: F401
        rng = random.SystemRandom()
        core = TcpHandshakeCore(conn, isn=rng.getrandbits(32), ts_base=rng.getrandbits(32),
                                tries=o.tries, hold=o.hold, reset=o.reset, data=data,
                                graceful=o.graceful, time_wait=o.time_wait)  # fmt: skip
        with Session(common) as s:
            s.text(view.header(core, host))
            with RstGuard(fam, route.src, sport, addr, port, timeout=o.guard_timeout, nft=nft):
                s.run_packets(core, route.dev, _no_events, mark=MARK)
            s.set_result(view.json_document(core, host))
            s.text(*view.timeline_lines(core), view.result_line(core))
    finally:
        holder.close()
    return s.status(core.outcome is not None and core.outcome.result == "open")


def _no_events(_event) -> None:
    pass  # the timeline is read from the core at the end


def _connect(common: Common, host: str, port: int, o: HandshakeOptions) -> ExitStatus:
    """--connect: the kernel's own handshake, timed and described by TCP_INFO."""
    from netlab.cli.run import Session
    from netlab.net.kconnect import kernel_connect
    from netlab.net.route import resolve_target, route_to
    from netlab.render import tcp_handshake as view

    addr, fam = resolve_target(host, o.family)
    source = route_to(addr, common.iface).src if common.iface else ""
    with Session(common) as s:
        result = kernel_connect(addr, port, fam, tries=o.tries, hold=o.hold,
                                iface=common.iface, source=source)  # fmt: skip
        s.interrupted = result.interrupted
        doc = {"mode": "connect", "target": host, "addr": addr, "port": port,
               **result.document()}  # fmt: skip
        s.set_result(doc)
        s.text(view.connect_header(host, addr, port, result.source, result.sport),
               view.connect_result_line(doc))  # fmt: skip
    return s.status(result.result == "open")


def _services_text() -> str:
    """services(5), the database nmap's SERVICE names come from too; "" without it."""
    try:
        with open(SERVICES, encoding="utf-8", errors="replace") as f:
            return f.read(MAX_SERVICES)
    except OSError:
        return ""


def _scan(common: Common, host: str, o: HandshakeOptions) -> ExitStatus:
    """--ports: a SYN scan, nmap -sS's way (core/tcp_scan.py). No Scapy and no nftables
    (the kernel's own RST closes what a SYN-ACK opened): start-up is most of a small
    scan's time."""
    import random

    from netlab.cli.run import Session
    from netlab.core.tcp_scan import TcpScanCore, parse_ports, parse_services, service_names
    from netlab.net.route import hold_source_port, interface_mtu
    from netlab.render import tcp_handshake as view

    services = _services_text()
    ports = parse_ports(o.port_spec, parse_services(services))
    names = service_names(services)
    addr, fam, route = _raw_route(common, host, o.family, netlink=True)
    mtu = interface_mtu(route.dev) or 1500
    # tries: the command's default is 3 (a handshake); a scan, like nmap, retries once.
    scan_tries = o.tries if o.tries != 3 else 2
    holder = hold_source_port(fam, route.src, o.sport)  # one source port for every probe
    try:
        core = TcpScanCore(fam, route.src, holder.getsockname()[1], addr, ports,
                           isn=random.SystemRandom().getrandbits(32),
                           rate=o.rate if o.rate is not None else 100_000.0, tries=scan_tries,
                           mss=mtu - (40 if fam == 4 else 60),
                           see_outgoing=bool(common.verbose or common.write))  # fmt: skip
        with Session(common) as s:
            s.text(view.scan_header(core, host), view.scan_columns())

            def on_event(event) -> None:
                if event.state == "open":  # streamed as found, as nmap -v's "Discovered"
                    s.text(view.scan_row(core.results[event.port], names))

            # IPv4 without -v/-w: answers on raw IP sockets, cheaper to close than a
            # packet capture (net/ipcapture.py); else the runner's capture, both ways.
            capture = None
            if fam == 4 and not core.see_outgoing:
                from netlab.net.ipcapture import open_ip_capture as capture
            s.run_packets(core, route.dev, on_event, capture=capture)
            s.set_result(view.scan_json(core, host, names))
            s.text(*view.scan_tail(core, names, s.interrupted))
    finally:
        holder.close()
    return s.status(any(r.state == "open" for r in core.results.values()))


def _probe(common: Common, host: str, port: int, o: HandshakeOptions) -> ExitStatus:
    """hping3's TCP mode (core/tcp_probe.py): a probe per interval, each answer a line."""
    import random

    from netlab.cli.run import Session
    from netlab.core.tcp_probe import TcpProbeCore
    from netlab.render import tcp_handshake as view

    addr, fam, route = _raw_route(common, host, o.family)
    rng = random.SystemRandom()
    base = o.sport if o.sport is not None else rng.randrange(1024, 1024 + 32768)  # as hping3
    core = TcpProbeCore(fam, route.src, addr, port, flags=o.flags, base_sport=base,
                        isn=rng.getrandbits(32), count=common.count,
                        interval=o.interval if o.interval is not None else 1.0,
                        ttl=o.ttl if o.ttl is not None else 64,
                        data_size=o.data_size or 0)  # fmt: skip
    with Session(common, stream=True) as s:
        s.text(view.hping_header(core, host, route.dev))

        def on_event(event) -> None:
            if s.ndjson is not None:
                s.emit(view.hping_record(event))
            else:
                s.text(view.hping_line(event))

        s.run_packets(core, route.dev, on_event)
        if core.error:
            s.note(core.error, "error")
        if s.ndjson is not None:
            record = view.hping_summary_record(core)
            if s.interrupted:
                record["interrupted"] = True
            s.emit(record)
        else:  # on stderr, as hping3 prints its statistics
            s.err.write("\n".join(["", *view.hping_summary_lines(core)]) + "\n")
    return s.status(bool(core.answered))
