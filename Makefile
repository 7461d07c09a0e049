# Spectral Manifolds: the two set-up commands are `make test` and `make book`.
# Both create .venv from requirements.txt when it is missing.

PYTHON     ?= python3
VENV       ?= .venv
BIN        := $(VENV)/bin
# A CPU build of torch is installed before the requirements so that pip never pulls a
# multi-GB CUDA build on a CPU machine. Override on other machines, e.g.
#   make test TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cpu"
TORCH_SPEC ?= torch==2.13.0
STAMP      := $(VENV)/.installed
# The interpreter `make publish` runs with (the GPU machine uses its own python3).
RUN        ?= $(BIN)/python
CHAPTERS   ?= $(sort $(wildcard book/[0-9][0-9]_*.md))
NOTEBOOKS  := $(sort $(wildcard book/[0-9][0-9]_*.ipynb))

.PHONY: venv test unit book publish stale sync clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -r requirements.txt
	$(BIN)/python -m pip install --no-deps -e .
	touch $@

venv: $(STAMP)

## Unit tests, then every chapter notebook executed by nbmake at the quick budget.
test: $(STAMP)
	SM_BUDGET=quick $(BIN)/python -m pytest tests --nbmake $(NOTEBOOKS) --nbmake-timeout=900 -n auto -q -p no:cacheprovider

## Unit tests only.
unit: $(STAMP)
	SM_BUDGET=quick $(BIN)/python -m pytest tests -q -p no:cacheprovider

## HTML from the committed (executed) notebooks; Sphinx warnings are errors.
book: $(STAMP)
	$(BIN)/jupyter-book build . --builder html -W -n --keep-going

## Execute the chapters whose stamp is not current at the full budget (on a GPU) and stamp them:
##   make publish [CHAPTERS="book/01_sphere.md ..."] [COMMIT=sha] [FORCE=1] [JOBS=n]
publish: $(if $(filter $(BIN)/python,$(RUN)),$(STAMP))
	$(RUN) -m spectral_manifolds.publish --budget full $(if $(COMMIT),--commit $(COMMIT)) $(if $(FORCE),--force) $(if $(JOBS),--jobs $(JOBS)) $(CHAPTERS)

## List the chapters whose published outputs are stale (cells or src/ changed since).
stale: $(STAMP)
	$(BIN)/python -m spectral_manifolds.publish --check $(CHAPTERS)

## Re-pair every chapter's .md and .ipynb after editing either.
sync: $(STAMP)
	$(BIN)/jupytext --sync $(CHAPTERS)

clean:
	rm -rf _build
