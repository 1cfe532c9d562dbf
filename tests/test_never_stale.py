"""`make book` is never stale: a notebook executes again exactly when its result can change.

On a temporary copy of the book's machinery (``_config.yml``, ``_ext/``, ``lib/``, the pinned
requirements) with two small notebooks that print values computed by ``lib``, the site is built
the way `make book` builds it, several times:

1. a first build executes both notebooks;
2. a rebuild with nothing changed executes none, and the pages keep their outputs;
3. after an edit under ``lib/`` (``kl_divergence`` made twice as large) both execute, and the
   page shows the new value;
4. after an edit of one notebook, only that notebook executes;
5. after an edit of ``requirements.txt``, both execute;
6. a notebook that fails executes again on the next build even with nothing changed, instead of
   leaving the failed page on the site.

The mechanism is explained in ``_ext/never_stale.py``.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys

import nbformat
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
BUILD = ROOT / "_ext" / "build_book.py"

pytestmark = pytest.mark.slow

PROBE_A = """\
import torch

import lib.vae

mu, logvar = torch.full((1, 3), 0.5), torch.zeros(1, 3)
print(f"KL probe = {float(lib.vae.kl_divergence(mu, logvar)[0]):.4f}")
"""

PROBE_B = """\
import os

assert os.environ.get("PROBE_FAIL") != "1", "asked to fail"
print("B probe ran")
"""


def notebook(path: pathlib.Path, title: str, code: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}"), nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> pathlib.Path:
    assert (ROOT / "_vendor" / "VERSIONS").exists(), "no vendored JavaScript: run `make test`"
    book = tmp_path_factory.mktemp("book")
    for name in ("_config.yml", "requirements.txt", "pyproject.toml", "references.bib"):
        shutil.copy(ROOT / name, book / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "cache")
    for name in ("_ext", "lib", "data"):
        shutil.copytree(ROOT / name, book / name, ignore=ignore)
    (book / "_vendor").symlink_to(ROOT / "_vendor", target_is_directory=True)
    (book / "intro.md").write_text("# Probe book\n\nTwo notebooks.\n")
    (book / "probe").mkdir()
    notebook(book / "probe" / "a.ipynb", "Probe A", PROBE_A)
    notebook(book / "probe" / "b.ipynb", "Probe B", PROBE_B)
    toc = {
        "format": "jb-book",
        "root": "intro",
        "chapters": [{"file": "probe/a"}, {"file": "probe/b"}],
    }
    (book / "_toc.yml").write_text(yaml.safe_dump(toc))
    return book


def build(book: pathlib.Path, **env: str) -> tuple[int, str, set[str]]:
    """Build as `make book` does; return the exit code, the log and the notebooks executed."""
    shutil.rmtree(book / "_build" / "html", ignore_errors=True)
    run = subprocess.run(
        [sys.executable, str(BUILD), "build", str(book), "-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
        # PYTHONPATH first: the kernels import the copy's `lib`, not the repository's.
        env=os.environ | {"JOBS": "2", "PYTHONPATH": str(book)} | env,
        cwd=book,
    )
    log = run.stdout + run.stderr
    ran = set(re.findall(r"probe/(\w)\.ipynb: Executing notebook", log))
    return run.returncode, log, ran


def kl_on_page(book: pathlib.Path) -> str:
    html = (book / "_build" / "html" / "probe" / "a.html").read_text(encoding="utf-8")
    found = re.findall(r"KL probe = ([0-9.]+)", html)
    assert found, "page A shows no KL value"
    return found[0]


def test_rebuilds_exactly_what_changed(book):
    rc, log, ran = build(book)
    assert rc == 0, log[-4000:]
    assert ran == {"a", "b"}, f"first build executed {ran}\n{log[-3000:]}"
    first = kl_on_page(book)
    assert first == "0.3750"  # ½ Σ (0.25 + 1 − 0 − 1) over 3 dimensions

    rc, log, ran = build(book)
    assert rc == 0, log[-4000:]
    assert ran == set(), f"a rebuild with nothing changed executed {ran}"
    assert kl_on_page(book) == first, "the no-change rebuild lost page A's output"

    vae = book / "lib" / "vae.py"
    text = vae.read_text()
    assert "kl = 0.5 * (mu.pow(2)" in text
    vae.write_text(text.replace("kl = 0.5 * (mu.pow(2)", "kl = 1.0 * (mu.pow(2)"))
    rc, log, ran = build(book)
    assert rc == 0, log[-4000:]
    assert ran == {"a", "b"}, f"after a change under lib/ only {ran} executed"
    assert "lib/vae.py" in log, "the log does not name the file that changed"
    assert kl_on_page(book) == "0.7500", "page A still shows the old KL value"

    b = book / "probe" / "b.ipynb"
    nb = nbformat.read(b, as_version=4)
    nb.cells[0].source = "# Probe B, edited"
    nbformat.write(nb, b)
    rc, log, ran = build(book)
    assert rc == 0, log[-4000:]
    assert ran == {"b"}, f"after editing notebook B, {ran} executed"

    req = book / "requirements.txt"
    req.write_text(req.read_text() + "# a comment changes the pins file\n")
    rc, log, ran = build(book)
    assert rc == 0, log[-4000:]
    assert ran == {"a", "b"}, f"after a change of requirements.txt only {ran} executed"


def test_a_failed_notebook_runs_again(book):
    rc, log, ran = build(book)  # settle: whatever the previous test left
    assert rc == 0, log[-4000:]
    rc, log, ran = build(book, PROBE_FAIL="1")
    assert ran == set(), "nothing changed, nothing should execute"
    nb = book / "probe" / "b.ipynb"
    nb.write_text(nb.read_text().replace("B probe ran", "B probe ran again"))
    rc, log, ran = build(book, PROBE_FAIL="1")
    assert rc != 0 and ran == {"b"}, f"the failing build: rc {rc}, executed {ran}"
    rc, log, ran = build(book)
    assert rc == 0, log[-4000:]
    assert ran == {"b"}, f"after a failed build, the next one executed {ran}, not b"
    rc, log, ran = build(book)
    assert ran == set(), f"once fixed, a rebuild executed {ran}"
