"""tshark's scripting options for `netlab dissect` (issue 20), with tshark's meanings:

    -r FILE            the capture (the positional FILE's alias)
    -T fields|json|ek|tabs|text   with -e FIELD (repeatable) and -E OPTION=VALUE;
                       -T pdml, tshark's XML of the whole tree, and -T json without
                       -e, the same tree as JSON (render/pdml.py)
    -w FILE            write the packets that passed -Y (pcapng, comments kept)
    -2 -R FILTER       two passes: frames failing FILTER are dropped, the rest renumbered
    -t FORMAT          the time column: a ad adoy d dd e r u ud
    -n / -N FLAGS      name resolution off (netlab never looks names up) / on (refused)
    -O PROTO,…         the tree (-V) with only these protocols expanded
    -q, -l             no packet output / flush after each packet
    -o PREF:VALUE      the preferences that apply (BOOLEAN_PREFERENCES, PATH_PREFERENCES);
                       any other is refused

`tshark_options` adds them to a click command and hands them over as one `Script`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import click

from netlab.cli import complete
from netlab.errors import InputError

FORMATS = ("text", "fields", "json", "ek", "tabs", "pdml")
TIME_FORMATS = ("a", "ad", "adoy", "d", "dd", "e", "r", "u", "ud")
# -o: tshark's preferences netlab has, with the values it takes. A boolean that names
# what netlab always does (no checksum verification, sequence analysis, reassembly)
# accepts only that value; the other is refused rather than ignored.
BOOLEAN_PREFERENCES = {
    "tcp.relative_sequence_numbers": ("TRUE", "FALSE"),
    "tcp.analyze_sequence_numbers": ("TRUE",),
    "tcp.desegment_tcp_streams": ("TRUE",),
    "tcp.check_checksum": ("FALSE",),
    "udp.check_checksum": ("FALSE",),
}
PATH_PREFERENCES = ("tls.keylog_file",)
E_OPTIONS = {
    "header": ("y", "n"),
    "separator": None,  # /t, /s or one character
    "quote": ("d", "s", "n"),
    "occurrence": ("f", "l", "a"),
    "aggregator": None,  # /s or one character
}


@dataclass
class Script:
    read_file: str | None = None
    output: str | None = None
    fields: tuple[str, ...] = ()
    field_options: dict[str, str] = field(default_factory=dict)
    two_pass: bool = False
    read_filter: str | None = None
    time_format: str | None = None
    resolve: str | None = None
    tree_protocols: set[str] | None = None
    quiet: bool = False
    line_buffered: bool = False
    write: str | None = None
    path: str = ""  # the capture read (PDML's capture_file)
    preferences: tuple[str, ...] = ()  # -o PREF:VALUE, as given

    def preference(self, name: str) -> str | None:
        """The value -o gave NAME (the last one), or None."""
        found = None
        for item in self.preferences:
            key, _, value = item.partition(":")
            if key.strip() == name:
                found = value.strip()
        return found

    @property
    def absolute_seq(self) -> bool:
        return (self.preference("tcp.relative_sequence_numbers") or "TRUE").upper() == "FALSE"

    @property
    def active(self) -> bool:
        """Any option that takes the packets off the plain one-line path."""
        return bool(self.output not in (None, "text") or self.time_format or self.write
                    or self.read_filter or self.tree_protocols is not None or self.quiet
                    or self.line_buffered or self.absolute_seq or self.two_pass)  # fmt: skip

    def capture(self, file: str | None) -> str:
        """The file to read: FILE or -r FILE (one of them, or both the same)."""
        if file is None and self.read_file is None:
            raise InputError("no capture to read: give FILE (or -r FILE)")
        if file is not None and self.read_file is not None and file != self.read_file:
            raise InputError(f"two captures: {file!r} and -r {self.read_file!r}; give one")
        self.path = file if file is not None else self.read_file  # type: ignore[assignment]
        return self.path

    def check(self) -> None:
        """The combinations tshark refuses, refused the same way (exit 2)."""
        from netlab.dissect import fields as F
        from netlab.dissect.filter import check_field

        if self.fields and self.output not in ("fields", "json", "ek"):
            raise InputError("-e needs -T fields, json or ek")
        if self.output == "fields" and not self.fields:
            raise InputError('"-T fields" was given, but no fields with "-e"')
        if self.output == "ek" and not self.fields:
            raise InputError("-T ek needs -e FIELD (netlab's own JSON of every field is "
                             "--json; tshark's JSON of the tree is -T json)")  # fmt: skip
        if self.field_options and self.output != "fields":
            raise InputError("-E needs -T fields")
        if self.read_filter is not None and not self.two_pass:
            raise InputError("-R needs -2 (a one-pass filter is -Y)")
        if self.resolve is not None:
            raise InputError(f"-N {self.resolve}: netlab does not resolve names (no lookups); "
                             "addresses are always shown as numbers, as with -n")  # fmt: skip
        for item in self.preferences:
            _check_preference(item)
        if self.output == "pdml" and self.fields:
            raise InputError("-e goes with -T fields, json or ek, not pdml")
        for name in self.fields:
            if name not in F.COLUMNS:
                check_field(name)
        if self.tree_protocols:
            for proto in sorted(self.tree_protocols):
                if not F.is_protocol(proto):
                    raise InputError(f"-O {proto}: {proto!r} is not a protocol name")

    def fields_format(self) -> Any:
        if self.output == "pdml":
            from netlab import __version__
            from netlab.render.pdml import PdmlFormat

            return PdmlFormat(self.path, __version__)
        if self.output not in ("fields", "json", "ek"):
            return None
        from netlab.render import tshark_fields as out

        if self.output == "json" and not self.fields:
            from netlab.render.pdml import JsonTreeFormat

            return JsonTreeFormat()
        if self.output == "json":
            return out.JsonFormat(list(self.fields))
        if self.output == "ek":
            return out.EkFormat(list(self.fields))
        return out.FieldsFormat(list(self.fields), self.field_options)


def _check_preference(item: str) -> None:
    """-o PREF:VALUE as tshark checks it, in its words (exit 2)."""
    name, colon, value = item.partition(":")
    name, value = name.strip(), value.strip()
    if not colon or not name:
        raise InputError(f'Invalid -o flag "{item}"')
    if name in PATH_PREFERENCES:
        if not value:
            raise InputError(f'-o flag "{item}": expected a file name')
        return
    allowed = BOOLEAN_PREFERENCES.get(name)
    if allowed is None:
        raise InputError(f'-o flag "{item}" specifies unknown preference')
    if value.upper() not in ("TRUE", "FALSE"):
        raise InputError(f'-o flag "{item}": expected TRUE or FALSE')
    if value.upper() not in allowed:
        raise InputError(f'-o flag "{item}": netlab always has {name}:{allowed[0]}')


def _field_option(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]):
    """-E NAME=VALUE, checked as tshark checks it."""
    options: dict[str, str] = {}
    for item in value:
        name, eq, setting = item.partition("=")
        if not eq or name not in E_OPTIONS:
            raise click.BadParameter(
                f"{item!r}: expected NAME=VALUE with NAME one of {', '.join(E_OPTIONS)}"
            )
        allowed = E_OPTIONS[name]
        ok = setting in allowed if allowed else bool(setting)
        if name in ("separator", "aggregator"):
            ok = setting in ("/t", "/s") or len(setting) == 1
        if not ok:
            raise click.BadParameter(f"{item!r}: bad value for {name}")
        options[name] = setting
    return options


def _protocols(ctx: click.Context, param: click.Parameter, value: str | None):
    if value is None:
        return None
    names = {p.strip() for p in value.split(",") if p.strip()}
    if not names:
        raise click.BadParameter("expected PROTO[,PROTO…]")
    return names


_OPTIONS: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
    click.option("-r", "--read-file", "read_file", metavar="FILE", shell_complete=complete.files,
                 help="The capture to read (the same as FILE, as in tshark -r)."),
    click.option("-T", "--output-format", "output", type=click.Choice(FORMATS),
                 help="tshark's outputs: fields (-e values, one line per packet), json "
                      "(with -e: those fields; without: every packet's tree), ek (with -e), "
                      "tabs (the one-line view, tab-separated), pdml (tshark's XML of every "
                      "packet's tree), text."),
    click.option("-e", "--field", "fields", metavar="FIELD", multiple=True,
                 help="A field to print with -T fields|json|ek (repeatable), e.g. -e ip.src "
                      "-e tcp.srcport; values as tshark prints them."),
    click.option("-E", "--field-option", "field_options", metavar="NAME=VALUE",
                 multiple=True, callback=_field_option,
                 help="-T fields layout: header=y|n, separator=/t|/s|C, quote=d|s|n, "
                      "occurrence=f|l|a, aggregator=,|/s|C (repeatable)."),
    click.option("-2", "--two-pass", "two_pass", is_flag=True,
                 help="Two passes: with -R, the frames the filter drops are gone before "
                      "the second (renumbered, as tshark -2 -R)."),
    click.option("-R", "--read-filter", "read_filter", metavar="FILTER",
                 help="With -2: the first pass's display filter."),
    click.option("-t", "--time-format", "time_format", type=click.Choice(TIME_FORMATS),
                 help="Time column of the one-line view: r relative (default), a/ad/adoy "
                      "absolute local (with date / day of year), u/ud UTC, e epoch, d/dd "
                      "delta from the previous captured / displayed packet."),
    click.option("-n", "no_resolve", is_flag=True,
                 help="No name resolution (always so: netlab never looks names up)."),
    click.option("-N", "resolve", metavar="FLAGS",
                 help="Name resolution: refused (netlab shows addresses as numbers)."),
    click.option("-O", "--protocols", "tree_protocols", metavar="PROTO,…",
                 callback=_protocols,
                 help="The tree (-V) with only these protocols' fields shown."),
    click.option("-q", "--quiet", "quiet", is_flag=True,
                 help="No packet output (statistics and -w still work)."),
    click.option("-o", "preferences", metavar="PREF:VALUE", multiple=True,
                 help="A tshark preference: tcp.relative_sequence_numbers:FALSE (absolute "
                      "numbers), tls.keylog_file:FILE (as --keylog); also "
                      "tcp.analyze_sequence_numbers:TRUE, tcp.desegment_tcp_streams:TRUE, "
                      "tcp.check_checksum:FALSE, udp.check_checksum:FALSE (netlab's way)."),
    click.option("-l", "--line-buffered", "line_buffered", is_flag=True,
                 help="Flush the output after each packet."),
    click.option("-w", "--write", "write", metavar="FILE", type=click.Path(dir_okay=False),
                 shell_complete=complete.files,
                 help="Write the packets that pass -Y to FILE (pcapng, comments kept); "
                      "nothing is printed, as with tshark -w."),
]  # fmt: skip


def tshark_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add the options above; the command gets them as `script=Script(...)`."""
    names = ("read_file", "output", "fields", "field_options", "two_pass", "read_filter",
             "time_format", "no_resolve", "resolve", "tree_protocols", "quiet",
             "line_buffered", "write", "preferences")  # fmt: skip

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any):
        values = {n: kwargs.pop(n, None) for n in names}
        values.pop("no_resolve")
        script = Script(**{k: v for k, v in values.items() if v is not None})
        return f(*args, script=script, **kwargs)

    for option in reversed(_OPTIONS):
        wrapper = option(wrapper)
    return wrapper


class PcapngSaver:
    """-w: a tap of the view that writes each packet it is given (those that passed
    -Y) to a pcapng file, with its interface's link type and its comment."""

    def __init__(self, path: str) -> None:
        from netlab.capture.writer import PcapngWriter

        try:
            self.writer = PcapngWriter(path)
        except OSError as err:
            raise InputError(f"cannot write {path!r}: {err.strerror}") from None
        self.interfaces: dict[tuple[int, int], int] = {}

    def add(self, pkt: Any) -> None:
        key = (pkt.interface, pkt.linktype)
        index = self.interfaces.get(key)
        if index is None:
            index = self.interfaces[key] = self.writer.add_interface(pkt.linktype, snaplen=0)
        self.writer.write_packet(pkt.buf, pkt.ts_ns, index, pkt.wirelen, pkt.comment)

    def report(self, out: Any) -> None:
        self.writer.close()
