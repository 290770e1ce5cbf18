# xdpfence - build, test, bench. All output goes to build/. `make V=1` shows commands.
.DELETE_ON_ERROR:
.SECONDARY:
.SUFFIXES:

BUILD      ?= build
CLANG      ?= clang
CC         ?= gcc
BPFTOOL    ?= bpftool
PKGS       := libbpf libxdp json-c libcurl inih libmicrohttpd libsystemd
ARCH_INC   := -I/usr/include/$(shell $(CC) -dumpmachine)

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

CFLAGS     ?= -O2 -g
CFLAGS     += -std=gnu11 -Wall -Wextra -Werror -Wno-missing-field-initializers \
              -I$(BUILD) -Iuser -Itests -MMD -MP $(shell pkg-config --cflags $(PKGS))
LDLIBS     += $(shell pkg-config --libs $(PKGS)) -lelf -lz -lm -lpthread
BPF_CFLAGS := -O2 -g -Wall -Werror -target bpf $(ARCH_INC) -MMD -MP

BPF_OBJS   := $(BUILD)/xdpfence.bpf.o $(BUILD)/bench_lpm.bpf.o $(BUILD)/trafficgen.bpf.o $(BUILD)/counters.bpf.o $(BUILD)/keyload.bpf.o
SKELS      := $(BPF_OBJS:.bpf.o=.skel.h)

LIB_SRCS   := user/fence.c user/table.c user/cidr.c user/feed_parse.c user/util.c user/config.c user/feed.c user/fetch.c user/log.c user/policy.c user/counters.c user/keyload.c
LIB_OBJS   := $(patsubst user/%.c,$(BUILD)/user/%.o,$(LIB_SRCS))
CLI_SRCS   := $(filter-out $(LIB_SRCS),$(wildcard user/*.c))
CLI_OBJS   := $(patsubst user/%.c,$(BUILD)/user/%.o,$(CLI_SRCS))

TEST_BINS  := $(addprefix $(BUILD)/tests/,$(basename $(notdir $(wildcard tests/bpf/test_*.c tests/user/test_*.c))))
FIXTURE    := $(BUILD)/tests/fixture.o $(BUILD)/tests/pkt.o
FUZZ_BINS  := $(addprefix $(BUILD)/fuzz/,$(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c))))

.PHONY: all test bench fuzz demo clean install
all: $(BUILD)/xdpfence $(TEST_BINS) $(BUILD)/bench_lookup $(BUILD)/bench_tick $(BUILD)/bench_feed_resident $(BUILD)/trafficgen

$(BUILD)/%.bpf.o: bpf/%.bpf.c | $(BUILD)
	$(call msg,CLANG,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(notdir $*) > $@

$(BUILD)/user/%.o: user/%.c $(SKELS) | $(BUILD)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/xdpfence: $(CLI_OBJS) $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%.o: tests/bpf/%.c $(SKELS) | $(BUILD)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/tests/%.o: tests/user/%.c | $(BUILD)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/tests/test.o: tests/test.c | $(BUILD)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# BPF tests link the fixture (a loaded object + packet builder)
$(addprefix $(BUILD)/tests/,$(basename $(notdir $(wildcard tests/bpf/test_*.c)))): $(FIXTURE)

$(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o $(BUILD)/tests/test.o $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/bench_lookup: tests/bench/bench_lookup.c $(BUILD)/tests/pkt.o $(LIB_OBJS) $(SKELS) | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) tests/bench/bench_lookup.c $(BUILD)/tests/pkt.o $(LIB_OBJS) -o $@ $(LDLIBS)

$(BUILD)/bench_tick: tests/bench/bench_tick.c $(LIB_OBJS) $(SKELS) | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) tests/bench/bench_tick.c $(LIB_OBJS) -o $@ $(LDLIBS)

$(BUILD)/bench_feed_resident: tests/bench/bench_feed_resident.c $(LIB_OBJS) $(SKELS) | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) tests/bench/bench_feed_resident.c $(LIB_OBJS) -o $@ $(LDLIBS)

$(BUILD)/trafficgen: tests/bench/trafficgen.c $(BUILD)/tests/pkt.o $(SKELS) | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) tests/bench/trafficgen.c $(BUILD)/tests/pkt.o -o $@ $(LDLIBS)

# libFuzzer harnesses: clang with sanitizers, parsers only.
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -Iuser $(shell pkg-config --cflags json-c)
$(BUILD)/fuzz/fuzz_cidr: tests/fuzz/fuzz_cidr.c user/cidr.c | $(BUILD)/fuzz
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_FLAGS) $^ -o $@
$(BUILD)/fuzz/fuzz_feed: tests/fuzz/fuzz_feed.c user/feed_parse.c user/cidr.c user/util.c | $(BUILD)/fuzz
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_FLAGS) $^ -o $@ $(shell pkg-config --libs json-c)

fuzz: $(FUZZ_BINS)

$(BUILD) $(BUILD)/user $(BUILD)/tests $(BUILD)/fuzz:
	$(Q)mkdir -p $@

test: all fuzz
	$(Q)tests/run.sh $(BUILD)

bench: all
	$(Q)tests/bench/run.sh $(BUILD)

demo:
	$(Q)scripts/demo.sh

install: $(BUILD)/xdpfence
	install -D -m 0755 $(BUILD)/xdpfence $(DESTDIR)/usr/local/sbin/xdpfence

clean:
	rm -rf $(BUILD)

-include $(wildcard $(BUILD)/*.d $(BUILD)/user/*.d $(BUILD)/tests/*.d)
