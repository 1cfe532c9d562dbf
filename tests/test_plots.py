"""Tests of lib.plots: the kernel-free animation and the live slider."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from lib.plots import animate, contour, slider  # noqa: E402


def _draw(ax, v):
    ax.plot([0, 1], [0, v])


def test_animate_embeds_frames():
    html = animate([0.0, 0.5, 1.0], _draw)
    assert "<script" in html.data and "frames" in html.data.lower()
    assert html.data.count("data:image/png;base64") >= 3


def test_slider_builds_widget():
    import ipywidgets as widgets

    w = slider([0.0, 0.5, 1.0], _draw, description="λ")
    assert isinstance(w, widgets.VBox)
    assert isinstance(w.children[0], widgets.SelectionSlider)
    w.children[0].value = 2  # moving the slider redraws without error


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
