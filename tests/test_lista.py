"""Tests of lib.lista: LISTA, deepen, run_lista, code_error, train_lista (chapter 04)."""

from __future__ import annotations

import pytest
import torch

from lib.lista import LISTA, LISTAHistory, code_error, deepen, run_lista, train_lista
from lib.operators import lipschitz
from lib.solvers import SolverResult, energy, fista, ista


def problem(seed, batch=16, n_features=20, n_atoms=30, dtype=torch.float64, frac=0.2):
    """A random problem with unit-norm atoms and λ a fraction of λ_max = max‖W_dᵀy‖∞."""
    g = torch.Generator().manual_seed(seed)
    W_d = torch.randn(n_features, n_atoms, generator=g, dtype=torch.float64)
    W_d = W_d / W_d.norm(dim=0)
    y = torch.randn(batch, n_features, generator=g, dtype=torch.float64)
    lam = frac * float((y @ W_d).abs().max())
    return y.to(dtype), W_d.to(dtype), lam


@pytest.mark.parametrize("n_steps", [1, 2, 7])
@pytest.mark.parametrize("per_step", [False, True])
def test_initialization_is_exactly_k_ista_steps(n_steps, per_step):
    y, W_d, lam = problem(0)
    model = LISTA(W_d, lam, n_steps, per_step_thresholds=per_step)
    ref = ista(y, W_d, lam, tol=0, max_iter=n_steps, backtrack=False)
    with torch.no_grad():
        z = model(y)
    assert ref.n_iter == n_steps
    assert torch.allclose(z, ref.z, atol=1e-6, rtol=0)
    assert float((z - ref.z).abs().max()) < 1e-6
    assert bool((ref.z != 0).any())  # the check is not trivially 0 == 0


def test_every_step_matches_ista_and_reports_energy():
    y, W_d, lam = problem(1)
    model = LISTA(W_d, lam, 5)
    res = run_lista(y, W_d, lam, model)
    ref = ista(y, W_d, lam, tol=0, max_iter=5, backtrack=False)
    assert isinstance(res, SolverResult)
    assert res.n_iter == 5 and not res.converged
    assert torch.allclose(res.objective_history, ref.objective_history, atol=1e-9)
    assert torch.allclose(res.objective_history[-1], energy(y, res.z, W_d, lam).mean())


def test_minus_s_sign_is_not_ista():
    y, W_d, lam = problem(2)
    L = lipschitz(W_d)
    W_e, S = W_d / L, torch.eye(W_d.shape[1], dtype=W_d.dtype) - W_d.T @ W_d / L
    z = ista(y, W_d, lam, tol=0, max_iter=3, backtrack=False).z
    one = ista(y, W_d, lam, z0=z, tol=0, max_iter=1, backtrack=False).z
    plus = torch.nn.functional.softshrink(y @ W_e + z @ S.T, lam / L)
    minus = torch.nn.functional.softshrink(y @ W_e - z @ S.T, lam / L)
    assert torch.allclose(plus, one, atol=1e-12)
    assert float((minus - one).abs().max()) > 1e-2


def test_steps_beyond_trained_depth_keep_iterating_like_ista():
    y, W_d, lam = problem(3)
    model = LISTA(W_d, lam, 2, per_step_thresholds=True)
    ref = ista(y, W_d, lam, tol=0, max_iter=6, backtrack=False)
    with torch.no_grad():
        assert torch.allclose(model(y, n_steps=6), ref.z, atol=1e-9)


def test_deepen_copies_weights_and_extends_thresholds():
    y, W_d, lam = problem(4)
    model = LISTA(W_d, lam, 2, per_step_thresholds=True)
    with torch.no_grad():
        model.theta[1] += 0.01
    deep = deepen(model, 4)
    assert deep.n_steps == 4 and deep.theta.shape == (4, W_d.shape[1])
    assert torch.equal(deep.theta[3], model.theta[1])
    assert torch.equal(deep.S, model.S) and deep.S is not model.S
    with torch.no_grad():
        assert torch.allclose(deep(y, n_steps=2), model(y))


@pytest.mark.parametrize("per_step", [False, True])
def test_one_training_step_lowers_the_loss(per_step):
    y, W_d, lam = problem(5, batch=64)
    z_star = fista(y, W_d, lam, tol=1e-10, max_iter=5000).z
    model = LISTA(W_d, lam, 2, per_step_thresholds=per_step)
    with torch.no_grad():
        before = float(code_error(model(y), z_star))
    hist = train_lista(model, y, z_star, epochs=1, lr=1e-3, batch_size=64, seed=0, progress=False)
    with torch.no_grad():
        after = float(code_error(model(y), z_star))
    assert isinstance(hist, LISTAHistory) and len(hist.train_loss) == 1
    assert hist.train_loss[0] == pytest.approx(before)  # the loss of the one batch, before
    assert after < before


def test_training_is_seeded_and_records_validation():
    y, W_d, lam = problem(6, batch=40)
    z_star = fista(y, W_d, lam, tol=1e-10, max_iter=5000).z
    runs = []
    for _ in range(2):
        model = LISTA(W_d, lam, 3)
        h = train_lista(
            model, y[:30], z_star[:30], 3, 1e-3, 8, seed=7, progress=False,
            y_val=y[30:], z_val=z_star[30:],
        )  # fmt: skip
        runs.append((h, model.S.detach().clone()))
    assert len(runs[0][0].val_loss) == 3
    assert runs[0][0].train_loss == runs[1][0].train_loss
    assert torch.equal(runs[0][1], runs[1][1])


@pytest.mark.parametrize("n_features", [20, 45])  # overcomplete (Q square) and undercomplete
@pytest.mark.parametrize("n_steps", [1, 4])
def test_projected_initialization_is_exactly_k_ista_steps(n_features, n_steps):
    y, W_d, lam = problem(10, n_features=n_features)
    model = LISTA(W_d, lam, n_steps, per_step_thresholds=True, project=True)
    rank = min(n_features, W_d.shape[1])
    assert model.Q.shape == (n_features, rank) and model.W_e.shape == (rank, W_d.shape[1])
    assert torch.allclose(model.Q.T @ model.Q, torch.eye(rank, dtype=W_d.dtype), atol=1e-12)
    ref = ista(y, W_d, lam, tol=0, max_iter=n_steps, backtrack=False)
    with torch.no_grad():
        assert torch.allclose(model(y), ref.z, atol=1e-9, rtol=0)
        assert torch.allclose(model.encoder(), W_d / lipschitz(W_d), atol=1e-12)
    assert bool((ref.z != 0).any())


def test_projection_ignores_what_z_star_ignores():
    # z* depends on y only through W_dᵀy: a trained projected LISTA must ignore any v ⊥ range(W_d)
    y, W_d, lam = problem(11, batch=64, n_features=45)
    z_star = fista(y, W_d, lam, tol=1e-10, max_iter=5000).z
    g = torch.Generator().manual_seed(0)
    v = torch.randn(y.shape, generator=g, dtype=y.dtype)
    v = v - v @ W_d @ torch.linalg.pinv(W_d)  # the part of v orthogonal to range(W_d)
    assert float((v @ W_d).abs().max()) < 1e-10 and float(v.norm()) > 1
    plain, proj = LISTA(W_d, lam, 3), LISTA(W_d, lam, 3, project=True)
    for model in (plain, proj):
        train_lista(model, y, z_star, 3, 1e-2, 16, seed=0, progress=False)
    with torch.no_grad():
        assert torch.allclose(proj(y + v), proj(y), atol=1e-10)
        assert float((plain(y + v) - plain(y)).abs().max()) > 1e-4  # the plain encoder does not


def test_projected_large_and_small_batches_agree():
    y, W_d, lam = problem(12, batch=60, n_features=45)  # 60 > 45 rows: Q folded into W_e
    model = LISTA(W_d, lam, 3, per_step_thresholds=True, project=True)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        model.W_e += 0.01 * torch.randn(model.W_e.shape, generator=g, dtype=W_d.dtype)
        whole = model(y)
        parts = torch.cat([model(part) for part in y.split(10)])
        assert torch.allclose(whole, parts, atol=1e-12)
        assert model.encoder().shape == (45, 30)
        assert torch.allclose(y @ model.encoder(), (y @ model.Q) @ model.W_e, atol=1e-12)


def test_deepen_keeps_the_projection():
    y, W_d, lam = problem(13, n_features=45)
    model = LISTA(W_d, lam, 3, per_step_thresholds=True, project=True)
    deep, short = deepen(model, 5), deepen(model, 2)
    assert torch.equal(deep.Q, model.Q) and deep.Q is not model.Q
    assert deep.n_steps == 5 and short.theta.shape == (2, W_d.shape[1])
    assert dict(deep.named_buffers()).keys() == {"Q"}
    with torch.no_grad():
        assert torch.allclose(deep(y, n_steps=3), model(y))
        assert torch.allclose(short(y), model(y, n_steps=2))


def test_cosine_schedule_starts_at_lr_and_trains():
    y, W_d, lam = problem(14, batch=64)
    z_star = fista(y, W_d, lam, tol=1e-10, max_iter=5000).z
    losses = {}
    for schedule in ("constant", "cosine"):
        model = LISTA(W_d, lam, 2, project=True)
        h = train_lista(model, y, z_star, 4, 1e-3, 16, 0, progress=False, schedule=schedule)
        losses[schedule] = h.train_loss
    assert losses["cosine"][0] == pytest.approx(losses["constant"][0], rel=0.2)
    assert losses["cosine"][-1] < losses["cosine"][0]
    # one epoch, one batch: the only update uses lr · ½(1 + cos 0) = lr, the same as constant
    one = [LISTA(W_d, lam, 2) for _ in range(2)]
    for model, schedule in zip(one, ("constant", "cosine"), strict=True):
        train_lista(model, y, z_star, 1, 1e-3, 64, 0, progress=False, schedule=schedule)
    assert torch.equal(one[0].S, one[1].S)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shapes_and_dtypes(dtype):
    y, W_d, lam = problem(7, batch=5, dtype=dtype)
    model = LISTA(W_d, lam, 3, per_step_thresholds=True)
    assert model.W_e.shape == (20, 30) and model.S.shape == (30, 30)
    assert model.theta.shape == (3, 30)
    z = model(y)
    assert z.shape == (5, 30) and z.dtype == dtype
    assert len(model.steps(y)) == 3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda():
    y, W_d, lam = problem(8)
    model = LISTA(W_d.cuda(), lam, 3)
    ref = ista(y, W_d, lam, tol=0, max_iter=3, backtrack=False).z
    z = model(y.cuda())
    assert z.device.type == "cuda"
    assert torch.allclose(z.cpu(), ref, atol=1e-6)
    z_star = fista(y, W_d, lam, tol=1e-8).z
    train_lista(model, y.cuda(), z_star.cuda(), 1, 1e-3, 8, 0, progress=False)
    proj = LISTA(W_d.cuda(), lam, 3, project=True)
    assert proj.Q.device.type == "cuda"
    assert torch.allclose(proj(y.cuda()).cpu(), ref, atol=1e-6)


def test_bad_inputs():
    y, W_d, lam = problem(9)
    z_star = torch.zeros(len(y), W_d.shape[1], dtype=y.dtype)
    model = LISTA(W_d, lam, 2)
    with pytest.raises(ValueError, match="lam"):
        LISTA(W_d, -1.0, 2)
    with pytest.raises(ValueError, match="n_steps"):
        LISTA(W_d, lam, 0)
    with pytest.raises(ValueError, match="W_d"):
        LISTA(W_d[0], lam, 2)
    with pytest.raises(ValueError, match="features"):
        model(y[:, :5])
    with pytest.raises(ValueError, match="NaN"):
        model(torch.full_like(y, float("nan")))
    with pytest.raises(ValueError, match="empty"):
        model(y[:0])
    with pytest.raises(ValueError, match="float64"):
        model(y.float())
    with pytest.raises(ValueError, match="z_star"):
        train_lista(model, y, z_star[:3], 1, 1e-3, 4, 0, progress=False)
    with pytest.raises(ValueError, match="lr"):
        train_lista(model, y, z_star, 1, -1.0, 4, 0, progress=False)
    with pytest.raises(ValueError, match="epochs"):
        train_lista(model, y, z_star, 0, 1e-3, 4, 0, progress=False)
    with pytest.raises(ValueError, match="both"):
        train_lista(model, y, z_star, 1, 1e-3, 4, 0, progress=False, y_val=y)
    with pytest.raises(ValueError, match="seed"):
        train_lista(model, y, z_star, 1, 1e-3, 4, -1, progress=False)
    with pytest.raises(ValueError, match="LISTA"):
        train_lista(torch.nn.Linear(2, 2), y, z_star, 1, 1e-3, 4, 0, progress=False)
    with pytest.raises(ValueError, match="schedule"):
        train_lista(model, y, z_star, 1, 1e-3, 4, 0, progress=False, schedule="step")
    with pytest.raises(ValueError, match="features"):
        LISTA(W_d, lam, 2, project=True)(y[:, :5])
