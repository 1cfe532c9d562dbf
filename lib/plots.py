"""Small plotting helpers shared by the chapters (introduced in chapter 01).

`slider` turns a parameter sweep into precomputed figures and an HTML range input that
moves them in Jupyter, in Colab and on the static site (no kernel, no widget library);
`animate` plays the same sweep as a JavaScript animation. Both take a `draw(ax, value)`
function, so the sweep is computed once and only drawn here.
`contour` draws a free energy F over a grid of 2-D points.
`draw_graph` draws a computation graph (boxes and arrows) from code (chapter 03).
`tile` and `show_images` lay out flattened images (digits, atoms) as one picture (chapter 02).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.animation import FuncAnimation
from matplotlib.axes import Axes
from matplotlib.text import Text

from lib._checks import check_count, check_flags

__all__ = ["Slider", "animate", "contour", "draw_graph", "show_images", "slider", "tile"]


def _check_axes(ax: object) -> None:
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes (plt.subplots()), got {type(ax).__name__}")


def _as_tensor(x: object, name: str) -> torch.Tensor:
    """A tensor, a NumPy array or nested lists of numbers, as a float tensor on the CPU."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().float()
    try:
        return torch.as_tensor(np.asarray(x, dtype=np.float32))
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a tensor or an array of numbers, got {x!r:.60}") from None


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
    alt: str = "animation",
):
    """A kernel-free animation over `values`: frame i clears the axes and calls draw(ax, v_i).
    `alt` is the player's alternative text, in the page's language.

    Returns an `IPython.display.HTML` with the frames embedded as JavaScript
    (matplotlib's `FuncAnimation.to_jshtml`), which plays on a static page.
    """
    from html import escape

    from IPython.display import HTML

    values = _check_values(values)
    fig, ax = plt.subplots(figsize=figsize)

    def frame(i: int) -> None:
        ax.clear()
        draw(ax, values[i])

    anim = FuncAnimation(fig, frame, frames=len(values), interval=interval)
    html = anim.to_jshtml(default_mode="loop")
    plt.close(fig)
    # matplotlib's player has an image without alt text and a range input without a label
    html = html.replace('<img id="_anim_img', f'<img alt="{escape(alt)}" id="_anim_img', 1)
    html = html.replace('class="anim-slider"', 'class="anim-slider" aria-label="frame"', 1)
    return HTML(html)


# The control's script, inline so that it runs wherever the output is shown (Jupyter, Colab,
# the static site): it shows the frame the range input points at and names its value.
_SHOW_FRAME = (
    "const k=this.closest('.lib-slider');"
    "k.querySelectorAll('img').forEach((im,i)=>{im.style.display=i==this.value?'':'none';});"
    "k.querySelector('output').value=k.querySelectorAll('img')[this.value].dataset.label;"
)


class Slider:
    """Precomputed frames and an HTML range input: moves the figure without a kernel."""

    def __init__(
        self, frames: list[str], labels: list[str], start: int, description: str, alt: str
    ):
        self.frames, self.labels, self.start = frames, labels, start
        self.description, self.alt = description, alt

    def _repr_html_(self) -> str:
        import html

        name = html.escape(self.description)
        imgs = "".join(
            f'<img src="data:image/png;base64,{png}" data-label="{html.escape(label)}" '
            f'alt="{html.escape(self.alt.format(value=label))}"'
            f' style="max-width:100%;height:auto{"" if i == self.start else ";display:none"}">'
            for i, (png, label) in enumerate(zip(self.frames, self.labels, strict=True))
        )
        return (
            f'<div class="lib-slider">{imgs}<div style="display:flex;gap:0.75em;'
            f'align-items:center;font-family:sans-serif"><label>{name} = <output>'
            f"{html.escape(self.labels[self.start])}</output></label>"
            f'<input type="range" min="0" max="{len(self.frames) - 1}" step="1" '
            f'value="{self.start}" aria-label="{name}" oninput="{_SHOW_FRAME}" '
            'style="flex:1;max-width:22em"></div></div>'
        )

    def __repr__(self) -> str:
        return f"<slider over {self.description}: {', '.join(self.labels)}>"


def slider(
    values: Sequence,
    draw: Callable[[Axes, object], None],
    description: str = "λ",
    figsize: tuple[float, float] = (4.5, 4.0),
    start: object = None,
    alt: str = "{value}",
) -> Slider:
    """A control over `values` that works with or without a kernel: each value's figure,
    drawn by draw(ax, value), is computed once, and an HTML range input picks which one
    shows (in Jupyter, in Colab and on the static site alike).

    `start` is the value shown first (default: the middle one, rarely the least informative
    end of a sweep); `alt` is each frame's alternative text, with ``{value}`` replaced by the
    value's label, in the page's language. Display the result as a cell's last line.
    """
    import base64
    import io

    values = _check_values(values)
    if not isinstance(description, str) or not isinstance(alt, str):
        raise TypeError("description and alt must be str")
    if start is None:
        index = len(values) // 2
    elif start in values:
        index = values.index(start)
    else:
        raise ValueError(f"start must be one of values {values}, got {start!r}")
    frames = []
    for v in values:
        fig, ax = plt.subplots(figsize=figsize)
        draw(ax, v)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        frames.append(base64.b64encode(buffer.getvalue()).decode("ascii"))
    labels = [f"{v:.3g}" if isinstance(v, float) else str(v) for v in values]
    return Slider(frames, labels, index, description, alt)


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
    _check_axes(ax)
    points, F = _as_tensor(points, "points"), _as_tensor(F, "F")
    if points.dim() != 2 or points.shape[1] != 2:
        raise ValueError(f"points must be [n², 2], got {tuple(points.shape)}")
    n = int(round(points.shape[0] ** 0.5))
    if n * n != points.shape[0] or F.numel() != points.shape[0]:
        raise ValueError(f"points {tuple(points.shape)} and F {tuple(F.shape)} must be an n×n grid")
    P = points.reshape(n, n, 2)
    Fg = F.reshape(n, n)
    if vmax is not None:
        Fg = Fg.clamp(max=vmax)
    cs = ax.contourf(P[..., 0], P[..., 1], Fg, levels=levels, cmap="viridis")
    if data is not None:
        d = _as_tensor(data, "data")
        ax.plot(d[:, 0], d[:, 1], ".", color="white", ms=2, alpha=0.7)
    ax.set_aspect("equal")
    ax.set_xlabel("$y_1$")
    ax.set_ylabel("$y_2$")
    if title:
        ax.set_title(title)
    return cs


_NODE_STYLES = {
    "box": dict(boxstyle="round,pad=0.4", fc="#eef3fb", ec="#3465a4", lw=1.2),
    "circle": dict(boxstyle="circle,pad=0.25", fc="white", ec="#3465a4", lw=1.2),
    "var": dict(boxstyle="round,pad=0.3", fc="none", ec="none"),
}


def draw_graph(
    ax: Axes,
    nodes: Mapping[str, tuple],
    edges: Sequence[tuple],
    fontsize: float = 11,
    margin: float = 0.6,
) -> dict[str, Text]:
    """Draw a computation graph from code: nodes as boxes, edges as arrows. Returns the
    Text artist of each node by name. Introduced in chapter 03 (FISTA), reused for LISTA.

    nodes: ``name -> (x, y, label)`` or ``(x, y, label, style)`` in data coordinates, with
    style ``"box"`` (an operation, the default), ``"circle"`` (a sum, a product) or ``"var"``
    (a variable: the label without a frame). Labels may use matplotlib's ``$math$``.
    edges: ``(src, dst)``, ``(src, dst, label)`` or ``(src, dst, label, rad)``: an arrow from
    node `src` to node `dst`, cut at the frames, with an optional label at its middle and a
    curvature `rad` (0 straight; ±0.3 bends it, e.g. for a feedback loop).
    The axes are turned off and their limits fit the nodes plus `margin`.
    """
    _check_axes(ax)
    if not nodes:
        raise ValueError("nodes is empty: give at least one node")
    texts, points = {}, {}
    for name, spec in nodes.items():
        if not isinstance(spec, tuple) or len(spec) not in (3, 4):
            raise ValueError(f"node {name!r} must be (x, y, label) or (x, y, label, style)")
        x, y, label, style = (*spec, "box") if len(spec) == 3 else spec
        if style not in _NODE_STYLES:
            raise ValueError(f"node {name!r}: style must be one of {sorted(_NODE_STYLES)}")
        points[name] = (float(x), float(y))
        texts[name] = ax.text(
            x,
            y,
            label,
            ha="center",
            va="center",
            fontsize=fontsize,
            bbox=_NODE_STYLES[style],
            zorder=3,
        )
    for edge in edges:
        if not isinstance(edge, tuple) or len(edge) not in (2, 3, 4):
            raise ValueError(f"edge {edge!r} must be (src, dst), (src, dst, label) or + rad")
        src, dst, *rest = edge
        label, rad = (rest[0] if rest else ""), (float(rest[1]) if len(rest) > 1 else 0.0)
        for end in (src, dst):
            if end not in texts:
                raise ValueError(f"edge {edge!r} names an unknown node {end!r}")
        arrow = dict(
            arrowstyle="-|>",
            color="#333333",
            lw=1.2,
            shrinkA=2,
            shrinkB=2,
            connectionstyle=f"arc3,rad={rad}",
            patchA=texts[src].get_bbox_patch(),
            patchB=texts[dst].get_bbox_patch(),
        )
        # drawn after the nodes (zorder 4) so that their frames are in place to cut the arrow
        ax.annotate("", xy=points[dst], xytext=points[src], arrowprops=arrow, zorder=4)
        if label:
            (x0, y0), (x1, y1) = points[src], points[dst]
            # the middle of an arc3 curve is offset by rad times the chord, rotated by 90°
            xm, ym = (x0 + x1) / 2 + rad * (y1 - y0) / 2, (y0 + y1) / 2 - rad * (x1 - x0) / 2
            ax.text(
                xm,
                ym,
                label,
                ha="center",
                va="center",
                fontsize=fontsize - 2,
                bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none"),
                zorder=5,
            )
    xs, ys = zip(*points.values(), strict=True)
    ax.set_xlim(min(xs) - margin, max(xs) + margin)
    ax.set_ylim(min(ys) - margin, max(ys) + margin)
    ax.set_axis_off()
    return texts


def tile(
    images: torch.Tensor,
    ncols: int,
    shape: tuple[int, int] | None = None,
    pad: int = 1,
    each: bool = False,
) -> torch.Tensor:
    """Lay out ``images [n, h·w]`` (or ``[n, h, w]``) as one picture, `ncols` per row.

    The result is ``[rows·(h+pad) − pad, ncols·(w+pad) − pad]``.
    Images fill the rows left to right; `shape` = (h, w) defaults to square images. The
    padding and the unused cells are NaN (blank in ``imshow``). With `each`, every image is
    divided by its largest absolute value (for dictionary atoms, whose scale varies).
    """
    check_flags(each=each)
    images = _as_tensor(images, "images")
    ncols, pad = check_count(ncols, "ncols"), check_count(pad, "pad", minimum=0)
    if images.dim() == 2:
        if shape is None:
            side = int(round(images.shape[1] ** 0.5))
            shape = (side, side)
        if shape[0] * shape[1] != images.shape[1]:
            raise ValueError(f"shape {shape} does not match {images.shape[1]} pixels per image")
        images = images.reshape(len(images), *shape)
    if images.dim() != 3 or len(images) == 0:
        raise ValueError(
            f"images must be a non-empty [n, h*w] or [n, h, w], got {tuple(images.shape)}"
        )
    if each:
        images = images / images.abs().amax(dim=(1, 2), keepdim=True).clamp_min(1e-12)
    n, h, w = images.shape
    ncols = min(ncols, n)
    rows = -(-n // ncols)
    out = torch.full((rows * (h + pad) - pad, ncols * (w + pad) - pad), float("nan"))
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        out[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = img
    return out


def show_images(
    ax: Axes,
    images: torch.Tensor,
    ncols: int,
    shape: tuple[int, int] | None = None,
    each: bool = False,
    title: str | None = None,
    **imshow_kw,
):
    """Draw ``tile(images, ncols, shape, each=each)`` on `ax` without ticks; returns the image.

    Extra keywords go to ``ax.imshow`` (default ``cmap="gray"``).
    """
    check_flags(each=each)
    _check_axes(ax)
    imshow_kw.setdefault("cmap", "gray")
    im = ax.imshow(tile(images, ncols, shape, each=each).numpy(), **imshow_kw)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return im
