# mediaindex: common tasks. `make synth` works offline on a fresh checkout (it only needs the package registries).
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
CDK := node_modules/.bin/cdk
# Node 20 is past end of life for jsii; its banner on every run says nothing about this project.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: synth test test-infra clean-cdk

# Python side of the CDK app: aws-cdk-lib, constructs and cdk-nag come with the dev extra.
$(VENV)/.infra-ready: pyproject.toml
	[ -x $(VPY) ] || $(PYTHON) -m venv $(VENV)
	# a current pip: an old one resolves different wheels for the Lambda platform (e.g. an older PyAV)
	$(VPY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(VPY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

# The cdk command line, exactly as package-lock.json pins it.
$(CDK): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Synthesize the stack into cdk.out (bundles the Lambda code with pip; no Docker, no AWS account needed).
# Extra context: make synth CDK_ARGS="-c delivery=direct -c alarm_email=me@example.com"
synth: $(VENV)/.infra-ready $(CDK)
	$(CDK) synth --quiet $(CDK_ARGS)

test:
	bash scripts/test

test-infra: $(VENV)/.infra-ready $(CDK)
	$(VPY) -m pytest tests/infra -q

# The benchmark suite: one table of figures (docs/performance.md), figures in bench/results.json; 13-20 minutes
# on 2 cores. Small sizes: make bench BENCH_ARGS=--quick. Needs the venv with every extra (bash scripts/test makes it).
.PHONY: bench
bench:
	@[ -x $(VPY) ] || { echo "no $(VPY): run 'bash scripts/test' (or pip install -e '.[aws,local,dev]' into it)" >&2; exit 1; }
	$(VPY) bench/run.py $(BENCH_ARGS)

clean-cdk:
	rm -rf cdk.out
