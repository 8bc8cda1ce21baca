# smoothgrad: the two quick-start commands are `make figures` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat settings.ini setup.py pyproject.toml | cksum | cut -d' ' -f1)
JOBS ?= 2
# notebooks for `make notebooks` / `check-outputs(-generic)`, e.g. NB=nbs/00_neurons.ipynb (default: every chapter)
NB ?=
MODE ?= quick

.PHONY: install figures test check-export lint nbtest pytest docs notebooks check-outputs check-outputs-generic bench clean

$(STAMP): settings.ini setup.py pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

figures: $(STAMP)
	SOURCE_DATE_EPOCH=0 MPLBACKEND=Agg $(BIN)/smoothgrad reproduce --mode $(MODE) --jobs $(JOBS)

## every check: stale exports / unclean notebooks, lint, notebook tests, pytest
test: $(STAMP) check-export lint nbtest check-outputs pytest

check-export: $(STAMP)
	@before="$$(git status --porcelain; git diff | cksum)"; \
	$(BIN)/nbdev_export && $(BIN)/nbdev_clean; \
	after="$$(git status --porcelain; git diff | cksum)"; \
	if [ "$$before" != "$$after" ]; then \
	  echo "nbdev_export/nbdev_clean changed files: run them and commit"; git status --porcelain; exit 1; \
	else echo "exports and notebooks are clean"; fi

lint: $(STAMP)
	$(BIN)/ruff check smoothgrad tests $(wildcard benchmarks scripts)

nbtest: $(STAMP)
	MPLBACKEND=Agg $(BIN)/nbdev_test --n_workers 2 --skip_file_re '^_' --skip_folder_re '^(_|\.|experiments)'

pytest: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m pytest -q -n 2 -m "not slow and not gpu" tests

## the notebooks as an offline HTML site under _docs/: Sphinx + myst-nb, nbdev-processed, committed outputs
docs: $(STAMP)
	$(BIN)/python scripts/docs.py --out _docs --jobs $(JOBS)

## execute the library chapters and index.ipynb in a kernel and commit their outputs (then nbdev_clean)
notebooks: $(STAMP)
	$(BIN)/python scripts/notebook_outputs.py write $(NB) --jobs $(JOBS)

## fail when a committed notebook output is stale or volatile (re-executes into a copy, compares)
check-outputs: $(STAMP)
	$(BIN)/python scripts/notebook_outputs.py check $(NB) --jobs $(JOBS)

## the same check as on another CPU: numba for generic x86-64 (no FMA/AVX) in a fresh temporary kernel cache, NumPy
## without its run-time SIMD paths, OpenBLAS's SSE3 kernels, glibc's libm without its FMA/AVX2 variants
check-outputs-generic: $(STAMP)
	$(BIN)/python scripts/notebook_outputs.py check --cpu generic $(NB) --jobs $(JOBS)

## throughput of the Fig. 4 kernels and of the recurrent training loops, with ratios, in one run; compiled afresh
## (a numba cache can hold a kernel compiled against an older version of the functions it calls)
bench: $(STAMP)
	cache=$$(mktemp -d) && NUMBA_CACHE_DIR=$$cache $(BIN)/python benchmarks/bench_ttfs.py && \
	NUMBA_CACHE_DIR=$$cache $(BIN)/python benchmarks/bench_recurrent.py; status=$$?; rm -rf $$cache; exit $$status

clean:
	rm -rf runs _docs _proc
