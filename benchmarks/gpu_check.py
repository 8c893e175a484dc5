"""The composition engine on a CUDA machine, SD1.5-shaped: GPU vs CPU, same answers, timings.

    python benchmarks/gpu_check.py [--json results.json] [--skip-fuse]

1. Two SD1.5-shaped kohya LoRAs (rank 32 and 16, text encoder and 3x3 convs: 350 modules) are merged with
   `hub mix --method svd --rank 32` on the CPU and on CUDA; the two outputs must agree (relative error of every
   module's delta) and the dense method (form the delta, full SVD: kohya's and PEFT's way) is timed on CUDA too.
2. A full-size SD1.5 diffusers base (random weights from the real configs: 860M-parameter UNet, CLIP-L) is
   written, and `hub fuse` runs on CUDA and on the CPU in subprocesses: the fused weights must agree, and each
   subprocess reports its peak RSS (the fuse streams tensor by tensor, so it should stay near one tensor).

Nothing is downloaded. Used for the lent GPU check of issue 3; the numbers go into docs/composition.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def log(msg: str) -> None:
    print(msg, flush=True)


def rel_delta_error(a, b) -> float:
    import torch

    worst = 0.0
    for key, ma in a.modules.items():
        mb = b.modules[key]
        da = ma.scale * ma.up.double() @ ma.down.double()
        db = mb.scale * mb.up.double() @ mb.down.double()
        worst = max(worst, float(torch.linalg.norm(da - db) / max(float(torch.linalg.norm(da)), 1e-30)))
    return worst


def merge_check(tmp: Path, results: dict, gpu: str) -> None:
    import torch

    from hub.compose.api import mix
    from hub.formats.load import load_lora_set
    from hub.testing import write_lora

    a = write_lora(tmp / "a.safetensors", arch="sd1", rank=32, conv=True, seed=1)
    b = write_lora(tmp / "b.safetensors", arch="sd1", rank=16, conv=True, seed=2)
    outs = {}
    for device in ("cpu", gpu):
        sync(device)
        t0 = time.perf_counter()
        r = mix([(str(a), 0.7), (str(b), 0.5)], method="svd", rank=32, device=device,
                name=f"gpu-check-{device}", out=tmp / f"mixed-{device}.safetensors")  # fmt: skip
        results[f"mix_svd_{device}_s"] = round(time.perf_counter() - t0, 3)
        outs[device] = load_lora_set(tmp / f"mixed-{device}.safetensors")
        log(f"mix --method svd --rank 32 on {device}: {results[f'mix_svd_{device}_s']} s ({r.modules} modules)")
    results["mix_cpu_vs_gpu_max_rel_error"] = rel_delta_error(outs["cpu"], outs[gpu])
    log(f"cpu vs {gpu}: worst module relative delta difference {results['mix_cpu_vs_gpu_max_rel_error']:.2e}")

    if gpu == "cpu":  # a dry run here: the dense baseline on 2 cores is benchmarks/bench_svd_merge.py's job
        return
    # the dense method on the GPU, for the ratio on this machine
    sa, sb = load_lora_set(a), load_lora_set(b)
    sync(gpu)
    t0 = time.perf_counter()
    for key in sa.modules.keys() | sb.modules.keys():
        delta = None
        for s, w in ((sa, 0.7), (sb, 0.5)):
            m = s.modules.get(key)
            if m is not None:
                d = w * m.scale * (m.up.to(gpu).float() @ m.down.to(gpu).float())
                delta = d if delta is None else delta + d
        u, sv, vh = torch.linalg.svd(delta, full_matrices=False)
        _ = (u[:, :32] * sv[:32]) @ vh[:32]
    sync(gpu)
    results[f"dense_svd_{gpu}_s"] = round(time.perf_counter() - t0, 3)
    log(f"dense SVD on {gpu}: {results[f'dense_svd_{gpu}_s']} s")


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def write_sd15_base(folder: Path) -> None:
    import torch
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from hub.bases.tiny import build_tiny_pipeline
    from hub.formats.module_tables import table_configs

    build_tiny_pipeline(folder)  # model_index, tokenizer, scheduler, VAE; the UNet and text encoder are replaced
    configs = table_configs("sd1")  # the configs the packaged SD1.5 module table was generated from
    torch.manual_seed(0)
    unet = UNet2DConditionModel(**configs["unet"]).half()
    unet.save_pretrained(folder / "unet")
    te = CLIPTextModel(CLIPTextConfig(**configs["text_encoder"])).half()
    te.save_pretrained(folder / "text_encoder")


# ru_maxrss counts the pages of the memory-mapped base too (clean, shared with the page cache); what a streaming
# fuse keeps small is the anonymous memory, sampled from /proc/self/status.
FUSE = """
import resource, sys, threading, time
peak = [0]
def anon_kb():
    for line in open('/proc/self/status'):
        if line.startswith('RssAnon:'):
            return int(line.split()[1])
    return 0
def sample():
    while True:
        peak[0] = max(peak[0], anon_kb())
        time.sleep(0.02)
threading.Thread(target=sample, daemon=True).start()
from hub.compose.api import fuse
before = anon_kb()
t0 = time.perf_counter()
r = fuse(sys.argv[1], [(sys.argv[2], 0.7), (sys.argv[3], 0.5)], out=sys.argv[4], device=sys.argv[5])
seconds = time.perf_counter() - t0
print('FUSE', seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, r.modules_fused, before, peak[0])
"""


def fuse_check(tmp: Path, results: dict, gpu: str) -> None:
    from safetensors import safe_open

    base = tmp / "sd15-base"
    t0 = time.perf_counter()
    write_sd15_base(base)
    log(f"wrote an SD1.5-sized base in {time.perf_counter() - t0:.1f} s")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    for i, device in enumerate((gpu, "cpu")):
        out = tmp / f"fused-{i}"
        p = subprocess.run([sys.executable, "-c", FUSE, str(base), str(tmp / "a.safetensors"),
                            str(tmp / "b.safetensors"), str(out), device],
                           capture_output=True, text=True, env=env)  # fmt: skip
        line = [x for x in p.stdout.splitlines() if x.startswith("FUSE")]
        if p.returncode or not line:
            log(p.stdout[-2000:] + p.stderr[-4000:])
            raise SystemExit(f"fuse on {device} failed")
        _, seconds, rss_kb, modules, anon_before, anon_peak = line[0].split()
        results[f"fuse_{device}_s"] = round(float(seconds), 2)
        results[f"fuse_{device}_peak_rss_mb"] = round(int(rss_kb) / 1024)
        results[f"fuse_{device}_peak_anon_mb"] = round(int(anon_peak) / 1024)
        results[f"fuse_{device}_anon_before_mb"] = round(int(anon_before) / 1024)
        log(
            f"fuse on {device}: {float(seconds):.1f} s, {modules} modules; peak RSS {int(rss_kb) / 1024:.0f} MB "
            f"(with the mapped base), anonymous memory {int(anon_before) / 1024:.0f} MB after imports, "
            f"peak {int(anon_peak) / 1024:.0f} MB"
        )
    unet_bytes = (base / "unet" / "diffusion_pytorch_model.safetensors").stat().st_size
    results["base_unet_mb"] = round(unet_bytes / 2**20)
    worst = 0.0
    for rel in ("unet/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors"):
        with safe_open(tmp / "fused-0" / rel, "pt") as fa, safe_open(tmp / "fused-1" / rel, "pt") as fb:
            for key in fa.keys():  # noqa: SIM118 (safe_open is not a dict)
                x, y = fa.get_tensor(key).float(), fb.get_tensor(key).float()
                worst = max(worst, float((x - y).abs().max()))
    results["fuse_cpu_vs_gpu_max_abs_diff"] = worst
    log(f"fused weights, {gpu} vs cpu: max abs difference {worst:.2e} (fp16 weights)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", type=Path)
    parser.add_argument("--skip-fuse", action="store_true")
    parser.add_argument("--gpu", default="cuda", help="the device compared with the CPU (cpu: a dry run here)")
    args = parser.parse_args()
    import torch

    name = torch.cuda.get_device_name(0) if args.gpu.startswith("cuda") else "no GPU (dry run)"
    results: dict = {"device": name, "torch": torch.__version__}
    log(f"{results['device']}, torch {results['torch']}, {os.cpu_count()} CPU cores")
    with tempfile.TemporaryDirectory(prefix="lorahub-gpu-") as d:
        tmp = Path(d)
        os.environ["LORAHUB_HOME"] = str(tmp / "home")
        merge_check(tmp, results, args.gpu)
        if not args.skip_fuse:
            fuse_check(tmp, results, args.gpu)
    log(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
