"""Text and JSON for `netlab tcp-handshake`: the segment timeline and the result."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# The scan's path imports none of the other modes' cores: its start-up is most of a
# small scan's time (bench/bench_scan.py).
if TYPE_CHECKING:
    from netlab.core.tcp_handshake import TcpHandshakeCore
    from netlab.core.tcp_probe import ProbeIcmp, ProbeReply, TcpProbeCore
    from netlab.core.tcp_scan import PortResult, TcpScanCore


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
    from netlab.core.tcp_handshake import Note

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
    from netlab.core.tcp_handshake import Note, Segment

    t0 = core.t0
    outcome = core.outcome
    segments = []
    for row in core.timeline:
        if isinstance(row, Segment):
            segments.append({"dir": row.dir, "flags": row.flag_str, "seq": row.seq,
                             "ack": row.ack, "win": row.win,
                             "time_ms": (row.ts_ns - t0) / 1e6, "len": row.length,
                             "options": options_text(row.options), "state": row.state,
                             "data": row.data.hex()})  # fmt: skip
    rtt = outcome.rtt_ms if outcome else None
    return {
        "target": name,
        "addr": core.conn.dst,
        "port": core.conn.dport,
        "src": core.conn.src,
        "sport": core.conn.sport,
        "result": outcome.result if outcome else "filtered",
        "reason": outcome.reason if outcome else "",
        "rtt_ms": rtt,
        "client_isn": core.isn,
        "server_isn": core.irs,
        "segments": segments,
        "states": list(core.states),
        "time_wait_ms": core.time_wait_ns / 1e6 if core.time_wait_ns is not None else None,
        "sent_bytes": len(core.data),
        "acked_bytes": min(len(core.data), (core.snd_una - core.data_seq) % 2**32)
        if core.irs is not None
        else 0,
        "received_bytes": len(core.received),
        "notes": [row.text for row in core.timeline if isinstance(row, Note)],
    }


# --- the SYN scan (--ports) ---------------------------------------------------------------
FOLD_OVER = 25  # nmap folds a closed or filtered state with more ports than this


def scan_header(core: TcpScanCore, name: str) -> str:
    n = len(core.ports)
    return (f"SYN scan of {name} ({core.dst}): {n} port{'s' if n != 1 else ''} "
            f"from {core.src} port {core.sport}")  # fmt: skip


def scan_columns() -> str:
    return f"{'PORT':<9} {'STATE':<8} {'SERVICE':<15} {'REASON':<16} RTT"


def scan_row(r: PortResult, names: dict[int, str]) -> str:
    """One port as nmap prints it (PORT STATE SERVICE), then the reason and RTT."""
    rtt = f"{r.rtt_ms:.3f} ms" if r.rtt_ms is not None else ""
    reason = r.reason + (f" ({r.detail})" if r.detail else "")
    service = names.get(r.port, "unknown")
    return f"{f'{r.port}/tcp':<9} {r.state:<8} {service:<15} {reason:<16} {rtt}".rstrip()


def scan_tail(core: TcpScanCore, names: dict[int, str], interrupted: bool = False) -> list[str]:
    """What follows the open ports (shown as they were found): the other ports, those of a
    state with more than 25 folded into nmap's "Not shown" line, then the summary."""
    by_state: dict[str, list[PortResult]] = {}
    for port in core.ports:
        r = core.results[port]
        if r.state:
            by_state.setdefault(r.state, []).append(r)
    folded = {st for st, rows in by_state.items() if st != "open" and len(rows) > FOLD_OVER}
    lines = [scan_row(r, names) for port in core.ports
             if (r := core.results[port]).state not in ("", "open", *folded)]  # fmt: skip
    parts = []
    for state in sorted(folded, key=lambda st: -len(by_state[st])):
        reasons: dict[str, int] = {}
        for r in by_state[state]:
            reasons[r.reason] = reasons.get(r.reason, 0) + 1
        parts += [f"{n} {state} tcp port{'s' if n != 1 else ''} ({reason})"
                  for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1])]  # fmt: skip
    if parts:
        lines.append("Not shown: " + ", ".join(parts))
    counts = ", ".join(f"{len(by_state[st])} {st}" for st in ("open", "closed", "filtered")
                       if st in by_state)  # fmt: skip
    took = max(0, core.end_ns - core.start_ns) / 1e9
    done = sum(len(rows) for rows in by_state.values())
    probes = f"{core.sent} SYN{'s' if core.sent != 1 else ''} sent"
    if interrupted:
        lines.append(f"interrupted after {took:.2f} s: {done} of {len(core.ports)} ports "
                     f"scanned ({probes}): {counts or 'none resolved'}; "
                     f"{len(core.ports) - done} not scanned")  # fmt: skip
    else:
        lines.append(f"{len(core.ports)} port{'s' if len(core.ports) != 1 else ''} scanned in "
                     f"{took:.2f} s ({probes}): {counts}")  # fmt: skip
    return lines


def scan_json(core: TcpScanCore, name: str, names: dict[int, str]) -> dict[str, Any]:
    rows = []
    for port in core.ports:
        r = core.results[port]
        if not r.state:
            continue  # not scanned (Ctrl-C): counted in not_scanned
        rows.append({"port": port, "state": r.state, "service": names.get(port, "unknown"),
                     "reason": r.reason, "detail": r.detail,
                     "rtt_ms": r.rtt_ms,
                     "tries": r.tries})  # fmt: skip
    return {
        "target": name,
        "addr": core.dst,
        "src": core.src,
        "sport": core.sport,
        "sent": core.sent,
        "received": core.received,
        "elapsed_ms": round(max(0, core.end_ns - core.start_ns) / 1e6, 3),
        "not_scanned": len(core.ports) - len(rows),
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


# --- hping3's lines (-S/-F/-A/-R/-P/-U, -c …) -------------------------------------------------
# hping3's names of ICMP destination-unreachable codes (its icmp_unreach table).
_HPING_UNREACH = ("Network Unreachable", "Host Unreachable", "Protocol Unreachable",
                  "Port Unreachable", "Fragmentation Needed/DF set", "Source Route failed",
                  "Network Unknown", "Host Unknown", "Host Isolated", "Network Prohibited",
                  "Host Prohibited", "Network Unreachable for TOS",
                  "Host Unreachable for TOS", "Communication Administratively Prohibited",
                  "Host Precedence Violation", "Precedence cutoff in effect")  # fmt: skip
_ICMP6_UNREACH = ("No route to destination", "Communication with destination "
                  "administratively prohibited", "Beyond scope of source address",
                  "Address unreachable", "Port unreachable")  # fmt: skip


def hping_header(core: TcpProbeCore, name: str, iface: str) -> str:
    from netlab.core.tcp_probe import hping_flags

    flags = hping_flags(core.flags)
    what = f"{flags} set" if flags else "NO FLAGS are set"
    return (f"HPING {name} ({iface} {core.dst}): {what}, {core.header_bytes} headers + "
            f"{len(core.payload)} data bytes")  # fmt: skip


def _rtt1(rtt_ms: float | None) -> str:
    return f"{rtt_ms:.1f}" if rtt_ms is not None else "0.0"


def hping_line(event: ProbeReply | ProbeIcmp) -> str:
    """hping3's line for an answer: `len=44 ip=… ttl=61 DF id=0 sport=80 flags=SA seq=0
    win=64240 rtt=0.9 ms`, or its ICMP lines."""
    from netlab.core.tcp_probe import ProbeReply, hping_flags

    if isinstance(event, ProbeReply):
        df = "DF " if event.df else ""
        dup = "DUP! " if event.dup else ""
        return (f"{dup}len={event.ip_len} ip={event.src} ttl={event.ttl} {df}id={event.ident} "
                f"sport={event.sport} flags={hping_flags(event.flags)} seq={event.seq} "
                f"win={event.win} rtt={_rtt1(event.rtt_ms)} ms")  # fmt: skip
    v4 = event.family == 4
    if (event.icmp_type == 11) if v4 else (event.icmp_type == 3):
        return f"TTL 0 during transit from ip={event.src} name=UNKNOWN"
    names = _HPING_UNREACH if v4 else _ICMP6_UNREACH
    what = names[event.code] if event.code < len(names) else f"Unreachable code {event.code}"
    return f"ICMP {what} from ip={event.src} name=UNKNOWN"


def hping_record(event: ProbeReply | ProbeIcmp) -> dict[str, Any]:
    from netlab.core.tcp_probe import ProbeReply, hping_flags

    rtt = round(event.rtt_ms, 6) if event.rtt_ms is not None else None
    if isinstance(event, ProbeReply):
        return {"type": "reply", "seq": event.seq, "len": event.ip_len, "addr": event.src,
                "ttl": event.ttl, "df": event.df, "id": event.ident, "sport": event.sport,
                "flags": hping_flags(event.flags), "win": event.win, "rtt_ms": rtt,
                "dup": event.dup, "time": round(event.ts_ns / 1e9, 6)}  # fmt: skip
    return {"type": "icmp", "seq": event.seq, "addr": event.src, "icmp_type": event.icmp_type,
            "icmp_code": event.code, "text": hping_line(event), "rtt_ms": rtt,
            "time": round(event.ts_ns / 1e9, 6)}  # fmt: skip


def _loss(core: TcpProbeCore) -> int:
    return round(100 * (core.sent - len(core.answered)) / core.sent) if core.sent else 0


def hping_summary_lines(core: TcpProbeCore) -> list[str]:
    lines = [f"--- {core.dst} hping statistic ---",
             f"{core.sent} packets transmitted, {core.replies} packets received, "
             f"{_loss(core)}% packet loss"]  # fmt: skip
    rtts = core.rtts or [0.0]  # hping3 prints 0.0/0.0/0.0 when no segment came back
    lines.append(f"round-trip min/avg/max = {min(rtts):.1f}/{sum(rtts) / len(rtts):.1f}/"
                 f"{max(rtts):.1f} ms")  # fmt: skip
    return lines


def hping_summary_record(core: TcpProbeCore) -> dict[str, Any]:
    rtts = core.rtts

    def ms(value: float | None) -> float | None:
        return round(value, 6) if value is not None else None

    return {"type": "summary", "addr": core.dst, "sent": core.sent, "received": core.replies,
            "lost": core.sent - len(core.answered), "loss_pct": _loss(core),
            "rtt_min_ms": ms(min(rtts) if rtts else None),
            "rtt_avg_ms": ms(sum(rtts) / len(rtts) if rtts else None),
            "rtt_max_ms": ms(max(rtts) if rtts else None)}  # fmt: skip
