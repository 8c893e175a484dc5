"""``hub train`` (pictures -> a registered LoRA) and ``hub runs`` (the training runs): parse, call hub.train, print."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from cli.output import console, print_json, result_line

if TYPE_CHECKING:
    from hub.train.results import LogRow, TrainResult

_DATA = "Data"
_LORA = "LoRA"
_OPT = "Optimisation"
_PRIOR = "Prior preservation"
_LOOK = "Samples, checkpoints, resume"


def register(app: typer.Typer) -> None:
    app.command(name="train")(train)
    app.command(name="runs")(runs)


def _opt(*flags: str, help: str, panel: str = _DATA) -> typer.models.OptionInfo:
    return typer.Option(*flags, help=help, rich_help_panel=panel)


@contextmanager
def _train_bar(enabled: bool) -> Iterator[tuple[Callable[[int, int], None] | None, Callable[[LogRow], None] | None]]:
    """(progress, on_step) drawing step/total, loss, it/s and time left on stderr (a terminal only)."""
    if not enabled or not sys.stderr.isatty():
        yield None, None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("[bold]training"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=console(stderr=True),
        transient=True,
    )
    with bar:
        task = bar.add_task("training", total=None, loss="-", rate="")

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)
            speed = bar.tasks[0].speed
            bar.update(task, rate=f"{speed:.2f} it/s" if speed else "")

        def on_step(row: LogRow) -> None:
            bar.update(task, loss=f"{row.loss:.4f}")

        yield progress, on_step


def train(
    images: Annotated[str, _opt("--images", help="Folder of pictures, a .zip of one, or kohya's N_token layout.")],
    token: Annotated[str, _opt("--token", help="The rare word the subject is bound to, e.g. sks.")],
    class_word: Annotated[str, _opt("--class-word", help="What the subject is, e.g. dog.")],
    base: Annotated[str, _opt("--base", help="tiny, a diffusers folder, a .safetensors/.ckpt or an HF id.")] = "tiny",
    name: Annotated[str | None, _opt("--name", help="Registry name (default: TOKEN-CLASS).")] = None,
    base_config: Annotated[
        str | None, _opt("--base-config", help="Single-file base: a diffusers folder (or HF id) with its configs.")
    ] = None,
    preset: Annotated[str | None, _opt("--preset", help="cpu-tiny, 8gb, 12gb or 24gb defaults.", panel=_OPT)] = None,
    steps: Annotated[int | None, _opt("--steps", help="Optimizer steps (500).", panel=_OPT)] = None,
    lr: Annotated[float | None, _opt("--lr", help="Learning rate (1e-4).", panel=_OPT)] = None,
    rank: Annotated[int | None, _opt("--rank", help="LoRA rank (4).", panel=_LORA)] = None,
    alpha: Annotated[float | None, _opt("--alpha", help="LoRA alpha (default: rank).", panel=_LORA)] = None,
    resolution: Annotated[int | None, _opt("--resolution", help="Training size in pixels (512).")] = None,
    batch_size: Annotated[
        int | None, _opt("--batch-size", help="Pictures per step per process (1).", panel=_OPT)
    ] = None,
    seed: Annotated[int | None, _opt("--seed", help="Seed of everything random (0).", panel=_OPT)] = None,
    instance_prompt: Annotated[str | None, _opt("--instance-prompt", help="Default 'a photo of TOKEN CLASS'.")] = None,
    class_prompt: Annotated[
        str | None, _opt("--class-prompt", help="Default 'a photo of CLASS'.", panel=_PRIOR)
    ] = None,
    dropout: Annotated[float | None, _opt("--dropout", help="LoRA dropout (0).", panel=_LORA)] = None,
    conv: Annotated[bool | None, _opt("--conv/--no-conv", help="Also the resnet convs (LoCon).", panel=_LORA)] = None,
    conv_rank: Annotated[
        int | None, _opt("--conv-rank", help="Rank of the convs (default: rank).", panel=_LORA)
    ] = None,
    train_text_encoder: Annotated[
        bool | None,
        _opt("--train-text-encoder/--no-train-text-encoder", help="LoRA on the text encoder(s) too.", panel=_LORA),
    ] = None,
    text_encoder_lr: Annotated[float | None, _opt("--text-encoder-lr", help="Its own rate.", panel=_LORA)] = None,
    optimizer: Annotated[str | None, _opt("--optimizer", help="adamw, adamw8bit or prodigy.", panel=_OPT)] = None,
    weight_decay: Annotated[float | None, _opt("--weight-decay", help="AdamW decay (0.01).", panel=_OPT)] = None,
    scheduler: Annotated[
        str | None, _opt("--scheduler", help="constant, linear, cosine, ... (constant).", panel=_OPT)
    ] = None,
    warmup_steps: Annotated[int | None, _opt("--warmup-steps", help="Warm-up steps (0).", panel=_OPT)] = None,
    grad_accum: Annotated[int | None, _opt("--grad-accum", help="Gradient accumulation (1).", panel=_OPT)] = None,
    max_grad_norm: Annotated[float | None, _opt("--max-grad-norm", help="Clip (1.0; 0 = off).", panel=_OPT)] = None,
    mixed_precision: Annotated[
        str | None, _opt("--mixed-precision", help="no, bf16 or fp16 (GPU).", panel=_OPT)
    ] = None,
    gradient_checkpointing: Annotated[
        bool | None,
        _opt("--gradient-checkpointing/--no-gradient-checkpointing", help="Less memory, slower.", panel=_OPT),
    ] = None,
    min_snr_gamma: Annotated[
        float | None, _opt("--min-snr-gamma", help="Min-SNR weighting, e.g. 5.", panel=_OPT)
    ] = None,
    noise_offset: Annotated[float | None, _opt("--noise-offset", help="Offset noise, e.g. 0.05.", panel=_OPT)] = None,
    crop: Annotated[str | None, _opt("--crop", help="center (default) or random.")] = None,
    flip: Annotated[bool | None, _opt("--flip/--no-flip", help="Random horizontal flips.")] = None,
    buckets: Annotated[bool | None, _opt("--buckets/--no-buckets", help="Aspect-ratio buckets.")] = None,
    repeats: Annotated[int | None, _opt("--repeats", help="Times each picture is seen per epoch (1).")] = None,
    cache_latents: Annotated[
        bool | None, _opt("--cache-latents/--no-cache-latents", help="Encode pictures once (default on).")
    ] = None,
    caption: Annotated[str | None, _opt("--caption", help="Write captions first: blip or wd14.")] = None,
    caption_model: Annotated[str | None, _opt("--caption-model", help="Captioner: HF id or local folder.")] = None,
    overwrite_captions: Annotated[
        bool | None, _opt("--overwrite-captions/--keep-captions", help="Replace existing caption files.")
    ] = None,
    prior_images: Annotated[
        int | None, _opt("--prior-images", help="Generate N class pictures (cached).", panel=_PRIOR)
    ] = None,
    prior_weight: Annotated[
        float | None, _opt("--prior-weight", help="Weight of the prior loss (1).", panel=_PRIOR)
    ] = None,
    class_images: Annotated[str | None, _opt("--class-images", help="Folder of class pictures.", panel=_PRIOR)] = None,
    prior_from_base: Annotated[
        bool | None,
        _opt("--prior-from-base/--no-prior-from-base", help="Prior = the frozen base's own prediction.", panel=_PRIOR),
    ] = None,
    sample_prompts: Annotated[
        list[str] | None, _opt("--sample-prompt", help="Prompt to sample (repeatable).", panel=_LOOK)
    ] = None,
    sample_every: Annotated[int | None, _opt("--sample-every", help="Sample every N steps.", panel=_LOOK)] = None,
    sample_steps: Annotated[int | None, _opt("--sample-steps", help="Denoising steps (20).", panel=_LOOK)] = None,
    checkpoint_every: Annotated[
        int | None, _opt("--checkpoint-every", help="Checkpoint every N steps.", panel=_LOOK)
    ] = None,
    checkpoint_limit: Annotated[
        int | None, _opt("--checkpoint-limit", help="Keep the newest N (3).", panel=_LOOK)
    ] = None,
    resume: Annotated[str | None, _opt("--resume", help="latest, a run id, run folder or .pt.", panel=_LOOK)] = None,
    device: Annotated[str | None, _opt("--device", help="auto, cpu or cuda.", panel=_OPT)] = None,
    run_id: Annotated[
        str | None, _opt("--run-id", help="Id of the run folder (default: time-based).", panel=_LOOK)
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Train a LoRA (DreamBooth with prior preservation) on a folder of pictures and register it.

    Examples:

    \b
      hub train --images ./dog --token sks --class-word dog --preset cpu-tiny
      hub train --images dog.zip --token sks --class-word dog --base runwayml/stable-diffusion-v1-5 \\
          --preset cpu-tiny --prior-images 2 --sample-prompt "a sks dog on the beach" --sample-every 15
      hub train --images ./dog --token sks --class-word dog --preset cpu-tiny --resume latest
    """
    from cli.context import hub_context
    from hub.train.api import train as run_training

    options = {k: v for k, v in locals().items() if k not in ("json_out", "run_training", "hub_context")}
    with _train_bar(not json_out) as (progress, on_step):
        result = run_training(**options, progress=progress, on_step=on_step, ctx=hub_context())
    if result.process_index != 0:  # a distributed launch: the main process reports for all
        return
    if json_out:
        print_json(result)
        return
    _print_result(result)


def _print_result(r: TrainResult) -> None:
    a = r.adapter
    result_line(
        f"[green]registered[/green] {a.name}  [dim]{a.id}[/dim]  {a.format} rank {a.rank}  "
        f"{r.steps} steps  {r.seconds:.1f}s  loss {r.first_loss:.4f} -> {r.final_loss:.4f}"
    )
    skipped = f" ({r.skipped} non-picture files skipped)" if r.skipped else ""
    result_line(f"pictures: {r.images}{skipped}  class pictures: {r.class_images}")
    result_line(f"run: {r.run_dir}")
    if r.samples:
        result_line(f"samples: {r.samples[-1]}")
    result_line(f"loss curve: {r.loss_curve}")
    result_line(f"[dim]recipe: {r.command}[/dim]")


def runs(
    run_id: Annotated[str | None, typer.Argument(help="Show one run (its steps) instead of the list.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List training runs (newest first), or show one.

    Examples:

    \b
      hub runs
      hub runs 20260101-120000-ab12cd --json
    """
    from cli.context import hub_context
    from hub.train.api import list_runs, read_run

    if run_id:
        detail = read_run(run_id, ctx=hub_context())
        if json_out:
            print_json(detail)
            return
        i = detail.info
        result_line(f"{i.run_id}  {i.status}  {i.name or ''}  base {i.base}  step {i.step}/{i.total_steps}")
        if i.error:
            result_line(f"error: {i.error}")
        for row in detail.log[-10:]:
            result_line(f"  step {row.step:>6}  loss {row.loss:.5f}  lr {row.lr:.3g}  {row.seconds:.1f}s")
        for p in detail.samples[-1:]:
            result_line(f"samples: {p}")
        return
    infos = list_runs(ctx=hub_context())
    if json_out:
        print_json(infos)
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for col in ("run", "status", "adapter", "base", "step", "loss"):
        table.add_column(col, no_wrap=col in ("run", "status"), overflow="fold")
    for i in infos:
        loss = "-" if i.last_loss is None else f"{i.last_loss:.4f}"
        table.add_row(
            i.run_id, i.status, i.adapter_name or i.name or "", i.base[:18], f"{i.step}/{i.total_steps}", loss
        )
    console().print(table)
