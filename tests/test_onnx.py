"""ONNX export: the files onnxruntime runs give what PyTorch gives, at any batch size."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import ganzoo
from ganzoo.cli import main
from ganzoo.io.checkpoints import save_checkpoint
from ganzoo.models import build, make_config

TINY = {"size": 32, "generator_args": {"width": 8}, "discriminator_args": {"width": 8}}
TOLERANCE = 1e-4  # fp32


@pytest.fixture(scope="module")
def ort():
    """onnxruntime, and the exporter's onnxscript (the ganzoo-core[onnx] extra, which .ci/run
    installs)."""
    pytest.importorskip("onnxscript")
    return pytest.importorskip("onnxruntime")


def session(ort, path: Path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def tiny_run(root: Path, model: str) -> Path:
    """A run directory with one checkpoint, as the training engine writes it."""
    torch.manual_seed(0)
    gan = build(make_config(model, overrides=TINY))
    (root / "checkpoints").mkdir(parents=True)
    (root / "config.json").write_text(json.dumps({**gan.config, "run": {"data": "toon"}}))
    state = {"model": gan.state_dict(), "optimizers": {}, "rng": torch.get_rng_state()}
    save_checkpoint(root / "checkpoints" / "step-1.safetensors", 1, state)
    return root


def test_unconditional_generator_matches_pytorch(ort, tmp_path, one_torch_thread):
    torch.manual_seed(0)
    gan = build(make_config("dcgan", overrides=TINY), training=False)
    [path] = ganzoo.export_onnx(gan, tmp_path / "onnx")
    assert path.name == "generator.onnx"
    onnx_gen = session(ort, path)
    assert [i.name for i in onnx_gen.get_inputs()] == ["noise"]
    for batch in (1, 5):  # dynamic batch: neither is the traced batch of 2
        noise = torch.randn(batch, gan.generator.latent_dim)
        with torch.no_grad():
            expected = ganzoo.models.to_unit(gan.generator.eval()(noise)).numpy()
        [image] = onnx_gen.run(None, {"noise": noise.numpy()})
        assert image.shape == (batch, 3, 32, 32)
        assert np.abs(image - expected).max() <= TOLERANCE


def test_export_onnx_command_writes_both_translators(ort, tmp_path, capsys, one_torch_thread):
    run = tiny_run(tmp_path / "run", "improved")
    out = tmp_path / "out"
    main(["export", str(run), str(out), "--onnx"])  # an error would exit non-zero
    assert f"wrote {out / 'generator_reverse.onnx'}" in capsys.readouterr().out
    assert {p.name for p in out.iterdir()} >= {
        "model.safetensors",
        "generator.onnx",
        "generator_reverse.onnx",
    }
    gan = ganzoo.load(str(out), device="cpu")  # the .onnx files do not upset loading
    photos = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    for name, reverse in (("generator", False), ("generator_reverse", True)):
        [image] = session(ort, out / f"{name}.onnx").run(None, {"image": photos.numpy()})
        expected = gan.translate(photos, reverse=reverse).numpy()
        assert image.shape == (3, 3, 32, 32)
        assert np.abs(image - expected).max() <= TOLERANCE, name


def test_without_the_extra_export_is_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    run = tiny_run(tmp_path / "run", "dcgan")
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # as if not installed
    with pytest.raises(SystemExit) as exit_info:
        main(["export", str(run), str(tmp_path / "out"), "--onnx"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err == "error: ONNX export needs the onnx extra: pip install 'ganzoo-core[onnx]'\n"
    assert not (tmp_path / "out").exists()
