"""Execute chapters at the full budget and stamp the outputs: ``make publish``.

For each chapter ``book/NN_name.md`` (the jupytext source) this

1. reads the MyST source with jupytext (so the .ipynb always holds the .md's code),
2. executes it with nbclient in ``book/`` with ``SM_BUDGET=full``,
3. stamps ``metadata.spectral_manifolds`` with device, budget, UTC date, git commit,
   wall seconds and the hashes of the chapter's cells and of ``src/`` (:mod:`stamps`), and
4. writes the executed notebook to ``book/NN_name.ipynb`` (paired with the .md).

Only chapters whose stamp is not current (cells or ``src/`` changed since, or never
published at the full budget) are executed, unless ``--force``; ``--check`` only lists
them.

With ``--jobs N`` (N > 1) up to N chapters run at once, each in its own process (a small
model leaves most of a GPU idle, so several chapters share one well); JAX is then told not
to preallocate 75 % of the GPU per process (``XLA_PYTHON_CLIENT_PREALLOCATE=false``), and
each chapter's log is printed when it ends. Compile times printed by chapters that share
the machine's CPU cores are those of a loaded machine.

Usage::

    python -m spectral_manifolds.publish book/00_running.md [book/01_sphere.md ...]
        [--budget full] [--commit SHA] [--timeout 1200] [--force] [--check] [--jobs N]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import pathlib
import subprocess
import sys
import time

from spectral_manifolds.stamps import STAMP_FIELDS, STAMP_KEY, cells_hash, code_hash, make_stamp, src_hash, stale_chapters

__all__ = ["STAMP_FIELDS", "STAMP_KEY", "INLINE_BACKEND", "git_commit", "main", "publish_chapter"]

#: The matplotlib backend every published chapter's kernel runs with (figures become outputs).
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def git_commit(cwd: pathlib.Path) -> str:
    """The checked-out commit (short SHA, '+dirty' when the tree has changes), or 'unknown'."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True, text=True).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def publish_chapter(source: pathlib.Path, budget: str, commit: str, timeout: int) -> dict:
    """Execute one chapter and write its stamped .ipynb; returns the stamp."""
    import jupytext
    import nbformat
    from nbclient import NotebookClient

    from spectral_manifolds import runtime

    md = source.with_suffix(".md")
    ipynb = source.with_suffix(".ipynb")
    if not md.exists():
        raise FileNotFoundError(f"{md} does not exist; chapters are published from their .md source")
    nb = jupytext.read(md)
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    nb.metadata.setdefault("jupytext", {})["formats"] = "ipynb,md:myst"

    os.environ["SM_BUDGET"] = budget  # the kernel inherits this environment
    # A kernel started with MPLBACKEND set (e.g. Agg on a headless machine) keeps that backend, and
    # its figures never reach the notebook: the published page would have no plots. ipykernel's
    # inline backend needs no display, so the kernel always gets it.
    os.environ["MPLBACKEND"] = INLINE_BACKEND
    client_kwargs = dict(timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(md.parent)}})
    client = NotebookClient(nb, **client_kwargs)
    if hasattr(client, "coalesce_streams"):
        client.coalesce_streams = True  # fold tqdm's carriage returns into final lines
    print(f"[publish] executing {md} (budget={budget}) ...", flush=True)
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start

    stamp = make_stamp(runtime.device_name(), budget, commit, seconds, code_hash(nb), cells_hash(nb), src_hash())
    nb.metadata[STAMP_KEY] = stamp
    nbformat.validate(nb)
    jupytext.write(nb, ipynb, fmt="ipynb")
    print(f"[publish] wrote {ipynb}: {stamp}", flush=True)
    return stamp


def _publish_one_process(chapter: pathlib.Path, budget: str, commit: str, timeout: int) -> tuple[int, str, float]:
    """Publish one chapter in a child process; returns (exit code, its output, seconds)."""
    env = {**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    cmd = [sys.executable, "-m", "spectral_manifolds.publish", str(chapter), "--force",
           "--budget", budget, "--commit", commit, "--timeout", str(timeout)]
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    return done.returncode, done.stdout + done.stderr, time.perf_counter() - start


def _publish_in_parallel(chapters: list[pathlib.Path], budget: str, commit: str, timeout: int, jobs: int) -> list[str]:
    """Publish ``chapters`` with up to ``jobs`` child processes; returns the failed ones."""
    failures = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(_publish_one_process, c, budget, commit, timeout): c for c in chapters}
        for future in concurrent.futures.as_completed(futures):
            chapter = futures[future]
            code, output, seconds = future.result()
            print(f"[publish] ---- {chapter}: exit {code} after {seconds:.0f} s ----\n{output}", flush=True)
            if code != 0:
                print(f"[publish] FAILED {chapter}", file=sys.stderr, flush=True)
                failures.append(str(chapter))
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("chapters", nargs="+", type=pathlib.Path, help="book/NN_name.md (or .ipynb) files")
    parser.add_argument("--budget", default="full", choices=("quick", "full"))
    parser.add_argument("--commit", default=None, help="commit to stamp (default: git rev-parse)")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds allowed per cell")
    parser.add_argument("--force", action="store_true", help="execute every chapter given, current or not")
    parser.add_argument("--check", action="store_true", help="only list the chapters that would be executed")
    parser.add_argument("--jobs", type=int, default=1, help="chapters executed at once, each in its own process")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    chapters = [c.with_suffix(".md") for c in args.chapters]
    if args.force:
        todo = {c: "forced" for c in chapters}
    else:
        todo = stale_chapters(chapters)
    for chapter in chapters:
        print(f"[publish] {chapter}: {todo.get(chapter, 'current, skipped')}", flush=True)
    if args.check:
        return 0
    commit = args.commit or git_commit(pathlib.Path.cwd())
    if args.jobs > 1 and len(todo) > 1:
        failures = _publish_in_parallel(list(todo), args.budget, commit, args.timeout, args.jobs)
    else:
        failures = []
        for chapter in todo:
            try:
                publish_chapter(chapter, args.budget, commit, args.timeout)
            except Exception as exc:  # report every chapter, then fail
                print(f"[publish] FAILED {chapter}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                failures.append(str(chapter))
    if failures:
        print(f"[publish] {len(failures)} chapter(s) failed: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
