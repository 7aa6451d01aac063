"""The release: distribution names that resolve on PyPI, and wheels that work once installed."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = sorted((ROOT / "plugins").glob("*/pyproject.toml"))


def project(path: Path) -> dict:
    return tomllib.loads(path.read_text())["project"]


def requirement_name(requirement: str) -> str:
    return re.match(r"[A-Za-z0-9._-]+", requirement).group(0).lower().replace("_", "-")


def test_plugins_depend_on_the_core_by_its_name():
    # "ganzoo" on PyPI is an unrelated project: a plugin depending on it would install that
    core = project(ROOT / "pyproject.toml")["name"]
    assert core == "ganzoo-core"
    assert PLUGINS
    for path in PLUGINS:
        needs = [requirement_name(r) for r in project(path)["dependencies"]]
        assert core in needs, path
        assert "ganzoo" not in needs, path
        assert project(path)["name"].startswith("ganzoo-"), path


@pytest.mark.skipif(
    importlib.util.find_spec("build") is None or importlib.util.find_spec("twine") is None,
    reason="build or twine is not installed (pip install -e '.[test]'): .ci/wheels needs both",
)
def test_wheels_install_and_run(tmp_path):
    """About 40 s: .ci/wheels builds every wheel, checks it with twine, installs the wheels in a
    fresh venv and runs `ganzoo list`, ganzoo.load("improved-anime") and a 2-step `ganzoo run`
    from there; a zoo file or template left out of a wheel fails here."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [str(ROOT / ".ci" / "wheels"), str(tmp_path / "dist")],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "== wheels ok: ganzoo_core-" in done.stdout
    assert "improved-anime translated one image" in done.stdout
