"""The lab's name files: an /etc/hosts and an /etc/resolv.conf for every node.

`ip netns exec NS …` bind-mounts each file of /etc/netns/NS/ over the file of
the same name in /etc, for that process only. So the engine writes these texts
to /etc/netns/nl-<lab>-<node>/{hosts,resolv.conf} (ledger items, removed on
`down`), and every command or service run in a node resolves the lab's names
(`ping server`) and asks the lab's resolver, with nothing changed for the machine.
"""

from __future__ import annotations

from netlab.lab.topology import Topology


def hosts_text(topo: Topology, lab: str | None = None) -> str:
    """LAB: the running lab's name (`lab up --name`), default the topology's."""
    lines = [
        f"# netlab lab '{lab or topo.name}': generated, removed by `netlab lab down`",
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
    ]
    # First every node's "name" address (its first IPv4, then first IPv6), so that
    # `ping server` picks it; then the other addresses, so that traceroute shows
    # router names for each hop.
    rest = []
    for name in topo.nodes:
        first = {topo.address(name, 4), topo.address(name, 6)}
        for iface in topo.addresses_of(name):
            line = f"{iface.ip}\t{name}"
            (lines if iface.ip in first else rest).append(line)
    return "\n".join(lines + rest) + "\n"


def resolver_node(topo: Topology) -> str | None:
    for node in topo.nodes.values():
        for spec in node.services:
            if spec.type == "dns" and spec.options.get("role") == "resolver":
                return node.name
    return None


def resolv_text(topo: Topology, lab: str | None = None) -> str:
    head = f"# netlab lab '{lab or topo.name}': generated, removed by `netlab lab down`\n"
    resolver = resolver_node(topo)
    if resolver is None:
        # No resolver in this lab: point at the node itself, where nothing listens,
        # so lookups fail at once instead of waiting for the machine's unreachable one.
        return head + "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"
    addrs = [a for a in (topo.address(resolver, 4), topo.address(resolver, 6)) if a]
    return head + "".join(f"nameserver {a}\n" for a in addrs)
