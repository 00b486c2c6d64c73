# Two entry points for a fresh machine: `make demo` and `make test`.
# The tested torch (CPU build) is installed first, so no dependency can pull a CUDA build.
PYTHON ?= python3
VENV ?= .venv
TORCH_PIN ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo docs-figures test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH_PIN)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hnm grade grader/samples --out out/sample-class
	$(BIN)/hnm similarity grader/samples --out out/sample-class
	@echo "class report: $(CURDIR)/out/sample-class/report.html (similarity: out/sample-class/similarity.html)"

# The class report's figures in the README, from the sample class (tests/test_grader_sandbox.py checks them).
docs-figures: demo
	$(BIN)/hnm report out/sample-class --figures docs/class-report

# One pytest process per core (pytest-xdist); every test sets torch to one thread.
test: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -n auto --dist loadgroup $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_semi_hard.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
