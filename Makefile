# Set-up in two commands: `make demo` and `make test`. Both create .venv when missing and
# install into it exactly what uv.lock pins (with hashes), so a fresh clone gets what CI tested.
# `make lock` refreshes uv.lock after a change to pyproject.toml's dependencies.
PYTHON     ?= python3
UV_VERSION := 0.13.9
VENV       := .venv
BIN        := $(VENV)/bin
STAMP      := $(VENV)/.installed
UV         := .uv/bin/uv

.PHONY: demo test bench bench-quick validate lint lock clean

# uv itself, pinned, in a folder of its own so that `uv sync` owns .venv.
$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# --locked: fail, rather than re-resolve, when uv.lock no longer matches pyproject.toml.
# --compile-bytecode: every `clm` start-up (and every test that runs one) then reads .pyc files
# instead of compiling numpy, pandas, scipy and numba from source when PYTHONDONTWRITEBYTECODE
# is set (numba's import alone: 1.06 s without, 0.36 s with).
$(STAMP): $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --all-extras --compile-bytecode --python $(PYTHON)
	touch $(STAMP)

lock: $(UV)
	$(UV) lock

demo: $(STAMP)
	$(BIN)/python -m compileall -q clmlang >/dev/null
	$(BIN)/clm check --strict specs/
	$(BIN)/clm explain specs/clinic.clm --customer "purchases=9, days_since_purchase=50, total_spent=62000"
	$(BIN)/clm compile specs/clinic.clm -o build/clinic.policy.json
	@echo "compiled policy written to build/clinic.policy.json"
	$(BIN)/clm simulate specs/clinic.clm --scenario simulations/clinic.toml --out build/clinic

# The suite runs on both cores (pytest-xdist), a test file to a worker so that its
# module-wide fixtures are built once.
test: $(STAMP)
	$(BIN)/lint-imports --no-cache
	@# clmlang's own bytecode, so the tests' `clm` processes do not each compile it again
	$(BIN)/python -m compileall -q clmlang >/dev/null
	$(BIN)/python -m pytest -n 2 --dist loadfile

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_compile.py
	$(BIN)/python benchmarks/bench_simulate.py
	$(BIN)/python benchmarks/bench_workers.py
	$(BIN)/python benchmarks/bench_memory.py
	$(BIN)/python benchmarks/bench_calibrate.py
	$(BIN)/python benchmarks/bench_forecast.py
	$(BIN)/python benchmarks/bench_policytest.py
	$(BIN)/python benchmarks/bench_whatif.py

# every benchmark at a size that takes minutes, not an hour: a smoke run of `make bench` (its
# TARGET lines are measured at the targets' sizes only by `make bench`)
bench-quick: $(STAMP)
	$(BIN)/python benchmarks/bench_compile.py --rules 200 --repeats 3
	$(BIN)/python benchmarks/bench_simulate.py --customers 100000 --rules-customers 10000 --rules 10 100 --no-memory \
		--specs specs/clinic.clm specs/clinic_promotions.clm specs/ecommerce_rfm.clm
	$(BIN)/python benchmarks/bench_workers.py --customers 200000 --block 100000 --rounds 1
	$(BIN)/python benchmarks/bench_memory.py --customers 100000 --daily-customers 100000 --spec clinic
	$(BIN)/python benchmarks/bench_calibrate.py
	$(BIN)/python benchmarks/bench_forecast.py --size
	$(BIN)/python benchmarks/bench_policytest.py --examples 100
	$(BIN)/python benchmarks/bench_whatif.py --replications 4 --customers 20000

# Forecasts against simulated worlds whose truth is known (docs/calibration.md's table).
validate: $(STAMP)
	$(BIN)/python benchmarks/validate_policy_forecast.py

lint: $(STAMP)
	$(BIN)/ruff check clmlang tests benchmarks
	$(BIN)/ruff format --check clmlang tests benchmarks

clean:
	rm -rf $(VENV) .uv build .pytest_cache .hypothesis
