"""The training loop, top to bottom: set-up (the base's components, class pictures, latents and prompt embeddings
computed once, LoRA layers, optimizer, schedule, a resumed state); the steps (each one ``grad_accum`` micro-batches
on every process, one loss for every batch shape: hub.train.loss); logging, samples and checkpoints; the trained
factors. Runs on every process of a distributed run; only the main one writes the run folder.

NaN/inf stops the run (exit 2); Ctrl-C stops it at a step boundary with a checkpoint (exit 130).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.bases.api import BaseInfo
from hub.errors import DependencyError, HubError, UsageError
from hub.paths import Paths
from hub.train.batches import CLASS, INSTANCE, BatchPlan, class_index, picture_generators, step_seed
from hub.train.dataset import Dataset, Item, check_sizes
from hub.train.loss import Part, batch_loss, draw_noise
from hub.train.memory import drop_unused
from hub.train.model import (
    Components,
    PromptEmbeds,
    add_lora,
    encode_prompts,
    load_components,
    load_lora_state,
    lora_state,
    sdxl_time_ids,
    set_lora_enabled,
    to_lora_set,
)  # fmt: skip
from hub.train.options import TrainOptions
from hub.train.pictures import grid, save_png
from hub.train.prepare import Pictures, embed_captions, latents_for, prepare_pictures
from hub.train.prior import cached_class_images, class_image_folder, generate_class_images
from hub.train.runs import LogRow, RunFolder

if TYPE_CHECKING:
    from hub.models import Progress

OnStep = Callable[[LogRow], None]  # every logged step (step, loss, lr, seconds), after it is written


class TrainingDiverged(UsageError):
    """The loss became NaN or infinite: the options (rate, precision) do not suit these pictures (exit 2)."""


class TrainingInterrupted(HubError):
    """Ctrl-C: stopped at a step boundary, a checkpoint written."""

    exit_code = 130


@dataclass
class StopFlag:
    requested: bool = False


@dataclass
class FitOutcome:
    lora_set: Any
    rows: list[LogRow]
    samples: list[Path]
    seconds: float
    n_reg: int
    class_generated: int = 0


def weight_dtype(o: TrainOptions) -> Any:
    import torch

    return {"no": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[o.mixed_precision]


def make_optimizer(o: TrainOptions, groups: list[dict[str, Any]]) -> Any:
    import torch

    if o.optimizer == "adamw":
        return torch.optim.AdamW(groups, betas=(0.9, 0.999), weight_decay=o.weight_decay, eps=1e-8)
    if o.optimizer == "adamw8bit":  # a CUDA device and the package: checked by hub.train.preflight
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


def predict(c: Components, unet: Any, noisy: Any, t: Any, cond: PromptEmbeds) -> Any:
    """The UNet's output for noisy latents (SDXL: with its pooled text and size conditioning)."""
    kwargs: dict[str, Any] = {}
    if c.is_sdxl:
        h, w = noisy.shape[-2] * 8, noisy.shape[-1] * 8
        time_ids = sdxl_time_ids((w, h), noisy.shape[0], noisy.device, cond.embeds.dtype)
        kwargs["added_cond_kwargs"] = {"text_embeds": cond.pooled, "time_ids": time_ids}
    dtype = next(iter(c.unet.parameters())).dtype
    return unet(noisy.to(dtype), t, encoder_hidden_states=cond.embeds.to(dtype), return_dict=False, **kwargs)[0]


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

    acc = accelerator
    started = time.perf_counter()
    device = acc.device
    rank, world = acc.process_index, acc.num_processes

    # ------------------------------------------------------------------ set-up
    c = load_components(pipe, base.arch, weight_dtype(o), device)
    reg_items, made = list(ds.reg), 0
    if o.prior_images:  # class pictures from the base itself, generated once per (base, prompt, size, seed)
        folder = class_image_folder(paths, base.ref, base.path, o.class_text, o.resolution, o.seed)
        if acc.is_main_process:
            made = generate_class_images(c.pipe, folder, count=o.prior_images, prompt=o.class_text,
                                         resolution=o.resolution, seed=o.seed)  # fmt: skip
        acc.wait_for_everyone()
        generated = [Item(p, o.class_text) for p in cached_class_images(folder)[: o.prior_images]]
        reg_items += check_sizes(generated, o.resolution)
    cache = o.cache_latents and o.crop == "center"
    inst = prepare_pictures(ds.instance, o, c, device, cache=cache)
    reg = prepare_pictures(reg_items, o, c, device, cache=cache) if reg_items else None
    class_embeds = sample_embeds = empty = None
    if not o.train_text_encoder:  # frozen encoders: every prompt encoded once, never again per step
        embed_captions(inst, c, device)
        if reg is not None:
            embed_captions(reg, c, device)
        with torch.no_grad():
            empty = encode_prompts(c, c.text_encoders, [""], device)  # a dropped caption (--caption-dropout)
            prompts = o.prompts_to_sample
            sample_embeds = (encode_prompts(c, c.text_encoders, prompts, device),
                             encode_prompts(c, c.text_encoders, [""] * len(prompts), device))  # fmt: skip
            if o.prior_from_base:
                class_embeds = encode_prompts(c, c.text_encoders, [o.class_text], device)
    drop_unused(c, encoders=not o.train_text_encoder, vae_encoder=cache)  # the VAE only decodes samples now
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
    optimizer = make_optimizer(o, groups)
    lr_scheduler = get_scheduler(o.scheduler, optimizer, num_warmup_steps=o.warmup_steps, num_training_steps=o.steps)
    models = {"unet": c.unet} | {
        ("text_encoder" if i == 0 else f"text_encoder_{i + 1}"): e
        for i, e in enumerate(c.text_encoders)
        if o.train_text_encoder
    }
    start, rows, samples = 0, [], []
    if resume is not None:
        load_lora_state(models, resume["lora"])
        optimizer.load_state_dict(resume["optimizer"])
        lr_scheduler.load_state_dict(resume["scheduler"])
        start = int(resume["step"])
        rows = [r for r in run.log_rows() if r.step <= start] if run is not None else []
    if o.train_text_encoder:
        unet, optimizer, *encoders = acc.prepare(c.unet, optimizer, *c.text_encoders)
    else:
        unet, optimizer = acc.prepare(c.unet, optimizer)
        encoders = c.text_encoders
    per_step = o.batch_size * o.grad_accum * world  # pictures per optimizer step, over every process
    plan = BatchPlan(seed=o.seed, batch_size=per_step, groups=tuple(inst.buckets), repeats=tuple(inst.repeats))
    params = [p for g in groups for p in g["params"]]

    def conditioning(pics: Pictures, index: list[int], dropped: list[bool]) -> PromptEmbeds:
        if pics.embeds is not None:
            sel = pics.embeds.select(torch.tensor(index, dtype=torch.long))
            embeds, pooled = sel.embeds.clone(), None if sel.pooled is None else sel.pooled.clone()
            if empty is not None:
                for row in (r for r, drop in enumerate(dropped) if drop):
                    embeds[row] = empty.embeds[0]
                    if pooled is not None and empty.pooled is not None:
                        pooled[row] = empty.pooled[0]
            return PromptEmbeds(embeds.to(device), None if pooled is None else pooled.to(device))
        captions = ["" if drop else pics.captions[i] for i, drop in zip(index, dropped, strict=True)]
        return encode_prompts(c, encoders, captions, device)

    def part(pics: Pictures, index: list[int], gens: list[Any]) -> Part:
        latents = latents_for(pics, index, gens, o, c, device)
        noise, t = draw_noise(gens, tuple(latents.shape[1:]), o, c.noise_scheduler.config.num_train_timesteps)
        # Drawn only when asked for, so that runs without it draw exactly what they always did.
        dropped = [bool(torch.rand(1, generator=g) < o.caption_dropout) if o.caption_dropout else False for g in gens]
        return Part(latents, conditioning(pics, index, dropped), noise.to(device), t.to(device))

    def frozen_base(noisy: Any, t: Any, cond: PromptEmbeds) -> Any:
        """--prior-from-base: what the base predicts with the LoRA layers off."""
        net = acc.unwrap_model(unet)
        set_lora_enabled([net], False)
        try:
            return predict(c, net, noisy, t, cond).float()
        finally:
            set_lora_enabled([net], True)

    def micro_loss(step: int, micro: int) -> Any:
        """This process's share of micro-step ``micro``: positions (micro × world + rank) × batch ... of the
        step's batch, each picture drawing from its own generator."""
        first = (micro * world + rank) * o.batch_size
        positions = list(range(first, first + o.batch_size))
        index = [plan.batch(step)[p] for p in positions]
        inst_part = part(inst, index, picture_generators(o.seed, step, positions, INSTANCE))
        prior, frozen = None, None
        if reg is not None:
            paired = [class_index(o.seed, step * per_step + p, len(reg)) for p in positions]
            prior = part(reg, paired, picture_generators(o.seed, step, positions, CLASS))
        elif class_embeds is not None:  # the same noisy latents, the class prompt, the frozen base's target
            k, n = class_embeds, len(positions)
            cond = PromptEmbeds(k.embeds.expand(n, -1, -1).to(device),
                                None if k.pooled is None else k.pooled.expand(n, -1).to(device))  # fmt: skip
            prior, frozen = Part(inst_part.latents, cond, inst_part.noise, inst_part.t), frozen_base
        return batch_loss(c, o, lambda x, t, k: predict(c, unet, x, t, k), inst_part, prior, frozen)

    def sample(step: int) -> None:
        """One grid of the sample prompts (the same seeds every time, so grids compare), by the main process."""
        acc.wait_for_everyone()
        if run is not None:
            unet.eval()
            kwargs: dict[str, Any] = {"num_inference_steps": o.sample_steps, "height": inst.sizes[0][1],
                                      "width": inst.sizes[0][0], "output_type": "pil"}  # fmt: skip
            if sample_embeds is not None:
                pos, neg = sample_embeds
                kwargs.update(prompt_embeds=pos.embeds.to(device), negative_prompt_embeds=neg.embeds.to(device))
                if pos.pooled is not None and neg.pooled is not None:
                    kwargs.update(pooled_prompt_embeds=pos.pooled.to(device),
                                  negative_pooled_prompt_embeds=neg.pooled.to(device))  # fmt: skip
            else:
                kwargs["prompt"] = o.prompts_to_sample
            kwargs["generator"] = [torch.Generator().manual_seed(o.seed + i) for i in range(len(o.prompts_to_sample))]
            with torch.no_grad(), acc.autocast():
                images = c.pipe(**kwargs).images
            unet.train()
            samples.append(save_png(grid(images, labels=o.prompts_to_sample, title=f"step {step}"),
                                    run.samples / f"step-{step:06d}.png"))  # fmt: skip
        acc.wait_for_everyone()

    last_checkpoint: list[Path] = []

    def checkpoint(step: int) -> None:
        acc.wait_for_everyone()
        if run is not None:
            state = {"lora": lora_state(models), "optimizer": optimizer.state_dict(),
                     "scheduler": lr_scheduler.state_dict()}  # fmt: skip
            last_checkpoint[:] = [run.save_checkpoint(step, state, keep=o.checkpoint_limit)]

    # ------------------------------------------------------------------ the steps
    began = time.perf_counter() - (rows[-1].seconds if rows else 0.0)
    unet.train()
    for step in range(start, o.steps):
        # LoRA dropout draws from torch's global generator: seeded per step so a resumed run draws the same.
        torch.manual_seed(step_seed(o.seed, 5, step, rank))
        total = torch.zeros(2)
        for micro in range(o.grad_accum):
            with acc.accumulate(unet):
                loss = micro_loss(step, micro)
                acc.backward(loss)
                if acc.sync_gradients and o.max_grad_norm > 0:
                    acc.clip_grad_norm_(params, o.max_grad_norm)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            total[0] += loss.detach().float().cpu() / o.grad_accum
        lr = float(lr_scheduler.get_last_lr()[0])  # the rate this step was taken at
        lr_scheduler.step()

        # ---- logging: one gather per step, the mean loss over processes and whether any was asked to stop
        total[1] = float(stop.requested)
        gathered = acc.gather(total.to(device)).reshape(-1, 2).cpu()
        mean_loss, done = float(gathered[:, 0].mean()), step + 1
        if not math.isfinite(mean_loss):
            kept = f"; last good checkpoint: {last_checkpoint[0]}" if last_checkpoint else ""
            raise TrainingDiverged(f"the loss became {mean_loss} at step {done}{kept}",
                                   hint="lower --lr, use --mixed-precision bf16 or no instead of fp16, or check the "
                                   "pictures")  # fmt: skip
        row = LogRow(step=done, loss=mean_loss, lr=lr, seconds=round(time.perf_counter() - began, 4))
        rows.append(row)
        if run is not None:
            run.append_log(row)
        interrupted = bool(gathered[:, 1].max())
        try:
            if acc.is_main_process:
                if progress is not None:
                    progress(done, o.steps)
                if on_step is not None:
                    on_step(row)
        except KeyboardInterrupt:
            interrupted = True

        # ---- samples, checkpoints, Ctrl-C
        if interrupted:
            checkpoint(done)
            where = last_checkpoint[0] if last_checkpoint else None
            raise TrainingInterrupted(f"interrupted at step {done} of {o.steps}; checkpoint {where}",
                                      hint="continue with the same command and --resume latest")  # fmt: skip
        if o.sample_every and done % o.sample_every == 0 and done < o.steps:
            sample(done)
        if o.checkpoint_every and done % o.checkpoint_every == 0 and done < o.steps:
            checkpoint(done)

    # ------------------------------------------------------------------ the trained factors
    sample(o.steps)
    acc.wait_for_everyone()
    lora_set = to_lora_set({k: acc.unwrap_model(m) for k, m in models.items()}, base.arch)
    return FitOutcome(lora_set=lora_set, rows=rows, samples=samples, seconds=time.perf_counter() - started,
                      n_reg=len(reg_items), class_generated=made)  # fmt: skip
