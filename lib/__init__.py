"""`lib`: the small shared package of the book *Regularized latent-variable EBMs*.

Every chapter imports it (``import lib``). Functions are small and flat, named after the
lecture's notation: ``y`` data, ``z`` codes, ``W_d`` decoder (dictionary), ``W_e`` encoder,
``S`` mutual inhibition, ``L`` Lipschitz constant, ``lam`` for λ. Shapes are batch-first:
``y [batch, n_features]``, ``W_d [n_features, n_atoms]``, ``z [batch, n_atoms]``.

Importing ``lib`` does no work: no data is loaded, no device is touched, and the modules
below are imported on first use of one of their names (``lib.fista`` loads ``lib.solvers``).
"""

from __future__ import annotations

import importlib
from typing import Any

import torch

__version__ = "0.1.0"

# Public name -> the module of `lib` that defines it.
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(
        ["SolverResult", "shrink", "lipschitz", "energy", "ista", "fista", "fista_steps"], "solvers"
    ),
    **dict.fromkeys(["DictionaryResult", "normalize_columns", "learn_dictionary"], "dictionary"),
    **dict.fromkeys(
        [
            "load_mnist",
            "load_images",
            "extract_patches",
            "contrast_normalize",
            "whiten",
            "local_contrast_normalize",
            "shifted_copies",
        ],
        "data",
    ),
    **dict.fromkeys(["animate", "slider", "contour", "tile", "show_images", "draw_graph"], "plots"),
    **dict.fromkeys(
        [
            "code_shape",
            "conv_decode",
            "conv_adjoint",
            "conv_energy",
            "conv_lipschitz",
            "conv_matrix",
            "conv_fista",
            "conv_admm",
            "ConvDictionaryResult",
            "normalize_filters",
            "learn_conv_dictionary",
            "filter_orientation",
            "peak_frequency",
            "shift_similarity",
            "radial_symmetry",
            "orientation_gap",
            "ring_average",
        ],
        "conv",
    ),
    **dict.fromkeys(["fit_gabor", "fit_gabors", "window_energy"], "gabor"),
    **dict.fromkeys(
        ["LISTA", "LISTAHistory", "train_lista", "run_lista", "code_error", "deepen"], "lista"
    ),
    **dict.fromkeys(
        [
            "VAE",
            "ConvVAE",
            "VAEHistory",
            "train_vae",
            "fit_vae",
            "kl_divergence",
            "kl_warmup",
            "negative_elbo",
            "active_dims",
            "vae_stats",
        ],
        "vae",
    ),
    **dict.fromkeys(
        [
            "ConvPSD",
            "PSDHistory",
            "train_psd",
            "filter_similarity",
            "inference_speed",
            "relative_error",
            "small_convnet",
            "few_labels",
            "train_classifier",
            "accuracy",
        ],
        "psd",
    ),
}
_EXPORTS.update(
    dict.fromkeys(
        ["set_language", "text", "check", "checks", "finding", "lecture_table", "ClaimFailedError"],
        "claims",
    )
)
_MODULES = (
    "claims",
    "solvers",
    "dictionary",
    "data",
    "plots",
    "ebm",
    "conv",
    "gabor",
    "lista",
    "vae",
    "psd",
)


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
