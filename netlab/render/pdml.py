"""`dissect -T pdml`: tshark's PDML (Packet Details Markup Language), built from the
same decoded tree as -V; and `-T json` without -e, the same tree as tshark's JSON
(`JsonTreeFormat`, each value PDML's `show`).

    <pdml version="0" creator="netlab/…" time="…" capture_file="…">
    <packet>
      <proto name="geninfo" …>  (num, len, caplen, timestamp)
      <proto name="frame" showname="Frame 1: …" size="74" pos="0">  (the frame.* fields)
      <proto name="ip" showname="Internet Protocol Version 4, …" size="20" pos="14">
        <field name="ip.ttl" showname="Time to Live: 64" size="1" pos="22" show="64"
               value="40"/>
        <field name="ip.flags" … show="0x02" value="2" unmaskedvalue="40">  (children
          nested by the rows' depth)

As tshark writes them: `show` is the value as -T fields prints it, `value` the field's
bytes in hex (a bit field's: its value in hex, with the bytes as `unmaskedvalue`),
`size` and `pos` the bytes in the data the layer was decoded from (the frame, or a
reassembled PDU), a hidden field marked hide="yes", a text item of the tree a field
with `show` only. Known differences from tshark (tests/test_pdml.py holds the rest to
tshark's PDML): a hidden field has no `showname` (netlab keeps no text for it); the
frame proto carries the frame fields netlab knows (no frame.encap_type,
frame.offset_shift, frame.ignored); expert items (`_ws.expert`) are not written;
protocols are siblings under <packet> (tshark nests, e.g., the datagram an ICMP error
quotes inside the icmp proto).
"""

from __future__ import annotations

import functools
import json
import re
import time as _time
from importlib import resources
from typing import Any

from netlab.dissect import fields as F
from netlab.dissect.model import Packet, show_text
from netlab.render.tshark_fields import seconds_text, value_text

_XML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"})
# Characters XML 1.0 cannot hold (all controls but tab, newline, carriage return)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WHITESPACE = str.maketrans({"\n": " ", "\r": None, "\t": " "})
# The frame fields of tshark's frame proto that netlab fills, with tshark's texts.
_FRAME_FIELDS = (
    ("frame.time_epoch", "Epoch Time: {} seconds"),
    ("frame.time_delta", "Time delta from previous captured frame: {} seconds"),
    ("frame.time_delta_displayed", "Time delta from previous displayed frame: {} seconds"),
    ("frame.time_relative", "Time since reference or first frame: {} seconds"),
    ("frame.number", "Frame Number: {}"),
    ("frame.len", None),
    ("frame.cap_len", None),
    ("frame.marked", "Frame is marked: {}"),
    ("frame.protocols", "Protocols in frame: {}"),
)


def attr(text: Any) -> str:
    """TEXT as an XML attribute value (tshark's escapes; controls as \\xHH)."""
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))
    return text.translate(_XML)


def _utc(ns: int) -> str:
    """tshark's absolute time text: 'Nov 21, 2026 05:40:35.327136000 UTC'."""
    tm = _time.gmtime(ns // 1_000_000_000)
    clock = _time.strftime("%H:%M:%S", tm)
    month = _time.strftime("%b", tm)
    return f"{month} {tm.tm_mday:2d}, {tm.tm_year} {clock}.{ns % 1_000_000_000:09d} UTC"


@functools.cache
def masks() -> dict[str, int]:
    """{name: bit mask} of the fields Wireshark registers with one (field_types.txt's
    fourth column)."""
    text = resources.files("netlab.dissect").joinpath("field_types.txt").read_text()
    out = {}
    for line in text.splitlines():
        cols = line.split("\t")
        if len(cols) > 3 and cols[3]:
            out[cols[0]] = int(cols[3], 16)
    return out


def show_value(name: str, value: Any) -> str:
    """The `show` attribute: the value as tshark's PDML writes it (-T fields' text,
    but bytes joined by colons, a text field's line ends as spaces, doubles as %g,
    nothing for a field that is only a label)."""
    ftype = F.field_types().get(name, ("", ""))[0]
    if ftype in ("FT_NONE", "FT_PROTOCOL"):
        return ""
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex(":")
    if isinstance(value, float) and ftype != "FT_RELATIVE_TIME":
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    if isinstance(value, str) and ftype in ("FT_STRING", "FT_STRINGZ", "FT_UINT_STRING", ""):
        value = value.replace("\r\n", " ").translate(_WHITESPACE)
    return value_text(name, value)


class PdmlFormat:
    """-T pdml: the header, one <packet> per shown packet, the closing tag."""

    def __init__(self, capture_file: str, version: str) -> None:
        self.capture_file = capture_file
        self.version = version

    def start(self) -> str:
        when = _time.strftime("%a %b %e %H:%M:%S %Y", _time.localtime())
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            '<?xml-stylesheet type="text/xsl" href="pdml2html.xsl"?>\n'
            f'<pdml version="0" creator="netlab/{attr(self.version)}" time="{attr(when)}" '
            f'capture_file="{attr(self.capture_file)}">\n'
        )

    def line(self, pkt: Packet, pf: F.PacketFields) -> str:
        out = ["<packet>"]
        _geninfo(out, pkt)
        _frame(out, pkt, pf)
        for layer in pkt.layers:
            heading = layer.heading()
            rows = layer.rows(pkt.buf)
            if not heading and not rows:
                continue  # a layer only frame.protocols names, or a call mark
            buf = pkt.buf if layer.data is None else layer.data
            size = max(layer.end - layer.off, 0)
            out.append(f'  <proto name="{attr(layer.proto)}" showname="{attr(heading)}" '
                       f'size="{size}" pos="{max(layer.off, 0)}">')  # fmt: skip
            _fields(out, rows, buf)
            out.append("  </proto>")
        out.append("</packet>\n")
        return "\n".join(out) + "\n"

    def end(self, shown: int) -> str:
        return "</pdml>\n"


def _geninfo(out: list[str], pkt: Packet) -> None:
    n = pkt.caplen
    out.append(f'  <proto name="geninfo" pos="0" showname="General information" size="{n}">')
    items = (("num", pkt.no, "Number", str(pkt.no)),
             ("len", pkt.wirelen, "Frame Length", f"{pkt.wirelen:x}"),
             ("caplen", pkt.caplen, "Captured Length", f"{pkt.caplen:x}"),
             ("timestamp", _utc(pkt.ts_ns), "Captured Time", seconds_text(pkt.ts_ns)))  # fmt: skip
    items = (("num", pkt.no, "Number", f"{pkt.no:x}"), *items[1:])
    for name, show, showname, value in items:
        out.append(f'    <field name="{name}" pos="0" show="{attr(show)}" '
                   f'showname="{showname}" value="{value}" size="{n}"/>')  # fmt: skip
    out.append("  </proto>")


def _frame(out: list[str], pkt: Packet, pf: F.PacketFields) -> None:
    bits = pkt.wirelen * 8
    heading = (f"Frame {pkt.no}: {pkt.wirelen} bytes on wire ({bits} bits), "
               f"{pkt.caplen} bytes captured ({pkt.caplen * 8} bits)")  # fmt: skip
    out.append(f'  <proto name="frame" showname="{attr(heading)}" size="{pkt.caplen}" pos="0">')
    if pkt.comment:
        out.append(f'    <field name="frame.comment" showname="Comment: {attr(pkt.comment)}" '
                   f'size="0" pos="0" show="{attr(pkt.comment)}"/>')  # fmt: skip
    out.append(f'    <field name="frame.time" showname="Arrival Time: {_utc(pkt.ts_ns)}" '
               f'size="0" pos="0" show="{_utc(pkt.ts_ns)}"/>')  # fmt: skip
    for name, text in _FRAME_FIELDS:
        values = pf.get(name)
        if not values:
            continue
        show = _frame_show(name, pkt, pf, values[0])
        if text is None:  # frame.len / frame.cap_len
            label = "Frame Length" if name == "frame.len" else "Capture Length"
            showname = f"{label}: {show} bytes ({int(show) * 8} bits)"
        else:
            shown = {"0": "False", "1": "True"}.get(show, show) if name == "frame.marked" else show
            showname = text.format(shown)
        out.append(f'    <field name="{name}" showname="{attr(showname)}" size="0" pos="0" '
                   f'show="{attr(show)}"/>')  # fmt: skip
    out.append("  </proto>")


def _frame_show(name: str, pkt: Packet, pf: F.PacketFields, value: Any) -> str:
    from netlab.render.tshark_fields import field_texts

    if name.startswith("frame.time"):
        return field_texts(name, pkt, pf)[0]
    return value_text(name, value)


def _fields(out: list[str], rows: list, buf: bytes) -> None:
    """The rows as nested <field> elements: a row deeper than the one before it is
    that one's child."""
    items = [(depth, _field(name, value, show, off, length, buf))
             for depth, name, value, show, off, length in rows
             if not name.startswith("_ws.expert")]  # fmt: skip
    open_depths: list[int] = []  # depths of the fields still open
    for i, (depth, element) in enumerate(items):
        while open_depths and open_depths[-1] >= depth:
            open_depths.pop()
            out.append("    " + "  " * len(open_depths) + "</field>")
        indent = "    " + "  " * len(open_depths)
        if i + 1 < len(items) and items[i + 1][0] > depth:
            out.append(indent + element + ">")
            open_depths.append(depth)
        else:
            out.append(indent + element + "/>")
    while open_depths:
        open_depths.pop()
        out.append("    " + "  " * len(open_depths) + "</field>")


def _field(name: str, value: Any, show: Any, off: int, length: int, buf: bytes) -> str:
    parts = []
    if name:
        parts.append(f'name="{attr(name)}"')
    text = None if show is None else show_text(show)
    if name and text is not None:
        parts.append(f'showname="{attr(text)}"')
    if show is None:
        parts.append('hide="yes"')
    pos = max(off, 0)
    size = length if off >= 0 else 0
    parts.append(f'size="{size}" pos="{pos}"')
    if not name:  # a text item of the tree
        parts.append(f'show="{attr(text or "")}"')
        return "<field " + " ".join(parts)
    shown = show_value(name, value)
    parts.append(f'show="{attr(shown)}"')
    raw = buf[off : off + size].hex() if size > 0 else ""
    if not shown and F.field_types().get(name, ("", ""))[0] == "FT_NONE":
        parts.append('value=""')  # (tshark writes a label's value empty)
    elif name in masks() and isinstance(value, int) and raw:
        parts.append(f'value="{int(value):X}" unmaskedvalue="{raw}"')
    elif raw:
        parts.append(f'value="{raw}"')
    return "<field " + " ".join(parts)


# --- -T json without -e: the same tree as tshark's JSON ------------------------------------


class JsonTreeFormat:
    """-T json without -e: tshark's array of {"_index", "_type", "_score", "_source":
    {"layers": {proto: {field: show, field_tree: {children}, …}}}}, each value the
    PDML `show` text. As tshark does by default, a name that occurs twice in one object
    is written twice (duplicate keys); a text item of the tree is keyed by its text."""

    def __init__(self) -> None:
        self.started = False

    def start(self) -> str:
        return "["

    def line(self, pkt: Packet, pf: F.PacketFields) -> str:
        from netlab.render.tshark_fields import _index

        layers: list[tuple[str, Any]] = [("frame", _frame_items(pkt, pf))]
        for layer in pkt.layers:
            heading = layer.heading()
            rows = layer.rows(pkt.buf)
            if not heading and not rows:
                continue
            layers.append((layer.proto, _tree_items(rows)))
        record = [("_index", _index(pkt)), ("_type", "doc"), ("_score", None),
                  ("_source", [("layers", layers)])]  # fmt: skip
        lead = ",\n" if self.started else "\n"
        self.started = True
        return lead + "  " + _dump(record, 1)

    def end(self, shown: int) -> str:
        return "\n]\n" if shown else "]\n"


def _frame_items(pkt: Packet, pf: F.PacketFields) -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    if pkt.comment:
        items.append(("frame.comment", pkt.comment))
    items.append(("frame.time", _utc(pkt.ts_ns)))
    for name, _text in _FRAME_FIELDS:
        values = pf.get(name)
        if values:
            items.append((name, _frame_show(name, pkt, pf, values[0])))
    return items


def _tree_items(rows: list) -> list[tuple[str, Any]]:
    """The rows as (key, value) pairs: a field's show text, then NAME_tree with its
    children (the rows deeper than it that follow)."""
    rows = [r for r in rows if not r[1].startswith("_ws.expert")]
    top: list[tuple[str, Any]] = []
    stack: list[tuple[int, list]] = [(-1, top)]  # (depth, the object children go into)
    for i, (depth, name, value, show, _off, _len) in enumerate(rows):
        while stack[-1][0] >= depth:
            stack.pop()
        into = stack[-1][1]
        text = "" if show is None else show_text(show)
        key = name or text
        into.append((key, json_value(name, value) if name else ""))
        if i + 1 < len(rows) and rows[i + 1][0] > depth:
            children: list[tuple[str, Any]] = []
            if name:
                into.append((f"{name}_tree", children))
            else:  # a text item: its children are its value
                into[-1] = (key, children)
            stack.append((depth, children))
    return top


def json_value(name: str, value: Any) -> str:
    """A field's value in tshark's JSON: PDML's show, but a text field as it is (line
    ends and control characters kept; JSON escapes them)."""
    if isinstance(value, str) and F.field_types().get(name, ("", ""))[0] in _TEXT_TYPES:
        return value
    return show_value(name, value)


_TEXT_TYPES = ("FT_STRING", "FT_STRINGZ", "FT_UINT_STRING", "FT_STRINGZPAD", "")


def _dump(items: Any, level: int) -> str:
    """A value as tshark's JSON writes it: two spaces per level, pairs in order (a
    list of pairs is an object; keys may repeat)."""
    if not isinstance(items, list):
        return json.dumps(items, ensure_ascii=False)
    if not items:
        return "{}"
    pad = "  " * (level + 1)
    inner = ",\n".join(f"{pad}{json.dumps(k, ensure_ascii=False)}: {_dump(v, level + 1)}"
                       for k, v in items)  # fmt: skip
    return "{\n" + inner + "\n" + "  " * level + "}"
