"""Without a terminal (nohup, CI, a pipe) a run prints plain progress lines instead of a bar."""

from __future__ import annotations

import re
import sys

import pytest

from ganzoo.training import steplog
from ganzoo.training.train import TrainOptions, train

LINE = re.compile(
    r"step (\d+)/(\d+) \((\d+)%\), [\d.]+ img/s, loss_d [-\d.e+]+ loss_g [-\d.e+]+, "
    r"ETA \d+:\d\d:\d\d"
)


def tiny_run(tmp_path, name: str, steps: int, quiet: bool = False) -> None:
    overrides = {"size": 32, "batch_size": 2, "steps": steps, "log_every": 7}
    overrides.update(generator_args={"width": 8}, discriminator_args={"width": 8})
    overrides.update(sample_every=steps, checkpoint_every=steps)
    out = str(tmp_path / name)
    train(TrainOptions("dcgan", "toon", overrides=overrides, out=out, device="cpu", threads=1,
                       quiet=quiet))  # fmt: skip


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))


def progress(text: str) -> list[tuple[int, int, int]]:
    lines = [line for line in text.splitlines() if line.startswith("step ")]
    for line in lines:
        assert LINE.fullmatch(line), line
    return [tuple(int(g) for g in LINE.fullmatch(line).groups()[:3]) for line in lines]


def test_a_line_at_each_tenth_without_a_terminal(tmp_path, capsys):
    assert not sys.stderr.isatty()  # captured, as under nohup or in CI
    tiny_run(tmp_path, "run", 20)
    err = capsys.readouterr().err
    assert progress(err) == [(s, 20, 5 * s) for s in range(2, 21, 2)]
    assert "\r" not in err  # no bar redraws in a log file


def test_a_line_every_few_seconds_in_a_long_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(steplog, "PROGRESS_SECONDS", 0.0)  # as if every step took 30 s
    tiny_run(tmp_path, "run", 4)
    assert [s for s, _, _ in progress(capsys.readouterr().err)] == [1, 2, 3, 4]


def test_no_lines_on_a_terminal_or_when_quiet(tmp_path, capsys, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(sys.stderr, "isatty", lambda: True)
        tiny_run(tmp_path, "tty", 4)
    assert not progress(capsys.readouterr().err)  # the bar shows progress there
    tiny_run(tmp_path, "quiet", 4, quiet=True)
    assert not progress(capsys.readouterr().err)
