"""Property-based tests (hypothesis) over lib's public functions.

- **Bad input is refused clearly**: every public function, given one bad or edge-case
  argument (drawn by hypothesis) and good values for the rest, either returns finite
  results or raises a ValueError or TypeError, within seconds: never a RuntimeError or
  IndexError from deep inside torch, never NaN or inf, never a hang.
- **No silent NaN from a valid λ**: any finite λ ≥ 0, λ_max and beyond included, gives finite
  codes and dictionaries.
- **Counts refuse what is not an integer ≥ their minimum** (2.5 is not 2).
- Mathematical properties: the soft threshold is the proximal map of θ|u|; normalized
  columns and filters have unit norm; the KL divergence is finite and ≥ 0 or refused.
"""

from __future__ import annotations

import math
import os
import signal
from collections.abc import Callable
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import lib
from lib.solvers import _LeastSquares

SETTINGS = settings(
    derandomize=True,  # the same examples every run: a fuzz failure is reproducible, not luck
    database=None,
    max_examples=int(os.environ.get("LIB_FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# Small, good problems of every kind (float64 where the solver allows it).
W = lib.normalize_columns(torch.randn(8, 5, generator=gen(0), dtype=torch.float64))
Y = torch.randn(4, 8, generator=gen(1), dtype=torch.float64)
IMAGES = torch.rand(2, 1, 10, 10, generator=gen(2))
K = lib.normalize_filters(torch.randn(3, 1, 3, 3, generator=gen(3)))
ATOM = torch.randn(36, generator=gen(4), dtype=torch.float64)
DIGITS = torch.rand(6, 784, generator=gen(5))
LABELS = torch.tensor([0, 1, 2, 3, 4, 5])
ANGLES = torch.tensor([0.0, 45.0, 100.0])


def lista() -> lib.LISTA:
    return lib.LISTA(W.float(), 0.1, 2)


def vae() -> lib.VAE:
    torch.manual_seed(0)
    return lib.VAE(784, 16, 2)


def convnet() -> torch.nn.Module:
    return lib.small_convnet(seed=0)


def psd() -> lib.ConvPSD:
    return lib.ConvPSD(3, 3)


# name -> (function, good keyword arguments). Models are built fresh for every call.
CALLS: dict[str, tuple[Callable, dict[str, Callable[[], object]]]] = {
    "shrink": (lib.shrink, {"x": lambda: Y, "theta": lambda: 0.1}),
    "power_iteration": (
        lib.power_iteration,
        {
            "gram": lambda: lambda v: W.T @ (W @ v),
            "v": lambda: torch.ones(5, dtype=torch.float64),
            "n_iter": lambda: 50,
            "tol": lambda: 1e-6,
        },
    ),
    "best_time": (lib.best_time, {"fn": lambda: lambda: 1.0, "repeats": lambda: 2}),
    "first_below": (
        lib.first_below,
        {"values": lambda: torch.tensor([3.0, 2.0, 1.0]), "target": lambda: 1.5},
    ),
    "proximal_gradient": (
        lib.proximal_gradient,
        {
            "f": lambda: _LeastSquares.of(W, Y),
            "z": lambda: torch.zeros(4, 5, dtype=torch.float64),
            "lam": lambda: 0.1,
            "L": lambda: lib.lipschitz(W),
            "max_iter": lambda: 30,
            "tol": lambda: 1e-6,
            "momentum": lambda: True,
            "restart": lambda: "gradient",
            "stop": lambda: "gap",
            "backtrack": lambda: True,
            "positive": lambda: False,
        },
    ),
    "lipschitz": (lib.lipschitz, {"W_d": lambda: W, "n_iter": lambda: 50, "tol": lambda: 1e-6}),
    "energy": (
        lib.energy,
        {
            "y": lambda: Y,
            "z": lambda: torch.zeros(4, 5, dtype=torch.float64),
            "W_d": lambda: W,
            "lam": lambda: 0.1,
        },
    ),
    "ista": (
        lib.ista,
        {
            "y": lambda: Y,
            "W_d": lambda: W,
            "lam": lambda: 0.1,
            "max_iter": lambda: 20,
            "tol": lambda: 1e-6,
        },
    ),
    "fista": (
        lib.fista,
        {
            "y": lambda: Y,
            "W_d": lambda: W,
            "lam": lambda: 0.1,
            "max_iter": lambda: 20,
            "tol": lambda: 1e-6,
            "L": lambda: None,
        },
    ),
    "learn_dictionary": (
        lib.learn_dictionary,
        {
            "y": lambda: Y,
            "n_atoms": lambda: 3,
            "lam": lambda: 0.1,
            "n_epochs": lambda: 1,
            "batch_size": lambda: 2,
            "progress": lambda: False,
        },
    ),
    "normalize_columns": (lib.normalize_columns, {"W_d": lambda: W}),
    "conv_decode": (
        lib.conv_decode,
        {"z": lambda: torch.zeros(2, 3, 12, 12), "K": lambda: K, "boundary": lambda: "zero"},
    ),
    "conv_lipschitz": (
        lib.conv_lipschitz,
        {"K": lambda: K, "image_shape": lambda: (10, 10), "n_iter": lambda: 20},
    ),
    "conv_fista": (
        lib.conv_fista,
        {"y": lambda: IMAGES, "K": lambda: K, "lam": lambda: 0.1, "max_iter": lambda: 5},
    ),
    "conv_admm": (
        lib.conv_admm,
        {"y": lambda: IMAGES, "K": lambda: K, "lam": lambda: 0.1, "max_iter": lambda: 5},
    ),
    "learn_conv_dictionary": (
        lib.learn_conv_dictionary,
        {
            "y": lambda: IMAGES,
            "n_filters": lambda: 2,
            "kernel_size": lambda: 3,
            "lam": lambda: 0.1,
            "n_steps": lambda: 2,
            "lr": lambda: 1.0,
            "progress": lambda: False,
        },
    ),
    "normalize_filters": (lib.normalize_filters, {"K": lambda: K}),
    "filter_orientation": (lib.filter_orientation, {"K": lambda: K, "size": lambda: 8}),
    "peak_frequency": (lib.peak_frequency, {"K": lambda: K, "size": lambda: 8}),
    "orientation_gap": (lib.orientation_gap, {"angle": lambda: ANGLES}),
    "ring_average": (lib.ring_average, {"K": lambda: K}),
    "radial_symmetry": (lib.radial_symmetry, {"K": lambda: K}),
    "fit_gabor": (
        lib.fit_gabor,
        {"atom": lambda: ATOM, "n_init": lambda: 1, "max_nfev": lambda: 20},
    ),
    "window_energy": (lib.window_energy, {"atoms": lambda: DIGITS[:2], "window": lambda: 14}),
    "code_error": (lib.code_error, {"z": lambda: Y, "z_star": lambda: Y + 1}),
    "run_lista": (
        lib.run_lista,
        {"y": lambda: Y.float(), "W_d": lambda: W.float(), "lam": lambda: 0.1, "model": lista},
    ),
    "kl_divergence": (
        lib.kl_divergence,
        {"mu": lambda: torch.zeros(3, 2), "logvar": lambda: torch.zeros(3, 2)},
    ),
    "negative_elbo": (
        lib.negative_elbo,
        {"model": vae, "y": lambda: DIGITS, "batch_size": lambda: 4},
    ),
    "active_dims": (
        lib.active_dims,
        {"model": vae, "y": lambda: DIGITS, "threshold": lambda: 0.01},
    ),
    "train_vae": (
        lib.train_vae,
        {
            "model": vae,
            "y": lambda: DIGITS,
            "epochs": lambda: 1,
            "batch_size": lambda: 3,
            "lr": lambda: 1e-3,
            "beta": lambda: 1.0,
            "progress": lambda: False,
        },
    ),
    "train_psd": (
        lib.train_psd,
        {
            "model": psd,
            "y": lambda: IMAGES,
            "lam": lambda: 0.1,
            "epochs": lambda: 1,
            "batch_size": lambda: 1,
            "n_iter": lambda: 2,
            "lr": lambda: 1e-2,
            "alpha": lambda: 1.0,
            "decoder_lr": lambda: 1.0,
            "progress": lambda: False,
        },
    ),
    "few_labels": (lib.few_labels, {"labels": lambda: LABELS, "per_class": lambda: 1}),
    "accuracy": (
        lib.accuracy,
        {
            "model": convnet,
            "x": lambda: DIGITS.view(-1, 1, 28, 28),
            "labels": lambda: LABELS,
            "batch_size": lambda: 4,
        },
    ),
    "train_classifier": (
        lib.train_classifier,
        {
            "model": convnet,
            "x": lambda: DIGITS.view(-1, 1, 28, 28),
            "labels": lambda: LABELS,
            "epochs": lambda: 1,
            "batch_size": lambda: 3,
            "lr": lambda: 1e-2,
            "progress": lambda: False,
        },
    ),
    "tile": (lib.tile, {"images": lambda: DIGITS[:3], "ncols": lambda: 2}),
    "code_shape": (lib.code_shape, {"image_shape": lambda: (10, 10), "k": lambda: 3}),
}
ARGUMENTS = [(name, arg) for name, (_, kw) in CALLS.items() for arg in kw]

BAD = st.one_of(
    st.sampled_from(
        [
            None,
            "x",
            -1,
            0,
            1,
            2.5,
            True,
            [1.0, 2.0],
            (3, 3),
            {"a": 1},
            float("nan"),
            float("inf"),
            -1e30,
            1e30,
            3.4028234663852886e37,  # Adam's first step lr / (1 − β₁) overflows float32
        ]
    ),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.integers(min_value=-5, max_value=40),
    st.sampled_from(
        [
            torch.empty(0),
            torch.ones(2, dtype=torch.int64),
            torch.ones(3, 3, dtype=torch.float16),
            torch.tensor(float("nan")),
            torch.full((4, 8), float("nan")),
            torch.full((4, 8), float("inf")),
            torch.zeros(4, 8),
            torch.ones(1, 1, 1, 1),
            torch.ones(2, 3, 4),
        ]
    ),
)


@contextmanager
def no_hang(seconds: int = 20):
    def fail(*_):
        raise AssertionError(f"no answer within {seconds} s: a hang")

    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def finite_leaves(result: object) -> list[str]:
    """The paths of every non-finite number in a result (tensors, floats, dataclasses...)."""
    bad: list[str] = []

    def walk(x: object, path: str) -> None:
        if isinstance(x, torch.Tensor):
            if x.is_floating_point() and not bool(torch.isfinite(x).all()):
                if path.endswith("tile"):  # tile pads with NaN on purpose (blank in imshow)
                    return
                bad.append(path)
        elif isinstance(x, float):
            if not math.isfinite(x):
                bad.append(path)
        elif isinstance(x, (list, tuple)):
            for i, v in enumerate(x):
                walk(v, f"{path}[{i}]")
        elif isinstance(x, dict):
            for k, v in x.items():
                walk(v, f"{path}.{k}")
        elif hasattr(x, "__dataclass_fields__"):
            for k in x.__dataclass_fields__:
                walk(getattr(x, k), f"{path}.{k}")

    walk(result, "result")
    return bad


@pytest.mark.parametrize(("name", "arg"), ARGUMENTS, ids=[f"{n}-{a}" for n, a in ARGUMENTS])
@SETTINGS
@given(bad=BAD)
def test_bad_input_is_refused_with_a_clear_error_or_gives_finite_results(
    name, arg, bad, one_thread
):
    fn, good = CALLS[name]
    kwargs = {k: make() for k, make in good.items()}
    kwargs[arg] = bad
    with no_hang():
        try:
            result = fn(**kwargs)
        except (ValueError, TypeError) as err:
            message = str(err)
            assert message, f"{name}({arg}={bad!r:.40}) raised an empty {type(err).__name__}"
            return
    leaves = finite_leaves(result if name != "tile" else ())
    assert not leaves, f"{name}({arg}={bad!r:.40}) returned non-finite values at {leaves}"


def test_every_call_of_the_fuzz_is_good_as_given():
    """The fuzz changes one argument of a call that works: each call works unchanged."""
    for name, (fn, good) in CALLS.items():
        result = fn(**{k: make() for k, make in good.items()})
        assert not finite_leaves(result if name != "tile" else ()), name


LAMBDAS = st.one_of(st.floats(0, 1e8), st.sampled_from([0.0, 1e3, 1e6, 1e12]))


@SETTINGS
@given(lam=LAMBDAS)
def test_any_valid_lambda_gives_finite_codes_and_dictionaries(lam, one_thread):
    """λ above λ_max makes every code zero; that used to turn filter banks into NaN."""
    with no_hang(60):
        assert torch.isfinite(lib.fista(Y, W, lam, max_iter=20).z).all()
        assert torch.isfinite(lib.conv_fista(IMAGES, K, lam, max_iter=5).z).all()
        d = lib.learn_dictionary(Y, 3, lam, n_epochs=1, batch_size=2, progress=False)
        assert torch.isfinite(d.W_d).all()
        c = lib.learn_conv_dictionary(IMAGES, 2, 3, lam, n_steps=3, progress=False)
        assert torch.isfinite(c.K).all() and torch.isfinite(c.z).all()
        model = psd()
        lib.train_psd(model, IMAGES, lam, batch_size=1, n_iter=2, progress=False)
        assert torch.isfinite(model.W_d).all() and torch.isfinite(model.W_e).all()


NOT_COUNTS = st.one_of(
    st.floats(allow_nan=True).filter(lambda v: not float(v).is_integer()),
    st.booleans(),
    st.integers(max_value=0),
    st.just(3.0),
)
COUNTED = [
    ("lipschitz", "n_iter"),
    ("power_iteration", "n_iter"),
    ("best_time", "repeats"),
    ("proximal_gradient", "max_iter"),
    ("ista", "max_iter"),
    ("fista", "max_iter"),
    ("learn_dictionary", "n_atoms"),
    ("learn_dictionary", "n_epochs"),
    ("learn_dictionary", "batch_size"),
    ("conv_lipschitz", "n_iter"),
    ("conv_fista", "max_iter"),
    ("conv_admm", "max_iter"),
    ("learn_conv_dictionary", "n_filters"),
    ("learn_conv_dictionary", "kernel_size"),
    ("learn_conv_dictionary", "n_steps"),
    ("filter_orientation", "size"),
    ("peak_frequency", "size"),
    ("fit_gabor", "n_init"),
    ("fit_gabor", "max_nfev"),
    ("negative_elbo", "batch_size"),
    ("train_vae", "epochs"),
    ("train_vae", "batch_size"),
    ("train_psd", "epochs"),
    ("train_psd", "batch_size"),
    ("train_psd", "n_iter"),
    ("few_labels", "per_class"),
    ("accuracy", "batch_size"),
    ("train_classifier", "epochs"),
    ("train_classifier", "batch_size"),
    ("tile", "ncols"),
    ("code_shape", "k"),
]


@pytest.mark.parametrize(("name", "arg"), COUNTED, ids=[f"{n}-{a}" for n, a in COUNTED])
@settings(max_examples=15, deadline=None, derandomize=True, database=None)
@given(bad=NOT_COUNTS)
def test_counts_are_refused_not_truncated(name, arg, bad, one_thread):
    fn, good = CALLS[name]
    kwargs = {k: make() for k, make in good.items()}
    kwargs[arg] = bad
    with pytest.raises(ValueError, match=f"{arg} must be an integer"):
        fn(**kwargs)


@SETTINGS
@given(
    v=arrays(np.float64, st.integers(1, 20), elements=st.floats(-1e6, 1e6)),
    theta=st.floats(0, 1e3),
)
def test_the_soft_threshold_is_the_proximal_map_of_the_l1_norm(v, theta):
    """shrink(v, θ) minimizes ½(u − v)² + θ|u|: no nearby u does better."""
    x = torch.from_numpy(v)
    u = lib.shrink(x, theta)

    def obj(w):
        return 0.5 * (w - x) ** 2 + theta * w.abs()

    for step in (1e-3, -1e-3, 1.0, -1.0):
        assert bool((obj(u) <= obj(u + step) + 1e-9 * (1 + obj(u).abs())).all())


@SETTINGS
@given(
    a=arrays(
        np.float64, st.tuples(st.integers(1, 6), st.integers(1, 6)), elements=st.floats(-1e6, 1e6)
    )
)
def test_normalized_columns_have_unit_norm(a):
    W_d = torch.from_numpy(a)
    norms = torch.linalg.vector_norm(lib.normalize_columns(W_d), dim=0)
    nonzero = torch.linalg.vector_norm(W_d, dim=0) > 1e-6
    assert torch.allclose(norms[nonzero], torch.ones_like(norms[nonzero]))
    assert bool(torch.isfinite(norms).all())


@SETTINGS
@given(
    a=arrays(
        np.float32,
        st.tuples(st.integers(1, 4), st.integers(1, 2), st.just(3), st.just(3)),
        elements=st.floats(-1e3, 1e3, width=32),
    )
)
def test_normalized_filters_have_unit_norm(a):
    K_ = torch.from_numpy(a)
    norms = torch.linalg.vector_norm(lib.normalize_filters(K_).flatten(1), dim=1)
    nonzero = torch.linalg.vector_norm(K_.flatten(1), dim=1) > 1e-3
    assert torch.allclose(norms[nonzero], torch.ones_like(norms[nonzero]), atol=1e-5)


@SETTINGS
@given(
    mu=arrays(
        np.float32, (3, 2), elements=st.floats(-(2.0**60), 2.0**60, width=32).filter(math.isfinite)
    ),
    logvar=arrays(
        np.float32, (3, 2), elements=st.floats(-80.0, 8192.0, width=32).filter(math.isfinite)
    ),
)
def test_the_kl_divergence_is_finite_and_non_negative_or_refused(mu, logvar):
    """exp(logvar) overflows float32 beyond logvar ≈ 88.7: refused, not inf."""
    try:
        kl = lib.kl_divergence(torch.from_numpy(mu), torch.from_numpy(logvar))
    except ValueError as err:
        assert "KL" in str(err)
        return
    assert bool(torch.isfinite(kl).all()) and bool((kl >= -1e-3 * (1 + kl.abs())).all())


@SETTINGS
@given(
    shape=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    other=st.tuples(st.integers(1, 4), st.integers(1, 4)),
)
def test_code_error_refuses_shapes_that_differ(shape, other):
    z = torch.ones(shape)
    z_star = torch.full(other, 2.0)
    if shape != other:
        with pytest.raises(ValueError, match="must match"):
            lib.code_error(z, z_star)
    else:
        assert float(lib.code_error(z, z_star)) == pytest.approx(0.25)
