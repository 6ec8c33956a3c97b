# cinfer build.  `make` -> build/cinfer + build/libcinfer.a ; `make test` ; `make asan` ; `make bench`
# Every module is a directory; every .c in it is compiled.  ISA-specific files are picked by suffix
# and get their own flags (no global -march), so one binary runs on any x86-64.
BUILD    ?= build
CC       ?= gcc
OPT      ?= -O2
SAN      ?=
CSTD     := -std=gnu11
WARN     := -Wall -Wextra -Werror -Wno-unused-parameter
DEPS_PKG := check libcpuinfo
# Recursively expanded: pkg-config runs after `deps` has installed what is missing.
PKG_CFLAGS = $(shell pkg-config --cflags $(DEPS_PKG) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs libcpuinfo 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)
CFLAGS   += $(OPT) -g $(CSTD) $(WARN) -fopenmp -I. $(SAN) -MMD -MP
LDLIBS    = $(PKG_LIBS) -fopenmp -lm -lpthread $(SAN)

# Per-ISA flags, chosen by file suffix.  ISA_OPT: optimisation of the ISA files (sanitizer builds
# lower it: clang/gcc take minutes per matmul file at -O3 with ASan).
ISA_OPT  ?= -O3
ISA_avx2       := -mavx2 -mfma -mf16c -mbmi2
ISA_avx512     := $(ISA_avx2) -mavx512f -mavx512bw -mavx512vl -mavx512dq
ISA_avx512vnni := $(ISA_avx512) -mavx512vnni

MODULES  := kernels model sampler bench tools
SRC_kernels := $(wildcard kernels/*.c)
SRC_model   := $(wildcard model/*.c)
SRC_sampler := $(wildcard sampler/*.c)
SRC_bench   := $(wildcard bench/*.c)
SRC_tools   := $(filter-out tools/cinfer.c tools/gen_%.c,$(wildcard tools/*.c))
OBJ = $(patsubst %.c,$(BUILD)/%.o,$(1))
MODLIBS  := $(foreach m,$(MODULES),$(BUILD)/lib$(m).a)
# Module archives may reference each other: link them as a group.
LINKLIBS  = -Wl,--start-group $(MODLIBS) -Wl,--end-group

TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
TEST_SUPPORT := $(filter-out $(TEST_SRC),$(wildcard tests/*.c))

.PHONY: all test asan bench deps clean fuzz fuzz-bins fuzz-smoke
all: $(BUILD)/cinfer $(BUILD)/libcinfer.a

deps:
	@sh tools/deps.sh

# ISA-specific compile rules (most specific suffix first).
$(BUILD)/%_avx512vnni.o: %_avx512vnni.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(ISA_OPT) $(ISA_avx512vnni) -c $< -o $@
$(BUILD)/%_avx512.o: %_avx512.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(ISA_OPT) $(ISA_avx512) -c $< -o $@
$(BUILD)/%_avx2.o: %_avx2.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(ISA_OPT) $(ISA_avx2) -c $< -o $@
$(BUILD)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@

# Commit id for benchmark rows: only bench/commit.c sees it; rebuilt when git's index/HEAD move.
CF_COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
$(BUILD)/bench/commit.o: CFLAGS += -DCF_COMMIT='"$(CF_COMMIT)"'
$(BUILD)/bench/commit.o: $(wildcard .git/index .git/HEAD)

define MODLIB
$(BUILD)/lib$(1).a: $(call OBJ,$(SRC_$(1)))
	@mkdir -p $$(dir $$@)
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach m,$(MODULES),$(eval $(call MODLIB,$(m))))

$(BUILD)/libcinfer.a: $(foreach m,$(MODULES),$(call OBJ,$(SRC_$(m))))
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/cinfer: $(BUILD)/tools/cinfer.o $(MODLIBS)
	$(CC) $(CFLAGS) -o $@ $< $(LINKLIBS) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(call OBJ,$(TEST_SUPPORT)) $(MODLIBS)
	$(CC) $(CFLAGS) -o $@ $< $(call OBJ,$(TEST_SUPPORT)) $(LINKLIBS) $(CHECK_LIBS) $(LDLIBS)

# `make test` runs every Check suite (one binary per suite) from the repo root; CK_RUN_SUITE picks one.
test: $(TEST_BIN) $(BUILD)/cinfer
	@sh tests/run_all.sh $(BUILD) $(TEST_BIN)

# Sanitizer build in its own directory, then the whole suite under it.
asan:
	$(MAKE) BUILD=build/asan OPT=-O1 ISA_OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" test

bench: $(BUILD)/cinfer
	$(BUILD)/cinfer bench kernels --quick

# Fuzzing (libFuzzer, clang): every tests/fuzz/fuzz_*.c is one target, linked with the project
# compiled with coverage + ASan/UBSan.  `make fuzz` builds them; `make fuzz-smoke` runs each for
# FUZZ_SECONDS (default 30) on its seed corpus (tests/fuzz/seeds.sh builds corpora from ../shared).
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BUILD := build/fuzz
FUZZ_SECONDS ?= 30
fuzz:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=clang OPT="-O1 -g" ISA_OPT=-O1 WARN="-Wall -Wno-unused-parameter" \
	  SAN="-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined" fuzz-bins
fuzz-bins: $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz-bin/%,$(FUZZ_SRC))
$(BUILD)/fuzz-bin/%: $(BUILD)/tests/fuzz/%.o $(MODLIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $< $(LINKLIBS) $(LDLIBS)
fuzz-smoke: fuzz
	@sh tests/fuzz/run.sh $(FUZZ_BUILD)/fuzz-bin $(FUZZ_SECONDS)

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
