"""The README's main job (`make demo` = `hub demo --base tiny`) works offline, in its own home, and reruns alike:
it teaches the tiny base a subject (an orange ball under `sks`) that its before/after pictures show."""

import os
import subprocess
import sys
from pathlib import Path

import hub
from hub.context import Context
from hub.settings import load_settings

HUB = Path(sys.executable).parent / "hub"
QUIET_ALREADY = ("HF_HUB_DISABLE_PROGRESS_BARS", "TRANSFORMERS_VERBOSITY", "DIFFUSERS_VERBOSITY")


def test_demo_imports_samples_trains_and_mixes_in_its_own_home_and_a_hub_process_reruns_it_alike(
    lorahub_home: Path,
) -> None:
    result = hub.run_demo(base="tiny")
    assert Path(result.home) == lorahub_home / "demo"
    assert len(result.report.added) >= 8 and not result.report.rejected
    assert result.report.duplicates  # the sample folder holds a copy under another name on purpose
    assert result.mixed is not None and result.mix_command and result.mix_command.startswith("hub mix ")
    names = {a.name for a in result.adapters}
    assert result.mixed.name == "demo-mix" and result.mixed.name in names
    assert result.trained.name == "demo-sks-ball" and result.trained.name in names
    assert result.train_command.startswith("hub train ") and "--token sks" in result.train_command
    assert (Path(result.run_dir) / "loss.png").is_file()
    # It learned the subject: read back from the pixels, the orange ball is in the after pictures, never before.
    assert result.prompt == "a photo of a sks ball on a green background"
    assert result.subject_before == 0.0 and result.subject_after >= 0.75, (result.subject_before, result.subject_after)
    assert Path(result.before_after).is_file() and Path(result.weight_grid).is_file()
    assert Path(result.before_after).parent == Path(result.pictures_dir) == Path(result.home) / "pictures"
    assert sorted(p.suffix for p in Path(result.subject_dir).iterdir()) == [".png"] * 8 + [".txt"] * 8
    with Context(load_settings(home=Path(result.home))) as demo:
        parents = hub.show(result.mixed.name, ctx=demo).parents
        assert len(parents) == 2 and result.trained.name in {p.parent_ref for p in parents}
        assert "sks" in hub.show(result.trained.name, ctx=demo).triggers
    assert hub.ls() == []  # the user's own registry got nothing

    # A rerun, as a user reruns `make demo`: a real `hub demo` process, with the libraries' own noise switches
    # unset, says only what hub says and rebuilds the same registry (no demo-mix-2, no second trained copy).
    # A first run as a process (the base built, the samples written) is tests/smoke's `hub demo --base tiny`.
    env = {k: v for k, v in os.environ.items() if k not in QUIET_ALREADY}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    home = lorahub_home
    again = subprocess.run([str(HUB), "--home", str(home), "demo"], capture_output=True, text=True, timeout=300,
                           env=env)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "demo-mix" in again.stdout and "added" in again.stdout
    for noise in ("torchvision", "Writing model shards", "it/s]", "Warning", "warn("):
        assert noise not in again.stderr, again.stderr
    assert f"hub --home {home / 'demo'} ls" in again.stdout  # where it is and how to look at it (a result)
    for where in (f"before/after: {result.before_after}", f"the pictures: {result.pictures_dir}", "weight grid"):
        assert where in " ".join(again.stdout.split()), again.stdout  # where the pictures are (rich may wrap)
    relooked = subprocess.run(
        [str(HUB), "--home", str(home / "demo"), "ls", "-q"], capture_output=True, text=True, env=env, timeout=60
    )
    assert sorted(relooked.stdout.split()) == sorted(names)
    user = subprocess.run([str(HUB), "--home", str(home), "ls", "-q"], capture_output=True, text=True, env=env)
    assert user.stdout.split() == []
