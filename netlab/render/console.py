"""The rich console every command prints through.

On a terminal: colour and styles. Piped or redirected: plain text with no
escape codes and no wrapping, so `netlab … | grep` and scripts see stable lines.
`--no-color` and NO_COLOR (https://no-color.org) turn colour off on a terminal too.
"""

from __future__ import annotations

import os
import sys
from typing import IO

from rich.console import Console
from rich.theme import Theme

THEME = Theme(
    {
        "label": "bold",
        "value": "cyan",
        "net": "bold green",
        "host": "yellow",
        "muted": "dim",
        "good": "green",
        "bad": "bold red",
        "warn": "yellow",
    }
)


class NetlabConsole(Console):
    def on_broken_pipe(self) -> None:
        """`netlab … | head`: the reader has what it wanted; that is success.

        rich's default exits 1, which would fail `set -o pipefail` scripts.
        """
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self.file.fileno())
        raise SystemExit(0)


def make_console(color: bool = True, file: IO[str] | None = None, stderr: bool = False) -> Console:
    stream = file if file is not None else (sys.stderr if stderr else sys.stdout)
    is_tty = hasattr(stream, "isatty") and stream.isatty()
    no_color = not color or bool(os.environ.get("NO_COLOR"))
    return NetlabConsole(
        file=stream,
        theme=THEME,
        no_color=no_color,
        # no_color alone still sends bold and dim: without a colour system rich sends
        # no escape at all (NO_COLOR users ask for plain text, not just no hues).
        color_system=None if no_color else "auto",
        # Not a terminal: no styles at all, and lines are never wrapped at 80 columns.
        force_terminal=is_tty or None,
        width=None if is_tty else 10_000,
        soft_wrap=not is_tty,
        highlight=False,
        emoji=False,
    )
