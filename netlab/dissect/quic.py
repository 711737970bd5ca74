"""QUIC in the dissector (RFC 9000/9001, v2 of RFC 9369), presented as tshark 4.0 does.

Found on UDP port 443 and, on any port, by a long header with a version we know (1 or
2) or a Version Negotiation packet, and then on both ends of the datagrams of a
connection we follow. One datagram may hold several coalesced packets; each is a
"quic" layer (tshark's "QUIC IETF" trees).

- Connections are followed by their connection IDs, not by addresses, so a client that
  moves to another address or port keeps its `quic.connection.number` (the course's
  migration claim): the IDs of the long headers, the Retry's, and those announced in
  NEW_CONNECTION_ID frames (with keys) are remembered; a short header's DCID is matched
  against them (its length is not on the wire), else the 4-tuple is.
- Initial packets are opened with keys derived from the client's Destination Connection
  ID (wire/quic.py), so the CRYPTO frames, reassembled by offset, give the ClientHello
  and ServerHello to the TLS decoder's message presentation (dissect/tls.py: SNI, ALPN
  …). With a key log (`--keylog`, the TLS one: CLIENT_HANDSHAKE_TRAFFIC_SECRET …, found
  by the ClientHello's random), Handshake and 1-RTT packets are opened too (key updates
  followed).
- Damage (a length past the datagram, a bad frame, bytes after the packets that are no
  packet) is marked malformed; nothing here raises on packet content. Memory is bounded:
  65,536 connection IDs, 4,096 connections, 256 KiB per CRYPTO stream.

Under `dissect --jobs` the light pass runs QUIC too (its decoders are marked `light`), so
every process follows every connection: the output equals one process's, at the cost
of decoding QUIC in each process. Limits: STREAM data is shown as frames, not handed
to HTTP/3.
"""

from __future__ import annotations

from typing import Any

import netlab.dissect.registry as registry
from netlab.dissect import tls
from netlab.dissect.base import decode_data
from netlab.dissect.model import ONE_PER_SEGMENT, Layer, Packet, row
from netlab.wire import quic as wire
from netlab.wire import tls as tls_wire

QUIC_PORT = 443
MAX_CIDS = 65536
MAX_CONNECTIONS = 4096
MAX_CRYPTO = tls_wire.MAX_HANDSHAKE
MAX_PACKETS = 16  # coalesced packets in one datagram
CLIENT, SERVER = 0, 1
SPACES = {wire.INITIAL: 0, wire.ZERO_RTT: 2, wire.HANDSHAKE: 1, wire.ONE_RTT: 2}
SECRETS = {  # (space, side) -> key log label
    (1, CLIENT): "CLIENT_HANDSHAKE_TRAFFIC_SECRET", (1, SERVER): "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    (2, CLIENT): "CLIENT_TRAFFIC_SECRET_0", (2, SERVER): "SERVER_TRAFFIC_SECRET_0",
}  # fmt: skip
# Frame fields: wire/quic.py's short name -> (Wireshark's name, its label)
FRAME_FIELDS = {
    "ack.largest_acknowledged": ("quic.ack.largest_acknowledged", "Largest Acknowledged"),
    "ack.ack_delay": ("quic.ack.ack_delay", "ACK Delay"),
    "ack.ack_range_count": ("quic.ack.ack_range_count", "ACK Range Count"),
    "ack.first_ack_range": ("quic.ack.first_ack_range", "First ACK Range"),
    "ack.gap": ("quic.ack.gap", "Gap"),
    "ack.ack_range": ("quic.ack.ack_range", "ACK Range"),
    "ack.ect0_count": ("quic.ack.ect0_count", "ECT(0) Count"),
    "ack.ect1_count": ("quic.ack.ect1_count", "ECT(1) Count"),
    "ack.ecn_ce_count": ("quic.ack.ecn_ce_count", "ECN-CE Count"),
    "rsts.stream_id": ("quic.rsts.stream_id", "Stream ID"),
    "rsts.application_error_code": ("quic.rsts.application_error_code", "Application Error code"),
    "rsts.final_size": ("quic.rsts.final_size", "Final Size"),
    "ss.stream_id": ("quic.ss.stream_id", "Stream ID"),
    "ss.application_error_code": ("quic.ss.application_error_code", "Application Error code"),
    "crypto.offset": ("quic.crypto.offset", "Offset"),
    "crypto.length": ("quic.crypto.length", "Length"),
    "nt.length": ("quic.nt.length", "(Token) Length"),
    "nt.token": ("quic.nt.token", "Token"),
    "stream.stream_id": ("quic.stream.stream_id", "Stream ID"),
    "stream.offset": ("quic.stream.offset", "Offset"),
    "stream.length": ("quic.stream.length", "Length"),
    "md.maximum_data": ("quic.md.maximum_data", "Maximum Data"),
    "msd.stream_id": ("quic.msd.stream_id", "Stream ID"),
    "msd.maximum_stream_data": ("quic.msd.maximum_stream_data", "Maximum Stream Data"),
    "ms.max_streams": ("quic.ms.max_streams", "Max Streams"),
    "sb.stream_data_limit": ("quic.sb.stream_data_limit", "Stream Data Limit"),
    "sdb.stream_id": ("quic.sdb.stream_id", "Stream ID"),
    "sib.stream_limit": ("quic.sib.stream_limit", "Stream Limit"),
    "nci.sequence": ("quic.nci.sequence", "Sequence"),
    "nci.retire_prior_to": ("quic.nci.retire_prior_to", "Retire Prior To"),
    "nci.connection_id.length": ("quic.nci.connection_id.length", "Connection ID Length"),
    "nci.connection_id": ("quic.nci.connection_id", "Connection ID"),
    "nci.stateless_reset_token": ("quic.nci.stateless_reset_token", "Stateless Reset Token"),
    "rci.sequence": ("quic.rci.sequence", "Sequence"),
    "path_challenge.data": ("quic.path_challenge.data", "Data"),
    "path_response.data": ("quic.path_response.data", "Data"),
    "cc.error_code": ("quic.cc.error_code", "Error code"),
    "cc.error_code.app": ("quic.cc.error_code.app", "Application Error code"),
    "cc.frame_type": ("quic.cc.frame_type", "Frame Type"),
    "cc.reason_phrase.length": ("quic.cc.reason_phrase.length", "Reason phrase Length"),
    "cc.reason_phrase": ("quic.cc.reason_phrase", "Reason phrase"),
    "dg.length": ("quic.dg.length", "Datagram Length"),
}
STREAM_BITS = ((1, "quic.stream.fin", "Fin"), (2, "quic.stream.len", "Len(gth)"),
               (4, "quic.stream.off", "Off(set)"))  # fmt: skip
ONE_PER_SEGMENT.add("quic")  # tshark's frame.protocols names "quic" once per datagram


# --- what is followed across datagrams ------------------------------------------------------------
class Crypto:
    """One CRYPTO stream (a side and a packet-number space): bytes in order from offset
    0, pieces that came early, and where the next handshake message starts."""

    __slots__ = ("data", "early", "next_msg")

    def __init__(self) -> None:
        self.data = bytearray()
        self.early: dict[int, bytes] = {}
        self.next_msg = 0

    def add(self, offset: int, piece: bytes) -> list[bytes]:
        """Take a CRYPTO frame's data; the handshake messages it completes."""
        if offset + len(piece) > MAX_CRYPTO:
            raise wire.QuicError(f"CRYPTO data past {MAX_CRYPTO} bytes")
        if offset > len(self.data):
            if len(self.early) < 64:
                self.early[offset] = piece
            return []
        self.data += piece[len(self.data) - offset :]
        while self.early:  # pieces that now follow on
            ready = [o for o in self.early if o <= len(self.data)]
            if not ready:
                break
            for o in ready:
                got = self.early.pop(o)
                self.data += got[len(self.data) - o :] if o + len(got) > len(self.data) else b""
        out = []
        while len(self.data) - self.next_msg >= 4:
            size = int.from_bytes(self.data[self.next_msg + 1 : self.next_msg + 4], "big")
            stop = self.next_msg + 4 + size
            if stop > len(self.data):
                break
            out.append(bytes(self.data[self.next_msg : stop]))
            self.next_msg = stop
        return out


class Connection:
    __slots__ = ("alpn", "client_random", "crypto", "initial", "keys", "largest", "misses",
                 "number", "server_ep", "suite", "version")  # fmt: skip

    def __init__(self, number: int, version: int, server_ep: tuple) -> None:
        self.number = number
        self.version = version
        self.server_ep = server_ep  # (address bytes, port) the first Initial went to
        self.initial: dict[tuple, tuple] = {}  # (dcid, version) -> Initial keys
        self.keys: dict[tuple, list] = {}  # (space, side) -> [Keys, generation …]
        self.misses: dict[tuple, int] = {}  # (space, side) -> packets without its secret
        self.largest = [[-1, -1, -1], [-1, -1, -1]]  # [side][space]
        self.crypto: dict[tuple, Crypto] = {}
        self.client_random = b""
        self.suite = 0x1301
        self.alpn: str | None = None


class QuicState:
    """The Dissector's QUIC tables: connections by connection ID and by 4-tuple."""

    def __init__(self) -> None:
        self.count = 0
        self.by_cid: dict[bytes, tuple[Connection, int]] = {}  # cid -> (conn, side it names)
        self.by_tuple: dict[tuple, Connection] = {}
        self.cid_lens: list[int] = []  # the lengths of the IDs known, longest first
        self.initial_dcid: dict[int, bytes] = {}  # conn number -> last client Initial's DCID

    def new(self, version: int, server_ep: tuple) -> Connection:
        if self.count % MAX_CONNECTIONS == MAX_CONNECTIONS - 1:
            self.by_cid.clear()
            self.by_tuple.clear()
        conn = Connection(self.count, version, server_ep)
        self.count += 1
        return conn

    def name(self, cid: bytes, conn: Connection, side: int) -> None:
        """CID names SIDE of CONN (packets carrying it as DCID go to SIDE)."""
        if not cid:
            return
        if len(self.by_cid) >= MAX_CIDS:
            self.by_cid.clear()
        self.by_cid[cid] = (conn, side)
        if len(cid) not in self.cid_lens:
            self.cid_lens = sorted([*self.cid_lens, len(cid)], reverse=True)


def _state(d) -> QuicState:
    state = getattr(d, "quic_state", None)
    if state is None:
        state = d.quic_state = QuicState()
    return state


# --- one packet as found --------------------------------------------------------------------------
class QPacket:
    """One QUIC packet of a datagram (a quic Layer's hdr)."""

    __slots__ = ("_frames", "conn", "first", "ftypes", "hdr", "msgs", "payload", "payload_at",
                 "pn", "pn_len", "problem", "retry_ok", "side", "unknown")  # fmt: skip

    def __init__(self, hdr: wire.Header) -> None:
        self.hdr = hdr
        self.first = hdr.first  # after header protection comes off
        self.pn = -1
        self.pn_len = 0
        self.payload: bytes | None = None
        self.payload_at = hdr.pn_at
        self.ftypes: list[int] = []  # the frames' types, in order (the info column's)
        # the frames with their fields: None until a tree asks, when only the types were
        # read (the one-line view: wire.scan_frames)
        self._frames: list[wire.Frame] | None = []
        self.msgs: list[tls.Msg] = []
        self.problem: str | None = None
        self.retry_ok: bool | None = None
        self.conn: Connection | None = None
        self.side = CLIENT
        self.unknown = False

    @property
    def frames(self) -> list[wire.Frame]:
        if self._frames is None:  # (scan_frames read the payload whole: this parses it)
            self._frames = wire.parse_frames(self.payload or b"")
        return self._frames


# --- finding it -----------------------------------------------------------------------------------
def quic_heuristic(buf: bytes, off: int, end: int):
    """tshark's quic heuristic: a long header with a known version (or 0: Version
    Negotiation), short enough connection IDs; after one was seen, any other datagram
    that could be a short header, which the decoder takes only for a followed
    connection."""
    if end - off < 7:
        return None
    if not buf[off] & 0x80:
        if not _seen or end - off < 21:
            return None
        # a protocol whose heuristic recognises the datagram keeps it (and its columns)
        for heuristic in _after_quic():
            found = heuristic(buf, off, end)
            if found is not None:
                return found
        return decode_if_known
    version = _version(buf, off)
    if version != 0 and not wire.is_known_version(version):
        return None
    if buf[off + 5] > wire.MAX_CID:
        return None
    return decode_quic


_AFTER: list = [None, -1, []]  # the registry's list, its length, the heuristics after ours


def _after_quic() -> list:
    """The UDP heuristics registered after this one (made again when the list changes)."""
    udp = registry.HEURISTICS["udp"]
    if _AFTER[0] is not udp or _AFTER[1] != len(udp):
        _AFTER[:] = [udp, len(udp), udp[udp.index(quic_heuristic) + 1 :]]
    return _AFTER[2]


# Whether this process has met QUIC yet: until then short headers are not even looked
# at, so UDP captures without QUIC keep the one-line view's shortcut.
_seen = False


def decode_if_known(d, pkt: Packet, buf: bytes, off: int, end: int) -> None:
    """A short header on a 4-tuple or with a connection ID we follow; anything else is
    "data" (quic_heuristic asked the heuristics after it first)."""
    state = _state(d)
    src, dst = _endpoints(pkt)
    key = _tuple_key(src, dst)
    known = key in state.by_tuple
    if not known:
        known = _short_owner(state, buf, off, end, key, None)[0] is not None
    if known:
        return _decode(d, pkt, buf, off, end, state, src, dst, key)
    return decode_data(d, pkt, buf, off, end)  # (the heuristics after ours declined it)


def _tuple_key(src: tuple, dst: tuple) -> tuple:
    return (src, dst) if src <= dst else (dst, src)


def _version(buf: bytes, off: int) -> int:
    return int.from_bytes(buf[off + 1 : off + 5], "big")


def _endpoints(pkt: Packet) -> tuple[tuple, tuple]:
    udp = pkt.layers[-1].hdr
    return (pkt.src_raw, udp.sport), (pkt.dst_raw, udp.dport)


def decode_quic(d, pkt: Packet, buf: bytes, off: int, end: int) -> None:
    global _seen
    _seen = True
    src, dst = _endpoints(pkt)
    _decode(d, pkt, buf, off, end, _state(d), src, dst, _tuple_key(src, dst))


class _Columns:
    """What _decode writes to, for the one-line view's shortcut (udp.columns): the
    packet's protocol, info and malformed mark; no quic or tls layers are made."""

    __slots__ = ("info", "layers", "malformed", "protocol")

    def __init__(self) -> None:
        self.protocol, self.info = "UDP", ""
        self.layers: list[Layer] = []
        self.malformed: str | None = None

    def mark_malformed(self, layer: Layer | None, what: str) -> None:
        if self.malformed is None:
            self.malformed = what


def flow_columns(d, decoder, buf: bytes, off: int, end: int, src_raw: bytes, sport: int,
                 dst_raw: bytes, dport: int, _no: int = 0, _ts_ns: int = 0) -> tuple[str, str]:  # fmt: skip
    """The one-line view's (protocol, info) of a datagram DECODER (decode_quic or
    decode_if_known) was found for, without a Packet: the same decoding, so the same
    state and text (the summary's malformed mark, and Dissector.run's for an error,
    included). Never None: the state has changed by the time it returns."""
    global _seen
    src, dst = (src_raw, sport), (dst_raw, dport)
    key = (src, dst) if src <= dst else (dst, src)
    state = d.quic_state if hasattr(d, "quic_state") else _state(d)
    cols = _Columns()
    try:
        if decoder is decode_quic:
            _seen = True
        elif key not in state.by_tuple and _short_owner(state, buf, off, end, key, None)[0] is None:
            return "UDP", f"{sport} → {dport} Len={end - off}"  # (decode_if_known's "data")
        if not buf[off] & 0x80:
            cols.protocol = "QUIC"  # (what _decode sets first)
            found = _short_columns(d, cols, buf, off, end, state, key)
            if found is not None:
                return found
        _decode(d, cols, buf, off, end, state, src, dst, key)
    except Exception:  # as Dissector.run marks a decoder's error, after UDP's info
        return cols.protocol, f"{sport} → {dport} Len={end - off} [Malformed Packet]"
    if cols.malformed is not None and "[Malformed" not in cols.info:
        return cols.protocol, cols.info + " [Malformed Packet]"
    return cols.protocol, cols.info


def _short_columns(d, cols: _Columns, buf: bytes, off: int, end: int, state: QuicState,
                   tuple_key: tuple) -> tuple[str, str] | None:  # fmt: skip
    """The columns of the commonest datagram, one short-header packet of a connection
    whose DCID is known, as _decode and flow_columns make them (the same state changes,
    the same text) without its Header, QPacket or the calls between. None, before
    anything changed, for whatever it does not take (then _decode runs): an unknown
    DCID, 1-RTT keys not made while a key log is given, a key update, damage."""
    if buf.__class__ is not bytes:
        return None
    by_cid = state.by_cid
    for n in state.cid_lens:  # (as _short_owner, then _owner: the longest known DCID)
        if off + 1 + n <= end:
            dcid = buf[off + 1 : off + 1 + n]
            found = by_cid.get(dcid)
            if found is not None:
                break
    else:
        return None
    conn, side = found[0], SERVER if found[1] == CLIENT else CLIENT
    keys = conn.keys.get((2, side))
    if keys is None:
        if getattr(d, "keylog", None) is not None:
            return None  # (_keys looks the secret up, and counts the misses)
        _take_tuple(state, tuple_key, conn)
        kp = "Protected Payload (KP1), DCID=" if buf[off] & 4 else "Protected Payload (KP0), DCID="
        return "QUIC", kp + dcid.hex()
    largest = conn.largest[side][2]
    try:
        opened = wire.open_short(buf, off, off + 1 + n, end, keys, largest)
    except wire.QuicError:
        return None
    except Exception:  # InvalidTag: wrong keys, or damage; the header still reads
        opened = False
    if opened is None:
        return None
    if opened is False:
        _take_tuple(state, tuple_key, conn)
        qp = QPacket(wire.parse_header(buf, off, end, n))
        qp.conn, qp.side = conn, side
        _unprotect_header(buf, qp, keys, largest)
        return "QUIC", _info(qp)
    first, pn_len, pn, payload, at = opened
    kp = "Protected Payload (KP1), DCID=" if first & 4 else "Protected Payload (KP0), DCID="
    if payload is None:  # GSO segments: the header reads (as _unprotect_header's)
        _take_tuple(state, tuple_key, conn)
        return "QUIC", kp + dcid.hex() + ", PKN: " + str(pn)
    scanned = wire.scan_frames(payload) if d.quick or d.light else None
    if scanned is None:
        return None
    by_tuple = state.by_tuple  # (_take_tuple, inline)
    by_tuple[tuple_key] = conn
    if len(by_tuple) > MAX_CIDS:
        by_tuple.clear()
    if pn > largest:
        conn.largest[side][2] = pn
    ftypes, events = scanned
    text = kp + dcid.hex() + ", PKN: " + str(pn)
    if ftypes:
        key = tuple(ftypes)
        names = _NAMES.get(key)
        text += _frame_names(key) if names is None else names
    if events and not [e for e in events if e[0] == 0x06]:  # NEW_CONNECTION_ID only
        for event in events:  # (as _frames_state)
            state.name(event[1], conn, side)
    elif events:
        qp = QPacket(wire.parse_header(buf, off, end, n))
        qp.conn, qp.side, qp.first, qp.pn_len, qp.pn = conn, side, first, pn_len, pn
        qp.payload, qp.payload_at, qp.ftypes, qp._frames = payload, at, ftypes, None
        try:
            _frames_state(state, qp, 2, events)
        except wire.QuicError:  # (as _decode: the packet's info is the mark)
            return "QUIC", "[Malformed Packet]"
        if qp.msgs:
            _tls_layer(cols, None, qp)  # type: ignore[arg-type]
            if cols.malformed is not None:
                return "QUIC", text + " [Malformed Packet]"
    return "QUIC", text


def _take_tuple(state: QuicState, tuple_key: tuple, conn: Connection) -> None:
    state.by_tuple[tuple_key] = conn
    if len(state.by_tuple) > MAX_CIDS:
        state.by_tuple.clear()


def _decode(d, pkt: Packet, buf: bytes, off: int, end: int, state: QuicState, src: tuple,
            dst: tuple, tuple_key: tuple) -> None:  # fmt: skip
    pkt.protocol = "QUIC"
    layers = None if pkt.__class__ is _Columns else pkt.layers  # (the columns: no layers)
    infos: list[str] = []
    pos = off
    conn: Connection | None = None
    dcid = b""
    layer = None
    for count in range(MAX_PACKETS + 1):
        if pos >= end:
            break
        if count and (count == MAX_PACKETS or not _could_be_packet(buf, pos, end, dcid)):
            _trailing(pkt, buf, pos, end, count)
            break
        if layers is not None:
            layer = Layer("quic", "QUIC IETF", pos, end, None, _rows)
            layers.append(layer)
        try:
            qp = _one_packet(d, state, pkt, buf, pos, end, src, dst, tuple_key, conn)
        except wire.QuicError as err:
            pkt.mark_malformed(layer, f"quic: {err}")
            infos.append("[Malformed Packet]")
            break
        hdr = qp.hdr
        if layer is not None:
            layer.hdr, layer.end = qp, hdr.end
            layer.extra = count  # the datagram's first packet carries the connection number
        conn, dcid = qp.conn, hdr.dcid
        infos.append(_info(qp))
        if qp.problem is not None:
            pkt.mark_malformed(layer, f"quic: {qp.problem}")
        if qp.msgs:
            _tls_layer(pkt, layers, qp)
        pos = hdr.end
        if not hdr.long:
            break
    pkt.info = infos[0] if len(infos) == 1 else ", ".join(infos)


def _tls_layer(pkt: Packet, layers: list | None, qp: QPacket) -> None:
    """The handshake messages a packet's CRYPTO frames completed, as a "tls" layer."""
    tl = None
    if layers is not None:
        end = qp.hdr.end
        tl = Layer("tls", "Transport Layer Security", end, end, qp.msgs, _tls_rows)
        layers.append(tl)
    problem = next((m.problem for m in qp.msgs if m.problem), None)
    if problem is not None:
        pkt.mark_malformed(tl, f"tls: {problem}")


def _could_be_packet(buf: bytes, pos: int, end: int, dcid: bytes) -> bool:
    """After a long-header packet, another coalesced one carries the same Destination
    Connection ID (RFC 9000 §12.2): a long header of a known version, or a short header
    (whose fixed bit may be greased, RFC 9287). Anything else is not a packet."""
    if buf[pos] & 0x80:
        return (end - pos >= 7 and _version(buf, pos) in wire.LONG_TYPES
                and buf[pos + 5] == len(dcid) and buf[pos + 6 : pos + 6 + len(dcid)] == dcid)  # fmt: skip
    return end - pos > 1 + len(dcid) and buf[pos + 1 : pos + 1 + len(dcid)] == dcid


def _trailing(pkt: Packet, buf: bytes, pos: int, end: int, count: int) -> None:
    """Bytes after the packets: padding (zeros) is fine, anything else is damage."""
    if any(buf[pos:end]):
        layer = Layer("quic", "QUIC IETF (trailing bytes)", pos, end, None, None)
        pkt.layers.append(layer)
        what = "too many coalesced packets" if count >= MAX_PACKETS else "garbage"
        pkt.mark_malformed(layer, f"quic: {end - pos} bytes of {what} after the packets")
    else:
        decode_data(None, pkt, buf, pos, end)


def _one_packet(d, state: QuicState, pkt: Packet, buf: bytes, pos: int, end: int, src: tuple,
                dst: tuple, tuple_key: tuple, conn: Connection | None) -> QPacket:  # fmt: skip
    short_len = 0
    if not buf[pos] & 0x80:
        conn, short_len = _short_owner(state, buf, pos, end, tuple_key, conn)
    hdr = wire.parse_header(buf, pos, end, short_len)
    qp = QPacket(hdr)
    conn, side = _owner(state, hdr, conn, tuple_key, src, dst)
    qp.conn, qp.side = conn, side
    state.by_tuple[tuple_key] = conn
    if len(state.by_tuple) > MAX_CIDS:
        state.by_tuple.clear()
    if hdr.ptype == wire.VERSION_NEGOTIATION:
        return qp
    if hdr.ptype == wire.RETRY:
        odcid = state.initial_dcid.get(conn.number, b"")
        qp.retry_ok = wire.retry_valid(buf, hdr, odcid) if odcid else None
        state.name(hdr.scid, conn, SERVER)
        if qp.retry_ok:  # the client's next Initial goes to (and is keyed by) the Retry's SCID
            state.initial_dcid[conn.number] = hdr.scid
        return qp
    _open(d, state, qp, buf)
    return qp


def _short_owner(state: QuicState, buf: bytes, pos: int, end: int, tuple_key: tuple,
                 conn: Connection | None) -> tuple[Connection | None, int]:  # fmt: skip
    """A short header's connection and DCID length: the longest known CID it starts with,
    else the 4-tuple's connection (DCID length unknown: 0)."""
    for n in state.cid_lens:
        if pos + 1 + n <= end:
            found = state.by_cid.get(bytes(buf[pos + 1 : pos + 1 + n]))
            if found is not None:
                return found[0], n
    return conn or state.by_tuple.get(tuple_key), 0


def _owner(state: QuicState, hdr: wire.Header, conn: Connection | None, tuple_key: tuple,
           src: tuple, dst: tuple) -> tuple[Connection, int]:  # fmt: skip
    """The packet's connection and the side that sent it (CLIENT/SERVER)."""
    found = state.by_cid.get(hdr.dcid) if hdr.dcid else None
    if found is not None:
        sender = SERVER if found[1] == CLIENT else CLIENT
        conn = found[0]
    elif hdr.ptype in (wire.INITIAL, wire.ZERO_RTT) and hdr.dcid and conn is None:
        # a client's first packet to an ID nobody chose yet: a new connection attempt
        # (also after a Version Negotiation, with a fresh DCID, as tshark counts them)
        conn, sender = state.new(hdr.version, dst), CLIENT
        state.name(hdr.dcid, conn, SERVER)
    else:
        by_scid = state.by_cid.get(hdr.scid) if hdr.long and hdr.scid else None
        if by_scid is not None:
            conn, sender = by_scid
        else:
            conn = conn or state.by_tuple.get(tuple_key)
            if conn is None:
                conn = state.new(max(hdr.version, 0), dst)
            sender = SERVER if src == conn.server_ep else CLIENT
    if hdr.long and hdr.scid:
        state.name(hdr.scid, conn, sender)
    if hdr.ptype == wire.INITIAL and sender == CLIENT and conn.number not in state.initial_dcid:
        # the Initial keys come from the client's first DCID; they stay when the client
        # moves to the server's connection ID (only a Retry changes them)
        state.initial_dcid[conn.number] = hdr.dcid
        if len(state.initial_dcid) > MAX_CONNECTIONS:
            state.initial_dcid.clear()
    if hdr.version > 0:
        conn.version = hdr.version
    return conn, sender


# --- opening --------------------------------------------------------------------------------------
def _keys(d, state: QuicState, conn: Connection, qp: QPacket) -> Any:
    """The keys this packet was protected with, or None (no key log, or no secret yet)."""
    hdr = qp.hdr
    if hdr.ptype == wire.INITIAL:
        dcid = state.initial_dcid.get(conn.number)
        version = hdr.version
        if dcid is None:
            return None
        keys = conn.initial.get((dcid, version))
        if keys is None:
            if len(conn.initial) > 8:
                conn.initial.clear()
            keys = wire.initial_keys(dcid, version, any_version=True)
            conn.initial[(dcid, version)] = keys
        return keys[qp.side]
    space = SPACES.get(hdr.ptype)
    if space is None or hdr.ptype == wire.ZERO_RTT:
        return None
    slot = conn.keys.get((space, qp.side))
    if slot is None:
        keylog = tls.key_log(d)
        if keylog is None or not conn.client_random:
            return None
        # a secret not in a key log file is looked for again every 64 packets only (the
        # look-up rereads a file that grew: a live capture's); a command's own list of
        # lines (quic-hello -v) costs nothing to ask
        misses = conn.misses.get((space, qp.side), 0)
        conn.misses[(space, qp.side)] = misses + 1
        if misses % 64 and getattr(keylog, "lines", None) is None:
            return None
        secret = keylog.secret(SECRETS[(space, qp.side)], conn.client_random)
        if secret is None:
            return None
        slot = conn.keys[(space, qp.side)] = [wire.keys_from_secret(secret, conn.suite,
                                                                    conn.version)]  # fmt: skip
    return slot


def _open(d, state: QuicState, qp: QPacket, buf: bytes) -> None:
    conn = qp.conn
    assert conn is not None
    hdr = qp.hdr
    # (most packets: a short header with 1-RTT keys already made; _keys finds the same)
    keys = None if hdr.long else conn.keys.get((2, qp.side))
    if keys is not None:
        largest = conn.largest[qp.side][2]
        try:
            opened = wire.open_short(buf, hdr.start, hdr.pn_at, hdr.end, keys, largest)
        except wire.QuicError:
            raise
        except Exception:  # InvalidTag: wrong keys, or damage; the header still reads
            _unprotect_header(buf, qp, keys, largest)
            return
        if opened is not None:
            if opened[3] is None:  # (GSO segments: as _unprotect_header's)
                qp.first, qp.pn_len, qp.pn = opened[:3]
                return
            qp.first, qp.pn_len, pn, payload, qp.payload_at = opened
            _opened(d, state, qp, conn, 2, largest, pn, payload)
            return
    if keys is None:
        keys = _keys(d, state, conn, qp)
        if keys is None:
            return
    space = SPACES[hdr.ptype]
    largest = conn.largest[qp.side][space]
    try:
        if hdr.long:  # (Initial keys, or a list of Handshake's: no key update there)
            opened = wire.open_long(buf, hdr, keys[0] if isinstance(keys, list) else keys,
                                    largest)  # fmt: skip
        else:
            opened = _open_1rtt(buf, qp, keys, largest)
            if opened is not None:  # (first, pn_len, pn, payload, payload_at)
                opened = (opened[0], opened[1], opened[3], opened[5], opened[6])
    except wire.QuicError:
        raise
    except Exception:  # InvalidTag: wrong keys, or damage; the header still reads
        _unprotect_header(buf, qp, keys, largest)
        return
    if opened is None:
        return
    qp.first, qp.pn_len, pn, payload, qp.payload_at = opened
    _opened(d, state, qp, conn, space, largest, pn, payload)


def _opened(d, state: QuicState, qp: QPacket, conn: Connection, space: int, largest: int,
            pn: int, payload: bytes) -> None:  # fmt: skip
    """A packet's payload decrypted: the packet number followed, the frames read."""
    qp.pn, qp.payload = pn, payload
    if pn > largest:
        conn.largest[qp.side][space] = pn
    # the one-line view (and the light pass of --jobs) needs only the frame types and
    # what the state follows; fields are parsed when a tree or a filter asks for them
    scanned = wire.scan_frames(payload) if d.quick or d.light else None
    if scanned is not None:
        qp.ftypes, events = scanned
        qp._frames = None
    else:
        try:
            frames = qp._frames = wire.parse_frames(payload)
        except wire.QuicError as err:
            qp.problem = str(err)
            return
        qp.ftypes = [frame.ftype for frame in frames]
        events = [_event(frame) for frame in frames if frame.ftype in (0x06, 0x18)]
    if events:
        _frames_state(state, qp, space, events)


def _unprotect_header(buf: bytes, qp: QPacket, keys: Any, largest: int) -> None:
    """The packet number of a packet whose payload did not open (tshark shows it too)."""
    k = keys[-1] if isinstance(keys, list) else keys
    try:
        first, pn_len, truncated, _h = wire.remove_header_protection(buf, qp.hdr, k)
    except wire.QuicError:
        return
    qp.first, qp.pn_len = first, pn_len
    qp.pn = wire.decode_packet_number(largest, truncated, pn_len)


def _open_1rtt(buf: bytes, qp: QPacket, keys: list, largest: int) -> Any:
    """Short headers: the key phase bit says which generation (RFC 9001 §6); the next
    generation is made when the bit flips. Header protection never changes."""
    unprotected = wire.remove_header_protection(buf, qp.hdr, keys[0])
    phase = (unprotected[0] >> 2) & 1
    gen = len(keys) - 1
    if gen & 1 != phase:
        if len(keys) < 64:
            keys.append(keys[-1].next())
        try:
            return wire.open_packet(buf, qp.hdr, keys[-1], largest, unprotected)
        except Exception:
            keys.pop()
            return wire.open_packet(buf, qp.hdr, keys[max(gen - 1, 0)], largest, unprotected)
    return wire.open_packet(buf, qp.hdr, keys[gen], largest, unprotected)


def _event(frame: wire.Frame) -> tuple:
    """A parsed CRYPTO or NEW_CONNECTION_ID frame as wire.scan_frames reports it."""
    if frame.ftype == 0x06:
        return (0x06, frame.fields[0][1], frame.data_at, frame.data_len)
    return (0x18, next(v for n, v, _a, _s in frame.fields if n == "nci.connection_id"))


def _frames_state(state: QuicState, qp: QPacket, space: int, events: list[tuple]) -> None:
    """What the frames change: CRYPTO streams (and the TLS messages they complete), new
    connection IDs."""
    conn = qp.conn
    assert conn is not None and qp.payload is not None
    for event in events:
        if event[0] == 0x06:
            _, offset, at, size = event
            stream = conn.crypto.get((qp.side, space))
            if stream is None:
                stream = conn.crypto[(qp.side, space)] = Crypto()
            for message in stream.add(offset, qp.payload[at : at + size]):
                qp.msgs.append(_message(conn, message))
        else:
            state.name(event[1], conn, qp.side)


def _message(conn: Connection, message: bytes) -> tls.Msg:
    """A whole handshake message for the TLS presentation; hellos read for the state.
    A hello that tls_wire.parse_hello will read without an error is parsed only when
    its fields are asked for (a tree): the state takes its random or suite off the
    bytes."""
    mtype = message[0]
    body = message[4:]
    if mtype in (1, 2):
        sid_end = _hello_ok(body, mtype == 2)
        if sid_end:
            msg = _LazyHello(mtype, message, 0, len(message), tls.TLS13)
            if mtype == 1:
                conn.client_random = body[2:34]
            else:
                conn.suite = int.from_bytes(body[sid_end : sid_end + 2], "big")
            return msg
    msg = tls.Msg(mtype, message, 0, len(message), tls.TLS13)
    try:
        if mtype in (1, 2):
            msg.hello = tls_wire.parse_hello(body, server=mtype == 2)
            if mtype == 1:
                conn.client_random = msg.hello.random
            else:
                conn.suite = msg.hello.suites[0]
        elif mtype == 8:
            alpn = tls._alpn_in(body)
            if alpn is not None:
                conn.alpn = alpn
    except (tls_wire.TlsError, ValueError) as err:
        msg.problem = str(err)
    return msg


def _hello_ok(body: bytes, server: bool) -> int:
    """Where the session ID of a hello BODY ends when tls_wire.parse_hello reads it
    without an error (the same length checks: version, random, session ID, suites,
    compressions, extensions), else 0."""
    n = len(body)
    if n < 35 or 35 + body[34] > n:
        return 0
    pos = sid_end = 35 + body[34]
    if server:
        pos += 3  # the suite chosen, the compression method
        if pos > n:
            return 0
    else:
        for size in (2, 1):  # the suites, the compression methods
            if pos + size > n:
                return 0
            pos += size + int.from_bytes(body[pos : pos + size], "big")
            if pos > n:
                return 0
    if pos < n:
        if pos + 2 > n:
            return 0
        stop = pos + 2 + int.from_bytes(body[pos : pos + 2], "big")
        if stop > n:
            return 0
        pos += 2
        while pos < stop:  # each: type, length, data
            if pos + 4 > stop:
                return 0
            pos += 4 + int.from_bytes(body[pos + 2 : pos + 4], "big")
            if pos > stop:
                return 0
    return sid_end


_HELLO = tls.Msg.hello  # the slot under _LazyHello's property


class _LazyHello(tls.Msg):
    """A ClientHello or ServerHello that _hello_ok passed: `hello` parsed on first use."""

    __slots__ = ()

    @property  # type: ignore[override]
    def hello(self) -> tls_wire.Hello | None:
        hello = _HELLO.__get__(self, tls.Msg)
        if hello is None:
            assert self.buf is not None
            hello = tls_wire.parse_hello(self.buf[4:], server=self.mtype == 2)
            _HELLO.__set__(self, hello)
        return hello

    @hello.setter
    def hello(self, value: tls_wire.Hello | None) -> None:
        _HELLO.__set__(self, value)


# --- the columns ----------------------------------------------------------------------------------
def _info(qp: QPacket) -> str:
    hdr = qp.hdr
    if not hdr.long:
        text = "Protected Payload (KP1)" if qp.first & 4 else "Protected Payload (KP0)"
        if hdr.dcid:
            text += ", DCID=" + hdr.dcid.hex()
    elif hdr.ptype == wire.VERSION_NEGOTIATION:
        return f"Version Negotiation, DCID={hdr.dcid.hex()}, SCID={hdr.scid.hex()}"
    elif hdr.ptype == wire.RETRY:
        return f"Retry, DCID={hdr.dcid.hex()}, SCID={hdr.scid.hex()}"
    else:
        text = f"{hdr.ptype}, DCID={hdr.dcid.hex()}, SCID={hdr.scid.hex()}"
    if qp.pn >= 0:
        text += f", PKN: {qp.pn}"
    if not qp.ftypes:
        return text
    key = tuple(qp.ftypes)
    names = _NAMES.get(key)
    if names is None:
        names = _frame_names(key)
    return text + names


_NAMES: dict[tuple, str] = {}  # frame types -> their part of the info column (few differ)


def _frame_names(ftypes: tuple) -> str:
    names = []
    for ftype in ftypes:
        name = _short_name(ftype)
        if not names or name != names[-1] or name != "PADDING":  # a run of PADDING: once
            names.append(name)
    text = "".join(f", {name}" for name in names)
    if len(_NAMES) < 4096 and len(ftypes) <= 16:
        _NAMES[ftypes] = text
    return text


SHORT_NAMES = {0x03: "ACK_ECN", 0x18: "NCI", 0x19: "RC", 0x1A: "PC", 0x1B: "PR", 0x1C: "CC",
               0x1D: "CC", 0x1E: "DONE", 0x07: "NT", 0x10: "MD", 0x11: "MSD", 0x12: "MS",
               0x13: "MS", 0x30: "DG", 0x31: "DG"}  # fmt: skip


def _short_name(ftype: int) -> str:
    return SHORT_NAMES.get(ftype) or wire.frame_name(ftype)


# --- fields ---------------------------------------------------------------------------------------
def _rows(layer: Layer, buf: bytes) -> list:
    qp: QPacket | None = layer.hdr
    if qp is None:
        return []
    hdr = qp.hdr
    rows: list = []
    if layer.extra == 0 and qp.conn is not None:
        n = qp.conn.number
        rows.append(row("quic.connection.number", n, f"[Connection Number: {n}]", depth=1))
    rows.append(row("quic.packet_length", hdr.end - hdr.start,
                    f"[Packet Length: {hdr.end - hdr.start}]"))  # fmt: skip
    first, o = qp.first, hdr.start
    rows.append(row("quic.header_form", first >> 7,
                    f"Header Form: {'Long' if hdr.long else 'Short'} Header ({first >> 7})", o, 1))  # fmt: skip
    if hdr.long:
        _long_rows(rows, qp, first, o)
    else:
        _short_rows(rows, qp, first, o)
    if qp.payload is not None:
        _frame_rows(rows, qp)
    if hdr.ptype == wire.RETRY and qp.retry_ok is False:
        rows.append(row("quic.bad_retry", "", "Retry Integrity Tag verification failure"))
    return rows


def _long_rows(rows: list, qp: QPacket, first: int, o: int) -> None:
    hdr = qp.hdr
    rows.append(row("quic.fixed_bit", bool(first & 0x40), f"Fixed Bit: {bool(first & 0x40)}", o, 1))
    if hdr.ptype != wire.VERSION_NEGOTIATION:
        code = (first >> 4) & 3
        name = "quic.long.packet_type_v2" if hdr.version == wire.V2 else "quic.long.packet_type"
        rows.append(row(name, code, f"Packet Type: {hdr.ptype} ({code})", o, 1))
        if qp.pn_len:
            rows.append(row("quic.long.reserved", (first >> 2) & 3,
                            f"Reserved: {(first >> 2) & 3}", o, 1))  # fmt: skip
            rows.append(row("quic.packet_number_length", first & 3,
                            f"Packet Number Length: {qp.pn_len} bytes ({first & 3})", o, 1))  # fmt: skip
    v = hdr.version
    rows.append(row("quic.version", v, f"Version: {wire.VERSION_NAMES.get(v, 'Unknown')} (0x{v:08x})",
                    o + 1, 4))  # fmt: skip
    at = hdr.dcid_at
    rows.append(row("quic.dcil", len(hdr.dcid), f"Destination Connection ID Length: {len(hdr.dcid)}",
                    at - 1, 1))  # fmt: skip
    if hdr.dcid:
        rows.append(row("quic.dcid", hdr.dcid, f"Destination Connection ID: {hdr.dcid.hex()}",
                        at, len(hdr.dcid)))  # fmt: skip
    at += len(hdr.dcid)
    rows.append(row("quic.scil", len(hdr.scid), f"Source Connection ID Length: {len(hdr.scid)}",
                    at, 1))  # fmt: skip
    if hdr.scid:
        rows.append(row("quic.scid", hdr.scid, f"Source Connection ID: {hdr.scid.hex()}",
                        at + 1, len(hdr.scid)))  # fmt: skip
    if hdr.ptype == wire.VERSION_NEGOTIATION:
        for i, sv in enumerate(hdr.versions):
            rows.append(row("quic.supported_version", sv, f"Supported Version: 0x{sv:08x}",
                            hdr.pn_at + 4 * i, 4))  # fmt: skip
        return
    if hdr.ptype == wire.RETRY:
        rows.append(row("quic.retry_token", hdr.token, f"Retry Token: {hdr.token.hex()}",
                        hdr.token_at, len(hdr.token)))  # fmt: skip
        rows.append(row("quic.retry_integrity_tag", hdr.tag,
                        f"Retry Integrity Tag: {hdr.tag.hex()}", hdr.end - 16, 16))  # fmt: skip
        return
    if hdr.ptype == wire.INITIAL:
        rows.append(row("quic.token_length", len(hdr.token), f"Token Length: {len(hdr.token)}"))
        if hdr.token:
            rows.append(row("quic.token", hdr.token, f"Token: {hdr.token.hex()}", hdr.token_at,
                            len(hdr.token)))  # fmt: skip
    rows.append(row("quic.length", hdr.length, f"Length: {hdr.length}", hdr.length_at,
                    hdr.pn_at - hdr.length_at))  # fmt: skip
    _payload_rows(rows, qp)


def _short_rows(rows: list, qp: QPacket, first: int, o: int) -> None:
    hdr = qp.hdr
    head = f"QUIC Short Header DCID={hdr.dcid.hex()}" + (f" PKN={qp.pn}" if qp.pn >= 0 else "")
    rows.append((1, "quic.short", "", head, o, hdr.end - o))
    rows.append(row("quic.fixed_bit", bool(first & 0x40), f"Fixed Bit: {bool(first & 0x40)}",
                    o, 1, 2))  # fmt: skip
    rows.append(row("quic.spin_bit", bool(first & 0x20), f"Spin Bit: {bool(first & 0x20)}",
                    o, 1, 2))  # fmt: skip
    if qp.pn_len:
        rows.append(row("quic.short.reserved", (first >> 3) & 3, f"Reserved: {(first >> 3) & 3}",
                        o, 1, 2))  # fmt: skip
        rows.append(row("quic.key_phase", bool(first & 4), f"Key Phase Bit: {bool(first & 4)}",
                        o, 1, 2))  # fmt: skip
        rows.append(row("quic.packet_number_length", first & 3,
                        f"Packet Number Length: {qp.pn_len} bytes ({first & 3})", o, 1, 2))  # fmt: skip
    if hdr.dcid:
        rows.append(row("quic.dcid", hdr.dcid, f"Destination Connection ID: {hdr.dcid.hex()}",
                        hdr.dcid_at, len(hdr.dcid), 2))  # fmt: skip
    _payload_rows(rows, qp, 2)


def _payload_rows(rows: list, qp: QPacket, depth: int = 0) -> None:
    hdr = qp.hdr
    if qp.pn >= 0:
        rows.append(row("quic.packet_number", qp.pn, f"Packet Number: {qp.pn}", hdr.pn_at,
                        qp.pn_len, depth))  # fmt: skip
    if qp.payload is not None:
        rows.append(row("quic.payload", b"", f"Payload: ({len(qp.payload)} bytes decrypted)",
                        qp.payload_at, hdr.end - qp.payload_at, depth))  # fmt: skip
    else:
        size = hdr.end - hdr.pn_at
        rows.append(row("quic.protected_payload", b"", f"Protected Payload: ({size} bytes)",
                        hdr.pn_at, size, depth))  # fmt: skip


def _frame_rows(rows: list, qp: QPacket) -> None:
    base = qp.payload_at
    for frame in qp.frames:
        name = wire.frame_name(frame.ftype)
        at = base + frame.start
        rows.append((0, "quic.frame", "", name, at, frame.end - frame.start))
        rows.append(row("quic.frame_type", frame.ftype,
                        f"Frame Type: {name} (0x{frame.ftype:016x})", at, 1, 1))  # fmt: skip
        if 0x08 <= frame.ftype <= 0x0F:
            for bit, fname, label in STREAM_BITS:
                on = bool(frame.ftype & bit)
                rows.append(row(fname, on, f"{label}: {on}", at, 1, 1))
        for fname, value, fat, size in frame.fields:
            shown = value.hex() if isinstance(value, bytes) else value
            if fname == "padding_length":
                rows.append(row("quic.padding_length", value, f"[Padding Length: {value}]",
                                depth=1))  # fmt: skip
                continue
            full, label = FRAME_FIELDS.get(fname, (f"quic.{fname}", fname))
            rows.append(row(full, value, f"{label}: {shown}", base + fat, size, 1))
        if frame.ftype == 0x06:
            rows.append((1, "quic.crypto.crypto_data", "", "Crypto Data", base + frame.data_at,
                         frame.data_len))  # fmt: skip
        elif 0x08 <= frame.ftype <= 0x0F:
            data = qp.payload[frame.data_at : frame.data_at + frame.data_len] if qp.payload else b""
            rows.append(row("quic.stream_data", data, f"Stream Data: {data[:32].hex()}",
                            base + frame.data_at, frame.data_len, 1))  # fmt: skip
        elif frame.ftype in (0x30, 0x31):
            data = qp.payload[frame.data_at : frame.data_at + frame.data_len] if qp.payload else b""
            rows.append(row("quic.dg", data, f"Datagram: {data[:32].hex()}",
                            base + frame.data_at, frame.data_len, 1))  # fmt: skip


def _tls_rows(layer: Layer, buf: bytes) -> list:
    rows: list = []
    for msg in layer.hdr:
        title = f"TLSv1.3 Record Layer: Handshake Protocol: {tls.handshake_name(msg.mtype)}"
        rows.append((0, "", "", title, -1, 0))
        tls._message_rows(rows, msg, msg.buf, msg.start, msg.end)
    return rows


# `dissect --jobs`: the light pass runs these too (udp.py, engine.track), so that every
# process follows the connections, their IDs and keys through the packets it skips.
decode_quic.light = True  # type: ignore[attr-defined]
decode_if_known.light = True  # type: ignore[attr-defined]
# The one-line view's shortcut (udp.columns): the columns without a Packet.
decode_quic.flow_columns = flow_columns  # type: ignore[attr-defined]
decode_if_known.flow_columns = flow_columns  # type: ignore[attr-defined]

registry.register(
    "quic",
    udp_ports={QUIC_PORT: decode_quic},
    udp_heuristics=(quic_heuristic,),
)
