"""`rtmp`: a live-streaming server, nginx with Debian's RTMP module (libnginx-mod-rtmp).

    [nodes.centre]
    services = [{ type = "rtmp" }]                              # rtmp :1935, stats :8081
    [nodes.edge]
    services = [{ type = "rtmp", pull = "rtmp://centre/live", pull_streams = ["test"] }]

Options:

- ``port`` (1935): the RTMP listener (IPv4 and IPv6);
- ``stat_port`` (8081): an HTTP server whose ``/stat`` is nginx-rtmp's ``rtmp_stat
  all`` XML: every application, its streams, their publisher and players, codecs,
  byte counters (`parse_stat` turns it into plain data);
- ``application`` ("live"): the one application, ``live on; record off``;
- ``chunk_size`` (4096): the chunk size nginx announces (Set Chunk Size) and sends with;
- ``pull``: makes the server an edge of another node's application: ``"centre"``
  (that node's rtmp service and application) or ``"rtmp://centre[:PORT]/APP"``.
  A player asking the edge for a stream it does not carry makes the edge pull it
  from the centre by the same name (on demand: dropped when its last player leaves);
- ``pull_streams``: names the edge pulls at start and keeps pulling (nginx's
  ``static`` pull), so they stand ready before any player comes, and show on the
  edge's stat page all the time.

Node names resolve inside the lab through the hosts file `ip netns exec` mounts
over /etc/hosts, for nginx as for any program: ``pull rtmp://centre:1935/live``.

nginx runs in the foreground (``daemon off``, one worker: live streams are shared
within a worker) with config, pid file and temp folders under the service folder;
its error log goes to stderr (the service log), the RTMP access log (one line per
session: address, command, application, stream, bytes in and out) to
``logs/<node>-rtmp.access.log``, the stat server's requests to
``logs/<node>-rtmp.stat.log``.

Ready: a TCP connection to the RTMP port and the stat page answered from inside the
node; an edge with `pull_streams` also waits until each of them is live on it (its
video's codec known). Start order: a server before the `publish` services that feed
it (`netlab.lab.services.publish`), an edge after the publishers of the node it
pulls from, an edge of an edge after that edge.
"""

from __future__ import annotations

import re
import socket
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from netlab.errors import NetlabError
from netlab.lab import netns
from netlab.lab.services import Service, unknown_options
from netlab.lab.services.http import nginx_argv, nginx_main, nginx_temp_paths
from netlab.lab.services.probe import TIMEOUT, tcp_connect
from netlab.lab.topology import Node, ServiceSpec, Topology

MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")  # Debian's libnginx-mod-rtmp
OPTIONS = {"port", "stat_port", "application", "chunk_size", "pull", "pull_streams"}
DEFAULTS: dict[str, Any] = {
    "port": 1935,
    "stat_port": 8081,
    "application": "live",
    "chunk_size": 4096,
}
STAT_PATH = "/stat"
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")  # application and stream names
CHUNK_SIZE_RANGE = (128, 65536)
PULL_RECONNECT_MS = 500  # nginx-rtmp waits 3 s by default before pulling again
STAT_MAX_BYTES = 1 << 20
COUNTERS = ("bytes_in", "bytes_out", "bw_in", "bw_out", "bw_audio", "bw_video")  # per stream


# ---------------------------------------------------------------------------
# Options (shared with `publish`, which finds its server the same way)


def options(spec: ServiceSpec) -> dict[str, Any]:
    return {**DEFAULTS, **spec.options}


def rtmp_spec(node: Node) -> ServiceSpec | None:
    return next((s for s in node.services if s.type == "rtmp"), None)


def node_of_host(topo: Topology, host: str) -> str | None:
    """The lab node a URL's host names: a node name, or one of its addresses."""
    if host in topo.nodes:
        return host
    for name in topo.nodes:
        if any(str(iface.ip) == host for iface in topo.addresses_of(name)):
            return name
    return None


def resolve_target(topo: Topology, text: Any, what: str) -> tuple[str, ServiceSpec] | str:
    """`what` = "NODE" or "rtmp://NODE[:PORT]/APP": (node, its rtmp spec), or an error.

    The node must be one of the lab's with an rtmp service; a port or application
    in the URL must be that service's."""
    if not isinstance(text, str) or not text:
        return f"{what} must be a node name or rtmp://NODE[:PORT]/APP, not {text!r}"
    port = app = None
    if "://" in text:
        url = urlsplit(text)
        try:
            port = url.port
        except ValueError:
            return f"{what}: bad port in {text!r}"
        parts = [p for p in url.path.split("/") if p]
        if url.scheme != "rtmp" or not url.hostname or len(parts) != 1 or url.query:
            return f"{what} must look like rtmp://NODE[:PORT]/APP, not {text!r}"
        host, app = url.hostname, parts[0]
    else:
        host = text
    node = node_of_host(topo, host)
    if node is None:
        return f"{what}: '{host}' is not a node of this lab"
    spec = rtmp_spec(topo.nodes[node])
    if spec is None:
        return f"{what}: node '{node}' has no rtmp service"
    opts = options(spec)
    if port is not None and port != opts["port"]:
        return f"{what}: node '{node}' serves RTMP on port {opts['port']}, not {port}"
    if app is not None and app != opts["application"]:
        return f"{what}: node '{node}' serves application '{opts['application']}', not '{app}'"
    return node, spec


def _int_option(opts: dict[str, Any], key: str, low: int, high: int) -> str | None:
    value = opts[key]
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        return f"{key} must be an integer within {low}–{high}, not {value!r}"
    return None


def pull_depth(topo: Topology, node: str, seen: tuple[str, ...] = ()) -> int | str:
    """0 for a server that pulls from no one, 1 for an edge of it, 2 for an edge of that
    edge …; an error message for a pull loop."""
    if node in seen:
        return f"pull loop: {' → '.join((*seen, node))}"
    spec = rtmp_spec(topo.nodes[node])
    if spec is None or "pull" not in spec.options:
        return 0
    target = resolve_target(topo, spec.options["pull"], "pull")
    if isinstance(target, str):
        return target
    below = pull_depth(topo, target[0], (*seen, node))
    return below if isinstance(below, str) else below + 1


def order_of(topo: Topology, node: str) -> int:
    """Start order of the rtmp service of `node`: 40, then 20 more per pull hop (a
    publisher into it starts at this + 10)."""
    depth = pull_depth(topo, node)
    return 40 + 20 * (depth if isinstance(depth, int) else 0)


# ---------------------------------------------------------------------------
# The stat page: fetched over HTTP from inside a namespace, parsed to plain data


def http_get(ns: str, addr: str, port: int, path: str, timeout: float = 1.0) -> bytes | None:
    """The body of a 200 answer to `GET path` (HTTP/1.0, read to the end), else None.
    Bounded: `timeout` in all, STAT_MAX_BYTES at most."""
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    deadline = time.monotonic() + timeout
    sock = netns.socket_in(ns, family, socket.SOCK_STREAM)
    data = b""
    with sock:
        try:
            sock.settimeout(TIMEOUT)
            sock.connect((addr, port))
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: probe\r\n\r\n".encode())
            while len(data) <= STAT_MAX_BYTES:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                sock.settimeout(min(left, 1.0))
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            else:
                return None
        except OSError:
            return None
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep or not head.startswith(b"HTTP/") or head.split(b" ", 2)[1:2] != [b"200"]:
        return None
    return body


def _text(el: ET.Element | None, tag: str) -> str | None:
    found = el.find(tag) if el is not None else None
    return found.text if found is not None and found.text is not None else None


def _num(el: ET.Element | None, tag: str) -> int | float | str | None:
    text = _text(el, tag)
    if text is None:
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_stat(xml: bytes | str) -> dict[str, Any]:
    """nginx-rtmp's ``rtmp_stat all`` XML as plain data:

        {"applications": {"live": {"test": {"publishing": True, "active": True,
            "nclients": 2, "bytes_in": …, "bytes_out": …, "bw_in": …, "bw_video": …,
            "video": {"codec": "H264", "profile": "Baseline", "width": 320, "height": 240,
                      "frame_rate": 25, …} | None,
            "audio": {"codec": "AAC", "sample_rate": 44100, "channels": 1, …} | None,
            "clients": [{"id": 3, "address": "198.18.35.10", "publishing": True,
                         "active": True, "flashver": "FMLE/3.0 …", "time": …}, …]}}},
         "naccepted": …, "uptime": …}

    Raises ValueError on text that is not that XML."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise ValueError(f"not nginx-rtmp stat XML: {exc}") from None
    if root.tag != "rtmp":
        raise ValueError(f"not nginx-rtmp stat XML: root element <{root.tag}>")
    apps: dict[str, dict[str, Any]] = {}
    for app in root.iter("application"):
        name = _text(app, "name") or ""
        streams = apps.setdefault(name, {})
        for stream in app.iterfind("live/stream"):
            meta = stream.find("meta")
            media = {}
            for kind in ("video", "audio"):
                el = meta.find(kind) if meta is not None else None
                media[kind] = {c.tag: _num(el, c.tag) for c in el} if el is not None else None
            clients = [
                {
                    "id": _num(c, "id"),
                    "address": _text(c, "address"),
                    "flashver": _text(c, "flashver"),
                    "time": _num(c, "time"),
                    "dropped": _num(c, "dropped"),
                    "publishing": c.find("publishing") is not None,
                    "active": c.find("active") is not None,
                }
                for c in stream.iterfind("client")
            ]
            streams[_text(stream, "name") or ""] = {
                "publishing": stream.find("publishing") is not None,
                "active": stream.find("active") is not None,
                "nclients": _num(stream, "nclients"),
                "time": _num(stream, "time"),
                **{k: _num(stream, k) for k in COUNTERS},
                **media,
                "clients": clients,
            }
    return {
        "applications": apps,
        "naccepted": _num(root, "naccepted"),
        "uptime": _num(root, "uptime"),
    }


def stream_live(stat: dict[str, Any], application: str, stream: str) -> bool:
    """The stream has a publisher whose video codec nginx knows (its AVC sequence
    header came): a player asking for it now gets codec headers and frames."""
    info = stat["applications"].get(application, {}).get(stream)
    return bool(info and info["publishing"] and info["video"] and info["video"].get("codec"))


def fetch_stat(ns: str, port: int, addr: str = "127.0.0.1") -> dict[str, Any] | None:
    body = http_get(ns, addr, port, STAT_PATH)
    if body is None:
        return None
    try:
        return parse_stat(body)
    except ValueError:
        return None


# ---------------------------------------------------------------------------
# The service


class RtmpService(Service):
    type = "rtmp"
    ready_timeout = 10.0

    @classmethod
    def check(cls, topo: Topology, node: Node, spec: ServiceSpec) -> str | None:
        problem = unknown_options(spec, OPTIONS)
        if problem:
            return problem
        opts = options(spec)
        for key in ("port", "stat_port"):
            problem = _int_option(opts, key, 1, 65535)
            if problem:
                return problem
        if opts["port"] == opts["stat_port"]:
            return f"port and stat_port are both {opts['port']}: give each its own"
        problem = _int_option(opts, "chunk_size", *CHUNK_SIZE_RANGE)
        if problem:
            return problem
        if not isinstance(opts["application"], str) or not NAME_RE.match(opts["application"]):
            return f"application must be a name ({NAME_RE.pattern}), not {opts['application']!r}"
        if "pull_streams" in spec.options:
            names = spec.options["pull_streams"]
            if "pull" not in spec.options:
                return "pull_streams needs pull (the server to pull them from)"
            if (
                not isinstance(names, list)
                or not names
                or not all(isinstance(n, str) and NAME_RE.match(n) for n in names)
            ):
                return f"pull_streams must be a list of stream names, not {names!r}"
            if len(set(names)) != len(names):
                return f"pull_streams names a stream twice: {names}"
        if "pull" in spec.options:
            target = resolve_target(topo, spec.options["pull"], "pull")
            if isinstance(target, str):
                return target
            if target[0] == node.name:
                return "pull: a server cannot pull from itself"
            if options(target[1])["application"] != opts["application"]:
                return (
                    f"pull: node '{target[0]}' serves application "
                    f"'{options(target[1])['application']}', this server '{opts['application']}'"
                    " (a relay keeps the application's name)"
                )
            depth = pull_depth(topo, node.name)
            if isinstance(depth, str):
                return depth
        return None

    @classmethod
    def listens(cls, spec: ServiceSpec) -> list[tuple[str, int]]:
        opts = options(spec)
        ports = (opts["port"], opts["stat_port"])
        return [("tcp", port) for port in ports if isinstance(port, int)]

    # -- derived values --

    @property
    def opts(self) -> dict[str, Any]:
        return options(self.ctx.spec)

    @property
    def ports(self) -> list[int]:
        return [self.opts["port"]]

    @property
    def pull_target(self) -> tuple[str, ServiceSpec] | None:
        if "pull" not in self.ctx.spec.options:
            return None
        target = resolve_target(self.ctx.topo, self.ctx.spec.options["pull"], "pull")
        assert not isinstance(target, str)  # checked at load time
        return target

    @property
    def pull_url(self) -> str | None:
        target = self.pull_target
        if target is None:
            return None
        node, spec = target
        return f"rtmp://{node}:{options(spec)['port']}/{options(spec)['application']}"

    @property
    def access_log(self) -> Path:
        return self.ctx.run_dir / "logs" / f"{self.ctx.label}.access.log"

    @property
    def stat_log(self) -> Path:
        return self.ctx.run_dir / "logs" / f"{self.ctx.label}.stat.log"

    def url(self) -> str:
        port = self.opts["port"]
        where = self.ctx.node.name if port == 1935 else f"{self.ctx.node.name}:{port}"
        return f"rtmp://{where}/{self.opts['application']}"

    def stat_url(self) -> str:
        return f"http://{self.ctx.node.name}:{self.opts['stat_port']}{STAT_PATH}"

    def order(self) -> int:
        return order_of(self.ctx.topo, self.ctx.node.name)

    # -- the service's jobs --

    def config(self) -> str:
        d = self.ctx.dir
        o = self.opts
        pull = ""
        if self.pull_url:
            pull = f"      pull {self.pull_url};\n"
            for name in self.ctx.spec.options.get("pull_streams", []):
                pull += f"      pull {self.pull_url} name={name} static;\n"
            pull += f"      pull_reconnect {PULL_RECONNECT_MS}ms;\n"
        main = nginx_main(self.ctx, "nginx-rtmp", modules=f"load_module {MODULE};\n")
        return f"""{main}rtmp {{
  access_log {self.access_log};
  server {{
    listen {o["port"]};
    listen [::]:{o["port"]} ipv6only=on;
    chunk_size {o["chunk_size"]};
    application {o["application"]} {{
      live on;
      record off;
      wait_key on;
      wait_video on;
{pull}    }}
  }}
}}
http {{
  access_log {self.stat_log};
{nginx_temp_paths(d)}  server {{
    listen {o["stat_port"]};
    listen [::]:{o["stat_port"]};
    location = {STAT_PATH} {{
      rtmp_stat all;
      default_type text/xml;
    }}
  }}
}}
"""

    def prepare(self) -> list[str]:
        if not MODULE.exists():
            raise NetlabError(
                f"rtmp service: nginx's RTMP module {MODULE} is missing "
                "(apt-get install libnginx-mod-rtmp)"
            )
        return nginx_argv(self.ctx.dir, self.config())

    def ready(self) -> bool:
        ns, o = self.ctx.netns, self.opts
        if not tcp_connect(ns, "127.0.0.1", o["port"]):
            return False
        stat = fetch_stat(ns, o["stat_port"])
        if stat is None:
            return False
        pulled = self.ctx.spec.options.get("pull_streams", [])
        return all(stream_live(stat, o["application"], name) for name in pulled)

    def describe(self) -> dict[str, Any]:
        o = self.opts
        return {
            "program": "nginx-rtmp",
            "ports": [o["port"], o["stat_port"]],
            "rtmp_port": o["port"],
            "stat_port": o["stat_port"],
            "application": o["application"],
            "chunk_size": o["chunk_size"],
            "url": self.url(),
            "stat_url": self.stat_url(),
            "pull": self.pull_url,
            "pull_streams": list(self.ctx.spec.options.get("pull_streams", [])),
            "access_log": str(self.access_log),
        }
