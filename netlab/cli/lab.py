"""`netlab lab`: bring up small real networks in namespaces and run commands inside them.

Thin on purpose: everything heavy (the engine, the topology loader, rich) is
imported inside the subcommands. The contract is design.md §6; the topology
file format is docs/labs.md.
"""

from __future__ import annotations

import click

from netlab.cli import complete
from netlab.cli.options import HELP_OPTIONS, Common, command, common_options
from netlab.cli.run import print_result
from netlab.errors import ExitStatus, InputError, NetlabError

SHORT_HELP = "Run small real networks in namespaces: up, down, status, exec, list."


@click.group(short_help=SHORT_HELP, context_settings=HELP_OPTIONS)
def lab() -> None:
    """Bring up a small real network (namespaces, veth links, LAN switches, real
    bind9/nginx servers) from a topology file, run commands in its nodes, take it
    down again. Needs root.

    \b
    Examples:
      netlab lab list
      netlab lab up labs/routed.toml        (or just: netlab lab up routed)
      netlab lab exec client -- ping -c1 server
      netlab lab exec client -- traceroute server
      netlab lab status --json
      netlab lab down
    """


def _lab_option(func):
    return click.option(
        "--lab",
        "lab_name",
        metavar="NAME",
        shell_complete=complete.running_labs,
        help="Which lab, when several are up.",
    )(func)


def _view():
    from netlab.render import lab as view  # rich: only when text is drawn

    return view


@command("up", "Bring a lab up from a topology file.", group=lab)
@click.argument("file", metavar="FILE", shell_complete=complete.topology_files)
@click.option("--name", metavar="NAME", help="Lab name (default: the file's `name`).")
@common_options("json", "no_color")
def up_cmd(common: Common, file: str, name: str | None) -> ExitStatus:
    """Create the namespaces, links, addresses, routes and services of FILE (a
    topology file, or the name of a bundled lab) and return once every service
    answers. A failure, Ctrl-C or SIGTERM on the way removes everything again.
    """
    import time

    from netlab.lab import engine
    from netlab.lab.topology import load_topology

    path = engine.resolve_file(file)
    topo = load_topology(path)
    engine.require_root()
    t0 = time.perf_counter()
    book = engine.up(topo, name=name, source_text=path.read_text(encoding="utf-8"),
                     hold_signals=True)  # fmt: skip
    try:  # the lab is up: that is what is said, and exit 0, whatever Ctrl-C came since
        seconds = time.perf_counter() - t0
        status = engine.status(book, probe=False)
        for svc in status["services"]:
            svc["health"] = "healthy"  # each answered its readiness probe a moment ago
        data = {**status, "up_ms": round(seconds * 1000, 1)}
        print_result(common, data, lambda console: _view().render_up(console, status, seconds))
    finally:
        engine.release_signals()
    return ExitStatus.SUCCESS


@command("down", "Take a lab down.", group=lab)
@click.argument("name", required=False, metavar="[NAME]", shell_complete=complete.running_labs)
@_lab_option
@click.option("--all", "every", is_flag=True, help="Take every lab down.")
@click.option(
    "--stale",
    is_flag=True,
    help="Take down only labs whose owning process died (a crashed test run).",
)
@common_options("json", "no_color")
def down_cmd(
    common: Common, name: str | None, lab_name: str | None, every: bool, stale: bool
) -> ExitStatus:
    """Stop the lab's services (by pid), delete its namespaces, links and files:
    exactly what its ledger lists. NAME may be left out when one lab is up.
    """
    from netlab.lab import engine

    if (name or lab_name) and (every or stale):
        raise InputError("give a lab NAME or --all/--stale, not both")
    names = engine.down(name or lab_name, every=every, stale_only=stale)
    print_result(common, {"down": names}, lambda console: _view().render_down(console, names))
    return ExitStatus.SUCCESS


@command("status", "Show labs: nodes, addresses, links, services.", group=lab)
@click.argument("name", required=False, metavar="[NAME]", shell_complete=complete.running_labs)
@_lab_option
@common_options("json", "no_color")
def status_cmd(common: Common, name: str | None, lab_name: str | None) -> ExitStatus:
    """Show every lab that is up (or only NAME): its nodes with their namespaces,
    interfaces and addresses, its links, impairments, and its services with pid
    and health (probed again now). Exit status 1 when NAME is not up.
    """
    from netlab.lab import engine
    from netlab.lab.ledger import all_ledgers

    wanted = name or lab_name
    books = [b for b in all_ledgers() if wanted is None or b.lab == wanted]
    if wanted and not books:
        raise NetlabError(f"no lab named '{wanted}' is up", ExitStatus.NO_ANSWER)
    labs = [engine.status(b) for b in books]
    print_result(common, {"labs": labs}, lambda console: _view().render_status(console, labs))
    return ExitStatus.SUCCESS


@command(
    "exec",
    "Run a command inside a node.",
    group=lab,
    ignore_unknown_options=True,
    allow_interspersed_args=False,
)
@_lab_option
@click.argument("node", metavar="[LAB] NODE", shell_complete=complete.lab_nodes)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED, metavar="-- CMD...",
                shell_complete=complete.exec_words)  # fmt: skip
def exec_cmd(lab_name: str | None, node: str, command: tuple[str, ...]) -> ExitStatus:
    """Run CMD inside NODE's namespace, with the lab's hosts file (node names
    resolve) and resolver. Standard input and output stay attached; the exit
    status is CMD's (127 when there is no such program, as in a shell). The lab
    may be named first, as `down` and `status` take it, or with --lab.

    \b
    Examples:
      netlab lab exec client -- ping -c1 server
      netlab lab exec client -- dig www.example.lab
      netlab lab exec dns client -- sh
      netlab lab exec --lab dns client -- sh
    """
    import os
    import sys

    from netlab.lab import engine

    lab_name, node, command = _lab_first(lab_name, node, command)
    if command and command[0] == "--":
        command = command[1:]  # click stops parsing at NODE, so it hands us the `--` too
    if not command:
        raise click.UsageError("missing the command to run (netlab lab exec [LAB] NODE -- CMD...)")
    engine.require_root()
    book = engine.find(lab_name)
    argv = engine.exec_argv(book, node, list(command))
    _check_program(command[0])
    env = {**os.environ, "NETLAB_LAB": book.lab, "NETLAB_NODE": node}
    sys.stdout.flush()
    sys.stderr.flush()
    # Replace this process: the command gets our terminal, signals and exit status as is.
    os.execvpe(argv[0], argv, env)
    return ExitStatus.SUCCESS  # not reached


def _lab_first(
    lab_name: str | None, node: str, command: tuple[str, ...]
) -> tuple[str | None, str, tuple[str, ...]]:
    """`lab exec LAB NODE [--] CMD`: when the first word names a running lab and the
    second is one of its nodes (or `--` follows it), the first word is the lab."""
    if lab_name is not None or not command or command[0] == "--":
        return lab_name, node, command
    from netlab.lab.ledger import all_ledgers

    book = next((b for b in all_ledgers() if b.lab == node), None)
    if book is None:
        return lab_name, node, command
    if command[1:2] == ("--",) or command[0] in book.info.get("nodes", {}):
        return node, command[0], command[1:]
    return lab_name, node, command


def _check_program(program: str) -> None:
    """Exit as a shell does before exec: 127 no such program, 126 not executable."""
    import os
    import shutil

    if shutil.which(program) is not None:
        return
    if "/" in program and os.path.exists(program):
        raise NetlabError(f"{program}: permission denied", ExitStatus.CANNOT_EXECUTE)
    raise NetlabError(f"{program}: command not found", ExitStatus.COMMAND_NOT_FOUND)


@command("list", "List the bundled labs.", group=lab)
@common_options("json", "no_color")
def list_cmd(common: Common) -> ExitStatus:
    """List the labs shipped in labs/, one line each (name and description)."""
    import tomllib

    from netlab.lab.engine import labs_dir

    labs = []
    for path in sorted(labs_dir().glob("*.toml")):
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            continue
        labs.append(
            {"name": path.stem, "description": doc.get("description", ""), "file": str(path)}
        )
    print_result(common, {"labs": labs}, lambda console: _view().render_list(console, labs))
    return ExitStatus.SUCCESS
