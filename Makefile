# Everything runs from the virtual environment in .venv at the repo root.
VENV   ?= .venv
PY     := $(VENV)/bin/python
BENCH_REPEAT ?= 2  # rounds of `make bench`; each mode reports its fastest
BENCH_BACKENDS ?= torch  # measured beside the configured ASR backend (ctranslate2 on CPU)
# The bench's corpus: the committed recipe below, or e.g. a stress corpus (scripts/stress_corpus.py DIR --files 15 --seed N)
BENCH_CORPUS ?= bench/corpus
# More `chaffee bench` options, e.g. BENCH_ARGS="--source-share 0.25 --faults --no-naive" (README, Benchmarks)
BENCH_ARGS ?=
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
# The CPU build of torch here; on a CUDA box e.g. `make setup TORCH="torch==2.13.0 --index-url <your wheel index>"`.
TORCH  ?= torch==2.13.0
PYTEST_ARGS ?=
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup system-deps demo cluster-demo test test-slow reliability dev bench eval-speakers eval-speaker-sets bundle bundle-check clean-data

setup: $(STAMP)

# Re-installs only when pyproject.toml changes; torch first so nothing pulls a CUDA build.
$(STAMP): pyproject.toml
	@bash scripts/system_deps.sh
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH)
	$(PIP) install -q -e '.[dev,cluster]'
	@touch $(STAMP)

system-deps:
	@bash scripts/system_deps.sh

# The main job on the embedded defaults: ingest the committed demo corpus, then search it.
demo: setup
	$(VENV)/bin/chaffee ingest --source local --path demo/audio
	@echo; echo 'search: "why do oxalates cause kidney stones"'
	$(VENV)/bin/chaffee search "why do oxalates cause kidney stones" -k 3
	@echo; $(VENV)/bin/chaffee stats
	@echo; echo 'search page: run `$(VENV)/bin/chaffee serve`, then open http://127.0.0.1:8000/ (API: /api/search, /openapi.json)'

# The same ingest through celery: Redis and two workers (gpu0: gpu, io0: io + cpu) on 127.0.0.1, each
# step's worker printed, everything stopped after. Its own CHAFFEE_HOME, so it starts from nothing.
cluster-demo: setup
	CHAFFEE_HOME=.chaffee/cluster-demo $(VENV)/bin/chaffee cluster demo --path demo/audio

test: setup
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

test-slow: setup
	$(PY) -m pytest -q -m slow $(PYTEST_ARGS)

reliability: setup
	$(PY) -m pytest -q tests/reliability $(PYTEST_ARGS)

dev: setup
	$(VENV)/bin/chaffee dev

# 24 min of generated speech (mostly monologues, a fifth interviews); regenerated only when missing.
bench/corpus/audio:
	$(PY) scripts/synth_corpus.py bench bench/corpus --minutes 24 --interview-share 0.2 --seed 7

bench: setup $(BENCH_CORPUS)/audio
	$(VENV)/bin/chaffee bench --corpus $(BENCH_CORPUS) --json bench/out/report.json --repeat $(BENCH_REPEAT) \
		--backends "$(BENCH_BACKENDS)" $(BENCH_ARGS)

# 16 generated interviews/controls in voices the demo does not have; DER and host attribution per file.
bench/interviews/audio:
	$(PY) scripts/synth_interviews.py bench/interviews

eval-speakers: setup bench/interviews/audio
	$(VENV)/bin/chaffee eval-speakers --corpus bench/interviews --json bench/out/speakers.json

# Issue #22's development sets (generated + real from fetched mirrors, skipped when absent). The
# held-out split (SPLIT=heldout) is for the final acceptance run only: never tune on it.
SPLIT ?= dev
eval-speaker-sets: setup
	$(PY) scripts/speaker_sets.py generated bench/sets/$(SPLIT) --split $(SPLIT)
	$(PY) scripts/speaker_sets.py real bench/real/$(SPLIT) --split $(SPLIT)
	HF_HUB_OFFLINE=1 $(PY) -m chaffee_assets.bench.speaker_sets bench/sets/$(SPLIT) bench/real/$(SPLIT) \
		--json bench/out/speaker-sets-$(SPLIT).json

# The offline installation for the GPU machine (Python 3.12, its packages in bench/gpu_target_packages.txt).
bundle: setup
	$(VENV)/bin/chaffee bundle --target-freeze bench/gpu_target_packages.txt --python 3.12 --out build/bundle

# The same bundle logic for this machine, installed with --no-index into an empty prefix over a venv that
# stands in for the target, then the engine and a pipeline run from it (network: PyPI, for the target venv).
bundle-check: setup
	bash scripts/bundle_check.sh

clean-data:
	-$(VENV)/bin/chaffee db stop
	rm -rf .chaffee
