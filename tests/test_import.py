"""`import lib` must find this repository's package wherever a kernel starts."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def where_lib(cwd: pathlib.Path) -> str:
    code = "import lib, sys; print(lib.__file__); print(sorted(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=True
    )
    return out.stdout


@pytest.mark.parametrize(
    "folder", sorted((ROOT / "chapters").glob("[0-9][0-9]-*")), ids=lambda p: p.name
)
def test_import_from_every_chapter_folder(folder):
    """nbval and the book build run each kernel in the notebook's own folder."""
    assert where_lib(folder).splitlines()[0] == str(ROOT / "lib" / "__init__.py")


def test_a_stray_lib_folder_does_not_shadow_the_package(tmp_path):
    """A default editable install loses to any `lib/` folder on sys.path; ours must not."""
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "notes.txt").write_text("not a package")
    assert where_lib(tmp_path).splitlines()[0] == str(ROOT / "lib" / "__init__.py")


def test_import_does_no_work():
    """Importing lib loads no data and pulls in no plotting or scikit stack."""
    modules = where_lib(ROOT).splitlines()[1]
    for heavy in ("matplotlib", "sklearn", "mlxtend", "skimage", "IPython"):
        assert f"'{heavy}'" not in modules, f"import lib imported {heavy}"


def test_wheel_ships_every_lib_module(tmp_path):
    """Colab installs lib from the repository as a wheel: every module must be in it."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    import zipfile

    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in (ROOT / "lib").rglob("*.py"):
        assert module.relative_to(ROOT).as_posix() in names, f"{module.name} missing from wheel"
