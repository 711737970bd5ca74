"""netlab: packet crafting and analysis toolkit for the terminal.

The version lives here (and only here) so that `netlab --version` needs no
`importlib.metadata` lookup, which costs tens of milliseconds at start-up.
"""

__version__ = "0.1.0"
