"""The commands over the hub layer: list --kind zoo, info, sample, translate, export, push."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import run_main
from click.testing import CliRunner
from huggingface_hub import CommitInfo, HfApi, RepoUrl
from PIL import Image

from ganzoo.cli import cli
from ganzoo.hub import save_pretrained
from ganzoo.models import build, make_config

TINY = {"size": 32, "generator_args": {"width": 8}, "discriminator_args": {"width": 8}}
ZOO = {
    "dcgan-anime",
    "dcgan-celeba",
    "dcgan-toon",
    "wgan-anime",
    "wgan-celeba",
    "improved-anime",
    "improved-toon",
}


def assert_one_line_error(code: int, err: str) -> str:
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.fixture
def dcgan_folder(tmp_path) -> Path:
    torch.manual_seed(0)
    return save_pretrained(
        build(make_config("dcgan", overrides=TINY), training=False), tmp_path / "dcgan"
    )


@pytest.fixture
def improved_folder(tmp_path) -> Path:
    torch.manual_seed(0)
    gan = build(make_config("improved", overrides=TINY), training=False)
    return save_pretrained(gan, tmp_path / "improved")


def test_list_zoo():
    result = CliRunner().invoke(cli, ["list", "--kind", "zoo"])
    assert result.exit_code == 0, result.output
    for name in ZOO:
        assert name in result.output
    assert "unpublished" in result.output

    result = CliRunner().invoke(cli, ["list", "improved-*", "--kind", "zoo", "--json"])
    rows = json.loads(result.output)
    assert {r["name"] for r in rows} == {"improved-anime", "improved-toon"}
    assert all(r["status"] == "unpublished" and r["model"] == "improved" for r in rows)


def test_info_zoo_entry():
    result = CliRunner().invoke(cli, ["info", "dcgan-toon"])
    assert result.exit_code == 0, result.output
    assert "kind: zoo entry" in result.output
    assert "status: unpublished" in result.output
    assert "ganzoo run dcgan --data toon" in result.output
    assert "# dcgan-toon" in result.output  # the card body follows the fields

    data = json.loads(CliRunner().invoke(cli, ["info", "dcgan-toon", "--json"]).output)
    assert data["model"] == "dcgan" and data["card"].startswith("# dcgan-toon")


def test_loading_an_unpublished_entry_is_one_line(capsys, tmp_path):
    code, _, err = run_main(["sample", "dcgan-toon", "-o", str(tmp_path / "g.png")], capsys)
    line = assert_one_line_error(code, err)
    assert "ganzoo run dcgan --data toon" in line
    code, _, err = run_main(["sample", "no-such-thing", "-o", str(tmp_path / "g.png")], capsys)
    assert "no-such-thing" in assert_one_line_error(code, err)


def test_sample_grid_and_folder(dcgan_folder, tmp_path, capsys):
    grid = tmp_path / "grid.png"
    code, out, _ = run_main(["sample", str(dcgan_folder), "-n", "4", "-o", str(grid)], capsys)
    assert code == 0 and str(grid) in out
    with Image.open(grid) as img:  # 2x2 grid of 32px images, 2px padding, enlarged 4x to 128px
        assert img.size == (4 * (2 + 2 * 34), 4 * (2 + 2 * 34))
        readable = np.asarray(img)
    first = grid.read_bytes()

    raw = tmp_path / "raw.png"
    args = ["sample", str(dcgan_folder), "-n", "4", "--raw", "-o", str(raw)]
    assert run_main(args, capsys)[0] == 0
    with Image.open(raw) as img:
        assert img.size == (2 + 2 * 34, 2 + 2 * 34)
        # the readable grid is the raw one with every pixel a 4x4 square (nearest neighbour)
        assert np.array_equal(np.asarray(img).repeat(4, 0).repeat(4, 1), readable)

    code, _, err = run_main(["sample", str(dcgan_folder), "-n", "4", "-o", str(grid)], capsys)
    assert "--force" in assert_one_line_error(code, err)
    args = ["sample", str(dcgan_folder), "-n", "4", "--seed", "1", "-o", str(grid), "--force"]
    assert run_main(args, capsys)[0] == 0
    assert grid.read_bytes() != first

    folder = tmp_path / "many"
    code, _, _ = run_main(["sample", str(dcgan_folder), "-n", "3", "-o", str(folder)], capsys)
    assert code == 0
    assert sorted(p.name for p in folder.iterdir()) == [
        "sample-0000.png",
        "sample-0001.png",
        "sample-0002.png",
    ]
    code, _, err = run_main(["sample", str(dcgan_folder), "-n", "3", "-o", str(folder)], capsys)
    assert_one_line_error(code, err)


def test_translate(improved_folder, dcgan_folder, tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (48, 40), (200, 120, 80)).save(photos / "wide.jpg")
    Image.new("L", (20, 30), 90).save(photos / "grey.png")
    (photos / "broken.png").write_bytes(b"not an image")
    (photos / "notes.txt").write_text("ignored: not an image name")
    extra = tmp_path / "single.png"
    Image.new("RGBA", (32, 32), (0, 0, 255, 128)).save(extra)
    out = tmp_path / "anime"

    args = ["translate", str(improved_folder), str(photos), str(extra), "-o", str(out)]
    # pytest records warnings itself; the CLI prints them as one "warning: ..." line
    with pytest.warns(UserWarning, match=r"^skipped 1 of 4 input file\(s\) that are not readable"):
        code, stdout, err = run_main(args, capsys)
    assert code == 0, err
    assert "wrote 3 images" in stdout
    assert sorted(p.name for p in out.iterdir()) == ["grey.png", "single.png", "wide.png"]
    with Image.open(out / "wide.png") as img:
        assert img.size == (32, 32) and img.mode == "RGB"

    code, _, err = run_main(args, capsys)
    assert "--force" in assert_one_line_error(code, err)
    again = ["translate", str(improved_folder), str(extra), "-o", str(out), "--force", "--reverse"]
    before = (out / "single.png").read_bytes()
    assert run_main(again, capsys)[0] == 0
    assert (out / "single.png").read_bytes() != before  # the other generator

    code, _, err = run_main(
        ["translate", str(dcgan_folder), str(extra), "-o", str(tmp_path / "x")], capsys
    )
    assert "translate" in assert_one_line_error(code, err)
    code, _, err = run_main(
        ["translate", str(improved_folder), str(tmp_path / "nope"), "-o", str(out)], capsys
    )
    assert "no such file or folder" in assert_one_line_error(code, err)


def test_sample_from_a_translator_is_one_line(improved_folder, tmp_path, capsys):
    code, _, err = run_main(["sample", str(improved_folder), "-o", str(tmp_path / "g.png")], capsys)
    assert "sample" in assert_one_line_error(code, err)


def test_export_and_push(dcgan_folder, tmp_path, capsys, monkeypatch):
    calls = {}

    def create_repo(self, repo_id, **kwargs):
        calls["create_repo"] = (repo_id, kwargs)
        return RepoUrl(f"https://huggingface.co/{repo_id}")

    def upload_folder(self, *, repo_id, folder_path, **kwargs):
        calls["files"] = sorted(p.name for p in Path(folder_path).iterdir())
        return CommitInfo(
            commit_url=f"https://huggingface.co/{repo_id}/commit/{'e' * 40}",
            commit_message="upload",
            commit_description="",
            oid="e" * 40,
        )

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    code, out, err = run_main(["push", str(dcgan_folder), "--repo", "me/tiny", "--private"], capsys)
    assert code == 0, err
    assert out.strip() == f"pushed to https://huggingface.co/me/tiny (commit {'e' * 40})"
    assert calls["create_repo"] == (
        "me/tiny",
        {"private": True, "exist_ok": True, "repo_type": "model"},
    )
    assert calls["files"] == ["README.md", "config.json", "model.safetensors"]

    def offline(self, repo_id, **kwargs):
        raise OSError("Cannot reach https://huggingface.co: offline mode is enabled.")

    monkeypatch.setattr(HfApi, "create_repo", offline)
    code, _, err = run_main(["push", str(dcgan_folder), "--repo", "me/tiny"], capsys)
    assert "cannot push to me/tiny: Cannot reach" in assert_one_line_error(code, err)

    code, _, err = run_main(["export", str(dcgan_folder), str(tmp_path / "out")], capsys)
    assert "not a run directory" in assert_one_line_error(code, err)
