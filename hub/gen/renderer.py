"""A loaded pipeline for one base, reused across renders: ``Renderer(base).render(request)``.

A long-running process (the web UI, a grid) pays the pipeline load once; adapters are loaded on first use and
kept (up to 8), so later requests only change which adapters are active and at what weights. Device: CUDA when
torch sees one (fp16, SDPA attention as diffusers sets it by default, attention slicing on cards under 8 GiB),
else the CPU in float32 with a thread count chosen when the user did not set OMP_NUM_THREADS.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hub.bases.quiet import quiet_loading
from hub.context import Context
from hub.errors import UsageError
from hub.gen.adapters import LoadedAdapters, ResolvedLora, check_fit, resolve_loras
from hub.gen.infotext import format_infotext
from hub.gen.png import save_png
from hub.gen.results import GeneratedImage, GenRequest, GenResult
from hub.gen.samplers import canonical_name, make_scheduler, name_of
from hub.models import Progress
from hub.settings import Settings, load_settings

SMALL_CARD_BYTES = 8 * 2**30
MAX_CPU_THREADS = 8  # past this, a batch-1 UNet step on CPU gains little and the machine stops responding


def version() -> str:
    from hub import __version__

    return f"sd-lora-hub {__version__}"


def choose_threads(device: str) -> int | None:
    """torch's intra-op threads when the user set none: the CPUs this process may use, at most 8 (4 when a GPU
    does the work). Returns the number set, or None when OMP_NUM_THREADS decides."""
    if os.environ.get("OMP_NUM_THREADS"):
        return None
    import torch

    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        available = os.cpu_count() or 1
    threads = max(1, min(available, 4 if device.startswith("cuda") else MAX_CPU_THREADS))
    torch.set_num_threads(threads)
    return threads


@contextmanager
def opened(settings: Settings, ctx: Context | None) -> Iterator[Context]:
    """``ctx`` as given (its owner closes it), else a context of ``settings`` closed when the block ends. A
    Renderer keeps settings, never a connection: a server may render on another thread than it loaded on."""
    if ctx is not None:
        yield ctx
        return
    with Context(settings) as fresh:
        yield fresh


def default_output_dir(settings: Settings) -> Path:
    return settings.paths.home / "outputs" / "gen" / time.strftime("%Y-%m-%d")


def check_numbers(request: GenRequest) -> None:
    """Steps, count and the size given: checked before the pipeline loads (seconds), not after."""
    if request.steps < 1 or request.n < 1:
        raise UsageError("--steps and --n must be at least 1")
    width, height = request.width, request.height
    for side in (width, height):
        if side is not None and (side % 8 or side < 8):
            shown = f"{width or 'native'}x{height or 'native'}"
            raise UsageError(f"size {shown}: width and height must be positive multiples of 8", hint="e.g. 512x512")


class Renderer:
    """The pipeline of ``base`` on the chosen device, and the adapters loaded into it so far."""

    def __init__(self, base: str, *, settings: Settings | None = None, device: str | None = None,
                 dtype: str | None = None) -> None:  # fmt: skip
        import torch

        from hub.bases.api import describe_base, load_pipeline, module_table
        from hub.bases.devices import resolve_device, resolve_dtype

        start = time.perf_counter()
        self.settings = settings or load_settings()
        self.base = base
        self.device = str(resolve_device(device or self.settings.device))
        self.threads = choose_threads(self.device)
        self.dtype = resolve_dtype(dtype) or (torch.float16 if self.device.startswith("cuda") else torch.float32)
        with quiet_loading():
            self.info = describe_base(base, paths=self.settings.paths)
            self.table = module_table(self.info)
            self.pipe = load_pipeline(base, paths=self.settings.paths, dtype=self.dtype, device=self.device)
        if self.device.startswith("cuda") and torch.cuda.get_device_properties(0).total_memory < SMALL_CARD_BYTES:
            self.pipe.enable_attention_slicing()
        self._scheduler_class = type(self.pipe.scheduler).__name__
        self._scheduler_config = dict(self.pipe.scheduler.config)
        self._schedulers: dict[str, Any] = {}
        self.adapters = LoadedAdapters(self.pipe, self.settings.paths)
        self.load_seconds = time.perf_counter() - start

    # -- requests --------------------------------------------------------------------------------
    @property
    def default_sampler(self) -> str:
        return name_of(self._scheduler_class, self._scheduler_config)

    @property
    def native_size(self) -> int:
        return int(self.pipe.unet.config.sample_size) * int(self.pipe.vae_scale_factor)

    def resolve(self, request: GenRequest, ctx: Context) -> tuple[GenRequest, list[ResolvedLora]]:
        """The request with every choice made (seed, size, sampler, base, adapter names and hashes)."""
        check_numbers(request)
        loras = resolve_loras(request.loras, ctx)
        check_fit(loras, self.info, self.table)
        width = request.width or self.native_size
        height = request.height or self.native_size
        check_numbers(request.model_copy(update={"width": width, "height": height}))
        seed = request.seed if request.seed is not None else random.SystemRandom().randrange(2**32)
        sampler = canonical_name(request.sampler) if request.sampler else self.default_sampler
        resolved = request.model_copy(update={
            "loras": [lora.use for lora in loras], "base": self.base, "seed": seed, "width": width,
            "height": height, "sampler": sampler, "extra": {},
        })  # fmt: skip
        return resolved, loras

    def _scheduler(self, sampler: str) -> Any:
        if sampler not in self._schedulers:
            self._schedulers[sampler] = make_scheduler(sampler, self._scheduler_config)
        return self._schedulers[sampler]

    # -- rendering -------------------------------------------------------------------------------
    def images(self, request: GenRequest, progress: Progress | None = None, *, ctx: Context | None = None
               ) -> Iterator[tuple[Any, GenRequest, str]]:  # fmt: skip
        """(PIL image, the one-image request that made it, its infotext) for each of ``request.n`` images."""
        with opened(self.settings, ctx) as c:
            resolved = self.resolve(request, c)
        return self._images(*resolved, progress)

    def _images(self, request: GenRequest, loras: list[ResolvedLora], progress: Progress | None
                ) -> Iterator[tuple[Any, GenRequest, str]]:  # fmt: skip
        import torch

        assert request.seed is not None and request.sampler is not None
        names = [self.adapters.ensure(lora) for lora in loras]
        self.adapters.activate(list(zip(names, [lora.use.weight for lora in loras], strict=True)))
        self.pipe.scheduler = self._scheduler(request.sampler)
        hashes = {lora.use.name: lora.use.hash for lora in loras if lora.use.hash}
        for i in range(request.n):
            one = request.model_copy(update={"seed": request.seed + i, "n": 1})
            image = self._one(one, i, request.n, progress, torch)
            yield image, one, format_infotext(one, lora_hashes=hashes, version=version())

    def _one(self, request: GenRequest, index: int, n: int, progress: Progress | None, torch: Any) -> Any:
        # The noise comes from a CPU generator: the same seed gives the same image on any device (as diffusers
        # recommends for reproducibility), and image i of a batch equals a single render with seed + i.
        generator = torch.Generator("cpu").manual_seed(int(request.seed or 0))

        def on_step(pipe: Any, step: int, _timestep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
            if progress:
                # second-order samplers (Heun, DPM2) take more model steps than --steps
                per = int(getattr(pipe, "num_timesteps", 0) or request.steps)
                progress(index * per + step + 1, n * per)
            return kwargs

        with torch.inference_mode():
            out = self.pipe(
                prompt=request.prompt,
                negative_prompt=request.negative or None,
                num_inference_steps=request.steps,
                guidance_scale=request.cfg,
                width=request.width,
                height=request.height,
                generator=generator,
                callback_on_step_end=on_step,
            )
        return out.images[0]

    def render(self, request: GenRequest, *, out: str | Path | None = None, set_preview: bool = False,
               progress: Progress | None = None, ctx: Context | None = None) -> GenResult:  # fmt: skip
        """Render ``request`` into PNGs (each with its infotext) under ``out`` (default: the home's outputs).

        ``progress(done, total)`` ticks once per denoising step over all ``n`` images.
        """
        start = time.perf_counter()
        with opened(self.settings, ctx) as c:
            return self._render(request, out, set_preview, progress, c, start)

    def _render(self, request: GenRequest, out: str | Path | None, set_preview: bool, progress: Progress | None,
                ctx: Context, start: float) -> GenResult:  # fmt: skip
        resolved, loras = self.resolve(request, ctx)
        folder = Path(out).expanduser() if out else default_output_dir(self.settings)
        images: list[GeneratedImage] = []
        for image, one, text in self._images(resolved, loras, progress):
            path = save_png(image, folder, int(one.seed or 0), {"parameters": text})
            images.append(GeneratedImage(path=str(path), seed=int(one.seed or 0), infotext=text, request=one))
        previews = []
        if set_preview and images:
            from hub.registry.api import add_preview

            # where it came from, relative to the home when it was written there (as the registry records paths)
            source = f"hub gen: {self.settings.paths.recorded(images[0].path)}"
            for lora in loras:
                if lora.detail.id and lora.use.weight != 0:
                    add_preview(lora.detail.id, images[0].path, first=False, source=source, ctx=ctx)
                    previews.append(lora.detail.name)
        return GenResult(
            images=images, base=self.base, arch=self.info.arch, sampler=str(resolved.sampler), device=self.device,
            dtype=str(self.dtype).removeprefix("torch."), loras=resolved.loras, previews_set=previews,
            seconds=time.perf_counter() - start,
        )  # fmt: skip
