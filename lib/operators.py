"""Linear operators: the dictionary W_d and the convolution D(Z) = Σᵢ Kᵢ ∗ Zᵢ; Dᵀ, ‖D‖₂².

Both decoders of the book are linear maps from codes to signals, and every solver needs the
same three things from them: D z, Dᵀ r, and the Lipschitz constant L = ‖D‖₂² of the gradient
of ½‖y − D z‖², computed by the one :func:`power_iteration` (or in closed form).
For the dictionary these are ``z @ W_d.T``, ``r @ W_d`` and :func:`lipschitz`; the rest of
this module is the convolution of chapter 06.

The patch model of chapters 02–03 writes one patch as
``y = W_d z = Σᵢ W_i z_i``; the convolutional model writes a whole image as a sum of
filters ``Kᵢ`` convolved with sparse feature maps ``Zᵢ``:

    E(Y, Z) = ½‖Y − Σᵢ Kᵢ ∗ Zᵢ‖² + λ Σᵢ ‖Zᵢ‖₁          (the ½ convention of lib.solvers)

The decoder ``D(Z) = Σᵢ Kᵢ ∗ Zᵢ`` is linear in Z, so the ISTA / FISTA step of chapter 03
holds with ``W_d`` replaced by D and ``W_dᵀ`` by its adjoint Dᵀ (a correlation with Kᵢ):

    Z(t+1) = Shrinkage_{λ/L}( X(t) − (1/L) Dᵀ(D X(t) − Y) ),     L = ‖D‖₂² (power iteration).

Shapes are batch-first: ``Y [batch, C, H, W]``, ``K [n_filters, C, k, k]``,
``Z [batch, n_filters, H', W']``. Two boundaries:

- ``boundary="zero"``: ``H' = H + k − 1``; D is ``conv_transpose2d(Z, K, padding=k−1)``
  (a true convolution, "valid" part), Dᵀ is ``conv2d(R, K, padding=k−1)``. Every pixel of Y
  is covered by k² code positions; no wrap-around.
- ``boundary="circular"``: ``H' = H``; D is the circular convolution computed with
  ``torch.fft`` (Kᵢ zero-padded to H × W at the top-left corner), as in sporco's ConvBPDN.

The solvers are in :mod:`lib.conv`, dictionary learning in :mod:`lib.conv_dictionary`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn.functional import conv2d, conv_transpose2d

from lib._checks import (
    check_count,
    check_image_shape,
    check_nonneg,
    check_same,
    check_seed,
    check_tensor,
)

__all__ = [
    "lipschitz",
    "power_iteration",
    "code_shape",
    "conv_adjoint",
    "conv_decode",
    "conv_lipschitz",
    "conv_matrix",
]

BOUNDARIES = ("zero", "circular")


def _check_boundary(boundary: str) -> str:
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {BOUNDARIES}, got {boundary!r}")
    return boundary


def _check_filters(K: torch.Tensor) -> None:
    check_tensor(K, "K", ndim=4)
    if K.shape[2] != K.shape[3]:
        raise ValueError(f"K must be [n_filters, C, k, k] with square filters, got {K.shape}")


def _check_images(y: torch.Tensor, K: torch.Tensor) -> None:
    check_tensor(y, "y", ndim=4)
    _check_filters(K)
    check_same(("y", y), ("K", K))
    if y.shape[1] != K.shape[1]:
        raise ValueError(
            f"y has {y.shape[1]} channels but K has {K.shape[1]}: K must be [n_filters, C, k, k]"
        )
    if min(y.shape[-2:]) < K.shape[-1]:
        raise ValueError(f"images {tuple(y.shape[-2:])} are smaller than the filters")


def _check_codes(z, y, K, boundary, name):
    check_tensor(z, name, ndim=4)
    check_same(("y", y), (name, z))
    want = (len(y), K.shape[0], *code_shape(tuple(y.shape[-2:]), K.shape[-1], boundary))
    if tuple(z.shape) != want:
        raise ValueError(f"{name} must have shape {want} (batch, n_filters, H', W'), got {z.shape}")


def code_shape(image_shape: tuple[int, int], k: int, boundary: str = "zero") -> tuple[int, int]:
    """(H', W') of the feature maps Zᵢ for an image (H, W) and k × k filters."""
    H, W = check_image_shape(image_shape)
    k = check_count(k, "k")
    if _check_boundary(boundary) == "circular":
        return H, W
    return H + k - 1, W + k - 1


def _filters_fft(K: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """rfft2 of the filters zero-padded to `shape`: ``[n_filters, C, H, W//2 + 1]``."""
    return torch.fft.rfft2(K, s=shape)


def conv_decode(
    z: torch.Tensor, K: torch.Tensor, boundary: str = "zero", K_hat: torch.Tensor | None = None
) -> torch.Tensor:
    """D(Z) = Σᵢ Kᵢ ∗ Zᵢ: ``z [batch, n_filters, H', W']`` → ``[batch, C, H, W]``.

    `K_hat` (circular only) is a precomputed ``torch.fft.rfft2(K, s=(H, W))``. Chapter 06.
    """
    check_tensor(z, "z", ndim=4)
    _check_filters(K)
    check_same(("z", z), ("K", K))
    if z.shape[1] != K.shape[0]:
        raise ValueError(f"z has {z.shape[1]} maps but K has {K.shape[0]} filters")
    k = K.shape[-1]
    if _check_boundary(boundary) == "zero" and min(z.shape[-2:]) < k:
        raise ValueError(f"z maps {tuple(z.shape[-2:])} are smaller than the {k}×{k} filters")
    return _decode(z, K, boundary, K_hat)


def _decode(z, K, boundary, K_hat=None):
    """conv_decode without the input checks (the inner loop of conv_fista)."""
    if boundary == "zero":
        return conv_transpose2d(z, K, padding=K.shape[-1] - 1)
    shape = tuple(z.shape[-2:])
    if K_hat is None:
        K_hat = _filters_fft(K, shape)
    y_hat = torch.einsum("bihw,ichw->bchw", torch.fft.rfft2(z), K_hat)
    return torch.fft.irfft2(y_hat, s=shape)


def conv_adjoint(
    r: torch.Tensor, K: torch.Tensor, boundary: str = "zero", K_hat: torch.Tensor | None = None
) -> torch.Tensor:
    """Dᵀ(R), a correlation with each Kᵢ: ``r [batch, C, H, W]`` → ``[batch, n_filters, H', W']``.

    The exact adjoint of :func:`conv_decode`: ⟨D Z, R⟩ = ⟨Z, Dᵀ R⟩. Chapter 06.
    """
    check_tensor(r, "r", ndim=4)
    _check_filters(K)
    check_same(("r", r), ("K", K))
    if r.shape[1] != K.shape[1]:
        raise ValueError(f"r has {r.shape[1]} channels but K has {K.shape[1]}")
    k = K.shape[-1]
    if _check_boundary(boundary) == "circular" and min(r.shape[-2:]) < k:
        raise ValueError(f"images {tuple(r.shape[-2:])} are smaller than the {k}×{k} filters")
    return _adjoint(r, K, boundary, K_hat)


def _adjoint(r, K, boundary, K_hat=None):
    """conv_adjoint without the input checks (the inner loop of conv_fista)."""
    if boundary == "zero":
        return conv2d(r, K, padding=K.shape[-1] - 1)
    shape = tuple(r.shape[-2:])
    if K_hat is None:
        K_hat = _filters_fft(K, shape)
    z_hat = torch.einsum("bchw,ichw->bihw", torch.fft.rfft2(r), K_hat.conj())
    return torch.fft.irfft2(z_hat, s=shape)


def conv_lipschitz(
    K: torch.Tensor,
    image_shape: tuple[int, int],
    boundary: str = "zero",
    n_iter: int = 500,
    tol: float = 1e-8,
    seed: int = 0,
) -> float:
    """L = ‖D‖₂² = λ_max(DᵀD) by power iteration with :func:`conv_decode` / :func:`conv_adjoint`.

    Runs on K's device and dtype; stops when the Rayleigh quotient changes by less than `tol`
    (relative). For ``boundary="circular"`` and C = 1 it equals max_ω Σᵢ |K̂ᵢ(ω)|². Chapter 06.
    """
    _check_filters(K)
    image_shape = check_image_shape(image_shape)
    n_iter = check_count(n_iter, "n_iter")
    tol = check_nonneg(tol, "tol")
    shape = code_shape(image_shape, K.shape[-1], boundary)
    g = torch.Generator().manual_seed(check_seed(seed))
    v = torch.randn(1, K.shape[0], *shape, generator=g, dtype=torch.float64)
    v = v.to(K.device, K.dtype)
    Kd = K.detach()
    K_hat = _filters_fft(Kd, image_shape) if boundary == "circular" else None

    def gram(v):
        return conv_adjoint(conv_decode(v, Kd, boundary, K_hat), Kd, boundary, K_hat)

    return power_iteration(gram, v, n_iter, tol)[0]


def conv_matrix(
    K: torch.Tensor, image_shape: tuple[int, int], boundary: str = "zero"
) -> torch.Tensor:
    """The decoder D as an explicit matrix ``W_d [C·H·W, n_filters·H'·W']``.

    Column j is D applied to the j-th unit vector (codes flattened in the order of
    ``z.reshape(batch, -1)``), so ``D(Z).reshape(batch, -1) = Z.reshape(batch, -1) @ W_dᵀ``
    and :func:`lib.solvers.fista` on ``W_d`` solves the same problem as :func:`conv_fista`.
    Only for small images: the matrix has (C·H·W)·(n·H'·W') entries. Chapter 06.
    """
    _check_filters(K)
    image_shape = check_image_shape(image_shape)
    shape = code_shape(image_shape, K.shape[-1], boundary)
    n = K.shape[0] * shape[0] * shape[1]
    if n * K.shape[1] * image_shape[0] * image_shape[1] > 5e7:
        raise ValueError(f"the matrix for images {tuple(image_shape)} is too large to build")
    eye = torch.eye(n, dtype=K.dtype, device=K.device).reshape(n, K.shape[0], *shape)
    return conv_decode(eye, K.detach(), boundary).reshape(n, -1).T.contiguous()


def _circular_ops(K: torch.Tensor, image_shape: tuple[int, int], L: float):
    """pack, unpack, D and Dᵀ/L for the circular boundary, on maps packed two per complex number.

    Packed codes are ``[batch, n/2, H, W, 2]``: maps 2j and 2j+1 are the real and imaginary
    parts of one complex map c_j (a zero map is added when n is odd). Filters and maps are real,
    so with the full 2-D FFT ĉ_j = Ẑ_2j + i Ẑ_2j+1 and

        D(Z) = 2 Re ifft2(Σ_j A_j ĉ_j),                A_j = (K̂_2j − i K̂_2j+1) / 2,
        g_2j + i g_2j+1 = ifft2(Σ_c M_jc R̂_c),         M_j = conj(K̂_2j) + i conj(K̂_2j+1),

    where g = Dᵀ(R). One iteration then costs n/2 complex FFTs each way instead of n real
    ones, about 1.6× faster with torch's CPU FFT (benchmarks/bench_conv.py).
    """
    pack, unpack, half, Dt_hat = _packed_spectral_ops(K, image_shape, L)

    def D(p):
        return 2 * torch.fft.ifft2(half(p)).real

    def Dt_over_L(r):
        return Dt_hat(torch.fft.fft2(r))

    return pack, unpack, D, Dt_over_L


def _packed_spectral_ops(K, image_shape, L):
    """pack, unpack, p ↦ Σ_j A_j ĉ_j (half of D's spectrum) and R̂ ↦ Dᵀ(R)/L packed.

    The spectrum of D(Z) itself is ``_hermitian(half(p))`` (see :func:`_circular_ops`).
    """
    n, C = K.shape[:2]
    if n % 2:
        K = torch.cat([K, torch.zeros_like(K[:1])])
    K_hat = torch.fft.fft2(K, s=image_shape)  # [n (even), C, H, W] complex
    A = 0.5 * (K_hat[0::2] - 1j * K_hat[1::2])
    M = (K_hat[0::2].conj() + 1j * K_hat[1::2].conj()) / L

    def pack(z):
        B, _, H, W = z.shape
        if n % 2:
            z = torch.cat([z, torch.zeros_like(z[:, :1])], 1)
        return z.reshape(B, -1, 2, H, W).permute(0, 1, 3, 4, 2).contiguous()

    def unpack(p):
        B, half, H, W, _ = p.shape
        return p.permute(0, 1, 4, 2, 3).reshape(B, 2 * half, H, W)[:, :n]

    def half(p):
        c_hat = torch.fft.fft2(torch.view_as_complex(p))  # [B, n/2, H, W]
        if C == 1:
            return (c_hat * A[:, 0]).sum(1, keepdim=True)
        return (c_hat[:, :, None] * A[None]).sum(1)

    def Dt_hat(r_hat):
        if C == 1:
            g_hat = r_hat * M[:, 0]
        else:
            g_hat = (r_hat[:, None] * M[None]).sum(2)
        return torch.view_as_real(torch.fft.ifft2(g_hat))

    return pack, unpack, half, Dt_hat


def _hermitian(T: torch.Tensor) -> torch.Tensor:
    """T(ω) + conj(T(−ω)): the spectrum of 2 Re ifft2(T)."""
    flipped = torch.roll(torch.flip(T, (-2, -1)), (1, 1), (-2, -1))
    return T + flipped.conj()


def _centroid(K: torch.Tensor) -> torch.Tensor:
    """Energy centroid (row, column) of each filter ``K [n, C, k, k]``, from the window's middle.

    Σₓ x Kᵢ(x)² / Σₓ Kᵢ(x)² (channels summed), in pixels: ``[n, 2]``, (0, 0) when centered.
    """
    P = K.detach().pow(2).sum(1)
    P = P / P.sum((1, 2), keepdim=True).clamp_min(1e-30)
    k = K.shape[-1]
    r = torch.arange(k, dtype=P.dtype, device=P.device) - (k - 1) / 2
    return torch.stack([(P.sum(2) * r).sum(1), (P.sum(1) * r).sum(1)], 1)


def _fast_lipschitz(K, image_shape, boundary, exact=False):
    """‖D‖₂²: closed form max_ω λ_max(K̂(ω)K̂(ω)ᴴ) when circular, else power iteration.

    Circular D is block diagonal in the Fourier domain, one [C, n_filters] block per frequency,
    so its norm is the largest over ω of the blocks' norms. With the zero boundary: a full
    power iteration when `exact`, else a short one with a 1% margin (for learning).
    """
    if boundary == "zero":
        if exact:
            return conv_lipschitz(K, image_shape, boundary)
        return 1.01 * conv_lipschitz(K, image_shape, boundary, n_iter=100, tol=1e-4)
    K_hat = _filters_fft(K.detach(), image_shape).permute(2, 3, 1, 0)  # [H, W', C, n]
    return float(torch.linalg.eigvalsh(K_hat @ K_hat.mH).amax())


def power_iteration(
    gram: Callable[[torch.Tensor], torch.Tensor], v: torch.Tensor, n_iter: int, tol: float
) -> tuple[float, torch.Tensor]:
    """λ_max of the symmetric positive operator `gram` (AᵀA) by power iteration from `v`.

    Stops when the Rayleigh quotient changes by less than `tol` (relative) or after
    `n_iter` steps; returns it and the last vector (to warm-start the next call). An
    operator that maps v to 0 (A = 0) gives 0, and `v` comes back unchanged, not 0/0.
    """
    if not callable(gram):
        raise ValueError(f"gram must be a function, got {gram!r:.60}")
    check_tensor(v, "v")
    if not bool(torch.linalg.vector_norm(v) > 0):
        raise ValueError("v must be a nonzero start vector")
    n_iter, tol = check_count(n_iter, "n_iter"), check_nonneg(tol, "tol")
    L = 0.0
    with torch.no_grad():
        for _ in range(n_iter):
            v = v / torch.linalg.vector_norm(v)
            try:
                w = gram(v)
            except RuntimeError as err:  # a shape that does not fit the operator
                raise ValueError(f"v does not fit gram: {err}") from err
            if not bool(torch.linalg.vector_norm(w) > 0):
                return 0.0, v
            L_new = float((v * w).sum())
            v = w
            if abs(L_new - L) <= tol * L_new:
                return L_new, v
            L = L_new
    return L, v


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
    return power_iteration(lambda v: W.T @ (W @ v), v, n_iter, tol)[0]
