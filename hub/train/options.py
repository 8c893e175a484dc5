"""Every knob of a training run, the presets that fill the ones a user leaves out, and the checks made before
anything heavy is loaded.

A stdlib dataclass, not pydantic: a training process imports no pydantic until its steps are over (its ~6 MB
would sit on top of the peak; benchmarks/bench_train.py), so :func:`resolve_options` checks the types itself.

A value given explicitly wins over the preset, which wins over the default; :func:`resolve_options` applies that
order so the run folder records the values actually used (and the recipe can name only what the user typed).
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

from hub.errors import UsageError

Precision = Literal["no", "bf16", "fp16"]
SCHEDULERS = ("constant", "constant_with_warmup", "linear", "cosine", "cosine_with_restarts", "polynomial")
OPTIMIZERS = ("adamw", "adamw8bit", "prodigy")
CAPTIONERS = ("blip",)
DEFAULT_BLIP = "Salesforce/blip-image-captioning-large"

# Attention projections (diffusers' example); --conv adds the resnet convs (kohya's LoCon).
ATTENTION_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")
CONV_TARGETS = ("conv1", "conv2", "conv_shortcut")
TEXT_ENCODER_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj")


@dataclass(frozen=True)
class TrainOptions:
    """The resolved options of one run (what ``run.json`` records and the metadata describes)."""

    images: str
    token: str
    class_word: str
    base: str = "tiny"
    base_config: str | None = None  # single-file bases: a diffusers folder / HF id with the configs
    name: str | None = None
    instance_prompt: str | None = None  # default "a photo of {token} {class_word}"
    class_prompt: str | None = None  # default "a photo of {class_word}"
    # LoRA
    rank: int = 4
    alpha: float | None = None  # default: rank (scale 1, as diffusers' example)
    dropout: float = 0.0
    conv: bool = False
    conv_rank: int | None = None
    train_text_encoder: bool = False
    text_encoder_lr: float | None = None
    # optimisation
    steps: int = 500
    lr: float = 1e-4
    optimizer: str = "adamw"
    weight_decay: float = 1e-2
    scheduler: str = "constant"
    warmup_steps: int = 0
    grad_accum: int = 1
    max_grad_norm: float = 1.0
    batch_size: int = 1
    seed: int = 0
    mixed_precision: Precision = "no"
    gradient_checkpointing: bool = False
    min_snr_gamma: float | None = None
    noise_offset: float = 0.0
    # data
    resolution: int = 512
    crop: Literal["center", "random"] = "center"
    flip: bool = False
    buckets: bool = False
    repeats: int = 1
    cache_latents: bool = True
    caption: str | None = None  # blip
    caption_model: str | None = None
    overwrite_captions: bool = False
    # prior preservation
    prior_images: int = 0
    prior_weight: float = 1.0
    class_images: str | None = None
    prior_from_base: bool = False
    # looking at it
    sample_prompts: list[str] = field(default_factory=list)
    sample_every: int = 0
    sample_steps: int = 20
    checkpoint_every: int = 0
    checkpoint_limit: int = 3
    resume: str | None = None
    device: str = "auto"
    preset: str | None = None

    @property
    def instance_text(self) -> str:
        return self.instance_prompt or f"a photo of {self.token} {self.class_word}"

    @property
    def class_text(self) -> str:
        return self.class_prompt or f"a photo of {self.class_word}"

    @property
    def adapter_name(self) -> str:
        """The registry name: ``--name``, else TOKEN-CLASS."""
        return self.name or f"{self.token}-{self.class_word}".replace(" ", "-")

    @property
    def lora_alpha(self) -> float:
        return float(self.alpha if self.alpha is not None else self.rank)

    @property
    def prompts_to_sample(self) -> list[str]:
        return list(self.sample_prompts) or [self.instance_text]

    @property
    def uses_prior(self) -> bool:
        return self.prior_images > 0 or self.class_images is not None or self.prior_from_base

    def hyperparameters(self) -> dict[str, Any]:
        """What the lineage edge records: everything that shapes the weights (not where they are looked at)."""
        skip = {
            "images",
            "name",
            "sample_prompts",
            "sample_every",
            "sample_steps",
            "checkpoint_every",
            "checkpoint_limit",
            "resume",
            "device",
            "caption_model",
            "overwrite_captions",
        }
        return {k: v for k, v in self.as_dict().items() if k not in skip and v is not None}

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> TrainOptions:
        return dataclasses.replace(self, **changes)


OPTION_NAMES = tuple(f.name for f in dataclasses.fields(TrainOptions))
_TYPES = typing.get_type_hints(TrainOptions)


# Presets: the CPU one finishes in seconds on the tiny base; the GPU ones are sized for their memory budget at
# the base's native resolution (SD1.5 at 512 px; SDXL users pass --resolution 1024 with 24gb).
PRESETS: dict[str, dict[str, Any]] = {
    "cpu-tiny": {
        "steps": 30,
        "lr": 5e-4,
        "rank": 4,
        "resolution": 64,
        "batch_size": 1,
        "sample_steps": 4,
        "cache_latents": True,
        "mixed_precision": "no",
    },
    "8gb": {
        "steps": 800,
        "lr": 1e-4,
        "rank": 16,
        "resolution": 512,
        "batch_size": 1,
        "mixed_precision": "fp16",
        "gradient_checkpointing": True,
        "optimizer": "adamw8bit",
        "cache_latents": True,
    },
    "12gb": {
        "steps": 800,
        "lr": 1e-4,
        "rank": 32,
        "resolution": 512,
        "batch_size": 2,
        "mixed_precision": "fp16",
        "gradient_checkpointing": True,
        "cache_latents": True,
    },
    "24gb": {
        "steps": 1000,
        "lr": 1e-4,
        "rank": 32,
        "resolution": 768,
        "batch_size": 4,
        "mixed_precision": "bf16",
        "train_text_encoder": True,
        "text_encoder_lr": 5e-5,
        "cache_latents": True,
    },
}


def resolve_options(given: dict[str, Any]) -> TrainOptions:
    """Explicit values (``None`` = not given) over the preset over the defaults, then checked."""
    explicit = {k: v for k, v in given.items() if v is not None}
    preset = explicit.get("preset")
    values: dict[str, Any] = {}
    if preset:
        if preset not in PRESETS:
            raise UsageError(f"unknown preset {preset!r}", hint=f"one of: {', '.join(PRESETS)}")
        values.update(PRESETS[preset])
    values.update(explicit)
    unknown = set(values) - set(OPTION_NAMES)
    if unknown:
        raise UsageError(f"unknown training option(s): {', '.join(sorted(unknown))}")
    missing = [n for n in ("images", "token", "class_word") if n not in values]
    if missing:
        raise UsageError(f"missing training option(s): {', '.join(missing)}")
    opts = TrainOptions(**{k: _checked(k, v) for k, v in values.items()})
    check_options(opts)
    return opts


def _checked(name: str, value: Any) -> Any:
    """``value`` as the type option ``name`` declares (what a CLI or JSON caller gives: 5 for 5.0, 5.0 for 5),
    or a one-line UsageError naming the option."""
    kind = _TYPES[name]
    if value is None:
        if type(None) in typing.get_args(kind):
            return None
        raise _bad(name, value, "a value")
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) is Literal:
        if value in args:
            return value
        raise _bad(name, value, " or ".join(repr(a) for a in args))
    base = args[0] if typing.get_origin(kind) is not list and args else kind
    if typing.get_origin(kind) is list:
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return list(value)
        raise _bad(name, value, "a list of strings")
    if base is bool:
        if isinstance(value, bool) or value in (0, 1):
            return bool(value)
        raise _bad(name, value, "true or false")
    if base is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise _bad(name, value, "a whole number")
    if base is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        raise _bad(name, value, "a finite number")
    if base is str:
        if isinstance(value, str):
            return value
        raise _bad(name, value, "text")
    raise AssertionError(f"option {name} has a type _checked does not know: {kind}")


def _bad(name: str, value: Any, wanted: str) -> UsageError:
    return UsageError(f"bad training option: --{name.replace('_', '-')} must be {wanted}, got {value!r}")


def _positive(name: str, value: float) -> None:
    if value <= 0:
        raise UsageError(f"--{name.replace('_', '-')} must be positive, got {value:g}")


def check_options(o: TrainOptions) -> None:
    """Refuse what cannot work, each with one line that says why."""
    for name in ("steps", "lr", "rank", "batch_size", "grad_accum", "resolution", "repeats"):
        _positive(name, getattr(o, name))
    if not o.token.strip() or not o.class_word.strip():
        raise UsageError("--token and --class-word must not be empty", hint="e.g. --token sks --class-word dog")
    if o.resolution % 8:
        raise UsageError(f"--resolution must be a multiple of 8 (the VAE works in 8-pixel cells), got {o.resolution}")
    if o.optimizer not in OPTIMIZERS:
        raise UsageError(f"unknown optimizer {o.optimizer!r}", hint=f"one of: {', '.join(OPTIMIZERS)}")
    if o.scheduler not in SCHEDULERS:
        raise UsageError(f"unknown scheduler {o.scheduler!r}", hint=f"one of: {', '.join(SCHEDULERS)}")
    if o.caption is not None and o.caption not in CAPTIONERS:
        raise UsageError(f"unknown captioner {o.caption!r}", hint="--caption blip (BLIP captions, transformers)")
    if not 0 <= o.dropout < 1:
        raise UsageError(f"--dropout must be in [0, 1), got {o.dropout:g}")
    if o.warmup_steps < 0 or o.prior_images < 0 or o.sample_every < 0 or o.checkpoint_every < 0:
        raise UsageError("step counts and image counts must not be negative")
    if o.prior_from_base and (o.prior_images or o.class_images):
        raise UsageError("--prior-from-base needs no class images", hint="drop --prior-images/--class-images")
    if o.prior_from_base and o.train_text_encoder:
        raise UsageError("--prior-from-base trains the UNet only", hint="drop --train-text-encoder")
    if o.crop == "random" and o.buckets:
        raise UsageError("--crop random and --buckets do not mix", hint="buckets keep each picture's aspect ratio")


def check_device(o: TrainOptions, device: str) -> None:
    if o.mixed_precision == "fp16" and device == "cpu":
        raise UsageError(
            "fp16 training needs a GPU: CPUs have no fast fp16 and its loss scaling is CUDA-only",
            hint="--mixed-precision bf16 or no on a CPU",
        )
