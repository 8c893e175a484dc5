"""`hub --help` and `hub ls --json` stay light: their imports are pinned (bench_cli_startup.py times them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.testing import write_lora

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "diffusers", "transformers", "peft", "huggingface_hub", "safetensors", "numpy", "sqlite_utils")
# `hub --help` builds the command list only: no result model, no library module, no printing library.
NOT_FOR_HELP = (*HEAVY, "rich", "pydantic", "hub.models", "hub.registry", "hub.compose", "hub.sync", "hub.settings")
# `hub CMD --help` also runs the root option's callback (settings are read), but loads no verb.
NOT_FOR_COMMAND_HELP = (*HEAVY, "rich", "hub.models", "hub.registry", "hub.compose", "hub.sync")
# `hub ls --json`: SQLite writes the JSON; nothing draws, nothing composes or syncs, no result model is built
# (pydantic alone costs more than the rest of the command on this machine; typer 0.29 loaded it for every option).
NOT_FOR_LS_JSON = (
    *HEAVY,
    "rich",
    "pydantic",
    "hub.models",
    "hub.compose",
    "hub.sync",
    "hub.formats",
    "hub.bases",
    "hub.testing",
)


def loaded_modules(args: list[str], home: Path) -> list[str]:
    """Run the CLI in a fresh interpreter and return every module it imported."""
    code = (
        "import json, sys, runpy\n"
        f"sys.argv = ['hub', *{args!r}]\n"
        "try:\n    runpy.run_module('cli', run_name='__main__')\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    env = {**os.environ, "LORAHUB_HOME": str(home), "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stderr.strip().splitlines()[-1])


def _offending(modules: list[str], banned: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == b or m.startswith(b + ".") for b in banned)]


def test_help_imports_no_library_module_no_pydantic_no_rich(tmp_path: Path) -> None:
    modules = loaded_modules(["--help"], tmp_path / "home")
    assert "typer" in modules  # the check is not vacuous: the CLI did load
    assert _offending(modules, NOT_FOR_HELP) == []


@pytest.mark.parametrize("command", ["ls", "show", "mix", "push", "demo"])
def test_each_command_help_stays_light(tmp_path: Path, command: str) -> None:
    assert _offending(loaded_modules([command, "--help"], tmp_path / "home"), NOT_FOR_COMMAND_HELP) == []


def test_ls_json_imports_neither_rich_nor_composition_nor_heavy_libraries(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_lora(tmp_path / "one.safetensors", seed=1)
    env = {**os.environ, "LORAHUB_HOME": str(home), "PYTHONPATH": str(ROOT)}
    add = subprocess.run([sys.executable, "-m", "cli", "add", str(tmp_path / "one.safetensors")], env=env, timeout=120)
    assert add.returncode == 0
    modules = loaded_modules(["ls", "--json"], home)
    assert "hub.registry.api" in modules
    assert _offending(modules, NOT_FOR_LS_JSON) == []


def test_the_json_listing_names_adapters_fields_in_their_order() -> None:
    from hub.models import Adapter
    from hub.registry.db import ADAPTER_FIELDS

    assert tuple(Adapter.model_fields) == ADAPTER_FIELDS
