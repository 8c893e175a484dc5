"""Docs generated from the code must be up to date, and every command documented."""

import os
import subprocess
import sys
from pathlib import Path

import typer.main

from cli.app import app

ROOT = Path(__file__).resolve().parents[1]
COGGED = ["docs/cli.md", "docs/registry.md", "docs/training.md"]


def test_cog_generated_docs_are_current() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "cogapp", "--check", *COGGED],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "100"},
    )
    assert r.returncode == 0, f"run `cog -r {' '.join(COGGED)}`:\n{r.stdout}{r.stderr}"


def test_every_command_has_help_and_is_in_the_reference() -> None:
    reference = (ROOT / "docs" / "cli.md").read_text()
    group = typer.main.get_command(app)
    for name in group.list_commands(None):
        command = group.get_command(None, name)
        assert command.help and command.help.strip(), name
        assert f"## hub {name}\n" in reference, name


def test_readme_names_the_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
