"""Filter diagnostics: orientation, frequency, shift and radial symmetry of learned filters.

Chapters 05–07 read these off the dictionaries and filter banks they learn (Gabor-like,
oriented edges, center-surround). Filters are ``K [n_filters, C, k, k]``.
"""

from __future__ import annotations

import torch
from torch.nn.functional import conv2d

from lib._checks import (
    check_count,
    check_tensor,
)
from lib.operators import _centroid, _check_filters

__all__ = [
    "filter_orientation",
    "orientation_gap",
    "peak_frequency",
    "radial_symmetry",
    "ring_average",
    "shift_similarity",
]


def filter_orientation(K: torch.Tensor, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Dominant orientation and anisotropy of each filter, from its 2-D power spectrum.

    For ``K [n_filters, C, k, k]`` (channels summed), P(ω) = Σ_c |K̂_c(ω)|² on a `size`²
    grid and the spectral structure tensor T = Σ_ω P(ω) ω ωᵀ with eigenvalues μ₁ ≥ μ₂.
    Returns ``angle [n_filters]`` in degrees in [0, 180): the direction of the principal
    frequency (perpendicular to the edges; 0° = vertical edges), and ``anisotropy``
    (μ₁ − μ₂)/(μ₁ + μ₂) in [0, 1]: 0 for a radially symmetric (center-surround) filter,
    1 for a pure grating or edge. Chapter 06.
    """
    _check_filters(K)
    size = check_count(size, "size", minimum=K.shape[-1])
    P = torch.fft.fft2(K.detach().double(), s=(size, size)).abs().pow(2).sum(1)
    w = torch.fft.fftfreq(size, dtype=torch.float64, device=K.device)
    wy, wx = torch.meshgrid(w, w, indexing="ij")
    Txx, Tyy, Txy = (P * wx * wx).sum((1, 2)), (P * wy * wy).sum((1, 2)), (P * wx * wy).sum((1, 2))
    angle = torch.rad2deg(0.5 * torch.atan2(2 * Txy, Txx - Tyy)) % 180
    aniso = torch.sqrt((Txx - Tyy) ** 2 + 4 * Txy**2) / (Txx + Tyy).clamp_min(1e-30)
    return angle, aniso


def peak_frequency(K: torch.Tensor, size: int = 32) -> torch.Tensor:
    """Radius |ω|, in cycles per pixel, of the peak of each filter's power spectrum.

    For ``K [n_filters, C, k, k]`` (channels summed, zero-padded to `size`²): 0 for a filter
    with a mean, about 1/k for a single edge across the window, and up to √2/2 ≈ 0.71 for a
    checkerboard. Chapter 06 calls a filter a grating when it is ≥ 0.25 (a period of at most
    4 pixels). Returns ``[n_filters]``.
    """
    _check_filters(K)
    size = check_count(size, "size", minimum=K.shape[-1])
    P = torch.fft.fft2(K.detach().double(), s=(size, size)).abs().pow(2).sum(1).flatten(1)
    w = torch.fft.fftfreq(size, dtype=torch.float64, device=K.device)
    radius = torch.sqrt(w[:, None] ** 2 + w[None] ** 2).flatten()
    return radius[P.argmax(1)]


def shift_similarity(atoms: torch.Tensor) -> torch.Tensor:
    """For each atom, its largest normalized cross-correlation with another atom over shifts.

    ``atoms [n, k, k]``; each pair is compared at every 2-D shift (zero-padded, 'full'
    correlation) and the sign is ignored, so a shifted copy of an edge scores near 1.
    Returns ``[n]``. A dictionary that spends atoms on shifted copies scores high. Chapter 06.
    """
    check_tensor(atoms, "atoms", ndim=3)
    if len(atoms) < 2:
        raise ValueError("atoms needs at least 2 atoms to compare")
    a = atoms.detach().double()
    a = a / torch.linalg.vector_norm(a.flatten(1), dim=1).clamp_min(1e-12)[:, None, None]
    k = a.shape[-1]
    xc = conv2d(a[:, None], a[:, None], padding=k - 1).abs().amax((2, 3))  # [n, n]
    return xc.fill_diagonal_(0).amax(1)


def radial_symmetry(K: torch.Tensor) -> torch.Tensor:
    """How center-surround each filter is: cosine between Kᵢ and its radial average.

    For ``K [n_filters, C, k, k]`` (channels summed), R(Kᵢ) replaces every pixel by the mean of
    the pixels at the same rounded distance from the filter's center, its energy centroid
    Σₓ x Kᵢ(x)² / Σₓ Kᵢ(x)². Returns ``[n_filters]`` in [0, 1]: 1 for a radially symmetric
    filter (a blob or a center-surround unit), near 0 for an edge or a grating, whose rings
    average out. The centroid rather than the middle of the window, because a convolutional
    filter may sit anywhere in its window (Kᵢ and Zᵢ shifted in opposite directions give the
    same Kᵢ ∗ Zᵢ): a center-surround unit one pixel off the middle is still one. Chapter 06.
    """
    _check_filters(K)
    x = K.detach().double().sum(1)  # [n, k, k]
    flat, radial = x.flatten(1), _ring_average(x, _centroid(x[:, None])).flatten(1)
    cos = (flat * radial).sum(1) / (flat.norm(dim=1) * radial.norm(dim=1)).clamp_min(1e-30)
    return cos.abs()


def _ring_average(x: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
    """``x [m, k, k]`` with every pixel replaced by the mean of the pixels at the same rounded
    distance from ``center [m, 2]`` (row, column offsets from the middle of the window)."""
    k = x.shape[-1]
    r = torch.arange(k, dtype=x.dtype, device=x.device) - (k - 1) / 2
    dy = r[None, :, None] - center[:, 0, None, None]
    dx = r[None, None, :] - center[:, 1, None, None]
    ring = torch.sqrt(dy**2 + dx**2).round().long().flatten(1)  # [m, k²]
    flat = x.flatten(1)
    sums = torch.zeros(len(x), int(ring.max()) + 1, dtype=x.dtype, device=x.device)
    counts = torch.zeros_like(sums).scatter_add_(1, ring, torch.ones_like(flat))
    return (sums.scatter_add_(1, ring, flat) / counts.clamp_min(1)).gather(1, ring).view_as(x)


def ring_average(K: torch.Tensor) -> torch.Tensor:
    """Each filter of ``K [n_filters, C, k, k]`` (each channel) averaged over rings around the
    middle of its window: the nearest radially symmetric filter, e.g. to learn with that
    constraint through ``learn_conv_dictionary(..., project=ring_average)``. Chapter 06."""
    _check_filters(K)
    x = K.reshape(-1, *K.shape[-2:])
    center = torch.zeros(len(x), 2, dtype=K.dtype, device=K.device)
    return _ring_average(x, center).view_as(K)


def orientation_gap(angle: torch.Tensor) -> float:
    """Largest gap, in degrees, between consecutive orientations on the 180° circle.

    ``angle [m]`` in degrees, as :func:`filter_orientation` returns (taken modulo 180). m
    evenly spread orientations give 180/m (22.5° for eight); no orientation gives 180.
    Unlike a count of fixed bins, it does not depend on where the bin edges fall. Chapter 06.
    """
    if not isinstance(angle, torch.Tensor) or angle.dim() != 1:
        raise ValueError(f"angle must be a 1-D tensor of degrees, got {angle!r:.60}")
    if len(angle) == 0:
        return 180.0
    check_tensor(angle, "angle", ndim=1)
    a = torch.sort(angle.detach().double() % 180).values
    return float(torch.diff(torch.cat([a, a[:1] + 180])).max())
