"""Which interface, source address and next hop the kernel would use for a target.

Asked from the kernel (`ip -j route get`), never guessed: the answer includes
policy routing, VRFs and the namespace the command runs in (`lab exec`).
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import subprocess
from dataclasses import dataclass

from netlab.errors import InputError


@dataclass(frozen=True)
class Route:
    target: str  # the address asked about
    dev: str  # outgoing interface
    src: str  # source address the kernel would pick
    gateway: str | None  # next hop router, or None when the target is on-link
    family: int  # 4 or 6
    path_mtu: int | None = None  # learnt from an earlier "fragmentation needed", if any

    @property
    def next_hop(self) -> str:
        """The address whose MAC the frame goes to: the gateway, or the target itself."""
        return self.gateway or self.target


def scope_iface(name: str) -> str | None:
    """The interface a scoped address names ('fe80::1%eth0' -> 'eth0'), as iputils takes it."""
    addr, sep, scope = name.partition("%")
    return scope if sep and scope and ":" in addr else None


def resolve_target(name: str, family: int | None = None) -> tuple[str, int]:
    """An address for NAME (an address, possibly scoped, or a name from /etc/hosts or DNS)
    and its family. A scope ('%eth0') is left out of the address: see scope_iface."""
    if scope_iface(name):
        name = name.partition("%")[0]
    try:
        addr = ipaddress.ip_address(name)
        if family is not None and addr.version != family:
            raise InputError(f"'{name}' is an IPv{addr.version} address, not IPv{family}")
        return str(addr), addr.version
    except ValueError:
        pass
    if re.fullmatch(r"[0-9.]+", name) and name.count(".") == 3:
        # Dotted numbers are meant as an address: say what is wrong with it (as `cidr`
        # does), not "cannot resolve" after a DNS lookup of "300.1.1.1".
        from netlab.core.cidr import parse_prefix

        parse_prefix(name)  # raises the one-line reason (octet out of range, …)
    families = {4: socket.AF_INET, 6: socket.AF_INET6}
    try:
        infos = socket.getaddrinfo(name, None, families.get(family or 0, socket.AF_UNSPEC))
    except socket.gaierror as err:
        raise InputError(f"cannot resolve '{name}': {err.strerror}") from None
    # Prefer IPv4 when both exist and no family was asked for, as iputils ping does.
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    sockaddr = infos[0][4]
    return sockaddr[0], 4 if infos[0][0] == socket.AF_INET else 6


def route_to(target: str, iface: str | None = None) -> Route:
    """The kernel's route to TARGET (an address), optionally forced out of IFACE."""
    version = ipaddress.ip_address(target).version
    cmd = ["ip", "-j", f"-{version}", "route", "get", target]
    if iface:
        cmd += ["oif", iface]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=5)
    except FileNotFoundError:
        raise InputError("the 'ip' command (iproute2) is needed to look up routes") from None
    if proc.returncode != 0:
        why = " ".join(proc.stderr.split()) or "no route"
        raise InputError(f"no route to {target}: {why}")
    entries = json.loads(proc.stdout or "[]")
    if not entries:
        raise InputError(f"no route to {target}")
    entry = entries[0]
    if entry.get("type") in ("unreachable", "prohibit", "blackhole"):
        raise InputError(f"no route to {target}: the route is {entry['type']}")
    mtu = None
    for metric in entry.get("metrics", []):
        if isinstance(metric, dict) and "mtu" in metric:
            mtu = int(metric["mtu"])  # a path MTU the kernel learnt (cached "frag needed")
    return Route(
        target=target,
        dev=entry.get("dev", "lo"),
        src=entry.get("prefsrc") or entry.get("src") or "",
        gateway=entry.get("gateway"),
        family=version,
        path_mtu=mtu,
    )


def target_route(name: str, family: int | None = None,
                 iface: str | None = None) -> tuple[str, int, Route]:  # fmt: skip
    """NAME's address and family (resolve_target), and the kernel's route to it: out of
    IFACE, else out of the interface a scoped address names ('fe80::1%eth0'), as iputils."""
    addr, fam = resolve_target(name, family)
    return addr, fam, route_to(addr, iface or scope_iface(name))


def interface_addresses(dev: str) -> list[ipaddress.IPv4Interface | ipaddress.IPv6Interface]:
    """The addresses configured on DEV, with their prefix lengths."""
    proc = subprocess.run(
        ["ip", "-j", "addr", "show", "dev", dev], capture_output=True, text=True, timeout=5
    )
    out = []
    for link in json.loads(proc.stdout or "[]"):
        for info in link.get("addr_info", []):
            out.append(ipaddress.ip_interface(f"{info['local']}/{info['prefixlen']}"))
    return out


def neighbour(addr: str, dev: str) -> tuple[str | None, str | None]:
    """(MAC, state) of ADDR in the kernel's neighbour table on DEV, or (None, None)."""
    proc = subprocess.run(
        ["ip", "-j", "neigh", "show", "to", addr, "dev", dev],
        capture_output=True, text=True, timeout=5,
    )  # fmt: skip
    for entry in json.loads(proc.stdout or "[]"):
        state = entry.get("state", [])
        state = state[0] if isinstance(state, list) and state else str(state)
        return entry.get("lladdr"), state
    return None, None


def interface_mac(dev: str) -> str | None:
    try:
        with open(f"/sys/class/net/{dev}/address", encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return None


def interface_mtu(dev: str) -> int | None:
    try:
        with open(f"/sys/class/net/{dev}/mtu", encoding="ascii") as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def hold_source_port(family: int, src: str, port: int | None) -> socket.socket:
    """A bound, never listening, TCP socket on our source port (the kernel picks it when
    PORT is None): no real socket of this host can take it while we run, and the kernel
    resets whatever answers come to it. The caller closes it."""
    holder = socket.socket(socket.AF_INET if family == 4 else socket.AF_INET6, socket.SOCK_STREAM)
    try:
        holder.bind((src, port or 0))
    except OSError as err:
        holder.close()
        raise InputError(f"source port {port}: {err.strerror}") from None
    return holder


def is_broadcast(addr: str) -> bool:
    """The kernel's own answer, as iputils asks it: connecting a UDP socket to an IPv4
    broadcast address is refused (EACCES) without SO_BROADCAST."""
    import errno

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((addr, 1025))
        except OSError as err:
            return err.errno == errno.EACCES
    return False
