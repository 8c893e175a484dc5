"""Guard: every `hub` command, every README ```sh example and every `--help` example, each as a separate process of
the installed `hub` script in a clean environment (fresh home, HF_HUB_OFFLINE unset, the loopback Hub).

The examples are read from README.md and from `hub CMD --help` by the test, so a changed example is tested as
written. Placeholders are replaced by fixture files and names through PLACEHOLDERS below (documented there).
Each block of examples runs in order, as a user types it, in its own copy of one prepared home; the whole
suite is a handful of minutes on two loaded cores.
"""

from __future__ import annotations

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

from hub.testing import write_lora, write_sample_library


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


pytestmark = pytest.mark.slow
README = REPO_ROOT / "README.md"
TOKEN = "hf_write_alice"  # the loopback Hub's user `alice`, member of the org `team`

# What an example names -> what exists in the prepared world. {lib}, {tiny}, ... are filled by the `world` fixture.
PLACEHOLDERS: list[tuple[str, str]] = [
    (r"~/stable-diffusion-webui/models/Lora", "{lib}"),  # a folder of sample adapters with sidecars and previews
    (r"~/Downloads/\*\.safetensors", "{lib}/*.safetensors"),
    (r"\./loras\b", "{lib}"),
    (r"\bsome_file\.safetensors\b", "{lib}/dog.safetensors"),
    (r"\b3A6F1C2B9D\b", "{my_style_autov2}"),  # a hash prefix of my_style
    (r"\brunwayml/stable-diffusion-v1-5\b", "{tiny}"),  # a real base is gigabytes: the tiny SD1 pipeline folder
    (r"\./sd15-diffusers\b", "{tiny}"),
    (r"--base \./sd15\b", "--base {tiny}"),
    (r"\bv1-5-pruned\.safetensors\b", "{single_file_model}"),  # the tiny pipeline fused into one file
    (r"--base base\.safetensors", "--base {tiny}"),
    (r"--tuned tuned\.safetensors", "--tuned {single_file_model}"),
    (r"\bme/", "alice/"),  # the token's user on the loopback Hub
    (r"\bmy-team\b", "team"),  # an org alice belongs to
    (r"\bhub mix a b c:", "hub mix dog style my_style:"),
    # The fixtures are made for the tiny base (so that fuse works on it); a diffusers file names modules by their
    # paths in a base, so converting one must be told that base (a real SD1.5 LoRA needs no --base).
    (r"^(hub convert \S+ --to diffusers)$", r"\1 --base tiny"),
]
# Names the examples use, held by the prepared home: dog, style, my_style (+wip), cat-style, detail, anime-style.
# Repos the loopback Hub holds: someone/cat-lora@v1, some-user/cat-style@v1.0, some-user/many-loras.
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
    "pull": re.compile(r"cat-style|cat-lora|ink"),
    "demo": re.compile(r"demo-mix"),
}


@dataclass(frozen=True)
class World:
    root: Path
    home: Path  # prepared once: the sample library and dog/style/my_style/cat-style imported
    values: dict[str, str]
    endpoint: str

    def fill(self, line: str) -> str:
        for pattern, replacement in PLACEHOLDERS:
            line = re.sub(pattern, replacement, line)
        return line.format(**self.values)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    root = Path(tempfile.mkdtemp(prefix="lorahub-smoke-"))
    server = _fake_hub_class()(root / "fake-hub", _free_port()).start()
    try:
        lib, home = root / "Lora", root / "home"
        write_sample_library(lib)
        for i, name in enumerate(("dog", "style", "my_style", "cat-style", "detail")):
            write_lora(lib / f"{name}.safetensors", seed=40 + i)
        write_lora(lib / "extra" / "new-one.safetensors", seed=50)
        seed = root / "seed"
        server.commit_files("someone/cat-lora", {"cat-lora.safetensors": _bytes(seed / "a.safetensors", 60)})
        server.repos["someone/cat-lora"].branches["v1"] = server.head("someone/cat-lora")
        server.commit_files("some-user/cat-style", {"cat-style.safetensors": _bytes(seed / "b.safetensors", 61)})
        server.repos["some-user/cat-style"].branches["v1.0"] = server.head("some-user/cat-style")
        server.commit_files("some-user/many-loras", {"styles/ink.safetensors": _bytes(seed / "c.safetensors", 62)})
        env = dict(HF_ENDPOINT=server.endpoint, HF_TOKEN=TOKEN, HF_HOME=str(root / "hf"), HF_HUB_DISABLE_XET="1")
        values = {"lib": str(lib), "home": str(home)}
        world = World(root, home, values, server.endpoint)
        _run(world, home, root, f"hub import {lib}", env)
        _run(world, home, root, "hub tag my_style +wip", env)
        _run(world, home, root, "hub tag cat-style +published", env)  # for `hub push --all --tag published`
        _run(world, home, root, "hub tag cinematic-xl +anime", env)  # `hub gallery anime --arch sdxl` finds it
        from hub.bases.tiny import tiny_pipeline_dir
        from hub.paths import Paths

        values["tiny"] = str(tiny_pipeline_dir("sd1", paths=Paths(root / "bases")))
        values["single_file_model"] = str(root / "tiny-sd1.safetensors")
        _run(world, home, root, f"hub fuse {values['tiny']} dog:0.1 --out {values['single_file_model']}", env)
        shown = _run(world, home, root, "hub show my_style --json", env)
        import json

        values["my_style_autov2"] = json.loads(shown.stdout)["sha256"][:10].upper()
        world.values.update(env)
        yield world
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _bytes(path: Path, seed: int) -> bytes:
    return write_lora(path, seed=seed).read_bytes()


def _run(world: World, home: Path, cwd: Path, line: str, env: dict[str, str] | None = None):
    """One example line through bash (pipes and globs as a user's shell does them), `hub` = the installed script."""
    extra = env or {k: world.values[k] for k in ("HF_ENDPOINT", "HF_TOKEN", "HF_HOME", "HF_HUB_DISABLE_XET")}
    full = hub_env(home, **extra)
    full["PATH"] = f"{HUB.parent}{os.pathsep}{full.get('PATH', '')}"
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
    return home


# -- where the examples come from ----------------------------------------------------------------------------------
def readme_blocks() -> list[list[str]]:
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    out = []
    for block in blocks:
        lines = [_strip_comment(line) for line in block.splitlines()]
        lines = [line for line in lines if line.startswith("hub ")]
        if lines:
            out.append(lines)
    return out


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
    return [_strip_comment(line) for line in text.splitlines() if line.strip().startswith("hub ")]


BLOCKS = readme_blocks()
COMMANDS = commands()


# -- the tests -------------------------------------------------------------------------------------------------------
def test_the_readme_has_examples_and_every_command_is_exercised() -> None:
    assert len(BLOCKS) >= 3 and sum(map(len, BLOCKS)) >= 15
    assert set(COMMANDS) >= {"add", "import", "ls", "show", "mix", "push", "pull", "demo"}
    covered = {shlex.split(line)[1] for block in BLOCKS for line in block}
    covered |= {c for c in COMMANDS if help_examples(c)} | set(EXTRA)
    assert not set(COMMANDS) - covered, f"commands no smoke test runs: {set(COMMANDS) - covered}"


@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=[f"readme-block-{i}" for i in range(len(BLOCKS))])
def test_readme_examples_run_as_written(world: World, tmp_path: Path, index: int) -> None:
    home = _fresh_home(world, tmp_path)
    for line in BLOCKS[index]:
        _run(world, home, tmp_path, world.fill(line))


# Help examples the prepared world cannot run yet (they landed with the trainer and generation after this suite was
# written): each needs a fixture the world lacks. Still listed here by their exact text, so a changed example fails
# the check below until it is looked at; the commands' --help and their other examples run.
NOT_YET_RUNNABLE = {
    "hub train --images ./dog --token sks --class-word dog --preset cpu-tiny": "needs a ./dog picture folder",
    "hub train --images dog.zip --token sks --class-word dog --base runwayml/stable-diffusion-v1-5 \\": "a zip",
    "hub train --images ./dog --token sks --class-word dog --resume latest": "needs an interrupted run",
    "hub runs 20260101-120000-ab12cd --json": "needs that run",
    'hub gen "a dog <lora:dog:0.8>" --base ./sd15 --sampler "DPM++ 2M Karras" --size 512x768 --n 4':
        "4 images at 512x768 outlast the suite's time on 2 shared cores",
    "hub gen --from-png outputs/gen/2026-11-30/00001-1.png": "needs that PNG",
    'hub grid "portrait" dog:0,0.5,1 --seeds 1,2,3 --lora detail:0.3 --out dog-grid.png':
        "the fixtures record no loadable base (the example relies on one)",
}


@pytest.mark.timeout(900)  # `hub gen`'s three examples generate images on the tiny base
@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_and_its_help_examples(world: World, tmp_path: Path, command: str) -> None:
    home = _fresh_home(world, tmp_path)
    r = _run(world, home, tmp_path, f"hub {command} --help")
    assert r.stdout.startswith(f"Usage: hub {command}")
    examples = help_examples(command)
    assert all(line in examples for line in NOT_YET_RUNNABLE if line.split()[1] == command)  # still as written
    for line in [*examples, *EXTRA.get(command, [])]:
        if line in NOT_YET_RUNNABLE:
            continue
        _run(world, home, tmp_path, world.fill(line))
