"""TCP options (RFC 9293 section 3.1): the one walker, for the TCP core and the dissector.

An option is one byte (End of Option List, No-Operation) or kind, length (counting
both bytes) and data. `walk` finds where each option lies and where the list turns
malformed; its callers decide what a malformed option means to them (the dissector
marks it as Wireshark does, `option_list` keeps what Scapy would). IPv4 options share
the layout, and the dissector walks them with the same function.
"""

from __future__ import annotations

import struct
from typing import Any

EOL, NOP, MSS, WSCALE, SACK_PERM, SACK, TIMESTAMPS = 0, 1, 2, 3, 4, 5, 8
_U16 = struct.Struct("!H")
_TS = struct.Struct("!II")


def walk(buf: bytes, p: int, end: int) -> tuple[list[tuple[int, int, int]], int]:
    """The options in buf[p:end] as ([(kind, offset, length), …], bad).

    EOL and NOP have length 1, and the walk ends after an EOL. `bad` is the offset of
    the option that ends the walk as malformed (no length byte, a length under 2, or
    one that runs past `end`; it is not listed), or -1.
    """
    found = []
    while p < end:
        kind = buf[p]
        if kind < 2:
            found.append((kind, p, 1))
            if kind == EOL:
                break
            p += 1
            continue
        if p + 1 >= end:
            return found, p
        length = buf[p + 1]
        if length < 2 or p + length > end:
            return found, p
        found.append((kind, p, length))
        p += length
    return found, -1


def option_list(raw: bytes) -> list[tuple[str, Any]]:
    """The options as (name, value) in Scapy's names: EOL, NOP, MSS, WScale, SAckOK,
    SAck, Timestamp, and "opt-N" with the data in hex for the others. A length that
    runs past the end still gives the option with what is there; a missing or bogus
    (< 2) length ends the list."""
    found, bad = walk(raw, 0, len(raw))
    out = [_scapy(kind, raw[p + 2 : p + length]) for kind, p, length in found]
    if bad >= 0 and bad + 1 < len(raw) and raw[bad + 1] >= 2:  # cut short: what is there
        out.append(_scapy(raw[bad], raw[bad + 2 : bad + raw[bad + 1]]))
    return out


def _scapy(kind: int, body: bytes) -> tuple[str, Any]:
    if kind == EOL:
        return ("EOL", None)
    if kind == NOP:
        return ("NOP", None)
    if kind == MSS and len(body) == 2:
        return ("MSS", _U16.unpack(body)[0])
    if kind == WSCALE and len(body) == 1:
        return ("WScale", body[0])
    if kind == SACK_PERM:
        return ("SAckOK", b"")
    if kind == SACK:
        return ("SAck", struct.unpack(f"!{len(body) // 4}I", body[: len(body) // 4 * 4]))
    if kind == TIMESTAMPS and len(body) == 8:
        return ("Timestamp", _TS.unpack(body))
    return (f"opt-{kind}", body.hex())
