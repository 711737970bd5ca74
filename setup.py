"""Builds netlab's compiled modules (netlab/compiled.py says which and why).

    python setup.py build_ext --inplace      (what `make setup` runs)

pyproject.toml holds everything else. Without Cython, or where a module fails to
compile (no C compiler, no Python headers), netlab installs and runs as plain Python:
each extension is optional.
"""

import ast
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from setuptools import Extension, setup


def _modules() -> list[str]:
    # Read, not imported: importing netlab here would need its dependencies installed.
    tree = ast.parse(Path(__file__).with_name("netlab").joinpath("compiled.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id == "MODULES":
            return list(ast.literal_eval(node.value))
    raise SystemExit("setup.py: no MODULES in netlab/compiled.py")


DIRECTIVES = {
    "language_level": 3,
    # The .py files' annotations are documentation: the C types come from the .pxd
    # files alone, so a compiled module accepts what the Python one does.
    "annotation_typing": False,
    # Keep Python's semantics for what the .pxd files leave untyped.
    "binding": True,
}


def _cythonize(name: str):
    """NAME's Extension over the C that Cython writes (redone only when the .py or .pxd
    changed), or None when Cython cannot compile it: that module stays Python."""
    from Cython.Build import cythonize

    source = name.replace(".", "/") + ".py"
    extension = Extension(name, [source], optional=True, extra_compile_args=["-w"])
    try:
        return cythonize([extension], quiet=True, compiler_directives=DIRECTIVES)[0]
    except Exception as err:  # (Cython's CompileError, after printing the cause)
        print(f"setup.py: {name} stays Python ({type(err).__name__}: {err})")
        return None


def _extensions() -> list:
    try:
        import Cython  # noqa: F401
    except ImportError:
        print("setup.py: Cython is not installed; netlab stays plain Python")
        return []
    # One module per task (Cython's own exclude_failures fails on setuptools'
    # unhashable Extension), two at a time.
    with ProcessPoolExecutor(max_workers=2) as pool:
        return [ext for ext in pool.map(_cythonize, _modules()) if ext is not None]


if __name__ == "__main__":  # (pool workers import this file too)
    setup(ext_modules=_extensions())
