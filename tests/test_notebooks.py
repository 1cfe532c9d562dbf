"""The book's invariants: twin notebooks, clean storage, Colab cell, table of contents."""

from __future__ import annotations

import io
import json
import pathlib
import re
import tokenize

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Chapter folders: chapters/NN-slug/ (not chapters/ruff.toml, nor a tool's hidden cache).
CHAPTERS = sorted(p for p in (ROOT / "chapters").glob("[0-9][0-9]-*") if p.is_dir())
NOTEBOOKS = sorted((ROOT / "chapters").glob("*/*.ipynb"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())


def load(path: pathlib.Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def strip_comments(code: str) -> str:
    """Code without comments and blank lines (IPython magics and shell lines kept as text)."""
    lines = code.splitlines()
    magic = {i: line for i, line in enumerate(lines) if line.lstrip().startswith(("%", "!"))}
    plain = "\n".join("pass" if i in magic else line for i, line in enumerate(lines)) + "\n"
    for tok in tokenize.generate_tokens(io.StringIO(plain).readline):
        if tok.type == tokenize.COMMENT:
            row, col = tok.start
            lines[row - 1] = lines[row - 1][:col]
    lines = [magic.get(i, line).rstrip() for i, line in enumerate(lines)]
    return "\n".join(line for line in lines if line.strip())


def code_cells(path: pathlib.Path) -> list[str]:
    cells = [c for c in load(path)["cells"] if c["cell_type"] == "code"]
    return [strip_comments(source(c)) for c in cells]


def test_there_is_at_least_one_chapter():
    assert CHAPTERS, "chapters/ holds no chapter folder"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_chapter_has_both_languages(chapter):
    assert re.fullmatch(r"\d\d-[a-z0-9-]+", chapter.name), f"bad chapter folder {chapter.name}"
    names = sorted(p.name for p in chapter.glob("*.ipynb"))
    assert names == [f"{chapter.name}.en.ipynb", f"{chapter.name}.es.ipynb"]


LANGUAGE_LINE = re.compile(r'^LANGUAGE = "(en|es)"$', re.M)


def declared_language(cells: list[str]) -> list[str]:
    """The values of the notebook's `LANGUAGE = "…"` lines (there must be exactly one)."""
    return [m.group(1) for c in cells for m in LANGUAGE_LINE.finditer(c)]


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_each_notebook_declares_its_language_once(nb):
    """The one line in which the twins may differ: the language their output prints in."""
    lang = nb.name.split(".")[-2]
    cells = code_cells(nb)
    assert declared_language(cells) == [lang], f'{nb.name} must declare LANGUAGE = "{lang}" once'
    assert declared_language(cells[1:3]) == [lang], "LANGUAGE belongs in the size-knob cell"
    assert any("lib.set_language(LANGUAGE)" in c for c in cells), "lib.set_language not called"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_twins_have_identical_code(chapter):
    """Identical code, except the value of the one `LANGUAGE = "…"` line."""
    en = code_cells(chapter / f"{chapter.name}.en.ipynb")
    es = [
        LANGUAGE_LINE.sub('LANGUAGE = "en"', c)
        for c in code_cells(chapter / f"{chapter.name}.es.ipynb")
    ]
    assert len(en) == len(es), f"{len(en)} English code cells vs {len(es)} Spanish"
    for i, (a, b) in enumerate(zip(en, es, strict=True)):
        assert a == b, f"code cell {i} differs between the twins"


def test_strip_comments_keeps_hashes_in_strings():
    assert strip_comments('x = "#no"  # yes') == 'x = "#no"'
    assert strip_comments("# only a comment\ny = 1") == "y = 1"
    assert strip_comments("f(\n    1\n)  # closing comment") == "f(\n    1\n)"
    assert (
        strip_comments("if a:\n    %pip install x  # kept") == "if a:\n    %pip install x  # kept"
    )


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_without_outputs(nb):
    for i, cell in enumerate(load(nb)["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"cell {i} has stored outputs"
            assert cell.get("execution_count") is None, f"cell {i} has an execution count"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_opens_with_title_and_twin_link(nb):
    first = load(nb)["cells"][0]
    assert first["cell_type"] == "markdown"
    text = source(first)
    assert text.startswith("# "), "the first cell must start with the chapter title"
    twin = nb.name.replace(".en.", ".TWIN.").replace(".es.", ".en.").replace(".TWIN.", ".es.")
    assert f"({twin})" in text, f"the first cell must link to the twin {twin}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_cell_installs_lib_from_the_configured_repository(nb):
    url = CONFIG["repository"]["url"]
    first_code = next(c for c in load(nb)["cells"] if c["cell_type"] == "code")
    text = source(first_code)
    assert 'if "google.colab" in sys.modules:' in text
    assert f"git+{url}" in text, f"the Colab cell must install lib from {url}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_size_knobs_come_first(nb):
    second_code = [c for c in load(nb)["cells"] if c["cell_type"] == "code"][1]
    knobs = re.findall(r"^([A-Z][A-Z0-9_]*) = ", source(second_code), flags=re.M)
    assert knobs, "the second code cell must set the size knobs (UPPER_CASE constants)"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_python3_kernel(nb):
    meta = load(nb)["metadata"]
    assert meta["kernelspec"]["name"] == "python3"


def toc_part(caption: str) -> list[str]:
    part = next(p for p in TOC["parts"] if p["caption"] == caption)
    return [c["file"] for c in part["chapters"]]


def test_toc_lists_every_chapter_in_both_parts_in_the_same_order():
    en, es = toc_part("English"), toc_part("Español")
    assert [f.removesuffix(".en") for f in en] == [f.removesuffix(".es") for f in es]
    expected = [f"chapters/{c.name}/{c.name}" for c in CHAPTERS]
    assert [f.removesuffix(".en") for f in en] == expected
    assert all(f.endswith(".en") for f in en) and all(f.endswith(".es") for f in es)


def test_numbering_restarts_in_each_part():
    assert CONFIG["html"]["use_multitoc_numbering"] is False
    assert all(p.get("numbered") for p in TOC["parts"][:2])


def test_set_repository_points_every_notebook_at_a_fork(tmp_path):
    """A fork sets its URL in _config.yml; `make set-repository` writes it into the notebooks."""
    import shutil
    import sys

    sys.path.insert(0, str(ROOT / "_ext"))
    try:
        from set_repository import set_repository
    finally:
        sys.path.pop(0)
    shutil.copytree(ROOT / "chapters", tmp_path / "chapters")
    fork = "https://github.com/a-teacher/my-ebm-book"
    config = (ROOT / "_config.yml").read_text().replace(CONFIG["repository"]["url"], fork)
    (tmp_path / "_config.yml").write_text(config)
    changed = set_repository(tmp_path)
    assert len(changed) == len(NOTEBOOKS)
    for nb in sorted((tmp_path / "chapters").glob("*/*.ipynb")):
        first_code = next(c for c in load(nb)["cells"] if c["cell_type"] == "code")
        assert f'"ebm-sparse-book @ git+{fork}"' in source(first_code)
    for chapter in sorted((tmp_path / "chapters").glob("[0-9][0-9]-*")):
        en = code_cells(chapter / f"{chapter.name}.en.ipynb")
        es = [
            LANGUAGE_LINE.sub('LANGUAGE = "en"', c)
            for c in code_cells(chapter / f"{chapter.name}.es.ipynb")
        ]
        assert en == es, "the rewrite made the twins differ"
    assert set_repository(tmp_path) == [], "a second run must change nothing"
    (tmp_path / "_config.yml").write_text(config.replace(fork, "not a url"))
    with pytest.raises(ValueError, match="repository.url"):
        set_repository(tmp_path)


ENGLISH_WORDS = re.compile(r"\b(the|and|with|of|from|than|is|are|each|every|this|that)\b")


@pytest.mark.parametrize(
    "nb", [nb for nb in NOTEBOOKS if nb.name.endswith(".es.ipynb")], ids=lambda p: p.name
)
def test_spanish_code_has_spanish_comments(nb):
    """A Spanish page's code cells carry Spanish comments (the code itself is the twin's)."""
    english = []
    for i, cell in enumerate(load(nb)["cells"]):
        if cell["cell_type"] != "code":
            continue
        for tok in tokenize.generate_tokens(io.StringIO(magic_free(source(cell))).readline):
            words = re.sub(r'"[^"]*"|`[^`]*`', "", tok.string)  # quoted code values aside
            if tok.type == tokenize.COMMENT and ENGLISH_WORDS.search(words):
                english.append(f"cell {i}: {tok.string[:60]}")
    assert not english, f"English comments: {english}"


def magic_free(code: str) -> str:
    """The cell with its IPython magics and shell lines blanked, so that it tokenizes."""
    return "\n".join(
        "pass" if line.lstrip().startswith(("%", "!")) else line for line in code.splitlines()
    )
