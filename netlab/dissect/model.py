"""What the dissector produces: a Packet made of Layers, whose fields are built lazily.

Decoding happens in two speeds:
- the fast path (every packet): each decoder unpacks its header once, keeps the
  tuple in `Layer.hdr`, and sets what the one-line summary needs (columns, info);
- the full path (only for -V, --json, -Y): `Layer.rows()` calls the protocol's
  `fields` function, which turns `hdr` into rows named as in Wireshark.
This is why the summary view can be fast: no field objects are made for it.

A row is a plain tuple `(depth, name, value, show, offset, length)`:
- depth: 0 for a layer's own fields, 1+ for sub-fields (flag bits, options);
- name: the Wireshark display-filter name (`ip.ttl`, `tcp.flags.syn`);
- value: int, str, bool, bytes or float: what filters compare and JSON prints;
- show: the text of the tree view ("Time to Live: 64"), or (function, args) that
  makes it on demand (`show_text`), so JSON and filters skip the formatting; None
  for a hidden field (Wireshark's hidden items: in filters and JSON, not in the tree);
- offset, length: the bytes in the frame (for -x highlighting), or -1/0.
A row named "" is a text item of the tree (Wireshark's "Extension: server_name (len=14)"
headings): shown by -V, never a field of JSON or filters.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

Row = tuple[int, str, Any, str, int, int]
_PROTOCOLS: dict[tuple, str] = {}  # layer names -> frame.protocols text
_inet_ntoa = socket.inet_ntoa
_inet_ntop = socket.inet_ntop
_AF_INET6 = socket.AF_INET6
FieldsFn = Callable[["Layer", bytes], list[Row]]

# Fast writers for the two heavy views, keyed by a layer's fields function. The rows
# stay the one definition of a protocol's fields (filters, statistics, tests read
# them); a writer is that same content written straight as text for the common case,
# because making ~30 row tuples per packet and then formatting them costs more than
# the decoding. A writer returns None for anything unusual (options, damage …) and the
# generic path is used; tests/test_fast_views.py holds every writer to the generic
# output on every sample and corpus packet.
# - JSON_WRITERS[fn](layer, buf): the layer's fields as JSON object members, without
#   braces ('"ip.version":4,"ip.hdr_len":20,…'); only names of the layer's own protocol.
# - TREE_WRITERS[fn](layer, buf): the layer's tree lines (heading first), joined by "\n".

JSON_WRITERS: dict[FieldsFn, Callable[[Layer, bytes], str | None]] = {}
# More bytes a layer shows after the frame's in the hex view (tshark -x: "Reassembled
# TCP", "De-chunked entity body", "Decompressed Header" …), keyed by the layer's fields
# function: fn(layer, buf) -> [(title, bytes), …]. Registered with registry.register.
DATA_SOURCES: dict[FieldsFn, Callable[[Layer, bytes], list[tuple[str, bytes]]]] = {}
# Protocols whose further PDUs in one TCP segment Wireshark decodes without naming the
# protocol again in frame.protocols (tcp_dissect_pdus calls the PDU function directly;
# HTTP loops over its messages itself): "tcp:dns", "tcp:http:http2", not "dns:dns".
# Their modules add themselves; what a PDU carries (a body's media layer) still counts.
ONE_PER_SEGMENT: set[str] = set()
# Protocols whose Layer.data is a buffer of their own making, not TCP's reassembly (RTMP's
# "Unchunked RTMP" message): statistics do not count it as Wireshark's "[Reassembled TCP
# Segments]" (phs's "tcp.segments"). Their modules add themselves.
OWN_BUFFERS: set[str] = set()
# A zero-width layer with this "protocol" (no title, no fields) starts a new call of the
# dissectors after it: TLS hands each record's decrypted bytes to HTTP anew, and tshark
# names each call ("tls:http2:http2"); frame.protocols skips the mark itself.
CALL_MARK = "-"
TREE_WRITERS: dict[FieldsFn, Callable[[Layer, bytes], str | None]] = {}


class Layer:
    """One protocol's part of a packet."""

    __slots__ = ("data", "end", "extra", "fields_fn", "hdr", "malformed", "off", "proto", "title")

    def __init__(
        self, proto: str, title: str | Callable[[Layer], str], off: int, end: int, hdr: Any,
        fields_fn: FieldsFn | None,
    ) -> None:  # fmt: skip
        self.proto = proto  # Wireshark protocol filter name: "eth", "ip", "tcp" …
        # Tree header ("Internet Protocol Version 4, Src: …"): a string, or a function of
        # the layer so that the fast path never formats it.
        self.title = title
        self.off = off
        self.end = end
        self.hdr = hdr  # the decoder's unpacked header, reused by fields_fn
        self.fields_fn = fields_fn
        self.malformed: str | None = None
        self.extra: Any = None  # decoder-specific values computed on the fast path
        # The bytes off/end index into: None = the frame itself; a bytes object for a
        # PDU reassembled from several TCP segments.
        self.data: bytes | None = None

    def heading(self) -> str:
        title = self.title
        if callable(title):
            try:
                return title(self)
            except Exception:
                return self.proto
        return title

    def rows(self, buf: bytes) -> list[Row]:
        if self.fields_fn is None:
            return []
        try:
            return self.fields_fn(self, buf if self.data is None else self.data)
        except Exception as err:  # a field builder must never take the packet down
            self.malformed = f"{self.proto}: cannot build fields ({type(err).__name__}: {err})"
            return []


class Packet:
    """One frame and its decoded layers."""

    __slots__ = (
        "buf",
        "caplen",
        "comment",
        "dst_raw",
        "fence",
        "fragmented",
        "info",
        "interface",
        "layers",
        "linktype",
        "malformed",
        "no",
        "protocol",
        "quoted",
        "src_raw",
        "ts_ns",
        "wirelen",
    )

    def __init__(
        self, no: int, ts_ns: int, buf: bytes, wirelen: int, linktype: int,
        interface: int = 0, comment: str | None = None,
    ) -> None:  # fmt: skip
        self.no = no
        self.ts_ns = ts_ns
        self.buf = buf
        self.caplen = len(buf)
        self.wirelen = wirelen
        self.linktype = linktype
        self.interface = interface
        self.comment = comment
        self.layers: list[Layer] = []
        # Source/destination columns as raw address bytes (4: IPv4, 16: IPv6, 6: MAC),
        # set by decoders (the deepest one wins) and turned into text only when shown.
        self.src_raw = b""
        self.dst_raw = b""
        self.protocol = ""
        self.info = ""
        # What stays in front of the Info column whoever writes it after (Wireshark's
        # col_prepend_fence): TCP's analysis marks, "[TCP Previous segment not captured] ",
        # before an application's info. `info_column` puts it there.
        self.fence = ""
        self.malformed: str | None = None
        # >0 while decoding the datagram quoted inside an ICMP error: columns and TCP
        # stream state then belong to the outer packet and must not change.
        self.quoted = 0
        # Set by IP when this frame holds the first fragment of a datagram it cannot
        # reassemble: TCP then skips sequence analysis, as Wireshark does.
        self.fragmented = False

    def fenced_info(self) -> str:
        """The info after the fence (TCP's own info starts with it already)."""
        info, fence = self.info, self.fence
        return fence + info if fence and not info.startswith(fence) else info

    def info_column(self) -> str:
        """The Info column: the fenced info, and tshark's mark on a malformed packet."""
        info = self.fenced_info()
        if self.malformed is None or "[Malformed" in info:
            return info
        return info + " [Malformed Packet]" if info else "[Malformed Packet]"

    @property
    def src(self) -> str:
        return address_text(self.src_raw)

    @property
    def dst(self) -> str:
        return address_text(self.dst_raw)

    @property
    def protocols(self) -> str:
        """Wireshark's frame.protocols, e.g. "eth:ethertype:ip:tcp"."""
        key = tuple([layer.proto for layer in self.layers])
        text = _PROTOCOLS.get(key)
        if text is None:  # a few dozen layer stacks in any capture: each joined once
            names: list[str] = []
            scope = 0  # where the current call of a dissector began (see CALL_MARK)
            for proto in key:
                if proto == CALL_MARK:
                    scope = len(names)
                    continue
                if proto in ONE_PER_SEGMENT and proto in names[scope:]:
                    continue
                names.append(proto)
                if proto in ("eth", "vlan", "sll"):
                    names.append("ethertype")
            if len(_PROTOCOLS) >= 1024:
                _PROTOCOLS.clear()
            text = _PROTOCOLS[key] = ":".join(names)
        return text

    def mark_malformed(self, layer: Layer | None, what: str) -> None:
        """Record the first malformed spot; decoding of this packet stops there."""
        if layer is not None and layer.malformed is None:
            layer.malformed = what
        if self.malformed is None:
            self.malformed = what

    def rows(self) -> Iterator[tuple[Layer, list[Row]]]:
        for layer in self.layers:
            yield layer, layer.rows(self.buf)

    def field_dict(self) -> dict[str, Any]:
        """Every field by Wireshark name; a name seen more than once holds a list."""
        out: dict[str, Any] = {}
        for _layer, rows in self.rows():
            merge_rows(rows, out)
        return out

    def layer(self, proto: str) -> Layer | None:
        for layer in self.layers:
            if layer.proto == proto:
                return layer
        return None


def merge_rows(rows: list[Row], out: dict[str, Any]) -> dict[str, Any]:
    """Add rows to a dict by field name; a name seen more than once becomes a list of
    its values, at the place of its first occurrence (the JSON view's shape)."""
    for _depth, name, value, _show, _off, _len in rows:
        if not name:  # a text item of the tree
            continue
        if name in out:
            prev = out[name]
            if isinstance(prev, list):
                prev.append(value)
            else:
                out[name] = [prev, value]
        else:
            out[name] = value
    return out


def address_text(raw: bytes) -> str:
    """Column text of an address: dotted IPv4, compressed IPv6, or a colon MAC."""
    n = len(raw)
    if n == 4:
        return _inet_ntoa(raw)
    if n == 16:
        return _inet_ntop(_AF_INET6, raw)
    return raw.hex(":")


def row(name: str, value: Any, show: str, off: int = -1, length: int = 0, depth: int = 0) -> Row:
    return (depth, name, value, show, off, length)


def expert_rows(depth: int, severity: str, group: str, text: str) -> list[Row]:
    """An expert item as tshark -V shows it under the item it is about: a heading, then
    the message, severity and group one level down."""
    return [
        (depth, "", "", f"[Expert Info ({severity}/{group}): {text}]", -1, 0),
        (depth + 1, "", "", f"[{text}]", -1, 0),
        (depth + 1, "", "", f"[Severity level: {severity}]", -1, 0),
        (depth + 1, "", "", f"[Group: {group}]", -1, 0),
    ]


def cut_rows(rows: list[Row], last: str | None = None, end: int | None = None) -> list[Row]:
    """The rows of a header as far as Wireshark gets before it stops adding fields:
    through the field named `last` (a bogus value there ends the header), and none from
    the first field that reaches past byte `end` (a header the capture cut short:
    Wireshark adds fields one by one until one does not fit)."""
    out = []
    for r in rows:
        if end is not None and r[4] >= 0 and r[4] + r[5] > end:
            break
        out.append(r)
        if r[1] == last:
            break
    return out


def checked_rows(
    layer: Layer, buf: bytes, header_rows: Callable[[Any, int, bytes], list[Row]]
) -> list[Row]:
    """The rows of a header that may be bogus or cut short, as far as Wireshark shows it.

    layer.extra is None for a sound header (all of `header_rows(layer.hdr, …)`), else
    (last field shown, end of the captured bytes or None[, the header zero-padded when
    fewer bytes than a header were captured: then layer.hdr is None]); see `cut_rows`."""
    extra = layer.extra
    if extra is None:
        return header_rows(layer.hdr, layer.off, buf)
    last, end, *padded = extra
    return cut_rows(header_rows(padded[0] if padded else layer.hdr, layer.off, buf), last, end)


def flag_rows(
    prefix: str, value: int, bits: list[tuple[str, int, str]], off: int, length: int, width: int
) -> list[Row]:
    """Sub-rows for the bits of a flags field, shown as Wireshark's bit diagrams.

    bits: (name suffix, mask, label). The show text ".... ..1. = Syn: Set" is built
    only by the tree view (a lazy show), since JSON and filters never need it.
    """
    return [
        (1, f"{prefix}.{suffix}", bool(value & mask), (_flag_show, (value, mask, width, label)),
         off, length)
        for suffix, mask, label in bits
    ]  # fmt: skip


def port_rows(proto: str, layer: Layer, buf: bytes) -> list[Row]:
    """A TCP or UDP header cut short: Wireshark shows the ports that are there, then stops."""
    o, end = layer.off, layer.end
    rows = []
    if end - o >= 2:
        sport = buf[o] << 8 | buf[o + 1]
        rows.append(row(f"{proto}.srcport", sport, f"Source Port: {sport}", o, 2))
    if end - o >= 4:
        dport = buf[o + 2] << 8 | buf[o + 3]
        rows.append(row(f"{proto}.dstport", dport, f"Destination Port: {dport}", o + 2, 2))
    return rows


def remember(cache: dict, key: Any, value: Any, limit: int = 4096) -> Any:
    """Store a computed text in one of the writers' caches and return it. Bounded: past
    `limit` entries the cache starts over, so a scan of many addresses stays flat."""
    if len(cache) >= limit:
        cache.clear()
    cache[key] = value
    return value


def show_text(show: Any) -> str:
    """The tree text of a row: a string, or (function, args) formatted on demand."""
    if type(show) is tuple:
        return show[0](*show[1])
    return show


def _flag_show(value: int, mask: int, width: int, label: str) -> str:
    state = "Set" if value & mask else "Not set"
    return f"{bit_diagram(value, mask, width)} = {label}: {state}"


def bit_diagram(value: int, mask: int, width: int) -> str:
    """Wireshark's picture of a bit field in a WIDTH-bit value: ".... ..1. = …"'s left side."""
    chars = []
    for bit in range(width - 1, -1, -1):
        if mask >> bit & 1:
            chars.append("1" if value >> bit & 1 else "0")
        else:
            chars.append(".")
        if bit % 4 == 0 and bit:
            chars.append(" ")
    return "".join(chars)
