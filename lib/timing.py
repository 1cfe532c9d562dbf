"""Timing and first-hit helpers: the measurements behind the book's speed comparisons.

Chapters 03, 04 and 07 and the benchmarks compare solvers by the time they take to reach the
same accuracy: :func:`first_below` finds the first iteration that reaches a target,
:func:`best_time` times a call (the best of a few runs, the least disturbed by the rest of
the machine), and :func:`inference_speed` puts both together for PSD's encoder (chapter 07).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import torch

from lib._checks import _number, check_count, check_tensor
from lib.conv import conv_fista
from lib.psd import ConvPSD, relative_error

__all__ = ["best_time", "first_below", "inference_speed"]

T = TypeVar("T")


def best_time(fn: Callable[[], T], repeats: int = 3) -> tuple[float, T]:
    """The shortest wall-clock time of `repeats` calls of ``fn()``, in seconds, and its result.

    The minimum, not the mean: the other programs on the machine only ever add time.
    """
    if not callable(fn):
        raise ValueError(f"fn must be a function, got {fn!r:.60}")
    repeats = check_count(repeats, "repeats")
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def first_below(values: torch.Tensor | Sequence[float], target: float) -> int | None:
    """The first iteration (1-based) whose value is ≤ `target`, or None if none is.

    `values` holds one number per iteration: an error curve, an objective history.
    """
    if not isinstance(values, torch.Tensor):
        try:
            values = torch.as_tensor(values, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError) as err:
            raise ValueError(f"values must be a sequence of numbers: {err}") from err
    check_tensor(values, "values", ndim=1)
    target = _number(target, "target", "a number")
    if math.isnan(target):
        raise ValueError("target must be a number, got nan")
    hits = (values <= target).nonzero()
    return int(hits[0]) + 1 if len(hits) else None


def inference_speed(
    model: ConvPSD,
    y: torch.Tensor,
    lam: float,
    alpha: float = 1.0,
    n_ista: int = 0,
    max_iter: int = 500,
    repeats: int = 3,
) -> dict[str, float]:
    """Time per image of the encoder against :func:`lib.conv_fista` at equal reconstruction.

    The target is the relative error Σ‖Y − Dec Z‖²/Σ‖Y‖² of the encoder's codes (followed
    by `n_ista` steps of :meth:`ConvPSD.infer` when n_ista > 0). conv FISTA on
    ½‖Y − Dec Z‖² + λ‖Z‖₁ with the same decoder filters, from Z = 0, is run once to find the
    first iteration that reaches the target, then timed for exactly that many iterations;
    both are timed best of `repeats`, L precomputed. Returns ``target``, ``encoder_s``
    (seconds per image), ``fista_iter`` (nan when not reached in `max_iter`), ``fista_s``
    (per image; at `max_iter` when not reached) and ``speedup`` = fista_s / encoder_s.
    """
    if not isinstance(model, ConvPSD):
        raise ValueError(f"model must be a lib.psd.ConvPSD, got {type(model).__name__}")
    model._check_input(y)
    n_ista = check_count(n_ista, "n_ista", 0)
    max_iter, repeats = check_count(max_iter, "max_iter"), check_count(repeats, "repeats")
    L_psd = model.lipschitz(tuple(y.shape[-2:])) + 2 * alpha
    L = model.lipschitz(tuple(y.shape[-2:]))
    W_d = model.W_d.detach()

    @torch.no_grad()
    def encoder() -> torch.Tensor:
        if n_ista == 0:
            return model.encode(y)
        return model.infer(y, lam, alpha, n_ista, L=L_psd).z

    def fista(n: int, callback=None) -> torch.Tensor:
        res = conv_fista(
            y, W_d, lam, boundary=model.boundary, tol=0.0, max_iter=n, L=L, callback=callback
        )
        return res.z

    def best(fn) -> float:
        return best_time(fn, repeats)[0] / len(y)

    with torch.no_grad():
        target = relative_error(y, model.decode(encoder()))
        reached: list[int] = []

        def stop(t: int, z: torch.Tensor) -> bool:
            if relative_error(y, model.decode(z)) <= target:
                reached.append(t)
                return True
            return False

        fista(max_iter, stop)
    n_fista = reached[0] if reached else max_iter
    enc_s, fista_s = best(encoder), best(lambda: fista(n_fista))
    return {
        "target": target,
        "encoder_s": enc_s,
        "fista_iter": float(n_fista) if reached else float("nan"),
        "fista_s": fista_s,
        "speedup": fista_s / enc_s,
    }
