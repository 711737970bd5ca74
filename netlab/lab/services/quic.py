"""`quic`: an HTTP/3 server over QUIC, ngtcp2's example `gtlsserver` (Debian's ngtcp2-server).

    [nodes.server]
    services = [{ type = "quic" }]                          # https://server/ over QUIC, UDP 443
    services = [{ type = "quic", port = 4433, retry = true }]

Options:

- ``port`` (443): the UDP port, on IPv4 and IPv6 (gtlsserver's ``*`` binds both);
- ``retry`` (false): ``-V``, address validation: the server answers a client's
  first Initial with a Retry and its token before any handshake.

The certificate comes from the lab's CA (`netlab.lab.services.ca`, as the tls and
web labs have it): ``tls/leaf.key`` and ``tls/chain.pem`` (leaf + intermediate) in
the service folder, its subjectAltName the node's names and addresses; the root is
``<run>/ca/root.pem``. The document root ``www/`` holds ``index.html``. gtlsserver
runs with ``-q`` (its debug output is per packet); what it says goes to the run's
log of the service.

Ready: a datagram of 1200 bytes with a version no server speaks, from inside the
node, gets a Version Negotiation packet back (RFC 9000 §6): the socket is bound and
the QUIC stack is reading it. No handshake, nothing to decrypt.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
from typing import Any

from netlab.errors import NetlabError
from netlab.lab import netns
from netlab.lab.services import Service, options_problem
from netlab.lab.topology import Node, ServiceSpec, Topology

OPTIONS = {"port", "retry"}
DEFAULT_PORT = 443
PROBE_VERSION = 0x1A2A3A4A  # reserved for forcing Version Negotiation (RFC 9000 §15)
INITIAL_SIZE = 1200  # servers ignore shorter first datagrams (RFC 9000 §14.1)
INDEX = "<!doctype html>\n<title>{lab}</title>\n<p>Hello over QUIC from {node} ({lab}).</p>\n"


def _port(spec: ServiceSpec) -> Any:
    return spec.options.get("port", DEFAULT_PORT)


class QuicService(Service):
    type = "quic"
    ready_timeout = 5.0

    @classmethod
    def check(cls, topo: Topology, node: Node, spec: ServiceSpec) -> str | None:
        if problem := options_problem(spec, OPTIONS, _port(spec)):
            return problem
        if not isinstance(spec.options.get("retry", False), bool):
            return f"retry must be true or false, not {spec.options['retry']!r}"
        return None

    @classmethod
    def listens(cls, spec: ServiceSpec) -> list[tuple[str, int]]:
        port = _port(spec)
        return [("udp", port)] if isinstance(port, int) else []

    @property
    def port(self) -> int:
        return _port(self.ctx.spec)

    def prepare(self) -> list[str]:
        from netlab.lab.services.ca import issue_leaf, leaf_names

        server = shutil.which("gtlsserver") or "/usr/sbin/gtlsserver"
        if not os.access(server, os.X_OK):
            raise NetlabError(
                "quic service: gtlsserver is not installed (apt-get install ngtcp2-server)"
            )
        d = self.ctx.dir
        www = d / "www"
        www.mkdir(mode=0o755, exist_ok=True)
        (www / "index.html").write_text(INDEX.format(lab=self.ctx.lab, node=self.ctx.node.name))
        names, addrs = leaf_names(self.ctx.topo, self.ctx.node.name)
        files = issue_leaf(self.ctx.run_dir, self.ctx.lab, d / "tls", names, addrs)
        retry = ["-V"] if self.ctx.spec.options.get("retry", False) else []
        argv = [server, "-q", *retry, "-d", str(www), "*", str(self.port)]
        return [*argv, str(files.key), str(files.chain)]

    def ready(self) -> bool:
        return version_negotiation(self.ctx.netns, "127.0.0.1", self.port) is not None

    def describe(self) -> dict[str, Any]:
        from netlab.lab.services.ca import leaf_names, root_path

        d, node = self.ctx.dir, self.ctx.node.name
        names, _ = leaf_names(self.ctx.topo, node)
        port = "" if self.port == DEFAULT_PORT else f":{self.port}"
        return {
            "program": "gtlsserver",
            "ports": [self.port],
            "port": self.port,
            "transport": "udp",
            "alpn": "h3",
            "retry": bool(self.ctx.spec.options.get("retry", False)),
            "url": f"https://{node}{port}/index.html",
            "names": names,
            "cacert": str(root_path(self.ctx.run_dir)),
            "cert_chain": str(d / "tls" / "chain.pem"),
            "key": str(d / "tls" / "leaf.key"),
            "htdocs": str(d / "www"),
        }


def probe_datagram(dcid: bytes, scid: bytes) -> bytes:
    """A long-header packet with PROBE_VERSION, padded to INITIAL_SIZE bytes."""
    head = bytes([0xC0]) + PROBE_VERSION.to_bytes(4, "big")
    head += bytes([len(dcid)]) + dcid + bytes([len(scid)]) + scid
    return head + bytes(INITIAL_SIZE - len(head))


def version_negotiation(ns: str, addr: str, port: int, timeout: float = 0.3) -> list[int] | None:
    """The versions a Version Negotiation reply lists (for our SCID), or None."""
    dcid, scid = secrets.token_bytes(8), secrets.token_bytes(8)
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    with netns.socket_in(ns, family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(probe_datagram(dcid, scid), (addr, port))
            reply = sock.recv(2048)
        except OSError:
            return None
    # first byte (long form), version 0, DCID = our SCID, SCID = our DCID, versions
    if len(reply) < 7 or not reply[0] & 0x80 or reply[1:5] != bytes(4):
        return None
    if reply[5 : 6 + reply[5]] != bytes([len(scid)]) + scid:
        return None
    pos = 6 + len(scid)
    pos += 1 + reply[pos] if pos < len(reply) else 0
    return [int.from_bytes(reply[i : i + 4], "big") for i in range(pos, len(reply) - 3, 4)]
