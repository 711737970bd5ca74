"""CIDR arithmetic for IPv4 and IPv6, the way the course teaches it.

network   = address AND netmask
broadcast = network OR wildcard          (wildcard = NOT netmask)
hosts     = 2^(bits - prefix) - 2        (IPv4; /31 and /32 are special, RFC 3021)

The arithmetic is done on integers here rather than delegated to `ipaddress`,
so that the tests can use `ipaddress` as an independent oracle. `ipaddress` is
used only to parse and print address text.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from netlab.errors import InputError


@dataclass(frozen=True)
class SpecialBlock:
    """One row of the IANA special-purpose address registries (RFC 6890)."""

    block: str
    scope: str  # short machine name: private, shared, loopback, …
    name: str  # the registry's name for the block
    rfc: str


# Most specific match wins (255.255.255.255/32 is inside 240.0.0.0/4).
IPV4_SPECIAL = (
    SpecialBlock("0.0.0.0/8", "this-network", '"This network"', "RFC 791"),
    SpecialBlock("10.0.0.0/8", "private", "Private-Use", "RFC 1918"),
    SpecialBlock("100.64.0.0/10", "shared", "Shared Address Space (carrier-grade NAT)", "RFC 6598"),
    SpecialBlock("127.0.0.0/8", "loopback", "Loopback", "RFC 1122"),
    SpecialBlock("169.254.0.0/16", "link-local", "Link Local", "RFC 3927"),
    SpecialBlock("172.16.0.0/12", "private", "Private-Use", "RFC 1918"),
    SpecialBlock("192.0.0.0/24", "ietf", "IETF Protocol Assignments", "RFC 6890"),
    SpecialBlock("192.0.2.0/24", "documentation", "Documentation (TEST-NET-1)", "RFC 5737"),
    SpecialBlock("192.88.99.0/24", "6to4-relay", "6to4 Relay Anycast (deprecated)", "RFC 7526"),
    SpecialBlock("192.168.0.0/16", "private", "Private-Use", "RFC 1918"),
    SpecialBlock("198.18.0.0/15", "benchmarking", "Benchmarking", "RFC 2544"),
    SpecialBlock("198.51.100.0/24", "documentation", "Documentation (TEST-NET-2)", "RFC 5737"),
    SpecialBlock("203.0.113.0/24", "documentation", "Documentation (TEST-NET-3)", "RFC 5737"),
    SpecialBlock("224.0.0.0/4", "multicast", "Multicast", "RFC 5771"),
    SpecialBlock("240.0.0.0/4", "reserved", "Reserved (former class E)", "RFC 1112"),
    SpecialBlock("255.255.255.255/32", "broadcast", "Limited Broadcast", "RFC 919"),
)
IPV4_PUBLIC = SpecialBlock("0.0.0.0/0", "public", "Global unicast (public)", "RFC 791")

IPV6_SPECIAL = (
    SpecialBlock("::/128", "unspecified", "Unspecified Address", "RFC 4291"),
    SpecialBlock("::1/128", "loopback", "Loopback Address", "RFC 4291"),
    SpecialBlock("::ffff:0:0/96", "ipv4-mapped", "IPv4-mapped Address", "RFC 4291"),
    SpecialBlock("64:ff9b::/96", "nat64", "IPv4-IPv6 Translation", "RFC 6052"),
    SpecialBlock("64:ff9b:1::/48", "nat64", "Local-use IPv4/IPv6 Translation", "RFC 8215"),
    SpecialBlock("100::/64", "discard", "Discard-Only Address Block", "RFC 6666"),
    SpecialBlock("2001::/23", "ietf", "IETF Protocol Assignments", "RFC 2928"),
    SpecialBlock("2001::/32", "teredo", "TEREDO", "RFC 4380"),
    SpecialBlock("2001:2::/48", "benchmarking", "Benchmarking", "RFC 5180"),
    SpecialBlock("2001:db8::/32", "documentation", "Documentation", "RFC 3849"),
    SpecialBlock("2002::/16", "6to4", "6to4", "RFC 3056"),
    SpecialBlock("3fff::/20", "documentation", "Documentation", "RFC 9637"),
    SpecialBlock("fc00::/7", "private", "Unique-Local (ULA)", "RFC 4193"),
    SpecialBlock("fe80::/10", "link-local", "Link-Local Unicast", "RFC 4291"),
    SpecialBlock("ff00::/8", "multicast", "Multicast", "RFC 4291"),
)
IPV6_PUBLIC = SpecialBlock("2000::/3", "public", "Global Unicast (public)", "RFC 4291")
IPV6_RESERVED = SpecialBlock("::/0", "reserved", "Reserved by IETF", "RFC 4291")


def _block_bounds(block: str) -> tuple[int, int, int]:
    net = ipaddress.ip_network(block)
    return int(net.network_address), net.prefixlen, net.max_prefixlen


# Classful addressing (RFC 791, before CIDR): leading bits → class and default prefix.
CLASSES = (
    # (class, first address, last address, default prefix or None)
    ("A", 0x00000000, 0x7FFFFFFF, 8),
    ("B", 0x80000000, 0xBFFFFFFF, 16),
    ("C", 0xC0000000, 0xDFFFFFFF, 24),
    ("D", 0xE0000000, 0xEFFFFFFF, None),  # multicast: no network/host split
    ("E", 0xF0000000, 0xFFFFFFFF, None),  # reserved
)


@dataclass(frozen=True)
class Prefix:
    """One address with its prefix length, and everything derived from the two."""

    text: str  # what the user typed
    version: int  # 4 or 6
    address: int
    prefixlen: int
    implicit_prefix: bool  # no "/n" given: a single address

    @property
    def bits(self) -> int:
        return 32 if self.version == 4 else 128

    @property
    def host_bits(self) -> int:
        return self.bits - self.prefixlen

    @property
    def netmask(self) -> int:
        all_ones = (1 << self.bits) - 1
        return all_ones ^ ((1 << self.host_bits) - 1)

    @property
    def wildcard(self) -> int:
        return (1 << self.host_bits) - 1

    @property
    def network(self) -> int:
        return self.address & self.netmask

    @property
    def last_address(self) -> int:
        return self.network | self.wildcard

    @property
    def broadcast(self) -> int | None:
        """IPv4 directed broadcast; IPv6 has none, and a /31 or /32 has none (RFC 3021)."""
        if self.version == 6 or self.prefixlen >= 31:
            return None
        return self.last_address

    @property
    def num_addresses(self) -> int:
        return 1 << self.host_bits

    @property
    def num_hosts(self) -> int:
        # IPv4 loses the network and broadcast addresses, except on /31 (RFC 3021) and /32.
        # IPv6 loses only the Subnet-Router anycast address (RFC 4291 §2.6.1), the
        # all-zeros one, except on /127 (RFC 6164) and /128.
        if self.host_bits <= 1:
            return self.num_addresses
        if self.version == 4:
            return self.num_addresses - 2
        return self.num_addresses - 1

    @property
    def first_host(self) -> int:
        return self.network if self.host_bits <= 1 else self.network + 1

    @property
    def last_host(self) -> int:
        if self.version == 4 and self.host_bits > 1:
            return self.last_address - 1
        return self.last_address

    @property
    def offset(self) -> int:
        """The address's position inside its network (0 = the network address)."""
        return self.address - self.network

    @property
    def role(self) -> str:
        if self.host_bits == 0:
            return "single address"
        if self.host_bits == 1:
            return "host (point-to-point, RFC 3021)" if self.version == 4 else "host (RFC 6164)"
        if self.offset == 0:
            return "network address" if self.version == 4 else "Subnet-Router anycast address"
        if self.version == 4 and self.address == self.last_address:
            return "broadcast address"
        return "host"

    @property
    def host_number(self) -> int | None:
        """1-based number of the address among the usable hosts, or None if not a host."""
        if not self.role.startswith(("host", "single")):
            return None
        return self.address - self.first_host + 1

    # --- classification -------------------------------------------------------------
    def _special(self) -> SpecialBlock:
        best: tuple[int, SpecialBlock] | None = None
        table = IPV4_SPECIAL if self.version == 4 else IPV6_SPECIAL
        for entry in table:
            start, plen, bits = _block_bounds(entry.block)
            inside = self.address >> (bits - plen) == start >> (bits - plen)
            if inside and (best is None or plen > best[0]):
                best = (plen, entry)
        if best is not None:
            return best[1]
        if self.version == 4:
            return IPV4_PUBLIC
        return IPV6_PUBLIC if self.address >> 125 == 0b001 else IPV6_RESERVED

    @property
    def scope(self) -> SpecialBlock:
        """The special-purpose block the address is in (or public/reserved)."""
        return self._special()

    @property
    def scope_covers_network(self) -> bool:
        """Whether the whole network lies inside the address's block."""
        _start, plen, _bits = _block_bounds(self.scope.block)
        return self.prefixlen >= plen

    @property
    def ip_class(self) -> tuple[str, int | None] | None:
        """Classful class (A–E) and its default prefix; None for IPv6."""
        if self.version == 6:
            return None
        for name, first, last, default in CLASSES:
            if first <= self.address <= last:
                return name, default
        raise AssertionError("unreachable: the classes cover all of IPv4")

    # --- text ---------------------------------------------------------------------
    def fmt(self, value: int | None) -> str | None:
        if value is None:
            return None
        return str(
            ipaddress.ip_address(value) if self.version == 4 else ipaddress.IPv6Address(value)
        )

    @property
    def cidr(self) -> str:
        return f"{self.fmt(self.network)}/{self.prefixlen}"

    def binary(self, value: int) -> str:
        """Dotted binary for IPv4 (the course's bit-by-bit view)."""
        bits = format(value, f"0{self.bits}b")
        return ".".join(bits[i : i + 8] for i in range(0, self.bits, 8))

    def to_dict(self) -> dict[str, Any]:
        klass = self.ip_class
        scope = self.scope
        return {
            "input": self.text,
            "version": self.version,
            "addr": self.fmt(self.address),
            "prefixlen": self.prefixlen,
            "network": self.cidr,
            "network_address": self.fmt(self.network),
            "netmask": self.fmt(self.netmask),
            "wildcard": self.fmt(self.wildcard),
            "broadcast": self.fmt(self.broadcast),
            "first_host": self.fmt(self.first_host),
            "last_host": self.fmt(self.last_host),
            "num_addresses": self.num_addresses,
            "num_hosts": self.num_hosts,
            "offset": self.offset,
            "role": self.role,
            "host_number": self.host_number,
            "scope": scope.scope,
            "scope_name": scope.name,
            "scope_rfc": scope.rfc,
            "scope_block": scope.block,
            "scope_covers_network": self.scope_covers_network,
            "class": klass[0] if klass else None,
            "classful_prefixlen": klass[1] if klass else None,
        }


_DOTTED = re.compile(r"^[0-9.]+$")


def _parse_address(text: str, original: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if not text:
        raise InputError(f"'{original}' has no address before the '/'")
    if _DOTTED.match(text):
        # Explain the common IPv4 mistakes precisely; ipaddress's wording is terse.
        octets = text.split(".")
        if len(octets) != 4 or any(o == "" for o in octets):
            raise InputError(f"'{original}': an IPv4 address has four dot-separated octets")
        for octet in octets:
            if int(octet) > 255:
                raise InputError(f"'{original}': octet {octet} is out of range 0-255")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    raise InputError(f"'{original}' is not an IPv4 or IPv6 address or prefix")


def _parse_mask(text: str, version: int, original: str) -> int:
    """Prefix length from '24', or from a netmask '255.255.255.0' / wildcard '0.0.0.255'."""
    bits = 32 if version == 4 else 128
    if text.isdigit():
        plen = int(text)
        if plen > bits:
            raise InputError(
                f"'{original}': prefix length /{plen} is too long for IPv{version} (max /{bits})"
            )
        return plen
    if version == 4 and _DOTTED.match(text):
        mask = int(_parse_address(text, original))
        # A netmask is 1…10…0: its inverse is 0…01…1, and x & (x + 1) == 0 tests that form.
        # Like ipaddress (and Cisco ACLs), a wildcard 0…01…1 is accepted as well.
        inverted = mask ^ 0xFFFFFFFF
        if inverted & (inverted + 1) == 0:
            return bin(mask).count("1")
        if mask & (mask + 1) == 0:
            return 32 - bin(mask).count("1")
        raise InputError(f"'{original}': {text} is not a netmask: its one-bits are not contiguous")
    raise InputError(f"'{original}': '{text}' is not a prefix length")


def parse_prefix(text: str) -> Prefix:
    """Parse '10.1.2.3/24', '10.1.2.3/255.255.255.0', '2001:db8::1/64' or a bare address."""
    original = text
    if text != text.strip():
        raise InputError(f"'{original}' has spaces around it")
    if text.count("/") > 1:
        raise InputError(f"'{original}' has more than one '/'")
    addr_text, slash, mask_text = text.partition("/")
    if "%" in addr_text:
        raise InputError(f"'{original}': zone indices (%…) are not part of a prefix")
    address = _parse_address(addr_text, original)
    version = address.version
    if slash and not mask_text:
        raise InputError(f"'{original}' has no prefix length after the '/'")
    prefixlen = (
        _parse_mask(mask_text, version, original) if slash else (32 if version == 4 else 128)
    )
    return Prefix(
        text=original,
        version=version,
        address=int(address),
        prefixlen=prefixlen,
        implicit_prefix=not slash,
    )
