"""netlab: packet crafting and analysis toolkit for the terminal.

The version lives here (and only here) so that `netlab --version` needs no
`importlib.metadata` lookup, which costs tens of milliseconds at start-up.
"""

from __future__ import annotations

__version__ = "0.1.0"


def _hold_early_interrupts() -> list[int] | None:
    """Run as the `netlab` command: a Ctrl-C while the CLI is still being imported is
    noted here, not raised (which would kill the process before any JSON could be
    written); cli/main.py's main() takes it from there. Not installed when netlab is
    imported as a library (a test runner keeps its own Ctrl-C)."""
    import os
    import signal
    import sys

    if os.path.basename(sys.argv[0] if sys.argv else "") != "netlab":
        return None
    noted: list[int] = []
    try:
        signal.signal(signal.SIGINT, lambda signum, _frame: noted.append(signum))
    except ValueError:  # not the main thread
        return None
    return noted


early_interrupts = _hold_early_interrupts()

# The hot modules Cython compiled (setup.py), used only while newer than their source.
from netlab import compiled as _compiled  # noqa: E402

_compiled.install()
