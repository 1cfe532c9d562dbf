"""Predictive sparse decomposition (PSD): a convolutional sparse auto-encoder. Chapter 07.

Kavukcuoglu, Ranzato & LeCun (2008), "Fast inference in sparse coding algorithms with
applications to object recognition"; Kavukcuoglu, Sermanet, Boureau, Gregor, Mathieu &
LeCun (2010), "Learning convolutional feature hierarchies for visual recognition".

The decoder is the convolutional dictionary of chapter 06, ``Dec(Z) = Σᵢ Kᵢ ∗ Zᵢ``
(:func:`lib.operators.conv_decode`, filters ``W_d [n_filters, C, k, k]``). The encoder predicts
the code in one pass: a correlation with the filters ``W_e`` (:func:`lib.operators.conv_adjoint`,
so that ``W_e = W_d / L`` would be the first ISTA step), a bias, a tanh and a diagonal gain
layer, one learned gain gᵢ per feature map:

    Enc(Y)ᵢ = gᵢ · tanh((W_e ⋆ Y)ᵢ + bᵢ).

The energy adds to the sparse-coding energy a term that ties the code to the prediction:

    E(Y, Z) = ½‖Y − Dec(Z)‖² + λ‖Z‖₁ + α‖Z − Enc(Y)‖².

Training alternates: Z* = argmin_Z E by a few FISTA steps started from Enc(Y)
(:meth:`ConvPSD.infer`), then one gradient step of E(Y, Z*) on W_d (then unit-norm filters)
and on W_e, b, g. After training the encoder alone gives good codes: no iterations.
Shapes are batch-first: ``Y [batch, C, H, W]``, ``Z [batch, n_filters, H', W']`` with
``(H', W') = lib.operators.code_shape((H, W), k, boundary)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from lib._checks import (
    adam,
    check_count,
    check_flags,
    check_nonneg,
    check_positive,
    check_progress,
    check_same,
    check_seed,
    check_tensor,
)
from lib.conv import _ConvLeastSquares
from lib.conv_dictionary import (
    _filter_gradient,
    _filter_step,
    normalize_filters,
)
from lib.operators import (
    _fast_lipschitz,
    _filters_fft,
    conv_adjoint,
    conv_decode,
)
from lib.proximal import proximal_gradient
from lib.solvers import SolverResult

__all__ = [
    "ConvPSD",
    "Gain",
    "PSDHistory",
    "filter_similarity",
    "relative_error",
    "train_psd",
]


class Gain(nn.Module):
    """The diagonal gain layer: feature map i of ``x [batch, n, H, W]`` times gᵢ (``g [n]``)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.g = nn.Parameter(torch.ones(check_count(n, "n")))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.g[:, None, None]


class ConvPSD(nn.Module):
    """A convolutional PSD: encoder ``g ⊙ tanh(W_e ⋆ Y + b)``, decoder ``Σᵢ W_d,ᵢ ∗ Zᵢ``.

    ``W_e`` and ``W_d`` are ``[n_filters, in_channels, k, k]``; ``b`` and the gain ``g`` are
    ``[n_filters]``. Both filter banks start as independent random filters drawn from a
    generator seeded with `seed` (so any likeness between them is learned): W_d of unit
    norm, W_e of norm 0.1 (a small start, which training soon outgrows); b = 0 and g = 1.
    `boundary` is that of :mod:`lib.conv` ("zero": maps of H + k − 1; "circular").
    Move it with ``.to(device, dtype)``; inputs must then match.
    """

    def __init__(
        self,
        n_filters: int,
        kernel_size: int,
        in_channels: int = 1,
        boundary: str = "zero",
        seed: int = 0,
    ) -> None:
        super().__init__()
        n, k = check_count(n_filters, "n_filters"), check_count(kernel_size, "kernel_size")
        C = check_count(in_channels, "in_channels")
        if boundary not in ("zero", "circular"):
            raise ValueError(f"boundary must be 'zero' or 'circular', got {boundary!r}")
        g = torch.Generator().manual_seed(check_seed(seed))
        self.boundary = boundary
        self.W_e = nn.Parameter(0.1 * normalize_filters(torch.randn(n, C, k, k, generator=g)))
        self.b = nn.Parameter(torch.zeros(n))
        self.gain = Gain(n)
        self.W_d = nn.Parameter(normalize_filters(torch.randn(n, C, k, k, generator=g)))

    def _check_input(self, y: torch.Tensor, name: str = "y") -> None:
        check_tensor(y, name, ndim=4)
        check_same(("the model", self.W_d.detach()), (name, y))
        if y.shape[1] != self.W_d.shape[1]:
            raise ValueError(
                f"{name} has {y.shape[1]} channels but the model expects {self.W_d.shape[1]}"
            )

    def _check_codes(self, z: torch.Tensor, y: torch.Tensor, name: str = "z") -> None:
        check_tensor(z, name, ndim=4)
        check_same(("y", y), (name, z))
        want = (len(y), *self.code_shape(y))
        if tuple(z.shape) != want:
            raise ValueError(f"{name} must have shape {want}, got {tuple(z.shape)}")

    def code_shape(self, y: torch.Tensor) -> tuple[int, int, int]:
        """``(n_filters, H', W')`` of the codes of images ``y [batch, C, H, W]``."""
        k, (H, W) = self.W_d.shape[-1], y.shape[-2:]
        extra = k - 1 if self.boundary == "zero" else 0
        return self.W_d.shape[0], H + extra, W + extra

    def encode(self, y: torch.Tensor) -> torch.Tensor:
        """The predicted code ``Enc(Y) = g ⊙ tanh(W_e ⋆ Y + b)``: ``[batch, n_filters, H', W']``."""
        self._check_input(y)
        u = conv_adjoint(y, self.W_e, self.boundary) + self.b[:, None, None]
        return self.gain(torch.tanh(u))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``Dec(Z) = Σᵢ W_d,ᵢ ∗ Zᵢ`` (:func:`lib.operators.conv_decode`): ``[batch, C, H, W]``."""
        return conv_decode(z, self.W_d, self.boundary)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """The code prediction ``Enc(Y)`` (see :meth:`encode`)."""
        return self.encode(y)

    def energy(self, y: torch.Tensor, z: torch.Tensor, lam: float, alpha: float) -> torch.Tensor:
        """``E(Y, Z) = ½‖Y − Dec(Z)‖² + λ‖Z‖₁ + α‖Z − Enc(Y)‖²`` per image: ``[batch]``.

        Differentiable in the model's parameters (training uses it with Z = Z*).
        """
        lam, alpha = check_nonneg(lam, "lam"), check_nonneg(alpha, "alpha")
        self._check_input(y)
        self._check_codes(z, y)
        rec = 0.5 * (y - self.decode(z)).pow(2).sum((1, 2, 3))
        pred = (z - self.encode(y)).pow(2).sum((1, 2, 3))
        return rec + lam * z.abs().sum((1, 2, 3)) + alpha * pred

    def lipschitz(self, image_shape: tuple[int, int]) -> float:
        """An upper bound of ‖Dec‖₂² for images of `image_shape` (cheap, for every step).

        Circular: exact, max_ω λ_max(K̂(ω)K̂(ω)ᴴ). Zero: that maximum on a fine 32k × 32k
        frequency grid, plus 2 % (it bounds the norm of the full convolution at any size).
        """
        if self.boundary == "circular":
            return _fast_lipschitz(self.W_d.detach(), tuple(image_shape), "circular")
        n = 32 * self.W_d.shape[-1]
        return 1.02 * _fast_lipschitz(self.W_d.detach(), (n, n), "circular")

    @torch.no_grad()
    def infer(
        self,
        y: torch.Tensor,
        lam: float,
        alpha: float,
        n_iter: int = 10,
        *,
        z0: torch.Tensor | None = None,
        momentum: bool = True,
        L: float | None = None,
    ) -> SolverResult:
        """Z* = argmin_Z E(Y, Z) by `n_iter` (F)ISTA steps from Z(0) = Enc(Y) (or `z0`).

        With the smooth part f(Z) = ½‖Y − Dec(Z)‖² + α‖Z − Enc(Y)‖², whose gradient
        Decᵀ(Dec Z − Y) + 2α(Z − Enc(Y)) is (L_D + 2α)-Lipschitz (L_D = :meth:`lipschitz`
        unless `L` gives the total), each step is

            Z(t+1) = Shrinkage_{λ/L}(X(t) − (1/L) ∇f(X(t))),

        with FISTA's momentum X(t) (adaptive restart per image) unless ``momentum=False``
        (ISTA). Returns a :class:`lib.SolverResult` whose objective_history is the batch
        mean of E after every step; ``converged`` is False (a fixed number of steps).
        """
        check_flags(momentum=momentum)
        lam, alpha = check_nonneg(lam, "lam"), check_nonneg(alpha, "alpha")
        n_iter = check_count(n_iter, "n_iter")
        e = self.encode(y)
        if z0 is not None:
            self._check_codes(z0, y, "z0")
        if L is None:
            L = self.lipschitz(tuple(y.shape[-2:])) + 2 * alpha
        L = check_positive(L, "L")
        W_d = self.W_d.detach()
        K_hat = _filters_fft(W_d, tuple(y.shape[-2:])) if self.boundary == "circular" else None

        def D(t):
            return conv_decode(t, W_d, self.boundary, K_hat)

        def Dt(r):
            return conv_adjoint(r, W_d, self.boundary, K_hat)

        z = e.clone() if z0 is None else z0.clone()
        z, _, history, it, _ = proximal_gradient(
            _ConvLeastSquares(D, Dt, y, alpha, e), z, lam, L, max_iter=n_iter, tol=0.0,
            momentum=momentum, restart="gradient", stop=None,
        )  # fmt: skip
        return SolverResult(z, history, it, False)


def relative_error(y: torch.Tensor, y_hat: torch.Tensor) -> float:
    """Relative reconstruction error of a batch: ``Σ‖Y − Ŷ‖² / Σ‖Y‖²``."""
    check_tensor(y, "y")
    check_tensor(y_hat, "y_hat")
    check_same(("y", y), ("y_hat", y_hat))
    if y.shape != y_hat.shape:
        raise ValueError(f"y {tuple(y.shape)} and y_hat {tuple(y_hat.shape)} must match")
    return float((y - y_hat).pow(2).sum() / y.pow(2).sum().clamp_min(1e-30))


@dataclass
class PSDHistory:
    """Per training step (mini-batch): ``loss`` E(Y, Z*) per image, ``recon`` the relative
    error Σ‖Y − Dec Z*‖²/Σ‖Y‖², ``code_error`` Σ‖Z* − Enc Y‖²/Σ‖Z*‖² (how well the
    encoder predicts Z*), and ``sparsity`` the fraction of zeros in Z*."""

    loss: list[float] = field(default_factory=list)
    recon: list[float] = field(default_factory=list)
    code_error: list[float] = field(default_factory=list)
    sparsity: list[float] = field(default_factory=list)


def train_psd(
    model: ConvPSD,
    y: torch.Tensor,
    lam: float,
    alpha: float = 1.0,
    epochs: int = 1,
    batch_size: int = 32,
    lr: float = 1e-2,
    decoder_lr: float = 1.0,
    n_iter: int = 10,
    seed: int = 0,
    progress: bool = True,
) -> PSDHistory:
    """Train `model` in place on images or patches ``y [n, C, H, W]``.

    Each mini-batch (seeded random order, the last one may be smaller) takes one step on
    the batch mean of E(Y, Z*), with Z* from :meth:`ConvPSD.infer` (`n_iter` FISTA steps
    from Enc(Y)):

    - encoder: one Adam step (rate `lr`) on α‖Z* − Enc(Y)‖² in W_e, b and g;
    - decoder: chapter 06's step on ½‖Y − Dec(Z*)‖² (as :func:`lib.learn_conv_dictionary`),
      W_d ← W_d − decoder_lr · ∇/L_K with L_K the Lipschitz constant of that gradient
      (warm-started power iteration), then unit-norm filters (without it ‖W_d‖ grows and
      ‖Z‖₁ shrinks for free). A plain gradient step leaves the pixels that no code uses
      alone; Adam would move them too and leave the filters noisy.

    The history is measured on each batch before its step. Returns a :class:`PSDHistory`.
    """
    check_flags(progress=progress)
    if not isinstance(model, ConvPSD):
        raise ValueError(f"model must be a lib.psd.ConvPSD, got {type(model).__name__}")
    model._check_input(y)
    lam, alpha = check_nonneg(lam, "lam"), check_nonneg(alpha, "alpha")
    epochs, batch_size = check_count(epochs, "epochs"), check_count(batch_size, "batch_size")
    n_iter, seed = check_count(n_iter, "n_iter"), check_count(seed, "seed", 0)
    lr, decoder_lr = check_positive(lr, "lr"), check_positive(decoder_lr, "decoder_lr")
    g = torch.Generator().manual_seed(check_seed(seed))
    opt = adam([model.W_e, model.b, model.gain.g], lr)
    v = torch.randn(model.W_d.shape, generator=g, dtype=torch.float64).to(y.device, y.dtype)
    history = PSDHistory()
    steps_per_epoch = math.ceil(len(y) / batch_size)
    with tqdm(total=epochs * steps_per_epoch, desc="train_psd", disable=not progress) as bar:
        for _ in range(epochs):
            for idx in torch.randperm(len(y), generator=g).split(batch_size):
                yb = y[idx.to(y.device)]
                z = model.infer(yb, lam, alpha, n_iter).z
                pred = (z - model.encode(yb)).pow(2).sum((1, 2, 3))
                opt.zero_grad()
                (alpha * pred.mean()).backward()  # the encoder learns to predict Z*
                opt.step()
                grad, L_K, v = _filter_gradient(yb, z, model.W_d.detach(), model.boundary, v)
                with torch.no_grad():
                    rec = (yb - model.decode(z)).pow(2).sum((1, 2, 3))
                    loss = 0.5 * rec + lam * z.abs().sum((1, 2, 3)) + alpha * pred.detach()
                    history.loss.append(check_progress(loss.mean().item(), len(history.loss), lr))
                    history.recon.append((rec.sum() / yb.pow(2).sum().clamp_min(1e-30)).item())
                    history.code_error.append((pred.sum() / z.pow(2).sum().clamp_min(1e-30)).item())
                    history.sparsity.append((z == 0).float().mean().item())
                    model.W_d.copy_(_filter_step(model.W_d, grad, L_K, decoder_lr))
                bar.set_postfix(loss=f"{history.loss[-1]:.3g}", recon=f"{history.recon[-1]:.3f}")
                bar.update()
    return history


def filter_similarity(W_e: torch.Tensor, W_d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """How alike encoder and decoder filters are: |cosine| of each pair ``(W_e[i], W_d[i])``.

    ``W_e``, ``W_d`` ``[n_filters, C, k, k]`` (n ≥ 2). Returns ``(matched [n], baseline
    [n (n − 1)])``: the |cosine| of each encoder filter with its own decoder filter, and of
    every mismatched pair (i ≠ j), the level expected from chance. The absolute value makes
    the sign of a filter (which the gain can flip) irrelevant.
    """
    check_tensor(W_e, "W_e", ndim=4)
    check_tensor(W_d, "W_d", ndim=4)
    check_same(("W_e", W_e), ("W_d", W_d))
    if W_e.shape != W_d.shape or len(W_e) < 2:
        raise ValueError(
            f"W_e {tuple(W_e.shape)} and W_d {tuple(W_d.shape)} must be the same n ≥ 2 filters"
        )
    a = W_e.detach().flatten(1).double()
    b = W_d.detach().flatten(1).double()
    a = a / a.norm(dim=1, keepdim=True).clamp_min(1e-30)
    b = b / b.norm(dim=1, keepdim=True).clamp_min(1e-30)
    cos = (a @ b.T).abs()
    off = ~torch.eye(len(a), dtype=torch.bool, device=a.device)
    return cos.diagonal().clone(), cos[off]
