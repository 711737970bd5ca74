"""pytest fixtures on the lab engine: real namespaces, real servers, always cleaned up.

    def test_trace(lab):
        routed = lab("routed")                      # a bundled lab, or a path to a .toml
        out = routed.exec("client", "traceroute", "-n", "server")
        assert routed.addr("r1") in out.stdout      # first IPv4 address of r1
        assert out.returncode == 0

- `lab(name_or_path, tools=("dig",))` brings the lab up under a name unique to
  this test run and returns a `LabHandle`; it skips (a failure under CI=true)
  when not root or when a program the lab or the test needs is missing.
- Every test using the fixture is marked `lab` automatically.
- The lab is taken down when the test ends, pass or fail. The test process owns
  the lab (its ledger records this pid), so if the run is killed outright,
  `netlab lab down --stale` finds and removes what is left.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import require_root, require_tool


@dataclass
class LabHandle:
    name: str
    book: Any  # netlab.lab.ledger.Ledger

    @property
    def info(self) -> dict[str, Any]:
        return self.book.info

    @property
    def nodes(self) -> list[str]:
        return list(self.info["nodes"])

    def netns(self, node: str) -> str:
        return self.info["nodes"][node]["netns"]

    def addresses(self, node: str) -> list[str]:
        """All addresses of a node, without prefix length, in interface order."""
        return [
            a.split("/")[0]
            for iface in self.info["nodes"][node]["interfaces"]
            for a in iface["addresses"]
        ]

    def addr(self, node: str, version: int = 4) -> str:
        """The node's first address of that IP version (the one its name resolves to)."""
        for address in self.addresses(node):
            if (":" in address) == (version == 6):
                return address
        raise KeyError(f"{node} has no IPv{version} address")

    def exec(
        self,
        node: str,
        *command: str,
        timeout: float = 30.0,
        check: bool = False,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the node (like `netlab lab exec`); text output captured."""
        from netlab.lab import engine

        argv = engine.exec_argv(self.book, node, list(command))
        return subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, check=check, input=input
        )

    def socket(
        self, node: str, family: int = socket.AF_INET, type_: int = socket.SOCK_STREAM
    ) -> socket.socket:
        """A socket living in the node's namespace, for tests that talk from Python."""
        from netlab.lab import netns

        return netns.socket_in(self.netns(node), family, type_)

    def status(self) -> dict[str, Any]:
        from netlab.lab import engine

        return engine.status(self.book)

    def down(self) -> None:
        from netlab.lab import engine

        if self.book.run_dir.exists():
            engine.teardown(self.book)


# Programs each kind of service needs (beyond `ip`, always needed).
SERVICE_TOOLS = {
    "dns": ("named",),
    "http": ("nginx",),
    "tls": ("openssl",),
    "rtmp": ("nginx",),  # and its RTMP module: tests/test_lab_stream.py checks the file
    "publish": ("ffmpeg",),
    "dht-swarm": ("/usr/bin/python3",),  # and python3-libtorrent: tests/test_lab_p2p.py checks
    "tracker": ("opentracker",),
    "seeder": ("/usr/bin/python3",),
    "ftp": ("vsftpd", "openssl"),
    "quic": ("gtlsserver",),
}


def require_lab_tools(topo: Any, extra: tuple[str, ...] = ()) -> None:
    require_root()
    tools = {"ip", "tc", *extra}
    for node in topo.nodes.values():
        for spec in node.services:
            if spec.type == "http" and spec.options.get("server") == "python":
                continue
            tools.update(SERVICE_TOOLS.get(spec.type, ()))
    if any(link.impair for link in topo.links):
        tools.add("nft")
    for tool in sorted(tools):
        if tool == "named":
            if not os.path.exists("/usr/sbin/named") and shutil.which("named") is None:
                pytest.skip("needs 'named' (bind9, installed by `make test`)")
        else:
            require_tool(tool)


def unique_name(base: str) -> str:
    return f"t{os.getpid() % 100000}-{base}"[:20].rstrip("-")


def start_lab(spec: str, *, name: str | None = None, tools: tuple[str, ...] = ()) -> LabHandle:
    """Bring up a bundled lab (or a topology file) under a name of this test run's own,
    after checking its tools and TOOLS are there (a skip, which CI=true fails)."""
    from netlab.lab import engine
    from netlab.lab.topology import load_topology

    path = engine.resolve_file(spec)
    topo = load_topology(path)
    require_lab_tools(topo, tools)
    lab_name = name or unique_name(topo.name)
    book = engine.up(topo, name=lab_name, hold=True, source_text=path.read_text())
    return LabHandle(name=lab_name, book=book)


@contextlib.contextmanager
def module_lab(spec: str, base: str, tools: tuple[str, ...] = ()) -> Iterator[LabHandle]:
    """A lab for a whole test module: `with module_lab("dns", "dig") as handle: yield
    handle` in a module-scoped fixture; down at the end, whatever happened."""
    handle = start_lab(spec, name=unique_name(base), tools=tools)
    try:
        yield handle
    finally:
        handle.down()


@pytest.fixture
def lab() -> Iterator[Callable[..., LabHandle]]:
    handles: list[LabHandle] = []

    def start(spec: str, *, name: str | None = None, tools: tuple[str, ...] = ()) -> LabHandle:
        handles.append(start_lab(spec, name=name, tools=tools))
        return handles[-1]

    yield start
    for handle in reversed(handles):
        handle.down()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A test that brings up a lab needs root and the Debian peers: mark it, so that
    # `-m "not lab"` leaves it out and CI treats its skips as failures.
    for item in items:
        if "lab" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.lab)


def warm_neighbours(handle, node: str = "client", peer: str = "server", tries: int = 20) -> None:
    """Resolve NODE's and PEER's MAC addresses before measuring loss on a lossy link.

    The emulated link also loses ARP: a lost first exchange delays the first probes
    by the kernel's 1 s ARP retry and drops the ones queued behind it, which adds a
    burst of loss that is not the link's steady rate."""
    for _ in range(tries):
        if handle.exec(node, "ping", "-4", "-c", "1", "-W", "1", peer).returncode == 0:
            return
    raise AssertionError(f"{node} never reached {peer}")
