"""`ping --explain`: the next hop's MAC when the kernel has none for it yet, asked for
the way the kernel is about to ask (ARP for IPv4, neighbour discovery for IPv6)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netlab.net.route import Route, interface_mac, neighbour


@dataclass
class Solicitation:
    """One question to the next hop: our MAC, the core that asked (NDP: its solicited-node
    group and that group's MAC), and the first reply, or None after the timeout."""

    mac: str
    core: Any
    reply: Any = None


def solicit_next_hop(route: Route, timeout: float = 1.0) -> Solicitation | None:
    """Ask ROUTE's next hop for its MAC, on ROUTE's interface, waiting up to TIMEOUT. None
    when there is nothing to ask: loopback, a hop already in the neighbour table, or an
    interface without a MAC or the route without a source address."""
    if route.dev == "lo" or neighbour(route.next_hop, route.dev)[0]:
        return None
    mac = interface_mac(route.dev)
    if not mac or not route.src:
        return None
    if route.family == 4:
        from netlab.core.arp import ArpingCore

        core: Any = ArpingCore(mac=mac, src=route.src, target=route.next_hop, count=1,
                               timeout=timeout)  # fmt: skip
    else:
        from netlab.core.ndisc import NdiscCore

        core = NdiscCore(mac=mac, src=route.src, target=route.next_hop, timeout=timeout)
    from netlab.net.runner import Runner

    asked = Solicitation(mac, core)
    Runner(route.dev).run(core, lambda event: _first_reply(asked, event))
    return asked


def _first_reply(asked: Solicitation, event: Any) -> None:
    if event.type == "reply" and asked.reply is None:
        asked.reply = event
