#!/usr/bin/env bash
# Make a Python that can run kohya-ss/sd-scripts' networks/svd_merge_lora.py next to ours, for
# benchmarks/bench_svd_merge.py, without touching the project's .venv:
#
#   benchmarks/kohya_env.sh /tmp/kohya-venv
#   KOHYA_SD_SCRIPTS=/tmp/sd-scripts KOHYA_PYTHON=/tmp/kohya-venv/bin/python \
#     OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_svd_merge.py
#
# (sd-scripts itself is not fetched here: put a checkout of it at $KOHYA_SD_SCRIPTS; none of its code is kept
# in this repository.)
#
# The venv sees the project's .venv (same torch 2.13 CPU build, numpy, safetensors: the same maths libraries for
# both tools) through a .pth file, and gets sd-scripts' own pins where our versions break its imports
# (transformers 4.54.1, diffusers 0.32.1, accelerate 1.6.0, huggingface-hub 0.34.3) plus the pure-Python
# packages and opencv that its library/ imports at module level. torchvision: PyPI has no CPU build matching
# torch 2.13+cpu (its CUDA build fails to load), and svd_merge_lora.py only needs it importable
# (library/utils.py and train_util.py import transforms at module level for image code), so an import-only
# stand-in is installed whose callables raise: a code path that really used torchvision would fail loudly.
set -euo pipefail
VENV=${1:-/tmp/kohya-venv}
HERE=$(cd "$(dirname "$0")/.." && pwd)
BASE_PY=$("$HERE/.venv/bin/python" -c 'import sys; print(sys.base_prefix)')/bin/python3
SITE=$("$HERE/.venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

"$BASE_PY" -m venv "$VENV"
VSITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$SITE" > "$VSITE/zz_lorahub_venv.pth"  # appended after the venv's own packages: its pins win
"$VENV/bin/python" -m pip install -q "transformers==4.54.1" "diffusers==0.32.1" "accelerate==1.6.0" \
  "huggingface-hub==0.34.3" "toml==0.10.2" "imagesize==1.4.1" "einops==0.7.0" "voluptuous==0.15.2" \
  "ftfy==6.3.1" opencv-python-headless

mkdir -p "$VENV/stubs/torchvision"
cat > "$VENV/stubs/torchvision/__init__.py" <<'EOF'
"""Import-only stand-in for torchvision (see benchmarks/kohya_env.sh); anything called raises."""
from . import transforms  # noqa: F401

__version__ = "0.0-stub"
EOF
cat > "$VENV/stubs/torchvision/transforms.py" <<'EOF'
import types


def _fail(*args, **kwargs):
    raise RuntimeError("torchvision stand-in: real torchvision is not installed in this benchmark venv")


class _Stub:
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs

    __call__ = _fail


class Compose(_Stub): ...


class ToTensor(_Stub): ...


class Normalize(_Stub): ...


class InterpolationMode:
    NEAREST, BILINEAR, BICUBIC = "nearest", "bilinear", "bicubic"


functional = types.SimpleNamespace(resize=_fail, gaussian_blur=_fail, pil_to_tensor=_fail, to_tensor=_fail)
EOF
echo "$VENV/stubs" > "$VSITE/aa_kohya_stubs.pth"
"$VENV/bin/python" -c 'import torch, transformers, diffusers; print("kohya venv:", torch.__version__, transformers.__version__, diffusers.__version__)'
