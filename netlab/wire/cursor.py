"""A read position over a bounded slice of bytes, for the parsers that read field by
field (TLS handshake messages, AMF0 values): every read checks the length it needs,
and a read past the end raises the parser's own error."""

from __future__ import annotations


class Cursor:
    """data[pos:end], read in network byte order. A subclass says what a short read
    raises (`short`)."""

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data, self.pos = data, pos
        self.end = len(data) if end is None else end

    def short(self, n: int) -> Exception:
        """The error for a read of n bytes that the slice does not hold."""
        return ValueError(f"truncated: {n} bytes needed at {self.pos}, {self.end - self.pos} left")

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise self.short(n)
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    # The integer reads index the bytes (no slice, no int.from_bytes: compiled, they are
    # a few C operations; AMF0 and TLS read a dozen per value or extension).
    def _need(self, n: int) -> int:
        """The position of a read of n bytes, which the slice must hold."""
        pos = self.pos
        if pos + n > self.end:
            raise self.short(n)
        return pos

    def u8(self) -> int:
        pos = self._need(1)
        self.pos = pos + 1
        return self.data[pos]

    def u16(self) -> int:
        pos, data = self._need(2), self.data
        self.pos = pos + 2
        return data[pos] << 8 | data[pos + 1]

    def u24(self) -> int:
        pos, data = self._need(3), self.data
        self.pos = pos + 3
        return data[pos] << 16 | data[pos + 1] << 8 | data[pos + 2]

    def u32(self) -> int:
        pos, data = self._need(4), self.data
        self.pos = pos + 4
        return data[pos] << 24 | data[pos + 1] << 16 | data[pos + 2] << 8 | data[pos + 3]

    @property
    def left(self) -> int:
        return self.end - self.pos
