"""``benchmarks/peers.py``: the report from scored points, and its one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import ganzoo
from ganzoo.io.checkpoints import list_checkpoints

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "peers.py"


@pytest.fixture(scope="module")
def peers(load_benchmark):
    return load_benchmark("peers")


def fake_results(out: Path, systems: dict[str, list[float]]) -> None:
    """Scored points as the benchmark leaves them: translations and point.json with FID."""
    faces = torch.randint(0, 255, (8, 3, 16, 16), dtype=torch.uint8)
    (out / "data").mkdir(parents=True)
    torch.save({"eval": faces, "grid": faces}, out / "data" / "eval.pt")
    for name, fids in systems.items():
        for index, fid in enumerate(fids):
            seconds = 400 * (index + 1)
            point = out / name / f"cpu{seconds}"
            point.mkdir(parents=True)
            torch.save({"eval": faces, "grid": 255 - faces}, point / "translations.pt")
            row = {"cpu_seconds": seconds, "images_seen": 100 * (index + 1), "fid": fid}
            (point / "point.json").write_text(json.dumps({**row, "kid": fid / 1000, "n": 8}))


def tiny_system(peers, monkeypatch, tmp_path: Path, overrides: dict | None = None):
    """A ganzoo system "tiny" (improved at 32x32) on the embedded toon set, two eval faces;
    returns the data folder and the output folder."""
    monkeypatch.setattr(peers, "DOMAINS", ("toon", None))  # the embedded set: no real data
    system = {"model": "improved", "overrides": {"size": 32, **(overrides or {})}}
    monkeypatch.setitem(peers.GANZOO, "tiny", system)
    data = tmp_path / "data"
    data.mkdir()
    faces = torch.randint(0, 255, (2, 3, 32, 32), dtype=torch.uint8)
    torch.save({"eval": faces, "grid": faces}, data / "eval.pt")
    return data, tmp_path / "out"


def test_the_report_has_every_point_and_its_pictures(tmp_path, peers):
    fake_results(tmp_path / "out", {"cut": [300.0, 250.0], "improved": [200.0, 150.0]})
    rows = [row for name in ("cut", "improved") for row in peers.score(tmp_path / "out", name)]
    assert [r["cpu_seconds"] for r in rows] == [400, 800, 400, 800]
    peers.write_report(rows, tmp_path / "out", tmp_path / "docs")
    text = (tmp_path / "docs" / "README.md").read_text()
    assert "| improved | 800 | 200 | 150.0 | 0.1500 |" in text
    assert "Machines: not recorded: cut, improved." in text
    assert (tmp_path / "docs" / "peers-curve.png").stat().st_size > 0
    assert (tmp_path / "docs" / "peers-grid.jpg").stat().st_size > 0


def test_an_unknown_system_is_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--systems", "cut,pix2pix", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert result.stderr.strip() == "error: unknown system 'pix2pix'; known: " + ", ".join(
        [
            "cut",
            "fastcut",
            "cyclegan",
            "improved",
            "improved+ema",
            "ganzoo-cut",
            "ganzoo-fastcut",
            "ganzoo-fastcut-b1",
            "ganzoo-fastcut-ref",
            "ganzoo-fastcut-ref-layers",
            "ganzoo-fastcut-ref-layers-ema",
        ]
    )


def test_a_ganzoo_system_extends_its_curve_without_training_again(tmp_path, peers, monkeypatch):
    monkeypatch.setattr(peers, "DOMAINS", ("toon", None))  # the embedded set: no real data
    monkeypatch.setitem(peers.GANZOO, "tiny", {"model": "improved", "overrides": {"size": 32}})
    data = tmp_path / "data"
    data.mkdir()
    faces = torch.randint(0, 255, (4, 3, 32, 32), dtype=torch.uint8)
    torch.save({"eval": faces, "grid": faces[:2]}, data / "eval.pt")
    out = tmp_path / "out"
    peers.train_ganzoo("tiny", data, [1], out)
    first = json.loads((out / "tiny" / "cpu1" / "point.json").read_text())
    # a stage stops at 98% of its seconds: a point just short of its name is still done
    first["cpu_seconds"] = 0.99
    (out / "tiny" / "cpu1" / "point.json").write_text(json.dumps(first))
    before = (out / "tiny" / "cpu1" / "translations.pt").read_bytes()
    later = 3
    peers.train_ganzoo("tiny", data, [1, later], out)  # cpu1 is kept; the run resumes
    assert (out / "tiny" / "cpu1" / "translations.pt").read_bytes() == before
    second = json.loads((out / "tiny" / f"cpu{later}" / "point.json").read_text())
    assert second["cpu_seconds"] >= later * 0.98 and second["images_seen"] > first["images_seen"]
    metrics = (out / "tiny" / "run" / "metrics.csv").read_text().splitlines()
    steps = [int(line.split(",")[0]) for line in metrics[1:]]
    assert steps == sorted(set(steps))  # one run, resumed: no step trained twice
    translated = torch.load(out / "tiny" / f"cpu{later}" / "translations.pt")
    assert translated["eval"].shape == faces.shape and translated["grid"].shape[0] == 2


def test_a_second_run_has_its_own_folder_and_seed(tmp_path, peers, monkeypatch):
    data, out = tiny_system(peers, monkeypatch, tmp_path)
    for name in ("tiny", "tiny@2"):
        peers.train_ganzoo(name, data, [1], out)
    config = [json.loads((out / n / "run" / "config.json").read_text()) for n in ("tiny", "tiny@2")]
    assert [c["run"]["seed"] for c in config] == [0, 1]
    first, second = (torch.load(out / n / "cpu1" / "translations.pt") for n in ("tiny", "tiny@2"))
    assert not torch.equal(first["eval"], second["eval"])


def test_a_curve_is_not_extended_on_another_machine(tmp_path, peers, monkeypatch):
    data, out = tiny_system(peers, monkeypatch, tmp_path)
    peers.train_ganzoo("tiny", data, [1], out)
    point = out / "tiny" / "cpu1" / "point.json"
    row = json.loads(point.read_text())
    assert row["machine"] == peers.this_machine()
    point.write_text(json.dumps({**row, "machine": "Other CPU, AVX512"}))
    with pytest.raises(SystemExit) as info:
        peers.train_ganzoo("tiny", data, [1, 3], out)
    message = str(info.value)
    assert message.startswith("error: tiny's points were measured on Other CPU, AVX512")
    assert "use another --out" in message and "\n" not in message
    assert not (out / "tiny" / "cpu3").exists()


def test_an_ema_system_is_scored_with_and_without_its_average(tmp_path, peers, monkeypatch):
    data, out = tiny_system(peers, monkeypatch, tmp_path, {"ema": 0.5})
    peers.train_ganzoo("tiny", data, [1], out)
    averaged, trained = (out / n / "cpu1" for n in ("tiny", "tiny.trained"))
    rows = [json.loads((p / "point.json").read_text()) for p in (averaged, trained)]
    assert rows[0]["images_seen"] == rows[1]["images_seen"] > 0
    first, second = (torch.load(p / "translations.pt") for p in (averaged, trained))
    assert not torch.equal(first["eval"], second["eval"])
    # and the trained weights are the checkpoint's, as a run without EMA would export them
    run = out / "tiny" / "run"
    model = ganzoo.load(str(run), device="cpu")
    peers.load_trained_weights(model, run)
    state = load_file(str(list_checkpoints(run)[-1][1]))
    networks = model.exported()
    assert networks
    for net_name, net in networks.items():
        for key, value in net.state_dict().items():
            assert torch.equal(value, state[f"model/{net_name}.{key}"]), key


@pytest.mark.parametrize("name", ["fastcut@0", "fastcut@two"])
def test_a_bad_run_number_is_one_line(tmp_path, name):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--systems", name, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert (
        result.stderr.strip() == f"error: {name!r}: the run after '@' must be a whole number from 1"
    )
