"""``benchmarks/reproduce.py``: the comparison harness end to end, at a budget of a few steps.

It trains a DCGAN and the improved translator for one and two steps on 32x32 toon, scores them
and the source-as-is row on 16 images, and writes results.json, report.md, the grids' thumbnails
and the model cards' Results sections. The numbers mean nothing here; the plumbing is the test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "reproduce.py"
MODELS = "source as-is,dcgan,improved-gp"


def reproduce(*args: str, tmp_path: Path) -> str:
    env = {
        **os.environ,
        "GANZOO_CACHE": str(tmp_path / "cache"),
        "TORCH_HOME": str(tmp_path / "torch"),
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
    }
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("reproduce")
    out = tmp_path / "out"
    common = ["--budget", "16", "--size", "32", "-n", "16", "--out", str(out)]
    reproduce(*common, "--datasets", "toon", "--models", MODELS, tmp_path=tmp_path)
    return tmp_path, out, common


def test_every_model_gets_one_row_with_its_budget(results):
    _, out, _ = results
    rows = json.loads((out / "results.json").read_text())
    assert [r["label"] for r in rows] == ["source as-is", "dcgan", "improved-gp"]
    by_label = {r["label"]: r for r in rows}
    # the same number of target images, whatever the batch size
    assert (by_label["dcgan"]["steps"], by_label["dcgan"]["batch"]) == (1, 16)
    assert (by_label["improved-gp"]["steps"], by_label["improved-gp"]["batch"]) == (2, 8)
    assert by_label["source as-is"]["steps"] == 0 and by_label["source as-is"]["grid"] is None
    names = {res["name"] for res in by_label["improved-gp"]["results"]}
    assert {"toon-modes", "toon-fid", "swd", "msssim", "toon-content"} <= names
    # the unconditional model and the unchanged source get no content score
    assert "toon-content" not in {res["name"] for res in by_label["dcgan"]["results"]}
    assert "toon-content" not in {res["name"] for res in by_label["source as-is"]["results"]}


def test_runs_leave_hub_ready_weights_and_thumbnails(results):
    _, out, _ = results
    for run in ("dcgan-toon", "improved-gp-toon"):
        export = out / "runs" / run / "export"
        assert (export / "config.json").is_file() and (export / "model.safetensors").is_file()
        with Image.open(out / "grids" / f"{run}.jpg") as thumbnail:  # up to 6x4 cells, 4x
            assert thumbnail.width == 4 * (6 * 34 + 2) and thumbnail.height <= 4 * (4 * 34 + 2)


def test_report_has_a_table_row_per_model_and_a_picture_per_trained_one(results):
    _, out, _ = results
    report = (out / "report.md").read_text()
    assert "| source as-is | - | - |" in report
    assert "| dcgan | 1 x 16 |" in report and "| improved-gp | 2 x 8 |" in report
    assert "](grids/dcgan-toon.jpg)" in report and "](grids/improved-gp-toon.jpg)" in report
    assert "source as-is on toon" not in report  # no grid for the unchanged images


def test_cards_get_one_results_section_before_limitations(results, tmp_path):
    tmp, out, common = results
    cards = tmp_path / "cards"
    cards.mkdir()
    card = cards / "improved-toon.md"
    card.write_text("# improved-toon\n\n## Model\n\ntext\n\n## Limitations\n\nsome\n")
    shutil.copy(card, cards / "improved-anime.md")  # no anime rows: left alone
    entries = tmp_path / "zoo"  # a plugin's bundled entries: NAME/README.md
    (entries / "dcgan-toon").mkdir(parents=True)
    shutil.copy(card, entries / "dcgan-toon" / "README.md")
    for _ in range(2):  # the second run replaces the section instead of adding another
        reproduce(
            *common, "--report-only", "--cards", str(cards), "--cards", str(entries), tmp_path=tmp
        )
    for text in (card.read_text(), (entries / "dcgan-toon" / "README.md").read_text()):
        assert text.count("## Results") == 1
        assert text.index("## Model") < text.index("## Results") < text.index("## Limitations")
        assert "| improved-gp | 2 x 8 |" in text and "| dcgan | 1 x 16 |" in text
    assert "## Results" not in (cards / "improved-anime.md").read_text()


def test_an_unknown_model_is_one_error_line_naming_the_known_ones(tmp_path):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--models", "dcgan,gan", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].endswith(
        "unknown models gan; known: source as-is, dcgan, wgan (clip), wgan-gp, "
        "improved (clip), improved-gp"
    )
    assert not (tmp_path / "results.json").exists()
