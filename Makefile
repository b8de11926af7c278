# The two commands a reader needs (see README): `make book` and `make test`.
# Everything else here is for authors.

PYTHON ?= python3
PIP := $(PYTHON) -m pip
JB_BUILD := $(PYTHON) -c "import sys; from jupyter_book.cli.main import main; sys.exit(main())" build . -W -n --keep-going
CHAPTERS := $(sort $(wildcard book/[0-9][0-9]_*.ipynb))
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg
export PYTHONHASHSEED := 0
# The same numbers on any x86-64 machine with AVX2: torch's own kernels take their AVX2 path
# (not AVX-512 where the processor has it), MKL its vendor-neutral "COMPATIBLE" branch (its AVX2
# branch is Intel-only: MKL documents that other processors fall back to their own dispatch) and
# oneDNN at most AVX2. Training a model is chaotic enough that rounding differences between code
# paths change the stored outputs that `make test` compares, and at a constant learning rate
# chapter 6 once stalled on one path and trained on another. Measured: on an AVX-512 Intel
# machine these settings change chapter 6's numbers (so they take effect). That an AMD machine
# then gives the same numbers is what the libraries document; it has not been checked on one.
export ATEN_CPU_CAPABILITY := avx2
export MKL_CBWR := COMPATIBLE
export ONEDNN_MAX_CPU_ISA := AVX2

.PHONY: book test install-book install-test build build-stored lint format execute bench bench-quick clean

## make book: install what the book needs, then build the HTML into _build/html
book: install-book build

## make test: install what the tests need, then lint, unit tests, notebooks (nbval), book build, HTML check
test: install-test lint
	$(MAKE) build-stored
	$(PYTHON) -m pytest -p no:cacheprovider tests $(CHAPTERS) $(NBVAL)

install-book:
	$(PIP) install --quiet -e ".[book]"

install-test:
	$(PIP) install --quiet -e ".[test]"

# Sphinx's incremental state breaks when _toc.yml changes, so it is rebuilt each time (~15 s);
# the execution cache (_build/.jupyter_cache) is kept, so unchanged chapters are not re-run.
build:
	rm -rf _build/html _build/.doctrees
	$(JB_BUILD)

# `make test`'s build renders the stored outputs without executing: nbval then re-executes every
# chapter and fails on any output that differs, so executing them for the HTML as well would
# only double the run (about 9 minutes on two cores). Same config, execution switched off.
build-stored:
	rm -rf _build/html _build/.doctrees
	mkdir -p _build
	sed 's/^\(  *execute_notebooks:\).*/\1 "off"/' _config.yml > _build/_config_stored.yml
	grep -q 'execute_notebooks: "off"' _build/_config_stored.yml
	$(JB_BUILD) --config _build/_config_stored.yml

lint:
	$(PYTHON) -m ruff format --check lode_utils tests benchmarks book
	$(PYTHON) -m ruff check lode_utils tests benchmarks book

format:
	$(PYTHON) -m ruff format lode_utils tests benchmarks book
	$(PYTHON) -m ruff check --fix lode_utils tests benchmarks book

## make execute: re-run every chapter in order with papermill and store its outputs in place
execute:
	@for nb in $(CHAPTERS); do \
		echo "executing $$nb"; \
		$(PYTHON) -m papermill --cwd book --log-level WARNING "$$nb" "$$nb" || exit 1; \
	done

## make bench: the full benchmarks (slow); make bench-quick: the CI-sized run
# The full benchmarks measure speed, so they run on the processor's fastest code path, not the
# pinned one above (their results are committed JSON that no test compares bit for bit).
bench:
	env -u ATEN_CPU_CAPABILITY -u MKL_CBWR -u ONEDNN_MAX_CPU_ISA $(PYTHON) -m benchmarks.run_all

bench-quick:
	$(PYTHON) -m benchmarks.run_all --quick

clean:
	rm -rf _build .pytest_cache
