"""Benchmark: lib.learn_dictionary against scikit-learn's MiniBatchDictionaryLearning.

Problem: 20,000 ZCA-whitened 12×12 patches from five photographs (lib.data.load_images,
extract_patches, whiten), 256 atoms, the objective ½‖y − W_d z‖² + α‖z‖₁ with α = λ = 1.
scikit-learn minimizes the same per-sample objective: its docstring states
``0.5 * ||X - U V||_Fro^2 + alpha * ||U||_1,1`` (sum over samples) and its minibatch cost is
that sum divided by the batch size, the mean of our E(y, z) = ½‖y − W_d z‖² + λ‖z‖₁; its
alpha is our λ, with unit-norm atoms in both. Score: the mean energy on 2,000 held-out
patches (whitened with the training transform) with exact codes (lib.fista, float64,
tol 1e-6), and the wall time of learning. lib runs its default online update (Mairal, Bach,
Ponce & Sapiro, 2010, the algorithm scikit-learn implements, with FISTA codes instead of
LARS), and, for contrast, the plain gradient step of chapter 02 (``update="gradient"``).
Every method runs in this process on the same number of threads. Usage:
``python benchmarks/bench_dictionary.py``. About 5 minutes on one core.
"""

from __future__ import annotations

import time
import warnings

import torch
from sklearn.decomposition import MiniBatchDictionaryLearning
from threadpoolctl import threadpool_limits

from lib.data import load_images
from lib.dictionary import learn_dictionary
from lib.preprocessing import extract_patches, whiten
from lib.solvers import energy, fista

# small matrices in a Python loop: one thread is fastest, and on a shared machine a second
# thread only waits for a busy core (lib.learn_dictionary ran ~20x slower on 2 busy threads)
THREADS = 1
IMAGES = ["china", "flower", "camera", "astronaut", "coffee"]
SIZE, N_TRAIN, N_TEST = 12, 20_000, 2_000
N_ATOMS, LAM, BATCH = 256, 1.0, 256
SEEDS = [0, 1, 2]
MAX_ITER = 20  # FISTA iterations per minibatch in lib.learn_dictionary (warm-started)


def patches() -> tuple[torch.Tensor, torch.Tensor]:
    P = extract_patches(load_images(IMAGES), SIZE, N_TRAIN + N_TEST, seed=0).double()
    y, W_zca, mean = whiten(P[:N_TRAIN])
    return y.float(), ((P[N_TRAIN:] - mean) @ W_zca).float()


def held_out(W_d: torch.Tensor, y_test: torch.Tensor) -> float:
    y, W = y_test.double(), W_d.double()
    z = fista(y, W, LAM, tol=1e-6, max_iter=5000).z
    return float(energy(y, z, W, LAM).mean())


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def run_lib(y, n_epochs, seed, update="online"):
    res = learn_dictionary(
        y, N_ATOMS, LAM, n_epochs=n_epochs, batch_size=BATCH, seed=seed, progress=False,
        max_iter=MAX_ITER, update=update,
    )  # fmt: skip
    return res.W_d


def run_gradient(y, n_epochs, seed):
    return run_lib(y, n_epochs, seed, update="gradient")


def run_sklearn(y, n_epochs, seed):
    model = MiniBatchDictionaryLearning(
        N_ATOMS, alpha=LAM, batch_size=BATCH, max_iter=n_epochs, random_state=seed,
        tol=0.0, max_no_improvement=None,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lars may stop its path early on a few batches
        model.fit(y.numpy())
    return torch.from_numpy(model.components_).T.contiguous()


def main() -> None:
    torch.set_num_threads(THREADS)
    y, y_test = patches()
    print(f"{N_TRAIN} train / {N_TEST} held-out whitened {SIZE}x{SIZE} patches, "
          f"{N_ATOMS} atoms, lambda = alpha = {LAM}, batch {BATCH}, {THREADS} threads")  # fmt: skip
    rows = []
    with threadpool_limits(THREADS):
        for name, fn, epochs in [
            ("sklearn MiniBatchDictionaryLearning", run_sklearn, 1),
            ("sklearn MiniBatchDictionaryLearning", run_sklearn, 3),
            ("lib.learn_dictionary", run_lib, 1),
            ("lib.learn_dictionary", run_lib, 2),
            ("lib.learn_dictionary", run_lib, 3),
            ('lib.learn_dictionary update="gradient"', run_gradient, 1),
        ]:
            t, W_d = timed(lambda fn=fn, epochs=epochs: fn(y, epochs, 0))
            rows.append((name, epochs, t, held_out(W_d, y_test)))
            print(f"  {name:38s} {epochs} epoch(s) {t:7.1f} s  held-out E {rows[-1][3]:.4f}")
        _, _, t_sk, e_sk = rows[0]
        print("\nratios against sklearn (1 epoch): time_sklearn / time, E / E_sklearn")
        for name, epochs, t, e in rows[1:]:
            print(
                f"  {name:38s} {epochs} epoch(s)  speed-up {t_sk / t:5.2f}x  E ratio {e / e_sk:.4f}"
            )
        reach = [(t, epochs, e) for name, epochs, t, e in rows if name == "lib.learn_dictionary"]
        hit = [r for r in reach if r[2] <= e_sk]
        if hit:
            t, epochs, e = hit[0]
            print(f"\nsame objective: lib reaches sklearn's 1-epoch E {e_sk:.4f} after {epochs} "
                  f"epoch(s), {t:.1f} s vs {t_sk:.1f} s: {t_sk / t:.1f}x faster")  # fmt: skip
        else:
            print(
                f"\nsame objective: lib does not reach sklearn's 1-epoch E {e_sk:.4f} in 3 epochs"
            )
        n_eq = max(1, round(t_sk / rows[2][2]))
        t, W_d = timed(lambda: run_lib(y, n_eq, 0))
        e = held_out(W_d, y_test)
        print(f"equal time: lib.learn_dictionary {n_eq} epochs {t:.1f} s, held-out E {e:.4f} "
              f"(sklearn {e_sk:.4f} in {t_sk:.1f} s, E ratio {e / e_sk:.4f})")  # fmt: skip
        seed0 = {name: e for name, epochs, _, e in rows if epochs == 1}
        print("\nseeds (1 epoch each): held-out E")
        for name, fn in [
            ("sklearn MiniBatchDictionaryLearning", run_sklearn),
            ("lib.learn_dictionary", run_lib),
        ]:
            es = [seed0[name]] + [held_out(fn(y, 1, s), y_test) for s in SEEDS[1:]]
            spread = max(es) - min(es)
            print(f"  {name:38s} " + "  ".join(f"{v:.4f}" for v in es) + f"  spread {spread:.4f}")


if __name__ == "__main__":
    main()
