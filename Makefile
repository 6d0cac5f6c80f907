# hookline: the two commands a new user needs (see README.md).
#   make demo   set up, build, run the chatbot (offline demo model without an API key)
#   make test   set up, build, run every test: normal build, then ASan+UBSan build
#   make bench  benchmarks (not part of make test)
BUILD      ?= build
ASAN_BUILD ?= build-asan
MESON_TEST  = meson test --print-errorlogs --num-processes 2

.PHONY: demo test bench setup build clean

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
test:
	@./scripts/setup.sh --require-sandbox
	meson setup $(BUILD) --reconfigure >/dev/null 2>&1 || meson setup $(BUILD)
	ninja -C $(BUILD)
	-$(MESON_TEST) -C $(BUILD)
	meson setup $(ASAN_BUILD) --reconfigure -Db_sanitize=address,undefined -Db_lundef=false >/dev/null 2>&1 || \
	  meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false
	ninja -C $(ASAN_BUILD)
	-ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  $(MESON_TEST) -C $(ASAN_BUILD) --timeout-multiplier 3
	@./scripts/test-summary.py $(BUILD) $(ASAN_BUILD)

bench: build
	@$(MAKE) -s -C bench BUILD=$(abspath $(BUILD))

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
