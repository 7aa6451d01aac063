"""Run directories: choosing one, claiming it for one process, writing its files, and reading
one back to resume.

A run directory is claimed by a lock on ``RUN/.lock`` held for the life of the process that
writes it (the operating system drops the lock when that process ends, however it ends), so a
second ``ganzoo run`` into the same folder, or a ``--resume`` of a run that is still training,
fails at once instead of mixing two runs' files. Default names are created exclusively
(``os.mkdir``), with ``-2``, ``-3``, ... when two runs start in the same second.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganzoo.errors import GanzooError
from ganzoo.io.files import atomic_write
from ganzoo.recipes import parse_size

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt

LOCK_NAME = ".lock"
# folders where an atomic write leaves ``.NAME.*.tmp`` when it is killed mid-write
_TEMP_FOLDERS = (".", "checkpoints", "samples", "export")
# what a resumed run may change: its length, and the learning-rate schedule counted back from
# its end; any other field it may only be told again with its own value
RESUME_FREE = ("steps", "epochs", "lr_decay_steps")


# ---------------------------------------------------------------------------------------------
# locking


def _try_lock(fd: int) -> bool:
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    return True


@dataclass
class RunLock:
    """A claimed run directory; the claim lasts until ``release`` or the process ends."""

    path: Path
    fd: int

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the file drops the lock
            self.fd = -1


def _lock(run_dir: Path) -> RunLock:
    fd = os.open(run_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    if not _try_lock(fd):
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise GanzooError(
            f"another ganzoo process (pid {holder}) is writing {run_dir}; wait for it to end or "
            "choose another --out"
        )
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return RunLock(run_dir, fd)


def _is_held(run_dir: Path) -> bool:
    """Whether another process holds the run's lock now (without taking it)."""
    path = run_dir / LOCK_NAME
    if not path.exists():
        return False
    try:
        _lock(run_dir).release()
    except GanzooError:
        return True
    return False


# ---------------------------------------------------------------------------------------------
# new runs


def _contents(run_dir: Path) -> list[str]:
    return sorted(p.name for p in run_dir.iterdir() if p.name != LOCK_NAME)


def _has_checkpoint(run_dir: Path) -> bool:
    return any((run_dir / "checkpoints").glob("step-*.safetensors"))


def _not_empty(run_dir: Path) -> GanzooError:
    if (run_dir / "config.json").is_file() and not _has_checkpoint(run_dir):
        return GanzooError(
            f"{run_dir} holds a run stopped before its first checkpoint, so there is nothing to "
            f"resume: remove it (rm -r {run_dir}) and start again, or choose another --out"
        )
    return GanzooError(
        f"run directory {run_dir} exists and is not empty; continue it with --resume {run_dir} "
        "or choose another --out"
    )


def check_new_run_dir(out: str | None) -> None:
    """Fails early, before data are opened and networks built, when ``--out`` is taken."""
    if not out:
        return
    run_dir = Path(out)
    if run_dir.exists() and not run_dir.is_dir():
        raise GanzooError(f"--out {run_dir} is a file, not a folder")
    if run_dir.is_dir():
        if _is_held(run_dir):
            _lock(run_dir)  # raises the "another process" line
        if _contents(run_dir):
            raise _not_empty(run_dir)


def default_run_dir(model: str, data: str) -> Path:
    """``runs/MODEL-DATA-TIME``: only a proposal, made unique when claimed."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", Path(data).name.removeprefix("hf:")).strip("-")
    model = re.sub(r"[^A-Za-z0-9_.-]+", "-", model)  # plugin:name has a colon
    return Path("runs") / f"{model}-{name or 'data'}-{time.strftime('%Y%m%d-%H%M%S')}"


def _make_unique(proposed: Path) -> Path:
    """Creates ``proposed``, or ``proposed-2``, ``-3``, ... if taken: mkdir is atomic, so two
    runs started in the same second get two folders."""
    proposed.parent.mkdir(parents=True, exist_ok=True)
    for index in range(1, 10_000):
        path = proposed if index == 1 else proposed.with_name(f"{proposed.name}-{index}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise GanzooError(f"cannot find a free run directory name next to {proposed}")


def claim_new(run_dir: Path, chosen: bool) -> RunLock:
    """Claims a new run's directory: ``chosen`` (from --out) must be empty or absent; a default
    name is made unique."""
    if not chosen:
        return _lock(_make_unique(run_dir))
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = _lock(run_dir)
    if _contents(run_dir):  # another run wrote it between the early check and now
        lock.release()
        raise _not_empty(run_dir)
    return lock


def claim_existing(run_dir: Path) -> RunLock:
    """Claims a run to resume, and removes what killed atomic writes left behind (no writer can
    be using them: this process holds the lock)."""
    lock = _lock(run_dir)
    removed = remove_stale_temp(run_dir)
    if removed:
        print(
            f"note: removed {removed} temporary file(s) left by an interrupted write",
            file=sys.stderr,
        )
    return lock


def remove_stale_temp(run_dir: Path) -> int:
    removed = 0
    for folder in _TEMP_FOLDERS:
        for path in (run_dir / folder).glob(".*.tmp"):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


# ---------------------------------------------------------------------------------------------
# resuming


def read_run_config(run_dir: Path) -> dict[str, Any]:
    """A run's config.json, or one line saying why it cannot be resumed."""
    path = run_dir / "config.json"
    if not run_dir.is_dir():
        raise GanzooError(f"--resume {run_dir}: no such run directory")
    if not path.is_file():
        raise GanzooError(f"{run_dir} is not a run directory (no config.json)")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise GanzooError(f"config.json of {run_dir} is damaged ({first}); cannot resume") from None
    if not isinstance(config, dict) or not isinstance(config.get("run"), dict):
        raise GanzooError(
            f"{run_dir} is not a run directory: its config.json has no run settings (a Hub-ready "
            "folder's config cannot be resumed; start a new run)"
        )
    if not isinstance(config.get("recipe"), dict) or "model" not in config:
        raise GanzooError(f"config.json of {run_dir} has no model or recipe; cannot resume")
    if not _has_checkpoint(run_dir):
        raise GanzooError(
            f"{run_dir} was stopped before its first checkpoint, so there is nothing to resume: "
            f"remove it (rm -r {run_dir}) and start the run again"
        )
    return config


def _same(key: str, value: Any, recipe: dict[str, Any]) -> bool:
    head, _, rest = key.partition(".")
    if head not in recipe:
        return False
    current = recipe[head]
    if rest:
        return isinstance(current, dict) and rest in current and current[rest] == value
    if head == "size":
        try:
            return parse_size(value) == parse_size(current)
        except GanzooError:
            return False
    if isinstance(current, (list, tuple)) and isinstance(value, (list, tuple)):
        return list(value) == list(current)
    return current == value


def check_resume(
    run_dir: Path, config: dict[str, Any], model: str, data: str, source: str | None, overrides
) -> None:
    """A resumed run takes its own model, data and recipe again; anything else is refused."""
    run = config["run"]
    plugin_name = f"{config.get('plugin')}:{config['model']}"
    if model not in (config["model"], plugin_name):
        raise GanzooError(
            f"{run_dir} is a {config['model']} run, not {model}; resume it with "
            f"`ganzoo run {config['model']} --data {run['data']} --resume {run_dir}`"
        )
    if data != run.get("data"):
        raise GanzooError(
            f"{run_dir} was trained on --data {run.get('data')}, not {data}; a resumed run keeps "
            "its data (start a new run for other data)"
        )
    if source is not None and source != run.get("source"):
        raise GanzooError(
            f"{run_dir} was trained with --source-data {run.get('source')}, not {source}; a "
            "resumed run keeps its data"
        )
    for key, value in overrides.items():
        if key in RESUME_FREE or _same(key, value, config["recipe"]):
            continue
        head, _, rest = key.partition(".")
        current = config["recipe"].get(head, "unset")
        if rest and isinstance(current, dict):
            current = current.get(rest, "unset")
        raise GanzooError(
            f"a resumed run keeps its recipe: {key} is {current!r} in {run_dir}, got {value!r} "
            "(only steps, epochs and lr_decay_steps may change)"
        )


# ---------------------------------------------------------------------------------------------
# writing a claimed run


class RunDirectory:
    """The files one training process (rank 0) writes into the run it claimed: config.json,
    ``samples/step-N.png``, ``checkpoints/step-N.safetensors`` (the newest ``keep`` kept) and
    losses.png. Every file is written atomically."""

    def __init__(self, claim: RunLock, keep_checkpoints: int):
        self.claim = claim
        self.path = claim.path
        self.keep = keep_checkpoints
        for sub in ("checkpoints", "samples"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)

    @classmethod
    def claim_for(cls, path: Path, resume: bool, chosen: bool, keep: int) -> RunDirectory:
        """Claims the run to resume at ``path``, or a new one there (``chosen``: from --out)."""
        return cls(claim_existing(path) if resume else claim_new(path, chosen), keep)

    def release(self) -> None:
        self.claim.release()

    def write_config(self, config: dict[str, Any]) -> None:
        text = json.dumps(config, indent=2, default=str) + "\n"
        atomic_write(self.path / "config.json", lambda tmp: tmp.write_text(text))

    def write_samples(self, step: int, images, group: int) -> Path:
        """A preview grid, ``group`` images to a unit, enlarged: 32 px faces are unreadable."""
        from ganzoo.io.images import save_preview_grid

        path = self.path / "samples" / f"step-{step}.png"
        save_preview_grid(images, path, group)
        return path

    def write_preview_inputs(self, inputs) -> None:
        """The inputs every preview grid shows, kept so that an export of an average of
        checkpoints can draw its own grid of them (``ganzoo.hub.export``)."""
        from ganzoo.hub.export import PREVIEW_INPUTS
        from ganzoo.io.checkpoints import atomic_save

        path = self.path / PREVIEW_INPUTS
        try:
            atomic_save({"inputs": inputs.contiguous()}, {}, path)
        except OSError as exc:  # written before the first step: nothing to lose yet
            raise GanzooError(
                f"cannot write {path}: {exc.strerror or exc}; free space, remove {self.path} "
                "and start again"
            ) from None

    def latest_samples(self) -> Path | None:
        samples = sorted(
            (self.path / "samples").glob("step-*.png"), key=lambda p: int(p.stem.split("-")[1])
        )
        return samples[-1] if samples else None

    def write_checkpoint(self, step: int, state: dict[str, Any], last_good: Path | None) -> Path:
        """``checkpoints/step-N.safetensors``, then the oldest beyond ``keep`` removed. A full
        disk stops the run in one line that says what to resume from."""
        from ganzoo.io.checkpoints import prune_checkpoints, save_checkpoint

        path = self.path / "checkpoints" / f"step-{step}.safetensors"
        try:
            save_checkpoint(path, step, state)
        except OSError as exc:  # the last complete checkpoint is still there
            then = (
                f"last good checkpoint: {last_good}; free space and continue with --resume "
                f"{self.path}"
                if last_good
                else f"no checkpoint yet; free space, remove {self.path} and start again"
            )
            raise GanzooError(
                f"cannot write checkpoint {path}: {exc.strerror or exc}; {then}"
            ) from None
        prune_checkpoints(self.path, self.keep)
        return path

    def plot_losses(self, loss_keys: tuple[str, ...]) -> None:
        from ganzoo.training.plots import plot_losses

        plot_losses(self.path / "metrics.csv", self.path / "losses.png", loss_keys)
