# visionzoo developer commands. `make test` and `make demo` work on a fresh machine:
# they create .venv, install torch from the local wheel cache and the package, then run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= 2
# every suite run leaves its per-test report here (each test tagged with its family and the kind of
# cost it has): `make suite-cost` projects it to 98 families (tests/suite_cost.py, docs/testing.md)
TEST_REPORT ?= runs/test-report.xml

.PHONY: setup lint format test test-sample test-all parity suite-cost demo bench bench-families clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# CI's suite: structural checks on every architecture, forward/backward and numeric parity on each
# family's sample cut to CI's budget (tests/sampling.py); the slowest 15 tests at the end. See
# docs/testing.md.
test: lint
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --durations=15 --junitxml=$(TEST_REPORT)

# The suite on every family's whole sample and every family's per-family tests (CI takes the first
# MAX_CI_SAMPLED_NAMES // families names of each sample and MAX_CI_FAMILIES families: sampling.py).
test-sample: lint
	VISIONZOO_SAMPLE=family $(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --durations=15 --junitxml=$(TEST_REPORT)

# The same with every architecture through the forward/backward and numeric tests (slow).
test-all: lint
	VISIONZOO_FULL=1 $(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --durations=15 --junitxml=$(TEST_REPORT)

# Numeric (and structural) parity with timm on every architecture timm has, up to 400 M parameters
# (VISIONZOO_PARITY_MAX_PARAMS raises it: two fp32 models a worker): prints a per-family table
# (archs, passed, failed, seconds) and the wall time.
parity: setup
	VISIONZOO_PARITY=all $(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) -m parity --durations=15

# The per-family cost of the last suite run (TEST_REPORT) and its projection to 98 families /
# 1,375 architectures on 2 workers: CI, make test-all, make parity.
suite-cost: setup
	$(BIN)/python -m tests.suite_cost $(TEST_REPORT)

# The main job on the embedded dataset (scikit-learn's 8x8 handwritten digits, no download):
# train resnet10t adapted to 1 channel and 10 classes, check it on the held-out test split, then
# classify held-out images written as PNG files, then compare int8 builds (torch's PT2E and ONNX Runtime) with fp32. About a minute on 2 CPU cores. One compute
# thread: this small model gains little from two, and two threads slow down several-fold when
# anything else runs on the machine (OpenMP threads wait on each other).
DEMO_DIR ?= runs/demo
DEMO_THREADS ?= 1
demo: export OMP_NUM_THREADS = $(DEMO_THREADS)
demo: setup
	rm -rf $(DEMO_DIR)
	$(BIN)/visionzoo train digits --model resnet10t --img-size 32 --crop-pct 1.0 --epochs 6 \
		--hflip 0 --scale 0.6 1.0 --color-jitter 0 --output $(DEMO_DIR)
	$(BIN)/visionzoo validate digits:test --checkpoint $(DEMO_DIR)/best
	$(BIN)/python -c "from visionzoo.data import save_image_folder as s; s('digits:test', '$(DEMO_DIR)/held-out', limit=12)"
	$(BIN)/visionzoo predict $(DEMO_DIR)/held-out --checkpoint $(DEMO_DIR)/best --topk 1
	$(BIN)/python examples/int8_agreement.py $(DEMO_DIR)/best

bench: setup
	$(BIN)/python -m benchmarks.run

# The families after the seed ones (ViT, ConvNeXt, RegNet, EfficientNet, MobileNet): eval speed
# against timm and the fraction of the fp32 / bf16 matmul peak (issues 13-15's targets).
bench-families: setup
	$(BIN)/python -m benchmarks.run --models families --sections eval,flops

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
