"""Statistics taps for `netlab dissect --stats`, laid out like tshark 4.0's `-z` reports.

A tap has `add(pkt)`, called for every packet the view shows, and `report(out)`,
called once at the end. Each keeps only its totals: counters per protocol path,
per conversation, per endpoint or per interval, never the packets themselves.

| --stats          | tshark -z            | what it counts                                   |
|------------------|----------------------|--------------------------------------------------|
| phs              | io,phs               | frames and bytes per protocol, as a tree         |
| conv,KIND        | conv,KIND            | both directions of each eth/ip/ipv6/tcp/udp pair |
| endpoints,KIND   | endpoints,KIND       | tx/rx per address (and port)                     |
| io,SECONDS       | io,stat,SECONDS      | frames and bytes per interval (0: one interval)  |
| io,stat,S,COL,…  | io,stat,S,COL,…      | a column per filter or COUNT/SUM/…(FIELD)FILTER  |

More in expert.py (expert), stats_tree.py (dns,tree, http,tree) and follow.py
(follow,PROTO,…, also reached through -z). io,stat's columns: a column per filter,
each counting frames and bytes of the packets it matches in each interval ("" or no
filter: all), or COUNT/SUM/MIN/MAX/AVG(field)FILTER of an integer field, or
FRAMES/BYTES()FILTER; a filter may be written in double quotes (to hold commas).

Bytes are frame lengths (what was on the wire), as in Wireshark. The cheap named
headers (`Layer.hdr`: `.src`, `.sport` …; TCP's stream in `Layer.extra`) are read,
never the field rows, so a tap costs little per packet.
With --json each tap prints one NDJSON object: {"type": "stats", "stat": …, "rows": […]}.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from netlab.dissect.model import OWN_BUFFERS, Packet, address_text
from netlab.dissect.taps import write_json

Origin = Callable[[], "int | None"]  # the first frame's time (ns), for relative times
WIDE_RULE = "=" * 80
PHS_RULE = "=" * 67
# Layers after an ICMP header are what it carries (echo data, the quoted datagram):
# Wireshark draws them inside the ICMP tree, and its taps skip quoted headers.
ICMP = ("icmp", "icmpv6")
KINDS = ("eth", "ip", "ipv6", "tcp", "udp")
TITLES = {"eth": "Ethernet", "ip": "IPv4", "ipv6": "IPv6", "tcp": "TCP", "udp": "UDP"}


# --- spec parsing (the CLI turns ValueError into a usage error) -----------------------


def parse_stats_spec(
    spec: str, *, json: bool = False, origin: Origin | None = None,
    display_filter: str | None = None,
):  # fmt: skip
    """A tap for one --stats SPEC; also accepts tshark's spellings (io,phs, io,stat,N).

    display_filter is only shown (the view feeds the tap the matching packets), in the
    place where tshark shows a statistic's own filter (-z conv,ip,FILTER).
    """
    if spec.lower().startswith("follow,"):  # tshark's -z follow,PROTO,MODE,WHICH
        from netlab.dissect.follow import parse_follow_spec

        return parse_follow_spec(spec[7:], json=json)
    tap = _make_tap(spec, json, origin)
    tap.filter_text = display_filter
    return tap


def _make_tap(spec: str, json: bool, origin: Origin | None):
    parts = [p.strip() for p in spec.lower().split(",")]
    name, args = parts[0], parts[1:]
    if name == "io" and args[:1] == ["phs"]:
        name, args = "phs", args[1:]
    elif name == "io" and args[:1] == ["stat"]:
        args = args[1:]
    if name == "phs" and not args:
        return ProtocolHierarchy(json=json)
    if name in ("conv", "endpoints") and len(args) <= 1:
        kind = args[0] if args else "ip"
        if kind not in KINDS:
            raise ValueError(f"{name},{kind}: KIND is one of {', '.join(KINDS)}")
        cls = Conversations if name == "conv" else Endpoints
        return cls(kind, json=json, origin=origin)
    if name == "io" and len(args) <= 1:
        return IoStat(args[0] if args else "1", json=json, origin=origin)
    if name in ("dns", "http") and args == ["tree"]:
        from netlab.dissect.stats_tree import TREES

        return TREES[name](json=json, origin=origin)
    if name == "expert" or (name == "io" and len(args) >= 2):
        return _column_tap(spec, json=json, origin=origin)
    raise ValueError(
        f"{spec!r}: expected phs, conv[,KIND], endpoints[,KIND], io[,SECONDS], "
        f"io,stat,SECONDS,FILTER…, expert[,LEVEL], dns,tree or http,tree "
        f"(KIND: {'|'.join(KINDS)})"
    )


# --- reading addresses from the header tuples ------------------------------------------


# Several taps read the same packet in a row: the scan is done once for all of them.
_last_scan: list[Any] = [None, []]


def network_layers(pkt: Packet) -> list[tuple[str, Any, bytes, bytes]]:
    """(proto, layer, src, dst) for each eth/ip/ipv6/tcp/udp header the taps count.

    Transport layers carry the addresses of the IP header just before them. Headers
    quoted inside an ICMP error are left out, as Wireshark's taps leave them out.
    """
    if _last_scan[0] is not pkt:
        _last_scan[:] = [pkt, list(_scan(pkt))]
    return _last_scan[1]


def _scan(pkt: Packet) -> Iterator[tuple[str, Any, bytes, bytes]]:
    src = dst = b""
    for layer in pkt.layers:
        proto, hdr = layer.proto, layer.hdr
        if proto in ICMP:
            return
        if hdr is None:
            continue
        if proto in ("ip", "ipv6"):
            if hdr.version != (4 if proto == "ip" else 6):
                continue  # a bogus header: its addresses mean nothing
            src, dst = hdr.src, hdr.dst
        elif proto == "eth":
            yield proto, layer, hdr.src, hdr.dst
            continue
        elif proto not in ("tcp", "udp") or not src:
            continue
        yield proto, layer, src, dst


def transport_ports(proto: str, layer: Any) -> tuple[int, int, int] | None:
    """(stream index, source port, destination port), or None for a header without a stream."""
    hdr = layer.hdr
    if proto == "tcp":
        if layer.extra is None:
            return None  # truncated, bogus header length, or quoted
        return layer.extra.stream, hdr.sport, hdr.dport
    return (hdr.stream, hdr.sport, hdr.dport) if hdr.stream >= 0 else None


def format_size(size: int) -> str:
    """Wireshark's format_size(…, bytes, SI): "824 bytes", "304 kB" (truncated, not rounded)."""
    for power, prefix in ((4, "T"), (3, "G"), (2, "M"), (1, "k")):
        if size // 1000**power >= 10:
            return f"{size // 1000**power} {prefix}B"
    return f"{size} bytes"


def _write_lines(out: IO[str], lines: Iterable[str]) -> None:
    # tshark pads some columns with trailing blanks; plain output here never does.
    for line in lines:
        out.write(line.rstrip() + "\n")


def _report_table(out: IO[str], tap: Any, title: str, heads: list[str]) -> None:
    """A conversations or endpoints report: its rows as one NDJSON object, or tshark's
    table (rule, title, filter, column heads, a line per row, rule)."""
    if tap.json:
        write_json(out, tap, tap.rows())
        return
    filter_line = f"Filter:{tap.filter_text or '<No Filter>'}"
    _write_lines(out, [WIDE_RULE, f"{TITLES[tap.kind]} {title}", filter_line, *heads])
    _write_lines(out, map(tap._line, tap.iter_rows()))
    _write_lines(out, [WIDE_RULE])


class _Clock:
    """Times relative to the first frame (of the capture when the view tells, else of the tap)."""

    def __init__(self, origin: Origin | None) -> None:
        self.origin = origin
        self.first_ns: int | None = None
        self.last_ns: int | None = None

    def see(self, ts_ns: int) -> None:
        if self.first_ns is None:
            start = self.origin() if self.origin is not None else None
            self.first_ns = start if start is not None else ts_ns
        if self.last_ns is None or ts_ns > self.last_ns:
            self.last_ns = ts_ns

    def rel_ns(self, ts_ns: int) -> int:
        return ts_ns - (self.first_ns if self.first_ns is not None else ts_ns)


# --- protocol hierarchy ----------------------------------------------------------------


def phs_path(pkt: Packet) -> tuple[str, ...]:
    """The protocols Wireshark draws at the top of the packet tree, outermost first.

    What Wireshark nests inside another protocol's tree is left out: IPv6 extension
    headers (ipv6.hopopts …) and all that an ICMP message carries, except that the
    payload of a quoted UDP datagram is drawn at the top as "data" (Wireshark's quirk,
    kept so that the numbers match tshark's). Each PDU of a segment is an item of its
    own (three pipelined requests: http, http, http), and a layer that is no item of
    the tree (frame.protocols' "http" before "http2") is left out. A PDU reassembled
    from several TCP segments adds Wireshark's "[Reassembled TCP Segments]" item
    ("tcp.segments"; not a buffer a protocol made itself, model.OWN_BUFFERS), a malformed
    mark "_ws.malformed".
    """
    names: list[str] = []
    reassembled = False
    for i, layer in enumerate(pkt.layers):
        if layer.data is not None and layer.proto not in OWN_BUFFERS:
            reassembled = True
        if "." in layer.proto or layer.title == "":
            continue
        names.append(layer.proto)
        if layer.proto in ICMP:
            if _quoted_udp_has_payload(pkt, i):
                names.append("data")
            break
    if reassembled:
        names.append("tcp.segments")
    if pkt.malformed is not None:
        names.append("_ws.malformed")
    return tuple(names)


def _quoted_udp_has_payload(pkt: Packet, icmp_index: int) -> bool:
    quoted = [layer for layer in pkt.layers[icmp_index + 1 :] if layer.proto != "data"]
    if not quoted or quoted[-1].proto != "udp" or quoted[-1].hdr is None:
        return False
    udp = quoted[-1]
    return udp.hdr.length > 8 and udp.end < _outer_ip_end(pkt)


def _outer_ip_end(pkt: Packet) -> int:
    """Where the payload of the first IP header ends (an Ethernet trailer is not data)."""
    for layer in pkt.layers:
        if layer.proto in ("ip", "ipv6") and layer.hdr is not None:
            return min(pkt.caplen, layer.off + layer.hdr.datagram_len)
    return pkt.caplen


class ProtocolHierarchy:
    """tshark -z io,phs: frames and bytes per protocol path, drawn as a tree."""

    stat = "phs"
    filter_text: str | None = None

    def __init__(self, *, json: bool = False) -> None:
        self.json = json
        # Counted per whole path (few distinct ones); the tree is summed at the end.
        self.paths: dict[tuple[str, ...], list[int]] = {}

    def add(self, pkt: Packet) -> None:
        path = phs_path(pkt)
        counts = self.paths.get(path)
        if counts is None:
            counts = self.paths[path] = [0, 0]
        counts[0] += 1
        counts[1] += pkt.wirelen

    def tree(self) -> list[tuple[tuple[str, ...], int, int]]:
        """(path, frames, bytes) per node, children after their parent in first-seen order."""
        nodes: dict[tuple[str, ...], list[int]] = {}
        for path, (frames, size) in self.paths.items():
            for depth in range(1, len(path) + 1):
                node = nodes.setdefault(path[:depth], [0, 0])
                node[0] += frames
                node[1] += size
        ordered: list[tuple[str, ...]] = []
        self._walk((), nodes, ordered)
        return [(path, *nodes[path]) for path in ordered]

    def _walk(self, parent, nodes, ordered) -> None:
        for path in nodes:
            if len(path) == len(parent) + 1 and path[:-1] == parent:
                ordered.append(path)
                self._walk(path, nodes, ordered)

    def report(self, out: IO[str]) -> None:
        tree = self.tree()
        if self.json:
            rows = [{"protocol": p[-1], "path": ":".join(p), "depth": len(p) - 1,
                     "frames": f, "bytes": b} for p, f, b in tree]  # fmt: skip
            write_json(out, self, rows)
            return
        lines = [
            "",
            PHS_RULE,
            "Protocol Hierarchy Statistics",
            f"Filter: {self.filter_text or ''}",
            "",
        ]
        for path, frames, size in tree:
            name = "  " * (len(path) - 1) + path[-1]
            lines.append(f"{name:<40} frames:{frames} bytes:{size}")
        lines.append(PHS_RULE)
        _write_lines(out, lines)


# --- conversations and endpoints ---------------------------------------------------------


class _Conv:
    __slots__ = ("a", "a_port", "b", "b_port", "first_ns", "frames", "last_ns", "sizes")

    def __init__(self, a: bytes, a_port: int, b: bytes, b_port: int, ts_ns: int) -> None:
        self.a, self.a_port, self.b, self.b_port = a, a_port, b, b_port
        self.frames = [0, 0]  # [A → B, B → A]
        self.sizes = [0, 0]
        self.first_ns = self.last_ns = ts_ns


def _busiest_first(items: list, frames: Callable[[Any], int]) -> list:
    # tshark lists by total frames, largest first; ties keep first-seen order (stable sort).
    return sorted(items, key=lambda item: -frames(item))


class Conversations:
    """tshark -z conv,KIND: both directions of each address (and port) pair.

    A is the source of the conversation's first packet. TCP and UDP conversations are
    the dissector's tcp.stream / udp.stream, as in Wireshark 4.0 (a reused port after
    a close is a new conversation).
    """

    filter_text: str | None = None

    def __init__(self, kind: str, *, json: bool = False, origin: Origin | None = None) -> None:
        self.kind = kind
        self.stat = f"conv,{kind}"
        self.json = json
        self.clock = _Clock(origin)
        self.convs: dict[Any, _Conv] = {}

    def add(self, pkt: Packet) -> None:
        self.clock.see(pkt.ts_ns)
        for proto, layer, src, dst in network_layers(pkt):
            if proto != self.kind:
                continue
            if proto in ("tcp", "udp"):
                ports = transport_ports(proto, layer)
                if ports is None:
                    continue
                key, sport, dport = ports
            else:
                sport = dport = 0
                key = (src, dst) if src <= dst else (dst, src)
            self._count(key, src, sport, dst, dport, pkt)

    def _count(self, key, src: bytes, sport: int, dst: bytes, dport: int, pkt: Packet) -> None:
        conv = self.convs.get(key)
        if conv is None:
            conv = self.convs[key] = _Conv(src, sport, dst, dport, pkt.ts_ns)
        side = 0 if (src == conv.a and sport == conv.a_port) else 1
        conv.frames[side] += 1
        conv.sizes[side] += pkt.wirelen
        conv.last_ns = max(conv.last_ns, pkt.ts_ns)

    def rows(self) -> list[dict[str, Any]]:
        return list(self.iter_rows())

    def iter_rows(self) -> Iterator[dict[str, Any]]:
        # One row at a time: a capture with a million conversations prints in little memory.
        ports = self.kind in ("tcp", "udp")
        for conv in _busiest_first(list(self.convs.values()), lambda c: sum(c.frames)):
            row: dict[str, Any] = {"address_a": address_text(conv.a)}
            if ports:
                row["port_a"] = conv.a_port
            row["address_b"] = address_text(conv.b)
            if ports:
                row["port_b"] = conv.b_port
            row.update(
                packets=sum(conv.frames), bytes=sum(conv.sizes),
                packets_a_b=conv.frames[0], bytes_a_b=conv.sizes[0],
                packets_b_a=conv.frames[1], bytes_b_a=conv.sizes[1],
                rel_start=self.clock.rel_ns(conv.first_ns) / 1e9,
                duration=(conv.last_ns - conv.first_ns) / 1e9,
            )  # fmt: skip
            yield row

    def report(self, out: IO[str]) -> None:
        pad = " " * (59 if self.kind in ("tcp", "udp") else 47)
        _report_table(out, self, "Conversations", [
            f"{pad}|       <-      | |       ->      | |     Total     |    Relative    |   Duration   |",
            f"{pad}| Frames  Bytes | | Frames  Bytes | | Frames  Bytes |      Start     |              |",
        ])  # fmt: skip

    def _line(self, row: dict[str, Any]) -> str:
        a, b, width = row["address_a"], row["address_b"], 20
        if self.kind in ("tcp", "udp"):
            a, b, width = f"{a}:{row['port_a']}", f"{b}:{row['port_b']}", 26
        return (
            f"{a:<{width}} <-> {b:<{width}}"
            f"  {row['packets_b_a']:>6} {format_size(row['bytes_b_a']):<9}"
            f"  {row['packets_a_b']:>6} {format_size(row['bytes_a_b']):<9}"
            f"  {row['packets']:>6} {format_size(row['bytes']):<9}"
            f"  {row['rel_start']:>14.9f}   {row['duration']:>12.4f}"
        )


class Endpoints:
    """tshark -z endpoints,KIND: packets and bytes sent (tx) and received (rx) per endpoint."""

    filter_text: str | None = None

    def __init__(self, kind: str, *, json: bool = False, origin: Origin | None = None) -> None:
        self.kind = kind
        self.stat = f"endpoints,{kind}"
        self.json = json
        # (address, port) → [tx packets, tx bytes, rx packets, rx bytes]
        self.table: dict[tuple[bytes, int], list[int]] = {}

    def add(self, pkt: Packet) -> None:
        for proto, layer, src, dst in network_layers(pkt):
            if proto != self.kind:
                continue
            sport = dport = 0
            if proto in ("tcp", "udp"):
                ports = transport_ports(proto, layer)
                if ports is None:
                    continue
                _stream, sport, dport = ports
            self._count((src, sport), 0, pkt.wirelen)
            self._count((dst, dport), 2, pkt.wirelen)

    def _count(self, key: tuple[bytes, int], col: int, size: int) -> None:
        counts = self.table.get(key)
        if counts is None:
            counts = self.table[key] = [0, 0, 0, 0]
        counts[col] += 1
        counts[col + 1] += size

    def rows(self) -> list[dict[str, Any]]:
        return list(self.iter_rows())

    def iter_rows(self) -> Iterator[dict[str, Any]]:
        ports = self.kind in ("tcp", "udp")
        for (addr, port), (txp, txb, rxp, rxb) in _busiest_first(
            list(self.table.items()), lambda item: item[1][0] + item[1][2]
        ):
            row: dict[str, Any] = {"address": address_text(addr)}
            if ports:
                row["port"] = port
            row.update(packets=txp + rxp, bytes=txb + rxb, tx_packets=txp, tx_bytes=txb,
                       rx_packets=rxp, rx_bytes=rxb)  # fmt: skip
            yield row

    def report(self, out: IO[str]) -> None:
        ports = self.kind in ("tcp", "udp")
        _report_table(out, self, "Endpoints", [
            f"                       |  {'Port  ||  ' if ports else ''}Packets  | |  Bytes  | "
            "| Tx Packets | | Tx Bytes | | Rx Packets | | Rx Bytes |",
        ])  # fmt: skip

    def _line(self, row: dict[str, Any]) -> str:
        port = f"{row['port']:>5}     " if "port" in row else ""
        return (
            f"{row['address']:<20}      {port}{row['packets']:>6}     {row['bytes']:>9}"
            f"     {row['tx_packets']:>6}       {row['tx_bytes']:>9}"
            f"      {row['rx_packets']:>6}       {row['rx_bytes']:>9}"
        )


# --- io,stat -----------------------------------------------------------------------------


def parse_interval(text: str) -> tuple[int, int]:
    """ "0.25" → (250000 µs, 2 decimals); "0" means one interval as long as the capture."""
    try:
        seconds = float(text)
    except ValueError:
        raise ValueError(f"io,{text}: the interval must be a number of seconds") from None
    if not seconds >= 0 or seconds > 10**9:
        raise ValueError(f"io,{text}: the interval must be between 0 and 1e9 seconds")
    usecs = round(seconds * 1_000_000)
    if seconds and not usecs:
        raise ValueError(f"io,{text}: the smallest interval is 0.000001 seconds")
    # As many decimals as written ("0.10" → 2, like tshark), and at least as many as the
    # value needs (so "1e-3" still prints milliseconds).
    needed = next(d for d in range(7) if usecs % 10 ** (6 - d) == 0)
    return usecs, max(needed, min(len(text.partition(".")[2]), 6))


def _magnitude(value: int) -> int:
    return max(1, len(str(value)))


def _center(label: str, width: int) -> str:
    """A column label centred in its cell as tshark's printcenter() places it."""
    spare = width - len(label)
    right = spare // 2 + 1
    return " " * (right + spare % 2) + label + " " * right + "|"


class IoStat:
    """tshark -z io,stat,SECONDS: frames and bytes per interval from the first frame.

    Intervals are counted in microseconds as tshark does. The last interval includes its
    end: a frame exactly at the end of the capture is counted there (tshark 4.0 drops it).
    """

    filter_text: str | None = None

    def __init__(self, interval: str = "1", *, json: bool = False, origin: Origin | None = None):
        self.interval_us, self.decimals = parse_interval(interval)
        self.stat = f"io,{interval}"
        self.json = json
        self.clock = _Clock(origin)
        self.buckets: dict[int, list[int]] = {}  # interval number → [frames, bytes]

    def add(self, pkt: Packet) -> None:
        self.clock.see(pkt.ts_ns)
        rel_us = (self.clock.rel_ns(pkt.ts_ns) + 500) // 1000
        index = rel_us // self.interval_us if self.interval_us else 0
        counts = self.buckets.get(index)
        if counts is None:
            counts = self.buckets[index] = [0, 0]
        counts[0] += 1
        counts[1] += pkt.wirelen

    def table(self) -> tuple[int, int, int, list[tuple[int, int, int, int]]]:
        """(duration µs, interval µs, decimals, rows of (start µs, end µs, frames, bytes))."""
        first, last = self.clock.first_ns, self.clock.last_ns
        duration = 0 if first is None or last is None else (last - first + 500) // 1000
        interval, decimals = self.interval_us, self.decimals
        whole = interval == 0 or interval > duration
        if whole:  # tshark: one interval, with a precision that suits the duration
            decimals = 1 if _magnitude(duration // 1_000_000) >= 2 else 3
        step = 10 ** (6 - decimals)
        if duration % step > step // 2:  # tshark rounds the duration to what it prints
            duration = (duration + step // 2) // step * step
        if whole:
            interval = duration
        return duration, interval, decimals, self._rows(duration, interval)

    def _rows(self, duration: int, interval: int) -> list[tuple[int, int, int, int]]:
        if not self.buckets:
            return []
        count = max(-(-duration // interval), 1) if interval else 1
        totals = [[0, 0] for _ in range(count)]
        for index, (frames, size) in self.buckets.items():
            # A frame exactly at the end of the capture: the last interval includes its end.
            row = totals[min(index, count - 1)]
            row[0] += frames
            row[1] += size
        return [
            (i * interval, duration if i == count - 1 else (i + 1) * interval, frames, size)
            for i, (frames, size) in enumerate(totals)
        ]

    def report(self, out: IO[str]) -> None:
        duration, interval, decimals, rows = self.table()
        if self.json:
            write_json(out, self, [
                {"start": s / 1e6, "end": e / 1e6, "frames": f, "bytes": b} for s, e, f, b in rows
            ], interval=interval / 1e6, duration=duration / 1e6)  # fmt: skip
            return
        label = self.filter_text or "Frames and bytes"
        _write_lines(out, _io_lines(duration, interval, decimals, rows, self.interval_us, label))


class _IoBox:
    """What both IO Statistics boxes share (tshark 4.0's): the border's width, which
    follows the largest numbers, the interval column, the times as tshark prints them,
    and the head lines."""

    def __init__(self, duration: int, interval: int, decimals: int, asked_us: int) -> None:
        self.decimals = decimals
        self.dur_mag = dur_mag = _magnitude(duration // 1_000_000)
        frac_w = decimals + 1 if decimals else 0
        if interval == duration or not asked_us:
            self.border = 30 + dur_mag + frac_w
        else:
            self.border = 25 + max(_magnitude(interval // 1_000_000), dur_mag) + frac_w
        # "| 0.0 <> 0.1 |": both times and the fixed characters, at least "| 3 <> Dur|"
        self.invl_w = max(2 * dur_mag + (2 * decimals + 10 if decimals else 8), 12)
        if decimals:
            self.dur_text = self.seconds(duration, dur_mag)
            self.invl_text = self.seconds(interval, dur_mag)
        else:  # whole seconds: tshark shows the duration to the microsecond
            self.dur_text = f"{duration // 1_000_000:>{dur_mag}}.{duration % 1_000_000:06}"
            self.invl_text = f"{interval // 1_000_000:>{dur_mag}}"
        self.filler = ""

    def fit(self, tab_w: int, label_w: int) -> None:
        """Widen the border to the table (TAB_W) and to a label's line (LABEL_W)."""
        border = max(self.border, tab_w)
        if label_w > border and border < 102:
            border = min(label_w, 102)
        if border - tab_w == 1:  # tshark widens by one rather than draw a double border
            border += 1
        self.border = border
        self.filler = f"{'|':>{border - tab_w}}" if border > tab_w else ""

    def seconds(self, us: int, width: int) -> str:
        decimals = self.decimals
        if not decimals:
            return f"{us // 1_000_000:>{width}}"
        return f"{us // 1_000_000:>{width}}.{us % 1_000_000 // 10 ** (6 - decimals):0{decimals}}"

    def boxed(self, text: str) -> str:
        return f"{text:<{self.border - 1}}|"

    def head(self) -> list[str]:
        boxed = self.boxed
        return ["", "=" * self.border, boxed("| IO Statistics"), boxed("|"),
                boxed(f"| Duration: {self.dur_text} secs"),
                boxed(f"| Interval: {self.invl_text} secs"), boxed("|")]  # fmt: skip

    def interval_cell(self, start: int, end: int, last: bool) -> str:
        dur_mag, seconds = self.dur_mag, self.seconds
        if self.decimals:
            return f"| {seconds(start, dur_mag)} <> {seconds(end, dur_mag)} |"
        if last:
            dur_w = dur_mag + 1 if dur_mag >= 3 else 3
            return f"| {' ' if dur_mag == 1 else ''}{seconds(start, dur_mag)} <> {'Dur':<{dur_w}}|"
        pad = " " if dur_mag == 1 else ""
        return f"|{pad} {seconds(start, dur_mag)} <> {seconds(end, dur_mag)} {pad}|"


def _io_lines(
    duration: int, interval: int, decimals: int, rows, asked_us: int, label: str
) -> list[str]:
    """tshark 4.0's IO Statistics box with one column of frames and bytes."""
    box = _IoBox(duration, interval, decimals, asked_us)
    invl_w = box.invl_w
    fr_w = max(6, _magnitude(max((r[2] for r in rows), default=0)))
    by_w = max(5, _magnitude(max((r[3] for r in rows), default=0)))
    tab_w = invl_w + fr_w + 3 + by_w + 3
    box.fit(tab_w, len(label) + 11)  # room for the column's label (or filter)
    filler = box.filler
    lines = [
        *box.head(),
        box.boxed(f"| Col 1: {label}"), "|" + "-" * (box.border - 2) + "|",
        f"|{'|':>{invl_w - 1}}{'1':<2}{'':>{fr_w + by_w + 3}}|{filler}",
        f"{'| Interval':<{invl_w - 1}}|{_center('Frames', fr_w)}{_center('Bytes', by_w)}{filler}",
        "|" + "-" * (tab_w - 2) + "|" + filler,
    ]  # fmt: skip
    for i, (start, end, frames, size) in enumerate(rows):
        cell = box.interval_cell(start, end, i == len(rows) - 1)
        lines.append(f"{cell} {frames:>{fr_w}} | {size:>{by_w}} |{filler}")
    lines.append("=" * box.border)
    return lines


# --- io,stat with columns (tshark -z io,stat,INTERVAL,COLUMN,…) -------------------------


def split_args(text: str) -> list[str]:
    """Comma-separated parts; commas inside double quotes or brackets do not split."""
    parts, current, depth, quoted = [], [], 0, False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "([{":
            depth += 1
        elif not quoted and ch in ")]}":
            depth = max(depth - 1, 0)
        if ch == "," and not quoted and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    if quoted:
        raise ValueError(f"{text!r}: a double quote is not closed")
    parts.append("".join(current).strip())
    return parts


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def _column_tap(spec: str, *, json: bool = False, origin=None):
    """expert[,…] or io,stat,INTERVAL,COLUMN…: the filters are read from SPEC as
    written (their case matters; _make_tap lower-cases)."""
    raw = split_args(spec)
    if raw[0].strip().lower() == "expert":
        from netlab.dissect.expert import ExpertTap

        return ExpertTap.parse(raw[1:], json=json)
    rest = raw[2:] if len(raw) > 1 and raw[1].strip().lower() == "stat" else raw[1:]
    return IoStatColumns(rest[0], rest[1:], json=json, origin=origin)


FUNCTIONS = ("FRAMES", "BYTES", "COUNT", "SUM", "MIN", "MAX", "AVG", "LOAD")


class Column:
    """One io,stat column: what it computes (`calc`: "" = frames and bytes), of which
    field, over the packets its filter matches."""

    def __init__(self, text: str) -> None:
        self.label = _unquote(text) or None  # None: "Frames and bytes"
        self.calc, self.field, self.filter = "", None, None
        body = self.label or ""
        head, paren, rest = body.partition("(")
        if paren and head.upper() in FUNCTIONS and ")" in rest:
            self.calc = head.upper()
            self.field, _, body = rest.partition(")")
            self._check_field()
        body = body.strip()
        if body:
            from netlab.dissect.filter import compile_filter

            self.filter = compile_filter(body)

    def _check_field(self) -> None:
        from netlab.dissect import fields as F
        from netlab.dissect.filter import check_field

        name = self.field.strip()
        self.field = name
        if self.calc in ("FRAMES", "BYTES"):
            if name:
                raise ValueError(f"{self.calc} does not require or allow a field name")
            return
        if not name:
            raise ValueError(f"You didn't specify a field name for {self.calc}(*)")
        if self.calc == "LOAD":
            raise ValueError("LOAD(*) is not supported by netlab (only tshark's integer forms)")
        check_field(name)
        if self.calc != "COUNT" and F.ftype(name) not in F.INT_TYPES:
            raise ValueError(f"{self.calc}({name}): netlab computes this on integer fields only")

    def width_name(self) -> str:
        return self.calc or "Frames"


class _Cell:
    # peak: the largest value the cell held while counting; tshark sizes a column by it
    # (a MIN column is as wide as the first value it saw, even once a smaller one came)
    __slots__ = ("bytes", "counter", "frames", "num", "peak")

    def __init__(self) -> None:
        self.frames = self.bytes = self.counter = self.num = self.peak = 0


class IoStatColumns(IoStat):
    """tshark -z io,stat,INTERVAL,COLUMN,…: several columns per interval."""

    def __init__(self, interval: str, columns: list[str], *, json: bool = False, origin=None):
        parse_interval(interval.strip())
        super().__init__(interval.strip(), json=json, origin=origin)
        if not columns:
            columns = [""]
        self.columns = [Column(text) for text in columns]
        self.stat = "io,stat," + ",".join([interval.strip(), *columns])
        self.cells: dict[int, list[_Cell]] = {}  # interval number -> a cell per column

    def add(self, pkt: Packet) -> None:
        from netlab.dissect import fields as F

        self.clock.see(pkt.ts_ns)
        rel_us = (self.clock.rel_ns(pkt.ts_ns) + 500) // 1000
        index = rel_us // self.interval_us if self.interval_us else 0
        row = self.cells.get(index)
        if row is None:
            row = self.cells[index] = [_Cell() for _ in self.columns]
        pf = None
        for column, cell in zip(self.columns, row, strict=True):
            if column.filter is not None and not column.filter.matches(pkt):
                continue
            cell.frames += 1
            cell.bytes += pkt.wirelen
            if column.field:
                if pf is None:
                    pf = F.PacketFields(pkt, F.FrameClock())
                _compute(column.calc, cell, [v for v in pf.get(column.field) if v is not None])
                cell.peak = max(cell.peak, _value(column, cell))
        self.buckets.setdefault(index, [0, 0])

    def _merged(self, count: int) -> list[list[_Cell]]:
        rows = [[_Cell() for _ in self.columns] for _ in range(count)]
        for index, cells in self.cells.items():
            target = rows[min(index, count - 1)]
            for j, cell in enumerate(cells):
                _merge(self.columns[j].calc, target[j], cell)
        return rows

    def report(self, out: IO[str]) -> None:
        duration, interval, decimals, base = self.table()
        rows = self._merged(len(base)) if base else []
        spans = [(start, end) for start, end, _f, _b in base]
        if self.json:
            write_json(out, self, [
                {"start": s / 1e6, "end": e / 1e6,
                 "columns": [_json_cell(c, cell) for c, cell in zip(self.columns, cells,
                                                                    strict=True)]}
                for (s, e), cells in zip(spans, rows, strict=True)
            ], interval=interval / 1e6, duration=duration / 1e6)  # fmt: skip
            return
        lines = io_table_lines(duration, interval, decimals, spans, rows, self.columns,
                               self.interval_us)  # fmt: skip
        out.write("\n".join(lines) + "\n")


def _compute(calc: str, cell: _Cell, values: list) -> None:
    if calc == "COUNT":
        cell.counter += len(values)
        return
    for i, value in enumerate(values):
        value = int(value)
        if calc == "SUM":
            cell.counter += value
        elif calc == "MIN":
            if (cell.frames == 1 and i == 0) or value < cell.counter:
                cell.counter = value
        elif calc == "MAX":
            cell.counter = max(cell.counter, value)
        elif calc == "AVG":
            cell.counter += value
            cell.num += 1


def _merge(calc: str, into: _Cell, cell: _Cell) -> None:
    """A frame at the very end of the capture joins the last interval."""
    if calc == "MIN" and into.frames and cell.frames:
        into.counter = min(into.counter, cell.counter)
    elif calc == "MAX":
        into.counter = max(into.counter, cell.counter)
    else:
        into.counter += cell.counter
    into.frames += cell.frames
    into.bytes += cell.bytes
    into.num += cell.num
    into.peak = max(into.peak, cell.peak)


def _value(column: Column, cell: _Cell) -> int:
    calc = column.calc
    if calc == "FRAMES":
        return cell.frames
    if calc == "BYTES":
        return cell.bytes
    if calc == "AVG":
        return cell.counter // (cell.num or 1)
    return cell.counter


def _json_cell(column: Column, cell: _Cell) -> dict[str, Any]:
    if not column.calc:
        return {"frames": cell.frames, "bytes": cell.bytes}
    return {column.calc.lower(): _value(column, cell)}


def io_table_lines(duration, interval, decimals, spans, rows, columns, asked_us) -> list[str]:
    """tshark 4.0's IO Statistics box for any columns (stats._io_lines is its one-column
    case): widths follow the largest numbers, the filters are listed above."""
    box = _IoBox(duration, interval, decimals, asked_us)
    invl_w = box.invl_w
    widths = []  # per column (frames width or None, value width)
    tab_w = invl_w
    for j, column in enumerate(columns):
        if not column.calc:
            fr_w = max(6, _magnitude(max((r[j].frames for r in rows), default=0)))
            by_w = max(5, _magnitude(max((r[j].bytes for r in rows), default=0)))
            widths.append((fr_w, by_w))
            tab_w += fr_w + 3 + by_w + 3
            continue
        top = max((max(_value(column, r[j]), r[j].peak) for r in rows), default=0)
        least = {"FRAMES": 6, "BYTES": 5, "COUNT": 5}.get(column.calc, len(column.calc))
        val_w = max(least, _magnitude(top))
        widths.append((None, val_w))
        tab_w += val_w + 3
    box.fit(tab_w, max((len(c.label) + 11 if c.label else 26) for c in columns))
    border, filler = box.border, box.filler
    lines = box.head()
    for j, column in enumerate(columns):
        lines += _filter_lines(j, column.label or "Frames and bytes", border, box.boxed)
    lines.append("|" + "-" * (border - 2) + "|")
    numbers, names = f"|{'|':>{invl_w - 1}}", f"{'| Interval':<{invl_w - 1}}|"
    for j, (column, (fr_w, val_w)) in enumerate(zip(columns, widths, strict=True)):
        pad = fr_w + val_w + 3 if fr_w is not None else val_w
        numbers += f"{j + 1:<2}{'':>{pad}}|"
        if fr_w is not None:
            names += _center("Frames", fr_w) + _center("Bytes", val_w)
        else:
            names += _center(column.calc, val_w)
    lines += [numbers + filler, names + filler, "|" + "-" * (tab_w - 2) + "|" + filler]
    for i, ((start, end), cells) in enumerate(zip(spans, rows, strict=True)):
        cell = box.interval_cell(start, end, i == len(spans) - 1)
        for column, (fr_w, val_w), c in zip(columns, widths, cells, strict=True):
            if fr_w is not None:
                cell += f" {c.frames:>{fr_w}} | {c.bytes:>{val_w}} |"
            else:
                cell += f" {_value(column, c):>{val_w}} |"
        lines.append(cell + filler)
    lines.append("=" * border)
    return lines


def _filter_lines(j: int, text: str, border: int, boxed) -> list[str]:
    """ "| Col 1: FILTER" (then "|     2: …"), wrapped at a space when wider than the box."""
    lead = f"| Col{j + 1:2}: " if j == 0 else f"|    {j + 1:2}: "
    out = []
    room = border - 11
    while len(text) > room > 0:
        cut = text.rfind(" ", 0, room)
        head, text = (text[:cut], text[cut + 1 :]) if cut > 0 else (text[:room], text[room:])
        out.append(boxed(lead + head))
        lead = "|        "
    out.append(boxed(lead + text))
    return out
