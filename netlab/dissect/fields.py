"""Field values for display filters and `-T fields -e`, as Wireshark has them.

Three things a packet's rows (model.py) do not hold, made here only when a filter
or an `-e` asks for them, so the one-line view never pays for them:
- the frame fields that depend on other packets (`frame.time_delta`,
  `frame.time_relative`, `frame.time_delta_displayed`): a `FrameClock` follows the
  packets in order;
- a protocol's bytes (`tcp contains "hello"`, `frame[0:2]`): from the layer's first
  byte to the end of what it carries, as Wireshark's protocol items hold their tvb;
- `tcp.payload` and `udp.payload`, the segment's or datagram's own payload bytes.

Every name netlab knows, with Wireshark's type and display base, is listed in
`field_types.txt` (generated and checked by tests/test_field_names.py), so an
unknown name is an error instead of a filter that silently matches nothing.
"""

from __future__ import annotations

import functools
import ipaddress
from importlib import resources
from typing import Any

from netlab.dissect.model import Packet

ALIASES = {
    "ip.addr": ("ip.src", "ip.dst"),
    "ip.host": ("ip.src", "ip.dst"),
    "ipv6.addr": ("ipv6.src", "ipv6.dst"),
    "ipv6.host": ("ipv6.src", "ipv6.dst"),
    "eth.addr": ("eth.src", "eth.dst"),
    "tcp.port": ("tcp.srcport", "tcp.dstport"),
    "udp.port": ("udp.srcport", "udp.dstport"),
}
# Fields made here rather than by a protocol's rows (the generator adds them too).
FRAME_FIELDS = (
    "frame.number", "frame.len", "frame.cap_len", "frame.time_epoch", "frame.time_relative",
    "frame.time_delta", "frame.time_delta_displayed", "frame.interface_id",
    "frame.protocols", "frame.comment", "frame.marked",
)  # fmt: skip
PAYLOADS = ("tcp.payload", "udp.payload")
# tshark 4.0's column fields: the one-line view's columns, for -e only (a display filter
# refuses them, as tshark's does). render/tshark_fields.py fills them.
COLUMNS = ("_ws.col.No.", "_ws.col.Time", "_ws.col.Source", "_ws.col.Destination",
           "_ws.col.Protocol", "_ws.col.Length", "_ws.col.Info")  # fmt: skip
DERIVED = FRAME_FIELDS + PAYLOADS + tuple(ALIASES)
BYTE_TYPES = {"FT_BYTES", "FT_ETHER", "FT_PROTOCOL", "FT_UINT_BYTES", "FT_IPv4", "FT_IPv6"}
INT_TYPES = {f"FT_{s}INT{n}" for s in ("U", "") for n in (8, 16, 24, 32, 40, 48, 56, 64)}
INT_TYPES |= {"FT_FRAMENUM", "FT_CHAR"}


@functools.cache
def field_types() -> dict[str, tuple[str, str]]:
    """{name: (FT_ type, BASE_ display)} of every field and protocol netlab knows."""
    text = resources.files("netlab.dissect").joinpath("field_types.txt").read_text()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, ftype, base = [*line.split("\t"), "", ""][:3]
            out[name] = (ftype, base)
    return out


def known(name: str) -> bool:
    return name in field_types()


def ftype(name: str) -> str:
    if name in ALIASES:
        name = ALIASES[name][0]
    return field_types().get(name, ("", ""))[0]


def is_protocol(name: str) -> bool:
    return ftype(name) == "FT_PROTOCOL"


class FrameClock:
    """The times a frame's fields are relative to: the first frame, the previous
    captured one and the previous displayed one (tshark's one-pass meaning: a frame
    is displayed when it passed the filter)."""

    __slots__ = ("cur", "first_ns", "pcapng", "prev_ns", "shown_ns")

    def __init__(self) -> None:
        self.pcapng = True  # False: a pcap file, whose frames have no frame.interface_id
        self.first_ns: int | None = None
        self.prev_ns: int | None = None
        self.shown_ns: int | None = None
        self.cur: tuple[int, int, int] = (0, 0, 0)  # (first, previous, previous shown)

    def see(self, pkt: Packet) -> None:
        """PKT is the next frame of the file (call for every frame, in order)."""
        ts = pkt.ts_ns
        if self.first_ns is None:
            self.first_ns = ts
        prev = ts if self.prev_ns is None else self.prev_ns
        shown = ts if self.shown_ns is None else self.shown_ns
        self.cur = (self.first_ns, prev, shown)
        self.prev_ns = ts

    def shown(self, pkt: Packet) -> None:
        self.shown_ns = pkt.ts_ns


def frame_value(name: str, pkt: Packet, clock: FrameClock) -> list[Any]:
    first, prev, shown = clock.cur
    ts = pkt.ts_ns
    if name == "frame.number":
        return [pkt.no]
    if name == "frame.len":
        return [pkt.wirelen]
    if name == "frame.cap_len":
        return [pkt.caplen]
    if name == "frame.time_epoch":
        return [ts / 1e9]
    if name == "frame.time_relative":
        return [(ts - first) / 1e9]
    if name == "frame.time_delta":
        return [(ts - prev) / 1e9]
    if name == "frame.time_delta_displayed":
        return [(ts - shown) / 1e9]
    if name == "frame.interface_id":
        return [pkt.interface] if clock.pcapng else []
    if name == "frame.protocols":
        return [pkt.protocols]
    if name == "frame.comment":
        return [] if pkt.comment is None else [pkt.comment]
    if name == "frame.marked":
        return [False]
    return []


def protocol_bytes(pkt: Packet, proto: str) -> list[bytes]:
    """Each occurrence of PROTO as Wireshark's protocol item holds it: its bytes from
    its first to the end of what it carries (the last layer decoded from the same
    buffer); the frame and the link layer cover the whole frame."""
    if proto == "frame":
        return [pkt.buf]
    out = []
    layers = pkt.layers
    for i, layer in enumerate(layers):
        if layer.proto != proto or _name_only(layer):
            continue
        buf = pkt.buf if layer.data is None else layer.data
        if i == 0:
            out.append(buf[layer.off :])
            continue
        end = layer.end
        for later in layers[i + 1 :]:
            if later.data is layer.data:
                end = max(end, later.end)
        out.append(buf[layer.off : end])
    return out


def _name_only(layer: Any) -> bool:
    """A layer only frame.protocols names (tshark's "http" before "http2"): no item in
    the tree, so no protocol a filter finds."""
    return layer.title == "" and layer.fields_fn is None


def payload(pkt: Packet, name: str, fields: dict[str, list[Any]]) -> list[bytes]:
    """tcp.payload / udp.payload: the bytes after the header, up to the length the
    header (tcp.len) or the datagram (udp.length) gives, as far as captured."""
    proto = name.split(".")[0]
    lengths = fields.get("tcp.len" if proto == "tcp" else "udp.length", [])
    out = []
    n = 0
    for layer in pkt.layers:
        if layer.proto != proto or layer.data is not None:
            continue
        if n >= len(lengths):
            break
        size = lengths[n] if proto == "tcp" else lengths[n] - (layer.end - layer.off)
        n += 1
        if isinstance(size, int) and size > 0:
            data = pkt.buf[layer.end : layer.end + size]
            if data:
                out.append(data)
    return out


def as_bytes(value: Any, kind: str) -> bytes | None:
    """A value as the bytes Wireshark slices and searches: addresses packed, MACs and
    byte fields raw, strings in UTF-8; None for what has no bytes (numbers)."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        if kind == "FT_ETHER" or kind == "FT_BYTES":
            try:
                return bytes.fromhex(value.replace(":", "").replace("-", ""))
            except ValueError:
                return value.encode()
        if kind in ("FT_IPv4", "FT_IPv6"):
            try:
                return ipaddress.ip_address(value).packed
            except ValueError:
                return None
        return value.encode()
    return None


# A layer's rows hold fields named after its own protocol (`tcp.srcport` in the tcp
# layer), except these, which nest other protocols' fields as Wireshark's trees do (a
# certificate's x509 fields inside tls). So `-e ip.src` or `-Y 'tcp.port == 80'` need
# the rows of the layers that can hold them, not of all. tests/test_fast_views.py holds
# every capture in pcaps/ and the corpus to this table.
FOREIGN_FIELDS = {
    "tls": ("x509af", "x509ce", "x509if", "x509sat", "ber", "pkcs1"),
    "bittorrent": ("bencode",),
    "rtmpt": ("amf",),
}


@functools.cache
def field_owners(prefix: str) -> frozenset[str]:
    """The layer protocols whose rows may hold fields named PREFIX.*"""
    return frozenset({prefix, *(p for p, nested in FOREIGN_FIELDS.items() if prefix in nested)})


def _gather(rows: list, fields: dict[str, list[Any]]) -> None:
    """Add the rows' values to FIELDS by name, one list entry per occurrence."""
    for _depth, name, value, _show, _off, _len in rows:
        if name:
            if name in fields:
                fields[name].append(value)
            else:
                fields[name] = [value]


class PacketFields:
    """One packet's fields by name, each a list of values (one per occurrence), made
    on first use: the rows of the layers that may hold the name (`field_owners`), the
    frame fields, protocol bytes."""

    __slots__ = ("_by_prefix", "_rows", "clock", "pkt")

    def __init__(self, pkt: Packet, clock: FrameClock) -> None:
        self.pkt = pkt
        self.clock = clock
        self._rows: dict[str, list[Any]] | None = None
        self._by_prefix: dict[str, dict[str, list[Any]]] = {}

    def rows(self) -> dict[str, list[Any]]:
        fields = self._rows
        if fields is None:
            fields = self._rows = {}
            for _layer, rows in self.pkt.rows():
                _gather(rows, fields)
            if self.pkt.malformed is not None:
                fields.setdefault("_ws.malformed", []).append(self.pkt.malformed)
        return fields

    def get(self, name: str) -> list[Any]:
        if name in ALIASES:
            out: list[Any] = []
            for part in ALIASES[name]:
                out += self.get(part)
            return out
        if name.startswith("frame."):
            return frame_value(name, self.pkt, self.clock)
        if name in PAYLOADS:
            return payload(self.pkt, name, self.rows())
        if self._rows is not None or name[0] == "_":  # (`_ws.malformed`: see rows())
            return self.rows().get(name, [])
        return self._owned_rows(name.partition(".")[0]).get(name, [])

    def _owned_rows(self, prefix: str) -> dict[str, list[Any]]:
        """The fields of the layers that may hold PREFIX.* names, in packet order."""
        fields = self._by_prefix.get(prefix)
        if fields is None:
            fields = self._by_prefix[prefix] = {}
            owners = field_owners(prefix)
            buf = self.pkt.buf
            for layer in self.pkt.layers:
                if layer.proto.partition(".")[0] in owners:  # (ipv6.hopopts holds ipv6.*)
                    _gather(layer.rows(buf), fields)
        return fields

    def protocol(self, name: str) -> list[bytes]:
        return protocol_bytes(self.pkt, name)

    def present(self, name: str) -> bool:
        if name == "frame":
            return True
        if is_protocol(name) and "." not in name:
            return any(layer.proto == name and not _name_only(layer) for layer in self.pkt.layers)
        return bool(self.get(name))
