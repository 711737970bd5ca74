"""`http`: a small web server, nginx (preferred) or Python's http.server.

    [nodes.server]
    services = [{ type = "http", port = 80 }]          # nginx when installed
    services = [{ type = "http", server = "python" }]  # or Python's http.server

nginx runs in the foreground (``daemon off``) with a config, pid file, temp
folders and document root under the run folder; its error log goes to stderr
(the service log), its access log to ``logs/<node>-http.access.log``. The page
it serves names the lab and the node, so a test can tell servers apart.
"""

from __future__ import annotations

import shutil
import sys
from typing import Any, ClassVar

from netlab.lab.services import Service, ports_option, unknown_options
from netlab.lab.services.probe import http_status
from netlab.lab.topology import Node, ServiceSpec, Topology

SERVERS = ("nginx", "python")


class HttpService(Service):
    type = "http"
    default_ports: ClassVar[list[int]] = [80]

    @classmethod
    def check(cls, topo: Topology, node: Node, spec: ServiceSpec) -> str | None:
        problem = unknown_options(spec, {"port", "ports", "server"})
        if problem:
            return problem
        if spec.options.get("server", "nginx") not in SERVERS:
            return f"server must be one of {', '.join(SERVERS)}"
        ports = ports_option(spec, cls.default_ports)
        return ports if isinstance(ports, str) else None

    @property
    def server(self) -> str:
        wanted = self.ctx.spec.options.get("server")
        if wanted:
            return wanted
        return "nginx" if shutil.which("nginx") else "python"

    def prepare(self) -> list[str]:
        d = self.ctx.dir
        www = d / "www"
        www.mkdir(exist_ok=True)
        page = f"netlab lab {self.ctx.topo.name}: {self.ctx.node.name}\n"
        (www / "index.html").write_text(page)
        if self.server == "python":
            if len(self.ports) != 1:
                raise ValueError("the python http server listens on one port")
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
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (d / "tmp" / sub).mkdir(parents=True, exist_ok=True)
        logs = self.ctx.run_dir / "logs"
        listens = "".join(f"    listen {p};\n    listen [::]:{p};\n" for p in self.ports)
        who = f"lab '{self.ctx.topo.name}', node {self.ctx.node.name}"
        conf = f"""# nginx for netlab {who} (generated)
daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log stderr notice;
events {{ worker_connections 256; }}
http {{
  types {{ text/html html; text/plain txt; }}
  default_type application/octet-stream;
  access_log {logs}/{self.ctx.label}.access.log;
  client_body_temp_path {d}/tmp/body;
  proxy_temp_path {d}/tmp/proxy;
  fastcgi_temp_path {d}/tmp/fastcgi;
  uwsgi_temp_path {d}/tmp/uwsgi;
  scgi_temp_path {d}/tmp/scgi;
  server {{
{listens}    server_name _;
    root {www};
    index index.html;
  }}
}}
"""
        (d / "nginx.conf").write_text(conf)
        # -e: the start-up error log too goes to stderr, never /var/log/nginx.
        return ["nginx", "-e", "stderr", "-p", str(d), "-c", str(d / "nginx.conf")]

    def ready(self) -> bool:
        return all(http_status(self.ctx.netns, "127.0.0.1", port) for port in self.ports)

    def describe(self) -> dict[str, Any]:
        return {"ports": self.ports, "program": self.server}
