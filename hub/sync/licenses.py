"""Licences as the Hub names them: a free-text licence (``modelspec.license``, a user's words) to card fields.

A card's ``license`` must be one of the Hub's identifiers (https://huggingface.co/docs/hub/repositories-licenses);
any other licence is ``license: other`` with a ``license_name`` (a lowercase slug) and, where one is known, a
``license_link``. People write the same licence many ways ("CreativeML Open RAIL-M", "creativeml-openrail-m",
"CreativeML OpenRAIL M License"): they are compared with case, spaces, punctuation and the word "licence" removed.
"""

from __future__ import annotations

import re

# The Hub's licence identifiers with their full names (hub-docs, docs/hub/repositories-licenses.md).
HUB_LICENSES: dict[str, str] = {
    "apache-2.0": "Apache license 2.0",
    "mit": "MIT",
    "openrail": "OpenRAIL license family",
    "bigscience-openrail-m": "BigScience OpenRAIL-M",
    "creativeml-openrail-m": "CreativeML OpenRAIL-M",
    "bigscience-bloom-rail-1.0": "BigScience BLOOM RAIL 1.0",
    "bigcode-openrail-m": "BigCode Open RAIL-M v1",
    "afl-3.0": "Academic Free License v3.0",
    "artistic-2.0": "Artistic license 2.0",
    "bsl-1.0": "Boost Software License 1.0",
    "bsd": "BSD license family",
    "bsd-2-clause": 'BSD 2-clause "Simplified" license',
    "bsd-3-clause": 'BSD 3-clause "New" or "Revised" license',
    "bsd-3-clause-clear": "BSD 3-clause Clear license",
    "c-uda": "Computational Use of Data Agreement",
    "cc": "Creative Commons license family",
    "cc0-1.0": "Creative Commons Zero v1.0 Universal",
    "cc-by-2.0": "Creative Commons Attribution 2.0",
    "cc-by-2.5": "Creative Commons Attribution 2.5",
    "cc-by-3.0": "Creative Commons Attribution 3.0",
    "cc-by-4.0": "Creative Commons Attribution 4.0",
    "cc-by-sa-3.0": "Creative Commons Attribution Share Alike 3.0",
    "cc-by-sa-4.0": "Creative Commons Attribution Share Alike 4.0",
    "cc-by-nc-2.0": "Creative Commons Attribution Non Commercial 2.0",
    "cc-by-nc-3.0": "Creative Commons Attribution Non Commercial 3.0",
    "cc-by-nc-4.0": "Creative Commons Attribution Non Commercial 4.0",
    "cc-by-nd-4.0": "Creative Commons Attribution No Derivatives 4.0",
    "cc-by-nc-nd-3.0": "Creative Commons Attribution Non Commercial No Derivatives 3.0",
    "cc-by-nc-nd-4.0": "Creative Commons Attribution Non Commercial No Derivatives 4.0",
    "cc-by-nc-sa-2.0": "Creative Commons Attribution Non Commercial Share Alike 2.0",
    "cc-by-nc-sa-3.0": "Creative Commons Attribution Non Commercial Share Alike 3.0",
    "cc-by-nc-sa-4.0": "Creative Commons Attribution Non Commercial Share Alike 4.0",
    "cdla-sharing-1.0": "Community Data License Agreement - Sharing, Version 1.0",
    "cdla-permissive-1.0": "Community Data License Agreement - Permissive, Version 1.0",
    "cdla-permissive-2.0": "Community Data License Agreement - Permissive, Version 2.0",
    "wtfpl": "Do What The F*ck You Want To Public License",
    "ecl-2.0": "Educational Community License v2.0",
    "epl-1.0": "Eclipse Public License 1.0",
    "epl-2.0": "Eclipse Public License 2.0",
    "etalab-2.0": "Etalab Open License 2.0",
    "eupl-1.1": "European Union Public License 1.1",
    "agpl-3.0": "GNU Affero General Public License v3.0",
    "gfdl": "GNU Free Documentation License family",
    "gpl": "GNU General Public License family",
    "gpl-2.0": "GNU General Public License v2.0",
    "gpl-3.0": "GNU General Public License v3.0",
    "lgpl": "GNU Lesser General Public License family",
    "lgpl-2.1": "GNU Lesser General Public License v2.1",
    "lgpl-3.0": "GNU Lesser General Public License v3.0",
    "isc": "ISC",
    "lppl-1.3c": "LaTeX Project Public License v1.3c",
    "ms-pl": "Microsoft Public License",
    "mpl-2.0": "Mozilla Public License 2.0",
    "odc-by": "Open Data Commons License Attribution family",
    "odbl": "Open Database License family",
    "openrail++": "Open Rail++-M License",
    "osl-3.0": "Open Software License 3.0",
    "postgresql": "PostgreSQL License",
    "ofl-1.1": "SIL Open Font License 1.1",
    "ncsa": "University of Illinois/NCSA Open Source License",
    "unlicense": "The Unlicense",
    "zlib": "zLib License",
    "pddl": "Open Data Commons Public Domain Dedication and License",
    "lgpl-lr": "Lesser General Public License For Linguistic Resources",
    "deepfloyd-if-license": "DeepFloyd IF Research License Agreement",
    "llama2": "Llama 2 Community License Agreement",
    "gemma": "Gemma Terms of Use",
    "unknown": "Unknown",
    "other": "Other",
}

# Other spellings of listed licences seen in adapter files and cards.
_ALIASES: dict[str, str] = {
    "cc0": "cc0-1.0",
    "openrail++m": "openrail++",
    "openrailplusplus": "openrail++",
    "creativemlopenrail++m": "openrail++",  # SDXL 1.0's own name for it
    "apache2": "apache-2.0",
    "apache": "apache-2.0",
}

# Licences the Hub does not list but LoRA files commonly carry: spellings -> (license_name, license_link).
_FAIPL = ("fair-ai-public-license-1.0-sd", "https://freedevproject.org/faipl-1.0-sd/")
_FLUX_DEV = (
    "flux-1-dev-non-commercial-license",
    "https://huggingface.co/black-forest-labs/FLUX.1-dev/blob/main/LICENSE.md",
)
_KNOWN_OTHER: list[tuple[tuple[str, ...], tuple[str, str]]] = [
    (("Fair AI Public License 1.0-SD", "FAIPL-1.0-SD", "fair-ai-public-license-1.0-sd"), _FAIPL),
    (("FLUX.1 [dev] Non-Commercial License", "flux-1-dev-non-commercial-license"), _FLUX_DEV),
]

# When an adapter carries no licence: its base model's (the arch's reference base).
ARCH_DEFAULTS: dict[str, str] = {"sd1": "creativeml-openrail-m", "sd2": "openrail++", "sdxl": "openrail++"}
_ARCH_OTHER = {"flux": _FLUX_DEV}


def _key(text: str) -> str:
    """Case, spaces, punctuation and the word licence/license/agreement removed; '+' kept (openrail++)."""
    t = re.sub(r"\b(the|licen[cs]e[sd]?|agreement)\b", "", text.lower())
    return re.sub(r"[^a-z0-9+]", "", t)


_BY_KEY: dict[str, str] = {
    **{_key(ident): ident for ident in HUB_LICENSES},
    **{_key(name): ident for ident, name in HUB_LICENSES.items()},
    **_ALIASES,
}
_OTHER_BY_KEY: dict[str, tuple[str, str]] = {_key(n): named for names, named in _KNOWN_OTHER for n in names}


def slug(text: str) -> str:
    """A ``license_name`` the Hub accepts: lowercase letters, digits, dots and dashes."""
    s = re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-.")
    return s[:64].rstrip("-.") or "custom"


def card_license(license_text: str | None, arch: str) -> dict[str, str]:
    """The card fields for a licence: ``{"license": id}``, or ``other`` with ``license_name``/``license_link``."""
    text = (license_text or "").strip()
    if not text:
        if arch in ARCH_DEFAULTS:
            return {"license": ARCH_DEFAULTS[arch]}
        if arch in _ARCH_OTHER:
            name, link = _ARCH_OTHER[arch]
            return {"license": "other", "license_name": name, "license_link": link}
        return {"license": "unknown"}
    key = _key(text)
    if key in _BY_KEY and _BY_KEY[key] != "other":
        return {"license": _BY_KEY[key]}
    if key in _OTHER_BY_KEY:
        name, link = _OTHER_BY_KEY[key]
        return {"license": "other", "license_name": name, "license_link": link}
    if re.match(r"https?://\S+$", text):
        return {"license": "other", "license_name": slug(text.split("://", 1)[1]), "license_link": text}
    return {"license": "other", "license_name": slug(text)}


def read_card_license(data: dict[str, object]) -> str | None:
    """The licence a card states: its identifier, or for ``other`` the licence's name (else None)."""
    value = data.get("license")
    if isinstance(value, list):
        value = value[0] if value else None
    if not value:
        return None
    if str(value) == "other" and isinstance(data.get("license_name"), str) and data["license_name"]:
        return str(data["license_name"])
    return str(value)
