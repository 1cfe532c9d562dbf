"""Shared test fixtures: paths of the repository and of ../shared, one torch thread."""

from __future__ import annotations

import os
import pathlib

import pytest
import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

# A claim of the prose that does not hold in a notebook nbval executes fails its test
# (lib.claims raises ClaimFailedError); the kernels inherit the variable from this process.
os.environ["LIB_STRICT_CHECKS"] = "1"


@pytest.fixture(scope="session")
def root() -> pathlib.Path:
    return ROOT


@pytest.fixture(scope="module")
def one_thread():
    """Small models in a Python loop: one thread is fastest, and on a shared machine a second
    thread only waits for a busy core. Restores the previous count afterwards."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def pytest_collection_modifyitems(config, items) -> None:
    """Notebooks run by nbval are slow tests too (`make test` runs them, `make unit` does not)."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
