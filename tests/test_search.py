"""``benchmarks/search.py``: equal-FLOP budgets, the candidates' overrides, and results that
several workers share."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def search(load_benchmark):
    return load_benchmark("search")


def test_overrides_merge_argument_mappings_and_replace_with_empty(search):
    base = {"loss": "wgan:wasserstein-gp", "loss_args": {"gp_lambda": 10.0}, "augment": None}
    assert search.merge(base, {"loss": "least-squares", "loss_args": {}}) == {
        "loss": "least-squares",
        "loss_args": {},
        "augment": None,
    }
    assert search.merge({"loss_args": {"a": 1}}, {"loss_args": {"b": 2}}) == {
        "loss_args": {"a": 1, "b": 2}
    }
    clip = {"loss": "wasserstein-clip", "loss_args": {"clip_value": 0.01}}
    assert search.merge(base, clip)["loss_args"] == {"clip_value": 0.01}
    # every candidate of every experiment names a recipe the model accepts
    from ganzoo.models import make_config

    for experiment in search.EXPERIMENTS.values():
        for extra in experiment["candidates"].values():
            overrides = search.merge(experiment["base"], extra)
            make_config(experiment["model"], overrides=overrides)


def test_budgets_are_equal_flops(search):
    """A candidate that costs more per image (a gradient penalty's double backward, a wider
    network) is counted as more FLOPs per image, so it sees fewer images."""
    tiny = {"size": 32, "generator_args.width": 8, "discriminator_args.width": 8}
    tiny["discriminator_args.norm"] = "layer"  # as a gradient penalty needs
    gp = search.flops_per_image("wgan", {**tiny, "loss": "wasserstein-gp"}, "toon", None)
    clip = search.flops_per_image("wgan", tiny, "toon", None)
    wide = search.flops_per_image("wgan", {**tiny, "discriminator_args.width": 16}, "toon", None)
    assert gp > clip > 0 and wide > clip


def test_rows_from_several_workers_are_kept(search, tmp_path):
    def row(label, images, fid, curve=False):
        return {
            "label": label,
            "images_seen": images,
            "results": {"fid": {"fid": fid}},
            "curve": curve,
        }

    search.add_row(tmp_path, row("ls", 100, 150.0))
    search.add_row(tmp_path, row("ls", 100, 140.0, curve=True))
    search.add_row(tmp_path, row("ls", 200, 130.0, curve=True))
    rows = search.add_row(tmp_path, row("ls", 100, 145.0))  # the same candidate again: replaced
    assert sorted((r["images_seen"], r["results"]["fid"]["fid"], r["curve"]) for r in rows) == [
        (100, 140.0, True),
        (100, 145.0, False),
        (200, 130.0, True),
    ]
    assert search.load_rows(tmp_path) == rows


@pytest.mark.parametrize(
    ("score", "values", "target", "reaches"),
    [
        (("fid", "fid"), [160.0, 140.0, 120.0], 80.0, True),  # falling towards a lower target
        (("fid", "fid"), [120.0, 140.0, 160.0], 80.0, False),  # rising away from it
        (("toon-content", "all"), [0.2, 0.3, 0.4], 0.5, True),  # a score rising to its target
        (("toon-content", "all"), [0.6, 0.55, 0.52], 0.5, False),  # past it already, falling
        (("msssim", "generated"), [0.55, 0.5, 0.45], 0.4, True),  # diversity: lower is better
    ],
)
def test_curves_extend_their_fit_only_towards_the_target(
    search, tmp_path, score, values, target, reaches
):
    metric, key = score
    rows = [
        {"label": "x", "images_seen": 1000 * 2**i, "n": 100, "results": {metric: {key: v}}}
        for i, v in enumerate(values)
    ]
    path = tmp_path / "curve.png"
    text = search.curve_plot("exp", rows, score, path, target)
    assert path.stat().st_size > 0
    assert f"Fit: {metric if key == metric else f'{metric} {key}'} = " in text
    assert (f"reaches {target:g} at about" in text) == reaches
    lower = metric in search.LOWER_IS_BETTER
    past = values[-1] <= target if lower else values[-1] >= target
    assert ("already at or past the target" in text) == past
    if reaches:  # three points on a straight line in log2: the next doubling steps by the same
        images = int(text.split("at about ")[1].split(" images")[0].replace(",", ""))
        step = values[1] - values[0]
        assert images == pytest.approx(4000 * 2 ** ((target - values[-1]) / step), rel=0.01)


def test_each_curve_gets_its_own_section_and_plot(search, tmp_path, monkeypatch):
    monkeypatch.setattr(search, "face_grid", lambda *a: None)  # needs trained runs

    def row(label, images, fid):
        results = {"fid": {"fid": fid}}
        return {
            "label": label,
            "images_seen": images,
            "train_seconds": 1.0,
            "n": 100,
            "results": results,
            "curve": True,
            "overrides": {},
        }

    rows = [row("a", 200, 130.0), row("a", 100, 140.0), row("b", 100, 150.0)]
    run = tmp_path / "run-a"  # a's run logged 50 images a stretch at 10 img/s, then 25 img/s
    run.mkdir()
    logged = [(50, 10), (100, 10), (150, 25), (200, 25), (250, 25)]
    lines = ["step,images,images_per_s", *[f"{i // 10},{i},{v}" for i, v in logged]]
    (run / "metrics.csv").write_text("\n".join(lines) + "\n")
    for r in rows[:2]:
        r["run_dir"] = str(run)
    args = type(
        "Args", (), {"docs": str(tmp_path), "seed": 0, "threads": 1, "n": 100, "target": None}
    )
    experiment = {**search.EXPERIMENTS["dcgan-anime"], "metrics": ["fid"], "score": ("fid", "fid")}
    search.write_docs("exp", experiment, rows, args)
    text = (tmp_path / "exp.md").read_text()
    first, second = text.split("## Curve: a")[1].split("## Curve: b")
    assert "exp-curve.png" in first and "Fit: fid" in first
    # the training time to each stage from the run's log, images past the stage left out
    assert "| a | 100 | 1 | 10 | 140 |" in first and "| a | 200 | 1 | 14 | 130 |" in first
    assert "| b | 100 | 1 | - | 150 |" in second  # its run is gone
    assert "exp-curve-2.png" in second and "Fit:" not in second  # one point: nothing to fit
    assert (tmp_path / "exp-curve.png").stat().st_size > 0
    assert (tmp_path / "exp-curve-2.png").stat().st_size > 0


def test_the_wgan_gp_recipe_is_the_candidate_the_zoo_entries_trained_with(search):
    from ganzoo.models import make_config

    candidate = search.EXPERIMENTS["wgan-anime"]["candidates"][
        "lazy gp augment batch 16 n_critic 2"
    ]
    trained = make_config("wgan", overrides=candidate)["recipe"].to_dict()
    named = make_config("wgan", "gp")["recipe"].to_dict()
    differ = {k for k in trained if trained[k] != named[k]}
    assert differ == {"steps"}  # the recipe adds the length: 256,000 images at batch 16
    assert named["steps"] * named["batch_size"] == 256_000
