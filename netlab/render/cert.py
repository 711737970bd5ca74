"""Human views of `netlab cert`: certificates as `openssl x509 -text` lays them out, a
file's certificates as a tree of who issued whom, and a verification with each step."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.console import Console
from rich.text import Text

# openssl's names for the extensions it prints.
EXTENSION_LABELS = {
    "2.5.29.19": "X509v3 Basic Constraints",
    "2.5.29.15": "X509v3 Key Usage",
    "2.5.29.37": "X509v3 Extended Key Usage",
    "2.5.29.17": "X509v3 Subject Alternative Name",
    "2.5.29.14": "X509v3 Subject Key Identifier",
    "2.5.29.35": "X509v3 Authority Key Identifier",
}

KEY_USAGE_TEXT = {
    "digitalSignature": "Digital Signature",
    "nonRepudiation": "Non Repudiation",
    "keyEncipherment": "Key Encipherment",
    "dataEncipherment": "Data Encipherment",
    "keyAgreement": "Key Agreement",
    "keyCertSign": "Certificate Sign",
    "cRLSign": "CRL Sign",
    "encipherOnly": "Encipher Only",
    "decipherOnly": "Decipher Only",
}
EKU_TEXT = {
    "serverAuth": "TLS Web Server Authentication",
    "clientAuth": "TLS Web Client Authentication",
    "codeSigning": "Code Signing",
    "emailProtection": "E-mail Protection",
    "timeStamping": "Time Stamping",
    "OCSPSigning": "OCSP Signing",
    "anyExtendedKeyUsage": "Any Extended Key Usage",
}
SAN_PREFIX = {
    "dns": "DNS",
    "ip": "IP Address",
    "email": "email",
    "uri": "URI",
    "dirname": "DirName",
    "rid": "Registered ID",
    "othername": "othername",
}


def _parse_iso(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def _span(seconds: float) -> str:
    days = abs(seconds) / 86400
    if days >= 2:
        return f"{days:.0f} days"
    hours = abs(seconds) / 3600
    return f"{hours:.0f} hours" if hours >= 2 else f"{abs(seconds) / 60:.0f} minutes"


def validity_note(info: dict[str, Any], now: dt.datetime) -> tuple[str, str]:
    start, end = _parse_iso(info["not_before"]), _parse_iso(info["not_after"])
    if now < start:
        return f"not yet valid: starts in {_span((start - now).total_seconds())}", "bad"
    if now > end:
        return f"expired {_span((now - end).total_seconds())} ago", "bad"
    return f"valid, expires in {_span((end - now).total_seconds())}", "good"


def key_text(key: dict[str, Any]) -> str:
    kind = key.get("type")
    if kind == "RSA":
        return f"RSA {key['bits']} bit (exponent {key['exponent']})"
    if kind == "EC":
        nist = f", NIST {key['nist']}" if key.get("nist") else ""
        return f"EC {key['bits']} bit (curve {key['curve']}{nist})"
    if key.get("bits"):
        return f"{kind} {key['bits']} bit"
    return f"{kind}" + (f": {key['error']}" if key.get("error") else "")


def san_text(san: dict[str, list[str]]) -> str:
    return ", ".join(
        f"{SAN_PREFIX.get(kind, kind)}:{v}" for kind, values in san.items() for v in values
    )


def _extension_rows(info: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for ext in info["extensions"]:
        oid = ext["oid"]
        label = EXTENSION_LABELS.get(oid, f"{ext['name']} ({oid})" if ext["name"] != oid else oid)
        head = label + (": critical" if ext["critical"] else ":")
        value = ""
        if oid == "2.5.29.19" and info["basic_constraints"] is not None:
            bc = info["basic_constraints"]
            value = "CA:TRUE" if bc["ca"] else "CA:FALSE"
            if bc["path_length"] is not None:
                value += f", pathlen:{bc['path_length']}"
        elif oid == "2.5.29.15" and info["key_usage"] is not None:
            value = ", ".join(KEY_USAGE_TEXT.get(k, k) for k in info["key_usage"])
        elif oid == "2.5.29.37" and info["extended_key_usage"] is not None:
            value = ", ".join(EKU_TEXT.get(k, k) for k in info["extended_key_usage"])
        elif oid == "2.5.29.17":
            value = san_text(info["san"])
        elif oid == "2.5.29.14":
            value = info["subject_key_identifier"] or ""
        elif oid == "2.5.29.35":
            value = info["authority_key_identifier"] or "(no key identifier)"
        rows.append((head, value))
    return rows


def certificate_lines(info: dict[str, Any], now: dt.datetime, title: str) -> list[Text]:
    """One certificate, laid out as `openssl x509 -noout -text` does."""
    lines = [Text(title, style="bold")]

    def add(indent: int, label: str, value: str | Text = "", style: str = "value") -> None:
        line = Text(" " * indent) + Text(label, style="label")
        if value:
            line += Text(" ") + (value if isinstance(value, Text) else Text(value, style=style))
        lines.append(line)

    add(4, "Version:", f"{info['version']} (0x{info['version'] - 1:x})")
    add(4, "Serial Number:", f"{info['serial']} ({info['serial_decimal']})")
    add(4, "Signature Algorithm:", info["signature_algorithm"])
    add(4, "Issuer:", info["issuer"] or "(empty)")
    add(4, "Validity")
    note, style = validity_note(info, now)
    add(8, "Not Before:", info["not_before"])
    add(8, "Not After :", Text(info["not_after"], style="value") + Text(f"  ({note})", style=style))
    add(4, "Subject:", info["subject"] or "(empty)")
    add(4, "Subject Public Key Info:", key_text(info["public_key"]))
    rows = _extension_rows(info)
    if rows or info.get("extensions_error"):
        add(4, "X509v3 extensions:")
        for head, value in rows:
            add(8, head)
            if value:
                lines.append(Text(" " * 12) + Text(value, style="value"))
        if info.get("extensions_error"):
            add(8, "malformed:", info["extensions_error"], "bad")
    add(4, "SHA-256 Fingerprint:", info["sha256"])
    add(4, "SHA-1 Fingerprint:", info["sha1"])
    if info["self_signed"]:
        add(4, "Self-signed:", "yes (issuer = subject, signed with its own key: a root)")
    elif info["self_issued"]:
        add(4, "Self-signed:", "no (issuer = subject, but its own key does not verify it)")
    else:
        add(4, "Self-signed:", "no")
    return lines


def _tree_lines(infos: list[dict[str, Any]]) -> list[Text]:
    children: dict[int | None, list[int]] = {}
    for info in infos:
        children.setdefault(info["issued_by"], []).append(info["index"])
    by_index = {info["index"]: info for info in infos}
    lines: list[Text] = []
    seen: set[int] = set()

    def walk(index: int, prefix: str, last: bool, top: bool) -> None:
        if index in seen:  # a loop of cross-signed certificates: drawn once
            return
        seen.add(index)
        info = by_index[index]
        branch = "" if top else ("└── " if last else "├── ")
        line = Text(prefix + branch) + Text(info["subject"] or "(empty)", style="value")
        line += Text(f"  [{index}]", style="muted")
        if info["self_signed"]:
            line += Text("  self-signed root", style="muted")
        elif top:
            line += Text(f"  issued by {info['issuer']} (not in this file)", style="muted")
        lines.append(line)
        kids = children.get(index, [])
        for k, child in enumerate(kids):
            walk(
                child,
                prefix + ("" if top else ("    " if last else "│   ")),
                k == len(kids) - 1,
                False,
            )

    for root in children.get(None, []):
        walk(root, "", True, True)
    for info in infos:  # anything left (issuer loops)
        if info["index"] not in seen:
            walk(info["index"], "", True, True)
    return lines


def render_show(
    console: Console,
    path: str,
    infos: list[dict[str, Any]],
    now: dt.datetime,
    written: tuple[str, str] | None = None,
) -> None:
    if len(infos) > 1:
        console.print(Text(f"{len(infos)} certificates in {path}, by issuer:", style="bold"))
        for line in _tree_lines(infos):
            console.print(line)
        console.print()
    for i, info in enumerate(infos):
        if i:
            console.print()
        title = "Certificate:" if len(infos) == 1 else f"Certificate [{info['index']}]:"
        for line in certificate_lines(info, now, title):
            console.print(line)
    if written is not None:
        console.print(Text(f"wrote {written[0]} ({written[1].upper()})", style="muted"))


def render_written(
    console: Console, written: list[tuple[str, str]], doc: dict[str, Any], now: dt.datetime
) -> None:
    words = {
        "certificate": "certificate",
        "key": "private key, mode 0600",
        "chain": "certificate + intermediates",
        "request": "certificate request",
    }
    for path, kind in written:
        console.print(
            Text("wrote ") + Text(path, style="value") + Text(f"  ({words[kind]})", style="muted")
        )
    if "certificate" in doc:
        info = doc["certificate"]
        note, _ = validity_note(info, now)
        rows = [
            ("subject", info["subject"]),
            ("issuer", info["issuer"] + ("  (self-signed)" if info["self_signed"] else "")),
            ("serial", info["serial"]),
            ("validity", f"{info['not_before']} → {info['not_after']}  ({note})"),
            ("key", key_text(info["public_key"])),
            ("signature", info["signature_algorithm"]),
        ]
        bc = info["basic_constraints"]
        if bc is not None:
            ca = "CA:TRUE" if bc["ca"] else "CA:FALSE"
            rows.append(
                (
                    "constraints",
                    ca
                    + (f", pathlen:{bc['path_length']}" if bc["path_length"] is not None else ""),
                )
            )
        if info["san"]:
            rows.append(("SAN", san_text(info["san"])))
        rows.append(("SHA-256", info["sha256"]))
    else:
        info = doc["request"]
        rows = [
            ("subject", info["subject"]),
            ("key", key_text(info["public_key"])),
            ("signature", info["signature_algorithm"]),
        ]
        if info["san"]:
            rows.append(("SAN", san_text(info["san"])))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        console.print(
            Text("  ")
            + Text(label.ljust(width), style="label")
            + Text("  ")
            + Text(value, style="value")
        )


def render_verify(
    console: Console,
    doc: dict[str, Any],
    *,
    ca_sources: list[str],
    untrusted_sources: tuple[str, ...],
) -> None:
    path = doc["path"]
    if doc["ok"]:
        console.print(Text(f"{doc['file']}: OK", style="good"))
    else:
        line = Text(f"{doc['file']}: verification failed: ", style="bad")
        line += Text(doc["reason"] or "", style="bad")
        console.print(line)
        if doc["openssl_code"] is not None:
            depth = doc["error_depth"]
            who = path[depth]["subject"] if depth is not None and depth < len(path) else ""
            console.print(
                Text(
                    f"  openssl: error {doc['openssl_code']} at {depth} depth lookup: "
                    f"{doc['error']}",
                    style="bad",
                )
                + Text(f"  ({who})" if who else "", style="muted")
            )
        else:
            console.print(Text(f"  {doc['error']}", style="bad"))
    title = "chain (verified path):" if doc["ok"] else "chain (as built):"
    console.print(Text(title, style="label"))
    for depth, info in enumerate(path):
        if depth == 0:
            role = "leaf"
        elif doc["trusted"][depth]:
            role = "trust anchor" if depth == len(path) - 1 else "trusted"
        else:
            role = "untrusted"
        if depth > 0 and doc["trusted"][depth] and ca_sources:
            role += f" ({', '.join(ca_sources)})"
        elif depth > 0 and untrusted_sources:
            role += f" ({', '.join(untrusted_sources)})"
        if depth == 0 and len(path) == 1 and doc["trusted"][0]:
            role = "leaf, itself a trust anchor"
        line = Text(f"  {depth}  ") + Text(info["subject"] or "(empty)", style="value")
        line += Text(f"  {role}; expires {info['not_after']}", style="muted")
        console.print(line)
    console.print(Text("checks:", style="label"))
    for check in doc["checks"]:
        mark = Text("  ✓ ", style="good") if check["ok"] else Text("  ✗ ", style="bad")
        where = f"depth {check['depth']} " if check["depth"] is not None else ""
        line = mark + Text(f"{check['step']:<12}", style="label") + Text(f" {where}", style="muted")
        if check["subject"]:
            line += Text(f"{check['subject']}: ", style="value")
        line += Text(check["detail"], style="" if check["ok"] else "bad")
        if check["error"]:
            line += Text(f"  [openssl error {check['code']}: {check['error']}]", style="muted")
        console.print(line)
