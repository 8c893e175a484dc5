"""A1111's "parameters" text (infotext), written into every PNG and read back. Pure: strings in, models out.

The layout, as A1111's ``create_infotext`` writes it and ``parse_generation_parameters`` reads it::

    a photo of a dog <lora:dog:0.7> <lora:style:0.5>
    Negative prompt: lowres
    Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 64x64, Model: tiny, Lora hashes: "dog: 3f1c...", ...

The prompt may span lines; the last line holds ``Key: value`` pairs, a value quoted as a JSON string when it
holds a comma, colon or quote. LoRAs ride in the prompt as ``<lora:name:weight>`` tags (A1111 strips them before
the text encoder sees the prompt, and so do we) and their AutoV3 prefixes in ``Lora hashes`` (what Civitai
matches). Fields hub does not act on land in :attr:`GenRequest.extra`, so foreign infotexts lose nothing.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from hub.errors import BadFileError, UsageError
from hub.gen.results import GenRequest, LoraUse
from hub.gen.samplers import canonical_name

_PARAM = re.compile(r'\s*([A-Za-z][\w \-/]*?):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)')
_TAG = re.compile(r"<(?:lora|lyco):([^>]*)>", re.IGNORECASE)
_SIZE = re.compile(r"^\s*(\d+)\s*x\s*(\d+)\s*$")
# Fields this module turns into request fields, or recomputes on every write: never kept in ``extra``.
_OWN = {"Steps", "Sampler", "Schedule type", "CFG scale", "Seed", "Size", "Model", "Model hash", "Lora hashes",
        "Version"}  # fmt: skip


def number(value: float) -> str:
    """7.0 -> "7", 0.7 -> "0.7": the shortest text that reads back as the same float."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def quote(text: str) -> str:
    """A value as A1111 writes it: bare unless it holds a comma, colon, quote or newline."""
    if not any(c in text for c in ',:"\n'):
        return text
    return json.dumps(text, ensure_ascii=False)


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        try:
            return str(json.loads(text))
        except ValueError:
            return text
    return text


def lora_tags(loras: Iterable[LoraUse]) -> str:
    return " ".join(f"<lora:{lora.name}:{number(lora.weight)}>" for lora in loras)


def split_lora_tags(prompt: str) -> tuple[str, list[LoraUse]]:
    """``"a dog <lora:dog:0.7>"`` -> ("a dog", [dog 0.7]). A tag without a weight means 1; A1111's extra fields
    (``<lora:name:te:unet>``, ``lbw=``) take the first number. The commas a removed tag leaves are tidied."""
    loras: list[LoraUse] = []

    def take(match: re.Match[str]) -> str:
        name, *rest = match.group(1).split(":")
        weight = 1.0
        if rest:
            try:
                weight = float(rest[0])
            except ValueError:
                hint = "<lora:NAME:WEIGHT>, e.g. <lora:dog:0.7>"
                raise UsageError(f"bad weight in {match.group(0)!r}", hint=hint) from None
        loras.append(LoraUse(name=name.strip(), weight=weight))
        return "\x00"

    text = _TAG.sub(take, prompt)
    text = re.sub(r",\s*\x00\s*(?=,)", "", text)  # "a, <lora:x:1>, b" -> "a, b"
    text = re.sub(r"\s*\x00", "", text)
    return text.strip(), loras


def format_infotext(
    request: GenRequest,
    *,
    lora_hashes: Mapping[str, str] | None = None,
    version: str | None = None,
    extra: Iterable[tuple[str, str]] = (),
) -> str:
    """The "parameters" text of a resolved request (seed, size and sampler known). ``lora_hashes``: name ->
    AutoV3 prefix; ``extra``: more ``Key: value`` pairs appended verbatim (e.g. a grid's axes)."""
    if request.seed is None or request.width is None or request.height is None or request.sampler is None:
        raise ValueError("format_infotext needs a resolved request (seed, width, height and sampler set)")
    prompt = " ".join(filter(None, [request.prompt, lora_tags(request.loras)]))
    lines = [prompt]
    if request.negative:
        lines.append(f"Negative prompt: {request.negative}")
    fields: list[tuple[str, str]] = [
        ("Steps", str(request.steps)),
        ("Sampler", request.sampler),
        ("CFG scale", number(request.cfg)),
        ("Seed", str(request.seed)),
        ("Size", f"{request.width}x{request.height}"),
    ]
    if request.base:
        fields.append(("Model", request.base))
    if lora_hashes:
        fields.append(("Lora hashes", ", ".join(f"{name}: {h}" for name, h in lora_hashes.items())))
    fields.extend(extra)
    if version:
        fields.append(("Version", version))
    lines.append(", ".join(f"{key}: {quote(value)}" for key, value in fields))
    return "\n".join(lines)


def parse_fields(line: str) -> dict[str, str]:
    """``Steps: 20, Sampler: Euler a, Lora hashes: "a: 1, b: 2"`` -> {"Steps": "20", ...}, values unquoted."""
    return {m.group(1).strip(): _unquote(m.group(2).strip()) for m in _PARAM.finditer(line) if m.group(1).strip()}


def _parse_hashes(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in text.split(","):
        name, sep, value = item.rpartition(":")
        if sep and name.strip():
            out[name.strip()] = value.strip()
    return out


def _field(fields: dict[str, str], key: str, kind: type, default: object) -> Any:
    if key not in fields:
        return default
    try:
        return kind(float(fields[key])) if kind is int else kind(fields[key])
    except ValueError:
        raise BadFileError(f"infotext field {key!r} is not a number: {fields[key]!r}") from None


def parse_infotext(text: str) -> GenRequest:
    """Read A1111's "parameters" text back into a request (the inverse of :func:`format_infotext`)."""
    lines = text.strip().split("\n")
    fields: dict[str, str] = {}
    # The last line holds the parameters when it parses as at least three of them (A1111's own rule).
    candidate = parse_fields(lines[-1])
    if len(candidate) >= 3:
        fields = candidate
        lines = lines[:-1]
    prompt_lines: list[str] = []
    negative_lines: list[str] = []
    for line in lines:
        if line.startswith("Negative prompt:") and not negative_lines:
            negative_lines.append(line.removeprefix("Negative prompt:").strip())
        elif negative_lines:
            negative_lines.append(line)
        else:
            prompt_lines.append(line)
    prompt, loras = split_lora_tags("\n".join(prompt_lines))
    hashes = _parse_hashes(fields.get("Lora hashes", ""))
    loras = [lora.model_copy(update={"hash": hashes.get(lora.name)}) for lora in loras]

    width = height = None
    size = _SIZE.match(fields.get("Size", ""))
    if size:
        width, height = int(size.group(1)), int(size.group(2))
    sampler = fields.get("Sampler")
    if sampler:
        # a sampler we do not have ("DPM adaptive") is kept as written; rendering it says so
        with contextlib.suppress(UsageError):
            sampler = canonical_name(sampler, fields.get("Schedule type"))
    return GenRequest(
        prompt=prompt,
        negative="\n".join(negative_lines).strip(),
        loras=loras,
        base=fields.get("Model") or None,
        seed=_field(fields, "Seed", int, None),
        steps=_field(fields, "Steps", int, 20),
        cfg=_field(fields, "CFG scale", float, 7.0),
        width=width,
        height=height,
        sampler=sampler,
        extra={k: v for k, v in fields.items() if k not in _OWN},
    )
