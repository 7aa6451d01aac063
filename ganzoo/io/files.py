"""Writing files whole or not at all, with the modes a plain ``open`` would give.

Every file ganzoo writes for later (checkpoints, exported models, caches, pictures, reports) goes
through ``atomic_write``: a temporary file beside the target, renamed into place once complete, so
a crash at any moment leaves the old file or the complete new one, never half of one.

``tempfile.mkstemp`` and ``mkdtemp`` create private files (0600) and folders (0700); renamed
into place they would keep those modes, so exported models, zoo entries and caches could not be
read by other users or served as they are. They get the mode a plain ``open`` would give.
"""

from __future__ import annotations

import glob
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def make_public(path: str | os.PathLike) -> None:
    """Gives a file 0666, or a folder 0777, less the process's umask (0644 / 0755 usually)."""
    mode = 0o777 if Path(path).is_dir() else 0o666
    os.chmod(path, mode & ~_umask())


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Writes ``path`` through ``write(tmp)``, which fills (or creates anew) the temporary file
    ``tmp`` in the same folder; ``tmp`` is then given normal modes, synced to disk and renamed
    over ``path``. On any error, or an interrupt, ``tmp`` is removed and ``path`` is untouched.
    The folder must exist."""
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        make_public(tmp)  # after writing: some writers (safetensors, PIL) create the file anew
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())  # the bytes are on disk before the name points at them
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def leftover_temporaries(path: str | os.PathLike) -> list[Path]:
    """The temporary files of ``atomic_write`` calls for ``path`` whose process was killed."""
    path = Path(path)
    return sorted(path.parent.glob(f".{glob.escape(path.name)}.*.tmp"))
