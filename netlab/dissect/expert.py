"""tshark's `-z expert[,LEVEL][,FILTER]` (ui/cli/tap-expert.c), as tshark 4.0 prints it.

The expert items of the packets, grouped by severity (Errors, Warns, Notes, Chats,
Comments), one line per distinct (protocol, summary) with its count, in first-seen
order. netlab's decoders keep no list of expert items, so they are derived here from
what the decoders found, with Wireshark's texts and severities: Ethernet group sources,
IPv4's TTL notes, TCP's unused ACK and urgent fields, connection flags (SYN, SYN+ACK,
FIN, RST, and which side began the close) and sequence analysis (tcp.analysis.*), the
request and status lines of HTTP/1 messages, pings no reply answered (with -2), frame
comments, and malformed packets.
Items other Wireshark dissectors add (IP checksum, DNS retransmissions, TLS …) are not
made: tests/test_stats_more.py lists the captures where that shows.
"""

from __future__ import annotations

from typing import IO, Any

from netlab.dissect import dns
from netlab.dissect.icmp import NO_RESPONSE, no_response_text
from netlab.dissect.model import Packet
from netlab.dissect.taps import write_json


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


LEVELS = ("error", "warn", "note", "chat", "comment")  # most severe first, as printed
LABELS = {"error": "Errors", "warn": "Warns", "note": "Notes", "chat": "Chats",
          "comment": "Comments"}  # fmt: skip
SYN, FIN, RST, ACK, URG = 0x02, 0x01, 0x04, 0x10, 0x20
# tcp.analysis.* marks: (severity, summary); Wireshark's ei_tcp_analysis_* (4.0)
TCP_ANALYSIS = {
    "retransmission": ("note", "This frame is a (suspected) retransmission"),
    "fast_retransmission": ("note", "This frame is a (suspected) fast retransmission"),
    "spurious_retransmission": ("note", "This frame is a (suspected) spurious retransmission"),
    "out_of_order": ("warn", "This frame is a (suspected) out-of-order segment"),
    "lost_segment": ("warn", "Previous segment(s) not captured (common at capture start)"),
    "ack_lost_segment": ("warn", "ACKed segment that wasn't captured (common at capture start)"),
    "window_update": ("chat", "TCP window update"),
    "window_full": ("warn", "TCP window specified by the receiver is now completely full"),
    "keep_alive": ("note", "TCP keep-alive segment"),
    "keep_alive_ack": ("note", "ACK to a TCP keep-alive segment"),
    "duplicate_ack": ("note", "Duplicate ACK (#{1})"),  # ({0}: the frame it duplicates)
    "zero_window_probe": ("note", "TCP Zero Window Probe"),
    "zero_window": ("warn", "TCP Zero Window segment"),
    "zero_window_probe_ack": ("note", "ACK to a TCP Zero Window Probe"),
}  # fmt: skip
# Wireshark's short protocol names, for a malformed mark's "Protocol" column
SHORT_NAMES = {"eth": "Ethernet", "ip": "IPv4", "ipv6": "IPv6", "icmpv6": "ICMPv6",
               "bt-dht": "BT-DHT", "http2": "HTTP2", "tls": "TLS"}  # fmt: skip
GROUP_SOURCE = "Source MAC must not be a group address: IEEE 802.3-2002, Section 3.2.3(b)"
URGENT_NONZERO = "The urgent pointer field is nonzero while the URG flag is not set"
ACK_NONZERO = "The acknowledgment number field is nonzero while the ACK flag is not set"
LNCB_TTL = '"Time To Live" != 1 for a packet sent to the Local Network Control Block (see RFC 3171)'
MAX_ENTRIES = 10000  # distinct (protocol, summary) pairs kept per severity


class ExpertTap:
    """tshark -z expert: counts of each expert item, by severity."""

    stat = "expert"
    filter_text: str | None = None

    def __init__(self, lowest: str = "comment", item_filter: Any = None, *, json=False):
        self.lowest = LEVELS.index(lowest)
        self.item_filter = item_filter  # expert's own filter (-z expert,FILTER)
        self.json = json
        # severity -> {(protocol, summary): [group, count]} in first-seen order
        self.items: dict[str, dict[tuple[str, str], list]] = {level: {} for level in LEVELS}
        self.closing: dict[int, tuple] = {}  # tcp.stream -> the side that sent the first FIN
        self.dropped = 0

    @classmethod
    def parse(cls, args: list[str], *, json: bool = False) -> ExpertTap:
        lowest = "comment"
        if args and args[0].lower() in LEVELS:
            lowest = args.pop(0).lower()
        item_filter = None
        text = ",".join(args).strip()
        if text:
            from netlab.dissect.filter import compile_filter

            item_filter = compile_filter(_unquote(text))
        if len(args) > 1 and item_filter is None:
            raise ValueError(f"expert,{','.join(args)}: expected expert[,LEVEL][,FILTER]")
        return cls(lowest, item_filter, json=json)

    def add(self, pkt: Packet) -> None:
        if self.item_filter is not None and not self.item_filter.matches(pkt):
            return
        if pkt.comment:
            self._item("comment", "Comment", "Frame", pkt.comment)
        net = None
        for layer in pkt.layers:
            proto = layer.proto
            if proto in ("icmp", "icmpv6"):
                link = layer.extra  # -2: a ping no reply answered (dissect/icmp.py)
                if isinstance(link, tuple) and link[0] == NO_RESPONSE:
                    self._item("warn", "Sequence", SHORT_NAMES.get(proto, "ICMP"),
                               no_response_text(proto, link[1]))  # fmt: skip
                break  # what an ICMP error quotes adds no expert items here
            if proto == "eth" and layer.hdr is not None:
                if layer.hdr.src[:1] and layer.hdr.src[0] & 1:  # never a group (packet-eth.c)
                    self._item("warn", "Protocol", "Ethernet", GROUP_SOURCE)
            elif proto in ("ip", "ipv6") and layer.hdr is not None:
                net = layer.hdr
                if proto == "ip" and net.version == 4:
                    self._ttl(net)
            elif proto == "tcp" and layer.hdr is not None:
                self._tcp(net, layer)
            elif proto == "dns" and layer.hdr is not None:
                self._dns(layer.hdr.link)
            elif proto == "http" and layer.hdr is not None:
                msg = layer.hdr
                if msg.kind in ("request", "response") and msg.problem is None:
                    self._item("chat", "Sequence", "HTTP", _escaped(msg.line) + "\\r\\n")
        if pkt.malformed is not None:
            self._malformed(pkt)

    def _tcp(self, net: Any, layer: Any) -> None:
        hdr, state = layer.hdr, layer.extra
        flags = hdr.offflags & 0xFFF
        if not flags & ACK and hdr.ack:
            self._item("note", "Protocol", "TCP", ACK_NONZERO)
        if flags & SYN:
            if flags & ACK:
                text = f"Connection establish acknowledge (SYN+ACK): server port {hdr.sport}"
            else:
                text = f"Connection establish request (SYN): server port {hdr.dport}"
            self._item("chat", "Sequence", "TCP", text)
        if flags & FIN:
            self._item("chat", "Sequence", "TCP", "Connection finish (FIN)")
            if state is not None and net is not None:
                self._closing(state.stream, (net.src, hdr.sport))
        if flags & RST:
            self._item("warn", "Sequence", "TCP", "Connection reset (RST)")
        if not flags & URG and hdr.urgent:
            self._item("note", "Protocol", "TCP", URGENT_NONZERO)
        if state is None:
            return
        for mark in state.analysis:
            found = TCP_ANALYSIS.get(mark[0])
            if found is not None:
                self._item(found[0], "Sequence", "TCP", found[1].format(*mark[1:]))
            if mark[0] in ("fast_retransmission", "spurious_retransmission"):
                # Wireshark adds tcp.analysis.retransmission too, with its own item
                self._item("note", "Sequence", "TCP", TCP_ANALYSIS["retransmission"][1])

    def _dns(self, link: tuple | None) -> None:
        """A retransmitted query or response (dissect/dns.py's Transactions)."""
        if link is not None and link[0] in (dns.RETRANSMITTED_QUERY, dns.RETRANSMITTED_RESPONSE):
            self._item("warn", "Protocol", "DNS", dns.retransmission_text(link))

    def _ttl(self, hdr: Any) -> None:
        """packet-ip.c's TTL notes: 224.0.0.0/24 wants TTL 1 (RFC 3171); elsewhere
        (unicast, neither PIM nor OSPF) a TTL under 5 is worth a note."""
        dst = hdr.dst
        if dst[:3] == b"\xe0\x00\x00":
            if hdr.ttl != 1:
                self._item("note", "Sequence", "IPv4", LNCB_TTL)
        elif not 224 <= dst[0] <= 239 and hdr.ttl < 5 and hdr.proto not in (89, 103):
            self._item("note", "Sequence", "IPv4", f'"Time To Live" only {hdr.ttl}')

    def _closing(self, stream: int, side: tuple) -> None:
        """The first side to send a FIN initiates the close; a FIN from the other side
        undergoes it (packet-tcp.c's closing_initiator)."""
        first = self.closing.get(stream)
        if first is not None and first != side:
            self._item("note", "Sequence", "TCP", "This frame undergoes the connection closing")
            return
        if len(self.closing) < MAX_ENTRIES * 10 or first is not None:
            self.closing[stream] = side
        self._item("note", "Sequence", "TCP", "This frame initiates the connection closing")

    def _malformed(self, pkt: Packet) -> None:
        proto = pkt.malformed.partition(":")[0].strip() if ":" in pkt.malformed else ""
        name = SHORT_NAMES.get(proto, proto.upper() or "Frame")
        self._item("error", "Malformed", name, "Malformed Packet (Exception occurred)")

    def _item(self, level: str, group: str, protocol: str, summary: str) -> None:
        if LEVELS.index(level) > self.lowest:
            return
        table = self.items[level]
        entry = table.get((protocol, summary))
        if entry is None:
            if len(table) >= MAX_ENTRIES:
                self.dropped += 1
                return
            entry = table[(protocol, summary)] = [group, 0]
        entry[1] += 1

    def rows(self) -> list[dict[str, Any]]:
        return [{"severity": level, "group": group, "protocol": proto, "summary": summary,
                 "count": count}
                for level in LEVELS
                for (proto, summary), (group, count) in self.items[level].items()]  # fmt: skip

    def report(self, out: IO[str]) -> None:
        if self.json:
            write_json(out, self, self.rows())
            return
        for level in LEVELS:
            table = self.items[level]
            if not table:
                continue
            total = sum(count for _group, count in table.values())
            out.write(f"\n{LABELS[level]} ({total})\n=============\n")
            out.write("   Frequency      Group           Protocol  Summary\n")
            for (proto, summary), (group, count) in table.items():
                out.write(f"{count:12d} {group:>10} {proto:>18}  {summary}\n")


def _escaped(text: str) -> str:
    """format_text's escapes for a line shown as a summary."""
    return text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")
