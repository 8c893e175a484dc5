"""``hub gen`` and ``hub grid``: render prompts with LoRAs as weighted adapters; X/Y grids of adapter weights.

Every PNG carries A1111's "parameters" infotext (``<lora:name:w>`` tags, ``Lora hashes`` with AutoV3), so A1111's
PNG Info, Civitai and :func:`read_png` read its recipe back, and :func:`rerender` renders it again. A process that
renders many times (the web UI) keeps a :class:`Renderer` per base instead of calling :func:`generate`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hub.context import Context
from hub.errors import BadFileError, UsageError
from hub.gen.adapters import check_fit, recorded_base, resolve_loras
from hub.gen.grid_plan import plan_grid
from hub.gen.infotext import format_infotext, parse_infotext, split_lora_tags
from hub.gen.png import read_parameters, read_text_chunks, save_png_as
from hub.gen.renderer import Renderer, check_numbers, default_output_dir, opened, version
from hub.gen.results import GenRequest, GenResult, GridCell, GridResult, LoraUse
from hub.gen.samplers import canonical_name
from hub.models import Progress
from hub.settings import Settings, load_settings

__all__ = ["GenRequest", "Renderer", "gen", "generate", "grid", "read_png", "render", "rerender"]

LoraSpec = tuple[str, float] | LoraUse
GRID_CHUNK = "hub-grid"  # the grid's full recipe as JSON, beside A1111's "parameters"


def _uses(loras: Sequence[LoraSpec]) -> list[LoraUse]:
    return [lora if isinstance(lora, LoraUse) else LoraUse(name=lora[0], weight=float(lora[1])) for lora in loras]


def make_request(prompt: str, *, loras: Sequence[LoraSpec] = (), **options: Any) -> GenRequest:
    """A request from ``generate``'s arguments; ``<lora:name:w>`` tags in the prompt count as ``loras`` too."""
    clean, tagged = split_lora_tags(prompt)
    if not clean:
        raise UsageError("empty prompt", hint='hub gen "a photo of a dog" --lora dog:0.7')
    return GenRequest(prompt=clean, loras=[*_uses(loras), *tagged], **options)


def _settings(settings: Settings | None, ctx: Context | None) -> Settings:
    return ctx.settings if ctx is not None else settings or load_settings()


def _base_for(request: GenRequest, ctx: Context) -> str:
    """The base to load; the adapters are looked up and checked against the base's configs first, so that a
    misspelt name, an embedding, a repeat or an adapter for another base fails in a blink instead of after the
    pipeline has loaded (seconds for the tiny base, far more for SDXL)."""
    from hub.bases.api import describe_base, module_table

    loras = resolve_loras(request.loras, ctx)
    base = request.base or recorded_base(loras)
    if base is None:
        names = ", ".join(lora.name for lora in request.loras) or "no adapter"
        raise UsageError(
            f"no base model given, and {names} records none hub can load",
            hint="pass --base: 'tiny' (offline), a diffusers folder, a .safetensors checkpoint or an HF model id",
        )
    if loras:
        info = describe_base(base, paths=ctx.settings.paths)  # configs only (quiet_loading would import diffusers)
        check_fit(loras, info, module_table(info))
    return base


def render(
    request: GenRequest,
    *,
    out: str | Path | None = None,
    set_preview: bool = False,
    settings: Settings | None = None,
    progress: Progress | None = None,
    ctx: Context | None = None,
) -> GenResult:
    """Render a request with a fresh :class:`Renderer` (base: the request's, else the adapters' recorded one)."""
    start = time.perf_counter()
    settings = _settings(settings, ctx)
    if request.sampler:
        canonical_name(request.sampler)  # a typo fails before the pipeline loads
    check_numbers(request)  # and so do --steps 0 and --size 63x64
    with opened(settings, ctx) as c:
        renderer = Renderer(_base_for(request, c), settings=settings)
        result = renderer.render(request, out=out, set_preview=set_preview, progress=progress, ctx=c)
    return result.model_copy(update={"load_seconds": renderer.load_seconds, "seconds": time.perf_counter() - start})


def generate(
    prompt: str,
    *,
    loras: Sequence[LoraSpec] = (),
    base: str | None = None,
    negative: str = "",
    seed: int | None = None,
    steps: int = 20,
    cfg: float = 7.0,
    width: int | None = None,
    height: int | None = None,
    n: int = 1,
    sampler: str | None = None,
    out: str | Path | None = None,
    set_preview: bool = False,
    settings: Settings | None = None,
    progress: Progress | None = None,
    ctx: Context | None = None,
) -> GenResult:
    """Render ``n`` images of ``prompt`` with ``loras`` (``[("dog", 0.7), ...]``) applied as weighted adapters.

    ``seed`` None picks one (image i gets seed + i); ``width``/``height`` None use the base's native size;
    ``sampler`` is an A1111 name ("Euler a", "DPM++ 2M Karras"), None the base's own scheduler. PNGs go to ``out``
    (default ``<home>/outputs/gen/<date>/``); ``set_preview`` records the first as each adapter's preview.
    ``progress(done, total)`` ticks once per denoising step over all images.
    """
    request = make_request(prompt, loras=loras, base=base, negative=negative, seed=seed, steps=steps, cfg=cfg,
                           width=width, height=height, n=n, sampler=sampler)  # fmt: skip
    return render(request, out=out, set_preview=set_preview, settings=settings, progress=progress, ctx=ctx)


gen = generate  # the facade's name: ``hub.gen(...)``


def read_png(path: str | Path) -> GenRequest:
    """The request in an image's A1111 "parameters" text (ours, A1111's, Forge's or a Civitai download's)."""
    return parse_infotext(read_parameters(Path(path).expanduser()))


def rerender(
    path: str | Path,
    *,
    base: str | None = None,
    out: str | Path | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
    ctx: Context | None = None,
) -> GenResult:
    """Render the recipe of an image again (``hub gen --from-png``); ``base`` replaces the one it names."""
    request = read_png(path)
    if base:
        request = request.model_copy(update={"base": base})
    return render(request, out=out, settings=settings, progress=progress, ctx=ctx)


def grid(
    prompt: str,
    axes: Sequence[tuple[str, Sequence[float]]],
    *,
    seeds: Sequence[int] = (1,),
    loras: Sequence[LoraSpec] = (),
    base: str | None = None,
    negative: str = "",
    steps: int = 20,
    cfg: float = 7.0,
    width: int | None = None,
    height: int | None = None,
    sampler: str | None = None,
    out: str | Path | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
    ctx: Context | None = None,
) -> GridResult:
    """An X/Y grid of adapter weights in ONE labelled PNG, the pipeline loaded once.

    ``axes``: ``[("dog", [0, 0.4, 0.8]), ("style", [0, 0.5])]``. The first axis runs along X; the rows are every
    combination of the other axes and of ``seeds`` (one row per seed when there is a single axis). ``loras`` are
    applied at a fixed weight in every cell. ``out``: a ``.png`` path or a folder. The PNG's "parameters" text is
    the first cell's infotext plus A1111's X/Y plot fields; its ``hub-grid`` text chunk holds the recipe as JSON.
    ``progress(done, total)`` ticks once per denoising step over all cells.
    """
    from hub.gen.grid_image import draw_grid

    start = time.perf_counter()
    settings = _settings(settings, ctx)
    plan = plan_grid(axes, seeds)
    if sampler:
        canonical_name(sampler)
    template = make_request(prompt, loras=loras, base=base, negative=negative, steps=steps, cfg=cfg, width=width,
                            height=height, sampler=sampler)  # fmt: skip
    fixed = template.loras
    if set(plan.names) & {lora.name for lora in fixed}:
        raise UsageError("an adapter is both on an axis and fixed with --lora")
    everything = template.model_copy(update={"loras": [LoraUse(name=n) for n in plan.names] + fixed})
    check_numbers(template)
    with opened(settings, ctx) as c:
        renderer = Renderer(_base_for(everything, c), settings=settings)
        images: list[list[Any]] = [[] for _ in plan.rows]
        made: list[tuple[str, GenRequest]] = []
        for index, cell in enumerate(plan.cells):
            uses = [LoraUse(name=n, weight=w) for n, w in cell.weights.items()] + fixed
            request = template.model_copy(update={"seed": cell.seed, "loras": uses})
            tick = _cell_progress(progress, index, len(plan.cells))
            image, one, text = next(iter(renderer.images(request, tick, ctx=c)))
            images[cell.row].append(image)
            made.append((text, one))
    sheet, boxes = draw_grid(images, plan.columns, plan.rows)

    first = made[0][1]
    hashes = {lora.name: lora.hash for lora in first.loras if lora.hash}
    parameters = format_infotext(first, lora_hashes=hashes, version=version(), extra=plan.xy_fields())
    recipe = {
        **first.model_dump(exclude={"seed", "loras", "n", "extra"}),
        "axes": [[n, v] for n, v in zip(plan.names, plan.values, strict=True)],
        "seeds": plan.seeds,
        "loras": [lora.model_dump() for lora in fixed],
        "columns": plan.columns,
        "rows": plan.rows,
    }
    target = _grid_path(out, settings)
    save_png_as(sheet, target, {"parameters": parameters, GRID_CHUNK: json.dumps(recipe)})
    cells = [
        GridCell(column=c.column, row=c.row, weights=c.weights, seed=c.seed, box=boxes[c.row][c.column], infotext=t)
        for c, (t, _) in zip(plan.cells, made, strict=True)
    ]
    return GridResult(path=str(target), width=sheet.width, height=sheet.height, columns=plan.columns, rows=plan.rows,
                      cells=cells, base=renderer.base, sampler=str(first.sampler), device=renderer.device,
                      load_seconds=renderer.load_seconds, seconds=time.perf_counter() - start)  # fmt: skip


def _cell_progress(progress: Progress | None, index: int, total: int) -> Progress | None:
    if progress is None:
        return None
    return lambda done, per: progress(index * per + done, total * per)


def _grid_path(out: str | Path | None, settings: Settings) -> Path:
    if out and Path(out).suffix.lower() == ".png":
        return Path(out).expanduser()
    folder = Path(out).expanduser() if out else default_output_dir(settings)
    return folder / f"grid-{time.strftime('%Y%m%d-%H%M%S')}-{time.perf_counter_ns() % 10**6:06d}.png"


def read_grid(path: str | Path) -> dict[str, Any]:
    """The recipe a grid PNG embeds (its ``hub-grid`` chunk)."""
    text = read_text_chunks(Path(path).expanduser()).get(GRID_CHUNK)
    if not text:
        raise BadFileError("not a hub grid (no hub-grid text chunk)", path=str(path))
    return json.loads(text)
