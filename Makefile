# graphconn: `make run` (everything, in the foreground) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SANDBOX_PORT ?= 8765
# `make test` leaves out the tests marked slow (directory-scale, many runs); .ci/run passes its own
# PYTEST_ARGS, so CI runs them too. `make test PYTEST_ARGS=` runs everything.
PYTEST_ARGS ?= -m "not slow"
# Test processes side by side (pytest-xdist, each taking the next test as it finishes): most tests
# wait on a worker, the sandbox or a browser, not on the CPU. Each process has its own database,
# broker folder or queue, throttle budget, sandbox and worker.
# `make test TEST_PROCESSES=0` runs in one process.
TEST_PROCESSES ?= 4

# `make run` points the dashboard at the bundled Graph sandbox unless told otherwise;
# tests start their own sandbox on a free port.
run: export GRAPH_SANDBOX_URL ?= https://127.0.0.1:$(SANDBOX_PORT)
run: export GRAPH_CA_BUNDLE ?= $(CURDIR)/var/sandbox/ca.pem
run: export APP_PERMISSIONS_URL_TEMPLATE ?= $(GRAPH_SANDBOX_URL)/_sandbox/portal
# The sandbox's directory and pace: as many users as Microsoft's published full read, each answer held
# as long as Graph's (the cost model's latency) and the resource-unit budget of a tenant that size, so
# Sync now on Sandbox users reads in partitions as it would against Graph. The directory is generated
# as it is read, so start-up stays quick. `make run SANDBOX_FLAGS="--users 5000"`: small and instant.
run: export SANDBOX_FLAGS ?= --users 100000 --latency --budget

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python -m graphsandbox --init-only --state-dir var/sandbox --port $(SANDBOX_PORT)
	$(BIN)/python manage.py load_demo --sandbox-json var/sandbox/sandbox.json --sso-env var/sandbox/sign-in.env
	@echo "graphconn: http://127.0.0.1:8000/  (Ctrl-C stops web, worker, beat and sandbox)"
	@# Sign in with Microsoft through the sandbox, unless OIDC_TENANT_ID points at a real tenant.
	if [ -z "$$OIDC_TENANT_ID" ] && [ -f var/sandbox/sign-in.env ]; then set -a; . ./var/sandbox/sign-in.env; set +a; fi; \
	PATH="$(CURDIR)/$(BIN):$$PATH" SANDBOX_PORT=$(SANDBOX_PORT) $(BIN)/honcho start -f Procfile

test: install lint
	$(BIN)/pytest -n $(TEST_PROCESSES) --dist worksteal $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PYTHONPATH=$(CURDIR) $(BIN)/lint-imports
	PYTHONPATH=$(CURDIR) $(BIN)/mypy

bench: install
	for script in bench/*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) var staticfiles
