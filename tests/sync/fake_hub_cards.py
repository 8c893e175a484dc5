"""Card metadata rules of the loopback Hub, as the Hub documents them (hub-docs ``modelcard.md``,
``docs/hub/model-cards.md``, ``docs/hub/repositories-licenses.md``).

Kept apart from ``hub.sync.licenses`` on purpose: the server must not accept a card because the code under
test agrees with itself. The Hub checks these on ``/api/validate-yaml`` and again when a commit changes README.md.
"""

from __future__ import annotations

import re
from typing import Any

# The "License identifier (to use in repo card)" column of docs/hub/repositories-licenses.md.
LICENSE_IDS = frozenset(
    [
        "apache-2.0",
        "mit",
        "openrail",
        "bigscience-openrail-m",
        "creativeml-openrail-m",
        "bigscience-bloom-rail-1.0",
        "bigcode-openrail-m",
        "afl-3.0",
        "artistic-2.0",
        "bsl-1.0",
        "bsd",
        "bsd-2-clause",
        "bsd-3-clause",
        "bsd-3-clause-clear",
        "c-uda",
        "cc",
        "cc0-1.0",
        "cc-by-2.0",
        "cc-by-2.5",
        "cc-by-3.0",
        "cc-by-4.0",
        "cc-by-sa-3.0",
        "cc-by-sa-4.0",
        "cc-by-nc-2.0",
        "cc-by-nc-3.0",
        "cc-by-nc-4.0",
        "cc-by-nd-4.0",
        "cc-by-nc-nd-3.0",
        "cc-by-nc-nd-4.0",
        "cc-by-nc-sa-2.0",
        "cc-by-nc-sa-3.0",
        "cc-by-nc-sa-4.0",
        "cdla-sharing-1.0",
        "cdla-permissive-1.0",
        "cdla-permissive-2.0",
        "wtfpl",
        "ecl-2.0",
        "epl-1.0",
        "epl-2.0",
        "etalab-2.0",
        "eupl-1.1",
        "agpl-3.0",
        "gfdl",
        "gpl",
        "gpl-2.0",
        "gpl-3.0",
        "lgpl",
        "lgpl-2.1",
        "lgpl-3.0",
        "isc",
        "lppl-1.3c",
        "ms-pl",
        "mpl-2.0",
        "odc-by",
        "odbl",
        "openrail++",
        "osl-3.0",
        "postgresql",
        "ofl-1.1",
        "ncsa",
        "unlicense",
        "zlib",
        "pddl",
        "lgpl-lr",
        "deepfloyd-if-license",
        "llama2",
        "gemma",
        "unknown",
        "other",
    ]
)
BASE_MODEL_RELATIONS = frozenset({"adapter", "merge", "quantized", "finetune"})
_MODEL_ID = re.compile(r"[\w.-]+(/[\w.-]+)?")
_LICENSE_NAME = re.compile(r"[a-z0-9][a-z0-9.-]*")


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def card_metadata_errors(data: Any) -> list[str]:
    """Messages for metadata the Hub refuses; [] for acceptable metadata (None: a card without front matter)."""
    if data is None:
        return []
    if not isinstance(data, dict):
        return ["metadata must be a mapping"]
    errors: list[str] = []
    if "license" in data:
        licences = data["license"] if isinstance(data["license"], list) else [data["license"]]
        for lic in licences:
            if not isinstance(lic, str) or lic not in LICENSE_IDS:
                errors.append(f'"license" must be one of the Hub\'s licence identifiers, got {lic!r}')
        if "other" in licences:
            name = data.get("license_name")
            if not isinstance(name, str) or not _LICENSE_NAME.fullmatch(name):
                errors.append('"license: other" needs "license_name": a lowercase id such as my-license-1.0')
    for key in ("license_name", "license_link"):
        if key in data and data.get("license") != "other":
            errors.append(f'"{key}" goes with "license: other"')
    if "license_link" in data and not isinstance(data["license_link"], str):
        errors.append('"license_link" must be a URL or a file name in the repo')
    for key in ("tags", "datasets", "metrics"):
        if key in data and not _is_str_list(data[key]):
            errors.append(f'"{key}" must be a list of strings')
    if "language" in data and not (isinstance(data["language"], str) or _is_str_list(data["language"])):
        errors.append('"language" must be a string or a list of strings')
    if "base_model" in data:
        bases = data["base_model"] if isinstance(data["base_model"], list) else [data["base_model"]]
        if not bases or not all(isinstance(b, str) and _MODEL_ID.fullmatch(b) for b in bases):
            errors.append('"base_model" must be a model id or a list of model ids')
    if "base_model_relation" in data and data["base_model_relation"] not in BASE_MODEL_RELATIONS:
        errors.append(f'"base_model_relation" must be one of {sorted(BASE_MODEL_RELATIONS)}')
    for key in ("library_name", "pipeline_tag", "instance_prompt", "thumbnail"):
        if key in data and data[key] is not None and not isinstance(data[key], str):
            errors.append(f'"{key}" must be a string')
    if "widget" in data:
        widget = data["widget"]
        if not isinstance(widget, list) or not all(_widget_ok(w) for w in widget):
            errors.append('"widget" must be a list of {text, output: {url}} entries')
    return errors


def _widget_ok(item: Any) -> bool:
    if not isinstance(item, dict) or not isinstance(item.get("text", ""), str):
        return False
    output = item.get("output")
    return output is None or (isinstance(output, dict) and isinstance(output.get("url"), str))
