"""Train the embedded ``tiny`` SD1 base on the tiny world and write ``hub/bases/data/tiny-sd1.safetensors``.

    OMP_NUM_THREADS=1 .venv/bin/python tools/build_tiny_base.py

Seeded: the same command on the same torch build gives the same weights. Three stages, on one CPU thread:

1. the VAE (hub/bases/tiny.py's 4-level, 8x one) learns to encode world pictures (hub/testing/tiny_world.py) into
   8x8x4 latents: MSE plus a little KL;
2. the latents of a few thousand world pictures are cached and scaled to unit variance (the VAE's scaling factor);
3. the UNet and the CLIP text encoder learn together to predict the noise (epsilon, SD's betas) from captions of
   those pictures, 10 % of them empty so that classifier-free guidance works, with a little offset noise (so that
   a plain background's colour is drawn from pure noise) and an EMA of the weights, which is what ships.

Then it renders prompts of the world with the pipeline (DDIM, 20 steps, CFG 7: ``hub gen``'s defaults), reads the
pictures (tiny_world.read_picture) and prints the rates. The weights go out in fp16 with the build record (seed,
steps, seconds, losses, rates, VAE scaling factor) in the file's metadata. ``--work DIR`` keeps the trained VAE there
and reuses it (``--reuse-vae``), for trying UNet settings without training the VAE again.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from hub.bases import tiny  # noqa: E402
from hub.testing import tiny_world  # noqa: E402

CLOCK = time.perf_counter()


def say(text: str) -> None:
    print(f"[{time.perf_counter() - CLOCK:7.1f}s] {text}", flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pictures", type=int, default=6000, help="world pictures drawn (VAE data, cached latents)")
    p.add_argument("--vae-steps", type=int, default=1500)
    p.add_argument("--vae-batch", type=int, default=16)
    p.add_argument("--vae-lr", type=float, default=2e-3)
    p.add_argument(
        "--open-share",
        type=float,
        default=0.5,
        help="share of each VAE batch drawn in colours and patterns outside the world",
    )
    p.add_argument("--decoder-steps", type=int, default=600, help="decoder-only steps after the joint VAE stage")
    p.add_argument(
        "--refine-pictures", type=int, default=3000, help="pictures of each kind the decoder stage draws from"
    )
    p.add_argument("--kl-weight", type=float, default=1e-4, help="KL per latent element, against the per-pixel MSE")
    p.add_argument("--unet-steps", type=int, default=4000)
    p.add_argument("--unet-batch", type=int, default=64)
    p.add_argument("--unet-lr", type=float, default=1e-3)
    p.add_argument("--caption-dropout", type=float, default=0.1)
    p.add_argument("--noise-offset", type=float, default=0.1)
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--eval-seeds", type=int, default=1, help="seeds per prompt in the closing evaluation")
    p.add_argument("--checkpoint-every", type=int, default=500, help="write <work>/tiny-sd1-step<N>.safetensors")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--work", type=Path, help="folder for the trained VAE (and a checkpoint of the UNet stage)")
    p.add_argument("--reuse-vae", action="store_true", help="load the VAE from --work instead of training it")
    p.add_argument("--out", type=Path, default=tiny.TRAINED_SD1)
    return p.parse_args(argv)


# -- data -----------------------------------------------------------------------------------------------------------
def draw_world(count: int, seed: int) -> tuple[torch.Tensor, list[tiny_world.Scene]]:
    """``count`` world pictures as a uint8 NCHW tensor, and their scenes."""
    rng = random.Random(seed)
    scenes = [tiny_world.random_scene(rng) for _ in range(count)]
    pixels = np.stack([np.asarray(tiny_world.world_picture(s)) for s in scenes])
    return torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous(), scenes


def draw_open(count: int, seed: int) -> torch.Tensor:
    """``count`` pictures in colours and patterns outside the world (tiny_world.open_picture), uint8 NCHW."""
    rng = random.Random(seed + 1)
    pixels = np.stack([np.asarray(tiny_world.open_picture(rng)) for _ in range(count)])
    return torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous()


def to_unit(pixels: torch.Tensor) -> torch.Tensor:
    return pixels.float() / 127.5 - 1


# -- stage 1: the VAE -----------------------------------------------------------------------------------------------
def lr_at(step: int, steps: int, peak: float, warmup: int, hold: float = 0.0) -> float:
    """Linear warm-up, the peak held for a ``hold`` share of the steps, then a cosine down to a twentieth of it."""
    if step < warmup:
        return peak * (step + 1) / warmup
    start = warmup + hold * (steps - warmup)
    done = max(0.0, (step - start) / max(1.0, steps - start))
    return float(peak * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * done))))


def train_vae(vae, pixels: torch.Tensor, open_pixels: torch.Tensor, a: argparse.Namespace) -> dict[str, float]:
    """World pictures and, for ``--open-share`` of each batch, pictures in other colours and patterns: a VAE that
    saw only the world's six colours maps purple to red and stripes to plain, so no LoRA could teach those."""
    g = torch.Generator().manual_seed(a.seed + 10)
    opt = torch.optim.AdamW(vae.parameters(), lr=a.vae_lr, weight_decay=0.0)
    vae.train()
    recent: list[float] = []
    for step in range(a.vae_steps):
        for group in opt.param_groups:
            # Held at the peak for 60 %: this VAE learns slowly at lower rates; the decay settles it.
            group["lr"] = lr_at(step, a.vae_steps, a.vae_lr, 50, hold=0.6)
        opened = round(a.vae_batch * a.open_share)
        x = to_unit(torch.cat([pixels[torch.randint(0, len(pixels), (a.vae_batch - opened,), generator=g)],
                               open_pixels[torch.randint(0, len(open_pixels), (opened,), generator=g)]]))  # fmt: skip
        dist = vae.encode(x).latent_dist
        z = dist.mean + dist.std * torch.randn(dist.mean.shape, generator=g)
        out = vae.decode(z).sample
        mse = F.mse_loss(out, x)
        kl = dist.kl().mean() / z[0].numel()
        (mse + a.kl_weight * kl).backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 10.0)  # only against a spike: 1.0 slowed it ~3x
        opt.step()
        opt.zero_grad(set_to_none=True)
        recent = [*recent[-49:], mse.item()]
        if step % 50 == 0 or step == a.vae_steps - 1:
            say(f"vae {step:5d}/{a.vae_steps}  mse {np.mean(recent):.5f}  kl {kl.item():.3f}")
        if step % 200 == 199:  # the reconstruction as it will be used: eval mode, the latent mean
            with torch.no_grad():
                vae.eval()
                x = to_unit(pixels[:64])
                held = F.mse_loss(vae.decode(vae.encode(x).latent_dist.mean).sample, x).item()
                vae.train()
            say(f"vae {step:5d}: mse of the first 64 pictures' reconstructions {held:.5f}")
    vae.eval()
    return {"vae_mse": float(np.mean(recent))}


def refine_decoder(vae, pixels: torch.Tensor, open_pixels: torch.Tensor, a: argparse.Namespace) -> dict[str, float]:
    """More steps for the decoder alone, on world and outside-world pictures half and half. The encoder is frozen,
    so the latents (and the UNet trained on them) do not change: this only sharpens how colours the world never
    shows come back: 600 steps take an orange ball from read back orange about half the time to 0.94."""
    g = torch.Generator().manual_seed(a.seed + 30)
    vae.encoder.requires_grad_(False)
    vae.quant_conv.requires_grad_(False)
    opt = torch.optim.AdamW([p for p in vae.parameters() if p.requires_grad], lr=a.vae_lr / 2, weight_decay=0.0)
    count = min(len(pixels), len(open_pixels), a.refine_pictures)
    recent: list[float] = []
    for step in range(a.decoder_steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, a.decoder_steps, a.vae_lr / 2, 20, hold=0.5)
        half = a.vae_batch // 2
        x = to_unit(torch.cat([pixels[torch.randint(0, count, (half,), generator=g)],
                               open_pixels[torch.randint(0, count, (half,), generator=g)]]))  # fmt: skip
        with torch.no_grad():
            dist = vae.encode(x).latent_dist
            z = dist.mean + dist.std * torch.randn(dist.mean.shape, generator=g)
        loss = F.mse_loss(vae.decode(z).sample, x)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        recent = [*recent[-49:], loss.item()]
        if step % 100 == 99 or step == a.decoder_steps - 1:
            say(f"decoder {step + 1:5d}/{a.decoder_steps}  mse {np.mean(recent):.5f}")
    vae.requires_grad_(True)
    vae.eval()
    return {"decoder_mse": float(np.mean(recent))} if recent else {}


@torch.no_grad()
def encode(vae, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The latent distribution (mean, std) of every picture."""
    means, stds = [], []
    for start in range(0, len(pixels), 64):
        dist = vae.encode(to_unit(pixels[start : start + 64])).latent_dist
        means.append(dist.mean)
        stds.append(dist.std)
    return torch.cat(means), torch.cat(stds)


@torch.no_grad()
def check_vae(vae, pixels: torch.Tensor, scenes: list[tiny_world.Scene], count: int = 300) -> dict[str, float]:
    """How often the reader reads a reconstruction as it reads the scene."""
    out = vae.decode(vae.encode(to_unit(pixels[:count])).latent_dist.mean).sample
    images = ((out.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    readings = [tiny_world.read_picture(image) for image in images]
    rates = agreement(readings, scenes[:count], prefix="vae_read_")
    # The subjects outside the world (an orange ball...) must come back in their colour, or no LoRA can teach them.
    for colour in tiny_world.SUBJECT_COLOURS:
        rng = random.Random(7)
        pictures = np.stack([np.asarray(tiny_world.subject_picture(rng, colour=colour)) for _ in range(50)])
        out = vae.decode(vae.encode(to_unit(torch.from_numpy(pictures).permute(0, 3, 1, 2))).latent_dist.mean).sample
        images = ((out.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        rates[f"vae_read_{colour}"] = float(np.mean([tiny_world.read_picture(i).object == colour for i in images]))
    return rates


def agreement(readings: list[tiny_world.Reading], scenes: list[tiny_world.Scene], prefix: str) -> dict[str, float]:
    pairs = list(zip(readings, scenes, strict=True))
    return {
        prefix + "background": float(np.mean([r.background == s.background for r, s in pairs])),
        prefix + "object": float(np.mean([r.object == s.colour for r, s in pairs])),
        prefix + "shape": float(np.mean([r.shape == s.shape for r, s in pairs])),
    }


# -- stage 3: UNet + text encoder -----------------------------------------------------------------------------------
class Captions:
    """Token ids per caption text, computed once (the world has a few hundred distinct captions)."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.ids: dict[str, torch.Tensor] = {}

    def __call__(self, texts: list[str]) -> torch.Tensor:
        for text in texts:
            if text not in self.ids:
                self.ids[text] = self.tokenizer(
                    text, padding="max_length", max_length=tiny.TEXT_MAX_LENGTH, truncation=True, return_tensors="pt"
                ).input_ids[0]
        return torch.stack([self.ids[t] for t in texts])


def train_denoiser(
    parts: dict,
    latents: tuple[torch.Tensor, torch.Tensor],
    scale: float,
    scenes: list[tiny_world.Scene],
    a,
    checkpoint=None,
) -> tuple[dict, dict[str, float]]:
    """Train UNet + text encoder; returns their EMA copies and the final loss. ``checkpoint(step, ema, loss)`` is
    called every ``--checkpoint-every`` steps. The learning rate after the warm-up is constant (the EMA does the
    settling), so the first N steps of any run are the run ``--unet-steps N``: a checkpoint is reproducible."""
    unet, text_encoder, scheduler = parts["unet"], parts["text_encoder"], parts["scheduler"]
    captions = Captions(parts["tokenizer"])
    rng = random.Random(a.seed + 20)
    g = torch.Generator().manual_seed(a.seed + 21)
    params = [*unet.parameters(), *text_encoder.parameters()]
    # No weight decay: tokens the world never uses (sks, purple...) keep their initial embeddings for DreamBooth.
    opt = torch.optim.AdamW(params, lr=a.unet_lr, weight_decay=0.0)
    ema = {"unet": copy.deepcopy(unet).eval(), "text_encoder": copy.deepcopy(text_encoder).eval()}
    for model in ema.values():
        model.requires_grad_(False)
    alphas = scheduler.alphas_cumprod
    mean, std = latents
    unet.train()
    text_encoder.train()
    recent: list[float] = []
    for step in range(a.unet_steps):
        for group in opt.param_groups:
            group["lr"] = a.unet_lr * min(1.0, (step + 1) / 200)
        index = torch.randint(0, len(mean), (a.unet_batch,), generator=g)
        x0 = (mean[index] + std[index] * torch.randn(mean[index].shape, generator=g)) * scale
        texts = [
            "" if rng.random() < a.caption_dropout else tiny_world.world_caption(scenes[i], rng)
            for i in index.tolist()
        ]
        embeds = text_encoder(captions(texts))[0]
        noise = torch.randn(x0.shape, generator=g)
        noise = noise + a.noise_offset * torch.randn((*x0.shape[:2], 1, 1), generator=g)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (a.unet_batch,), generator=g)
        ab = alphas[t].view(-1, 1, 1, 1)
        noisy = ab.sqrt() * x0 + (1 - ab).sqrt() * noise
        loss = F.mse_loss(unet(noisy, t, encoder_hidden_states=embeds).sample, noise)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        # EMA with a warm-up (the average starts short and lengthens to 1/(1-ema) steps).
        decay = min(a.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for live, avg in ((unet, ema["unet"]), (text_encoder, ema["text_encoder"])):
                for p_live, p_avg in zip(live.parameters(), avg.parameters(), strict=True):
                    p_avg.lerp_(p_live, 1 - decay)
        recent = [*recent[-99:], loss.item()]
        if step % 100 == 0 or step == a.unet_steps - 1:
            say(f"unet {step:5d}/{a.unet_steps}  loss {np.mean(recent):.4f}  lr {opt.param_groups[0]['lr']:.2e}")
        if checkpoint and (step + 1) % a.checkpoint_every == 0 and step + 1 < a.unet_steps:
            checkpoint(step + 1, ema, float(np.mean(recent)))
    return ema, {"unet_loss": float(np.mean(recent))}


# -- evaluation -----------------------------------------------------------------------------------------------------
@torch.no_grad()
def evaluate(pipe, seeds: int) -> dict[str, float]:
    """Render every world prompt (colour x shape x background) with ``seeds`` seeds; read them; the rates."""
    seen = []
    for colour, shape, background in tiny_world.world_triples():
        prompt = tiny_world.world_prompt(colour, shape, background)
        for seed in range(seeds):
            image = pipe(prompt, num_inference_steps=20, guidance_scale=7.0,
                         generator=torch.Generator().manual_seed(seed)).images[0]  # fmt: skip
            seen.append(((colour, shape, background), tiny_world.read_picture(image)))
    return {f"gen_{k}": v for k, v in tiny_world.drawing_rates(seen).items()}


def save(parts: dict, out: Path, record: dict) -> None:
    from safetensors.torch import save_file

    state = {
        f"{name}.{key}": value.detach().to(torch.float16).contiguous()
        for name in ("unet", "vae", "text_encoder")
        for key, value in parts[name].state_dict().items()
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    save_file(state, str(tmp), metadata={"build": json.dumps(record, sort_keys=True)})
    tmp.replace(out)
    say(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")


def main(argv: list[str] | None = None) -> None:
    a = parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    if a.work:
        a.work.mkdir(parents=True, exist_ok=True)
    from diffusers import StableDiffusionPipeline

    with tempfile_dir() as tmp:
        random_base = tiny.build_tiny_pipeline(tmp / "random", kind="sd1", seed=a.seed)
        pipe = StableDiffusionPipeline.from_pretrained(random_base, safety_checker=None)
    pipe.set_progress_bar_config(disable=True)
    record: dict = {"seed": a.seed, "command": " ".join(["tools/build_tiny_base.py", *(argv or sys.argv[1:])]),
                    "torch": torch.__version__, "threads": a.threads}  # fmt: skip
    pixels, scenes = draw_world(a.pictures, a.seed)
    say(f"drew {len(scenes)} world pictures")

    start = time.perf_counter()
    vae_file = a.work / "vae.pt" if a.work else None
    if a.reuse_vae and vae_file and vae_file.is_file():
        pipe.vae.load_state_dict(torch.load(vae_file))
        pipe.vae.eval()
        record.update(json.loads(vae_file.with_suffix(".json").read_text()))  # how that VAE was trained
        say(f"reused the VAE in {vae_file}")
    else:
        open_pixels = draw_open(a.pictures, a.seed)
        record.update(train_vae(pipe.vae, pixels, open_pixels, a))
        record["vae_seconds"] = round(time.perf_counter() - start, 1)
        start = time.perf_counter()
        record.update(refine_decoder(pipe.vae, pixels, open_pixels, a))
        record["decoder_seconds"] = round(time.perf_counter() - start, 1)
        if vae_file:
            torch.save(pipe.vae.state_dict(), vae_file)
            kept = ("vae_mse", "vae_seconds", "decoder_mse", "decoder_seconds")
            vae_file.with_suffix(".json").write_text(json.dumps({k: record[k] for k in kept if k in record}))
    record.update(check_vae(pipe.vae, pixels, scenes))
    say(f"VAE: {json.dumps({k: v for k, v in record.items() if k.startswith(('vae', 'decoder'))})}")

    start = time.perf_counter()
    mean, std = encode(pipe.vae, pixels)
    scale = float(1 / mean.std())
    record["vae_scaling_factor"] = round(scale, 5)
    pipe.vae.register_to_config(scaling_factor=record["vae_scaling_factor"])
    say(f"encoded {len(mean)} latents {tuple(mean.shape[1:])}; scaling factor {scale:.4f}")

    parts = {"unet": pipe.unet, "text_encoder": pipe.text_encoder, "tokenizer": pipe.tokenizer,
             "scheduler": pipe.scheduler}  # fmt: skip
    for name, value in {"vae_steps": a.vae_steps, "decoder_steps": a.decoder_steps, "vae_batch": a.vae_batch,
                        "open_share": a.open_share,
                        "unet_batch": a.unet_batch,
                        "pictures": a.pictures}.items():  # fmt: skip
        record[name] = value

    def checkpoint(step: int, ema: dict, loss: float) -> None:
        done = {**record, "unet_steps": step, "unet_loss": loss, "unet_seconds": round(time.perf_counter() - start, 1)}
        done["command"] = " ".join(["tools/build_tiny_base.py", f"--unet-steps {step}"])
        save({"unet": ema["unet"], "vae": pipe.vae, "text_encoder": ema["text_encoder"]},
             a.work / f"tiny-sd1-step{step:05d}.safetensors", done)  # fmt: skip

    ema, losses = train_denoiser(parts, (mean, std), scale, scenes, a, checkpoint if a.work else None)
    record.update(losses)
    record["unet_steps"] = a.unet_steps
    record["unet_seconds"] = round(time.perf_counter() - start, 1)
    pipe.unet.load_state_dict(ema["unet"].state_dict())
    pipe.text_encoder.load_state_dict(ema["text_encoder"].state_dict())
    pipe.unet.eval()
    pipe.text_encoder.eval()
    save({"unet": pipe.unet, "vae": pipe.vae, "text_encoder": pipe.text_encoder}, a.out, record)

    if not a.eval_seeds:
        return
    start = time.perf_counter()
    record.update({k: round(v, 3) for k, v in evaluate(pipe, a.eval_seeds).items()})
    record["eval_seconds"] = round(time.perf_counter() - start, 1)
    say(f"rates: {json.dumps({k: v for k, v in record.items() if k.startswith('gen_')})}")
    save({"unet": pipe.unet, "vae": pipe.vae, "text_encoder": pipe.text_encoder}, a.out, record)
    say(json.dumps(record, sort_keys=True))


def tempfile_dir():
    import contextlib
    import tempfile

    @contextlib.contextmanager
    def folder():
        with tempfile.TemporaryDirectory(prefix="tiny-base-build-") as name:
            yield Path(name)

    return folder()


if __name__ == "__main__":
    main()
