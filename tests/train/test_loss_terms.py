"""Each term of the training loss, checked against its formula on hand-made tensors: min-SNR weights for every
prediction type, offset noise, the prior-preservation term with its weight, the frozen base's prediction as the
prior target (--prior-from-base), and all of them on a batch whose instance and class pictures differ in shape."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from hub.train.batches import generator
from hub.train.loss import Part, batch_loss, draw_noise, snr_weight
from hub.train.model import Components, PromptEmbeds
from hub.train.options import TrainOptions

T = 1000


def _components(prediction_type: str = "epsilon") -> Components:
    from diffusers import DDPMScheduler

    scheduler = DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                              prediction_type=prediction_type)  # fmt: skip
    return Components(pipe=None, arch="sd1", unet=None, vae=None, text_encoders=[], tokenizers=[],
                      noise_scheduler=scheduler, prediction_type=prediction_type, scaling_factor=0.18215)  # fmt: skip


def _options(**changes) -> TrainOptions:
    return TrainOptions(images="", token="sks", class_word="dog", **changes)


def _part(seed: int, shape: tuple[int, ...], t: list[int]) -> Part:
    g = torch.Generator().manual_seed(seed)
    n = len(t)
    return Part(latents=torch.randn((n, *shape), generator=g), cond=PromptEmbeds(torch.randn(n, 3, 8, generator=g)),
                noise=torch.randn((n, *shape), generator=g), t=torch.tensor(t))  # fmt: skip


def _predict(noisy: torch.Tensor, t: torch.Tensor, cond: PromptEmbeds) -> torch.Tensor:
    """A stand-in UNet: any deterministic function of its inputs, per picture."""
    return 0.5 * noisy + cond.embeds.mean(dim=(1, 2)).reshape(-1, 1, 1, 1) + t.reshape(-1, 1, 1, 1) / T


def _per_picture(c: Components, p: Part, target: torch.Tensor | None = None) -> torch.Tensor:
    noisy = c.noise_scheduler.add_noise(p.latents, p.noise, p.t)
    if target is None:
        target = {"epsilon": p.noise, "sample": p.latents}.get(c.prediction_type)
        if target is None:
            target = c.noise_scheduler.get_velocity(p.latents, p.noise, p.t)
    return F.mse_loss(_predict(noisy, p.t, p.cond), target, reduction="none").mean(dim=(1, 2, 3))


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction", "sample"])
def test_min_snr_weights_are_the_formula_for_the_prediction_type(prediction_type: str) -> None:
    c = _components(prediction_type)
    t = torch.tensor([0, 50, 300, 999])
    a = c.noise_scheduler.alphas_cumprod[t]
    snr = a / (1 - a)
    expected = {"epsilon": torch.minimum(snr, torch.tensor(5.0)) / snr,
                "v_prediction": torch.minimum(snr, torch.tensor(5.0)) / (snr + 1),
                "sample": torch.minimum(snr, torch.tensor(5.0))}[prediction_type]  # fmt: skip
    assert torch.allclose(snr_weight(snr, 5.0, prediction_type), expected)
    p = _part(0, (4, 4, 4), t.tolist())
    plain = batch_loss(c, _options(), _predict, p)
    weighted = batch_loss(c, _options(min_snr_gamma=5.0), _predict, p)
    assert torch.allclose(plain, _per_picture(c, p).mean())
    assert torch.allclose(weighted, (_per_picture(c, p) * expected).mean())
    assert not torch.allclose(weighted, plain)  # gamma off is another loss


def test_offset_noise_adds_one_value_per_channel_from_the_pictures_generator() -> None:
    shape = (4, 6, 5)
    plain, t0 = draw_noise([generator(7, 1), generator(7, 2)], shape, _options(), T)
    shifted, t1 = draw_noise([generator(7, 1), generator(7, 2)], shape, _options(noise_offset=0.1), T)
    shift = shifted - plain
    assert torch.allclose(shift, shift[..., :1, :1].expand_as(shift))  # constant over the picture, per channel
    for i, seed in enumerate((1, 2)):  # the offset is the next draw of the picture's own generator, times 0.1
        g = generator(7, seed)
        torch.randn(shape, generator=g)
        assert torch.allclose(shift[i], 0.1 * torch.randn((4, 1, 1), generator=g))
    assert shift.abs().min() > 0 and t0.shape == t1.shape == (2,)


@pytest.mark.parametrize("class_shape", [(4, 4, 4), (4, 4, 6)], ids=["same-shape", "other-bucket"])
def test_the_prior_term_is_added_with_its_weight_in_every_batch_shape(class_shape: tuple[int, ...]) -> None:
    c = _components()
    inst, prior = _part(1, (4, 4, 4), [10, 700]), _part(2, class_shape, [400, 20])
    o = _options(min_snr_gamma=5.0, prior_weight=0.3)
    a = c.noise_scheduler.alphas_cumprod
    weight = {id(p): snr_weight(a[p.t] / (1 - a[p.t]), 5.0, "epsilon") for p in (inst, prior)}
    expected = (_per_picture(c, inst) * weight[id(inst)]).mean() + 0.3 * (
        _per_picture(c, prior) * weight[id(prior)]
    ).mean()
    assert torch.allclose(batch_loss(c, o, _predict, inst, prior), expected)
    without_prior = batch_loss(c, o, _predict, inst)
    assert torch.allclose(without_prior, (_per_picture(c, inst) * weight[id(inst)]).mean())


def test_prior_from_base_aims_the_class_prompt_at_the_frozen_bases_prediction() -> None:
    c = _components()
    inst = _part(3, (4, 4, 4), [100, 900])
    prior = Part(inst.latents, PromptEmbeds(torch.ones(2, 3, 8)), inst.noise, inst.t)  # same noisy latents

    def frozen(noisy: torch.Tensor, t: torch.Tensor, cond: PromptEmbeds) -> torch.Tensor:
        return 0.25 * noisy - 1.0

    noisy = c.noise_scheduler.add_noise(inst.latents, inst.noise, inst.t)
    expected = _per_picture(c, inst).mean() + 2.0 * _per_picture(c, prior, frozen(noisy, inst.t, prior.cond)).mean()
    got = batch_loss(c, _options(prior_weight=2.0), _predict, inst, prior, frozen)
    assert torch.allclose(got, expected)
    assert not torch.allclose(got, batch_loss(c, _options(prior_weight=2.0), _predict, inst, prior))
