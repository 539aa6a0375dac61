#!/usr/bin/env bash
# A CI-size run of the power-cut fault injection (make crashtest: docs/crashtest.md): 6
# simulated power cuts spread over the registration workload, 4 over the snapshot-import
# workload (registrations, then two imports with --replace) and 2 over the batch workload
# (a 10,000-document batch), each followed by a full check. Skipped under sanitizers: the
# fault layer is an LD_PRELOAD library, which the ASan runtime refuses to follow.
set -u
. "$TOP/tests/e2e/lib.sh"
if [ "${SANITIZE:-}" = 1 ]; then echo "skipped under sanitizers"; pass; fi
[ -f "$B/crash/faultfs.so" ] && [ -x "$B/tests/crashtest" ] || fail "build the fault layer first (make all)"
B="$B" WORK="$T/crash" WORKLOAD=all N=6 N_IMPORT=4 N_BATCH=2 JOBS=2 REGS=150 IREGS=10 SEED=7 \
  "$TOP/tests/crash/run" > "$T/crash.log" 2>&1
rc=$?
cat "$T/crash.log"
[ "$rc" = 0 ] || fail "crashtest failed (exit $rc)"
expect_grep '^registration  *points 6, opened 6, lost 0, corrupted 0, mixed -$' "$T/crash.log"
expect_grep '^import  *points 4, opened 4, lost 0, corrupted 0, mixed 0$' "$T/crash.log"
expect_grep '^batch  *points 2, opened 2, lost 0, corrupted 0, mixed 0$' "$T/crash.log"
# The import workload's points fall in its phases, and the imports themselves are hit.
expect_grep '^  phase import-a .*: [1-9][0-9]* points$' "$T/crash.log"
expect_grep '^  phase import-b .*: [1-9][0-9]* points$' "$T/crash.log"

# The checker is not blind: a vault that lost an acknowledged import (the reference run's
# final state claimed for a vault still holding S0), or holding tables that match no
# reference state, fails the check (each check adds a registration: one copy each).
C=$B/tests/crashtest W=$T/crash
cp -a "$W/template" "$T/v0"; cp -a "$W/template" "$T/v1"
grep '^import 2 ' "$W/import/ref" > "$T/claims-b"
expect_exit 1 "$C" check "$T/v0" "$T/claims-b" "$W/import/ref"
expect_grep 'lost=1 .*acknowledged import 2 is missing: the vault holds state 0' "$T/out"
sed 's/^\(import 0 \)[0-9a-f]/\1x/' "$W/import/ref" > "$T/badref"
expect_exit 1 "$C" check "$T/v1" /dev/null "$T/badref"
expect_grep 'mixed=1 .*no reference state' "$T/out"
pass
