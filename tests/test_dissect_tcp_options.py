"""netlab/wire/tcp_options.py: the one TCP-options walker.

`option_list` must return exactly what `core/tcp_handshake.py`'s `parse_options`
returned (Scapy's names and stopping rules): the reference is kept here verbatim as
the oracle, on hand-made and random (often malformed) option bytes. The dissector's
use of the walker is held to tshark by the corpus tests and to the generic rows by
tests/test_fast_views.py.
"""

from __future__ import annotations

import random
import struct
from typing import Any

import pytest

from netlab.wire.tcp_options import option_list, walk


def reference_parse_options(raw: bytes) -> list[tuple[str, Any]]:
    """core/tcp_handshake.py `parse_options` as it was before the shared walker."""
    out: list[tuple[str, Any]] = []
    i = 0
    while i < len(raw):
        kind = raw[i]
        if kind == 0:
            out.append(("EOL", None))
            break
        if kind == 1:
            out.append(("NOP", None))
            i += 1
            continue
        if i + 1 >= len(raw) or raw[i + 1] < 2:
            break
        size = raw[i + 1]
        body = raw[i + 2 : i + size]
        if kind == 2 and len(body) == 2:
            out.append(("MSS", struct.unpack("!H", body)[0]))
        elif kind == 3 and len(body) == 1:
            out.append(("WScale", body[0]))
        elif kind == 4:
            out.append(("SAckOK", b""))
        elif kind == 5:
            out.append(("SAck", struct.unpack(f"!{len(body) // 4}I", body[: len(body) // 4 * 4])))
        elif kind == 8 and len(body) == 8:
            out.append(("Timestamp", struct.unpack("!II", body)))
        else:
            out.append((f"opt-{kind}", body.hex()))
        i += size
    return out


LINUX_SYN = bytes.fromhex("020405b40402080a0001e2400000000001030307")
CASES = [
    b"",
    LINUX_SYN,
    bytes.fromhex("0101080a0001e24000000000"),  # NOP NOP Timestamps
    bytes.fromhex("0101050a0000000100000002"),  # NOP NOP SACK, one block
    bytes.fromhex("00020405b4"),  # EOL first: nothing after it
    bytes.fromhex("0204"),  # MSS cut short: what is there
    bytes.fromhex("02"),  # no length byte
    bytes.fromhex("0201ffff"),  # length 1
    bytes.fromhex("0200"),  # length 0
    bytes.fromhex("03030e"),  # window scale
    bytes.fromhex("030207"),  # window scale with a wrong length
    bytes.fromhex("0402"),  # SACK permitted
    bytes.fromhex("0403ff"),  # SACK permitted, odd length
    bytes.fromhex("0507000000010000"),  # SACK with a partial block
    bytes.fromhex("1e0401020304"),  # MPTCP, then an unknown byte
    bytes.fromhex("fe0a112233"),  # unknown kind running past the end
    bytes.fromhex("080a0000"),  # timestamps cut short
]


@pytest.mark.parametrize("raw", CASES, ids=lambda raw: raw.hex() or "empty")
def test_option_list_is_the_scapy_parser(raw):
    assert option_list(raw) == reference_parse_options(raw)


def test_option_list_on_random_bytes():
    rng = random.Random(13)
    kinds = [0, 1, 2, 3, 4, 5, 8, 30, 34, 254]
    for _ in range(20000):
        n = rng.randrange(0, 41)
        if rng.random() < 0.5:
            raw = bytes(rng.randrange(256) for _ in range(n))
        else:  # option-shaped bytes: likely kinds and lengths, sometimes wrong
            parts = bytearray()
            while len(parts) < n:
                kind = rng.choice(kinds)
                parts.append(kind)
                if kind > 1:
                    parts.append(rng.choice([0, 1, 2, 3, 4, 10, rng.randrange(256)]))
                    parts += bytes(rng.randrange(256) for _ in range(rng.randrange(0, 10)))
            raw = bytes(parts[:n])
        assert option_list(raw) == reference_parse_options(raw), raw.hex()


def test_walk_marks_where_the_options_turn_malformed():
    assert walk(LINUX_SYN, 0, 20) == (
        [(2, 0, 4), (4, 4, 2), (8, 6, 10), (1, 16, 1), (3, 17, 3)],
        -1,
    )
    assert walk(b"\x01\x00\x02\x04", 0, 4) == ([(1, 0, 1), (0, 1, 1)], -1)
    assert walk(b"\x01\x02\x04\x05", 0, 4) == ([(1, 0, 1)], 1)  # MSS runs past the end
    assert walk(b"\x01\x02", 0, 2) == ([(1, 0, 1)], 1)  # no length byte
    assert walk(b"\x99\x01\x02\x04", 0, 4) == ([], 0)  # length under 2
    # Within a frame: offsets are the frame's, and nothing past `end` is read.
    frame = b"\xff" * 7 + b"\x01\x01" + b"\x02\x04\x05\xb4" + b"\xff"
    assert walk(frame, 7, 13) == ([(1, 7, 1), (1, 8, 1), (2, 9, 4)], -1)


def test_the_core_parses_options_with_the_shared_walker():
    """One TCP-options parser: the TCP core's is the dissector's walker."""
    from netlab.core import tcp_handshake

    assert tcp_handshake.parse_options is option_list
