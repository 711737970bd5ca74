"""Text and JSON for `netlab dns-query`: dig's sections, aligned; the --trace tree.

Plain strings (scripts grep them, as they grep dig's output).
"""

from __future__ import annotations

import time

from netlab.core.dns import Failure, Response, TraceStep, WalkResult
from netlab.wire.dns import ResourceRecord, class_to_text, type_to_text


def _rr_rows(rrs: list[ResourceRecord]) -> list[tuple[str, ...]]:
    return [(rr.name, str(rr.ttl), class_to_text(rr.rclass), type_to_text(rr.rtype),
             rr.data.to_text()) for rr in rrs if rr.rtype != 41]  # fmt: skip


def _aligned(rows: list[tuple[str, ...]], widths: list[int]) -> list[str]:
    out = []
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        out.append("  ".join([*cells, row[-1]]).rstrip())
    return out


def _widths(rows: list[tuple[str, ...]]) -> list[int]:
    widths = [0, 0, 0, 0]
    for row in rows:
        for i in range(4):
            widths[i] = max(widths[i], len(row[i]))
    return widths


def records_lines(rrs: list[ResourceRecord]) -> list[str]:
    rows = _rr_rows(rrs)
    return _aligned(rows, _widths(rows))


def response_lines(resp: Response, command: str) -> list[str]:
    """dig's layout: header, OPT pseudo-section, question, answer, authority, additional."""
    msg = resp.message
    lines = [f"; <<>> netlab dns-query <<>> {command}"]
    if resp.tc_retry:
        lines.append(";; Truncated, retrying in TCP mode.")
    if resp.ignored:
        lines.append(f";; ignored {resp.ignored} reply(s) that did not match the query")
    lines += [
        ";; Got answer:",
        f";; ->>HEADER<<- opcode: {msg.opcode_name}, status: {msg.rcode_name}, id: {msg.id}",
        f";; flags: {msg.flags_text()}; QUERY: {msg.qdcount}, ANSWER: {msg.ancount}, "
        f"AUTHORITY: {msg.nscount}, ADDITIONAL: {msg.arcount}",
    ]
    if msg.malformed:
        lines.append(f";; Warning: {msg.malformed}")
    if msg.edns is not None:
        lines += ["", ";; OPT PSEUDOSECTION:", f"; EDNS: {msg.edns.to_text()}"]
        lines += [f"; {opt.to_text()}" for opt in msg.edns.options]
    lines += ["", ";; QUESTION SECTION:"]
    lines += [f";{q.name}  {q.class_name}  {q.type_name}" for q in msg.questions]
    sections = [("ANSWER", msg.answers), ("AUTHORITY", msg.authority),
                ("ADDITIONAL", [rr for rr in msg.additional if rr.rtype != 41])]  # fmt: skip
    rows_all = [_rr_rows(rrs) for _n, rrs in sections]
    widths = _widths([row for rows in rows_all for row in rows])
    for (title, _rrs), rows in zip(sections, rows_all, strict=True):
        if rows:
            lines += ["", f";; {title} SECTION:", *_aligned(rows, widths)]
    when = time.strftime("%a %b %d %H:%M:%S %Z %Y")
    lines += [
        "",
        f";; Query time: {resp.time_ms:.1f} msec",
        f";; SERVER: {resp.server}#{resp.port}({resp.server}) ({resp.transport.upper()})",
        f";; WHEN: {when}",
        f";; MSG SIZE  rcvd: {resp.size}",
    ]
    return lines


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
        lines.append(f";; resolution failed: {result.error}")
    else:
        lines.append(f";; {result.rcode}: {name} does not exist")
    total = sum(s.time_ms for s in steps)
    lines.append(f";; {len(steps)} servers asked, {total:.1f} ms in queries")
    return lines


def trace_json(name: str, qtype: int, steps: list[TraceStep], result: WalkResult) -> dict:
    last = result.answer
    msg = last.message if last is not None else None
    return {
        "question": {"name": name, "type": type_to_text(qtype)},
        "server": last.server if last is not None else None,
        "rcode": result.rcode,
        "flags": msg.flags_text().split() if msg is not None else [],
        "answers": [_rr_json(rr) for rr in result.records],
        "authority": [_rr_json(rr) for rr in msg.authority] if msg is not None else [],
        "additional": [_rr_json(rr) for rr in msg.additional if rr.rtype != 41]
        if msg is not None
        else [],
        "time_ms": round(sum(s.time_ms for s in steps), 3),
        "transport": last.transport if last is not None else "udp",
        "error": result.error or None,
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
