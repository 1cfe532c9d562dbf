"""Write the repository URL of ``_config.yml`` into every notebook's Colab cell.

A fork sets its URL once, in ``_config.yml`` (``repository: url:``); Jupyter Book builds the
Colab, Binder and repository buttons from it. The notebooks cannot read ``_config.yml`` in
Colab, so their first code cell names the URL to install ``lib`` from; this script rewrites
that line in every notebook to match (``make set-repository``), and
``tests/test_notebooks.py`` checks that they agree.

    python _ext/set_repository.py            # from the repository's root
"""

from __future__ import annotations

import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
# The install line of the Colab cell, as stored in the notebook's JSON.
INSTALL = re.compile(r"(ebm-sparse-book @ git\+)[^\\\"\s]+")


def set_repository(root: pathlib.Path = ROOT) -> list[pathlib.Path]:
    """Point every notebook under ``root/chapters`` at ``root/_config.yml``'s URL.

    Returns the notebooks that changed. Raises ``ValueError`` if the URL is not an https URL
    or a notebook has no install line to rewrite.
    """
    url = yaml.safe_load((root / "_config.yml").read_text())["repository"]["url"]
    if not isinstance(url, str) or not re.fullmatch(r"https://[^\s\"\\]+", url):
        raise ValueError(f"repository.url in _config.yml must be an https URL, not {url!r}")
    changed = []
    for nb in sorted((root / "chapters").glob("*/*.ipynb")):
        text = nb.read_text(encoding="utf-8")
        if not INSTALL.search(text):
            raise ValueError(f"{nb} has no `ebm-sparse-book @ git+URL` line in its Colab cell")
        new = INSTALL.sub(lambda m: m.group(1) + url.removesuffix("/"), text)
        if new != text:
            nb.write_text(new, encoding="utf-8")
            changed.append(nb)
    return changed


if __name__ == "__main__":
    done = set_repository(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT)
    print(f"{len(done)} notebook(s) now install lib from _config.yml's repository URL")
