"""The Cython-compiled hot modules (netlab/compiled.py, setup.py): built by `make setup`,
used only while fresh, and equal in output to the Python they are compiled from."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from netlab import compiled
from tests.conftest import IN_CI, ROOT, netlab_bin

SAMPLES = sorted((ROOT / "pcaps").glob("*.pcap*"))


def _all_built() -> bool:
    return all(compiled.usable(m) for m in compiled.MODULES)


def require_built() -> None:
    # make setup builds them; a machine without a C compiler runs netlab as Python, and
    # these tests then have nothing to compare (under CI the skip is a failure).
    if not _all_built():
        pytest.skip("the compiled modules are not built or not fresh (run `make setup`)")


def test_every_listed_module_is_compiled_and_imported_so():
    require_built()
    code = (
        "import importlib, netlab.compiled as c\n"
        "for m in c.MODULES:\n"
        "    importlib.import_module(m)\n"
        "    print(m, c.in_use(m))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "NETLAB_PURE"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=ROOT, check=True)  # fmt: skip
    lines = done.stdout.split()
    assert lines[1::2] == ["True"] * len(compiled.MODULES), done.stdout
    pure = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**env, "NETLAB_PURE": "1"}, cwd=ROOT, check=True)  # fmt: skip
    assert pure.stdout.split()[1::2] == ["False"] * len(compiled.MODULES), pure.stdout


def test_typed_modules_have_a_pxd_that_setup_compiles():
    # A .pxd beside a module that is not in MODULES would type nothing: say so.
    for pxd in (ROOT / "netlab").rglob("*.pxd"):
        name = ".".join(pxd.relative_to(ROOT).with_suffix("").parts)
        assert name in compiled.MODULES, f"{pxd} types {name}, which setup.py does not compile"


def test_fresh_follows_the_source_and_pxd_times(tmp_path):
    py, pxd, so = tmp_path / "m.py", tmp_path / "m.pxd", tmp_path / "m.so"
    py.write_text("x = 1\n")
    assert not compiled.fresh(str(py), str(so))  # not built
    so.write_bytes(b"")
    os.utime(py, ns=(1_000, 1_000))
    os.utime(so, ns=(2_000, 2_000))
    assert compiled.fresh(str(py), str(so))  # no .pxd: the .py alone decides
    pxd.write_text("")
    os.utime(pxd, ns=(1_500, 1_500))
    assert compiled.fresh(str(py), str(so))
    os.utime(pxd, ns=(3_000, 3_000))  # the types changed since the build
    assert not compiled.fresh(str(py), str(so))
    os.utime(pxd, ns=(1_500, 1_500))
    os.utime(py, ns=(3_000, 3_000))  # the source changed since the build
    assert not compiled.fresh(str(py), str(so))


def test_a_stale_build_gives_way_to_the_source(tmp_path, monkeypatch):
    # The Finder hands Python's import the .py of a module whose build is older than it.
    py, so = tmp_path / "tcp.py", tmp_path / "tcp.so"
    py.write_text("x = 1\n")
    so.write_bytes(b"")
    monkeypatch.setattr(compiled, "source", lambda name: str(py))
    monkeypatch.setattr(compiled, "built", lambda name: str(so))
    os.utime(py, ns=(1_000, 1_000))
    os.utime(so, ns=(2_000, 2_000))
    assert compiled.Finder.find_spec("netlab.dissect.tcp") is None  # fresh: Python's own
    os.utime(py, ns=(3_000, 3_000))
    spec = compiled.Finder.find_spec("netlab.dissect.tcp")
    assert spec is not None and spec.origin == str(py)
    assert compiled.Finder.find_spec("netlab.dissect.quic") is None  # not a compiled one


def test_a_module_built_on_a_stale_cimport_gives_way_too(tmp_path, monkeypatch):
    # amf0's build has the C layout of cursor's Cursor (cursor.pxd) in it: while cursor
    # runs as Python (cursor.py edited) or after cursor.pxd changed, amf0 runs as its .py
    # as well, rather than an import that fails on a class of the wrong size.
    assert compiled.cimports("netlab.wire.amf0") == ["netlab.wire.cursor"]
    files = {}
    for name in ("netlab.wire.amf0", "netlab.wire.cursor"):
        stem = tmp_path / name.rsplit(".", 1)[1]
        files[name] = (stem.with_suffix(".py"), stem.with_suffix(".so"))
        files[name][0].write_text("x = 1\n")
        files[name][1].write_bytes(b"")
    (tmp_path / "amf0.pxd").write_text("from netlab.wire.cursor cimport Cursor\n")
    (tmp_path / "cursor.pxd").write_text("cdef class Cursor:\n    pass\n")
    monkeypatch.setattr(compiled, "source", lambda name: str(files[name][0]))
    monkeypatch.setattr(compiled, "built", lambda name: str(files[name][1]))
    for py, so in files.values():
        os.utime(py, ns=(1_000, 1_000))
        os.utime(so, ns=(2_000, 2_000))
    for pxd in tmp_path.glob("*.pxd"):
        os.utime(pxd, ns=(1_000, 1_000))
    assert compiled.Finder.find_spec("netlab.wire.amf0") is None  # all fresh
    os.utime(files["netlab.wire.cursor"][0], ns=(3_000, 3_000))  # cursor.py edited
    assert compiled.Finder.find_spec("netlab.wire.cursor") is not None
    assert compiled.Finder.find_spec("netlab.wire.amf0").origin == str(files["netlab.wire.amf0"][0])
    os.utime(files["netlab.wire.cursor"][1], ns=(4_000, 4_000))  # cursor rebuilt: same layout
    assert compiled.Finder.find_spec("netlab.wire.cursor") is None
    assert compiled.Finder.find_spec("netlab.wire.amf0") is None
    os.utime(tmp_path / "cursor.pxd", ns=(5_000, 5_000))  # a new layout ...
    os.utime(files["netlab.wire.cursor"][1], ns=(6_000, 6_000))  # ... built into cursor alone
    assert compiled.Finder.find_spec("netlab.wire.cursor") is None
    assert compiled.Finder.find_spec("netlab.wire.amf0") is not None


VIEWS = [[], ["-V"], ["--json"], ["-T", "fields", "-e", "tcp.stream", "-e", "tcp.analysis.flags",
                                   "-e", "_ws.col.Info"]]  # fmt: skip


@pytest.mark.parametrize("view", VIEWS, ids=["lines", "tree", "json", "fields"])
def test_compiled_and_python_print_the_same(view):
    require_built()
    env = {k: v for k, v in os.environ.items() if k != "NETLAB_PURE"}
    for sample in SAMPLES:
        argv = [netlab_bin(), "dissect", "--jobs", "1", *view, str(sample)]
        fast = subprocess.run(argv, capture_output=True, env=env, check=False)
        pure = subprocess.run(argv, capture_output=True, env={**env, "NETLAB_PURE": "1"},
                              check=False)  # fmt: skip
        assert (fast.returncode, fast.stdout, fast.stderr) == (
            pure.returncode, pure.stdout, pure.stderr,
        ), sample.name  # fmt: skip
        assert fast.stdout, sample.name


def test_ci_builds_them():
    # make setup must have built every module on a CI machine (it has gcc and the headers).
    if not IN_CI:
        pytest.skip("only checked under CI=true")
    assert _all_built(), [m for m in compiled.MODULES
                          if not compiled.usable(m)]  # fmt: skip
