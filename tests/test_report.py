"""``ganzoo eval --report``: an HTML page with the pictures and every metric's protocol."""

from __future__ import annotations

import base64
import io
import re

import pytest
import torch
from PIL import Image

from ganzoo.cli import main
from ganzoo.hub import save_pretrained
from ganzoo.models import build, make_config

TINY = {"size": 32, "generator_args": {"width": 8}, "discriminator_args": {"width": 8}}

pytestmark = pytest.mark.usefixtures("one_torch_thread", "private_caches")


def picture(page: str) -> Image.Image:
    [data] = re.findall(r"src='data:image/png;base64,([^']+)'", page)
    return Image.open(io.BytesIO(base64.b64decode(data)))


def test_translator_report_shows_pairs_and_protocols(tmp_path, capsys):
    torch.manual_seed(0)
    gan = build(make_config("improved", overrides=TINY), training=False)
    folder = save_pretrained(gan, tmp_path / "improved")
    report = tmp_path / "report.html"
    args = ["eval", str(folder), "--data", "toon", "--metrics", "swd", "-n", "16"]
    main([*args, "--device", "cpu", "--report", str(report)])
    assert f"wrote {report}" in capsys.readouterr().err
    page = report.read_text()
    assert "<td>swd</td>" in page and "16 of the " in page  # the protocol, with its n
    assert "translations" in page
    # 8 (input, translation) pairs, 4 per row: 8 x 2 cells of 32 px, enlarged 4x to 128 px
    assert picture(page).size == (4 * (8 * 34 + 2), 4 * (2 * 34 + 2))


def test_reverse_report_shows_the_way_back(tmp_path, capsys):
    torch.manual_seed(0)
    gan = build(make_config("improved", overrides=TINY), training=False)
    folder = save_pretrained(gan, tmp_path / "improved")
    report = tmp_path / "report.html"
    args = ["eval", str(folder), "--data", "toon/photo", "--source-data", "toon", "--reverse"]
    main([*args, "--metrics", "swd", "-n", "16", "--device", "cpu", "--report", str(report)])
    out = capsys.readouterr().out
    assert "target-to-source translations of 16 images of toon" in out
    page = report.read_text()
    assert "toon images (left of each pair) and their translations" in page
    assert "16 of the 20000 images of toon/photo" in page


def test_report_must_be_html_and_is_checked_first(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["eval", "no-such-model", "--data", "toon", "--report", str(tmp_path / "r.pdf")])
    err = capsys.readouterr().err
    assert err.startswith("error: --report writes an HTML page") and err.count("\n") == 1
