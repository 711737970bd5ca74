"""`--explain`: the course's forwarding decision, in words, before the first packet.

1. Is the target on the same subnet as one of the outgoing interface's addresses
   (address AND netmask)? Then it is delivered directly; otherwise to the gateway.
2. The next hop's MAC address: from the kernel's neighbour table, or, when it is
   not there yet, the kernel resolves it (ARP for IPv4, neighbour discovery for
   IPv6) before the first packet leaves; `ping --explain` then runs that exchange
   itself and shows it.
"""

from __future__ import annotations

import ipaddress

from netlab.net.route import Route, interface_addresses, interface_mac, neighbour


def explain_route(target: str, route: Route) -> list[str]:
    addr = ipaddress.ip_address(target)
    lines = [f"route to {target}: out of {route.dev}, source {route.src or '?'}"]
    same = [i for i in interface_addresses(route.dev) if addr in i.network]
    if route.dev == "lo" or addr.is_loopback:
        lines.append("  loopback: the packet never leaves this host")
        return lines
    if same and route.gateway is None:
        i = same[0]
        lines.append(
            f"  {target} AND {i.netmask} = {i.network.network_address}: the same subnet as "
            f"{route.dev}'s {i.with_prefixlen} -> delivered directly (on-link)"
        )
    else:
        nets = ", ".join(i.with_prefixlen for i in interface_addresses(route.dev)) or "none"
        lines.append(
            f"  not on {route.dev}'s subnets ({nets}) -> sent to the gateway {route.gateway}"
        )
    lines.append(f"  our MAC on {route.dev}: {interface_mac(route.dev) or '?'}")
    hop = route.next_hop
    mac, state = neighbour(hop, route.dev)
    proto = "ARP" if addr.version == 4 else "neighbour discovery"
    if mac:
        lines.append(f"  next hop {hop} is at {mac} (neighbour table: {state})")
    else:
        lines.append(
            f"  next hop {hop}: not in the neighbour table yet; the kernel resolves it with "
            f"{proto} before the first packet, as netlab does now:"
        )
    return lines
