"""From a topology to concrete names and `ip`/`tc`/`nft` commands. Pure: no root, no I/O.

Names:
- a node's namespace is ``nl-<lab>-<node>``; the LAN switches of a lab share one
  namespace ``nl-<lab>_sw`` (node names cannot hold ``_``, so it never collides);
- a node's interfaces are ``eth0``, ``eth1`` … in the order of its links. They are
  created directly inside the namespaces (``ip link add … netns A type veth peer
  … netns B``), so no lab interface ever exists in the root namespace and their
  names cannot clash with the machine's; each carries its link name as ifalias;
- in the switch namespace a LAN is bridge ``br<i>`` with ports ``l<i>p<j>``
  (at most 15 characters, IFNAMSIZ);
- where impairments are emulated (no sch_netem), an impaired link is cut in two
  in the lab's hidden wire namespace ``nl-<lab>_wire``: splice ``k`` has the
  ends ``w<k>a`` (towards the impaired node) and ``w<k>b`` (towards its peer, or
  the LAN's switch port), and a link emulator process forwards between them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netlab.lab.topology import Impairment, Link, Topology

PREFIX = "nl-"


def netns_name(lab: str, node: str) -> str:
    return f"{PREFIX}{lab}-{node}"


def switch_netns(lab: str) -> str:
    return f"{PREFIX}{lab}_sw"


def wire_netns(lab: str) -> str:
    return f"{PREFIX}{lab}_wire"


@dataclass
class Plan:
    lab: str
    namespaces: list[str] = field(default_factory=list)
    root_batch: list[str] = field(default_factory=list)  # netns add, link add (veth pairs)
    ns_batches: dict[str, list[str]] = field(default_factory=dict)  # per-namespace `ip` lines
    sysctls: dict[str, dict[str, str]] = field(default_factory=dict)
    links: list[dict[str, str]] = field(default_factory=list)  # ledger records of veth pairs
    impairments: list[Impairing] = field(default_factory=list)
    emulations: list[Emulation] = field(default_factory=list)
    # Interfaces whose frames enter the wire namespace: their TX checksum offload is
    # turned off, so frames leave them with real checksums (and TSO with it, so no
    # 64 KB super-frames) — an AF_PACKET copy of a CHECKSUM_PARTIAL frame, sent on,
    # would reach the receiver with a wrong checksum.
    csum_off: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Splice:
    """One cut of a link: node end `a_ns:a_dev` ↔ wire `wire_a` | `wire_b` ↔ `b_ns:b_dev`.

    `ab` impairs frames from a towards b, `ba` the other way (None: passed as they are).
    """

    wire_a: str
    wire_b: str
    a_ns: str
    a_dev: str
    b_ns: str
    b_dev: str
    ab: Impairment | None
    ba: Impairment | None


@dataclass
class Emulation:
    """The splices of one link, served by one link emulator process."""

    link: str
    netns: str
    splices: list[Splice] = field(default_factory=list)


@dataclass
class Impairing:
    """Where one impairment goes: `src`'s egress (netem), or the far end's ingress.

    netem sits on the sender's interface. Where the kernel has no netem, loss is
    emulated with nftables on the ingress hook of the interface the packets arrive
    on (the peer's veth end, or the switch port of a LAN). On a LAN that drop is
    silent and in the middle of the path, like netem's; on a veth pair the
    receiver's packet taps still see the packet arrive before it is dropped (and an
    egress drop would be reported to the sending socket as ENOBUFS, which iputils
    ping retries), so lossy links are best written as two-host LANs.
    """

    netns: str
    dev: str
    peer_netns: str
    peer_dev: str
    imp: Impairment


def build_plan(topo: Topology, lab: str, emulate: bool = False) -> Plan:
    """The plan; `emulate`: impaired links go through the link emulator, not netem."""
    plan = Plan(lab=lab)
    for node in topo.nodes.values():
        ns = netns_name(lab, node.name)
        plan.namespaces.append(ns)
        plan.ns_batches[ns] = ["link set lo up"]
        sysctls = {
            # ICMP errors without rate limit: traceroute and fault tests see every one.
            "net.ipv4.icmp_ratelimit": "0",
            "net.ipv6.icmp.ratelimit": "0",
        }
        if node.forwards:
            sysctls |= {"net.ipv4.ip_forward": "1", "net.ipv6.conf.all.forwarding": "1"}
        # No duplicate address detection: the lab assigns every address, and DAD on the
        # link-local addresses would hold the first IPv6 packets back for a second.
        sysctls |= {"net.ipv6.conf.all.accept_dad": "0", "net.ipv6.conf.default.accept_dad": "0"}
        for ifname, _ in topo.interfaces(node.name):
            sysctls[f"net.ipv6.conf.{ifname}.accept_dad"] = "0"
        plan.sysctls[ns] = sysctls
    lans = [link for link in topo.links if link.is_lan]
    sw = switch_netns(lab)
    if lans:
        plan.namespaces.append(sw)
        # The switch only forwards frames: no IPv6 of its own (no RS/MLD noise on the LAN).
        plan.sysctls[sw] = {
            "net.ipv6.conf.all.disable_ipv6": "1",
            "net.ipv6.conf.default.disable_ipv6": "1",
        }
        plan.ns_batches[sw] = ["link set lo up"]
    wire = wire_netns(lab)
    if emulate and any(link.impair for link in topo.links):
        plan.namespaces.append(wire)
        # Like the switch: frames only pass through, the namespace says nothing itself.
        plan.sysctls[wire] = {
            "net.ipv6.conf.all.disable_ipv6": "1",
            "net.ipv6.conf.default.disable_ipv6": "1",
        }
        plan.ns_batches[wire] = ["link set lo up"]
    plan.root_batch = [f"netns add {ns}" for ns in plan.namespaces]
    emulations: dict[str, Emulation] = {}

    def splice(
        link: Link,
        a: tuple[str, str],
        b: tuple[str, str],
        ab: Impairment | None,
        ba: Impairment | None,
    ) -> None:
        emu = emulations.setdefault(link.name, Emulation(link.name, wire))
        k = sum(len(e.splices) for e in emulations.values())
        s = Splice(f"w{k}a", f"w{k}b", a[0], a[1], b[0], b[1], ab, ba)
        emu.splices.append(s)
        _veth(plan, a[0], a[1], wire, s.wire_a, link.name)
        _veth(plan, b[0], b[1], wire, s.wire_b, link.name)
        for dev in (s.wire_a, s.wire_b):
            if link.mtu:
                plan.ns_batches[wire].append(f"link set {dev} mtu {link.mtu}")
            plan.ns_batches[wire].append(f"link set {dev} up")
        plan.csum_off += [a, b]

    def impair_of(link: Link, node: str) -> Impairment | None:
        return next((imp for imp in link.impair if imp.src == node), None) if emulate else None

    ifnames = {
        node: dict((link.name, ifname) for ifname, link in topo.interfaces(node))
        for node in topo.nodes
    }
    ports: dict[tuple[str, str], str] = {}  # (link, node) → switch port
    for lan_index, link in enumerate(lans):
        bridge = f"br{lan_index}"
        plan.ns_batches[sw] += [
            f"link add {bridge} type bridge",
            f"link set {bridge} alias {link.name}",
        ]
        for port_index, node in enumerate(link.nodes):
            port = f"l{lan_index}p{port_index}"
            ports[(link.name, node)] = port
            dev = ifnames[node][link.name]
            imp = impair_of(link, node)
            if imp is not None:
                # The emulator between the node and its switch port impairs what the
                # node sends onto the LAN, as netem on the node's interface would.
                splice(link, (netns_name(lab, node), dev), (sw, port), imp, None)
            else:
                _veth(plan, netns_name(lab, node), dev, sw, port, link.name)
            plan.ns_batches[sw] += [f"link set {port} master {bridge}", f"link set {port} up"]
            if link.mtu:
                plan.ns_batches[sw].append(f"link set {port} mtu {link.mtu}")
        if link.mtu:
            plan.ns_batches[sw].append(f"link set {bridge} mtu {link.mtu}")
        plan.ns_batches[sw].append(f"link set {bridge} up")
    for link in topo.links:
        if not link.is_lan:
            a, b = link.nodes
            ab, ba = impair_of(link, a), impair_of(link, b)
            if ab is not None or ba is not None:
                end_a = (netns_name(lab, a), ifnames[a][link.name])
                splice(link, end_a, (netns_name(lab, b), ifnames[b][link.name]), ab, ba)
                continue
            _veth(
                plan,
                netns_name(lab, a),
                ifnames[a][link.name],
                netns_name(lab, b),
                ifnames[b][link.name],
                link.name,
            )

    for node in topo.nodes.values():
        ns = netns_name(lab, node.name)
        lines = plan.ns_batches[ns]
        for ifname, link in topo.interfaces(node.name):
            lines.append(f"link set {ifname} alias {link.name}")
            if link.mtu:
                lines.append(f"link set {ifname} mtu {link.mtu}")
            for iface in link.addresses.get(node.name, []):
                # nodad: an IPv6 address is usable at once, no 1–2 s wait for DAD.
                nodad = " nodad" if iface.version == 6 else ""
                lines.append(f"address add {iface.with_prefixlen} dev {ifname}{nodad}")
            lines.append(f"link set {ifname} up")
        if node.gateway4:
            lines.append(f"route add default via {node.gateway4}")
        if node.gateway6:
            lines.append(f"route add ::/0 via {node.gateway6}")
        for route in node.routes:
            lines.append(f"route add {route.to} via {route.via}")
        for link in topo.links_of(node.name):
            for imp in link.impair if not emulate else ():
                if imp.src != node.name:
                    continue
                if link.is_lan:
                    peer_ns, peer_dev = sw, ports[(link.name, node.name)]
                else:
                    peer = next(n for n in link.nodes if n != node.name)
                    peer_ns, peer_dev = netns_name(lab, peer), ifnames[peer][link.name]
                plan.impairments.append(
                    Impairing(ns, ifnames[node.name][link.name], peer_ns, peer_dev, imp)
                )
    plan.emulations = list(emulations.values())
    return plan


def _veth(plan: Plan, ns_a: str, dev_a: str, ns_b: str, dev_b: str, link: str) -> None:
    plan.root_batch.append(
        f"link add {dev_a} netns {ns_a} type veth peer name {dev_b} netns {ns_b}"
    )
    plan.links.append({"link": link, "a": f"{ns_a}:{dev_a}", "b": f"{ns_b}:{dev_b}"})


def netem_args(imp: Impairment) -> list[str]:
    """`tc qdisc … netem` arguments for one impairment."""
    args: list[str] = []
    if imp.delay_ms:
        args += ["delay", f"{imp.delay_ms:g}ms"]
        if imp.jitter_ms:
            args.append(f"{imp.jitter_ms:g}ms")
        if imp.jitter_ms and imp.distribution != "uniform":
            args += ["distribution", imp.distribution]
    if imp.limit != 1000:
        args = ["limit", str(imp.limit), *args]
    if imp.loss_pct:
        args += ["loss", f"{imp.loss_pct:g}%"]
        if imp.loss_corr_pct:
            args.append(f"{imp.loss_corr_pct:g}%")
    if imp.corrupt_pct:
        args += ["corrupt", f"{imp.corrupt_pct:g}%"]
    if imp.duplicate_pct:
        args += ["duplicate", f"{imp.duplicate_pct:g}%"]
    if imp.reorder_pct:
        args += ["reorder", f"{imp.reorder_pct:g}%"]
    if imp.rate_kbit:
        args += ["rate", f"{imp.rate_kbit}kbit"]
    if imp.seed is not None:
        args += ["seed", str(imp.seed)]
    return args or ["delay", "0ms"]


def nft_loss_ruleset(dev: str, loss_pct: float) -> str:
    """Fallback loss for kernels without netem: drop at random on the ingress hook."""
    per_10k = round(loss_pct * 100)
    table = f"nl_{dev}"
    return (
        f"table netdev {table} {{\n"
        f"  chain ingress {{\n"
        f'    type filter hook ingress device "{dev}" priority 0;\n'
        f"    numgen random mod 10000 < {per_10k} drop\n"
        f"  }}\n"
        f"}}\n"
    )


def tbf_args(rate_kbit: int) -> list[str]:
    burst = max(1600, rate_kbit * 1000 // 8 // 100)  # ≈10 ms of traffic, at least one frame
    return ["tbf", "rate", f"{rate_kbit}kbit", "burst", str(burst), "latency", "100ms"]


def link_summary(link: Link) -> dict[str, object]:
    return {
        "name": link.name,
        "kind": link.kind,
        "nodes": link.nodes,
        "subnets": [str(n) for n in link.subnets],
        "mtu": link.mtu or 1500,
        "impair": [imp.to_dict() for imp in link.impair],
    }
