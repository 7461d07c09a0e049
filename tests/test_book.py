"""The book's structure: toc <-> files, .md/.ipynb pairs in sync, published outputs current.

The per-chapter checks live in :mod:`spectral_manifolds.stamps` (so that ``make publish``
uses the same rules); ``tests/test_stamps.py`` shows on deliberately stale copies that
each check fails when it should.
"""

from __future__ import annotations

import pathlib
import re

import pytest
import yaml

from spectral_manifolds import stamps

ROOT = pathlib.Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CHAPTER = re.compile(r"^\d\d_[a-z0-9_]+$")


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc.get("parts", toc.get("chapters", [])))
    return files


def chapters() -> list[pathlib.Path]:
    stems = {p.with_suffix("") for p in BOOK.glob("*.md")} | {p.with_suffix("") for p in BOOK.glob("*.ipynb")}
    return sorted(s for s in stems if CHAPTER.match(s.name))


def test_toc_entries_exist():
    for entry in toc_files():
        matches = [p for p in (ROOT / f"{entry}.md", ROOT / f"{entry}.ipynb") if p.exists()]
        assert matches, f"_toc.yml lists {entry!r} but neither {entry}.md nor {entry}.ipynb exists"


def test_every_chapter_is_in_toc():
    listed = set(toc_files())
    for stem in chapters():
        rel = stem.relative_to(ROOT).as_posix()
        assert rel in listed, f"{rel} is a chapter in book/ but missing from _toc.yml"


def test_toc_lists_each_file_once():
    files = toc_files()
    assert len(files) == len(set(files)), f"duplicate toc entries: {files}"


@pytest.mark.parametrize("stem", chapters(), ids=lambda p: p.name)
def test_chapter_is_paired_published_and_current(stem):
    """Pair in sync (markdown and code), stamp plausible, cells unchanged since publishing,
    every code cell executed in order with its outputs, no error outputs."""
    found = stamps.problems(stem.with_suffix(".md"), stem.with_suffix(".ipynb"))
    assert not found, "\n".join(found)


def test_config_has_colab_and_bibliography():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "off"
    assert config["repository"]["url"].startswith("https://github.com/")
    assert "colab" in config["launch_buttons"]["colab_url"]
    assert config["bibtex_bibfiles"] == ["references.bib"]
    assert "book/[0-9][0-9]_*.md" in config["exclude_patterns"]


def test_bibliography_keys_cited_exist():
    keys = set(re.findall(r"@\w+\{([^,]+),", (ROOT / "references.bib").read_text()))
    for md in BOOK.glob("*.md"):
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", md.read_text()):
            for key in group.split(","):
                assert key.strip() in keys, f"{md.name} cites {key.strip()!r}, which references.bib lacks"
