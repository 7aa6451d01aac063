"""File modes for files ganzoo writes through temporary names.

``tempfile.mkstemp`` and ``mkdtemp`` create private files (0600) and folders (0700); renamed
into place they would keep those modes, so exported models, zoo entries and caches could not be
read by other users or served as they are. They get the mode a plain ``open`` would give.
"""

from __future__ import annotations

import os
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def make_public(path: str | os.PathLike) -> None:
    """Gives a file 0666, or a folder 0777, less the process's umask (0644 / 0755 usually)."""
    mode = 0o777 if Path(path).is_dir() else 0o666
    os.chmod(path, mode & ~_umask())
