"""Test-only click commands that drive netlab's shared error path end to end.

They are plugged into the root group by the tests (never shipped in COMMANDS),
so that Ctrl-C, internal errors and privilege errors go through exactly the code
real commands use.
"""

from __future__ import annotations

import os
import signal

import click

from netlab.cli.options import Common, common_options
from netlab.errors import ExitStatus


@click.command()
@common_options("json")
def interrupt_json(common: Common) -> ExitStatus:
    """Start a JSON document, then receive a real SIGINT halfway through."""
    from netlab.render.jsonout import JsonDocument

    with JsonDocument() as doc:
        doc.data = {"target": "198.18.0.1", "probes": [1.5, float("nan")]}
        os.kill(os.getpid(), signal.SIGINT)
        doc.data["never"] = True  # not reached: the signal raises KeyboardInterrupt
    return ExitStatus.SUCCESS


@click.command()
@common_options("json")
def interrupt_ndjson(common: Common) -> ExitStatus:
    from netlab.render.jsonout import NdjsonWriter

    out = NdjsonWriter()
    try:
        for seq in range(3):
            out.write({"type": "reply", "seq": seq, "rtt_ms": 0.1 * seq})
        os.kill(os.getpid(), signal.SIGINT)
    except KeyboardInterrupt:
        out.write({"type": "summary", "sent": 3, "received": 3})
        return ExitStatus.INTERRUPTED
    return ExitStatus.SUCCESS


@click.command()
@common_options()
def internal_bug(common: Common) -> ExitStatus:
    {}["missing-key"]  # a deliberate bug: KeyError
    return ExitStatus.SUCCESS


@click.command()
@common_options()
def needs_raw(common: Common) -> ExitStatus:
    from netlab.net.privilege import require_raw_socket

    require_raw_socket("needs-raw")
    return ExitStatus.SUCCESS


TEST_COMMANDS = {
    "interrupt-json": "tests.cmd_fixtures:interrupt_json",
    "interrupt-ndjson": "tests.cmd_fixtures:interrupt_ndjson",
    "internal-bug": "tests.cmd_fixtures:internal_bug",
    "needs-raw": "tests.cmd_fixtures:needs_raw",
}

# `python -c` snippet that runs netlab's real main() with the test commands plugged in.
# Ctrl-C raises in it, as at a terminal: a test worker may have started it with SIGINT
# ignored or blocked (both are inherited), and the signal would then never arrive.
RUNNER = (
    "import signal, sys\n"
    "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})\n"
    "import netlab.cli.main as m\n"
    "from tests.cmd_fixtures import TEST_COMMANDS\n"
    "for name, target in TEST_COMMANDS.items():\n"
    "    m.COMMANDS[name] = m.CommandEntry(target, name)\n"
    "m.main(sys.argv[1:])\n"
)
