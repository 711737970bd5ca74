"""Text and JSON for `netlab tls-hello`: offered against chosen, the messages in
order, each check, the chain and the verified path, fingerprints, and (-v) the key
schedule's secrets."""

from __future__ import annotations

from typing import Any

from netlab.core.tls_hello import HelloResult
from netlab.wire import tls


def _hello_fields(result: HelloResult) -> dict[str, Any]:
    ch, sh = result.client_hello, result.server_hello
    out: dict[str, Any] = {}
    if ch is None:
        return out
    offered = ch.supported_versions or [ch.legacy_version]
    out["version"] = (
        ", ".join(tls.version_name(v) for v in offered if v not in tls.GREASE),
        tls.version_name(result.version) if result.version else "-",
    )
    suites = [s for s in ch.suites if s not in tls.GREASE]
    out["cipher suite"] = (
        f"{len(suites)}: " + ", ".join(tls.openssl_name(s) for s in suites),
        tls.suite_name(result.suite) if result.suite else "-",
    )
    shares = ", ".join(tls.group_name(g) for g, _ in ch.key_shares())
    groups = ", ".join(tls.group_name(g) for g in ch.groups if g not in tls.GREASE)
    out["group"] = (
        groups + (f" (key share: {shares})" if shares else ""),
        tls.group_name(result.group) if result.group else "-",
    )
    out["ALPN"] = (", ".join(ch.alpn) or "-", result.alpn or "-")
    out["random"] = (ch.random.hex(), sh.random.hex() if sh else "-")
    out["session id"] = (
        f"{len(ch.session_id)} bytes",
        ("echoed" if sh.session_id == ch.session_id else f"{len(sh.session_id)} bytes")
        if sh
        else "-",
    )
    out["server name"] = (ch.server_name or "-", "")
    return out


def lines(
    host: str, address: str, port: int, result: HelloResult, verdict: Any, verbose: int, color: bool
) -> list[str]:
    name = host if host == address else f"{host} ({address})"
    timing = []
    if result.tcp_ms is not None:
        timing.append(f"TCP connect {result.tcp_ms:.3f} ms")
    if result.rtt_ms is not None:
        timing.append(f"hello RTT {result.rtt_ms:.3f} ms")
    if result.handshake_ms is not None and result.completed:
        timing.append(f"handshake {result.handshake_ms:.3f} ms")
    out = [f"TLS handshake with {name} port {port}" + (": " + ", ".join(timing) if timing else "")]
    fields = _hello_fields(result)
    if fields:
        out.append(f"  {'':14} {'offered (ClientHello)':50} chosen (ServerHello)")
        for key, (offered, chosen) in fields.items():
            if len(offered) > 50 and key != "random":
                offered = offered[:47] + "…"
            out.append(f"  {key:14} {offered:50} {chosen}".rstrip())
    if result.hello_retry is not None:
        group = result.hello_retry.key_shares()[0][0] if result.hello_retry.ext(51) else None
        out.append(
            f"  HelloRetryRequest: the server wants a key share for "
            f"{tls.group_name(group) if group else '?'}; a second ClientHello sent one"
        )
    out += ["", "messages:"]
    start = result.hello_sent or 0
    for m in result.messages:
        arrow = "→" if m.direction == "client" else "←"
        tag = "  [encrypted]" if m.encrypted else ""
        out.append(f"  {(m.time - start) / 1e6:9.3f} ms  {arrow} {m.name} ({m.length} bytes){tag}")
    if result.checks:
        out += ["", "checks:"]
        out += [
            f"  {'✓' if ok else '✗'} {what}" + (f" ({detail})" if detail else "")
            for what, ok, detail in result.checks
        ]
    if result.version == 0x0303 and "master_secret" in result.secrets:
        kx = (
            "RSA: the pre-master secret encrypted with the certificate's public key"
            if "pre_master_secret" in result.secrets
            else "ECDHE: both sides' shares give the pre-master secret"
        )
        out += [
            "",
            f"key exchange: {kx}",
            '  master secret = PRF(pre-master, "master secret", client random + server random)',
        ]
    out += chain_lines(result, verdict)
    out += ["", "fingerprints:"] + [f"  {k:5} {v}" for k, v in fingerprints(result).items()]
    if verbose:
        out += fingerprints_explained(result)
    if verbose and result.secrets:
        out += ["", "key schedule (the key log has the same values):"]
        out += [f"  {k:38} {v}" for k, v in result.secrets.items()]
    if result.completed:
        out += [
            "",
            f"handshake complete: {tls.version_name(result.version)}, "
            f"{tls.suite_name(result.suite)}",
        ]
    return out


def chain_lines(result: HelloResult, verdict: Any) -> list[str]:
    if not result.certificates:
        return []
    from cryptography import x509

    from netlab.core import x509 as x509core

    out = ["", f"certificate chain as sent ({len(result.certificates)}):"]
    for i, der in enumerate(result.certificates):
        try:
            d = x509core.describe(x509.load_der_x509_certificate(der))
        except ValueError as err:
            out.append(f"  {i} (malformed: {err})")
            continue
        out.append(f"  {i} subject {d.get('subject')}")
        out.append(f"    issuer  {d.get('issuer')}")
        out.append(f"    valid   {d.get('not_before')} → {d.get('not_after')}")
        key = d.get("public_key") or d.get("key")
        if key:
            out.append(f"    key     {_text(key)}; signed with {d.get('signature_algorithm')}")
        if d.get("san"):
            out.append(f"    SAN     {_text(d.get('san'))}")
        out.append(f"    SHA-256 {d.get('sha256')}")
    if verdict is not None:
        # The reason is the one error line on stderr (cli/tls_hello.py): not said twice.
        status = "OK" if verdict.ok else "NOT trusted"
        names = [_subject(c) for c in (verdict.path or [])]
        out += ["", f"verified path: {' → '.join(names) if names else '-'}: {status}"]
        for check in verdict.checks or []:
            out.append(f"  {_check_text(check)}")
    return out


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items() if v is not None)
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)


def _subject(cert: Any) -> str:
    try:
        return cert.subject.rfc4514_string()
    except AttributeError:
        return str(cert)


def _check_text(check: Any) -> str:
    mark = "✓" if check.ok else "✗"
    where = f"[{check.depth}] " if check.depth is not None else ""
    text = f"{mark} {where}{check.step}: {check.detail}"
    return text + (f" ({check.error})" if check.error and not check.ok else "")


def fingerprints(result: HelloResult) -> dict[str, str]:
    out = {}
    if result.client_hello is not None:
        ja3 = tls.ja3_string(result.client_hello)
        out["JA3"] = f"{tls.md5_hex(ja3)}  ({ja3})"
        out["JA4"] = tls.ja4(result.client_hello)
    if result.server_hello is not None:
        ja3s = tls.ja3s_string(result.server_hello)
        out["JA3S"] = f"{tls.md5_hex(ja3s)}  ({ja3s})"
        out["JA4S"] = tls.ja4s(result.server_hello)
    return out


_TRANSPORTS = {"t": "TCP", "q": "QUIC", "d": "DTLS"}
_JA4_VERSIONS = {
    "13": "TLS 1.3",
    "12": "TLS 1.2",
    "11": "TLS 1.1",
    "10": "TLS 1.0",
    "s3": "SSL 3.0",
}


def fingerprints_explained(result: HelloResult) -> list[str]:
    """-v: what each fingerprint is made of (FoxIO's JA4_r for the two JA4s)."""
    out = []
    ch, sh = result.client_hello, result.server_hello
    if ch is not None:
        a, suites, exts = tls.ja4_raw(ch).split("_", 2)
        out += [
            "  JA3 = MD5 of version,suites,extensions,groups,point formats "
            "(decimal, in the hello's order, GREASE left out)",
            f"  JA4 a {a}: {_TRANSPORTS.get(a[0], a[0])}, "
            f"{_JA4_VERSIONS.get(a[1:3], a[1:3])} (highest offered), "
            f"{'a server name (d)' if a[3] == 'd' else 'no server name (i)'}, "
            f"{int(a[4:6])} suites, {int(a[6:8])} extensions, ALPN {a[8:]} "
            "(first and last character of the first; 00: none)",
            f"  JA4 b SHA-256/12 of the suites, sorted: {suites or '-'}",
            "  JA4 c SHA-256/12 of the extensions, sorted, SNI and ALPN left out "
            f"_ the signature algorithms in order: {exts or '-'}",
        ]
    if sh is not None:
        a, suite, exts = tls.ja4s_raw(sh).split("_", 2)
        out += [
            "  JA3S = MD5 of version,suite,extensions (decimal, in the hello's order)",
            f"  JA4S a {a}: {_TRANSPORTS.get(a[0], a[0])}, "
            f"{_JA4_VERSIONS.get(a[1:3], a[1:3])} (chosen), {int(a[3:5])} extensions, "
            f"ALPN {a[5:]}",
            f"  JA4S b {suite}: the suite chosen",
            f"  JA4S c SHA-256/12 of the extensions in order: {exts or '-'}",
        ]
    return out


def document(host: str, address: str, port: int, result: HelloResult, verdict: Any) -> dict:
    from cryptography import x509

    from netlab.core import x509 as x509core

    ch, sh = result.client_hello, result.server_hello
    chain = []
    for der in result.certificates:
        try:
            chain.append(x509core.describe(x509.load_der_x509_certificate(der)))
        except ValueError as err:
            chain.append({"malformed": str(err)})
    doc: dict[str, Any] = {
        "server": host,
        "addr": address,
        "port": port,
        "version": tls.version_name(result.version) if result.version else None,
        "cipher": tls.suite_name(result.suite) if result.suite else None,
        "group": tls.group_name(result.group) if result.group else None,
        "alpn": result.alpn,
        "client_random": ch.random.hex() if ch else None,
        "server_random": sh.random.hex() if sh else None,
        "hello_retry_request": result.hello_retry is not None,
        "offered": {
            "versions": [
                tls.version_name(v)
                for v in (ch.supported_versions or [ch.legacy_version])
                if v not in tls.GREASE
            ],
            "ciphers": [tls.suite_name(s) for s in ch.suites if s not in tls.GREASE],
            "groups": [tls.group_name(g) for g in ch.groups if g not in tls.GREASE],
            "alpn": ch.alpn,
            "server_name": ch.server_name,
        }
        if ch
        else None,
        "messages": [
            {
                "dir": m.direction,
                "name": m.name,
                "length": m.length,
                "encrypted": m.encrypted,
                "time_ms": round((m.time - (result.hello_sent or 0)) / 1e6, 3),
            }
            for m in result.messages
        ],
        "checks": [{"what": w, "ok": ok, "detail": d} for w, ok, d in result.checks],
        "chain": chain,
        "verified": None
        if verdict is None
        else {
            "ok": verdict.ok,
            "path": [_subject(c) for c in (verdict.path or [])],
            "error": None if verdict.ok else (verdict.reason or verdict.error),
            "checks": [c.to_dict() for c in verdict.checks],
        },
        "ja3": tls.ja3_string(ch) if ch else None,
        "ja3_hash": tls.md5_hex(tls.ja3_string(ch)) if ch else None,
        "ja4": tls.ja4(ch) if ch else None,
        "ja3s": tls.ja3s_string(sh) if sh else None,
        "ja3s_hash": tls.md5_hex(tls.ja3s_string(sh)) if sh else None,
        "ja4s": tls.ja4s(sh) if sh else None,
        "secrets": result.secrets,
        "alert": list(result.alert) if result.alert else None,
        "client_certificate_requested": result.client_certificate_requested,
        "completed": result.completed,
        "error": result.error,
        "tcp_ms": result.tcp_ms,
        "rtt_ms": result.rtt_ms,
        "handshake_ms": result.handshake_ms,
    }
    return doc


# --- --scan ---------------------------------------------------------------------------------------
def scan_lines(host: str, address: str, port: int, core: Any, took: float) -> list[str]:
    name = host if host == address else f"{host} ({address})"
    out = [f"TLS scan of {name} port {port}: {core.handshakes} handshakes in {took:.2f} s"]
    for version, r in core.results.items():
        label = tls.version_name(version)
        if not r.accepted:
            out.append(f"  {label:8} not accepted")
            continue
        order = {
            True: "server's preference order",
            False: "client's order (the server takes the first it accepts)",
            None: "one suite",
        }[r.server_preference]
        out.append(f"  {label:8} accepted; {len(r.ciphers)} cipher suite(s), {order}:")
        for code in r.ciphers:
            out.append(f"    {tls.openssl_name(code):34} {tls.suite_name(code)}")
        if r.groups:
            out.append(f"    groups: {', '.join(core.group_names(version))}")
    return out


def scan_document(host: str, address: str, port: int, core: Any, took: float) -> dict:
    versions = {}
    for version, r in core.results.items():
        if r.accepted:
            versions[tls.version_name(version)] = {
                "ciphers": [tls.suite_name(c) for c in r.ciphers],
                "openssl_names": [tls.openssl_name(c) for c in r.ciphers],
                "server_preference": r.server_preference,
                "groups": core.group_names(version),
            }
    return {
        "server": host,
        "addr": address,
        "port": port,
        "versions": versions,
        "handshakes": core.handshakes,
        "time_ms": round(took * 1000, 3),
        "error": core.error,
    }
