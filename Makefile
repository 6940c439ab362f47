# cardd — see README.md. Targets: all run test unit integration asan tsan
# fuzz bench fleet install clean deps layers.
.DEFAULT_GOAL := all
VERSION  = 0.1.0
BUILD   ?= build
PREFIX  ?= /usr/local
PYTHON   = /usr/bin/python3
PKGS     = libevent libevent_pthreads hiredis libxxhash openssl jansson \
           libqrencode

WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
       -Wpointer-arith -Wformat=2 -Wcast-qual -Wwrite-strings -Werror
SAN  = -O1 -g -fno-omit-frame-pointer -fno-sanitize-recover=all
OPT ?= -O2 -g
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
INC      = -Iprotocol -Istore -Idaemon
CFLAGS  += -std=c11 -D_GNU_SOURCE -pthread $(OPT) $(WARN) $(INC) \
           -DCARDD_VERSION='"$(VERSION)"' $(PKG_CFLAGS) $(EXTRA) -MMD -MP
LDFLAGS += -pthread $(EXTRA)
LDLIBS  += $(PKG_LIBS)

PROTO  = date b64url stmt jws sm2 resp http1 csv merkle redis_url cardcode
STORE  = record index snapshot mapfile
DAEMON = log config live check sign buf clock stats net_tcp \
         worker http resp_cmd resp_meta resp_multi answer batch source \
         source_csv snapshot_save sync_redis sync_link sync_reply \
         sync_sentinel sync_stream sync_fetch sync_full sync_follow \
         sync_reject sign_job sign_queue signer notify auth tls issuer \
         code_store code_bind body_json fhir_req fhir_resp cors openapi
TOOLS  = cardctl gen client keys code redis_io sentinel export verify
BENCH  = cardbench cardbench_conf cardbench_hist cardbench_pick cardbench_req \
         cardbench_reply cardbench_stats cardbench_conn cardbench_load \
         cardbench_verify cardbench_fetch cardbench_report cardbench_selftest \
         cardbench_codes
UNIT   = $(patsubst tests/unit/test_%.c,%,$(wildcard tests/unit/test_*.c))
FUZZ   = $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 20

PROTO_OBJ  = $(PROTO:%=$(BUILD)/protocol/%.o)
STORE_OBJ  = $(STORE:%=$(BUILD)/store/%.o)
DAEMON_OBJ = $(DAEMON:%=$(BUILD)/daemon/%.o)
TOOLS_OBJ  = $(TOOLS:%=$(BUILD)/tools/%.o)
UNIT_BIN   = $(UNIT:%=$(BUILD)/tests/unit_%)
BINS       = $(BUILD)/cardd $(BUILD)/cardctl $(BUILD)/cardbench \
             $(BUILD)/stallprobe

all: $(BINS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# Each layer sees the headers it may use: the store only protocol/; the
# tools and the bench nothing of daemon/ (the bench shares tools/verify).
$(BUILD)/store/%.o: INC = -Iprotocol -Istore
$(BUILD)/tools/%.o: INC = -Iprotocol -Istore
$(BUILD)/bench/%.o: INC = -Iprotocol -Itools

# The OpenAPI document is built into the daemon (.incbin, daemon/openapi.c).
$(BUILD)/daemon/openapi.o: protocol/openapi.json

$(BUILD)/cardd: $(DAEMON_OBJ) $(BUILD)/daemon/main.o $(STORE_OBJ) $(PROTO_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/cardctl: $(TOOLS_OBJ) $(STORE_OBJ) $(PROTO_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/cardbench: $(BENCH:%=$(BUILD)/bench/%.o) $(BUILD)/tools/verify.o \
    $(PROTO_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lm

$(BUILD)/stallprobe: $(BUILD)/bench/stallprobe.o
	$(CC) $(LDFLAGS) -o $@ $^

$(BUILD)/tests/unit_%: $(BUILD)/tests/unit/test_%.o $(DAEMON_OBJ) $(STORE_OBJ) \
    $(PROTO_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(DAEMON_OBJ) $(STORE_OBJ) \
    $(PROTO_OBJ)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

# The include structure: no cycle among modules, protocol/ and store/
# below daemon/, tools/ and bench/ beside it (tools/layers.py, after its
# self-test); part of check.
layers:
	@$(PYTHON) tests/layers_test.py
	$(PYTHON) tools/layers.py

# Install missing Debian packages (as root), or say which are missing.
deps:
	@sh tools/deps.sh

unit: $(UNIT_BIN)
	@fail=0; for t in $(UNIT_BIN); do $$t || fail=1; done; exit $$fail

integration: $(BINS)
	CARDD_BUILD=$(BUILD) $(PYTHON) -m unittest discover -s tests/integration -t . -v

check: layers unit integration
	$(BUILD)/cardbench --selftest >/dev/null
	CARDD_BUILD=$(BUILD) sh tests/deploy/check.sh

test:
	@sh tools/deps.sh test
	$(MAKE) all
	$(MAKE) check

asan:
	$(MAKE) BUILD=build/asan OPT="$(SAN)" EXTRA="-fsanitize=address,undefined" check

tsan:
	$(MAKE) BUILD=build/tsan OPT="$(SAN)" EXTRA="-fsanitize=thread" check

# Build each fuzz target with clang, ASan and UBSan into build/fuzz, then
# run each FUZZ_SECONDS from its seeds in tests/fuzz/corpus/ (run.sh).
fuzz:
	$(MAKE) BUILD=build/fuzz CC=clang OPT="$(SAN)" \
	    EXTRA="-fsanitize=fuzzer-no-link,address,undefined" fuzz-run

fuzz-run: $(FUZZ:%=$(BUILD)/tests/fuzz_%)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JSON=$(FUZZ_JSON) /bin/sh tests/fuzz/run.sh \
	    $(BUILD) $(FUZZ)

# cardd next to redis-server, nginx and OpenSSL; writes bench/RESULTS.md.
bench:
	@sh tools/deps.sh bench
	$(MAKE) all
	bench/compare --build $(BUILD)

# Demo data, a development key, and cardd in the foreground.
run: deps
	$(MAKE) all
	@sh tools/run.sh $(BUILD)

# The reference deployment of conf/fleet/README.md on loopback (Redis,
# three Sentinels, two cardd, HAProxy); Ctrl-C stops it all.
fleet: deps
	$(MAKE) all
	@$(PYTHON) tools/fleet.py

# make install [PREFIX=/usr/local] [DESTDIR=...]
install: all $(BUILD)/man/cardd.conf.5
	install -D -m 0755 $(BUILD)/cardd $(DESTDIR)$(PREFIX)/sbin/cardd
	install -D -m 0755 $(BUILD)/cardctl $(DESTDIR)$(PREFIX)/bin/cardctl
	for b in $(filter-out $(BUILD)/cardd $(BUILD)/cardctl,$(BINS)); do \
	    install -D -m 0755 $$b $(DESTDIR)$(PREFIX)/bin/$$(basename $$b); done
	install -D -m 0644 man/cardd.8 $(DESTDIR)$(PREFIX)/share/man/man8/cardd.8
	install -D -m 0644 man/cardctl.1 $(DESTDIR)$(PREFIX)/share/man/man1/cardctl.1
	install -D -m 0644 $(BUILD)/man/cardd.conf.5 \
	    $(DESTDIR)$(PREFIX)/share/man/man5/cardd.conf.5
	install -D -m 0644 conf/cardd.conf \
	    $(DESTDIR)$(PREFIX)/share/doc/cardd/cardd.conf.example
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	sed 's|/usr/local/sbin/|$(PREFIX)/sbin/|g' systemd/cardd.service \
	    > $(DESTDIR)$(PREFIX)/lib/systemd/system/cardd.service
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/cardd.service
	sed 's|/usr/local/sbin/|$(PREFIX)/sbin/|g' systemd/cardd@.service \
	    > $(DESTDIR)$(PREFIX)/lib/systemd/system/cardd@.service
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/cardd@.service
	install -D -m 0644 systemd/cardd.sysusers \
	    $(DESTDIR)$(PREFIX)/lib/sysusers.d/cardd.conf
	install -D -m 0644 systemd/cardd.tmpfiles \
	    $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/cardd.conf

$(BUILD)/man/cardd.conf.5: conf/cardd.conf daemon/config.c tools/conf2man.sh
	@mkdir -p $(dir $@)
	sh tools/conf2man.sh conf/cardd.conf daemon/config.c > $@

clean:
	rm -rf build run

.SECONDARY:
.PHONY: all deps layers unit integration check test asan tsan fuzz fuzz-run bench run fleet install clean

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
