"""The layering rules of docs/architecture.md, checked on the source.

Every import is read with `ast`, function-local ones included (an import inside a
function that dodges a cycle is still a cycle), and:

- no module under netlab/core/ imports netlab.net, netlab.capture, netlab.render
  or netlab.cli (cores are sans-I/O and know nothing of how they are run or shown);
- no module under netlab/net/ imports netlab.render (runners hand frames to a tap;
  drawing them is the command path's business);
- netlab/wire/ imports nothing of netlab but wire/ and errors (both cores and the
  dissector build on it);
- there is no import cycle among the modules of netlab/dissect/ or netlab/capture/.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "netlab"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every netlab module PATH imports, anywhere in the file."""
    this = _module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    return _imports_in(path.read_text(encoding="utf-8"), this, package)


def _imports_in(source: str, this: str, package: str) -> set[str]:
    """Every netlab module SOURCE (the module THIS, in PACKAGE) imports, anywhere in it."""
    tree = ast.parse(source)
    modules = {_module_name(p) for p in ROOT.rglob("*.py")}
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            # `from netlab.dissect import tcp` imports the module netlab.dissect.tcp;
            # `from netlab.dissect import Dissector` imports the package's __init__.
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in modules else base)
    return {m for m in found if m in modules and m != this}


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}
GRAPH = {name: _imports(path) for name, path in MODULES.items()}


def _under(package: str) -> list[str]:
    return [m for m in MODULES if m == package or m.startswith(package + ".")]


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("netlab.core", ("netlab.net", "netlab.capture", "netlab.render", "netlab.cli")),
        ("netlab.net", ("netlab.render", "netlab.cli")),
        ("netlab.wire", ("netlab.core", "netlab.net", "netlab.capture", "netlab.dissect")),
        ("netlab.wire", ("netlab.render", "netlab.cli", "netlab.lab")),
        ("netlab.dissect", ("netlab.net", "netlab.cli", "netlab.core")),
        ("netlab.capture", ("netlab.net", "netlab.render", "netlab.cli", "netlab.core")),
    ],
)
def test_layers_import_downward_only(package, forbidden):
    wrong = sorted(
        f"{mod} imports {dep}"
        for mod in _under(package)
        for dep in GRAPH[mod]
        if any(dep == f or dep.startswith(f + ".") for f in forbidden)
    )
    assert not wrong, "\n".join(wrong)


def _cycles(package: str) -> list[list[str]]:
    """Import cycles among the modules of PACKAGE (Tarjan's strongly connected components)."""
    nodes = _under(package)
    edges = {n: [d for d in GRAPH[n] if d in nodes] for n in nodes}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in edges[node]:
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in nodes:
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("package", ["netlab.dissect", "netlab.capture", "netlab.core",
                                     "netlab.net", "netlab.wire"])  # fmt: skip
def test_no_import_cycles(package):
    assert _cycles(package) == []


def test_the_walker_sees_function_local_imports():
    """The check is only as good as its import reader: a local import counts, relative
    ones are resolved, and a module's wrong import is reported."""
    source = (
        "import os\n"
        "def f():\n"
        "    from netlab.render import console\n"
        "class C:\n"
        "    def g(self):\n"
        "        from ..net import runner\n"
        "        from . import base\n"
    )
    found = _imports_in(source, "netlab.core.fake", "netlab.core")
    assert found == {"netlab.render.console", "netlab.net.runner", "netlab.core.base"}
    saved = GRAPH.get("netlab.core.echo")
    GRAPH["netlab.core.echo"] = found
    try:
        with pytest.raises(AssertionError, match=r"netlab\.core\.echo imports netlab\.net\.runner"):
            test_layers_import_downward_only("netlab.core", ("netlab.net", "netlab.render"))
    finally:
        GRAPH["netlab.core.echo"] = saved
