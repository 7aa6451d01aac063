"""--threads: auto is fixed by the machine, not its load, so a seed gives the same weights; a run
keeps its count on resume, and a run that slows down says why in one line."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import torch

from ganzoo.errors import GanzooError
from ganzoo.training import threads
from ganzoo.training.train import TrainOptions, train


def test_parse_threads():
    assert threads.parse_threads("auto") is None and threads.parse_threads(None) is None
    assert threads.parse_threads("3") == 3
    for bad in ("0", "-2", "many"):
        with pytest.raises(GanzooError, match="--threads"):
            threads.parse_threads(bad)


@pytest.mark.parametrize(
    ("cpus", "local", "cap", "expected"),
    [(1, None, None, 1), (2, None, None, 1), (8, None, None, 4), (16, "4", None, 2),
     (16, "32", None, 1), (8, None, "2", 2), (8, None, "junk", 4)],
)  # fmt: skip
def test_auto_depends_on_the_machine_not_its_load(monkeypatch, cpus, local, cap, expected):
    for name, value in (("LOCAL_WORLD_SIZE", local), ("OMP_NUM_THREADS", cap)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    monkeypatch.setattr(threads, "available_cpus", lambda: cpus)
    for busy in (None, 0.0, 0.6, 1.0, cpus / 2, float(cpus)):
        monkeypatch.setattr(threads, "busy_elsewhere", lambda seconds=0, busy=busy: busy)
        count, note = threads.choose_threads(None)
        assert count == expected, busy
        # a busy machine gets one line, which changes nothing
        assert note is None or ("\n" not in note and f"{busy:.1f} of {cpus} cores busy" in note)
    assert threads.choose_threads(4) == (4, None)  # a number is taken as given


def test_busy_elsewhere_sees_another_process():
    spin = "import time\nend = time.time() + 3\nwhile time.time() < end: pass"
    proc = subprocess.Popen([sys.executable, "-c", spin])
    try:
        time.sleep(0.5)  # past the interpreter's start
        assert threads.busy_elsewhere(0.5) >= 0.6
    finally:
        proc.kill()
        proc.wait()
    assert 1 <= threads.available_cpus()


def test_one_line_when_training_slows_down_for_good(monkeypatch):
    monkeypatch.setattr(threads, "busy_elsewhere", lambda seconds=0: 1.0)
    watch = threads.SlowdownWatch(2)
    # one slow interval (a checkpoint being written) is no news; three in a row are
    assert [watch.observe(r) for r in (30, 40, 12, 41, 15, 14)] == [None] * 6
    line = watch.observe(13)
    assert line and "\n" not in line and "13.0 img/s from 41.0" in line
    assert "--threads 1" in line and "1.0 of" in line
    assert watch.observe(5) is None  # said once


def test_the_count_is_recorded_and_kept_on_resume(tmp_path, monkeypatch):
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    tiny = {"size": 32, "batch_size": 4, "generator_args": {"width": 8}}
    tiny.update(discriminator_args={"width": 8}, log_every=1, checkpoint_every=2)
    run = train(
        TrainOptions(
            "dcgan",
            "toon",
            overrides={**tiny, "steps": 2},
            out=str(tmp_path / "r"),
            device="cpu",
            quiet=True,
            threads=1,
        )
    )
    assert json.loads((run / "config.json").read_text())["run"]["threads"] == 1
    # auto on resume is the run's own count, whatever the machine looks like now
    monkeypatch.setattr(threads, "busy_elsewhere", lambda seconds=0: 0.0)
    train(
        TrainOptions(
            "dcgan", "toon", resume=str(run), overrides={"steps": 4}, device="cpu", quiet=True
        )
    )
    assert json.loads((run / "config.json").read_text())["run"]["threads"] == 1


def test_same_seed_same_weights_whatever_the_load(tmp_path, monkeypatch):
    """Two runs of one command with --threads auto, one on an idle machine and one on a busy
    one, train bit-identical weights (and optimizer and random-generator state)."""
    from safetensors.torch import load_file

    from ganzoo.io.checkpoints import list_checkpoints

    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    # a 2-core machine, where the load-based auto of before picked 2 threads idle and 1 busy
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "available_cpus", lambda: 2)
    tiny = {"size": 32, "batch_size": 4, "generator_args": {"width": 8}, "steps": 4}
    tiny.update(discriminator_args={"width": 8}, ema=0.9, log_every=2, checkpoint_every=4)
    states = []
    for name, busy in (("idle", 0.0), ("busy", 2.0)):
        monkeypatch.setattr(threads, "busy_elsewhere", lambda seconds=0, busy=busy: busy)
        run = train(
            TrainOptions(
                "dcgan", "toon", overrides=tiny, out=str(tmp_path / name), device="cpu",
                quiet=True, seed=5,
            )
        )  # fmt: skip
        assert json.loads((run / "config.json").read_text())["run"]["threads"] == (
            threads.auto_threads()
        )
        states.append(load_file(str(list_checkpoints(run)[-1][1])))
    idle, busy = states
    assert idle.keys() == busy.keys() and any(k.startswith("model/ema.") for k in idle)
    differ = [k for k in idle if not torch.equal(idle[k], busy[k])]
    assert not differ, differ
