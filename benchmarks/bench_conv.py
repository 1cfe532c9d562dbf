"""Convolutional sparse coding: lib.conv.conv_fista against sporco's ConvBPDN (chapter 06).

Same image (a 256×256 high-passed grayscale crop of scikit-learn's china.jpg), same 32 random
unit-norm 8×8 filters, same λ = 0.05, same objective ½‖Σ dₘ ∗ xₘ − s‖² + λ Σ‖xₘ‖₁ (sporco's
ConvBPDN scaling, identical to lib's) and the same circular boundary (sporco works in the
Fourier domain; lib.conv with ``boundary="circular"`` too). sporco runs ADMM with
RelStopTol 1e-2, 1e-3 and 1e-4 (the issue's setting). Two targets for each: (a) the objective
sporco reports, f(X) + g(Y), which mixes ADMM's dense X and sparse Y and is what the issue
compared with; (b) lib's energy, in float64, of the sparse codes Y that sporco returns, a true
objective value and a much lower one. Conv FISTA, in float64 and in float32, is first run once
to find the first iteration whose energy (in float64) is at or below the target, then timed
for exactly that many iterations (best of 2). Both use the same
number of threads: torch's, which pyfftw (sporco's FFT) is set to as well. Then: the time per
conv-FISTA iteration as the image size and the number of filters grow.

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
MAX_ITER = {torch.float64: 2000, torch.float32: 2000}


def image(size: int) -> np.ndarray:
    """A size×size high-passed crop of china.jpg (minus a Gaussian blur of width 4)."""
    from scipy.ndimage import gaussian_filter

    x = load_images("china")[0].double().numpy()
    if size > min(x.shape):
        raise ValueError(f"china.jpg is {x.shape}: no {size}×{size} crop")
    t, left = (x.shape[0] - size) // 2, (x.shape[1] - size) // 2
    x = x[t : t + size, left : left + size]
    return x - gaussian_filter(x, 4.0, mode="wrap")


def filters(n: int, k: int = K) -> np.ndarray:
    """n random unit-norm k×k filters, sporco layout [k, k, n]."""
    D = np.random.default_rng(0).standard_normal((k, k, n))
    return D / np.sqrt((D**2).sum((0, 1), keepdims=True))


def run_sporco(D: np.ndarray, s: np.ndarray, tol: float) -> tuple[float, float, np.ndarray, int]:
    """Time sporco's ConvBPDN to RelStopTol `tol`.

    Returns (seconds, the objective sporco reports, its sparse codes Y as [1, n, H, W],
    iterations). sporco reports f(X) + g(Y): the data term of ADMM's dense variable X plus
    the ℓ1 term of its sparse copy Y; it returns Y.
    """
    from sporco.admm import cbpdn

    opt = cbpdn.ConvBPDN.Options(
        {"Verbose": False, "MaxMainIter": 500, "RelStopTol": tol, "AutoRho": {"Enabled": True}}
    )
    t0 = time.perf_counter()
    solver = cbpdn.ConvBPDN(D, s, LAM, opt)
    solver.solve()
    elapsed = time.perf_counter() - t0
    stats = solver.getitstat()
    codes = np.ascontiguousarray(solver.Y[:, :, 0, 0, :].transpose(2, 0, 1)[None])
    return elapsed, float(stats.ObjFun[-1]), codes, len(stats.ObjFun)


def iterations_to(y: torch.Tensor, Kt: torch.Tensor, target: float, max_iter: int) -> int:
    """The first iteration at which conv FISTA's codes have an energy, in float64, ≤ `target`.

    A first run in y's dtype finds a candidate from its energy history; in float32 a second
    run checks the codes in float64 from two iterations before it on (float32 energies are
    too coarse).
    """
    res = conv_fista(y, Kt, LAM, boundary="circular", tol=0.0, max_iter=max_iter)
    close = (res.objective_history.double() <= target * (1 + 1e-5)).nonzero()
    if len(close) == 0:
        raise RuntimeError(f"conv FISTA did not reach {target:.4f} in {max_iter} iterations")
    first, hit = int(close[0]) + 1, []
    if y.dtype == torch.float64 and float(res.objective_history[first - 1]) <= target:
        return first
    y64, K64 = y.double(), Kt.double()

    def reached(it: int, z: torch.Tensor) -> bool:
        if it >= first - 2 and float(conv_energy(y64, z.double(), K64, LAM, "circular")) <= target:
            hit.append(it)
        return bool(hit)

    conv_fista(y, Kt, LAM, boundary="circular", tol=0.0, max_iter=max_iter, callback=reached)
    if not hit:
        raise RuntimeError(f"conv FISTA did not reach {target:.4f} in {max_iter} iterations")
    return hit[0]


def run_fista_n(y: torch.Tensor, Kt: torch.Tensor, n_iter: int, repeat: int = 2):
    """Best of `repeat` timed runs of `n_iter` iterations; (seconds, energy in float64)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = conv_fista(y, Kt, LAM, boundary="circular", tol=0.0, max_iter=n_iter)
        times.append(time.perf_counter() - t0)
    E = conv_energy(y.double(), res.z.double(), Kt.double(), LAM, "circular")
    return min(times), float(E)


def scaling() -> None:
    """Time per conv-FISTA iteration, float32, as the image size and the filter count grow."""
    print("\ntime per conv-FISTA iteration, float32 (ms, best of 2 runs of 15 iterations):")
    print("  size  filters   ms/iter")
    for size, n in [(64, 32), (128, 32), (256, 32), (384, 32), (256, 8), (256, 16), (256, 64)]:
        yy = torch.from_numpy(image(size)).float()[None, None]
        KK = torch.from_numpy(filters(n).transpose(2, 0, 1)[:, None].copy()).float()
        times = []
        for _ in range(3):  # the first run warms up; the best of the others is printed
            t0 = time.perf_counter()
            conv_fista(yy, KK, LAM, boundary="circular", tol=0.0, max_iter=15)
            times.append((time.perf_counter() - t0) / 15)
        print(f"  {size:4d}  {n:7d}  {1000 * min(times[1:]):8.2f}")


def main() -> int:
    try:
        import sporco.fft
    except ImportError:
        print("sporco is not installed; it is a benchmark-only dependency:")
        print("    .venv/bin/pip install sporco==0.2.2 pyfftw filetype")
        return 0
    torch.manual_seed(0)
    sporco.fft.pyfftw_threads = torch.get_num_threads()  # the same threads for both
    s, D = image(SIZE), filters(N_FILTERS)
    Kt = torch.from_numpy(D.transpose(2, 0, 1)[:, None].copy())  # [n, 1, k, k]
    y = torch.from_numpy(s)[None, None]
    print(f"image {SIZE}×{SIZE}, {N_FILTERS} filters {K}×{K}, λ = {LAM}, circular boundary")
    print(f"threads: {torch.get_num_threads()} (torch and pyfftw)")
    print("Targets: (a) the objective sporco reports, f(X) + g(Y), as in the issue;")
    print("(b) lib's energy, in float64, of the sparse codes Y that sporco returns.\n")
    print("RelStopTol  sporco s  its  target          value     FISTA f64 s  its  ×    f32 s  ×")
    for tol in (1e-2, 1e-3, 1e-4):
        t_sp, reported, Y_sp, it_sp = run_sporco(D, s, tol)
        true = float(conv_energy(y, torch.from_numpy(Y_sp), Kt, LAM, "circular"))
        for name, target in (("(a) reported", reported), ("(b) E(Y)", true)):
            row = f"{tol:8.0e}  {t_sp:8.2f}  {it_sp:3d}  {name:13s} {target:9.4f}"
            for dtype in (torch.float64, torch.float32):
                yy, KK = y.to(dtype), Kt.to(dtype)
                try:
                    n_iter = iterations_to(yy, KK, target, max_iter=MAX_ITER[dtype])
                except RuntimeError:
                    row += f"  {'not reached':>15s}    "
                    continue
                seconds, _ = run_fista_n(yy, KK, n_iter)
                row += f"  {seconds:7.2f} {n_iter:4d} {t_sp / seconds:4.1f}"
            print(row)
    scaling()
    return 0


if __name__ == "__main__":
    sys.exit(main())
