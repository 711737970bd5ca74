"""The ledger: the list of everything a lab created, kept in its run folder.

Rule: an item is written to the ledger *before* the thing is created (a
namespace, a file) or, for a process, in the same signal-free moment as it is
spawned. So whatever state an interrupted `up` leaves, the ledger covers it,
and `down` removes exactly the ledger's items, tolerating those that never
came to exist.

Processes are identified by pid *and* their start time (field 22 of
/proc/PID/stat, in clock ticks since boot): a pid the kernel recycled for some
other program has a different start time and is never signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RUN_ROOT = Path(os.environ.get("NETLAB_RUN_DIR", "/run/netlab"))
LEDGER = "ledger.json"


def starttime(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":  # a zombie has finished; only its parent's wait is missing
        return None
    return int(fields[19])


def alive(pid: int, started: int | None) -> bool:
    return started is not None and starttime(pid) == started


def _reap(pid: int) -> None:
    # Our own children (when `up` and `down` run in one process, as in tests) must be
    # waited for, or they linger as zombies.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def stop_processes(procs: list[tuple[int, int]], grace: float = 2.0) -> list[int]:
    """SIGTERM each (pid, starttime) still alive, wait, then SIGKILL. Returns pids killed."""
    live = [(pid, st) for pid, st in procs if alive(pid, st)]
    for pid, _ in live:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while live and time.monotonic() < deadline:
        for pid, _ in live:
            _reap(pid)
        live = [(pid, st) for pid, st in live if alive(pid, st)]
        if live:
            time.sleep(0.01)
    for pid, _ in live:
        _signal(pid, signal.SIGKILL)
    for pid, st in live:
        for _ in range(100):
            _reap(pid)
            if not alive(pid, st):
                break
            time.sleep(0.01)
    return [pid for pid, _ in live]


def _signal(pid: int, sig: int) -> None:
    # Services run in their own session (pgid == pid): signal the group so helper
    # children (nginx workers) go too; fall back to the pid alone.
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


@dataclass
class Ledger:
    lab: str
    run_dir: Path
    items: list[dict[str, Any]] = field(default_factory=list)
    state: str = "starting"  # starting → up → stopping
    owner: dict[str, int] | None = None  # {"pid", "starttime"} of the process holding the lab
    info: dict[str, Any] = field(default_factory=dict)  # the resolved topology, for status/exec

    @property
    def path(self) -> Path:
        return self.run_dir / LEDGER

    def add(self, kind: str, **values: Any) -> dict[str, Any]:
        item = {"kind": kind, **values}
        self.items.append(item)
        self.save()
        return item

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [item for item in self.items if item["kind"] == kind]

    def owner_alive(self) -> bool:
        if self.owner is None:
            return True  # a detached lab (`netlab lab up` returned) belongs to nobody: not stale
        return alive(self.owner["pid"], self.owner["starttime"])

    @property
    def stale(self) -> bool:
        return not self.owner_alive()

    def to_dict(self) -> dict[str, Any]:
        return {
            "lab": self.lab,
            "state": self.state,
            "owner": self.owner,
            "items": self.items,
            "info": self.info,
        }

    def save(self) -> None:
        # Write-then-rename: a reader (or a crash) never sees half a ledger.
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1))
        os.replace(tmp, self.path)

    @classmethod
    def load(cls, run_dir: Path) -> Ledger:
        data = json.loads((run_dir / LEDGER).read_text())
        return cls(
            lab=data["lab"],
            run_dir=run_dir,
            items=data.get("items", []),
            state=data.get("state", "starting"),
            owner=data.get("owner"),
            info=data.get("info", {}),
        )


def me() -> dict[str, int]:
    pid = os.getpid()
    return {"pid": pid, "starttime": starttime(pid) or 0}


def all_ledgers(root: Path | None = None) -> list[Ledger]:
    root = root or RUN_ROOT
    out = []
    try:
        dirs = sorted(p for p in root.iterdir() if (p / LEDGER).exists())
    except OSError:
        return []
    for run_dir in dirs:
        with contextlib.suppress(OSError, ValueError, KeyError):
            out.append(Ledger.load(run_dir))
    return out
