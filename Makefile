# Two entry points for a fresh machine: `make demo` and `make test`.
# The tested torch (CPU build) is installed first, so no dependency can pull a CUDA build.
PYTHON ?= python3
VENV ?= .venv
TORCH_PIN ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup browser lab demo docs-figures test bench gpu-check clean

setup: $(STAMP) browser

# Debian's Chromium and chromedriver for the browser test (tests/test_browser.py), installed
# from the system's package registry only when missing; nothing is downloaded at test time.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif command -v apt-get >/dev/null; then \
	  echo "installing Debian's chromium and chromium-driver (for the browser test)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; \
	else echo "no apt-get: install Chromium and chromedriver yourself, or tests/test_browser.py is skipped (it fails under CI)"; fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH_PIN)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

# JupyterLab on the exercises for a student (--allow-root only when running as root).
# The student's JupyterLab: nbgrader's instructor tools turned off (jupyter/student/README.md).
lab: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" JUPYTER_CONFIG_DIR="$(CURDIR)/jupyter/student" $(BIN)/jupyter lab exercises/ $$([ "$$(id -u)" = 0 ] && echo --allow-root)

demo: $(STAMP)
	$(BIN)/hnm grade grader/samples --out out/sample-class
	$(BIN)/hnm similarity grader/samples --out out/sample-class
	@echo "class report: $(CURDIR)/out/sample-class/report.html (similarity: out/sample-class/similarity.html)"

# The class report's figures in the README, from the sample class (tests/test_grader_sandbox.py checks them).
docs-figures: demo
	$(BIN)/hnm report out/sample-class --figures docs/class-report

# One pytest process per core (pytest-xdist), whole files per worker (a file's expensive session
# fixtures, e.g. the graded sample class, are built once); every test sets torch to one thread.
# (Not --dist loadgroup: under pytest 9 xdist 3.8's group suffix is lost, so groups were not kept.)
test: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -n auto --dist loadfile $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_semi_hard.py $(BENCH_ARGS)

# pytest -m gpu and the benchmarks on CUDA, with a short report (out/gpu-check/); skips cleanly without CUDA.
gpu-check: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python benchmarks/gpu_check.py $(GPU_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
