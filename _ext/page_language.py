"""Sphinx extension: the language of each page.

- Spanish pages (``*.es`` documents) declare ``<html lang="es">``.
- The Previous/Next links at the foot of a page stay inside its language: a link from an
  English page (``*.en``) to a Spanish one, or back, is dropped (the English part ends at its
  last chapter instead of running on into the Spanish part). Pages of both languages (the
  glossary, the references) link either way.
"""

from __future__ import annotations

from typing import Any


def page_language(docname: str | None) -> str | None:
    """``"en"`` or ``"es"`` from the document's suffix; ``None`` for a bilingual page."""
    if docname is None:
        return None
    for lang in ("en", "es"):
        if docname.endswith(f".{lang}"):
            return lang
    return None


def set_page_language(
    app: Any, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    """Set the template's `language`, and drop Previous/Next links into the other language."""
    lang = page_language(pagename)
    if lang == "es":
        context["language"] = "es"
    if lang is None:
        return
    relations = app.env.collect_relations().get(pagename)
    if not relations:
        return
    _parent, prev, nxt = relations
    for key, target in (("prev", prev), ("next", nxt)):
        other = page_language(target)
        if other is not None and other != lang:
            context[key] = None


def setup(app: Any) -> dict:
    app.connect("html-page-context", set_page_language)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
