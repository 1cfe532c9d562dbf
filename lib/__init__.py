"""`lib`: the small shared package of the book *Regularized latent-variable EBMs*.

Every chapter imports it (``import lib``). Functions are small and flat, named after the
lecture's notation: ``y`` data, ``z`` codes, ``W_d`` decoder (dictionary), ``W_e`` encoder,
``S`` mutual inhibition, ``L`` Lipschitz constant, ``lam`` for λ. Shapes are batch-first:
``y [batch, n_features]``, ``W_d [n_features, n_atoms]``, ``z [batch, n_atoms]``.

The modules, by role (``tests/test_layout.py`` holds the layers: imports only go down):

- operators: :mod:`lib.operators`: the dictionary W_d and the convolution D as linear maps,
  their adjoints and L = ‖D‖₂² (the one power iteration);
- the loop: :mod:`lib.proximal`: the soft threshold and the one proximal-gradient loop (ISTA,
  FISTA, restart, backtracking, positivity), run on a smooth part f each solver describes;
- solvers: :mod:`lib.solvers` (patches: energy, ISTA, FISTA, chapter 03) and :mod:`lib.conv`
  (images: conv FISTA and ADMM, chapter 06);
- models and learners: :mod:`lib.dictionary`, :mod:`lib.conv_dictionary`, :mod:`lib.lista`,
  :mod:`lib.ebm`, :mod:`lib.psd`, :mod:`lib.vae`, :mod:`lib.classifier`;
- diagnostics: :mod:`lib.filters`, :mod:`lib.gabor`, :mod:`lib.timing`;
- beside them: :mod:`lib.files`, :mod:`lib.data`, :mod:`lib.preprocessing`, :mod:`lib.plots`,
  :mod:`lib.claims` (the computed checks of the prose) and the input checks (``lib._checks``).

Importing ``lib`` does no work: no data is loaded, no device is touched, and the modules
below are imported on first use of one of their names (``lib.fista`` loads ``lib.solvers``).

Each module's ``__all__`` is the one list of its public names, and every one of them is also
``lib.<name>``: this file reads those lists from the modules' source (without importing
them), so nothing here has to be kept in step by hand. A name may be public in one module
only, and no public name may be a module's name (``tests/test_checks.py`` checks both).
"""

from __future__ import annotations

import ast
import importlib
import pathlib
from typing import Any

import torch

__version__ = "0.1.0"

_MODULES = (
    "claims",
    "operators",
    "proximal",
    "solvers",
    "dictionary",
    "files",
    "data",
    "preprocessing",
    "plots",
    "ebm",
    "conv",
    "conv_dictionary",
    "filters",
    "gabor",
    "lista",
    "vae",
    "psd",
    "classifier",
    "timing",
)


def _public_names(module: str) -> list[str]:
    """The literal ``__all__`` of ``lib/<module>.py``, read from its source."""
    tree = ast.parse((pathlib.Path(__file__).parent / f"{module}.py").read_text("utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return list(ast.literal_eval(node.value))
    raise ImportError(f"lib/{module}.py has no literal __all__")


def _exports() -> dict[str, str]:
    exports: dict[str, str] = {}
    for module in _MODULES:
        for name in _public_names(module):
            if name in exports or name in _MODULES:
                where = exports.get(name, "the package (a module's name)")
                raise ImportError(f"lib.{module} exports {name!r}, which {where} has too")
            exports[name] = module
    return exports


_EXPORTS: dict[str, str] = _exports()


def device() -> torch.device:
    """The device the book computes on: CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_all(seed: int) -> torch.Generator:
    """Seed torch (CPU and CUDA) and return a CPU generator seeded with `seed`."""
    from lib._checks import check_seed

    seed = check_seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"lib.{_EXPORTS[name]}"), name)
    if name in _MODULES:
        return importlib.import_module(f"lib.{name}")
    raise AttributeError(f"module 'lib' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS, *_MODULES])
