# The two commands of the README. Each runs the set-up first (quiet when already done).
.PHONY: setup demo test test-all lint bench

VENV ?= .venv
OUT ?= demo-out

setup:
	@bash scripts/setup.sh

demo: setup
	$(VENV)/bin/s2f-audit demo --out $(OUT)

test: setup
	$(VENV)/bin/python -m pytest -q -n 2 --dist loadgroup

test-all: setup
	$(VENV)/bin/python -m pytest -q -m ""

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
