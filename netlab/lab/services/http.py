"""`http`: a web server, nginx (preferred) or Python's http.server.

    [nodes.server]
    services = [{ type = "http", port = 80 }]          # nginx when installed
    services = [{ type = "http", server = "python" }]  # or Python's http.server
    services = [{ type = "http", port = 80, https_port = 443, h2c_port = 8080 }]

Listeners (nginx; each on IPv4 and IPv6):

- ``port``/``ports`` (default 80): HTTP/1.1 (and 1.0) in clear text;
- ``https_port``: TLS with ALPN ``h2`` and ``http/1.1``: HTTPS and HTTP/2. Its
  certificate chain comes from the lab's CA (`netlab.lab.services.ca`), made at
  `lab up`: the root is ``<run>/ca/root.pem`` (``cacert`` in ``lab status --json``);
- ``h2c_port``: HTTP/2 in clear text with prior knowledge (``curl
  --http2-prior-knowledge``, RFC 9113 §3.3); nginx answers nothing else there.

The document root holds the course's example site (`netlab.lab.services.site`):
an index naming the lab and the node, so a test can tell servers apart, with its
style sheet, script and logo, and a large text file for gzip; ``/old`` redirects
(301) to ``/``. Responses of text types are gzip-compressed on the fly for
clients that accept it.

nginx runs in the foreground (``daemon off``) with a config, pid file, temp
folders, TLS files and document root under the run folder; its error log goes to
stderr (the service log), its access log to ``logs/<node>-http.access.log`` in
the `ACCESS_LOG_FORMAT` below, one line per request. The readiness probes
(``HEAD /`` from 127.0.0.1 on the HTTP ports; a TLS handshake and an HTTP/2
preface on the others, which make no request) add lines from 127.0.0.1 too.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any, ClassVar

from netlab.errors import NetlabError
from netlab.lab.services import Service, ServiceContext, ports_option, unknown_options
from netlab.lab.services.probe import h2c_settings, http_status, tls_alpn
from netlab.lab.services.site import write_site
from netlab.lab.topology import Node, ServiceSpec, Topology

SERVERS = ("nginx", "python")
EXTRA_PORTS = ("https_port", "h2c_port")  # listeners only nginx has

# One line per request. $connection (nginx's connection serial number) and
# $connection_requests (the request's number on that connection) show keep-alive
# and multiplexing: three requests on one HTTP/1.1 connection, or three streams on
# one HTTP/2 connection, share $connection and count 1, 2, 3. The HTTP/2 field is
# nginx's $http2: "h2" (over TLS), "h2c" (clear text), and "-" for HTTP/1.x (nginx
# would log an empty field: a map puts the dash in); $ssl_protocol and $ssl_cipher
# are "-" without TLS. Address and port are separate fields (an IPv6 address holds
# colons); $server_port tells the listener apart, $time_iso8601 ends the line.
ACCESS_LOG_FORMAT = (
    "$remote_addr $remote_port $connection $connection_requests "
    '"$request" $status $body_bytes_sent $netlab_http2 "$server_protocol" '
    "$ssl_protocol $ssl_cipher $server_port $time_iso8601"
)
# The same fields as a regular expression, for tests and scripts.
ACCESS_LOG_RE = (
    r'^(?P<addr>\S+) (?P<port>\d+) (?P<connection>\d+) (?P<requests>\d+) "(?P<request>[^"]*)" '
    r'(?P<status>\d{3}) (?P<bytes>\d+) (?P<http2>\S+) "(?P<protocol>[^"]*)" '
    r"(?P<ssl_protocol>\S+) (?P<ssl_cipher>\S+) (?P<server_port>\d+) (?P<time>\S+)$"
)

MIME_TYPES = {
    "text/html": "html htm",
    "text/css": "css",
    "text/plain": "txt",
    "application/javascript": "js mjs",
    "application/json": "json",
    "image/jpeg": "jpg jpeg",
    "image/png": "png",
    "image/svg+xml": "svg",
    "image/x-icon": "ico",
}
# text/html is always compressed by nginx's gzip filter; these as well.
GZIP_TYPES = "text/css text/plain application/javascript application/json image/svg+xml"


# nginx's temporary files (directive prefix, folder under the service's tmp/): in the
# service folder, not the compiled-in /var/lib/nginx. Shared with `rtmp` (nginx too).
NGINX_TEMP = (("client_body", "body"), ("proxy", "proxy"), ("fastcgi", "fastcgi"),
              ("uwsgi", "uwsgi"), ("scgi", "scgi"))  # fmt: skip


def nginx_main(ctx: ServiceContext, program: str, modules: str = "") -> str:
    """The start of a lab's nginx.conf: who it is for, then nginx in the foreground with
    one worker, its pid file in the service folder and its error log on stderr."""
    return (
        f"# {program} for netlab lab '{ctx.lab}', node {ctx.node.name} (generated)\n"
        f"{modules}daemon off;\nworker_processes 1;\npid {ctx.dir}/nginx.pid;\n"
        "error_log stderr notice;\nevents { worker_connections 256; }\n"
    )


def nginx_temp_paths(d: Path) -> str:
    """An http block's `*_temp_path` lines (the folders `nginx_argv` makes)."""
    return "".join(f"  {name}_temp_path {d}/tmp/{sub};\n" for name, sub in NGINX_TEMP)


def nginx_argv(d: Path, conf: str) -> list[str]:
    """Write CONF as D/nginx.conf and make its temp folders; the argv that runs it."""
    for _, sub in NGINX_TEMP:
        (d / "tmp" / sub).mkdir(parents=True, exist_ok=True)
    (d / "nginx.conf").write_text(conf)
    # -e: the start-up error log too goes to stderr, never /var/log/nginx.
    return ["nginx", "-e", "stderr", "-p", str(d), "-c", str(d / "nginx.conf")]


def _port_value(spec: ServiceSpec, key: str) -> int | str | None:
    """An optional single port: the port, None when absent, or an error message."""
    if key not in spec.options:
        return None
    value = spec.options[key]
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        return f"{key} must be a port number within 1–65535, not {value!r}"
    return value


class HttpService(Service):
    type = "http"
    default_ports: ClassVar[list[int]] = [80]

    @classmethod
    def check(cls, topo: Topology, node: Node, spec: ServiceSpec) -> str | None:
        problem = unknown_options(spec, {"port", "ports", "server", *EXTRA_PORTS})
        if problem:
            return problem
        if spec.options.get("server", "nginx") not in SERVERS:
            return f"server must be one of {', '.join(SERVERS)}"
        ports = ports_option(spec, cls.default_ports)
        if isinstance(ports, str):
            return ports
        if len(set(ports)) != len(ports):
            return f"ports lists a port twice: {ports}"
        if spec.options.get("server") == "python" and len(ports) != 1:
            return 'server = "python" listens on one port'
        seen = {p: "an HTTP port" for p in ports}
        for key in EXTRA_PORTS:
            value = _port_value(spec, key)
            if isinstance(value, str):
                return value
            if value is None:
                continue
            if spec.options.get("server") == "python":
                return f'{key} needs server = "nginx" (Python\'s http.server speaks HTTP/1 only)'
            if value in seen:
                return f"{key} {value} is already {seen[value]}: give it a port of its own"
            seen[value] = key
        return None

    @classmethod
    def listens(cls, spec: ServiceSpec) -> list[tuple[str, int]]:
        out = super().listens(spec)
        for key in EXTRA_PORTS:
            value = _port_value(spec, key)
            if isinstance(value, int):
                out.append(("tcp", value))
        return out

    @property
    def server(self) -> str:
        wanted = self.ctx.spec.options.get("server")
        if wanted:
            return wanted
        if self.https_port or self.h2c_port:
            return "nginx"  # only nginx has them; a missing nginx fails at start, by name
        return "nginx" if shutil.which("nginx") else "python"

    @property
    def https_port(self) -> int | None:
        value = _port_value(self.ctx.spec, "https_port")
        return value if isinstance(value, int) else None

    @property
    def h2c_port(self) -> int | None:
        value = _port_value(self.ctx.spec, "h2c_port")
        return value if isinstance(value, int) else None

    @property
    def access_log(self) -> Path:
        return self.ctx.run_dir / "logs" / f"{self.ctx.label}.access.log"

    @property
    def cacert(self) -> Path:
        from netlab.lab.services.ca import root_path

        return root_path(self.ctx.run_dir)

    def san(self) -> list[str]:
        """The leaf certificate's subjectAltName: DNS names, then IP addresses."""
        from netlab.lab.services.ca import leaf_names

        names, addrs = leaf_names(self.ctx.topo, self.ctx.node.name)
        return names + addrs

    def prepare(self) -> list[str]:
        d = self.ctx.dir
        www = d / "www"
        write_site(www, self.ctx.lab, self.ctx.node.name, self.server)
        if self.server == "python":
            if len(self.ports) != 1:
                raise NetlabError("the python http server listens on one port")
            return [
                sys.executable,
                "-m",
                "http.server",
                "--bind",
                "::",
                "--directory",
                str(www),
                str(self.ports[0]),
            ]
        listens = [f"{p}" for p in self.ports]
        tls = ""
        if self.https_port:
            from netlab.lab.services.ca import issue_leaf, leaf_names

            names, addrs = leaf_names(self.ctx.topo, self.ctx.node.name)
            files = issue_leaf(self.ctx.run_dir, self.ctx.run_dir.name, d / "tls", names, addrs)
            listens.append(f"{self.https_port} ssl http2")
            tls = (
                f"    ssl_certificate {files.chain};\n"
                f"    ssl_certificate_key {files.key};\n"
                "    ssl_protocols TLSv1.2 TLSv1.3;\n"
            )
        if self.h2c_port:
            listens.append(f"{self.h2c_port} http2")
        listen_lines = "".join(f"    listen {x};\n    listen [::]:{x};\n" for x in listens)
        types = "".join(f"    {mime} {exts};\n" for mime, exts in MIME_TYPES.items())
        conf = f"""{nginx_main(self.ctx, "nginx")}http {{
  types {{
{types}  }}
  default_type application/octet-stream;
  map $http2 $netlab_http2 {{ "" "-"; default $http2; }}
  log_format netlab '{ACCESS_LOG_FORMAT}';
  access_log {self.access_log} netlab;
{nginx_temp_paths(d)}  gzip on;
  gzip_types {GZIP_TYPES};
  gzip_min_length 256;
  gzip_vary on;
  server {{
{listen_lines}    server_name _;
{tls}    root {www};
    index index.html;
    location = /old {{ return 301 /; }}
  }}
}}
"""
        return nginx_argv(d, conf)

    def ready(self) -> bool:
        ns = self.ctx.netns
        if not all(http_status(ns, "127.0.0.1", port) for port in self.ports):
            return False
        if self.https_port and tls_alpn(ns, "127.0.0.1", self.https_port) != "h2":
            return False
        return not (self.h2c_port and not h2c_settings(ns, "127.0.0.1", self.h2c_port))

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ports": self.ports, "program": self.server}
        if self.https_port:
            out["https_port"] = self.https_port
        if self.h2c_port:
            out["h2c_port"] = self.h2c_port
        if self.server == "nginx":
            out["access_log"] = str(self.access_log)
        if self.https_port:
            out["cacert"] = str(self.cacert)
            out["san"] = self.san()
        return out
