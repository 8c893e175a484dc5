"""An adapter's modules against a base's module table (hub.formats.table_fit, what `hub gen` checks before a base
loads): every key style fits the base it was written for, and no other."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.formats.module_tables import packaged_table
from hub.formats.table_fit import header_modules, table_fit
from hub.testing import write_lora

TABLE_OF = {"tiny-sd1": "tiny", "sd1": "sd1", "sd2": "sd2", "sdxl": "sdxl"}


@pytest.mark.parametrize("style", ["kohya", "diffusers", "peft", "diffusers-old"])
@pytest.mark.parametrize("arch", list(TABLE_OF))
def test_an_adapter_fits_its_own_base_and_no_other(tmp_path: Path, arch: str, style: str) -> None:
    path = write_lora(tmp_path / "a.safetensors", arch=arch, style=style, rank=1)
    modules = header_modules(path)
    for name in TABLE_OF.values():
        table = packaged_table(name)
        assert table is not None
        fit = table_fit(modules, table)
        if name == TABLE_OF[arch]:
            assert fit.fits and fit.placed == fit.modules == len(modules), (name, fit.misfits[:3])
        else:
            assert not fit.fits, name


def test_lycoris_and_locon_convs_fit_by_their_widths(tmp_path: Path) -> None:
    for algo in ("loha", "lokr", "locon"):
        path = write_lora(tmp_path / f"{algo}.safetensors", arch="sd1", algo=algo, rank=2)
        fit = table_fit(header_modules(path), packaged_table("sd1"))
        assert fit.fits and fit.placed == fit.modules, (algo, fit.misfits[:3])
