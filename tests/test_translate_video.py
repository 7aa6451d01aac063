"""`ganzoo translate` on a video (the ganzoo-core[video] extra, PyAV), and on inputs none of which
is readable."""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import run_main
from PIL import Image

from ganzoo.data.images import crop_box, resized_crop
from ganzoo.hub import save_pretrained
from ganzoo.models import build, make_config

TINY = {"size": 32, "generator_args": {"width": 8}, "discriminator_args": {"width": 8}}
FRAMES, FPS, WIDTH, HEIGHT = 7, Fraction(12), 40, 64  # portrait: face and centre crops differ


@pytest.fixture(scope="module")
def translator(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    gan = build(make_config("improved", overrides=TINY), training=False)
    gan.config["run"] = {"data": "anime"}  # trained on celeba -> anime: inputs get the face crop
    return save_pretrained(gan, tmp_path_factory.mktemp("models") / "improved")


def one_line_error(code: int, err: str) -> str:
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def synthetic_frames() -> list[np.ndarray]:
    """Frames that differ, with horizontal stripes: a crop 3 px higher or lower shows."""
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH]
    stripes = (rows // 4 % 2) * 255
    frames = [np.stack([cols * 6 + i * 20, stripes, rows * 0 + i * 30], -1) for i in range(FRAMES)]
    return [frame.astype(np.uint8) for frame in frames]


def make_clip(path: Path, sound: bool = True) -> None:
    """A short clip written with PyAV: H.264 frames and a moment of silence (AAC)."""
    import av

    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        audio = container.add_stream("aac", rate=44100) if sound else None
        for pixels in synthetic_frames():
            container.mux(video.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(video.encode())
        if audio is not None:
            silence = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
            )
            silence.sample_rate, silence.pts = 44100, 0
            container.mux(audio.encode(silence))
            container.mux(audio.encode())


def test_translate_a_video(translator, tmp_path, capsys):
    av = pytest.importorskip("av")
    clip, out = tmp_path / "clip.mp4", tmp_path / "out" / "anime.mp4"
    make_clip(clip)
    args = ["translate", str(translator), str(clip), "-o", str(out)]
    with pytest.warns(UserWarning, match=r"clip.mp4 has sound; .* has none"):
        code, stdout, err = run_main(args, capsys)
    assert code == 0, err
    assert stdout.strip() == f"wrote {FRAMES} frames at 12 fps to {out}"
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.average_rate == FPS and not container.streams.audio
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == FRAMES and frames[0].shape == (32, 32, 3)

    # each frame is cropped as a source image is (celeba's face crop) and then translated
    with av.open(str(clip)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="rgb24")
    from ganzoo import load
    from ganzoo.cli.inference import input_crop

    gan = load(str(translator), device="cpu")
    assert input_crop(gan.config) == "face"

    def distance(crop: str) -> float:
        """Mean distance of the output's first frame to the translation of ``crop``."""
        box = crop_box(WIDTH, HEIGHT, (32, 32), crop)
        source = torch.from_numpy(resized_crop(first, box, (32, 32)))[None].float() / 255
        expected = gan.translate(source)[0].permute(1, 2, 0).numpy() * 255
        return float(np.abs(frames[0] - expected).mean())

    # H.264 (4:2:0 colour) keeps a small untrained model's noisy output only to ~7 levels
    assert distance("face") < 10 and distance("center") > 2 * distance("face")

    code, _, err = run_main(args, capsys)
    assert "--force" in one_line_error(code, err)


def test_video_errors(translator, tmp_path, capsys):
    pytest.importorskip("av")
    clip = tmp_path / "clip.mp4"
    make_clip(clip, sound=False)
    cases = [
        ([str(clip), str(clip)], "out.mp4", "a video is translated on its own"),
        ([str(clip)], "out.avi", "video is written as .mp4"),
        ([str(tmp_path / "missing.mp4")], "out.mp4", "no such file"),
    ]
    broken = tmp_path / "broken.mov"
    broken.write_bytes(b"not a video at all")
    cases.append(([str(broken)], "out.mp4", "broken.mov is not a readable video"))
    photo = tmp_path / "photo.png"
    Image.new("RGB", (40, 40), (10, 200, 30)).save(photo)
    cases.append(([str(photo)], "out.mp4", "names a video, but the inputs are images"))
    for inputs, output, message in cases:
        args = ["translate", str(translator), *inputs, "-o", str(tmp_path / output)]
        assert message in one_line_error(*run_main(args, capsys)[::2])
        assert not (tmp_path / output).exists()
    assert not list(tmp_path.glob(".out.*"))  # no temporary file left behind


def test_video_without_pyav_is_one_line(translator, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # `import av` raises ImportError
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\0" * 64)  # never read: the missing extra is found first
    args = ["translate", str(translator), str(clip), "-o", str(tmp_path / "out.mp4")]
    line = one_line_error(*run_main(args, capsys)[::2])
    assert line == 'error: reading and writing video needs PyAV: pip install "ganzoo-core[video]"'


def test_translate_with_no_readable_input_fails(translator, tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.png").write_bytes(b"not an image")
    (photos / "b.jpg").write_bytes(b"")
    out = tmp_path / "anime"
    code, stdout, err = run_main(
        ["translate", str(translator), str(photos), "-o", str(out)], capsys
    )
    line = one_line_error(code, err)
    assert "none of the 2 input file(s) is a readable image" in line and "nothing written" in line
    assert stdout == "" and not out.exists()
