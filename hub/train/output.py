"""The trained adapter as a kohya ``.safetensors`` with kohya's ``ss_*``, ``modelspec.*`` and ``sshs_*`` metadata,
registered with its trigger, lineage ("trained-from" the base, with every hyperparameter and the dataset's hash),
recipe (the ``hub train`` command), previews (the last sample grid: what the LoRA draws), and a local model card.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from hub.bases.api import BaseInfo
from hub.models import Adapter, ParentLink
from hub.train.dataset import Dataset
from hub.train.options import TrainOptions, option_specs

_NOT_IN_RECIPE = {"resume", "images", "token", "class_word", "base", "name", "preset"}


def recipe_argv(o: TrainOptions, images: str) -> list[str]:
    """``hub train ...`` with every option that differs from its default: the command that retrains the adapter."""
    argv = [
        "train",
        "--images",
        str(Path(images).expanduser().absolute()),
        "--token",
        o.token,
        "--class-word",
        o.class_word,
        "--base",
        o.base,
    ]
    if o.name:
        argv += ["--name", o.name]
    values = o.as_dict()
    for spec in option_specs():
        value = values[spec.name]
        if spec.name in _NOT_IN_RECIPE or value == spec.default or value is None:
            continue
        if spec.is_switch:
            argv.append(spec.flag if value else spec.off_flag)
        elif isinstance(value, list):
            for v in value:
                argv += [spec.flag, str(v)]
        else:
            argv += [spec.flag, f"{value:g}" if isinstance(value, float) else str(value)]
    return argv


def train_recipe(o: TrainOptions, argv: list[str]) -> dict[str, Any]:
    """What the registry keeps as the recipe, in the shape compositions use (operation, inputs, params, command)."""
    inputs = [
        {"ref": argv[argv.index("--images") + 1], "weight": 1.0, "role": "images"},
        {"ref": o.base, "weight": 1.0, "role": "base"},
    ]
    params = {k: v for k, v in o.hyperparameters().items() if k != "base"}
    command = shlex.join(["hub", *argv])
    return {"operation": "train", "inputs": inputs, "params": params, "command": command, "argv": ["hub", *argv]}


def base_hash(base: BaseInfo) -> str:
    """sha256 of the base's weights file (the UNet's for a diffusers folder): what kohya's ss_new_sd_model_hash is."""
    target = base.path
    if base.path.is_dir():
        found = sorted((base.path / "unet").glob("*.safetensors")) or sorted((base.path / "unet").glob("*.bin"))
        if not found:
            return ""
        target = found[0]
    h = hashlib.sha256()
    with target.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _tag_frequency(ds: Dataset) -> dict[str, dict[str, int]]:
    out: dict[str, Counter[str]] = {}
    for it in ds.instance:
        tags = [t.strip() for t in it.caption.split(",") if t.strip()]
        out.setdefault(it.path.parent.name, Counter()).update(tags)
    return {k: dict(v) for k, v in out.items()}


def training_metadata(
    o: TrainOptions,
    ds: Dataset,
    base: BaseInfo,
    *,
    name: str,
    n_reg: int,
    started: float,
    finished: float,
    command: str,
    dataset_sha256: str,
    world: int,
) -> dict[str, str]:
    n_images = sum(it.repeats for it in ds.instance)
    per_epoch = max(1, -(-n_images // o.batch_size))
    dirs = Counter(it.path.parent.name for it in ds.instance)
    repeats = {it.path.parent.name: it.repeats for it in ds.instance}
    meta = {
        "ss_session_id": str(int(started * 1000) % 2**31),
        "ss_output_name": name,
        "ss_sd_model_name": base.ref,
        "ss_new_sd_model_hash": base_hash(base),
        "ss_resolution": f"({o.resolution}, {o.resolution})",
        "ss_learning_rate": f"{o.lr:g}",
        "ss_unet_lr": f"{o.lr:g}",
        "ss_text_encoder_lr": f"{(o.text_encoder_lr or o.lr) if o.train_text_encoder else 0:g}",
        "ss_network_train_unet_only": str(not o.train_text_encoder),
        "ss_network_dropout": f"{o.dropout:g}",
        "ss_optimizer": {
            "adamw": "torch.optim.AdamW",
            "adamw8bit": "bitsandbytes.optim.AdamW8bit",
            "prodigy": "prodigyopt.Prodigy",
        }[o.optimizer],
        "ss_lr_scheduler": o.scheduler,
        "ss_lr_warmup_steps": str(o.warmup_steps),
        "ss_max_train_steps": str(o.steps),
        "ss_steps": str(o.steps),
        "ss_epoch": str(-(-o.steps * o.grad_accum * world // per_epoch)),
        "ss_num_batches_per_epoch": str(per_epoch),
        "ss_batch_size_per_device": str(o.batch_size),
        "ss_total_batch_size": str(o.batch_size * o.grad_accum * world),
        "ss_gradient_accumulation_steps": str(o.grad_accum),
        "ss_gradient_checkpointing": str(o.gradient_checkpointing),
        "ss_mixed_precision": o.mixed_precision,
        "ss_seed": str(o.seed),
        "ss_num_train_images": str(n_images),
        "ss_num_reg_images": str(n_reg),
        "ss_prior_loss_weight": f"{o.prior_weight:g}",
        "ss_noise_offset": f"{o.noise_offset:g}",
        "ss_min_snr_gamma": f"{o.min_snr_gamma:g}" if o.min_snr_gamma else "None",
        "ss_cache_latents": str(o.cache_latents),
        "ss_flip_aug": str(o.flip),
        "ss_random_crop": str(o.crop == "random"),
        "ss_enable_bucket": str(o.buckets),
        "ss_caption_extension": ".txt",
        "ss_tag_frequency": json.dumps(_tag_frequency(ds)),
        "ss_dataset_dirs": json.dumps({d: {"n_repeats": repeats[d], "img_count": n} for d, n in dirs.items()}),
        "ss_training_started_at": f"{started:.3f}",
        "ss_training_finished_at": f"{finished:.3f}",
        "ss_training_comment": f"trained with sd-lora-hub; trigger: {o.token}",
        "modelspec.title": name,
        "modelspec.trigger_phrase": o.token,
        "modelspec.description": f"LoRA binding '{o.token}' to a {o.class_word}, trained on {len(ds.instance)} "
        "pictures",
        "modelspec.resolution": f"{o.resolution}x{o.resolution}",
        "modelspec.tags": f"trained,{o.class_word}",
        "lorahub.recipe": command,
        "lorahub.dataset_sha256": dataset_sha256,
    }
    return meta | prediction_metadata(base)


def prediction_metadata(base: BaseInfo) -> dict[str, str]:
    """What the base predicts, in the keys readers look at. kohya (train_network.py, sai_model_spec.py) says v by
    ``ss_base_model_version`` ``sd_v2_v``/``sd_v1_v``, modelspec ``stable-diffusion-v2-768-v`` and
    ``prediction_type`` ``v``; ``ss_v_parameterization`` is not kohya's but other tools read it (A1111/Forge
    extensions, model browsers), so it is written too. These override the writer's per-arch defaults."""
    v = base.prediction_type == "v_prediction"
    kind = {"v_prediction": "v", "sample": "sample"}.get(base.prediction_type, "epsilon")
    meta = {"modelspec.prediction_type": kind, "ss_v_parameterization": str(v)}
    if v and base.arch in ("sd1", "sd2"):
        meta["ss_base_model_version"] = "sd_v2_v" if base.arch == "sd2" else "sd_v1_v"
    if v and base.arch == "sd2":
        meta["modelspec.architecture"] = "stable-diffusion-v2-768-v/lora"
    return meta


def register_adapter(
    lora_set: Any,
    *,
    o: TrainOptions,
    name: str,
    metadata: dict[str, str],
    lineage: ParentLink,
    argv: list[str],
    previews: list[Path],
    ctx: Any,
) -> Adapter:
    """Write the kohya file beside its previews (``<stem>.png``, ``<stem>.preview.png``) in a temp folder and add
    it to the registry in one transaction; nothing is half-registered if anything fails before."""
    from hub.formats.write import save_lora_set
    from hub.registry.api import add_one  # the one import of the registry's verbs in hub.train

    with tempfile.TemporaryDirectory(prefix="hub-train-") as tmp:
        path = save_lora_set(lora_set, Path(tmp) / f"{name}.safetensors", fmt="kohya", title=name, metadata=metadata)
        for preview, suffix in zip(previews, (".png", ".preview.png"), strict=False):
            shutil.copyfile(preview, Path(tmp) / f"{name}{suffix}")
        return add_one(
            path,
            name=name,
            source=f"trained:{o.base}",
            triggers=[o.token],
            tags=["trained", o.class_word],
            base_label=o.base,
            lineage=[lineage],
            recipe=train_recipe(o, argv),
            ctx=ctx,
        )


def write_card(path: Path, adapter: Adapter, *, o: TrainOptions, base: BaseInfo, samples: list[Path]) -> Path:
    """README.md in the run folder: the card `hub push` publishes, with the samples as its gallery."""
    from hub.sync.api import CardFile, CardImage, CardLineage, CardSpec, build_card

    hf_base = base.ref if base.ref.count("/") == 1 and not Path(base.ref).exists() else None
    weights = f"{adapter.name}.safetensors"
    original = CardFile(path=weights, role="original", format=adapter.format, sha256=adapter.sha256 or "")
    spec = CardSpec(
        name=adapter.name,
        repo=f"<your-user>/{adapter.name}",
        arch=adapter.arch if adapter.arch in ("sd1", "sd2", "sdxl") else base.arch,
        base_model=hf_base,
        base_label=o.base,
        triggers=[o.token],
        tags=["trained", o.class_word],
        description=f'A LoRA that binds `{o.token}` to a {o.class_word}; prompt e.g. "{o.instance_text}".',
        files=[original],
        images=[CardImage(path=f"samples/{p.name}", prompt="; ".join(o.prompts_to_sample)) for p in samples[-1:]],
        lineage=[CardLineage(operation="trained-from", parent=o.base)],
        rank=adapter.rank,
        alpha=adapter.alpha,
    )
    path.write_text(build_card(spec), encoding="utf-8")
    return path
