"""Truncation and latent walks of unconditional models: gan.sample(truncation=...),
gan.interpolate(...) and `ganzoo sample --truncation / --interpolate`."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch
from cli_helpers import run_main
from PIL import Image

from ganzoo.errors import GanzooError
from ganzoo.hub import save_pretrained
from ganzoo.models import build, make_config, slerp

TINY = {"size": 32, "generator_args": {"width": 8}, "discriminator_args": {"width": 8}}


def tiny(model: str):
    torch.manual_seed(0)
    gan = build(make_config(model, overrides=TINY), training=False)
    # DCGAN's initial weights (std 0.02) draw flat grey: larger ones give images that differ
    with torch.no_grad():
        for weight in gan.generator.parameters():
            if weight.dim() > 1:
                weight.normal_(0, 0.3)
    return gan


@pytest.fixture(scope="module")
def dcgan():
    return tiny("dcgan")


@pytest.fixture
def dcgan_folder(dcgan, tmp_path) -> Path:
    return save_pretrained(dcgan, tmp_path / "dcgan")


def one_line_error(code: int, err: str) -> str:
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_truncation_scales_the_noise(dcgan):
    plain = dcgan.sample(3, seed=5)
    assert torch.equal(dcgan.sample(3, seed=5, truncation=1.0), plain)  # 1: as before
    noise = torch.randn(3, dcgan.generator.latent_dim, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        expected = (dcgan.generator.eval()(noise * 0.5).clamp(-1, 1) + 1) / 2
    assert torch.allclose(dcgan.sample(3, seed=5, truncation=0.5), expected, atol=1e-6)
    for psi in (0, -0.5, math.nan, math.inf, "0.5"):
        with pytest.raises(GanzooError, match="truncation must be a number above 0"):
            dcgan.sample(2, seed=0, truncation=psi)


def test_slerp_stays_on_the_sphere():
    a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    path = slerp(a, b, torch.tensor([0.0, 0.25, 0.5, 1.0]))
    assert torch.allclose(path.norm(dim=1), torch.ones(4))  # a straight line dips to 0.71
    assert torch.allclose(path[2], torch.tensor([1.0, 1.0]) / math.sqrt(2))
    assert torch.allclose(path[0], a[0]) and torch.allclose(path[-1], b[0])
    same = slerp(a, a, torch.tensor([0.0, 0.5]))  # parallel: no division by sin(0)
    assert torch.allclose(same, a.expand(2, 2))


def test_interpolate_passes_through_each_seed(dcgan):
    walk = dcgan.interpolate([3, 7, 11], frames=4)
    assert walk.shape == (9, 3, 32, 32)
    assert 0 <= walk.min() and walk.max() <= 1
    for index, seed in ((0, 3), (4, 7), (8, 11)):  # every 4th frame is a seed's own sample
        assert torch.allclose(walk[index], dcgan.sample(1, seed=seed)[0], atol=1e-5)
    assert not torch.allclose(walk[1], walk[0], atol=1e-3)
    truncated = dcgan.interpolate([3, 7], frames=2, truncation=0.7)
    assert torch.allclose(truncated[0], dcgan.sample(1, seed=3, truncation=0.7)[0], atol=1e-5)


def test_interpolate_refuses_bad_input(dcgan):
    with pytest.raises(GanzooError, match="at least 2 seeds"):
        dcgan.interpolate([1])
    with pytest.raises(GanzooError, match="frames"):
        dcgan.interpolate([1, 2], frames=0)
    with pytest.raises(GanzooError, match="truncation"):
        dcgan.interpolate([1, 2], truncation=0)
    with pytest.raises(GanzooError, match="is a translation model; it has no interpolate"):
        tiny("improved").interpolate([1, 2])


def test_sample_truncation_command(dcgan_folder, tmp_path, capsys):
    plain, truncated = tmp_path / "plain.png", tmp_path / "truncated.png"
    assert run_main(["sample", str(dcgan_folder), "-n", "4", "-o", str(plain)], capsys)[0] == 0
    args = ["sample", str(dcgan_folder), "-n", "4", "--truncation", "0.5", "-o", str(truncated)]
    assert run_main(args, capsys)[0] == 0
    assert plain.read_bytes() != truncated.read_bytes()
    args = ["sample", str(dcgan_folder), "--truncation", "0", "-o", str(tmp_path / "x.png")]
    assert "truncation must be a number above 0" in one_line_error(*run_main(args, capsys)[::2])
    assert not (tmp_path / "x.png").exists()


def test_walk_command_writes_a_gif_and_a_strip(dcgan_folder, tmp_path, capsys):
    gif = tmp_path / "walks" / "walk.gif"
    args = ["sample", str(dcgan_folder), "--interpolate", "3", "--frames", "4", "-o", str(gif)]
    code, out, err = run_main(args, capsys)
    assert code == 0, err
    strip = gif.with_suffix(".png")
    assert out.strip() == f"wrote {gif} and {strip}"
    with Image.open(gif) as img:
        assert img.n_frames == 9 and img.size == (128, 128)  # 32 px enlarged 4x
        assert img.info["loop"] == 0 and img.info["duration"] == 60  # --fps 16, in GIF's 10 ms
    with Image.open(strip) as img:  # a row per pair of seeds, 5 frames each, 2 px padding
        assert img.size == (4 * (2 + 5 * 34), 4 * (2 + 2 * 34))

    code, _, err = run_main(args, capsys)
    assert "--force" in one_line_error(code, err)
    raw = [*args[:-1], str(tmp_path / "raw.gif"), "--raw", "--fps", "5"]
    assert run_main(raw, capsys)[0] == 0
    with Image.open(tmp_path / "raw.gif") as img:
        assert img.size == (32, 32) and img.info["duration"] == 200


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--interpolate", "1"], "--interpolate 1 is not allowed"),
        (["--interpolate", "2", "--truncation", "-1"], "truncation must be a number above 0"),
        (["--interpolate", "2", "--frames", "0"], "--frames 0 is not allowed"),
        (["--interpolate", "2", "-o", "walk.png"], "a walk is written as .gif or .mp4"),
        (["--interpolate", "3", "--seed", "4294967295"], "the walk's last seed"),
    ],
)
def test_walk_command_refuses_bad_input(dcgan_folder, tmp_path, capsys, options, message):
    args = ["sample", str(dcgan_folder), *options]
    if "-o" not in options:
        args += ["-o", str(tmp_path / "walk.gif")]
    code, _, err = run_main(args, capsys)
    assert message in one_line_error(code, err)
    assert not list(tmp_path.glob("walk*"))


def test_walk_of_a_translator_is_one_line(tmp_path, capsys):
    folder = save_pretrained(tiny("improved"), tmp_path / "improved")
    args = ["sample", str(folder), "--interpolate", "2", "-o", str(tmp_path / "walk.gif")]
    assert "no interpolate()" in one_line_error(*run_main(args, capsys)[::2])


def test_walk_as_mp4(dcgan_folder, tmp_path, capsys):
    av = pytest.importorskip("av")
    video = tmp_path / "walk.mp4"
    args = ["sample", str(dcgan_folder), "--interpolate", "2", "--frames", "5", "-o", str(video)]
    args += ["--fps", "10"]
    code, _, err = run_main(args, capsys)
    assert code == 0, err
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        assert stream.average_rate == 10 and (stream.width, stream.height) == (128, 128)
        assert len(list(container.decode(video=0))) == 6
    assert video.with_suffix(".png").is_file()


def test_walk_as_mp4_without_pyav(dcgan_folder, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # `import av` raises ImportError
    args = ["sample", str(dcgan_folder), "--interpolate", "2", "-o", str(tmp_path / "w.mp4")]
    assert 'pip install "ganzoo-core[video]"' in one_line_error(*run_main(args, capsys)[::2])
