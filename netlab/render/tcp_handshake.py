"""Text and JSON for `netlab tcp-handshake`: the segment timeline and the result."""

from __future__ import annotations

from typing import Any

from netlab.core.tcp_handshake import Note, Segment, TcpHandshakeCore
from netlab.core.tcp_scan import TcpScanCore


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
        line = f"port {port} open: handshake RTT {rtt}{extra}"
        if core.data or core.received:
            acked = min(len(core.data), (core.snd_una - core.data_seq) % 2**32)
            line += (f"; sent {len(core.data)} bytes ({acked} acknowledged), "
                     f"received {len(core.received)}")  # fmt: skip
        return line
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
                             "options": options_text(row.options), "state": row.state,
                             "data": row.data.hex()})  # fmt: skip
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
        "time_wait_s": core.time_wait_ns / 1e9 if core.time_wait_ns is not None else None,
        "sent_bytes": len(core.data),
        "acked_bytes": min(len(core.data), (core.snd_una - core.data_seq) % 2**32)
        if core.irs is not None
        else 0,
        "received_bytes": len(core.received),
        "notes": [row.text for row in core.timeline if isinstance(row, Note)],
    }


# --- the SYN scan (--ports) ---------------------------------------------------------------
def scan_header(core: TcpScanCore, name: str) -> str:
    n = len(core.ports)
    return (f"SYN scan of {name} ({core.dst}): {n} port{'s' if n != 1 else ''} "
            f"from {core.src} port {core.sport}")  # fmt: skip


def scan_lines(core: TcpScanCore) -> list[str]:
    lines = [f"{'PORT':<9} {'STATE':<9} {'REASON':<40} RTT"]
    counts: dict[str, int] = {}
    for port in core.ports:
        r = core.results[port]
        state = r.state or "unknown"
        counts[state] = counts.get(state, 0) + 1
        rtt = f"{r.rtt_ms:.3f} ms" if r.rtt_ms is not None else ""
        lines.append(f"{f'{port}/tcp':<9} {state:<9} {r.reason:<40} {rtt}".rstrip())
    summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    lines.append(f"{len(core.ports)} ports scanned ({core.sent} SYNs sent): {summary}")
    return lines


def scan_json(core: TcpScanCore, name: str) -> dict[str, Any]:
    rows = []
    for port in core.ports:
        r = core.results[port]
        rows.append({"port": port, "state": r.state or "unknown", "reason": r.reason,
                     "rtt_ms": round(r.rtt_ms, 6) if r.rtt_ms is not None else None,
                     "tries": r.tries})  # fmt: skip
    return {
        "target": name,
        "address": core.dst,
        "source": core.src,
        "source_port": core.sport,
        "probes_sent": core.sent,
        "ports": rows,
    }


# --- --connect: a kernel connect() -------------------------------------------------------------
def connect_header(name: str, address: str, port: int, source: str, sport: int | None) -> str:
    frm = f" from {source} port {sport}" if source and sport else ""
    return f"TCP connect() to {name} ({address}) port {port}{frm}"


def connect_options_text(options: dict[str, Any]) -> str:
    parts = []
    if options.get("sack"):
        parts.append("sackOK")
    if options.get("timestamps"):
        parts.append("TS")
    if options.get("wscale"):
        parts.append(f"wscale {options['snd_wscale']} (ours {options['rcv_wscale']})")
    if options.get("ecn"):
        parts.append("ECN")
    if options.get("snd_mss"):
        parts.append(f"MSS {options['snd_mss']}")
    return ", ".join(parts) or "none"


def connect_result_line(doc: dict[str, Any]) -> str:
    port = doc["port"]
    if doc["result"] == "open":
        rtt = f"{doc['rtt_ms']:.3f} ms" if doc["rtt_ms"] is not None else "unknown"
        options = connect_options_text(doc["options"])
        return (f"port {port} open: handshake RTT {rtt} (TCP_INFO), connect() "
                f"{doc['connect_ms']:.3f} ms; options: {options}")  # fmt: skip
    return f"port {port} {doc['result']}: {doc['reason']}"
