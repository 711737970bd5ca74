"""Wireshark's "stats tree" reports: `-z dns,tree` and `-z http,tree`, as tshark 4.0 prints them.

A stats tree (epan/stats_tree.c) is a tree of counters. Each node counts its ticks and
may keep an average/min/max of a value; the report shows per node the count, average,
min, max, rate (ticks per ms between the tree's first and last packet), percent of the
parent, and the burst rate: the most ticks seen in any 100 ms window (counted in 5 ms
buckets, Wireshark's default preferences), and when that window began. Children are
listed by count, largest first; ties by name, also descending (strcmp), since the
descending order reverses the whole comparison. The root's children keep their order.

C's float arithmetic is kept where tshark uses it (int averages are float quotients,
the response-time node sums floats), so that the printed digits are tshark's.

The trees:
- DnsTree (packet-dns.c dns_stats_tree_*): one tick per DNS message (UDP or TCP,
  not one quoted in an ICMP error), with tshark's transaction tracking (the dissector's:
  dissect/dns.py's Transactions).
  Kept as tshark has it: a response's counts are added twice to "Response Stats".
- HttpTree (packet-http.c http_stats_tree_*): one tick per HTTP/1 message (requests
  by method, responses by class and code), and one "Other" for the HTTP/2 preface
  read on an HTTP port; HTTP/2 frames themselves do not count (as tshark).
"""

from __future__ import annotations

import math
import struct
from collections import deque
from typing import IO, Any

from netlab.dissect import dns
from netlab.dissect.dns import CLASSES
from netlab.dissect.dns import TYPE_DESCRIPTIONS as TYPES
from netlab.dissect.model import Packet
from netlab.dissect.taps import write_json

BURST_WINDOW_MS = 100  # prefs.st_burst_windowlen
BURST_RESOLUTION_MS = 5  # prefs.st_burst_resolution
INDENT_MAX = 32
MAX_NODES = 10_000  # distinct items a tree keeps (methods, types …); more are not shown
_F32 = struct.Struct("f")


def f32(value: float) -> float:
    """value rounded to a C float (IEEE single)."""
    try:
        return _F32.unpack(_F32.pack(value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)


class Node:
    """One counter (stat_node). `named`: registered in the tree's name table."""

    __slots__ = ("avg", "bcount", "buckets", "burst_time", "children", "counter", "hash",
                 "is_float", "max", "max_burst", "min", "name", "parent", "total")  # fmt: skip

    def __init__(self, name: str, parent: Node | None, with_hash: bool, is_float=False):
        self.name = name
        self.parent = parent
        self.children: list[Node] = []
        self.hash: dict[str, Node] | None = {} if with_hash else None
        self.counter = 0
        self.total: float = 0
        self.min: float | None = None
        self.max: float | None = None
        self.avg = False  # ST_FLG_AVERAGE
        self.is_float = is_float
        # burst buckets [bucket number, count, start ms], oldest first; a dummy at 0
        self.buckets: deque[list] = deque([[0.0, 0, 0.0]])
        self.bcount = 0
        self.max_burst = 0
        self.burst_time = -1.0


class StatsTree:
    """The tree and its clock; subclasses build their nodes and feed packets."""

    title = ""
    stat = ""
    filter_text: str | None = None

    def __init__(self, *, json: bool = False, origin=None) -> None:
        self.json = json
        self.origin = origin
        self.root = Node(self.title, None, False)
        self.nodes = 0
        self.dropped = 0  # ticks for names past MAX_NODES
        self.names: dict[str, Node] = {}
        self.start: float | None = None
        self.now = 0.0
        self.elapsed = 0.0
        self._first_ns: int | None = None

    # --- building ------------------------------------------------------------------
    def create(self, name: str, parent: Node | None = None, with_hash=True, is_float=False):
        """stats_tree_create_node / _pivot: a node registered by name."""
        node = self._new(name, parent or self.root, with_hash, is_float)
        self.names[name] = node
        return node

    def _new(self, name: str, parent: Node, with_hash: bool, is_float=False) -> Node:
        node = Node(name, parent, with_hash, is_float)
        if self.nodes >= MAX_NODES:
            self.dropped += 1
            return node  # counted, never shown: the tree stops growing (hostile names)
        self.nodes += 1
        parent.children.append(node)
        if parent.hash is not None:
            parent.hash[name] = node
        return node

    def _find(self, name: str, parent: Node) -> Node:
        table = parent.hash if parent.hash is not None else self.names
        node = table.get(name)
        if node is None:
            node = self._new(name, parent, False)
        return node

    # --- ticking (stats_tree_manip_node_*) -------------------------------------------
    def clock(self, pkt: Packet) -> None:
        """stats_tree_packet: the packet's time in ms from the capture's first frame."""
        if self._first_ns is None:
            first = self.origin() if self.origin is not None else None
            self._first_ns = first if first is not None else pkt.ts_ns
        rel = pkt.ts_ns - self._first_ns
        secs, nsecs = divmod(rel, 1_000_000_000)
        self.now = secs * 1000.0 + nsecs / 1000000.0  # nstime_to_msec
        if self.start is None:
            self.start = self.now
        self.elapsed = self.now - self.start

    def tick(self, name: str, parent: Node | None = None) -> Node:
        node = self._find(name, parent or self.root)
        node.counter += 1
        self._burst(node)
        return node

    def pivot(self, pivot: Node, value: str) -> None:
        pivot.counter += 1
        self._burst(pivot)
        self.tick(value, pivot)

    def average(self, name: str, value: float, parent: Node | None = None) -> None:
        node = self._find(name, parent or self.root)
        node.counter += 1
        self._burst(node)
        if node.is_float:
            value = f32(value)
            node.total = f32(node.total + value)
        else:
            node.total += value
        node.min = value if node.min is None or value < node.min else node.min
        node.max = value if node.max is None or value > node.max else node.max
        node.avg = True

    def _burst(self, node: Node) -> None:
        """update_burst_calc, bucket list and all, so that ties fall as in tshark."""
        current = math.floor(self.now / BURST_RESOLUTION_MS)
        window = BURST_WINDOW_MS / BURST_RESOLUTION_MS
        buckets = node.buckets
        if current > buckets[-1][0]:
            buckets.append([current, 1, self.now])
            node.bcount += 1
            while current >= buckets[0][0] + window:
                node.bcount -= buckets.popleft()[1]
        elif current < buckets[0][0]:
            if current + window > buckets[-1][0]:
                buckets.appendleft([current, 1, self.now])
                node.bcount += 1
        else:
            index = len(buckets) - 1
            while current < buckets[index][0]:
                index -= 1
            if current == buckets[index][0]:
                buckets[index][1] += 1
                buckets[index][2] = min(buckets[index][2], self.now)
            else:
                buckets.insert(index + 1, [current, 1, self.now])
            node.bcount += 1
        if node.bcount > node.max_burst:
            node.max_burst = node.bcount
            node.burst_time = buckets[0][2]

    # --- the report ----------------------------------------------------------------
    def values(self, node: Node) -> list[str]:
        """stats_tree_get_values_from_node: the row's nine cells."""
        cells = [node.name, str(node.counter)]
        if node.avg:
            if node.counter:
                if node.is_float:
                    mean = f32(node.total / f32(node.counter))
                    cells += [f"{mean:.2f}", f"{node.min:f}", f"{node.max:f}"]
                else:
                    mean = f32(f32(node.total) / f32(node.counter))
                    cells += [f"{mean:.2f}", f"{int(node.min)}", f"{int(node.max)}"]
            else:
                cells += ["-", "-", "-"]
        else:
            cells += ["", "", ""]
        cells.append(f"{f32(node.counter) / self.elapsed:.4f}" if self.elapsed else "")
        parent = node.parent
        if parent is not None and parent.counter:
            cells.append(f"{node.counter * 100.0 / parent.counter:.2f}%")
        else:
            cells.append("100%" if parent is self.root else "")
        if node.max_burst:
            cells += [f"{node.max_burst / BURST_WINDOW_MS:.4f}", f"{node.burst_time / 1000.0:.3f}"]
        else:
            cells += ["-", "-"]
        return cells

    def _max_namelen(self, node: Node, indent: int) -> int:
        indent = min(indent, INDENT_MAX)
        longest = max((self._max_namelen(c, indent + 1) for c in node.children), default=0)
        return max(longest, len(node.name) + indent)

    def lines(self) -> list[str]:
        width = self._max_namelen(self.root, 0)
        sep = width + 8 * 14
        heads = ["Count", "Average", "Min Val", "Max Val", "Rate (ms)", "Percent",
                 "Burst Rate", "Burst Start"]  # fmt: skip
        out = [
            "",
            "=" * sep,
            f"{self.title}:",
            f"{'Topic / Item':<{width}}" + "".join(f" {h:<13}" for h in heads),
            "-" * sep,
        ]
        for child in self.root.children:
            self._node_lines(child, 0, width, out)
        out += ["", "-" * sep]
        return out

    def _node_lines(self, node: Node, indent: int, width: int, out: list[str]) -> None:
        cells = self.values(node)
        out.append(" " * indent + f"{cells[0]:<{width - indent}}"
                   + "".join(f" {c:<13}" for c in cells[1:]))  # fmt: skip
        indent = min(indent + 1, INDENT_MAX)
        for child in sorted(node.children, key=_order_key):
            self._node_lines(child, indent, width, out)

    def rows(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []

        def walk(node: Node, depth: int, path: str) -> None:
            cells = self.values(node)
            found.append({"item": node.name, "path": f"{path}/{node.name}", "depth": depth,
                          "count": node.counter, "average": cells[2] or None,
                          "min": cells[3] or None, "max": cells[4] or None,
                          "rate_ms": cells[5] or None, "percent": cells[6] or None,
                          "burst_rate": cells[7], "burst_start": cells[8]})  # fmt: skip
            for child in sorted(node.children, key=_order_key):
                walk(child, depth + 1, f"{path}/{node.name}")

        for child in self.root.children:
            walk(child, 0, "")
        return found

    def report(self, out: IO[str]) -> None:
        if self.json:
            write_json(out, self, self.rows())
            return
        out.write("\n".join(self.lines()) + "\n")


class _Desc:
    """A sort key: strings compared in reverse byte order (strcmp, descending)."""

    __slots__ = ("raw",)

    def __init__(self, text: str) -> None:
        self.raw = text.encode("utf-8", "surrogateescape")

    def __lt__(self, other: _Desc) -> bool:
        return self.raw > other.raw

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.raw == other.raw


def _order_key(node: Node) -> tuple[int, _Desc]:
    return (-node.counter, _Desc(node.name))


# --- DNS -------------------------------------------------------------------------------------

QR = {0: "Query", 1: "Response"}
OPCODES = {0: "Standard query", 1: "Inverse query", 2: "Server status request",
           4: "Zone change notification", 5: "Dynamic update",
           6: "DNS Stateful operations (DSO)"}  # fmt: skip
RCODES = {
    0: "No error", 1: "Format error", 2: "Server failure", 3: "No such name",
    4: "Not implemented", 5: "Refused", 6: "Name exists", 7: "RRset exists",
    8: "RRset does not exist", 9: "Not authoritative", 10: "Name out of zone",
    11: "DSO-Type not implemented", 16: "Bad OPT Version or TSIG Signature Failure",
    17: "Key not recognized", 18: "Signature out of time window", 19: "Bad TKEY Mode",
    20: "Duplicate key name", 21: "Algorithm not supported", 22: "Bad Truncation",
    23: "Bad/missing Server Cookie",
}  # fmt: skip


class DnsTree(StatsTree):
    title = "DNS"
    stat = "dns,tree"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.packets = self.create("Total Packets")
        self.qr = self.create("Query/Response", self.packets)
        self.qtypes = self.create("Query Type", self.packets)
        self.qclasses = self.create("Class", self.packets)
        self.rcodes = self.create("rcode", self.packets)
        self.opcodes = self.create("opcodes", self.packets)
        self.create("Payload size", with_hash=False)
        query = self.create("Query Stats")
        self.create("Qname Len", query, with_hash=False)
        domains = self.create("Label Stats", query)
        for name in ("1st Level", "2nd Level", "3rd Level", "4th Level or more"):
            self.create(name, domains, with_hash=False)
        response = self.create("Response Stats")
        for name in ("no. of questions", "no. of answers", "no. of authorities",
                     "no. of additionals"):  # fmt: skip
            self.create(name, response, with_hash=False)
        service = self.create("Service Stats")
        self.create("no. of unsolicited responses", service, with_hash=False)
        self.create("no. of retransmissions", service, with_hash=False)
        self.create("request-response time (msec)", service, with_hash=False, is_float=True)

    def add(self, pkt: Packet) -> None:
        for layer in pkt.layers:
            proto = layer.proto
            if proto in ("icmp", "icmpv6"):
                return  # a quoted message: pinfo->flags.in_error_pkt, not tapped
            if proto == "dns":
                self._message(pkt, layer)

    def _message(self, pkt: Packet, layer: Any) -> None:
        buf = pkt.buf if layer.data is None else layer.data
        msg = dns._message(layer, buf)
        if msg.size < 12 or msg.malformed:
            return  # tshark's dissection threw (a header or record cut short): no tap
        flags = msg.flags
        response = bool(flags & 0x8000)
        # the query it answers, as the dissector's transactions found it
        kind, _frame, rrt_ns = layer.hdr.link or (None, 0, 0)
        self.clock(pkt)
        self.tick("Total Packets")
        self.pivot(self.qr, QR[int(response)])
        question = msg.questions[0] if msg.questions else None
        qtype = question.qtype if question else 0
        qclass = question.qclass if question else 0
        self.pivot(self.qtypes, TYPES.get(qtype, f"Unknown packet type ({qtype})"))
        self.pivot(self.qclasses, CLASSES.get(qclass, f"Unknown class ({qclass})"))
        rcode, opcode = flags & 0xF, (flags >> 11) & 0xF
        self.pivot(self.rcodes, RCODES.get(rcode, f"Unknown rcode ({rcode})"))
        self.pivot(self.opcodes, OPCODES.get(opcode, f"Unknown opcode ({opcode})"))
        self.average("Payload size", min(layer.end, len(buf)) - layer.off)
        if not response:
            name = dns.ws_name(question.name) if question else ""
            self.average("Qname Len", len(name))
            labels = name.count(".") + 1 if len(name) > 1 else 0
            level = {1: "1st Level", 2: "2nd Level", 3: "3rd Level"}
            self.tick(level.get(labels, "4th Level or more"))
            return
        counts = (msg.qdcount, msg.ancount, msg.nscount, msg.arcount)
        self._counts(counts)
        if kind == dns.UNSOLICITED:
            self.tick("no. of unsolicited responses")
            return
        self._counts(counts)  # (tshark adds a solicited response's counts twice)
        if kind == dns.RETRANSMITTED_RESPONSE:
            self.tick("no. of retransmissions")
        else:
            secs, nsecs = divmod(rrt_ns, 1_000_000_000)
            self.average("request-response time (msec)", secs * 1000.0 + nsecs / 1000000.0)

    def _counts(self, counts: tuple[int, int, int, int]) -> None:
        for name, value in zip(("no. of questions", "no. of answers", "no. of authorities",
                                "no. of additionals"), counts, strict=True):  # fmt: skip
            self.average(name, value)


# --- HTTP ------------------------------------------------------------------------------------

RESPONSE_CLASSES = ["???: broken", "1xx: Informational", "2xx: Success", "3xx: Redirection",
                    "4xx: Client Error", "5xx: Server Error"]  # fmt: skip


class HttpTree(StatsTree):
    title = "HTTP/Packet Counter"
    stat = "http,tree"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.packets = self.create("Total HTTP Packets")
        self.requests = self.create("HTTP Request Packets", self.packets)
        self.responses = self.create("HTTP Response Packets", self.packets)
        self.classes = [self.create(name, self.responses) for name in RESPONSE_CLASSES]
        self.create("Other HTTP Packets", self.packets, with_hash=False)

    def add(self, pkt: Packet) -> None:
        layers = pkt.layers
        for i, layer in enumerate(layers):
            if layer.proto in ("icmp", "icmpv6"):
                return
            if layer.proto != "http":
                continue
            msg = layer.hdr
            if msg is None:  # the HTTP/2 preface on an HTTP port: HTTP hands it on
                after = layers[i + 1] if i + 1 < len(layers) else None
                if after is not None and after.proto == "http2" and after.hdr.magic:
                    self._count(pkt, None)
                continue
            self._count(pkt, msg)

    def _count(self, pkt: Packet, msg: Any) -> None:
        from netlab.dissect.http2 import status_phrase

        self.clock(pkt)
        self.tick("Total HTTP Packets")
        kind = msg.kind if msg is not None else None
        if kind == "response" and msg.code:
            code = msg.code
            self.tick("HTTP Response Packets", self.packets)
            group = code // 100 if 100 <= code < 600 else 0
            node = self.tick(RESPONSE_CLASSES[group], self.responses)
            self.tick(f"{code} {status_phrase(code)}", node)
        elif kind == "request" and msg.method:
            self.pivot(self.requests, msg.method)
        else:
            self.tick("Other HTTP Packets", self.packets)


TREES = {"dns": DnsTree, "http": HttpTree}
