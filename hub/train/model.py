"""The networks a run trains: the base's components, LoRA layers put into them with peft, prompts encoded
through the (possibly wrapped) text encoders, and the trained factors read back as a :class:`LoraSet`.

Only the LoRA factors are trainable and they stay float32 whatever the frozen weights' dtype.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hub.bases.quiet import quiet_loading
from hub.errors import IncompatibleError
from hub.train.options import ATTENTION_TARGETS, CONV_TARGETS, TEXT_ENCODER_TARGETS, TrainOptions

if TYPE_CHECKING:
    import torch

    from hub.formats.lora_set import LoraSet

ADAPTER = "default"
PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")  # what diffusers' schedulers can be told to predict


@dataclass
class Components:
    pipe: Any
    arch: str  # sd1 | sd2 | sdxl
    unet: Any
    vae: Any
    text_encoders: list[Any]
    tokenizers: list[Any]
    noise_scheduler: Any
    prediction_type: str
    scaling_factor: float
    trainable: dict[str, list[torch.nn.Parameter]] = field(default_factory=dict)  # unet / text_encoder params

    @property
    def is_sdxl(self) -> bool:
        return self.arch == "sdxl"


def load_components(pipe: Any, arch: str, weight_dtype: torch.dtype, device: torch.device) -> Components:
    """Frozen base components on ``device``: the UNet and text encoders in ``weight_dtype``, the VAE in float32
    (a half VAE is the usual source of NaN latents); the training noise schedule is DDPM on the base's betas."""
    import torch
    from diffusers import DDPMScheduler

    noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    encoders = [e for e in (pipe.text_encoder, getattr(pipe, "text_encoder_2", None)) if e is not None]
    tokenizers = [t for t in (pipe.tokenizer, getattr(pipe, "tokenizer_2", None)) if t is not None]
    for module in (pipe.unet, pipe.vae, *encoders):
        module.requires_grad_(False)
        module.eval()
    with quiet_loading():  # diffusers notes every .to(dtype) on a model "that should be kept in float32"
        pipe.unet.to(device, dtype=weight_dtype)
        pipe.vae.to(device, dtype=torch.float32)
        for e in encoders:
            e.to(device, dtype=weight_dtype)
    prediction = noise_scheduler.config.get("prediction_type") or "epsilon"
    if prediction not in PREDICTION_TYPES:
        raise IncompatibleError(
            f"the base's scheduler predicts {prediction!r}; the trainer knows {', '.join(PREDICTION_TYPES)}",
            hint="set prediction_type in the base's scheduler/scheduler_config.json",
        )
    return Components(
        pipe=pipe,
        arch=arch,
        unet=pipe.unet,
        vae=pipe.vae,
        text_encoders=encoders,
        tokenizers=tokenizers,
        noise_scheduler=noise_scheduler,
        prediction_type=prediction,
        scaling_factor=float(pipe.vae.config.scaling_factor),
    )


def _lora_config(rank: int, alpha: float, targets: list[str], dropout: float, patterns: dict[str, Any] | None = None):
    from peft import LoraConfig

    patterns = patterns or {}
    return LoraConfig(
        r=rank,
        lora_alpha=alpha,  # type: ignore[arg-type]  # peft's hint says int; its scaling is alpha / r, floats work
        lora_dropout=dropout,
        init_lora_weights="gaussian",
        target_modules=targets,
        rank_pattern=patterns.get("rank", {}),
        alpha_pattern=patterns.get("alpha", {}),
    )


def add_lora(c: Components, o: TrainOptions) -> None:
    """LoRA layers on the UNet's attention (and convs with ``--conv``), and on the text encoders when trained."""
    import torch
    from peft import inject_adapter_in_model

    targets = list(ATTENTION_TARGETS)
    patterns: dict[str, Any] = {}
    if o.conv:
        targets += list(CONV_TARGETS)
        if o.conv_rank:
            # peft matches these as regexes on the module name's end.
            conv_alpha = o.lora_alpha * o.conv_rank / o.rank
            patterns = {"rank": {t: o.conv_rank for t in CONV_TARGETS}, "alpha": {t: conv_alpha for t in CONV_TARGETS}}
    inject_adapter_in_model(_lora_config(o.rank, o.lora_alpha, targets, o.dropout, patterns), c.unet)
    c.trainable["unet"] = _lora_parameters(c.unet)
    if o.train_text_encoder:
        config = _lora_config(o.rank, o.lora_alpha, list(TEXT_ENCODER_TARGETS), o.dropout)
        params = []
        for encoder in c.text_encoders:
            inject_adapter_in_model(config, encoder)
            params += _lora_parameters(encoder)
        c.trainable["text_encoder"] = params
    for params in c.trainable.values():
        for p in params:
            p.data = p.data.to(torch.float32)
            p.requires_grad_(True)


def _lora_parameters(model: Any) -> list[torch.nn.Parameter]:
    return [p for n, p in model.named_parameters() if "lora_" in n]


def _lora_layers(model: Any) -> Iterator[tuple[str, Any]]:
    from peft.tuners.lora import LoraLayer

    for name, module in model.named_modules():
        if isinstance(module, LoraLayer) and ADAPTER in module.lora_A:
            yield name, module


def set_lora_enabled(models: list[Any], enabled: bool) -> None:
    """Switch the LoRA layers off (the frozen base's own prediction) and on again, leaving requires_grad alone."""
    for model in models:
        for _, layer in _lora_layers(model):
            layer._disable_adapters = not enabled


def lora_state(models: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The trainable factors by parameter name (for checkpoints), copied to CPU."""
    out = {}
    for component, model in models.items():
        for n, p in model.named_parameters():
            if "lora_" in n:
                out[f"{component}.{n}"] = p.detach().to("cpu", copy=True)
    return out


def load_lora_state(models: dict[str, Any], state: dict[str, torch.Tensor]) -> None:
    import torch

    with torch.no_grad():
        for component, model in models.items():
            for n, p in model.named_parameters():
                key = f"{component}.{n}"
                if "lora_" in n:
                    if key not in state:
                        raise KeyError(key)
                    p.copy_(state[key])


def to_lora_set(models: dict[str, Any], arch: str) -> LoraSet:
    """The trained adapter in the project's representation (canonical keys, scale = alpha / r)."""
    from hub.formats.lora_set import LoraModule, LoraSet

    modules = {}
    for component, model in models.items():
        for name, layer in _lora_layers(model):
            down = layer.lora_A[ADAPTER].weight.detach().float().cpu()
            up = layer.lora_B[ADAPTER].weight.detach().float().cpu()
            weight_shape = tuple(layer.get_base_layer().weight.shape)
            if component.startswith("text_encoder") and not name.startswith("text_model."):
                name = f"text_model.{name}"  # transformers 5 dropped the level; the canonical keys keep it
            modules[f"{component}.{name}"] = LoraModule(
                up=up.reshape(up.shape[0], -1).contiguous(),
                down=down.reshape(down.shape[0], -1).contiguous(),
                scale=float(layer.scaling[ADAPTER]),
                weight_shape=weight_shape,
            )
    return LoraSet(arch=arch, modules=modules, source_format="hub-train")


# ---------------------------------------------------------------- prompts


@dataclass
class PromptEmbeds:
    embeds: torch.Tensor  # [B, tokens, width]
    pooled: torch.Tensor | None = None  # SDXL: [B, width of text_encoder_2's projection]

    def select(self, index: torch.Tensor) -> PromptEmbeds:
        return PromptEmbeds(self.embeds[index], None if self.pooled is None else self.pooled[index])


def _ids(tokenizer: Any, prompts: list[str], device: Any) -> torch.Tensor:
    out = tokenizer(
        prompts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt"
    )
    return out.input_ids.to(device)


def encode_prompts(c: Components, encoders: list[Any], prompts: list[str], device: Any) -> PromptEmbeds:
    """What the UNet is conditioned on, computed through ``encoders`` (the DDP-wrapped ones when training them):
    SD1/SD2 the last hidden state; SDXL both encoders' penultimate states side by side plus the pooled output."""
    import torch

    if not c.is_sdxl:
        return PromptEmbeds(encoders[0](_ids(c.tokenizers[0], prompts, device))[0])
    states, pooled = [], None
    for tokenizer, encoder in zip(c.tokenizers, encoders, strict=True):
        out = encoder(_ids(tokenizer, prompts, device), output_hidden_states=True)
        states.append(out.hidden_states[-2])
        pooled = out[0]
    return PromptEmbeds(torch.cat(states, dim=-1), pooled)


def sdxl_time_ids(size: tuple[int, int], batch: int, device: Any, dtype: Any) -> torch.Tensor:
    """SDXL's size conditioning: original (h, w), crop top-left (0, 0), target (h, w)."""
    import torch

    w, h = size
    return torch.tensor([[h, w, 0, 0, h, w]], device=device, dtype=dtype).repeat(batch, 1)
