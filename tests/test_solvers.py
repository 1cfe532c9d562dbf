"""Tests of lib.solvers: shrink, lipschitz, energy, ista, fista (chapter 03)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.decomposition import sparse_encode
from sklearn.linear_model import Lasso

from lib.data import load_mnist
from lib.operators import lipschitz
from lib.proximal import shrink
from lib.solvers import SolverResult, energy, fista, fista_steps, ista


def problem(seed, batch=6, n_features=20, n_atoms=30, dtype=torch.float64, frac=0.2):
    """A random problem with unit-norm atoms and λ a fraction of λ_max = max‖W_dᵀy‖∞."""
    g = torch.Generator().manual_seed(seed)
    W_d = torch.randn(n_features, n_atoms, generator=g, dtype=torch.float64)
    W_d = W_d / W_d.norm(dim=0)
    y = torch.randn(batch, n_features, generator=g, dtype=torch.float64)
    lam = frac * float((y @ W_d).abs().max())
    return y.to(dtype), W_d.to(dtype), lam


def mnist_problem(batch=20, n_atoms=64):
    """Real digits coded on unit-norm digits of the disjoint test split."""
    y, _ = load_mnist("train", n=batch)
    atoms, _ = load_mnist("test", n=n_atoms)
    W_d = (atoms / atoms.norm(dim=1, keepdim=True)).T
    return y.double(), W_d.double().contiguous(), 0.4


def sklearn_lasso(y, W_d, lam):
    """Per-sample sklearn Lasso with alpha = λ / n_features (our E divided by n_features)."""
    n_features = W_d.shape[0]
    model = Lasso(alpha=lam / n_features, fit_intercept=False, tol=1e-12, max_iter=100_000)
    codes = [model.fit(W_d.numpy(), row.numpy()).coef_.copy() for row in y]
    return torch.from_numpy(np.stack(codes))


def rel_gap(y, z, z_ref, W_d, lam):
    E, E_ref = energy(y, z, W_d, lam).sum(), energy(y, z_ref, W_d, lam).sum()
    return float((E - E_ref) / E_ref)


# ---------------------------------------------------------------- shrink, lipschitz, energy


@pytest.mark.parametrize("theta", [0.0, 0.3, 1.7])
def test_shrink_is_the_prox_of_theta_abs(theta):
    x = torch.linspace(-3, 3, 61, dtype=torch.float64)
    grid = torch.linspace(-4, 4, 80_001, dtype=torch.float64)  # spacing 1e-4
    cost = 0.5 * (grid[None, :] - x[:, None]) ** 2 + theta * grid.abs()[None, :]
    brute = grid[cost.argmin(dim=1)]
    assert torch.allclose(shrink(x, theta), brute, atol=1e-4)


def test_shrink_per_atom_thresholds_and_gradient():
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    theta = torch.tensor([0.0, 0.2, 0.5, 5.0], dtype=torch.float64, requires_grad=True)
    out = shrink(x, theta)
    for j in range(4):
        expected = torch.nn.functional.softshrink(x[:, j], float(theta[j].detach()))
        assert torch.allclose(out[:, j], expected)
    out.sum().backward()  # d shrink / d θ = −sign(x) where |x| > θ, 0 elsewhere
    expected_grad = (-(x.sign()) * (x.abs() > theta.detach())).sum(0)
    assert torch.allclose(theta.grad, expected_grad)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_lipschitz_is_the_squared_spectral_norm(dtype):
    _, W_d, _ = problem(1, dtype=dtype)
    W_d.requires_grad_(True)
    L = lipschitz(W_d)
    expected = float(torch.linalg.matrix_norm(W_d.detach().double(), ord=2) ** 2)
    assert isinstance(L, float)
    assert L == pytest.approx(expected, rel=1e-5 if dtype == torch.float32 else 1e-9)
    assert W_d.grad is None


def test_lipschitz_is_seeded():
    _, W_d, _ = problem(2)
    assert lipschitz(W_d, n_iter=3, seed=5) == lipschitz(W_d, n_iter=3, seed=5)


def test_energy_and_the_sklearn_scaling():
    """E/n_features is sklearn Lasso's objective with alpha = λ/n_features."""
    y, W_d, lam = problem(3)
    z = torch.randn(6, 30, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    n_features = W_d.shape[0]
    E = energy(y, z, W_d, lam)
    residual = y - z @ W_d.T
    sk = (residual**2).sum(1) / (2 * n_features) + lam / n_features * z.abs().sum(1)
    assert E.shape == (6,)
    assert torch.allclose(E / n_features, sk)


# ---------------------------------------------------------------- optimality


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("shape", [(20, 30), (40, 15)])
def test_fista_reaches_the_sklearn_lasso_optimum(seed, shape):
    y, W_d, lam = problem(seed, n_features=shape[0], n_atoms=shape[1])
    res = fista(y, W_d, lam, tol=1e-10, max_iter=20_000)
    z_sk = sklearn_lasso(y, W_d, lam)
    assert res.converged
    assert abs(rel_gap(y, res.z, z_sk, W_d, lam)) < 1e-6
    assert torch.allclose(res.z, z_sk, atol=1e-4)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("solver", [ista, fista])
def test_positive_codes_reach_the_sklearn_nonnegative_lasso(seed, solver):
    y, W_d, lam = problem(seed, frac=0.1)
    res = solver(y, W_d, lam, tol=1e-10, max_iter=50_000, positive=True)
    model = Lasso(alpha=lam / 20, fit_intercept=False, positive=True, tol=1e-12, max_iter=100_000)
    z_sk = torch.from_numpy(np.stack([model.fit(W_d.numpy(), r.numpy()).coef_ for r in y]))
    assert res.converged and bool((res.z >= 0).all())
    assert abs(rel_gap(y, res.z, z_sk, W_d, lam)) < 1e-6
    assert torch.allclose(res.z, z_sk, atol=1e-4)
    signed = fista(y, W_d, lam, tol=1e-10, max_iter=50_000).z
    assert bool((signed < 0).any())  # the constraint is active on this problem
    assert float(energy(y, signed, W_d, lam).sum()) < float(energy(y, res.z, W_d, lam).sum())


def test_positive_rejects_a_negative_warm_start():
    y, W_d, lam = problem(0)
    with pytest.raises(ValueError, match="z0 has negative entries"):
        fista(y, W_d, lam, z0=-torch.ones(6, 30, dtype=torch.float64), positive=True)


@pytest.mark.parametrize("positive", [False, True])
def test_fista_steps_converge_to_the_fista_optimum(positive):
    y, W_d, lam = problem(3)
    L = lipschitz(W_d)
    z_ref = fista(y, W_d, lam, tol=1e-12, max_iter=50_000, positive=positive).z
    z = fista_steps(y, W_d, lam, L, 3000, positive=positive)
    assert torch.allclose(z, z_ref, atol=1e-6)
    few = fista_steps(y, W_d, lam, L, 3, positive=positive)
    assert rel_gap(y, few, z_ref, W_d, lam) > 1e-4  # three steps are not the optimum
    warm = fista_steps(y, W_d, lam, L, 1, z0=z_ref, positive=positive)
    assert torch.allclose(warm, z_ref, atol=1e-6)  # the optimum is a fixed point


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"L": 0.0}, "L must be"),
        ({"n_iter": 0}, "n_iter"),
        ({"lam": -1.0}, "lam"),
        ({"y": torch.full((2, 20), float("nan"), dtype=torch.float64)}, "y contains"),
        ({"z0": torch.zeros(6, 29, dtype=torch.float64)}, "z0 must have shape"),
    ],
)
def test_fista_steps_bad_input(kwargs, match):
    y, W_d, lam = problem(0)
    args = {"y": y, "W_d": W_d, "lam": lam, "L": 10.0, "n_iter": 5} | kwargs
    with pytest.raises(ValueError, match=match):
        fista_steps(**args)


def test_fista_reaches_sparse_encode_on_mnist_digits():
    y, W_d, lam = mnist_problem()
    res = fista(y, W_d, lam, tol=1e-10, max_iter=20_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lasso_cd may warn about its own tolerance
        codes = {
            alg: torch.from_numpy(sparse_encode(y.numpy(), W_d.T.numpy(), algorithm=alg, alpha=lam))
            for alg in ("lasso_lars", "lasso_cd")
        }
    assert res.converged
    assert 0 < float((res.z != 0).double().mean()) < 0.5  # a genuinely sparse problem
    for z_sk in codes.values():
        assert abs(rel_gap(y, res.z, z_sk, W_d, lam)) < 1e-6


def test_ista_and_fista_agree_and_fista_is_faster():
    y, W_d, lam = problem(4)
    r_ista = ista(y, W_d, lam, tol=1e-9, max_iter=50_000)
    r_fista = fista(y, W_d, lam, tol=1e-9, max_iter=50_000)
    assert r_ista.converged and r_fista.converged
    assert abs(rel_gap(y, r_ista.z, r_fista.z, W_d, lam)) < 1e-7
    assert r_fista.n_iter < r_ista.n_iter


@pytest.mark.parametrize("backtrack", [False, True])
def test_ista_objective_never_increases(backtrack):
    y, W_d, lam = problem(5, frac=0.05)
    res = ista(y, W_d, lam, tol=0.0, max_iter=300, backtrack=backtrack)
    h = res.objective_history
    assert len(h) == 300
    assert bool((h[1:] <= h[:-1] * (1 + 1e-12)).all())
    assert h[-1] < h[0]


def test_fista_rate_bound():
    """Beck & Teboulle: E(z_k) − E* ≤ 2L‖z0 − z*‖² / (k+1)² for the textbook FISTA."""
    y, W_d, lam = problem(6, batch=1, n_features=30, n_atoms=60, frac=0.05)
    z_star = fista(y, W_d, lam, tol=1e-13, max_iter=100_000).z
    E_star = float(energy(y, z_star, W_d, lam).sum())
    L = lipschitz(W_d)
    res = fista(y, W_d, lam, tol=0.0, max_iter=500, backtrack=False, restart=False, L=L)
    k = torch.arange(1, 501, dtype=torch.float64)
    bound = 2 * L * float((z_star**2).sum()) / (k + 1) ** 2  # z0 = 0
    excess = res.objective_history - E_star
    assert bool((excess <= bound).all())
    assert float(excess[9]) > 0.01 * float(bound[9])  # the bound is not vacuous here


def test_lam_zero_is_least_squares():
    y, W_d, _ = problem(7, n_features=40, n_atoms=10)
    res = fista(y, W_d, 0.0, tol=1e-12, max_iter=20_000)
    z_ls = torch.linalg.lstsq(W_d, y.T).solution.T
    assert res.converged
    assert torch.allclose(res.z, z_ls, atol=1e-8)


def test_lam_above_lam_max_gives_zero_codes():
    y, W_d, _ = problem(8)
    lam_max = float((y @ W_d).abs().max())  # max over the batch of ‖W_dᵀ y‖∞
    assert bool((fista(y, W_d, lam_max).z == 0).all())
    assert bool((fista(y, W_d, 2 * lam_max).z == 0).all())
    assert bool((fista(y, W_d, 0.9 * lam_max).z != 0).any())


def test_batch_equals_rows_solved_one_by_one():
    y, W_d, lam = problem(9, batch=5)
    together = fista(y, W_d, lam, tol=1e-10, max_iter=20_000).z
    for i in range(5):
        alone = fista(y[i : i + 1], W_d, lam, tol=1e-10, max_iter=20_000).z
        assert torch.allclose(together[i : i + 1], alone, atol=1e-6)


# ---------------------------------------------------------------- dtypes, warm start, stopping


@pytest.mark.parametrize("solver", [ista, fista])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_float32_and_float64(solver, dtype):
    y, W_d, lam = problem(10, dtype=dtype)
    res = solver(y, W_d, lam, tol=1e-5, max_iter=20_000)
    assert isinstance(res, SolverResult)
    assert res.z.dtype == dtype and res.z.shape == (6, 30)
    assert res.objective_history.dtype == dtype
    assert res.n_iter == len(res.objective_history)
    y64, W64 = y.double(), W_d.double()
    z_ref = fista(y64, W64, lam, tol=1e-12, max_iter=20_000).z
    assert abs(rel_gap(y64, res.z.double(), z_ref, W64, lam)) < 1e-4


def test_warm_start():
    y, W_d, lam = problem(11)
    cold = fista(y, W_d, lam, tol=1e-8, max_iter=20_000)
    warm = fista(y, W_d, lam, z0=cold.z, tol=1e-8, max_iter=20_000)
    assert warm.converged and 5 * warm.n_iter < cold.n_iter
    assert torch.allclose(warm.z, cold.z, atol=1e-6)
    nearby = fista(y, W_d, 1.05 * lam, tol=1e-8, max_iter=20_000)
    from_nearby = fista(y, W_d, lam, z0=nearby.z, tol=1e-8, max_iter=20_000)
    assert from_nearby.n_iter < cold.n_iter
    assert abs(rel_gap(y, from_nearby.z, cold.z, W_d, lam)) < 1e-7


def test_iteration_cap_and_callback():
    y, W_d, lam = problem(12)
    capped = fista(y, W_d, lam, tol=1e-12, max_iter=4)
    assert capped.n_iter == 4 and not capped.converged
    seen = []

    def stop_at_three(it, z):
        seen.append((it, tuple(z.shape)))
        return it == 3

    res = fista(y, W_d, lam, tol=1e-12, callback=stop_at_three)
    assert res.n_iter == 3 and not res.converged
    assert seen == [(1, (6, 30)), (2, (6, 30)), (3, (6, 30))]


def test_solver_does_not_track_gradients():
    y, W_d, lam = problem(13)
    W_d.requires_grad_(True)
    res = fista(y, W_d, lam)
    assert not res.z.requires_grad


# ---------------------------------------------------------------- bad input

_y, _W, _ = problem(14)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"y": _y[0]}, "y must have 2 dimensions"),
        ({"W_d": _W[0]}, "W_d must have 2 dimensions"),
        ({"W_d": _W[:-1]}, "features"),
        ({"lam": -0.1}, "lam"),
        ({"lam": float("nan")}, "lam"),
        ({"y": _y.clone().index_fill_(1, torch.tensor([0]), float("nan"))}, "y contains NaN"),
        ({"W_d": _W.clone().index_fill_(0, torch.tensor([0]), float("inf"))}, "W_d contains"),
        ({"y": _y[:0]}, "y is empty"),
        ({"y": _y.float()}, "float"),
        ({"y": _y.long()}, "y must be float32 or float64"),
        ({"z0": torch.zeros(6, 29, dtype=torch.float64)}, "z0 must have shape"),
        ({"z0": torch.zeros(6, 30)}, "z0 is torch.float32"),
        ({"tol": -1.0}, "tol"),
        ({"max_iter": 0}, "max_iter"),
        ({"L": 0.0}, "L must be"),
        ({"y": "not a tensor"}, "y must be a torch.Tensor"),
    ],
)
@pytest.mark.parametrize("solver", [ista, fista])
def test_bad_input_raises_a_clear_value_error(solver, kwargs, match):
    args = {"y": _y, "W_d": _W, "lam": 0.1} | kwargs
    y, W_d, lam = args.pop("y"), args.pop("W_d"), args.pop("lam")
    with pytest.raises(ValueError, match=match):
        solver(y, W_d, lam, **args)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: shrink(_y, -1.0), "theta"),
        (lambda: shrink(_y, torch.full((30,), -1.0, dtype=torch.float64)), "theta"),
        (lambda: shrink(_y, torch.ones(30)), "theta is torch.float32"),
        (lambda: lipschitz(_W[0]), "W_d must have 2 dimensions"),
        (lambda: lipschitz(_W, n_iter=0), "n_iter"),
        (lambda: energy(_y, torch.zeros(6, 31, dtype=torch.float64), _W, 0.1), "z must have"),
        (lambda: energy(_y, torch.zeros(6, 30, dtype=torch.float64), _W, -1.0), "lam"),
    ],
)
def test_bad_input_of_the_helpers(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_and_mismatched_devices():
    y, W_d, lam = problem(15)
    res = fista(y.cuda(), W_d.cuda(), lam, tol=1e-10, max_iter=20_000)
    assert res.z.device.type == "cuda"
    assert torch.allclose(res.z.cpu(), fista(y, W_d, lam, tol=1e-10, max_iter=20_000).z, atol=1e-6)
    with pytest.raises(ValueError, match="same device"):
        fista(y, W_d.cuda(), lam)
