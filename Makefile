# The README's commands are targets here. Everything builds in release mode
# once and reuses that build (tests, benchmarks); the example has a quick
# unoptimised build of its own.

PANKA   := target/release/panka
VENV    := .venv
CARGO   ?= cargo
NEXTEST := $(shell $(CARGO) nextest --version >/dev/null 2>&1 && echo yes)

.PHONY: build example test venv schema pulumi bench bench-scale bench-locks bench-apply bench-pulumi bench-day2 bench-policy soak lint fmt clean

build:
	$(CARGO) build --release --locked

# Run panka on the bundled example with the local backend (no AWS, no Pulumi),
# from a quick unoptimised build (profile `example`): a fresh clone gets there
# in minutes; `make build` makes the optimised binary.
EXAMPLE := target/example/panka

example:
	$(CARGO) build --profile example --locked --bin panka
	$(EXAMPLE) validate -C examples/payments
	$(EXAMPLE) plan -C examples/payments -e dev

# The whole test suite: unit, end-to-end (the real binary on fixtures), the
# AWS-facing tests against a moto server the harness starts itself, and
# apply/destroy through the real Pulumi engine (`make pulumi`).
test: build venv schema pulumi
	cd tests/stand-in-aws && STAND_IN_DATA=$(CURDIR)/.tools/stand-in-aws go test -count=1 .
ifeq ($(NEXTEST),yes)
	$(CARGO) nextest run --release --locked --no-fail-fast
else
	$(CARGO) test --release --locked --no-fail-fast
endif

# A Python venv with the moto server (S3 + DynamoDB emulator) for the tests;
# the test harness starts the server itself on a free loopback port.
venv:
	bash scripts/moto-venv.sh

# The pulumi-aws v7 schema (from the published npm package) that every
# emitted program is checked against; cached under target/.
schema:
	node scripts/pulumi-aws-schema.mjs

# The real Pulumi CLI and YAML language host, built from their published Go
# modules at pinned versions, and the stand-in AWS provider the tests use
# (tests/stand-in-aws), into .tools/ (cached: a second run is a no-op).
pulumi: venv
	bash scripts/build-pulumi.sh

# Speed and scale figures (see bench/README.md).
bench: bench-scale bench-locks bench-apply bench-pulumi bench-day2 bench-policy

bench-scale: build
	python3 bench/scale.py --panka $(PANKA)

bench-apply: build
	python3 bench/apply.py --panka $(PANKA)

# The real pulumi CLI, YAML host and the instant stand-in provider: pulumi
# processes, wall time and panka's own share per component.
bench-pulumi: build pulumi
	python3 bench/pulumi.py --panka $(PANKA)

bench-locks: venv
	$(CARGO) bench --locked --bench lock_bench

# `status` and `history` of 1,000 components with 500 deployments (S3 on moto).
bench-day2: venv
	$(CARGO) bench --locked --bench day2_bench

# Policy evaluation of a 1,000-component plan with 20 policies (target ≤ 200 ms).
bench-policy:
	$(CARGO) bench --locked --bench policy_bench

# The lock soak (tests/soak.rs): 16 processes on 4 stacks under random
# network faults and SIGKILLs, then the invariants checked from their logs.
# `make test` runs it for 90 s; this runs it for SOAK_SECS (default 600).
SOAK_SECS ?= 600
soak: venv
	PANKA_SOAK_SECS=$(SOAK_SECS) $(CARGO) test --release --locked --test soak -- --nocapture

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --release --all-targets -- -D warnings

fmt:
	$(CARGO) fmt

clean:
	$(CARGO) clean
	rm -rf $(VENV)
