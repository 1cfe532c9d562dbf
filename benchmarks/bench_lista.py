"""Benchmark: LISTA(K) against FISTA at equal held-out code error (Gregor & LeCun, 2010).

Problem: E(y, z) = ½‖y − W_d z‖² + λ‖z‖₁ with λ = 0.4 on W_d = 256 unit-norm MNIST digits
(the first 256 of the train split). LISTA (tied weights, per-step thresholds) is trained
layer-wise (K = 1 from ISTA, then K = 2 initialised from it, ...), 30 epochs of Adam with
lr 3e-3 each, on the other 3,744 train digits to predict z*, the codes of lib.fista at
tol = 1e-4. It is scored on the 1,000 held-out test digits by ‖z_K − z*‖² / ‖z*‖². FISTA is
the textbook one (fixed step 1/L, no restart) from z = 0; "FISTA iters" is the first
iteration whose held-out error is at most LISTA's. Timing: the 1,000 held-out digits tiled
twice (a batch of 2,000), both in float32 on the same number of threads, best of `REPEATS`;
FISTA runs exactly that many iterations (tol = 0). Usage: ``python benchmarks/bench_lista.py``.
About 2.5 minutes on 2 cores.
"""

from __future__ import annotations

import os
import time

import torch

from lib.data import load_mnist
from lib.lista import LISTA, code_error, deepen, train_lista
from lib.solvers import fista, lipschitz

THREADS = int(os.environ.get("OMP_NUM_THREADS", min(os.cpu_count() or 1, 2)))
LAM = 0.4
N_ATOMS = 256
KS = [1, 2, 3, 5]
EPOCHS = 30
LR = 3e-3
BATCH = 64
MAX_FISTA = 400
REPEATS = 3


def best_time(fn, repeats=REPEATS):
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def fista_errors(y, W_d, L, z_star, n_iter):
    errs = []
    fista(
        y, W_d, LAM, tol=0, max_iter=n_iter, L=L, backtrack=False, restart=False,
        callback=lambda t, z: errs.append(float(code_error(z, z_star))),
    )  # fmt: skip
    return errs


def main() -> None:
    torch.set_num_threads(THREADS)
    X, _ = load_mnist("train")
    y_val, _ = load_mnist("test")
    W_d = (X[:N_ATOMS] / X[:N_ATOMS].norm(dim=1, keepdim=True)).T.contiguous()
    y_tr = X[N_ATOMS:]
    L = lipschitz(W_d)
    t0 = time.perf_counter()
    z_tr = fista(y_tr, W_d, LAM, tol=1e-4, max_iter=5000).z
    z_val = fista(y_val, W_d, LAM, tol=1e-4, max_iter=5000).z
    print(f"z* by FISTA (tol 1e-4): {time.perf_counter() - t0:.1f} s, {THREADS} thread(s)")
    errs = fista_errors(y_val, W_d, L, z_val, MAX_FISTA)
    y_big = y_val.repeat(2, 1)  # 2,000 held-out digits (the 1,000 tiled twice), timing only
    rows, model = [], None
    t0 = time.perf_counter()
    for K in KS:
        model = LISTA(W_d, LAM, K, per_step_thresholds=True) if model is None else deepen(model, K)
        train_lista(model, y_tr, z_tr, EPOCHS, LR, BATCH, seed=0, progress=False)
        with torch.no_grad():
            err = float(code_error(model(y_val), z_val))
            t_lista, _ = best_time(lambda m=model: m(y_big))
        n = next((i + 1 for i, e in enumerate(errs) if e <= err), None)
        if n is None:
            rows.append((K, err, None, t_lista, None))
            continue
        t_fista, _ = best_time(
            lambda n=n: fista(
                y_big, W_d, LAM, tol=0, max_iter=n, L=L, backtrack=False, restart=False
            )
        )
        rows.append((K, err, n, t_lista, t_fista))
    print(f"training ({EPOCHS} epochs per K, layer-wise): {time.perf_counter() - t0:.1f} s")
    print(f"{'K':>3} {'held-out err':>12} {'FISTA iters':>11} {'iters ratio':>11} "
          f"{'LISTA ms':>9} {'FISTA ms':>9} {'time ratio':>10}")  # fmt: skip
    for K, err, n, tl, tf in rows:
        if n is None:
            print(f"{K:>3} {err:>12.4f} {'>' + str(MAX_FISTA):>11}")
            continue
        print(
            f"{K:>3} {err:>12.4f} {n:>11d} {n / K:>11.1f} "
            f"{1e3 * tl:>9.2f} {1e3 * tf:>9.2f} {tf / tl:>10.1f}"
        )


if __name__ == "__main__":
    main()
