"""Bad input and faults (issue 16): each is one error line and a non-zero exit, nothing hangs,
nothing is written by a refused command and nothing already written is lost."""

from __future__ import annotations

import errno
import os
import signal
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import run_main as cli
from PIL import Image

import ganzoo.io.checkpoints
import ganzoo.io.network
from ganzoo.cli import main
from ganzoo.cli.inference import _output_names
from ganzoo.data import open_dataset
from ganzoo.data import sources as data_sources
from ganzoo.hub import save_pretrained, update_card_metrics
from ganzoo.models import build, make_config
from ganzoo.registry import discover, registry
from ganzoo.training.rundirs import LOCK_NAME, claim_new, default_run_dir

NETS = ["--set", "generator_args.width=8", "--set", "discriminator_args.width=8"]
TINY_RUN = ["--data", "toon", "--size", "32", "--batch-size", "4", *NETS, "--quiet"]
TINY = {"size": 32, "generator_args": {"width": 8}, "discriminator_args": {"width": 8}}


@pytest.fixture(autouse=True)
def _private(tmp_path, monkeypatch, one_torch_thread):
    """Runs in tmp_path (default run names land there), with a private decode cache."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GANZOO_DEBUG", raising=False)


def one_line(code: int, err: str) -> str:
    """The single ``error: ...`` line of a refused command."""
    assert code == 1, err
    lines = [line for line in err.strip().splitlines() if not line.startswith("note: ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and mtime: equal snapshots, nothing changed."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# ---------------------------------------------------------------------------------------------
# recipe fields and options, checked where they enter


@pytest.mark.parametrize(
    "option, expected",
    [
        (
            ["--batch-size", "0"],
            "batch_size=0 is not allowed: it takes a whole number of at least 1",
        ),
        (["--batch-size", "-4"], "batch_size=-4 is not allowed"),  # used to hang
        (["--set", "checkpoint_every=0"], "checkpoint_every=0 is not allowed"),
        (["--set", "n_critic=0"], "n_critic=0 is not allowed"),
        (["--set", "generator_args.nosuch=3"], "takes no argument 'nosuch' (its arguments: "),
        (["--set", "generator_args.width=abc"], "generator_args.width='abc' is not allowed"),
        (["--set", "lr_g=-1"], "lr_g=-1 is not allowed: it takes a number above 0"),
        (["--set", "lr_decay_steps=-5"], "lr_decay_steps=-5 is not allowed: it takes a whole"),
        (["--set", "betas=[0.5]"], "betas=[0.5] is not allowed"),
        (["--set", "flip=sometimes"], "flip='sometimes' is not allowed: it takes true or false"),
        (["--seed", str(2**70)], f"--seed {2**70} is not allowed: it takes a whole number 0.."),
        (["--steps", "0"], "steps=0 is not allowed"),
        (["--steps", "-1"], "steps=-1 is not allowed"),
        (["--epochs", "0"], "epochs=0 is not allowed"),
        (["--size", "65536"], "needs at least"),  # refused before the networks are built
        (["--set", "channels=1"], "channels=1 is not allowed: the images of toon have 3"),
    ],
)
def test_bad_recipe_values_are_one_line_and_write_nothing(tmp_path, capsys, option, expected):
    code, _, err = cli(["run", "dcgan", *TINY_RUN, "--steps", "2", *option], capsys)
    assert expected in one_line(code, err)
    assert not (tmp_path / "runs").exists()


@pytest.fixture
def dcgan_folder(tmp_path) -> Path:
    torch.manual_seed(0)
    gan = build(make_config("dcgan", overrides=TINY), training=False)
    return save_pretrained(gan, tmp_path / "dcgan")


def test_sample_requests_beyond_memory_are_refused_before_allocating(dcgan_folder, capsys):
    for output in ("grid.png", "folder"):  # the folder's 10^8 file names are not even listed
        code, _, err = cli(["sample", str(dcgan_folder), "-n", "100000000", "-o", output], capsys)
        assert "-n 100000000 needs at least" in one_line(code, err)
        assert not Path(output).exists()
    code, _, err = cli(["sample", str(dcgan_folder), "--seed", "-1", "-o", "x.png"], capsys)
    assert "--seed -1 is not allowed" in one_line(code, err)


def test_integer_weights_are_refused(dcgan_folder, capsys):
    from safetensors.torch import load_file, save_file

    weights = dcgan_folder / "model.safetensors"
    tensors = {key: value.to(torch.int32) for key, value in load_file(weights).items()}
    save_file(tensors, weights)
    code, _, err = cli(["sample", str(dcgan_folder), "-n", "4", "-o", "x.png"], capsys)
    line = one_line(code, err)
    assert "does not fit the dcgan model" in line and "int32" in line
    assert not Path("x.png").exists()


# ---------------------------------------------------------------------------------------------
# run directories


def test_a_run_directory_is_claimed_for_one_process(tmp_path, capsys):
    out = tmp_path / "run"
    claim = claim_new(out, chosen=True)  # as a run that is writing it holds it
    try:
        code, _, err = cli(["run", "dcgan", *TINY_RUN, "--steps", "2", "--out", str(out)], capsys)
        assert f"(pid {os.getpid()}) is writing {out}" in one_line(code, err)
        assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]
    finally:
        claim.release()
    # default names are per second: two runs in the same second get two folders
    proposed = default_run_dir("dcgan", "toon")
    first, second = claim_new(proposed, chosen=False), claim_new(proposed, chosen=False)
    assert first.path == proposed and second.path.name == proposed.name + "-2"
    first.release()
    second.release()


@pytest.fixture
def trained(tmp_path, capsys) -> Path:
    """A 2-step dcgan run with its checkpoint."""
    run = tmp_path / "trained"
    code, _, err = cli(["run", "dcgan", *TINY_RUN, "--steps", "2", "--out", str(run)], capsys)
    assert code == 0, err
    return run


def test_resume_takes_its_own_options_and_refuses_others(trained, tmp_path, capsys):
    before = snapshot(trained)
    refusals = [
        (["wgan", *TINY_RUN], "is a dcgan run, not wgan; resume it with `ganzoo run dcgan"),
        (["dcgan", "--data", "toon/photo"], "trained on --data toon, not toon/photo"),
        (["dcgan", *TINY_RUN, "--batch-size", "8"], "batch_size is 4 in"),
        (["dcgan", "--data", "toon", "--set", "lr_g=0.1"], "lr_g is 0.0002 in"),
        (["dcgan", "--data", "toon", "--steps", "0"], "steps=0 is not allowed"),
    ]
    for args, expected in refusals:
        code, _, err = cli(["run", *args, "--resume", str(trained)], capsys)
        assert expected in one_line(code, err)
    assert snapshot(trained) == before  # nothing written, nothing lost

    # the run's own options, given again, are accepted
    code, _, err = cli(
        ["run", "dcgan", *TINY_RUN, "--steps", "4", "--resume", str(trained)], capsys
    )
    assert code == 0, err
    assert (trained / "checkpoints" / "step-4.safetensors").is_file()


def test_resume_of_damaged_or_foreign_runs_is_one_line(trained, tmp_path, capsys):
    def refused(run: Path, expected: str) -> None:
        before = snapshot(run)
        code, _, err = cli(["run", "dcgan", "--data", "toon", "--resume", str(run)], capsys)
        assert expected in one_line(code, err)
        assert snapshot(run) == before

    refused(trained / "export", "its config.json has no run settings")
    truncated = tmp_path / "truncated"
    truncated.mkdir()
    (truncated / "config.json").write_text((trained / "config.json").read_text()[:100])
    refused(truncated, f"config.json of {truncated} is damaged")

    # the newest checkpoint is another model's
    torch.manual_seed(0)
    improved = build(make_config("improved", overrides=TINY))
    ganzoo.io.checkpoints.save_checkpoint(
        trained / "checkpoints" / "step-9.safetensors", 9, {"model": improved.state_dict()}
    )
    refused(trained, "step-9.safetensors does not fit the dcgan model")

    # killed before its first checkpoint: say how to go on
    early = tmp_path / "early"
    (early / "checkpoints").mkdir(parents=True)
    (early / "config.json").write_text((trained / "config.json").read_text())
    refused(early, "stopped before its first checkpoint, so there is nothing to resume: remove it")
    code, _, err = cli(["run", "dcgan", *TINY_RUN, "--out", str(early)], capsys)
    assert f"rm -r {early}" in one_line(code, err)


def test_temp_files_of_a_killed_checkpoint_write_are_removed(trained, capsys):
    stale = trained / "checkpoints" / ".step-4.safetensors.k1ll3d.tmp"
    stale.write_bytes(b"half a checkpoint")
    code, _, err = cli(
        ["run", "dcgan", *TINY_RUN, "--steps", "3", "--resume", str(trained)], capsys
    )
    assert code == 0, err
    assert "removed 1 temporary file" in err and not stale.exists()


def test_a_full_disk_while_checkpointing_is_one_line(tmp_path, capsys, monkeypatch):
    save_file = ganzoo.io.checkpoints.save_file

    def full(tensors, path, **kwargs):  # the disk fills after the run's first small file
        if "checkpoints" in str(path):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        save_file(tensors, path, **kwargs)

    monkeypatch.setattr(ganzoo.io.checkpoints, "save_file", full)
    run = tmp_path / "run"
    code, _, err = cli(["run", "dcgan", *TINY_RUN, "--steps", "2", "--out", str(run)], capsys)
    # after the progress line "training dcgan on toon ...", one error line
    line = one_line(code, err.strip().splitlines()[-1])
    assert "cannot write checkpoint" in line and "No space left on device" in line
    assert f"remove {run} and start again" in line
    assert not list((run / "checkpoints").iterdir())  # no temporary file left behind


def test_a_full_disk_at_the_first_write_names_the_file(tmp_path, capsys, monkeypatch):
    def full(tensors, path, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ganzoo.io.checkpoints, "save_file", full)
    run = tmp_path / "run"
    code, _, err = cli(["run", "dcgan", *TINY_RUN, "--steps", "2", "--out", str(run)], capsys)
    line = one_line(code, err.strip().splitlines()[-1])
    assert "preview-inputs.safetensors" in line and "No space left on device" in line
    assert f"remove {run} and start again" in line


# ---------------------------------------------------------------------------------------------
# the top-level guard


def test_a_mistyped_option_is_one_line(capsys):
    code, _, err = cli(["list", "--kind", "bogus"], capsys)
    assert err.strip() == (
        "error: Invalid value for '--kind': 'bogus' is not one of 'models', 'losses', 'metrics', "
        "'datasets', 'generators', 'discriminators', 'zoo', 'plugins'. (see `ganzoo list -h`)"
    )
    assert code == 2


def test_an_unexpected_exception_is_one_line_unless_debugging(capsys, monkeypatch):
    def broken(name):
        raise ZeroDivisionError("integer modulo by zero")

    monkeypatch.setattr("ganzoo.cli._info", broken)
    code, _, err = cli(["info", "dcgan"], capsys)
    line = one_line(code, err)
    assert "ZeroDivisionError in `ganzoo info dcgan`: integer modulo by zero" in line
    assert "--debug or GANZOO_DEBUG=1" in line
    with pytest.raises(ZeroDivisionError):
        main(["info", "dcgan", "--debug"])
    monkeypatch.setenv("GANZOO_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        main(["info", "dcgan"])
    monkeypatch.delenv("GANZOO_DEBUG")

    def out_of_memory(name):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried 9 TB")

    monkeypatch.setattr("ganzoo.cli._info", out_of_memory)
    code, _, err = cli(["info", "dcgan"], capsys)
    assert "out of memory in `ganzoo info dcgan`" in one_line(code, err)


# ---------------------------------------------------------------------------------------------
# translation outputs


def test_translation_output_names_are_unique_per_input(tmp_path, capsys):
    names = _output_names([Path("a/x.png"), Path("b/x.png"), Path("c/x-2.jpg"), Path("a/X.png")])
    assert names == ["x.png", "x-2.png", "x-2-2.png", "X-3.png"]

    torch.manual_seed(0)
    gan = build(make_config("improved", overrides=TINY), training=False)
    folder = save_pretrained(gan, tmp_path / "improved")
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        Image.new("RGB", (40, 40), sub == "a" and "red" or "blue").save(tmp_path / sub / "x.png")
    code, out, err = cli(["translate", str(folder), "a/x.png", "b/x.png", "-o", "out"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in Path("out").iterdir()) == ["x-2.png", "x.png"]


# ---------------------------------------------------------------------------------------------
# the Hub, offline


def test_hub_errors_are_one_line_within_seconds_offline(tmp_path, capsys, monkeypatch):
    from huggingface_hub import constants

    def no_network(*args, **kwargs):
        raise OSError(errno.ENETUNREACH, "Network is unreachable")

    monkeypatch.setattr(ganzoo.io.network.socket, "create_connection", no_network)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for proxy in ganzoo.io.network._PROXY_VARIABLES:  # behind a proxy the Hub is not tried first
        monkeypatch.delenv(proxy, raising=False)
    for args in (
        ["sample", "hf://org/name", "-o", "x.png"],
        ["run", "dcgan", "--data", "hf://datasets/org/name", "--out", "run"],
    ):
        started = time.monotonic()
        code, _, err = cli(args, capsys)
        assert "cannot be reached" in one_line(code, err)
        assert time.monotonic() - started < 10 and "Retry" not in err
    assert not Path("x.png").exists() and not Path("run").exists()


# ---------------------------------------------------------------------------------------------
# image folders and archives


def write_pngs(folder: Path, count: int = 8) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        pixels = rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i}.png")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_in_an_image_folder_does_not_hang(tmp_path):
    folder = tmp_path / "images"
    write_pngs(folder)
    os.mkfifo(folder / "pipe.png")
    signal.alarm(60)  # a hang fails the test instead of stopping the suite
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            dataset = open_dataset(str(folder), size=(32, 32))
    finally:
        signal.alarm(0)
    assert len(dataset) == 8
    assert any("not a regular file" in str(w.message) for w in caught)


def test_zip_members_that_inflate_huge_are_refused(tmp_path, monkeypatch):
    # a real bomb inflates to gigabytes; the limit is lowered so that a small one stands in
    monkeypatch.setattr(data_sources, "MAX_FILE_BYTES", 50_000)
    write_pngs(tmp_path / "images")
    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted((tmp_path / "images").iterdir()):
            zf.write(path, path.name)
        zf.writestr("bomb.png", bytes(1_000_000))  # 1 MB of zeros in about 1 kB
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = open_dataset(str(archive), size=(32, 32))
    assert len(dataset) == 8
    assert any("too large" in str(w.message) for w in caught)


# ---------------------------------------------------------------------------------------------
# model cards


def test_invalid_card_front_matter_keeps_the_computed_metrics(dcgan_folder, capsys):
    card = dcgan_folder / "README.md"
    text = card.read_text().replace("library_name: ganzoo", "library_name: [ganzoo\n  bad: :", 1)
    card.write_text(text)
    result = {"name": "swd", "value": 12.5, "protocol": "test"}
    with pytest.warns(UserWarning, match="invalid YAML front matter"):
        update_card_metrics(dcgan_folder, [result])
    assert card.read_text() == text  # a person's file, left as it was

    eval_swd = ["eval", str(dcgan_folder), "--data", "toon", "--metrics", "swd", "-n", "8"]
    with pytest.warns(UserWarning, match="invalid YAML front matter"):
        code, out, err = cli(eval_swd, capsys)
    assert code == 0, err
    assert "swd/avg" in out  # the computed metrics are printed, not lost
    assert card.read_text() == text


# ---------------------------------------------------------------------------------------------
# plugins


def fake_distribution(root: Path, name: str, entry_point: str, module: str, code: str) -> None:
    info = root / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[ganzoo.plugins]\n{entry_point} = {module}:MANIFEST\n")
    (root / f"{module}.py").write_text(code)


def test_plugins_that_exit_or_clash_are_listed(tmp_path, capsys, monkeypatch):
    site = tmp_path / "site"
    fake_distribution(site, "exits", "exits", "exits_manifest", "import sys\nsys.exit(3)\n")
    empty = "MANIFEST = {}\n"
    fake_distribution(site, "twin-a", "twin", "twin_a_manifest", empty)
    fake_distribution(site, "twin-b", "twin", "twin_b_manifest", empty)
    monkeypatch.syspath_prepend(str(site))
    registry.cache_clear()
    try:
        plugins = {p.name: p for p in discover()}
        code, out, err = cli(["list", "--kind", "plugins"], capsys)
    finally:
        registry.cache_clear()
    assert code == 0, err
    assert plugins["exits"].error == "SystemExit: 3"
    # which twin is read first depends on the directory listing; neither vanishes
    first = plugins["twin"]
    other = "twin-b" if first.distribution == "twin-a" else "twin-a"
    second = plugins[f"twin ({other})"]
    assert not first.broken and second.distribution == other
    assert f"plugin name 'twin' is taken by {first.distribution}" in second.error
    assert "SystemExit: 3" in out and f"twin ({other})" in out and "dcgan" in out
