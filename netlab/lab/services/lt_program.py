"""What the lab's libtorrent programs (bt_seeder.py, dht_swarm_node.py) share.

They run under Debian's /usr/bin/python3 (python3-libtorrent is built for it, not
for netlab's venv), as ``/usr/bin/python3 PROGRAM.py CONFIG.json``: Python puts a
script's folder first on sys.path, so they import this file as ``lt_program``
(as ``netlab.lab.services.lt_program`` when the tests import them). Standard library
only, nothing from netlab.
"""

from __future__ import annotations

import json
import os
import signal
import sys


def start(argv: list[str], program: str) -> dict | None:
    """The config named by ARGV (PROGRAM CONFIG.json), or None after the usage line.

    SIGTERM (the lab going down) and SIGINT end the program at once: no session
    needs an orderly end, there are no goodbyes to send."""
    if len(argv) != 2:
        print(f"usage: {program} CONFIG.json", file=sys.stderr)
        return None
    with open(argv[1]) as f:
        config = json.load(f)

    def stop(signum, frame):
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return config


def write_state(path: str, state: dict) -> None:
    """STATE as PATH, replaced at once: a reader never sees half a file."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(state, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)
