"""Text and JSON for `netlab dns-query`: dig's sections and tab columns; the --trace tree.

Plain strings (scripts grep them, as they grep dig's output).
"""

from __future__ import annotations

import time

from netlab.core.dns import Failure, Response, TraceStep, Transfer, WalkResult
from netlab.wire.dns import ResourceRecord, class_to_text, type_to_text

# dig's record columns (BIND's masterdump style for dig: TTL at 24, class at 32, type at
# 40, data at 48, tab stops of 8): tabs up to a column, one space when a field overruns it.
TTL_COLUMN, CLASS_COLUMN, TYPE_COLUMN, RDATA_COLUMN, TAB = 24, 32, 40, 48, 8


def _indent(column: int, to: int) -> tuple[str, int]:
    """BIND's `indent()`: the tabs and spaces from COLUMN to TO (at least one), new column."""
    to = max(to, column + 1)
    tabs = to // TAB - column // TAB
    if tabs > 0:
        column = (to // TAB) * TAB
    return "\t" * max(tabs, 0) + " " * (to - column), to


def _columns(fields: list[tuple[int, str]]) -> str:
    """FIELDS: (column, text) after the owner name, which is the first text (column 0)."""
    out = [fields[0][1]]
    column = len(fields[0][1])
    for to, text in fields[1:]:
        gap, column = _indent(column, to)
        out += [gap, text]
        column += len(text)
    return "".join(out)


class Style:
    """What a record line shows (dig's +[no]ttlid, +[no]class)."""

    ttlid = True
    rrclass = True


def record_line(rr: ResourceRecord, style=Style) -> str:
    """One record as dig prints it: ``www.example.lab.\t3600\tIN\tA\t198.18.0.80``."""
    # dig moves the columns left by 8 for each of TTL and class it leaves out.
    left = 8 * ((not style.ttlid) + (not style.rrclass))
    fields = [(0, rr.name)]
    if style.ttlid:
        fields.append((TTL_COLUMN, str(rr.ttl)))
    if style.rrclass:
        fields.append((CLASS_COLUMN - (0 if style.ttlid else 8), class_to_text(rr.rclass)))
    fields.append((TYPE_COLUMN - left, type_to_text(rr.rtype)))
    rdata = rr.data.to_text()
    if rdata:
        fields.append((RDATA_COLUMN - left, rdata))
    return _columns(fields)


def question_line(q) -> str:
    """dig's question line: ``;www.example.lab.\t\tIN\tA`` (no TTL column)."""
    return _columns([(0, f";{q.name}"), (CLASS_COLUMN, q.class_name), (TYPE_COLUMN, q.type_name)])


def records_lines(rrs: list[ResourceRecord], style=Style) -> list[str]:
    return [record_line(rr, style) for rr in rrs if rr.rtype != 41]


def cmd_lines(command: str, servers_found: int | None) -> list[str]:
    """dig's greeting (+cmd): once, before the first lookup."""
    lines = ["", f"; <<>> netlab dns-query <<>> {command}"]
    if servers_found is not None:
        lines.append(f"; ({servers_found} server{'' if servers_found == 1 else 's'} found)")
    return [*lines, ";; global options: +cmd"]


def failure_reason(fail: Failure) -> str:
    """What went wrong, naming the server once."""
    where = f"{fail.server}#{fail.port}"
    return fail.reason if fail.server in fail.reason else f"{where}: {fail.reason}"


def comm_error_lines(failures: list[Failure]) -> list[str]:
    """Servers that failed before one answered, in dig's words."""
    lines = []
    for f in failures:
        where = f"{f.server}#{f.port}"
        reason = f.reason.replace(f" by {where}", "").replace(f" to {where}", "")
        lines.append(f";; communications error to {where}: {reason}")
    return lines


def _stats_lines(time_ms: float, server: str, port: int, label: str, transport: str) -> list[str]:
    return [
        f";; Query time: {int(time_ms)} msec",
        f";; SERVER: {server}#{port}({label}) ({transport.upper()})",
        f";; WHEN: {time.strftime('%a %b %d %H:%M:%S %Z %Y')}",
    ]


def response_lines(resp: Response, st=None, label: str | None = None,
                   cookie: bytes | None = None) -> list[str]:  # fmt: skip
    """One answer in dig's layout; ST (dig's +[no]comments, +[no]question … toggles, all on
    when None) says which parts, LABEL how the server was named (dig's SERVER line), COOKIE
    the client cookie sent (dig marks a reply that echoes it "(good)")."""
    st = st if st is not None else _AllOn
    msg = resp.message
    lines = [";; Truncated, retrying in TCP mode."] if resp.tc_retry else []
    if st.comments:
        lines += [
            ";; Got answer:",
            f";; ->>HEADER<<- opcode: {msg.opcode_name}, status: {msg.rcode_name}, id: {msg.id}",
            f";; flags: {msg.flags_text()}; QUERY: {msg.qdcount}, ANSWER: {msg.ancount}, "
            f"AUTHORITY: {msg.nscount}, ADDITIONAL: {msg.arcount}",
        ]
        if msg.rd and not msg.ra:
            lines.append(";; WARNING: recursion requested but not available")
        if resp.ignored:
            lines.append(f";; ignored {resp.ignored} reply(s) that did not match the query")
        if msg.malformed:
            lines.append(f";; Warning: {msg.malformed}")
        lines.append("")
        if msg.edns is not None:
            lines += [";; OPT PSEUDOSECTION:", f"; EDNS: {msg.edns.to_text()}"]
            for opt in msg.edns.options:
                good = opt.code == 10 and cookie is not None and opt.data[:8] == cookie
                lines.append(f"; {opt.to_text()}{' (good)' if good else ''}")
    blank = [""] if st.comments else []
    if st.question and msg.questions:
        title = [";; QUESTION SECTION:"] if st.comments else []
        lines += [*title, *(question_line(q) for q in msg.questions), *blank]
    sections = [("ANSWER", st.answer, msg.answers), ("AUTHORITY", st.authority, msg.authority),
                ("ADDITIONAL", st.additional, msg.additional)]  # fmt: skip
    for title, shown, rrs in sections:
        rows = records_lines(rrs, st)
        if shown and rows:
            lines += [*([f";; {title} SECTION:"] if st.comments else []), *rows, *blank]
    if st.stats:
        lines += _stats_lines(resp.time_ms, resp.server, resp.port, label or resp.server,
                              resp.transport)  # fmt: skip
        lines += [f";; MSG SIZE  rcvd: {resp.size}", ""]
    return lines


class _AllOn:
    question = answer = authority = additional = comments = stats = ttlid = rrclass = True


def transfer_lines(xfr: Transfer, st=None, label: str | None = None) -> list[str]:
    """A zone transfer as dig prints it: the records, then the XFR statistics."""
    st = st if st is not None else _AllOn
    lines = records_lines(xfr.records, st) if st.answer else []
    if st.stats:
        lines += _stats_lines(xfr.time_ms, xfr.server, xfr.port, label or xfr.server, "tcp")
        lines += [f";; XFR size: {len(xfr.records)} records (messages {xfr.messages}, "
                  f"bytes {xfr.size})", ""]  # fmt: skip
    return lines


def transfer_json(name: str, qtype: int, outcome: Transfer | Failure) -> dict:
    doc: dict = {"question": {"name": name, "type": type_to_text(qtype)},
                 "server": outcome.server, "port": outcome.port, "transport": "tcp",
                 "time_ms": round(outcome.time_ms, 3)}  # fmt: skip
    if isinstance(outcome, Failure):
        doc.update(rcode=outcome.rcode, answers=[], error=outcome.reason)
        return doc
    doc.update(rcode=outcome.rcode, answers=[_rr_json(rr) for rr in outcome.records],
               messages=outcome.messages, size=outcome.size)  # fmt: skip
    return doc


def failure_json(fail: Failure) -> dict:
    return {"server": fail.server, "port": fail.port, "error": fail.reason}


def short_lines(rrs: list[ResourceRecord]) -> list[str]:
    return [rr.data.to_text() for rr in rrs if rr.rtype != 41]


def failure_line(fail: Failure) -> str:
    extra = f" ({fail.ignored} non-matching replies ignored)" if fail.ignored else ""
    return f";; no answer from {fail.server}#{fail.port}: {fail.reason}{extra}"


def _rr_json(rr: ResourceRecord) -> dict:
    return {"name": rr.name, "type": type_to_text(rr.rtype), "ttl": rr.ttl,
            "data": rr.data.to_text()}  # fmt: skip


def response_json(
    name: str, qtype: int, outcome: Response | Failure, attempts: int | None = None
) -> dict:
    """The JSON document of one lookup; ATTEMPTS: queries sent (UDP tries plus TCP)."""
    doc: dict = {"question": {"name": name, "type": type_to_text(qtype)},
                 "server": outcome.server, "port": outcome.port}  # fmt: skip
    if attempts is not None:
        doc["attempts"] = attempts
    if isinstance(outcome, Failure):
        doc.update(rcode=outcome.rcode, flags=[], answers=[], authority=[], additional=[],
                   time_ms=round(outcome.time_ms, 3), transport=outcome.transport,
                   error=outcome.reason, ignored=outcome.ignored)  # fmt: skip
        return doc
    msg = outcome.message
    doc.update(
        rcode=msg.rcode_name,
        flags=msg.flags_text().split(),
        answers=[_rr_json(rr) for rr in msg.answers],
        authority=[_rr_json(rr) for rr in msg.authority],
        additional=[_rr_json(rr) for rr in msg.additional if rr.rtype != 41],
        time_ms=round(outcome.time_ms, 3),
        transport=outcome.transport,
        size=outcome.size,
        id=msg.id,
        tc_retry=outcome.tc_retry,
        ignored=outcome.ignored,
    )
    if msg.edns is not None:
        doc["edns"] = {"udp": msg.edns.udp_payload_size, "version": msg.edns.version,
                       "do": msg.edns.do}  # fmt: skip
    if msg.malformed:
        doc["malformed"] = msg.malformed
    return doc


# --- --trace -------------------------------------------------------------------------------


def _referral_text(step: TraceStep) -> str:
    parts = []
    for ns in step.referral:
        addrs = ",".join(ns["addresses"]) if ns["addresses"] else "no glue"
        parts.append(f"{ns['name']} [{addrs}]")
    return f"→ {step.referral_zone} NS " + " ".join(parts)


def step_outcome(step: TraceStep) -> str:
    if step.kind == "referral":
        return _referral_text(step)
    if step.kind == "answer":
        return "answer"
    if step.kind == "cname":
        return "CNAME to a name outside the answer: follow it from the root"
    if step.kind == "nodata":
        return "no data (authoritative)"
    if step.kind == "nxdomain":
        return "name does not exist (authoritative)"
    return f"{step.kind}: {step.note}" if step.note else step.kind


def trace_lines(name: str, qtype: int, steps: list[TraceStep], result: WalkResult) -> list[str]:
    lines = [f";; iterative resolution of {name} {type_to_text(qtype)}, from the root"]
    zone_w = max([len(s.zone) for s in steps] + [4])
    srv = [f"@{s.server}" + (f" ({s.server_name})" if s.server_name else "") for s in steps]
    srv_w = max([len(t) for t in srv] + [4])
    for i, step in enumerate(steps):
        indent = "│  " * step.depth
        branch = "└─ " if i == len(steps) - 1 else "├─ "
        asked = (
            f"{step.qname} {type_to_text(step.qtype)}  " if step.depth or step.qname != name else ""
        )
        lines.append(
            f"{indent}{branch}{step.zone.ljust(zone_w)}  {srv[i].ljust(srv_w)}  "
            f"{step.time_ms:7.2f} ms  {step.rcode:<8}  {asked}{step_outcome(step)}"
        )
    lines.append("")
    if result.ok and result.records:
        lines += [";; ANSWER:", *records_lines(result.records)]
    elif result.ok:
        lines.append(f";; no {type_to_text(qtype)} records for {name} (NOERROR, no data)")
    elif result.error:
        lines.append(";; resolution failed")  # why: the one error line, on stderr
    else:
        lines.append(f";; {result.rcode}: {name} does not exist")
    total = sum(s.time_ms for s in steps)
    lines.append(f";; {len(steps)} servers asked, {total:.1f} ms in queries")
    return lines


def roots_lines(roots: list[tuple[str, str]], source: str | None, port: int) -> list[str]:
    """Where the walk starts: the root NS set, and which server gave it (dig +trace's first
    lines); nothing when --root named the roots."""
    if source is None:
        return []
    names: dict[str, list[str]] = {}
    for name, addr in roots:
        names.setdefault(name, []).append(addr)
    listed = " ".join(f"{n} [{','.join(a)}]" for n, a in names.items())
    return [f";; root NS set from {source}#{port}: {listed}"]


def trace_short_lines(primed: Response | None, result: WalkResult) -> list[str]:
    """dig +trace +short: the root NS set, then the answer, each record as "TYPE data from
    server ADDR in N ms." (referrals carry no answer, so they print nothing)."""
    lines = []
    if primed is not None:
        for rr in primed.message.answers:
            lines.append(f"{type_to_text(rr.rtype)} {rr.data.to_text()} from server "
                         f"{primed.server} in {int(primed.time_ms)} ms.")  # fmt: skip
    answer = result.answer
    if answer is not None:
        for rr in result.records:
            lines.append(f"{type_to_text(rr.rtype)} {rr.data.to_text()} from server "
                         f"{answer.server} in {int(answer.time_ms)} ms.")  # fmt: skip
    return lines


def trace_json(name: str, qtype: int, steps: list[TraceStep], result: WalkResult | None,
               roots: list = (), roots_from: str | None = None) -> dict:  # fmt: skip
    last = result.answer if result is not None else None
    msg = last.message if last is not None else None
    return {
        "question": {"name": name, "type": type_to_text(qtype)},
        "server": last.server if last is not None else None,
        "rcode": result.rcode if result is not None else "ERROR",
        "flags": msg.flags_text().split() if msg is not None else [],
        "answers": [_rr_json(rr) for rr in result.records] if result is not None else [],
        "authority": [_rr_json(rr) for rr in msg.authority] if msg is not None else [],
        "additional": [_rr_json(rr) for rr in msg.additional if rr.rtype != 41]
        if msg is not None
        else [],
        "time_ms": round(sum(s.time_ms for s in steps), 3),
        "transport": last.transport if last is not None else "udp",
        "error": (result.error or None) if result is not None else "no root servers",
        "roots": [{"name": n or None, "addr": a} for n, a in roots],
        "roots_from": roots_from,
        "trace": [
            {
                "server": s.server,
                "server_name": s.server_name,
                "zone": s.zone,
                "qname": s.qname,
                "qtype": type_to_text(s.qtype),
                "rcode": s.rcode,
                "kind": s.kind,
                "referral_zone": s.referral_zone or None,
                "referral": s.referral,
                "time_ms": round(s.time_ms, 3),
                "depth": s.depth,
                "note": s.note or None,
                "transport": s.transport,
            }
            for s in steps
        ],
    }
