"""tshark's scripting outputs: `-T fields|json|ek` with `-e FIELD` and `-E OPTION=VALUE`,
and the time column's formats (`-t`).

Values are written as tshark writes them in those outputs (not as the tree shows
them): hexadecimal fields as 0x with the type's width (tcp.flags 0x0002), booleans
1/0, bytes as plain hex, times as seconds with nine decimals, strings with C escapes
for what is not printable, several occurrences joined by the aggregator.
"""

from __future__ import annotations

import json
import time as _time
from typing import Any

from netlab.dissect import fields as F
from netlab.dissect.model import Packet

_HEX_WIDTH = {"FT_UINT8": 2, "FT_UINT16": 4, "FT_UINT24": 6, "FT_UINT32": 8, "FT_UINT40": 10,
              "FT_UINT48": 12, "FT_UINT56": 14, "FT_UINT64": 16}  # fmt: skip
_TIMES = ("frame.time_relative", "frame.time_delta", "frame.time_delta_displayed",
          "frame.time_epoch")  # fmt: skip
# 64-bit fields with a value string (BASE_VAL64_STRING | BASE_HEX) that tshark 4.0's
# -T fields prints in decimal whatever their base says.
_DECIMAL64 = frozenset({"quic.frame_type"})
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\", "\a": "\\a", "\b": "\\b",
            "\f": "\\f", "\v": "\\v"}  # fmt: skip
SEPARATORS = {"/t": "\t", "/s": " "}
QUOTES = {"d": '"', "s": "'", "n": ""}


def seconds_text(ns: int, digits: int = 9) -> str:
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    frac = f"{ns % 1_000_000_000:09d}"[:digits]
    return f"{sign}{ns // 1_000_000_000}.{frac}" if digits else f"{sign}{ns // 1_000_000_000}"


def value_text(name: str, value: Any) -> str:
    """One occurrence of NAME as tshark -T fields prints it."""
    ftype, base = F.field_types().get(F.ALIASES.get(name, (name,))[0], ("", ""))
    if ftype == "FT_NONE":
        return "1"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        if (base in ("BASE_HEX", "BASE_HEX_DEC") and ftype in _HEX_WIDTH and value >= 0
                and name not in _DECIMAL64):  # fmt: skip
            return f"0x{value:0{_HEX_WIDTH[ftype]}x}"
        if base == "BASE_OCT":
            return f"0{value:o}"
        return str(value)
    if isinstance(value, float):
        if ftype in ("FT_DOUBLE", "FT_FLOAT"):
            return format(value, ".15g")  # tshark 4.0: "%.15g" (AMF's 1, not 1.0)
        return f"{value:.9f}" if ftype == "FT_RELATIVE_TIME" else repr(value)
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex() or "<MISSING>"  # (tshark's words for zero bytes)
    return "".join(_escape(c) for c in str(value))


def _escape(c: str) -> str:
    if c in _ESCAPES:
        return _ESCAPES[c]
    if c < " " or c == "\x7f":
        return f"\\x{ord(c):02x}"
    return c


def field_texts(name: str, pkt: Packet, pf: F.PacketFields, times: tuple[str, int] = ("r", 6)
                ) -> list[str]:  # fmt: skip
    """Every occurrence of NAME in the packet, as text. TIMES: the -t format and the
    decimals of the time column (_ws.col.Time)."""
    if name in F.COLUMNS:
        return [column_text(name, pkt, pf.clock, times)]
    if name in _TIMES:
        first, prev, shown = pf.clock.cur
        base = {"frame.time_relative": first, "frame.time_delta": prev,
                "frame.time_delta_displayed": shown, "frame.time_epoch": 0}[name]  # fmt: skip
        return [seconds_text(pkt.ts_ns - base)]
    if F.is_protocol(name) and "." not in name:
        return [name] if pf.present(name) else []
    return [value_text(name, v) for v in pf.get(name)]


def column_text(name: str, pkt: Packet, clock: F.FrameClock, times: tuple[str, int]) -> str:
    """A column of the one-line view as tshark's -e _ws.col.NAME prints it."""
    column = name[len("_ws.col.") :]
    if column == "No.":
        return str(pkt.no)
    if column == "Time":
        return time_text(times[0], pkt, clock, times[1])
    if column == "Length":
        return str(pkt.wirelen)
    if column == "Info":
        text = pkt.info_column()
    else:
        text = {"Source": pkt.src, "Destination": pkt.dst, "Protocol": protocol_column(pkt)}[column]
    return "".join(_escape(c) for c in text)


def protocol_column(pkt: Packet) -> str:
    return pkt.protocol or "Frame"


class FieldsFormat:
    """-T fields with -e NAME… and -E options: one line per packet."""

    def __init__(self, names: list[str], options: dict[str, str]) -> None:
        self.names = names
        self.header = options.get("header", "n") == "y"
        self.separator = _char(options.get("separator", "/t"))
        self.quote = QUOTES[options.get("quote", "n")]
        self.occurrence = options.get("occurrence", "a")
        self.aggregator = _char(options.get("aggregator", ","))
        self.times = ("r", 6)  # -t and the file's decimals, for _ws.col.Time (set by the view)

    def start(self) -> str:
        return self.separator.join(self.names) + "\n" if self.header else ""

    def line(self, pkt: Packet, pf: F.PacketFields) -> str:
        cells = []
        for name in self.names:
            text = self.aggregator.join(self._pick(field_texts(name, pkt, pf, self.times)))
            cells.append(f"{self.quote}{text}{self.quote}" if text else "")
        return self.separator.join(cells) + "\n"

    def _pick(self, texts: list[str]) -> list[str]:
        """-E occurrence: a (all), f (first), l (last)."""
        if self.occurrence == "f":
            return texts[:1]
        if self.occurrence == "l":
            return texts[-1:]
        return texts

    def end(self, shown: int) -> str:
        return ""


def _char(value: str) -> str:
    return SEPARATORS.get(value, value)


def _index(pkt: Packet) -> str:
    return "packets-" + _time.strftime("%Y-%m-%d", _time.localtime(pkt.ts_ns // 1_000_000_000))


class JsonFormat:
    """-T json with -e: tshark's array of {"_index", "_type", "_score", "_source":
    {"layers": {name: [values]}}}, indented by two spaces."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.started = False
        self.times = ("r", 6)

    def start(self) -> str:
        return "["

    def line(self, pkt: Packet, pf: F.PacketFields) -> str:
        layers = {}
        for name in self.names:
            texts = field_texts(name, pkt, pf, self.times)
            if texts:
                layers[name] = texts
        record = {"_index": _index(pkt), "_type": "doc", "_score": None,
                  "_source": {"layers": layers}}  # fmt: skip
        text = json.dumps(record, indent=2, ensure_ascii=False)
        indented = "\n".join("  " + line for line in text.splitlines())
        lead = ",\n" if self.started else "\n"
        self.started = True
        return lead + indented

    def end(self, shown: int) -> str:
        return "\n]\n" if shown else "]\n"


class EkFormat:
    """-T ek with -e: an index line, then one compact object per packet ("." → "_")."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.times = ("r", 6)

    def start(self) -> str:
        return ""

    def line(self, pkt: Packet, pf: F.PacketFields) -> str:
        layers = {}
        for name in self.names:
            texts = field_texts(name, pkt, pf, self.times)
            if texts:
                layers[name.replace(".", "_")] = texts
        index = json.dumps({"index": {"_index": _index(pkt), "_type": "doc"}},
                           separators=(",", ":"))  # fmt: skip
        ms = str(pkt.ts_ns // 1_000_000)
        body = json.dumps({"timestamp": ms, "layers": layers}, separators=(",", ":"),
                          ensure_ascii=False)  # fmt: skip
        return f"{index}\n{body}\n"

    def end(self, shown: int) -> str:
        return ""


# --- -t: the time column -----------------------------------------------------------------

TIME_FORMATS = ("a", "ad", "adoy", "d", "dd", "e", "r", "u", "ud")


def time_text(fmt: str, pkt: Packet, clock: F.FrameClock, digits: int) -> str:
    """The time column of the one-line view in tshark's -t FMT, to DIGITS decimals
    (the file's time stamp resolution: 6 for microseconds, 9 for nanoseconds)."""
    first, prev, shown = clock.cur
    ts = pkt.ts_ns
    if fmt in ("r", "d", "dd"):
        base = {"r": first, "d": prev, "dd": shown}[fmt]
        return seconds_text(ts - base, digits)
    if fmt == "e":
        return seconds_text(ts, digits)
    secs = ts // 1_000_000_000
    frac = f"{ts % 1_000_000_000:09d}"[:digits]
    tm = _time.gmtime(secs) if fmt in ("u", "ud") else _time.localtime(secs)
    clock_text = _time.strftime("%H:%M:%S", tm) + (f".{frac}" if digits else "")
    if fmt in ("a", "u"):
        return clock_text
    if fmt == "adoy":
        return f"{tm.tm_year}/{tm.tm_yday:03d} {clock_text}"
    return _time.strftime("%Y-%m-%d ", tm) + clock_text
