"""Where dns-query's questions go: the system's nameserver, a server given by name, the
root hints — read from this host's files and resolver."""

from __future__ import annotations

# (at the top, not in the functions: `http` times host_address as curl's namelookup, and
# a first import of socket inside that window was a millisecond of it)
import socket


def server_address(text: str, error) -> str:
    """An address as given, or a host name resolved by the system (first address)."""
    import ipaddress

    try:
        return str(ipaddress.ip_address(text.split("%")[0]))
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(text, 53, type=socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError):
        raise error(f"cannot resolve server {text!r}") from None
    return infos[0][4][0]


def is_address(host: str) -> bool:
    """Whether HOST is an IP address as written (no name to resolve, none to send as SNI)."""
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def host_address(host: str, port: int, *, udp: bool = False, prefer_ipv4: bool = False,
                 family: int | None = None) -> str:  # fmt: skip
    """HOST's first address from the system resolver (IPv4 first when asked; only FAMILY's,
    4 or 6, when given: -4/-6). A name that does not resolve is a negative answer (exit 1),
    as curl and openssl treat it."""

    from netlab.errors import ExitStatus, NetlabError

    kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
    af = {4: socket.AF_INET, 6: socket.AF_INET6}.get(family or 0, socket.AF_UNSPEC)
    # An ASCII name goes as bytes: a str is encoded with the "idna" codec, whose first
    # use imports encodings.idna, stringprep and unicodedata (1 ms, which `http` would
    # count as the name lookup: curl's whole lookup of a lab name takes 0.4 ms).
    name = host.encode("ascii") if host.isascii() else host
    try:
        infos = socket.getaddrinfo(name, port, af, kind)
    except (OSError, UnicodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        what = f"no IPv{family} address for" if family else "cannot resolve host"
        raise NetlabError(f"{what} {host!r}: {reason}", ExitStatus.NO_ANSWER) from None
    if prefer_ipv4:
        infos.sort(key=lambda info: info[0] != socket.AF_INET)
    return infos[0][4][0]


def server_addresses(text: str, error, family: int = 0) -> list[str]:
    """Every address of SERVER, as dig's @server: an address as given, or all addresses of a
    name (the system's order, IPv6 first as a rule); FAMILY 4 or 6 keeps one family."""
    import ipaddress

    try:
        addrs = [str(ipaddress.ip_address(text.split("%")[0]))]
    except ValueError:
        try:
            infos = socket.getaddrinfo(text, 53, type=socket.SOCK_DGRAM)
        except (socket.gaierror, UnicodeError):
            raise error(f"cannot resolve server {text!r}") from None
        addrs = list(dict.fromkeys(info[4][0] for info in infos))
    kept = [a for a in addrs if not family or (":" in a) == (family == 6)]
    if not kept:
        raise error(f"server {text!r} has no IPv{family} address")
    return kept


def default_servers(path: str = "/etc/resolv.conf", family: int = 0) -> list[str]:
    """Every nameserver of resolv.conf in order (of FAMILY 4 or 6 when given), else 127.0.0.1."""
    servers = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver":
                    servers.append(parts[1].split("%")[0])
    except OSError:
        pass
    kept = [a for a in servers if not family or (":" in a) == (family == 6)]
    return kept or (["::1"] if family == 6 else ["127.0.0.1"])


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
