"""Dictionary learning: fit W_d to data by alternating sparse inference and a gradient step.

Introduced in chapter 02. For a minibatch y, infer z* = argmin_z E(y, z) with FISTA, then take a
step on the decoder for the energy E(y, z*) = ½‖y − W_d z*‖² + λ‖z*‖₁ (same scaling as
:mod:`lib.solvers`):

    W_d ← W_d − η ∂/∂W_d mean_batch E = W_d + η (y − z* W_dᵀ)ᵀ z* / batch,

and rescale every column (atom) of W_d to unit norm. Without that normalisation the energy
can be lowered for free by growing W_d and shrinking z (λ‖z‖₁ falls, the reconstruction does
not change): the column norms grow, which chapter 02 shows with ``normalize=False``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from lib._checks import check_nonneg, check_positive, check_tensor
from lib.solvers import fista


@dataclass
class DictionaryResult:
    """W_d ``[n_features, n_atoms]`` and the mean energy of every minibatch, in order."""

    W_d: torch.Tensor
    loss_history: torch.Tensor


def normalize_columns(W_d: torch.Tensor) -> torch.Tensor:
    """Each column (atom) of ``W_d [n_features, n_atoms]`` divided by its Euclidean norm."""
    return W_d / torch.linalg.vector_norm(W_d, dim=0, keepdim=True).clamp_min(1e-12)


def learn_dictionary(
    y: torch.Tensor,
    n_atoms: int,
    lam: float,
    *,
    n_epochs: int = 5,
    batch_size: int = 256,
    lr: float = 1.0,
    normalize: bool = True,
    seed: int = 0,
    max_iter: int = 200,
    tol: float = 1e-3,
    progress: bool = True,
) -> DictionaryResult:
    """Learn ``W_d [n_features, n_atoms]`` from ``y [n, n_features]`` by minibatch alternation.

    Each minibatch: codes ``z [batch, n_atoms]`` from :func:`lib.solvers.fista` (warm-started
    from the sample's codes of the previous epoch, `max_iter` and `tol` passed through), then
    W_d ← W_d + (lr / L_z) (y − z W_dᵀ)ᵀ z / batch with L_z = ‖zᵀz‖₂ / batch (the Lipschitz
    constant of this gradient, so ``lr=1`` is a safe step), then unit-norm columns if
    `normalize`. W_d starts from `n_atoms` distinct samples of `y` (Gaussian noise if there are
    fewer samples), normalised. Deterministic for a given `seed`; `progress` shows a tqdm bar.
    Introduced in chapter 02.
    """
    check_tensor(y, "y", ndim=2)
    n_atoms = int(check_positive(n_atoms, "n_atoms"))
    check_nonneg(lam, "lam")
    n_epochs = int(check_positive(n_epochs, "n_epochs"))
    batch_size = int(check_positive(batch_size, "batch_size"))
    check_positive(lr, "lr")
    g = torch.Generator().manual_seed(seed)
    W_d = _init_dictionary(y, n_atoms, g)
    Z = torch.zeros(len(y), n_atoms, dtype=y.dtype, device=y.device)
    losses = []
    steps = n_epochs * -(-len(y) // batch_size)
    with tqdm(total=steps, disable=not progress, desc="learn_dictionary") as bar:
        for _ in range(n_epochs):
            for rows in torch.randperm(len(y), generator=g).split(batch_size):
                rows = rows.to(y.device)
                yb = y[rows]
                res = fista(yb, W_d, lam, z0=Z[rows], max_iter=max_iter, tol=tol)
                Z[rows] = res.z
                W_d = _decoder_step(yb, res.z, W_d, lr)
                if normalize:
                    W_d = normalize_columns(W_d)
                losses.append(float(res.objective_history[-1]))
                bar.set_postfix(loss=f"{losses[-1]:.4g}")
                bar.update()
    return DictionaryResult(W_d, torch.tensor(losses, dtype=torch.float64))


def _init_dictionary(y: torch.Tensor, n_atoms: int, g: torch.Generator) -> torch.Tensor:
    if n_atoms <= len(y):
        W_d = y[torch.randperm(len(y), generator=g)[:n_atoms].to(y.device)].T.clone()
    else:
        W_d = torch.randn(y.shape[1], n_atoms, generator=g, dtype=torch.float64)
        W_d = W_d.to(y.device, y.dtype)
    return normalize_columns(W_d)


def _decoder_step(y: torch.Tensor, z: torch.Tensor, W_d: torch.Tensor, lr: float) -> torch.Tensor:
    """One gradient step on mean_batch ½‖y − W_d z‖² with step lr / L_z."""
    grad = -(y - z @ W_d.T).T @ z / len(y)
    L_z = torch.linalg.matrix_norm(z.T @ z / len(y), ord=2)
    return W_d - lr * grad / L_z.clamp_min(1e-12)
