"""TCP (RFC 9293): flags, options, stream index, relative sequence numbers, window scaling.

Relative numbers follow Wireshark: each direction's base is its SYN's sequence
number; a direction first seen without a SYN gets base = seq - 1 (so it reads
Seq=1), and a direction first learnt from the other side's ACK gets base = ack - 1.
A segment in the first fragment of an IP datagram that is not reassembled has no
known length, so it keeps its raw numbers and leaves this state alone.
"""

from __future__ import annotations

import struct
from typing import Any, NamedTuple

import netlab.dissect.registry as registry
from netlab.dissect.base import decode_data
from netlab.dissect.model import (
    Layer,
    Packet,
    flag_rows,
    port_rows,
    remember,
    row,
    show_text,
)  # fmt: skip
from netlab.wire.tcp_options import walk as walk_options


class TcpHeader(NamedTuple):
    """The fixed header as on the wire (`Layer.hdr` of a TCP layer)."""

    sport: int
    dport: int
    seq: int  # raw sequence and acknowledgment numbers
    ack: int
    offflags: int  # data offset (4 bits) and the 12 flag bits
    win: int  # the window field, unscaled
    checksum: int
    urgent: int

    @property
    def flags(self) -> int:
        return self.offflags & 0x0FFF

    @property
    def hdr_len(self) -> int:
        return (self.offflags >> 12) * 4


class TcpState(NamedTuple):
    """What the segment's stream makes of it (`Layer.extra` of a TCP layer); None for a
    header quoted in an ICMP error or with a bogus length, which belongs to no stream."""

    stream: int  # tcp.stream
    rel_seq: int
    rel_ack: int
    seg_len: int | None  # None: a first fragment, whose length is unknown
    window: int  # scaled
    scale: int  # the shift, or -1 unknown, -2 no scaling
    options: dict[str, Any]  # _parse_options
    analysis: list[tuple]  # tcp.analysis.flags as (name, *values), in Wireshark's order
    # Wireshark's "SEQ/ACK analysis" values (acks_frame, ack_rtt ns, initial_rtt ns,
    # bytes_in_flight, push_bytes_sent, rto ns, rto_frame; 0 where absent), or None
    # when Wireshark keeps no analysis record for the segment.
    seq_ack: tuple | None = None
    # The payload waits in a PDU still being reassembled: Wireshark's "TCP segment data"
    # (tcp.segment_data), as a retransmitted payload is (see hidden()).
    held: bool = False


_HDR = struct.Struct("!HHIIHHHH")
# (struct methods bound once: compiled, a module name is a cached lookup where an
# attribute is a dictionary search and a new bound method, for every segment)
_unpack_hdr = _HDR.unpack_from
_new = tuple.__new__  # a header type over an unpacked tuple, without a copy
FLAG_BITS = [  # (Wireshark name, mask, label) from the most significant bit down
    ("res", 0xE00, "Reserved"), ("ae", 0x100, "Accurate ECN"), ("cwr", 0x80, "Congestion Window Reduced"),
    ("ece", 0x40, "ECN-Echo"), ("urg", 0x20, "Urgent"), ("ack", 0x10, "Acknowledgment"),
    ("push", 0x08, "Push"), ("reset", 0x04, "Reset"), ("syn", 0x02, "Syn"), ("fin", 0x01, "Fin"),
]  # fmt: skip
# Order of the names in the info column, as tshark prints them ("[FIN, PSH, ACK]").
INFO_FLAGS = [(0x01, "FIN"), (0x02, "SYN"), (0x04, "RST"), (0x08, "PSH"), (0x10, "ACK"),
              (0x20, "URG"), (0x40, "ECE"), (0x80, "CWR"), (0x100, "AE"), (0xE00, "Reserved")]  # fmt: skip
OPTION_NAMES = {0: "End of Option List (EOL)", 1: "No-Operation (NOP)",
                2: "Maximum segment size", 3: "Window scale", 4: "SACK permitted", 5: "SACK",
                8: "Timestamps", 30: "Multipath TCP", 34: "TFO"}  # fmt: skip
MAX_SACK_BLOCKS = 4
MASK = 0xFFFFFFFF
UNSET = -1  # a Direction's sequence number not known yet
MAX_PENDING = 1 << 20  # bytes of an unfinished PDU kept per direction before giving up


def seq_before(a: int, b: int) -> bool:
    """a < b in 32-bit sequence space (RFC 1982 serial arithmetic)."""
    return (a - b) & MASK > 0x7FFFFFFF


class Direction:
    __slots__ = ("ack_frame", "base", "dup_acks", "keep_alive", "last_ack", "last_ack_ts",
                 "last_win", "max_acked", "next_seq", "next_seq_frame", "next_seq_ts", "ordered",
                 "pending", "pending_seq", "probe", "push_bytes", "push_last", "sacked", "segs",
                 "valid_bif", "wscale")  # fmt: skip

    def __init__(self) -> None:
        # Sequence numbers are 0..2^32-1: UNSET (-1) says "none yet" (an integer, not None,
        # so that the compiled module keeps them as C integers: tcp.pxd).
        self.base = UNSET
        self.wscale = -1  # -1 unknown; -2 no scaling (a SYN without the option)
        # Wireshark's tcp_analyze_seq_info, absolute numbers; UNSET where it has 0 (unset).
        self.next_seq = UNSET  # highest seq + len seen
        self.next_seq_frame = 0
        self.next_seq_ts: int | None = None
        self.max_acked = UNSET  # 'max seq to be acked': highest contiguous
        self.last_ack = UNSET  # the ack field of the last segment, any flags
        self.last_ack_ts: int | None = None
        self.last_win = -1  # its window field (Wireshark starts at G_MAXUINT32: never 0)
        self.ack_frame = 0  # the frame a duplicate ACK duplicates
        self.dup_acks = 0
        self.keep_alive = False  # the last segment was a keep-alive / zero window probe
        self.probe = False
        # Segments sent and not yet acknowledged, oldest first: [seq, nextseq, frame, ts];
        # `ordered` while each starts at or after the one before ends (acks then stop early).
        self.segs: list[list] = []
        self.ordered = True
        self.valid_bif = True
        self.sacked = 0  # bytes the SACK blocks of this side's last segment cover
        self.push_bytes = 0
        self.push_last = False
        # Reassembly: bytes of a PDU that began in earlier segments (made when first
        # needed: most streams never carry one), and the sequence number the next
        # segment must start at to continue it.
        self.pending: bytearray | None = None
        self.pending_seq: int | None = None


class Stream:
    __slots__ = ("app", "closed", "dirs", "first_rtt", "index", "syn_ts")

    def __init__(self, index: int) -> None:
        self.index = index
        self.syn_ts: int | None = None  # the most recent SYN (Wireshark's ts_mru_syn)
        self.first_rtt = 0  # tcp.analysis.initial_rtt in ns: SYN to the handshake's ACK
        self.dirs = (Direction(), Direction())
        self.closed = False  # FIN or RST seen: a later SYN starts a new stream (port reuse)
        # The session of a StreamProtocol with one (HTTP): once made, every later
        # segment of the stream goes to it, whatever its ports or first bytes.
        self.app: Any = None


_PORTS = struct.Struct("!HH")
_pack_ports = _PORTS.pack
_PORT = struct.Struct("!H")


def conversation_key(src: bytes, sport: int, dst: bytes, dport: int) -> tuple[bytes, int]:
    """One bytes object for both directions of a conversation (lower address and port
    first), and the side (0/1) this packet goes from. A real trace holds 100,000s of
    conversations: a flat key costs a third of a tuple of tuples."""
    if src < dst or (src == dst and sport <= dport):
        return src + dst + _pack_ports(sport, dport), 0
    return dst + src + _pack_ports(dport, sport), 1


class TcpTracker:
    """tcp.stream numbers and per-direction state; memory grows with conversations only."""

    def __init__(self) -> None:
        self.streams: dict[bytes, Stream] = {}
        self.count = 0
        self.sessions = 0  # streams that a session protocol has claimed (Stream.app)
        # Conversations another protocol announced (Wireshark's conversation table: FTP's
        # PASV/PORT name the data connection): address + port -> a function making the
        # session that takes a new stream to or from there. `last` is the segment
        # lookup() placed last (src, sport, dst, dport), for sessions that need its ends.
        self.expected: dict[bytes, Any] = {}
        self.last: tuple = ()

    def lookup(
        self, src: bytes, sport: int, dst: bytes, dport: int, flags: int
    ) -> tuple[Stream, int]:
        """The segment's stream (made now if it starts one) and its side (0/1)."""
        key, side = conversation_key(src, sport, dst, dport)
        self.last = (src, sport, dst, dport)
        stream = self._current(key, flags)
        if stream is None:
            stream = Stream(self.count)
            self.count += 1
            self.streams[key] = stream
            if self.expected:
                make = self.expected.get(dst + _PORT.pack(dport)) or self.expected.get(
                    src + _PORT.pack(sport)
                )
                if make is not None:
                    stream.app = make()
                    self.sessions += 1
        return stream, side

    def expect(self, address: bytes, port: int, make: Any, limit: int = 4096) -> None:
        """A later stream to or from ADDRESS:PORT belongs to the session MAKE() makes."""
        if len(self.expected) >= limit:
            self.expected.pop(next(iter(self.expected)))
        self.expected[address + _PORT.pack(port)] = make

    def peek(self, src: bytes, sport: int, dst: bytes, dport: int, flags: int):
        """The Direction this segment would continue, or None when it would start a
        new stream: lookup() without changing anything."""
        key, side = conversation_key(src, sport, dst, dport)
        stream = self._current(key, flags)
        return None if stream is None else stream.dirs[side]

    def held(self, src: bytes, sport: int, dst: bytes, dport: int, flags: int):
        """(stream, side) of a segment whose stream a session protocol holds (HTTP found
        by its heuristic, say: `stream.app.proto`), or None; changes nothing. _follow
        takes it as the lookup it would make (one lookup per segment, not two)."""
        key, side = conversation_key(src, sport, dst, dport)
        stream = self._current(key, flags)
        return None if stream is None or stream.app is None else (stream, side)

    def _current(self, key: bytes, flags: int) -> Stream | None:
        stream = self.streams.get(key)
        if stream is None or (flags & 0x12 == 0x02 and stream.closed):
            return None  # a first segment, or a SYN reusing a closed stream's ports
        return stream


def decode_tcp(d, pkt: Packet, buf: bytes, off: int, end: int):
    if end - off < 20:
        layer = Layer(
            "tcp", "Transmission Control Protocol (truncated)", off, end, None, _port_rows
        )
        pkt.layers.append(layer)
        if end - off >= 8 and pkt.quoted:  # quoted in an ICMP error: ports and seq suffice
            layer.hdr = TcpHeader(*struct.unpack_from("!HHI", buf, off), 0, 0, 0, 0, 0)
            layer.fields_fn = _rows
            return None
        if end - off >= 4 and pkt.quoted:  # the ports only: what _port_rows shows
            return None
        pkt.mark_malformed(layer, f"tcp: header needs 20 bytes at offset {off}, have {end - off}")
        return None
    hdr = _new(TcpHeader, _unpack_hdr(buf, off))
    sport, dport, seq, _ack, offflags, _win, _csum, _urg = hdr
    hlen = (offflags >> 12) * 4
    flags = offflags & 0x0FFF  # 12 bits, as Wireshark's tcp.flags: 3 reserved + AE + 8
    if hlen < 20:
        layer = Layer("tcp", _title, off, off + 20, hdr, _rows)
        pkt.layers.append(layer)
        pkt.mark_malformed(layer, f"tcp: bogus header length {hlen} < 20 at offset {off}")
        pkt.protocol, pkt.info = "TCP", f"{sport} → {dport} [Bogus TCP header length ({hlen})]"
        return None
    opts_end = min(off + hlen, end)
    options = _parse_options(buf, off + 20, opts_end)
    payload = off + hlen
    seg_len = max(0, end - payload)
    if pkt.quoted:
        pkt.layers.append(Layer("tcp", _title, off, opts_end, hdr, _rows))
        return None
    if pkt.fragmented:
        stream = d.tcp.lookup(pkt.src_raw, sport, pkt.dst_raw, dport, flags)[0]
        return _first_fragment(d, pkt, buf, off, end, hdr, stream.index, options)
    stream, fwd, rev, analysis, seq_ack = _follow(d, pkt.no, pkt.src_raw, pkt.dst_raw, hdr,
                                                  options, seg_len, pkt.ts_ns)  # fmt: skip
    rel_seq, rel_ack, window, scale, pkt.info = _seen(hdr, fwd, rev, seg_len, options,
                                                      analysis, d.absolute_seq, d.info)  # fmt: skip
    if analysis:  # (kept in front of what an application writes: Packet.info_column)
        pkt.fence = marks_text(analysis)
    layer = Layer("tcp", _title, off, opts_end, hdr, _rows)
    # -o tcp.relative_sequence_numbers:FALSE: the numbers shown as they are (the rows
    # know it by shown == raw, _rel)
    shown_seq, shown_ack = (seq, hdr[3]) if d.absolute_seq else (rel_seq, rel_ack)
    layer.extra = _new(TcpState, (stream.index, shown_seq, shown_ack, seg_len, window, scale,
                                  options, analysis, seq_ack, False))  # fmt: skip
    pkt.layers.append(layer)
    pkt.protocol = "TCP"
    if hlen > end - off:
        pkt.mark_malformed(layer, f"tcp: header length {hlen} runs past the captured data")
        return None
    if seg_len == 0:
        if flags & 0x05 and fwd.pending and stream.app is not None:
            # The close completes a PDU that runs until it (or shows one cut short).
            return _reassemble_session(d, pkt, stream, fwd, buf, end, end, seq, True)
        return None
    if stream.app is not None:
        decoder = stream.app.proto
    else:
        decoder = registry.app_decoder("tcp", sport, dport, buf, payload, end)
        if decoder is None and rel_seq + (flags >> 1 & 1) == 1 and registry.START_HEURISTICS["tcp"]:
            decoder = registry.start_decoder("tcp", buf, payload, end)
    if isinstance(decoder, registry.StreamProtocol):
        if analysis and repeats(analysis):
            if d.light or hidden(analysis):
                return None
            return decode_data(d, pkt, buf, payload, end)  # already seen (and reassembled) once
        if decoder.session is not None:
            _claim(d, stream, decoder)
            return _reassemble_session(d, pkt, stream, fwd, buf, payload, end, seq,
                                       bool(flags & 0x05))  # fmt: skip
        return _reassemble(d, pkt, fwd, decoder, buf, payload, end, seq)
    if d.light:  # another process shows this packet: only the state above mattered
        return None
    if analysis and hidden(analysis):
        return None
    if decoder is None or (analysis and ("keep_alive",) in analysis):
        return decode_data(d, pkt, buf, payload, end)
    return decoder(d, pkt, buf, payload, end)


def _follow(
    d, no: int, src: bytes, dst: bytes, hdr: tuple, options: dict, seg_len: int, ts: int | None,
    held: tuple | None = None,
):  # fmt: skip
    """What a segment changes in its stream's state: stream number, base sequence
    numbers, window scale, closing, analysis. TS: the frame's time in ns (None where
    the caller has none: its marks that depend on time are then left out). HELD: the
    (stream, side) TcpTracker.held found for it, if the caller asked.
    -> (stream, fwd, rev, analysis, seq_ack)"""
    sport, dport, seq, ack, offflags, win, _csum, _urg = hdr
    flags = offflags & 0x0FFF
    if held is None:
        stream, side = d.tcp.lookup(src, sport, dst, dport, flags)
    else:  # (an existing stream: lookup would only have noted the ends)
        stream, side = held
        d.tcp.last = (src, sport, dst, dport)
    fwd, rev = stream.dirs[side], stream.dirs[1 - side]
    if fwd.base < 0:
        fwd.base = seq if flags & 0x02 else (seq - 1) & 0xFFFFFFFF
    if flags & 0x10 and rev.base < 0:
        rev.base = (ack - 1) & 0xFFFFFFFF
    if flags & 0x02:
        fwd.wscale = options.get("wscale", -2)
    if flags & 0x05:
        stream.closed = True
    if flags & 0x12 == 0x10:
        if stream.syn_ts is not None and not stream.first_rtt and ts is not None:
            stream.first_rtt = ts - stream.syn_ts  # the handshake's ACK: iRTT
    elif flags & 0x12 == 0x02:
        stream.syn_ts = ts
    if not d.number_udp:  # a view without fields (d.number_udp): the marks alone
        found = _analyse_seq(no, ts, stream, fwd, rev, seq, ack, win, flags, seg_len)[0]
        return stream, fwd, rev, found, None
    sack = options.get("sack")
    fwd.sacked = _sacked(sack) if sack else 0
    return stream, fwd, rev, *_analyse(no, ts, stream, fwd, rev, seq, ack, win, flags, seg_len)


def _seen(hdr: tuple, fwd: Direction, rev: Direction, seg_len: int, options, analysis,
          absolute: bool = False, text: bool = True):  # fmt: skip
    """A segment as its stream's state shows it: relative numbers, scaled window, info
    (with the numbers as they are when ABSOLUTE: tshark -o
    tcp.relative_sequence_numbers:FALSE; "" without TEXT: a view that shows no Info
    column, Dissector.info).
    -> (rel_seq, rel_ack, window, scale, info)"""
    sport, dport, seq, ack, offflags, win, _csum, _urg = hdr
    flags = offflags & 0x0FFF
    rel_seq = (seq - fwd.base) & 0xFFFFFFFF
    # Without the ACK flag the field means nothing; Wireshark shows it raw.
    rel_ack = (ack - rev.base) & 0xFFFFFFFF if flags & 0x10 else ack
    # Scaling applies only after the handshake, and only if both SYNs carried the option.
    scale = fwd.wscale if (fwd.wscale >= 0 and rev.wscale >= 0 and not flags & 0x02) else -1
    window = win << scale if scale >= 0 else win
    if not text:
        return rel_seq, rel_ack, window, scale, ""
    if absolute:
        info = _info(sport, dport, flags, seq, ack, window, seg_len, options)
    else:
        info = _info(sport, dport, flags, rel_seq, rel_ack, window, seg_len, options)
    if "sack" in options:  # the blocks in the other side's relative numbers, as tshark
        base = 0 if absolute or rev.base < 0 else rev.base
        for le, re_ in options["sack"]:
            info += f" SLE={(le - base) & MASK} SRE={(re_ - base) & MASK}"
    if analysis:
        info = marks_text(analysis) + info
    return rel_seq, rel_ack, window, scale, info


def marks_text(analysis) -> str:
    """The analysis marks as Info shows them in front of any info: "[TCP Dup ACK 3#1] "."""
    return " ".join(_ANALYSIS_INFO[a[0]].format(*a[1:]) for a in reversed(analysis)) + " "


def _plain_header(buf: bytes, off: int, end: int) -> tuple | None:
    """(header, header length, options) of a segment plain enough for the paths without
    a Packet (columns, track_segment); None for a header past the capture or odd
    options, where decode_tcp runs (and fails at the same point, before any state
    changes)."""
    if end - off < 20:
        return None
    hdr = _unpack_hdr(buf, off)
    hlen = (hdr[4] >> 12) * 4
    if hlen < 20 or off + hlen > end:
        return None
    try:
        return hdr, hlen, _parse_options(buf, off + 20, off + hlen)
    except Exception:
        return None


def columns(
    d, no: int, buf: bytes, off: int, end: int, src: bytes, dst: bytes, ts_ns: int | None = None
):
    """The one-line view's (protocol, info) of a plain segment, without a Packet; None
    (decided before any state changes) when decode_tcp must run: a header past the
    capture, odd options, or a payload some decoder claims."""
    plain = _plain_header(buf, off, end)
    if plain is None:
        return None
    hdr, hlen, options = plain
    seg_len = end - off - hlen
    if d.tcp.sessions and (seg_len or hdr[4] & 0x05):
        held = d.tcp.held(src, hdr[0], dst, hdr[1], hdr[4])
        if held is not None:  # a stream a session holds: its segments and its close
            return _session_columns(d, no, buf, off + hlen, end, src, dst, hdr, options,
                                    held[0].app.proto, ts_ns, held)  # fmt: skip
    if seg_len:
        decoder = registry.app_decoder("tcp", hdr[0], hdr[1], buf, off + hlen, end)
        if decoder is None and registry.START_HEURISTICS["tcp"]:
            decoder = registry.start_decoder("tcp", buf, off + hlen, end)
            if decoder is not None and not _starts(d, src, dst, hdr):
                decoder = None  # (the bytes look right, but not at the stream's start)
        if decoder is not None:
            if type(decoder) is registry.StreamProtocol and decoder.session is not None:
                return _session_columns(d, no, buf, off + hlen, end, src, dst, hdr, options,
                                        decoder, ts_ns)  # fmt: skip
            return _pdu_columns(d, no, buf, off + hlen, end, src, dst, hdr, options, decoder,
                                ts_ns)  # fmt: skip
    _stream, fwd, rev, analysis, _ = _follow(d, no, src, dst, hdr, options, seg_len, ts_ns)
    return "TCP", _seen(hdr, fwd, rev, seg_len, options, analysis, d.absolute_seq)[4]


def _starts(d, src: bytes, dst: bytes, hdr: tuple) -> bool:
    """Whether a segment starts its direction's byte stream (relative sequence number 1,
    or a SYN's data), as decode_tcp will number it; changes nothing."""
    fwd = d.tcp.peek(src, hdr[0], dst, hdr[1], hdr[4])
    if fwd is None or fwd.base < 0:  # the direction's first segment: base = seq - 1
        return True
    return (hdr[2] - fwd.base + (hdr[4] >> 1 & 1)) & MASK == 1


def _pdu_columns(d, no, buf, payload: int, end: int, src, dst, hdr, options, proto, ts_ns):
    """columns() for a segment of a stream protocol whose decoder offers `columns(buf,
    off, end)` for one PDU (DNS over TCP does): only when the segment holds whole PDUs
    and its direction has nothing pending, so reassembly has nothing to join. The
    checks come first; the state then changes exactly as decode_tcp changes it."""
    if not isinstance(proto, registry.StreamProtocol) or proto.session is not None:
        return None
    quick = getattr(proto.decoder, "columns", None)
    if quick is None:
        return None
    found = None
    pos = payload
    while pos < end:  # every PDU whole, and each one's columns known
        need = proto.pdu_length(buf[pos : min(end, pos + 16)])
        if need is None or need <= 0 or pos + need > end:
            return None
        found = quick(buf, pos, pos + need)
        if found is None:
            return None
        pos += need
    fwd = d.tcp.peek(src, hdr[0], dst, hdr[1], hdr[4])
    if fwd is not None and fwd.pending:
        return None
    seg_len = end - payload
    _stream, fwd, rev, analysis, _ = _follow(d, no, src, dst, hdr, options, seg_len, ts_ns)
    if analysis and repeats(analysis):
        info = _seen(hdr, fwd, rev, seg_len, options, analysis, d.absolute_seq)[4]
        return "TCP", info  # shown as data
    pdus, _ = _gather(fwd, proto, buf, payload, end, hdr[2])
    _note_pdus(d, proto, pdus, buf, no, ts_ns or 0, src, hdr[0], dst, hdr[1])
    if analysis:  # (the marks stay in front: Packet.fence)
        return found[0], marks_text(analysis) + found[1]
    return found  # the last PDU's columns, as decode_tcp leaves them


class _Columns:
    """What a session's decoders set, for the one-line view without a Packet (duck-typed:
    protocol, info, layers, mark_malformed)."""

    __slots__ = ("info", "layers", "malformed", "protocol")

    def __init__(self, info: str) -> None:
        self.protocol = "TCP"
        self.info = info
        self.layers: list = []
        self.malformed: str | None = None

    def mark_malformed(self, layer, what: str) -> None:
        if layer is not None and layer.malformed is None:
            layer.malformed = what
        if self.malformed is None:
            self.malformed = what


def _session_columns(d, no, buf, payload: int, end: int, src, dst, hdr, options, proto,
                     ts_ns, held=None):  # fmt: skip
    """columns() for a segment of a stream a session protocol holds or claims now (HTTP):
    the state changes as decode_tcp makes them, then the session's decoders run on a
    stand-in for the Packet (no Packet, no Ethernet/IP/TCP layers), so the line is the
    one dissect() gives. Never None: the choice was made before any change."""
    seg_len = end - payload
    stream, fwd, rev, analysis, _ = _follow(d, no, src, dst, hdr, options, seg_len, ts_ns, held)
    fin = bool(hdr[4] & 0x05)
    if not seg_len:
        if not (fin and fwd.pending and stream.app is not None):
            return "TCP", _seen(hdr, fwd, rev, seg_len, options, analysis, d.absolute_seq)[4]
    elif analysis and repeats(analysis):
        return "TCP", _seen(hdr, fwd, rev, seg_len, options, analysis, d.absolute_seq)[4]
    else:
        _claim(d, stream, proto)
    # (the request times a session keeps are only ever shown in fields, which this view
    # never builds: the frame's time is not needed here)
    pdus, abandoned, partial = _gather_session(stream, fwd, buf, payload, end, hdr[2], fin, no, 0)
    cut = " [reassembly abandoned: PDU over 1 MiB]" if abandoned else ""
    if not pdus:
        if partial is not None:
            if not partial:
                return "TCP", "[TCP segment of a reassembled PDU]"
            return "TCP", partial + " [TCP segment of a reassembled PDU]"
        info = _seen(hdr, fwd, rev, seg_len, options, analysis, d.absolute_seq)[4] + cut
        return "TCP", info if payload == end else info + " [TCP segment of a reassembled PDU]"
    # TCP's own info is made only if no decoder replaces it (most often one does).
    cols = _Columns("")
    crashed = False
    for fn, start, stop, other in pdus:
        try:
            fn(d, cols, buf if other is None else other, start, stop)
        except Exception:  # as Dissector.run marks it (a frame's PDUs stop there)
            if cols.malformed is None:
                cols.malformed = "decoder error"
            if cols.protocol == "TCP":
                crashed = True
            else:
                cols.info += " [Malformed Packet]"
            if other is None:
                break
    text = cols.info
    if cols.protocol == "TCP":
        text = _seen(hdr, fwd, rev, seg_len, options, analysis, d.absolute_seq)[4] + cut + text
        if crashed:
            text += " [Malformed Packet]"
    elif analysis:  # (the marks stay in front: Packet.fence)
        text = marks_text(analysis) + text
    if cols.malformed is not None and "[Malformed" not in text:
        text += " [Malformed Packet]"
    return cols.protocol or "Frame", text


def track_segment(
    d, no: int, buf: bytes, off: int, end: int, src: bytes, dst: bytes, ts_ns: int = 0
) -> bool:
    """The light pass of `dissect --jobs` for a plain segment: the state decode_tcp would
    leave, without a Packet or layers. False when the segment is not plain (a header
    past the capture, odd options): then the caller runs the light dissect instead."""
    plain = _plain_header(buf, off, end)
    if plain is None:
        return False
    hdr, hlen, options = plain
    seg_len = end - off - hlen
    held = None
    if d.tcp.sessions and (seg_len or hdr[4] & 0x05):
        held = d.tcp.held(src, hdr[0], dst, hdr[1], hdr[4])
    stream, fwd, _rev, analysis, _ = _follow(d, no, src, dst, hdr, options, seg_len, ts_ns, held)
    if held is not None:  # a session's segment or close: its state, as decode_tcp keeps it
        if seg_len:
            if not (analysis and repeats(analysis)):
                _gather_session(stream, fwd, buf, off + hlen, end, hdr[2], bool(hdr[4] & 0x05),
                                no, ts_ns)  # fmt: skip
        elif fwd.pending:
            _gather_session(stream, fwd, buf, end, end, hdr[2], True, no, ts_ns)
        return True
    if seg_len:
        decoder = registry.app_decoder("tcp", hdr[0], hdr[1], buf, off + hlen, end)
        if (
            decoder is None
            and registry.START_HEURISTICS["tcp"]
            and (hdr[2] - fwd.base + (hdr[4] >> 1 & 1)) & MASK == 1
        ):
            decoder = registry.start_decoder("tcp", buf, off + hlen, end)
        if isinstance(decoder, registry.StreamProtocol) and not (analysis and repeats(analysis)):
            if decoder.session is not None:
                _claim(d, stream, decoder)
                _gather_session(stream, fwd, buf, off + hlen, end, hdr[2], bool(hdr[4] & 0x05),
                                no, ts_ns)  # fmt: skip
            else:
                pdus, _ = _gather(fwd, decoder, buf, off + hlen, end, hdr[2])
                _note_pdus(d, decoder, pdus, buf, no, ts_ns, src, hdr[0], dst, hdr[1])
    return True


def _first_fragment(d, pkt: Packet, buf, off: int, end: int, hdr, index: int, options):
    """TCP in the first fragment of an IP datagram that is not reassembled: the segment's
    length is unknown, so Wireshark skips sequence analysis (no relative numbers, no
    tcp.len, no window scaling) and leaves the stream's state alone. So does netlab."""
    sport, dport, seq, ack, offflags, win = hdr[:6]
    flags = offflags & 0x0FFF
    hlen = (offflags >> 12) * 4
    layer = Layer("tcp", _title, off, min(off + hlen, end), hdr, _rows)
    layer.extra = TcpState(index, seq, ack, None, win, -1, options, [], None)
    pkt.layers.append(layer)
    pkt.protocol = "TCP"
    pkt.info = _info(sport, dport, flags, seq, ack, win, 0, options).replace(" Len=0", "", 1)
    if off + hlen > end:
        pkt.mark_malformed(layer, f"tcp: header length {hlen} runs past the captured data")
        return None
    if off + hlen == end:
        return None
    decoder = registry.app_decoder("tcp", sport, dport, buf, off + hlen, end)
    if isinstance(decoder, registry.StreamProtocol):
        decoder = decoder.decoder  # no reassembly without lengths: one PDU from the start
    if decoder is None:
        return decode_data(d, pkt, buf, off + hlen, end)
    return decoder(d, pkt, buf, off + hlen, end)


# --- analysis (Wireshark's tcp.analysis.*) --------------------------------------------
# packet-tcp.c's tcp_analyze_sequence_number, rule for rule and in its order; the marks
# are listed in the order Wireshark's tree shows them, and each one puts its text in
# front of the Info column (col_prepend_fence), so Info reads them backwards.
_ANALYSIS_INFO = {
    "retransmission": "[TCP Retransmission]",
    "fast_retransmission": "[TCP Fast Retransmission]",
    "spurious_retransmission": "[TCP Spurious Retransmission]",
    "out_of_order": "[TCP Out-Of-Order]",
    "lost_segment": "[TCP Previous segment not captured]",
    "ack_lost_segment": "[TCP ACKed unseen segment]",
    "window_update": "[TCP Window Update]",
    "window_full": "[TCP Window Full]",
    "keep_alive": "[TCP Keep-Alive]",
    "keep_alive_ack": "[TCP Keep-Alive ACK]",
    "duplicate_ack": "[TCP Dup ACK {0}#{1}]",
    "zero_window_probe": "[TCP ZeroWindowProbe]",
    "zero_window": "[TCP ZeroWindow]",
    "zero_window_probe_ack": "[TCP ZeroWindowProbeAck]",
}
_ORDER = {name: i for i, name in enumerate(_ANALYSIS_INFO)}
# The marks' field names, written out (display filters learn names from the source).
_FIELD = dict(zip(_ANALYSIS_INFO, (
    "tcp.analysis.retransmission", "tcp.analysis.fast_retransmission",
    "tcp.analysis.spurious_retransmission", "tcp.analysis.out_of_order",
    "tcp.analysis.lost_segment", "tcp.analysis.ack_lost_segment",
    "tcp.analysis.window_update", "tcp.analysis.window_full", "tcp.analysis.keep_alive",
    "tcp.analysis.keep_alive_ack", "tcp.analysis.duplicate_ack",
    "tcp.analysis.zero_window_probe", "tcp.analysis.zero_window",
    "tcp.analysis.zero_window_probe_ack",
), strict=True))  # fmt: skip
# The expert texts of the tree (`[Expert: …]`), where they differ from the Info text.
_EXPERT = {
    "retransmission": "This frame is a (suspected) retransmission",
    "fast_retransmission": "This frame is a (suspected) fast retransmission",
    "spurious_retransmission": "This frame is a (suspected) spurious retransmission",
    "out_of_order": "This frame is a (suspected) out-of-order segment",
    "lost_segment": "Previous segment(s) not captured (common at capture start)",
    "ack_lost_segment": "ACKed segment that wasn't captured (common at capture start)",
    "window_update": "TCP window update",
    "window_full": "TCP window specified by the receiver is now completely full",
    "keep_alive": "TCP keep-alive segment",
    "keep_alive_ack": "ACK to a TCP keep-alive segment",
    "duplicate_ack": "Duplicate ACK (#{1})",
    "zero_window_probe": "TCP Zero Window Probe",
    "zero_window": "TCP Zero Window segment",
    "zero_window_probe_ack": "ACK to a TCP Zero Window Probe",
}
# Marks that also set tcp.analysis.retransmission (Wireshark adds both fields).
_ALSO_RETRANSMISSION = ("fast_retransmission", "spurious_retransmission")
# Marks of a segment whose bytes were seen before: not reassembled again (as tshark,
# which does hand a fast retransmission or an out-of-order segment to reassembly).
REPEATS = frozenset(("retransmission", "spurious_retransmission", "keep_alive"))
MAX_UNACKED = 10000  # Wireshark's TCP_MAX_UNACKED_SEGMENTS: a direction's list, at most
FAST_RETRANSMISSION_NS = 20_000_000  # within 20 ms of the second duplicate ACK
OUT_OF_ORDER_NS = 3_000_000  # without an initial RTT, Wireshark's out-of-order window


# Marks of a segment Wireshark hands to no dissector, not even "data"
# (tcp.no_subdissector_on_error, on by default); a plain retransmission's bytes are then
# "Retransmitted TCP segment data" in the TCP tree. A fast retransmission (a mark of its
# own there) and a keep-alive still go to the dissectors.
HIDDEN = frozenset(("retransmission", "spurious_retransmission", "out_of_order"))


def _segment_data(state: TcpState) -> str | None:
    """How the tree names a payload shown as tcp.segment_data (held for reassembly, or
    retransmitted); None for one a protocol above TCP shows."""
    if not state.seg_len:
        return None
    if state.held:
        return "TCP segment data"
    return "Retransmitted TCP segment data" if ("retransmission",) in state.analysis else None


def hidden(analysis: list) -> bool:
    """Whether a segment's payload is shown only as tcp.segment_data."""
    return any(a[0] in HIDDEN for a in analysis)


def repeats(analysis: list) -> bool:
    """Whether a segment's bytes were seen before (a retransmission of any kind)."""
    return any(a[0] in REPEATS for a in analysis)


def _after(a: int, b: int) -> bool:
    """a > b in 32-bit sequence space (Wireshark's GT_SEQ)."""
    return 0 < (a - b) & MASK < 0x80000000


def _analyse(no, ts, stream, fwd: Direction, rev: Direction, seq, ack, win, flags, seg_len):
    """packet-tcp.c's tcp_analyze_sequence_number. -> (analysis, seq_ack)"""
    found, rto, nextseq = _analyse_seq(no, ts, stream, fwd, rev, seq, ack, win, flags, seg_len)
    if nextseq != seq and len(fwd.segs) < MAX_UNACKED:
        segs = fwd.segs
        if segs and fwd.ordered and _after(segs[-1][1], seq):
            fwd.ordered = False
        segs.append([seq, nextseq, no, ts])
    acked = _acked(rev, ack, ts) if rev.segs else None
    flight = push = 0
    counted = seg_len and fwd.segs and fwd.valid_bif
    if counted:
        flight, push = _in_flight(fwd, rev, flags, seg_len)
    if not (found or acked or counted):
        return found, None
    frame, rtt = acked or (0, 0)
    return found, (frame, rtt, stream.first_rtt, flight, push, *(rto or (0, 0)))


def _analyse_seq(no, ts, stream, fwd: Direction, rev: Direction, seq, ack, win, flags, seg_len):
    """The marks and the sequence state. -> (analysis, rto or None, nextseq)"""
    found: list[tuple] = []
    nxt = fwd.next_seq
    ctl = flags & 0x07  # SYN, FIN or RST: never a keep-alive, window update or dup ACK
    probe = False
    if flags & 0x10:
        rev.valid_bif = True
    if seg_len == 1 and seq == nxt and rev.last_win == 0:
        probe = True
        found.append(("zero_window_probe",))
    else:
        if win == 0 and not ctl:
            found.append(("zero_window",))
        if nxt >= 0 and 0 < (seq - nxt) & MASK < 0x80000000 and not flags & 0x04:
            found.append(("lost_segment",))
            fwd.valid_bif = False
        if seg_len <= 1 and nxt >= 0 and seq == (nxt - 1) & MASK and not ctl:
            found.append(("keep_alive",))
        if seg_len == 0 and not ctl and seq == nxt and ack == fwd.last_ack:
            if win and win != fwd.last_win:
                found.append(("window_update",))
            if win == fwd.last_win:
                if win and rev.keep_alive:
                    found.append(("keep_alive_ack",))
                elif not win and rev.probe:
                    found.append(("zero_window_probe_ack",))
                elif win:
                    fwd.dup_acks += 1
                    found.append(("duplicate_ack", fwd.ack_frame, fwd.dup_acks))
        if seg_len and not ctl:
            _window_full(found, fwd, rev, seq, seg_len)
    if ack != fwd.last_ack:
        fwd.ack_frame = no
        fwd.dup_acks = 0
    if flags & 0x10 and rev.max_acked >= 0 and 0 < (ack - rev.max_acked) & MASK < 0x80000000:
        found.append(("ack_lost_segment",))
        rev.max_acked = rev.next_seq  # (said once for the same gap)
    nextseq = (seq + seg_len + (1 if flags & 0x03 else 0)) & MASK
    rto = None
    if nextseq != seq:
        rto = _repeated(found, ts, stream, fwd, rev, seq, seg_len, nxt, nextseq)
    if not probe:
        if nxt < 0 or 0 < (nextseq - nxt) & MASK < 0x80000000:
            fwd.next_seq, fwd.next_seq_frame, fwd.next_seq_ts = nextseq, no, ts
        if fwd.max_acked < 0 or seq == fwd.max_acked:
            fwd.max_acked = fwd.next_seq
    fwd.last_win, fwd.last_ack, fwd.last_ack_ts = win, ack, ts
    fwd.keep_alive = fwd.probe = False
    if found:
        for kind, *_ in found:
            if kind == "keep_alive":
                fwd.keep_alive = True
        fwd.probe = probe
        if len(found) > 1:
            found.sort(key=_order)
    return found, rto, nextseq


def _window_full(found: list, fwd: Direction, rev: Direction, seq: int, seg_len: int) -> None:
    """WINDOW FULL: the segment fills the window the other side last advertised."""
    if rev.last_win < 0 or rev.last_ack < 0:
        return
    if rev.wscale == -2 or fwd.wscale == -2:
        shift = 0
    elif rev.wscale == -1:
        return  # the scale is unknown
    else:
        shift = rev.wscale
    if (seq + seg_len) & MASK == (rev.last_ack + (rev.last_win << shift)) & MASK:
        found.append(("window_full",))


def _repeated(found, ts, stream, fwd: Direction, rev: Direction, seq, seg_len, nxt, nextseq):
    """A segment with data (or SYN/FIN): which kind of retransmission, if any.
    -> (rto ns, rto_frame) for a plain retransmission, else None"""
    for kind, *_ in found:
        if kind == "keep_alive":
            return None
    back = nxt >= 0 and 0 < (nxt - seq) & MASK < 0x80000000  # seq_not_advanced
    if seg_len > 1 and nxt >= 0 and seq == (nxt - 1) & MASK:
        back = False  # new data after a possible zero window probe's byte
    if seg_len and rev.last_ack > 0 and not _after((seq + seg_len) & MASK, rev.last_ack):
        found.append(("spurious_retransmission",))
        return None
    if not back:
        return None
    if (
        rev.dup_acks >= 2
        and rev.last_ack == seq
        and ts is not None
        and rev.last_ack_ts is not None
        and ts - rev.last_ack_ts < FAST_RETRANSMISSION_NS
    ):
        found.append(("fast_retransmission",))
        return None
    if (
        ts is not None
        and fwd.next_seq_ts is not None
        and ts - fwd.next_seq_ts < (stream.first_rtt or OUT_OF_ORDER_NS)
        and nxt != nextseq
    ):
        found.append(("out_of_order",))
        return None
    found.append(("retransmission",))
    # The RTO from the oldest segment not yet acknowledged (else the latest one sent).
    if fwd.segs:
        first = fwd.segs[0] if fwd.ordered else min(fwd.segs, key=_frame_of)
        then, frame = first[3], first[2]
    else:
        then, frame = fwd.next_seq_ts, fwd.next_seq_frame
    return (ts - then if ts is not None and then is not None else 0), frame


def _acked(rev: Direction, ack: int, ts) -> tuple | None:
    """Drop the other side's segments this ACK covers (cutting one it covers in part);
    -> (acks_frame, ack_rtt ns) of the oldest one it ends exactly at, or None."""
    segs = rev.segs
    match = None
    if rev.ordered:  # in order: the covered ones come first, and the rest are untouched
        i = 0
        for s in segs:
            end = s[1]
            if end == ack:
                match = s
                i += 1
                break
            if _after(end, ack):
                if _after(ack, s[0]):
                    s[0] = ack
                break
            i += 1
        if i:
            del segs[:i]
    else:
        kept = []
        for s in segs:
            end = s[1]
            if end == ack:
                if match is None:
                    match = s
            elif _after(end, ack):
                if _after(ack, s[0]):
                    s[0] = ack
                kept.append(s)
        rev.segs = segs = kept
    if not segs:
        rev.ordered = True
    if match is None:
        return None
    then = match[3]
    return match[2], (ts - then if ts is not None and then is not None else 0)


# Helpers of the functions above, which tcp.pxd compiles as cpdef functions (Cython
# compiles no lambda or generator expression inside one).
def _sacked(sack: list) -> int:
    """Bytes that SACK blocks [(left, right), …] cover."""
    return sum((r - le) & MASK for le, r in sack)


def _order(mark: tuple) -> int:
    return _ORDER[mark[0]]


def _frame_of(seg: list) -> int:
    return seg[2]


def _edges(segs: list, base: int) -> tuple[int, int]:
    """The relative start of the lowest segment and the end of the highest one."""
    return min((s[0] - base) & MASK for s in segs), max((s[1] - base) & MASK for s in segs)


def _in_flight(fwd: Direction, rev: Direction, flags: int, seg_len: int) -> tuple[int, int]:
    """tcp.analysis.bytes_in_flight and push_bytes_sent after this segment."""
    segs, base = fwd.segs, fwd.base
    if fwd.ordered:
        first, last = (segs[0][0] - base) & MASK, (segs[-1][1] - base) & MASK
    else:
        first, last = _edges(segs, base)
    if flags & 0x08:
        fwd.push_bytes = fwd.push_bytes + seg_len if not fwd.push_last else seg_len
        fwd.push_last = True
    elif fwd.push_last:
        fwd.push_bytes = seg_len
        fwd.push_last = False
    else:
        fwd.push_bytes += seg_len
    flight = (last - first - rev.sacked) & MASK  # less what the other side SACKed
    if not 0 < flight < 2000000000:
        return 0, 0  # (tshark 4.0 then shows neither value, though it counts on)
    if flags & 0x03:
        flight -= 1  # a SYN's or FIN's number is not a byte in flight
    return flight, fwd.push_bytes


# --- reassembly ----------------------------------------------------------------------
def _reassemble(d, pkt, fwd: Direction, proto, buf: bytes, off: int, end: int, seq: int):
    """Hand `proto.decoder` whole PDUs: from this segment alone when they fit (no copy),
    or from bytes gathered over earlier segments of the same direction."""
    pdus, abandoned = _gather(fwd, proto, buf, off, end, seq)
    if abandoned:
        pkt.info += " [reassembly abandoned: PDU over 1 MiB]"
    if d.light:
        hdr = pkt.layers[-1].hdr
        _note_pdus(d, proto, pdus, buf, pkt.no, pkt.ts_ns, pkt.src_raw, hdr.sport, pkt.dst_raw,
                   hdr.dport)  # fmt: skip
        return None
    if not pdus:
        pkt.info += " [TCP segment of a reassembled PDU]"
        _hold(pkt)
        return decode_data(d, pkt, buf, off, end)
    return _decode_pdus(d, pkt, buf, pdus)


def _note_pdus(d, proto, pdus: list, buf: bytes, no: int, ts_ns: int, src: bytes, sport: int,
               dst: bytes, dport: int) -> None:  # fmt: skip
    """Where whole PDUs are gathered but not decoded (the light pass, the columns'
    shortcut), a decoder that keeps state across PDUs (DNS's transactions) still sees
    them, through its `note` (registry.StreamProtocol)."""
    note = getattr(proto.decoder, "note", None)
    if note is not None:
        for _decoder, start, stop, other in pdus:
            note(d, no, ts_ns, src, sport, dst, dport, buf if other is None else other, start,
                 stop)  # fmt: skip


def _hold(pkt) -> None:
    """Mark the segment's payload as waiting in a PDU being reassembled (TcpState.held)."""
    layer = pkt.layers[-1]
    if layer.proto == "tcp" and layer.extra is not None:
        layer.extra = layer.extra._replace(held=True)


def _claim(d, stream: Stream, proto) -> None:
    """A session protocol takes the stream: its later segments all go to the session."""
    if stream.app is None:
        app = stream.app = proto.session(proto)
        d.tcp.sessions += 1
        bind = getattr(app, "bind", None)
        if bind is not None:  # a session that needs the Dissector's options (TLS: the key log)
            bind(d)


def _reassemble_session(d, pkt, stream: Stream, fwd: Direction, buf: bytes, off: int, end: int,
                        seq: int, fin: bool):  # fmt: skip
    """_reassemble for a protocol with a session (registry.StreamProtocol): the session
    splits the bytes and says what a segment that completes nothing shows."""
    pdus, abandoned, info = _gather_session(stream, fwd, buf, off, end, seq, fin, pkt.no,
                                            pkt.ts_ns)  # fmt: skip
    if abandoned:
        pkt.info += " [reassembly abandoned: PDU over 1 MiB]"
    if d.light:
        return None
    if not pdus:
        if off == end:  # a bare FIN or RST: nothing was waiting for the close
            return None
        _hold(pkt)
        if info is not None:
            pkt.protocol, pkt.info = "TCP", info
            waiting = getattr(stream.app, "waiting_layer", None)
            if info == "" and waiting is not None:  # tshark's TLS: called, found it incomplete
                pkt.layers.append(Layer(waiting[0], waiting[1], off, off, None, None))
        pkt.info += (
            " [TCP segment of a reassembled PDU]"
            if pkt.info
            else "[TCP segment of a reassembled PDU]"
        )
        return None  # tshark shows such a segment as TCP alone (no "data")
    return _decode_pdus(d, pkt, buf, pdus)


def _gather_session(stream: Stream, fwd: Direction, buf: bytes, off: int, end: int, seq: int,
                    fin: bool, no: int, ts_ns: int):  # fmt: skip
    """_gather through the stream's session. -> (pdus, abandoned, info)"""
    app = stream.app
    side = 0 if stream.dirs[0] is fwd else 1
    pending = fwd.pending
    if fwd.pending_seq is not None and fwd.pending_seq != seq:
        if pending:
            pending.clear()
        app.reset(side)  # a gap: whatever was under way can never be completed faithfully
    if pending:
        old = len(pending)  # where this segment's bytes begin in the pending buffer
        pending += buf[off:end]
        found, used, info = app.split(side, pending, 0, len(pending), fin, no, ts_ns, old)
        pdus = []
        if found and found[0][1] < old:  # a PDU completed here: one buffer for all of them
            whole = bytes(pending)  # (as tshark's "Reassembled TCP": all that is there)
            pdus = [(fn, start, stop, whole) for fn, start, stop in found]
        elif found:  # (only bytes passed over were pending: the PDUs are the frame's)
            pdus = [(fn, off + start - old, off + stop - old, None) for fn, start, stop in found]
        del pending[:used]
        used = end
    else:
        found, used, info = app.split(side, buf, off, end, fin, no, ts_ns, 0)
        pdus = [(fn, start, stop, None) for fn, start, stop in found]
    if _keep(fwd, buf, used, end, seq + end - off):
        app.reset(side)
        return pdus, True, info
    return pdus, False, info


def _keep(fwd: Direction, buf: bytes, start: int, end: int, next_seq: int) -> bool:
    """Keep buf[start:end], an unfinished PDU, for the direction's next segment (which
    must begin at NEXT_SEQ); True when what is kept grew past MAX_PENDING and was
    dropped (reassembly abandoned)."""
    pending = fwd.pending
    if start < end:
        if pending is None:
            pending = fwd.pending = bytearray()
        pending += buf[start:end]
    fwd.pending_seq = next_seq & MASK
    if pending is not None and len(pending) > MAX_PENDING:
        pending.clear()
        return True
    return False


def _gather(fwd: Direction, proto, buf: bytes, off: int, end: int, seq: int):
    """The reassembly state's part: add the segment, take out the whole PDUs.
    -> (pdus, abandoned: the unfinished PDU grew past MAX_PENDING and was dropped)"""
    pending = fwd.pending
    if pending and fwd.pending_seq != seq:
        pending.clear()  # a gap: the unfinished PDU can never be completed faithfully
    pdus: list[tuple] = []
    if pending:
        pending += buf[off:end]
        data = bytes(pending)
        pos = _split(proto, data, 0, len(data), pdus, data)
        del pending[:pos]
        pos = end
    else:
        pos = _split(proto, buf, off, end, pdus, None)
    return pdus, _keep(fwd, buf, pos, end, seq + end - off)


def _split(proto, buf: bytes, pos: int, end: int, pdus: list, other: bytes | None) -> int:
    """Append every whole PDU in buf[pos:end] to pdus; return where the unfinished one starts."""
    while pos < end:
        need = proto.pdu_length(buf[pos : min(end, pos + 16)])
        if need is None or need <= 0 or pos + need > end:
            break
        pdus.append((proto.decoder, pos, pos + need, other))
        pos += need
    return pos


def _decode_pdus(d, pkt: Packet, buf: bytes, pdus: list) -> None:
    """Run each PDU's decoder (several PDUs can end in one segment). A PDU gathered
    from earlier segments is decoded from its own buffer, which its layers keep."""
    for decoder, start, stop, other in pdus:
        if other is None:
            decoder(d, pkt, buf, start, stop)
        else:
            d.run(pkt, decoder, other, start, stop)


def _flag_names(flags: int) -> str:
    return ", ".join(name for mask, name in INFO_FLAGS if flags & mask) or "<None>"


# "[SYN, ACK]" for each of the 4096 flag values, each made once, on first use (all
# of them up front was 3 ms of start-up): the info column of every TCP segment needs
# one, and joining names per packet showed up in profiles.
FLAG_TEXT: list[str | None] = [None] * 4096


def flag_text(flags: int) -> str:
    """FLAG_TEXT's entry, made now if it is the first (callers try the list first)."""
    text = FLAG_TEXT[flags] = _flag_names(flags)
    return text


def _rel(shown_seq: int, shown_ack: int, seq: int, ack: int, what: str = "sequence") -> str:
    """The tree's "(relative … number)" note; none for numbers shown as they are (-o
    tcp.relative_sequence_numbers:FALSE: both equal the header's, which relative numbers
    are only when both bases are 0)."""
    if shown_seq == seq and shown_ack == ack:
        return ""
    return f"    (relative {what} number)"


def _info(sport, dport, flags, rel_seq, rel_ack, window, seg_len, options) -> str:
    if flags & 0x10:
        if len(options) == 2 and "tsval" in options:  # the common NOP-NOP-TS segment
            return (
                f"{sport} → {dport} [{FLAG_TEXT[flags] or flag_text(flags)}] Seq={rel_seq} Ack={rel_ack} "
                f"Win={window} Len={seg_len} TSval={options['tsval']} TSecr={options['tsecr']}"
            )
        text = f"{sport} → {dport} [{FLAG_TEXT[flags] or flag_text(flags)}] Seq={rel_seq} Ack={rel_ack} Win={window} Len={seg_len}"
    else:
        text = f"{sport} → {dport} [{FLAG_TEXT[flags] or flag_text(flags)}] Seq={rel_seq} Win={window} Len={seg_len}"
    if not options:
        return text
    if len(options) == 2 and "tsval" in options:
        return f"{text} TSval={options['tsval']} TSecr={options['tsecr']}"
    if "mss" in options:
        text += f" MSS={options['mss']}"
    if "sack_perm" in options:
        text += " SACK_PERM"
    if "tsval" in options:
        text += f" TSval={options['tsval']} TSecr={options['tsecr']}"
    if "wscale" in options:
        text += f" WS={1 << min(options['wscale'], 14)}"
    return text


_NOP_NOP_TS = b"\x01\x01\x08\x0a"
_TS = struct.Struct("!II")
_unpack_ts = _TS.unpack_from


def _parse_options(buf: bytes, p: int, end: int) -> dict:
    """The options the info column and fields need; stops cleanly at a malformed one."""
    if end - p == 12 and buf[p : p + 4] == _NOP_NOP_TS:
        # Almost every segment after the handshake carries exactly NOP, NOP, Timestamps.
        tsval, tsecr = _unpack_ts(buf, p + 4)
        return {"tsval": tsval, "tsecr": tsecr}
    opts: dict = {}
    if p >= end:
        return opts
    found, bad = walk_options(buf, p, end)
    for kind, p, length in found:
        if kind == 2 and length == 4:
            opts["mss"] = buf[p + 2] << 8 | buf[p + 3]
        elif kind == 3 and length == 3:
            opts["wscale"] = buf[p + 2]
        elif kind == 4 and length == 2:
            opts["sack_perm"] = True
        elif kind == 8 and length == 10:
            opts["tsval"], opts["tsecr"] = _unpack_ts(buf, p + 2)
        elif kind == 5 and length >= 10:
            opts["sack"] = _sack_blocks(buf, p, length)
    if bad >= 0:
        opts["malformed"] = bad
    return opts


def _sack_blocks(buf: bytes, p: int, length: int) -> list[tuple[int, int]]:
    """The (left edge, right edge) pairs of the SACK option at p (at most 4 shown)."""
    n = min((length - 2) // 8, MAX_SACK_BLOCKS)
    return [_unpack_ts(buf, p + 2 + 8 * i) for i in range(n)]


# fmt: off  (field tables: one Wireshark field per line reads best)
def _title(layer: Layer) -> str:
    hdr, extra = layer.hdr, layer.extra
    text = f"Transmission Control Protocol, Src Port: {hdr.sport}, Dst Port: {hdr.dport}"
    if extra is not None:
        _stream, rel_seq, rel_ack, seg_len, *_ = extra
        text += f", Seq: {rel_seq}"
        if hdr.offflags & 0x10:
            text += f", Ack: {rel_ack}"
        if seg_len is not None:  # None: a first fragment, whose length is unknown
            text += f", Len: {seg_len}"
    return text


def _rows(layer: Layer, buf: bytes):
    sport, dport, seq, ack, offflags, win, csum, urg = layer.hdr
    extra = layer.extra
    o = layer.off
    hlen = (offflags >> 12) * 4
    flags = offflags & 0x0FFF  # with the 3 reserved bits, as Wireshark's tcp.flags
    rows = [
        row("tcp.srcport", sport, f"Source Port: {sport}", o, 2),
        row("tcp.dstport", dport, f"Destination Port: {dport}", o + 2, 2),
    ]
    if extra is None:  # quoted inside an ICMP error, or bogus header length: no
        # conversation, so Wireshark shows the number as it is, named tcp.seq
        rows.append(row("tcp.seq", seq, f"Sequence Number: {seq}", o + 4, 4))
        return rows
    stream, rel_seq, rel_ack, seg_len, window, scale, _options, analysis, seq_ack, _held = extra
    rows.append(row("tcp.stream", stream, f"[Stream index: {stream}]"))
    if seg_len is not None:  # None: a first fragment, whose length is unknown
        rows.append(row("tcp.len", seg_len, f"[TCP Segment Len: {seg_len}]"))
    rows += [
        row("tcp.seq", rel_seq, f"Sequence Number: {rel_seq}{_rel(rel_seq, rel_ack, seq, ack)}", o + 4, 4),
        row("tcp.seq_raw", seq, f"Sequence Number (raw): {seq}", o + 4, 4),
    ]  # fmt: skip
    if seg_len is not None:
        nxt = rel_seq + seg_len + (1 if flags & 0x03 else 0)
        rows.append(
            row(
                "tcp.nxtseq",
                nxt,
                f"[Next Sequence Number: {nxt}{_rel(rel_seq, rel_ack, seq, ack)}]",
            )
        )
    # Wireshark shows the ack field (as 0 relative) even when the ACK flag is clear.
    rows.append(
        row(
            "tcp.ack",
            rel_ack,
            f"Acknowledgment Number: {rel_ack}{_rel(rel_seq, rel_ack, seq, ack, 'ack')}",
            o + 8,
            4,
        )
    )
    rows.append(row("tcp.ack_raw", ack, f"Acknowledgment number (raw): {ack}", o + 8, 4))
    rows.append(
        row(
            "tcp.hdr_len",
            hlen,
            f"{hlen >> 2:04b} .... = Header Length: {hlen} bytes ({hlen >> 2})",
            o + 12,
            1,
        )
    )
    rows.append(
        row(
            "tcp.flags",
            flags,
            f"Flags: 0x{flags:03x} ({FLAG_TEXT[flags] or flag_text(flags)})",
            o + 12,
            2,
        )
    )
    rows += flag_rows("tcp.flags", flags, FLAG_BITS, o + 12, 2, 12)
    rows.append(row("tcp.window_size_value", win, f"Window: {win}", o + 14, 2))
    rows.append(row("tcp.window_size", window, f"[Calculated window size: {window}]"))
    if scale >= 0:
        shown_scale = str(1 << scale)
    else:
        shown_scale = "unknown" if scale == -1 else "no window scaling used"
    rows.append(row("tcp.window_size_scalefactor", (1 << scale) if scale >= 0 else scale,
                    f"[Window size scaling factor: {shown_scale}]"))  # fmt: skip
    rows.append(row("tcp.checksum", csum, f"Checksum: 0x{csum:04x} [unverified]", o + 16, 2))
    if seq_ack is not None:
        rows += _analysis_rows(analysis, seq_ack)
    rows.append(row("tcp.urgent_pointer", urg, f"Urgent Pointer: {urg}", o + 18, 2))
    rows += _option_rows(buf, o + 20, min(o + hlen, layer.end))
    what = _segment_data(extra)
    if what is not None:
        data = buf[o + hlen : o + hlen + seg_len]
        rows.append(row("tcp.segment_data", bytes(data), f"{what} ({seg_len} bytes)", o + hlen,
                        len(data)))  # fmt: skip
    return rows


def _seconds(ns: int) -> str:
    return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"


def _analysis_rows(analysis: list, seq_ack: tuple) -> list:
    """Wireshark's "SEQ/ACK analysis" subtree: its values, then the flags."""
    frame, rtt, irtt, flight, push, rto, rto_frame = seq_ack
    rows = [row("tcp.analysis", True, "[SEQ/ACK analysis]")]
    if frame:
        rows.append(row("tcp.analysis.acks_frame", frame,
                        f"[This is an ACK to the segment in frame: {frame}]", depth=1))  # fmt: skip
        if rtt:
            rows.append(row("tcp.analysis.ack_rtt", rtt / 1e9,
                            f"[The RTT to ACK the segment was: {_seconds(rtt)} seconds]",
                            depth=1))  # fmt: skip
    if irtt:
        rows.append(row("tcp.analysis.initial_rtt", irtt / 1e9,
                        f"[iRTT: {_seconds(irtt)} seconds]", depth=1))  # fmt: skip
    if flight:
        rows.append(row("tcp.analysis.bytes_in_flight", flight, f"[Bytes in flight: {flight}]",
                        depth=1))  # fmt: skip
    if push:
        rows.append(row("tcp.analysis.push_bytes_sent", push,
                        f"[Bytes sent since last PSH flag: {push}]", depth=1))  # fmt: skip
    if not analysis:
        return rows
    rows.append(row("tcp.analysis.flags", True, "[TCP Analysis Flags]", depth=1))
    for kind, *args in analysis:
        text = _EXPERT[kind].format(*args)
        rows.append(row(_FIELD[kind], True, f"[Expert Info: {text}]", depth=2))
        if kind in _ALSO_RETRANSMISSION:
            rows.append(row("tcp.analysis.retransmission", True,
                            "[This frame is a (suspected) retransmission]", depth=2))  # fmt: skip
        elif kind == "retransmission" and rto:
            rows.append(row("tcp.analysis.rto", rto / 1e9,
                            f"[The RTO for this segment was: {_seconds(rto)} seconds]",
                            depth=2))  # fmt: skip
            rows.append(row("tcp.analysis.rto_frame", rto_frame,
                            f"[RTO based on delta from frame: {rto_frame}]", depth=2))  # fmt: skip
        elif kind == "duplicate_ack":
            rows.append(row("tcp.analysis.duplicate_ack_num", args[1],
                            f"[Duplicate ACK #: {args[1]}]", depth=2))  # fmt: skip
            rows.append(row("tcp.analysis.duplicate_ack_frame", args[0],
                            f"[Duplicate to the ACK in frame: {args[0]}]", depth=2))  # fmt: skip
    return rows


def _port_rows(layer: Layer, buf: bytes):
    return port_rows("tcp", layer, buf)


def _option_rows(buf: bytes, p: int, end: int):
    rows = []
    if p < end:
        rows.append(
            row("tcp.options", bytes(buf[p:end]), f"Options: ({end - p} bytes)", p, end - p)
        )
    found, bad = walk_options(buf, p, end)
    for kind, p, length in found:
        name = OPTION_NAMES.get(kind, f"Unknown ({kind})")
        rows.append(row("tcp.option_kind", kind, f"TCP Option - {name}", p, length, 1))
        if kind < 2:  # EOL, NOP: the kind byte alone
            continue
        rows.append(row("tcp.option_len", length, f"Length: {length}", p + 1, 1, 2))
        if kind == 2 and length == 4:
            mss = buf[p + 2] << 8 | buf[p + 3]
            rows.append(row("tcp.options.mss_val", mss, f"MSS Value: {mss}", p + 2, 2, 2))
        elif kind == 3 and length == 3:
            shift = buf[p + 2]
            rows.append(
                row("tcp.options.wscale.shift", shift, f"Shift count: {shift}", p + 2, 1, 2)
            )
            rows.append(
                row(
                    "tcp.options.wscale.multiplier",
                    1 << min(shift, 14),
                    f"[Multiplier: {1 << min(shift, 14)}]",
                    depth=2,
                )
            )
        elif kind == 4:
            rows.append(row("tcp.options.sack_perm", True, "SACK permitted", p, 2, 2))
        elif kind == 8 and length == 10:
            tsval, tsecr = _unpack_ts(buf, p + 2)
            rows.append(
                row("tcp.options.timestamp.tsval", tsval, f"Timestamp value: {tsval}", p + 2, 4, 2)
            )
            rows.append(
                row(
                    "tcp.options.timestamp.tsecr",
                    tsecr,
                    f"Timestamp echo reply: {tsecr}",
                    p + 6,
                    4,
                    2,
                )
            )
        elif kind == 5:
            for i, (le, re_) in enumerate(_sack_blocks(buf, p, length)):
                rows.append(
                    row("tcp.options.sack_le", le, f"left edge = {le}", p + 2 + 8 * i, 4, 2)
                )
                rows.append(
                    row("tcp.options.sack_re", re_, f"right edge = {re_}", p + 6 + 8 * i, 4, 2)
                )
    if bad >= 0:
        kind = buf[bad]
        rows.append(
            row("_ws.malformed", "tcp option", f"[Malformed TCP option {kind}]", bad, end - bad)
        )
    return rows


# fmt: on


# --- fast writers (model.JSON_WRITERS / TREE_WRITERS): a segment as text --------------
# The same content as `_rows`, written straight as text: any flags, analysis and
# well-formed options. A damaged header or option, or a layer marked malformed, takes
# the generic path. Texts with few values (flag bits, header length, scale factor,
# option names) are made once; NOP-NOP-Timestamps, on almost every segment after the
# handshake, is one f-string.
_FLAG_TEXTS: list[tuple[str, str] | None] = [None] * 4096  # filled on first use
_HLEN_TREE = tuple(f"    {n:04b} .... = Header Length: {n * 4} bytes ({n})" for n in range(16))
# Scale factor by `scale + 2` (-2: no scaling, -1: unknown, else the shift, up to 255).
_SCALE_JSON = ("-2", "-1", *(str(1 << s) for s in range(256)))
_SCALE_TREE = ("no window scaling used", "unknown", *(str(1 << s) for s in range(256)))
_KIND_TREE = tuple(
    f"        TCP Option - {OPTION_NAMES.get(k, f'Unknown ({k})')}" for k in range(256)
)
_SYN_OPTIONS = struct.Struct("!2xH4xII3xB")  # MSS, SACK permitted, Timestamps, NOP, WS


def _linux_syn(buf: bytes, p: int) -> tuple | None:
    """(mss, tsval, tsecr, shift) when the 20 option bytes at p are laid out as in
    every Linux SYN and SYN-ACK, the other layout common enough to write in one go."""
    if (
        buf[p : p + 2] == b"\x02\x04"
        and buf[p + 4 : p + 8] == b"\x04\x02\x08\x0a"
        and buf[p + 16 : p + 19] == b"\x01\x03\x03"
    ):
        return _SYN_OPTIONS.unpack_from(buf, p)
    return None


def _flag_texts(flags: int) -> tuple[str, str]:
    """JSON members and tree lines of tcp.flags and its bits (cached per value)."""
    bits = flag_rows("tcp.flags", flags, FLAG_BITS, 0, 2, 12)
    json = ",".join(f'"{r[1]}":{"true" if r[2] else "false"}' for r in bits)
    tree = "\n".join("        " + show_text(r[3]) for r in bits)
    texts = _FLAG_TEXTS[flags] = (
        f'"tcp.flags":{flags},{json}',
        f"    Flags: 0x{flags:03x} ({FLAG_TEXT[flags] or flag_text(flags)})\n{tree}",
    )
    return texts


def _analysis_json(analysis: list, seq_ack: tuple) -> str | None:
    """The members of `_analysis_rows`, as model.merge_rows makes them (None: a name
    twice, which would need a JSON list: the generic path does it)."""
    rows = _analysis_rows(analysis, seq_ack)
    names = [r[1] for r in rows]
    if len(set(names)) < len(names):
        return None
    parts = []
    for r in rows:
        value = r[2]
        if value is True:
            parts.append(f'"{r[1]}":true')
        elif isinstance(value, float):
            parts.append(f'"{r[1]}":{value!r}')
        else:
            parts.append(f'"{r[1]}":{value}')
    return "," + ",".join(parts)


def _analysis_tree(analysis: list, seq_ack: tuple) -> str:
    if not analysis:  # (nearly every segment: the values alone, straight as text)
        frame, rtt, irtt, flight, push, _rto, _rto_frame = seq_ack
        text = "\n    [SEQ/ACK analysis]"
        if frame:
            text += f"\n        [This is an ACK to the segment in frame: {frame}]"
            if rtt:
                text += f"\n        [The RTT to ACK the segment was: {_seconds(rtt)} seconds]"
        if irtt:
            text += f"\n        [iRTT: {_seconds(irtt)} seconds]"
        if flight:
            text += f"\n        [Bytes in flight: {flight}]"
        if push:
            text += f"\n        [Bytes sent since last PSH flag: {push}]"
        return text
    lines = []
    for r in _analysis_rows(analysis, seq_ack):
        lines.append("    " * (r[0] + 1) + show_text(r[3]))
    return "\n" + "\n".join(lines)


def _options_json(buf: bytes, p: int, end: int) -> str | None:
    """The option members of `_option_rows`, merged as `model.merge_rows` merges them: kinds
    and lengths repeat, so they become lists where they first appear (right after
    tcp.options); any other name seen twice (SACK edges) becomes a list too."""
    hexed = buf[p:end].hex()
    found, bad = walk_options(buf, p, end)
    if bad >= 0:
        return None  # malformed option: the generic path adds _ws.malformed
    kinds: list[str] = []
    lens: list[str] = []
    more: dict[str, list[str]] = {}
    for kind, p, length in found:
        kinds.append(str(kind))
        if kind < 2:
            continue
        lens.append(str(length))
        for name, value in _option_values(buf, kind, p, length):
            more.setdefault(name, []).append(value)
    parts = [f'"tcp.options":"{hexed}"', f'"tcp.option_kind":{_json_value(kinds)}']
    if lens:
        parts.append(f'"tcp.option_len":{_json_value(lens)}')
    parts += [f'"tcp.options.{name}":{_json_value(values)}' for name, values in more.items()]
    return "," + ",".join(parts)


def _option_values(buf: bytes, kind: int, p: int, length: int) -> list[tuple[str, str]]:
    """The values inside one option as (field name after "tcp.options.", JSON text): the
    JSON writer's view of `_option_rows`."""
    if kind == 2 and length == 4:
        return [("mss_val", str(buf[p + 2] << 8 | buf[p + 3]))]
    if kind == 3 and length == 3:
        shift = buf[p + 2]
        return [("wscale.shift", str(shift)), ("wscale.multiplier", str(1 << min(shift, 14)))]
    if kind == 4:
        return [("sack_perm", "true")]
    if kind == 8 and length == 10:
        tsval, tsecr = _unpack_ts(buf, p + 2)
        return [("timestamp.tsval", str(tsval)), ("timestamp.tsecr", str(tsecr))]
    if kind == 5:
        return [
            pair
            for le, re_ in _sack_blocks(buf, p, length)
            for pair in (("sack_le", str(le)), ("sack_re", str(re_)))
        ]
    return []


def _json_value(values: list[str]) -> str:
    return values[0] if len(values) == 1 else f"[{','.join(values)}]"


def _options_tree(buf: bytes, p: int, end: int) -> str | None:
    lines = [f"\n    Options: ({end - p} bytes)"]
    found, bad = walk_options(buf, p, end)
    if bad >= 0:
        return None
    for kind, p, length in found:
        lines.append(_KIND_TREE[kind])
        if kind < 2:
            continue
        lines.append(f"            Length: {length}")
        if kind == 2 and length == 4:
            lines.append(f"            MSS Value: {buf[p + 2] << 8 | buf[p + 3]}")
        elif kind == 3 and length == 3:
            shift = buf[p + 2]
            lines.append(f"            Shift count: {shift}")
            lines.append(f"            [Multiplier: {1 << min(shift, 14)}]")
        elif kind == 4:
            lines.append("            SACK permitted")
        elif kind == 8 and length == 10:
            tsval, tsecr = _unpack_ts(buf, p + 2)
            lines.append(f"            Timestamp value: {tsval}")
            lines.append(f"            Timestamp echo reply: {tsecr}")
        elif kind == 5:
            for le, re_ in _sack_blocks(buf, p, length):
                lines.append(f"            left edge = {le}")
                lines.append(f"            right edge = {re_}")
    return "\n".join(lines)


def _ts_json(buf: bytes, p: int, end: int, tsval: int, tsecr: int) -> str:
    return (
        f',"tcp.options":"{buf[p:end].hex()}","tcp.option_kind":[1,1,8],'
        f'"tcp.option_len":10,"tcp.options.timestamp.tsval":{tsval},'
        f'"tcp.options.timestamp.tsecr":{tsecr}'
    )


def _syn_json(buf: bytes, p: int, end: int, mss: int, tsval: int, tsecr: int, shift: int) -> str:
    return (
        f',"tcp.options":"{buf[p:end].hex()}","tcp.option_kind":[2,4,8,1,3],'
        f'"tcp.option_len":[4,2,10,3],"tcp.options.mss_val":{mss},'
        f'"tcp.options.sack_perm":true,"tcp.options.timestamp.tsval":{tsval},'
        f'"tcp.options.timestamp.tsecr":{tsecr},"tcp.options.wscale.shift":{shift},'
        f'"tcp.options.wscale.multiplier":{1 << min(shift, 14)}'
    )


def _ts_tree(buf: bytes, p: int, end: int, tsval: int, tsecr: int) -> str:
    return (
        "\n    Options: (12 bytes)\n"
        "        TCP Option - No-Operation (NOP)\n"
        "        TCP Option - No-Operation (NOP)\n"
        "        TCP Option - Timestamps\n"
        "            Length: 10\n"
        f"            Timestamp value: {tsval}\n"
        f"            Timestamp echo reply: {tsecr}"
    )


def _syn_tree(buf: bytes, p: int, end: int, mss: int, tsval: int, tsecr: int, shift: int) -> str:
    return (
        "\n    Options: (20 bytes)\n"
        "        TCP Option - Maximum segment size\n"
        "            Length: 4\n"
        f"            MSS Value: {mss}\n"
        "        TCP Option - SACK permitted\n"
        "            Length: 2\n"
        "            SACK permitted\n"
        "        TCP Option - Timestamps\n"
        "            Length: 10\n"
        f"            Timestamp value: {tsval}\n"
        f"            Timestamp echo reply: {tsecr}\n"
        "        TCP Option - No-Operation (NOP)\n"
        "        TCP Option - Window scale\n"
        "            Length: 3\n"
        f"            Shift count: {shift}\n"
        f"            [Multiplier: {1 << min(shift, 14)}]"
    )


# Per view: (NOP, NOP, Timestamps), a Linux SYN's options, any other options.
_JSON_OPTIONS = (_ts_json, _syn_json, _options_json)
_TREE_OPTIONS = (_ts_tree, _syn_tree, _options_tree)


def _fast_options(buf: bytes, layer: Layer, offflags: int, view: tuple) -> str | None:
    """The options of the layer's header as a fast writer's `view` writes them: the two
    layouts nearly every segment has in one go, others option by option (None: a
    malformed option, or a payload shown as tcp.segment_data: the generic path)."""
    if _segment_data(layer.extra) is not None:
        return None  # (rare: the rows write tcp.segment_data)
    o = layer.off
    end = min(o + (offflags >> 12) * 4, layer.end)
    if end - o <= 20:
        return ""
    if end - o == 32 and buf[o + 20 : o + 24] == _NOP_NOP_TS:
        return view[0](buf, o + 20, end, *_unpack_ts(buf, o + 24))
    if end - o == 40 and (syn := _linux_syn(buf, o + 20)) is not None:
        return view[1](buf, o + 20, end, *syn)
    return view[2](buf, o + 20, end)


def _json(layer: Layer, buf: bytes) -> str | None:
    if layer.malformed is not None:
        return None
    sport, dport, seq, ack, offflags, win, csum, urg = layer.hdr
    extra = layer.extra
    if extra is None:  # quoted in an ICMP error: ports and raw sequence number only
        return f'"tcp.srcport":{sport},"tcp.dstport":{dport},"tcp.seq":{seq}'
    stream, rel_seq, rel_ack, seg_len, window, scale, _options, analysis, seq_ack, _held = extra
    opts = _fast_options(buf, layer, offflags, _JSON_OPTIONS)
    if opts is None:
        return None
    flags = offflags & 0x0FFF
    if seq_ack is not None:
        expert = _analysis_json(analysis, seq_ack)
        if expert is None:
            return None
    else:
        expert = ""
    if seg_len is None:  # a first fragment: no length, no next sequence number
        seqs = f'"tcp.seq":{rel_seq},"tcp.seq_raw":{seq}'
    else:
        nxt = rel_seq + seg_len + (1 if flags & 0x03 else 0)
        seqs = f'"tcp.len":{seg_len},"tcp.seq":{rel_seq},"tcp.seq_raw":{seq},"tcp.nxtseq":{nxt}'
    flag_json = (_FLAG_TEXTS[flags] or _flag_texts(flags))[0]
    hlen = (offflags >> 12) * 4
    return (
        f'"tcp.srcport":{sport},"tcp.dstport":{dport},"tcp.stream":{stream},{seqs},'
        f'"tcp.ack":{rel_ack},"tcp.ack_raw":{ack},"tcp.hdr_len":{hlen},{flag_json},'
        f'"tcp.window_size_value":{win},"tcp.window_size":{window},'
        f'"tcp.window_size_scalefactor":{_SCALE_JSON[scale + 2]},"tcp.checksum":{csum}'
        f'{expert},"tcp.urgent_pointer":{urg}{opts}'
    )


def _tree(layer: Layer, buf: bytes) -> str | None:
    if layer.malformed is not None:
        return None
    sport, dport, seq, ack, offflags, win, csum, urg = layer.hdr
    extra = layer.extra
    title, ports = _TREE_PORTS.get((sport, dport)) or _tree_ports(sport, dport)
    if extra is None:
        return f"{title}\n{ports}    Sequence Number: {seq}"
    stream, rel_seq, rel_ack, seg_len, window, scale, _options, analysis, seq_ack, _held = extra
    opts = _fast_options(buf, layer, offflags, _TREE_OPTIONS)
    if opts is None:
        return None
    flags = offflags & 0x0FFF
    expert = _analysis_tree(analysis, seq_ack) if seq_ack is not None else ""
    ack_title = f", Ack: {rel_ack}" if flags & 0x10 else ""
    rel = _rel(rel_seq, rel_ack, seq, ack)
    if seg_len is None:  # a first fragment: no length, no next sequence number
        title = f"{title}, Seq: {rel_seq}{ack_title}"
        seqs = f"    Sequence Number: {rel_seq}{rel}\n    Sequence Number (raw): {seq}"
    else:
        title = f"{title}, Seq: {rel_seq}{ack_title}, Len: {seg_len}"
        nxt = rel_seq + seg_len + (1 if flags & 0x03 else 0)
        seqs = (
            f"    [TCP Segment Len: {seg_len}]\n"
            f"    Sequence Number: {rel_seq}{rel}\n"
            f"    Sequence Number (raw): {seq}\n"
            f"    [Next Sequence Number: {nxt}{rel}]"
        )
    flag_tree = (_FLAG_TEXTS[flags] or _flag_texts(flags))[1]
    return (
        f"{title}\n{ports}    [Stream index: {stream}]\n{seqs}\n"
        f"    Acknowledgment Number: {rel_ack}{_rel(rel_seq, rel_ack, seq, ack, 'ack')}\n"
        f"    Acknowledgment number (raw): {ack}\n{_HLEN_TREE[offflags >> 12]}\n{flag_tree}\n"
        f"    Window: {win}\n    [Calculated window size: {window}]\n"
        f"    [Window size scaling factor: {_SCALE_TREE[scale + 2]}]\n"
        f"    Checksum: 0x{csum:04x} [unverified]{expert}\n"
        f"    Urgent Pointer: {urg}{opts}"
    )


_TREE_PORTS: dict[tuple[int, int], tuple[str, str]] = {}


def _tree_ports(sport: int, dport: int) -> tuple[str, str]:
    """The title's start and the port lines, made once per port pair."""
    return remember(_TREE_PORTS, (sport, dport), (
        f"Transmission Control Protocol, Src Port: {sport}, Dst Port: {dport}",
        f"    Source Port: {sport}\n    Destination Port: {dport}\n",
    ))  # fmt: skip


registry.register("tcp", writers={_rows: (_json, _tree)}, ip_protocols={6: decode_tcp})
