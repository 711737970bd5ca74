"""TLS in the dissector, and decryption with a key log, against tshark on real peers.

- Real peers on loopback, recorded with tcpdump: `openssl s_client` ↔ `openssl s_server`
  (TLS 1.3; TLS 1.2 ECDHE-RSA-AES128-GCM, ChaCha20-Poly1305, RSA key exchange with
  AES128-CBC-SHA256 and encrypt-then-MAC, ECDHE-RSA-AES256-CBC-SHA384 without it, AES-CBC
  with HMAC-SHA1; a HelloRetryRequest; an EC chain of three certificates with
  printableString names and a client certificate asked for, TLS 1.2 and 1.3; records
  of 512 bytes so that a Certificate spans records) with -keylogfile, and curl ↔ nginx
  (HTTP/1.1 and HTTP/2 by ALPN, TLS 1.3 and 1.2) with SSLKEYLOGFILE. netlab's fields
  (the JSON view's), its one-line view and its -V tree of TLS are compared with
  tshark's on the same capture, without the key log and with it (`-o
  tls.keylog_file:…`): JA3/JA3S, every handshake field, the certificates' x509
  fields, the decrypted http./http2. fields.
- The same captures cut into segments of 7, 100 and 1400 bytes: TLS's reassembly of
  records, handshake messages and decrypted application data agrees with tshark's.
- Conversations made byte by byte (tests/tls_craft.py) for the cases the columns depend
  on: a decrypted HTTP message over several records, two in one record, the end of
  one and the start of the next in one record.
- Hostile input: records past 2^14 + 2048, a handshake message claiming 16 MB, a
  thousand certificates, a certificate that is not DER, garbage after a valid record,
  wrong keys, a capture cut short, random bytes: malformed marks or the data left
  encrypted, never an exception, never unbounded memory.
- The live views: `netlab http --http2 -v --keylog F` shows its HTTP/2 frames
  decrypted from the wire; `sniff --keylog` and `dissect --keylog` options.

Deliberate differences from tshark 4.0, each pinned here: a certificate list of more
than 100 entries and a handshake message over 256 KiB are marked malformed (tshark
waits for 16 MB or walks the list); "[Malformed Packet]" is written after a space, as
everywhere in netlab; the HTTP/2 and HTTP pairing differences of tests/test_dissect_http
(DATA frames show their own bytes, pipelined responses pair in order) apply inside TLS
too.
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import struct
import subprocess
import time
from pathlib import Path

import pytest

from netlab.capture.reader import open_capture
from netlab.capture.writer import PcapngWriter
from netlab.dissect import Dissector
from netlab.render.packets import PacketView, json_record, tree_lines
from netlab.wire import tls_crypto as tc
from tests import procs
from tests.conftest import netlab_bin, require_root, require_tool
from tests.hostile_tls import SCRIPTS
from tests.test_dissect import BUG_MARKS
from tests.test_dissect_http import conversation, request, response, write_pcap
from tests.tls_craft import Craft, handshake, record
from tests.tls_servers import make_cert

# Fields compared with tshark, value by value (FT_NONE ones as tshark prints them: "1").
FIELDS = [
    "frame.protocols", "_ws.col.Protocol", "tls.record", "tls.record.content_type",
    "tls.record.opaque_type", "tls.record.version", "tls.record.length", "tls.change_cipher_spec",
    "tls.alert_message", "tls.alert_message.level", "tls.alert_message.desc", "tls.app_data",
    "tls.app_data_proto", "tls.segment.data", "tls.handshake", "tls.handshake.type",
    "tls.handshake.length", "tls.handshake.version", "tls.handshake.random",
    "tls.handshake.random_time", "tls.handshake.random_bytes", "tls.handshake.session_id_length",
    "tls.handshake.session_id", "tls.handshake.cipher_suites_length", "tls.handshake.ciphersuites",
    "tls.handshake.ciphersuite", "tls.handshake.comp_methods_length", "tls.handshake.comp_method",
    "tls.handshake.extensions_length", "tls.handshake.extension.type",
    "tls.handshake.extension.len", "tls.handshake.extension.data",
    "tls.handshake.extensions_server_name_list_len", "tls.handshake.extensions_server_name_type",
    "tls.handshake.extensions_server_name_len", "tls.handshake.extensions_server_name",
    "tls.handshake.extensions_alpn_len", "tls.handshake.extensions_alpn_str_len",
    "tls.handshake.extensions_alpn_str", "tls.handshake.extensions.supported_versions_len",
    "tls.handshake.extensions.supported_version",
    "tls.handshake.extensions_supported_groups_length", "tls.handshake.extensions_supported_group",
    "tls.handshake.extensions_ec_point_formats_length", "tls.handshake.extensions_ec_point_format",
    "tls.handshake.sig_hash_alg_len", "tls.handshake.sig_hash_alg", "tls.handshake.sig_hash_hash",
    "tls.handshake.sig_hash_sig", "tls.extension.psk_ke_modes_length", "tls.extension.psk_ke_mode",
    "tls.handshake.extensions_key_share_client_length", "tls.handshake.extensions_key_share_group",
    "tls.handshake.extensions_key_share_key_exchange_length",
    "tls.handshake.extensions_key_share_key_exchange",
    "tls.handshake.extensions_key_share_selected_group", "tls.handshake.extensions_reneg_info_len",
    "tls.handshake.extensions_padding_data", "tls.handshake.ja3", "tls.handshake.ja3_full",
    "tls.handshake.ja3s", "tls.handshake.ja3s_full",
    "tls.handshake.certificate_request_context_length", "tls.handshake.certificates_length",
    "tls.handshake.certificate_length", "tls.handshake.certificate",
    "tls.handshake.cert_types_count", "tls.handshake.cert_type", "tls.handshake.dnames_len",
    "tls.handshake.dname_len", "x509af.version", "x509af.serialNumber", "x509af.algorithm.id",
    "x509if.oid", "x509sat.CountryName", "x509sat.DirectoryString", "x509sat.uTF8String",
    "x509sat.printableString", "x509af.notBefore", "x509af.notAfter", "x509af.utcTime",
    "x509af.generalizedTime", "x509if.rdnSequence", "x509af.rdnSequence",
    "x509if.RDNSequence_item", "x509af.subjectPublicKey", "pkcs1.modulus", "pkcs1.publicExponent",
    "pkcs1.namedCurve", "x509af.extensions", "x509af.extension.id", "x509af.critical",
    "x509ce.SubjectKeyIdentifier", "x509ce.keyIdentifier", "x509ce.cA", "x509ce.pathLenConstraint",
    "x509ce.dNSName", "x509ce.IPAddress.ipv4", "x509ce.GeneralName", "x509ce.KeyUsage",
    "x509ce.KeyPurposeId", "x509af.encrypted", "ber.bitstring.padding",
    "tls.handshake.server_curve_type", "tls.handshake.server_named_curve",
    "tls.handshake.server_point_len", "tls.handshake.server_point", "tls.handshake.sig_len",
    "tls.handshake.sig", "tls.handshake.client_point_len", "tls.handshake.client_point",
    "tls.handshake.epms_len", "tls.handshake.epms", "tls.handshake.client_cert_vrfy.sig_len",
    "tls.handshake.client_cert_vrfy.sig", "tls.handshake.verify_data",
    "tls.handshake.session_ticket_lifetime_hint", "tls.handshake.session_ticket_age_add",
    "tls.handshake.session_ticket_nonce_length", "tls.handshake.session_ticket_nonce",
    "tls.handshake.session_ticket_length", "tls.handshake.session_ticket", "http.request.method",
    "http.request.uri", "http.request.version", "http.response.code", "http.response.phrase",
    "http.host", "http.user_agent", "http.content_type", "http.content_length",
    "http.request.full_uri", "http.file_data", "http.chunk_size", "http2.magic", "http2.type",
    "http2.streamid", "http2.length", "http2.flags", "http2.header.name", "http2.header.value",
    "http2.headers.status", "http2.headers.path", "http2.headers.authority", "http2.settings.id",
    "http2.window_update.window_size_increment",
]  # fmt: skip
FT_NONE = {
    "tls.record",
    "tls.change_cipher_spec",
    "tls.alert_message",
    "tls.handshake",
    "tls.handshake.ciphersuites",
    "tls.handshake.verify_data",
}
_BYTES = (
    "random",
    "random_bytes",
    "session_id",
    "key_exchange",
    "server_point",
    "client_point",
    "epms",
    "sig",
    "session_ticket",
    "nonce",
    "certificate",
    "serialNumber",
    "subjectPublicKey",
    "modulus",
    "encrypted",
    "SubjectKeyIdentifier",
    "keyIdentifier",
    "padding_data",
    "app_data",
    "KeyUsage",
    "extension.data",
    "segment.data",
)
_ESCAPED = {"http.file_data", "http2.magic", "_ws.col.Info"}
# HTTP's pairing of pipelined responses (tests/test_dissect_http.py's PAIRING)
PAIRING = frozenset(("http.request_in", "http.response_for.uri"))


# --- comparing with tshark --------------------------------------------------------------------
def tshark_rows(path: Path, keys: Path | None) -> list[dict[str, list[str]]]:
    tshark = require_tool("tshark")
    cmd = [
        tshark,
        "-n",
        *(["-o", f"tls.keylog_file:{keys}"] if keys else []),
        "-r",
        str(path),
        "-T",
        "fields",
        "-E",
        "separator=\t",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=\x1f",
    ]
    for name in FIELDS:
        cmd += ["-e", name]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.split("\n")[:-1]:
        row = {}
        for name, text in zip(FIELDS, line.split("\t"), strict=False):
            if text == "":
                continue
            values = text.split("\x1f")
            if name not in _ESCAPED:
                values = [str(int(v, 16)) if v.startswith("0x") else v for v in values]
            if name.endswith(_BYTES):
                values = ["" if v == "<MISSING>" else v.replace(":", "") for v in values]
            row[name] = values
        rows.append(row)
    return rows


def _text(name: str, value) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, bytes | bytearray):
        return value.hex()
    if value == "" and name in FT_NONE:
        return "1"
    if isinstance(value, float):
        return f"{value:.9f}"
    if isinstance(value, str) and name in _ESCAPED:
        if name == "http.file_data":
            value = value.split("\0", 1)[0]
        return (
            value.replace("\\", "\\\\")
            .replace("\r", "\\r")
            .replace("\n", "\\n")
            .replace("\t", "\\t")
        )
    return str(value)


def netlab_rows(path: Path, keys: Path | None) -> list[dict[str, list[str]]]:
    """netlab's FIELDS per packet, in this process; also checks that the tree and JSON
    views build and that no layer hides a decoder bug."""
    d = Dissector(keylog=str(keys) if keys else None)
    rows = []
    with open_capture(path) as cap:
        for no, f in enumerate(cap, 1):
            pkt = d.dissect(no, f.ts_ns, f.data, f.wirelen, f.linktype)
            json.dumps(json_record(pkt), default=str)
            tree_lines(pkt)
            assert not any(b in (pkt.malformed or "") for b in BUG_MARKS), pkt.malformed
            fields = pkt.field_dict()
            fields["frame.protocols"] = pkt.protocols
            fields["_ws.col.Protocol"] = pkt.protocol
            row = {}
            for name in FIELDS:
                if name in fields:
                    values = fields[name] if isinstance(fields[name], list) else [fields[name]]
                    row[name] = [_text(name, v) for v in values]
            rows.append(row)
    return rows


def differences(path: Path, keys: Path | None, ignore=frozenset()) -> dict[int, dict]:
    ours, theirs = netlab_rows(path, keys), tshark_rows(path, keys)
    assert len(ours) == len(theirs), "frame count differs"
    found = {}
    for no, (a, b) in enumerate(zip(ours, theirs, strict=True), 1):
        diff = {
            k: (a.get(k), b.get(k))
            for k in sorted(a.keys() | b.keys())
            if a.get(k) != b.get(k) and k not in ignore
        }
        if diff:
            found[no] = diff
    return found


def _squeeze(lines: list[str]) -> list[str]:
    return [" ".join(line.split()[2:]) for line in lines]


def summary(path: Path, keys: Path | None) -> tuple[list[str], list[str]]:
    """(netlab's one-line view, tshark's), without number and time, spaces squeezed."""
    tshark = require_tool("tshark")
    ours = subprocess.run(
        [netlab_bin(), "dissect", "-j", "1", *(["--keylog", str(keys)] if keys else []), str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    theirs = subprocess.run(
        [tshark, "-n", *(["-o", f"tls.keylog_file:{keys}"] if keys else []), "-r", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return _squeeze(ours.stdout.splitlines()), _squeeze(theirs.stdout.splitlines())


def slow_lines(path: Path, keys: Path | None) -> list[str]:
    """The one-line view through dissect() (no shortcut), to hold the shortcut to it."""
    import io

    out = io.StringIO()
    view = PacketView(out)
    d = Dissector(keylog=str(keys) if keys else None)
    with open_capture(path) as cap:
        for no, f in enumerate(cap, 1):
            view.feed(d.dissect(no, f.ts_ns, f.data, f.wirelen, f.linktype))
    view.finish()
    return _squeeze(out.getvalue().splitlines())


def tls_tree(text: str) -> list[str]:
    """The TLS sections of a -V view (what lies between "Transport Layer Security" and
    the next protocol), with tshark's expert lines left out."""
    out, inside, expert = [], False, None
    for line in text.splitlines():
        if line.startswith("Frame "):
            inside = False
        elif line.startswith("Transport Layer Security"):
            inside = True
        elif line and not line.startswith(" "):
            inside = False
        indent = len(line) - len(line.lstrip())
        if expert is not None and indent > expert:
            continue  # (the expert note's own lines: HTTP's are not netlab's)
        expert = indent if "[Expert Info" in line and "Ignored Unknown" not in line else None
        if inside and expert is None:
            out.append(line)
    return out


def assert_agree(path: Path, keys: Path | None, ignore=frozenset(), tree: bool = True) -> None:
    ours, theirs = summary(path, keys)
    assert ours == theirs
    assert slow_lines(path, keys) == ours  # the one-line shortcut says what dissect() says
    assert differences(path, keys, ignore) == {}
    if tree:  # the TLS part of -V, line for line
        args = ["--keylog", str(keys)] if keys else []
        ours_v = subprocess.run(
            [netlab_bin(), "dissect", "-V", "-j", "1", *args, str(path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        opts = ["-o", f"tls.keylog_file:{keys}"] if keys else []
        theirs_v = subprocess.run(
            [require_tool("tshark"), "-n", "-V", *opts, "-r", str(path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert tls_tree(ours_v) == [
            line
            for line in tls_tree(theirs_v)
            if "Reassembled Handshake Fragments" not in line
            and "[Frame: " not in line
            and "Handshake Fragment count" not in line
        ]


# --- the peers, recorded ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    """An RSA self-signed certificate, and a chain made with openssl: an RSA root with
    printableString names, an EC intermediate with a path length, an EC leaf with key
    usage, extended key usage and alternative names."""
    openssl = require_tool("openssl")
    tmp = tmp_path_factory.mktemp("pki")
    make_cert(tmp)
    (tmp / "ca.cnf").write_text("""[req]
distinguished_name=dn
string_mask=default
prompt=no
[dn]
C=US
ST=California
L=San Francisco
O=Netlab Root
OU=Lab
CN=Netlab Root CA
[v3_ca]
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
[v3_int]
basicConstraints=critical,CA:TRUE,pathlen:0
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid:always
[v3_leaf]
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:server.lab,DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
""")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=tmp, check=True, capture_output=True, timeout=60)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "root.key",
        "-out",
        "root.pem",
        "-days",
        "3650",
        "-config",
        "ca.cnf",
        "-extensions",
        "v3_ca",
    )
    for name, subject in (
        ("int", "/C=US/O=Netlab/CN=Netlab Intermediate"),
        ("leaf", "/CN=server.lab"),
    ):
        run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{name}.key")
        run("req", "-new", "-key", f"{name}.key", "-subj", subject, "-out", f"{name}.csr")
    run(
        "x509",
        "-req",
        "-in",
        "int.csr",
        "-CA",
        "root.pem",
        "-CAkey",
        "root.key",
        "-set_serial",
        "4096",
        "-days",
        "1000",
        "-extfile",
        "ca.cnf",
        "-extensions",
        "v3_int",
        "-out",
        "int.pem",
    )
    run(
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "int.pem",
        "-CAkey",
        "int.key",
        "-set_serial",
        "0x1234567890abcdef01",
        "-days",
        "2000",
        "-extfile",
        "ca.cnf",
        "-extensions",
        "v3_leaf",
        "-out",
        "leaf.pem",
    )
    (tmp / "chain.pem").write_text((tmp / "int.pem").read_text() + (tmp / "root.pem").read_text())
    # a P-384 certificate valid past 2049 (GeneralizedTime), with an e-mail address and a
    # serial number in its name, CRL distribution points, authority information access,
    # policies, and IPv6 and e-mail alternative names
    (tmp / "ext.cnf").write_text("""[req]
distinguished_name=dn
prompt=no
[dn]
CN=long.lab
emailAddress=admin@long.lab
serialNumber=42
[ext]
basicConstraints=CA:FALSE
crlDistributionPoints=URI:http://crl.lab/ca.crl
authorityInfoAccess=OCSP;URI:http://ocsp.lab/,caIssuers;URI:http://ca.lab/ca.crt
certificatePolicies=2.23.140.1.2.1
subjectAltName=DNS:long.lab,IP:::1,email:a@b.lab
""")
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-nodes",
        "-keyout", "ext.key", "-out", "ext.pem", "-days", "12000", "-config", "ext.cnf",
        "-extensions", "ext")  # fmt: skip
    return tmp


# (server options, client options, whether the client sends a certificate): each an
# s_server on its own port, one s_client each
OPENSSL_CASES = {
    "tls13": ([], ["-tls1_3"]),
    "tls13-chacha": ([], ["-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"]),
    "tls13-hrr": (["-groups", "X25519"], ["-tls1_3", "-groups", "P-256:X25519"]),
    "tls12-gcm": ([], ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"]),
    "tls12-chacha": ([], ["-tls1_2", "-cipher", "ECDHE-RSA-CHACHA20-POLY1305"]),
    "tls12-rsa-cbc-sha256": (["-cipher", "AES128-SHA256"], ["-tls1_2", "-cipher", "AES128-SHA256"]),
    "tls12-cbc-sha384": ([], ["-tls1_2", "-cipher", "ECDHE-RSA-AES256-SHA384", "-no_etm"]),
    "tls12-cbc-sha1": ([], ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA"]),
    "tls12-fragments": (
        ["-max_send_frag", "512"],
        ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"],
    ),
    "tls12-dhe-cbc": (
        ["-cipher", "DHE-RSA-AES256-SHA256"],
        ["-tls1_2", "-cipher", "DHE-RSA-AES256-SHA256"],
    ),
    "extensions-cert": (["@ext"], ["-tls1_3"]),
    "chain12-mtls": (["@chain", "-Verify", "1"], ["-tls1_2", "@client"]),
    "chain13-mtls": (["@chain", "-Verify", "1"], ["-tls1_3", "@client"]),
}


def _server_args(pki: Path, port: int, keys: Path, options: list[str]) -> list[str]:
    cert, key = pki / "localhost.pem", pki / "localhost.key"
    extra = []
    for option in options:
        if option == "@chain":
            cert, key = pki / "leaf.pem", pki / "leaf.key"
            extra += ["-cert_chain", str(pki / "chain.pem"), "-CAfile", str(pki / "root.pem")]
        elif option == "@ext":
            cert, key = pki / "ext.pem", pki / "ext.key"
        else:
            extra.append(option)
    return [
        "openssl",
        "s_server",
        "-accept",
        f"127.0.0.1:{port}",
        "-cert",
        str(cert),
        "-key",
        str(key),
        "-keylogfile",
        str(keys),
        "-www",
        "-quiet",
        *extra,
    ]


def _client_args(pki: Path, port: int, options: list[str]) -> list[str]:
    extra = []
    for option in options:
        if option == "@client":
            extra += ["-cert", str(pki / "leaf.pem"), "-key", str(pki / "leaf.key")]
        else:
            extra.append(option)
    return [
        "openssl",
        "s_client",
        "-connect",
        f"127.0.0.1:{port}",
        "-servername",
        "localhost",
        "-quiet",
        *extra,
    ]


@pytest.fixture(scope="module")
def openssl_captures(pki, tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """{case: (capture, key log)}: each OPENSSL_CASES handshake and one GET (s_server
    -www answers with its status page), recorded on lo."""
    require_root()
    require_tool("openssl")
    folder = tmp_path_factory.mktemp("openssl")
    found = {}
    for name, (server, client) in OPENSSL_CASES.items():
        for attempt in range(3):  # a busy machine can make the kernel drop packets: again
            path, keys = folder / f"{name}-{attempt}.pcap", folder / f"{name}-{attempt}.keys"
            port = procs.free_port()
            srv = subprocess.Popen(
                _server_args(pki, port, keys, server),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                procs.wait_port(port)
                keys.write_text("")  # s_server appends; the check connection wrote nothing
                dump = procs.start_tcpdump(path, f"tcp port {port}")
                subprocess.run(
                    _client_args(pki, port, client),
                    input=b"GET / HTTP/1.0\r\n\r\n",
                    capture_output=True,
                    timeout=30,
                )
                kept = procs.stop_tcpdump(dump)
            finally:
                procs.end(srv)
            if kept:
                found[name] = (path, keys)
                break
        else:
            pytest.fail(f"the kernel dropped packets for tcpdump three times ({name})")
    return found


@pytest.fixture(scope="module")
def nginx_captures(pki, tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """{case: (capture, key log)}: curl against nginx with TLS 1.2 and 1.3: HTTP/1.1
    keep-alive, HTTP/2 with gzip, a body over several records, a 404."""
    require_root()
    nginx = require_tool("nginx")
    curl = require_tool("curl")
    tmp = tmp_path_factory.mktemp("nginx")
    www = tmp / "www"
    www.mkdir()
    (www / "index.html").write_text("<html><body>" + "<p>hello</p>\n" * 30 + "</body></html>\n")
    (www / "data.json").write_text(json.dumps({"items": list(range(300))}) + "\n")
    (www / "big.txt").write_text("".join(f"line {i} of text\n" for i in range(3000)))
    port = procs.free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(f"""daemon off; master_process off; worker_processes 1;
pid {tmp}/nginx.pid; error_log {tmp}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
  types {{ text/html html; application/json json; text/plain txt; }}
  gzip on; gzip_types application/json;
  server {{ listen 127.0.0.1:{port} ssl http2; root {www};
    ssl_certificate {pki / "localhost.pem"}; ssl_certificate_key {pki / "localhost.key"};
    ssl_protocols TLSv1.2 TLSv1.3; }}
}}
""")
    proc = subprocess.Popen(
        [nginx, "-c", str(conf), "-p", str(tmp)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"https://localhost:{port}"
    cases = {
        "h1-tls13": [
            "--http1.1",
            f"{base}/",
            f"{base}/data.json",
            f"{base}/big.txt",
            f"{base}/nope",
        ],
        "h2-tls13": ["--http2", "--compressed", f"{base}/", f"{base}/data.json", f"{base}/big.txt"],
        "h2-tls12": [
            "--http2",
            "--tls-max",
            "1.2",
            "--ciphers",
            "ECDHE-RSA-AES256-GCM-SHA384",
            f"{base}/",
            f"{base}/nope",
        ],
        "h1-tls12-chacha": [
            "--http1.1",
            "--tls-max",
            "1.2",
            "--ciphers",
            "ECDHE-RSA-CHACHA20-POLY1305",
            f"{base}/data.json",
        ],
    }
    found = {}
    try:
        procs.wait_port(port)
        for name, args in cases.items():
            for attempt in range(3):
                path, keys = tmp / f"{name}-{attempt}.pcap", tmp / f"{name}-{attempt}.keys"
                dump = procs.start_tcpdump(path, f"tcp port {port}")
                urls = [a for a in args if a.startswith("https://")]
                options = [a for a in args if not a.startswith("https://")]
                outputs = [x for _ in urls for x in ("-o", "/dev/null")]
                subprocess.run(
                    [curl, "-sk", "--max-time", "20", *options, *outputs, *urls],
                    env={**os.environ, "SSLKEYLOGFILE": str(keys)},
                    check=True,
                    timeout=30,
                )
                if procs.stop_tcpdump(dump):
                    found[name] = (path, keys)
                    break
            else:
                pytest.fail(f"the kernel dropped packets for tcpdump three times ({name})")
    finally:
        procs.end(proc)
    return found


@pytest.fixture(scope="module")
def captures(openssl_captures, nginx_captures) -> dict[str, tuple[Path, Path]]:
    return {**openssl_captures, **nginx_captures}


# HTTP/2 DATA frames show their own bytes (tshark: the body, reassembled and decoded)
HTTP2_BODY = frozenset(("http2.data.data",))


@pytest.mark.parametrize(
    "case", [*OPENSSL_CASES, "h1-tls13", "h2-tls13", "h2-tls12", "h1-tls12-chacha"]
)
def test_recorded_captures_agree_with_tshark(captures, case):
    path, keys = captures[case]
    assert_agree(path, None)  # without the key log: what is on the wire
    assert_agree(path, keys, ignore=HTTP2_BODY)  # with it: decrypted, HTTP inside


def test_recorded_captures_hold_what_the_tests_claim(captures):
    """Each case shows what it was made for, decrypted."""
    seen = {name: _all_fields(path, keys) for name, (path, keys) in captures.items()}
    suites = {name: f["tls.handshake.ciphersuite"][-1] for name, f in seen.items()}
    assert suites["tls13"] in (0x1301, 0x1302) and suites["tls13-chacha"] == 0x1303
    assert suites["tls12-gcm"] == 0xC02F and suites["tls12-chacha"] == 0xCCA8
    assert suites["tls12-rsa-cbc-sha256"] == 0x003C and suites["tls12-cbc-sha384"] == 0xC028
    assert suites["tls12-cbc-sha1"] == 0xC013
    assert 22 in seen["tls12-rsa-cbc-sha256"]["tls.handshake.extension.type"]  # encrypt-then-MAC
    assert "tls.handshake.epms" in seen["tls12-rsa-cbc-sha256"]  # RSA key exchange
    assert "tls.handshake.extensions_key_share_selected_group" in seen["tls13-hrr"]
    assert 13 in seen["chain12-mtls"]["tls.handshake.type"]  # CertificateRequest
    assert "Netlab Root CA" in seen["chain13-mtls"]["x509sat.printableString"]
    assert {8, 11, 15, 20} <= set(seen["tls13"]["tls.handshake.type"])  # decrypted flight
    assert (
        "tls.handshake.ys" in seen["tls12-dhe-cbc"] and "tls.handshake.yc" in seen["tls12-dhe-cbc"]
    )
    ext = seen["extensions-cert"]
    assert "admin@long.lab" in ext["x509sat.IA5String"] and "42" in ext["x509sat.PrintableString"]
    assert (
        ext["x509af.generalizedTime"] and "1.3.6.1.5.5.7.48.1" in ext["pkix1implicit.accessMethod"]
    )
    assert "http://crl.lab/ca.crl" in ext["x509ce.uniformResourceIdentifier"]
    assert "::1" in ext["x509ce.IPAddress.ipv6"] and "a@b.lab" in ext["x509ce.rfc822Name"]
    for name in OPENSSL_CASES:  # the GET, decrypted
        assert seen[name].get("http.request.method") == ["GET"], name
    assert seen["h1-tls13"]["http.request.method"] == ["GET"] * 4
    assert 404 in seen["h1-tls13"]["http.response.code"]
    assert "h2" in seen["h2-tls13"]["tls.handshake.extensions_alpn_str"]
    assert 1 in seen["h2-tls13"]["http2.type"] and "http2.header.name" in seen["h2-tls12"]


def _all_fields(path: Path, keys: Path) -> dict[str, list]:
    """Every field of the capture: {name: the values of all packets, in order}."""
    d = Dissector(keylog=str(keys))
    out: dict[str, list] = {}
    with open_capture(path) as cap:
        for no, f in enumerate(cap, 1):
            pkt = d.dissect(no, f.ts_ns, f.data, f.wirelen, f.linktype)
            for name, value in pkt.field_dict().items():
                out.setdefault(name, []).extend(value if isinstance(value, list) else [value])
    return out


def resegment(src: Path, dst: Path, size: int) -> Path:
    """SRC with every TCP payload cut into segments of at most SIZE bytes."""
    with open_capture(src) as cap:
        frames = list(cap)
    with PcapngWriter(dst) as out:
        iface = out.add_interface(frames[0].linktype)
        for f in frames:
            data = f.data
            ihl = (data[14] & 15) * 4
            t = 14 + ihl
            hlen = (data[t + 12] >> 4) * 4
            start, end = t + hlen, 14 + struct.unpack_from("!H", data, 16)[0]
            seq = struct.unpack_from("!I", data, t + 4)[0]
            if end - start <= size:
                out.write_packet(data, f.ts_ns, interface=iface)
                continue
            for i in range(start, end, size):
                piece = data[i : min(end, i + size)]
                head = bytearray(data[:start])
                struct.pack_into("!H", head, 16, ihl + hlen + len(piece))
                struct.pack_into("!I", head, t + 4, (seq + i - start) & 0xFFFFFFFF)
                out.write_packet(bytes(head) + piece, f.ts_ns + i - start, interface=iface)
    return dst


@pytest.mark.parametrize(
    "case",
    ["tls13", "tls12-rsa-cbc-sha256", "chain13-mtls", "tls12-fragments", "h1-tls13", "h2-tls13"],
)
@pytest.mark.parametrize("size", [7, 100, 1400])
def test_resegmented_captures_agree_with_tshark(captures, case, size, tmp_path):
    """Records, handshake messages and decrypted PDUs over segments of any size: the
    same reassembly as tshark's, segment by segment."""
    path, keys = captures[case]
    cut = resegment(path, tmp_path / "cut.pcapng", size)
    assert_agree(cut, keys, ignore=HTTP2_BODY, tree=False)


def test_jobs_give_the_same_output(captures, tmp_path):
    """The sessions' state (decryption, HTTP inside) is kept in step in the light pass
    of --jobs: the capture repeated over many chunks gives the same output."""
    from netlab.dissect.jobs import CHUNK

    path, keys = captures["h2-tls13"]
    with open_capture(path) as cap:
        frames = list(cap)
    big = tmp_path / "many.pcapng"
    with PcapngWriter(big) as out:
        iface = out.add_interface(frames[0].linktype)
        shift = written = 0
        while written < CHUNK * 3:
            for f in frames:  # a fresh TCP stream each round (the same keys open each)
                out.write_packet(
                    _with_client_port(f.data, shift), f.ts_ns + shift * 10**9, interface=iface
                )
                written += 1
            shift += 1
    for view in ([], ["--json"]):
        one = subprocess.run(
            [netlab_bin(), "dissect", "--keylog", str(keys), "-j", "1", *view, str(big)],
            capture_output=True,
            check=True,
        ).stdout
        two = subprocess.run(
            [netlab_bin(), "dissect", "--keylog", str(keys), "-j", "2", *view, str(big)],
            capture_output=True,
            check=True,
        ).stdout
        assert one == two
    assert b'"http2.header.name"' in two and b'"tls.handshake.ja3"' in two


def _with_client_port(frame: bytes, shift: int) -> bytes:
    t = 14 + (frame[14] & 0x0F) * 4
    sport, dport = struct.unpack_from("!HH", frame, t)
    out = bytearray(frame)
    if sport > dport:
        struct.pack_into("!H", out, t, (sport + shift) % 65536)
    else:
        struct.pack_into("!H", out, t + 2, (dport + shift) % 65536)
    return bytes(out)


def test_display_filters_know_the_names(captures):
    path, keys = captures["h2-tls13"]
    out = subprocess.run(
        [
            netlab_bin(),
            "dissect",
            "--keylog",
            str(keys),
            "-Y",
            'tls.handshake.type == 1 || http2.type == 1 || x509sat.uTF8String == "localhost"',
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    theirs = subprocess.run(
        [
            require_tool("tshark"),
            "-n",
            "-o",
            f"tls.keylog_file:{keys}",
            "-Y",
            'tls.handshake.type == 1 || http2.type == 1 || x509sat.uTF8String == "localhost"',
            "-r",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert _squeeze(out.splitlines()) == _squeeze(theirs.splitlines()) and "Client Hello" in out


# --- crafted conversations ------------------------------------------------------------------------
R1, R2 = response(b"a" * 100), response(b"b" * 300)
CRAFTED = {
    # one response over many records; two requests in one record and two responses
    "over records": lambda c: [("c", c.app("c", request())), ("s", c.apps("s", R2, 40))],
    "two in one record": lambda c: [
        ("c", c.app("c", request() + request(b"/2"))),
        ("s", c.app("s", R1 + R2)),
    ],
    # the end of one response and the start of the next in one record
    "end and start": lambda c: [
        ("c", c.app("c", request() + request(b"/2"))),
        ("s", c.app("s", R1[:50])),
        ("s", c.app("s", R1[50:] + R2[:60])),
        ("s", c.app("s", R2[60:])),
    ],
    # records of one segment: a response, then an alert
    "response and alert": lambda c: [
        ("c", c.app("c", request())),
        ("s", c.app("s", R1) + c.app("s", b"\x01\x00", 21)),
    ],
    # a record split over segments in the middle of its header
    "header over segments": lambda c: _split_header(c),
}


def _split_header(c: Craft) -> list:
    rec = c.app("s", R1)
    return [("c", c.app("c", request())), ("s", rec[:3]), ("s", rec[3:])]


@pytest.mark.parametrize("tls13", [False, True], ids=["tls12", "tls13"])
@pytest.mark.parametrize("case", list(CRAFTED))
def test_crafted_conversations_agree_with_tshark(tmp_path, case, tls13):
    c = Craft(tls13=tls13)
    steps = c.handshake_steps() + CRAFTED[case](c)
    path = write_pcap(tmp_path / "c.pcap", conversation(steps, port=4433))
    keys = tmp_path / "keys.txt"
    keys.write_text(c.keylog())
    assert_agree(path, keys, ignore=PAIRING)
    assert_agree(path, None)


# --- hostile input --------------------------------------------------------------------------------
def dissect_all(path: Path, keys: Path | None = None):
    d = Dissector(keylog=str(keys) if keys else None)
    with open_capture(path) as cap:
        packets = [
            d.dissect(no, f.ts_ns, f.data, f.wirelen, f.linktype) for no, f in enumerate(cap, 1)
        ]
    for pkt in packets:
        json.dumps(json_record(pkt), default=str)
        tree_lines(pkt)
        assert not any(b in (pkt.malformed or "") for b in BUG_MARKS), pkt.malformed
    return packets, d


def _hostile(tmp_path: Path, name: str) -> Path:
    c = Craft()
    data = SCRIPTS[name]()
    steps = [("c", c.client_hello())]
    steps += [("s", data[i : i + 30000]) for i in range(0, len(data), 30000)]
    return write_pcap(tmp_path / f"{name}.pcap", conversation(steps, port=443))


@pytest.mark.parametrize(
    "name", ["huge-record", "huge-handshake", "thousand-certs", "bad-asn1", "alert", "http"]
)
def test_hostile_servers_are_bounded_and_marked(tmp_path, name):
    """tests/hostile_tls.py's flights as a capture: never an exception; what is damaged
    is marked malformed; nothing is buffered past its bound."""
    path = _hostile(tmp_path, name)
    packets, d = dissect_all(path)
    marks = [p.malformed for p in packets if p.malformed]
    server = packets[-1]
    if name == "huge-handshake":  # claims 16 MB: "encrypted" for tshark (over 64 KiB), and us
        assert "Encrypted Handshake Message" in server.info
        assert all(
            side.frag is None
            for s in d.tcp.streams.values()
            if s.app is not None
            for side in s.app.sides
        )
    elif name == "thousand-certs":  # more than wire/tls.MAX_CERTS: marked (tshark walks them)
        assert any("more than 100 certificates" in m for m in marks)
    elif name == "bad-asn1":
        assert any("Certificate: certificate at byte 0" in m for m in marks)
    elif name == "alert":
        assert "Alert (Level: Fatal, Description: Handshake Failure)" in server.info
    elif name == "http":  # HTTP where TLS was expected: tshark's TLS refuses it, HTTP takes it
        assert server.protocol == "HTTP" and "400 Bad Request" in server.info
    if name in ("alert", "http", "huge-handshake", "huge-record"):
        ours, theirs = summary(path, None)
        assert ours == theirs


def test_handshake_message_over_the_bound_is_marked(tmp_path):
    """A message whose length comes in its second record (the first held only its type
    and a length byte) and claims 16 MB: marked malformed, nothing kept for it."""
    c = Craft()
    steps = [
        ("c", c.client_hello()),
        ("s", record(22, b"\x0b\xff") + record(22, b"\xff\xff" + b"\x00" * 1000)),
    ]
    path = write_pcap(tmp_path / "hs.pcap", conversation(steps, port=443))
    packets, d = dissect_all(path)
    assert any(
        "claims 16777215 bytes, over the 262144 allowed" in (p.malformed or "") for p in packets
    )
    assert all(
        side.frag is None
        for s in d.tcp.streams.values()
        if s.app is not None
        for side in s.app.sides
    )


def test_record_past_the_limit_is_marked(tmp_path):
    """A whole record of 2^14 + 2049 bytes: marked malformed (tshark notes it)."""
    c = Craft()
    big = record(23, os.urandom((1 << 14) + 2049))
    steps = [*c.handshake_steps(), ("s", big[:30000]), ("s", big[30000:])]
    path = write_pcap(tmp_path / "big.pcap", conversation(steps, port=443))
    packets, _d = dissect_all(path)
    assert any("over TLS's 18432" in (p.malformed or "") for p in packets)


def test_garbage_after_a_record_agrees_with_tshark(tmp_path):
    c = Craft()
    tail = b"\x99garbage after a record" * 3
    steps = [*c.handshake_steps(), ("s", c.app("s", R1) + tail)]
    path = write_pcap(tmp_path / "g.pcap", conversation(steps, port=443))
    keys = tmp_path / "keys.txt"
    keys.write_text(c.keylog())
    assert_agree(path, keys)
    packets, _d = dissect_all(path, keys)
    assert packets[-1].info.endswith("Ignored Unknown Record")


@pytest.mark.parametrize("tls13", [False, True], ids=["tls12", "tls13"])
def test_wrong_keys_leave_the_data_encrypted(tmp_path, tls13):
    c = Craft(tls13=tls13)
    steps = [*c.handshake_steps(), ("c", c.app("c", request())), ("s", c.app("s", R1))]
    path = write_pcap(tmp_path / "w.pcap", conversation(steps, port=443))
    keys = tmp_path / "wrong.txt"
    keys.write_text(
        "".join(
            f"{line.rsplit(' ', 1)[0]} {'11' * (48 if not tls13 else 32)}\n"
            for line in c.keylog().splitlines()
        )
    )
    packets, _d = dissect_all(path, keys)
    assert [p.info for p in packets[-2:]] == ["Application Data", "Application Data"]
    assert not any(p.layer("http") for p in packets)
    ours, theirs = summary(path, keys)
    assert ours == theirs


def test_truncated_capture_is_decoded_up_to_the_damage(captures, tmp_path):
    path, keys = captures["h2-tls13"]
    data = path.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) * 2 // 3])
    out = subprocess.run(
        [netlab_bin(), "dissect", "--keylog", str(keys), str(cut)], capture_output=True, text=True
    )
    assert out.returncode == 2 and "warning" in out.stderr and "HTTP2" in out.stdout
    dissect_all(cut, keys)


def test_random_segments_never_raise():
    """Random bytes, bit flips and cuts of a real-looking conversation: marks at most."""
    rng = random.Random(15)
    c = Craft(tls13=True)
    wire = [*c.handshake_steps(), ("c", c.app("c", request())), ("s", c.apps("s", R2, 50))]
    d = Dissector(keylog=None)
    d2 = Dissector()
    d2.tls_keys = tc.KeyLog(text=c.keylog())  # a key log given as text
    d2.keylog = d2.tls_keys
    for round_ in range(60):
        steps = []
        for side, data in wire:
            data = bytearray(data)
            for _ in range(rng.randrange(4)):
                if data:
                    data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            if rng.random() < 0.2:
                data += os.urandom(rng.randrange(1, 300))
            if rng.random() < 0.2:
                data = data[: rng.randrange(len(data) + 1)]
            steps.append((side, bytes(data)))
        frames = conversation(steps, port=443 + round_)
        for no, frame in enumerate(frames, 1):
            for dissector in (d, d2):
                pkt = dissector.dissect(no, 0, frame, len(frame), 1)
                assert not any(b in (pkt.malformed or "") for b in BUG_MARKS), pkt.malformed
                json.dumps(json_record(pkt), default=str)
                tree_lines(pkt)


def test_first_fragment_decodes_a_segment_alone():
    """A segment in the first fragment of an IP datagram: its whole records, alone."""
    c = Craft()
    frame = conversation([("c", c.client_hello())], port=443, handshake=False)[0]
    out = bytearray(frame)
    struct.pack_into("!H", out, 20, 0x2000)  # MF set: a first fragment
    pkt = Dissector().dissect(1, 0, bytes(out), len(out), 1)
    assert pkt.info == "Client Hello" and pkt.layer("tls") is not None


# --- the key log and the record protection --------------------------------------------------------
def test_key_log_reads_what_is_appended_and_skips_junk(tmp_path):
    path = tmp_path / "keys.txt"
    path.write_text(
        "# comment\nCLIENT_RANDOM zz 00\nUNKNOWN_LABEL 00 11\n"
        f"CLIENT_RANDOM {'ab' * 32} {'cd' * 48}\nCLIENT_RANDOM {'ef' * 32}"
    )
    keys = tc.KeyLog(str(path))
    assert keys.secret("CLIENT_RANDOM", bytes.fromhex("ab" * 32)) == bytes.fromhex("cd" * 48)
    assert keys.secret("CLIENT_RANDOM", bytes.fromhex("ef" * 32)) is None  # (a line in progress)
    with open(path, "a") as f:
        f.write(f" {'01' * 48}\nSERVER_TRAFFIC_SECRET_0 {'ef' * 32} {'02' * 32}\n")
    assert keys.secret("CLIENT_RANDOM", bytes.fromhex("ef" * 32)) == bytes.fromhex("01" * 48)
    assert keys.secret("SERVER_TRAFFIC_SECRET_0", bytes.fromhex("ef" * 32)) == b"\x02" * 32
    assert tc.KeyLog(str(tmp_path / "missing")).secret("CLIENT_RANDOM", b"x") is None


def test_key_log_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(tc, "MAX_KEYLOG_ENTRIES", 10)
    text = "".join(f"CLIENT_RANDOM {i:064x} {'00' * 48}\n" for i in range(50))
    assert len(tc.KeyLog(text=text).secrets) == 10


@pytest.mark.parametrize("etm", [False, True])
@pytest.mark.parametrize("code", [0x002F, 0x003C, 0xC028])
def test_cbc_records_open_and_a_bad_mac_is_refused(code, etm):
    """AES-CBC with HMAC-SHA1/256/384, MAC-then-encrypt and encrypt-then-MAC: a record
    sealed the way RFC 5246 / RFC 7366 say opens; one flipped bit does not."""
    import hmac as hmac_mod

    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    suite = tc.DECRYPT_SUITES[code]
    kb = tc.key_block12(suite, os.urandom(48), os.urandom(32), os.urandom(32))
    assert len(kb.client_mac) == suite.mac_len and len(kb.client_key) == suite.key_len
    content = b"GET / HTTP/1.1\r\n\r\n" * 3

    def seal(seq: int) -> bytes:
        head = struct.pack("!QBHH", seq, 23, 0x0303, len(content))
        iv = os.urandom(16)
        plain = (
            content
            if etm
            else content + hmac_mod.new(kb.client_mac, head + content, suite.mac).digest()
        )
        padder_len = 16 - (len(plain) + 1) % 16
        plain += bytes([padder_len]) * (padder_len + 1)
        enc = Cipher(algorithms.AES(kb.client_key), modes.CBC(iv)).encryptor()
        sealed = iv + enc.update(plain) + enc.finalize()
        if etm:
            mac_head = struct.pack("!QBHH", seq, 23, 0x0303, len(sealed))
            sealed += hmac_mod.new(kb.client_mac, mac_head + sealed, suite.mac).digest()
        return sealed

    assert padding  # (PKCS#7 padding is TLS's own here: every pad byte is the length)
    cipher = tc.RecordCipher(suite, kb.client_key, kb.client_iv, kb.client_mac, etm)
    assert cipher.open12(23, seal(0)) == content
    assert cipher.open12(23, seal(1)) == content
    bad = bytearray(seal(2))
    bad[20] ^= 1
    with pytest.raises(ValueError):
        cipher.open12(23, bytes(bad))


def test_key_update_is_followed(tmp_path):
    """TLS 1.3 KeyUpdate: the records after it open with the next secret."""
    c = Craft(tls13=True)
    steps = [*c.handshake_steps(), ("c", c.app("c", request()))]
    steps.append(("c", c.app("c", handshake(24, b"\x00"), 22)))
    secret = tc.next_traffic_secret(c.suite, c.secrets["CLIENT_TRAFFIC_SECRET_0"])
    c.client = tc.RecordCipher(c.suite, *tc.traffic_keys(c.suite, secret))
    steps += [("c", c.app("c", request(b"/after"))), ("s", c.app("s", R1))]
    path = write_pcap(tmp_path / "ku.pcap", conversation(steps, port=443))
    keys = tmp_path / "keys.txt"
    keys.write_text(c.keylog())
    assert_agree(path, keys, ignore=PAIRING)
    packets, _d = dissect_all(path, keys)
    assert "Key Update" in [p.info for p in packets]
    assert packets[-2].info == "GET /after HTTP/1.1 "


# --- the commands ---------------------------------------------------------------------------------
def test_dissect_refuses_a_key_log_it_cannot_read(tmp_path):
    out = subprocess.run(
        [netlab_bin(), "dissect", "--keylog", str(tmp_path / "none"), str(tmp_path / "x.pcap")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and "cannot read the key log" in out.stderr


def test_dissect_json_carries_the_decrypted_fields(captures):
    path, keys = captures["h2-tls13"]
    out = subprocess.run(
        [netlab_bin(), "dissect", "--keylog", str(keys), "--json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    *records, summary = [json.loads(line) for line in out.splitlines()]
    assert summary == {"type": "summary", "packets": len(records), "interrupted": False}
    assert any("tls.handshake.ja3" in r["fields"] for r in records)
    assert any(r["fields"].get("http2.headers.status") == 200 for r in records)
    assert any(r["protocols"].endswith("tls:http2") for r in records)
    hexed = subprocess.run(
        [netlab_bin(), "dissect", "--keylog", str(keys), "-x", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Decrypted TLS (" in hexed


@pytest.fixture(scope="module")
def https_server(pki, tmp_path_factory):
    """nginx with HTTP/2 over TLS 1.3 on a free loopback port (stopped by pid)."""
    require_root()
    nginx = require_tool("nginx")
    tmp = tmp_path_factory.mktemp("https")
    www = tmp / "www"
    www.mkdir()
    (www / "index.html").write_text("<p>hello</p>\n")
    port = procs.free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(f"""daemon off; master_process off; worker_processes 1;
pid {tmp}/nginx.pid; error_log {tmp}/error.log;
events {{ worker_connections 16; }}
http {{ access_log off; client_body_temp_path {tmp}; proxy_temp_path {tmp};
  fastcgi_temp_path {tmp}; uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
  server {{ listen 127.0.0.1:{port} ssl http2; root {www}; ssl_protocols TLSv1.3;
    ssl_certificate {pki / "localhost.pem"}; ssl_certificate_key {pki / "localhost.key"}; }} }}
""")
    proc = subprocess.Popen(
        [nginx, "-c", str(conf), "-p", str(tmp)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        procs.wait_port(port)
        yield port
    finally:
        procs.end(proc)


def test_http_v_shows_its_http2_frames_decrypted(https_server, tmp_path):
    """`netlab http --http2 -v --keylog F https://…`: the -v view decrypts with the key
    log Python's ssl writes during the handshake, so the HTTP/2 frames are shown."""
    keys = tmp_path / "keys.txt"
    out = subprocess.run(
        [netlab_bin(), "http", "--http2", "-v", "-k", "--keylog", str(keys),
         f"https://localhost:{https_server}/"],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    tree = out.stdout
    assert "HyperText Transfer Protocol 2" in tree
    assert "Stream: HEADERS, Stream ID: 1" in tree and "Stream: DATA, Stream ID: 1" in tree
    assert keys.read_text().count("CLIENT_TRAFFIC_SECRET_0") == 1


def test_sniff_decrypts_with_a_growing_key_log(https_server, tmp_path):
    """`netlab sniff --keylog F` while curl (SSLKEYLOGFILE=F) fetches a page: the key log
    is written during the capture, and read again as it grows."""
    keys = tmp_path / "keys.txt"
    keys.write_text("")
    sniff = subprocess.Popen(
        [netlab_bin(), "sniff", "-i", "lo", "-f", f"tcp port {https_server}", "--keylog",
         str(keys), "--timeout", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        ready, _, _ = select.select([sniff.stderr], [], [], 10)
        assert ready and b"listening on lo" in sniff.stderr.readline()
        subprocess.run(
            [require_tool("curl"), "-sk", "--http2", "-o", "/dev/null", "--max-time", "10",
             f"https://localhost:{https_server}/"],
            env={**os.environ, "SSLKEYLOGFILE": str(keys)},
            check=True,
            timeout=30,
        )  # fmt: skip
        time.sleep(0.5)
    finally:
        sniff.send_signal(signal.SIGINT)  # by pid: the sniff this test started
        out, _err = sniff.communicate(timeout=10)
    text = out.decode()
    assert "HEADERS[1]: GET /" in text and "HEADERS[1]: 200 OK" in text


def test_sniff_takes_a_key_log(tmp_path):
    out = subprocess.run(
        [netlab_bin(), "sniff", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--keylog FILE" in out
