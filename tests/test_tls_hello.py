"""`netlab tls-hello` against `openssl s_server` on loopback (the real peer), with
tshark reading what netlab captured, and hostile servers.

The strongest check of a hand-made handshake: the server's own key log (s_server
-keylogfile) holds the same secrets as netlab's, so both ends derived the same
keys — for TLS 1.3, after a HelloRetryRequest, and for TLS 1.2 with ECDHE and with
the RSA key exchange (the master secret from the pre-master and the two randoms)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from tests.conftest import require_root, require_tool
from tests.hostile_tls import HostileTlsServer
from tests.tls_servers import OpensslServer, make_cert

NETLAB = [sys.executable, "-m", "netlab", "tls-hello"]


def hello(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([*NETLAB, *args], capture_output=True, text=True, timeout=timeout)


def hello_json(*args: str) -> tuple[int, dict]:
    proc = hello("--json", *args)
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


KEYLOG_LABELS = {
    "CLIENT_RANDOM": "master_secret",
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET": "client_handshake_traffic_secret",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET": "server_handshake_traffic_secret",
    "CLIENT_TRAFFIC_SECRET_0": "client_application_traffic_secret_0",
    "SERVER_TRAFFIC_SECRET_0": "server_application_traffic_secret_0",
}


def _keylog(path) -> set[str]:
    return {line for line in path.read_text().splitlines() if line and not line.startswith("#")}


@pytest.fixture
def tool_openssl():
    require_tool("openssl")


@pytest.mark.parametrize(
    ("server_args", "client_args", "version", "cipher", "hrr"),
    [
        ({}, [], "TLSv1.3", "TLS_AES_128_GCM_SHA256", False),
        ({"groups": "X25519"}, ["--groups", "secp256r1,x25519"], "TLSv1.3", None, True),
        (
            {"ciphers": "ECDHE-RSA-AES128-GCM-SHA256"},
            ["--tls1.2"],
            "TLSv1.2",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            False,
        ),
        (
            {"ciphers": "AES128-GCM-SHA256"},
            ["--tls1.2", "--ciphers", "AES128-GCM-SHA256"],
            "TLSv1.2",
            "TLS_RSA_WITH_AES_128_GCM_SHA256",
            False,
        ),
    ],
)
def test_both_ends_derive_the_same_secrets(
    tool_openssl, tmp_path, server_args, client_args, version, cipher, hrr
):
    keys = tmp_path / "netlab-keys.txt"
    with OpensslServer(tmp_path, **server_args) as srv:
        code, doc = hello_json(
            "--cacert", str(srv.cert), "--keylog", str(keys), *client_args, f"localhost:{srv.port}"
        )
        time.sleep(0.2)  # s_server writes its key log after the handshake
        server_keys = set(srv.keylog())
    assert code == 0, doc
    assert doc["completed"] and doc["version"] == version
    if cipher:
        assert doc["cipher"] == cipher
    assert doc["hello_retry_request"] is hrr
    assert doc["verified"]["ok"] is True
    ours = _keylog(keys)
    assert ours and ours <= server_keys, (ours, server_keys)
    # The key schedule shown (-v, --json "secrets") is the key log's, label by label.
    for line in ours:
        label, client_random, secret = line.split()
        assert client_random == doc["client_random"]
        assert doc["secrets"][KEYLOG_LABELS[label]] == secret, label
    if version == "TLSv1.2":
        (line,) = ours
        assert line.split()[1] == doc["client_random"]
    if "AES128-GCM-SHA256" in client_args:
        # The RSA key exchange: what we sent is the pre-master secret under the server's key.
        assert len(bytes.fromhex(doc["secrets"]["pre_master_secret"])) == 48
        assert len(bytes.fromhex(doc["secrets"]["encrypted_pre_master_secret"])) == 256
        names = [m["name"] for m in doc["messages"]]
        assert "ServerKeyExchange" not in names and "ClientKeyExchange" in names


def test_untrusted_chain_is_exit_1_with_the_reason(tool_openssl, tmp_path):
    with OpensslServer(tmp_path) as srv:
        proc = hello("--cacert", str(make_cert(tmp_path, "other")[0]), f"localhost:{srv.port}")
    assert proc.returncode == 1, proc
    assert "certificate chain not trusted" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_wrong_name_is_not_trusted(tool_openssl, tmp_path):
    with OpensslServer(tmp_path) as srv:
        code, doc = hello_json(
            "--cacert", str(srv.cert), "--sni", "wrong.example", f"127.0.0.1:{srv.port}"
        )
    assert code == 1 and doc["completed"] and doc["verified"]["ok"] is False


def test_ja3_and_ja3s_equal_tsharks(tool_openssl, tmp_path):
    """JA3 of our ClientHello and JA3S of the ServerHello, as tshark computes them from
    the capture netlab wrote (-w)."""
    require_root()
    require_tool("tshark")
    pcap = tmp_path / "hello.pcapng"
    with OpensslServer(tmp_path) as srv:
        code, doc = hello_json(
            "--cacert",
            str(srv.cert),
            "--grease",
            "--alpn",
            "h2,http/1.1",
            "-w",
            str(pcap),
            f"localhost:{srv.port}",
        )
    assert code == 0, doc
    out = subprocess.run(
        [
            "tshark",
            "-n",
            "-r",
            str(pcap),
            "-Y",
            "tls.handshake.type == 1 || tls.handshake.type == 2",
            "-T",
            "fields",
            "-e",
            "tls.handshake.ja3",
            "-e",
            "tls.handshake.ja3_full",
            "-e",
            "tls.handshake.ja3s",
            "-e",
            "tls.handshake.ja3s_full",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.splitlines()
    ja3_hash, ja3_full = out[0].split("\t")[:2]
    ja3s_hash, ja3s_full = out[1].split("\t")[2:4]
    assert (doc["ja3_hash"], doc["ja3"]) == (ja3_hash, ja3_full)
    assert (doc["ja3s_hash"], doc["ja3s"]) == (ja3s_hash, ja3s_full)


def test_key_log_lets_tshark_decrypt_the_tls13_flight(tool_openssl, tmp_path):
    """TLS 1.3 encrypts the server's Certificate: tshark sees it only with our key log."""
    require_root()
    require_tool("tshark")
    pcap, keys = tmp_path / "h.pcapng", tmp_path / "keys.txt"
    with OpensslServer(tmp_path) as srv:
        code, _doc = hello_json(
            "--cacert",
            str(srv.cert),
            "-w",
            str(pcap),
            "--keylog",
            str(keys),
            f"localhost:{srv.port}",
        )
    assert code == 0

    def types(*extra: str) -> list[str]:
        out = subprocess.run(
            ["tshark", "-n", "-r", str(pcap), *extra, "-T", "fields", "-e", "tls.handshake.type"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        return ",".join(out.split()).split(",")

    assert "11" not in types()
    assert {"8", "11", "15", "20"} <= set(types("-o", f"tls.keylog_file:{keys}"))


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("huge-record", "over TLS's"),
        ("huge-handshake", "claims 16777215 bytes"),
        ("thousand-certs", "more than 100 certificates"),
        ("bad-asn1", "malformed certificate"),
        ("alert", "fatal alert: handshake_failure"),
        ("http", "not a TLS record"),
    ],
)
def test_hostile_server_gives_one_line_and_exit_1(script, message):
    with HostileTlsServer(script) as srv:
        start = time.monotonic()
        proc = hello("--timeout", "3", "--tls1.2", f"127.0.0.1:{srv.port}")
        took = time.monotonic() - start
    assert proc.returncode == 1, proc
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert took < 8


@pytest.mark.parametrize(
    "args",
    [
        ["--ciphers", "NO-SUCH-CIPHER", "x"],
        ["--groups", "nope", "x"],
        ["x:0"],
        ["x:99999"],
        ["--sigalgs", "md6", "x"],
        ["-p", "80", "x:443"],
    ],
)
def test_bad_input_is_exit_2(args):
    proc = hello(*args)
    assert proc.returncode == 2, proc
    assert len(proc.stderr.strip().splitlines()) == 1


def _sslscan(port: int) -> set[tuple[str, str]]:
    out = subprocess.run(
        ["sslscan", "--no-colour", f"127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    found = set()
    for line in out.splitlines():
        words = line.split()
        if words and words[0] in ("Accepted", "Preferred"):
            found.add((words[1], words[4]))
    return found


def _nmap(port: int) -> set[tuple[str, str]]:
    out = subprocess.run(
        ["nmap", "-Pn", "-p", str(port), "--script", "ssl-enum-ciphers", "127.0.0.1"],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    ).stdout
    found, version = set(), None
    for line in out.splitlines():
        text = line.strip("|_ ").strip()
        if text.startswith("TLSv") and text.endswith(":"):
            version = text[:-1]
        elif text.startswith("TLS_") and version:
            found.add((version, text.split()[0].replace("TLS_AKE_WITH_", "TLS_")))
    return found


def test_scan_accepts_what_sslscan_and_nmap_find(tool_openssl, tmp_path):
    """--scan's (version, suite) set equals sslscan's (OpenSSL names below TLS 1.3) and
    nmap ssl-enum-ciphers' (IANA names), against one s_server; and it finds them with
    fewer handshakes than sslscan offers suites one by one."""
    require_tool("sslscan")
    require_tool("nmap")
    ciphers = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:AES128-GCM-SHA256:AES256-SHA"
    with OpensslServer(
        tmp_path, ciphers=ciphers, groups="X25519:P-256", extra=("-serverpref",)
    ) as srv:
        code, doc = hello_json("--scan", f"localhost:{srv.port}")
        sslscan, nmap = _sslscan(srv.port), _nmap(srv.port)
    assert code == 0, doc
    ours_openssl = {(v, n) for v, r in doc["versions"].items() for n in r["openssl_names"]}
    ours_iana = {(v, n) for v, r in doc["versions"].items() for n in r["ciphers"]}
    assert ours_openssl == sslscan, (ours_openssl, sslscan)
    assert ours_iana == nmap, (ours_iana, nmap)
    v12 = doc["versions"]["TLSv1.2"]
    assert v12["server_preference"] is True
    assert v12["openssl_names"] == ciphers.split(":")  # -serverpref: the server's order
    assert set(v12["groups"]) == {"x25519", "secp256r1"}
    assert set(doc["versions"]["TLSv1.3"]["groups"]) == {"x25519", "secp256r1"}


@pytest.mark.parametrize(
    ("version", "alert"), [("--tls1.3", "certificate_required"), ("--tls1.2", "handshake_failure")]
)
def test_mutual_tls(tool_openssl, tmp_path, version, alert):
    """A server that requires a client certificate (s_server -Verify 1) accepts ours
    (Certificate + CertificateVerify signed with --key) and refuses an empty one."""
    client_cert, client_key = make_cert(tmp_path, "client", rsa_key=False)
    with OpensslServer(tmp_path, extra=("-Verify", "1", "-CAfile", str(client_cert))) as srv:
        target = f"localhost:{srv.port}"
        code, doc = hello_json(
            version,
            "--cacert",
            str(srv.cert),
            "--cert",
            str(client_cert),
            "--key",
            str(client_key),
            target,
        )
        refused = hello(version, "--cacert", str(srv.cert), target)
    assert code == 0 and doc["completed"] and doc["client_certificate_requested"], doc
    assert "CertificateVerify" in [m["name"] for m in doc["messages"] if m["dir"] == "client"]
    assert refused.returncode == 1 and f"fatal alert: {alert}" in refused.stderr


def test_cert_show_host_port_gives_the_chain_openssl_sees(tool_openssl, tmp_path):
    with OpensslServer(tmp_path) as srv:
        proc = subprocess.run(
            [sys.executable, "-m", "netlab", "cert", "show", "--json", f"localhost:{srv.port}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        theirs = subprocess.run(
            ["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", str(srv.cert)],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
    assert proc.returncode == 0, proc.stderr
    (cert,) = json.loads(proc.stdout)["certificates"]
    assert cert["sha256"] == theirs.strip().split("=", 1)[1]


def _client_hello_body(suites, extensions) -> bytes:
    """A ClientHello body (after the handshake header) with these suites and (type, body)
    extensions, in this order."""
    import struct

    exts = b"".join(struct.pack("!HH", t, len(body)) + body for t, body in extensions)
    return (
        b"\x03\x03"
        + bytes(32)
        + b"\x20"
        + bytes(32)
        + struct.pack("!H", 2 * len(suites))
        + b"".join(struct.pack("!H", s) for s in suites)
        + b"\x01\x00"
        + struct.pack("!H", len(exts))
        + exts
    )


def test_ja4_and_ja3_of_a_browsers_hello_equal_the_published_ones():
    """tshark 4.0 has no JA4: a Chrome 143 ClientHello as BrowserLeaks fingerprinted it
    (JA4, JA4_r, JA3 and its string, GREASE included), rebuilt in its order."""
    import struct

    from netlab.wire import tls

    def u16s(values, width=2):
        body = b"".join(struct.pack("!H", v) for v in values)
        return len(body).to_bytes(width, "big") + body

    sni = b"tls.browserleaks.com"
    name_list = b"\x00" + struct.pack("!H", len(sni)) + sni
    alpn = b"\x02h2\x08http/1.1"
    share = struct.pack("!HH", 0x001D, 32) + bytes(32)
    sigalgs = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]
    suites = [0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013]
    suites += [0xC014, 0x009C, 0x009D, 0x002F, 0x0035]
    extensions = [
        (0xFAFA, b""),  # GREASE
        (0x002D, b"\x01\x01"),
        (0x0033, struct.pack("!H", len(share)) + share),
        (0x0010, struct.pack("!H", len(alpn)) + alpn),
        (0xFE0D, b"\x00"),
        (0x0017, b""),
        (0x44CD, b"\x00\x03\x02h2"),
        (0x0000, struct.pack("!H", len(name_list)) + name_list),
        (0x000B, b"\x01\x00"),
        (0x000A, u16s([0xAAAA, 4588, 29, 23, 24])),
        (0x002B, u16s([0x3A3A, 0x0304, 0x0303], width=1)),
        (0xFF01, b"\x00"),
        (0x0023, b""),
        (0x0012, b""),
        (0x0005, b"\x01\x00\x00\x00\x00"),
        (0x000D, u16s(sigalgs)),
        (0x001B, b"\x02\x00\x02"),
        (0x1A1A, b"\x00"),  # GREASE
    ]
    hello = tls.parse_hello(_client_hello_body([0xFAFA, *suites], extensions), server=False)
    assert tls.ja4(hello) == "t13d1516h2_8daaf6152771_d8a2da3f94cd"
    assert tls.ja4_raw(hello) == (
        "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,"
        "cca9_0005,000a,000b,000d,0012,0017,001b,0023,002b,002d,0033,44cd,fe0d,ff01_0403,0804,"
        "0401,0503,0805,0501,0806,0601"
    )
    assert tls.ja3_string(hello) == (
        "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,"
        "45-51-16-65037-23-17613-0-11-10-43-65281-35-18-5-13-27,4588-29-23-24,0"
    )
    assert tls.md5_hex(tls.ja3_string(hello)) == "98487aa16281980e7d1120d399efb6a4"


def test_verbose_explains_each_fingerprint_with_what_it_hashes(tool_openssl, tmp_path):
    """-v: JA4's and JA4S's lists (FoxIO's JA4_r) next to the hashes taken of them."""
    import hashlib

    with OpensslServer(tmp_path) as srv:
        proc = hello("-v", "--alpn", "h2", "--cacert", str(srv.cert), f"localhost:{srv.port}")
    assert proc.returncode == 0, proc.stderr
    rows = {}
    for line in proc.stdout.splitlines():
        words = line.split()
        if words[:1] in (["JA4"], ["JA4S"]) and len(words) >= 3 and len(words[1]) == 1:
            rows[(words[0], words[1])] = line.rsplit(": ", 1)[1]
        elif words[:1] in (["JA4"], ["JA4S"]) and len(words) == 2:
            rows[(words[0], "hash")] = words[1]

    def sha12(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    _a, b, c = rows[("JA4", "hash")].split("_")
    assert sha12(rows[("JA4", "b")]) == b and sha12(rows[("JA4", "c")]) == c
    assert rows[("JA4", "b")].split(",") == sorted(rows[("JA4", "b")].split(","))
    assert rows[("JA4S", "hash")].split("_")[2] == sha12(rows[("JA4S", "c")])
    assert "ALPN h2" in proc.stdout


def test_scapy_reads_its_routes_and_interfaces_at_their_first_use():
    """import_scapy_tls leaves Scapy's routing tables and interface list unread (a
    tenth of tls-hello's start-up); the first packet that needs a source reads them."""
    code = """
from netlab.wire.tls import import_scapy_tls
import_scapy_tls()
from scapy.config import conf
assert not conf.route.routes and conf.route6.routes == []
from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
assert IP(dst="127.0.0.1").src == "127.0.0.1"
assert conf.route.routes and conf.iface is not None and "lo" in conf.ifaces.keys()
IPv6(dst="::1").src  # read, whatever the machine's IPv6
assert (type(conf.route).__name__, type(conf.route6).__name__) == ("Route", "Route6")
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "ok", proc.stderr
