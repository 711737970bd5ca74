"""`pip install .` and `pipx install .` from the checkout give a working `netlab`.

Real installs into throw-away locations (PyPI is reachable on our machines and in CI);
slow, so marked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, require_tool

pytestmark = pytest.mark.slow


def copy_source(dest: Path) -> Path:
    # Build from a clean copy: what a fresh clone has, without .venv or caches.
    src = dest / "src"
    ignore = shutil.ignore_patterns(
        ".venv",
        ".git",
        "__pycache__",
        "*.egg-info",
        "build",
        ".hypothesis",
        ".pytest_cache",
        ".ruff_cache",
        "run",
    )
    shutil.copytree(ROOT, src, ignore=ignore)
    return src


def check_installed(netlab: Path) -> None:
    assert netlab.exists(), f"no console script at {netlab}"
    version = subprocess.run([netlab, "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("netlab ")
    doc = subprocess.run(
        [netlab, "cidr", "--json", "10.100.122.2/24"], capture_output=True, text=True, timeout=60
    )
    assert json.loads(doc.stdout)["broadcast"] == "10.100.122.255"
    bad = subprocess.run([netlab, "cidr", "foo"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2


def test_pip_install_dot(tmp_path):
    src = copy_source(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    pip = subprocess.run(
        [venv / "bin" / "pip", "install", "--quiet", "--disable-pip-version-check", str(src)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert pip.returncode == 0, pip.stderr[-2000:]
    check_installed(venv / "bin" / "netlab")
    # The wheel carries the package only, not tests/ or labs/ as top-level packages.
    site = next((venv / "lib").glob("python3*/site-packages"))
    assert (site / "netlab" / "cli" / "main.py").exists()
    assert not (site / "tests").exists()
    # And the runtime deps were declared: scapy et al. came with it.
    for dep in ("scapy", "click", "rich", "dpkt", "cryptography"):
        assert (site / dep).exists(), f"{dep} was not installed as a dependency"


def test_pipx_install_dot(tmp_path):
    pipx = require_tool("pipx")
    src = copy_source(tmp_path)
    env = dict(
        os.environ,
        PIPX_HOME=str(tmp_path / "pipx"),
        PIPX_BIN_DIR=str(tmp_path / "bin"),
        PIPX_MAN_DIR=str(tmp_path / "man"),
    )
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.run(
        [pipx, "install", str(src)], capture_output=True, text=True, env=env, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-2000:] + proc.stdout[-2000:]
    check_installed(tmp_path / "bin" / "netlab")
