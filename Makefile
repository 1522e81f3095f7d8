# SeatGuard developer commands. `make demo` and `make test` work on a fresh machine with Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTEST_ARGS ?=
# Test worker processes (pytest-xdist; tests/parallel.py): most tests wait on real processes, so 3 keep 2 cores busy.
TEST_WORKERS ?= 3
DEMO_ARGS   ?=

.PHONY: install system-deps test check demo bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# Debian packages the real-sensor and browser tests use (Xvfb, openbox, xdotool, xclip, chromium).
system-deps:
	bash scripts/system-deps.sh

test: install system-deps
	$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

check: install
	$(VENV)/bin/ruff check agent collector contract detectors simulator tests bench
	$(VENV)/bin/mypy agent collector contract detectors simulator

demo: install
	$(PY) -m simulator.demo $(DEMO_ARGS)

bench: install
	$(PY) bench/ingest.py
	$(PY) bench/mask.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache demo-data
