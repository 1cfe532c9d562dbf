"""LISTA: a learned, truncated ISTA (Gregor & LeCun, 2010). Introduced in chapter 04.

ISTA (chapter 03, :func:`lib.ista`) with the fixed step 1/L,

    z(t+1) = Shrinkage_{λ/L}( z(t) − (1/L) W_dᵀ(W_d z(t) − y) ),

is, with ``W_e = W_dᵀ / L`` and ``S = I − (1/L) W_dᵀW_d`` (the book's definition, chapters
03 and 04), the recurrent net

    z(t+1) = Shrinkage_θ( W_e y + S z(t) ),        θ = λ/L,

with a *plus* sign in front of ``S z(t)``. LISTA unrolls it for K steps from z(0) = 0 and
learns ``W_e``, ``S`` and θ by backpropagation through the K steps so that z(K) predicts
the optimal code z* of E(y, z) = ½‖y − W_d z‖² + λ‖z‖₁.

Shapes are batch-first: ``y [batch, n_features]``, ``W_d [n_features, n_atoms]``,
``S [n_atoms, n_atoms]``, ``z [batch, n_atoms]``. The parameter ``LISTA.W_e`` stores the
transpose of W_e, ``W_eᵀ = W_d / L [n_features, n_atoms]``, so that for a batch of rows the
update reads ``z ← Shrinkage_θ(y @ LISTA.W_e + z Sᵀ)``.

z* depends on y only through W_dᵀy, i.e. through the projection of y onto the range of W_d.
``LISTA(..., project=True)`` lets the encoder see only that projection, through an orthonormal
basis Q ``[n_features, r]`` of a space that contains the range (r = min(n_features, n_atoms)):
``W_e y`` becomes ``W_e Q Qᵀ y``, and the parameter is ``QᵀW_d / L [r, n_atoms]``. It
computes the same function at initialization, but it cannot fit the training set with the
part of y that z* ignores; on the MNIST benchmark (``benchmarks/bench_lista.py``) it trains
faster and generalizes better.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from lib._checks import (
    adam,
    check_flags,
    check_nonneg,
    check_positive,
    check_progress,
    check_same,
    check_seed,
    check_tensor,
)
from lib.operators import lipschitz
from lib.proximal import _soft_threshold
from lib.solvers import SolverResult, energy

__all__ = [
    "code_error",
    "deepen",
    "LISTA",
    "LISTAHistory",
    "run_lista",
    "train_lista",
]


def _check_steps(n_steps: object, name: str = "n_steps") -> int:
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"{name} must be an int ≥ 1, got {n_steps!r}")
    return n_steps


class LISTA(nn.Module):
    """K unrolled steps of ``z(t+1) = Shrinkage_θ(W_e y + S z(t))`` from z(0) = 0.

    Initialized from the dictionary ``W_d [n_features, n_atoms]`` and λ so that, before
    training, it computes exactly K steps of ISTA with step 1/L (L = ‖W_d‖₂² unless given):
    ``W_e = W_dᵀ / L`` (stored transposed, as the parameter ``W_e = W_d / L``),
    ``S = I − W_dᵀW_d / L``, θ = λ/L for every atom. ``W_e`` and ``S`` are
    tied (shared by all steps); with ``per_step_thresholds=True`` every step has its own
    θ ``[n_steps, n_atoms]``, else one θ ``[n_atoms]`` serves all steps.

    ``project=True`` (see the module docstring) stores ``Q [n_features, r]``, orthonormal
    columns from the QR factorization of W_d that span its range (a buffer, not trained;
    r = min(n_features, n_atoms)), and encodes ``(y Q) W_e`` with ``W_e = QᵀW_d / L
    [r, n_atoms]``: the same start, fewer encoder weights when n_features > n_atoms.
    :meth:`encoder` gives the matrix acting on y in both cases. The parameters take W_d's
    device and dtype.
    """

    def __init__(
        self,
        W_d: torch.Tensor,
        lam: float,
        n_steps: int,
        per_step_thresholds: bool = False,
        L: float | None = None,
        project: bool = False,
    ) -> None:
        check_flags(per_step_thresholds=per_step_thresholds, project=project)
        super().__init__()
        check_tensor(W_d, "W_d", ndim=2)
        lam = check_nonneg(lam, "lam")
        self.n_steps = _check_steps(n_steps)
        L = lipschitz(W_d) if L is None else check_positive(L, "L")
        W = W_d.detach()
        self.n_features = W.shape[0]
        eye = torch.eye(W.shape[1], dtype=W.dtype, device=W.device)
        if project:
            Q = torch.linalg.qr(W.double(), mode="reduced").Q.to(W.dtype)  # range ⊇ range(W_d)
            self.register_buffer("Q", Q)
            self.W_e = nn.Parameter(Q.T @ W / L)
        else:
            self.Q = None
            self.W_e = nn.Parameter(W / L)
        self.S = nn.Parameter(eye - W.T @ W / L)
        shape = (self.n_steps, W.shape[1]) if per_step_thresholds else (W.shape[1],)
        self.theta = nn.Parameter(torch.full(shape, lam / L, dtype=W.dtype, device=W.device))

    def encoder(self) -> torch.Tensor:
        """The matrix ``[n_features, n_atoms]`` that gives ``W_e y`` as ``y @ encoder()``."""
        return self.W_e if self.Q is None else self.Q @ self.W_e

    def _theta(self, t: int) -> torch.Tensor:
        """θ of step t (0-based); past the trained depth the last step's θ is reused."""
        return self.theta[min(t, len(self.theta) - 1)] if self.theta.dim() == 2 else self.theta

    def _check_input(self, y: torch.Tensor, name: str = "y") -> None:
        check_tensor(y, name, ndim=2)
        check_same(("W_e", self.W_e.detach()), (name, y))
        if y.shape[1] != self.n_features:
            raise ValueError(
                f"{name} has {y.shape[1]} features, the encoder expects {self.n_features}"
            )

    def steps(self, y: torch.Tensor, n_steps: int | None = None) -> list[torch.Tensor]:
        """The codes after every step: a list of `n_steps` (default K) tensors ``[batch, n_atoms]``.

        ``n_steps`` larger than the trained K keeps iterating with the same weights.
        """
        self._check_input(y)
        n_steps = self.n_steps if n_steps is None else _check_steps(n_steps)
        if self.Q is None:
            b = y @ self.W_e  # W_e y for every row, computed once
        elif len(y) > self.n_features:  # large batch: fold Q into the encoder first
            b = y @ (self.Q @ self.W_e)
        else:
            b = (y @ self.Q) @ self.W_e
        z = _soft_threshold(b, self._theta(0))  # step 1 from z(0) = 0
        out = [z]
        for t in range(1, n_steps):
            z = _soft_threshold(b + z @ self.S.T, self._theta(t))
            out.append(z)
        return out

    def forward(self, y: torch.Tensor, n_steps: int | None = None) -> torch.Tensor:
        """The codes ``z(K) [batch, n_atoms]`` of ``y [batch, n_features]``."""
        return self.steps(y, n_steps)[-1]


def deepen(model: LISTA, n_steps: int) -> LISTA:
    """A copy of `model` with `n_steps` steps, for layer-wise training (K=1, then K=2, ...).

    Tied weights (and the basis Q of ``project=True``) are copied; per-step thresholds are
    extended by repeating the last one (or cut when `n_steps` is smaller).
    """
    n_steps = _check_steps(n_steps)
    new = copy.deepcopy(model)
    new.n_steps = n_steps
    theta = new.theta.detach()
    if theta.dim() == 2:
        idx = torch.arange(n_steps, device=theta.device).clamp(max=len(theta) - 1)
        new.theta = nn.Parameter(theta[idx].clone())
    return new


def run_lista(
    y: torch.Tensor, W_d: torch.Tensor, lam: float, model: LISTA, n_steps: int | None = None
) -> SolverResult:
    """Run `model` on ``y`` and report like :func:`lib.ista`: a :class:`lib.SolverResult`.

    ``objective_history [n_steps]`` is the batch-mean energy E(y, z(t)) = ½‖y − W_d z(t)‖² +
    λ‖z(t)‖₁ after every step; ``converged`` is False (a fixed number of steps, no test).
    """
    if not isinstance(model, LISTA):
        raise ValueError(f"model must be a lib.LISTA, got {type(model).__name__}")
    model._check_input(y)
    check_tensor(W_d, "W_d", ndim=2)
    check_same(("y", y), ("W_d", W_d))
    check_nonneg(lam, "lam")
    with torch.no_grad():
        zs = model.steps(y, n_steps)
        hist = torch.stack([energy(y, z, W_d, lam).mean() for z in zs])
    return SolverResult(zs[-1], hist, len(zs), False)


def code_error(z: torch.Tensor, z_star: torch.Tensor) -> torch.Tensor:
    """Relative code prediction error over a batch: ``Σ‖z − z*‖² / Σ‖z*‖²`` (a scalar)."""
    check_tensor(z, "z")
    check_tensor(z_star, "z_star")
    if z.shape != z_star.shape:
        raise ValueError(f"z {tuple(z.shape)} and z_star {tuple(z_star.shape)} must match")
    check_same(("z_star", z_star), ("z", z))
    return (z - z_star).pow(2).sum() / z_star.pow(2).sum().clamp_min(1e-30)


@dataclass
class LISTAHistory:
    """Per-epoch losses of :func:`train_lista`: the relative code error (see :func:`code_error`)
    on the training set (mean over its mini-batches) and, when given, on the held-out set."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)


def _check_pair(model: LISTA, y: torch.Tensor, z: torch.Tensor, ny: str, nz: str) -> None:
    model._check_input(y, ny)
    check_tensor(z, nz, ndim=2)
    check_same((ny, y), (nz, z))
    if tuple(z.shape) != (y.shape[0], model.S.shape[0]):
        raise ValueError(
            f"{nz} must have shape {(y.shape[0], model.S.shape[0])} (batch, n_atoms), "
            f"got {tuple(z.shape)}"
        )


def train_lista(
    model: LISTA,
    y: torch.Tensor,
    z_star: torch.Tensor,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    progress: bool = True,
    y_val: torch.Tensor | None = None,
    z_val: torch.Tensor | None = None,
    schedule: str = "constant",
) -> LISTAHistory:
    """Train `model` in place by backpropagation through its K steps, with Adam.

    Minimizes the relative error ``Σ‖z(K) − z*‖² / Σ‖z*‖²`` of each mini-batch, where
    ``z_star [n, n_atoms]`` are the optimal codes of ``y [n, n_features]`` (e.g. from
    :func:`lib.fista` with a tight `tol`). Mini-batches are drawn from a generator seeded with
    `seed`; the last one may be smaller. ``y_val``/``z_val`` (both or neither) give the
    held-out loss after every epoch. ``schedule="cosine"`` decays the learning rate from `lr`
    to 0 along a half cosine over all the mini-batches (``"constant"``: no decay), which
    lowers the final loss for the same number of epochs. Returns a :class:`LISTAHistory`.
    """
    check_flags(progress=progress)
    if not isinstance(model, LISTA):
        raise ValueError(f"model must be a LISTA, got {type(model).__name__}")
    _check_pair(model, y, z_star, "y", "z_star")
    if (y_val is None) != (z_val is None):
        raise ValueError("give both y_val and z_val, or neither")
    if y_val is not None:
        _check_pair(model, y_val, z_val, "y_val", "z_val")
    epochs, batch_size = _check_steps(epochs, "epochs"), _check_steps(batch_size, "batch_size")
    lr = check_positive(lr, "lr")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int ≥ 0, got {seed!r}")
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"schedule must be 'constant' or 'cosine', got {schedule!r}")
    g = torch.Generator().manual_seed(check_seed(seed))
    opt = adam(list(model.parameters()), lr)
    n_updates, done = epochs * math.ceil(len(y) / batch_size), 0
    history = LISTAHistory()
    bar = tqdm(range(epochs), desc=f"LISTA K={model.n_steps}", disable=not progress)
    for _ in bar:
        order = torch.randperm(len(y), generator=g).to(y.device)
        total = 0.0
        for start in range(0, len(y), batch_size):
            idx = order[start : start + batch_size]
            if schedule == "cosine":
                opt.param_groups[0]["lr"] = lr * 0.5 * (1 + math.cos(math.pi * done / n_updates))
            loss = code_error(model(y[idx]), z_star[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            done += 1
            total += check_progress(float(loss.detach()), done, lr) * len(idx)
        history.train_loss.append(total / len(y))
        if y_val is not None:
            with torch.no_grad():
                history.val_loss.append(float(code_error(model(y_val), z_val)))
            bar.set_postfix(val=f"{history.val_loss[-1]:.4f}")
    return history
