# Set-up in two commands: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/clm check --strict specs/
	$(BIN)/clm explain specs/clinic.clm --customer "purchases=9, days_since_purchase=50, total_spent=62000"
	$(BIN)/clm compile specs/clinic.clm -o build/clinic.policy.json
	@echo "compiled policy written to build/clinic.policy.json"
	$(BIN)/clm simulate specs/clinic.clm --scenario simulations/clinic.toml --out build/clinic

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_compile.py
	$(BIN)/python benchmarks/bench_simulate.py
	$(BIN)/python benchmarks/bench_calibrate.py
	$(BIN)/python benchmarks/bench_forecast.py
	$(BIN)/python benchmarks/bench_policytest.py
	$(BIN)/python benchmarks/bench_whatif.py

lint: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	$(BIN)/ruff check clmlang tests benchmarks
	$(BIN)/ruff format --check clmlang tests benchmarks

clean:
	rm -rf $(VENV) build .pytest_cache .hypothesis
