"""Shell completion, run for real: the shipped scripts in bash, zsh and fish.

- bash: the completion function is called with COMP_WORDS/COMP_CWORD set (its answers
  land in COMPREPLY), and an interactive bash on a pseudo-terminal is sent TAB, which
  also covers what click leaves to readline (file names, `compopt -o default`);
- zsh: an interactive `zsh -f` on a pseudo-terminal, compinit loaded, sent TAB;
- fish: `complete -C LINE`, fish's own completion engine.

A completed line is read back by typing Ctrl-A `echo @@` Enter after the TAB: the shell
then prints the line as completed.
"""

from __future__ import annotations

import os
import pty
import re
import select
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import click
import pytest

from netlab.cli import complete
from netlab.cli.main import cli
from tests.conftest import ROOT, netlab_bin, require_root, require_tool
from tests.labfixtures import module_lab

FILES = {"bash": "netlab.bash", "zsh": "_netlab", "fish": "netlab.fish"}
SHELLS = ("bash", "zsh", "fish")
BIN_DIR = os.path.dirname(netlab_bin())


# The shells' HOME: zsh's .zcompdump, bash's history and fish's config land here, not
# in the user's home or the repository.
SHELL_HOME = Path(tempfile.mkdtemp(prefix="netlab-complete-home-"))


@pytest.fixture(scope="module", autouse=True)
def _clean_shell_home():
    yield
    shutil.rmtree(SHELL_HOME, ignore_errors=True)


def shell_env() -> dict[str, str]:
    return dict(
        os.environ,
        PATH=f"{BIN_DIR}:{os.environ['PATH']}",
        TERM="dumb",
        HOME=str(SHELL_HOME),
        HISTFILE=os.devnull,
        XDG_CONFIG_HOME=str(SHELL_HOME / "config"),
        XDG_DATA_HOME=str(SHELL_HOME / "data"),
    )


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


# --- driving the shells -------------------------------------------------------------------


def bash_reply(line: str, cwd: Path = ROOT) -> list[str]:
    """COMPREPLY of the shipped bash function for LINE (the cursor at its end)."""
    words = shlex.split(line) + ([""] if line.endswith(" ") else [])
    array = " ".join(shlex.quote(w) for w in words)
    script = (
        f"source {ROOT / 'completions' / 'netlab.bash'}\n"
        f"COMP_WORDS=({array}); COMP_CWORD={len(words) - 1}\n"
        "_netlab_completion netlab 2>/dev/null\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    out = subprocess.run(
        ["bash", "--norc", "-c", script],
        capture_output=True,
        text=True,
        env=shell_env(),
        cwd=cwd,
        timeout=60,
    )
    return [w for w in out.stdout.splitlines() if w]


def _read_until(fd: int, pattern: bytes, timeout: float) -> bytes:
    buf = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not re.search(pattern, buf):
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
    return buf


def tab_line(shell: str, line: str, cwd: Path = ROOT) -> str:
    """LINE typed into an interactive bash or zsh, then TAB: the line as completed."""
    require_tool(shell)
    script = ROOT / "completions" / FILES[shell]
    setup = {
        "bash": ["bind 'set show-all-if-ambiguous off'", f"source {script}"],
        "zsh": ["autoload -U compinit && compinit -u", f"source {script}"],
    }[shell]
    argv = {"bash": ["bash", "--norc", "--noprofile", "-i"], "zsh": ["zsh", "-f", "-i"]}[shell]
    pid, fd = pty.fork()
    if pid == 0:  # the child: the shell, in CWD
        os.chdir(cwd)
        os.execvpe(argv[0], argv, {**shell_env(), "PS1": "> ", "PROMPT": "> "})
    try:
        for command in [*setup, "echo SETUP-DONE"]:
            os.write(fd, command.encode() + b"\n")
        _read_until(fd, rb"\nSETUP-DONE", 20)
        os.write(fd, line.encode() + b"\t")
        time.sleep(0.5)  # the completion runs netlab: let it answer before the next keys
        os.write(fd, b"\x01echo @@\r")
        out = _read_until(fd, rb"\n@@[^\r\n]*\r?\n", 20).decode(errors="replace")
    finally:
        os.close(fd)
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    found = re.findall(r"^@@(.*?)\r?$", out, re.M)
    assert found, f"{shell} printed no completed line: {out[-500:]!r}"
    return found[-1].rstrip()


def fish_candidates(line: str, cwd: Path = ROOT) -> list[str]:
    require_tool("fish")
    script = ROOT / "completions" / FILES["fish"]
    out = subprocess.run(
        ["fish", "--no-config", "-c", f"source {script}; complete -C{shlex.quote(line)}"],
        capture_output=True,
        text=True,
        env=shell_env(),
        cwd=cwd,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return [w.split("\t")[0] for w in out.stdout.splitlines()]


def completes_to(shell: str, line: str, expected: str, cwd: Path = ROOT) -> None:
    """In SHELL, LINE<TAB> completes its last word to EXPECTED (a unique candidate)."""
    if shell == "fish":
        assert expected in fish_candidates(line, cwd), line
    else:
        head = line.rsplit(" ", 1)[0]
        assert tab_line(shell, line, cwd) == f"{head} {expected}", line


# --- the original smoke test, and files -----------------------------------------------------


def test_bash_completion_works_in_bash():
    assert bash_reply("netlab ci") == ["cidr"]


@pytest.mark.parametrize("shell", SHELLS)
def test_file_argument_completes_file_names(shell):
    assert (ROOT / "pcaps" / "ping.pcap").exists()
    completes_to(shell, "netlab dissect pcaps/pi", "pcaps/ping.pcap")


@pytest.mark.parametrize("shell", ("bash", "zsh"))
def test_a_free_text_argument_completes_no_file(shell):
    # The control: cidr's PREFIX is not a path, and the same word stays as typed.
    assert tab_line(shell, "netlab cidr pcaps/pi") == "netlab cidr pcaps/pi"


def _walk(command: click.Command, path: list[str]):
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            yield from _walk(command.get_command(ctx, name), [*path, name])
        return
    for param in command.params:
        yield path, command, param


PATH_METAVARS = {"FILE", "FILE.FLV", "PATH", "CSR", "LEAF", "ROOT", "DIR"}


def _takes_a_path(path: list[str], param: click.Parameter) -> bool:
    if isinstance(param.type, click.Path):
        return True
    words = set(re.split(r"[^A-Za-z.]+", (param.metavar or "").upper()))
    return bool(words & PATH_METAVARS) or (path[:1] == ["cert"] and "PREFIX" in words)


def test_every_path_parameter_completes_files():
    # Every argument or option that takes a file (by its type or its metavar) hands the
    # word to the shell's file completion, or offers files itself (lab up).
    checked, wrong = [], []
    for path, command, param in _walk(cli, []):
        if not _takes_a_path(path, param):
            continue
        ctx = click.Context(command, info_name=path[-1])
        items = param.shell_complete(ctx, "labs/rou")
        checked.append(f"{' '.join(path)} {param.name}")
        if not any(i.type == "file" or i.value == "labs/routed.toml" for i in items):
            wrong.append(checked[-1])
    assert len(checked) >= 20, checked  # the walk really found the path parameters
    assert not wrong, f"no file completion for: {wrong}"


# --- labs -----------------------------------------------------------------------------------


def topology_files() -> list[str]:
    return sorted(
        f"labs/{p.name}" for p in (ROOT / "labs").glob("*.toml") if "[nodes" in p.read_text()
    )


def test_lab_up_lists_the_topology_files_and_not_other_toml():
    expected = topology_files()
    assert len(expected) >= 5
    assert bash_reply("netlab lab up ") == expected  # pyproject.toml is not among them


@pytest.mark.parametrize("shell", SHELLS)
def test_lab_up_completes_a_topology_file(shell):
    completes_to(shell, "netlab lab up labs/rou", "labs/routed.toml")


@pytest.mark.parametrize("shell", SHELLS)
def test_lab_up_elsewhere_completes_a_bundled_lab_name(shell, tmp_path):
    # Outside the checkout there is no labs/ folder: the bundled labs' names (`lab up
    # routed` takes them) are offered.
    completes_to(shell, "netlab lab up rou", "routed", cwd=tmp_path)


DUO = """\
name = "duo"
description = "two nodes for the completion tests"
[nodes.alpha]
[nodes.bravo]
[[links]]
name = "duo"
nodes = ["alpha", "bravo"]
subnet = "198.18.77.0/24"
"""


@pytest.fixture(scope="module")
def duo(tmp_path_factory):
    """One small lab for the module's lab tests (not a bundled one: distinct node names)."""
    require_root()
    path = tmp_path_factory.mktemp("duo") / "duo.toml"
    path.write_text(DUO)
    with module_lab(str(path), "cduo") as handle:
        yield handle


@pytest.mark.lab
def test_running_labs_and_their_nodes_complete_in_bash(duo):
    from netlab.lab.ledger import all_ledgers

    def labs_up_around(line: str) -> tuple[set[str], set[str], set[str]]:
        # Other test runs bring labs up and down meanwhile: read the ledgers on both sides.
        before = {b.lab for b in all_ledgers()}
        reply = set(bash_reply(line))
        after = {b.lab for b in all_ledgers()}
        return before & after, reply, before | after

    for line in ("netlab lab down ", "netlab lab status ", "netlab lab status --lab "):
        surely, reply, maybe = labs_up_around(line)
        assert duo.name in surely and surely <= reply <= maybe, line
    assert bash_reply(f"netlab lab exec --lab {duo.name} ") == ["alpha", "bravo"]
    assert bash_reply(f"netlab lab exec {duo.name} ") == ["alpha", "bravo"]  # LAB NODE
    assert bash_reply(f"netlab lab exec --lab {duo.name} br") == ["bravo"]
    # Without --lab the first word may be the lab itself: the labs are among the answers.
    surely, reply, _ = labs_up_around("netlab lab exec ")
    assert surely <= reply


@pytest.mark.lab
@pytest.mark.parametrize("shell", SHELLS)
def test_lab_names_and_nodes_complete_in_every_shell(duo, shell):
    completes_to(shell, f"netlab lab down {duo.name[:-1]}", duo.name)
    completes_to(shell, f"netlab lab exec --lab {duo.name} al", "alpha")
    completes_to(shell, f"netlab lab exec {duo.name} br", "bravo")


# --- interfaces, statistics, record types, services ----------------------------------------


def kernel_interfaces() -> list[str]:
    """The oracle: `ip -o link show`'s names (without their @peer)."""
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True)
    return sorted(line.split(": ")[1].split("@")[0] for line in out.stdout.splitlines())


@pytest.mark.parametrize(
    "line",
    [
        "netlab sniff -i ",
        "netlab ping -I ",
        "netlab arp -I ",
        "netlab traceroute -i ",
        "netlab tcp-handshake -i ",
    ],
)
def test_interface_options_list_the_kernels_interfaces(line):
    # Labs being built meanwhile add and move veths: read the oracle on both sides.
    before = set(kernel_interfaces())
    reply = set(bash_reply(line))
    after = set(kernel_interfaces())
    assert "lo" in reply and before & after <= reply <= before | after


def unique_prefix(names: list[str]) -> tuple[str, str]:
    """(prefix, name): the first NAME that a strictly shorter prefix picks out alone."""
    for name in names:
        for end in range(1, len(name)):
            if [n for n in names if n.startswith(name[:end])] == [name]:
                return name[:end], name
    raise AssertionError(f"no name with a unique prefix among {names}")


@pytest.mark.parametrize("shell", SHELLS)
def test_interface_completes_in_every_shell(shell):
    prefix, name = unique_prefix(kernel_interfaces())
    completes_to(shell, f"netlab sniff -i {prefix}", name)


def test_stats_values_are_exactly_what_dissect_accepts():
    from netlab.dissect.stats import KINDS, parse_stats_spec

    assert set(complete.STATS_KINDS) == set(KINDS)
    for spec, _ in complete.STATS_SPECS:
        parse_stats_spec(spec)  # raises on a value dissect would refuse
    offered = bash_reply("netlab dissect pcaps/ping.pcap --stats ")
    assert offered == [spec for spec, _ in complete.STATS_SPECS]
    assert bash_reply("netlab dissect pcaps/ping.pcap -z con") == [
        f"conv,{k}" for k in complete.STATS_KINDS
    ]


@pytest.mark.parametrize("shell", SHELLS)
def test_stats_value_with_a_comma_completes_in_every_shell(shell):
    # A value holding a comma: click's own fish script cut it at the comma.
    completes_to(shell, "netlab dissect pcaps/ping.pcap -z endpoints,ipv", "endpoints,ipv6")


def test_record_types_follow_the_name_and_dig_options():
    from netlab.wire.dns_rdata import TYPE_NAMES

    assert set(complete.RECORD_TYPES) <= set(TYPE_NAMES.values())
    assert "MX" in bash_reply("netlab dns-query www.example.lab ")
    assert bash_reply("netlab dns-query www.example.lab AA") == ["AAAA"]
    assert bash_reply("netlab dns-query -t A") == ["A", "AAAA", "ANY", "AXFR"]
    assert bash_reply("netlab dns-query ") == []  # the NAME comes first: free text
    assert bash_reply("netlab dns-query www.example.lab @") == []


@pytest.mark.parametrize("shell", SHELLS)
def test_record_type_completes_in_every_shell(shell):
    completes_to(shell, "netlab dns-query www.example.lab AA", "AAAA")


def test_ports_complete_service_names_from_the_services_database():
    ssh = socket.getservbyname("ssh", "tcp")  # the oracle: the C library's lookup
    offered = bash_reply("netlab tcp-handshake --ports 22,ss")
    assert "22,ssh" in offered and all(o.startswith("22,ss") for o in offered)
    ctx = click.Context(click.Command("x"))
    items = {i.value: i.help for i in complete.service_ports(ctx, None, "ht")}
    assert items["http"] == str(socket.getservbyname("http", "tcp"))
    assert ssh == 22 and bash_reply("netlab tcp-handshake --ports 8") == []  # numbers: free


@pytest.mark.parametrize("shell", SHELLS)
def test_ports_complete_in_every_shell(shell):
    prefix, name = unique_prefix(sorted(complete._services()))
    completes_to(shell, f"netlab tcp-handshake --ports 80,{prefix}", f"80,{name}")


def test_completion_with_callbacks_is_light():
    # The callbacks run at every TAB in a new process: no scapy, rich or cryptography.
    from tests.test_cli_spine import heavy_in, imported_modules

    for words, cword in (("netlab lab up ", 3), ("netlab sniff -i ", 3), ("netlab cert show ", 3)):
        env = {"_NETLAB_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
        modules = imported_modules([netlab_bin()], env)
        assert not heavy_in(modules), (words, heavy_in(modules))


def test_shells_are_installed_by_make():
    # zsh and fish are peers of these tests: `make deps` installs them.
    makefile = (ROOT / "Makefile").read_text()
    packages = re.search(r"APT_PACKAGES :=(.*?)\n\n", makefile, re.S).group(1).split()
    assert {"zsh", "fish"} <= set(packages)
    assert shutil.which("bash")
