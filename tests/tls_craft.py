"""TLS conversations made byte by byte for the dissector's tests: a TLS 1.2
(ECDHE-RSA-AES128-GCM-SHA256) or TLS 1.3 (TLS_AES_128_GCM_SHA256) handshake whose
secrets are chosen here, records sealed with wire/tls_crypto, and the NSS key log that
opens them, so a test can cut records and segments wherever it likes and ask tshark
(`-o tls.keylog_file:…`) what it makes of them. Nothing here is a real key exchange:
neither tshark nor netlab checks one when the key log gives the secrets.
"""

from __future__ import annotations

import os
import struct

from netlab.wire import tls_crypto as tc


def record(ctype: int, payload: bytes, version: int = 0x0303) -> bytes:
    return struct.pack("!BHH", ctype, version, len(payload)) + payload


def handshake(mtype: int, body: bytes) -> bytes:
    return bytes([mtype]) + len(body).to_bytes(3, "big") + body


def extension(etype: int, data: bytes) -> bytes:
    return struct.pack("!HH", etype, len(data)) + data


def alpn_ext(names: list[str]) -> bytes:
    body = b"".join(bytes([len(n)]) + n.encode() for n in names)
    return extension(16, len(body).to_bytes(2, "big") + body)


class Craft:
    """One connection's records. `tls13` picks the version; `alpn` (e.g. "h2") is
    offered by the client and chosen by the server."""

    def __init__(self, tls13: bool = False, alpn: str | None = None, server_name: str = "a.lab"):
        self.tls13 = tls13
        self.alpn = alpn
        self.server_name = server_name
        self.client_random = os.urandom(32)
        self.server_random = os.urandom(32)
        if tls13:
            self.suite = tc.SUITES[0x1301]
            self.secrets = {
                label: os.urandom(32)
                for label in (
                    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
                    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                    "CLIENT_TRAFFIC_SECRET_0",
                    "SERVER_TRAFFIC_SECRET_0",
                )
            }
            self.client = tc.RecordCipher(
                self.suite,
                *tc.traffic_keys(self.suite, self.secrets["CLIENT_HANDSHAKE_TRAFFIC_SECRET"]),
            )
            self.server = tc.RecordCipher(
                self.suite,
                *tc.traffic_keys(self.suite, self.secrets["SERVER_HANDSHAKE_TRAFFIC_SECRET"]),
            )
        else:
            self.suite = tc.SUITES[0xC02F]
            self.master = os.urandom(48)
            keys = tc.key_block12(self.suite, self.master, self.client_random, self.server_random)
            self.client = tc.RecordCipher(self.suite, keys.client_key, keys.client_iv)
            self.server = tc.RecordCipher(self.suite, keys.server_key, keys.server_iv)

    # --- the key log ----------------------------------------------------------------------------
    def keylog(self) -> str:
        cr = self.client_random.hex()
        if self.tls13:
            return "".join(f"{label} {cr} {s.hex()}\n" for label, s in self.secrets.items())
        return f"CLIENT_RANDOM {cr} {self.master.hex()}\n"

    # --- the handshake ---------------------------------------------------------------------------
    def client_hello(self) -> bytes:
        exts = extension(
            0,
            struct.pack("!HBH", len(self.server_name) + 3, 0, len(self.server_name))
            + self.server_name.encode(),
        )
        exts += extension(10, b"\x00\x02\x00\x1d") + extension(11, b"\x01\x00")
        exts += extension(13, b"\x00\x04\x04\x03\x08\x04")
        if self.alpn:
            exts += alpn_ext([self.alpn])
        if self.tls13:
            exts += extension(43, b"\x02\x03\x04") + extension(45, b"\x01\x01")
            exts += extension(51, b"\x00\x24\x00\x1d\x00\x20" + os.urandom(32))
        suites = struct.pack("!H", self.suite.code)
        body = (
            b"\x03\x03"
            + self.client_random
            + b"\x00"
            + len(suites).to_bytes(2, "big")
            + suites
            + b"\x01\x00"
            + len(exts).to_bytes(2, "big")
            + exts
        )
        return record(22, handshake(1, body), 0x0301)

    def server_hello(self) -> bytes:
        exts = b""
        if self.tls13:
            exts += extension(43, b"\x03\x04") + extension(51, b"\x00\x1d\x00\x20" + os.urandom(32))
        elif self.alpn:
            exts += alpn_ext([self.alpn])
        body = (
            b"\x03\x03"
            + self.server_random
            + b"\x00"
            + struct.pack("!HB", self.suite.code, 0)
            + len(exts).to_bytes(2, "big")
            + exts
        )
        return handshake(2, body)

    def server_flight(self) -> bytes:
        """TLS 1.2: ServerHello, ServerHelloDone; TLS 1.3: ServerHello, CCS,
        EncryptedExtensions and Finished (the server then switches to its
        application keys)."""
        if not self.tls13:
            return record(22, self.server_hello() + handshake(14, b""))
        exts = alpn_ext([self.alpn]) if self.alpn else b""
        ee = handshake(8, len(exts).to_bytes(2, "big") + exts)
        out = record(22, self.server_hello()) + record(20, b"\x01")
        out += self.server.seal13(22, ee) + self.server.seal13(22, handshake(20, os.urandom(32)))
        self.server = tc.RecordCipher(
            self.suite, *tc.traffic_keys(self.suite, self.secrets["SERVER_TRAFFIC_SECRET_0"])
        )
        return out

    def client_finish(self) -> bytes:
        """TLS 1.2: ClientKeyExchange, CCS, Finished; TLS 1.3: CCS, Finished."""
        if self.tls13:
            out = record(20, b"\x01") + self.client.seal13(22, handshake(20, os.urandom(32)))
            self.client = tc.RecordCipher(
                self.suite, *tc.traffic_keys(self.suite, self.secrets["CLIENT_TRAFFIC_SECRET_0"])
            )
            return out
        cke = record(22, handshake(16, b"\x20" + os.urandom(32)))
        return cke + record(20, b"\x01") + self.client.seal12(22, handshake(20, os.urandom(12)))

    def server_finish(self) -> bytes:
        """TLS 1.2: CCS, Finished; TLS 1.3: nothing (its Finished came with its flight)."""
        if self.tls13:
            return b""
        return record(20, b"\x01") + self.server.seal12(22, handshake(20, os.urandom(12)))

    # --- application data -------------------------------------------------------------------------
    def app(self, side: str, data: bytes, ctype: int = 23) -> bytes:
        """One protected record carrying DATA, from the client ("c") or the server."""
        cipher = self.client if side == "c" else self.server
        if self.tls13:
            return cipher.seal13(ctype, data)
        return cipher.seal12(ctype, data)

    def apps(self, side: str, data: bytes, size: int) -> bytes:
        """DATA cut into records of at most SIZE bytes."""
        return b"".join(self.app(side, data[i : i + size]) for i in range(0, len(data), size))

    def handshake_steps(self) -> list[tuple[str, bytes]]:
        steps = [
            ("c", self.client_hello()),
            ("s", self.server_flight()),
            ("c", self.client_finish()),
        ]
        finish = self.server_finish()
        if finish:
            steps.append(("s", finish))
        return steps
