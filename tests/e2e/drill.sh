#!/usr/bin/env bash
# `reservlon drill` end to end (docs/drill.md) on a small generated snapshot: with a blank
# emulated token plugged in, every step passes and the report (md and html) says so, holds
# no personal data, and everything made is marked as a drill (MsgId, file names, mode=drill,
# the token's drill class). Without a token the token steps are skipped with a warning, or
# fail with --token require; a tampered snapshot stops the drill at the import with exit 3
# and the later steps "NOT RUN"; bad options exit 2 and make nothing.
set -u
. "$TOP/tests/e2e/lib.sh"
SIM="$B/tests/token-sim"
# Under ASan, umockdev's preload comes before the ASan runtime.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
S="$T/snap"
KEYS=(--export-pubkey "$TOP/keys/test/export-TEST.pub" --rules-pubkey "$TOP/keys/test/rules-TEST.pub")
"$GEN" --employees 150 --seed 5 --out "$S" >/dev/null 2>&1 || fail "gen-snapshot"
sim() { umockdev-wrapper "$SIM" --serial RLDRILL01 --state "$T/flash" --flash-mib 8 -- "$@"; }

# Bad options: exit 2, nothing made.
expect_exit 2 "$BIN" drill --snapshot "$S" --export-pubkey "$TOP/keys/test/export-TEST.pub" --out "$T/x"
expect_grep "rules-pubkey" "$T/err"
[ ! -e "$T/x" ] || fail "a refused drill made its directory"
expect_exit 2 "$BIN" drill --snapshot "$S" "${KEYS[@]}" --out "$T/x" --mix 0
expect_exit 2 "$BIN" drill --snapshot "$S" "${KEYS[@]}" --out "$T/x" --token maybe
mkdir -p "$T/full"; echo keep > "$T/full/mine.txt"
expect_exit 2 "$BIN" drill --snapshot "$S" "${KEYS[@]}" --out "$T/full"
expect_grep "not empty" "$T/err"
[ "$(ls "$T/full")" = mine.txt ] || fail "the drill touched a non-empty directory"

# The whole chain with a blank drill token.
D="$T/drill"
expect_exit 0 sim "$BIN" drill --snapshot "$S" "${KEYS[@]}" --out "$D" --mix 2 --token require
expect_grep "drill passed" "$T/out"
for f in report.md report.html DRILL-payrun-1.xml DRILL-payrun-1.xml.minisig DRILL-readback.xml \
         DRILL-journal.jsonl DRILL-journal.jsonl.minisig appliance.pub payrun-review.txt \
         reconcile-payrun-1.csv reconcile-payrun-1.html state-appliance.csv state-main-system.csv; do
  [ -f "$D/$f" ] || fail "$f missing"
done
steps=$(grep -c '^| [0-9]* | ' "$D/report.md")
[ "$steps" -ge 19 ] || fail "report has $steps steps"
[ "$(grep -c '^| [0-9]* | .* | PASS | ' "$D/report.md")" = "$steps" ] || { cat "$D/report.md" >&2; fail "a step did not pass"; }
expect_grep "^# Reservlön continuity drill: PASS" "$D/report.md"
xmllint --html --noout "$D/report.html" 2>"$T/xl" || { cat "$T/xl" >&2; fail "report.html not well-formed"; }
[ ! -s "$T/xl" ] || { cat "$T/xl" >&2; fail "report.html has HTML errors"; }
expect_grep "PASS: $steps of $steps steps passed" "$D/report.html"
# The main system's reference import ended in the appliance's state; the reconciliation's
# paid total is the pay run's, and the late document shows as a difference to settle.
cmp -s "$D/state-appliance.csv" "$D/state-main-system.csv" || fail "restored state differs"
expect_grep "| reference import on the main system's side | .* | PASS | .*state identical" "$D/report.md"
expect_grep "| reconciliation report for payroll | .* | PASS | " "$D/report.md"
grep -q "(approved after the run)" "$D/reconcile-payrun-1.csv" || fail "the late document is not in the reconciliation"
# Marked as a drill everywhere.
grep -q '<MsgId>DRILL-' "$D/DRILL-payrun-1.xml" || fail "MsgId lacks DRILL-"
grep -q 'mode=drill' "$D/DRILL-payrun-1.xml.minisig" || fail "signature lacks mode=drill"
minisign -V -m "$D/DRILL-payrun-1.xml" -p "$D/appliance.pub" >/dev/null || fail "minisign -V payment file"
minisign -V -m "$D/DRILL-journal.jsonl" -p "$D/appliance.pub" >/dev/null || fail "minisign -V journal"
cmp -s "$D/DRILL-payrun-1.xml" "$D/DRILL-readback.xml" || fail "read-back differs"
expect_exit 0 sim "$BIN" token list --serial RLDRILL01
expect_grep "DRILL-payrun-1.xml" "$T/out"
grep "DRILL-payrun-1.xml" "$T/out" | grep -qi "drill" || { cat "$T/out" >&2; fail "the token does not list the file as a drill file"; }
grep "DRILL-payrun-1.xml" "$T/out" | grep -q " yes " || { cat "$T/out" >&2; fail "the file is not marked collected"; }
# The vault and every file are the operators' only.
[ "$(stat -c %a "$D")" = 700 ] || fail "drill directory is not 0700"
[ -z "$(find "$D" -type f -perm /077)" ] || fail "a drill file is readable by others"
# No personal data in the reports: no personnummer, family name or account of the snapshot.
/usr/bin/python3 - "$S" "$D/report.md" "$D/report.html" <<'PY' || fail "personal data in the report"
import csv, sys
snap, *reports = sys.argv[1:]
text = "".join(open(r, encoding="utf-8").read() for r in reports)
for p in csv.DictReader(open(f"{snap}/employees.csv", encoding="utf-8")):
    for k in ("personnummer", "account", "iban"):
        if p[k] and p[k] in text:
            sys.exit(f"{k} of a person in the report")
    if len(p["family_name"]) > 3 and f" {p['family_name']} " in text:
        sys.exit("a family name in the report")
PY

# No token plugged in: skipped with a warning (auto), a failure with --token require.
expect_exit 0 "$BIN" drill --snapshot "$S" "${KEYS[@]}" --out "$T/notoken" --mix 1
expect_grep "| SKIPPED | no token plugged in" "$T/notoken/report.md"
expect_grep "no USB token was plugged in" "$T/notoken/report.md"
expect_exit 1 "$BIN" drill --snapshot "$S" "${KEYS[@]}" --out "$T/req" --mix 1 --token require
expect_grep "drill failed at 'token: provision" "$T/err"
expect_grep "| FAIL | drill: no token is plugged in" "$T/req/report.md"
expect_grep "^# Reservlön continuity drill: FAIL" "$T/req/report.md"

# A tampered snapshot stops the drill at the import; nothing after it runs.
cp -r "$S" "$T/bad"
sed -i '2s/,1,/,2,/' "$T/bad/employments.csv"
cmp -s "$S/employments.csv" "$T/bad/employments.csv" && sed -i '2s/.$/9/' "$T/bad/employments.csv"
expect_exit 3 "$BIN" drill --snapshot "$T/bad" "${KEYS[@]}" --out "$T/tampered"
expect_grep "| 2 | import the snapshot | [0-9.]* | FAIL | " "$T/tampered/report.md"
expect_grep "| 3 | register a mix of documents (registrar) | - | NOT RUN |" "$T/tampered/report.md"
[ ! -e "$T/tampered/DRILL-payrun-1.xml" ] || fail "a payment file after a failed import"
pass
