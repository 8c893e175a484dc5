"""The README's main job (`make demo` = `hub demo --base tiny`) works offline on an empty home."""

import subprocess
import sys

import hub


def test_demo_imports_samples_and_mixes_two() -> None:
    result = hub.run_demo(base="tiny")
    assert len(result.report.added) >= 8 and not result.report.rejected
    assert result.report.duplicates  # the sample folder holds a copy under another name on purpose
    assert result.mixed is not None and result.mix_command and result.mix_command.startswith("hub mix ")
    names = {a.name for a in result.adapters}
    assert result.mixed.name in names
    assert len(hub.show(result.mixed.name).parents) == 2
    again = hub.run_demo(base="tiny")  # a second run adds nothing
    assert not again.report.added


def test_demo_cli_lists_the_registry() -> None:
    r = subprocess.run([sys.executable, "-m", "cli", "demo"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "demo-mix" in r.stdout and "added" in r.stderr
