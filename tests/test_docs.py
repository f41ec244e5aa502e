"""The manual stays true: code it quotes is the repository's code, its links and the paths it
names exist, and the README stays a front door."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.processes import ROOT

pytestmark = pytest.mark.unit

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
QUOTED = re.compile(r"<!-- quoted from (?P<path>\S+) -->\n```\w*\n(?P<code>.*?)```", re.S)
LINK = re.compile(r"\]\((?!https?://|#|mailto:)(?P<target>[^)#\s]+)")
# A repository path in backticks: under a top-level folder, or a top-level file.
REPO_PATH = re.compile(
    r"`(?:\.\./)?(?P<path>(?:workflows|activities|api|core|store|tests|docs|scripts|bench|cli"
    r"|deploy)/[\w./-]+|worker\.py|Makefile|pyproject\.toml|docker-compose\.yml|Dockerfile"
    r"|aijobs\.env\.example)`"
)
README_MAX_BYTES = 15_000


def quotes(page: Path) -> list[tuple[str, str]]:
    return [(m["path"], m["code"]) for m in QUOTED.finditer(page.read_text())]


def test_the_guide_quotes_the_classify_job() -> None:
    """The job guide shows the fifth job's real files: its workflow whole, its contract and
    a test in part."""
    quoted = {path for path, _ in quotes(ROOT / "docs" / "write-a-job.md")}
    assert {
        "workflows/classify.py",
        "core/contracts/classify.py",
        "tests/workflows/test_classify.py",
    } <= quoted


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_quoted_code_is_the_files_code(page: Path) -> None:
    """Each block marked `<!-- quoted from PATH -->` appears in PATH exactly as shown; a whole
    file quoted is the whole file."""
    for path, code in quotes(page):
        text = (ROOT / path).read_text()
        assert code in text, f"{page.name} quotes {path}, which no longer reads that way"
        if code.startswith('"""'):
            assert code == text, f"{page.name} quotes all of {path}, but not as it is now"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    """Every link to a file in the repository names one that exists."""
    for match in LINK.finditer(page.read_text()):
        target = (page.parent / match["target"]).resolve()
        assert target.exists(), f"{page.name} links to {match['target']}, which is missing"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_repository_path_named_exists(page: Path) -> None:
    """A file or folder the README or the manual names in backticks is in the repository."""
    named = {m["path"].rstrip(".") for m in REPO_PATH.finditer(page.read_text())}
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert missing == [], f"{page.name} names paths that do not exist: {missing}"


def test_the_readme_is_a_front_door() -> None:
    """Under 15 KB: what aijobs is, the two commands, a curl session, the job types and where
    to read on; the manual in docs/ holds the rest."""
    text = (ROOT / "README.md").read_text()
    assert len(text.encode()) < README_MAX_BYTES
    for heading in ("## The two commands", "## A curl session", "## Job types"):
        assert heading in text
    assert all(f"docs/{page.name}" in text for page in PAGES[1:])
