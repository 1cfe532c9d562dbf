"""Tests of lib.psd (chapter 07): the convolutional PSD model, its energy, inference, training,
the encoder/decoder filter similarity, the speed comparison and the classifier helpers."""

from __future__ import annotations

import pytest
import torch
from torch.nn.functional import conv2d

from lib.classifier import (
    accuracy,
    few_labels,
    small_convnet,
    train_classifier,
)
from lib.conv import conv_energy, conv_fista
from lib.conv_dictionary import normalize_filters
from lib.operators import conv_decode, conv_lipschitz
from lib.psd import (
    ConvPSD,
    Gain,
    PSDHistory,
    filter_similarity,
    relative_error,
    train_psd,
)
from lib.solvers import SolverResult
from lib.timing import inference_speed

BOUNDARIES = ["zero", "circular"]
LAM, ALPHA = 0.1, 0.5


pytestmark = pytest.mark.usefixtures("one_thread")


def images(seed, batch=4, C=1, H=10, W=12, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, C, H, W, generator=g, dtype=torch.float64).to(dtype)


def model(n_filters=3, k=3, C=1, boundary="zero", dtype=torch.float64, seed=0):
    """A PSD with a non-trivial bias and gain, so that tests see them."""
    m = ConvPSD(n_filters, k, C, boundary=boundary, seed=seed).to(dtype)
    with torch.no_grad():
        m.b.copy_(torch.linspace(-0.2, 0.3, n_filters))
        m.gain.g.copy_(torch.linspace(0.5, 1.5, n_filters))
    return m


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("C", [1, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shapes_and_dtypes(boundary, C, dtype):
    m, y = model(4, 5, C, boundary, dtype), images(0, C=C, dtype=dtype)
    extra = 4 if boundary == "zero" else 0
    z = m.encode(y)
    assert z.shape == (4, 4, 10 + extra, 12 + extra) == (len(y), *m.code_shape(y))
    assert z.dtype == dtype and torch.equal(m(y), z)
    assert m.decode(z).shape == y.shape and m.decode(z).dtype == dtype
    res = m.infer(y, LAM, ALPHA, n_iter=3)
    assert isinstance(res, SolverResult) and res.z.shape == z.shape and res.n_iter == 3
    assert res.objective_history.shape == (3,) and not res.converged
    assert m.energy(y, z, LAM, ALPHA).shape == (4,)
    assert m.W_e.shape == m.W_d.shape == (4, C, 5, 5)


def test_encoder_is_gain_times_tanh_of_a_correlation():
    m, y = model(3, 3), images(1)
    hand = torch.tanh(conv2d(y, m.W_e, padding=2) + m.b[:, None, None])
    hand = hand * m.gain.g[:, None, None]
    torch.testing.assert_close(m.encode(y), hand)


def test_gain_is_per_feature_map_and_scales_the_code():
    m, y = model(3, 3), images(2)
    z = m.encode(y).detach()
    assert m.gain.g.shape == (3,)
    with torch.no_grad():
        m.gain.g[1] *= 2.0
    z2 = m.encode(y).detach()
    torch.testing.assert_close(z2[:, 1], 2 * z[:, 1])
    torch.testing.assert_close(z2[:, [0, 2]], z[:, [0, 2]])
    x = torch.ones(2, 4, 3, 3)
    gain = Gain(4)
    with torch.no_grad():
        gain.g.copy_(torch.tensor([1.0, -2.0, 0.0, 3.0]))
    assert gain(x)[:, :, 0, 0].tolist() == [[1.0, -2.0, 0.0, 3.0]] * 2


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_energy_equals_a_hand_computation(boundary):
    m, y = model(3, 3, boundary=boundary), images(3)
    g = torch.Generator().manual_seed(4)
    z = torch.randn(len(y), *m.code_shape(y), generator=g, dtype=torch.float64)
    r = y - conv_decode(z, m.W_d.detach(), boundary)
    e = m.encode(y)
    hand = 0.5 * (r**2).sum((1, 2, 3)) + LAM * z.abs().sum((1, 2, 3))
    hand = hand + ALPHA * ((z - e) ** 2).sum((1, 2, 3))
    torch.testing.assert_close(m.energy(y, z, LAM, ALPHA), hand)
    # α = 0 is chapter 06's energy
    torch.testing.assert_close(
        m.energy(y, z, LAM, 0.0), conv_energy(y, z, m.W_d.detach(), LAM, boundary)
    )


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_lipschitz_bounds_the_decoder_norm(boundary):
    """An upper bound at every size (zero boundary), tight on large images."""
    m = model(3, 4, C=2, boundary=boundary)
    for shape in [(10, 12), (48, 48)]:
        L = m.lipschitz(shape)
        L_power = conv_lipschitz(m.W_d.detach(), shape, boundary, tol=1e-10, n_iter=2000)
        assert L >= L_power * (1 - 1e-6)
    assert L <= L_power * 1.05


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("momentum", [True, False])
def test_inference_lowers_the_energy_of_the_prediction(boundary, momentum):
    m, y = model(3, 3, boundary=boundary), images(5)
    E_pred = m.energy(y, m.encode(y), LAM, ALPHA).detach()
    res = m.infer(y, LAM, ALPHA, n_iter=20, momentum=momentum)
    E_star = m.energy(y, res.z, LAM, ALPHA).detach()
    assert bool((E_star < E_pred - 1e-3).all())
    torch.testing.assert_close(res.objective_history[-1], E_star.mean())
    if not momentum:  # ISTA with step 1/L never goes up
        assert bool((res.objective_history.diff() <= 1e-10).all())
    assert bool((res.z == 0).any())  # the shrinkage makes zeros


def test_inference_with_alpha_zero_solves_conv_sparse_coding():
    """α = 0: PSD inference is conv FISTA on ½‖Y − Dec Z‖² + λ‖Z‖₁ (from another start)."""
    m, y = model(3, 3), images(6, batch=2)
    res = m.infer(y, LAM, 0.0, n_iter=3000)
    ref = conv_fista(y, m.W_d.detach(), LAM, tol=1e-12, max_iter=20_000)
    E = m.energy(y, res.z, LAM, 0.0)
    E_ref = conv_energy(y, ref.z, m.W_d.detach(), LAM)
    torch.testing.assert_close(E, E_ref, rtol=1e-6, atol=1e-8)


def test_one_training_step_lowers_the_loss():
    m, y = model(3, 3), images(7, batch=8)
    z = m.infer(y, LAM, ALPHA, n_iter=5).z
    before = m.energy(y, z, LAM, ALPHA).mean().item()
    hist = train_psd(m, y, LAM, ALPHA, epochs=1, batch_size=8, lr=1e-3, n_iter=5, progress=False)
    after = m.energy(y, z, LAM, ALPHA).mean().item()
    assert isinstance(hist, PSDHistory) and len(hist.loss) == 1
    assert hist.loss[0] == pytest.approx(before)  # measured on the batch, before its step
    assert after < before - 1e-3
    norms = torch.linalg.vector_norm(m.W_d.detach().flatten(1), dim=1)
    torch.testing.assert_close(norms, torch.ones(3, dtype=torch.float64))


def test_training_learns_and_is_seeded():
    y = images(8, batch=16, H=12, W=12, dtype=torch.float32)
    runs = []
    for _ in range(2):
        m = ConvPSD(4, 3, seed=1)
        h = train_psd(m, y, LAM, 1.0, epochs=6, batch_size=4, lr=0.02, n_iter=5, progress=False)
        runs.append((h, m.W_e.detach().clone()))
    h = runs[0][0]
    assert len(h.loss) == len(h.recon) == len(h.code_error) == len(h.sparsity) == 24
    assert sum(h.loss[-4:]) < 0.7 * sum(h.loss[:4])
    assert sum(h.code_error[-4:]) < sum(h.code_error[:4])
    assert all(0 <= s <= 1 for s in h.sparsity)
    assert runs[0][0].loss == runs[1][0].loss and torch.equal(runs[0][1], runs[1][1])


def test_training_supports_colour_images():
    y = images(9, batch=4, C=3, H=12, W=12, dtype=torch.float32)
    m = ConvPSD(4, 9, in_channels=3, boundary="circular")
    h = train_psd(m, y, LAM, 1.0, epochs=2, batch_size=2, n_iter=3, progress=False)
    assert m.W_d.shape == (4, 3, 9, 9) and len(h.loss) == 4


def test_filter_similarity():
    g = torch.Generator().manual_seed(10)
    W = normalize_filters(torch.randn(5, 2, 4, 4, generator=g))
    matched, baseline = filter_similarity(W, W)
    torch.testing.assert_close(matched, torch.ones(5, dtype=torch.float64))
    assert baseline.shape == (20,) and float(baseline.max()) < 0.9
    flipped, _ = filter_similarity(-3 * W, W)  # sign and scale do not matter
    torch.testing.assert_close(flipped, matched)
    shuffled, _ = filter_similarity(W[[1, 2, 3, 4, 0]], W)
    assert float(shuffled.mean()) < 0.5
    with pytest.raises(ValueError, match="n ≥ 2"):
        filter_similarity(W[:1], W[:1])
    with pytest.raises(ValueError, match="same n"):
        filter_similarity(W, W[:4])


def test_relative_error():
    y = torch.tensor([[3.0, 4.0]])
    assert relative_error(y, torch.zeros(1, 2)) == 1.0
    assert relative_error(y, torch.tensor([[3.0, 0.0]])) == pytest.approx(16 / 25)
    with pytest.raises(ValueError, match="must match"):
        relative_error(y, torch.zeros(2, 2))


def test_inference_speed_reports_iterations_and_ratio():
    m = ConvPSD(4, 3, boundary="circular", seed=0)
    y = images(11, batch=4, H=12, W=12, dtype=torch.float32)
    train_psd(m, y, LAM, 1.0, epochs=4, batch_size=4, lr=0.02, progress=False)
    out = inference_speed(m, y, LAM, 1.0, max_iter=200, repeats=1)
    assert set(out) == {"target", "encoder_s", "fista_iter", "fista_s", "speedup"}
    assert out["fista_iter"] >= 1 and out["encoder_s"] > 0 and out["speedup"] > 0
    assert 0 < out["target"] < 1


def test_bad_inputs():
    m, y = model(3, 3), images(12)
    z = m.encode(y).detach()
    with pytest.raises(ValueError, match="4 dimensions"):
        m.encode(y[0])
    with pytest.raises(ValueError, match="channels"):
        m.encode(images(12, C=2))
    with pytest.raises(ValueError, match="empty"):
        m.encode(y[:0])
    with pytest.raises(ValueError, match="NaN"):
        m.encode(torch.full_like(y, float("nan")))
    with pytest.raises(ValueError, match="float64"):
        m.encode(y.float())
    with pytest.raises(ValueError, match="float32 or float64"):
        m.encode(y.long())
    with pytest.raises(ValueError, match="lam"):
        m.energy(y, z, -1.0, ALPHA)
    with pytest.raises(ValueError, match="alpha"):
        m.infer(y, LAM, float("nan"))
    with pytest.raises(ValueError, match="must have shape"):
        m.energy(y, z[..., :-1], LAM, ALPHA)
    with pytest.raises(ValueError, match="z0"):
        m.infer(y, LAM, ALPHA, z0=z[:2])
    with pytest.raises(ValueError, match="n_iter"):
        m.infer(y, LAM, ALPHA, n_iter=0)
    with pytest.raises(ValueError, match="boundary"):
        ConvPSD(3, 3, boundary="reflect")
    with pytest.raises(ValueError, match="n_filters"):
        ConvPSD(0, 3)
    with pytest.raises(ValueError, match="kernel_size"):
        ConvPSD(3, 2.5)
    with pytest.raises(ValueError, match="model must be"):
        train_psd(torch.nn.Linear(2, 2), y, LAM)
    with pytest.raises(ValueError, match="lr"):
        train_psd(m, y, LAM, lr=0.0)
    with pytest.raises(ValueError, match="batch_size"):
        train_psd(m, y, LAM, batch_size=0)


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_convnet_first_layer_copies_the_encoder(boundary):
    m, y = model(3, 5, boundary=boundary, dtype=torch.float32), images(13, H=16, W=16)
    y = y.float()
    net = small_convnet(3, 5, image_size=16, pool=2, encoder=m, freeze=True)
    torch.testing.assert_close(net[0].weight, m.W_e.detach())
    torch.testing.assert_close(net[0].bias, m.b.detach())
    torch.testing.assert_close(net[2].g, m.gain.g.detach())
    assert not any(p.requires_grad for p in [*net[0].parameters(), *net[2].parameters()])
    assert net[-1].weight.requires_grad
    if boundary == "zero":  # the same features, "same" instead of "full" padding
        torch.testing.assert_close(net[:3](y), m.encode(y)[..., 2:18, 2:18])
    assert net(y).shape == (len(y), 10)
    random = small_convnet(3, 5, image_size=16, pool=2, seed=0)
    assert not torch.allclose(random[0].weight, m.W_e.detach())
    assert random[0].weight.requires_grad
    deep = small_convnet(3, 5, image_size=16, pool=2, hidden=4)
    assert deep(y).shape == (len(y), 10)
    with pytest.raises(ValueError, match="do not fit"):
        small_convnet(4, 5, encoder=m)
    with pytest.raises(ValueError, match="odd"):
        small_convnet(3, 4)


def test_few_labels():
    labels = torch.tensor([0, 1, 2] * 5 + [2])
    idx = few_labels(labels, 3, seed=1)
    assert len(idx) == 9 and torch.bincount(labels[idx]).tolist() == [3, 3, 3]
    assert torch.equal(idx, few_labels(labels, 3, seed=1))
    assert not torch.equal(idx, few_labels(labels, 3, seed=2))
    with pytest.raises(ValueError, match="fewer than"):
        few_labels(labels, 6)


def test_classifier_learns_a_simple_task():
    g = torch.Generator().manual_seed(14)
    x = 0.1 * torch.randn(64, 1, 8, 8, generator=g)
    labels = torch.arange(64) % 2
    x[labels == 1, :, :, :4] += 1.0  # class 1: bright left half
    net = small_convnet(2, 3, image_size=8, n_classes=2, pool=2, seed=0)
    before = accuracy(net, x, labels)
    losses = train_classifier(net, x, labels, epochs=15, lr=1e-2, batch_size=16, progress=False)
    assert len(losses) == 15 and losses[-1] < losses[0]
    assert accuracy(net, x, labels) == 1.0 > before
    with pytest.raises(ValueError, match="int64"):
        accuracy(net, x, labels.float())
    with pytest.raises(ValueError, match="images but labels"):
        accuracy(net, x, labels[:3])
    with pytest.raises(ValueError, match="float64"):
        accuracy(net, x.double(), labels)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda():
    m, y = model(3, 3, dtype=torch.float32), images(15, dtype=torch.float32)
    ref = m.infer(y, LAM, ALPHA, n_iter=5).z
    m_cuda = m.cuda()
    res = m_cuda.infer(y.cuda(), LAM, ALPHA, n_iter=5)
    assert res.z.device.type == "cuda"
    torch.testing.assert_close(res.z.cpu(), ref, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="device"):
        m_cuda.encode(y)
    train_psd(m_cuda, y.cuda(), LAM, ALPHA, epochs=1, batch_size=2, progress=False)
    net = small_convnet(3, 3, image_size=10, pool=2, encoder=m_cuda).cuda()
    labels = torch.arange(len(y), device="cuda") % 2
    train_classifier(net, y.cuda(), labels, epochs=1, progress=False)
    assert 0 <= accuracy(net, y.cuda(), labels) <= 1
