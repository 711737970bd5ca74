"""BitTorrent helpers of the `p2p` lab's services: bencode, the seeder's payload and
.torrent, the tracker's URLs and its answers.

Kept apart from `netlab.wire` on purpose: the lab is the oracle netlab's own
bencode/KRPC/tracker code is tested against, so it must not be built from that code.
Small and strict enough for what the lab makes and what opentracker answers.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any
from urllib.parse import quote_from_bytes

PAYLOAD_SEED = "netlab p2p lab"  # with the file name: the seeder's bytes are fixed
CREATED_BY = "netlab lab"
MAX_DEPTH = 32


# ---------------------------------------------------------------------------
# bencode (BEP 3)


def bencode(value: Any) -> bytes:
    """Integers, byte strings (str as UTF-8), lists, dictionaries (keys sorted as raw
    bytes, as BEP 3 requires)."""
    out: list[bytes] = []
    _encode(value, out)
    return b"".join(out)


def _encode(value: Any, out: list[bytes]) -> None:
    if isinstance(value, bool):
        raise TypeError("bencode has no booleans")
    if isinstance(value, int):
        out.append(b"i%de" % value)
    elif isinstance(value, str | bytes):
        raw = value.encode() if isinstance(value, str) else value
        out.append(b"%d:" % len(raw))
        out.append(raw)
    elif isinstance(value, list | tuple):
        out.append(b"l")
        for item in value:
            _encode(item, out)
        out.append(b"e")
    elif isinstance(value, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, v) for k, v in value.items())
        out.append(b"d")
        for key, item in items:
            _encode(key, out)
            _encode(item, out)
        out.append(b"e")
    else:
        raise TypeError(f"cannot bencode {type(value).__name__}")


def bdecode(data: bytes) -> Any:
    """The one bencoded value `data` holds (byte strings stay bytes; dictionary keys
    too). ValueError on anything else: trailing bytes, bad integers, nesting deeper
    than MAX_DEPTH, lengths past the end."""
    value, end = _decode(data, 0, 0)
    if end != len(data):
        raise ValueError(f"bencode: {len(data) - end} trailing bytes at {end}")
    return value


def _decode(data: bytes, pos: int, depth: int) -> tuple[Any, int]:
    if depth > MAX_DEPTH:
        raise ValueError(f"bencode: nested deeper than {MAX_DEPTH} at {pos}")
    if pos >= len(data):
        raise ValueError(f"bencode: truncated at {pos}")
    lead = data[pos : pos + 1]
    if lead == b"i":
        end = data.find(b"e", pos)
        text = data[pos + 1 : end] if end > 0 else b""
        if not text or text in (b"-", b"-0") or (text.lstrip(b"-")[:1] == b"0" and text != b"0"):
            raise ValueError(f"bencode: bad integer at {pos}")
        try:
            return int(text), end + 1
        except ValueError:
            raise ValueError(f"bencode: bad integer at {pos}") from None
    if lead.isdigit():
        colon = data.find(b":", pos, pos + 12)
        if colon < 0 or not data[pos:colon].isdigit():
            raise ValueError(f"bencode: bad string length at {pos}")
        end = colon + 1 + int(data[pos:colon])
        if end > len(data):
            raise ValueError(f"bencode: string at {pos} runs past the end")
        return data[colon + 1 : end], end
    if lead in (b"l", b"d"):
        items: list[Any] = []
        pos += 1
        while data[pos : pos + 1] != b"e":
            item, pos = _decode(data, pos, depth + 1)
            items.append(item)
        if lead == b"l":
            return items, pos + 1
        if len(items) % 2:
            raise ValueError("bencode: dictionary with a key and no value")
        keys = items[0::2]
        if not all(isinstance(k, bytes) for k in keys):
            raise ValueError("bencode: dictionary key is not a string")
        return dict(zip(keys, items[1::2], strict=True)), pos + 1
    raise ValueError(f"bencode: unexpected byte {lead!r} at {pos}")


# ---------------------------------------------------------------------------
# The seeder's payload and .torrent


def payload(name: str, size: int) -> bytes:
    """`size` pseudo-random bytes, the same for the same name on every machine."""
    return random.Random(f"{PAYLOAD_SEED}:{name}").randbytes(size)


def info_dict(name: str, data: bytes, piece_length: int) -> dict[str, Any]:
    pieces = b"".join(
        hashlib.sha1(data[i : i + piece_length]).digest() for i in range(0, len(data), piece_length)
    )
    return {"name": name, "length": len(data), "piece length": piece_length, "pieces": pieces}


def make_torrent(name: str, data: bytes, piece_length: int, announce: str) -> tuple[bytes, str]:
    """A single-file v1 .torrent (BEP 3) for `data`: (its bytes, info-hash in hex)."""
    info = info_dict(name, data, piece_length)
    meta = {"announce": announce, "created by": CREATED_BY, "info": info}
    return bencode(meta), hashlib.sha1(bencode(info)).hexdigest()


def magnet(info_hash: str, name: str, tracker: str) -> str:
    return (
        f"magnet:?xt=urn:btih:{info_hash}&dn={quote_from_bytes(name.encode())}"
        f"&tr={quote_from_bytes(tracker.encode(), safe='')}"
    )


# ---------------------------------------------------------------------------
# Tracker URLs and answers (opentracker's HTTP interface)


def quote_hash(info_hash: str) -> str:
    """The info-hash as a URL's `info_hash` parameter: 20 raw bytes, %-escaped."""
    return quote_from_bytes(bytes.fromhex(info_hash), safe="")


def scrape_path(info_hash: str) -> str:
    return f"/scrape?info_hash={quote_hash(info_hash)}"


def scrape_counts(body: bytes, info_hash: str) -> dict[str, int] | None:
    """{"complete": seeders, "incomplete": leechers, "downloaded": N} from a scrape
    answer, or None when the tracker does not list the info-hash."""
    try:
        doc = bdecode(body)
    except ValueError:
        return None
    files = doc.get(b"files") if isinstance(doc, dict) else None
    entry = files.get(bytes.fromhex(info_hash)) if isinstance(files, dict) else None
    if not isinstance(entry, dict):
        return None
    return {k.decode(): v for k, v in entry.items() if isinstance(v, int)}


def compact_peers(blob: bytes) -> list[str]:
    """BEP 23 compact IPv4 peers (6 bytes each) as "ip:port"."""
    return [
        f"{'.'.join(str(b) for b in blob[i : i + 4])}:{int.from_bytes(blob[i + 4 : i + 6], 'big')}"
        for i in range(0, len(blob) - len(blob) % 6, 6)
    ]
