"""Every command with --json, stopped by a real SIGINT halfway: exit 130 and valid JSON
(one document, or NDJSON ending with a summary line), with what was found so far.

The peers are real and on loopback (a UDP socket that never answers, a TCP listener, the
kernel's own ICMP), or a `lan` lab for ARP, which needs Ethernet."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time

import pytest

from tests.conftest import netlab_bin
from tests.test_arp import lan  # noqa: F401  (the fixture)

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="raw sockets need root")


def interrupted(args: list[str], *, after: float = 1.5, wait_for: str | None = None,
                prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:  # fmt: skip
    """Run `netlab ARGS`, send SIGINT once AFTER seconds have passed (or once stdout
    shows WAIT_FOR), and return what it printed."""
    proc = subprocess.Popen([*prefix, netlab_bin(), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        time.sleep(after)
        assert proc.poll() is None, f"ended before the signal: {proc.communicate()}"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.fixture
def silent_udp():
    """A UDP port on 127.0.0.1 that takes datagrams and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def listener():
    """A TCP port on 127.0.0.1 that completes handshakes (the kernel's backlog)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


def test_dns_query_json_on_ctrl_c(silent_udp):
    res = interrupted(["dns-query", "--json", "--timeout", "20", "-p", str(silent_udp),
                       "www.example.lab", "@127.0.0.1"])  # fmt: skip
    assert res.returncode == 130, res.stderr
    doc = json.loads(res.stdout)
    assert doc["rcode"] == "INTERRUPTED" and doc["server"] == "127.0.0.1"
    assert "Traceback" not in res.stderr


def test_dns_query_text_on_ctrl_c_says_so(silent_udp):
    res = interrupted(["dns-query", "--timeout", "20", "-p", str(silent_udp), "x.lab",
                       "@127.0.0.1"])  # fmt: skip
    assert res.returncode == 130
    assert "interrupted" in res.stdout and "Traceback" not in res.stderr


def test_dns_query_trace_json_on_ctrl_c(silent_udp):
    res = interrupted(["dns-query", "--json", "--trace", "--timeout", "20", "--root",
                       "127.0.0.1", "-p", str(silent_udp), "www.example.lab"])  # fmt: skip
    assert res.returncode == 130, res.stderr
    doc = json.loads(res.stdout)
    assert doc["rcode"] == "INTERRUPTED"
    assert [(s["server"], s["rcode"]) for s in doc["trace"]] == [("127.0.0.1", "INTERRUPTED")]


@needs_root
def test_ping_ndjson_on_ctrl_c_ends_with_the_summary():
    res = interrupted(["ping", "--json", "-c", "1000", "-i", "0.2", "127.0.0.1"])
    assert res.returncode == 130, res.stderr
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert all("type" in line for line in lines)
    assert [x["type"] for x in lines].count("reply") >= 3
    assert lines[-1]["type"] == "summary" and lines[-1]["sent"] >= 3


@needs_root
def test_traceroute_json_on_ctrl_c():
    res = interrupted(["traceroute", "--json", "--report", "-c", "100", "127.0.0.1"])
    assert res.returncode == 130, res.stderr
    doc = json.loads(res.stdout)
    assert doc["interrupted"] is True and doc["addr"] == "127.0.0.1"


@needs_root
def test_tcp_handshake_json_on_ctrl_c(listener):
    res = interrupted(["tcp-handshake", "--json", "--hold", "30", "127.0.0.1", str(listener)])
    assert res.returncode == 130, res.stderr
    doc = json.loads(res.stdout)
    assert doc["interrupted"] is True and doc["result"] == "open"


def test_tcp_handshake_connect_json_on_ctrl_c(listener):
    res = interrupted(["tcp-handshake", "--connect", "--json", "--hold", "30", "127.0.0.1",
                       str(listener)])  # fmt: skip
    assert res.returncode == 130, res.stderr
    doc = json.loads(res.stdout)
    assert doc["interrupted"] is True and doc["result"] == "open"


@pytest.mark.lab
def test_arp_ndjson_on_ctrl_c_ends_with_the_summary(lan):  # noqa: F811
    res = interrupted(["arp", "--json", "-c", "1000", "-i", "0.2", "198.18.0.20"],
                      prefix=("ip", "netns", "exec", lan.netns("a")))  # fmt: skip
    assert res.returncode == 130, res.stderr
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert [x["type"] for x in lines].count("reply") >= 3
    assert lines[-1]["type"] == "summary"


# The socket commands added on the shared runner after the spine: a peer that accepts
# (TCP) or takes datagrams (UDP) and never answers, Ctrl-C while the command waits.
SOCKET_COMMANDS = {
    "tls-hello": ("tcp", ["tls-hello", "--json", "--timeout", "20", "127.0.0.1:{port}"]),
    "rtmp-handshake": ("tcp", ["rtmp-handshake", "--json", "--timeout", "20",
                               "rtmp://127.0.0.1:{port}/live/x"]),
    "ftp": ("tcp", ["ftp", "--json", "--timeout", "20", "ftp://127.0.0.1:{port}/"]),
    "torrent peer": ("tcp", ["torrent", "peer", "--json", "--timeout", "20", "--info-hash",
                             "d0e6a90f8a524b6b639a5324a416916ebd3c56af", "127.0.0.1:{port}"]),
    "torrent announce": ("udp", ["torrent", "announce", "--json", "--timeout", "20", "-t",
                                 "udp://127.0.0.1:{port}/announce",
                                 "d0e6a90f8a524b6b639a5324a416916ebd3c56af"]),
    "dht-lookup": ("udp", ["dht-lookup", "--json", "--timeout", "20", "--query-timeout", "10",
                           "--bootstrap", "127.0.0.1:{port}",
                           "0123456789abcdef0123456789abcdef01234567"]),
}  # fmt: skip


@pytest.mark.parametrize("command", sorted(SOCKET_COMMANDS))
def test_socket_command_json_on_ctrl_c(command, listener, silent_udp):
    kind, args = SOCKET_COMMANDS[command]
    port = listener if kind == "tcp" else silent_udp
    res = interrupted([a.format(port=port) for a in args])
    assert res.returncode == 130, res.stderr
    doc = json.loads(res.stdout)
    assert doc["interrupted"] is True, doc
    assert "Traceback" not in res.stderr and "internal error" not in res.stderr
