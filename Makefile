# Two commands on a fresh machine with Python 3.11: `make demo`, `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.installed-docs

.PHONY: demo test install clean bench bench-smoke docs

# The venv is rebuilt only when pyproject.toml changes (editable install, so
# code edits need no reinstall). torch is installed first, pinned, so that no
# dependency resolution can pull a CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/gridgames demo

test: $(STAMP)
	$(PY) -m pytest -q

# The benchmark suite's smoke mode (smallest size of every case, on a 2-worker
# Dask LocalCluster); CI runs it after the tests.
bench-smoke: $(STAMP)
	$(VENV)/bin/gridgames bench --suite smoke --workers 2 --no-progress --out results/bench-smoke

# The API docs site (Sphinx: autodoc + autosummary + numpydoc, the docs/*.md pages
# through myst-parser); warnings are errors.  Output: docs/_build/html/index.html.
$(DOCS_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[docs]'
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	rm -rf docs/api
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html

bench: $(STAMP)
	$(PY) -m gridgames.benchmarks.bench_ipopt_bridge
	$(PY) -m gridgames.benchmarks.bench_engine
	$(PY) -m gridgames.benchmarks.bench_forecast

clean:
	rm -rf $(VENV) build *.egg-info docs/_build docs/api
