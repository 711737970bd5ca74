"""This host's interfaces and their IPv4 addresses, as ARP commands need them.

Read once per command from `ip -j addr` (iproute2's JSON), which gives link type,
flags and every address in ifindex order, as arping and arp-scan pick them.
"""

from __future__ import annotations

_interfaces: list[dict] | None = None


def local_interfaces() -> list[dict]:
    """Interfaces with link type, flags and addresses (`ip -j addr`), in ifindex order."""
    global _interfaces  # one `ip` run per command
    if _interfaces is None:
        import json
        import subprocess

        proc = subprocess.run(["ip", "-j", "addr", "show"], capture_output=True, text=True,
                              timeout=5)  # fmt: skip
        _interfaces = json.loads(proc.stdout or "[]")
    return _interfaces


def ipv4_addresses(link: dict) -> list:
    import ipaddress

    return [ipaddress.ip_interface(f"{a['local']}/{a['prefixlen']}")
            for a in link.get("addr_info", []) if a.get("family") == "inet"]  # fmt: skip


def default_ether() -> dict:
    """The first interface that is up, Ethernet and has IPv4 (as arp-scan picks one)."""
    from netlab.errors import InputError

    for link in local_interfaces():
        if (
            link.get("link_type") == "ether"
            and "UP" in link.get("flags", [])
            and ipv4_addresses(link)
        ):
            return link
    raise InputError("no Ethernet interface with an IPv4 address is up: choose one with -I")


def link_named(iface: str) -> dict:
    for link in local_interfaces():
        if link.get("ifname") == iface:
            return link
    return {"ifname": iface}


def holds(iface: str, addr: str) -> bool:
    """Is ADDR one of IFACE's IPv4 addresses?"""
    return any(str(a.ip) == addr for a in ipv4_addresses(link_named(iface)))


def iface_for(target: str, iface: str | None) -> str:
    """-I, else the interface that holds TARGET, else the one the route to it leaves by."""
    if iface:
        return iface
    for link in local_interfaces():
        if link.get("link_type") != "loopback" and any(
            str(a.ip) == target for a in ipv4_addresses(link)
        ):
            return link["ifname"]
    from netlab.net.route import route_to

    return route_to(target).dev


def ether_mac(iface: str) -> str:
    """IFACE's MAC, after checking that it exists and carries Ethernet (ARP's hardware type)."""
    from netlab.capture.live import ARPHRD_ETHER, arphrd, interface_index
    from netlab.errors import InputError
    from netlab.net.route import interface_mac

    interface_index(iface)  # "no such interface" as a one-line error
    if arphrd(iface) != ARPHRD_ETHER:
        raise InputError(f"ARP needs an Ethernet interface: '{iface}' is not one (choose with -I)")
    mac = interface_mac(iface)
    if not mac:
        raise InputError(f"cannot read the MAC address of '{iface}'")
    return mac


def source_for(target: str, iface: str) -> tuple[str, str | None]:
    """(our address towards TARGET on IFACE, its gateway if TARGET is not on-link)."""
    import ipaddress

    from netlab.errors import InputError
    from netlab.net.route import route_to

    try:
        route = route_to(target, iface)
        if route.src and route.dev == iface:
            return route.src, route.gateway
    except InputError:
        pass  # no route out of IFACE (e.g. -I to a segment without one): its own address
    addrs = ipv4_addresses(link_named(iface))
    for a in addrs:
        if ipaddress.ip_address(target) in a.network:
            return str(a.ip), None
    if addrs:
        return str(addrs[0].ip), None
    raise InputError(f"'{iface}' has no IPv4 address to send from: give one with -s")
