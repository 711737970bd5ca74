"""Where dns-query's questions go: the system's nameserver, a server given by name, the
root hints — read from this host's files and resolver."""

from __future__ import annotations


def server_address(text: str, error) -> str:
    """An address as given, or a host name resolved by the system (first address)."""
    import ipaddress
    import socket

    try:
        return str(ipaddress.ip_address(text.split("%")[0]))
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(text, 53, type=socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError):
        raise error(f"cannot resolve server {text!r}") from None
    return infos[0][4][0]


def default_server(path: str = "/etc/resolv.conf") -> str:
    """The first nameserver of resolv.conf (inside `lab exec`: the lab's), else 127.0.0.1."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver":
                    return parts[1].split("%")[0]
    except OSError:
        pass
    return "127.0.0.1"


def root_hints(path: str = "/usr/share/dns/root.hints") -> list[tuple[str, str]]:
    """(name, IPv4 address) of the root servers in the system's hints file."""
    servers = []
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 4 and parts[-2] == "A" and not line.startswith(";"):
                    servers.append((parts[0].lower(), parts[-1]))
    except OSError:
        pass
    return servers or [("a.root-servers.net.", "198.41.0.4")]
