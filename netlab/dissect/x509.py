"""X.509 certificates inside TLS Certificate messages, with Wireshark's field names.

A small DER walker (tag, length, bounded nesting) turns one certificate into the rows
tshark 4.0 shows under `tls.handshake.certificate`: the x509af structure (version,
serialNumber, algorithm.id, issuer/subject, validity as "2026-12-02 08:04:53 (UTC)",
subjectPublicKey, extensions, the signature), the name parts through x509if/x509sat
(x509sat.uTF8String, printableString, CountryName …), RSA keys through pkcs1 and the
extensions tshark decodes through x509ce (key identifiers, basic constraints, key
usage, extended key usage, subject alternative names). It also lists the protocols
Wireshark calls for a certificate (x509sat per name part, pkcs-1 for EC parameters,
x509ce per known extension), which frame.protocols names.

Bytes that are not DER give the rows up to the damage and the reason
(`certificate_rows` returns it; TLS marks the packet malformed). Work is linear in the
certificate's size; nesting is bounded.
"""

from __future__ import annotations

import datetime as dt
import socket

from netlab.dissect.model import Row, remember

MAX_DEPTH = 16

OID_NAMES = {
    "2.5.4.3": "id-at-commonName", "2.5.4.4": "id-at-surname", "2.5.4.5": "id-at-serialNumber",
    "2.5.4.6": "id-at-countryName", "2.5.4.7": "id-at-localityName",
    "2.5.4.8": "id-at-stateOrProvinceName", "2.5.4.9": "id-at-streetAddress",
    "2.5.4.10": "id-at-organizationName", "2.5.4.11": "id-at-organizationalUnitName",
    "2.5.4.12": "id-at-title", "2.5.4.17": "id-at-postalCode", "2.5.4.42": "id-at-givenName",
    "2.5.4.46": "id-at-dnQualifier", "2.5.4.65": "id-at-pseudonym",
    "1.2.840.113549.1.9.1": "pkcs-9-at-emailAddress",
    "1.2.840.113549.1.1.1": "rsaEncryption", "1.2.840.113549.1.1.4": "md5WithRSAEncryption",
    "1.2.840.113549.1.1.5": "sha1WithRSAEncryption", "1.2.840.113549.1.1.10": "id-RSASSA-PSS",
    "1.2.840.113549.1.1.11": "sha256WithRSAEncryption",
    "1.2.840.113549.1.1.12": "sha384WithRSAEncryption",
    "1.2.840.113549.1.1.13": "sha512WithRSAEncryption",
    "1.2.840.10045.2.1": "id-ecPublicKey", "1.2.840.10045.4.1": "ecdsa-with-SHA1",
    "1.2.840.10045.4.3.2": "ecdsa-with-SHA256", "1.2.840.10045.4.3.3": "ecdsa-with-SHA384",
    "1.2.840.10045.4.3.4": "ecdsa-with-SHA512", "1.2.840.10045.3.1.7": "secp256r1",
    "1.3.132.0.34": "secp384r1", "1.3.132.0.35": "secp521r1", "1.3.101.112": "id-Ed25519",
    "1.3.101.113": "id-Ed448",
    "2.5.29.14": "id-ce-subjectKeyIdentifier", "2.5.29.15": "id-ce-keyUsage",
    "2.5.29.17": "id-ce-subjectAltName", "2.5.29.18": "id-ce-issuerAltName",
    "2.5.29.19": "id-ce-basicConstraints", "2.5.29.31": "id-ce-cRLDistributionPoints",
    "2.5.29.32": "id-ce-certificatePolicies", "2.5.29.35": "id-ce-authorityKeyIdentifier",
    "2.5.29.37": "id-ce-extKeyUsage", "1.3.6.1.5.5.7.1.1": "id-pe-authorityInfoAccess",
    "1.3.6.1.5.5.7.3.1": "id-kp-serverAuth", "1.3.6.1.5.5.7.3.2": "id-kp-clientAuth",
    "1.3.6.1.5.5.7.3.3": "id-kp-codeSigning", "1.3.6.1.5.5.7.3.4": "id-kp-emailProtection",
    "1.3.6.1.5.5.7.3.8": "id-kp-timeStamping", "1.3.6.1.5.5.7.3.9": "id-kp-OCSPSigning",
    "1.3.6.1.5.5.7.48.1": "id-ad-ocsp", "1.3.6.1.5.5.7.48.2": "id-ad-caIssuers",
}  # fmt: skip
# DirectoryString's choices (x509sat): DER tag -> (index, field suffix)
_DIRECTORY = {0x14: (0, "teletexString"), 0x13: (1, "printableString"),
              0x1C: (2, "universalString"), 0x1E: (3, "bmpString"), 0x0C: (4, "uTF8String")}  # fmt: skip
_STRING_TAGS = {0x0C: "utf-8", 0x13: "latin-1", 0x14: "latin-1", 0x16: "latin-1",
                0x1E: "utf-16-be", 0x1C: "utf-32-be"}  # fmt: skip
_KEY_USAGE = ("digitalSignature", "contentCommitment", "keyEncipherment", "dataEncipherment",
              "keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly")  # fmt: skip
_GENERAL_NAMES = {0: "otherName", 1: "rfc822Name", 2: "dNSName", 3: "x400Address",
                  4: "directoryName", 5: "ediPartyName", 6: "uniformResourceIdentifier",
                  7: "iPAddress", 8: "registeredID"}  # fmt: skip


class DerError(ValueError):
    """Bytes that are not the DER they should be."""


def tlv(buf: bytes, p: int, end: int) -> tuple[int, int, int]:
    """The element at p: (tag, content start, content end)."""
    if p + 2 > end:
        raise DerError(f"element header cut short at byte {p}")
    tag = buf[p]
    if tag & 0x1F == 0x1F:
        raise DerError(f"multi-byte tag at byte {p}")
    first = buf[p + 1]
    q = p + 2
    if first < 0x80:
        length = first
    elif first == 0x80 or first > 0x84:
        raise DerError(f"length form 0x{first:02x} at byte {p + 1}")
    else:
        n = first & 0x7F
        if q + n > end:
            raise DerError(f"length cut short at byte {p + 1}")
        length = int.from_bytes(buf[q : q + n], "big")
        q += n
    if q + length > end:
        raise DerError(f"element of {length} bytes at byte {p} runs past its container")
    return tag, q, q + length


def oid_text(data: bytes) -> str:
    if not data or data[-1] & 0x80:
        raise DerError("bad object identifier")
    parts = []
    value = 0
    for byte in data:
        value = value << 7 | byte & 0x7F
        if not byte & 0x80:
            parts.append(value)
            value = 0
    first = parts[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(map(str, head + parts[1:]))


def oid_name(oid: str) -> str:
    return OID_NAMES.get(oid) or _oid_path(oid)


def _oid_path(oid: str) -> str:
    """An OID tshark knows no name for, as it shows it: its first arc named."""
    first, _, rest = oid.partition(".")
    root = {"0": "itu-t", "1": "iso", "2": "joint-iso-itu-t"}.get(first, first)
    return f"{root}.{rest}" if rest else root


def _oid_show(label: str, oid: str) -> str:
    return f"{label}: {oid} ({oid_name(oid)})"


def _string(tag: int, data: bytes) -> str:
    return data.decode(_STRING_TAGS.get(tag, "latin-1"), "replace")


def _time(tag: int, data: bytes) -> str:
    """UTCTime/GeneralizedTime as tshark 4.0 shows them: "2026-12-02 08:04:53 (UTC)"."""
    text = data.decode("ascii", "replace")
    try:
        if tag == 0x17:
            year = int(text[0:2])
            year += 2000 if year < 50 else 1900
            rest = text[2:]
        else:
            year = int(text[0:4])
            rest = text[4:]
        when = dt.datetime(year, int(rest[0:2]), int(rest[2:4]), int(rest[4:6]),
                           int(rest[6:8]), int(rest[8:10]))  # fmt: skip
    except (ValueError, IndexError):
        return text
    if tag == 0x18:  # (tshark shows a GeneralizedTime as an absolute time)
        return f"{when:%b} {when.day:2d}, {when:%Y %H:%M:%S}.000000000 UTC"
    return when.strftime("%Y-%m-%d %H:%M:%S") + " (UTC)"


class _Walk:
    """One certificate's rows, and the protocols Wireshark calls for its parts."""

    def __init__(self, buf: bytes, depth: int) -> None:
        self.buf = buf
        self.base = depth
        self.rows: list[Row] = []
        self.protocols: list[str] = []
        self.subject = ""

    def add(self, depth: int, name: str, value, show, off: int, length: int) -> None:
        self.rows.append((self.base + depth, name, value, show, off, length))

    def seq(self, p: int, end: int, what: str, tag: int = 0x30) -> tuple[int, int, int]:
        t, s, e = tlv(self.buf, p, end)
        if t != tag:
            raise DerError(f"{what}: tag 0x{t:02x} where 0x{tag:02x} belongs, at byte {p}")
        return s, e, e

    def object_id(self, p: int, end: int, bad: str) -> tuple[str, int, int]:
        """The OBJECT IDENTIFIER at p: (its dotted text, content start, content end).
        `bad` words the error, with {p} the position."""
        t, s, e = tlv(self.buf, p, end)
        if t != 0x06:
            raise DerError(bad.format(p=p))
        return oid_text(bytes(self.buf[s:e])), s, e

    def bit_string(
        self, p: int, end: int, depth: int, bad: str, padding_row: bool = True
    ) -> tuple[bytes, int]:
        """The BIT STRING at p, after its padding count's row: (its bits, where they
        start). `bad` words the error, with {t} the tag found and {p} the position."""
        t, cs, ce = tlv(self.buf, p, end)
        if t != 0x03 or ce == cs:
            raise DerError(bad.format(t=t, p=p))
        if padding_row:
            padding = self.buf[cs]
            self.add(depth, "ber.bitstring.padding", padding, f"Padding: {padding}", cs, 1)
        return bytes(self.buf[cs + 1 : ce]), cs + 1

    def count(self, depth: int, name: str, label: str, n: int, off: int, length: int) -> None:
        """A SEQUENCE OF's row: its value is the count, "label: 3 items"."""
        self.add(depth, name, n, f"{label}: {n} item{'s' * (n != 1)}", off, length)

    def sequence_of(self, s: int, e: int, name: str, label: str) -> list[tuple[int, int, int]]:
        """The elements of the SEQUENCE OF `label` that is an extension's value (s..e),
        after its count row."""
        cs, ce, _ = self.seq(s, e, label)
        found = self.items(cs, ce)
        self.count(3, name, label, len(found), s, e - s)
        return found

    def element(self, depth: int, name: str, label: str, s: int, e: int) -> None:
        """The row of a SEQUENCE whose content is s..e, its tag and length before it (the
        short form: 2 bytes, as every element of a SEQUENCE OF here)."""
        self.add(depth, name, "", label, s - 2, e - s + 2)

    def certificate(self, p: int, end: int) -> None:
        buf = self.buf
        s, e, _ = self.seq(p, end, "Certificate")
        # signedCertificate (TBSCertificate)
        ts, te, after = self.seq(s, e, "signedCertificate")
        self.add(0, "x509af.signedCertificate_element", "", "signedCertificate", s, after - s)
        q = ts
        t, cs, ce = tlv(buf, q, te)
        if t == 0xA0:  # [0] EXPLICIT version
            _vt, vs, ve = tlv(buf, cs, ce)
            version = int.from_bytes(buf[vs:ve], "big")
            self.add(
                1, "x509af.version", version, f"version: v{version + 1} ({version})", vs, ve - vs
            )
            q = ce
        t, cs, ce = tlv(buf, q, te)
        if t != 0x02:
            raise DerError(f"serialNumber: tag 0x{t:02x} at byte {q}")
        serial = bytes(buf[cs:ce])
        self.add(1, "x509af.serialNumber", serial, f"serialNumber: 0x{serial.hex()}", cs, ce - cs)
        q = ce
        q = self.algorithm(q, te, 1, "x509af.signature_element", "signature")
        q = self.name(q, te, 1, "x509af.issuer", "issuer", "x509if.rdnSequence")
        vs, ve, q = self.seq(q, te, "validity")
        self.element(1, "x509af.validity_element", "validity", vs, ve)
        r = vs
        for label in ("notBefore", "notAfter"):
            t, cs, ce = tlv(buf, r, ve)
            if t not in (0x17, 0x18):
                raise DerError(f"{label}: tag 0x{t:02x} at byte {r}")
            choice, kind = (0, "utcTime") if t == 0x17 else (1, "generalizedTime")
            self.add(2, f"x509af.{label}", choice, f"{label}: {kind} ({choice})", r, ce - r)
            text = _time(t, bytes(buf[cs:ce]))
            self.add(3, f"x509af.{kind}", text, f"{kind}: {text}", cs, ce - cs)
            r = ce
        q = self.name(q, te, 1, "x509af.subject", "subject", "x509af.rdnSequence")
        q = self.public_key(q, te)
        while q < te:
            t, cs, ce = tlv(buf, q, te)
            if t == 0xA3:
                self.extensions(cs, ce)
            q = ce
        q = after
        q = self.algorithm(q, e, 0, "x509af.algorithmIdentifier_element", "algorithmIdentifier")
        sig, at = self.bit_string(q, e, 0, "signature: tag 0x{t:02x} at byte {p}")
        self.add(0, "x509af.encrypted", sig, f"encrypted: {_short_hex(sig)}", at, len(sig))

    def algorithm(self, p: int, end: int, depth: int, name: str, label: str) -> int:
        s, e, after = self.seq(p, end, label)
        oid, cs, ce = self.object_id(s, e, label + ": no algorithm identifier at byte {p}")
        self.add(depth, name, "", f"{label} ({oid_name(oid)})", p, after - p)
        self.add(depth + 1, "x509af.algorithm.id", oid, _oid_show("Algorithm Id", oid), cs, ce - cs)
        return after

    def name(self, p: int, end: int, depth: int, field: str, label: str, seq_field: str) -> int:
        s, e, after = self.seq(p, end, label)
        self.add(depth, field, 0, f"{label}: rdnSequence (0)", p, after - p)
        rdns, summary = self.rdn_list(s, e)
        n = len(rdns)
        self.add(depth + 1, seq_field, n,
                 f"rdnSequence: {n} item{'s' * (n != 1)} ({summary})", s, e - s)  # fmt: skip
        if label == "subject":
            self.subject = summary
        self.rdn_rows(rdns, depth + 2)
        return after

    def rdn_list(self, s: int, e: int) -> tuple[list, str]:
        """The RelativeDistinguishedNames in s..e, and the name as tshark sums it up
        (last part first)."""
        buf = self.buf
        rdns = []
        q = s
        while q < e:
            rs, re_, q2 = self.seq(q, e, "RelativeDistinguishedName", 0x31)
            items = []
            r = rs
            while r < re_:
                as_, ae, r2 = self.seq(r, re_, "AttributeTypeAndValue")
                t, os_, oe = tlv(buf, as_, ae)
                if t != 0x06:
                    raise DerError(f"attribute type at byte {as_}")
                oid = oid_text(bytes(buf[os_:oe]))
                vt, vs, ve = tlv(buf, oe, ae)
                items.append((r, r2, oid, os_, oe, vt, vs, ve, oe))
                r = r2
            text = ",".join(f"{oid_name(i[2])}={_string(i[5], bytes(buf[i[6] : i[7]]))}"
                            for i in items)  # fmt: skip
            rdns.append((q, q2, items, text))
            q = q2
        return rdns, ",".join(reversed([r[3] for r in rdns]))

    def rdn_rows(self, rdns: list, depth: int) -> None:
        buf = self.buf
        for a, b, items, text in rdns:
            k = len(items)
            self.add(depth, "x509if.RDNSequence_item", k,
                     f"RDNSequence item: {k} item{'s' * (k != 1)} ({text})", a, b - a)  # fmt: skip
            for ia, ib, oid, os_, oe, vt, vs, ve, vo in items:
                value = _string(vt, bytes(buf[vs:ve]))
                self.add(depth + 1, "x509if.RelativeDistinguishedName_item_element", "",
                         f"RelativeDistinguishedName item ({oid_name(oid)}={value})", ia, ib - ia)  # fmt: skip
                self.add(depth + 2, "x509if.oid", oid, _oid_show("Object Id", oid), os_, oe - os_)
                self.attribute(depth + 2, oid, vt, vs, ve, vo, value)

    def attribute(
        self, depth: int, oid: str, tag: int, s: int, e: int, at: int, value: str
    ) -> None:
        if oid in ("2.5.4.5", "2.5.4.46"):  # serialNumber, dnQualifier: PrintableString
            self.protocols.append("x509sat")
            self.add(depth, "x509sat.PrintableString", value, f"PrintableString: {value}", s, e - s)
        elif oid == "2.5.4.6":
            self.protocols.append("x509sat")
            self.add(depth, "x509sat.CountryName", value, f"CountryName: {value}", s, e - s)
        elif oid.startswith("2.5.4.") and tag in _DIRECTORY:
            self.protocols.append("x509sat")
            index, kind = _DIRECTORY[tag]
            self.add(depth, "x509sat.DirectoryString", index,
                     f"DirectoryString: {kind} ({index})", at, e - at)  # fmt: skip
            self.add(depth + 1, f"x509sat.{kind}", value, f"{kind}: {value}", s, e - s)
        elif oid == "1.2.840.113549.1.9.1":  # pkcs-9 emailAddress, an IA5String
            self.protocols.append("x509sat")
            self.add(depth, "x509sat.IA5String", value, f"IA5String: {value}", s, e - s)

    def public_key(self, p: int, end: int) -> int:
        buf = self.buf
        s, e, after = self.seq(p, end, "subjectPublicKeyInfo")
        self.add(1, "x509af.subjectPublicKeyInfo_element", "", "subjectPublicKeyInfo", p, after - p)
        as_, ae, q = self.seq(s, e, "algorithm")
        oid, os_, oe = self.object_id(as_, ae, "key algorithm at byte {p}")
        self.add(2, "x509af.algorithm_element", "", f"algorithm ({oid_name(oid)})", s, q - s)
        self.add(3, "x509af.algorithm.id", oid, _oid_show("Algorithm Id", oid), os_, oe - os_)
        if oe < ae and oid == "1.2.840.10045.2.1":
            pt, ps, pe = tlv(buf, oe, ae)
            if pt == 0x06:
                curve = oid_text(bytes(buf[ps:pe]))
                self.protocols.append("pkcs-1")
                self.add(3, "pkcs1.ECParameters", 1, "ECParameters: namedCurve (1)", oe, pe - oe)
                self.add(4, "pkcs1.namedCurve", curve, _oid_show("namedCurve", curve), ps, pe - ps)
        rsa = oid == "1.2.840.113549.1.1.1"  # (no padding row for an RSA key, as tshark)
        key, ks = self.bit_string(q, e, 2, "subjectPublicKey at byte {p}", padding_row=not rsa)
        ke = ks + len(key)
        self.add(2, "x509af.subjectPublicKey", key, f"subjectPublicKey: {_short_hex(key)}",
                 ks, ke - ks)  # fmt: skip
        if rsa:
            ms, me, _ = self.seq(ks, ke, "RSAPublicKey")
            t, ns, ne = tlv(buf, ms, me)
            t2, xs, xe = tlv(buf, ne, me)
            if t != 0x02 or t2 != 0x02:
                raise DerError(f"RSA key at byte {ms}")
            modulus = bytes(buf[ns:ne])
            self.add(3, "pkcs1.modulus", modulus, f"modulus: 0x{_short_hex(modulus)}", ns, ne - ns)
            exponent = int.from_bytes(buf[xs:xe], "big")
            self.add(
                3, "pkcs1.publicExponent", exponent, f"publicExponent: {exponent}", xs, xe - xs
            )
        return after

    def extensions(self, p: int, end: int) -> None:
        buf = self.buf
        s, e, _ = self.seq(p, end, "extensions")
        found = []
        q = s
        while q < e:
            xs, xe, q2 = self.seq(q, e, "Extension")
            found.append((q, q2, xs, xe))
            q = q2
        self.count(1, "x509af.extensions", "extensions", len(found), p - 2, e - p + 2)
        for a, b, xs, xe in found:
            oid, os_, oe = self.object_id(xs, xe, "extension id at byte {p}")
            self.add(2, "x509af.Extension_element", "", f"Extension ({oid_name(oid)})", a, b - a)
            self.add(3, "x509af.extension.id", oid, _oid_show("Extension Id", oid), os_, oe - os_)
            r = oe
            t, cs, ce = tlv(buf, r, xe)
            if t == 0x01:
                critical = any(buf[cs:ce])
                self.add(3, "x509af.critical", critical, f"critical: {critical}", cs, ce - cs)
                r = ce
                t, cs, ce = tlv(buf, r, xe)
            if t != 0x04:
                raise DerError(f"extension value at byte {r}")
            if oid.startswith("2.5.29."):
                self.protocols.append("x509ce")
                self.extension(oid, cs, ce)
            elif oid == "1.3.6.1.5.5.7.1.1":
                self.protocols.append("pkix1implicit")
                if cs < ce:
                    self.authority_info(cs, ce)

    def extension(self, oid: str, s: int, e: int) -> None:
        buf = self.buf
        if s == e:
            return
        if oid == "2.5.29.14":
            t, cs, ce = tlv(buf, s, e)
            value = bytes(buf[cs:ce])
            self.add(3, "x509ce.SubjectKeyIdentifier", value,
                     f"SubjectKeyIdentifier: {value.hex()}", cs, ce - cs)  # fmt: skip
        elif oid == "2.5.29.35":
            cs, ce, _ = self.seq(s, e, "AuthorityKeyIdentifier")
            self.add(3, "x509ce.AuthorityKeyIdentifier_element", "", "AuthorityKeyIdentifier",
                     s, e - s)  # fmt: skip
            q = cs
            while q < ce:
                t, vs, ve = tlv(buf, q, ce)
                if t == 0x80:
                    value = bytes(buf[vs:ve])
                    self.add(4, "x509ce.keyIdentifier", value, f"keyIdentifier: {value.hex()}",
                             vs, ve - vs)  # fmt: skip
                q = ve
        elif oid == "2.5.29.19":
            cs, ce, _ = self.seq(s, e, "BasicConstraintsSyntax")
            empty = " [0 length]" if cs == ce else ""
            self.add(3, "x509ce.BasicConstraintsSyntax_element", "",
                     f"BasicConstraintsSyntax{empty}", s, e - s)  # fmt: skip
            q = cs
            while q < ce:
                t, vs, ve = tlv(buf, q, ce)
                if t == 0x01:
                    ca = any(buf[vs:ve])
                    self.add(4, "x509ce.cA", ca, f"cA: {ca}", vs, ve - vs)
                elif t == 0x02:
                    n = int.from_bytes(buf[vs:ve], "big")
                    self.add(
                        4, "x509ce.pathLenConstraint", n, f"pathLenConstraint: {n}", vs, ve - vs
                    )
                q = ve
        elif oid == "2.5.29.15":
            bits, at = self.bit_string(s, e, 3, "keyUsage at byte {p}")
            self.add(3, "x509ce.KeyUsage", bits, f"KeyUsage: {bits.hex()}", at, len(bits))
            value = int.from_bytes((bits + b"\0\0")[:2], "big")
            for i, label in enumerate(_KEY_USAGE):
                bit = bool(value >> (15 - i) & 1)
                pos = i % 8
                diagram = "".join("1" if (j == pos and bit) else "0" if j == pos else "."
                                  for j in range(8))  # fmt: skip
                diagram = diagram[:4] + " " + diagram[4:]
                self.add(4, f"x509ce.KeyUsage.{label}", bit, f"{diagram} = {label}: {bit}",
                         at, len(bits))  # fmt: skip
        elif oid == "2.5.29.37":
            cs, ce, _ = self.seq(s, e, "KeyPurposeIDs")
            ids = [(oid_text(bytes(buf[vs:ve])), vs, ve)
                   for t, vs, ve in self.items(cs, ce) if t == 0x06]  # fmt: skip
            self.count(3, "x509ce.KeyPurposeIDs", "KeyPurposeIDs", len(ids), s, e - s)
            for value, vs, ve in ids:
                self.add(4, "x509ce.KeyPurposeId", value, _oid_show("KeyPurposeId", value),
                         vs, ve - vs)  # fmt: skip
        elif oid in ("2.5.29.17", "2.5.29.18"):
            for t, vs, ve in self.sequence_of(s, e, "x509ce.GeneralNames", "GeneralNames"):
                self.general_name(4, t, vs, ve)
        elif oid == "2.5.29.31":  # cRLDistributionPoints: the full names
            points = self.sequence_of(s, e, "x509ce.CRLDistPointsSyntax", "CRLDistPointsSyntax")
            for _t, ps, pe in points:
                self.element(4, "x509ce.DistributionPoint_element", "DistributionPoint", ps, pe)
                for t, vs, ve in self.items(ps, pe):
                    if t != 0xA0:
                        continue
                    for t2, ns, ne in self.items(vs, ve):
                        if t2 != 0xA0:
                            continue
                        self.add(5, "x509ce.distributionPoint", 0, "distributionPoint: fullName (0)",
                                 ns, ne - ns)  # fmt: skip
                        names = self.items(ns, ne)
                        self.count(6, "x509ce.fullName", "fullName", len(names), ns, ne - ns)
                        for t3, gs, ge in names:
                            self.general_name(7, t3, gs, ge)
        elif oid == "2.5.29.32":  # certificatePolicies: the policies' identifiers
            policies = self.sequence_of(
                s, e, "x509ce.CertificatePoliciesSyntax", "CertificatePoliciesSyntax"
            )
            for _t, ps, pe in policies:
                self.element(4, "x509ce.PolicyInformation_element", "PolicyInformation", ps, pe)
                t, vs, ve = tlv(buf, ps, pe)
                if t == 0x06:
                    policy = oid_text(bytes(buf[vs:ve]))
                    self.add(5, "x509ce.policyIdentifier", policy,
                             _oid_show("policyIdentifier", policy), vs, ve - vs)  # fmt: skip

    def authority_info(self, s: int, e: int) -> None:
        """id-pe-authorityInfoAccess (Wireshark's pkix1implicit): each access method and
        its location."""
        buf = self.buf
        found = self.sequence_of(
            s, e, "pkix1implicit.AuthorityInfoAccessSyntax", "AuthorityInfoAccessSyntax"
        )
        for _t, ds, de in found:
            self.element(4, "pkix1implicit.AccessDescription_element", "AccessDescription", ds, de)
            t, vs, ve = tlv(buf, ds, de)
            if t != 0x06:
                continue
            method = oid_text(bytes(buf[vs:ve]))
            self.add(
                5,
                "pkix1implicit.accessMethod",
                method,
                _oid_show("accessMethod", method),
                vs,
                ve - vs,
            )
            if ve < de:
                lt, ls, le = tlv(buf, ve, de)
                choice = lt & 0x1F
                self.add(
                    5,
                    "pkix1implicit.accessLocation",
                    choice,
                    f"accessLocation: {choice}",
                    ls,
                    le - ls,
                )
                self.general_value(6, choice, ls, le)

    def items(self, s: int, e: int) -> list[tuple[int, int, int]]:
        """The elements in s..e: [(tag, content start, content end)]."""
        out = []
        q = s
        while q < e:
            t, vs, ve = tlv(self.buf, q, e)
            out.append((t, vs, ve))
            q = ve
        return out

    def general_name(self, depth: int, tag: int, vs: int, ve: int) -> None:
        choice = tag & 0x1F
        kind = _GENERAL_NAMES.get(choice, str(choice))
        self.add(
            depth, "x509ce.GeneralName", choice, f"GeneralName: {kind} ({choice})", vs, ve - vs
        )
        self.general_value(depth + 1, choice, vs, ve)

    def general_value(self, depth: int, choice: int, vs: int, ve: int) -> None:
        data = bytes(self.buf[vs:ve])
        kind = _GENERAL_NAMES.get(choice, str(choice))
        if choice in (1, 2, 6):
            text = data.decode("latin-1")
            self.add(depth, f"x509ce.{kind}", text, f"{kind}: {text}", vs, ve - vs)
        elif choice == 7 and len(data) == 4:
            text = socket.inet_ntoa(data)
            self.add(depth, "x509ce.IPAddress.ipv4", text, f"iPAddress: {text}", vs, 4)
        elif choice == 7 and len(data) == 16:
            text = socket.inet_ntop(socket.AF_INET6, data)
            self.add(depth, "x509ce.IPAddress.ipv6", text, f"iPAddress: {text}", vs, 16)


def _short_hex(data: bytes) -> str:
    text = data.hex()
    return text if len(text) <= 72 else text[:72] + "…"


def certificate_rows(
    buf: bytes, off: int, end: int, depth: int
) -> tuple[list[Row], list[str], str, str | None]:
    """(rows, protocols called, subject text, error) for the DER certificate in
    buf[off:end]; rows go as deep as the certificate is sound. Every handshake with a
    server brings the same chain: a whole DER item's answer is made once (a few dozen
    kept), and callers share it, so they must not change the lists."""
    if off or end != len(buf):
        return _certificate_rows(buf, off, end, depth)
    key = (bytes(buf), depth)
    found = _CERTIFICATES.get(key)
    if found is None:
        found = remember(_CERTIFICATES, key, _certificate_rows(buf, off, end, depth), 64)
    return found


_CERTIFICATES: dict[tuple[bytes, int], tuple] = {}


def _certificate_rows(
    buf: bytes, off: int, end: int, depth: int
) -> tuple[list[Row], list[str], str, str | None]:
    walk = _Walk(buf, depth)
    try:
        walk.certificate(off, end)
    except (DerError, IndexError, ValueError) as err:
        return walk.rows, walk.protocols, walk.subject, f"certificate at byte {off}: {err}"
    return walk.rows, walk.protocols, walk.subject, None


def name_rows(
    buf: bytes, off: int, end: int, depth: int
) -> tuple[list[Row], list[str], str, str | None]:
    """(rows, protocols called, summary, error) for a DER Name (a SEQUENCE of
    RelativeDistinguishedNames) in buf[off:end], as TLS's Distinguished Names show it:
    the RDN items from `depth`, no rdnSequence item around them."""
    walk = _Walk(buf, depth)
    try:
        s, e, _ = walk.seq(off, end, "Name")
        rdns, summary = walk.rdn_list(s, e)
        walk.rdn_rows(rdns, 0)
    except (DerError, IndexError, ValueError) as err:
        return walk.rows, walk.protocols, "", f"distinguished name at byte {off}: {err}"
    return walk.rows, walk.protocols, summary, None


def certificate_error(der: bytes) -> str | None:
    """Why a certificate is not sound DER, or None (the fast path's check)."""
    return certificate_rows(der, 0, len(der), 0)[3]


def certificate_protocols(der: bytes) -> list[str]:
    return certificate_rows(der, 0, len(der), 0)[1]
