"""Exit codes and the one error type every command raises.

The codes are the contract of design.md §4; scripts and labs test them, so
they never change meaning. Commands raise `NetlabError` (or a subclass) with a
message that fits on one line; `netlab.cli.main.main` prints it as
``netlab: error: <message>`` and exits with the error's status.
"""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    """Process exit codes shared by every netlab command (httpie-style enum)."""

    SUCCESS = 0
    """The command did its job: an answer was received, a file was decoded."""
    NO_ANSWER = 1
    """A negative result: all probes lost, port closed/filtered, NXDOMAIN, nothing found."""
    ERROR = 2
    """Usage or input error: bad option, bad host, bad file."""
    NO_PRIVILEGE = 3
    """Raw sockets (CAP_NET_RAW) or CAP_NET_ADMIN are needed and not held."""
    HTTP_ERROR = 22
    """`http --fail`: the server answered with a status of 400 or more (curl's 22)."""
    CANNOT_EXECUTE = 126
    """`lab exec`: the program exists but cannot be run (a shell's 126)."""
    COMMAND_NOT_FOUND = 127
    """`lab exec`: no such program (a shell's 127)."""
    INTERRUPTED = 130
    """Ctrl-C (128 + SIGINT), after the partial summary was printed."""


class NetlabError(Exception):
    """An error the user can act on; printed on one line, no traceback."""

    status: ExitStatus = ExitStatus.ERROR

    def __init__(self, message: str, status: ExitStatus | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status

    @property
    def message(self) -> str:
        # One line, always: a multi-line message would break `2>err; read line <err` scripts.
        return " ".join(str(self).split())


class InputError(NetlabError):
    """Bad user input: an address, a file, an option value."""


class PrivilegeError(NetlabError):
    """A raw socket or a network-admin operation was refused by the kernel."""

    status = ExitStatus.NO_PRIVILEGE
