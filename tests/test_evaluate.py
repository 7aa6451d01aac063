"""``ganzoo.evaluate``: drawing the images, running metrics by name, reporting, model cards.

Models are stand-ins (or an untrained tiny DCGAN) and metrics are the cheap ones, so that these
tests check the plumbing in seconds; tests/test_metrics.py checks the numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ganzoo
import ganzoo.evaluate as ev
from ganzoo.cli import main
from ganzoo.data.toon import toon_anime
from ganzoo.errors import GanzooError
from ganzoo.metrics import inception_weights
from ganzoo.metrics.base import Metric, MetricResult

SIZE = (32, 32)


pytestmark = pytest.mark.usefixtures("one_torch_thread", "private_caches")


class Sampler:
    """An unconditional stand-in: toon faces of another seed, chosen by the sample seed."""

    task = "unconditional"
    image_size = SIZE

    def __init__(self):
        self.faces = toon_anime(size=SIZE, length=1000, seed=99)
        self.calls = []

    def sample(self, n, seed=None):
        self.calls.append((n, seed))
        index = torch.randint(0, 1000, (n,), generator=torch.Generator().manual_seed(seed))
        return self.faces.render_batch(index.numpy()).float() / 255


class Translator:
    """A translation stand-in that returns its inputs, trained (its config says) into toon."""

    task = "translation"
    image_size = SIZE
    config = {"training": {"data": "toon", "source": "toon/photo"}}

    def __init__(self):
        self.ways = []

    def translate(self, images, reverse=False):
        assert images.dtype == torch.float32 and images.max() <= 1
        self.ways.append(reverse)
        return images


class Spy(Metric):
    name = "spy"

    def compute(self, fake, real, *, context):
        self.seen = fake, real, context
        return MetricResult(self.name, {"n": float(len(fake))}, "spy", context.data)


@pytest.fixture
def sampler(monkeypatch):
    model = Sampler()
    monkeypatch.setattr(ganzoo, "load", lambda source, device=None: model)
    return model


def test_unconditional_evaluation_is_deterministic(sampler):
    results = ev.evaluate("stand-in", "toon", ["swd", "msssim"], n=40, seed=1, device="cpu")
    assert [r.name for r in results] == ["swd", "msssim"]
    assert set(results[0].values) == {"32px", "16px", "avg"}
    assert set(results[1].values) == {"generated", "real"}
    assert all("40 generated" in r.protocol or "20 random" in r.protocol for r in results)
    assert all("seed 1" in r.protocol and r.data == "toon" for r in results)
    assert all("real: 40 of the 20000 images of toon at 32x32" in r.protocol for r in results)
    assert sum(n for n, _ in sampler.calls) == 40
    again = ev.evaluate("stand-in", "toon", ["swd", "msssim"], n=40, seed=1, device="cpu")
    assert [r.as_dict() for r in again] == [r.as_dict() for r in results]
    other = ev.evaluate("stand-in", "toon", ["swd"], n=40, seed=2, device="cpu")
    assert other[0].values != results[0].values

    table = ev.format_results(results)
    assert "swd/avg" in table and "msssim/generated" in table
    assert "swd: 40 generated vs 40 real" in table


def test_samples_in_batches_with_derived_seeds(sampler):
    images = ev.sample_images(sampler, 150, seed=5)
    assert images.dtype == torch.uint8 and images.shape == (150, 3, *SIZE)
    assert [n for n, _ in sampler.calls] == [64, 64, 22]
    assert len({s for _, s in sampler.calls}) == 3
    assert torch.equal(ev.sample_images(sampler, 150, seed=5), images)


def test_translator_gets_source_images_and_their_attributes(monkeypatch):
    monkeypatch.setattr(ganzoo, "load", lambda source, device=None: Translator())
    spy = Spy()
    monkeypatch.setattr(ev, "load_metrics", lambda names: [spy])
    ev.evaluate("stand-in", "toon", ["spy"], n=24, seed=0, device="cpu")
    fake, real, context = spy.seen
    source = context.source_dataset
    assert source.style == "photo" and context.real_dataset.style == "anime"
    assert torch.equal(fake, context.source)  # the identity translator gave its inputs back
    assert len(real) == 24 and not torch.equal(real, fake)
    # the attributes belong to the very images that were translated
    index = ev.draw_indices(len(source), 24, ev.derive_seed(0, ev.SOURCE_STREAM))
    assert torch.equal(context.source, source.render_batch(index))
    assert np.array_equal(context.source_attributes, source.attribute_array()[index])


def test_reverse_scores_the_way_back_against_the_source_domain(monkeypatch):
    translator = Translator()
    monkeypatch.setattr(ganzoo, "load", lambda source, device=None: translator)
    spy = Spy()
    monkeypatch.setattr(ev, "load_metrics", lambda names: [spy])
    results = ev.evaluate("stand-in", "toon/photo", ["spy"], n=24, device="cpu", reverse=True)
    fake, real, context = spy.seen
    # inputs: the data it was trained into (its config's toon, anime style); real: the photos
    assert context.source_dataset.style == "anime" and context.real_dataset.style == "photo"
    assert torch.equal(fake, context.source) and set(translator.ways) == {True}
    assert "target-to-source translations of 24 images of toon" in results[0].protocol
    ev.evaluate("stand-in", "toon", ["spy"], n=8, device="cpu")
    assert translator.ways[-1] is False  # the forward direction by default


def test_reverse_is_for_translators_only(sampler, tmp_path):
    with pytest.raises(
        GanzooError,
        match=r"^--reverse is for translators; stand-in is not one \(task: unconditional\)$",
    ):
        ev.evaluate("stand-in", "toon", ["swd"], n=8, device="cpu", reverse=True)
    with pytest.raises(GanzooError, match="--reverse is for translators; toon names images"):
        ev.evaluate("toon", "toon", ["swd"], n=8, device="cpu", reverse=True)
    assert sampler.calls == []


def test_reverse_results_stay_out_of_the_card(tmp_path):
    gan = ganzoo.create(
        "improved", size=32, generator_args={"width": 8}, discriminator_args={"width": 8}
    )
    folder = Path(gan.save_pretrained(str(tmp_path / "model"), data="toon"))
    card = (folder / "README.md").read_text()
    results = ev.evaluate(
        str(folder), "toon/photo", ["swd"], n=16, device="cpu", reverse=True, source_data="toon"
    )
    assert results[0].data == "toon/photo" and "target-to-source" in results[0].protocol
    assert (folder / "README.md").read_text() == card
    ev.evaluate(str(folder), "toon", ["swd"], n=16, device="cpu")
    assert "| swd/avg |" in (folder / "README.md").read_text()


def test_translator_on_toon_with_the_shipped_classifier(monkeypatch):
    from ganzoo.data import toon_classifier

    if not toon_classifier.WEIGHTS.is_file():
        pytest.skip("the toon classifier's weights are not shipped in this checkout yet")
    monkeypatch.setattr(ganzoo, "load", lambda source, device=None: Translator())
    names = ["toon-content", "toon-modes", "toon-fid"]
    content, modes, fid = ev.evaluate("stand-in", "toon", names, n=64, device="cpu")
    # the identity "translator" keeps every attribute, in the photo style
    assert content.values["all"] == content.values["source_all"] >= 0.9
    assert modes.values["modes"] > 50 and fid.values["toon-fid"] > 0
    assert "64 source images translated" in content.protocol


def test_unknown_metric_is_one_line_listing_the_known(monkeypatch):
    monkeypatch.setattr(ganzoo, "load", lambda *a, **k: pytest.fail("loaded a model"))
    with pytest.raises(GanzooError) as err:
        ev.evaluate("stand-in", "toon", ["swd", "nope"], n=8)
    message = str(err.value)
    assert "\n" not in message and "unknown metric 'nope'" in message
    for name in ("fid", "kid", "is", "swd", "msssim", "toon-modes", "toon-content", "toon-fid"):
        assert name in message


def test_missing_requirements_fail_before_sampling(sampler, tmp_path, monkeypatch):
    monkeypatch.setattr(inception_weights, "wheel_file", lambda: None)
    with pytest.raises(GanzooError, match=r"ganzoo-core\[fid\]"):
        ev.evaluate("stand-in", "toon", ["swd", "fid"], n=8, device="cpu")
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(4):
        Image.new("RGB", (40, 40), (i * 50, 0, 0)).save(folder / f"{i}.png")
    with pytest.raises(GanzooError, match="toon-modes needs toon data"):
        ev.evaluate("stand-in", str(folder), ["toon-modes"], n=8, device="cpu")
    with pytest.raises(GanzooError, match="scores translators"):
        ev.evaluate("stand-in", "toon", ["toon-content"], n=8, device="cpu")
    assert sampler.calls == []


@pytest.fixture
def model_folder(tmp_path):
    gan = ganzoo.create(
        "dcgan", size=32, generator_args={"width": 8}, discriminator_args={"width": 8}
    )
    return gan.save_pretrained(str(tmp_path / "model"), data="toon")


def test_cli_eval_no_card_leaves_the_card_as_it_is(model_folder, capsys):
    folder = Path(model_folder)
    card = (folder / "README.md").read_text()
    args = ["eval", model_folder, "--data", "toon", "--metrics", "swd", "-n", "16"]
    main([*args, "--device", "cpu", "--seed", "1", "--no-card"])
    assert "swd/avg" in capsys.readouterr().out
    assert (folder / "README.md").read_text() == card
    main([*args, "--device", "cpu"])
    assert "| swd/avg |" in (folder / "README.md").read_text()


def test_results_go_into_the_model_card(model_folder):
    results = ev.evaluate(model_folder, "toon", ["swd"], n=16, device="cpu")
    text = (Path(model_folder) / "README.md").read_text()
    assert "| swd/avg |" in text and results[0].protocol.split(";")[0] in text
    rows = ev.card_rows(
        [MetricResult("fid", {"fid": 1.0}, "p"), MetricResult("kid", {"std": 2.0}, "q")]
    )
    assert [r["name"] for r in rows] == ["fid", "kid/std"]
    # a second evaluation replaces the numbers instead of adding rows
    ev.evaluate(model_folder, "toon", ["swd"], n=16, seed=1, device="cpu")
    text = (Path(model_folder) / "README.md").read_text()
    assert text.count("| swd/avg |") == 1 and "seed 1" in text


def test_card_folder_of_runs_folders_and_names(tmp_path):
    run = tmp_path / "run"
    (run / "export").mkdir(parents=True)
    (run / "export" / "README.md").write_text("card")
    assert ev._card_folder(str(run)) == run
    assert ev._card_folder("dcgan-anime") is None
    (tmp_path / "bare").mkdir()
    with pytest.warns(UserWarning, match="no model card"):
        assert ev._card_folder(str(tmp_path / "bare")) is None


def test_cli_eval_json_and_errors(model_folder, capsys):
    main(
        [
            "eval",
            model_folder,
            "--data",
            "toon",
            "--metrics",
            "swd,msssim",
            "-n",
            "16",
            "--device",
            "cpu",
            "--json",
        ]
    )
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["swd", "msssim"]
    fields = {"name", "values", "protocol", "data", "n", "n_real", "real", "size", "resize"}
    assert all(set(r) == fields for r in rows)
    assert rows[0]["n"] == rows[0]["n_real"] == 16 and rows[0]["size"] == "32x32"
    assert rows[0]["real"].startswith("16 of the ") and "299x299" in rows[0]["resize"]
    with pytest.raises(SystemExit) as exit_:
        main(["eval", model_folder, "--data", "toon", "--metrics", "nope"])
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: unknown metric 'nope'; known: ") and err.count("\n") == 1


def test_eval_scores_a_folder_of_images_real_against_real(tmp_path, capsys, monkeypatch):
    """A folder is scored as it is: against itself FID is ~0, against another set it is not."""
    from ganzoo.metrics import inception

    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    weights = inception.random_inception_weights(tmp_path / "random.pth")
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(weights))
    faces = toon_anime(size=(32, 32), length=1000).render_batch(range(24))
    for name, images in (("a", faces[:12]), ("b", faces[12:])):
        (tmp_path / name).mkdir()
        for i, image in enumerate(images):
            Image.fromarray(image.permute(1, 2, 0).numpy()).save(tmp_path / name / f"{i}.png")
    args = ["--metrics", "fid,kid", "--size", "32", "--device", "cpu", "--json"]
    main(["eval", str(tmp_path / "a"), "--data", str(tmp_path / "a"), *args])
    same = json.loads(capsys.readouterr().out)
    main(["eval", str(tmp_path / "a"), "--data", str(tmp_path / "b"), *args])
    other = json.loads(capsys.readouterr().out)
    assert abs(same[0]["values"]["fid"]) < 1e-3 < other[0]["values"]["fid"]
    assert same[0]["n"] == same[0]["n_real"] == 12 and same[0]["size"] == "32x32"
    assert "biased upward" in same[0]["protocol"] and "12 of the 12 images" in same[0]["real"]
    assert [r["name"] for r in other] == ["fid", "kid"]
    with pytest.raises(SystemExit):
        main(["eval", str(tmp_path / "a"), "--data", str(tmp_path / "b"), "--size", "x"])


def test_source_data_is_one_flag_in_run_and_eval(monkeypatch, capsys):
    """A translator's source domain is --source-data in both commands; run's old --source still
    works, hidden, and says it is the old spelling."""
    import ganzoo.training.train

    given = {}
    monkeypatch.setattr(
        ganzoo.training.train, "train", lambda options: given.update(run=options.source)
    )
    monkeypatch.setattr(ev, "evaluate", lambda *a, **k: given.update(eval=k["source_data"]) or [])
    main(["run", "improved", "--data", "toon", "--source-data", "toon/anime"])
    main(["eval", "some-model", "--data", "toon", "--source-data", "toon/anime", "--json"])
    assert given == {"run": "toon/anime", "eval": "toon/anime"}
    capsys.readouterr()
    with pytest.warns(UserWarning, match="--source is now spelled --source-data"):
        main(["run", "improved", "--data", "toon", "--source", "toon/photo"])
    assert given["run"] == "toon/photo"
    with pytest.raises(SystemExit) as exit_:
        main(["run", "improved", "--data", "toon", "--source", "a", "--source-data", "b"])
    assert exit_.value.code == 2 and "give one of them" in capsys.readouterr().err
    main(["run", "--help"])
    text = capsys.readouterr().out
    assert "--source-data" in text and "--source " not in text
