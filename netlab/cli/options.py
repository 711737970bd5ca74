"""The common options of design.md §4, defined once and shared by every command.

Usage in a command module::

    @click.command()
    @common_options("iface", "timeout", "json", "no_color", timeout=2.0)
    def ping(common: Common, target: str) -> ExitStatus: ...

The decorator adds the chosen options, collects their values into one `Common`
object and passes it as the first argument, so commands never re-declare
`--json` or `-w` with slightly different spellings or help.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from typing import Any

import click

from netlab.cli import complete, state


class Number(click.ParamType):
    """The one numeric option type: a finite number within [LOW, HIGH] (LOW itself
    excluded when LOW_OPEN). `nan`, `inf` and `1e300` are usage errors (exit 2) with the
    range in the message, never a crash further in."""

    name = "number"

    def __init__(self, low: float, high: float, *, low_open: bool = False) -> None:
        self.low, self.high, self.low_open = low, high, low_open

    def _range(self) -> str:
        low, high = format(self.low, ".10g"), format(self.high, ".10g")
        return f"above {low}, up to {high}" if self.low_open else f"{low} to {high}"

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        if isinstance(value, float | int) and not isinstance(value, bool):
            number = float(value)
        else:
            try:
                number = float(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number ({self._range()})", param, ctx)
        if number < self.low or (self.low_open and number == self.low) or number > self.high:
            self.fail(f"{value} is out of range ({self._range()})", param, ctx)
        return number

    def __repr__(self) -> str:
        return f"Number({self._range()})"


# The ranges every command shares (documented in each option's error message).
DAY = 86400.0
SECONDS = Number(0, DAY, low_open=True)  # a wait or a timeout: above 0, at most a day
SECONDS_OR_ZERO = Number(0, DAY)  # a hold or an interval that may be 0
DEADLINE = Number(0, 30 * DAY, low_open=True)  # -w: a whole run, up to 30 days
RATE = Number(0.001, 1_000_000)  # packets per second

WRITE_HELP = "Save every packet sent and received to FILE (pcapng)."


def interface_name(ctx: Any, param: Any, value: str | None) -> str | None:
    """-i/-I IFACE: a name the kernel could have (not empty, no '/', at most 15 bytes)."""
    if value is None:
        return None
    if not value or "/" in value or len(value.encode()) > 15 or value.strip() != value:
        raise click.BadParameter(f"{value!r} is not an interface name")
    return value


@dataclass(frozen=True)
class Common:
    """Values of the shared options for one command invocation."""

    iface: str | None = None
    timeout: float | None = None
    count: int | None = None
    verbose: int = 0
    write: str | None = None
    json: bool = False
    color: bool = True
    debug: bool = False


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    # Eager, so that errors raised while parsing later options already see it.
    if value:
        state.debug = True
    return value


def _no_color_default() -> bool:
    # https://no-color.org: any non-empty NO_COLOR disables colour.
    return bool(os.environ.get("NO_COLOR"))


def _options(defaults: dict[str, Any]) -> dict[str, Any]:
    return {
        "iface": click.option(
            "-i",
            "--iface",
            metavar="IFACE",
            callback=interface_name,
            shell_complete=complete.interfaces,
            default=defaults.get("iface"),
            help="Interface to use (default: the one the route to the target uses).",
        ),
        "timeout": click.option(
            "--timeout",
            metavar="SECONDS",
            show_default=True,
            type=SECONDS,
            default=defaults.get("timeout"),
            help="How long to wait for an answer.",
        ),
        "count": click.option(
            "-c",
            "--count",
            metavar="N",
            show_default=True,
            type=click.IntRange(min=1),
            default=defaults.get("count"),
            help="Stop after N probes or packets.",
        ),
        "verbose": click.option(
            "-v",
            "--verbose",
            count=True,
            help="Show every packet sent and received, layer by layer (-vv adds hex).",
        ),
        "write": click.option(
            "-w",
            "--write",
            metavar="FILE",
            type=click.Path(dir_okay=False),
            help=WRITE_HELP,
        ),
        "json": click.option(
            "--json",
            "json_",
            is_flag=True,
            help="Machine-readable output (JSON; NDJSON for streaming commands).",
        ),
        "no_color": click.option(
            "--no-color",
            is_flag=True,
            default=_no_color_default,
            help="Plain output without colour (also when NO_COLOR is set).",
        ),
        "debug": click.option(
            "--debug",
            is_flag=True,
            is_eager=True,
            callback=_set_debug,
            help="Show a traceback on errors.",
        ),
    }


# --write without -w, for commands whose -w is another option (ping's deadline,
# traceroute's wait); its value comes as the `write` argument.
write_option = click.option("--write", metavar="FILE", type=click.Path(dir_okay=False),
                            help=WRITE_HELP)  # fmt: skip


def family_options(about: str = ""):
    """-4 and -6, as the argument `family` (4, 6 or None). ABOUT, when given, is said in
    parentheses after "IPv4 only", with {} for the family's number."""

    def decorator(func):
        for version in (6, 4):  # the last applied is listed first
            detail = f" ({about.format(version)})" if about else ""
            func = click.option(f"-{version}", "family", flag_value=version,
                                help=f"IPv{version} only{detail}.")(func)  # fmt: skip
        return func

    return decorator


COMMON_NAMES = ("iface", "timeout", "count", "verbose", "write", "json", "no_color", "debug")
_KWARG = {"json": "json_"}  # click parameter names that differ from the option name


def common_options(*names: str, **defaults: Any):
    """Add the named common options (always including --debug) and pass a `Common`."""
    unknown = set(names) - set(COMMON_NAMES)
    if unknown:
        raise ValueError(f"unknown common options: {sorted(unknown)}")
    chosen = [n for n in COMMON_NAMES if n in names or n == "debug"]

    def decorator(func):
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any):
            values = {n: kwargs.pop(_KWARG.get(n, n), None) for n in chosen}
            common = Common(
                iface=values.get("iface"),
                timeout=values.get("timeout"),
                count=values.get("count"),
                verbose=values.get("verbose") or 0,
                write=values.get("write"),
                json=bool(values.get("json")),
                color=not values.get("no_color"),
                debug=bool(values.get("debug")) or state.debug,
            )
            return func(common, *args, **kwargs)

        options = _options(defaults)
        for name in reversed(chosen):
            wrapper = options[name](wrapper)
        return wrapper

    return decorator


# --- declarations several commands share (their one run path: cli/run.py) ----------------------

HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}  # every command takes -h for --help


def command(name: str, short_help: str, group: Any = click, **settings: Any):
    """Declare a netlab command (or GROUP's subcommand) that takes -h as well as --help;
    SETTINGS: more of click's context settings."""
    return group.command(name, short_help=short_help, context_settings={**HELP_OPTIONS, **settings})


def client_options(timeout: float):
    """The common options of a command that talks to servers over kernel sockets
    (tls-hello, quic-hello, rtmp-handshake, dht-lookup, torrent announce/peer)."""
    return common_options("timeout", "verbose", "write", "json", "no_color", timeout=timeout)


def file_option(*decls: str, help: str, exists: bool = False, metavar: str = "FILE", **extra: Any):
    """An option naming a file (not a directory); EXISTS: one to read, checked by click."""
    path = click.Path(exists=exists, dir_okay=False)
    return click.option(*decls, type=path, metavar=metavar, help=help, **extra)


def seconds_option(*decls: str, help: str, default: float | None = None, metavar: str = "SECONDS"):
    """An option giving a wait in seconds (`SECONDS`); a default is shown in --help."""
    shown = {} if default is None else {"default": default, "show_default": True}
    return click.option(*decls, type=SECONDS, metavar=metavar, help=help, **shown)
