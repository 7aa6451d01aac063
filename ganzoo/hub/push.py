"""Publishing on the Hub: a Hub-ready folder, a run (exported first), a bundled zoo entry or a
model object, uploaded to a model repository as one commit. What is pushed is first loaded by
ganzoo itself, so nothing it cannot load is ever published."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ganzoo.errors import GanzooError
from ganzoo.hub.export import CARD_NAME, export_run, save_pretrained
from ganzoo.hub.loading import load
from ganzoo.hub.model_sources import CONFIG_NAME, local_source
from ganzoo.io.hub_errors import push_errors
from ganzoo.models import GAN
from ganzoo.version import __version__


def push_to_hub(source: str | os.PathLike, repo_id: str, private: bool = False) -> tuple[str, str]:
    """Uploads a Hub-ready folder, or a run (exported first), to ``repo_id``; returns the
    repository URL and the commit id. The folder is checked by loading it first."""
    path = Path(source)
    if not path.is_dir():
        from ganzoo.zoo import find_zoo_entry

        entry = find_zoo_entry(str(source))
        if entry is None or not entry.bundled:
            raise GanzooError(
                f"{source} is not a folder; push takes a Hub-ready folder, a run or a bundled "
                "zoo entry"
            )
        path = entry.folder  # published unchanged, as the zoo ships it
    with tempfile.TemporaryDirectory(prefix="ganzoo-push-") as tmp:
        staged = Path(tmp) / "upload"
        if local_source(path).kind == "run":
            export_run(path, staged)
        else:
            load(path, device="cpu")  # never publish what ganzoo itself cannot load
            shutil.copytree(path, staged, ignore=shutil.ignore_patterns(".*", "*.tmp"))
        return _upload(staged, repo_id, private)


def push_model_to_hub(
    model: GAN, repo_id: str, private: bool = False, **card: Any
) -> tuple[str, str]:
    """``GAN.push_to_hub``: save_pretrained to a temporary folder, then upload it."""
    with tempfile.TemporaryDirectory(prefix="ganzoo-push-") as tmp:
        staged = save_pretrained(model, Path(tmp) / "upload", **card)
        return _upload(staged, repo_id, private)


def _upload(folder: Path, repo_id: str, private: bool) -> tuple[str, str]:
    """Creates the repository if needed and uploads ``folder`` as one commit."""
    from huggingface_hub import HfApi

    from ganzoo.hub.cards import REPO_PLACEHOLDER

    card = folder / CARD_NAME
    if card.is_file():  # the card's usage lines name this repository from now on
        card.write_text(
            card.read_text(encoding="utf-8").replace(f"hf://{REPO_PLACEHOLDER}", f"hf://{repo_id}"),
            encoding="utf-8",
        )
    config = json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8"))
    api = HfApi(library_name="ganzoo", library_version=__version__)
    with push_errors(repo_id):
        url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        commit = api.upload_folder(
            repo_id=repo_id,
            folder_path=str(folder),
            repo_type="model",
            commit_message=f"Upload {config['model']} with ganzoo {__version__}",
        )
    return str(url), commit.oid
