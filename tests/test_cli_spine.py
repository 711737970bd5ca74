"""The CLI spine: lazy start-up, one-line errors, exit codes, JSON on Ctrl-C, privileges."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import netlab
from netlab.cli.main import COMMANDS, cli
from tests.cmd_fixtures import RUNNER
from tests.conftest import ROOT, netlab_bin

HEAVY = ("scapy", "rich", "dpkt", "cryptography")


def run(args, env=None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [netlab_bin(), *args], capture_output=True, text=True, env=env, timeout=60, **kw
    )


def imported_modules(argv: list[str], extra_env: dict[str, str] | None = None) -> set[str]:
    """Run the real console script with -X importtime and list every module it imported."""
    env = dict(os.environ, PYTHONPROFILEIMPORTTIME="1", **(extra_env or {}))
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    modules = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "package":  # the header line
                modules.add(name.split(".")[0])
    assert modules, f"no import trace captured: {proc.stderr[:500]}"
    return modules


def heavy_in(modules: set[str]) -> set[str]:
    return {m for m in modules if m in HEAVY}


# --- help, version, laziness -------------------------------------------------------


def test_help_lists_every_command_with_its_short_help():
    proc = run(["--help"])
    assert proc.returncode == 0, proc.stderr
    for name, entry in COMMANDS.items():
        assert name in proc.stdout
        assert entry.short_help.split()[0] in proc.stdout


def test_help_imports_neither_scapy_nor_rich():
    modules = imported_modules([netlab_bin(), "--help"])
    assert "click" in modules  # the trace really covers the run
    assert not heavy_in(modules), f"--help imported {heavy_in(modules)}"


def test_python_dash_m_is_the_same_program_and_as_light():
    modules = imported_modules([sys.executable, "-m", "netlab", "--help"])
    assert not heavy_in(modules)
    proc = subprocess.run(
        [sys.executable, "-m", "netlab", "cidr", "10.0.0.1/8", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(proc.stdout)["network"] == "10.0.0.0/8"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_help_is_light_too(name):
    # `netlab CMD --help` imports the command's module only: heavy imports live in the body.
    modules = imported_modules([netlab_bin(), name, "--help"])
    assert not heavy_in(modules), f"`netlab {name} --help` imported {heavy_in(modules)}"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_static_table_matches_each_commands_own_help(name):
    # The table exists so that --help need not import commands; it must not drift from them.
    import click

    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    assert COMMANDS[name].short_help == command.get_short_help_str(limit=200)


def test_version():
    proc = run(["--version"])
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"netlab {netlab.__version__}"


def test_no_arguments_prints_help_and_succeeds():
    proc = run([])
    assert proc.returncode == 0
    assert "Commands:" in proc.stdout


# --- completion ---------------------------------------------------------------------


def complete(words: str, cword: int) -> tuple[str, set[str]]:
    env = {
        "_NETLAB_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(cword),
    }
    modules = imported_modules([netlab_bin()], env)
    proc = subprocess.run(
        [netlab_bin()], capture_output=True, text=True, env=dict(os.environ, **env), timeout=60
    )
    return proc.stdout, modules


def test_completion_of_command_names_is_light():
    out, modules = complete("netlab ", 1)
    assert "plain,cidr" in out.splitlines()
    assert not heavy_in(modules)


def test_completion_of_command_options_is_light():
    out, modules = complete("netlab cidr --", 2)
    assert "plain,--json" in out.splitlines()
    assert not heavy_in(modules)


# --- errors and exit codes ----------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["cidr", "300.1.1.1/24"],
        ["cidr", "foo"],
        ["nosuchcmd"],
        ["cidr", "10.0.0.0/33"],
        ["cidr"],
        ["cidr", "--nosuchoption", "10.0.0.0/8"],
        ["cidr", "10.0.0.1/255.0.255.0"],
        ["cidr", "2001:db8::/129"],
        ["cidr", "10.0.0.1//24"],
        ["cidr", "10.1.1.1/24", "bad"],
        ["--nosuchoption"],
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(args):
    proc = run(args)
    assert proc.returncode == 2, (args, proc.returncode, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("netlab: error: ")
    assert proc.stdout == ""  # nothing half-printed before the error


def test_unknown_command_suggests_the_close_one():
    proc = run(["cidt", "10.0.0.0/8"])
    assert proc.returncode == 2
    assert "did you mean 'cidr'" in proc.stderr


def test_debug_shows_the_traceback():
    proc = run(["cidr", "--debug", "foo"])
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "InputError" in proc.stderr


def run_fixture_command(args, env=None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", RUNNER, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env=env or dict(os.environ, PYTHONPATH=str(ROOT)),
        **kw,
    )


def test_internal_error_is_one_line_without_debug(tmp_path):
    log = tmp_path / "internal.log"  # on purpose: not the suite's log, which would fail it
    proc = run_fixture_command(
        ["internal-bug"],
        env=dict(os.environ, PYTHONPATH=str(ROOT), NETLAB_INTERNAL_ERROR_LOG=str(log)),
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("netlab: error: internal error: KeyError")
    assert "--debug" in proc.stderr
    assert "KeyError: 'missing-key'" in log.read_text()  # recorded for the suite's check


def test_json_document_stays_valid_on_ctrl_c():
    proc = run_fixture_command(["interrupt-json"])
    assert proc.returncode == 130
    doc = json.loads(proc.stdout)  # raises if the output is not one valid document
    assert doc == {"target": "198.18.0.1", "probes": [1.5, None], "interrupted": True}


def test_ndjson_stream_ends_with_summary_on_ctrl_c():
    proc = run_fixture_command(["interrupt-ndjson"])
    assert proc.returncode == 130
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line.get("seq") for line in lines[:3]] == [0, 1, 2]
    assert lines[-1]["type"] == "summary"


def test_broken_pipe_is_silent_and_succeeds():
    # `netlab … | head` and `| grep -q` under `set -o pipefail` (as lab scripts run):
    # the reader leaving early is not a failure of netlab.
    prefixes = [f"10.{i // 256}.{i % 256}.1/24" for i in range(3000)]
    script = f"'{netlab_bin()}' cidr {' '.join(prefixes)} | head -n 1; echo status=$? >&2"
    proc = subprocess.run(
        ["bash", "-o", "pipefail", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert proc.stdout.strip() == prefixes[0]
    assert proc.stderr == "status=0\n"


# --- privilege ----------------------------------------------------------------------


def _as(setpriv_args: list[str], args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["setpriv", *setpriv_args, sys.executable, "-c", RUNNER, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1"),
    )


def _needs_root_and_setpriv():
    from tests.conftest import require_root, require_tool

    require_root()
    require_tool("setpriv")


def test_unprivileged_user_gets_exit_3_naming_cap_net_raw():
    _needs_root_and_setpriv()
    proc = _as(
        ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"], ["needs-raw"]
    )
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.count("\n") == 1
    # The fix names netlab's own interpreter (`make caps`), never the system's python3.
    assert "CAP_NET_RAW" in proc.stderr and "make -C" in proc.stderr and " caps " in proc.stderr


def test_root_without_cap_net_raw_is_refused_too():
    # The check asks the kernel, not the uid: root with CAP_NET_RAW dropped cannot send raw.
    _needs_root_and_setpriv()
    proc = _as(["--inh-caps=-net_raw", "--bounding-set=-net_raw"], ["needs-raw"])
    assert proc.returncode == 3, proc.stderr
    assert "CAP_NET_RAW" in proc.stderr


def test_root_passes_the_raw_socket_check():
    _needs_root_and_setpriv()
    proc = run_fixture_command(["needs-raw"])
    assert proc.returncode == 0, proc.stderr


def test_import_trace_does_see_heavy_modules_when_they_load():
    # Guards the guard: a real run of cidr renders with rich, and the trace must notice.
    modules = imported_modules([netlab_bin(), "cidr", "10.0.0.1/8"])
    assert "rich" in heavy_in(modules)
