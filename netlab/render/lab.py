"""Human view of `netlab lab`: one block per lab, one line per node, link and service.

Lines are stable and greppable when piped (the lab scripts grep them):
``node client  host  eth0 198.18.1.2/24 … (c-r1)``, ``service server http pid 123 healthy``.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

HEALTH_STYLE = {"healthy": "good", "unhealthy": "bad", "dead": "bad", "unknown": "warn"}


IMPAIR_SHOWN = ("delay_ms", "jitter_ms", "loss_pct", "duplicate_pct", "reorder_pct", "corrupt_pct")


def render_status(console: Console, labs: list[dict[str, Any]]) -> None:
    if not labs:
        console.print("no lab is up", style="muted")
        return
    for i, lab in enumerate(labs):
        if i:
            console.print()
        _lab(console, lab)


def render_up(console: Console, lab: dict[str, Any], seconds: float) -> None:
    _lab(console, lab, headline=f"lab '{lab['name']}' is up in {seconds:.2f} s")
    first = lab["nodes"][0]["name"] if lab["nodes"] else "NODE"
    console.print(
        f"next: netlab lab exec {first} -- ping …   |   netlab lab down {lab['name']}",
        style="muted",
    )


def _lab(console: Console, lab: dict[str, Any], headline: str | None = None) -> None:
    head = Text(headline or f"lab '{lab['name']}'", style="label")
    state = lab["state"] + (
        ", stale: its owner died (netlab lab down --stale)" if lab.get("stale") else ""
    )
    head.append(f"  [{state}]", style="bad" if lab.get("stale") else "muted")
    console.print(head)
    if lab.get("description"):
        console.print(f"  {lab['description']}", style="muted")
    console.print(f"  run folder {lab['run_dir']}", style="muted")
    width = max((len(n["name"]) for n in lab["nodes"]), default=4)
    for node in lab["nodes"]:
        line = Text("  node ")
        line.append(node["name"].ljust(width), style="host")
        line.append(f"  {node['kind']:<6}")
        ifaces = []
        for iface in node["interfaces"]:
            addrs = " ".join(iface["addresses"]) or "no address"
            ifaces.append(f"{iface['name']} {addrs} ({iface['link']})")
        line.append("  " + "; ".join(ifaces), style="value")
        if node.get("gateway"):
            line.append(f"  gw {node['gateway']}", style="muted")
        console.print(line)
    for link in lab["links"]:
        text = Text(f"  link {link['name']}  {link['kind']}  {' '.join(link['nodes'])}  ")
        text.append(" ".join(link["subnets"]), style="net")
        text.append(f"  mtu {link['mtu']}", style="muted")
        console.print(text)
    for imp in lab.get("impairments", []):
        parts = [
            f"{k.removesuffix('_ms').removesuffix('_pct')} {imp[k]:g}"
            + ("ms" if k.endswith("_ms") else "%")
            for k in IMPAIR_SHOWN
            if imp.get(k)
        ]
        if imp.get("rate_kbit"):
            parts.append(f"rate {imp['rate_kbit']}kbit")
        line = Text(f"  impair {imp['from']} {imp['dev']}: {', '.join(parts)} via {imp['applied']}")
        if imp.get("not_applied"):
            line.append(f"  (not applied here: {', '.join(imp['not_applied'])})", style="warn")
        console.print(line)
    for emu in lab.get("emulators", []):
        state = "running" if emu["running"] else "dead"
        line = Text(f"  emulator {emu['link']} pid {emu['pid']} ")
        line.append(state, style="good" if emu["running"] else "bad")
        console.print(line)
    for svc in lab["services"]:
        line = Text(f"  service {svc['node']} {svc['service']} pid {svc['pid']} ")
        line.append(svc["health"], style=HEALTH_STYLE.get(svc["health"], "value"))
        detail = {k: v for k, v in svc.items() if k in SERVICE_DETAILS and v is not None}
        if detail:
            line.append("  " + " ".join(f"{k} {_fmt(v)}" for k, v in detail.items()), style="muted")
        console.print(line)
    if lab.get("missing_namespaces"):
        console.print(f"  missing namespaces: {', '.join(lab['missing_namespaces'])}", style="bad")


# What the text view shows of a service's details (`lab status --json` has them all).
SERVICE_DETAILS = (
    "ports",
    "port",
    "https_port",
    "h2c_port",
    "zone",
    "program",
    "cacert",
    "url",
    "stat_url",
)


def _fmt(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def render_list(console: Console, labs: list[dict[str, str]]) -> None:
    if not labs:
        console.print("no bundled labs found", style="muted")
        return
    width = max(len(lab["name"]) for lab in labs)
    for lab in labs:
        line = Text(lab["name"].ljust(width), style="label")
        line.append(f"  {lab['description']}")
        console.print(line)


def render_down(console: Console, names: list[str]) -> None:
    if not names:
        console.print("no lab to take down", style="muted")
    for name in names:
        console.print(f"lab '{name}' is down")
