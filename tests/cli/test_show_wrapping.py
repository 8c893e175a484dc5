"""`hub show` at 80 columns, in a fresh process reading stdout: no line longer than the terminal, no trailing
space, and a long value's later lines start under the value, not at column 0."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from hub_process import hub

from cli.wrapping import command_lines, hanging
from hub.testing import write_lora

LONG_NAME = "lazealia__Stable_Diff_WebUI_with_Ext__embeddings__a-style-whose-name-goes-on-and-on-v2-39000"
DESCRIPTION = "A painterly style trained on forty public-domain landscapes, " * 6
VALUE_COLUMN = len("preferred weight  ")  # the widest label and its gap


def test_show_wraps_long_values_under_themselves_at_80_columns(tmp_path: Path) -> None:
    home = tmp_path / "home"
    folder = tmp_path / "a-folder-with-a-long-name" / "and-another-one-below-it"
    adapter = write_lora(folder / f"{LONG_NAME}.safetensors", seed=5, metadata={"modelspec.description": DESCRIPTION})
    tags = ["--tag", "a-rather-long-tag-number-one", "--tag", "another-long-tag-number-two", "--tag", "third-tag"]
    assert hub(home, "add", str(adapter), "--in-place", *tags).returncode == 0

    r = hub(home, "show", LONG_NAME, COLUMNS="80")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    assert all(line == line.rstrip() for line in lines), [line for line in lines if line != line.rstrip()]

    facts = lines[lines.index("kind              lora") : lines.index("") if "" in lines else None]
    source = next(i for i, line in enumerate(facts) if line.startswith("source "))
    continued = facts[source + 1]
    assert continued.startswith(" " * VALUE_COLUMN) and continued[VALUE_COLUMN] != " ", facts
    value = facts[source][VALUE_COLUMN:] + continued[VALUE_COLUMN:]
    assert value.startswith(str(folder)), value  # cut at the line's end, continued under its start

    description = next(i for i, line in enumerate(facts) if line.startswith("description "))
    later = facts[description + 1 :]
    assert len(later) >= 3 and all(line.startswith(" " * VALUE_COLUMN) for line in later), facts
    assert " ".join(line.strip() for line in facts[description:]).startswith(f"description       {DESCRIPTION[:60]}")

    label = "  modelspec.description = "
    meta = next(i for i, line in enumerate(lines) if line.startswith(label))
    assert lines[meta + 1].startswith(" " * len(label)) and lines[meta + 1][len(label)] != " ", lines[meta : meta + 2]


def test_a_label_too_wide_for_its_value_wraps_with_a_small_indent() -> None:
    lines = hanging("  " + "k" * 70 + " = ", "value " * 10, 80)
    assert all(len(line) <= 80 and line == line.rstrip() for line in lines)
    assert lines[0].startswith("  kkk") and all(line.startswith("      ") for line in lines[1:])
    assert hanging("tags  ", "", 80) == ["tags"]


def test_a_wrapped_command_pastes_into_a_shell_as_the_same_command() -> None:
    command = "hub mix 'a style with spaces':0.7 dog:0.5 --method svd --rank 32 --name a-long-output-name"
    lines = command_lines("  ", command, 40, indent=4)
    assert len(lines) > 2 and all(len(line) <= 40 for line in lines) and lines[1].startswith("    "), lines
    assert all(line.endswith(" \\") for line in lines[:-1])
    echoed = subprocess.run(["bash", "-c", 'printf "%s\\n"' + "\n".join(lines)], capture_output=True, text=True)
    assert echoed.stdout.splitlines() == shlex.split(command), echoed
