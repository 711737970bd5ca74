"""The BitTorrent DHT in the dissector (tshark's "bt-dht"): KRPC messages over UDP (BEP 5).

Found as tshark 4.0 finds it, by its heuristic `bittorrent_dht_udp` (on by default in
tshark, so the comparison needs no `--enable-heuristic`): a UDP payload of at least 5
bytes that starts "d1:ad", "d1:rd", "d2:ip" or "d1:el" (a bencoded dictionary whose
first key, keys being sorted, is a query's "a", a response's "r", BEP 42's "ip" or an
error's "e"). tshark has no port for it either (decode-as only).

The payload is decoded once with `wire.bencode.decode_tree` (lenient: unsorted keys
pass; offsets kept) and shown as tshark shows it: every dictionary entry an item
"key: value" (the one-letter keys named: "Transaction ID", "Message type", …), the
bencoded strings, integers, lists and dictionaries under it (`bt-dht.bencoded.*`),
the compact node info of "nodes"/"nodes6" as `bt-dht.node` (id, ip or ip6, port), the
peers of "values" as `bt-dht.peer`, BEP 42's "ip" as `bt-dht.ip`/`bt-dht.port`, an
error as `bt-dht.error`; hex for the binary keys tshark names (id, target, info_hash,
t, v, token), ASCII (a U+FFFD for each byte over 0x7F) for the others. The info column
is tshark's: "BitTorrent DHT Protocol", then " reply=N nodes" / " reply=N peers" for
each nodes/values entry.

Bounded: bencode's own limits (64 levels, every length checked against the datagram
before anything is read: a 2 GB string length or a dictionary nested 100,000 deep is
an error at its first byte), and a datagram holds at most 64 KiB of values. Damage
marks the layer malformed (`bt-dht: bencode: … at byte N`, N counted from the start of
the UDP payload) and shows the message's first bytes only.

Deliberate differences from tshark 4.0 (tests/test_dissect_bittorrent.py):
- an error's list ("e": [203, "msg"]) is read to its end, so the entries after it
  (t, v, y) are shown; tshark takes the list's "e" for the dictionary's and stops.
  Its info text gets a space before it (tshark: "…Protocolerror_no=203 error_msg=… ").
- an empty string ("0:") is a string; tshark stops the whole message there.
- a nodes string whose length is not a multiple of 26 (38) shows its rest as
  `bt-dht.truncated_data`, as tshark does; a values item of neither 6 nor 18 bytes
  likewise; an item that is not a string at all is shown as the value it is.
"""

from __future__ import annotations

import socket

import netlab.dissect.registry as registry
from netlab.dissect.model import Layer, Packet, row
from netlab.wire import bencode

TITLE = "BitTorrent DHT Protocol"
# tshark's test_bt_dht: the four ways a KRPC dictionary can begin.
STARTS = (b"d1:ad", b"d1:rd", b"d2:ip", b"d1:el")
# tshark's names for the one-letter keys and values (packet-bt-dht.c)
KEY_NAMES = {
    "a": "Request arguments", "e": "Error", "q": "Request type", "r": "Response values",
    "t": "Transaction ID", "v": "Version", "y": "Message type",
}  # fmt: skip
VALUE_NAMES = {"e": "Error", "q": "Request", "r": "Response"}
HEX_KEYS = frozenset((b"id", b"target", b"info_hash", b"t", b"v", b"token"))
HEX_MAX = 36  # tshark's bytes_to_str shows 36 bytes, then "…"
TERMINATOR = "bt-dht.bencoded.list.terminator"
_ntop = socket.inet_ntop
_V4, _V6 = socket.AF_INET, socket.AF_INET6
_IP_FIELDS = {4: "bt-dht.ip", 16: "bt-dht.ip6"}  # by address size


def _endpoint(raw: bytes, size: int) -> tuple[str, int, str]:
    """A compact address of `size` bytes (4 or 16) and its port: (ip, port, "ip:port"
    or "[ip6]:port")."""
    ip = _ntop(_V6 if size == 16 else _V4, raw[:size])
    port = raw[size] << 8 | raw[size + 1]
    return ip, port, f"[{ip}]:{port}" if size == 16 else f"{ip}:{port}"


def bt_dht_heuristic(buf: bytes, off: int, end: int):
    if end - off >= 5 and buf[off : off + 5] in STARTS:
        return decode_bt_dht
    return None


def decode_bt_dht(d, pkt: Packet, buf: bytes, off: int, end: int) -> None:
    try:
        tree = bencode.decode_tree(bytes(buf[off:end]), strict=False)
        problem = None
    except bencode.BencodeError as err:
        tree, problem = None, str(err)
    layer = Layer("bt-dht", TITLE, off, end, tree, _rows)
    pkt.layers.append(layer)
    pkt.protocol = "BT-DHT"
    if tree is None:
        pkt.info = TITLE
        pkt.mark_malformed(layer, f"bt-dht: {problem}")
        return None
    parts: list[str] = []
    _info(tree, parts)
    pkt.info = TITLE + "".join(parts)
    return None


def _columns(buf: bytes, off: int, end: int) -> tuple[str, str] | None:
    """The one-line view's (protocol, info) without a Packet (udp.columns asks a
    decoder's `columns`); None for damage, which decode_bt_dht marks. The info is read
    straight off the bytes (_quick_info); anything it is unsure of goes to the tree."""
    data = bytes(buf[off:end])
    parts: list[str] = []
    try:
        whole = _quick_info(data, 0, 0, parts) > 0
    except IndexError:  # (the data ends inside a value)
        whole = False
    if not whole:
        try:
            tree = bencode.decode_tree(data, strict=False)
        except bencode.BencodeError:
            return None
        parts = []
        _info(tree, parts)
    return "BT-DHT", TITLE + "".join(parts)


def _quick_info(data: bytes, pos: int, depth: int, parts: list[str] | None) -> int:
    """_info's additions (into PARTS; None: skip only) for the value at POS, without a
    Node per value (a KRPC message is a dozen of them: the tree took two thirds of the
    one-line view's time). -> where the value ends, or -1 for anything not plainly
    well formed (bencode.decode_tree then decides, and says what is wrong). Checks
    as decode_tree does: lengths within the data, digits, keys not repeated, depth."""
    c = data[pos]
    if 0x30 <= c <= 0x39 or c == 0x69:  # a string or an integer: nothing to add
        return _quick_scalar(data, pos)
    if depth >= bencode.MAX_DEPTH or (c != 0x64 and c != 0x6C):
        return -1
    pos += 1
    if c == 0x6C:  # a list: what its containers hold
        while data[pos] != 0x65:
            pos = _quick_info(data, pos, depth + 1, parts)
            if pos < 0:
                return -1
        return pos + 1
    last = None
    while data[pos] != 0x65:  # a dictionary: keys are strings, none twice in a row
        if not 0x30 <= data[pos] <= 0x39:
            return -1
        start = pos
        pos = _quick_scalar(data, pos)
        if pos < 0:
            return -1
        colon = start + 1
        while data[colon] != 0x3A:  # (there is one: _quick_scalar found it)
            colon += 1
        key = data[colon + 1 : pos]
        if key == last:
            return -1
        last = key
        c = data[pos]
        if parts is not None and (key == b"nodes" or key == b"nodes6") and 0x30 <= c <= 0x39:
            end = _quick_scalar(data, pos)
            if end < 0:
                return -1
            size = end - data.index(b":", pos) - 1
            parts.append(f" reply={size // (26 if key == b'nodes' else 38)} nodes")
            pos = end
        elif parts is not None and (key == b"values" or key == b"e") and c == 0x6C:
            found: list[str] = []
            end = _quick_list(data, pos, depth + 1, key == b"e", found)
            if end < 0:
                return -1
            parts += found
            pos = end
        else:
            pos = _quick_info(data, pos, depth + 1, parts)
            if pos < 0:
                return -1
    return pos + 1


def _quick_scalar(data: bytes, pos: int) -> int:
    """The end of the string or integer at POS, checked as bencode checks it; -1 if bad.
    Byte by byte (no slices, no int()): compiled, it is a C loop, and a KRPC message
    is a few dozen of these."""
    if data[pos] == 0x69:  # i, an optional minus, digits, e; within 32 bytes
        limit = min(len(data), pos + 32)
        p = pos + 1
        if p < limit and data[p] == 0x2D:
            p += 1
        start = p
        while p < limit and 0x30 <= data[p] <= 0x39:
            p += 1
        return p + 1 if start < p < limit and data[p] == 0x65 else -1
    limit = min(len(data), pos + 12)  # a length, a colon, within 12 bytes
    p = pos
    size = 0
    while p < limit and 0x30 <= data[p] <= 0x39:
        size = size * 10 + data[p] - 0x30
        p += 1
    if p == pos or p >= limit or data[p] != 0x3A:
        return -1
    end = p + 1 + size
    return end if end <= len(data) else -1


def _quick_list(data: bytes, pos: int, depth: int, error: bool, parts: list[str]) -> int:
    """A "values" list (its peers counted: strings of 6 or 18 bytes) or an "e" list
    (an error's code and message, when it starts with an integer and a string; else
    what its containers hold, as _info walks it). -> its end, or -1."""
    if depth >= bencode.MAX_DEPTH:
        return -1
    starts = []
    p = pos + 1
    while data[p] != 0x65:
        starts.append(p)
        p = _quick_info(data, p, depth + 1, None)
        if p < 0:
            return -1
    end = p + 1
    if not error:
        peers = 0
        for i, start in enumerate(starts):
            stop = starts[i + 1] if i + 1 < len(starts) else end - 1
            if 0x30 <= data[start] <= 0x39:
                peers += stop - data.index(b":", start) - 1 in (6, 18)
        parts.append(f" reply={peers} peers")
    elif len(starts) >= 2 and data[starts[0]] == 0x69 and 0x30 <= data[starts[1]] <= 0x39:
        code = int(data[starts[0] + 1 : data.index(b"e", starts[0])])
        msg = data[data.index(b":", starts[1]) + 1 : starts[2] if len(starts) > 2 else end - 1]
        parts.append(f" error_no={code} error_msg={_ascii(msg)}")
    elif _quick_info(data, pos, depth, parts) < 0:  # (walked again, now adding)
        return -1
    return end


decode_bt_dht.columns = _columns  # type: ignore[attr-defined]


def _info(node: bencode.Node, parts: list[str]) -> None:
    """tshark's info additions, in the order its walk meets them."""
    if node.kind == "list":
        for item in node.items:
            if item.kind in ("dict", "list"):
                _info(item, parts)
        return
    for key, value in node.items:
        name = key.value
        if value.kind == "bytes" and name in (b"nodes", b"nodes6"):
            parts.append(f" reply={len(value.value) // (26 if name == b'nodes' else 38)} nodes")
        elif value.kind == "list" and name == b"values":
            parts.append(f" reply={sum(1 for i in value.items if _peer_len(i))} peers")
        elif value.kind == "list" and name == b"e" and _error_pair(value):
            code, msg = value.items[:2]
            parts.append(f" error_no={code.value} error_msg={_ascii(msg.value)}")
        elif value.kind in ("dict", "list"):
            _info(value, parts)


def _peer_len(item: bencode.Node) -> bool:
    return item.kind == "bytes" and len(item.value) in (6, 18)


def _error_pair(node: bencode.Node) -> bool:
    items = node.items
    return len(items) >= 2 and items[0].kind == "int" and items[1].kind == "bytes"


def _ascii(raw: bytes) -> str:
    return raw.decode("ascii", "replace")


def _hex(raw: bytes) -> str:
    if len(raw) > HEX_MAX:
        return raw[:HEX_MAX].hex() + "…"
    return raw.hex()


# --- fields --------------------------------------------------------------------------------------
def _rows(layer: Layer, buf: bytes) -> list:
    tree: bencode.Node | None = layer.hdr
    o = layer.off
    if tree is None:  # malformed: the first bytes, as far as they are worth showing
        data = bytes(buf[o : min(layer.end, o + 64)])
        return [row("", "", f"[Bencoded data: {_ascii(data)!r}]", o, layer.end - o)]
    out: list = []
    if tree.kind == "dict":
        _dict_entries(out, buf, tree, o, 0)
    else:  # (the heuristic saw "d…", so only a dict reaches here; kept for safety)
        _value(out, buf, tree, o, 0, "Value")
    return out


def _dict_entries(out: list, buf: bytes, node: bencode.Node, o: int, depth: int) -> None:
    for key, value in node.items:
        _entry(out, buf, key, value, o, depth)
    out.append(row(TERMINATOR, "e", "Terminator: e", o + node.end - 1, 1, depth))


def _string_at(node: bencode.Node, o: int) -> int:
    """Where a string's bytes start in the frame (after its length and colon)."""
    return o + node.end - len(node.value)


def _entry(
    out: list, buf: bytes, key: bencode.Node, value: bencode.Node, o: int, depth: int
) -> None:
    at = len(out)
    out.append(None)  # the entry's own row, once its value's text is known
    k = _ascii(key.value)
    sub = depth + 1
    out.append(row("bt-dht.bencoded.string", k, f"Key: {k}", _string_at(key, o),
                   len(key.value), sub))  # fmt: skip
    name = key.value
    if value.kind == "dict":
        out.append(row("bt-dht.bencoded.dict", "", "Value: Dictionary...", o + value.start,
                       value.end - value.start, sub))  # fmt: skip
        _dict_entries(out, buf, value, o, sub + 1)
        shown = "Dictionary..."
    elif value.kind == "list":
        if name == b"e" and _error_pair(value):
            shown = _error(out, buf, value, o, sub)
        elif name == b"values":
            shown = _peers(out, buf, value, o, sub)
        else:
            _value(out, buf, value, o, sub, "Value")
            shown = "List..."
    elif value.kind == "int":
        shown = _int(out, buf, value, o, sub, "Value")
    elif name in (b"nodes", b"nodes6"):
        shown = _nodes(out, value, o, sub, name == b"nodes6")
    elif name == b"ip" and len(value.value) == 6:
        p = _string_at(value, o)
        shown, port, _where = _endpoint(value.value, 4)
        out.append(row("bt-dht.ip", shown, f"IP: {shown}", p, 4, sub))
        out.append(row("bt-dht.port", port, f"Port: {port}", p + 4, 2, sub))
    else:
        shown = _hex(value.value) if name in HEX_KEYS or name == b"ip" else _ascii(value.value)
        out.append(row("bt-dht.bencoded.string", shown, f"Value: {shown}", _string_at(value, o),
                       len(value.value), sub))  # fmt: skip
    label = KEY_NAMES.get(k, k) if len(k) == 1 else k
    if len(shown) == 1:
        shown = VALUE_NAMES.get(shown, shown)
    out[at] = row("bt-dht.bencoded.dict_entry", "", f"{label}: {shown}", o + key.start,
                  value.end - key.start, depth)  # fmt: skip


def _int(out: list, buf: bytes, node: bencode.Node, o: int, depth: int, label: str) -> str:
    """tshark adds the integer's "e" before the integer itself, whose text (an FT_STRING)
    is the digits as sent ("007" stays so)."""
    start = o + node.start + 1
    text = _ascii(bytes(buf[start : o + node.end - 1]))
    out.append(row(TERMINATOR, "e", "Terminator: e", o + node.end - 1, 1, depth))
    out.append(row("bt-dht.bencoded.int", text, f"{label}: {text}", start, len(text), depth))
    return text


def _value(out: list, buf: bytes, node: bencode.Node, o: int, depth: int, label: str) -> None:
    """A value inside a list (or a list as a dictionary's value): tshark's labels."""
    kind = node.kind
    if kind == "int":
        _int(out, buf, node, o, depth, label)
    elif kind == "bytes":
        text = _ascii(node.value)
        out.append(row("bt-dht.bencoded.string", text, f"{label}: {text}", _string_at(node, o),
                       len(node.value), depth))  # fmt: skip
    elif kind == "dict":
        out.append(row("bt-dht.bencoded.dict", "", f"{label}: Dictionary...", o + node.start,
                       node.end - node.start, depth))  # fmt: skip
        _dict_entries(out, buf, node, o, depth + 1)
    else:
        out.append(row("bt-dht.bencoded.list", "", f"{label}: list...", o + node.start,
                       node.end - node.start, depth))  # fmt: skip
        for item in node.items:
            _value(out, buf, item, o, depth + 1, _ITEM_LABELS[item.kind])
        out.append(row(TERMINATOR, "e", "Terminator: e", o + node.end - 1, 1, depth + 1))


_ITEM_LABELS = {"int": "Integer", "bytes": "String", "list": "Sub-list", "dict": "Sub-dict"}


def _error(out: list, buf: bytes, node: bencode.Node, o: int, depth: int) -> str:
    code, msg = node.items[:2]
    at = len(out)
    out.append(None)
    code_text = _int(out, buf, code, o, depth + 1, "Error ID")
    text = _ascii(msg.value)
    out.append(row("bt-dht.bencoded.string", text, f"Error Message: {text}", _string_at(msg, o),
                   len(msg.value), depth + 1))  # fmt: skip
    for item in node.items[2:]:  # (not in BEP 5; shown, not dropped)
        _value(out, buf, item, o, depth + 1, _ITEM_LABELS[item.kind])
    out.append(row(TERMINATOR, "e", "Terminator: e", o + node.end - 1, 1, depth + 1))
    shown = f"error {code_text}, {text}"
    out[at] = row("bt-dht.error", "", f"Value: {shown}", o + node.start, node.end - node.start,
                  depth)  # fmt: skip
    return shown


def _peers(out: list, buf: bytes, node: bencode.Node, o: int, depth: int) -> str:
    """A get_peers answer's "values": compact peers (6 bytes IPv4, 18 IPv6)."""
    at = len(out)
    out.append(None)
    rest: list = []  # tshark puts what is not a peer beside the peers, after them
    n = 0
    for item in node.items:
        if item.kind != "bytes":
            _value(rest, buf, item, o, depth, _ITEM_LABELS[item.kind])
            continue
        raw, p = item.value, _string_at(item, o)
        if len(raw) in (6, 18):
            n += 1
            size = len(raw) - 2
            ip, port, where = _endpoint(raw, size)
            kind = "IPv6" if size == 16 else "IP"
            out += [
                row("bt-dht.peer", "", f"Peer {n} ({kind}/Port: {where})", p, len(raw), depth + 1),
                row(_IP_FIELDS[size], ip, f"IP: {ip}", p, size, depth + 2),
                row("bt-dht.port", port, f"Port: {port}", p + size, 2, depth + 2),
            ]
        else:
            rest.append(row("bt-dht.truncated_data", raw, f"Truncated data: {raw.hex()}", p,
                            len(raw), depth))  # fmt: skip
    out.append(row(TERMINATOR, "e", "Terminator: e", o + node.end - 1, 1, depth + 1))
    out[at] = row("bt-dht.peers", "", f"Value: {n} peers", o + node.start, node.end - node.start,
                  depth)  # fmt: skip
    out += rest
    return f"{n} peers"


def _nodes(out: list, node: bencode.Node, o: int, depth: int, six: bool) -> str:
    """Compact node info: 20-byte id, address (4 or 16 bytes), port; 26 or 38 bytes each.
    (wire/krpc.compact_nodes keeps what a lookup may use; this shows every byte as
    tshark does: nodes of port 0, and no cap but the datagram's size.)"""
    raw, p = node.value, _string_at(node, o)
    unit = 38 if six else 26
    count, rest = divmod(len(raw), unit)
    out.append(row("bt-dht.nodes", "", f"Value: {count} nodes", p, len(raw), depth))
    size, kind = (16, "IPv6") if six else (4, "IPv4")
    name = _IP_FIELDS[size]
    for i in range(count):
        at = p + i * unit
        chunk = raw[i * unit : (i + 1) * unit]
        node_id = chunk[:20]
        ip, port, where = _endpoint(chunk[20:], size)
        out += [
            row("bt-dht.node", "", f"Node {i + 1} (id: {node_id.hex()}, {kind}/Port: {where})",
                at, unit, depth + 1),
            row("bt-dht.id", node_id, f"ID: {node_id.hex()}", at, 20, depth + 2),
            row(name, ip, f"IP: {ip}", at + 20, size, depth + 2),
            row("bt-dht.port", port, f"Port: {port}", at + 20 + size, 2, depth + 2),
        ]  # fmt: skip
    if rest:
        tail = raw[count * unit :]
        out.append(row("bt-dht.truncated_data", tail, f"Truncated data: {tail.hex()}",
                       p + count * unit, rest, depth))  # fmt: skip
    return str(count)


registry.register("bt-dht", udp_heuristics=(bt_dht_heuristic,))
