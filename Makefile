# Missive: build, run and test.
#
#   make            build bin/missive-{api,sse,worker,migrate}
#   make run        install what is missing, build, start the whole stack on 127.0.0.1:8080
#   make test       install what is missing, build, run every test: unit tests (release and
#                   AddressSanitizer + UBSan builds), the OpenAPI lint, and the end-to-end
#                   suite against the sanitizer build
#   make SANITIZE=1 build the sanitizer variant into build/asan/bin
#   make bench      run the benchmarks under bench/ (prints numbers, asserts nothing)
#   make soak       run the stack under a steady mixed load for SOAK_SECONDS (600) and
#                   fail if a process's memory keeps growing (bench/soak.sh)

CC      ?= cc
PKGS    := libpq
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
           -Wno-format-nonliteral
CPPFLAGS += -D_GNU_SOURCE -Ilib $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  := -lfcgi -lpq -lmicrohttpd -ljansson -lcurl -ljwt -lssl -lcrypto -largon2 -lpthread -lm
# libvips (lib/thumb.c, image thumbnails) goes only into the programs that make
# thumbnails: missive-worker and its unit test. The API and SSE never load it.
VIPS_CFLAGS := $(shell pkg-config --cflags vips 2>/dev/null)
VIPS_LIBS   := $(shell pkg-config --libs vips 2>/dev/null)

ifeq ($(SANITIZE),1)
  OUT     := build/asan
  CFLAGS  += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
  LDFLAGS += -fsanitize=address,undefined
  BIN     := $(OUT)/bin
else
  OUT     := build/release
  BIN     := bin
endif

ALL_CFLAGS := -std=c11 $(WARN) $(CFLAGS)

THUMB_SRC   := lib/thumb.c
LIB_SRC     := $(filter-out $(THUMB_SRC),$(wildcard lib/*.c))
API_SRC     := $(wildcard api/*.c)
SSE_SRC     := $(wildcard sse/*.c)
WORKER_SRC  := $(wildcard workers/*.c)
MIGRATE_SRC := db/migrate.c
UNIT_SRC    := $(wildcard tests/unit/test_*.c)

obj = $(patsubst %.c,$(OUT)/obj/%.o,$(1))

LIB_OBJ    := $(call obj,$(LIB_SRC))
THUMB_OBJ  := $(call obj,$(THUMB_SRC))
# api/main.c is left out of the unit-test link so tests can reach the api modules.
API_OBJ    := $(call obj,$(API_SRC))
API_LIBOBJ := $(call obj,$(filter-out api/main.c,$(API_SRC)))
SSE_OBJ    := $(call obj,$(SSE_SRC))
WORKER_OBJ := $(call obj,$(WORKER_SRC))
UNIT_BIN   := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRC))

PROGS := $(BIN)/missive-api $(BIN)/missive-sse $(BIN)/missive-worker $(BIN)/missive-migrate

.SECONDARY:
.PHONY: fuzz test-fuzz
.PHONY: all deps run test test-unit test-e2e test-asan lint-openapi bench soak clean format
all: $(PROGS)

# Unit tests reach into api/ as well as lib/.
$(OUT)/obj/tests/%.o: CPPFLAGS += -Iapi

$(OUT)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BIN)/missive-api: $(API_OBJ) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/missive-sse: $(SSE_OBJ) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(OUT)/obj/lib/thumb.o: CPPFLAGS += $(VIPS_CFLAGS)

$(BIN)/missive-worker: $(WORKER_OBJ) $(LIB_OBJ) $(THUMB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(VIPS_LIBS)

$(BIN)/missive-migrate: $(call obj,$(MIGRATE_SRC)) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(OUT)/tests/%: $(OUT)/obj/tests/unit/%.o $(API_LIBOBJ) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(OUT)/tests/test_thumb: $(THUMB_OBJ)
$(OUT)/tests/test_thumb: LDLIBS += $(VIPS_LIBS)

-include $(shell find build -path build/fuzz -prune -o -name '*.d' -print 2>/dev/null)

deps:
	@bash deploy/deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	@bash deploy/run-local.sh

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

test-unit: unit

lint-openapi:
	@bash tests/e2e/lint-openapi.sh

test-e2e: all build/bench/sse_load
	@MISSIVE_BIN_DIR=$(abspath $(BIN)) bash tests/e2e/run.sh

# The whole suite again against sanitizer builds; any report fails the run.
test-asan:
	@$(MAKE) --no-print-directory SANITIZE=1 all unit
	@$(MAKE) --no-print-directory build/bench/sse_load
	@MISSIVE_BIN_DIR=$(abspath build/asan/bin) bash tests/e2e/run.sh

# The end-to-end suite runs once, against the sanitizer build: it is where memory
# and UB errors would show, and running it twice would double the time.
# `make test-e2e` runs it against the release build.
test: deps
	@$(MAKE) --no-print-directory all unit
	@$(MAKE) --no-print-directory lint-openapi
	@$(MAKE) --no-print-directory test-fuzz
	@$(MAKE) --no-print-directory test-asan

FUZZ_SECONDS ?= 60

# libFuzzer targets for every parser of untrusted input (tests/fuzz/README.md):
# `make test` replays the committed corpora once; `make fuzz` searches for new inputs.
test-fuzz:
	@bash tests/fuzz/run.sh regress

fuzz:
	@bash tests/fuzz/run.sh fuzz $(FUZZ_SECONDS)

bench: all
	@bash bench/run.sh

# The live-delivery load generator (bench/bench-sse.sh, bench/soak.sh and
# tests/e2e/storm.test.mjs). A plain build, never sanitized; written under a
# temporary name and renamed, so a concurrent run never executes half a file.
BENCH_CFLAGS := -std=c11 -O2 -g $(WARN) -pthread
build/bench/sse_load: bench/sse_load.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -o $@.tmp.$$$$ $< && mv -f $@.tmp.$$$$ $@

SOAK_SECONDS ?= 600
soak: all build/bench/sse_load
	@SOAK_SECONDS=$(SOAK_SECONDS) bash bench/soak.sh

format:
	clang-format -i lib/*.[ch] api/*.[ch] sse/*.[ch] workers/*.[ch] db/*.c tests/unit/*.c

clean:
	rm -rf build bin
