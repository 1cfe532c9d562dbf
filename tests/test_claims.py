"""lib.claims: checks that print in the page's language, and fail the tests when strict."""

from __future__ import annotations

import numpy as np
import pytest

import lib
from lib import claims


@pytest.fixture(autouse=True)
def english():
    yield
    lib.set_language("en")


def test_check_prints_holds_and_numbers(capsys, monkeypatch):
    monkeypatch.delenv(claims.STRICT_ENV, raising=False)
    result = lib.check(True, en="a is larger", es="a es mayor", numbers="a 2.0, b 1.0")
    assert capsys.readouterr().out == "✓ holds: a is larger (a 2.0, b 1.0)\n"
    assert result.holds and result in lib.checks()


def test_failed_check_prints_in_spanish_and_carries_on(capsys, monkeypatch):
    monkeypatch.delenv(claims.STRICT_ENV, raising=False)
    lib.set_language("es")
    result = lib.check(1 > 2, en="one is larger", es="uno es mayor")
    assert capsys.readouterr().out == "✗ no se cumple: uno es mayor\n"
    assert not result.holds


def test_failed_check_raises_when_strict(monkeypatch):
    monkeypatch.setenv(claims.STRICT_ENV, "1")
    with pytest.raises(lib.ClaimFailedError, match="does not hold: one is larger"):
        lib.check(False, en="one is larger", es="uno es mayor")
    lib.check(True, en="two is larger", es="dos es mayor")  # a check that holds passes


def test_the_test_suite_runs_strict():
    """conftest.py sets the variable, so the notebooks nbval executes fail on a failed claim."""
    import os

    assert os.environ.get(claims.STRICT_ENV) == "1"


def test_holds_must_be_a_bool():
    with pytest.raises(TypeError, match="holds must be a bool"):
        lib.check(np.array([True, False]), en="x", es="x")
    with pytest.raises(TypeError, match="holds must be a bool"):
        lib.check(1, en="x", es="x")
    lib.check(np.float64(2.0) > 1.0, en="numpy bools are bools", es="x")
    with pytest.raises(TypeError, match="numbers must be a str"):
        lib.check(True, en="x", es="x", numbers=3.0)


def test_language_is_checked():
    with pytest.raises(ValueError, match="language must be one of"):
        lib.set_language("fr")
    with pytest.raises(TypeError, match="language must be a str"):
        lib.set_language(None)
    with pytest.raises(TypeError, match="es must be a str"):
        lib.text("x", 2)
    lib.set_language("es")
    assert lib.text("step", "paso") == "paso"


def test_lecture_table_in_both_forms():
    lib.set_language("es")
    rows = [
        lib.finding("S is negative", "S es negativa", "S = +W", "not reproduced"),
        lib.finding("ISTA converges", "ISTA converge", "gap 1e-6 < 1e-4", "reproduced"),
    ]
    table = lib.lecture_table(rows)
    html = table._repr_html_()
    assert "<th>la clase dice</th>" in html and "no reproducido" in html
    assert html.count("<tr>") == 3
    assert "1. la clase dice: S es negativa" in repr(table)
    assert "veredicto: reproducido" in repr(table)
    with pytest.raises(ValueError, match="verdict must be one of"):
        lib.finding("x", "x", "y", "maybe")
    with pytest.raises(TypeError, match="rows must be"):
        lib.lecture_table([])


def test_long_checks_wrap_to_the_column(capsys, monkeypatch):
    monkeypatch.delenv(claims.STRICT_ENV, raising=False)
    lib.check(True, en="word " * 40, es="x", numbers="1.0 < 2.0")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) > 1 and all(len(line) <= claims.WIDTH for line in lines)
    assert lines[0].startswith("✓ holds: word") and lines[1].startswith("  word")
