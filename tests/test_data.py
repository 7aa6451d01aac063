"""The data layer: sources, bad input, the decode cache, real datasets' lookup, domain pairing.

Every test makes its own small images in tmp_path; none reads ../shared or the network, and the
cache, config and Hugging Face folders all point into tmp_path.
"""

from __future__ import annotations

import builtins
import importlib.util
import io
import os
import pickle
import subprocess
import sys
import tarfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from huggingface_hub import constants as hf_constants
from PIL import Image

from ganzoo.data import cache_root, describe, images, open_dataset, open_domains, real
from ganzoo.data.cache import DataWarning, cache_path
from ganzoo.data.sources import FolderSource, TarSource, snapshot_source
from ganzoo.errors import GanzooError

COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255)]


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No user cache, config, data or network: everything lives in tmp_path."""
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GANZOO_CONFIG", str(tmp_path / "absent-config.yaml"))
    for name in ("GANZOO_DATA", "GANZOO_DATA_ANIME", "GANZOO_DATA_CELEBA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # huggingface_hub read HF_HOME when it was imported: point its cache here too.
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))


def fake_hub_dataset(tmp_path: Path, repo: str) -> Path:
    """An empty snapshot of a Hub dataset in the (test's) Hugging Face cache, as a download
    would leave it; returns the snapshot folder to fill."""
    folder = tmp_path / "hf" / "hub" / f"datasets--{repo.replace('/', '--')}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(commit)
    snapshot = folder / "snapshots" / commit
    snapshot.mkdir(parents=True)
    return snapshot


def solid(colour, size=(32, 32), mode="RGB") -> Image.Image:
    return Image.new(mode, size, colour)


def save(img: Image.Image, path: Path, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, **kwargs)
    return path


def make_folder(folder: Path, n: int = 6, nested=False, size=(32, 32)) -> list[tuple[int, ...]]:
    """n solid-colour PNGs (lossless, so values are exact), named so that sorting keeps order."""
    colours = [COLOURS[i % len(COLOURS)] for i in range(n)]
    for i, colour in enumerate(colours):
        sub = f"d{i % 2}/" if nested else ""
        save(solid(colour, size), folder / f"{sub}img{i:03d}.png")
    return colours


def make_tar(path: Path, folder: Path, arcdir: str = "") -> Path:
    with tarfile.open(path, "w") as tar:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                tar.add(file, arcname=f"{arcdir}{file.relative_to(folder)}")
    return path


def first_pixels(ds) -> list[tuple[int, ...]]:
    return [tuple(ds[i][:, 0, 0].tolist()) for i in range(len(ds))]


# --- sources ------------------------------------------------------------------------------------


def test_folder_yields_uint8_chw(tmp_path):
    colours = make_folder(tmp_path / "imgs", 5)
    ds = open_dataset(str(tmp_path / "imgs"), (16, 24))
    assert len(ds) == 5
    x = ds[0]
    assert x.dtype == torch.uint8 and x.shape == (3, 16, 24)
    assert first_pixels(ds) == colours


def test_nested_folder_tar_and_zip_agree(tmp_path):
    folder = tmp_path / "imgs"
    make_folder(folder, 6, nested=True)
    (folder / "notes.txt").write_text("not an image, and not named like one: ignored")
    tar = make_tar(tmp_path / "imgs.tar", folder)
    with zipfile.ZipFile(tmp_path / "imgs.zip", "w") as archive:
        for file in sorted(folder.rglob("*.png")):
            archive.write(file, file.relative_to(folder))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about
        from_folder = open_dataset(str(folder), (32, 32))
        from_tar = open_dataset(str(tar), (32, 32))
        from_zip = open_dataset(str(tmp_path / "imgs.zip"), (32, 32))
    assert len(from_folder) == len(from_tar) == len(from_zip) == 6
    assert sorted(first_pixels(from_folder)) == sorted(first_pixels(from_tar))
    assert first_pixels(from_zip) == first_pixels(from_folder)  # same sorted names


def test_dataloader_workers_get_the_path_not_the_pages(tmp_path):
    make_folder(tmp_path / "imgs", 8)
    ds = open_dataset(str(tmp_path / "imgs"), (32, 32))
    assert len(pickle.dumps(ds)) < 2000  # 8 images are 24 kB: the map is not pickled
    loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=1)
    batches = list(loader)
    assert [b.shape for b in batches] == [(4, 3, 32, 32)] * 2


# --- bad input ----------------------------------------------------------------------------------


def test_conversions(tmp_path):
    def decode(img: Image.Image, fmt: str = "PNG", size=(32, 32), **kwargs) -> np.ndarray:
        buf = io.BytesIO()
        img.save(buf, format=fmt, **kwargs)
        array, _ = images.decode(buf.getvalue(), size)
        assert array.dtype == np.uint8 and array.shape == (3, *size)
        return array

    grey = decode(solid(100, mode="L"))
    assert (grey == 100).all()

    cmyk = decode(solid((0, 255, 255, 0), mode="CMYK"), "JPEG")  # cyan 0, magenta+yellow: red
    assert cmyk[0].min() > 200 and cmyk[1:].max() < 60

    # Palette with a transparent entry: left half transparent -> white, right half green.
    pal = Image.new("P", (32, 32), 0)
    pal.putpalette([0, 0, 0, 0, 200, 0] + [0] * 762)
    pal.paste(1, (16, 0, 32, 32))
    p = decode(pal, transparency=0)
    assert (p[:, :, :16] == 255).all()
    assert tuple(p[:, 0, 20]) == (0, 200, 0)

    rgba = solid((255, 0, 0, 0), mode="RGBA")  # fully transparent red: composited on white
    rgba.paste((0, 0, 255, 255), (16, 0, 32, 32))
    out = decode(rgba)
    assert (out[:, :, :16] == 255).all() and tuple(out[:, 0, 20]) == (0, 0, 255)

    deep = np.zeros((32, 32), np.uint16)
    deep[:, 8:16], deep[:, 16:] = 32896, 65535
    img16 = Image.fromarray(deep)
    buf = io.BytesIO()
    img16.save(buf, format="PNG")
    assert Image.open(buf).mode.startswith("I")  # really 16-bit on the way in
    out = decode(img16)
    assert out[0, 0, 0] == 0 and out[0, 0, 10] == 128 and out[0, 0, 20] == 255

    array, upscaled = images.decode(_png_bytes(solid((9, 9, 9), (8, 8))), (32, 32))
    assert upscaled and array.shape == (3, 32, 32) and (array == 9).all()


def _png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def make_bad_folder(folder: Path) -> None:
    """4 good images, 4 convertible ones, 1 tiny, and 5 unusable files."""
    make_folder(folder, 4)
    save(solid((0, 255, 255, 0), mode="CMYK"), folder / "cmyk.jpg")
    save(solid(3, mode="P"), folder / "palette.png")
    save(solid((1, 2, 3, 128), mode="RGBA"), folder / "rgba.png")
    save(solid(77, mode="L"), folder / "grey.png")
    save(solid((5, 5, 5), (8, 8)), folder / "tiny.png")
    (folder / "empty.jpg").write_bytes(b"")
    jpeg = io.BytesIO()
    solid((10, 20, 30), (64, 64)).save(jpeg, format="JPEG")
    (folder / "truncated.jpg").write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 2])
    (folder / "text.png").write_text("this is not a PNG")
    save(solid((7, 7, 7), (200, 200)), folder / "huge.png")  # over 2x the patched limit: PIL errors
    save(solid((7, 7, 7), (120, 120)), folder / "big.png")  # over 1x only: PIL would just warn


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_bad_files_are_converted_or_skipped_with_one_warning(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    folder = tmp_path / "bad"
    make_bad_folder(folder)
    with pytest.warns(DataWarning) as caught:
        ds = open_dataset(str(folder), (16, 16))
    assert len(ds) == 9  # 4 good + 4 converted + 1 upscaled
    # pytest shows every warning; outside it, images.py silences PIL's own bomb warning.
    ours = [w for w in caught if w.category is DataWarning]
    assert len(ours) == 1
    line = str(ours[0].message)
    assert "\n" not in line
    assert f"skipped 5 of 14 files in {folder}" in line
    assert "(1 corrupt, 1 empty, 1 not an image, 2 too large)" in line
    assert "upscaled 1 of 9 images" in line
    # Opening again reads the cache, and says the same once more.
    with pytest.warns(DataWarning, match="skipped 5 of 14"):
        assert len(open_dataset(str(folder), (16, 16))) == 9


def _deny(monkeypatch, locked: Path, kind: str) -> None:
    """Makes a folder or file unreadable: chmod where that works, else (as root) a patched call."""
    if os.geteuid() != 0:
        locked.chmod(0)
        return
    if kind == "folder":
        real_scandir = os.scandir

        def scandir(path="."):
            if Path(path) == locked:
                raise PermissionError(13, "Permission denied", str(path))
            return real_scandir(path)

        monkeypatch.setattr(os, "scandir", scandir)
    else:
        real_open = builtins.open

        def fake_open(file, *args, **kwargs):
            if isinstance(file, (str, Path)) and Path(file) == locked:
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", fake_open)


def test_unreadable_folder_and_file_are_skipped_and_counted(tmp_path, monkeypatch):
    folder = tmp_path / "imgs"
    make_folder(folder, 3)
    make_folder(folder / "locked", 2)
    save(solid((1, 2, 3)), folder / "secret.png")
    try:
        _deny(monkeypatch, folder / "locked", "folder")
        _deny(monkeypatch, folder / "secret.png", "file")
        with pytest.warns(DataWarning) as caught:
            ds = open_dataset(str(folder), (32, 32))
    finally:
        (folder / "locked").chmod(0o755)
        (folder / "secret.png").chmod(0o644)
    assert len(ds) == 3
    assert len(caught) == 1
    line = str(caught[0].message)
    assert "skipped 1 of 4 files" in line and "(1 unreadable)" in line
    assert "skipped 1 unreadable folder" in line


def test_empty_or_unusable_dataset_is_one_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(GanzooError, match="no image files in") as err:
        open_dataset(str(tmp_path / "empty"), (32, 32))
    assert "\n" not in str(err.value)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.jpg").write_bytes(b"")
    (bad / "b.png").write_text("text")
    with pytest.raises(GanzooError, match=r"no usable images in .*\(1 empty, 1 not an image\)"):
        open_dataset(str(bad), (32, 32))
    assert not list(cache_root().glob("*.npy"))


def test_unknown_specs(tmp_path):
    with pytest.raises(GanzooError, match="registered dataset .*anime.*folder.*tar.*zip.*hf://"):
        open_dataset("no-such-thing", (32, 32))
    with pytest.raises(GanzooError, match="no such file or folder"):
        open_dataset(str(tmp_path / "missing.tar"), (32, 32))
    with pytest.raises(GanzooError, match="hf://datasets/ORG/NAME"):
        open_dataset("hf://someone/model", (32, 32))
    with pytest.raises(GanzooError, match="HF_HUB_OFFLINE") as err:
        open_dataset("hf://datasets/someone/faces", (32, 32))
    assert "\n" not in str(err.value)
    (tmp_path / "fake.tar").write_text("not a tar")
    with pytest.raises(GanzooError, match="cannot read archive"):
        open_dataset(str(tmp_path / "fake.tar"), (32, 32))


def test_parquet_needs_pyarrow(tmp_path):
    if importlib.util.find_spec("pyarrow"):
        pytest.skip("pyarrow is installed")
    (tmp_path / "shards").mkdir()
    (tmp_path / "shards" / "train-00000.parquet").write_bytes(b"PAR1")
    with pytest.raises(GanzooError, match="pip install pyarrow"):
        open_dataset(str(tmp_path / "shards"), (32, 32))


def test_hub_dataset_from_the_hugging_face_cache(tmp_path):
    snapshot = fake_hub_dataset(tmp_path, "org/faces")
    make_folder(snapshot / "images", 3)
    source = snapshot_source(snapshot, "org/faces")
    assert source.label == "hf://datasets/org/faces"
    assert source.fingerprint() == f"hub:org/faces@{snapshot.name}"  # the commit names the content
    ds = open_dataset("hf://datasets/org/faces", (16, 16))  # offline: found in the cache
    assert len(ds) == 3 and ds[0].shape == (3, 16, 16)


# --- the decode cache -----------------------------------------------------------------------------


def _forbid_decoding(monkeypatch) -> None:
    def fail(*args, **kwargs):
        raise AssertionError("decoded although the cache should have been used")

    monkeypatch.setattr(images, "decode", fail)


def test_second_open_decodes_nothing(tmp_path, monkeypatch):
    make_folder(tmp_path / "imgs", 6)
    first = open_dataset(str(tmp_path / "imgs"), (16, 16))
    _forbid_decoding(monkeypatch)
    again = open_dataset(str(tmp_path / "imgs"), (16, 16))
    assert torch.equal(torch.stack(list(first)), torch.stack(list(again)))
    with pytest.raises(AssertionError, match="decoded"):  # another size is another cache
        open_dataset(str(tmp_path / "imgs"), (8, 8))


def test_cache_key_follows_content(tmp_path):
    folder = tmp_path / "imgs"
    make_folder(folder, 4)
    tar = make_tar(tmp_path / "a.tar", folder)
    before = cache_path(TarSource(tar), (16, 16), "center")
    old = open_dataset(str(tar), (16, 16))[0]
    save(solid((10, 20, 30)), folder / "img000.png")  # same name, same size, new content
    make_tar(tar, folder)
    after = cache_path(TarSource(tar), (16, 16), "center")
    assert after != before
    new = open_dataset(str(tar), (16, 16))[0]
    assert tuple(old[:, 0, 0].tolist()) == COLOURS[0]
    assert tuple(new[:, 0, 0].tolist()) == (10, 20, 30)
    # Folders: a rewritten file changes the listing's (name, size, mtime).
    key = FolderSource(folder).fingerprint()
    save(solid((1, 2, 3), (33, 32)), folder / "img001.png")
    assert FolderSource(folder).fingerprint() != key
    # The preprocessing is part of the key.
    assert cache_path(TarSource(tar), (16, 16), "face") != after


def test_interrupted_build_leaves_nothing_trusted(tmp_path, monkeypatch):
    make_folder(tmp_path / "imgs", 6)
    real_decode = images.decode
    calls = []

    def dies_midway(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(images, "decode", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        open_dataset(str(tmp_path / "imgs"), (16, 16))
    assert not list(cache_root().glob("*.npy")) and not list(cache_root().glob("*.tmp*"))
    monkeypatch.setattr(images, "decode", real_decode)
    assert len(open_dataset(str(tmp_path / "imgs"), (16, 16))) == 6


def test_partial_or_leftover_files_are_not_trusted(tmp_path, monkeypatch):
    folder = tmp_path / "imgs"
    colours = make_folder(folder, 6)
    path = cache_path(FolderSource(folder), (16, 16), "center")
    path.parent.mkdir(parents=True)
    # What a process killed by SIGKILL leaves: a temp file; and a final file cut short.
    (path.parent / f"{path.name}.tmp4242").write_bytes(b"\x93NUMPY half written")
    open_dataset(str(folder), (16, 16))
    assert not (path.parent / f"{path.name}.tmp4242").exists()
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    real_decode = images.decode
    calls = []
    monkeypatch.setattr(images, "decode", lambda *a, **k: calls.append(1) or real_decode(*a, **k))
    ds = open_dataset(str(folder), (16, 16))
    assert len(calls) == 6  # rebuilt, not trusted
    assert first_pixels(ds) == colours
    assert path.read_bytes() == whole


# --- the real datasets ----------------------------------------------------------------------------


def test_celeba_crop_keeps_the_aspect_and_centres_the_face(tmp_path, monkeypatch):
    # 178x218 white, with a red row at the face centre (y=120), a blue band at the top (y<4),
    # and a green column at the centre (x=89).
    pixels = np.full((218, 178, 3), 255, np.uint8)
    pixels[119:122] = (255, 0, 0)
    pixels[:4] = (0, 0, 255)
    pixels[:, 88:91] = (0, 255, 0)
    folder = tmp_path / "celeba-faces"
    save(Image.fromarray(pixels), folder / "000001.png")
    monkeypatch.setenv("GANZOO_DATA_CELEBA", str(folder))

    paper = real.celeba(size=(160, 128))  # 128x160, W x H
    x = paper[0].numpy().astype(int)
    assert x.shape == (3, 160, 128)
    red_row = np.argmax((x[0] - x[1])[:, 20])  # away from the green column
    assert abs(red_row - 120 * 160 / 218) <= 1  # the whole height is kept: rows scale by 160/218
    assert x[2, 1, 20] > 200 and x[0, 1, 20] < 60  # the top band is still there
    green_col = np.argmax((x[1] - x[0])[80])
    assert abs(green_col - 64) <= 1  # 1.8 px trimmed each side only

    square = real.celeba(size=(64, 64))
    y = square[0].numpy().astype(int)
    assert y.shape == (3, 64, 64)
    assert abs(np.argmax((y[0] - y[1])[:, 10]) - 32) <= 1  # the face centre is the centre
    assert y[0, 0, 10] > 200  # white, not the blue top band: it is cropped away
    assert abs(np.argmax((y[1] - y[0])[40]) - 32) <= 1


def _anime_tar(folder: Path, n: int) -> Path:
    """A small anime-faces-64.tar inside ``folder``, shaped like the real one."""
    images_dir = folder / "src"
    make_folder(images_dir, n, size=(64, 64))
    return make_tar(folder / "anime-faces-64.tar", images_dir, arcdir="anime-faces-64/")


def test_anime_resolution_order(tmp_path, monkeypatch):
    env_dir, root_dir, direct_dir, config_dir = (tmp_path / d for d in ("env", "root", "d", "c"))
    _anime_tar(env_dir, 3)
    monkeypatch.setenv("GANZOO_DATA", str(env_dir))
    assert len(real.anime()) == 3
    info = describe("anime")
    assert info["present"] is True and "GANZOO_DATA" in info["found"] and info["images"] == 3
    assert info["hub"].endswith("huggan/anime-faces") and info["licence"]

    _anime_tar(root_dir, 4)
    assert len(real.anime(root=str(root_dir))) == 4  # --data-root comes first

    make_folder(direct_dir / "faces", 5, size=(64, 64))
    monkeypatch.setenv("GANZOO_DATA_ANIME", str(direct_dir / "faces"))
    assert len(real.anime()) == 5  # the direct path beats GANZOO_DATA
    monkeypatch.setenv("GANZOO_DATA_ANIME", str(tmp_path / "missing"))
    with pytest.raises(GanzooError, match="GANZOO_DATA_ANIME .*missing does not exist"):
        real.anime()

    monkeypatch.delenv("GANZOO_DATA_ANIME")
    monkeypatch.delenv("GANZOO_DATA")
    make_folder(config_dir / "mine", 2, size=(64, 64))
    config = config_dir / "config.yaml"
    config.write_text("data:\n  anime: mine\n")  # relative to the config file
    monkeypatch.setenv("GANZOO_CONFIG", str(config))
    assert len(open_dataset("anime", (64, 64))) == 2


def test_anime_from_the_hub_cache_when_nothing_local(tmp_path):
    make_folder(fake_hub_dataset(tmp_path, "huggan/anime-faces") / "images", 4, size=(64, 64))
    assert len(real.anime()) == 4
    assert "Hugging Face cache" in describe("anime")["found"]


def test_missing_real_data_says_how_to_get_it(tmp_path):
    with pytest.raises(GanzooError) as err:
        real.anime()
    message = str(err.value)
    assert "\n" not in message
    for hint in ("GANZOO_DATA", "anime-faces-64.tar", "huggan/anime-faces", "--data"):
        assert hint in message
    info = describe("anime")  # describing never downloads, and never fails for missing data
    assert info["present"] is False and "GANZOO_DATA" in info["found"]


def test_describe_does_not_import_torch(tmp_path):
    code = "import sys, ganzoo.data as d; d.describe('celeba'); assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, env=os.environ.copy())


# --- domains --------------------------------------------------------------------------------------


def test_open_domains_pairs_source_and_target(tmp_path, monkeypatch):
    data = tmp_path / "data"
    _anime_tar(data, 3)
    make_folder(data / "celeba-faces", 2)
    monkeypatch.setenv("GANZOO_DATA", str(data))

    only = open_domains("anime", ("target",), (32, 32))
    assert list(only) == ["target"] and len(only["target"]) == 3
    pair = open_domains("anime", ("source", "target"), (32, 32))  # anime's source: celeba
    assert len(pair["source"]) == 2 and len(pair["target"]) == 3
    assert pair["source"][0].shape == pair["target"][0].shape == (3, 32, 32)

    folder = tmp_path / "mine"
    make_folder(folder, 4)
    with pytest.raises(GanzooError, match="pass --source"):
        open_domains(str(folder), ("source", "target"), (32, 32))
    mine = open_domains(str(folder), ("source", "target"), (32, 32), source="anime")
    assert len(mine["source"]) == 3 and len(mine["target"]) == 4


# --- a plugin's dataset -----------------------------------------------------------------------

FFHQ_MANIFEST = """
MANIFEST = {
    "datasets": {
        "ffhq": {
            "builder": "ffhqfake.data:ffhq",
            "describe": "ganzoo.data.real:describe",
            "summary": "portraits for the test, found like any dataset of files",
            "provenance": "Flickr-Faces-HQ portraits (the test's stand-in)",
            "homepage": "https://example.org/ffhq",
            "licence": "CC BY-NC-SA 4.0, each photo under its own Flickr licence",
            "crop": "face",
            "source": "ffhq/sketch",
        },
        "ffhq/sketch": {
            "builder": "ffhqfake.data:sketch",
            "summary": "the same portraits, with their colour known",
            "provenance": "sketches of the portraits",
            "licence": "made by the test",
        },
    },
}
"""

FFHQ_DATA = f"""
import numpy as np

from ganzoo.data.real import open_real

COLOURS = {COLOURS!r}


def ffhq(size=(64, 64), root=None):
    return open_real("ffhq", size, root)


class Labelled:
    # what evaluation may use besides len and getitem: a batched fetch and known attributes
    def __init__(self, inner):
        self.inner = inner
        self.batched_fetches = 0

    def __len__(self):
        return len(self.inner)

    def __getitem__(self, index):
        return self.inner[index]

    def __getitems__(self, indices):
        self.batched_fetches += 1
        return [self.inner[i] for i in indices]

    def attribute_array(self, indices):
        centre = [tuple(self.inner[int(i)][:, 16, 16].tolist()) for i in indices]
        return np.array([[COLOURS.index(c)] for c in centre])


def sketch(size=(64, 64), root=None):
    return Labelled(open_real("ffhq", size, root))
"""


@pytest.fixture
def ffhq_plugin(tmp_path, monkeypatch) -> Path:
    """The installed throwaway plugin ``ffhqfake``, which registers ``ffhq`` and ``ffhq/sketch``
    and nothing else; its images are in ``GANZOO_DATA/ffhq/`` (the default folder name). Returns
    that folder: six 32x48 portraits in solid colours with a dark band at the top."""
    from ganzoo.registry import registry

    site = tmp_path / "site"
    (site / "ffhqfake").mkdir(parents=True)
    (site / "ffhqfake" / "__init__.py").write_text("")
    (site / "ffhqfake" / "manifest.py").write_text(FFHQ_MANIFEST)
    (site / "ffhqfake" / "data.py").write_text(FFHQ_DATA)
    info = site / "ffhqfake-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ffhqfake\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[ganzoo.plugins]\nffhqfake = ffhqfake.manifest:MANIFEST\n"
    )
    folder = tmp_path / "data" / "ffhq"
    for i, colour in enumerate(COLOURS):
        pixels = np.full((48, 32, 3), colour, np.uint8)
        pixels[:10] = 20  # inside a centre crop of the square (rows 8..39), outside a face crop
        save(Image.fromarray(pixels), folder / f"{i:05d}.png")
    monkeypatch.setenv("GANZOO_DATA", str(folder.parent))
    monkeypatch.syspath_prepend(str(site))
    registry.cache_clear()
    yield folder
    registry.cache_clear()
    for name in [m for m in sys.modules if m.startswith("ffhqfake")]:
        del sys.modules[name]


def test_plugin_dataset_is_found_described_and_cropped_as_it_declares(ffhq_plugin, monkeypatch):
    from ganzoo.cli.inference import input_crop
    from ganzoo.data import source_domain

    info = describe("ffhq")
    assert info["summary"].startswith("portraits") and info["licence"].startswith("CC BY-NC-SA")
    assert info["present"] is True and info["images"] == 6 and "GANZOO_DATA" in info["found"]
    assert "GANZOO_DATA_FFHQ=PATH" in info["resolution_order"]["2"]  # a default, not declared
    assert "hub" not in info and len(info["resolution_order"]) == 3  # no Hub copy declared

    faces = open_dataset("ffhq", (32, 32))
    first = (ffhq_plugin / "00000.png").read_bytes()
    assert torch.equal(faces[0], torch.from_numpy(images.decode(first, (32, 32), "face")[0]))
    assert tuple(faces[0][:, 0, 16].tolist()) == COLOURS[0]  # the face crop left the band out
    centred = open_dataset(str(ffhq_plugin), (32, 32))  # a folder: the centre crop keeps it
    assert tuple(centred[0][:, 0, 16].tolist()) == (20, 20, 20)

    # the translator's default source domain, and how `ganzoo translate` crops each side
    assert source_domain("ffhq") == "ffhq/sketch"
    pair = open_domains("ffhq", ("source", "target"), (32, 32))
    assert len(pair["source"]) == len(pair["target"]) == 6
    trained = {"run": {"data": "ffhq"}}
    assert input_crop(trained, reverse=True) == "face" and input_crop(trained) == "center"

    missing = ffhq_plugin.parent / "elsewhere"
    missing.mkdir()
    monkeypatch.setenv("GANZOO_DATA", str(missing))
    with pytest.raises(GanzooError, match="ffhq data not found.*ffhq.tar or ffhq/") as err:
        open_dataset("ffhq", (32, 32))
    assert "Hub" not in str(err.value)


def test_plugin_dataset_shows_in_model_cards_and_evaluation(ffhq_plugin, monkeypatch):
    import ganzoo
    import ganzoo.evaluate as ev
    from ganzoo.hub.cards import render_model_card
    from ganzoo.metrics.base import Metric, MetricResult
    from ganzoo.models import make_config

    card = render_model_card(make_config("improved"), data="ffhq")
    assert card.data.datasets == ["ffhq/sketch", "ffhq"] and card.data.license == "other"
    text = card.text
    assert "Trained on sketches of the portraits (source domain) and Flickr-Faces-HQ" in text
    assert "Terms of the training data: CC BY-NC-SA 4.0" in text and "made by the test" in text
    assert render_model_card(make_config("dcgan"), data="ffhq").data.license == "other"

    class Translator:  # an identity translator at the plugin data's size
        task = "translation"
        image_size = (32, 32)

        def translate(self, images):
            return images

    class Spy(Metric):
        name = "spy"

        def compute(self, fake, real, *, context):
            self.context = context
            return MetricResult(self.name, {"n": float(len(fake))}, "spy", context.data)

    spy = Spy()
    monkeypatch.setattr(ganzoo, "load", lambda model, device=None: Translator())
    monkeypatch.setattr(ev, "load_metrics", lambda names: [spy])
    (result,) = ev.evaluate("stand-in", "ffhq", ["spy"], n=4, device="cpu")
    context = spy.context
    assert context.source_dataset.batched_fetches == 1  # the dataset's own batched fetch
    colours = [COLOURS.index(tuple(image[:, 16, 16].tolist())) for image in context.source]
    assert context.source_attributes.tolist() == [[c] for c in colours]  # of those very images
    assert "real: 4 of the 6 images of ffhq" in result.protocol
