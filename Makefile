# The two commands a newcomer needs: `make run` and `make test`. Everything else is installed from here.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export DJANGO_DEBUG ?= 1

.PHONY: install run run-with-emulator demo test lint check-migrations schema clean npm-install console-assets optional-console-assets bench bench-smoke bench-stats bench-breakdown soak api-fuzz

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

# Node packages pinned in package.json + package-lock.json (Prism for the contract tests, the Twilio Voice JS SDK).
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

npm-install: node_modules/.package-lock.json

# The agent console's softphone (the SDK bundle and its sounds) and the statistics page's Chart.js, in static/vendor/,
# served by Django (no CDN).
static/vendor/twilio-voice-sdk/manifest.json: node_modules/.package-lock.json scripts/console-assets.mjs
	node scripts/console-assets.mjs

console-assets: static/vendor/twilio-voice-sdk/manifest.json

# Without Node.js everything still runs; the console then says its softphone is not installed.
optional-console-assets:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory console-assets; \
	else echo "npm not found: the agent console runs without its softphone (install Node.js, then make console-assets)"; fi

# With no Twilio account in the environment (TWILIO_ACCOUNT_SID unset), `make run` starts the local Twilio
# emulator on EMULATOR_PORT in the background and points the app at it (TWILIO_API_BASE_URL and the emulator's
# test credentials); with an account, the app talks to Twilio as configured.
EMULATOR_PORT ?= 8010
# Where `make run` serves the app (`make run PORT=8001` when 8000 is taken).
PORT ?= 8000

run: install optional-console-assets
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo
	@if [ -z "$$TWILIO_ACCOUNT_SID" ]; then $(MAKE) --no-print-directory run-with-emulator; \
	else $(PY) manage.py runserver 127.0.0.1:$(PORT); fi

run-with-emulator: install
	@eval "$$($(PY) manage.py twilio_emulator --print-env --port $(EMULATOR_PORT))"; \
	$(PY) manage.py twilio_emulator --port $(EMULATOR_PORT) --app-url http://127.0.0.1:$(PORT) & emulator=$$!; \
	trap 'kill $$emulator 2>/dev/null' EXIT INT TERM; \
	echo "No Twilio account configured: the app uses the local Twilio emulator on $$TWILIO_API_BASE_URL."; \
	echo "Ring the demo line: curl -X POST $$TWILIO_API_BASE_URL/_emulator/calls -d '{\"to\": \"+14155550100\"}'"; \
	echo "  (the caller hangs up by itself after 120 s; add \"hangUpAfter\": null to keep them on, or a number of seconds)"; \
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

# Ring the demo line through the local Twilio emulator and print the whole call (scenarios/demo.yaml).
demo: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo
	$(PY) manage.py simulate_call scenarios/demo.yaml

test: install optional-console-assets
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

check-migrations: install
	$(PY) manage.py makemigrations --check --dry-run

schema: install
	$(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null

# Measured speed and resilience (bench/README.md): gunicorn on PostgreSQL, loopback load, figures vs baselines.
bench: install
	$(PY) -m bench.run $(BENCH_ARGS)

bench-smoke: install
	$(PY) -m bench.run --smoke

# The statistics on 1,000,000 seeded calls (bench/stats.py; figures in bench/README.md). Never in CI.
bench-stats: install
	$(PY) -m bench.stats $(BENCH_STATS_ARGS)

# Where one webhook request's time goes (in-process, cProfile grouped by module): bench/README.md.
bench-breakdown: install
	$(PY) -m bench.breakdown $(BENCH_ARGS)

soak: install
	$(PY) -m bench.soak $(SOAK_ARGS)

api-fuzz: install
	$(PY) -m bench.api_fuzz $(API_FUZZ_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3 .pytest_cache .ruff_cache static/vendor
