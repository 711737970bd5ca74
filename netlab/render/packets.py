"""Views of dissected packets: one line each, the full tree, hex + ASCII, NDJSON.

These views write plain strings straight to the stream: the one-line view runs
for every packet of million-packet files, and going through rich's layout
engine per line would cost more than the decoding itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from json.encoder import encode_basestring as _jstr  # json.dumps(str) without ASCII escapes
from typing import IO, Any

from netlab.dissect.model import (
    DATA_SOURCES,
    JSON_WRITERS,
    TREE_WRITERS,
    Packet,
    address_text,
    merge_rows,
    remember,
    show_text,
)
from netlab.outio import write_all, write_texts
from netlab.render.jsonout import dumps


def rel_seconds(pkt: Packet, first_ns: int) -> float:
    return (pkt.ts_ns - first_ns) / 1e9


# Column text per raw address: a capture repeats a few addresses millions of times.
# The one-line view keeps the padded "src → dst" text per pair of addresses (one
# lookup a line); NDJSON's summary keeps each address unpadded.
_PAIR_TEXT: dict[tuple[bytes, bytes], str] = {}
_SRC_PLAIN: dict[bytes, str] = {}  # the same, unpadded (NDJSON's summary)
_DST_PLAIN: dict[bytes, str] = {}
_CACHE_LIMIT = 1 << 16
_JSON_WRITERS_GET = JSON_WRITERS.get


def _cached(cache: dict[bytes, str], raw: bytes, width: int, left: bool) -> str:
    text = cache.get(raw)
    if text is None:
        if len(cache) >= _CACHE_LIMIT:  # bounded: a scan of many addresses stays flat
            cache.clear()
        plain = address_text(raw)
        text = cache[raw] = plain.ljust(width) if left else plain.rjust(width)
    return text


def summary_line(pkt: Packet, first_ns: int) -> str:
    return line_text(pkt.no, pkt.ts_ns - first_ns, pkt.src_raw, pkt.dst_raw,
                     pkt.protocol or "Frame", pkt.wirelen, pkt.info_column())  # fmt: skip


def line_text(
    no: int, rel_ns: int, src_raw: bytes, dst_raw: bytes, protocol: str, wirelen: int, info: str
) -> str:
    """One line of the summary view (tshark's columns)."""
    us = rel_ns // 1000
    pair = _PAIR_TEXT.get((src_raw, dst_raw))
    if pair is None:
        pair = _pair_text(src_raw, dst_raw)
    # %-formatting: a third cheaper than an f-string with format specs, on every line.
    return "%5d %4d.%06d %s %s %d %s" % (  # noqa: UP031
        no, us // 1_000_000, us % 1_000_000, pair, protocol, wirelen, info,
    )  # fmt: skip


def _pair_text(src_raw: bytes, dst_raw: bytes) -> str:
    """The padded "src → dst" columns, cached (bounded: a scan of many addresses
    stays flat)."""
    if len(_PAIR_TEXT) >= _CACHE_LIMIT:
        _PAIR_TEXT.clear()
    text = f"{address_text(src_raw):>15} → {address_text(dst_raw):<15}"
    _PAIR_TEXT[src_raw, dst_raw] = text
    return text


def frame_fields(pkt: Packet) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "frame.number": pkt.no,
        "frame.time_epoch": pkt.ts_ns / 1e9,
        "frame.len": pkt.wirelen,
        "frame.cap_len": pkt.caplen,
        "frame.interface_id": pkt.interface,
        "frame.protocols": pkt.protocols,
    }
    if pkt.comment is not None:
        fields["frame.comment"] = pkt.comment
    return fields


def json_record(pkt: Packet) -> dict[str, Any]:
    """The packet as a dict, built from the rows (the generic path of `json_line`)."""
    fields = frame_fields(pkt)
    fields.update(pkt.field_dict())
    return {
        "type": "packet",  # docs/json.md: every NDJSON line has a type
        "no": pkt.no,
        "time": pkt.ts_ns / 1e9,
        "caplen": pkt.caplen,
        "len": pkt.wirelen,
        "protocols": pkt.protocols,
        "summary": f"{pkt.src} → {pkt.dst} {pkt.protocol} {pkt.fenced_info()}".strip(),
        "fields": fields,
        "malformed": pkt.malformed,
    }


def json_line(pkt: Packet, fast: bool = True) -> str:
    """The packet's NDJSON line: `json_record` written as text, layer by layer, with
    the protocols' JSON writers where they apply (same content, key order included)."""
    members = _field_members(pkt) if fast else None
    if members is None:
        return dumps(json_record(pkt), compact=True)
    no, caplen, wirelen = pkt.no, pkt.caplen, pkt.wirelen
    protocols = _jstr(pkt.protocols)
    time = repr(pkt.ts_ns / 1e9)
    comment = "" if pkt.comment is None else f',"frame.comment":{_jstr(pkt.comment)}'
    src = _cached(_SRC_PLAIN, pkt.src_raw, 0, True)
    dst = _cached(_DST_PLAIN, pkt.dst_raw, 0, True)
    summary = _jstr(f"{src} → {dst} {pkt.protocol} {pkt.fenced_info()}".strip())
    malformed = "null" if pkt.malformed is None else _jstr(pkt.malformed)
    return (
        f'{{"type":"packet","no":{no},"time":{time},"caplen":{caplen},"len":{wirelen},'
        f'"protocols":{protocols},"summary":{summary},"fields":{{"frame.number":{no},'
        f'"frame.time_epoch":{time},"frame.len":{wirelen},"frame.cap_len":{caplen},'
        f'"frame.interface_id":{pkt.interface},"frame.protocols":{protocols}{comment}'
        f'{"," if members else ""}{members}}},"malformed":{malformed}}}'
    )


def _field_members(pkt: Packet) -> str | None:
    """Every layer's fields as JSON members, or None when only the generic path can
    merge them (a protocol twice in one packet, e.g. the IP header an ICMP error quotes,
    makes lists of values)."""
    parts = []
    protos = []
    generic: set[str] | None = None
    frame = pkt.buf
    for layer in pkt.layers:
        proto = layer.proto
        if proto in protos:
            return None
        protos.append(proto)
        writer = _JSON_WRITERS_GET(layer.fields_fn)
        if writer is not None:
            try:
                text = writer(layer, frame if layer.data is None else layer.data)
            except Exception:  # the generic path below says what is wrong
                text = None
            if text is not None:
                if text:
                    parts.append(text)
                continue
        fields = merge_rows(layer.rows(frame), {})
        if not fields:
            continue
        if generic is None:
            generic = set()
        elif not generic.isdisjoint(fields):
            return None
        generic.update(fields)
        parts.append(dumps(fields, compact=True)[1:-1])
    return ",".join(parts)


def tree_lines(pkt: Packet, fast: bool = True, protocols: set[str] | None = None) -> list[str]:
    """The -V view: a frame section, then each layer's heading and fields (through the
    protocol's tree writer where it applies, else from the rows). PROTOCOLS (tshark -O):
    only those layers are expanded; the others show their heading alone."""
    if protocols is not None:
        return _tree_of(pkt, protocols)
    lines = [_frame_section(pkt)]
    for layer in pkt.layers:
        text = None
        if fast and layer.malformed is None:
            writer = TREE_WRITERS.get(layer.fields_fn)  # type: ignore[arg-type]
            if writer is not None:
                try:
                    text = writer(layer, pkt.buf if layer.data is None else layer.data)
                except Exception:  # the generic path below says what is wrong
                    text = None
        if text is None:
            _layer_tree(lines, layer, pkt.buf)
        else:
            lines.append(text)
    if pkt.malformed and not any(layer.malformed for layer in pkt.layers):
        lines.append(f"[Malformed Packet: {pkt.malformed}]")
    return lines


def _frame_section(pkt: Packet) -> str:
    """The tree's frame section, as one text (the lines are joined by newlines anyway).
    The sizes' words are made once per (wire length, captured length, interface): a
    capture has a few hundred of them."""
    sizes = (pkt.wirelen, pkt.caplen, pkt.interface)
    words = _FRAME_SIZES.get(sizes) or _frame_sizes(*sizes)
    comment = f"\n    Comment: {pkt.comment}" if pkt.comment else ""
    seconds, nanoseconds = divmod(pkt.ts_ns, 1_000_000_000)
    # %-formatting of a plain tuple: cheaper than an f-string's format spec as Python,
    # and compiled into one join (a starred divmod left it to PyUnicode_Format)
    return "Frame %d: %s%s\n    Epoch Time: %d.%09d seconds\n    [Protocols in frame: %s]" % (  # noqa: UP031
        pkt.no, words, comment, seconds, nanoseconds, pkt.protocols,
    )  # fmt: skip


_FRAME_SIZES: dict[tuple[int, int, int], str] = {}


def _frame_sizes(wirelen: int, caplen: int, interface: int) -> str:
    return remember(_FRAME_SIZES, (wirelen, caplen, interface), (
        f"{wirelen} bytes on wire ({wirelen * 8} bits), "
        f"{caplen} bytes captured ({caplen * 8} bits) on interface {interface}"
    ))  # fmt: skip


def _tree_of(pkt: Packet, protocols: set[str]) -> list[str]:
    """tshark -O: every layer's heading, the fields of the named protocols only."""
    frame = _frame_section(pkt)
    lines = [frame if "frame" in protocols else frame.split("\n", 1)[0]]
    for layer in pkt.layers:
        heading = layer.heading()
        if layer.proto in protocols:
            _layer_tree(lines, layer, pkt.buf)
        elif heading:
            lines.append(heading)
    return lines


_INDENTS = ["    " * (depth + 1) for depth in range(16)]  # a row's indent by its depth


def _layer_tree(lines: list[str], layer: Any, buf: bytes) -> None:
    heading = layer.heading()
    rows = layer.rows(buf)
    if not heading and not rows and not layer.malformed:
        return  # a layer only frame.protocols names (tshark's "http" before "http2")
    lines.append(heading)
    for depth, _name, _value, show, _off, _len in rows:
        if show is not None:  # None: a hidden field (filters and JSON only)
            indent = _INDENTS[depth] if 0 <= depth < 16 else "    " * (depth + 1)
            lines.append(indent + (show if type(show) is str else show_text(show)))
    if layer.malformed:
        lines.append(f"    [Malformed: {layer.malformed}]")


def hex_lines(buf: bytes) -> list[str]:
    """tshark -x layout: offset, 16 bytes in hex (two groups of 8), ASCII."""
    lines = []
    digits = 4 if len(buf) <= 0x10000 else len(f"{len(buf) - 1:x}")  # as tshark widens them
    for start in range(0, len(buf), 16):
        chunk = buf[start : start + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk[:8])
        if len(chunk) > 8:
            hexes += "  " + " ".join(f"{b:02x}" for b in chunk[8:])
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{start:0{digits}x}  {hexes:<49}  {text}")
    return lines


def packet_hex_lines(pkt: Packet) -> list[str]:
    """The -x view of a packet: the frame's bytes, then any bytes its layers made of
    them (reassembled, de-chunked, decompressed), each titled as tshark titles them."""
    sources: list[tuple[str, bytes]] = []
    for layer in pkt.layers:
        fn = DATA_SOURCES.get(layer.fields_fn)  # type: ignore[arg-type]
        if fn is not None:
            try:
                found = fn(layer, pkt.buf if layer.data is None else layer.data)
            except Exception:  # a damaged layer shows the frame's bytes alone
                continue
            # a buffer several layers share (one reassembled segment) is shown once
            sources += [s for s in found if not any(s[1] is seen for _t, seen in sources)]
    if not sources:
        return hex_lines(pkt.buf)
    lines = [f"Frame ({len(pkt.buf)} bytes):", *hex_lines(pkt.buf)]
    for title, data in sources:
        lines.append(f"{title} ({len(data)} bytes):")
        lines += hex_lines(data)
    return lines


class PacketView:
    """The one loop body every packet-showing command uses (`dissect`, `sniff`, `-v`).

    Feed it packets in order; it prints them in the chosen view and passes them to
    taps (statistics, stream following) that report at the end. A display filter
    decides which packets are shown and tapped, as tshark's -Y does.
    """

    def __init__(
        self,
        out: IO[str],
        *,
        tree: bool = False,
        hexdump: bool = False,
        json: bool = False,
        count: int | None = None,
        only: int | None = None,
        display_filter: Any = None,
        taps: list[Any] | None = None,
        quiet: bool = False,
        live: bool = False,
        fields_format: Any = None,
        time_format: str | None = None,
        time_digits: int = 6,
        tabs: bool = False,
        tree_protocols: set[str] | None = None,
    ) -> None:
        self.out = out
        self.tree = tree or (only is not None and not json)
        self.hexdump = hexdump
        self.json = json
        self.count = count
        self.only = only
        self.filter = display_filter  # has .matches(pkt) -> bool
        self.taps = taps or []
        self.quiet = quiet  # taps only (e.g. --stats without packet lines), like tshark -q
        self.first_ns: int | None = None
        self.shown = 0
        self.seen = 0
        # The plain one-line view of a whole file is the hot case: it takes a short path
        # that gathers lines and writes them in batches. Live capture (`live`) shows
        # every packet the moment it arrives, also through a pipe.
        self.live = live
        # tshark's scripting views (-T fields|json|ek with -e, -t, -T tabs, -O): see
        # render/tshark_fields.py. Their frame times come from a clock that sees every
        # packet; the one-line view without them never makes one.
        self.fields_format = fields_format
        self.time_format = time_format
        self.time_digits = time_digits
        self.tabs = tabs
        self.tree_protocols = tree_protocols
        if tree_protocols is not None:
            self.tree = True
        scripted = fields_format is not None or time_format is not None or tabs
        self.clock = None
        if scripted:
            from netlab.dissect.fields import FrameClock

            self.clock = FrameClock()
        self._plain = not (tree or hexdump or json or only or display_filter or taps or quiet
                           or scripted or tree_protocols is not None)  # fmt: skip
        # -T fields -e ip.src -e tcp.port … of plain frames: the values off the bytes
        # (dissect/quick_fields.py), as the one-line view reads its columns.
        self.quick_fields = None
        if fields_format is not None and not (
                tree or hexdump or json or only or display_filter or taps or quiet or time_format
                or tabs or tree_protocols is not None):  # fmt: skip
            from netlab.dissect.quick_fields import quick_fields
            from netlab.render.tshark_fields import FieldsFormat

            if isinstance(fields_format, FieldsFormat):  # (-T json and ek build objects)
                self.quick_fields = quick_fields(fields_format.names)
        self._batch = 1 if live else 512
        self._lines: list[str] = []

    @property
    def shows_info(self) -> bool:
        """Whether anything this view does reads the Info column: all but the -V tree
        alone (no filter, statistics, fields, JSON or time column: _ws.col.info)."""
        return not self.tree or bool(
            self.json or self.filter is not None or self.taps or self.clock is not None
            or self.fields_format is not None
        )  # fmt: skip

    def feed_frames(self, dissector: Any, numbered: Iterable[tuple[int, Any]]) -> bool:
        """Dissect and show each (number, frame) as `feed` does; False once the count or
        --packet is satisfied (stop reading). The plain one-line view of a plain frame
        skips the Packet (Dissector.columns reads its columns off the bytes) and its
        line's work is done here, inline: this loop runs for nearly every packet of a
        million-packet file, and a method call per packet was a tenth of the time."""
        quick_fields = self.quick_fields
        fast = (self._plain or quick_fields is not None) and dissector.quick
        columns, dissect, feed = dissector.columns, dissector.dissect, self.feed
        lines, batch, count, live = self._lines, self._batch, self.count, self.live
        first_ns = self.first_ns  # (a copy of self.first_ns, which feed() may also set)
        # Lines shown here and not yet counted in self.seen and self.shown (both: every
        # frame this loop shows was seen), and how many more the count allows: plain
        # integers, not two attributes written per packet.
        added, left = 0, -1 if count is None else max(1, count - self.shown)
        try:
            for no, frame in numbered:
                ts_ns, _caplen, wirelen, linktype, data, interface, comment = frame
                cols = columns(no, data, linktype, ts_ns) if fast else None
                if cols is None:
                    self.seen += added
                    self.shown += added
                    added = 0
                    if not feed(dissect(no, ts_ns, data, wirelen, linktype, interface, comment)):
                        return False
                    first_ns = self.first_ns
                    if count is not None:
                        left = max(1, count - self.shown)
                    continue
                if first_ns is None:
                    first_ns = self.first_ns = ts_ns
                if quick_fields is not None:  # (no frame.* field: the clock is never read)
                    lines.append(self._quick_line(quick_fields.on(data)))
                else:
                    src, dst, protocol, info = cols
                    lines.append(line_text(no, ts_ns - first_ns, src, dst, protocol, wirelen, info))
                if len(lines) >= batch:
                    self._flush_lines()
                if live:
                    self.out.flush()
                added += 1
                if added == left:
                    return False
        finally:
            self.seen += added
            self.shown += added
        return True

    def feed(self, pkt: Packet) -> bool:
        """Show one packet; False once the count or --packet is satisfied (stop reading)."""
        if self._plain:
            if self.first_ns is None:
                self.first_ns = pkt.ts_ns
            return self._plain_line(summary_line(pkt, self.first_ns))
        self.seen += 1
        if self.first_ns is None:
            self.first_ns = pkt.ts_ns
        clock = self.clock
        if clock is not None:
            if clock.first_ns is None:  # (-2 -R: times count from the file's first frame)
                clock.first_ns = self.first_ns
            clock.see(pkt)
        if self.only is not None and pkt.no != self.only:
            if self.filter is not None:  # (its frame.time_delta counts from this one)
                self.filter.see(pkt)
            return pkt.no < self.only
        if self.filter is not None and not self.filter.matches(pkt):
            return True
        for tap in self.taps:
            tap.add(pkt)
        if not self.quiet:
            self._print(pkt)
            if self.live:
                self.out.flush()
        if clock is not None:
            clock.shown(pkt)
        self.shown += 1
        if self.only is not None:
            return False
        return self.count is None or self.shown < self.count

    def _print(self, pkt: Packet) -> None:
        # Every view's text goes through the batched writer: one write() per packet
        # costs a system call each when stdout is unbuffered (PYTHONUNBUFFERED, -u).
        if self.fields_format is not None:
            from netlab.dissect.fields import PacketFields

            if not self._started:
                self._started = True
                # -t and the file's decimals are known now: _ws.col.Time (not in -T pdml)
                if hasattr(self.fields_format, "times"):
                    self.fields_format.times = (self.time_format or "r", self.time_digits)
                self.out.write(self.fields_format.start())
            # (a raw chunk: the formats place their own newlines and commas)
            self._add_line(self.fields_format.line(pkt, PacketFields(pkt, self.clock)))
            return
        if self.json:
            self._add_line(json_line(pkt))
            return
        parts = []
        if self.tree:
            parts += tree_lines(pkt, protocols=self.tree_protocols)
        elif self.clock is not None:
            parts.append(self._scripted_line(pkt))
        else:
            parts.append(summary_line(pkt, self.first_ns or pkt.ts_ns))
        if self.hexdump:
            parts += packet_hex_lines(pkt)
        if self.tree or self.hexdump:
            parts.append("")
        self._add_line("\n".join(parts))

    _started = False  # the fields format's start was written

    def _quick_line(self, fields: Any) -> str:
        if not self._started:
            self._started = True
            self.out.write(self.fields_format.start())
        return self.fields_format.line(None, fields)

    def _scripted_line(self, pkt: Packet) -> str:
        """The one-line view with -t FORMAT's time column, or tab-separated (-T tabs)."""
        from netlab.render.tshark_fields import protocol_column, time_text

        clock = self.clock
        assert clock is not None
        when = time_text(self.time_format or "r", pkt, clock, self.time_digits)
        proto, info = protocol_column(pkt), pkt.info_column()
        if self.tabs:
            # tshark's print_columns: at least 5, 10 and 12 wide (number, time, addresses)
            return "\t".join((f"{pkt.no:5d}", f"{when:>10}", f"{pkt.src:>12}", "→",
                              f"{pkt.dst:<12}", proto, str(pkt.wirelen), info))  # fmt: skip
        pair = _PAIR_TEXT.get((pkt.src_raw, pkt.dst_raw)) or _pair_text(pkt.src_raw, pkt.dst_raw)
        return f"{pkt.no:5d} {when:>11} {pair} {proto} {pkt.wirelen} {info}"

    def _plain_line(self, text: str) -> bool:
        """The plain view's short path: one line, counted; False once -c is reached."""
        self._add_line(text)
        if self.live:
            self.out.flush()
        self.seen += 1
        self.shown += 1
        return self.count is None or self.shown < self.count

    def _add_line(self, text: str) -> None:
        lines = self._lines
        lines.append(text)
        if len(lines) >= self._batch:
            self._flush_lines()

    def flush(self) -> None:
        """Write the lines gathered so far (the parallel dissect's chunk ends)."""
        self._flush_lines()

    def _flush_lines(self) -> None:
        if self._lines:
            if self.fields_format is not None:  # raw chunks, newlines their own
                write_all(self.out, "".join(self._lines))
            elif self.tree or self.hexdump:  # (big texts: see write_texts)
                write_texts(self.out, self._lines, "\n")
            else:
                self._lines.append("")
                write_all(self.out, "\n".join(self._lines))
            self._lines.clear()

    def finish(self) -> None:
        self._flush_lines()
        if self.fields_format is not None and not self.quiet:
            if not self._started:
                self.out.write(self.fields_format.start())
            self.out.write(self.fields_format.end(self.shown))
        for tap in self.taps:
            tap.report(self.out)
        self.out.flush()
