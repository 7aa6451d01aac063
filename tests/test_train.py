"""The training engine: run directories, exact resume, faults, precision, torchrun."""

from __future__ import annotations

import csv
import json
import os
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import ganzoo
from ganzoo.errors import GanzooError
from ganzoo.io.checkpoints import list_checkpoints, load_checkpoint
from ganzoo.io.images import save_preview_grid
from ganzoo.optim import lr_factor
from ganzoo.training.batches import random_flips
from ganzoo.training.train import TrainOptions, train

TINY = {
    "dcgan": {
        "size": 32,
        "batch_size": 4,
        "generator_args": {"width": 8},
        "discriminator_args": {"width": 8},
    },
    "wgan": {
        "size": 32,
        "batch_size": 4,
        "generator_args": {"width": 8},
        "discriminator_args": {"width": 8},
    },
    "improved": {
        "size": 32,
        "batch_size": 2,
        "generator_args": {"width": 8},
        "discriminator_args": {"width": 8},
        "pool_size": 4,
    },
    "cut": {
        "size": 32,
        "batch_size": 2,
        "generator_args": {"width": 8, "blocks": 1},
        "discriminator_args": {"width": 8},
        "nce_patches": 16,
    },
}


def options(tmp_path: Path, model="dcgan", steps=6, name="run", **extra) -> TrainOptions:
    overrides = {
        **TINY[model],
        "steps": steps,
        "log_every": 2,
        "sample_every": 3,
        "checkpoint_every": 3,
        **extra,
    }
    return TrainOptions(
        model=model,
        data="toon",
        overrides=overrides,
        out=str(tmp_path / name),
        device="cpu",
        quiet=True,
        seed=3,
        threads=1,  # fixed: auto would follow whatever else this machine runs
    )


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))


def final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    step, path = list_checkpoints(run_dir)[-1]
    return {k: v for k, v in load_file(str(path)).items() if k.startswith("model/")}


def test_run_directory_has_everything(tmp_path):
    run_dir = train(options(tmp_path, "dcgan", steps=6))
    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"] == "dcgan" and config["recipe"]["steps"] == 6
    assert config["run"]["seed"] == 3 and "torch" in config["run"]["versions"]
    assert [s for s, _ in list_checkpoints(run_dir)] == [3, 6]
    assert (run_dir / "samples" / "step-3.png").is_file()
    with Image.open(run_dir / "samples" / "step-6.png") as grid:  # 8x8 of 32 px, enlarged 4x
        assert grid.size == (4 * (8 * 34 + 2),) * 2
    # the grids' inputs are kept: the last model draws its own grid again from them
    inputs = load_file(str(run_dir / "samples" / "preview-inputs.safetensors"))["inputs"]
    again = tmp_path / "again.png"
    save_preview_grid(ganzoo.load(str(run_dir), device="cpu").preview(inputs), again, group=1)
    assert again.read_bytes() == (run_dir / "samples" / "step-6.png").read_bytes()
    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    assert [int(r["step"]) for r in rows] == [2, 4, 6]
    assert all(float(r["loss_d"]) == float(r["loss_d"]) for r in rows)  # logged, not NaN
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    assert (run_dir / "losses.png").stat().st_size > 1000
    export = run_dir / "export"
    assert {"config.json", "model.safetensors", "README.md"} <= {p.name for p in export.iterdir()}
    exported = load_file(str(export / "model.safetensors"))
    assert exported and all(k.startswith("generator.") for k in exported)


def test_keeps_last_k_checkpoints(tmp_path):
    run_dir = train(options(tmp_path, "dcgan", steps=8, checkpoint_every=2, keep_checkpoints=2))
    assert [s for s, _ in list_checkpoints(run_dir)] == [6, 8]


# the last case: a discriminator with state of its own (spectral norm's power-iteration
# vectors) that scores packs of images, and a loss with a penalty (R1)
@pytest.mark.parametrize(
    ("model", "extra"),
    [
        ("dcgan", {}),
        ("wgan", {}),
        ("improved", {}),
        # the improved plugin's anime signals: PatchNCE heads, extra fakes, a third discriminator
        (
            "improved",
            {
                "lambda_nce": 1.0,
                "nce_patches": 16,
                "extra_fakes": "grey,smooth",
                "lambda_surface": 1.0,
            },
        ),
        ("cut", {}),
        (  # the reference's remaining choices, and randomly mirrored training images
            "cut",
            {
                "generator_args": {"width": 8, "blocks": 1, "antialias": True},
                "discriminator_args": {"width": 8, "antialias": True},
                "flip_equivariance": True,
                "flip": True,
            },
        ),
        (
            "dcgan",
            {
                "discriminator_args": {
                    "width": 8,
                    "norm": "none",
                    "spectral_norm": True,
                    "pack": 2,
                },
                "loss_args": {"r1_gamma": 0.1},
            },
        ),
    ],
)
def test_resume_is_bit_identical(tmp_path, model, extra):
    whole = train(options(tmp_path, model, steps=8, name="whole", **extra))
    part = train(options(tmp_path, model, steps=4, name="part", **extra))
    resumed = train(
        TrainOptions(
            model=model,
            data="toon",
            resume=str(part),
            overrides={"steps": 8},
            device="cpu",
            quiet=True,
        )
    )
    assert resumed == part
    a, b = final_weights(whole), final_weights(resumed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    steps = [int(r["step"]) for r in csv.DictReader((part / "metrics.csv").open())]
    assert steps == [2, 4, 6, 8]


def test_random_flips_mirror_about_half_the_images_and_resume_exactly():
    batches = [torch.arange(24).view(4, 1, 2, 3) + 100 * k for k in range(50)]
    whole = list(random_flips(batches, seed=5))
    resumed = list(random_flips(batches[20:], seed=5, start_step=20))
    assert all(torch.equal(a, b) for a, b in zip(whole[20:], resumed, strict=True))
    mirrored = kept = 0
    for out, batch in zip(whole, batches, strict=True):
        for flipped, image in zip(out, batch, strict=True):
            mirrored += torch.equal(flipped, image.flip(-1))
            kept += torch.equal(flipped, image)
    assert mirrored + kept == 200 and 70 < mirrored < 130
    other_rank = list(random_flips(batches, seed=5, rank=1))
    assert not all(torch.equal(a, b) for a, b in zip(whole, other_rank, strict=True))


def test_a_resumed_run_records_each_command_that_resumed_it(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["ganzoo", "run", "dcgan", "--steps", "2"])
    run_dir = train(options(tmp_path, "dcgan", steps=2))
    resume = ["ganzoo", "run", "--resume", str(run_dir), "--steps", "4"]
    for steps in (4, 6):  # the second leg is the same command line: recorded once
        monkeypatch.setattr(sys, "argv", resume)
        train(
            TrainOptions(
                model="dcgan",
                data="toon",
                resume=str(run_dir),
                overrides={"steps": steps},
                device="cpu",
                quiet=True,
            )
        )
    run = json.loads((run_dir / "config.json").read_text())["run"]
    assert run["command"] == "ganzoo run dcgan --steps 2"
    assert run["resumed_with"] == [shlex.join(resume)]


def test_refuses_to_overwrite_a_run(tmp_path):
    run_dir = train(options(tmp_path, "dcgan", steps=2))
    with pytest.raises(GanzooError, match="exists and is not empty"):
        train(options(tmp_path, "dcgan", steps=2))
    assert (run_dir / "config.json").is_file()


def test_lr_factor_is_constant_then_falls_linearly_over_the_last_steps():
    assert [lr_factor(step, 8, 4) for step in range(8)] == [1, 1, 1, 1, 1, 0.75, 0.5, 0.25]
    assert [lr_factor(step, 8, 0) for step in range(8)] == [1.0] * 8


def test_lr_decay_anneals_a_resumed_run_exactly_as_one_trained_with_it(tmp_path):
    # the schedule counts back from the run's end, so a constant-rate run resumed with a longer
    # --steps and lr_decay_steps is the run that had the schedule from the start
    whole = train(options(tmp_path, "dcgan", steps=8, name="whole", lr_decay_steps=4))
    part = train(options(tmp_path, "dcgan", steps=4, name="part"))
    resumed = train(
        TrainOptions(
            model="dcgan",
            data="toon",
            resume=str(part),
            overrides={"steps": 8, "lr_decay_steps": 4},
            device="cpu",
            quiet=True,
        )
    )
    a, b = final_weights(whole), final_weights(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)
    _, state = load_checkpoint(list_checkpoints(resumed)[-1][1])
    for optimizer in state["optimizers"].values():
        group = optimizer["param_groups"][0]
        assert group["initial_lr"] == 2e-4 and group["lr"] == pytest.approx(0.25 * 2e-4)
    config = json.loads((resumed / "config.json").read_text())
    assert config["recipe"]["lr_decay_steps"] == 4
    # without the schedule the same resume ends elsewhere
    plain = train(options(tmp_path, "dcgan", steps=8, name="plain"))
    assert not all(torch.equal(a[key], v) for key, v in final_weights(plain).items())


def test_resume_rejects_recipe_changes_and_finished_runs(tmp_path):
    run_dir = train(options(tmp_path, "dcgan", steps=2))
    with pytest.raises(GanzooError, match="keeps its recipe"):
        train(
            TrainOptions(
                model="dcgan",
                data="toon",
                resume=str(run_dir),
                overrides={"lr_g": 1.0},
                device="cpu",
                quiet=True,
            )
        )
    with pytest.raises(GanzooError, match="already at step 2"):
        train(
            TrainOptions(model="dcgan", data="toon", resume=str(run_dir), device="cpu", quiet=True)
        )


def test_nan_loss_stops_with_step_and_last_checkpoint(tmp_path, monkeypatch):
    from ganzoo.models import UnconditionalGAN

    original = UnconditionalGAN.train_step

    def poisoned(self, batch, step, stepper):
        logs = original(self, batch, step, stepper)
        if step >= 4:
            logs["loss_d"] = torch.tensor(float("nan"))
        return logs

    monkeypatch.setattr(UnconditionalGAN, "train_step", poisoned)
    with pytest.raises(GanzooError) as info:
        train(options(tmp_path, "dcgan", steps=10))
    message = str(info.value)
    assert "loss_d became nan or inf by step 6" in message
    assert "step-3.safetensors" in message


def test_bf16_autocast_on_cpu(tmp_path):
    """bf16 really runs the training convolutions in bfloat16, and keeps float32 weights."""
    from torch.nn.modules.module import register_module_forward_hook

    convolutions = (torch.nn.Conv2d, torch.nn.ConvTranspose2d)
    seen = []  # (training, dtype) of every convolution's output

    def record(module, inputs, output):
        if isinstance(module, convolutions):
            seen.append((module.training, output.dtype))

    opts = options(tmp_path, "dcgan", steps=2)
    opts.precision = "bf16"
    hook = register_module_forward_hook(record)
    try:
        run_dir = train(opts)
    finally:
        hook.remove()
    assert json.loads((run_dir / "config.json").read_text())["run"]["precision"] == "bf16"
    during_steps = {dtype for training, dtype in seen if training}
    assert during_steps == {torch.bfloat16}, during_steps
    assert all(
        v.dtype == torch.float32 for v in final_weights(run_dir).values() if v.is_floating_point()
    )


@pytest.mark.parametrize("native", [False, True])
def test_bf16_on_a_cpu_without_bf16_instructions_warns(monkeypatch, native):
    """An AVX2-only CPU emulates bf16, far slower than fp32: say so before a long run starts."""
    import warnings

    from ganzoo.optim import Stepper

    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Stepper({"g": optimizer}, torch.device("cpu"), "bf16")
        Stepper({"g": optimizer}, torch.device("cpu"), "fp32")
    messages = [str(w.message) for w in caught]
    if native:
        assert messages == []
    else:
        assert len(messages) == 1 and "no bf16 instructions" in messages[0]


def test_fp16_needs_cuda(tmp_path):
    opts = options(tmp_path, "dcgan", steps=2)
    opts.precision = "fp16"
    with pytest.raises(GanzooError, match="fp16 needs a CUDA device"):
        train(opts)


def test_epochs_set_the_step_count(tmp_path):
    opts = options(tmp_path, "dcgan", steps=None, epochs=1)
    opts.data = "toon"
    # toon is large by default; a small custom folder keeps an epoch short
    folder = tmp_path / "imgs"
    folder.mkdir()
    from PIL import Image

    for i in range(10):
        Image.new("RGB", (32, 32), (i * 20, 0, 0)).save(folder / f"{i}.png")
    opts.data = str(folder)
    run_dir = train(opts)
    assert list_checkpoints(run_dir)[-1][0] == 10 // 4  # 2 full batches of 4 in one epoch


def _cli(args: list[str], cwd: Path, env_extra: dict | None = None, **kw):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env_extra or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "ganzoo.cli", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


TINY_ARGS = [
    "--size",
    "32",
    "--batch-size",
    "4",
    "--set",
    "generator_args.width=8",
    "--set",
    "discriminator_args.width=8",
    "--device",
    "cpu",
    "--quiet",
]


def _wait_for_checkpoint(run_dir: Path, proc, timeout=90.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if list_checkpoints(run_dir):
            return
        if proc.poll() is not None:
            pytest.fail(f"run ended early: {proc.stderr.read()}")
        time.sleep(0.1)
    pytest.fail("no checkpoint appeared")


def test_sigterm_writes_a_checkpoint_and_resume_continues(tmp_path):
    run_dir = tmp_path / "run"
    proc = _cli(
        [
            "run",
            "dcgan",
            "--data",
            "toon",
            "--steps",
            "100000",
            "--out",
            str(run_dir),
            "--set",
            "checkpoint_every=5",
            *TINY_ARGS,
        ],
        tmp_path,
    )
    _wait_for_checkpoint(run_dir, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "SIGTERM at step" in err and "Traceback" not in err
    stopped_at = int(err.split("SIGTERM at step ")[1].split(":")[0])
    step, _ = load_checkpoint(list_checkpoints(run_dir)[-1][1])
    assert step == stopped_at  # a checkpoint of the very step it stopped at
    proc = _cli(
        [
            "run",
            "dcgan",
            "--data",
            "toon",
            "--resume",
            str(run_dir),
            "--steps",
            str(step + 2),
            "--quiet",
        ],
        tmp_path,
    )
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert list_checkpoints(run_dir)[-1][0] == step + 2


def test_sigkill_never_leaves_a_corrupt_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    proc = _cli(
        [
            "run",
            "dcgan",
            "--data",
            "toon",
            "--steps",
            "100000",
            "--out",
            str(run_dir),
            "--set",
            "checkpoint_every=1",
            "--set",
            "keep_checkpoints=2",
            *TINY_ARGS,
        ],
        tmp_path,
    )
    _wait_for_checkpoint(run_dir, proc)
    time.sleep(1.5)  # let it write a few more, so the kill lands mid-write sometimes
    proc.kill()
    proc.communicate(timeout=30)
    checkpoints = list_checkpoints(run_dir)
    assert checkpoints
    for step, path in checkpoints:
        assert load_checkpoint(path)[0] == step
    last = checkpoints[-1][0]
    proc = _cli(
        [
            "run",
            "dcgan",
            "--data",
            "toon",
            "--resume",
            str(run_dir),
            "--steps",
            str(last + 1),
            "--quiet",
        ],
        tmp_path,
    )
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err


def test_torchrun_two_processes_with_gloo(tmp_path):
    script = tmp_path / "ddp_run.py"
    script.write_text(
        textwrap.dedent(f"""
        import hashlib, json, os, torch
        from ganzoo.models import UnconditionalGAN
        from ganzoo.training.train import TrainOptions, train

        original = UnconditionalGAN.train_step
        trained = []
        def state(model):
            # every parameter and buffer (BatchNorm statistics, the EMA copy's) as a digest
            return {{k: hashlib.sha256(v.numpy().tobytes()).hexdigest()
                     for k, v in model.state_dict().items() if isinstance(v, torch.Tensor)}}
        def recording(self, batch, step, stepper):
            trained[:] = [self]
            states[step] = state(self)  # after the previous step, buffers shared included
            logs = original(self, batch, step, stepper)
            total = sum(p.double().sum().item() for p in self.generator.parameters())
            with open(os.path.join({str(tmp_path)!r}, f"rank{{os.environ['RANK']}}.txt"), "a") as f:
                f.write(f"{{step}} {{batch['target'].shape[0]}} {{total!r}}\\n")
            return logs
        states = {{}}
        UnconditionalGAN.train_step = recording
        train(TrainOptions(model="dcgan", data="toon", out={str(tmp_path / "run")!r},
                           device="cpu", quiet=True,
                           overrides={{"size": 32, "batch_size": 8, "steps": 3, "ema": 0.9,
                                      "generator_args": {{"width": 8}},
                                      "discriminator_args": {{"width": 8}}}}))
        states["end"] = state(trained[0])
        path = os.path.join({str(tmp_path)!r}, f"state{{os.environ['RANK']}}.json")
        with open(path, "w") as f:
            json.dump(states, f)
    """)
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GANZOO_CACHE": str(tmp_path / "cache")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            "29517",
            str(script),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "global batch 8 (2 process(es) x 4)" in result.stderr
    rank0 = (tmp_path / "rank0.txt").read_text().split("\n")
    rank1 = (tmp_path / "rank1.txt").read_text().split("\n")
    assert len(rank0) == len(rank1) == 4  # three steps and a trailing newline
    for a, b in zip(rank0[:-1], rank1[:-1], strict=True):
        step_a, batch_a, total_a = a.split()
        assert batch_a == "4"
        # averaged gradients keep the generators identical on both ranks
        assert a == b, (a, b)
    # and every parameter and buffer agrees after each step: BatchNorm's running statistics,
    # which each rank updates from its own half of the batch, are shared from rank 0
    state0, state1 = (json.loads((tmp_path / f"state{r}.json").read_text()) for r in (0, 1))
    assert list(state0) == ["0", "1", "2", "end"]
    assert any(k.endswith("running_mean") for k in state0["end"])
    assert any(k.startswith("ema.generator.module.") for k in state0["end"])
    assert state0["end"] != state0["0"]
    for when in state0:
        differ = [k for k in state0[when] if state0[when][k] != state1[when][k]]
        assert not differ, (when, differ)
    assert (tmp_path / "run" / "export" / "model.safetensors").is_file()
    assert not (tmp_path / "run" / "rank1").exists()


def test_generator_ema_resumes_exactly_and_is_what_export_and_load_use(tmp_path):
    """EMA (recipe field ``ema``) lives in checkpoints, so resume repeats it bit for bit; the
    exported and loaded generator is the average, not the last trained weights."""
    import ganzoo
    from ganzoo.hub import read_safetensors

    whole = train(options(tmp_path, "dcgan", steps=8, name="whole", ema=0.9))
    part = train(options(tmp_path, "dcgan", steps=4, name="part", ema=0.9))
    resumed = TrainOptions(
        "dcgan",
        "toon",
        resume=str(part),
        overrides={"steps": 8},
        device="cpu",
        quiet=True,
        threads=1,
    )
    train(resumed)
    a, b = final_weights(whole), final_weights(part)
    assert any(k.startswith("model/ema.generator.module.") for k in a)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    exported, _ = read_safetensors(whole / "export" / "model.safetensors")
    for key, value in exported.items():
        ema = a["model/ema.generator.module." + key.removeprefix("generator.")]
        assert torch.equal(value, ema), key
    # and the average differs from the last trained weights
    trained = {k: v for k, v in a.items() if k.startswith("model/generator.")}
    assert any(
        not torch.equal(v, a[k.replace("model/generator.", "model/ema.generator.module.")])
        for k, v in trained.items()
        if v.is_floating_point()
    )
    loaded = ganzoo.load(str(whole), device="cpu").generator.state_dict()
    for key, value in loaded.items():
        assert torch.equal(value, a["model/ema.generator.module." + key]), key
    with pytest.raises(GanzooError, match="ema"):
        train(options(tmp_path, "dcgan", steps=2, name="bad", ema=1.5))


def test_generator_ema_leaves_the_trained_weights_as_they_are(tmp_path):
    """EMA only averages: with the same seed, a run with ``ema`` trains the very weights a run
    without it does, for a translator with flips too. So a checkpoint's trained weights stand
    for the run without EMA (benchmarks/peers.py scores both)."""
    extra = {"flip": True, "flip_equivariance": True}
    plain = final_weights(train(options(tmp_path, "cut", steps=4, name="plain", **extra)))
    averaged = final_weights(train(options(tmp_path, "cut", steps=4, name="ema", ema=0.9, **extra)))
    assert plain and all(torch.equal(plain[k], averaged[k]) for k in plain)
    assert any(k.startswith("model/ema.") for k in averaged)
