"""How well a LoRA fits its pictures: the denoising loss of base (+ LoRA) on them, over a fixed set of
(timestep, noise) draws so that two adapters (or none) are compared on exactly the same problems."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub.train.dataset import fit, open_image, to_tensor


def denoising_loss(pipe: Any, pictures: list[Path], prompt: str, *, resolution: int, draws: int = 16,
                   seed: int = 1234) -> float:  # fmt: skip
    """Mean epsilon/v MSE of ``pipe``'s UNet (with whatever LoRA is loaded in it) on ``pictures`` at
    ``draws`` timesteps each, the noise and timesteps drawn from ``seed`` (the same for every call)."""
    import torch
    import torch.nn.functional as F
    from diffusers import DDPMScheduler

    sched = DDPMScheduler.from_config(pipe.scheduler.config)
    g = torch.Generator().manual_seed(seed)
    pixels = torch.stack([to_tensor(fit(open_image(p), (resolution, resolution))) for p in pictures])
    with torch.no_grad():
        embeds = pipe.encode_prompt([prompt], "cpu", 1, False)[0]
        dist = pipe.vae.encode(pixels).latent_dist
        total, n = 0.0, 0
        for _ in range(draws):
            latents = (
                dist.mean + dist.std * torch.randn(dist.mean.shape, generator=g)
            ) * pipe.vae.config.scaling_factor
            noise = torch.randn(latents.shape, generator=g)
            t = torch.randint(0, sched.config.num_train_timesteps, (latents.shape[0],), generator=g)
            noisy = sched.add_noise(latents, noise, t)
            target = noise if sched.config.prediction_type == "epsilon" else sched.get_velocity(latents, noise, t)
            pred = pipe.unet(noisy, t, encoder_hidden_states=embeds.expand(latents.shape[0], -1, -1)).sample
            total += float(F.mse_loss(pred, target, reduction="sum"))
            n += target.numel()
    return total / n
