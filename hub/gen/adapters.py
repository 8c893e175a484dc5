"""The adapters of a render: found in the registry, loaded into a pipeline as named PEFT adapters, weighted.

LoRAs stay separate adapters (diffusers' ``load_lora_weights`` + ``set_adapters``), never fused, so one loaded
pipeline serves any weights and any subset. Files diffusers reads as they are (kohya, kohya LoCon, diffusers/PEFT
keys with their metadata) are loaded directly; every other format the registry holds (LoHa, LoKr, PEFT folders,
old diffusers layouts) is converted once by :mod:`hub.formats` into the kohya format and cached under
``<home>/cache/gen-adapters/``, keyed by the file's sha256.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.bases.quiet import quiet_loading
from hub.context import Context
from hub.errors import AmbiguousError, IncompatibleError, NotFoundError, UnsupportedFormatError, UsageError
from hub.gen.results import LoraUse
from hub.models import AdapterDetail
from hub.paths import Paths
from hub.registry.api import resolve

if TYPE_CHECKING:
    from hub.bases.api import BaseInfo
    from hub.formats.module_tables import ModuleTable

# Formats diffusers' load_lora_weights reads exactly as they are (checked by tests/gen against hub's own loader).
DIRECT_FORMATS = frozenset({"kohya", "lycoris-locon", "diffusers-peft"})
# Known bases (the embedded tiny SD1 one included): unknown files are left to diffusers' own shape checks.
_FAMILIES = frozenset({"sd1", "sd2", "sdxl", "flux", "tiny"})


def _is_safetensors(path: Path) -> bool:
    """Pickled adapters are never handed to diffusers (it would torch.load them): hub.formats reads them safely."""
    with path.open("rb") as f:
        head = f.read(9)
    return len(head) == 9 and head[8:9] == b"{"


@dataclass(frozen=True)
class ResolvedLora:
    use: LoraUse  # as the infotext writes it: registry name (or path), weight, AutoV3 prefix
    detail: AdapterDetail

    @property
    def key(self) -> str:
        """Identity of the bytes: sha256 when hashed, else path + size + mtime (an unregistered file)."""
        if self.detail.sha256:
            return self.detail.sha256
        st = Path(self.detail.path).stat()
        return hashlib.sha256(f"{self.detail.path}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()


def _lookup(lora: LoraUse, ctx: Context) -> AdapterDetail:
    # The hash from an infotext names the exact bytes even when the name differs in this registry.
    if lora.hash:
        try:
            return resolve(lora.hash, ctx=ctx)
        except (NotFoundError, AmbiguousError):
            pass
    return resolve(lora.name, ctx=ctx)


def resolve_loras(loras: Sequence[LoraUse], ctx: Context) -> list[ResolvedLora]:
    """Registry entries for the requested LoRAs; embeddings, unusable formats and repeats are refused."""
    out: list[ResolvedLora] = []
    seen: dict[str, str] = {}
    for lora in loras:
        detail = _lookup(lora, ctx)
        if detail.kind == "embedding":
            raise IncompatibleError(
                f"'{detail.name}' is a textual-inversion embedding, not a LoRA",
                hint="embeddings are not applied by hub gen yet; pass LoRA or LyCORIS adapters",
            )
        if not detail.usable:
            raise UnsupportedFormatError(f"'{detail.name}' ({detail.format}) cannot be loaded: {detail.note}")
        name = detail.name if detail.id else str(Path(detail.path).absolute())
        resolved = ResolvedLora(LoraUse(name=name, weight=lora.weight, hash=_autov3(detail)), detail)
        if resolved.key in seen:
            raise UsageError(f"'{lora.name}' is listed twice (same file as '{seen[resolved.key]}')",
                             hint="give each adapter once, with the sum of the weights")  # fmt: skip
        seen[resolved.key] = lora.name
        out.append(resolved)
    return out


def _autov3(detail: AdapterDetail) -> str | None:
    # A1111 and Civitai print the first 12 hex digits of AutoV3 (the tensor data's sha256).
    return detail.hashes.autov3[:12] if detail.hashes and detail.hashes.autov3 else None


def recorded_base(loras: Sequence[ResolvedLora]) -> str | None:
    """The base the first adapter that records a usable one was made on: the model it was trained from (its
    lineage edge), else its base label when that names a model hub can load (``tiny``, a path, an HF id)."""
    from hub.bases.api import TINY_BASES

    for lora in loras:
        candidates = [e.parent_ref for e in lora.detail.parents if e.operation == "trained-from" and not e.parent_id]
        candidates.append(lora.detail.base_label or "")
        for ref in candidates:
            if ref in TINY_BASES or (ref and Path(ref).expanduser().exists()):
                return ref
            if ref.count("/") == 1 and " " not in ref and not ref.startswith((".", "/")):
                return ref  # a Hugging Face model id
    return None


def check_fit(loras: Sequence[ResolvedLora], info: BaseInfo, table: ModuleTable | None) -> None:
    """Refuse an adapter made for another base: its arch (when both are known), then its modules' widths against
    the base's module table (when hub knows the base's modules: :func:`hub.bases.api.module_table`). Headers and
    configs only, so it runs before the base's weights load."""
    from hub.formats.table_fit import header_modules, table_fit

    for lora in loras:
        arch = lora.detail.arch
        if arch in _FAMILIES and info.arch in _FAMILIES and arch != info.arch:
            raise IncompatibleError(
                f"'{lora.use.name}' is a {arch} adapter and the base {info.ref} is {info.arch}",
                hint=f"pass --base with a {arch} model",
            )
        if table is None or not _is_safetensors(Path(lora.detail.path)):
            continue
        fit = table_fit(header_modules(lora.detail.path), table)
        if not fit.fits:
            what = (
                f"{len(fit.misfits)} of its {fit.modules} modules have other widths than the base's ({fit.misfits[0]})"
            )
            raise IncompatibleError(
                f"'{lora.use.name}' does not fit the base {info.ref} ({table.name}): {what}",
                hint=f"it was made for a base of other sizes: pass --base with that model (`hub show {lora.use.name}` "
                "gives its lineage and metadata)",
            )


class LoadedAdapters:
    """The adapters loaded into one pipeline, by file identity; the least recently used go beyond ``capacity``."""

    def __init__(self, pipe: Any, paths: Paths, *, capacity: int = 8) -> None:
        self.pipe = pipe
        self.paths = paths
        self.capacity = capacity
        self._names: OrderedDict[str, str] = OrderedDict()  # key -> adapter name in the pipeline
        self._enabled = True

    def ensure(self, lora: ResolvedLora) -> str:
        key = lora.key
        if key in self._names:
            self._names.move_to_end(key)
            return self._names[key]
        while len(self._names) >= self.capacity:
            _, old = self._names.popitem(last=False)
            self.pipe.delete_adapters(old)
        name = f"hub_{key[:16]}"
        self._load(lora, name)
        self._names[key] = name
        return name

    def _load(self, lora: ResolvedLora, name: str) -> None:
        detail = lora.detail
        if detail.format in DIRECT_FORMATS and _is_safetensors(Path(detail.path)):
            try:
                self._load_file(self._named(lora), name)
                return
            except Exception:  # diffusers raises ValueError/KeyError/RuntimeError: try our converter instead
                self._forget(name)
        converted = self._converted(lora)
        try:
            self._load_file(converted, name)
        except Exception as e:
            self._forget(name)
            raise IncompatibleError(
                f"diffusers could not load '{lora.use.name}' into this base: {str(e).splitlines()[0][:300]}",
                hint="is the adapter made for another base model? `hub show` gives its arch",
            ) from e

    def _load_file(self, path: Path, name: str) -> None:
        with quiet_loading():
            self.pipe.load_lora_weights(str(path.parent), weight_name=path.name, adapter_name=name)

    def _forget(self, name: str) -> None:
        with contextlib.suppress(Exception):  # nothing was loaded under that name
            self.pipe.delete_adapters(name)

    def _named(self, lora: ResolvedLora) -> Path:
        """The file under a ``.safetensors`` name: diffusers picks its reader by suffix, and store blobs are
        named by their hash alone. A hard link in the cache (a copy across filesystems), made once."""
        path = Path(lora.detail.path)
        if path.suffix == ".safetensors":
            return path
        target = self.paths.cache / "gen-adapters" / f"{lora.key[:32]}.direct.safetensors"
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".tmp")
            tmp.unlink(missing_ok=True)
            try:
                os.link(path, tmp)
            except OSError:
                shutil.copyfile(path, tmp)
            os.replace(tmp, target)
        return target

    def _converted(self, lora: ResolvedLora) -> Path:
        """The adapter rewritten by hub.formats as a kohya LoRA, with each module's shape taken from the loaded
        pipeline (so 1x1 convs stay 4-D even on bases hub has no module table for)."""
        from hub.formats.load import load_lora_set
        from hub.formats.write import save_lora_set

        target = self.paths.cache / "gen-adapters" / f"{lora.key[:32]}.safetensors"
        if not target.is_file():
            arch = lora.detail.arch if lora.detail.arch != "unknown" else None
            lora_set = load_lora_set(lora.detail.path, arch=arch, label=f"'{lora.use.name}'")
            for key, module in lora_set.modules.items():
                weight = self._weight(key)
                if weight is not None and weight.numel() == module.up.shape[0] * module.down.shape[1]:
                    module.weight_shape = tuple(weight.shape)
            save_lora_set(lora_set, target, fmt="kohya")
        return target

    def _weight(self, key: str) -> Any:
        component, _, path = key.partition(".")
        model = getattr(self.pipe, component, None)
        if model is None:  # a component this pipeline lacks (no text_encoder_2 on SD1)
            return None
        for candidate in (path, path.removeprefix("text_model.")):  # transformers 5 flattened CLIPTextModel
            try:
                return model.get_submodule(candidate).weight
            except AttributeError:
                continue
        return None

    def activate(self, pairs: Sequence[tuple[str, float]]) -> None:
        """Exactly these adapters at these weights; weight 0 leaves an adapter out (the image equals no LoRA)."""
        active = [(name, w) for name, w in pairs if w != 0]
        if not active:
            if self._names and self._enabled:
                self.pipe.disable_lora()
                self._enabled = False
            return
        if not self._enabled:
            self.pipe.enable_lora()
            self._enabled = True
        self.pipe.set_adapters([n for n, _ in active], adapter_weights=[w for _, w in active])
