"""lib's layout: modules by role, imports that only go down the layers, no module too long."""

from __future__ import annotations

import ast
import pathlib

import lib

LIB = pathlib.Path(lib.__file__).parent
MAX_LINES = 450

# The architecture (lib/__init__.py tells it): operators → the proximal loop → solvers →
# models and learners → diagnostics, with checks under everything and data and plots beside.
LAYERS = {
    "_checks": 0,
    "claims": 0,
    "files": 1,
    "preprocessing": 1,
    "plots": 1,
    "data": 2,
    "operators": 1,
    "proximal": 2,
    "solvers": 3,
    "conv": 3,
    "dictionary": 4,
    "conv_dictionary": 4,
    "lista": 4,
    "ebm": 4,
    "psd": 4,
    "vae": 4,
    "classifier": 5,
    "filters": 6,
    "gabor": 6,
    "timing": 6,
}


def modules() -> list[str]:
    return sorted(p.stem for p in LIB.glob("*.py") if p.stem != "__init__")


def lib_imports(module: str) -> set[str]:
    tree = ast.parse((LIB / f"{module}.py").read_text("utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lib."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("lib.")}
    return found


def test_every_module_has_a_layer_and_is_exported():
    assert set(modules()) == set(LAYERS), "a lib module is missing from LAYERS (or gone)"
    assert set(lib._MODULES) == set(LAYERS) - {"_checks"}


def test_imports_only_go_down_the_layers():
    up = [
        f"lib.{m} (layer {LAYERS[m]}) imports lib.{d} (layer {LAYERS[d]})"
        for m in modules()
        for d in lib_imports(m)
        if LAYERS[d] > LAYERS[m]
    ]
    assert not up, up


def test_no_module_is_longer_than_the_limit():
    long = {
        m: n
        for m in modules()
        if (n := len((LIB / f"{m}.py").read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"over {MAX_LINES} lines: {long}"
