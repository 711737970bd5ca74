"""`dns`: bind9 (`named`) as root, TLD or authoritative server, or as a recursive resolver.

In the topology file::

    [nodes.root]
    services = [{ type = "dns", role = "root" }]
    [nodes.tld]
    services = [{ type = "dns", role = "tld", zone = "lab" }]
    [nodes.auth]
    services = [{ type = "dns", role = "auth", zone = "example.lab" }]
    [nodes.resolver]
    services = [{ type = "dns", role = "resolver" }]

    [zones."example.lab"]
    records = ["www A 198.18.0.20", "@ MX 10 mail"]

    # A server named in another zone: its parent's delegation has no glue.
    [nodes.auth2]
    services = [{ type = "dns", role = "auth", zone = "other.lab", ns = "ns.example.lab" }]

The zones are written from the topology, the way the real DNS tree is built:

- every zone's servers are named ``ns1.<zone>`` … (root servers:
  ``a.root-servers.lab``, ``b.…``), or as the service's ``ns`` option says, with
  their A/AAAA records in the zone that owns the name;
- each zone is delegated from its parent (the nearest served zone above it)
  with NS records, plus glue when a server's name lies inside the delegated zone;
  a server named outside it (``ns`` in another zone) gets none: a glueless
  delegation, whose NS name the resolver must look up first;
- the resolver gets a root-hints file listing the lab's root servers, so it
  resolves from the lab's root exactly as a real resolver does from the Internet's.

Each named runs in the foreground (`-g`, logs on stderr → the service log)
with its own directory under the run folder for its config, zones, pid file
and session key.
"""

from __future__ import annotations

from typing import Any

from netlab.lab.services import Service, unknown_options
from netlab.lab.services.probe import dns_answers
from netlab.lab.topology import Node, ServiceSpec, Topology

ROLES = {"root": 10, "tld": 20, "auth": 30, "resolver": 40}  # role → start order
NAMED = "/usr/sbin/named"
SOA_TIMES = "1 3600 600 86400 60"  # serial refresh retry expire negative-TTL (short, for labs)


def _zone_of(spec: ServiceSpec) -> str:
    if spec.options.get("role") == "root":
        return "."
    return str(spec.options.get("zone", "")).strip(".") or "."


def fqdn(name: str, zone: str) -> str:
    return f"{name}." if zone == "." else f"{name}.{zone}."


def _under(name: str, zone: str) -> bool:
    """Whether absolute `name` (trailing dot) is `zone` or below it."""
    if zone == ".":
        return True
    return name == f"{zone}." or name.endswith(f".{zone}.")


class DnsTree:
    """The lab's DNS: which node serves which zone, server names, delegations, glue."""

    def __init__(self, topo: Topology, lab: str | None = None) -> None:
        self.topo = topo
        self.lab = lab or topo.name  # the running lab's name, for the files' comments
        self.servers: dict[str, list[str]] = {}  # zone → nodes serving it
        self.named: dict[tuple[str, str], str] = {}  # (zone, node) → server name from `ns`
        for node in topo.nodes.values():
            for spec in node.services:
                if spec.type == "dns" and spec.options.get("role") in ("root", "tld", "auth"):
                    zone = _zone_of(spec)
                    self.servers.setdefault(zone, []).append(node.name)
                    if isinstance(spec.options.get("ns"), str):
                        self.named[(zone, node.name)] = spec.options["ns"].strip(".").lower() + "."

    def ns_names(self, zone: str) -> list[tuple[str, str]]:
        """(server name, node) for a zone's NS records."""
        nodes = self.servers.get(zone, [])
        if zone == ".":
            names = [f"{chr(ord('a') + i)}.root-servers.lab." for i in range(len(nodes))]
        else:
            names = [f"ns{i + 1}.{zone}." for i in range(len(nodes))]
        return [(self.named.get((zone, n), name), n) for name, n in zip(names, nodes, strict=True)]

    def owner(self, name: str) -> str:
        """The deepest served zone that contains the absolute `name`."""
        zones = [z for z in self.servers if _under(name, z)]
        return max(zones, key=lambda z: 0 if z == "." else z.count(".") + 1)

    def parent(self, zone: str) -> str | None:
        if zone == ".":
            return None
        above = [z for z in self.servers if z != zone and _under(f"{zone}.", z)]
        return max(above, key=lambda z: 0 if z == "." else z.count(".") + 1) if above else None

    def children(self, zone: str) -> list[str]:
        return [z for z in self.servers if self.parent(z) == zone]

    def address_records(self, name: str, node: str) -> list[str]:
        out = []
        for version, rtype in ((4, "A"), (6, "AAAA")):
            addr = self.topo.address(node, version)
            if addr is not None:
                out.append(f"{name} 3600 IN {rtype} {addr}")
        return out

    def zone_text(self, zone: str) -> str:
        """A complete zone file: SOA, NS, delegations with glue, server addresses, user records."""
        origin = "." if zone == "." else f"{zone}."
        names = self.ns_names(zone)
        lines = [
            f"; zone {origin} of netlab lab '{self.lab}' (generated)",
            f"$ORIGIN {origin}",
            "$TTL 3600",
            f"@ IN SOA {names[0][0]} hostmaster.{'lab.' if zone == '.' else origin} {SOA_TIMES}",
        ]
        lines += [f"@ IN NS {name}" for name, _ in names]
        needed: dict[str, str] = {}  # server names whose addresses this zone must hold
        glue: set[str] = set()  # of those, the ones it may hold below a zone cut
        for name, node in names:
            needed[name] = node
            glue.add(name)
        for child in self.children(zone):
            for name, node in self.ns_names(child):
                lines.append(f"{child}. IN NS {name}")
                needed[name] = node
                if _under(name, child):  # in-bailiwick: glue; anywhere else: glueless
                    glue.add(name)
        # Every server anywhere whose name this zone owns: its authoritative address.
        for other in self.servers:
            for name, node in self.ns_names(other):
                if self.owner(name) == zone:
                    needed[name] = node
        for name, node in needed.items():
            # In-bailiwick only: named rejects data outside the zone. Below a delegation
            # this is glue; at the owner it is the authoritative answer. A name that lies
            # in another child zone than the one it serves gets no glue here.
            if _under(name, zone) and (name in glue or self.owner(name) == zone):
                lines += self.address_records(name, node)
        zone_def = self.topo.zones.get(zone)
        if zone_def:
            lines.append("; records from the topology file")
            lines += zone_def.records
        return "\n".join(lines) + "\n"

    def hints_text(self) -> str:
        lines = [f"; root hints of netlab lab '{self.lab}' (generated)"]
        for name, node in self.ns_names("."):
            lines.append(f". 3600000 IN NS {name}")
            lines += self.address_records(name, node)
        return "\n".join(lines) + "\n"


class DnsService(Service):
    type = "dns"
    ready_timeout = 8.0

    @classmethod
    def listens(cls, spec: ServiceSpec) -> list[tuple[str, int]]:
        return [("udp", 53), ("tcp", 53)]

    @classmethod
    def check(cls, topo: Topology, node: Node, spec: ServiceSpec) -> str | None:
        problem = unknown_options(spec, {"role", "zone", "ns"})
        if problem:
            return problem
        role = spec.options.get("role")
        if role not in ROLES:
            return f"role must be one of {', '.join(ROLES)}, not {role!r}"
        ns = spec.options.get("ns")
        if ns is not None:
            if role not in ("tld", "auth"):
                return f"ns (the server's name) is for roles 'tld' and 'auth', not '{role}'"
            labels = ns.strip(".").split(".") if isinstance(ns, str) else []
            if len(labels) < 2 or not all(labels):
                return f'ns must be a server name with a dot (ns = "ns.example.lab"), not {ns!r}'
        zone = spec.options.get("zone")
        if role in ("tld", "auth") and not isinstance(zone, str):
            return f"role '{role}' needs a zone (zone = \"example.lab\")"
        if role == "root" and zone not in (None, "."):
            return "role 'root' serves the zone '.' (leave zone out)"
        if role == "tld" and isinstance(zone, str) and "." in zone.strip("."):
            return f"a TLD zone is a single label, not '{zone}'"
        if not topo.addresses_of(node.name):
            return "the node has no address"
        if role == "resolver":
            tree = DnsTree(topo)
            if "." not in tree.servers:
                return "a resolver needs a root server in the lab (a node with role 'root')"
        return None

    def order(self) -> int:
        return ROLES[self.ctx.spec.options["role"]]

    @property
    def role(self) -> str:
        return self.ctx.spec.options["role"]

    def prepare(self) -> list[str]:
        d = self.ctx.dir
        tree = DnsTree(self.ctx.topo, self.ctx.lab)
        options = [
            f'directory "{d}";',
            f'pid-file "{d}/named.pid";',
            f'session-keyfile "{d}/session.key";',
            f'managed-keys-directory "{d}";',
            f'dump-file "{d}/cache_dump.db";',
            "listen-on { any; };",
            "listen-on-v6 { any; };",
            "allow-query { any; };",
            "dnssec-validation no;",  # the lab's zones are not signed
            "notify no;",
            "empty-zones-enable no;",
        ]
        if self.role == "resolver":
            options += [
                "recursion yes;",
                "allow-recursion { any; };",
                "allow-query-cache { any; };",
            ]
            (d / "root.hints").write_text(tree.hints_text())
            zones = [f'zone "." {{ type hint; file "{d}/root.hints"; }};']
        else:
            # Zone transfers to anyone: the lab's own servers, for dig/dns-query AXFR and IXFR.
            options += ["recursion no;", "allow-transfer { any; };"]
            zone = _zone_of(self.ctx.spec)
            (d / "zone.db").write_text(tree.zone_text(zone))
            zones = [f'zone "{zone}" {{ type primary; file "{d}/zone.db"; }};']
        conf = "options {\n" + "".join(f"  {o}\n" for o in options) + "};\n" + "\n".join(zones)
        (d / "named.conf").write_text(conf + "\n")
        # -g: foreground, log to stderr (our log file); -c: our config, never /etc/bind's.
        return [NAMED, "-g", "-c", str(d / "named.conf")]

    def _addr(self) -> str:
        addr = self.ctx.topo.address(self.ctx.node.name, 4) or self.ctx.topo.address(
            self.ctx.node.name, 6
        )
        return str(addr)

    def ready(self) -> bool:
        if self.role == "resolver":
            # A resolver answers its own `version.bind CH TXT` without recursing.
            return dns_answers(self.ctx.netns, self._addr(), "version.bind", False, 16, 3)
        zone = _zone_of(self.ctx.spec)
        return dns_answers(self.ctx.netns, self._addr(), zone, authoritative=True)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "port": 53}
        if self.role != "resolver":
            out["zone"] = _zone_of(self.ctx.spec)
        return out
