"""stamps: every stale-notebook case is caught, shown on deliberately stale copies."""

from __future__ import annotations

import copy
import json
import pathlib

import jupytext
import nbformat
import pytest

from spectral_manifolds import stamps

MD = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A chapter

Some prose.

```{code-cell} ipython3
x = 1 + 1
```

```{code-cell} ipython3
print(x)
```
"""


def published(tmp_path: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path, dict]:
    """A chapter pair whose .ipynb looks freshly published on a GPU at the full budget."""
    md = tmp_path / "99_demo.md"
    md.write_text(MD)
    nb = jupytext.read(md)
    code = [c for c in nb.cells if c.cell_type == "code"]
    for i, cell in enumerate(code, 1):
        cell.execution_count = i
        cell.outputs = []
    code[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="2\n")]
    nb.metadata[stamps.STAMP_KEY] = stamps.make_stamp("NVIDIA H200", "full", "abc1234", 3.2, stamps.code_hash(nb), stamps.cells_hash(nb), stamps.src_hash())
    ipynb = md.with_suffix(".ipynb")
    ipynb.write_text(json.dumps(nb))
    return md, ipynb, json.loads(ipynb.read_text())


def rewrite(ipynb: pathlib.Path, nb: dict) -> None:
    ipynb.write_text(json.dumps(nb))


def test_fresh_chapter_has_no_problems(tmp_path):
    md, ipynb, _ = published(tmp_path)
    assert stamps.problems(md, ipynb) == []
    assert stamps.stale_reason(md, ipynb) is None


def test_edited_md_not_synced_is_caught(tmp_path):
    md, ipynb, _ = published(tmp_path)
    md.write_text(MD.replace("Some prose.", "Other prose."))
    found = stamps.problems(md, ipynb)
    assert any("differs between the pair" in p for p in found)
    assert stamps.stale_reason(md, ipynb) is None  # prose only: the outputs are still current


def test_edited_code_in_md_not_synced_is_caught(tmp_path):
    md, ipynb, _ = published(tmp_path)
    md.write_text(MD.replace("x = 1 + 1", "x = 1 + 2"))
    assert any("differs between the pair" in p for p in stamps.problems(md, ipynb))
    assert stamps.stale_reason(md, ipynb) == "its code changed"


def test_prose_edited_and_synced_after_publishing_is_allowed(tmp_path):
    """Re-reading the text against the outputs may change markdown: outputs stay current."""
    md, ipynb, nb = published(tmp_path)
    md.write_text(MD.replace("Some prose.", "Corrected prose."))
    nb["cells"][0]["source"] = "# A chapter\n\nCorrected prose."
    rewrite(ipynb, nb)
    assert stamps.problems(md, ipynb) == []
    assert nb["metadata"][stamps.STAMP_KEY]["cells_hash"] != stamps.cells_hash(nb)  # the stamp still records the old prose


def test_edited_and_synced_but_not_republished_is_caught(tmp_path):
    """The pair agrees again (jupytext --sync keeps old outputs): only the hash sees it."""
    md, ipynb, nb = published(tmp_path)
    md.write_text(MD.replace("x = 1 + 1", "x = 1 + 2"))
    nb["cells"][1]["source"] = "x = 1 + 2"
    rewrite(ipynb, nb)
    found = stamps.problems(md, ipynb)
    assert found == ["99_demo.ipynb: its code cells changed after it was published (stamp code_hash differs): re-publish it"]
    assert stamps.stale_reason(md, ipynb) == "its code changed"


def test_markdown_difference_is_caught(tmp_path):
    md, ipynb, nb = published(tmp_path)
    nb["cells"][0]["source"] = "# A chapter\n\nEdited only in the notebook."
    rewrite(ipynb, nb)
    assert any("markdown in the .md" in p for p in stamps.problems(md, ipynb))


def test_cell_not_run_is_caught(tmp_path):
    md, ipynb, nb = published(tmp_path)
    nb["cells"][2]["execution_count"] = None
    nb["cells"][2]["outputs"] = []
    rewrite(ipynb, nb)
    found = stamps.problems(md, ipynb)
    assert any("execution counts" in p for p in found) and any("prints but has no outputs" in p for p in found)


def test_error_output_is_caught(tmp_path):
    md, ipynb, nb = published(tmp_path)
    nb["cells"][2]["outputs"] = [{"output_type": "error", "ename": "E", "evalue": "", "traceback": []}]
    rewrite(ipynb, nb)
    assert any("error output" in p for p in stamps.problems(md, ipynb))


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("device", "CPU (x86_64, 2 cores)", "not a GPU"),
        ("budget", "quick", "not 'full'"),
        ("commit", "abc1234+dirty", "not a clean commit"),
        ("commit", "unknown", "not a clean commit"),
        ("seconds", 0.0, "not positive"),
        ("date", "2999-01-01T00:00:00Z", "in the future"),
    ],
)
def test_implausible_stamps_are_caught(tmp_path, field, value, message):
    md, ipynb, nb = published(tmp_path)
    nb["metadata"][stamps.STAMP_KEY][field] = value
    rewrite(ipynb, nb)
    assert any(message in p for p in stamps.problems(md, ipynb))


def test_old_stamp_without_hashes_is_caught(tmp_path):
    md, ipynb, nb = published(tmp_path)
    del nb["metadata"][stamps.STAMP_KEY]["code_hash"]
    rewrite(ipynb, nb)
    assert any("stamp lacks ['code_hash']" in p for p in stamps.problems(md, ipynb))


def test_cells_hash_sees_every_cell_kind_and_order():
    nb = {"cells": [{"cell_type": "markdown", "source": "a"}, {"cell_type": "code", "source": "b"}]}
    swapped = {"cells": nb["cells"][::-1]}
    retyped = copy.deepcopy(nb)
    retyped["cells"][1]["cell_type"] = "markdown"
    hashes = {stamps.cells_hash(x) for x in (nb, swapped, retyped)}
    assert len(hashes) == 3
    assert stamps.cells_hash({"cells": nb["cells"] + [{"cell_type": "code", "source": "  "}]}) == stamps.cells_hash(nb)


def test_code_hash_ignores_markdown_but_sees_code_and_its_order():
    nb = {"cells": [{"cell_type": "markdown", "source": "a"}, {"cell_type": "code", "source": "b"}, {"cell_type": "code", "source": "c"}]}
    prose = copy.deepcopy(nb)
    prose["cells"][0]["source"] = "other prose"
    swapped = {"cells": [nb["cells"][0], nb["cells"][2], nb["cells"][1]]}
    assert stamps.code_hash(prose) == stamps.code_hash(nb) != stamps.code_hash(swapped)


def test_src_hash_changes_with_a_module(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    before = stamps.src_hash(tmp_path)
    (tmp_path / "a.py").write_text("x = 2\n")
    assert stamps.src_hash(tmp_path) != before


def test_stale_chapters_lists_only_stale(tmp_path):
    md, ipynb, nb = published(tmp_path)
    other = tmp_path / "98_other.md"
    other.write_text(MD)
    assert stamps.stale_chapters([md, other]) == {other: "never published"}
    nb["metadata"][stamps.STAMP_KEY]["src_hash"] = "0" * 64
    rewrite(ipynb, nb)
    assert stamps.stale_chapters([md]) == {md: "src/spectral_manifolds changed"}


@pytest.mark.parametrize("source, prints", [
    ("print(1)", True),
    ("x = 1\nif x:\n    display(x)", True),
    ("for i in range(2):\n    print(i)", True),
    ("def show(r):\n    print(r)", False),  # defines a helper that prints; the cell itself prints nothing
    ("class A:\n    def f(self):\n        print(1)", False),
    ("f = lambda: print(1)", False),
    ("def show(r):\n    print(r)\n\nshow(2)", False),  # the call is through a helper: not seen (no false alarm)
    ("obj.print(1)", False),
    ("%time print(1)", True),  # IPython magic: the regex fallback
])
def test_prints_when_run(source, prints):
    assert stamps.prints_when_run(source) is prints


def test_figures_missing_from_a_page_that_draws_them_make_it_stale(tmp_path):
    """A chapter whose code draws a figure but whose published page holds no image (published under
    a headless backend) is stale for ``make publish``; with one image it is not."""
    nb = {"cells": [{"cell_type": "code", "source": "fig, ax = plt.subplots()", "outputs": []}]}
    assert stamps.draws_figures(nb) and stamps.image_count(nb) == 0
    nb["cells"][0]["outputs"] = [{"output_type": "display_data", "data": {"image/png": "iVBOR"}}]
    assert stamps.image_count(nb) == 1
    assert not stamps.draws_figures({"cells": [{"cell_type": "code", "source": "x.replot(1)\nprint(plot)", "outputs": []}]})
    assert stamps.draws_figures({"cells": [{"cell_type": "code", "source": "tables.plot_depth(result)", "outputs": []}]})
