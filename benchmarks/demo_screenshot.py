"""The README's demo screenshot: `ganzoo demo MODEL` in headless Chromium, one photo uploaded.

    python benchmarks/demo_screenshot.py improved-anime PHOTO.jpg docs/images/demo-anime.png

Needs the demo and test extras (gradio, selenium) and Debian's chromium and chromium-driver, as
the demo's browser test does (tests/test_demo.py); nothing is downloaded.
"""

from __future__ import annotations

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(1)
    sys.exit(f"error: the demo did not answer at {url} within {seconds:.0f} s")


def screenshot(url: str, photo: Path, out: Path) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,900"):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp()}")
    browser = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        browser.get(url)
        wait = WebDriverWait(browser, 120)
        upload = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#input input[type=file]"))
        upload[0].send_keys(str(photo.resolve()))
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#output img"))
        time.sleep(2)  # the image fades in
        browser.save_screenshot(str(out))
    finally:
        browser.quit()


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    model, photo, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    command = ["ganzoo", "demo", model, "--port", str(port)]
    server = subprocess.Popen([*command, "--device", "cpu"], env=env)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_for(url)
        screenshot(url, photo, out)
        print(f"wrote {out}")
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
