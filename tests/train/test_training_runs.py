"""Training in process on the tiny base: it resumes after Ctrl-C on the same trajectory, stops on NaN keeping the
last good checkpoint, and refuses bad data in one line with nothing registered. That it learns is shown by what the
LoRA draws (tests/train/test_dreambooth.py), no longer by a denoising loss 1 % lower."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from hub.errors import BadFileError, ConflictError, NotFoundError, UsageError
from hub.train.api import read_run, train
from hub.train.loop import TrainingDiverged, TrainingInterrupted
from tests.train.conftest import draw_pictures, registered, run_hub

FAST = {"token": "sks", "class_word": "dog", "preset": "cpu-tiny", "sample_steps": 1}
# Runs that train: the tiny base at 32 px (a quarter of the pixels, 1/16 of the attention); nothing asserted here
# depends on the size.
SMALL = {**FAST, "resolution": 32}


def test_ctrl_c_then_resume_follows_the_uninterrupted_trajectory(home: Path, pictures: Path, settings) -> None:
    options = {**SMALL, "steps": 6, "flip": True, "dropout": 0.1, "settings": settings}
    full = train(pictures, **options, run_id="full")

    def ctrl_c_at_3(step: int, total: int) -> None:
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted, match="interrupted at step 3"):
        train(pictures, **options, run_id="cut", progress=ctrl_c_at_3)
    cut = read_run("cut", settings=settings)
    assert cut.info.status == "interrupted" and [Path(p).name for p in cut.checkpoints] == ["step-000003.pt"]
    assert registered(settings)[0].name == "sks-dog" and len(registered(settings)) == 1  # only the full run's

    resumed = train(pictures, **options, resume="latest")
    assert resumed.run_id == "cut"
    a, b = read_run("full", settings=settings).log, read_run("cut", settings=settings).log
    assert [r.step for r in b] == list(range(1, 7))
    assert [r.loss for r in a] == [r.loss for r in b]  # bit for bit on a CPU
    wa, wb = load_file(full.path), load_file(resumed.path)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_resume_latest_continues_only_an_unfinished_run_of_the_same_adapter(home, pictures: Path, settings) -> None:
    options = {**SMALL, "steps": 3, "checkpoint_every": 1, "settings": settings}
    train(pictures, **options, name="cat", run_id="finished-cat")  # done, with checkpoints
    with pytest.raises(NotFoundError, match="no unfinished run of 'sks-dog'"):
        train(pictures, **options, resume="latest")  # a finished run of another name is not extended
    with pytest.raises(NotFoundError, match="no unfinished run of 'cat'"):
        train(pictures, **options, name="cat", resume="latest")  # nor a finished run of the same name
    assert not (home / "runs").exists() or sorted(p.name for p in (home / "runs").iterdir()) == ["finished-cat"]

    def ctrl_c_at_2(step: int, total: int) -> None:
        if step == 2:
            raise KeyboardInterrupt

    for run_id in ("cut-a", "cut-b"):
        with pytest.raises(TrainingInterrupted):
            train(pictures, **options, run_id=run_id, progress=ctrl_c_at_2)
    resumed = train(pictures, **options, resume="latest", run_id="cut-a")  # --run-id picks which one
    assert resumed.run_id == "cut-a" and resumed.adapter.name == "sks-dog"
    assert read_run("cut-b", settings=settings).info.status == "interrupted"
    with pytest.raises(UsageError, match="continues run 'cut-b', not --run-id other"):
        train(pictures, **options, resume="cut-b", run_id="other")
    assert train(pictures, **options, resume="latest").run_id == "cut-b"
    with pytest.raises(ConflictError, match="run 'cut-b' exists"):
        train(pictures, **options, run_id="cut-b")  # a new run never writes into another's folder


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(home, pictures, settings) -> None:
    with pytest.raises(TrainingDiverged, match="loss became") as caught:
        train(
            pictures, **SMALL, steps=30, lr=1e9, max_grad_norm=0, checkpoint_every=1, run_id="nan", settings=settings
        )
    run = read_run("nan", settings=settings)
    assert run.info.status == "failed" and "loss became" in run.info.error
    assert run.checkpoints and Path(run.checkpoints[-1]).name in str(caught.value)
    assert registered(settings) == []


@pytest.mark.parametrize(
    "case",
    ["empty", "no-pictures", "unreadable", "too-small", "missing-base", "missing-folder", "fp16-on-cpu"],
)
def test_bad_input_is_one_clear_error_and_registers_nothing(case: str, home, tmp_path: Path, settings) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    kwargs = {**FAST, "steps": 1, "settings": settings}
    expected: type[Exception] = UsageError
    if case == "no-pictures":
        (folder / "a.txt").write_text("caption only")
    elif case == "unreadable":
        draw_pictures(folder, 1)
        (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
        expected = BadFileError
    elif case == "too-small":
        draw_pictures(folder, 1, size=(20, 20))
        expected = BadFileError
    elif case == "missing-base":
        draw_pictures(folder, 1)
        kwargs["base"] = str(tmp_path / "no-such-base")
        expected = NotFoundError
    elif case == "missing-folder":
        folder = tmp_path / "nowhere"
        expected = NotFoundError
    elif case == "fp16-on-cpu":
        draw_pictures(folder, 1)
        kwargs["mixed_precision"] = "fp16"
    with pytest.raises(expected) as caught:
        train(folder, **kwargs)
    assert "\n" not in str(caught.value)
    assert registered(settings) == []


def test_bad_data_through_the_cli_is_one_error_line(home: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    proc = run_hub("train", "--images", str(tmp_path / "empty"), "--token", "sks", "--class-word", "dog", home=home)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("error: no training pictures in") and lines[1].startswith("hint:")
    assert "Traceback" not in proc.stderr
    assert not (home / "runs").exists()  # refused before a run folder exists
