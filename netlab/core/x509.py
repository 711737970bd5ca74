"""X.509 certificates: read them, describe them, make them, and verify a chain.

Pure: bytes and `now` in, objects and verdicts out (no file, no socket, no clock).
Built on the `cryptography` package.

`verify_chain` gives the verdict of `openssl verify` (OpenSSL 3's `X509_verify_cert`
with its default flags) and explains it step by step:

1. the chain is built the way OpenSSL builds it (trusted issuers first, then the
   untrusted ones, an issuer being a certificate whose subject is the issuer name,
   whose subjectKeyIdentifier matches the authorityKeyIdentifier and whose key type
   fits the signature algorithm); it must end at a self-signed certificate of the
   trust store;
2. extensions: no unknown critical extension, every issuer a CA (basicConstraints
   CA:TRUE, and keyCertSign when keyUsage is there), pathLenConstraint respected;
3. the name (`name=`) against the leaf's subjectAltName (DNS or IP; the subject CN
   only when there is no DNS name, as OpenSSL does);
4. from the trust anchor down: each issuer may sign certificates (keyUsage), each
   signature verifies with the issuer's key, each validity window contains `now`.

The first failure is OpenSSL's error (code, text, depth), named by `reason`. The
same chain is then given to `cryptography.x509.verification` (a second, independent
path validator, RFC 5280); the verdict is OK only if both accept it. Where that
verifier's profile asks for more than OpenSSL does (X.509 v1 certificates, RSA keys
under 2048 bits, SHA-1 or DSA signatures, a trust anchor without basicConstraints, a
leaf without subjectAltName when a name is checked) it does not apply, and the
check says why.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from netlab.errors import InputError

# Real trust stores hold old certificates cryptography frowns upon (a serial that is not
# positive, …): read them quietly, as openssl does; a warning on stderr would break the
# one-line error contract. Scoped to this module's calls.
warnings.filterwarnings(
    "ignore", category=CryptographyDeprecationWarning, module=r"netlab\.core\.x509"
)

# What the cryptography package raises on malformed or unsupported input it parses
# lazily (names, extensions, keys): caught where that input is read.
_PARSE_ERRORS = (
    ValueError,
    TypeError,
    UnsupportedAlgorithm,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)

# --- limits --------------------------------------------------------------------------

MAX_FILE_BYTES = 10 * 1024 * 1024  # a certificate file larger than this is refused
MAX_CERTS = 1000  # and so is one holding more certificates than this
MAX_DEPTH = 100  # OpenSSL's default verify depth: a chain of at most 101 certificates

# --- reading -------------------------------------------------------------------------

_CERT_LABELS = ("CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE")
_PEM_LABEL = re.compile(rb"[A-Z0-9 ]{1,64}")


def _pem_blocks(data: bytes, source: str) -> list[tuple[str, bytes]]:
    """(label, DER) of each PEM block, in one pass over DATA (linear however the file
    is made); a BEGIN without its END, or a BEGIN inside a block, is an error."""
    blocks: list[tuple[str, bytes]] = []
    pos = 0

    def truncated() -> InputError:
        return InputError(f"{source}: truncated PEM: block {len(blocks) + 1} has no END line")

    while True:
        begin = data.find(b"-----BEGIN ", pos)
        if begin < 0:
            return blocks
        label_end = data.find(b"-----", begin + 11, begin + 11 + 65)
        label = data[begin + 11 : label_end]
        if label_end < 0 or not _PEM_LABEL.fullmatch(label):
            raise InputError(f"{source}: malformed PEM BEGIN line at byte {begin}")
        body_start = label_end + 5
        end = data.find(b"-----END ", body_start)
        if end < 0 or data.find(b"-----BEGIN ", body_start, end) >= 0:
            raise truncated()
        end_label_end = data.find(b"-----", end + 9, end + 9 + 65)
        if end_label_end < 0:
            raise truncated()
        if data[end + 9 : end_label_end] != label:
            raise InputError(
                f"{source}: PEM block BEGIN {label.decode()} ends with END "
                f"{data[end + 9 : end_label_end].decode(errors='replace')}"
            )
        text = b"".join(data[body_start:end].split())
        try:
            der = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise InputError(
                f"{source}: PEM block {len(blocks) + 1} ({label.decode()}) is not valid base64"
            ) from None
        blocks.append((label.decode(), der))
        pos = end_label_end + 5


def _der_length(data: bytes, off: int, source: str) -> int:
    """Total size (header + content) of the DER element at OFF, checked against the data."""
    size = len(data)
    if off + 2 > size:
        raise InputError(f"{source}: malformed DER: cut short at byte {off}")
    if data[off] != 0x30:
        raise InputError(
            f"{source}: malformed DER at byte {off}: a certificate is a SEQUENCE (0x30), "
            f"found 0x{data[off]:02x}"
        )
    first = data[off + 1]
    if first < 0x80:
        header, length = 2, first
    else:
        count = first & 0x7F
        if count == 0 or count > 4:
            raise InputError(f"{source}: malformed DER at byte {off}: bad length field")
        if off + 2 + count > size:
            raise InputError(f"{source}: malformed DER: cut short at byte {off}")
        header = 2 + count
        length = int.from_bytes(data[off + 2 : off + 2 + count], "big")
    if off + header + length > size:
        raise InputError(
            f"{source}: malformed DER: the SEQUENCE at byte {off} claims {length} bytes, "
            f"only {size - off - header} follow"
        )
    return header + length


def _der_elements(data: bytes, source: str) -> list[bytes]:
    out, off = [], 0
    while off < len(data):
        if data[off] in b"\r\n\t \x00" and not data[off:].strip(b"\r\n\t \x00"):
            break  # trailing white space or padding
        n = _der_length(data, off, source)
        out.append(data[off : off + n])
        if len(out) > MAX_CERTS:
            raise InputError(f"{source}: more than {MAX_CERTS} certificates in one file")
        off += n
    return out


def _check_size(data: bytes, source: str) -> None:
    if len(data) > MAX_FILE_BYTES:
        raise InputError(
            f"{source}: {len(data):,} bytes is over the {MAX_FILE_BYTES // (1024 * 1024)} MiB "
            "limit for certificate files"
        )


def is_pem(data: bytes) -> bool:
    return b"-----BEGIN " in data


def parse_certificates(data: bytes, source: str = "input") -> list[x509.Certificate]:
    """Every certificate in DATA (PEM: all CERTIFICATE blocks; DER: one or more
    concatenated). Bounded: MAX_FILE_BYTES, MAX_CERTS. Anything malformed raises
    `InputError` naming SOURCE, on one line."""
    _check_size(data, source)
    if is_pem(data):
        begins = data.count(b"-----BEGIN ")
        if begins > MAX_CERTS:
            raise InputError(
                f"{source}: {begins:,} PEM blocks: more than the {MAX_CERTS} certificates "
                "one file may hold"
            )
        blocks = _pem_blocks(data, source)
        ders = [der for label, der in blocks if label in _CERT_LABELS]
        if not ders:
            found = ", ".join(sorted({label for label, _ in blocks})) or "nothing"
            raise InputError(f"{source}: no CERTIFICATE block (found {found})")
    elif not data.strip():
        raise InputError(f"{source}: empty file, no certificate")
    elif data[:1] == b"\x30":
        ders = _der_elements(data, source)
    else:
        raise InputError(f"{source}: not a certificate: neither PEM nor DER")
    certs = []
    for i, der in enumerate(ders, 1):
        where = f"{source}: certificate {i}" if len(ders) > 1 else source
        try:
            cert = x509.load_der_x509_certificate(der)
            # Names are parsed lazily; parse them now so a bad one fails here, named.
            cert.subject.rfc4514_string()
            cert.issuer.rfc4514_string()
        except _PARSE_ERRORS as err:
            raise InputError(f"{where}: malformed certificate (ASN.1): {_one_line(err)}") from None
        certs.append(cert)
    return certs


def parse_csr(data: bytes, source: str = "input") -> x509.CertificateSigningRequest:
    _check_size(data, source)
    try:
        if is_pem(data):
            blocks = [
                der
                for label, der in _pem_blocks(data, source)
                if label in ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST")
            ]
            if not blocks:
                raise InputError(f"{source}: no CERTIFICATE REQUEST block")
            der = blocks[0]
        else:
            der = data
        csr = x509.load_der_x509_csr(der)
        csr.subject.rfc4514_string()
    except _PARSE_ERRORS as err:
        raise InputError(f"{source}: malformed certificate request: {_one_line(err)}") from None
    return csr


def parse_private_key(data: bytes, source: str = "input"):
    _check_size(data, source)
    try:
        if is_pem(data):
            key = serialization.load_pem_private_key(data, password=None)
        else:
            key = serialization.load_der_private_key(data, password=None)
    except TypeError:
        raise InputError(
            f"{source}: the private key is encrypted (netlab writes it in clear)"
        ) from None
    except _PARSE_ERRORS as err:
        raise InputError(f"{source}: not a private key: {_one_line(err)}") from None
    if not isinstance(
        key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    ):
        raise InputError(f"{source}: unsupported key type {type(key).__name__}")
    return key


def _one_line(err: object, limit: int = 200) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- describing ----------------------------------------------------------------------

KEY_USAGE_NAMES = (  # (cryptography attribute, RFC 5280 name, openssl's text)
    ("digital_signature", "digitalSignature", "Digital Signature"),
    ("content_commitment", "nonRepudiation", "Non Repudiation"),
    ("key_encipherment", "keyEncipherment", "Key Encipherment"),
    ("data_encipherment", "dataEncipherment", "Data Encipherment"),
    ("key_agreement", "keyAgreement", "Key Agreement"),
    ("key_cert_sign", "keyCertSign", "Certificate Sign"),
    ("crl_sign", "cRLSign", "CRL Sign"),
    ("encipher_only", "encipherOnly", "Encipher Only"),
    ("decipher_only", "decipherOnly", "Decipher Only"),
)
KEY_USAGE_TEXT = {rfc: text for _, rfc, text in KEY_USAGE_NAMES}

EKU_NAMES = {  # OID → (short name, openssl's text)
    ExtendedKeyUsageOID.SERVER_AUTH.dotted_string: ("serverAuth", "TLS Web Server Authentication"),
    ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string: ("clientAuth", "TLS Web Client Authentication"),
    ExtendedKeyUsageOID.CODE_SIGNING.dotted_string: ("codeSigning", "Code Signing"),
    ExtendedKeyUsageOID.EMAIL_PROTECTION.dotted_string: ("emailProtection", "E-mail Protection"),
    ExtendedKeyUsageOID.TIME_STAMPING.dotted_string: ("timeStamping", "Time Stamping"),
    ExtendedKeyUsageOID.OCSP_SIGNING.dotted_string: ("OCSPSigning", "OCSP Signing"),
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE.dotted_string: (
        "anyExtendedKeyUsage",
        "Any Extended Key Usage",
    ),
}
EKU_TEXT = {short: text for short, text in EKU_NAMES.values()}

NIST_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


def hex_colon(data: bytes) -> str:
    """AB:CD:… as openssl prints fingerprints and key identifiers."""
    return ":".join(f"{b:02X}" for b in data)


def serial_hex(serial: int) -> str:
    """The serial as `openssl x509 -serial` prints it: uppercase hex, whole bytes."""
    sign = "-" if serial < 0 else ""
    text = f"{abs(serial):X}"
    return sign + ("0" + text if len(text) % 2 else text)


def iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def public_key_info(key: Any) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPublicKey):
        return {"type": "RSA", "bits": key.key_size, "exponent": key.public_numbers().e}
    if isinstance(key, ec.EllipticCurvePublicKey):
        name = key.curve.name
        return {
            "type": "EC",
            "bits": key.curve.key_size,
            "curve": name,
            "nist": NIST_CURVES.get(name),
        }
    if isinstance(key, ed25519.Ed25519PublicKey):
        return {"type": "Ed25519", "bits": 256}
    if isinstance(key, ed448.Ed448PublicKey):
        return {"type": "Ed448", "bits": 456}
    if isinstance(key, dsa.DSAPublicKey):
        return {"type": "DSA", "bits": key.key_size}
    return {"type": type(key).__name__, "bits": None}


def _key_info(cert: x509.Certificate) -> dict[str, Any]:
    try:
        return public_key_info(cert.public_key())
    except _PARSE_ERRORS as err:
        return {"type": "unsupported", "bits": None, "error": _one_line(err)}


def signature_algorithm(cert: x509.Certificate | x509.CertificateSigningRequest) -> str:
    oid = cert.signature_algorithm_oid
    name = getattr(oid, "_name", None)
    return name if name and name != "Unknown OID" else oid.dotted_string


def general_names(names: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}

    def add(kind: str, value: str) -> None:
        out.setdefault(kind, []).append(value)

    for gn in names:
        if isinstance(gn, x509.DNSName):
            add("dns", gn.value)
        elif isinstance(gn, x509.IPAddress):
            add("ip", str(gn.value))
        elif isinstance(gn, x509.RFC822Name):
            add("email", gn.value)
        elif isinstance(gn, x509.UniformResourceIdentifier):
            add("uri", gn.value)
        elif isinstance(gn, x509.DirectoryName):
            add("dirname", gn.value.rfc4514_string())
        elif isinstance(gn, x509.RegisteredID):
            add("rid", gn.value.dotted_string)
        elif isinstance(gn, x509.OtherName):
            add("othername", gn.type_id.dotted_string)
    return out


def _ext_name(oid: x509.ObjectIdentifier) -> str:
    name = getattr(oid, "_name", None)
    return name if name and name != "Unknown OID" else oid.dotted_string


def key_usage_list(ku: x509.KeyUsage) -> list[str]:
    out = []
    for attr, rfc, _ in KEY_USAGE_NAMES:
        try:
            if getattr(ku, attr):
                out.append(rfc)
        except ValueError:  # encipher_only/decipher_only without keyAgreement
            pass
    return out


def describe(cert: x509.Certificate) -> dict[str, Any]:
    """Every field `openssl x509 -text` shows that a reader needs, as plain data."""
    info: dict[str, Any] = {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "version": cert.version.value + 1,
        "serial": serial_hex(cert.serial_number),
        "serial_decimal": str(cert.serial_number),
        "not_before": iso(cert.not_valid_before_utc),
        "not_after": iso(cert.not_valid_after_utc),
        "public_key": _key_info(cert),
        "signature_algorithm": signature_algorithm(cert),
        "san": {},
        "basic_constraints": None,
        "key_usage": None,
        "extended_key_usage": None,
        "subject_key_identifier": None,
        "authority_key_identifier": None,
        "extensions": [],
        "sha256": hex_colon(cert.fingerprint(hashes.SHA256())),
        "sha1": hex_colon(cert.fingerprint(hashes.SHA1())),
        "self_issued": False,
        "self_signed": False,
    }
    try:
        extensions = list(cert.extensions)
    except _PARSE_ERRORS as err:
        info["extensions_error"] = _one_line(err)
        extensions = []
    for ext in extensions:
        value = ext.value
        info["extensions"].append(
            {"oid": ext.oid.dotted_string, "name": _ext_name(ext.oid), "critical": ext.critical}
        )
        if isinstance(value, x509.SubjectAlternativeName):
            info["san"] = general_names(value)
        elif isinstance(value, x509.BasicConstraints):
            info["basic_constraints"] = {
                "ca": value.ca,
                "path_length": value.path_length,
                "critical": ext.critical,
            }
        elif isinstance(value, x509.KeyUsage):
            info["key_usage"] = key_usage_list(value)
        elif isinstance(value, x509.ExtendedKeyUsage):
            info["extended_key_usage"] = [
                EKU_NAMES.get(o.dotted_string, (o.dotted_string,))[0] for o in value
            ]
        elif isinstance(value, x509.SubjectKeyIdentifier):
            info["subject_key_identifier"] = hex_colon(value.digest)
        elif isinstance(value, x509.AuthorityKeyIdentifier) and value.key_identifier:
            info["authority_key_identifier"] = hex_colon(value.key_identifier)
    info["self_issued"] = _canon_name(cert.subject) == _canon_name(cert.issuer)
    if info["self_issued"]:
        try:
            info["self_signed"] = _verify_signature(cert, cert.public_key()) is None
        except _PARSE_ERRORS:
            info["self_signed"] = False
    return info


# --- names, identifiers, the openssl flags -------------------------------------------

_ASCII_UPPER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_SPACES = re.compile(r"[ \t\n\v\f\r]+")


def _canon_name(name: x509.Name) -> tuple:
    """OpenSSL's X509_NAME_cmp compares canonical forms: string values trimmed, inner
    white space collapsed, ASCII lower-cased, whatever their ASN.1 string type."""
    rdns = []
    for rdn in name.rdns:
        attrs = []
        for attr in rdn:
            value = attr.value
            if isinstance(value, str):
                value = _SPACES.sub(" ", value).strip(" ").translate(_ASCII_UPPER)
            attrs.append((attr.oid.dotted_string, value))
        rdns.append(tuple(sorted(attrs, key=repr)))
    return tuple(rdns)


# Extensions OpenSSL 3 understands (X509_supported_extension): a critical one not in
# this list makes verification fail with "unhandled critical extension".
SUPPORTED_EXTENSIONS = frozenset(
    {
        "2.16.840.1.113730.1.1",  # netscape-cert-type
        "2.5.29.15",  # keyUsage
        "2.5.29.17",  # subjectAltName
        "2.5.29.19",  # basicConstraints
        "2.5.29.32",  # certificatePolicies
        "2.5.29.31",  # cRLDistributionPoints
        "2.5.29.37",  # extKeyUsage
        "1.3.6.1.5.5.7.1.7",  # sbgp-ipAddrBlock
        "1.3.6.1.5.5.7.1.8",  # sbgp-autonomousSysNum
        "1.3.6.1.5.5.7.48.1.5",  # id-pkix-OCSP-noCheck
        "2.5.29.36",  # policyConstraints
        "1.3.6.1.5.5.7.1.14",  # proxyCertInfo
        "2.5.29.30",  # nameConstraints
        "2.5.29.33",  # policyMappings
        "2.5.29.54",  # inhibitAnyPolicy
    }
)

_RSA_SIG_PREFIX = "1.2.840.113549.1.1."
_ECDSA_SIG_PREFIX = "1.2.840.10045.4."
_DSA_SIGS = {"1.2.840.10040.4.3", "2.16.840.1.101.3.4.3.1", "2.16.840.1.101.3.4.3.2"}
# The signature algorithms cryptography's verifier accepts (its web-PKI profile).
_CRYPTOGRAPHY_SIGS = {
    "1.2.840.113549.1.1.11",
    "1.2.840.113549.1.1.12",
    "1.2.840.113549.1.1.13",  # RSA SHA-2
    "1.2.840.113549.1.1.10",  # RSASSA-PSS
    "1.2.840.10045.4.3.2",
    "1.2.840.10045.4.3.3",
    "1.2.840.10045.4.3.4",  # ECDSA SHA-2
}


def _sig_family(oid: str) -> str | None:
    if oid.startswith(_RSA_SIG_PREFIX):
        return "rsa"
    if oid.startswith(_ECDSA_SIG_PREFIX):
        return "ec"
    if oid == "1.3.101.112":
        return "ed25519"
    if oid == "1.3.101.113":
        return "ed448"
    if oid in _DSA_SIGS:
        return "dsa"
    return None


def _key_family(key: Any) -> str | None:
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ec"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "ed448"
    if isinstance(key, dsa.DSAPublicKey):
        return "dsa"
    return None


def _verify_signature(cert: x509.Certificate, key: Any) -> str | None:
    """None when CERT's signature verifies with KEY, else why not."""
    try:
        params = cert.signature_algorithm_parameters
        digest = cert.signature_hash_algorithm
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, params, digest)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, params)
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes)
        elif isinstance(key, dsa.DSAPublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, digest)
        else:
            return f"unsupported key type {type(key).__name__}"
    except InvalidSignature:
        return "the signature does not verify"
    except (TypeError, ValueError, UnsupportedAlgorithm) as err:
        return _one_line(err) or type(err).__name__
    return None


@dataclass(eq=False)
class _Info:
    """What verification needs of one certificate, read once (OpenSSL's ex_flags)."""

    cert: x509.Certificate
    der: bytes
    label: str  # "CN=…" for messages
    subject: tuple
    issuer: tuple
    version: int
    key: Any = None
    key_error: str | None = None
    sig_oid: str = ""
    ext_error: str | None = None
    skid: bytes | None = None
    akid_keyid: bytes | None = None
    akid_serial: int | None = None
    akid_issuer: tuple | None = None
    bc_present: bool = False
    bc_ca: bool = False
    pathlen: int | None = None
    ku_present: bool = False
    ku_cert_sign: bool = False
    unhandled_critical: list[str] = field(default_factory=list)
    san_dns: list[str] = field(default_factory=list)
    san_ip: list[Any] = field(default_factory=list)
    san_present: bool = False

    @property
    def self_issued(self) -> bool:  # EXFLAG_SI
        return self.subject == self.issuer

    @property
    def self_signed(
        self,
    ) -> bool:  # EXFLAG_SS: self-issued, AKID fits, key fits (no signature check)
        return self.self_issued and _likely_issued(self, self) is None

    def check_ca(self) -> int:
        """OpenSSL's X509_check_ca: 0 not a CA; 1 basicConstraints CA:TRUE; 3 a v1
        self-signed root; 4 keyUsage with keyCertSign but no basicConstraints."""
        if self.ku_present and not self.ku_cert_sign:
            return 0
        if self.bc_present:
            return 1 if self.bc_ca else 0
        if self.version == 1 and self.self_signed:
            return 3
        if self.ku_present:
            return 4
        return 0


def _label(cert: x509.Certificate) -> str:
    try:
        text = cert.subject.rfc4514_string()
    except ValueError:
        text = ""
    return text or f"serial {serial_hex(cert.serial_number)}"


def _info(cert: x509.Certificate) -> _Info:
    info = _Info(
        cert=cert,
        der=cert.public_bytes(serialization.Encoding.DER),
        label=_label(cert),
        subject=_canon_name(cert.subject),
        issuer=_canon_name(cert.issuer),
        version=cert.version.value + 1,
        sig_oid=cert.signature_algorithm_oid.dotted_string,
    )
    try:
        info.key = cert.public_key()
    except _PARSE_ERRORS as err:
        info.key_error = _one_line(err)
    try:
        extensions = list(cert.extensions)
    except _PARSE_ERRORS as err:
        info.ext_error = _one_line(err)
        extensions = []
    for ext in extensions:
        value = ext.value
        if ext.critical and ext.oid.dotted_string not in SUPPORTED_EXTENSIONS:
            info.unhandled_critical.append(_ext_name(ext.oid))
        if isinstance(value, x509.BasicConstraints):
            info.bc_present, info.bc_ca, info.pathlen = True, value.ca, value.path_length
        elif isinstance(value, x509.KeyUsage):
            info.ku_present, info.ku_cert_sign = True, value.key_cert_sign
        elif isinstance(value, x509.SubjectKeyIdentifier):
            info.skid = value.digest
        elif isinstance(value, x509.AuthorityKeyIdentifier):
            info.akid_keyid = value.key_identifier
            info.akid_serial = value.authority_cert_serial_number
            for gn in value.authority_cert_issuer or ():
                if isinstance(gn, x509.DirectoryName):
                    info.akid_issuer = _canon_name(gn.value)
                    break
        elif isinstance(value, x509.SubjectAlternativeName):
            info.san_present = True
            info.san_dns = value.get_values_for_type(x509.DNSName)
            info.san_ip = value.get_values_for_type(x509.IPAddress)
    return info


def _likely_issued(issuer: _Info, subject: _Info) -> str | None:
    """OpenSSL's ossl_x509_likely_issued: None when ISSUER may have issued SUBJECT
    (names, authority key identifier, key type), else why not."""
    if issuer.subject != subject.issuer:
        return "subject issuer mismatch"
    if None not in (subject.akid_keyid, issuer.skid) and subject.akid_keyid != issuer.skid:
        return "authority and subject key identifier mismatch"
    if subject.akid_serial is not None and subject.akid_serial != issuer.cert.serial_number:
        return "authority and issuer serial number mismatch"
    if subject.akid_issuer is not None and subject.akid_issuer != issuer.issuer:
        return "authority and issuer serial number mismatch"
    family = _sig_family(subject.sig_oid)
    if family is None:
        return "unsupported signature algorithm"
    if issuer.key is None or _key_family(issuer.key) != family:
        return "signature algorithm mismatch"
    return None


def _time_valid(info: _Info, now: dt.datetime) -> int:
    """0 inside the validity window, -1 not yet valid, 1 expired (OpenSSL's rule: the
    ends are inclusive; notAfter 9999-12-31T23:59:59Z never expires)."""
    cert = info.cert
    if now < cert.not_valid_before_utc:
        return -1
    after = cert.not_valid_after_utc
    if after.year == 9999 and after.month == 12 and after.day == 31 and after.hour == 23:
        return 0
    if now > after:
        return 1
    return 0


# --- verification --------------------------------------------------------------------

# OpenSSL's verify error codes and texts (OpenSSL 3.0, x509_vfy.h / x509_txt.c) and our
# name for each, the `reason` of a Verdict.
OPENSSL_ERRORS: dict[int, tuple[str, str]] = {
    2: ("unable to get issuer certificate", "unknown CA"),
    6: ("unable to decode issuer public key", "bad signature"),
    7: ("certificate signature failure", "bad signature"),
    9: ("certificate is not yet valid", "not yet valid"),
    10: ("certificate has expired", "expired"),
    18: ("self-signed certificate", "self-signed"),
    19: ("self-signed certificate in certificate chain", "unknown CA"),
    20: ("unable to get local issuer certificate", "missing intermediate"),
    22: ("certificate chain too long", "chain too long"),
    25: ("path length constraint exceeded", "path length exceeded"),
    32: ("key usage does not include certificate signing", "not a CA"),
    34: ("unhandled critical extension", "unhandled critical extension"),
    41: ("invalid or inconsistent certificate extension", "invalid certificate"),
    62: ("hostname mismatch", "name mismatch"),
    64: ("IP address mismatch", "name mismatch"),
    79: ("invalid CA certificate", "not a CA"),
}
REASONS = (
    "unknown CA",
    "missing intermediate",
    "expired",
    "not yet valid",
    "name mismatch",
    "path length exceeded",
    "not a CA",
    "bad signature",
    "self-signed",
    "chain too long",
    "unhandled critical extension",
    "invalid certificate",
    "rejected by policy",
)


def reason_for_openssl(code: int, depth: int = 0) -> str:
    """Our reason for an `openssl verify` error code ("error 20 at 0 depth lookup").
    Error 20 (no issuer found for the top of the chain) is "missing intermediate" when
    it is the leaf whose issuer is missing, and "unknown CA" when an intermediate's
    issuer is (the root that would anchor it is not trusted)."""
    if code == 20 and depth > 0:
        return "unknown CA"
    return OPENSSL_ERRORS.get(code, ("", "invalid certificate"))[1]


@dataclass(frozen=True)
class Check:
    """One step of the verification and what came of it."""

    # issuer, trust, extensions, ca, path length, name, key usage, signature, validity,
    # cryptography
    step: str
    depth: int | None
    subject: str | None
    ok: bool
    detail: str
    error: str | None = None  # OpenSSL's error text when this step is one of its errors
    code: int | None = None  # OpenSSL's error code

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "depth": self.depth,
            "subject": self.subject,
            "ok": self.ok,
            "detail": self.detail,
            "error": self.error,
            "code": self.code,
        }


@dataclass
class Verdict:
    ok: bool
    path: list[x509.Certificate]
    error: str | None
    reason: str | None
    checks: list[Check]
    error_depth: int | None = None
    openssl_code: int | None = None
    trusted: list[bool] = field(default_factory=list)  # per path element: from the trust store
    cryptography: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "path": [describe(c) for c in self.path],
            "error": self.error,
            "reason": self.reason,
            "error_depth": self.error_depth,
            "openssl_code": self.openssl_code,
            "checks": [c.to_dict() for c in self.checks],
            "trusted": self.trusted,
            "cryptography": self.cryptography,
        }


class _Walk:
    """The steps of OpenSSL's X509_verify_cert, recorded as checks."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self.checks: list[Check] = []
        self.first: tuple[int, int, str] | None = None  # (code, depth, detail)

    def ok(self, step: str, depth: int | None, info: _Info | None, detail: str) -> None:
        self.checks.append(Check(step, depth, info.label if info else None, True, detail))

    def fail(
        self, step: str, depth: int | None, info: _Info | None, detail: str, code: int | None
    ) -> None:
        text = OPENSSL_ERRORS.get(code, (None,))[0] if code is not None else None
        self.checks.append(
            Check(step, depth, info.label if info else None, False, detail, text, code)
        )
        if self.first is None and code is not None:
            self.first = (code, depth or 0, detail)


def _best_issuer(
    candidates: list[_Info], subject: _Info, now: dt.datetime, exclude: list[_Info] | None = None
) -> _Info | None:
    """OpenSSL's get0_best_issuer_sk: the first candidate that may have issued SUBJECT
    and is valid now, else the one of them that expires last."""
    best = None
    for cand in candidates:
        if exclude is not None and any(cand is e or cand.der == e.der for e in exclude):
            continue
        if _likely_issued(cand, subject) is not None:
            continue
        if _time_valid(cand, now) == 0:
            return cand
        if best is None or cand.cert.not_valid_after_utc > best.cert.not_valid_after_utc:
            best = cand
    return best


def _build_chain(
    walk: _Walk, leaf: _Info, untrusted: list[_Info], roots: list[_Info], now: dt.datetime
) -> tuple[list[_Info], int, bool]:
    """OpenSSL's build_chain with X509_V_FLAG_TRUSTED_FIRST (its default): returns the
    chain, how many of it are untrusted (the rest came from the trust store) and
    whether it ends at a trust anchor."""
    chain = [leaf]
    num_untrusted = 1
    pool = list(untrusted)
    search_untrusted = True
    max_len = MAX_DEPTH + 1
    while True:
        curr = chain[-1]
        depth = len(chain) - 1
        # 1. the trust store first
        issuer = None if len(chain) > max_len else _best_issuer(roots, curr, now)
        if issuer is not None:
            if not curr.self_signed:
                chain.append(issuer)
                walk.ok(
                    "issuer", depth, curr, f"issued by {issuer.label}, found in the trust store"
                )
                search_untrusted = False
                if issuer.self_signed:
                    walk.ok(
                        "trust",
                        depth + 1,
                        issuer,
                        "a self-signed certificate of the trust store: the trust anchor",
                    )
                    return chain, num_untrusted, True
                continue  # a trusted intermediate: its issuer must be trusted too
            if issuer.der == curr.der:
                chain[-1] = issuer
                num_untrusted -= 1
                walk.ok(
                    "trust",
                    depth,
                    curr,
                    "self-signed and itself in the trust store: the trust anchor",
                )
                return chain, num_untrusted, True
            # a self-signed look-alike of a trusted certificate: not the same one
        if not search_untrusted:
            break
        # 2. then the untrusted certificates
        if curr.self_signed or len(chain) > max_len:
            break
        issuer = _best_issuer(pool, curr, now, exclude=chain)
        if issuer is None:
            break
        pool.remove(issuer)
        chain.append(issuer)
        num_untrusted += 1
        walk.ok(
            "issuer",
            depth,
            curr,
            f"issued by {issuer.label}, found among the untrusted certificates",
        )
    return chain, num_untrusted, False


def _untrusted_error(walk: _Walk, chain: list[_Info], num_untrusted: int) -> None:
    num = len(chain)
    top = chain[-1]
    depth = num - 1
    if num > MAX_DEPTH + 1:
        walk.fail("trust", depth, top, f"no trust anchor within {MAX_DEPTH} issuers", 22)
    elif top.self_signed:
        if num == 1:
            walk.fail("trust", depth, top, "self-signed, and not in the trust store", 18)
        else:
            walk.fail(
                "trust",
                depth,
                top,
                "the chain ends at a self-signed certificate that "
                "is not in the trust store: an unknown CA",
                19,
            )
    else:
        issuer_name = top.cert.issuer.rfc4514_string() or "(empty)"
        where = (
            "in the trust store"
            if num_untrusted < num
            else ("in the trust store or among the untrusted certificates")
        )
        code = 2 if num_untrusted < num else 20
        walk.fail("issuer", depth, top, f"its issuer {issuer_name} is not {where}", code)


def _check_extensions(walk: _Walk, chain: list[_Info]) -> None:
    """OpenSSL's check_extensions (no purpose set, not strict)."""
    num = len(chain)
    plen = 0
    for i, info in enumerate(chain):
        if info.ext_error:
            walk.fail("extensions", i, info, f"extensions cannot be parsed: {info.ext_error}", 41)
        if info.unhandled_critical:
            walk.fail(
                "extensions",
                i,
                info,
                "critical extension(s) OpenSSL does not handle: "
                + ", ".join(info.unhandled_critical),
                34,
            )
        if i > 0:
            ret = info.check_ca()
            must_be_strict = i + 1 < num
            if ret == 0 or (must_be_strict and ret != 1):
                whys = []
                if info.bc_present and not info.bc_ca:
                    whys.append("basicConstraints CA:FALSE")
                elif not info.bc_present:
                    whys.append("no basicConstraints extension")
                if info.ku_present and not info.ku_cert_sign:
                    whys.append("keyUsage lacks keyCertSign")
                why = "; ".join(whys) or "not a CA certificate"
                walk.fail("ca", i, info, f"issues certificates but is not a CA: {why}", 79)
            else:
                kind = {
                    1: "basicConstraints CA:TRUE",
                    3: "a version 1 self-signed root",
                    4: "keyUsage keyCertSign (no basicConstraints)",
                }[ret]
                walk.ok("ca", i, info, f"a CA: {kind}")
            if info.pathlen is not None and i > 1:
                if plen > info.pathlen:
                    walk.fail(
                        "path length",
                        i,
                        info,
                        f"pathLenConstraint {info.pathlen}, but {plen} intermediate CA(s) below it",
                        25,
                    )
                else:
                    walk.ok(
                        "path length",
                        i,
                        info,
                        f"pathLenConstraint {info.pathlen}: {plen} intermediate CA(s) below it",
                    )
            elif info.pathlen is not None:
                walk.ok(
                    "path length",
                    i,
                    info,
                    f"pathLenConstraint {info.pathlen}: no intermediate CA below it",
                )
        if i > 0 and not info.self_issued:
            plen += 1


def _host_matches(pattern: str, host: str) -> bool:
    """OpenSSL's X509_check_host rules: ASCII case-insensitive; one '*' in the
    left-most label only, standing for at least one character and no dot, and at
    least two labels after it; never inside an IDNA label (xn--)."""
    pattern = pattern.translate(_ASCII_UPPER)
    host = host.translate(_ASCII_UPPER).rstrip(".")
    if "*" not in pattern:
        return pattern.rstrip(".") == host
    first, _, rest = pattern.partition(".")
    if "*" in rest or first.count("*") != 1 or rest.count(".") < 1 or first.startswith("xn--"):
        return pattern == host
    hfirst, _, hrest = host.partition(".")
    if hrest != rest.rstrip(".") or not hfirst:
        return False
    prefix, _, suffix = first.partition("*")
    if len(hfirst) < len(prefix) + len(suffix) + (1 if first == "*" else 0):
        return False
    if hfirst.startswith("xn--") and (prefix or suffix):
        return False
    if not (hfirst.startswith(prefix) and hfirst.endswith(suffix)):
        return False
    middle = hfirst[len(prefix) : len(hfirst) - len(suffix)]
    return all(c.isascii() and (c.isalnum() or c == "-") for c in middle)


def _parse_ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return None


def _check_name(walk: _Walk, leaf: _Info, name: str) -> None:
    ip = _parse_ip(name)
    if ip is not None:
        if ip in leaf.san_ip:
            walk.ok("name", 0, leaf, f"{ip} is an IP address of the subjectAltName")
        else:
            have = ", ".join(str(a) for a in leaf.san_ip) or "none"
            walk.fail("name", 0, leaf, f"{ip} is not among its IP addresses ({have})", 64)
        return
    if leaf.san_dns:
        hit = next((p for p in leaf.san_dns if _host_matches(p, name)), None)
        if hit is not None:
            walk.ok("name", 0, leaf, f"{name} matches subjectAltName DNS:{hit}")
        else:
            walk.fail(
                "name",
                0,
                leaf,
                f"{name} matches none of its DNS names ({', '.join(leaf.san_dns)})",
                62,
            )
        return
    cns = [
        a.value
        for a in leaf.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if isinstance(a.value, str)
    ]
    hit = next((cn for cn in cns if _host_matches(cn, name)), None)
    if hit is not None:
        walk.ok(
            "name",
            0,
            leaf,
            f"{name} matches the subject CN {hit} (no DNS name in a "
            "subjectAltName, so the CN is used, as OpenSSL does)",
        )
    else:
        walk.fail(
            "name",
            0,
            leaf,
            f"{name} does not match: no DNS subjectAltName, and the "
            f"subject CN is {', '.join(cns) or 'absent'}",
            62,
        )


def _internal_verify(walk: _Walk, chain: list[_Info], now: dt.datetime) -> None:
    """OpenSSL's internal_verify: from the top down, key usage of each issuer, each
    signature, each validity window (the trust anchor's own signature is not checked)."""
    n = len(chain) - 1
    xi = chain[n]
    xs = xi
    if _likely_issued(xi, xi) is not None:
        if n == 0:
            walk.fail("signature", 0, xi, "no issuer to verify the signature with", None)
            return
        n -= 1
        xs = chain[n]
    while n >= 0:
        if xs is not xi:
            issuer_depth = n + 1
            if xi.ku_present and not xi.ku_cert_sign:
                walk.fail(
                    "key usage",
                    issuer_depth,
                    xi,
                    "keyUsage lacks keyCertSign: may not sign certificates",
                    32,
                )
            elif xi.ku_present:
                walk.ok("key usage", issuer_depth, xi, "keyUsage includes keyCertSign")
            if xi.key is None:
                walk.fail(
                    "signature",
                    issuer_depth,
                    xi,
                    f"cannot read the issuer's public key: {xi.key_error}",
                    6,
                )
            else:
                why = _verify_signature(xs.cert, xi.key)
                alg = signature_algorithm(xs.cert)
                if why is None:
                    walk.ok(
                        "signature", n, xs, f"signature ({alg}) verified with the key of {xi.label}"
                    )
                else:
                    walk.fail(
                        "signature",
                        n,
                        xs,
                        f"signature ({alg}) checked with the key of {xi.label}: {why}",
                        7,
                    )
        else:
            walk.ok(
                "signature",
                n,
                xs,
                "self-issued top of the chain: its own signature is not checked (as OpenSSL)",
            )
        window = f"{iso(xs.cert.not_valid_before_utc)} → {iso(xs.cert.not_valid_after_utc)}"
        state = _time_valid(xs, now)
        if state < 0:
            walk.fail(
                "validity",
                n,
                xs,
                f"not valid before {iso(xs.cert.not_valid_before_utc)} (now {iso(now)})",
                9,
            )
        elif state > 0:
            walk.fail(
                "validity",
                n,
                xs,
                f"expired {iso(xs.cert.not_valid_after_utc)} (now {iso(now)})",
                10,
            )
        else:
            walk.ok("validity", n, xs, f"valid {window}, contains now ({iso(now)})")
        n -= 1
        if n >= 0:
            xi = xs
            xs = chain[n]


def _profile_gaps(chain: list[_Info], name: str | None) -> list[str]:
    """Why cryptography's verifier would refuse what OpenSSL accepts (its profile)."""
    gaps = []
    for i, info in enumerate(chain):
        anchor = i == len(chain) - 1
        if info.version != 3:
            gaps.append(f"{info.label} is an X.509 v{info.version} certificate")
        if isinstance(info.key, rsa.RSAPublicKey) and info.key.key_size < 2048:
            gaps.append(f"{info.label} has a {info.key.key_size}-bit RSA key")
        elif info.key is not None and _key_family(info.key) not in ("rsa", "ec"):
            gaps.append(f"{info.label} has a {public_key_info(info.key)['type']} key")
        if not anchor and info.sig_oid not in _CRYPTOGRAPHY_SIGS:
            gaps.append(f"{info.label} is signed with {signature_algorithm(info.cert)}")
        if anchor and i > 0 and not info.bc_present:
            gaps.append(f"the trust anchor {info.label} has no basicConstraints")
    if name is not None and not chain[0].san_present:
        gaps.append("the leaf has no subjectAltName (its CN would be used)")
    return gaps


_CRYPTO_REASONS = (
    ("path length", "path length exceeded"),
    ("basicConstraints", "not a CA"),
    ("keyCertSign", "not a CA"),
    ("subjectAltName", "name mismatch"),
    ("signature", "bad signature"),
    ("name constraint", "rejected by policy"),
    ("candidates exhausted", "unknown CA"),
)


def _ca_key_usage_ok(policy: Any, cert: x509.Certificate, ku: x509.KeyUsage | None) -> None:
    """cryptography's CA policy, with RFC 5280's rule that keyUsage (when present) allows
    signing certificates (its permissive base policy does not check it)."""
    if ku is not None and not ku.key_cert_sign:
        raise ValueError("keyUsage of a CA certificate lacks keyCertSign")


def _crypto_verify(
    leaf: _Info,
    chain: list[_Info],
    untrusted: list[_Info],
    roots: list[_Info],
    name: str | None,
    now: dt.datetime,
    trusted: bool,
) -> dict[str, Any]:
    from cryptography.x509 import verification as v

    gaps = _profile_gaps(chain, name)
    if gaps:
        return {"applies": False, "ok": None, "why": "; ".join(gaps)}
    if not roots:
        return {"applies": False, "ok": None, "why": "no trust anchor"}
    # The path OpenSSL's way found, when there is one (bounded work on hostile input);
    # else every untrusted certificate given, up to 64.
    if trusted:
        intermediates = [i.cert for i in chain[1:] if any(i is u for u in untrusted)]
    else:
        intermediates = [u.cert for u in untrusted[:64]]
    policy = v.ExtensionPolicy
    ca_policy = (
        policy.permit_all()
        .require_present(x509.BasicConstraints, v.Criticality.AGNOSTIC, None)
        .may_be_present(x509.KeyUsage, v.Criticality.AGNOSTIC, _ca_key_usage_ok)
    )
    builder = (
        v.PolicyBuilder()
        .store(v.Store([r.cert for r in roots]))
        .time(now)
        .max_chain_depth(min(MAX_DEPTH, 255))
    )
    try:
        if name is None:
            verifier = builder.extension_policies(
                ca_policy=ca_policy, ee_policy=policy.permit_all()
            ).build_client_verifier()
            result = verifier.verify(leaf.cert, intermediates).chain
        else:
            ee_policy = policy.permit_all().require_present(
                x509.SubjectAlternativeName, v.Criticality.AGNOSTIC, None
            )
            ip = _parse_ip(name)
            subject = v.IPAddress(ip) if ip is not None else v.DNSName(name)
            verifier = builder.extension_policies(
                ca_policy=ca_policy, ee_policy=ee_policy
            ).build_server_verifier(subject)
            result = verifier.verify(leaf.cert, intermediates)
    except v.VerificationError as err:
        why = re.sub(r" \(encountered processing <Certificate\(.*?\)>\)", "", _one_line(err))
        return {"applies": True, "ok": False, "why": why}
    except _PARSE_ERRORS as err:
        return {"applies": False, "ok": None, "why": _one_line(err)}
    return {"applies": True, "ok": True, "why": None, "chain": [_label(c) for c in result]}


def verify_chain(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    roots: list[x509.Certificate],
    *,
    name: str | None = None,
    now: dt.datetime,
) -> Verdict:
    """Verify LEAF up to one of ROOTS (the trust store) through INTERMEDIATES (the
    untrusted certificates a server sends), at time NOW, for NAME (a DNS name or an IP
    address; None checks no name). The verdict is `openssl verify`'s; see the module's
    docstring for the steps and how cryptography's verifier takes part."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    walk = _Walk(now)
    leaf_i = _info(leaf)
    untrusted = [_info(c) for c in intermediates]
    trust = [_info(c) for c in roots]
    chain, num_untrusted, trusted = _build_chain(walk, leaf_i, untrusted, trust, now)
    if not trusted:
        _untrusted_error(walk, chain, num_untrusted)
    _check_extensions(walk, chain)
    if name is not None:
        _check_name(walk, leaf_i, name)
    _internal_verify(walk, chain, now)

    crypto = _crypto_verify(leaf_i, chain, untrusted, trust, name, now, trusted)
    if not crypto["applies"]:
        ok, text = True, f"cryptography's verifier does not apply: {crypto['why']}"
    elif crypto["ok"]:
        ok = True
        text = "cryptography's verifier (RFC 5280) accepts the path " + " → ".join(crypto["chain"])
    else:
        ok, text = False, f"cryptography's verifier (RFC 5280) rejects it: {crypto['why']}"
    walk.checks.append(Check("cryptography", None, None, ok, text))

    path = [i.cert for i in chain]
    flags = [k >= num_untrusted for k in range(len(chain))]
    if walk.first is not None:
        code, depth, _ = walk.first
        return Verdict(
            False,
            path,
            OPENSSL_ERRORS[code][0],
            reason_for_openssl(code, depth),
            walk.checks,
            depth,
            code,
            flags,
            crypto,
        )
    if crypto["applies"] and not crypto["ok"]:
        why = crypto["why"] or ""
        reason = next((r for key, r in _CRYPTO_REASONS if key in why), "rejected by policy")
        if "not valid at validation time" in why:
            early = any(_time_valid(i, now) < 0 for i in chain)
            reason = "not yet valid" if early else "expired"
        return Verdict(
            False, path, f"cryptography: {why}", reason, walk.checks, None, None, flags, crypto
        )
    return Verdict(True, path, None, None, walk.checks, None, None, flags, crypto)


# --- making certificates ---------------------------------------------------------------

KEY_TYPES = ("rsa", "ec")
RSA_BITS = (2048, 3072, 4096, 8192)
EC_CURVES = {256: ec.SECP256R1, 384: ec.SECP384R1, 521: ec.SECP521R1}


def generate_key(kind: str = "rsa", bits: int | None = None):
    """An RSA key (2048 bits unless BITS) or an EC key (P-256 unless BITS is 384/521)."""
    if kind == "rsa":
        bits = bits or 2048
        if bits not in RSA_BITS:
            raise InputError(f"--bits {bits}: RSA keys are {', '.join(map(str, RSA_BITS))} bits")
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    if kind == "ec":
        bits = bits or 256
        if bits not in EC_CURVES:
            raise InputError(f"--bits {bits}: EC keys are 256 (P-256), 384 (P-384) or 521 (P-521)")
        return ec.generate_private_key(EC_CURVES[bits]())
    raise InputError(f"--key {kind!r}: rsa or ec")


def _hash_for(key) -> hashes.HashAlgorithm | None:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {384: hashes.SHA384(), 521: hashes.SHA512()}.get(key.curve.key_size, hashes.SHA256())
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    return hashes.SHA256()


_HOSTNAME = re.compile(
    r"^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*"
    r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.?$",
    re.IGNORECASE,
)


def parse_san(text: str) -> x509.GeneralName:
    """A --san value: an IP address, DNS:NAME, IP:ADDR, email:ADDR, URI:… or a DNS name."""
    kind, sep, value = text.partition(":")
    if sep and kind.lower() in ("dns", "ip", "email", "uri"):
        kind = kind.lower()
    else:
        kind, value = ("ip", text) if _parse_ip(text) is not None else ("dns", text)
    if kind == "ip":
        ip = _parse_ip(value)
        if ip is None:
            raise InputError(f"--san {text!r}: not an IP address")
        return x509.IPAddress(ip)
    if kind == "email":
        return x509.RFC822Name(value)
    if kind == "uri":
        return x509.UniformResourceIdentifier(value)
    if not value or len(value) > 253 or not _HOSTNAME.match(value) or not value.isascii():
        raise InputError(
            f"--san {text!r}: not a DNS name (letters, digits, '-', dots; '*.' for a wildcard)"
        )
    return x509.DNSName(value)


def default_sans(cn: str) -> list[x509.GeneralName]:
    """No --san: the CN, when it is a host name or an address (clients match only SANs)."""
    if _parse_ip(cn) is not None:
        return [x509.IPAddress(_parse_ip(cn))]
    if ("." in cn and _HOSTNAME.match(cn) and cn.isascii()) or cn == "localhost":
        return [x509.DNSName(cn)]
    return []


def subject_name(cn: str, org: str | None = None) -> x509.Name:
    if not cn or len(cn) > 64:
        raise InputError("--cn: a common name is 1 to 64 characters")
    attrs = []
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _validity(now: dt.datetime, days: int) -> tuple[dt.datetime, dt.datetime]:
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    start = now.replace(microsecond=0)
    return start, start + dt.timedelta(days=days)


def _ski(public_key) -> x509.SubjectKeyIdentifier:
    return x509.SubjectKeyIdentifier.from_public_key(public_key)


def _aki(issuer_cert: x509.Certificate | None, issuer_public_key) -> x509.AuthorityKeyIdentifier:
    if issuer_cert is not None:
        try:
            ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
            return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski.value)
        except x509.ExtensionNotFound:
            pass
    return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public_key)


def _key_usage(*, key_encipherment: bool = False, ca: bool = False) -> x509.KeyUsage:
    """digitalSignature, with keyEncipherment and/or (a CA) keyCertSign + cRLSign."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def ca_key_usage() -> x509.KeyUsage:
    """A CA's keyUsage: digitalSignature, keyCertSign, cRLSign."""
    return _key_usage(ca=True)


def leaf_key_usage(public_key) -> x509.KeyUsage:
    """A server's keyUsage: digitalSignature; for an RSA key keyEncipherment too, for
    TLS 1.2's RSA key exchange (the pre-master secret encrypted with the certificate's
    key); EC keys only sign."""
    return _key_usage(key_encipherment=isinstance(public_key, rsa.RSAPublicKey))


def build_ca(
    key,
    cn: str,
    *,
    now: dt.datetime,
    days: int = 3650,
    path_length: int | None = None,
    org: str | None = None,
) -> x509.Certificate:
    """A self-signed root CA certificate (basicConstraints CA:TRUE critical, keyUsage
    keyCertSign + cRLSign critical, subject and authority key identifiers)."""
    name = subject_name(cn, org)
    start, end = _validity(now, days)
    pub = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(pub)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(ca_key_usage(), critical=True)
        .add_extension(_ski(pub), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(pub), critical=False)
    )
    return builder.sign(key, _hash_for(key))


def issue(
    public_key,
    subject: x509.Name,
    *,
    ca_cert: x509.Certificate,
    ca_key,
    now: dt.datetime,
    days: int = 365,
    sans: list[x509.GeneralName] | None = None,
    intermediate: bool = False,
    path_length: int | None = None,
) -> x509.Certificate:
    """A certificate for PUBLIC_KEY signed by CA_KEY: a leaf (CA:FALSE, keyUsage
    digitalSignature [+ keyEncipherment for RSA], extendedKeyUsage serverAuth +
    clientAuth, subjectAltName SANS) or, with INTERMEDIATE, a CA (CA:TRUE with
    PATH_LENGTH, keyCertSign + cRLSign)."""
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    try:
        matches = ca_key.public_key().public_bytes(*spki) == ca_cert.public_key().public_bytes(
            *spki
        )
    except _PARSE_ERRORS as err:
        raise InputError(f"the CA's public key cannot be read: {_one_line(err)}") from None
    if not matches:
        raise InputError("the CA's key does not belong to the CA's certificate")
    start, end = _validity(now, days)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
    )
    if intermediate:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=True, path_length=path_length), critical=True
        ).add_extension(ca_key_usage(), critical=True)
    else:
        builder = (
            builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(leaf_key_usage(public_key), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
        )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    builder = builder.add_extension(_ski(public_key), critical=False).add_extension(
        _aki(ca_cert, ca_key.public_key()), critical=False
    )
    return builder.sign(ca_key, _hash_for(ca_key))


def build_csr(
    key, cn: str, sans: list[x509.GeneralName] | None = None, org: str | None = None
) -> x509.CertificateSigningRequest:
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject_name(cn, org))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(key, _hash_for(key))


def csr_public_key(csr: x509.CertificateSigningRequest, source: str = "request"):
    """The request's public key, once its signature shows the author holds the key."""
    try:
        valid = csr.is_signature_valid
        key = csr.public_key()
    except _PARSE_ERRORS as err:
        raise InputError(f"{source}: cannot check the request: {_one_line(err)}") from None
    if not valid:
        raise InputError(f"{source}: the request's signature does not verify")
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        raise InputError(f"{source}: unsupported key type {public_key_info(key)['type']}")
    return key


def csr_sans(csr: x509.CertificateSigningRequest) -> list[x509.GeneralName]:
    try:
        return list(csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        return []
    except _PARSE_ERRORS as err:
        raise InputError(f"the request's extensions cannot be read: {_one_line(err)}") from None


def describe_csr(csr: x509.CertificateSigningRequest) -> dict[str, Any]:
    try:
        key = public_key_info(csr.public_key())
    except _PARSE_ERRORS as err:
        key = {"type": "unsupported", "bits": None, "error": _one_line(err)}
    return {
        "subject": csr.subject.rfc4514_string(),
        "public_key": key,
        "signature_algorithm": signature_algorithm(csr),
        "san": general_names(csr_sans(csr)),
        "signature_valid": csr.is_signature_valid,
    }


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def key_pem(key) -> bytes:
    """PKCS#8 PEM in clear, as `openssl genpkey` writes it."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def csr_pem(csr: x509.CertificateSigningRequest) -> bytes:
    return csr.public_bytes(serialization.Encoding.PEM)


def issuance_tree(certs: list[x509.Certificate]) -> list[tuple[int, int | None]]:
    """For each certificate of a file, the index of the one in the same file that issued
    it (name, key identifier, and signature), or None: the shape of `cert show`'s tree."""
    infos = [_info(c) for c in certs]
    parents: list[tuple[int, int | None]] = []
    for i, info in enumerate(infos):
        parent = None
        if not info.self_signed:
            tries = 0  # signature checks per certificate: bounded on hostile files
            for j, cand in enumerate(infos):
                if j == i or cand.key is None or _likely_issued(cand, info) is not None:
                    continue
                if _verify_signature(info.cert, cand.key) is None:
                    parent = j
                    break
                tries += 1
                if tries >= 16:
                    break
        parents.append((i, parent))
    return parents
