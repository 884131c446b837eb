# One-command set-up: `make test` and `make demo` create .venv by themselves.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test test-fast demo install clean-venv datasets bench

$(STAMP): requirements.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	# tf-keras lets rlax (distrax -> tfp-nightly) import next to TensorFlow; with its deps it would pull
	# the full 572 MB `tensorflow` wheel beside `tensorflow-cpu`, so it is installed alone.
	$(PY) -m pip install --quiet --no-deps tf-keras==2.21.0
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q --durations=15 tests

# The unit layer for the edit loop: everything but the end-to-end runs marked `slow`.
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" --durations=10 tests

demo: $(STAMP)
	$(PY) -m rosmo.cli demo

bench: $(STAMP)
	$(PY) benchmarks/loader_throughput.py

clean-venv:
	rm -rf $(VENV)
