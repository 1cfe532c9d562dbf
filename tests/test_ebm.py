"""Tests of lib.ebm (chapter 01): shapes, dtypes, descent, the λ = 0 collapse, errors."""

import pytest
import torch

from lib import seed_all
from lib.ebm import (
    decoder,
    ellipse_data,
    energy_l1,
    energy_noisy,
    grid,
    infer_l1,
    infer_noisy,
    low_energy_fraction,
    noise,
    reconstruction_cost,
    train_l1,
    train_noisy,
)
from lib.solvers import SolverResult


def _dec(K=2, dtype=torch.float32):
    seed_all(0)
    return decoder(K, hidden=16).to(dtype).eval()  # eval: no power-iteration updates


def test_ellipse_and_grid_shapes():
    y = ellipse_data(10, generator=torch.Generator().manual_seed(0), noise_std=0.0)
    assert y.shape == (10, 2) and y.dtype == torch.float32
    assert torch.allclose((y[:, 0] / 1.6) ** 2 + y[:, 1] ** 2, torch.ones(10), atol=1e-5)
    g = grid(2.0, 5, dtype=torch.float64)
    assert g.shape == (25, 2) and g.dtype == torch.float64
    assert g.min() == -2.0 and g.max() == 2.0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_energies_shapes_dtypes(dtype):
    dec = _dec(3, dtype)
    y, z = torch.randn(4, 2, dtype=dtype), torch.randn(4, 3, dtype=dtype)
    e = energy_l1(dec, y, z, 0.5)
    assert e.shape == (4,) and e.dtype == dtype
    assert torch.allclose(e, reconstruction_cost(dec, y, z) + 0.5 * z.abs().sum(1))
    eps = noise(5, 3, dtype=dtype)
    assert eps.shape == (5, 3) and eps.dtype == dtype
    en = energy_noisy(dec, y, z, 0.5, 0.0, eps)
    assert torch.allclose(en, reconstruction_cost(dec, y, z) + 0.5 * z.pow(2).sum(1))


def test_inference_lowers_energy():
    dec = _dec()
    y = torch.randn(8, 2)
    r = infer_l1(dec, y, 0.1, steps=50, starts=2, generator=torch.Generator().manual_seed(1))
    assert isinstance(r, SolverResult) and r.z.shape == (8, 2) and r.energy.shape == (8,)
    assert torch.all(r.energy <= energy_l1(dec, y, torch.zeros(8, 2), 0.1) + 1e-6)
    assert torch.allclose(r.energy, energy_l1(dec, y, r.z, 0.1), atol=1e-5)
    eps = noise(4, 2, generator=torch.Generator().manual_seed(2))
    rn = infer_noisy(dec, y, 0.1, 0.2, eps, steps=50)
    assert torch.all(rn.energy <= energy_noisy(dec, y, torch.zeros(8, 2), 0.1, 0.2, eps) + 1e-6)
    assert rn.objective_history.shape == (rn.n_iter,)


def test_train_returns_codes_and_history():
    y = ellipse_data(16, generator=torch.Generator().manual_seed(0))
    dec = _dec()
    Z, h = train_noisy(dec, y, 0.1, 0.3, epochs=5)
    assert Z.shape == (16, 2) and h.shape == (5,) and not dec.training


@pytest.fixture(scope="module")
def ellipse_models():
    torch.set_num_threads(1)
    y = ellipse_data(64, generator=seed_all(0))
    models = {}
    for lam in (0.0, 0.1):
        seed_all(0)
        dec = decoder(2)
        train_l1(dec, y, lam, epochs=300, generator=torch.Generator().manual_seed(0))
        models[lam] = dec
    return y, models


def test_lambda_zero_reconstructs_off_data(ellipse_models):
    y, models = ellipse_models
    far = torch.tensor([[0.0, 0.0], [2.0, 2.0], [-2.0, 1.5]])  # far from the ellipse
    F = infer_l1(models[0.0], far, 0.0, steps=100).energy
    assert F.max() < 0.05


def test_l1_free_energy_higher_off_data(ellipse_models):
    y, models = ellipse_models
    g = grid(2.5, 20)
    off = torch.cdist(g, y).min(1).values > 0.3
    F_off = infer_l1(models[0.1], g[off], 0.1, steps=100).energy.mean()
    F_on = infer_l1(models[0.1], y, 0.1, steps=100).energy.mean()
    assert F_off > F_on
    assert low_energy_fraction(infer_l1(models[0.0], g, 0.0, steps=100).energy, 0.05) > 0.9


def test_low_energy_fraction():
    assert low_energy_fraction(torch.tensor([0.0, 1.0, 2.0, 3.0]), 1.5) == 0.5


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda d: energy_l1(d, torch.randn(3, 2), torch.randn(3, 2), -1.0), "lam"),
        (lambda d: energy_l1(d, torch.randn(3, 3), torch.randn(3, 2), 0.1), "columns"),
        (lambda d: energy_l1(d, torch.randn(3, 2), torch.randn(4, 2), 0.1), "rows"),
        (lambda d: energy_l1(d, torch.full((3, 2), float("nan")), torch.randn(3, 2), 0.1), "NaN"),
        (lambda d: infer_l1(d, torch.randn(0, 2), 0.1), "empty"),
        (lambda d: infer_l1(d, torch.randn(3), 0.1), "dimensions"),
        (lambda d: infer_l1(d, torch.randn(3, 2, dtype=torch.float64), 0.1), "float"),
        (lambda d: infer_noisy(d, torch.randn(3, 2), 0.1, -0.1, torch.randn(2, 2)), "sigma"),
        (lambda d: infer_noisy(d, torch.randn(3, 2), 0.1, 0.1, torch.randn(2, 5)), "eps"),
        (lambda d: train_l1(d, torch.randn(3, 2), 0.1, epochs=0), "epochs"),
        (lambda d: decoder(0), "K"),
        (lambda d: ellipse_data(0), "n"),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call(_dec())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_mismatched_devices():
    with pytest.raises(ValueError, match="device"):
        infer_l1(_dec(), torch.randn(3, 2, device="cuda"), 0.1)
