"""The topology model: plain data, loaded from TOML, validated with line numbers.

Everything here runs without root and without touching the network, so the
model is tested on its own (tests/test_lab_model.py). The file format is
described in docs/labs.md; in short::

    name = "routed"
    description = "client — r1 — r2 — server"

    [nodes.client]
    gateway = "198.18.1.1"

    [nodes.r1]
    kind = "router"
    routes = [{ to = "198.18.3.0/24", via = "198.18.2.2" }]

    [[links]]
    nodes = ["client", "r1"]
    subnet = "198.18.1.0/24"
    addresses = { client = "198.18.1.10", r1 = "198.18.1.1" }

Python's `tomllib` keeps no positions, so `SourceMap` finds the line of each
table and key in the source text; validation errors carry a *path* into the
document (``("links", 0, "nodes")``) and `SourceMap` turns it into a line.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netlab.errors import InputError

IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Path_ = tuple[str | int, ...]  # a path into the TOML document

# design.md §6: labs use the benchmarking and documentation ranges only, so a lab
# address can never be mistaken for (or routed to) a real network.
LAB_RANGES: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("198.18.0.0/15"),
    ipaddress.ip_network("2001:db8::/32"),
)

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,19}$")  # node and lab names: DNS labels, short
NODE_KINDS = ("host", "router")
LINK_KINDS = ("p2p", "lan")


# ---------------------------------------------------------------------------
# The model


@dataclass
class Impairment:
    """What happens to packets leaving `src` on a link (one direction), netem's words."""

    src: str
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    loss_pct: float = 0.0
    duplicate_pct: float = 0.0
    reorder_pct: float = 0.0
    rate_kbit: int | None = None
    # netem's `loss P% CORR%`, `corrupt P%` and `limit N`; `seed` makes the link
    # emulator's random choices (loss, duplicate, reorder, corrupt, jitter) repeatable.
    loss_corr_pct: float = 0.0
    corrupt_pct: float = 0.0
    limit: int = 1000
    seed: int | None = None
    distribution: str = "uniform"  # of the jitter, as netem: "uniform" (its default) or "normal"

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.src,
            "delay_ms": self.delay_ms,
            "jitter_ms": self.jitter_ms,
            "loss_pct": self.loss_pct,
            "duplicate_pct": self.duplicate_pct,
            "reorder_pct": self.reorder_pct,
            "rate_kbit": self.rate_kbit,
            "loss_corr_pct": self.loss_corr_pct,
            "corrupt_pct": self.corrupt_pct,
            "limit": self.limit,
            "seed": self.seed,
            "distribution": self.distribution,
        }


@dataclass
class Link:
    """A point-to-point veth pair, or a LAN segment (a bridge) joining several nodes."""

    name: str
    nodes: list[str]
    kind: str = "p2p"  # "lan" when more than two nodes, or asked for
    subnets: list[IPNetwork] = field(default_factory=list)
    addresses: dict[str, list[IPInterface]] = field(default_factory=dict)
    mtu: int | None = None
    impair: list[Impairment] = field(default_factory=list)

    @property
    def is_lan(self) -> bool:
        return self.kind == "lan"


@dataclass
class Route:
    to: IPNetwork
    via: IPAddress


@dataclass
class ServiceSpec:
    """A service on a node: its type (dns, tcp, http, tls) and the type's own options."""

    type: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The type, with the dns `role` or the tls `fixture` (``dns:root``,
        ``tls:expired``): names its folder, its log and its line in `lab status`."""
        role = self.options.get("role") or self.options.get("fixture")
        return f"{self.type}:{role}" if role else self.type


@dataclass
class Node:
    name: str
    kind: str = "host"
    gateway4: ipaddress.IPv4Address | None = None
    gateway6: ipaddress.IPv6Address | None = None
    routes: list[Route] = field(default_factory=list)
    services: list[ServiceSpec] = field(default_factory=list)

    @property
    def forwards(self) -> bool:
        return self.kind == "router"


@dataclass
class Zone:
    """A DNS zone whose records come from the topology file (zone-file lines)."""

    name: str  # without the trailing dot; "." is the root
    records: list[str] = field(default_factory=list)


@dataclass
class Topology:
    name: str
    description: str = ""
    nodes: dict[str, Node] = field(default_factory=dict)
    links: list[Link] = field(default_factory=list)
    zones: dict[str, Zone] = field(default_factory=dict)
    extra_ranges: list[IPNetwork] = field(default_factory=list)
    source: str = "<topology>"  # the file name used in error messages

    # -- derived views used by the builder, the hosts file and `status` --

    def links_of(self, node: str) -> list[Link]:
        return [link for link in self.links if node in link.nodes]

    def interfaces(self, node: str) -> list[tuple[str, Link]]:
        """(interface name, link) for a node, in link order: eth0, eth1 …"""
        return [(f"eth{i}", link) for i, link in enumerate(self.links_of(node))]

    def addresses_of(self, node: str) -> list[IPInterface]:
        out: list[IPInterface] = []
        for link in self.links_of(node):
            out.extend(link.addresses.get(node, []))
        return out

    def address(self, node: str, version: int = 4) -> IPAddress | None:
        """The node's first address of that IP version (its "name" address)."""
        for iface in self.addresses_of(node):
            if iface.version == version:
                return iface.ip
        return None

    def subnets(self) -> list[IPNetwork]:
        return [net for link in self.links for net in link.subnets]


# ---------------------------------------------------------------------------
# Where things are in the source text


_HEADER_RE = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY_RE = re.compile(
    r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+))*)\s*="""
)


def _split_dotted(text: str) -> list[str]:
    parts = re.findall(r"""\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*(?:\.|$)""", text)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


class SourceMap:
    """Line numbers of TOML tables and keys, found by a light pass over the text.

    It follows headers (``[a.b]``, ``[[a]]`` with their array index) and
    ``key =`` lines at the top of a table, skipping the insides of multi-line
    strings and arrays. That is all validation needs: the line of the table or
    key an error is about. Anything it cannot place falls back to the nearest
    enclosing table, then to line 1.
    """

    def __init__(self, text: str) -> None:
        self.lines: dict[Path_, int] = {}
        array_counts: dict[Path_, int] = {}
        table: Path_ = ()
        depth = 0  # open brackets/braces of a value spanning several lines
        in_string: str | None = None
        for number, line in enumerate(text.splitlines(), start=1):
            if in_string is not None:
                if line.count(in_string) % 2 == 1:
                    in_string = None
                continue
            if depth == 0:
                header = _HEADER_RE.match(line)
                if header and not line.lstrip().startswith("#"):
                    parts = tuple(_split_dotted(header.group(2)))
                    if header.group(1) == "[[":
                        # A new element of an array of tables, inside the current
                        # element of any enclosing array ([[links]] then [[links.impair]]).
                        key = (*self._resolve(parts[:-1], array_counts), parts[-1])
                        index = array_counts.get(key, 0)
                        array_counts[key] = index + 1
                        table = (*key, index)
                    else:
                        table = self._resolve(parts, array_counts)
                    self.lines.setdefault(table, number)
                    continue
                key = _KEY_RE.match(line)
                if key:
                    self.lines.setdefault((*table, *_split_dotted(key.group(1))), number)
            for quote in ('"""', "'''"):
                if line.count(quote) % 2 == 1:
                    in_string = quote
            code = re.sub(r"\"(?:[^\"\\]|\\.)*\"|'[^']*'", "", line).split("#", 1)[0]
            depth = max(0, depth + code.count("[") + code.count("{"))
            depth = max(0, depth - code.count("]") - code.count("}"))

    @staticmethod
    def _resolve(parts: tuple[str, ...], array_counts: dict[Path_, int]) -> Path_:
        # [nodes.x] inside arrays: after each part that names an array of tables, insert
        # the index of its latest element.
        out: list[str | int] = []
        for part in parts:
            out.append(part)
            count = array_counts.get(tuple(out))
            if count is not None:
                out.append(count - 1)
        return tuple(out)

    def line(self, path: Path_) -> int:
        for end in range(len(path), 0, -1):
            found = self.lines.get(tuple(path[:end]))
            if found is not None:
                return found
        return 1


# ---------------------------------------------------------------------------
# Loading


class _Problem(Exception):
    """A validation error at a path of the document; becomes an InputError with a line."""

    def __init__(self, path: Path_, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def load_topology(path: str | Path) -> Topology:
    """Read, parse and validate a topology file; errors are `file:line: …` InputErrors."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise InputError(f"{path}: cannot read topology file: {err.strerror}") from None
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}: not UTF-8 text (byte 0x{err.object[err.start]:02x} "
                         f"at offset {err.start}); TOML files are UTF-8") from None  # fmt: skip
    default_name = re.sub(r"[^a-z0-9-]", "-", path.stem.lower()).strip("-") or "lab"
    return parse_topology(text, source=str(path), default_name=default_name)


def parse_topology(text: str, source: str = "<topology>", default_name: str = "lab") -> Topology:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        match = re.search(r"\(at line (\d+), column \d+\)", str(err))
        line = match.group(1) if match else "1"
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(err))
        raise InputError(f"{source}:{line}: invalid TOML: {reason}") from None
    where = SourceMap(text)
    try:
        topo = _build(doc, source, default_name)
        validate(topo, _paths_for(doc))
    except _Problem as problem:
        raise InputError(f"{source}:{where.line(problem.path)}: {problem.message}") from None
    return topo


def check(topo: Topology) -> None:
    """Validate a topology built in Python (no file, so no line numbers)."""
    try:
        validate(topo, {})
    except _Problem as problem:
        raise InputError(f"{topo.source}: {problem.message}") from None


TOP_KEYS = {"name", "description", "nodes", "links", "zones", "allow_addresses"}
NODE_KEYS = {"kind", "gateway", "gateway6", "routes", "services"}
LINK_KEYS = {"name", "nodes", "kind", "subnet", "subnet6", "addresses", "mtu", "impair"}
IMPAIR_KEYS = {"from", "delay_ms", "jitter_ms", "loss_pct", "duplicate_pct", "reorder_pct"}
IMPAIR_KEYS |= {"rate_kbit", "loss_corr_pct", "corrupt_pct", "limit", "seed", "distribution"}


def _unknown_keys(table: dict[str, Any], allowed: set[str], path: Path_, what: str) -> None:
    for key in table:
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            raise _Problem((*path, key), f"{what}: unknown key '{key}' (known: {known})")


def _expect(value: Any, kind: type | tuple[type, ...], path: Path_, what: str) -> Any:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        names = names.replace("str", "string").replace("dict", "table").replace("list", "array")
        raise _Problem(path, f"{what} must be a {names}, not {value!r}")
    return value


def _network(text: Any, path: Path_, what: str) -> IPNetwork:
    _expect(text, str, path, what)
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as err:
        raise _Problem(path, f"{what}: {err}") from None


def _address(text: Any, path: Path_, what: str) -> IPAddress:
    _expect(text, str, path, what)
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise _Problem(path, f"{what}: '{text}' is not an IP address") from None


def _build(doc: dict[str, Any], source: str, default_name: str) -> Topology:
    _unknown_keys(doc, TOP_KEYS, (), "topology")
    name = _expect(doc.get("name", default_name), str, ("name",), "name")
    if not NAME_RE.match(name):
        raise _Problem(("name",), f"lab name '{name}' must match {NAME_RE.pattern}")
    topo = Topology(
        name=name,
        description=_expect(doc.get("description", ""), str, ("description",), "description"),
        source=source,
    )
    for i, text in enumerate(
        _expect(doc.get("allow_addresses", []), list, ("allow_addresses",), "allow_addresses")
    ):
        topo.extra_ranges.append(_network(text, ("allow_addresses", i), "allow_addresses"))

    nodes = _expect(doc.get("nodes", {}), dict, ("nodes",), "nodes")
    if not nodes:
        raise _Problem(("nodes",), "a lab needs at least one node ([nodes.NAME])")
    for node_name, table in nodes.items():
        topo.nodes[node_name] = _build_node(node_name, table, ("nodes", node_name))

    links = _expect(doc.get("links", []), list, ("links",), "links")
    for i, table in enumerate(links):
        topo.links.append(_build_link(i, table, topo, ("links", i)))

    zones = _expect(doc.get("zones", {}), dict, ("zones",), "zones")
    for zone_name, table in zones.items():
        path = ("zones", zone_name)
        _unknown_keys(
            _expect(table, dict, path, f"zone '{zone_name}'"),
            {"records"},
            path,
            f"zone '{zone_name}'",
        )
        records = _expect(table.get("records", []), list, (*path, "records"), "records")
        zone = Zone(name=zone_name.strip(".") or ".")
        for j, record in enumerate(records):
            zone.records.append(_record_line(record, (*path, "records", j)))
        topo.zones[zone.name] = zone
    return topo


def _build_node(name: str, table: Any, path: Path_) -> Node:
    what = f"node '{name}'"
    _expect(table, dict, path, what)
    _unknown_keys(table, NODE_KEYS, path, what)
    if not NAME_RE.match(name):
        raise _Problem(path, f"node name '{name}' must match {NAME_RE.pattern}")
    kind = table.get("kind", "host")
    if kind not in NODE_KINDS:
        raise _Problem((*path, "kind"), f"{what}: kind must be one of {NODE_KINDS}, not {kind!r}")
    node = Node(name=name, kind=kind)
    if "gateway" in table:
        gw = _address(table["gateway"], (*path, "gateway"), f"{what}: gateway")
        if gw.version != 4:
            raise _Problem((*path, "gateway"), f"{what}: gateway must be IPv4 (use gateway6)")
        node.gateway4 = gw  # type: ignore[assignment]
    if "gateway6" in table:
        gw = _address(table["gateway6"], (*path, "gateway6"), f"{what}: gateway6")
        if gw.version != 6:
            raise _Problem((*path, "gateway6"), f"{what}: gateway6 must be IPv6")
        node.gateway6 = gw  # type: ignore[assignment]
    for i, route in enumerate(_expect(table.get("routes", []), list, (*path, "routes"), "routes")):
        rpath = (*path, "routes", i)
        _expect(route, dict, rpath, f"{what}: route")
        _unknown_keys(route, {"to", "via"}, rpath, f"{what}: route")
        if "to" not in route or "via" not in route:
            raise _Problem(rpath, f"{what}: a route needs 'to' and 'via'")
        to = _network(route["to"], rpath, f"{what}: route 'to'")
        via = _address(route["via"], rpath, f"{what}: route 'via'")
        if to.version != via.version:
            raise _Problem(rpath, f"{what}: route to {to} via {via} mixes IPv4 and IPv6")
        node.routes.append(Route(to=to, via=via))
    services = _expect(table.get("services", []), list, (*path, "services"), "services")
    for i, svc in enumerate(services):
        spath = (*path, "services", i)
        _expect(svc, dict, spath, f"{what}: service")
        if "type" not in svc:
            raise _Problem(spath, f"{what}: a service needs a 'type'")
        options = {k: v for k, v in svc.items() if k != "type"}
        node.services.append(
            ServiceSpec(type=_expect(svc["type"], str, spath, "type"), options=options)
        )
    return node


def _build_link(index: int, table: Any, topo: Topology, path: Path_) -> Link:
    _expect(table, dict, path, f"link #{index + 1}")
    nodes = table.get("nodes")
    if nodes is None:
        raise _Problem(path, f"link #{index + 1}: 'nodes' is missing")
    _expect(nodes, list, (*path, "nodes"), f"link #{index + 1}: nodes")
    default = "-".join(str(n) for n in nodes) if len(nodes) == 2 else f"lan{index + 1}"
    name = _expect(table.get("name", default), str, (*path, "name"), "link name")
    what = f"link '{name}'"
    _unknown_keys(table, LINK_KEYS, path, what)
    for i, node in enumerate(nodes):
        if node not in topo.nodes:
            raise _Problem((*path, "nodes"), f"{what}: node '{node}' is not defined")
        if node in nodes[:i]:
            raise _Problem((*path, "nodes"), f"{what}: node '{node}' is listed twice")
    if len(nodes) < 2:
        raise _Problem((*path, "nodes"), f"{what}: a link joins at least two nodes")
    kind = table.get("kind", "lan" if len(nodes) > 2 else "p2p")
    if kind not in LINK_KINDS or (kind == "p2p" and len(nodes) > 2):
        raise _Problem((*path, "kind"), f"{what}: kind must be 'p2p' (two nodes) or 'lan'")
    link = Link(name=name, nodes=list(nodes), kind=kind)
    for key in ("subnet", "subnet6"):
        if key in table:
            net = _network(table[key], (*path, key), f"{what}: {key}")
            if net.version != (4 if key == "subnet" else 6):
                raise _Problem(
                    (*path, key), f"{what}: {key} must be IPv{4 if key == 'subnet' else 6}"
                )
            link.subnets.append(net)
    if "mtu" in table:
        mtu = _expect(table["mtu"], int, (*path, "mtu"), f"{what}: mtu")
        if not 68 <= mtu <= 65535:
            raise _Problem((*path, "mtu"), f"{what}: mtu {mtu} is outside 68–65535")
        link.mtu = mtu
    _link_addresses(link, table.get("addresses", {}), path)
    impairs = table.get("impair", [])
    for i, imp in enumerate(_expect(impairs, list, (*path, "impair"), f"{what}: impair")):
        link.impair.append(_build_impairment(link, imp, (*path, "impair", i)))
    return link


def _link_addresses(link: Link, table: Any, path: Path_) -> None:
    """Explicit addresses first, then one per subnet for every node left without one."""
    what = f"link '{link.name}'"
    apath = (*path, "addresses")
    _expect(table, dict, apath, f"{what}: addresses")
    for node, value in table.items():
        if node not in link.nodes:
            raise _Problem(
                (*apath, node), f"{what}: address for '{node}', which is not on this link"
            )
        texts = (
            [value]
            if isinstance(value, str)
            else _expect(value, list, (*apath, node), f"{what}: addresses of '{node}'")
        )
        for text in texts:
            _expect(text, str, (*apath, node), f"{what}: address")
            link.addresses.setdefault(node, []).append(_interface(link, str(text), (*apath, node)))
    # Auto-assign: node i of the link gets host number i+1, skipping taken ones.
    for net in link.subnets:
        taken = {a.ip for addrs in link.addresses.values() for a in addrs}
        hosts = (h for h in net.hosts() if h not in taken)
        for node in link.nodes:
            if any(a.version == net.version for a in link.addresses.get(node, [])):
                continue
            try:
                ip = next(hosts)
            except StopIteration:
                raise _Problem(path, f"{what}: subnet {net} has too few addresses") from None
            link.addresses.setdefault(node, []).append(
                ipaddress.ip_interface(f"{ip}/{net.prefixlen}")
            )


def _interface(link: Link, text: str, path: Path_) -> IPInterface:
    what = f"link '{link.name}'"
    try:
        iface = ipaddress.ip_interface(text)
    except ValueError:
        raise _Problem(path, f"{what}: '{text}' is not an IP address") from None
    subnet = next((n for n in link.subnets if n.version == iface.version), None)
    if subnet is None:
        if "/" not in text:
            raise _Problem(
                path, f"{what}: address {text} needs a /prefix (or give the link a subnet)"
            )
        link.subnets.append(iface.network)
        return iface
    if "/" not in text:
        iface = ipaddress.ip_interface(f"{iface.ip}/{subnet.prefixlen}")
    if iface.ip not in subnet or iface.network != subnet:
        raise _Problem(path, f"{what}: address {text} is outside its subnet {subnet}")
    return iface


def _build_impairment(link: Link, table: Any, path: Path_) -> Impairment:
    what = f"link '{link.name}': impair"
    _expect(table, dict, path, what)
    _unknown_keys(table, IMPAIR_KEYS, path, what)
    src = table.get("from")
    if src not in link.nodes:
        raise _Problem((*path, "from"), f"{what}: 'from' must name a node of the link, not {src!r}")
    imp = Impairment(src=src)
    limits = {
        "delay_ms": 60_000,
        "jitter_ms": 60_000,
        "loss_pct": 100,
        "duplicate_pct": 100,
        "reorder_pct": 100,
        "loss_corr_pct": 100,
        "corrupt_pct": 100,
    }
    for key, top in limits.items():
        if key in table:
            value = _expect(table[key], (int, float), (*path, key), f"{what}: {key}")
            if not 0 <= value <= top:
                raise _Problem((*path, key), f"{what}: {key} {value} is outside 0–{top}")
            setattr(imp, key, float(value))
    if "rate_kbit" in table:
        rate = _expect(table["rate_kbit"], int, (*path, "rate_kbit"), f"{what}: rate_kbit")
        if rate < 8:
            raise _Problem((*path, "rate_kbit"), f"{what}: rate_kbit must be at least 8")
        imp.rate_kbit = rate
    if "limit" in table:
        limit = _expect(table["limit"], int, (*path, "limit"), f"{what}: limit")
        if not 1 <= limit <= 100_000:
            raise _Problem((*path, "limit"), f"{what}: limit {limit} is outside 1–100000 packets")
        imp.limit = limit
    if "seed" in table:
        seed = _expect(table["seed"], int, (*path, "seed"), f"{what}: seed")
        if not 0 <= seed < 2**63:
            raise _Problem((*path, "seed"), f"{what}: seed must be between 0 and 2^63-1")
        imp.seed = seed
    if "distribution" in table:
        dist = _expect(table["distribution"], str, (*path, "distribution"), f"{what}: distribution")
        if dist not in ("uniform", "normal"):
            raise _Problem((*path, "distribution"), f"{what}: distribution must be "
                           f"'uniform' or 'normal', not {dist!r}")  # fmt: skip
        imp.distribution = dist
    if imp.reorder_pct and not imp.delay_ms:
        raise _Problem(path, f"{what}: reorder needs a delay (netem reorders by not delaying)")
    if imp.jitter_ms > imp.delay_ms:
        raise _Problem(path, f"{what}: jitter_ms is larger than delay_ms")
    return imp


RECORD_TYPES = {"A", "AAAA", "NS", "MX", "TXT", "CNAME", "PTR", "SRV", "SOA", "CAA", "DS"}


def _record_line(record: Any, path: Path_) -> str:
    """A record as a zone-file line; a table {name, type, data} is turned into one.

    Long TXT data in table form is split into 255-byte character-strings, which is
    how a TXT record larger than 512 bytes (the TCP-fallback test) is written.
    """
    if isinstance(record, dict):
        _unknown_keys(record, {"name", "type", "data", "ttl"}, path, "record")
        rtype = str(record.get("type", "")).upper()
        data = _expect(record.get("data", ""), str, path, "record data")
        if rtype == "TXT":
            chunks = [data[i : i + 255] for i in range(0, len(data), 255)] or [""]
            data = " ".join('"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"' for c in chunks)
        ttl = f" {int(record['ttl'])}" if "ttl" in record else ""
        record = f"{record.get('name', '@')}{ttl} {rtype} {data}"
    _expect(record, str, path, "record")
    words = record.split()
    types = [w.upper() for w in words[1:3]]
    if len(words) < 3 or not any(t in RECORD_TYPES for t in types):
        raise _Problem(
            path,
            f"record '{record}' must read 'NAME [TTL] TYPE DATA' "
            f"with TYPE one of {', '.join(sorted(RECORD_TYPES))}",
        )
    return record


# ---------------------------------------------------------------------------
# Validation of the whole lab (cross references)


def _paths_for(doc: dict[str, Any]) -> dict[str, Path_]:
    """Where each node and link sits in the document, for error lines."""
    paths: dict[str, Path_] = {}
    for name in doc.get("nodes", {}):
        paths[f"node:{name}"] = ("nodes", name)
    for i, link in enumerate(doc.get("links", [])):
        nodes = link.get("nodes", []) if isinstance(link, dict) else []
        default = "-".join(map(str, nodes)) if len(nodes) == 2 else f"lan{i + 1}"
        paths[f"link:{link.get('name', default) if isinstance(link, dict) else i}"] = ("links", i)
    return paths


def validate(topo: Topology, paths: dict[str, Path_]) -> None:
    """Cross-checks: overlaps, duplicates, ranges, gateways, routes, services."""

    def at(kind: str, name: str, *rest: str | int) -> Path_:
        return (*paths.get(f"{kind}:{name}", ()), *rest)

    seen_links: set[str] = set()
    for link in topo.links:
        if link.name in seen_links:
            raise _Problem(at("link", link.name, "name"), f"link name '{link.name}' is used twice")
        seen_links.add(link.name)

    ranges = (*LAB_RANGES, *topo.extra_ranges)
    owners: list[tuple[IPNetwork, Link]] = []
    seen_ips: dict[IPAddress, str] = {}
    for link in topo.links:
        for net in link.subnets:
            if not any(net.version == r.version and net.subnet_of(r) for r in ranges):
                raise _Problem(
                    at("link", link.name, "subnet" if net.version == 4 else "subnet6"),
                    f"link '{link.name}': subnet {net} is outside the lab ranges "
                    "198.18.0.0/15 and 2001:db8::/32 (see allow_addresses)",
                )
            for other_net, other in owners:
                if net.version == other_net.version and net.overlaps(other_net):
                    raise _Problem(
                        at("link", link.name, "subnet"),
                        f"link '{link.name}': subnet {net} overlaps {other_net} "
                        f"of link '{other.name}'",
                    )
            owners.append((net, link))
        for node, addrs in link.addresses.items():
            for iface in addrs:
                net = iface.network
                if (
                    iface.version == 4
                    and net.prefixlen < 31
                    and iface.ip in (net.network_address, net.broadcast_address)
                ):
                    raise _Problem(
                        at("link", link.name, "addresses", node),
                        f"link '{link.name}': {iface.ip} is the network or broadcast "
                        f"address of {net}",
                    )
                if iface.ip in seen_ips:
                    raise _Problem(
                        at("link", link.name, "addresses", node),
                        f"link '{link.name}': address {iface.ip} of '{node}' is "
                        f"already used by '{seen_ips[iface.ip]}'",
                    )
                seen_ips[iface.ip] = node
            if link.mtu is not None and link.mtu < 1280 and any(a.version == 6 for a in addrs):
                raise _Problem(
                    at("link", link.name, "mtu"),
                    f"link '{link.name}': IPv6 needs an mtu of at least 1280",
                )

    for node in topo.nodes.values():
        _check_reachability(topo, node, at)
    _check_services(topo, at)


def _check_reachability(topo: Topology, node: Node, at) -> None:
    """Gateways and routes must point at a neighbour, and every lab subnet must be reachable."""
    mine = topo.addresses_of(node.name)
    connected = [a.network for a in mine]
    neighbours = {
        a.ip
        for link in topo.links_of(node.name)
        for other, addrs in link.addresses.items()
        if other != node.name
        for a in addrs
    }
    hops = [("gateway", node.gateway4), ("gateway6", node.gateway6)]
    hops += [(("routes", i), r.via) for i, r in enumerate(node.routes)]
    for key, hop in hops:
        if hop is None:
            continue
        path = at("node", node.name, *(key if isinstance(key, tuple) else (key,)))
        if not any(hop in net for net in connected):
            raise _Problem(path, f"node '{node.name}': next hop {hop} is not on any of its subnets")
        if hop not in neighbours:
            raise _Problem(
                path,
                f"node '{node.name}': next hop {hop} is not the address of a neighbouring node",
            )
    defaults = {4: node.gateway4 is not None, 6: node.gateway6 is not None}
    for route in node.routes:
        if route.to.prefixlen == 0:
            defaults[route.to.version] = True
    for net in topo.subnets():
        if not any(a.version == net.version for a in mine) or defaults[net.version]:
            continue
        if net in connected or any(
            net.subnet_of(r.to) for r in node.routes if r.to.version == net.version
        ):
            continue
        key = "gateway" if net.version == 4 else "gateway6"
        if node.forwards:
            raise _Problem(
                at("node", node.name),
                f"node '{node.name}': no route to {net} (add a route or a {key})",
            )
        raise _Problem(
            at("node", node.name),
            f"node '{node.name}': missing {key}: {net} is not on its links "
            "and it has no default gateway",
        )


def _check_services(topo: Topology, at) -> None:
    from netlab.lab.services import check_service, service_class

    for node in topo.nodes.values():
        taken: dict[tuple[str, int], int] = {}
        labels: dict[str, int] = {}
        for i, spec in enumerate(node.services):
            problem = check_service(topo, node, spec)
            if problem:
                raise _Problem(
                    at("node", node.name, "services", i),
                    f"node '{node.name}': service '{spec.type}': {problem}",
                )
            # The label names the service's folder, log and status line: one each.
            first = labels.setdefault(spec.label, i)
            if first != i:
                raise _Problem(at("node", node.name, "services", i),
                               f"node '{node.name}': service '{spec.label}' twice "
                               f"(#{first + 1} and #{i + 1}): one per node")  # fmt: skip
            for transport, port in service_class(spec.type).listens(spec):
                first = taken.setdefault((transport, port), i)
                if first != i:
                    other = node.services[first].type
                    raise _Problem(at("node", node.name, "services", i),
                                   f"node '{node.name}': service '{spec.type}' listens on "
                                   f"{transport}/{port}, as service '{other}' (#{first + 1}) "
                                   "does: give one another port")  # fmt: skip
    served = {
        str(spec.options.get("zone", ".")).strip(".") or "."
        for node in topo.nodes.values()
        for spec in node.services
        if spec.type == "dns" and spec.options.get("role") in ("root", "tld", "auth")
    }
    for name in topo.zones:
        if name not in served:
            raise _Problem(
                ("zones", name),
                f"zone '{name}' is not served by any dns service "
                '(add {type = "dns", role = "auth", zone = ...})',
            )
