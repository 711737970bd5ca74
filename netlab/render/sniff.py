"""tcpdump's payload views for `netlab sniff`: -A (ASCII) and -X (hex and ASCII).

Both show the packet minus its link-layer header, as tcpdump does, laid out as
tcpdump's print-ascii.c lays them out, so what a tcpdump user greps (a line
`\\t0x0010:  …`, a request line in -A) is where they expect it.
"""

from __future__ import annotations

from typing import Any

LINK_LAYERS = frozenset({"eth", "vlan", "sll", "sll2", "null", "loop", "ethertype", "frame"})
BYTES_PER_LINE = 16


def network_offset(pkt: Any) -> int:
    """Where the packet starts after its link-layer header (tcpdump's -A/-X start)."""
    link_end = 0
    for layer in pkt.layers:
        if layer.data is not None:
            break  # reassembled data: not the frame's bytes any more
        if layer.proto not in LINK_LAYERS:
            if layer.proto == "data" and link_end:
                return min(link_end + _llc_len(pkt.buf, link_end), len(pkt.buf))
            return min(layer.off, len(pkt.buf))
        link_end = layer.end
    return min(link_end, len(pkt.buf))  # only link layers: past the last of them


def _llc_len(buf: bytes, off: int) -> int:
    """An 802.3 frame (its type field a length, under 0x0600): tcpdump counts the 802.2
    LLC header (3 bytes, 4 with a numbered control field, 8 with SNAP) as link layer."""
    if off < 2 or int.from_bytes(buf[off - 2 : off], "big") >= 0x0600 or len(buf) < off + 3:
        return 0
    dsap, ssap, control = buf[off], buf[off + 1], buf[off + 2]
    if dsap == ssap == 0xAA and control == 0x03:
        return 8  # SNAP: OUI and protocol id follow
    return 3 if control & 0x03 == 0x03 else 4


def _graph(byte: int) -> str:
    return chr(byte) if 0x21 <= byte <= 0x7E else "."  # ND_ASCII_ISGRAPH: no space


def hex_ascii_lines(buf: bytes) -> list[str]:
    """tcpdump -X: "\\t0xOOOO:  hhhh hhhh …  ascii", 16 bytes a line."""
    lines = []
    for start in range(0, len(buf), BYTES_PER_LINE):
        chunk = buf[start : start + BYTES_PER_LINE]
        hexes = "".join(
            f" {chunk[i]:02x}{chunk[i + 1]:02x}" if i + 1 < len(chunk) else f" {chunk[i]:02x}"
            for i in range(0, len(chunk), 2)
        )
        text = "".join(_graph(b) for b in chunk)
        lines.append(f"\t0x{start:04x}: {hexes:<40}  {text}")
    return lines


def ascii_text(buf: bytes) -> str:
    """tcpdump -A: printable bytes, tabs, spaces and newlines as they are; a CR before
    a LF dropped (the end of a CRLF line); anything else as '.'. As tcpdump 4.99, a CR
    among the last two bytes is dropped too (its test is "more than one byte left")."""
    out = []
    last = len(buf) - 1
    for i, byte in enumerate(buf):
        if byte == 0x0D:
            if last - i > 1 and buf[i + 1] != 0x0A:
                out.append(".")
        elif 0x21 <= byte <= 0x7E or byte in (0x09, 0x20, 0x0A):
            out.append(chr(byte))
        else:
            out.append(".")
    return "".join(out)


def payload_view(pkt: Any, mode: str) -> str:
    """What follows a packet's line: mode "A" (tcpdump -A) or "X" (tcpdump -X)."""
    buf = bytes(pkt.buf[network_offset(pkt) :])
    if mode == "A":
        return ascii_text(buf) + "\n"
    return "".join(line + "\n" for line in hex_ascii_lines(buf))
