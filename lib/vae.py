"""The variational auto-encoder (VAE): a latent-variable EBM whose code is sampled, not inferred.

Introduced in chapter 08. The encoder maps ``y [batch, n_features]`` to a mean ``z̄`` (``mu``)
and a log-variance ``log σ²`` (``logvar``), both ``[batch, latent]``; the code is
``z = z̄ + σ ⊙ ε`` with ``ε ~ N(0, I)`` (the reparameterization, so gradients flow through
``z̄`` and ``σ``), and the decoder maps ``z`` back to pixel probabilities. The loss is

    ℓ(y) = BCE(Dec(z), y) + β · KL(N(z̄, σ²) ‖ N(0, I)),
    KL = ½ Σ_j (z̄_j² + σ_j² − log σ_j² − 1)

(closed form, Kingma & Welling 2014, Appendix B), summed over the batch. With β = 1 it is the
negative evidence lower bound (ELBO), in nats. The layer sizes of `VAE` follow the
pytorch/examples VAE (784-400-latent-400-784, ReLU, sigmoid output); `ConvVAE` has the same
interface with a convolutional encoder and decoder (after the TensorFlow tutorial
"Convolutional Variational Autoencoder"). The code is written from the paper.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812 (the usual name)
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

__all__ = [
    "ConvVAE",
    "VAE",
    "VAEHistory",
    "active_dims",
    "ball_overlap",
    "codes",
    "draw_balls",
    "fit_vae",
    "kl_divergence",
    "kl_warmup",
    "loss",
    "negative_elbo",
    "reconstruction_error",
    "train_vae",
    "vae_stats",
]


def _check_sizes(**sizes: int) -> None:
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer ≥ 1, got {value!r}")


class VAE(nn.Module):
    """Encoder ``n_features → hidden → (z̄, log σ²) [latent]``, decoder ``latent → hidden →
    n_features`` (ReLU hidden layers, sigmoid output). Defaults: 784-400-20."""

    def __init__(self, n_features: int = 784, hidden: int = 400, latent: int = 20):
        super().__init__()
        _check_sizes(n_features=n_features, hidden=hidden, latent=latent)
        self.n_features, self.latent = n_features, latent
        self.enc = nn.Linear(n_features, hidden)
        self.enc_mu = nn.Linear(hidden, latent)
        self.enc_logvar = nn.Linear(hidden, latent)
        self.dec = nn.Linear(latent, hidden)
        self.dec_out = nn.Linear(hidden, n_features)

    def _check_input(self, x: torch.Tensor, name: str, width: int) -> None:
        check_tensor(x, name, ndim=2)
        if x.shape[1] != width:
            raise ValueError(f"{name} must have shape [batch, {width}], got {tuple(x.shape)}")
        check_same(("the model", next(self.parameters())), (name, x))

    def encode(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``y [batch, n_features]`` → ``(mu, logvar)``, each ``[batch, latent]``."""
        self._check_input(y, "y", self.n_features)
        return self._encode(y)

    def _encode(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = F.relu(self.enc(y))
        return self.enc_mu(h), self.enc_logvar(h)

    def reparameterize(
        self, mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """z = mu + exp(½ logvar) ⊙ ε with ε ~ N(0, I) drawn from `generator` (on mu's device)."""
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
        return mu + torch.exp(0.5 * logvar) * eps

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``z [batch, latent]`` → pixel probabilities ``[batch, n_features]`` in (0, 1)."""
        self._check_input(z, "z", self.latent)
        return self._decode(z)

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.dec_out(F.relu(self.dec(z))))

    def forward(
        self, y: torch.Tensor, noise: bool = True, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(recon, mu, logvar)``; with ``noise=False`` the decoder gets z = mu."""
        check_flags(noise=noise)
        mu, logvar = self.encode(y)
        z = self.reparameterize(mu, logvar, generator) if noise else mu
        return self.decode(z), mu, logvar


class ConvVAE(VAE):
    """A `VAE` with a convolutional encoder and decoder for 28×28 images, still taking and
    returning flat rows ``[batch, 784]`` (so `train_vae`, `negative_elbo`, `codes` and the
    rest work unchanged). With ``channels = (c1, c2)``:

    encoder 1×28×28 → conv 3×3 stride 2 → c1×14×14 → ReLU → conv 3×3 stride 2 → c2×7×7 → ReLU
    → flatten → two linear maps to (z̄, log σ²) ``[latent]``;
    decoder ``latent`` → linear → c2×7×7 → ReLU → transposed conv 3×3 stride 2 → c1×14×14 →
    ReLU → transposed conv 3×3 stride 2 → 1×28×28 → sigmoid.

    The design of the TensorFlow tutorial "Convolutional Variational Autoencoder" (there
    c = (32, 64)) with a mirrored decoder. The default c = (8, 64) keeps a training step at
    batch 128 under 30 ms on one CPU thread; on the data of benchmarks/bench_vae.py, c1 = 16
    or 32 lower the held-out negative ELBO by another 0.5 or 0.7 nats for 1.3x or 2.1x the
    time per step, and c = (16, 32) loses 2 nats: the width c2 of the 7×7 code matters most.
    """

    def __init__(self, latent: int = 20, channels: tuple[int, int] = (8, 64)):
        nn.Module.__init__(self)  # not VAE.__init__: its linear layers are not used here
        if not isinstance(channels, tuple | list) or len(channels) != 2:
            raise ValueError(f"channels must be a pair (c1, c2), got {channels!r}")
        c1, c2 = channels
        _check_sizes(latent=latent, c1=c1, c2=c2)
        self.n_features, self.latent, self.channels = 784, latent, (c1, c2)
        self.enc = nn.Conv2d(1, c1, 3, stride=2, padding=1)
        self.enc2 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.enc_mu = nn.Linear(c2 * 7 * 7, latent)
        self.enc_logvar = nn.Linear(c2 * 7 * 7, latent)
        self.dec = nn.Linear(latent, c2 * 7 * 7)
        self.dec2 = nn.ConvTranspose2d(c2, c1, 3, stride=2, padding=1, output_padding=1)
        self.dec_out = nn.ConvTranspose2d(c1, 1, 3, stride=2, padding=1, output_padding=1)

    def _encode(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = F.relu(self.enc(y.reshape(len(y), 1, 28, 28)))
        h = F.relu(self.enc2(h)).flatten(1)
        return self.enc_mu(h), self.enc_logvar(h)

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.dec(z)).reshape(len(z), self.channels[1], 7, 7)
        h = F.relu(self.dec2(h))
        return torch.sigmoid(self.dec_out(h)).reshape(len(z), 784)


def _check_pair(recon: torch.Tensor, y: torch.Tensor) -> None:
    check_tensor(recon, "recon", ndim=2)
    check_tensor(y, "y", ndim=2)
    if recon.shape != y.shape:
        raise ValueError(f"recon {tuple(recon.shape)} and y {tuple(y.shape)} must match")
    check_same(("y", y), ("recon", recon))
    for name, t in (("y", y), ("recon", recon)):
        if bool((t < 0).any() | (t > 1).any()):
            raise ValueError(f"{name} must lie in [0, 1] for the binary cross-entropy")


def reconstruction_error(recon: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample binary cross-entropy ``[batch]``, summed over pixels, in nats."""
    _check_pair(recon, y)
    return F.binary_cross_entropy(recon, y, reduction="none").sum(1)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Per-sample KL(N(mu, exp(logvar)) ‖ N(0, I)) ``[batch]`` in nats, in closed form:
    ½ Σ_j (mu_j² + exp(logvar_j) − logvar_j − 1) (Kingma & Welling 2014, Appendix B)."""
    check_tensor(mu, "mu", ndim=2)
    check_tensor(logvar, "logvar", ndim=2)
    if mu.shape != logvar.shape:
        raise ValueError(f"mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)} must match")
    check_same(("mu", mu), ("logvar", logvar))
    kl = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(1)
    if not bool(torch.isfinite(kl).all()):
        raise ValueError(
            f"mu and logvar (up to {float(mu.abs().max()):.3g} and {float(logvar.max()):.3g}) "
            f"give a KL divergence beyond the range of {logvar.dtype}"
        )
    return kl


def loss(
    recon: torch.Tensor,
    y: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    beta: float = 1.0,
) -> torch.Tensor:
    """Summed BCE + β · KL over the batch (a scalar, in nats); β = 1 gives the negative ELBO."""
    beta = check_nonneg(beta, "beta")
    _check_pair(recon, y)
    kl_divergence(mu, logvar)  # checks mu and logvar, and that their KL is finite
    if mu.shape[0] != y.shape[0]:
        raise ValueError(f"mu has {mu.shape[0]} rows but y has {y.shape[0]}")
    check_same(("y", y), ("mu", mu))
    rec, kl = _loss_terms(recon, y, mu, logvar)
    return rec + beta * kl


def _loss_terms(
    recon: torch.Tensor, y: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(summed BCE, summed KL) over the batch, unchecked: what :func:`loss` returns (with
    β) and what :func:`train_vae` minimizes at every step."""
    rec = F.binary_cross_entropy(recon, y, reduction="sum")
    return rec, 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum()


def kl_warmup(steps: int, beta: float = 1.0) -> Callable[[int], float]:
    """A KL warm-up schedule: step ↦ β · min(1, (step + 1) / steps), for ``train_vae(beta=...)``
    (Bowman et al. 2016; Sønderby et al. 2016)."""
    steps = check_count(steps, "steps")
    beta = check_nonneg(beta, "beta")
    return lambda step: beta * min(1.0, (step + 1) / steps)


@dataclass
class VAEHistory:
    """Per training step (minibatch), each value per image: the loss being minimized, its
    reconstruction and KL parts, β, the mean ‖z̄‖ and the mean σ over the batch."""

    loss: list[float] = field(default_factory=list)
    recon: list[float] = field(default_factory=list)
    kl: list[float] = field(default_factory=list)
    beta: list[float] = field(default_factory=list)
    z_norm: list[float] = field(default_factory=list)
    sigma: list[float] = field(default_factory=list)


def _check_data(model: VAE, y: torch.Tensor) -> torch.Tensor:
    if not isinstance(model, VAE):
        raise ValueError(f"model must be a lib.vae.VAE, got {type(model).__name__}")
    model._check_input(y, "y", model.n_features)
    if bool((y < 0).any() | (y > 1).any()):
        raise ValueError("y must lie in [0, 1] for the binary cross-entropy")
    return y


def train_vae(
    model: VAE,
    y: torch.Tensor,
    epochs: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    beta: float | Callable[[int], float] = 1.0,
    noise: bool = True,
    seed: int = 0,
    progress: bool = True,
) -> VAEHistory:
    """Train `model` in place on ``y [n, n_features]`` (values in [0, 1]) with Adam.

    Each epoch visits the data in a seeded random order in minibatches of `batch_size` (the
    last one may be smaller) and minimizes the summed BCE + β · KL. `beta` is a number or a
    schedule ``step ↦ β`` (see :func:`kl_warmup`); ``noise=False`` feeds z = z̄ to the decoder.
    The shuffle and the noise come from `seed`, so a seeded model gives the same result twice.
    `y` must be on the model's device and in its dtype. Returns a :class:`VAEHistory`.
    """
    check_flags(noise=noise, progress=progress)
    _check_data(model, y)
    epochs = check_count(epochs, "epochs")
    batch_size = check_count(batch_size, "batch_size")
    check_positive(lr, "lr")
    if callable(beta):
        schedule = beta
    else:
        constant = check_nonneg(beta, "beta")
        schedule = lambda step: constant  # noqa: E731
    order_gen = torch.Generator().manual_seed(check_seed(seed))
    noise_gen = torch.Generator(device=y.device).manual_seed(check_seed(seed))
    opt = adam(list(model.parameters()), lr)
    history = VAEHistory()
    model.train()
    steps = epochs * math.ceil(len(y) / batch_size)
    with tqdm(total=steps, disable=not progress, desc="train_vae") as bar:
        for step in range(steps):
            if step % math.ceil(len(y) / batch_size) == 0:
                batches = iter(torch.randperm(len(y), generator=order_gen).split(batch_size))
            yb = y[next(batches).to(y.device)]
            b = check_nonneg(schedule(step), "beta")
            # y was checked once above; the unchecked _encode/_decode keep each step cheap
            mu, logvar = model._encode(yb)
            z = model.reparameterize(mu, logvar, noise_gen) if noise else mu
            recon = model._decode(z)
            if not bool(torch.isfinite(recon).all()):  # the BCE would fail on it, unclearly
                check_progress(math.nan, step, lr)
            rec, kl = _loss_terms(recon, yb, mu, logvar)
            total = rec + b * kl
            opt.zero_grad()
            total.backward()
            opt.step()
            n = len(yb)
            history.loss.append(check_progress(total.item(), step + 1, lr) / n)
            history.recon.append(rec.item() / n)
            history.kl.append(kl.item() / n)
            history.beta.append(b)
            history.z_norm.append(mu.detach().norm(dim=1).mean().item())
            history.sigma.append(torch.exp(0.5 * logvar.detach()).mean().item())
            bar.set_postfix(loss=f"{history.loss[-1]:.1f}")
            bar.update()
    model.eval()
    return history


def fit_vae(
    y: torch.Tensor,
    latent: int = 2,
    hidden: int = 400,
    seed: int = 0,
    conv: bool = False,
    **train_options,
) -> tuple[VAE, VAEHistory]:
    """A new `VAE` (weights seeded by `seed`, on y's device and dtype) trained by `train_vae`;
    ``conv=True`` makes it a `ConvVAE` with its default channels (`hidden` is then unused)."""
    check_flags(conv=conv)
    torch.manual_seed(check_seed(seed))
    if conv:
        model = ConvVAE(latent)
    else:
        model = VAE(y.shape[-1] if y.dim() == 2 else 784, hidden, latent)
    model = model.to(y.device, y.dtype)
    return model, train_vae(model, y, seed=seed, **train_options)


@torch.no_grad()
def negative_elbo(
    model: VAE, y: torch.Tensor, samples: int = 1, seed: int = 0, batch_size: int = 1000
) -> float:
    """Held-out negative ELBO in nats per image: mean over y of BCE(Dec(z), y) + KL, with z
    drawn `samples` times per image (seeded). It upper-bounds −log p(y) (the BCE of gray-level
    pixels is used as their log-likelihood, as in the pytorch/examples VAE)."""
    _check_data(model, y)
    samples = check_count(samples, "samples")
    batch_size = check_count(batch_size, "batch_size")
    gen = torch.Generator(device=y.device).manual_seed(check_seed(seed))
    total = 0.0
    for yb in y.split(batch_size):
        mu, logvar = model.encode(yb)
        kl = kl_divergence(mu, logvar).sum().item()
        for _ in range(samples):
            recon = model.decode(model.reparameterize(mu, logvar, gen))
            total += reconstruction_error(recon, yb).sum().item() / samples
        total += kl
    return total / len(y)


@torch.no_grad()
def active_dims(model: VAE, y: torch.Tensor, threshold: float = 0.01) -> int:
    """The number of latent dimensions j whose mean code varies across the data:
    Var_y(z̄_j) > `threshold` (Burda et al. 2016). Inactive dimensions carry no information."""
    _check_data(model, y)
    threshold = check_nonneg(threshold, "threshold")
    if len(y) < 2:
        raise ValueError("y needs at least 2 rows to measure a variance across the data")
    mu, _ = model.encode(y)
    return int((mu.var(dim=0) > threshold).sum())


@torch.no_grad()
def vae_stats(model: VAE, y: torch.Tensor, seed: int = 0) -> dict[str, float]:
    """Per-image averages over y: ``recon`` (BCE of one noisy sample), ``kl``, ``nelbo``
    (their sum), ``z_norm`` (‖z̄‖), ``sigma`` (mean σ), and ``active`` (see active_dims)."""
    _check_data(model, y)
    gen = torch.Generator(device=y.device).manual_seed(check_seed(seed))
    mu, logvar = model.encode(y)
    rec = reconstruction_error(model.decode(model.reparameterize(mu, logvar, gen)), y).mean()
    kl = kl_divergence(mu, logvar).mean()
    return {
        "recon": rec.item(),
        "kl": kl.item(),
        "nelbo": (rec + kl).item(),
        "z_norm": mu.norm(dim=1).mean().item(),
        "sigma": torch.exp(0.5 * logvar).mean().item(),
        "active": float(active_dims(model, y)),
    }


@torch.no_grad()
def codes(model: VAE, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The balls of the data: centers z̄ and radii σ = exp(½ log σ²), each ``[n, latent]``."""
    _check_data(model, y)
    mu, logvar = model.encode(y)
    return mu, torch.exp(0.5 * logvar)


def ball_overlap(
    mu: torch.Tensor, sigma: torch.Tensor, labels: torch.Tensor
) -> tuple[float, float]:
    """The fraction of pairs of balls that overlap, for pairs of the same class and of
    different classes. Ball i has center ``mu[i]`` and radius the mean of ``sigma[i]``;
    balls i and j overlap when ‖z̄_i − z̄_j‖ < r_i + r_j."""
    check_tensor(mu, "mu", ndim=2)
    check_tensor(sigma, "sigma", ndim=2)
    if mu.shape != sigma.shape or labels.shape != mu.shape[:1] or len(mu) < 2:
        raise ValueError(
            f"mu {tuple(mu.shape)}, sigma {tuple(sigma.shape)} and labels "
            f"{tuple(labels.shape)} must describe the same n ≥ 2 balls"
        )
    r = sigma.mean(1)
    hit = torch.cdist(mu, mu) < r[:, None] + r[None, :]
    same = labels[:, None] == labels[None, :]
    off = ~torch.eye(len(mu), dtype=torch.bool, device=mu.device)
    rate = lambda mask: hit[mask].float().mean().item() if bool(mask.any()) else float("nan")  # noqa: E731
    return rate(same & off), rate(~same)


def draw_balls(ax, mu: torch.Tensor, sigma: torch.Tensor, labels: torch.Tensor, lim=None) -> None:
    """Draw each 2-D code as an ellipse of half-axes (σ_1, σ_2) around z̄, colored by class."""
    import matplotlib.pyplot as plt
    from matplotlib.collections import EllipseCollection

    mu, sigma, labels = mu.detach().cpu(), sigma.detach().cpu(), labels.cpu()
    if mu.shape[1] != 2:
        raise ValueError(f"draw_balls needs 2-D codes, got mu of shape {tuple(mu.shape)}")
    balls = EllipseCollection(
        2 * sigma[:, 0].numpy(),
        2 * sigma[:, 1].numpy(),
        0.0,
        units="xy",
        offsets=mu.numpy(),
        offset_transform=ax.transData,
        facecolors=plt.cm.tab10(labels.numpy() % 10),
        alpha=0.25,
    )
    ax.add_collection(balls)
    lim = lim if lim is not None else float((mu.abs() + sigma).max()) * 1.05
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
