"""Publish stamps that cannot go stale, and the checks that read them.

A published chapter ``book/NN_name.ipynb`` carries, in ``metadata.spectral_manifolds``,
where and how it was executed (device, budget, UTC date, commit, seconds) and three
hashes (DESIGN.md, "Executed outputs"):

* ``code_hash`` -- SHA-256 of the chapter's code cells, in order: what the outputs
  depend on. Editing a code cell after publishing makes the chapter stale.
* ``cells_hash`` -- SHA-256 of every markdown and code cell (type and source, in order):
  the prose as published. Prose edited after publishing (re-reading the text against
  the outputs, as DESIGN.md asks after every publish) leaves the outputs current, so it
  is not an error; the .md and the .ipynb must still hold the same markdown.
* ``src_hash`` -- SHA-256 of every ``.py`` file under ``src/spectral_manifolds/``.
  A changed module makes every chapter's outputs possibly stale.

:func:`problems` lists what is wrong with a committed chapter; ``tests/test_book.py``
fails on any, and ``make publish`` re-executes only the chapters :func:`stale_reason`
names (unless forced).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import pathlib
import re
from typing import Any, Iterable

STAMP_KEY = "spectral_manifolds"
STAMP_FIELDS = ("device", "budget", "date", "commit", "seconds", "code_hash", "cells_hash", "src_hash")
SRC = pathlib.Path(__file__).resolve().parent
COMMIT = re.compile(r"^[0-9a-f]{7,40}$")
PRINTS = re.compile(r"(^|[^\w.])(print|display)\(")


#: Code that draws a figure (matplotlib's pyplot, or one of the book's ``plot_*`` helpers).
DRAWS = re.compile(r"(\bplt\.(subplots|figure|plot|imshow|hist|scatter)\(|(^|[^\w])plot_\w+\()", re.M)


def image_count(nb: Any) -> int:
    """Number of image outputs (PNG/SVG/JPEG) in a notebook."""
    kinds = ("image/png", "image/svg+xml", "image/jpeg")
    return sum(1 for c in nb["cells"] for o in c.get("outputs") or [] if any(k in (o.get("data") or {}) for k in kinds))


def draws_figures(nb: Any) -> bool:
    """True when a code cell of the chapter calls a plotting function (:data:`DRAWS`)."""
    return any(kind == "code" and DRAWS.search(src) for kind, src in chapter_cells(nb))


def prints_when_run(source: str) -> bool:
    """True when running ``source`` calls ``print``/``display`` itself: a call outside every
    ``def``/``class`` body (a cell that only defines helpers that print does not print).
    Falls back to the :data:`PRINTS` regex when the source does not parse (IPython magics)."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return bool(PRINTS.search(source))

    def walk(node) -> bool:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                continue
            if (isinstance(child, ast.Call) and isinstance(child.func, ast.Name)
                    and child.func.id in ("print", "display")):
                return True
            if walk(child):
                return True
        return False

    return walk(tree)


# --------------------------------------------------------------------------- hashes
def _source(cell: Any) -> str:
    src = cell["source"]
    return (src if isinstance(src, str) else "".join(src)).strip()


def chapter_cells(nb: Any) -> list[tuple[str, str]]:
    """(cell_type, stripped source) of every non-empty markdown and code cell, in order."""
    cells = []
    for cell in nb["cells"]:
        if cell["cell_type"] in ("markdown", "code") and _source(cell):
            cells.append((cell["cell_type"], _source(cell)))
    return cells


def cells_hash(nb: Any) -> str:
    """SHA-256 (hex) of :func:`chapter_cells` of a notebook (dict or nbformat node)."""
    return hashlib.sha256(json.dumps(chapter_cells(nb)).encode()).hexdigest()


def code_hash(nb: Any) -> str:
    """SHA-256 (hex) of the non-empty code cells' stripped sources, in order."""
    code = [src for kind, src in chapter_cells(nb) if kind == "code"]
    return hashlib.sha256(json.dumps(code).encode()).hexdigest()


def src_hash(root: pathlib.Path = SRC) -> str:
    """SHA-256 (hex) of every ``.py`` file under ``root`` (relative path and bytes, sorted)."""
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def make_stamp(device: str, budget: str, commit: str, seconds: float, code: str, cells: str, src: str) -> dict:
    """The publish stamp stored under ``metadata.spectral_manifolds`` (hashes: :func:`code_hash`,
    :func:`cells_hash`, :func:`src_hash`)."""
    return {
        "device": device,
        "budget": budget,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": commit,
        "seconds": round(float(seconds), 1),
        "code_hash": code,
        "cells_hash": cells,
        "src_hash": src,
    }


# --------------------------------------------------------------------------- checks
def stamp_problems(stamp: Any, name: str = "chapter") -> list[str]:
    """What is implausible about a stamp: missing fields, not a GPU at the full budget,
    an unknown or dirty commit, a date in the future, non-positive seconds."""
    if not isinstance(stamp, dict):
        return [f"{name} has no publish stamp in metadata.{STAMP_KEY} (publish it: `make publish`)"]
    missing = [f for f in STAMP_FIELDS if f not in stamp]
    if missing:
        return [f"{name}: stamp lacks {missing} (re-publish it)"]
    out = []
    if stamp["budget"] != "full":
        out.append(f"{name} was published at budget {stamp['budget']!r}, not 'full'")
    if "cpu" in str(stamp["device"]).lower():
        out.append(f"{name}: the full budget was run on {stamp['device']!r}, not a GPU")
    if not COMMIT.match(str(stamp["commit"])):
        out.append(f"{name}: stamp commit {stamp['commit']!r} is not a clean commit (publish from a committed tree: COMMIT=sha)")
    try:
        when = dt.datetime.strptime(stamp["date"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
        if when > dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1):
            out.append(f"{name}: stamp date {stamp['date']} is in the future")
    except (TypeError, ValueError):
        out.append(f"{name}: stamp date {stamp['date']!r} is not YYYY-MM-DDTHH:MM:SSZ")
    if not (isinstance(stamp["seconds"], (int, float)) and stamp["seconds"] > 0):
        out.append(f"{name}: stamp seconds {stamp['seconds']!r} is not positive")
    return out


def execution_problems(nb: Any, name: str = "chapter") -> list[str]:
    """Every non-empty code cell ran, in order (execution counts 1..n), without errors,
    and every cell that prints or displays has outputs."""
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and _source(c)]
    out = []
    counts = [c.get("execution_count") for c in code]
    if counts != list(range(1, len(code) + 1)):
        out.append(f"{name}: execution counts are {counts}, not 1..{len(code)} (a cell did not run, or ran out of order)")
    for i, cell in enumerate(code, 1):
        outputs = cell.get("outputs") or []
        if any(o.get("output_type") == "error" for o in outputs):
            out.append(f"{name}: code cell {i} carries an error output")
        if not outputs and prints_when_run(_source(cell)):
            out.append(f"{name}: code cell {i} prints but has no outputs")
    return out


def pair_problems(md_nb: Any, ipynb_nb: Any, name: str = "chapter") -> list[str]:
    """The .md and the .ipynb hold the same markdown and code cells."""
    a, b = chapter_cells(md_nb), chapter_cells(ipynb_nb)
    if a == b:
        return []
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return [f"{name}: cell {i + 1} ({x[0]} in the .md, {y[0]} in the .ipynb) differs between the pair (run `make sync`, then re-publish)"]
    return [f"{name}: the .md has {len(a)} cells and the .ipynb {len(b)} (run `make sync`, then re-publish)"]


def problems(md: pathlib.Path, ipynb: pathlib.Path) -> list[str]:
    """Everything that makes a committed chapter stale or unpublished (empty when fine)."""
    import jupytext

    name = ipynb.name
    if not md.exists() or not ipynb.exists():
        return [f"{name}: the pair {md.name} / {ipynb.name} is incomplete (run `make sync`)"]
    nb = json.loads(ipynb.read_text())
    out = pair_problems(jupytext.read(md), nb, name)
    stamp = nb.get("metadata", {}).get(STAMP_KEY)
    out += stamp_problems(stamp, name)
    if isinstance(stamp, dict) and "code_hash" in stamp and stamp["code_hash"] != code_hash(nb):
        out.append(f"{name}: its code cells changed after it was published (stamp code_hash differs): re-publish it")
    out += execution_problems(nb, name)
    return out


def stale_reason(md: pathlib.Path, ipynb: pathlib.Path, src: str | None = None) -> str | None:
    """Why ``make publish`` should re-run a chapter (None when its stamp is current)."""
    import jupytext

    if not ipynb.exists():
        return "never published"
    published = json.loads(ipynb.read_text())
    stamp = published.get("metadata", {}).get(STAMP_KEY) or {}
    if stamp.get("code_hash") != code_hash(jupytext.read(md)):
        return "its code changed"
    if stamp.get("src_hash") != (src or src_hash()):
        return "src/spectral_manifolds changed"
    if stamp.get("budget") != "full":
        return f"published at budget {stamp.get('budget')!r}"
    if draws_figures(published) and image_count(published) == 0:
        return "its code draws figures but the published page has none (a non-inline matplotlib backend?)"
    return None


def stale_chapters(chapters: Iterable[pathlib.Path]) -> dict[pathlib.Path, str]:
    """``{md: reason}`` for the chapters whose published outputs are not current."""
    src = src_hash()
    reasons = {}
    for chapter in chapters:
        md = chapter.with_suffix(".md")
        reason = stale_reason(md, md.with_suffix(".ipynb"), src)
        if reason:
            reasons[md] = reason
    return reasons
