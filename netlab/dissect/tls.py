"""TLS in the dissector: records, handshake messages, certificates, alerts, and
decryption with an NSS key log, presented as tshark 4.0 presents them.

Found on tshark's TLS ports (`tls.tcp.port`: 443, 465, 636, 853, 993, 995 …) and on
any port by tshark's heuristic (a handshake or application-data record header at the
start of a segment: type 22/23, version 3.0-3.3, a sane length). The stream then
belongs to one `TlsSession` (a registry.StreamProtocol session), which TCP hands every
segment of it in order, also in the light pass of `--jobs`, and which keeps all the
cross-segment state:

- records are cut as tshark's TLS asks TCP to cut them: a record whose header was seen
  in an earlier segment is a PDU of its own ("Reassembled TCP"), the records after it
  in the same segment another call of TLS (frame.protocols "tls:…:tls");
- handshake messages are reassembled across records as tshark does (a message's first
  record shows "[Certificate Fragment]", its last one the whole message), at most
  wire/tls.MAX_HANDSHAKE bytes; a message claiming more is marked malformed;
- the hellos give the version (supported_versions), the suite, the randoms, ALPN,
  encrypt-then-MAC, and JA3/JA3S (wire/tls); certificates are shown with x509 fields
  (dissect/x509.py);
- with a key log (`Dissector(keylog=…)`, `netlab dissect --keylog FILE`, like tshark's
  `-o tls.keylog_file:FILE`), TLS 1.3 records are opened with the handshake and then
  the application traffic secrets (KeyUpdate followed), TLS 1.2 records after each
  side's ChangeCipherSpec with the key block from the master secret (AES-GCM,
  ChaCha20-Poly1305, AES-CBC with HMAC-SHA1/256/384, encrypt-then-MAC): decrypted
  handshake messages are shown like plaintext ones, decrypted application data goes to
  an HTTP session (dissect/http.py: HTTP/1.x, and HTTP/2 by ALPN or its preface),
  reassembled across records as tshark's TLS does ("[TLS segment of a reassembled
  PDU]"). A record that does not open (wrong or missing keys) stays encrypted and
  the direction is not tried again.

The decoders only present what the session found. Damage (a record over 2^14 + 2048
bytes, a hello that does not parse, a certificate that is not DER, a handshake
message over the bound) is marked malformed; nothing here raises on packet content,
and memory is bounded per stream (TCP keeps at most 1 MiB pending, decrypted data
waiting for its HTTP message at most 1 MiB).

Deliberate differences from tshark 4.0 (tests/test_dissect_tls.py): SSLv2 hellos,
TLS 1.0/1.1 decryption, the RSA private-key and PMS_CLIENT_RANDOM key log forms, 0-RTT
early data and compressed records are not handled; the damage above is marked
malformed where tshark adds an expert note; an HTTP body that runs until the
connection's end is, as in tshark 4.0, never completed inside TLS.
"""

from __future__ import annotations

import datetime as dt
import struct
from functools import partial
from typing import Any, NamedTuple

import netlab.dissect.registry as registry
from netlab.dissect import x509
from netlab.dissect.base import decode_data
from netlab.dissect.http import HEURISTIC_PROTOCOL, HttpSession, http_heuristic
from netlab.dissect.model import CALL_MARK, Layer, Packet
from netlab.wire import quic as quic_wire
from netlab.wire import tls as wire
from netlab.wire.tls_names import CIPHER_SUITES, GROUPS

# tshark 4.0's tls.tcp.port (`tshark -G decodes`); 8443 is not among them, but the
# heuristic finds TLS there as anywhere.
TLS_PORTS = (324, 443, 465, 636, 802, 853, 993, 995, 1300, 2221, 2443, 3249, 3250, 3251,
             3252, 3496, 5061, 5671, 5684, 5868, 8883, 11207, 19999, 27017)  # fmt: skip
HTTP_PORT = 443  # tls.port's association tshark can follow into HTTP (tls.app_data_proto)
MAX_RECORD = wire.MAX_RECORD
MAX_MESSAGE = wire.MAX_HANDSHAKE
MAX_APP_PENDING = 1 << 20  # decrypted bytes kept for an unfinished application PDU

TLS10, TLS11, TLS12, TLS13 = 0x0301, 0x0302, 0x0303, 0x0304
VERSION_NAMES = {0x0300: "SSLv3", 0x0301: "TLSv1", 0x0302: "TLSv1.1", 0x0303: "TLSv1.2",
                 0x0304: "TLSv1.3"}  # fmt: skip
VERSION_TEXT = {0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2",
                0x0304: "TLS 1.3"}  # fmt: skip
CONTENT_TYPES = {20: "Change Cipher Spec", 21: "Alert", 22: "Handshake", 23: "Application Data",
                 24: "Heartbeat", 25: "Connection ID"}  # fmt: skip
HANDSHAKE_NAMES = {
    0: "Hello Request", 1: "Client Hello", 2: "Server Hello", 3: "Hello Verify Request",
    4: "New Session Ticket", 5: "End of Early Data", 6: "Hello Retry Request",
    8: "Encrypted Extensions", 11: "Certificate", 12: "Server Key Exchange",
    13: "Certificate Request", 14: "Server Hello Done", 15: "Certificate Verify",
    16: "Client Key Exchange", 20: "Finished", 21: "Client Certificate URL",
    22: "Certificate Status", 23: "Supplemental Data", 24: "Key Update",
    25: "Compressed Certificate", 67: "Encrypted Extensions",
}  # fmt: skip
ALERT_LEVELS = {1: "Warning", 2: "Fatal"}
ALERT_NAMES = {
    0: "Close Notify", 1: "End of Early Data", 10: "Unexpected Message", 20: "Bad Record MAC",
    21: "Decryption Failed", 22: "Record Overflow", 30: "Decompression Failure",
    40: "Handshake Failure", 41: "No Certificate", 42: "Bad Certificate",
    43: "Unsupported Certificate", 44: "Certificate Revoked", 45: "Certificate Expired",
    46: "Certificate Unknown", 47: "Illegal Parameter", 48: "Unknown CA", 49: "Access Denied",
    50: "Decode Error", 51: "Decrypt Error", 60: "Export Restriction", 70: "Protocol Version",
    71: "Insufficient Security", 80: "Internal Error", 86: "Inappropriate Fallback",
    90: "User Canceled", 100: "No Renegotiation", 109: "Missing Extension",
    110: "Unsupported Extension", 111: "Certificate Unobtainable", 112: "Unrecognized Name",
    113: "Bad Certificate Status Response", 114: "Bad Certificate Hash Value",
    115: "Unknown PSK Identity", 116: "Certificate Required", 120: "No application Protocol",
    121: "ECH Required",
}  # fmt: skip
EXTENSION_NAMES = {
    0: "server_name", 1: "max_fragment_length", 2: "client_certificate_url", 3: "trusted_ca_keys",
    4: "truncated_hmac", 5: "status_request", 6: "user_mapping", 7: "client_authz",
    8: "server_authz", 9: "cert_type", 10: "supported_groups", 11: "ec_point_formats", 12: "srp",
    13: "signature_algorithms", 14: "use_srtp", 15: "heartbeat",
    16: "application_layer_protocol_negotiation", 17: "status_request_v2",
    18: "signed_certificate_timestamp", 19: "client_certificate_type",
    20: "server_certificate_type", 21: "padding", 22: "encrypt_then_mac",
    23: "extended_master_secret", 24: "token_binding", 25: "cached_info",
    27: "compress_certificate", 28: "record_size_limit", 34: "delegated_credentials",
    35: "session_ticket", 41: "pre_shared_key", 42: "early_data", 43: "supported_versions",
    44: "cookie", 45: "psk_key_exchange_modes", 47: "certificate_authorities", 48: "oid_filters",
    49: "post_handshake_auth", 50: "signature_algorithms_cert", 51: "key_share",
    57: "quic_transport_parameters", 13172: "next_protocol_negotiation",
    17513: "application_settings", 65281: "renegotiation_info",
    65486: "encrypted_server_name",
}  # fmt: skip
EMPTY_EXTENSIONS = {22, 23, 49}  # no body of their own (no "Data" item)
POINT_FORMATS = {0: "uncompressed", 1: "ansiX962_compressed_prime", 2: "ansiX962_compressed_char2"}
HASHES = {0: "None", 1: "MD5", 2: "SHA1", 3: "SHA224", 4: "SHA256", 5: "SHA384", 6: "SHA512",
          7: "SM3"}  # fmt: skip
# tshark's names for tls.handshake.sig_hash_alg; any other is "<hash> <signature>"
SIG_ALGS = {0x0201: "rsa_pkcs1_sha1", 0x0203: "ecdsa_sha1", 0x0401: "rsa_pkcs1_sha256",
            0x0403: "ecdsa_secp256r1_sha256", 0x0501: "rsa_pkcs1_sha384",
            0x0503: "ecdsa_secp384r1_sha384", 0x0601: "rsa_pkcs1_sha512",
            0x0603: "ecdsa_secp521r1_sha512", 0x0708: "sm2sig_sm3", 0x0804: "rsa_pss_rsae_sha256",
            0x0805: "rsa_pss_rsae_sha384", 0x0806: "rsa_pss_rsae_sha512", 0x0807: "ed25519",
            0x0808: "ed448", 0x0809: "rsa_pss_pss_sha256", 0x080A: "rsa_pss_pss_sha384",
            0x080B: "rsa_pss_pss_sha512"}  # fmt: skip
LABEL_MAX = 239  # tshark's ITEM_LABEL_LENGTH (240 with the NUL): longer labels are cut
SIGNATURES = {0: "Anonymous", 1: "RSA", 2: "DSA", 3: "ECDSA", 4: "SM2"}
PSK_MODES = {0: "PSK-only key establishment (psk_ke)",
             1: "PSK with (EC)DHE key establishment (psk_dhe_ke)"}  # fmt: skip
ALPN_APPS = {"h2": "HyperText Transfer Protocol 2", "http/1.1": "Hypertext Transfer Protocol",
             "http/1.0": "Hypertext Transfer Protocol"}  # fmt: skip
HTTP_NAME = "Hypertext Transfer Protocol"
TLS_SEGMENT = "[TLS segment of a reassembled PDU]"
_HEAD = struct.Struct("!BHH")
# (bound once: compiled, a module name is a cached lookup, an attribute a search)
_unpack_head = _HEAD.unpack_from


def version_name(version: int) -> str:
    return VERSION_NAMES.get(version, "SSL")


def _version_text(version: int) -> str:
    return f"{VERSION_TEXT.get(version, 'Unknown')} (0x{version:04x})"


def handshake_name(mtype: int) -> str:
    return HANDSHAKE_NAMES.get(mtype, "Encrypted Handshake Message")


def suite_text(code: int) -> str:
    return f"{CIPHER_SUITES.get(code, 'Unknown')} (0x{code:04x})"


# --- what the session finds -----------------------------------------------------------------------
class Msg:
    """One whole handshake message: in `buf` (None: the call's buffer, offsets relative
    to the call's start) at start..end (type and length included)."""

    __slots__ = ("buf", "end", "hello", "kx", "mtype", "problem", "start", "version", "x509")

    def __init__(self, mtype: int, buf: bytes | None, start: int, end: int, version: int) -> None:
        self.mtype = mtype
        self.buf = buf
        self.start = start
        self.end = end
        self.version = version  # the session's version when it was read
        self.hello: wire.Hello | None = None
        self.problem: str | None = None
        self.x509: list[str] = []  # protocols Wireshark calls for its certificates
        self.kx = ""  # ClientKeyExchange: the suite's key exchange ("ecdh", "dh", "rsa")


class Rec:
    """One whole record, as found (the call decoder's and the fields' input). Offsets
    are relative to the start of the call it belongs to."""

    __slots__ = ("app", "app_name", "ctype", "info", "inner", "items", "length", "off", "plain",
                 "problem", "title_version", "version")  # fmt: skip

    def __init__(self, off: int, ctype: int, version: int, length: int, title_version: int) -> None:
        self.off = off
        self.ctype = ctype
        self.version = version
        self.length = length
        self.title_version = title_version  # "TLSv1.2 Record Layer" …
        self.inner: int | None = None  # TLS 1.3: the content type found inside
        self.plain: bytes | None = None  # decrypted content
        self.items: list[tuple] = []  # what the record holds, for the fields
        self.info: list[str] = []  # its parts of the info column
        self.app: list | None = None  # decrypted application data: [(kind, …)] (see _app)
        self.app_name: str | None = None  # tls.app_data_proto
        self.problem: str | None = None


class Call:
    """One call of TLS on a buffer (the decoder's `Layer.hdr`): the records, the
    protocol column it sets, whether it may set it (the second call in a segment may
    not), and whether its records come from a reassembled buffer."""

    __slots__ = ("index", "protocol", "records", "x509")

    def __init__(self, index: int, protocol: str, records: list[Rec]) -> None:
        self.index = index
        self.protocol = protocol
        self.records = records
        self.x509: list[str] = []


class _Side:
    """One direction's state."""

    __slots__ = ("app", "ccs_frame", "cipher", "count", "encrypted", "failed", "frag", "label",
                 "secret")  # fmt: skip

    def __init__(self) -> None:
        self.cipher: Any = None  # wire.tls_crypto.RecordCipher opening this side's records
        # The keys this side's records are protected with: a TLS 1.3 key log label,
        # "12" (TLS 1.2's key block), or "" (none we can know); loaded when a record
        # needs them, so a key log written while a live capture runs still serves; and
        # how many records went by under them (the sequence number of the next one).
        self.label = ""
        self.count = 0
        self.secret = b""  # TLS 1.3: the traffic secret in use (KeyUpdate)
        self.ccs_frame = 0  # the frame of this side's ChangeCipherSpec (TLS 1.2)
        self.encrypted = False  # this side's records are protected from now on
        self.failed = False  # a record did not open: the rest stays encrypted
        self.frag: bytearray | None = None  # an unfinished handshake message
        self.app: bytearray | None = None  # decrypted bytes of an unfinished PDU


class TlsSession:
    """One TCP stream's TLS (registry.StreamProtocol session; see the module's doc)."""

    # tcp.py: the (empty) layer of a segment whose record TLS waits on, as tshark shows it
    waiting_layer = ("tls", "Transport Layer Security")

    __slots__ = ("alpn", "app", "client", "client_random", "etm", "etm_offered", "keylog",
                 "port_app", "proto", "server_random", "sides", "suite", "version")  # fmt: skip

    def __init__(self, proto: registry.StreamProtocol, port_app: bool = False) -> None:
        self.proto = proto
        self.sides = (_Side(), _Side())
        self.version = 0  # tshark's session->version: 0 until a record says it
        self.client = -1  # the side that sent the ClientHello
        self.client_random = b""
        self.server_random = b""
        self.suite = 0
        self.alpn: str | None = None
        self.etm_offered = False
        self.etm = False
        self.keylog: Any = None  # wire.tls_crypto.KeyLog, from the Dissector (bind)
        self.app: HttpSession | None = None  # the decrypted data's protocol, once known
        self.port_app = port_app  # on port 443: HTTP unless ALPN says otherwise

    def bind(self, d) -> None:
        self.keylog = key_log(d)

    def reset(self, side: int) -> None:
        """The direction lost bytes: a record (and any handshake message or application
        PDU under way) can never be completed; decryption cannot follow either."""
        s = self.sides[side]
        s.frag = None
        s.app = None
        if s.cipher is not None:
            s.cipher = None
            s.failed = True
        if self.app is not None:
            self.app.reset(side)

    # --- records ----------------------------------------------------------------------------
    def split(self, side: int, data, pos: int, end: int, fin: bool, no: int, ts_ns: int,
              carried: int = 0):  # fmt: skip
        """registry.StreamProtocol's session split: -> (pdus, used, info)."""
        calls: list[tuple[int, int, Call]] = []
        records: list[Rec] = []
        start = p = pos
        # A record whose header came in an earlier segment was asked of TCP by its length:
        # it is a PDU of its own; what follows it in this segment is a second call. (With
        # fewer than 5 bytes known, tshark asked for "one more segment": one call.)
        first_alone = carried >= 5
        protocol = version_name(self.version)
        if not carried and end - p > 4 and 0x20 <= data[p] < 0x7F and _printable(data, p):
            # tshark's TLS refuses a segment that starts with four printable bytes (no
            # TLS record does); TCP's heuristics then find HTTP, or it is data
            decoder = _decode_plain if http_heuristic(data, p, end) is not None else decode_data
            return [(decoder, p, end)], end, None
        while end - p >= 5:
            ctype, version, length = _unpack_head(data, p)
            if not 20 <= ctype <= 25:
                rec = self._garbage(side, p - start, ctype, version, length)
                records.append(rec)
                p = end if rec.length < 0 or p + 5 + length > end else p + 5 + length
                if rec.length < 0:
                    break
                continue
            if p + 5 + length > end:
                break
            if self.version == 0:
                protocol = version_name(version)
            rec = self._record(side, data, p, p - start, ctype, version, length, no, ts_ns)
            if (
                rec.ctype == 22
                and self.version
                and any(item[0] == "hs" and item[1].mtype == 2 for item in rec.items)
            ):
                protocol = version_name(self.version)
            records.append(rec)
            p += 5 + length
            if first_alone:
                calls.append((start, p, Call(0, protocol, records)))
                records = []
                start = p
                first_alone = False
                protocol = version_name(self.version)
        if calls:
            if start < end:  # the rest of the segment: another call, whole records or not
                calls.append((start, end, Call(1, protocol, records)))
        elif records:
            calls.append((start, p, Call(0, protocol, records)))
        if not calls:
            # Nothing whole: at a record's start TLS was called and asked for more (the
            # protocol is shown); in the middle of one, TCP keeps it to itself.
            return [], p, ("" if carried < 5 and pos < end else None)
        pdus = []
        for a, b, call in calls:
            for rec in call.records:
                call.x509 += [n for item in rec.items if item[0] == "hs" for n in item[1].x509]
            pdus.append((partial(decode_call, call), a, b))
        return pdus, p, None

    def _garbage(self, side: int, off: int, ctype: int, version: int, length: int) -> Rec:
        """Not a record: tshark ignores the rest of a TLS 1.0-1.2 segment ("Ignored Unknown
        Record"), else skips the 5 + length bytes it claims ("Continuation Data")."""
        rec = Rec(off, ctype, version, length, self.version)
        if self.version in (TLS10, TLS11, TLS12):
            rec.info.append("Ignored Unknown Record")
            rec.length = -1
        else:
            rec.info.append("Continuation Data")
        rec.items.append(("garbage",))
        return rec

    def _record(self, side: int, data, p: int, rel: int, ctype: int, version: int, length: int,
                no: int, ts_ns: int) -> Rec:  # fmt: skip
        s = self.sides[side]
        title_version = self.version or version
        if (
            self.version == 0
            and _authoritative(ctype, data[p + 5] if length else -1)
            and version in VERSION_NAMES
        ):
            self.version = version
        rec = Rec(rel, ctype, version, length, title_version)
        if length > MAX_RECORD:
            rec.problem = f"record of {length} bytes, over TLS's {MAX_RECORD}"
        body = p + 5
        stop = body + length
        tls13 = self.version == TLS13
        if s.encrypted and length and (not tls13 or ctype == 23):
            self._protected(side, rec, data, body, stop, ctype, version, tls13)
        ctype = rec.inner if rec.inner is not None else ctype
        plain = rec.plain
        if ctype == 20:
            rec.info.append("Change Cipher Spec")
            rec.items.append(("ccs",))
            if not tls13:
                self._change_cipher(side, no)
        elif ctype == 21:
            if plain is not None:
                alert = plain[:2] if len(plain) == 2 else None
            else:
                alert = bytes(data[body:stop]) if length == 2 else None
            if alert is None:
                rec.info.append("Encrypted Alert")
                rec.items.append(("alert", None))
            else:
                level = ALERT_LEVELS.get(alert[0], "Unknown")
                desc = ALERT_NAMES.get(alert[1], "Unknown")
                rec.info.append(f"Alert (Level: {level}, Description: {desc})")
                rec.items.append(("alert", alert))
        elif ctype == 22:
            if plain is not None:
                self._handshake(side, rec, plain, 0, len(plain), False, plain, no)
            else:
                self._handshake(side, rec, data, body, stop, True, None, no, rel - p)
        elif ctype == 23:
            rec.info.append("Application Data")
            rec.app_name = self.app_name()
            if plain is not None:
                self._app(side, rec, plain, no, ts_ns)
        elif ctype == 24:
            rec.info.append("Heartbeat" if plain is not None else "Encrypted Heartbeat")
        return rec

    def _protected(self, side: int, rec: Rec, data, body: int, stop: int, ctype: int,
                   version: int, tls13: bool) -> None:  # fmt: skip
        """A protected record: opened when the key log has its keys (the record's fields
        then show what it holds); a record that does not open stays encrypted, and so do
        the side's later ones (wrong keys)."""
        s = self.sides[side]
        count = s.count
        s.count += 1
        if s.failed or self.keylog is None:
            return
        payload = bytes(data[body:stop])  # (copied only to be opened: records run to 16 KiB)
        if s.cipher is None:
            s.cipher = self._cipher(side, s.label)
            if s.cipher is None:
                return
            s.cipher.seq = count
        if _open(s.cipher, rec, payload, ctype, version, tls13):
            return
        if tls13 and s.label.endswith("HANDSHAKE_TRAFFIC_SECRET"):
            # The key log may have come too late for the handshake (a live capture): the
            # side may be past it, on its application secret from its first record.
            label = s.label.replace("HANDSHAKE_TRAFFIC_SECRET", "TRAFFIC_SECRET_0")
            cipher = self._cipher(side, label)
            if cipher is not None and _open(cipher, rec, payload, ctype, version, tls13):
                s.label, s.cipher, s.count = label, cipher, 1
                return
        s.cipher = None
        s.failed = True

    def _cipher(self, side: int, label: str):
        """The record cipher for LABEL's keys on SIDE, or None (not in the key log)."""
        from netlab.wire import tls_crypto as tc

        suite = tc.DECRYPT_SUITES.get(self.suite)
        if suite is None or not label:
            return None
        if label == "12":
            if suite.tls13 or self.version != TLS12:
                return None
            master = self._secret("CLIENT_RANDOM")
            if master is None:
                return None
            kb = tc.key_block12(suite, master, self.client_random, self.server_random)
            etm = self.etm and suite.aead == "cbc"
            if side == self.client:
                return tc.RecordCipher(suite, kb.client_key, kb.client_iv, kb.client_mac, etm)
            return tc.RecordCipher(suite, kb.server_key, kb.server_iv, kb.server_mac, etm)
        secret = self._secret(label)
        if secret is None or not suite.tls13:
            return None
        self.sides[side].secret = secret
        return tc.RecordCipher(suite, *tc.traffic_keys(suite, secret))

    # --- keys ---------------------------------------------------------------------------------
    def _secret(self, label: str) -> bytes | None:
        if self.keylog is None or not self.client_random:
            return None
        return self.keylog.secret(label, self.client_random)

    def _change_cipher(self, side: int, no: int) -> None:
        """TLS 1.2 ChangeCipherSpec: this side's later records are protected (with the
        key block from the master secret, when the key log has it)."""
        self._new_keys(side, "12")
        self.sides[side].ccs_frame = no

    def _new_keys(self, side: int, label: str) -> None:
        """The side protects its records with new keys from its next record on."""
        s = self.sides[side]
        s.encrypted = True
        s.cipher = None
        s.label = label
        s.count = 0

    def _key_update(self, side: int) -> None:
        """TLS 1.3 KeyUpdate: the next secret follows from the current one."""
        from netlab.wire import tls_crypto as tc

        s = self.sides[side]
        suite = tc.DECRYPT_SUITES.get(self.suite)
        known = s.cipher is not None and suite is not None and s.secret
        self._new_keys(side, "")
        if known:
            s.secret = tc.next_traffic_secret(suite, s.secret)
            s.cipher = tc.RecordCipher(suite, *tc.traffic_keys(suite, s.secret))

    # --- handshake ----------------------------------------------------------------------------
    def _handshake(self, side: int, rec: Rec, data, start: int, end: int, maybe_encrypted: bool,
                   own: bytes | None, no: int, shift: int = 0) -> None:  # fmt: skip
        """The handshake messages in data[start:end] (a record's body, or its decrypted
        content `own`), reassembled across records as tshark does. `shift` turns an
        offset in data into one relative to the call's start."""
        s = self.sides[side]
        first = True
        if s.frag is not None:
            have = len(s.frag)
            head = bytes(s.frag[:4]) + bytes(data[start : start + max(0, 4 - have)])
            subset = end - start
            total = 0
            if len(head) >= 4:
                total = 4 + int.from_bytes(head[1:4], "big")
                subset = min(subset, total - have)
                if total - 4 > MAX_MESSAGE:  # known only now: nothing more is kept for it
                    s.frag = None
                    rec.items.append(("frag", head[0], _ref(own, start, shift), end - start, False))
                    rec.problem = (f"handshake message ({handshake_name(head[0])}) claims "
                                   f"{total - 4} bytes, over the {MAX_MESSAGE} allowed")  # fmt: skip
                    return
            s.frag += data[start : start + subset]
            mtype = s.frag[0]
            if total and len(s.frag) >= total:
                whole = bytes(s.frag)
                s.frag = None
                rec.items.append(("last", mtype, _ref(own, start, shift), subset))
                self._message(side, rec, whole, 0, total, whole, True, no)
                first = False
                start += subset
            else:
                rec.items.append(("frag", mtype, _ref(own, start, shift), end - start, False))
                return
        elif self._looks_encrypted(side, data, start, end, maybe_encrypted, no):
            rec.info.append("Encrypted Handshake Message")
            rec.items.append(("encrypted", _ref(own, start, shift), end - start))
            return
        while start < end:
            avail = end - start
            total = 4 + int.from_bytes(data[start + 1 : start + 4], "big") if avail >= 4 else 0
            if total == 0 or avail < total:
                mtype = data[start]
                if first:
                    rec.info.append(f"[{handshake_name(mtype)} Fragment]")
                rec.items.append(("frag", mtype, _ref(own, start, shift), avail, first))
                if total - 4 > MAX_MESSAGE:
                    rec.problem = (f"handshake message ({handshake_name(mtype)}) claims "
                                   f"{total - 4} bytes, over the {MAX_MESSAGE} allowed")  # fmt: skip
                else:
                    s.frag = bytearray(data[start:end])
                return
            self._message(side, rec, data, start, start + total, own, first, no, shift)
            start += total
            first = False
            if rec.problem is not None:
                return  # what follows the damage is not shown (tshark stops there)

    def _looks_encrypted(self, side: int, data, start: int, end: int, maybe: bool,
                         no: int) -> bool:  # fmt: skip
        """tshark's is_encrypted_handshake_message, for a record it could not open."""
        if end - start < 16:
            return False
        if maybe:
            maybe = not any(data[start : start + 5])
            if not maybe:
                ccs = self.sides[side].ccs_frame
                maybe = ccs != 0 and no > ccs
        if not maybe:
            mtype = data[start]
            maybe = mtype not in HANDSHAKE_NAMES or mtype == 67
            if not maybe:
                maybe = int.from_bytes(data[start + 1 : start + 4], "big") >= 0x10000
        return maybe

    def _message(self, side: int, rec: Rec, data, start: int, end: int, own: bytes | None,
                 first: bool, no: int, shift: int = 0) -> None:  # fmt: skip
        """One whole handshake message: the state it changes, and what it shows."""
        mtype = data[start]
        name = HANDSHAKE_NAMES.get(mtype)
        if name is None and not first:
            return  # tshark shows an unknown type only as a record's first message
        body = bytes(data[start + 4 : end])
        msg = Msg(mtype, own, start if own is not None else start + shift, end if own is not None
                  else end + shift, self.version)  # fmt: skip
        if mtype in (1, 2):
            try:
                msg.hello = wire.parse_hello(body, server=mtype == 2)
            except (wire.TlsError, ValueError) as err:
                msg.problem = str(err)
            hello = msg.hello
            if mtype == 1:
                self.client = side
                if hello is not None:
                    self.client_random = hello.random
                    self.etm_offered = hello.ext(22) is not None
            elif hello is not None:
                self._server_hello(side, hello)
                msg.version = self.version
                if hello.is_hrr:
                    name = "Hello Retry Request"
        elif mtype == 16:
            msg.kx = _kx(self.suite)
        elif mtype == 13:
            try:
                for at, size in _dnames(body, self.version == TLS13):
                    _rows, protocols, _summary, error = x509.name_rows(body, at, at + size, 0)
                    msg.x509 += protocols
                    if error is not None and msg.problem is None:
                        msg.problem = error
            except (wire.TlsError, ValueError) as err:
                msg.problem = str(err)
        elif mtype == 8 and self.version == TLS13:
            alpn = _alpn_in(body)
            if alpn is not None:
                self._set_alpn(alpn)
        elif mtype == 11:
            try:
                certs = wire.parse_certificate(body, tls13=self.version == TLS13)
            except (wire.TlsError, ValueError) as err:
                msg.problem = str(err)
                certs = []
            for der in certs:
                _rows, protocols, _subject, error = x509.certificate_rows(der, 0, len(der), 0)
                msg.x509 += protocols
                if error is not None and msg.problem is None:
                    msg.problem = error
        elif mtype == 20 and self.version == TLS13:
            server = side != self.client
            self._new_keys(side, "SERVER_TRAFFIC_SECRET_0" if server else "CLIENT_TRAFFIC_SECRET_0")
        elif mtype == 24 and self.version == TLS13:
            self._key_update(side)
        if msg.problem is not None and rec.problem is None:
            rec.problem = f"{handshake_name(mtype)}: {msg.problem}"
        rec.info.append(name or "Encrypted Handshake Message")
        rec.items.append(("hs", msg))

    def _server_hello(self, side: int, hello: wire.Hello) -> None:
        if self.client < 0:
            self.client = 1 - side
        version = hello.version
        if version in VERSION_NAMES:
            self.version = version
        self.suite = hello.suites[0] if hello.suites else 0
        if hello.is_hrr:
            return
        self.server_random = hello.random
        self.etm = self.etm_offered and hello.ext(22) is not None
        if self.version != TLS13:
            alpn = _alpn_in(_extensions_block(hello))
            if alpn is not None:
                self._set_alpn(alpn)
        else:
            self._new_keys(side, "SERVER_HANDSHAKE_TRAFFIC_SECRET")
            self._new_keys(1 - side, "CLIENT_HANDSHAKE_TRAFFIC_SECRET")

    def _set_alpn(self, alpn: str) -> None:
        self.alpn = alpn

    def app_name(self) -> str | None:
        """tls.app_data_proto: the protocol ALPN named, else the port's (443: HTTP)."""
        if self.alpn is not None and self.alpn in ALPN_APPS:
            return ALPN_APPS[self.alpn]
        return HTTP_NAME if self.port_app else None

    # --- application data -------------------------------------------------------------------
    def _app(self, side: int, rec: Rec, plain: bytes, no: int, ts_ns: int) -> None:
        """Decrypted application data: to the HTTP session, reassembled across records as
        tshark's TLS reassembles it. rec.app gets the inner calls, each [(decoder,
        buffer, start, stop)], or "segment" (nothing whole: "[TLS segment …]"), or
        "data" (no protocol known)."""
        if not plain:
            return
        s = self.sides[side]
        app = self.app
        if app is None and s.app is None:
            known = self.alpn in ("h2", "http/1.1", "http/1.0") or self.port_app
            if not known and http_heuristic(plain, 0, len(plain)) is None:
                rec.app = [("data", plain)]
                return
            app = self.app = HttpSession(HEURISTIC_PROTOCOL, False)
            app.scheme = "https"
            if self.alpn == "h2" and self.client >= 0:
                app._to_h2(1 - self.client, client=False)  # the server may speak first
        if app is None:
            rec.app = [("data", plain)]
            return
        pending = s.app
        calls: list = []
        if pending:
            old = len(pending)
            pending += plain
            found, used, _info = app.split(side, pending, 0, len(pending), False, no, ts_ns, old)
            if found:
                # the PDU begun earlier, reassembled ("Reassembled TLS"), is one call; what
                # follows it in this record another (tshark's "another PDU follows")
                whole = bytes(pending)
                # (TLS sets a fence after it: what follows cannot clear its info)
                calls.append(("pdus", [(found[0][0], whole, found[0][1], found[0][2])], True))
                calls.append(("segdata", plain))
                rest = [(fn, whole, a, b) for fn, a, b in found[1:]]
                if rest:
                    calls.append(("pdus", rest, False))
                if used < len(pending):
                    calls.append(("segdata", bytes(pending[used:])))
            else:
                calls.append(("segment",))
                calls.append(("segdata", plain))
            del pending[:used]
            if not pending:
                s.app = None
        else:
            found, used, _info = app.split(side, plain, 0, len(plain), False, no, ts_ns, 0)
            if found:
                calls.append(("pdus", [(fn, plain, a, b) for fn, a, b in found], False))
            else:
                calls.append(("segment",))
            if used < len(plain):
                s.app = bytearray(plain[used:])
                calls.append(("segdata", plain[used:]))
        if s.app is not None and len(s.app) > MAX_APP_PENDING:
            s.app = None
            app.reset(side)
        rec.app = calls


def _printable(data, p: int) -> bool:
    return all(0x20 <= b < 0x7F for b in data[p : p + 4])


def _open(cipher, rec: Rec, payload: bytes, ctype: int, version: int, tls13: bool) -> bool:
    """Open a record into rec.plain (and rec.inner for TLS 1.3); False when it does not
    open (wrong keys, or bytes that are not the record they claim)."""
    try:
        if tls13:
            rec.inner, rec.plain = cipher.open13(payload, version)
        else:
            rec.plain = cipher.open12(ctype, payload, version)
    except Exception:
        return False
    return True


def _authoritative(ctype: int, first: int) -> bool:
    """tshark's ssl_is_authoritative_version_message: a record that may set the
    session's version (not a ClientHello, not an alert)."""
    if ctype == 22:
        return first in HANDSHAKE_NAMES and first != 1
    return ctype in (20, 23, 24)


def _ref(own: bytes | None, start: int, shift: int) -> int:
    """An offset for the fields: in the record's own (decrypted) bytes, or relative to
    the call's start."""
    return start if own is not None else start + shift


def _extensions_block(hello: wire.Hello) -> bytes:
    """The hello's extensions as one block (for _alpn_in)."""
    out = b"".join(
        t.to_bytes(2, "big") + len(d).to_bytes(2, "big") + d for t, d in hello.extensions
    )
    return len(out).to_bytes(2, "big") + out


def _alpn_in(block: bytes) -> str | None:
    """The first ALPN name in an extensions block (2-byte length, then extensions)."""
    try:
        r = wire.Reader(block, "extensions")
        exts = wire.Reader(r.vec(2), "extensions")
        while exts.left:
            etype, data = exts.u16(), exts.vec(2)
            if etype == 16:
                names = wire.Reader(wire.Reader(data, "alpn").vec(2), "alpn")
                return names.vec(1).decode("ascii", "replace") if names.left else None
    except wire.TlsError:
        return None
    return None


def key_log(d) -> Any:
    """The Dissector's key log (made once, on first use), or None. `Dissector(keylog=…)`
    is a file's path, or a wire.tls_crypto.KeyLog already made (a command's own)."""
    path = getattr(d, "keylog", None)
    if path is None:
        return None
    if not isinstance(path, str):
        return path
    keys = getattr(d, "tls_keys", None)
    if keys is None:
        from netlab.wire.tls_crypto import KeyLog

        keys = d.tls_keys = KeyLog(path)
    return keys


# --- the heuristic and the registration -----------------------------------------------------------
def tls_heuristic(buf: bytes, off: int, end: int):
    """tshark's is_sslv3_or_tls: a handshake or application-data record header (SSL 3.0
    to TLS 1.2 record versions) with a length of 1 to 2^14 + 2047, at the segment's
    start."""
    if end - off < 5:
        return None
    ctype = buf[off]
    if ctype != 22 and ctype != 23:
        return None
    if buf[off + 1] != 3 or buf[off + 2] > 3:
        return None
    length = buf[off + 3] << 8 | buf[off + 4]
    if length == 0 or length >= MAX_RECORD:
        return None
    return HEURISTIC_PROTOCOL_TLS


def tls_pdu_length(data: bytes) -> None:
    """StreamProtocol.pdu_length: unused (the session cuts the records)."""
    return None


def _decode_plain(d, pkt: Packet, buf: bytes, off: int, end: int) -> None:
    """HTTP in clear where TLS was expected (a server's error page on port 443): the
    segment's messages, on their own."""
    session = HttpSession(HEURISTIC_PROTOCOL, False)
    out, _used, _info = session.split(0, buf, off, end, False, getattr(pkt, "no", 0),
                                      getattr(pkt, "ts_ns", 0), 0)  # fmt: skip
    for fn, start, stop in out:
        fn(d, pkt, buf, start, stop)


def decode_tls(d, pkt: Packet, buf: bytes, off: int, end: int) -> None:
    """One segment on its own (the first fragment of an IP datagram that cannot be
    reassembled): its whole records, in a session of their own, without keys."""
    session = TlsSession(PORT_PROTOCOL_TLS)
    pdus, _used, info = session.split(0, buf, off, end, False, pkt.no, pkt.ts_ns, 0)
    for fn, start, stop in pdus:
        fn(d, pkt, buf, start, stop)
    if info is not None:
        pkt.protocol, pkt.info = "TCP", "[TCP segment of a reassembled PDU]"


PORT_PROTOCOL_TLS = registry.StreamProtocol(decode_tls, tls_pdu_length,
                                            lambda proto: TlsSession(proto))  # fmt: skip
HEURISTIC_PROTOCOL_TLS = PORT_PROTOCOL_TLS
HTTPS_PROTOCOL_TLS = registry.StreamProtocol(decode_tls, tls_pdu_length,
                                             lambda proto: TlsSession(proto, True))  # fmt: skip


# --- presenting a call ----------------------------------------------------------------------------
def decode_call(call: Call, d, pkt: Packet, buf: bytes, off: int, end: int) -> None:
    """Present one call of TLS (the session binds `call`): the layer, the info column as
    tshark composes it (records appended with ", "; HTTP replacing what came after the
    last fence, HTTP/2 appending), and the decrypted data's layers. The one-line view's
    stand-in for a Packet (tcp._Columns) gets the columns alone."""
    real = pkt.__class__ is Packet
    first = call.index == 0
    info = "" if first else pkt.info
    fence = len(info)
    protocol = call.protocol if first else pkt.protocol
    layer = None
    if real:
        layer = Layer("tls", "Transport Layer Security", off, end, call, _rows)
        pkt.layers.append(layer)
        for name in call.x509:
            pkt.layers.append(Layer(name, "", end, end, None, None))
    problem = None
    for rec in call.records:
        for part in rec.info:
            info = f"{info}, {part}" if info else part
        if rec.problem is not None:
            problem = rec.problem
            break  # (tshark's dissection stops at the damage)
        if rec.app is None:
            continue
        for entry in rec.app:
            kind = entry[0]
            if kind == "data":
                if real:
                    data = entry[1]
                    pkt.layers.append(Layer(CALL_MARK, "", end, end, None, None))
                    pkt.layers.append(Layer("data", f"Data ({len(data)} bytes)", 0, len(data),
                                            None, _data_rows))  # fmt: skip
                    pkt.layers[-1].data = data
                continue
            if kind == "segment":
                info = info[:fence] + TLS_SEGMENT
                if first:
                    protocol = version_name(call_version(rec))
                continue
            if kind == "segdata":
                continue
            pdus = entry[1]
            pkt.protocol, saved, pkt.info = "", info[:fence], ""
            if real:
                pkt.layers.append(Layer(CALL_MARK, "", end, end, None, None))
            for fn, data, start, stop in pdus:
                if real:
                    d.run(pkt, fn, data, start, stop)
                else:
                    try:
                        fn(d, pkt, data, start, stop)
                    except Exception:
                        pkt.mark_malformed(None, "decoder error")
                        break
            text = pkt.info
            if pkt.protocol.startswith("HTTP2"):
                # HTTP/2 clears the column after the fence at each call, then appends
                # its frames with ", "; it sets no fence of its own
                info = f"{saved}, {text}" if saved and text else saved + text
            else:
                info = saved + text  # HTTP replaces what follows the fence, then sets one
                fence = len(info)
            if entry[2]:
                fence = len(info)
            if first and pkt.protocol:
                protocol = pkt.protocol
    pkt.info = info
    pkt.protocol = protocol
    if problem is not None:
        pkt.mark_malformed(layer, f"tls: {problem}")
        if real:
            pkt.info += " [Malformed Packet]"


def call_version(rec: Rec) -> int:
    return rec.title_version


def _data_rows(layer: Layer, buf: bytes) -> list:
    data = bytes(buf[layer.off : layer.end])
    return [(0, "data.data", data, f"Data: {data[:32].hex()}{'…' if len(data) > 32 else ''}",
             layer.off, len(data)), (0, "data.len", len(data), f"[Length: {len(data)}]", -1, 0)]  # fmt: skip


# --- fields ---------------------------------------------------------------------------------------
def _generated(name: str, value: str) -> str:
    """A generated item's label, "[Name: value]", cut as tshark cuts labels."""
    label = f"[{name}: {value}"
    if len(label.encode()) > LABEL_MAX:
        label = _cut(f"[{name} [truncated]: {value}")
    return f"{label}]"


def _cut(label: str) -> str:
    """A label cut to tshark's LABEL_MAX bytes."""
    return label.encode()[:LABEL_MAX].decode("utf-8", "ignore")


def _hex(data: bytes) -> str:
    text = data.hex()
    return text if len(text) <= 72 else text[:72] + "…"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def _codes(data: bytes) -> list[int]:
    """A vector's 16-bit code points (cipher suites, groups, signature algorithms)."""
    return [data[i] << 8 | data[i + 1] for i in range(0, len(data) - 1, 2)]


def _length(
    rows: list, r: wire.Reader, p: int, d: int, size: int, name: str, label: str
) -> tuple[bytes, int]:
    """A vector with a `size`-byte length, at p + r.pos: read it, add its length's row;
    (the vector, where its bytes start)."""
    at = p + r.pos
    value = r.vec(size)
    rows.append((d, name, len(value), f"{label}: {len(value)}", at, size))
    return value, at + size


def _opaque(
    rows: list, r: wire.Reader, p: int, d: int, size: int, len_name: str, len_label: str,
    name: str, label: str, text=_hex,
) -> bytes:  # fmt: skip
    """An opaque vector (`_length`), then its value's row, the bytes as `text` shows them."""
    value, at = _length(rows, r, p, d, size, len_name, len_label)
    rows.append((d, name, value, f"{label}: {text(value)}", at, len(value)))
    return value


class _List(NamedTuple):
    """A vector of code points as tshark shows it: the length, a heading that counts them
    (when there is one), then a row for each, named `item` and shown by `text` (None:
    a signature algorithm's rows)."""

    size: int  # bytes of the length
    width: int  # bytes of each code point
    length: tuple[str, str]  # the length's field and label
    heading: tuple[str, str, str] | None  # field, label, the word counted ("": the number)
    item: str
    text: Any


def _list_rows(rows: list, r: wire.Reader, p: int, d: int, spec: _List) -> None:
    data, at = _length(rows, r, p, d, spec.size, *spec.length)
    codes = data if spec.width == 1 else _codes(data)
    depth = d
    if spec.heading is not None:
        name, label, word = spec.heading
        count = _plural(len(codes), word) if word else len(codes)
        rows.append((d, name, "", f"{label} ({count})", at, len(data)))
        depth = d + 1
    width, item, text = spec.width, spec.item, spec.text
    for i, code in enumerate(codes):
        if text is None:
            _sig_alg_rows(rows, code, at + width * i, depth)
        else:
            rows.append((depth, item, code, text(code), at + width * i, width))


_SUITES = _List(2, 2, ("tls.handshake.cipher_suites_length", "Cipher Suites Length"),
                ("tls.handshake.ciphersuites", "Cipher Suites", "suite"),
                "tls.handshake.ciphersuite", lambda c: f"Cipher Suite: {suite_text(c)}")  # fmt: skip
_COMP_METHODS = _List(1, 1, ("tls.handshake.comp_methods_length", "Compression Methods Length"),
                      ("tls.handshake.comp_methods", "Compression Methods", "method"),
                      "tls.handshake.comp_method",
                      lambda m: f"Compression Method: {'null' if m == 0 else 'Unknown'} ({m})")  # fmt: skip
_GROUPS = _List(2, 2, ("tls.handshake.extensions_supported_groups_length",
                       "Supported Groups List Length"),
                ("tls.handshake.extensions_supported_groups", "Supported Groups", "group"),
                "tls.handshake.extensions_supported_group",
                lambda c: f"Supported Group: {_group_name(c)} (0x{c:04x})")  # fmt: skip
_POINT_FORMATS = _List(1, 1, ("tls.handshake.extensions_ec_point_formats_length",
                              "EC point formats Length"),
                       ("tls.handshake.extensions_ec_point_formats",
                        "Elliptic curves point formats", ""),
                       "tls.handshake.extensions_ec_point_format",
                       lambda f: f"EC point format: {POINT_FORMATS.get(f, 'Unknown')} ({f})")  # fmt: skip
_SIG_ALGS = _List(2, 2, ("tls.handshake.sig_hash_alg_len", "Signature Hash Algorithms Length"),
                  ("tls.handshake.sig_hash_algs", "Signature Hash Algorithms", "algorithm"),
                  "tls.handshake.sig_hash_alg", None)  # fmt: skip
_VERSIONS = _List(1, 2, ("tls.handshake.extensions.supported_versions_len",
                         "Supported Versions length"), None,
                  "tls.handshake.extensions.supported_version",
                  lambda v: f"Supported Version: {_supported_version_text(v)}")  # fmt: skip
_PSK_MODES = _List(1, 1, ("tls.extension.psk_ke_modes_length", "PSK Key Exchange Modes Length"),
                   None, "tls.extension.psk_ke_mode",
                   lambda m: f"PSK Key Exchange Mode: {PSK_MODES.get(m, 'Unknown')} ({m})")  # fmt: skip
_CERT_TYPES = _List(1, 1, ("tls.handshake.cert_types_count", "Certificate types count"),
                    ("tls.handshake.cert_types", "Certificate types", "type"),
                    "tls.handshake.cert_type",
                    lambda k: f"Certificate type: {CERT_TYPES.get(k, 'Unknown')} ({k})")  # fmt: skip


def _time_text(seconds: int) -> str:
    when = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return f"{when:%b} {when.day:2d}, {when:%Y %H:%M:%S}.000000000 UTC"


def _rows(layer: Layer, buf: bytes) -> list:
    call: Call = layer.hdr
    base = layer.off
    rows: list = []
    for rec in call.records:
        _record_rows(rows, rec, buf, base)
    return rows


def _record_rows(rows: list, rec: Rec, buf: bytes, base: int) -> None:
    o = base + rec.off
    ver = version_name(rec.title_version)
    ctype = rec.inner if rec.inner is not None else rec.ctype
    if rec.items and rec.items[0][0] == "garbage":
        if rec.length < 0:  # tshark's expert note (a "Continuation Data" record shows nothing)
            rows += [(0, "", "", "Ignored Unknown Record", o, 0),
                     (1, "", "", "[Expert Info (Warning/Protocol): Ignored Unknown Record]", o, 0),
                     (2, "", "", "[Ignored Unknown Record]", o, 0),
                     (2, "", "", "[Severity level: Warning]", o, 0),
                     (2, "", "", "[Group: Protocol]", o, 0)]  # fmt: skip
        return
    rows.append(
        (0, "tls.record", "", f"{ver} Record Layer: {_record_title(rec)}", o, 5 + rec.length)
    )
    opaque = rec.title_version == TLS13 and rec.ctype == 23
    cname = CONTENT_TYPES.get(rec.ctype, "Unknown")
    if opaque:
        rows.append(
            (1, "tls.record.opaque_type", rec.ctype, f"Opaque Type: {cname} ({rec.ctype})", o, 1)
        )
    else:
        rows.append(
            (1, "tls.record.content_type", rec.ctype, f"Content Type: {cname} ({rec.ctype})", o, 1)
        )
    rows.append(
        (1, "tls.record.version", rec.version, f"Version: {_version_text(rec.version)}", o + 1, 2)
    )
    rows.append((1, "tls.record.length", rec.length, f"Length: {rec.length}", o + 3, 2))
    if rec.inner is not None:
        iname = CONTENT_TYPES.get(rec.inner, "Unknown")
        rows.append(
            (
                1,
                "tls.record.content_type",
                rec.inner,
                f"[Content Type: {iname} ({rec.inner})]",
                o,
                1,
            )
        )
    body = o + 5
    for item in rec.items:
        kind = item[0]
        if kind == "ccs":
            rows.append((1, "tls.change_cipher_spec", "", "Change Cipher Spec Message", body, 1))
        elif kind == "alert":
            alert = item[1]
            if alert is None:
                rows.append(
                    (1, "tls.alert_message", "", "Alert Message: Encrypted Alert", body, rec.length)
                )
            else:
                level, desc = alert[0], alert[1]
                rows.append((1, "tls.alert_message", "", "Alert Message", body, 2))
                rows.append((2, "tls.alert_message.level", level,
                             f"Level: {ALERT_LEVELS.get(level, 'Unknown')} ({level})", body, 1))  # fmt: skip
                rows.append((2, "tls.alert_message.desc", desc,
                             f"Description: {ALERT_NAMES.get(desc, 'Unknown')} ({desc})", body + 1, 1))  # fmt: skip
        elif kind == "encrypted":
            rows.append((1, "tls.handshake", "", "Handshake Protocol: Encrypted Handshake Message",
                         body, rec.length))  # fmt: skip
        elif kind == "frag":
            _mtype, mtype, _at, size, _first = item[0], item[1], item[2], item[3], item[4]
            rows.append((1, "tls.handshake", "", f"Handshake Protocol: {handshake_name(mtype)} (fragment)",
                         body, size))  # fmt: skip
        elif kind == "last":
            mtype, size = item[1], item[3]
            rows.append((1, "tls.handshake", "", f"Handshake Protocol: {handshake_name(mtype)} (last fragment)",
                         body, size))  # fmt: skip
        elif kind == "hs":
            msg: Msg = item[1]
            mbuf = msg.buf if msg.buf is not None else buf
            if msg.buf is not None:
                _message_rows(rows, msg, mbuf, msg.start, msg.end)
            else:
                _message_rows(rows, msg, mbuf, base + msg.start, base + msg.end)
    if ctype == 23 and not any(item[0] == "garbage" for item in rec.items):
        payload = bytes(buf[body : body + rec.length])
        rows.append((1, "tls.app_data", payload, f"Encrypted Application Data: {_hex(payload)}",
                     body, rec.length))  # fmt: skip
        if rec.app_name is not None:
            rows.append((1, "tls.app_data_proto", rec.app_name,
                         f"[Application Data Protocol: {rec.app_name}]", o, 0))  # fmt: skip
    for entry in rec.app or ():
        if entry[0] == "segdata":
            data = entry[1]
            rows.append(
                (0, "tls.segment.data", data, f"TLS segment data ({len(data)} bytes)", -1, 0)
            )


def _record_title(rec: Rec) -> str:
    ctype = rec.inner if rec.inner is not None else rec.ctype
    if ctype == 20:
        return "Change Cipher Spec Protocol: Change Cipher Spec"
    if ctype == 21:
        alert = rec.items[0][1] if rec.items and rec.items[0][0] == "alert" else None
        if alert is None:
            return "Encrypted Alert"
        return (f"Alert (Level: {ALERT_LEVELS.get(alert[0], 'Unknown')}, "
                f"Description: {ALERT_NAMES.get(alert[1], 'Unknown')})")  # fmt: skip
    if ctype == 23:
        return f"Application Data Protocol: {rec.app_name or 'Application Data'}"
    if ctype == 22:
        shown = [i for i in rec.items if i[0] in ("hs", "frag", "encrypted")]
        if len(shown) > 1:
            return "Handshake Protocol: Multiple Handshake Messages"
        if not shown:
            return "Handshake Protocol"
        item = shown[0]
        if item[0] == "encrypted":
            return "Handshake Protocol: Encrypted Handshake Message"
        if item[0] == "frag":
            return f"Handshake Protocol: {handshake_name(item[1])} (fragment)"
        msg = item[1]
        if msg.mtype == 2 and msg.hello is not None and msg.hello.is_hrr:
            return "Handshake Protocol: Hello Retry Request"
        return f"Handshake Protocol: {handshake_name(msg.mtype)}"
    return f"{CONTENT_TYPES.get(ctype, 'Unknown')} Protocol"


def _message_rows(rows: list, msg: Msg, buf: bytes, o: int, end: int) -> None:
    mtype = msg.mtype
    length = end - o - 4
    name = handshake_name(mtype)
    if mtype == 2 and msg.hello is not None and msg.hello.is_hrr:
        name = "Hello Retry Request"
    rows.append((1, "tls.handshake", "", f"Handshake Protocol: {name}", o, end - o))
    if mtype not in HANDSHAKE_NAMES:
        return
    rows.append(
        (2, "tls.handshake.type", mtype, f"Handshake Type: {handshake_name(mtype)} ({mtype})", o, 1)
    )
    rows.append((2, "tls.handshake.length", length, f"Length: {length}", o + 1, 3))
    r = wire.Reader(bytes(buf[o + 4 : end]), handshake_name(mtype))
    p = o + 4
    try:
        if mtype == 1:
            _hello_rows(rows, r, p, msg, server=False)
        elif mtype == 2:
            _hello_rows(rows, r, p, msg, server=True)
        elif mtype == 4:
            _ticket_rows(rows, r, p, msg.version == TLS13)
        elif mtype == 8:
            _extension_rows(rows, r, p, 2, msg, "ee")
        elif mtype == 11:
            _certificate_rows(rows, r, p, msg.version == TLS13, buf)
        elif mtype == 12:
            _server_key_exchange_rows(rows, r, p, msg)
        elif mtype == 13:
            _certificate_request_rows(rows, r, p, msg.version == TLS13)
        elif mtype == 15:
            _signature_rows(rows, r, p, 2, "tls.handshake.client_cert_vrfy.sig")
        elif mtype == 16:
            _client_key_exchange_rows(rows, r, p, msg)
        elif mtype == 20:
            rows.append((2, "tls.handshake.verify_data", "", "Verify Data", p, length))
        elif mtype == 24 and length:
            kind = r.u8()
            rows.append((1, "tls.handshake.key_update.request_update", kind,
                         f"Key Update Request: {'update_requested' if kind else 'update_not_requested'} ({kind})",
                         p, 1))  # fmt: skip
    except wire.TlsError as err:
        rows.append((2, "_ws.malformed", str(err), f"[Malformed: {err}]", p + r.pos, 0))


def _hello_rows(rows: list, r: wire.Reader, p: int, msg: Msg, server: bool) -> None:
    d = 2
    version = r.u16()
    rows.append((d, "tls.handshake.version", version, f"Version: {_version_text(version)}", p, 2))
    at = p + r.pos
    random = r.take(32)
    magic = " (HelloRetryRequest magic)" if server and random == wire.HRR_RANDOM else ""
    rows.append((d, "tls.handshake.random", random, f"Random: {random.hex()}{magic}", at, 32))
    if msg.version != TLS13 and not (server and msg.version == TLS13):
        seconds = int.from_bytes(random[:4], "big")
        rows.append((d + 1, "tls.handshake.random_time", _time_text(seconds),
                     f"GMT Unix Time: {_time_text(seconds)}", at, 4))  # fmt: skip
        rows.append((d + 1, "tls.handshake.random_bytes", random[4:],
                     f"Random Bytes: {random[4:].hex()}", at + 4, 28))  # fmt: skip
    sid, at = _length(rows, r, p, d, 1, "tls.handshake.session_id_length", "Session ID Length")
    if sid:
        rows.append((d, "tls.handshake.session_id", sid, f"Session ID: {sid.hex()}", at, len(sid)))
    at = p + r.pos
    if server:
        suite = r.u16()
        rows.append(
            (d, "tls.handshake.ciphersuite", suite, f"Cipher Suite: {suite_text(suite)}", at, 2)
        )
        method = r.u8()
        rows.append((d, _COMP_METHODS.item, method, _COMP_METHODS.text(method), at + 2, 1))
    else:
        _list_rows(rows, r, p, d, _SUITES)
        _list_rows(rows, r, p, d, _COMP_METHODS)
    if r.left:
        _extension_rows(rows, r, p, d, msg, "sh" if server else "ch")
    hello = msg.hello
    if hello is None:
        return
    if server:
        full = wire.ja3s_string(hello)
        rows.append(
            (d, "tls.handshake.ja3s_full", full, _generated("JA3S Fullstring", full), -1, 0)
        )
        rows.append(
            (d, "tls.handshake.ja3s", wire.md5_hex(full), f"[JA3S: {wire.md5_hex(full)}]", -1, 0)
        )
    else:
        full = wire.ja3_string(hello)
        rows.append((d, "tls.handshake.ja3_full", full, _generated("JA3 Fullstring", full), -1, 0))
        rows.append(
            (d, "tls.handshake.ja3", wire.md5_hex(full), f"[JA3: {wire.md5_hex(full)}]", -1, 0)
        )


def _extension_rows(rows: list, r: wire.Reader, p: int, d: int, msg: Msg, where: str) -> None:
    block, base = _length(rows, r, p, d, 2, "tls.handshake.extensions_length", "Extensions Length")
    e = wire.Reader(block, "extensions")
    while e.left:
        start = base + e.pos
        etype = e.u16()
        data = e.vec(2)
        name = (
            "Reserved (GREASE)" if etype in wire.GREASE else EXTENSION_NAMES.get(etype, "Unknown")
        )
        rows.append((d, "", "", f"Extension: {name} (len={len(data)})", start, 4 + len(data)))
        rows.append(
            (d + 1, "tls.handshake.extension.type", etype, f"Type: {name} ({etype})", start, 2)
        )
        rows.append(
            (d + 1, "tls.handshake.extension.len", len(data), f"Length: {len(data)}", start + 2, 2)
        )
        try:
            _one_extension(rows, etype, data, start + 4, d + 1, where)
        except wire.TlsError as err:
            rows.append(
                (d + 1, "_ws.malformed", str(err), f"[Malformed: {err}]", start, 4 + len(data))
            )


def _one_extension(rows: list, etype: int, data: bytes, o: int, d: int, where: str) -> None:
    r = wire.Reader(data, EXTENSION_NAMES.get(etype, "extension"))
    if etype == 0:
        if not data:
            return
        rows.append((d, "", "", "Server Name Indication extension", o, len(data)))
        size = r.u16()
        rows.append((d + 1, "tls.handshake.extensions_server_name_list_len", size,
                     f"Server Name list length: {size}", o, 2))  # fmt: skip
        while r.left:
            at = o + r.pos
            kind = r.u8()
            name = r.vec(2)
            rows.append((d + 1, "tls.handshake.extensions_server_name_type", kind,
                         f"Server Name Type: {'host_name' if kind == 0 else 'Unknown'} ({kind})", at, 1))  # fmt: skip
            rows.append((d + 1, "tls.handshake.extensions_server_name_len", len(name),
                         f"Server Name length: {len(name)}", at + 1, 2))  # fmt: skip
            text = name.decode("latin-1")
            rows.append((d + 1, "tls.handshake.extensions_server_name", text, f"Server Name: {text}",
                         at + 3, len(name)))  # fmt: skip
    elif etype == 10:
        _list_rows(rows, r, o, d, _GROUPS)
    elif etype == 11:
        _list_rows(rows, r, o, d, _POINT_FORMATS)
    elif etype in (13, 50):
        _list_rows(rows, r, o, d, _SIG_ALGS)
    elif etype == 16:
        size = r.u16()
        rows.append(
            (d, "tls.handshake.extensions_alpn_len", size, f"ALPN Extension Length: {size}", o, 2)
        )
        rows.append((d, "tls.handshake.extensions_alpn_list", "", "ALPN Protocol", o + 2, size))
        while r.left:
            name, at = _length(rows, r, o, d + 1, 1, "tls.handshake.extensions_alpn_str_len",
                               "ALPN string length")  # fmt: skip
            text = name.decode("latin-1")
            rows.append((d + 1, "tls.handshake.extensions_alpn_str", text, f"ALPN Next Protocol: {text}",
                         at, len(name)))  # fmt: skip
    elif etype == 21:
        rows.append(
            (
                d,
                "tls.handshake.extensions_padding_data",
                data,
                f"Padding Data: {_hex(data)}",
                o,
                len(data),
            )
        )
    elif etype == 28:
        limit = r.u16()
        rows.append(
            (
                d,
                "tls.record_size_limit",
                limit,
                f"Record Size Limit: {limit}",
                o,
                2,
            )
        )
    elif etype == 43:
        if where == "ch":
            _list_rows(rows, r, o, d, _VERSIONS)
        else:
            v = r.u16()
            rows.append((d, _VERSIONS.item, v, _VERSIONS.text(v), o, 2))
    elif etype == 45:
        _list_rows(rows, r, o, d, _PSK_MODES)
    elif etype == 51:
        rows.append((d, "", "", "Key Share extension", o, len(data)))
        if where == "ch":
            block, base = _length(rows, r, o, d + 1, 2,
                                  "tls.handshake.extensions_key_share_client_length",
                                  "Client Key Share Length")  # fmt: skip
            shares = wire.Reader(block, "key_share")
            while shares.left:
                at = base + shares.pos
                group = shares.u16()
                key = shares.vec(2)
                _key_share_rows(rows, group, key, at, d + 1)
        elif len(data) == 2:
            group = r.u16()
            rows.append((d + 1, "tls.handshake.extensions_key_share_selected_group", group,
                         f"Selected Group: {_group_name(group)} ({group})", o, 2))  # fmt: skip
        else:
            group = r.u16()
            key = r.vec(2)
            _key_share_rows(rows, group, key, o, d + 1)
    elif etype == 47:
        _dname_rows(rows, r, o, d)
    elif etype == 57:
        _quic_parameter_rows(rows, data, o, d)
    elif etype == 65281:
        rows.append((d, "", "", "Renegotiation Info extension", o, len(data)))
        info, at = _length(rows, r, o, d + 1, 1, "tls.handshake.extensions_reneg_info_len",
                           "Renegotiation info extension length")  # fmt: skip
        if info:
            rows.append((d + 1, "tls.handshake.extensions_reneg_info", info,
                         f"Renegotiation info: {info.hex()}", at, len(info)))  # fmt: skip
    elif etype not in EMPTY_EXTENSIONS:
        rows.append((d, "tls.handshake.extension.data", data, f"Data ({len(data)} byte{'s' * (len(data) != 1)})",
                     o, len(data)))  # fmt: skip


# QUIC transport parameters (RFC 9000 §18.2) with a field of their own in tshark 4.0
QUIC_PARAMETER_FIELDS = {
    0x00: "tls.quic.parameter.original_destination_connection_id",
    0x01: "tls.quic.parameter.max_idle_timeout",
    0x02: "tls.quic.parameter.stateless_reset_token",
    0x03: "tls.quic.parameter.max_udp_payload_size",
    0x04: "tls.quic.parameter.initial_max_data",
    0x05: "tls.quic.parameter.initial_max_stream_data_bidi_local",
    0x06: "tls.quic.parameter.initial_max_stream_data_bidi_remote",
    0x07: "tls.quic.parameter.initial_max_stream_data_uni",
    0x08: "tls.quic.parameter.initial_max_streams_bidi",
    0x09: "tls.quic.parameter.initial_max_streams_uni",
    0x0A: "tls.quic.parameter.ack_delay_exponent",
    0x0B: "tls.quic.parameter.max_ack_delay",
    0x0E: "tls.quic.parameter.active_connection_id_limit",
    0x0F: "tls.quic.parameter.initial_source_connection_id",
    0x10: "tls.quic.parameter.retry_source_connection_id",
    0x20: "tls.quic.parameter.max_datagram_frame_size",
}
QUIC_PARAMETER_NAMES = {**quic_wire.TRANSPORT_PARAMETERS, 0x2AB2: "grease_quic_bit"}


def _quic_parameter_rows(rows: list, data: bytes, o: int, d: int) -> None:
    """quic_transport_parameters (RFC 9001 §8.2): id, length and value of each, and the
    value as a field of its own for the parameters tshark names."""
    try:
        params = quic_wire.parse_transport_parameters(data)
    except quic_wire.QuicError as err:
        raise wire.TlsError(f"quic_transport_parameters: {err}") from None
    pos = 0
    for pid, at, size, value in params:
        name = QUIC_PARAMETER_NAMES.get(pid)
        label = name or f"Unknown 0x{pid:02x}"
        shown = f" {value}" if isinstance(value, int) else ""
        rows.append((d, "tls.quic.parameter", "", f"Parameter: {label} (len={size}){shown}",
                     o + pos, at + size - pos))  # fmt: skip
        rows.append((d + 1, "tls.quic.parameter.type", pid,
                     f"Type: {name or 'Unknown'} (0x{pid:02x})", o + pos, at - pos))  # fmt: skip
        rows.append((d + 1, "tls.quic.parameter.length", size, f"Length: {size}", o + pos, 0))
        raw = data[at : at + size]
        rows.append((d + 1, "tls.quic.parameter.value", raw,
                     f"Value: {raw.hex() or '<MISSING>'}", o + at, size))  # fmt: skip
        field = QUIC_PARAMETER_FIELDS.get(pid)
        if field is not None:
            text = value.hex() if isinstance(value, bytes) else value
            rows.append((d + 1, field, value, f"{name}: {text}", o + at, size))
        pos = at + size


def _supported_version_text(v: int) -> str:
    if v in wire.GREASE:
        return f"Reserved (GREASE) (0x{v:04x})"
    return _version_text(v)


def _group_name(code: int) -> str:
    if code in wire.GREASE:
        return "Reserved (GREASE)"
    return GROUPS.get(code, "Unknown")


def _key_share_rows(rows: list, group: int, key: bytes, at: int, d: int) -> None:
    name = _group_name(group)
    rows.append(
        (
            d,
            "",
            "",
            f"Key Share Entry: Group: {name}, Key Exchange length: {len(key)}",
            at,
            4 + len(key),
        )
    )
    rows.append(
        (
            d + 1,
            "tls.handshake.extensions_key_share_group",
            group,
            f"Group: {name} ({group})",
            at,
            2,
        )
    )
    rows.append((d + 1, "tls.handshake.extensions_key_share_key_exchange_length", len(key),
                 f"Key Exchange Length: {len(key)}", at + 2, 2))  # fmt: skip
    rows.append((d + 1, "tls.handshake.extensions_key_share_key_exchange", key,
                 f"Key Exchange: {_hex(key)}", at + 4, len(key)))  # fmt: skip


def _sig_alg_rows(rows: list, alg: int, at: int, d: int) -> None:
    hi, lo = alg >> 8, alg & 0xFF
    name = SIG_ALGS.get(alg) or f"{HASHES.get(hi, 'Unknown')} {SIGNATURES.get(lo, 'Unknown')}"
    rows.append(
        (d, "tls.handshake.sig_hash_alg", alg, f"Signature Algorithm: {name} (0x{alg:04x})", at, 2)
    )
    rows.append((d + 1, "tls.handshake.sig_hash_hash", hi,
                 f"Signature Hash Algorithm Hash: {HASHES.get(hi, 'Unknown')} ({hi})", at, 1))  # fmt: skip
    rows.append((d + 1, "tls.handshake.sig_hash_sig", lo,
                 f"Signature Hash Algorithm Signature: {SIGNATURES.get(lo, 'Unknown')} ({lo})", at + 1, 1))  # fmt: skip


def _signature_rows(
    rows: list, r: wire.Reader, p: int, d: int, prefix: str, len_label: str = "Signature length"
) -> None:
    """A digitally-signed struct: the algorithm, then the signature as an opaque vector."""
    at = p + r.pos
    _sig_alg_rows(rows, r.u16(), at, d)
    _opaque(rows, r, p, d, 2, f"{prefix}_len", len_label, prefix, "Signature")


def _ticket_rows(rows: list, r: wire.Reader, p: int, tls13: bool) -> None:
    rows.append((2, "", "", "TLS Session Ticket", p, len(r.data)))
    hint = int.from_bytes(r.take(4), "big")
    rows.append((3, "tls.handshake.session_ticket_lifetime_hint", hint,
                 f"Session Ticket Lifetime Hint: {hint} seconds{_duration(hint)}", p, 4))  # fmt: skip
    if tls13:
        add = int.from_bytes(r.take(4), "big")
        rows.append(
            (
                3,
                "tls.handshake.session_ticket_age_add",
                add,
                f"Session Ticket Age Add: {add}",
                p + 4,
                4,
            )
        )
        _opaque(rows, r, p, 3, 1, "tls.handshake.session_ticket_nonce_length",
                "Session Ticket Nonce Length", "tls.handshake.session_ticket_nonce",
                "Session Ticket Nonce", bytes.hex)  # fmt: skip
    _opaque(rows, r, p, 3, 2, "tls.handshake.session_ticket_length", "Session Ticket Length",
            "tls.handshake.session_ticket", "Session Ticket")  # fmt: skip
    if tls13 and r.left:
        _extension_rows(rows, r, p, 3, Msg(4, None, 0, 0, TLS13), "nst")


def _duration(seconds: int) -> str:
    if seconds == 0:
        return ""
    parts = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        n, seconds = divmod(seconds, size)
        if n:
            parts.append(f"{n} {unit}{'s' * (n != 1)}")
    return f" ({', '.join(parts)})"


def _certificate_rows(rows: list, r: wire.Reader, p: int, tls13: bool, buf: bytes) -> None:
    d = 2
    if tls13:
        _context_length(rows, r, p, d)
    block, base = _length(rows, r, p, d, 3, "tls.handshake.certificates_length",
                          "Certificates Length")  # fmt: skip
    rows.append((d, "tls.handshake.certificates", "", f"Certificates ({len(block)} bytes)",
                 base, len(block)))  # fmt: skip
    listing = wire.Reader(block, "certificate_list")
    count = 0
    while listing.left:
        count += 1
        if count > wire.MAX_CERTS:
            raise wire.TlsError(f"certificate list of more than {wire.MAX_CERTS} certificates")
        der, at = _length(rows, listing, base, d + 1, 3, "tls.handshake.certificate_length",
                          "Certificate Length")  # fmt: skip
        sub, _protocols, subject, _error = x509.certificate_rows(der, 0, len(der), d + 2)
        shown = f"Certificate: {_hex(der)} ({subject})" if subject else f"Certificate: {_hex(der)}"
        shown = _cut(shown)
        rows.append((d + 1, "tls.handshake.certificate", der, shown, at, len(der)))
        rows += _moved(sub, at)
        if tls13:
            _length(rows, listing, base, d + 1, 2, "tls.handshake.extensions_length",
                    "Extensions Length")  # fmt: skip


CERT_TYPES = {1: "RSA Sign", 2: "DSS Sign", 3: "RSA Fixed DH", 4: "DSS Fixed DH",
              5: "RSA Ephemeral DH", 6: "DSS Ephemeral DH", 20: "Fortezza", 64: "ECDSA Sign",
              65: "RSA Fixed ECDH", 66: "ECDSA Fixed ECDH"}  # fmt: skip


def _dnames(body: bytes, tls13: bool) -> list[tuple[int, int]]:
    """Where each Distinguished Name of a CertificateRequest is: [(offset, length)]."""
    r = wire.Reader(body, "CertificateRequest")
    block_at = -1
    if tls13:
        r.vec(1)
        exts = r.vec(2)
        e = wire.Reader(exts, "extensions")
        while e.left:
            etype = e.u16()
            data = e.vec(2)
            if etype == 47:
                block_at = 1 + len(body[1 : 1 + body[0]]) + 2 + e.pos - len(data)
        if block_at < 0:
            return []
    else:
        r.vec(1)
        r.vec(2)
        block_at = r.pos
    listing = wire.Reader(wire.Reader(body[block_at:], "dnames").vec(2), "dnames")
    out = []
    base = block_at + 2
    while listing.left:
        at = base + listing.pos
        name = listing.vec(2)
        out.append((at + 2, len(name)))
    return out


def _context_length(rows: list, r: wire.Reader, p: int, d: int) -> None:
    """TLS 1.3's certificate_request_context (its length only, as tshark)."""
    _length(rows, r, p, d, 1, "tls.handshake.certificate_request_context_length",
            "Certificate Request Context Length")  # fmt: skip


def _moved(sub: list, at: int) -> list:
    """Rows made on a DER item of their own, moved to where the item is in the message."""
    return [(depth, name, value, show, at + off if off >= 0 else off, size)
            for depth, name, value, show, off, size in sub]  # fmt: skip


def _certificate_request_rows(rows: list, r: wire.Reader, p: int, tls13: bool) -> None:
    d = 2
    if tls13:
        _context_length(rows, r, p, d)
        _extension_rows(rows, r, p, d, Msg(13, None, 0, 0, TLS13), "cr")
        return
    _list_rows(rows, r, p, d, _CERT_TYPES)
    _list_rows(rows, r, p, d, _SIG_ALGS)
    _dname_rows(rows, r, p, d)


def _dname_rows(rows: list, r: wire.Reader, p: int, d: int) -> None:
    block, base = _length(rows, r, p, d, 2, "tls.handshake.dnames_len",
                          "Distinguished Names Length")  # fmt: skip
    rows.append((d, "tls.handshake.dnames", "", f"Distinguished Names ({len(block)} bytes)",
                 base, len(block)))  # fmt: skip
    listing = wire.Reader(block, "dnames")
    while listing.left:
        der, at = _length(rows, listing, base, d + 1, 2, "tls.handshake.dname_len",
                          "Distinguished Name Length")  # fmt: skip
        sub, _protocols, summary, _error = x509.name_rows(der, 0, len(der), d + 2)
        rows.append((d + 1, "tls.handshake.dname", "", _cut(f"Distinguished Name: ({summary})"),
                     at, len(der)))  # fmt: skip
        rows += _moved(sub, at)


def _kx(suite: int) -> str:
    name = CIPHER_SUITES.get(suite, "")
    if "_ECDHE_" in name or "_ECDH_" in name:
        return "ecdh"
    if "_DHE_" in name or "_DH_" in name:
        return "dh"
    if name.startswith("TLS_RSA_"):
        return "rsa"
    return ""


def _server_key_exchange_rows(rows: list, r: wire.Reader, p: int, msg: Msg) -> None:
    d = 2
    if r.left and r.data[0] == 3:
        rows.append((d, "", "", "EC Diffie-Hellman Server Params", p, len(r.data)))
        curve_type = r.u8()
        rows.append(
            (
                d + 1,
                "tls.handshake.server_curve_type",
                curve_type,
                "Curve Type: named_curve (0x03)",
                p,
                1,
            )
        )
        group = r.u16()
        rows.append((d + 1, "tls.handshake.server_named_curve", group,
                     f"Named Curve: {_group_name(group)} (0x{group:04x})", p + 1, 2))  # fmt: skip
        _opaque(rows, r, p, d + 1, 1, "tls.handshake.server_point_len", "Pubkey Length",
                "tls.handshake.server_point", "Pubkey")  # fmt: skip
    else:
        rows.append((d, "", "", "Diffie-Hellman Server Params", p, len(r.data)))
        for name, label in (("p", "p"), ("g", "g"), ("ys", "Pubkey")):
            _opaque(rows, r, p, d + 1, 2, f"tls.handshake.{name}_len", f"{label} Length",
                    f"tls.handshake.{name}", label)  # fmt: skip
    if r.left:
        _signature_rows(rows, r, p, d + 1, "tls.handshake.sig", "Signature Length")


def _client_key_exchange_rows(rows: list, r: wire.Reader, p: int, msg: Msg) -> None:
    d = 2
    kx = msg.kx
    if kx == "rsa":
        rows.append((d, "", "", "RSA Encrypted PreMaster Secret", p, len(r.data)))
        _opaque(rows, r, p, d + 1, 2, "tls.handshake.epms_len", "Encrypted PreMaster length",
                "tls.handshake.epms", "Encrypted PreMaster")  # fmt: skip
    elif kx == "dh":
        rows.append((d, "", "", "Diffie-Hellman Client Params", p, len(r.data)))
        _opaque(rows, r, p, d + 1, 2, "tls.handshake.yc_len", "Pubkey Length",
                "tls.handshake.yc", "Pubkey")  # fmt: skip
    else:
        rows.append((d, "", "", "EC Diffie-Hellman Client Params", p, len(r.data)))
        _opaque(rows, r, p, d + 1, 1, "tls.handshake.client_point_len", "Pubkey Length",
                "tls.handshake.client_point", "Pubkey")  # fmt: skip


def _sources(layer: Layer, buf: bytes) -> list[tuple[str, bytes]]:
    """The hex view's extra bytes: as reassembled by TCP, each record decrypted, each
    handshake message reassembled from several records."""
    call: Call = layer.hdr
    found = []
    if layer.data is not None:
        found.append(("Reassembled TCP", layer.data))
    for rec in call.records:
        if rec.plain is not None:
            found.append(("Decrypted TLS", rec.plain))
        for item in rec.items:
            if item[0] == "hs" and item[1].buf is not None and item[1].buf is not rec.plain:
                found.append(("Reassembled TLS Handshake", item[1].buf))
    return found


registry.register(
    "tls",
    "x509af",
    "x509if",
    "x509sat",
    "x509ce",
    "pkcs1",
    "pkcs-1",
    "pkix1implicit",
    "ber",
    tcp_ports={**dict.fromkeys(TLS_PORTS, PORT_PROTOCOL_TLS), HTTP_PORT: HTTPS_PROTOCOL_TLS},
    tcp_heuristics=(tls_heuristic,),
    data_sources={_rows: _sources},
)
