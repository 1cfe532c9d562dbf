"""Input checks shared by every public function of `lib`.

Each check raises `ValueError` with a message that names the argument and the problem,
so that bad input never turns silently into NaN further down.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

FLOAT_DTYPES = (torch.float32, torch.float64)


def check_tensor(
    x: object,
    name: str,
    ndim: int | tuple[int, ...] | None = None,
    floating: bool = True,
) -> torch.Tensor:
    """Check that `x` is a non-empty, finite floating tensor with `ndim` dimensions."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if x.dim() not in allowed:
            want = " or ".join(str(d) for d in allowed)
            raise ValueError(f"{name} must have {want} dimensions, got shape {tuple(x.shape)}")
    if x.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)}): an empty batch has no codes")
    if floating and x.dtype not in FLOAT_DTYPES:
        raise ValueError(f"{name} must be float32 or float64, got {x.dtype}")
    if floating and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or inf")
    return x


def _number(value: object, name: str, want: str) -> float:
    """A real number as a float; refuses bools, strings, tensors and None (a tensor would slip
    through ``float()`` when it has one element, and then reach the arithmetic unchecked)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be {want}, got {value!r:.60}")
    return float(value)


def check_nonneg(value: float, name: str) -> float:
    """Check that a scalar hyper-parameter such as λ is a finite number ≥ 0."""
    value = _number(value, name, "a finite number ≥ 0")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number ≥ 0, got {value}")
    return value


def check_positive(value: float, name: str) -> float:
    """Check that a scalar such as a step size is a finite number > 0."""
    value = _number(value, name, "a finite number > 0")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return value


def check_progress(loss: float, step: int, lr: float, name: str = "lr") -> float:
    """Check that a trainer's loss is still finite after `step` steps; else the training
    diverged (most often a learning rate too large), and it stops with an error instead of
    returning NaN weights."""
    if not math.isfinite(loss):
        raise ValueError(
            f"the training diverged: the loss is {loss} at step {step}; lower {name} (now {lr:g})"
        )
    return loss


def check_flags(**flags: object) -> None:
    """Check that on/off options (``progress=``, ``positive=``, ...) are True or False."""
    for name, value in flags.items():
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{name} must be True or False, got {value!r:.60}")


def check_count(value: object, name: str, minimum: int = 1) -> int:
    """Check that a count (iterations, epochs, sizes) is an integer ≥ `minimum`.

    Refuses floats (2.5 is not truncated to 2, and 3.0 is not taken for 3) and bools, which
    are ints to Python but never a count; NumPy and torch integer scalars are accepted.
    """
    if isinstance(value, torch.Tensor) and value.dim() == 0 and not value.is_floating_point():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer ≥ {minimum}, got {value!r}")
    return int(value)


def check_seed(seed: object, name: str = "seed") -> int:
    """Check that a seed is an integer ≥ 0 (what torch.Generator.manual_seed accepts)."""
    return check_count(seed, name, minimum=0)


def check_image_shape(value: object, name: str = "image_shape") -> tuple[int, int]:
    """Check that an image shape is a pair (H, W) of integers ≥ 1; returns it as a tuple."""
    if isinstance(value, torch.Size):
        value = tuple(value)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{name} must be a pair (H, W) of integers ≥ 1, got {value!r:.60}")
    problem = f"{name} must be a pair (H, W) of integers ≥ 1, got {value!r:.60}"
    try:
        return check_count(value[0], name), check_count(value[1], name)
    except ValueError:
        raise ValueError(problem) from None


def check_callable(value: object, name: str) -> None:
    """Check that a hook (a callback, a projection) is a function, before any work is done."""
    if value is not None and not callable(value):
        raise ValueError(f"{name} must be a function or None, got {value!r:.60}")


def check_same(*named: tuple[str, torch.Tensor]) -> None:
    """Check that tensors share one device and one dtype."""
    first_name, first = named[0]
    for name, t in named[1:]:
        if t.device != first.device:
            raise ValueError(
                f"{name} is on {t.device} but {first_name} is on {first.device}: "
                "move them to the same device"
            )
        if t.dtype != first.dtype:
            raise ValueError(f"{name} is {t.dtype} but {first_name} is {first.dtype}")


ADAM_BETA1 = 0.9


def adam(
    params: list[torch.Tensor], lr: object, weight_decay: float = 0.0, name: str = "lr"
) -> torch.optim.Adam:
    """The Adam optimizer of every trainer of `lib`, after checking its rate `lr`.

    Adam's first step moves each weight by about ``lr / (1 − β₁)`` (its bias correction),
    so a rate whose first step is not a number of the weights' dtype is refused here instead
    of failing inside torch; a rate that is merely too large trains, diverges and is caught
    by :func:`check_progress`.
    """
    lr = check_positive(lr, name)
    params = list(params)
    if not params:
        raise ValueError("the trainer has no weights to train")
    top = min(torch.finfo(p.dtype).max for p in params) * (1 - ADAM_BETA1) / 2
    if lr >= top:
        raise ValueError(f"{name} must be below {top:.3g} for these weights' dtype, got {lr:g}")
    return torch.optim.Adam(params, lr=lr, betas=(ADAM_BETA1, 0.999), weight_decay=weight_decay)
