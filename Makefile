# hookline: the two commands a new user needs (see README.md).
#   make demo   set up, build, run the chatbot (offline demo model without an API key)
#   make test   set up, build, run every test: normal build, ASan+UBSan build,
#               the concurrency tests under ThreadSanitizer, and each fuzz
#               target for $(FUZZ_SMOKE_SECONDS) s
#   make fuzz   run every fuzz target for FUZZ_SECONDS (default 60) each, two
#               at a time; FUZZ_TARGETS="fuzz_json fuzz_sse" picks some,
#               FUZZ_RUNS=N also stops each after N executions, FUZZ_JOBS=J
#               runs J targets at a time
#   make bench  benchmarks (not part of make test)
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 20
FUZZ_TARGETS ?=
FUZZ_RUNS ?=
FUZZ_JOBS ?= 2
MESON_TEST  = meson test --print-errorlogs --num-processes 2

ASAN_OPTS = -Db_sanitize=address,undefined -Db_lundef=false
TSAN_OPTS = -Db_sanitize=thread -Db_lundef=false -Dexamples=false -Dbench=false
# The fuzz build: clang, libFuzzer coverage on the whole library, ASan+UBSan;
# only the library and tests/fuzz are built there.
FUZZ_OPTS = -Dfuzz=enabled -Db_sanitize=address,undefined -Db_lundef=false \
            -Dtests=false -Dexamples=false -Dbench=false
# ThreadSanitizer maps its shadow memory at fixed addresses; on kernels
# with more address randomisation (vm.mmap_rnd_bits 30-32, e.g. recent
# Ubuntu and Fedora) it dies with "unexpected memory mapping". Running the
# tests without ASLR (setarch -R, no root needed) avoids that everywhere.
TSAN_RUN = $(shell setarch $$(uname -m) -R true >/dev/null 2>&1 && echo setarch $$(uname -m) -R)

.PHONY: demo test bench setup build clean fuzz fuzz-build

setup:
	@./scripts/setup.sh

$(BUILD)/build.ninja:
	@meson setup $(BUILD) >/dev/null

build: setup $(BUILD)/build.ninja
	@ninja -C $(BUILD) >/dev/null || ninja -C $(BUILD)

# Builds only what the chatbot needs (not the tests and benchmarks), so the
# first `make demo` gets to the prompt sooner.
CHAT = $(BUILD)/examples/chatbot/hookline-chat
demo: setup $(BUILD)/build.ninja
	@test -x $(CHAT) || echo "make demo: building hookline-chat (the first build takes a minute or two)..."
	@ninja -C $(BUILD) examples/chatbot/hookline-chat >/dev/null || ninja -C $(BUILD) examples/chatbot/hookline-chat
	@$(CHAT) $(ARGS)

# Every test runs, the sandbox's included: set-up must fetch its module.
# A failing run does not stop the next ones ("-"); the summary line counts
# every result and fails the command if any failed or is missing.
test:
	@./scripts/setup.sh --require-sandbox
	meson setup $(BUILD) --reconfigure >/dev/null 2>&1 || meson setup $(BUILD)
	ninja -C $(BUILD)
	-$(MESON_TEST) -C $(BUILD)
	meson setup $(ASAN_BUILD) --reconfigure $(ASAN_OPTS) >/dev/null 2>&1 || \
	  meson setup $(ASAN_BUILD) $(ASAN_OPTS)
	ninja -C $(ASAN_BUILD)
	-ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  $(MESON_TEST) -C $(ASAN_BUILD) --timeout-multiplier 3
	meson setup $(TSAN_BUILD) --reconfigure $(TSAN_OPTS) >/dev/null 2>&1 || \
	  meson setup $(TSAN_BUILD) $(TSAN_OPTS)
	ninja -C $(TSAN_BUILD)
	-TSAN_OPTIONS=halt_on_error=0:second_deadlock_stack=1 \
	  $(TSAN_RUN) $(MESON_TEST) -C $(TSAN_BUILD) --suite concurrency --timeout-multiplier 4
	@$(MAKE) --no-print-directory fuzz-build
	@rm -f $(FUZZ_BUILD)/fuzz-results.json
	-./tests/fuzz/run_fuzz.py $(FUZZ_BUILD) $(FUZZ_SMOKE_SECONDS)
	@./scripts/test-summary.py $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) --fuzz $(FUZZ_BUILD)/fuzz-results.json

# clang and libFuzzer come from scripts/setup.sh (Debian: clang, libclang-rt-dev).
fuzz-build: setup
	@test -f $(FUZZ_BUILD)/build.ninja || CC=clang meson setup $(FUZZ_BUILD) $(FUZZ_OPTS)
	@meson setup $(FUZZ_BUILD) --reconfigure $(FUZZ_OPTS) >/dev/null
	ninja -C $(FUZZ_BUILD)

fuzz: fuzz-build
	./tests/fuzz/run_fuzz.py --record BENCHMARKS.md $(if $(FUZZ_RUNS),--runs $(FUZZ_RUNS)) --jobs $(FUZZ_JOBS) $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

bench: build
	@$(MAKE) -s -C bench BUILD=$(abspath $(BUILD))

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)
