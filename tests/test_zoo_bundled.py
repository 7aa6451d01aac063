"""Zoo entries shipped with their weights: plugin zoo folders, offline loading with the sha256
checked, the Hub copy when published, fp16 storage, push, listing, translate on any photo, and
the helper that makes an entry from a run.

A throwaway plugin (``zoofake``, installed on sys.path for the test) ships tiny entries made
from hand-written run directories; no test trains anything or touches the network.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
import socket
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner
from huggingface_hub import CommitInfo, HfApi, ModelCard, RepoUrl
from huggingface_hub import constants as hf_constants
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save_file

import ganzoo
from ganzoo import hub
from ganzoo.cli import cli
from ganzoo.cli.inference import input_crop, read_image, translate_paths
from ganzoo.data.images import decode
from ganzoo.errors import GanzooError
from ganzoo.hub import load, model_sources, push_to_hub, save_pretrained, update_card_metrics
from ganzoo.hub.model_sources import entry_source
from ganzoo.hub.zoo_entry import _owning_zoo, active_seconds, make_zoo_entry, wall_seconds
from ganzoo.registry import _read_manifest, registry
from ganzoo.zoo import find_zoo_entry, sha256_of, split_card, zoo_entries

TINY = {"size": 32, "generator_args": {"width": 8}, "discriminator_args": {"width": 8}}
COMMIT = "c" * 40
REPO = Path(__file__).resolve().parents[1]


def one_line(excinfo) -> str:
    message = str(excinfo.value)
    assert isinstance(excinfo.value, GanzooError) and message and "\n" not in message
    return message


def fake_run(root: Path, model: str = "dcgan", data: str = "toon") -> Path:
    """A finished run as the engine leaves it, without training: config.json with its run
    block, metrics.csv (resumed once), sample grids and export/."""
    torch.manual_seed(0)
    gan = ganzoo.create(model, **TINY)
    (root / "samples").mkdir(parents=True)
    run = {
        "data": data,
        "source": None,
        "seed": 0,
        "precision": "fp32",
        "threads": 1,
        "device": "cpu (x86_64, 2 cores)",
        "command": f"ganzoo run {model} --data {data} --steps 8 --size 32",
    }
    (root / "config.json").write_text(json.dumps({**gan.config, "run": run}))
    with (root / "metrics.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "epoch", "images", "seconds", "images_per_s"])
        # resumed after step 4: seconds restart, so the wall time is 3.0 + 2.5; 8 images a
        # stretch at 4, 4, 8 and 8 img/s make 6 s of training
        writer.writerows(
            [[2, 0.1, 8, 1.5, 4], [4, 0.2, 16, 3.0, 4], [6, 0.3, 24, 1.0, 8], [8, 0.4, 32, 2.5, 8]]
        )
    for step, colour in ((4, "red"), (8, "blue")):
        Image.new("RGB", (40, 40), colour).save(root / "samples" / f"step-{step}.png")
    save_pretrained(gan.eval(), root / "export", data=data, step=8)
    return root


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("the tests never use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def offline(monkeypatch, no_network):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)


@pytest.fixture
def zoo_plugin(tmp_path, monkeypatch) -> Path:
    """The installed throwaway plugin ``zoofake``; returns its (empty) zoo folder."""
    site = tmp_path / "site"
    package = site / "zoofake"
    (package / "zoo").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "manifest.py").write_text('MANIFEST = {"zoo": "zoofake:zoo"}\n')
    info = site / "zoofake-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: zoofake\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[ganzoo.plugins]\nzoofake = zoofake.manifest:MANIFEST\n"
    )
    monkeypatch.syspath_prepend(str(site))
    registry.cache_clear()
    yield package / "zoo"
    registry.cache_clear()
    for name in [m for m in sys.modules if m.startswith("zoofake")]:
        del sys.modules[name]


@pytest.fixture
def entries(zoo_plugin, tmp_path) -> dict[str, Path]:
    """Two entries of the plugin: a dcgan (float32) and a translator trained for anime (fp16)."""
    return {
        "dcgan-fake": make_zoo_entry(
            fake_run(tmp_path / "run-dcgan"), "dcgan-fake", out=zoo_plugin / "dcgan-fake"
        ),
        "improved-fake": make_zoo_entry(
            fake_run(tmp_path / "run-improved", "improved", "anime"),
            "improved-fake",
            fp16=True,
            out=zoo_plugin / "improved-fake",
        ),
    }


def rewrite_block(folder: Path, **changes) -> None:
    """Edits the ganzoo block of an entry's card."""
    card = folder / "README.md"
    metadata, body = split_card(card.read_text())
    metadata["ganzoo"].update(changes)
    card.write_text(f"---\n{yaml.safe_dump(metadata, sort_keys=False)}---\n{body}")


def copy_entry(folder: Path, name: str) -> Path:
    copy = shutil.copytree(folder, folder.with_name(name))
    rewrite_block(copy, entry=name)
    return copy


# ---------------------------------------------------------------------------------------------
# loading


def test_every_bundled_entry_loads_offline(entries, offline):
    """Every entry with bundled weights, the repository's real ones included, loads with no
    network and gives images of its size in [0, 1]."""
    bundled = [e for e in zoo_entries() if e.bundled]
    assert set(entries) <= {e.name for e in bundled}
    for entry in bundled:
        gan = ganzoo.load(entry.name, device="cpu")
        height, width = gan.image_size
        assert entry.size == f"{width}x{height}" and entry.sha256
        if gan.task == "translation":
            images = gan.translate(torch.rand(2, 3, height, width))
        else:
            images = gan.sample(2, seed=0)
        assert images.shape == (2, 3, height, width)
        assert torch.isfinite(images).all() and images.min() >= 0 and images.max() <= 1


def test_bundled_copy_is_the_run_itself(entries, offline, tmp_path):
    exported = load(tmp_path / "run-dcgan" / "export", device="cpu")
    assert torch.equal(load("dcgan-fake").sample(3, seed=1), exported.sample(3, seed=1))
    # fp16 storage: half the bytes, loaded as float32, the same images to fp16 precision
    stored = entries["improved-fake"] / "model.safetensors"
    with safe_open(str(stored), "pt") as handle:
        assert {handle.get_tensor(k).dtype for k in handle.keys()} == {torch.float16}
    full = tmp_path / "run-improved" / "export" / "model.safetensors"
    assert stored.stat().st_size < 0.6 * full.stat().st_size
    gan = load("improved-fake", device="cpu")
    assert all(p.dtype == torch.float32 for p in gan.parameters())
    photos = torch.rand(2, 3, 32, 32)
    reference = load(full.parent, device="cpu").translate(photos)
    assert (gan.translate(photos) - reference).abs().max() < 0.02


def test_corrupt_weights_or_wrong_sha256_is_one_error(entries, offline):
    flipped = copy_entry(entries["dcgan-fake"], "dcgan-flipped")
    weights = flipped / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(GanzooError) as excinfo:
        ganzoo.load("dcgan-flipped")
    assert "sha256" in one_line(excinfo) and "dcgan-flipped" in one_line(excinfo)

    wrong = copy_entry(entries["dcgan-fake"], "dcgan-wrong")
    rewrite_block(wrong, sha256="0" * 64)
    with pytest.raises(GanzooError) as excinfo:
        ganzoo.load("dcgan-wrong")
    assert "records 000000000000" in one_line(excinfo)
    with pytest.raises(GanzooError) as excinfo:  # the folder itself is checked just the same
        load(wrong)
    assert "sha256" in one_line(excinfo)

    unpinned = copy_entry(entries["dcgan-fake"], "dcgan-unpinned")
    rewrite_block(unpinned, sha256=None)
    with pytest.raises(GanzooError) as excinfo:
        ganzoo.load("dcgan-unpinned")
    assert "records no sha256" in one_line(excinfo)

    truncated = copy_entry(entries["dcgan-fake"], "dcgan-truncated")
    (truncated / "model.safetensors").write_bytes(weights.read_bytes()[:100])
    rewrite_block(truncated, sha256=sha256_of(truncated / "model.safetensors"))
    with pytest.raises(GanzooError) as excinfo:
        ganzoo.load("dcgan-truncated")
    assert "not a valid safetensors file" in one_line(excinfo)


def test_non_float_weights_are_refused(entries, offline):
    folder = copy_entry(entries["dcgan-fake"], "dcgan-int")
    with safe_open(str(folder / "model.safetensors"), "pt") as handle:
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    key = next(k for k, v in tensors.items() if v.is_floating_point())
    tensors[key] = tensors[key].to(torch.int32)
    save_file(tensors, folder / "model.safetensors")
    rewrite_block(folder, sha256=sha256_of(folder / "model.safetensors"))
    with pytest.raises(GanzooError) as excinfo:
        ganzoo.load("dcgan-int")
    message = one_line(excinfo)
    assert key in message and "torch.int32" in message


def test_hub_copy_when_published_and_reachable(entries, monkeypatch, no_network, tmp_path):
    folder = copy_entry(entries["dcgan-fake"], "dcgan-pub")
    rewrite_block(folder, status="published", repo="org/dcgan-pub", revision=COMMIT)
    hub_copy = shutil.copytree(folder, tmp_path / "hub-copy")
    calls = []

    def from_cache(repo_id, filename, revision):
        calls.append((repo_id, filename, revision))
        return hub_copy / filename

    monkeypatch.setattr(model_sources, "hub_download", from_cache)
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    source = entry_source(find_zoo_entry("dcgan-pub"))
    assert source.kind == "hub" and source.weights == hub_copy / "model.safetensors"
    assert calls[-1] == ("org/dcgan-pub", "model.safetensors", COMMIT)
    ganzoo.load("dcgan-pub", device="cpu")

    # the Hub copy must match the card's sha256 too
    (hub_copy / "model.safetensors").write_bytes(
        (hub_copy / "model.safetensors").read_bytes()[:-1] + b" "
    )
    with pytest.raises(GanzooError) as excinfo:
        ganzoo.load("dcgan-pub", device="cpu")
    assert "org/dcgan-pub" in one_line(excinfo) and "sha256" in one_line(excinfo)

    def unreachable(repo_id, filename, revision):
        raise GanzooError("the Hub cannot be reached")

    monkeypatch.setattr(model_sources, "hub_download", unreachable)
    assert entry_source(find_zoo_entry("dcgan-pub")).kind == "folder"  # the bundled copy

    calls.clear()
    monkeypatch.setattr(model_sources, "hub_download", from_cache)
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    assert entry_source(find_zoo_entry("dcgan-pub")).kind == "folder" and not calls


# ---------------------------------------------------------------------------------------------
# catalogues, listing, info


def test_manifest_zoo_key_is_validated():
    assert _read_manifest("p", {"zoo": "pkg.sub:zoo/entries"}) == []
    for bad in ("zoo", "pkg:", ":zoo", "pkg:../up", "pkg:a//b", "my-pkg:zoo", 3):
        with pytest.raises(ValueError, match="'zoo'"):
            _read_manifest("p", {"zoo": bad})


def test_plugin_entries_are_listed_and_shown(entries, monkeypatch):
    update_card_metrics(
        entries["dcgan-fake"],
        [{"name": "fid", "value": 12.345, "protocol": "100 generated vs 100 real images"}],
    )
    result = CliRunner().invoke(cli, ["list", "--kind", "zoo", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["dcgan-fake"] == {
        "name": "dcgan-fake",
        "model": "dcgan",
        "data": "toon",
        "size": "32x32",
        "fid": "12.35 @100",  # FID means nothing without its n
        "weights": "bundled",
        "status": "unpublished",
        "summary": "dcgan on toon, 32x32",
    }
    assert rows["improved-fake"]["fid"] == "-"
    # the core catalogue's cards are still listed, their weights absent
    assert rows["dcgan-toon"]["weights"] == "absent"
    assert rows["dcgan-toon"]["size"] == "64x64"
    table = CliRunner().invoke(cli, ["list", "*-fake", "--kind", "zoo"]).output
    assert "WEIGHTS" in table and "FID" in table and "bundled" in table

    result = CliRunner().invoke(cli, ["info", "dcgan-fake"])
    assert result.exit_code == 0, result.output
    assert "shipped_by: zoofake" in result.output and "weights: bundled" in result.output
    assert "## How it was trained" in result.output  # the card follows


def test_catalogue_override_adds_and_precedence(entries, zoo_plugin, tmp_path, monkeypatch):
    core = tmp_path / "core"
    core.mkdir()
    card = (
        "---\nganzoo:\n  model: dcgan\n  data: toon\n  train: ganzoo run dcgan --data toon\n---\n"
    )
    for name in ("only-core", "dcgan-fake"):
        (core / f"{name}.md").write_text(card.replace("ganzoo:\n", f"ganzoo:\n  entry: {name}\n"))
    monkeypatch.setattr("ganzoo.zoo.cards_dir", lambda: core)
    # a plugin's entry replaces the core card of the same name, silently
    assert find_zoo_entry("dcgan-fake").origin == "zoofake"
    assert find_zoo_entry("only-core").origin == "ganzoo"

    private = tmp_path / "private"
    shutil.copytree(entries["dcgan-fake"], private / "dcgan-fake")
    (private / "mine.md").write_text(card.replace("ganzoo:\n", "ganzoo:\n  entry: mine\n"))
    monkeypatch.setenv("GANZOO_MODEL_CARDS", str(private))
    names = {e.name for e in zoo_entries()}
    assert {"mine", "only-core", "improved-fake", "dcgan-fake"} <= names  # added, not replaced
    # the private catalogue wins a name: its own copy of the entry is the one loaded
    entry = find_zoo_entry("dcgan-fake")
    assert entry.origin == "GANZOO_MODEL_CARDS" and entry.folder == private / "dcgan-fake"
    assert entry_source(entry).weights == private / "dcgan-fake" / "model.safetensors"


def test_wheels_carry_zoo_entries(tmp_path):
    """Each plugin's pyproject ships its zoo folder, weights included, in a non-editable wheel."""
    if importlib.util.find_spec("hatchling") is None:
        pytest.skip("hatchling is not installed")
    from hatchling.builders.wheel import WheelBuilder

    for plugin in ("dcgan", "wgan", "improved"):
        root = shutil.copytree(REPO / "plugins" / plugin, tmp_path / plugin)
        entry = root / f"ganzoo_{plugin}" / "zoo" / f"{plugin}-x"
        entry.mkdir(parents=True, exist_ok=True)
        for name in ("README.md", "config.json", "model.safetensors", "sample.png"):
            (entry / name).write_text("x")
        (root / ".gitignore").write_text("*.safetensors\n*.png\n")  # even if ignored
        (wheel,) = WheelBuilder(str(root)).build(directory=str(tmp_path / "dist"))
        names = set(zipfile.ZipFile(wheel).namelist())
        for name in ("README.md", "config.json", "model.safetensors", "sample.png"):
            assert f"ganzoo_{plugin}/zoo/{plugin}-x/{name}" in names


# ---------------------------------------------------------------------------------------------
# push


def test_push_publishes_the_entry_unchanged(entries, monkeypatch):
    uploaded = {}
    monkeypatch.setattr(hub, "hub_reachable", lambda *args, **kwargs: True, raising=False)

    def create_repo(self, repo_id, **kwargs):
        return RepoUrl(f"https://huggingface.co/{repo_id}")

    def upload_folder(self, *, repo_id, folder_path, **kwargs):
        uploaded.clear()
        uploaded.update({p.name: p.read_bytes() for p in Path(folder_path).iterdir()})
        return CommitInfo(
            commit_url=f"https://huggingface.co/{repo_id}/commit/{COMMIT}",
            commit_message="upload",
            commit_description="",
            oid=COMMIT,
        )

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    folder = entries["improved-fake"]
    original = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert sorted(original) == ["README.md", "config.json", "model.safetensors", "sample.png"]
    for source in (folder, "improved-fake"):  # its folder, or its name
        assert push_to_hub(source, "org/improved-fake") == (
            "https://huggingface.co/org/improved-fake",
            COMMIT,
        )
        assert uploaded == original
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == original


# ---------------------------------------------------------------------------------------------
# the helper


def test_make_zoo_entry_card(entries, tmp_path, offline):
    folder = entries["dcgan-fake"]
    card = ModelCard.load(folder / "README.md")  # still a valid Hub model card
    assert card.data.library_name == "ganzoo"
    block = card.data.to_dict()["ganzoo"]
    assert block["sha256"] == sha256_of(folder / "model.safetensors")
    batch = json.loads((folder / "config.json").read_text())["recipe"]["batch_size"]
    assert block["training"] == {
        "recipe": "default",
        "steps": 8,
        "batch_size": batch,
        "images_seen": 8 * batch,
        "device": "cpu (x86_64, 2 cores)",
        "threads": 1,
        "precision": "fp32",
        "seconds": 5.5,
        "active_seconds": 6.0,
        "command": "ganzoo run dcgan --data toon --steps 8 --size 32",
    }
    assert block["train"] == "ganzoo run dcgan --data toon --steps 8 --size 32"
    assert (block["entry"], block["model"], block["data"], block["status"]) == (
        "dcgan-fake",
        "dcgan",
        "toon",
        "unpublished",
    )
    # the run's last grid is the picture; usage names the entry, not a placeholder repository
    sample = tmp_path / "run-dcgan" / "samples" / "step-8.png"
    assert (folder / "sample.png").read_bytes() == sample.read_bytes()
    assert "](sample.png)" in card.text and "ORG/NAME" not in card.text
    assert 'ganzoo.load("dcgan-fake")' in card.text
    assert card.text.startswith("# dcgan-fake\n")
    assert f"| images seen | {8 * batch} |" in card.text and "| wall time | 6 s" in card.text
    assert "| training time, pauses left out | 6 s (0.00 h) |" in card.text
    # where the images came from, their licence, and what that limits
    assert "## Training data" in card.text and "- `toon`: " in card.text
    assert "Licence: " in card.text and "Limits: 32x32 pixels only" in card.text
    translator_card = (entries["improved-fake"] / "README.md").read_text()
    assert "- `celeba`: " in translator_card and "- `anime`: " in translator_card  # both domains
    assert "weights stored as | float16" in (entries["improved-fake"] / "README.md").read_text()


def test_make_zoo_entry_refusals_and_script(entries, zoo_plugin, tmp_path, capsys, load_benchmark):
    run = tmp_path / "run-dcgan"
    with pytest.raises(GanzooError, match="already exists; pass --force"):
        make_zoo_entry(run, "dcgan-fake", out=entries["dcgan-fake"])
    before = sha256_of(entries["dcgan-fake"] / "model.safetensors")

    script = load_benchmark("make_zoo_entry")
    args = [str(run), "dcgan-fake", "--fp16", "--force", "--out", str(entries["dcgan-fake"])]
    assert script.main(args) == 0
    assert "sha256" in capsys.readouterr().out
    fp16 = sha256_of(entries["dcgan-fake"] / "model.safetensors")
    assert fp16 != before  # now fp16
    assert script.main(args) == 0  # the same entry again: the same bytes
    assert sha256_of(entries["dcgan-fake"] / "model.safetensors") == fp16
    assert not [p for p in zoo_plugin.iterdir() if p.name.startswith(".")]  # no staging left

    assert script.main([str(tmp_path / "nowhere"), "x", "--out", str(tmp_path / "x")]) == 1
    assert capsys.readouterr().err.startswith("error: ")
    assert _owning_zoo({"plugin": "zoofake"}) == zoo_plugin
    with pytest.raises(GanzooError, match="has no zoo folder"):
        _owning_zoo({"plugin": "ganzoo"})


def test_wall_seconds_adds_resumed_stretches():
    rows = [{"seconds": s} for s in ("1", "4", "2", "3", "0.5")]
    assert wall_seconds(rows) == 7.5
    assert wall_seconds([]) is None


def test_active_seconds_leaves_pauses_and_repeated_images_out():
    logged = [(100, 10), (200, 10), (300, 1), (400, 10), (300, 10), (500, 20)]
    rows = [{"images": str(i), "images_per_s": str(v)} for i, v in logged]
    # 100/10 each for the first two; the third ran at a tenth of the median (10), so it counts
    # at the median; the repeated 300 after a resume counts once; the last at its own 20 img/s
    assert active_seconds(rows) == 10 + 10 + 10 + 10 + 5
    assert active_seconds([{"images": "0", "images_per_s": "0"}]) is None


# ---------------------------------------------------------------------------------------------
# translate on ordinary photos


def test_translate_ordinary_photos(entries, tmp_path, offline):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGBA", (300, 200), (0, 0, 255, 100)).save(photos / "rgba.png")
    Image.new("L", (50, 80), 90).save(photos / "grey.png")
    Image.new("P", (64, 48), 3).save(photos / "palette.gif", transparency=3)
    Image.new("CMYK", (120, 90), (0, 80, 80, 0)).save(photos / "cmyk.jpg")
    sixteen = Image.fromarray(np.full((70, 50), 30000, dtype=np.uint16))
    sixteen.save(photos / "deep.png")
    wide = Image.new("RGB", (90, 45), "red")
    wide.paste((0, 0, 255), (45, 0, 90, 45))  # left red, right blue
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise: red on top
    wide.save(photos / "phone.jpg", exif=exif, quality=95)
    Image.new("RGB", (1600, 1200), "green").save(photos / "big.jpg")

    out = tmp_path / "out"
    written = translate_paths("improved-fake", [str(photos)], out, device="cpu")
    assert len(written) == 7
    for path in written:
        with Image.open(path) as img:
            assert img.size == (32, 32) and img.mode == "RGB"

    # trained for anime: its inputs are CelebA-like photos, cropped as CelebA was
    gan = load("improved-fake", device="cpu")
    assert input_crop(gan.config) == "face" and input_crop(gan.config, reverse=True) == "center"
    assert input_crop(load("dcgan-fake").config) == "center"
    data = (photos / "cmyk.jpg").read_bytes()
    assert torch.equal(
        read_image(photos / "cmyk.jpg", (32, 32), "face"),
        torch.from_numpy(decode(data, (32, 32), "face")[0]),
    )
    grey = read_image(photos / "deep.png", (32, 32))  # 16-bit: scaled, not clipped to white
    assert abs(int(grey[0, 16, 16]) - round(30000 / 257)) <= 1
    upright = read_image(photos / "phone.jpg", (32, 32)).float()  # EXIF applied
    top, bottom = upright[:, :8].mean((1, 2)), upright[:, -8:].mean((1, 2))
    assert top[0] > 200 > top[2] and bottom[2] > 200 > bottom[0]


def test_card_lists_the_commands_that_resumed_the_run(tmp_path):
    from ganzoo.hub.zoo_entry import _trained_section, training_facts
    from ganzoo.models import make_config

    config = make_config("dcgan") | {"training": {"step": 8}}
    first, second = "search.py wgan-celeba --points 64000", "search.py wgan-celeba --points 96000"
    run = {"data": "anime", "seed": 0, "command": first, "resumed_with": [second]}
    facts = training_facts(tmp_path, {"run": run}, config)
    assert facts["command"] == first and facts["resumed_with"] == [second]
    text = _trained_section(facts, fp16=False)
    assert f"The exact command: `{first}`.\nResumed with: `{second}`." in text
    del run["resumed_with"]
    assert "resumed_with" not in training_facts(tmp_path, {"run": run}, config)
    assert "averaged_steps" not in training_facts(tmp_path, {"run": run}, config)


def test_card_says_when_the_weights_average_checkpoints(tmp_path):
    from ganzoo.hub.zoo_entry import _trained_section, training_facts
    from ganzoo.models import make_config

    config = make_config("wgan") | {"training": {"step": 20000, "averaged_steps": [19500, 20000]}}
    run = {"data": "anime", "seed": 0, "command": "search.py wgan-anime"}
    facts = training_facts(tmp_path, {"run": run}, config)
    assert facts["averaged_steps"] == [19500, 20000]
    assert (
        "The weights are the mean of the run's checkpoints at steps 19500, 20000: "
        "`ganzoo export RUN OUT --average 2`." in _trained_section(facts, fp16=True)
    )


def test_card_command_of_an_in_process_run_sets_what_the_run_changed():
    """Runs started from Python (benchmarks/search.py) record no command line; the card's
    `ganzoo run` line must still name every recipe field they changed."""
    import shlex

    from ganzoo.hub.zoo_entry import _train_command
    from ganzoo.models import make_config
    from ganzoo.recipes import parse_assignments

    changed = {"ema": 0.999, "augment": "color,cutout", "betas": [0.0, 0.9]}
    config = make_config("dcgan", overrides={**changed, "discriminator_args.width": 16})
    run = {"data": "anime", "seed": 3}
    command = _train_command("search.py dcgan-anime", run, config, 100, 64)
    words = shlex.split(command)
    assert words[:5] == ["ganzoo", "run", "dcgan", "--data", "anime"]
    sets = [words[i + 1] for i, word in enumerate(words) if word == "--set"]
    again = make_config("dcgan", overrides=parse_assignments(sets))
    assert again["recipe"] == config["recipe"]
    assert "--steps 100 --batch-size 64" in command and command.endswith("--seed 3")
