"""What goes in: zip and kohya layouts, caption files and the tiny BLIP captioner, class pictures generated once
and cached, a class-picture folder, and the prior taken from the frozen base."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from safetensors import safe_open

from hub.train.api import train
from hub.train.captioning import caption_folder, with_token
from hub.train.dataset import collect
from hub.train.options import resolve_options
from tests.train.conftest import build_tiny_blip, draw_pictures

# The tiny base at 32 px (a quarter of the pixels, 1/16 of the attention): nothing asserted here depends on the size.
FAST = {"token": "sks", "class_word": "dog", "preset": "cpu-tiny", "sample_steps": 1, "resolution": 32}


def _kohya_dataset(root: Path) -> Path:
    subject = root / "img" / "10_sks dog"
    draw_pictures(subject, 2)
    (subject / "pic0.caption").write_text("sks dog, red, round")
    draw_pictures(root / "img" / "reg" / "1_dog", 2, prefix="reg")
    (subject / "desktop.ini").write_text("[x]")
    return root / "img"


def test_kohya_layout_is_read_as_kohya_reads_it(tmp_path: Path) -> None:
    ds = collect(_kohya_dataset(tmp_path), instance_prompt="a photo of sks dog", class_prompt="a photo of dog")
    assert ds.layout == "kohya" and [it.repeats for it in ds.instance] == [10, 10]
    assert [it.caption for it in ds.instance] == ["sks dog, red, round", "sks dog"]  # .caption, else the folder's
    assert [it.caption for it in ds.reg] == ["dog", "dog"] and [p.name for p in ds.skipped] == ["desktop.ini"]


def test_a_zip_of_a_kohya_dataset_trains_with_its_class_pictures(home: Path, tmp_path: Path, settings) -> None:
    folder = _kohya_dataset(tmp_path / "src")
    archive = tmp_path / "dataset.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in folder.rglob("*"):
            zf.write(p, Path("img") / p.relative_to(folder))
    result = train(archive, **FAST, steps=2, settings=settings)
    assert result.images == 2 and result.class_images == 2 and result.skipped == 1
    with safe_open(result.path, "pt") as f:
        meta = f.metadata()
    assert json.loads(meta["ss_tag_frequency"]) == {"10_sks dog": {"sks dog": 2, "red": 1, "round": 1}}
    assert json.loads(meta["ss_dataset_dirs"]) == {"10_sks dog": {"n_repeats": 10, "img_count": 2}}
    assert meta["ss_num_train_images"] == "20" and meta["ss_num_reg_images"] == "2"


def test_prior_pictures_are_generated_once_then_reused(home: Path, pictures: Path, settings) -> None:
    first = train(pictures, **FAST, steps=2, prior_images=2, prior_weight=0.5, settings=settings)
    assert first.class_images == 2 and first.class_images_generated == 2
    second = train(pictures, **FAST, steps=2, prior_images=2, prior_weight=0.5, settings=settings)
    assert second.class_images == 2 and second.class_images_generated == 0
    cached = sorted((home / "cache" / "class-images").glob("*/class-*.png"))
    assert [p.name for p in cached] == ["class-00000.png", "class-00001.png"]


def test_class_picture_folder_and_prior_from_base(home: Path, pictures: Path, tmp_path: Path, settings) -> None:
    classes = tmp_path / "dogs"
    draw_pictures(classes, 3, prefix="dog")
    from_folder = train(pictures, **FAST, steps=2, class_images=str(classes), settings=settings)
    assert from_folder.class_images == 3
    from_base = train(pictures, **FAST, steps=3, prior_from_base=True, settings=settings)
    assert from_base.class_images == 0 and from_base.final_loss == from_base.final_loss


def test_captions_from_files_and_from_the_tiny_blip(home: Path, tmp_path: Path, settings) -> None:
    assert with_token("a dog on the grass", "sks", "dog") == "a sks dog on the grass"
    assert with_token("a red ball", "sks", "dog") == "sks dog, a red ball"
    folder = tmp_path / "pics"
    draw_pictures(folder, 3)
    (folder / "pic0.txt").write_text("my own words about sks dog")
    blip = build_tiny_blip(tmp_path / "blip")
    o = resolve_options({**FAST, "images": str(folder), "caption": "blip", "caption_model": str(blip)})
    ds = collect(folder, instance_prompt=o.instance_text, class_prompt=o.class_text)
    assert caption_folder(ds, o, device="cpu") == 2
    assert (folder / "pic0.txt").read_text() == "my own words about sks dog"  # kept
    for name in ("pic1.txt", "pic2.txt"):
        assert "sks" in (folder / name).read_text().split()
    # Through train(): --overwrite-captions rewrites the user's file too, and the captions reach the metadata.
    result = train(folder, **FAST, steps=1, caption="blip", caption_model=str(blip), overwrite_captions=True,
                   settings=settings)  # fmt: skip
    assert (folder / "pic0.txt").read_text() != "my own words about sks dog"
    with safe_open(result.path, "pt") as f:
        tags = json.loads(f.metadata()["ss_tag_frequency"])["pics"]
    assert sum(tags.values()) >= 3 and all("sks" in t or "dog" in t or t for t in tags)
