"""Benchmark: the PSD encoder against conv FISTA at equal reconstruction error (chapter 07).

A convolutional PSD (16 filters 7×7, circular boundary, λ = 0.5, α = 1) is trained for 64
steps (batches of 8) on 512 random 32×32 crops of five photographs at half resolution after
local contrast normalization (lib.data). Held out: 64 crops of a sixth photograph (rocket),
at 32×32 and at 64×64. On them, the codes come from

- (a) the encoder alone, Z = Enc(Y) (one correlation, a tanh, a gain);
- (a') the encoder then `n` FISTA steps on the PSD energy (:meth:`ConvPSD.infer`);
- (b) :func:`lib.conv_fista` on ½‖Y − Dec Z‖² + λ‖Z‖₁ with the same decoder filters, from
  Z = 0, run until its relative reconstruction error Σ‖Y − Dec Z‖²/Σ‖Y‖² reaches that of
  (a) or (a'), then timed for exactly that many iterations (:func:`lib.timing.inference_speed`).

Also printed: the number of conv-FISTA iterations to reach the sparse-coding energy
½‖Y − Dec Z‖² + λ‖Z‖₁ of the encoder's codes, which are dense (tanh makes no zeros) and pay
for it in λ‖Z‖₁. Float32, best of 3, on the threads of OMP_NUM_THREADS (default 2).
Usage: ``OMP_NUM_THREADS=1 python benchmarks/bench_psd.py``. About 30 s on 2 cores.
"""

from __future__ import annotations

import os
import time

import torch
from torch.nn.functional import avg_pool2d

from lib.conv import conv_energy, conv_fista
from lib.data import load_images
from lib.preprocessing import extract_patches, local_contrast_normalize
from lib.psd import ConvPSD, filter_similarity, train_psd
from lib.timing import inference_speed

THREADS = int(os.environ.get("OMP_NUM_THREADS", min(os.cpu_count() or 1, 2)))
NAMES = ["camera", "astronaut", "coffee", "china", "chelsea", "rocket"]
N_FILTERS, KERNEL, LAM, ALPHA = 16, 7, 0.5, 1.0
N_TRAIN, SIZE, BATCH = 512, 32, 8


def photographs() -> list[torch.Tensor]:
    """The six photographs, gray, half resolution, locally contrast-normalized."""
    return [
        local_contrast_normalize(avg_pool2d(img[None, None], 2)[0, 0]) for img in load_images(NAMES)
    ]


def crops(images: list[torch.Tensor], size: int, n: int, seed: int) -> torch.Tensor:
    return extract_patches(images, size, n, seed=seed).reshape(n, 1, size, size)


def fista_iters_to_energy(model: ConvPSD, y: torch.Tensor, max_iter: int = 300) -> tuple:
    """conv-FISTA iterations to reach the energy ½‖Y − Dec Z‖² + λ‖Z‖₁ of Z = Enc(Y)."""
    W_d = model.W_d.detach()
    with torch.no_grad():
        target = float(conv_energy(y, model.encode(y), W_d, LAM, "circular").mean())
    res = conv_fista(y, W_d, LAM, boundary="circular", tol=0.0, max_iter=max_iter)
    below = (res.objective_history <= target).nonzero()
    return target, int(below[0]) + 1 if len(below) else None


def main() -> None:
    torch.set_num_threads(THREADS)
    images = photographs()
    y_train = crops(images[:5], SIZE, N_TRAIN, seed=0)
    model = ConvPSD(N_FILTERS, KERNEL, boundary="circular", seed=0)
    start = time.perf_counter()
    hist = train_psd(
        model, y_train, LAM, ALPHA, epochs=1, batch_size=BATCH, lr=0.02, n_iter=5, progress=False
    )
    matched, baseline = filter_similarity(model.W_e, model.W_d)
    print(
        f"PSD {N_FILTERS} filters {KERNEL}×{KERNEL}, λ = {LAM}, α = {ALPHA}: trained "
        f"{len(hist.loss)} steps in {time.perf_counter() - start:.1f} s on {THREADS} thread(s); "
        f"train recon {hist.recon[-1]:.3f}, code error {hist.code_error[-1]:.3f}; "
        f"|cos(W_e, W_d)| {float(matched.mean()):.2f} vs {float(baseline.mean()):.2f} random pairs"
    )
    print("\n size  codes             target  FISTA iters  encoder ms/img  FISTA ms/img  speed-up")
    for size in (32, 64):
        y = crops(images[5:], size, 64, seed=1)
        for n_ista in (0, 2, 5):
            out = inference_speed(model, y, LAM, ALPHA, n_ista=n_ista, max_iter=300)
            name = "Enc(Y)" if n_ista == 0 else f"Enc(Y) + {n_ista} FISTA"
            iters = "not reached" if out["fista_iter"] != out["fista_iter"] else out["fista_iter"]
            print(
                f"{size:5d}  {name:16s} {out['target']:7.3f}  {iters!s:>11}  "
                f"{1e3 * out['encoder_s']:14.3f}  {1e3 * out['fista_s']:12.3f}  "
                f"{out['speedup']:7.1f}×"
            )
    y = crops(images[5:], 32, 64, seed=1)
    target, iters = fista_iters_to_energy(model, y)
    print(
        f"\nat equal sparse-coding energy instead (½‖Y − Dec Z‖² + λ‖Z‖₁ of Enc(Y) = "
        f"{target:.1f}): conv FISTA needs {iters} iteration(s)"
    )


if __name__ == "__main__":
    main()
