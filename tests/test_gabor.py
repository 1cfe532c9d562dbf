"""Tests of lib.gabor: the Gabor function, its least-squares fit, and the locality measure."""

import math

import numpy as np
import pytest
import torch

from lib.gabor import fit_gabor, fit_gabors, gabor_image, window_energy

P = [1.0, 7.3, 8.1, 0.7, 0.18, 0.5, 2.0, 3.0]  # A, x0, y0, theta, f, phi, sigma_x, sigma_y


def test_gabor_shape_dtype_and_centre():
    g = gabor_image(P, 16)
    assert g.shape == (16, 16) and g.dtype == torch.float64
    flat = gabor_image([1.0, 5.0, 9.0, 0.0, 0.0, 0.0, 1.0, 1.0], 16)  # f = 0: a Gaussian blob
    assert divmod(int(flat.argmax()), 16) == (9, 5)  # row y0, column x0
    assert float(flat.max()) == pytest.approx(1.0)


def test_fit_exact_gabor_has_r2_one_and_its_parameters():
    params, r2 = fit_gabor(gabor_image(P, 16))
    assert r2 > 0.9999
    assert torch.allclose(params, torch.tensor(P, dtype=torch.float64), atol=1e-3)


def test_fit_recovers_parameters_under_noise_and_flat_float32_input():
    gen = torch.Generator().manual_seed(0)
    truth = [2.0, 6.0, 9.5, 2.4, 0.22, -1.0, 1.8, 2.6]
    noisy = gabor_image(truth, 16) + 0.1 * torch.randn(16, 16, generator=gen, dtype=torch.float64)
    params, r2 = fit_gabor(noisy.float().reshape(-1))
    assert 0.8 < r2 < 1.0
    A, x0, y0, theta, f, phi, sx, sy = params.tolist()
    assert A == pytest.approx(2.0, rel=0.1)
    assert (x0, y0) == pytest.approx((6.0, 9.5), abs=0.3)
    assert theta == pytest.approx(2.4, abs=0.05)
    assert f == pytest.approx(0.22, abs=0.01)
    assert (sx, sy) == pytest.approx((1.8, 2.6), rel=0.15)


def test_canonical_form_maps_equivalent_parameters_to_one():
    twin = [-1.0, 7.3, 8.1, 0.7 + math.pi, 0.18, math.pi - 0.5, 2.0, 3.0]  # −A, θ + π
    assert torch.allclose(gabor_image(twin, 16), gabor_image(P, 16), atol=1e-12)
    params, _ = fit_gabor(gabor_image(twin, 16))
    assert torch.allclose(params, torch.tensor(P, dtype=torch.float64), atol=1e-3)
    assert 0 <= params[3] < math.pi and -math.pi < params[5] <= math.pi


def test_white_noise_is_fit_poorly():
    gen = torch.Generator().manual_seed(1)
    _, r2 = fit_gabors(torch.randn(5, 144, generator=gen), n_init=2, max_nfev=50)
    assert r2.max() < 0.3


def test_window_energy_separates_local_from_global():
    local = torch.zeros(1, 256)
    local[0, 5 * 16 + 6] = 1.0  # one pixel
    spread = torch.ones(1, 256)
    assert float(window_energy(local, 4)) == pytest.approx(1.0)
    assert float(window_energy(spread, 4)) == pytest.approx(16 / 256)
    assert float(window_energy(spread, 16)) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: gabor_image(P[:7], 16), "8 values"),
        (lambda: gabor_image(P, 0), "size"),
        (lambda: gabor_image([1, 0, 0, 0, 0.1, 0, -1.0, 1.0], 8), "sigma"),
        (lambda: gabor_image(torch.tensor([float("nan")] * 8), 8), "NaN"),
        (lambda: fit_gabor(torch.zeros(8, 8)), "constant"),
        (lambda: fit_gabor(torch.randn(8, 9)), "size"),
        (lambda: fit_gabor(torch.randn(15)), "square"),
        (lambda: fit_gabor(torch.randn(8, 8), n_init=0), "n_init"),
        (lambda: fit_gabor(torch.empty(0)), "empty"),
        (lambda: fit_gabor(np.full((4, 4), np.inf)), "NaN or inf"),
        (lambda: fit_gabor([[1.0, 2.0], [3.0, 4.0]]), "torch.Tensor"),
        (lambda: window_energy(torch.randn(2, 15), 2), "square"),
        (lambda: window_energy(torch.randn(2, 16), 5), "window"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()
