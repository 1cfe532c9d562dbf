# Two commands do everything on a fresh clone:  `make book`  and  `make test`.
# `make unit` is the contributors' fast lane: lint and the unit tests of lib (under 2 minutes).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
JOBS ?= 2
# JavaScript the pages load, vendored from the npm registry at exact versions (no CDN).
# The same MathJax version is named in _config.yml (mathjax_path).
MATHJAX := 3.2.2
# matplotlib's to_jshtml animations link Font Awesome 4.4.0 (_ext/offline_site.py rewrites it).
FONT_AWESOME := 4.4.0
# axe-core, the accessibility checker the browser test runs on every page (not part of the site).
AXE := 4.11.1
VENDOR := _vendor/VERSIONS
CHROMIUM := /usr/bin/chromium /usr/bin/chromedriver

.PHONY: book test unit lint format bench clean set-repository

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	# compat mode puts the repository root on sys.path with a .pth file, so `import lib`
	# finds this package before any stray `lib/` folder (see tests/test_import.py).
	$(PY) -m pip install -q --no-deps -e . --config-settings editable_mode=compat
	touch $(STAMP)

# Outside `_static/` on purpose: Jupyter Book adds every .js/.css under `_static/` to every page.
# _config.yml copies _vendor/html/ into the site (html_extra_path), so these land in _static/.
$(VENDOR): Makefile
	@command -v npm >/dev/null || { echo "npm is needed: apt-get install -y npm" >&2; exit 1; }
	rm -rf _vendor && mkdir -p _vendor/npm _vendor/html/_static
	cd _vendor/npm && npm pack --silent mathjax@$(MATHJAX) font-awesome@$(FONT_AWESOME) \
		axe-core@$(AXE) >/dev/null
	mkdir -p _vendor/html/_static/mathjax-$(MATHJAX) _vendor/html/_static/font-awesome-$(FONT_AWESOME)
	tar xzf _vendor/npm/mathjax-$(MATHJAX).tgz --strip-components=1 \
		-C _vendor/html/_static/mathjax-$(MATHJAX) package/es5 package/LICENSE
	tar xzf _vendor/npm/font-awesome-$(FONT_AWESOME).tgz --strip-components=1 \
		-C _vendor/html/_static/font-awesome-$(FONT_AWESOME) package/css/font-awesome.min.css \
		package/fonts
	mkdir -p _vendor/axe-core-$(AXE)
	tar xzf _vendor/npm/axe-core-$(AXE).tgz --strip-components=1 -C _vendor/axe-core-$(AXE) \
		package/axe.min.js package/LICENSE
	rm -rf _vendor/npm
	printf 'mathjax@%s\nfont-awesome@%s\naxe-core@%s\n' $(MATHJAX) $(FONT_AWESOME) $(AXE) > $@

# Debian's Chromium and its driver, for the browser test in tests/test_site.py.
$(CHROMIUM) &:
	@if [ "$$(id -u)" != 0 ]; then echo "The browser test needs Debian's Chromium; run:" \
		"sudo apt-get update && sudo apt-get install -y chromium chromium-driver" >&2; exit 1; fi
	@echo "Installing Debian's chromium and chromium-driver for the browser test"
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null

# `jupyter-book build` with Sphinx's parallel read: JOBS notebooks execute at once, one thread each.
# Incremental: a notebook executes again only when it, lib/, the pins, _config.yml, _ext/ or
# data/ changed since its last clean build (_ext/never_stale.py explains how).
book: export OMP_NUM_THREADS = 1
book: $(STAMP) $(VENDOR)
	rm -rf _build/html
	JOBS=$(JOBS) $(PY) _ext/build_book.py build . -W -n --keep-going
	@echo "Built: $(CURDIR)/_build/html/index.html"

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Two pytest workers on two cores: one torch thread each, so they do not fight over the cores.
# -m "slow or not slow": everything, the slow tests too (a bare `pytest` leaves them out).
test: export OMP_NUM_THREADS = 1
test: lint $(VENDOR) $(CHROMIUM)
	$(PY) -m pytest -n $(JOBS) --dist loadfile --nbval-lax -m "slow or not slow" tests chapters

# The fast lane: lint, lib's unit tests and the static checks of notebooks and workflow; no
# notebook executes and no site is built (those tests are marked slow, see pyproject.toml).
unit: export OMP_NUM_THREADS = 1
unit: lint
	$(PY) -m pytest -n $(JOBS) --dist loadfile -m "not slow" tests

# A fork: set repository.url in _config.yml, then write it into every notebook's Colab cell.
set-repository: $(STAMP)
	$(PY) _ext/set_repository.py

bench: $(STAMP)
	@for f in benchmarks/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf _build _vendor $(VENV)
