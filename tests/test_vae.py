"""Tests of lib.vae (chapter 08): shapes, dtypes, the closed-form KL, training, errors."""

from __future__ import annotations

import math

import pytest
import torch

from lib.data import load_mnist
from lib.vae import (
    VAE,
    ConvVAE,
    VAEHistory,
    active_dims,
    ball_overlap,
    codes,
    draw_balls,
    fit_vae,
    kl_divergence,
    kl_warmup,
    loss,
    negative_elbo,
    reconstruction_error,
    train_vae,
    vae_stats,
)

SMALL = {"hidden": 32, "latent": 2}
TINY_CONV = {"latent": 2, "channels": (4, 8)}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits():
    y, _ = load_mnist("train", n=200)
    return y


def fit(y, **kwargs):
    options = SMALL | {"epochs": 2, "batch_size": 64, "progress": False}
    return fit_vae(y, **(options | kwargs))


def test_shapes(digits):
    model = VAE(hidden=32, latent=3)
    mu, logvar = model.encode(digits[:5])
    assert mu.shape == logvar.shape == (5, 3)
    z = model.reparameterize(mu, logvar)
    recon = model.decode(z)
    assert recon.shape == (5, 784) and bool(((recon > 0) & (recon < 1)).all())
    recon, mu2, _ = model(digits[:5], noise=False)
    assert torch.equal(mu, mu2)
    assert torch.allclose(recon, model.decode(mu))
    assert loss(recon, digits[:5], mu, logvar).dim() == 0


def test_default_sizes_are_the_pytorch_example():
    model = VAE()
    assert (model.enc.in_features, model.enc.out_features, model.latent) == (784, 400, 20)


def test_reparameterize_is_seeded_and_differentiable():
    mu = torch.zeros(4, 2, requires_grad=True)
    logvar = torch.zeros(4, 2, requires_grad=True)
    model = VAE(**SMALL)
    a = model.reparameterize(mu, logvar, torch.Generator().manual_seed(1))
    b = model.reparameterize(mu, logvar, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    a.sum().backward()
    assert mu.grad is not None and logvar.grad is not None


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtypes(digits, dtype):
    y = digits[:130].to(dtype)
    model, history = fit(y, epochs=1)
    assert next(model.parameters()).dtype == dtype
    recon, mu, _ = model(y)
    assert recon.dtype == mu.dtype == dtype
    assert isinstance(negative_elbo(model, y), float)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cuda(digits, dtype):
    y = digits[:130].to("cuda", dtype)
    model, history = fit(y, epochs=1)
    assert next(model.parameters()).device.type == "cuda"
    assert model(y)[0].dtype == dtype
    assert math.isfinite(negative_elbo(model, y)) and math.isfinite(history.loss[-1])


def test_kl_closed_form_matches_monte_carlo():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(3, 4, generator=g, dtype=torch.float64)
    logvar = torch.randn(3, 4, generator=g, dtype=torch.float64)
    n = 200_000
    std = torch.exp(0.5 * logvar)
    z = mu + std * torch.randn(n, 3, 4, generator=g, dtype=torch.float64)
    q = torch.distributions.Normal(mu, std)
    p = torch.distributions.Normal(0.0, 1.0)
    mc = (q.log_prob(z) - p.log_prob(z)).sum(-1).mean(0)  # E_q[log q(z) − log p(z)]
    closed = kl_divergence(mu, logvar)
    se = (q.log_prob(z) - p.log_prob(z)).sum(-1).std(0) / math.sqrt(n)
    assert bool(((mc - closed).abs() < 5 * se).all()), (mc, closed, se)
    # and against torch's own closed form
    ref = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(-1)
    assert torch.allclose(closed, ref)


def test_kl_is_zero_at_the_prior():
    assert torch.equal(kl_divergence(torch.zeros(2, 5), torch.zeros(2, 5)), torch.zeros(2))


def test_loss_is_summed_bce_plus_beta_kl(digits):
    model = VAE(**SMALL)
    y = digits[:8]
    recon, mu, logvar = model(y)
    bce = torch.nn.functional.binary_cross_entropy(recon, y, reduction="sum")
    kl = kl_divergence(mu, logvar).sum()
    assert torch.allclose(loss(recon, y, mu, logvar, beta=3.0), bce + 3.0 * kl)
    assert torch.allclose(reconstruction_error(recon, y).sum(), bce)


def test_one_training_step_lowers_the_loss(digits):
    torch.manual_seed(0)
    model = VAE(**SMALL)
    y = digits[:64]

    def objective():
        with torch.no_grad():
            recon, mu, logvar = model(y, generator=torch.Generator().manual_seed(5))
            return loss(recon, y, mu, logvar).item()

    before = objective()
    history = train_vae(model, y, epochs=1, batch_size=64, progress=False)
    assert len(history.loss) == 1
    assert objective() < before


def test_last_partial_batch_is_used(digits):
    _, history = fit(digits[:70], epochs=3, batch_size=32)
    assert isinstance(history, VAEHistory)
    assert len(history.loss) == 3 * 3  # 32 + 32 + 6 per epoch
    assert all(math.isfinite(v) for v in history.loss)


def test_beta_zero_keeps_the_noise_and_drops_the_kl(digits):
    _, h0 = fit(digits, beta=0.0, epochs=3, seed=1)
    _, h_det = fit(digits, beta=0.0, epochs=3, seed=1, noise=False)
    assert h0.beta == [0.0] * len(h0.loss)
    assert h0.loss == h0.recon  # the KL is measured but not minimized
    assert h0.loss != h_det.loss  # the noise changes the training
    assert h0.kl[-1] > 0


def test_without_kl_the_codes_drift_away(digits):
    _, h0 = fit(digits, beta=0.0, epochs=25, seed=2, lr=3e-3)
    _, h1 = fit(digits, beta=1.0, epochs=25, seed=2, lr=3e-3)
    assert h0.z_norm[-1] > 10 * h0.z_norm[0]
    assert h0.z_norm[-1] > 1.5 * h1.z_norm[-1]  # the balls fly away from the origin
    assert h0.sigma[-1] < 0.5 * h1.sigma[-1]  # and shrink


def test_seeded_determinism(digits):
    a, ha = fit(digits, seed=3)
    b, hb = fit(digits, seed=3)
    c, hc = fit(digits, seed=4)
    assert ha.loss == hb.loss
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert ha.loss != hc.loss
    assert negative_elbo(a, digits, seed=7) == negative_elbo(b, digits, seed=7)


def test_kl_warmup_schedule(digits):
    schedule = kl_warmup(4, beta=2.0)
    assert [schedule(s) for s in range(6)] == [0.5, 1.0, 1.5, 2.0, 2.0, 2.0]
    _, history = fit(digits, beta=kl_warmup(4))
    assert history.beta[:4] == [0.25, 0.5, 0.75, 1.0]


def test_stats_and_active_dims(digits):
    model, _ = fit(digits, latent=4, epochs=2)
    stats = vae_stats(model, digits)
    assert set(stats) == {"recon", "kl", "nelbo", "z_norm", "sigma", "active"}
    assert stats["nelbo"] == pytest.approx(stats["recon"] + stats["kl"], rel=1e-5)
    assert 0 <= active_dims(model, digits) <= 4
    assert active_dims(model, digits, threshold=0.0) == 4
    assert active_dims(model, digits, threshold=1e9) == 0
    assert negative_elbo(model, digits, samples=3) > 0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda m, y: m.encode(y[:, :100]), r"y must have shape \[batch, 784\]"),
        (lambda m, y: m.encode(y[0]), "y must have 2 dimensions"),
        (lambda m, y: m.encode(y[:0]), "y is empty"),
        (lambda m, y: m.encode(y.double()), "y is torch.float64"),
        (lambda m, y: m.decode(torch.zeros(3, 5)), r"z must have shape \[batch, 2\]"),
        (lambda m, y: m.encode(torch.full_like(y, float("nan"))), "y contains NaN"),
        (lambda m, y: loss(y, y * 2, *m.encode(y)), r"y must lie in \[0, 1\]"),
        (lambda m, y: loss(y - 1, y, *m.encode(y)), r"recon must lie in \[0, 1\]"),
        (lambda m, y: loss(y, y[:3], *m.encode(y)), "must match"),
        (lambda m, y: loss(y, y, *m.encode(y), beta=-1.0), "beta must be"),
        (lambda m, y: loss(y, y, *m.encode(y), beta=float("nan")), "beta must be"),
        (lambda m, y: loss(y[:2], y[:2], *m.encode(y)), "mu has 4 rows"),
        (lambda m, y: kl_divergence(torch.zeros(2, 3), torch.zeros(2, 4)), "must match"),
        (lambda m, y: train_vae(m, y * 2, epochs=1), r"y must lie in \[0, 1\]"),
        (lambda m, y: train_vae(m, y[:0], epochs=1), "y is empty"),
        (lambda m, y: train_vae(m, y, epochs=0), "epochs must be"),
        (lambda m, y: train_vae(m, y, epochs=1, beta=-0.5), "beta must be"),
        (lambda m, y: train_vae(m, y, epochs=1, beta=lambda s: -1.0), "beta must be"),
        (lambda m, y: train_vae(m, y, epochs=1, batch_size=0), "batch_size must be"),
        (lambda m, y: train_vae("not a model", y, epochs=1), "model must be"),
        (lambda m, y: active_dims(m, y[:1]), "at least 2 rows"),
        (lambda m, y: kl_warmup(0), "steps must be"),
        (lambda m, y: VAE(latent=0), "latent must be"),
    ],
)
def test_errors(digits, call, match):
    model = VAE(**SMALL)
    with pytest.raises(ValueError, match=match):
        call(model, digits[:4])


def test_mismatched_device_is_refused(digits):
    model = VAE(**SMALL).to("meta")
    with pytest.raises(ValueError, match="same device"):
        model.encode(digits[:4])


def test_codes_and_ball_overlap(digits):
    model, _ = fit(digits, epochs=2)
    mu, sigma = codes(model, digits)
    assert mu.shape == sigma.shape == (200, 2) and bool((sigma > 0).all())
    labels = torch.tensor([0, 0, 1, 1])
    far = torch.tensor([[0.0, 0.0], [0.5, 0.0], [10.0, 0.0], [10.5, 0.0]])
    assert ball_overlap(far, torch.ones(4, 2), labels) == (1.0, 0.0)
    assert ball_overlap(far, torch.full((4, 2), 100.0), labels) == (1.0, 1.0)
    with pytest.raises(ValueError, match="same n"):
        ball_overlap(far, torch.ones(3, 2), labels)


def test_draw_balls(digits):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    draw_balls(ax, torch.zeros(3, 2), torch.ones(3, 2), torch.tensor([0, 1, 2]))
    assert len(ax.collections) == 1 and ax.get_xlim()[1] > 1
    with pytest.raises(ValueError, match="2-D codes"):
        draw_balls(ax, torch.zeros(3, 4), torch.ones(3, 4), torch.tensor([0, 1, 2]))
    plt.close(fig)


def test_conv_vae_shapes_and_ranges(digits):
    torch.manual_seed(0)
    model = ConvVAE(latent=3)
    assert model.channels == (8, 64) and model.n_features == 784
    mu, logvar = model.encode(digits[:5])
    assert mu.shape == logvar.shape == (5, 3)
    recon = model.decode(model.reparameterize(mu, logvar))
    assert recon.shape == (5, 784) and bool(((recon > 0) & (recon < 1)).all())
    recon, mu2, _ = model(digits[:5], noise=False)
    assert torch.equal(mu, mu2) and torch.allclose(recon, model.decode(mu))
    assert math.isfinite(negative_elbo(model, digits[:5], samples=2))
    assert codes(model, digits[:5])[1].shape == (5, 3)


def test_conv_vae_is_convolutional(digits):
    """Shifting a digit by 4 pixels (a multiple of the two strides) shifts the first layer's
    feature maps by 2: the encoder shares its weights across positions."""
    model = ConvVAE(**TINY_CONV)
    img = digits[:1].reshape(1, 1, 28, 28)
    moved = torch.roll(img, shifts=4, dims=3)
    with torch.no_grad():
        a, b = model.enc(img), model.enc(moved)
    assert torch.allclose(torch.roll(a, shifts=2, dims=3)[..., 4:12], b[..., 4:12], atol=1e-6)


def test_conv_vae_training_lowers_the_loss(digits):
    torch.manual_seed(0)
    model = ConvVAE(**TINY_CONV)
    before = negative_elbo(model, digits, samples=2, seed=5)
    history = train_vae(model, digits, epochs=3, batch_size=32, lr=1e-2, progress=False)
    assert len(history.loss) == 3 * 7  # 200 digits in batches of 32: 6 full + 1 of 8
    assert negative_elbo(model, digits, samples=2, seed=5) < before - 100


def test_conv_vae_seeded_determinism(digits):
    a, ha = fit_vae(digits[:64], conv=True, epochs=1, batch_size=32, seed=3, progress=False)
    b, hb = fit_vae(digits[:64], conv=True, epochs=1, batch_size=32, seed=3, progress=False)
    c, hc = fit_vae(digits[:64], conv=True, epochs=1, batch_size=32, seed=4, progress=False)
    assert isinstance(a, ConvVAE) and a.latent == 2
    assert ha.loss == hb.loss and ha.loss != hc.loss
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert negative_elbo(a, digits, seed=7) == negative_elbo(b, digits, seed=7)


def test_conv_vae_float64(digits):
    model, history = fit_vae(digits[:32].double(), conv=True, epochs=1, progress=False)
    assert next(model.parameters()).dtype == torch.float64
    assert model(digits[:2].double())[0].dtype == torch.float64
    assert math.isfinite(history.loss[-1])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_conv_vae_cuda(digits):
    y = digits[:64].to("cuda")
    model, history = fit_vae(y, conv=True, epochs=1, batch_size=32, progress=False)
    assert next(model.parameters()).device.type == "cuda"
    assert math.isfinite(negative_elbo(model, y)) and math.isfinite(history.loss[-1])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda m, y: m.encode(y[:, :100]), r"y must have shape \[batch, 784\]"),
        (lambda m, y: m.encode(y.reshape(-1, 28, 28)), "y must have 2 dimensions"),
        (lambda m, y: m.encode(y.double()), "y is torch.float64"),
        (lambda m, y: m.encode(torch.full_like(y, float("nan"))), "y contains NaN"),
        (lambda m, y: m.decode(torch.zeros(3, 5)), r"z must have shape \[batch, 2\]"),
        (lambda m, y: train_vae(m, y * 2, epochs=1), r"y must lie in \[0, 1\]"),
        (lambda m, y: fit_vae(y[:, :100], conv=True, epochs=1), r"\[batch, 784\]"),
        (lambda m, y: ConvVAE(latent=0), "latent must be"),
        (lambda m, y: ConvVAE(channels=(8,)), r"channels must be a pair"),
        (lambda m, y: ConvVAE(channels=(8, 0)), "c2 must be"),
        (lambda m, y: ConvVAE(channels=(8.0, 16)), "c1 must be"),
    ],
)
def test_conv_vae_errors(digits, call, match):
    model = ConvVAE(**TINY_CONV)
    with pytest.raises(ValueError, match=match):
        call(model, digits[:4])


def test_conv_vae_mismatched_device_is_refused(digits):
    model = ConvVAE(**TINY_CONV).to("meta")
    with pytest.raises(ValueError, match="same device"):
        model.encode(digits[:4])
