"""Video in and out, through PyAV (the ``ganzoo-core[video]`` extra; its wheel carries FFmpeg
and its codecs, so nothing else needs installing).

``ganzoo translate MODEL clip.mp4 -o out.mp4`` translates every frame: each is cropped and resized
as the model's source data was (``ganzoo.data.images``, the same code as for photos), translated
in batches and written at the input's frame rate (``ganzoo.cli.inference.translate_video``,
with this module's reading and writing). Only the picture is kept: audio, subtitles and
chapters are dropped (a translator changes no sound, and a muxed copy would need re-timing).
``ganzoo sample --interpolate`` writes its walks with ``write_video`` when asked for an .mp4.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from ganzoo.errors import GanzooError, first_line

#: what ``ganzoo translate`` reads as a video (by name; the content is then checked by FFmpeg)
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".wmv", ".flv")
#: what can be written: suffix -> FFmpeg's container name (atomic_write's temporary file has
#: another suffix, so the container is named rather than guessed from the file name)
WRITABLE = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
FALLBACK_FPS = Fraction(25)  # a stream that states no rate at all (rare): PAL's


def require_av():
    """PyAV, or one line saying how to get it."""
    try:
        import av
    except ImportError:
        raise GanzooError(
            'reading and writing video needs PyAV: pip install "ganzoo-core[video]"'
        ) from None
    return av


def is_video_name(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def check_writable(path: str | os.PathLike) -> None:
    if Path(path).suffix.lower() not in WRITABLE:
        raise GanzooError(f"{path}: video is written as {', '.join(WRITABLE)}; name it so")


def _codec(av) -> str:
    # H.264 plays everywhere; MPEG-4 part 2 is FFmpeg's own encoder, in every build
    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


class VideoWriter:
    """Frames (uint8 ``[N, 3, H, W]`` tensors) into a video file at ``fps`` frames a second."""

    def __init__(self, path: Path, container: str, fps: Fraction, height: int, width: int):
        av = require_av()
        self.container = av.open(str(path), "w", format=container)
        self.stream = self.container.add_stream(_codec(av), rate=fps)
        # yuv420p, which every player takes, halves the chroma: both sides must be even
        self.stream.width, self.stream.height = width + width % 2, height + height % 2
        self.stream.pix_fmt = "yuv420p"
        if self.stream.codec_context.name == "libx264":
            self.stream.options = {"crf": "18"}  # x264's "visually lossless" (default 23)
        self.frames = 0

    def write(self, images: torch.Tensor) -> None:
        import av

        for image in images:
            pixels = image.permute(1, 2, 0).numpy()
            rows, cols = self.stream.height - pixels.shape[0], self.stream.width - pixels.shape[1]
            pixels = np.pad(pixels, ((0, rows), (0, cols), (0, 0)), mode="edge")  # odd sizes
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            self.container.mux(self.stream.encode(frame))
            self.frames += 1

    def close(self) -> None:
        self.container.mux(self.stream.encode())  # the frames the encoder still holds
        self.container.close()


def write_video(path: Path, frames: torch.Tensor, fps: Fraction | int) -> None:
    """uint8 frames ``[N, 3, H, W]`` as the video ``path`` (written atomically)."""
    from ganzoo.io.files import atomic_write

    check_writable(path)
    height, width = frames.shape[-2:]

    def encode(tmp: Path) -> None:
        writer = VideoWriter(tmp, WRITABLE[path.suffix.lower()], Fraction(fps), height, width)
        writer.write(frames)
        writer.close()

    atomic_write(path, encode)


def open_video(path: Path):
    av = require_av()
    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise GanzooError(f"{path} is not a readable video ({first_line(exc)})") from None
    if not container.streams.video:
        container.close()
        raise GanzooError(f"{path} has no video stream")
    return container


def read_frames(container, path: Path) -> Iterator[np.ndarray]:
    """The video's frames as RGB ``[h, w, 3]`` arrays, upright."""
    import av

    try:
        for frame in container.decode(video=0):
            pixels = frame.to_ndarray(format="rgb24")
            # phone clips are stored sideways with a display matrix, as photos with EXIF:
            # ``rotation`` is the counterclockwise turn that shows them upright
            turns = round(frame.rotation / 90) % 4
            yield np.ascontiguousarray(np.rot90(pixels, turns)) if turns else pixels
    except av.FFmpegError as exc:
        raise GanzooError(f"{path} is damaged: {first_line(exc)}") from None
