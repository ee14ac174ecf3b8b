# prp: the one entry point (DESIGN.md). Everything it makes goes to build/;
# quiet unless V=1. `make SAN=1` builds the same tree with ASan+UBSan into
# build/asan/. Sources are found by wildcard: a new file in a module folder
# needs no edit here, a new program needs one line in "Programs".

.DELETE_ON_ERROR:
.SUFFIXES:
.SECONDEXPANSION:
# Keep every intermediate (objects, .bpf.o, skeletons): rebuilding them is
# what incremental builds exist to avoid.
.SECONDARY:

.DEFAULT_GOAL := all

SAN      ?= 0
V        ?= 0
FUZZ_SECONDS ?= 10
DURATION ?=

BUILD := build
ifeq ($(SAN),1)
O := $(BUILD)/asan
else
O := $(BUILD)
endif
# BPF objects do not depend on the user-space sanitizer: one copy, shared.
BPFO := $(BUILD)/bpf

Q   := $(if $(filter 1,$(V)),,@)
say  = $(if $(Q),@printf '  %-8s %s\n' '$(1)' '$(2)',@true)

CC      := gcc
CLANG   := clang
BPFTOOL := bpftool

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wcast-qual -Wformat=2 -Wvla -Wwrite-strings -Wundef -fno-common
# _FORTIFY_SOURCE and ASan each intercept the same libc calls: one at a time.
ifeq ($(SAN),1)
HARDEN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
HARDEN := -D_FORTIFY_SOURCE=2 -fstack-protector-strong
endif
# gnu11, not c11: libbpf's headers and bpftool's skeletons use GNU typeof.
# The one place the version comes from.
VERSION := $(shell cat VERSION)
CFLAGS := -std=gnu11 -O2 -g $(WARN) $(HARDEN) -fPIE -pthread -D_GNU_SOURCE -I. \
	-DPRP_VERSION='"$(VERSION)"' \
	-isystem $(BPFO) -isystem /usr/include/p11-kit-1 -MMD -MP
LDFLAGS := -pie -Wl,-z,relro,-z,now -pthread $(filter -fsanitize=%,$(HARDEN))
LDLIBS := -Wl,--as-needed -lbpf -lelf -lz -lmicrohttpd -lgnutls -ljansson -lcurl -lnanomsg \
	-lyaml -lsqlite3 -lm
TEST_LDLIBS := -lcriterion $(LDLIBS)
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror -I. -I$(BPFO)

# ---- Sources ---------------------------------------------------------------
# Files with a main(); everything else in a folder goes into its archive.
MAINS := agent/main.c aggregator/main.c aggregator/cli/prp_detect.c aggregator/cli/prpctl.c \
	demo/demo_service.c demo/loadgen.c

modsrc = $(filter-out $(MAINS),$(shell find $(1) -name '*.c' 2>/dev/null | sort))
COMMON_SRCS := $(call modsrc,common)
DEMO_SRCS   := $(call modsrc,demo)
AGENT_SRCS  := $(call modsrc,agent)
AGG_SRCS    := $(call modsrc,aggregator)
BPF_SRCS    := $(wildcard bpf/*.bpf.c)
BPF_OBJS    := $(patsubst bpf/%.bpf.c,$(BPFO)/%.bpf.o,$(BPF_SRCS))
BPF_SKELS   := $(patsubst bpf/%.bpf.c,$(BPFO)/%.skel.h,$(BPF_SRCS))

obj = $(patsubst %.c,$(O)/%.o,$(1))
COMMON_LIB := $(O)/libprp-common.a
DEMO_LIB   := $(O)/libprp-demo.a
AGENT_LIB  := $(O)/libprp-agent.a
AGG_LIB    := $(O)/libprp-aggregator.a

# ---- Programs --------------------------------------------------------------
PROGRAMS := $(if $(wildcard agent/main.c),$(O)/prp-agent) \
	$(if $(wildcard aggregator/main.c),$(O)/prp-aggregator) \
	$(if $(wildcard aggregator/cli/prp_detect.c),$(O)/prp-detect) \
	$(if $(wildcard aggregator/cli/prpctl.c),$(O)/prpctl) $(O)/prp-demo-service $(O)/prp-loadgen

$(O)/prp-agent: $(call obj,agent/main.c) $(AGENT_LIB) $(COMMON_LIB)
$(O)/prp-aggregator: $(call obj,aggregator/main.c) $(AGG_LIB) $(COMMON_LIB)
$(O)/prp-detect: $(call obj,aggregator/cli/prp_detect.c) $(AGG_LIB) $(COMMON_LIB)
$(O)/prpctl: $(call obj,aggregator/cli/prpctl.c) $(AGG_LIB) $(COMMON_LIB)

$(O)/prp-demo-service: $(call obj,demo/demo_service.c) $(DEMO_LIB) $(COMMON_LIB)
$(O)/prp-loadgen: $(call obj,demo/loadgen.c) $(DEMO_LIB) $(COMMON_LIB)

# ---- Tests -----------------------------------------------------------------
UNIT_SRCS  := $(shell find tests/unit -name 'test_*.c' 2>/dev/null | sort)
UNIT_BINS  := $(patsubst %.c,$(O)/%,$(UNIT_SRCS))
INTEG_SRCS := $(shell find tests/integration -name 'test_*.c' 2>/dev/null | sort)
INTEG_BINS := $(patsubst %.c,$(O)/%,$(INTEG_SRCS))
TESTLIB_OBJS := $(call obj,$(wildcard tests/lib/*.c))
BENCH_SRCS := $(wildcard tests/bench/bench_*.c)
BENCH_BINS := $(patsubst %.c,$(O)/%,$(BENCH_SRCS))
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))

# A test of tests/unit/<dir>/ links that module's archive and common's.
unit_libs = $(if $(filter-out common bpf,$(1)),$(O)/libprp-$(1).a) $(COMMON_LIB)

.PHONY: all test demo bench clean deps check-unit check-integration check-fuzz \
	unit-bins integ-bins fuzz-bins bench-bins deb rpm pkg

all: $(PROGRAMS) $(BPF_SKELS)

# ---- Rules -----------------------------------------------------------------
$(O)/%.o: %.c
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# Objects that may include a skeleton: -MMD does not record -isystem headers,
# so they depend on every skeleton explicitly (a few objects, rebuilt fast).
$(call obj,$(wildcard agent/*.c)) $(call obj,$(shell find tests/integration -name '*.c')): \
	$(BPF_SKELS)

$(COMMON_LIB): $(call obj,$(COMMON_SRCS))
$(DEMO_LIB): $(call obj,$(DEMO_SRCS))
$(AGENT_LIB): $(call obj,$(AGENT_SRCS))
$(AGG_LIB): $(call obj,$(AGG_SRCS))
$(O)/lib%.a:
	$(call say,AR,$@)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(PROGRAMS):
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The ABI test reads the BTF of the compile-only BPF object.
$(O)/tests/unit/bpf/test_abi: | $(BPFO)/abi.bpf.o
$(O)/tests/unit/%: $(O)/tests/unit/%.o $(TESTLIB_OBJS) $$(call unit_libs,$$(firstword $$(subst /, ,$$*)))
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(TEST_LDLIBS)

$(O)/tests/integration/%: $(O)/tests/integration/%.o $(TESTLIB_OBJS) $(AGENT_LIB) $(AGG_LIB) \
		$(DEMO_LIB) $(COMMON_LIB)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(TEST_LDLIBS)

$(O)/tests/bench/%: $(O)/tests/bench/%.o $(AGG_LIB) $(AGENT_LIB) $(COMMON_LIB)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Integration tests find the programs they start here.
$(O)/tests/integration/%.o $(O)/tests/lib/%.o $(O)/tests/unit/bpf/%.o: \
	CFLAGS += -DPRP_BUILD_DIR='"$(abspath $(O))"' -DPRP_BPF_DIR='"$(abspath $(BPFO))"'

# ---- BPF -------------------------------------------------------------------
$(BPFO)/vmlinux.h:
	@mkdir -p $(@D)
	@test -r /sys/kernel/btf/vmlinux || { echo "error: /sys/kernel/btf/vmlinux is missing:" \
		"prp needs a kernel built with CONFIG_DEBUG_INFO_BTF=y" >&2; exit 1; }
	$(call say,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(BPFO)/%.bpf.o: bpf/%.bpf.c $(BPFO)/vmlinux.h $(wildcard bpf/*.h bpf/lib/*.h)
	$(call say,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	@# drop DWARF, keep BTF: the skeleton embeds the object
	$(Q)llvm-strip -g $@

$(BPFO)/%.skel.h: $(BPFO)/%.bpf.o
	$(call say,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@


# ---- Fuzzing (clang, libFuzzer) --------------------------------------------
FUZZ_CFLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -I. -isystem /usr/include/p11-kit-1 \
	-DPRP_VERSION='"$(VERSION)"' \
	-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -Wall -Wextra -Werror
# the aggregator parsers of untrusted input that have a target
FUZZ_OBJS := $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(COMMON_SRCS) $(DEMO_SRCS) \
	aggregator/http/query.c aggregator/detect/csv_row.c aggregator/policy/condition.c \
	aggregator/policy/policy_doc.c aggregator/policy/policy_yaml.c aggregator/policy/policy_action.c \
	aggregator/analysis/chat_intent.c aggregator/stream/ws_frame.c)
# fuzz_api runs the whole aggregator (its HTTP request handling): common and every
# aggregator object, without the demo's, which define req_init() and others too
FUZZ_AGG_OBJS := $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(COMMON_SRCS) $(AGG_SRCS))
fuzz_link = $(CLANG) $(filter-out -fsanitize=fuzzer-no-link%,$(FUZZ_CFLAGS)) \
	-fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS) -pthread

$(BUILD)/fuzz/obj/%.o: %.c
	$(call say,FUZZCC,$@)
	@mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS)
	$(call say,FUZZLD,$@)
	$(Q)$(fuzz_link)

# the agent's parser of the requests' heads, with what it links
$(BUILD)/fuzz/fuzz_traceparent: tests/fuzz/fuzz_traceparent.c $(FUZZ_OBJS) \
		$(patsubst %.c,$(BUILD)/fuzz/obj/%.o,agent/spans.c agent/services.c agent/http_method.c)
	$(call say,FUZZLD,$@)
	$(Q)$(fuzz_link)

# an explicit rule: the pattern's $(FUZZ_OBJS) would bring the demo's objects in
$(BUILD)/fuzz/fuzz_api: tests/fuzz/fuzz_api.c $(FUZZ_AGG_OBJS)
	$(call say,FUZZLD,$@)
	$(Q)$(fuzz_link)

# ---- Entry points ----------------------------------------------------------
deps:
	@packaging/install-deps.sh --quiet

unit-bins: $(UNIT_BINS)
integ-bins: $(INTEG_BINS) $(PROGRAMS)
fuzz-bins: $(FUZZ_BINS)
bench-bins: $(BENCH_BINS)

RESULTS := $(BUILD)/test-results

# Each check records "<label> <passed> <failed>" in $(RESULTS) and goes on, so
# one failing suite does not hide the others; `make test` fails at the end.
check-unit: unit-bins
	$(Q)for t in $(UNIT_BINS); do tests/lib/run-suite.sh $(RESULTS) "$$t" "$$t"; done

# One test at a time: they measure latency and CPU time of real processes.
check-integration: integ-bins
	$(Q)for t in $(INTEG_BINS); do tests/lib/run-suite.sh $(RESULTS) "$$t" "$$t" --jobs 1; done

check-fuzz: fuzz-bins
	$(Q)for t in $(FUZZ_BINS); do tests/lib/run-fuzz.sh $(RESULTS) "$$t" $(FUZZ_SECONDS); done

test: deps
	@mkdir -p $(BUILD) && rm -f $(RESULTS)
	@$(MAKE) --no-print-directory all
	@echo "== unit tests"
	@$(MAKE) --no-print-directory check-unit
	@echo "== unit tests, ASan+UBSan"
	@$(MAKE) --no-print-directory SAN=1 check-unit
	@echo "== integration tests (root: real kernel, real sockets)"
	@$(MAKE) --no-print-directory check-integration
	@echo "== fuzzing, $(FUZZ_SECONDS) s per target"
	@$(MAKE) --no-print-directory check-fuzz
	@tests/lib/summarize.sh $(RESULTS)

bench: deps
	@$(MAKE) --no-print-directory all bench-bins integ-bins
	$(Q)for b in $(BENCH_BINS); do "$$b" || exit 1; done
	$(Q)for s in $(wildcard tests/bench/*.sh); do BUILD_DIR=$(BUILD) "$$s" || exit 1; done

# Packages into $(BUILD)/pkg/ (docs/install.md), by the scripts the packaging
# test runs too; always of the plain build's programs, never SAN=1's.
deb rpm: all
	@test "$(SAN)" != 1 || { echo "make $@: packages are built without SAN=1" >&2; exit 1; }
	$(Q)BUILD_DIR=$(BUILD) packaging/build-$@.sh

pkg: deb rpm

demo: deps
	@$(MAKE) --no-print-directory all
	@DURATION='$(DURATION)' BUILD_DIR='$(abspath $(BUILD))' demo/run-demo.sh

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
