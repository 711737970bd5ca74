"""AMF0 (Adobe's Action Message Format 0): the values RTMP commands carry.

`decode_values(data)` reads every value of a command or data message (name,
transaction id, command object, arguments); `encode(value)` writes one. Python
types map as: float/int → number, bool → boolean, str → string (long string past
65535 bytes), dict → object, `EcmaArray` → ECMA array, list → strict array,
None → null, `Undefined` → undefined. Decoding is bounded: nesting depth,
element counts and lengths are checked against what is left of the message; the
AMF3 switch marker is recognised and stops decoding (`Amf3` placeholder).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any, NamedTuple

from netlab.wire.cursor import Cursor

MAX_DEPTH = 64
MAX_ELEMENTS = 100_000

NUMBER, BOOLEAN, STRING, OBJECT, MOVIECLIP, NULL, UNDEFINED, REFERENCE = 0, 1, 2, 3, 4, 5, 6, 7
ECMA_ARRAY, OBJECT_END, STRICT_ARRAY, DATE, LONG_STRING, UNSUPPORTED = 8, 9, 10, 11, 12, 13
XML_DOCUMENT, TYPED_OBJECT, AVMPLUS = 15, 16, 17
TYPE_NAMES = {
    0: "number",
    1: "boolean",
    2: "string",
    3: "object",
    5: "null",
    6: "undefined",
    7: "reference",
    8: "ecma-array",
    10: "strict-array",
    11: "date",
    12: "long-string",
    15: "xml",
    16: "typed-object",
    17: "amf3",
}


class AmfError(ValueError):
    """AMF0 bytes that do not decode (one line)."""


class EcmaArray(dict):
    """An ECMA array (onMetaData's usual container): a dict that encodes as type 8."""


class Undefined:
    def __repr__(self) -> str:
        return "undefined"


UNDEFINED_VALUE = Undefined()


@dataclass(frozen=True)
class Date:
    millis: float
    timezone: int = 0


@dataclass(frozen=True)
class Amf3:
    """The AVM+ switch: what follows is AMF3, which netlab does not decode."""

    offset: int


@dataclass(frozen=True)
class Reference:
    index: int


# --- decoding -------------------------------------------------------------------------------------
class Item(NamedTuple):
    """One AMF0 value as it lies in the bytes: what a dissector's tree shows (type
    marker, offsets, the properties of an object with where each name starts)."""

    marker: int
    start: int  # offset of the type marker
    end: int  # offset just past the value
    value: Any  # the value as `decode_values` gives it
    # object, ECMA array, typed object: ((name, offset of its length, Item), ...);
    # strict array: (Item, ...)
    members: tuple = ()
    count: int | None = None  # ECMA array, strict array: the count field
    name: str | None = None  # typed object: the class name


_new = tuple.__new__
_F64 = struct.Struct(">d")


def _value(marker: int, start: int, end: int, value: Any) -> Item:
    """A value without members, made by tuple.__new__ (NamedTuple's __new__ is a Python
    function, called for every value of every RTMP command)."""
    return _new(Item, (marker, start, end, value, (), None, None))


class _Reader(Cursor):
    def __init__(self, data: bytes, start: int = 0, end: int | None = None) -> None:
        super().__init__(data, start, end)
        self.count = 0  # values read so far (bounded by MAX_ELEMENTS)

    def short(self, n: int) -> Exception:
        return AmfError(f"AMF0 truncated at byte {self.pos} ({n} bytes needed)")

    def utf8(self, n: int) -> str:
        return bytes(self.take(n)).decode("utf-8", "replace")


def decode_values(data: bytes) -> list:
    """Every AMF0 value in DATA, in order (a command: name, transaction id, object …)."""
    items, error = decode_items(data)
    if error is not None:
        raise error
    return [item.value for item in items]


def decode_items(
    data: bytes, start: int = 0, end: int | None = None
) -> tuple[list[Item], AmfError | None]:
    """The values in data[start:end] as `Item`s, and the error that stopped the walk (None
    when every byte was read): the values before a damaged one are kept. Bounded like
    `decode_values` (nesting depth, element counts, lengths against what is left)."""
    r = _Reader(data, start, end)
    items: list[Item] = []
    try:
        while r.pos < r.end:
            item = _item(r, 0)
            items.append(item)
            if item.marker == AVMPLUS:
                break
    except AmfError as err:
        return items, err
    return items, None


def _item(r: _Reader, depth: int) -> Item:
    if depth > MAX_DEPTH:
        raise AmfError(f"AMF0 values nested deeper than {MAX_DEPTH}")
    r.count += 1
    if r.count > MAX_ELEMENTS:
        raise AmfError(f"more than {MAX_ELEMENTS} AMF0 values in one message")
    start = r.pos
    marker = r.u8()
    if marker == NUMBER:
        return _value(marker, start, r.pos + 8, _F64.unpack(r.take(8))[0])
    if marker == BOOLEAN:
        return _value(marker, start, r.pos + 1, r.u8() != 0)
    if marker == STRING:
        value = r.utf8(r.u16())
        return _value(marker, start, r.pos, value)
    if marker in (LONG_STRING, XML_DOCUMENT):
        value = r.utf8(r.u32())
        return _value(marker, start, r.pos, value)
    if marker in (OBJECT, ECMA_ARRAY, TYPED_OBJECT):
        count = name = None
        if marker == ECMA_ARRAY:
            count = r.u32()  # an approximate count: the end marker is what ends it
            obj: dict = EcmaArray()
        else:
            if marker == TYPED_OBJECT:
                name = r.utf8(r.u16())  # the class name
            obj = {}
        members = _properties(r, obj, depth)
        return Item(marker, start, r.pos, obj, members, count, name)
    if marker == STRICT_ARRAY:
        count = r.u32()
        if count > r.end - r.pos:  # every value takes at least one byte
            raise AmfError(f"strict array of {count} values in {r.end - r.pos} bytes")
        children = tuple([_item(r, depth + 1) for _ in range(count)])
        return Item(marker, start, r.pos, [c.value for c in children], children, count)
    if marker in (NULL, UNSUPPORTED):
        return _value(marker, start, r.pos, None)
    if marker == UNDEFINED:
        return _value(marker, start, r.pos, UNDEFINED_VALUE)
    if marker == REFERENCE:
        return _value(marker, start, r.pos + 2, Reference(r.u16()))
    if marker == DATE:
        millis = struct.unpack(">d", r.take(8))[0]
        return _value(marker, start, r.pos + 2, Date(millis, struct.unpack(">h", r.take(2))[0]))
    if marker == AVMPLUS:
        return _value(marker, start, r.pos, Amf3(start))
    raise AmfError(f"unknown AMF0 type marker {marker} at byte {start}")


def _properties(r: _Reader, obj: dict, depth: int) -> tuple:
    members = []
    while True:
        at = r.pos
        key = r.utf8(r.u16())
        if key == "" and r.pos < r.end and r.data[r.pos] == OBJECT_END:
            r.pos += 1
            return tuple(members)
        child = _item(r, depth + 1)
        obj[key] = child.value
        members.append((key, at, child))


# --- encoding -------------------------------------------------------------------------------------
def encode(value) -> bytes:
    if isinstance(value, bool):
        return bytes([BOOLEAN, 1 if value else 0])
    if isinstance(value, int | float):
        number = float(value)
        if math.isnan(number):
            number = float("nan")
        return bytes([NUMBER]) + struct.pack(">d", number)
    if isinstance(value, str):
        raw = value.encode()
        if len(raw) > 0xFFFF:
            return bytes([LONG_STRING]) + struct.pack(">I", len(raw)) + raw
        return bytes([STRING]) + struct.pack(">H", len(raw)) + raw
    if value is None:
        return bytes([NULL])
    if isinstance(value, Undefined):
        return bytes([UNDEFINED])
    if isinstance(value, EcmaArray):
        return bytes([ECMA_ARRAY]) + struct.pack(">I", len(value)) + _encode_properties(value)
    if isinstance(value, dict):
        return bytes([OBJECT]) + _encode_properties(value)
    if isinstance(value, list | tuple):
        return bytes([STRICT_ARRAY]) + struct.pack(">I", len(value)) + b"".join(map(encode, value))
    if isinstance(value, Date):
        return bytes([DATE]) + struct.pack(">dh", value.millis, value.timezone)
    if isinstance(value, Reference):
        return bytes([REFERENCE]) + struct.pack(">H", value.index)
    raise TypeError(f"cannot encode {type(value).__name__} as AMF0")


def _encode_properties(obj: dict) -> bytes:
    out = bytearray()
    for key, val in obj.items():
        raw = str(key).encode()
        out += struct.pack(">H", len(raw)) + raw + encode(val)
    return bytes(out) + b"\x00\x00" + bytes([OBJECT_END])


def encode_values(*values) -> bytes:
    return b"".join(encode(v) for v in values)


def to_json(value):
    """A decoded value as plain JSON data (dates as ISO-less millis, AMF3 as a marker)."""
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, Undefined):
        return None
    if isinstance(value, Date):
        return {"date_ms": value.millis, "timezone": value.timezone}
    if isinstance(value, Amf3):
        return {"amf3_at": value.offset}
    if isinstance(value, Reference):
        return {"reference": value.index}
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
