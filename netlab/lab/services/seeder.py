"""`seeder`: a libtorrent peer seeding one file, announced to the lab's tracker.

    [nodes.seeder]
    services = [{ type = "seeder" }]                    # the lab's tracker, 1 MiB
    services = [{ type = "seeder", tracker = "tracker", size = 4194304, port = 6881,
                  name = "big.bin", piece_length = 65536 }]

Options:

- ``tracker``: the node whose `tracker` service it announces to (default: the lab's
  only tracker node);
- ``port`` (6881): the peer's listen port (BitTorrent over TCP and uTP), on the
  node's first IPv4 address;
- ``name`` ("netlab-p2p.bin"): the file's name, in the torrent and on disk;
- ``size`` (1048576): its length, 1 KiB–64 MiB, pseudo-random bytes fixed by the
  name (`torrent.payload`): the same file and info-hash on every machine;
- ``piece_length`` (16384): a power of two from 16 KiB to 4 MiB.

`up` writes the file (``data/NAME``) and a v1 .torrent for it (``NAME.torrent``,
announce ``http://TRACKER:PORT/announce``) into the service folder, then runs
Debian's /usr/bin/python3 with python3-libtorrent (`bt_seeder.py`): one session,
the torrent in seed mode, no DHT, LSD, UPnP or NAT-PMP. It writes ``state.json``
(tracker status, peers, bytes uploaded) every second.

Ready: the peer accepts a TCP connection, and the tracker's scrape counts the
seeder as a seed ("complete" ≥ 1).
`lab status --json` shows ``torrent``, ``info_hash``, ``magnet``, ``file``,
``sha256``, ``size``, ``announce``, ``peer`` ("ip:port").
"""

from __future__ import annotations

import glob
import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from netlab.errors import NetlabError
from netlab.lab import plan
from netlab.lab.services import Service, options_problem
from netlab.lab.services import torrent as bt
from netlab.lab.services.probe import tcp_connect
from netlab.lab.services.rtmp import http_get
from netlab.lab.services.tracker import announce_url, tracker_port, tracker_spec
from netlab.lab.topology import Node, ServiceSpec, Topology

PYTHON = "/usr/bin/python3"  # python3-libtorrent is built for Debian's python, not the venv
LIBTORRENT_GLOB = "/usr/lib/python3/dist-packages/libtorrent*.so"
SCRIPT = Path(__file__).with_name("bt_seeder.py")
OPTIONS = {"tracker", "port", "name", "size", "piece_length"}
DEFAULTS: dict[str, Any] = {
    "port": 6881,
    "name": "netlab-p2p.bin",
    "size": 1 << 20,
    "piece_length": 1 << 14,
}
SIZE_RANGE = (1 << 10, 64 << 20)
PIECE_RANGE = (1 << 14, 4 << 20)


def seeder_options(spec: ServiceSpec) -> dict[str, Any]:
    return {**DEFAULTS, **spec.options}


def require_libtorrent(what: str) -> None:
    if not Path(PYTHON).exists() or not glob.glob(LIBTORRENT_GLOB):
        raise NetlabError(
            f"{what}: Debian's python3-libtorrent is not installed for {PYTHON} "
            "(apt-get install python3-libtorrent)"
        )


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@cache
def _torrent(name: str, size: int, piece_length: int, announce: str) -> tuple[bytes, str, str]:
    data = bt.payload(name, size)
    meta, info_hash = bt.make_torrent(name, data, piece_length, announce)
    return meta, info_hash, hashlib.sha256(data).hexdigest()


class SeederService(Service):
    type = "seeder"
    ready_timeout = 10.0

    @classmethod
    def check(cls, topo: Topology, node: Node, spec: ServiceSpec) -> str | None:
        o = seeder_options(spec)
        if problem := options_problem(spec, OPTIONS, o["port"]):
            return problem
        name = o["name"]
        if (
            not isinstance(name, str)
            or not name
            or name.startswith(".")
            or "/" in name
            or len(name) > 100
        ):
            return f"name must be a file name (no '/', not hidden), not {name!r}"
        if not _int(o["size"]) or not SIZE_RANGE[0] <= o["size"] <= SIZE_RANGE[1]:
            return f"size must be a number of bytes within 1 KiB–64 MiB, not {o['size']!r}"
        pl = o["piece_length"]
        if not _int(pl) or not PIECE_RANGE[0] <= pl <= PIECE_RANGE[1] or pl & (pl - 1):
            return f"piece_length must be a power of two from 16384 to 4194304, not {pl!r}"
        trackers = [n for n, nd in topo.nodes.items() if tracker_spec(nd) is not None]
        if "tracker" in spec.options:
            target = spec.options["tracker"]
            if not isinstance(target, str) or target not in topo.nodes:
                return f"tracker: {target!r} is not a node of this lab"
            if target not in trackers:
                return f"tracker: node '{target}' has no tracker service"
        elif len(trackers) != 1:
            found = ", ".join(trackers) or "none"
            return f'needs tracker = "NODE": the lab has {len(trackers)} tracker nodes ({found})'
        return None

    @classmethod
    def listens(cls, spec: ServiceSpec) -> list[tuple[str, int]]:
        port = seeder_options(spec)["port"]
        return [("tcp", port), ("udp", port)] if _int(port) else []

    @classmethod
    def tracker_of(cls, topo: Topology, spec: ServiceSpec) -> str:
        if "tracker" in spec.options:
            return spec.options["tracker"]
        return next(n for n, nd in topo.nodes.items() if tracker_spec(nd) is not None)

    @classmethod
    def announce_of(cls, topo: Topology, spec: ServiceSpec) -> str:
        node = cls.tracker_of(topo, spec)
        tspec = tracker_spec(topo.nodes[node])
        assert tspec is not None  # checked at load time
        return announce_url(node, tspec)

    @classmethod
    def torrent_of(cls, spec: ServiceSpec, topo: Topology | None = None) -> tuple[bytes, str, str]:
        """(.torrent bytes, info-hash hex, SHA-256 of the file). The tracker's URL is
        in the .torrent but not in the info dictionary: the info-hash needs no topo."""
        o = seeder_options(spec)
        announce = cls.announce_of(topo, spec) if topo is not None else ""
        return _torrent(o["name"], o["size"], o["piece_length"], announce)

    # -- derived values --

    @property
    def opts(self) -> dict[str, Any]:
        return seeder_options(self.ctx.spec)

    @property
    def address(self) -> str:
        address = self.ctx.topo.address(self.ctx.node.name, 4)
        if address is None:
            raise NetlabError(f"seeder on '{self.ctx.node.name}': the node has no IPv4 address")
        return str(address)

    @property
    def torrent_path(self) -> Path:
        return self.ctx.dir / f"{self.opts['name']}.torrent"

    @property
    def file_path(self) -> Path:
        return self.ctx.dir / "data" / self.opts["name"]

    # -- the service's jobs --

    def prepare(self) -> list[str]:
        require_libtorrent("seeder service")
        o = self.opts
        meta, info_hash, _ = self.torrent_of(self.ctx.spec, self.ctx.topo)
        self.file_path.parent.mkdir(parents=True, exist_ok=True)
        self.file_path.write_bytes(bt.payload(o["name"], o["size"]))
        self.torrent_path.write_bytes(meta)
        config = {
            "torrent": str(self.torrent_path),
            "save_path": str(self.file_path.parent),
            "listen": [self.address, o["port"]],
            "info_hash": info_hash,
            "state": str(self.ctx.dir / "state.json"),
        }
        (self.ctx.dir / "seeder.json").write_text(json.dumps(config, indent=1) + "\n")
        return [PYTHON, "-W", "ignore::DeprecationWarning", str(SCRIPT),
                str(self.ctx.dir / "seeder.json")]  # fmt: skip

    def ready(self) -> bool:
        if not tcp_connect(self.ctx.netns, self.address, self.opts["port"]):
            return False
        topo = self.ctx.topo
        tracker = self.tracker_of(topo, self.ctx.spec)
        tspec = tracker_spec(topo.nodes[tracker])
        assert tspec is not None
        info_hash = self.torrent_of(self.ctx.spec)[1]
        ns = plan.netns_name(self.ctx.run_dir.name, tracker)
        body = http_get(ns, "127.0.0.1", tracker_port(tspec), bt.scrape_path(info_hash))
        counts = bt.scrape_counts(body, info_hash) if body is not None else None
        return counts is not None and counts.get("complete", 0) >= 1

    def describe(self) -> dict[str, Any]:
        o = self.opts
        announce = self.announce_of(self.ctx.topo, self.ctx.spec)
        _, info_hash, sha256 = self.torrent_of(self.ctx.spec, self.ctx.topo)
        return {
            "program": "libtorrent",
            "ports": [o["port"]],
            "peer": f"{self.address}:{o['port']}",
            "torrent": str(self.torrent_path),
            "info_hash": info_hash,
            "magnet": bt.magnet(info_hash, o["name"], announce),
            "file": str(self.file_path),
            "name": o["name"],
            "size": o["size"],
            "piece_length": o["piece_length"],
            "sha256": sha256,
            "announce": announce,
            "tracker": self.tracker_of(self.ctx.topo, self.ctx.spec),
            "state": str(self.ctx.dir / "state.json"),
        }
