"""Every command's `--json` speaks one vocabulary (docs/json.md), checked mechanically.

Each command runs for real — in the `dns` lab (ping, arp, traceroute, tcp-handshake,
http, dns-query, sniff), against servers on loopback (tls-hello → openssl s_server,
rtmp-handshake → nginx-rtmp fed by ffmpeg, dht-lookup → a KRPC node, torrent
announce/peer → tracker and peer stand-ins) or offline (cidr, cert, torrent, dissect on
pcaps/) — and every document or NDJSON line is walked:

- counters are `sent`/`received`/`lost` (no `transmitted`, `probes_sent`, `replies`);
- addresses are `addr` or a role name (no `from`, `ip`, `address`, `source`);
- durations are `*_ms` numbers with at most 3 decimals (microseconds), and no key is a
  duration in another unit (`_s`, `_sec`, `_us`, `_ns`);
- round-trip statistics are `rtt_min_ms`/`rtt_avg_ms`/`rtt_max_ms` (no bare `avg_ms`);
- a numeric `time` is epoch seconds;
- hex ids (node ids, info-hashes, randoms, JA3 hashes) are lower-case;
- every NDJSON line has a `type` and every stream ends with a `summary` line.

Names that design.md or an issue's "Done when" fixes are listed in EXCEPTIONS (and in
docs/json.md); the rest of the tree is held to the rules.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import netlab_bin, require_root, require_tool
from tests.labfixtures import LabHandle, module_lab

ROOT = Path(__file__).resolve().parent.parent

# Key → the guide's name for it.
RENAMED = {
    "transmitted": "sent",
    "probes_sent": "sent",
    "replies": "received",
    "from": "addr (or a role name: src, dst, server, peer …)",
    "ip": "addr",
    "address": "addr",
    "source": "src",
    "source_port": "sport",
    "avg_ms": "rtt_avg_ms",
    "min_ms": "rtt_min_ms",
    "max_ms": "rtt_max_ms",
    "best_ms": "rtt_min_ms",
    "worst_ms": "rtt_max_ms",
    "last_ms": "rtt_last_ms",
}
OTHER_UNITS = re.compile(r"(^|_)(s|sec|secs|seconds|us|usec|ns|nsec)$")
HEX_KEY = re.compile(r"(^|_)(id|hash|random|target|distance|cid)$|^info_hash")
HEX = re.compile(r"[0-9a-fA-F]{8,}")

# (command, path) pairs that keep another name, and why (docs/json.md says the same).
EXCEPTIONS = {
    # X.509 subjectAltName kinds, as openssl names them (IP:…, DNS:…): not an address key
    ("cert", "san.ip"),
    ("tls-hello", "san.ip"),
    # the info dictionary's `source` key of a .torrent file (a tag, not an address)
    ("torrent", "source"),
}


def violations(value: Any, path: str = "", in_ms: bool = False) -> list[str]:
    """Every place where VALUE breaks the guide, as 'path: what'."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else key
            found += _key_violations(key, item, here)
            found += violations(item, here, in_ms or key.endswith("_ms") or key == "ms")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += violations(item, f"{path}[{i}]", in_ms)
    elif in_ms and isinstance(value, float) and round(value, 3) != value:
        found.append(f"{path}: {value!r} has more than 3 decimals (round to the microsecond)")
    elif in_ms and not (value is None or isinstance(value, int | float)):
        found.append(f"{path}: a duration must be a number or null, not {value!r}")
    return found


def _key_violations(key: str, item: Any, path: str) -> list[str]:
    found = []
    if key in RENAMED:
        found.append(f"{path}: '{key}' is '{RENAMED[key]}' in docs/json.md")
    if OTHER_UNITS.search(key):
        found.append(f"{path}: durations are *_ms")
    if key in ("sent", "received", "lost") and not (item is None or type(item) is int):
        found.append(f"{path}: a counter is a whole number, not {item!r}")
    if key == "time" and isinstance(item, int | float) and not 1e9 < item < 4.2e9:
        found.append(f"{path}: time is epoch seconds, not {item!r}")
    if isinstance(item, str):
        if key in ("remote", "local") and item.count(":") > 1 and not item.startswith("["):
            found.append(f"{path}: an IPv6 address with a port is written [addr]:port")
        if HEX_KEY.search(key) and HEX.fullmatch(item) and item != item.lower():
            found.append(f"{path}: hex ids are lower-case: {item!r}")
    return found


def assert_document(command: str, doc: Any) -> None:
    bad = [v for v in violations(doc) if not _excepted(command, v)]
    assert not bad, f"netlab {command} --json:\n  " + "\n  ".join(bad)


def assert_stream(command: str, text: str) -> list[dict]:
    """TEXT as NDJSON: each line an object with a type, held to the rules; the last
    line the summary."""
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert lines, f"netlab {command} --json printed nothing"
    for no, line in enumerate(lines, 1):
        assert isinstance(line, dict) and isinstance(line.get("type"), str), (
            f"netlab {command} --json line {no} has no type: {str(line)[:200]}"
        )
        assert_document(command, line)
    types = [line["type"] for line in lines]
    assert types[-1] == "summary" and types.count("summary") == 1, (command, types[-3:])
    return lines


def _excepted(command: str, violation: str) -> bool:
    path = re.sub(r"\[\d+\]", "", violation.split(":", 1)[0])
    return any(c == command and (path == p or path.endswith("." + p)) for c, p in EXCEPTIONS)


def netlab(*args: str, cwd: Path | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([netlab_bin(), *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)  # fmt: skip


def document(proc: subprocess.CompletedProcess, *ok: int) -> Any:
    assert proc.returncode in (ok or (0,)), (proc.args, proc.returncode, proc.stderr[-400:])
    return json.loads(proc.stdout)


# --- the checker itself ---------------------------------------------------------------------
def test_the_checker_finds_each_kind_of_break():
    bad = {
        "transmitted": 3, "from": "198.18.0.1", "rtt_ms": 0.055629200000000004,
        "time_wait_s": 1.0, "avg_ms": 1.0, "time": 1234.5, "node_id": "ABCDEF0123456789",
        "timings_ms": {"dns": 0.0001}, "probes": [{"ip": "198.18.0.1"}],
        "local": "2001:db8::10:55116", "lost": [1],
    }  # fmt: skip
    found = violations(bad)
    for path in ("transmitted", "from", "rtt_ms", "time_wait_s", "avg_ms", "time", "node_id",
                 "timings_ms.dns", "probes[0].ip", "local", "lost"):  # fmt: skip
        assert any(v.startswith(path + ":") for v in found), (path, found)
    good = {
        "sent": 3,
        "addr": "198.18.0.1",
        "rtt_ms": 0.056,
        "time_wait_ms": 1000.0,
        "time": 1796207661.969824,
        "node_id": "abcdef0123456789",
        "rtt_avg_ms": None,
        "local": "[2001:db8::10]:55116",
    }
    assert violations(good) == []
    with pytest.raises(AssertionError, match="has no type"):
        assert_stream("x", '{"no": 1}\n{"type": "summary"}\n')
    with pytest.raises(AssertionError):
        assert_stream("x", '{"type": "reply"}\n')


def test_json_writers_round_every_duration():
    from netlab.render.jsonout import round_ms

    doc = {
        "rtt_ms": 0.055629200000000004,
        "timings_ms": {"dns": 1.23456},
        "n": 0.123456,
        "hops": [{"rtt_ms": 2.0000004, "time": 1796207661.969824}],
        "x_ms": None,
    }
    assert round_ms(doc) == {"rtt_ms": 0.056, "timings_ms": {"dns": 1.235}, "n": 0.123456,
                             "hops": [{"rtt_ms": 2.0, "time": 1796207661.969824}],
                             "x_ms": None}  # fmt: skip


# --- offline --------------------------------------------------------------------------------
def test_cidr():
    for prefix in ("198.18.0.0/15", "2001:db8::1/64", "100.64.12.1/10"):
        assert_document("cidr", document(netlab("cidr", "--json", prefix)))


@pytest.mark.parametrize("pcap", sorted(p.name for p in (ROOT / "pcaps").glob("*.pcap*")))
def test_dissect_stream_has_types_and_a_summary(pcap):
    proc = netlab("dissect", "--json", str(ROOT / "pcaps" / pcap))
    assert proc.returncode == 0, proc.stderr
    lines = assert_stream("dissect", proc.stdout)
    packets = [line for line in lines if line["type"] == "packet"]
    assert packets and [p["no"] for p in packets] == list(range(1, len(packets) + 1))
    assert lines[-1]["packets"] == len(packets)


def test_dissect_statistics_and_two_processes_end_with_the_summary():
    http = str(ROOT / "pcaps" / "http.pcapng")
    proc = netlab("dissect", "--json", "--stats", "phs", "--stats", "conv,tcp", http)
    lines = assert_stream("dissect", proc.stdout)
    assert [line["type"] for line in lines] == ["stats", "stats", "summary"]
    one = netlab("dissect", "--json", "-j", "1", http).stdout
    two = netlab("dissect", "--json", "-j", "2", http).stdout
    assert one == two and assert_stream("dissect", two)[-1]["packets"] == one.count("\n") - 1


def test_cert(tmp_path):
    for args in (["ca", "--cn", "Root", "-o", "root"],
                 ["issue", "--ca", "root", "--cn", "www.lab", "--san", "www.lab", "--san",
                  "198.18.0.80", "-o", "www"],
                 ["show", "www.pem"], ["verify", "www.pem", "--ca", "root.pem"]):  # fmt: skip
        assert_document("cert", document(netlab("cert", *args, "--json", cwd=tmp_path)))


def test_torrent_make_and_show(tmp_path):
    (tmp_path / "data.bin").write_bytes(bytes(range(256)) * 200)
    made = document(netlab("torrent", "make", "data.bin", "--tracker",
                           "http://127.0.0.1:1/announce", "--json", cwd=tmp_path))  # fmt: skip
    assert_document("torrent", made)
    shown = document(netlab("torrent", "show", "data.bin.torrent", "--json", cwd=tmp_path))
    assert_document("torrent", shown)
    assert shown["info_hash_v1"] == made["info_hash_v1"]


# --- loopback peers -------------------------------------------------------------------------
def test_torrent_announce_and_peer():
    from tests.hostile_torrent import HttpTracker, Peer, UdpTracker

    ih = bytes(range(20)).hex()
    with HttpTracker("peers") as h, UdpTracker("ok") as u:
        doc = document(netlab("torrent", "announce", "--json", ih,
                              "-t", f"http://127.0.0.1:{h.port}/announce",
                              "-t", f"udp://127.0.0.1:{u.port}", "--scrape"))  # fmt: skip
    assert_document("torrent", doc)
    with Peer("have-all") as p:
        doc = document(netlab("torrent", "peer", "--json", f"127.0.0.1:{p.port}",
                              "--info-hash", ih))  # fmt: skip
    assert_document("torrent", doc)


def test_tls_hello(tmp_path):
    require_tool("openssl")
    from tests.tls_servers import OpensslServer

    with OpensslServer(tmp_path) as srv:
        doc = document(netlab("tls-hello", "--json", "--cacert", str(srv.cert),
                              f"127.0.0.1:{srv.port}"))  # fmt: skip
    assert_document("tls-hello", doc)
    assert doc["rtt_ms"] is not None and doc["addr"] == "127.0.0.1"


def test_rtmp_handshake(tmp_path):
    require_tool("nginx")
    require_tool("ffmpeg")
    from tests.rtmp_servers import RTMP_MODULE, NginxRtmp

    if not Path(RTMP_MODULE).exists():
        pytest.skip("needs libnginx-mod-rtmp")
    with NginxRtmp(tmp_path) as server:
        server.publish_testsrc()
        doc = document(netlab("rtmp-handshake", "--json", "--frames", "3", "--chunks",
                              server.url("test")))  # fmt: skip
    assert_document("rtmp-handshake", doc)
    assert doc["frames"] and doc["handshake"]["rtt_ms"] is not None


def test_dht_lookup():
    from tests.hostile_dht import HostileDhtNode

    with HostileDhtNode("only-itself") as node:
        doc = document(netlab("dht-lookup", "--json", "--query-timeout", "0.3",
                              "0123456789abcdef0123456789abcdef01234567",
                              "-b", f"127.0.0.1:{node.port}"), 0, 1)  # fmt: skip
    assert_document("dht-lookup", doc)
    assert doc["hops"] and doc["hops"][0]["addr"] == f"127.0.0.1:{node.port}"


# --- in the dns lab -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dns():
    require_root()
    with module_lab("dns", "jsonv") as handle:
        yield handle


def in_lab(lab: LabHandle, *args: str, ok: tuple[int, ...] = (0,)) -> str:
    proc = lab.exec("client", netlab_bin(), *args)
    assert proc.returncode in ok, (args, proc.returncode, proc.stderr[-400:])
    return proc.stdout


def test_ping(dns):
    lines = assert_stream("ping", in_lab(dns, "ping", "--json", "-c", "2", "-i", "0.2", "www"))
    summary = lines[-1]
    assert (summary["sent"], summary["received"], summary["lost"]) == (2, 2, 0)
    assert {line["addr"] for line in lines[:-1]} == {dns.addr("www")}


def test_arp(dns):
    lines = assert_stream("arp", in_lab(dns, "arp", "--json", "-c", "2", "-i", "0.2", "www"))
    assert (lines[-1]["sent"], lines[-1]["lost"], lines[-1]["addr"]) == (2, 0, dns.addr("www"))
    lines = assert_stream("arp", in_lab(dns, "arp", "--json", "--scan", "198.18.0.0/28"))
    assert lines[-1]["received"] >= 1 and lines[0]["addr"] == dns.addr("root")


def test_traceroute(dns):
    doc = json.loads(in_lab(dns, "traceroute", "--json", "-q", "2", "www"))
    assert_document("traceroute", doc)
    assert doc["hops"][-1]["probes"][0]["addr"] == dns.addr("www")
    doc = json.loads(in_lab(dns, "traceroute", "--json", "--report", "-c", "2", "--interval",
                            "0", "www"))  # fmt: skip
    assert_document("traceroute", doc)
    assert doc["hops"][-1]["sent"] == 2 and doc["hops"][-1]["rtt_avg_ms"] is not None


def test_tcp_handshake(dns):
    for args, ok in (
        (["-p", "80"], (0,)),
        (["--time-wait", "0.2", "-p", "80"], (0,)),
        (["--connect", "-p", "80"], (0,)),
        (["--ports", "79-81"], (0,)),
    ):
        doc = json.loads(in_lab(dns, "tcp-handshake", "--json", *args, "www", ok=ok))
        assert_document("tcp-handshake", doc)
        assert doc["addr"] == dns.addr("www") and doc["src"] == dns.addr("client")
    text = in_lab(dns, "tcp-handshake", "--json", "-S", "-c", "2", "--interval", "0.1",
                  "-p", "80", "www")  # fmt: skip
    lines = assert_stream("tcp-handshake", text)
    assert (lines[-1]["sent"], lines[-1]["received"], lines[-1]["lost"]) == (2, 2, 0)


def test_http(dns):
    doc = json.loads(in_lab(dns, "http", "--json", "http://www/", "http://www/nope",
                            ok=(0, 1)))  # fmt: skip
    assert_document("http", doc)
    assert doc["requests"][0]["timings_ms"]["total"] > 0


def test_dns_query(dns):
    for args in (["www.example.lab"], ["-t", "MX", "example.lab"], ["-x", dns.addr("www")],
                 ["--trace", "www.example.lab"]):  # fmt: skip
        doc = json.loads(in_lab(dns, "dns-query", "--json", *args))
        assert_document("dns-query", doc)


def test_sniff(dns):
    from netlab.lab import engine

    argv = engine.exec_argv(dns.book, "client", [netlab_bin(), "sniff", "--json", "-i", "eth0",
                                                 "-c", "2", "--timeout", "10", "icmp"])  # fmt: skip
    sniffer = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)  # the capture is open (the test cannot see it from here)
        dns.exec("client", "ping", "-4", "-c", "1", "-W", "1", "www")
        out, err = sniffer.communicate(timeout=15)
    finally:
        if sniffer.poll() is None:
            sniffer.kill()
            sniffer.wait(5)
    lines = assert_stream("sniff", out)
    assert [line["type"] for line in lines] == ["packet", "packet", "summary"], err


if __name__ == "__main__":  # print each violation of a command line's output: a quick look
    print("\n".join(violations(json.load(sys.stdin))))
