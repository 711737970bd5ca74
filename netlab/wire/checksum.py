"""The Internet checksum (RFC 1071), shared by the dissector and the probe builders."""

from __future__ import annotations

import struct


def internet_checksum(data: bytes) -> int:
    """One's-complement sum of 16-bit words; 0 over a header that includes its checksum
    means the checksum is good."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF
