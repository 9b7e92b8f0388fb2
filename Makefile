# The README's two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Re-install only when pyproject.toml changes, so the second run is quick.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/todo-agent serve

# Temporary files under the checkout: pytest removes all but the last three runs' folders
# under /tmp, which would pull a database out from under another checkout's run.
# TEST_WORKERS test processes (pytest-xdist), each given whole files in collection order
# (tests/conftest.py puts the long ones first): most tests wait on subprocesses, brokers and
# sockets, so three outrun two cores. TEST_WORKERS=0: one process.
TEST_WORKERS ?= 3
test: $(VENV)/.installed-test
	$(BIN)/python -m pytest --basetemp=$(CURDIR)/.pytest_tmp -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

# Every benchmark with a goal, then one summary table (bench/summary.py). A benchmark that
# fails leaves its goals out of the table, which says so. BENCH_QUICK=1 runs smaller sizes
# (the figures are then indicative only). bench/chaos.py runs on its own (minutes long).
bench: $(VENV)/.installed-test
	rm -f bench/results/summary.jsonl
	-$(BIN)/python bench/chat_overhead.py --concurrency 1 --requests 800
	-$(BIN)/python bench/mcp_calls.py
	-$(BIN)/python bench/add_task.py
	-$(BIN)/python bench/events.py
	-$(BIN)/python bench/scheduler.py
	-$(BIN)/python bench/memory.py
	-$(BIN)/python bench/listings.py
	$(BIN)/python bench/summary.py

clean:
	rm -rf $(VENV) .pytest_cache .pytest_tmp .ruff_cache
