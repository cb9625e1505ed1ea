# crier: build, run, test.
#
#   make deps    install missing Debian packages (as root, via apt-get)
#   make         build crierd, crierctl and every plugin into build/
#   make run     deps + build + start crierd in the foreground on conf.d/
#   make test    deps + sanitizer build (ASan+UBSan) + every test
#   make bench   deps + optimized build + load benchmark
#   make fuzz    libFuzzer targets, each for FUZZ_SECONDS
#   make format  clang-format in place;  make format-check  fails on drift

CC      ?= cc
PREFIX  ?= /usr/local
VERSION  = 0.1
BUILD   ?= build
OPT     ?= -O2 -g
SAN     ?=
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
             -Iinclude -Icore $(OPT) $(SAN) $(CFLAGS)
# libmicrohttpd from its static archive, with core/http_notls.c (its own
# archive, linked after libmicrohttpd's) in place of the GnuTLS it would map:
# crierd serves no TLS, and idle RSS is 2.5 MiB less.
MHD_NOTLS   = $(BUILD)/libmhd-notls.a
LDLIBS_CORE = -lzmq -ljansson -Wl,-Bstatic -lmicrohttpd -Wl,-Bdynamic $(MHD_NOTLS) -lsqlite3 -ldl -lpthread -lm
PLUGIN_CFLAGS = -fPIC -fvisibility=hidden
PLUGIN_LDLIBS = -ljansson
# A plugin's own libraries, added after PLUGIN_LDLIBS: PLUGIN_LDLIBS_<name>.
PLUGIN_LDLIBS_email = -lcurl
PLUGIN_LDLIBS_statuspage = -lcurl

# Debian packages: build, then what the tests drive.
DEPS_BUILD = gcc make pkg-config libzmq3-dev libjansson-dev libcurl4-openssl-dev libmicrohttpd-dev libsqlite3-dev
DEPS_TEST  = python3 curl prometheus-alertmanager clang-format python3-aiosmtpd chromium openssh-server
DEPS_FUZZ  = clang libclang-rt-14-dev
DEPS_BENCH = wrk nginx-light

# core/http_client.c goes into crier-http.so, not into crierd (http_module.h);
# core/http_notls.c is linked after libmicrohttpd.a, whose calls it answers.
CORE_SRC   = $(filter-out core/main.c core/http_client.c core/http_notls.c,$(wildcard core/*.c))
CORE_OBJ   = $(patsubst %.c,$(BUILD)/obj/%.o,$(CORE_SRC))
PLUGINS    = $(notdir $(wildcard plugins/*))
PLUGIN_SO  = $(patsubst %,$(BUILD)/plugins/%.so,$(PLUGINS))
UNIT_SRC   = $(wildcard tests/unit/test_*.c)
UNIT_BIN   = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
FUZZ_SRC   = $(wildcard tests/fuzz/fuzz_*.c)
HEADERS    = $(wildcard include/crier/*.h core/*.h)
# The plugin ABI and the optional helpers, installed for plugins built out of tree.
PLUGIN_HEADERS = $(wildcard include/crier/*.h)

.PHONY: all deps run test test-unit test-integration bench fuzz valgrind format format-check clean install check-config

HTTP_MODULE = $(BUILD)/lib/crier/crier-http.so

all: $(BUILD)/crierd $(BUILD)/crierctl $(PLUGIN_SO) $(HTTP_MODULE)

deps:
	@sh tests/deps.sh $(DEPS_BUILD) $(DEPS_TEST)

$(BUILD)/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/libcrier.a: $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(MHD_NOTLS): $(BUILD)/obj/core/http_notls.o
	@rm -f $@
	ar rcs $@ $^

# $(MHD_NOTLS) is a prerequisite for LDLIBS_CORE, which links it after -lmicrohttpd (whose TLS
# references it answers): not a second time here.
$(BUILD)/crierd: $(BUILD)/obj/core/main.o $(BUILD)/libcrier.a $(MHD_NOTLS)
	$(CC) $(CFLAGS_ALL) -o $@ $(filter-out $(MHD_NOTLS),$^) $(LDLIBS_CORE)

$(BUILD)/crierctl: $(BUILD)/obj/crierctl/crierctl.o $(BUILD)/libcrier.a $(MHD_NOTLS)
	$(CC) $(CFLAGS_ALL) -o $@ $(filter-out $(MHD_NOTLS),$^) $(LDLIBS_CORE)

# libcurl behind the host's http_request, loaded by crierd on first use
# (core/http_module.h) from lib/crier/ beside it, as installed.
$(HTTP_MODULE): core/http_client.c core/timefmt.c core/http_client.h core/timefmt.h include/crier/plugin.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(PLUGIN_CFLAGS) -shared -o $@ $(filter %.c,$^) -lcurl

# One shared object per plugins/<name>/ folder, from every .c in it.
.SECONDEXPANSION:
$(BUILD)/plugins/%.so: $$(wildcard plugins/%/*.[ch]) $(PLUGIN_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(PLUGIN_CFLAGS) -shared -o $@ $(filter %.c,$^) $(PLUGIN_LDLIBS) $(PLUGIN_LDLIBS_$*)

# Tests may drive HTTP with libcurl themselves; test_http_client links the
# module's source in.
$(BUILD)/tests/%: tests/unit/%.c tests/unit/check.h $(BUILD)/libcrier.a $(MHD_NOTLS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit -o $@ $< $(filter %.o,$^) $(BUILD)/libcrier.a $(LDLIBS_CORE) -lcurl
$(BUILD)/tests/test_http_client: $(BUILD)/obj/core/http_client.o

# Unit tests that compile a plugin's pure helpers in.
$(BUILD)/tests/test_email_mime: plugins/email/mime.c plugins/email/mime.h
$(BUILD)/tests/test_sms: plugins/sms/sms_text.c plugins/sms/sms_text.h
$(BUILD)/tests/test_statuspage: $(wildcard plugins/statuspage/*.[ch])

run: deps
	@$(MAKE) --no-print-directory all
	./$(BUILD)/crierd --config conf.d

check-config: all
	./$(BUILD)/crierd --config conf.d --check-config

# Tests run against a sanitizer build in build-san/.
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
test: deps
	@$(MAKE) --no-print-directory format-check
	@$(MAKE) --no-print-directory BUILD=build-san OPT="-O1 -g" SAN="$(SAN_FLAGS)" all unit-bins
	@CRIER_BUILD=build-san sh tests/run.sh

# Deliberately broken plugins for tests/unit/test_loader.c.
TEST_PLUGINS = good nosym none abi nulldeliver undef misnamed
TEST_PLUGIN_SO = $(patsubst %,$(BUILD)/tests/plugins/%.so,$(TEST_PLUGINS))
VARIANT_good = -DPLUGIN_NAME='"good"'
VARIANT_nosym = -DPLUGIN_NAME='"nosym"' -DVARIANT_NOSYM
VARIANT_none = -DPLUGIN_NAME='"none"' -DVARIANT_NONE
VARIANT_abi = -DPLUGIN_NAME='"abi"' -DVARIANT_ABI
VARIANT_nulldeliver = -DPLUGIN_NAME='"nulldeliver"' -DVARIANT_NULL
VARIANT_undef = -DPLUGIN_NAME='"undef"' -DVARIANT_UNDEF
VARIANT_misnamed = -DPLUGIN_NAME='"good"'
$(BUILD)/tests/plugins/%.so: tests/unit/plugins/variant.c include/crier/plugin.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(PLUGIN_CFLAGS) $(VARIANT_$*) -shared -o $@ $<

# A plugin that segfaults on demand, for isolation "process" tests
# (tests/integration/test_isolation.py); like the variants, it never ships.
$(BUILD)/tests/plugins/crashy.so: tests/unit/plugins/crashy.c include/crier/plugin.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(PLUGIN_CFLAGS) -shared -o $@ $< $(PLUGIN_LDLIBS)

# Small clients the integration tests drive crierd with.
$(BUILD)/tests/tools/%: tests/tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< -lzmq

unit-bins: $(UNIT_BIN) $(TEST_PLUGIN_SO) $(BUILD)/tests/plugins/crashy.so $(BUILD)/tests/tools/zmq_send

bench: deps
	@sh tests/deps.sh $(DEPS_BENCH)
	@$(MAKE) --no-print-directory all
	@CRIER_BUILD=$(BUILD) python3 tests/bench/bench.py
	@CRIER_BUILD=$(BUILD) python3 tests/bench/compare.py
	@CRIER_BUILD=$(BUILD) python3 tests/bench/subscribers.py
	@CRIER_BUILD=$(BUILD) python3 tests/bench/dead_lane.py

# The end-to-end tests with crierd under valgrind's memcheck (no sanitizers):
# any memory error or definite leak fails the test that saw it. Slow: the
# tests that time things are left out.
VALGRIND_TESTS ?= test_alertmanager test_uptimerobot test_bad_input test_bad_input_more test_crierctl test_durability test_zmq_ingest test_secrets
valgrind: deps
	@sh tests/deps.sh valgrind
	@$(MAKE) --no-print-directory BUILD=build-vg OPT="-O1 -g" all unit-bins
	@cd tests/integration && CRIER_BUILD=build-vg \
	  CRIER_WRAPPER="valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99" \
	  python3 -m unittest $(VALGRIND_TESTS)

FUZZ_SECONDS ?= 30
fuzz: deps
	@sh tests/deps.sh $(DEPS_FUZZ)
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS)

format:
	clang-format -i $(wildcard core/*.[ch] crierctl/*.c include/crier/*.h plugins/*/*.[ch] tests/unit/*.[ch] tests/unit/plugins/*.c tests/tools/*.c tests/fuzz/*.c examples/plugins/*/*.c)

format-check:
	@clang-format --dry-run --Werror $(wildcard core/*.[ch] crierctl/*.c include/crier/*.h plugins/*/*.[ch] tests/unit/*.[ch] tests/unit/plugins/*.c tests/tools/*.c tests/fuzz/*.c examples/plugins/*/*.c) \
	  && echo "format-check: ok"

# The ABI versions the header describes, for the pkg-config file.
ABI_VERSION     = $(shell sed -n 's/^\#define CRIER_ABI_VERSION  *\([0-9]*\)$$/\1/p' include/crier/plugin.h)
ABI_VERSION_MIN = $(shell sed -n 's/^\#define CRIER_ABI_VERSION_MIN  *\([0-9]*\)$$/\1/p' include/crier/plugin.h)

# PREFIX (default /usr/local) is where crier will live; DESTDIR, if set, is
# prepended to every path written (a staging folder for a package). Besides
# the programs, plugins and crier-http.so, the plugin header and
# crier-plugin.pc, for plugins built out of tree (docs/writing-a-plugin.md).
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include/crier $(DESTDIR)$(PREFIX)/lib/crier/plugins \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(BUILD)/crierd $(BUILD)/crierctl $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(PLUGIN_HEADERS) $(DESTDIR)$(PREFIX)/include/crier/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' -e 's|@ABI_VERSION@|$(ABI_VERSION)|' \
	    -e 's|@ABI_VERSION_MIN@|$(ABI_VERSION_MIN)|' include/crier-plugin.pc.in > $(BUILD)/crier-plugin.pc
	install -m 644 $(BUILD)/crier-plugin.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	install -m 755 $(PLUGIN_SO) $(DESTDIR)$(PREFIX)/lib/crier/plugins/
	install -m 755 $(HTTP_MODULE) $(DESTDIR)$(PREFIX)/lib/crier/

clean:
	rm -rf build build-san build-fuzz build-vg
