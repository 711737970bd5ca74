"""`netlab torrent show` / `make` and wire/metainfo against the real peers (no network).

- torrents made by libtorrent (v1, v2, hybrid; one file and a directory) and by mktorrent:
  `torrent show --json` gives libtorrent's info-hashes, files and piece count;
- `torrent make` output (v1, v2, hybrid; one file and a directory) loads in libtorrent
  with the same info-hashes, files and pieces, and its info-hashes equal those of the
  torrents libtorrent and mktorrent make of the same content (so the SHA-1 pieces, the
  BEP 52 merkle roots, piece layers and BEP 47 pad files are right byte for byte);
- `aria2c -S` reads our v1 output and prints our info-hash;
- magnet links round-trip, and equal libtorrent's `make_magnet_uri`;
- the default piece length is libtorrent's for the same total size;
- hostile files and links end in one line on stderr and exit 2.

libtorrent runs in Debian's /usr/bin/python3 (python3-libtorrent is built for it, not
for the venv), one subprocess per batch of jobs.
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from netlab.wire import metainfo as mi
from tests.conftest import netlab_bin, require_tool

TRACKER = "http://127.0.0.1:6969/announce"
SYSTEM_PYTHON = "/usr/bin/python3"
KINDS = ("v1", "v2", "hybrid")

# Jobs on stdin (JSON), results on stdout: libtorrent as the oracle.
LT_SCRIPT = r"""
import json, sys
import libtorrent as lt

def info(path):
    ti = lt.torrent_info(path)
    ih = ti.info_hashes()
    fs = ti.files()
    files = [
        {"path": fs.file_path(i), "length": fs.file_size(i)}
        for i in range(fs.num_files())
        if not fs.file_flags(i) & 1  # flag_pad_file
    ]
    return {
        "v1": str(ih.v1) if ih.has_v1() else None,
        "v2": str(ih.v2) if ih.has_v2() else None,
        "pieces": ti.num_pieces(),
        "piece_length": ti.piece_length(),
        "files": files,
        "name": ti.name(),
        "private": ti.priv(),
        "magnet": lt.make_magnet_uri(ti),
    }

def make(job):
    fs = lt.file_storage()
    lt.add_files(fs, job["path"])
    flags = {"v1": lt.create_torrent.v1_only, "v2": lt.create_torrent.v2_only, "hybrid": 0}
    ct = lt.create_torrent(fs, job.get("piece_length", 0), flags=flags[job["kind"]])
    ct.add_tracker(job["tracker"])
    lt.set_piece_hashes(ct, job["parent"])
    with open(job["out"], "wb") as f:
        f.write(lt.bencode(ct.generate()))
    return info(job["out"])

def auto(job):
    out = []
    for size in job["sizes"]:
        fs = lt.file_storage()
        fs.add_file("x", size)
        out.append(lt.create_torrent(fs, 0, flags=lt.create_torrent.v1_only).piece_length())
    return out

ops = {"info": lambda j: info(j["path"]), "make": make, "auto": auto}
results = []
for job in json.load(sys.stdin):
    try:
        results.append(ops[job["op"]](job))
    except Exception as err:
        results.append({"error": repr(err)})
print(json.dumps(results))
"""


def lt_run(jobs: list[dict]) -> list:
    if not Path(SYSTEM_PYTHON).exists():
        pytest.skip("needs Debian's /usr/bin/python3 with python3-libtorrent")
    proc = subprocess.run(
        [SYSTEM_PYTHON, "-c", LT_SCRIPT],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if "No module named 'libtorrent'" in proc.stderr:
        pytest.skip("needs python3-libtorrent (installed by `make test`)")
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    errors = [r for r in results if isinstance(r, dict) and "error" in r]
    assert not errors, errors
    return results


def netlab(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [netlab_bin(), "torrent", *args], capture_output=True, text=True, cwd=cwd, timeout=60
    )


def show_json(path: Path | str) -> dict:
    proc = netlab("show", "--json", str(path))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _files(doc: dict) -> list[tuple[str, int]]:
    return [(f["path"], f["length"]) for f in doc["files"]]


# --- content and the torrents made of it, once per module ----------------------------------


@pytest.fixture(scope="module")
def content(tmp_path_factory) -> dict[str, Path]:
    """A directory (files of 0, 1, 16 KiB exactly, several pieces; a subdirectory; a name
    with spaces and punctuation) and a single file, of random bytes."""
    base = tmp_path_factory.mktemp("torrent")
    rng = random.Random()
    folder = base / "album é"
    (folder / "sub" / "deeper").mkdir(parents=True)
    sizes = {
        "a.bin": 100_000,
        "empty": 0,
        "one byte": 1,
        "piece.bin": 16_384,
        "sub/b.bin": 40_000,
        "sub/deeper/c d+&'.txt": 70_001,
        "sub-z.bin": 33_000,  # sorts after "sub/" component-wise, before it as a string
    }
    for rel, size in sizes.items():
        path = folder / rel
        path.write_bytes(rng.randbytes(size))
        path.chmod(0o644)  # libtorrent marks executables with attr 'x'; keep plain files
    single = base / "single file.bin"
    single.write_bytes(rng.randbytes(70_000))
    single.chmod(0o644)
    out = base / "out"
    out.mkdir()
    return {"dir": folder, "single": single, "base": base, "out": out}


@pytest.fixture(scope="module")
def lt_made(content) -> dict[tuple[str, str], tuple[Path, dict]]:
    """(kind, dir|single) → (a .torrent libtorrent made, libtorrent's view of it)."""
    jobs, keys = [], []
    for kind in KINDS:
        for what in ("dir", "single"):
            out = content["out"] / f"lt-{kind}-{what}.torrent"
            src = content[what]
            jobs.append(
                {"op": "make", "kind": kind, "path": str(src), "parent": str(src.parent),
                 "out": str(out), "tracker": TRACKER}
            )  # fmt: skip
            keys.append((kind, what, out))
    results = lt_run(jobs)
    return {(k, w): (out, r) for (k, w, out), r in zip(keys, results, strict=True)}


@pytest.fixture(scope="module")
def mktorrent_made(content) -> dict[str, Path]:
    require_tool("mktorrent")
    made = {}
    for what in ("dir", "single"):
        out = content["out"] / f"mk-{what}.torrent"
        proc = subprocess.run(
            ["mktorrent", "-l", "15", "-p", "-a", TRACKER, "-o", str(out), str(content[what])],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        made[what] = out
    return made


@pytest.fixture(scope="module")
def ours(content, lt_made) -> dict[tuple[str, str], tuple[Path, dict, dict]]:
    """(kind, dir|single) → (our .torrent, `make --json`, libtorrent's view of it).
    The piece length is libtorrent's own choice for the content (the default)."""
    made = {}
    for kind in KINDS:
        for what in ("dir", "single"):
            out = content["out"] / f"ours-{kind}-{what}.torrent"
            flags = [] if kind == "v1" else [f"--{kind}"]
            proc = netlab(
                "make", str(content[what]), "--tracker", TRACKER, "-o", str(out), "--json",
                "--no-date", *flags,
            )  # fmt: skip
            assert proc.returncode == 0, proc.stderr
            made[(kind, what)] = (out, json.loads(proc.stdout))
    views = lt_run([{"op": "info", "path": str(out)} for out, _ in made.values()])
    return {key: (*made[key], view) for key, view in zip(made, views, strict=True)}


# --- show: libtorrent's and mktorrent's torrents -----------------------------------------------


@pytest.mark.parametrize("what", ["dir", "single"])
@pytest.mark.parametrize("kind", KINDS)
def test_show_gives_libtorrents_info_hashes(lt_made, kind, what):
    path, lt = lt_made[(kind, what)]
    doc = show_json(path)
    assert (doc["info_hash_v1"], doc["info_hash_v2"]) == (lt["v1"], lt["v2"])
    assert (doc["info_hash_v1"] is None) == (kind == "v2")
    assert (doc["info_hash_v2"] is None) == (kind == "v1")
    assert doc["pieces"] == lt["pieces"] and doc["piece_length"] == lt["piece_length"]
    assert _files(doc) == [(f["path"], f["length"]) for f in lt["files"]]
    assert doc["name"] == lt["name"] and doc["announce"] == TRACKER
    assert doc["magnet"] == lt["magnet"]
    # The contract's keys come first, in this order.
    assert list(doc)[:8] == [
        "info_hash_v1", "info_hash_v2", "name", "piece_length", "pieces", "files",
        "announce", "magnet",
    ]  # fmt: skip


@pytest.mark.parametrize("what", ["dir", "single"])
def test_show_gives_info_hash_of_mktorrents(mktorrent_made, what):
    path = mktorrent_made[what]
    lt = lt_run([{"op": "info", "path": str(path)}])[0]
    doc = show_json(path)
    assert doc["info_hash_v1"] == lt["v1"] and doc["info_hash_v2"] is None
    assert doc["private"] is True and lt["private"] is True
    assert doc["pieces"] == lt["pieces"] and doc["piece_length"] == 1 << 15
    assert _files(doc) == [(f["path"], f["length"]) for f in lt["files"]]
    assert doc["created_by"].startswith("mktorrent")


def test_show_text_and_tree(lt_made):
    path, lt = lt_made[("hybrid", "dir")]
    proc = netlab("show", "-v", str(path))
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert f"info-hash v1    {lt['v1']}" in text and f"info-hash v2    {lt['v2']}" in text
    assert lt["magnet"] in text and "pad files" in text
    # -v: the tree with offsets; the info dictionary starts where the anatomy says.
    start = re.search(r"info dictionary \(bytes ([\d,]+)", text).group(1).replace(",", "")
    assert re.search(rf"^ +{start}    info: d \(", text, re.M)
    data = path.read_bytes()
    assert data[int(start) : int(start) + 1] == b"d"
    # long strings are abbreviated: no line near the size of `pieces`
    assert max(len(line) for line in text.splitlines()) < 400
    assert re.search(r"pieces: <\d+ bytes: \d+ SHA-1 piece hashes>", text)


# --- make: loaded by libtorrent, equal to libtorrent's and mktorrent's own ---------------------


@pytest.mark.parametrize("what", ["dir", "single"])
@pytest.mark.parametrize("kind", KINDS)
def test_make_loads_in_libtorrent(ours, lt_made, kind, what):
    path, doc, lt = ours[(kind, what)]
    assert (doc["info_hash_v1"], doc["info_hash_v2"]) == (lt["v1"], lt["v2"])
    assert doc["pieces"] == lt["pieces"] and doc["piece_length"] == lt["piece_length"]
    assert _files(doc) == [(f["path"], f["length"]) for f in lt["files"]]
    assert doc["magnet"] == lt["magnet"]  # libtorrent's make_magnet_uri, character for character
    assert doc["written"] == str(path) and doc["creation_date"] is None
    # The same content made by libtorrent itself (its default piece length, which is
    # ours): the same info dictionary, so the same info-hashes. (Not for a v1 directory:
    # libtorrent lists those files in readdir order; mktorrent's test covers them.)
    _, theirs = lt_made[(kind, what)]
    if (kind, what) != ("v1", "dir"):
        assert (doc["info_hash_v1"], doc["info_hash_v2"]) == (theirs["v1"], theirs["v2"])


@pytest.mark.parametrize("what", ["dir", "single"])
def test_make_v1_equals_mktorrent(content, mktorrent_made, what):
    out = content["out"] / f"ours-like-mk-{what}.torrent"
    proc = netlab(
        "make", str(content[what]), "-a", TRACKER, "-l", "15", "--private", "-o", str(out),
        "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    ours = json.loads(proc.stdout)
    assert ours["info_hash_v1"] == show_json(mktorrent_made[what])["info_hash_v1"]


@pytest.mark.parametrize("what", ["dir", "single"])
def test_aria2_reads_our_v1(ours, what):
    aria2c = require_tool("aria2c")
    path, doc, _ = ours[("v1", what)]
    proc = subprocess.run([aria2c, "-S", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = re.search(r"^Info Hash: ([0-9a-f]{40})$", proc.stdout, re.M)
    assert found and found.group(1) == doc["info_hash_v1"], proc.stdout
    pieces = re.search(r"^The Number of Pieces: (\d+)$", proc.stdout, re.M)
    assert pieces and int(pieces.group(1)) == doc["pieces"]


def test_make_is_deterministic_and_careful(content, tmp_path):
    first = mi.make_torrent(str(content["dir"]), mi.MakeOptions(version="hybrid"))
    again = mi.make_torrent(str(content["dir"]), mi.MakeOptions(version="hybrid"))
    assert first == again
    # -o default: NAME.torrent in the working directory; no overwrite without --force.
    args = ["make", str(content["single"]), "--v2", "--no-date", "--json"]
    proc = netlab(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    written = tmp_path / "single file.bin.torrent"
    assert json.loads(proc.stdout)["written"] == "single file.bin.torrent" and written.exists()
    before = written.read_bytes()
    proc = netlab(*args, cwd=tmp_path)
    assert proc.returncode == 2 and "--force" in proc.stderr
    proc = netlab(*args, "--force", cwd=tmp_path)
    assert proc.returncode == 0 and written.read_bytes() == before
    # Its text is what `show` prints for the file it wrote.
    text = netlab(*args[:-1], "--force", "-v", cwd=tmp_path)
    assert text.returncode == 0 and "bencode (" in text.stdout
    assert text.stdout == netlab("show", "-v", written.name, cwd=tmp_path).stdout
    # Tiers as mktorrent's -a; web seeds; the name; the comment; show reads them back.
    out = tmp_path / "tiers.torrent"
    proc = netlab(
        "make", str(content["dir"]), "-a", "http://a/ann,udp://b:1", "-a", "udp://c:2",
        "-w", "http://ws/", "--name", "renamed", "--comment", "hi", "-o", str(out), "--json",
    )  # fmt: skip
    doc = json.loads(proc.stdout)
    assert doc["announce"] == "http://a/ann" and doc["name"] == "renamed"
    assert doc["announce_list"] == [["http://a/ann", "udp://b:1"], ["udp://c:2"]]
    assert doc["url_list"] == ["http://ws/"] and doc["comment"] == "hi"
    assert doc["creation_date"] is not None and doc["created_by"].startswith("netlab")


def test_default_piece_length_is_libtorrents():
    sizes = [1, 2684355, 2684356, 10**8, 10**9, 3 * 10**10, 10**12, 10**13]
    assert [mi.auto_piece_length(s) for s in sizes] == lt_run([{"op": "auto", "sizes": sizes}])[0]


# --- magnet links ----------------------------------------------------------------------------


def test_magnet_round_trip(ours):
    for _path, doc, _lt in ours.values():
        magnet = mi.parse_magnet(doc["magnet"])
        assert magnet.uri() == doc["magnet"]
        assert magnet.name == doc["name"] and magnet.trackers == [TRACKER]
    # show MAGNET: what it holds; the v1 hash also in base32 (BEP 9).
    _, doc, _ = ours[("hybrid", "dir")]
    shown = show_json(doc["magnet"])
    assert (shown["info_hash_v1"], shown["info_hash_v2"], shown["name"]) == (
        doc["info_hash_v1"], doc["info_hash_v2"], doc["name"],
    )  # fmt: skip
    assert shown["magnet"] == doc["magnet"] and shown["announce"] == TRACKER
    b32 = base64.b32encode(bytes.fromhex(doc["info_hash_v1"])).decode()
    assert mi.parse_magnet(f"magnet:?xt=urn:btih:{b32}").info_hash_v1.hex() == doc["info_hash_v1"]


def test_dht_lookup_uses_the_one_magnet_parser(ours):
    from netlab.cli.dht_lookup import parse_target

    _, doc, _ = ours[("v2", "dir")]
    v2 = bytes.fromhex(doc["info_hash_v2"])
    assert parse_target(doc["magnet"]) == v2[:20]  # BEP 52: the DHT uses it cut to 20 bytes
    _, doc, _ = ours[("v1", "dir")]
    assert parse_target(doc["magnet"]).hex() == doc["info_hash_v1"]
    assert parse_target(doc["info_hash_v1"]).hex() == doc["info_hash_v1"]


# --- hostile input: one line, exit 2 ---------------------------------------------------------


def _good_info(over: dict | None = None) -> dict:
    """A valid one-file info dictionary, with OVER's keys changed (None: left out)."""
    info = {"name": b"x", "piece length": 16384, "length": 1, "pieces": bytes(20)}
    info.update(over or {})
    return {k: v for k, v in info.items() if v is not None}


def _torrent(info: dict, top: dict | None = None) -> bytes:
    return mi.encode({"info": info, **(top or {})})


def _hybrid(v1_lengths: list[int], v2_lengths: list[int]) -> dict:
    """A hybrid info dictionary of files a, b, … with no pad files between them."""
    names = [bytes([ord("a") + i]) for i in range(len(v1_lengths))]
    tree = {
        n: {b"": {b"length": n2, b"pieces root": bytes([i + 1]) * 32}}
        for i, (n, n2) in enumerate(zip(names, v2_lengths, strict=True))
    }
    files = [{"length": n1, "path": [n]} for n, n1 in zip(names, v1_lengths, strict=True)]
    count = -(-sum(v1_lengths) // 16384)
    return {"name": b"h", "piece length": 16384, "meta version": 2, "file tree": tree,
            "files": files, "pieces": bytes(20 * count)}  # fmt: skip


def _hostile() -> dict[str, bytes | str]:
    good = _torrent(_good_info(), {"announce": TRACKER})
    v2 = {
        b"name": b"x", b"piece length": 16384, b"meta version": 2,
        b"file tree": {b"x": {b"": {b"length": 40000, b"pieces root": bytes(range(32))}}},
    }  # fmt: skip
    cases: dict[str, bytes | str] = {
        "empty": b"",
        "not bencode": b"<html>hello</html>",
        "truncated": good[: len(good) // 2],
        "trailing bytes": good + b"junk",
        "unsorted keys": good.replace(b"8:announce", b"8:zznounce"),
        "leading zero integer": good.replace(b"i16384e", b"i016384e"),
        "nested 100,000 deep": b"d4:info" + b"l" * 100_000 + b"e" * 100_000 + b"e",
        "string of 2 GB": b"d8:announce2147483648:http://",
        "pieces not a multiple of 20": _torrent(_good_info({"pieces": bytes(21)})),
        "too few pieces": _torrent(_good_info({"length": 20000})),
        "no info": mi.encode({b"announce": TRACKER}),
        "info not a dict": mi.encode({b"info": b"x"}),
        "no name": _torrent(_good_info({"name": None})),
        "no piece length": _torrent(_good_info({"piece length": None})),
        "no pieces": _torrent(_good_info({"pieces": None})),
        "no length or files": _torrent(_good_info({"length": None})),
        "no files at all": _torrent(_good_info({"length": None, "files": [], "pieces": b""})),
        "v2 tree of empty files": _torrent({**v2, b"file tree": {b"x": {b"": {b"length": 0}}}}),
        "name is a number": _torrent(_good_info({"name": 7})),
        "piece length 0": _torrent(_good_info({"piece length": 0})),
        "piece length negative": _torrent(_good_info({"piece length": -16384})),
        "piece length 2^40": _torrent(_good_info({"piece length": 1 << 40})),
        "negative length": _torrent(_good_info({"length": -1})),
        "name ..": _torrent(_good_info({"name": ".."})),
        "path with ..": _torrent(
            _good_info({"length": None, "files": [{"length": 1, "path": ["..", "etc"]}]})
        ),
        "path with /": _torrent(
            _good_info({"length": None, "files": [{"length": 1, "path": ["a/../../b"]}]})
        ),
        "v2 tree with ..": _torrent({**v2, b"file tree": {b"..": v2[b"file tree"][b"x"]}}),
        "v2 piece length 3000": _torrent({**v2, b"piece length": 3000}),
        "v2 wrong piece layer": _torrent(v2, {"piece layers": {bytes(range(32)): bytes(96)}}),
        "hybrid without pad files": _torrent(_hybrid([20000, 1], [20000, 1])),
        "hybrid whose v1 and v2 differ": _torrent(_hybrid([20000, 1], [20000, 2])),
        "meta version 3": _torrent({**v2, b"meta version": 3}),
        "announce-list not tiers": _torrent(_good_info(), {"announce-list": [b"x"]}),
        "magnet without xt": "magnet:?dn=x&tr=udp%3a%2f%2fx%3a1",
        "magnet bad btih": "magnet:?xt=urn:btih:1234",
        "magnet bad btmh": "magnet:?xt=urn:btmh:1111" + "00" * 32,
        "magnet of 5,000 fields": "magnet:?xt=urn:btih:" + "0" * 40 + "&tr=x" * 5000,
        "magnet of 100 KB": "magnet:?xt=urn:btih:" + "0" * 40 + "&dn=" + "x" * 100_000,
    }
    return cases


HOSTILE = _hostile()


# Through the real binary (the one-line error path of cli/main, exit 2) for a few; all
# of them in-process, where anything but an InputError would be a bug.
SUBPROCESS_CASES = ("truncated", "nested 100,000 deep", "string of 2 GB", "path with ..",
                    "magnet bad btih", "missing file", "a directory")  # fmt: skip


@pytest.fixture(scope="module")
def hostile_args(tmp_path_factory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("hostile")
    args = {}
    for i, (name, case) in enumerate(HOSTILE.items()):
        if isinstance(case, str):
            args[name] = case
        else:
            path = base / f"{i}.torrent"
            path.write_bytes(case)
            args[name] = str(path)
    args["missing file"] = str(base / "nope.torrent")
    args["a directory"] = str(base)
    return args


@pytest.fixture(scope="module")
def hostile_runs(hostile_args) -> dict[str, subprocess.CompletedProcess]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = pool.map(lambda c: netlab("show", hostile_args[c]), SUBPROCESS_CASES)
        return dict(zip(SUBPROCESS_CASES, runs, strict=True))


@pytest.mark.parametrize("case", SUBPROCESS_CASES)
def test_hostile_input_is_one_line_and_exit_2(hostile_runs, case):
    proc = hostile_runs[case]
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("netlab: error: "), proc.stderr
    assert "internal error" not in proc.stderr and proc.stdout == ""


@pytest.mark.parametrize("case", [*HOSTILE, "missing file", "a directory"])
def test_hostile_input_is_an_input_error(hostile_args, case, capsys):
    from netlab.cli.main import cli
    from netlab.errors import ExitStatus, InputError

    with pytest.raises(InputError) as caught:
        cli.main(["torrent", "show", hostile_args[case]], "netlab", standalone_mode=False)
    assert caught.value.status == ExitStatus.ERROR
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 400
    assert capsys.readouterr().out == ""


def test_hostile_make_input(content, tmp_path):
    empty = tmp_path / "empty-dir"
    empty.mkdir()
    (empty / "zero").write_bytes(b"")
    cases = [
        ["make", str(empty), "-o", str(tmp_path / "e.torrent")],
        ["make", str(content["single"]), "--piece-length", "3000"],
        ["make", str(content["single"]), "--piece-length", "128M"],
        ["make", str(content["single"]), "--tracker", "not a url"],
        ["make", str(content["single"]), "--name", ".."],
        ["make", str(tmp_path / "missing")],
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = list(pool.map(lambda a: netlab(*a, cwd=tmp_path), cases))
    for args, proc in zip(cases, runs, strict=True):
        assert proc.returncode == 2, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1, (args, proc.stderr)
        assert "internal error" not in proc.stderr


def test_parser_bounds_in_process():
    # Straight through the wire module too: every case is a MetainfoError, never another.
    for case in HOSTILE.values():
        with pytest.raises(mi.MetainfoError):
            if isinstance(case, str):
                mi.parse_magnet(case)
            else:
                mi.parse_torrent(case)


def test_names_that_are_not_utf8_or_hold_escapes(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / os.fsdecode(b"caf\xe9.txt")).write_bytes(b"x" * 100)  # Latin-1 on disk
    (folder / "ctl\x1b[31mred").write_bytes(b"y" * 10)
    proc = netlab("make", str(folder), "--hybrid", "-o", str(tmp_path / "d.torrent"))
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout and "ctl\\x1b[31mred" in proc.stdout
    meta = mi.parse_torrent((tmp_path / "d.torrent").read_bytes())
    assert sorted(f.length for f in meta.files) == [10, 100]
    # the bytes on disk are kept (the v2 file tree key is the raw name)
    assert b"caf\xe9.txt" in (tmp_path / "d.torrent").read_bytes()
