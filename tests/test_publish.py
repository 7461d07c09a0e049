"""publish: executes a chapter with a real kernel, stamps it, and fails loudly."""

from __future__ import annotations

import json

import pytest

from spectral_manifolds import publish, stamps

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

# Demo

```{{code-cell}} ipython3
import os
print(os.environ["SM_BUDGET"], {value})
```
"""


def test_publish_writes_a_current_stamp(tmp_path):
    md = tmp_path / "99_demo.md"
    md.write_text(MD.format(value="6 * 7"))
    assert publish.main([str(md), "--budget", "quick", "--commit", "abc1234"]) == 0
    nb = json.loads(md.with_suffix(".ipynb").read_text())
    stamp = nb["metadata"][stamps.STAMP_KEY]
    assert sorted(stamp) == sorted(stamps.STAMP_FIELDS)
    assert stamp["budget"] == "quick" and stamp["commit"] == "abc1234"
    assert "quick 42" in "".join(nb["cells"][1]["outputs"][0]["text"])
    # Everything is current except what a quick CPU run cannot be: budget and device.
    found = stamps.problems(md, md.with_suffix(".ipynb"))
    assert all("budget" in p or "not a GPU" in p for p in found), found
    assert stamps.stale_reason(md, md.with_suffix(".ipynb")) == "published at budget 'quick'"


def test_publish_skips_current_and_reruns_edited(tmp_path, capsys):
    md = tmp_path / "99_demo.md"
    md.write_text(MD.format(value="1"))
    assert publish.main([str(md), "--budget", "quick", "--commit", "abc1234", "--check"]) == 0
    assert "never published" in capsys.readouterr().out
    assert not md.with_suffix(".ipynb").exists()  # --check executes nothing


def test_main_returns_1_when_a_chapter_fails(tmp_path, capsys):
    md = tmp_path / "99_broken.md"
    md.write_text(MD.format(value="1 / 0"))
    assert publish.main([str(md), "--budget", "quick", "--commit", "abc1234"]) == 1
    assert "FAILED" in capsys.readouterr().err
    assert publish.main([str(tmp_path / "98_missing.md"), "--budget", "quick", "--force"]) == 1


def test_jobs_publish_chapters_in_parallel_and_report_failures(tmp_path, capsys):
    good, bad = tmp_path / "97_good.md", tmp_path / "96_bad.md"
    good.write_text(MD.format(value="6 * 7"))
    bad.write_text(MD.format(value="1 / 0"))
    assert publish.main([str(good), str(bad), "--budget", "quick", "--commit", "abc1234", "--jobs", "2"]) == 1
    out, err = capsys.readouterr()
    assert "FAILED" in err and str(bad) in err and str(good) not in err
    nb = json.loads(good.with_suffix(".ipynb").read_text())
    assert nb["metadata"][stamps.STAMP_KEY]["commit"] == "abc1234"
    assert "quick 42" in "".join(nb["cells"][1]["outputs"][0]["text"])
    assert not bad.with_suffix(".ipynb").exists()


def test_jobs_must_be_positive(tmp_path):
    md = tmp_path / "99_demo.md"
    md.write_text(MD.format(value="1"))
    with pytest.raises(SystemExit):
        publish.main([str(md), "--jobs", "0"])


FIGURE_MD = MD.replace('''import os
print(os.environ["SM_BUDGET"], {value})''', '''import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.plot([0, 1], [1, 0])''').replace("{{code-cell}}", "{code-cell}")  # MD is a str.format template


def test_published_figures_reach_the_notebook_even_under_a_headless_backend(tmp_path, monkeypatch):
    """A kernel that inherits MPLBACKEND=Agg would drop every figure (chapters 4 and 10-21 were
    once published that way): publish gives the kernel the inline backend."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    md = tmp_path / "98_figure.md"
    md.write_text(FIGURE_MD)
    assert publish.main([str(md), "--budget", "quick", "--commit", "abc1234"]) == 0
    nb = json.loads(md.with_suffix(".ipynb").read_text())
    assert stamps.image_count(nb) == 1
