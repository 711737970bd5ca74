"""The .torrent file (metainfo) and the magnet link.

    d
      announce       URL                      BEP 3
      announce-list  [[URL, …], …] (tiers)    BEP 12
      url-list       URL or [URL, …]          BEP 19 (web seeds)
      comment, created by, creation date
      info           d  name, piece length, private (BEP 27), and
                        v1 (BEP 3):  pieces (20-byte SHA-1 per piece), length | files
                                     [{length, path: [component, …], attr}] (BEP 47 pads)
                        v2 (BEP 52): meta version 2, file tree {component: … {"": {length,
                                     pieces root}}}
      piece layers   {pieces root: SHA-256 of each piece's subtree}       BEP 52

The info-hashes are hashes of the *exact bytes* of the `info` dictionary as they sit in
the file (found through `bencode.decode_tree`'s offsets, never re-encoded): SHA-1 for v1,
SHA-256 for v2, both for a hybrid. Parsing is strict (canonical bencode, every key of
the right type, path components that cannot leave the torrent's folder, a pieces count
that matches the lengths, piece layers that hash to their roots) and raises
`MetainfoError` with one line. `make_torrent` writes v1 (as mktorrent does), v2 or
hybrid (as libtorrent does: files sorted, BEP 47 pad files after each file) from files
on disk, deterministically. Magnet links (BEP 9) are parsed and built here too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from netlab.wire.bencode import BencodeError, Node, decode_tree, encode

BLOCK = 16 * 1024  # BEP 52: the merkle tree's leaves are 16 KiB blocks
MAX_TORRENT_BYTES = 64 * 1024 * 1024  # piece layers of a very large torrent fit
MAX_PIECE_LENGTH = 1 << 30  # beyond what any client makes; libtorrent's limit is 2^30 too
MAX_FILE_LENGTH = 1 << 62
MIN_MAKE_PIECE, MAX_MAKE_PIECE = 16 * 1024, 64 * 1024 * 1024
MAX_MAGNET = 64 * 1024
MAX_MAGNET_FIELDS = 1000
MAX_MAKE_FILES = 100_000
MAX_PATH_DEPTH = 32  # directories below the torrent's own; the file tree nests 2 per level
ZERO32 = bytes(32)

# libtorrent's automatic piece size (create_torrent.cpp): 16 KiB << i, i = how many of
# these totals the content exceeds, so the piece list stays near sqrt(total) * 2 bytes.
_AUTO_PIECE_TABLE = (
    2684355, 10737418, 42949673, 171798692, 687194767, 2748779069, 10995116278,
    43980465111, 175921860444, 703687441777,
)  # fmt: skip


class MetainfoError(ValueError):
    """A .torrent or magnet link that cannot be used; the message is one line."""


# --- the parsed file ---------------------------------------------------------------------


@dataclass
class TorrentFile:
    path: tuple[str, ...]  # inside the torrent, the torrent's name first for multi-file
    length: int
    pad: bool = False
    pieces_root: bytes | None = None  # v2

    @property
    def display_path(self) -> str:
        return "/".join(self.path)


@dataclass
class Metainfo:
    name: str
    piece_length: int
    pieces: int
    files: list[TorrentFile]  # real files, in order; pad files are in `pad_files`
    meta_version: int = 1
    info_hash_v1: bytes | None = None
    info_hash_v2: bytes | None = None
    announce: str | None = None
    announce_list: list[list[str]] = field(default_factory=list)
    url_list: list[str] = field(default_factory=list)
    private: bool = False
    comment: str | None = None
    created_by: str | None = None
    creation_date: int | None = None
    source: str | None = None
    multi_file: bool = False
    pad_files: list[TorrentFile] = field(default_factory=list)
    piece_layers: int | None = None  # files whose piece layer was checked; None: none sent
    info_span: tuple[int, int] = (0, 0)
    size: int = 0  # bytes of the .torrent
    tree: Node | None = None  # the bencode tree with offsets, for -v

    @property
    def kind(self) -> str:
        if self.info_hash_v1 and self.info_hash_v2:
            return "hybrid"
        return "v2" if self.info_hash_v2 else "v1"

    @property
    def total_length(self) -> int:
        return sum(f.length for f in self.files)

    @property
    def trackers(self) -> list[str]:
        """Every tracker once, tiers in order (announce-list wins over announce, BEP 12)."""
        urls = [u for tier in self.announce_list for u in tier] or (
            [self.announce] if self.announce else []
        )
        return list(dict.fromkeys(urls))

    def magnet(self) -> Magnet:
        return Magnet(self.info_hash_v1, self.info_hash_v2, self.name, self.trackers, self.url_list)


# --- parsing -----------------------------------------------------------------------------


def parse_torrent(data: bytes) -> Metainfo:
    """DATA (a whole .torrent) → Metainfo, or MetainfoError."""
    if len(data) > MAX_TORRENT_BYTES:
        raise MetainfoError(f"{len(data):,} bytes: over the {MAX_TORRENT_BYTES >> 20} MiB limit")
    if not data:
        raise MetainfoError("empty file: not a .torrent")
    if data[:1] != b"d":
        raise MetainfoError("not a .torrent: it does not start with a bencoded dictionary ('d')")
    try:
        root = decode_tree(data, strict=True)
    except BencodeError as err:
        raise MetainfoError(str(err)) from None
    if root.end != len(data):
        raise MetainfoError(f"{len(data) - root.end} bytes after the torrent's dictionary")
    top = _dict(root)
    info_node = top.get("info")
    if info_node is None:
        raise MetainfoError("no 'info' dictionary: not a .torrent")
    if info_node.kind != "dict":
        raise MetainfoError("'info' is not a dictionary")
    info_bytes = data[info_node.start : info_node.end]
    meta = _parse_info(_dict(info_node), info_bytes, top)
    meta.info_span = (info_node.start, info_node.end)
    meta.size = len(data)
    meta.tree = root
    _parse_outer(top, meta)
    return meta


def _dict(node: Node) -> dict[str, Node]:
    # Keys as text for lookup; the tree keeps the raw bytes for -v.
    return {k.value.decode("utf-8", "surrogateescape"): v for k, v in node.items}


_KIND_NAMES = {"int": "an integer", "bytes": "a byte string"}


def _value(d: dict[str, Node], key: str, where: str, kind: str, required: bool) -> Any:
    """The value of d[key], a bencode `kind`; None when it is absent and not required."""
    node = d.get(key)
    if node is None:
        if required:
            raise MetainfoError(f"{where}: no {key!r}")
        return None
    if node.kind != kind:
        raise MetainfoError(f"{where}: {key!r} is not {_KIND_NAMES[kind]}")
    return node.value


def _int(d: dict[str, Node], key: str, where: str, required: bool = True) -> int | None:
    return _value(d, key, where, "int", required)


def _bytes(d: dict[str, Node], key: str, where: str, required: bool = True) -> bytes | None:
    return _value(d, key, where, "bytes", required)


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", "replace")


def _component(raw: bytes, where: str) -> str:
    """One path component that stays inside the torrent's folder."""
    if raw in (b"", b".", b".."):
        shown = raw.decode()
        raise MetainfoError(f"{where}: path component {shown!r} would leave the torrent's folder")
    if b"/" in raw or b"\x00" in raw:
        raise MetainfoError(f"{where}: path component {raw[:60]!r} holds '/' or NUL")
    return raw.decode("utf-8", "replace")


def _parse_info(info: dict[str, Node], info_bytes: bytes, top: dict[str, Node]) -> Metainfo:
    name = _component(_bytes(info, "name", "info"), "info: name")
    plen = _int(info, "piece length", "info")
    if plen <= 0 or plen > MAX_PIECE_LENGTH:
        raise MetainfoError(f"info: piece length {plen} is absurd (1 byte to 1 GiB)")
    version = _int(info, "meta version", "info", required=False)
    if version is not None and version != 2:
        raise MetainfoError(f"info: meta version {version} is not one this reads (2, BEP 52)")
    has_v1 = "pieces" in info
    if not has_v1 and version is None:
        raise MetainfoError("info: no 'pieces' (v1) and no 'meta version' 2 (v2)")
    meta = Metainfo(name=name, piece_length=plen, pieces=0, files=[])
    v1_files: list[TorrentFile] | None = None
    if has_v1:
        v1_files, meta.multi_file = _v1_files(info, name)
        meta.pieces = _v1_pieces(info, plen, v1_files)
        meta.info_hash_v1 = hashlib.sha1(info_bytes).digest()
        meta.files = [f for f in v1_files if not f.pad]
        meta.pad_files = [f for f in v1_files if f.pad]
    if version == 2:
        if plen < BLOCK or plen & (plen - 1):
            raise MetainfoError(f"info: v2 piece length {plen} is not a power of two ≥ 16 KiB")
        v2_files, multi = _v2_files(info, name)
        if v1_files is not None:
            _same_files(meta.files, v2_files)
            _aligned(v1_files, plen)
        meta.files, meta.multi_file, meta.meta_version = v2_files, multi, 2
        meta.pieces = meta.pieces or sum(-(-f.length // plen) for f in v2_files)
        meta.piece_layers = _piece_layers(top, v2_files, plen)
        meta.info_hash_v2 = hashlib.sha256(info_bytes).digest()
    meta.private = bool(_int(info, "private", "info", required=False))
    meta.source = _text(_bytes(info, "source", "info", required=False))
    return meta


def _v1_files(info: dict[str, Node], name: str) -> tuple[list[TorrentFile], bool]:
    if "files" in info and "length" in info:
        raise MetainfoError("info: both 'length' (one file) and 'files' (several)")
    if "length" in info:
        return [TorrentFile((name,), _length(_int(info, "length", "info"), "info"))], False
    node = info.get("files")
    if node is None:
        raise MetainfoError("info: no 'length' and no 'files'")
    if node.kind != "list":
        raise MetainfoError("info: 'files' is not a list")
    files = []
    for i, item in enumerate(node.items):
        where = f"info: files[{i}]"
        if item.kind != "dict":
            raise MetainfoError(f"{where} is not a dictionary")
        entry = _dict(item)
        path_node = entry.get("path")
        if path_node is None or path_node.kind != "list" or not path_node.items:
            raise MetainfoError(f"{where}: 'path' is missing or not a non-empty list")
        parts = []
        for part in path_node.items:
            if part.kind != "bytes":
                raise MetainfoError(f"{where}: a path component is not a byte string")
            parts.append(_component(part.value, where))
        length = _length(_int(entry, "length", where), where)
        attr = _bytes(entry, "attr", where, required=False) or b""
        files.append(TorrentFile((name, *parts), length, pad=b"p" in attr))
    return files, True


def _length(value: int, where: str) -> int:
    if value < 0 or value > MAX_FILE_LENGTH:
        raise MetainfoError(f"{where}: length {value} is absurd")
    return value


def _v1_pieces(info: dict[str, Node], plen: int, files: list[TorrentFile]) -> int:
    pieces = _bytes(info, "pieces", "info")
    if len(pieces) % 20:
        raise MetainfoError(
            f"info: 'pieces' is {len(pieces)} bytes, not a multiple of 20 (one SHA-1 per piece)"
        )
    total = sum(f.length for f in files)
    if total == 0:
        raise MetainfoError("info: the files hold no data (0 bytes): nothing to share")
    want = -(-total // plen)
    if len(pieces) // 20 != want:
        raise MetainfoError(
            f"info: {len(pieces) // 20} piece hashes for {total:,} bytes in pieces of {plen:,} "
            f"(that needs {want:,})"
        )
    return want


def _v2_files(info: dict[str, Node], name: str) -> tuple[list[TorrentFile], bool]:
    tree = info.get("file tree")
    if tree is None or tree.kind != "dict":
        raise MetainfoError("info: meta version 2 without a 'file tree' dictionary")
    files: list[TorrentFile] = []
    _walk_tree(tree, (), files)
    if not any(f.length for f in files):
        raise MetainfoError("info: the file tree holds no data (0 bytes): nothing to share")
    # One file at the top named like the torrent is a single-file torrent (BEP 52).
    single = len(files) == 1 and files[0].path == (name,)
    if not single:
        files = [TorrentFile((name, *f.path), f.length, f.pad, f.pieces_root) for f in files]
    return files, not single


def _walk_tree(node: Node, path: tuple[str, ...], out: list[TorrentFile]) -> None:
    # Depth is bounded by bencode's own nesting limit; the count by its element limit.
    for key, child in node.items:
        where = "info: file tree" + ("/" + "/".join(path) if path else "")
        if key.value == b"":
            raise MetainfoError(f"{where}: a file entry ('') beside other names")
        if child.kind != "dict":
            raise MetainfoError(f"{where}: {key.value[:60]!r} is not a dictionary")
        part = _component(key.value, where)
        entries = _dict(child)
        leaf = entries.get("")
        if leaf is None:
            _walk_tree(child, (*path, part), out)
            continue
        if len(entries) != 1 or leaf.kind != "dict":
            raise MetainfoError(f"{where}/{part}: a file entry must be alone and a dictionary")
        out.append(_v2_file(_dict(leaf), (*path, part), where + "/" + part))


def _v2_file(leaf: dict[str, Node], path: tuple[str, ...], where: str) -> TorrentFile:
    length = _length(_int(leaf, "length", where), where)
    root = _bytes(leaf, "pieces root", where, required=length > 0)
    if root is not None and len(root) != 32:
        raise MetainfoError(f"{where}: 'pieces root' is {len(root)} bytes, not 32")
    return TorrentFile(path, length, pieces_root=root if length else None)


def _same_files(v1: list[TorrentFile], v2: list[TorrentFile]) -> None:
    """BEP 52: a hybrid's two file lists describe the same files in the same order."""
    one = [(f.path, f.length) for f in v1]
    two = [(f.path, f.length) for f in v2]
    if one != two:
        raise MetainfoError("hybrid torrent: the v1 'files' and the v2 'file tree' differ")


def _aligned(v1_files: list[TorrentFile], plen: int) -> None:
    """A hybrid's v1 pieces are the v2 ones only if every file starts a piece (BEP 47
    pad files between them)."""
    offset = 0
    for f in v1_files:
        if f.length and not f.pad and offset % plen:
            raise MetainfoError(
                f"hybrid torrent: {f.display_path!r} starts inside a piece (at byte "
                f"{offset:,}): pad files are missing"
            )
        offset += f.length


def _piece_layers(top: dict[str, Node], files: list[TorrentFile], plen: int) -> int | None:
    """Check each piece layer the file carries against its pieces root; how many."""
    node = top.get("piece layers")
    if node is None:
        return None  # allowed: a client can fetch them from peers (BEP 52)
    if node.kind != "dict":
        raise MetainfoError("'piece layers' is not a dictionary")
    layers = {k.value: v for k, v in node.items}
    found = 0
    pad = _zero_root(plen // BLOCK)
    for f in files:
        if f.length <= plen:
            continue
        layer = layers.get(f.pieces_root)
        if layer is None:
            raise MetainfoError(f"piece layers: none for {f.display_path!r}")
        count = -(-f.length // plen)
        if layer.kind != "bytes" or len(layer.value) != 32 * count:
            raise MetainfoError(
                f"piece layers: {f.display_path!r} needs {count} hashes of 32 bytes"
            )
        hashes = [layer.value[i : i + 32] for i in range(0, len(layer.value), 32)]
        if merkle_root(hashes, pad) != f.pieces_root:
            raise MetainfoError(f"piece layers: {f.display_path!r} does not hash to its root")
        found += 1
    return found


def _parse_outer(top: dict[str, Node], meta: Metainfo) -> None:
    meta.announce = _text(_bytes(top, "announce", "torrent", required=False))
    tiers = top.get("announce-list")
    if tiers is not None:
        if tiers.kind != "list":
            raise MetainfoError("'announce-list' is not a list of tiers")
        for tier in tiers.items:
            if tier.kind != "list" or any(u.kind != "bytes" for u in tier.items):
                raise MetainfoError("'announce-list': a tier is not a list of URLs")
            urls = [u.value.decode("utf-8", "replace") for u in tier.items if u.value]
            if urls:
                meta.announce_list.append(urls)
    seeds = top.get("url-list")
    if seeds is not None:
        items = [seeds] if seeds.kind == "bytes" else seeds.items if seeds.kind == "list" else None
        if items is None or any(s.kind != "bytes" for s in items):
            raise MetainfoError("'url-list' is not a URL or a list of URLs")
        meta.url_list = [s.value.decode("utf-8", "replace") for s in items if s.value]
    meta.comment = _text(_bytes(top, "comment", "torrent", required=False))
    meta.created_by = _text(_bytes(top, "created by", "torrent", required=False))
    meta.creation_date = _int(top, "creation date", "torrent", required=False)


# --- merkle trees (BEP 52) -----------------------------------------------------------------


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def merkle_root(leaves: list[bytes], pad: bytes = ZERO32) -> bytes:
    """The root over LEAVES padded to a power of two with PAD (the hash of a zero subtree
    of their level)."""
    layer = list(leaves) or [pad]
    width = 1 << (len(layer) - 1).bit_length()
    layer += [pad] * (width - len(layer))
    while len(layer) > 1:
        pad = _sha256(pad + pad)
        layer = [_sha256(layer[i] + layer[i + 1]) for i in range(0, len(layer), 2)]
    return layer[0]


def _zero_root(leaves: int) -> bytes:
    return merkle_root([ZERO32] * leaves)


# --- magnet links (BEP 9) --------------------------------------------------------------------


_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*()")


def _escape(text: str) -> str:
    # libtorrent's escaping (lower-case hex), so our links equal make_magnet_uri's.
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02x}" for b in text.encode())


@dataclass
class Magnet:
    info_hash_v1: bytes | None
    info_hash_v2: bytes | None
    name: str | None = None
    trackers: list[str] = field(default_factory=list)
    web_seeds: list[str] = field(default_factory=list)
    peers: list[str] = field(default_factory=list)

    def uri(self) -> str:
        parts = []
        if self.info_hash_v1:
            parts.append("xt=urn:btih:" + self.info_hash_v1.hex())
        if self.info_hash_v2:
            parts.append("xt=urn:btmh:1220" + self.info_hash_v2.hex())  # multihash sha2-256
        if self.name:
            parts.append("dn=" + _escape(self.name))
        parts += ["tr=" + _escape(t) for t in self.trackers]
        parts += ["ws=" + _escape(w) for w in self.web_seeds]
        parts += ["x.pe=" + _escape(p) for p in self.peers]
        return "magnet:?" + "&".join(parts)

    @property
    def dht_target(self) -> bytes:
        """What to look up in the DHT: the v1 hash, or the v2 one cut to 20 bytes (BEP 52)."""
        return self.info_hash_v1 or (self.info_hash_v2 or b"")[:20]


def btih(value: str) -> bytes:
    """A v1 info-hash: 40 hex digits or 32 base32 characters (BEP 9)."""
    try:
        if len(value) == 40:
            return bytes.fromhex(value)
        if len(value) == 32:
            return base64.b32decode(value.upper())
    except (ValueError, binascii.Error):
        pass
    raise MetainfoError(f"{value[:60]!r}: an info-hash is 40 hex digits (or 32 base32)")


def _btmh(value: str) -> bytes:
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = b""
    if len(raw) != 34 or raw[:2] != b"\x12\x20":
        raise MetainfoError(
            f"{value[:70]!r}: a v2 info-hash (btmh) is 1220 and 64 hex digits (SHA-256 multihash)"
        )
    return raw[2:]


def parse_magnet(text: str) -> Magnet:
    if len(text) > MAX_MAGNET:
        raise MetainfoError(f"magnet link of {len(text):,} characters: over the 64 KiB limit")
    if not text.startswith("magnet:?"):
        raise MetainfoError(f"{text[:60]!r} is not a magnet link (magnet:?xt=…)")
    try:
        fields = parse_qsl(text[8:], keep_blank_values=True, max_num_fields=MAX_MAGNET_FIELDS)
    except ValueError:
        raise MetainfoError(f"magnet link of over {MAX_MAGNET_FIELDS:,} fields") from None
    magnet = Magnet(None, None)
    for key, value in fields:
        if key == "xt" and value.lower().startswith("urn:btih:"):
            magnet.info_hash_v1 = btih(value[9:])
        elif key == "xt" and value.lower().startswith("urn:btmh:"):
            magnet.info_hash_v2 = _btmh(value[9:])
        elif key == "dn":
            magnet.name = value
        elif key == "tr" or key.startswith("tr."):
            magnet.trackers.append(value)
        elif key == "ws":
            magnet.web_seeds.append(value)
        elif key == "x.pe":
            magnet.peers.append(value)
    if not (magnet.info_hash_v1 or magnet.info_hash_v2):
        raise MetainfoError(f"{text[:60]!r}: no xt=urn:btih: or xt=urn:btmh: in the magnet link")
    magnet.trackers = list(dict.fromkeys(magnet.trackers))
    return magnet


def parse_info_hash(text: str) -> bytes:
    """An info-hash for the DHT: bare hex/base32, or a magnet link's (v1, else v2 cut)."""
    if text.startswith("magnet:"):
        return parse_magnet(text).dht_target
    return btih(text)


# --- making a torrent ---------------------------------------------------------------------


@dataclass
class SourceFile:
    parts: tuple[str, ...]  # below the torrent's folder; () for a single-file torrent
    disk_path: str
    length: int


@dataclass
class MakeOptions:
    trackers: list[list[str]] = field(default_factory=list)  # tiers
    piece_length: int | None = None
    private: bool = False
    comment: str | None = None
    web_seeds: list[str] = field(default_factory=list)
    name: str | None = None
    version: str = "v1"  # "v1", "v2" or "hybrid"
    creation_date: int | None = None
    created_by: str | None = None
    source: str | None = None


def auto_piece_length(total: int) -> int:
    """libtorrent's choice for TOTAL bytes (16 KiB … 16 MiB)."""
    return BLOCK << sum(1 for limit in _AUTO_PIECE_TABLE if total > limit)


def scan(path: str, skip: str | None = None) -> tuple[str, list[SourceFile], bool]:
    """(default name, files sorted as BEP 52 orders them, multi-file?) for PATH.
    Symbolic links to files are followed, links to directories are not (no loops); SKIP
    (the .torrent being written) is left out."""
    try:
        st = os.stat(path)
    except OSError as err:
        raise MetainfoError(f"cannot read {path}: {err.strerror}") from None
    name = os.path.basename(os.path.abspath(path))
    if stat.S_ISREG(st.st_mode):
        return name, [SourceFile((), path, st.st_size)], False
    if not stat.S_ISDIR(st.st_mode):
        raise MetainfoError(f"{path}: not a file or a directory")
    files: list[SourceFile] = []
    skip_id = _file_id(skip) if skip else None
    _scan_dir(path, (), files, skip_id)
    files.sort(key=lambda f: [_raw(p) for p in f.parts])
    return name, files, True


def _file_id(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _scan_dir(path: str, parts: tuple[str, ...], out: list[SourceFile], skip_id) -> None:
    if len(parts) >= MAX_PATH_DEPTH:
        raise MetainfoError(f"{path}: more than {MAX_PATH_DEPTH} directories deep")
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)
    except OSError as err:
        raise MetainfoError(f"cannot read {path}: {err.strerror}") from None
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                _scan_dir(entry.path, (*parts, entry.name), out, skip_id)
                continue
            if not entry.is_file(follow_symlinks=True):
                continue  # sockets, fifos, devices, dangling or directory links
            st = entry.stat(follow_symlinks=True)
        except OSError as err:
            raise MetainfoError(f"cannot read {entry.path}: {err.strerror}") from None
        if skip_id == (st.st_dev, st.st_ino):
            continue
        out.append(SourceFile((*parts, entry.name), entry.path, st.st_size))
        if len(out) > MAX_MAKE_FILES:
            raise MetainfoError(f"{path}: more than {MAX_MAKE_FILES:,} files")


def make_torrent(
    path: str, options: MakeOptions, skip: str | None = None, progress: Callable | None = None
) -> bytes:
    """The bencoded .torrent for the file or directory PATH."""
    default_name, sources, multi = scan(path, skip)
    if options.version == "v1":
        # mktorrent's order (the whole path compared as a string: "a-b" before "a/"), so
        # the same files and options give mktorrent's info-hash; v2 orders by component.
        sources.sort(key=lambda f: _raw("/".join(f.parts)))
    name = options.name or default_name
    _component(_raw(name), "--name")
    total = sum(f.length for f in sources)
    if total == 0:
        raise MetainfoError(f"{path}: no data to share (no files, or only empty ones)")
    plen = options.piece_length or auto_piece_length(total)
    hasher = _Hasher(plen, options.version, multi)
    for f in sources:
        hasher.add_file(f)
        if progress:
            progress(f)
    info = hasher.info(name, sources, multi)
    if options.private:
        info[b"private"] = 1
    if options.source:
        info[b"source"] = _raw(options.source)
    return encode(_outer(info, hasher.layers, options))


def _raw(text: str) -> bytes:
    """Text from the command line or the file system, as its bytes: a file name that is
    not UTF-8 (surrogate escapes) keeps the bytes it has on disk."""
    return text.encode("utf-8", "surrogateescape")


def _outer(info: dict, layers: dict, options: MakeOptions) -> dict:
    top: dict = {b"info": info}
    urls = [_raw(u) for tier in options.trackers for u in tier]
    if urls:
        top[b"announce"] = urls[0]
    if len(urls) > 1:
        top[b"announce-list"] = [[_raw(u) for u in tier] for tier in options.trackers if tier]
    if options.comment:
        top[b"comment"] = _raw(options.comment)
    if options.created_by:
        top[b"created by"] = _raw(options.created_by)
    if options.creation_date is not None:
        top[b"creation date"] = options.creation_date
    if options.web_seeds:
        seeds = [_raw(u) for u in options.web_seeds]
        top[b"url-list"] = seeds[0] if len(seeds) == 1 else seeds
    if layers:
        top[b"piece layers"] = layers
    return top


class _Hasher:
    """One pass over the files: v1 pieces across file boundaries (with BEP 47 pad files
    between files for a hybrid), and per file the v2 merkle tree of 16 KiB blocks."""

    def __init__(self, plen: int, version: str, multi: bool) -> None:
        self.plen, self.multi = plen, multi
        self.v1 = version in ("v1", "hybrid")
        self.v2 = version in ("v2", "hybrid")
        self.pad_files = self.v1 and self.v2 and multi
        self.pieces: list[bytes] = []
        self.piece = hashlib.sha1()
        self.filled = 0
        self.roots: list[bytes | None] = []
        self.pads: list[int] = []  # pad length after each file (hybrid)
        self.layers: dict[bytes, bytes] = {}
        self.piece_pad = _zero_root(plen // BLOCK)

    def add_file(self, f: SourceFile) -> None:
        piece_hashes: list[bytes] = []
        done = 0
        try:
            with open(f.disk_path, "rb") as fh:
                for chunk in _chunks(fh, self.plen, f.length):
                    done += len(chunk)
                    if self.v1:
                        self._feed_v1(chunk)
                    if self.v2:
                        piece_hashes.append(self._piece_root(chunk, f.length))
        except OSError as err:
            raise MetainfoError(f"cannot read {f.disk_path}: {err.strerror}") from None
        if done != f.length:
            raise MetainfoError(f"{f.disk_path} changed size while being hashed")
        if self.v2:
            self._file_root(piece_hashes, f.length)
        pad = (-f.length) % self.plen if self.pad_files and f.length else 0
        self.pads.append(pad)
        if pad:
            self._feed_v1(bytes(pad))

    def _feed_v1(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            take = min(len(view), self.plen - self.filled)
            self.piece.update(view[:take])
            self.filled += take
            view = view[take:]
            if self.filled == self.plen:
                self.pieces.append(self.piece.digest())
                self.piece, self.filled = hashlib.sha1(), 0

    def _piece_root(self, chunk: bytes, file_length: int) -> bytes:
        leaves = [_sha256(chunk[i : i + BLOCK]) for i in range(0, len(chunk), BLOCK)]
        if file_length < self.plen:
            return merkle_root(leaves)  # a file under one piece: padded to a power of two
        return merkle_root(leaves + [ZERO32] * (self.plen // BLOCK - len(leaves)))

    def _file_root(self, piece_hashes: list[bytes], length: int) -> None:
        if not length:
            self.roots.append(None)
            return
        root = merkle_root(piece_hashes, self.piece_pad)
        self.roots.append(root)
        if len(piece_hashes) > 1:
            self.layers[root] = b"".join(piece_hashes)

    def info(self, name: str, sources: list[SourceFile], multi: bool) -> dict:
        info: dict = {b"name": _raw(name), b"piece length": self.plen}
        if self.v1:
            if self.filled:
                self.pieces.append(self.piece.digest())
            info[b"pieces"] = b"".join(self.pieces)
            if multi:
                info[b"files"] = self._v1_files(sources)
            else:
                info[b"length"] = sources[0].length
        if self.v2:
            info[b"meta version"] = 2
            info[b"file tree"] = self._file_tree(name, sources, multi)
        return info

    def _v1_files(self, sources: list[SourceFile]) -> list[dict]:
        files: list[dict] = []
        for f, pad in zip(sources, self.pads, strict=True):
            files.append({b"length": f.length, b"path": [_raw(p) for p in f.parts]})
            if pad:
                files.append({b"attr": b"p", b"length": pad, b"path": [".pad", str(pad)]})
        return files

    def _file_tree(self, name: str, sources: list[SourceFile], multi: bool) -> dict:
        tree: dict = {}
        for f, root in zip(sources, self.roots, strict=True):
            leaf: dict = {b"length": f.length}
            if root is not None:
                leaf[b"pieces root"] = root
            node = tree
            for part in f.parts if multi else (name,):
                node = node.setdefault(_raw(part), {})
            node[b""] = leaf
        return tree


def _chunks(fh, size: int, length: int) -> Iterator[bytes]:
    """Pieces of FH, SIZE bytes each; never more than LENGTH + 1 bytes in all (a file
    that grew is caught by the caller)."""
    left = length + 1
    while left > 0:
        chunk = fh.read(min(size, left))
        if not chunk:
            return
        left -= len(chunk)
        yield chunk
