#!/usr/bin/env bash
# A CI-size run of the power-cut fault injection (make crashtest runs 200 points; see
# docs/crashtest.md): 6 simulated power cuts spread over a registration workload, each
# followed by a full check. Skipped under sanitizers: the fault layer is an LD_PRELOAD
# library, which the ASan runtime refuses to follow.
set -u
. "$TOP/tests/e2e/lib.sh"
if [ "${SANITIZE:-}" = 1 ]; then echo "skipped under sanitizers"; pass; fi
[ -f "$B/crash/faultfs.so" ] && [ -x "$B/tests/crashtest" ] || fail "build the fault layer first (make all)"
B="$B" WORK="$T/crash" N=6 JOBS=2 REGS=150 SEED=7 "$TOP/tests/crash/run" > "$T/crash.log" 2>&1
rc=$?
cat "$T/crash.log"
[ "$rc" = 0 ] || fail "crashtest failed (exit $rc)"
expect_grep '^lost acknowledged: 0$' "$T/crash.log"
expect_grep '^corrupted: 0$' "$T/crash.log"
expect_grep '^opened ok: 6$' "$T/crash.log"
pass
