"""Benchmark: lib.learn_dictionary against scikit-learn's MiniBatchDictionaryLearning.

Problem: 20,000 ZCA-whitened 12×12 patches from five photographs (lib.data.load_images,
extract_patches, whiten), 256 atoms, the objective ½‖y − W_d z‖² + α‖z‖₁ with α = λ = 1.
scikit-learn minimises the same per-sample objective: its docstring states
``0.5 * ||X - U V||_Fro^2 + alpha * ||U||_1,1`` (sum over samples) and its minibatch cost is
that sum divided by the batch size, the mean of our E(y, z) = ½‖y − W_d z‖² + λ‖z‖₁; its
alpha is our λ, with unit-norm atoms in both. Score: the mean energy on 2,000 held-out
patches (whitened with the training transform) with exact codes (lib.fista, float64,
tol 1e-6), and the wall time of learning. A third competitor, a plain torch alternation
(50 fixed-step FISTA iterations from zero per minibatch, then one gradient step on W_d with
step 1/‖zᵀz‖₂ and unit-norm columns), shows what a loop without lib's per-sample stopping and
bookkeeping costs; a fourth replaces its gradient step on W_d by the online update of
Mairal, Bach, Ponce & Sapiro (2010) that scikit-learn uses, the change this benchmark
recommends for lib.learn_dictionary. Every method runs in this process on the same number of
threads. Usage: ``python benchmarks/bench_dictionary.py``. About 5 minutes on one shared core.
"""

from __future__ import annotations

import time
import warnings

import torch
from sklearn.decomposition import MiniBatchDictionaryLearning
from threadpoolctl import threadpool_limits

from lib.data import extract_patches, load_images, whiten
from lib.dictionary import learn_dictionary, normalize_columns
from lib.solvers import energy, fista

# small matrices in a Python loop: one thread is fastest, and on a shared machine a second
# thread only waits for a busy core (lib.learn_dictionary ran ~20x slower on 2 busy threads)
THREADS = 1
IMAGES = ["china", "flower", "camera", "astronaut", "coffee"]
SIZE, N_TRAIN, N_TEST = 12, 20_000, 2_000
N_ATOMS, LAM, BATCH = 256, 1.0, 256
SEEDS = [0, 1, 2]


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


def run_lib(y, n_epochs, seed):
    res = learn_dictionary(
        y, N_ATOMS, LAM, n_epochs=n_epochs, batch_size=BATCH, seed=seed, progress=False,
        max_iter=50, tol=1e-3,
    )  # fmt: skip
    return res.W_d


def run_sklearn(y, n_epochs, seed):
    model = MiniBatchDictionaryLearning(
        N_ATOMS, alpha=LAM, batch_size=BATCH, max_iter=n_epochs, random_state=seed,
        tol=0.0, max_no_improvement=None,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lars may stop its path early on a few batches
        model.fit(y.numpy())
    return torch.from_numpy(model.components_).T.contiguous()


def plain_codes(yb: torch.Tensor, W_d: torch.Tensor, steps: int) -> torch.Tensor:
    """`steps` fixed-step FISTA iterations from z = 0, no stopping test."""
    G, b = W_d.T @ W_d, yb @ W_d
    L = float(torch.linalg.matrix_norm(G, ord=2))
    z, x, s = torch.zeros_like(b), torch.zeros_like(b), 1.0
    for _ in range(steps):
        u = x - (x @ G - b) / L
        z_new = u - u.clamp(-LAM / L, LAM / L)
        s_new = (1 + (1 + 4 * s * s) ** 0.5) / 2
        x, z, s = z_new + (s - 1) / s_new * (z_new - z), z_new, s_new
    return z


def run_plain(y, n_epochs, seed, steps=50):
    g = torch.Generator().manual_seed(seed)
    W_d = normalize_columns(y[torch.randperm(len(y), generator=g)[:N_ATOMS]].T.clone())
    for _ in range(n_epochs):
        for rows in torch.randperm(len(y), generator=g).split(BATCH):
            yb = y[rows]
            z = plain_codes(yb, W_d, steps)
            grad = -(yb - z @ W_d.T).T @ z
            L_z = torch.linalg.matrix_norm(z.T @ z, ord=2).clamp_min(1e-12)
            W_d = normalize_columns(W_d - grad / L_z)
    return W_d


def run_online(y, n_epochs, seed, steps=50):
    """The plain alternation with the online update of Mairal et al. (2010) for W_d.

    Running means A = mean zᵀz and B = mean yᵀz over all minibatches so far, then one pass
    of block-coordinate descent on the columns: w_j ← w_j + (b_j − W_d a_j) / A_jj,
    w_j ← w_j / max(1, ‖w_j‖). This is what scikit-learn does (with exact lars codes).
    """
    g = torch.Generator().manual_seed(seed)
    W_d = normalize_columns(y[torch.randperm(len(y), generator=g)[:N_ATOMS]].T.clone())
    A, B = torch.zeros(N_ATOMS, N_ATOMS), torch.zeros(y.shape[1], N_ATOMS)
    t = 0
    for _ in range(n_epochs):
        for rows in torch.randperm(len(y), generator=g).split(BATCH):
            yb, t = y[rows], t + 1
            z = plain_codes(yb, W_d, steps)
            A = (1 - 1 / t) * A + z.T @ z / len(yb)
            B = (1 - 1 / t) * B + yb.T @ z / len(yb)
            for j in range(N_ATOMS):
                if A[j, j] > 1e-10:
                    W_d[:, j] += (B[:, j] - W_d @ A[:, j]) / A[j, j]
                    W_d[:, j] /= W_d[:, j].norm().clamp_min(1.0)
    return normalize_columns(W_d)


def main() -> None:
    torch.set_num_threads(THREADS)
    y, y_test = patches()
    print(f"{N_TRAIN} train / {N_TEST} held-out whitened {SIZE}x{SIZE} patches, "
          f"{N_ATOMS} atoms, lambda = alpha = {LAM}, batch {BATCH}, {THREADS} threads")  # fmt: skip
    rows = []
    with threadpool_limits(THREADS):
        for name, fn, epochs in [
            ("sklearn MiniBatchDictionaryLearning", run_sklearn, 1),
            ("lib.learn_dictionary", run_lib, 1),
            ("lib.learn_dictionary", run_lib, 3),
            ("plain torch alternation", run_plain, 1),
            ("plain alternation + online W_d update", run_online, 1),
            ("plain alternation + online W_d update", run_online, 3),
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
        n_eq = max(1, round(t_sk / rows[1][2]))
        t, W_d = timed(lambda: run_lib(y, n_eq, 0))
        e = held_out(W_d, y_test)
        print(f"\nequal time: lib.learn_dictionary {n_eq} epochs {t:.1f} s, held-out E {e:.4f} "
              f"(sklearn {e_sk:.4f} in {t_sk:.1f} s, E ratio {e / e_sk:.4f})")  # fmt: skip
        seed0 = {name: e for name, epochs, _, e in rows if epochs == 1}
        print("\nseeds (1 epoch each): held-out E")
        name = "lib.learn_dictionary"
        es = [seed0[name]] + [held_out(run_lib(y, 1, s), y_test) for s in SEEDS[1:]]
        spread = max(es) - min(es)
        print(f"  {name:38s} " + "  ".join(f"{v:.4f}" for v in es) + f"  spread {spread:.4f}")


if __name__ == "__main__":
    main()
