"""QUIC: the dissector against tshark on captures of real peers, and `netlab quic-hello`.

Peers: Debian's ngtcp2 examples (`gtlsclient`, `gtlsserver`, GnuTLS) on loopback with a
self-signed certificate. One capture of gtlsclient ↔ gtlsserver (the client's key log
from SSLKEYLOGFILE; the client migrates to another port after the handshake) serves
the field comparisons with and without the key log; quic-hello runs against the same
server (IPv4 and IPv6) and is captured too. Hostile datagrams are made here with
wire/quic's own packet builder.
"""

from __future__ import annotations

import io
import json
import os
import random
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest

from netlab.capture.reader import open_capture
from netlab.dissect import Dissector
from netlab.wire import quic
from tests import procs
from tests.conftest import netlab_bin, require_root, require_tool
from tests.tls_servers import make_cert

FIELDS = [
    "frame.number", "udp.srcport", "quic.connection.number", "quic.long.packet_type",
    "quic.version", "quic.dcid", "quic.scid", "quic.dcil", "quic.packet_number",
    "quic.frame_type", "quic.crypto.offset", "quic.crypto.length", "tls.handshake.type",
    "tls.handshake.extensions_server_name", "tls.handshake.extensions_alpn_str",
    "quic.nci.connection_id", "quic.stream.stream_id", "tls.quic.parameter.type",
    "tls.quic.parameter.length", "tls.quic.parameter.initial_source_connection_id",
    "tls.quic.parameter.original_destination_connection_id", "tls.quic.parameter.max_idle_timeout",
    "tls.quic.parameter.initial_max_data",
]  # fmt: skip
SNI = "quic.test"


def _fields(cmd: list[str]) -> list[str]:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    return out.stdout.splitlines()


def tshark_lines(path: Path, keys: Path | None, names=FIELDS) -> list[str]:
    opts = ["-o", f"tls.keylog_file:{keys}"] if keys else []
    extra = [a for n in names for a in ("-e", n)]
    return _fields([require_tool("tshark"), "-r", str(path), *opts, "-T", "fields", *extra])


def netlab_lines(path: Path, keys: Path | None, names=FIELDS) -> list[str]:
    opts = ["--keylog", str(keys)] if keys else []
    extra = [a for n in names for a in ("-e", n)]
    return _fields([netlab_bin(), "dissect", str(path), *opts, "-T", "fields", *extra])


def _column(lines: list[str], name: str, names=FIELDS) -> list[str]:
    i = names.index(name)
    return [line.split("\t")[i] for line in lines]


@pytest.fixture(scope="module")
def peers(tmp_path_factory):
    """gtlsserver on 127.0.0.1 and ::1; a capture of gtlsclient fetching a page with its
    key log, migrating to another port 100 ms after the handshake."""
    require_root()
    client = require_tool("gtlsclient")
    server = require_tool("gtlsserver")
    require_tool("tcpdump")
    tmp = tmp_path_factory.mktemp("quic")
    cert, key = make_cert(tmp, SNI)
    (tmp / "index.html").write_text("hello over QUIC\n")
    port4, port6, retry = _free_udp("127.0.0.1"), _free_udp("::1"), _free_udp("127.0.0.1")
    servers = [subprocess.Popen([server, "-q", *extra, "-d", str(tmp), addr, str(port),
                                 str(key), str(cert)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
               for addr, port, extra in (("127.0.0.1", port4, []), ("::1", port6, []),
                                         ("127.0.0.1", retry, ["-V"]))]  # fmt: skip
    try:
        time.sleep(0.3)
        for s in servers:
            assert s.poll() is None, s.stderr.read() if s.stderr else ""
        pcap, keys = tmp / "ngtcp2.pcap", tmp / "keys.log"
        dump = procs.start_tcpdump(pcap, f"udp port {port4}")
        env = {**os.environ, "SSLKEYLOGFILE": str(keys)}
        run = subprocess.run(
            [client, "-q", "--exit-on-all-streams-close", "--change-local-addr=100ms",
             "--delay-stream=300ms", "--sni", SNI, "127.0.0.1", str(port4),
             f"https://{SNI}/index.html"],
            capture_output=True, timeout=20, env=env,
        )  # fmt: skip
        assert procs.stop_tcpdump(dump)
        assert run.returncode == 0, run.stderr[-2000:]
        # against the server that validates addresses (-V: a Retry first), with a key
        # update from the client 50 ms after the handshake, over IPv4
        rpcap, rkeys = tmp / "retry.pcap", tmp / "retry-keys.log"
        dump = procs.start_tcpdump(rpcap, f"udp port {retry}")
        env = {**os.environ, "SSLKEYLOGFILE": str(rkeys)}
        run = subprocess.run(
            [client, "-q", "--exit-on-all-streams-close", "--key-update=50ms",
             "--delay-stream=200ms", "127.0.0.1", str(retry), f"https://{SNI}/index.html"],
            capture_output=True, timeout=20, env=env,
        )  # fmt: skip
        assert procs.stop_tcpdump(dump)
        assert run.returncode == 0, run.stderr[-2000:]
        yield {"tmp": tmp, "pcap": pcap, "keys": keys, "port4": port4, "port6": port6,
               "retry": retry, "rpcap": rpcap, "rkeys": rkeys}  # fmt: skip
    finally:
        for s in servers:
            procs.end(s)


def _free_udp(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# --- the dissector against tshark -------------------------------------------------------------
def test_fields_match_tshark_with_the_key_log(peers):
    ours = netlab_lines(peers["pcap"], peers["keys"])
    theirs = tshark_lines(peers["pcap"], peers["keys"])
    assert ours == theirs
    # what the comparison covered: the handshake decrypted, frames of every space
    types = {t for line in _column(theirs, "quic.frame_type") for t in line.split(",") if t}
    assert {"0", "6", "24"} <= types  # PADDING, CRYPTO, NEW_CONNECTION_ID (1-RTT)
    assert _column(theirs, "tls.handshake.extensions_server_name")[0]  # the ClientHello's SNI
    assert "h3" in _column(theirs, "tls.handshake.extensions_alpn_str")[0]
    assert any(_column(theirs, "quic.nci.connection_id"))
    # the transport parameters of both ends (ClientHello, EncryptedExtensions)
    params = [p for p in _column(theirs, "tls.quic.parameter.initial_source_connection_id") if p]
    assert len(params) == 2


def test_fields_match_tshark_without_keys(peers):
    # Initial packets only: keys anyone can derive from the client's DCID
    ours = netlab_lines(peers["pcap"], None)
    theirs = tshark_lines(peers["pcap"], None)
    assert ours == theirs
    assert any(_column(theirs, "tls.handshake.extensions_server_name"))


RETRY_FIELDS = [*FIELDS, "quic.retry_token", "quic.retry_integrity_tag", "quic.token_length",
                "quic.token", "quic.key_phase"]  # fmt: skip


def test_retry_and_key_update_match_tshark(peers):
    ours = netlab_lines(peers["rpcap"], peers["rkeys"], RETRY_FIELDS)
    theirs = tshark_lines(peers["rpcap"], peers["rkeys"], RETRY_FIELDS)
    assert ours == theirs
    # a Retry with its token, the Initial sent again with it, then 1-RTT after a key update
    assert any(_column(theirs, "quic.retry_token", RETRY_FIELDS))
    tokens = [t for t in _column(theirs, "quic.token", RETRY_FIELDS) if t]
    assert tokens and tokens[0] in _column(theirs, "quic.retry_token", RETRY_FIELDS)
    phases = _column(theirs, "quic.key_phase", RETRY_FIELDS)
    assert "1" in phases and "0" in phases
    late = [t for t, p in zip(_column(theirs, "quic.frame_type", RETRY_FIELDS), phases,
                               strict=True) if p == "1"]  # fmt: skip
    assert any(late), "1-RTT packets after the key update were not opened"


def test_chacha20_suite_matches_tshark(peers, tmp_path):
    """TLS_CHACHA20_POLY1305_SHA256: ChaCha20 header protection and AEAD (RFC 9001 §5.4.4)."""
    pcap, keys = tmp_path / "chacha.pcap", tmp_path / "chacha.keys"
    dump = procs.start_tcpdump(pcap, f"udp port {peers['port4']}")
    priority = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305"
    run = subprocess.run(
        [require_tool("gtlsclient"), "-q", "--exit-on-all-streams-close", f"--ciphers={priority}",
         "127.0.0.1", str(peers["port4"]), f"https://{SNI}/index.html"],
        capture_output=True, timeout=20, env={**os.environ, "SSLKEYLOGFILE": str(keys)},
    )  # fmt: skip
    assert procs.stop_tcpdump(dump)
    assert run.returncode == 0, run.stderr[-2000:]
    names = [*FIELDS, "tls.handshake.ciphersuite"]
    theirs = tshark_lines(pcap, keys, names)
    assert netlab_lines(pcap, keys, names) == theirs
    assert "0x1303" in _column(theirs, "tls.handshake.ciphersuite", names)[1]
    assert any("14" in t.split(",") for t in _column(theirs, "quic.frame_type", names))


def test_migrated_connection_keeps_its_number(peers):
    lines = netlab_lines(peers["pcap"], peers["keys"])
    client_ports = {p for p in _column(lines, "udp.srcport") if int(p) != peers["port4"]}
    assert len(client_ports) == 2, "the client did not change its port"
    assert set(_column(lines, "quic.connection.number")) == {"0"}


def test_rewritten_ports_keep_the_connection_number(peers, tmp_path):
    """No key log (so no NEW_CONNECTION_ID): the client's packets after the handshake
    get another source port; the connection IDs still name the connection."""
    out = tmp_path / "moved.pcap"
    _rewrite_client_port(peers["pcap"], out, peers["port4"], first=5, new_port=40999)
    lines = netlab_lines(out, None)
    ports = _column(lines, "udp.srcport")
    assert "40999" in ports
    numbers = _column(lines, "quic.connection.number")
    moved = [n for n, p in zip(numbers, ports, strict=True) if p == "40999"]
    assert moved and set(moved) == {numbers[0]}
    # the frames that carry the first DCIDs after the move (not the new ones from 1-RTT)
    dcids = _column(lines, "quic.dcid")
    first_dcids = set(dcids[0].split(",")) | set(_column(lines, "quic.scid")[0].split(","))
    assert any(d in first_dcids or d in _column(lines, "quic.scid")[1] for d in dcids[4:8])


def _rewrite_client_port(src: Path, dst: Path, server_port: int, first: int, new_port: int):
    """Copy a pcap (Ethernet, IPv4, UDP) with the client's port set to NEW_PORT from
    frame FIRST on (UDP checksum zeroed: 'none' over IPv4)."""
    with open_capture(src) as cap:
        frames = list(cap)
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    for no, f in enumerate(frames, 1):
        data = bytearray(f.data)
        udp = 14 + (data[14] & 0x0F) * 4
        sport, dport = struct.unpack_from("!HH", data, udp)
        if no >= first:
            if sport != server_port:
                struct.pack_into("!H", data, udp, new_port)
            if dport != server_port:
                struct.pack_into("!H", data, udp + 2, new_port)
            struct.pack_into("!H", data, udp + 6, 0)
        ts = f.ts_ns // 1000
        out += struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, len(data), len(data)) + data
    dst.write_bytes(bytes(out))


# --- quic-hello against gtlsserver ----------------------------------------------------------
def test_quic_hello_gets_initial_and_handshake(peers, tmp_path):
    pcap = tmp_path / "hello.pcap"
    dump = procs.start_tcpdump(pcap, f"udp port {peers['port4']}")
    run = subprocess.run([netlab_bin(), "quic-hello", f"127.0.0.1:{peers['port4']}", "--sni",
                          SNI, "--json"], capture_output=True, text=True, timeout=30)  # fmt: skip
    assert procs.stop_tcpdump(dump)
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert list(doc)[:6] == ["version", "dcid", "scid", "server_packets", "alpn", "rtt_ms"]
    assert doc["version"] == "0x00000001"
    types = [p["type"] for p in doc["server_packets"]]
    assert "Initial" in types and "Handshake" in types
    assert all(isinstance(p["pn"], int) for p in doc["server_packets"])
    assert doc["alpn"] == "h3"
    assert doc["rtt_ms"] > 0
    # tshark reads our Initial: SNI, ALPN, our DCID, padded to 1200 bytes
    names = ["quic.dcid", "tls.handshake.extensions_server_name",
             "tls.handshake.extensions_alpn_str", "udp.length", "quic.frame_type"]  # fmt: skip
    theirs = tshark_lines(pcap, None, names)
    assert theirs[0].split("\t")[:3] == [doc["dcid"], SNI, "h3"]
    assert int(theirs[0].split("\t")[3]) - 8 >= 1200
    assert netlab_lines(pcap, None, names) == theirs


def test_quic_hello_ipv6_and_version_negotiation(peers, tmp_path):
    pcap = tmp_path / "vn6.pcap"
    dump = procs.start_tcpdump(pcap, f"udp port {peers['port6']}")
    argv = [netlab_bin(), "quic-hello", f"[::1]:{peers['port6']}", "--version", "0x1a2a3a4a"]
    run = subprocess.run([*argv, "--json"], capture_output=True, text=True, timeout=30)
    assert procs.stop_tcpdump(dump)
    assert run.returncode == 0, run.stderr
    # over IPv6, a Version Negotiation and two Initials: our fields are tshark's
    names = [*FIELDS, "quic.supported_version", "ipv6.src"]
    theirs = tshark_lines(pcap, None, names)
    assert netlab_lines(pcap, None, names) == theirs
    assert "0x00000001" in _column(theirs, "quic.supported_version", names)[1].split(",")
    doc = json.loads(run.stdout)
    types = [p["type"] for p in doc["server_packets"]]
    assert types[0] == "Version Negotiation" and "Initial" in types
    assert "0x00000001" in doc["supported_versions"]
    assert doc["version"] == "0x00000001" and len(doc["sent"]) == 2


def test_quic_hello_text_and_verbose(peers):
    run = subprocess.run([netlab_bin(), "quic-hello", f"127.0.0.1:{peers['port4']}", "--sni",
                          SNI, "-v"], capture_output=True, text=True, timeout=30)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "ALPN: h3" in run.stdout
    # -v: the packets through the dissector: our Initial's SNI, the server's Initial
    # opened (the Handshake packets too when the tap draws them after quic-hello has
    # derived the secrets from the ServerHello, which it usually but not always does)
    assert f"Server Name: {SNI}" in run.stdout
    assert "Handshake Protocol: Server Hello" in run.stdout


def test_quic_hello_retry(peers):
    run = subprocess.run([netlab_bin(), "quic-hello", f"127.0.0.1:{peers['retry']}", "--json"],
                         capture_output=True, text=True, timeout=30)  # fmt: skip
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    types = [p["type"] for p in doc["server_packets"]]
    assert types[0] == "Retry" and "Initial" in types and "Handshake" in types
    assert doc["retry"]["valid"] is True and doc["retry"]["token"]
    # the second Initial goes to the connection ID the Retry chose
    assert len(doc["sent"]) == 2
    assert doc["sent"][1]["dcid"] == doc["server_packets"][0]["scid"] != doc["dcid"]
    assert doc["alpn"] == "h3"


def test_quic_hello_refused_alpn_is_one_line(peers):
    run = subprocess.run([netlab_bin(), "quic-hello", f"127.0.0.1:{peers['port4']}", "--alpn",
                          "nothing-known"], capture_output=True, text=True, timeout=30)  # fmt: skip
    assert run.returncode == 1
    errors = run.stderr.strip().splitlines()
    assert len(errors) == 1 and "no_application_protocol" in errors[0], run.stderr
    assert "CONNECTION_CLOSE" in run.stdout


def test_core_with_fake_time_retry_and_silence():
    """The sans-I/O core alone: our Initial, a Retry made here (tag from wire/quic), the
    Initial again with the token to the new ID; then nothing until the deadline."""
    from netlab.core.base import Datagram, Open
    from netlab.core.quic_hello import QuicHello, QuicHelloOptions

    core = QuicHello("127.0.0.1", 4433, QuicHelloOptions("quic.test", timeout=2.0))
    actions = core.start(0)
    assert isinstance(actions[0], Open) and isinstance(actions[1], Datagram)
    first = actions[1].data
    assert len(first) >= 1200
    hdr = quic.parse_header(first, 0, len(first))
    assert hdr.ptype == quic.INITIAL and hdr.dcid == core.result.dcid
    new_cid, token = b"\x42" * 12, b"retry-token"
    body = (bytes([0xF0]) + quic.V1.to_bytes(4, "big") + bytes([8]) + core.result.scid
            + bytes([12]) + new_cid + token)  # fmt: skip
    retry = body + quic.retry_tag(core.result.dcid, body)
    again = core.on_datagram("quic", retry, ("127.0.0.1", 4433), 5_000_000)
    second = quic.parse_header(again[0].data, 0, len(again[0].data))
    assert second.dcid == new_cid and second.token == token
    # the server's Initial keys now come from the new DCID: our packet opens with them
    opened = quic.open_packet(again[0].data, second, quic.initial_keys(new_cid)[0])
    assert opened.pn == 1 and quic.parse_frames(opened.payload)[0].ftype == 0x06
    # a forged Retry (bad tag) is dropped
    assert core.on_datagram("quic", retry[:-1] + b"\0", ("127.0.0.1", 4433), 6_000_000) == []
    assert core.deadline() == 2_000_000_000 and not core.done()
    core.on_timer(2_000_000_000)
    assert core.done() and core.result.error.startswith("timeout")


def test_quic_hello_json_on_ctrl_c():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        proc = subprocess.Popen([netlab_bin(), "quic-hello", f"127.0.0.1:{port}", "--json",
                                 "--timeout", "20"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip
        try:
            time.sleep(1.5)
            assert proc.poll() is None
            proc.send_signal(2)
            out, _err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 130
    doc = json.loads(out)
    assert doc["interrupted"] is True and doc["server_packets"] == []


def test_quic_hello_silent_server_exits_1():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        started = time.monotonic()
        run = subprocess.run([netlab_bin(), "quic-hello", f"127.0.0.1:{port}", "--timeout",
                              "0.5"], capture_output=True, text=True, timeout=30)  # fmt: skip
        took = time.monotonic() - started
    assert run.returncode == 1
    errors = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "timeout" in errors[0], run.stderr
    assert took < 10


def test_quic_hello_bad_input():
    for args in (["nohost"], ["127.0.0.1:0"], ["127.0.0.1:443", "--version", "zz"],
                 ["127.0.0.1:443", "--alpn", ","]):  # fmt: skip
        run = subprocess.run([netlab_bin(), "quic-hello", *args], capture_output=True,
                             text=True, timeout=30)  # fmt: skip
        assert run.returncode == 2, (args, run.stderr)
        assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1


# --- hostile datagrams ------------------------------------------------------------------------
def _initial(dcid: bytes = bytes(range(8))) -> bytes:
    keys, _ = quic.initial_keys(dcid)
    frames = b"\x01"  # PING (then PADDING)
    return quic.build_initial(quic.V1, dcid, b"\x11" * 8, b"", 0, frames, keys)


def _udp_frame(payload: bytes, sport: int = 50000, dport: int = 443) -> bytes:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))  # fmt: skip
    return bytes(6) + bytes(6) + b"\x08\x00" + ip + udp


def _dissect(payload: bytes, **kw):
    frame = _udp_frame(payload, **kw)
    return Dissector().dissect(1, 0, frame, len(frame), 1)


def test_hostile_length_past_the_datagram():
    packet = bytearray(_initial())
    # the Length field (2-byte varint after the empty token) claims 4000 bytes
    at = 1 + 4 + 1 + 8 + 1 + 8 + 1
    struct.pack_into("!H", packet, at, 0x4000 | 4000)
    pkt = _dissect(bytes(packet))
    assert pkt.malformed and "quic" in pkt.malformed and "4000" in pkt.malformed


def test_hostile_garbage_after_coalesced_packets():
    pkt = _dissect(_initial() + b"\xffGARBAGE" * 8)
    assert [la.proto for la in pkt.layers].count("quic") == 2
    assert pkt.malformed and "garbage" in pkt.malformed
    # zeros after the packets are padding, not damage
    assert _dissect(_initial() + bytes(64)).malformed is None


def test_hostile_truncated_initial_and_frames():
    for cut in (3, 9, 30, 200):
        pkt = _dissect(_initial()[:cut])
        assert pkt.malformed and pkt.malformed.startswith("quic"), cut
    # a frame whose CRYPTO length runs past the decrypted payload
    dcid = bytes(8)
    keys, _ = quic.initial_keys(dcid)
    bad = b"\x06\x00\x44\x00" + b"x" * 10  # CRYPTO offset 0, length 1024, 10 bytes
    packet = quic.build_initial(quic.V1, dcid, b"", b"", 0, bad, keys, pad_to=0)
    pkt = _dissect(packet)
    assert pkt.malformed and "CRYPTO data" in pkt.malformed
    # the whole thing through the CLI: no traceback, the mark shown


def test_hostile_capture_through_the_cli(tmp_path):
    packets = [_initial()[:40], _initial() + b"\x01junk", bytes([0x40]) + bytes(30)]
    path = tmp_path / "hostile.pcap"
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    for i, payload in enumerate(packets):
        frame = _udp_frame(payload)
        out += struct.pack("<IIII", i, 0, len(frame), len(frame)) + frame
    path.write_bytes(bytes(out))
    run = subprocess.run([netlab_bin(), "dissect", str(path), "-V"], capture_output=True,
                         text=True, timeout=30)  # fmt: skip
    assert run.returncode == 0 and "Traceback" not in run.stderr
    assert run.stdout.count("Malformed") >= 2


def test_jobs_follow_connections_across_chunks(tmp_path):
    """`dissect --jobs`: a process follows the connections whose Initials lie in another
    process's chunk (the light pass runs QUIC), so the output equals one process's."""
    frames = []
    count = 1500
    for i in range(count):  # the Initials: chunks 0 and 1
        dcid, scid = i.to_bytes(8, "big"), (i + 1 << 32).to_bytes(8, "big")
        frames.append(_udp_frame(_initial(dcid)[:1200], sport=40000 + i % 20000, dport=4433))
        frames[-1] = _udp_frame(_with_scid(dcid, scid), sport=40000 + i, dport=4433)
    for i in reversed(range(count)):  # short headers to those connections: chunks 1 and 2
        dcid = i.to_bytes(8, "big")
        short = bytes([0x41]) + dcid + bytes(range(30))
        frames.append(_udp_frame(short, sport=50000 + i % 10000, dport=4433))
    path = tmp_path / "many.pcap"
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    for i, frame in enumerate(frames):
        out += struct.pack("<IIII", i, 0, len(frame), len(frame)) + frame
    path.write_bytes(bytes(out))
    names = ["frame.number", "quic.connection.number", "quic.dcid", "quic.packet_number"]
    one = netlab_lines(path, None, names)
    extra = [a for n in names for a in ("-e", n)]
    three = _fields([netlab_bin(), "dissect", "-j", "3", str(path), "-T", "fields", *extra])
    summary1 = _fields([netlab_bin(), "dissect", "-j", "1", str(path)])
    summary3 = _fields([netlab_bin(), "dissect", "-j", "3", str(path)])
    assert summary1 == summary3
    assert one == three
    # the short headers (after the Initials) found their connections by DCID
    numbers = _column(one, "quic.connection.number", names)
    assert numbers[count] == str(count - 1) and numbers[-1] == "0"


def _with_scid(dcid: bytes, scid: bytes) -> bytes:
    keys, _ = quic.initial_keys(dcid)
    return quic.build_initial(quic.V1, dcid, scid, b"", 0, b"\x01", keys)


# --- the one-line view's shortcuts: the same text as the whole dissection ------------------
def _lines_both_ways(path: Path, keys: Path | None) -> tuple[list[str], list[str], int]:
    """(one-line view through Dissector.columns, the same through dissect() with every
    frame parsed at once, frames the shortcut took), as `netlab dissect` sets them up."""
    from netlab.render.packets import PacketView

    keylog = str(keys) if keys else None
    fast_out, slow_out = io.StringIO(), io.StringIO()
    fast, slow = PacketView(fast_out), PacketView(slow_out)
    fast_d = _Counting(True, udp_streams=False, keylog=keylog)
    slow_d = Dissector(False, keylog=keylog)
    with open_capture(path) as cap:
        for no, frame in enumerate(cap, 1):
            fast.feed_frames(fast_d, [(no, frame)])
            slow.feed(slow_d.dissect(no, frame.ts_ns, frame.data, frame.wirelen, frame.linktype))
    fast.finish()
    slow.finish()
    return fast_out.getvalue().splitlines(), slow_out.getvalue().splitlines(), fast_d.taken


class _Counting(Dissector):
    """Counts the frames whose columns the shortcut gave."""

    taken = 0

    def columns(self, no, data, linktype, ts_ns=None):
        found = super().columns(no, data, linktype, ts_ns)
        self.taken += found is not None
        return found


def test_one_line_shortcut_equals_the_dissection(peers):
    """QUIC's columns without a Packet (udp.columns -> flow_columns, frames scanned,
    hellos checked) give dissect()'s lines: with and without keys, across a migration,
    a Retry and a key update."""
    seen: list[str] = []
    for pcap, keys in ((peers["pcap"], peers["keys"]), (peers["pcap"], None),
                       (peers["rpcap"], peers["rkeys"]), (peers["rpcap"], None)):  # fmt: skip
        fast, slow, taken = _lines_both_ways(pcap, keys)
        assert fast == slow, (pcap, keys)
        assert taken == len(slow) > 10  # every datagram went through the shortcut
        seen += slow
    assert any("STREAM" in line for line in seen) and any("Retry" in line for line in seen)


def test_hostile_one_line_shortcut(tmp_path):
    """Damaged packets and frames: the shortcut marks them as dissect() does."""
    dcid = bytes(8)
    keys, _ = quic.initial_keys(dcid)
    payloads = [_initial()[:40], _initial() + b"\x01junk", _initial() + bytes(64)]
    for frames in (b"\x06\x00\x44\x00" + b"x" * 10, b"\x18\x01\x00\x00" + bytes(30),
                   b"\x02\x05\x00\x41\x00\x00", b"\x1a" + bytes(8), b"\x3f", b"\x31\x03abc",
                   b"\x06\x00\x05\x01\x00\x00\x01\x00"):  # fmt: skip
        payloads.append(quic.build_initial(quic.V1, dcid, b"", b"", 0, frames, keys, pad_to=0))
    path = tmp_path / "hostile.pcap"
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    for i, payload in enumerate(payloads):
        frame = _udp_frame(payload)
        out += struct.pack("<IIII", i, 0, len(frame), len(frame)) + frame
    path.write_bytes(bytes(out))
    fast, slow, taken = _lines_both_ways(path, None)
    assert fast == slow and taken == len(payloads)
    assert sum("[Malformed Packet]" in line for line in slow) >= 5


def test_lazy_frames_and_hellos_give_the_same_tree(peers):
    """The one-line view's dissector reads frames and hellos only when a tree asks:
    its trees equal those of the dissector that parses them at once."""
    from netlab.render.packets import tree_lines

    lazy = Dissector(True, udp_streams=False, keylog=str(peers["keys"]))
    eager = Dissector(True, udp_streams=False, keylog=str(peers["keys"]))
    eager.quick = False
    with open_capture(peers["pcap"]) as cap:
        for no, f in enumerate(cap, 1):
            one = lazy.dissect(no, f.ts_ns, f.data, f.wirelen, f.linktype)
            two = eager.dissect(no, f.ts_ns, f.data, f.wirelen, f.linktype)
            assert tree_lines(one) == tree_lines(two), no


def test_scan_frames_agrees_with_parse_frames():
    """scan_frames (types and followed state only) accepts only what parse_frames reads,
    with the same types, CRYPTO offsets and new connection IDs."""
    rnd = random.Random(9000)
    sizes = [0, 1, 63, 64, 16383, 16384, 2**30]

    def frame() -> bytes:
        t = rnd.choice([0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 13, 15, 0x10, 0x12, 0x18, 0x19, 0x1C,
                        0x1D, 0x1E, 0x1A, 0x31, 0x20])  # fmt: skip
        v = [quic.encode_varint(rnd.choice(sizes)) for _ in range(8)]
        data = bytes(rnd.randint(0, 9))
        body = {0: bytes(rnd.randint(0, 3)), 2: v[0] + v[1] + b"\x01" + v[2] + v[3] + v[4],
                3: v[0] + v[1] + b"\x00" + v[2] + v[3] + v[4] + v[5],
                6: v[0] + quic.encode_varint(len(data)) + data,
                7: quic.encode_varint(len(data)) + data,
                11: v[0] + v[1] + quic.encode_varint(len(data)) + data, 15: v[0] + v[1] + data,
                0x18: v[0] + v[1] + bytes([rnd.choice([0, 8, 21])]) + bytes(24),
                0x1C: v[0] + v[1] + b"\x02hi", 0x1D: v[0] + b"\x02hi"}  # fmt: skip
        return bytes([t]) + body.get(t, v[0] + v[1])

    accepted = 0
    for _ in range(20000):
        payload = b"".join(frame() for _ in range(rnd.randint(1, 4)))
        if rnd.random() < 0.5:
            payload = payload[: rnd.randint(0, len(payload))]
        scanned = quic.scan_frames(payload)
        if scanned is None:
            continue
        accepted += 1
        frames = quic.parse_frames(payload)  # raises if scan_frames took too much
        assert scanned[0] == [f.ftype for f in frames]
        crypto = [(6, f.fields[0][1], f.data_at, f.data_len) for f in frames if f.ftype == 6]
        cids = [(0x18, f.fields[3][1]) for f in frames if f.ftype == 0x18]
        assert [e for e in scanned[1] if e[0] == 6] == crypto
        assert [e for e in scanned[1] if e[0] == 0x18] == cids
    assert accepted > 5000


def _short_packet(keys: quic.Keys, dcid: bytes, pn: int, payload: bytes, phase: int = 0) -> bytes:
    first = 0x40 | (phase << 2) | 3  # fixed bit, key phase, 4-byte packet number
    header = bytes([first]) + dcid + pn.to_bytes(4, "big")
    return quic.protect_packet(header, 4, pn, payload, keys)


def test_open_short_equals_open_packet():
    """The short header's one-step opening gives remove_header_protection's and
    open_packet's results; None for the other key phase; InvalidTag for damage; and a
    datagram of GSO segments (several packets in one, read as one packet to its end, as
    tshark does) does not open, the first segment alone telling so."""
    from cryptography.exceptions import InvalidTag

    rnd = random.Random(9001)
    dcid = rnd.randbytes(8)
    for suite in (0x1301, 0x1302, 0x1303):
        keys = quic.keys_from_secret(rnd.randbytes(48 if suite == 0x1302 else 32), suite)
        for pn, size in ((0, 30), (70000, 1200), (5, 3000)):
            payload = b"\x01" + bytes(size)
            buf = b"\x00" * 7 + _short_packet(keys, dcid, pn, payload)
            hdr = quic.parse_header(buf, 7, len(buf), len(dcid))
            slow = quic.open_packet(buf, hdr, keys, pn - 1)
            got = quic.open_short(buf, 7, hdr.pn_at, len(buf), [keys], pn - 1)
            assert got == (slow.first, slow.pn_len, slow.pn, slow.payload, slow.payload_at)
            assert got[3] == payload and got[2] == pn
            assert quic.open_short(buf, 7, hdr.pn_at, len(buf), [keys, keys], pn - 1) is None
            bad = buf[:-1] + bytes([buf[-1] ^ 1])
            with pytest.raises(InvalidTag):
                quic.open_short(bad, 7, hdr.pn_at, len(bad), [keys], pn - 1)
        one = _short_packet(keys, dcid, 8, b"\x08\x00" + rnd.randbytes(1300))
        gso = one + _short_packet(keys, dcid, 9, b"\x08\x00" + rnd.randbytes(1300))
        hdr = quic.parse_header(gso, 0, len(gso), len(dcid))
        with pytest.raises(InvalidTag):
            quic.open_packet(gso, hdr, keys, 7)  # what tshark sees too
        got = quic.open_short(gso, 0, hdr.pn_at, len(gso), [keys], 7)
        assert got is not None and got[2:4] == (8, None)  # its header still reads
        opened = quic.open_short(one, 0, hdr.pn_at, len(one), [keys], 7)
        assert opened is not None and opened[2] == 8
        cut = quic._segment_opens  # the spared decryption: the first segment opens
        header = quic.remove_header_protection(gso, hdr, keys)[3]
        nonce = keys.nonce(8)
        assert cut(gso, 0, hdr.pn_at, hdr.pn_at + 4, len(gso), keys.aead_cipher(), nonce, header)
        padded = one + bytes(1400)  # no second header: the whole packet is decrypted
        assert not cut(padded, 0, hdr.pn_at, hdr.pn_at + 4, len(padded), keys.aead_cipher(),
                       nonce, header)  # fmt: skip
        with pytest.raises(InvalidTag):
            quic.open_short(padded, 0, hdr.pn_at, len(padded), [keys], 7)


def test_hkdf_equals_tls_crypto():
    from netlab.wire.tls_crypto import hkdf_expand_label, hkdf_extract

    rnd = random.Random(1)
    for hash_name in ("sha256", "sha384"):
        for size in (0, 20, 32, 48, 129):
            key = rnd.randbytes(size)
            for length in (12, 16, 32, 48, 100):
                got = quic.Hkdf(hash_name, key).expand_label("quic hp", length, b"c" * (size % 3))
                assert got == hkdf_expand_label(
                    hash_name, key, "quic hp", b"c" * (size % 3), length
                )
            if key:
                assert quic.Hkdf(hash_name, key).mac(b"ikm") == hkdf_extract(hash_name, key, b"ikm")


def test_hello_check_agrees_with_parse_hello():
    """The one-line view checks a hello's lengths instead of parsing it: the same
    verdict as wire.tls.parse_hello, and the same random and chosen suite."""
    from netlab.dissect.quic import _hello_ok
    from netlab.wire import tls as tls_wire

    rnd = random.Random(2)
    verdicts = set()
    for _ in range(20000):
        server = rnd.random() < 0.5
        sid = rnd.randbytes(rnd.choice([0, 8, 32]))
        body = rnd.randbytes(34) + bytes([len(sid)]) + sid
        if server:
            body += rnd.randbytes(3)
        else:
            suites = rnd.randbytes(2 * rnd.randint(0, 4))
            body += len(suites).to_bytes(2, "big") + suites + b"\x01\x00"
        exts = b"".join(rnd.randbytes(2) + len(d).to_bytes(2, "big") + d
                        for d in (rnd.randbytes(rnd.randint(0, 5)) for _ in range(3)))  # fmt: skip
        body += len(exts).to_bytes(2, "big") + exts
        if rnd.random() < 0.5:
            cut = bytearray(body[: rnd.randint(0, len(body))] if rnd.random() < 0.5 else body)
            if cut:
                cut[rnd.randrange(len(cut))] = rnd.randrange(256)
            body = bytes(cut)
        try:
            hello = tls_wire.parse_hello(body, server=server)
        except (tls_wire.TlsError, ValueError):
            hello = None
        sid_end = _hello_ok(body, server)
        verdicts.add(hello is None)
        assert bool(sid_end) == (hello is not None), body.hex()
        if hello is not None and server:
            assert int.from_bytes(body[sid_end : sid_end + 2], "big") == hello.suites[0]
    assert verdicts == {True, False}


# --- wire: RFC 9001 Appendix A and RFC 9369 Appendix A --------------------------------------
def test_initial_keys_rfc9001_and_rfc9369():
    c, s = quic.initial_keys(bytes.fromhex("8394c8f03e515708"))
    assert (c.key.hex(), c.iv.hex(), c.hp.hex()) == (
        "1f369613dd76d5467730efcbe3b1a22d", "fa044b2f42a3fd3b46fb255c",
        "9f50449e04a0e810283a1e9933adedd2")  # fmt: skip
    assert s.key.hex() == "cf3a5331653c364c88f0f379b6067e37"
    c2, _s2 = quic.initial_keys(bytes.fromhex("8394c8f03e515708"), quic.V2)
    assert c2.key.hex() == "8b1a0bc121284290a29e0971b5cd045d"
    assert quic.decode_packet_number(0xA82F30EA, 0x9B32, 2) == 0xA82F9B32


def test_retry_integrity_tag_rfc9001_a4():
    retry = bytes.fromhex(
        "ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba"
    )
    hdr = quic.parse_header(retry, 0, len(retry))
    assert hdr.ptype == quic.RETRY and hdr.token == b"token"
    assert quic.retry_valid(retry, hdr, bytes.fromhex("8394c8f03e515708"))
    assert not quic.retry_valid(retry, hdr, bytes.fromhex("8394c8f03e515709"))


def test_varints_are_bounded():
    assert quic.read_varint(bytes.fromhex("c2197c5eff14e88c"), 0, 8) == (151288809941952652, 8)
    assert quic.read_varint(bytes.fromhex("7bbd"), 0, 2) == (15293, 2)
    with pytest.raises(quic.QuicError):
        quic.read_varint(bytes.fromhex("c2197c5e"), 0, 4)
    for v in (0, 63, 64, 16383, 16384, 2**30, 2**62 - 1):
        enc = quic.encode_varint(v)
        assert quic.read_varint(enc, 0, len(enc)) == (v, len(enc))
