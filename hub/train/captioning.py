"""``--caption blip``: a caption per picture from a BLIP captioning model (transformers), with the trigger token
put in, written to ``<stem>.txt`` beside the picture. Existing caption files are kept unless
``--overwrite-captions``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hub.errors import RemoteError, UsageError
from hub.train.dataset import CAPTION_EXTENSIONS, Dataset, open_image
from hub.train.options import DEFAULT_BLIP, TrainOptions

BATCH = 8


def with_token(caption: str, token: str, class_word: str) -> str:
    """``a dog on grass`` -> ``a sks dog on grass``; without the class word: ``sks dog, <caption>``."""
    caption = " ".join(caption.split())
    if re.search(rf"\b{re.escape(token)}\b", caption):
        return caption
    pattern = re.compile(rf"\b{re.escape(class_word)}\b", re.IGNORECASE)
    if pattern.search(caption):
        return pattern.sub(lambda m: f"{token} {m.group(0)}", caption, count=1)
    return f"{token} {class_word}, {caption}" if caption else f"{token} {class_word}"


def _has_caption(image: Path) -> bool:
    return any(image.with_suffix(ext).is_file() for ext in CAPTION_EXTENSIONS)


# What BlipProcessor/BlipForConditionalGeneration read from a repo (not the TF/Flax/.bin copies beside them).
_BLIP_FILES = ["*.json", "*.txt", "*.safetensors"]
LOCAL_HINT = "--caption-model LOCAL_FOLDER (a BLIP folder saved with save_pretrained) works without a network"


def _load_blip(model: str, device: Any) -> tuple[Any, Any]:
    """A local folder is loaded as it is (not a BLIP folder: a usage error); a Hub id is downloaded first,
    through the sync package's bounded client, so that an unreachable Hub is one error in seconds rather
    than transformers' retries of every optional file."""
    folder = Path(model).expanduser()
    if not folder.is_dir():
        from hub.sync.api import download

        try:
            folder = download(model, allow_patterns=_BLIP_FILES, action="download the captioner")
        except RemoteError as e:
            raise RemoteError(e.message, hint=f"{e.hint}; or {LOCAL_HINT}" if e.hint else LOCAL_HINT) from None
    from transformers import BlipForConditionalGeneration, BlipProcessor

    try:
        processor = BlipProcessor.from_pretrained(folder, local_files_only=True)
        net = BlipForConditionalGeneration.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as e:
        why = str(e).strip("\"'").split(". ")[0] or type(e).__name__  # transformers' first sentence
        hint = f"--caption-model a BLIP folder (config, processor, weights) or a Hub id: {DEFAULT_BLIP}"
        raise UsageError(f"{model} is not a BLIP captioning model: {why}", hint=hint) from None
    return processor, net.to(device).eval()


def caption_folder(ds: Dataset, o: TrainOptions, *, device: Any) -> int:
    """Write captions for the instance pictures that need one; returns how many were written."""
    import torch

    todo = [it.path for it in ds.instance if o.overwrite_captions or not _has_caption(it.path)]
    if not todo:
        return 0
    processor, net = _load_blip(o.caption_model or DEFAULT_BLIP, device)
    # Never past the decoder's positions (the prompt's [DEC] token takes one).
    max_new = max(1, min(40, int(getattr(net.config.text_config, "max_position_embeddings", 512)) - 2))
    written = 0
    for start in range(0, len(todo), BATCH):
        paths = todo[start : start + BATCH]
        inputs = processor(images=[open_image(p) for p in paths], return_tensors="pt").to(device)
        with torch.no_grad():
            out = net.generate(**inputs, max_new_tokens=max_new, num_beams=3)
        for path, text in zip(paths, processor.batch_decode(out, skip_special_tokens=True), strict=True):
            for ext in CAPTION_EXTENSIONS:  # one caption file per picture: ours replaces a .caption too
                path.with_suffix(ext).unlink(missing_ok=True)
            path.with_suffix(".txt").write_text(with_token(text, o.token, o.class_word) + "\n", encoding="utf-8")
            written += 1
    return written
