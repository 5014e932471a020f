# The two commands of the quick start: `make serve` and `make test`.
# Each one first sets up what is missing: system packages, the virtualenv, the Python packages.

VENV  := .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# dovecot-imapd: 2FA tests' mail server; xdotool: the recorder's tests; iproute2: `ip netns`, reliability scenario 8; curl, jq: the README's runnable snippets (tests/test_readme.py)
SYSTEM_PACKAGES := chromium xvfb x11vnc dovecot-imapd xdotool iproute2 curl jq
PORT ?= 8000

.PHONY: serve demo test lint typecheck unit bench reliability setup system

serve: setup
	$(BIN)/rebrowse serve --demo --port $(PORT)

test: setup lint typecheck unit

setup: system $(STAMP)

system:
	@scripts/ensure-system-packages $(SYSTEM_PACKAGES)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[server,dev]'
	touch $(STAMP)

demo: setup
	$(BIN)/rebrowse demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench reliability
	$(BIN)/ruff format --check src tests bench reliability
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

bench: setup
	$(BIN)/python -m bench --markdown docs/benchmarks.md

# Minutes long: failures injected into a real deployment on 127.0.0.1, and one across network namespaces (as root;
# docs/reliability.md).
reliability: setup
	$(BIN)/python -m reliability
