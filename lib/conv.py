"""Convolutional sparse coding solvers: FISTA and ADMM for ½‖Y − Σᵢ Kᵢ ∗ Zᵢ‖² + λ Σᵢ ‖Zᵢ‖₁.

Introduced in chapter 06. The operators D, Dᵀ and ‖D‖₂² are in :mod:`lib.operators`; FISTA
is :func:`lib.proximal.proximal_gradient` on the smooth part ½‖Y − D Z‖² (the ISTA / FISTA of
chapter 03 with W_d replaced by D and W_dᵀ by Dᵀ):

    Z(t+1) = Shrinkage_{λ/L}( X(t) − (1/L) Dᵀ(D X(t) − Y) ),     L = ‖D‖₂².

With the circular boundary, :func:`conv_admm` solves the same problem as sporco's ConvBPDN does
(ADMM whose least-squares step is exact in the Fourier domain), in fewer iterations than FISTA.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from lib._checks import (
    check_callable,
    check_count,
    check_flags,
    check_nonneg,
    check_positive,
)
from lib.operators import (
    _adjoint,
    _check_codes,
    _check_images,
    _circular_ops,
    _decode,
    _fast_lipschitz,
    _hermitian,
    _packed_spectral_ops,
    code_shape,
    conv_decode,
)
from lib.proximal import Smooth, _shrink, proximal_gradient
from lib.solvers import SolverResult

__all__ = [
    "conv_admm",
    "conv_energy",
    "conv_fista",
]

ADMM_CHECK_EVERY = 10  # iterations between residual checks (stopping and ρ)


def conv_energy(
    y: torch.Tensor, z: torch.Tensor, K: torch.Tensor, lam: float, boundary: str = "zero"
) -> torch.Tensor:
    """E(Y, Z) = ½‖Y − Σᵢ Kᵢ ∗ Zᵢ‖² + λ Σᵢ‖Zᵢ‖₁ for every image: returns ``[batch]``."""
    _check_images(y, K)
    check_nonneg(lam, "lam")
    _check_codes(z, y, K, boundary, "z")
    r = y - conv_decode(z, K, boundary)
    return 0.5 * r.pow(2).sum((1, 2, 3)) + lam * z.abs().sum((1, 2, 3))


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
    if boundary == "circular":
        pack, unpack, D, Dt = _circular_ops(K.detach(), image_shape, 1.0)
    else:
        Kd, pack, unpack = K.detach(), None, None

        def D(t):
            return _decode(t, Kd, boundary)

        def Dt(t):
            return _adjoint(t, Kd, boundary)

    if z0 is None:
        z = torch.zeros(len(y), K.shape[0], *shape, dtype=y.dtype, device=y.device)
    else:
        z = z0.detach()
    z = z if pack is None else pack(z)
    with torch.no_grad():
        z, _, history, it, converged = proximal_gradient(
            _ConvLeastSquares(D, Dt, y.detach()), z, lam, L, max_iter=max_iter, tol=tol,
            momentum=momentum, restart="function" if restart else None,
            stop="step" if tol > 0 else None, callback=callback, unpack=unpack,
        )  # fmt: skip
    return SolverResult(z, history, it, converged)


class _ConvLeastSquares(Smooth):
    """f(Z) = ½‖Y − D Z‖² (+ α‖Z − E‖² when `e` is given, PSD's prediction term), cached in
    image space: c(Z) = D Z. Used by :func:`conv_fista` and :meth:`lib.psd.ConvPSD.infer`."""

    def __init__(self, D, Dt, y, alpha: float = 0.0, e: torch.Tensor | None = None) -> None:
        self.D, self.Dt, self.y, self.alpha, self.e = D, Dt, y, alpha, e

    def cache(self, z):
        return self.D(z)

    def value(self, z, cz):
        fit = 0.5 * (self.y - cz).pow(2).sum((1, 2, 3))
        return fit if self.e is None else fit + self.alpha * (z - self.e).pow(2).flatten(1).sum(1)

    def gradient(self, x, cx):
        g = self.Dt(cx - self.y)
        return g if self.e is None else g + 2 * self.alpha * (x - self.e)

    def curvature(self, d, cd):
        c = cd.pow(2).sum((1, 2, 3))
        return c if self.e is None else c + 2 * self.alpha * d.pow(2).flatten(1).sum(1)

    def take(self, keep):
        e = None if self.e is None else self.e[keep]
        return _ConvLeastSquares(self.D, self.Dt, self.y[keep], self.alpha, e)


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
            z_new = _shrink(W, lam / rho)
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
