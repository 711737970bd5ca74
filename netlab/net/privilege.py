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


CAPS = "cap_net_raw,cap_net_admin+ep"
CAPS_VENV = ".venv-caps"  # the Makefile's `make caps`


def _own_interpreter() -> str | None:
    """This interpreter's binary when it is a venv's own copy (`venv --copies`): setcap on
    it gives raw sockets to that venv only. None when it is (a link to) a shared python."""
    if sys.prefix == sys.base_prefix:
        return None  # the system's (or pyenv's) python: shared by every program
    real = os.path.realpath(sys.executable)
    inside = os.path.commonpath([real, os.path.realpath(sys.prefix)])
    return real if inside == os.path.realpath(sys.prefix) else None


def _checkout() -> str | None:
    """The source checkout netlab runs from (an editable install), if it has `make caps`."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    root = os.path.dirname(root)
    try:
        with open(os.path.join(root, "Makefile"), encoding="utf-8") as makefile:
            return root if "\ncaps:" in makefile.read() else None
    except OSError:
        return None


def grant_hint(caps: str = CAPS) -> str:
    """How to get the capability without giving it to every Python program: never
    setcap on the system's python3, only on a copy of it in netlab's own venv."""
    own = _own_interpreter()
    if own is not None:
        return f"run as root, or grant it to this venv's own interpreter: sudo setcap {caps} {own}"
    root = _checkout()
    if root is not None:
        return (f"run as root, or give netlab an interpreter of its own that has it: "
                f"sudo make -C {root} caps (a copy of python3 in {root}/{CAPS_VENV}, not the "
                f"system's), then run {root}/{CAPS_VENV}/bin/netlab")  # fmt: skip
    return ("run as root, or give netlab an interpreter of its own that has it: "
            "python3 -m venv --copies DIR && DIR/bin/pip install netlab-toolkit && "
            f"sudo setcap {caps} DIR/bin/python3 (a copy, not the system's python3)")  # fmt: skip


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
