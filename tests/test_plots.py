"""Tests of lib.plots: the kernel-free animation and the kernel-free slider."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from lib.plots import animate, contour, show_images, slider, tile  # noqa: E402


def _draw(ax, v):
    ax.plot([0, 1], [0, v])


def test_animate_embeds_frames():
    html = animate([0.0, 0.5, 1.0], _draw)
    assert "<script" in html.data and "frames" in html.data.lower()
    assert html.data.count("data:image/png;base64") >= 3
    assert '<img alt="animation" id="_anim_img' in html.data and 'aria-label="frame"' in html.data


def test_slider_is_kernel_free_frames_and_a_range_input():
    s = slider([0.0, 0.5, 1.0, 2.0], _draw, description="λ", alt="energy for λ = {value}")
    html = s._repr_html_()
    assert html.count("data:image/png;base64") == 4, "one precomputed frame per value"
    assert html.count(";display:none") == 3, "exactly one frame shows"
    assert 'type="range" min="0" max="3"' in html and 'value="2"' in html  # middle value
    assert 'alt="energy for λ = 0.5"' in html and "<output>1</output>" in html
    assert "ipywidgets" not in html and "<script" not in html
    first = slider([0.0, 0.5], _draw, start=0.0)._repr_html_()
    assert 'value="0"' in first and "<output>0</output>" in first


def test_slider_refuses_bad_input():
    with pytest.raises(ValueError, match="start must be one of values"):
        slider([0.0, 0.5], _draw, start=0.3)
    with pytest.raises(ValueError, match="empty"):
        slider([], _draw)
    with pytest.raises(TypeError, match="description and alt must be str"):
        slider([0.0], _draw, description=None)


def test_contour_and_errors():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    pts = torch.stack(torch.meshgrid(torch.arange(3.0), torch.arange(3.0), indexing="ij"), -1)
    contour(ax, pts.reshape(-1, 2), torch.arange(9.0), data=torch.zeros(2, 2))
    with pytest.raises(ValueError, match="grid"):
        contour(ax, torch.zeros(8, 2), torch.zeros(8))
    with pytest.raises(ValueError, match="empty"):
        animate([], _draw)
    plt.close(fig)


def test_draw_graph_boxes_arrows_and_errors():
    import matplotlib.pyplot as plt
    from matplotlib.text import Annotation

    from lib.plots import draw_graph

    fig, ax = plt.subplots()
    nodes = {"y": (0, 0, "$y$", "var"), "f": (1, 0, "$f$"), "s": (2, 0, "+", "circle")}
    edges = [("y", "f"), ("f", "s", "$a$"), ("s", "f", "", -0.4)]
    texts = draw_graph(ax, nodes, edges)
    assert set(texts) == {"y", "f", "s"} and texts["f"].get_text() == "$f$"
    arrows = [c for c in ax.get_children() if isinstance(c, Annotation)]
    assert len(arrows) == 3
    assert any(t.get_text() == "$a$" for t in ax.texts)  # the edge label
    assert ax.get_xlim()[0] < 0 < 2 < ax.get_xlim()[1] and not ax.axison
    fig.canvas.draw()  # renders: arrows are cut at the frames
    with pytest.raises(ValueError, match="unknown node"):
        draw_graph(ax, nodes, [("y", "nowhere")])
    with pytest.raises(ValueError, match="style"):
        draw_graph(ax, {"a": (0, 0, "a", "hexagon")}, [])
    with pytest.raises(ValueError, match="empty"):
        draw_graph(ax, {}, [])
    plt.close(fig)


def test_tile_lays_out_images_with_nan_padding():
    x = torch.arange(5 * 6, dtype=torch.float32).reshape(5, 6)  # five 2x3 images
    t = tile(x, ncols=2, shape=(2, 3))
    assert t.shape == (3 * 3 - 1, 2 * 4 - 1)
    assert torch.equal(t[:2, :3], x[0].reshape(2, 3))
    assert torch.equal(t[3:5, 4:7], x[3].reshape(2, 3))
    assert torch.isnan(t[2]).all() and torch.isnan(t[:, 3]).all()  # padding
    assert torch.isnan(t[6:, 4:]).all()  # the unused sixth cell
    sq = tile(torch.ones(3, 16), ncols=5, pad=0)  # square 4x4 by default, ncols capped at n
    assert sq.shape == (4, 12) and not torch.isnan(sq).any()


def test_tile_each_rescales_and_rejects_bad_input():
    x = torch.tensor([[1.0, -4.0, 2.0, 0.0], [0.5, 0.25, 0.0, 0.0]])
    t = tile(x, ncols=2, each=True)
    assert float(t[:2, :2].abs().max()) == 1.0 and float(t[:2, 3:].max()) == 1.0
    with pytest.raises(ValueError, match="shape"):
        tile(torch.zeros(2, 10), ncols=1, shape=(3, 3))
    with pytest.raises(ValueError, match="ncols"):
        tile(torch.zeros(2, 4), ncols=0)
    with pytest.raises(ValueError, match="non-empty"):
        tile(torch.zeros(0, 4), ncols=1)


def test_show_images_draws_without_axes():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    im = show_images(ax, torch.rand(4, 9), ncols=2, title="z", vmin=0, vmax=1)
    assert im.get_array().shape == (7, 7) and not ax.axison and ax.get_title() == "z"
    plt.close(fig)
