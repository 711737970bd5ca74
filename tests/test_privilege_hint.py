"""The exit-3 hint and `make caps`: raw sockets for netlab's own interpreter only (issue 21).

A venv's python3 is a link to the system's: `setcap` on what it resolves to would give
raw sockets to every Python program on the machine. The hint names `make caps`, which
makes a venv whose python3 is a copy, with the capabilities on that copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator

import pytest

from tests.conftest import ROOT, netlab_bin, require_root, require_tool

NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all")


def test_hint_from_a_linked_venv_names_make_caps_not_the_system_python():
    from netlab.net.privilege import grant_hint

    assert os.path.islink(sys.executable)  # the test venv: python3 -> /usr/bin/python3
    hint = grant_hint()
    assert f"sudo make -C {ROOT} caps" in hint and f"{ROOT}/.venv-caps/bin/netlab" in hint
    assert os.path.realpath(sys.executable) not in hint and "setcap" not in hint


@pytest.fixture(scope="module")
def caps_venv() -> Iterator[str]:
    """`make caps` into a fresh folder that the nobody user can reach."""
    require_root()
    for tool in ("make", "setcap", "getcap", "setpriv"):
        require_tool(tool)
    where = tempfile.mkdtemp(prefix="netlab-caps-", dir="/tmp")
    os.chmod(where, 0o755)
    venv = os.path.join(where, "venv")
    try:
        # -o: the main venv counts as made (a test never reinstalls it).
        out = subprocess.run(["make", "-C", str(ROOT), "caps", f"CAPS_VENV={venv}", "-o",
                              ".venv/.installed"], capture_output=True, text=True,
                             timeout=60)  # fmt: skip
        assert out.returncode == 0, out.stderr
        yield venv
    finally:
        shutil.rmtree(where, ignore_errors=True)


def _getcap(path: str) -> str:
    return subprocess.run(["getcap", path], capture_output=True, text=True).stdout


def test_make_caps_sets_capabilities_on_a_copy_only(caps_venv):
    python3 = os.path.join(caps_venv, "bin", "python3")
    assert not os.path.islink(python3) and os.path.realpath(python3) == python3
    assert "cap_net_admin,cap_net_raw=ep" in _getcap(python3)
    system = os.path.realpath(sys.executable)
    assert _getcap(system) == "" and _getcap(os.path.join(caps_venv, "bin", "python3.11")) == ""
    # Its hint, if ever refused, names this copy.
    hint = subprocess.run([python3, "-c", "from netlab.net.privilege import grant_hint; "
                           "print(grant_hint())"], capture_output=True, text=True)  # fmt: skip
    assert f"setcap cap_net_raw,cap_net_admin+ep {python3}" in hint.stdout, hint.stderr


def test_nobody_traces_and_pings_with_raw_sockets_through_the_copy(caps_venv):
    netlab = os.path.join(caps_venv, "bin", "netlab")
    refused = subprocess.run([*NOBODY, netlab_bin(), "traceroute", "-I", "127.0.0.1"],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert refused.returncode == 3, refused.stderr  # the ordinary venv: no capability
    trace = subprocess.run([*NOBODY, netlab, "traceroute", "-I", "-q", "1", "127.0.0.1"],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert trace.returncode == 0, trace.stderr
    assert trace.stdout.splitlines()[1].split()[:2] == ["1", "127.0.0.1"]
    ping = subprocess.run([*NOBODY, netlab, "ping", "-c", "1", "127.0.0.1"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert ping.returncode == 0, ping.stderr
    assert "unprivileged" not in ping.stderr  # raw sockets, not the ICMP datagram socket
