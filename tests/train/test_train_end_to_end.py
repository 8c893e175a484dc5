"""`hub train` as users run it: a separate process trains on the tiny base, registers a kohya file with full
metadata labelled as the tiny base's (arch, metadata, card), writes the run folder, and diffusers' own loader
changes the pipeline's output with it (weight 0 restores the base exactly); `hub convert --to diffusers` needs no
base to convert it."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from hub_process import hub as installed_hub
from safetensors import safe_open
from safetensors.torch import load_file

from hub.bases.tiny import CACHE_VERSION
from hub.train.api import list_runs, read_run
from tests.train.conftest import registry_entry, run_hub


def _render(pipe) -> torch.Tensor:
    out = pipe("a photo of sks dog", num_inference_steps=3, height=64, width=64, output_type="pt",
               generator=torch.Generator().manual_seed(0))  # fmt: skip
    return out.images


def test_hub_train_process_registers_a_loadable_lora(home: Path, pictures: Path, settings) -> None:
    proc = run_hub("train", "--images", str(pictures), "--token", "sks", "--class-word", "dog", "--preset",
                   "cpu-tiny", "--steps", "6", "--sample-every", "3", "--sample-prompt", "a photo of sks dog",
                   "--sample-prompt", "a sks dog in the sea", "--run-id", "e2e-run", "--json", home=home)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["run_id"] == "e2e-run" and result["steps"] == 6 and result["images"] == 4
    assert result["skipped"] == 1  # notes.md

    # The registry entry: trigger, lineage with hyperparameters and the dataset hash, recipe, previews.
    detail = registry_entry(result["adapter"]["name"], settings)
    assert detail.format == "kohya" and detail.rank == 4 and "sks" in detail.triggers
    assert detail.arch == "tiny"  # trained on the embedded base: its arch, not SD1's nor unknown
    assert detail.base_label == "tiny" and "trained" in detail.tags
    (link,) = detail.parents
    assert link.operation == "trained-from" and link.parent_ref == "tiny"
    assert link.params["dataset_sha256"] == result["dataset_sha256"] and link.params["lr"] == 5e-4
    assert detail.recipe["command"].startswith("hub train --images ") and "--steps 6" in detail.recipe["command"]
    # The thumbnail is the last sample grid (what the LoRA draws), never the loss curve.
    (preview,) = detail.previews
    run = Path(result["run_dir"])
    assert Path(preview.path).read_bytes() == (run / "samples" / "step-000006.png").read_bytes()

    # The file: kohya keys and metadata.
    with safe_open(detail.path, "pt") as f:
        meta = f.metadata()
        keys = list(f.keys())
    assert all(k.startswith("lora_unet_") for k in keys) and any(k.endswith(".alpha") for k in keys)
    for key in ("ss_network_dim", "ss_network_alpha", "ss_network_module", "ss_sd_model_name", "ss_new_sd_model_hash",
                "ss_resolution", "ss_steps", "ss_epoch", "ss_learning_rate", "ss_optimizer", "ss_seed",
                "ss_num_train_images", "ss_tag_frequency", "ss_training_started_at", "ss_training_finished_at",
                "modelspec.architecture", "modelspec.title", "modelspec.trigger_phrase", "modelspec.date",
                "sshs_model_hash"):  # fmt: skip
        assert meta.get(key), key
    assert meta["ss_steps"] == "6" and meta["modelspec.trigger_phrase"] == "sks"
    assert (
        meta["modelspec.architecture"] == "sd-lora-hub-tiny/lora"
        and meta["ss_base_model_version"] == "sd-lora-hub-tiny"
    )
    assert not [v for v in meta.values() if "stable-diffusion" in v or "sd_v1" in v]
    assert json.loads(meta["ss_tag_frequency"]) == {"pictures": {"a photo of sks dog": 4}}

    # The run folder, as the web UI reads it.
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "done" and info["adapter_id"] == detail.id and info["total_steps"] == 6
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 7)) and all(set(r) == {"step", "loss", "lr", "seconds"}
                                                                for r in rows)  # fmt: skip
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step-000003.png", "step-000006.png"]
    assert (run / "loss.png").stat().st_size > 0 and "sks" in (run / "README.md").read_text()
    # The card names the tiny base for what it is: no SD1.5 base model, no SD licence.
    card = (run / "README.md").read_text()
    assert "`--base tiny`" in card and "architecture tiny" in card and "license: unknown" in card
    assert "base_model:" not in card and "stable-diffusion-v1-5" not in card and "openrail" not in card
    detail_run = read_run("e2e-run", settings=settings)
    assert detail_run.info.status == "done" and len(detail_run.log) == 6 and len(detail_run.samples) == 2
    assert [r.run_id for r in list_runs(settings=settings)] == ["e2e-run"]
    listed = run_hub("runs", "--json", home=home)
    assert listed.returncode == 0 and json.loads(listed.stdout)[0]["status"] == "done"
    # `hub runs ID` for people: the run, its steps and its last samples, on stdout (`> run.txt` keeps them)
    shown = installed_hub(home, "runs", "e2e-run")
    assert shown.returncode == 0 and shown.stderr == "", shown.stderr
    lines = shown.stdout.splitlines()
    name = (info["name"] or "").split()
    assert lines[0].split() == ["e2e-run", "done", *name, "base", "tiny", "step", "6/6"], lines[0]
    assert [line.split()[:4] for line in lines[1:7]] == [["step", str(r["step"]), "loss", f"{r['loss']:.5f}"]
                                                          for r in rows]  # fmt: skip
    assert lines[7:] == [f"samples: {run / 'samples' / 'step-000006.png'}"], lines

    # diffusers loads it: the output changes; at weight 0 it is the base's again.
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(
        str(home / "cache" / f"tiny-sd1-{CACHE_VERSION}"), safety_checker=None
    )
    pipe.set_progress_bar_config(disable=True)
    before = _render(pipe)
    # The store blob has no extension: diffusers gets the state dict read by safetensors.
    pipe.load_lora_weights(load_file(detail.path), adapter_name="sks")
    with_lora = _render(pipe)
    pipe.set_adapters(["sks"], adapter_weights=[0.0])
    at_zero = _render(pipe)
    assert (with_lora - before).abs().mean() > 1e-4
    assert torch.allclose(at_zero, before, atol=1e-6)

    # `hub convert --to diffusers` needs no base: the tiny arch places the kohya names; diffusers draws the same.
    converted = run_hub("convert", result["adapter"]["name"], "--to", "diffusers", "--json", home=home)
    assert converted.returncode == 0, converted.stderr
    copy = registry_entry(json.loads(converted.stdout)["adapter"]["name"], settings)
    assert copy.arch == "tiny" and copy.format.startswith("diffusers")
    pipe.delete_adapters(["sks"])
    pipe.load_lora_weights(load_file(copy.path), adapter_name="sks-diffusers")
    assert torch.allclose(_render(pipe), with_lora, atol=1e-5)
