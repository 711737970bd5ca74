"""Text and JSON for `netlab http`: curl -v's heads, HTTPie's readability, nghttp's frames.

Lines keep curl's prefixes where people grep them: `* ` for what netlab says,
`> ` for the request head, `< ` for the response head. The status line is
followed by its class and meaning (the course's table); the phases come last, in
curl's terms. HTTP/2 frames read like `nghttp -nv`, and each header block lists
every field's HPACK representation and the dynamic table after it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from netlab.core.http import (
    Connection,
    Exchange,
    HeaderBlockRecord,
    HttpClient,
    default_headers,
    h2_headers,
    status_class,
    status_meaning,
)
from netlab.wire import hpack

REPRESENTATIONS = {
    "indexed": "indexed",
    "literal-incremental": "literal, incremental indexing",
    "literal-without-indexing": "literal, without indexing",
    "literal-never-indexed": "literal, never indexed",
}
TEXT_TYPES = (
    "text/",
    "application/json",
    "application/javascript",
    "application/xml",
    "application/xhtml",
    "image/svg",
)


class Paint:
    """ANSI colour on a terminal (unless --no-color / NO_COLOR), nothing otherwise."""

    CODES: ClassVar[dict[str, str]] = {
        "req": "36",
        "resp": "33",
        "good": "32",
        "warn": "33",
        "bad": "1;31",
        "muted": "2",
        "bold": "1",
    }

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, style: str) -> str:
        if not self.enabled or not text:
            return text
        return f"\x1b[{self.CODES[style]}m{text}\x1b[0m"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} ms"


# --- connections ------------------------------------------------------------------------------
def connection_lines(conn: Connection, paint: Paint) -> list[str]:
    _scheme, host, port = conn.origin
    name = host if host == conn.address else f"{host} ({conn.address})"
    lines = [paint(f"* connection {conn.id}: {name} port {port}", "muted")]
    info = conn.info
    if info is not None:
        if info.tls_version:
            lines.append(
                paint(
                    f"*   TLS: {info.tls_version}, {info.cipher}, ALPN {info.alpn or 'none'}",
                    "muted",
                )
            )
        cert = certificate_summary(info.peer_cert)
        if cert:
            lines.append(paint(f"*   certificate: subject {cert['subject']}", "muted"))
            lines.append(paint(f"*                issuer {cert['issuer']}", "muted"))
            lines.append(
                paint(f"*                valid {cert['not_before']} → {cert['not_after']}", "muted")
            )
    if conn.error:
        lines.append(paint(f"* {conn.error}", "bad"))
    return lines


def certificate_summary(der: bytes | None) -> dict[str, str] | None:
    """Subject, issuer and validity of the server's certificate (the leaf)."""
    if not der:
        return None
    from cryptography import x509

    try:
        cert = x509.load_der_x509_certificate(der)
        return {
            "subject": cert.subject.rfc4514_string(),
            "issuer": cert.issuer.rfc4514_string(),
            "not_before": _date(cert.not_valid_before_utc),
            "not_after": _date(cert.not_valid_after_utc),
        }
    except ValueError as err:
        return {
            "subject": f"(unreadable certificate: {err})",
            "issuer": "",
            "not_before": "",
            "not_after": "",
        }


def _date(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


# --- one exchange ------------------------------------------------------------------------------
def request_lines(ex: Exchange, options: Any, paint: Paint) -> list[str]:
    req = ex.request
    if ex.http_version == "2":
        fields = h2_headers(req, options)
        lines = [paint(f"> {n}: {v}", "req") for n, v in fields]
    else:
        lines = [paint(f"> {req.method} {req.url.target} HTTP/1.1", "req")]
        lines += [paint(f"> {n}: {v}", "req") for n, v in default_headers(req, options)]
    lines.append(paint(">", "req"))
    if req.body:
        lines.append(paint(f"* request body: {len(req.body)} bytes", "muted"))
    return lines


def status_text(ex: Exchange) -> str:
    code = ex.status or 0
    return f"{code // 100}xx {status_class(code)}: {status_meaning(code)}"


def response_lines(ex: Exchange, paint: Paint) -> list[str]:
    if ex.status is None:
        return []
    style = "good" if ex.status < 300 else "warn" if ex.status < 400 else "bad"
    lines = [
        paint(f"< HTTP/1.1 {ex.status} {ex.reason}", "bold")
        if ex.http_version == "1.1"
        else paint(f"< :status: {ex.status}", "bold")
    ]
    lines[0] += "  " + paint(f"— {status_text(ex)}", style)
    for code in ex.interim:
        lines.insert(0, paint(f"< (interim response {code} {status_meaning(code)})", "muted"))
    lines += [paint(f"< {n}: {v}", "resp") for n, v in ex.headers]
    lines.append(paint("<", "resp"))
    if ex.chunks:
        sizes = ", ".join(str(n) for n in ex.chunks[:12]) + (" …" if len(ex.chunks) > 12 else "")
        lines.append(paint(f"* chunked body: {len(ex.chunks)} chunk(s) of {sizes} bytes", "muted"))
    if ex.wire_bytes != ex.body_bytes:
        lines.append(
            paint(f"* body: {ex.wire_bytes} bytes on the wire, {ex.body_bytes} decoded", "muted")
        )
    for name, value in ex.trailers:
        lines.append(paint(f"< (trailer) {name}: {value}", "resp"))
    return lines


def content_type(ex: Exchange) -> str:
    value = next((v for n, v in ex.headers if n.lower() == "content-type"), "")
    return value.split(";")[0].strip().lower()


def is_text(ex: Exchange) -> bool:
    kind = content_type(ex)
    if kind and not kind.startswith(TEXT_TYPES):
        return False
    return b"\0" not in ex.body[:4096]


def body_lines(ex: Exchange, keep_body: int, saved_to: str | None, paint: Paint) -> list[str]:
    """The body for a terminal: text as text; anything else as a note (use -o)."""
    if saved_to:
        return [paint(f"* body: {ex.body_bytes} bytes saved to {saved_to}", "muted")]
    if not ex.body_bytes:
        return []
    if not is_text(ex):
        kind = content_type(ex) or "binary data"
        return [paint(f"* [{ex.body_bytes} bytes of {kind}: use -o FILE to save it]", "muted")]
    text = bytes(ex.body).decode("utf-8", "replace")
    lines = text.splitlines()
    if ex.body_bytes > len(ex.body):
        lines.append(paint(f"* [… {ex.body_bytes - len(ex.body)} more bytes not shown]", "muted"))
    return lines


def timing_line(ex: Exchange, dns_ns: int, paint: Paint) -> str:
    t = ex.timings_ms(dns_ns)
    parts = [f"DNS {_ms(t['dns'])}", f"TCP connect {_ms(t['connect'])}"]
    if t["tls"] is not None:
        parts.append(f"TLS {_ms(t['tls'])}")
    if t["wait"]:
        parts.append(f"waiting for the connection {_ms(t['wait'])}")
    parts += [
        f"request sent {_ms(t['request_sent'])}",
        f"server {_ms(t['server'])}",
        f"transfer {_ms(t['transfer'])}",
        f"total {_ms(t['total'])}",
    ]
    reuse = " (connection reused)" if ex.reused else ""
    return paint(f"* phases{reuse}: " + " · ".join(parts), "muted")


# --- HTTP/2 frames and HPACK ----------------------------------------------------------------------
def frame_lines(conn: Connection, start_ns: int, paint: Paint) -> list[str]:
    """nghttp -nv's layout: time, direction, type, length, flags, stream id, then details."""
    blocks = iter(conn.blocks)
    lines = []
    for f in conn.frames:
        stamp = f"[{(f.time - start_ns) / 1e6:9.3f} ms]"
        verb = "send" if f.direction == "sent" else "recv"
        head = (
            f"{stamp} {verb} {f.type_name} frame <length={f.length}, "
            f"flags=0x{f.flags:02x}, stream_id={f.stream}>"
        )
        lines.append(paint(head, "req" if verb == "send" else "resp"))
        if f.flag_names:
            lines.append(f"          ; {' | '.join(f.flag_names)}")
        for name, value in f.details.get("settings", []):
            lines.append(f"          [SETTINGS_{name}:{value}]")
        for key in ("increment", "error", "last_stream", "promised_stream", "data_length"):
            if key in f.details:
                lines.append(f"          ({key}={f.details[key]})")
        if f.malformed:
            lines.append(paint(f"          [malformed: {f.malformed}]", "bad"))
        if f.block is not None and f.flags & 0x4:
            block = next(blocks, None)
            if block is not None:
                lines += hpack_lines(block, paint)
    if conn.frames_dropped:
        lines.append(f"* {conn.frames_dropped} more frames not kept")
    return lines


def hpack_lines(rec: HeaderBlockRecord, paint: Paint) -> list[str]:
    """One header block, field by field, the way the course explains the index table."""
    block = rec.block
    text = block.http1_size()
    saved = 100 * (1 - block.length / text) if text else 0.0
    lines = [
        paint(
            f"          HPACK block {block.length} bytes (as HTTP/1.1 text: {text} bytes, "
            f"{saved:.0f} % saved)",
            "bold",
        )
    ]
    width = max((len(f.name) + len(f.value) for f in block.fields), default=0) + 2
    for f in block.items:
        if isinstance(f, hpack.SizeUpdate):  # RFC 7541 §6.3, at the block's start
            lines.append(f"            (dynamic table size update: at most {f.max_size} bytes)")
            continue
        how = REPRESENTATIONS.get(f.representation, f.representation)
        if f.representation == "indexed":
            how += f" {f.index}"
        elif f.index is not None:
            how += f", name {f.index}"
        huff = [part for part, on in (("name", f.name_huffman), ("value", f.value_huffman)) if on]
        if huff:
            how += f", Huffman {'+'.join(huff)}"
        if f.representation == "literal-incremental":
            how += " → added to the table" if rec.table_max else " (not kept: table size 0)"
        lines.append(f"            {(f.name + ': ' + f.value).ljust(width)} {paint(how, 'muted')}")
    lines.append(
        f"          dynamic table: {len(rec.table)} entries, {rec.table_size} of "
        f"{rec.table_max} bytes"
    )
    for i, (name, value) in enumerate(rec.table, start=62):
        lines.append(paint(f"            [{i}] {name}: {value}", "muted"))
    return lines


# --- the JSON document ---------------------------------------------------------------------------
def exchange_json(ex: Exchange, dns_ns: int) -> dict:
    return {
        "method": ex.request.method,
        "url": str(ex.request.url),
        "http_version": ex.http_version,
        "connection": ex.conn.id if ex.conn else None,
        "stream": ex.stream,
        "reused": ex.reused,
        "status": ex.status,
        "reason": ex.reason if ex.http_version == "1.1" else None,
        "status_class": status_class(ex.status) if ex.status else None,
        "meaning": status_meaning(ex.status) if ex.status else None,
        "interim": ex.interim,
        "headers": [[n, v] for n, v in ex.headers],
        "trailers": [[n, v] for n, v in ex.trailers],
        "body_bytes": ex.body_bytes,
        "wire_bytes": ex.wire_bytes,
        "chunks": ex.chunks,
        "timings_ms": ex.timings_ms(dns_ns),
        "error": ex.error,
        "warnings": ex.warnings,
    }


def document(clients: list[HttpClient], dns_ns: dict[str, int]) -> dict:
    """{"requests": [...], "connections": [...], "hpack": [...]}: the issue's shape."""
    requests = []
    fetches = {}
    for client in clients:
        fetches.update(client.fetches)
    for index in sorted(fetches):
        hops = fetches[index]
        if not hops:
            continue
        docs = [exchange_json(ex, _dns(ex, dns_ns)) for ex in hops]
        final = dict(docs[-1])
        final["redirects"] = docs[:-1]
        requests.append(final)
    connections = []
    hpack = []
    for client in clients:
        for conn in client.connections:
            connections.append(connection_json(conn))
            for rec in conn.blocks:
                hpack.append(block_json(conn, rec))
    return {"requests": requests, "connections": connections, "hpack": hpack}


def _dns(ex: Exchange, dns_ns: dict[str, int]) -> int:
    return dns_ns.get(ex.request.url.host, 0)


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"  # IPv6 in brackets


def connection_json(conn: Connection) -> dict:
    info = conn.info
    tls = None
    if info is not None and info.tls_version:
        tls = {
            "version": info.tls_version,
            "cipher": info.cipher,
            "alpn": info.alpn,
            "certificate": certificate_summary(info.peer_cert),
        }
    return {
        "id": conn.id,
        "remote": _hostport(conn.address, conn.origin[2]),
        "local": _hostport(info.local[0], info.local[1]) if info else None,
        "http_version": conn.version,
        "tls": tls,
        "requests": conn.requests,
        "error": conn.error,
        "frames": [frame_json(f, conn.opened) for f in conn.frames],
    }


def frame_json(f: Any, start_ns: int) -> dict:
    return {
        "dir": f.direction,
        "time_ms": round((f.time - start_ns) / 1e6, 3),
        "type": f.type_name,
        "flags": f.flag_names,
        "stream": f.stream,
        "length": f.length,
        **{k: v for k, v in f.details.items()},
        "malformed": f.malformed,
    }


def block_json(conn: Connection, rec: HeaderBlockRecord) -> dict:
    return {
        "connection": conn.id,
        "direction": rec.direction,
        "stream": rec.stream,
        "fields": [
            {
                "name": f.name,
                "value": f.value,
                "representation": f.representation,
                "index": f.index,
                "huffman": bool(f.value_huffman or f.name_huffman),
            }
            for f in rec.block.fields
        ],
        "table": [[n, v] for n, v in rec.table],
        "table_size": rec.table_size,
        "table_max": rec.table_max,
        "bytes": rec.block.length,
        "http1_bytes": rec.block.http1_size(),
    }
