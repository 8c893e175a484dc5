"""What the wheel ships matches what the code needs: declared dependencies are the imports, data files are listed.

The installed wheel itself is run by `.ci/wheel_smoke.sh` (from `.ci/run`); these checks are its fast half.
"""

from __future__ import annotations

import ast
import fnmatch
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
FIRST_PARTY = {"hub", "cli"}
# Declared but never imported by name: needed at run time by another dependency we call.
USED_INDIRECTLY = {
    "peft": "diffusers' load_lora_weights / fuse_lora on text encoders go through PEFT",
    "python-multipart": "Starlette parses the web UI's forms with it (request.form())",
}


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(*, dev: bool = False) -> set[str]:
    names = set()
    # required ones, and the extras a user installs for an optional feature (`pip install sd-lora-hub[train]`);
    # with dev=True the development extra too
    extras = [
        r
        for name, reqs in PYPROJECT["project"].get("optional-dependencies", {}).items()
        if name != "dev" or dev
        for r in reqs
    ]
    for requirement in [*PYPROJECT["project"]["dependencies"], *extras]:
        names.add(_normalize(re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0]))
    return names


def _third_party_imports() -> dict[str, list[str]]:
    """Top-level module name -> files importing it, over every module the wheel ships (hub/ and cli/)."""
    found: dict[str, list[str]] = {}
    for top in FIRST_PARTY:
        for path in sorted((ROOT / top).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Import):
                    modules = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    name = module.split(".")[0]
                    if name not in FIRST_PARTY and name not in sys.stdlib_module_names:
                        found.setdefault(name, []).append(str(path.relative_to(ROOT)))
    return found


def test_every_import_is_a_declared_dependency_and_every_dependency_is_used() -> None:
    distributions = packages_distributions()  # import name -> distributions providing it (installed ones)
    declared = _declared()
    with_dev = _declared(dev=True)
    imported: set[str] = set()
    undeclared = []
    for module, files in _third_party_imports().items():
        providers = {_normalize(d) for d in distributions.get(module, [module])}
        imported |= providers
        # hub.testing serves the tests, the demo and the benchmarks: it may use the dev extra (selenium)
        only_testing = all(f.startswith("hub/testing/") for f in files)
        if not providers & (with_dev if only_testing else declared):
            undeclared.append(f"{module} ({sorted(providers)}) imported by {files[:3]}")
    assert not undeclared, "imported but not in [project].dependencies: " + "; ".join(undeclared)
    unused = declared - imported - set(USED_INDIRECTLY)
    assert not unused, f"declared in [project].dependencies but imported nowhere under hub/ or cli/: {sorted(unused)}"


def test_every_data_file_in_a_package_is_shipped() -> None:
    package_data: dict[str, list[str]] = PYPROJECT["tool"]["setuptools"]["package-data"]
    missing = []
    for top in FIRST_PARTY:
        for path in (ROOT / top).rglob("*"):
            if path.is_dir() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
                continue
            rel = path.relative_to(ROOT)
            shipped = False
            for package, patterns in package_data.items():
                base = Path(*package.split("."))
                if rel.is_relative_to(base):
                    inside = str(rel.relative_to(base))
                    shipped |= any(
                        fnmatch.fnmatch(inside, p) or fnmatch.fnmatch(inside, p.replace("**/", "")) for p in patterns
                    )
            if path.is_symlink():
                missing.append(f"{rel} is a symlink: a wheel must carry the real file")
            elif not shipped:
                missing.append(f"{rel} matches no [tool.setuptools.package-data] pattern")
    assert not missing, missing


def test_every_package_directory_is_a_package() -> None:
    for top in FIRST_PARTY:
        for folder in [ROOT / top, *(ROOT / top).rglob("*")]:
            if folder.is_dir() and any(folder.glob("*.py")):
                assert (folder / "__init__.py").is_file(), f"{folder.relative_to(ROOT)} has modules but no __init__.py"
