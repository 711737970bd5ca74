"""TLS's key schedules and record protection, on the cryptography package.

- TLS 1.3 (RFC 8446 §7): HKDF-Extract / HKDF-Expand-Label, the secrets from the
  (EC)DHE shared secret and the transcript hash, traffic keys and IVs, Finished.
- TLS 1.2 (RFC 5246 §5, §8): the PRF, the master secret from the pre-master secret
  and the two randoms (the course's "three randoms"), the key block.
- Records: AEAD protection (AES-GCM, ChaCha20-Poly1305) for both versions; TLS 1.2's
  AES-CBC with HMAC-SHA1/SHA256/SHA384 (MAC-then-encrypt, or encrypt-then-MAC, RFC 7366)
  opened for the dissector.
- The NSS key log (SSLKEYLOGFILE): `KeyLog`, read again as the file grows.
- Key exchange: x25519 and the NIST curves, ephemeral keys made here.

The same functions serve `tls-hello` (which completes handshakes) and the dissector
(which decrypts a capture with a key log). Nothing here touches a socket.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305


@dataclass(frozen=True)
class Suite:
    """What a cipher suite needs from us: AEAD, key/IV lengths, hash, key exchange."""

    code: int
    tls13: bool
    aead: str  # "gcm", "chacha", or "cbc" (TLS 1.2 AES-CBC with an HMAC: DECRYPT_SUITES)
    key_len: int
    hash: str  # "sha256" or "sha384" (TLS 1.2: the PRF's hash)
    kx: str = ""  # TLS 1.2: "ecdhe", "dhe" or "rsa"
    mac: str = ""  # "cbc": the record MAC's hash ("sha1", "sha256", "sha384")

    @property
    def iv_len(self) -> int:
        # TLS 1.2 AES-GCM has a 4-byte implicit salt + 8 explicit nonce bytes per record;
        # CBC records carry their IV (the key block's IVs are not used).
        if self.aead == "cbc":
            return 16
        return 4 if not self.tls13 and self.aead == "gcm" else 12

    @property
    def mac_len(self) -> int:
        return hashlib.new(self.mac).digest_size if self.mac else 0

    @property
    def hash_len(self) -> int:
        return hashlib.new(self.hash).digest_size


SUITES = {
    0x1301: Suite(0x1301, True, "gcm", 16, "sha256"),
    0x1302: Suite(0x1302, True, "gcm", 32, "sha384"),
    0x1303: Suite(0x1303, True, "chacha", 32, "sha256"),
    0xC02B: Suite(0xC02B, False, "gcm", 16, "sha256", "ecdhe"),  # ECDHE-ECDSA-AES128-GCM-SHA256
    0xC02C: Suite(0xC02C, False, "gcm", 32, "sha384", "ecdhe"),
    0xC02F: Suite(0xC02F, False, "gcm", 16, "sha256", "ecdhe"),  # ECDHE-RSA-AES128-GCM-SHA256
    0xC030: Suite(0xC030, False, "gcm", 32, "sha384", "ecdhe"),
    0xCCA8: Suite(0xCCA8, False, "chacha", 32, "sha256", "ecdhe"),
    0xCCA9: Suite(0xCCA9, False, "chacha", 32, "sha256", "ecdhe"),
    0x009C: Suite(0x009C, False, "gcm", 16, "sha256", "rsa"),  # AES128-GCM-SHA256
    0x009D: Suite(0x009D, False, "gcm", 32, "sha384", "rsa"),
}
# Suites the dissector can also open (a key log gives the secrets), which tls-hello does
# not complete: DHE key exchange, TLS 1.2 AES-CBC with HMAC (RFC 5246 §6.2.3.2).
_CBC = [  # code, key length, MAC hash, PRF hash, key exchange
    (0x002F, 16, "sha1", "sha256", "rsa"), (0x0035, 32, "sha1", "sha256", "rsa"),
    (0x003C, 16, "sha256", "sha256", "rsa"), (0x003D, 32, "sha256", "sha256", "rsa"),
    (0x0033, 16, "sha1", "sha256", "dhe"), (0x0039, 32, "sha1", "sha256", "dhe"),
    (0x0067, 16, "sha256", "sha256", "dhe"), (0x006B, 32, "sha256", "sha256", "dhe"),
    (0xC009, 16, "sha1", "sha256", "ecdhe"), (0xC00A, 32, "sha1", "sha256", "ecdhe"),
    (0xC013, 16, "sha1", "sha256", "ecdhe"), (0xC014, 32, "sha1", "sha256", "ecdhe"),
    (0xC023, 16, "sha256", "sha256", "ecdhe"), (0xC024, 32, "sha384", "sha384", "ecdhe"),
    (0xC027, 16, "sha256", "sha256", "ecdhe"), (0xC028, 32, "sha384", "sha384", "ecdhe"),
]  # fmt: skip
DECRYPT_SUITES = {
    **SUITES,
    0x009E: Suite(0x009E, False, "gcm", 16, "sha256", "dhe"),
    0x009F: Suite(0x009F, False, "gcm", 32, "sha384", "dhe"),
    0xCCAA: Suite(0xCCAA, False, "chacha", 32, "sha256", "dhe"),
    **{c: Suite(c, False, "cbc", n, prf, kx, mac) for c, n, mac, prf, kx in _CBC},
}


def _hmac(hash_name: str, key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hash_name).digest()


# --- TLS 1.3 --------------------------------------------------------------------------------------
def hkdf_extract(hash_name: str, salt: bytes, ikm: bytes) -> bytes:
    return _hmac(hash_name, salt or bytes(hashlib.new(hash_name).digest_size), ikm)


def hkdf_expand_label(
    hash_name: str, secret: bytes, label: str, context: bytes, length: int
) -> bytes:
    full = b"tls13 " + label.encode()
    info = struct.pack("!H", length) + bytes([len(full)]) + full + bytes([len(context)]) + context
    out, block, i = b"", b"", 1
    while len(out) < length:
        block = _hmac(hash_name, secret, block + info + bytes([i]))
        out += block
        i += 1
    return out[:length]


def transcript_hash(hash_name: str, messages: list[bytes]) -> bytes:
    h = hashlib.new(hash_name)
    for m in messages:
        h.update(m)
    return h.digest()


@dataclass
class Tls13Secrets:
    """The secrets of one TLS 1.3 handshake, named as the key log names them."""

    hash: str
    handshake_secret: bytes = b""
    client_handshake: bytes = b""  # CLIENT_HANDSHAKE_TRAFFIC_SECRET
    server_handshake: bytes = b""  # SERVER_HANDSHAKE_TRAFFIC_SECRET
    master_secret: bytes = b""
    client_application: bytes = b""  # CLIENT_TRAFFIC_SECRET_0
    server_application: bytes = b""  # SERVER_TRAFFIC_SECRET_0

    def derive_secret(self, secret: bytes, label: str, messages: list[bytes]) -> bytes:
        h = self.hash
        return hkdf_expand_label(
            h, secret, label, transcript_hash(h, messages), hashlib.new(h).digest_size
        )

    def handshake(self, shared: bytes, hello_messages: list[bytes]) -> None:
        """From the (EC)DHE shared secret and ClientHello…ServerHello (no PSK)."""
        h = self.hash
        zeros = bytes(hashlib.new(h).digest_size)
        early = hkdf_extract(h, b"", zeros)
        derived = self.derive_secret(early, "derived", [])
        self.handshake_secret = hkdf_extract(h, derived, shared)
        self.client_handshake = self.derive_secret(
            self.handshake_secret, "c hs traffic", hello_messages
        )
        self.server_handshake = self.derive_secret(
            self.handshake_secret, "s hs traffic", hello_messages
        )

    def application(self, messages_to_server_finished: list[bytes]) -> None:
        h = self.hash
        derived = self.derive_secret(self.handshake_secret, "derived", [])
        self.master_secret = hkdf_extract(h, derived, bytes(hashlib.new(h).digest_size))
        self.client_application = self.derive_secret(
            self.master_secret, "c ap traffic", messages_to_server_finished
        )
        self.server_application = self.derive_secret(
            self.master_secret, "s ap traffic", messages_to_server_finished
        )


def next_traffic_secret(suite: Suite, secret: bytes) -> bytes:
    """RFC 8446 §7.2: the secret after a KeyUpdate."""
    return hkdf_expand_label(suite.hash, secret, "traffic upd", b"", suite.hash_len)


def traffic_keys(suite: Suite, secret: bytes) -> tuple[bytes, bytes]:
    """TLS 1.3 (key, iv) for a traffic secret."""
    key = hkdf_expand_label(suite.hash, secret, "key", b"", suite.key_len)
    iv = hkdf_expand_label(suite.hash, secret, "iv", b"", 12)
    return key, iv


def finished_verify_data(suite: Suite, base_secret: bytes, messages: list[bytes]) -> bytes:
    key = hkdf_expand_label(suite.hash, base_secret, "finished", b"", suite.hash_len)
    return _hmac(suite.hash, key, transcript_hash(suite.hash, messages))


# --- TLS 1.2 --------------------------------------------------------------------------------------
def prf12(hash_name: str, secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    """P_hash of RFC 5246 §5: HMAC chained over A(i)."""
    seed = label + seed
    out, a = b"", seed
    while len(out) < length:
        a = _hmac(hash_name, secret, a)
        out += _hmac(hash_name, secret, a + seed)
    return out[:length]


def master_secret12(
    suite: Suite, pre_master: bytes, client_random: bytes, server_random: bytes
) -> bytes:
    return prf12(suite.hash, pre_master, b"master secret", client_random + server_random, 48)


@dataclass(frozen=True)
class KeyBlock:
    client_key: bytes
    server_key: bytes
    client_iv: bytes
    server_iv: bytes
    client_mac: bytes = b""  # CBC suites: the HMAC keys (none for AEAD suites)
    server_mac: bytes = b""


def key_block12(
    suite: Suite, master: bytes, client_random: bytes, server_random: bytes
) -> KeyBlock:
    """RFC 5246 §6.3: MAC keys (CBC suites only), then the two keys, then the two IVs."""
    m, n, iv = suite.mac_len, suite.key_len, suite.iv_len
    block = prf12(
        suite.hash, master, b"key expansion", server_random + client_random, 2 * (m + n + iv)
    )
    macs, block = block[: 2 * m], block[2 * m :]
    return KeyBlock(block[:n], block[n : 2 * n], block[2 * n : 2 * n + iv],
                    block[2 * n + iv :], macs[:m], macs[m:])  # fmt: skip


def finished12(suite: Suite, master: bytes, label: bytes, messages: list[bytes]) -> bytes:
    return prf12(suite.hash, master, label, transcript_hash(suite.hash, messages), 12)


# --- records --------------------------------------------------------------------------------------
class RecordCipher:
    """One direction's record protection: key, IV and the record sequence number (AEAD;
    for a CBC suite, the HMAC key and whether encrypt-then-MAC was negotiated: open12)."""

    def __init__(self, suite: Suite, key: bytes, iv: bytes, mac_key: bytes = b"",
                 etm: bool = False) -> None:  # fmt: skip
        self.suite = suite
        self.iv = iv
        self._iv_int = int.from_bytes(iv, "big")
        self.seq = 0
        self.key, self.mac_key, self.etm = key, mac_key, etm
        if suite.aead == "cbc":
            self.aead = None
        else:
            self.aead = AESGCM(key) if suite.aead == "gcm" else ChaCha20Poly1305(key)

    def _nonce13(self) -> bytes:
        return (self._iv_int ^ self.seq).to_bytes(len(self.iv), "big")

    # TLS 1.3: TLSInnerPlaintext inside an application_data record.
    def seal13(self, content_type: int, data: bytes) -> bytes:
        inner = data + bytes([content_type])
        header = struct.pack("!BHH", 23, 0x0303, len(inner) + 16)
        out = header + self.aead.encrypt(self._nonce13(), inner, header)
        self.seq += 1
        return out

    def open13(self, payload: bytes, version: int = 0x0303) -> tuple[int, bytes]:
        header = struct.pack("!BHH", 23, version, len(payload))
        inner = self.aead.decrypt(self._nonce13(), payload, header)
        self.seq += 1
        stripped = inner.rstrip(b"\0")
        if not stripped:
            raise ValueError("TLS 1.3 record with no content type")
        return stripped[-1], stripped[:-1]

    # TLS 1.2 AEAD (RFC 5288 for GCM, RFC 7905 for ChaCha20).
    def seal12(self, content_type: int, data: bytes) -> bytes:
        aad = struct.pack("!QBHH", self.seq, content_type, 0x0303, len(data))
        if self.suite.aead == "gcm":
            explicit = self.seq.to_bytes(8, "big")
            body = explicit + self.aead.encrypt(self.iv + explicit, data, aad)
        else:
            body = self.aead.encrypt(self._nonce13(), data, aad)
        self.seq += 1
        return struct.pack("!BHH", content_type, 0x0303, len(body)) + body

    def open12(self, content_type: int, payload: bytes, version: int = 0x0303) -> bytes:
        """A TLS 1.2 record's content; ValueError (or cryptography's InvalidTag) when it
        does not open: wrong keys, or bytes that are not what the record claims."""
        if self.aead is None:
            return self._open_cbc(content_type, payload, version)
        if self.suite.aead == "gcm":
            explicit, sealed = payload[:8], payload[8:]
            nonce = self.iv + explicit
        else:
            sealed, nonce = payload, self._nonce13()
        if len(sealed) < 16:
            raise ValueError("AEAD record shorter than its tag")
        aad = struct.pack("!QBHH", self.seq, content_type, version, len(sealed) - 16)
        data = self.aead.decrypt(nonce, sealed, aad)
        self.seq += 1
        return data

    def _open_cbc(self, content_type: int, payload: bytes, version: int) -> bytes:
        """AES-CBC with an explicit IV and an HMAC (RFC 5246 §6.2.3.2), the MAC checked in
        constant time; with encrypt-then-MAC (RFC 7366) the MAC covers the ciphertext."""
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        mac_len = self.suite.mac_len
        mac_name = self.suite.mac
        if self.etm:
            if len(payload) < 32 + mac_len or (len(payload) - mac_len) % 16:
                raise ValueError("CBC record of a wrong size")
            sealed, tag = payload[:-mac_len], payload[-mac_len:]
            head = struct.pack("!QBHH", self.seq, content_type, version, len(sealed))
            if not hmac.compare_digest(_hmac(mac_name, self.mac_key, head + sealed), tag):
                raise ValueError("bad record MAC")
        else:
            if len(payload) < 32 or len(payload) % 16:
                raise ValueError("CBC record of a wrong size")
            sealed = payload
        dec = Cipher(algorithms.AES(self.key), modes.CBC(sealed[:16])).decryptor()
        plain = dec.update(sealed[16:]) + dec.finalize()
        pad = plain[-1]
        end = len(plain) - pad - 1
        if end < (0 if self.etm else mac_len) or plain[end:-1] != bytes([pad]) * pad:
            raise ValueError("bad CBC padding")
        if not self.etm:
            end -= mac_len
            head = struct.pack("!QBHH", self.seq, content_type, version, end)
            tag = _hmac(mac_name, self.mac_key, head + plain[:end])
            if not hmac.compare_digest(tag, plain[end : end + mac_len]):
                raise ValueError("bad record MAC")
        self.seq += 1
        return plain[:end]


# --- the key log --------------------------------------------------------------------------------
KEYLOG_LABELS = frozenset((
    "CLIENT_RANDOM", "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET",
    "CLIENT_EARLY_TRAFFIC_SECRET", "EARLY_EXPORTER_SECRET",
))  # fmt: skip
MAX_KEYLOG_ENTRIES = 200_000  # secrets kept from one key log (about 50 MB at most)
MAX_KEYLOG_LINE = 1024


class KeyLog:
    """An NSS key log (SSLKEYLOGFILE, what tshark's tls.keylog_file reads): lines
    `LABEL <client random, hex> <secret, hex>`, comments and anything else skipped.

    `secret(label, client_random)` looks a secret up; when it is not there and the file
    has grown since it was read, the new lines are read first (a live capture's key log
    is written while the capture runs). `lines`, instead of a file, is a function giving
    the lines so far (a command's own list, which only grows). Bounded: at most
    MAX_KEYLOG_ENTRIES secrets, lines over MAX_KEYLOG_LINE bytes skipped. An unreadable
    file is an empty key log.
    """

    def __init__(self, path: str | None = None, text: str = "", lines=None) -> None:
        self.path = path
        self.lines = lines
        self.secrets: dict[tuple[str, bytes], bytes] = {}
        self._read_to = 0
        self._partial = b""
        if text:
            self._parse(text.encode())
        if path is not None:
            self._read_more()

    def secret(self, label: str, client_random: bytes) -> bytes | None:
        found = self.secrets.get((label, client_random))
        readable = self.path is not None or self.lines is not None
        if found is None and readable and self._read_more():
            found = self.secrets.get((label, client_random))
        return found

    def _read_more(self) -> bool:
        """Read what the file gained since last time; True when anything was added."""
        if self.lines is not None:
            new = self.lines()[self._read_to :]
            self._read_to += len(new)
            before = len(self.secrets)
            self._parse("\n".join(new).encode())
            return len(self.secrets) > before
        try:
            with open(self.path, "rb") as f:  # type: ignore[arg-type]
                size = os.fstat(f.fileno()).st_size
                if size < self._read_to:  # truncated and rewritten: start over
                    self._read_to, self._partial = 0, b""
                if size == self._read_to:
                    return False
                f.seek(self._read_to)
                data = f.read(size - self._read_to)
        except OSError:
            return False
        self._read_to += len(data)
        before = len(self.secrets)
        data = self._partial + data
        cut = data.rfind(b"\n") + 1
        self._partial = data[cut:][:MAX_KEYLOG_LINE]
        self._parse(data[:cut])
        return len(self.secrets) > before

    def _parse(self, data: bytes) -> None:
        secrets = self.secrets
        for line in data.split(b"\n"):
            if len(secrets) >= MAX_KEYLOG_ENTRIES:
                return
            parts = line.split()
            if len(parts) != 3 or len(line) > MAX_KEYLOG_LINE:
                continue
            try:
                label = parts[0].decode("ascii")
                if label not in KEYLOG_LABELS:
                    continue
                secrets[(label, bytes.fromhex(parts[1].decode("ascii")))] = bytes.fromhex(
                    parts[2].decode("ascii")
                )
            except (UnicodeDecodeError, ValueError):
                continue


# --- key exchange ---------------------------------------------------------------------------------
# (cryptography's curve classes by name: its asymmetric modules are imported by the first
# Ephemeral, not by the dissector, which needs only this module's KeyLog and ciphers)
CURVES = {23: "SECP256R1", 24: "SECP384R1", 25: "SECP521R1"}
KEY_EXCHANGE_GROUPS = (29, 23, 24, 25)  # groups we can complete a handshake with


class Ephemeral:
    """An ephemeral (EC)DH key for GROUP: its public share, and the shared secret."""

    def __init__(self, group: int) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec, x25519

        self.group = group
        if group == 29:
            self._key = x25519.X25519PrivateKey.generate()
            self.public = self._key.public_key().public_bytes_raw()
        elif group in CURVES:
            self._key = ec.generate_private_key(getattr(ec, CURVES[group])())
            from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

            self.public = self._key.public_key().public_bytes(
                Encoding.X962, PublicFormat.UncompressedPoint
            )
        else:
            raise ValueError(f"group {group} is not one netlab can compute a shared secret for")

    def shared(self, peer_public: bytes) -> bytes:
        from cryptography.hazmat.primitives.asymmetric import ec, x25519

        if self.group == 29:
            return self._key.exchange(x25519.X25519PublicKey.from_public_bytes(peer_public))
        curve = getattr(ec, CURVES[self.group])()
        peer = ec.EllipticCurvePublicKey.from_encoded_point(curve, peer_public)
        return self._key.exchange(ec.ECDH(), peer)


def rsa_pre_master(cert_der: bytes, version: int = 0x0303) -> tuple[bytes, bytes]:
    """The TLS 1.2 RSA key exchange: a random pre-master secret (version + 46 random
    bytes) and that secret encrypted under the certificate's public key (PKCS #1 v1.5)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = x509.load_der_x509_certificate(cert_der).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the certificate's key is not RSA: no RSA key exchange")
    pre_master = version.to_bytes(2, "big") + os.urandom(46)
    return pre_master, key.encrypt(pre_master, padding.PKCS1v15())
