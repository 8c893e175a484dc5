"""The layering holds: hub never imports the CLI or its libraries; packages call siblings only through `api`."""

from __future__ import annotations

import ast
from pathlib import Path

import hub

ROOT = Path(__file__).resolve().parents[1]

PACKAGES = ("registry", "compose", "sync", "formats", "bases", "web")
FACADE = {f"hub.{name}" for name in hub._EXPORTS}  # `from hub import mix`: the facade sits above every package
# formats/load.py still reads module shapes from hub.testing; the module-table work (branch `arch`) removes it.
KNOWN_TESTING_USERS: set[str] = set()


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return names


def test_hub_never_imports_cli_typer_or_rich() -> None:
    for path in (ROOT / "hub").rglob("*.py"):
        bad = [n for n in _imports(path) if n.split(".")[0] in ("cli", "typer", "rich", "click")]
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_packages_use_neither_the_facade_nor_hub_testing_nor_a_siblings_insides() -> None:
    for package in PACKAGES:
        for path in (ROOT / "hub" / package).rglob("*.py"):
            for name in _imports(path):
                parts = name.split(".")
                where = f"{path.relative_to(ROOT)} imports {name}"
                assert name not in FACADE, where
                if str(path.relative_to(ROOT)) not in KNOWN_TESTING_USERS:
                    assert parts[:2] != ["hub", "testing"], where
                sibling = parts[1] if parts[0] == "hub" and len(parts) > 2 else None
                verbs = ("registry", "compose", "sync")
                if package in (*verbs, "web") and sibling in verbs and sibling != package:
                    # registry/compose/sync (and the web UI above them) reach them only through their verbs
                    assert parts[2] in ("api", "results"), where
