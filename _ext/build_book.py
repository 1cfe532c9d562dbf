"""``jupyter-book build`` with Sphinx's parallel read: the notebooks execute JOBS at a time.

Jupyter Book 1.x's command line has no ``-j``; its ``build_sphinx`` takes ``jobs`` but the CLI
never passes it. This runs the same CLI (same arguments) with ``jobs`` set from the ``JOBS``
environment variable (default 2). Sphinx reads in parallel only when every extension declares
itself parallel-safe. All of the book's do except ``sphinx_multitoc_numbering``, which
Jupyter Book loads for the numbered table of contents and which says nothing: its only
change replaces ``TocTreeCollector.assign_section_numbers``, which Sphinx runs in the main
process after merging the workers' environments, so it is declared safe here. Used by
``make book`` and tests/test_site.py:

    JOBS=2 python _ext/build_book.py build . -W -n --keep-going
"""

from __future__ import annotations

import functools
import os

import jupyter_book.sphinx
import sphinx_multitoc_numbering
from jupyter_book.cli.main import main


def _parallel_safe(setup):
    @functools.wraps(setup)
    def wrapped(app):
        setup(app)
        return {"parallel_read_safe": True, "parallel_write_safe": True}

    return wrapped


if __name__ == "__main__":
    jobs = int(os.environ.get("JOBS", "2"))
    build = jupyter_book.sphinx.build_sphinx
    jupyter_book.sphinx.build_sphinx = functools.partial(build, jobs=jobs)
    sphinx_multitoc_numbering.setup = _parallel_safe(sphinx_multitoc_numbering.setup)
    main()
