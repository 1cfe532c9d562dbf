"""The publishing workflow is valid: actionlint and zizmor pass over .github/workflows/.

GitHub Actions cannot run here, so the workflow is checked offline: actionlint (syntax, types
of expressions, the inputs of the actions it uses) and zizmor (security: pinned actions, least
permissions, no credentials left in the checkout, no template injection). Each tool is also
shown a broken workflow, so that a tool that checks nothing cannot pass.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
BIN = pathlib.Path(sys.executable).parent
BROKEN = """\
on: pull_request_target
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          ref: ${{ github.event.pull_request.head.sha }}
      - run: echo "${{ github.event.pull_request.title }}"
      - run: echo ${{ github.evnt.name }}
"""


def tool(name: str) -> str:
    path = BIN / name
    found = str(path) if path.exists() else shutil.which(name)
    assert found, f"{name} is not installed: it is pinned in requirements.txt (make unit)"
    return found


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, cwd=ROOT)


def test_there_is_a_workflow():
    assert [p.name for p in WORKFLOWS] == ["book.yml"]


def test_workflow_tests_pull_requests_and_deploys_main():
    flow = yaml.safe_load(WORKFLOWS[0].read_text())
    on = flow[True]  # YAML 1.1 reads the key `on` as True
    assert on["push"]["branches"] == ["main"] and "pull_request" in on
    steps = {
        name: [s.get("run", s.get("uses", "")) for s in job["steps"]]
        for name, job in flow["jobs"].items()
    }
    assert "make test" in steps["test"]
    assert "make book" in steps["build"]
    assert any(s.startswith("actions/upload-pages-artifact@") for s in steps["build"])
    assert any(s.startswith("actions/deploy-pages@") for s in steps["deploy"])
    upload = next(s for s in flow["jobs"]["build"]["steps"] if "upload-pages" in s.get("uses", ""))
    assert upload["with"]["path"] == "_build/html"


def test_actionlint_passes():
    done = run(tool("actionlint"), "-no-color", *map(str, WORKFLOWS))
    assert done.returncode == 0, done.stdout + done.stderr


def test_zizmor_passes():
    done = run(tool("zizmor"), "--offline", "--no-progress", *map(str, WORKFLOWS))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def broken(tmp_path) -> pathlib.Path:
    path = tmp_path / ".github" / "workflows" / "broken.yml"
    path.parent.mkdir(parents=True)
    path.write_text(BROKEN)
    return path


def test_the_tools_catch_a_broken_workflow(broken):
    lint = run(tool("actionlint"), "-no-color", str(broken))
    assert lint.returncode != 0 and '"evnt" is not defined' in lint.stdout
    audit = run(tool("zizmor"), "--offline", "--no-progress", str(broken))
    assert audit.returncode != 0
    for finding in ("template-injection", "unpinned-uses", "dangerous-triggers"):
        assert finding in audit.stdout + audit.stderr, f"zizmor missed {finding}"
