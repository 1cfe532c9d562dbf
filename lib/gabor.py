"""Gabor functions: draw one, fit one to a dictionary atom, and measure how local atoms are.

Introduced in chapter 05. A 2-D Gabor function on a ``size x size`` grid of pixel centers
(x = column, y = row, both 0 … size − 1) is a plane wave under a Gaussian envelope:

    g(x, y) = A exp(−x'²/(2σ_x²) − y'²/(2σ_y²)) cos(2π f x' + φ),
    x' = (x − x₀) cos θ + (y − y₀) sin θ,   y' = −(x − x₀) sin θ + (y − y₀) cos θ.

The parameter vector is ``params = (A, x₀, y₀, θ, f, φ, σ_x, σ_y)``: amplitude, center (pixels),
orientation θ ∈ [0, π) of the wave vector (radians; the stripes run perpendicular to it),
spatial frequency f ∈ [0, ½] (cycles per pixel), phase φ ∈ (−π, π], and the envelope widths
across (σ_x) and along (σ_y) the stripes. Receptive fields of V1 simple cells are well
described by such functions, and so are the atoms that sparse coding learns on whitened
natural images (Olshausen & Field, 1996).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from lib._checks import check_count, check_tensor

__all__ = [
    "fit_gabor",
    "fit_gabors",
    "gabor_image",
    "window_energy",
]

N_PARAMS = 8
PARAM_NAMES = ("A", "x0", "y0", "theta", "f", "phi", "sigma_x", "sigma_y")


def _as_array(x: object, name: str) -> np.ndarray:
    """A float64 NumPy copy of a tensor or array, checked to be non-empty and finite."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.asarray(x, dtype=np.float64))
    check_tensor(x, name)
    return x.detach().cpu().double().numpy()


def _gabor_np(p: np.ndarray, size: int) -> np.ndarray:
    A, x0, y0, theta, f, phi, sx, sy = p
    r = np.arange(size, dtype=np.float64)
    dx, dy = r[None, :] - x0, r[:, None] - y0
    c, s = math.cos(theta), math.sin(theta)
    xp, yp = dx * c + dy * s, -dx * s + dy * c
    envelope = np.exp(-(xp**2) / (2 * sx**2) - yp**2 / (2 * sy**2))
    return A * envelope * np.cos(2 * math.pi * f * xp + phi)


def _gabor_jac(p: np.ndarray, size: int) -> np.ndarray:
    """∂g/∂params at every pixel: ``[size·size, 8]``."""
    A, x0, y0, theta, f, phi, sx, sy = p
    r = np.arange(size, dtype=np.float64)
    dx, dy = np.broadcast_arrays(r[None, :] - x0, r[:, None] - y0)
    c, s = math.cos(theta), math.sin(theta)
    xp, yp = dx * c + dy * s, -dx * s + dy * c
    E = np.exp(-(xp**2) / (2 * sx**2) - yp**2 / (2 * sy**2))
    u = 2 * math.pi * f * xp + phi
    C, S = E * np.cos(u), E * np.sin(u)
    g_xp = A * (-xp / sx**2 * C - 2 * math.pi * f * S)
    g_yp = A * (-yp / sy**2 * C)
    cols = [
        C,
        -c * g_xp + s * g_yp,
        -s * g_xp - c * g_yp,
        yp * g_xp - xp * g_yp,
        -A * S * 2 * math.pi * xp,
        -A * S,
        A * C * xp**2 / sx**3,
        A * C * yp**2 / sy**3,
    ]
    return np.stack([col.ravel() for col in cols], axis=1)


def gabor_image(params: torch.Tensor | np.ndarray | list[float], size: int) -> torch.Tensor:
    """The Gabor function g(x, y) of the module docstring on a grid: ``[size, size]`` float64.

    ``params = (A, x₀, y₀, θ, f, φ, σ_x, σ_y)``; rows are y, columns are x.
    """
    size = check_count(size, "size")
    if isinstance(params, (list, tuple)):
        params = torch.tensor(params, dtype=torch.float64)
    p = _as_array(params, "params")
    if p.shape != (N_PARAMS,):
        raise ValueError(f"params must have {N_PARAMS} values {PARAM_NAMES}, got shape {p.shape}")
    if p[6] <= 0 or p[7] <= 0:
        raise ValueError(f"sigma_x and sigma_y must be > 0, got {p[6]}, {p[7]}")
    return torch.from_numpy(_gabor_np(p, size))


def _atom_image(atom: torch.Tensor | np.ndarray) -> np.ndarray:
    """``[size, size]`` from ``[size, size]`` or a flattened square ``[size·size]``."""
    a = _as_array(atom, "atom")
    if a.ndim == 1:
        side = int(round(math.sqrt(a.size)))
        if side * side != a.size:
            raise ValueError(f"a flat atom must have a square number of pixels, got {a.size}")
        a = a.reshape(side, side)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"atom must be [size, size] or [size*size], got shape {a.shape}")
    return a


def _initial_guesses(a: np.ndarray, n_init: int) -> list[np.ndarray]:
    """Starting points from the FFT peaks (f, θ) and the energy centroid (x₀, y₀)."""
    size = a.shape[0]
    spec = np.abs(np.fft.fft2(a)) ** 2
    freqs = np.fft.fftfreq(size)
    fy, fx = np.meshgrid(freqs, freqs, indexing="ij")
    spec[0, 0] = 0.0
    spec[fx < 0] = 0.0  # one of each ± pair
    spec[(fx == 0) & (fy < 0)] = 0.0
    peaks = np.argsort(spec.ravel())[::-1][: max(1, (n_init + 1) // 2)]
    w = a**2 / (a**2).sum()
    r = np.arange(size, dtype=np.float64)
    x0, y0 = (w.sum(0) * r).sum(), (w.sum(1) * r).sum()
    amp, sigma = np.abs(a).max(), size / 6
    guesses = []
    for k in peaks:
        f = float(np.hypot(fx.flat[k], fy.flat[k]))
        theta = float(np.arctan2(fy.flat[k], fx.flat[k]))
        for phi in (0.0, math.pi / 2):
            guesses.append(np.array([amp, x0, y0, theta, f, phi, sigma, sigma]))
    return guesses[:n_init]


def _canonical(p: np.ndarray) -> np.ndarray:
    """The same function with A ≥ 0, θ ∈ [0, π), φ ∈ (−π, π], σ > 0."""
    A, x0, y0, theta, f, phi, sx, sy = p
    if A < 0:
        A, phi = -A, phi + math.pi
    turns = math.floor(theta / math.pi)
    theta -= turns * math.pi
    if turns % 2:  # θ + π flips x': cos(−2πf x' + φ) = cos(2πf x' − φ)
        phi = -phi
    phi = math.pi - (math.pi - phi) % (2 * math.pi)
    return np.array([A, x0, y0, theta, f, phi, abs(sx), abs(sy)])


def fit_gabor(
    atom: torch.Tensor | np.ndarray, n_init: int = 4, max_nfev: int = 200
) -> tuple[torch.Tensor, float]:
    """Least-squares fit of a Gabor function to one ``atom [size, size]`` (or ``[size·size]``).

    Minimizes Σ_pixels (g(x, y; params) − atom(x, y))² with ``scipy.optimize.least_squares``
    (analytic Jacobian; bounds: center within a pixel of the patch, 0 ≤ f ≤ ½,
    0.3 ≤ σ ≤ 2·size) from `n_init` starting points, at most `max_nfev` evaluations each: the
    strongest peaks of the atom's power spectrum give f and θ, the energy-weighted centroid
    gives the center, and φ starts at 0 and π/2. Keeps the best fit.
    Returns ``(params [8] float64, r2)`` with params in canonical form (see the module
    docstring) and r2 = 1 − Σ(g − atom)² / Σ(atom − mean)², the fraction of the atom's
    variance the Gabor explains.
    """
    from scipy.optimize import least_squares

    a = _atom_image(atom)
    n_init = check_count(n_init, "n_init")
    max_nfev = check_count(max_nfev, "max_nfev")
    ss_tot = float(((a - a.mean()) ** 2).sum())
    if ss_tot <= 0:
        raise ValueError("atom is constant: there is no pattern to fit")
    size = a.shape[0]
    lo = [-np.inf, -1.0, -1.0, -np.inf, 0.0, -np.inf, 0.3, 0.3]
    hi = [np.inf, size, size, np.inf, 0.5, np.inf, 2.0 * size, 2.0 * size]
    best = None
    for p0 in _initial_guesses(a, n_init):
        p0 = np.clip(p0, np.array(lo) + 1e-9, np.array(hi) - 1e-9)
        res = least_squares(
            lambda p: (_gabor_np(p, size) - a).ravel(),
            p0,
            jac=lambda p: _gabor_jac(p, size),
            bounds=(lo, hi),
            max_nfev=max_nfev,
        )
        if best is None or res.cost < best.cost:
            best = res
    r2 = 1.0 - 2.0 * best.cost / ss_tot
    return torch.from_numpy(_canonical(best.x)), float(r2)


def fit_gabors(
    atoms: torch.Tensor, n_init: int = 4, max_nfev: int = 200
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`fit_gabor` for every atom of ``atoms [n, size·size]`` (rows, e.g. ``W_d.T``).

    Returns ``(params [n, 8], r2 [n])``, float64 on the CPU.
    """
    check_tensor(atoms, "atoms", ndim=2)
    fits = [fit_gabor(a, n_init, max_nfev) for a in atoms]
    params = torch.stack([p for p, _ in fits])
    return params, torch.tensor([r for _, r in fits], dtype=torch.float64)


def window_energy(atoms: torch.Tensor, window: int) -> torch.Tensor:
    """Locality: the largest fraction of each atom's energy inside one ``window x window`` box.

    ``atoms [n, size·size]`` (square images, e.g. ``W_d.T``); returns ``[n]`` in [0, 1]:
    max over box positions of Σ_box a² / Σ a². A local atom (a stroke, a Gabor) keeps most
    of its energy in a small box; a global one (a PCA component) spreads it over the image.
    """
    check_tensor(atoms, "atoms", ndim=2)
    side = int(round(math.sqrt(atoms.shape[1])))
    if side * side != atoms.shape[1]:
        raise ValueError(f"atoms must be square images, got {atoms.shape[1]} pixels")
    if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= side:
        raise ValueError(f"window must be an int in [1, {side}], got {window!r}")
    e = atoms.detach().double().pow(2).reshape(-1, 1, side, side)
    box = torch.nn.functional.avg_pool2d(e, window, stride=1) * window**2
    total = e.sum((1, 2, 3)).clamp_min(1e-300)
    return box.amax((1, 2, 3)) / total
