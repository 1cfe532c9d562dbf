"""Small plotting helpers shared by the chapters (introduced in chapter 01).

`animate` turns a parameter sweep into a JavaScript animation that plays on the static
site without a kernel; `slider` shows the same sweep with a live ipywidgets slider in
Jupyter or Colab. Both take a `draw(ax, value)` function, so the sweep is computed once
and only drawn here. `contour` draws a free energy F over a grid of 2-D points.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.animation import FuncAnimation
from matplotlib.axes import Axes

__all__ = ["animate", "contour", "slider"]


def _check_values(values: Sequence) -> list:
    values = list(values)
    if not values:
        raise ValueError("values is empty: give at least one parameter value to show")
    return values


def animate(
    values: Sequence,
    draw: Callable[[Axes, object], None],
    figsize: tuple[float, float] = (4.5, 4.0),
    interval: int = 600,
):
    """A kernel-free animation over `values`: frame i clears the axes and calls draw(ax, v_i).

    Returns an `IPython.display.HTML` with the frames embedded as JavaScript
    (matplotlib's `FuncAnimation.to_jshtml`), which plays on a static page.
    """
    from IPython.display import HTML

    values = _check_values(values)
    fig, ax = plt.subplots(figsize=figsize)

    def frame(i: int) -> None:
        ax.clear()
        draw(ax, values[i])

    anim = FuncAnimation(fig, frame, frames=len(values), interval=interval)
    html = anim.to_jshtml(default_mode="loop")
    plt.close(fig)
    return HTML(html)


def slider(
    values: Sequence,
    draw: Callable[[Axes, object], None],
    description: str = "λ",
    figsize: tuple[float, float] = (4.5, 4.0),
):
    """A live ipywidgets slider over `values` (needs a kernel) that redraws with draw(ax, v).

    Returns the widget (a VBox of the slider and its output area); display it to use it.
    """
    import ipywidgets as widgets

    values = _check_values(values)
    options = [(f"{v:.3g}" if isinstance(v, float) else str(v), i) for i, v in enumerate(values)]
    pick = widgets.SelectionSlider(options=options, description=description)
    out = widgets.Output()

    def show(change=None) -> None:
        with out:
            out.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=figsize)
            draw(ax, values[pick.value])
            plt.show()

    pick.observe(show, names="value")
    show()
    return widgets.VBox([pick, out])


def contour(
    ax: Axes,
    points: torch.Tensor,
    F: torch.Tensor,
    data: torch.Tensor | None = None,
    levels: int | Sequence[float] = 12,
    vmax: float | None = None,
    title: str | None = None,
):
    """Filled contours of F [n*n] over grid points [n*n, 2] (from `lib.ebm.grid`), with the
    data [n, 2] as dots. Returns the contour set (for a colorbar)."""
    n = int(round(points.shape[0] ** 0.5))
    if n * n != points.shape[0] or F.shape[0] != points.shape[0]:
        raise ValueError(f"points {tuple(points.shape)} and F {tuple(F.shape)} must be an n×n grid")
    P = points.detach().cpu().reshape(n, n, 2)
    Fg = F.detach().cpu().reshape(n, n)
    if vmax is not None:
        Fg = Fg.clamp(max=vmax)
    cs = ax.contourf(P[..., 0], P[..., 1], Fg, levels=levels, cmap="viridis")
    if data is not None:
        d = data.detach().cpu()
        ax.plot(d[:, 0], d[:, 1], ".", color="white", ms=2, alpha=0.7)
    ax.set_aspect("equal")
    ax.set_xlabel("$y_1$")
    ax.set_ylabel("$y_2$")
    if title:
        ax.set_title(title)
    return cs
