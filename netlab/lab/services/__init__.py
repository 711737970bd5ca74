"""Services: real programs started inside a lab node.

A service is a small class (see `Service`) with four jobs:

- `check(topo, node, spec)`: validate its options from the topology file
  (runs without root, at load time; return a message or None);
- `prepare()`: write its config files into its folder under the run folder
  and return the argv to start (the engine adds `ip netns exec NS`);
- `ready()`: one readiness probe (the engine retries it until `ready_timeout`);
- `describe()`: what `lab status` shows (ports, zone, role).

The engine owns the process: it starts it in its own session with stdout and
stderr going to ``<run>/logs/<node>-<service>.log``, writes the pid and its
start time to the ledger before waiting for readiness, and stops it by pid.

To add a service (nginx TLS, vsftpd …): write a module here with a `Service`
subclass and add one line to `REGISTRY`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from netlab.lab.topology import Node, ServiceSpec, Topology

REGISTRY: dict[str, str] = {
    "dns": "netlab.lab.services.dns:DnsService",
    "tcp": "netlab.lab.services.tcp:TcpService",
    "http": "netlab.lab.services.http:HttpService",
    "tls": "netlab.lab.services.tls:TlsService",
    "rtmp": "netlab.lab.services.rtmp:RtmpService",
    "publish": "netlab.lab.services.publish:PublishService",
    "dht-swarm": "netlab.lab.services.dht:DhtSwarmService",
    "tracker": "netlab.lab.services.tracker:TrackerService",
    "seeder": "netlab.lab.services.seeder:SeederService",
    "ftp": "netlab.lab.services.ftp:FtpService",
    "quic": "netlab.lab.services.quic:QuicService",
}


@dataclass
class ServiceContext:
    topo: Topology
    node: Node
    spec: ServiceSpec
    netns: str  # the node's namespace
    dir: Path  # this service's own folder: configs, pid files, state
    run_dir: Path  # the lab's run folder (hosts file, ledger)

    @property
    def label(self) -> str:
        return f"{self.node.name}-{self.spec.label.replace(':', '-')}"

    @property
    def lab(self) -> str:
        """The running lab's name (`lab up --name`), which names its run folder; the
        topology's own `name` is only the default. Generated files say this one."""
        return self.run_dir.name


class Service:
    type: ClassVar[str] = ""
    ready_timeout: ClassVar[float] = 5.0
    start_order: ClassVar[int] = 50  # lower starts (and is awaited) first

    default_ports: ClassVar[list[int]] = []  # `port`/`ports` when the file names none

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    @classmethod
    def check(cls, topo: Topology, node: Node, spec: ServiceSpec) -> str | None:
        return None

    @classmethod
    def listens(cls, spec: ServiceSpec) -> list[tuple[str, int]]:
        """(transport, port) pairs the service binds: two services of one node must not
        share one (the second would die at start while the lab says it is up)."""
        ports = ports_option(spec, cls.default_ports) if cls.default_ports else []
        return [("tcp", port) for port in ports] if isinstance(ports, list) else []

    @property
    def ports(self) -> list[int]:
        ports = ports_option(self.ctx.spec, self.default_ports)
        assert isinstance(ports, list)
        return ports

    def order(self) -> int:
        return self.start_order

    def prepare(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return dict(self.ctx.spec.options)


def service_class(type_name: str) -> type[Service] | None:
    target = REGISTRY.get(type_name)
    if target is None:
        return None
    module_name, attr = target.split(":")
    return getattr(importlib.import_module(module_name), attr)


def check_service(topo: Topology, node: Node, spec: ServiceSpec) -> str | None:
    """Validation hook used by the topology loader."""
    cls = service_class(spec.type)
    if cls is None:
        return f"unknown service type (known: {', '.join(sorted(REGISTRY))})"
    return cls.check(topo, node, spec)


def ports_option(spec: ServiceSpec, default: list[int]) -> list[int] | str:
    """`port = 80` or `ports = [7, 9000]`; returns the list or an error message."""
    raw = spec.options.get("ports", spec.options.get("port", default))
    ports = raw if isinstance(raw, list) else [raw]
    if not ports or not all(isinstance(p, int) and not isinstance(p, bool) for p in ports):
        return f"ports must be integers, not {raw!r}"
    if not all(1 <= p <= 65535 for p in ports):
        return f"ports must be within 1–65535, not {raw!r}"
    return ports


def port_problem(port: Any) -> str | None:
    """A service's `port` option that is not a port number, as the line to show; else None."""
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        return f"port must be an integer within 1–65535, not {port!r}"
    return None


def unknown_options(spec: ServiceSpec, allowed: set[str]) -> str | None:
    extra = sorted(set(spec.options) - allowed)
    if extra:
        return f"unknown option '{extra[0]}' (known: {', '.join(sorted(allowed)) or 'none'})"
    return None


def options_problem(spec: ServiceSpec, allowed: set[str], port: Any) -> str | None:
    """What a one-port service checks first: an option it does not know, then a `port`
    that is no port number. The first problem as the line to show, else None."""
    return unknown_options(spec, allowed) or port_problem(port)
