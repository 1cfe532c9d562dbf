"""Tests of lib.dictionary.learn_dictionary (chapter 03)."""

from __future__ import annotations

import pytest
import torch

from lib.data import load_mnist
from lib.dictionary import DictionaryResult, learn_dictionary, normalize_columns


@pytest.fixture(scope="module")
def digits():
    y, _ = load_mnist("train", n=300)
    return y


def learn(y, **kwargs):
    options = {"n_atoms": 16, "lam": 0.5, "n_epochs": 4, "batch_size": 50, "progress": False}
    return learn_dictionary(y, **(options | kwargs))


def test_columns_are_unit_norm_and_shapes(digits):
    res = learn(digits)
    assert isinstance(res, DictionaryResult)
    assert res.W_d.shape == (784, 16) and res.W_d.dtype == digits.dtype
    assert torch.allclose(res.W_d.norm(dim=0), torch.ones(16), atol=1e-5)
    assert len(res.loss_history) == 4 * 6


def test_loss_decreases(digits):
    losses = learn(digits, n_epochs=6).loss_history.view(6, -1).mean(1)  # per-epoch means
    assert losses[-1] < 0.9 * losses[0]
    assert bool((losses[1:] <= losses[:-1] * 1.01).all())


def test_seeded_and_deterministic(digits):
    a, b, c = learn(digits, seed=1), learn(digits, seed=1), learn(digits, seed=2)
    assert torch.equal(a.W_d, b.W_d) and torch.equal(a.loss_history, b.loss_history)
    assert not torch.equal(a.W_d, c.W_d)


def test_without_normalization_the_column_norms_grow(digits):
    res = learn(digits, normalize=False, n_epochs=6)
    norms = res.W_d.norm(dim=0)
    assert float(norms.min()) > 1.0
    assert float(norms.mean()) > 1.1


def held_out_energy(W_d, y, lam=0.5, positive=False):
    from lib.solvers import energy, fista

    z = fista(y.double(), W_d.double(), lam, tol=1e-6, max_iter=5000, positive=positive).z
    return float(energy(y.double(), z, W_d.double(), lam).mean())


def test_online_update_beats_the_gradient_step(digits):
    test, _ = load_mnist("test", n=200)
    online = learn(digits, n_epochs=2).W_d
    gradient = learn(digits, n_epochs=2, update="gradient").W_d
    start = learn(digits, n_epochs=1, batch_size=300, max_iter=1, update="gradient", lr=1e-9)
    e_online, e_grad = held_out_energy(online, test), held_out_energy(gradient, test)
    e_start = held_out_energy(start.W_d, test)
    assert e_online < e_grad < e_start


def test_positive_codes_and_random_start(digits):
    res = learn(digits, positive=True, init="random")
    assert torch.allclose(res.W_d.norm(dim=0), torch.ones(16), atol=1e-5)
    data_start = learn(digits, n_epochs=1, max_iter=1, lr=1e-9, update="gradient").W_d
    random_start = learn(
        digits, n_epochs=1, max_iter=1, lr=1e-9, update="gradient", init="random"
    ).W_d
    # a data start is made of digits (non-negative pixels); a random start is not
    assert bool((data_start > -1e-6).all()) and float((random_start < 0).float().mean()) > 0.3
    test, _ = load_mnist("test", n=100)
    assert held_out_energy(res.W_d, test, positive=True) < held_out_energy(
        random_start, test, positive=True
    )


def test_memory_forgets_early_minibatches(digits):
    a, b = learn(digits, memory=2), learn(digits, memory=None)
    assert not torch.allclose(a.W_d, b.W_d)
    assert torch.equal(learn(digits, memory=10**9).W_d, b.W_d)  # memory beyond t: plain mean


def test_normalize_columns():
    W = torch.tensor([[3.0, 0.0], [4.0, 2.0]])
    assert torch.allclose(normalize_columns(W), torch.tensor([[0.6, 0.0], [0.8, 1.0]]))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"y": torch.ones(10)}, "y must have 2 dimensions"),
        ({"y": torch.ones(0, 5)}, "y is empty"),
        ({"y": torch.full((4, 5), float("nan"))}, "y contains NaN"),
        ({"n_atoms": 0}, "n_atoms"),
        ({"lam": -1.0}, "lam"),
        ({"batch_size": 0}, "batch_size"),
        ({"n_epochs": 0}, "n_epochs"),
        ({"lr": -1.0}, "lr"),
        ({"update": "adam"}, "update must be"),
        ({"init": "zeros"}, "init must be"),
        ({"memory": 0}, "memory"),
    ],
)
def test_bad_input_raises_a_clear_value_error(kwargs, match):
    args = {"y": torch.rand(20, 5), "n_atoms": 4, "lam": 0.1, "progress": False} | kwargs
    with pytest.raises(ValueError, match=match):
        learn_dictionary(**args)
