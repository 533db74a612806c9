# The daily loop.  Each target is one command; CI (.ci/run) runs lint, test and slow.
PYTHON ?= python

.PHONY: install test smoke slow lint format bench docs

install:  ## the package with its test and development tools, editable
	$(PYTHON) -m pip install -e ".[test,dev]"

test:  ## everything but the slow tier, across the cores (the README's test command)
	$(PYTHON) -m pytest -q -n auto

smoke:  ## every scenario and policy a few days, every CLI verb once, the pinned results (< 1 min)
	$(PYTHON) -m pytest -q -m smoke -n auto

slow:  ## the long statistical checks and the clean-venv install
	$(PYTHON) -m pytest -q -m slow -n auto

lint:  ## lint, format, types, layers
	ruff check sim tests benchmarks dashboard.py
	ruff format --check sim tests benchmarks dashboard.py
	mypy
	$(PYTHON) -m sim.app.layers

format:
	ruff check --fix sim tests benchmarks dashboard.py
	ruff format sim tests benchmarks dashboard.py

bench:  ## benchmarks print tables; tests never assert on time
	$(PYTHON) benchmarks/engines.py
	$(PYTHON) benchmarks/throughput.py
	$(PYTHON) benchmarks/rules_engine.py
	$(PYTHON) benchmarks/sweep_throughput.py

docs:  ## regenerate the reference tables in docs/reference.md
	$(PYTHON) -m sim.app.docs --write
