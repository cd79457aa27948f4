# llmfleet — the two commands: `make demo` (deploy the local lab and print the recap) and `make test` (what CI runs).
SHELL := /bin/bash
VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin
PYTHON ?= python3
# Empty: the scenarios and lanes of tests/ci_budget.yml; SCENARIOS="a b" runs those one after another.
SCENARIOS ?=
# Not in `make test` (run it with `make molecule SCENARIOS=vm_smoke`): the VM lab's self-test, covered by the VM
# scenarios above.
SCENARIOS_EXTRA ?= vm_smoke
SANITY_ROOT ?= /tmp/llmfleet-sanity/ansible_collections/llmfleet/baremetal
export PATH := $(BIN):$(PATH)
export LLMFLEET_ROOT := $(CURDIR)
export LLMFLEET_CLI := $(BIN)/llmfleet
# Only the checkout (and the venv's bundled collections): never a stale installed copy in ~/.ansible.
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.collections
export NO_COLOR := 1
export ANSIBLE_NOCOLOR := 1
export PY_COLORS := 0

.PHONY: help deps venv collections demo test lint sanity unit promtool collection molecule bench bench-gateway clean lab-down

help:
	@echo "make demo   - set up, bring the local lab up, deploy site.yml with llmfleet, print the recap"
	@echo "make test   - lint, ansible-test sanity, unit tests, collection build, Molecule scenarios (tests/ci_budget.yml)"
	@echo "make bench  - site.yml timings on 1/4/8-host labs (first converge, no-op, pre-flight; median of 3)"
	@echo "make bench-gateway - the API gateway vs the model server straight: TTFT, ITL, tokens/s at 1/8/32 streams"
	@echo "make deps   - Debian packages the lab needs (docker.io, debootstrap, qemu, ...) and a running dockerd"
	@echo "make venv   - the pinned controller environment in $(VENV) (requirements.lock)"

# --- set-up -------------------------------------------------------------------------------------------------------
deps:
	@bash lab/install-deps.sh

$(VENV)/.stamp: requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

venv: $(VENV)/.stamp collections

collections:
	@$(BIN)/python -c 'from llmfleet import paths; print("collection link:", paths.ensure_collection_link())' 2>/dev/null \
	  || $(PYTHON) -c 'import sys; sys.path.insert(0, "."); from llmfleet import paths; paths.ensure_collection_link()'

# --- demo ---------------------------------------------------------------------------------------------------------
demo: deps venv
	bash lab/serving/prepare.sh
	$(BIN)/llmfleet lab up -i inventories/lab
	$(BIN)/ansible-playbook -i inventories/lab lab/alert-receiver/deploy.yml
	$(BIN)/llmfleet deploy -i inventories/lab

lab-down: venv
	$(BIN)/llmfleet lab down -i inventories/lab

# --- tests --------------------------------------------------------------------------------------------------------
# The background warm-up (tests/warm_caches.sh) builds the Molecule stage's cached images and artifacts at the lowest
# priority while lint, sanity and unit leave a core idle; its summary is printed at the end.
test: deps venv
	@mkdir -p runs && (nohup bash tests/warm_caches.sh > runs/warm-caches.log 2>&1 &)
	@bash tests/run_stages.sh lint sanity unit promtool collection molecule; rc=$$?; \
	  echo "background warm-up:"; sed 's/^/  /' runs/warm-caches.log; exit $$rc

lint:
	yamllint -s .
	ansible-lint

unit:
	$(BIN)/python -m pytest -q tests/unit

sanity:
	@mkdir -p $(SANITY_ROOT) $(HOME)/.ansible/test/cache
	@cp tests/sanity/get_pip_offline.py $(HOME)/.ansible/test/cache/get_pip_24_2.py
	rm -rf $(SANITY_ROOT) && mkdir -p $(SANITY_ROOT)
	git ls-files | grep -v -x -f <(sed 's#$$#(/.*)?#' tests/sanity/exclude.txt | sed 's#^#^#' ) -E \
	  | rsync -a --files-from=- ./ $(SANITY_ROOT)/
	cd $(SANITY_ROOT) && ansible-test sanity --python 3.11 --requirements --color no \
	  --skip-test shellcheck 2>&1 | grep -vE '^(WARNING: Location|Looking in|Processing|Collecting|  )'; \
	  exit $${PIPESTATUS[0]}

collection:
	@bash tests/collection_check.sh

promtool:
	bash tests/promtool/run.sh

# The lanes of tests/ci_budget.yml (containers, then VMs; side by side with MOLECULE_PARALLEL=1), or SCENARIOS="a b".
molecule:
	@$(BIN)/python tests/run_molecule.py $(if $(MOLECULE_PARALLEL),--parallel) $(SCENARIOS)

# Not part of `make test`: site.yml first converge + no-op re-run + pre-flight on 1, 4 and 8 lab hosts, median of 3.
BENCH_SIZES ?= 1 4 8
BENCH_RUNS ?= 3
bench: deps venv
	$(BIN)/python lab/bench/bench.py --sizes $(BENCH_SIZES) --runs $(BENCH_RUNS)

# Not part of `make test`: the API gateway vs the same llama.cpp server straight, 1/8/32 streaming clients side by
# side (docs/gateway.md). Needs Debian's nginx-light and Lua module (installed here when missing, never started).
bench-gateway: deps venv
	@command -v nginx >/dev/null && test -e /usr/lib/nginx/modules/ngx_http_lua_module.so || \
	  (printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && \
	   apt-get install -y -q --no-install-recommends nginx-light libnginx-mod-http-lua lua-cjson lua-resty-core; \
	   rc=$$?; rm -f /usr/sbin/policy-rc.d; exit $$rc)
	$(BIN)/python lab/bench/gateway.py

clean:
	rm -rf runs build .cache $(SANITY_ROOT)
