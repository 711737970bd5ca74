"""MAC address → vendor name, from the IEEE registries that Debian's ieee-data ships.

The data is installed by the distribution (package `ieee-data`, refreshed by its
maintainers), never fetched at run time:

    /usr/share/ieee-data/oui.csv     MA-L  24-bit prefixes (the classic "OUI")
    /usr/share/ieee-data/mam.csv     MA-M  28-bit prefixes
    /usr/share/ieee-data/oui36.csv   MA-S  36-bit prefixes
    /usr/share/ieee-data/iab.csv     IAB   36-bit prefixes (the older MA-S)

A 28- or 36-bit block is carved out of a 24-bit one registered to "IEEE
Registration Authority", so the longest matching prefix wins, as in arp-scan.
The files are parsed into one dict on the first lookup (~70 ms), so commands
that show no vendor never pay for them. A missing registry is not an error:
vendors read "(Unknown)" and one warning line says which package to install.
`NETLAB_IEEE_DATA` points at another directory holding the same files.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

DEFAULT_DIR = "/usr/share/ieee-data"
# (file, hex digits of its prefixes), longest prefix first.
REGISTRIES = (("oui36.csv", 9), ("iab.csv", 9), ("mam.csv", 7), ("oui.csv", 6))
UNKNOWN = "(Unknown)"  # arp-scan's words, so its output and ours compare line by line
LOCALLY_ADMINISTERED = "(Unknown: locally administered)"


class OuiDatabase:
    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory or os.environ.get("NETLAB_IEEE_DATA") or DEFAULT_DIR)
        self._names: dict[str, str] | None = None
        self.warning: str | None = None  # set when the main registry could not be read

    def load(self) -> OuiDatabase:
        """Parse the registries now (otherwise the first lookup does it)."""
        if self._names is None:
            names: dict[str, str] = {}
            # Keys of different lengths never collide; where IAB and MA-S both list a
            # 36-bit block, MA-S (read last) is the current registration.
            for filename, digits in reversed(REGISTRIES):
                try:
                    names.update(_read_registry(self.directory / filename, digits))
                except OSError as err:
                    if filename == "oui.csv":
                        self.warning = (
                            f"no vendor names: cannot read {self.directory / filename} "
                            f"({err.strerror or err}); install the Debian package ieee-data"
                        )
            self._names = names
        return self

    def __len__(self) -> int:
        return len(self.load()._names or {})

    def lookup(self, mac: str) -> str:
        """The vendor of MAC ("aa:bb:cc:dd:ee:ff"), or arp-scan's "(Unknown…)" words."""
        names = self.load()._names or {}
        digits = mac.replace(":", "").replace("-", "").upper()
        for length in (9, 7, 6):
            name = names.get(digits[:length])
            if name is not None:
                return name
        try:
            first = int(digits[:2], 16)
        except ValueError:
            return UNKNOWN
        return LOCALLY_ADMINISTERED if first & 0x02 else UNKNOWN


def _read_registry(path: Path, digits: int) -> dict[str, str]:
    names = {}
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        rows = csv.reader(f)
        next(rows, None)  # Registry,Assignment,Organization Name,Organization Address
        for row in rows:
            if len(row) >= 3 and len(row[1]) == digits:
                names[row[1].upper()] = row[2].strip()
    return names


_default: OuiDatabase | None = None


def default_database() -> OuiDatabase:
    global _default
    if _default is None:
        _default = OuiDatabase()
    return _default
