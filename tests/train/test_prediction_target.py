"""The loss target follows the base's scheduler: the velocity for a v-prediction base (SD2.x 768-v), the noise for
an epsilon one.

The check goes through the trainer's own ``batch_loss`` with an analytic UNet: on all-zero latents the noisy input
is ``sqrt(1 - a_t) * noise``, so a UNet that returns ``noisy / sqrt(1 - a_t)`` predicts the noise exactly and one
that returns ``sqrt(a_t) / sqrt(1 - a_t) * noisy`` predicts the velocity exactly. Each must give a zero loss on the
base that predicts what it returns, and a clearly positive one on the other.
"""

from __future__ import annotations

import pytest
import torch

from hub.train.batches import generator
from hub.train.loss import Part, batch_loss, denoising_target, draw_noise
from hub.train.model import Components, PromptEmbeds
from hub.train.options import TrainOptions


class ExactUnet(torch.nn.Module):
    """Predicts the noise or the velocity exactly, given that the clean latents are zero."""

    def __init__(self, alphas_cumprod: torch.Tensor, predicts: str) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # the trainer reads the UNet's dtype off a parameter
        self.alphas_cumprod = alphas_cumprod
        self.predicts = predicts

    def forward(self, noisy, t, encoder_hidden_states=None, return_dict=False):
        a = self.alphas_cumprod[t].reshape(-1, 1, 1, 1)
        noise = noisy / (1 - a).sqrt()
        return ((a.sqrt() * noise) if self.predicts == "velocity" else noise,)


def _components(prediction_type: str) -> Components:
    from diffusers import DDPMScheduler

    scheduler = DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                              prediction_type=prediction_type)  # fmt: skip
    return Components(pipe=None, arch="sd2", unet=None, vae=None, text_encoders=[], tokenizers=[],
                      noise_scheduler=scheduler, prediction_type=prediction_type, scaling_factor=0.18215)  # fmt: skip


@pytest.mark.parametrize("prediction_type", ["v_prediction", "epsilon"])
def test_the_loss_is_zero_only_for_what_the_base_predicts(prediction_type: str) -> None:
    right, wrong = ("velocity", "noise") if prediction_type == "v_prediction" else ("noise", "velocity")
    c = _components(prediction_type)
    o = TrainOptions(images="", token="sks", class_word="dog")
    losses = {}
    for predicts in (right, wrong):
        unet = ExactUnet(c.noise_scheduler.alphas_cumprod, predicts)
        losses[predicts] = []
        for step in range(4):
            gens = [generator(0, step, i) for i in range(2)]
            noise, t = draw_noise(gens, (4, 4, 4), o, 1000)
            inst = Part(torch.zeros(2, 4, 4, 4), PromptEmbeds(torch.zeros(2, 7, 8)), noise, t)
            losses[predicts].append(float(batch_loss(c, o, lambda x, t, k, unet=unet: unet(x, t)[0], inst)))
    assert max(losses[right]) < 1e-8, losses
    assert min(losses[wrong]) > 1e-3, losses


def test_the_velocity_target_is_the_formula_and_sample_is_the_latents() -> None:
    """Checked against the formula written out here, not against the scheduler the trainer calls."""
    c = _components("v_prediction")
    latents, noise = torch.randn(3, 4, 4, 4), torch.randn(3, 4, 4, 4)
    t = torch.tensor([10, 500, 990])
    a = c.noise_scheduler.alphas_cumprod[t].reshape(-1, 1, 1, 1)
    velocity = a.sqrt() * noise - (1 - a).sqrt() * latents
    assert torch.allclose(denoising_target(c, latents, noise, t), velocity, atol=1e-5)
    c.prediction_type = "sample"
    assert torch.equal(denoising_target(c, latents, noise, t), latents)
    c.prediction_type = "epsilon"
    assert torch.equal(denoising_target(c, latents, noise, t), noise)
