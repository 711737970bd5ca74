"""`netlab dns-query`: ask DNS servers with dig's syntax and line formats, transfer zones
(AXFR/IXFR), or walk the tree from the root (--trace / +trace)."""

from __future__ import annotations

import click

from netlab.cli import complete
from netlab.cli.options import Common, common_options
from netlab.errors import ExitStatus


@click.command(
    "dns-query",
    short_help="Ask DNS servers like dig (UDP, TCP retry, EDNS); --trace walks down from the root.",
    context_settings={"help_option_names": ["-h", "--help"], "ignore_unknown_options": True},
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED, shell_complete=complete.record_types,
                metavar="[@SERVER] [-t TYPE] [-x ADDR] [+OPT…] NAME [TYPE…] …")  # fmt: skip
@click.option("-p", "--port", type=click.IntRange(1, 65535), default=53, show_default=True,
              help="Server port.")  # fmt: skip
@click.option("-4", "ipv4", is_flag=True, help="IPv4 servers only (as dig -4).")
@click.option("-6", "ipv6", is_flag=True, help="IPv6 servers only (as dig -6).")
@click.option("--tries", type=click.IntRange(1, 10), default=3, show_default=True,
              help="UDP tries, the first one included (dig +tries=N).")  # fmt: skip
@click.option("--tcp", is_flag=True, help="Use TCP from the start (dig +tcp).")
@click.option("--ignore-tc", is_flag=True,
              help="Keep a truncated UDP reply (TC set) instead of retrying over TCP "
                   "(dig +ignore).")  # fmt: skip
@click.option("--bufsize", type=click.IntRange(0, 65535), default=1232, show_default=True,
              help="EDNS UDP payload size to advertise (dig +bufsize=N).")  # fmt: skip
@click.option("--no-edns", is_flag=True,
              help="Send no OPT record (plain RFC 1035, 512-byte UDP; dig +noedns).")  # fmt: skip
@click.option("--dnssec", is_flag=True, help="Set the DO bit (dig +dnssec).")
@click.option("--norec", is_flag=True, help="Clear RD: ask one server only (dig +norec).")
@click.option("--short", is_flag=True, help="Print only the answer data (dig +short).")
@click.option("--trace", is_flag=True,
              help="Resolve iteratively from the root: referrals, then the answer "
                   "(dig +trace).")  # fmt: skip
@click.option("--root", "roots", metavar="ADDR", multiple=True,
              help="Root server for --trace (repeatable; default: the root NS set of "
                   "@SERVER or of resolv.conf's nameserver, as dig +trace).")  # fmt: skip
@common_options("timeout", "verbose", "write", "json", "no_color", timeout=2.0)
def dns_query(
    common: Common, args: tuple[str, ...], port: int, ipv4: bool, ipv6: bool, tries: int,
    tcp: bool, ignore_tc: bool, bufsize: int, no_edns: bool, dnssec: bool, norec: bool,
    short: bool, trace: bool, roots: tuple[str, ...],
) -> ExitStatus:  # fmt: skip
    """Ask SERVER (default: the nameservers of /etc/resolv.conf, in turn) for NAME's
    records, with dig's syntax: `@SERVER` (a name: each of its addresses in turn),
    TYPE and CLASS words, `-t TYPE`, `-q NAME`, `-x ADDR` (PTR), `-c CLASS`, `-4`/`-6`,
    `-p PORT`, several names (what follows a name applies to it only; before the
    first name, to all), `AXFR` and `IXFR=SERIAL` over TCP, and dig's +[no]options:
    short, all, question, answer, authority, additional, comments, stats, cmd,
    recurse (rec), adflag, dnssec, tcp (vc), ignore, edns, nsid, cookie, trace, ttlid, class,
    tries=N, retry=N, time=N, bufsize=N (others are refused, named, exit 2).

    Queries leave from a kernel-chosen port with a random ID; replies whose ID,
    question or source do not match are ignored and counted; a truncated reply is
    asked again over TCP. Output is dig's: its sections, records as dig's tab
    columns, +short lines; --json prints one document (a list for several).

    --trace (+trace) walks down from the root. Without --root it first asks
    @SERVER, or the nameserver of /etc/resolv.conf, for the root NS set, as dig +trace.

    Exit 0 on an answer (also NOERROR without data), 1 on NXDOMAIN, SERVFAIL,
    REFUSED, timeout, a failed transfer or a malformed reply, 2 on bad input. An
    error is printed once: one line on stderr.

    -v shows every packet of the lookups (UDP, TCP handshake and all), decoded
    (on stderr with --json); --write FILE saves them as pcapng. Both capture on
    the interface of the route to the server and need CAP_NET_RAW.

    \b
    Examples:
      netlab dns-query www.example.lab
      netlab dns-query +noall +answer example.lab MX www.example.lab AAAA
      netlab dns-query @198.18.0.3 example.lab AXFR
      netlab dns-query -x 198.18.0.80 +short
      netlab dns-query --trace www.example.lab
      netlab dns-query --no-edns TXT big.example.lab -v --write big.pcapng
    """
    from netlab.cli import digargs
    from netlab.core.dns import QueryInputError
    from netlab.errors import InputError

    defaults = digargs.Settings(rd=not norec, edns=not no_edns, bufsize=bufsize, dnssec=dnssec,
                                tcp=tcp, tcp_given=tcp, ignore_tc=ignore_tc,
                                trace=trace)  # fmt: skip
    try:
        line = digargs.parse(args, defaults)
    except QueryInputError as err:
        raise InputError(str(err)) from None
    if line.unsupported:
        names = ", ".join(dict.fromkeys(line.unsupported))
        raise InputError(f"not supported by netlab dns-query: {names} (see --help)")
    if not line.lookups:
        line.lookups.append(digargs.root_ns_lookup(line))  # as dig: no name asks for ". NS"
    if ipv4 and ipv6:
        raise InputError("-4 and -6 exclude each other")
    if roots and not any(lk.settings.trace for lk in line.lookups):
        raise InputError("--root is the first server of --trace: add --trace, or ask @SERVER")
    run = _Run(common, line, port=port, family=4 if ipv4 else 6 if ipv6 else 0,
               tries=line.tries or tries, timeout=line.timeout or common.timeout or 2.0,
               short=short or line.short, roots=roots, command=_command(args))  # fmt: skip
    return run.all()


class _Run:
    """Every lookup of one command line, in one Session (one tap, one JSON document)."""

    def __init__(self, common: Common, line, *, port: int, family: int, tries: int,
                 timeout: float, short: bool, roots: tuple, command: str) -> None:  # fmt: skip
        self.common = common
        self.line = line
        self.port = port
        self.family = family
        self.tries = tries
        self.timeout = timeout
        self.short = short
        self.roots = roots
        self.command = command
        self.docs: list = []
        self.primed = None  # the reply that gave --trace its root NS set
        self.ok = True
        self.s = None

    # --- servers ----------------------------------------------------------------------
    def servers(self, lookup) -> list[tuple[str, str]]:
        """(address, label) of each server to try for LOOKUP, in order (dig's)."""
        from netlab.errors import InputError
        from netlab.net import resolver

        if lookup.settings.servers:
            out = []
            for text in lookup.settings.servers:
                for addr in resolver.server_addresses(text, InputError, self.family):
                    out.append((addr, text))
            return out
        return [(a, a) for a in resolver.default_servers(family=self.family)]

    def all(self) -> ExitStatus:
        from netlab.cli.run import Session
        from netlab.errors import InputError
        from netlab.net import resolver
        from netlab.render import dnsquery as view

        plan = [(lk, self.servers(lk)) for lk in self.line.lookups]
        roots = [("", a) for r in self.roots for a in resolver.server_addresses(r, InputError)]
        watch = self._watch(plan, roots)
        with Session(self.common) as s:
            self.s = s
            if self.line.cmd and not self.short:
                # dig counts the servers given before the first name ("global" ones).
                found = None
                if self.line.default.servers:
                    found = sum(len(resolver.server_addresses(t, InputError, self.family))
                                for t in self.line.default.servers)  # fmt: skip
                s.text(*view.cmd_lines(self.command, found))
            for lookup, servers in plan:
                for qtype in lookup.questions():
                    self.one(lookup, qtype, servers, roots, watch)
                    if s.interrupted:
                        break
                if s.interrupted:
                    break
        return s.status(self.ok)

    def one(self, lookup, qtype: int, servers, roots, watch) -> None:
        from netlab.core.dns import AXFR, IXFR

        if lookup.settings.trace:
            self.trace(lookup, qtype, servers, roots, watch)
        elif qtype in (AXFR, IXFR):
            self.transfer(lookup, qtype, servers, watch)
        else:
            self.query(lookup, qtype, servers, watch)

    def _result(self, doc: dict) -> None:
        self.docs.append(doc)
        self.s.set_result(self.docs[0] if len(self.docs) == 1 else self.docs)

    def _failed(self, failures: list) -> None:
        """All servers failed: one line on stderr (dig's words when there were several)."""
        from netlab.render import dnsquery as view

        self.ok = False
        if self.s.interrupted:
            # Ctrl-C is no error: the partial result says so, on stdout (no stderr line).
            if failures and not self.short:
                self.s.text(view.failure_line(failures[-1]))
            return
        if len(failures) == 1:
            self.s.note(view.failure_reason(failures[0]), "error")
            return
        tried = "; ".join(view.failure_reason(f) for f in failures)
        self.s.note(f"no servers could be reached: {tried}", "error")

    def _query(self, lookup, qtype: int, addr: str):
        import secrets

        from netlab.core.dns import Query

        st = lookup.settings
        options = []
        if st.nsid:
            options.append((3, b""))
        if st.cookie:
            options.append((10, secrets.token_bytes(8)))
        return Query(lookup.name, qtype, addr, self.port, secrets.randbelow(65536), rd=st.rd,
                     edns=st.edns, bufsize=st.bufsize, dnssec=st.dnssec, qclass=st.qclass,
                     options=tuple(options), serial=st.serial, ad=st.ad)  # fmt: skip

    # --- a query --------------------------------------------------------------------------
    def query(self, lookup, qtype: int, servers, watch) -> None:
        from netlab.core.dns import Exchange
        from netlab.render import dnsquery as view

        st = lookup.settings
        failures = []
        outcome = None
        for addr, _label in servers:
            exchange = Exchange(self._query(lookup, qtype, addr), timeout=self.timeout,
                                tries=self.tries, tcp=st.tcp, ignore_tc=st.ignore_tc)  # fmt: skip
            self.s.run_sockets(exchange, _no_events, watch=watch)
            outcome = exchange.result
            if hasattr(outcome, "message"):
                break
            failures.append(outcome)
            if self.s.interrupted:
                break
        if self.common.json and outcome is not None:
            doc = view.response_json(lookup.name, qtype, outcome, exchange.attempts)
            earlier = [f for f in failures if f is not outcome]
            if earlier:
                doc["failed"] = [view.failure_json(f) for f in earlier]
            self._result(doc)
        if outcome is None or not hasattr(outcome, "message"):
            self._failed(failures)
            return
        if outcome.message.extended_rcode != 0:
            self.ok = False
        self.s.text(*view.comm_error_lines(failures))
        if self.short:
            self.s.text(*view.short_lines(outcome.message.answers))
        else:
            label = next(lb for a, lb in servers if a == outcome.server)
            cookie = dict(exchange.query.options).get(10)
            self.s.text(*view.response_lines(outcome, st, label, cookie))

    # --- AXFR / IXFR --------------------------------------------------------------------
    def transfer(self, lookup, qtype: int, servers, watch) -> None:
        from netlab.core.dns import ZoneTransfer
        from netlab.render import dnsquery as view

        failures = []
        outcome = None
        for addr, _label in servers:
            xfr = ZoneTransfer(self._query(lookup, qtype, addr), timeout=self.timeout)
            self.s.run_sockets(xfr, _no_events, watch=watch)
            outcome = xfr.result
            if hasattr(outcome, "records"):
                break
            failures.append(outcome)
            if self.s.interrupted:
                break
        if self.common.json and outcome is not None:
            self._result(view.transfer_json(lookup.name, qtype, outcome))
        if outcome is None or not hasattr(outcome, "records"):
            self._failed(failures)
            return
        self.s.text(*view.comm_error_lines(failures))
        if outcome.rcode != "NOERROR":
            self.ok = False
            if not self.s.interrupted:
                where = f"{outcome.server}#{outcome.port}"
                self.s.note(f"transfer failed: {outcome.rcode} from {where}", "error")
            return
        if self.short:
            self.s.text(*view.short_lines(outcome.records))
        else:
            label = next(lb for a, lb in servers if a == outcome.server)
            self.s.text(*view.transfer_lines(outcome, lookup.settings, label))

    # --- --trace -------------------------------------------------------------------------
    def root_ns(self, lookup, servers, watch):
        """dig +trace's first step: the root NS set (and the root servers' addresses) from
        @SERVER or resolv.conf's nameserver. Returns ([(name, address)], server asked)."""
        from netlab.core.dns import AAAA, NS_TYPE, A, Exchange

        failures = []
        for addr, _label in servers:
            ex = Exchange(self._query(_root_lookup(lookup), NS_TYPE, addr), timeout=self.timeout,
                          tries=self.tries)  # fmt: skip
            self.s.run_sockets(ex, _no_events, watch=watch)
            if self.s.interrupted:
                return [], None
            if not hasattr(ex.result, "message"):
                failures.append(ex.result)
                continue
            msg = ex.result.message
            names = sorted({rr.data.to_text().lower() for rr in msg.answers if rr.rtype == NS_TYPE})
            families = [AAAA] if self.family == 6 else [A] if self.family == 4 else [A, AAAA]
            glue = [(rr.name.lower(), rr.data.to_text(), rr.rtype) for rr in msg.additional
                    if rr.rtype in families and rr.name.lower() in names]  # fmt: skip
            roots = [(n, a) for f in families for n, a, t in glue if t == f]
            if not roots:
                roots = self._root_addresses(lookup, names[:13], addr, families, watch)
            if roots:
                self.primed = ex.result
                return roots, addr
            failures.append(_no_roots(addr, self.port))
        self._failed(failures)
        return [], None

    def _root_addresses(self, lookup, names, server: str, families, watch):
        """Glueless root NS names: ask SERVER for their addresses (as dig does)."""
        from dataclasses import replace

        from netlab.core.dns import Exchange

        out = []
        for family in families:
            for name in names:
                ask = replace(_root_lookup(lookup), name=name)
                ex = Exchange(self._query(ask, family, server), timeout=self.timeout,
                              tries=self.tries)  # fmt: skip
                self.s.run_sockets(ex, _no_events, watch=watch)
                if self.s.interrupted:
                    return out
                if hasattr(ex.result, "message"):
                    out += [(name, rr.data.to_text()) for rr in ex.result.message.answers
                            if rr.rtype == family]  # fmt: skip
        return out

    def trace(self, lookup, qtype: int, servers, given_roots, watch) -> None:
        from netlab.core.dns import Exchange, Walk, WalkCore
        from netlab.render import dnsquery as view

        st = lookup.settings
        name = lookup.name.lower()  # the walk compares owner names without case
        roots, source = (given_roots, None) if given_roots else self.root_ns(lookup, servers, watch)
        if not roots:
            if self.common.json:
                self._result(view.trace_json(name, qtype, [], None, roots, source))
            return
        walk = Walk(name, qtype, roots, port=self.port, edns=st.edns, bufsize=st.bufsize,
                    dnssec=st.dnssec, ids=_random_ids(), family=self.family)  # fmt: skip
        core = WalkCore(walk, lambda q: Exchange(q, timeout=self.timeout, tries=self.tries,
                                                 tcp=st.tcp))  # fmt: skip
        self.s.run_sockets(core, _no_events, watch=watch)
        result = walk.result
        if not result.ok:
            self.ok = False
            if result.error and not self.s.interrupted:
                self.s.note(result.error, "error")
        if self.common.json:
            self._result(view.trace_json(name, qtype, walk.steps, result, roots, source))
        elif self.short:
            self.s.text(*view.trace_short_lines(self.primed if source else None, result))
        else:
            self.s.text(*view.roots_lines(roots, source, self.port),
                        *view.trace_lines(name, qtype, walk.steps, result))  # fmt: skip

    # --- -v / --write ------------------------------------------------------------------
    def _watch(self, plan, roots):
        """(interface, capture filter) for -v / --write: the route to the first server."""
        from netlab.cli.run import watch_host

        first = roots[0][1] if roots else plan[0][1][0][0]
        addrs = {a for _lk, servers in plan for a, _l in servers}
        single = len(addrs) == 1 and not any(lk.settings.trace for lk, _s in plan)
        # ICMP too: a port unreachable or a "fragmentation needed" explains a failed query.
        expression = (f"host {first} and (port {self.port} or icmp or icmp6)" if single
                      else f"port {self.port} or icmp or icmp6")  # fmt: skip
        return watch_host(self.common, first, expression)


def _command(args: tuple[str, ...]) -> str:
    """The command line as typed (dig's greeting), with the options click took out."""
    import sys

    argv = sys.argv[1:]
    if "dns-query" in argv:
        return " ".join(argv[argv.index("dns-query") + 1 :])
    return " ".join(args)


def _root_lookup(lookup):
    from dataclasses import replace

    from netlab.cli.digargs import Lookup

    settings = replace(lookup.settings, rd=True, qclass=1, serial=None)
    return Lookup(".", settings)


def _no_roots(server: str, port: int):
    from netlab.core.dns import Failure

    return Failure("no root NS set with addresses in the reply", server, port, 0.0)


def _no_events(_event) -> None:
    pass


def _random_ids():
    import secrets

    while True:
        yield secrets.randbelow(65536)
