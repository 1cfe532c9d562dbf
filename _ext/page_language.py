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
    """The Spanish translations of `catalog`, the first folder's taking precedence."""
    out: gettext.NullTranslations = gettext.NullTranslations()
    for folder in reversed(CATALOGS[catalog]):
        found = gettext.translation(catalog, localedir=folder, languages=["es"], fallback=True)
        found.add_fallback(out)
        out = found
    return out


def speak(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """Before the themes fill the page's context: swap in the catalogs of its language."""
    if not hasattr(app, "_page_language_catalogs"):
        english = {name: translators.get(("general", name)) for name in CATALOGS}
        app._page_language_catalogs = {
            "en": english,
            "es": {name: spanish(name) for name in CATALOGS},
        }
    lang = "es" if page_language(pagename) == "es" else "en"
    for name, translator in app._page_language_catalogs[lang].items():
        if translator is not None:
            translators[("general", name)] = translator
    if lang != "es":
        return
    es = app._page_language_catalogs["es"]["sphinx"]
    context["_"] = context["gettext"] = es.gettext
    context["ngettext"] = es.ngettext
    scripts = []
    for script in context.get("script_files", []):
        body = getattr(script, "attributes", {}).get("body", "")
        for var, words in TOGGLE.items():
            if body.startswith(f"let {var} = "):
                attributes = dict(script.attributes, body=f"let {var} = '{words}';")
                script = _JavaScript(script.filename, priority=script.priority, **attributes)
        scripts.append(script)
    context["script_files"] = scripts


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
    app.connect("html-page-context", speak, priority=100)
    app.connect("html-page-context", set_page_language)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
