"""Privilege checks: can this process open raw sockets or change network state?

We ask the kernel instead of guessing from the uid: root without CAP_NET_RAW
(a container, `setpriv --inh-caps=-all`) cannot send raw packets, and an
unprivileged interpreter with file capabilities can. The check opens and
closes the socket the command is about to need.
"""

from __future__ import annotations

import os
import socket
import sys

from netlab.errors import PrivilegeError

CAP_NET_RAW = 13
CAP_NET_ADMIN = 12
CAP_SYS_ADMIN = 21


def _interpreter() -> str:
    # File capabilities must sit on the real interpreter binary, not on a venv symlink.
    return os.path.realpath(sys.executable)


def grant_hint(caps: str = "cap_net_raw,cap_net_admin+ep") -> str:
    return f"run as root, or grant the capability: sudo setcap {caps} {_interpreter()}"


def effective_capabilities() -> int:
    """The CapEff bitmask of this process (0 if /proc is unreadable)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


def has_capability(cap: int) -> bool:
    return bool(effective_capabilities() >> cap & 1)


def can_open_raw_socket(family: int = socket.AF_INET) -> bool:
    proto = socket.IPPROTO_ICMP if family == socket.AF_INET else socket.IPPROTO_ICMPV6
    try:
        socket.socket(family, socket.SOCK_RAW, proto).close()
    except PermissionError:
        return False
    except OSError:
        # Not a permission problem (e.g. no IPv6 in this kernel): let the command report it.
        return True
    return True


def require_raw_socket(what: str = "this command", family: int = socket.AF_INET) -> None:
    """Exit 3 with the fix when raw sockets (CAP_NET_RAW) are refused."""
    if not can_open_raw_socket(family):
        raise PrivilegeError(
            f"{what} needs raw sockets (CAP_NET_RAW), which this process lacks; " + grant_hint()
        )


def require_net_admin(what: str = "this command") -> None:
    """Exit 3 with the fix when CAP_NET_ADMIN (nftables, namespaces, links) is missing."""
    if not has_capability(CAP_NET_ADMIN):
        raise PrivilegeError(
            f"{what} changes network configuration and needs CAP_NET_ADMIN, which this "
            "process lacks; " + grant_hint()
        )
