"""Shared test fixtures: paths of the repository and of ../shared."""

from __future__ import annotations

import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def root() -> pathlib.Path:
    return ROOT
