"""Shell completion callbacks (`shell_complete=` of click parameters), all in one place.

Each is `(ctx, param, incomplete) -> list[CompletionItem]` and runs at every <TAB>,
in a fresh process: standard library and click only, nothing that starts slowly
(`tests/test_cli_spine.py` checks that completion imports no scapy or rich).
Items of type "file" hand the word to the shell's own file completion (bash's
`-o default`, zsh's `_path_files`, fish's `__fish_complete_path`), which knows
quoting, `~` and directories better than we could.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from click.shell_completion import CompletionItem

LIMIT = 500  # items offered at most: a word that matches thousands helps nobody


def files(ctx: Any, param: Any, incomplete: str) -> list[CompletionItem]:
    """Any file: the shell completes the path itself."""
    return [CompletionItem(incomplete, type="file")]


# --- labs -----------------------------------------------------------------------------------

_TOPOLOGY = re.compile(r"^\s*\[\[?\s*(nodes|links)\b", re.M)


def _is_topology(path: Path) -> bool:
    """A TOML file with [nodes.…] or [[links]] tables (pyproject.toml is not a lab)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            return bool(_TOPOLOGY.search(f.read(65536)))
    except OSError:
        return False


def topology_files(ctx: Any, param: Any, incomplete: str) -> list[CompletionItem]:
    """`lab up`: topology files under the word (and one directory down, so that
    `lab up <TAB>` in the checkout offers labs/*.toml); else the bundled labs' names."""
    expanded = os.path.expanduser(incomplete)
    home = expanded[: len(expanded) - len(incomplete)] if incomplete.startswith("~") else ""
    found: list[CompletionItem] = []
    import glob

    for pattern in (glob.escape(expanded) + "*.toml", glob.escape(expanded) + "*/*.toml"):
        for match in sorted(glob.iglob(pattern))[:LIMIT]:
            if _is_topology(Path(match)):
                shown = "~" + match[len(home) :] if home else match
                found.append(CompletionItem(shown, help=_description(Path(match))))
    if found or "/" in incomplete:
        return found[:LIMIT]
    return [
        CompletionItem(path.stem, help=_description(path))
        for path in _bundled_labs()
        if path.stem.startswith(incomplete)
    ]


def _bundled_labs() -> list[Path]:
    from netlab.lab.engine import labs_dir

    try:
        return sorted(labs_dir().glob("*.toml"))
    except OSError:
        return []


def _description(path: Path) -> str:
    """The topology's `description = "…"` line, read without a TOML parser."""
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                m = re.match(r'\s*description\s*=\s*"(.*)"\s*$', line)
                if m:
                    return m.group(1)
    except OSError:
        pass
    return ""


def _ledgers() -> list[Any]:
    """The labs that are up, from their ledgers in the run folder (unreadable: none)."""
    from netlab.lab.ledger import all_ledgers

    return all_ledgers()


def running_labs(ctx: Any, param: Any, incomplete: str) -> list[CompletionItem]:
    """`lab down/status/exec NAME`, `--lab NAME`: the labs that are up."""
    return [
        CompletionItem(book.lab, help=book.info.get("description") or book.state)
        for book in _ledgers()
        if book.lab.startswith(incomplete)
    ]


def _nodes(book: Any, incomplete: str) -> list[CompletionItem]:
    return [
        CompletionItem(node, help=f"{info.get('kind', 'host')} of lab '{book.lab}'")
        for node, info in book.info.get("nodes", {}).items()
        if node.startswith(incomplete)
    ]


def lab_nodes(ctx: Any, param: Any, incomplete: str) -> list[CompletionItem]:
    """`lab exec [--lab X] NODE`: the nodes of lab X, of the only lab that is up, and
    (without --lab) the labs' names, since `lab exec LAB NODE` takes the lab first."""
    books = _ledgers()
    chosen = ctx.params.get("lab_name")
    if chosen:
        return [item for b in books if b.lab == chosen for item in _nodes(b, incomplete)]
    items = _nodes(books[0], incomplete) if len(books) == 1 else []
    return items + running_labs(ctx, param, incomplete)


def exec_words(ctx: Any, param: Any, incomplete: str) -> list[CompletionItem]:
    """The words after `lab exec NODE`: a node when NODE was in fact a lab's name
    (`lab exec LAB <TAB>`), else files, for the command's own arguments."""
    first, typed = ctx.params.get("node"), ctx.params.get("command") or ()
    if first and not typed and not ctx.params.get("lab_name"):
        books = [b for b in _ledgers() if b.lab == first]
        if books:
            return _nodes(books[0], incomplete)
    return files(ctx, param, incomplete)


# --- interfaces, statistics, record types, services ----------------------------------------


def interfaces(ctx: Any, param: Any, incomplete: str) -> list[CompletionItem]:
    """-i/-I IFACE: the interfaces of this namespace (`/sys/class/net`), with their state."""
    try:
        names = sorted(os.listdir("/sys/class/net"))
    except OSError:
        return []
    items = []
    for name in names:
        if name.startswith(incomplete):
            try:
                state = Path(f"/sys/class/net/{name}/operstate").read_text().strip()
            except OSError:
                state = ""
            items.append(CompletionItem(name, help=state))
    return items


# `dissect --stats` / `-z`: every spec parse_stats_spec accepts (tests check both ways).
STATS_KINDS = ("eth", "ip", "ipv6", "tcp", "udp")
STATS_SPECS = (
    ("phs", "protocol hierarchy"),
    *((f"conv,{k}", f"{k} conversations") for k in STATS_KINDS),
    *((f"endpoints,{k}", f"{k} endpoints") for k in STATS_KINDS),
    ("io,1", "packets and bytes per second"),
    ("io,0", "packets and bytes, one interval"),
    ("io,stat,1,tcp,udp", "frames and bytes per second, a column per display filter"),
    ("expert", "expert info: errors, warnings, notes, chats"),
    ("dns,tree", "DNS statistics tree"),
    ("http,tree", "HTTP requests and responses"),
    ("follow,tcp,ascii,0", "TCP stream 0's data, as --follow"),
    ("follow,udp,ascii,0", "UDP stream 0's data"),
    ("follow,tls,ascii,0", "TCP stream 0's decrypted TLS data (--keylog)"),
    ("follow,http2,ascii,0,1", "HTTP/2 stream 1 of TCP stream 0"),
)


def stats_specs(ctx: Any, param: Any, incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(s, help=h) for s, h in STATS_SPECS if s.startswith(incomplete)]


# The record types people ask dig for (all in wire/dns_rdata.TYPE_NAMES; a test checks).
RECORD_TYPES = (
    "A", "AAAA", "ANY", "AXFR", "CAA", "CNAME", "DNSKEY", "DS", "HINFO", "HTTPS", "IXFR",
    "MX", "NAPTR", "NS", "NSEC", "NSEC3", "NSEC3PARAM", "PTR", "RRSIG", "SOA", "SRV",
    "SSHFP", "SVCB", "TLSA", "TXT", "URI",
)  # fmt: skip


_DIG_VALUE_OPTIONS = ("-t", "-q", "-x", "-p", "-c", "-b", "-y", "-k")  # dig's options with a value


def record_types(ctx: Any, param: Any, incomplete: str) -> list[CompletionItem]:
    """-t TYPE, or a TYPE word after the NAME of `dns-query [-t TYPE] NAME TYPE…`
    (dig's words, handed over unparsed)."""
    if param.name == "args":
        words = list(ctx.params.get("args") or ())
        last = words[-1] if words else ""
        if last in _DIG_VALUE_OPTIONS and last != "-t":
            return []  # a name, an address, a port: free text
        names = [
            w
            for i, w in enumerate(words)
            if w[:1] not in ("@", "+", "-") and (i == 0 or words[i - 1] not in _DIG_VALUE_OPTIONS)
        ]
        if last != "-t" and (not names or incomplete[:1] in ("@", "+", "-")):
            return []  # the NAME comes first; @SERVER, +toggles and options are free text
    word = incomplete.upper()
    return [CompletionItem(t) for t in RECORD_TYPES if t.startswith(word)]


def _services(path: str = "/etc/services") -> dict[str, int]:
    """TCP service names and their ports from the services database (names and aliases)."""
    out: dict[str, int] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                words = line.split("#", 1)[0].split()
                if len(words) >= 2 and words[1].endswith("/tcp"):
                    port = words[1].split("/")[0]
                    if port.isdigit():
                        for name in (words[0], *words[2:]):
                            out.setdefault(name, int(port))
    except OSError:
        pass
    return out


def service_ports(ctx: Any, param: Any, incomplete: str) -> list[CompletionItem]:
    """`--ports 22,ht<TAB>` → `22,http`: the word after the last comma as a service name."""
    head, _, last = incomplete.rpartition(",")
    prefix = head + "," if head else ""
    if last[:1].isdigit() or last == "-":
        return []
    return [
        CompletionItem(prefix + name, help=str(port))
        for name, port in sorted(_services().items(), key=lambda kv: (kv[1], kv[0]))
        if name.startswith(last)
    ][:LIMIT]


# --- the shells' side ---------------------------------------------------------------------------

# click's fish script splits each "type,value" answer at every comma, so a value that holds
# one (`conv,tcp`, `--ports 22,http`) came out cut at its first comma: split once only.
_SOURCE_FISH = """\
function %(complete_func)s;
    set -l response (env %(complete_var)s=fish_complete COMP_WORDS=(commandline -cp) \
COMP_CWORD=(commandline -t) %(prog_name)s);

    for completion in $response;
        set -l metadata (string split -m 1 "," -- $completion);

        if test $metadata[1] = "dir";
            __fish_complete_directories $metadata[2];
        else if test $metadata[1] = "file";
            __fish_complete_path $metadata[2];
        else if test $metadata[1] = "plain";
            echo $metadata[2];
        end;
    end;
end;

complete --no-files --command %(prog_name)s --arguments "(%(complete_func)s)";
"""


def register_shells() -> None:
    """Use our fish script instead of click's (`_NETLAB_COMPLETE=fish_source` and the
    answers it asks for); bash and zsh keep click's own."""
    from click.shell_completion import FishComplete, add_completion_class

    class NetlabFishComplete(FishComplete):
        source_template = _SOURCE_FISH

    add_completion_class(NetlabFishComplete, "fish")
