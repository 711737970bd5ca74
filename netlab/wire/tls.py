"""TLS on the wire (RFC 8446, RFC 5246): records, handshake messages, hellos,
certificates, alerts; JA3/JA4 fingerprints; the ClientHello built with Scapy.

Parsing is bounded and strict: a record longer than 2^14 + 2048 bytes, a handshake
message claiming more than `MAX_HANDSHAKE`, a certificate list of more than
`MAX_CERTS` entries or a length field pointing past its container raise
`TlsError` with a one-line message; nothing here buffers without limit.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field

from netlab.wire.cursor import Cursor
from netlab.wire.tls_names import CIPHER_SUITES, EXTENSIONS, GROUPS, OPENSSL_NAMES

MAX_RECORD = (1 << 14) + 2048  # TLSCiphertext.length's limit (RFC 5246 §6.2.3)
MAX_HANDSHAKE = 256 * 1024  # a server flight with a long chain stays far below this
MAX_CERTS = 100

CHANGE_CIPHER_SPEC, ALERT, HANDSHAKE, APPLICATION_DATA = 20, 21, 22, 23
CONTENT_TYPES = {20: "change_cipher_spec", 21: "alert", 22: "handshake", 23: "application_data"}
HANDSHAKE_TYPES = {
    0: "hello_request",
    1: "client_hello",
    2: "server_hello",
    4: "new_session_ticket",
    5: "end_of_early_data",
    8: "encrypted_extensions",
    11: "certificate",
    12: "server_key_exchange",
    13: "certificate_request",
    14: "server_hello_done",
    15: "certificate_verify",
    16: "client_key_exchange",
    20: "finished",
    24: "key_update",
}
VERSIONS = {
    0x0300: "SSLv3",
    0x0301: "TLSv1",
    0x0302: "TLSv1.1",
    0x0303: "TLSv1.2",
    0x0304: "TLSv1.3",
}
ALERTS = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    22: "record_overflow",
    40: "handshake_failure",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    49: "access_denied",
    50: "decode_error",
    51: "decrypt_error",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    109: "missing_extension",
    110: "unsupported_extension",
    112: "unrecognized_name",
    116: "certificate_required",
    120: "no_application_protocol",
}
# RFC 8446 §4.1.3: a ServerHello with this random is a HelloRetryRequest.
HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
GREASE = {0x0A0A + 0x1010 * i for i in range(16)}  # RFC 8701


class TlsError(ValueError):
    """Bytes that are not the TLS they claim to be (one line)."""


def version_name(v: int) -> str:
    return VERSIONS.get(v, f"0x{v:04x}")


def suite_name(code: int) -> str:
    return CIPHER_SUITES.get(code, f"0x{code:04X}")


def openssl_name(code: int) -> str:
    return OPENSSL_NAMES.get(code, suite_name(code))


def group_name(code: int) -> str:
    return "GREASE" if code in GREASE else GROUPS.get(code, f"0x{code:04x}")


def extension_name(code: int) -> str:
    return "GREASE" if code in GREASE else EXTENSIONS.get(code, f"unknown({code})")


def suite_code(name: str) -> int | None:
    """A cipher suite by IANA or OpenSSL name, or 0xNNNN."""
    wanted = name.strip()
    if wanted.lower().startswith("0x"):
        try:
            return int(wanted, 16)
        except ValueError:
            return None
    for table in (CIPHER_SUITES, OPENSSL_NAMES):
        for code, text in table.items():
            if text.upper() == wanted.upper():
                return code
    return None


def group_code(name: str) -> int | None:
    for code, text in GROUPS.items():
        if text.lower() == name.strip().lower():
            return code
    aliases = {"p-256": 23, "prime256v1": 23, "p-384": 24, "p-521": 25}
    return aliases.get(name.strip().lower())


# --- reading --------------------------------------------------------------------------------------
class Reader(Cursor):
    """A cursor over a TLS structure (`what`, for the error): TlsError when it is short."""

    def __init__(self, data: bytes, what: str = "message") -> None:
        # (Cursor's fields set here: a reader is made per structure, so no super() call)
        self.data, self.pos, self.end, self.what = data, 0, len(data), what

    def short(self, n: int) -> Exception:
        return TlsError(
            f"{self.what}: truncated ({n} bytes needed at {self.pos}, {self.end - self.pos} left)"
        )

    def vec(self, size_bytes: int) -> bytes:
        """An opaque vector: its length in `size_bytes` bytes, then that many bytes."""
        n = int.from_bytes(self.take(size_bytes), "big")
        return self.take(n)


@dataclass(frozen=True)
class Record:
    type: int
    version: int
    payload: bytes


class RecordSplitter:
    """Cut a byte stream into TLS records (TLSPlaintext / TLSCiphertext)."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[Record]:
        self.buf += data
        out = []
        while len(self.buf) >= 5:
            ctype, version, length = struct.unpack_from("!BHH", self.buf)
            if ctype not in CONTENT_TYPES or version >> 8 != 3:
                raise TlsError(f"not a TLS record (type {ctype}, version 0x{version:04x})")
            if length > MAX_RECORD:
                raise TlsError(f"record of {length} bytes, over TLS's {MAX_RECORD}")
            if len(self.buf) < 5 + length:
                break
            out.append(Record(ctype, version, bytes(self.buf[5 : 5 + length])))
            del self.buf[: 5 + length]
        return out


@dataclass(frozen=True)
class HandshakeMessage:
    type: int
    body: bytes

    @property
    def raw(self) -> bytes:
        """The message as the transcript hashes it: type, 24-bit length, body."""
        return bytes([self.type]) + len(self.body).to_bytes(3, "big") + self.body

    @property
    def name(self) -> str:
        return HANDSHAKE_TYPES.get(self.type, f"handshake_{self.type}")


class HandshakeReassembler:
    """Handshake messages out of handshake records (a message may span records)."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, payload: bytes) -> list[HandshakeMessage]:
        self.buf += payload
        out = []
        while len(self.buf) >= 4:
            mtype = self.buf[0]
            length = int.from_bytes(self.buf[1:4], "big")
            if length > MAX_HANDSHAKE:
                raise TlsError(
                    f"handshake message ({HANDSHAKE_TYPES.get(mtype, mtype)}) "
                    f"claims {length} bytes, over the {MAX_HANDSHAKE} allowed"
                )
            if len(self.buf) < 4 + length:
                break
            out.append(HandshakeMessage(mtype, bytes(self.buf[4 : 4 + length])))
            del self.buf[: 4 + length]
        return out


# --- hellos ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Hello:
    """A ClientHello or ServerHello (the latter's `suites` holds the one chosen)."""

    legacy_version: int
    random: bytes
    session_id: bytes
    suites: list[int]
    compressions: list[int]
    extensions: list[tuple[int, bytes]] = field(default_factory=list)
    server: bool = False

    def ext(self, code: int) -> bytes | None:
        return next((data for t, data in self.extensions if t == code), None)

    @property
    def is_hrr(self) -> bool:
        return self.random == HRR_RANDOM

    # What the extensions say (None when absent).
    @property
    def server_name(self) -> str | None:
        data = self.ext(0)
        if not data:
            return None
        r = Reader(Reader(data, "server_name").vec(2), "server_name")
        while r.left:
            kind, name = r.u8(), r.vec(2)
            if kind == 0:
                return name.decode("ascii", "replace")
        return None

    @property
    def alpn(self) -> list[str]:
        data = self.ext(16)
        if data is None:
            return []
        r = Reader(Reader(data, "alpn").vec(2), "alpn")
        names = []
        while r.left:
            names.append(r.vec(1).decode("ascii", "replace"))
        return names

    @property
    def supported_versions(self) -> list[int]:
        """ClientHello: the versions offered; ServerHello: [the one selected]."""
        data = self.ext(43)
        if data is None:
            return []
        if self.server:
            return [int.from_bytes(data[:2], "big")]
        body = Reader(data, "supported_versions").vec(1)
        return [int.from_bytes(body[i : i + 2], "big") for i in range(0, len(body) - 1, 2)]

    @property
    def groups(self) -> list[int]:
        data = self.ext(10)
        if data is None:
            return []
        body = Reader(data, "supported_groups").vec(2)
        return [int.from_bytes(body[i : i + 2], "big") for i in range(0, len(body) - 1, 2)]

    @property
    def point_formats(self) -> list[int]:
        data = self.ext(11)
        return list(Reader(data, "ec_point_formats").vec(1)) if data else []

    @property
    def signature_algorithms(self) -> list[int]:
        data = self.ext(13)
        if data is None:
            return []
        body = Reader(data, "signature_algorithms").vec(2)
        return [int.from_bytes(body[i : i + 2], "big") for i in range(0, len(body) - 1, 2)]

    def key_shares(self) -> list[tuple[int, bytes]]:
        """ClientHello: the shares offered; ServerHello: [its share]; HRR: [(group, b"")]."""
        data = self.ext(51)
        if data is None:
            return []
        if self.is_hrr:
            return [(int.from_bytes(data[:2], "big"), b"")]
        r = Reader(data, "key_share")
        if self.server:  # a ServerHello: one KeyShareEntry
            return [(r.u16(), r.vec(2))]
        body = Reader(r.vec(2), "key_share")
        shares = []
        while body.left:
            shares.append((body.u16(), body.vec(2)))
        return shares

    @property
    def version(self) -> int:
        """The version this hello means: supported_versions when present (TLS 1.3)."""
        offered = self.supported_versions
        if offered and self.server:
            return offered[0]
        return self.legacy_version


def parse_hello(body: bytes, *, server: bool) -> Hello:
    r = Reader(body, "ServerHello" if server else "ClientHello")
    version = r.u16()
    random = r.take(32)
    session_id = r.vec(1)
    if server:
        suites, compressions = [r.u16()], [r.u8()]
    else:
        raw = r.vec(2)
        suites = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw) - 1, 2)]
        compressions = list(r.vec(1))
    extensions = []
    if r.left:
        ext = Reader(r.vec(2), "extensions")
        while ext.left:
            extensions.append((ext.u16(), ext.vec(2)))
    return Hello(version, random, session_id, suites, compressions, extensions, server)


# --- certificates, key exchange, alerts -----------------------------------------------------------
def parse_certificate(body: bytes, *, tls13: bool) -> list[bytes]:
    """The DER certificates of a Certificate message, leaf first."""
    r = Reader(body, "Certificate")
    if tls13:
        r.vec(1)  # certificate_request_context
    certs = Reader(r.vec(3), "certificate_list")
    out = []
    while certs.left:
        if len(out) >= MAX_CERTS:
            raise TlsError(f"certificate list of more than {MAX_CERTS} certificates")
        out.append(certs.vec(3))
        if tls13:
            certs.vec(2)  # per-certificate extensions (OCSP, SCT)
    return out


@dataclass(frozen=True)
class EcdheParams:
    """TLS 1.2 ServerKeyExchange for ECDHE: the curve and the server's public point."""

    group: int
    public: bytes
    signature_scheme: int | None
    signature: bytes
    signed: bytes  # ServerECDHParams as sent (what the signature covers with the randoms)


def parse_server_key_exchange(body: bytes) -> EcdheParams:
    r = Reader(body, "ServerKeyExchange")
    curve_type = r.u8()
    if curve_type != 3:
        raise TlsError(f"ServerKeyExchange curve type {curve_type} (only named_curve, 3)")
    group = r.u16()
    public = r.vec(1)
    signed = body[: r.pos]
    scheme = r.u16()
    signature = r.vec(2)
    return EcdheParams(group, public, scheme, signature, signed)


def parse_alert(payload: bytes) -> tuple[str, str]:
    if len(payload) < 2:
        raise TlsError("alert shorter than 2 bytes")
    level = {1: "warning", 2: "fatal"}.get(payload[0], str(payload[0]))
    return level, ALERTS.get(payload[1], f"alert {payload[1]}")


# --- fingerprints ---------------------------------------------------------------------------------
def _no_grease(values: list[int]) -> list[int]:
    return [v for v in values if v not in GREASE]


def ja3_string(ch: Hello) -> str:
    """SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats (decimal,
    '-' joined, GREASE left out): Salesforce's JA3, as tshark's tls.handshake.ja3_full."""
    parts = [
        str(ch.legacy_version),
        "-".join(map(str, _no_grease(ch.suites))),
        "-".join(map(str, _no_grease([t for t, _ in ch.extensions]))),
        "-".join(map(str, _no_grease(ch.groups))),
        "-".join(map(str, ch.point_formats)),
    ]
    return ",".join(parts)


def ja3s_string(sh: Hello) -> str:
    exts = "-".join(map(str, [t for t, _ in sh.extensions]))
    return f"{sh.legacy_version},{sh.suites[0]},{exts}"


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _ja4_version(hello: Hello) -> str:
    versions = _no_grease(hello.supported_versions) or [hello.legacy_version]
    return {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3"}.get(
        max(versions), "00"
    )


def _ja4_alpn(names: list[str]) -> str:
    if not names or not names[0]:
        return "00"
    first = names[0]
    return first[0] + first[-1] if first.isascii() and first.isprintable() else "99"


def _sha12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12] if text else "000000000000"


def ja4(ch: Hello, transport: str = "t") -> str:
    """FoxIO's JA4 of a ClientHello: t13d1516h2_<ciphers hash>_<extensions hash>."""
    head, suites, exts = _ja4_parts(ch, transport)
    return f"{head}_{_sha12(suites)}_{_sha12(exts)}"


def ja4_raw(ch: Hello, transport: str = "t") -> str:
    """FoxIO's JA4_r: JA4 with the lists its two hashes are taken of."""
    return "_".join(_ja4_parts(ch, transport))


def _ja4_parts(ch: Hello, transport: str) -> tuple[str, str, str]:
    suites = _no_grease(ch.suites)
    exts = _no_grease([t for t, _ in ch.extensions])
    sni = "d" if ch.server_name else "i"
    head = (
        f"{transport}{_ja4_version(ch)}{sni}{min(len(suites), 99):02d}"
        f"{min(len(exts), 99):02d}{_ja4_alpn(ch.alpn)}"
    )
    cipher_list = ",".join(f"{c:04x}" for c in sorted(suites))
    ext_list = ",".join(f"{e:04x}" for e in sorted(e for e in exts if e not in (0x0000, 0x0010)))
    sigs = ",".join(f"{s:04x}" for s in _no_grease(ch.signature_algorithms))
    return head, cipher_list, f"{ext_list}_{sigs}" if sigs else ext_list


def ja4s(sh: Hello, transport: str = "t") -> str:
    head, suite, exts = _ja4s_parts(sh, transport)
    return f"{head}_{suite}_{_sha12(exts)}"


def ja4s_raw(sh: Hello, transport: str = "t") -> str:
    return "_".join(_ja4s_parts(sh, transport))


def _ja4s_parts(sh: Hello, transport: str) -> tuple[str, str, str]:
    exts = [t for t, _ in sh.extensions]
    head = f"{transport}{_ja4_version(sh)}{min(len(exts), 99):02d}{_ja4_alpn(sh.alpn)}"
    return head, f"{sh.suites[0]:04x}", ",".join(f"{e:04x}" for e in exts)


# --- building (Scapy) -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ClientHelloSpec:
    """Every field of the ClientHello we send; `build_client_hello` makes the record."""

    random: bytes
    session_id: bytes
    suites: list[int]
    server_name: str | None
    versions: list[int]  # supported_versions (TLS 1.3); [] for a TLS 1.2-only hello
    groups: list[int]
    signature_algorithms: list[int]
    key_shares: list[tuple[int, bytes]]
    alpn: list[str] = field(default_factory=list)
    legacy_version: int = 0x0303
    point_formats: list[int] = field(default_factory=lambda: [0])
    cookie: bytes | None = None  # echoed from a HelloRetryRequest
    grease: int | None = None  # a GREASE value to put in suites, groups and extensions
    extended_master_secret: bool = False
    # More extensions, (type, body), appended last (QUIC's quic_transport_parameters)
    extra_extensions: list[tuple[int, bytes]] = field(default_factory=list)


def import_scapy_tls() -> None:
    """Import Scapy's TLS layers (most of tls-hello's start-up) at the least cost.

    They import Scapy's IP layers (TLS over TCP), and at that import Scapy reads the
    IPv4 and IPv6 routes and the interfaces over netlink, each answer dissected by
    Scapy (a tenth of tls-hello's CPU time), for source-address lookups a ClientHello
    never makes: they are read at their first use instead (`_read_tables`). The
    import's objects are kept out of the garbage collector's passes."""
    import gc
    import sys

    if "scapy.route" in sys.modules:
        return
    import scapy.interfaces  # conf.ifaces
    from scapy.config import conf

    ifaces = conf.ifaces
    saved = conf.route_autoload, conf.route6_autoload
    conf.route_autoload = conf.route6_autoload = False
    ifaces.reload = ifaces.load_confiface = lambda: None  # shadowed during the import
    collecting = gc.isenabled()
    gc.disable()  # the import makes ~100k long-lived objects and no garbage to collect
    try:
        import scapy.layers.tls.handshake  # noqa: F401
    finally:
        conf.route_autoload, conf.route6_autoload = saved
        del ifaces.reload, ifaces.load_confiface
        # Scapy's classes and tables live as long as the process: out of every later
        # collection, the one at exit too (a third of the process's CPU time otherwise)
        gc.freeze()
        if collecting:
            gc.enable()
    for table in (conf.route, getattr(conf, "route6", None)):
        if table is not None and not table.routes:
            table.__class__ = _on_demand(type(table))
    if not ifaces.data:
        ifaces.__class__ = _on_demand(type(ifaces))


def _on_demand(cls: type) -> type:
    """CLS (Scapy's Route, Route6 or conf.ifaces' class) that reads the tables at its
    first use and is CLS again."""
    if hasattr(cls, "route"):

        class Table(cls):  # type: ignore[misc, valid-type]
            def route(self, *args, **kwargs):
                _read_tables()
                return self.route(*args, **kwargs)

    else:

        class Table(cls):  # type: ignore[misc, valid-type]
            def __getattribute__(self, name: str):
                if name != "__class__":
                    _read_tables()
                return object.__getattribute__(self, name)

    Table.plain_class = cls
    return Table


def _read_tables() -> None:
    """Scapy's routes, then its interfaces and conf.iface (which follows the routes)."""
    from scapy.config import conf

    for table in (conf.route, getattr(conf, "route6", None)):
        plain = getattr(type(table), "plain_class", None)
        if plain is not None:
            table.__class__ = plain
            table.resync()
    ifaces = conf.ifaces
    plain = getattr(type(ifaces), "plain_class", None)
    if plain is not None:
        object.__setattr__(ifaces, "__class__", plain)
        ifaces.reload()


def build_client_hello(spec: ClientHelloSpec) -> bytes:
    """The ClientHello handshake message (type, length, body), built with Scapy's TLS
    layers so that every field is Scapy's to set. Wrap it in a record to send."""
    import_scapy_tls()
    from scapy.layers.tls.extensions import (
        ProtocolName,
        ServerName,
        TLS_Ext_ALPN,
        TLS_Ext_Cookie,
        TLS_Ext_ExtendedMasterSecret,
        TLS_Ext_RenegotiationInfo,
        TLS_Ext_ServerName,
        TLS_Ext_SignatureAlgorithms,
        TLS_Ext_SupportedEllipticCurves,
        TLS_Ext_SupportedPointFormat,
        TLS_Ext_SupportedVersion_CH,
        TLS_Ext_Unknown,
    )
    from scapy.layers.tls.handshake import TLSClientHello
    from scapy.layers.tls.keyexchange_tls13 import KeyShareEntry, TLS_Ext_KeyShare_CH
    from scapy.layers.tls.session import tlsSession

    # One TLS session for every layer of the hello: each would make its own otherwise
    # (connection states with their PRF set up: half of the build's time).
    s = {"tls_session": tlsSession()}
    grease = [spec.grease] if spec.grease is not None else []
    ext: list = []
    if spec.grease is not None:
        ext.append(TLS_Ext_Unknown(type=spec.grease, val=b"", **s))
    if spec.server_name:
        name = ServerName(servername=spec.server_name.encode())
        ext.append(TLS_Ext_ServerName(servernames=[name], **s))
    if spec.extended_master_secret:
        ext.append(TLS_Ext_ExtendedMasterSecret(**s))
    ext.append(TLS_Ext_RenegotiationInfo(renegotiated_connection=b"", **s))
    ext.append(TLS_Ext_SupportedEllipticCurves(groups=grease + spec.groups, **s))
    ext.append(TLS_Ext_SupportedPointFormat(ecpl=spec.point_formats, **s))
    if spec.alpn:
        names = [ProtocolName(protocol=p.encode()) for p in spec.alpn]
        ext.append(TLS_Ext_ALPN(protocols=names, **s))
    ext.append(TLS_Ext_SignatureAlgorithms(sig_algs=spec.signature_algorithms, **s))
    if spec.versions:
        # Always there in a TLS 1.3 hello, empty when no share is sent: the server then
        # answers with a HelloRetryRequest naming the group it wants (what --scan asks).
        shares = [KeyShareEntry(group=g, key_exchange=k) for g, k in spec.key_shares]
        ext.append(TLS_Ext_KeyShare_CH(client_shares=shares, **s))
        ext.append(TLS_Ext_SupportedVersion_CH(versions=grease + spec.versions, **s))
        # psk_key_exchange_modes: psk_dhe_ke
        ext.append(TLS_Ext_Unknown(type=45, val=b"\x01\x01", **s))
        if spec.cookie is not None:
            ext.append(TLS_Ext_Cookie(cookie=spec.cookie, **s))
    ext += [TLS_Ext_Unknown(type=t, val=body, **s) for t, body in spec.extra_extensions]
    hello = TLSClientHello(
        version=spec.legacy_version,
        gmt_unix_time=int.from_bytes(spec.random[:4], "big"),
        random_bytes=spec.random[4:],
        sid=spec.session_id,
        ciphers=grease + spec.suites,
        comp=[0],
        ext=ext,
        **s,
    )
    return bytes(hello)


def record(ctype: int, payload: bytes, version: int = 0x0303) -> bytes:
    """TLSPlaintext records for PAYLOAD (cut at 2^14 bytes)."""
    out = bytearray()
    for i in range(0, max(len(payload), 1), 1 << 14):
        piece = payload[i : i + (1 << 14)]
        out += struct.pack("!BHH", ctype, version, len(piece)) + piece
    return bytes(out)


def suite_names(codes: list[int]) -> list[str]:
    return [suite_name(c) for c in codes]
