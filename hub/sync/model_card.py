"""Model cards (README.md) for LoRA repos: build one for a push, read one back on a pull. Pure.

The YAML front matter follows what diffusers' training scripts write (``base_model``, ``license``,
``library_name: diffusers``, ``instance_prompt``, ``tags`` with ``template:sd-lora``, ``widget``
entries pointing at images in the repo), so the Hub renders the gallery and the model tree, plus an
``sd_lora_hub`` block naming each weight file's role (the original, byte for byte; a kohya or diffusers
copy), format and SHA256. The body is for people: trigger words, usage in diffusers and in A1111/ComfyUI,
lineage, the files and their hashes. One HTML comment carries the exact values a pull needs (the trigger
list, tags, lineage...), because free text and ``instance_prompt`` cannot carry a list of triggers losslessly.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from hub.formats.module_tables import TINY_ARCH, TINY_LABEL
from hub.models import Frozen
from hub.sync.licenses import card_license, read_card_license

DIFFUSERS_WEIGHT_NAME = "pytorch_lora_weights.safetensors"
MARKER = "sd-lora-hub"
FILES_KEY = "sd_lora_hub"  # the front-matter block listing the weight files
Role = Literal["original", "kohya copy", "diffusers copy"]

# Where each architecture's adapters come from on the Hub (the model tree's parent); licences: hub.sync.licenses.
BASE_MODELS: dict[str, str] = {
    "sd1": "stable-diffusion-v1-5/stable-diffusion-v1-5",
    "sd2": "stabilityai/stable-diffusion-2-1",
    "sdxl": "stabilityai/stable-diffusion-xl-base-1.0",
    "flux": "black-forest-labs/FLUX.1-dev",
}
FAMILY_TAGS: dict[str, list[str]] = {
    TINY_ARCH: [TINY_LABEL],
    "sd1": ["stable-diffusion", "stable-diffusion-diffusers"],
    "sd2": ["stable-diffusion", "stable-diffusion-diffusers"],
    "sdxl": ["stable-diffusion-xl", "stable-diffusion-xl-diffusers"],
    "flux": ["flux", "flux-diffusers"],
}
STANDARD_TAGS = ["text-to-image", "diffusers", "lora", "template:sd-lora"]
# Tags a card carries for the Hub's benefit; not the adapter's own tags when read back.
_HUB_TAGS = {
    *STANDARD_TAGS,
    *(t for tags in FAMILY_TAGS.values() for t in tags),
    "template:diffusion-lora",
    "diffusers-training",
    "dora",
    "safetensors",
}


class CardImage(Frozen):
    path: str  # repo-relative, e.g. images/cat.png
    prompt: str | None = None


class CardFile(Frozen):
    """One weight file of a pushed repo: the original (the registered file, byte for byte) or a conversion."""

    path: str  # repo-relative
    role: Role
    format: str  # as hub.formats.probe names it: kohya, diffusers-peft, lycoris-lokr, ...
    sha256: str


def is_kohya_format(fmt: str) -> bool:
    """Formats A1111/Forge/ComfyUI load as they are."""
    return fmt.startswith(("kohya", "lycoris"))


class CardLineage(Frozen):
    operation: str  # trained-from, mixed-from, ...
    parent: str
    weight: float | None = None


class CardSpec(Frozen):
    """Everything a card says about one pushed adapter."""

    name: str
    repo: str
    arch: str
    base_model: str | None = None
    base_label: str | None = None  # the registry's own label ("SD 1.5", a path...), kept for a lossless pull
    license: str | None = None
    triggers: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    description: str | None = None
    files: list[CardFile]  # every weight file; exactly one is the original
    # How the diffusers copy was made when it is not exact (a LyCORIS expansion: rank, kept energy, size), or why
    # there is none.
    diffusers_note: str | None = None
    images: list[CardImage] = Field(default_factory=list)
    lineage: list[CardLineage] = Field(default_factory=list)
    rank: int | None = None
    alpha: float | None = None

    @model_validator(mode="after")
    def _one_original(self) -> CardSpec:
        if [f.role for f in self.files].count("original") != 1:
            raise ValueError("a card lists exactly one original file")
        return self

    @property
    def primary(self) -> CardFile:
        return next(f for f in self.files if f.role == "original")

    def path_for(self, role: Role) -> str | None:
        return next((f.path for f in self.files if f.role == role), None)

    @property
    def kohya_file(self) -> str | None:
        """The file for A1111/Forge/ComfyUI: the kohya copy, else the original when it is kohya/LyCORIS."""
        copy = self.path_for("kohya copy")
        return copy or (self.primary.path if is_kohya_format(self.primary.format) else None)

    @property
    def diffusers_file(self) -> str:
        """The file for ``load_lora_weights``: the diffusers copy, else the original (diffusers reads kohya too)."""
        return self.path_for("diffusers copy") or self.primary.path


class ParsedCard(Frozen):
    """What a pull takes from any LoRA card (ours or someone else's)."""

    name: str | None = None
    base_model: str | None = None
    base_label: str | None = None  # ours: the registry label it was pushed with; others: base_model
    license: str | None = None
    triggers: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)  # the adapter's own tags (Hub/family tags removed)
    description: str | None = None
    images: list[CardImage] = Field(default_factory=list)
    lineage: list[CardLineage] = Field(default_factory=list)
    primary_file: str | None = None
    source_sha256: str | None = None  # ours: the SHA256 of the adapter the pusher had registered
    file_sha256: dict[str, str] = Field(default_factory=dict)  # ours: repo path -> SHA256 of each weight file
    files: list[CardFile] = Field(default_factory=list)  # ours, since the front-matter block: the roles too
    diffusers_note: str | None = None  # ours: how the diffusers copy was made
    ours: bool = False  # written by sd-lora-hub (the marker comment or the files block is there)

    @property
    def original_file(self) -> str | None:
        """The repo path of the pusher's own bytes. Cards from before the files block called the kohya conversion
        the primary file; there the original is the listed file whose SHA256 is the source adapter's."""
        for f in self.files:
            if f.role == "original":
                return f.path
        same = sorted(p for p, sha in self.file_sha256.items() if self.source_sha256 and sha == self.source_sha256)
        if self.primary_file in same or not same:
            return self.primary_file
        return same[0]


def base_model_for(arch: str, base_label: str | None) -> str | None:
    """A Hub model id for the card: the adapter's own base when it is one, else the arch's reference base."""
    if base_label and re.fullmatch(r"[\w.-]+/[\w.-]+", base_label):
        return base_label
    return BASE_MODELS.get(arch)


def card_tags(arch: str, own: list[str]) -> list[str]:
    out: list[str] = []
    for t in [*STANDARD_TAGS, *FAMILY_TAGS.get(arch, []), *own]:
        if t and t not in out:
            out.append(t)
    return out


def front_matter(spec: CardSpec) -> dict[str, Any]:
    data: dict[str, Any] = {}
    base = spec.base_model or BASE_MODELS.get(spec.arch)
    if base:
        data["base_model"] = base
        data["base_model_relation"] = "adapter"
    data.update(card_license(spec.license, spec.arch))  # a Hub identifier, or other + license_name/license_link
    data["library_name"] = "diffusers"
    data["pipeline_tag"] = "text-to-image"
    if spec.triggers:
        data["instance_prompt"] = ", ".join(spec.triggers)
    data["tags"] = card_tags(spec.arch, spec.tags)
    prompt = ", ".join(spec.triggers) or spec.name
    if spec.images:
        data["widget"] = [{"text": img.prompt or prompt, "output": {"url": img.path}} for img in spec.images]
    else:
        data["widget"] = [{"text": prompt}]
    data[FILES_KEY] = {"primary": spec.primary.path, "files": [f.model_dump() for f in spec.files]}
    return data


def _marker(spec: CardSpec) -> str:
    payload = {
        "name": spec.name,
        "base_label": spec.base_label,
        # primary/source_sha256/files repeat the front matter's block for older versions of hub, which read them here
        "primary": spec.primary.path,
        "triggers": spec.triggers,
        "tags": spec.tags,
        "description": spec.description,
        "license": spec.license,  # the adapter's own words; the front matter has the Hub's identifier
        "source_sha256": spec.primary.sha256,
        "files": {f.path: f.sha256 for f in spec.files},
        **({"diffusers_note": spec.diffusers_note} if spec.diffusers_note else {}),
        "lineage": [ln.model_dump() for ln in spec.lineage],
    }
    # "<" and ">" escaped so that no string value can close the HTML comment early.
    text = json.dumps(payload, sort_keys=True, ensure_ascii=True).replace("<", "\\u003c").replace(">", "\\u003e")
    return f"<!-- {MARKER} {text} -->"


def _what(f: CardFile, original: CardFile) -> str:
    """The files table's words for one file."""
    if f.role == "original":
        return f"the adapter as registered, byte for byte ({f.format})"
    if f.sha256 == original.sha256:
        return f"the same bytes as `{original.path}`, under the name diffusers looks for"
    use = "A1111/Forge/ComfyUI" if f.role == "kohya copy" else "diffusers' `load_lora_weights`"
    return f"a conversion to {f.format} for {use}"


def _webui_usage(spec: CardSpec) -> list[str]:
    file = spec.kohya_file or spec.primary.path
    stem = file.rsplit("/", 1)[-1].rsplit(".", 1)[0]  # the name A1111 gives the downloaded file
    kind = "kohya format" if spec.kohya_file else f"{spec.primary.format}; no kohya copy could be made"
    return [
        f"Download [`{file}`](./{file}) ({kind}) into `models/Lora`, then add "
        f"`<lora:{stem}:0.8>` to the prompt (A1111/Forge) or load it with a *LoraLoader* node (ComfyUI)."
    ]


# The embedded tiny base has no Hub repo nor checkpoint for other tools: its cards say what it is and how to load it.
_TINY_BASE = (
    "Made for sd-lora-hub's embedded `tiny` base (`--base tiny`: a 64x64 text-to-image model of a small world of "
    "balls and boxes, trained and shipped by sd-lora-hub), not for Stable Diffusion: it loads on that base only."
)


def _tiny_usage(spec: CardSpec, trigger: str) -> list[str]:
    return [
        "## Use it with hub",
        "",
        "```sh",
        f"hub pull {spec.repo}",
        f'hub gen "{trigger or "a photo"}" --lora {shlex.quote(spec.name)} --base tiny',
        "```",
        "",
        "## Use it with diffusers",
        "",
        "```py",
        "from diffusers import StableDiffusionPipeline",
        "from hub.bases.api import resolve_base  # sd-lora-hub builds the tiny base offline, from its package",
        "",
        'pipe = StableDiffusionPipeline.from_pretrained(resolve_base("tiny"), safety_checker=None)',
        f'pipe.load_lora_weights("{spec.repo}", weight_name="{spec.diffusers_file}")',
        f'image = pipe("{trigger or "a photo"}", height=64, width=64).images[0]',
        "```",
        "",
        *([f"The diffusers copy: {spec.diffusers_note}.", ""] if spec.diffusers_note else []),
        "A1111, Forge and ComfyUI have no checkpoint of the tiny base: use it with hub or diffusers as above.",
        "",
    ]


def build_card(spec: CardSpec) -> str:
    """The README.md text. Deterministic: the same spec gives the same bytes (no dates), so re-pushes are no-ops."""
    yml = yaml.safe_dump(front_matter(spec), sort_keys=False, allow_unicode=True, width=1000).strip()
    base = spec.base_model or BASE_MODELS.get(spec.arch, "<base model>")
    trigger = ", ".join(spec.triggers)
    lines = [f"---\n{yml}\n---", "", f"# {spec.name}", "", "<Gallery />", ""]
    if spec.description:
        lines += [spec.description.strip(), ""]
    if spec.arch == TINY_ARCH:
        lines += [_TINY_BASE, ""]
    lines += ["## Trigger words", ""]
    if spec.triggers:
        lines += [f"You should use {', '.join(f'`{t}`' for t in spec.triggers)} to trigger the image generation.", ""]
    else:
        lines += ["No trigger words: the adapter applies to every prompt.", ""]
    if spec.arch == TINY_ARCH:
        lines += _tiny_usage(spec, trigger)
    else:
        lines += _sd_usage(spec, base, trigger)
    _lineage_and_files(spec, lines)
    return "\n".join(lines)


def _sd_usage(spec: CardSpec, base: str, trigger: str) -> list[str]:
    return [
        "## Use it with diffusers",
        "",
        "```py",
        "import torch",
        "from diffusers import AutoPipelineForText2Image",
        "",
        f'pipe = AutoPipelineForText2Image.from_pretrained("{base}", torch_dtype=torch.float16).to("cuda")',
        f'pipe.load_lora_weights("{spec.repo}", weight_name="{spec.diffusers_file}")',
        f'image = pipe("{trigger or "a photo"}").images[0]',
        "```",
        "",
        *([f"The diffusers copy: {spec.diffusers_note}.", ""] if spec.diffusers_note else []),
        "## Use it in A1111 / Forge / ComfyUI",
        "",
        *_webui_usage(spec),
        "",
    ]


def _lineage_and_files(spec: CardSpec, lines: list[str]) -> None:
    if spec.lineage:
        lines += ["## Lineage", "", "| operation | parent | weight |", "|---|---|---|"]
        for ln in spec.lineage:
            weight = "" if ln.weight is None else f"{ln.weight:g}"
            lines.append(f"| {ln.operation} | `{ln.parent}` | {weight} |")
        lines.append("")
    lines += ["## Files and hashes", "", "| file | what | SHA256 | AutoV2 |", "|---|---|---|---|"]
    for f in spec.files:
        lines.append(f"| `{f.path}` | {_what(f, spec.primary)} | `{f.sha256}` | `{f.sha256[:10].upper()}` |")
    licence = card_license(spec.license, spec.arch)
    if licence["license"] == "other":
        named = spec.license or licence["license_name"]
        link = f" ({licence['license_link']})" if "license_link" in licence else ""
        lines += ["", f"Licence: {named}{link}."]
    details = [f"architecture {spec.arch}"]
    if spec.rank is not None:
        details.append(f"rank {spec.rank}")
    if spec.alpha is not None:
        details.append(f"alpha {spec.alpha:g}")
    lines += ["", f"Details: {', '.join(details)}. Published with sd-lora-hub.", "", _marker(spec), ""]


_FRONT = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
_MARKER_RE = re.compile(rf"<!--\s*{MARKER}\s+(\{{.*?\}})\s*-->", re.S)


def split_card(text: str) -> tuple[dict[str, Any], str]:
    """(YAML front matter as a dict, body). A card without front matter gives ({}, text)."""
    m = _FRONT.match(text)
    if not m:
        return {}, text
    try:
        data = yaml.safe_load(m.group(1))
    except yaml.YAMLError:
        data = None
    return (data if isinstance(data, dict) else {}), text[m.end() :]


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value if v is not None]


def _images(data: dict[str, Any]) -> list[CardImage]:
    out: list[CardImage] = []
    widget = data.get("widget")
    for item in widget if isinstance(widget, list) else []:
        if not isinstance(item, dict):
            continue
        output = item.get("output")
        url = output.get("url") if isinstance(output, dict) else None
        if isinstance(url, str) and url:
            text = item.get("text")
            out.append(CardImage(path=url, prompt=text if isinstance(text, str) else None))
    return out


def _body_triggers(body: str) -> list[str]:
    section = re.search(r"#+\s*Trigger words?\s*\n(.*?)(?:\n#|\Z)", body, re.S | re.I)
    return re.findall(r"`([^`\n]+)`", section.group(1)) if section else []


def _body_description(body: str) -> str | None:
    """The first plain paragraph after the title (ours write the description there)."""
    for block in re.split(r"\n\s*\n", body):
        block = block.strip()
        if block and not block.startswith(("#", "<", "```", "|", "!")):
            return block
    return None


def _files_block(data: dict[str, Any]) -> tuple[str | None, list[CardFile]]:
    """(primary path, listed files) from the front matter's block; entries that do not validate are skipped."""
    block = data.get(FILES_KEY)
    if not isinstance(block, dict):
        return None, []
    files: list[CardFile] = []
    listed = block.get("files")
    for item in listed if isinstance(listed, list) else []:
        try:
            files.append(CardFile.model_validate(item))
        except ValidationError:
            continue
    primary = block.get("primary")
    return (primary if isinstance(primary, str) else None), files


def parse_card(text: str) -> ParsedCard:
    """Read any LoRA card: front matter first, then our marker (exact values), then the body as a fallback."""
    data, body = split_card(text)
    marker: dict[str, Any] = {}
    if m := _MARKER_RE.search(body):
        try:
            marker = json.loads(m.group(1))
        except json.JSONDecodeError:
            marker = {}
    base = data.get("base_model")
    if isinstance(base, list):
        base = base[0] if base else None
    instance = data.get("instance_prompt")
    triggers = [str(t) for t in marker.get("triggers", [])] if marker else []
    if not triggers:
        triggers = [instance] if isinstance(instance, str) and instance.strip() else _body_triggers(body)
    tags = (
        [str(t) for t in marker["tags"]]
        if "tags" in marker
        else [
            t
            for t in _as_list(data.get("tags"))
            if t not in _HUB_TAGS and not t.startswith(("base_model:", "region:"))
        ]
    )
    lineage = []
    for item in marker.get("lineage", []):
        if isinstance(item, dict) and "operation" in item and "parent" in item:
            lineage.append(CardLineage.model_validate({k: item.get(k) for k in ("operation", "parent", "weight")}))
    primary, files = _files_block(data)
    marker_files = marker.get("files")
    file_sha256 = (
        {f.path: f.sha256 for f in files}
        if files
        else {str(k): str(v) for k, v in marker_files.items()}
        if isinstance(marker_files, dict)
        else {}
    )
    original = next((f for f in files if f.role == "original"), None)
    title = re.search(r"^#\s+(.+)$", body, re.M)
    license_ = marker["license"] if marker.get("license") else read_card_license(data)
    return ParsedCard(
        name=marker.get("name") or (title.group(1).strip() if title else None),
        base_model=str(base) if base else None,
        base_label=marker["base_label"] if "base_label" in marker else (str(base) if base else None),
        license=str(license_) if license_ else None,
        triggers=triggers,
        tags=tags,
        description=marker["description"] if "description" in marker else _body_description(body),
        images=_images(data),
        lineage=lineage,
        primary_file=primary or marker.get("primary"),
        source_sha256=original.sha256 if original else marker.get("source_sha256"),
        file_sha256=file_sha256,
        files=files,
        diffusers_note=marker.get("diffusers_note"),
        ours=bool(marker) or bool(files),
    )
