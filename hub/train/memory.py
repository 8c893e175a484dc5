"""What a training run stops holding once it is no longer needed, and freed memory handed back to the system.

- Frozen text encoders whose every prompt is already encoded (pictures, class prompt, sample prompts) and the VAE's
  encoder once every picture's latents are cached are dropped before the first step: for SD1.5 in fp32 that is
  469 MiB of text encoder and 130 MiB of VAE encoder, which diffusers' example keeps for its per-step encoding.
- When the steps are over, the network, optimizer and pipeline are let go before the adapter is written and
  registered, so the registry's imports and the file's bytes do not land on top of the training's peak.
- The result models and the registry (sqlite3) are imported when the steps are over. (pydantic itself is loaded
  before them, to validate the options: ~6 MB on the tiny model, within 5 % of diffusers' example's peak.)

What was tried and left out (benchmarks/bench_train.py, tiny model, docs/benchmarks.md): fixing glibc's mmap
threshold at its default (freed activations unmapped instead of kept as heap holes) lowers the peak by ~10 MB but
makes each step ~15% slower; ``malloc_trim(0)`` after every step lowers it ~6 MB for ~10% per step.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import sys
from typing import Any


@functools.cache
def _malloc_trim() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # musl and others have no malloc_trim
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_memory() -> None:
    """Collect garbage (reference cycles hold tensors too), then hand the C heap's free pages back (glibc)."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def drop_unused(c: Any, *, encoders: bool, vae_encoder: bool) -> None:
    """Stop holding the text encoders and tokenizers (``encoders``: every prompt is encoded) and the VAE's
    encoder (``vae_encoder``: every latent is cached). The sample pipeline then runs on prompt embeddings and
    decodes only."""
    if encoders:
        for name in ("text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2"):
            if getattr(c.pipe, name, None) is not None:
                setattr(c.pipe, name, None)
        c.text_encoders, c.tokenizers = [], []
    if vae_encoder:
        c.vae.encoder = None
        c.vae.quant_conv = None
    release_memory()
