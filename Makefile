# SPDX-License-Identifier: GPL-2.0
# xdpfence - build, test, bench. All output goes to build/. `make V=1` shows commands.
#
# Sources are taken by folder, never from a hand-kept list:
#   bpf/*.bpf.c              programs that ship (the filter and its helpers)
#   user/cli/main.c          the binary's entry point
#   user/**/*.c (the rest)   the controller, archived in build/libxdpfence.a so
#                            tests and benchmarks link only what they use
#   tests/bench/bpf/*.bpf.c  test-only BPF programs (traffic generator, yardsticks)
.DELETE_ON_ERROR:
.SECONDARY:
.SUFFIXES:

BUILD      ?= build
CLANG      ?= clang
CC         ?= gcc
BPFTOOL    ?= bpftool
PKGS       := libbpf libxdp json-c libcurl inih libmicrohttpd libsystemd gnutls libnats
# asked when a BPF program is compiled, not when the Makefile is read: on a
# fresh machine `make demo` installs the compiler first
ARCH_INC    = -I/usr/include/$(shell $(CC) -dumpmachine 2>/dev/null)

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# pkg-config is asked only when a C file is compiled, so `make demo` and
# `make test` on a fresh machine install the packages before anyone asks.
pkg_cflags  = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
pkg_libs    = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS     ?= -O2 -g
CFLAGS     += -std=gnu11 -Wall -Wextra -Werror -Wno-missing-field-initializers \
              -I$(BUILD) -Iuser -I. -Itests -MMD -MP
LDLIBS     += -lelf -lz -lm -lpthread
BPF_CFLAGS  = -O2 -g -Wall -Werror -target bpf -mcpu=v3 $(ARCH_INC) -Ibpf -MMD -MP

BPF_SRCS   := $(wildcard bpf/*.bpf.c) $(wildcard tests/bench/bpf/*.bpf.c)
BPF_OBJS   := $(addprefix $(BUILD)/,$(notdir $(BPF_SRCS:.bpf.c=.bpf.o)))
SKELS      := $(BPF_OBJS:.bpf.o=.skel.h)

USER_SRCS  := $(sort $(shell find user -name '*.c'))
MAIN_SRC   := user/cli/main.c
LIB_SRCS   := $(filter-out $(MAIN_SRC),$(USER_SRCS))
LIB_OBJS   := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS))
LIB        := $(BUILD)/libxdpfence.a

BPF_TESTS  := $(basename $(notdir $(wildcard tests/bpf/test_*.c)))
UNIT_TESTS := $(basename $(notdir $(wildcard tests/user/test_*.c)))
TEST_BINS  := $(addprefix $(BUILD)/tests/,$(BPF_TESTS) $(UNIT_TESTS))
FIXTURE    := $(BUILD)/tests/fixture.o $(BUILD)/tests/pkt.o
FUZZ_BINS  := $(addprefix $(BUILD)/fuzz/,$(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c))))
BENCH_BINS := $(patsubst tests/bench/%.c,$(BUILD)/%,$(wildcard tests/bench/*.c)) $(BUILD)/bench_policy

.PHONY: all test check bench fuzz demo clean install deps man deb FORCE
all: $(BUILD)/xdpfence $(TEST_BINS) $(BENCH_BINS)

$(BUILD)/%.bpf.o: bpf/%.bpf.c
	@mkdir -p $(@D)
	$(call msg,CLANG,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.bpf.o: tests/bench/bpf/%.bpf.c
	@mkdir -p $(@D)
	$(call msg,CLANG,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(notdir $*) > $@

$(BUILD)/user/%.o: user/%.c | $(SKELS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(pkg_cflags) -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/xdpfence: $(BUILD)/user/cli/main.o $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(pkg_libs) $(LDLIBS)

$(BUILD)/tests/%.o: tests/bpf/%.c | $(SKELS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(pkg_cflags) -c $< -o $@

$(BUILD)/tests/%.o: tests/user/%.c | $(SKELS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(pkg_cflags) -c $< -o $@

$(BUILD)/tests/%.o: tests/bench/%.c | $(SKELS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(pkg_cflags) -c $< -o $@

$(BUILD)/tests/test.o: tests/test.c
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# BPF tests link the fixture (a loaded object + packet builder)
$(addprefix $(BUILD)/tests/,$(BPF_TESTS)): $(FIXTURE)

$(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o $(BUILD)/tests/test.o $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $(filter-out $(LIB),$^) $(LIB) -o $@ $(pkg_libs) $(LDLIBS)

$(BUILD)/bench_lookup $(BUILD)/trafficgen: $(BUILD)/tests/pkt.o
$(BUILD)/bench_tick $(BUILD)/bench_fleet: $(BUILD)/tests/plant.o
$(BUILD)/bench_%: $(BUILD)/tests/bench_%.o $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(pkg_libs) $(LDLIBS)
$(BUILD)/trafficgen: $(BUILD)/tests/trafficgen.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(pkg_libs) $(LDLIBS)

# libFuzzer harnesses: clang with sanitizers, the pure parsers only (linking
# nothing else proves they touch no maps, files or clocks).
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -Iuser -I.
$(BUILD)/fuzz/fuzz_cidr: tests/fuzz/fuzz_cidr.c user/lib/cidr.c
	@mkdir -p $(@D)
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_FLAGS) $^ -o $@
$(BUILD)/fuzz/fuzz_feed: tests/fuzz/fuzz_feed.c $(wildcard user/feeds/parse/*.c) user/lib/cidr.c user/lib/util.c
	@mkdir -p $(@D)
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_FLAGS) $(shell pkg-config --cflags json-c) $^ -o $@ $(shell pkg-config --libs json-c)

fuzz: $(FUZZ_BINS)

# Debian 12 packages (idempotent; a no-op when all are present). `make test`
# and `make demo` run it first, so both work on a fresh machine as root.
deps:
	$(Q)scripts/install-deps.sh

test: deps
	$(Q)$(MAKE) --no-print-directory all fuzz
	$(Q)tests/run.sh $(BUILD)

# Everything that needs no root, in seconds: unit tests, the lint checks
# (the manual pages and the completion against the binary's --help), a
# short fuzz run.
check: $(addprefix $(BUILD)/tests/,$(UNIT_TESTS)) $(BUILD)/xdpfence fuzz
	$(Q)tests/run.sh --no-root $(BUILD)

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/bench/run.sh $(BUILD)

demo:
	$(Q)scripts/demo.sh

# ---- install, manual pages, the Debian package --------------------------------
# `make install` puts everything an operator uses in its place (PREFIX
# /usr/local by default; the package passes PREFIX=/usr and DESTDIR). The
# config is a copy of scripts/xdpfence.conf.example with every line
# commented out, installed only where none exists yet (the package's is a
# conffile), so the service does nothing until it is edited.
PREFIX        ?= /usr/local
SBINDIR       ?= $(PREFIX)/sbin
DATADIR       ?= $(PREFIX)/share
MANDIR        ?= $(DATADIR)/man
DOCDIR        ?= $(DATADIR)/doc/xdpfence
SYSCONFDIR    ?= /etc
UNITDIR       ?= $(patsubst /usr/lib/%,/lib/%,$(PREFIX)/lib/systemd/system)
COMPLETIONDIR ?= $(DATADIR)/bash-completion/completions
SCDOC         ?= scdoc
MAN_PAGES     := $(patsubst man/%.scd,$(BUILD)/man/%,$(wildcard man/*.scd))

man: $(MAN_PAGES)
$(BUILD)/man/%: man/%.scd
	@mkdir -p $(@D)
	$(call msg,SCDOC,$@)
	$(Q)$(SCDOC) <$< >$@

$(BUILD)/xdpfence.service: scripts/xdpfence.service.in FORCE
	@mkdir -p $(@D)
	$(Q)sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< >$@

# the example, every setting commented out, under a header saying so
$(BUILD)/xdpfence.conf: scripts/xdpfence.conf.example
	@mkdir -p $(@D)
	$(Q){ printf '%s\n' \
	  '; /etc/xdpfence/xdpfence.conf - the xdpfence service (xdpfence.conf(5)).' \
	  '; Every setting below is commented out, and the package does not enable' \
	  '; the service: uncomment and edit what you need (an [interface] at' \
	  '; least), then:' \
	  ';   systemctl enable --now xdpfence     (systemctl reload xdpfence after changes)' \
	  ''; \
	  sed -e '/^; SPDX/d' -e 's/^\([^;[:space:]]\)/;\1/' $<; } >$@

install: $(BUILD)/xdpfence $(MAN_PAGES) $(BUILD)/xdpfence.service $(BUILD)/xdpfence.conf
	install -D -m 0755 $(BUILD)/xdpfence $(DESTDIR)$(SBINDIR)/xdpfence
	install -D -m 0644 $(BUILD)/man/xdpfence.8 $(DESTDIR)$(MANDIR)/man8/xdpfence.8
	install -D -m 0644 $(BUILD)/man/xdpfence.conf.5 $(DESTDIR)$(MANDIR)/man5/xdpfence.conf.5
	install -D -m 0644 $(BUILD)/xdpfence.service $(DESTDIR)$(UNITDIR)/xdpfence.service
	install -D -m 0644 contrib/bash-completion/xdpfence $(DESTDIR)$(COMPLETIONDIR)/xdpfence
	install -D -m 0644 -t $(DESTDIR)$(DATADIR)/xdpfence/prometheus contrib/prometheus/*.yml
	install -D -m 0644 contrib/grafana/xdpfence.json $(DESTDIR)$(DATADIR)/xdpfence/grafana/xdpfence.json
	install -D -m 0644 scripts/xdpfence.conf.example $(DESTDIR)$(DOCDIR)/examples/xdpfence.conf
	install -D -m 0644 contrib/fail2ban/action.d/xdpfence.conf \
		$(DESTDIR)$(SYSCONFDIR)/fail2ban/action.d/xdpfence.conf
	[ -e $(DESTDIR)$(SYSCONFDIR)/xdpfence/xdpfence.conf ] || \
		install -D -m 0644 $(BUILD)/xdpfence.conf $(DESTDIR)$(SYSCONFDIR)/xdpfence/xdpfence.conf

# dpkg-buildpackage (debian/), binary only, unsigned; it builds in
# debian/build, cleans up after itself, and the .deb (with its .changes,
# .buildinfo and debug symbols) is moved from ../ to $(BUILD)/deb/.
DEB_VERSION = $(shell dpkg-parsechangelog -S Version)
deb:
	dpkg-buildpackage -b -us -uc --post-clean
	@mkdir -p $(BUILD)/deb
	mv ../xdpfence_$(DEB_VERSION)_* ../xdpfence-dbgsym_$(DEB_VERSION)_* $(BUILD)/deb/
	@ls -l $(BUILD)/deb/*.deb

clean:
	rm -rf $(BUILD)

FORCE:

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
