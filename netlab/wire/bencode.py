"""Bencode (BEP 3): the encoding of .torrent files, tracker answers and KRPC.

    i42e          integer        (canonical: no leading zeros, no -0)
    4:spam        byte string    (length, colon, bytes)
    l … e         list
    d … e         dictionary     (keys are byte strings, sorted, no duplicates)

`decode(data)` returns Python values (int, bytes, list, dict with bytes keys) and
checks the canonical form strictly by default (a .torrent's info-hash is the hash of
its exact bytes: a non-canonical file has no single meaning); `strict=False`
accepts unsorted keys, as a dissector must. `decode_tree(data)` keeps each value's
byte offsets for display. Bounded: nesting depth, element count, and every length
checked against what is left before anything is read — a string claiming 2 GB in a
1 KB datagram is an error at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_DEPTH = 64
MAX_ELEMENTS = 1_000_000


class BencodeError(ValueError):
    """Bytes that are not (canonical) bencode; the message names the offset."""


@dataclass(slots=True)
class Node:
    """A value with where it sits in the input (for `-v` and the dissector's tree)."""

    kind: str  # "int", "bytes", "list" or "dict"
    start: int
    end: int
    value: object = None  # int or bytes for leaves
    items: list = field(default_factory=list)  # list: [Node]; dict: [(key Node, Node)]


class _Decoder:
    def __init__(self, data: bytes, strict: bool, tree: bool) -> None:
        self.data, self.strict, self.tree = data, strict, tree
        self.count = 0

    def fail(self, pos: int, what: str):
        raise BencodeError(f"bencode: {what} at byte {pos}")

    def value(self, pos: int, depth: int):
        data = self.data
        if pos >= len(data):
            self.fail(pos, "data ends where a value should start")
        self.count += 1
        if self.count > MAX_ELEMENTS:
            self.fail(pos, f"more than {MAX_ELEMENTS} values")
        c = data[pos]
        if c == 0x69:  # i
            return self.integer(pos)
        if 0x30 <= c <= 0x39:
            return self.string(pos)
        if c == 0x6C or c == 0x64:  # l, d
            if depth >= MAX_DEPTH:
                self.fail(pos, f"nested deeper than {MAX_DEPTH}")
            return self.dictionary(pos, depth) if c == 0x64 else self.list(pos, depth)
        self.fail(pos, f"unexpected byte {bytes([c])!r}")

    def integer(self, pos: int):
        end = self.data.find(b"e", pos + 1, pos + 32)
        if end < 0:
            self.fail(pos, "integer without an end (or longer than 30 digits)")
        text = self.data[pos + 1 : end]
        digits = text[1:] if text[:1] == b"-" else text
        if not digits.isdigit():
            self.fail(pos, f"bad integer {text!r}")
        if self.strict and ((digits[:1] == b"0" and len(digits) > 1) or text == b"-0"):
            self.fail(pos, f"non-canonical integer {text!r}")
        number = int(text)
        if self.tree:
            return Node("int", pos, end + 1, number), end + 1
        return number, end + 1

    def string(self, pos: int):
        data = self.data
        colon = data.find(b":", pos, pos + 12)
        if colon < 0:
            self.fail(pos, "string length without a colon (or over 11 digits)")
        digits = data[pos:colon]
        if not digits.isdigit():
            self.fail(pos, f"bad string length {digits!r}")
        if self.strict and digits[:1] == b"0" and len(digits) > 1:
            self.fail(pos, f"non-canonical string length {digits!r}")
        n = int(digits)
        start = colon + 1
        if start + n > len(data):
            self.fail(pos, f"string of {n} bytes, only {len(data) - start} left")
        raw = data[start : start + n]
        if self.tree:
            return Node("bytes", pos, start + n, raw), start + n
        return raw, start + n

    def list(self, pos: int, depth: int):
        items = []
        p = pos + 1
        data = self.data
        while True:
            if p >= len(data):
                self.fail(pos, "list without an end")
            if data[p] == 0x65:  # e
                break
            item, p = self.value(p, depth + 1)
            items.append(item)
        if self.tree:
            return Node("list", pos, p + 1, items=items), p + 1
        return items, p + 1

    def dictionary(self, pos: int, depth: int):
        out: dict = {}
        pairs = []
        p = pos + 1
        data = self.data
        last: bytes | None = None
        while True:
            if p >= len(data):
                self.fail(pos, "dictionary without an end")
            if data[p] == 0x65:
                break
            if not 0x30 <= data[p] <= 0x39:
                self.fail(p, "dictionary key that is not a byte string")
            key, p_value = self.string(p)
            raw_key = key.value if self.tree else key
            if last is not None and raw_key <= last:
                if raw_key == last:
                    self.fail(p, f"duplicate key {raw_key!r}")
                if self.strict:
                    self.fail(p, f"keys not sorted ({last!r} before {raw_key!r})")
            last = raw_key
            value, p = self.value(p_value, depth + 1)
            if self.tree:
                pairs.append((key, value))
            else:
                out[raw_key] = value
        if self.tree:
            return Node("dict", pos, p + 1, items=pairs), p + 1
        return out, p + 1


def decode(data: bytes, *, strict: bool = True, allow_trailing: bool = False):
    """DATA as Python values; trailing bytes after the value are an error unless allowed."""
    value, end = _Decoder(data, strict, False).value(0, 0)
    if end != len(data) and not allow_trailing:
        raise BencodeError(f"bencode: {len(data) - end} bytes after the value at byte {end}")
    return value


def decode_prefix(data: bytes, *, strict: bool = True):
    """(value, end): the value at the start of DATA and where it ends (info dict hashing)."""
    return _Decoder(data, strict, False).value(0, 0)


def decode_tree(data: bytes, *, strict: bool = False) -> Node:
    return _Decoder(data, strict, True).value(0, 0)[0]


def encode(value) -> bytes:
    out: list[bytes] = []
    _encode(value, out)
    return b"".join(out)


def _encode(value, out: list[bytes]) -> None:
    if isinstance(value, bool):
        raise TypeError("bencode has no booleans")
    if isinstance(value, int):
        out.append(b"i%de" % value)
    elif isinstance(value, bytes | bytearray):
        out.append(b"%d:" % len(value))
        out.append(bytes(value))
    elif isinstance(value, str):
        _encode(value.encode(), out)
    elif isinstance(value, list | tuple):
        out.append(b"l")
        for item in value:
            _encode(item, out)
        out.append(b"e")
    elif isinstance(value, dict):
        out.append(b"d")
        keys = {(k.encode() if isinstance(k, str) else bytes(k)): v for k, v in value.items()}
        for key in sorted(keys):
            _encode(key, out)
            _encode(keys[key], out)
        out.append(b"e")
    else:
        raise TypeError(f"cannot bencode {type(value).__name__}")
