"""The UDP tracker protocol in the dissector (BEP 15): connect, announce, scrape, error.

tshark 4.0 has no dissector for it; Wireshark 4.2 added one, "bt-tracker"
(packet-bt-tracker.c), and its names are used here (`bt-tracker.action`,
`.transaction_id`, `.connection_id`, `.info_hash`, `.peer_id`, `.downloaded`, `.left`,
`.uploaded`, `.event`, `.ip_address`, `.key`, `.num_want`, `.port`, `.interval`,
`.leechers`, `.seeders`, `.completed`, `.trackers`/`.tracker` with `.tracker.ip`/`.ip6`/
`.port` for the peers, `.error_msg`, the generated `.msg_type`), as are its protocol
column "BT-Tracker" and info ("Announce Response: 1 trackers"). No protocol of tshark
4.0 is named so (`tshark -G protocols`).

Found as Wireshark 4.2 finds it: a connect request (16 bytes or more starting with the
protocol id 0x41727101980 and action 0) on any port, after which the conversation (its
addresses and ports) is the tracker's, so the answers and the announces and scrapes
that follow it are decoded too; and, as a fallback of netlab's, UDP port 6969
(opentracker's and most trackers' port). A datagram of a remembered conversation is
read the way Wireshark reads it (`get_message_type`: the protocol id at byte 0, else
an action at byte 0 for a response or at byte 8 for a request).

Limits: 4096 conversations remembered (then forgotten all at once); under
`dissect --jobs`, a process learns a conversation only from a connect request it
decodes itself, so on other ports than 6969 a conversation whose connect request lies
in another process's chunk is shown as UDP (port 6969 does not depend on it).
"""

from __future__ import annotations

import socket
import struct

import netlab.dissect.registry as registry
from netlab.dissect.base import decode_data
from netlab.dissect.model import Layer, Packet, row
from netlab.wire import udp_tracker as wire

TITLE = "BitTorrent Tracker"
TRACKER_PORT = 6969
MAX_CONVERSATIONS = 4096
CONNECT_REQUEST, CONNECT_RESPONSE, ANNOUNCE_REQUEST, ANNOUNCE_RESPONSE = 0, 1, 2, 3
SCRAPE_REQUEST, SCRAPE_RESPONSE, ERROR_RESPONSE, UNKNOWN = 4, 5, 6, 7
MSG_TYPES = {
    CONNECT_REQUEST: "Connection Request", CONNECT_RESPONSE: "Connection Response",
    ANNOUNCE_REQUEST: "Announce Request", ANNOUNCE_RESPONSE: "Announce Response",
    SCRAPE_REQUEST: "Scrape Request", SCRAPE_RESPONSE: "Scrape Response",
    ERROR_RESPONSE: "Error Response",
}  # fmt: skip
# The bytes each message needs (shorter: malformed).
_NEED = {CONNECT_REQUEST: 16, CONNECT_RESPONSE: 16, ANNOUNCE_REQUEST: 98, ANNOUNCE_RESPONSE: 20,
         SCRAPE_REQUEST: 16, SCRAPE_RESPONSE: 8, ERROR_RESPONSE: 8}  # fmt: skip
_Q = struct.Struct("!Q")
# (bound once: compiled, a module name is a cached lookup, an attribute a search)
_unpack_q = _Q.unpack_from
_I = struct.Struct("!I")
_unpack_i = _I.unpack_from
_i = struct.Struct("!i")


def _conversations(d) -> set:
    table = getattr(d, "bt_tracker_conversations", None)
    if table is None:
        table = d.bt_tracker_conversations = set()
    return table


def _key(pkt: Packet) -> bytes | None:
    udp = pkt.layers[-1] if pkt.layers else None
    if udp is None or udp.proto != "udp" or udp.hdr is None:
        return None
    return _pair(pkt.src_raw, udp.hdr.sport, pkt.dst_raw, udp.hdr.dport)


def _pair(src: bytes, sport: int, dst: bytes, dport: int) -> bytes:
    """Both ends of a conversation, the lower first: the same key either way."""
    a, b = src + sport.to_bytes(2, "big"), dst + dport.to_bytes(2, "big")
    return a + b if a <= b else b + a


def is_connect_request(buf: bytes, off: int, end: int) -> bool:
    return (
        end - off >= 16
        and _unpack_q(buf, off)[0] == wire.PROTOCOL_ID
        and _unpack_i(buf, off + 8)[0] == wire.CONNECT
    )


# Whether any Dissector of this process has met a connect request: until then the
# heuristic claims connect requests only, so UDP traffic of a capture without a UDP
# tracker keeps the one-line view's shortcut (udp.columns, which a claimed datagram
# loses). The outcome never depends on it: the conversations are each Dissector's own.
_seen_connect = False


def tracker_heuristic(buf: bytes, off: int, end: int):
    """A connect request; after one was seen, also a datagram that could be a tracker's
    (at least 8 bytes with an action, 0-3, at byte 0 or, 1-2, at byte 8), which the
    decoder takes only when its conversation began with a connect request."""
    if is_connect_request(buf, off, end):
        return decode_bt_tracker
    if (
        _seen_connect
        and end - off >= 8
        and (
            _unpack_i(buf, off)[0] <= wire.ERROR
            or (end - off >= 12 and 1 <= _unpack_i(buf, off + 8)[0] <= 2)
        )
    ):
        return decode_if_known
    return None


def decode_if_known(d, pkt: Packet, buf: bytes, off: int, end: int) -> None:
    """A datagram of a conversation that began with a connect request is the tracker's;
    any other goes on to the heuristics after this one, then to "data"."""
    key = _key(pkt)
    if key is not None and key in _conversations(d):
        return decode_bt_tracker(d, pkt, buf, off, end)
    rest = registry.HEURISTICS["udp"]
    for heuristic in rest[rest.index(tracker_heuristic) + 1 :]:
        found = heuristic(buf, off, end)
        if found is not None:
            return found(d, pkt, buf, off, end)
    return decode_data(d, pkt, buf, off, end)


def message_type(buf: bytes, off: int, end: int) -> int:
    """Which message a datagram is. Wireshark 4.2's get_message_type tries "an action at
    byte 8" before "at byte 0", so a scrape response whose first seeders count is 1
    reads as an announce request there; netlab asks `wire.udp_tracker.is_request`
    first (the protocol id, or an action at byte 8 with a request's length), then reads
    the action where that direction keeps it. Raises struct.error under 8 bytes."""
    if end - off < 8:
        raise struct.error("under 8 bytes")
    if wire.is_request(bytes(buf[off:end])):
        action = _unpack_i(buf, off + 8)[0]
        return {wire.CONNECT: CONNECT_REQUEST, wire.ANNOUNCE: ANNOUNCE_REQUEST,
                wire.SCRAPE: SCRAPE_REQUEST}.get(action, UNKNOWN)  # fmt: skip
    action = _unpack_i(buf, off)[0]
    found = {wire.CONNECT: CONNECT_RESPONSE, wire.ANNOUNCE: ANNOUNCE_RESPONSE,
             wire.SCRAPE: SCRAPE_RESPONSE, wire.ERROR: ERROR_RESPONSE}.get(action)  # fmt: skip
    if found is None and end - off >= 12:  # a request cut short (marked by the decoder)
        found = {wire.ANNOUNCE: ANNOUNCE_REQUEST, wire.SCRAPE: SCRAPE_REQUEST}.get(
            _unpack_i(buf, off + 8)[0]
        )
    return UNKNOWN if found is None else found


def _note_connect(d, buf: bytes, off: int, end: int, key: bytes | None) -> None:
    """A connect request starts a tracker conversation (KEY, when known): noted for the
    datagrams after it (decode_if_known), and the heuristic widens (_seen_connect)."""
    global _seen_connect
    if is_connect_request(buf, off, end):
        _seen_connect = True
        if key is not None:
            table = _conversations(d)
            if len(table) >= MAX_CONVERSATIONS:
                table.clear()
            table.add(key)


def _info(kind: int, size: int, unit: int) -> str:
    """The info of a well-formed message of SIZE bytes (UNIT: a peer's bytes, 6 or 18)."""
    info = MSG_TYPES.get(kind, " Unknown Msg Type")
    if kind == ANNOUNCE_RESPONSE and size > 20:
        info += f": {(size - 20) // unit} trackers"
    return info


def decode_bt_tracker(d, pkt: Packet, buf: bytes, off: int, end: int) -> None:
    _note_connect(d, buf, off, end, _key(pkt))
    pkt.protocol = "BT-Tracker"
    layer = Layer("bt-tracker", TITLE, off, end, None, _rows)
    pkt.layers.append(layer)
    try:
        kind = message_type(buf, off, end)
    except struct.error:
        pkt.info = ""
        pkt.mark_malformed(layer, f"bt-tracker: a datagram of {end - off} bytes, too short")
        return None
    unit = _unit(pkt)
    layer.hdr = (kind, unit)
    pkt.info = MSG_TYPES.get(kind, " Unknown Msg Type")
    need = _NEED.get(kind, 0)
    if end - off < need:
        layer.extra = need
        pkt.mark_malformed(layer, f"bt-tracker: {pkt.info} of {end - off} bytes, needs {need}")
        return None
    pkt.info = _info(kind, end - off, unit)
    return None


def _flow_columns(d, decoder, buf: bytes, off: int, end: int, src: bytes, sport: int,
                  dst: bytes, dport: int, no: int, ts_ns: int) -> tuple[str, str] | None:  # fmt: skip
    """udp.columns's shortcut (no Packet): decode_bt_tracker's info, its conversation
    noted as it notes it; None, before any change, for a datagram it would mark
    malformed or one decode_if_known would hand on (tests/test_columns.py)."""
    key = _pair(src, sport, dst, dport)
    if decoder is decode_if_known and key not in _conversations(d):
        return None
    try:
        kind = message_type(buf, off, end)
    except struct.error:
        return None
    if end - off < _NEED.get(kind, 0):
        return None
    _note_connect(d, buf, off, end, key)
    return "BT-Tracker", _info(kind, end - off, 6 if len(src) == 4 else 18)  # (one IP layer)


decode_bt_tracker.flow_columns = _flow_columns  # type: ignore[attr-defined]  (see udp.columns)
decode_if_known.flow_columns = _flow_columns  # type: ignore[attr-defined]


def _unit(pkt: Packet) -> int:
    """Peers are 6 bytes over IPv4 and 18 over IPv6 (the innermost IP layer's family)."""
    for layer in reversed(pkt.layers):
        if layer.proto == "ip":
            return 6
        if layer.proto == "ipv6":
            return 18
    return 6


# --- fields --------------------------------------------------------------------------------------
def _u64(name: str, label: str, buf: bytes, at: int, hexa: bool = False):
    (value,) = _unpack_q(buf, at)
    return row(name, value, f"{label}: {f'0x{value:016x}' if hexa else value}", at, 8)


def _u32(name: str, label: str, buf: bytes, at: int, signed: bool = False, names=None):
    (value,) = (_i if signed else _I).unpack_from(buf, at)
    shown = f"{names.get(value, 'Unknown')} ({value})" if names is not None else value
    return row(name, value, f"{label}: {shown}", at, 4)


_ACTIONS = {code: name.title() for code, name in wire.ACTIONS.items()}
_EVENTS = {code: name.title() for code, name in wire.EVENTS.items()}


def _rows(layer: Layer, buf: bytes) -> list:
    if layer.hdr is None:
        return []
    kind, unit = layer.hdr
    o, end = layer.off, layer.end
    rows = [row("bt-tracker.msg_type", kind,
                f"[Message Type: {MSG_TYPES.get(kind, 'Unknown')} ({kind})]")]  # fmt: skip
    if layer.extra is not None:  # cut short: the header only, as far as it goes
        return rows
    action = ("bt-tracker.action", "Action", buf)
    tid = ("bt-tracker.transaction_id", "Transaction Id", buf)
    if kind == CONNECT_REQUEST:
        rows += [_u64("bt-tracker.proto_id", "Protocol", buf, o, True),
                 _u32(*action, o + 8, names=_ACTIONS), _u32(*tid, o + 12)]  # fmt: skip
    elif kind in (CONNECT_RESPONSE, ANNOUNCE_RESPONSE, SCRAPE_RESPONSE, ERROR_RESPONSE):
        rows += [_u32(*action, o, names=_ACTIONS), _u32(*tid, o + 4)]
        if kind == CONNECT_RESPONSE:
            rows.append(_u64("bt-tracker.connection_id", "Connection Id", buf, o + 8))
        elif kind == ANNOUNCE_RESPONSE:
            rows += _announce_response(buf, o, end, unit)
        elif kind == SCRAPE_RESPONSE:
            for at in range(o + 8, end - 11, 12):
                rows += [
                    _u32("bt-tracker.seeders", "Seeders", buf, at, True),
                    _u32("bt-tracker.completed", "Completed", buf, at + 4, True),
                    _u32("bt-tracker.leechers", "Leechers", buf, at + 8, True),
                ]
        else:
            # (an FT_STRING ends at a NUL: opentracker sends one after its message)
            text = bytes(buf[o + 8 : end]).split(b"\0")[0].decode("ascii", "replace")
            rows.append(row("bt-tracker.error_msg", text, f"Error message: {text}", o + 8,
                            end - o - 8))  # fmt: skip
    elif kind in (ANNOUNCE_REQUEST, SCRAPE_REQUEST):
        rows += [_u64("bt-tracker.connection_id", "Connection Id", buf, o),
                 _u32(*action, o + 8, names=_ACTIONS), _u32(*tid, o + 12)]  # fmt: skip
        if kind == SCRAPE_REQUEST:
            for at in range(o + 16, end - 19, 20):
                rows.append(_bytes("bt-tracker.info_hash", "Info Hash", buf, at, 20))
        else:
            rows += _announce_request(buf, o)
    return rows


def _bytes(name: str, label: str, buf: bytes, at: int, n: int):
    data = bytes(buf[at : at + n])
    return row(name, data, f"{label}: {data.hex()}", at, n)


def _announce_request(buf: bytes, o: int) -> list:
    ip = socket.inet_ntoa(bytes(buf[o + 84 : o + 88]))
    (port,) = struct.unpack_from("!H", buf, o + 96)
    return [
        _bytes("bt-tracker.info_hash", "Info Hash", buf, o + 16, 20),
        _bytes("bt-tracker.peer_id", "Peer Id", buf, o + 36, 20),
        _u64("bt-tracker.downloaded", "Downloaded", buf, o + 56),
        _u64("bt-tracker.left", "Left", buf, o + 64),
        _u64("bt-tracker.uploaded", "Uploaded", buf, o + 72),
        _u32("bt-tracker.event", "Event", buf, o + 80, names=_EVENTS),
        row("bt-tracker.ip_address", ip, f"IP Address: {ip}", o + 84, 4),
        _u32("bt-tracker.key", "Key", buf, o + 88),
        _u32("bt-tracker.num_want", "Num Want", buf, o + 92, True),
        row("bt-tracker.port", port, f"Port: {port}", o + 96, 2),
    ]


def _announce_response(buf: bytes, o: int, end: int, unit: int) -> list:
    rows = [
        _u32("bt-tracker.interval", "Interval", buf, o + 8, True),
        _u32("bt-tracker.leechers", "Leechers", buf, o + 12, True),
        _u32("bt-tracker.seeders", "Seeders", buf, o + 16, True),
    ]
    if end - o <= 20:
        return rows
    at = len(rows)
    rows.append(None)
    n = 0
    for p in range(o + 20, end - unit + 1, unit):
        n += 1
        if unit == 6:
            ip = socket.inet_ntoa(bytes(buf[p : p + 4]))
            where, name, size = f"IPv4/Port: {ip}", "bt-tracker.tracker.ip", 4
        else:
            ip = socket.inet_ntop(socket.AF_INET6, bytes(buf[p : p + 16]))
            where, name, size = f"IPv6/Port: [{ip}]", "bt-tracker.tracker.ip6", 16
        port = buf[p + size] << 8 | buf[p + size + 1]
        rows += [
            row("bt-tracker.tracker", "", f"Tracker {n}, {where}:{port}", p, unit, 1),
            row(name, ip, f"{'IP' if unit == 6 else 'IPv6'}: {ip}", p, size, 2),
            row("bt-tracker.tracker.port", port, f"(TCP) Port: {port}", p + size, 2, 2),
        ]
    rows[at] = row("bt-tracker.trackers", "", f"Trackers: {n} trackers", o + 20, end - o - 20)
    return rows


registry.register(
    "bt-tracker",
    udp_ports={TRACKER_PORT: decode_bt_tracker},
    udp_heuristics=(tracker_heuristic,),
)
