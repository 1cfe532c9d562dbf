"""Sphinx extension: pages load nothing from a CDN, and their scripts run without errors.

- matplotlib's ``Animation.to_jshtml()`` links Font Awesome 4.4.0 from a CDN for its buttons:
  each URL of ``LOCAL_COPIES`` is rewritten to the copy the Makefile vendors from npm.
- An inline script added twice (sphinx-thebe's ``const THEBE_JS_URL``) is a SyntaxError:
  each page keeps one copy of each script.
- An empty ``default_mode`` makes the theme log "Got invalid theme mode": it is "auto".

tests/test_site.py checks the result in a browser.
"""

from __future__ import annotations

import pathlib
from typing import Any

# CDN URL -> path under _static/ (vendored by the Makefile, same version).
LOCAL_COPIES = {
    "https://maxcdn.bootstrapcdn.com/font-awesome/4.4.0/css/font-awesome.min.css": (
        "font-awesome-4.4.0/css/font-awesome.min.css"
    ),
}


def use_local_copies(
    app: Any, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    """Point the page body's CDN links at the vendored files; drop repeated scripts."""
    body = context.get("body", "")
    for url, local in LOCAL_COPIES.items():
        if url in body:
            body = body.replace(url, context["pathto"]("_static/" + local, 1))
    context["body"] = body
    if not context.get("default_mode"):
        context["default_mode"] = "auto"
    scripts, seen = context.get("script_files", []), set()
    for js in list(scripts):
        key = (str(getattr(js, "filename", js) or ""), repr(getattr(js, "attributes", "")))
        if key in seen:
            scripts.remove(js)
        seen.add(key)


def add_static_dir(app: Any) -> None:
    app.config.html_static_path.append(str(pathlib.Path(__file__).with_name("static")))


def setup(app: Any) -> dict:
    app.connect("builder-inited", add_static_dir)
    app.connect("html-page-context", use_local_copies, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
