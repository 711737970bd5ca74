"""QUIC on the wire (RFC 9000, 9001, 9369): headers, packet protection, frames.

- variable-length integers (RFC 9000 §16), long and short headers (§17), Version
  Negotiation (§17.2.1), Retry (§17.2.5) with its integrity tag (RFC 9001 §5.8);
- packet numbers: truncated on the wire, recovered against the largest seen (RFC 9000
  Appendix A.3);
- Initial keys from the client's first Destination Connection ID (RFC 9001 §5.2; QUIC
  v2's salt, labels and packet types from RFC 9369), packet keys from TLS traffic
  secrets (the NSS key log's) for Handshake and 1-RTT, key updates ("quic ku");
- header protection (AES-ECB or ChaCha20 mask, RFC 9001 §5.4) and AEAD protection
  (AES-GCM, ChaCha20-Poly1305) on the cryptography package; HKDF (RFC 5869, TLS 1.3's
  HKDF-Expand-Label) on hashlib, as tls_crypto's but with each key's padded HMAC state
  made once for its several labels (a dissected capture derives keys per connection);
- frames (RFC 9000 §19, RFC 9221's DATAGRAM).

The dissector's commonest packet, a short header, is opened in one step (open_short:
header protection off and payload decrypted without intermediate tuples); a datagram of
GSO segments, read as one packet (tshark's reading, which does not open), is known not
to open by its first segment's opening, sparing the decryption of its kilobytes.

Everything reads within the bounds it is given: a length past the datagram raises
QuicError, never reads beyond. Building (quic-hello's Initial) is here too. The
cryptography package is imported on first use: the dissector imports this module for
every capture, QUIC or not.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

V1, V2 = 0x00000001, 0x6B3343CF
MAX_CID = 20  # RFC 9000 §17.2: a v1 connection ID is at most 20 bytes
MIN_INITIAL = 1200  # RFC 9000 §14.1: a client's Initial datagram is padded to this
MAX_FRAMES = 4096  # frames decoded from one packet (PADDING runs count once)

INITIAL, ZERO_RTT, HANDSHAKE, RETRY = "Initial", "0-RTT", "Handshake", "Retry"
VERSION_NEGOTIATION, ONE_RTT = "Version Negotiation", "1-RTT"
# The long header's two type bits, by version (RFC 9000 §17.2, RFC 9369 §3.2).
LONG_TYPES = {
    V1: (INITIAL, ZERO_RTT, HANDSHAKE, RETRY),
    V2: (RETRY, INITIAL, ZERO_RTT, HANDSHAKE),
}
TYPE_CODES = {v: {name: i for i, name in enumerate(names)} for v, names in LONG_TYPES.items()}
VERSION_NAMES = {V1: "1", V2: "2", 0: "Negotiation"}


@dataclass(frozen=True)
class VersionParams:
    salt: bytes
    label_prefix: str  # "quic" (v1) or "quicv2" (v2): "quic key", "quicv2 iv" …
    retry_key: bytes
    retry_nonce: bytes


VERSIONS = {
    V1: VersionParams(
        bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a"), "quic",
        bytes.fromhex("be0c690b9f66575a1d766b54e368c84e"),
        bytes.fromhex("461599d35d632bf2239825bb"),
    ),
    V2: VersionParams(
        bytes.fromhex("0dede3def700a6db819381be6e269dcbf9bd2ed9"), "quicv2",
        bytes.fromhex("8fb4b01b56ac48e260fbcbcead7ccc92"),
        bytes.fromhex("d86969bc2d7c6d9990efb04a"),
    ),
}  # fmt: skip


# What tshark 4.0 uses for any other version (drafts, reserved 0x?a?a?a?a versions that
# ask for Version Negotiation): draft-29's salt with v1's labels.
DRAFT29 = VersionParams(
    bytes.fromhex("afbfec289993d24c9e9786f19c6111e04390a899"), "quic",
    bytes.fromhex("ccce187ed09a09d05728155a6cb96be1"), bytes.fromhex("e54930f97f2136f0530a8c1c"),
)  # fmt: skip


def is_known_version(version: int) -> bool:
    """A version the dissector reads as QUIC: 1, 2, a draft (0xff0000xx) or a reserved
    version (0x?a?a?a?a, RFC 9000 §15), as tshark's heuristic does."""
    return (version in LONG_TYPES or version >> 8 == 0xFF0000
            or version & 0x0F0F0F0F == 0x0A0A0A0A)  # fmt: skip


class QuicError(ValueError):
    """Malformed QUIC: a length past the datagram, a bad varint, an unknown frame."""


# --- variable-length integers ---------------------------------------------------------------------
def read_varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """(value, position after it); QuicError when it runs past END."""
    if pos >= end:
        raise QuicError(f"varint at {pos}: no bytes left")
    first = buf[pos]
    if first < 0x40:  # one byte: most frame types and small values
        return first, pos + 1
    size = 1 << (first >> 6)
    if pos + size > end:
        raise QuicError(f"varint at {pos}: needs {size} bytes, {end - pos} left")
    return int.from_bytes(buf[pos : pos + size], "big") & ((1 << (8 * size - 2)) - 1), pos + size


def encode_varint(value: int) -> bytes:
    if value < 0x40:
        return bytes([value])
    if value < 0x4000:
        return struct.pack("!H", 0x4000 | value)
    if value < 0x40000000:
        return struct.pack("!I", 0x80000000 | value)
    if value < 0x4000000000000000:
        return struct.pack("!Q", 0xC000000000000000 | value)
    raise ValueError(f"{value} does not fit a QUIC varint")


def _need(pos: int, n: int, end: int, what: str) -> None:
    if n < 0 or pos + n > end:
        raise QuicError(f"{what} at {pos}: needs {n} bytes, {end - pos} left")


# --- headers --------------------------------------------------------------------------------------
class Header(NamedTuple):
    """One packet's header as read before header protection is removed. Offsets are
    absolute in the buffer; `end` is where this packet ends (the next coalesced one
    starts there)."""

    long: bool
    first: int  # the first byte, still protected
    version: int  # 0 for Version Negotiation; -1 for a short header
    ptype: str  # INITIAL … ONE_RTT, VERSION_NEGOTIATION
    dcid: bytes
    scid: bytes
    dcid_at: int
    token: bytes  # Initial: the token; Retry: the retry token
    token_at: int
    length: int  # the Length field (long headers with one), else -1
    length_at: int
    pn_at: int  # where the packet number starts (protected)
    start: int
    end: int
    versions: tuple[int, ...] = ()  # Version Negotiation's supported versions
    tag: bytes = b""  # Retry's integrity tag


_new = tuple.__new__  # a NamedTuple made without its __new__'s keyword handling


def is_long(first: int) -> bool:
    return bool(first & 0x80)


def peek_version(buf: bytes, off: int, end: int) -> int | None:
    if end - off < 5 or not buf[off] & 0x80:
        return None
    return int.from_bytes(buf[off + 1 : off + 5], "big")


def parse_header(buf: bytes, off: int, end: int, short_dcid_len: int = 0) -> Header:
    """The header of the packet at OFF (long or short); a short header's DCID length is
    not on the wire, so the caller says it (from the connection IDs it knows). Each
    bound is checked inline; _need, which words the error, runs only when one fails."""
    if off + 1 > end:
        _need(off, 1, end, "first byte")
    first = buf[off]
    if not first & 0x80:
        if off + 1 + short_dcid_len > end:
            _need(off + 1, short_dcid_len, end, "short header's connection ID")
        dcid = bytes(buf[off + 1 : off + 1 + short_dcid_len])
        return _new(Header, (False, first, -1, ONE_RTT, dcid, b"", off + 1, b"", -1, -1, -1,
                             off + 1 + short_dcid_len, off, end, (), b""))  # fmt: skip
    if off + 6 > end:
        _need(off, 6, end, "long header")
    version = int.from_bytes(buf[off + 1 : off + 5], "big")
    pos = off + 5
    dcil = buf[pos]
    if pos + 1 + dcil > end:
        _need(pos + 1, dcil, end, "destination connection ID")
    dcid_at = pos + 1
    dcid = bytes(buf[dcid_at : dcid_at + dcil])
    pos = dcid_at + dcil
    if pos + 1 > end:
        _need(pos, 1, end, "source connection ID length")
    scil = buf[pos]
    if pos + 1 + scil > end:
        _need(pos + 1, scil, end, "source connection ID")
    scid = bytes(buf[pos + 1 : pos + 1 + scil])
    pos += 1 + scil
    if version == 0:
        count = (end - pos) // 4
        versions = tuple(int.from_bytes(buf[pos + 4 * i : pos + 4 * i + 4], "big")
                         for i in range(min(count, 256)))  # fmt: skip
        return Header(True, first, 0, VERSION_NEGOTIATION, dcid, scid, dcid_at, b"", -1, -1, -1,
                      pos, off, end, versions)  # fmt: skip
    if version in LONG_TYPES and (dcil > MAX_CID or scil > MAX_CID):
        raise QuicError(f"connection ID of {max(dcil, scil)} bytes (at most {MAX_CID})")
    ptype = LONG_TYPES.get(version, LONG_TYPES[V1])[(first >> 4) & 3]
    if ptype == RETRY:
        if pos + 16 > end:
            _need(pos, 16, end, "Retry integrity tag")
        token = bytes(buf[pos : end - 16])
        return Header(True, first, version, RETRY, dcid, scid, dcid_at, token, pos, -1, -1, end,
                      off, end, (), bytes(buf[end - 16 : end]))  # fmt: skip
    token, token_at = b"", -1
    if ptype == INITIAL:
        tlen, token_at = read_varint(buf, pos, end)
        if token_at + tlen > end:
            _need(token_at, tlen, end, "token")
        token = bytes(buf[token_at : token_at + tlen])
        pos = token_at + tlen
    length, pn_at = read_varint(buf, pos, end)
    if pn_at + length > end:
        _need(pn_at, length, end, f"packet length {length}")
    return _new(Header, (True, first, version, ptype, dcid, scid, dcid_at, token, token_at, length,
                         pos, pn_at, off, pn_at + length, (), b""))  # fmt: skip


def decode_packet_number(largest: int, truncated: int, pn_len: int) -> int:
    """RFC 9000 Appendix A.3: the full packet number nearest the next expected one."""
    expected = largest + 1
    win = 1 << (pn_len * 8)
    hwin, mask = win // 2, win - 1
    candidate = (expected & ~mask) | truncated
    if candidate <= expected - hwin and candidate < (1 << 62) - win:
        return candidate + win
    if candidate > expected + hwin and candidate >= win:
        return candidate - win
    return candidate


# --- keys -----------------------------------------------------------------------------------------
class _Crypto:
    """The cryptography names this module uses, imported once on first use."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

        self.Cipher, self.algorithms, self.modes = Cipher, algorithms, modes
        self.AESGCM, self.ChaCha20Poly1305 = AESGCM, ChaCha20Poly1305
        from cryptography.exceptions import InvalidTag

        self.InvalidTag = InvalidTag
        ecb = modes.ECB()
        # (cryptography's public API only: its private bindings skip a few checks per key,
        # but their signatures may change in any release)
        self.ecb = lambda key: Cipher(algorithms.AES(key), ecb).encryptor()


_CRYPTO: _Crypto | None = None


def _crypto() -> _Crypto:
    global _CRYPTO
    if _CRYPTO is None:
        _CRYPTO = _Crypto()
    return _CRYPTO


@dataclass
class Keys:
    """One direction's packet protection: AEAD key and IV, header-protection key."""

    aead: str  # "gcm" or "chacha"
    key: bytes
    iv: bytes
    hp: bytes
    secret: bytes = b""
    hash: str = "sha256"
    version: int = V1
    _cipher: Any = field(default=None, repr=False)
    _hp: Any = field(default=None, repr=False)
    _iv: int = field(default=-1, repr=False)  # the IV as a number, for nonce()

    def mask(self, sample: bytes) -> bytes:
        hp = self._hp
        if hp is not None:
            return hp.update(sample)[:5]
        if self.aead == "chacha":
            c = _crypto()
            enc = c.Cipher(c.algorithms.ChaCha20(self.hp, sample), mode=None).encryptor()
            return enc.update(bytes(5))
        if self._hp is None:  # ECB has no state between blocks: one encryptor serves all
            self._hp = _crypto().ecb(self.hp)
        return self._hp.update(sample)[:5]

    def nonce(self, pn: int) -> bytes:
        if self._iv < 0:
            self._iv = int.from_bytes(self.iv, "big")
        return (self._iv ^ pn).to_bytes(len(self.iv), "big")

    def aead_cipher(self) -> Any:
        if self._cipher is None:
            c = _crypto()
            self._cipher = (c.ChaCha20Poly1305 if self.aead == "chacha" else c.AESGCM)(self.key)
        return self._cipher

    def next(self) -> Keys:
        """The keys after a key update (RFC 9001 §6): new secret, same header protection."""
        p = VERSIONS.get(self.version, VERSIONS[V1]).label_prefix
        secret = Hkdf(self.hash, self.secret).expand_label(f"{p} ku", len(self.secret))
        prk = Hkdf(self.hash, secret)
        key = prk.expand_label(f"{p} key", len(self.key))
        return Keys(self.aead, key, prk.expand_label(f"{p} iv", 12), self.hp, secret, self.hash,
                    self.version)  # fmt: skip


_BLOCK_SIZES = {"sha256": 64, "sha384": 128}
_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))


class Hkdf:
    """HMAC (RFC 2104) with one key, for HKDF-Extract (the key: the salt) and TLS 1.3's
    HKDF-Expand-Label (the key: a secret): the hashes of the padded key are made once
    and copied for each message. Equal to tls_crypto's hkdf_* (tests/test_quic.py)."""

    __slots__ = ("inner", "outer")

    def __init__(self, hash_name: str, key: bytes) -> None:
        import hashlib  # (here: a capture without QUIC never pays its 2 ms import)

        new = getattr(hashlib, hash_name, None) or partial(hashlib.new, hash_name)
        block = _BLOCK_SIZES.get(hash_name) or new().block_size
        if len(key) > block:
            key = new(key).digest()
        key = key.ljust(block, b"\x00")
        self.inner = new(key.translate(_IPAD))
        self.outer = new(key.translate(_OPAD))

    def mac(self, msg: bytes) -> bytes:
        inner = self.inner.copy()
        inner.update(msg)
        outer = self.outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def expand_label(self, label: str, length: int, context: bytes = b"") -> bytes:
        first = _LABELS.get((label, length, context))
        if first is None:
            full = b"tls13 " + label.encode()
            info = length.to_bytes(2, "big") + bytes((len(full),)) + full
            first = info + bytes((len(context),)) + context + b"\x01"
            if len(_LABELS) < 64:
                _LABELS[(label, length, context)] = first
        inner = self.inner.copy()  # (mac, inline: the first block is all most keys need)
        inner.update(first)
        outer = self.outer.copy()
        outer.update(inner.digest())
        out = block = outer.digest()
        info, i = first[:-1], 2
        while len(out) < length:
            block = self.mac(block + info + bytes((i,)))
            out += block
            i += 1
        return out[:length]


# HkdfLabel (RFC 8446 §7.1) by label, length, context, with HKDF-Expand's first counter
_LABELS: dict[tuple, bytes] = {}
_SALTS: dict[bytes, Hkdf] = {}  # HKDF-Extract's key for the Initial secrets, per salt


SUITE_PARAMS = {0x1301: ("gcm", 16, "sha256"), 0x1302: ("gcm", 32, "sha384"),
                0x1303: ("chacha", 32, "sha256")}  # fmt: skip


def keys_from_secret(secret: bytes, suite: int = 0x1301, version: int = V1) -> Keys:
    """Packet keys from a TLS secret (RFC 9001 §5.1): "quic key", "quic iv", "quic hp"."""
    aead, key_len, hash_name = SUITE_PARAMS.get(suite, SUITE_PARAMS[0x1301])
    key_label, iv_label, hp_label = _KEY_LABELS[version if version in VERSIONS else V1]
    prk = Hkdf(hash_name, secret)
    key = prk.expand_label(key_label, key_len)
    iv = prk.expand_label(iv_label, 12)
    hp = prk.expand_label(hp_label, key_len)
    return Keys(aead, key, iv, hp, secret, hash_name, version)


_KEY_LABELS = {v: (f"{p.label_prefix} key", f"{p.label_prefix} iv", f"{p.label_prefix} hp")
               for v, p in VERSIONS.items()}  # fmt: skip


def initial_keys(dcid: bytes, version: int = V1, any_version: bool = False) -> tuple[Keys, Keys]:
    """(client's, server's) Initial keys from the client's Destination Connection ID;
    ANY_VERSION: an unknown version gets draft-29's (what tshark tries)."""
    params = VERSIONS.get(version) or (DRAFT29 if any_version else None)
    if params is None:
        raise QuicError(f"no Initial keys known for version 0x{version:08x}")
    salt = _SALTS.get(params.salt)
    if salt is None:
        salt = _SALTS[params.salt] = Hkdf("sha256", params.salt)
    initial = Hkdf("sha256", salt.mac(dcid))
    client = initial.expand_label("client in", 32)
    server = initial.expand_label("server in", 32)
    labels = version if version in VERSIONS else V1
    return keys_from_secret(client, 0x1301, labels), keys_from_secret(server, 0x1301, labels)


# --- packet protection ----------------------------------------------------------------------------
class Opened(NamedTuple):
    first: int  # the first byte without header protection
    pn_len: int
    truncated_pn: int
    pn: int
    header: bytes  # the unprotected header (the AEAD's associated data)
    payload: bytes  # the decrypted frames
    payload_at: int  # where the protected payload starts in the buffer


def remove_header_protection(buf: bytes, hdr: Header, keys: Keys) -> tuple[int, int, int, bytes]:
    """(first byte, packet-number length, truncated packet number, unprotected header)."""
    sample_at = hdr.pn_at + 4
    if sample_at + 16 > hdr.end:
        _need(sample_at, 16, hdr.end, "header protection sample")
    mask = keys.mask(bytes(buf[sample_at : sample_at + 16]))
    first = hdr.first ^ (mask[0] & (0x0F if hdr.long else 0x1F))
    pn_len = (first & 3) + 1
    at = hdr.pn_at
    truncated = int.from_bytes(buf[at : at + pn_len], "big") ^ int.from_bytes(
        mask[1 : 1 + pn_len], "big"
    )
    header = bytes((first,)) + bytes(buf[hdr.start + 1 : at]) + truncated.to_bytes(pn_len, "big")
    return first, pn_len, truncated, header


def open_packet(buf: bytes, hdr: Header, keys: Keys, largest: int = -1,
                unprotected: tuple | None = None) -> Opened:  # fmt: skip
    """Header protection off (or UNPROTECTED: what remove_header_protection gave), then
    the payload decrypted; raises QuicError when the packet is too short and
    cryptography's InvalidTag when the keys are wrong."""
    first, pn_len, truncated, header = unprotected or remove_header_protection(buf, hdr, keys)
    pn = decode_packet_number(largest, truncated, pn_len)
    at = hdr.pn_at + pn_len
    if hdr.end - at < 16:
        raise QuicError("payload shorter than the AEAD tag")
    plain = (keys._cipher or keys.aead_cipher()).decrypt(keys.nonce(pn), bytes(buf[at : hdr.end]),
                                                         header)  # fmt: skip
    return _new(Opened, (first, pn_len, truncated, pn, header, plain, at))


def open_short(buf: bytes, start: int, pn_at: int, end: int, keys: list, largest: int
               ) -> tuple[int, int, int, bytes | None, int] | None:  # fmt: skip
    """A short-header packet (most of a capture) opened in one step: header protection
    off with KEYS[0]'s (it never changes, RFC 9001 §6), the payload decrypted with the
    newest generation, KEYS[-1]. (first byte, packet-number length, packet number,
    payload, where the payload starts); None when the key phase bit names another
    generation (a key update: the caller's remove_header_protection and open_packet
    path), QuicError when too short, InvalidTag when the keys are wrong. The same as
    those two, without their intermediate tuples and copies. The payload is None for
    a datagram of GSO segments (_segment_opens): the packet, read to the datagram's
    end, does not open; its header still reads."""
    sample_at = pn_at + 4
    if sample_at + 16 > end:
        _need(sample_at, 16, end, "header protection sample")
    hp_keys = keys[0]
    hp = hp_keys._hp
    sample = buf[sample_at : sample_at + 16]
    mask = hp.update(sample) if hp is not None else hp_keys.mask(bytes(sample))
    first = buf[start] ^ (mask[0] & 0x1F)
    if (first >> 2) & 1 != (len(keys) - 1) & 1:
        return None
    pn_len = (first & 3) + 1
    at = pn_at + pn_len
    truncated = int.from_bytes(buf[pn_at:at], "big") ^ int.from_bytes(mask[1 : 1 + pn_len], "big")
    header = bytes((first,)) + buf[start + 1 : pn_at] + truncated.to_bytes(pn_len, "big")
    win = 1 << (pn_len * 8)  # (decode_packet_number, inline)
    pn = ((largest + 1) & ~(win - 1)) | truncated
    if pn <= largest + 1 - (win >> 1) and pn < (1 << 62) - win:
        pn += win
    elif pn > largest + 1 + (win >> 1) and pn >= win:
        pn -= win
    if end - at < 16:
        raise QuicError("payload shorter than the AEAD tag")
    k = keys[-1]
    iv = k._iv
    if iv < 0:
        iv = k._iv = int.from_bytes(k.iv, "big")
    cipher = k._cipher or k.aead_cipher()
    nonce = (iv ^ pn).to_bytes(len(k.iv), "big")
    gso = end - at > GSO_CHECK and pn_at > start + 1
    if gso and _segment_opens(buf, start, pn_at, at, end, cipher, nonce, header):
        return first, pn_len, pn, None, at
    plain = cipher.decrypt(nonce, buf[at:end], header)
    return first, pn_len, pn, plain, at


# A datagram longer than this whose packet has a short header may be several packets
# sent at once with segmentation offload (GSO), captured before the kernel split them:
# the packet then runs, as tshark reads it, to the datagram's end and does not open.
GSO_CHECK = 2048


def _segment_opens(buf: bytes, start: int, pn_at: int, at: int, end: int, cipher: Any,
                   nonce: bytes, header: bytes) -> bool:  # fmt: skip
    """Whether the short-header packet at START opens when cut where its Destination
    Connection ID comes again (the next segment's header): then the whole, longer one
    cannot (its tag would be a forgery under the same key and nonce), and decrypting
    its many kilobytes only to fail is spared."""
    nxt = buf.find(buf[start + 1 : pn_at], at + 16, end) - 1  # (-2: not found)
    if nxt - at < 17:
        return False
    try:
        cipher.decrypt(nonce, buf[at:nxt], header)
    except Exception:  # (InvalidTag: not a segment there; the whole packet is tried)
        return False
    return True


def open_long(buf: bytes, hdr: Header, keys: Keys, largest: int
              ) -> tuple[int, int, int, bytes, int]:  # fmt: skip
    """open_packet's work in one step, for the dissector: (first byte, packet-number
    length, packet number, payload, where the payload starts)."""
    pn_at, end = hdr.pn_at, hdr.end
    sample_at = pn_at + 4
    if sample_at + 16 > end:
        _need(sample_at, 16, end, "header protection sample")
    hp = keys._hp
    sample = buf[sample_at : sample_at + 16]
    mask = hp.update(sample) if hp is not None else keys.mask(bytes(sample))
    first = hdr.first ^ (mask[0] & (0x0F if hdr.long else 0x1F))
    pn_len = (first & 3) + 1
    at = pn_at + pn_len
    truncated = int.from_bytes(buf[pn_at:at], "big") ^ int.from_bytes(mask[1 : 1 + pn_len], "big")
    header = bytes((first,)) + buf[hdr.start + 1 : pn_at] + truncated.to_bytes(pn_len, "big")
    pn = decode_packet_number(largest, truncated, pn_len)
    if end - at < 16:
        raise QuicError("payload shorter than the AEAD tag")
    plain = (keys._cipher or keys.aead_cipher()).decrypt(keys.nonce(pn), buf[at:end], header)
    return first, pn_len, pn, plain, at


def protect_packet(header: bytes, pn_len: int, pn: int, payload: bytes, keys: Keys) -> bytes:
    """A packet from its unprotected header (packet number included, Length set to the
    protected length) and frames: AEAD, then header protection (RFC 9001 §5.3-5.4)."""
    sealed = keys.aead_cipher().encrypt(keys.nonce(pn), payload, header)
    pn_at = len(header) - pn_len
    packet = bytearray(header + sealed)
    mask = keys.mask(bytes(packet[pn_at + 4 : pn_at + 20]))
    packet[0] ^= mask[0] & (0x0F if packet[0] & 0x80 else 0x1F)
    for i in range(pn_len):
        packet[pn_at + i] ^= mask[1 + i]
    return bytes(packet)


def retry_tag(odcid: bytes, packet_without_tag: bytes, version: int = V1) -> bytes:
    """The Retry Integrity Tag (RFC 9001 §5.8): AES-128-GCM over the pseudo-packet."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    params = VERSIONS[version]
    pseudo = bytes([len(odcid)]) + odcid + packet_without_tag
    return AESGCM(params.retry_key).encrypt(params.retry_nonce, b"", pseudo)


def retry_valid(buf: bytes, hdr: Header, odcid: bytes) -> bool:
    if hdr.version not in VERSIONS:
        return False
    return retry_tag(odcid, bytes(buf[hdr.start : hdr.end - 16]), hdr.version) == hdr.tag


def build_initial(version: int, dcid: bytes, scid: bytes, token: bytes, pn: int, frames: bytes,
                  keys: Keys, pad_to: int = MIN_INITIAL) -> bytes:  # fmt: skip
    """A client Initial packet carrying FRAMES, padded (PADDING frames) so the packet is
    at least PAD_TO bytes; packet number encoded on 4 bytes."""
    pn_len = 4
    first = 0xC0 | TYPE_CODES.get(version, TYPE_CODES[V1])[INITIAL] << 4 | (pn_len - 1)
    head = (bytes([first]) + version.to_bytes(4, "big") + bytes([len(dcid)]) + dcid
            + bytes([len(scid)]) + scid + encode_varint(len(token)) + token)  # fmt: skip
    # Length (2-byte varint) covers packet number, frames and the 16-byte tag.
    room = pad_to - len(head) - 2 - pn_len - 16
    if len(frames) < room:
        frames += bytes(room - len(frames))
    length = pn_len + len(frames) + 16
    header = head + struct.pack("!H", 0x4000 | length) + pn.to_bytes(pn_len, "big")
    return protect_packet(header, pn_len, pn, frames, keys)


def crypto_frame(offset: int, data: bytes) -> bytes:
    return b"\x06" + encode_varint(offset) + encode_varint(len(data)) + data


# --- frames ---------------------------------------------------------------------------------------
FRAME_NAMES = {
    0x00: "PADDING", 0x01: "PING", 0x02: "ACK", 0x03: "ACK", 0x04: "RESET_STREAM",
    0x05: "STOP_SENDING", 0x06: "CRYPTO", 0x07: "NEW_TOKEN", 0x10: "MAX_DATA",
    0x11: "MAX_STREAM_DATA", 0x12: "MAX_STREAMS (BIDI)", 0x13: "MAX_STREAMS (UNI)",
    0x14: "DATA_BLOCKED", 0x15: "STREAM_DATA_BLOCKED", 0x16: "STREAMS_BLOCKED (BIDI)",
    0x17: "STREAMS_BLOCKED (UNI)", 0x18: "NEW_CONNECTION_ID", 0x19: "RETIRE_CONNECTION_ID",
    0x1A: "PATH_CHALLENGE", 0x1B: "PATH_RESPONSE", 0x1C: "CONNECTION_CLOSE (Transport)",
    0x1D: "CONNECTION_CLOSE (Application)", 0x1E: "HANDSHAKE_DONE", 0x30: "DATAGRAM",
    0x31: "DATAGRAM",
}  # fmt: skip


def frame_name(ftype: int) -> str:
    if 0x08 <= ftype <= 0x0F:
        return "STREAM"
    return FRAME_NAMES.get(ftype, f"Unknown (0x{ftype:x})")


class Frame(NamedTuple):
    """One frame: its type, where it lies in the payload (start, end), and its fields as
    ((name, value, at, size), …) in wire order (offsets relative to the payload). CRYPTO,
    STREAM and DATAGRAM keep their data's position in `data_at`/`data_len`."""

    ftype: int
    start: int
    end: int
    fields: tuple
    data_at: int = -1
    data_len: int = 0


def _v(buf: bytes, pos: int, end: int, name: str, out: list) -> tuple[int, int]:
    value, nxt = read_varint(buf, pos, end)
    out.append((name, value, pos, nxt - pos))
    return value, nxt


def _fixed(buf: bytes, pos: int, end: int, n: int, name: str, out: list) -> int:
    _need(pos, n, end, name)
    out.append((name, bytes(buf[pos : pos + n]), pos, n))
    return pos + n


def parse_frames(payload: bytes) -> list[Frame]:
    """Every frame of a decrypted payload; QuicError on damage or an unknown type."""
    frames: list[Frame] = []
    pos, end = 0, len(payload)
    while pos < end:
        if len(frames) >= MAX_FRAMES:
            raise QuicError(f"more than {MAX_FRAMES} frames in one packet")
        frames.append(parse_frame(payload, pos, end))
        pos = frames[-1].end
    return frames


# The frames made of varints alone (RFC 9000 §19): type -> the fields after the type,
# as parse_frame names them (STREAM, ACK, CRYPTO, NEW_CONNECTION_ID … have code of
# their own).
_VARINT_FRAMES = {
    0x01: (), 0x1E: (),  # PING, HANDSHAKE_DONE
    0x04: ("rsts.stream_id", "rsts.application_error_code", "rsts.final_size"),
    0x05: ("ss.stream_id", "ss.application_error_code"),
    0x10: ("md.maximum_data",),
    0x11: ("msd.stream_id", "msd.maximum_stream_data"),
    0x12: ("ms.max_streams",), 0x13: ("ms.max_streams",),
    0x14: ("sb.stream_data_limit",),
    0x15: ("sdb.stream_id", "sdb.stream_data_limit"),
    0x16: ("sib.stream_limit",), 0x17: ("sib.stream_limit",),
    0x19: ("rci.sequence",),
}  # fmt: skip
# The same for scan_frames, which steps over them: type -> how many varints.
_SCAN_VARINTS = {ftype: len(names) for ftype, names in _VARINT_FRAMES.items()}


_ZEROS = bytes(2048)


def _zeros_end(buf: bytes, pos: int, end: int) -> int:
    """Where the run of zero bytes from POS ends (PADDING frames, RFC 9000 §19.1): most
    run to the packet's end, which one compare says (bytes.lstrip's is byte by byte)."""
    if end - pos <= 2048 and buf[pos:end] == _ZEROS[: end - pos]:
        return end
    return end - len(buf[pos:end].lstrip(b"\x00"))  # a run of zeros, read in C


def scan_frames(payload: bytes) -> tuple[list[int], list[tuple]] | None:
    """The frame types of a decrypted payload, in order, and what the dissector follows
    across packets: (0x06, offset, data_at, data_len) for CRYPTO, (0x18, cid) for
    NEW_CONNECTION_ID; no fields are built (the one-line view's read; parse_frames does
    the rest when a tree is shown). None for damage or a frame type it does not step
    over: parse_frames then says what (a payload this accepts, parse_frames accepts).
    A varint is stepped over by its first byte's top bits: one that runs past the end
    leaves `pos` there, and the next read (an IndexError) or the checks catch it."""
    types: list[int] = []
    events: list[tuple] = []
    pos, end = 0, len(payload)
    try:
        while pos < end:
            ftype = payload[pos]
            if ftype >= 0x40:
                return None
            pos += 1
            types.append(ftype)
            if ftype == 0x00:
                pos = _zeros_end(payload, pos, end)
            elif 0x08 <= ftype <= 0x0F:
                pos += 1 << (payload[pos] >> 6)  # Stream ID
                if ftype & 0x04:
                    pos += 1 << (payload[pos] >> 6)  # Offset
                if ftype & 0x02:
                    n, pos = read_varint(payload, pos, end)
                    pos += n
                else:
                    pos = end if pos <= end else end + 1
            elif ftype in (0x02, 0x03):
                pos += 1 << (payload[pos] >> 6)  # Largest Acknowledged
                pos += 1 << (payload[pos] >> 6)  # ACK Delay
                if payload[pos] < 0x40:  # ACK Range Count, mostly 0
                    count = payload[pos]
                    pos += 1
                else:
                    count, pos = read_varint(payload, pos, end)
                    if count > MAX_ACK_RANGES:
                        return None
                for _ in range(1 + 2 * count + (3 if ftype == 0x03 else 0)):  # ranges, ECN
                    pos += 1 << (payload[pos] >> 6)
            elif ftype == 0x06:
                offset, pos = read_varint(payload, pos, end)
                n, pos = read_varint(payload, pos, end)
                if pos + n > end:
                    return None
                events.append((0x06, offset, pos, n))
                pos += n
            elif ftype == 0x18:
                pos += 1 << (payload[pos] >> 6)  # Sequence Number
                pos += 1 << (payload[pos] >> 6)  # Retire Prior To
                n = payload[pos]
                if not 1 <= n <= MAX_CID or pos + 1 + n + 16 > end:
                    return None
                events.append((0x18, bytes(payload[pos + 1 : pos + 1 + n])))
                pos += 1 + n + 16
            elif ftype in _SCAN_VARINTS:
                for _ in range(_SCAN_VARINTS[ftype]):
                    pos += 1 << (payload[pos] >> 6)
            elif ftype in (0x1C, 0x1D, 0x07):  # (then a length and as many bytes)
                for _ in range(2 if ftype == 0x1C else 1 if ftype == 0x1D else 0):
                    pos += 1 << (payload[pos] >> 6)
                n, pos = read_varint(payload, pos, end)
                pos += n
            else:
                return None
    except (QuicError, IndexError):
        return None
    if pos > end or len(types) > MAX_FRAMES:  # (each frame took a byte at least: bounded)
        return None
    return types, events


def parse_frame(buf: bytes, start: int, end: int) -> Frame:
    ftype, pos = read_varint(buf, start, end)
    f: list = []
    data_at, data_len = -1, 0
    if ftype == 0x00:
        stop = _zeros_end(buf, pos, end)
        f.append(("padding_length", stop - start, start, stop - start))
        pos = stop
    elif ftype in _VARINT_FRAMES:
        for name in _VARINT_FRAMES[ftype]:
            _, pos = _v(buf, pos, end, name, f)
    elif ftype in (0x02, 0x03):
        pos = _ack(buf, pos, end, f, ftype == 0x03)
    elif ftype == 0x06:
        _, pos = _v(buf, pos, end, "crypto.offset", f)
        data_len, pos = _v(buf, pos, end, "crypto.length", f)
        _need(pos, data_len, end, "CRYPTO data")
        data_at, pos = pos, pos + data_len
    elif ftype == 0x07:
        n, pos = _v(buf, pos, end, "nt.length", f)
        pos = _fixed(buf, pos, end, n, "nt.token", f)
    elif 0x08 <= ftype <= 0x0F:
        _, pos = _v(buf, pos, end, "stream.stream_id", f)
        if ftype & 0x04:
            _, pos = _v(buf, pos, end, "stream.offset", f)
        if ftype & 0x02:
            data_len, pos = _v(buf, pos, end, "stream.length", f)
        else:
            data_len = end - pos
        _need(pos, data_len, end, "STREAM data")
        data_at, pos = pos, pos + data_len
    elif ftype == 0x18:
        _, pos = _v(buf, pos, end, "nci.sequence", f)
        _, pos = _v(buf, pos, end, "nci.retire_prior_to", f)
        _need(pos, 1, end, "connection ID length")
        n = buf[pos]
        f.append(("nci.connection_id.length", n, pos, 1))
        if not 1 <= n <= MAX_CID:
            raise QuicError(f"NEW_CONNECTION_ID with a {n}-byte connection ID")
        pos = _fixed(buf, pos + 1, end, n, "nci.connection_id", f)
        pos = _fixed(buf, pos, end, 16, "nci.stateless_reset_token", f)
    elif ftype in (0x1A, 0x1B):
        name = "path_challenge.data" if ftype == 0x1A else "path_response.data"
        pos = _fixed(buf, pos, end, 8, name, f)
    elif ftype in (0x1C, 0x1D):
        _, pos = _v(buf, pos, end, "cc.error_code" if ftype == 0x1C else "cc.error_code.app", f)
        if ftype == 0x1C:
            _, pos = _v(buf, pos, end, "cc.frame_type", f)
        n, pos = _v(buf, pos, end, "cc.reason_phrase.length", f)
        _need(pos, n, end, "reason phrase")
        f.append(("cc.reason_phrase", bytes(buf[pos : pos + n]).decode("utf-8", "replace"),
                  pos, n))  # fmt: skip
        pos += n
    elif ftype in (0x30, 0x31):
        if ftype == 0x31:
            data_len, pos = _v(buf, pos, end, "dg.length", f)
        else:
            data_len = end - pos
        _need(pos, data_len, end, "DATAGRAM data")
        data_at, pos = pos, pos + data_len
    else:
        raise QuicError(f"unknown frame type 0x{ftype:x} at {start}")
    return Frame(ftype, start, pos, tuple(f), data_at, data_len)


MAX_ACK_RANGES = 1024


def _ack(buf: bytes, pos: int, end: int, f: list, ecn: bool) -> int:
    _, pos = _v(buf, pos, end, "ack.largest_acknowledged", f)
    _, pos = _v(buf, pos, end, "ack.ack_delay", f)
    count, pos = _v(buf, pos, end, "ack.ack_range_count", f)
    _, pos = _v(buf, pos, end, "ack.first_ack_range", f)
    if count > MAX_ACK_RANGES:
        raise QuicError(f"ACK with {count} ranges")
    for _ in range(count):
        _, pos = _v(buf, pos, end, "ack.gap", f)
        _, pos = _v(buf, pos, end, "ack.ack_range", f)
    if ecn:
        for name in ("ack.ect0_count", "ack.ect1_count", "ack.ecn_ce_count"):
            _, pos = _v(buf, pos, end, name, f)
    return pos


# --- errors (RFC 9000 §20.1, RFC 9001 §4.8) ---------------------------------------------------
TRANSPORT_ERRORS = {
    0x0: "NO_ERROR", 0x1: "INTERNAL_ERROR", 0x2: "CONNECTION_REFUSED", 0x3: "FLOW_CONTROL_ERROR",
    0x4: "STREAM_LIMIT_ERROR", 0x5: "STREAM_STATE_ERROR", 0x6: "FINAL_SIZE_ERROR",
    0x7: "FRAME_ENCODING_ERROR", 0x8: "TRANSPORT_PARAMETER_ERROR",
    0x9: "CONNECTION_ID_LIMIT_ERROR", 0xA: "PROTOCOL_VIOLATION", 0xB: "INVALID_TOKEN",
    0xC: "APPLICATION_ERROR", 0xD: "CRYPTO_BUFFER_EXCEEDED", 0xE: "KEY_UPDATE_ERROR",
    0xF: "AEAD_LIMIT_REACHED", 0x10: "NO_VIABLE_PATH",
}  # fmt: skip


def error_text(code: int) -> str:
    """A transport error code's name; 0x100-0x1ff: CRYPTO_ERROR with the TLS alert."""
    if 0x100 <= code <= 0x1FF:
        from netlab.wire.tls import ALERTS

        alert = code - 0x100
        return f"CRYPTO_ERROR, TLS alert {ALERTS.get(alert, str(alert))}"
    return TRANSPORT_ERRORS.get(code, "unknown")


# --- transport parameters (RFC 9000 §18) ----------------------------------------------------
TRANSPORT_PARAMETERS = {
    0x00: "original_destination_connection_id", 0x01: "max_idle_timeout",
    0x02: "stateless_reset_token", 0x03: "max_udp_payload_size", 0x04: "initial_max_data",
    0x05: "initial_max_stream_data_bidi_local", 0x06: "initial_max_stream_data_bidi_remote",
    0x07: "initial_max_stream_data_uni", 0x08: "initial_max_streams_bidi",
    0x09: "initial_max_streams_uni", 0x0A: "ack_delay_exponent", 0x0B: "max_ack_delay",
    0x0C: "disable_active_migration", 0x0D: "preferred_address",
    0x0E: "active_connection_id_limit", 0x0F: "initial_source_connection_id",
    0x10: "retry_source_connection_id", 0x11: "version_information",
    0x20: "max_datagram_frame_size",
}  # fmt: skip
INTEGER_PARAMETERS = {0x01, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0E, 0x20}


def encode_transport_parameters(params: list[tuple[int, bytes | int]]) -> bytes:
    out = bytearray()
    for pid, value in params:
        body = encode_varint(value) if isinstance(value, int) else value
        out += encode_varint(pid) + encode_varint(len(body)) + body
    return bytes(out)


def parse_transport_parameters(data: bytes) -> list[tuple[int, int, int, bytes | int]]:
    """[(id, at, length, value)]: integers decoded for the parameters that are ones."""
    out: list = []
    pos, end = 0, len(data)
    while pos < end and len(out) < 256:
        pid, pos = read_varint(data, pos, end)
        n, pos = read_varint(data, pos, end)
        _need(pos, n, end, "transport parameter")
        raw = bytes(data[pos : pos + n])
        value: bytes | int = raw
        if pid in INTEGER_PARAMETERS and n:
            value = read_varint(raw, 0, n)[0]
        out.append((pid, pos, n, value))
        pos += n
    return out
