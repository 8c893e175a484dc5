"""The training loss, one function for every batch shape: per picture the MSE to what the base predicts (noise,
velocity or clean latents) or, for ``--prior-from-base``, to the frozen base's own prediction; min-SNR weights;
offset noise; the instance mean plus ``prior_weight`` × the class mean. Pure tensor maths, tested term by term
(tests/train/test_loss_terms.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub.train.model import Components, PromptEmbeds
from hub.train.options import TrainOptions


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
        preds = list(predict(torch.cat(noisy), torch.cat([inst.t, prior.t]), cat_embeds(inst.cond, prior.cond))
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


def cat_embeds(a: PromptEmbeds, b: PromptEmbeds) -> PromptEmbeds:
    import torch

    pooled = None if a.pooled is None or b.pooled is None else torch.cat([a.pooled, b.pooled])
    return PromptEmbeds(torch.cat([a.embeds, b.embeds]), pooled)
