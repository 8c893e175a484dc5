"""The test suite cleans up after itself: a pytest run leaves no `lorahub-test-*` folder in the temp dir, and a
test that leaks LORAHUB_HOME (a module fixture setting os.environ) fails instead of changing the tests after it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

LEAKY = """
import os

import pytest


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    os.environ["LORAHUB_HOME"] = str(tmp_path_factory.mktemp("leaked"))  # never restored


def test_first(home):
    pass


def test_second(home):
    pass
"""


def run_pytest(tmp_path: Path, *args: str, pythonpath: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    temp = tmp_path / "tmpdir"
    temp.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(temp), "PYTHONPATH": os.pathsep.join([str(pythonpath), str(REPO_ROOT)])}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         "--basetemp", str(tmp_path / "basetemp"), *args],
        capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=300,
    )  # fmt: skip


def test_a_run_leaves_no_lorahub_test_folders_in_the_temp_dir(tmp_path: Path) -> None:
    r = run_pytest(tmp_path, "tests/registry/test_hashing.py", "tests/sync/test_model_card.py")
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(p.name for p in (tmp_path / "tmpdir").iterdir()) == []


def test_a_test_that_leaks_lorahub_home_fails(tmp_path: Path) -> None:
    leaky = tmp_path / "leaky" / "test_leaky.py"
    leaky.parent.mkdir()
    leaky.write_text(LEAKY)
    # the suite's root conftest loaded as a plugin, so that it guards a test file outside tests/
    r = run_pytest(tmp_path, str(leaky), "-p", "conftest", pythonpath=REPO_ROOT / "tests")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "test_first left LORAHUB_HOME changed" in r.stdout
    assert "1 error" in r.stdout


def test_test_file_names_are_unique() -> None:
    # tests/ has no packages: pytest imports each file by its basename, so two alike names stop collection
    names = [p.name for p in (REPO_ROOT / "tests").rglob("test_*.py") if "previous_version" not in p.parts]
    assert sorted({n for n in names if names.count(n) > 1}) == []
