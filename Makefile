# Reservlön: one non-recursive Makefile for the appliance, its tests and its tools.
#   make            build build/bin/reservlon (and the test tools)
#   make test       every unit (cmocka) and end-to-end test
#   make asan       the same tests under AddressSanitizer + UBSan, in build/asan/
#   make drill      a continuity drill on a generated snapshot, outputs in build/drill/
#   make bench      benchmarks (optimised build in build/bench/)
#   make clean
# Debian packages are found through pkg-config; scripts/install-deps installs them.

B ?= build
SANITIZE ?=
OPT ?= -O2 -g

PKGS := libsodium sqlite3 libusb-1.0 lua5.4 libxml-2.0
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS := $(shell pkg-config --libs $(PKGS))
# ncursesw: the terminal interface (app/ui) only; linked into the appliance binary (and the
# fuzz builds, which compile every app source), not into tests and tools that never reach it.
UI_LIBS := $(shell pkg-config --libs ncursesw)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka)

WARN := -Wall -Wextra -Werror -Wshadow -Wconversion -Wformat=2 -Wstrict-prototypes \
        -Wmissing-prototypes -Wvla -Wno-sign-conversion
CFLAGS_BASE := -std=c17 -D_GNU_SOURCE $(OPT) $(WARN) -fstack-protector-strong \
        -DRL_RULES_DIR='"$(CURDIR)/app/rules"' \
        -D_FORTIFY_SOURCE=2 -fPIE -MMD -MP -Iapp -pthread
LDFLAGS_BASE := -pie -Wl,-z,relro,-z,now -pthread

ifeq ($(SANITIZE),1)
  SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
  CFLAGS_BASE := $(filter-out -D_FORTIFY_SOURCE=2,$(CFLAGS_BASE)) $(SAN)
  LDFLAGS_BASE += $(SAN)
endif

ALL_CFLAGS := $(CFLAGS_BASE) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS := $(LDFLAGS_BASE) $(LDFLAGS)

# --- sources -----------------------------------------------------------------
APP_SRC := $(sort $(filter-out app/cli/main.c,$(wildcard app/*/*.c)))
APP_OBJ := $(APP_SRC:%.c=$(B)/obj/%.o)
LIB := $(B)/lib/libreservlon.a

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
# pwmemo.c is no tool of its own: linked into the tools that memoise Argon2id (below).
TOOL_SRC := $(sort $(filter-out tests/tools/pwmemo.c,$(wildcard tests/tools/*.c)))
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(B)/tests/%)

# Firmware: the core sees only firmware/include; the host HAL is linked for tests and the
# simulator. A production firmware build (hal/<target>) must never link hal/host.
FW_CORE_SRC := $(sort $(wildcard firmware/core/*.c))
FW_HOST_SRC := $(sort $(wildcard firmware/hal/host/*.c))
FW_OBJ := $(FW_CORE_SRC:%.c=$(B)/obj/%.o) $(FW_HOST_SRC:%.c=$(B)/obj/%.o)
FW_LIB := $(B)/lib/libtokenfw.a
FW_TEST_SRC := $(sort $(wildcard tests/firmware/test_*.c))
FW_TEST_BIN := $(FW_TEST_SRC:tests/firmware/%.c=$(B)/tests/fw_%)

# End-to-end token tests: app/token's real libusb code against the firmware core (host HAL)
# behind a umockdev-emulated USB device (tests/token/emu.c). Test-only: umockdev and glib
# never reach the appliance binary. Its headers come in as system headers (-isystem) so our
# warning flags apply to our code only. tests/run-all runs these under umockdev-wrapper.
TOK_TEST_SRC := $(sort $(wildcard tests/token/test_*.c))
TOK_TEST_BIN := $(TOK_TEST_SRC:tests/token/test_%.c=$(B)/tests/tok_test_%)
TOK_EMU_OBJ := $(B)/obj/tests/token/emu.o
UMOCKDEV_CFLAGS = $(patsubst -I%,-isystem %,$(shell pkg-config --cflags umockdev-1.0))
UMOCKDEV_LIBS = $(shell pkg-config --libs umockdev-1.0)
# token-sim: emulated tokens for one command (the drill's `reservlon token ...` steps).
TOKEN_SIM := $(B)/tests/token-sim

BENCH_SRC := $(sort $(wildcard tests/bench/*.c))
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(B)/bench/%) $(B)/bench/bench-sqlcipher

BIN := $(B)/bin/reservlon
GEN := $(B)/bin/gen-snapshot
# The main system's reference importer of the restore journal (docs/restore.md): a tool of
# its own, never linked into the appliance binary.
RESTORE := $(B)/bin/reservlon-restore

.PHONY: all test unit e2e asan drill bench clean fuzz fuzz-smoke
all: $(BIN) $(if $(wildcard scripts/gen-snapshot.c),$(GEN)) $(UNIT_BIN) $(TOOL_BIN) $(FW_TEST_BIN) \
     $(TOK_TEST_BIN) $(TOKEN_SIM)

# Rebuild everything when the flags change (git's GIT-CFLAGS idea).
FLAGS_STAMP := $(B)/.flags
$(FLAGS_STAMP): FORCE
	@mkdir -p $(@D)
	@echo '$(ALL_CFLAGS) $(ALL_LDFLAGS)' | cmp -s - $@ || echo '$(ALL_CFLAGS) $(ALL_LDFLAGS)' > $@
FORCE:

$(B)/obj/firmware/core/%.o: firmware/core/%.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(filter-out -Iapp,$(ALL_CFLAGS)) -ffreestanding -Ifirmware/include -c $< -o $@

$(B)/obj/tests/token/%.o: tests/token/%.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(UMOCKDEV_CFLAGS) -Ifirmware/include -c $< -o $@

$(B)/obj/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Ifirmware/include -c $< -o $@

$(LIB): $(APP_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && $(AR) rcs $@ $^

$(FW_LIB): $(FW_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && $(AR) rcs $@ $^

$(BIN): $(B)/obj/app/cli/main.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) $(UI_LIBS) -o $@

$(RESTORE): $(B)/obj/tools/restore/main.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) -o $@
all: $(RESTORE)

$(GEN): $(B)/obj/scripts/gen-snapshot.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) -o $@

$(B)/tests/test_%: $(B)/obj/tests/unit/test_%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) $(CMOCKA_LIBS) -o $@

$(B)/tests/%: $(B)/obj/tests/tools/%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) -o $@

$(B)/tests/fw_test_%: $(B)/obj/tests/firmware/test_%.o $(FW_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) $(CMOCKA_LIBS) -o $@

$(B)/tests/tok_test_%: $(B)/obj/tests/token/test_%.o $(TOK_EMU_OBJ) $(LIB) $(FW_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) $(UMOCKDEV_LIBS) $(CMOCKA_LIBS) -o $@

$(TOKEN_SIM): $(B)/obj/tests/token/token_sim.o $(TOK_EMU_OBJ) $(FW_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) $(UMOCKDEV_LIBS) -o $@

# Benchmark programs exist only in the bench variant (they use RL_BENCH_PLAIN hooks).
$(B)/bench/%: $(B)/obj/tests/bench/%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) -o $@

# The SQLCipher baseline: bench.c again with RL_BENCH_SQLCIPHER, the same library, linked
# with SQLCipher in place of SQLite (both export sqlite3_*: never both in one program).
SQLCIPHER_LIBS = $(filter-out -lsqlite3,$(PKG_LIBS)) $(shell pkg-config --libs sqlcipher)
$(B)/obj/tests/bench/bench-sqlcipher.o: tests/bench/bench.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DRL_BENCH_SQLCIPHER -c $< -o $@
$(B)/bench/bench-sqlcipher: $(B)/obj/tests/bench/bench-sqlcipher.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) $^ $(SQLCIPHER_LIBS) -o $@

# --- tests -------------------------------------------------------------------
.SECONDARY:

test: all
	B=$(B) SANITIZE=$(SANITIZE) tests/run-all

unit: all
	B=$(B) tests/run-all unit

e2e: all
	B=$(B) tests/run-all e2e

asan:
	$(MAKE) B=build/asan SANITIZE=1 OPT='-O1 -g' test

drill: $(BIN) $(GEN) $(TOKEN_SIM)
	B=$(B) scripts/drill

# make bench [SIZES=10000,100000,1000000] [RUNS=3]; B=DIR on the command line builds and
# runs it there instead of build/bench.
BENCH_B := $(if $(filter command line,$(origin B)),$(B),build/bench)
bench:
	$(MAKE) B=$(BENCH_B) OPT='-O2 -DNDEBUG -DRL_BENCH_PLAIN' all bench-bin
	B=$(BENCH_B) scripts/bench $(if $(SIZES),--sizes $(SIZES)) $(if $(RUNS),--runs $(RUNS))

bench-bin: $(BENCH_BIN)
ifeq ($(findstring RL_BENCH_PLAIN,$(OPT)),)
  ifneq ($(BENCH_BIN),)
$(BENCH_BIN): bench-variant-only
bench-variant-only:
	$(error benchmark programs link the plain-SQLite hook; build them with 'make bench')
  endif
endif

# Fuzzing with libFuzzer (clang from Debian): make fuzz T=TARGET (tests/fuzz/fuzz_*.c)
# [SECONDS=60]. The target and every app and firmware source are compiled together with
# ASan+UBSan; the corpus grows in $(FUZZ_B)/corpus-T, seeded from tests/fuzz/corpus/T;
# crashes are written to $(FUZZ_B)/ and fail the run. FUZZ_B=build/NAME-fuzz keeps
# concurrent fuzzing sessions apart.
FUZZ_CC ?= clang
FUZZ_B ?= build/fuzz
SECONDS ?= 60
FUZZ_FLAGS := -std=c17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=all -Iapp -Ifirmware/include $(PKG_CFLAGS)
fuzz:
	@test -n "$(T)" || { echo "usage: make fuzz T=csv|json|minisig|pain002|token_frame|batch|journal [SECONDS=60]"; exit 2; }
	@mkdir -p $(FUZZ_B)/corpus-$(T)
	$(FUZZ_CC) $(FUZZ_FLAGS) tests/fuzz/fuzz_$(T).c $(APP_SRC) $(FW_CORE_SRC) $(FW_HOST_SRC) \
	  $(PKG_LIBS) $(UI_LIBS) -o $(FUZZ_B)/fuzz_$(T)
	$(FUZZ_B)/fuzz_$(T) -max_total_time=$(SECONDS) -artifact_prefix=$(FUZZ_B)/ \
	  $(FUZZ_B)/corpus-$(T) tests/fuzz/corpus/$(T)

# Every fuzz target briefly (CI): a crash on the committed seeds or soon after fails.
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
fuzz-smoke:
	@mkdir -p $(FUZZ_B)
	@for t in $(FUZZ_TARGETS); do $(MAKE) --no-print-directory fuzz T=$$t SECONDS=10 >$(FUZZ_B)/smoke-$$t.log 2>&1 || \
	  { tail -40 $(FUZZ_B)/smoke-$$t.log; echo "fuzz-smoke: $$t failed"; exit 1; }; \
	  echo "fuzz-smoke: $$t ok ($$(grep -o 'Done [0-9]* runs' $(FUZZ_B)/smoke-$$t.log))"; done

clean:
	rm -rf build

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

# --- power-cut fault injection (docs/crashtest.md) ---------------------------------------
# make crashtest [WORKLOAD=all|registration|import|batch|payrun] [N=1000] [JOBS=...] [SEED=1]
# (more knobs in tests/crash/run): N crash points per workload (registrations; snapshot
# imports with --replace; a pay run created and released; N/5 for a 10,000-document batch),
# each a simulated power cut by the LD_PRELOAD fault layer, then a full check.
FAULTFS := $(B)/crash/faultfs.so
$(FAULTFS): tests/crash/faultfs.c
	@mkdir -p $(@D)
	$(CC) -std=c17 -O2 -g -Wall -Wextra -Werror -fPIC -shared $< -o $@ -ldl
all: $(FAULTFS)
# Test-only memo of crypto_pwhash (tests/tools/pwmemo.h) for the crash and tamper tools.
$(B)/tests/crashtest $(B)/tests/tamper: $(B)/obj/tests/tools/pwmemo.o
.PHONY: crashtest
crashtest: all
	B=$(B) N=$(or $(N),1000) WORKLOAD=$(or $(WORKLOAD),all) tests/crash/run

# --- tamper campaign (docs/tamper.md) ------------------------------------------------------
# make tamper [SAMPLES=64] [SEED=1]: every bit of SAMPLES positions per file flipped, cuts,
# appends, page swaps and replays of the vault and each signed artifact; a table of rates.
.PHONY: tamper
tamper: $(BIN) $(GEN) $(B)/tests/tamper
	B=$(B) SAMPLES=$(or $(SAMPLES),64) SEED=$(or $(SEED),1) tests/tamper/run
