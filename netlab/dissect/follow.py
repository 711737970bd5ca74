"""`netlab dissect --follow tcp,N`: one TCP stream's payload in order, like tshark -z follow.

Each direction is put back in sequence order: retransmitted bytes are dropped,
overlapping ones trimmed, and segments that arrive early wait until the gap before
them is filled. Bytes that never appear in the capture are shown as
"[N bytes missing in capture file]", as Wireshark does; that happens when the other
side acknowledges past them, when the wait buffer is full, or at the end.

Node 0 is the source of the stream's first packet (the client when the handshake is
in the capture). Output modes are tshark's: `ascii` (text, with byte counts), `hex`
(offset, hex, ASCII) and `raw` (one line of hex per segment); node 1's chunks are
indented with a tab. Memory is bounded: at most MAX_KEPT bytes of payload are kept
(then a note says the rest was not), and MAX_PENDING bytes wait out of order.
"""

from __future__ import annotations

import socket
from array import array
from collections.abc import Iterator
from typing import IO, Any

from netlab.dissect.model import Packet
from netlab.render.jsonout import dumps

MAX_KEPT = 64 * 1024 * 1024  # payload bytes, plus INDEX_COST per chunk
INDEX_COST = 8  # one array entry per chunk: a stream of 1-byte segments is bounded too
MAX_PENDING = 4 * 1024 * 1024  # per direction: out-of-order data waiting for a gap to fill
MAX_PENDING_SEGMENTS = 1024  # keeps the in-order check cheap
MODES = {"ascii": "ascii", "text": "ascii", "hex": "hex", "raw": "raw"}
RULE = "=" * 67
SYN, ACK = 0x02, 0x10
# ascii mode: printable ASCII, CR and LF as they are, anything else as "." (as tshark).
_TEXT = bytes(b if 32 <= b < 127 or b in (10, 13) else 46 for b in range(256))
_DUMP = bytes(b if 32 <= b < 127 else 46 for b in range(256))


PROTOCOLS = ("tcp", "udp", "tls", "http2")
USAGE = ("tcp|udp|tls,N[,MODE] or http2,N,SID[,MODE] (N: the tcp.stream/udp.stream number; "
         "tcp and udp also take ADDR:PORT,ADDR:PORT; MODE: ascii, hex or raw)")  # fmt: skip


def parse_follow_spec(spec: str, *, json: bool = False, limit: int = MAX_KEPT) -> FollowTcp:
    """PROTO,N[,MODE] or tshark's order PROTO,MODE,N (http2: N,SID); MODE is ascii (or
    text), hex or raw; tcp and udp also take tshark's ADDR:PORT,ADDR:PORT for N."""
    parts = [p.strip() for p in spec.split(",")]
    proto = parts[0].lower()
    if proto not in PROTOCOLS:
        raise ValueError(f"{spec!r}: {parts[0]!r} cannot be followed: expected {USAGE}")
    args = parts[1:]
    modes = [a.lower() for a in args if a.lower() in MODES]
    rest = [a for a in args if a.lower() not in MODES]
    if len(modes) > 1:
        raise ValueError(f"{spec!r}: one MODE at most: expected {USAGE}")
    mode = modes[0] if modes else "ascii"
    cls = {"tcp": FollowTcp, "udp": FollowUdp, "tls": FollowTls, "http2": FollowHttp2}[proto]
    if proto in ("tcp", "udp") and len(rest) == 2 and all(":" in r for r in rest):
        tap = cls(-1, mode, json=json, limit=limit)
        tap.match_ends([_endpoint(r, spec) for r in rest])
        return tap
    wanted = 2 if proto == "http2" else 1
    if len(rest) != wanted or not all(r.isdigit() and len(r) < 10 for r in rest):
        raise ValueError(f"{spec!r}: expected {USAGE}")
    tap = cls(int(rest[0]), mode, json=json, limit=limit)
    if proto == "http2":
        tap.sid = int(rest[1])
    return tap


def _endpoint(text: str, spec: str) -> tuple[bytes, int]:
    """ "198.18.0.1:80" or "[2001:db8::1]:80" -> (address bytes, port)."""
    addr, _, port = text.rpartition(":")
    addr = addr[1:-1] if addr.startswith("[") and addr.endswith("]") else addr
    try:
        family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        raw = socket.inet_pton(family, addr)
        number = int(port)
    except (OSError, ValueError):
        raise ValueError(f"{spec!r}: {text!r} is not ADDR:PORT") from None
    if not 0 <= number <= 65535:
        raise ValueError(f"{spec!r}: {text!r}: the port is out of range")
    return raw, number


def seq_diff(a: int, b: int) -> int:
    """a - b in 32-bit sequence space (RFC 9293 §3.4: comparisons wrap around)."""
    return (a - b + 0x8000_0000) % 0x1_0000_0000 - 0x8000_0000


class _Direction:
    """Reassembly state of one direction: next expected sequence number and early segments."""

    __slots__ = ("next_seq", "pending", "pending_bytes")

    def __init__(self) -> None:
        self.next_seq: int | None = None
        self.pending: dict[int, tuple[bytes, int]] = {}  # seq → (captured bytes, length on wire)
        self.pending_bytes = 0


class FollowTcp:
    """A tap that reassembles tcp.stream N and prints it when the capture ends."""

    proto = "tcp"

    def __init__(self, stream: int, mode: str = "ascii", *, json: bool = False,
                 limit: int = MAX_KEPT) -> None:  # fmt: skip
        self.stream = stream
        self.mode = MODES[mode]
        self.json = json
        self.limit = limit
        self.nodes: list[tuple[bytes, int]] = []  # [node 0, node 1] as (address, port)
        self.dirs = (_Direction(), _Direction())
        # Delivered chunks, compactly: all their bytes in one buffer, and per chunk one
        # entry `size << 1 | node`, negative when the chunk is bytes missing from the capture.
        self.data = bytearray()
        self.index = array("q")
        self.kept = 0  # what the chunks cost, counted against the limit
        self.truncated = False

    # --- reassembly ----------------------------------------------------------------------

    ends: list[tuple[bytes, int]] | None = None  # ADDR:PORT,ADDR:PORT instead of a number

    def match_ends(self, ends: list[tuple[bytes, int]]) -> None:
        self.ends = ends

    def which(self) -> str:
        """What is followed, as the spec wrote it (N, or ADDR:PORT,ADDR:PORT)."""
        if self.ends is None:
            return str(self.stream)
        return ",".join(f"[{_addr_text(a)}]:{p}" if len(a) == 16 else f"{_addr_text(a)}:{p}"
                        for a, p in self.ends)  # fmt: skip

    def filter_text(self) -> str:
        if self.ends is None:
            return f"{self.proto}.stream eq {self.stream}"
        (a, p), (b, q) = self.ends
        ip = "ipv6" if len(a) == 16 else "ip"
        a_text, b_text = (_addr_text(x) for x in (a, b))
        one = f"({ip}.src eq {a_text} and {self.proto}.srcport eq {p})"
        two = f"({ip}.dst eq {b_text} and {self.proto}.dstport eq {q})"
        # (tshark 4.0 writes the reverse direction with the addresses in the same order)
        three = f"({ip}.src eq {a_text} and {self.proto}.srcport eq {q})"
        four = f"({ip}.dst eq {b_text} and {self.proto}.dstport eq {p})"
        return f"({one} and {two}) or ({three} and {four})"

    def _wanted(self, net: Any, layer: Any, stream: int | None) -> bool:
        """Whether a TCP/UDP header belongs to what is followed."""
        if self.ends is None:
            return stream is not None and stream == self.stream
        hdr = layer.hdr
        pair = [(net.hdr.src, hdr.sport), (net.hdr.dst, hdr.dport)]
        return pair == self.ends or pair[::-1] == self.ends

    def add(self, pkt: Packet) -> None:
        net = None
        for layer in pkt.layers:
            proto = layer.proto
            if proto in ("icmp", "icmpv6"):
                return  # what follows is a quoted datagram, not part of any stream
            if proto in ("ip", "ipv6") and layer.hdr is not None:
                net = layer
            elif (proto == "tcp" and net is not None and layer.extra is not None
                  and self._wanted(net, layer, _stream_of(layer))):  # fmt: skip
                self._segment(pkt, net, layer)

    def _segment(self, pkt: Packet, net: Any, tcp: Any) -> None:
        hdr = tcp.hdr
        sport, dport, seq, ack, offflags = hdr.sport, hdr.dport, hdr.seq, hdr.ack, hdr.offflags
        src, dst = net.hdr.src, net.hdr.dst
        net_end = net.off + net.hdr.datagram_len  # where the IP payload ends on the wire
        if not self.nodes:
            self.nodes = [(src, sport), (dst, dport)]
        side = 0 if (src, sport) == self.nodes[0] else 1
        if offflags & ACK:
            self._acknowledged(1 - side, ack)
        start = tcp.off + (offflags >> 12) * 4
        data = pkt.buf[start : start + tcp.extra.seg_len]
        # A snapshot length can cut the payload: the wire length still moves the sequence.
        wire_len = max(len(data), net_end - start)
        if offflags & SYN:
            seq = (seq + 1) & 0xFFFF_FFFF  # the SYN takes one sequence number, not a byte
        self._receive(side, seq, data, wire_len)

    def _receive(self, side: int, seq: int, data: bytes, wire_len: int) -> None:
        flow = self.dirs[side]
        if flow.next_seq is None:
            flow.next_seq = seq
        if wire_len == 0:
            return
        ahead = seq_diff(seq, flow.next_seq)
        if ahead > 0:
            self._wait(side, seq, data, wire_len)
            return
        if ahead + wire_len <= 0:
            return  # a retransmission of bytes already delivered
        self._deliver(side, data[-ahead:], wire_len + ahead)
        self._drain(side)

    def _deliver(self, side: int, data: bytes, wire_len: int) -> None:
        flow = self.dirs[side]
        flow.next_seq = (flow.next_seq + wire_len) & 0xFFFF_FFFF
        data = self._keep(side, data)
        if wire_len > len(data):
            self._missing(side, wire_len - len(data))

    def _keep(self, side: int, data: bytes) -> bytes:
        """Add a chunk (cut at the memory limit); returns what was kept."""
        if data:
            room = self.limit - self.kept - INDEX_COST
            if len(data) > room:
                self.truncated = True
                data = data[: max(room, 0)]
            if data:
                self.data += data
                self.index.append(len(data) << 1 | side)
                self.kept += len(data) + INDEX_COST
        return data

    def _missing(self, side: int, size: int) -> None:
        if not self.truncated:  # past the limit nothing more is shown, gaps included
            self.index.append(-(size << 1 | side))
            self.kept += INDEX_COST

    def chunks(self) -> Iterator[tuple[int, bytes | int]]:
        """(node, bytes), or (node, count) for bytes missing from the capture, in order."""
        pos = 0
        for entry in self.index:
            size, side = abs(entry) >> 1, abs(entry) & 1
            if entry < 0:
                yield side, size
            else:
                yield side, bytes(self.data[pos : pos + size])
                pos += size

    def _wait(self, side: int, seq: int, data: bytes, wire_len: int) -> None:
        flow = self.dirs[side]
        old = flow.pending.get(seq)
        if old is not None and old[1] >= wire_len:
            return
        flow.pending[seq] = (data, wire_len)
        flow.pending_bytes += len(data) - (len(old[0]) if old else 0)
        if flow.pending_bytes > MAX_PENDING or len(flow.pending) > MAX_PENDING_SEGMENTS:
            self._skip_gap(side)  # give up on the gap rather than grow without bound

    def _drain(self, side: int) -> None:
        """Deliver waiting segments that now start at or before the next expected byte."""
        flow = self.dirs[side]
        while flow.pending:
            ready = [s for s in flow.pending if seq_diff(s, flow.next_seq) <= 0]
            if not ready:
                return
            for seq in ready:
                data, wire_len = flow.pending.pop(seq)
                flow.pending_bytes -= len(data)
                ahead = seq_diff(seq, flow.next_seq)
                if ahead + wire_len > 0:
                    self._deliver(side, data[-ahead:], wire_len + ahead)

    def _skip_gap(self, side: int) -> None:
        """Declare the bytes before the earliest waiting segment lost, then go on from it."""
        flow = self.dirs[side]
        if not flow.pending:
            return
        first = min(flow.pending, key=lambda s: seq_diff(s, flow.next_seq))
        self._missing(side, seq_diff(first, flow.next_seq))
        flow.next_seq = first
        self._drain(side)

    def _acknowledged(self, side: int, ack: int) -> None:
        # The receiver acknowledged past a gap: those bytes were sent but not captured.
        flow = self.dirs[side]
        if flow.pending and any(seq_diff(ack, s) > 0 for s in flow.pending):
            self._skip_gap(side)

    # --- output --------------------------------------------------------------------------

    def finish(self) -> None:
        for side in (0, 1):
            while self.dirs[side].pending:
                self._skip_gap(side)

    def node_text(self, index: int) -> str:
        if len(self.nodes) <= index:
            return ":0"  # no packet of this stream (tshark prints the same)
        addr, port = self.nodes[index]
        if len(addr) == 16:
            return f"[{socket.inet_ntop(socket.AF_INET6, addr)}]:{port}"
        return f"{socket.inet_ntoa(addr)}:{port}"

    def report(self, out: IO[str]) -> None:
        self.finish()
        stat = f"follow,{self.proto},{self.mode},{self.which()}"
        if self.json:
            out.write(dumps(self._json_record(stat)) + "\n")
            return
        lines = ["", RULE, f"Follow: {self.proto},{self.mode}", f"Filter: {self.filter_text()}",
                 f"Node 0: {self.node_text(0)}", f"Node 1: {self.node_text(1)}"]  # fmt: skip
        out.write("\n".join(lines) + "\n")
        offsets = [0, 0]
        for side, chunk in self.chunks():
            out.write(self._render(side, chunk, offsets))
        if self.truncated:
            out.write(f"[netlab: only the first {self.limit // 1048576} MiB of the stream kept]\n")
        out.write(RULE + "\n")

    def _render(self, side: int, chunk: bytes | int, offsets: list[int]) -> str:
        indent = "\t" if side else ""
        if isinstance(chunk, int):
            # raw mode is for piping the bytes on: a note there would corrupt them
            return (
                "" if self.mode == "raw" else f"{indent}[{chunk} bytes missing in capture file]\n"
            )
        if self.mode == "raw":
            return f"{indent}{chunk.hex()}\n"
        if self.mode == "ascii":
            return f"{indent}{len(chunk)}\n{chunk.translate(_TEXT).decode('ascii')}\n"
        text = "".join(f"{indent}{line}\n" for line in hex_lines(chunk, offsets[side]))
        offsets[side] += len(chunk)
        return text

    def _json_record(self, stat: str) -> dict[str, Any]:
        chunks = []
        offsets = [0, 0]
        for side, chunk in self.chunks():
            if isinstance(chunk, int):
                chunks.append({"node": side, "missing": chunk})
                continue
            chunks.append({"node": side, "offset": offsets[side], "len": len(chunk),
                           "data": chunk.hex()})  # fmt: skip
            offsets[side] += len(chunk)
        nodes = [self.node_text(i) if i < len(self.nodes) else None for i in (0, 1)]
        return {"type": "follow", "stat": stat, "stream": self.stream, "node0": nodes[0],
                "node1": nodes[1], "chunks": chunks, "truncated": self.truncated}  # fmt: skip


def hex_lines(data: bytes, offset: int) -> list[str]:
    """tshark's follow hex layout: offset, 8 + 8 bytes in hex, the same 8 + 8 as ASCII."""
    lines = []
    for pos in range(0, len(data), 16):
        row = data[pos : pos + 16]
        hexes = "".join(f"{b:02x} " for b in row[:8]) + " " + "".join(f"{b:02x} " for b in row[8:])
        text = row[:8].translate(_DUMP).decode("ascii")
        if len(row) > 8:
            text += " " + row[8:].translate(_DUMP).decode("ascii")
        line = f"{offset + pos:08X}  {hexes:<49} {text}"
        # tshark drops one trailing blank, even when it is a space byte of the data
        lines.append(line[:-1] if line.endswith(" ") else line)
    return lines


def _stream_of(layer: Any) -> int | None:
    state = layer.extra  # tcp.TcpState
    return None if state is None else state.stream  # None: truncated, bogus or quoted


def _addr_text(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6 if len(raw) == 16 else socket.AF_INET, raw)


def _side(tap: FollowTcp, src: tuple[bytes, int], dst: tuple[bytes, int]) -> int:
    """Node 0 is the source of the first packet followed."""
    if not tap.nodes:
        tap.nodes = [src, dst]
    return 0 if src == tap.nodes[0] else 1


class FollowUdp(FollowTcp):
    """udp.stream N: each datagram's payload is a chunk, in capture order (as tshark)."""

    proto = "udp"

    def add(self, pkt: Packet) -> None:
        net = None
        for layer in pkt.layers:
            proto = layer.proto
            if proto in ("icmp", "icmpv6"):
                return
            if proto in ("ip", "ipv6") and layer.hdr is not None:
                net = layer
            elif proto == "udp" and net is not None and layer.hdr is not None:
                hdr = layer.hdr
                stream = hdr.stream if hdr.stream >= 0 else None
                if self._wanted(net, layer, stream):
                    side = _side(self, (net.hdr.src, hdr.sport), (net.hdr.dst, hdr.dport))
                    buf = pkt.buf if layer.data is None else layer.data
                    end = min(layer.off + max(hdr.length, 8), len(buf))
                    self._keep(side, bytes(buf[layer.off + 8 : end]))
                    return  # (a datagram tunnelled inside is not this stream)


def _tcp_side(tap: FollowTcp, pkt: Packet, index: int) -> tuple[int, int] | None:
    """(tcp.stream, node) of the TCP header before pkt.layers[index], or None."""
    found = _tcp_before(tap, pkt, index)
    if found is None:
        return None
    net, hdr = found
    return tap.stream, _side(tap, (net.src, hdr.sport), (net.dst, hdr.dport))


def _tcp_before(tap: FollowTcp, pkt: Packet, index: int) -> tuple[Any, Any] | None:
    """(IP header, TCP header) before pkt.layers[index], if of the stream followed."""
    net = tcp = None
    for layer in pkt.layers[:index]:
        if layer.proto in ("icmp", "icmpv6"):
            return None
        if layer.proto in ("ip", "ipv6") and layer.hdr is not None:
            net = layer
        elif layer.proto == "tcp" and layer.extra is not None and net is not None:
            tcp = layer
    if tcp is None or _stream_of(tcp) != tap.stream:
        return None
    return net.hdr, tcp.hdr


class FollowTls(FollowTcp):
    """tcp.stream N's decrypted TLS application data (needs --keylog), a chunk per
    record, as tshark -z follow,tls shows it; nothing without the keys. As in tshark
    4.0, node 0 is the sender of the first packet with a record it could decrypt (in
    TLS 1.3 the server's encrypted handshake), and node 1 is never named (":0")."""

    proto = "tls"

    def filter_text(self) -> str:
        return f"tcp.stream eq {self.stream}"

    def add(self, pkt: Packet) -> None:
        for i, layer in enumerate(pkt.layers):
            if layer.proto != "tls" or layer.hdr is None:
                continue
            records = [r for r in getattr(layer.hdr, "records", ()) if r.plain is not None]
            if not records:
                continue
            found = _tcp_before(self, pkt, i)
            if found is None:
                return
            sender = (found[0].src, found[1].sport)
            if not self.nodes:
                self.nodes = [sender]
            side = 0 if sender == self.nodes[0] else 1
            for rec in records:
                if _app_data(rec):
                    self._keep(side, bytes(rec.plain))


def _app_data(rec: Any) -> bool:
    kind = rec.inner if rec.inner is not None else rec.ctype
    return kind == 23 and bool(rec.plain) and rec.problem is None


class FollowHttp2(FollowTcp):
    """HTTP/2 stream SID of tcp.stream N, as tshark -z follow,http2 shows it: a HEADERS
    (CONTINUATION, PUSH_PROMISE) frame as its decoded header list (each name and value
    after a 32-bit length), any other frame as its bytes, the frame header included."""

    proto = "http2"
    sid = 0

    def filter_text(self) -> str:
        return f"tcp.stream eq {self.stream} and http2.streamid eq {self.sid}"

    def which(self) -> str:
        return f"{self.stream},{self.sid}"

    def add(self, pkt: Packet) -> None:
        found = None
        for i, layer in enumerate(pkt.layers):
            frame = layer.hdr
            if layer.proto != "http2" or frame is None or frame.magic or frame.sid != self.sid:
                continue
            if found is None:
                found = _tcp_side(self, pkt, i)
                if found is None:
                    return
            if frame.ftype in HEADER_FRAMES:
                if frame.fields:
                    self._keep(found[1], _header_list(frame.fields))
            else:  # DATA, SETTINGS, WINDOW_UPDATE …: the frame's own bytes
                buf = pkt.buf if layer.data is None else layer.data
                self._keep(found[1], bytes(buf[layer.off : layer.end]))


HEADER_FRAMES = (1, 5, 9)  # HEADERS, PUSH_PROMISE, CONTINUATION


def _header_list(fields: list) -> bytes:
    out = bytearray()
    for field in fields:
        for text in (field.name, field.value):
            raw = text.encode("utf-8", "surrogateescape")
            out += len(raw).to_bytes(4, "big") + raw
    return bytes(out)
