# The two commands a reader needs (see README): `make book` and `make test`.
# Everything else here is for authors.

PYTHON ?= python3
PIP := $(PYTHON) -m pip
JB_BUILD := $(PYTHON) -c "import sys; from jupyter_book.cli.main import main; sys.exit(main())" build . -W -n --keep-going
CHAPTERS := $(sort $(wildcard book/[0-9][0-9]_*.ipynb))
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg
export PYTHONHASHSEED := 0

.PHONY: book test install-book install-test build lint format execute bench bench-quick clean

## make book: install what the book needs, then build the HTML into _build/html
book: install-book build

## make test: install what the tests need, then lint, unit tests, notebooks (nbval), book build, HTML check
test: install-test lint
	$(MAKE) build
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
bench:
	$(PYTHON) -m benchmarks.run_all

bench-quick:
	$(PYTHON) -m benchmarks.run_all --quick

clean:
	rm -rf _build .pytest_cache
