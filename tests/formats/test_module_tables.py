"""The packaged module tables: what diffusers builds from the real configs, read without torch, the one source."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from hub.formats.module_tables import KNOWN_ARCHS, packaged_table, table_configs
from hub.formats.unet_layout import UnetLayout

ROOT = Path(__file__).resolve().parents[2]


def test_packaged_tables_match_what_diffusers_builds_from_the_configs() -> None:
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "build_module_tables.py"), "--check"],
                       capture_output=True, text=True, timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr


def test_reading_a_table_imports_no_torch() -> None:
    code = (
        "import sys\nfrom hub.formats.module_tables import packaged_table\n"
        "t = packaged_table('sdxl')\nassert len(t.modules) > 1000 and t.unet is not None\n"
        "print([m for m in ('torch', 'diffusers', 'transformers', 'numpy') if m in sys.modules])"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "[]", r.stderr


@pytest.mark.parametrize(
    ("arch", "unet", "te", "te2", "with_conv"),
    [("sd1", 192, 72, 0, 350), ("sd2", 192, 138, 0, 416), ("sdxl", 722, 72, 192, 1052)],
)
def test_kohya_default_targets(arch: str, unet: int, te: int, te2: int, with_conv: int) -> None:
    table = packaged_table(arch)
    assert table is not None
    targets = table.kohya_targets()
    counts = {c: sum(k.startswith(c + ".") for k in targets) for c in ("unet", "text_encoder", "text_encoder_2")}
    assert counts == {"unet": unet, "text_encoder": te, "text_encoder_2": te2}
    assert len(table.kohya_targets(conv=True)) == with_conv


def test_the_unet_layout_comes_from_the_packaged_config() -> None:
    sdxl = packaged_table("sdxl")
    assert sdxl is not None and sdxl.unet == UnetLayout(2, (False, True, True), (True, True, False))
    assert table_configs("sd1")["unet"]["cross_attention_dim"] == 768
    assert packaged_table("tiny-sd1") is None and packaged_table("flux") is None
    assert set(KNOWN_ARCHS) == {"sd1", "sd2", "sdxl"}
    # the map both ways, on every UNet module of every real base
    for arch in KNOWN_ARCHS:
        table = packaged_table(arch)
        assert table is not None and table.unet is not None
        for key in (k for k in table.modules if k.startswith("unet.")):
            ldm = table.unet.to_ldm(key[5:])
            assert ldm is not None, key
            assert table.unet.from_ldm(ldm) == key[5:]


@pytest.mark.parametrize("package", ["formats", "registry", "compose", "sync"])
def test_product_packages_never_import_hub_testing(package: str) -> None:
    for path in (ROOT / "hub" / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n == "hub.testing" or n.startswith("hub.testing.") for n in names), path
