"""The one soft threshold and the one proximal-gradient loop behind every sparse solver.

Every sparse-coding solver of the book minimizes ``E(z) = f(z) + λ‖z‖₁`` with f smooth: the
patch energy ½‖y − W_d z‖² (chapter 03, :mod:`lib.solvers`), the convolutional one
½‖Y − Σᵢ Kᵢ ∗ Zᵢ‖² (chapter 06, :mod:`lib.conv`), PSD's, which adds α‖Z − Enc(Y)‖²
(chapter 07, :mod:`lib.psd`), and chapter 01's ‖y − Dec(z)‖² with a neural decoder
(:mod:`lib.ebm`). They differ only in f, so each module describes its f as a
:class:`Smooth` and :func:`proximal_gradient` runs ISTA or FISTA on it:

    z(t+1) = Shrinkage_{λ/L}( x(t) − (1/L) ∇f(x(t)) )                     (the ISTA step)
    s(t+1) = (1 + √(1 + 4 s(t)²)) / 2,
    x(t+1) = z(t+1) + ((s(t) − 1) / s(t+1)) (z(t+1) − z(t))                (FISTA's momentum)

Every sample (row of the batch) has its own step, momentum and stopping test, and stops on
its own. For a linear decoder D, f's cache c(z) (W_dᵀW_d z for patches, D z for images) is
linear in z, so c(x(t+1)) follows from c(z(t+1)) and c(z(t)) by the same momentum step and an
iteration costs one product with D (and one with Dᵀ).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn.functional import softshrink

from lib._checks import (
    check_callable,
    check_count,
    check_flags,
    check_nonneg,
    check_positive,
    check_same,
    check_tensor,
)

__all__ = ["Smooth", "proximal_gradient", "shrink"]

RESTARTS = ("gradient", "function", None)
STOPS = ("gap", "step", "objective", None)


def shrink(x: torch.Tensor, theta: float | torch.Tensor) -> torch.Tensor:
    """Soft threshold, the proximal operator of θ|·|: ``sign(x) · max(|x| − θ, 0)``.

    `theta` ≥ 0 is a number or a tensor broadcast against `x` (e.g. ``[n_atoms]``, one
    threshold per atom, as LISTA learns them). Introduced in chapter 03.
    """
    check_tensor(x, "x")
    if isinstance(theta, torch.Tensor):
        check_tensor(theta, "theta")
        check_same(("x", x), ("theta", theta))
        if bool((theta < 0).any()):
            raise ValueError("theta must be ≥ 0 everywhere")
    else:
        theta = check_nonneg(theta, "theta")
    return _shrink(x, theta)


def _shrink(x: torch.Tensor, theta: float | torch.Tensor) -> torch.Tensor:
    """:func:`shrink` unchecked (inner loops): PyTorch's softshrink for a number θ."""
    return _soft_threshold(x, theta) if isinstance(theta, torch.Tensor) else softshrink(x, theta)


def _soft_threshold(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """:func:`shrink` unchecked, differentiable in x and in the tensor θ (clamped at 0)."""
    return x.sign() * (x.abs() - theta.clamp_min(0)).clamp_min(0)


def _prox(u: torch.Tensor, theta: torch.Tensor, positive: bool) -> torch.Tensor:
    """The proximal map of θ‖·‖₁ (plus the constraint z ≥ 0 when `positive`), θ per row."""
    if positive:
        return (u - theta).clamp_min(0)
    return u - u.clamp(-theta, theta)


def _per_row(t: torch.Tensor) -> torch.Tensor:
    """The sum over everything but the batch dimension: ``[batch]``."""
    return t.flatten(1).sum(1)


def _rows(v: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """A per-row ``[batch]`` vector shaped to broadcast against `t`."""
    return v.reshape(-1, *[1] * (t.dim() - 1))


class Smooth:
    """The smooth part f of an energy, as :func:`proximal_gradient` sees it.

    A subclass gives the cache c(z) (:meth:`cache`, linear in z when `linear`), f and ∇f
    from it (:meth:`value`, :meth:`gradient`), ‖A d‖² for backtracking (:meth:`curvature`)
    and, when it has one, the duality gap; :meth:`take` keeps the data of some rows.
    """

    linear = True

    def cache(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def value(self, z: torch.Tensor, cz: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def gradient(self, x: torch.Tensor, cx: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def curvature(self, d: torch.Tensor, cd: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def gap(
        self, z: torch.Tensor, cz: torch.Tensor, lam: float, E: torch.Tensor, positive: bool
    ) -> torch.Tensor:
        raise NotImplementedError

    def take(self, keep: torch.Tensor) -> Smooth:
        raise NotImplementedError


def proximal_gradient(
    f: Smooth,
    z: torch.Tensor,
    lam: float,
    L: float,
    *,
    max_iter: int,
    tol: float,
    momentum: bool,
    restart: str | None,
    stop: str | None,
    backtrack: bool = False,
    positive: bool = False,
    callback: Callable[[int, torch.Tensor], bool | None] | None = None,
    unpack: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int, bool]:
    """ISTA (``momentum=False``) or FISTA on ``f(z) + λ‖z‖₁`` from `z`, every row on its own.

    - ``restart``: "gradient" resets a row's momentum when (x(t) − z(t+1))·(z(t+1) − z(t)) > 0,
      "function" when its energy goes up (O'Donoghue & Candès, 2015); None never.
    - ``backtrack``: a local L ≤ `L` per row, 10 % lower after an accepted step, raised when
      ½‖A(z(t+1) − x(t))‖² ≤ (L/2)‖z(t+1) − x(t)‖² fails (the step is then not taken).
    - ``stop``: a row stops when "gap": its duality gap is ≤ tol·E (for λ = 0, as "step");
      "step": ‖z(t+1) − z(t)‖ ≤ tol·‖z(t+1)‖; "objective": all rows at once, when the mean
      energy changes by ≤ tol (relative); None: after `max_iter` iterations.
    - ``callback(t, z)`` after every iteration, with the codes of the whole batch (through
      `unpack` when the loop runs on packed codes); returning True stops the loop.

    Returns (z, energy per row, mean energy after every iteration, iterations, converged).
    """
    if not isinstance(f, Smooth):
        raise TypeError(f"f must be a lib.proximal.Smooth, got {type(f).__name__}")
    check_tensor(z, "z")
    lam, L, tol = check_nonneg(lam, "lam"), check_positive(L, "L"), check_nonneg(tol, "tol")
    max_iter = check_count(max_iter, "max_iter")
    check_flags(momentum=momentum, backtrack=backtrack, positive=positive)
    check_callable(callback, "callback")
    if restart not in RESTARTS:
        raise ValueError(f"restart must be one of {RESTARTS}, got {restart!r}")
    if stop not in STOPS:
        raise ValueError(f"stop must be one of {STOPS}, got {stop!r}")
    unpack = unpack or (lambda t: t)
    B = len(z)
    try:
        cz = f.cache(z)
    except RuntimeError as err:  # a shape that does not fit f's operator
        raise ValueError(f"z does not fit f: {err}") from err
    x, cx = z, cz
    s = torch.ones(B, dtype=z.dtype, device=z.device)
    Lr = torch.full_like(s, L / 8 if backtrack else L)  # per-row step 1/Lr
    E_old = torch.full_like(s, float("inf"))
    z_out, E_all, idx = z, s, None  # idx: the rows still iterating, once some are frozen
    history, converged, prev = [], False, float("inf")
    for it in range(1, max_iter + 1):
        if backtrack:  # one step 1/Lr per row
            z_new = _prox(x - f.gradient(x, cx) / _rows(Lr, x), _rows(lam / Lr, x), positive)
        else:  # one step 1/L for all: the fewest passes over the codes
            u = torch.add(x, f.gradient(x, cx), alpha=-1 / L)
            z_new = (u - lam / L).clamp_min(0) if positive else softshrink(u, lam / L)
        cz_new = f.cache(z_new)
        if backtrack:  # sufficient decrease ½‖A d‖² ≤ (Lr/2)‖d‖², d = z_new − x
            d = z_new - x
            dAd, dd = f.curvature(d, cz_new - cx), _per_row(d * d)
            bad = dAd > Lr * dd
            Lr = torch.where(bad, torch.maximum(2 * Lr, dAd / dd.clamp_min(1e-30)), 0.9 * Lr)
            Lr = Lr.clamp(1e-6 * L, L)  # the floor keeps Lr out of subnormal numbers
            z_new = torch.where(_rows(bad, z), z, z_new)
            cz_new = torch.where(_rows(bad, cz), cz, cz_new)
        E = f.value(z_new, cz_new) + lam * _per_row(z_new.abs())
        done = _done(f, stop, z, z_new, cz_new, lam, E, tol, positive, prev)
        if backtrack:
            done = done & ~bad
        if momentum:
            s_new = (1 + torch.sqrt(1 + 4 * s * s)) / 2
            beta = (s - 1) / s_new
            reset = None
            if restart == "gradient":
                reset = _per_row((x - z_new) * (z_new - z)) > 0
            elif restart == "function":
                reset = E > E_old
            if reset is not None:
                beta, s_new = beta.masked_fill(reset, 0.0), s_new.masked_fill(reset, 1.0)
            if backtrack:
                beta, s_new = beta.masked_fill(bad, 0.0), torch.where(bad, s, s_new)
            x = torch.addcmul(z_new, _rows(beta, z), z_new - z)
            cx = cz_new + _rows(beta, cz) * (cz_new - cz) if f.linear else f.cache(x)
            s = s_new
        else:
            x, cx = z_new, cz_new
        z, cz, E_old = z_new, cz_new, E
        if idx is None:
            z_out, E_all = z, E
        else:
            z_out[idx], E_all[idx] = z, E
        history.append(E_all.mean())
        prev = float(history[-1])
        halt = callback is not None and bool(callback(it, unpack(z_out)))
        if bool(done.all()):
            converged = True
            break
        if halt:
            break
        if bool(done.any()):  # freeze the rows that are done, iterate on the others
            if idx is None:
                z_out, E_all = z_out.clone(), E_all.clone()
                idx = torch.arange(B, device=z.device)
            keep = ~done
            idx, z, cz, x, cx = idx[keep], z[keep], cz[keep], x[keep], cx[keep]
            s, Lr, E_old, f = s[keep], Lr[keep], E_old[keep], f.take(keep)
    return unpack(z_out), E_all, torch.stack(history), it, converged


def _done(f, stop, z, z_new, cz_new, lam, E, tol, positive, prev):
    """The rows that meet the stopping test `stop` (see :func:`proximal_gradient`)."""
    if stop is None:
        return torch.zeros_like(E, dtype=torch.bool)
    if stop == "objective":
        cur = float(E.mean())
        return torch.full_like(E, abs(prev - cur) <= tol * max(abs(cur), 1e-12), dtype=torch.bool)
    if stop == "gap" and lam > 0:
        return f.gap(z_new, cz_new, lam, E, positive) <= tol * E
    step = torch.linalg.vector_norm((z_new - z).flatten(1), dim=1)
    return step <= tol * torch.linalg.vector_norm(z_new.flatten(1), dim=1)
