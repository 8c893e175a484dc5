"""The embedded ``tiny`` base: an offline Stable Diffusion pipeline (SD1, SD2 or SDXL layout) built from configs.

It has the same module tree as the real bases (down/mid/up blocks with Transformer2DModel
attention, ResnetBlock2D 3x3 convs, CLIP text encoders), so adapter files written for it load
through diffusers' own loaders, but every width is tiny: it saves in ~1 MB and runs a 20-step
64x64 inference in well under a second on a CPU core. The tokenizer's ``vocab.json`` and
``merges.txt`` are written here; nothing is downloaded.

The embedded SD1 base (``tiny_pipeline_dir("sd1")``, ``--base tiny``) is *trained*: its weights ship in
``data/tiny-sd1.safetensors``, made by ``tools/build_tiny_base.py`` on the tiny world of ``hub/testing/tiny_world.py``
(a ball or a box, one colour on another; docs/tiny-base.md). Its VAE reduces 8x as SD's does, so a 64x64 picture is
an 8x8 latent. ``build_tiny_pipeline`` without ``trained=True`` draws random weights of the same shapes (tests).

The SD2 kind (tests only; not an embedded base name) is SD2.x 768-v shaped: linear proj_in/proj_out, per-block
head counts, an OpenCLIP-style text encoder (``gelu``, ``!`` padding) and a v-prediction scheduler. Its text
width is SD2's real 1024 (one narrow MLP keeps it ~20 MB): the UNet's cross-attention in-dim is what every tool
(our prober, A1111, kohya) tells SD2 by, so a LoRA trained on it reads as SD2.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from hub.paths import Paths
from hub.settings import load_settings

TinyKind = Literal["sd1", "sd2", "sdxl"]

# Bump when the layout or the config changes so that stale caches are rebuilt rather than reused.
# v2: the SD1 kind's attention has 2 heads instead of 8 (same weights and module tree, 2-3x faster).
# v3: the SD1 kind is the trained base (data/tiny-sd1.safetensors): a 4-level VAE (8x), 8x8 latents.
CACHE_VERSION = "v4"
# The trained SD1 base's weights (fp16) and, in the file's metadata, its VAE's scaling factor and how it was built.
TRAINED_SD1 = Path(__file__).with_name("data") / "tiny-sd1.safetensors"

TEXT_HIDDEN = 32
TEXT_LAYERS = 2
TEXT_MAX_LENGTH = 77
VOCAB_SIZE = 1000
SAMPLE_SIZE = 32  # SD2/SDXL kinds' latent side; their VAE halves, so the default image is 64x64
SD1_SAMPLE_SIZE = 8  # the SD1 kind's latent side; its VAE reduces 8x (as SD's), so the default image is 64x64
SD2_TEXT_HIDDEN = 1024  # OpenCLIP ViT-H's width, as SD2.x's cross_attention_dim
SD2_TEXT_HEADS = 16  # head dim 64, as OpenCLIP ViT-H

# Words the tokenizer knows whole; anything else still tokenizes, byte by byte.
_WORDS = (  # noqa: SIM905 - a word list reads better as one string
    "a photo of an the and in on with by style portrait painting drawing cat dog person woman man girl boy "
    "castle forest city sky sea mountain flower tree house car red blue green yellow black white bright dark "
    "detailed sharp soft light anime realistic watercolor oil sketch pixel art cinematic tok sks xyz masterpiece "
    "best quality lowres bad hands "
    # the tiny world's (hub/testing/tiny_world.py) words the embedded base was trained on, and subject words
    "ball box background purple striped checkered"
).split()


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable character table."""
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs), strict=True))


def tokenizer_files() -> tuple[dict[str, int], list[str]]:
    """The vocab and merges of a small CLIP byte-level BPE: all bytes, bytes + ``</w>``, a few whole words."""
    chars = list(_bytes_to_unicode().values())
    vocab: dict[str, int] = {}
    for token in chars + [c + "</w>" for c in chars]:
        vocab.setdefault(token, len(vocab))
    merges: list[str] = []
    for word in _WORDS:
        # Merge left to right: "cat" -> c a, ca t</w>. Every intermediate piece is a vocab entry.
        pieces = [*word[:-1], word[-1] + "</w>"]
        left = pieces[0]
        for right in pieces[1:]:
            merged = left + right
            if merged not in vocab:
                merges.append(f"{left} {right}")
                vocab[merged] = len(vocab)
            left = merged
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    assert len(vocab) <= VOCAB_SIZE
    return vocab, merges


def _write_tokenizer(folder: Path) -> None:
    vocab, merges = tokenizer_files()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")


def _load_tokenizer(folder: Path, pad_token: str = "<|endoftext|>"):
    from transformers import CLIPTokenizer

    return CLIPTokenizer.from_pretrained(str(folder), pad_token=pad_token, model_max_length=TEXT_MAX_LENGTH)


def _text_config(
    *,
    projection_dim: int | None = None,
    hidden_act: str = "quick_gelu",
    layers: int = TEXT_LAYERS,
    hidden: int = TEXT_HIDDEN,
    heads: int = 4,
    pad_token: str = "<|endoftext|>",
):
    from transformers import CLIPTextConfig

    vocab, _ = tokenizer_files()
    kwargs: dict[str, Any] = {"projection_dim": projection_dim} if projection_dim else {}
    return CLIPTextConfig(
        hidden_size=hidden,
        # 4x the width as CLIP, but never above 128: SD2's 1024-wide encoder stays small.
        intermediate_size=min(4 * hidden, 128),
        num_hidden_layers=layers,
        num_attention_heads=heads,
        max_position_embeddings=TEXT_MAX_LENGTH,
        vocab_size=VOCAB_SIZE,
        hidden_act=hidden_act,
        bos_token_id=vocab["<|startoftext|>"],
        eos_token_id=vocab["<|endoftext|>"],
        pad_token_id=vocab[pad_token],
        **kwargs,
    )


def _unet(kind: TinyKind, text_hidden_2: int = TEXT_HIDDEN):
    from diffusers import UNet2DConditionModel

    common = {
        "sample_size": SD1_SAMPLE_SIZE if kind == "sd1" else SAMPLE_SIZE,
        "in_channels": 4,
        "out_channels": 4,
        "block_out_channels": (32, 64),
        "layers_per_block": 1,
        "norm_num_groups": 8,
        "down_block_types": ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    }
    if kind == "sd1":
        # SD1.x: 1x1-conv proj_in/proj_out, as in the real UNet (kohya targets them with 4-D factors). The head
        # count is not SD1's 8 (its 320 channels give 40-wide heads): on 32/64 channels 8 heads are 4-8 wide, and
        # 64x64 pictures (1024 latent tokens) then spend most of a step on attention scores. 2 heads (16/32 wide)
        # keep every weight shape and the module tree; a render step is ~2x and a training step ~3x faster.
        return UNet2DConditionModel(**common, cross_attention_dim=TEXT_HIDDEN, attention_head_dim=2)
    if kind == "sd2":
        # SD2.x: linear projections, head counts per block (its config's [5, 10, 20, 20]), attention upcast to
        # float32 (2.1's config), conditioned on the OpenCLIP text width.
        return UNet2DConditionModel(
            **common,
            cross_attention_dim=SD2_TEXT_HIDDEN,
            attention_head_dim=(2, 4),
            use_linear_projection=True,
            upcast_attention=True,
        )
    # SDXL: linear projections, two text encoders concatenated, time ids as added conditioning,
    # and a deeper transformer in the lower block (as SDXL's [.., 2, 10] depths).
    return UNet2DConditionModel(
        **common,
        cross_attention_dim=TEXT_HIDDEN + text_hidden_2,
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        transformer_layers_per_block=(1, 2),
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=6 * 8 + text_hidden_2,
    )


def _vae(kind: TinyKind):
    from diffusers import AutoencoderKL

    if kind == "sd1":
        # Four levels, 8x as SD's VAE: the UNet works on 8x8 latents, ~4x cheaper per step than 16x16 (training the
        # base and every LoRA on a CPU). Narrow at full resolution, where each channel costs most; 4 norm groups so
        # that even the 8-channel level normalises channels in pairs (a plain colour is not normalised away).
        channels: tuple[int, ...] = (8, 16, 32, 64)
        groups = 4
    else:
        channels, groups = (8, 16), 8
    # The trained base's latents scaled to unit variance (measured by its build), as SD's 0.18215 does for SD's VAE.
    scaling = float(trained_sd1_metadata().get("vae_scaling_factor", 0.18215)) if kind == "sd1" else 0.18215
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=channels,
        down_block_types=("DownEncoderBlock2D",) * len(channels),
        up_block_types=("UpDecoderBlock2D",) * len(channels),
        latent_channels=4,
        norm_num_groups=groups,
        layers_per_block=1,
        sample_size=64,
        scaling_factor=scaling,
    )


def trained_sd1_metadata() -> dict[str, Any]:
    """The trained SD1 base's build record (its VAE's scaling factor, seed, steps, times); {} without the file."""
    if not TRAINED_SD1.is_file():
        return {}
    from safetensors import safe_open

    with safe_open(str(TRAINED_SD1), "pt") as f:
        text = (f.metadata() or {}).get("build", "{}")
    return dict(json.loads(text))


def _scheduler(prediction_type: str = "epsilon"):
    from diffusers import DDIMScheduler

    # The real bases' noise schedule (SD1.5, SD2.x and SDXL share it); SD2.x 768-v predicts the velocity.
    return DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        steps_offset=1,
        clip_sample=False,
        set_alpha_to_one=False,
        prediction_type=prediction_type,
    )


def build_tiny_pipeline(
    out_dir: Path,
    *,
    kind: TinyKind = "sd1",
    seed: int = 0,
    text_layers: int = TEXT_LAYERS,
    text_hidden_2: int = TEXT_HIDDEN,
    trained: bool = False,
) -> Path:
    """Build a tiny pipeline of ``kind`` with weights drawn from ``seed``, ``save_pretrained`` it into ``out_dir``.

    ``trained`` (SD1 only, default text depth): the shipped trained weights instead, the embedded base that draws.

    Load it back with ``StableDiffusionPipeline.from_pretrained(out_dir)`` (``StableDiffusionXLPipeline`` for sdxl).
    ``text_layers`` sets the CLIP depth (the trainer's benchmark uses 4, as the peer measurement did).
    ``text_hidden_2`` is the width of SDXL's second (OpenCLIP) text encoder. The embedded base keeps both at 32;
    an SDXL single file needs them apart (as real SDXL's 768 and 1280 are): diffusers' single-file loader tells
    its two encoders apart by width, and with equal widths fills the second with the first's weights.
    """
    if kind not in ("sd1", "sd2", "sdxl"):
        raise ValueError(f"unknown tiny pipeline kind {kind!r}; expected 'sd1', 'sd2' or 'sdxl'")
    if trained and (kind != "sd1" or text_layers != TEXT_LAYERS):
        raise ValueError("only the SD1 kind with its default text depth has trained weights")
    with _quiet_transformers():
        return _build(Path(out_dir), kind, seed, text_layers, text_hidden_2, trained)


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Building the base is ours to report: transformers' notes (image processors without torchvision, which
    this pipeline has none of) and its "Writing model shards" bar are not for the user; restored afterwards."""
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def load_trained_sd1(pipe: Any) -> None:
    """Put the shipped weights (fp16 on disk) into an SD1 kind pipeline's UNet, VAE and text encoder, in place."""
    from safetensors.torch import load_file

    state = load_file(str(TRAINED_SD1))
    for part in ("unet", "vae", "text_encoder"):
        prefix = part + "."
        module = getattr(pipe, part)
        module.load_state_dict({k[len(prefix) :]: v.float() for k, v in state.items() if k.startswith(prefix)})


def _build(
    out_dir: Path,
    kind: TinyKind,
    seed: int,
    text_layers: int = TEXT_LAYERS,
    text_hidden_2: int = TEXT_HIDDEN,
    trained: bool = False,
) -> Path:
    import torch
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    with tempfile.TemporaryDirectory(prefix="tiny-tokenizer-") as tmp:
        _write_tokenizer(Path(tmp))
        # SD2's tokenizer pads with "!" (as SDXL's second one does), not with the end token.
        tokenizer = _load_tokenizer(Path(tmp), pad_token="!" if kind == "sd2" else "<|endoftext|>")
        tokenizer_2 = _load_tokenizer(Path(tmp), pad_token="!") if kind == "sdxl" else None

    # One seed per component, so that adding a component never changes another's weights.
    torch.manual_seed(seed)
    unet = _unet(kind, text_hidden_2)
    torch.manual_seed(seed + 1)
    vae = _vae(kind)
    torch.manual_seed(seed + 2)
    if kind == "sd2":  # OpenCLIP-H's activation, width and head size; "!" pads
        te_config = _text_config(layers=text_layers, hidden=SD2_TEXT_HIDDEN, heads=SD2_TEXT_HEADS, hidden_act="gelu",
                                 pad_token="!")  # fmt: skip
    else:
        te_config = _text_config(layers=text_layers)
    text_encoder = CLIPTextModel(te_config)
    # Any: diffusers' lazy-import module hides the pipelines' shared base (save_pretrained) from mypy.
    pipe: Any
    if kind in ("sd1", "sd2"):
        pipe = StableDiffusionPipeline(
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            unet=unet,
            scheduler=_scheduler("v_prediction" if kind == "sd2" else "epsilon"),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
    else:
        torch.manual_seed(seed + 3)
        text_encoder_2 = CLIPTextModelWithProjection(
            _text_config(projection_dim=text_hidden_2, hidden_act="gelu", layers=text_layers, hidden=text_hidden_2)
        )
        pipe = StableDiffusionXLPipeline(
            vae=vae,
            text_encoder=text_encoder,
            text_encoder_2=text_encoder_2,
            tokenizer=tokenizer,
            tokenizer_2=tokenizer_2,
            unet=unet,
            scheduler=_scheduler(),
        )
    if trained:
        load_trained_sd1(pipe)
    out_dir.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(out_dir, safe_serialization=True)
    # transformers 5 saves only tokenizer.json; keep the classic files too, for readers that want them.
    for sub in ("tokenizer", "tokenizer_2") if kind == "sdxl" else ("tokenizer",):
        _write_tokenizer(out_dir / sub)
    return out_dir


def tiny_pipeline_dir(kind: TinyKind = "sd1", *, paths: Paths | None = None) -> Path:
    """The cached tiny pipeline under ``<home>/cache/tiny-<kind>-<CACHE_VERSION>/``, built on first use: SD1 from
    the shipped trained weights, the other kinds (tests only) from seed 0."""
    target = (paths or load_settings().paths).cache / f"tiny-{kind}-{CACHE_VERSION}"
    if (target / "model_index.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the target and rename, so that a concurrent or interrupted build never leaves half a pipeline.
    staging = Path(tempfile.mkdtemp(prefix=f".tiny-{kind}-", dir=target.parent))
    try:
        build_tiny_pipeline(staging, kind=kind, seed=0, trained=kind == "sd1")
        try:
            os.replace(staging, target)
        except OSError:
            if not (target / "model_index.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
