"""`tcp`: a plain TCP listener (an echo server) on one or more ports.

    [nodes.server]
    services = [{ type = "tcp", ports = [7, 9000] }]   # default: port 7

Something real to shake hands with for the TCP-handshake issue: connect, send,
read the same bytes back; a closed port elsewhere answers RST.
"""

from __future__ import annotations

import sys
from typing import Any, ClassVar

from netlab.lab.services import Service, ports_option, unknown_options
from netlab.lab.services.probe import tcp_connect
from netlab.lab.topology import Node, ServiceSpec, Topology


class TcpService(Service):
    type = "tcp"
    default_ports: ClassVar[list[int]] = [7]

    @classmethod
    def check(cls, topo: Topology, node: Node, spec: ServiceSpec) -> str | None:
        problem = unknown_options(spec, {"port", "ports"})
        if problem:
            return problem
        ports = ports_option(spec, cls.default_ports)
        return ports if isinstance(ports, str) else None

    def prepare(self) -> list[str]:
        return [sys.executable, "-m", "netlab.lab.services.tcp_echo", *map(str, self.ports)]

    def ready(self) -> bool:
        return all(tcp_connect(self.ctx.netns, "127.0.0.1", port) for port in self.ports)

    def describe(self) -> dict[str, Any]:
        return {"ports": self.ports, "program": "echo"}
