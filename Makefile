# tarn — top-level entry points. `make` builds into build/ (command at
# build/tarn); `make demo` and `make test` install what a bare Debian 12
# machine lacks first (scripts/setup.sh), then run.
BUILD      ?= build
TEST_BUILD ?= build-test
JOBS       ?= $(shell nproc)
DUCKDB_HOME ?= $(CURDIR)/.deps/duckdb
PREFIX     ?= /usr/local
CMAKE_ARGS  = -DDUCKDB_HOME=$(DUCKDB_HOME)

.PHONY: all setup build test-build test demo bench install clean

all: build

setup:
	@bash scripts/setup.sh

build: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test-build: setup
	@cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DTARN_SANITIZE=ON $(CMAKE_ARGS) >/dev/null
	@cmake --build $(TEST_BUILD) -j $(JOBS)

# Unit tests (CTest) and end-to-end CLI cases, all under ASan+UBSan.
test: test-build
	@bash scripts/test.sh $(TEST_BUILD)

demo: build
	@bash scripts/demo.sh $(BUILD)

bench: build
	@bash bench/run.sh $(BUILD)

install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(TEST_BUILD)
