"""HPACK (RFC 7541) decoding that keeps how each field was sent, for explaining it.

`hpack.Decoder` gives the header list; the dissector (`http2.header.repr`,
`http2.header.index`) and the HTTP client's explanations also need each field's
*representation*: indexed, or a literal with or without indexing, with its name from
the table or sent as a string, Huffman-coded or not, and where it lies in the block.
So this module walks the block itself, and uses the `hpack` package only where it
serves: its static table and its Huffman decoder.

Strict and bounded, for bytes from a capture: any fault raises `HpackError` with a
one-line message. An integer may take at most 5 continuation bytes; a string at most
`max_string` bytes; a block at most `max_fields` fields; an index must name an entry;
a dynamic table size update must come at the start of a block and stay within the
table's limit (the SETTINGS_HEADER_TABLE_SIZE the decoding side announced). Work is
linear in the block's length (eviction is amortised over the additions).

Names and values are decoded as UTF-8, any invalid byte replaced by U+FFFD (so every
text can be printed and written as JSON); sizes (RFC 7541 §4.1) count the octets as
sent, never the decoded text.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus

# The static table (RFC 7541 Appendix A) as text, from the hpack package, which is
# imported when a first DynamicTable is made: a capture without HTTP/2 never pays for
# it (its package import is ~6 ms of every `dissect`'s start-up).
STATIC: list[tuple[str, str]] = []
STATIC_LEN = 61
ENTRY_OVERHEAD = 32  # RFC 7541 §4.1: an entry's size is name + value octets + 32
MAX_CONTINUATION = 5  # continuation bytes of one integer (35 bits: past any sane value)
DEFAULT_TABLE_SIZE = 4096  # SETTINGS_HEADER_TABLE_SIZE's initial value (RFC 9113 §6.5.2)

INDEXED = "indexed"
LITERAL_INCREMENTAL = "literal-incremental"
LITERAL_WITHOUT_INDEXING = "literal-without-indexing"
LITERAL_NEVER_INDEXED = "literal-never-indexed"


class HpackError(ValueError):
    """A header block that does not decode; the message is one line."""


class _CutShort(HpackError):
    """A representation runs past the end of the data (an error only in a whole block)."""


@dataclass(frozen=True, slots=True)
class HpackField:
    """One header field as sent (RFC 7541 §6.1–6.2)."""

    name: str
    value: str
    representation: (
        str  # INDEXED | LITERAL_INCREMENTAL | LITERAL_WITHOUT_INDEXING | LITERAL_NEVER_INDEXED
    )
    index: (
        int | None
    )  # the whole field's index (indexed), the name's (literal), or None: a new name
    name_huffman: bool | None  # None when the name came from the table
    value_huffman: bool | None  # None for an indexed field
    offset: int  # where this representation lies in the block
    length: int


@dataclass(frozen=True, slots=True)
class SizeUpdate:
    """A dynamic table size update (RFC 7541 §6.3)."""

    max_size: int
    offset: int
    length: int


class DynamicTable:
    """One direction's dynamic table (one per connection and direction).

    `entries` is newest first: index 62 is entries[0]. `max_size` is the table's
    current maximum (changed by size updates in the blocks); `limit` is the most a size
    update may set, the SETTINGS_HEADER_TABLE_SIZE the decoding endpoint announced.
    """

    __slots__ = ("_names", "_sizes", "entries", "limit", "max_size", "size")

    def __init__(self, max_size: int = DEFAULT_TABLE_SIZE) -> None:
        if not STATIC:
            from hpack.table import HeaderTable

            STATIC.extend(
                (n.decode("ascii"), v.decode("ascii")) for n, v in HeaderTable.STATIC_TABLE
            )
        self.entries: list[tuple[str, str]] = []
        self._sizes: list[int] = []  # each entry's RFC size, from the octets as sent
        self._names: list[int] = []  # each entry's name length in octets as sent
        self.size = 0
        self.max_size = max_size
        self.limit = max_size

    def lookup(self, index: int) -> tuple[str, str]:
        """The (name, value) at index: the static table (1–61), then the dynamic one."""
        if 0 < index <= STATIC_LEN:
            return STATIC[index - 1]
        dyn = index - STATIC_LEN - 1
        if index <= 0 or dyn >= len(self.entries):
            raise HpackError(
                f"index {index} is not in the table (1–{STATIC_LEN + len(self.entries)})"
            )
        return self.entries[dyn]

    def add(self, name: str, value: str, octets: tuple[int, int] | None = None) -> None:
        """Insert an entry, evicting the oldest ones to fit (RFC 7541 §4.4): an entry
        larger than the whole table empties it and is not added. `octets` is
        (len(name), len(value)) in octets as sent (default: their UTF-8 lengths)."""
        if octets is None:
            octets = (len(name.encode()), len(value.encode()))
        need = octets[0] + octets[1] + ENTRY_OVERHEAD
        self._evict(self.max_size - need)
        if need <= self.max_size:
            self.entries.insert(0, (name, value))
            self._sizes.insert(0, need)
            self._names.insert(0, octets[0])
            self.size += need

    def name_octets(self, index: int) -> int:
        """The length as sent of the name at a valid index (sizes count octets)."""
        if index <= STATIC_LEN:
            return len(STATIC[index - 1][0])
        return self._names[index - STATIC_LEN - 1]

    def resize(self, max_size: int) -> None:
        """A size update: the new maximum, evicting what no longer fits (§4.3)."""
        self.max_size = max_size
        self._evict(max_size)

    def set_limit(self, limit: int) -> None:
        """The decoding side announced SETTINGS_HEADER_TABLE_SIZE: the most a size update
        may set. A table above it shrinks at once (the encoder must follow with a size
        update; this decoder does not insist on it)."""
        self.limit = limit
        if self.max_size > limit:
            self.resize(limit)

    def _evict(self, room: int) -> None:
        sizes, entries, names = self._sizes, self.entries, self._names
        while sizes and self.size > room:
            self.size -= sizes.pop()
            entries.pop()
            names.pop()


@dataclass(slots=True)
class HeaderBlock:
    """A decoded header block: its representations in order, and its length."""

    items: list[HpackField | SizeUpdate]
    length: int

    @property
    def fields(self) -> list[HpackField]:
        return [item for item in self.items if type(item) is HpackField]

    def http1_size(self) -> int:
        """Octets (UTF-8) the same header list takes as HTTP/1.1 text, for comparing
        with the block's length. Rule: each regular field is "name: value\\r\\n";
        :method and :path make the request line "METHOD PATH HTTP/1.1\\r\\n", :status
        the status line "HTTP/1.1 CODE REASON\\r\\n" (the standard reason phrase),
        :authority a "Host: …\\r\\n" line; :scheme and other pseudo-headers are not
        sent in HTTP/1.1; a blank line "\\r\\n" ends the head."""
        total = 2
        pseudo: dict[str, str] = {}
        for field in self.fields:
            name = field.name
            if name.startswith(":"):
                pseudo.setdefault(name, field.value)
                continue
            total += len(name.encode()) + len(field.value.encode()) + 4
        if ":method" in pseudo or ":path" in pseudo:
            method, path = pseudo.get(":method", ""), pseudo.get(":path", "")
            total += len(f"{method} {path} HTTP/1.1\r\n".encode())
        if ":status" in pseudo:
            total += len(f"HTTP/1.1 {pseudo[':status']} {reason_phrase(pseudo[':status'])}\r\n")
        if ":authority" in pseudo:
            total += len(f"Host: {pseudo[':authority']}\r\n".encode())
        return total


def reason_phrase(status: str | int) -> str:
    """The standard reason phrase of a status code ("OK", "Not Found"), or ""."""
    try:
        return HTTPStatus(int(status)).phrase
    except ValueError:
        return ""


# Huffman strings repeat (user agents, content types, paths): decoded texts are kept,
# bounded, keyed by the coded bytes (short strings only: the caches stay small).
_HUFFMAN_CACHE: dict[bytes, tuple[str, int]] = {}
_HUFFMAN_CACHE_LIMIT = 4096
_CACHED_LENGTH = 256
_TEXT_CACHE: dict[bytes, str] = {}


def _text(raw: bytes) -> str:
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace")


def _huffman(raw: bytes) -> tuple[str, int]:
    """A Huffman-coded string's text and its decoded length in octets."""
    found = _HUFFMAN_CACHE.get(raw)
    if found is not None:
        return found
    from hpack.exceptions import HPACKDecodingError
    from hpack.huffman_table import decode_huffman

    try:
        plain = decode_huffman(raw)
    except HPACKDecodingError as err:
        # hpack's table rejects EOS and padding that is longer than 7 bits or not all
        # ones (RFC 7541 §5.2) as "invalid" or "incomplete".
        raise HpackError(f"bad Huffman string ({err})") from None
    found = (_text(plain), len(plain))
    if len(raw) <= _CACHED_LENGTH:
        if len(_HUFFMAN_CACHE) >= _HUFFMAN_CACHE_LIMIT:
            _HUFFMAN_CACHE.clear()
        _HUFFMAN_CACHE[raw] = found
    return found


def _integer(data: bytes, pos: int, end: int, prefix_bits: int) -> tuple[int, int]:
    """An integer with an N-bit prefix (RFC 7541 §5.1) starting at data[pos]."""
    mask = (1 << prefix_bits) - 1
    value = data[pos] & mask
    pos += 1
    if value < mask:
        return value, pos
    shift = 0
    for _ in range(MAX_CONTINUATION):
        if pos >= end:
            raise _CutShort(f"integer cut short at byte {pos}")
        byte = data[pos]
        pos += 1
        value += (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos
    raise HpackError(f"integer longer than {MAX_CONTINUATION} continuation bytes at byte {pos}")


def _string(data: bytes, pos: int, end: int, max_string: int) -> tuple[str, int, bool, int]:
    """A string literal (§5.2) at data[pos] -> (text, octets decoded, huffman, next pos)."""
    if pos >= end:
        raise _CutShort(f"string expected at byte {pos}, block ends")
    huffman = bool(data[pos] & 0x80)
    length, pos = _integer(data, pos, end, 7)
    if length > max_string:
        raise HpackError(f"string of {length} bytes at byte {pos} (limit {max_string})")
    if pos + length > end:
        raise _CutShort(f"string of {length} bytes at byte {pos} runs past the block ({end})")
    raw = data[pos : pos + length]
    if huffman:
        text, octets = _huffman(raw)
    else:
        text = _TEXT_CACHE.get(raw)
        if text is None:
            text = _text(raw)
            if length <= _CACHED_LENGTH:
                if len(_TEXT_CACHE) >= _HUFFMAN_CACHE_LIMIT:
                    _TEXT_CACHE.clear()
                _TEXT_CACHE[raw] = text
        octets = length
    return text, octets, huffman, pos + length


_LITERALS = {  # first-byte pattern -> (representation, prefix bits)
    0x40: (LITERAL_INCREMENTAL, 6),
    0x10: (LITERAL_NEVER_INDEXED, 4),
    0x00: (LITERAL_WITHOUT_INDEXING, 4),
}


def decode_block(
    data: bytes, table: DynamicTable, *, max_fields: int = 1000, max_string: int = 1 << 20,
    final: bool = True, continued: bool = False,
) -> HeaderBlock:  # fmt: skip
    """Decode a whole header block (HEADERS/PUSH_PROMISE + CONTINUATION joined),
    updating `table` as the encoder did. Raises HpackError on the first fault; the
    table then holds the changes made before it (as the peer's would be: a connection
    error in HTTP/2).

    A block can also be decoded fragment by fragment, as frames arrive (what a
    dissector shows per frame): `final=False` says more of the block follows, so a
    representation cut short at the end is left for later instead of being an error
    (`HeaderBlock.length` tells where decoding stopped: hand data[length:] back with
    the next fragment); `continued=True` says fields of this block were decoded
    before, so a size update is no longer allowed."""
    data = bytes(data)
    end = len(data)
    items: list[HpackField | SizeUpdate] = []
    nfields = 1 if continued else 0
    pos = 0
    try:
        pos = _decode_into(data, end, table, items, nfields, max_fields, max_string)
    except _CutShort as err:
        if final:
            raise HpackError(str(err)) from None
        pos = items[-1].offset + items[-1].length if items else 0
    return HeaderBlock(items, pos)


def _decode_into(data: bytes, end: int, table: DynamicTable, items: list, nfields: int,
                 max_fields: int, max_string: int) -> int:  # fmt: skip
    """decode_block's loop: append the representations to items; return the end."""
    pos = 0
    while pos < end:
        start = pos
        first = data[pos]
        if first & 0x80:  # indexed header field
            index, pos = _integer(data, pos, end, 7)
            if index == 0:
                raise HpackError(f"indexed field with index 0 at byte {start}")
            name, value = table.lookup(index)
            items.append(HpackField(name, value, INDEXED, index, None, None, start, pos - start))
            nfields += 1
        elif first & 0xE0 == 0x20:  # dynamic table size update
            if nfields:
                raise HpackError(f"table size update at byte {start}, after a header field")
            size, pos = _integer(data, pos, end, 5)
            if size > table.limit:
                raise HpackError(
                    f"table size update to {size} at byte {start} exceeds the limit {table.limit}"
                )
            table.resize(size)
            items.append(SizeUpdate(size, start, pos - start))
            continue
        else:
            representation, bits = _LITERALS[first & 0xF0 if first < 0x40 else 0x40]
            index, pos = _integer(data, pos, end, bits)
            if index:
                name = table.lookup(index)[0]
                name_octets = -1  # looked up below only when the entry is added
                name_huffman = None
            else:
                name, name_octets, name_huffman, pos = _string(data, pos, end, max_string)
            value, value_octets, value_huffman, pos = _string(data, pos, end, max_string)
            if representation is LITERAL_INCREMENTAL:
                if name_octets < 0:
                    name_octets = table.name_octets(index)
                table.add(name, value, (name_octets, value_octets))
            items.append(HpackField(name, value, representation, index or None, name_huffman,
                                    value_huffman, start, pos - start))  # fmt: skip
            nfields += 1
        if nfields > max_fields:
            raise HpackError(f"more than {max_fields} header fields")
    return end
