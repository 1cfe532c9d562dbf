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

from lib._checks import (
    check_callable,
    check_count,
    check_flags,
    check_nonneg,
    check_positive,
    check_same,
    check_tensor,
)
from lib.operators import lipschitz
from lib.proximal import Smooth, proximal_gradient

__all__ = [
    "energy",
    "fista",
    "fista_steps",
    "ista",
    "SolverResult",
]


@dataclass
class SolverResult:
    """What every iterative solver of the book returns (ISTA, FISTA, LISTA, conv FISTA).

    z: the codes, ``[batch, n_atoms]`` (or ``[batch, n_atoms, H, W]`` for convolutions).
    objective_history: ``[n_iter]``, the energy averaged over the batch after each iteration.
    n_iter: the number of iterations (or unrolled layers) run.
    converged: True when every sample met the stopping tolerance before the iteration cap.
    energy: ``[batch]``, the energy of every sample at the returned codes, when the solver
    reports it (chapter 01's inference: the free energy F(y)), else None.
    """

    z: torch.Tensor
    objective_history: torch.Tensor
    n_iter: int
    converged: bool
    energy: torch.Tensor | None = None


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
    return _dense_loop(
        y, W_d, lam, z0, tol, max_iter, L, backtrack, callback, False, None, positive
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
    restart = "gradient" if restart else None
    return _dense_loop(
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
    if z0 is None:
        z = torch.zeros(len(y), W_d.shape[1], dtype=y.dtype, device=y.device)
    else:
        _check_codes(z0, y, W_d, "z0")
        z = z0.detach().clamp_min(0) if positive else z0.detach()
    f = _LeastSquares.of(W_d, y)
    opts = dict(max_iter=n_iter, tol=0.0, momentum=True, restart=None, stop=None)
    return proximal_gradient(f, z, lam, L, positive=positive, **opts)[0]


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


class _LeastSquares(Smooth):
    """f(z) = ½‖y − W_d z‖², cached in code space: c(z) = z W_dᵀW_d, from G = W_dᵀW_d,
    b = y W_d and ‖y‖² (one iteration costs batch·n_atoms², whatever n_features)."""

    def __init__(self, G: torch.Tensor, b: torch.Tensor, yy: torch.Tensor) -> None:
        self.G, self.b, self.yy = G, b, yy

    @classmethod
    def of(cls, W_d: torch.Tensor, y: torch.Tensor) -> _LeastSquares:
        W, y = W_d.detach(), y.detach()
        return cls(W.T @ W, y @ W, y.pow(2).sum(1))

    def cache(self, z):
        return z @ self.G

    def value(self, z, cz):
        return 0.5 * self.yy - (z * self.b).sum(1) + 0.5 * (z * cz).sum(1)

    def gradient(self, x, cx):
        return cx - self.b

    def curvature(self, d, cd):
        return (d * cd).sum(1)

    def gap(self, z, cz, lam, E, positive):
        """E minus the dual objective at ν = (y − W_d z)·min(1, λ/‖W_dᵀ(y − W_d z)‖∞)."""
        zb, zGz = (z * self.b).sum(1), (z * cz).sum(1)
        r2 = (self.yy - 2 * zb + zGz).clamp_min(0)  # ‖y − W_d z‖²
        corr = (self.b - cz) if positive else (self.b - cz).abs()  # W_dᵀ(y − W_d z)
        s = (lam / corr.amax(1).clamp_min(1e-30)).clamp(max=1.0)
        return E - (s * (self.yy - zb) - 0.5 * s * s * r2)  # dual: yᵀν − ½‖ν‖²

    def take(self, keep):
        return _LeastSquares(self.G, self.b[keep], self.yy[keep])


def _dense_loop(
    y, W_d, lam, z0, tol, max_iter, L, backtrack, callback, momentum, restart, positive
):
    """ista (no momentum) and fista on :class:`_LeastSquares`."""
    _check_problem(y, W_d, lam)
    check_nonneg(tol, "tol")
    max_iter = check_count(max_iter, "max_iter")
    check_callable(callback, "callback")
    L = lipschitz(W_d) if L is None else check_positive(L, "L")
    if z0 is None:
        z = torch.zeros(len(y), W_d.shape[1], dtype=y.dtype, device=y.device)
    else:
        _check_codes(z0, y, W_d, "z0")
        if positive and bool((z0 < 0).any()):
            raise ValueError("z0 has negative entries but positive=True asks for z ≥ 0")
        z = z0.detach().clone()
    z, _, history, it, converged = proximal_gradient(
        _LeastSquares.of(W_d, y), z, lam, L, max_iter=max_iter, tol=tol, momentum=momentum,
        restart=restart, stop="gap", backtrack=backtrack, positive=positive,
        callback=callback,
    )  # fmt: skip
    return SolverResult(z, history, it, converged)
