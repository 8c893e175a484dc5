"""A real browser (Debian's headless Chromium through selenium) on ``hub serve``: open the gallery, search,
open a detail page, edit its tags, build a mix and land on it, take screenshots. Skipped only when chromium is
not installed (``.ci/run`` installs it)."""

from __future__ import annotations

from pathlib import Path

import pytest

import hub
from hub.settings import load_settings
from hub.testing.web_browser import chromium, chromium_paths, full_page_screenshot, running_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(chromium_paths() is None, reason="chromium + chromium-driver not installed (apt-get install)"),
]


def test_gallery_search_detail_edit_and_mix_in_a_browser(library, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    shots = tmp_path / "shots"
    with running_server(load_settings()) as url, chromium() as driver:
        wait = WebDriverWait(driver, 60)
        driver.get(url + "/")
        cards = driver.find_elements(By.CSS_SELECTOR, ".card")
        assert len(cards) == 3
        # the card's thumbnail really loaded (a decoded image, not a broken icon)
        img = driver.find_element(By.CSS_SELECTOR, f'img[src="/thumb/{library["anime_eyes"].id}/0"]')
        wait.until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img))
        full_page_screenshot(driver, shots / "gallery.png")

        # search from the header box: the URL holds the query, the page shows one card
        box = driver.find_element(By.CSS_SELECTOR, "header .search input")
        box.send_keys("anime", Keys.ENTER)
        wait.until(ec.url_contains("q=anime"))
        assert [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".card .name")] == ["anime_eyes"]
        # a filter menu applies on change (JavaScript), keeping the search
        Select(driver.find_element(By.NAME, "sort")).select_by_value("rank")
        wait.until(ec.url_contains("sort=rank"))
        assert "q=anime" in driver.current_url

        # the detail page, and an edit through its form (token included by the page)
        driver.find_element(By.CSS_SELECTOR, ".card .name").click()
        wait.until(ec.presence_of_element_located((By.ID, "adapter-name")))
        assert driver.find_element(By.ID, "adapter-name").text == "anime_eyes"
        tags = driver.find_element(By.ID, "tags")
        tags.clear()
        tags.send_keys("anime, eyes, portrait")
        tags.submit()
        wait.until(ec.url_contains("saved=tags"))
        assert hub.show("anime_eyes").tags == ["anime", "eyes", "portrait"]
        driver.find_element(By.CSS_SELECTOR, "[data-copy^='<lora:']").click()  # the copy button does not break
        full_page_screenshot(driver, shots / "detail.png")

        # the mix builder, from the detail page's button: prefilled, one more row, submit, land on the entry
        driver.find_element(By.LINK_TEXT, "Mix it").click()
        rows = driver.find_elements(By.CSS_SELECTOR, "#mix-form .row")
        assert rows[0].find_element(By.NAME, "adapter").get_attribute("value") == "anime_eyes"
        rows[1].find_element(By.NAME, "adapter").send_keys("pixel_style")
        slider = rows[1].find_element(By.CSS_SELECTOR, "input[type=range]")
        driver.execute_script(
            "arguments[0].value = '0.5'; arguments[0].dispatchEvent(new Event('input', {bubbles: true}))", slider
        )
        assert rows[1].find_element(By.NAME, "weight").get_attribute("value") == "0.5"
        driver.find_element(By.NAME, "rank").send_keys("4")
        driver.find_element(By.NAME, "name").send_keys("browser-mix")
        driver.find_element(By.CSS_SELECTOR, "#mix-form button.primary").click()
        wait.until(ec.url_matches(r"/a/[0-9a-f]{10}$"))
        assert driver.find_element(By.ID, "adapter-name").text == "browser-mix"
        assert "mixed-from · 0.5 (svd)" in driver.find_element(By.CSS_SELECTOR, "svg.lineage").get_attribute(
            "innerHTML"
        )
        full_page_screenshot(driver, shots / "mix-result.png")
    mixed = hub.show("browser-mix")
    assert sorted((e.parent_ref, e.params["weight"]) for e in mixed.parents) == [
        ("anime_eyes", 1.0),
        ("pixel_style", 0.5),
    ]
    for name in ("gallery", "detail", "mix-result"):
        assert (shots / f"{name}.png").stat().st_size > 10_000


def test_generate_on_the_tiny_base_in_a_browser(library, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    with running_server(load_settings()) as url, chromium() as driver:
        wait = WebDriverWait(driver, 240)
        driver.get(f"{url}/a/{library['anime_eyes'].id}")
        driver.find_element(By.LINK_TEXT, "Test it").click()
        assert driver.find_element(By.NAME, "lora").get_attribute("value") == "anime_eyes"
        driver.find_element(By.NAME, "prompt").send_keys("a portrait, big eyes")
        driver.find_element(By.NAME, "base").send_keys("tiny")
        steps = driver.find_element(By.NAME, "steps")
        steps.clear()
        steps.send_keys("2")
        driver.find_element(By.CSS_SELECTOR, "#test-form button.primary").click()
        # the job page follows the job (JavaScript polling) and shows the image when it is done
        img = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".result img")))
        wait.until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img))
        assert "<lora:anime_eyes:1>" in driver.find_element(By.CSS_SELECTOR, ".result pre.recipe").get_attribute(
            "textContent"
        )
        full_page_screenshot(driver, tmp_path / "generated.png")
        driver.find_element(By.CSS_SELECTOR, ".make-preview button").click()
        wait.until(ec.url_contains("saved=preview"))
    assert len(hub.show("anime_eyes").previews) == 2
