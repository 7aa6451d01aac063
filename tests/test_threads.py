"""--threads: auto leaves the cores other processes use, a run keeps its count on resume, and a
run that slows down says why in one line."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from ganzoo import threads
from ganzoo.errors import GanzooError
from ganzoo.train import TrainOptions, train


def test_parse_threads():
    assert threads.parse_threads("auto") is None and threads.parse_threads(None) is None
    assert threads.parse_threads("3") == 3
    for bad in ("0", "-2", "many"):
        with pytest.raises(GanzooError, match="--threads"):
            threads.parse_threads(bad)


@pytest.mark.parametrize(
    ("cpus", "busy", "expected"),
    [(2, 0.05, 2), (2, 0.6, 1), (2, 1.0, 1), (2, 2.0, 1), (8, 2.9, 5), (1, 3.0, 1)],
)
def test_auto_uses_the_cores_left_free(monkeypatch, cpus, busy, expected):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "available_cpus", lambda: cpus)
    monkeypatch.setattr(threads, "busy_elsewhere", lambda seconds=0: busy)
    count, note = threads.choose_threads(None)
    assert count == expected
    assert (note is None) == (count == cpus)
    if note:
        assert "\n" not in note and f"{busy:.1f} of {cpus} cores busy" in note
    assert threads.choose_threads(4) == (4, None)  # a number is taken as given
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the user's cap
    assert threads.choose_threads(None) == (1, None)


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
