"""Text and JSON for `netlab tcp-handshake`: the segment timeline and the result."""

from __future__ import annotations

from typing import Any

from netlab.core.tcp_handshake import Note, Segment, TcpHandshakeCore


def options_text(options: list[tuple[str, Any]]) -> str:
    """tcpdump's spelling: mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7."""
    parts = []
    for name, value in options:
        if name == "MSS":
            parts.append(f"mss {value}")
        elif name == "SAckOK":
            parts.append("sackOK")
        elif name == "Timestamp":
            parts.append(f"TS val {value[0]} ecr {value[1]}")
        elif name == "NOP":
            parts.append("nop")
        elif name == "WScale":
            parts.append(f"wscale {value}")
        elif name == "EOL":
            parts.append("eol")
        elif name == "SAck":
            parts.append("sack " + " ".join(str(v) for v in value))
        else:
            parts.append(f"{name} {value}")
    return ",".join(parts)


def _num(absolute: int, relative: int | None) -> str:
    return f"{absolute} ({relative})" if relative is not None else str(absolute)


def header(core: TcpHandshakeCore, name: str) -> str:
    c = core.conn
    return f"TCP handshake to {name} ({c.dst}) port {c.dport} from {c.src} port {c.sport}"


def timeline_lines(core: TcpHandshakeCore) -> list[str]:
    t0 = core.t0
    lines = [f"{'t (ms)':>9}  dir  {'flags':<5} {'seq (rel)':<22} {'ack (rel)':<22} "
             f"{'win':>5}  state        options"]  # fmt: skip
    for row in core.timeline:
        t = (row.ts_ns - t0) / 1e6
        if isinstance(row, Note):
            lines.append(f"{t:9.3f}   --  {row.text}  [{row.state}]")
            continue
        arrow = "→" if row.dir == "out" else "←"
        ack = _num(row.ack, row.rel_ack) if row.flags & 0x10 else "-"
        line = (f"{t:9.3f}  {arrow}    {row.flag_str:<5} {_num(row.seq, row.rel_seq):<22} "
                f"{ack:<22} {row.win:>5}  {row.state:<12} {options_text(row.options)}")  # fmt: skip
        if row.length:
            line += f" len {row.length}"
        if row.note:
            line += f"  ({row.note})"
        lines.append(line.rstrip())
    return lines


def result_line(core: TcpHandshakeCore) -> str:
    outcome = core.outcome
    port = core.conn.dport
    if outcome is None:
        return f"port {port}: no result"
    if outcome.result == "open":
        rtt = f"{outcome.rtt_ms:.3f} ms" if outcome.rtt_ms is not None else "unknown"
        synack = dict(core.server_options)
        extra = f", server window {core.server_window}"
        if "MSS" in synack:
            extra += f", server MSS {synack['MSS']}"
        return f"port {port} open: handshake RTT {rtt}{extra}"
    return f"port {port} {outcome.result}: {outcome.reason}"


def json_document(core: TcpHandshakeCore, name: str) -> dict[str, Any]:
    t0 = core.t0
    outcome = core.outcome
    segments = []
    for row in core.timeline:
        if isinstance(row, Segment):
            segments.append({"dir": row.dir, "flags": row.flag_str, "seq": row.seq,
                             "ack": row.ack, "win": row.win,
                             "t_ms": round((row.ts_ns - t0) / 1e6, 6), "len": row.length,
                             "options": options_text(row.options), "state": row.state})  # fmt: skip
    rtt = outcome.rtt_ms if outcome else None
    return {
        "target": name,
        "address": core.conn.dst,
        "port": core.conn.dport,
        "source": core.conn.src,
        "source_port": core.conn.sport,
        "result": outcome.result if outcome else "filtered",
        "reason": outcome.reason if outcome else "",
        "rtt_ms": round(rtt, 6) if rtt is not None else None,
        "client_isn": core.isn,
        "server_isn": core.irs,
        "segments": segments,
        "states": list(core.states),
        "notes": [row.text for row in core.timeline if isinstance(row, Note)],
    }
