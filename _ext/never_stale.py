"""Sphinx extension: a notebook is re-executed exactly when its result can have changed.

This is the one place that explains how `make book` decides which notebooks to run.

myst-nb executes a notebook only while Sphinx *reads* its page (``execute_notebooks: force``
in ``_config.yml``: every page that is read is executed, never taken from a cache), and Sphinx
re-reads a page only when the page's own file is newer than its last read. Sphinx does not know
that every notebook imports ``lib/`` and depends on the pinned packages, so on its own an edit
under ``lib/`` would leave the old outputs on the site.

This extension keeps a stamp, ``_build/.doctrees/never_stale.json``, with the SHA-256 of every
file that can change a notebook's result:

- the notebook itself;
- everything in ``DEPENDENCIES``: the package ``lib/``, ``requirements.txt`` and
  ``pyproject.toml`` (what is installed), ``_config.yml`` (how the book is executed and
  rendered), ``_ext/`` (these extensions) and ``data/`` (the data the notebooks read beside
  the packages that ship it, which ``requirements.txt`` pins).

Before Sphinx reads (``env-get-outdated``), every notebook whose hash differs from its stamp is
added to the pages to re-read, and the files that changed are named in the log. After a build
(``build-finished``) the stamp is written: a notebook read in a clean build (no warning, no
error) gets its new hash; after a build with warnings the notebooks read in it lose their stamp,
so the next build executes them again instead of keeping a failed page. Content hashes, not
modification times: a ``git checkout`` that restores a file, or a copy that keeps old times,
is judged by what the files contain.

So: with nothing changed no notebook executes; with one chapter changed, that chapter's
notebook(s) execute; with anything under ``lib/`` changed, every notebook executes.
``tests/test_never_stale.py`` builds a small book three ways to check it.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
from typing import Any

from sphinx.util import logging

logger = logging.getLogger(__name__)

# Files and folders (relative to the book's root) whose content every notebook depends on.
DEPENDENCIES = ("lib", "requirements.txt", "pyproject.toml", "_config.yml", "_ext", "data")
STAMP = "never_stale.json"
SKIP_PARTS = {"__pycache__", ".ipynb_checkpoints"}


def _sha256(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dependency_hashes(root: pathlib.Path, entries: tuple[str, ...] = DEPENDENCIES) -> dict:
    """SHA-256 of every file in `entries` under `root`, keyed by its POSIX path from `root`."""
    out: dict[str, str] = {}
    for entry in entries:
        top = root / entry
        if top.is_file():
            out[entry] = _sha256(top)
        elif top.is_dir():
            for path in sorted(top.rglob("*")):
                rel = path.relative_to(root)
                if path.is_file() and not SKIP_PARTS & set(rel.parts):
                    if path.suffix != ".pyc":
                        out[rel.as_posix()] = _sha256(path)
    return out


def _combined(files: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


def _stamp_path(app: Any) -> pathlib.Path:
    return pathlib.Path(app.doctreedir) / STAMP


def _load_stamp(app: Any) -> dict:
    try:
        stamp = json.loads(_stamp_path(app).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"files": {}, "docs": {}}
    if not isinstance(stamp, dict):
        return {"files": {}, "docs": {}}
    return {"files": stamp.get("files", {}), "docs": stamp.get("docs", {})}


def _notebooks(env: Any) -> dict[str, pathlib.Path]:
    """Docname -> path of every page that myst-nb executes (the ``.ipynb`` sources)."""
    paths = {name: pathlib.Path(env.doc2path(name)) for name in env.found_docs}
    return {name: path for name, path in paths.items() if path.suffix == ".ipynb"}


def _want(app: Any, path: pathlib.Path) -> str:
    return hashlib.sha256((app._never_stale_deps + _sha256(path)).encode()).hexdigest()


def hash_dependencies(app: Any) -> None:
    """Hash the dependencies once, when the build starts; the stamp records these hashes."""
    app._never_stale_files = dependency_hashes(pathlib.Path(app.srcdir))
    app._never_stale_deps = _combined(app._never_stale_files)
    app._never_stale_read = set()


def outdated_notebooks(app: Any, env: Any, added: set, changed: set, removed: set) -> list[str]:
    """Notebooks whose own content or dependencies changed since their last clean build."""
    stamp = _load_stamp(app)
    old, new = stamp["files"], app._never_stale_files
    moved = sorted(p for p in old.keys() | new.keys() if old.get(p) != new.get(p))
    stale = [
        name
        for name, path in _notebooks(env).items()
        if name not in added and stamp["docs"].get(name) != _want(app, path)
    ]
    if stale:
        why = ", ".join(moved[:5]) + (f" and {len(moved) - 5} more" if len(moved) > 5 else "")
        logger.info(
            f"[never_stale] {len(stale)} notebook(s) to execute again"
            + (f"; changed: {why}" if moved else "")
        )
    return stale


def note_read(app: Any, env: Any, docnames: list[str]) -> None:
    app._never_stale_read = set(docnames)


def write_stamp(app: Any, exception: Exception | None) -> None:
    """Record the hashes of the notebooks that are now up to date on the site."""
    path = _stamp_path(app)
    if exception is not None or not hasattr(app, "_never_stale_deps"):
        path.unlink(missing_ok=True)
        return
    stamp = _load_stamp(app)
    clean = app._warncount == 0
    docs = {}
    for name, nb in _notebooks(app.env).items():
        if name in app._never_stale_read:
            if clean:
                docs[name] = _want(app, nb)
        elif name in stamp["docs"]:
            docs[name] = stamp["docs"][name]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"files": app._never_stale_files, "docs": docs}, indent=1))
    os.replace(tmp, path)


def setup(app: Any) -> dict:
    app.connect("builder-inited", hash_dependencies)
    app.connect("env-get-outdated", outdated_notebooks)
    app.connect("env-before-read-docs", note_read)
    app.connect("build-finished", write_stamp)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
