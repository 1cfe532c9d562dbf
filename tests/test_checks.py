"""The shared input checks and the top-level helpers of lib."""

from __future__ import annotations

import pytest
import torch

import lib
from lib._checks import check_nonneg, check_positive, check_same, check_tensor


def test_check_tensor_accepts_a_good_tensor():
    x = torch.ones(3, 4)
    assert check_tensor(x, "y", ndim=2) is x


@pytest.mark.parametrize(
    ("x", "ndim", "message"),
    [
        ([1.0, 2.0], 2, "must be a torch.Tensor"),
        (torch.ones(3), 2, "must have 2 dimensions"),
        (torch.ones(0, 4), 2, "empty"),
        (torch.ones(2, 2, dtype=torch.int64), 2, "float32 or float64"),
        (torch.tensor([[1.0, float("nan")]]), 2, "NaN or inf"),
        (torch.tensor([[1.0, float("inf")]]), 2, "NaN or inf"),
    ],
)
def test_check_tensor_names_the_problem(x, ndim, message):
    with pytest.raises(ValueError, match=message):
        check_tensor(x, "y", ndim=ndim)


def test_check_tensor_allows_several_ndims():
    check_tensor(torch.ones(3), "y", ndim=(1, 2))
    with pytest.raises(ValueError, match="1 or 2 dimensions"):
        check_tensor(torch.ones(1, 1, 1), "y", ndim=(1, 2))


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_check_nonneg(bad):
    assert check_nonneg(0, "lam") == 0.0
    with pytest.raises(ValueError, match="lam"):
        check_nonneg(bad, "lam")


@pytest.mark.parametrize("bad", [0, -1, float("nan")])
def test_check_positive(bad):
    assert check_positive(2, "step") == 2.0
    with pytest.raises(ValueError, match="step"):
        check_positive(bad, "step")


def test_check_same_device_and_dtype():
    a, b = torch.ones(2), torch.ones(2, dtype=torch.float64)
    check_same(("a", a), ("c", torch.zeros(2)))
    with pytest.raises(ValueError, match="float64"):
        check_same(("a", a), ("b", b))
    if torch.cuda.is_available():
        with pytest.raises(ValueError, match="same device"):
            check_same(("a", a), ("b", a.cuda()))
    else:
        with pytest.raises(ValueError, match="same device"):
            check_same(("a", a), ("b", torch.ones(2, device="meta")))


def test_device_is_cuda_when_present():
    assert lib.device().type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_seed_all_is_deterministic():
    g1, g2 = lib.seed_all(3), lib.seed_all(3)
    assert torch.equal(torch.rand(4, generator=g1), torch.rand(4, generator=g2))
    with pytest.raises(ValueError, match="seed"):
        lib.seed_all(-1)


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_thing"):
        lib.no_such_thing  # noqa: B018


def test_every_export_resolves():
    for name in lib._EXPORTS:
        assert callable(getattr(lib, name)), name


@pytest.mark.parametrize("module", lib._MODULES)
def test_all_is_the_one_list_of_a_modules_public_names(module):
    """``__all__`` names exactly the public functions and classes a module defines, and each
    is also ``lib.<name>``, the same object (lib/__init__.py reads the lists, never copies)."""
    import ast
    import importlib
    import pathlib

    mod = importlib.import_module(f"lib.{module}")
    tree = ast.parse(pathlib.Path(mod.__file__).read_text("utf-8"))
    defined = {
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_")
    }
    assert set(mod.__all__) == defined, f"lib.{module}.__all__ differs from its public names"
    for name in mod.__all__:
        assert getattr(lib, name) is getattr(mod, name), name
        assert lib._EXPORTS[name] == module


def test_a_name_public_in_two_modules_is_refused(monkeypatch):
    real = lib._public_names
    monkeypatch.setattr(lib, "_public_names", lambda m: [*real(m), "fista"])
    with pytest.raises(ImportError, match="'fista'"):
        lib._exports()


# --- counts and seeds: refused, never truncated ---------------------------------------------

from lib._checks import check_count, check_seed  # noqa: E402


@pytest.mark.parametrize("bad", [2.5, 3.0, True, -1, "3", None, torch.tensor(2.0)])
def test_check_count_refuses_what_is_not_a_count(bad):
    with pytest.raises(ValueError, match="n_iter must be an integer ≥ 1"):
        check_count(bad, "n_iter")


def test_check_count_accepts_integers_of_every_kind():
    import numpy as np

    assert check_count(3, "n") == 3 and check_count(np.int64(3), "n") == 3
    assert check_count(torch.tensor(3), "n") == 3 and check_count(0, "n", minimum=0) == 0
    assert check_seed(0) == 0
    with pytest.raises(ValueError, match="seed must be an integer ≥ 0"):
        check_seed(-1)


W = torch.randn(6, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
Y = torch.randn(3, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
IMAGES = torch.rand(2, 1, 12, 12, generator=torch.Generator().manual_seed(2))
ATOM = torch.randn(49, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
COUNTS = [
    (lambda v: lib.lipschitz(W, n_iter=v), "n_iter"),
    (lambda v: lib.fista(Y, W, 0.1, max_iter=v), "max_iter"),
    (lambda v: lib.ista(Y, W, 0.1, max_iter=v), "max_iter"),
    (lambda v: lib.fista_steps(Y, W, 0.1, lib.lipschitz(W), n_iter=v), "n_iter"),
    (lambda v: lib.learn_dictionary(Y, n_atoms=v, lam=0.1), "n_atoms"),
    (lambda v: lib.learn_dictionary(Y, n_atoms=4, lam=0.1, n_epochs=v), "n_epochs"),
    (lambda v: lib.learn_conv_dictionary(IMAGES, v, 3, 0.1, n_steps=1), "n_filters"),
    (lambda v: lib.learn_conv_dictionary(IMAGES, 2, v, 0.1, n_steps=1), "kernel_size"),
    (lambda v: lib.fit_gabor(ATOM, max_nfev=v), "max_nfev"),
    (lambda v: lib.fit_gabor(ATOM, n_init=v), "n_init"),
]


@pytest.mark.parametrize(("call", "name"), COUNTS, ids=[name for _, name in COUNTS])
@pytest.mark.parametrize("bad", [2.5, True, -1])
def test_public_counts_are_refused_not_truncated(call, name, bad):
    """2.5 iterations are an error, not 2 (fit_gabor with max_nfev=2.5 used to hang)."""
    with pytest.raises(ValueError, match=f"{name} must be an integer"):
        call(bad)


SEEDED = [
    lambda s: lib.lipschitz(W, seed=s),
    lambda s: lib.learn_dictionary(Y, n_atoms=4, lam=0.1, seed=s),
    lambda s: lib.seed_all(s),
]


@pytest.mark.parametrize("call", SEEDED)
@pytest.mark.parametrize("bad", [-1, 2.5, True])
def test_seeds_are_non_negative_integers(call, bad):
    with pytest.raises(ValueError, match="seed must be an integer ≥ 0"):
        call(bad)


@pytest.mark.parametrize("tol", [-1.0, float("nan"), float("inf")])
def test_lipschitz_refuses_a_tolerance_that_is_not_a_finite_number_at_least_0(tol):
    """tol=inf used to stop after one step with an L four times too small."""
    with pytest.raises(ValueError, match="tol must be a finite number ≥ 0"):
        lib.lipschitz(W, tol=tol)
