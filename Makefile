# Makefile
#	Builds the dynamo_fdw PostgreSQL extension (PGXS) and the node programs
#	dynamod, dynamo-cli and dynamo-bench, all with -Wall -Wextra -Werror.
#
#	make                 build everything (outputs under build/)
#	make install         install the extension and the programs (PREFIX=/usr/local)
#	make check-unit      cmocka unit tests
#	make check-asan      the unit tests again under ASan + UBSan (build-asan/)
#	make check-tsan      the threaded unit tests under ThreadSanitizer (build-tsan/)
#	make fuzz SECS=N     every libFuzzer target of node/fuzz for N seconds (default 60;
#	                     clang-14, build-fuzz/); make fuzz-smoke: 8 s each (the test command)
#	make fuzz-seeds      rewrite the fuzz targets' seed corpora (node/fuzz/corpus/)
#	make installcheck    pg_regress suites (needs a running PostgreSQL; see scripts/test.sh)
#	make bench           throw-away servers and the benchmark report (scripts/bench.sh)
#	make bench-scale     one node loaded with 1 M and 4 M keys: rates, memory, disk,
#	                     restart time (scripts/bench-scale.sh; a few minutes)

PREFIX     ?= /usr/local
BUILD      ?= build
SAN        ?=

NODE_CC     = $(or $(DYN_CC),gcc)
NODE_CFLAGS = -std=gnu11 -O2 -g -fPIC -Wall -Wextra -Werror -Wshadow \
              -Wstrict-prototypes -Wmissing-prototypes \
              -Inode/include -Inode/src $(SAN)
NODE_LDLIBS = -lwiredtiger -luv -lsodium -lm -lpthread
# The programs that hold the engine run on jemalloc (node/src/main.c says
# why); a sanitizer build keeps the sanitizer's allocator, and the unit tests
# glibc's, which valgrind checks.
ALLOC_LIBS  = $(if $(SAN),,-ljemalloc)

LIB_SRCS    = $(wildcard node/lib/*.c)
STORE_SRCS  = $(wildcard node/src/engine*.c) node/src/objbuf.c node/src/writebehind.c node/src/store.c node/src/scan.c node/src/latency.c \
              node/src/durable.c \
              node/src/throttle.c
SERVER_SRCS = $(filter-out $(STORE_SRCS),$(wildcard node/src/*.c))
TEST_SRCS   = $(wildcard node/tests/test_*.c)
HEADERS     = $(wildcard node/include/dynamo/*.h node/lib/*.h node/src/*.h node/tools/*.h)

LIB_OBJS    = $(patsubst node/%.c,$(BUILD)/%.o,$(LIB_SRCS))
STORE_OBJS  = $(patsubst node/%.c,$(BUILD)/%.o,$(STORE_SRCS))
SERVER_OBJS = $(patsubst node/%.c,$(BUILD)/%.o,$(SERVER_SRCS))
LIBDYNAMO   = $(BUILD)/libdynamo.a
LIBSTORE    = $(BUILD)/libdynstore.a
PROGRAMS    = $(BUILD)/dynamod $(BUILD)/dynamo-cli $(BUILD)/dynamo-bench
TESTS       = $(patsubst node/tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))

all: node-all

node-all: $(PROGRAMS) $(TESTS)

$(BUILD)/%.o: node/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(NODE_CC) $(NODE_CFLAGS) -c -o $@ $<

$(LIBDYNAMO): $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(LIBSTORE): $(STORE_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/dynamod: $(SERVER_OBJS) $(LIBSTORE) $(LIBDYNAMO)
	$(NODE_CC) $(SAN) -o $@ $(SERVER_OBJS) $(LIBSTORE) $(LIBDYNAMO) $(NODE_LDLIBS) $(ALLOC_LIBS)

$(BUILD)/dynamo-cli: $(BUILD)/tools/dynamo-cli.o $(LIBDYNAMO)
	$(NODE_CC) $(SAN) -o $@ $^ $(NODE_LDLIBS)

$(BUILD)/dynamo-bench: $(BUILD)/tools/dynamo-bench.o $(LIBSTORE) $(LIBDYNAMO)
	$(NODE_CC) $(SAN) -o $@ $^ $(NODE_LDLIBS) $(ALLOC_LIBS)

# Unit tests link libdynamo; the engine and store tests link the store too.
STORE_TESTS = $(BUILD)/tests/test_engine $(BUILD)/tests/test_objbuf $(BUILD)/tests/test_scan $(BUILD)/tests/test_latency $(BUILD)/tests/test_store \
              $(BUILD)/tests/test_durable \
              $(BUILD)/tests/test_throttle \
              $(BUILD)/tests/test_writebehind
$(STORE_TESTS): $(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIBSTORE) $(LIBDYNAMO)
	$(NODE_CC) $(SAN) -o $@ $^ $(NODE_LDLIBS) -lcmocka

# test_dispatch runs the real handlers: every server object but main's.
$(BUILD)/tests/test_dispatch: $(BUILD)/tests/test_dispatch.o \
                              $(filter-out $(BUILD)/src/main.o,$(SERVER_OBJS)) $(LIBSTORE) $(LIBDYNAMO)
	$(NODE_CC) $(SAN) -o $@ $^ $(NODE_LDLIBS) -lcmocka

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIBDYNAMO)
	$(NODE_CC) $(SAN) -o $@ $^ $(NODE_LDLIBS) -lcmocka

check-unit: $(TESTS)
	@set -e; for t in $(TESTS); do echo "== $$t"; $$t; done

check-asan:
	$(MAKE) BUILD=build-asan SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	    build-asan/tests/.all
	@set -e; for t in $(patsubst node/tests/%.c,build-asan/tests/%,$(TEST_SRCS)); do \
	    echo "== $$t (asan+ubsan)"; \
	    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $$t; done

# ThreadSanitizer: the tests whose code runs on more than one thread (the
# write-behind queue and the engine's write-behind groups), built into
# build-tsan/.  test_engine is given group names; a name it does not know
# runs nothing.  scripts/tsan.supp names the reports that are not ours.
TSAN_TESTS = build-tsan/tests/test_writebehind build-tsan/tests/test_engine
check-tsan:
	$(MAKE) BUILD=build-tsan SAN="-fsanitize=thread -fno-omit-frame-pointer" $(TSAN_TESTS)
	@set -e; export TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/scripts/tsan.supp"; \
	    echo "== build-tsan/tests/test_writebehind (tsan)"; build-tsan/tests/test_writebehind; \
	    echo "== build-tsan/tests/test_engine wiredtiger-wb writebehind (tsan)"; \
	    build-tsan/tests/test_engine wiredtiger-wb writebehind

# valgrind: the unit tests once more, failing on any leak or invalid access.
check-valgrind: $(TESTS)
	@set -e; for t in $(TESTS); do echo "== $$t (valgrind)"; \
	    valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
	        --error-exitcode=1 $$t >/dev/null; done

$(BUILD)/tests/.all: $(TESTS)
	@touch $@

# ---- fuzzing: libFuzzer targets (node/fuzz) against a clang-14 libdynamo
# built with the fuzzer's instrumentation and ASan + UBSan into build-fuzz/.
# Each target runs on a corpus of its own under build-fuzz/corpus/ (new
# inputs land there) plus the committed seeds; a crash or a failed property
# stops the run with the input saved as build-fuzz/artifacts/<target>-*.
FUZZ_CC      = clang-14
FUZZ_SAN     = -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_SRCS    = $(wildcard node/fuzz/fuzz_*.c)
FUZZ_TARGETS = $(patsubst node/fuzz/fuzz_%.c,%,$(FUZZ_SRCS))
SECS        ?= 60
SMOKE_SECS  ?= 8
# libFuzzer's -seed: 0 draws one (make fuzz explores); the test command's
# smoke run uses a fixed one, so that a run that fails fails again
FUZZ_SEED   ?= 0
SMOKE_SEED  ?= 1

build-fuzz/fuzz/fuzz_%: node/fuzz/fuzz_%.c node/fuzz/check.c node/fuzz/fuzz.h build-fuzz/libdynamo.a
	@mkdir -p $(dir $@)
	$(NODE_CC) $(NODE_CFLAGS) -o $@ $< node/fuzz/check.c build-fuzz/libdynamo.a $(NODE_LDLIBS)

fuzz-build:
	$(MAKE) BUILD=build-fuzz DYN_CC=$(FUZZ_CC) SAN="$(FUZZ_SAN)" \
	    $(patsubst %,build-fuzz/fuzz/fuzz_%,$(FUZZ_TARGETS))

fuzz: fuzz-build
	@set -e; mkdir -p build-fuzz/artifacts; for t in $(FUZZ_TARGETS); do \
	    mkdir -p build-fuzz/corpus/$$t; \
	    echo "== fuzz_$$t ($(SECS) s)"; \
	    if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	        build-fuzz/fuzz/fuzz_$$t -max_total_time=$(SECS) -seed=$(FUZZ_SEED) -print_final_stats=1 \
	        -timeout=10 -rss_limit_mb=2048 -artifact_prefix=build-fuzz/artifacts/$$t- \
	        build-fuzz/corpus/$$t node/fuzz/corpus/$$t >build-fuzz/fuzz_$$t.log 2>&1; then \
	        grep -E '^#[0-9]+.*DONE|stat::number_of_executed_units' build-fuzz/fuzz_$$t.log; \
	    else tail -40 build-fuzz/fuzz_$$t.log; echo "fuzz_$$t FAILED (log: build-fuzz/fuzz_$$t.log)"; \
	        exit 1; fi; \
	done

fuzz-smoke:
	$(MAKE) -s fuzz SECS=$(SMOKE_SECS) FUZZ_SEED=$(SMOKE_SEED)

$(BUILD)/fuzz-seeds: node/fuzz/seeds.c $(LIBDYNAMO) $(HEADERS)
	$(NODE_CC) $(NODE_CFLAGS) -o $@ $< $(LIBDYNAMO) $(NODE_LDLIBS)

# Inputs named regress-* are failures found once, kept as seeds: not rewritten.
fuzz-seeds: $(BUILD)/fuzz-seeds
	mkdir -p node/fuzz/corpus && find node/fuzz/corpus -type f ! -name 'regress-*' -delete
	$(BUILD)/fuzz-seeds node/fuzz/corpus

install-node: $(PROGRAMS)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/

bench: $(PROGRAMS)
	bash scripts/bench.sh

bench-scale: $(PROGRAMS)
	bash scripts/bench-scale.sh

clean-node:
	rm -rf build build-asan build-fuzz build-tsan

.PHONY: all node-all check-unit check-asan check-tsan check-valgrind install-node bench bench-scale clean-node \
	fuzz fuzz-build fuzz-smoke fuzz-seeds

# ---- the PostgreSQL extension (PGXS) ----
MODULE_big  = dynamo_fdw
OBJS        = $(patsubst %.c,%.o,$(wildcard dynamo_fdw/*.c))
EXTENSION   = dynamo_fdw
DATA        = $(wildcard dynamo_fdw/dynamo_fdw--*.sql)
REGRESS     = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
PG_CPPFLAGS = -Inode/include
PG_CFLAGS   = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers \
              -Wno-sign-compare
SHLIB_LINK  = $(LIBDYNAMO) -lsodium
EXTRA_CLEAN = build build-asan build-fuzz build-tsan

PG_CONFIG  ?= pg_config
PGXS       := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

all: node-all
install: install-node
$(shlib): $(LIBDYNAMO)
# PGXS knows no header dependencies: the extension's objects are rebuilt
# when a libdynamo header or one of its own changes.
$(OBJS): $(wildcard node/include/dynamo/*.h dynamo_fdw/*.h)
