"""The BitTorrent peer wire protocol (BEP 3, with BEP 6 fast and BEP 10 extensions).

    handshake  pstrlen (19) | pstr "BitTorrent protocol" | reserved (8 bytes)
               | info_hash (20) | peer_id (20)                          = 68 bytes
    message    length (4, big-endian) | id (1) | payload (length - 1)
               length 0 is a keep-alive (no id)

Reserved bits a client sets to say what else it speaks: byte 5 & 0x10 the
extension protocol (BEP 10), byte 7 & 0x01 the DHT (BEP 5), byte 7 & 0x04 the fast
extension (BEP 6). Message ids follow Wireshark's `bittorrent.msg.type` names.
Extended messages (id 20) carry an extension id; 0 is the extension handshake, a
bencoded dictionary (m: extension name → id, v: client, p: listen port, reqq,
yourip, metadata_size).

Everything is bounded: `split_messages` reads the 4-byte length first and refuses
one over `max_length` (a peer claiming 4 GB is an error, not an allocation), and
every payload is checked against its message type's size before it is unpacked.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field

from netlab.wire import bencode

PSTR = b"BitTorrent protocol"
HANDSHAKE_LEN = 1 + len(PSTR) + 8 + 20 + 20  # 68
# A piece message carries a 16 KiB block (some clients send up to 128 KiB), a bitfield
# one bit per piece: 1 MiB covers 8 million pieces and any sane block.
MAX_MESSAGE_LENGTH = 1 << 20

CHOKE, UNCHOKE, INTERESTED, NOT_INTERESTED, HAVE, BITFIELD = 0, 1, 2, 3, 4, 5
REQUEST, PIECE, CANCEL, PORT = 6, 7, 8, 9
SUGGEST, HAVE_ALL, HAVE_NONE, REJECT, ALLOWED_FAST = 13, 14, 15, 16, 17
EXTENDED = 20

MSG_NAMES = {
    CHOKE: "choke",
    UNCHOKE: "unchoke",
    INTERESTED: "interested",
    NOT_INTERESTED: "not interested",
    HAVE: "have",
    BITFIELD: "bitfield",
    REQUEST: "request",
    PIECE: "piece",
    CANCEL: "cancel",
    PORT: "port",
    SUGGEST: "suggest piece",
    HAVE_ALL: "have all",
    HAVE_NONE: "have none",
    REJECT: "reject request",
    ALLOWED_FAST: "allowed fast",
    EXTENDED: "extended",
}

# (byte, mask) → (short name, meaning) for the reserved field.
RESERVED_BITS = {
    (5, 0x10): ("extension_protocol", "BEP 10 extension protocol"),
    (7, 0x01): ("dht", "BEP 5 DHT"),
    (7, 0x04): ("fast", "BEP 6 fast extension"),
    (7, 0x08): ("nat_traversal", "BEP 55 holepunch / NAT traversal"),
    (7, 0x10): ("v2_upgrade", "BEP 52 hybrid v2 upgrade"),
}
EXTENSION_PROTOCOL, DHT, FAST = (5, 0x10), (7, 0x01), (7, 0x04)

# Exact payload sizes (after the id) of the fixed messages.
_FIXED = {
    CHOKE: 0,
    UNCHOKE: 0,
    INTERESTED: 0,
    NOT_INTERESTED: 0,
    HAVE_ALL: 0,
    HAVE_NONE: 0,
    HAVE: 4,
    SUGGEST: 4,
    ALLOWED_FAST: 4,
    REQUEST: 12,
    CANCEL: 12,
    REJECT: 12,
    PORT: 2,
}


class PeerWireError(ValueError):
    """Bytes that are not the peer wire protocol (one line)."""


# --- handshake ------------------------------------------------------------------------


@dataclass(frozen=True)
class Handshake:
    info_hash: bytes
    peer_id: bytes
    reserved: bytes = bytes(8)
    pstr: bytes = PSTR

    def has(self, bit: tuple[int, int]) -> bool:
        byte, mask = bit
        return bool(self.reserved[byte] & mask)

    @property
    def extension_protocol(self) -> bool:
        return self.has(EXTENSION_PROTOCOL)

    @property
    def dht(self) -> bool:
        return self.has(DHT)

    @property
    def fast(self) -> bool:
        return self.has(FAST)

    def reserved_names(self) -> list[tuple[str, str]]:
        """(name, meaning) of every set reserved bit; unknown ones as "byte B bit 0xMM"."""
        out = []
        for byte, value in enumerate(self.reserved):
            for shift in range(8):
                mask = 1 << shift
                if value & mask:
                    known = RESERVED_BITS.get((byte, mask))
                    out.append(known or (f"byte{byte}_0x{mask:02x}", "unknown"))
        return out


def reserved_bytes(*, extension_protocol=True, dht=False, fast=False) -> bytes:
    raw = bytearray(8)
    for on, (byte, mask) in ((extension_protocol, EXTENSION_PROTOCOL), (dht, DHT), (fast, FAST)):
        if on:
            raw[byte] |= mask
    return bytes(raw)


def build_handshake(info_hash: bytes, peer_id: bytes, reserved: bytes | None = None) -> bytes:
    if len(info_hash) != 20 or len(peer_id) != 20:
        raise PeerWireError("handshake: info_hash and peer_id must be 20 bytes each")
    reserved = reserved_bytes() if reserved is None else reserved
    if len(reserved) != 8:
        raise PeerWireError("handshake: reserved must be 8 bytes")
    return bytes([len(PSTR)]) + PSTR + reserved + info_hash + peer_id


def looks_like_handshake(data: bytes) -> bool:
    """Whether DATA starts like a BitTorrent handshake (for the dissector's heuristic)."""
    head = bytes([len(PSTR)]) + PSTR
    return bool(data) and data[:20] == head[: len(data)]


def parse_handshake(data: bytes) -> tuple[Handshake, int]:
    """(handshake, bytes used) from the start of DATA; PeerWireError if short or not one."""
    if not data:
        raise PeerWireError("handshake: no data")
    pstrlen = data[0]
    if pstrlen != len(PSTR):
        raise PeerWireError(f"handshake: pstrlen {pstrlen}, not 19 (not BitTorrent)")
    pstr = bytes(data[1:20])
    if pstr != PSTR[: len(pstr)]:
        raise PeerWireError(f"handshake: protocol string {pstr!r}, not 'BitTorrent protocol'")
    if len(data) < HANDSHAKE_LEN:
        raise PeerWireError(f"handshake: {len(data)} of {HANDSHAKE_LEN} bytes")
    return Handshake(data[28:48], data[48:68], data[20:28], pstr), HANDSHAKE_LEN


# --- messages -------------------------------------------------------------------------


@dataclass
class Message:
    """One message; `id` None is a keep-alive. Fields set by type, others stay None."""

    id: int | None
    payload: bytes = b""
    index: int | None = None  # have, request, piece, cancel, suggest, reject, allowed fast
    begin: int | None = None  # request, piece, cancel, reject
    length: int | None = None  # request, cancel, reject: the block length asked for
    block: bytes | None = None  # piece
    bitfield: bytes | None = None
    port: int | None = None  # port (the DHT port, BEP 5)
    ext_id: int | None = None  # extended (BEP 10)
    ext_payload: bytes | None = None
    ext_handshake: ExtensionHandshake | None = None

    @property
    def name(self) -> str:
        if self.id is None:
            return "keep-alive"
        return MSG_NAMES.get(self.id, f"unknown ({self.id})")

    @property
    def wire_length(self) -> int:
        return 4 + (0 if self.id is None else 1 + len(self.payload))


def build_message(msg_id: int | None, payload: bytes = b"") -> bytes:
    if msg_id is None:
        return bytes(4)
    return struct.pack(">IB", 1 + len(payload), msg_id) + payload


def build_have(index: int) -> bytes:
    return build_message(HAVE, struct.pack(">I", index))


def build_request(msg_id: int, index: int, begin: int, length: int) -> bytes:
    """request, cancel or reject (same layout)."""
    return build_message(msg_id, struct.pack(">III", index, begin, length))


def build_piece(index: int, begin: int, block: bytes) -> bytes:
    return build_message(PIECE, struct.pack(">II", index, begin) + block)


def build_port(port: int) -> bytes:
    return build_message(PORT, struct.pack(">H", port))


def build_extended(ext_id: int, payload: bytes) -> bytes:
    return build_message(EXTENDED, bytes([ext_id]) + payload)


def parse_message(msg_id: int | None, payload: bytes) -> Message:
    """A message from its id and payload (the length prefix already read)."""
    m = Message(msg_id, payload)
    if msg_id is None:
        return m
    want = _FIXED.get(msg_id)
    if want is not None and len(payload) != want:
        name = MSG_NAMES[msg_id]
        raise PeerWireError(f"{name}: payload of {len(payload)} bytes, expected {want}")
    if msg_id in (HAVE, SUGGEST, ALLOWED_FAST):
        (m.index,) = struct.unpack(">I", payload)
    elif msg_id in (REQUEST, CANCEL, REJECT):
        m.index, m.begin, m.length = struct.unpack(">III", payload)
    elif msg_id == PIECE:
        if len(payload) < 8:
            raise PeerWireError(f"piece: payload of {len(payload)} bytes, under 8")
        m.index, m.begin = struct.unpack(">II", payload[:8])
        m.block = payload[8:]
    elif msg_id == BITFIELD:
        m.bitfield = payload
    elif msg_id == PORT:
        (m.port,) = struct.unpack(">H", payload)
    elif msg_id == EXTENDED:
        if not payload:
            raise PeerWireError("extended: no extension id")
        m.ext_id, m.ext_payload = payload[0], payload[1:]
        if m.ext_id == 0:
            m.ext_handshake = parse_extension_handshake(m.ext_payload)
    return m


def split_messages(
    buf: bytes, max_length: int = MAX_MESSAGE_LENGTH, max_count: int = 10_000
) -> tuple[list[Message], bytes]:
    """Whole messages at the start of BUF and the bytes left (a partial one).

    A length over MAX_LENGTH is a PeerWireError at once: nothing is buffered for it.
    At most MAX_COUNT messages per call (the rest stays in the remainder)."""
    out: list[Message] = []
    pos, end = 0, len(buf)
    while end - pos >= 4 and len(out) < max_count:
        (length,) = struct.unpack_from(">I", buf, pos)
        if length > max_length:
            raise PeerWireError(f"message length {length} over the limit of {max_length} bytes")
        if end - pos - 4 < length:
            break
        if length == 0:
            out.append(Message(None))
        else:
            out.append(parse_message(buf[pos + 4], bytes(buf[pos + 5 : pos + 4 + length])))
        pos += 4 + length
    return out, bytes(buf[pos:])


# --- bitfield -------------------------------------------------------------------------


def bitfield_count(bitfield: bytes, num_pieces: int | None = None) -> int:
    """Pieces set (bit 7 of byte 0 is piece 0); spare bits past NUM_PIECES not counted."""
    if num_pieces is None:
        return sum(bin(b).count("1") for b in bitfield)
    whole, rest = divmod(num_pieces, 8)
    count = sum(bin(b).count("1") for b in bitfield[:whole])
    if rest and len(bitfield) > whole:
        count += bin(bitfield[whole] >> (8 - rest)).count("1")
    return count


def build_bitfield(have: list[bool]) -> bytes:
    raw = bytearray((len(have) + 7) // 8)
    for i, on in enumerate(have):
        if on:
            raw[i // 8] |= 0x80 >> (i % 8)
    return build_message(BITFIELD, bytes(raw))


# --- extension handshake (BEP 10) -----------------------------------------------------


@dataclass
class ExtensionHandshake:
    m: dict[str, int] = field(default_factory=dict)  # extension name → message id (0 = off)
    v: str | None = None  # client name and version
    p: int | None = None  # the peer's TCP listen port
    reqq: int | None = None  # requests it keeps queued
    yourip: str | None = None  # our address as the peer sees it
    metadata_size: int | None = None  # BEP 9: the info dictionary's size
    ipv4: str | None = None
    ipv6: str | None = None
    raw: dict = field(default_factory=dict)  # every key as decoded, keys as str


def _ip(value) -> str | None:
    if isinstance(value, bytes) and len(value) in (4, 16):
        return str(ipaddress.ip_address(value))
    return None


def _int(value, low: int = 0, high: int = 1 << 63) -> int | None:
    return value if isinstance(value, int) and low <= value <= high else None


def parse_extension_handshake(payload: bytes) -> ExtensionHandshake:
    try:
        d = bencode.decode(payload, strict=False, allow_trailing=True)
    except bencode.BencodeError as err:
        raise PeerWireError(f"extension handshake: {err}") from None
    if not isinstance(d, dict):
        raise PeerWireError("extension handshake: not a bencoded dictionary")
    h = ExtensionHandshake(raw={k.decode("latin-1"): v for k, v in d.items()})
    m = d.get(b"m")
    if isinstance(m, dict):
        for name, ext in list(m.items())[:256]:
            if isinstance(ext, int) and 0 <= ext <= 255:
                h.m[name.decode("utf-8", "replace")] = ext
    v = d.get(b"v")
    h.v = v.decode("utf-8", "replace")[:200] if isinstance(v, bytes) else None
    h.p = _int(d.get(b"p"), 0, 65535)
    h.reqq = _int(d.get(b"reqq"))
    h.metadata_size = _int(d.get(b"metadata_size"))
    h.yourip = _ip(d.get(b"yourip"))
    h.ipv4, h.ipv6 = _ip(d.get(b"ipv4")), _ip(d.get(b"ipv6"))
    return h


def build_extension_handshake(
    m: dict[str, int],
    *,
    v: str | None = None,
    p: int | None = None,
    reqq: int | None = None,
    yourip: str | None = None,
    metadata_size: int | None = None,
) -> bytes:
    """The whole extended message (length, id 20, ext id 0, dictionary)."""
    d: dict = {"m": dict(m)}
    if v is not None:
        d["v"] = v
    if p is not None:
        d["p"] = p
    if reqq is not None:
        d["reqq"] = reqq
    if yourip is not None:
        d["yourip"] = ipaddress.ip_address(yourip).packed
    if metadata_size is not None:
        d["metadata_size"] = metadata_size
    return build_extended(0, bencode.encode(d))


# --- peer id → client -----------------------------------------------------------------

# Azureus style: "-" + two letters + four version characters + "-".
AZUREUS_CLIENTS = {
    "LT": "libtorrent",  # Rasterbar's (the one in qBittorrent, Deluge, python3-libtorrent)
    "lt": "libTorrent (rakshasa)",
    "qB": "qBittorrent",
    "TR": "Transmission",
    "DE": "Deluge",
    "UT": "µTorrent",
    "UM": "µTorrent Mac",
    "UW": "µTorrent Web",
    "BT": "BitTorrent",
    "AZ": "Vuze",
    "BI": "BiglyBT",
    "KT": "KTorrent",
    "AR": "Arctic Torrent",
    "FD": "Free Download Manager",
    "WW": "WebTorrent",
    "WD": "WebTorrent Desktop",
    "TX": "Tixati",
    "PI": "PicoTorrent",
    "SD": "Thunder (Xunlei)",
    "XL": "Thunder (Xunlei)",
    "LW": "LimeWire",
    "FW": "FrostWire",
    "BC": "BitComet",
    "NL": "netlab",
}
# Shadow style: one letter + version characters, padded with "-".
SHADOW_CLIENTS = {
    "A": "ABC",
    "O": "Osprey Permaseed",
    "Q": "BTQueue",
    "R": "Tribler",
    "S": "Shadow",
    "T": "BitTornado",
    "U": "UPnP NAT Bit Torrent",
}
_SHADOW_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.-"


def _azureus_version(code: str, chars: str) -> str:
    # Transmission 1.x-3.x: "-TR2940-" is 2.94; from 4.0: "-TR4040-" is 4.0.4.
    if code == "TR" and chars[:3].isdigit():
        return f"{chars[0]}.{chars[1:3]}" if chars[0] in "123" else ".".join(chars[:3])
    parts = []
    for c in chars:
        parts.append(str(int(c, 36)) if c.isalnum() else c)
    while len(parts) > 2 and parts[-1] == "0":
        parts.pop()
    return ".".join(parts)


def client_from_peer_id(peer_id: bytes) -> str | None:
    """The client a peer id names (Azureus, Shadow, Mainline or aria2 style), or None."""
    if len(peer_id) < 8:
        return None
    head = peer_id[:8].decode("latin-1")
    if head[0] == "-" and head[7] == "-" and head[1:3].isalpha() and head[3:7].isalnum():
        name = AZUREUS_CLIENTS.get(head[1:3], f"unknown client {head[1:3]!r}")
        return f"{name} {_azureus_version(head[1:3], head[3:7])}"
    if head.startswith("A2-"):  # aria2: "A2-1-37-0-"
        digits = peer_id[3:12].decode("latin-1").split("-")
        return "aria2 " + ".".join(d for d in digits[:3] if d.isdigit())
    if head[0] == "M" and head[1].isdigit() and "-" in head[2:4]:  # Mainline: "M7-4-3--"
        return "BitTorrent (Mainline) " + ".".join(p for p in head[1:].split("-") if p)
    if head[0] in SHADOW_CLIENTS and head[1:].count("-") >= 1 and head[1] in _SHADOW_DIGITS:
        version = head[1:6].rstrip("-")
        if version and all(c in _SHADOW_DIGITS for c in version):
            nums = [str(_SHADOW_DIGITS.index(c)) for c in version if c != "-"]
            return f"{SHADOW_CLIENTS[head[0]]} {'.'.join(nums)}"
    return None
