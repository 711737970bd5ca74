"""The shipped completion scripts are exactly what the click app generates today."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.conftest import ROOT, netlab_bin

FILES = {"bash": "netlab.bash", "zsh": "_netlab", "fish": "netlab.fish"}


@pytest.mark.parametrize("shell", sorted(FILES))
def test_completion_file_is_up_to_date(shell):
    generated = subprocess.run(
        [netlab_bin()],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, _NETLAB_COMPLETE=f"{shell}_source"),
    ).stdout
    shipped = (ROOT / "completions" / FILES[shell]).read_text()
    assert generated.strip() == shipped.strip(), (
        f"completions/{FILES[shell]} is stale: run `make completions`"
    )


def test_bash_completion_works_in_bash():
    # Source the shipped script in a real bash and complete `netlab ci<TAB>`.
    script = (
        f"source {ROOT / 'completions' / 'netlab.bash'}\n"
        "COMP_WORDS=(netlab ci); COMP_CWORD=1\n"
        "_netlab_completion netlab\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = dict(os.environ, PATH=f"{os.path.dirname(netlab_bin())}:{os.environ['PATH']}")
    out = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.stdout.split() == ["cidr"], out.stderr
