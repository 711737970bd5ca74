"""Human view of `netlab cidr`: an aligned key/value block per prefix."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from netlab.core.cidr import Prefix


def _bits_split(prefix: Prefix, value: int) -> Text:
    """Dotted binary with network bits and host bits told apart.

    Styled on a terminal; in plain text a space marks the boundary so that the
    address and mask lines stay aligned column for column.
    """
    dotted = prefix.binary(value)
    # Position of the boundary in the dotted string: one dot per full octet before it
    # (for /24 the cut falls just after the third dot, as ipcalc shows it).
    cut = min(prefix.prefixlen + prefix.prefixlen // 8, len(dotted))
    text = Text()
    text.append(dotted[:cut], style="net")
    text.append(" ")
    text.append(dotted[cut:], style="host")
    return text


def _count(n: int) -> str:
    return f"{n:,}"


def _hosts_line(prefix: Prefix) -> str:
    h = prefix.host_bits
    if h <= 1:
        why = {0: "a single address", 1: "both usable: point-to-point link"}[h]
        return f"{_count(prefix.num_hosts)}  ({why})"
    minus = "2" if prefix.version == 4 else "1"
    return f"{_count(prefix.num_hosts)}  (2^{h} - {minus})"


def _position(prefix: Prefix) -> str:
    role = prefix.role
    if role == "host" and prefix.host_number is not None:
        return f"host {_count(prefix.host_number)} of {_count(prefix.num_hosts)}"
    return role


def _scope_line(prefix: Prefix) -> str:
    scope = prefix.scope
    line = f"{scope.scope}: {scope.name}, {scope.rfc}"
    if scope.scope not in ("public", "reserved") or scope.block not in ("0.0.0.0/0", "::/0"):
        line += f" ({scope.block})"
    if not prefix.scope_covers_network:
        line += f"; note: /{prefix.prefixlen} is wider than that block"
    return line


def _class_line(prefix: Prefix) -> str | None:
    klass = prefix.ip_class
    if klass is None:
        return None
    name, default = klass
    if default is None:
        return f"{name} ({'multicast' if name == 'D' else 'reserved'}; no network/host split)"
    if prefix.prefixlen > default:
        relation = f"a subnet of the classful /{default}"
    elif prefix.prefixlen < default:
        relation = f"a supernet (aggregate) of classful /{default}s"
    else:
        relation = "exactly the classful network"
    return f"{name} (classful default /{default}; /{prefix.prefixlen} is {relation})"


def prefix_rows(prefix: Prefix) -> list[tuple[str, Text]]:
    rows: list[tuple[str, Text]] = []

    def row(label: str, value: str | Text | None, style: str = "value") -> None:
        if value is not None:
            rows.append((label, value if isinstance(value, Text) else Text(value, style=style)))

    fmt = prefix.fmt
    row(
        "Address",
        Text.assemble((fmt(prefix.address) or "", "value"), "  ", (_position(prefix), "muted")),
    )
    row("Network", prefix.cidr, "net")
    row("Netmask", f"{fmt(prefix.netmask)}  (/{prefix.prefixlen})")
    row("Wildcard", fmt(prefix.wildcard))
    if prefix.version == 4:
        row("Broadcast", fmt(prefix.broadcast) or "none (/31 and /32 have no broadcast)")
    else:
        row("Last address", fmt(prefix.last_address))
    row("First host", fmt(prefix.first_host))
    row("Last host", fmt(prefix.last_host))
    row("Hosts", _hosts_line(prefix))
    row("Addresses", _count(prefix.num_addresses))
    row("Scope", _scope_line(prefix))
    row("Class", _class_line(prefix))
    if prefix.version == 4:
        row("Binary addr", _bits_split(prefix, prefix.address))
        row("Binary mask", _bits_split(prefix, prefix.netmask))
        row("Binary net", _bits_split(prefix, prefix.network))
    return rows


def render_prefixes(console: Console, prefixes: list[Prefix]) -> None:
    for i, prefix in enumerate(prefixes):
        if i:
            console.print()
        title = Text(prefix.text, style="bold")
        if prefix.implicit_prefix:
            title.append(
                f"  (no prefix length given: /{prefix.bits}, a single address)", style="muted"
            )
        console.print(title)
        rows = prefix_rows(prefix)
        # Aligned by hand rather than with a rich Table: no trailing padding in plain output.
        width = max(len(label) for label, _ in rows)
        for label, value in rows:
            console.print(Text("  ") + Text(label.ljust(width), style="label") + Text("  ") + value)
