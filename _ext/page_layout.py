"""Sphinx extension: the pages' layout on a 1280 px screen and on a 390 px phone.

- ``templates/sections/header.html`` is empty: pydata-sphinx-theme 0.17 draws a top navbar
  with a second search box and a second pair of sidebar buttons, and the themes' scripts
  bind only the first button of each class (``querySelector``), so on a phone the visible
  ☰ and contents buttons opened nothing (pydata-sphinx-theme#2451). Without that navbar the
  book theme's own buttons, in the article header, open both sidebars.
- ``templates/language-switch.html``: a link to the page's twin in the other language
  (``NN-slug.en`` ↔ ``NN-slug.es``, ``errata.en`` ↔ ``errata.es``) in the article header, next
  to the ☰ button, on every page that has a twin; the link under the title stays.
- The bibliography's ``<div role="list" class="citation-list">`` loses its role: its entries
  are not list items, which axe-core reports as a critical violation (aria-required-children).
- No page loads a script or a style sheet for a feature it does not use: sphinx-thebe's
  (the book has no live-code button) and sphinx-design's (on pages without its components).
- ``static/book.css``: the "lecture says / we measure" tables printed by ``lib.lecture_table``
  (full width, wrapped cells; on a phone one card per claim).

tests/test_site.py checks both in a browser, at 1280 px and at 390 px.
"""

from __future__ import annotations

import pathlib
from typing import Any

HERE = pathlib.Path(__file__).parent


TWINS = {
    "en": ("es", "Español", "Leer esta página en español"),
    "es": ("en", "English", "Read this page in English"),
}


def add_templates(app: Any, config: Any) -> None:
    config.templates_path = [str(HERE / "templates"), *config.templates_path]


def add_switch(context: dict) -> None:
    """Put language-switch.html after the ☰ button. Set per page: the theme's options reach
    the template as ``theme_*`` context values, which the themes fill after config-inited."""
    start = context.get("theme_article_header_start") or []
    if isinstance(start, str):
        start = [item.strip() for item in start.split(",") if item.strip()]
    if "language-switch.html" not in start:
        context["theme_article_header_start"] = [*start, "language-switch.html"]


UNUSED = ("sphinx-thebe.js", "sphinx-thebe.css")
DESIGN = ("design-tabs.js", "sphinx-design.min.css")


def drop_unused_files(context: dict) -> None:
    """Remove, in place (Sphinx adds to these lists later), the files this page does not use."""
    uses_design = 'class="sd-' in context.get("body", "")
    for key in ("script_files", "css_files"):
        files = context.get(key, [])
        for f in list(files):
            name = str(getattr(f, "filename", f) or "").split("?")[0].rsplit("/", 1)[-1]
            if name in UNUSED or (name in DESIGN and not uses_design):
                files.remove(f)


def add_twin(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """Give the template the URL of the page's twin in the other language, if it has one;
    drop the bibliography's list role."""
    drop_unused_files(context)
    add_switch(context)
    body = context.get("body", "")
    if 'role="list" class="citation-list"' in body:
        context["body"] = body.replace('role="list" class="citation-list"', 'class="citation-list"')
    stem, _, lang = pagename.rpartition(".")
    context["twin_url"] = ""
    if lang in TWINS and f"{stem}.{TWINS[lang][0]}" in app.env.found_docs:
        other, label, title = TWINS[lang]
        context.update(
            twin_url=context["pathto"](f"{stem}.{other}"),
            twin_lang=other,
            twin_label=label,
            twin_title=title,
        )


def setup(app: Any) -> dict:
    app.connect("config-inited", add_templates)
    app.connect("html-page-context", add_twin, priority=950)
    app.add_css_file("book.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
