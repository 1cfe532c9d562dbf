"""Sparse coding: the energy, the shrinkage, and the ISTA / FISTA solvers.

Introduced in chapter 02 (sparse coding as a latent-variable EBM) and chapter 03 (ISTA, FISTA);
used again by dictionary learning (:mod:`lib.dictionary`), LISTA and convolutional sparse coding.

**The scaling, once and for all.** The lecture writes the energy as
``E(y, z) = ‖y − W_d z‖² + λ‖z‖₁``. Every function of this module uses

    E(y, z) = ½‖y − W_d z‖² + λ‖z‖₁,        L = ‖W_d‖₂² = σ_max(W_d)²,

so that the lecture's ISTA step holds *literally*:

    z(t+1) = Shrinkage_{λ/L}( z(t) − (1/L) W_dᵀ(W_d z(t) − y) ).

(The gradient of ½‖y − W_d z‖² is W_dᵀ(W_d z − y) and its Lipschitz constant is σ_max².)
The lecture's energy with λ' is twice ours with λ = λ'/2: same minimiser z*.

**scikit-learn.** ``sklearn.linear_model.Lasso(alpha=a)`` fitted on ``X = W_d`` and one ``y``
minimizes ``(1/(2 n_features))‖y − W_d z‖² + a‖z‖₁`` = E(y, z) / n_features with
λ = a·n_features. ``sklearn.decomposition.sparse_encode(y, W_d.T, algorithm="lasso_cd" or
"lasso_lars", alpha=a)`` divides `a` by n_features before calling Lasso / LassoLars, so its
``alpha`` *is* our λ. Both are checked in ``tests/test_solvers.py``.

Shapes are batch-first: ``y [batch, n_features]``, ``W_d [n_features, n_atoms]``,
``z [batch, n_atoms]``; a row of ``y`` is one sample, ``z @ W_d.T`` its reconstruction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.nn.functional import softshrink

from lib._checks import (
    check_callable,
    check_count,
    check_flags,
    check_nonneg,
    check_positive,
    check_same,
    check_seed,
    check_tensor,
)

__all__ = [
    "energy",
    "fista",
    "fista_steps",
    "ista",
    "lipschitz",
    "shrink",
    "SolverResult",
]


@dataclass
class SolverResult:
    """What every iterative solver of the book returns (ISTA, FISTA, LISTA, conv FISTA).

    z: the codes, ``[batch, n_atoms]`` (or ``[batch, n_atoms, H, W]`` for convolutions).
    objective_history: ``[n_iter]``, the energy averaged over the batch after each iteration.
    n_iter: the number of iterations (or unrolled layers) run.
    converged: True when every sample met the stopping tolerance before the iteration cap.
    """

    z: torch.Tensor
    objective_history: torch.Tensor
    n_iter: int
    converged: bool


def shrink(x: torch.Tensor, theta: float | torch.Tensor) -> torch.Tensor:
    """Soft threshold, the proximal operator of θ|·|: ``sign(x) · max(|x| − θ, 0)``.

    `theta` ≥ 0 is a number or a tensor broadcast against `x` (e.g. ``[n_atoms]``, one
    threshold per atom, as LISTA learns them). Introduced in chapter 03.
    """
    check_tensor(x, "x")
    if isinstance(theta, torch.Tensor):
        check_tensor(theta, "theta")
        check_same(("x", x), ("theta", theta))
        if bool((theta < 0).any()):
            raise ValueError("theta must be ≥ 0 everywhere")
        return x.sign() * (x.abs() - theta).clamp_min(0)  # differentiable in theta too
    return softshrink(x, check_nonneg(theta, "theta"))


def lipschitz(W_d: torch.Tensor, n_iter: int = 1000, tol: float = 1e-10, seed: int = 0) -> float:
    """L = ‖W_d‖₂² = λ_max(W_dᵀ W_d), by power iteration on W_d's own device and dtype.

    The start vector is drawn from a generator seeded with `seed`; the iteration stops when
    the Rayleigh quotient changes by less than `tol` (relative) or after `n_iter` steps.
    No gradient flows through it. Introduced in chapter 03.
    """
    check_tensor(W_d, "W_d", ndim=2)
    n_iter = check_count(n_iter, "n_iter")
    tol = check_nonneg(tol, "tol")
    g = torch.Generator().manual_seed(check_seed(seed))
    v = torch.randn(W_d.shape[1], generator=g, dtype=torch.float64).to(W_d.device, W_d.dtype)
    W = W_d.detach()
    L = 0.0
    with torch.no_grad():
        for _ in range(n_iter):
            v = v / torch.linalg.vector_norm(v)
            w = W.T @ (W @ v)
            L_new = float(v @ w)
            v = w
            if abs(L_new - L) <= tol * L_new:
                return L_new
            L = L_new
    return L


def energy(y: torch.Tensor, z: torch.Tensor, W_d: torch.Tensor, lam: float) -> torch.Tensor:
    """E(y, z) = ½‖y − W_d z‖² + λ‖z‖₁ for every sample: returns ``[batch]``.

    ``y [batch, n_features]``, ``z [batch, n_atoms]``, ``W_d [n_features, n_atoms]``.
    See the module docstring for the ½ and for scikit-learn's scaling. Introduced in chapter 02.
    """
    _check_problem(y, W_d, lam)
    _check_codes(z, y, W_d, "z")
    return 0.5 * (y - z @ W_d.T).pow(2).sum(1) + lam * z.abs().sum(1)


def ista(
    y: torch.Tensor,
    W_d: torch.Tensor,
    lam: float,
    *,
    z0: torch.Tensor | None = None,
    tol: float = 1e-5,
    max_iter: int = 1000,
    L: float | None = None,
    backtrack: bool = True,
    positive: bool = False,
    callback: Callable[[int, torch.Tensor], bool | None] | None = None,
) -> SolverResult:
    """ISTA: minimize E(y, z) = ½‖y − W_d z‖² + λ‖z‖₁ over z for every row of y.

    z(t+1) = Shrinkage_{λ/L}(z(t) − (1/L) W_dᵀ(W_d z(t) − y)), with L = ‖W_d‖₂².
    The objective never increases. Arguments as in :func:`fista`. Introduced in chapter 03.
    """
    check_flags(backtrack=backtrack, positive=positive)
    return _proximal_gradient(
        y, W_d, lam, z0, tol, max_iter, L, backtrack, callback, False, False, positive
    )


def fista(
    y: torch.Tensor,
    W_d: torch.Tensor,
    lam: float,
    *,
    z0: torch.Tensor | None = None,
    tol: float = 1e-5,
    max_iter: int = 1000,
    L: float | None = None,
    backtrack: bool = True,
    restart: bool = True,
    positive: bool = False,
    callback: Callable[[int, torch.Tensor], bool | None] | None = None,
) -> SolverResult:
    """FISTA (Beck & Teboulle, 2009): ISTA plus momentum; E(z_k) − E* = O(1/k²).

    Minimizes E(y, z) = ½‖y − W_d z‖² + λ‖z‖₁ for every row of ``y [batch, n_features]``,
    with ``W_d [n_features, n_atoms]``; returns ``z [batch, n_atoms]`` in a
    :class:`SolverResult`. Each iteration, from the extrapolated point x(t):

        z(t+1) = Shrinkage_{λ/L}(x(t) − (1/L) W_dᵀ(W_d x(t) − y))          (the ISTA step)
        s(t+1) = (1 + √(1 + 4 s(t)²)) / 2
        x(t+1) = z(t+1) + ((s(t) − 1) / s(t+1)) (z(t+1) − z(t))          (the momentum)

    Implementation (same iterates, less work): the step is taken in code space with the Gram
    matrix, W_dᵀ(W_d x − y) = W_dᵀW_d x − W_dᵀy, so one iteration costs batch·n_atoms²;
    every sample has its own state and stops on its own.

    - ``L`` defaults to ``lipschitz(W_d)``. With ``backtrack=True`` each sample uses a local
      L ≤ ‖W_d‖₂² (decreased by 10% after an accepted step, increased when the sufficient
      decrease test ½‖W_d(z(t+1) − x(t))‖² ≤ (L/2)‖z(t+1) − x(t)‖² fails).
    - ``restart=True``: adaptive restart (O'Donoghue & Candès, 2015): a sample's momentum
      is reset when (x(t) − z(t+1))·(z(t+1) − z(t)) > 0.
    - Stopping: a sample stops when the duality gap certifies E(z) − E* ≤ tol·E(z) (dual
      point ν = (y − W_d z)·min(1, λ/‖W_dᵀ(y − W_d z)‖∞)); for λ = 0 when
      ‖z(t+1) − z(t)‖ ≤ tol·‖z(t+1)‖. In float32 ask for tol ≥ 1e-5.
    - ``positive=True`` adds the constraint z ≥ 0 (non-negative sparse coding, chapter 05):
      the shrinkage becomes max(u − λ/L, 0) and the dual point uses max_j (W_dᵀr)_j instead
      of ‖W_dᵀr‖∞.
    - ``z0`` warm-starts; ``callback(t, z)`` is called after every iteration with the codes of
      the whole batch and stops the solver by returning True.
    - ``restart=False, backtrack=False`` is the textbook FISTA with its O(1/k²) guarantee.

    Introduced in chapter 03.
    """
    check_flags(backtrack=backtrack, restart=restart, positive=positive)
    return _proximal_gradient(
        y, W_d, lam, z0, tol, max_iter, L, backtrack, callback, True, restart, positive
    )


def fista_steps(
    y: torch.Tensor,
    W_d: torch.Tensor,
    lam: float,
    L: float,
    n_iter: int,
    z0: torch.Tensor | None = None,
    positive: bool = False,
) -> torch.Tensor:
    """Exactly `n_iter` textbook FISTA iterations with step 1/L: no stopping test, no history.

    The inner loop of dictionary learning, where the dictionary changes after every minibatch
    and exact codes would be wasted: each iteration is one product with the Gram matrix
    W_dᵀW_d and a shrinkage, without the per-sample bookkeeping of :func:`fista`. `L` must be
    at least ‖W_d‖₂². Inputs are checked as in :func:`fista`; returns ``z [batch, n_atoms]``.
    Introduced in chapter 05.
    """
    check_flags(positive=positive)
    _check_problem(y, W_d, lam)
    L = check_positive(L, "L")
    n_iter = check_count(n_iter, "n_iter")
    W = W_d.detach()
    G, b = W.T @ W, y.detach() @ W
    if z0 is None:
        z = torch.zeros_like(b)
    else:
        _check_codes(z0, y, W_d, "z0")
        z = z0.detach().clamp_min(0) if positive else z0.detach()
    x, s = z, 1.0
    for _ in range(n_iter):
        z_new = _shrink_rows(x, x @ G, b, L, lam, positive)
        s_new = (1 + (1 + 4 * s * s) ** 0.5) / 2
        x, z, s = z_new + ((s - 1) / s_new) * (z_new - z), z_new, s_new
    return z


def _check_problem(y: torch.Tensor, W_d: torch.Tensor, lam: float) -> None:
    check_tensor(y, "y", ndim=2)
    check_tensor(W_d, "W_d", ndim=2)
    check_same(("y", y), ("W_d", W_d))
    if y.shape[1] != W_d.shape[0]:
        raise ValueError(
            f"y has {y.shape[1]} features but W_d has {W_d.shape[0]} rows: "
            "W_d must be [n_features, n_atoms]"
        )
    check_nonneg(lam, "lam")


def _check_codes(z: torch.Tensor, y: torch.Tensor, W_d: torch.Tensor, name: str) -> None:
    check_tensor(z, name, ndim=2)
    check_same(("y", y), (name, z))
    if tuple(z.shape) != (y.shape[0], W_d.shape[1]):
        raise ValueError(
            f"{name} must have shape {(y.shape[0], W_d.shape[1])} (batch, n_atoms), "
            f"got {tuple(z.shape)}"
        )


def _energy_and_gap(z, zG, b, yy, lam, positive=False):
    """Per-sample energy and duality gap from z, zG = z W_dᵀW_d, b = y W_d, yy = ‖y‖²."""
    zb, zGz = (z * b).sum(1), (z * zG).sum(1)
    E = 0.5 * yy - zb + 0.5 * zGz + lam * z.abs().sum(1)
    r2 = (yy - 2 * zb + zGz).clamp_min(0)  # ‖y − W_d z‖²
    corr = (b - zG) if positive else (b - zG).abs()  # W_dᵀ(y − W_d z): dual feasibility
    s = (lam / corr.amax(1).clamp_min(1e-30)).clamp(max=1.0)
    dual = s * (yy - zb) - 0.5 * s * s * r2  # yᵀν − ½‖ν‖², ν = s (y − W_d z)
    return E, E - dual


def _proximal_gradient(
    y, W_d, lam, z0, tol, max_iter, L, backtrack, callback, momentum, restart, positive
):
    """The one implementation behind ista (momentum=False) and fista (momentum=True)."""
    _check_problem(y, W_d, lam)
    check_nonneg(tol, "tol")
    max_iter = check_count(max_iter, "max_iter")
    check_callable(callback, "callback")
    L = lipschitz(W_d) if L is None else check_positive(L, "L")
    W = W_d.detach()
    G, b, yy = W.T @ W, y.detach() @ W, y.detach().pow(2).sum(1)
    if z0 is None:
        z, zG = torch.zeros_like(b), torch.zeros_like(b)
    else:
        _check_codes(z0, y, W_d, "z0")
        if positive and bool((z0 < 0).any()):
            raise ValueError("z0 has negative entries but positive=True asks for z ≥ 0")
        z = z0.detach().clone()
        zG = z @ G
    z_out, E_all = z.clone(), _energy_and_gap(z, zG, b, yy, lam, positive)[0]
    idx = torch.arange(len(b), device=b.device)  # rows still iterating
    x, xG = z, zG
    s = torch.ones_like(b[:, :1])
    Lr = torch.full_like(s, L / 8 if backtrack else L)  # per-sample step 1/Lr
    history = []
    converged = False
    for it in range(1, max_iter + 1):
        z_new = _shrink_rows(x, xG, b, Lr, lam, positive)
        zG_new = z_new @ G
        if backtrack:  # sufficient decrease ½‖W_d d‖² ≤ (Lr/2)‖d‖², d = z_new − x
            d = z_new - x
            dGd, dd = (d * (zG_new - xG)).sum(1, keepdim=True), (d * d).sum(1, keepdim=True)
            bad = dGd > Lr * dd
            Lr = torch.where(bad, torch.maximum(2 * Lr, dGd / dd.clamp_min(1e-30)), 0.9 * Lr)
            Lr = Lr.clamp(1e-6 * L, L)  # the floor keeps Lr out of subnormal numbers
            z_new, zG_new = torch.where(bad, z, z_new), torch.where(bad, zG, zG_new)
        E, gap = _energy_and_gap(z_new, zG_new, b, yy, lam, positive)
        if lam > 0:
            done = gap <= tol * E
        else:
            step = torch.linalg.vector_norm(z_new - z, dim=1)
            done = step <= tol * torch.linalg.vector_norm(z_new, dim=1)
        if backtrack:
            done = done & ~bad[:, 0]
        if momentum:
            s_new = (1 + torch.sqrt(1 + 4 * s * s)) / 2
            beta = (s - 1) / s_new
            if restart:
                reset = ((x - z_new) * (z_new - z)).sum(1, keepdim=True) > 0
                beta, s_new = beta.masked_fill(reset, 0.0), s_new.masked_fill(reset, 1.0)
            if backtrack:
                beta, s_new = beta.masked_fill(bad, 0.0), torch.where(bad, s, s_new)
            x, xG = z_new + beta * (z_new - z), zG_new + beta * (zG_new - zG)
            s = s_new
        else:
            x, xG = z_new, zG_new
        z, zG = z_new, zG_new
        z_out[idx], E_all[idx] = z, E
        history.append(E_all.mean())
        stop = callback is not None and bool(callback(it, z_out))
        if bool(done.all()):
            converged = True
            break
        if stop:
            break
        if bool(done.any()):  # freeze the rows that are done, iterate on the others
            keep = ~done
            idx, z, zG, x, xG, s, Lr, b, yy = (t[keep] for t in (idx, z, zG, x, xG, s, Lr, b, yy))
    return SolverResult(z_out, torch.stack(history), it, converged)


def _shrink_rows(x, xG, b, Lr, lam, positive=False):
    """Shrinkage_{λ/Lr}(x − (1/Lr)(x W_dᵀW_d − y W_d)) with one step size per row."""
    u = x - (xG - b) / Lr
    if positive:  # the proximal operator of λ‖z‖₁ + (z ≥ 0)
        return (u - lam / Lr).clamp_min(0)
    return u - u.clamp(-lam / Lr, lam / Lr)
