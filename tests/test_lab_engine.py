"""The lab engine on real namespaces (root + iproute2 + bind9 + nginx; marked `lab`).

No mocks of the kernel: each test brings a bundled lab up, checks what the
course says happens in it, and the fixture takes it down. The lifecycle tests
kill `netlab lab up` half-way and then look for anything left behind.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, netlab_bin, require_root, require_tool
from tests.labfixtures import unique_name, warm_neighbours

pytestmark = pytest.mark.lab


def root_links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True)
    return {line.split(":")[1].strip().split("@")[0] for line in out.stdout.splitlines()}


def lab_namespaces(name: str) -> list[str]:
    from netlab.lab import netns

    return netns.list_netns(f"nl-{name}-") + netns.list_netns(f"nl-{name}_")


def assert_gone(name: str, pids: list[tuple[int, int]]) -> None:
    """Nothing of lab `name` left: namespaces, run folder, name files, processes."""
    from netlab.lab import ledger

    assert lab_namespaces(name) == []
    assert not (ledger.RUN_ROOT / name).exists()
    assert not list(Path("/etc/netns").glob(f"nl-{name}-*"))  # an absent folder globs empty
    for pid, start in pids:
        assert not ledger.alive(pid, start), f"process {pid} of lab {name} still runs"


# ---------------------------------------------------------------------------
# Bundled labs do what the course says


def test_routed_ping_traceroute_gateway_mtu(lab):
    before = root_links()
    routed = lab("routed", tools=("ping", "traceroute"))
    # Nothing of the lab appears in the root namespace.
    assert root_links() == before

    ping = routed.exec("client", "ping", "-4", "-c1", "-W2", "server")
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert "ttl=61" in ping.stdout  # three routers on the way

    trace = routed.exec("client", "traceroute", "-4", "-n", "-q1", "-w1", "server")
    hops = re.findall(r"^\s*\d+\s+(\S+)", trace.stdout, re.M)
    assert hops == ["198.18.1.1", "198.18.2.2", "198.18.3.2", routed.addr("server")]

    # Same subnet: straight across the switch (TTL untouched); other subnet: via r1.
    same = routed.exec("pc1", "ping", "-4", "-c1", "-W2", "pc2")
    assert same.returncode == 0 and "ttl=64" in same.stdout
    other = routed.exec("pc1", "ping", "-4", "-c1", "-W2", "server")
    assert other.returncode == 0 and "ttl=61" in other.stdout
    v6 = routed.exec("pc1", "ping", "-6", "-c1", "-W2", "server")
    assert v6.returncode == 0, v6.stdout + v6.stderr

    mtu = routed.exec("r2", "ip", "-o", "link", "show", "eth1")
    assert " mtu 1400 " in mtu.stdout

    hosts = routed.exec("client", "getent", "hosts", "server")
    assert routed.addr("server") in hosts.stdout or routed.addr("server", 6) in hosts.stdout


def test_routed_services_answer(lab):
    routed = lab("routed")
    http = routed.exec(
        "client",
        sys.executable,
        "-c",
        "import urllib.request;print(urllib.request.urlopen("
        "'http://server/', timeout=3).read().decode())",
    )
    assert http.returncode == 0, http.stderr
    # The example site's index names the running lab (`lab up --name`), not the file's.
    assert f"<h1>netlab lab {routed.name}: server</h1>" in http.stdout
    sock = routed.socket("client")
    with sock:
        sock.settimeout(3)
        sock.connect((routed.addr("server"), 7))
        sock.sendall(b"hello lab")
        assert sock.recv(64) == b"hello lab"
    health = {s["service"]: s["health"] for s in routed.status()["services"]}
    assert health == {"tcp": "healthy", "http": "healthy"}


def test_lan_arp_and_ping(lab):
    lan = lab("lan", tools=("ping",))
    ping = lan.exec("a", "ping", "-4", "-c2", "-W2", "b")
    assert ping.returncode == 0
    neigh = lan.exec("a", "ip", "neigh", "show", lan.addr("b"))
    assert re.search(r"lladdr ([0-9a-f]{2}:){5}[0-9a-f]{2}", neigh.stdout)


def test_dns_recursive_and_iterative(lab):
    dns = lab("dns", tools=("dig",))
    # Through the resolver of /etc/netns/…/resolv.conf.
    answer = dns.exec("client", "dig", "+short", "www.example.lab")
    assert answer.stdout.split() == ["198.18.0.80"]
    assert dns.exec("client", "dig", "+short", "AAAA", "www.example.lab").stdout.split() == [
        "2001:db8::80"
    ]
    cname = dns.exec("client", "dig", "+short", "web.example.lab").stdout.split()
    assert cname == ["www.example.lab.", "198.18.0.80"]
    assert dns.exec("client", "dig", "+short", "MX", "example.lab").stdout.split() == [
        "10",
        "mail.example.lab.",
    ]
    assert "v=spf1" in dns.exec("client", "dig", "+short", "TXT", "example.lab").stdout

    # Iteratively, from the root: each level refers to the next, with glue.
    root = dns.exec("client", "dig", "+norec", f"@{dns.addr('root')}", "www.example.lab")
    assert re.search(r"^lab\.\s+\d+\s+IN\s+NS\s+ns1\.lab\.", root.stdout, re.M)
    assert re.search(rf"^ns1\.lab\.\s+\d+\s+IN\s+A\s+{dns.addr('tld')}", root.stdout, re.M)
    assert "flags: qr;" in root.stdout  # a referral: not authoritative, no answer
    tld = dns.exec("client", "dig", "+norec", f"@{dns.addr('tld')}", "www.example.lab")
    assert re.search(r"^example\.lab\.\s+\d+\s+IN\s+NS\s+ns1\.example\.lab\.", tld.stdout, re.M)
    auth = dns.exec("client", "dig", "+norec", f"@{dns.addr('auth')}", "www.example.lab")
    assert "flags: qr aa;" in auth.stdout
    assert re.search(r"^www\.example\.lab\.\s+\d+\s+IN\s+A\s+198\.18\.0\.80", auth.stdout, re.M)

    # The long TXT answer: truncated over UDP without EDNS, complete over TCP.
    truncated = dns.exec("client", "dig", "+noedns", "+ignore", "TXT", "big.example.lab")
    assert " tc " in truncated.stdout or "flags: qr tc" in truncated.stdout
    full = dns.exec("client", "dig", "+noedns", "TXT", "big.example.lab")
    assert "(TCP)" in full.stdout and "end." in full.stdout

    # The resolver cached the answer: asked again with +norec, it still answers.
    cached = dns.exec("client", "dig", "+norec", "www.example.lab")
    assert "198.18.0.80" in cached.stdout
    hosts = dns.exec("client", "getent", "hosts", "www.example.lab")
    assert "198.18.0.80" in hosts.stdout or "2001:db8::80" in hosts.stdout


def _loss(text: str) -> float:
    return float(re.search(r"([\d.]+)% packet loss", text).group(1))


def test_lossy_link_loses_packets(lab):
    lossy = lab("lossy", tools=("ping",))
    warm_neighbours(lossy)
    ping = lossy.exec(
        "client", "ping", "-4", "-c", "300", "-i", "0.002", "-W", "1", "-q", "server", timeout=60
    )
    # 20 % one way and 10 % back: about 28 % of the round trips fail. Generous bounds:
    # a real random process, 300 samples (σ ≈ 2.6 %).
    loss = _loss(ping.stdout)
    assert 12.0 <= loss <= 45.0, ping.stdout
    status = lossy.status()
    assert {imp["from"] for imp in status["impairments"]} == {"client", "server"}


def test_lossy_link_delays_packets(lab):
    lossy = lab("lossy", tools=("ping",))
    impairments = lossy.status()["impairments"]
    # netem where the kernel has it, else the lab's link emulator: either way every
    # impairment the topology names is applied (tests/test_linkemu.py measures each).
    assert {imp["applied"] for imp in impairments} <= {"netem", "emulator"}, impairments
    assert all(not imp["not_applied"] for imp in impairments), impairments
    warm_neighbours(lossy)
    ping = lossy.exec("client", "ping", "-4", "-c", "20", "-i", "0.05", "-q", "server")
    avg = float(re.search(r"= [\d.]+/([\d.]+)/", ping.stdout).group(1))
    assert avg >= 33.0, ping.stdout  # 20 ± 2 ms each way; 5 % of requests skip the delay


# ---------------------------------------------------------------------------
# CLI: up / status --json / exec / down


def test_cli_up_status_exec_down():
    require_root()
    require_tool("ping")
    name = unique_name("cli-lan")
    cli = netlab_bin()
    try:
        up = subprocess.run(
            [cli, "lab", "up", str(ROOT / "labs" / "lan.toml"), "--name", name],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert up.returncode == 0, up.stderr
        status = subprocess.run(
            [cli, "lab", "status", name, "--json"], capture_output=True, text=True, timeout=30
        )
        doc = json.loads(status.stdout)
        (only,) = doc["labs"]
        assert only["name"] == name and only["state"] == "up"
        assert {n["name"] for n in only["nodes"]} == {"a", "b"}
        assert only["services"][0]["health"] == "healthy"
        ping = subprocess.run(
            [cli, "lab", "exec", "--lab", name, "a", "--", "ping", "-c1", "b"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert ping.returncode == 0, ping.stderr
        code = subprocess.run(
            [cli, "lab", "exec", "--lab", name, "a", "--", "sh", "-c", "exit 7"], timeout=30
        )
        assert code.returncode == 7
        pids = [(s["pid"], _start(s["pid"])) for s in only["services"]]
        down = subprocess.run(
            [cli, "lab", "down", name], capture_output=True, text=True, timeout=30
        )
        assert down.returncode == 0, down.stderr
        assert_gone(name, pids)
        missing = subprocess.run(
            [cli, "lab", "status", name, "--json"], capture_output=True, text=True, timeout=30
        )
        assert missing.returncode == 1
    finally:
        subprocess.run([cli, "lab", "down", name], capture_output=True, timeout=30)


def _start(pid: int) -> int:
    from netlab.lab.ledger import starttime

    return starttime(pid) or 0


# ---------------------------------------------------------------------------
# Lifecycle: interrupted `up`, owner that died


@pytest.mark.parametrize("stage", ["netns", "process"])
def test_sigterm_during_up_rolls_back(stage):
    """Kill `netlab lab up` with SIGTERM mid-way: nothing of the lab may remain."""
    require_root()
    from netlab.lab import ledger

    if not os.path.exists("/usr/sbin/named"):
        pytest.skip("needs named (bind9)")
    name = unique_name(f"sig-{stage}")
    run_dir = ledger.RUN_ROOT / name
    before = root_links()
    proc = subprocess.Popen(
        [netlab_bin(), "lab", "up", str(ROOT / "labs" / "dns.toml"), "--name", name],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: dict = {}
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                seen = json.loads((run_dir / "ledger.json").read_text())
            except (OSError, ValueError):
                seen = {}
            if any(item["kind"] == stage for item in seen.get("items", [])):
                break
            time.sleep(0.002)
        assert proc.poll() is None, "`up` finished before it could be interrupted"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        subprocess.run([netlab_bin(), "lab", "down", name], capture_output=True, timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted by SIGTERM" in err
    pids = [(i["pid"], i["starttime"]) for i in seen.get("items", []) if i["kind"] == "process"]
    assert_gone(name, pids)
    assert root_links() == before


OWNER_SCRIPT = """
import os, sys, time
from netlab.lab import engine
from netlab.lab.topology import load_topology
engine.up(load_topology(sys.argv[1]), name=sys.argv[2], hold=True)
print("up", flush=True)
time.sleep(600)
"""


def test_down_stale_clears_lab_whose_owner_died():
    require_root()
    require_tool("nginx")
    name = unique_name("stale")
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER_SCRIPT, str(ROOT / "labs" / "lan.toml"), name],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout.readline().strip() == "up"
        from netlab.lab import ledger

        book = ledger.Ledger.load(ledger.RUN_ROOT / name)
        pids = [(i["pid"], i["starttime"]) for i in book.of_kind("process")]
        assert not book.stale
        owner.kill()  # SIGKILL: no chance to clean up
        owner.wait()
        status = json.loads(
            subprocess.run(
                [netlab_bin(), "lab", "status", name, "--json"], capture_output=True, text=True
            ).stdout
        )
        assert status["labs"][0]["stale"] is True
        down = subprocess.run(
            [netlab_bin(), "lab", "down", "--stale", "--json"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert name in json.loads(down.stdout)["down"]
        assert_gone(name, pids)
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        subprocess.run([netlab_bin(), "lab", "down", name], capture_output=True, timeout=30)


def test_down_removes_exactly_the_ledger(lab):
    routed = lab("routed")
    items = list(routed.book.items)
    pids = [(i["pid"], i["starttime"]) for i in items if i["kind"] == "process"]
    files = [i["path"] for i in items if i["kind"] == "file"]
    assert all(os.path.exists(f) for f in files)
    # A process left running inside a node (not a service) is ended too.
    stray = subprocess.Popen(["ip", "netns", "exec", routed.netns("pc1"), "sleep", "60"])
    time.sleep(0.05)
    routed.down()
    stray.wait(timeout=5)
    assert_gone(routed.name, pids)
    assert not any(os.path.exists(f) for f in files)
