"""Text and JSON for `netlab quic-hello`: what we sent, what the server sent back."""

from __future__ import annotations

from typing import Any

from netlab.wire import quic


def version_text(v: int) -> str:
    """As Wireshark's quic.version: 0x00000001."""
    return f"0x{v:08x}"


def document(core: Any) -> dict:
    """`--json`: {"version", "dcid", "scid", "server_packets": [{"type", "pn"}], "alpn",
    "rtt_ms"} first, then the details."""
    r = core.result
    return {
        "version": version_text(r.version),
        "dcid": r.dcid.hex(),
        "scid": r.scid.hex(),
        "server_packets": [
            {
                "type": p.type,
                "pn": p.pn,
                "version": version_text(p.version),
                "dcid": p.dcid.hex(),
                "scid": p.scid.hex(),
                "length": p.length,
                "frames": p.frames,
            }
            for p in r.server_packets
        ],
        "alpn": r.alpn,
        "rtt_ms": r.rtt_ms,
        "server": f"{core.address}:{core.port}",
        "server_scid": r.server_scid.hex() or None,
        "cipher_suite": None if r.suite is None else f"0x{r.suite:04x}",
        "supported_versions": [version_text(v) for v in r.supported_versions],
        "retry": None
        if r.retry_valid is None
        else {"token": r.retry_token.hex(), "valid": r.retry_valid},
        "transport_parameters": _parameters(r.transport_parameters),
        "sent": [{"size": size, "dcid": dcid.hex()} for _t, size, dcid in r.sent],
        "error": r.error,
    }


def _parameters(params: list) -> dict:
    return {
        quic.TRANSPORT_PARAMETERS.get(pid, f"0x{pid:x}"): v.hex() if isinstance(v, bytes) else v
        for pid, _at, _n, v in params
    }


def lines(core: Any, verbose: int = 0) -> list[str]:
    r = core.result
    out = [f"quic-hello {core.address} port {core.port}: version {version_text(r.version)}, "
           f"DCID {r.dcid.hex()}, SCID {r.scid.hex()}"]  # fmt: skip
    start = r.sent[0][0] if r.sent else 0
    events = [(t, "→", f"Initial {size} bytes (DCID {dcid.hex()}, ClientHello)")
              for t, size, dcid in r.sent]  # fmt: skip
    for p in r.server_packets:
        pn = f" PKN {p.pn}" if p.pn is not None else ""
        what = f"{p.type}{pn}, {p.length} bytes"
        if p.frames:
            what += ": " + ", ".join(_squeeze(p.frames))
        elif p.type == "Retry":
            what += f": token {len(r.retry_token)} bytes, tag {'ok' if r.retry_valid else 'BAD'}"
        elif p.type == "Version Negotiation":
            what += ": " + ", ".join(version_text(v) for v in r.supported_versions)
        elif p.type not in ("Retry", "Version Negotiation"):
            what += " (not opened)"
        events.append((p.at, "←", what))
    for t, arrow, what in sorted(events, key=lambda e: e[0]):
        out.append(f"  {(t - start) / 1e6:8.3f} ms {arrow} {what}")
    out.append("")
    if r.server_hello is not None:
        out.append(f"ServerHello: cipher suite 0x{r.suite:04x}, SCID {r.server_scid.hex()}")
    out.append(f"ALPN: {r.alpn or '-'}    RTT: "
               f"{'-' if r.rtt_ms is None else f'{r.rtt_ms:.3f} ms'}")  # fmt: skip
    if verbose and r.transport_parameters:
        out.append("server transport parameters:")
        for pid, _at, _n, value in r.transport_parameters:
            shown = value.hex() if isinstance(value, bytes) else value
            out.append(f"  {quic.TRANSPORT_PARAMETERS.get(pid, f'0x{pid:x}')}: {shown}")
    return out


def _squeeze(names: list[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        if out and out[-1].startswith(name):
            count = out[-1].rpartition("×")[2]
            n = int(count) + 1 if count.isdigit() and "×" in out[-1] else 2
            out[-1] = f"{name} ×{n}"
        else:
            out.append(name)
    return out
