# The commands users type. Every target first runs scripts/setup (quiet when nothing is missing).
PRESET ?= release
export CCACHE_BASEDIR ?= $(CURDIR)
BUILD_DIR := build/$(PRESET)
JOBS ?= $(shell nproc)

.PHONY: setup configure build test demo bench format lint fuzz clean

setup:
	@scripts/setup

configure: setup
	@[ -f $(BUILD_DIR)/build.ninja ] || cmake --preset $(PRESET) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

demo: build
	@$(BUILD_DIR)/roadpulse demo $(DEMO_ARGS)

bench: build
	@scripts/bench $(BUILD_DIR)

format: setup
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

lint: configure
	@git ls-files 'src/*.cc' | xargs clang-tidy -p $(BUILD_DIR) --quiet

fuzz: setup
	@[ -f build/fuzz/build.ninja ] || cmake --preset fuzz >/dev/null
	@cmake --build build/fuzz -j $(JOBS)
	@scripts/fuzz build/fuzz $(FUZZ_SECONDS)

clean:
	@rm -rf build
