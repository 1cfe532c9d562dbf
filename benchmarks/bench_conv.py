"""Convolutional sparse coding: lib.conv's ADMM and FISTA against sporco's ConvBPDN (chapter 06).

Same image (a 256×256 high-passed grayscale crop of scikit-learn's china.jpg), same 32 random
unit-norm 8×8 filters, same λ = 0.05, same objective ½‖Σ dₘ ∗ xₘ − s‖² + λ Σ‖xₘ‖₁ (sporco's
ConvBPDN scaling, identical to lib's) and the same circular boundary. sporco runs its ADMM
with RelStopTol 1e-2, 1e-3 and 1e-4 (the issue's setting); the target is lib's energy, in
float64, of the sparse codes Y that sporco returns: a true objective value. (sporco's own
ObjFun adds the data term of its dense X to the ℓ1 term of its sparse Y; that sum is not the
energy of any one code and sits below what Y reaches, so it is not used as a target.)

Each lib solver, in float32 and in float64, is first run once to find the first iteration
whose codes have an energy, computed in float64, at or below the target; it is then timed for
exactly that many iterations (best of 2). float32 solvers are therefore checked in float64.
sporco and torch get the same number of threads (torch's; pyfftw is set to it). Then: the time
lib.conv.conv_admm (float32, tol 1e-4) takes as the image size and the number of filters grow.

sporco is a benchmark-only dependency:  .venv/bin/pip install sporco==0.2.2 pyfftw filetype
Run:  OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_conv.py   (or 1)
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch

from lib.conv import conv_admm, conv_energy, conv_fista
from lib.data import load_images

LAM, SIZE, N_FILTERS, K = 0.05, 256, 32, 8
MAX_ITER = {conv_admm: 1000, conv_fista: 1500}


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


def run_sporco(D: np.ndarray, s: np.ndarray, tol: float) -> tuple[float, np.ndarray, int]:
    """Time sporco's ConvBPDN to RelStopTol `tol`.

    Returns (seconds, its sparse codes Y as [1, n, H, W], iterations).
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
    return elapsed, codes, len(stats.ObjFun)


def solve(solver, y: torch.Tensor, Kt: torch.Tensor, n_iter: int, callback=None):
    """`n_iter` iterations of lib.conv's ADMM or FISTA, no stopping rule."""
    kw = {"boundary": "circular"} if solver is conv_fista else {}
    return solver(y, Kt, LAM, tol=0.0, max_iter=n_iter, callback=callback, **kw)


def iterations_to(solver, y: torch.Tensor, Kt: torch.Tensor, target: float) -> int:
    """The first iteration at which the solver's codes have an energy, in float64, ≤ `target`.

    A first run scores the codes every 10 iterations; a second scores each of the last 10
    (float32 energies are too coarse to compare, so every score is in float64).
    """
    y64, K64, max_iter = y.double(), Kt.double(), MAX_ITER[solver]

    def first_hit(every: int, start: int) -> int | None:
        hit = []

        def check(it: int, z: torch.Tensor) -> bool:
            if it >= start and it % every == 0:
                if float(conv_energy(y64, z.double(), K64, LAM, "circular")) <= target:
                    hit.append(it)
            return bool(hit)

        solve(solver, y, Kt, max_iter, check)
        return hit[0] if hit else None

    coarse = first_hit(10, 10)
    if coarse is None:
        raise RuntimeError(f"{solver.__name__} did not reach {target:.6f} in {max_iter} its")
    return first_hit(1, coarse - 9)


def timed(solver, y: torch.Tensor, Kt: torch.Tensor, n_iter: int, repeat: int = 2) -> float:
    """Best of `repeat` timed runs of `n_iter` iterations, in seconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        solve(solver, y, Kt, n_iter)
        times.append(time.perf_counter() - t0)
    return min(times)


def scaling() -> None:
    """Time conv_admm (float32, tol 1e-4) takes as the image size and the filter count grow."""
    print("\nlib.conv.conv_admm, float32, tol 1e-4 (best of 2 runs after a warm-up):")
    print("  size  filters  iterations  seconds  ms/iter")
    for size, n in [(64, 32), (128, 32), (256, 32), (384, 32), (256, 8), (256, 16), (256, 64)]:
        yy = torch.from_numpy(image(size)).float()[None, None]
        KK = torch.from_numpy(filters(n).transpose(2, 0, 1)[:, None].copy()).float()
        times = []
        for _ in range(3):  # the first run warms up
            t0 = time.perf_counter()
            res = conv_admm(yy, KK, LAM, tol=1e-4, max_iter=2000)
            times.append(time.perf_counter() - t0)
        t = min(times[1:])
        print(f"  {size:4d}  {n:7d}  {res.n_iter:10d}  {t:7.2f}  {1000 * t / res.n_iter:7.1f}")


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
    print("target: lib's energy, in float64, of the sparse codes sporco returns\n")
    solvers = [(conv_admm, torch.float32), (conv_admm, torch.float64)]
    solvers += [(conv_fista, torch.float32), (conv_fista, torch.float64)]
    print("RelStopTol  sporco s  its  target        solver      dtype    its      s  speed-up")
    for tol in (1e-2, 1e-3, 1e-4):
        t_sp, Y_sp, it_sp = run_sporco(D, s, tol)
        target = float(conv_energy(y, torch.from_numpy(Y_sp), Kt, LAM, "circular"))
        head = f"{tol:8.0e}  {t_sp:8.2f}  {it_sp:3d}  {target:12.6f}"
        for solver, dtype in solvers:
            yy, KK, name = y.to(dtype), Kt.to(dtype), str(dtype).removeprefix("torch.")
            row = f"{head}  {solver.__name__:10s}  {name:7s}"
            try:
                n_iter = iterations_to(solver, yy, KK, target)
            except RuntimeError:
                print(f"{row}  not reached in {MAX_ITER[solver]} iterations", flush=True)
                continue
            seconds = timed(solver, yy, KK, n_iter)
            print(f"{row}  {n_iter:4d}  {seconds:5.2f}  {t_sp / seconds:6.1f}×", flush=True)
    scaling()
    return 0


if __name__ == "__main__":
    sys.exit(main())
