"""Loading and publishing: Hub-ready folders, run directories, the zoo, the Hub cache, pushes.

Everything runs offline: the Hub is a pre-populated Hugging Face cache in tmp_path, read by the
real ``hf_hub_download`` with HF_HUB_OFFLINE=1, and pushes stop at the ``HfApi`` boundary.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path

import pytest
import torch
from huggingface_hub import CommitInfo, HfApi, ModelCard, RepoUrl
from huggingface_hub import constants as hf_constants
from huggingface_hub.errors import LocalTokenNotFoundError
from safetensors import safe_open
from safetensors.torch import save_file

import ganzoo
from ganzoo.errors import GanzooError
from ganzoo.hub import (
    export_run,
    load,
    push_to_hub,
    save_pretrained,
    update_card_metrics,
)
from ganzoo.hub.export import PREVIEW_INPUTS
from ganzoo.io.checkpoints import atomic_save, save_checkpoint
from ganzoo.io.images import save_preview_grid
from ganzoo.models import build, make_config

TINY = {"size": 32, "generator_args": {"width": 8}, "discriminator_args": {"width": 8}}
COMMIT_A = "a" * 40
COMMIT_B = "b" * 40


# ---------------------------------------------------------------------------------------------
# helpers


def tiny_gan(seed: int = 0, training: bool = False, model: str = "dcgan"):
    """A small dcgan (or improved) with weights drawn from ``seed``."""
    torch.manual_seed(seed)
    return build(make_config(model, overrides=TINY), training=training)


def same_samples(a, b) -> bool:
    return torch.equal(a.eval().sample(3, seed=1), b.eval().sample(3, seed=1))


def publish_to_cache(cache: Path, repo_id: str, folder: Path, commit: str, main: bool) -> None:
    """What ``hf_hub_download`` leaves in the cache: blobs by hash, snapshot links, refs/main."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True, exist_ok=True)
    for path in folder.iterdir():
        data = path.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        (snapshot / path.name).symlink_to(os.path.relpath(blob, snapshot))
    if main:
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / "main").write_text(commit)


def one_line_error(excinfo) -> str:
    message = str(excinfo.value)
    assert isinstance(excinfo.value, GanzooError)
    assert "\n" not in message and message
    return message


def write_zoo_card(folder: Path, name: str, **block) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    fields = {"entry": name, "model": "dcgan", "data": "toon", "train": "ganzoo run dcgan", **block}
    lines = "".join(f"  {key}: {json.dumps(value)}\n" for key, value in fields.items())
    path = folder / f"{name}.md"
    path.write_text(f"---\nlibrary_name: ganzoo\nganzoo:\n{lines}---\n\n# {name}\n\nA card.\n")
    return path


def make_run(root: Path, gans: dict[int, object]) -> Path:
    """A run directory as the training engine writes it: config.json with its run block, and
    checkpoints/step-N.safetensors holding model/, optimizer and RNG tensors."""
    root.mkdir(parents=True)
    (root / "samples").mkdir()
    first = next(iter(gans.values()))
    config = {**first.config, "run": {"data": "toon", "seed": 0, "data_root": "/private/path"}}
    (root / "config.json").write_text(json.dumps(config))
    for step, gan in gans.items():
        optimizers = {name: opt.state_dict() for name, opt in gan.configure_optimizers().items()}
        state = {"model": gan.state_dict(), "optimizers": optimizers, "rng": torch.get_rng_state()}
        save_checkpoint(root / "checkpoints" / f"step-{step}.safetensors", step, state)
    return root


@pytest.fixture
def hub_cache(tmp_path, monkeypatch) -> Path:
    """An offline Hugging Face cache in tmp_path. huggingface_hub reads HF_HOME, HF_HUB_CACHE and
    HF_HUB_OFFLINE into ``constants`` when it is imported, so the constants are patched too."""
    home = tmp_path / "hf"
    cache = home / "hub"
    cache.mkdir(parents=True)
    for key, value in (("HF_HOME", home), ("HF_HUB_CACHE", cache), ("HF_HUB_OFFLINE", "1")):
        monkeypatch.setenv(key, str(value))
    monkeypatch.setattr(hf_constants, "HF_HOME", str(home))
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hf_constants, "HF_TOKEN_PATH", str(home / "token"))
    return cache


@pytest.fixture
def two_commits(tmp_path, hub_cache):
    """org/tiny on the "Hub" with two commits: A (refs/main) and B, holding different weights."""
    gans = {}
    for commit, seed, main in ((COMMIT_A, 1, True), (COMMIT_B, 2, False)):
        gans[commit] = tiny_gan(seed)
        folder = save_pretrained(gans[commit], tmp_path / f"export-{seed}", data="toon")
        publish_to_cache(hub_cache, "org/tiny", folder, commit, main)
    return gans


@pytest.fixture
def saved(tmp_path):
    gan = tiny_gan(3)
    return gan, save_pretrained(gan, tmp_path / "saved", data="toon")


@pytest.fixture
def pushes(monkeypatch):
    """HfApi.create_repo and upload_folder replaced by recorders; uploads are snapshotted because
    the staging folder is temporary."""
    calls: dict[str, object] = {}

    def create_repo(self, repo_id, **kwargs):
        calls["create_repo"] = {"repo_id": repo_id, **kwargs}
        return RepoUrl(f"https://huggingface.co/{repo_id}")

    def upload_folder(self, *, repo_id, folder_path, **kwargs):
        folder = Path(folder_path)
        calls["upload_folder"] = {"repo_id": repo_id, **kwargs}
        calls["files"] = {p.name: p.read_bytes() for p in folder.iterdir()}
        return CommitInfo(
            commit_url=f"https://huggingface.co/{repo_id}/commit/{'c' * 40}",
            commit_message=kwargs.get("commit_message", ""),
            commit_description="",
            oid="c" * 40,
        )

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    return calls


# ---------------------------------------------------------------------------------------------
# save_pretrained


def test_save_pretrained_round_trip(saved):
    gan, folder = saved
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md",
        "config.json",
        "model.safetensors",
    ]
    config = json.loads((folder / "config.json").read_text())
    for key in ("ganzoo_version", "model", "plugin", "plugin_version", "components", "recipe"):
        assert config[key] == gan.config[key]
    assert config["image_size"] == [32, 32] and config["channels"] == 3
    assert config["normalization"]["range"] == [-1, 1]
    assert config["training"] == {"data": "toon"}
    with safe_open(str(folder / "model.safetensors"), framework="pt") as handle:
        keys = list(handle.keys())
        assert handle.metadata() == {"format": "pt", "ganzoo_version": ganzoo.__version__}
    # only the exported generator, namespaced; never the discriminator
    assert keys and all(k.startswith("generator.") for k in keys)
    assert set(keys) == {f"generator.{k}" for k in gan.generator.state_dict()}

    loaded = ganzoo.load(str(folder), device="cpu")
    assert not loaded.training and loaded.device.type == "cpu"
    assert not hasattr(loaded, "discriminator")
    assert same_samples(gan, loaded)


def test_the_same_weights_are_the_same_bytes(tmp_path):
    # safetensors writes its metadata in hash order; ganzoo's files put it in key order
    tensors = {"w": torch.arange(6.0).reshape(2, 3), "b": torch.zeros(2, dtype=torch.int64)}
    metadata = {f"key{i}": f'value "{i}" \u00e9' for i in range(8)}
    files = [tmp_path / f"{i}.safetensors" for i in range(6)]
    for path in files:
        atomic_save(tensors, metadata, path)
    assert len({path.read_bytes() for path in files}) == 1
    with safe_open(str(files[0]), framework="pt") as handle:
        assert handle.metadata() == metadata
        assert torch.equal(handle.get_tensor("w"), tensors["w"])


def test_save_pretrained_refuses_a_non_empty_folder(saved):
    gan, folder = saved
    before = (folder / "model.safetensors").read_bytes()
    with pytest.raises(GanzooError) as excinfo:
        save_pretrained(tiny_gan(9), folder)
    assert "--force" in one_line_error(excinfo)
    assert (folder / "model.safetensors").read_bytes() == before
    save_pretrained(tiny_gan(9), folder, force=True)
    assert (folder / "model.safetensors").read_bytes() != before
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_model_card(tmp_path):
    grid = tmp_path / "grid.png"
    grid.write_bytes(b"\x89PNG fake grid")
    metrics = [
        {"name": "swd", "value": 0.25, "protocol": {"n": 1000, "size": 32}},
        {"name": "msssim", "values": {"a": 0.3, "b": 0.4}, "protocol": "1000 pairs"},
        {"name": "fid", "values": {"fid": 12.5}, "protocol": "inception", "data": "toon"},
    ]
    folder = save_pretrained(
        tiny_gan(), tmp_path / "out", sample_grid=grid, metrics=metrics, data="toon"
    )
    assert (folder / "sample.png").read_bytes() == grid.read_bytes()
    card = ModelCard.load(folder / "README.md")
    assert card.data.library_name == "ganzoo"
    assert card.data.license == "mit"
    assert card.data.datasets == ["toon"]
    assert card.data.pipeline_tag == "unconditional-image-generation"
    assert {"ganzoo", "gan", "dcgan"} <= set(card.data.tags)
    assert card.data.metrics == ["fid", "msssim/a", "msssim/b", "swd"]
    swd = next(r for r in card.data.eval_results if r.metric_type == "swd")
    assert swd.metric_value == 0.25 and swd.metric_args == {"protocol": {"n": 1000, "size": 32}}
    text = card.text
    assert "![samples](sample.png)" in text
    assert "Radford" in text  # the paper
    assert 'ganzoo.load("hf://ORG/NAME")' in text  # usage; push fills in the repository
    assert "## Training recipe" in text and "| optimizer | adam |" in text
    assert "| swd | 0.25 | toon | n=1000, size=32 |" in text
    assert "| fid | 12.5 | toon | inception |" in text and "| msssim/b | 0.4 |" in text
    assert "## Limitations" in text


def test_translator_card_names_both_domains(tmp_path):
    folder = save_pretrained(tiny_gan(model="improved"), tmp_path / "out", data="anime")
    card = ModelCard.load(folder / "README.md")
    assert card.data.pipeline_tag == "image-to-image"
    assert len(card.data.datasets) == 2  # celeba (source) and anime (target)
    assert card.data.license == "other"  # CelebA's terms travel with the weights
    assert "CelebA face photos (source domain)" in card.text
    assert "gan.translate(" in card.text


def test_update_card_metrics_merges_results(saved, tmp_path):
    _, folder = saved
    update_card_metrics(folder, [{"name": "swd", "value": 0.5, "protocol": "n=100"}])
    update_card_metrics(folder, [{"name": "kid", "value": 0.01, "protocol": "n=100"}])
    update_card_metrics(folder, [{"name": "swd", "value": 0.4, "protocol": "n=200"}])
    card = ModelCard.load(folder / "README.md")
    values = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert values == {"swd": 0.4, "kid": 0.01}
    assert card.data.metrics == ["kid", "swd"]
    assert "| swd | 0.4 | toon | n=200 |" in card.text and "| swd | 0.5 " not in card.text
    assert card.text.count("## Metrics") == 1
    # the weights are untouched and still load
    load(folder, device="cpu")
    with pytest.raises(GanzooError):
        update_card_metrics(tmp_path, [{"name": "swd", "value": 1.0}])


# ---------------------------------------------------------------------------------------------
# the Hub cache, revisions, the zoo


def test_load_from_the_hub_cache_offline(two_commits):
    gan = load("hf://org/tiny", device="cpu")  # refs/main -> commit A
    assert same_samples(gan, two_commits[COMMIT_A])
    assert not same_samples(gan, two_commits[COMMIT_B])


def test_revision_pinning(two_commits):
    gan = load(f"hf://org/tiny@{COMMIT_B}", device="cpu")
    assert same_samples(gan, two_commits[COMMIT_B])
    assert not same_samples(gan, two_commits[COMMIT_A])


def test_missing_from_the_cache_is_one_clear_error(two_commits):
    with pytest.raises(GanzooError) as excinfo:
        load("hf://org/absent", device="cpu")
    message = one_line_error(excinfo)
    assert "org/absent" in message and "HF_HUB_OFFLINE" in message
    with pytest.raises(GanzooError) as excinfo:
        load(f"hf://org/tiny@{'d' * 40}", device="cpu")
    assert "not in the Hub cache" in one_line_error(excinfo)


def test_models_and_datasets_word_hub_errors_alike(hub_cache):
    """One place (ganzoo.io.hub_errors) turns huggingface_hub's errors into messages, for model
    files and dataset snapshots alike."""
    from ganzoo.data.sources import hub_snapshot

    missing = f"is not in the Hub cache ({hub_cache}) and HF_HUB_OFFLINE is set"
    with pytest.raises(GanzooError) as excinfo:
        load("hf://org/absent", device="cpu")
    assert one_line_error(excinfo) == f"config.json of org/absent {missing}"
    with pytest.raises(GanzooError) as excinfo:
        hub_snapshot("org/absent")
    assert one_line_error(excinfo) == f"the Hub dataset org/absent {missing}"
    for call in (lambda: load("hf://a/b/c", device="cpu"), lambda: hub_snapshot("a/b/c")):
        with pytest.raises(GanzooError) as excinfo:
            call()
        assert one_line_error(excinfo).startswith("'a/b/c' is not a repository id: ")


def test_load_by_zoo_name(two_commits, tmp_path, monkeypatch):
    cards = tmp_path / "cards"
    monkeypatch.setenv("GANZOO_MODEL_CARDS", str(cards))
    blob = hf_constants.HF_HUB_CACHE + f"/models--org--tiny/snapshots/{COMMIT_B}/model.safetensors"
    digest = hashlib.sha256(Path(blob).read_bytes()).hexdigest()
    common = {"status": "published", "repo": "org/tiny", "revision": COMMIT_B}
    write_zoo_card(cards, "tiny-toon", **common, sha256=digest)
    gan = ganzoo.load("tiny-toon", device="cpu")
    assert same_samples(gan, two_commits[COMMIT_B])

    write_zoo_card(cards, "tiny-bad", **common, sha256="0" * 64)
    with pytest.raises(GanzooError) as excinfo:
        ganzoo.load("tiny-bad", device="cpu")
    assert "sha256" in one_line_error(excinfo)


def test_unpublished_zoo_entry_names_its_training_command():
    with pytest.raises(GanzooError) as excinfo:
        ganzoo.load("dcgan-toon")  # a catalogue card with no weights, bundled or published
    message = one_line_error(excinfo)
    assert "no published weights" in message
    assert "ganzoo run dcgan --data toon" in message


# ---------------------------------------------------------------------------------------------
# run directories and export


def test_load_a_run_directory_uses_the_latest_checkpoint(tmp_path):
    gans = {2: tiny_gan(4, training=True), 10: tiny_gan(5, training=True)}
    run = make_run(tmp_path / "run", gans)
    gan = load(run, device="cpu")
    assert same_samples(gan, gans[10])
    assert not hasattr(gan, "discriminator")


def test_export_run(tmp_path):
    gans = {5: tiny_gan(6, training=True)}
    run = make_run(tmp_path / "run", gans)
    for step in (4, 5):  # the newest grid becomes the card's picture
        (run / "samples" / f"step-{step}.png").write_bytes(b"grid %d" % step)
    out = export_run(run, tmp_path / "out")
    assert (out / "sample.png").read_bytes() == b"grid 5"
    config = json.loads((out / "config.json").read_text())
    assert "run" not in config  # local paths stay in the run
    assert config["training"] == {"data": "toon", "step": 5}
    assert same_samples(load(out, device="cpu"), gans[5])
    umask = os.umask(0)
    os.umask(umask)
    for name in ("model.safetensors", "config.json", "README.md"):  # not private temp modes
        assert (out / name).stat().st_mode & 0o777 == 0o666 & ~umask, name
    with pytest.raises(GanzooError):
        export_run(run, out)  # exists: needs force
    export_run(run, out, force=True)
    with pytest.raises(GanzooError) as excinfo:
        export_run(tmp_path / "out", tmp_path / "other")
    assert "not a run directory" in one_line_error(excinfo)


def test_export_can_average_the_last_checkpoints(tmp_path):
    gans = {step: tiny_gan(step, training=True) for step in (2, 4, 6)}
    run = make_run(tmp_path / "run", gans)
    out = export_run(run, tmp_path / "out", average=2)
    config = json.loads((out / "config.json").read_text())
    assert config["training"] == {"data": "toon", "step": 6, "averaged_steps": [4, 6]}
    assert "the mean of the checkpoints at steps 4 and 6" in (out / "README.md").read_text()
    weights = load(out, device="cpu").generator.state_dict()
    for key, value in weights.items():
        four, six = gans[4].generator.state_dict()[key], gans[6].generator.state_dict()[key]
        expected = (four.float() + six.float()) / 2 if value.is_floating_point() else six
        assert torch.allclose(value, expected), key
    # the run's own card scored its last checkpoint, not the average: it stays behind
    update_card_metrics(
        save_pretrained(gans[6], run / "export"), [{"name": "swd", "value": 12.5, "protocol": "t"}]
    )
    assert "12.5" in export_run(run, tmp_path / "last").joinpath("README.md").read_text()
    averaged = export_run(run, tmp_path / "mean", average=2)
    assert "12.5" not in (averaged / "README.md").read_text()
    with pytest.raises(GanzooError) as excinfo:
        export_run(run, tmp_path / "more", average=4)
    assert "keeps 3 checkpoint(s); averaging 4 needs as many" in one_line_error(excinfo)
    assert not (tmp_path / "more").exists()


def test_an_average_draws_its_own_picture_of_the_runs_preview_inputs(tmp_path):
    gans = {step: tiny_gan(step, training=True) for step in (2, 4)}
    run = make_run(tmp_path / "run", gans)
    (run / "samples" / "step-4.png").write_bytes(b"grid of step 4 alone")
    before = export_run(run, tmp_path / "old", average=2)  # a run from before inputs were kept
    assert not (before / "sample.png").exists()
    assert "sample.png" not in (before / "README.md").read_text()

    inputs = gans[4].preview_inputs({}, 6, seed=0)
    atomic_save({"inputs": inputs}, {}, run / PREVIEW_INPUTS)
    out = export_run(run, tmp_path / "new", average=2)
    assert "](sample.png)" in (out / "README.md").read_text()
    expected = tmp_path / "expected.png"
    save_preview_grid(load(out, device="cpu").preview(inputs), expected, group=1)
    assert (out / "sample.png").read_bytes() == expected.read_bytes()


def test_atomic_write_is_whole_or_nothing(tmp_path):
    """Every file ganzoo keeps goes through ganzoo.io.files.atomic_write: an interrupted write
    leaves the old file and no temporary one; a finished one has a plain file's modes."""
    from ganzoo.io.files import atomic_write

    target = tmp_path / "file.txt"
    target.write_text("old")

    def interrupted(tmp: Path) -> None:
        tmp.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, interrupted)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["file.txt"]
    atomic_write(target, lambda tmp: tmp.write_text("new"))
    umask = os.umask(0)
    os.umask(umask)
    assert target.read_text() == "new" and target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]


# ---------------------------------------------------------------------------------------------
# refusals: each one clear line


def test_missing_things(tmp_path, saved):
    _, folder = saved
    with pytest.raises(GanzooError) as excinfo:
        load(tmp_path / "nowhere")
    assert "nowhere" in one_line_error(excinfo)

    (folder / "config.json").unlink()
    with pytest.raises(GanzooError) as excinfo:
        load(folder)
    assert "has no config.json" in one_line_error(excinfo)

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(GanzooError) as excinfo:
        load(empty)
    assert "no model.safetensors" in one_line_error(excinfo)


def _rewrite_weights(folder: Path, data: bytes) -> None:
    (folder / "model.safetensors").write_bytes(data)


def _header_file(header: dict, payload: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + payload


@pytest.mark.parametrize(
    ("name", "make", "expected"),
    [
        ("truncated", lambda data: data[: len(data) // 2], "not a valid safetensors"),
        ("tiny", lambda data: data[:5], "not a safetensors file"),
        ("oversized header", lambda data: struct.pack("<Q", 2**60) + data[8:], "header claims"),
        (
            "header not json",
            lambda data: struct.pack("<Q", 16) + b"not json at all!" + b"\0" * 64,
            "not a valid safetensors",
        ),
        (
            "offsets out of range",
            lambda data: _header_file(
                {"generator.x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 4096]}},
                b"\0" * 16,
            ),
            "not a valid safetensors",
        ),
    ],
)
def test_corrupt_safetensors(saved, name, make, expected):
    _, folder = saved
    _rewrite_weights(folder, make((folder / "model.safetensors").read_bytes()))
    with pytest.raises(GanzooError) as excinfo:
        load(folder, device="cpu")
    assert expected in one_line_error(excinfo)


def test_pickles_are_never_loaded(saved, tmp_path):
    gan, folder = saved
    torch.save(gan.generator.state_dict(), folder / "model.safetensors")
    with pytest.raises(GanzooError) as excinfo:
        load(folder, device="cpu")
    assert "pickle" in one_line_error(excinfo)

    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "config.json").write_text(json.dumps(gan.config))
    torch.save(gan.generator.state_dict(), legacy / "pytorch_model.bin")
    with pytest.raises(GanzooError) as excinfo:
        load(legacy, device="cpu")
    message = one_line_error(excinfo)
    assert "pytorch_model.bin" in message and "never unpickles" in message


def test_keys_and_shapes_are_checked_strictly(saved):
    gan, folder = saved
    tensors = {f"generator.{k}": v.clone() for k, v in gan.generator.state_dict().items()}
    key = next(k for k, v in tensors.items() if v.dim() == 4)

    wrong = dict(tensors, **{key: torch.zeros(1, 2, 3, 4)})
    save_file(wrong, str(folder / "model.safetensors"))
    with pytest.raises(GanzooError) as excinfo:
        load(folder, device="cpu")
    message = one_line_error(excinfo)
    assert "wrong shape" in message and key in message

    renamed = dict(tensors)
    renamed["generator.extra.weight"] = renamed.pop(key)
    save_file(renamed, str(folder / "model.safetensors"))
    with pytest.raises(GanzooError) as excinfo:
        load(folder, device="cpu")
    message = one_line_error(excinfo)
    assert f"missing {key}" in message and "unexpected generator.extra.weight" in message


def test_config_naming_a_missing_plugin(saved):
    _, folder = saved
    config = json.loads((folder / "config.json").read_text())
    config.update(plugin="stylegan9", model="stylegan9", distribution="ganzoo-stylegan9")
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(GanzooError) as excinfo:
        load(folder, device="cpu")
    assert "pip install ganzoo-stylegan9" in one_line_error(excinfo)

    config = json.loads((folder / "config.json").read_text())
    config.update(plugin="dcgan", model="dcgan", components={})
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(GanzooError) as excinfo:
        load(folder, device="cpu")
    assert "does not describe a model ganzoo can build" in one_line_error(excinfo)

    (folder / "config.json").write_text("{not json")
    with pytest.raises(GanzooError) as excinfo:
        load(folder, device="cpu")
    assert "config.json" in one_line_error(excinfo)


# ---------------------------------------------------------------------------------------------
# pushing, at the HfApi boundary


def test_push_a_folder(saved, pushes):
    _, folder = saved
    url, commit = push_to_hub(folder, "org/tiny", private=True)
    assert url == "https://huggingface.co/org/tiny" and commit == "c" * 40
    assert pushes["create_repo"] == {
        "repo_id": "org/tiny",
        "private": True,
        "exist_ok": True,
        "repo_type": "model",
    }
    assert pushes["upload_folder"]["repo_id"] == "org/tiny"
    assert pushes["upload_folder"]["repo_type"] == "model"
    files = pushes["files"]
    assert sorted(files) == ["README.md", "config.json", "model.safetensors"]
    assert files["model.safetensors"] == (folder / "model.safetensors").read_bytes()
    assert 'ganzoo.load("hf://org/tiny")' in files["README.md"].decode()
    assert "ORG/NAME" in (folder / "README.md").read_text()  # the user's folder is untouched


def test_push_a_run_exports_it_first(tmp_path, pushes):
    gans = {3: tiny_gan(7, training=True)}
    run = make_run(tmp_path / "run", gans)
    (run / "samples" / "step-3.png").write_bytes(b"grid")
    push_to_hub(run, "org/run")
    assert sorted(pushes["files"]) == [
        "README.md",
        "config.json",
        "model.safetensors",
        "sample.png",
    ]


def test_model_push_to_hub(pushes):
    url, commit = tiny_gan().push_to_hub("org/model", data="toon")
    assert url.endswith("/org/model") and commit == "c" * 40
    assert pushes["create_repo"]["private"] is False
    assert "model.safetensors" in pushes["files"]


def test_push_errors_are_one_line(saved, monkeypatch, tmp_path):
    _, folder = saved

    def no_token(self, repo_id, **kwargs):
        raise LocalTokenNotFoundError("Token is required but no token found.\nLog in first.")

    monkeypatch.setattr(HfApi, "create_repo", no_token)
    with pytest.raises(GanzooError) as excinfo:
        push_to_hub(folder, "org/tiny")
    assert one_line_error(excinfo).startswith("cannot push to org/tiny: Token is required")

    with pytest.raises(GanzooError):
        push_to_hub(tmp_path / "nowhere", "org/tiny")
