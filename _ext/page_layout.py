"""Sphinx extension: the pages' layout on a 1280 px screen and on a 390 px phone.

- ``templates/sections/header.html`` is empty: pydata-sphinx-theme 0.17 draws a top navbar
  with a second search box and a second pair of sidebar buttons, and the themes' scripts
  bind only the first button of each class (``querySelector``), so on a phone the visible
  ☰ and contents buttons opened nothing (pydata-sphinx-theme#2451). Without that navbar the
  book theme's own buttons, in the article header, open both sidebars.
- ``static/book.css``: the "lecture says / we measure" tables printed by ``lib.lecture_table``
  (full width, wrapped cells; on a phone one card per claim).

tests/test_site.py checks both in a browser, at 1280 px and at 390 px.
"""

from __future__ import annotations

import pathlib
from typing import Any

HERE = pathlib.Path(__file__).parent


def add_templates(app: Any, config: Any) -> None:
    config.templates_path = [str(HERE / "templates"), *config.templates_path]


def setup(app: Any) -> dict:
    app.connect("config-inited", add_templates)
    app.add_css_file("book.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
