"""dig's command line for `netlab dns-query`, read word by word with dig's rules.

dig (BIND 9.18) keeps a *default lookup* and a *current* one. Before the first
name the current lookup is the default, so a type, a class, an ``@server`` or a
``+option`` given there applies to every name after it; each name (a bare word,
``-q NAME`` or ``-x ADDR``) starts a new lookup copied from the default, and what
follows it applies to that name only. A bare word is a type or a class only while
no ``-t``/``-c`` was given (after one, dig reads it as a name). ``+short``,
``+cmd``, ``+tries``/``+retry`` and ``+time`` are global, as in dig.

One extension, kept from netlab's own syntax: a second type for the same lookup
asks that name again with it (``example.lab MX TXT``), where dig warns "extra type
option" and keeps the last.

No I/O here: `parse` returns the lookups and the options dig has that netlab
does not honour, which the command refuses in one line.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from netlab.core.dns import (
    AXFR,
    IXFR,
    QueryInputError,
    is_type,
    normalize_name,
    parse_type,
    reverse_name,
)

PTR, A, NS, ANY = 12, 1, 2, 255
CLASSES = {"IN": 1, "CH": 3, "CHAOS": 3, "HS": 4, "HESIOD": 4}

# +options netlab honours: canonical name → shortest prefix dig accepts for it.
HONOURED = {
    "adflag": 3, "additional": 3, "all": 2, "answer": 2, "authority": 2, "bufsize": 2, "class": 2,
    "cmd": 2, "comments": 4, "cookie": 4, "defname": 3, "dnssec": 2, "edns": 4, "ignore": 2,
    "nsid": 3, "question": 2, "rdflag": 2, "recurse": 3, "retry": 3, "search": 3,
    "short": 3, "split": 2, "stats": 2, "tcp": 3, "timeout": 2, "trace": 3, "tries": 3,
    "ttlid": 4, "vc": 2,
}  # fmt: skip
# Only their "no" form is netlab's behaviour (no search list, no splitting).
ONLY_NO = {"defname", "search", "split"}
# dig's short options that take a value, and the ones netlab reads itself.
DASH_WITH_VALUE = {"b", "f", "k", "y"}
DASH_OWN = {"t", "q", "x", "c"}


@dataclass
class Settings:
    """What one lookup asks and shows (dig's `dig_lookup_t`, the parts netlab honours)."""

    servers: list[str] = field(default_factory=list)
    qtypes: list[int] = field(default_factory=list)
    qclass: int = 1
    serial: int | None = None  # IXFR=N
    rd: bool = True
    ad: bool = True  # dig's +adflag, on by default
    edns: bool = True
    bufsize: int = 1232
    dnssec: bool = False
    nsid: bool = False
    cookie: bool = True  # as dig: a client cookie (RFC 7873) in every query with EDNS
    tcp: bool = False
    tcp_given: bool = False  # +[no]tcp was said: ANY no longer switches to TCP (dig's rule)
    ignore_tc: bool = False
    trace: bool = False
    question: bool = True
    answer: bool = True
    authority: bool = True
    additional: bool = True
    comments: bool = True
    stats: bool = True
    ttlid: bool = True
    rrclass: bool = True
    # Whether qtypes / servers were given for this lookup (not copied from the default).
    own_types: bool = False
    own_servers: bool = False


@dataclass
class Lookup:
    name: str  # absolute
    settings: Settings
    reverse: str | None = None  # the address of -x

    def questions(self) -> list[int]:
        if self.settings.qtypes:
            return self.settings.qtypes
        return [PTR if self.reverse is not None else A]


@dataclass
class DigLine:
    lookups: list[Lookup]
    short: bool = False
    cmd: bool = True
    tries: int | None = None
    timeout: float | None = None
    unsupported: list[str] = field(default_factory=list)
    default: Settings = field(default_factory=Settings)  # what a name given later would get


def query_name(word: str) -> str:
    """WORD as an absolute name, checked by `normalize_name` but in the case it was typed
    (dig sends it so, and servers echo it)."""
    name = normalize_name(word)
    if word.isascii() and word not in (".", ""):
        return word if word.endswith(".") else word + "."
    return name


class _Reader:
    def __init__(self, defaults: Settings, line: DigLine) -> None:
        self.default = defaults
        self.current = defaults
        self.line = line
        self.open_type_class = True  # until -t or -c, as dig's open_type_class

    def new_lookup(self, name: str, reverse: str | None = None) -> Lookup:
        settings = copy.deepcopy(self.default)
        settings.own_types = settings.own_servers = False
        lookup = Lookup(name, settings, reverse)
        if reverse is not None:
            settings.qtypes = [PTR]
        self.line.lookups.append(lookup)
        self.current = settings
        return lookup

    def set_type(self, word: str) -> None:
        s = self.current
        upper = word.upper()
        if upper.startswith("IXFR="):
            try:
                serial = int(upper[5:])
            except ValueError:
                raise QueryInputError(f"{word}: IXFR=N needs a serial number") from None
            if not 0 <= serial <= 0xFFFFFFFF:
                raise QueryInputError(f"{word}: the serial is 0 to 4294967295")
            qtype = IXFR
            s.serial = serial
            s.tcp = True
        elif upper == "IXFR":
            raise QueryInputError("IXFR needs the serial you have: IXFR=N (as dig)")
        else:
            qtype = parse_type(word)
        s.qtypes = [*s.qtypes, qtype] if s.own_types else [qtype]
        s.own_types = True
        if qtype == AXFR or (qtype == ANY and not s.tcp_given):
            s.tcp = True  # dig asks ANY over TCP unless told +notcp

    def set_class(self, word: str) -> None:
        upper = word.upper()
        if upper in CLASSES:
            self.current.qclass = CLASSES[upper]
            return
        raise QueryInputError(f"class {word!r}: netlab asks IN, CH or HS")

    def add_server(self, text: str) -> None:
        if not text:
            raise QueryInputError("'@' needs a server after it (as dig: @198.18.0.1)")
        s = self.current
        s.servers = [*s.servers, text] if s.own_servers else [text]
        s.own_servers = True

    def word(self, word: str) -> None:
        if self.open_type_class:
            upper = word.upper()
            if upper == "IXFR" or upper.startswith("IXFR=") or is_type(word):
                self.set_type(word)
                return
            if word.upper() in CLASSES:
                self.set_class(word)
                return
        self.new_lookup(query_name(word))

    def dash(self, letter: str, value: str | None) -> None:
        if letter == "t":
            self.open_type_class = False
            self.set_type(value)
        elif letter == "c":
            self.open_type_class = False
            self.set_class(value)
        elif letter == "q":
            self.new_lookup(query_name(value))
        elif letter == "x":
            self.new_lookup(reverse_name(value), reverse=value)

    def plus(self, token: str) -> None:
        body = token[1:]
        name, _eq, value = body.partition("=")
        state = not name.startswith("no")
        bare = name[2:] if not state else name
        option = _match(bare.lower())
        if option is None or (option in ONLY_NO and state):
            self.line.unsupported.append(token)
            return
        try:
            _apply(self, option, state, value if _eq else None)
        except _Unsupported:
            self.line.unsupported.append(token)


class _Unsupported(Exception):
    pass


def _match(name: str) -> str | None:
    found = [o for o, least in HONOURED.items() if len(name) >= least and o.startswith(name)]
    return found[0] if len(found) == 1 else None


def _number(option: str, value: str | None, low: float, high: float, kind=int) -> float:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise QueryInputError(f"+{option}=N needs a number, not {value!r}") from None
    if not low <= number <= high:
        raise QueryInputError(f"+{option}={value}: {low:g} to {high:g}")
    return number


_SECTIONS = ("question", "answer", "authority", "additional", "comments", "stats")
_FLAGS = {"recurse": "rd", "rdflag": "rd", "adflag": "ad", "tcp": "tcp", "vc": "tcp",
          "ignore": "ignore_tc", "dnssec": "dnssec", "nsid": "nsid", "cookie": "cookie",
          "trace": "trace", "ttlid": "ttlid", "class": "rrclass"}  # fmt: skip


def _apply(reader: _Reader, option: str, state: bool, value: str | None) -> None:
    s, line = reader.current, reader.line
    if value is not None and option not in ("bufsize", "edns", "retry", "tries", "timeout"):
        raise _Unsupported
    if option in _SECTIONS:
        setattr(s, option, state)
    elif option == "all":
        for section in _SECTIONS:
            setattr(s, section, state)
        line.cmd = state
    elif option in _FLAGS:
        setattr(s, _FLAGS[option], state)
        s.tcp_given = s.tcp_given or _FLAGS[option] == "tcp"
        if option in ("nsid", "cookie") and state:
            s.edns = True
    elif option == "short":
        line.short = state
        if state:
            for section in _SECTIONS:
                setattr(s, section, section == "answer")
    elif option == "cmd":
        line.cmd = state
    elif option == "edns":
        if value not in (None, "0"):
            raise _Unsupported  # netlab sends EDNS version 0 only
        s.edns = state
    elif option == "bufsize":
        if not state or value is None:
            raise _Unsupported
        s.bufsize = int(_number(option, value, 0, 65535))
    elif option in ("tries", "retry"):
        if not state or value is None:
            raise _Unsupported
        extra = 1 if option == "retry" else 0
        line.tries = int(_number(option, value, 1 - extra, 10 - extra)) + extra
    elif option == "timeout":
        if not state or value is None:
            raise _Unsupported
        line.timeout = _number("time", value, 0.001, 86400, float)
    # defname, search, split: only their "no" form gets here, which is netlab's way.


def parse(args: list[str] | tuple[str, ...], defaults: Settings) -> DigLine:
    """dig's words in order → the lookups. Raises `QueryInputError` (one line) on a bad name,
    type, class or value; options netlab lacks are collected in `unsupported`."""
    line = DigLine([], default=defaults)
    reader = _Reader(defaults, line)
    words = list(args)
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word.startswith("@"):
            reader.add_server(word[1:])
        elif word.startswith("+") and len(word) > 1:
            reader.plus(word)
        elif word.startswith("--"):
            line.unsupported.append(word)
        elif word.startswith("-") and len(word) > 1:
            letter, value = word[1], word[2:] or None
            if letter in DASH_OWN or letter in DASH_WITH_VALUE:
                if value is None:
                    if i >= len(words):
                        raise QueryInputError(f"-{letter} needs a value (as dig: -{letter} …)")
                    value = words[i]
                    i += 1
                if letter in DASH_OWN:
                    reader.dash(letter, value)
                else:
                    line.unsupported.append(f"-{letter}")
            else:
                line.unsupported.append(word)
        else:
            reader.word(word)
    return line


def root_ns_lookup(line: DigLine) -> Lookup:
    """What dig asks when no name is given: the root's NS set (or the default's types)."""
    settings = copy.deepcopy(line.default)
    settings.qtypes = settings.qtypes or [NS]
    return Lookup(".", settings)
