"""Turn the dataset into what each step reads: latents cached once (the VAE's mean and std per picture, so each
step still draws its own latent sample), or pictures kept for a per-step random crop; prompt embeddings computed
once when the text encoders are frozen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hub.train.dataset import Item, bucket_sizes, cover, crop, fit, nearest_bucket, open_image, to_tensor
from hub.train.model import Components, PromptEmbeds, encode_prompts
from hub.train.options import TrainOptions

if TYPE_CHECKING:
    import torch
    from PIL import Image


@dataclass
class Pictures:
    """One set of pictures (instance or class) ready for the loop."""

    captions: list[str]
    sizes: list[tuple[int, int]]  # (width, height) each picture is trained at
    buckets: list[int]  # index of its size among the distinct sizes
    repeats: list[int]
    means: list[torch.Tensor] = field(default_factory=list)  # cached: [2 (plain, flipped) or 1, 4, h/8, w/8]
    stds: list[torch.Tensor] = field(default_factory=list)
    images: list[Image.Image] = field(default_factory=list)  # not cached: covering the size, cropped per step
    embeds: PromptEmbeds | None = None  # frozen text encoders: one row per picture

    def __len__(self) -> int:
        return len(self.captions)


def picture_sizes(items: list[Item], o: TrainOptions) -> list[tuple[int, int]]:
    if not o.buckets:
        return [(o.resolution, o.resolution)] * len(items)
    sizes = bucket_sizes(o.resolution)
    return [nearest_bucket(it.size, sizes) for it in items]


def prepare_pictures(items: list[Item], o: TrainOptions, c: Components, device: Any, *, cache: bool) -> Pictures:
    import torch

    sizes = picture_sizes(items, o)
    distinct = sorted(set(sizes))
    pics = Pictures(
        captions=[it.caption for it in items],
        sizes=sizes,
        buckets=[distinct.index(s) for s in sizes],
        repeats=[it.repeats for it in items],
    )
    for it, size in zip(items, sizes, strict=True):
        image = open_image(it.path)
        if not cache:
            pics.images.append(cover(image, size))  # cropped per step
            continue
        pixels = to_tensor(fit(image, size)).unsqueeze(0)
        if o.flip:
            pixels = torch.cat([pixels, pixels.flip(-1)])
        with torch.no_grad():
            dist = c.vae.encode(pixels.to(device, dtype=c.vae.dtype)).latent_dist
        pics.means.append(dist.mean.float().cpu())
        pics.stds.append(dist.std.float().cpu())
    return pics


def embed_captions(pics: Pictures, c: Components, device: Any) -> None:
    """Frozen text encoders: every caption encoded once, in chunks."""
    import torch

    rows: list[PromptEmbeds] = []
    with torch.no_grad():
        for i in range(0, len(pics.captions), 16):
            rows.append(encode_prompts(c, c.text_encoders, pics.captions[i : i + 16], device))
    embeds = torch.cat([r.embeds for r in rows]).cpu()
    pooled = torch.cat([r.pooled for r in rows if r.pooled is not None]).cpu() if rows[0].pooled is not None else None
    pics.embeds = PromptEmbeds(embeds, pooled)


def latents_for(
    pics: Pictures, index: list[int], gens: list[torch.Generator], o: TrainOptions, c: Components, device: Any
) -> torch.Tensor:
    """Scaled latents of the pictures ``index`` for one step: each picture's flip, crop and latent sample drawn from
    its own generator (in that order), so a picture draws the same whatever else is in its batch."""
    import torch

    flips = [bool(torch.rand(1, generator=g) < 0.5) if o.flip else False for g in gens]
    if pics.means:
        means = [pics.means[i][int(f)] for i, f in zip(index, flips, strict=True)]
        stds = [pics.stds[i][int(f)] for i, f in zip(index, flips, strict=True)]
        draws = [m + s * torch.randn(m.shape, generator=g) for m, s, g in zip(means, stds, gens, strict=True)]
        return (torch.stack(draws) * c.scaling_factor).to(device)
    pixels = []
    for i, f, g in zip(index, flips, gens, strict=True):
        offset = torch.rand(2, generator=g).tolist() if o.crop == "random" else [0.5, 0.5]
        t = to_tensor(crop(pics.images[i], pics.sizes[i], (offset[0], offset[1])))
        pixels.append(t.flip(-1) if f else t)
    batch = torch.stack(pixels).to(device, dtype=c.vae.dtype)
    with torch.no_grad():
        dist = c.vae.encode(batch).latent_dist
    noise = torch.stack([torch.randn(dist.mean.shape[1:], generator=g) for g in gens])
    sample = dist.mean + dist.std * noise.to(device, dist.mean.dtype)
    return sample.float() * c.scaling_factor
