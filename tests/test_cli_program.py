"""One command path (issue 13, item 4): a command function checks its options and makes one
call; name resolution, route and neighbour look-ups and the runs of cores sit below it
(netlab/net/, cli/run.Session). Read from the source with `ast`, as tests/test_layers.py does,
and the net-layer helpers the commands now share run for real here (loopback, /etc/hosts)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import ROOT

CLI = ROOT / "netlab" / "cli"
MAX_BODY = 30  # lines of a command function's body, its docstring left out; every command
# What only netlab/net/ does: ask the resolver, run a core on a runner.
RESOLVER_CALLS = {"getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr"}


def _commands(path: Path) -> list[ast.FunctionDef]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return [node for node in tree.body if isinstance(node, ast.FunctionDef)
            and any("command" in ast.unparse(d) for d in node.decorator_list)]  # fmt: skip


def body_lines(func: ast.FunctionDef) -> int:
    """Lines from the first statement after the docstring to the end of the function."""
    body = func.body
    if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return body[-1].end_lineno - body[0].lineno + 1 if body else 0


def test_the_measure_counts_statements_not_the_docstring():
    func = ast.parse('def f():\n    """Doc\n    string."""\n    a = 1\n\n    return a\n').body[0]
    assert body_lines(func) == 3


@pytest.mark.parametrize("path", sorted(CLI.glob("*.py")), ids=lambda p: p.name)
def test_command_functions_are_short(path):
    long = {f.name: body_lines(f) for f in _commands(path) if body_lines(f) > MAX_BODY}
    assert not long, f"{path.name}: command bodies over {MAX_BODY} lines: {long}"


def test_the_commands_this_rule_came_with_are_measured():
    measured = {f.name for path in CLI.glob("*.py") for f in _commands(path)}
    assert {"ping", "traceroute", "tcp_handshake", "dissect", "ftp"} <= measured


def _calls(path: Path) -> list[ast.Call]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


@pytest.mark.parametrize("path", sorted(CLI.glob("*.py")), ids=lambda p: p.name)
def test_cli_modules_neither_resolve_names_nor_run_cores_themselves(path):
    found = []
    for call in _calls(path):
        func = call.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in RESOLVER_CALLS:
            found.append(f"line {call.lineno}: {name}()")
        # runner.run(core, …) belongs to cli/run.Session (its Ctrl-C, tap and status)
        if (name == "run" and path.name != "run.py" and call.args
                and isinstance(call.args[0], ast.Name) and call.args[0].id == "core"):  # fmt: skip
            found.append(f"line {call.lineno}: {ast.unparse(func)}(core, …)")
    assert not found, f"{path.name}: {found}"


def test_host_address_keeps_to_the_family_asked_for():
    from netlab.errors import ExitStatus, NetlabError
    from netlab.net.resolver import host_address

    assert host_address("localhost", 21) == "127.0.0.1"  # /etc/hosts
    assert host_address("localhost", 21, family=4) == "127.0.0.1"
    assert host_address("::1", 21, family=6) == "::1"
    with pytest.raises(NetlabError) as refused:
        host_address("127.0.0.1", 21, family=6)
    assert str(refused.value).startswith("no IPv6 address for '127.0.0.1': ")
    assert refused.value.status == ExitStatus.NO_ANSWER
    with pytest.raises(NetlabError) as unresolved:  # no family asked: the general words
        host_address("bad..name", 21)
    assert str(unresolved.value).startswith("cannot resolve host 'bad..name': ")


def test_target_route_takes_the_scope_as_the_interface():
    from netlab.errors import InputError
    from netlab.net.route import target_route

    addr, fam, route = target_route("127.0.0.1")
    assert (addr, fam, route.dev) == ("127.0.0.1", 4, "lo")
    addr, fam, route = target_route("::1%lo")
    assert (addr, fam, route.dev) == ("::1", 6, "lo")
    with pytest.raises(InputError):  # the scope names an interface this host does not have
        target_route("::1%nosuchif0")
    with pytest.raises(InputError):
        target_route("127.0.0.1", 6)


def test_nothing_to_solicit_on_loopback():
    from netlab.net.nexthop import solicit_next_hop
    from netlab.net.route import route_to

    assert solicit_next_hop(route_to("127.0.0.1")) is None


def test_family_and_write_options_read_as_before():
    from netlab.cli.ftp import ftp
    from netlab.cli.ping import ping

    ping_help = CliRunner().invoke(ping, ["--help"], terminal_width=200).output
    assert "IPv4 only." in ping_help and "IPv6 only." in ping_help
    four, six, explain = (ping_help.index(f"\n  {o} ") for o in ("-4", "-6", "--explain"))
    assert four < six < explain  # where they were declared, one after the other
    assert "--write FILE" in ping_help and "-w, --write" not in ping_help
    ftp_help = CliRunner().invoke(ftp, ["--help"], terminal_width=200).output
    assert "IPv6 only (the name's IPv6 address)." in ftp_help
    ctx = ping.make_context("ping", ["-6", "--write", "x.pcapng", "::1"])
    assert ctx.params["family"] == 6 and ctx.params["write"] == "x.pcapng"
