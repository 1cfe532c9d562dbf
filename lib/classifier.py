"""A small convnet classifier for chapter 07's pretraining experiment (few labels).

The first layer can be PSD's encoder filters (:mod:`lib.psd`) or random ones; the rest is
trained on a few labeled digits with Adam and the cross-entropy.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.functional import cross_entropy
from tqdm.auto import tqdm

from lib._checks import (
    adam,
    check_count,
    check_flags,
    check_nonneg,
    check_positive,
    check_progress,
    check_same,
    check_seed,
    check_tensor,
)
from lib.psd import ConvPSD, Gain

__all__ = ["accuracy", "few_labels", "small_convnet", "train_classifier"]


def small_convnet(
    n_filters: int = 8,
    kernel_size: int = 7,
    in_channels: int = 1,
    image_size: int = 28,
    n_classes: int = 10,
    hidden: int = 0,
    pool: int = 4,
    normalize: bool = True,
    encoder: ConvPSD | None = None,
    freeze: bool = False,
    seed: int = 0,
) -> nn.Sequential:
    """A small convnet whose first layer has the shape of a PSD encoder.

    ``net[:5]``: ``conv(in_channels → n_filters, k×k, same padding) → tanh → Gain →
    norm → max-pool(pool)``, where norm (when `normalize`, else the identity) divides each
    image's feature maps by their standard deviation after removing their mean (one number
    per image, ``GroupNorm(1, n)`` without parameters: the contrast normalization of
    Jarrett et al. 2009), so the scale of the first layer does not matter. Then, when
    ``hidden > 0``, ``conv(n_filters → hidden, 3×3) → ReLU → max-pool(2)``; then a linear
    layer to `n_classes`. Weights: PyTorch's default init after ``torch.manual_seed(seed)``.
    With `encoder` (a trained :class:`ConvPSD`), the first conv copies W_e and b and the
    gain layer copies g, so ``net[:3]`` computes Enc(Y) (up to the border); with
    ``freeze=True`` they stay fixed (``requires_grad = False``), and the features
    ``net[:5](x)`` can be computed once and only ``net[5:]`` trained.
    """
    check_flags(normalize=normalize, freeze=freeze)
    n, k = check_count(n_filters, "n_filters"), check_count(kernel_size, "kernel_size")
    C, size = check_count(in_channels, "in_channels"), check_count(image_size, "image_size")
    hidden, pool = check_count(hidden, "hidden", 0), check_count(pool, "pool")
    if k % 2 == 0:
        raise ValueError(f"kernel_size must be odd for 'same' padding, got {k}")
    size //= pool
    if size < 1 or (hidden and size // 2 < 1):
        raise ValueError(f"image_size={image_size} is too small for pool={pool}")
    torch.manual_seed(check_seed(seed))
    layers: list[nn.Module] = [nn.Conv2d(C, n, k, padding=k // 2), nn.Tanh(), Gain(n)]
    layers.append(nn.GroupNorm(1, n, affine=False) if normalize else nn.Identity())
    layers.append(nn.MaxPool2d(pool))
    width = n * size * size
    if hidden:
        layers += [nn.Conv2d(n, hidden, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        width = hidden * (size // 2) ** 2
    net = nn.Sequential(
        *layers, nn.Flatten(), nn.Linear(width, check_count(n_classes, "n_classes"))
    )
    if encoder is not None:
        if not isinstance(encoder, ConvPSD):
            raise ValueError(f"encoder must be a lib.psd.ConvPSD, got {type(encoder).__name__}")
        if tuple(encoder.W_e.shape) != tuple(net[0].weight.shape):
            raise ValueError(
                f"the encoder's filters {tuple(encoder.W_e.shape)} do not fit the first layer "
                f"{tuple(net[0].weight.shape)}"
            )
        net = net.to(encoder.W_e.dtype)
        with torch.no_grad():
            net[0].weight.copy_(encoder.W_e.cpu())
            net[0].bias.copy_(encoder.b.cpu())
            net[2].g.copy_(encoder.gain.g.cpu())
        for p in (net[0].weight, net[0].bias, net[2].g):
            p.requires_grad_(not freeze)
    return net


def few_labels(labels: torch.Tensor, per_class: int, seed: int = 0) -> torch.Tensor:
    """Indices of `per_class` examples of every class in ``labels [n]``, drawn with `seed`."""
    if not isinstance(labels, torch.Tensor) or labels.dim() != 1 or labels.numel() == 0:
        raise ValueError("labels must be a non-empty 1-D tensor of class indices")
    per_class = check_count(per_class, "per_class")
    g = torch.Generator().manual_seed(check_seed(seed))
    out = []
    for c in labels.unique(sorted=True).tolist():
        idx = (labels == c).nonzero().squeeze(1).cpu()
        if len(idx) < per_class:
            raise ValueError(f"class {c} has {len(idx)} examples, fewer than per_class={per_class}")
        out.append(idx[torch.randperm(len(idx), generator=g)[:per_class]])
    return torch.cat(out)


def _check_labeled(model: nn.Module, x: torch.Tensor, labels: torch.Tensor) -> None:
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check_tensor(x, "x", ndim=4)
    if not isinstance(labels, torch.Tensor) or labels.dtype != torch.int64 or labels.dim() != 1:
        raise ValueError("labels must be a 1-D int64 tensor")
    if len(labels) != len(x):
        raise ValueError(f"x has {len(x)} images but labels has {len(labels)}")
    check_same(("the model", next(model.parameters()).detach()), ("x", x))
    if labels.device != x.device:
        raise ValueError(f"labels are on {labels.device} but x is on {x.device}")
    was_training = model.training
    model.eval()  # one image through the model, for its number of classes; no state changes
    with torch.no_grad():
        out = model(x[:1])
    model.train(was_training)
    if out.dim() != 2:
        raise ValueError(f"model must output [n, n_classes] scores, got shape {tuple(out.shape)}")
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= out.shape[1]:
        raise ValueError(
            f"labels must lie in 0..{out.shape[1] - 1} (the model's {out.shape[1]} classes), "
            f"got {low}..{high}"
        )


def train_classifier(
    model: nn.Module,
    x: torch.Tensor,
    labels: torch.Tensor,
    epochs: int = 30,
    batch_size: int = 32,
    lr: float = 1e-2,
    weight_decay: float = 0.0,
    seed: int = 0,
    progress: bool = True,
) -> list[float]:
    """Train `model` in place on ``x [n, C, H, W]``, ``labels [n]`` (int64) with Adam and
    the cross-entropy; seeded mini-batch order. Returns the mean loss of every epoch."""
    check_flags(progress=progress)
    _check_labeled(model, x, labels)
    epochs, batch_size = check_count(epochs, "epochs"), check_count(batch_size, "batch_size")
    check_positive(lr, "lr")
    check_nonneg(weight_decay, "weight_decay")
    g = torch.Generator().manual_seed(check_seed(seed))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = adam(params, lr, weight_decay)
    losses = []
    model.train()
    for _ in tqdm(range(epochs), desc="train_classifier", disable=not progress):
        total = 0.0
        for idx in torch.randperm(len(x), generator=g).split(batch_size):
            idx = idx.to(x.device)
            loss = cross_entropy(model(x[idx]), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += check_progress(loss.item(), len(losses), lr) * len(idx)
        losses.append(total / len(x))
    model.eval()
    return losses


@torch.no_grad()
def accuracy(
    model: nn.Module, x: torch.Tensor, labels: torch.Tensor, batch_size: int = 2000
) -> float:
    """The fraction of ``x [n, C, H, W]`` that `model` classifies as ``labels [n]``."""
    _check_labeled(model, x, labels)
    batch_size = check_count(batch_size, "batch_size")
    model.eval()
    hits = sum(
        int((model(xb).argmax(1) == lb).sum())
        for xb, lb in zip(x.split(batch_size), labels.split(batch_size), strict=True)
    )
    return hits / len(x)
