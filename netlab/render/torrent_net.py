"""Text and JSON for `netlab torrent announce` (trackers' answers, BEP 15 steps) and
`netlab torrent peer` (both handshakes, reserved bits, extensions, pieces).
(`render/torrent.py` draws `torrent show`/`make`.)"""

from __future__ import annotations

from typing import Any

from netlab.wire import peerwire


def _addr(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} ms"


# --- announce ---------------------------------------------------------------------------
def announce_document(params: Any, results: list) -> dict:
    peers = _all_peers(results)
    return {
        "info_hash": params.info_hash.hex(),
        "peer_id": params.peer_id.decode("latin-1"),
        "port": params.port,
        "event": params.event,
        "trackers": [_tracker_doc(r) for r in results],
        "peers": peers,
    }


def _all_peers(results: list) -> list[str]:
    seen: dict[str, None] = {}
    for r in results:
        for host, port in r.peers:
            seen.setdefault(_addr(host, port), None)
    return list(seen)


def _tracker_doc(r: Any) -> dict:
    start = r.steps[0].at if r.steps else None
    doc = {
        "url": r.tracker.url,
        "kind": r.tracker.kind,
        "addr": r.address,
        "port": r.tracker.port,
        "request": r.request,
        "http_status": r.http_status,
        "failure_reason": r.failure_reason,
        "warning_message": r.warning_message,
        "interval": r.interval,
        "min_interval": r.min_interval,
        "complete": r.complete,
        "incomplete": r.incomplete,
        "compact": r.compact,
        "peers": [_addr(h, p) for h, p in r.peers],
        "peers_ignored": r.peers_ignored,
        "rtt_ms": r.rtt_ms,
        "scrape": None if r.scrape is None else vars(r.scrape),
        "scrape_error": r.scrape_error,
        "error": r.error,
    }
    if r.tracker.kind == "udp":
        doc["steps"] = [
            {
                "direction": s.direction,
                "action": s.action,
                "transaction_id": s.transaction_id,
                "attempt": s.attempt,
                "connection_id": s.connection_id,
                "bytes": s.bytes,
                "time_ms": round((s.at - start) / 1e6, 3),
                "rtt_ms": s.rtt_ms,
            }
            for s in r.steps
        ]
        doc["ignored"] = r.ignored
        doc["ignored_reasons"] = sorted(set(r.ignored_reasons))
    if r.peer_ids:
        doc["peer_ids"] = r.peer_ids
    return doc


def announce_lines(params: Any, results: list) -> list[str]:
    out = [
        f"announce info-hash {params.info_hash.hex()}, event {params.event}, port "
        f"{params.port}, peer id {params.peer_id.decode('latin-1')}"
    ]
    for r in results:
        out += ["", *_tracker_lines(r)]
    peers = _all_peers(results)
    out += ["", f"peers ({len(peers)}): " + (", ".join(peers) or "none")]
    return out


def _tracker_lines(r: Any) -> list[str]:
    where = f"{r.address} port {r.tracker.port}" if r.address else "unresolved"
    out = [f"{r.tracker.url}  ({where})"]
    if r.tracker.kind == "udp":
        out += _udp_steps(r)
    elif r.request:
        status = f" → HTTP {r.http_status}" if r.http_status is not None else ""
        out.append(f"  GET {r.request}{status}  ({_ms(r.rtt_ms)})")
    if r.failure_reason is not None:
        out.append(f"  failure reason: {r.failure_reason}")
    if r.warning_message:
        out.append(f"  warning message: {r.warning_message}")
    if r.interval is not None:
        min_iv = f", min interval {r.min_interval} s" if r.min_interval is not None else ""
        out.append(f"  interval {r.interval} s{min_iv}")
        seeds = "?" if r.complete is None else r.complete
        leech = "?" if r.incomplete is None else r.incomplete
        out.append(f"  complete (seeders) {seeds}, incomplete (leechers) {leech}")
        form = {True: "compact", False: "dictionaries", None: "none"}[r.compact]
        peers = ", ".join(_addr(h, p) for h, p in r.peers[:50]) or "none"
        more = f" … {len(r.peers) - 50} more" if len(r.peers) > 50 else ""
        out.append(f"  peers ({len(r.peers)}, {form}): {peers}{more}")
        if r.peers_ignored:
            out.append(f"  {r.peers_ignored} peer entr(ies) ignored (malformed or past limits)")
    if r.scrape is not None:
        s = r.scrape
        out.append(
            f"  scrape: complete {s.complete}, downloaded {s.downloaded}, incomplete {s.incomplete}"
        )
    elif r.scrape_error:
        out.append(f"  scrape: {r.scrape_error}")
    if r.error:
        out.append(f"  error: {r.error}")
    return out


def _udp_steps(r: Any) -> list[str]:
    if not r.steps:
        return []
    start = r.steps[0].at
    out = []
    for s in r.steps:
        arrow = "→" if s.direction == "sent" else "←"
        when = f"{(s.at - start) / 1e6:9.3f} ms"
        cid = f"  connection id {s.connection_id:#018x}" if s.connection_id is not None else ""
        again = f"  (retransmission {s.attempt - 1})" if s.attempt > 1 and arrow == "→" else ""
        rtt = f"  rtt {s.rtt_ms:.3f} ms" if s.rtt_ms is not None else ""
        out.append(
            f"  {when}  {arrow} {s.action:8} transaction id {s.transaction_id:#010x}"
            f"{cid}  {s.bytes} bytes{rtt}{again}"
        )
    if r.ignored:
        out.append(
            f"  {r.ignored} datagram(s) ignored: " + "; ".join(sorted(set(r.ignored_reasons)))
        )
    return out


# --- peer -------------------------------------------------------------------------------
def _handshake_doc(hs: peerwire.Handshake | None) -> dict | None:
    if hs is None:
        return None
    return {
        "info_hash": hs.info_hash.hex(),
        "peer_id": hs.peer_id.hex(),
        "peer_id_text": hs.peer_id.decode("latin-1"),
        "client": peerwire.client_from_peer_id(hs.peer_id),
        "reserved": hs.reserved.hex(),
        "reserved_bits": [name for name, _ in hs.reserved_names()],
    }


def peer_document(core: Any) -> dict:
    r, o = core.result, core.options
    ext = r.extension
    return {
        "peer": _addr(r.host, r.port),
        "info_hash": o.info_hash.hex(),
        "completed": r.completed,
        "ours": _handshake_doc(r.ours),
        "theirs": _handshake_doc(r.theirs),
        "client": client_names(r),
        "extension_handshake": None
        if ext is None
        else {
            "v": ext.v,
            "p": ext.p,
            "reqq": ext.reqq,
            "yourip": ext.yourip,
            "metadata_size": ext.metadata_size,
            "ipv4": ext.ipv4,
            "ipv6": ext.ipv6,
            "m": ext.m,
        },
        "pieces": _pieces_doc(r, o.num_pieces),
        "dht_port": r.dht_port,
        "allowed_fast": r.allowed_fast,
        "unchoked": r.unchoked,
        "messages": [
            {
                "direction": m.direction,
                "name": m.name,
                "length": m.length,
                "time_ms": r.ms(m.at),
                "detail": m.detail,
            }
            for m in r.messages
        ],
        "messages_dropped": r.messages_dropped,
        "error": r.error,
    }


def client_names(r: Any) -> dict:
    from_id = peerwire.client_from_peer_id(r.theirs.peer_id) if r.theirs else None
    return {"peer_id": from_id, "v": r.extension.v if r.extension else None}


def _pieces_doc(r: Any, num_pieces: int | None) -> dict:
    how = None
    if r.have_all or r.have_none:
        how = "have all" if r.have_all else "have none"
    elif r.bitfield is not None or r.haves:
        how = "bitfield" if r.bitfield is not None else "have"
    return {
        "how": how,
        "have": r.pieces(num_pieces),
        "of": num_pieces,
        "bitfield_bytes": None if r.bitfield is None else len(r.bitfield),
        "bitfield": None if r.bitfield is None else r.bitfield.hex(),
        "bitfield_note": r.bitfield_note,
        "haves": sorted(r.haves)[:1000],
    }


def _reserved_text(hs: peerwire.Handshake) -> str:
    names = hs.reserved_names()
    bits = "; ".join(f"{meaning}" if meaning != "unknown" else name for name, meaning in names)
    return f"reserved {hs.reserved.hex()}: {bits or 'no extension bits'}"


def _peer_id_text(peer_id: bytes) -> str:
    text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in peer_id)
    client = peerwire.client_from_peer_id(peer_id)
    return f"{text}" + (f" ({client})" if client else "")


def peer_lines(core: Any) -> list[str]:
    r, o = core.result, core.options
    out = [f"peer {_addr(r.host, r.port)}, info-hash {o.info_hash.hex()}"]
    for m in r.messages:
        arrow = "→" if m.direction == "sent" else "←"
        detail = f"  {m.detail}" if m.detail else ""
        out.append(f"  {_ms(r.ms(m.at)):>12}  {arrow} {m.name} ({m.length} bytes){detail}")
    if r.messages_dropped:
        out.append(f"  … {r.messages_dropped} more message(s) not kept")
    if r.ours is not None:
        out += ["", "our handshake:", f"  peer id {_peer_id_text(r.ours.peer_id)}"]
        out.append(f"  {_reserved_text(r.ours)}")
    if r.theirs is not None:
        same = "matches" if r.theirs.info_hash == o.info_hash else "DIFFERS"
        out += [
            "their handshake:",
            f"  info_hash {r.theirs.info_hash.hex()} ({same})",
            f"  peer id {_peer_id_text(r.theirs.peer_id)}",
            f"  {_reserved_text(r.theirs)}",
        ]
    ext = r.extension
    if ext is not None:
        out.append("their extension handshake (BEP 10):")
        fields = [
            ("v (client)", repr(ext.v) if ext.v is not None else None),
            ("p (listen port)", ext.p),
            ("yourip (us, as seen)", ext.yourip),
            ("reqq", ext.reqq),
            ("metadata_size", ext.metadata_size),
            ("ipv4", ext.ipv4),
            ("ipv6", ext.ipv6),
        ]
        out += [f"  {k}: {v}" for k, v in fields if v is not None]
        names = ", ".join(f"{k} {v}" for k, v in sorted(ext.m.items())) or "none"
        out.append(f"  m (extensions): {names}")
    if r.completed:
        names = client_names(r)
        parts = [names["peer_id"] or "unknown (peer id)"]
        if names["v"]:
            parts.append(f"{names['v']!r} (v)")
        out.append(f"client: {', '.join(parts)}")
        out.append(f"pieces: {_pieces_text(r, o.num_pieces)}")
        if r.bitfield_note:
            out.append(f"  bitfield: {r.bitfield_note}")
        if r.dht_port is not None:
            out.append(f"DHT port: {r.dht_port}")
        if r.unchoked is not None:
            out.append("unchoked us" if r.unchoked else "did not unchoke us")
    return out


def _pieces_text(r: Any, num_pieces: int | None) -> str:
    have = r.pieces(num_pieces)
    if r.have_all:
        count = f"all {num_pieces} pieces" if num_pieces is not None else "every piece"
        return f"{count} (have all, BEP 6), a seeder"
    if have is None:
        return "not said (no bitfield, have all or have none)"
    how = "have none (BEP 6)" if r.have_none else "bitfield" if r.bitfield is not None else "have"
    if num_pieces is None:
        bits = f" of {len(r.bitfield) * 8} bits" if r.bitfield is not None else ""
        return f"{have} set{bits} ({how}; give --torrent for the piece count)"
    share = f"{100 * have / num_pieces:.0f}%" if num_pieces else "-"
    seeder = ", a seeder" if num_pieces and have == num_pieces else ""
    return f"{have} of {num_pieces} ({share}, {how}{seeder})"
