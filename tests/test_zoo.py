"""The zoo catalogue: the shipped cards, their format, and reading catalogues without torch."""

from __future__ import annotations

import shlex
import subprocess
import sys
import textwrap

import pytest
from huggingface_hub import ModelCard

import ganzoo
from ganzoo.cli import run as run_command
from ganzoo.errors import GanzooError
from ganzoo.zoo import cards_dir, catalogues, find_zoo_entry, zoo_entries

SHIPPED = {
    "dcgan-anime",
    "dcgan-celeba",
    "dcgan-toon",
    "wgan-anime",
    "wgan-celeba",
    "improved-anime",
    "improved-toon",
}


def test_shipped_cards():
    entries = {e.name: e for e in zoo_entries()}
    assert set(entries) == SHIPPED
    registered = set(ganzoo.list_models())
    for name, entry in entries.items():
        assert name == f"{entry.model}-{entry.data}" and entry.model in registered
        if entry.origin == "ganzoo":
            # a core card, no weights: it may not point at weights that do not exist
            assert entry.status == "unpublished" and entry.weights == "absent"
            assert entry.repo is None and entry.revision is None and entry.sha256 is None
            assert "unpublished" in entry.body
        else:  # shipped by its plugin with the weights (tests/test_zoo_bundled.py loads them)
            assert entry.bundled and entry.sha256 and entry.origin == entry.model
        assert entry.train_command in entry.body
        assert entry.summary

        # the training command is a valid `ganzoo run` command line for this entry
        args = shlex.split(entry.train_command)
        assert args[:3] == ["ganzoo", "run", entry.model]
        context = run_command.make_context("run", args[2:])
        assert context.params["data"] == entry.data

        # and the card is a valid Hugging Face model card
        card = ModelCard.load(entry.card_path)
        assert card.data.library_name == "ganzoo"
        assert card.data.license in ("mit", "other")
        assert card.data.pipeline_tag in ("unconditional-image-generation", "image-to-image")
        # ganzoo's dataset name, or the Hub dataset it stands for (huggan/anime-faces)
        assert any(entry.data.lower() in name.lower() for name in card.data.datasets)
        assert {"ganzoo", entry.model} <= set(card.data.tags)


def test_patterns_and_lookup():
    assert [e.name for e in zoo_entries("wgan-*")] == ["wgan-anime", "wgan-celeba"]
    assert find_zoo_entry("improved-toon").model == "improved"
    assert find_zoo_entry("nothing-here") is None
    info = find_zoo_entry("improved-toon").as_dict()
    assert info["card"].startswith("# improved-toon") and info["status"] == "unpublished"


def test_catalogue_override_adds_and_bad_cards(tmp_path, monkeypatch):
    monkeypatch.setenv("GANZOO_MODEL_CARDS", str(tmp_path))
    assert ("GANZOO_MODEL_CARDS", tmp_path) in catalogues()
    assert ("ganzoo", cards_dir()) in catalogues()  # added to, not replaced
    (tmp_path / "good.md").write_text(
        textwrap.dedent(
            """\
            ---
            library_name: ganzoo
            ganzoo:
              model: dcgan
              data: toon
              status: published
              repo: org/good
              revision: 0123456789abcdef0123456789abcdef01234567
              train: ganzoo run dcgan --data toon
            ---
            # good
            """
        )
    )
    (tmp_path / "no-front-matter.md").write_text("# just text\n")
    (tmp_path / "no-repo.md").write_text(
        "---\nganzoo:\n  model: dcgan\n  data: toon\n  status: published\n"
        "  train: ganzoo run dcgan\n---\n"
    )
    (tmp_path / "README.md").write_text("# the index page, not a card\n")
    with pytest.warns(UserWarning) as record:
        entries = zoo_entries()
    # the name defaults to the file's; the installed entries are all still there
    assert {e.name for e in entries} == SHIPPED | {"good"}
    good = next(e for e in entries if e.name == "good")
    assert good.published and good.repo == "org/good" and good.origin == "GANZOO_MODEL_CARDS"
    assert good.weights == "hub"
    reasons = sorted(str(w.message) for w in record)
    assert len(reasons) == 2
    assert "no YAML front matter" in reasons[0] and "needs its repo" in reasons[1]


def test_unpublished_entry_cannot_be_loaded():
    # dcgan-toon: a core card that no plugin ships weights for (not one of the paper's six)
    assert find_zoo_entry("dcgan-toon").weights == "absent"
    with pytest.raises(GanzooError, match="train it with `ganzoo run dcgan --data toon"):
        ganzoo.load("dcgan-toon")


def test_listing_the_zoo_imports_no_torch():
    code = (
        "import sys\n"
        "from ganzoo.zoo import zoo_entries\n"
        "assert len(zoo_entries()) == 7\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "assert 'huggingface_hub' not in sys.modules, 'huggingface_hub imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
