"""Text and JSON for `netlab torrent show` / `make`: a .torrent's anatomy (trackers by
tier, the info dictionary, the info-hashes, the magnet link), `-v` the bencode tree with
byte offsets, and what a magnet link holds."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.console import Console
from rich.text import Text

from netlab.wire.bencode import Node
from netlab.wire.metainfo import Magnet, Metainfo

LABEL = 16  # width of the label column
SHOW_BYTES = 16  # bytes of a long binary string shown in -v


def _printable(text: str) -> str:
    """Names come from the file: control characters are shown, never sent to the terminal."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            value = n / (1 << shift)
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} B"


def _row(label: str, value: str, indent: int = 0, style: str = "value") -> Text:
    line = Text(" " * indent)
    line.append(f"{label:<{LABEL - indent}}", style="label")
    line.append(_printable(value), style=style)
    return line


def _date(epoch: int) -> str:
    try:
        return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return f"{epoch} (not a date)"


# --- JSON ------------------------------------------------------------------------------------


def document(meta: Metainfo, source: str) -> dict[str, Any]:
    """The `--json` document: the contract's keys first, then the rest."""
    return {
        "info_hash_v1": meta.info_hash_v1.hex() if meta.info_hash_v1 else None,
        "info_hash_v2": meta.info_hash_v2.hex() if meta.info_hash_v2 else None,
        "name": meta.name,
        "piece_length": meta.piece_length,
        "pieces": meta.pieces,
        "files": [{"path": f.display_path, "length": f.length} for f in meta.files],
        "announce": meta.announce,
        "magnet": meta.magnet().uri(),
        "announce_list": meta.announce_list,
        "private": meta.private,
        "total_length": meta.total_length,
        "meta_version": meta.meta_version,
        "kind": meta.kind,
        "comment": meta.comment,
        "created_by": meta.created_by,
        "creation_date": meta.creation_date,
        "url_list": meta.url_list,
        "source": meta.source,
        "pad_files": len(meta.pad_files),
        "piece_layers": meta.piece_layers,
        "info_offsets": list(meta.info_span),
        "file": source,
        "size": meta.size,
    }


def magnet_document(magnet: Magnet) -> dict[str, Any]:
    return {
        "info_hash_v1": magnet.info_hash_v1.hex() if magnet.info_hash_v1 else None,
        "info_hash_v2": magnet.info_hash_v2.hex() if magnet.info_hash_v2 else None,
        "name": magnet.name,
        "piece_length": None,
        "pieces": None,
        "files": [],
        "announce": magnet.trackers[0] if magnet.trackers else None,
        "magnet": magnet.uri(),
        "announce_list": [magnet.trackers] if magnet.trackers else [],
        "url_list": magnet.web_seeds,
        "peers": magnet.peers,
        "kind": "magnet",
    }


# --- text --------------------------------------------------------------------------------------


def torrent_lines(meta: Metainfo, source: str, data: bytes | None, verbose: int) -> list[Text]:
    kinds = {"v1": "v1, BEP 3", "v2": "v2, BEP 52", "hybrid": "hybrid v1+v2, BEP 52"}
    out = [_row("torrent", f"{source} ({meta.size:,} bytes, {kinds[meta.kind]})")]
    out.append(_row("announce", meta.announce or "none (trackerless: DHT, PEX)"))
    for i, tier in enumerate(meta.announce_list, 1):
        out.append(_row("announce-list" if i == 1 else "", f"tier {i}: " + ", ".join(tier)))
    for url in meta.url_list:
        out.append(_row("web seed", url))
    start, end = meta.info_span
    out.append(Text(f"info dictionary (bytes {start:,}–{end:,})", style="label"))
    out += _info_lines(meta)
    v1 = meta.info_hash_v1.hex() if meta.info_hash_v1 else "none (no v1 part)"
    v2 = meta.info_hash_v2.hex() if meta.info_hash_v2 else "none (no v2 part)"
    out.append(
        _row("info-hash v1", v1 + ("  SHA-1 of the info bytes" if meta.info_hash_v1 else ""))
    )
    out.append(
        _row("info-hash v2", v2 + ("  SHA-256 of the info bytes" if meta.info_hash_v2 else ""))
    )
    out.append(_row("magnet", meta.magnet().uri()))
    if meta.comment:
        out.append(_row("comment", meta.comment))
    if meta.created_by:
        out.append(_row("created by", meta.created_by))
    if meta.creation_date is not None:
        out.append(_row("creation date", _date(meta.creation_date)))
    if verbose and meta.tree is not None and data is not None:
        out += [Text(""), Text(f"bencode ({len(data):,} bytes; offset of each value)", "label")]
        out += [Text(line) for line in tree_lines(meta.tree)]
    return out


def _info_lines(meta: Metainfo) -> list[Text]:
    plen = meta.piece_length
    out = [
        _row("name", meta.name, 2),
        _row("piece length", f"{plen:,} ({_size(plen)})", 2),
        _row("pieces", f"{meta.pieces:,}", 2),
    ]
    if meta.meta_version == 2:
        out.append(_row("meta version", "2", 2))
    mode = "directory" if meta.multi_file else "single file"
    out.append(_row("files", f"{len(meta.files):,} ({mode}), {meta.total_length:,} bytes", 2))
    width = max((len(f"{f.length:,}") for f in meta.files), default=1)
    for f in meta.files:
        line = Text("    ")
        line.append(f"{f.length:>{width},}", style="value")
        line.append("  " + _printable(f.display_path))
        out.append(line)
    if meta.pad_files:
        pad = sum(f.length for f in meta.pad_files)
        out.append(_row("pad files", f"{len(meta.pad_files)} ({pad:,} bytes, BEP 47)", 2))
    if meta.meta_version == 2:
        layers = meta.piece_layers
        text = "none in the file (peers send them)" if layers is None else f"{layers} checked"
        out.append(_row("piece layers", text, 2))
    private = "yes (BEP 27: trackers only, no DHT/PEX)" if meta.private else "no"
    out.append(_row("private", private, 2))
    if meta.source:
        out.append(_row("source", meta.source, 2))
    return out


def magnet_lines(magnet: Magnet) -> list[Text]:
    out = [Text("magnet link (BEP 9): no info dictionary, only what the link holds", "label")]
    if magnet.info_hash_v1:
        out.append(_row("info-hash v1", magnet.info_hash_v1.hex()))
    if magnet.info_hash_v2:
        out.append(_row("info-hash v2", magnet.info_hash_v2.hex()))
    out.append(_row("name", magnet.name if magnet.name is not None else "none (no dn=)"))
    for i, url in enumerate(magnet.trackers):
        out.append(_row("tracker" if i == 0 else "", url))
    for url in magnet.web_seeds:
        out.append(_row("web seed", url))
    for peer in magnet.peers:
        out.append(_row("peer", peer))
    out.append(_row("magnet", magnet.uri()))
    return out


# --- the bencode tree (-v) ----------------------------------------------------------------------


def _leaf(node: Node, key: bytes | None) -> str:
    if node.kind == "int":
        return f"i {node.value}"
    raw: bytes = node.value
    if key == b"pieces" and len(raw) % 20 == 0:
        return f"<{len(raw):,} bytes: {len(raw) // 20:,} SHA-1 piece hashes> {_head(raw)}"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and text.isprintable():
        return repr(text) if len(text) <= 120 else f"{text[:100]!r}… ({len(raw):,} bytes)"
    return f"<{len(raw):,} bytes> {_head(raw)}"


def _head(raw: bytes) -> str:
    if len(raw) <= 32:  # a SHA-256 (pieces root) in full
        return raw.hex()
    return raw[:SHOW_BYTES].hex() + "…"


def _key(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
        if text.isprintable() and len(text) <= 120:
            return repr(text) if text == "" or " " in text[:1] else text
    except UnicodeDecodeError:
        pass
    return f"<{_head(raw)}>"


def tree_lines(root: Node) -> list[str]:
    """One line per value: its offset, the key (or [index]) and the value, nested."""
    out: list[str] = []
    _walk(root, None, "", 0, out)
    return out


def _walk(node: Node, key: bytes | None, label: str, depth: int, out: list[str]) -> None:
    pad = "  " * depth
    head = f"{node.start:>9}  {pad}{label}{': ' if label else ''}"
    if node.kind == "dict":
        out.append(f"{head}d ({len(node.items)} keys, to byte {node.end:,})")
        for k, v in node.items:
            _walk(v, k.value, _key(k.value), depth + 1, out)
    elif node.kind == "list":
        out.append(f"{head}l ({len(node.items)} items, to byte {node.end:,})")
        for i, v in enumerate(node.items):
            _walk(v, None, f"[{i}]", depth + 1, out)
    else:
        out.append(head + _printable(_leaf(node, key)))


def print_lines(console: Console, lines: list[Text]) -> None:
    for line in lines:
        console.print(line, soft_wrap=True)
