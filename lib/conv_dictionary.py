"""Convolutional dictionary learning: filters Kᵢ learned from images. Chapter 06.

Alternates codes from :func:`lib.conv.conv_fista` and a projected gradient step on the
filters (unit norm, recentred), as chapter 02 does for patches. The filter diagnostics that
chapter 06 reads off the learned filters are in :mod:`lib.filters`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from lib._checks import (
    check_callable,
    check_count,
    check_flags,
    check_nonneg,
    check_positive,
    check_seed,
    check_tensor,
)
from lib.conv import conv_fista
from lib.operators import (
    _centroid,
    _check_filters,
    _decode,
    _fast_lipschitz,
    _filters_fft,
    power_iteration,
)

__all__ = [
    "ConvDictionaryResult",
    "learn_conv_dictionary",
    "normalize_filters",
]


@dataclass
class ConvDictionaryResult:
    """Filters ``K [n_filters, C, k, k]`` (unit norm each), the last codes and the energies."""

    K: torch.Tensor
    z: torch.Tensor
    loss_history: torch.Tensor


def normalize_filters(K: torch.Tensor) -> torch.Tensor:
    """Each filter ``K[i]`` divided by its Euclidean norm (over C, k, k)."""
    _check_filters(K)
    return K / torch.linalg.vector_norm(K.flatten(1), dim=1).clamp_min(1e-12)[:, None, None, None]


def learn_conv_dictionary(
    y: torch.Tensor,
    n_filters: int,
    kernel_size: int,
    lam: float,
    *,
    n_steps: int = 50,
    fista_iter: int = 20,
    lr: float = 1.0,
    boundary: str = "circular",
    recenter: bool = True,
    project: Callable[[torch.Tensor], torch.Tensor] | None = None,
    seed: int = 0,
    progress: bool = True,
) -> ConvDictionaryResult:
    """Learn filters ``K [n_filters, C, k, k]`` from images ``y [batch, C, H, W]``.

    Alternates, `n_steps` times: codes Z* from :func:`conv_fista` (`fista_iter` iterations,
    warm-started from the previous Z*), then a gradient step on the filters for
    mean_batch ½‖Y − Σᵢ Kᵢ ∗ Z*ᵢ‖², with step lr / L_K where L_K (the Lipschitz constant of
    that gradient in K) comes from a few warm-started power iterations, then unit-norm filters
    (without it, ‖K‖ grows and ‖Z‖₁ shrinks for free, as in chapter 02). Filters start as
    random centered crops of the images, chosen with a generator seeded with `seed`.

    ``recenter=True`` then moves every filter whose energy centroid is half a pixel or more
    off the middle of its window back to the middle, and its map Zᵢ the other way
    (:func:`_recenter`). Kᵢ ∗ Zᵢ does not change when Kᵢ and Zᵢ shift in opposite
    directions, so nothing holds a filter in place: without this, filters drift towards a
    border of the k × k window and lose the part that falls out of it. `project`, if given,
    maps the filters to a constraint set after every step (e.g. :func:`ring_average`), before
    the unit norm. Introduced in chapter 06.
    """
    check_flags(recenter=recenter, progress=progress)
    check_tensor(y, "y", ndim=4)
    check_callable(project, "project")
    n_filters = check_count(n_filters, "n_filters")
    k = check_count(kernel_size, "kernel_size")
    check_nonneg(lam, "lam")
    n_steps = check_count(n_steps, "n_steps")
    check_positive(lr, "lr")
    if k > min(y.shape[-2:]):
        raise ValueError(f"kernel_size={k} is larger than the images {tuple(y.shape[-2:])}")
    g = torch.Generator().manual_seed(check_seed(seed))
    K = _init_filters(y, n_filters, k, g)
    v = torch.randn(K.shape, generator=g, dtype=torch.float64).to(y.device, y.dtype)
    z, losses = None, []
    for _ in tqdm(range(n_steps), disable=not progress, desc="learn_conv_dictionary"):
        L = _fast_lipschitz(K, tuple(y.shape[-2:]), boundary)
        res = conv_fista(y, K, lam, boundary=boundary, z0=z, max_iter=fista_iter, tol=0.0, L=L)
        z = res.z
        losses.append(float(res.objective_history[-1]))
        grad, L_K, v = _filter_gradient(y, z, K, boundary, v)
        K = _filter_step(K, grad, L_K, lr)
        if recenter:
            K, z = _recenter(K, z)
        if project is not None:
            K = normalize_filters(project(K))
    return ConvDictionaryResult(K, z, torch.tensor(losses, dtype=torch.float64))


def _init_filters(y, n_filters, k, g):
    """Unit-norm filters from random k × k crops of the images (centered), plus a little noise."""
    b = torch.randint(len(y), (n_filters,), generator=g)
    r = torch.randint(y.shape[-2] - k + 1, (n_filters,), generator=g)
    c = torch.randint(y.shape[-1] - k + 1, (n_filters,), generator=g)
    crops = [y[i, :, a : a + k, d : d + k] for i, a, d in zip(b, r, c, strict=True)]
    K = torch.stack(crops).double().cpu()
    K = K - K.mean((2, 3), keepdim=True)
    K = normalize_filters(K) + 0.1 * torch.randn(K.shape, generator=g, dtype=torch.float64) / k
    return normalize_filters(K.to(y.device, y.dtype))


def _filter_gradient(y, z, K, boundary, v, n_power=2):
    """∂/∂K of mean_batch ½‖Y − D_K(Z)‖², and L_K = ‖A‖² / batch by power iteration.

    A: K ↦ D_K(Z) = Σᵢ Kᵢ ∗ Zᵢ is linear in K for fixed codes Z (:func:`_filter_ops`), so the
    gradient is Aᵀ(A K − Y) / batch and AᵀA v is one more A and Aᵀ; `v` warm-starts the
    power iteration from the previous step and comes back updated. Returns (grad, L_K, v).
    """
    A, At = _filter_ops(z, K.shape[-1], tuple(y.shape[-2:]), boundary)
    grad = At(A(K.detach()) - y) / len(y)
    # Every code zero (λ ≥ λ_max) makes A = 0: L_K = 0, v unchanged and the filters stay.
    L_K, v = power_iteration(lambda v: At(A(v)) / len(y), v, n_power, tol=0.0)
    return grad, 1.05 * L_K, v


def _filter_step(K: torch.Tensor, grad: torch.Tensor, L_K: float, lr: float) -> torch.Tensor:
    """Chapter 06's step on the filters: K − lr ∇ / L_K, then unit-norm filters.

    With L_K = 0 (all codes zero, so the gradient is zero too) the filters do not move.
    """
    if not math.isfinite(L_K) or L_K < 0:
        raise FloatingPointError(f"the filters' Lipschitz constant is {L_K}: the codes diverged")
    if L_K == 0:
        return K
    return normalize_filters(K - lr * grad / L_K)


def _filter_ops(z, k, image_shape, boundary):
    """A: K ↦ Σᵢ Kᵢ ∗ Zᵢ for fixed ``z [batch, n, H', W']`` and its adjoint Aᵀ: R ↦ ∂K.

    Circular: in the Fourier domain, Aᵀ(R)ᵢ,c = the first k × k lags of Σ_b Z_b,ᵢ ⋆ R_b,c
    (a correlation), with Ẑ computed once. Zero boundary: Aᵀ(R) = ∂⟨A K, R⟩/∂K by autograd.
    """
    if boundary == "circular":
        Z_hat = torch.fft.rfft2(z)

        def A(K):
            y_hat = torch.einsum("bihw,ichw->bchw", Z_hat, _filters_fft(K, image_shape))
            return torch.fft.irfft2(y_hat, s=image_shape)

        def At(r):
            g_hat = torch.einsum("bihw,bchw->ichw", Z_hat.conj(), torch.fft.rfft2(r))
            return torch.fft.irfft2(g_hat, s=image_shape)[..., :k, :k]

        return A, At

    def A(K):
        return _decode(z, K, boundary)

    def At(r):
        Kr = torch.zeros(z.shape[1], r.shape[1], k, k, dtype=r.dtype, device=r.device)
        Kr.requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad((A(Kr) * r).sum(), Kr)
        return g

    return A, At


def _shift_in_window(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``x [..., k, k]`` moved by (dy, dx) pixels inside its window; what leaves it is lost."""
    k = x.shape[-1]
    padded = torch.nn.functional.pad(x, (max(dx, 0), max(-dx, 0), max(dy, 0), max(-dy, 0)))
    top, left = max(-dy, 0), max(-dx, 0)
    return padded[..., top : top + k, left : left + k]


def _recenter(K: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Filters moved so their energy centroid is within half a pixel of the window's middle.

    Kᵢ moves by −d, the rounded centroid, and its map Zᵢ by +d (a circular roll), so
    Kᵢ ∗ Zᵢ is unchanged but for the part of Kᵢ pushed out of the window (usually the
    small tail opposite the one pulled back in). With the zero boundary the rolled Zᵢ is
    only a warm start for the next codes. Returns unit-norm filters and the moved maps.
    """
    shifts = _centroid(K).round().long().tolist()
    K, z = K.clone(), z.clone()
    for i, (dy, dx) in enumerate(shifts):
        if dy or dx:
            K[i] = _shift_in_window(K[i], -dy, -dx)
            z[:, i] = torch.roll(z[:, i], (dy, dx), (-2, -1))
    return normalize_filters(K), z
