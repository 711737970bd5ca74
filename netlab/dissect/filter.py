"""Display filters in Wireshark 4 syntax, evaluated as Wireshark evaluates them.

    tcp   frame   _ws.malformed             protocol or field present
    ip.ttl < 64    ip.ttl lt 64             == != < > <= >= ~= === and eq ne lt gt le ge
    ip.addr == 198.18.0.0/15                addresses match by CIDR
    eth.src == 00:11:22:33:44:55            MAC addresses (also aa-bb-… and aabb.ccdd.eeff)
    dns.qry.name == "example.lab"           strings
    tcp.port in {80, 443, 8000..8080}       sets and ranges (commas optional)
    tcp contains "GET"   frame contains 47:45:54   substring of a field or a protocol's bytes
    http.host matches "(?i)^www\\."         regular expression (search), (?i): any case
    eth.src[0:3] == 00:00:5e   frame[-2:]   slices: [start:length], [start-end], [i], [:n]
    len(http.host) > 10   upper(http.request.method) == "GET"   functions len, upper, lower, count
    tcp.flags & 0x02      tcp.flags & 0x12 == 0x12                 bitwise AND
    ip.src == ip.dst                        fields compared with fields
    !arp && (icmp || udp.port == 53) ^^ x   ! && || ^^ not and or xor, parentheses

Semantics follow Wireshark 4: a field that occurs several times matches `==`, `<`, …
when any occurrence does; `!=` means "no occurrence equals" (Wireshark's `!==`), `~=`
"some occurrence differs", `===` "every occurrence equals". A protocol's value is its
bytes (see fields.protocol_bytes). A name that is neither a field netlab knows nor a
protocol is an error naming it, never a filter that matches nothing.

`compile_filter(text)` returns a `DisplayFilter` or raises `InputError` with one
line that names the column and the offending token.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from netlab.dissect import fields as F
from netlab.dissect.engine import load_protocols
from netlab.dissect.model import Packet
from netlab.errors import InputError

ALIASES = F.ALIASES
OPERATORS = {
    "==": "==", "eq": "==", "!=": "!=", "ne": "!=", "<": "<", "lt": "<", ">": ">", "gt": ">",
    "<=": "<=", "le": "<=", ">=": ">=", "ge": ">=", "contains": "contains", "in": "in",
    "~=": "~=", "any_ne": "~=", "===": "===", "all_eq": "===", "!==": "!=", "all_ne": "!=",
    "any_eq": "==", "matches": "matches", "~": "matches",
}  # fmt: skip

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<slice>\[[^\]]*\])
      | (?P<op>===|!==|==|!=|<=|>=|~=|<|>|&&|\|\||&|!|~|\(|\)|\{|\}|,|\.\.(?!\.))
      | (?P<word>(?:[A-Za-z0-9_:/\-]|\.(?!\.))+)  # a ".." ends a word: 1000..2000
    )""",
    re.VERBOSE,
)
WORD_OPS = {"and": "&&", "or": "||", "not": "!", "xor": "^^", "bitwise_and": "&"}
FUNCTIONS = ("len", "upper", "lower", "count")
_NAME = re.compile(r"[a-z_][a-z0-9_\-]*(\.[\w\-]+)*")


@dataclass(frozen=True)
class Token:
    kind: str  # string, slice, op, cmp, word, end
    text: str
    col: int  # 1-based column for error messages


def tokenize(text: str) -> list[Token]:
    tokens = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            col = pos + len(text[pos:]) - len(text[pos:].lstrip()) + 1
            raise _error(text, col, text[col - 1], "unexpected character")
        kind = m.lastgroup or "word"
        value = m.group(kind)
        col = m.start(kind) + 1
        if kind == "word" and value.lower() in WORD_OPS:
            kind, value = "op", WORD_OPS[value.lower()]
        elif kind == "word" and value.lower() in OPERATORS:
            kind = "cmp"
            value = value.lower()
        elif kind == "op" and value in OPERATORS:
            kind = "cmp"
        tokens.append(Token(kind, value, col))
        pos = m.end()
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


def _error(text: str, col: int, token: str, why: str) -> InputError:
    shown = token if token else "end of filter"
    return InputError(f"bad display filter {text!r}: {why} at column {col} ({shown!r})")


def unknown_field(name: str) -> InputError:
    """tshark's words for a name it does not know."""
    return InputError(f"{name!r} is neither a field nor a protocol name")


Predicate = Callable[[F.PacketFields], bool]


class DisplayFilter:
    """A compiled filter: `matches(pkt)` decides whether a packet is shown. Packets
    are passed in file order (frame.time_delta and the like depend on the ones
    before); `see(pkt)` notes a packet the view skipped without asking."""

    def __init__(self, text: str, predicate: Predicate) -> None:
        self.text = text
        self._predicate = predicate
        self.clock = F.FrameClock()
        self._seen = 0

    def see(self, pkt: Packet) -> None:
        if pkt.no != self._seen:
            self._seen = pkt.no
            self.clock.see(pkt)

    def matches(self, pkt: Packet) -> bool:
        self.see(pkt)
        try:
            ok = bool(self._predicate(F.PacketFields(pkt, self.clock)))
        except (ValueError, TypeError, OverflowError, re.error):
            ok = False  # a value of an unexpected type never matches
        if ok:
            self.clock.shown(pkt)
        return ok


# --- operands: what a comparison compares ------------------------------------------------

_NUMERIC = F.INT_TYPES | {"FT_BOOLEAN", "FT_DOUBLE", "FT_FLOAT", "FT_RELATIVE_TIME",
                          "FT_ABSOLUTE_TIME"}  # fmt: skip
_ADDRESS = {"FT_IPv4": 4, "FT_IPv6": 6}


class Operand:
    """Something with values per packet and a Wireshark type (`kind`)."""

    kind = "FT_STRING"
    name = "?"

    def values(self, pf: F.PacketFields) -> list[Any]:
        raise NotImplementedError

    def present(self, pf: F.PacketFields) -> bool:
        return any(v or v == 0 for v in self.values(pf))


class Field(Operand):
    def __init__(self, name: str) -> None:
        self.name = name
        self.kind = F.ftype(name) or "FT_STRING"

    def values(self, pf: F.PacketFields) -> list[Any]:
        if self.kind == "FT_PROTOCOL" and "." not in self.name:
            return pf.protocol(self.name)
        return pf.get(self.name)

    def present(self, pf: F.PacketFields) -> bool:
        return pf.present(self.name)


class Slice(Operand):
    """field[ranges]: the bytes of each occurrence, cut (Wireshark's ranges: i:len,
    i-j inclusive, i, :len, i:; negative offsets count from the end)."""

    kind = "FT_BYTES"

    def __init__(self, inner: Operand, ranges: list[tuple[int, int | None]]) -> None:
        self.inner = inner
        self.name = inner.name
        self.ranges = ranges

    def values(self, pf: F.PacketFields) -> list[Any]:
        out = []
        for value in self.inner.values(pf):
            raw = F.as_bytes(value, self.inner.kind)
            if raw is None:
                continue
            cut = b"".join(_cut(raw, start, length) for start, length in self.ranges)
            if cut:
                out.append(cut)
        return out


def _cut(raw: bytes, start: int, length: int | None) -> bytes:
    if start < 0:
        start += len(raw)
        if start < 0:
            return b""
    if length is None:
        return raw[start:]
    if start + length > len(raw):
        return b""  # Wireshark: a range past the end yields no value
    return raw[start : start + length]


class Function(Operand):
    def __init__(self, fn: str, inner: Operand) -> None:
        self.fn = fn
        self.inner = inner
        self.name = inner.name
        self.kind = "FT_UINT32" if fn in ("len", "count") else inner.kind

    def values(self, pf: F.PacketFields) -> list[Any]:
        values = self.inner.values(pf)
        if self.fn == "count":
            return [len(values)]
        if self.fn == "len":
            out = []
            for v in values:
                raw = F.as_bytes(v, self.inner.kind)
                if raw is not None:
                    out.append(len(raw))
            return out
        if self.fn == "upper":
            return [v.upper() for v in values if isinstance(v, str)]
        return [v.lower() for v in values if isinstance(v, str)]


class BitAnd(Operand):
    def __init__(self, inner: Operand, mask: int) -> None:
        self.inner = inner
        self.name = inner.name
        self.kind = inner.kind
        self.mask = mask

    def values(self, pf: F.PacketFields) -> list[Any]:
        out = []
        for v in self.inner.values(pf):
            if isinstance(v, bytes):  # a byte slice: its bytes as one big-endian number
                v = int.from_bytes(v, "big")
            if isinstance(v, int | bool):
                out.append(int(v) & self.mask)
        return out

    def present(self, pf: F.PacketFields) -> bool:
        return any(self.values(pf))


# --- literals typed by the field they are compared with ---------------------------------

_BYTES = re.compile(r"[0-9a-fA-F]{1,2}(?P<sep>[:\-.])[0-9a-fA-F]{1,2}(?:(?P=sep)[0-9a-fA-F]{1,2})*")
_MAC_DOTS = re.compile(r"^[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}$")


@dataclass
class Literal:
    text: str
    quoted: bool
    tok: Token


def _bytes_literal(lit: Literal) -> bytes | None:
    if lit.quoted:
        return lit.text.encode("utf-8", "surrogateescape")
    text = lit.text
    if _MAC_DOTS.match(text):
        return bytes.fromhex(text.replace(".", ""))
    m = _BYTES.fullmatch(text)
    if m is not None:
        return bytes(int(part, 16) for part in text.split(m.group("sep")))
    if re.fullmatch(r"(?:[0-9a-fA-F]{2})+", text):  # one byte "ff", or "aabbcc"
        return bytes.fromhex(text)
    return None


def _number(text: str) -> int | float | None:
    low = text.lower()
    if low in ("true", "false"):
        return 1 if low == "true" else 0
    with contextlib.suppress(ValueError):
        return int(text, 0)
    if re.fullmatch(r"0[0-7]+", text):
        return int(text, 8)
    with contextlib.suppress(ValueError):
        return float(text)
    return None


def typed(lit: Literal, kind: str, parser: _Parser, op: str = "==") -> Any:
    """The literal as a value of KIND, or a one-line error (tshark refuses too)."""
    if op == "matches":
        if not lit.quoted:
            raise parser.fail("a regular expression must be a quoted string", lit.tok)
        try:
            return re.compile(lit.text, re.DOTALL)
        except re.error as err:
            raise parser.fail(f"bad regular expression ({err})", lit.tok) from None
    if kind in _NUMERIC and op != "contains":
        number = None if lit.quoted else _number(lit.text)
        if number is None:
            raise parser.fail(f"{lit.text!r} is not a valid number", lit.tok)
        return number
    if kind in _ADDRESS and op != "contains":
        version = _ADDRESS[kind]
        try:
            net = ipaddress.ip_network(lit.text, strict=False)
        except ValueError:
            net = None
        if net is None or net.version != version:
            raise parser.fail(f"is not a valid IPv{version} address or prefix", lit.tok)
        return net
    if kind in F.BYTE_TYPES:
        raw = _bytes_literal(lit)
        if raw is None:
            raise parser.fail(f"{lit.text!r} is not a valid byte string", lit.tok)
        return raw
    return lit.text


def norm(value: Any, kind: str) -> Any:
    """A field's value in the form literals of its kind are: bytes for byte kinds, an
    address for IP kinds, numbers as they are."""
    if kind in F.BYTE_TYPES and kind not in _ADDRESS:
        return F.as_bytes(value, kind)
    if kind in _ADDRESS and isinstance(value, str):
        try:
            return ipaddress.ip_address(value)
        except ValueError:
            return None
    if isinstance(value, bool):
        return int(value)
    return value


def _test(value: Any, op: str, want: Any) -> bool:
    """One occurrence against one wanted value (already normalized)."""
    if value is None:
        return False
    if isinstance(want, re.Pattern):
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        return isinstance(value, str) and want.search(value) is not None
    if isinstance(want, ipaddress.IPv4Network | ipaddress.IPv6Network):
        if not isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
            return False
        if value.version != want.version:
            return False
        if op == "==":
            return value in want
        return _order(int(value), int(want.network_address), op)
    if op == "contains":
        if isinstance(value, str) and isinstance(want, bytes):
            want = want.decode("utf-8", "surrogateescape")
        return type(value) is type(want) and want in value
    if isinstance(value, str) and isinstance(want, bytes):
        want = want.decode("utf-8", "surrogateescape")
    if isinstance(want, int | float) != isinstance(value, int | float):
        return False
    return _order(value, want, op)


def _order(a: Any, b: Any, op: str) -> bool:
    if op == "==":
        return a == b
    if op == "<":
        return a < b
    if op == ">":
        return a > b
    if op == "<=":
        return a <= b
    if op == ">=":
        return a >= b
    return False


def _compare(left: Operand, op: str, right: Operand | Any) -> Predicate:
    """LEFT op RIGHT (a literal already typed, or an operand): Wireshark's any/all."""
    kind = left.kind

    def wanted(pf: F.PacketFields) -> list[Any]:
        if isinstance(right, Operand):
            return [norm(v, right.kind) for v in right.values(pf)]
        return [right]

    def pairs(pf):
        want = wanted(pf)
        return [(norm(v, kind), w) for v in left.values(pf) for w in want]

    if op == "!=":  # no occurrence equals (and there is one)
        return lambda pf: bool(p := pairs(pf)) and not any(_test(v, "==", w) for v, w in p)
    if op == "~=":
        return lambda pf: any(not _test(v, "==", w) for v, w in pairs(pf))
    if op == "===":
        return lambda pf: bool(p := pairs(pf)) and all(_test(v, "==", w) for v, w in p)
    return lambda pf: any(_test(v, op, w) for v, w in pairs(pf))


# --- parser ---------------------------------------------------------------------------

MAX_NESTING = 64  # parentheses inside parentheses; deeper is refused (exit 2)


def _chain(terms: list[Predicate], every: bool) -> Predicate:
    """TERMS joined by "&&" (EVERY) or "||": one flat predicate, however many terms."""
    if len(terms) == 1:
        return terms[0]
    if len(terms) == 2:
        a, b = terms
        if every:
            return lambda p: a(p) and b(p)
        return lambda p: a(p) or b(p)
    fold = all if every else any
    return lambda p: fold(t(p) for t in terms)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0  # parentheses open at this point

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def at(self, kind: str, text: str | None = None) -> bool:
        return self.tok.kind == kind and (text is None or self.tok.text == text)

    def fail(self, why: str, tok: Token | None = None) -> InputError:
        tok = tok or self.tok
        return _error(self.text, tok.col, tok.text, why)

    def parse(self) -> Predicate:
        if self.tok.kind == "end":
            raise self.fail("empty filter")
        pred = self.or_expr()
        if self.tok.kind != "end":
            raise self.fail("unexpected token")
        return pred

    def or_expr(self) -> Predicate:
        # Chains are kept flat (a list of terms, not closures nested one per operator),
        # so 1,000 "||" terms evaluate without 1,000 nested calls.
        terms = [self.and_expr()]
        while self.tok.kind == "op" and self.tok.text in ("||", "^^"):
            if self.take().text == "^^":
                left, right = _chain(terms, every=False), self.and_expr()
                terms = [lambda p, a=left, b=right: a(p) != b(p)]
            else:
                terms.append(self.and_expr())
        return _chain(terms, every=False)

    def and_expr(self) -> Predicate:
        terms = [self.not_expr()]
        while self.at("op", "&&"):
            self.take()
            terms.append(self.not_expr())
        return _chain(terms, every=True)

    def not_expr(self) -> Predicate:
        negate = False
        while self.at("op", "!"):
            self.take()
            negate = not negate
        inner = self.primary()
        return (lambda p: not inner(p)) if negate else inner

    def primary(self) -> Predicate:
        if self.at("op", "("):
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise self.fail(f"parentheses nested deeper than {MAX_NESTING}")
            self.take()
            inner = self.or_expr()
            self.depth -= 1
            if not self.at("op", ")"):
                raise self.fail("missing ')'")
            self.take()
            return inner
        if self.tok.kind != "word":
            raise self.fail("expected a field or protocol name")
        return self.comparison()

    def comparison(self) -> Predicate:
        left = self.operand()
        if self.tok.kind != "cmp":
            return left.present
        op_tok = self.take()
        op = OPERATORS[op_tok.text]
        if op == "in":
            return self.membership(left)
        return _compare(left, op, self.right_side(left, op))

    def operand(self, lhs: bool = True) -> Operand:
        """A field or protocol, perhaps sliced, in a function, or ANDed with a mask."""
        tok = self.take()
        name = tok.text
        if name in FUNCTIONS and self.at("op", "("):
            self.take()
            if self.tok.kind != "word":
                raise self.fail("expected a field in the function")
            inner = self.operand()
            if not self.at("op", ")"):
                raise self.fail("missing ')'")
            self.take()
            if name in ("upper", "lower") and inner.kind != "FT_STRING":
                raise self.fail(f"{name}() takes a string field", tok)
            found: Operand = Function(name, inner)
        else:
            if not (_NAME.fullmatch(name) and (F.known(name) or name in ALIASES)):
                why = f"{name!r} is neither a field nor a protocol name"
                raise self.fail(why, tok)
            found = Field(name)
        while self.tok.kind == "slice":
            found = self.slice(found, self.take())
        if self.at("op", "&"):
            self.take()
            mask_tok = self.take()
            mask = None if mask_tok.kind != "word" else _number(mask_tok.text)
            if not isinstance(mask, int) or found.kind not in F.INT_TYPES | {"FT_BYTES"}:
                raise self.fail("'&' takes an integer field and an integer mask", mask_tok)
            found = BitAnd(found, mask)
        return found

    def slice(self, inner: Operand, tok: Token) -> Operand:
        if inner.kind in _NUMERIC:
            raise self.fail(f"{inner.name!r} is a number and cannot be sliced", tok)
        ranges = []
        for part in tok.text[1:-1].split(","):
            part = part.strip()
            m = re.fullmatch(r"(-?\d*)(?::(\d*)|-(\d+))?", part)
            if m is None or part == "":
                raise self.fail("bad slice", tok)
            start = int(m.group(1) or 0)
            if m.group(3) is not None:  # i-j: from i to j, both included
                length: int | None = int(m.group(3)) - start + 1
            elif ":" in part:
                length = int(m.group(2)) if m.group(2) else None
            else:
                length = 1
            if length is not None and length <= 0:
                raise self.fail("bad slice", tok)
            ranges.append((start, length))
        return Slice(inner, ranges)

    def right_side(self, left: Operand, op: str) -> Any:
        tok = self.tok
        if (
            tok.kind == "word"
            and not _looks_literal(tok.text)
            and (F.known(tok.text) or tok.text in ALIASES or tok.text in FUNCTIONS)
        ):
            if op in ("contains", "matches"):
                raise self.fail(f"'{op}' takes a value, not a field", tok)
            return self.operand()
        self.take()
        if tok.kind not in ("word", "string"):
            raise self.fail("expected a value", tok)
        return typed(self.literal(tok), left.kind, self, op)

    def literal(self, tok: Token) -> Literal:
        if tok.kind == "string":
            body = tok.text[1:-1]
            try:
                text = body.encode("latin-1", "backslashreplace").decode("unicode_escape")
            except UnicodeDecodeError as err:
                raise self.fail(f"bad escape in string ({err.reason})", tok) from None
            return Literal(text, True, tok)
        return Literal(tok.text, False, tok)

    def membership(self, left: Operand) -> Predicate:
        if not self.at("op", "{"):
            raise self.fail("expected '{' after 'in'")
        self.take()
        members: list[Any] = []
        while not self.at("op", "}"):
            if self.at("op", ",") and members:
                self.take()  # Wireshark 4 separates members with commas; older ones with spaces
            tok = self.take()
            if tok.kind == "end":
                raise self.fail("missing '}'", tok)
            if tok.kind not in ("word", "string"):
                raise self.fail("expected a value in the set", tok)
            low = typed(self.literal(tok), left.kind, self)
            if self.at("op", ".."):
                self.take()
                high_tok = self.take()
                if high_tok.kind not in ("word", "string"):
                    raise self.fail("expected a value after '..'", high_tok)
                members.append((low, typed(self.literal(high_tok), left.kind, self)))
            else:
                members.append(low)
        self.take()
        if not members:
            raise self.fail("empty set")
        kind = left.kind

        def pred(pf, members=tuple(members)):
            for value in left.values(pf):
                v = norm(value, kind)
                for m in members:
                    if isinstance(m, tuple):
                        if _test(v, ">=", m[0]) and _test(v, "<=", m[1]):
                            return True
                    elif _test(v, "==", m):
                        return True
            return False

        return pred


def _looks_literal(text: str) -> bool:
    """A word that is a value even where a field of that name exists (numbers, MACs)."""
    return text[:1].isdigit() or ":" in text


def compile_filter(text: str) -> DisplayFilter:
    load_protocols()  # every protocol module registers its filter names
    predicate = _Parser(text).parse()
    return DisplayFilter(text, predicate)


def check_field(name: str) -> None:
    """An `-e NAME` netlab does not know: the error tshark gives."""
    load_protocols()
    if not (_NAME.fullmatch(name) and (F.known(name) or name in ALIASES)):
        raise unknown_field(name)
