"""Sphinx extension: the language of each page.

- Spanish pages (``*.es`` documents) declare ``<html lang="es">``.
- The theme speaks the page's language: on Spanish pages the words of Sphinx, of the
  pydata and book themes ("Search", "Contents", "Previous", "Download") and of
  sphinx-togglebutton ("Click to show") come from their own Spanish catalogs, while the
  English pages (and the build, configured with ``language: en``) keep English.
- The Previous/Next links at the foot of a page stay inside its language: a link from an
  English page (``*.en``) to a Spanish one, or back, is dropped (the English part ends at its
  last chapter instead of running on into the Spanish part). Pages of both languages (the
  glossary, the references) link either way.
"""

from __future__ import annotations

import gettext
import pathlib
from typing import Any

import pydata_sphinx_theme
import sphinx
import sphinx_book_theme
from sphinx.builders.html._assets import _JavaScript
from sphinx.locale import translators

# Message catalogs (Sphinx's namespace "general") and the folders of their Spanish files.
CATALOGS = {
    "sphinx": [
        pathlib.Path(sphinx.__file__).parent / "locale",
        pathlib.Path(pydata_sphinx_theme.__file__).parent / "locale",
    ],
    "booktheme": [
        pathlib.Path(sphinx_book_theme.__file__).parent
        / "theme"
        / "sphinx_book_theme"
        / "static"
        / "locales"
    ],
}
TOGGLE = {"toggleHintShow": "Haz clic para mostrar", "toggleHintHide": "Haz clic para ocultar"}


def spanish(catalog: str) -> gettext.NullTranslations:
    """The Spanish translations of `catalog`, the first folder's taking precedence; words a
    theme's own catalog lacks (the book theme has no "Search") come from Sphinx's catalog."""
    out: gettext.NullTranslations = gettext.NullTranslations()
    if catalog != "sphinx":
        out = spanish("sphinx")
    for folder in reversed(CATALOGS[catalog]):
        found = gettext.translation(catalog, localedir=folder, languages=["es"], fallback=True)
        found.add_fallback(out)
        out = found
    return out


def speak(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """Before the themes fill the page's context, give the build's translators (English, as
    ``language: en`` sets them up) a Spanish fallback on Spanish pages and none on the others.
    The templates' ``_`` is bound to the same translator objects, so it follows."""
    if not hasattr(app, "_page_language_spanish"):
        app._page_language_spanish = {name: spanish(name) for name in CATALOGS}
        app._page_language_english = {
            name: getattr(translators.get(("general", name)), "_fallback", None)
            for name in CATALOGS
        }
    lang = page_language(pagename)
    for name in CATALOGS:
        # The templates' `_` is bound to app.translator, which a theme's add_message_catalog
        # call may have replaced in `translators` by a new object: set both.
        found = [translators.get(("general", name))]
        if name == "sphinx":
            found.append(app.translator)
        for translator in {id(t): t for t in found if t is not None}.values():
            es = app._page_language_spanish[name]
            translator._fallback = es if lang == "es" else app._page_language_english[name]
    if lang != "es":
        return
    scripts = context.get("script_files", [])
    for i, script in enumerate(scripts):  # in place: Sphinx resets the list for every page
        body = getattr(script, "attributes", {}).get("body", "")
        for var, words in TOGGLE.items():
            if body.startswith(f"let {var} = "):
                attributes = dict(script.attributes, body=f"let {var} = '{words}';")
                scripts[i] = _JavaScript(script.filename, priority=script.priority, **attributes)


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
        context["theme_search_bar_text"] = "Buscar en este libro..."
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
    app.connect("html-page-context", speak, priority=100)
    app.connect("html-page-context", set_page_language, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
