"""The web UI's Civitai section and NSFW blur, in a real headless Chromium: the registry filled by `hub civitai`
(a fresh process) from the loopback fake Civitai, with a hostile description that must stay inert."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_civitai import FakeCivitai
from hub_process import hub
from test_civitai_lookup import KEY, publish_ink

from hub.settings import load_settings
from hub.testing import write_lora
from hub.testing.web_browser import chromium, chromium_paths, running_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(chromium_paths() is None, reason="chromium + chromium-driver not installed (apt-get install)"),
]


@pytest.fixture
def filled_home(tmp_path: Path) -> Iterator[Path]:
    home, lib = tmp_path / "home", tmp_path / "lib"
    write_lora(lib / "ink.safetensors", seed=1)
    write_lora(lib / "plain.safetensors", seed=2)
    assert hub(home, "import", str(lib)).returncode == 0
    server = FakeCivitai().start()
    try:
        publish_ink(server, home)  # its one preview is level R (4)
        r = hub(home, "civitai", CIVITAI_API_URL=server.api_url, CIVITAI_API_KEY=KEY)
        assert r.returncode == 0, r.stderr
        yield home
    finally:
        server.stop()


def _ink_id(home: Path) -> str:
    import json

    return json.loads(hub(home, "show", "ink", "--json").stdout)["id"]


def test_detail_page_shows_civitai_inert_and_gallery_blurs_nsfw(
    filled_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from selenium.webdriver.common.by import By

    ink = _ink_id(filled_home)
    with running_server(load_settings(home=filled_home)) as url, chromium() as driver:
        driver.get(f"{url}/a/{ink}")
        title = driver.title
        section = driver.find_element(By.ID, "civitai")
        assert "Ink Wash" in section.text and "sumi_master" in section.text and "Pony" in section.text
        assert (
            driver.find_element(By.ID, "civitai-page").get_attribute("href").endswith("/models/7?modelVersionId=102")
        )
        described = driver.find_element(By.ID, "civitai-description")
        # formatting and the plain link stay; scripts, images, handlers and javascript: links do not
        assert described.find_element(By.TAG_NAME, "b").text == "ink"
        links = described.find_elements(By.TAG_NAME, "a")
        assert [a.get_attribute("href") for a in links] == ["https://example.org/guide", None]
        assert not described.find_elements(By.CSS_SELECTOR, "script, img, [onclick], [onerror]")
        assert driver.title == title and "pwned" not in driver.title  # nothing ran
        preview = driver.find_element(By.CSS_SELECTOR, ".previews img")
        assert "nsfw-blur" in preview.get_attribute("class")
        assert "ink drawing, cat" in preview.get_attribute("data-infotext")

        driver.get(url + "/")
        cover = driver.find_element(By.CSS_SELECTOR, f'img[src="/thumb/{ink}/0"]')
        assert "blur" in driver.execute_script("return getComputedStyle(arguments[0]).filter", cover)

        # a description that got into the registry unsanitised (an older hub, a hand edit) is sanitised when shown
        with sqlite3.connect(filled_home / "registry.db") as db:
            raw = "<p>raw</p><img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>"
            db.execute("UPDATE civitai SET description = ?", (raw,))
        driver.get(f"{url}/a/{ink}")
        described = driver.find_element(By.ID, "civitai-description")
        assert described.text == "raw" and not described.find_elements(By.CSS_SELECTOR, "script, img")
        assert "pwned" not in driver.title

    monkeypatch.setenv("LORAHUB_NSFW_BLUR", "x")  # the setting: blur only above X
    with running_server(load_settings(home=filled_home)) as url, chromium() as driver:
        driver.get(url + "/")
        cover = driver.find_element(By.CSS_SELECTOR, f'img[src="/thumb/{ink}/0"]')
        assert driver.execute_script("return getComputedStyle(arguments[0]).filter", cover) == "none"


def test_a_bad_blur_setting_is_a_config_error(tmp_path: Path) -> None:
    r = hub(tmp_path / "home", "ls", LORAHUB_NSFW_BLUR="sometimes")
    assert r.returncode == 8
    assert r.stderr.startswith("error: LORAHUB_NSFW_BLUR must be a level") and "hint: pg, pg13, r, x, xxx" in r.stderr
