"""Dictionary learning: fit W_d to data by alternating sparse inference and a decoder update.

Introduced in chapter 02. For a minibatch y, infer z* = argmin_z E(y, z) with FISTA, then
update the decoder for the energy E(y, z*) = ½‖y − W_d z*‖² + λ‖z*‖₁ (same scaling as
:mod:`lib.solvers`). Two updates are offered:

- ``update="gradient"`` (chapter 02): one gradient step on the minibatch,
  W_d ← W_d + η (y − z* W_dᵀ)ᵀ z* / batch, then every column rescaled to unit norm;
- ``update="online"`` (the default, chapter 05): the online dictionary learning of Mairal,
  Bach, Ponce & Sapiro (2010). Running means A = mean z*ᵀz* and B = mean yᵀz* over every
  minibatch so far summarise the past; one pass of block-coordinate descent over the columns
  minimizes ½ tr(W_dᵀW_d A) − tr(W_dᵀB) (the reconstruction error of all past codes) with
  w_j ← w_j + (b_j − W_d a_j) / A_jj, then w_j ← w_j / max(1, ‖w_j‖).

Without the normalization the energy can be lowered for free by growing W_d and shrinking z
(λ‖z‖₁ falls, the reconstruction does not change): the column norms grow, which chapter 02
shows with ``normalize=False``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from lib._checks import (
    check_count,
    check_flags,
    check_nonneg,
    check_positive,
    check_seed,
    check_tensor,
)
from lib.solvers import energy, fista_steps

__all__ = [
    "DictionaryResult",
    "learn_dictionary",
    "normalize_columns",
]


@dataclass
class DictionaryResult:
    """W_d ``[n_features, n_atoms]`` and the mean energy of every minibatch, in order."""

    W_d: torch.Tensor
    loss_history: torch.Tensor


def normalize_columns(W_d: torch.Tensor) -> torch.Tensor:
    """Each column (atom) of ``W_d [n_features, n_atoms]`` divided by its Euclidean norm."""
    check_tensor(W_d, "W_d", ndim=2)
    return W_d / torch.linalg.vector_norm(W_d, dim=0, keepdim=True).clamp_min(1e-12)


def learn_dictionary(
    y: torch.Tensor,
    n_atoms: int,
    lam: float,
    *,
    n_epochs: int = 5,
    batch_size: int = 256,
    update: str = "online",
    memory: int | None = 50,
    positive: bool = False,
    init: str = "data",
    lr: float = 1.0,
    normalize: bool = True,
    seed: int = 0,
    max_iter: int = 50,
    progress: bool = True,
) -> DictionaryResult:
    """Learn ``W_d [n_features, n_atoms]`` from ``y [n, n_features]`` by minibatch alternation.

    Each minibatch: codes ``z [batch, n_atoms]`` from `max_iter` iterations of
    :func:`lib.solvers.fista_steps` with L = ‖W_d‖₂² (warm-started from the sample's codes of
    the previous epoch), their mean energy recorded in ``loss_history``, then the decoder
    update:

    - ``update="online"``: A ← (1 − w) A + w zᵀz / batch and B ← (1 − w) B + w yᵀz / batch at
      minibatch t, with w = max(1/t, 1/memory): the mean over all minibatches so far, or over
      roughly the last `memory` of them once t > `memory`, which forgets the codes inferred
      with an early, poor dictionary (``memory=None`` never forgets). Then one
      block-coordinate pass w_j ← w_j + (b_j − W_d a_j) / A_jj over the columns, each
      followed by w_j ← w_j / max(1, ‖w_j‖) if `normalize` (`lr` is unused);
    - ``update="gradient"``: W_d ← W_d + (lr / L_z) (y − z W_dᵀ)ᵀ z / batch with
      L_z = ‖zᵀz‖₂ / batch (the Lipschitz constant of this gradient, so ``lr=1`` is a safe
      step), then unit-norm columns if `normalize`.

    ``positive=True`` learns with non-negative codes (z ≥ 0, chapter 05): an atom can only be
    added, never subtracted, which favours parts (strokes) over whole templates.
    With ``init="data"`` W_d starts from `n_atoms` distinct samples of `y` (Gaussian noise if
    there are fewer samples); with ``init="random"`` from Gaussian noise, which lets the atoms
    become parts instead of staying close to the samples they started from. The result has
    unit-norm columns if `normalize`. Deterministic for a given `seed`; `progress` shows a
    tqdm bar. Introduced in chapter 02; the online update, `positive` and `init` in
    chapter 05.
    """
    check_flags(positive=positive, normalize=normalize, progress=progress)
    y = check_tensor(y, "y", ndim=2).detach()  # data, not a parameter: no graph through it
    n_atoms = check_count(n_atoms, "n_atoms")
    check_nonneg(lam, "lam")
    n_epochs = check_count(n_epochs, "n_epochs")
    batch_size = check_count(batch_size, "batch_size")
    check_positive(lr, "lr")
    if init not in ("data", "random"):
        raise ValueError(f'init must be "data" or "random", got {init!r}')
    if update not in ("online", "gradient"):
        raise ValueError(f'update must be "online" or "gradient", got {update!r}')
    forget = 0.0 if memory is None else 1 / check_positive(memory, "memory")
    g = torch.Generator().manual_seed(check_seed(seed))
    W_d = _init_dictionary(y, n_atoms, g, init == "random")
    Z = torch.zeros(len(y), n_atoms, dtype=y.dtype, device=y.device)
    A = torch.zeros(n_atoms, n_atoms, dtype=y.dtype, device=y.device)
    B = torch.zeros(y.shape[1], n_atoms, dtype=y.dtype, device=y.device)
    losses = []
    steps = n_epochs * -(-len(y) // batch_size)
    with tqdm(total=steps, disable=not progress, desc="learn_dictionary") as bar:
        for _ in range(n_epochs):
            for rows in torch.randperm(len(y), generator=g).split(batch_size):
                rows = rows.to(y.device)
                yb = y[rows]
                L = _lipschitz(W_d)
                z = fista_steps(yb, W_d, lam, L, max_iter, z0=Z[rows], positive=positive)
                Z[rows] = z
                losses.append(float(energy(yb, z, W_d, lam).mean()))
                if update == "online":
                    w = max(1 / (len(losses) + 1), forget)
                    A = (1 - w) * A + w * z.T @ z / len(yb)
                    B = (1 - w) * B + w * yb.T @ z / len(yb)
                    W_d = _online_step(W_d, A, B, normalize)
                else:
                    W_d = _decoder_step(yb, z, W_d, lr)
                    if normalize:
                        W_d = normalize_columns(W_d)
                bar.set_postfix(loss=f"{losses[-1]:.4g}")
                bar.update()
    if normalize:  # unused atoms (A_jj = 0) keep their unit norm; used ones may sit below 1
        W_d = normalize_columns(W_d)
    return DictionaryResult(W_d, torch.tensor(losses, dtype=torch.float64))


def _init_dictionary(
    y: torch.Tensor, n_atoms: int, g: torch.Generator, random: bool
) -> torch.Tensor:
    if n_atoms <= len(y) and not random:
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


def _lipschitz(W_d: torch.Tensor) -> float:
    """‖W_d‖₂², exactly: the largest eigenvalue of the smaller Gram matrix."""
    G = W_d.T @ W_d if W_d.shape[1] <= W_d.shape[0] else W_d @ W_d.T
    return float(torch.linalg.eigvalsh(G)[-1])


def _online_step(
    W_d: torch.Tensor, A: torch.Tensor, B: torch.Tensor, normalize: bool
) -> torch.Tensor:
    """One block-coordinate pass over the columns for ½ tr(W_dᵀW_d A) − tr(W_dᵀB).

    A loop of small vector operations: on the CPU it runs in NumPy (views of the same memory
    as the tensors), whose per-call overhead is a few times lower than torch's.
    """
    Wt = W_d.T.clone(memory_format=torch.contiguous_format)  # one atom per row, a new copy
    Bt = B.T.contiguous()
    cpu = Wt.device.type == "cpu"
    Wn, An, Bn = (t.numpy() for t in (Wt, A, Bt)) if cpu else (Wt, A, Bt)
    for j, a_jj in enumerate(A.diagonal().tolist()):
        if a_jj <= 1e-12:  # an atom no code has used yet: leave it
            continue
        w = Wn[j]
        w += (Bn[j] - An[j] @ Wn) / a_jj
        norm = float((w @ w) ** 0.5)
        if normalize and norm > 1:
            w /= norm
    return Wt.T
