"""`tracker`: a BitTorrent tracker, Debian's opentracker, HTTP and UDP (BEP 15) on one port.

    [nodes.tracker]
    services = [{ type = "tracker" }]                  # http://tracker:6969/announce
    services = [{ type = "tracker", port = 6969, info_hashes = ["<40 hex>", …] }]

Options:

- ``port`` (6969): the HTTP tracker (TCP) and the UDP tracker, on every IPv4
  address of the node (Debian builds opentracker for IPv4 only);
- ``info_hashes``: info-hashes (hex) the tracker accepts besides the lab's own.

Debian's opentracker is built with a whitelist (README.Debian): it answers only for
the info-hashes listed in ``whitelist.txt``; any other gets "Requested download is
not authorized for use with this tracker". `up` lists the torrent of every `seeder`
of the lab that announces here, every `dht-swarm`'s announced info-hash and
``info_hashes``. To accept another later: append its hex to the file and send the
tracker SIGHUP (``kill -HUP PID``, the pid from ``lab status``): it reloads the list.

opentracker runs in the foreground (its own default), chrooted to the service folder
(``-d``) as user nobody; its messages go to the service log. Its statistics
(``/stats``, ``/stats?mode=peer|conn|scrp|udp4|tcp4|torr|fscr|top10|version…``,
MRTG-style text) are served to 127.0.0.1 and to the first address of each node of
the lab (``access.stats``).

Ready: ``GET /stats`` from inside the node answers "opentracker serving N torrents".
Start order 40: before the seeders that announce to it.
"""

from __future__ import annotations

import shutil
from typing import Any

from netlab.errors import NetlabError
from netlab.lab.services import Service, options_problem
from netlab.lab.services.rtmp import http_get
from netlab.lab.topology import Node, ServiceSpec, Topology

OPTIONS = {"port", "info_hashes"}
DEFAULT_PORT = 6969
STATS_PATH = "/stats"
MAX_STATS_IPS = 60  # opentracker keeps at most 64 blessed addresses
HEX = set("0123456789abcdef")


def tracker_port(spec: ServiceSpec) -> int:
    return spec.options.get("port", DEFAULT_PORT)


def is_info_hash(text: Any) -> bool:
    return isinstance(text, str) and len(text) == 40 and set(text.lower()) <= HEX


def tracker_spec(node: Node) -> ServiceSpec | None:
    return next((s for s in node.services if s.type == "tracker"), None)


def announce_url(node: str, spec: ServiceSpec) -> str:
    return f"http://{node}:{tracker_port(spec)}/announce"


class TrackerService(Service):
    type = "tracker"
    start_order = 40  # before the seeders that announce to it

    @classmethod
    def check(cls, topo: Topology, node: Node, spec: ServiceSpec) -> str | None:
        if problem := options_problem(spec, OPTIONS, tracker_port(spec)):
            return problem
        hashes = spec.options.get("info_hashes", [])
        if not isinstance(hashes, list) or not all(is_info_hash(h) for h in hashes):
            return f"info_hashes must be a list of 40-digit hex info-hashes, not {hashes!r}"
        return None

    @classmethod
    def listens(cls, spec: ServiceSpec) -> list[tuple[str, int]]:
        port = tracker_port(spec)
        return [("tcp", port), ("udp", port)] if isinstance(port, int) else []

    @property
    def port(self) -> int:
        return tracker_port(self.ctx.spec)

    def info_hashes(self) -> list[str]:
        """What the whitelist holds: the lab's seeders announcing here, the swarms'
        announced info-hashes, then `info_hashes`."""
        from netlab.lab.services.dht import swarm_options
        from netlab.lab.services.seeder import SeederService

        out: list[str] = []
        for node in self.ctx.topo.nodes.values():
            for spec in node.services:
                if spec.type == "seeder" and SeederService.tracker_of(self.ctx.topo, spec) == (
                    self.ctx.node.name
                ):
                    out.append(SeederService.torrent_of(spec)[1])
                elif spec.type == "dht-swarm":
                    out.append(swarm_options(spec)["announce"])
        out += [h.lower() for h in self.ctx.spec.options.get("info_hashes", [])]
        return list(dict.fromkeys(out))

    def stats_ips(self) -> list[str]:
        ips = ["127.0.0.1"]
        topo = self.ctx.topo
        ips += [str(iface.ip) for iface in topo.addresses_of(self.ctx.node.name)
                if iface.version == 4]  # fmt: skip
        for name in topo.nodes:
            address = topo.address(name, 4)
            if address is not None:
                ips.append(str(address))
        return list(dict.fromkeys(ips))[:MAX_STATS_IPS]

    def config(self) -> str:
        lines = ["# written by netlab: the lab's tracker", "access.whitelist whitelist.txt"]
        lines += [f"access.stats {ip}" for ip in self.stats_ips()]
        return "\n".join(lines) + "\n"

    def prepare(self) -> list[str]:
        if shutil.which("opentracker") is None:
            raise NetlabError("tracker service: opentracker is not installed (apt-get install "
                              "opentracker)")  # fmt: skip
        d = self.ctx.dir
        (d / "whitelist.txt").write_text("".join(f"{h}\n" for h in self.info_hashes()))
        (d / "opentracker.conf").write_text(self.config())
        port = str(self.port)
        # -f first: the command line's -p/-P then add to what the file says (nothing).
        return ["opentracker", "-f", str(d / "opentracker.conf"), "-p", port, "-P", port,
                "-d", str(d), "-u", "nobody"]  # fmt: skip

    def ready(self) -> bool:
        body = http_get(self.ctx.netns, "127.0.0.1", self.port, STATS_PATH)
        return body is not None and b"opentracker serving" in body

    def describe(self) -> dict[str, Any]:
        node, port = self.ctx.node.name, self.port
        return {
            "program": "opentracker",
            "ports": [port],
            "port": port,
            "announce_url": announce_url(node, self.ctx.spec),
            "udp_url": f"udp://{node}:{port}/announce",
            "scrape_url": f"http://{node}:{port}/scrape",
            "stats_url": f"http://{node}:{port}{STATS_PATH}",
            "whitelist": str(self.ctx.dir / "whitelist.txt"),
            "info_hashes": self.info_hashes(),
        }
