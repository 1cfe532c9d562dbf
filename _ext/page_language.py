"""Sphinx extension: Spanish pages (``*.es`` documents) declare ``<html lang="es">``."""

from __future__ import annotations

from typing import Any


def set_page_language(
    app: Any, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    """Set the template's `language` to Spanish for pages whose name ends in ``.es``."""
    if pagename.endswith(".es"):
        context["language"] = "es"


def setup(app: Any) -> dict:
    app.connect("html-page-context", set_page_language)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
