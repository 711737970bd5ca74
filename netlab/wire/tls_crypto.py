"""TLS's key schedules and record protection, on the cryptography package.

- TLS 1.3 (RFC 8446 §7): HKDF-Extract / HKDF-Expand-Label, the secrets from the
  (EC)DHE shared secret and the transcript hash, traffic keys and IVs, Finished.
- TLS 1.2 (RFC 5246 §5, §8): the PRF, the master secret from the pre-master secret
  and the two randoms (the course's "three randoms"), the key block.
- Records: AEAD protection (AES-GCM, ChaCha20-Poly1305) for both versions.
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

from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305


@dataclass(frozen=True)
class Suite:
    """What a cipher suite needs from us: AEAD, key/IV lengths, hash, key exchange."""

    code: int
    tls13: bool
    aead: str  # "gcm" or "chacha"
    key_len: int
    hash: str  # "sha256" or "sha384"
    kx: str = ""  # TLS 1.2: "ecdhe" or "rsa"

    @property
    def iv_len(self) -> int:
        # TLS 1.2 AES-GCM has a 4-byte implicit salt + 8 explicit nonce bytes per record.
        return 4 if not self.tls13 and self.aead == "gcm" else 12

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


def key_block12(
    suite: Suite, master: bytes, client_random: bytes, server_random: bytes
) -> KeyBlock:
    """AEAD suites have no MAC keys: the block is two keys and two IVs."""
    n, iv = suite.key_len, suite.iv_len
    block = prf12(
        suite.hash, master, b"key expansion", server_random + client_random, 2 * n + 2 * iv
    )
    return KeyBlock(block[:n], block[n : 2 * n], block[2 * n : 2 * n + iv], block[2 * n + iv :])


def finished12(suite: Suite, master: bytes, label: bytes, messages: list[bytes]) -> bytes:
    return prf12(suite.hash, master, label, transcript_hash(suite.hash, messages), 12)


# --- records --------------------------------------------------------------------------------------
class RecordCipher:
    """One direction's AEAD state: key, IV and the record sequence number."""

    def __init__(self, suite: Suite, key: bytes, iv: bytes) -> None:
        self.suite = suite
        self.iv = iv
        self.seq = 0
        self.aead = AESGCM(key) if suite.aead == "gcm" else ChaCha20Poly1305(key)

    def _nonce13(self) -> bytes:
        padded = self.seq.to_bytes(len(self.iv), "big")
        return bytes(a ^ b for a, b in zip(self.iv, padded, strict=True))

    # TLS 1.3: TLSInnerPlaintext inside an application_data record.
    def seal13(self, content_type: int, data: bytes) -> bytes:
        inner = data + bytes([content_type])
        header = struct.pack("!BHH", 23, 0x0303, len(inner) + 16)
        out = header + self.aead.encrypt(self._nonce13(), inner, header)
        self.seq += 1
        return out

    def open13(self, payload: bytes) -> tuple[int, bytes]:
        header = struct.pack("!BHH", 23, 0x0303, len(payload))
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

    def open12(self, content_type: int, payload: bytes) -> bytes:
        if self.suite.aead == "gcm":
            explicit, sealed = payload[:8], payload[8:]
            nonce = self.iv + explicit
        else:
            sealed, nonce = payload, self._nonce13()
        aad = struct.pack("!QBHH", self.seq, content_type, 0x0303, len(sealed) - 16)
        data = self.aead.decrypt(nonce, sealed, aad)
        self.seq += 1
        return data


# --- key exchange ---------------------------------------------------------------------------------
CURVES = {23: ec.SECP256R1, 24: ec.SECP384R1, 25: ec.SECP521R1}
KEY_EXCHANGE_GROUPS = (29, 23, 24, 25)  # groups we can complete a handshake with


class Ephemeral:
    """An ephemeral (EC)DH key for GROUP: its public share, and the shared secret."""

    def __init__(self, group: int) -> None:
        self.group = group
        if group == 29:
            self._key = x25519.X25519PrivateKey.generate()
            self.public = self._key.public_key().public_bytes_raw()
        elif group in CURVES:
            self._key = ec.generate_private_key(CURVES[group]())
            from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

            self.public = self._key.public_key().public_bytes(
                Encoding.X962, PublicFormat.UncompressedPoint
            )
        else:
            raise ValueError(f"group {group} is not one netlab can compute a shared secret for")

    def shared(self, peer_public: bytes) -> bytes:
        if self.group == 29:
            return self._key.exchange(x25519.X25519PublicKey.from_public_bytes(peer_public))
        peer = ec.EllipticCurvePublicKey.from_encoded_point(CURVES[self.group](), peer_public)
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
