"""`hub train` refuses bad input in a fresh process, with one error line, a hint and its family's exit code,
before any model loads and before a run folder exists: nothing is written under the home."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.hub_process import hub
from tests.train.conftest import draw_pictures

TRAIN = ("train", "--token", "sks", "--class-word", "dog", "--preset", "cpu-tiny", "--resolution", "32",
         "--sample-steps", "1")  # fmt: skip


def _files(home: Path) -> set[str]:
    return {str(p.relative_to(home)) for p in home.rglob("*")} if home.exists() else set()


def _refused(home: Path, *args: str) -> tuple[int, list[str]]:
    before = _files(home)
    proc = hub(home, *TRAIN, *args, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert _files(home) == before  # no run folder, no registry, no cache: nothing
    return proc.returncode, proc.stderr.strip().splitlines()


@pytest.mark.parametrize(
    ("case", "code", "words"),
    [
        ("missing-folder", 3, "no such dataset folder"),
        ("empty-folder", 2, "no training pictures in"),
        ("zip-without-pictures", 2, "the zip holds no pictures (it holds notes.txt"),
        ("unreadable-zip-member", 6, "data.zip:inner/broken.png: cannot read picture"),
        ("unknown-base", 3, "no such base model"),
        ("adamw8bit-on-cpu", 2, "8-bit AdamW needs a CUDA GPU"),
        ("fp16-on-cpu", 2, "fp16 training needs a GPU"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(case: str, code: int, words: str, home: Path,
                                                         tmp_path: Path) -> None:  # fmt: skip
    folder = tmp_path / "data"
    args: list[str] = []
    if case == "missing-folder":
        folder = tmp_path / "nowhere"
    elif case == "empty-folder":
        folder.mkdir()
    elif case in ("zip-without-pictures", "unreadable-zip-member"):
        archive = tmp_path / "data.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            if case == "zip-without-pictures":
                zf.writestr("notes.txt", "no pictures here")
            else:
                draw_pictures(tmp_path / "inner", 1)
                zf.write(tmp_path / "inner" / "pic0.png", "inner/pic0.png")
                zf.writestr("inner/broken.png", b"\x89PNG\r\n\x1a\nnot really")
        folder = archive
    else:
        draw_pictures(folder, 2)
        args = {"unknown-base": ["--base", str(tmp_path / "no-such-base")],
                "adamw8bit-on-cpu": ["--optimizer", "adamw8bit", "--device", "cpu"],
                "fp16-on-cpu": ["--mixed-precision", "fp16", "--device", "cpu"]}[case]  # fmt: skip
    returncode, lines = _refused(home, "--images", str(folder), *args)
    assert returncode == code, lines
    assert len(lines) == 2 and lines[0].startswith("error: ") and words in lines[0] and lines[1].startswith("hint:")


def _chattr(flag: str, path: Path) -> bool:
    return shutil.which("chattr") is not None and subprocess.run(["chattr", flag, str(path)],
                                                                 capture_output=True).returncode == 0  # fmt: skip


def test_a_read_only_home_is_refused_with_exit_9(home: Path, pictures: Path) -> None:
    """`chattr +i` as the first-hour test does: tests run as root, whom chmod does not stop."""
    if os.geteuid() != 0 or not _chattr("+i", home):
        pytest.skip("needs root and a filesystem with the immutable flag (chattr +i)")
    try:
        returncode, lines = _refused(home, "--images", str(pictures))
    finally:
        _chattr("-i", home)
    assert returncode == 9 and "is read-only" in lines[0] and lines[1].startswith("hint:")


def test_a_diverged_run_exits_in_the_usage_family(home: Path, pictures: Path) -> None:
    proc = hub(home, *TRAIN, "--images", str(pictures), "--steps", "30", "--lr", "1e9", "--max-grad-norm", "0",
               "--run-id", "nan", timeout=300)  # fmt: skip
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and lines[0].startswith("error: the loss became") and lines[1].startswith("hint:")
