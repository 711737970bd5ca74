"""Text and JSON for `netlab ftp`: the control dialogue (with --explain every command
and reply code in words), the data connection (who connected to whom, from which port;
the port arithmetic p1×256+p2) and the transfer (bytes, time, rate)."""

from __future__ import annotations

from typing import Any

from netlab.core.ftp import COMMANDS, REPLY_CLASSES, REPLY_CODES, FtpResult, hostport


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} ms"


def _rate(nbytes: int, ns: int | None) -> str:
    if not ns or ns <= 0:
        return ""
    per_s = nbytes / (ns / 1e9)
    for unit, size in (("GB/s", 1e9), ("MB/s", 1e6), ("kB/s", 1e3)):
        if per_s >= size:
            return f"{per_s / size:.2f} {unit}"
    return f"{per_s:.0f} B/s"


def lines(url: Any, address: str, options: Any, r: FtpResult, output: str | None,
          explain: bool) -> list[str]:  # fmt: skip
    host = url.host if url.host == address else f"{url.host} ({address})"
    out = [f"FTP to {host} port {url.port}, {r.mode} mode, as {url.user}"]
    if r.local and r.peer:
        out.append(f"control connection: {hostport(r.local)} → {hostport(r.peer)}")
    out.append("")
    for line in r.control:
        arrow = "→" if line.direction == "out" else "←"
        out.append(f"  {_ms(r.ms(line.time)):>13}  {arrow} {line.text}")
        note = _explain_line(line) if explain else ""
        if note:
            out.append(f"{'':19}{note}")
    if r.control_dropped:
        out.append(f"  … {r.control_dropped} more control lines not kept")
    out += data_lines(r, explain)
    if options.command == "ls" and r.listing:
        out += ["", "listing:"]
        out += ["  " + x for x in r.listing.decode("utf-8", "replace").splitlines()]
        if r.listing_cut:
            out.append("  … (listing cut)")
    if r.completed:
        out += ["", transfer_line(options, r, output)]
    return out


def _explain_line(line: Any) -> str:
    if line.direction == "out":
        verb = line.text.split(" ", 1)[0].upper()
        return COMMANDS.get(verb, "")
    if line.code is None or not line.text[:3].isdigit() or line.text[3:4] == "-":
        return ""
    code = line.code
    known = REPLY_CODES.get(code)
    klass = REPLY_CLASSES.get(code // 100, "")
    return f"{code}: {known}; {klass}" if known else f"{code}: {klass}"


def data_lines(r: FtpResult, explain: bool) -> list[str]:
    out: list[str] = []
    if r.setup is None:
        return out
    out.append("")
    if r.announced is not None:
        host, port = r.announced
        if r.setup in ("PASV", "PORT") and r.pasv_numbers:
            p1, p2 = r.pasv_numbers[4], r.pasv_numbers[5]
            who = "the server listens" if r.setup == "PASV" else "we listen"
            out.append(f"{r.setup}: {who} at {host} port {p1}×256+{p2} = {port}")
        else:
            who = "the server listens" if r.setup == "EPSV" else "we listen"
            out.append(f"{r.setup}: {who} at {host} port {port}")
    for d in r.data:
        by = "we connected" if r.mode == "passive" else "the server connected"
        line = f"data connection: {hostport(d.src)} → {hostport(d.dst)} ({by}), {d.bytes} bytes"
        if d.closed is not None:
            line += f" in {_ms((d.closed - d.opened) / 1e6)}"
        out.append(line)
        if explain:
            if r.mode == "passive":
                out.append("  passive: the client opens both connections, so a NAT or firewall "
                           "in front of the client lets them out")  # fmt: skip
            else:
                out.append(f"  active: the server opened it from its port {d.src[1]} to ours; "
                           "a NAT or firewall in front of the client would stop it")  # fmt: skip
    return out


def transfer_line(options: Any, r: FtpResult, output: str | None) -> str:
    ns = (r.transfer_end - r.transfer_start) if r.transfer_start and r.transfer_end else None
    rate = _rate(r.transferred, ns)
    took = f" in {_ms(ns / 1e6)}" if ns else ""
    what = {"ls": "listed", "get": "fetched", "put": "stored"}[options.command]
    where = f" to {output}" if output and options.command == "get" else ""
    return f"{what} {r.transferred} bytes{where}{took}" + (f" ({rate})" if rate else "")


def document(url: Any, address: str, options: Any, r: FtpResult, output: str | None) -> dict:
    ns = (r.transfer_end - r.transfer_start) if r.transfer_start and r.transfer_end else None
    result: dict[str, Any] = {
        "command": options.command,
        "url": str(url),
        "address": address,
        "completed": r.completed and r.error is None,
        "error": r.error,
        "reply": r.reply,
        "setup": r.setup,
        "announced": hostport(r.announced) if r.announced else None,
        "bytes": r.transferred,
        "transfer_ms": round(ns / 1e6, 3) if ns else None,
        "control_connection": {"from": hostport(r.local), "to": hostport(r.peer)}
        if r.local and r.peer
        else None,
    }
    if options.command == "ls":
        result["listing"] = r.listing.decode("utf-8", "replace").splitlines()
    elif options.command == "get":
        result["file"] = output
    return {
        "mode": r.mode,
        "control": [{"dir": x.direction, "line": x.text, "code": x.code} for x in r.control],
        "data_connections": [
            {
                "from": hostport(d.src),
                "to": hostport(d.dst),
                "bytes": d.bytes,
                "ms": round((d.closed - d.opened) / 1e6, 3) if d.closed is not None else None,
            }
            for d in r.data
        ],
        "result": result,
    }
