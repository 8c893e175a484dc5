"""Regenerate the web UI screenshots in docs/img/ (gallery, detail page, mix builder, X/Y grid).

    OMP_NUM_THREADS=1 python docs/screenshots.py [--out docs/img]

Offline: `hub demo` fills a temporary home's demo registry (its sample adapters, and the LoRA it teaches the tiny
base: an orange ball under `sks`), the server runs on that registry on a free loopback port, and Debian's headless
Chromium (apt-get install chromium chromium-driver) takes the pictures: the gallery, the trained LoRA's detail page,
the mix builder, an X/Y grid of its weight on the test page, and a training run started from the runs page.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="hub-screenshots-"))
    os.environ["LORAHUB_HOME"] = str(home)  # before hub reads settings: every verb works on this home
    sys.path.insert(0, str(ROOT))

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    import hub
    from hub.settings import load_settings
    from hub.testing.web_browser import chromium, chromium_paths, full_page_screenshot, running_server

    if chromium_paths() is None:
        print("chromium and chromium-driver are needed: apt-get install -y chromium chromium-driver", file=sys.stderr)
        return 1
    demo = hub.run_demo(base="tiny")
    trained = demo.trained
    written = []
    # The demo keeps its own registry (<home>/demo): serve that one.
    with running_server(load_settings(home=Path(demo.home))) as url, chromium(width=1280, height=900) as driver:
        wait = WebDriverWait(driver, 300)
        driver.get(url + "/")
        wait.until(lambda d: d.execute_script("return [...document.images].every(i => i.complete)"))
        written.append(full_page_screenshot(driver, args.out / "gallery.png", max_height=1100))
        driver.get(f"{url}/a/{trained.id}")
        written.append(full_page_screenshot(driver, args.out / "detail.png", max_height=2000))
        driver.get(f"{url}/mix?a={demo.adapters[0].name}")
        written.append(full_page_screenshot(driver, args.out / "mix.png", max_height=900))
        # an X/Y grid of the trained LoRA's weight and the sample mix's on the tiny base (hub gen)
        loras = [trained] + [a for a in demo.adapters if a.name == "demo-mix"]
        driver.get(f"{url}/test?" + "&".join(f"a={a.name}" for a in loras))
        driver.find_element(By.NAME, "prompt").send_keys(demo.prompt)
        driver.find_element(By.NAME, "base").send_keys("tiny")
        for box, weights in zip(driver.find_elements(By.NAME, "grid_weights"), ("0,0.5,1", "0,1"), strict=False):
            box.send_keys(weights)
        driver.find_element(By.CSS_SELECTOR, "button[name=grid]").click()
        img = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".result img")))
        wait.until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img))
        written.append(full_page_screenshot(driver, args.out / "grid.png", max_height=1400))
        if _has("hub.train.api"):
            written.append(_training_run(driver, wait, url, Path(demo.home), args.out))
        else:
            print("hub.train is not in this build: no training run screenshot", file=sys.stderr)
    for path in written:
        print(path)
    return 0


def _has(module: str) -> bool:
    import importlib

    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def _training_run(driver, wait, url: str, home: Path, out: Path) -> Path:
    """Start a short run on the tiny base from the /runs form and picture its page once it is done."""
    from selenium.webdriver.common.by import By

    from hub.testing.subjects import PROMPT, write_subject_dataset
    from hub.testing.web_browser import full_page_screenshot

    # an orange ball (a colour the tiny base never draws): the samples show the LoRA learning it
    pictures = write_subject_dataset(home / "screenshot-subject", token="sks", colour="orange")
    driver.get(url + "/runs")
    fields = {
        "images": str(pictures),
        "token": "sks",
        "class_word": "ball",
        "base": "tiny",
        "preset": "cpu-dreambooth",
        "sample_prompts": PROMPT.format(token="sks"),
        "sample_every": "100",
    }
    for name, value in fields.items():
        box = driver.find_element(By.NAME, name)
        box.clear()
        box.send_keys(value)
    driver.find_element(By.CSS_SELECTOR, "#train-form button.primary").click()
    wait.until(lambda d: d.find_element(By.ID, "run-status").text.startswith(("done", "failed")))
    return full_page_screenshot(driver, out / "training-run.png", max_height=1600)


if __name__ == "__main__":
    raise SystemExit(main())
