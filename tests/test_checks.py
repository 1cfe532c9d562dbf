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
