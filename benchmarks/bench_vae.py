"""Benchmark: our VAEs against the pytorch/examples VAE, trained in one run on the same digits.

Models, all trained by :func:`lib.vae.train_vae` with the recipe of pytorch/examples'
``vae/main.py`` (Adam, lr 1e-3, minibatches of 128, summed BCE + β·KL), the same seed (the same
initial weights for equal architectures, the same minibatch order) and the same number of steps:

* (a) pytorch/examples' model: ``VAE(latent=20)``, 784-400-20-400-784, ReLU, β = 1. The baseline.
* (b) (a) with KL warm-up: β rises linearly from 0 to 1 over the first half of the steps
  (:func:`lib.vae.kl_warmup`; Bowman et al. 2016, Sønderby et al. 2016), as in chapter 08.
* (c) ``ConvVAE(latent=20)``: a convolutional encoder and decoder (the design of the TensorFlow
  tutorial "Convolutional Variational Autoencoder", channels 8 and 64), β = 1.
* (d) ``VAE(latent=2)``: the 2-D model of chapter 08, for reference.

Score: the held-out negative ELBO in nats per image, lower is better
(:func:`lib.vae.negative_elbo`, the BCE of gray-level pixels as their log-likelihood, as in
pytorch/examples), averaged over 10 noise samples per image; "1 sample" is the same with one
sample, the measure of pytorch/examples' "test loss". Also printed: its reconstruction and KL
parts, the active latent dimensions (:func:`lib.vae.active_dims`), the negative ELBO on the
training digits (1 sample; its gap to the held-out value measures over-fitting), the training
time, and the difference of each model's held-out negative ELBO to (a).

Data. By default a stand-in, because the 60,000 official training digits cannot be downloaded
on the build machine: the 10,000 official MNIST *test* digits, read from ``../shared/data/mnist``
(``load_mnist("test", full=True)``: a fixed shuffle), split into the first 8,000 for training
and the last 2,000 held out. Steps: as many as pytorch/examples' 7 epochs on 60,000 digits
(7 × 469 = 3,283): 52 epochs of the 8,000 digits, 52 × 63 = 3,276 steps (``--epochs`` changes
it). With ``--full``: the official 60,000 training and 10,000 test digits
(``load_mnist(full=True)``, downloaded once from the mirrors into ``data/cache``) and 7 epochs,
to compare (a) with pytorch/examples' logged test loss at epoch 7, 106.66 nats (its log in
pytorch/examples pull request #1416; one sample per test digit).

Float32 on the threads of OMP_NUM_THREADS (default 2). About 5 minutes on one free core (the
ConvVAE takes 2.3x the time of a 784-400 model per step); ``--full`` has as many steps, plus
the download and longer evaluations. Usage: ``OMP_NUM_THREADS=1 python
benchmarks/bench_vae.py [--epochs N] [--full]``.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

import torch

from lib.data import MNIST_FILES, load_mnist
from lib.vae import VAE, ConvVAE, kl_warmup, negative_elbo, train_vae, vae_stats

THREADS = int(os.environ.get("OMP_NUM_THREADS", min(os.cpu_count() or 1, 2)))
SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
N_TRAIN = 8000  # of the 10,000 official test digits; the other 2,000 are held out
EPOCHS = {"default": 52, "full": 7}  # 52 × 63 = 3,276 steps ≈ 7 × 469 = 3,283
BATCH, LR, SEED = 128, 1e-3, 0
SAMPLES = 10  # noise samples per held-out digit
REFERENCE = 106.66  # pytorch/examples vae/main.py, "Test set loss" after epoch 7 (1 sample)


def models() -> dict[str, tuple]:
    """name -> (a model factory, β or a β schedule from the number of steps)."""
    return {
        "(a) pytorch/examples 784-400-20": (lambda: VAE(latent=20), lambda steps: 1.0),
        "(b) (a) + KL warm-up": (lambda: VAE(latent=20), lambda steps: kl_warmup(steps // 2)),
        "(c) ConvVAE latent 20": (lambda: ConvVAE(latent=20), lambda steps: 1.0),
        "(d) 784-400-2": (lambda: VAE(latent=2), lambda steps: 1.0),
    }


def load_data(full: bool) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(training digits, held-out digits), or None, saying why, when they are not at hand."""
    if full:
        try:
            return load_mnist("train", full=True)[0], load_mnist("test", full=True)[0]
        except RuntimeError as err:
            print(f"--full: the official MNIST digits could not be downloaded: {err}")
            return None
    if not all((SHARED_MNIST / f"{name}.gz").is_file() for name in MNIST_FILES["test"]):
        print(
            f"The official MNIST test digits are not in {SHARED_MNIST}: put "
            "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz there (from a mirror of "
            "lib.data.MNIST_MIRRORS), or run with --full to download all 70,000 digits."
        )
        return None
    y = load_mnist("test", full=True, base_url=SHARED_MNIST.as_uri())[0]
    return y[:N_TRAIN], y[N_TRAIN:]


def run(make, beta, y_tr: torch.Tensor, y_val: torch.Tensor, epochs: int) -> dict[str, float]:
    steps = epochs * math.ceil(len(y_tr) / BATCH)
    torch.manual_seed(SEED)
    model = make()
    start = time.perf_counter()
    train_vae(model, y_tr, epochs, BATCH, LR, beta(steps), seed=SEED, progress=False)
    seconds = time.perf_counter() - start
    nelbo = negative_elbo(model, y_val, samples=SAMPLES, seed=SEED)
    stats = vae_stats(model, y_val, seed=SEED)
    return {
        "nelbo": nelbo,
        "one": negative_elbo(model, y_val, samples=1, seed=SEED),
        "recon": nelbo - stats["kl"],  # mean BCE over the same samples
        "kl": stats["kl"],
        "active": int(stats["active"]),
        "train": negative_elbo(model, y_tr, samples=1, seed=SEED),
        "seconds": seconds,
        "ms": 1e3 * seconds / steps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, help="epochs of each model (default 52; 7)")
    parser.add_argument("--full", action="store_true", help="60,000 / 10,000 official digits")
    args = parser.parse_args()
    epochs = args.epochs or EPOCHS["full" if args.full else "default"]
    torch.set_num_threads(THREADS)
    data = load_data(args.full)
    if data is None:
        return
    y_tr, y_val = data
    steps = epochs * math.ceil(len(y_tr) / BATCH)
    print(
        f"{len(y_tr)} training digits, {len(y_val)} held-out digits, {epochs} epochs = {steps} "
        f"steps of {BATCH}, Adam lr {LR}, seed {SEED}, {THREADS} thread(s)"
    )
    rows = {}
    for name, (make, beta) in models().items():
        rows[name] = run(make, beta, y_tr, y_val, epochs)
        print(f"{name}: trained in {rows[name]['seconds']:.0f} s", flush=True)
    base = rows[next(iter(rows))]["nelbo"]
    print(f"\nheld-out negative ELBO, nats per digit ({SAMPLES} samples; 1 sample; its parts):")
    print(
        f"{'model':32} {'-ELBO':>7} {'vs (a)':>7} {'1 sample':>8} {'recon':>6} {'KL':>5} "
        f"{'active':>6} {'train':>6} {'time s':>6} {'ms/step':>7}"
    )
    for name, r in rows.items():
        print(
            f"{name:32} {r['nelbo']:7.2f} {r['nelbo'] - base:+7.2f} {r['one']:8.2f} "
            f"{r['recon']:6.1f} {r['kl']:5.1f} {r['active']:6d} {r['train']:6.1f} "
            f"{r['seconds']:6.0f} {r['ms']:7.1f}"
        )
    print(
        f"pytorch/examples' logged test loss after 7 epochs on 60,000 digits: {REFERENCE} "
        "(1 sample per digit of the 10,000 test digits; comparable with the '1 sample' column "
        f"of (a) only with --full{'' if args.full else ', not this run'})"
    )


if __name__ == "__main__":
    main()
