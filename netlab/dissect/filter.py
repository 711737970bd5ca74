"""Display filters in Wireshark syntax (the subset people type every day).

    tcp                                 protocol present
    tcp.flags.syn                       field present
    ip.ttl < 64    ip.ttl lt 64         == != < > <= >= and eq ne lt gt le ge
    ip.addr == 198.18.0.0/15            addresses match by CIDR
    eth.src == 00:11:22:33:44:55        MAC addresses
    dns.qry.name == "example.lab"       strings
    tcp.port in {80, 443, 8000..8080}   sets and ranges (commas optional)
    data.data contains "GET"            substring of strings or bytes
    !arp && (icmp || udp.port == 53)    ! && || not and or, parentheses

Semantics follow Wireshark 4: a field that occurs several times matches `==`
when any occurrence does, and `!=` means "no occurrence equals" (Wireshark's
`!==`). `ip.addr`, `tcp.port`, `udp.port`, `eth.addr`, `ipv6.addr` stand for
both the source and the destination, as in Wireshark.

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

from netlab.dissect.engine import load_protocols
from netlab.dissect.model import Packet
from netlab.dissect.registry import FILTER_NAMES
from netlab.errors import InputError

# A field must start with a registered protocol's name (catches "tpc.port"): each protocol
# module registers its own (registry.register), and compiling a filter loads them all.
ALIASES = {
    "ip.addr": ("ip.src", "ip.dst"),
    "ip.host": ("ip.src", "ip.dst"),
    "ipv6.addr": ("ipv6.src", "ipv6.dst"),
    "ipv6.host": ("ipv6.src", "ipv6.dst"),
    "eth.addr": ("eth.src", "eth.dst"),
    "tcp.port": ("tcp.srcport", "tcp.dstport"),
    "udp.port": ("udp.srcport", "udp.dstport"),
}
OPERATORS = {
    "==": "==", "eq": "==", "!=": "!=", "ne": "!=", "<": "<", "lt": "<", ">": ">", "gt": ">",
    "<=": "<=", "le": "<=", ">=": ">=", "ge": ">=", "contains": "contains", "in": "in",
    "~=": "~=", "any_ne": "~=", "===": "==", "all_eq": "===", "!==": "!=",
}  # fmt: skip

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<op>===|!==|==|!=|<=|>=|~=|<|>|&&|\|\||!|\(|\)|\{|\}|,|\.\.(?!\.))
      | (?P<word>(?:[A-Za-z0-9_:/\-]|\.(?!\.))+)  # a ".." ends a word: 1000..2000
    )""",
    re.VERBOSE,
)
WORD_OPS = {"and": "&&", "or": "||", "not": "!", "xor": "^^"}


@dataclass(frozen=True)
class Token:
    kind: str  # string, op, word, end
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


Predicate = Callable[[Packet, dict], bool]


class DisplayFilter:
    """A compiled filter: `matches(pkt)` decides whether a packet is shown."""

    def __init__(self, text: str, predicate: Predicate, needs_fields: bool) -> None:
        self.text = text
        self._predicate = predicate
        self.needs_fields = needs_fields  # False: only protocol names, no field rows built

    def matches(self, pkt: Packet) -> bool:
        cache: dict = {}
        if self.needs_fields:
            cache["fields"] = _all_fields(pkt)
        cache["protocols"] = set(pkt.protocols.split(":"))
        return self._predicate(pkt, cache)


def _all_fields(pkt: Packet) -> dict[str, list[Any]]:
    fields: dict[str, list[Any]] = {
        "frame.number": [pkt.no],
        "frame.len": [pkt.wirelen],
        "frame.cap_len": [pkt.caplen],
        "frame.time_epoch": [pkt.ts_ns / 1e9],
        "frame.interface_id": [pkt.interface],
        "frame.protocols": [pkt.protocols],
    }
    for _layer, rows in pkt.rows():
        for _depth, name, value, _show, _off, _len in rows:
            fields.setdefault(name, []).append(value)
    if pkt.malformed is not None:
        fields.setdefault("_ws.malformed", []).append(pkt.malformed)
    return fields


def _values(name: str, cache: dict) -> list[Any]:
    fields = cache["fields"]
    if name in ALIASES:
        out: list[Any] = []
        for part in ALIASES[name]:
            out += fields.get(part, [])
        return out
    return fields.get(name, [])


# --- parser ---------------------------------------------------------------------------


MAX_NESTING = 64  # parentheses inside parentheses; deeper is refused (exit 2)


def _chain(terms: list[Predicate], every: bool) -> Predicate:
    """TERMS joined by "&&" (EVERY) or "||": one flat predicate, however many terms."""
    if len(terms) == 1:
        return terms[0]
    if len(terms) == 2:
        a, b = terms
        if every:
            return lambda p, c: a(p, c) and b(p, c)
        return lambda p, c: a(p, c) or b(p, c)
    fold = all if every else any
    return lambda p, c: fold(t(p, c) for t in terms)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.needs_fields = False
        self.depth = 0  # parentheses open at this point

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

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
                terms = [lambda p, c, a=left, b=right: a(p, c) != b(p, c)]
            else:
                terms.append(self.and_expr())
        return _chain(terms, every=False)

    def and_expr(self) -> Predicate:
        terms = [self.not_expr()]
        while self.tok.kind == "op" and self.tok.text == "&&":
            self.take()
            terms.append(self.not_expr())
        return _chain(terms, every=True)

    def not_expr(self) -> Predicate:
        negate = False
        while self.tok.kind == "op" and self.tok.text == "!":
            self.take()
            negate = not negate
        inner = self.primary()
        return (lambda p, c: not inner(p, c)) if negate else inner

    def primary(self) -> Predicate:
        tok = self.tok
        if tok.kind == "op" and tok.text == "(":
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise self.fail(f"parentheses nested deeper than {MAX_NESTING}")
            self.take()
            inner = self.or_expr()
            self.depth -= 1
            if not (self.tok.kind == "op" and self.tok.text == ")"):
                raise self.fail("missing ')'")
            self.take()
            return inner
        if tok.kind != "word":
            raise self.fail("expected a field or protocol name")
        return self.comparison()

    def comparison(self) -> Predicate:
        tok = self.take()
        name = tok.text
        proto = name.split(".")[0]
        # (a protocol's name is lower case; its fields may not be: x509sat.uTF8String)
        if proto not in FILTER_NAMES or not re.fullmatch(r"[a-z_][a-z0-9_\-]*(\.[\w\-]+)*", name):
            raise self.fail("is neither a field nor a protocol name", tok)
        if self.tok.kind != "cmp":
            if name == "frame":  # every packet is a frame (tshark: "frame" matches all)
                return lambda p, c: True
            if "." not in name:  # a protocol name: present in the frame?
                return lambda p, c: name in c["protocols"]
            self.needs_fields = True
            return lambda p, c: bool(_values(name, c))
        self.needs_fields = True
        op_tok = self.take()
        op = OPERATORS[op_tok.text]
        if op == "in":
            return self.membership(name)
        value_tok = self.take()
        if value_tok.kind not in ("word", "string"):
            raise self.fail("expected a value", value_tok)
        literal = Literal.parse(value_tok, self)
        _check_address(name, literal, value_tok, self)
        return _compare(name, op, literal)

    def membership(self, name: str) -> Predicate:
        if not (self.tok.kind == "op" and self.tok.text == "{"):
            raise self.fail("expected '{' after 'in'")
        self.take()
        members: list[Literal | tuple[Literal, Literal]] = []
        while not (self.tok.kind == "op" and self.tok.text == "}"):
            if self.tok.kind == "op" and self.tok.text == "," and members:
                self.take()  # Wireshark 4 separates members with commas; older ones with spaces
            tok = self.take()
            if tok.kind == "end":
                raise self.fail("missing '}'", tok)
            if tok.kind not in ("word", "string"):
                raise self.fail("expected a value in the set", tok)
            low = Literal.parse(tok, self)
            if self.tok.kind == "op" and self.tok.text == "..":
                self.take()
                high = Literal.parse(self.take(), self)
                members.append((low, high))
            else:
                members.append(low)
        self.take()
        if not members:
            raise self.fail("empty set")

        def pred(p, c, name=name, members=tuple(members)):
            for value in _values(name, c):
                for m in members:
                    if isinstance(m, tuple):
                        if m[0].compare(value, ">=") and m[1].compare(value, "<="):
                            return True
                    elif m.compare(value, "=="):
                        return True
            return False

        return pred


def _compare(name: str, op: str, literal: Literal) -> Predicate:
    if op == "!=":  # Wireshark 4: "!=" is "no occurrence equals"
        return lambda p, c: (
            bool(_values(name, c)) and not any(literal.compare(v, "==") for v in _values(name, c))
        )
    if op == "~=":
        return lambda p, c: any(literal.compare(v, "!=") for v in _values(name, c))
    if op == "===":
        return lambda p, c: (
            bool(_values(name, c)) and all(literal.compare(v, "==") for v in _values(name, c))
        )
    return lambda p, c: any(literal.compare(v, op) for v in _values(name, c))


# --- literals ----------------------------------------------------------------------------

_MAC = re.compile(r"^[0-9a-fA-F]{2}([:\-.])([0-9a-fA-F]{2}\1){4}[0-9a-fA-F]{2}$")
_BYTES = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2})+$")


_ADDRESS_FIELDS = {"ip": 4, "ipv6": 6}  # protocol: version of its .src/.dst/.addr


def _check_address(name: str, literal: Literal, tok: Token, parser: _Parser) -> None:
    """An address field compared with something that is no address of its version is an
    error, as in tshark ("ip.src == 300.1.1.1"), not a filter that matches nothing."""
    proto, _, field = name.rpartition(".")
    version = _ADDRESS_FIELDS.get(proto)
    if version is None or field not in ("src", "dst", "addr") or literal.quoted:
        return
    if literal.network is None or literal.network.version != version:
        raise parser.fail(f"is not a valid IPv{version} address or prefix", tok)


class Literal:
    """A value typed in a filter, compared with whatever type the field has."""

    def __init__(self, text: str, quoted: bool) -> None:
        self.text = text
        self.quoted = quoted
        self.number: float | None = None
        self.network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
        self.mac: str | None = None
        self.raw: bytes | None = None
        if quoted:
            self.raw = text.encode()
            return
        low = text.lower()
        if low in ("true", "false"):
            self.number = 1 if low == "true" else 0
            return
        try:
            self.number = int(text, 0)
        except ValueError:
            with contextlib.suppress(ValueError):
                self.number = float(text)
        if _MAC.match(text):
            self.mac = re.sub(r"[\-.]", ":", low)
        if _BYTES.match(text):
            self.raw = bytes.fromhex(text.replace(":", ""))
        with contextlib.suppress(ValueError):
            self.network = ipaddress.ip_network(text, strict=False)

    @classmethod
    def parse(cls, tok: Token, parser: _Parser) -> Literal:
        if tok.kind == "string":
            body = tok.text[1:-1]
            try:
                text = body.encode("latin-1", "backslashreplace").decode("unicode_escape")
            except UnicodeDecodeError as err:
                raise parser.fail(f"bad escape in string ({err.reason})", tok) from None
            return cls(text, quoted=True)
        return cls(tok.text, quoted=False)

    def compare(self, value: Any, op: str) -> bool:
        if isinstance(value, bool | int | float):
            if self.number is None:
                return False
            return _order(float(value), float(self.number), op)
        if isinstance(value, str):
            return self._compare_str(value, op)
        if isinstance(value, bytes):
            needle = self.raw if self.raw is not None else self.text.encode()
            if op == "contains":
                return needle in value
            return _order(value, needle, op)
        return False

    def _compare_str(self, value: str, op: str) -> bool:
        if self.network is not None and not self.quoted and op != "contains":
            try:
                addr = ipaddress.ip_address(value)
            except ValueError:
                addr = None
            if addr is not None:
                if addr.version != self.network.version:
                    return False
                if op == "==":
                    return addr in self.network
                if op == "!=":
                    return addr not in self.network
                return _order(int(addr), int(self.network.network_address), op)
        if self.mac is not None and op in ("==", "!="):
            return (value.lower() == self.mac) == (op == "==")
        if op == "contains":
            return self.text in value
        return _order(value, self.text, op)


def _order(a: Any, b: Any, op: str) -> bool:
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if op == "<":
        return a < b
    if op == ">":
        return a > b
    if op == "<=":
        return a <= b
    if op == ">=":
        return a >= b
    return False


def compile_filter(text: str) -> DisplayFilter:
    load_protocols()  # every protocol module registers its filter names
    parser = _Parser(text)
    predicate = parser.parse()
    return DisplayFilter(text, predicate, parser.needs_fields)
