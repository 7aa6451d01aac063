"""``ganzoo demo``: the page works in a real browser (Debian's headless Chromium via Selenium).

The browser test starts the real command on 127.0.0.1, uploads a picture, waits for the
translation and compares it with what the library gives for the same picture. In CI (CI=true)
a missing browser, driver or extra is a failure, not a skip: .ci/run installs them.
"""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganzoo.cli import main
from ganzoo.cli.demo import sample_picture, translate_picture
from ganzoo.data.toon import toon_photo
from ganzoo.hub import load, save_pretrained
from ganzoo.models import build, make_config

TINY = {"size": 32, "generator_args": {"width": 8}, "discriminator_args": {"width": 8}}
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1200,900",
]
#: where to copy the screenshot as well, e.g. docs/images/demo.png
SCREENSHOT_ENV = "GANZOO_DEMO_SCREENSHOT"


def tiny(model: str, folder: Path) -> Path:
    torch.manual_seed(0)
    return save_pretrained(build(make_config(model, overrides=TINY), training=False), folder)


def test_pictures_are_enlarged(tmp_path):
    gan = load(str(tiny("improved", tmp_path / "improved")), device="cpu")
    photo = Image.new("RGB", (50, 40), (200, 120, 90))
    assert translate_picture(gan, photo, reverse=False).size == (256, 256)  # 32 px, 8x
    assert translate_picture(gan, None, reverse=True) is None  # the upload box was cleared
    gan = load(str(tiny("dcgan", tmp_path / "dcgan")), device="cpu")
    assert sample_picture(gan, seed=0, count=4).size == (4 * (2 + 2 * 34),) * 2  # 2x2, 4x


def test_without_the_extra_demo_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "gradio", None)  # as if not installed
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", str(tiny("dcgan", tmp_path / "dcgan"))])
    assert exit_info.value.code == 1
    assert capsys.readouterr().err == (
        "error: ganzoo demo needs the demo extra: pip install 'ganzoo-core[demo]'\n"
    )


def _required(what: str):
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing; .ci/run installs it")
    pytest.skip(f"{what} is missing")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_page(url: str, server: subprocess.Popen, log: Path, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"ganzoo demo exited with {server.returncode}: {log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"ganzoo demo did not answer at {url}: {log.read_text()}")


@pytest.fixture
def demo_server(tmp_path):
    """``ganzoo demo`` of a tiny untrained translator, in its own process; yields the URL."""
    if importlib.util.find_spec("gradio") is None:
        _required("gradio (pip install 'ganzoo-core[demo]')")
    folder = tiny("improved", tmp_path / "improved")
    port = _free_port()
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "GRADIO_TEMP_DIR": str(tmp_path / "gradio"),
        "HF_HUB_OFFLINE": "1",
    }
    log = tmp_path / "demo.log"
    command = [sys.executable, "-m", "ganzoo.cli", "demo", str(folder), "--port", str(port)]
    command += ["--device", "cpu"]
    with log.open("w") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_for_page(url, server, log)
        yield url, folder
    finally:
        server.send_signal(signal.SIGINT)  # Ctrl-C: the demo removes its temporary files
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.fixture
def browser(tmp_path):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _required("selenium (pip install 'ganzoo-core[test]')")
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        _required("chromium or chromedriver (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path)}")
    # an explicit driver path: Selenium Manager would otherwise try to download one
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    chrome.set_page_load_timeout(60)
    try:
        yield chrome
    finally:
        chrome.quit()


def test_translate_an_upload_in_a_real_browser(tmp_path, demo_server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, folder = demo_server
    photo_path = tmp_path / "photo.png"
    face = toon_photo(size=(96, 128), length=1, seed=2)[0]  # not square: fitted by the demo
    photo = Image.fromarray(face.permute(1, 2, 0).numpy())
    photo.save(photo_path)

    browser.get(url)
    wait = WebDriverWait(browser, 60)
    upload = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#input input[type=file]"))
    upload[0].send_keys(str(photo_path))  # as if the user picked the file

    def shown(b):  # the output <img>, once it has loaded
        found = b.find_elements(By.CSS_SELECTOR, "#output img")
        loaded = found and b.execute_script("return arguments[0].complete", found[0])
        return found[0] if loaded and found[0].get_property("naturalWidth") else None

    output = wait.until(shown)
    size = (output.get_property("naturalWidth"), output.get_property("naturalHeight"))
    assert size == (256, 256)  # the 32 px translation, enlarged 8x
    resources = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    outside = [u for u in resources if not u.startswith((url, "data:", "blob:"))]
    assert not outside  # the page loads nothing from the internet (fonts, analytics, ...)
    browser.save_screenshot(str(tmp_path / "demo.png"))
    if os.environ.get(SCREENSHOT_ENV):
        shutil.copyfile(tmp_path / "demo.png", os.environ[SCREENSHOT_ENV])

    # what the page shows is what the library gives for the same photo
    with urllib.request.urlopen(output.get_property("src"), timeout=10) as response:
        served = np.asarray(Image.open(io.BytesIO(response.read())).convert("RGB"), dtype=int)
    gan = load(str(folder), device="cpu")
    expected = np.asarray(translate_picture(gan, photo, reverse=False), dtype=int)
    assert np.abs(served - expected).max() <= 1  # 1: rounding of thread-dependent sums
