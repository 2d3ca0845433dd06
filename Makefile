# Two commands matter: `make demo` and `make test`. Each creates or refreshes
# .venv first (a quick no-op when it is up to date).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help demo test rehearse lint format benchmark histories check present reset wheels pythons slides slides-pdf slides-screenshots

help:
	@echo "make demo         Temporal dev server + hello-ip worker + web app (OFFLINE=1: local stand-in services too)"
	@echo "                  ROOM=1: room mode, the audience's phones join (python app.py --room)"
	@echo "make test         the whole test suite"
	@echo "make rehearse     the README's guide, typed into real terminals; screenshots in rehearsal/"
	@echo "make check        preflight: is this laptop ready to give the talk?"
	@echo "make present      the talk's terminals in tmux: the teaser's window, then the stage's (Ctrl-b n)"
	@echo "                  ROOM=1: terminal 3 runs python app.py --room; OFFLINE=1 as for make demo"
	@echo "make reset        stop what the demos started and clear the dev server's database"
	@echo "make slides       serve the deck (presenter mode: notes and timer)"
	@echo "make slides-pdf   export the deck to slides/slides-export.pdf"
	@echo "make slides-screenshots  retake the deck's backup screenshots from a real run (offline)"
	@echo "make benchmark    hello-ip latency and throughput figures"
	@echo "make histories    re-record tests/histories/ (after an intended, versioned workflow change)"
	@echo "make wheels       does every pinned package install on Linux, macOS and Windows, Python 3.10-3.14?"
	@echo "make pythons      the suite under every other Python 3.10 to 3.14 found (PATH, pyenv, Debian roots)"
	@echo "make lint         ruff format --check and ruff check"

# The virtual environment, rebuilt when a requirements file changes.
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10 or newer is needed: make PYTHON=python3.12 ...")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m presenter.stage $(if $(OFFLINE),--offline) $(if $(ROOM),--room)

# Three test processes, each with its own dev server; a test file stays in one process.
# Most of a test's time is spent waiting (timers, retries, restarts): three fit two cores.
test: $(STAMP)
	$(BIN)/python -m pytest -n 3 --dist loadfile

# The rehearsal alone, step by step, keeping the page's screenshots in rehearsal/.
rehearse: $(STAMP)
	REHEARSAL_SCREENSHOTS=rehearsal $(BIN)/python -m pytest tests/test_rehearsal.py -p no:xdist -s -rs

check: $(STAMP)
	$(BIN)/python -m presenter.preflight

present: $(STAMP)
	$(BIN)/python -m presenter.present $(if $(OFFLINE),--offline) $(if $(ROOM),--room)

reset: $(STAMP)
	$(BIN)/python -m presenter.reset

benchmark: $(STAMP)
	$(BIN)/python -m maintainers.benchmark

wheels: $(STAMP)
	$(BIN)/python -m maintainers.wheels

# The suite under every Python 3.10 to 3.14 found (python3.X on PATH, pyenv's), make test's
# own left out, each in a copy of the tree in .pythons/; a 3.13 or 3.14 not found is Debian's,
# in a root made by debootstrap (Linux, as root). The browser and slides tests are left out.
# VERSIONS="3.10 3.14" picks some; PYTHONS_ARGS=--debian takes Debian's 3.13 and 3.14 anyway.
pythons: $(STAMP)
	$(BIN)/python -m maintainers.pythons $(PYTHONS_ARGS) $(VERSIONS)

histories: $(STAMP)
	$(BIN)/python -m maintainers.record_histories

# The deck: Slidev from the npm registry, installed from slides/package-lock.json.
slides/node_modules/.package-lock.json: slides/package.json slides/package-lock.json
	cd slides && npm ci --no-audit --no-fund

slides: slides/node_modules/.package-lock.json
	cd slides && npm run dev

slides-pdf: slides/node_modules/.package-lock.json
	cd slides && npm run export

# The backup slides' screenshots, from a real run of every demo on free ports (offline).
slides-screenshots: $(STAMP)
	$(BIN)/python -m maintainers.slide_screenshots

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
