"""Generation commands: gen, grid (thin: parse, call hub.gen.api, print)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from cli.context import hub_context
from cli.output import console, message, print_json
from hub.refs import parse_spec

LoraOpt = Annotated[
    list[str] | None, typer.Option("--lora", "-l", help="Adapter with weight, NAME[:WEIGHT]; repeat for more.")
]
BaseOpt = Annotated[
    str | None,
    typer.Option("--base", help="Base model: tiny, a folder, a .safetensors or an HF id (default: the adapter's)."),
]
NegativeOpt = Annotated[str, typer.Option("--negative", help="Negative prompt.")]
StepsOpt = Annotated[int, typer.Option("--steps", help="Denoising steps.")]
CfgOpt = Annotated[float, typer.Option("--cfg", help="Classifier-free guidance scale.")]
SizeOpt = Annotated[str | None, typer.Option("--size", help="WIDTHxHEIGHT or one number (default: the base's).")]
SamplerOpt = Annotated[
    str | None,
    typer.Option("--sampler", help='A1111 name: "Euler a", "DPM++ 2M Karras", "DDIM"... (default: the base\'s).'),
]
OutOpt = Annotated[str | None, typer.Option("--out", help="Output folder (default: <home>/outputs/gen/<date>).")]
PreviewOpt = Annotated[bool, typer.Option("--set-preview", help="Store the image as the adapters' preview.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def register(app: typer.Typer) -> None:
    app.command(name="gen")(gen)
    app.command(name="grid")(grid)


def _usage(text: str, hint: str | None = None) -> Exception:
    from hub.errors import UsageError

    return UsageError(text, hint=hint)


def _number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise _usage(f"bad weight {text!r} in {what}", hint="NAME:WEIGHT, e.g. dog:0.7") from None


def _axis(spec: str) -> tuple[str, list[float]]:
    """``dog:0,0.4,0.8`` -> ("dog", [0.0, 0.4, 0.8])."""
    ref, sep, tail = spec.rpartition(":")
    if not sep or not ref or not tail:
        raise _usage(f"bad axis {spec!r}", hint="NAME:W1,W2,..., e.g. dog:0,0.5,1")
    return ref, [_number(v, spec) for v in tail.split(",") if v.strip()]


def _size(text: str | None) -> tuple[int | None, int | None]:
    if not text:
        return None, None
    w, _, h = text.lower().partition("x")
    try:
        return int(w), int(h or w)
    except ValueError:
        raise _usage(f"bad --size {text!r}", hint="WIDTHxHEIGHT, e.g. 512x768, or 512") from None


@contextmanager
def _bars(label: str, per_image: bool) -> Iterator[Callable[[int, int, int], None]]:
    """One bar per image (``per_image``), or one for the whole run: ``update(done, total, n_images)``, fed hub's
    (done, total) step counts."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=console(stderr=True), disable=not sys.stderr.isatty())  # fmt: skip
    tasks: dict[int, Any] = {}

    def update(done: int, total: int, n: int) -> None:
        if not per_image:
            task = tasks.setdefault(0, bar.add_task(label, total=total))
            bar.update(task, completed=done, total=total)
            return
        per = max(1, total // n)
        index = min((done - 1) // per, n - 1)
        task = tasks.get(index)
        if task is None:
            task = tasks[index] = bar.add_task(f"{label} {index + 1}/{n}", total=per)
        bar.update(task, completed=done - index * per)

    with bar:
        yield update


def gen(
    prompt: Annotated[str | None, typer.Argument(help="The prompt; <lora:NAME:W> tags work too.")] = None,
    lora: LoraOpt = None,
    base: BaseOpt = None,
    negative: NegativeOpt = "",
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the first image (default: random).")] = None,
    steps: StepsOpt = 20,
    cfg: CfgOpt = 7.0,
    size: SizeOpt = None,
    n: Annotated[int, typer.Option("--n", help="Number of images (seeds seed, seed+1, ...).")] = 1,
    sampler: SamplerOpt = None,
    out: OutOpt = None,
    set_preview: PreviewOpt = False,
    from_png: Annotated[str | None, typer.Option("--from-png", help="Re-render the recipe in this PNG.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Render images with LoRAs applied as weighted adapters; each PNG carries its A1111 recipe.

    Examples:

    \b
      hub gen "a photo of a dog" --lora dog:0.7 --lora style:0.5 --base tiny --seed 1
      hub gen "a dog <lora:dog:0.8>" --base tiny --sampler "DPM++ 2M Karras" --size 64x96 --n 2 --steps 10
      hub gen --from-png ~/.local/share/lorahub/outputs/gen/2026-11-30/00000-1.png
    """
    from hub.gen import api

    if from_png:
        with _bars("image", True) as bars:
            result = api.rerender(from_png, base=base, out=out, progress=lambda d, t: bars(d, t, 1), ctx=hub_context())
    else:
        if not prompt:
            raise _usage("give a prompt, or --from-png FILE", hint='hub gen "a photo of a dog" --lora dog:0.7')
        width, height = _size(size)
        with _bars("image", True) as bars:
            result = api.generate(prompt, loras=[parse_spec(s) for s in lora or []], base=base, negative=negative,
                                  seed=seed, steps=steps, cfg=cfg, width=width, height=height, n=n, sampler=sampler,
                                  out=out, set_preview=set_preview, progress=lambda d, t: bars(d, t, n),
                                  ctx=hub_context())  # fmt: skip
    if json_out:
        print_json(result)
        return
    for image in result.images:
        print(image.path)
    loras = ", ".join(f"{lo.name}:{lo.weight:g}" for lo in result.loras) or "no LoRA"
    message(f"[green]rendered[/green] {len(result.images)} image(s)  {result.base} ({result.arch})  {loras}  "
            f"{result.sampler}  {result.device}  {result.seconds:.1f}s (load {result.load_seconds:.1f}s)")  # fmt: skip
    if result.previews_set:
        message(f"preview set for {', '.join(result.previews_set)}")


def grid(
    prompt: Annotated[str, typer.Argument(help="The prompt.")],
    axes: Annotated[list[str], typer.Argument(help="Axes NAME:W1,W2,...: the first along X, the rest down Y.")],
    seeds: Annotated[str, typer.Option("--seeds", help="Comma-separated seeds; several add rows.")] = "1",
    lora: LoraOpt = None,
    base: BaseOpt = None,
    negative: NegativeOpt = "",
    steps: StepsOpt = 20,
    cfg: CfgOpt = 7.0,
    size: SizeOpt = None,
    sampler: SamplerOpt = None,
    out: Annotated[str | None, typer.Option("--out", help="Output .png file or folder.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """An X/Y grid of adapter weights in one labelled PNG (A1111's X/Y plot); the pipeline loads once.

    Examples:

    \b
      hub grid "a photo of a dog" dog:0,0.4,0.8 style:0,0.5 --base tiny
      hub grid "portrait" dog:0,0.5,1 --seeds 1,2 --lora detail:0.3 --steps 6 --out dog-grid.png
    """
    from hub.gen import api

    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise _usage(f"bad --seeds {seeds!r}", hint="comma-separated integers, e.g. 1,2,3") from None
    width, height = _size(size)
    axis_list, fixed = [_axis(a) for a in axes], [parse_spec(s) for s in lora or []]
    with _bars("grid", False) as bars:
        result = api.grid(prompt, axis_list, seeds=seed_list, loras=fixed, base=base, negative=negative, steps=steps,
                          cfg=cfg, width=width, height=height, sampler=sampler, out=out,
                          progress=lambda d, t: bars(d, t, 1), ctx=hub_context())  # fmt: skip
    if json_out:
        print_json(result)
        return
    print(result.path)
    cells = f"{len(result.columns)}x{len(result.rows)} cells  {result.width}x{result.height}px"
    message(f"[green]grid[/green] {cells}  {result.base}  {result.sampler}  {result.device}  "
            f"{result.seconds:.1f}s (load {result.load_seconds:.1f}s)")  # fmt: skip
