"""Every knob of a training run, declared once: name, type, default, bounds or choices, help, where the CLI shows
it, whether the web form offers it; the presets that fill the ones a user leaves out; the checks.

From this one declaration come the ``hub train`` flags (cli/commands/train.py), ``hub.train(**options)``, the
web's start form, the validation (pydantic, built from the same fields) and the options table of
docs/training.md. Reading it needs the standard library only, so ``hub --help`` stays light.

A value given explicitly wins over the preset, which wins over the default; :func:`resolve_options` applies that
order so the run folder records the values actually used (and the recipe can name only what the user typed).
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from hub.errors import UsageError

REQUIRED: Any = dataclasses.MISSING
DATA, LORA, OPTIM, PRIOR, LOOK = "Data", "LoRA", "Optimisation", "Prior preservation", "Samples, checkpoints, resume"
DEFAULT_BLIP = "Salesforce/blip-image-captioning-large"

# Attention projections (diffusers' example); --conv adds the resnet convs (kohya's LoCon).
ATTENTION_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")
CONV_TARGETS = ("conv1", "conv2", "conv_shortcut")
TEXT_ENCODER_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj")


@dataclass(frozen=True)
class Opt:
    """How one option is shown and bounded (the type and default are the field's own)."""

    help: str
    panel: str = DATA
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    multiple_of: int | None = None
    flag: str | None = None  # the CLI flag when not --name-with-dashes
    off_flag: str | None = None  # a switch's "off" flag when not --no-name
    default_text: str | None = None  # what "unset" means, for an option whose default is computed
    web: bool = False  # offered by the web's start form


Optimizer = Literal["adamw", "adamw8bit", "prodigy"]
Scheduler = Literal["constant", "constant_with_warmup", "linear", "cosine", "cosine_with_restarts", "polynomial"]
Precision = Literal["no", "bf16", "fp16"]
Preset = Literal["cpu-tiny", "cpu-dreambooth", "8gb", "12gb", "24gb"]


@dataclass(frozen=True)
class TrainOptions:
    """The resolved options of one run (what ``run.json`` records and the metadata describes)."""

    images: Annotated[str, Opt("Folder of pictures, a .zip of one, or kohya's N_token layout.", web=True)]
    token: Annotated[str, Opt("The rare word the subject is bound to, e.g. sks.", web=True)]
    class_word: Annotated[str, Opt("What the subject is, e.g. dog.", web=True)]
    base: Annotated[str, Opt("tiny, a diffusers folder, a .safetensors/.ckpt or an HF id.", web=True)] = "tiny"
    name: Annotated[str | None, Opt("Registry name.", default_text="TOKEN-CLASS", web=True)] = None
    base_config: Annotated[str | None, Opt("Single-file base: a diffusers folder (or HF id) with its configs.")] = None
    preset: Annotated[Preset | None, Opt("Defaults sized for a machine.", OPTIM, web=True)] = None
    instance_prompt: Annotated[
        str | None, Opt("Caption of pictures without one.", default_text="a photo of TOKEN CLASS")
    ] = None
    class_prompt: Annotated[str | None, Opt("Prompt of class pictures.", PRIOR, default_text="a photo of CLASS")] = (
        None
    )
    # LoRA
    rank: Annotated[int, Opt("LoRA rank.", LORA, ge=1, web=True)] = 4
    alpha: Annotated[float | None, Opt("LoRA alpha (scale alpha / rank).", LORA, gt=0, default_text="rank")] = None
    dropout: Annotated[float, Opt("LoRA dropout.", LORA, ge=0, lt=1)] = 0.0
    conv: Annotated[bool, Opt("Also the resnet convs (LoCon).", LORA)] = False
    conv_rank: Annotated[int | None, Opt("Rank of the convs.", LORA, ge=1, default_text="rank")] = None
    train_text_encoder: Annotated[bool, Opt("LoRA on the text encoder(s) too.", LORA)] = False
    text_encoder_lr: Annotated[float | None, Opt("The text encoders' own rate.", LORA, gt=0, default_text="--lr")] = (
        None
    )
    # optimisation
    steps: Annotated[int, Opt("Optimizer steps.", OPTIM, gt=0, web=True)] = 500
    lr: Annotated[float, Opt("Learning rate.", OPTIM, gt=0, web=True)] = 1e-4
    optimizer: Annotated[Optimizer, Opt("adamw8bit needs a GPU and bitsandbytes, prodigy prodigyopt.", OPTIM)] = (
        "adamw"
    )
    weight_decay: Annotated[float, Opt("AdamW decay.", OPTIM, ge=0)] = 1e-2
    scheduler: Annotated[Scheduler, Opt("Learning-rate schedule (diffusers' get_scheduler).", OPTIM)] = "constant"
    warmup_steps: Annotated[int, Opt("Warm-up steps.", OPTIM, ge=0)] = 0
    grad_accum: Annotated[int, Opt("Micro-batches per optimizer step.", OPTIM, ge=1)] = 1
    max_grad_norm: Annotated[float, Opt("Gradient clipping norm (0 = off).", OPTIM, ge=0)] = 1.0
    batch_size: Annotated[int, Opt("Pictures per micro-batch per process.", OPTIM, ge=1)] = 1
    seed: Annotated[int, Opt("Seed of everything random.", OPTIM, ge=0, web=True)] = 0
    mixed_precision: Annotated[Precision, Opt("fp16 needs a GPU.", OPTIM)] = "no"
    gradient_checkpointing: Annotated[bool, Opt("Recompute activations: less memory, slower.", OPTIM)] = False
    min_snr_gamma: Annotated[float | None, Opt("Min-SNR weighting, e.g. 5.", OPTIM, gt=0, default_text="off")] = None
    noise_offset: Annotated[float, Opt("Offset noise, e.g. 0.05.", OPTIM, ge=0)] = 0.0
    # data
    resolution: Annotated[int, Opt("Training size in pixels.", ge=8, multiple_of=8, web=True)] = 512
    crop: Annotated[Literal["center", "random"], Opt("Crop of pictures that do not fit (random: uncached).")] = (
        "center"
    )
    flip: Annotated[bool, Opt("Random horizontal flips.")] = False
    buckets: Annotated[bool, Opt("Aspect-ratio buckets (kohya's rules).")] = False
    repeats: Annotated[int, Opt("Times each picture is seen per epoch.", ge=1)] = 1
    cache_latents: Annotated[bool, Opt("Encode pictures once.")] = True
    caption_dropout: Annotated[
        float, Opt("Share of captions trained as empty, as the base was (CFG stays calibrated).", ge=0, le=1)
    ] = 0.0
    caption: Annotated[Literal["blip"] | None, Opt("Write captions first with BLIP.", default_text="off")] = None
    caption_model: Annotated[str | None, Opt("Captioner: HF id or local folder.", default_text=DEFAULT_BLIP)] = None
    overwrite_captions: Annotated[bool, Opt("Replace existing caption files.", off_flag="--keep-captions")] = False
    # prior preservation
    prior_images: Annotated[int, Opt("Generate N class pictures (cached).", PRIOR, ge=0)] = 0
    prior_weight: Annotated[float, Opt("Weight of the prior loss.", PRIOR, ge=0)] = 1.0
    class_images: Annotated[str | None, Opt("Folder of class pictures.", PRIOR)] = None
    prior_from_base: Annotated[bool, Opt("Prior = the frozen base's own prediction.", PRIOR)] = False
    # looking at it
    sample_prompts: Annotated[
        list[str],
        Opt(
            "Prompt to sample (repeatable).",
            LOOK,
            flag="--sample-prompt",
            default_text="the instance prompt",
            web=True,
        ),
    ] = field(default_factory=list)
    sample_every: Annotated[int, Opt("Sample every N steps (0 = at the end only).", LOOK, ge=0, web=True)] = 0
    sample_steps: Annotated[int, Opt("Denoising steps of a sample.", LOOK, ge=1)] = 20
    checkpoint_every: Annotated[int, Opt("Checkpoint every N steps (0 = on Ctrl-C only).", LOOK, ge=0)] = 0
    checkpoint_limit: Annotated[int, Opt("Keep the newest N checkpoints (0 = all).", LOOK, ge=0)] = 3
    resume: Annotated[str | None, Opt("latest (this adapter's unfinished run), a run id, folder or .pt.", LOOK)] = None
    device: Annotated[str, Opt("auto, cpu or cuda[:N].", OPTIM)] = "auto"

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
        skip = {"images", "name", "sample_prompts", "sample_every", "sample_steps", "checkpoint_every",
                "checkpoint_limit", "resume", "device", "caption_model", "overwrite_captions"}  # fmt: skip
        return {k: v for k, v in self.as_dict().items() if k not in skip and v is not None}

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> TrainOptions:
        return resolve_options({**self.as_dict(), **changes})


@dataclass(frozen=True)
class Spec:
    """One declared option, as the CLI, the web form and the docs read it."""

    name: str
    type: Any  # the annotation without Annotated (e.g. int | None, Literal[...])
    default: Any  # REQUIRED when the option must be given
    opt: Opt

    @property
    def flag(self) -> str:
        return self.opt.flag or "--" + self.name.replace("_", "-")

    @property
    def is_switch(self) -> bool:
        return self.type is bool

    @property
    def off_flag(self) -> str:
        return self.opt.off_flag or "--no-" + self.flag[2:]

    @property
    def choices(self) -> tuple[str, ...]:
        args = [a for a in typing.get_args(self.type) if a is not type(None)]
        literal = self.type if typing.get_origin(self.type) is Literal else next(
            (a for a in args if typing.get_origin(a) is Literal), None)  # fmt: skip
        return tuple(typing.get_args(literal)) if literal is not None else ()

    @property
    def default_text(self) -> str:
        """The default as the help and the docs show it."""
        if self.opt.default_text:
            return self.opt.default_text
        if self.default is REQUIRED:
            return "required"
        if self.is_switch:
            return "on" if self.default else "off"
        if self.default is None:
            return "none"
        return f"{self.default:g}" if isinstance(self.default, float) else str(self.default)

    @property
    def help_text(self) -> str:
        bounds = f" One of: {', '.join(self.choices)}." if self.choices else ""
        return f"{self.opt.help}{bounds} [{self.default_text}]" if self.default is not REQUIRED else self.opt.help


@functools.cache
def option_specs() -> tuple[Spec, ...]:
    hints = typing.get_type_hints(TrainOptions, include_extras=True)
    specs = []
    for f in dataclasses.fields(TrainOptions):
        annotated = hints[f.name]
        kind, opt = typing.get_args(annotated)[:2]
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        specs.append(Spec(f.name, kind, default, opt))
    return tuple(specs)


def options_table() -> str:
    """The docs' table of every option (docs/training.md, generated with cog)."""
    rows = ["| flag | default | what |", "|---|---|---|"]
    for s in option_specs():
        flag = f"`{s.flag}` / `{s.off_flag}`" if s.is_switch else f"`{s.flag}`"
        choices = f" One of: {', '.join(s.choices)}." if s.choices else ""
        bounds = []
        for word, value in (("> ", s.opt.gt), ("≥ ", s.opt.ge), ("< ", s.opt.lt), ("≤ ", s.opt.le)):
            if value is not None:
                bounds.append(f"{word}{value:g}")
        if s.opt.multiple_of:
            bounds.append(f"multiple of {s.opt.multiple_of}")
        limits = f" ({', '.join(bounds)})" if bounds else ""
        rows.append(f"| {flag} | {s.default_text} | {s.opt.help}{choices}{limits} |")
    return "\n".join(rows) + "\n"


# Presets: the CPU ones run on the tiny base (cpu-tiny: seconds, a smoke run; cpu-dreambooth: a minute, a subject
# learned); the GPU ones are sized for their memory budget at the base's native resolution (SD1.5 at 512 px; SDXL
# users pass --resolution 1024 with 24gb).
PRESETS: dict[str, dict[str, Any]] = {
    "cpu-tiny": {"steps": 30, "lr": 5e-4, "rank": 4, "resolution": 64, "batch_size": 1, "sample_steps": 4},
    # DreamBooth on the tiny base: a subject it cannot draw, learned in about a minute on one CPU core
    # (docs/training.md: the measured rates; tests/train/test_dreambooth.py).
    "cpu-dreambooth": {
        "steps": 400,
        "lr": 1e-3,
        "rank": 8,
        "resolution": 64,
        "batch_size": 4,
    },
    "8gb": {
        "steps": 800,
        "rank": 16,
        "mixed_precision": "fp16",
        "gradient_checkpointing": True,
        "optimizer": "adamw8bit",
    },
    "12gb": {"steps": 800, "rank": 32, "batch_size": 2, "mixed_precision": "fp16", "gradient_checkpointing": True},
    "24gb": {
        "steps": 1000,
        "rank": 32,
        "resolution": 768,
        "batch_size": 4,
        "mixed_precision": "bf16",
        "train_text_encoder": True,
        "text_encoder_lr": 5e-5,
    },
}
assert set(PRESETS) == set(typing.get_args(Preset))


@functools.cache
def _validator() -> Any:
    """A pydantic model of the declared fields and bounds (built on first use: pydantic is not loaded before)."""
    from pydantic import ConfigDict, Field, create_model

    fields: dict[str, Any] = {}
    for s in option_specs():
        names = ("gt", "ge", "lt", "le", "multiple_of")
        bounds = {k: getattr(s.opt, k) for k in names if getattr(s.opt, k) is not None}
        default = ... if s.default is REQUIRED else s.default
        fields[s.name] = (s.type, Field(default, **bounds))
    config = ConfigDict(extra="forbid", allow_inf_nan=False)
    return create_model("TrainOptionsModel", __config__=config, **fields)


_WANTED = {  # pydantic error type -> what the option must be
    "int_parsing": "a whole number", "int_from_float": "a whole number", "int_type": "a whole number",
    "float_parsing": "a finite number", "float_type": "a finite number", "finite_number": "a finite number",
    "bool_parsing": "true or false", "bool_type": "true or false", "string_type": "text",
    "list_type": "a list of strings",
}  # fmt: skip


def _usage_error(error: Any) -> UsageError:
    """The first of pydantic's errors as one line naming the flag."""
    errors = error.errors()
    missing = [str(e["loc"][0]) for e in errors if e["type"] == "missing"]
    if missing:
        return UsageError(f"missing training option(s): {', '.join(missing)}")
    unknown = [str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden"]
    if unknown:
        return UsageError(f"unknown training option(s): {', '.join(sorted(unknown))}")
    e = errors[0]
    flag = next((s.flag for s in option_specs() if s.name == e["loc"][0]), str(e["loc"][0]))
    ctx = e.get("ctx", {})
    kind = e["type"]
    if kind == "greater_than" and ctx.get("gt") == 0:
        wanted = "positive"
    elif kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        wanted = {"greater_than": "more than", "greater_than_equal": "at least", "less_than": "less than",
                  "less_than_equal": "at most"}[kind]  # fmt: skip
        wanted += f" {next(iter(ctx.values()))}"
    elif kind == "multiple_of":
        wanted = f"a multiple of {ctx['multiple_of']} (the VAE works in 8-pixel cells)"
    elif kind == "literal_error":
        wanted = f"one of {ctx['expected']}"
    else:
        wanted = _WANTED.get(kind, e["msg"])
    return UsageError(f"bad training option: {flag} must be {wanted}, got {e['input']!r}")


def resolve_options(given: dict[str, Any]) -> TrainOptions:
    """Explicit values (``None`` = not given) over the preset over the defaults, then checked."""
    from pydantic import ValidationError

    explicit = {k: v for k, v in given.items() if v is not None}
    values: dict[str, Any] = {}
    preset = explicit.get("preset")
    if preset:
        if preset not in PRESETS:
            raise UsageError(f"unknown preset {preset!r}", hint=f"one of: {', '.join(PRESETS)}")
        values.update(PRESETS[preset])
    values.update(explicit)
    try:
        checked = _validator().model_validate(values)
    except ValidationError as e:
        raise _usage_error(e) from None
    o = TrainOptions(**dict(checked))
    check_options(o)
    return o


def check_options(o: TrainOptions) -> None:
    """Refuse what the bounds cannot say, each with one line that says why."""
    if not o.token.strip() or not o.class_word.strip():
        raise UsageError("--token and --class-word must not be empty", hint="e.g. --token sks --class-word dog")
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
