"""The dissector's hot modules, compiled with Cython where the machine could build them.

setup.py compiles each module in MODULES from its own .py (the source of truth, and
what runs anywhere the build did not happen), typed by the .pxd beside it where there
is one (Cython's "augmenting .pxd": C types for the classes and functions that run per
packet, leaving the .py plain Python). `make setup` builds them in place.

A compiled module is used only while it is newer than its .py and .pxd, and than the
.pxd of each module its own .pxd cimports (whose C layout is built into it), and while
those are in use compiled too: after an edit, the module runs as Python until the next
`make setup`, never as a stale build, nor as a build expecting a class the edit made
Python (the Finder below steps in before Python's own finder, which would take the .so).
NETLAB_PURE=1 in the environment ignores every compiled module:
tests/test_compiled.py holds the two to the same output.
"""

from __future__ import annotations

import os
import sys

MODULES = (
    "netlab.capture.pcapng",
    "netlab.dissect.arp",
    "netlab.dissect.base",
    "netlab.dissect.bittorrent",
    "netlab.dissect.bt_dht",
    "netlab.dissect.dns",
    "netlab.dissect.engine",
    "netlab.dissect.ftp",
    "netlab.dissect.http",
    "netlab.dissect.http2",
    "netlab.dissect.icmp",
    "netlab.dissect.ip",
    "netlab.dissect.ipv6",
    "netlab.dissect.link",
    "netlab.dissect.model",
    "netlab.dissect.registry",
    "netlab.dissect.rtmp",
    "netlab.dissect.tcp",
    "netlab.dissect.tls",
    "netlab.dissect.udp",
    "netlab.dissect.udp_tracker",
    "netlab.outio",
    "netlab.render.packets",
    "netlab.wire.amf0",
    "netlab.wire.bencode",
    "netlab.wire.cursor",
    "netlab.wire.dns",
    "netlab.wire.flv",
    "netlab.wire.rtmp",
    "netlab.wire.tcp_options",
    "netlab.wire.tls",
)
_WANTED = frozenset(MODULES)
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def source(name: str) -> str:
    """The .py of module NAME (a dotted name in MODULES)."""
    return os.path.join(_ROOT, *name.split(".")) + ".py"


def built(name: str) -> str:
    """Where the compiled module NAME is (whether or not it is there)."""
    from importlib.machinery import EXTENSION_SUFFIXES

    return source(name)[:-3] + EXTENSION_SUFFIXES[0]


def fresh(py: str, so: str) -> bool:
    """Whether the compiled file SO is there and newer than the .py and .pxd it was
    made from (as make decides)."""
    try:
        made = os.stat(so).st_mtime_ns
    except OSError:
        return False
    try:
        if os.stat(py).st_mtime_ns > made:
            return False
        return os.stat(py[:-3] + ".pxd").st_mtime_ns <= made
    except FileNotFoundError:  # (no .pxd: an untyped module)
        return True


def cimports(name: str) -> list[str]:
    """The modules of MODULES that NAME's .pxd cimports ("from netlab.wire.cursor
    cimport Cursor")."""
    try:
        with open(source(name)[:-3] + ".pxd", encoding="utf-8") as f:
            lines = f.readlines()
    except FileNotFoundError:
        return []
    words = [line.split() for line in lines]
    return [w[1] for w in words if len(w) >= 3 and w[0] == "from" and w[2] == "cimport"
            and w[1] in _WANTED]  # fmt: skip


def usable(name: str) -> bool:
    """Whether the compiled NAME may be imported: fresh against its own sources and the
    C declarations (.pxd) of what it cimports, which must be usable compiled as well."""
    so = built(name)
    return fresh(source(name), so) and all(
        _older(source(dep)[:-3] + ".pxd", so) and usable(dep) for dep in cimports(name)
    )


def _older(path: str, so: str) -> bool:
    try:
        return os.stat(path).st_mtime_ns <= os.stat(so).st_mtime_ns
    except FileNotFoundError:
        return False


class Finder:
    """A meta path finder for MODULES only: None (Python's finder takes the .so) when the
    compiled module is fresh, else a spec for the .py."""

    pure = os.environ.get("NETLAB_PURE", "") not in ("", "0")

    @classmethod
    def find_spec(cls, name: str, path=None, target=None):
        if name not in _WANTED:
            return None
        py = source(name)
        if not cls.pure and usable(name):
            return None
        from importlib.util import spec_from_file_location

        return spec_from_file_location(name, py)


def install() -> None:
    """Put the Finder first (once); netlab/__init__.py calls it."""
    if Finder not in sys.meta_path:
        sys.meta_path.insert(0, Finder)


def in_use(name: str) -> bool:
    """Whether the imported module NAME is the compiled one."""
    module = sys.modules.get(name)
    return module is not None and not (module.__file__ or "").endswith(".py")
