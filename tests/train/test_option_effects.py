"""Each training option does what it says, shown by training the tiny base at 32 px for a few steps in process:
gradient accumulation equals the larger batch, gradient checkpointing changes nothing but the recomputation,
schedulers follow diffusers' ``get_scheduler`` step by step, uncached latents equal cached ones when nothing is
random, flips and random crops are reproducible from the seed and change the run, aspect buckets train with class
pictures of another shape, and text-encoder and conv layers are written so diffusers and a kohya-style loader
both load them."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from hub.bases.tiny import CACHE_VERSION
from hub.train.api import train
from hub.train.runs import load_checkpoint
from tests.train.conftest import draw_pictures
from tests.train.kohya_loader import merge_kohya

SMALL = {"token": "sks", "class_word": "dog", "preset": "cpu-tiny", "sample_steps": 1, "resolution": 32}


def _weights(pictures: Path, settings, **options) -> dict[str, torch.Tensor]:
    result = train(pictures, **{**SMALL, "steps": 2, **options}, settings=settings)
    return load_file(result.path)


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], atol: float = 1e-6) -> bool:
    return a.keys() == b.keys() and all(torch.allclose(a[k], b[k], rtol=1e-4, atol=atol) for k in a)


@contextmanager
def _forward_calls() -> Iterator[Counter]:
    """How many times modules of each class ran forward in the block (torch's global forward hook)."""
    calls: Counter = Counter()
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda module, args, out: calls.update([type(module).__name__])
    )
    try:
        yield calls
    finally:
        handle.remove()


def _pipe(home: Path):
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(str(home / "cache" / f"tiny-sd1-{CACHE_VERSION}"),
                                                   safety_checker=None)  # fmt: skip
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_grad_accum_k_with_batch_1_is_batch_k_in_one_update(home: Path, pictures: Path, settings) -> None:
    batch = _weights(pictures, settings, batch_size=2)
    accumulated = _weights(pictures, settings, batch_size=1, grad_accum=2)
    single = _weights(pictures, settings, batch_size=1)
    # Equal up to the order of float sums, which Adam magnifies where a gradient is near its eps (a few elements
    # of the trained base's LoRA differ by ~4e-5 in factors of ~0.7); one picture instead of two is far off that.
    assert _same(batch, accumulated, atol=1e-4)
    assert not _same(batch, single, atol=1e-3)


@contextmanager
def _saved_for_backward() -> Iterator[list[int]]:
    """How many tensor elements autograd kept for the backward passes in the block."""
    kept = [0]

    def pack(t: torch.Tensor) -> torch.Tensor:
        kept[0] += t.numel()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        yield kept


def test_gradient_checkpointing_keeps_fewer_activations_for_the_same_weights(home, pictures, settings) -> None:
    with _saved_for_backward() as plain_kept:
        plain = _weights(pictures, settings)
    with _saved_for_backward() as checkpointed_kept:
        checkpointed = _weights(pictures, settings, gradient_checkpointing=True)
    assert _same(plain, checkpointed)
    assert checkpointed_kept[0] < plain_kept[0] / 2  # the blocks' activations are recomputed, not kept


@pytest.mark.parametrize("scheduler", ["constant_with_warmup", "linear", "cosine"])
def test_the_rate_at_each_step_is_diffusers_get_schedulers(scheduler: str, home, pictures: Path, settings) -> None:
    from diffusers.optimization import get_scheduler

    result = train(pictures, **{**SMALL, "steps": 5}, lr=1e-3, scheduler=scheduler, warmup_steps=2, settings=settings)
    from hub.train.api import read_run

    logged = [row.lr for row in read_run(result.run_id, settings=settings).log]
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    reference = get_scheduler(scheduler, optimizer, num_warmup_steps=2, num_training_steps=5)
    expected = []
    for _ in range(5):
        expected.append(reference.get_last_lr()[0])
        optimizer.step()
        reference.step()
    assert logged == pytest.approx(expected, rel=1e-9, abs=1e-15) and logged[0] == 0.0 and logged[2] == 1e-3


def test_uncached_latents_equal_cached_ones_when_nothing_is_random(home: Path, pictures: Path, settings) -> None:
    with _forward_calls() as cached_calls:
        cached = _weights(pictures, settings, cache_latents=True)
    with _forward_calls() as uncached_calls:
        uncached = _weights(pictures, settings, cache_latents=False)
    assert _same(cached, uncached, atol=1e-5)
    assert cached_calls["Encoder"] == 4  # each picture once, before the steps
    assert uncached_calls["Encoder"] == 2  # each step's batch, at the step


def test_flips_and_random_crops_come_from_the_seed_and_change_the_run(home: Path, tmp_path: Path, settings) -> None:
    folder = tmp_path / "wide"
    draw_pictures(folder, 2, size=(64, 40))  # wider than square: a random crop has room to move
    plain = _weights(folder, settings, cache_latents=False)
    random = {"flip": True, "crop": "random", "cache_latents": False}
    first, again = _weights(folder, settings, **random), _weights(folder, settings, **random)
    assert _same(first, again, atol=0)
    assert not _same(first, _weights(folder, settings, **random, seed=1))
    assert not _same(plain, _weights(folder, settings, flip=True, cache_latents=False))
    assert not _same(plain, _weights(folder, settings, crop="random", cache_latents=False))


def test_buckets_train_a_mixed_folder_with_class_pictures_of_another_shape(home, tmp_path: Path, settings) -> None:
    folder, classes = tmp_path / "mixed", tmp_path / "classes"
    draw_pictures(folder, 2, size=(64, 40), prefix="wide")
    draw_pictures(folder, 2, size=(40, 64), prefix="tall")
    draw_pictures(folder, 1, size=(48, 48), prefix="square")
    draw_pictures(classes, 2, size=(48, 48), prefix="class")
    result = train(folder, **{**SMALL, "steps": 4}, buckets=True, batch_size=2, class_images=str(classes),
                   min_snr_gamma=5.0, noise_offset=0.05, settings=settings)  # fmt: skip
    assert result.images == 5 and result.class_images == 2 and result.final_loss == result.final_loss


def test_text_encoder_layers_are_written_loaded_by_both_and_take_their_own_rate(home, pictures, settings) -> None:
    result = train(pictures, **{**SMALL, "steps": 2}, lr=1e-3, train_text_encoder=True, text_encoder_lr=3e-4,
                   checkpoint_every=1, settings=settings)  # fmt: skip
    state = load_file(result.path)
    te = {k for k in state if k.startswith("lora_te_")}
    assert any(".self_attn_q_proj." in k or "_self_attn_q_proj." in k for k in te) and len(te) == 2 * 4 * 3
    checkpoint = load_checkpoint(next((Path(result.run_dir) / "checkpoints").glob("step-*.pt")))
    assert [g["lr"] for g in checkpoint["optimizer"]["param_groups"]] == [1e-3, 3e-4]

    def encode(pipe) -> torch.Tensor:
        ids = pipe.tokenizer(["a photo of sks dog"], padding="max_length", return_tensors="pt").input_ids
        with torch.no_grad():
            return pipe.text_encoder(ids)[0]

    base = encode(_pipe(home))
    pipe = _pipe(home)
    pipe.load_lora_weights(state)
    assert not torch.allclose(encode(pipe), base)
    kohya = _pipe(home)
    merged = merge_kohya(kohya, state)
    assert {m for m in merged if m.startswith("lora_te_")} == {k.split(".")[0] for k in te}
    assert not torch.allclose(encode(kohya), base)


def test_conv_layers_are_written_and_loaded_by_both(home: Path, pictures: Path, settings) -> None:
    state = _weights(pictures, settings, conv=True, conv_rank=2)
    convs = {k.split(".")[0] for k in state if "_conv1." in k or "_conv2." in k or "_conv_shortcut." in k}
    assert convs and all(state[f"{m}.lora_down.weight"].shape[0] == 2 for m in convs)
    assert state[next(iter(convs)) + ".lora_down.weight"].ndim == 4  # [rank, in, 3, 3]
    pipe = _pipe(home)
    before = dict(pipe.unet.named_parameters())
    before = {k: v.detach().clone() for k, v in before.items() if "conv1" in k}
    pipe.load_lora_weights(state)
    pipe.fuse_lora()
    after = {k.replace(".base_layer", ""): v for k, v in pipe.unet.named_parameters() if "conv1" in k}
    assert any(not torch.equal(before[k], after[k]) for k in before if k in after)
    merged = merge_kohya(_pipe(home), state)
    assert convs <= merged


def test_buckets_and_resizing_follow_kohyas_rules() -> None:
    from PIL import Image

    from hub.train.dataset import Item, bucket_sizes, cover, crop, nearest_bucket
    from hub.train.options import TrainOptions
    from hub.train.prepare import picture_sizes

    # kohya's make_bucket_resolutions((512, 512), 256, 1024, 64), as train_network.py prints it
    assert bucket_sizes(512) == [(256, 832), (256, 896), (256, 960), (256, 1024), (320, 704), (320, 768), (384, 640),
                                 (448, 576), (512, 512), (576, 448), (640, 384), (704, 320), (768, 320), (832, 256),
                                 (896, 256), (960, 256), (1024, 256)]  # fmt: skip
    buckets = bucket_sizes(512)
    assert nearest_bucket((800, 600), buckets) == (576, 448)  # aspect 1.33: 1.29 is nearer than 1.67
    assert nearest_bucket((1000, 600), buckets) == (640, 384)
    assert nearest_bucket((704, 320), buckets) == (704, 320)
    covered = cover(Image.new("RGB", (800, 600)), (576, 448))
    assert covered.size == (597, 448)  # wider than the bucket: the height matches, 800 * 448 / 600 rounded half up
    assert crop(covered, (576, 448)).size == (576, 448)
    marked = Image.new("L", (597, 448))
    marked.putpixel((10, 0), 255)  # kohya's centre crop starts at trim // 2 = 21 // 2
    assert crop(marked, (576, 448)).getpixel((0, 0)) == 255
    items = [Item(Path("w"), "", 1, (64, 40)), Item(Path("t"), "", 1, (40, 64)), Item(Path("s"), "", 1, (48, 48))]
    o = TrainOptions(images="", token="sks", class_word="dog", resolution=32)
    assert picture_sizes(items, o) == [(32, 32)] * 3
    assert picture_sizes(items, o.replace(buckets=True)) == [(40, 24), (24, 40), (32, 32)]


def test_gradient_clipping_bounds_the_update(home: Path, pictures: Path, settings) -> None:
    """AdamW ignores a gradient's scale, except against its eps (1e-8): clipped to a norm of 1e-9, each step moves
    the factors far less than unclipped (the initial factors come from the seed alone: compare the moves)."""
    start = _weights(pictures, settings, steps=1, lr=1e-12)
    free = _weights(pictures, settings, max_grad_norm=0)
    clipped = _weights(pictures, settings, max_grad_norm=1e-9)
    moved = {k: (free[k] - start[k]).abs().sum() for k in start if "lora_down" in k}
    moved_clipped = {k: (clipped[k] - start[k]).abs().sum() for k in start if "lora_down" in k}
    assert sum(moved_clipped.values()) < 0.5 * sum(moved.values())


def test_caption_dropout_trains_dropped_pictures_on_the_empty_caption(home: Path, pictures: Path, settings) -> None:
    # Two folders of the same pictures, captioned differently: with every caption dropped the runs cannot tell them
    # apart; with none dropped they differ; with some dropped the run is neither.
    folders = []
    for name, words in (("plain", "a photo of sks dog"), ("sea", "a photo of sks dog by the sea at night")):
        folder = pictures.parent / name
        shutil.copytree(pictures, folder)
        for picture in folder.glob("*.png"):
            picture.with_suffix(".txt").write_text(words + "\n")
        folders.append(folder)
    dropped = [_weights(f, settings, caption_dropout=1.0) for f in folders]
    kept = [_weights(f, settings) for f in folders]
    assert _same(*dropped)
    assert not _same(*kept)
    half = _weights(folders[0], settings, caption_dropout=0.5, steps=4, batch_size=2)
    assert not _same(half, _weights(folders[0], settings, steps=4, batch_size=2))
