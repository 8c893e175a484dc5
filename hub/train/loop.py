"""The training loop: one optimizer step = ``grad_accum`` micro-batches on every process; the denoising loss
(epsilon or v target, optional min-SNR weighting and offset noise) plus the prior-preservation loss on class
pictures or on the frozen base's own prediction; NaN/inf stops the run, Ctrl-C stops it at a step boundary with
a checkpoint; samples and checkpoints every N steps.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.errors import HubError
from hub.train.batches import BatchPlan, class_indices, generator, step_seed
from hub.train.checkpoints import save_checkpoint
from hub.train.model import Components, PromptEmbeds, encode_prompts, lora_state, sdxl_time_ids, set_lora_enabled
from hub.train.options import TrainOptions
from hub.train.pictures import grid, save_png
from hub.train.prepare import Pictures, latents_for
from hub.train.runs import LogRow, RunFolder

if TYPE_CHECKING:
    from hub.models import Progress

OnStep = Callable[[LogRow], None]  # every logged step (step, loss, lr, seconds), after it is written


class TrainingDiverged(HubError):
    """The loss became NaN or infinite."""

    exit_code = 1


class TrainingInterrupted(HubError):
    """Ctrl-C: stopped at a step boundary, a checkpoint written."""

    exit_code = 130


@dataclass
class StopFlag:
    requested: bool = False


@dataclass
class Session:
    o: TrainOptions
    c: Components
    accelerator: Any
    device: Any
    inst: Pictures
    reg: Pictures | None
    class_embeds: PromptEmbeds | None  # --prior-from-base: the class prompt, encoded once
    sample_embeds: tuple[PromptEmbeds, PromptEmbeds] | None  # (prompts, negative "") when the encoders are frozen
    unet: Any  # prepared (DDP-wrapped when distributed)
    encoders: list[Any]  # prepared text encoders (trained) or the frozen ones
    models: dict[str, Any]  # component -> unwrapped module with LoRA layers
    params: list[Any]
    optimizer: Any
    lr_scheduler: Any
    plan: BatchPlan
    run: RunFolder | None  # the main process's
    stop: StopFlag
    progress: Progress | None = None
    on_step: OnStep | None = None
    rows: list[LogRow] = field(default_factory=list)
    samples: list[Path] = field(default_factory=list)
    last_checkpoint: Path | None = None


def denoising_target(c: Components, latents: Any, noise: Any, t: Any) -> Any:
    """What the UNet must predict, as the base's scheduler says: the noise (epsilon), the velocity
    ``sqrt(a_t) * noise - sqrt(1 - a_t) * latents`` (v_prediction: SD2.x 768-v, v-pred SDXL finetunes) or the clean
    latents (sample). Training a v base on the noise would teach it the wrong thing without any error."""
    if c.prediction_type == "v_prediction":
        return c.noise_scheduler.get_velocity(latents, noise, t)
    if c.prediction_type == "sample":
        return latents
    return noise


def _snr(c: Components, t: Any) -> Any:
    alphas = c.noise_scheduler.alphas_cumprod.to(t.device)[t]
    return alphas / (1 - alphas)


def _conditioning(s: Session, pics: Pictures, index: list[int]) -> PromptEmbeds:
    if pics.embeds is not None:
        sel = pics.embeds.select(_tensor(index))
        return PromptEmbeds(sel.embeds.to(s.device), None if sel.pooled is None else sel.pooled.to(s.device))
    return encode_prompts(s.c, s.encoders, [pics.captions[i] for i in index], s.device)


def _tensor(index: list[int]) -> Any:
    import torch

    return torch.tensor(index, dtype=torch.long)


def _predict(s: Session, unet: Any, noisy: Any, t: Any, cond: PromptEmbeds) -> Any:
    kwargs: dict[str, Any] = {}
    if s.c.is_sdxl:
        h, w = noisy.shape[-2] * 8, noisy.shape[-1] * 8
        time_ids = sdxl_time_ids((w, h), noisy.shape[0], noisy.device, cond.embeds.dtype)
        kwargs["added_cond_kwargs"] = {"text_embeds": cond.pooled, "time_ids": time_ids}
    dtype = next(iter(s.c.unet.parameters())).dtype
    return unet(noisy.to(dtype), t, encoder_hidden_states=cond.embeds.to(dtype), return_dict=False, **kwargs)[0]


def _cat(a: PromptEmbeds, b: PromptEmbeds) -> PromptEmbeds:
    import torch

    pooled = None if a.pooled is None or b.pooled is None else torch.cat([a.pooled, b.pooled])
    return PromptEmbeds(torch.cat([a.embeds, b.embeds]), pooled)


def micro_loss(s: Session, step: int, micro: int) -> Any:
    """The loss of one micro-batch of this process (everything random drawn from (seed, step, micro, rank))."""
    import torch
    import torch.nn.functional as F

    o, c = s.o, s.c
    rank, world = s.accelerator.process_index, s.accelerator.num_processes
    gbatch = (step * o.grad_accum + micro) * world + rank
    index = s.plan.batch(gbatch)
    parts = (step, micro, rank)
    latents = latents_for(s.inst, index, o, c, parts, s.device)
    cond = _conditioning(s, s.inst, index)
    n = latents.shape[0]
    g = generator(o.seed, 4, *parts)
    if s.reg is not None:
        cidx = class_indices(o.seed, gbatch, n, len(s.reg))
        reg_latents = latents_for(s.reg, cidx, o, c, (*parts, 1), s.device)
        if reg_latents.shape[1:] == latents.shape[1:]:
            latents = torch.cat([latents, reg_latents])
            cond = _cat(cond, _conditioning(s, s.reg, cidx))
        else:  # an aspect bucket of another shape: class pictures at the square size go in their own pass
            return _pair_loss(s, latents, cond, g, n) + o.prior_weight * _pair_loss(
                s, reg_latents, _conditioning(s, s.reg, cidx), g, reg_latents.shape[0]
            )
    noise = torch.randn(latents.shape, generator=g)
    if o.noise_offset:
        noise = noise + o.noise_offset * torch.randn((*latents.shape[:2], 1, 1), generator=g)
    t = torch.randint(0, c.noise_scheduler.config.num_train_timesteps, (latents.shape[0],), generator=g)
    noise, t = noise.to(s.device), t.to(s.device)
    if s.class_embeds is not None:  # prior from the frozen base: same noisy latents, class prompt
        latents, noise, t = torch.cat([latents, latents]), torch.cat([noise, noise]), torch.cat([t, t])
        k = s.class_embeds
        cond = _cat(
            cond,
            PromptEmbeds(
                k.embeds.expand(n, -1, -1).to(s.device),
                None if k.pooled is None else k.pooled.expand(n, -1).to(s.device),
            ),
        )
    noisy = c.noise_scheduler.add_noise(latents, noise, t)
    target = denoising_target(c, latents, noise, t)
    if s.class_embeds is not None:
        base = s.accelerator.unwrap_model(s.unet)
        with torch.no_grad():
            set_lora_enabled([base], False)
            try:
                prior = _predict(
                    s,
                    base,
                    noisy[n:],
                    t[n:],
                    PromptEmbeds(cond.embeds[n:], None if cond.pooled is None else cond.pooled[n:]),
                ).float()
            finally:
                set_lora_enabled([base], True)
        target = torch.cat([target[:n], prior])
    pred = _predict(s, s.unet, noisy, t, cond).float()
    per_sample = F.mse_loss(pred, target.float(), reduction="none").mean(dim=list(range(1, pred.ndim)))
    if o.min_snr_gamma:
        snr = _snr(c, t)
        # min(SNR, gamma) / SNR in epsilon terms; the same weighting expressed for a v or x0 target.
        divisor = {"v_prediction": snr + 1, "sample": torch.ones_like(snr)}.get(c.prediction_type, snr)
        weight = torch.clamp(snr, max=o.min_snr_gamma) / divisor
        per_sample = per_sample * weight
    loss = per_sample[:n].mean()
    if per_sample.shape[0] > n:
        loss = loss + o.prior_weight * per_sample[n:].mean()
    return loss


def _pair_loss(s: Session, latents: Any, cond: PromptEmbeds, g: Any, n: int) -> Any:
    import torch
    import torch.nn.functional as F

    c = s.c
    noise = torch.randn(latents.shape, generator=g).to(s.device)
    t = torch.randint(0, c.noise_scheduler.config.num_train_timesteps, (n,), generator=g).to(s.device)
    noisy = c.noise_scheduler.add_noise(latents, noise, t)
    target = denoising_target(c, latents, noise, t)
    return F.mse_loss(_predict(s, s.unet, noisy, t, cond).float(), target.float())


def train_steps(s: Session, start: int) -> None:
    """Steps ``start`` .. ``o.steps - 1``; rows, samples and checkpoints recorded on the main process."""
    import torch

    o, acc = s.o, s.accelerator
    began = time.perf_counter() - (s.rows[-1].seconds if s.rows else 0.0)
    s.unet.train()
    for step in range(start, o.steps):
        # LoRA dropout draws from torch's global generator: seeded per step so a resumed run draws the same.
        torch.manual_seed(step_seed(o.seed, 5, step, acc.process_index))
        total = torch.zeros(2)
        for micro in range(o.grad_accum):
            with acc.accumulate(s.unet):
                loss = micro_loss(s, step, micro)
                acc.backward(loss)
                if acc.sync_gradients and o.max_grad_norm > 0:
                    acc.clip_grad_norm_(s.params, o.max_grad_norm)
                s.optimizer.step()
                s.optimizer.zero_grad(set_to_none=True)
            total[0] += loss.detach().float().cpu() / o.grad_accum
        s.lr_scheduler.step()
        total[1] = float(s.stop.requested)
        # One gather per step: the mean loss over processes, and whether any of them was asked to stop.
        gathered = acc.gather(total.to(s.device)).reshape(-1, 2).cpu()
        mean_loss = float(gathered[:, 0].mean())
        done = step + 1
        if not math.isfinite(mean_loss):
            kept = f"; last good checkpoint: {s.last_checkpoint}" if s.last_checkpoint else ""
            raise TrainingDiverged(
                f"the loss became {mean_loss} at step {done}{kept}",
                hint="lower --lr, use --mixed-precision bf16 or no instead of fp16, or check the pictures",
            )
        row = LogRow(
            step=done,
            loss=mean_loss,
            lr=float(s.lr_scheduler.get_last_lr()[0]),
            seconds=round(time.perf_counter() - began, 4),
        )
        s.rows.append(row)
        if s.run is not None:
            s.run.append_log(row)
        stop = bool(gathered[:, 1].max())
        try:
            if acc.is_main_process:
                if s.progress is not None:
                    s.progress(done, o.steps)
                if s.on_step is not None:
                    s.on_step(row)
        except KeyboardInterrupt:
            stop = True
        if stop:
            checkpoint(s, done)
            raise TrainingInterrupted(
                f"interrupted at step {done} of {o.steps}; checkpoint {s.last_checkpoint}",
                hint="continue with the same command and --resume latest",
            )
        if o.sample_every and done % o.sample_every == 0 and done < o.steps:
            sample(s, done)
        if o.checkpoint_every and done % o.checkpoint_every == 0 and done < o.steps:
            checkpoint(s, done)


def checkpoint(s: Session, step: int) -> None:
    s.accelerator.wait_for_everyone()
    if s.run is not None:
        state = {
            "lora": lora_state(s.models),
            "optimizer": s.optimizer.state_dict(),
            "scheduler": s.lr_scheduler.state_dict(),
        }
        s.last_checkpoint = save_checkpoint(s.run.checkpoints, step, state, keep=s.o.checkpoint_limit)


def sample(s: Session, step: int) -> Path | None:
    """One grid of the sample prompts (same seed every time, so grids compare) written by the main process."""
    import torch

    acc = s.accelerator
    acc.wait_for_everyone()
    path = None
    if s.run is not None:
        o, pipe = s.o, s.c.pipe
        s.unet.eval()
        kwargs: dict[str, Any] = {
            "num_inference_steps": o.sample_steps,
            "height": s.inst.sizes[0][1],
            "width": s.inst.sizes[0][0],
            "output_type": "pil",
        }
        if s.sample_embeds is not None:
            pos, neg = s.sample_embeds
            kwargs.update(prompt_embeds=pos.embeds.to(s.device), negative_prompt_embeds=neg.embeds.to(s.device))
            if pos.pooled is not None and neg.pooled is not None:
                kwargs.update(
                    pooled_prompt_embeds=pos.pooled.to(s.device), negative_pooled_prompt_embeds=neg.pooled.to(s.device)
                )
        else:
            kwargs["prompt"] = o.prompts_to_sample
        kwargs["generator"] = [torch.Generator().manual_seed(o.seed + i) for i in range(len(o.prompts_to_sample))]
        with torch.no_grad(), acc.autocast():
            images = pipe(**kwargs).images
        s.unet.train()
        path = save_png(
            grid(images, labels=o.prompts_to_sample, title=f"step {step}"), s.run.samples / f"step-{step:06d}.png"
        )
        s.samples.append(path)
    acc.wait_for_everyone()
    return path
