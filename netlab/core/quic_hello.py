"""`quic-hello`: a QUIC Initial built by netlab, and what the server sends back.

Our ClientHello (wire/tls's builder, with the quic_transport_parameters extension) in
a CRYPTO frame of a QUIC v1 (or v2) Initial, padded to 1200 bytes and protected with
the Initial keys derived from our random Destination Connection ID (RFC 9001 §5.2,
wire/quic.py). The server's answer:

- Version Negotiation: the versions it speaks; we try again once with one we know;
- Retry: its integrity tag checked against our DCID, then the Initial sent again to the
  new connection ID with the token (RFC 9000 §8.1.2);
- Initial (ServerHello) and Handshake packets: the Initial opened with the Initial
  keys; from the ServerHello's key share and our x25519 key the handshake secrets are
  computed (tls_crypto), so the Handshake packets open too and EncryptedExtensions
  gives the ALPN. The handshake is not completed (no client Finished).

A session core on the socket runner (one UDP socket): datagrams and `now` in,
`Datagram`s out. The secrets are kept as NSS key log lines (for -v).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from netlab.core.base import NS, Close, CoreBase, Datagram, Open, SocketError
from netlab.wire import quic, tls
from netlab.wire import tls_crypto as tc

CONN = "quic"
LINGER_S = 0.3  # after the server's first packet: wait this long for the rest of its flight
MAX_ATTEMPTS = 3  # first Initial, after a Retry, after a Version Negotiation
SUITES = [0x1301, 0x1302, 0x1303]
SIGALGS = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0807]
SPACE = {quic.INITIAL: 0, quic.HANDSHAKE: 1}


@dataclass(frozen=True)
class QuicHelloOptions:
    server_name: str | None
    alpn: tuple[str, ...] = ("h3",)
    version: int = quic.V1
    timeout: float = 5.0


@dataclass
class ServerPacket:
    type: str
    pn: int | None
    version: int
    dcid: bytes
    scid: bytes
    length: int
    at: int  # runner clock (ns)
    frames: list[str] = field(default_factory=list)
    opened: bool = False


@dataclass
class QuicHelloResult:
    version: int = 0
    dcid: bytes = b""  # our first Destination Connection ID
    scid: bytes = b""  # our Source Connection ID
    server_scid: bytes = b""
    server_packets: list[ServerPacket] = field(default_factory=list)
    client_hello: bytes = b""
    server_hello: tls.Hello | None = None
    alpn: str | None = None
    suite: int | None = None
    supported_versions: list[int] = field(default_factory=list)  # Version Negotiation
    retry_token: bytes = b""
    retry_valid: bool | None = None
    transport_parameters: list = field(default_factory=list)  # the server's
    sent: list[tuple[int, int, bytes]] = field(default_factory=list)  # (time, size, dcid)
    keylog: list[str] = field(default_factory=list)
    first_answer_at: int | None = None
    hello_sent: int | None = None
    error: str | None = None
    peer: tuple | None = None

    @property
    def rtt_ms(self) -> float | None:
        if self.hello_sent is None or self.first_answer_at is None:
            return None
        return round((self.first_answer_at - self.hello_sent) / 1e6, 3)


class QuicHello(CoreBase):
    def __init__(self, address: str, port: int, options: QuicHelloOptions,
                 random: Any = os.urandom) -> None:  # fmt: skip
        super().__init__()
        self.address, self.port, self.options = address, port, options
        self.random = random
        self.result = r = QuicHelloResult(version=options.version)
        r.dcid, r.scid = random(8), random(8)
        self.dcid = r.dcid  # where our Initial goes now (a Retry changes it)
        self.version = options.version
        self.token = b""
        self.pn = 0
        self.attempts = 0
        self.share = tc.Ephemeral(29)
        self.client_random = random(32)
        self.hello = self._client_hello()
        r.client_hello = self.hello
        self.crypto: dict[int, bytearray] = {0: bytearray(), 1: bytearray()}
        self.handshake_keys: quic.Keys | None = None
        self.largest = [-1, -1]
        self._deadline: int | None = None
        self._linger: int | None = None

    # --- the ClientHello and the Initial ------------------------------------------------------
    def _client_hello(self) -> bytes:
        o = self.options
        params = quic.encode_transport_parameters([
            (0x01, 30_000), (0x03, 1472), (0x04, 1 << 20), (0x05, 1 << 18), (0x06, 1 << 18),
            (0x07, 1 << 18), (0x08, 100), (0x09, 3), (0x0F, self.result.scid),
        ])  # fmt: skip
        spec = tls.ClientHelloSpec(
            random=self.client_random,
            session_id=b"",  # RFC 9001 §8.4: no compatibility-mode session ID over QUIC
            suites=SUITES,
            server_name=o.server_name,
            versions=[0x0304],
            groups=[29, 23],
            signature_algorithms=SIGALGS,
            key_shares=[(29, self.share.public)],
            alpn=list(o.alpn),
            extra_extensions=[(0x39, params)],
        )
        return tls.build_client_hello(spec)

    def _initial(self, now: int) -> list:
        # A version we have no keys for (to ask for Version Negotiation) is sealed as v1
        known = self.version if self.version in quic.VERSIONS else quic.V1
        keys, _server = quic.initial_keys(self.dcid, known)
        frames = quic.crypto_frame(0, self.hello)
        packet = quic.build_initial(self.version, self.dcid, self.result.scid, self.token,
                                    self.pn, frames, keys)  # fmt: skip
        self.pn += 1
        self.attempts += 1
        self.result.sent.append((now, len(packet), self.dcid))
        self.result.hello_sent = now
        self.result.first_answer_at = None
        return [Datagram(CONN, packet, (self.address, self.port))]

    # --- the session-core interface -----------------------------------------------------------
    def start(self, now: int) -> list:
        self._deadline = now + int(self.options.timeout * NS)
        return [Open(CONN, "udp", self.address, self.port), *self._initial(now)]

    def on_connected(self, conn: Any, info: Any, now: int) -> list:
        self.result.peer = info.peer
        return []

    def on_data(self, conn: Any, data: bytes, now: int) -> list:
        return []

    def on_datagram(self, conn: Any, data: bytes, addr: tuple, now: int) -> list:
        if self._finished:
            return []
        if self.result.first_answer_at is None:
            self.result.first_answer_at = now
        try:
            return self._datagram(bytes(data), now)
        except quic.QuicError as err:
            return self._fail(now, f"malformed QUIC from the server: {err}")

    def on_error(self, conn: Any, err: SocketError, now: int) -> list:
        return self._fail(now, f"{err.op} to {self.address} port {self.port} failed: {err.reason}")

    def on_timer(self, now: int) -> list:
        if self._linger is not None and now >= self._linger:
            return self._end(now)
        if self._deadline is not None and now >= self._deadline:
            got = [p.type for p in self.result.server_packets]
            if quic.INITIAL in got or quic.HANDSHAKE in got:
                return self._end(now)
            what = f"no Initial after the {got[-1]}" if got else "no answer"
            return self._fail(
                now,
                f"timeout: {what} from {self.address} port {self.port} "
                f"in {self.options.timeout:g} s",
            )
        return []

    def deadline(self) -> int | None:
        if self._finished:
            return None
        times = [t for t in (self._deadline, self._linger) if t is not None]
        return min(times) if times else None

    def interrupt(self, now: int) -> None:
        if not self._finished:
            self.result.error = "interrupted"
            self._finish(now)

    def _fail(self, now: int, reason: str) -> list:
        if self.result.error is None:
            self.result.error = reason
        self._finish(now)
        return [Close(CONN)]

    def _end(self, now: int) -> list:
        self._finish(now)
        return [Close(CONN)]

    # --- the server's datagrams ---------------------------------------------------------------
    def _datagram(self, data: bytes, now: int) -> list:
        pos, end = 0, len(data)
        for _ in range(16):
            if pos >= end or not any(data[pos : pos + 8]):
                break
            hdr = quic.parse_header(data, pos, end, len(self.result.scid))
            if hdr.ptype == quic.VERSION_NEGOTIATION:
                return self._version_negotiation(hdr, now)
            if hdr.ptype == quic.RETRY:
                return self._retry(data, hdr, now)
            self._packet(data, hdr, now)
            pos = hdr.end
            if not hdr.long:
                break
        if self.result.alpn is not None or self._ee_seen:
            return self._end(now)
        if self._linger is None:
            self._linger = now + int(LINGER_S * NS)
        return []

    _ee_seen = False

    def _record(self, hdr: quic.Header, now: int) -> ServerPacket:
        sp = ServerPacket(hdr.ptype, None, hdr.version, hdr.dcid, hdr.scid,
                          hdr.end - hdr.start, now)  # fmt: skip
        self.result.server_packets.append(sp)
        return sp

    def _version_negotiation(self, hdr: quic.Header, now: int) -> list:
        sp = self._record(hdr, now)
        sp.opened = True
        r = self.result
        r.supported_versions = list(hdr.versions)
        if hdr.dcid != r.scid or hdr.scid != self.dcid:
            return []  # not an answer to our Initial (RFC 9000 §6.1): ignore it
        usable = [v for v in hdr.versions if v in quic.VERSIONS and v != self.version]
        if self.version in hdr.versions or not usable or self.attempts >= MAX_ATTEMPTS:
            names = ", ".join(f"0x{v:08x}" for v in hdr.versions) or "none"
            return self._fail(now, f"version negotiation: the server speaks {names}")
        self.version = r.version = usable[0]
        self.dcid = self.random(8)  # a new connection attempt (RFC 9000 §6.2): a new ID
        return self._initial(now)

    def _retry(self, data: bytes, hdr: quic.Header, now: int) -> list:
        sp = self._record(hdr, now)
        sp.opened = True
        r = self.result
        r.retry_valid = quic.retry_valid(data, hdr, self.dcid)
        if not r.retry_valid:
            return []  # RFC 9000 §17.2.5.2: a Retry whose tag does not check is dropped
        if self.token or self.attempts >= MAX_ATTEMPTS:
            return []  # only one Retry per connection attempt
        r.retry_token = self.token = hdr.token
        self.dcid = hdr.scid
        return self._initial(now)

    def _packet(self, data: bytes, hdr: quic.Header, now: int) -> None:
        sp = self._record(hdr, now)
        if hdr.scid:
            self.result.server_scid = hdr.scid
        keys = self._keys(hdr)
        if keys is None:
            return
        space = SPACE[hdr.ptype]
        try:
            opened = quic.open_packet(data, hdr, keys, self.largest[space])
        except quic.QuicError:
            raise
        except Exception:  # InvalidTag: not for our keys
            return
        sp.pn, sp.opened = opened.pn, True
        self.largest[space] = max(self.largest[space], opened.pn)
        frames = quic.parse_frames(opened.payload)
        sp.frames = [quic.frame_name(f.ftype) for f in frames]
        for f in frames:
            if f.ftype == 0x06:
                self._crypto(
                    space, f.fields[0][1], opened.payload[f.data_at : f.data_at + f.data_len]
                )
            elif f.ftype == 0x1C or f.ftype == 0x1D:
                self._closed(f)

    def _closed(self, frame: quic.Frame) -> None:
        """CONNECTION_CLOSE: the server's error code (named) and reason."""
        code = frame.fields[0][1]
        reason = next((v for n, v, _a, _s in frame.fields if n == "cc.reason_phrase"), "")
        named = quic.error_text(code) if frame.ftype == 0x1C else "application error"
        text = f"the server closed the connection: error 0x{code:x} ({named})"
        self.result.error = f"{text}: {reason}" if reason else text

    def _keys(self, hdr: quic.Header) -> quic.Keys | None:
        if hdr.ptype == quic.INITIAL and hdr.version in quic.VERSIONS:
            return quic.initial_keys(self.dcid, hdr.version)[1]
        if hdr.ptype == quic.HANDSHAKE:
            return self.handshake_keys
        return None

    def _crypto(self, space: int, offset: int, piece: bytes) -> None:
        stream = self.crypto[space]
        if offset > len(stream) or offset + len(piece) > tls.MAX_HANDSHAKE:
            return  # out of order: a lost datagram; what came is enough to show
        stream += piece[len(stream) - offset :]
        while len(stream) >= 4:
            size = int.from_bytes(stream[1:4], "big")
            if len(stream) < 4 + size:
                break
            message = bytes(stream[: 4 + size])
            del stream[: 4 + size]
            self._message(message)

    def _message(self, message: bytes) -> None:
        mtype, body, r = message[0], message[4:], self.result
        if mtype == 2:
            hello = tls.parse_hello(body, server=True)
            r.server_hello, r.suite = hello, hello.suites[0]
            shares = hello.key_shares()
            if shares and shares[0][0] == 29 and shares[0][1]:
                self._handshake_secrets(hello, message, shares[0][1])
        elif mtype == 8:
            self._ee_seen = True
            ext = tls.Reader(tls.Reader(body, "EncryptedExtensions").vec(2), "extensions")
            while ext.left:
                etype, data = ext.u16(), ext.vec(2)
                if etype == 16:
                    names = tls.Reader(tls.Reader(data, "alpn").vec(2), "alpn")
                    r.alpn = names.vec(1).decode("ascii", "replace")
                elif etype == 0x39:
                    r.transport_parameters = quic.parse_transport_parameters(data)

    def _handshake_secrets(self, hello: tls.Hello, server_hello: bytes, share: bytes) -> None:
        suite = hello.suites[0]
        if suite not in quic.SUITE_PARAMS:
            return
        hash_name = quic.SUITE_PARAMS[suite][2]
        secrets = tc.Tls13Secrets(hash_name)
        secrets.handshake(self.share.shared(share), [self.hello, server_hello])
        self.handshake_keys = quic.keys_from_secret(secrets.server_handshake, suite, self.version)
        cr = self.client_random.hex()
        self.result.keylog += [
            f"CLIENT_HANDSHAKE_TRAFFIC_SECRET {cr} {secrets.client_handshake.hex()}",
            f"SERVER_HANDSHAKE_TRAFFIC_SECRET {cr} {secrets.server_handshake.hex()}",
        ]
