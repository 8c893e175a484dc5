"""A1111 sampler names -> diffusers schedulers, and back.

The table follows diffusers' own correspondence list (docs: "Schedulers" overview, "A1111/k-diffusion" column).
A name may carry A1111's schedule suffix ("DPM++ 2M Karras") or come split as A1111 >= 1.9 writes it
("Sampler: DPM++ 2M" + "Schedule type: Karras"); ComfyUI's names (``dpmpp_2m``, ``euler_ancestral``) and diffusers
class names (``UniPCMultistepScheduler``) are accepted too. Nothing here imports diffusers except
:func:`make_scheduler`, which builds one from the base's scheduler config (so the noise schedule stays the base's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.errors import DependencyError, UsageError


@dataclass(frozen=True)
class Sampler:
    name: str  # A1111's display name: what the infotext says
    scheduler: str  # diffusers class name
    options: dict[str, Any] = field(default_factory=dict)  # config overrides
    needs: str | None = None  # a package the scheduler imports at run time


def _with_schedules(name: str, scheduler: str, options: dict[str, Any] | None = None, **kw: Any) -> list[Sampler]:
    """``name`` plus its "Karras" and "Exponential" schedule variants (schedulers that take those sigmas)."""
    base = dict(options or {})
    return [
        Sampler(name, scheduler, base, **kw),
        Sampler(f"{name} Karras", scheduler, {**base, "use_karras_sigmas": True}, **kw),
        Sampler(f"{name} Exponential", scheduler, {**base, "use_exponential_sigmas": True}, **kw),
    ]


_TABLE: list[Sampler] = [
    *_with_schedules("DPM++ 2M", "DPMSolverMultistepScheduler"),
    *_with_schedules("DPM++ 2M SDE", "DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++"}),
    *_with_schedules("DPM++ SDE", "DPMSolverSDEScheduler", needs="torchsde"),
    *_with_schedules("DPM2", "KDPM2DiscreteScheduler"),
    *_with_schedules("DPM2 a", "KDPM2AncestralDiscreteScheduler"),
    *_with_schedules("Euler", "EulerDiscreteScheduler"),
    Sampler("Euler a", "EulerAncestralDiscreteScheduler"),
    *_with_schedules("Heun", "HeunDiscreteScheduler"),
    Sampler("LMS", "LMSDiscreteScheduler", needs="scipy"),
    Sampler("LMS Karras", "LMSDiscreteScheduler", {"use_karras_sigmas": True}, needs="scipy"),
    Sampler("DDIM", "DDIMScheduler"),
    Sampler("DDPM", "DDPMScheduler"),
    Sampler("PLMS", "PNDMScheduler", {"skip_prk_steps": True}),
    *_with_schedules("UniPC", "UniPCMultistepScheduler"),
    *_with_schedules("DEIS", "DEISMultistepScheduler"),
    Sampler("LCM", "LCMScheduler"),
]
# DPMSolverSDEScheduler takes Karras sigmas but not exponential ones.
SAMPLERS: dict[str, Sampler] = {s.name: s for s in _TABLE if s.name != "DPM++ SDE Exponential"}

# ComfyUI's sampler names (lowercase, with "_karras" for its scheduler choice) and older A1111 spellings.
_ALIASES = {
    "euler": "Euler",
    "euler_ancestral": "Euler a",
    "k_euler": "Euler",
    "k_euler_a": "Euler a",
    "heun": "Heun",
    "dpm_2": "DPM2",
    "dpm_2_ancestral": "DPM2 a",
    "dpmpp_2m": "DPM++ 2M",
    "dpmpp_2m_sde": "DPM++ 2M SDE",
    "dpmpp_sde": "DPM++ SDE",
    "lms": "LMS",
    "ddim": "DDIM",
    "ddpm": "DDPM",
    "plms": "PLMS",
    "uni_pc": "UniPC",
    "lcm": "LCM",
}
_BY_LOWER = {name.lower(): name for name in SAMPLERS}
# Schedule types A1111 >= 1.9 writes separately; "Automatic"/"Uniform" mean the sampler's own schedule.
SCHEDULE_TYPES = {"": "", "automatic": "", "uniform": "", "karras": "Karras", "exponential": "Exponential"}


def canonical_name(name: str, schedule_type: str | None = None) -> str:
    """The table's spelling of ``name`` (plus A1111's separate "Schedule type"), or a diffusers class name as is.

    Raises UsageError naming the choices when the name is unknown.
    """
    text = " ".join(name.split())
    suffix = SCHEDULE_TYPES.get((schedule_type or "").strip().lower())
    if suffix is None:
        raise UsageError(f"unknown schedule type {schedule_type!r}", hint="Automatic, Uniform, Karras or Exponential")
    lower = text.lower()
    if lower.endswith("_karras"):  # ComfyUI: dpmpp_2m + scheduler karras, sometimes written together
        lower, suffix = lower.removesuffix("_karras"), "Karras"
    found = _BY_LOWER.get(lower) or _ALIASES.get(lower)
    if found is None and _is_scheduler_class(text):
        return text
    if found is None:
        raise UsageError(f"unknown sampler {name!r}", hint=f"one of: {', '.join(SAMPLERS)}")
    if suffix and not found.endswith(suffix):
        with_suffix = f"{found} {suffix}"
        if with_suffix not in SAMPLERS:
            raise UsageError(f"sampler {found!r} has no {suffix} schedule here", hint=f"use {found!r}")
        found = with_suffix
    return found


def _is_scheduler_class(text: str) -> bool:
    return text.isidentifier() and text.endswith("Scheduler")


def make_scheduler(name: str, base_config: dict[str, Any]) -> Any:
    """A diffusers scheduler for ``name`` built from the base's scheduler config (its betas, prediction type)."""
    import importlib.util

    import diffusers

    name = canonical_name(name)
    sampler = SAMPLERS.get(name) or Sampler(name, name)
    if sampler.needs and importlib.util.find_spec(sampler.needs) is None:
        hint = f"pip install {sampler.needs}"
        raise DependencyError(f"sampler {name!r} needs the {sampler.needs} package", hint=hint)
    cls = getattr(diffusers, sampler.scheduler, None)
    if cls is None:
        raise UsageError(f"diffusers has no scheduler {sampler.scheduler!r}", hint=f"one of: {', '.join(SAMPLERS)}")
    config = {k: v for k, v in base_config.items() if not k.startswith("_")}
    if name in SAMPLERS:
        # A schedule flag of the base's own scheduler would leak into another sampler: each name says its own.
        for flag in ("use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas"):
            config.pop(flag, None)
    return cls.from_config(config, **sampler.options)


def name_of(scheduler_class: str, config: dict[str, Any]) -> str:
    """The A1111 name of a scheduler (class name + config), for the infotext of a base's default scheduler.

    Falls back to the class name, which :func:`canonical_name` accepts, so the infotext still re-renders.
    """
    best: Sampler | None = None
    for sampler in SAMPLERS.values():
        matches = sampler.scheduler == scheduler_class and all(config.get(k) == v for k, v in sampler.options.items())
        # the variant with the most matching options wins ("Euler Karras" over "Euler")
        if matches and (best is None or len(sampler.options) > len(best.options)):
            best = sampler
    return best.name if best else scheduler_class
