"""The BitTorrent peer protocol in the dissector (tshark's "bittorrent"), BEP 3/6/10.

Found as tshark 4.0 finds it: on TCP ports 6881-6889 (its default range), and on any
port by its heuristic `bittorrent_tcp`: a segment whose payload starts with the
handshake's "\\x13BitTorrent protocol" (at least 20 bytes). Either way the stream then
belongs to one `BtSession` (a registry.StreamProtocol session), which cuts the byte
stream into PDUs exactly as tshark's get_bittorrent_pdu_length does:

- a handshake: 68 bytes (pstrlen, pstr, reserved, info_hash, peer_id);
- a keep-alive (length 0): its 4 bytes;
- a message of a type tshark knows (0-9, BEP 6's 13-17, BEP 10's 20) with a length
  that type can have (tshark's test_type_length: exact for the fixed messages, at most
  0x4009 for a piece or an extended message, 0x20000 for a bitfield): 4 + length bytes,
  reassembled across segments (a 16 KiB piece spans several);
- anything else: the rest of the segment, shown as "Continuation data" (the
  encrypted MSE handshake aria2c starts with, say).

Fields are Wireshark's (`bittorrent.protocol.name`, `.reserved`, `.info_hash`,
`.peer_id`, `.msg`, `.msg.length`, `.msg.type`, `.piece.index/begin/length/data`,
`.msg.bitfield`, `.port`, `.extended.id`, `.extended`, `.continuous_data`, Azureus's
`.azureus_msg`/`.msg.typelen`/`.msg.aztype`/`.msg.prio`), and BEP 10's extension
handshake (extended id 0) is shown as tshark's "bencode" dissector shows it
(`bencode.dict`, `.dict.entry`, `.str.length`, `.str`, `.int`, `.list`), with
"bencode" in frame.protocols. The info column is tshark's: each PDU's message name
(plus its piece numbers), each followed by two spaces ("Handshake  Extended  Have All  ").
Message names and ids are `wire/peerwire.py`'s (`MSG_NAMES`, written as Wireshark's
value string capitalises them).

Bounds: TCP keeps at most 1 MiB of an unfinished PDU (a message claiming up to 16 MiB
is followed until then, and the direction starts over); the bencoded dictionary is
read by `wire/bencode.decode_tree` (64 levels, every length checked first).
"""

from __future__ import annotations

import struct

import netlab.dissect.registry as registry
from netlab.dissect.model import CALL_MARK, ONE_PER_SEGMENT, Layer, Packet, row
from netlab.wire import bencode, peerwire

PORTS = range(6881, 6890)  # tshark 4.0's DEFAULT_TCP_PORT_RANGE "6881-6889"
HEAD = bytes([len(peerwire.PSTR)]) + peerwire.PSTR
# Wireshark's value string: peerwire's names, capitalised as tshark writes them.
MSG_TYPES = {msg_id: name.title() for msg_id, name in peerwire.MSG_NAMES.items()}
# Azureus Messaging Protocol: messages named by a string in a "choke" with a payload
# (tshark's amp_messages; the numbers past 255 are its own).
AMP_NAMES = {
    b"BT_KEEP_ALIVE": 257, b"BT_CHOKE": 0, b"BT_UNCHOKE": 1, b"BT_INTERESTED": 2,
    b"BT_UNINTERESTED": 3, b"BT_HAVE": 4, b"BT_BITFIELD": 5, b"BT_REQUEST": 6,
    b"BT_PIECE": 7, b"BT_CANCEL": 8, b"BT_PORT": 9, b"BT_SUGGEST": 13, b"BT_HAVE_ALL": 14,
    b"BT_HAVE_NONE": 15, b"BT_REJECT_REQUEST": 16, b"BT_ALLOWED_FAST": 17,
    b"BT_EXTENDED": 20, b"AZ_HANDSHAKE": 256, b"BT_HANDSHAKE": 258,
    b"AZ_PEER_EXCHANGE": 259, b"JPC_HELLO": 260, b"JPC_REPLY": 261,
}  # fmt: skip
AMP_TYPES = {
    257: "Keepalive", 256: "Azureus Handshake", 258: "Azureus BitTorrent Handshake",
    259: "Azureus Peer Exchange", 260: "Azureus PeerCache Hello", 261: "Azureus PeerCache Reply",
}  # fmt: skip
PRIORITIES = {0: "Low", 1: "Normal", 2: "High"}
INFO_MAX = 4095  # tshark's COL_MAX_INFO_LEN (4096 with its NUL): the column is cut there
_U32 = struct.Struct("!I")
# (bound once: compiled, a module name is a cached lookup, an attribute a search)
_unpack_u32 = _U32.unpack_from
_III = struct.Struct("!III")
_unpack_ii = struct.Struct("!II").unpack_from
_unpack_iii = _III.unpack_from


# tshark's test_type_length: the lengths a message of each type may have (a byte that
# looks like a type in the middle of encrypted or continuing data seldom has them).
_EXACT = {1: 1, 2: 1, 3: 1, 14: 1, 15: 1, 9: 3, 4: 5, 13: 5, 17: 5, 6: 13, 8: 13, 16: 13}


def type_length_ok(kind: int, length: int) -> bool:
    exact = _EXACT.get(kind)
    if exact is not None:
        return length == exact
    if kind in (7, 20):  # a piece of 16 KiB (0x4000) and its 9 bytes of header at most
        return length <= 0x4009
    if kind in (0, 5) or kind in AMP_TYPES:  # (a choke may be an Azureus message)
        return length <= 0x20000
    return kind in MSG_TYPES


def pdu_length(data, pos: int, end: int) -> int | None:
    """tshark's get_bittorrent_pdu_length for the bytes data[pos:end] (at least 4)."""
    if data[pos] == 19 and data[pos + 1 : pos + 20] == peerwire.PSTR:
        return peerwire.HANDSHAKE_LEN
    (length,) = _unpack_u32(data, pos)
    if length == 0:
        return 4
    if end - pos > 4 and type_length_ok(data[pos + 4], length):
        return 4 + length
    return end - pos  # not a message it knows: continuation data to the segment's end


class BtSession:
    """One TCP stream's BitTorrent (registry.StreamProtocol session): PDUs as tshark's
    tcp_dissect_pdus cuts them; no other state."""

    __slots__ = ("proto",)

    def __init__(self, proto: registry.StreamProtocol) -> None:
        self.proto = proto

    def reset(self, side: int) -> None:
        """(Nothing is kept between PDUs: the next segment starts a PDU.)"""

    def split(self, side: int, data, pos: int, end: int, fin: bool, no: int, ts_ns: int,
              carried: int = 0):  # fmt: skip
        out: list = []
        p = pos
        while end - p >= 4:  # (tshark waits for the 4-byte length)
            n = pdu_length(data, p, end)
            if p + n > end:
                break
            # A PDU put together from earlier segments is a call of its own; tshark
            # calls the dissector again for the PDUs after it ("bittorrent:bittorrent").
            first_after_reassembly = len(out) == 1 and out[0][1] < pos + carried
            out.append((decode_pdu_call if first_after_reassembly else decode_pdu, p, p + n))
            p += n
        return out, p, None


def decode_pdu_call(d, pkt: Packet, buf: bytes, off: int, end: int) -> None:
    if pkt.__class__ is Packet:
        pkt.layers.append(Layer(CALL_MARK, "", off, off, None, None))
    decode_pdu(d, pkt, buf, off, end)


def decode_pdu(d, pkt: Packet, buf: bytes, off: int, end: int) -> None:
    """One PDU: a handshake, a message, or continuation data."""
    if end - off >= 20 and buf[off : off + 20] == HEAD:
        kind, text = "handshake", "Handshake"
    else:
        kind, text = _message(buf, off, end)
    # tshark's column: each PDU's text and two spaces after it (its fence), cut at
    # COL_MAX_INFO_LEN (15,000 keep-alives fit in one segment)
    if pkt.protocol == "BitTorrent":
        if len(pkt.info) < INFO_MAX:
            pkt.info = (pkt.info + text + "  ")[:INFO_MAX]
    else:
        pkt.protocol, pkt.info = "BitTorrent", text + "  "
    if pkt.__class__ is not Packet:  # (the one-line view's stand-in: columns only)
        return
    layer = Layer("bittorrent", "BitTorrent", off, end, kind, _rows)
    pkt.layers.append(layer)
    if kind == "extended0":
        layer.extra = _bencoded(buf, off + 6, end)
        pkt.layers.append(Layer("bencode", "", end, end, None, None))
        if isinstance(layer.extra, str):
            pkt.mark_malformed(layer, f"bencode: {layer.extra}")
    elif kind == "short":
        pkt.mark_malformed(layer, f"bittorrent: {text} message of {end - off} bytes, cut short")


def _message(buf: bytes, off: int, end: int) -> tuple[str, str]:
    """(kind, info text) of a message PDU, as tshark's dissect_bittorrent_message reads it."""
    if end - off < 5:  # (a keep-alive: tshark shows no message, its info says "BitTorrent")
        return "none", "BitTorrent "
    (length,) = _unpack_u32(buf, off)
    kind = buf[off + 4]
    amp = _amp(buf, off, end, length) if kind == 0 and length > 4 else None
    if amp is not None:
        kind = amp[0]
    name = AMP_TYPES.get(kind) or MSG_TYPES.get(kind)
    if name is None or not type_length_ok(kind, length):
        return "continuation", "Continuation data"
    body = off + 5 if amp is None else off + 4 + 4 + amp[1] + 1
    if kind in (6, 8, 16):
        if end - body < 12:
            return "short", name
        index, begin, size = _unpack_iii(buf, body)
        return (
            "amp" if amp else "msg",
            f"{name}, Piece (Idx:0x{index:x},Begin:0x{begin:x},Len:0x{size:x})",
        )
    if kind in (4, 13, 17):
        if end - body < 4:
            return "short", name
        return "amp" if amp else "msg", f"{name}, Piece (Idx:0x{_unpack_u32(buf, body)[0]:x})"
    if kind == 5:
        return "amp" if amp else "msg", f"{name}, Len:0x{off + 4 + length - body:x}"
    if kind == 7:
        if end - body < 8:
            return "short", name
        index, begin = _unpack_ii(buf, body)
        return "amp" if amp else "msg", (
            f"{name}, Idx:0x{index:x},Begin:0x{begin:x},Len:0x{off + 4 + length - body - 8:x}"
        )
    if kind == 20 and amp is None and end - body >= 1 and buf[body] == 0:
        return "extended0", name
    return "amp" if amp else "msg", name


def _amp(buf: bytes, off: int, end: int, length: int) -> tuple[int, int] | None:
    """An Azureus message in a choke's clothes: (its type, the name's length), or None."""
    if end - off < 8:
        return None
    (typelen,) = _unpack_u32(buf, off + 4)
    if 4 + typelen + 1 > length or end - off < 8 + typelen + 1:
        return None
    kind = AMP_NAMES.get(bytes(buf[off + 8 : off + 8 + typelen]))
    if kind is None or buf[off + 8 + typelen] > 2:
        return None
    return kind, typelen


def _bencoded(buf: bytes, off: int, end: int):
    try:
        return bencode.decode_tree(bytes(buf[off:end]), strict=False)
    except bencode.BencodeError as err:
        return str(err)


# --- decoders and registration -------------------------------------------------------------------
def decode_bittorrent(d, pkt: Packet, buf: bytes, off: int, end: int) -> None:
    """A segment on its own (the first fragment of an IP datagram): its whole PDUs."""
    out, _used, _info = BtSession(PROTOCOL).split(0, buf, off, end, False, pkt.no, pkt.ts_ns)
    for fn, start, stop in out:
        fn(d, pkt, buf, start, stop)


def bt_pdu_length(data: bytes) -> None:
    """StreamProtocol.pdu_length: unused, the session splits the bytes."""
    return None


def bittorrent_heuristic(buf: bytes, off: int, end: int):
    """tshark's test_bittorrent_packet: a handshake's first 20 bytes at the segment's start."""
    if end - off >= 20 and buf[off] == 19 and buf[off : off + 20] == HEAD:
        return PROTOCOL
    return None


PROTOCOL = registry.StreamProtocol(decode_bittorrent, bt_pdu_length, BtSession)


# --- fields --------------------------------------------------------------------------------------
def _hexshow(label: str, data: bytes) -> str:
    """tshark's FT_BYTES text: 36 bytes in hex, then "…"."""
    return f"{label}: {data[:36].hex()}{'…' if len(data) > 36 else ''}"


def _rows(layer: Layer, buf: bytes) -> list:
    o, end, kind = layer.off, layer.end, layer.hdr
    if kind == "handshake":
        return _handshake_rows(buf, o)
    if kind == "none":
        return []
    if kind == "continuation":
        data = bytes(buf[o:end])
        return [row("bittorrent.continuous_data", data, _hexshow("Extended Message", data), o,
                    end - o)]  # fmt: skip
    (length,) = _unpack_u32(buf, o)
    msg_type = buf[o + 4]
    amp = _amp(buf, o, end, length) if msg_type == 0 and length > 4 else None
    if amp is not None:
        msg_type = amp[0]
    name = AMP_TYPES.get(msg_type) or MSG_TYPES[msg_type]
    rows = [None, row("bittorrent.msg.length", length, f"Message Length: {length}", o, 4, 1)]
    if kind == "keepalive":
        rows[0] = row("bittorrent.msg", "", "Message", o, 4 + length)
        return rows
    if amp is not None:
        typelen = amp[1]
        aztype = bytes(buf[o + 8 : o + 8 + typelen]).decode("ascii", "replace")
        prio = buf[o + 8 + typelen]
        head = f"Azureus Message: Len {length}, {name}"
        rows += [
            row("bittorrent.msg.typelen", typelen, f"Message Type Length: {typelen}", o + 4, 4, 1),
            row("bittorrent.msg.aztype", aztype, f"Message Type: {aztype}", o + 8, typelen, 1),
            row("bittorrent.msg.prio", prio, f"Message Priority: {PRIORITIES[prio]} ({prio})",
                o + 8 + typelen, 1, 1),
        ]  # fmt: skip
        body = o + 8 + typelen + 1
        field = "bittorrent.azureus_msg"
    else:
        head = f"Message: Len:{length}, {name}"
        rows.append(row("bittorrent.msg.type", msg_type, f"Message Type: {name} ({msg_type})",
                        o + 4, 1, 1))  # fmt: skip
        body = o + 5
        field = "bittorrent.msg"
    stop = min(end, o + 4 + length)
    more, tail = _body_rows(layer, buf, msg_type, body, stop)
    rows += more
    rows[0] = row(field, "", head + tail, o, 4 + length)
    return rows


def _body_rows(layer: Layer, buf: bytes, kind: int, b: int, stop: int) -> tuple[list, str]:
    rows: list = []
    tail = ""
    if kind in (6, 8, 16) and stop - b >= 12:
        index, begin, length = _unpack_iii(buf, b)
        rows = [
            row("bittorrent.piece.index", index, f"Piece index: 0x{index:08x}", b, 4, 1),
            row("bittorrent.piece.begin", begin, f"Begin offset of piece: 0x{begin:08x}", b + 4,
                4, 1),
            row("bittorrent.piece.length", length, f"Piece Length: 0x{length:08x}", b + 8, 4, 1),
        ]  # fmt: skip
        tail = f", Piece (Idx:0x{index:x},Begin:0x{begin:x},Len:0x{length:x})"
    elif kind in (4, 13, 17) and stop - b >= 4:
        (index,) = _unpack_u32(buf, b)
        rows = [row("bittorrent.piece.index", index, f"Piece index: 0x{index:08x}", b, 4, 1)]
        tail = f", Piece (Idx:0x{index:x})"
    elif kind == 5:
        data = bytes(buf[b:stop])
        rows = [row("bittorrent.msg.bitfield", data, _hexshow("Bitfield data", data), b,
                    len(data), 1)]  # fmt: skip
        tail = f", Len:0x{stop - b:x}"
    elif kind == 7 and stop - b >= 8:
        index, begin = struct.unpack_from("!II", buf, b)
        data = bytes(buf[b + 8 : stop])
        rows = [
            row("bittorrent.piece.index", index, f"Piece index: 0x{index:08x}", b, 4, 1),
            row("bittorrent.piece.begin", begin, f"Begin offset of piece: 0x{begin:08x}", b + 4,
                4, 1),
            row("bittorrent.piece.data", data, _hexshow("Data in a piece", data), b + 8,
                len(data), 1),
        ]  # fmt: skip
        tail = f", Idx:0x{index:x},Begin:0x{begin:x},Len:0x{len(data):x}"
    elif kind == 9 and stop - b >= 2:
        port = buf[b] << 8 | buf[b + 1]
        rows = [row("bittorrent.port", port, f"Port: {port}", b, 2, 1)]
    elif kind == 20 and stop - b >= 1:
        ext = buf[b]
        rows = [row("bittorrent.extended.id", ext, f"Extended Message ID: {ext}", b, 1, 1)]
        if ext == 0 and isinstance(layer.extra, bencode.Node):
            rows += _bencode_rows(buf, layer.extra, b + 1, 1)
        elif ext != 0:
            data = bytes(buf[b + 1 : stop])
            rows.append(row("bittorrent.extended", data, _hexshow("Extended Message", data),
                            b + 1, len(data), 1))  # fmt: skip
    return rows, tail


def _handshake_rows(buf: bytes, o: int) -> list:
    reserved, info_hash, peer_id = (
        bytes(buf[o + 20 : o + 28]),
        bytes(buf[o + 28 : o + 48]),
        bytes(buf[o + 48 : o + 68]),
    )
    return [
        row("bittorrent.protocol.name.length", 19, "Protocol Name Length: 19", o, 1),
        row("bittorrent.protocol.name", "BitTorrent protocol",
            "Protocol Name: BitTorrent protocol", o + 1, 19),
        row("bittorrent.reserved", reserved, f"Reserved Extension Bytes: {reserved.hex()}",
            o + 20, 8),
        row("bittorrent.info_hash", info_hash, f"SHA1 Hash of info dictionary: {info_hash.hex()}",
            o + 28, 20),
        row("bittorrent.peer_id", peer_id, f"Peer ID: {peer_id.hex()}", o + 48, 20),
    ]  # fmt: skip


# --- tshark's "bencode" dissector (the BEP 10 extension handshake) ----------------------------
def _text(raw: bytes) -> str:
    """tshark's format_text: printable ASCII as is, C escapes or octal for the rest."""
    out = []
    for ch in raw.decode("utf-8", "replace"):
        c = ord(ch)
        if c < 0x20 or c == 0x7F:
            out.append(_ESCAPES.get(c) or f"\\{c:03o}")
        else:
            out.append(ch)
    return "".join(out)


_ESCAPES = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r"}


def _bencode_rows(buf: bytes, node: bencode.Node, o: int, depth: int) -> list:
    """A value as tshark's packet-bencode.c shows it (its offsets are node's + o)."""
    kind = node.kind
    if kind == "int":
        value = (node.value + (1 << 31)) % (1 << 32) - (1 << 31)  # (an FT_INT32)
        return [row("bencode.int", value, f"Integer: {value}", o + node.start,
                    node.end - node.start, depth)]  # fmt: skip
    if kind == "bytes":
        return _str_rows(node, o, depth)
    if kind == "list":
        rows = [row("bencode.list", "", "List", o + node.start, node.end - node.start, depth)]
        for item in node.items:
            rows += _bencode_rows(buf, item, o, depth + 1)
        return rows
    rows = [row("bencode.dict", "", "Dictionary", o + node.start, node.end - node.start, depth)]
    for key, value in node.items:
        title = f"Entry Key: {_text(key.value)}"
        if value.kind == "bytes":
            title += f"  Value: {_text(value.value)}"
        elif value.kind == "int":
            title += f"  Value: {(value.value + (1 << 31)) % (1 << 32) - (1 << 31)}"
        rows.append(row("bencode.dict.entry", "", title, o + key.start, value.end - key.start,
                        depth + 1))  # fmt: skip
        rows += _str_rows(key, o, depth + 2)
        rows += _bencode_rows(buf, value, o, depth + 2)
    return rows


def _str_rows(node: bencode.Node, o: int, depth: int) -> list:
    raw = node.value
    head = node.end - len(raw) - node.start  # the length's digits and the colon
    text = raw.decode("ascii", "replace")
    return [
        row("bencode.str.length", len(raw), f"String Length: {len(raw)}", o + node.start, head,
            depth),
        row("bencode.str", text, f"String: {_text(raw)}", o + node.start + head, len(raw), depth),
    ]  # fmt: skip


ONE_PER_SEGMENT.add("bittorrent")
registry.register(
    "bittorrent",
    "bencode",
    tcp_ports=dict.fromkeys(PORTS, PROTOCOL),
    tcp_heuristics=(bittorrent_heuristic,),
)
