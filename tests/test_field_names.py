"""Every field name a display filter or `-e` accepts is one the decoders make.

netlab/dissect/field_types.txt lists them with Wireshark's type and display base
and bit mask (from `tshark -G fields`, or OWN_TYPES for names tshark 4.0 lacks; other names take a
type from netlab's values). It is made by running this file:

    .venv/bin/python -m tests.test_field_names

from the names the decoders produce on pcaps/ and the tcpdump corpus, the field
names written in netlab/dissect/*.py that tshark knows, the frame fields and the
protocols. The tests below fail when a decoder makes a name the list lacks (a
filter would refuse it) or the list holds one nothing makes (a filter would accept
it and match nothing).
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from pathlib import Path

from netlab.capture.reader import CaptureFormatError, open_capture
from netlab.dissect import Dissector, fields, registry
from tests.conftest import CORPUS, ROOT, require_tool

TYPES_FILE = ROOT / "netlab" / "dissect" / "field_types.txt"
# The decoders' modules (not the ones that read fields: statistics, graphs, filters …).
_READERS = {"filter.py", "fields.py", "stats.py", "graphs.py", "follow.py", "jobs.py",
            "engine.py", "model.py", "registry.py", "__init__.py"}  # fmt: skip
SOURCES = sorted(p for p in (ROOT / "netlab" / "dissect").glob("*.py") if p.name not in _READERS)
_LITERAL = re.compile(r"""["']([a-z_][a-z0-9_\-]*(?:\.[A-Za-z0-9_]+)+)["']""")
# Wireshark 4.2's types of the fields tshark 4.0 lacks (packet-bt-tracker.c's hf array).
OWN_TYPES = {
    "bt-tracker.proto_id": ("FT_UINT64", "BASE_HEX"),
    "bt-tracker.action": ("FT_UINT32", "BASE_DEC"),
    "bt-tracker.transaction_id": ("FT_UINT32", "BASE_DEC"),
    "bt-tracker.connection_id": ("FT_UINT64", "BASE_DEC"),
    "bt-tracker.msg_type": ("FT_UINT8", "BASE_DEC"),
    "bt-tracker.info_hash": ("FT_BYTES", "BASE_NONE"),
    "bt-tracker.peer_id": ("FT_BYTES", "BASE_NONE"),
    "bt-tracker.downloaded": ("FT_UINT64", "BASE_DEC"),
    "bt-tracker.left": ("FT_UINT64", "BASE_DEC"),
    "bt-tracker.uploaded": ("FT_UINT64", "BASE_DEC"),
    "bt-tracker.event": ("FT_UINT32", "BASE_DEC"),
    "bt-tracker.ip_address": ("FT_IPv4", "BASE_NONE"),
    "bt-tracker.key": ("FT_UINT32", "BASE_DEC"),
    "bt-tracker.num_want": ("FT_INT32", "BASE_DEC"),
    "bt-tracker.port": ("FT_UINT16", "BASE_DEC"),
    "bt-tracker.interval": ("FT_INT32", "BASE_DEC"),
    "bt-tracker.leechers": ("FT_INT32", "BASE_DEC"),
    "bt-tracker.seeders": ("FT_INT32", "BASE_DEC"),
    "bt-tracker.trackers": ("FT_NONE", "BASE_NONE"),
    "bt-tracker.tracker": ("FT_NONE", "BASE_NONE"),
    "bt-tracker.tracker.ip": ("FT_IPv4", "BASE_NONE"),
    "bt-tracker.tracker.ip6": ("FT_IPv6", "BASE_NONE"),
    "bt-tracker.tracker.port": ("FT_UINT16", "BASE_DEC"),
    "bt-tracker.completed": ("FT_INT32", "BASE_DEC"),
    "bt-tracker.error_msg": ("FT_STRING", "BASE_NONE"),
}
_PY_TYPES = {"int": "FT_UINT32", "bool": "FT_BOOLEAN", "str": "FT_STRING", "bytes": "FT_BYTES",
             "float": "FT_DOUBLE"}  # fmt: skip


def captures() -> list[Path]:
    found = sorted((ROOT / "pcaps").glob("*.pcap*"))
    return found + sorted(p for p in CORPUS.glob("*") if p.suffix in (".pcap", ".pcapng"))


def produced() -> dict[str, str]:
    """{name: Python type of its first value} of every field the decoders make on the
    sample and corpus captures."""
    names: dict[str, str] = {}
    for path in captures():
        try:
            for pkt in _packets(path):
                for _layer, rows in pkt.rows():
                    for row in rows:
                        if row[1] and row[1] not in names:
                            names[row[1]] = type(row[2]).__name__
        except CaptureFormatError:
            continue
    return names


def _packets(path: Path):
    dissector = Dissector(False)
    with open_capture(path) as cap:
        for no, f in enumerate(cap, 1):
            yield dissector.dissect(no, f.ts_ns, f.data, f.wirelen, f.linktype, f.interface,
                                    f.comment)  # fmt: skip


def written() -> set[str]:
    """Field names written out in the decoders' source."""
    names = set()
    for path in SOURCES:
        names.update(_LITERAL.findall(path.read_text()))
    return {n for n in names if n.split(".")[0] in registry.FILTER_NAMES}


@functools.cache
def tshark_types() -> dict[str, tuple[str, ...]]:
    """{name: (type, base, bit mask or "")} from `tshark -G fields`."""
    out = subprocess.run([require_tool("tshark"), "-G", "fields"], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    types = {}
    for line in out.splitlines():
        cols = line.split("\t")
        if cols[0] == "F" and len(cols) > 5:
            mask = cols[6] if len(cols) > 6 and cols[6] not in ("", "0x0") else ""
            types[cols[2]] = (cols[3], cols[5], mask)
        elif cols[0] == "P" and len(cols) > 2:
            types[cols[2]] = ("FT_PROTOCOL", "", "")
    return types


def generate() -> str:
    types = {**OWN_TYPES, **tshark_types()}
    made = produced()
    rows = {}
    for name in (
        made.keys() | {n for n in written() if n in types} | set(fields.DERIVED) | {"_ws.malformed"}
    ):
        ftype, base, mask = [*(types.get(name) or ()), "", "", ""][:3]
        if not ftype:
            ftype = _PY_TYPES.get(made.get(name, ""), "FT_STRING")
        rows[name] = (ftype, base, mask)
    for proto in registry.FILTER_NAMES | {"frame"}:
        if proto != "_ws":
            rows[proto] = ("FT_PROTOCOL", "", "")
    lines = ["# name, Wireshark type, display base[, bit mask]: made by tests/test_field_names.py"]
    lines += ["\t".join((name, *row)).rstrip("\t") if row[2] else f"{name}\t{row[0]}\t{row[1]}"
              for name, row in sorted(rows.items())]  # fmt: skip
    return "\n".join(lines) + "\n"


def test_every_field_the_decoders_make_is_known():
    missing = sorted(set(produced()) - set(fields.field_types()))
    assert not missing, f"not in {TYPES_FILE.name} (regenerate it): {missing}"


def test_every_field_written_in_the_decoders_is_known():
    known = fields.field_types()
    stray = sorted(n for n in written()
                   if (n in tshark_types() or n in OWN_TYPES) and n not in known)  # fmt: skip
    assert not stray, f"not in {TYPES_FILE.name} (regenerate it): {stray}"


def test_every_known_field_is_made_somewhere():
    # A listed name no decoder makes (and no source line writes) would be accepted by
    # a filter and match nothing: the list holds no leftovers.
    made = set(produced()) | written() | set(fields.DERIVED) | {"_ws.malformed"}
    known = fields.field_types()
    leftovers = sorted(n for n, (t, _) in known.items() if t != "FT_PROTOCOL" and n not in made)
    assert not leftovers, leftovers


if __name__ == "__main__":
    TYPES_FILE.write_text(generate())
    print(f"wrote {TYPES_FILE}", file=sys.stderr)
