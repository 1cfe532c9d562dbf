"""Tests of lib.conv: convolutional decoder, adjoint, Lipschitz, FISTA, learning (chapter 06)."""

from __future__ import annotations

import pytest
import torch

from lib.conv import conv_admm, conv_energy, conv_fista
from lib.conv_dictionary import (
    _filter_gradient,
    learn_conv_dictionary,
    normalize_filters,
)
from lib.filters import (
    filter_orientation,
    orientation_gap,
    peak_frequency,
    radial_symmetry,
    ring_average,
    shift_similarity,
)
from lib.operators import (
    _centroid,
    _circular_ops,
    code_shape,
    conv_adjoint,
    conv_decode,
    conv_lipschitz,
    conv_matrix,
)
from lib.solvers import SolverResult, fista

BOUNDARIES = ["zero", "circular"]


def problem(seed, batch=2, C=1, n_filters=3, k=4, H=7, W=8, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    K = normalize_filters(torch.randn(n_filters, C, k, k, generator=g, dtype=torch.float64))
    y = torch.randn(batch, C, H, W, generator=g, dtype=torch.float64)
    return y.to(dtype), K.to(dtype)


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("C", [1, 2])
def test_adjoint_inner_products(boundary, C):
    y, K = problem(0, C=C)
    g = torch.Generator().manual_seed(1)
    z = torch.randn(2, 3, *code_shape((7, 8), 4, boundary), generator=g, dtype=torch.float64)
    Dz, Dty = conv_decode(z, K, boundary), conv_adjoint(y, K, boundary)
    assert Dz.shape == y.shape and Dty.shape == z.shape
    torch.testing.assert_close((Dz * y).sum(), (z * Dty).sum(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_matrix_matches_operator_and_lipschitz(boundary):
    y, K = problem(2, C=2)
    W_d = conv_matrix(K, (7, 8), boundary)
    z = torch.randn(2, 3, *code_shape((7, 8), 4, boundary), dtype=torch.float64)
    torch.testing.assert_close(conv_decode(z, K, boundary).reshape(2, -1), z.reshape(2, -1) @ W_d.T)
    L_exact = float(torch.linalg.matrix_norm(W_d, ord=2)) ** 2
    assert conv_lipschitz(K, (7, 8), boundary, tol=1e-12) == pytest.approx(L_exact, rel=1e-6)


def test_circular_lipschitz_closed_form():
    _, K = problem(3, k=5, H=16, W=16)
    closed = float(torch.fft.fft2(K[:, 0], s=(16, 16)).abs().pow(2).sum(0).max())
    assert conv_lipschitz(K, (16, 16), "circular", tol=1e-12) == pytest.approx(closed, rel=1e-6)


def test_zero_boundary_is_a_true_convolution():
    """One unit code at position (i, j) draws the filter itself (not flipped) at (i−k+1, j−k+1)."""
    _, K = problem(4, n_filters=1, k=3, H=6, W=6)
    z = torch.zeros(1, 1, 8, 8, dtype=torch.float64)
    z[0, 0, 4, 5] = 1.0
    out = conv_decode(z, K, "zero")[0, 0]
    torch.testing.assert_close(out[2:5, 3:6], K[0, 0])


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize(("C", "n_filters"), [(1, 3), (2, 4)])
def test_conv_fista_equals_linear_fista_on_the_matrix(boundary, C, n_filters):
    y, K = problem(5, C=C, n_filters=n_filters)
    lam = 0.1
    res = conv_fista(y, K, lam, boundary=boundary, tol=1e-10, max_iter=10_000)
    assert isinstance(res, SolverResult) and res.converged
    assert res.objective_history.shape == (res.n_iter,)
    W_d = conv_matrix(K, (7, 8), boundary)
    lin = fista(y.reshape(2, -1), W_d, lam, tol=1e-12, max_iter=50_000)
    E_conv = conv_energy(y, res.z, K, lam, boundary)
    E_lin = 0.5 * (y.reshape(2, -1) - lin.z @ W_d.T).pow(2).sum(1) + lam * lin.z.abs().sum(1)
    torch.testing.assert_close(E_conv, E_lin, rtol=1e-7, atol=0)
    torch.testing.assert_close(res.objective_history[-1], E_conv.mean())


@pytest.mark.parametrize(("C", "n_filters"), [(1, 3), (1, 4), (2, 3)])
def test_packed_circular_operators_match_the_reference(C, n_filters):
    """conv_fista's circular D and Dᵀ (two maps per complex FFT) equal conv_decode/conv_adjoint."""
    y, K = problem(10, C=C, n_filters=n_filters)
    z = torch.randn(2, n_filters, 7, 8, generator=torch.Generator().manual_seed(11), dtype=K.dtype)
    pack, unpack, D, Dt_over_L = _circular_ops(K, (7, 8), 2.0)
    torch.testing.assert_close(unpack(pack(z)), z, rtol=0, atol=0)
    torch.testing.assert_close(D(pack(z)), conv_decode(z, K, "circular"))
    torch.testing.assert_close(unpack(Dt_over_L(y)), conv_adjoint(y, K, "circular") / 2.0)


@pytest.mark.parametrize(("C", "n_filters"), [(1, 3), (1, 4), (2, 3)])
def test_conv_admm_equals_linear_fista_on_the_matrix(C, n_filters):
    """ADMM in the Fourier domain reaches the optimum of the explicit-matrix problem."""
    y, K = problem(12, C=C, n_filters=n_filters)
    lam = 0.1
    res = conv_admm(y, K, lam, tol=1e-10, max_iter=20_000)
    assert isinstance(res, SolverResult) and res.converged
    assert res.objective_history.shape == (res.n_iter,) and res.z.shape == (2, n_filters, 7, 8)
    W_d = conv_matrix(K, (7, 8), "circular")
    lin = fista(y.reshape(2, -1), W_d, lam, tol=1e-12, max_iter=50_000)
    E_lin = 0.5 * (y.reshape(2, -1) - lin.z @ W_d.T).pow(2).sum(1) + lam * lin.z.abs().sum(1)
    E_admm = conv_energy(y, res.z, K, lam, "circular")
    torch.testing.assert_close(E_admm, E_lin, rtol=1e-8, atol=0)
    assert (res.z == 0).float().mean() > 0.1  # the returned codes are the sparse copy


@pytest.mark.parametrize("C", [1, 3])
def test_conv_admm_history_is_the_energy_of_every_iterate(C):
    """The energies kept from the spectra by linearity equal conv_energy of each iterate,
    including the iterations right after ρ changes (every ADMM_CHECK_EVERY iterations)."""
    y, K = problem(13, C=C, n_filters=5, H=12, W=10)
    seen = []

    def record(t, z):
        seen.append(conv_energy(y, z, K, 0.2, "circular").mean())

    res = conv_admm(y, K, 0.2, rho=50.0, tol=0.0, max_iter=60, callback=record)
    torch.testing.assert_close(res.objective_history, torch.stack(seen), rtol=1e-10, atol=0)
    assert res.objective_history[-1] < 0.5 * res.objective_history[0]
    for n in (1, 3, 11):  # the residual check at the last iteration, before and after the 10th
        short = conv_admm(y, K, 0.2, rho=50.0, tol=0.0, max_iter=n)
        assert short.n_iter == n and short.objective_history.shape == (n,)


def test_conv_admm_float32_reaches_float64_accuracy():
    """In float32 the codes, scored in float64, come within 1e-5 of the optimum."""
    g = torch.Generator().manual_seed(14)
    K = normalize_filters(torch.randn(8, 1, 5, 5, generator=g, dtype=torch.float64))
    y = torch.randn(1, 1, 40, 40, generator=g, dtype=torch.float64)
    best = conv_admm(y, K, 0.3, tol=1e-12, max_iter=5000)
    low = conv_admm(y.float(), K.float(), 0.3, tol=1e-5, max_iter=5000)
    assert low.z.dtype == torch.float32 and low.converged
    E_best = float(conv_energy(y, best.z, K, 0.3, "circular"))
    E_low = float(conv_energy(y, low.z.double(), K, 0.3, "circular"))
    assert 0 <= E_low - E_best <= 1e-5 * E_best


def test_conv_admm_bad_inputs():
    y, K = problem(9)
    with pytest.raises(ValueError, match="lam"):
        conv_admm(y, K, -1.0)
    with pytest.raises(ValueError, match="rho"):
        conv_admm(y, K, 0.1, rho=0.0)
    with pytest.raises(ValueError, match="alpha"):
        conv_admm(y, K, 0.1, alpha=2.0)
    with pytest.raises(ValueError, match="NaN"):
        conv_admm(y * float("nan"), K, 0.1)
    with pytest.raises(ValueError, match="empty"):
        conv_admm(y[:0], K, 0.1)
    with pytest.raises(ValueError, match="float32"):
        conv_admm(y, K.float(), 0.1)
    with pytest.raises(ValueError, match="max_iter"):
        conv_admm(y, K, 0.1, max_iter=0)


def test_fista_beats_ista_and_recovers_a_sparse_code():
    g = torch.Generator().manual_seed(6)
    K = normalize_filters(torch.randn(4, 1, 5, 5, generator=g, dtype=torch.float64))
    z_true = torch.zeros(1, 4, 32, 32, dtype=torch.float64)
    idx = torch.randperm(z_true.numel(), generator=g)[:12]
    z_true.view(-1)[idx] = 3.0 + torch.rand(12, generator=g, dtype=torch.float64)
    y = conv_decode(z_true, K, "circular")
    fis = conv_fista(y, K, 0.01, boundary="circular", tol=0.0, max_iter=200)
    ist = conv_fista(y, K, 0.01, boundary="circular", tol=0.0, max_iter=200, momentum=False)
    assert fis.objective_history[-1] < ist.objective_history[-1]
    assert set(fis.z.abs().flatten().topk(12).indices.tolist()) == set(idx.tolist())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_shape_and_no_gradient(dtype):
    y, K = problem(7, dtype=dtype)
    K.requires_grad_(True)
    res = conv_fista(y, K, 0.05, max_iter=20)
    assert res.z.dtype == dtype and res.z.shape == (2, 3, 10, 11) and not res.z.requires_grad
    assert torch.isfinite(res.objective_history).all()


def test_learning_lowers_the_energy_and_keeps_unit_filters():
    g = torch.Generator().manual_seed(8)
    K_true = normalize_filters(torch.randn(2, 1, 5, 5, generator=g, dtype=torch.float64))
    z = torch.randn(2, 2, 16, 16, generator=g, dtype=torch.float64)
    z = z * (torch.rand(z.shape, generator=g, dtype=torch.float64) < 0.03)
    y = conv_decode(z, K_true, "circular")
    out = learn_conv_dictionary(y, 2, 5, 0.02, n_steps=30, fista_iter=15, progress=False)
    assert out.K.shape == (2, 1, 5, 5)
    torch.testing.assert_close(out.K.flatten(1).norm(dim=1), torch.ones(2, dtype=torch.float64))
    assert out.loss_history[-1] < 0.75 * out.loss_history[0]


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_filter_gradient_matches_autograd(boundary):
    y, K = problem(11, C=2)
    g = torch.Generator().manual_seed(12)
    z = torch.randn(2, 3, *code_shape((7, 8), 4, boundary), generator=g, dtype=torch.float64)
    Kr = K.clone().requires_grad_(True)
    (want,) = torch.autograd.grad(0.5 * (conv_decode(z, Kr, boundary) - y).pow(2).sum() / 2, Kr)
    v = torch.randn(K.shape, generator=g, dtype=torch.float64)
    grad, L_K, _ = _filter_gradient(y, z, K, boundary, v, n_power=300)
    torch.testing.assert_close(grad, want)
    cols = [
        conv_decode(z, e.reshape(K.shape), boundary).flatten()
        for e in torch.eye(K.numel(), dtype=K.dtype)
    ]
    L_true = float(torch.linalg.matrix_norm(torch.stack(cols, 1), ord=2)) ** 2 / 2
    assert L_K == pytest.approx(1.05 * L_true, rel=1e-6)


def test_learning_keeps_filters_centred():
    g = torch.Generator().manual_seed(13)
    y = torch.randn(2, 1, 16, 16, generator=g, dtype=torch.float64)
    for recenter in [True, False]:
        out = learn_conv_dictionary(y, 4, 5, 0.1, n_steps=20, recenter=recenter, progress=False)
        off = _centroid(out.K).abs().amax()
        assert (off <= 0.5) if recenter else (off > 0.5)


def test_bad_inputs():
    y, K = problem(9)
    with pytest.raises(ValueError, match="lam"):
        conv_fista(y, K, -1.0)
    with pytest.raises(ValueError, match="NaN"):
        conv_fista(y * float("nan"), K, 0.1)
    with pytest.raises(ValueError, match="empty"):
        conv_fista(y[:0], K, 0.1)
    with pytest.raises(ValueError, match="channels"):
        conv_fista(y.repeat(1, 2, 1, 1), K, 0.1)
    with pytest.raises(ValueError, match="dimensions"):
        conv_fista(y[:, 0], K, 0.1)
    with pytest.raises(ValueError, match="boundary"):
        conv_fista(y, K, 0.1, boundary="reflect")
    with pytest.raises(ValueError, match="float32"):
        conv_fista(y, K.float(), 0.1)
    with pytest.raises(ValueError, match="z0"):
        conv_fista(y, K, 0.1, z0=torch.zeros(2, 3, 7, 8, dtype=torch.float64))
    with pytest.raises(ValueError, match="filters"):
        conv_decode(torch.zeros(1, 2, 9, 9, dtype=torch.float64), K)


def test_filter_measures_on_known_filters():
    r = torch.arange(9, dtype=torch.float64) - 4
    d = r[:, None] ** 2 + r[None] ** 2
    dog = (torch.exp(-d / 2) - 0.5 * torch.exp(-d / 8))[None, None]
    window = torch.exp(-d / 8)
    vertical_edge = (torch.sign(r)[None, :] * window)[None, None]  # varies along x
    horizontal_grating = (torch.sin(2 * torch.pi * r / 6)[:, None] * window)[None, None]
    K = torch.cat([dog, vertical_edge, horizontal_grating])
    angle, aniso = filter_orientation(K)
    assert aniso[0] < 0.05 and (aniso[1:] > 0.7).all()
    assert min(float(angle[1]), 180 - float(angle[1])) < 1 and abs(float(angle[2]) - 90) < 1
    sym = radial_symmetry(K)
    assert sym[0] > 0.9 and (sym[1:] < 0.05).all()
    off_centre = torch.zeros_like(dog)
    off_centre[..., 2:, 1:] = dog[..., :-2, :-1]  # the same unit two rows down, one column right
    assert radial_symmetry(off_centre)[0] > 0.9
    peak = peak_frequency(K)  # a grating of period 6 peaks near 1/6 cycle per pixel
    assert float(peak[1]) < 0.2 and abs(float(peak[2]) - 1 / 6) < 0.04
    checkerboard = ((-1.0) ** (r[:, None] + r[None]) * window)[None, None]
    assert abs(float(peak_frequency(checkerboard)[0]) - 2**-0.5) < 1e-9
    with pytest.raises(ValueError, match="4 dimensions"):
        peak_frequency(torch.zeros(3, 7, 7))


def test_orientation_gap():
    assert orientation_gap(torch.tensor([0.0, 45.0, 90.0, 135.0])) == pytest.approx(45.0)
    assert orientation_gap(torch.tensor([170.0, 190.0])) == pytest.approx(160.0)
    assert orientation_gap(torch.zeros(0)) == 180.0
    with pytest.raises(ValueError, match="1-D"):
        orientation_gap(torch.zeros(2, 2))


def test_shift_similarity_sees_shifted_copies():
    g = torch.Generator().manual_seed(10)
    a = torch.randn(8, 8, generator=g, dtype=torch.float64)
    a[:, 6:] = 0
    shifted = torch.roll(a, 2, dims=1)  # the same atom two pixels to the right
    other = torch.randn(8, 8, generator=g, dtype=torch.float64)
    sim = shift_similarity(torch.stack([a, shifted, other]))
    assert sim[0] == pytest.approx(1.0) and sim[1] == pytest.approx(1.0) and sim[2] < 0.9
    with pytest.raises(ValueError, match="2 atoms"):
        shift_similarity(a[None])


def test_ring_average_and_learning_with_a_projection():
    g = torch.Generator().manual_seed(12)
    K = torch.randn(3, 2, 7, 7, generator=g, dtype=torch.float64)
    R = ring_average(K)
    torch.testing.assert_close(ring_average(R), R)  # a projection
    torch.testing.assert_close(R, R.flip(-1))  # symmetric about the middle
    torch.testing.assert_close(R, R.transpose(-1, -2))
    assert bool((radial_symmetry(R[:, :1]) > 0.999).all())
    y = torch.randn(2, 1, 16, 16, generator=g, dtype=torch.float64)
    out = learn_conv_dictionary(y, 1, 5, 0.1, n_steps=3, project=ring_average, progress=False)
    torch.testing.assert_close(out.K, normalize_filters(ring_average(out.K)))
    with pytest.raises(ValueError, match="project"):
        learn_conv_dictionary(y, 1, 5, 0.1, n_steps=1, project="ring", progress=False)
