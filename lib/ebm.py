"""Regularized latent-variable energy-based models on 2-D data (introduced in chapter 01).

The lecture's energy is E(x, y, z) = C(y, Dec(Pred(x), z)) + λ R(z). Here there is no x,
so the energy of an observation y and a latent z is

    E(y, z) = ‖y − Dec(z)‖² + λ R(z),

and the free energy is F(y) = min_z E(y, z). Two regularizers R are used:

* sparse (L1):  R(z) = ‖z‖₁, minimized by proximal gradient (ISTA, the soft-threshold `shrink`);
* noisy (VAE-style): z = z̄ + σ ε with ε ~ N(0, I), R = ‖z̄‖², and the reconstruction term is
  averaged over the noise: E(y, z̄) = mean_ε ‖y − Dec(z̄ + σ ε)‖² + λ ‖z̄‖².

Shapes are batch-first: ``y [batch, 2]``, ``z [batch, K]``, noise ``eps [n_noise, K]``.
Every function follows the device and dtype of its inputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from lib._checks import (
    adam,
    check_count,
    check_nonneg,
    check_positive,
    check_progress,
    check_same,
    check_tensor,
)
from lib.proximal import Smooth, proximal_gradient
from lib.solvers import SolverResult

__all__ = [
    "Scale",
    "decoder",
    "ellipse_data",
    "energy_l1",
    "energy_noisy",
    "grid",
    "infer_l1",
    "infer_noisy",
    "low_energy_fraction",
    "noise",
    "reconstruction_cost",
    "train_l1",
    "train_noisy",
]


def ellipse_data(
    n: int,
    a: float = 1.6,
    b: float = 1.0,
    noise_std: float = 0.03,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Sample `n` points y [n, 2] = (a cos t, b sin t) + noise, t ~ U[0, 2π)."""
    n = check_count(n, "n")
    check_positive(a, "a"), check_positive(b, "b"), check_nonneg(noise_std, "noise_std")
    t = 2 * math.pi * torch.rand(n, generator=generator, dtype=dtype)
    y = torch.stack([a * torch.cos(t), b * torch.sin(t)], dim=1)
    return y + noise_std * torch.randn(n, 2, generator=generator, dtype=dtype)


def grid(
    box: float, n: int, dtype: torch.dtype = torch.float32, device: torch.device | None = None
) -> torch.Tensor:
    """Points y [n*n, 2] of a regular n×n grid over [−box, box]², row-major (y₂ slowest)."""
    check_positive(box, "box"), check_positive(n, "n")
    s = torch.linspace(-box, box, int(n), dtype=dtype, device=device)
    g2, g1 = torch.meshgrid(s, s, indexing="ij")
    return torch.stack([g1.reshape(-1), g2.reshape(-1)], dim=1)


class Scale(nn.Module):
    """Multiply by a fixed number (the decoder's Lipschitz bound)."""

    def __init__(self, gain: float) -> None:
        super().__init__()
        self.gain = check_positive(gain, "gain")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gain * x


def decoder(K: int, hidden: int = 32, gain: float = 4.0, out: int = 2) -> nn.Sequential:
    """Dec: R^K → R^out, an MLP whose every Linear layer has spectral norm 1, times `gain`.

    With 1-Lipschitz activations (tanh), ‖Dec(z) − Dec(z')‖ ≤ gain · ‖z − z'‖, so the decoder
    cannot defeat a penalty on ‖z‖ by shrinking z and growing its weights (the reason sparse
    coding normalizes the columns of W_d; see chapter 02). Seed torch before calling it.
    """
    K, hidden = check_count(K, "K"), check_count(hidden, "hidden")
    return nn.Sequential(
        spectral_norm(nn.Linear(K, hidden)),
        nn.Tanh(),
        spectral_norm(nn.Linear(hidden, hidden)),
        nn.Tanh(),
        spectral_norm(nn.Linear(hidden, out)),
        Scale(gain),
    )


def noise(n_noise: int, K: int, generator: torch.Generator | None = None, **kw) -> torch.Tensor:
    """Fixed noise samples eps [n_noise, K] ~ N(0, I) (kw: dtype, device)."""
    n_noise, K = check_count(n_noise, "n_noise"), check_count(K, "K")
    eps = torch.randn(n_noise, K, generator=generator, dtype=kw.get("dtype", torch.float32))
    return eps.to(kw.get("device", "cpu"))


def _check_yz(dec: nn.Module, y: torch.Tensor, z: torch.Tensor | None = None) -> None:
    check_tensor(y, "y", ndim=2)
    p = next(dec.parameters())
    check_same(("y", y), ("decoder weights", p))
    if y.shape[1] != dec[-2].out_features:
        raise ValueError(f"y must have {dec[-2].out_features} columns, got {y.shape[1]}")
    if z is not None:
        check_tensor(z, "z", ndim=2)
        check_same(("y", y), ("z", z))
        if z.shape[0] != y.shape[0]:
            raise ValueError(f"y has {y.shape[0]} rows but z has {z.shape[0]}")
        if z.shape[1] != dec[0].in_features:
            raise ValueError(f"z must have K = {dec[0].in_features} columns, got {z.shape[1]}")


def _recon(dec: nn.Module, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return (y - dec(z)).pow(2).sum(dim=-1)


def energy_l1(dec: nn.Module, y: torch.Tensor, z: torch.Tensor, lam: float) -> torch.Tensor:
    """E(y, z) = ‖y − Dec(z)‖² + λ‖z‖₁ for y [batch, 2], z [batch, K] → [batch]."""
    _check_yz(dec, y, z)
    lam = check_nonneg(lam, "lam")
    return _recon(dec, y, z) + lam * z.abs().sum(dim=1)


def _energy_noisy(dec, y, z, lam, sigma, eps):
    zs = z.unsqueeze(0) + sigma * eps.unsqueeze(1)  # [n_noise, batch, K]
    return _recon(dec, y.unsqueeze(0), zs).mean(dim=0) + lam * z.pow(2).sum(dim=1)


def _check_noise(dec, y, eps, sigma, lam) -> tuple[float, float]:
    check_tensor(eps, "eps", ndim=2)
    check_same(("y", y), ("eps", eps))
    if eps.shape[1] != dec[0].in_features:
        raise ValueError(f"eps must have K = {dec[0].in_features} columns, got {eps.shape[1]}")
    return check_nonneg(lam, "lam"), check_nonneg(sigma, "sigma")


def energy_noisy(
    dec: nn.Module,
    y: torch.Tensor,
    z: torch.Tensor,
    lam: float,
    sigma: float,
    eps: torch.Tensor,
) -> torch.Tensor:
    """E(y, z̄) = mean_s ‖y − Dec(z̄ + σ eps_s)‖² + λ‖z̄‖² → [batch].

    y [batch, 2], z̄ [batch, K], eps [n_noise, K]: the same noise samples for every row,
    so the energy is a deterministic function of (y, z̄).
    """
    _check_yz(dec, y, z)
    lam, sigma = _check_noise(dec, y, eps, sigma, lam)
    return _energy_noisy(dec, y, z, lam, sigma, eps)


def _starts(y, K, starts, init_std, generator):
    z0 = [torch.zeros(y.shape[0], K, dtype=y.dtype)]
    for _ in range(check_count(starts, "starts") - 1):
        z0.append(init_std * torch.randn(y.shape[0], K, generator=generator, dtype=y.dtype))
    return [z.to(y.device) for z in z0]


class _Fit(Smooth):
    """A smooth energy f(z) of chapter 01 (a neural decoder: ∇f by autograd), as
    :func:`lib.proximal.proximal_gradient` sees it; the cache is z itself."""

    def __init__(self, f: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.f = f

    def cache(self, z):
        return z

    def value(self, z, cz):
        return self.f(z)

    def gradient(self, x, cx):
        return _grad(self.f, x)


def _descend(f, z, lam, lr, steps, tol) -> SolverResult:
    """Proximal gradient with step `lr` on f(z) + λ‖z‖₁ until the mean energy changes by
    less than `tol` (relative); the result carries the final energy of every row."""
    steps = check_count(steps, "steps")
    with torch.no_grad():
        z, E, history, it, converged = proximal_gradient(
            _Fit(f), z, lam, 1 / lr, max_iter=steps, tol=tol, momentum=False, restart=None,
            stop="objective",
        )  # fmt: skip
    return SolverResult(z, history, it, converged, energy=E)


def _best(runs: list[SolverResult]) -> SolverResult:
    """Keep, per row, the start with the lowest final energy."""
    best = runs[0]
    for r in runs[1:]:
        take = r.energy < best.energy
        best = SolverResult(
            torch.where(take.unsqueeze(1), r.z, best.z),
            torch.minimum(best.objective_history[: r.n_iter], r.objective_history[: best.n_iter]),
            max(best.n_iter, r.n_iter),
            best.converged and r.converged,
            energy=torch.where(take, r.energy, best.energy),
        )
    return best


def _step_size(dec: nn.Module, lr: float | None) -> float:
    """Default step 0.5 / gain²: the gradient of ‖y − Dec(z)‖² changes at most ~2·gain² fast."""
    if lr is None:
        gain = dec[-1].gain if isinstance(dec[-1], Scale) else 1.0
        return 0.5 / gain**2
    return check_positive(lr, "lr")


def _grad(f, z):
    z = z.detach().requires_grad_(True)
    with torch.enable_grad():
        (g,) = torch.autograd.grad(f(z).sum(), z)
    return g


def infer_l1(
    dec: nn.Module,
    y: torch.Tensor,
    lam: float,
    steps: int = 300,
    lr: float | None = None,
    starts: int = 2,
    tol: float = 1e-6,
    init_std: float = 1.0,
    generator: torch.Generator | None = None,
) -> SolverResult:
    """F(y) = min_z ‖y − Dec(z)‖² + λ‖z‖₁ by proximal gradient (ISTA with a fixed step):

        z ← shrink(z − lr ∇_z ‖y − Dec(z)‖², lr λ).

    Default lr: 0.5 / gain² of the decoder. One start from z = 0, the others from
    N(0, init_std²); each row keeps its best start.
    y [batch, 2] → a :class:`lib.SolverResult` with z [batch, K] and energy [batch] (F(y)).
    """
    _check_yz(dec, y)
    lam, lr = check_nonneg(lam, "lam"), _step_size(dec, lr)
    K = dec[0].in_features

    def recon(z):
        return _recon(dec, y, z)

    z0 = _starts(y, K, starts, init_std, generator)
    with parametrize.cached():  # the normalized weights are fixed during inference
        return _best([_descend(recon, z, lam, lr, steps, tol) for z in z0])


def infer_noisy(
    dec: nn.Module,
    y: torch.Tensor,
    lam: float,
    sigma: float,
    eps: torch.Tensor,
    steps: int = 300,
    lr: float | None = None,
    starts: int = 2,
    tol: float = 1e-6,
    init_std: float = 1.0,
    generator: torch.Generator | None = None,
) -> SolverResult:
    """F(y) = min_z̄ mean_s ‖y − Dec(z̄ + σ eps_s)‖² + λ‖z̄‖² by gradient descent on z̄.

    y [batch, 2], eps [n_noise, K] → a :class:`lib.SolverResult` with z̄ [batch, K] and
    energy [batch].
    """
    _check_yz(dec, y)
    lam, sigma = _check_noise(dec, y, eps, sigma, lam)
    lr = _step_size(dec, lr)

    def energy(z):
        return _energy_noisy(dec, y, z, lam, sigma, eps)

    z0 = _starts(y, dec[0].in_features, starts, init_std, generator)
    with parametrize.cached():  # gradient descent: the penalty λ‖z̄‖² is in the smooth part
        return _best([_descend(energy, z, 0.0, lr, steps, tol) for z in z0])


def _train(dec, y, K, loss_fn, epochs, lr, generator, init_std):
    """Adam on the per-sample codes Z [n, K] and the decoder weights together."""
    check_tensor(y, "y", ndim=2)
    epochs, lr = check_count(epochs, "epochs"), check_positive(lr, "lr")
    Z = init_std * torch.randn(y.shape[0], K, generator=generator, dtype=y.dtype)
    Z = Z.to(y.device).requires_grad_(True)
    dec.to(device=y.device, dtype=y.dtype).train()
    opt = adam([*dec.parameters(), Z], lr)
    history = []
    for _ in range(epochs):
        opt.zero_grad()
        loss = loss_fn(Z)
        loss.backward()
        opt.step()
        history.append(loss.detach())
        check_progress(float(history[-1]), len(history), lr)
    dec.eval()
    return Z.detach(), torch.stack(history)


def train_l1(
    dec: nn.Module,
    y: torch.Tensor,
    lam: float,
    epochs: int = 1000,
    lr: float = 1e-2,
    init_std: float = 0.5,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fit Dec and codes Z to y [n, 2]: min over Dec, Z of mean_i ‖y_i − Dec(z_i)‖² + λ‖z_i‖₁.

    Trains `dec` in place (then leaves it in eval mode); returns (Z [n, K], loss history).
    """
    lam = check_nonneg(lam, "lam")

    def loss_fn(Z):
        return (_recon(dec, y, Z) + lam * Z.abs().sum(dim=1)).mean()

    return _train(dec, y, dec[0].in_features, loss_fn, epochs, lr, generator, init_std)


def train_noisy(
    dec: nn.Module,
    y: torch.Tensor,
    lam: float,
    sigma: float,
    n_noise: int = 8,
    epochs: int = 1000,
    lr: float = 1e-2,
    init_std: float = 0.5,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fit Dec and mean codes Z̄ to y [n, 2] under the noisy energy (fresh noise each step):

    min over Dec, Z̄ of mean_i [mean_s ‖y_i − Dec(z̄_i + σ ε_is)‖² + λ‖z̄_i‖²].
    Returns (Z̄ [n, K], loss history) and leaves `dec` trained, in eval mode.
    """
    lam, sigma = check_nonneg(lam, "lam"), check_nonneg(sigma, "sigma")
    K, n_noise = dec[0].in_features, check_count(n_noise, "n_noise")

    def loss_fn(Z):
        eps = torch.randn(n_noise, *Z.shape, generator=generator, dtype=Z.dtype).to(Z.device)
        recon = _recon(dec, y.unsqueeze(0), Z.unsqueeze(0) + sigma * eps).mean(dim=0)
        return (recon + lam * Z.pow(2).sum(dim=1)).mean()

    return _train(dec, y, K, loss_fn, epochs, lr, generator, init_std)


def reconstruction_cost(dec: nn.Module, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """C(y, Dec(z)) = ‖y − Dec(z)‖² for y [batch, 2], z [batch, K] → [batch]."""
    _check_yz(dec, y, z)
    with torch.no_grad():
        return _recon(dec, y, z)


def low_energy_fraction(F: torch.Tensor, tau: float) -> float:
    """Fraction of the entries of F (e.g. a grid over the box) with F < τ: the 'area' of
    the low-energy region, as a fraction of the box."""
    check_tensor(F, "F")
    return float((F < tau).to(F.dtype).mean())
