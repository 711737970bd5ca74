"""Builds netlab's compiled modules (netlab/compiled.py says which and why).

    python setup.py build_ext --inplace      (what `make setup` runs)

pyproject.toml holds everything else. Without Cython, or where a module fails to
compile (no C compiler, no Python headers), netlab installs and runs as plain Python:
each extension is optional.
"""

import ast
from pathlib import Path

from setuptools import Extension, setup


def _modules() -> list[str]:
    # Read, not imported: importing netlab here would need its dependencies installed.
    tree = ast.parse(Path(__file__).with_name("netlab").joinpath("compiled.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id == "MODULES":
            return list(ast.literal_eval(node.value))
    raise SystemExit("setup.py: no MODULES in netlab/compiled.py")


def _extensions() -> list:
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("setup.py: Cython is not installed; netlab stays plain Python")
        return []
    extensions = [
        Extension(name, [name.replace(".", "/") + ".py"], optional=True, extra_compile_args=["-w"])
        for name in _modules()
    ]
    return cythonize(
        extensions,
        quiet=True,
        nthreads=2,
        exclude_failures=True,  # (a module Cython cannot compile stays Python)
        compiler_directives={
            "language_level": 3,
            # The .py files' annotations are documentation: the C types come from the
            # .pxd files alone, so the compiled module accepts what the Python one does.
            "annotation_typing": False,
            # Keep Python's semantics for what the .pxd files leave untyped.
            "binding": True,
        },
    )


setup(ext_modules=_extensions())
