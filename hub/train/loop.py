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

from hub.errors import HubError, UsageError
from hub.train.batches import CLASS, INSTANCE, BatchPlan, class_index, picture_generators, step_seed
from hub.train.checkpoints import save_checkpoint
from hub.train.model import Components, PromptEmbeds, encode_prompts, lora_state, sdxl_time_ids, set_lora_enabled
from hub.train.options import TrainOptions
from hub.train.pictures import grid, save_png
from hub.train.prepare import Pictures, latents_for
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


def snr_weight(snr: Any, gamma: float, prediction_type: str) -> Any:
    """Min-SNR-gamma (Hang et al. 2023) per sample: ``min(SNR, gamma) / SNR`` for an epsilon target, the same
    weighting of the x0 error expressed for a v target (``/ (SNR + 1)``) and for an x0 target (``min(SNR, gamma)``)."""
    import torch

    clipped = torch.clamp(snr, max=gamma)
    if prediction_type == "v_prediction":
        return clipped / (snr + 1)
    if prediction_type == "sample":
        return clipped
    return clipped / snr


def draw_noise(gens: list[Any], shape: tuple[int, ...], o: TrainOptions, timesteps: int) -> tuple[Any, Any]:
    """Each picture's noise and timestep from its own generator: ``randn`` over the latent, plus
    ``noise_offset × randn`` per channel (one value over the whole picture: offset noise), then ``t ~ U[0, T)``."""
    import torch

    noise, ts = [], []
    for g in gens:
        n = torch.randn(shape, generator=g)
        if o.noise_offset:
            n = n + o.noise_offset * torch.randn((shape[0], 1, 1), generator=g)
        noise.append(n)
        ts.append(torch.randint(0, timesteps, (1,), generator=g))
    return torch.stack(noise), torch.cat(ts)


@dataclass
class Part:
    """Pictures of one kind in a micro-batch (the instance pictures, or the class pictures of prior preservation),
    with the noise and timesteps they are trained at."""

    latents: Any
    cond: PromptEmbeds
    noise: Any
    t: Any


Predict = Callable[[Any, Any, PromptEmbeds], Any]  # (noisy latents, t, conditioning) -> the UNet's output


def batch_loss(c: Components, o: TrainOptions, predict: Predict, inst: Part, prior: Part | None = None,
               frozen: Predict | None = None) -> Any:  # fmt: skip
    """The loss of one micro-batch, whatever its shape: per picture the MSE to the target (noise, velocity or
    clean latents, as the base predicts; for ``frozen``, the frozen base's own prediction on the prior part),
    weighted by min-SNR when asked; the instance mean plus ``prior_weight`` × the prior mean. Parts of one shape go
    through the UNet in one pass, parts of different shapes (an aspect bucket beside square class pictures) in two."""
    import torch
    import torch.nn.functional as F

    parts = [inst] if prior is None else [inst, prior]
    noisy = [c.noise_scheduler.add_noise(p.latents, p.noise, p.t) for p in parts]
    targets = [denoising_target(c, p.latents, p.noise, p.t) for p in parts]
    if frozen is not None and prior is not None:
        with torch.no_grad():
            targets[1] = frozen(noisy[1], prior.t, prior.cond)
    if prior is not None and noisy[0].shape[1:] == noisy[1].shape[1:]:
        preds = list(predict(torch.cat(noisy), torch.cat([inst.t, prior.t]), _cat(inst.cond, prior.cond))
                     .split([len(inst.t), len(prior.t)]))  # fmt: skip
    else:
        preds = [predict(x, p.t, p.cond) for x, p in zip(noisy, parts, strict=True)]
    losses = []
    for pred, target, p in zip(preds, targets, parts, strict=True):
        per_picture = F.mse_loss(pred.float(), target.float(), reduction="none").mean(dim=list(range(1, pred.ndim)))
        if o.min_snr_gamma:
            per_picture = per_picture * snr_weight(_snr(c, p.t), o.min_snr_gamma, c.prediction_type)
        losses.append(per_picture.mean())
    return losses[0] if prior is None else losses[0] + o.prior_weight * losses[1]


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


def _part(s: Session, pics: Pictures, index: list[int], gens: list[Any], cond: PromptEmbeds | None = None) -> Part:
    latents = latents_for(pics, index, gens, s.o, s.c, s.device)
    noise, t = draw_noise(gens, tuple(latents.shape[1:]), s.o, s.c.noise_scheduler.config.num_train_timesteps)
    return Part(latents, _conditioning(s, pics, index) if cond is None else cond, noise.to(s.device), t.to(s.device))


def micro_loss(s: Session, step: int, micro: int) -> Any:
    """The loss of this process's share of micro-step ``micro`` of optimizer step ``step``."""
    o = s.o
    rank, world = s.accelerator.process_index, s.accelerator.num_processes
    first = (micro * world + rank) * o.batch_size
    positions = list(range(first, first + o.batch_size))
    index = [s.plan.batch(step)[p] for p in positions]
    inst = _part(s, s.inst, index, picture_generators(o.seed, step, positions, INSTANCE))
    prior, frozen = None, None
    if s.reg is not None:
        per_step = s.plan.batch_size
        cidx = [class_index(o.seed, step * per_step + p, len(s.reg)) for p in positions]
        prior = _part(s, s.reg, cidx, picture_generators(o.seed, step, positions, CLASS))
    elif s.class_embeds is not None:  # prior from the frozen base: the same noisy latents, the class prompt
        k = s.class_embeds
        n = len(positions)
        cond = PromptEmbeds(
            k.embeds.expand(n, -1, -1).to(s.device), None if k.pooled is None else k.pooled.expand(n, -1).to(s.device)
        )
        prior = Part(inst.latents, cond, inst.noise, inst.t)
        base = s.accelerator.unwrap_model(s.unet)

        def frozen(noisy: Any, t: Any, cond: PromptEmbeds) -> Any:
            set_lora_enabled([base], False)
            try:
                return _predict(s, base, noisy, t, cond).float()
            finally:
                set_lora_enabled([base], True)

    return batch_loss(s.c, o, lambda x, t, k: _predict(s, s.unet, x, t, k), inst, prior, frozen)


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
        lr = float(s.lr_scheduler.get_last_lr()[0])  # the rate this step was taken at
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
            lr=lr,
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
        path = save_png(grid(images), s.run.samples / f"step-{step:06d}.png")
        s.samples.append(path)
    acc.wait_for_everyone()
    return path
