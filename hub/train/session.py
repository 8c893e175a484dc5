"""One training run from start to end: the accelerator, the run folder (new or resumed), the dataset checked
before any model is loaded, the fit, then the adapter file, its registration, loss curve and card. Whatever
happens, ``run.json`` ends with a status (done, failed or interrupted) and the error in one line.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.context import Context
from hub.errors import HubError, UsageError
from hub.train.dataset import Dataset, check_sizes, collect, unpack_zip
from hub.train.loop import OnStep, StopFlag, TrainingInterrupted
from hub.train.options import TrainOptions
from hub.train.preflight import check_device_support
from hub.train.runs import RunFolder, check_run_id, find_resume, load_checkpoint, new_run_id, now_iso, runs_root

if TYPE_CHECKING:  # pydantic: imported once the steps are over (see hub.train.runs)
    from hub.models import Progress
    from hub.train.results import TrainResult


def _accelerator(o: TrainOptions) -> Any:
    from accelerate import Accelerator

    device = check_device_support(o)  # fp16 on a CPU is refused before accelerate sees it (its refusal is long)
    return Accelerator(
        mixed_precision=o.mixed_precision, gradient_accumulation_steps=o.grad_accum, cpu=device == "cpu"
    )


def _broadcast(accelerator: Any, value: Any) -> Any:
    if accelerator.num_processes == 1:
        return value
    from accelerate.utils import broadcast_object_list

    return broadcast_object_list([value])[0]


class TrainSession:
    def __init__(self, o: TrainOptions, ctx: Context, *, run_id: str | None) -> None:
        self.o = o
        self.ctx = ctx
        self.paths = ctx.paths
        self.stop = StopFlag()
        self.accelerator = _accelerator(o)
        self.main = self.accelerator.is_main_process
        self.resume_state: dict[str, Any] | None = None
        if o.resume:
            # Every process reads the same checkpoint (a shared filesystem, as accelerate's own resume needs).
            found = find_resume(o.resume, self.paths, name=o.adapter_name, run_id=run_id) if self.main else None
            folder, checkpoint = (Path(p) for p in _broadcast(self.accelerator, [str(x) for x in found or ("", "")]))
            self.resume_state = load_checkpoint(checkpoint)
            run_id = folder.name
        run_id = _broadcast(self.accelerator, check_run_id(run_id) if run_id else new_run_id())
        self.run_id = run_id
        self.folder = RunFolder.create(self.paths, run_id) if self.main else None
        self.run_dir = runs_root(self.paths) / run_id

    # ---------------------------------------------------------------- steps

    def _start(self) -> None:
        if self.folder is None:
            return
        o = self.o
        if self.resume_state is not None:
            self.folder.truncate_log(int(self.resume_state["step"]))
        self.folder.update(
            run_id=self.run_id,
            status="running",
            name=o.adapter_name,
            base=o.base,
            options={k: v for k, v in o.as_dict().items() if k != "resume"},
            started_at=now_iso(),
            finished_at=None,
            total_steps=o.steps,
            pid=os.getpid(),
            error=None,
            adapter_id=None,
            adapter_name=None,
            world_size=self.accelerator.num_processes,
        )

    def _dataset(self) -> Dataset:
        o = self.o
        source = Path(o.images).expanduser()
        if source.suffix.lower() == ".zip" and source.is_file():
            target = self.run_dir / "dataset"
            if self.main and not target.exists():
                target.mkdir(parents=True)
                unpack_zip(source, target)
            self.accelerator.wait_for_everyone()
            entries = [p for p in target.iterdir() if not p.name.startswith((".", "__MACOSX"))]
            source = entries[0] if len(entries) == 1 and entries[0].is_dir() else target
        classes = Path(o.class_images).expanduser() if o.class_images else None
        ds = collect(
            source, instance_prompt=o.instance_text, class_prompt=o.class_text, class_images=classes, repeats=o.repeats
        )
        if o.caption:
            from hub.train.captioning import caption_folder

            if self.main:
                caption_folder(ds, o, device=self.accelerator.device)
            self.accelerator.wait_for_everyone()
            ds = collect(
                source,
                instance_prompt=o.instance_text,
                class_prompt=o.class_text,
                class_images=classes,
                repeats=o.repeats,
            )
        ds.instance = check_sizes(ds.instance, o.resolution)
        ds.reg = check_sizes(ds.reg, o.resolution)
        return ds

    def run(self, progress: Progress | None, on_step: OnStep | None) -> TrainResult:
        self._start()
        try:
            return self._train(progress, on_step)
        except TrainingInterrupted as e:
            self._finish("interrupted", e)
            raise
        except KeyboardInterrupt as e:
            self._finish("interrupted", e)
            raise
        except BaseException as e:
            self._finish("failed", e)
            raise

    def _finish(self, status: str, error: BaseException) -> None:
        if self.folder is None:
            return
        message = str(error) if isinstance(error, HubError) else f"{type(error).__name__}: {error}".rstrip(": ")
        self.folder.update(status=status, finished_at=now_iso(), error=message.splitlines()[0] if message else status)
        self._loss_curve()

    def _loss_curve(self) -> Path | None:
        from hub.train.pictures import loss_curve

        if self.folder is None:
            return None
        rows = self.folder.log_rows()
        return loss_curve([r.step for r in rows], [r.loss for r in rows], self.folder.loss_png) if rows else None

    def _train(self, progress: Progress | None, on_step: OnStep | None) -> TrainResult:
        from hub.bases.api import describe_base, load_pipeline
        from hub.train.loop import fit
        from hub.train.memory import release_memory

        o, acc = self.o, self.accelerator
        ds = self._dataset()
        base = describe_base(o.base, paths=self.paths, config=o.base_config)
        if base.arch not in ("sd1", "sd2", "sdxl", "tiny"):
            raise UsageError(
                f"cannot tell the architecture of base {o.base} ({base.arch})",
                hint="give an SD1.x, SD2.x or SDXL base",
            )
        dataset_sha256 = ds.digest()
        started = time.time()
        pipe = load_pipeline(o.base, paths=self.paths, config=o.base_config)
        # What the loaded scheduler predicts is the truth (a single file's comes from its configs), for the
        # metadata as for the loss target.
        predicts = str(pipe.scheduler.config.get("prediction_type") or "epsilon")
        base = dataclasses.replace(base, prediction_type=predicts)
        outcome = fit(
            o,
            ds,
            base,
            pipe,
            accelerator=acc,
            run=self.folder,
            paths=self.paths,
            stop=self.stop,
            progress=progress,
            on_step=on_step,
            resume=self.resume_state,
        )
        del pipe  # the trained network, its optimizer and the sample pipeline: not needed to write and register
        release_memory()
        # pydantic and the registry's models from here on, below the training's peak
        from hub.models import ParentLink
        from hub.train.output import recipe_argv, register_adapter, training_metadata, write_card
        from hub.train.results import TrainResult

        argv = recipe_argv(o, o.images)
        command = shlex.join(["hub", *argv])
        name = o.adapter_name
        adapter = None
        if self.main:
            assert self.folder is not None
            self._loss_curve()
            meta = training_metadata(
                o,
                ds,
                base,
                name=name,
                n_reg=outcome.n_reg,
                started=started,
                finished=time.time(),
                command=command,
                dataset_sha256=dataset_sha256,
                world=acc.num_processes,
            )
            link = ParentLink(
                parent_ref=o.base,
                operation="trained-from",
                params={
                    **o.hyperparameters(),
                    "dataset_sha256": dataset_sha256,
                    "images": len(ds.instance),
                    "class_images": outcome.n_reg,
                },
            )
            previews = outcome.samples[-1:]  # the thumbnail is what the LoRA draws; the loss curve stays in the run
            adapter = register_adapter(
                outcome.lora_set,
                o=o,
                name=name,
                metadata=meta,
                lineage=link,
                argv=argv,
                previews=previews,
                ctx=self.ctx,
            )
            write_card(self.folder.card, adapter, o=o, base=base, samples=outcome.samples)
            self.folder.update(
                status="done",
                finished_at=now_iso(),
                adapter_id=adapter.id,
                adapter_name=adapter.name,
                command=command,
                dataset_sha256=dataset_sha256,
            )
        adapter = _broadcast(acc, adapter.model_dump() if adapter else None)
        from hub.models import Adapter

        rows = outcome.rows
        return TrainResult(
            adapter=Adapter.model_validate(adapter),
            path=adapter["path"],
            run_id=self.run_id,
            run_dir=str(self.run_dir),
            steps=o.steps,
            seconds=round(outcome.seconds, 3),
            final_loss=rows[-1].loss if rows else float("nan"),
            first_loss=rows[0].loss if rows else float("nan"),
            samples=[str(p) for p in sorted((self.run_dir / "samples").glob("step-*.png"))],
            loss_curve=str(self.run_dir / "loss.png"),
            card=str(self.run_dir / "README.md"),
            command=command,
            dataset_sha256=dataset_sha256,
            images=len(ds.instance),
            class_images=outcome.n_reg,
            class_images_generated=outcome.class_generated,
            skipped=len(ds.skipped),
            process_index=acc.process_index,
            world_size=acc.num_processes,
        )
