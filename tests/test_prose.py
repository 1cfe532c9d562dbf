"""The prose of every chapter: a lesson's structure, and no number typed in from a run.

A number that a run produces is printed by the notebook (or checked by ``lib.check``), never
typed into a markdown cell, where it goes stale as soon as a knob, a seed or `lib` changes.
A markdown cell may name the constants of the setup: a decimal number or a percentage in the
prose must appear as a literal in the notebook's own code (λ, thresholds, sizes), or be listed
in ``QUOTED`` below with the source it is quoted from. Integers are not checked (sizes, counts,
figure numbers). In Spanish the decimal separator is the point, as in the code, and
thousands take no separator (4000, not 4.000).
"""

from __future__ import annotations

import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").glob("*/*.ipynb"))

# Numbers quoted from a source outside the run: notebook name -> {number: where it comes from}.
PYTORCH_EXAMPLES = "pytorch/examples vae/main.py, test loss logged at epoch 7 (60000 digits)"
QUOTED: dict[str, dict[str, str]] = {
    "08-vae.en.ipynb": {"106.66": PYTORCH_EXAMPLES},
    "08-vae.es.ipynb": {"106.66": PYTORCH_EXAMPLES},
}

# A decimal (0.35, 2.3×) or a percentage (65 %, 65%); in Spanish also a decimal comma (0,35)
# or a thousands point (4.000), which the point-decimal code makes ambiguous.
NUMBER = {
    "en": re.compile(r"(?<![\w.,])(\d+\.\d+|\d+(?:\.\d+)?\s?%)"),
    "es": re.compile(r"(?<![\w.,])(\d+[.,]\d+|\d+(?:[.,]\d+)?\s?%)"),
}
NOISE = [
    re.compile(p, re.S)
    for p in (
        r"```.*?```",  # fenced blocks: directives' options, code
        r"`[^`\n]*`",  # inline code, and the targets of roles
        r"\]\([^)]*\)",  # link targets
        r"https?://\S+",
        r"^\([\w-]+\)=$",  # labels
    )
]


def source(cell: dict) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def prose(text: str) -> str:
    for pattern in NOISE:
        text = pattern.sub(" ", text) if pattern.flags & re.M == 0 else text
    return re.sub(r"^\([\w-]+\)=$", " ", text, flags=re.M)


def code_literals(cells: list[dict]) -> set[str]:
    """Every decimal literal of the notebook's code (and its comments): the setup's constants."""
    code = "\n".join(source(c) for c in cells if c["cell_type"] == "code")
    return set(re.findall(r"\d+\.\d+|\d+", code))


def typed_numbers(nb: pathlib.Path) -> list[str]:
    cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
    allowed = code_literals(cells) | set(QUOTED.get(nb.name, {}))
    number_re = NUMBER[nb.name.split(".")[-2]]
    found = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        for match in number_re.finditer(prose(source(cell))):
            number = match.group(1)
            bare = number.rstrip("% ").strip()
            if "," in bare or bare not in allowed:
                found.append(f"cell {i}: {number!r}")
    return found


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_no_run_numbers_typed_in_the_prose(nb):
    found = typed_numbers(nb)
    assert not found, f"{len(found)} typed numbers in {nb.name}: " + ", ".join(found)


HEADINGS = {
    "en": {
        "learn": "**You will learn**",
        "builds": "**Builds on**",
        "table": "## The lecture says, we measure",
        "summary": "## Summary",
        "exercises": "## Exercises",
        "further": "## Going further",
        "references": "## References",
    },
    "es": {
        "learn": "**Aprenderás**",
        "builds": "**Se apoya en**",
        "table": "## La clase dice, nosotros medimos",
        "summary": "## Resumen",
        "exercises": "## Ejercicios",
        "further": "## Para ir más lejos",
        "references": "## Referencias",
    },
}
# Chapters that go beyond the lecture, and so end with a "Going further" part.
GO_FURTHER = {"03", "04", "05", "06", "07", "08"}


def lesson_problems(nb: pathlib.Path) -> list[str]:
    """What the chapter's structure lacks: opening, table, checks, order of the last parts."""
    lang = nb.name.split(".")[-2]
    words = HEADINGS[lang]
    number = nb.name[:2]
    cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
    markdown = [source(c) for c in cells if c["cell_type"] == "markdown"]
    code = "\n".join(source(c) for c in cells if c["cell_type"] == "code")
    problems = []
    opening = markdown[0]
    if words["learn"] not in opening:
        problems.append(f"the first cell has no {words['learn']!r} list")
    else:
        after = opening.split(words["learn"], 1)[1].strip().split("\n\n")[0]
        bullets = [line for line in after.splitlines() if line.startswith("- ")]
        if not 3 <= len(bullets) <= 4:
            problems.append(f"{words['learn']!r} lists {len(bullets)} points, not 3 or 4")
    if words["builds"] not in opening:
        problems.append(f"the first cell has no {words['builds']!r} line")
    elif number != "01":
        line = opening.split(words["builds"], 1)[1].split("\n\n")[0]
        earlier = re.findall(r"\{doc\}`[^`]*?/(\d\d)-[^`]*`", line)
        if not any(n < number for n in earlier):
            problems.append(f"{words['builds']!r} links no earlier chapter with {{doc}}")
    if "lib.lecture_table(" not in code:
        problems.append("no code cell prints lib.lecture_table(...)")
    if "lib.check(" not in code:
        problems.append("no claim is printed as a lib.check(...)")
    order = ["table", "summary", "exercises", "further", "references"]
    if number not in GO_FURTHER:
        order.remove("further")
    positions = []
    for key in order:
        at = [
            i for i, m in enumerate(markdown) if re.search(rf"^{re.escape(words[key])}$", m, re.M)
        ]
        if len(at) != 1:
            problems.append(f"{len(at)} headings {words[key]!r}, not 1")
        else:
            positions.append(at[0])
    if len(positions) == len(order) and positions != sorted(positions):
        problems.append("the last parts are not in the order " + ", ".join(order))
    return problems


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_every_chapter_is_a_lesson(nb):
    problems = lesson_problems(nb)
    assert not problems, f"{nb.name}: " + "; ".join(problems)


SOLUTION_PROMPTS = {
    "en": (
        "Show the computed solution to exercise {n}",
        "Hide the computed solution to exercise {n}",
    ),
    "es": (
        "Mostrar la solución calculada del ejercicio {n}",
        "Ocultar la solución calculada del ejercicio {n}",
    ),
}
SOLUTION_FIRST_LINE = {"en": "# Exercise {n}", "es": "# Ejercicio {n}"}


def solution_cells_problems(nb: pathlib.Path) -> list[str]:
    """The computed solutions: code cells hidden behind a prompt in the page's language, right
    after the exercises (before the next heading), one per exercise in order, each ending its
    answer with checks (``lib.check``), so that a solution states only what its run shows."""
    lang = nb.name.split(".")[-2]
    cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
    heading = HEADINGS[lang]["exercises"]
    start = next(
        i for i, c in enumerate(cells) if re.search(rf"^{re.escape(heading)}$", source(c), re.M)
    )
    end = next(
        (i for i in range(start + 1, len(cells)) if cells[i]["cell_type"] == "markdown"),
        len(cells),
    )
    problems, numbers = [], []
    for i, cell in enumerate(cells):
        hidden = "hide-cell" in cell.get("metadata", {}).get("tags", [])
        if not hidden:
            continue
        if not start < i < end or cell["cell_type"] != "code":
            problems.append(f"cell {i} is hidden but is not a solution after {heading!r}")
            continue
        first = source(cell).splitlines()[0]
        match = re.match(r"# (?:Exercise|Ejercicio) (\d+)\b", first)
        if not match or not first.startswith(SOLUTION_FIRST_LINE[lang].format(n=match.group(1))):
            problems.append(f"cell {i} does not open with {SOLUTION_FIRST_LINE[lang]!r}")
            continue
        n = int(match.group(1))
        numbers.append(n)
        show, hide = (p.format(n=n) for p in SOLUTION_PROMPTS[lang])
        prompts = cell["metadata"].get("mystnb", {})
        if prompts.get("code_prompt_show") != show or prompts.get("code_prompt_hide") != hide:
            problems.append(f"cell {i}: prompts must be {show!r} / {hide!r}, got {prompts}")
        if "lib.check(" not in source(cell):
            problems.append(f"cell {i} (exercise {n}) checks nothing with lib.check(...)")
    if not numbers:
        problems.append("no computed solution follows the exercises")
    if numbers != sorted(set(numbers)):
        problems.append(f"solutions out of order or repeated: {numbers}")
    return problems


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_computed_solutions_follow_the_exercises(nb):
    problems = solution_cells_problems(nb)
    assert not problems, f"{nb.name}: " + "; ".join(problems)
