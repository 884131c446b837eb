# One-command set-up: `make test` and `make demo` create .venv by themselves.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export NO_MKDOCS_2_WARNING := 1
export DISABLE_MKDOCS_2_WARNING := true

.PHONY: test test-fast demo install clean clean-venv datasets bench docs docs-check docs-serve lint

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	# tf-keras lets rlax (distrax -> tfp-nightly) import next to TensorFlow; with its deps it would pull
	# the full 572 MB `tensorflow` wheel beside `tensorflow-cpu`, so it is installed alone.
	$(PY) -m pip install --quiet --no-deps tf-keras==2.21.0
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# Tests run on TEST_WORKERS processes (pytest-xdist); a file's tests stay on one worker (tests/conftest.py groups
# the files that share a trained run). TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest -q $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile)

test: $(STAMP) lint docs-check
	$(PYTEST) --durations=15 tests

# The unit layer for the edit loop: everything but the end-to-end runs marked `slow`.
test-fast: $(STAMP)
	$(PYTEST) -m "not slow" --durations=10 tests

# The docs site (MkDocs Material): reference and results pages are generated from the code and results/*.
# --strict turns every warning (a broken link, a missing page, a failed reference) into an error.
docs: $(STAMP)
	$(PY) -m mkdocs build --strict --site-dir site

docs-check: $(STAMP)
	d=$$(mktemp -d) && $(PY) -m mkdocs build --strict --quiet --site-dir $$d; rc=$$?; rm -rf $$d; exit $$rc

docs-serve: $(STAMP)
	$(PY) -m mkdocs serve --strict --dev-addr 127.0.0.1:8000

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

demo: $(STAMP)
	$(PY) -m rosmo.cli demo

bench: $(STAMP)
	$(PY) benchmarks/loader_throughput.py

# The tests' persistent JAX compilation cache at its default place (tests/conftest.py; shared by the checkouts of
# this user; a directory chosen with ROSMO_TEST_JAX_CACHE_DIR is left alone) and the built docs site.
TEST_JAX_CACHE := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/rosmo/jax-tests
clean:
	rm -rf "$(TEST_JAX_CACHE)" .cache/jax-tests site

clean-venv:
	rm -rf $(VENV)
