"""The tiny world (the tiny base's training pictures and captions) and the reader that measures pictures."""

from __future__ import annotations

import random

import numpy as np
import pytest
from PIL import Image

from hub.bases.tiny import tokenizer_files
from hub.testing import tiny_world as world


def test_the_reader_reads_every_world_picture_as_drawn() -> None:
    rng = random.Random(3)
    for _ in range(300):
        scene = world.random_scene(rng)
        reading = world.read_picture(world.world_picture(scene))
        assert (reading.object, reading.shape, reading.background) == (scene.colour, scene.shape, scene.background)
        assert scene.colour != scene.background


def test_fill_tells_a_disc_from_a_square() -> None:
    rng = random.Random(4)
    fills = {shape: [world.read_picture(world.world_picture(world.random_scene(rng, shape=shape))).fill
                     for _ in range(100)] for shape in world.SHAPES}  # fmt: skip
    assert 0.76 < np.mean(fills["ball"]) < 0.81 and max(fills["ball"]) < world.BALL_BELOW  # pi/4 = 0.785
    assert min(fills["box"]) > 0.97


def test_a_plain_picture_has_no_object_and_a_speck_is_not_one() -> None:
    plain = Image.new("RGB", (64, 64), world.COLOURS["green"])
    reading = world.read_picture(plain)
    assert (reading.background, reading.object, reading.shape) == ("green", "none", "none")
    pixels = np.array(plain)
    pixels[10:13, 10:13] = world.COLOURS["red"]  # 9 pixels: under 2 % of the picture
    assert world.read_picture(pixels).object == "none"


def test_a_stray_speck_does_not_stretch_the_object() -> None:
    scene = world.Scene("box", "red", "white", x=40, y=40, half=12)
    pixels = np.array(world.world_picture(scene))
    pixels[0:2, 0:2] = world.COLOURS["black"]  # an edge artefact far from the box
    reading = world.read_picture(pixels)
    assert (reading.object, reading.shape, reading.fill) == ("red", "box", pytest.approx(1.0, abs=0.03))


def test_subjects_are_outside_the_world_and_read_by_their_colour(tmp_path) -> None:
    folder = world.write_subject_pictures(tmp_path / "subject", count=6, seed=1)
    paths = sorted(folder.glob("subject-*.png"))
    assert len(paths) == 6
    readings = [world.read_picture(p) for p in paths]
    assert {r.object for r in readings} == {"orange"} and {r.shape for r in readings} == {"ball"}
    assert "orange" not in world.WORLD_COLOURS
    assert all(r.background in world.WORLD_COLOURS for r in readings)
    striped = world.subject_picture(random.Random(2), pattern="striped")
    assert np.unique(np.asarray(striped).reshape(-1, 3), axis=0).shape[0] > 2  # two colours in bands, and edges


def test_pictures_and_captions_are_seeded() -> None:
    def draw(seed: int) -> tuple[bytes, str]:
        rng = random.Random(seed)
        scene = world.random_scene(rng)
        return world.world_picture(scene).tobytes(), world.world_caption(scene, rng)

    assert draw(5) == draw(5) and draw(5) != draw(6)


def test_captions_use_only_words_the_tiny_tokenizer_knows_whole() -> None:
    vocab, _ = tokenizer_files()
    assert all(word + "</w>" in vocab for word in world.WORDS)
    rng = random.Random(0)
    for _ in range(200):
        scene = world.random_scene(rng)
        caption = world.world_caption(scene, rng)
        assert scene.shape in caption
        assert set(caption.replace(",", " ").split()) <= set(world.WORDS)
    assert world.world_prompt("red", "ball", "blue") == "a photo of a red ball on a blue background"


def test_drawing_rates_count_each_part() -> None:
    red_ball_on_blue = world.read_picture(world.world_picture(world.Scene("ball", "red", "blue", 32, 32, 14)))
    seen = [(("red", "ball", "blue"), red_ball_on_blue), (("red", "box", "green"), red_ball_on_blue)]
    assert world.drawing_rates(seen) == {"background": 0.5, "object": 1.0, "shape": 0.5, "all": 0.5}
    assert len(world.world_triples()) == 60
