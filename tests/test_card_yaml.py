"""A model card whose front matter is an alias bomb ("billion laughs") is refused in one line, at
once, and the rest of the zoo is still listed."""

from __future__ import annotations

import pytest
import yaml
from cli_helpers import run_main

from ganzoo.errors import GanzooError
from ganzoo.hub.cards import card_metrics
from ganzoo.zoo import card_yaml, zoo_entries


def bomb(levels: int = 4) -> str:
    """A card whose summary expands to 10**levels strings; nine levels are a billion."""
    lines = ["---", "a0: &a0 [" + ", ".join(['"lol"'] * 10) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    lines += ["ganzoo:", "  model: dcgan", "  data: toon", "  train: ganzoo run dcgan --data toon"]
    lines += [f"  summary: *a{levels - 1}", "---", "# bomb", ""]
    return "\n".join(lines)


GOOD = "---\nganzoo:\n  model: dcgan\n  data: toon\n  train: ganzoo run dcgan --data toon\n---\n"


@pytest.fixture
def catalogue(tmp_path, monkeypatch):
    (tmp_path / "bomb.md").write_text(bomb())
    (tmp_path / "good.md").write_text(GOOD)
    monkeypatch.setenv("GANZOO_MODEL_CARDS", str(tmp_path))
    return tmp_path


def test_list_refuses_the_bomb_in_one_line_and_lists_the_rest(catalogue, capsys):
    with pytest.warns(UserWarning) as record:  # main prints each as "warning: ..." (one line)
        code, out, err = run_main(["list", "--kind", "zoo"], capsys)
    assert code == 0
    names = {line.split()[0] for line in out.splitlines()[2:] if line.strip()}
    assert "good" in names and "improved-anime" in names and "bomb" not in names
    warning = [str(w.message) for w in record if "bomb.md" in str(w.message)]
    assert len(warning) == 1 and "\n" not in warning[0]
    assert "skipped: the YAML alias *a0 is not allowed" in warning[0]
    assert "lol" not in out + err


def test_zoo_entries_warn_and_skip(catalogue):
    with pytest.warns(UserWarning, match=r"bomb\.md skipped: the YAML alias \*a0"):
        entries = {e.name for e in zoo_entries()}
    assert "good" in entries and "bomb" not in entries


def test_a_billion_laughs_fails_at_the_first_alias():
    # nine levels: what would take minutes and all memory to print fails before building it
    with pytest.raises(yaml.YAMLError, match=r"alias \*a0"):
        card_yaml(bomb(9).split("---")[1])
    assert card_yaml("a: &x 1\nb: [2]") == {"a": 1, "b": [2]}  # an anchor alone is harmless


def test_card_metrics_refuse_it_too(tmp_path):
    (tmp_path / "README.md").write_text(bomb())
    with pytest.raises(GanzooError, match=r"invalid YAML front matter \(the YAML alias \*a0"):
        card_metrics(tmp_path / "README.md")
