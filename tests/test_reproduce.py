"""``benchmarks/reproduce.py``: the comparison harness end to end, at a budget of a few steps.

It trains a DCGAN and the improved translator for one and three steps on 32x32 toon (a budget per
family), scores them and the real-vs-real and source-as-is rows on 16 images and again on 24
(``--final-n``), and writes results.json, report.md, the grids' thumbnails and the model cards'
Results sections. The numbers mean nothing here; the plumbing is the test.
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
MODELS = "real vs real,source as-is,dcgan,improved-gp"


def reproduce(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
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
    return done


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("reproduce")
    out = tmp_path / "out"
    # no wgan budget: only the families of the models asked for need one
    common = ["--budget", "dcgan=16,improved=24", "--size", "32", "-n", "16", "--out", str(out)]
    reproduce(
        *common, "--final-n", "24", "--datasets", "toon", "--models", MODELS, tmp_path=tmp_path
    )
    return tmp_path, out, common


def test_every_model_gets_one_row_with_its_familys_budget(results):
    _, out, _ = results
    rows = json.loads((out / "results.json").read_text())
    assert [r["label"] for r in rows] == ["real vs real", "source as-is", "dcgan", "improved-gp"]
    by_label = {r["label"]: r for r in rows}
    # each family its own number of target images, whatever the batch size
    assert (by_label["dcgan"]["steps"], by_label["dcgan"]["batch"]) == (1, 16)
    assert (by_label["improved-gp"]["steps"], by_label["improved-gp"]["batch"]) == (3, 8)
    assert [by_label[m]["budget"] for m in ("dcgan", "improved-gp")] == [16, 24]
    for baseline in ("real vs real", "source as-is"):
        assert by_label[baseline]["steps"] == 0 and by_label[baseline]["grid"] is None
    names = {res["name"] for res in by_label["improved-gp"]["results"]}
    assert {"toon-modes", "toon-fid", "swd", "msssim", "toon-content"} <= names
    # the unconditional model and the unchanged source get no content score
    assert "toon-content" not in {res["name"] for res in by_label["dcgan"]["results"]}
    assert "toon-content" not in {res["name"] for res in by_label["source as-is"]["results"]}


def test_trained_rows_record_their_training_cpu_seconds(results):
    _, out, _ = results
    rows = {r["label"]: r for r in json.loads((out / "results.json").read_text())}
    for model in ("dcgan", "improved-gp"):
        assert rows[model]["train_cpu_seconds"] > 0
    assert rows["real vs real"]["train_cpu_seconds"] == 0


def test_every_row_is_scored_again_at_the_final_n(results):
    _, out, _ = results
    for row in json.loads((out / "results.json").read_text()):
        scores = {res["name"]: res for res in row["results"]}
        assert (scores["toon-fid"]["n"], scores["toon-fid"]["n_real"]) == (16, 16)
        assert (scores["toon-fid@final"]["n"], scores["toon-fid@final"]["n_real"]) == (24, 24)
        assert {"swd", "msssim"} <= set(scores)


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
    header = next(line for line in report.splitlines() if line.startswith("| model |"))
    assert header.startswith("| model | steps x batch | train s | train CPU s | ")
    for column in ("toon-fid:toon-fid", "swd:avg", "msssim:generated", "toon-fid@final:toon-fid"):
        assert f" {column} |" in header
    assert "| real vs real | - | - | - |" in report and "| source as-is | - | - | - |" in report
    assert "| dcgan | 1 x 16 |" in report and "| improved-gp | 3 x 8 |" in report
    assert "Budget (target images seen per model, by family): dcgan 16, improved 24;" in report
    assert "real vs real, source as-is, dcgan, improved-gp: 24 generated against 24 real" in report
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
        assert "| improved-gp | 3 x 8 |" in text and "| dcgan | 1 x 16 |" in text
        assert "| real vs real | - | - | - |" in text and "toon-fid@final:toon-fid" in text
    assert "## Results" not in (cards / "improved-anime.md").read_text()


def test_a_run_trained_elsewhere_is_a_row_with_its_own_training_figures(results, tmp_path):
    """``--run LABEL=RUN_DIR`` scores a finished run as it stands (say, a long run resumed by
    hand), with the figures a zoo card would give it, and leaves the run's own card alone."""
    from ganzoo.hub.zoo_entry import active_seconds, metrics_rows, wall_seconds

    tmp, out, _ = results
    run_dir = out / "runs" / "improved-gp-toon"
    card_before = (run_dir / "export" / "README.md").read_text()
    other = tmp_path / "out"
    args = ["--models", "real vs real", "--datasets", "toon", "-n", "16", "--out", str(other)]
    reproduce(*args, "--run", f"improved (long run)={run_dir}", tmp_path=tmp)
    rows = {r["label"]: r for r in json.loads((other / "results.json").read_text())}
    assert list(rows) == ["real vs real", "improved (long run)"]
    row = rows["improved (long run)"]
    logged = metrics_rows(run_dir)
    assert (row["family"], row["steps"], row["batch"], row["images_seen"]) == ("improved", 3, 8, 24)
    assert row["train_seconds"] == wall_seconds(logged)
    assert row["train_cpu_seconds"] == active_seconds(logged)
    assert not row["reverse"] and (other / "grids" / "improved-gp-toon.jpg").is_file()
    # a translator: its translations of the source set are scored, content included
    assert {"toon-fid", "toon-content"} <= {res["name"] for res in row["results"]}
    assert "| improved (long run) | 3 x 8 |" in (other / "report.md").read_text()
    assert (run_dir / "export" / "README.md").read_text() == card_before


def test_an_empty_models_list_leaves_the_run_rows_alone(load_benchmark):
    script = load_benchmark("reproduce")
    parser = script.make_parser()
    args = parser.parse_args(["--models", "", "--budget", "16"])
    script.check_choices(parser, args)  # no error: no model rows, no budget needed
    assert script.model_rows(args) == []
    args = parser.parse_args(["--models", "dcgan,,real vs real"])
    assert script.model_rows(args) == ["dcgan", "real vs real"]


@pytest.mark.parametrize(
    ("run", "message"),
    [
        ("nowhere", "give LABEL=RUN_DIR"),
        ("long=/no/such/run", "/no/such/run is not a finished run"),
        ("dcgan (zoo)=/no/such/run", "'dcgan (zoo)' is a row of its own"),
    ],
)
def test_a_bad_run_is_one_error_line(tmp_path, run, message):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--run", run, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert message in done.stderr.strip().splitlines()[-1]


def test_an_unknown_model_is_one_error_line_naming_the_known_ones(tmp_path):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--models", "dcgan,gan", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].endswith(
        "unknown models gan; known: real vs real, source as-is, dcgan, wgan (clip), wgan-gp, "
        "improved (clip), improved-gp, dcgan (zoo), wgan (zoo), improved (zoo)"
    )
    assert not (tmp_path / "results.json").exists()


def test_budget_takes_one_number_or_one_per_family(load_benchmark):
    parse = load_benchmark("reproduce").parse_budget
    assert parse("20000") == {"dcgan": 20000, "wgan": 20000, "improved": 20000}
    assert parse("dcgan=256000,wgan=256000,improved=25600") == {
        "dcgan": 256000,
        "wgan": 256000,
        "improved": 25600,
    }
    assert parse("12800,improved=25600") == {"dcgan": 12800, "wgan": 12800, "improved": 25600}
    assert parse("dcgan=16") == {"dcgan": 16}  # enough when only dcgan is asked for


@pytest.mark.parametrize(
    "budget, message",
    [
        ("gan=5", "unknown model family 'gan'; known: dcgan, wgan, improved"),
        ("dcgan=many", "'dcgan=many' is not a positive number of images"),
        ("dcgan=0", "'dcgan=0' is not a positive number of images"),
        ("dcgan=5,dcgan=6", "dcgan is given twice"),
        ("dcgan=5", "--budget gives no budget for wgan, improved"),
    ],
)
def test_a_bad_budget_is_one_error_line(tmp_path, budget, message):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--budget", budget, "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert message in done.stderr.splitlines()[-1]
    assert not (tmp_path / "out").exists()


def test_reused_runs_keep_the_seconds_they_recorded(results):
    tmp, out, common = results
    before = {r["label"]: r for r in json.loads((out / "results.json").read_text())}
    again = ["--reuse", "--final-n", "24", "--datasets", "toon", "--models", "dcgan"]
    done = reproduce(*common, *again, tmp_path=tmp)  # the same row as before: order-proof
    assert "reusing" in done.stderr and "training dcgan" not in done.stderr
    after = {r["label"]: r for r in json.loads((out / "results.json").read_text())}
    for key in ("train_seconds", "train_cpu_seconds", "steps", "grid"):
        assert after["dcgan"][key] == before["dcgan"][key]


def test_the_final_note_says_when_the_floor_has_no_images_left(load_benchmark):
    script = load_benchmark("reproduce")
    result = {"name": "fid@final", "values": {"fid": 50.0}, "protocol": "", "n": 5000}
    model = {"label": "dcgan", "results": [{**result, "n_real": 5000}]}
    floor = {"label": "real vs real", "results": [], "final_n": 5000}
    (note,) = script.final_note([floor, model])[1:]
    assert "dcgan: 5000 generated against 5000 real images" in note
    assert "real vs real: none (the real images scored against are the whole set)" in note


def test_the_final_note_says_which_rows_were_not_scored_at_the_larger_n(load_benchmark):
    script = load_benchmark("reproduce")
    result = {"name": "fid@final", "values": {"fid": 50.0}, "protocol": "", "n": 5000}
    model = {"label": "dcgan", "results": [{**result, "n_real": 5000}], "final_n": 5000}
    floor = {"label": "real vs real", "results": []}  # scored without --final-n
    wgan = {"label": "wgan", "results": []}
    (note,) = script.final_note([floor, model, wgan])[1:]
    assert "real vs real, wgan: not scored at the larger n" in note
    assert "whole set" not in note
    assert script.final_note([floor, wgan]) == []


def test_zoo_rows_score_the_shipped_entries_with_their_cards_figures(tmp_path):
    from ganzoo.zoo import find_zoo_entry

    entry = find_zoo_entry("improved-toon")
    card_before = entry.card_path.read_text()
    trained = entry.metadata["ganzoo"]["training"]
    out = tmp_path / "out"
    models = "real vs real,dcgan (zoo),improved (zoo)"
    args = ["--zoo", "--models", models, "--datasets", "toon", "-n", "16", "--out", str(out)]
    done = reproduce(*args, tmp_path=tmp_path)
    # no dcgan-toon ships: that row is left out, and said so
    assert "no bundled zoo entry dcgan-toon" in done.stderr and "training" not in done.stderr
    rows = {r["label"]: r for r in json.loads((out / "results.json").read_text())}
    assert list(rows) == ["real vs real", "improved (zoo)"]
    row = rows["improved (zoo)"]
    assert (row["entry"], row["budget"], row["steps"]) == (
        "improved-toon",
        trained["images_seen"],
        trained["steps"],
    )
    assert row["train_seconds"] == trained["seconds"]
    assert {"toon-fid", "toon-content"} <= {res["name"] for res in row["results"]}
    assert (out / "grids" / "improved-toon.jpg").is_file()
    assert (
        f"| improved (zoo) | {trained['steps']} x {trained['batch_size']} |"
        in (out / "report.md").read_text()
    )
    assert entry.card_path.read_text() == card_before  # the shipped card is not the report's


def test_a_zoo_entry_with_no_picture_is_one_error_line(load_benchmark, tmp_path, monkeypatch):
    import dataclasses

    from ganzoo.zoo import find_zoo_entry

    script = load_benchmark("reproduce")
    entry = find_zoo_entry("improved-toon")
    bare = tmp_path / "entry"
    shutil.copytree(entry.folder, bare, ignore=shutil.ignore_patterns("sample.png"))
    monkeypatch.setattr(
        script, "zoo_entry", lambda *_: (dataclasses.replace(entry, folder=bare), False)
    )
    args = script.make_parser().parse_args(["--zoo", "-n", "16", "--device", "cpu"])
    with pytest.raises(SystemExit) as stopped:
        script.zoo_row("improved (zoo)", "toon", args, tmp_path / "out")
    assert str(stopped.value).startswith("error: zoo entry improved-toon has no sample.png; ")


def test_a_translator_with_no_entry_into_a_dataset_is_scored_backwards(
    load_benchmark, tmp_path, monkeypatch
):
    """On CelebA the zoo has no translator into it, but improved-anime's generator back from
    anime is one. Here: improved-toon (toon/photo -> toon) run back, on a toon/photo table."""
    script = load_benchmark("reproduce")
    monkeypatch.setitem(script.DATASETS, "toon/photo", ("toon/photo", "toon", ["swd"], []))
    args = script.make_parser().parse_args(["--zoo", "-n", "16", "--device", "cpu"])
    args.inception = set()
    row = script.make_row("improved (zoo)", "toon/photo", args, tmp_path)
    assert (row["entry"], row["reverse"]) == ("improved-toon", True)
    assert "target-to-source translations of 16 images of toon" in row["results"][0]["protocol"]
    # the grid: 12 toon faces, each beside its translation back to a photo, 6 images a row
    grid = Image.open(tmp_path / row["grid"])
    assert grid.width > grid.height and (tmp_path / row["grid"]).with_suffix(".jpg").is_file()
    (line,) = [x for x in script.table([row], short=True) if x.startswith("| improved")]
    assert line.startswith("| improved (zoo): improved-toon backwards | ")
    # an unconditional family is never run backwards
    assert script.zoo_entry("dcgan", "toon/photo") == (None, False)
