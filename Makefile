# Thin wrapper over CMake/CTest. `make demo` and `make test` are the two
# commands the README promises.
BUILD     ?= build
BUILD_SAN ?= build-asan
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all build test test-fast test-asan demo demo-device size sweep powercut-full fuzz bench workers-kill fleet-10k install clean deps

all: build

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Every test: the normal build, then the same suite under ASan + UBSan.
test: build test-asan
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L unit

test-asan:
	@cmake -S . -B $(BUILD_SAN) -DCMAKE_BUILD_TYPE=Debug -DOTTO_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD_SAN) -j $(JOBS)
	cd $(BUILD_SAN) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j $(JOBS)

demo: build
	@bash scripts/demo.sh $(BUILD)

demo-device: build
	@bash scripts/demo-device.sh $(BUILD)

# Cortex-M4 size of the device core (a figure, not a test).
size:
	@bash scripts/size.sh

# The power-fail bar with a 1 MiB image: every op in every mode that applies,
# double cuts, storms and rot (tens of minutes on 2 cores).
sweep: build
	$(BUILD)/tests/powercut_sweep --image-size 1M --chunk 4096 --seeds 2
	$(BUILD)/tests/agent_sweep --image-size 1M --double --storms 1000 --rot 100
	$(BUILD)/tests/relay_sweep --image-size 64K --stride 41
	$(BUILD)/tests/relay_sweep --image-size 8K --only line --line-stride 29

powercut-full: sweep

# libFuzzer on the parsers (FUZZ_SECONDS each, default 30).
fuzz:
	bash scripts/fuzz.sh $(or $(FUZZ_SECONDS),30)

# Server benchmarks (job fan-out, MQTT request rate, downloads vs nginx);
# prints a Markdown report. Two or three minutes.
# Two ottod workers on PostgreSQL behind haproxy, a 1,000-device fleet and a
# paced rollout; a worker, then the leader, killed with SIGKILL mid-rollout
# (tests/e2e/23-workers.sh runs 200 devices in make test).
workers-kill: build
	cd $(BUILD) && N=1000 BUILD=$(abspath $(BUILD)) MQREQ=$(abspath $(BUILD))/tests/mqreq \
		bash $(CURDIR)/tests/e2e/23-workers.sh

# The server as system services (docs/operations.md), e.g.
#   sudo make install ARGS="--mqtt HOST:8883 --http 0.0.0.0:8443 --public-url https://HOST:8443 --name HOST"
install: build
	bash scripts/install.sh --build $(abspath $(BUILD)) $(ARGS)

# 10,000 simulated devices take a 1 MiB update (about 22 GB of flash files
# for the run, removed after; several otto-sim processes).
fleet-10k: build
	BUILD=$(abspath $(BUILD)) bash bench/fleet.sh 10000

bench:
	@$(MAKE) -s build >&2
	@BUILD=$(abspath $(BUILD)) bash bench/run.sh

deps:
	bash scripts/deps.sh

clean:
	rm -rf $(BUILD) $(BUILD_SAN) build-fuzz
