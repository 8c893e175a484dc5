"""Set a run up and train it: the base pipeline, class pictures, cached latents and embeddings, LoRA layers,
optimizer and schedule, a resumed state; then the loop and the final samples. Runs on every process of a
distributed run; only the main one writes files.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.bases.api import BaseInfo
from hub.errors import DependencyError, UsageError
from hub.paths import Paths
from hub.train.batches import BatchPlan
from hub.train.dataset import Dataset, Item, check_sizes
from hub.train.loop import OnStep, Session, StopFlag, sample, train_steps
from hub.train.memory import drop_unused
from hub.train.model import add_lora, encode_prompts, load_components, load_lora_state, to_lora_set
from hub.train.options import TrainOptions
from hub.train.prepare import embed_captions, prepare_pictures
from hub.train.prior import cached_class_images, class_image_folder, generate_class_images
from hub.train.runs import RunFolder

if TYPE_CHECKING:
    from hub.models import Progress


@dataclass
class FitOutcome:
    lora_set: Any
    rows: list[Any]
    samples: list[Path]
    seconds: float
    n_reg: int
    class_generated: int = 0
    class_folder: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def weight_dtype(o: TrainOptions) -> Any:
    import torch

    return {"no": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[o.mixed_precision]


def _optimizer(o: TrainOptions, groups: list[dict[str, Any]], device: Any) -> Any:
    import torch

    if o.optimizer == "adamw":
        return torch.optim.AdamW(groups, betas=(0.9, 0.999), weight_decay=o.weight_decay, eps=1e-8)
    if o.optimizer == "adamw8bit":
        if getattr(device, "type", "cpu") != "cuda":
            raise UsageError("8-bit AdamW needs a CUDA GPU", hint="--optimizer adamw on a CPU")
        try:
            import bitsandbytes as bnb  # type: ignore[import-not-found]
        except ImportError:
            raise DependencyError("8-bit AdamW needs bitsandbytes", hint="pip install bitsandbytes") from None
        return bnb.optim.AdamW8bit(groups, betas=(0.9, 0.999), weight_decay=o.weight_decay)
    try:
        from prodigyopt import Prodigy  # type: ignore[import-not-found]
    except ImportError:
        raise DependencyError("--optimizer prodigy needs prodigyopt", hint="pip install prodigyopt") from None
    return Prodigy(groups, weight_decay=o.weight_decay, safeguard_warmup=True)


def _class_items(
    o: TrainOptions, c: Any, base: BaseInfo, paths: Paths, accelerator: Any
) -> tuple[list[Item], int, Path]:
    folder = class_image_folder(paths, base.ref, base.path, o.class_text, o.resolution, o.seed)
    made = 0
    if accelerator.is_main_process:
        made = generate_class_images(
            c.pipe, folder, count=o.prior_images, prompt=o.class_text, resolution=o.resolution, seed=o.seed
        )
    accelerator.wait_for_everyone()
    images = cached_class_images(folder)[: o.prior_images]
    return [Item(p, o.class_text) for p in images], made, folder


def fit(
    o: TrainOptions,
    ds: Dataset,
    base: BaseInfo,
    pipe: Any,
    *,
    accelerator: Any,
    run: RunFolder | None,
    paths: Paths,
    stop: StopFlag,
    progress: Progress | None,
    on_step: OnStep | None,
    resume: dict[str, Any] | None,
) -> FitOutcome:
    import torch
    from diffusers.optimization import get_scheduler

    started = time.perf_counter()
    device = accelerator.device
    c = load_components(pipe, base.arch, weight_dtype(o), device)
    reg_items = list(ds.reg)
    made, class_folder = 0, None
    if o.prior_images:
        generated, made, class_folder = _class_items(o, c, base, paths, accelerator)
        reg_items += check_sizes(generated, o.resolution)
    cache = o.cache_latents and o.crop == "center"
    inst = prepare_pictures(ds.instance, o, c, device, cache=cache)
    reg = prepare_pictures(reg_items, o, c, device, cache=cache) if reg_items else None
    class_embeds = sample_embeds = None
    if not o.train_text_encoder:  # frozen encoders: every prompt encoded once, never again per step
        embed_captions(inst, c, device)
        if reg is not None:
            embed_captions(reg, c, device)
        with torch.no_grad():
            prompts = o.prompts_to_sample
            sample_embeds = (
                encode_prompts(c, c.text_encoders, prompts, device),
                encode_prompts(c, c.text_encoders, [""] * len(prompts), device),
            )
            if o.prior_from_base:
                class_embeds = encode_prompts(c, c.text_encoders, [o.class_text], device)
    # Frozen encoders: every prompt is encoded; cached latents: the VAE only decodes samples from here on.
    drop_unused(c, encoders=not o.train_text_encoder, vae_encoder=cache)
    torch.manual_seed(o.seed)  # the LoRA factors' initial values: the same seed, the same run
    add_lora(c, o)
    if o.gradient_checkpointing:
        c.unet.enable_gradient_checkpointing()
        if o.train_text_encoder:
            for e in c.text_encoders:
                e.gradient_checkpointing_enable()
    groups: list[dict[str, Any]] = [{"params": c.trainable["unet"], "lr": o.lr}]
    if o.train_text_encoder:
        groups.append({"params": c.trainable["text_encoder"], "lr": o.text_encoder_lr or o.lr})
    optimizer = _optimizer(o, groups, device)
    lr_scheduler = get_scheduler(o.scheduler, optimizer, num_warmup_steps=o.warmup_steps, num_training_steps=o.steps)
    models = {"unet": c.unet} | {
        ("text_encoder" if i == 0 else f"text_encoder_{i + 1}"): e
        for i, e in enumerate(c.text_encoders)
        if o.train_text_encoder
    }
    if resume is not None:
        load_lora_state(models, resume["lora"])
        optimizer.load_state_dict(resume["optimizer"])
        lr_scheduler.load_state_dict(resume["scheduler"])
    if o.train_text_encoder:
        unet, optimizer, *encoders = accelerator.prepare(c.unet, optimizer, *c.text_encoders)
    else:
        unet, optimizer = accelerator.prepare(c.unet, optimizer)
        encoders = c.text_encoders
    per_step = o.batch_size * o.grad_accum * accelerator.num_processes
    plan = BatchPlan(seed=o.seed, batch_size=per_step, groups=tuple(inst.buckets), repeats=tuple(inst.repeats))
    params = [p for g in groups for p in g["params"]]
    s = Session(
        o=o,
        c=c,
        accelerator=accelerator,
        device=device,
        inst=inst,
        reg=reg,
        class_embeds=class_embeds,
        sample_embeds=sample_embeds,
        unet=unet,
        encoders=encoders,
        models=models,
        params=params,
        optimizer=optimizer,
        lr_scheduler=lr_scheduler,
        plan=plan,
        run=run,
        stop=stop,
        progress=progress,
        on_step=on_step,
    )
    start = 0
    if resume is not None:
        start = int(resume["step"])
        if run is not None:
            s.rows = [r for r in run.log_rows() if r.step <= start]
    train_steps(s, start)
    sample(s, o.steps)
    accelerator.wait_for_everyone()
    lora_set = to_lora_set({k: accelerator.unwrap_model(m) for k, m in models.items()}, base.arch)
    return FitOutcome(
        lora_set=lora_set,
        rows=s.rows,
        samples=s.samples,
        seconds=time.perf_counter() - started,
        n_reg=len(reg_items),
        class_generated=made,
        class_folder=str(class_folder) if class_folder else None,
    )
