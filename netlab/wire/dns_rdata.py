"""DNS rdata: one small decoder per record type, in a table (dnspython style).

Each decoder takes ``(buf, start, end, name)``: the rdata is ``buf[start:end]``
and ``name(pos, limit)`` decodes a (possibly compressed) domain name at
``pos``, returning ``(text, pos_after)``. Decoders build a small immutable
object whose ``to_text()`` is dig's presentation format (BIND 9.18, ``+nosplit``):
the tests compare against dig itself, so the escaping rules below are BIND's.

Decoding is eager for structure (lengths are checked, names are decoded, so a
bad record is found while parsing) and lazy for text (hex, base64, type
bitmaps, time stamps are only formatted by ``to_text()``).

Errors are `RdataError`; `netlab.wire.dns` turns them into `DnsFormatError`
with the record's position in the message.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import re
import socket
import struct
import time
from collections.abc import Callable
from typing import NamedTuple, Protocol

NameReader = Callable[[int, int], tuple[str, int]]


class Rdata(Protocol):
    """What every decoded rdata offers (the fields differ per type)."""

    def to_text(self) -> str:
        """dig's presentation format of the rdata (BIND 9.18, +nosplit)."""
        ...


class RdataError(ValueError):
    """The rdata of one record does not match its type's wire format."""


class RdataTruncated(RdataError):
    """A field needs `needed` bytes at offset `at` but the data ends at `limit`."""

    def __init__(self, needed: int, at: int, limit: int) -> None:
        super().__init__(f"needs {needed} bytes at offset {at}, data ends at offset {limit}")
        self.needed = needed
        self.at = at
        self.limit = limit


# --- type names -----------------------------------------------------------------------------

# IANA "Resource Record (RR) TYPEs" as BIND 9.18 names them (dig prints these in NSEC
# bitmaps and RRSIG "type covered"); any other number is TYPEnn (RFC 3597).
TYPE_NAMES: dict[int, str] = {
    1: "A", 2: "NS", 3: "MD", 4: "MF", 5: "CNAME", 6: "SOA", 7: "MB", 8: "MG", 9: "MR",
    10: "NULL", 11: "WKS", 12: "PTR", 13: "HINFO", 14: "MINFO", 15: "MX", 16: "TXT", 17: "RP",
    18: "AFSDB", 19: "X25", 20: "ISDN", 21: "RT", 22: "NSAP", 23: "NSAP-PTR", 24: "SIG",
    25: "KEY", 26: "PX", 27: "GPOS", 28: "AAAA", 29: "LOC", 30: "NXT", 31: "EID", 32: "NIMLOC",
    33: "SRV", 34: "ATMA", 35: "NAPTR", 36: "KX", 37: "CERT", 38: "A6", 39: "DNAME", 40: "SINK",
    41: "OPT", 42: "APL", 43: "DS", 44: "SSHFP", 45: "IPSECKEY", 46: "RRSIG", 47: "NSEC",
    48: "DNSKEY", 49: "DHCID", 50: "NSEC3", 51: "NSEC3PARAM", 52: "TLSA", 53: "SMIMEA",
    55: "HIP", 56: "NINFO", 57: "RKEY", 58: "TALINK", 59: "CDS", 60: "CDNSKEY",
    61: "OPENPGPKEY", 62: "CSYNC", 63: "ZONEMD", 64: "SVCB", 65: "HTTPS", 66: "DSYNC",
    67: "HHIT", 68: "BRID", 99: "SPF", 100: "UINFO", 101: "UID", 102: "GID", 103: "UNSPEC",
    104: "NID", 105: "L32", 106: "L64", 107: "LP", 108: "EUI48", 109: "EUI64", 249: "TKEY",
    250: "TSIG", 251: "IXFR", 252: "AXFR", 253: "MAILB", 254: "MAILA", 255: "ANY", 256: "URI",
    257: "CAA", 258: "AVC", 259: "DOA", 260: "AMTRELAY", 261: "RESINFO", 262: "WALLET",
    32768: "TA", 32769: "DLV",
}  # fmt: skip
TYPE_VALUES: dict[str, int] = {name: value for value, name in TYPE_NAMES.items()}


def type_to_text(rtype: int) -> str:
    """Mnemonic of a record type, ``TYPEnn`` when it has none."""
    name = TYPE_NAMES.get(rtype)
    return name if name is not None else f"TYPE{rtype}"


# --- text helpers (BIND's escaping) ---------------------------------------------------------


def _table(escaped: bytes, lowest: int) -> tuple[str, ...]:
    """Per-byte text: ``\\DDD`` outside [lowest, 0x7e], backslash before `escaped`."""
    out = []
    for b in range(256):
        if b < lowest or b > 0x7E:
            out.append(f"\\{b:03d}")
        elif b in escaped:
            out.append("\\" + chr(b))
        else:
            out.append(chr(b))
    return tuple(out)


# Inside quotes (TXT, HINFO, NAPTR, CAA value, SVCB key values): space is literal.
_QUOTED = _table(b'"\\', 0x20)
# Unquoted character-string (CAA tag): space becomes \032, and @ ; would start zone-file syntax.
_UNQUOTED = _table(b'"\\@;', 0x21)
# One ALPN id inside SVCB's quoted, comma-separated list: a comma or backslash inside an id
# is escaped twice (once for the list, once for the quoted string), as BIND does.
_ALPN = tuple({0x2C: "\\\\,", 0x5C: "\\\\\\\\"}.get(b, c) for b, c in enumerate(_table(b'"', 0x21)))


# A character-string that needs no escaping inside quotes: printable ASCII but " and \.
_QUOTE_PLAIN = re.compile(rb"[ !#-\[\]-~]*")


def quote_text(data: bytes) -> str:
    """A character-string as dig prints it: in double quotes, with \\" \\\\ and \\DDD."""
    if _QUOTE_PLAIN.fullmatch(data):
        return '"' + data.decode("ascii") + '"'
    return '"' + "".join([_QUOTED[b] for b in data]) + '"'


def unquoted_text(data: bytes) -> str:
    return "".join([_UNQUOTED[b] for b in data])


def hex_upper(data: bytes) -> str:
    return data.hex().upper()


def base64_text(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def base32hex_text(data: bytes) -> str:
    """NSEC3 hashed owner names: base32 with the extended-hex alphabet, no padding."""
    return base64.b32hexencode(data).rstrip(b"=").decode("ascii")


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def time32_to_text(value: int, now: float | None = None) -> str:
    """RRSIG time as YYYYMMDDHHMMSS, in the 136-year window around now (RFC 4034 3.1.5).

    Serial-number arithmetic, like BIND's dns_time32_totext: a value that is "after" now
    in 32-bit serial order is in the future, anything else in the past.
    """
    now_s = int(time.time() if now is None else now)
    now32 = now_s & 0xFFFFFFFF
    ahead = (value - now32) & 0xFFFFFFFF
    seconds = now_s + ahead if 0 < ahead < 0x80000000 else now_s - ((now32 - value) & 0xFFFFFFFF)
    t = _EPOCH + datetime.timedelta(seconds=seconds)
    return f"{t.year:04d}{t.month:02d}{t.day:02d}{t.hour:02d}{t.minute:02d}{t.second:02d}"


# --- wire helpers ---------------------------------------------------------------------------

_U16 = struct.Struct("!H")
_SOA_TAIL = struct.Struct("!IIIII")
_SRV_HEAD = struct.Struct("!HHH")
_RRSIG_HEAD = struct.Struct("!HBBIIIH")
_DNSKEY_HEAD = struct.Struct("!HBB")
_DS_HEAD = struct.Struct("!HBB")
_HEAD_HH = struct.Struct("!HH")
_NSEC3_HEAD = struct.Struct("!BBH")
_ZONEMD_HEAD = struct.Struct("!IBB")
_CSYNC_HEAD = struct.Struct("!IH")


def _need(pos: int, n: int, end: int) -> None:
    if pos + n > end:
        raise RdataTruncated(n, pos, end)


def _string(buf: bytes, pos: int, end: int) -> tuple[bytes, int]:
    """One <character-string>: a length octet and that many bytes (RFC 1035 3.3)."""
    _need(pos, 1, end)
    stop = pos + 1 + buf[pos]
    if stop > end:
        raise RdataTruncated(stop - pos, pos, end)
    return buf[pos + 1 : stop], stop


def _done(pos: int, end: int) -> None:
    # BIND rejects rdata with bytes left over (DNS_R_EXTRADATA); so do we.
    if pos != end:
        left = end - pos
        raise RdataError(f"has {left} byte{'s' if left != 1 else ''} left over at offset {pos}")


# Byte value -> the bit numbers set in it, most significant first (type bitmaps).
_BITS = tuple(tuple(bit for bit in range(8) if byte & (0x80 >> bit)) for byte in range(256))


def _type_bitmap(buf: bytes, pos: int, end: int) -> tuple[int, ...]:
    """RFC 4034 4.1.2 windowed type bitmap. Work is bounded by the rdata length."""
    types: list[int] = []
    while pos < end:
        _need(pos, 2, end)
        window, size = buf[pos], buf[pos + 1]
        if not 1 <= size <= 32:
            raise RdataError(f"has a type bitmap window {window} of length {size} at offset {pos}")
        _need(pos + 2, size, end)
        base = window << 8
        for i, byte in enumerate(buf[pos + 2 : pos + 2 + size]):
            if byte:
                types.extend(base + i * 8 + bit for bit in _BITS[byte])
        pos += 2 + size
    return tuple(types)


def _types_text(types: tuple[int, ...]) -> str:
    return "".join([" " + type_to_text(t) for t in types])


# --- rdata objects --------------------------------------------------------------------------


class A(NamedTuple):
    address: str

    def to_text(self) -> str:
        return self.address


class AAAA(NamedTuple):
    address: str  # compressed as inet_ntop prints it (also BIND's algorithm, ::ffff:a.b.c.d)

    def to_text(self) -> str:
        return self.address


class DomainName(NamedTuple):
    """NS, CNAME, PTR, DNAME (and the obsolete MD, MF, MB, MG, MR): one domain name."""

    target: str

    def to_text(self) -> str:
        return self.target


class NamePair(NamedTuple):
    """RP (mbox, txt-domain) and MINFO (rmailbx, emailbx): two domain names."""

    first: str
    second: str

    def to_text(self) -> str:
        return f"{self.first} {self.second}"


class SOA(NamedTuple):
    mname: str
    rname: str
    serial: int
    refresh: int
    retry: int
    expire: int
    minimum: int

    def to_text(self) -> str:
        return (
            f"{self.mname} {self.rname} {self.serial} {self.refresh} {self.retry} "
            f"{self.expire} {self.minimum}"
        )


class MX(NamedTuple):
    """MX, and the same shape in KX, RT and AFSDB (subtype, hostname)."""

    preference: int
    exchange: str

    def to_text(self) -> str:
        return f"{self.preference} {self.exchange}"


class TXT(NamedTuple):
    """TXT and SPF: one or more character-strings, each at most 255 bytes."""

    strings: tuple[bytes, ...]

    def to_text(self) -> str:
        return " ".join([quote_text(s) for s in self.strings])


class HINFO(NamedTuple):
    cpu: bytes
    os: bytes

    def to_text(self) -> str:
        return f"{quote_text(self.cpu)} {quote_text(self.os)}"


class SRV(NamedTuple):
    priority: int
    weight: int
    port: int
    target: str

    def to_text(self) -> str:
        return f"{self.priority} {self.weight} {self.port} {self.target}"


class NAPTR(NamedTuple):
    order: int
    preference: int
    flags: bytes
    services: bytes
    regexp: bytes
    replacement: str

    def to_text(self) -> str:
        return (
            f"{self.order} {self.preference} {quote_text(self.flags)} "
            f"{quote_text(self.services)} {quote_text(self.regexp)} {self.replacement}"
        )


class CAA(NamedTuple):
    flags: int
    tag: bytes
    value: bytes

    def to_text(self) -> str:
        return f"{self.flags} {unquoted_text(self.tag)} {quote_text(self.value)}"


class URI(NamedTuple):
    priority: int
    weight: int
    target: bytes

    def to_text(self) -> str:
        return f"{self.priority} {self.weight} {quote_text(self.target)}"


class DS(NamedTuple):
    """DS and CDS (RFC 4034 5, RFC 7344)."""

    key_tag: int
    algorithm: int
    digest_type: int
    digest: bytes

    def to_text(self) -> str:
        return _join(self.key_tag, self.algorithm, self.digest_type, hex_upper(self.digest))


class DNSKEY(NamedTuple):
    """DNSKEY and CDNSKEY (RFC 4034 2)."""

    flags: int
    protocol: int
    algorithm: int
    key: bytes

    def to_text(self) -> str:
        return _join(self.flags, self.protocol, self.algorithm, base64_text(self.key))


class RRSIG(NamedTuple):
    """RRSIG (RFC 4034 3) and SIG (same layout)."""

    type_covered: int
    algorithm: int
    labels: int
    original_ttl: int
    expiration: int  # seconds since 1970 modulo 2**32
    inception: int
    key_tag: int
    signer: str
    signature: bytes

    def to_text(self) -> str:
        return _join(
            type_to_text(self.type_covered),
            self.algorithm,
            self.labels,
            self.original_ttl,
            time32_to_text(self.expiration),
            time32_to_text(self.inception),
            self.key_tag,
            self.signer,
            base64_text(self.signature),
        )


class NSEC(NamedTuple):
    next_name: str
    types: tuple[int, ...]

    def to_text(self) -> str:
        return self.next_name + _types_text(self.types)


class NSEC3(NamedTuple):
    hash_algorithm: int
    flags: int
    iterations: int
    salt: bytes
    next_hashed: bytes
    types: tuple[int, ...]

    def to_text(self) -> str:
        return (
            f"{self.hash_algorithm} {self.flags} {self.iterations} "
            f"{hex_upper(self.salt) or '-'} {base32hex_text(self.next_hashed)}"
            + _types_text(self.types)
        )


class NSEC3PARAM(NamedTuple):
    hash_algorithm: int
    flags: int
    iterations: int
    salt: bytes

    def to_text(self) -> str:
        salt = hex_upper(self.salt) or "-"
        return f"{self.hash_algorithm} {self.flags} {self.iterations} {salt}"


class SSHFP(NamedTuple):
    algorithm: int
    fp_type: int
    fingerprint: bytes

    def to_text(self) -> str:
        return _join(self.algorithm, self.fp_type, hex_upper(self.fingerprint))


class TLSA(NamedTuple):
    """TLSA (RFC 6698) and SMIMEA (RFC 8162)."""

    usage: int
    selector: int
    matching_type: int
    data: bytes

    def to_text(self) -> str:
        return _join(self.usage, self.selector, self.matching_type, hex_upper(self.data))


class CSYNC(NamedTuple):
    serial: int
    flags: int
    types: tuple[int, ...]

    def to_text(self) -> str:
        return f"{self.serial} {self.flags}" + _types_text(self.types)


class ZONEMD(NamedTuple):
    serial: int
    scheme: int
    hash_algorithm: int
    digest: bytes

    def to_text(self) -> str:
        return _join(self.serial, self.scheme, self.hash_algorithm, hex_upper(self.digest))


class Base64Rdata(NamedTuple):
    """Types whose whole rdata is one blob shown as base64: OPENPGPKEY, DHCID."""

    data: bytes

    def to_text(self) -> str:
        return base64_text(self.data)


class EUI(NamedTuple):
    """EUI48 / EUI64 (RFC 7043): hyphen-separated lower-case hex."""

    address: bytes

    def to_text(self) -> str:
        return self.address.hex("-")


# SVCB parameter registry (RFC 9460 14.3.2) as BIND 9.18 knows it; other keys are keyNNNNN.
SVC_PARAM_KEYS = {
    0: "mandatory",
    1: "alpn",
    2: "no-default-alpn",
    3: "port",
    4: "ipv4hint",
    5: "ech",
    6: "ipv6hint",
}


class SVCB(NamedTuple):
    """SVCB and HTTPS (RFC 9460): priority, target, and (key, value) parameters."""

    priority: int
    target: str
    params: tuple[tuple[int, bytes], ...]

    def to_text(self) -> str:
        return " ".join([str(self.priority), self.target, *map(_svc_param_text, self.params)])


def _svc_param_text(param: tuple[int, bytes]) -> str:
    key, value = param
    name = SVC_PARAM_KEYS.get(key)
    if name is not None and not value:
        return name  # BIND prints a known key with an empty value bare ("ech")
    n = len(value)
    if key == 0 and n and n % 2 == 0:
        keys = struct.unpack(f"!{n // 2}H", value)
        return "mandatory=" + ",".join([SVC_PARAM_KEYS.get(k, f"key{k}") for k in keys])
    if key == 1:
        ids = _alpn_ids(value)
        if ids is not None:
            return 'alpn="' + ",".join(["".join([_ALPN[b] for b in i]) for i in ids]) + '"'
    elif key == 3 and n == 2:
        return f"port={_U16.unpack(value)[0]}"
    elif key == 4 and n % 4 == 0:
        addrs = [socket.inet_ntoa(value[i : i + 4]) for i in range(0, n, 4)]
        return "ipv4hint=" + ",".join(addrs)
    elif key == 5:
        return "ech=" + base64_text(value)
    elif key == 6 and n % 16 == 0:
        addrs = [socket.inet_ntop(socket.AF_INET6, value[i : i + 16]) for i in range(0, n, 16)]
        return "ipv6hint=" + ",".join(addrs)
    # Unknown keys, and known keys whose value does not fit their format, as quoted text.
    return f"key{key}" + (f"={quote_text(value)}" if value else "")


def _alpn_ids(value: bytes) -> list[bytes] | None:
    ids, pos = [], 0
    while pos < len(value):
        size = value[pos]
        if size == 0 or pos + 1 + size > len(value):
            return None
        ids.append(value[pos + 1 : pos + 1 + size])
        pos += 1 + size
    return ids


class Unknown(NamedTuple):
    """Any type without a decoder: RFC 3597 generic form."""

    data: bytes

    def to_text(self) -> str:
        return f"\\# {len(self.data)} {hex_upper(self.data)}" if self.data else "\\# 0"


def _join(*fields: object) -> str:
    # Empty blobs (a DS without digest) would otherwise leave a trailing space.
    return " ".join([s for s in map(str, fields) if s])


# --- decoders -------------------------------------------------------------------------------


def _fixed(size: int, buf: bytes, start: int, end: int) -> bytes:
    if end - start != size:
        raise RdataError(f"of {end - start} bytes at offset {start} (needs {size})")
    return buf[start:end]


def decode_a(buf: bytes, start: int, end: int, name: NameReader) -> A:
    return A(socket.inet_ntoa(_fixed(4, buf, start, end)))


def decode_aaaa(buf: bytes, start: int, end: int, name: NameReader) -> AAAA:
    return AAAA(socket.inet_ntop(socket.AF_INET6, _fixed(16, buf, start, end)))


def decode_domain_name(buf: bytes, start: int, end: int, name: NameReader) -> DomainName:
    target, pos = name(start, end)
    _done(pos, end)
    return DomainName(target)


def decode_name_pair(buf: bytes, start: int, end: int, name: NameReader) -> NamePair:
    first, pos = name(start, end)
    second, pos = name(pos, end)
    _done(pos, end)
    return NamePair(first, second)


def decode_soa(buf: bytes, start: int, end: int, name: NameReader) -> SOA:
    mname, pos = name(start, end)
    rname, pos = name(pos, end)
    _need(pos, 20, end)
    _done(pos + 20, end)
    return SOA(mname, rname, *_SOA_TAIL.unpack_from(buf, pos))


def decode_mx(buf: bytes, start: int, end: int, name: NameReader) -> MX:
    _need(start, 2, end)
    exchange, pos = name(start + 2, end)
    _done(pos, end)
    return MX(_U16.unpack_from(buf, start)[0], exchange)


def decode_txt(buf: bytes, start: int, end: int, name: NameReader) -> TXT:
    strings, pos = [], start
    while pos < end:
        text, pos = _string(buf, pos, end)
        strings.append(text)
    return TXT(tuple(strings))


def decode_hinfo(buf: bytes, start: int, end: int, name: NameReader) -> HINFO:
    cpu, pos = _string(buf, start, end)
    os_, pos = _string(buf, pos, end)
    _done(pos, end)
    return HINFO(cpu, os_)


def decode_srv(buf: bytes, start: int, end: int, name: NameReader) -> SRV:
    _need(start, 6, end)
    target, pos = name(start + 6, end)
    _done(pos, end)
    return SRV(*_SRV_HEAD.unpack_from(buf, start), target)


def decode_naptr(buf: bytes, start: int, end: int, name: NameReader) -> NAPTR:
    _need(start, 4, end)
    order, preference = _HEAD_HH.unpack_from(buf, start)
    flags, pos = _string(buf, start + 4, end)
    services, pos = _string(buf, pos, end)
    regexp, pos = _string(buf, pos, end)
    replacement, pos = name(pos, end)
    _done(pos, end)
    return NAPTR(order, preference, flags, services, regexp, replacement)


def decode_caa(buf: bytes, start: int, end: int, name: NameReader) -> CAA:
    _need(start, 1, end)
    tag, pos = _string(buf, start + 1, end)
    return CAA(buf[start], tag, buf[pos:end])


def decode_uri(buf: bytes, start: int, end: int, name: NameReader) -> URI:
    _need(start, 4, end)
    return URI(*_HEAD_HH.unpack_from(buf, start), buf[start + 4 : end])


def decode_ds(buf: bytes, start: int, end: int, name: NameReader) -> DS:
    _need(start, 4, end)
    return DS(*_DS_HEAD.unpack_from(buf, start), buf[start + 4 : end])


def decode_dnskey(buf: bytes, start: int, end: int, name: NameReader) -> DNSKEY:
    _need(start, 4, end)
    return DNSKEY(*_DNSKEY_HEAD.unpack_from(buf, start), buf[start + 4 : end])


def decode_rrsig(buf: bytes, start: int, end: int, name: NameReader) -> RRSIG:
    _need(start, 18, end)
    head = _RRSIG_HEAD.unpack_from(buf, start)
    signer, pos = name(start + 18, end)
    return RRSIG(*head, signer, buf[pos:end])


def decode_nsec(buf: bytes, start: int, end: int, name: NameReader) -> NSEC:
    next_name, pos = name(start, end)
    return NSEC(next_name, _type_bitmap(buf, pos, end))


def decode_nsec3(buf: bytes, start: int, end: int, name: NameReader) -> NSEC3:
    _need(start, 5, end)
    algorithm, flags, iterations = _NSEC3_HEAD.unpack_from(buf, start)
    salt, pos = _string(buf, start + 4, end)
    next_hashed, pos = _string(buf, pos, end)
    return NSEC3(algorithm, flags, iterations, salt, next_hashed, _type_bitmap(buf, pos, end))


def decode_nsec3param(buf: bytes, start: int, end: int, name: NameReader) -> NSEC3PARAM:
    _need(start, 5, end)
    algorithm, flags, iterations = _NSEC3_HEAD.unpack_from(buf, start)
    salt, pos = _string(buf, start + 4, end)
    _done(pos, end)
    return NSEC3PARAM(algorithm, flags, iterations, salt)


def decode_sshfp(buf: bytes, start: int, end: int, name: NameReader) -> SSHFP:
    _need(start, 2, end)
    return SSHFP(buf[start], buf[start + 1], buf[start + 2 : end])


def decode_tlsa(buf: bytes, start: int, end: int, name: NameReader) -> TLSA:
    _need(start, 3, end)
    return TLSA(buf[start], buf[start + 1], buf[start + 2], buf[start + 3 : end])


def decode_csync(buf: bytes, start: int, end: int, name: NameReader) -> CSYNC:
    _need(start, 6, end)
    serial, flags = _CSYNC_HEAD.unpack_from(buf, start)
    return CSYNC(serial, flags, _type_bitmap(buf, start + 6, end))


def decode_zonemd(buf: bytes, start: int, end: int, name: NameReader) -> ZONEMD:
    _need(start, 6, end)
    return ZONEMD(*_ZONEMD_HEAD.unpack_from(buf, start), buf[start + 6 : end])


def decode_base64(buf: bytes, start: int, end: int, name: NameReader) -> Base64Rdata:
    return Base64Rdata(buf[start:end])


def decode_eui48(buf: bytes, start: int, end: int, name: NameReader) -> EUI:
    return EUI(_fixed(6, buf, start, end))


def decode_eui64(buf: bytes, start: int, end: int, name: NameReader) -> EUI:
    return EUI(_fixed(8, buf, start, end))


def decode_svcb(buf: bytes, start: int, end: int, name: NameReader) -> SVCB:
    _need(start, 2, end)
    target, pos = name(start + 2, end)
    params = []
    while pos < end:
        _need(pos, 4, end)
        key, size = _HEAD_HH.unpack_from(buf, pos)
        _need(pos + 4, size, end)
        params.append((key, buf[pos + 4 : pos + 4 + size]))
        pos += 4 + size
    return SVCB(_U16.unpack_from(buf, start)[0], target, tuple(params))


def decode_unknown(buf: bytes, start: int, end: int, name: NameReader) -> Unknown:
    return Unknown(buf[start:end])


Decoder = Callable[[bytes, int, int, NameReader], Rdata]

# Decoders for any class.
DECODERS: dict[int, Decoder] = {
    2: decode_domain_name,  # NS
    3: decode_domain_name,  # MD
    4: decode_domain_name,  # MF
    5: decode_domain_name,  # CNAME
    6: decode_soa,
    7: decode_domain_name,  # MB
    8: decode_domain_name,  # MG
    9: decode_domain_name,  # MR
    12: decode_domain_name,  # PTR
    13: decode_hinfo,
    14: decode_name_pair,  # MINFO
    15: decode_mx,
    16: decode_txt,
    17: decode_name_pair,  # RP
    18: decode_mx,  # AFSDB
    21: decode_mx,  # RT
    24: decode_rrsig,  # SIG
    39: decode_domain_name,  # DNAME
    43: decode_ds,
    44: decode_sshfp,
    46: decode_rrsig,
    47: decode_nsec,
    48: decode_dnskey,
    49: decode_base64,  # DHCID
    50: decode_nsec3,
    51: decode_nsec3param,
    52: decode_tlsa,
    53: decode_tlsa,  # SMIMEA
    59: decode_ds,  # CDS
    60: decode_dnskey,  # CDNSKEY
    61: decode_base64,  # OPENPGPKEY
    62: decode_csync,
    63: decode_zonemd,
    99: decode_txt,  # SPF
    108: decode_eui48,
    109: decode_eui64,
    256: decode_uri,
    257: decode_caa,
}

# Class-specific types (RFC 3597 5): their rdata is only defined in class IN. In other
# classes they are shown in the generic form, as BIND does (CH A is a different format).
IN_DECODERS: dict[int, Decoder] = {
    **DECODERS,
    1: decode_a,
    28: decode_aaaa,
    33: decode_srv,
    35: decode_naptr,
    36: decode_mx,  # KX
    64: decode_svcb,
    65: decode_svcb,  # HTTPS
}
