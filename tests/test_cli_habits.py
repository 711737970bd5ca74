"""The small habits of issue 21: no escape under NO_COLOR, `lab exec` like a shell, lab
files that name their lab, a --help that says where to start, the lab hint for a name
that only resolves inside a lab, and each error said once."""

from __future__ import annotations

import contextlib
import http.server
import os
import pty
import re
import select
import shlex
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from netlab.cli.main import COMMANDS
from tests.conftest import ROOT, netlab_bin, require_root
from tests.labfixtures import module_lab

BIN_DIR = os.path.dirname(netlab_bin())
ESC = b"\x1b"


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    return {**base, "PATH": f"{BIN_DIR}:{os.environ['PATH']}", "TERM": "xterm-256color", **extra}


def run_on_pty(
    args: list[str], environ: dict[str, str], timeout: float = 30
) -> tuple[bytes, str, int]:
    """Run netlab with stdout on a pseudo-terminal (where colour is on by default) and
    stderr on a pipe: (stdout bytes, stderr text, exit status)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [netlab_bin(), *args], stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE,
        env=environ, cwd=ROOT,
    )  # fmt: skip
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed its side
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    err = proc.stderr.read().decode(errors="replace")
    return out, err, proc.wait(timeout=timeout)


def closed_port() -> int:
    """A loopback port where nothing listens (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def http_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def tcp_listener():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


@contextlib.contextmanager
def loopback_chatter():
    """UDP datagrams on lo, every 50 ms, for `sniff -i lo` to catch."""
    stop = threading.Event()

    def chatter() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            while not stop.wait(0.05):
                s.sendto(b"netlab", ("127.0.0.1", 9))

    thread = threading.Thread(target=chatter, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(2)


# --- no escape under NO_COLOR / --no-color ---------------------------------------------------

HASH = "0123456789abcdef0123456789abcdef01234567"


def invocations(tmp: Path) -> dict[str, list[list[str]]]:
    """Text output of every command, from what runs here without a lab (loopback only)."""
    (tmp / "file.txt").write_text("netlab\n")
    refused = str(closed_port())
    return {
        "cidr": [["cidr", "198.18.0.0/15", "2001:db8::/32"]],
        "cert": [["cert", "ca", "--cn", "Habit CA", "-o", str(tmp / "ca")],
                 ["cert", "show", str(tmp / "ca.pem")]],
        "dissect": [["dissect", "pcaps/dns.pcapng"], ["dissect", "-V", "-x", "pcaps/ping.pcap"],
                    ["dissect", "--stats", "phs", "--stats", "conv,ip", "pcaps/tcp-udp.pcap"]],
        "lab": [["lab", "list"], ["lab", "status"]],
        "ping": [["ping", "-c", "1", "127.0.0.1"]],
        "traceroute": [["traceroute", "-q", "1", "-m", "2", "127.0.0.1"]],
        "tcp-handshake": [["tcp-handshake", "--rst", "127.0.0.1", "{listener}"]],
        "http": [["http", "http://127.0.0.1:{http}/"]],
        "sniff": [["sniff", "-i", "lo", "-c", "2", "--timeout", "5", "udp port 9"]],
        "dns-query": [["dns-query", "@127.0.0.1", "-p", refused, "--timeout", "0.5",
                       "www.example.lab"]],
        "tls-hello": [["tls-hello", f"127.0.0.1:{refused}"]],
        "quic-hello": [["quic-hello", f"127.0.0.1:{refused}", "--timeout", "1"]],
        "rtmp-handshake": [["rtmp-handshake", f"rtmp://127.0.0.1:{refused}/live/x"]],
        "ftp": [["ftp", f"ftp://127.0.0.1:{refused}/", "--timeout", "1"]],
        "dht-lookup": [["dht-lookup", "--bootstrap", f"127.0.0.1:{refused}", "--timeout", "1",
                        HASH]],
        "torrent": [["torrent", "make", str(tmp / "file.txt"), "-o", str(tmp / "f.torrent")],
                    ["torrent", "show", str(tmp / "f.torrent")]],
        "arp": [],  # needs an Ethernet link: see test_arp_in_a_lab_prints_no_escape
    }  # fmt: skip


def test_the_check_can_fail_colour_is_on_by_default_on_a_terminal():
    out, _, status = run_on_pty(["cidr", "198.18.0.0/15"], env())
    assert status == 0 and ESC in out


def test_force_color_alone_colours_a_pipe_and_no_color_still_wins():
    # rich honours FORCE_COLOR even on a pipe; NO_COLOR must still leave no escape at all.
    forced = subprocess.run([netlab_bin(), "cidr", "10.0.0.0/8"], capture_output=True,
                            env=env(FORCE_COLOR="1"), check=True)  # fmt: skip
    assert ESC in forced.stdout
    for extra, args in (({"NO_COLOR": "1"}, []), ({}, ["--no-color"])):
        plain = subprocess.run([netlab_bin(), "cidr", "10.0.0.0/8", *args], capture_output=True,
                               env=env(FORCE_COLOR="1", **extra), check=True)  # fmt: skip
        assert ESC not in plain.stdout, (extra, args)


def test_every_command_is_covered(tmp_path):
    assert set(invocations(tmp_path)) == set(COMMANDS)


@pytest.mark.parametrize("how", ["NO_COLOR=1", "--no-color"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_no_escape_in_any_text_output(command, how, tmp_path):
    require_root()  # ping, traceroute, tcp-handshake, sniff: raw sockets
    runs = invocations(tmp_path)[command]
    if not runs:
        return
    with http_server() as http_port, tcp_listener() as listener, loopback_chatter():
        for args in runs:
            args = [a.format(http=http_port, listener=listener) for a in args]
            if how == "--no-color" and _takes_no_color(args):
                args = [*args, "--no-color"]
                extra = {}
            else:
                extra = {"NO_COLOR": "1"}
            out, err, status = run_on_pty(args, env(**extra))
            assert out.strip(), f"netlab {shlex.join(args)} printed nothing: {err}"
            assert status != 2 or "error" in err, err
            assert ESC not in out, f"netlab {shlex.join(args)} ({how}): {out[:300]!r}"
            assert ESC not in err.encode()


def _takes_no_color(args: list[str]) -> bool:
    proc = subprocess.run([netlab_bin(), *args[:2], "--help"], capture_output=True, text=True,
                          env=env())  # fmt: skip
    return "--no-color" in proc.stdout


# --- --help ---------------------------------------------------------------------------------


def test_top_level_help_starts_with_three_examples_and_where_to_start():
    out = subprocess.run([netlab_bin(), "--help"], capture_output=True, text=True, check=True)
    lines = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    assert lines[0].startswith("Usage:")
    assert lines[1] == "Examples:"
    examples = lines[2:5]
    assert all(e.startswith("netlab ") for e in examples), examples
    assert lines[5].startswith("Start with `netlab lab up labs/routed.toml`")
    # What it tells to start with exists and loads; the examples that need no lab run.
    from netlab.lab.topology import load_topology

    assert load_topology(ROOT / "labs" / "routed.toml").name == "routed"
    for example in examples:
        words = shlex.split(example.split("  ")[0])
        if words[1] != "lab":
            proc = subprocess.run([netlab_bin(), *words[1:]], capture_output=True, text=True,
                                  cwd=ROOT)  # fmt: skip
            assert proc.returncode == 0, (example, proc.stderr)
        else:  # `lab exec routed client -- …`: routed is what `lab up labs/routed.toml` names
            assert (
                words[3] == "routed"
                and words[4] in load_topology(ROOT / "labs" / "routed.toml").nodes
            )


# --- each error once ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["http", "http://127.0.0.1:{port}/"],
        ["http", "-v", "http://127.0.0.1:{port}/"],
        ["dns-query", "@127.0.0.1", "-p", "{port}", "--timeout", "0.5", "www.example.lab"],
        ["tls-hello", "127.0.0.1:{port}"],
        ["quic-hello", "127.0.0.1:{port}", "--timeout", "1"],
        ["rtmp-handshake", "rtmp://127.0.0.1:{port}/live/x"],
        ["dht-lookup", "--bootstrap", "127.0.0.1:{port}", "--timeout", "1", HASH],
    ],
)
def test_each_error_is_said_once(args):
    require_root()  # http -v captures
    args = [a.format(port=closed_port()) for a in args]
    out, err, status = run_on_pty(args, env())
    assert status == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("netlab: error: "), err
    reason = lines[0].removeprefix("netlab: error: ")
    text = re.sub(rb"\x1b\[[0-9;]*m", b"", out).decode(errors="replace")
    assert reason not in text, f"said twice: {reason!r} also in stdout {text!r}"


# --- in a lab: exec, its files, the hint ----------------------------------------------------

HABITAT = """\
name = "habits"
description = "a client and a server, for the habit tests"
[nodes.client]
[nodes.habitat]
[[links]]
name = "lan"
nodes = ["client", "habitat"]
subnet = "198.18.78.0/24"
"""


@pytest.fixture(scope="module")
def habits(tmp_path_factory):
    require_root()
    path = tmp_path_factory.mktemp("habits") / "habits.toml"
    path.write_text(HABITAT)
    with module_lab(str(path), "hab") as handle:
        yield handle


def netlab(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([netlab_bin(), *args], capture_output=True, text=True, env=env(),
                          timeout=60, **kw)  # fmt: skip


@pytest.mark.lab
def test_lab_exec_missing_program_exits_127_like_a_shell(habits, tmp_path):
    proc = netlab("lab", "exec", "--lab", habits.name, "client", "--", "no-such-program-x")
    assert proc.returncode == 127
    assert proc.stderr == "netlab: error: no-such-program-x: command not found\n"
    shell = subprocess.run(["sh", "-c", "no-such-program-x"], capture_output=True)
    assert shell.returncode == proc.returncode  # the peer: what a shell says
    script = tmp_path / "not-executable.sh"
    script.write_text("#!/bin/sh\n")
    proc = netlab("lab", "exec", "--lab", habits.name, "client", "--", str(script))
    shell = subprocess.run(["sh", "-c", shlex.quote(str(script))], capture_output=True)
    assert proc.returncode == shell.returncode == 126, proc.stderr


@pytest.mark.lab
@pytest.mark.parametrize(
    "words",
    [
        ["{lab}", "habitat", "--", "sh", "-c", "echo $NETLAB_LAB $NETLAB_NODE"],
        ["{lab}", "habitat", "sh", "-c", "echo $NETLAB_LAB $NETLAB_NODE"],
        ["--lab", "{lab}", "habitat", "--", "sh", "-c", "echo $NETLAB_LAB $NETLAB_NODE"],
    ],
)
def test_lab_exec_takes_the_lab_name_positionally(habits, words):
    proc = netlab("lab", "exec", *[w.format(lab=habits.name) for w in words])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [habits.name, "habitat"]


@pytest.mark.lab
def test_lab_exec_runs_in_the_named_node(habits):
    addr = habits.addr("habitat")
    proc = netlab("lab", "exec", habits.name, "habitat", "--", "ip", "-o", "-4", "addr")
    assert proc.returncode == 0 and f"inet {addr}/" in proc.stdout, proc.stderr
    bad = netlab("lab", "exec", habits.name, "nosuchnode", "--", "true")
    assert bad.returncode == 2 and "has no node 'nosuchnode'" in bad.stderr


@pytest.mark.lab
def test_the_labs_files_name_the_running_lab_not_the_topology(habits):
    assert habits.name != "habits"  # lab up --name: the fixture's unique name
    folder = Path("/etc/netns") / habits.netns("client")
    for name in ("hosts", "resolv.conf"):
        first = (folder / name).read_text().splitlines()[0]
        assert first.startswith(f"# netlab lab '{habits.name}'"), (name, first)


def test_generated_zone_and_site_name_the_running_lab():
    # DNS zones and the web site's page say the lab's own name too (no root needed).
    from netlab.lab.services import ServiceContext
    from netlab.lab.services.dns import DnsTree
    from netlab.lab.topology import load_topology

    topo = load_topology(ROOT / "labs" / "dns.toml")
    assert f"of netlab lab '{topo.name}'" in DnsTree(topo).zone_text(".")
    tree = DnsTree(topo, "mine")
    assert "of netlab lab 'mine'" in tree.zone_text(".") and "'mine'" in tree.hints_text()
    node = next(iter(topo.nodes.values()))
    ctx = ServiceContext(topo=topo, node=node, spec=None, netns="x", dir=Path("/r/mine/s"),
                         run_dir=Path("/run/netlab/mine"))  # fmt: skip
    assert ctx.lab == "mine"


@pytest.mark.lab
def test_a_lab_node_name_outside_the_lab_gets_the_hint(habits):
    proc = netlab("ping", "-c", "1", "habitat")
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("netlab: error: cannot resolve 'habitat'")
    hint = f": a node of lab '{habits.name}'; run it inside: "
    assert hint in lines[0], lines[0]
    suggested = lines[0].split("run it inside: ", 1)[1]
    assert suggested == f"netlab lab exec {habits.name} client -- netlab ping -c 1 habitat"
    # The suggestion works as printed.
    inside = subprocess.run(shlex.split(suggested), capture_output=True, text=True, env=env(),
                            timeout=60)  # fmt: skip
    assert inside.returncode == 0, inside.stderr
    assert "1 received" in inside.stdout


@pytest.mark.lab
def test_the_hint_covers_other_commands_and_not_names_of_no_lab(habits):
    proc = netlab("http", "http://habitat/")
    assert f"a node of lab '{habits.name}'" in proc.stderr and proc.returncode == 1
    proc = netlab("dns-query", "@habitat", "www.example.lab")
    assert f"a node of lab '{habits.name}'" in proc.stderr
    none = netlab("ping", "-c", "1", "no-such-node-anywhere")
    assert none.returncode == 2 and "a node of lab" not in none.stderr
    # Inside a lab the hint would be wrong (lab names resolve there): not given.
    inside = netlab("lab", "exec", habits.name, "client", "--", "netlab", "ping", "-c", "1",
                    "no-such-node-anywhere")  # fmt: skip
    assert inside.returncode == 2 and "cannot resolve" in inside.stderr
    assert "a node of lab" not in inside.stderr


@pytest.mark.lab
@pytest.mark.parametrize("how", ["NO_COLOR=1", "--no-color"])
def test_arp_in_a_lab_prints_no_escape(habits, how):
    args = ["lab", "exec", habits.name, "client", "--", "netlab", "arp", "-c", "1", "habitat"]
    extra = {"NO_COLOR": "1"} if how == "NO_COLOR=1" else {}
    if how == "--no-color":
        args.append("--no-color")
    out, err, status = run_on_pty(args, env(**extra))
    assert status == 0, err
    assert b"reply" in out.lower() and ESC not in out, out
