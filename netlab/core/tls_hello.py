"""`tls-hello`: a TLS handshake made by hand, every message kept to be shown.

The ClientHello is ours (built with Scapy's TLS layers, `wire.tls`); the rest of
the handshake is done here too, on the cryptography package (`wire.tls_crypto`),
so that nothing is hidden inside a library:

- TLS 1.3: ClientHello (key share) → ServerHello (or a HelloRetryRequest asking
  for another group) → the (EC)DHE shared secret → handshake traffic secrets →
  the server's encrypted flight decrypted (EncryptedExtensions, Certificate,
  CertificateVerify, Finished, each checked) → our Finished → close_notify.
- TLS 1.2: ClientHello → ServerHello, Certificate, ServerKeyExchange (ECDHE) or
  none (RSA), ServerHelloDone → ClientKeyExchange (our ECDHE share, or the
  pre-master secret encrypted with the certificate's RSA key) → master secret
  from the pre-master and the two randoms → ChangeCipherSpec, Finished both ways.

A session core on the socket runner (a plain TCP stream): bytes and `now` in,
`Write`s out. Every secret is kept for the key log (NSS format) and for `-v`. The
order of the server's messages is one table, `TLS_CLIENT` (RFC 8446 Appendix A.1's
client states, and TLS 1.2's in the same style), run by `core.base.StateTable`;
`machine.history` is the path the handshake took.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from netlab.core import base
from netlab.core.base import NS, Close, Connected, CoreBase, Open, SocketError, Write
from netlab.wire import tls
from netlab.wire import tls_crypto as tc

CLIENT, SERVER = "client", "server"
DEFAULT_SUITES = [0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8]
DEFAULT_GROUPS = [29, 23, 24]
DEFAULT_SIGALGS = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0807]

# --- the handshake as a state table -----------------------------------------------------------
# {(state, event): (action, next_state)}: an event is a message from the server, named as
# the timeline names it (a ServerHello by the version it chose); the action says what we
# send or do on it (the message's `_on_…` handler does it). TLS 1.3 follows RFC 8446
# Appendix A.1 (WAIT_SH … CONNECTED); WAIT_SH2 is WAIT_SH after a HelloRetryRequest, where
# a second one, or a ServerHello that is not TLS 1.3, is refused (§4.1.4). TLS 1.2 follows
# RFC 5246 §7.3's order in the same style (a Certificate is required: netlab offers no
# anonymous suite). A step is recorded once its handler has accepted the message (its
# checks passed); a message the table does not list in the current state ends the run:
# "unexpected message from the server: Finished is not expected in state WAIT_CERT_CR".
# Alerts may come in any state.
_SEND_FINISHED_12 = "send [Certificate, CertificateVerify,] ClientKeyExchange, CCS, Finished"
TLS_CLIENT = {
    ("START", "TCP connected"): ("send ClientHello", "WAIT_SH"),
    ("WAIT_SH", "HelloRetryRequest"): ("send ClientHello (the share it asks for)", "WAIT_SH2"),
    ("WAIT_SH", "ServerHello (TLS 1.3)"): ("derive the handshake secrets", "WAIT_EE"),
    ("WAIT_SH2", "ServerHello (TLS 1.3)"): ("derive the handshake secrets", "WAIT_EE"),
    ("WAIT_SH", "ServerHello (TLS 1.2)"): (None, "WAIT_CERT12"),
    ("WAIT_SH", "ServerHello (other version)"): ("stop: netlab completes 1.2 and 1.3", "CLOSED"),
    # TLS 1.3 (the server's flight is encrypted from here on)
    ("WAIT_EE", "EncryptedExtensions"): (None, "WAIT_CERT_CR"),
    ("WAIT_CERT_CR", "Certificate"): (None, "WAIT_CV"),
    ("WAIT_CV", "CertificateVerify"): ("check the signature", "WAIT_FINISHED"),
    ("WAIT_FINISHED", "Finished"): ("send Finished, close_notify", "CONNECTED"),
    # … with a client certificate asked for: ours goes with our Finished, and the server
    # judges it after that (a NewSessionTicket or data: accepted; an alert: refused).
    ("WAIT_CERT_CR", "CertificateRequest"): (None, "WAIT_CERT"),
    ("WAIT_CERT", "Certificate"): (None, "WAIT_CV_AUTH"),
    ("WAIT_CV_AUTH", "CertificateVerify"): ("check the signature", "WAIT_FINISHED_AUTH"),
    ("WAIT_FINISHED_AUTH", "Finished"): (
        "send Certificate, [CertificateVerify,] Finished",
        "WAIT_VERDICT",
    ),
    ("WAIT_VERDICT", "NewSessionTicket"): ("send close_notify", "CONNECTED"),
    ("WAIT_VERDICT", "application data"): ("send close_notify", "CONNECTED"),
    # TLS 1.2: Certificate, ServerKeyExchange (ECDHE only), CertificateRequest?, ServerHelloDone
    ("WAIT_CERT12", "Certificate"): (None, "WAIT_SKE12"),
    ("WAIT_SKE12", "ServerKeyExchange"): ("check the signature", "WAIT_CR12"),
    ("WAIT_SKE12", "CertificateRequest"): (None, "WAIT_SHD12"),
    ("WAIT_SKE12", "ServerHelloDone"): (_SEND_FINISHED_12, "WAIT_CCS12"),
    ("WAIT_CR12", "CertificateRequest"): (None, "WAIT_SHD12"),
    ("WAIT_CR12", "ServerHelloDone"): (_SEND_FINISHED_12, "WAIT_CCS12"),
    ("WAIT_SHD12", "ServerHelloDone"): (_SEND_FINISHED_12, "WAIT_CCS12"),
    ("WAIT_CCS12", "ChangeCipherSpec"): (None, "WAIT_FINISHED12"),
    ("WAIT_FINISHED12", "Finished"): ("check it, send close_notify", "CONNECTED"),
}


@dataclass(frozen=True)
class HelloOptions:
    server_name: str | None
    alpn: tuple[str, ...] = ()
    versions: tuple[int, ...] = (0x0304, 0x0303)  # what we offer, highest first
    suites: tuple[int, ...] | None = None  # None: DEFAULT_SUITES for the versions offered
    groups: tuple[int, ...] = tuple(DEFAULT_GROUPS)
    key_share_groups: tuple[int, ...] = (29,)
    signature_algorithms: tuple[int, ...] = tuple(DEFAULT_SIGALGS)
    grease: bool = False
    timeout: float = 5.0
    # Mutual TLS: our certificate chain (DER, leaf first) and its private key object.
    client_certs: tuple[bytes, ...] = ()
    client_key: Any = None

    def offered_suites(self) -> list[int]:
        if self.suites is not None:
            return list(self.suites)
        tls13 = 0x0304 in self.versions
        tls12 = any(v <= 0x0303 for v in self.versions)
        return [
            s for s in DEFAULT_SUITES if (s >> 8 == 0x13 and tls13) or (s >> 8 != 0x13 and tls12)
        ]


@dataclass
class Message:
    """One handshake message (or record event) as it went by, for the timeline."""

    direction: str  # "client" or "server"
    name: str
    time: int
    length: int
    encrypted: bool = False  # sent inside TLS 1.3 handshake encryption


@dataclass
class HelloResult:
    client_hello: tls.Hello | None = None
    client_hello_raw: bytes = b""
    server_hello: tls.Hello | None = None
    hello_retry: tls.Hello | None = None
    version: int | None = None
    suite: int | None = None
    group: int | None = None
    alpn: str | None = None
    certificates: list[bytes] = field(default_factory=list)
    ecdhe: tls.EcdheParams | None = None
    messages: list[Message] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)  # for -v: name → hex
    keylog: list[str] = field(default_factory=list)  # NSS key log lines
    checks: list[tuple[str, bool, str]] = field(default_factory=list)  # (what, ok, detail)
    client_certificate_requested: bool = False
    alert: tuple[str, str] | None = None  # (level, description) from the server
    completed: bool = False
    error: str | None = None
    connect_at: int | None = None
    tcp_at: int | None = None
    hello_sent: int | None = None
    server_hello_at: int | None = None
    done_at: int | None = None
    local: tuple | None = None
    peer: tuple | None = None

    @property
    def rtt_ms(self) -> float | None:
        if self.hello_sent and self.server_hello_at:
            return round((self.server_hello_at - self.hello_sent) / 1e6, 3)
        return None

    @property
    def tcp_ms(self) -> float | None:
        if self.connect_at and self.tcp_at:
            return round((self.tcp_at - self.connect_at) / 1e6, 3)
        return None

    @property
    def handshake_ms(self) -> float | None:
        if self.hello_sent and self.done_at:
            return round((self.done_at - self.hello_sent) / 1e6, 3)
        return None


class TlsHello(CoreBase):
    CONN = "tls"

    def __init__(
        self, address: str, port: int, options: HelloOptions, random: Any = os.urandom
    ) -> None:
        super().__init__()
        self.address, self.port, self.options = address, port, options
        self.random = random
        self.result = HelloResult()
        self.records = tls.RecordSplitter()
        self.plain = tls.HandshakeReassembler()  # unencrypted handshake records
        self.inner = tls.HandshakeReassembler()  # TLS 1.3: inside the encrypted records
        self.transcript: list[bytes] = []
        self.shares: dict[int, tc.Ephemeral] = {}
        self.suite: tc.Suite | None = None
        self.secrets13: tc.Tls13Secrets | None = None
        self.read: tc.RecordCipher | None = None
        self.write: tc.RecordCipher | None = None
        self.master: bytes = b""
        self.machine = base.StateTable(TLS_CLIENT, "START")
        self._deadline: int | None = None

    @property
    def state(self) -> str:
        return self.machine.state

    # --- the session-core interface -------------------------------------------------------
    def start(self, now: int) -> list:
        # Built before connecting: the first build imports Scapy's TLS layers (hundreds
        # of ms), which must not count as the server's time to answer.
        self._first_hello = self._build_client_hello()
        self._deadline = now + int(self.options.timeout * NS)
        return [Open(self.CONN, "tcp", self.address, self.port)]

    def on_connected(self, conn: Any, info: Connected, now: int) -> list:
        r = self.result
        r.connect_at, r.tcp_at = info.connect_at, info.tcp_at or now
        r.local, r.peer = info.local, info.peer
        self.machine.fire("TCP connected", now)
        return self._send_client_hello(now)

    def on_data(self, conn: Any, data: bytes, now: int) -> list:
        if self._finished:
            return []
        if not data:
            return self._fail(now, "the server closed the connection during the handshake")
        try:
            out: list = []
            for rec in self.records.feed(data):
                out += self._record(rec, now)
                if self._finished:
                    break
            return out
        except (tls.TlsError, ValueError) as err:
            return self._fail(now, f"malformed TLS from the server: {err}")
        except base.ProtocolViolation as err:
            return self._fail(now, f"unexpected message from the server: {err}")
        except Exception as err:  # cryptography's InvalidTag, InvalidSignature …
            return self._fail(
                now,
                f"TLS from the server does not decrypt or verify: "
                f"{type(err).__name__} {err}".strip(),
            )

    def on_datagram(self, conn: Any, data: bytes, addr: tuple, now: int) -> list:
        return []

    def on_error(self, conn: Any, err: SocketError, now: int) -> list:
        where = f"{self.address} port {self.port}"
        return self._fail(now, f"{err.op} to {where} failed: {err.reason}", close=False)

    def on_timer(self, now: int) -> list:
        if self._deadline is not None and now >= self._deadline:
            return self._fail(
                now, f"timeout: the handshake did not end in {self.options.timeout:g} s"
            )
        return []

    def deadline(self) -> int | None:
        return None if self._finished else self._deadline

    def interrupt(self, now: int) -> None:
        if not self._finished:
            self.result.error = "interrupted"
            self._finish(now)

    # --- ending --------------------------------------------------------------------------------
    def _fail(self, now: int, reason: str, close: bool = True) -> list:
        if self.result.error is None:
            self.result.error = reason
        self.result.done_at = self.result.done_at or now
        self._finish(now)
        return [Close(self.CONN)] if close else []

    def _done(self, now: int, farewell: bytes) -> list:
        self.result.completed = True
        self.result.done_at = now
        self._finish(now)
        return [Write(self.CONN, farewell), Close(self.CONN)]

    # --- ClientHello ---------------------------------------------------------------------------
    def _send_client_hello(self, now: int, hrr: tls.Hello | None = None) -> list:
        message = self._first_hello if hrr is None else self._build_client_hello(hrr)
        if self.result.client_hello is None:
            hello = tls.parse_hello(message[4:], server=False)
            self.result.client_hello, self.result.client_hello_raw = hello, message
        self.transcript.append(message)
        self.result.messages.append(Message(CLIENT, "ClientHello", now, len(message)))
        self.result.hello_sent = self.result.hello_sent or now
        version = 0x0301 if hrr is None else 0x0303  # the first record says TLS 1.0, as OpenSSL
        return [Write(self.CONN, tls.record(tls.HANDSHAKE, message, version))]

    def _build_client_hello(self, hrr: tls.Hello | None = None) -> bytes:
        """The ClientHello message; after a HelloRetryRequest, with the share it asked for."""
        o = self.options
        if hrr is None:
            self.client_random = self.random(32)
            self.session_id = self.random(32) if 0x0304 in o.versions else b""
            share_groups = (
                [g for g in o.key_share_groups if g in o.groups] if 0x0304 in o.versions else []
            )
        else:
            share_groups = [hrr.key_shares()[0][0]]
        for g in share_groups:
            if g not in self.shares:
                self.shares[g] = tc.Ephemeral(g)
        grease = (0x0A0A + 0x1010 * (self.client_random[0] % 16)) if o.grease else None
        cookie = None
        if hrr is not None:
            data = hrr.ext(44)
            cookie = tls.Reader(data, "cookie").vec(2) if data else None
        spec = tls.ClientHelloSpec(
            random=self.client_random,
            session_id=self.session_id,
            suites=o.offered_suites(),
            server_name=o.server_name,
            versions=[v for v in o.versions if v == 0x0304] and list(o.versions),
            groups=list(o.groups),
            signature_algorithms=list(o.signature_algorithms),
            key_shares=[(g, self.shares[g].public) for g in share_groups],
            alpn=list(o.alpn),
            legacy_version=0x0303 if max(o.versions) >= 0x0303 else max(o.versions),
            cookie=cookie,
            grease=grease,
        )
        return tls.build_client_hello(spec)

    # --- records -------------------------------------------------------------------------------
    def _record(self, rec: tls.Record, now: int) -> list:
        if rec.type == tls.ALERT:
            return self._alert(rec.payload, now)
        if rec.type == tls.CHANGE_CIPHER_SPEC:
            self.result.messages.append(Message(SERVER, "ChangeCipherSpec", now, 1))
            if self.result.version == 0x0303:  # TLS 1.3's is only for middleboxes: dropped
                self.machine.fire("ChangeCipherSpec", now)
            return []
        if rec.type == tls.HANDSHAKE:
            if self.state == "WAIT_FINISHED12":  # the server's Finished, encrypted
                plain = self.read.open12(tls.HANDSHAKE, rec.payload)
                return self._messages(self.inner.feed(plain), now, encrypted=True)
            return self._messages(self.plain.feed(rec.payload), now, encrypted=False)
        if (
            rec.type == tls.APPLICATION_DATA
            and self.read is not None
            and self.result.version == 0x0304
        ):
            ctype, plain = self.read.open13(rec.payload)
            if ctype == tls.ALERT:
                return self._alert(plain, now)
            if self.state == "WAIT_VERDICT":  # accepted: the server goes on after our Finished
                ticket = ctype == tls.HANDSHAKE and plain[:1] == b"\x04"
                name = "NewSessionTicket" if ticket else tls.CONTENT_TYPES.get(ctype, str(ctype))
                self.result.messages.append(Message(SERVER, name, now, len(plain), True))
                self.machine.fire("NewSessionTicket" if ticket else "application data", now)
                return self._done(now, self._close_notify13(now))
            if ctype == tls.HANDSHAKE:
                return self._messages(self.inner.feed(plain), now, encrypted=True)
            return []
        raise tls.TlsError(f"unexpected {tls.CONTENT_TYPES.get(rec.type)} record in the handshake")

    def _alert(self, payload: bytes, now: int) -> list:
        level, desc = tls.parse_alert(payload)
        self.result.alert = (level, desc)
        self.result.messages.append(Message(SERVER, f"Alert ({level}, {desc})", now, len(payload)))
        return self._fail(now, f"the server sent a {level} alert: {desc}")

    def _messages(self, messages: list[tls.HandshakeMessage], now: int, *, encrypted: bool) -> list:
        out: list = []
        for m in messages:
            self.result.messages.append(
                Message(SERVER, _title(m.name), now, len(m.body) + 4, encrypted)
            )
            event = self._event(m)
            handler = getattr(self, f"_on_{m.name}", None)
            if handler is None or not self.machine.allows(event):
                raise base.ProtocolViolation(self.state, event)
            out += handler(m, now)
            if self.result.error is None or self.machine.table[(self.state, event)][1] == "CLOSED":
                self.machine.fire(event, now)  # accepted (or the table's own refusal)
            if self._finished:
                break
        return out

    def _event(self, m: tls.HandshakeMessage) -> str:
        """The table's name for a message from the server: its title, a ServerHello's with
        the version it chose."""
        if m.name != "server_hello":
            return _title(m.name)
        sh = tls.parse_hello(m.body, server=True)
        if sh.is_hrr:
            return "HelloRetryRequest"
        return {0x0304: "ServerHello (TLS 1.3)", 0x0303: "ServerHello (TLS 1.2)"}.get(
            sh.version, "ServerHello (other version)"
        )

    # --- the server's messages ----------------------------------------------------------------
    def _on_server_hello(self, m: tls.HandshakeMessage, now: int) -> list:
        sh = tls.parse_hello(m.body, server=True)
        r = self.result
        if sh.is_hrr:  # (a second one is no step of the table)
            r.messages[-1].name = "HelloRetryRequest"
            r.hello_retry = sh
            group = sh.key_shares()[0][0] if sh.ext(51) else None
            if group is None or group not in self.options.groups or group in self.shares:
                raise tls.TlsError(f"HelloRetryRequest for group {group}, which we did not offer")
            # RFC 8446 §4.4.1: ClientHello1 is replaced by a synthetic message_hash.
            suite = tc.SUITES.get(sh.suites[0])
            hash_name = suite.hash if suite else "sha256"
            digest = tc.transcript_hash(hash_name, self.transcript)
            self.transcript = [bytes([254, 0, 0, len(digest)]) + digest, m.raw]
            return self._send_client_hello(now, hrr=sh)
        r.server_hello, r.server_hello_at = sh, now
        self.transcript.append(m.raw)
        r.version = sh.version
        r.suite = sh.suites[0]
        r.alpn = (sh.alpn or [None])[0]
        if r.suite not in r.client_hello.suites:
            raise tls.TlsError(
                f"the server chose {tls.suite_name(r.suite)}, which we did not offer"
            )
        if r.version == 0x0304:
            return self._tls13_keys(sh, now)
        if r.version != 0x0303:
            return self._fail(
                now,
                f"the server chose {tls.version_name(r.version)}: netlab "
                "completes TLS 1.2 and 1.3 handshakes",
            )
        self.suite = tc.SUITES.get(r.suite)
        if self.suite is None:
            return self._fail(
                now,
                f"{tls.suite_name(r.suite)} chosen: netlab shows the hello "
                "but cannot complete this suite",
            )
        return []

    def _tls13_keys(self, sh: tls.Hello, now: int) -> list:
        r = self.result
        self.suite = tc.SUITES.get(r.suite)
        if self.suite is None or not self.suite.tls13:
            raise tls.TlsError(f"TLS 1.3 with suite {tls.suite_name(r.suite)}")
        (group, public) = sh.key_shares()[0]
        share = self.shares.get(group)
        if share is None:
            raise tls.TlsError(f"the server's key share is for group {group}, not one we sent")
        r.group = group
        shared = share.shared(public)
        s = self.secrets13 = tc.Tls13Secrets(self.suite.hash)
        s.handshake(shared, self.transcript)
        self.read = tc.RecordCipher(self.suite, *tc.traffic_keys(self.suite, s.server_handshake))
        self.write = tc.RecordCipher(self.suite, *tc.traffic_keys(self.suite, s.client_handshake))
        cr = self.client_random.hex()
        r.keylog += [
            f"CLIENT_HANDSHAKE_TRAFFIC_SECRET {cr} {s.client_handshake.hex()}",
            f"SERVER_HANDSHAKE_TRAFFIC_SECRET {cr} {s.server_handshake.hex()}",
        ]
        r.secrets.update(
            {
                "shared_secret": shared.hex(),
                "handshake_secret": s.handshake_secret.hex(),
                "client_handshake_traffic_secret": s.client_handshake.hex(),
                "server_handshake_traffic_secret": s.server_handshake.hex(),
            }
        )
        return []

    def _on_encrypted_extensions(self, m: tls.HandshakeMessage, now: int) -> list:
        self.transcript.append(m.raw)
        r = tls.Reader(m.body, "EncryptedExtensions")
        exts = tls.Reader(r.vec(2), "extensions")
        while exts.left:
            code, data = exts.u16(), exts.vec(2)
            if code == 16 and data:
                self.result.alpn = (
                    tls.Reader(tls.Reader(data).vec(2)).vec(1).decode("ascii", "replace")
                )
        return []

    def _on_certificate_request(self, m: tls.HandshakeMessage, now: int) -> list:
        self.transcript.append(m.raw)
        self.result.client_certificate_requested = True
        self.cert_request = m.body
        return []

    def _on_certificate(self, m: tls.HandshakeMessage, now: int) -> list:
        self.transcript.append(m.raw)
        certs = tls.parse_certificate(m.body, tls13=self.result.version == 0x0304)
        for i, der in enumerate(certs):
            try:
                x509.load_der_x509_certificate(der)
            except ValueError as err:
                raise tls.TlsError(f"malformed certificate {i} in the chain: {err}") from None
        self.result.certificates = certs
        return []

    def _on_certificate_verify(self, m: tls.HandshakeMessage, now: int) -> list:
        r = tls.Reader(m.body, "CertificateVerify")
        scheme, signature = r.u16(), r.vec(2)
        content = (
            b" " * 64
            + b"TLS 1.3, server CertificateVerify\x00"
            + tc.transcript_hash(self.suite.hash, self.transcript)
        )
        ok, detail = _check_signature(self.result.certificates, scheme, signature, content)
        self.result.checks.append(("CertificateVerify signature", ok, detail))
        if not ok:
            return self._fail(now, f"the server's CertificateVerify does not verify: {detail}")
        self.transcript.append(m.raw)
        return []

    def _on_finished(self, m: tls.HandshakeMessage, now: int) -> list:
        if self.result.version == 0x0304:
            return self._finished13(m, now)
        expected = tc.finished12(self.suite, self.master, b"server finished", self.transcript)
        ok = m.body == expected
        self.result.checks.append(("server Finished (PRF over the transcript)", ok, ""))
        if not ok:
            return self._fail(now, "the server's Finished does not match the transcript")
        alert = self.write.seal12(tls.ALERT, b"\x01\x00")
        self.result.messages.append(Message(CLIENT, "Alert (warning, close_notify)", now, 2, True))
        return self._done(now, alert)

    def _finished13(self, m: tls.HandshakeMessage, now: int) -> list:
        s, suite, r = self.secrets13, self.suite, self.result
        expected = tc.finished_verify_data(suite, s.server_handshake, self.transcript)
        ok = m.body == expected
        r.checks.append(("server Finished (HMAC over the transcript)", ok, ""))
        if not ok:
            return self._fail(now, "the server's Finished does not match the transcript")
        self.transcript.append(m.raw)
        s.application(self.transcript)
        cr = self.client_random.hex()
        r.keylog += [
            f"CLIENT_TRAFFIC_SECRET_0 {cr} {s.client_application.hex()}",
            f"SERVER_TRAFFIC_SECRET_0 {cr} {s.server_application.hex()}",
        ]
        r.secrets.update(
            {
                "master_secret": s.master_secret.hex(),
                "client_application_traffic_secret_0": s.client_application.hex(),
                "server_application_traffic_secret_0": s.server_application.hex(),
            }
        )
        out = tls.record(tls.CHANGE_CIPHER_SPEC, b"\x01")  # middlebox compatibility (§D.4)
        flight = []
        if r.client_certificate_requested:
            flight += self._client_auth13(now)
        verify = tc.finished_verify_data(suite, s.client_handshake, self.transcript + flight)
        flight.append(bytes([20]) + len(verify).to_bytes(3, "big") + verify)
        for message in flight:
            out += self.write.seal13(tls.HANDSHAKE, message)
        r.messages.append(Message(CLIENT, "Finished", now, len(verify) + 4, True))
        self.app_write = tc.RecordCipher(suite, *tc.traffic_keys(suite, s.client_application))
        if r.client_certificate_requested:
            # The server judges our certificate after our Finished: wait for its verdict
            # (a NewSessionTicket or data means accepted, an alert refused).
            self.read = tc.RecordCipher(suite, *tc.traffic_keys(suite, s.server_application))
            return [Write(self.CONN, out)]  # and the table waits: WAIT_VERDICT
        return self._done(now, out + self._close_notify13(now))

    def _close_notify13(self, now: int) -> bytes:
        self.result.messages.append(Message(CLIENT, "Alert (warning, close_notify)", now, 2, True))
        return self.app_write.seal13(tls.ALERT, b"\x01\x00")

    def _client_auth13(self, now: int) -> list[bytes]:
        """Our Certificate (empty without --cert) and CertificateVerify (RFC 8446 §4.4.2-3)."""
        o, r = self.options, self.result
        context = tls.Reader(self.cert_request, "CertificateRequest").vec(1)
        entries = b"".join(len(c).to_bytes(3, "big") + c + b"\0\0" for c in o.client_certs)
        body = bytes([len(context)]) + context + len(entries).to_bytes(3, "big") + entries
        cert = _handshake(11, body)
        name = "Certificate" if o.client_certs else "Certificate (empty: no --cert)"
        r.messages.append(Message(CLIENT, name, now, len(cert), True))
        if not o.client_certs:
            return [cert]
        digest = tc.transcript_hash(self.suite.hash, [*self.transcript, cert])
        content = b" " * 64 + b"TLS 1.3, client CertificateVerify\x00" + digest
        scheme, signature = _sign(o.client_key, content, tls13=True)
        verify = _handshake(
            15, scheme.to_bytes(2, "big") + len(signature).to_bytes(2, "big") + signature
        )
        r.messages.append(Message(CLIENT, "CertificateVerify", now, len(verify), True))
        return [cert, verify]

    # --- TLS 1.2 ---------------------------------------------------------------------------------
    def _on_server_key_exchange(self, m: tls.HandshakeMessage, now: int) -> list:
        params = tls.parse_server_key_exchange(m.body)
        signed = self.client_random + self.result.server_hello.random + params.signed
        ok, detail = _check_signature(
            self.result.certificates, params.signature_scheme, params.signature, signed
        )
        self.result.checks.append(("ServerKeyExchange signature", ok, detail))
        if not ok:
            return self._fail(now, f"the ServerKeyExchange signature does not verify: {detail}")
        self.result.ecdhe = params
        self.result.group = params.group
        self.transcript.append(m.raw)
        return []

    def _on_server_hello_done(self, m: tls.HandshakeMessage, now: int) -> list:
        self.transcript.append(m.raw)
        r, suite = self.result, self.suite
        if suite.kx == "ecdhe":
            if r.ecdhe is None:
                raise tls.TlsError("no ServerKeyExchange for an ECDHE suite")
            mine = tc.Ephemeral(r.ecdhe.group)
            pre_master = mine.shared(r.ecdhe.public)
            body = bytes([len(mine.public)]) + mine.public
            r.secrets["ecdhe_shared_secret (pre-master)"] = pre_master.hex()
        else:
            if not r.certificates:
                raise tls.TlsError("no certificate for the RSA key exchange")
            pre_master, encrypted = tc.rsa_pre_master(r.certificates[0])
            body = len(encrypted).to_bytes(2, "big") + encrypted
            r.secrets["pre_master_secret"] = pre_master.hex()
            r.secrets["encrypted_pre_master_secret"] = encrypted.hex()
        out = b""
        if r.client_certificate_requested:  # our Certificate comes before the key exchange
            entries = b"".join(len(c).to_bytes(3, "big") + c for c in self.options.client_certs)
            cert = _handshake(11, len(entries).to_bytes(3, "big") + entries)
            self.transcript.append(cert)
            out += tls.record(tls.HANDSHAKE, cert)
            r.messages.append(
                Message(
                    CLIENT,
                    "Certificate"
                    if self.options.client_certs
                    else "Certificate (empty: no --cert)",
                    now,
                    len(cert),
                )
            )
        cke = bytes([16]) + len(body).to_bytes(3, "big") + body
        self.transcript.append(cke)
        out += tls.record(tls.HANDSHAKE, cke)
        r.messages.append(Message(CLIENT, "ClientKeyExchange", now, len(cke)))
        if r.client_certificate_requested and self.options.client_certs:
            # CertificateVerify: our key signs every handshake message so far (RFC 5246 §7.4.8).
            scheme, signature = _sign(
                self.options.client_key, b"".join(self.transcript), tls13=False
            )
            verify = _handshake(
                15, scheme.to_bytes(2, "big") + len(signature).to_bytes(2, "big") + signature
            )
            self.transcript.append(verify)
            out += tls.record(tls.HANDSHAKE, verify)
            r.messages.append(Message(CLIENT, "CertificateVerify", now, len(verify)))
        sr = r.server_hello.random
        self.master = tc.master_secret12(suite, pre_master, self.client_random, sr)
        keys = tc.key_block12(suite, self.master, self.client_random, sr)
        self.write = tc.RecordCipher(suite, keys.client_key, keys.client_iv)
        self.read = tc.RecordCipher(suite, keys.server_key, keys.server_iv)
        r.keylog.append(f"CLIENT_RANDOM {self.client_random.hex()} {self.master.hex()}")
        r.secrets["master_secret"] = self.master.hex()
        verify = tc.finished12(suite, self.master, b"client finished", self.transcript)
        finished = bytes([20, 0, 0, 12]) + verify
        self.transcript.append(finished)
        r.messages += [
            Message(CLIENT, "ChangeCipherSpec", now, 1),
            Message(CLIENT, "Finished", now, 16, True),
        ]
        out += tls.record(tls.CHANGE_CIPHER_SPEC, b"\x01")
        return [Write(self.CONN, out + self.write.seal12(tls.HANDSHAKE, finished))]


def _handshake(mtype: int, body: bytes) -> bytes:
    return bytes([mtype]) + len(body).to_bytes(3, "big") + body


def _sign(key: Any, content: bytes, *, tls13: bool) -> tuple[int, bytes]:
    """Sign CONTENT with our client key: (SignatureScheme, signature). RSA signs with
    PSS in TLS 1.3 (RFC 8446 §4.2.3 forbids PKCS #1 v1.5 there), PKCS #1 v1.5 in 1.2."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

    if isinstance(key, rsa.RSAPrivateKey):
        if tls13:
            pss = padding.PSS(padding.MGF1(hashes.SHA256()), hashes.SHA256().digest_size)
            return 0x0804, key.sign(content, pss, hashes.SHA256())
        return 0x0401, key.sign(content, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(key, ec.EllipticCurvePrivateKey):
        size = key.curve.key_size
        scheme, hash_alg = {256: (0x0403, hashes.SHA256()), 384: (0x0503, hashes.SHA384())}.get(
            size, (0x0603, hashes.SHA512())
        )
        return scheme, key.sign(content, ec.ECDSA(hash_alg))
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return 0x0807, key.sign(content)
    raise ValueError(f"a {type(key).__name__} cannot sign a TLS CertificateVerify")


def _title(name: str) -> str:
    special = {"client_hello": "ClientHello", "server_hello": "ServerHello"}
    return special.get(name, "".join(w.capitalize() for w in name.split("_")))


def _check_signature(
    certs: list[bytes], scheme: int | None, signature: bytes, content: bytes
) -> tuple[bool, str]:
    """Verify SIGNATURE over CONTENT with the leaf's public key (RFC 8446 §4.2.3)."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

    from netlab.wire.tls_names import SIGNATURE_SCHEMES

    name = SIGNATURE_SCHEMES.get(scheme or 0, f"0x{scheme or 0:04x}")
    if not certs:
        return False, "no certificate to check it with"
    key = x509.load_der_x509_certificate(certs[0]).public_key()
    hash_alg = {
        "sha256": hashes.SHA256(),
        "sha384": hashes.SHA384(),
        "sha512": hashes.SHA512(),
        "sha1": hashes.SHA1(),
    }.get(name.rsplit("_", 1)[-1])
    try:
        if name.startswith("rsa_pss") and isinstance(key, rsa.RSAPublicKey):
            key.verify(
                signature,
                content,
                padding.PSS(padding.MGF1(hash_alg), hash_alg.digest_size),
                hash_alg,
            )
        elif name.startswith("rsa_pkcs1") and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, content, padding.PKCS1v15(), hash_alg)
        elif name.startswith("ecdsa") and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, content, ec.ECDSA(hash_alg))
        elif name == "ed25519" and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, content)
        else:
            return False, f"{name} does not fit the certificate's key"
    except InvalidSignature:
        return False, f"{name}: invalid signature"
    return True, name
