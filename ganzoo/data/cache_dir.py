"""Where decoded datasets are cached.

A module of its own, with no torch, so that the package (``ganzoo.data.cache_root``), the
decode cache (cache.py) and ``ganzoo info`` (real.py) all import it from below.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """Where decoded datasets are cached: ``$GANZOO_CACHE/datasets``, else ``~/.cache/ganzoo/``."""
    base = os.environ.get("GANZOO_CACHE") or Path.home() / ".cache" / "ganzoo"
    return Path(base).expanduser() / "datasets"
