"""Guard: every `hub` command, every README ```sh example and every `--help` example, each as a separate process of
the installed `hub` script in a clean environment (fresh home, HF_HUB_OFFLINE unset, the loopback Hub).

The examples are read from README.md and from `hub CMD --help` by the test, so a changed example is tested as
written. Placeholders are replaced by fixture files and names through PLACEHOLDERS below (documented there).
Each block of examples runs in order, as a user types it, in its own copy of one prepared home; besides exit 0
and no traceback, EXPECT and CHECKS say what each command's output must show (a registered adapter, the PNGs
written and their recipes, a run's JSON). The whole suite is a handful of minutes on two loaded cores.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hub_process import HUB, REPO_ROOT, hub_env  # tests/ is on sys.path: the root conftest's folder

from hub.testing import draw_training_pictures, write_lora, write_sample_library
from hub.testing.single_file import write_single_file


def _fake_hub_class() -> type:
    """The loopback Hub of tests/sync (a folder of modules, not a package), imported without leaving sys.path
    changed."""
    sync = str(Path(__file__).resolve().parents[1] / "sync")
    sys.path.insert(0, sync)
    try:
        from fake_hub import FakeHub
    finally:
        sys.path.remove(sync)
    return FakeHub


def _loopback_civitai(sha256: str):  # type: ignore[no-untyped-def]
    """tests/sync/fake_civitai.py's loopback Civitai, started, where my_style (``sha256``) is a Pony LoRA (PG, one
    preview) with a newer Pony version: what `hub civitai` and `--updates` find in the examples."""
    sync = str(Path(__file__).resolve().parents[1] / "sync")
    sys.path.insert(0, sync)
    try:
        import fake_civitai as fc
    finally:
        sys.path.remove(sync)
    server = fc.FakeCivitai().start()
    server.images["my_style.png"] = ("image/png", fc.png())
    common = dict(model_id=70, base_model="Pony", model_name="My Style")
    preview = fc.image(f"{server.url}/images/my_style.png")
    v1 = fc.model_version(version_id=701, name="v1", trained_words=["mystyle"], sha256=sha256, size_kb=20,
                          published_at="2025-01-01T00:00:00.000Z", images=[preview], **common)  # fmt: skip
    v2 = fc.model_version(version_id=702, name="v2", trained_words=["mystyle", "bold"], sha256="ef" * 32, size_kb=40,
                          published_at="2025-05-01T00:00:00.000Z", images=[], **common)  # fmt: skip
    model = fc.model(model_id=70, name="My Style", creator="someone", tags=["style"], description="<p>A style.</p>",
                     versions=[v2, v1])  # fmt: skip
    server.publish(model, v1, {"SHA256": sha256})
    return server


pytestmark = pytest.mark.slow
README = REPO_ROOT / "README.md"
TOKEN = "hf_write_alice"  # the loopback Hub's user `alice`, member of the org `team`

# What an example names -> what exists in the prepared world. {lib}, {tiny}, ... are filled by the `world` fixture.
PLACEHOLDERS: list[tuple[str, str]] = [
    (r"~/stable-diffusion-webui/models/Lora", "{lib}"),  # a folder of sample adapters with sidecars and previews
    (r"~/Downloads/\*\.safetensors", "{lib}/*.safetensors"),
    (r"\./loras\b", "{lib}"),
    (r"/mnt/(?:backup|old-disk)/loras\b", "{lib}"),  # a folder a user searches for missing files (hub verify --search)
    (r"\bsome_file\.safetensors\b", "{lib}/dog.safetensors"),
    (r"\b3A6F1C2B9D\b", "{my_style_autov2}"),  # a hash prefix of my_style
    (r"\./sd15-diffusers\b", "{tiny}"),
    (r"~/\.local/share/lorahub\b", "{home}"),  # the default home is the test's home
    (r"\bv1-5-pruned\.safetensors\b", "{single_file_model}"),  # the tiny pipeline fused into one file
    (r"--base base\.safetensors", "--base {tiny}"),
    (r"--tuned tuned\.safetensors", "--tuned {single_file_model}"),
    (r"\bme/", "alice/"),  # the token's user on the loopback Hub
    (r"\bmy-team\b", "team"),  # an org alice belongs to
    (r"\bhub mix a b c:", "hub mix dog style my_style:"),
]
# Names the examples use, held by the prepared home: dog, style, my_style (+wip), cat-style, anime-style, and
# detail (pulled from some-user/detail: its card names runwayml/stable-diffusion-v1-5, the base `hub grid` loads when
# given none). Also: a training run RUN_ID stopped by Ctrl-C at its first step (a checkpoint to resume), and a PNG
# `hub gen` wrote on 2026-11-30. Each test's working folder holds dog.safetensors, style.safetensors, ./dog (six
# drawn pictures) and dog.zip (that folder zipped).
# Repos the loopback Hub holds: someone/cat-lora@v1, some-user/cat-style@v1.0, some-user/many-loras, some-user/detail,
# and runwayml/stable-diffusion-v1-5 (the tiny SD1 pipeline: a real base is gigabytes), which the examples that name
# it download through huggingface_hub into the world's HF cache.
# The loopback Civitai (tests/sync/fake_civitai.py, CIVITAI_API_URL) knows my_style: a Pony LoRA with a newer version.
RUN_ID = "20260101-120000-ab12cd"
GEN_PNG = "outputs/gen/2026-11-30/00000-1.png"  # under the home, as `hub gen` names its first image of seed 1
# Commands without a runnable example: run as written here.
EXTRA = {
    "add": ["hub add {lib}/extra/new-one.safetensors"],
    "rm": ["hub rm style"],
    "probe": ["hub probe {lib}/dog.safetensors"],
    "dupes": ["hub dupes"],
    "resize": ["hub resize dog --rank 2"],
    "convert": ["hub convert dog --to diffusers"],
    "scale": ["hub scale dog -0.5"],
    "extract": ["hub extract --base {tiny} --tuned {single_file_model} --rank 4"],
}
# What a command's output must show, beyond exit 0 and no traceback (stdout + stderr).
EXPECT = {
    "ls": re.compile(r"\d+ adapters?"),
    "show": re.compile(r"sha256|SHA256"),
    "import": re.compile(r"\d+ added"),
    "verify": re.compile(r"\d+ checked"),
    "mix": re.compile(r"."),
    "push": re.compile(r"alice/|team/|http"),
    "pull": re.compile(r"cat-style|cat-lora|ink|detail"),
    "demo": re.compile(r"demo-mix"),
    "civitai": re.compile(r"found|recorded|newer"),
}


@dataclass(frozen=True)
class World:
    root: Path
    home: Path  # prepared once: the sample library and dog/style/my_style/cat-style imported
    values: dict[str, str]
    endpoint: str

    def fill(self, line: str, home: Path | None = None) -> str:
        """The example with its names replaced by the world's; ``home``: the test's copy of the prepared home."""
        for pattern, replacement in PLACEHOLDERS:
            line = re.sub(pattern, replacement, line)
        return line.format(**{**self.values, "home": str(home or self.home)})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    root = Path(tempfile.mkdtemp(prefix="lorahub-smoke-"))
    server = _fake_hub_class()(root / "fake-hub", _free_port()).start()
    civitai = None
    try:
        lib, home = root / "Lora", root / "home"
        write_sample_library(lib)
        for i, name in enumerate(("dog", "style", "my_style", "cat-style")):
            write_lora(lib / f"{name}.safetensors", seed=40 + i)
        write_lora(lib / "extra" / "new-one.safetensors", seed=50)
        seed = root / "seed"
        server.commit_files("someone/cat-lora", {"cat-lora.safetensors": _bytes(seed / "a.safetensors", 60)})
        server.repos["someone/cat-lora"].branches["v1"] = server.head("someone/cat-lora")
        server.commit_files("some-user/cat-style", {"cat-style.safetensors": _bytes(seed / "b.safetensors", 61)})
        server.repos["some-user/cat-style"].branches["v1.0"] = server.head("some-user/cat-style")
        server.commit_files("some-user/many-loras", {"styles/ink.safetensors": _bytes(seed / "c.safetensors", 62)})
        server.commit_files("some-user/detail", {"detail.safetensors": _bytes(seed / "d.safetensors", 44),
                                                 "README.md": DETAIL_CARD.encode()})  # fmt: skip
        from hub.bases.tiny import tiny_pipeline_dir
        from hub.paths import Paths

        tiny = tiny_pipeline_dir("sd1", paths=Paths(root / "bases"))
        files = {str(p.relative_to(tiny)): p.read_bytes() for p in sorted(tiny.rglob("*")) if p.is_file()}
        server.commit_files("runwayml/stable-diffusion-v1-5", files)
        _working_files(root)
        env = dict(HF_ENDPOINT=server.endpoint, HF_TOKEN=TOKEN, HF_HOME=str(root / "hf"), HF_HUB_DISABLE_XET="1")
        values = {"lib": str(lib), "home": str(home)}
        world = World(root, home, values, server.endpoint)
        _run(world, home, root, f"hub import {lib}", env)
        _run(world, home, root, "hub tag my_style +wip", env)
        _run(world, home, root, "hub tag cat-style +published", env)  # for `hub push --all --tag published`
        _run(world, home, root, "hub tag cinematic-xl +anime", env)  # `hub gallery anime --arch sdxl` finds it
        _run(world, home, root, "hub pull some-user/detail", env)
        values["tiny"] = str(tiny)
        values["single_file_model"] = str(root / "tiny-sd1.safetensors")
        # A diffusers base fuses into a folder; the single file the examples name is that folder in one file.
        _run(world, home, root, f"hub fuse {values['tiny']} dog:0.1 --out {root / 'tiny-fused'}", env)
        write_single_file(root / "tiny-fused", values["single_file_model"])
        shown = _run(world, home, root, "hub show my_style --json", env)
        values["my_style_autov2"] = json.loads(shown.stdout)["sha256"][:10].upper()
        civitai = _loopback_civitai(json.loads(shown.stdout)["sha256"])
        env["CIVITAI_API_URL"] = civitai.api_url
        _interrupted_training(world, env)
        out = home / GEN_PNG  # made in this process: the fixture's input, not an example (saves a process start)
        from hub.gen.api import generate
        from hub.settings import load_settings

        made = generate("a photo of a dog", loras=[("dog", 0.7)], base="tiny", seed=1, steps=10, out=out.parent,
                        settings=load_settings(home=home))  # fmt: skip
        assert [Path(i.path) for i in made.images] == [out]
        world.values.update(env)
        yield world
    finally:
        server.stop()
        if civitai is not None:
            civitai.stop()
        shutil.rmtree(root, ignore_errors=True)


# What diffusers' training scripts write beside a LoRA they trained (the Hub's metadata names the base model).
DETAIL_CARD = """---
base_model: runwayml/stable-diffusion-v1-5
library_name: diffusers
license: creativeml-openrail-m
tags: [lora, stable-diffusion, text-to-image]
---
# detail

A LoRA that adds fine detail.
"""


def _bytes(path: Path, seed: int) -> bytes:
    return write_lora(path, seed=seed).read_bytes()


def _working_files(root: Path) -> None:
    """What a user's working folder holds before training: ./dog (pictures of the subject) and dog.zip of it."""
    import zipfile

    pictures = draw_training_pictures(root / "dog")
    with zipfile.ZipFile(root / "dog.zip", "w") as archive:
        for picture in sorted(pictures.iterdir()):
            archive.write(picture, f"dog/{picture.name}")


def _interrupted_training(world: World, env: dict[str, str]) -> None:
    """`hub train` stopped by Ctrl-C, as a user stops it: a run `hub runs` shows as interrupted, with a checkpoint
    for `--resume latest`. The signal goes once run.json exists (Ctrl-C is handled from then on), so the run stops
    at its first step boundary, however fast or loaded the machine."""
    line = f"hub train --images ./dog --token sks --class-word dog --preset cpu-tiny --run-id {RUN_ID}"
    info = world.home / "runs" / RUN_ID / "run.json"
    proc = subprocess.Popen(["bash", "-c", f"exec {line}"], cwd=world.root, env=_env(world, world.home, env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 300
    while not info.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, f"{line}\nexit {proc.returncode}\n{out}\n{err}"
    assert "interrupted at step 1 of 30" in err and "--resume latest" in err, err
    assert json.loads(info.read_text())["status"] == "interrupted"
    assert (info.parent / "checkpoints" / "step-000001.pt").is_file()


def _env(world: World, home: Path, env: dict[str, str] | None) -> dict[str, str]:
    keys = ("HF_ENDPOINT", "HF_TOKEN", "HF_HOME", "HF_HUB_DISABLE_XET", "CIVITAI_API_URL")
    extra = env or {k: world.values[k] for k in keys if k in world.values}
    full = hub_env(home, **extra)
    full["PATH"] = f"{HUB.parent}{os.pathsep}{full.get('PATH', '')}"
    return full


def _run(world: World, home: Path, cwd: Path, line: str, env: dict[str, str] | None = None):
    """One example line through bash (pipes and globs as a user's shell does them), `hub` = the installed script."""
    full = _env(world, home, env)
    if re.match(r"hub serve\b", line) and "--help" not in line:
        r = _serve(line, cwd, full)
    else:
        r = subprocess.run(["bash", "-o", "pipefail", "-c", line], cwd=cwd, env=full, capture_output=True, text=True,
                           timeout=600)  # fmt: skip
    assert r.returncode == 0, f"{line}\nexit {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert "Traceback" not in r.stderr and "error:" not in r.stderr, f"{line}\n{r.stderr}"
    command = shlex.split(line)[1] if line.startswith("hub ") else ""
    plain = not any(flag in line for flag in ("|", "--json", " -q", "--help"))  # the human output
    if command in EXPECT and plain:
        assert EXPECT[command].search(r.stdout + r.stderr), f"{line}\n{r.stdout}\n{r.stderr}"
    if command in CHECKS and "--help" not in line:
        CHECKS[command](line, r, cwd)
    return r


def _serve(line: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`hub serve ...` runs until stopped: on a free port, it must answer `/`, then stop cleanly on Ctrl-C."""
    port = _free_port()
    line = re.sub(r"--port \d+", "", line) + f" --port {port}"
    env = {**env, "BROWSER": "true"}  # --open: the "browser" is `true`, which opens nothing
    proc = subprocess.Popen(["bash", "-c", f"exec {line}"], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    status = None
    try:
        deadline = time.monotonic() + 120
        while status is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
                    status = answer.status
            except OSError:
                time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert status == 200, f"{line}: no page\n{err}"
    return subprocess.CompletedProcess(line, proc.returncode, out, err)


# -- what the trainer's and generation's outputs must be, beyond what EXPECT reads --------------------------------
def _check_train(line: str, r: subprocess.CompletedProcess, cwd: Path) -> None:
    """A registered adapter, its run folder done, and what the options asked for: class pictures, samples, the
    interrupted run continued (not restarted) by --resume."""
    said = r.stdout + r.stderr
    registered = re.search(r"^registered (\S+) ", said, re.M)
    run_dir = Path(re.search(r"^run: (.+)$", said, re.M).group(1))  # type: ignore[union-attr]
    info = json.loads((run_dir / "run.json").read_text())
    assert registered and info["status"] == "done" and info["adapter_name"] == registered.group(1), said
    steps = [json.loads(row)["step"] for row in (run_dir / "log.jsonl").read_text().splitlines()]
    assert steps == list(range(1, info["total_steps"] + 1)), steps
    if "--resume latest" in line:
        assert run_dir.name == RUN_ID and info["options"]["images"] == "./dog", run_dir  # the interrupted run's folder
    if m := re.search(r"--prior-images (\d+)", line):
        assert f"class pictures: {m.group(1)}" in said, said
    if m := re.search(r"--sample-every (\d+)", line):
        every = int(m.group(1))
        wanted = [f"step-{k:06d}.png" for k in range(every, info["total_steps"] + 1, every)]
        assert sorted(p.name for p in (run_dir / "samples").glob("step-*.png")) == wanted


def _check_runs(line: str, r: subprocess.CompletedProcess, cwd: Path) -> None:
    if "--json" not in line:
        assert RUN_ID in r.stdout, r.stdout
        return
    if RUN_ID in line:  # the interrupted run: its status, the step it reached, the checkpoint written then
        detail = json.loads(r.stdout)
        assert detail["info"]["run_id"] == RUN_ID and detail["info"]["status"] == "interrupted", detail["info"]
        assert [row["step"] for row in detail["log"]] == [1] and detail["info"]["total_steps"] == 30
        assert [Path(p).name for p in detail["checkpoints"]] == ["step-000001.pt"]


def _check_gen(line: str, r: subprocess.CompletedProcess, cwd: Path) -> None:
    """One PNG per image asked for, each with its A1111 infotext (the base's name, the LoRAs' hashes); diffusers'
    load report stays out of the output; --from-png renders the recipe it reads, pixel for pixel."""
    import numpy as np
    from PIL import Image

    from hub.gen.png import read_parameters

    assert "LOAD REPORT" not in r.stderr, r.stderr  # diffusers' chatter is hushed
    images = [cwd / p for p in r.stdout.split() if p.endswith(".png")]
    n = re.search(r"--n (\d+)", line)
    assert len(images) == (int(n.group(1)) if n else 1), r.stdout
    texts = [read_parameters(p) for p in images]
    if "--base tiny" in line:
        assert all("Model: tiny" in t for t in texts), texts
    if re.search(r"--lora |<lora:", line):
        assert all("Lora hashes: " in t for t in texts), texts
    if m := re.search(r"--size (\d+)x(\d+)", line):
        assert all(f"Size: {m.group(1)}x{m.group(2)}" in t for t in texts), texts
    if m := re.search(r'--sampler "([^"]+)"', line):
        assert all(f"Sampler: {m.group(1)}," in t for t in texts), texts
    if m := re.search(r"--from-png (\S+)", line):
        assert texts == [read_parameters(Path(m.group(1)))]  # the same recipe: prompt, seed, steps, LoRA hashes
        with Image.open(m.group(1)) as source, Image.open(images[0]) as again:
            assert np.array_equal(np.asarray(source.convert("RGB")), np.asarray(again.convert("RGB")))


def _check_grid(line: str, r: subprocess.CompletedProcess, cwd: Path) -> None:
    """The grid PNG, with as many cells as axes x seeds ask for and the recipe in its hub-grid chunk."""
    from hub.gen.png import read_text_chunks

    path = cwd / r.stdout.strip().splitlines()[-1]
    if m := re.search(r"--out (\S+\.png)", line):
        assert path == cwd / m.group(1)
    recipe = json.loads(read_text_chunks(path)["hub-grid"])
    seeds = re.search(r"--seeds (\S+)", line)
    assert recipe["seeds"] == [int(s) for s in (seeds.group(1) if seeds else "1").split(",")], recipe
    columns = re.search(r" \w+:([\d.,]+)", line).group(1).split(",")  # type: ignore[union-attr]
    assert len(recipe["columns"]) == len(columns), recipe
    if "--base" not in line:  # the base an adapter records: detail's card names it (downloaded from the Hub)
        assert " runwayml/stable-diffusion-v1-5 " in r.stderr, r.stderr


def _check_demo(line: str, r: subprocess.CompletedProcess, cwd: Path) -> None:
    """A first run (the base built, the samples written) says only what hub says: none of the libraries' notes or
    bars (this process has their noise switches unset). It says where its own registry is, and that works."""
    for noise in ("torchvision", "Writing model shards", "it/s]", "Warning", "warn("):
        assert noise not in r.stderr, r.stderr
    demo_home = cwd / "home" / "demo"  # the test's home (see _fresh_home) + the demo's own folder
    assert f"hub --home {demo_home} ls" in r.stdout, r.stdout
    looked = subprocess.run([str(HUB), "--home", str(demo_home), "ls", "-q"], capture_output=True, text=True,
                            env=hub_env(cwd / "home"), timeout=60)  # fmt: skip
    assert "demo-mix" in looked.stdout.split(), looked.stdout


CHECKS = {"train": _check_train, "runs": _check_runs, "gen": _check_gen, "grid": _check_grid, "demo": _check_demo}


def _fresh_home(world: World, tmp_path: Path) -> Path:
    """A copy of the prepared home; the working folder (tmp_path) holds dog.safetensors and style.safetensors,
    as a user's does when an example names files."""
    import sqlite3

    home = tmp_path / "home"
    shutil.copytree(world.home, home, symlinks=True)
    # Rows hold absolute paths into their home's store: re-point the copy's rows at the copy's own blobs.
    with sqlite3.connect(home / "registry.db") as db:
        for table in ("adapters", "previews"):
            db.execute(f"UPDATE {table} SET path = replace(path, ?, ?)", (str(world.home), str(home)))
    for name in ("dog", "style"):
        shutil.copy(Path(world.values["lib"]) / f"{name}.safetensors", tmp_path)
    shutil.copytree(world.root / "dog", tmp_path / "dog")
    shutil.copy(world.root / "dog.zip", tmp_path)
    return home


# -- where the examples come from ----------------------------------------------------------------------------------
def readme_blocks() -> list[list[str]]:
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    out = []
    for block in blocks:
        lines = [_strip_comment(line) for line in _joined(block)]
        lines = [line for line in lines if line.startswith("hub ")]
        if lines:
            out.append(lines)
    return out


def _joined(text: str) -> list[str]:
    """Lines, with a line ending in a backslash joined to the next (as the shell reads them)."""
    return re.sub(r"\\\n\s*", " ", text).splitlines()


def _strip_comment(line: str) -> str:
    """`cmd   # why` -> `cmd` (a `#` inside quotes stays)."""
    quoted = False
    for i, ch in enumerate(line):
        if ch in "'\"":
            quoted = not quoted
        if ch == "#" and not quoted and (i == 0 or line[i - 1] == " "):
            return line[:i].strip()
    return line.strip()


def commands() -> list[str]:
    r = subprocess.run([str(HUB), "--help"], capture_output=True, text=True, env=hub_env(Path("/nonexistent")))
    listed = r.stdout.split("Commands:", 1)[1]
    return [line.split()[0] for line in listed.splitlines() if line.startswith("  ") and line.split()]


def help_examples(command: str) -> list[str]:
    r = subprocess.run([str(HUB), command, "--help"], capture_output=True, text=True, env=hub_env(Path("/x")))
    text = r.stdout.split("Examples:", 1)[1] if "Examples:" in r.stdout else ""
    return [_strip_comment(line) for line in _joined(text) if line.strip().startswith("hub ")]


BLOCKS = readme_blocks()
COMMANDS = commands()


# -- the tests -------------------------------------------------------------------------------------------------------
def test_the_readme_has_examples_and_every_command_is_exercised() -> None:
    assert len(BLOCKS) >= 3 and sum(map(len, BLOCKS)) >= 15
    assert set(COMMANDS) >= {"add", "import", "ls", "show", "mix", "push", "pull", "demo"}
    covered = {shlex.split(line)[1] for block in BLOCKS for line in block}
    covered |= {c for c in COMMANDS if help_examples(c)} | set(EXTRA)
    assert not set(COMMANDS) - covered, f"commands no smoke test runs: {set(COMMANDS) - covered}"


@pytest.mark.timeout(900)  # the first test to run prepares the world too (a minute or two on loaded cores)
@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=[f"readme-block-{i}" for i in range(len(BLOCKS))])
def test_readme_examples_run_as_written(world: World, tmp_path: Path, index: int) -> None:
    home = _fresh_home(world, tmp_path)
    for line in BLOCKS[index]:
        _run(world, home, tmp_path, world.fill(line, home))


@pytest.mark.timeout(900)  # `hub train` trains three LoRAs and `hub gen`/`hub grid` render on the tiny base
@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_and_its_help_examples(world: World, tmp_path: Path, command: str) -> None:
    home = _fresh_home(world, tmp_path)
    r = _run(world, home, tmp_path, f"hub {command} --help")
    assert r.stdout.startswith(f"Usage: hub {command}")
    for line in [*help_examples(command), *EXTRA.get(command, [])]:
        _run(world, home, tmp_path, world.fill(line, home))
