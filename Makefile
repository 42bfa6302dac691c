# microturn: the two commands a new user runs are `make demo` and `make test`.
# Each sets itself up on a fresh machine: finds Python 3.12, creates or reuses
# .venv, installs the project with its extras, and (for tests) installs Debian's
# bazel-bootstrap when it is missing.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.microturn-installed
WORKDIR ?= runs/demo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEMO_STEPS ?= 1000

# First interpreter that really is CPython 3.12 (a pyenv shim for a version
# that is not selected fails this check, so we also look in pyenv's folders).
PYTHON312 := $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 \
    /usr/local/bin/python3.12 /usr/bin/python3.12; do \
  if "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1; then \
    echo "$$p"; break; fi; done)

# Bazel runs this fast subset of test targets, one per package at least, so the
# BUILD files cannot rot; pytest runs everything.
BAZEL_TARGETS := //tests:packages_test //tests:configs_test //tests:stream_test

.PHONY: demo test pytest bazel-test install clean

demo: $(STAMP)
	$(PY) -m experiments.demo --config=experiments/configs/interaction.py:tiny \
	  --workdir=$(WORKDIR) --steps=$(DEMO_STEPS)

test: pytest bazel-test

pytest: $(STAMP)
	$(PY) -m pytest -q

bazel-test: $(STAMP)
	@command -v bazel >/dev/null || { echo "Installing Debian's bazel-bootstrap (Bazel 4.2.3)..."; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq bazel-bootstrap; }
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bazel --batch test $(BAZEL_TARGETS)

install: $(STAMP)

$(PY):
	@if [ -z "$(PYTHON312)" ]; then \
	  echo "error: microturn needs Python 3.12 (jax 0.11.2 as on the GPU machines), and no python3.12 was found" >&2; \
	  echo "       on PATH or in ~/.pyenv/versions/3.12*. Install Python 3.12 and run make again." >&2; exit 1; fi
	@if [ -x "$(PY)" ] && ! "$(PY)" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then \
	  echo "error: $(VENV) exists but is not Python 3.12; remove it (make clean) and run make again." >&2; exit 1; fi
	"$(PYTHON312)" -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): $(PY) setup.py
	$(PY) -m pip install -q -e ".[test,audio,eval]" --config-settings editable_mode=compat
	$(PY) -m pip install -q --no-deps "silero-vad>=5.1"
	touch $(STAMP)

clean:
	rm -rf $(VENV) *.egg-info runs
	-bazel --batch clean 2>/dev/null
