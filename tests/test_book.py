"""The book's structure: toc <-> files, .md/.ipynb pairs in sync, published outputs stamped."""

from __future__ import annotations

import json
import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CHAPTER = re.compile(r"^\d\d_[a-z0-9_]+$")
STAMP_FIELDS = ("device", "budget", "date", "commit", "seconds")


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


def md_code_cells(text: str) -> list[str]:
    return [c.strip() for c in re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", text, re.S) if c.strip()]


def strip_cell_options(code: str) -> str:
    """Drop MyST cell options (`:tags: [...]` lines) that jupytext moves to metadata."""
    lines = code.splitlines()
    while lines and re.match(r"^:\w[\w-]*:", lines[0]):
        lines.pop(0)
    return "\n".join(lines).strip()


def nb_code_cells(nb: dict) -> list[str]:
    cells = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            if src.strip():
                cells.append(src.strip())
    return cells


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
def test_chapter_is_paired_and_in_sync(stem):
    md, ipynb = stem.with_suffix(".md"), stem.with_suffix(".ipynb")
    assert md.exists(), f"{ipynb.name} has no paired {md.name} (run `make sync`)"
    assert ipynb.exists(), f"{md.name} has no paired {ipynb.name} (run `make sync`)"
    md_cells = [strip_cell_options(c) for c in md_code_cells(md.read_text())]
    nb_cells = nb_code_cells(json.loads(ipynb.read_text()))
    assert md_cells == nb_cells, f"{md.name} and {ipynb.name} hold different code (run `make sync`, then re-publish)"


@pytest.mark.parametrize("stem", chapters(), ids=lambda p: p.name)
def test_chapter_is_published(stem):
    ipynb = stem.with_suffix(".ipynb")
    nb = json.loads(ipynb.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert any(c.get("outputs") for c in code), f"{ipynb.name} has no outputs: publish it (`make publish`)"
    stamp = nb.get("metadata", {}).get("spectral_manifolds")
    assert isinstance(stamp, dict), f"{ipynb.name} has no publish stamp in its metadata"
    missing = [f for f in STAMP_FIELDS if f not in stamp]
    assert not missing, f"{ipynb.name}: stamp lacks {missing}"
    assert stamp["budget"] == "full", f"{ipynb.name} was published at budget {stamp['budget']!r}, not 'full'"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{ipynb.name} carries error outputs"


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
