# The two set-up commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
FLASK = $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
SIM_PORT ?= 5001
SMS_PORT ?= 5005
NETWORK_SIM_PORT ?= 5004
ALIPAY_SIM_PORT ?= 5002
WECHATPAY_SIM_PORT ?= 5003

.PHONY: install install-test run test bench screenshots lint format translations extract-messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Re-install only when the dependencies change.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

translations:
	$(BIN)/pybabel -q compile -d shop/translations

install: $(VENV)/.installed translations

install-test: $(VENV)/.installed-test translations

# Serve the embedded default: SQLite in instance/, demo data, http://127.0.0.1:5000.
# Plain HTTP on loopback, so the session cookie cannot be marked Secure here.
# One supervisor (honcho) runs every line of Procfile.dev: the shop, its job consumer, and the
# simulators beside it (PayPal on $(SIM_PORT), Alipay on $(ALIPAY_SIM_PORT), WeChat Pay on
# $(WECHATPAY_SIM_PORT), SMS on $(SMS_PORT), the operator's network on $(NETWORK_SIM_PORT)), each
# unless its provider's NAME_MODE (PAYPAL_MODE, ALIPAY_MODE, ..., NETWORK_MODE) says sandbox or live.
# Ctrl-C, or SIGINT/SIGTERM to make, stops them all.
SIMULATORS = paypal alipay wechatpay sms network
run: install
	$(FLASK) shop init
	$(FLASK) shop demo
	SKIP=; for name in $(SIMULATORS); do \
	  var="$$(echo $$name | tr a-z A-Z)_MODE"; eval "mode=\$${$$var:-simulator}"; \
	  [ "$$mode" = simulator ] || SKIP="$${SKIP}$$name=0,"; \
	done; \
	PATH="$(abspath $(BIN)):$$PATH" HOST=$(HOST) SHOP_PORT=$(PORT) SIM_PORT=$(SIM_PORT) \
	  ALIPAY_SIM_PORT=$(ALIPAY_SIM_PORT) WECHATPAY_SIM_PORT=$(WECHATPAY_SIM_PORT) \
	  SMS_PORT=$(SMS_PORT) NETWORK_SIM_PORT=$(NETWORK_SIM_PORT) PYTHONUNBUFFERED=1 \
	exec $(BIN)/honcho start --procfile Procfile.dev --env /dev/null \
	  $${SKIP:+--concurrency "$${SKIP%,}"}

# The suite on two processes (pytest-xdist; tests/conftest.py gives each worker its own PostgreSQL
# database and Redis db), whole modules per worker, longest first. PYTEST_WORKERS=0: one process.
PYTEST_WORKERS ?= 2
test: install-test lint
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# Every benchmark briefly, one table of ratios (figure beside its reference, same run), ~3 minutes.
# Needs wrk (apt-get install wrk) and PostgreSQL; BENCH_ARGS="--only redeem" narrows it.
bench: install-test
	@command -v wrk >/dev/null || { echo "make bench needs wrk: apt-get install wrk"; exit 1; }
	$(BIN)/python bench/all.py $(BENCH_ARGS)

# Full-page PNGs of the main pages, phone and desktop, English and Chinese, into screenshots/.
screenshots: install-test
	$(BIN)/pytest -q tests/browser/test_main_pages.py tests/browser/test_main_pages_zh.py

lint:
	$(BIN)/ruff check shop tests simulators $(wildcard bench) wsgi.py
	$(BIN)/ruff format --check shop tests simulators $(wildcard bench) wsgi.py

format:
	$(BIN)/ruff format shop tests simulators $(wildcard bench) wsgi.py
	$(BIN)/ruff check --fix shop tests simulators $(wildcard bench) wsgi.py

extract-messages:
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext -o shop/translations/messages.pot .
	$(BIN)/pybabel -q update -w 100 --ignore-obsolete -i shop/translations/messages.pot -d shop/translations

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache screenshots
