from pathlib import Path

import pytest
from PIL import Image

import hub
from hub.errors import NotFoundError
from hub.testing import write_lora


def test_gallery_draws_previews_and_placeholders(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    write_lora(lib / "red.safetensors", seed=1)
    Image.new("RGB", (64, 48), (220, 20, 20)).save(lib / "red.preview.png")
    write_lora(lib / "plain.safetensors", seed=2)
    (lib / "plain.png").write_bytes(b"not an image")  # a broken preview becomes a placeholder
    hub.import_dir(lib)
    result = hub.gallery(tmp_path / "g.png", columns=2, thumb=96)
    assert (result.adapters, result.with_preview) == (2, 1)
    sheet = Image.open(result.path)
    assert sheet.size == (2 * 96, 96 + 34)
    # "plain" sorts first: the red preview is the second tile, scaled up to fill it
    assert sheet.getpixel((96 + 48, 48)) == (220, 20, 20)
    with pytest.raises(NotFoundError):
        hub.gallery(tmp_path / "none.png", "no-such-adapter")
