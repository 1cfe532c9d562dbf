"""Convolutional sparse coding: lib.conv.conv_fista against sporco's ConvBPDN (chapter 06).

Same image (a 256×256 high-passed grayscale crop of scikit-learn's china.jpg), same 32 random
unit-norm 8×8 filters, same λ = 0.05, same objective ½‖Σ dₘ ∗ xₘ − s‖² + λ Σ‖xₘ‖₁ (sporco's
ConvBPDN scaling, identical to lib's) and the same circular boundary (sporco works in the
Fourier domain; lib.conv with ``boundary="circular"`` too). sporco runs ADMM with
RelStopTol 1e-4; conv FISTA in float64 is timed until it reaches sporco's final objective
(checked every 5 iterations), then float32 for the same number of iterations (its objective
evaluated in float64). Then: the time per conv-FISTA iteration as the
image size and the number of filters grow.

sporco is a benchmark-only dependency:  .venv/bin/pip install sporco==0.2.2 pyfftw filetype
Run:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_conv.py
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch

from lib.conv import conv_energy, conv_fista
from lib.data import load_images

LAM, SIZE, N_FILTERS, K = 0.05, 256, 32, 8


def image(size: int) -> np.ndarray:
    """A size×size high-passed crop of china.jpg (minus a Gaussian blur of width 4)."""
    from scipy.ndimage import gaussian_filter

    x = load_images("china")[0].double().numpy()
    t, left = (x.shape[0] - size) // 2, (x.shape[1] - size) // 2
    x = x[t : t + size, left : left + size]
    return x - gaussian_filter(x, 4.0, mode="wrap")


def filters(n: int, k: int = K) -> np.ndarray:
    """n random unit-norm k×k filters, sporco layout [k, k, n]."""
    D = np.random.default_rng(0).standard_normal((k, k, n))
    return D / np.sqrt((D**2).sum((0, 1), keepdims=True))


def run_sporco(D: np.ndarray, s: np.ndarray) -> tuple[float, float, int]:
    from sporco.admm import cbpdn

    opt = cbpdn.ConvBPDN.Options(
        {"Verbose": False, "MaxMainIter": 500, "RelStopTol": 1e-4, "AutoRho": {"Enabled": True}}
    )
    t0 = time.perf_counter()
    solver = cbpdn.ConvBPDN(D, s, LAM, opt)
    solver.solve()
    elapsed = time.perf_counter() - t0
    stats = solver.getitstat()
    return elapsed, float(stats.ObjFun[-1]), len(stats.ObjFun)


def run_fista_to(y: torch.Tensor, Kt: torch.Tensor, target: float, max_iter: int = 600):
    """Time float64 conv FISTA until its energy (checked every 5 iterations) ≤ `target`.

    The checks are part of the timed run (a few % of its time), so the time is conservative.
    Returns (seconds, iterations, final energy).
    """

    def reached(it: int, z: torch.Tensor) -> bool:
        return it % 5 == 0 and float(conv_energy(y, z, Kt, LAM, "circular")) <= target

    t0 = time.perf_counter()
    res = conv_fista(y, Kt, LAM, boundary="circular", tol=0.0, max_iter=max_iter, callback=reached)
    elapsed = time.perf_counter() - t0
    return elapsed, res.n_iter, float(conv_energy(y, res.z, Kt, LAM, "circular"))


def run_fista_n(y: torch.Tensor, Kt: torch.Tensor, n_iter: int):
    """Time `n_iter` iterations of conv FISTA; return (seconds, energy evaluated in float64)."""
    t0 = time.perf_counter()
    res = conv_fista(y, Kt, LAM, boundary="circular", tol=0.0, max_iter=n_iter)
    elapsed = time.perf_counter() - t0
    return elapsed, float(conv_energy(y.double(), res.z.double(), Kt.double(), LAM, "circular"))


def main() -> int:
    try:
        import sporco  # noqa: F401
    except ImportError:
        print("sporco is not installed; it is a benchmark-only dependency:")
        print("    .venv/bin/pip install sporco==0.2.2 pyfftw filetype")
        return 0
    torch.manual_seed(0)
    s, D = image(SIZE), filters(N_FILTERS)
    Kt = torch.from_numpy(D.transpose(2, 0, 1)[:, None].copy())  # [n, 1, k, k]
    y = torch.from_numpy(s)[None, None]
    print(f"image {SIZE}×{SIZE}, {N_FILTERS} filters {K}×{K}, λ = {LAM}, circular boundary")
    t_sp, obj_sp, it_sp = run_sporco(D, s)
    print(f"sporco ConvBPDN (ADMM): {t_sp:.2f} s, {it_sp} iterations, objective {obj_sp:.4f}")

    t64, it64, obj64 = run_fista_to(y, Kt, obj_sp)
    t32, obj32 = run_fista_n(y.float(), Kt.float(), it64)
    print(f"conv FISTA float64: {t64:.2f} s, {it64} iterations, objective {obj64:.4f}")
    print(f"conv FISTA float32: {t32:.2f} s, {it64} iterations, objective {obj32:.4f} (in float64)")
    print(
        f"speed-up over sporco to the same objective: float32 {t_sp / t32:.1f}×, "
        f"float64 {t_sp / t64:.1f}×"
    )

    print("\ntime per conv-FISTA iteration, float32 (ms, best of 2 runs of 15 iterations):")
    print("  size  filters   ms/iter")
    for size, n in [(128, 32), (256, 32), (512, 32), (256, 8), (256, 16), (256, 64)]:
        yy = torch.from_numpy(image(size)).float()[None, None]
        KK = torch.from_numpy(filters(n).transpose(2, 0, 1)[:, None].copy()).float()
        times = []
        for _ in range(3):  # the first run warms up; the best of the others is printed
            t0 = time.perf_counter()
            conv_fista(yy, KK, LAM, boundary="circular", tol=0.0, max_iter=15)
            times.append((time.perf_counter() - t0) / 15)
        print(f"  {size:4d}  {n:7d}  {1000 * min(times[1:]):8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
