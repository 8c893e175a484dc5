"""Settings are read once per command and the registry is opened once: tag, import and the CLI share one."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import hub
from cli.app import app
from hub.context import Context
from hub.registry.db import Registry
from hub.settings import load_settings
from hub.testing import write_lora


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every path Registry.open is called with (the real open runs)."""
    calls: list[Path] = []
    real_open = Registry.open.__func__  # type: ignore[attr-defined]

    def counting_open(cls: type[Registry], path: Path) -> Registry:
        calls.append(path)
        return real_open(cls, path)

    monkeypatch.setattr(Registry, "open", classmethod(counting_open))
    return calls


def test_import_opens_the_registry_once_for_all_files(tmp_path: Path, opened: list[Path]) -> None:
    for i in range(4):
        write_lora(tmp_path / "loras" / f"l{i}.safetensors", seed=i)
    report = hub.import_dir(tmp_path / "loras")
    assert len(report.added) == 4
    assert len(opened) == 1


def test_tag_opens_the_registry_once(tmp_path: Path, opened: list[Path]) -> None:
    hub.add_one(write_lora(tmp_path / "dog.safetensors", seed=1))
    opened.clear()
    assert hub.tag("dog", ["+style"]).tags == ["style"]
    assert len(opened) == 1


def test_a_shared_context_is_one_connection_across_verbs(tmp_path: Path, opened: list[Path]) -> None:
    other = tmp_path / "elsewhere"
    with Context(load_settings(home=other)) as ctx:
        hub.add_one(write_lora(tmp_path / "cat.safetensors", seed=2), ctx=ctx)
        hub.tag("cat", ["+pet"], ctx=ctx)
        assert [a.name for a in hub.ls(ctx=ctx)] == ["cat"]
    assert opened == [other / "registry.db"]
    assert hub.ls() == []  # the environment's home is another registry


def test_a_cli_command_opens_one_connection_in_its_home(tmp_path: Path, opened: list[Path]) -> None:
    lora = write_lora(tmp_path / "fox.safetensors", seed=3)
    home = tmp_path / "cli-home"
    runner = CliRunner()
    assert runner.invoke(app, ["--home", str(home), "add", str(lora)]).exit_code == 0
    opened.clear()
    result = runner.invoke(app, ["--home", str(home), "tag", "fox", "+red"])
    assert result.exit_code == 0, result.output
    assert opened == [home / "registry.db"]
