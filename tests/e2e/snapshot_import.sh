#!/usr/bin/env bash
# Snapshot import end to end: a good snapshot imports with the right counts and leaves no
# plaintext personal data in the vault's files; every kind of bad record is named (file,
# line, field) and imports nothing; altered files and signatures are integrity failures.
set -u
. "$TOP/tests/e2e/lib.sh"
V="$T/vault"
printf 'correct horse battery\n' > "$T/admin"
printf 'registrar passphrase\n' > "$T/reg"
A=(--as alice --passphrase-file "$T/admin")
"$GEN" --employees 1500 --seed 11 --out "$T/snap" >/dev/null 2>&1 || fail "gen-snapshot failed"
expect_exit 0 "$BIN" --vault "$V" init --admin alice --passphrase-file "$T/admin" \
  --export-pubkey "$TOP/keys/test/export-TEST.pub"
expect_exit 0 "$BIN" --vault "$V" operator add bob --role registrar "${A[@]}" --new-passphrase-file "$T/reg"

# Only administrators import.
expect_exit 3 "$BIN" --vault "$V" snapshot import "$T/snap" --as bob --passphrase-file "$T/reg"
expect_grep "needs the administrator role" "$T/err"

status_of() { "$BIN" --vault "$V" status --json "${A[@]}"; }
empty_status=$(status_of | sed 's/"audit_entries":[0-9]*//')

# Each kind of bad record: exit 1, named precisely, nothing imported.
check_bad() {
  local kind=$1 pattern=$2
  rm -rf "$T/bad"
  "$GEN" --employees 400 --seed 5 --out "$T/bad" --bad "$kind" >/dev/null 2>&1 || fail "gen --bad $kind"
  expect_exit 1 "$BIN" --vault "$V" snapshot import "$T/bad" "${A[@]}"
  expect_grep "$pattern" "$T/err"
  expect_grep "nothing was imported" "$T/err"
  [ "$(status_of | sed 's/"audit_entries":[0-9]*//')" = "$empty_status" ] || fail "$kind changed the vault"
}
check_bad pnr-checksum 'employees.csv line [0-9]* field personnummer: check digit'
check_bad account-checksum 'employees.csv line [0-9]* field account: '
check_bad dangling-employment 'employments.csv line [0-9]* field personnummer: no such person'
check_bad net-mismatch 'last_payrun.csv line [0-9]* field net_ore: must equal'
check_bad bad-date 'employments.csv line [0-9]* field start_date: must be a date'

# Integrity: a CSV changed after export, an altered manifest, a signature by another key.
cp -r "$T/snap" "$T/alt"
sed -i '2s/,0,/,1,/' "$T/alt/employees.csv"
expect_exit 3 "$BIN" --vault "$V" snapshot import "$T/alt" "${A[@]}"
expect_grep "employees.csv: SHA-256 does not match the signed manifest" "$T/err"
rm -rf "$T/alt"; cp -r "$T/snap" "$T/alt"
sed -i 's/"rows": 1500/"rows": 1501/' "$T/alt/manifest.json"
expect_exit 3 "$BIN" --vault "$V" snapshot import "$T/alt" "${A[@]}"
expect_grep "manifest.json" "$T/err"
rm -rf "$T/alt"; cp -r "$T/snap" "$T/alt"
head -c -1 "$T/alt/tax_tables.csv" > "$T/x" && mv "$T/x" "$T/alt/tax_tables.csv"
expect_exit 3 "$BIN" --vault "$V" snapshot import "$T/alt" "${A[@]}"
rm -rf "$T/alt"; cp -r "$T/snap" "$T/alt"
rm "$T/alt/manifest.json.minisig"
expect_exit 3 "$BIN" --vault "$V" snapshot import "$T/alt" "${A[@]}"
rm -rf "$T/alt"; cp -r "$T/snap" "$T/alt"
minisign -S -W -s "$TOP/keys/test/appliance-TEST.key" -m "$T/alt/manifest.json" -t forged </dev/null >/dev/null 2>&1 ||
  fail "minisign could not sign with the appliance TEST key"
expect_exit 3 "$BIN" --vault "$V" snapshot import "$T/alt" "${A[@]}"
[ "$(status_of | sed 's/"audit_entries":[0-9]*//')" = "$empty_status" ] || fail "a refused snapshot changed the vault"

# The good one imports, with counts equal to the manifest.
expect_exit 0 "$BIN" --vault "$V" snapshot import "$T/snap" "${A[@]}"
expect_exit 0 "$BIN" --vault "$V" status --json --as bob --passphrase-file "$T/reg"
for pair in employees:employees.csv employments:employments.csv last_payrun_lines:last_payrun.csv org_units:org_units.csv; do
  key=${pair%%:*}; file=${pair#*:}
  want=$(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['files'][sys.argv[2]]['rows'])" "$T/snap/manifest.json" "$file")
  expect_grep "\"$key\":$want" "$T/out"
done
net=$(/usr/bin/python3 -c "import csv,sys; print(sum(int(r['net_ore']) for r in csv.DictReader(open(sys.argv[1]))))" "$T/snap/last_payrun.csv")
expect_grep "\"net_total_ore\":$net" "$T/out"
expect_exit 1 "$BIN" --vault "$V" snapshot import "$T/snap" "${A[@]}"
expect_grep "already holds a snapshot" "$T/err"
expect_exit 0 "$BIN" --vault "$V" check "${A[@]}"

# No plaintext personal data in any file of the vault: sample names and numbers.
awk -F, 'NR>1 && NR%50==0 {print $1; print $3}' "$T/snap/employees.csv" | sort -u > "$T/needles"
[ "$(wc -l < "$T/needles")" -ge 40 ] || fail "too few needles"
hits=$(grep -c -a -F -f "$T/needles" "$V"/* | awk -F: '{s+=$2} END {print s}')
[ "$hits" = 0 ] || fail "plaintext personal data found in the vault files ($hits hits)"
# The same grep finds them in the snapshot itself (the check can fail).
grep -q -a -F -f "$T/needles" "$T/snap/employees.csv" || fail "needle check is broken"
pass
