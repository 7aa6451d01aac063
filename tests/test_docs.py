"""The README is a front page, and the documentation's relative links lead somewhere."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MAX_README_LINES = 200
# [text](target) and ![alt](target), with an optional "title"; the target stops at a space or )
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)


def _pages() -> list[Path]:
    return [README, *sorted((ROOT / "docs").rglob("*.md"))]


def _relative_targets(page: Path) -> list[str]:
    """The link targets of ``page`` that name a file of this repository: not a web address,
    a mail address or an anchor in the page itself. Code blocks are not Markdown."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    targets = []
    for target in LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
            continue
        targets.append(unquote(target.split("#", 1)[0]))
    return targets


def test_readme_is_a_front_page():
    lines = len(README.read_text(encoding="utf-8").splitlines())  # as `grep -c ""` counts
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines; move detail into docs/"


def test_relative_links_lead_to_files():
    broken = []
    for page in _pages():
        for target in _relative_targets(page):
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken, "links to missing files:\n" + "\n".join(broken)
