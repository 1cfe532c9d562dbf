"""Claims as computed checks, printed in the page's language.

Every qualitative statement a chapter makes ("overlap more often", "stays close to 1") is
printed by the notebook as a check: the claim, the numbers that test it, and whether it holds
in this run. Every claim of the lecture that a chapter tests goes into one table, "the lecture
says / we measure", with a verdict. The prose then never types a number from the run.

Each notebook declares its language once, in its size-knob cell (``LANGUAGE = "en"`` or
``"es"``, the one line in which the English and the Spanish twin may differ), and passes it to
:func:`set_language`. Texts come in both languages in the code (``text(en=..., es=...)``), so
both twins run the same code and each prints in its own language.

A failed check prints ✗ and carries on, so that a reader who changes a knob sees which claim
the new run no longer supports. Under ``LIB_STRICT_CHECKS=1`` (set by the test suite for the
notebooks it executes) a failed check raises :class:`ClaimFailedError` instead, so that a default
build in which a claim of the prose does not hold fails the tests.
"""

from __future__ import annotations

import html
import os
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "Check",
    "check",
    "checks",
    "ClaimFailedError",
    "Finding",
    "finding",
    "language",
    "lecture_table",
    "LectureTable",
    "set_language",
    "text",
]

LANGUAGES = ("en", "es")
VERDICTS = ("reproduced", "partly", "not reproduced")
STRICT_ENV = "LIB_STRICT_CHECKS"
WIDTH = 78  # characters of a printed line: what the book's column shows at 1280 px

_WORDS = {
    "en": {
        "holds": "holds",
        "fails": "does not hold",
        "says": "the lecture says",
        "measure": "we measure",
        "verdict": "verdict",
        "reproduced": "reproduced",
        "partly": "partly",
        "not reproduced": "not reproduced",
    },
    "es": {
        "holds": "se cumple",
        "fails": "no se cumple",
        "says": "la clase dice",
        "measure": "medimos",
        "verdict": "veredicto",
        "reproduced": "reproducido",
        "partly": "en parte",
        "not reproduced": "no reproducido",
    },
}
_language = "en"
_record: list[Check] = []


class ClaimFailedError(AssertionError):
    """A claim of the prose does not hold in this run (raised only under LIB_STRICT_CHECKS=1)."""


def _check_language(language: object) -> str:
    if not isinstance(language, str):
        raise TypeError(f"language must be a str, got {type(language).__name__}")
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, got {language!r}")
    return language


def set_language(language: str) -> None:
    """Declare the language ("en" or "es") in which checks, tables and :func:`text` print."""
    global _language
    _language = _check_language(language)


def language() -> str:
    """The language declared by :func:`set_language` ("en" until then)."""
    return _language


def text(en: str, es: str) -> str:
    """`en` or `es`, whichever is the page's language: one line of code prints in both."""
    for name, value in (("en", en), ("es", es)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    return es if _language == "es" else en


@dataclass(frozen=True)
class Check:
    """One claim of the prose, the numbers that test it, and whether it holds in this run."""

    claim: str
    holds: bool
    numbers: str

    def _ipython_display_(self) -> None:
        """Printed already by :func:`check`: nothing more to show as a cell's last line."""

    def line(self) -> str:
        """The printed text: ✓ or ✗, the verdict in the page's language, the claim and its
        numbers, wrapped at WIDTH characters (the continuation lines indented)."""
        mark = "✓" if self.holds else "✗"
        word = _WORDS[_language]["holds" if self.holds else "fails"]
        tail = f" ({self.numbers})" if self.numbers else ""
        return textwrap.fill(
            f"{mark} {word}: {self.claim}{tail}",
            WIDTH,
            subsequent_indent="  ",
            break_on_hyphens=False,
        )


def check(holds: object, en: str, es: str, numbers: str = "") -> Check:
    """Print whether the claim (`en` / `es`) holds in this run, with the `numbers` behind it.

    `holds` must be a bool (a one-element tensor or numpy bool is accepted through ``bool``
    only if it is one already: pass ``bool(x > y)``), so that a claim is never judged by the
    truth value of a whole array. Returns the :class:`Check`; every check of the session is
    kept in :func:`checks`.
    """
    if type(holds).__name__ not in ("bool", "bool_"):
        raise TypeError(f"holds must be a bool, got {type(holds).__name__}")
    if not isinstance(numbers, str):
        raise TypeError(f"numbers must be a str, got {type(numbers).__name__}")
    result = Check(text(en, es), bool(holds), numbers)
    _record.append(result)
    print(result.line())
    if not result.holds and os.environ.get(STRICT_ENV) == "1":
        raise ClaimFailedError(result.line())
    return result


def checks() -> list[Check]:
    """Every check printed so far in this session, in order."""
    return list(_record)


@dataclass(frozen=True)
class Finding:
    """One claim of the lecture: what it says, what this run measures, and the verdict."""

    says: str
    measured: str
    verdict: str


def finding(en: str, es: str, measured: str, verdict: str) -> Finding:
    """A row of :func:`lecture_table`: the lecture's claim (`en` / `es`), the measurement
    (already in the page's language, e.g. built with :func:`text`) and a verdict among
    ``"reproduced"``, ``"partly"``, ``"not reproduced"``."""
    if not isinstance(measured, str):
        raise TypeError(f"measured must be a str, got {type(measured).__name__}")
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
    return Finding(text(en, es), measured, verdict)


class LectureTable:
    """ "The lecture says / we measure": an HTML table in a notebook, plain text elsewhere."""

    def __init__(self, rows: Sequence[Finding]) -> None:
        if not rows or not all(isinstance(r, Finding) for r in rows):
            raise TypeError("rows must be a non-empty sequence of Finding (see lib.finding)")
        self.rows = list(rows)
        self.language = _language

    def _words(self) -> dict[str, str]:
        return _WORDS[self.language]

    def _repr_html_(self) -> str:
        w = self._words()
        head = "".join(f"<th>{html.escape(w[k])}</th>" for k in ("says", "measure", "verdict"))
        says, measure, verdict = (html.escape(w[k]) for k in ("says", "measure", "verdict"))
        body = "".join(
            f'<tr><td data-label="{says}">{html.escape(r.says)}</td>'
            f'<td data-label="{measure}">{html.escape(r.measured)}</td>'
            f'<td data-label="{verdict}">{html.escape(w[r.verdict])}</td></tr>'
            for r in self.rows
        )
        return (
            f'<table class="lecture-table"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>"
        )

    def __repr__(self) -> str:
        w = self._words()
        lines = []
        for i, r in enumerate(self.rows, 1):
            lines.append(f"{i}. {w['says']}: {r.says}")
            lines.append(f"   {w['measure']}: {r.measured}")
            lines.append(f"   {w['verdict']}: {w[r.verdict]}")
        return "\n".join(lines)


def lecture_table(rows: Sequence[Finding]) -> LectureTable:
    """The chapter's "the lecture says / we measure" table; display it as a cell's last line."""
    return LectureTable(rows)
