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

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def u24(self) -> int:
        return int.from_bytes(self.take(3), "big")

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    @property
    def left(self) -> int:
        return self.end - self.pos
