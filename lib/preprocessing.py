"""Preprocessing: patches, contrast normalization, ZCA whitening, shifted copies.

What chapters 02–07 do to digits and photographs before sparse coding: ``extract_patches``
cuts them, ``contrast_normalize`` and ``local_contrast_normalize`` take out brightness and
contrast, ``whiten`` (ZCA) flattens the spectrum. Shapes are batch-first: ``patches [n, d]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from lib._checks import (
    check_count,
    check_positive,
    check_same,
    check_seed,
    check_tensor,
)

__all__ = [
    "extract_patches",
    "contrast_normalize",
    "whiten",
    "local_contrast_normalize",
    "shifted_copies",
]


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
