"""Convolutional sparse coding: Y = Σᵢ Kᵢ ∗ Zᵢ, solved with convolutional FISTA or ADMM.

Introduced in chapter 06. The patch model of chapters 02–03 writes one patch as
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

With the circular boundary, :func:`conv_admm` solves the same problem as sporco's ConvBPDN does
(ADMM whose least-squares step is exact in the Fourier domain), in fewer iterations than FISTA.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.nn.functional import conv2d, conv_transpose2d, softshrink
from tqdm.auto import tqdm

from lib._checks import (
    check_callable,
    check_count,
    check_flags,
    check_image_shape,
    check_nonneg,
    check_positive,
    check_same,
    check_seed,
    check_tensor,
)
from lib.solvers import SolverResult

__all__ = [
    "code_shape",
    "conv_adjoint",
    "conv_admm",
    "conv_decode",
    "conv_energy",
    "conv_fista",
    "conv_lipschitz",
    "conv_matrix",
    "ConvDictionaryResult",
    "filter_orientation",
    "learn_conv_dictionary",
    "normalize_filters",
    "orientation_gap",
    "peak_frequency",
    "radial_symmetry",
    "ring_average",
    "shift_similarity",
]

BOUNDARIES = ("zero", "circular")
ADMM_CHECK_EVERY = 10  # iterations between residual checks (stopping and ρ)


def _check_boundary(boundary: str) -> str:
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {BOUNDARIES}, got {boundary!r}")
    return boundary


def _check_filters(K: torch.Tensor) -> None:
    check_tensor(K, "K", ndim=4)
    if K.shape[2] != K.shape[3]:
        raise ValueError(f"K must be [n_filters, C, k, k] with square filters, got {K.shape}")


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


def conv_energy(
    y: torch.Tensor, z: torch.Tensor, K: torch.Tensor, lam: float, boundary: str = "zero"
) -> torch.Tensor:
    """E(Y, Z) = ½‖Y − Σᵢ Kᵢ ∗ Zᵢ‖² + λ Σᵢ‖Zᵢ‖₁ for every image: returns ``[batch]``."""
    _check_images(y, K)
    check_nonneg(lam, "lam")
    _check_codes(z, y, K, boundary, "z")
    r = y - conv_decode(z, K, boundary)
    return 0.5 * r.pow(2).sum((1, 2, 3)) + lam * z.abs().sum((1, 2, 3))


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
    L = 0.0
    with torch.no_grad():
        for _ in range(n_iter):
            v = v / torch.linalg.vector_norm(v)
            w = conv_adjoint(conv_decode(v, Kd, boundary, K_hat), Kd, boundary, K_hat)
            L_new = float((v * w).sum())
            v = w
            if abs(L_new - L) <= tol * L_new:
                return L_new
            L = L_new
    return L


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


def conv_fista(
    y: torch.Tensor,
    K: torch.Tensor,
    lam: float,
    *,
    boundary: str = "zero",
    z0: torch.Tensor | None = None,
    tol: float = 1e-4,
    max_iter: int = 500,
    L: float | None = None,
    restart: bool = True,
    momentum: bool = True,
    callback: Callable[[int, torch.Tensor], bool | None] | None = None,
) -> SolverResult:
    """Convolutional FISTA: minimize ½‖Y − Σᵢ Kᵢ ∗ Zᵢ‖² + λ Σᵢ‖Zᵢ‖₁ for every image of Y.

    ``y [batch, C, H, W]``, ``K [n_filters, C, k, k]``; returns ``z [batch, n_filters, H', W']``
    (see :func:`code_shape`) in a :class:`lib.solvers.SolverResult`, whose
    ``objective_history`` is the energy averaged over the batch after every iteration.
    From the extrapolated point X(t), with D(Z) = Σᵢ Kᵢ ∗ Zᵢ:

        Z(t+1) = Shrinkage_{λ/L}(X(t) − (1/L) Dᵀ(D X(t) − Y))
        s(t+1) = (1 + √(1 + 4 s(t)²)) / 2
        X(t+1) = Z(t+1) + ((s(t) − 1) / s(t+1)) (Z(t+1) − Z(t))

    D X is kept up to date by linearity (D X = D Z(t+1) + β(D Z(t+1) − D Z(t))), so one
    iteration costs one D and one Dᵀ and the energy comes for free. With the circular boundary
    both run on maps packed two per complex number (:func:`_circular_ops`).

    - ``L`` defaults to ‖D‖₂²: :func:`conv_lipschitz` for the zero boundary; for the circular
      one the same number in closed form, max_ω λ_max(K̂(ω)K̂(ω)ᴴ) (D is block diagonal in
      the Fourier domain). ``momentum=False`` is ISTA.
    - ``restart=True``: adaptive restart (O'Donoghue & Candès, 2015), per image, in its
      function form: the momentum is reset whenever the energy goes up.
    - Stops when every image has ‖Z(t+1) − Z(t)‖ ≤ tol·‖Z(t+1)‖ (never when tol = 0), or after
      `max_iter`; ``callback(t, z)`` after each iteration stops it by returning True.

    Introduced in chapter 06.
    """
    check_flags(restart=restart, momentum=momentum)
    _check_images(y, K)
    check_nonneg(lam, "lam")
    check_nonneg(tol, "tol")
    max_iter = check_count(max_iter, "max_iter")
    check_callable(callback, "callback")
    image_shape = tuple(y.shape[-2:])
    shape = code_shape(image_shape, K.shape[-1], boundary)
    if L is None:
        L = _fast_lipschitz(K, image_shape, boundary, exact=True)
    L = check_positive(L, "L")
    if z0 is not None:
        _check_codes(z0, y, K, boundary, "z0")
    yd = y.detach()
    if boundary == "circular":
        pack, unpack, D, Dt_over_L = _circular_ops(K.detach(), image_shape, L)
    else:
        Kd = K.detach()

        def pack(t):
            return t

        def unpack(t):
            return t

        def D(t):
            return _decode(t, Kd, boundary)

        def Dt_over_L(t):
            return _adjoint(t, Kd, boundary) / L

    if z0 is None:
        z = pack(torch.zeros(len(y), K.shape[0], *shape, dtype=y.dtype, device=y.device))
        Dz = torch.zeros_like(yd)
    else:
        z = pack(z0.detach())
        Dz = D(z)
    x, Dx = z, Dz
    ones = (len(y),) + (1,) * (z.ndim - 1)
    s = torch.ones(ones, dtype=y.dtype, device=y.device)
    E_old = torch.full((len(y),), float("inf"), dtype=y.dtype, device=y.device)
    history, converged = [], False
    with torch.no_grad():
        for it in range(1, max_iter + 1):
            z_new = softshrink(x - Dt_over_L(Dx - yd), lam / L)
            Dz_new = D(z_new)
            E = 0.5 * (yd - Dz_new).pow(2).sum((1, 2, 3)) + lam * z_new.abs().flatten(1).sum(1)
            history.append(E.mean())
            dz = z_new - z
            if momentum:
                s_new = (1 + torch.sqrt(1 + 4 * s * s)) / 2
                beta = (s - 1) / s_new
                if restart:
                    reset = (E > E_old).reshape(ones)
                    beta, s_new = beta.masked_fill(reset, 0.0), s_new.masked_fill(reset, 1.0)
                x, s = torch.addcmul(z_new, beta, dz), s_new
                Dx = Dz_new + beta.reshape(-1, 1, 1, 1) * (Dz_new - Dz)
            else:
                x, Dx = z_new, Dz_new
            z, Dz, E_old = z_new, Dz_new, E
            if tol > 0 and _small_steps(dz, z_new, tol):
                converged = True
                break
            if callback is not None and bool(callback(it, unpack(z))):
                break
    return SolverResult(unpack(z), torch.stack(history), it, converged)


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


def conv_admm(
    y: torch.Tensor,
    K: torch.Tensor,
    lam: float,
    *,
    rho: float | None = None,
    alpha: float = 1.8,
    tol: float = 1e-4,
    max_iter: int = 500,
    callback: Callable[[int, torch.Tensor], bool | None] | None = None,
) -> SolverResult:
    """ADMM for ½‖Y − Σᵢ Kᵢ ∗ Zᵢ‖² + λ Σᵢ‖Zᵢ‖₁ with the circular boundary, in the Fourier domain.

    The algorithm of sporco's ConvBPDN (Wohlberg, 2016), with its defaults: split the codes
    into X (least squares) and G (sparse) and alternate

        X ← argmin ½‖Y − D X‖² + (ρ/2)‖X − V‖² = V + Dᵀ P (Y − D V),    V = G − U
        G ← Shrinkage_{λ/ρ}(X_α + U),    U ← U + X_α − G,    X_α = α X + (1 − α) G

    P = (ρI + D Dᵀ)⁻¹ is, per frequency, the inverse of a C × C matrix (a number for
    grayscale), so the X step costs one D and one Dᵀ on maps packed two per complex FFT
    (:func:`_circular_ops`), as a conv-FISTA step does. α = 1.8 over-relaxes. Every
    ``ADMM_CHECK_EVERY`` iterations the relative primal and dual residuals,
    r = ‖X − G‖ / max(‖X‖, ‖G‖) and s = ‖ΔG‖ / ‖U‖, are compared: ρ grows (shrinks) by
    √(r / ξs) when r > 1.2 ξ s (ξ s > 1.2 r), with sporco's target ratio
    ξ = 1 + 18.3^(log₁₀λ + 1). The factor is capped at min(2, 1 + 100/j²) at the j-th check:
    the changes then have a finite sum and ADMM converges (He, Yang & Wang, 2000); uncapped,
    ρ can cycle near the optimum and the iterates with it. It stops when r, s ≤ tol.

    Returns the sparse G as ``z`` in a :class:`lib.solvers.SolverResult`; its
    ``objective_history`` is G's energy after every iteration, kept from the spectra by
    linearity (no extra FFT). ``callback(t, z)`` after each iteration stops it by returning
    True. Introduced in chapter 06; ``benchmarks/bench_conv.py`` times it against sporco.
    """
    _check_images(y, K)
    check_nonneg(lam, "lam")
    check_nonneg(tol, "tol")
    max_iter = check_count(max_iter, "max_iter")
    check_callable(callback, "callback")
    rho = check_positive(50 * lam + 1 if rho is None else rho, "rho")
    if not 0 < alpha < 2:
        raise ValueError(f"alpha must be in (0, 2) (over-relaxation), got {alpha}")
    xi = 1 + 18.3 ** (math.log10(lam) + 1) if lam > 0 else 1.0  # sporco's residual ratio
    shape = tuple(y.shape[-2:])
    pack, unpack, half, Dt_hat = _packed_spectral_ops(K.detach(), shape, 1.0)
    K_hat = torch.fft.fft2(K.detach(), s=shape).permute(2, 3, 1, 0)  # [H, W, C, n]
    KK = (K_hat @ K_hat.mH).permute(2, 3, 0, 1)  # D Dᵀ per frequency, [C, C, H, W]
    eye = torch.eye(K.shape[1], dtype=KK.dtype, device=KK.device)[:, :, None, None]

    def P_of(rho):
        return torch.linalg.inv((KK + rho * eye).permute(2, 3, 0, 1)).permute(2, 3, 0, 1)

    def mul(M, r):  # [C, C, H, W] times [B, C, H, W]
        return torch.einsum("cdhw,bdhw->bchw", M, r)

    def energy(DZ_hat, z):
        fit = (y_hat - DZ_hat).abs().pow(2).sum((1, 2, 3)) / (2 * shape[0] * shape[1])
        return (fit + lam * z.abs().flatten(1).sum(1)).mean()

    y_hat = torch.fft.fft2(y.detach())
    P = P_of(rho)
    z = pack(torch.zeros(len(y), K.shape[0], *shape, dtype=y.dtype, device=y.device))
    U, V = torch.zeros_like(z), torch.zeros_like(z)
    Q, scale = torch.zeros_like(y_hat), 1.0  # D(U + G) before a ρ rescale, and the rescale
    history, converged = [], False
    with torch.no_grad():
        for it in range(1, max_iter + 1):
            DV = _hermitian(half(V))  # V = G − U
            DU = (Q - DV) / (scale + 1)  # D U, from D(U + G) = Q and D(G − U/scale) = DV
            DG = DV + DU
            if it > 1:
                history.append(energy(DG, z))
            R = mul(P, y_hat - DV)
            dX = Dt_hat(R)  # X = V + dX
            W = torch.add(z, dX, alpha=alpha).add_(U, alpha=1 - alpha)  # X_α + U
            z_new = softshrink(W, lam / rho)
            U = W.sub_(z_new)
            Q = DU + alpha * (DV + mul(KK, R)) + (1 - alpha) * DG
            scale = 1.0
            if it % ADMM_CHECK_EVERY == 0 or it == max_iter:
                X = dX.add_(V)
                r = float(torch.linalg.vector_norm(X - z_new))
                s = rho * float(torch.linalg.vector_norm(z_new - z))
                x_norm = max(
                    float(torch.linalg.vector_norm(X)), float(torch.linalg.vector_norm(z_new))
                )
                u_norm = rho * float(torch.linalg.vector_norm(U))
                if tol > 0 and r <= tol * x_norm and s <= tol * u_norm:
                    converged = True
                rn, sn = r / max(x_norm, 1e-300), s / max(u_norm, 1e-300)
                if rn > 1.2 * xi * sn or xi * sn > 1.2 * rn:
                    cap = min(2.0, 1 + 100 / max(it // ADMM_CHECK_EVERY, 1) ** 2)  # summable
                    scale = min(max((rn / max(xi * sn, 1e-300)) ** 0.5, 1 / cap), cap)
            z = z_new
            if converged or (callback is not None and bool(callback(it, unpack(z)))):
                break
            if scale != 1.0:
                rho, P = rho * scale, P_of(rho * scale)
                U.div_(scale)
            V = z - U
        history.append(energy(_hermitian(half(z)), z))
    return SolverResult(unpack(z), torch.stack(history), it, converged)


def _small_steps(dz: torch.Tensor, z: torch.Tensor, tol: float) -> bool:
    """True when every image has ‖ΔZ‖ ≤ tol·‖Z‖."""
    step = torch.linalg.vector_norm(dz.flatten(1), dim=1)
    return bool((step <= tol * torch.linalg.vector_norm(z.flatten(1), dim=1)).all())


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


def _centroid(K: torch.Tensor) -> torch.Tensor:
    """Energy centroid (row, column) of each filter ``K [n, C, k, k]``, from the window's middle.

    Σₓ x Kᵢ(x)² / Σₓ Kᵢ(x)² (channels summed), in pixels: ``[n, 2]``, (0, 0) when centered.
    """
    P = K.detach().pow(2).sum(1)
    P = P / P.sum((1, 2), keepdim=True).clamp_min(1e-30)
    k = K.shape[-1]
    r = torch.arange(k, dtype=P.dtype, device=P.device) - (k - 1) / 2
    return torch.stack([(P.sum(2) * r).sum(1), (P.sum(1) * r).sum(1)], 1)


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


def _filter_gradient(y, z, K, boundary, v, n_power=2):
    """∂/∂K of mean_batch ½‖Y − D_K(Z)‖², and L_K = ‖A‖² / batch by power iteration.

    A: K ↦ D_K(Z) = Σᵢ Kᵢ ∗ Zᵢ is linear in K for fixed codes Z (:func:`_filter_ops`), so the
    gradient is Aᵀ(A K − Y) / batch and AᵀA v is one more A and Aᵀ; `v` warm-starts the
    power iteration from the previous step and comes back updated. Returns (grad, L_K, v).
    """
    A, At = _filter_ops(z, K.shape[-1], tuple(y.shape[-2:]), boundary)
    grad = At(A(K.detach()) - y) / len(y)
    L_K = 0.0
    for _ in range(n_power):
        v = v / torch.linalg.vector_norm(v)
        w = At(A(v)) / len(y)
        if not bool(torch.linalg.vector_norm(w) > 0):
            # Every code is zero (λ ≥ λ_max): A = 0, and so are L_K and the gradient. Keep
            # the unit vector v (0/0 would turn it, and then the filters, into NaN).
            return grad, 0.0, v
        L_K = float((v * w).sum())
        v = w
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
