"""The bundled lab scripts (labs/*.sh) pass: each brings its lab up, asserts the course's
claim, and tears down. They run exactly as a user runs them, with netlab on PATH."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, require_root

SCRIPTS = sorted((ROOT / "labs").glob("*.sh"))


@pytest.mark.lab
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_lab_script_passes(script: Path):
    require_root()
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env,
                          timeout=180, cwd=ROOT)  # fmt: skip
    assert proc.returncode == 0, (
        f"{script.name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    leftovers = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"nl-{script.stem}-" not in leftovers, f"{script.name} left namespaces: {leftovers}"


def test_every_bundled_lab_has_a_script():
    tomls = {p.stem for p in (ROOT / "labs").glob("*.toml")}
    assert tomls and tomls == {p.stem for p in SCRIPTS}
